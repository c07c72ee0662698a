"""faster-whisper engine with the guards a public kiosk needs.

Whisper's known failure modes on short counter utterances are: inventing text in silence
("Thanks for watching"), looping on repeated phrases, and guessing an exotic language for a
short clip. The recognizer has stock ``WhisperModel.transcribe`` trim non-speech with its Silero
VAD and decode each segment on its own (no conditioning on previous text), restricts language
detection to the languages the conversation can be in, and drops segments that look like
hallucinations.

A forced language on Whisper's 30 s window (the kiosk's usual turn) is one stock
``transcribe`` call. Two things stock ``transcribe`` cannot do go through ``asr.fw_internals``,
the one module that touches faster-whisper's internals: detecting the language among the
candidates on the same encoding that is then decoded (stock ``transcribe`` would pick among all
languages and encode twice, about 1.05 s more on 2 threads), and the ``min_window_s`` lever.

Speed: Whisper pads every input to a 30 s window, and on a CPU the encoder is most of the cost
of a short utterance (whisper-base int8, 2 threads: 1.19 s for 30 s, 0.23 s for 10 s);
``min_window_s`` encodes short speech in a window of the speech plus ``window_pad_s`` instead.
It is off by default here: short hard clips are fragile with it (resampled or quieter copies of
two 2.3 s Mandarin clips: worst CER 1.0, an empty transcript, against 0.14 with the 30 s window).
``short_window_from_s`` keeps it to utterances at least that long, where it held on a perturbed
set (``kiosk.measure.asr_levers``; the kiosk uses 3.5 s), and a short decode that keeps nothing
is decoded again on the 30 s window. See README, "Speed".
"""

from __future__ import annotations

import logging
import math
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.vad import VadOptions

from asr import SAMPLE_RATE, RecognitionTimeout, Segment, Task, Transcript, fw_internals
from asr.audio import is_silent
from text.normalise import match_key

log = logging.getLogger(__name__)


class RecognizerError(RuntimeError):
    """The recognizer cannot run (model missing or corrupt); the message names the model dir."""


@dataclass(frozen=True)
class WhisperOptions:
    """How to load and decode; the guard thresholds are faster-whisper's own where it has them."""

    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    # At most one fallback: each fallback decodes the window again (5 samples at temperature > 0).
    temperatures: tuple[float, ...] = (0.0, 0.4)
    # The budget of one recognition, tied to the audio's length (README, "Bounded recognition").
    # Token cap per 30 s window: max_tokens_per_s x duration + token_headroom (None: no cap). The
    # reference texts of the shared clips need 2.0-7.1 tokens per second of audio in en, ko, zh, ja,
    # ru, vi and uz, 8.0 in ne, 10.8 in th and 20.4 in km (Khmer script): 24 covers them all.
    max_tokens_per_s: float | None = 24.0
    token_headroom: int = 16
    # Deadline: max(deadline_factor x duration, min_deadline_s) after the call began (None: none).
    deadline_factor: float | None = 3.0
    min_deadline_s: float = 4.0
    # A shorter encoder window for short speech (None: Whisper's own 30 s); see the module doc.
    # Without room after the speech Whisper loops, hence the pad.
    min_window_s: float | None = None
    window_pad_s: float = 2.0
    # The short window only for utterances at least this long (their audio as given, silences
    # included; None: any length): short clips are where it failed (module doc).
    short_window_from_s: float | None = None
    # Detect the language on the encoding that is then decoded (asr.fw_internals). False: stock
    # faster-whisper only, one more encode (about 1 s) when the language is detected, no short window.
    encode_once: bool = True
    # Whisper's own per-window skip rule: no_speech_prob above AND avg_logprob below.
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    # Our per-segment guards, applied after decoding.
    max_segment_no_speech_prob: float = 0.8
    min_segment_avg_logprob: float = -1.5
    vad: VadOptions = field(default_factory=lambda: VadOptions(min_silence_duration_ms=500, speech_pad_ms=200))
    # Whisper writes Mandarin mostly in Traditional characters; residents from the mainland read Simplified.
    chinese_script: str | None = "simplified"
    hallucinations: Mapping[str, frozenset[str]] = field(default_factory=dict)


def load_hallucinations(path: Path) -> dict[str, frozenset[str]]:
    """Each language's known hallucinations, as ``text.normalise.match_key`` keys (how segments are compared)."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    return {lang: frozenset(match_key(p) for p in phrases) for lang, phrases in raw.items()}


# Whisper's max_length (448) less the prompt without timestamps or previous text (4 tokens).
_MAX_NEW_TOKENS = 444


class _Budget:
    """Watches the segments as they are decoded: past the deadline no more are consumed."""

    def __init__(self, started: float, deadline_s: float | None, cap: int | None) -> None:
        self.started, self.deadline_s, self.cap = started, deadline_s, cap
        self.capped = False  # a segment ran into the token cap

    def watch(self, segments):
        for s in segments:
            if self.cap is not None and len(s.tokens) >= self.cap:
                self.capped = True
            elapsed = time.monotonic() - self.started
            if self.deadline_s is not None and elapsed > self.deadline_s:
                raise RecognitionTimeout(
                    f"recognition took {elapsed:.1f} s, over its deadline of {self.deadline_s:.1f} s")
            yield s


def _best_among(ranked: Iterable[tuple[str, float]], allowed: frozenset[str]) -> tuple[str, float]:
    """The most probable of ``allowed`` in (language, probability) pairs, its probability renormalised over them."""
    probabilities = {lang: p for lang, p in ranked if lang in allowed}
    best = max(probabilities, key=probabilities.__getitem__)
    return best, probabilities[best] / (sum(probabilities.values()) or 1.0)


class WhisperRecognizer:
    """A faster-whisper model, loaded once and kept; call from one worker thread."""

    def __init__(self, model_dir: Path, options: WhisperOptions = WhisperOptions()) -> None:
        self.model_dir = Path(model_dir)
        self.options = options
        try:
            self._model = WhisperModel(
                str(self.model_dir),
                device="cpu",
                compute_type=options.compute_type,
                cpu_threads=options.cpu_threads,
                local_files_only=True,
            )
        except Exception as error:  # ctranslate2/tokenizers raise RuntimeError, ValueError, OSError...
            raise RecognizerError(f"cannot load the Whisper model in {self.model_dir}: {error}") from None
        self.languages = frozenset(self._model.supported_languages)
        self._to_simplified = None
        if options.chinese_script == "simplified":
            import opencc

            self._to_simplified = opencc.OpenCC("t2s")

    @property
    def model(self) -> WhisperModel:
        """The loaded faster-whisper model (the bench measures stock calls on it)."""
        return self._model

    def transcribe_options(self, task: Task = "transcribe", duration_s: float | None = None) -> dict[str, Any]:
        """The keywords (all but ``language``) the recognizer gives stock ``WhisperModel.transcribe``:
        the kiosk's beam, fallback temperatures, thresholds and VAD, no conditioning on previous
        text, no timestamp tokens, and with ``duration_s`` the token cap (``max_new_tokens``);
        faster-whisper's own defaults for the rest."""
        o = self.options
        kwargs = {
            "task": task, "beam_size": o.beam_size, "temperature": list(o.temperatures),
            "compression_ratio_threshold": o.compression_ratio_threshold, "log_prob_threshold": o.log_prob_threshold,
            "no_speech_threshold": o.no_speech_threshold, "condition_on_previous_text": False,
            "without_timestamps": True, "vad_filter": True, "vad_parameters": o.vad,
        }
        cap = self.token_cap(duration_s) if duration_s is not None else None
        if cap is not None:
            kwargs["max_new_tokens"] = cap
        return kwargs

    def token_cap(self, duration_s: float) -> int | None:
        """Most tokens decoded per 30 s window of ``duration_s`` of audio (None: Whisper's own 448)."""
        o = self.options
        if o.max_tokens_per_s is None:
            return None
        window = min(duration_s, 30.0)
        return min(_MAX_NEW_TOKENS, math.ceil(o.max_tokens_per_s * window) + o.token_headroom)

    def deadline_s(self, duration_s: float) -> float | None:
        """Seconds one recognition of ``duration_s`` of audio may take (None: no deadline)."""
        o = self.options
        return None if o.deadline_factor is None else max(o.deadline_factor * duration_s, o.min_deadline_s)

    def warm_up(self) -> None:
        """One decode of a short tone, so the first real turn does not pay for lazy allocations."""
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32)
        segments, _ = self._model.transcribe(tone, language="en", **(self.transcribe_options() | {"vad_filter": False}))
        for _ in segments:
            pass

    def detect_language(self, audio: np.ndarray, candidates: Iterable[str] | None = None) -> tuple[str, float]:
        """The most likely language of the speech in ``audio`` among ``candidates`` (all of Whisper's if None).

        The probability is renormalised over the candidates, so it reads as "how sure,
        given that it is one of these". Stock ``WhisperModel.detect_language``, one encode of its
        own; ``transcribe`` detects on the encoding it then decodes.
        """
        allowed = self._check_languages(candidates) if candidates is not None else self.languages
        _, _, ranked = self._model.detect_language(audio=audio, vad_filter=True, vad_parameters=self.options.vad)
        return _best_among(ranked, allowed)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        candidates: Iterable[str] | None = None,
        task: Task = "transcribe",
    ) -> Transcript:
        started = time.monotonic()
        duration = audio.size / SAMPLE_RATE
        if language is not None:
            self._check_languages([language])
            allowed = None
        else:
            allowed = self._check_languages(candidates) if candidates is not None else self.languages
        empty = Transcript("", language or "", 0.0, (), duration, task)
        if is_silent(audio):
            return empty
        o = self.options
        short_window = o.min_window_s is not None and (o.short_window_from_s is None or duration >= o.short_window_from_s)
        budget = _Budget(started, self.deadline_s(duration), self.token_cap(duration))
        decoded = self._decode(audio, language, allowed, task, o.min_window_s if short_window else None, budget)
        if short_window and decoded is not None and not decoded[2]:
            # The short window heard nothing where the VAD found speech: Whisper's own window decides
            # (the short window's known failure is an empty or dropped transcript; README "Speed").
            log.info("the short window kept nothing; decoding again on the 30 s window")
            budget.capped = False
            decoded = self._decode(audio, language, allowed, task, None, budget)
        if decoded is None:
            return empty
        language, probability, kept = decoded
        text = "".join(s.text for s in kept).strip()
        if not text and budget.capped:
            raise RecognitionTimeout(f"the decoder reached its cap of {budget.cap} tokens and kept nothing")
        return Transcript(text, language, probability, kept, duration, task)

    def _decode(self, audio: np.ndarray, language: str | None, allowed: frozenset[str] | None, task: Task,
                min_window_s: float | None, budget: _Budget) -> tuple[str, float, tuple[Segment, ...]] | None:
        """One decode: (language, probability, the segments the guards kept), or None when the VAD
        finds no speech."""
        o, kwargs = self.options, self.transcribe_options(task, audio.size / SAMPLE_RATE)
        if not o.encode_once or (language is not None and min_window_s is None):
            # Stock faster-whisper; a detected language costs one more encode here.
            probability = 1.0
            if language is None:
                language, probability = self.detect_language(audio, allowed)
            segments, info = self._model.transcribe(audio, language=language, **kwargs)
            if info.duration_after_vad == 0:
                return None
        else:
            # Detection among the candidates on the encoding that is decoded, or the short window.
            encoded = fw_internals.encode_once(
                self._model, audio, language=language, pick_language=lambda ranked: _best_among(ranked, allowed),
                min_window_s=min_window_s, window_pad_s=o.window_pad_s, transcribe_kwargs=kwargs)
            if encoded is None:
                return None
            language, probability, segments = encoded.language, encoded.probability, encoded.segments
        output_language = "en" if task == "translate" else language
        return language, probability, tuple(self._guarded(budget.watch(segments), output_language))

    def _guarded(self, segments, language: str):
        known = self.options.hallucinations.get(language, frozenset())
        for s in segments:
            text = s.text
            if s.no_speech_prob > self.options.max_segment_no_speech_prob:
                reason = "no-speech"
            elif s.avg_logprob < self.options.min_segment_avg_logprob:
                reason = "low-confidence"
            elif s.compression_ratio > self.options.compression_ratio_threshold:
                reason = "repetition"
            elif match_key(text) in known or not match_key(text):
                reason = "known-hallucination"
            else:
                reason = None
            if reason:
                log.info("dropped a segment: %s", reason)
                continue
            if language == "zh" and self._to_simplified is not None:
                text = self._to_simplified.convert(text)
            yield Segment(s.start, s.end, text, s.avg_logprob, s.no_speech_prob, s.compression_ratio)

    def _check_languages(self, codes: Iterable[str]) -> frozenset[str]:
        chosen = frozenset(codes)
        unknown = chosen - self.languages
        if unknown or not chosen:
            raise ValueError(f"Whisper does not recognise language code(s): {', '.join(sorted(unknown)) or '(none)'}")
        return chosen
