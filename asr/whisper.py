"""faster-whisper engine with the guards a public kiosk needs.

Whisper's known failure modes on short counter utterances are: inventing text in silence
("Thanks for watching"), looping on repeated phrases, and guessing an exotic language for a
short clip. The recognizer trims non-speech with faster-whisper's Silero VAD first, restricts
language detection to the languages the conversation can be in, decodes each segment on its
own (no conditioning on previous text) and drops segments that look like hallucinations.

Speed: the recognizer encodes the audio once and uses that encoding for language detection
too. Whisper pads every input to a 30 s window, and on a CPU the encoder is most of the cost of
a short utterance (whisper-base int8, 2 threads: 1.19 s for 30 s, 0.23 s for 10 s);
``min_window_s`` encodes short speech in a window of the speech plus ``window_pad_s`` instead.
It is off by default: on the test clips its mean error rates matched the 30 s window, but short
hard clips became fragile (resampled or quieter copies of two 2.3 s Mandarin clips: worst CER
1.0, an empty transcript, against 0.14 with the 30 s window). See README, "Speed".
"""

from __future__ import annotations

import logging
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import ctranslate2
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

from asr import SAMPLE_RATE, Segment, Task, Transcript
from asr.audio import is_silent

log = logging.getLogger(__name__)


class RecognizerError(RuntimeError):
    """The recognizer cannot run (model missing or corrupt); the message names the model dir."""


@dataclass(frozen=True)
class WhisperOptions:
    """How to load and decode; the guard thresholds are faster-whisper's own where it has them."""

    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)
    # A shorter encoder window for short speech (None: Whisper's own 30 s); see the module doc.
    # Without room after the speech Whisper loops, hence the pad.
    min_window_s: float | None = None
    window_pad_s: float = 2.0
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


def normalise_phrase(text: str) -> str:
    """NFC, casefold, without punctuation, symbols or spaces: how hallucinations are compared."""
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")


def load_hallucinations(path: Path) -> dict[str, frozenset[str]]:
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    return {lang: frozenset(normalise_phrase(p) for p in phrases) for lang, phrases in raw.items()}


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
        self._decoding_for: WhisperOptions | None = None
        self._to_simplified = None
        if options.chinese_script == "simplified":
            import opencc

            self._to_simplified = opencc.OpenCC("t2s")

    @property
    def decoding(self) -> TranscriptionOptions:
        """faster-whisper's ``transcribe`` defaults, with the kiosk's beam, fallback and thresholds
        (built again when ``options`` is replaced)."""
        if self._decoding_for is not self.options:
            self._decoding_options, self._decoding_for = self._build_decoding(self.options), self.options
        return self._decoding_options

    def _build_decoding(self, o: WhisperOptions) -> TranscriptionOptions:
        tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language="en")
        return TranscriptionOptions(
            beam_size=o.beam_size, best_of=5, patience=1.0, length_penalty=1.0, repetition_penalty=1.0,
            no_repeat_ngram_size=0, log_prob_threshold=o.log_prob_threshold, no_speech_threshold=o.no_speech_threshold,
            compression_ratio_threshold=o.compression_ratio_threshold, condition_on_previous_text=False,
            prompt_reset_on_temperature=0.5, temperatures=list(o.temperatures), initial_prompt=None, prefix=None,
            suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]), without_timestamps=True,
            max_initial_timestamp=1.0, word_timestamps=False, prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、", multilingual=False, max_new_tokens=None,
            clip_timestamps=[0.0], hallucination_silence_threshold=None, hotwords=None,
        )

    def warm_up(self) -> None:
        """One decode of a short tone, so the first real turn does not pay for lazy allocations."""
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32)
        features = self._model.feature_extractor(tone)
        tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language="en")
        for _ in self._model.generate_segments(features, tokenizer, self.decoding, False,
                                               encoder_output=self._encode_first_window(features)):
            pass

    def detect_language(self, audio: np.ndarray, candidates: Iterable[str] | None = None) -> tuple[str, float]:
        """The most likely language among ``candidates`` (all of Whisper's if None).

        The probability is renormalised over the candidates, so it reads as "how sure,
        given that it is one of these".
        """
        return self._detect(self._encode_first_window(self._model.feature_extractor(audio)), candidates)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        candidates: Iterable[str] | None = None,
        task: Task = "transcribe",
    ) -> Transcript:
        duration = audio.size / SAMPLE_RATE
        if language is not None:
            self._check_languages([language])
        speech = self._speech_only(audio)
        if speech is None:
            return Transcript("", language or "", 0.0, (), duration, task)
        features = self._model.feature_extractor(speech)
        encoder_output = self._encode_first_window(features)
        if language is None:
            language, probability = self._detect(encoder_output, candidates)
        else:
            probability = 1.0
        tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, task=task, language=language)
        segments = self._model.generate_segments(features, tokenizer, self.decoding, False, encoder_output=encoder_output)
        output_language = "en" if task == "translate" else language
        kept = tuple(self._guarded(segments, output_language))
        text = "".join(s.text for s in kept).strip()
        return Transcript(text, language, probability, kept, duration, task)

    def window_frames(self, content_frames: int) -> int:
        """Mel frames the first window is encoded with (Whisper's 30 s window is 3000)."""
        full = self._model.feature_extractor.nb_max_frames
        if self.options.min_window_s is None:
            return full
        per_second = self._model.frames_per_second
        frames = max(content_frames + round(self.options.window_pad_s * per_second),
                     round(self.options.min_window_s * per_second))
        return min(full, frames + frames % 2)  # the encoder's convolution halves the frames

    def _encode_first_window(self, features: np.ndarray) -> ctranslate2.StorageView:
        # The feature extractor appends one frame past the audio; faster-whisper drops it too.
        content = features[:, : min(features.shape[-1] - 1, self._model.feature_extractor.nb_max_frames)]
        return self._model.encode(pad_or_trim(content, self.window_frames(content.shape[-1])))

    def _detect(self, encoder_output: ctranslate2.StorageView, candidates: Iterable[str] | None) -> tuple[str, float]:
        allowed = self._check_languages(candidates) if candidates is not None else self.languages
        ranked = self._model.model.detect_language(encoder_output)[0]
        probabilities = {token[2:-2]: p for token, p in ranked if token[2:-2] in allowed}
        best = max(probabilities, key=probabilities.__getitem__)
        total = sum(probabilities.values()) or 1.0
        return best, probabilities[best] / total

    def _speech_only(self, audio: np.ndarray) -> np.ndarray | None:
        """The speech parts of ``audio`` joined, or None when VAD finds no speech."""
        if is_silent(audio):
            return None
        spans = get_speech_timestamps(audio, self.options.vad, sampling_rate=SAMPLE_RATE)
        if not spans:
            return None
        chunks, _ = collect_chunks(audio, spans, sampling_rate=SAMPLE_RATE)
        return np.concatenate(chunks)

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
            elif normalise_phrase(text) in known or not normalise_phrase(text):
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
