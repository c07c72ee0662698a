"""`kiosk models pull`: download catalogue models on a connected machine.

Files come from a Hugging Face repository (through ``hf_hub_url``, so ``HF_ENDPOINT`` can
name a mirror) or from a plain HTTPS base URL, with the same downloader for both:

- partial files live in ``<data dir>/downloads/<model id>/`` and are resumed with HTTP
  ``Range`` requests, within one pull and by the next pull after an interruption; a
  server that ignores ``Range`` makes the file start over;
- a file is kept only once it is complete and its sha256 matches the catalogue, where
  the catalogue knows it;
- the model is staged beside its place in the store and moved in with one rename.

Translation models the catalogue takes from pre-converted CTranslate2 repositories (M2M-100,
NLLB, several OPUS-MT pairs) are only downloaded: no torch, no transformers. Transformers
checkpoints (the OPUS-MT pairs without such a copy) are converted with CTranslate2's
converter when the ``convert`` extra is installed.
"""

from __future__ import annotations

import http.client
import logging
import shutil
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kiosk import __version__
from kiosk.errors import BadInput, ProvisioningFailed, VerificationFailed
from kiosk.store import models
from kiosk.store.catalog import ModelEntry

log = logging.getLogger(__name__)

ATTEMPTS = 4
TIMEOUT_S = 30
_CHUNK = 1 << 20
# A CTranslate2 int8 conversion: small, fast on CPU, and what the catalogue's sizes describe.
QUANTIZATION = "int8"
TOKENIZER_SUFFIXES = (".spm", ".model")


@dataclass(frozen=True)
class Download:
    name: str  # file name in the store
    url: str
    sha256: str | None


def downloads_dir(store: models.ModelStore, model_id: str) -> Path:
    return store.data_dir / "downloads" / model_id


def plan(entry: ModelEntry) -> list[Download]:
    """What to fetch for a catalogue entry, and from where."""
    if entry.system_package:
        raise BadInput(f"{entry.id} is a system package: install it with `apt-get install {entry.system_package}`")
    if not (entry.repo or entry.url):
        raise BadInput(f"{entry.id} has no download source in the catalogue; import it from a pack instead")
    return [Download(PurePosixPath(path).name, _url(entry, path), entry.files.get(PurePosixPath(path).name))
            for path in entry.downloads]


def _url(entry: ModelEntry, path: str) -> str:
    if entry.url:
        return f"{entry.url.rstrip('/')}/{path}"
    from huggingface_hub import hf_hub_url

    return hf_hub_url(entry.repo, path, revision=entry.revision)


def pull(store: models.ModelStore, entry: ModelEntry) -> models.InstalledModel:
    """Download (and convert, where needed) one catalogue model into ``store``'s user store."""
    downloads = plan(entry)
    if entry.convert:
        require_converter(entry)
    folder = downloads_dir(store, entry.id)
    folder.mkdir(parents=True, exist_ok=True)
    check_free_space(entry, folder)
    for download in downloads:
        fetch(download, folder, entry.id)
    with store.staging(entry.id) as staged:
        if entry.convert:
            convert(folder, staged, [d.name for d in downloads if d.name.endswith(TOKENIZER_SUFFIXES)])
            names = [path.name for path in staged.iterdir() if path.is_file()]
        else:
            names = [d.name for d in downloads]
            for name in names:
                shutil.move(folder / name, staged / name)
        model = store.commit(models.write_manifest(staged, entry, names))
    shutil.rmtree(folder, ignore_errors=True)
    return model


def check_free_space(entry: ModelEntry, folder: Path) -> None:
    """Refuse to start when the download (and conversion) would not fit on the disk."""
    needed_mb = (entry.download_mb or entry.size_mb) + (entry.size_mb if entry.convert else 0)
    already = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
    models.require_free_space(folder, int(needed_mb * 1e6) - already, entry.id)


def fetch(download: Download, folder: Path, model_id: str) -> Path:
    """Download one file into ``folder`` (resuming a partial one) and check its sha256."""
    done = folder / download.name
    part = folder / f"{download.name}.part"
    if not done.is_file():
        for attempt in range(1, ATTEMPTS + 1):
            try:
                _transfer(download, part, model_id)
                break
            except _Interrupted as interruption:
                log.warning("download of %s/%s interrupted (%s), attempt %d", model_id, download.name, interruption, attempt)
                if attempt == ATTEMPTS:
                    raise ProvisioningFailed(
                        f"downloading {download.name} for {model_id} failed ({interruption}); "
                        "run the pull again to resume"
                    ) from None
                time.sleep(min(2 ** attempt / 4, 2))
        part.replace(done)
    if download.sha256 and models.sha256_file(done) != download.sha256:
        done.unlink()
        raise VerificationFailed(f"{model_id}: {download.name} from {download.url} fails its sha256 check; nothing was installed")
    return done


class _Interrupted(Exception):
    """The transfer stopped early; what arrived is kept for the next attempt."""


def _transfer(download: Download, part: Path, model_id: str) -> None:
    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"gyeonggi-kiosk/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(download.url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            if error.headers.get("Content-Range") == f"bytes */{offset}":
                return  # the partial file is already the whole file
            part.unlink()
            raise _Interrupted("the partial file does not fit the server's file; starting over") from None
        if error.code >= 500 or error.code == 429:
            raise _Interrupted(f"HTTP {error.code}") from None
        raise ProvisioningFailed(f"cannot download {download.url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise _Interrupted(str(getattr(error, "reason", error))) from None
    with response:
        if response.status == 206 and not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            part.unlink()
            raise _Interrupted("the server sent another part of the file; starting over")
        if response.status != 206:
            offset = 0  # the server sent the whole file: start over rather than append
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with open(part, "ab" if offset else "wb") as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"{model_id}/{download.name}", file=sys.stderr, disable=None, leave=False,
        ) as bar:
            received = offset
            while True:
                try:
                    block = response.read(_CHUNK)
                except (http.client.HTTPException, OSError) as error:
                    raise _Interrupted(type(error).__name__) from None
                if not block:
                    break
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received != total:
        raise _Interrupted(f"{received} of {total} bytes arrived")


def converter_available() -> bool:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def require_converter(entry: ModelEntry) -> None:
    if not converter_available():
        raise ProvisioningFailed(
            f"{entry.id} is a Transformers checkpoint that needs converting to CTranslate2: install the converter "
            "with `pip install '.[convert]'` (add `--extra-index-url https://download.pytorch.org/whl/cpu` for "
            f"CPU-only torch), or convert it on another machine with `ct2-transformers-converter --model {entry.repo} "
            f"--quantization {QUANTIZATION} --copy_files <tokenizer files> --output_dir DIR` and run "
            f"`kiosk models import DIR --id {entry.id}`"
        )


def convert(checkpoint: Path, output: Path, tokenizer_files: list[str]) -> None:
    """Convert a downloaded Transformers checkpoint into a CTranslate2 model in ``output``."""
    from ctranslate2.converters import TransformersConverter

    try:
        TransformersConverter(str(checkpoint), copy_files=tokenizer_files).convert(
            str(output), quantization=QUANTIZATION, force=True
        )
    except (OSError, ValueError, RuntimeError) as error:
        raise ProvisioningFailed(f"converting {checkpoint.name} to CTranslate2 failed: {error}") from None
