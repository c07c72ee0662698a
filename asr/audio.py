"""Decoding audio files into what recognizers take: 16 kHz mono float32.

Any rate, channel count and sample format libsndfile reads is accepted; resampling uses
soxr. Unusable input raises ``AudioInputError`` with a one-line reason fit for a person.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile
import soxr

from asr import SAMPLE_RATE

# Ten minutes is far beyond any counter utterance; longer input is refused, not truncated.
MAX_DURATION_S = 600.0
_SILENCE_PEAK = 1e-4


class AudioInputError(ValueError):
    """The audio cannot be used; the message says why in one line."""


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mix down to mono and resample to 16 kHz; rejects NaN/Inf and empty input."""
    if sample_rate <= 0:
        raise AudioInputError(f"invalid sample rate {sample_rate}")
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1, dtype=np.float32)
    if audio.size == 0:
        raise AudioInputError("the audio is empty (no samples)")
    if not np.isfinite(audio).all():
        raise AudioInputError("the audio contains invalid samples (NaN or infinity)")
    duration = audio.size / sample_rate
    if duration > MAX_DURATION_S:
        raise AudioInputError(f"the audio is {duration:.0f} s long; at most {MAX_DURATION_S:.0f} s is accepted")
    if sample_rate != SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    return np.clip(audio, -1.0, 1.0)


def load_audio(source: str | Path | bytes | BinaryIO) -> np.ndarray:
    """Read a file (or its bytes) into 16 kHz mono float32."""
    name = str(source) if isinstance(source, (str, Path)) else "the audio"
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    elif isinstance(source, (str, Path)) and not Path(source).is_file():
        raise AudioInputError(f"{name} does not exist")
    try:
        with soundfile.SoundFile(source) as f:
            if f.frames > MAX_DURATION_S * f.samplerate:
                raise AudioInputError(
                    f"the audio is {f.frames / f.samplerate:.0f} s long; at most {MAX_DURATION_S:.0f} s is accepted"
                )
            samples = f.read(dtype="float32", always_2d=True)
            sample_rate = f.samplerate
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioInputError(f"{name} is not readable audio ({_first_line(error)})") from None
    return to_mono_16k(samples, sample_rate)


def is_silent(audio: np.ndarray) -> bool:
    """True when there is nothing to hear at all (digital silence or a constant offset)."""
    return audio.size == 0 or float(np.max(np.abs(audio - np.median(audio)))) < _SILENCE_PEAK


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
