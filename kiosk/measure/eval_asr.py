"""``kiosk eval asr``: speech recognition accuracy and speed of an installed ASR model, on this kiosk.

Reads a manifest of recordings (default ``../shared/data/speech/manifest.tsv`` beside the
checkout; ``KIOSK_SHARED_DIR`` names another shared dir): a tab-separated file with a header and
the columns ``path`` (relative to the manifest), ``lang`` (ISO 639-1, one of the kiosk's 13),
``duration_s`` and ``transcript``; other columns are ignored. A province can evaluate on its
own recordings by writing one.

Each clip is recognised as a turn is, with the language detected among the kiosk's 13. Per
language: the mean error over the clips (CER for ``text.normalise.CHARACTER_SCORED``, WER for
the rest, over ``text.normalise.scoring_units``: the one normaliser, which drops the spaces of
character-scored text), the share of clips whose language was identified right, and the decode
time per clip (p50 and worst; the audio is read before the clock starts). A clip whose
recognition runs out of its budget (``asr.RecognitionTimeout``) is scored as a turn would end:
nothing recognised (error 1, language wrong), with a warning naming it. ``tests/test_asr.py``
scores the shared clips through ``clip_results`` too, so the README table, the tests and this
command measure the same thing.

The result is written beside the model's manifest as ``evaluation-asr.json``
(``kiosk.store.evaluations``).
"""

from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from statistics import mean, median
from typing import Iterable, Sequence

import kiosk
from asr import SAMPLE_RATE, RecognitionTimeout, Transcript
from asr.audio import AudioInputError, load_audio
from asr.whisper import WhisperRecognizer
from kiosk.errors import BadInput, ModelMissing
from kiosk.measure.bench import error_rate
from kiosk.measure.eval_mt import cpu_model
from kiosk.store import catalog, evaluations
from kiosk.store.models import ModelStore
from kiosk.turn.engines import Engines
from kiosk.turn.settings import Settings
from text.normalise import CHARACTER_SCORED

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
MANIFEST_COLUMNS = ("path", "lang", "duration_s", "transcript")


def default_manifest() -> Path:
    """``../shared/data/speech/manifest.tsv`` beside the checkout, or under ``KIOSK_SHARED_DIR``."""
    return Path(os.environ.get("KIOSK_SHARED_DIR", REPO.parent / "shared")) / "data" / "speech" / "manifest.tsv"


@dataclass(frozen=True)
class Clip:
    path: Path
    lang: str
    transcript: str
    duration_s: float


@dataclass(frozen=True)
class ClipResult:
    clip: Clip
    transcript: Transcript
    seconds: float  # decode time, audio already read
    error: float  # WER, or CER for character-scored languages

    @property
    def language_right(self) -> bool:
        return self.transcript.language == self.clip.lang


def read_manifest(path: Path | str) -> list[Clip]:
    """The clips of a manifest; paths relative to the manifest's folder. BadInput names what is wrong."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise BadInput(f"{path}: the manifest lacks the column(s) {', '.join(missing)} "
                               f"(needed: {', '.join(MANIFEST_COLUMNS)}, tab-separated, with a header)")
            rows = list(reader)
    except FileNotFoundError:
        raise BadInput(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise BadInput(f"{path}: cannot read the manifest ({type(error).__name__})") from None
    clips = []
    for number, row in enumerate(rows, 2):
        lang = (row["lang"] or "").strip()
        if lang not in catalog.LANGUAGE_CODES:
            raise BadInput(f"{path}, line {number}: language {lang!r} is not one of the kiosk's "
                           f"({' '.join(catalog.LANGUAGE_CODES)})")
        try:
            duration = float(row["duration_s"])
        except (TypeError, ValueError):
            raise BadInput(f"{path}, line {number}: duration_s {row['duration_s']!r} is not a number") from None
        clip_path = path.parent / (row["path"] or "").strip()
        if not clip_path.is_file():
            raise BadInput(f"{path}, line {number}: {clip_path} does not exist")
        clips.append(Clip(clip_path, lang, row["transcript"] or "", duration))
    if not clips:
        raise BadInput(f"{path} lists no clips")
    return clips


def clip_results(recognizer: WhisperRecognizer, clips: Iterable[Clip]) -> list[ClipResult]:
    """Recognise each clip with the language detected among the kiosk's 13, timed and scored."""
    results = []
    for clip in clips:
        try:
            audio = load_audio(clip.path)
        except AudioInputError as error:
            raise BadInput(f"{clip.path}: {error}") from None
        started = time.perf_counter()
        try:
            transcript = recognizer.transcribe(audio, candidates=catalog.LANGUAGE_CODES)
        except RecognitionTimeout as error:  # what a turn would give: nothing recognised
            log.warning("%s: %s; scored as not recognised", clip.path.name, error)
            transcript = Transcript("", "", 0.0, (), audio.size / SAMPLE_RATE, "transcribe")
        seconds = time.perf_counter() - started
        results.append(ClipResult(clip, transcript, seconds, error_rate(clip.transcript, transcript.text, clip.lang)))
    return results


def _times(seconds: Sequence[float]) -> dict:
    return {"p50_s": round(median(seconds), 3), "worst_s": round(max(seconds), 3)}


def summarise(results: Sequence[ClipResult]) -> tuple[dict, dict]:
    """(per language, overall) figures of the evaluation record, languages in the catalogue's order."""
    languages = {}
    for lang in catalog.LANGUAGE_CODES:
        mine = [r for r in results if r.clip.lang == lang]
        if mine:
            languages[lang] = {
                "clips": len(mine),
                "metric": "cer" if lang in CHARACTER_SCORED else "wer",
                "error": round(mean(r.error for r in mine), 3),
                "language_id": round(sum(r.language_right for r in mine) / len(mine), 3),
                **_times([r.seconds for r in mine]),
            }
    overall = {"clips": len(results), **_times([r.seconds for r in results])}
    return languages, overall


def build_recognizer(store: ModelStore, model_id: str, settings: Settings) -> WhisperRecognizer:
    """The installed ASR model, with the options the kiosk's engines give the recognizer."""
    model = store.installed().get(model_id)
    if model is None:
        raise ModelMissing(model_id, "no installed speech recognition model has this id (kiosk models list)")
    if model.kind != "asr":
        raise ModelMissing(model_id, f"it is a {model.kind} model, not speech recognition")
    return Engines(settings, store=store).load_recognizer(model_id)


def evaluate(recognizer: WhisperRecognizer, model_id: str, manifest: Path, clips: Sequence[Clip],
             settings: Settings) -> dict:
    """Recognise every clip; the evaluation record (``kiosk.store.evaluations``, ``evaluation-asr.json``)."""
    recognizer.warm_up()
    languages, overall = summarise(clip_results(recognizer, clips))
    return {
        "version": evaluations.VERSION,
        "model_id": model_id,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kiosk_version": kiosk.__version__,
        "cpu": cpu_model(),
        "threads": settings.asr_threads,
        "manifest": str(manifest),
        "languages": languages,
        "overall": overall,
    }


def run(store: ModelStore, manifest: Path | str | None = None, model_id: str | None = None,
        settings: Settings | None = None) -> dict:
    """Evaluate one installed ASR model (default: the catalogue's default) and store the result with it."""
    settings = settings or Settings()
    if manifest is None and not default_manifest().is_file():
        raise BadInput(f"no manifest given and {default_manifest()} is not there (kiosk eval asr MANIFEST)")
    manifest = Path(manifest).resolve() if manifest else default_manifest()
    clips = read_manifest(manifest)
    model_id = model_id or store.catalog.default_model("asr").id
    recognizer = build_recognizer(store, model_id, settings)
    result = evaluate(recognizer, model_id, manifest, clips, settings)
    try:
        result["stored"] = str(evaluations.write_asr(store.installed()[model_id].path, result))
    except OSError as error:  # a read-only system store: the figures are still printed
        result["stored"] = None
        result["store_error"] = error.strerror or type(error).__name__
    return result
