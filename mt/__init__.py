"""Text to text. Qt-free; knows nothing about the kiosk.

Language codes at this interface are ISO 639-1 (``ko``, ``en``, ...). Each engine
maps them to its own codes (``__ko__`` for M2M-100, ``kor_Hang`` for NLLB-200).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Sequence

Engine = Literal["phrasebook", "seq2seq", "llm", "whisper", "none"]


@dataclass(frozen=True)
class Translation:
    """One translated text and where it came from.

    ``engine == "none"`` is a normal outcome (no model covers the pair); ``reason``
    then says why, in words staff can act on. ``curated`` is true only for
    human-verified phrasebook answers.
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
    """A machine translation model covering some (source, target) pairs."""

    model_id: str

    def supports(self, source_lang: str, target_lang: str) -> bool: ...

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        """Translate a batch of texts from one language to another, in order."""
        ...

    def warm_up(self) -> None: ...
