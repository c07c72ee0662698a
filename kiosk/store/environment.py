"""The one place that reads the environment for the model store and the catalogue.

- ``KIOSK_DATA_DIR``: the data dir (models, downloads, transcripts, the bench's cache); by
  default platformdirs' user data dir.
- ``KIOSK_SYSTEM_STORES``: the read-only system stores, ``os.pathsep``-separated, replacing
  the default ``/usr/share/kiosk/models``; set and empty means none.
- ``KIOSK_CATALOG``: an extra catalogue file (the format of assets/models.toml) read after
  the bundled one, for local mirrors and tests.

The application calls ``from_environment`` at its edges (each CLI command, ``kiosk run``, the
UI worker) and passes the store down; nothing below reads these variables or caches what they
said, so a test sets them, or builds a ``ModelStore`` on a folder of its own, and that is all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from kiosk.store.catalog import MODELS_FILE, Catalog
from kiosk.store.models import SYSTEM_STORES, ModelStore

DATA_DIR_ENV = "KIOSK_DATA_DIR"
SYSTEM_STORES_ENV = "KIOSK_SYSTEM_STORES"
EXTRA_CATALOG_ENV = "KIOSK_CATALOG"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data dir the environment names (``KIOSK_DATA_DIR``), else platformdirs' user data dir."""
    environ = os.environ if environ is None else environ
    override = environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir("kiosk", appauthor=False))


def system_stores(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    environ = os.environ if environ is None else environ
    override = environ.get(SYSTEM_STORES_ENV)
    if override is None:
        return SYSTEM_STORES
    return tuple(Path(part) for part in override.split(os.pathsep) if part)


def catalog_files(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    environ = os.environ if environ is None else environ
    extra = environ.get(EXTRA_CATALOG_ENV)
    return (MODELS_FILE, Path(extra)) if extra else (MODELS_FILE,)


def from_environment(environ: Mapping[str, str] | None = None) -> ModelStore:
    """The model store (with its catalogue, ``store.catalog``) that the environment describes, read now."""
    environ = os.environ if environ is None else environ
    return ModelStore(data_dir(environ), system_stores(environ), Catalog(catalog_files(environ)))
