"""Reads assets/languages.toml and assets/models.toml: the only reader of either file."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

from kiosk.errors import BadInput

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"

# The interface contract: ISO 639-1 codes, in the order the kiosk presents them.
LANGUAGE_CODES = ("ko", "en", "zh", "vi", "th", "ru", "ja", "uz", "mn", "ne", "km", "id", "tl")

MODEL_KINDS = ("asr", "mt-seq2seq", "mt-llm", "tts")
# Model ids and file names become paths in the store, so both are single, plain path components.
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}")
# An extra catalogue file (same format as assets/models.toml), for local mirrors and for tests.
EXTRA_CATALOG_ENV = "KIOSK_CATALOG"


@dataclass(frozen=True)
class Language:
    code: str
    native: str
    english: str
    korean: str
    script: str
    font: str
    piper_voice: str | None = None
    espeak_voice: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    id: str
    kind: str
    engine: str
    name: str
    languages: tuple[str, ...]
    license: str
    source: str
    size_mb: float
    files: dict[str, str] = field(default_factory=dict)
    embedded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default: bool = False
    family: str | None = None
    translates_to_english: bool = False
    license_warning: str | None = None
    # Where `kiosk models pull` gets the files: a Hugging Face repository, or a plain HTTPS base URL.
    repo: str | None = None
    revision: str = "main"
    url: str | None = None
    # Paths under the repository or URL; each lands in the store under its base name.
    # Without `fetch`, the names in `files` are fetched.
    fetch: tuple[str, ...] = ()
    # "transformers": the source is a Transformers checkpoint that CTranslate2's converter turns into the model.
    convert: str | None = None
    download_mb: float | None = None
    # Installed by the system package manager, not into the model store (espeak-ng).
    system_package: str | None = None

    @property
    def downloads(self) -> tuple[str, ...]:
        return self.fetch or tuple(self.files)


@cache
def languages() -> dict[str, Language]:
    with open(ASSETS_DIR / "languages.toml", "rb") as f:
        raw = tomllib.load(f)
    table = {code: Language(code=code, **raw[code]) for code in LANGUAGE_CODES}
    unknown = set(raw) - set(LANGUAGE_CODES)
    if unknown:
        raise ValueError(f"languages.toml lists languages outside the contract: {sorted(unknown)}")
    return table


@cache
def models() -> dict[str, ModelEntry]:
    """The catalogue: assets/models.toml, plus the file named by ``KIOSK_CATALOG`` when set."""
    entries = _read_models(ASSETS_DIR / "models.toml")
    extra = os.environ.get(EXTRA_CATALOG_ENV)
    if extra:
        for entry in _read_models(Path(extra)).values():
            if entry.id in entries:
                raise BadInput(f"{extra}: model {entry.id} is already in the catalogue")
            entries[entry.id] = entry
    return entries


def _read_models(path: Path) -> dict[str, ModelEntry]:
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BadInput(f"cannot read the model catalogue {path}: {error}") from None
    entries: dict[str, ModelEntry] = {}
    for item in raw.get("model", []):
        entry = _model_entry(path, dict(item))
        entries[entry.id] = entry
    return entries


def _model_entry(path: Path, item: dict) -> ModelEntry:
    where = f"{path}: model {item.get('id', '(no id)')}"
    if not MODEL_ID.fullmatch(str(item.get("id", ""))):
        raise BadInput(f"{where}: an id is letters, digits, '.', '_' and '-'")
    if item.get("kind") not in MODEL_KINDS:
        raise BadInput(f"{where}: kind must be one of {', '.join(MODEL_KINDS)}")
    unknown = set(item.get("languages", ())) - set(LANGUAGE_CODES)
    if unknown:
        raise BadInput(f"{where}: languages outside the contract: {', '.join(sorted(unknown))}")
    item["languages"] = tuple(item.get("languages", ()))
    item["fetch"] = tuple(item.get("fetch", ()))
    item["embedded"] = {name: tuple(parts) for name, parts in item.get("embedded", {}).items()}
    try:
        entry = ModelEntry(**item)
    except TypeError as error:
        raise BadInput(f"{where}: {error}") from None
    names = [PurePosixPath(p).name for p in entry.downloads] + list(entry.files)
    bad = [name for name in names if not FILE_NAME.fullmatch(name)]
    if bad or len(set(PurePosixPath(p).name for p in entry.downloads)) != len(entry.downloads):
        raise BadInput(f"{where}: file names must be plain and distinct ({', '.join(bad) or 'duplicate'})")
    return entry


def language(code: str) -> Language:
    """The language for an ISO 639-1 code; ``KeyError`` names the offered codes."""
    try:
        return languages()[code]
    except KeyError:
        raise KeyError(f"unknown language code {code!r}; offered: {' '.join(LANGUAGE_CODES)}") from None


def default_model(kind: str) -> ModelEntry:
    return next(m for m in models().values() if m.kind == kind and m.default)


def phrasebook_dir() -> Path:
    return ASSETS_DIR / "phrasebook"


def hallucinations_file() -> Path:
    return ASSETS_DIR / "hallucinations.toml"
