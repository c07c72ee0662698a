"""Text normalisation, written once for matching (phrasebook, hallucination list) and for
scoring recognised speech (WER/CER in the tests and in ``kiosk bench``).

The rules: Unicode NFKC (full-width forms, ligatures and "№" fold to plain ones), casefold,
punctuation, symbols and control characters become spaces, invisible format characters
(zero-width space and joiners, soft hyphen) are dropped, runs of whitespace become one space.
"""

from __future__ import annotations

import unicodedata

# Languages scored by characters (CER) rather than words: written without spaces between
# words, or (Korean) spaced so freely by speech recognition that words do not compare.
CHARACTER_SCORED: frozenset[str] = frozenset({"ko", "zh", "ja", "th", "km"})


def _unit(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category[0] in "PSCZ":
        return " "
    return char


def normalise(text: str) -> str:
    """NFKC, casefolded, punctuation and symbols as spaces, whitespace collapsed and trimmed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(map(_unit, folded)).split())


def match_key(text: str) -> str:
    """``normalise`` without any spaces: the key two texts match by.

    Spacing is dropped because speech recognition spaces Korean freely ("맛있나봐요" for
    "맛있나 봐요") and Chinese, Japanese, Thai and Khmer have no spaces to match.
    """
    return normalise(text).replace(" ", "")


def scoring_units(text: str, lang: str) -> list[str]:
    """What an error rate counts: words, or characters for ``CHARACTER_SCORED`` languages."""
    normal = normalise(text)
    return list(normal.replace(" ", "")) if lang in CHARACTER_SCORED else normal.split()


def for_scoring(text: str, lang: str) -> str:
    """``scoring_units`` joined by single spaces, the form word-error-rate tools take."""
    return " ".join(scoring_units(text, lang))
