"""A small pure-Python reader of GGUF headers: enough to check a file and read its metadata.

It walks the header (magic ``GGUF``, version, tensor count, metadata key/value pairs, tensor
infos), aligns the start of the tensor data and computes the smallest size a complete file
can have. Nothing is loaded: large arrays (the vocabulary) are skipped and only their
position is kept, so ``token_text`` can find one token later.

Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
# Arrays up to this length are kept in ``metadata``; longer ones are skipped.
SMALL_ARRAY = 64

# Metadata value types: struct format of the scalars.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block), from ggml.c's type_traits.
GGML_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}


class GGUFError(ValueError):
    """The file is not a GGUF, or is truncated or malformed; the message names the file."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type: int
    offset: int  # from the start of the data section

    @property
    def nbytes(self) -> int | None:
        """Bytes of the data, or None for a type this reader does not know."""
        block = GGML_TYPES.get(self.type)
        if block is None:
            return None
        count = 1
        for dim in self.shape:
            count *= dim
        return count // block[0] * block[1]


@dataclass
class GGUFHeader:
    path: Path
    version: int
    file_size: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo]
    data_offset: int
    min_size: int  # the end of the last tensor's data: a complete file is at least this long
    _arrays: dict[str, tuple[int, int, int]] = field(default_factory=dict, repr=False)  # key -> (type, count, offset)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get("general.architecture")

    @property
    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template")

    def token_text(self, token_id: int) -> str | None:
        """The text of one vocabulary entry (``tokenizer.ggml.tokens``), or None."""
        array = self._arrays.get("tokenizer.ggml.tokens")
        if array is None or array[0] != _STRING or not 0 <= token_id < array[1]:
            return None
        with open(self.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            reader = _Reader(buf, self.path, self.version)
            reader.pos = array[2]
            for _ in range(token_id):
                reader.skip_string()
            return reader.string()

    def token_id(self, text: str) -> int | None:
        """The id of the vocabulary entry whose text is exactly ``text`` (a special token), or None."""
        array = self._arrays.get("tokenizer.ggml.tokens")
        if array is None or array[0] != _STRING:
            return None
        wanted = text.encode("utf-8")
        with open(self.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            reader = _Reader(buf, self.path, self.version)
            reader.pos = array[2]
            for index in range(array[1]):
                size = reader.count()
                if size == len(wanted) and buf[reader.pos:reader.pos + size] == wanted:
                    return index
                reader.pos += size
        return None

    def end_tokens(self) -> list[str]:
        """The texts of the end-of-sequence and end-of-turn tokens the metadata names."""
        found = []
        for key in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"):
            token_id = self.metadata.get(key)
            if isinstance(token_id, int):
                text = self.token_text(token_id)
                if text and text not in found:
                    found.append(text)
        return found


class _Reader:
    def __init__(self, buf: Any, path: Path, version: int = 3) -> None:
        self.buf, self.path, self.version, self.pos = buf, path, version, 0

    def need(self, size: int) -> None:
        if self.pos + size > len(self.buf):
            raise GGUFError(f"{self.path.name}: truncated GGUF (the header runs past the end of the "
                            f"file at byte {len(self.buf)})")

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def count(self) -> int:
        return self.unpack("<I" if self.version == 1 else "<Q")

    def string(self) -> str:
        size = self.count()
        self.need(size)
        raw = self.buf[self.pos:self.pos + size]
        self.pos += size
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        size = self.count()
        self.need(size)
        self.pos += size

    def value(self, kind: int, key: str, arrays: dict) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.unpack("<I"), self.count()
            arrays[key] = (item_kind, count, self.pos)
            if item_kind in _SCALARS:
                size = struct.calcsize(_SCALARS[item_kind]) * count
                self.need(size)
                if count <= SMALL_ARRAY:
                    items = list(struct.unpack_from("<" + _SCALARS[item_kind][1] * count, self.buf, self.pos))
                    self.pos += size
                    return items
                self.pos += size
                return None
            if count > SMALL_ARRAY:
                for _ in range(count):
                    self.value(item_kind, "", {}) if item_kind != _STRING else self.skip_string()
                return None
            return [self.value(item_kind, "", {}) for _ in range(count)]
        raise GGUFError(f"{self.path.name}: malformed GGUF (metadata {key!r} has unknown type {kind})")


def read_header(path: str | Path) -> GGUFHeader:
    """Read and check a GGUF header; ``GGUFError`` names the file when it is not a complete GGUF."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < 4 or f.seek(0) != 0 or f.read(4) != MAGIC:
                raise GGUFError(f"{path.name}: not a GGUF file (it does not start with 'GGUF')")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _walk(buf, path, size)
    except OSError as error:
        raise GGUFError(f"{path.name}: cannot read the file ({error.strerror or error})") from None


def _walk(buf: Any, path: Path, size: int) -> GGUFHeader:
    reader = _Reader(buf, path)
    reader.pos = 4
    version = reader.unpack("<I")
    if version not in (1, 2, 3):
        raise GGUFError(f"{path.name}: unsupported GGUF version {version}")
    reader.version = version
    n_tensors, n_kv = reader.count(), reader.count()
    metadata: dict[str, Any] = {}
    arrays: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_kv):
        key = reader.string()
        kind = reader.unpack("<I")
        metadata[key] = reader.value(kind, key, arrays)
    tensors = []
    for _ in range(n_tensors):
        name = reader.string()
        n_dims = reader.unpack("<I")
        if n_dims > 8:
            raise GGUFError(f"{path.name}: malformed GGUF (tensor {name!r} has {n_dims} dimensions)")
        shape = tuple(reader.unpack("<Q") for _ in range(n_dims))
        tensors.append(TensorInfo(name, shape, reader.unpack("<I"), reader.unpack("<Q")))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        alignment = DEFAULT_ALIGNMENT
    data_offset = -(-reader.pos // alignment) * alignment
    ends = [data_offset + t.offset + (t.nbytes or 0) for t in tensors]
    min_size = max(ends, default=reader.pos)
    if min_size > size:
        raise GGUFError(f"{path.name}: truncated GGUF ({size} bytes; its tensors need at least {min_size})")
    return GGUFHeader(path, version, size, metadata, tensors, data_offset, min_size, arrays)
