"""Reads assets/languages.toml and assets/models.toml: the only reader of either file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"

# The interface contract: ISO 639-1 codes, in the order the kiosk presents them.
LANGUAGE_CODES = ("ko", "en", "zh", "vi", "th", "ru", "ja", "uz", "mn", "ne", "km", "id", "tl")


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
    with open(ASSETS_DIR / "models.toml", "rb") as f:
        raw = tomllib.load(f)
    entries: dict[str, ModelEntry] = {}
    for item in raw["model"]:
        item = dict(item)
        item["languages"] = tuple(item.get("languages", ()))
        item["embedded"] = {name: tuple(parts) for name, parts in item.get("embedded", {}).items()}
        entries[item["id"]] = ModelEntry(**item)
    return entries


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
