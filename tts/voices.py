"""Pick the voice for a language: a neural voice (Piper, then Kokoro) first, espeak-ng as the fallback.

The caller says which voices exist (the kiosk reads them from its catalogue);
this module only tries them in order and reports honestly when none works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from . import SpeechUnavailable, Synthesizer, VoiceLoadError
from .espeak import EspeakOptions, EspeakSynthesizer
from .kokoro import KokoroOptions, KokoroSynthesizer, KokoroVoice
from .piper import PiperOptions, PiperSynthesizer

_LOGGER = logging.getLogger(__name__)

# The engines' own defaults (frozen dataclasses, so one instance serves every call).
_PIPER_DEFAULTS, _KOKORO_DEFAULTS, _ESPEAK_DEFAULTS = PiperOptions(), KokoroOptions(), EspeakOptions()


def select_synthesizer(
    language: str,
    piper_models: Mapping[str, Path],
    espeak_voices: Mapping[str, str],
    *,
    kokoro_voices: Mapping[str, KokoroVoice] | None = None,
    piper_options: PiperOptions = _PIPER_DEFAULTS,
    kokoro_options: KokoroOptions = _KOKORO_DEFAULTS,
    espeak_options: EspeakOptions = _ESPEAK_DEFAULTS,
) -> Synthesizer | SpeechUnavailable:
    """The best working voice for ``language``, or why there is none.

    ``piper_models`` maps a language to a Piper ``.onnx`` file (its config beside
    it as ``.onnx.json``); ``kokoro_voices`` maps a language to a Kokoro voice's files;
    ``espeak_voices`` maps a language to an espeak-ng voice name. They are tried in
    that order. A voice that fails to load is logged and skipped, and its reason is kept
    in the ``SpeechUnavailable`` when nothing else works. Each call loads a voice:
    the caller keeps the result.
    """
    candidates: list[tuple[str, Callable[[], Synthesizer]]] = []
    if (model_path := piper_models.get(language)) is not None:
        candidates.append(("piper", lambda: PiperSynthesizer(model_path, language=language, options=piper_options)))
    if (kokoro := (kokoro_voices or {}).get(language)) is not None:
        candidates.append(("kokoro", lambda: KokoroSynthesizer(kokoro, language=language, options=kokoro_options)))
    if (espeak_voice := espeak_voices.get(language)) is not None:
        candidates.append(("espeak-ng", lambda: EspeakSynthesizer(espeak_voice, language, espeak_options)))

    failures: list[str] = []
    for engine, load in candidates:
        try:
            return load()
        except VoiceLoadError as error:
            _LOGGER.warning("%s voice for %s unusable, trying the next: %s", engine, language, error)
            failures.append(str(error))

    if not failures:
        return SpeechUnavailable(language, f"no voice is installed for '{language}'")
    return SpeechUnavailable(language, "; ".join(failures))
