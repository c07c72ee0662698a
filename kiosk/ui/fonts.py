"""Per language, an installed font that covers its script; glyph coverage checks for any text.

The catalogue names the preferred family (Noto Sans CJK KR/SC/JP for Hangul and the two Han
variants, Noto Sans Thai, Khmer, Devanagari, Noto Sans for Latin with Vietnamese diacritics and
Cyrillic). If it is missing, the next installed family of the same script that covers every
character the UI shows in that language is used. Widgets get the chosen family followed by
general fallbacks, so a Latin model name inside Thai text still renders.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import cache

from PySide6.QtGui import QFont, QFontDatabase, QRawFont

from kiosk.store import catalog
from kiosk.ui import i18n

log = logging.getLogger(__name__)

SCRIPT_FALLBACKS = {
    "Hang": ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "UnDotum"),
    "Hans": ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei"),
    "Jpan": ("Noto Sans CJK JP", "Noto Sans JP", "IPAGothic"),
    "Thai": ("Noto Sans Thai", "Noto Sans Thai UI", "Noto Looped Thai", "Loma"),
    "Khmr": ("Noto Sans Khmer", "Noto Serif Khmer", "Khmer OS"),
    "Deva": ("Noto Sans Devanagari", "Lohit Devanagari"),
    "Cyrl": ("Noto Sans", "DejaVu Sans"),
    "Latn": ("Noto Sans", "DejaVu Sans"),
}
GENERAL_FALLBACKS = ("Noto Sans", "Noto Sans CJK KR", "DejaVu Sans")


def _needs_glyph(char: str) -> bool:
    # Spaces, controls and format characters (ZWJ, ZWSP in Khmer) draw nothing.
    return unicodedata.category(char) not in ("Zs", "Zl", "Zp", "Cc", "Cf")


@cache
def _raw_font(family: str) -> QRawFont:
    return QRawFont.fromFont(QFont(family))


def family_supports(family: str, char: str) -> bool:
    raw = _raw_font(family)
    return raw.isValid() and raw.supportsCharacter(ord(char))


def missing_characters(text: str, families: list[str] | tuple[str, ...]) -> str:
    """The characters of ``text`` that none of ``families`` can draw (each listed once)."""
    missing = []
    for char in dict.fromkeys(text):
        if _needs_glyph(char) and not any(family_supports(family, char) for family in families):
            missing.append(char)
    return "".join(missing)


def ui_text(lang: str) -> str:
    """Every character the kiosk shows in ``lang``: its UI strings and its native name."""
    return catalog.language(lang).native + "".join(i18n.strings(lang).values())


def _general_fallbacks() -> list[str]:
    installed = set(QFontDatabase.families())
    return [f for f in GENERAL_FALLBACKS if f in installed]


@cache
def family_for(lang: str) -> str | None:
    """The first installed family, preferred first, that draws the language's own script (its
    native name) and, with the general fallbacks for Latin digits and names, all of ``ui_text``."""
    spec = catalog.language(lang)
    installed = set(QFontDatabase.families())
    candidates = [f for f in dict.fromkeys((spec.font, *SCRIPT_FALLBACKS.get(spec.script, ()))) if f in installed]
    text = ui_text(lang)
    for family in candidates:
        draws_script = not missing_characters(spec.native, [family])
        if draws_script and not missing_characters(text, [family, *_general_fallbacks()]):
            return family
    log.warning("fonts: no installed font covers every %s character (tried %s)", spec.english, ", ".join(candidates))
    return candidates[0] if candidates else None


def families_for(lang: str) -> list[str]:
    """The family for ``lang`` first, then the general fallbacks."""
    chosen = family_for(lang)
    return list(dict.fromkeys(([chosen] if chosen else []) + _general_fallbacks()))
