"""Live audio through PortAudio (sounddevice): capture with end-of-speech detection, playback
that starts on the first sentence, an echo guard, and recovery when a device disappears.

Capture runs on PortAudio's callback thread, which only queues blocks at the device's own
rate. ``Listener.listen`` (on a worker thread) resamples them to 16 kHz with soxr, runs
faster-whisper's Silero VAD frame by frame with its state carried over, and decides where an
utterance starts and ends. ``Player`` hands sentences to PortAudio's callback as they are
synthesised. Audio lives only in the returned utterance; logs carry device names and timings,
never sound or text.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import soxr

from asr import SAMPLE_RATE
from kiosk.audio.devices import BLOCK_S, POLL_S, AudioDeviceError, close_stream, open_stream, portaudio

log = logging.getLogger(__name__)

Mode = Literal["hands-free", "push-to-talk"]

Hint = Literal["ok", "too-quiet", "clipping"]

# Meter readings gather capture blocks, 20 a second.
_LEVEL_S = 0.05

# Silero's window at 16 kHz and the samples of the previous window it sees with each one.
_VAD_FRAME = 512

_VAD_CONTEXT = 64

# faster-whisper's VadOptions defaults: speech at or above 0.5, silence below 0.5 - 0.15.
_SPEECH_PROB = 0.5

_SILENCE_PROB = 0.35

# A shorter burst (a click, a door) does not make a turn; a short "네" or "yes" still does.
_MIN_SPEECH_MS = 150

# Silence kept after the last speech frame, as the recognizer's own VAD pads segments.
_TAIL_PAD_MS = 200

_CLIP_PEAK = 0.99

# Speech quieter than this (RMS over the last half second of speech) is hard to recognise.
_QUIET_DBFS = -40.0

_FLOOR_DBFS = -100.0

_QUIET_READINGS = 10

# A freshly opened device may take a moment to deliver: an idle PulseAudio sink sleeps up to 2 s.
_FIRST_AUDIO_TIMEOUT_S = 5.0

# An open stream that delivers nothing for this long has lost its device.
_STALL_S = 2.0

# Capture kept while nobody listens; the oldest blocks are dropped, the newest are the pre-roll.
_QUEUE_S = 5.0

_RETRY_FIRST_S = 0.5

_RETRY_MAX_S = 8.0

# After `released`, blocks captured up to that moment are still taken, for at most this long.
_RELEASE_GRACE_S = 0.5

@dataclass(frozen=True)
class AudioSettings:
    input_device: str | None = None  # device name (or a unique part of it); None = system default
    output_device: str | None = None
    mode: Mode = "hands-free"
    end_silence_ms: int = 600
    # After this much silence the utterance so far is offered for a head start (0: never);
    # see kiosk.turn.pipeline.HeadStart.
    head_start_ms: int = 200
    pre_roll_ms: int = 300
    max_utterance_s: float = 30.0
    echo_guard: bool = True
    echo_tail_ms: int = 300

    def __post_init__(self) -> None:
        if self.mode not in ("hands-free", "push-to-talk"):
            raise ValueError(f"mode must be 'hands-free' or 'push-to-talk', got {self.mode!r}")
        if self.end_silence_ms < 100 or self.pre_roll_ms < 0 or self.echo_tail_ms < 0:
            raise ValueError("end_silence_ms must be at least 100; pre_roll_ms and echo_tail_ms at least 0")
        # A pause shorter than the tail kept after speech would offer audio that the final utterance extends.
        if self.head_start_ms and not _TAIL_PAD_MS <= self.head_start_ms < self.end_silence_ms:
            raise ValueError(f"head_start_ms must be 0, or from {_TAIL_PAD_MS} to less than end_silence_ms; "
                             f"got {self.head_start_ms}")
        if not 1.0 <= self.max_utterance_s <= 600.0:
            raise ValueError(f"max_utterance_s must be between 1 and 600, got {self.max_utterance_s}")

@dataclass(frozen=True)
class Level:
    """One meter reading, about 20 a second while listening."""

    rms_dbfs: float
    peak: float  # 0..1
    hint: Hint

@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # 16 kHz mono float32
    speech_ended_at: float  # time.monotonic() of the last speech sample
    truncated: bool  # closed by max_utterance_s

class _Capture:
    """An open input stream whose PortAudio callback queues (mono block, time of its last sample)."""

    def __init__(self, device_name: str | None) -> None:
        self.device_name = device_name
        self._queue: queue.Queue[tuple[np.ndarray, float]] = queue.Queue(maxsize=round(_QUEUE_S / BLOCK_S))
        self._first_audio = threading.Event()
        self._last_block_at = 0.0
        self._input_delay_s = 0.0  # the callback may run before the stream's latency is known
        self._closed = False
        self._closing = threading.Lock()  # the worker (device lost) and the GUI (close) may race
        self._stream = open_stream(portaudio(), "input", device_name, self._on_block)
        self.rate = int(self._stream.samplerate)
        # PortAudio's estimate of how long a sample takes from the microphone to the callback.
        self._input_delay_s = float(self._stream.latency)
        if not self._first_audio.wait(_FIRST_AUDIO_TIMEOUT_S):
            self.close()
            raise AudioDeviceError(f"the microphone gives no sound ({_FIRST_AUDIO_TIMEOUT_S:.0f} s after opening it)")

    def _on_block(self, indata, frames, time_info, status) -> None:
        now = time.monotonic()
        block = indata.mean(axis=1, dtype=np.float32) if indata.shape[1] > 1 else indata[:, 0].copy()
        item = (block, now - self._input_delay_s)
        self._last_block_at = now
        try:
            self._queue.put_nowait(item)
        except queue.Full:  # nobody is listening: keep the newest sound, which becomes the pre-roll
            with suppress(queue.Empty):
                self._queue.get_nowait()
            with suppress(queue.Full):
                self._queue.put_nowait(item)
        self._first_audio.set()

    def get(self, timeout: float) -> tuple[np.ndarray, float] | None:
        """The next block, or None when none came in time; raises AudioDeviceError if the device is gone."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            self.check()
            return None

    def recent(self, seconds: float) -> list[tuple[np.ndarray, float]]:
        """Empty the queue, keeping only its newest ``seconds`` of sound (captured before anyone listened)."""
        items = []
        with suppress(queue.Empty):
            while True:
                items.append(self._queue.get_nowait())
        return items[-math.ceil(seconds / BLOCK_S):] if seconds > 0 else []

    def check(self) -> None:
        if self._closed:
            return
        if not self._stream.active or time.monotonic() - self._last_block_at > _STALL_S:
            raise AudioDeviceError("the microphone stopped delivering sound (disconnected?)")

    def close(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
        close_stream(self._stream, abort=True)

class StreamingVad:
    """faster-whisper's Silero VAD run one 32 ms frame at a time, its recurrent state carried over.

    Fed frame by frame this gives the same probabilities as ``SileroVADModel`` on the whole clip.
    """

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_VAD_CONTEXT, dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        window = np.concatenate([self._context, frame])[None, :]
        prob, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = frame[-_VAD_CONTEXT:]
        return float(np.asarray(prob).reshape(-1)[0])

class Segmenter:
    """Turns native-rate blocks into one utterance: resample, VAD per frame, pre-roll, end of speech.

    Hands-free records from the first speech frame (plus the pre-roll) until ``end_silence_ms``
    of silence; push-to-talk records everything and only tracks where speech was.
    """

    def __init__(self, settings: AudioSettings, rate: int, vad: StreamingVad) -> None:
        self.settings = settings
        self._rate = rate
        self._vad = vad
        self._end_silence_frames = math.ceil(settings.end_silence_ms * SAMPLE_RATE / 1000 / _VAD_FRAME)
        self._pause_frames = math.ceil(settings.head_start_ms * SAMPLE_RATE / 1000 / _VAD_FRAME)
        self._min_speech_frames = math.ceil(_MIN_SPEECH_MS * SAMPLE_RATE / 1000 / _VAD_FRAME)
        self._pre_roll_frames = math.ceil(settings.pre_roll_ms * SAMPLE_RATE / 1000 / _VAD_FRAME)
        self._max_samples = int(settings.max_utterance_s * SAMPLE_RATE)
        self.reset()

    def reset(self) -> None:
        """Forget everything heard (after muted sound, the resampler and VAD start afresh too)."""
        self._resampler = soxr.ResampleStream(self._rate, SAMPLE_RATE, 1, dtype="float32") if self._rate != SAMPLE_RATE else None
        self._samples_in = self._samples_out = 0
        self._vad.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._pre_roll: deque[np.ndarray] = deque(maxlen=self._pre_roll_frames + 1)  # + the frame that starts speech
        self._frames: list[np.ndarray] = []
        self._recording = self.settings.mode == "push-to-talk"
        self._speech_frames = 0
        self._silent_frames = 0
        self._last_speech: tuple[int, float] | None = None  # (samples recorded, time) at the last speech frame
        self._truncated = False
        self._paused = False

    @property
    def speech_begun(self) -> bool:
        return self._speech_frames > 0

    @property
    def in_speech(self) -> bool:
        return self._speech_frames > 0 and self._silent_frames == 0

    def push(self, block: np.ndarray, last_sample_at: float) -> bool:
        """Add one captured block; True when the utterance is complete (see ``result``)."""
        samples = self._to_16k(block)
        # The resampler holds back a few samples; the newest one out is older than the block's end.
        lag_s = (self._samples_in * SAMPLE_RATE / self._rate - self._samples_out) / SAMPLE_RATE
        self._pending = np.concatenate([self._pending, samples])
        whole = self._pending.size // _VAD_FRAME * _VAD_FRAME
        for start in range(0, whole, _VAD_FRAME):
            frame_end_at = last_sample_at - lag_s - (self._pending.size - start - _VAD_FRAME) / SAMPLE_RATE
            if self._add_frame(self._pending[start:start + _VAD_FRAME], frame_end_at):
                return True
        self._pending = self._pending[whole:]
        return False

    def _to_16k(self, block: np.ndarray) -> np.ndarray:
        self._samples_in += block.size
        samples = block if self._resampler is None else self._resampler.resample_chunk(block)
        self._samples_out += samples.size
        return samples

    def _add_frame(self, frame: np.ndarray, frame_end_at: float) -> bool:
        prob = self._vad(frame)
        # Hysteresis as in Silero's own segmentation: once speaking, only a clear dip starts a silence.
        speech = prob >= _SPEECH_PROB or (self.in_speech and prob >= _SILENCE_PROB)
        if self._recording:
            self._frames.append(frame)
        else:
            self._pre_roll.append(frame)
            if speech:
                self._recording = True
                self._frames = list(self._pre_roll)
        if speech:
            self._speech_frames += 1
            self._silent_frames = 0
            self._last_speech = (len(self._frames) * _VAD_FRAME, frame_end_at)
        elif self._speech_frames:
            self._silent_frames += 1

        if len(self._frames) * _VAD_FRAME >= self._max_samples:
            self._truncated = True
            self._last_speech = (len(self._frames) * _VAD_FRAME, frame_end_at)
            return True
        if (self.settings.mode == "hands-free" and self._pause_frames and self._silent_frames == self._pause_frames
                and self._speech_frames >= self._min_speech_frames):
            self._paused = True
        if self.settings.mode == "hands-free" and self._silent_frames >= self._end_silence_frames:
            if self._speech_frames >= self._min_speech_frames:
                return True
            # Too short to be speech: go back to waiting, keeping the latest sound as pre-roll.
            recent = self._frames[-self._pre_roll.maxlen:]
            self._back_to_waiting()
            self._pre_roll.extend(recent)
        return False

    def take_pause(self) -> bool:
        """True once for each pause of ``head_start_ms`` after enough speech (hands-free only)."""
        paused, self._paused = self._paused, False
        return paused

    def _back_to_waiting(self) -> None:
        """Back to waiting for speech without losing the resampler's and VAD's continuity."""
        self._frames = []
        self._pre_roll.clear()
        self._recording = self.settings.mode == "push-to-talk"
        self._speech_frames = self._silent_frames = 0
        self._last_speech = None

    def result(self) -> Utterance | None:
        """The utterance heard so far, or None when it holds no speech."""
        if self._last_speech is None or self._speech_frames < self._min_speech_frames:
            return None
        end, ended_at = self._last_speech
        if self.settings.mode == "hands-free":
            end = min(len(self._frames) * _VAD_FRAME, end + _TAIL_PAD_MS * SAMPLE_RATE // 1000)
        else:
            end = len(self._frames) * _VAD_FRAME
        audio = np.concatenate(self._frames)[:end] if self._frames else np.zeros(0, dtype=np.float32)
        return Utterance(audio=audio.astype(np.float32, copy=False), speech_ended_at=ended_at, truncated=self._truncated)

class _LevelMeter:
    """Meter readings with a hint: clipping on any full-scale sample, too quiet when half a second
    of speech stayed low (judged on speech only: a quiet room is not a quiet speaker)."""

    def __init__(self, rate: int) -> None:
        self._reading_samples = round(rate * _LEVEL_S)
        self._speech_dbfs: deque[float] = deque(maxlen=_QUIET_READINGS)
        self._start_reading()

    def _start_reading(self) -> None:
        self._sum_squares = 0.0
        self._samples = 0
        self._peak = 0.0
        self._speech = False

    def add(self, block: np.ndarray, in_speech: bool) -> Level | None:
        """Take one captured block; returns a reading once ``_LEVEL_S`` of sound is in."""
        if block.size:
            self._sum_squares += float(np.square(block, dtype=np.float64).sum())
            self._samples += block.size
            self._peak = max(self._peak, float(np.max(np.abs(block))))
        self._speech = self._speech or in_speech
        if self._samples < self._reading_samples:
            return None
        rms = math.sqrt(self._sum_squares / self._samples)
        dbfs = max(_FLOOR_DBFS, 20 * math.log10(rms)) if rms > 0 else _FLOOR_DBFS
        peak, speech = min(1.0, self._peak), self._speech
        self._start_reading()
        if speech:
            self._speech_dbfs.append(dbfs)
        if peak >= _CLIP_PEAK:
            hint: Hint = "clipping"
        elif speech and len(self._speech_dbfs) == self._speech_dbfs.maxlen and max(self._speech_dbfs) < _QUIET_DBFS:
            hint = "too-quiet"
        else:
            hint = "ok"
        return Level(round(dbfs, 1), round(peak, 4), hint)

class Listener:
    """The microphone: ``listen`` returns one utterance at a time (call it from a worker thread).

    The stream opens on the first ``listen`` (or ``start``) and stays open, so the pre-roll can
    hold sound from just before a push-to-talk press. ``settings`` may be replaced between
    listens; another input device is opened on the next one.
    """

    def __init__(self, settings: AudioSettings = AudioSettings(), on_level: Callable[[Level], None] | None = None) -> None:
        self.settings = settings
        self.on_level = on_level
        # Why the microphone is unusable right now, for the staff status line; None when it works.
        self.device_error: str | None = None
        self._capture: _Capture | None = None
        self._vad: StreamingVad | None = None
        self._muted_until = 0.0
        self._closed = threading.Event()
        self._listening = threading.Lock()
        self._retry_s = 0.0
        self._retry_at = 0.0

    def start(self) -> None:
        """Open the microphone now (after any back-off) and wait until sound flows; ``listen`` does
        this when needed. Raises AudioDeviceError as ``listen`` does."""
        with self._listening:
            if self._wait_for_retry(self._closed.is_set, None):
                self._ensure_capture()

    def listen(self, cancel: threading.Event | None = None, released: threading.Event | None = None,
               timeout_s: float | None = None,
               on_pause: Callable[[Utterance], None] | None = None) -> Utterance | None:
        """Block until one utterance is complete.

        Hands-free: from the first speech (with the pre-roll) until ``end_silence_ms`` of
        silence. Push-to-talk: everything until ``released`` is set (which also ends a
        hands-free utterance early: "tap to stop"). Both close at
        ``max_utterance_s`` (``truncated``). None on cancel, on ``close``, when no speech began
        within ``timeout_s``, or when a push-to-talk recording holds no speech. Raises
        AudioDeviceError when the device is lost; a later call reopens it, after a back-off.
        ``on_pause`` (hands-free) is called, on this thread, with the utterance so far at each
        pause of ``head_start_ms``; if no speech follows, ``listen`` returns that same audio.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s

        def given_up() -> bool:
            return self._closed.is_set() or (cancel is not None and cancel.is_set())

        with self._listening:
            if not self._wait_for_retry(given_up, deadline):
                return None
            capture = self._ensure_capture()
            if self._vad is None:
                self._vad = StreamingVad()
            segmenter = Segmenter(self.settings, capture.rate, self._vad)
            meter = _LevelMeter(capture.rate)
            backlog = capture.recent(self.settings.pre_roll_ms / 1000)
            released_at = None
            muted = False
            while not given_up():
                if released is not None and released_at is None and released.is_set():
                    released_at = time.monotonic()
                if released_at is not None and time.monotonic() > released_at + _RELEASE_GRACE_S:
                    return segmenter.result()
                if not segmenter.speech_begun and deadline is not None and time.monotonic() >= deadline:
                    return None
                try:
                    item = backlog.pop(0) if backlog else capture.get(POLL_S)
                except AudioDeviceError as error:
                    self._lost(error)
                    raise
                if item is None:
                    continue
                block, last_sample_at = item
                if released_at is not None and last_sample_at >= released_at:
                    return segmenter.result()
                if last_sample_at < self._muted_until:
                    if not muted:  # what was heard so far may already hold the kiosk's own voice
                        segmenter.reset()
                    muted = True
                    self._report(meter.add(np.zeros_like(block), in_speech=False))
                    continue
                muted = False
                complete = segmenter.push(block, last_sample_at)
                self._report(meter.add(block, segmenter.in_speech))
                if complete:
                    return segmenter.result()
                if segmenter.take_pause() and on_pause is not None:
                    so_far = segmenter.result()
                    if so_far is not None:
                        on_pause(so_far)
            return None

    def mute_until(self, t_monotonic: float) -> None:
        """Echo guard: discard sound captured before ``t_monotonic`` (``math.inf`` until told otherwise)."""
        self._muted_until = t_monotonic

    def close(self) -> None:
        """Release the microphone; a running ``listen`` returns None and later ones do too."""
        self._closed.set()
        if self._capture is not None:
            self._capture.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _report(self, level: Level | None) -> None:
        if level is not None and self.on_level is not None:
            self.on_level(level)

    def _ensure_capture(self) -> _Capture:
        capture = self._capture
        if capture is not None and capture.device_name != self.settings.input_device:
            capture.close()
            capture = self._capture = None
        if capture is not None:
            try:
                capture.check()
                return capture
            except AudioDeviceError:  # lost while nobody listened: try to reopen at once
                capture.close()
                self._capture = None
        try:
            self._capture = _Capture(self.settings.input_device)
        except AudioDeviceError as error:
            self._lost(error)
            raise
        if self._closed.is_set():  # closed from another thread while opening: do not hold the device
            self._capture.close()
        self._retry_s = 0.0
        self.device_error = None
        return self._capture

    def _lost(self, error: AudioDeviceError) -> None:
        if self._capture is not None:
            self._capture.close()
            self._capture = None
        self._retry_s = min(_RETRY_MAX_S, max(_RETRY_FIRST_S, self._retry_s * 2))
        self._retry_at = time.monotonic() + self._retry_s
        self.device_error = str(error)
        # Info, not warning: the caller shows the error itself (staff status line, CLI message).
        log.info("microphone unavailable (%s); retrying in %.1f s", error, self._retry_s)

    def _wait_for_retry(self, given_up: Callable[[], bool], deadline: float | None) -> bool:
        """Sit out the back-off after a device failure; False when cancelled or out of time first."""
        while time.monotonic() < self._retry_at:
            if given_up() or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(POLL_S)
        return not given_up()
