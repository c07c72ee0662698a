"""Text to speech. Qt-free; knows nothing about the kiosk: imports only ``text`` (sentences,
normalisation) and third-party libraries, never ``kiosk`` or Qt.

A synthesizer yields one ``SpeechChunk`` per sentence, so that a player can start
on the first sentence while the rest is still being synthesised.

Text with nothing speakable in it (empty, whitespace, punctuation only) yields no
chunks: "nothing to say" is a normal outcome, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np

from text.sentences import first_clause, split_sentences


@dataclass(frozen=True)
class SynthesisConfig:
    """How to speak. ``rate`` > 1 speaks faster, < 1 slower (older citizens)."""

    rate: float = 1.0
    volume: float = 1.0
    # Speak the first clause of the first sentence on its own when it and the rest of that sentence
    # both have at least this many characters, so the answer starts sooner (README "Speed"); a
    # voice pauses at a comma anyway. None speaks whole sentences.
    first_clause_chars: int | None = 8

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


class SpeechError(Exception):
    """Base of the errors a synthesizer raises. Messages never contain the spoken text."""


class VoiceLoadError(SpeechError):
    """A voice cannot be used: a missing or corrupt model file, or a missing espeak-ng voice.

    ``source`` is the file path, or the espeak-ng binary or voice name.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot load voice {source}: {reason}")
        self.source = source
        self.reason = reason


class SynthesisError(SpeechError):
    """A loaded voice failed to produce audio for a sentence."""

    def __init__(self, voice_id: str, reason: str) -> None:
        super().__init__(f"voice {voice_id} produced no speech: {reason}")
        self.voice_id = voice_id
        self.reason = reason


class Synthesizer(Protocol):
    voice_id: str
    language: str

    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, text: str, config: SynthesisConfig = SynthesisConfig()) -> Iterator[SpeechChunk]: ...

    def warm_up(self) -> None: ...


def speakable_sentences(text: str) -> list[str]:
    """The sentences of ``text`` to speak one at a time (``text.sentences.split_sentences``).

    Pieces with no letter or digit ("...", "!?") are dropped, since no engine can speak them.
    """
    return [sentence for sentence in split_sentences(text) if any(char.isalnum() for char in sentence)]


def speak_by_sentence(
    text: str,
    voice_id: str,
    config: SynthesisConfig,
    render: Callable[[str], tuple[np.ndarray, int]],
) -> Iterator[SpeechChunk]:
    """Yield one chunk per sentence of ``text`` (the first clause of the first sentence apart, see
    ``SynthesisConfig.first_clause_chars``), rendering each only when asked for.

    ``render`` turns one sentence into (samples, sample rate). Every engine goes
    through here so that all of them split text, reject silence and shape audio
    the same way.
    """
    pieces = speakable_sentences(text)
    if pieces and config.first_clause_chars and (cut := first_clause(pieces[0], config.first_clause_chars)):
        pieces[0:1] = cut
    for sentence in pieces:
        audio, sample_rate = render(sentence)
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            raise SynthesisError(voice_id, "the engine returned no audio samples")
        # Silence from a speakable sentence is a broken voice, unless silence was asked for.
        if config.volume > 0 and not np.any(audio):
            raise SynthesisError(voice_id, "the engine returned only silence")
        yield SpeechChunk(audio=np.clip(audio, -1.0, 1.0), sample_rate=sample_rate, text=sentence)
