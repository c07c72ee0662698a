"""Reads assets/languages.toml and the model catalogue files: the only reader of either.

The languages are fixed assets (the interface contract), read once for the process. The model
catalogue is a ``Catalog`` built from the files it is given: assets/models.toml and, where a
deployment names one, an extra file (``kiosk.store.environment`` reads ``KIOSK_CATALOG``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from kiosk.errors import BadInput

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
MODELS_FILE = ASSETS_DIR / "models.toml"

ISO_639_1 = re.compile(r"[a-z]{2}")
MODEL_KINDS = ("asr", "mt-seq2seq", "mt-llm", "tts")
# Model ids and file names become paths in the store, so both are single, plain path components.
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}")


@dataclass(frozen=True)
class Language:
    code: str
    native: str
    english: str
    korean: str
    script: str
    font: str
    fontconfig: str
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
    # Tests only: never installed by `install-defaults`, never recommended.
    test_only: bool = False
    # A GGUF chat model (engine "llama.cpp"): the user turn (mt.gguf's {source_language},
    # {target_language}, {source_code}, {target_code}, {text}), a chat template file under
    # assets/templates/ when the model card prescribes one (else the GGUF's own), stop strings.
    prompt_template: str | None = None
    chat_template: str | None = None
    stop: tuple[str, ...] = ()
    # ASR only: the recognition error the catalogue declares per language (a mean CER or WER), or a
    # word where there is no figure; kiosk.turn.capability turns it into what the kiosk offers.
    declared_asr_error: dict[str, float | str] = field(default_factory=dict)
    # ASR only: languages this model recognises instead of the default one when it is installed
    # (the staff's [speech] models still come first); kiosk.turn.engines.Engines.recognizer_for.
    preferred_for: tuple[str, ...] = ()
    # Kokoro (engine "kokoro") only: the voice of its voices file the kiosk speaks with (jf_alpha).
    voice: str | None = None

    @property
    def downloads(self) -> tuple[str, ...]:
        return self.fetch or tuple(self.files)


@cache
def languages() -> dict[str, Language]:
    """The kiosk's languages (assets/languages.toml), in the order the kiosk presents them."""
    path = ASSETS_DIR / "languages.toml"
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    table = {}
    for code, fields in raw.items():
        if not ISO_639_1.fullmatch(code):
            raise ValueError(f"{path}: [{code}] is not an ISO 639-1 code")
        try:
            table[code] = Language(code=code, **fields)
        except TypeError as error:
            raise ValueError(f"{path}: [{code}]: {error}") from None
    return table


# The interface contract: ISO 639-1 codes, in the order the kiosk presents them.
LANGUAGE_CODES: tuple[str, ...] = tuple(languages())


class Catalog:
    """The models the kiosk knows of: the entries of the catalogue files given, in file order.

    ``files`` are read once, here; an id may appear in one file only. The default is the
    bundled assets/models.toml alone. Extra files (same format) serve local mirrors and tests.
    """

    def __init__(self, files: Sequence[Path | str] = (MODELS_FILE,)) -> None:
        self.files: tuple[Path, ...] = tuple(Path(path) for path in files)
        entries: dict[str, ModelEntry] = {}
        for path in self.files:
            for entry in _read_models(path).values():
                if entry.id in entries:
                    raise BadInput(f"{path}: model {entry.id} is already in the catalogue")
                entries[entry.id] = entry
        self.models: Mapping[str, ModelEntry] = MappingProxyType(entries)

    def get(self, model_id: str) -> ModelEntry | None:
        return self.models.get(model_id)

    def default_model(self, kind: str) -> ModelEntry:
        return next(m for m in self.models.values() if m.kind == kind and m.default)

    def __repr__(self) -> str:
        return f"Catalog({[str(path) for path in self.files]!r})"


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
    item["stop"] = tuple(item.get("stop", ()))
    item["preferred_for"] = tuple(item.get("preferred_for", ()))
    if set(item["preferred_for"]) - set(item["languages"]):
        raise BadInput(f"{where}: preferred_for names languages the model does not list")
    item["embedded"] = {name: tuple(parts) for name, parts in item.get("embedded", {}).items()}
    declared = item.get("declared_asr_error", {})
    if set(declared) - set(LANGUAGE_CODES) or not all(
            isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in declared.values()):
        raise BadInput(f"{where}: declared_asr_error maps the kiosk's languages to an error or a word")
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


def phrasebook_dir() -> Path:
    return ASSETS_DIR / "phrasebook"


def chat_template_file(name: str) -> Path:
    return ASSETS_DIR / "templates" / name


def hallucinations_file() -> Path:
    return ASSETS_DIR / "hallucinations.toml"
