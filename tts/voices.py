"""Pick the voice for a language: a Piper voice first, espeak-ng as the fallback.

The caller says which voices exist (the kiosk reads them from its catalogue);
this module only tries them in order and reports honestly when none works.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from . import SpeechUnavailable, Synthesizer, VoiceLoadError
from .espeak import EspeakOptions, EspeakSynthesizer
from .piper import PiperOptions, PiperSynthesizer

_LOGGER = logging.getLogger(__name__)


def select_synthesizer(
    language: str,
    piper_models: Mapping[str, Path],
    espeak_voices: Mapping[str, str],
    *,
    piper_options: PiperOptions = PiperOptions(),
    espeak_options: EspeakOptions = EspeakOptions(),
) -> Synthesizer | SpeechUnavailable:
    """The best working voice for ``language``, or why there is none.

    ``piper_models`` maps a language to a Piper ``.onnx`` file (its config beside
    it as ``.onnx.json``); ``espeak_voices`` maps a language to an espeak-ng voice
    name. A voice that fails to load is logged and skipped, and its reason is kept
    in the ``SpeechUnavailable`` when nothing else works. Each call loads a voice:
    the caller keeps the result.
    """
    failures: list[str] = []

    model_path = piper_models.get(language)
    if model_path is not None:
        try:
            return PiperSynthesizer(model_path, language=language, options=piper_options)
        except VoiceLoadError as error:
            _LOGGER.warning("piper voice for %s unusable, trying espeak-ng: %s", language, error)
            failures.append(str(error))

    espeak_voice = espeak_voices.get(language)
    if espeak_voice is not None:
        try:
            return EspeakSynthesizer(espeak_voice, language, espeak_options)
        except VoiceLoadError as error:
            _LOGGER.warning("espeak-ng voice for %s unusable: %s", language, error)
            failures.append(str(error))

    if not failures:
        return SpeechUnavailable(language, f"no voice is installed for '{language}'")
    return SpeechUnavailable(language, "; ".join(failures))
