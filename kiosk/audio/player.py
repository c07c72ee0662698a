"""Playback that starts on the first synthesised sentence: ``Player`` hands sentences to
PortAudio's callback as they arrive, resampled to the device's rate.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterable

import numpy as np
import soxr

from kiosk.audio.devices import POLL_S, AudioDeviceError, close_stream, open_stream, portaudio
from kiosk.audio.listener import AudioSettings, Listener
from tts import SpeechChunk

log = logging.getLogger(__name__)

# Pause between synthesised sentences, as in the written answers (commands.write_wav).
_SENTENCE_PAUSE_S = 0.25

class _SampleFeed:
    """Samples handed from the synthesising thread to PortAudio's output callback."""

    def __init__(self) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0  # into the first chunk; only the callback moves it
        self.complete = False  # no more chunks will come

    def put(self, samples: np.ndarray) -> None:
        self._chunks.append(samples)

    def read_into(self, out: np.ndarray) -> int:
        filled = 0
        while filled < out.size and self._chunks:
            head = self._chunks[0]
            n = min(out.size - filled, head.size - self._offset)
            out[filled:filled + n] = head[self._offset:self._offset + n]
            filled += n
            self._offset += n
            if self._offset == head.size:
                self._chunks.popleft()
                self._offset = 0
        return filled

    @property
    def drained(self) -> bool:
        return self.complete and not self._chunks

class Player:
    """The loudspeaker: plays sentences as they are synthesised; ``stop`` cuts playback at once."""

    def __init__(self, settings: AudioSettings = AudioSettings(), listener: Listener | None = None) -> None:
        self.settings = settings
        self.listener = listener
        self._stop = threading.Event()
        self._playing = threading.Lock()

    def play(self, chunks: Iterable[SpeechChunk]) -> None:
        """Block until every chunk has been heard (or ``stop``); the first plays while later ones are made."""
        sd = portaudio()
        with self._playing:
            self._stop.clear()
            feed = _SampleFeed()
            finished = threading.Event()
            stream = None
            try:
                for chunk in chunks:
                    if self._stop.is_set():
                        break
                    if stream is None:
                        self._mute(math.inf)
                        stream = open_stream(sd, "output", self.settings.output_device,
                                              self._callback_for(sd, feed), finished.set)
                    else:
                        feed.put(np.zeros(round(stream.samplerate * _SENTENCE_PAUSE_S), dtype=np.float32))
                    feed.put(_resample(chunk, int(stream.samplerate)))
                feed.complete = True
                if stream is not None:
                    self._wait_until_heard(stream, feed, finished)
            finally:
                if stream is not None:
                    close_stream(stream, abort=self._stop.is_set())
                    self._mute(time.monotonic() + float(stream.latency) + self.settings.echo_tail_ms / 1000)

    def stop(self) -> None:
        """Interrupt playback now (thread-safe); the rest of the answer is not synthesised."""
        self._stop.set()

    def _callback_for(self, sd, feed: _SampleFeed):
        def callback(outdata, frames, time_info, status) -> None:
            if self._stop.is_set():
                outdata.fill(0)
                raise sd.CallbackAbort
            mono = np.zeros(frames, dtype=np.float32)  # a gap, not a glitch, if synthesis falls behind
            filled = feed.read_into(mono)
            outdata[:] = mono[:, None]
            if filled < frames and feed.drained:
                raise sd.CallbackStop

        return callback

    def _wait_until_heard(self, stream, feed: _SampleFeed, finished: threading.Event) -> None:
        while not finished.wait(POLL_S):
            if self._stop.is_set():
                return
            if not stream.active:
                break
        if not feed.drained and not self._stop.is_set():
            raise AudioDeviceError("the speaker stopped playing (disconnected?)")

    def _mute(self, until: float) -> None:
        if self.listener is not None and self.settings.echo_guard:
            self.listener.mute_until(until)

def _resample(chunk: SpeechChunk, rate: int) -> np.ndarray:
    audio = np.asarray(chunk.audio, dtype=np.float32)
    if chunk.sample_rate == rate:
        return audio
    return soxr.resample(audio, chunk.sample_rate, rate).astype(np.float32, copy=False)

def play(chunks: Iterable[SpeechChunk], settings: AudioSettings = AudioSettings()) -> None:
    """Play speech chunks on the configured output, blocking until done (used by ``kiosk demo``)."""
    Player(settings).play(chunks)
