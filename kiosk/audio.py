"""PortAudio playback and device listing (sounddevice). Capture and endpointing come with live audio."""

from __future__ import annotations

import logging
from typing import Iterable

import numpy as np

from tts import SpeechChunk

log = logging.getLogger(__name__)


class AudioDeviceError(RuntimeError):
    """No usable audio device (PortAudio missing, no device, device lost)."""


def _sounddevice():
    try:
        import sounddevice
    except OSError as error:  # libportaudio2 missing
        raise AudioDeviceError(f"PortAudio is not available: {error}") from None
    return sounddevice


def devices() -> list[dict]:
    """Every PortAudio device with its name, channel counts and default rate."""
    sd = _sounddevice()
    try:
        return [dict(d) for d in sd.query_devices()]
    except sd.PortAudioError as error:
        raise AudioDeviceError(str(error)) from None


def play(chunks: Iterable[SpeechChunk]) -> None:
    """Play speech chunks one after another on the default output, blocking until done."""
    sd = _sounddevice()
    try:
        for chunk in chunks:
            sd.play(np.asarray(chunk.audio, dtype=np.float32), chunk.sample_rate, blocking=True)
    except sd.PortAudioError as error:
        raise AudioDeviceError(str(error)) from None
