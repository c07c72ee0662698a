"""Shared fixtures: real speech, the real model store and the kiosk CLI as a subprocess."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KIOSK_SHARED_DIR", REPO.parent / "shared"))
SPEECH_DIR = SHARED / "data" / "speech"
LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")

sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass(frozen=True)
class Clip:
    path: Path
    lang: str
    transcript: str
    duration_s: float


def speech_clips() -> list[Clip]:
    if not (SPEECH_DIR / "manifest.tsv").is_file():
        return []
    with open(SPEECH_DIR / "manifest.tsv", encoding="utf-8") as f:
        return [
            Clip(SPEECH_DIR / row["path"], row["lang"], row["transcript"], float(row["duration_s"]))
            for row in csv.DictReader(f, delimiter="\t")
        ]


def find_clip(description: str, predicate) -> Clip:
    """The first shared clip that matches, or a skip (no shared data) / failure (clip gone) that says which."""
    clips = speech_clips()
    if not clips:
        pytest.skip(f"../shared/data/speech is not beside the checkout (wanted: {description})")
    for clip in clips:
        if predicate(clip):
            return clip
    pytest.fail(f"../shared/data/speech has no {description}; the manifest changed?")


def librivox_clips() -> list[Clip]:
    clips = []
    transcription = LIBRIVOX_DIR / "transcription"
    if transcription.is_file():
        for line in transcription.read_text().splitlines():
            m = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
            if m:
                clips.append(Clip(LIBRIVOX_DIR / f"{m.group(2)}.wav", "en", m.group(1), 0.0))
    return clips


def error_rate(reference: str, hypothesis: str, lang: str) -> float:
    """WER, or CER for character-scored languages (jiwer over ``text.normalise.for_scoring``)."""
    import jiwer

    from text.normalise import for_scoring

    ref, hyp = for_scoring(reference, lang), for_scoring(hypothesis, lang)
    return jiwer.wer(ref, hyp) if hyp else 1.0


# The store, config and catalogue a user may have set up are never read by the suite.
_USER_ENVIRONMENT = ("KIOSK_DATA_DIR", "KIOSK_CONFIG_DIR", "KIOSK_SYSTEM_STORES", "KIOSK_CATALOG")


@pytest.fixture(scope="session", autouse=True)
def hermetic_model_store(tmp_path_factory) -> Path:
    """A model store of the suite's own, holding only the embedded defaults (assembled from their
    PyPI packages, as ``make`` does for a user), with no system store and an empty config dir.

    It is set in the environment, so the engines fixture and every process a test starts (the
    CLI, ``kiosk run``) use it; a model the user pulled cannot change what the tests see.
    """
    from kiosk.store.environment import from_environment

    saved = {name: os.environ.get(name) for name in _USER_ENVIRONMENT}
    data_dir = tmp_path_factory.mktemp("kiosk-data")
    os.environ["KIOSK_DATA_DIR"] = str(data_dir)
    os.environ["KIOSK_CONFIG_DIR"] = str(tmp_path_factory.mktemp("kiosk-config"))
    os.environ["KIOSK_SYSTEM_STORES"] = ""
    os.environ.pop("KIOSK_CATALOG", None)
    store = from_environment()
    store.ensure_defaults()
    yield store.user_dir
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def engines(hermetic_model_store):
    from kiosk.turn.engines import Engines

    return Engines()


@pytest.fixture(scope="session")
def recognizer(engines):
    recognizer = engines.recognizer
    recognizer.warm_up()
    return recognizer


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def kiosk_cli():
    """Run ``python -m kiosk`` as a person would; returns exit code and output."""

    def run(*args: str, env: dict | None = None, timeout: float = 300) -> CliResult:
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "kiosk", *map(str, args)],
            capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def isolated_store(tmp_path, monkeypatch, hermetic_model_store):
    """A fresh KIOSK_DATA_DIR of this test's own, holding links to the embedded default models."""
    real = hermetic_model_store
    data_dir = tmp_path / "kiosk-data"
    store = data_dir / "models"
    store.mkdir(parents=True)
    from kiosk.store.catalog import Catalog

    for entry in Catalog().models.values():
        if entry.embedded and not entry.test_only:  # what ensure_defaults installed there
            (store / entry.id).symlink_to(real / entry.id, target_is_directory=True)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(data_dir))
    return store


WYOMING_VOICE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def tts_server(hermetic_model_store):
    """A real wyoming-piper server with the Joe voice on a free loopback port, for one test module."""
    from kiosk.measure import local_servers

    server = local_servers.wyoming_tts(hermetic_model_store / WYOMING_VOICE, WYOMING_VOICE).start()
    yield server
    server.stop()
