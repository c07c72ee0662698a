"""Text to text. Qt-free; knows nothing about the kiosk: imports only ``text`` (sentences,
normalisation) and third-party libraries, never ``kiosk`` or Qt.

Language codes at this interface are ISO 639-1 (``ko``, ``en``, ...). Which languages
exist is the caller's to say (the kiosk's table is assets/languages.toml); each engine maps
the codes to its own (``__ko__`` for M2M-100, ``kor_Hang`` for NLLB-200).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, Sequence

# "identity": source and target language are the same, so the text is returned as it is.
Engine = Literal["phrasebook", "seq2seq", "llm", "whisper", "identity", "none"]


@dataclass(frozen=True)
class Translation:
    """One translated text and where it came from.

    ``engine == "none"`` is a normal outcome (no model covers the pair); ``reason``
    then says why, in words staff can act on. ``curated`` is true only for
    human-verified phrasebook answers. A pivot translation names both models in
    ``model_id`` as ``"first+second"`` and the pivot language in ``pivot``.
    """

    text: str
    source_lang: str
    target_lang: str
    engine: Engine
    model_id: str | None = None
    pivot: str | None = None
    curated: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.engine != "none"


class Translator(Protocol):
    """A machine translation model covering some (source, target) pairs.

    A translator may also offer ``output_token_count(text) -> int`` (its own tokenizer's count),
    which ``kiosk eval mt`` uses for tokens-per-second figures.
    """

    model_id: str
    engine: Engine

    def supports(self, source_lang: str, target_lang: str) -> bool: ...

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        """Translate a batch of texts from one language to another, in order."""
        ...

    def warm_up(self) -> None: ...


class MTError(Exception):
    """Base class of the errors raised by this package."""


class InvalidInputError(MTError, ValueError):
    """The caller passed empty text or a language code outside the declared languages."""


class TranslationCancelled(MTError):
    """The call was cancelled (``cancel()`` from another thread); decoding stopped."""


class UnsupportedPairError(MTError, ValueError):
    """A translator was asked for a language pair it does not cover."""


class ModelLoadError(MTError):
    """A model directory is missing, incomplete or corrupt."""

    def __init__(self, model_dir: str | Path, reason: str) -> None:
        super().__init__(f"cannot load the model in {model_dir}: {reason}")
        self.model_dir = Path(model_dir)
        self.reason = reason


class PhrasebookError(MTError):
    """A phrasebook file is unreadable or breaks the phrasebook rules."""
