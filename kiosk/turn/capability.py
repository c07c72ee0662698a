"""What a resident can do in each language: speak, speak with less reliable recognition, or type
and choose phrases. Shown, not hidden: on the start tile, in the conversation, in the staff panel,
in `kiosk doctor` and in the About card.

A language's level comes from the recognition error of the ASR model that serves it: the figure
measured on this kiosk (``kiosk eval asr``, ``<model dir>/evaluation-asr.json``) where there is
one, else the figure the catalogue declares for that model (assets/models.toml,
``declared_asr_error``). The thresholds are here and nowhere else (README "Languages" shows them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from kiosk.store import catalog, evaluations
from kiosk.store.models import ModelStore

SpeechLevel = Literal["speech", "speech-less-reliable", "typing-and-phrases"]
SPEECH: SpeechLevel = "speech"
LESS_RELIABLE: SpeechLevel = "speech-less-reliable"
TYPING: SpeechLevel = "typing-and-phrases"
LEVELS: tuple[SpeechLevel, ...] = (SPEECH, LESS_RELIABLE, TYPING)

# --- the thresholds: the one place they are set --------------------------------------------------
# Mean error (CER for ko, zh, ja, th and km; WER for the rest) up to which speech is offered as is.
SPEECH_MAX_ERROR = 0.25
# Up to this, speech is offered with "speech may be less reliable"; above it, typing and phrases only.
LESS_RELIABLE_MAX_ERROR = 0.50
# A measured share of clips whose language was identified right below this: typing and phrases only
# (the recogniser would take the speech for another language, as whisper-base does with Uzbek).
MIN_LANGUAGE_ID = 0.5
# Declared words instead of a figure (assets/models.toml). "not-recognised": the model's output is
# unusable on the test clips (uz, km, ne on whisper-base). "weak": no test clip, and the model is known
# to be weak there (mn). "unmeasured": no test clip, and the model's published support is fair (id, tl);
# a language a model lists with no declared figure at all counts as "unmeasured" too.
DECLARED_WORDS: Mapping[str, SpeechLevel] = {"not-recognised": TYPING, "weak": TYPING, "unmeasured": LESS_RELIABLE}
UNMEASURED_LEVEL: SpeechLevel = DECLARED_WORDS["unmeasured"]

CER_LANGUAGES = frozenset({"ko", "zh", "ja", "th", "km"})


@dataclass(frozen=True)
class LanguageCapability:
    speech_level: SpeechLevel
    asr_model: str | None  # None: no recognition model installed
    measured_error: float | None  # the figure the level comes from (see ``source``); None: no figure
    source: Literal["measured", "declared"]
    metric: str = "wer"  # "cer" or "wer"
    date: str | None = None  # YYYY-MM-DD of the measurement; None when declared
    clips: int | None = None
    note: str | None = None  # a declared word instead of a figure ("not-recognised", "weak", "unmeasured")

    def as_dict(self) -> dict:
        return {"speech_level": self.speech_level, "asr_model": self.asr_model, "measured_error": self.measured_error,
                "error_source": self.source, "metric": self.metric, "measured_on": self.date, "clips": self.clips,
                "declared": self.note}


def level_for(error: float | None, language_id: float | None = None) -> SpeechLevel:
    """The thresholds, applied to one figure (measured or declared alike)."""
    if error is None:
        return UNMEASURED_LEVEL
    if language_id is not None and language_id < MIN_LANGUAGE_ID:
        return TYPING
    if error <= SPEECH_MAX_ERROR:
        return SPEECH
    if error <= LESS_RELIABLE_MAX_ERROR:
        return LESS_RELIABLE
    return TYPING


def asr_model_for(language: str, store: ModelStore, asr_models: Mapping[str, str] | None = None) -> str | None:
    """The installed ASR model that serves a language: the staff's choice for it where that is
    installed, else the catalogue's default, else any installed ASR model; None when there is none."""
    installed = {m.id: m for m in store.installed().values()
                 if m.kind == "asr" and store.preload_check(m).ok}
    chosen = (asr_models or {}).get(language)
    if chosen in installed:
        return chosen
    try:
        default = store.catalog.default_model("asr").id
    except StopIteration:
        default = None
    if default in installed:
        return default
    return next(iter(sorted(installed)), None)


def _measured(store: ModelStore, model_id: str) -> tuple[str | None, dict]:
    measured = evaluations.measured_asr(store, model_id) or {}
    languages = measured.get("languages")
    return (str(measured.get("date") or "")[:10] or None), (languages if isinstance(languages, dict) else {})


def capability(language: str, store: ModelStore, asr_model_id: str | None = None,
               asr_models: Mapping[str, str] | None = None) -> LanguageCapability:
    model_id = asr_model_id or asr_model_for(language, store, asr_models)
    metric = "cer" if language in CER_LANGUAGES else "wer"
    if model_id is None:
        return LanguageCapability(TYPING, None, None, "declared", metric, note="no-asr-model")
    date, measured = _measured(store, model_id)
    row = measured.get(language)
    if isinstance(row, dict) and isinstance(row.get("error"), (int, float)):
        language_id = row.get("language_id")
        language_id = float(language_id) if isinstance(language_id, (int, float)) else None
        return LanguageCapability(level_for(float(row["error"]), language_id), model_id, float(row["error"]),
                                  "measured", str(row.get("metric") or metric), date,
                                  row.get("clips") if isinstance(row.get("clips"), int) else None)
    entry = store.catalog.get(model_id)
    if entry is None or language not in entry.languages:
        return LanguageCapability(TYPING, model_id, None, "declared", metric, note="not-recognised")
    declared = entry.declared_asr_error.get(language, "unmeasured")
    if isinstance(declared, str):
        return LanguageCapability(DECLARED_WORDS.get(declared, UNMEASURED_LEVEL), model_id, None, "declared", metric,
                                  note=declared)
    return LanguageCapability(level_for(float(declared)), model_id, float(declared), "declared", metric)


def speech_level(language: str, store: ModelStore, asr_model_id: str | None = None,
                 asr_models: Mapping[str, str] | None = None) -> SpeechLevel:
    return capability(language, store, asr_model_id, asr_models).speech_level


def levels(store: ModelStore, asr_models: Mapping[str, str] | None = None) -> dict[str, LanguageCapability]:
    """Every kiosk language, in the kiosk's order, with its level and where the level comes from."""
    return {code: capability(code, store, asr_models=asr_models) for code in catalog.LANGUAGE_CODES}


def speech_languages(store: ModelStore, asr_models: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The languages speech is offered in (level not typing-and-phrases): the language-ID candidates."""
    return tuple(code for code, row in levels(store, asr_models).items() if row.speech_level != TYPING)
