"""UI strings: one TOML file per language in assets/i18n, keys like ``start.title``.

English is the reference: every language file carries every English key (checked in
tests/test_ui_accessibility.py), so the fallback to English only protects a kiosk whose asset
files were edited by hand.
"""

from __future__ import annotations

import logging
import tomllib
from functools import cache

from kiosk.store.catalog import ASSETS_DIR

log = logging.getLogger(__name__)

I18N_DIR = ASSETS_DIR / "i18n"
REFERENCE = "en"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@cache
def strings(lang: str) -> dict[str, str]:
    with open(I18N_DIR / f"{lang}.toml", "rb") as f:
        return _flatten(tomllib.load(f))


def tr(lang: str, key: str, **values) -> str:
    """The string ``key`` in ``lang``, with ``{name}`` placeholders filled from ``values``."""
    text = strings(lang).get(key)
    if text is None:
        log.warning("i18n: %s has no %s; using English", lang, key)
        text = strings(REFERENCE)[key]
    return text.format(**values) if values else text
