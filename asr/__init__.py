"""Speech to text. Qt-free; knows nothing about the kiosk: imports only ``text`` (sentences,
normalisation) and third-party libraries, never ``kiosk`` or Qt.

Audio given to a recognizer is 16 kHz mono float32 in [-1, 1]; loading files and
resampling is the caller's job (see ``asr.audio``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Protocol

import numpy as np

SAMPLE_RATE = 16_000

Task = Literal["transcribe", "translate"]


class RecognitionTimeout(RuntimeError):
    """The decoding budget of this audio was spent before a transcript came out: its deadline
    passed, or the decoder ran into its token cap and kept nothing (never an empty transcript)."""


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


@dataclass(frozen=True)
class Transcript:
    """What was said: the text, its language and the segments kept after the guards."""

    text: str
    language: str
    language_probability: float
    segments: tuple[Segment, ...]
    duration_s: float
    task: Task = "transcribe"

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()


class Recognizer(Protocol):
    languages: frozenset[str]

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        candidates: Iterable[str] | None = None,
        task: Task = "transcribe",
    ) -> Transcript:
        """Recognise ``audio``.

        ``language`` forces the language (the caller knows it); otherwise it is
        detected, restricted to ``candidates`` when given. Raises ``RecognitionTimeout``
        when the speech cannot be recognised within the recognizer's budget.
        """
        ...

    def warm_up(self) -> None: ...
