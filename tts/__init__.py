"""Text to speech. Qt-free; knows nothing about the kiosk.

A synthesizer yields one ``SpeechChunk`` per sentence, so that a player can start
on the first sentence while the rest is still being synthesised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np


@dataclass(frozen=True)
class SynthesisConfig:
    """How to speak. ``rate`` > 1 speaks faster, < 1 slower (older citizens)."""

    rate: float = 1.0
    volume: float = 1.0

    def __post_init__(self) -> None:
        if not 0.25 <= self.rate <= 4.0:
            raise ValueError(f"speech rate must be between 0.25 and 4.0, got {self.rate}")
        if not 0.0 <= self.volume <= 2.0:
            raise ValueError(f"volume must be between 0.0 and 2.0, got {self.volume}")


@dataclass(frozen=True)
class SpeechChunk:
    """One sentence of speech: mono float32 samples in [-1, 1]."""

    audio: np.ndarray
    sample_rate: int
    text: str

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class SpeechUnavailable:
    """No voice exists for a language: callers show the text large instead."""

    language: str
    reason: str


class Synthesizer(Protocol):
    voice_id: str
    language: str

    def synthesize(self, text: str, config: SynthesisConfig = SynthesisConfig()) -> Iterator[SpeechChunk]: ...

    def warm_up(self) -> None: ...
