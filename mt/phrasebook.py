"""Human-verified phrases (a translation memory), matched exactly after normalisation.

One TOML file per category::

    [category]
    key = "greetings"
    ko = "인사와 예절"
    en = "Greetings and courtesy"
    id = "Salam dan sopan santun"

    [[phrase]]
    key = "greetings.how_can_i_help"
    ko = "안녕하세요, 무엇을 도와드릴까요?"
    en = "Hello, how can I help you?"
    id = "Halo, ada yang bisa saya bantu?"

The identifier is ``key`` because ``id`` is Indonesian's language code. The languages a
category names are the languages each of its phrases must have.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Collection, Mapping

from text.normalise import match_key

from . import PhrasebookError

log = logging.getLogger(__name__)

IDENTIFIER_KEY = "key"


@dataclass(frozen=True)
class Category:
    id: str
    names: Mapping[str, str]  # language -> category name

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.names)


@dataclass(frozen=True)
class Phrase:
    id: str
    category: str
    texts: Mapping[str, str]  # language -> text


class Phrasebook:
    """Categories of phrases with an index from normalised text to phrase, per language."""

    def __init__(self, categories: Collection[Category], phrases: Collection[Phrase]) -> None:
        self._categories = {category.id: category for category in categories}
        self._phrases_by_category: dict[str, list[Phrase]] = {category_id: [] for category_id in self._categories}
        self._index: dict[tuple[str, str], Phrase] = {}
        for phrase in phrases:
            self._phrases_by_category[phrase.category].append(phrase)
            for lang, text in phrase.texts.items():
                first = self._index.setdefault((lang, match_key(text)), phrase)
                if first is not phrase:
                    log.warning("phrases %s and %s read alike in %s; %s is used", first.id, phrase.id, lang, first.id)

    @classmethod
    def load(cls, directory: str | Path, languages: Collection[str] | None = None) -> Phrasebook:
        """Load every ``*.toml`` file in ``directory`` (sorted by name), validating as it goes.

        ``languages`` are the codes to read (other keys are ignored); by default, every key
        besides ``key`` is a language code.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise PhrasebookError(f"phrasebook directory {directory} does not exist")
        categories: list[Category] = []
        phrases: list[Phrase] = []
        origin: dict[str, str] = {}  # category or phrase id -> file that defined it
        for path in sorted(directory.glob("*.toml")):
            category, file_phrases = _read_category_file(path, None if languages is None else frozenset(languages))
            for item_id in (category.id, *(phrase.id for phrase in file_phrases)):
                if item_id in origin:
                    raise PhrasebookError(
                        f"{path.name}: duplicate id {item_id!r} (first defined in {origin[item_id]})"
                    )
                origin[item_id] = path.name
            categories.append(category)
            phrases.extend(file_phrases)
        log.info("phrasebook loaded: %d categories, %d phrases", len(categories), len(phrases))
        return cls(categories, phrases)

    @property
    def languages(self) -> frozenset[str]:
        """The languages every category, hence every phrase, is available in."""
        if not self._categories:
            return frozenset()
        return frozenset.intersection(*(category.languages for category in self._categories.values()))

    def categories(self) -> list[Category]:
        return list(self._categories.values())

    def phrases(self, category_id: str) -> list[Phrase]:
        if category_id not in self._phrases_by_category:
            raise KeyError(f"no phrasebook category {category_id!r}")
        return list(self._phrases_by_category[category_id])

    def lookup(self, text: str, source_lang: str, target_lang: str) -> str | None:
        """The curated ``target_lang`` text of the phrase ``text`` matches, if any."""
        phrase = self._index.get((source_lang, match_key(text)))
        return phrase.texts.get(target_lang) if phrase else None


def _language_texts(table: dict, languages: frozenset[str] | None, where: str) -> dict[str, str]:
    texts = {
        key: value for key, value in table.items()
        if (key in languages if languages is not None else key != IDENTIFIER_KEY)
    }
    for lang, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            raise PhrasebookError(f"{where}: the {lang!r} text must be a non-empty string")
    return texts


def _read_category_file(path: Path, languages: frozenset[str] | None) -> tuple[Category, list[Phrase]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        hint = ""
        if "Cannot overwrite a value" in str(exc):
            hint = f"; a key given twice: the identifier is {IDENTIFIER_KEY!r}, 'id' is Indonesian"
        raise PhrasebookError(f"{path.name}: unreadable ({exc}{hint})") from exc

    table = document.get("category")
    if not isinstance(table, dict) or not isinstance(table.get(IDENTIFIER_KEY), str):
        raise PhrasebookError(f"{path.name}: needs a [category] table with a string {IDENTIFIER_KEY!r}")
    category_id = table[IDENTIFIER_KEY]
    names = _language_texts(table, languages, f"{path.name} [category]")
    if not names:
        raise PhrasebookError(f"{path.name}: category {category_id!r} names no language")
    category = Category(id=category_id, names=MappingProxyType(names))

    phrases = []
    for entry in document.get("phrase", []):
        if not isinstance(entry, dict) or not isinstance(entry.get(IDENTIFIER_KEY), str):
            raise PhrasebookError(f"{path.name}: every [[phrase]] needs a string {IDENTIFIER_KEY!r}")
        phrase_id = entry[IDENTIFIER_KEY]
        texts = _language_texts(entry, languages, f"{path.name} phrase {phrase_id!r}")
        missing = category.languages - texts.keys()
        if missing:
            raise PhrasebookError(
                f"{path.name}: phrase {phrase_id!r} lacks {', '.join(sorted(missing))} "
                f"(category {category.id!r} declares them)"
            )
        phrases.append(Phrase(id=phrase_id, category=category.id, texts=MappingProxyType(texts)))
    return category, phrases
