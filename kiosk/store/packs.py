"""Model packs for air-gapped kiosks: `kiosk models export` and `kiosk models import`.

A pack is a tar file: ``manifest.json`` (format, version and, per model, the id, kind,
engine, family, languages, licence, source and the sha256 and size of every file), then
``models/<id>/<file>``. `import` also takes what upstream projects publish: a model
directory from another store (with its manifest.json), a CTranslate2 model directory or
Hugging Face snapshot, a Piper voice (``.onnx`` with its ``.onnx.json``) and an Argos
Translate ``.argosmodel`` (a zip around a CTranslate2 model and a sentencepiece model).

Nothing from an archive is trusted before it is checked. Members must be plain files or
directories under relative paths (absolute paths, ``..``, links and device files are
refused), the pack's files must match its manifest's sha256 and sizes, and only then is
anything moved into the store, each model with one rename.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import stat
import tarfile
import time
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from kiosk import __version__
from kiosk.errors import BadInput, ModelMissing, VerificationFailed
from kiosk.store import models, pull
from kiosk.store.catalog import FILE_NAME, LANGUAGE_CODES, MODEL_ID, MODEL_KINDS, ModelEntry
from kiosk.store.models import MANIFEST, InstalledModel, ModelStore
from mt.ggufread import GGUFError, read_header
from mt.seq2seq import FAMILIES

PACK_FORMAT = "kiosk-model-pack"
PACK_VERSION = 1
_MODELS_DIR = "models"
# What reading a damaged or truncated archive raises, whatever its compression.
_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)


@dataclass(frozen=True)
class ImportOptions:
    """What the command line says about a model that brings no manifest of its own."""

    model_id: str | None = None
    kind: str | None = None
    family: str | None = None
    languages: tuple[str, ...] = ()
    license: str | None = None

    @property
    def given(self) -> bool:
        return self != ImportOptions()


def export_pack(store: ModelStore, model_ids: list[str], destination: Path) -> list[InstalledModel]:
    """Write the installed models to a pack, after checking every file's sha256."""
    present = store.installed()
    chosen = []
    for model_id in dict.fromkeys(model_ids):
        model = present.get(model_id)
        if model is None:
            raise ModelMissing(model_id)
        check = models.check_model(model)
        if not check.ok:
            raise VerificationFailed(
                f"model {model_id} fails verification ({'; '.join(check.problems)}); nothing was exported"
            )
        chosen.append(model)
    if not destination.parent.is_dir():
        raise BadInput(f"cannot write {destination}: {destination.parent} is not a directory")
    manifest = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "created_by": f"gyeonggi-kiosk {__version__}",
        "models": [model.manifest() for model in chosen],
    }
    partial = destination.with_name(f".{destination.name}.part")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            content = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
            tar.addfile(_member(MANIFEST, len(content), int(time.time())), io.BytesIO(content))
            for model in chosen:
                for name, meta in model.files.items():
                    path = model.file(name)
                    member = _member(f"{_MODELS_DIR}/{model.id}/{name}", meta["size"], int(path.stat().st_mtime))
                    with open(path, "rb") as source:
                        tar.addfile(member, source)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return chosen


def _member(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, mtime
    return info


def import_path(store: ModelStore, path: Path, options: ImportOptions = ImportOptions()) -> list[InstalledModel]:
    """Import a pack, an Argos package, a Piper voice or a model directory into ``store``'s user store."""
    if not path.exists():
        raise BadInput(f"{path} does not exist")
    if path.is_dir():
        return [import_directory(store, path, options)]
    if path.name.endswith(".onnx"):
        return [import_voice(store, path, options)]
    if path.name.lower().endswith(".gguf"):
        return [import_gguf(store, path, options)]
    if zipfile.is_zipfile(path):
        return [import_argos(store, path, options)]
    if _is_tar(path):
        if options.given:
            raise BadInput("--id, --kind, --family, --languages and --license describe one model; a pack describes its own")
        return import_pack(store, path)
    raise BadInput(f"{path} is not a model pack, an Argos package, a Piper voice, a GGUF file or a model directory")


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except _READ_ERRORS:
        return False


class _ArchiveReader:
    """A member's stream whose read errors say that the archive is damaged."""

    def __init__(self, stream: BinaryIO, archive: Path) -> None:
        self._stream, self._archive = stream, archive

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except _READ_ERRORS as error:
            raise _damaged(self._archive, error) from None


def _damaged(archive: Path, error: Exception) -> BadInput:
    return BadInput(f"{archive} is damaged or truncated ({str(error) or type(error).__name__}); nothing was installed")


def _refuse(archive: Path, member: str, why: str) -> BadInput:
    return BadInput(f"{archive}: member {member!r} {why}; nothing was installed")


def _safe_member_name(name: str, archive: Path) -> str:
    """The member's path with ``.`` parts removed, once it is known to stay inside the archive."""
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise _refuse(archive, name, "has an absolute path")
    parts = [part for part in PurePosixPath(name).parts if part != "."]
    if ".." in parts:
        raise _refuse(archive, name, "points outside the archive with '..'")
    return "/".join(parts)


def _tar_files(members: list[tarfile.TarInfo], archive: Path) -> dict[str, tarfile.TarInfo]:
    """The archive's plain files by path; anything else but directories is refused."""
    files: dict[str, tarfile.TarInfo] = {}
    for member in members:
        name = _safe_member_name(member.name, archive)
        if member.issym() or member.islnk():
            raise _refuse(archive, member.name, f"is a link (to {member.linkname!r}); packs hold only plain files")
        if member.isdev():
            raise _refuse(archive, member.name, "is a device file or pipe")
        if member.isdir():
            continue
        if not member.isfile():
            raise _refuse(archive, member.name, "is not a plain file")
        if name in files:
            raise _refuse(archive, member.name, "appears twice")
        files[name] = member
    return files


def _zip_files(infos: list[zipfile.ZipInfo], archive: Path) -> dict[str, zipfile.ZipInfo]:
    """The same rules for a zip, whose Unix file type sits in the high bits of ``external_attr``."""
    files: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = _safe_member_name(info.filename, archive)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _refuse(archive, info.filename, "is a link; packages hold only plain files")
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise _refuse(archive, info.filename, "is a device file or pipe")
        if info.is_dir():
            continue
        if name in files:
            raise _refuse(archive, info.filename, "appears twice")
        files[name] = info
    return files


def _parse_json(content: bytes, what: str) -> object:
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"{what} is not valid JSON ({error})") from None


def import_pack(store: ModelStore, path: Path) -> list[InstalledModel]:
    try:
        tar = tarfile.open(path, "r:*")
    except _READ_ERRORS as error:
        raise _damaged(path, error) from None
    with tar:
        try:
            files = _tar_files(tar.getmembers(), path)
            manifest_member = files.pop(MANIFEST, None)
            if manifest_member is None:
                raise BadInput(f"{path} has no {MANIFEST}: it is not a kiosk model pack")
            manifest = _parse_json(tar.extractfile(manifest_member).read(), f"{path}: {MANIFEST}")  # type: ignore[union-attr]
        except _READ_ERRORS as error:
            raise _damaged(path, error) from None
        pack_models = _pack_models(manifest, path)
        expected = {f"{_MODELS_DIR}/{model.id}/{name}" for model in pack_models for name in model.files}
        unexpected, absent = sorted(set(files) - expected), sorted(expected - set(files))
        if unexpected:
            raise _refuse(path, unexpected[0], "is not listed in the pack's manifest")
        if absent:
            raise BadInput(f"{path} lacks {absent[0]}, which its manifest lists (a truncated pack?); nothing was installed")
        models.require_free_space(store.data_dir, sum(member.size for member in files.values()), path.name)
        with ExitStack() as cleanup:
            staged = []
            for model in pack_models:
                folder = cleanup.enter_context(store.staging(model.id))
                for name, meta in model.files.items():
                    member = files[f"{_MODELS_DIR}/{model.id}/{name}"]
                    copied = models.copy_stream(_ArchiveReader(tar.extractfile(member), path), folder / name)  # type: ignore[arg-type]
                    if copied != meta:
                        raise VerificationFailed(
                            f"{model.id}/{name} in {path.name} fails its sha256 check against the pack's manifest; "
                            "nothing was installed"
                        )
                staged.append(replace(model, path=folder))
            return [store.commit(models.record_manifest(model)) for model in staged]


def _pack_models(manifest: object, path: Path) -> list[InstalledModel]:
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise BadInput(f"{path} is not a kiosk model pack (its manifest has no format {PACK_FORMAT!r})")
    if manifest.get("version") != PACK_VERSION:
        raise BadInput(f"{path} is pack version {manifest.get('version')!r}; this kiosk reads version {PACK_VERSION}")
    entries = manifest.get("models")
    if not isinstance(entries, list) or not entries:
        raise BadInput(f"{path}: the pack's manifest lists no models")
    try:
        pack_models = [models.parse_manifest(entry, Path(_MODELS_DIR)) for entry in entries]
    except ValueError as error:
        raise BadInput(f"{path}: the pack's manifest is invalid: {error}") from None
    ids = [model.id for model in pack_models]
    if len(set(ids)) != len(ids):
        raise BadInput(f"{path}: the pack's manifest lists a model twice")
    return pack_models


def import_argos(store: ModelStore, path: Path, options: ImportOptions) -> InstalledModel:
    """An Argos Translate package: ``<name>/metadata.json``, ``<name>/model/`` and ``<name>/sentencepiece.model``."""
    try:
        archive = zipfile.ZipFile(path)
    except _READ_ERRORS as error:
        raise _damaged(path, error) from None
    with archive:
        files = _zip_files(archive.infolist(), path)
        tops = {name.split("/")[0] for name in files}
        if len(tops) != 1:
            raise BadInput(f"{path} is not an Argos Translate package: it should hold one top directory")
        top = tops.pop()
        if f"{top}/metadata.json" not in files:
            raise BadInput(f"{path} is not an Argos Translate package: it has no {top}/metadata.json")
        try:
            metadata = _parse_json(archive.read(files[f"{top}/metadata.json"]), f"{path}: metadata.json")
        except _READ_ERRORS as error:
            raise _damaged(path, error) from None
        sources, targets = _argos_pair(metadata, path)
        wanted = {name.removeprefix(f"{top}/model/"): info for name, info in files.items()
                  if name.startswith(f"{top}/model/") and name.count("/") == 2}
        if "model.bin" not in wanted:
            raise BadInput(f"{path} has no CTranslate2 model ({top}/model/model.bin)")
        tokenizer = files.get(f"{top}/sentencepiece.model")
        if tokenizer is None:
            raise BadInput(f"{path} has no {top}/sentencepiece.model; the kiosk reads only sentencepiece Argos packages")
        wanted["sentencepiece.model"] = tokenizer
        # Kept beside the model: mt/seq2seq reads its target_prefix and language codes from it.
        wanted["metadata.json"] = files[f"{top}/metadata.json"]
        if f"{top}/README.md" in files:
            wanted["README.md"] = files[f"{top}/README.md"]
        for name in wanted:
            if not FILE_NAME.fullmatch(name):
                raise _refuse(path, f"{top}/model/{name}", "has a name the store does not accept")
        model_id = _checked_id(options.model_id or f"argos-{sources[0]}-{targets[0]}")
        models.require_free_space(store.data_dir, sum(info.file_size for info in wanted.values()), path.name)
        with store.staging(model_id) as folder:
            copied = {name: models.copy_stream(_ArchiveReader(archive.open(info), path), folder / name)
                      for name, info in wanted.items()}
            return store.commit(models.record_manifest(InstalledModel(
                id=model_id,
                kind="mt-seq2seq",
                engine="ctranslate2",
                family="marian",  # one direction, no language tokens: what the OPUS-MT pairs are too
                # Sources, then targets; metadata.json says which is which (a package may have several of each).
                languages=tuple(dict.fromkeys((*sources, *targets))),
                license=options.license or "see the package's README.md (Argos Translate)",
                source=f"Argos Translate package {path.name}, version {metadata.get('package_version') or 'unknown'}",
                path=folder,
                files=copied,
            )))


def _argos_pair(metadata: object, path: Path) -> tuple[list[str], list[str]]:
    """The package's source and target codes the kiosk offers: ``from_code`` and ``from_codes``,
    ``to_code`` and ``to_codes`` (argostranslate/package.py reads the same keys)."""
    if not isinstance(metadata, dict):
        raise BadInput(f"{path}: metadata.json is not a JSON object")
    sides = []
    for side in ("from", "to"):
        codes = [metadata.get(f"{side}_code"), *(metadata.get(f"{side}_codes") or ())]
        sides.append([code for code in dict.fromkeys(codes) if isinstance(code, str) and code])
    (every_source, every_target) = sides
    sources = [code for code in every_source if code in LANGUAGE_CODES]
    targets = [code for code in every_target if code in LANGUAGE_CODES]
    if not sources or not targets or set(sources) == set(targets) == {sources[0]}:
        raise BadInput(
            f"{path} translates {'/'.join(map(str, every_source)) or None}→{'/'.join(map(str, every_target)) or None}; "
            f"the kiosk offers {' '.join(LANGUAGE_CODES)}"
        )
    return sources, targets


def _checked_id(model_id: str) -> str:
    if not MODEL_ID.fullmatch(model_id):
        raise BadInput(f"model id {model_id!r} is not a plain name (letters, digits, '.', '_', '-')")
    return model_id


def import_directory(store: ModelStore, folder: Path, options: ImportOptions) -> InstalledModel:
    """A store model directory, a Piper voice directory, a CTranslate2 model or a checkpoint to convert."""
    if (folder / MANIFEST).is_file():
        return _import_store_directory(store, folder)
    voices = sorted(folder.glob("*.onnx"))
    if len(voices) > 1:
        raise BadInput(f"{folder} holds {len(voices)} Piper voices; import the .onnx file of the one you want")
    if voices:
        return import_voice(store, voices[0], options)
    entry = store.catalog.get(options.model_id or folder.name)
    if (folder / "model.bin").is_file():
        return _import_ctranslate2(store, folder, entry, options)
    if entry is not None and entry.convert and (folder / "config.json").is_file():
        return _import_checkpoint(store, folder, entry)
    raise BadInput(
        f"{folder} holds no model the kiosk can import: expected a {MANIFEST}, a CTranslate2 model.bin, "
        "one Piper .onnx voice, or the checkpoint of a catalogue model that needs converting (give --id)"
    )


def _import_store_directory(store: ModelStore, folder: Path) -> InstalledModel:
    try:
        model = models.parse_manifest(json.loads((folder / MANIFEST).read_text(encoding="utf-8")), folder)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BadInput(f"{folder / MANIFEST} is invalid: {error}") from None
    return _copy_in(store, folder, list(model.files), model, expected=model.files)


def import_voice(store: ModelStore, onnx: Path, options: ImportOptions) -> InstalledModel:
    """A Piper voice: ``NAME.onnx`` with ``NAME.onnx.json`` (and its MODEL_CARD, when present)."""
    config_path = onnx.with_name(f"{onnx.name}.json")
    if not config_path.is_file():
        raise BadInput(f"{onnx} has no {config_path.name} beside it; a Piper voice needs both")
    model_id = _checked_id(options.model_id or onnx.stem)
    entry = store.catalog.get(model_id)
    names = [onnx.name, config_path.name] + (["MODEL_CARD"] if (onnx.parent / "MODEL_CARD").is_file() else [])
    if entry is not None:
        return _copy_in(store, onnx.parent, names, models.model_from_entry(entry, onnx.parent, {}), entry=entry)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        language = str(config["language"]["code"]).split("_")[0]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise BadInput(f"{config_path} does not name the voice's language (language.code)") from None
    languages = options.languages or (language,)
    model = InstalledModel(
        id=model_id, kind="tts", engine="piper", languages=_offered(languages), path=onnx.parent,
        license=options.license or ("see MODEL_CARD" if "MODEL_CARD" in names else "unknown"),
        source=f"Piper voice imported from {onnx.name}", files={},
    )
    return _copy_in(store, onnx.parent, names, model)


def import_gguf(store: ModelStore, gguf: Path, options: ImportOptions) -> InstalledModel:
    """A GGUF chat model (engine llama.cpp): the header is walked first, so a file that is not a
    GGUF, or is truncated, is refused before anything is copied."""
    try:
        header = read_header(gguf)
    except GGUFError as error:
        raise VerificationFailed(f"{error}; nothing was installed") from None
    if not FILE_NAME.fullmatch(gguf.name):
        raise BadInput(f"{gguf.name}: a model file name is letters, digits and '._+-'; rename it to import it")
    entry = store.catalog.get(options.model_id) if options.model_id else next(
        (e for e in store.catalog.models.values()
         if e.engine == "llama.cpp" and gguf.name in {PurePosixPath(p).name for p in e.downloads}), None)
    if entry is not None and entry.engine != "llama.cpp":
        raise BadInput(f"{entry.id} is not a GGUF model in the catalogue; give another --id for {gguf.name}")
    if entry is not None:
        return _copy_in(store, gguf.parent, [gguf.name], models.model_from_entry(entry, gguf.parent, {}), entry=entry)
    if not options.languages:
        raise BadInput(f"{gguf.name} is not in the catalogue: give --languages (and --id, --license) to import it")
    if options.kind not in (None, "mt-llm"):
        raise BadInput("a GGUF file is a translation model of kind mt-llm")
    model = InstalledModel(
        id=_checked_id(options.model_id or gguf.stem), kind="mt-llm", engine="llama.cpp",
        languages=_offered(options.languages), path=gguf.parent,
        license=options.license or str(header.metadata.get("general.license") or "unknown"),
        source=f"GGUF imported from {gguf.name} ({header.metadata.get('general.name') or header.architecture})",
        files={},
    )
    return _copy_in(store, gguf.parent, [gguf.name], model)


def _import_ctranslate2(store: ModelStore, folder: Path, entry: ModelEntry | None,
                        options: ImportOptions) -> InstalledModel:
    if entry is not None:
        # A converted checkpoint's files are whatever the converter wrote; otherwise the catalogue names them.
        if entry.convert or not entry.downloads:
            names = _plain_files(folder)
        else:
            names = [PurePosixPath(path).name for path in entry.downloads]
        return _copy_in(store, folder, names, models.model_from_entry(entry, folder, {}), entry=entry)
    if not (options.model_id and options.kind and options.languages):
        raise BadInput(
            f"{folder.name} is not in the catalogue: give --id, --kind and --languages "
            "(and --family for a translation model) to import it"
        )
    if options.kind not in MODEL_KINDS:
        raise BadInput(f"--kind must be one of {', '.join(MODEL_KINDS)}")
    if options.kind == "mt-seq2seq" and options.family not in FAMILIES:
        raise BadInput(f"a translation model needs --family {', '.join(FAMILIES)} "
                       "(an OPUS-MT pair is marian, with --languages SOURCE,TARGET)")
    engines = {"asr": "faster-whisper", "mt-seq2seq": "ctranslate2", "mt-llm": "ctranslate2", "tts": "piper"}
    model = InstalledModel(
        id=_checked_id(options.model_id), kind=options.kind, engine=engines[options.kind],
        languages=_offered(options.languages), license=options.license or "unknown",
        source=f"imported from a directory named {folder.name}", path=folder, files={}, family=options.family,
    )
    return _copy_in(store, folder, _plain_files(folder), model)


def _import_checkpoint(store: ModelStore, folder: Path, entry: ModelEntry) -> InstalledModel:
    pull.require_converter(entry)
    with store.staging(entry.id) as staged:
        tokenizers = [path.name for path in folder.iterdir() if path.name.endswith(pull.TOKENIZER_SUFFIXES)]
        pull.convert(folder, staged, tokenizers)
        names = [path.name for path in staged.iterdir() if path.is_file()]
        return store.commit(models.write_manifest(staged, entry, names))


def _offered(languages: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [code for code in languages if code not in LANGUAGE_CODES]
    if unknown:
        raise BadInput(f"unknown language code {unknown[0]!r}; offered: {' '.join(LANGUAGE_CODES)}")
    return tuple(languages)


def _plain_files(folder: Path) -> list[str]:
    """The files of a model directory worth keeping: plain names, no hidden files or subdirectories."""
    return sorted(path.name for path in folder.iterdir() if path.is_file() and FILE_NAME.fullmatch(path.name))


def _copy_in(store: ModelStore, folder: Path, names: list[str], model: InstalledModel, *,
             expected: dict | None = None, entry: ModelEntry | None = None) -> InstalledModel:
    """Copy the named files of a directory into staging as ``model``, check them, and commit.

    ``expected`` (a manifest's files) must match exactly; ``entry`` checks the sha256 values
    the catalogue knows.
    """
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise BadInput(f"{folder} lacks {', '.join(missing)}, which {model.id} needs")
    models.require_free_space(store.data_dir, sum((folder / name).stat().st_size for name in names), model.id)
    with store.staging(model.id) as staged:
        copied = {}
        for name in names:
            with open(folder / name, "rb") as source:
                copied[name] = models.copy_stream(source, staged / name)
            if expected is not None and copied[name] != expected[name]:
                raise VerificationFailed(f"{model.id}: {name} in {folder} fails its sha256 check; nothing was installed")
        if entry is not None:
            models.check_against_catalogue(entry, copied, f"in {folder}")
        return store.commit(models.record_manifest(replace(model, path=staged, files=copied)))
