"""Depends on faster-whisper INTERNALS; checked against faster-whisper 1.2.1 (``CHECKED_AGAINST``).

This is the only module of the project that may touch anything of faster-whisper besides
``WhisperModel(...)``, ``WhisperModel.transcribe``, ``WhisperModel.detect_language``,
``WhisperModel.supported_languages``, the segments ``transcribe`` yields and ``VadOptions``.
What it uses, all of ``faster_whisper`` 1.2.1:

* ``WhisperModel.feature_extractor`` (called, and its ``nb_max_frames``), ``.frames_per_second``,
  ``.encode``, ``.generate_segments``, ``.hf_tokenizer`` and ``.model`` (the ``ctranslate2``
  Whisper: ``is_multilingual`` and its ``detect_language`` on an encoder output);
* ``transcribe.TranscriptionOptions``, ``transcribe.get_suppressed_tokens``,
  ``transcribe.restore_speech_timestamps``, ``tokenizer.Tokenizer``, ``audio.pad_or_trim``,
  ``vad.get_speech_timestamps`` and ``vad.collect_chunks``;
* that ``WhisperModel.transcribe``'s keyword parameters, by name and default, are the fields of
  ``TranscriptionOptions`` (``temperature`` as ``temperatures``), so the options built here are
  the ones ``transcribe`` would build from the same keywords.

Why it exists: stock ``transcribe`` cannot (a) detect the language only among given candidates
(it picks among all of Whisper's), nor (b) reuse the encoding of language detection for decoding
(with ``language=None`` it encodes the 30 s window twice: about 1.05 s more per utterance for
whisper-base int8 on 2 CPU threads), nor (c) encode a window shorter than 30 s (the
``min_window_s`` lever). ``encode_once`` does what stock ``transcribe`` does (VAD, features,
decoding, timestamps put back on the input's clock) with the encoding shared and those two
changes. The recognizer calls it only when the language is detected or ``min_window_s`` is set;
a forced language on the 30 s window goes through stock ``transcribe`` and never comes here.

After a faster-whisper upgrade: compare this module with the new ``transcribe.py``
(``WhisperModel.transcribe`` and ``detect_language``), run tests/test_asr.py (its
``test_detection_on_one_encoding_matches_stock_faster_whisper`` decodes through both), then
update ``CHECKED_AGAINST`` (a test fails until then).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Iterator

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens, restore_speech_timestamps
from faster_whisper.vad import collect_chunks, get_speech_timestamps

CHECKED_AGAINST = "1.2.1"


@dataclasses.dataclass(frozen=True)
class Encoded:
    """What ``encode_once`` decided: the language and how sure, and the segments (lazy)."""

    language: str
    probability: float
    segments: Iterator[Any]  # faster_whisper.transcribe.Segment


def window_frames(model: WhisperModel, content_frames: int, min_window_s: float | None, pad_s: float) -> int:
    """Mel frames the first window is encoded with (Whisper's 30 s window is 3000): Whisper's own
    window when ``min_window_s`` is None, else the speech plus ``pad_s``, at least ``min_window_s``."""
    full = model.feature_extractor.nb_max_frames
    if min_window_s is None:
        return full
    per_second = model.frames_per_second
    frames = max(content_frames + round(pad_s * per_second), round(min_window_s * per_second))
    return min(full, frames + frames % 2)  # the encoder's convolution halves the frames


def encode_once(
    model: WhisperModel,
    audio: np.ndarray,
    *,
    language: str | None,
    pick_language: Callable[[list[tuple[str, float]]], tuple[str, float]],
    min_window_s: float | None,
    window_pad_s: float,
    transcribe_kwargs: dict[str, Any],
) -> Encoded | None:
    """Stock ``model.transcribe(audio, language=language, **transcribe_kwargs)``, but the first
    window is encoded once (in ``window_frames``), and a language that is not given is chosen by
    ``pick_language`` from that encoding's (language, probability) pairs, best first (what
    ``WhisperModel.detect_language`` returns third), as (language, probability).

    None when the VAD (``vad_filter``) finds no speech.
    """
    kwargs = dict(transcribe_kwargs)
    task = kwargs.pop("task", "transcribe")
    vad_filter, vad = kwargs.pop("vad_filter", False), kwargs.pop("vad_parameters", None)
    spans = None
    if vad_filter:
        spans = get_speech_timestamps(audio, vad)
        if not spans:
            return None
        chunks, _ = collect_chunks(audio, spans)
        audio = np.concatenate(chunks)
    features = model.feature_extractor(audio)
    # The feature extractor appends one frame past the audio; generate_segments drops it too.
    content = features[:, : min(features.shape[-1] - 1, model.feature_extractor.nb_max_frames)]
    encoder_output = model.encode(pad_or_trim(content, window_frames(model, content.shape[-1], min_window_s, window_pad_s)))
    if language is None:
        ranked = model.model.detect_language(encoder_output)[0]
        language, probability = pick_language([(token[2:-2], p) for token, p in ranked])  # "<|ko|>" -> "ko"
    else:
        probability = 1.0
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task=task, language=language)
    segments = model.generate_segments(features, tokenizer, _options(tokenizer, kwargs), False, encoder_output=encoder_output)
    if spans:
        segments = restore_speech_timestamps(segments, spans, model.feature_extractor.sampling_rate)
    return Encoded(language, probability, segments)


def _options(tokenizer: Tokenizer, kwargs: dict[str, Any]) -> TranscriptionOptions:
    """The ``TranscriptionOptions`` stock ``transcribe`` builds from these keywords and its defaults."""
    values = {name: p.default for name, p in inspect.signature(WhisperModel.transcribe).parameters.items()
              if p.default is not inspect.Parameter.empty}
    unknown = set(kwargs) - set(values)
    if unknown:
        raise TypeError(f"WhisperModel.transcribe has no parameter(s) {', '.join(sorted(unknown))}")
    values.update(kwargs)
    temperature = values.pop("temperature")
    values["temperatures"] = list(temperature) if isinstance(temperature, (list, tuple)) else [temperature]
    suppress = values["suppress_tokens"]
    values["suppress_tokens"] = get_suppressed_tokens(tokenizer, list(suppress)) if suppress else suppress
    fields = [f.name for f in dataclasses.fields(TranscriptionOptions)]
    missing = [name for name in fields if name not in values]
    if missing:  # faster-whisper changed; see the module doc
        raise RuntimeError(f"TranscriptionOptions field(s) {', '.join(missing)} are not transcribe() parameters "
                           f"(asr/fw_internals.py was checked against faster-whisper {CHECKED_AGAINST})")
    return TranscriptionOptions(**{name: values[name] for name in fields})
