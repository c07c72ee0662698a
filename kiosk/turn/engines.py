"""Builds the engines from the model store, once, and keeps them.

This is the only place that knows which library class serves which catalogue entry.
Voices are created lazily per language (most kiosks use two or three languages a day).
The store and the translators are given to ``Engines``; without them it uses the store the
environment describes and builds a translator for each installed translation model.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property

from asr import Recognizer, Task
from asr.whisper import RecognizerError, WhisperOptions, WhisperRecognizer, load_hallucinations
from kiosk.errors import ModelMissing
from kiosk.store import catalog, evaluations
from kiosk.store.catalog import Catalog
from kiosk.store.models import ModelStore
from kiosk.turn import capability
from kiosk.turn.heap import release_free_memory
from kiosk.turn.remote import ServerRouter, Servers
from kiosk.turn.settings import Settings
from mt import Translator
from mt.gguf import GGUFOptions, GGUFTranslator
from mt.llm import LLMOptions, LLMTranslator
from mt.phrasebook import Phrasebook
from mt.router import Router
from mt.seq2seq import Seq2SeqOptions, Seq2SeqTranslator
from tts import SpeechUnavailable, Synthesizer
from tts.kokoro import KokoroOptions, KokoroVoice
from tts.piper import PiperOptions
from tts.voices import select_synthesizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmUp:
    """Seconds from the start of ``Engines.warm_up`` until a first turn was possible (every engine
    it needs loaded), and until everything was warm (each exercised once)."""

    first_turn_s: float
    warm_s: float


# The translators for the router: a list, or what builds one when the router is first needed.
Translators = Sequence[Translator] | Callable[[], Sequence[Translator]]


class Engines:
    def __init__(self, settings: Settings = Settings(), *, store: ModelStore | None = None,
                 translators: Translators | None = None) -> None:
        """``store``: where the models come from (default: ``from_environment()``, read now).
        ``translators``: the router's translators, or a callable that builds them on first use
        (the bench's timing proxy); default: one per installed translation model."""
        if store is None:
            from kiosk.store.environment import from_environment

            store = from_environment()
        self.settings = settings
        self.store = store
        self._translators_given = translators
        self._voices: dict[str, Synthesizer | SpeechUnavailable] = {}
        self._voice_lock = threading.Lock()
        self._second: tuple[str, WhisperRecognizer] | None = None  # a language's own recognition model
        self._second_lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        return self.store.catalog

    @cached_property
    def recognizer(self) -> WhisperRecognizer:
        """The default recognition model (language detection, and every language without a model of its own)."""
        return self.load_recognizer(self.catalog.default_model("asr").id)

    @cached_property
    def servers(self) -> Servers:
        """The staff's on-prem servers (``Settings.servers``), their engines and health."""
        return Servers(self.settings.servers, {code: spec.english for code, spec in catalog.languages().items()})

    def recognizer_for(self, language: str | None, task: Task = "transcribe") -> tuple[str, Recognizer] | None:
        """The recognizer for a chosen language: the ASR server where it is routed there (with the
        local model behind it, ``kiosk.turn.remote``), else the local one (``local_recognizer_for``)."""
        served = self.servers.recognizer(language, task, lambda: (self.local_recognizer_for(language, task) or
                                                                 (None, None))[1])
        if served is not None:
            return f"{served.remote.model_id} (server)", served
        return self.local_recognizer_for(language, task)

    def local_recognizer_for(self, language: str | None,
                             task: Task = "transcribe") -> tuple[str, WhisperRecognizer] | None:
        """The recognition model for a chosen language (None: detected), as (catalogue id, recognizer):
        its own model (``asr_models``) where that is installed, else the default.
        The default stays loaded; a second model is loaded when its language is chosen and kept until
        another language needs another one. Speech translation into English never goes to a model
        whose entry says it cannot (whisper-large-v3-turbo); None when no model can."""
        default = self.catalog.default_model("asr")
        chosen = self.asr_models.get(language) if language else None
        for model_id in dict.fromkeys((chosen, default.id)):
            entry = self.catalog.get(model_id) if model_id else None
            if entry is None or (task == "translate" and not entry.translates_to_english):
                continue
            if model_id == default.id:
                return model_id, self.recognizer
            with self._second_lock:
                if self._second is not None and self._second[0] == model_id:
                    return self._second
                self._second = None
                release_free_memory()
                try:
                    self._second = (model_id, self.load_recognizer(model_id))
                except ModelMissing as error:
                    log.warning("recognition model for %s unavailable, using %s: %s", language, default.id, error)
                    continue
                return self._second
        return None

    def load_recognizer(self, model_id: str) -> WhisperRecognizer:
        """A new recognizer for an installed ASR model, with the kiosk's options (threads, beam, guards)."""
        model = self.store.find(model_id)
        options = WhisperOptions(
            cpu_threads=self.settings.asr_threads,
            beam_size=self.settings.asr_beam_size,
            min_window_s=self.settings.asr_min_window_s,
            short_window_from_s=self.settings.asr_short_window_from_s,
            hallucinations=load_hallucinations(catalog.hallucinations_file()),
        )
        try:
            return WhisperRecognizer(model.path, options)
        except RecognizerError as error:
            raise ModelMissing(model_id, str(error)) from None

    @cached_property
    def speech_languages(self) -> frozenset[str]:
        """The languages speech is offered in (``kiosk.turn.capability``), the only ones language
        identification may return; read once, like the engines."""
        return frozenset(capability.speech_languages(self.store, self.asr_models))

    @cached_property
    def asr_models(self) -> dict[str, str]:
        """The recognition model of each language that has one of its own: the staff's choice
        (``Settings.asr_models``), else an installed catalogue entry that is ``preferred_for`` it."""
        installed = self.store.installed()
        preferred = {code: entry.id for entry in reversed(list(self.catalog.models.values()))
                     if entry.kind == "asr" and entry.id in installed for code in entry.preferred_for}
        return preferred | dict(self.settings.asr_models)

    @cached_property
    def router(self) -> Router:
        """The phrasebook and the translators, built on first use and kept."""
        given = self._translators_given
        if given is None:
            translators = self._installed_translators()
        else:
            translators = list(given() if callable(given) else given)
        languages = catalog.LANGUAGE_CODES
        # Several models for a pair: the best measured chrF++ (`kiosk eval mt`), else catalogue order.
        known = list(self.catalog.models)
        translators.sort(key=lambda t: known.index(t.model_id) if t.model_id in known else len(known))
        quality = evaluations.measured_quality(self.store)
        server = self.servers.translator()
        if server is None:
            return Router(Phrasebook.load(catalog.phrasebook_dir(), languages), translators, languages=languages,
                          quality=quality)
        # Pairs routed to the MT server go there first, ahead of any measured local model.
        quality |= {(server.model_id, s, t): (math.inf, 0.0) for s in languages for t in languages
                    if server.covers(s, t)}
        return ServerRouter(Phrasebook.load(catalog.phrasebook_dir(), languages), [server, *translators],
                            languages=languages, quality=quality, server=server)

    def _installed_translators(self) -> list[Translator]:
        translators: list[Translator] = []
        for model in self.store.installed().values():
            if model.kind not in ("mt-seq2seq", "mt-llm"):
                continue
            check = self.store.preload_check(model)
            if not check.ok:
                log.warning("skipping translation model %s: %s", model.id, "; ".join(check.problems))
                continue
            try:
                if model.kind == "mt-seq2seq":
                    options = Seq2SeqOptions(beam_size=self.settings.mt_beam_size, intra_threads=self.settings.mt_threads)
                    sources, targets = model.translation_directions
                    translators.append(
                        Seq2SeqTranslator(
                            model.path,
                            family=model.family,
                            languages=sources,
                            target_languages=targets,
                            model_id=model.id,
                            options=options,
                        )
                    )
                elif model.engine == "llama.cpp":
                    translators.append(self._gguf_translator(model))
                else:
                    options = LLMOptions(intra_threads=self.settings.mt_threads)
                    names = {code: catalog.language(code).english for code in model.languages}
                    translators.append(LLMTranslator(model.path, model_id=model.id, languages=names, options=options))
            except Exception as error:  # a broken model must not take the kiosk down
                log.warning("cannot load translation model %s: %s", model.id, type(error).__name__)
        return translators

    def _gguf_translator(self, model) -> GGUFTranslator:
        """A GGUF chat model: the catalogue's prompt and chat template where it names them."""
        entry = self.catalog.get(model.id)
        options = GGUFOptions(threads=self.settings.mt_threads)
        if entry is not None:
            options = replace(options, stop=entry.stop, prompt_template=entry.prompt_template or options.prompt_template,
                              chat_template=entry.chat_template
                              and catalog.chat_template_file(entry.chat_template).read_text(encoding="utf-8"))
        names = {code: catalog.language(code).english for code in model.languages}
        return GGUFTranslator(model.path, model_id=model.id, languages=names, options=options)

    def voice(self, language: str) -> Synthesizer | SpeechUnavailable:
        """The best voice for a language: Piper or Kokoro, else espeak-ng, else speech unavailable."""
        with self._voice_lock:
            if language not in self._voices:
                self._voices[language] = self.servers.voice(language, self._load_voice(language))
            return self._voices[language]

    def _load_voice(self, language: str) -> Synthesizer | SpeechUnavailable:
        spec = catalog.language(language)
        piper_models, kokoro_voices = {}, {}
        voice_id = self.store.installed_voice(language, spec.piper_voice)
        if voice_id:
            try:
                model = self.store.find(voice_id)
                if model.engine == "kokoro":
                    entry = self.catalog.get(model.id)
                    kokoro_voices[language] = KokoroVoice.from_files(
                        [model.file(n) for n in model.files], entry.voice if entry else None)
                else:
                    piper_models[language] = next(model.file(n) for n in model.files if n.endswith(".onnx"))
            except ModelMissing as error:
                log.warning("neural voice unavailable, trying espeak-ng: %s", error)
        voice = select_synthesizer(
            language,
            piper_models,
            {language: spec.espeak_voice} if spec.espeak_voice else {},
            kokoro_voices=kokoro_voices,
            piper_options=PiperOptions(threads=self.settings.tts_threads),
            kokoro_options=KokoroOptions(threads=self.settings.tts_threads),
        )
        if isinstance(voice, SpeechUnavailable):
            return SpeechUnavailable(language, f"no voice is installed for {spec.english}; the text is shown instead")
        return voice

    def interrupt_translation(self) -> None:
        """Stop a translation in progress (from another thread), for engines that can: a GGUF
        model decodes token by token; a CTranslate2 call runs to its end."""
        router = self.__dict__.get("router")  # never build the translators just to interrupt them
        for translator in router.translators if router is not None else ():
            cancel = getattr(translator, "cancel", None)
            if cancel is not None:
                cancel()

    def warm_up(self, languages: tuple[str, ...] = ()) -> WarmUp:
        """Load every engine a turn in ``languages`` needs, then exercise each once, so no turn pays
        for it. Returns when a first turn became possible (all loaded) and when all was warm."""
        started = time.monotonic()
        self.load(languages)
        first_turn_s = time.monotonic() - started
        self.exercise(languages)
        return WarmUp(first_turn_s=first_turn_s, warm_s=time.monotonic() - started)

    def load(self, languages: tuple[str, ...] = ()) -> None:
        """Load translation, then recognition and the voices of ``languages`` side by side.

        Translation first, alone: CTranslate2 holds a model file's bytes while it unpacks them
        (M2M-100 418M-shaped: 806 MB at the peak for 496 MB kept), so it loads while the process
        is still small; loaded after the others, it took the peak over 1.2 GB (README "Speed").
        Memory freed by each phase is returned at once, so the next does not stack on top of it.
        """
        self.router  # noqa: B018 - built here, not on the first turn
        release_free_memory()
        self._in_parallel(lambda: self.recognizer, lambda: [self.voice(language) for language in languages])
        release_free_memory()

    def exercise(self, languages: tuple[str, ...] = ()) -> None:
        """Run each loaded engine once, so the first real turn does not pay for lazy allocations:
        the voices beside recognition and translation, which run one after the other (each
        decodes on every core)."""
        def models() -> None:
            self.recognizer.warm_up()
            release_free_memory()
            for translator in self.router.translators:
                translator.warm_up()

        self._in_parallel(models, lambda: self._warm_up_voices(languages))
        release_free_memory()

    @staticmethod
    def _in_parallel(*jobs: Callable[[], object]) -> None:
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="engines") as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()

    def loaded(self) -> tuple[str, ...]:
        """What is in memory now, for the staff panel: the recognition models, the translation
        models and the voices (engines load lazily, so this grows as languages are used)."""
        names = []
        if "recognizer" in self.__dict__:
            names.append(self.catalog.default_model("asr").id)
        if self._second is not None:
            names.append(self._second[0])
        router = self.__dict__.get("router")
        names += [t.model_id for t in router.translators] if router is not None else []
        with self._voice_lock:
            names += [v.voice_id for v in self._voices.values() if not isinstance(v, SpeechUnavailable)]
        return tuple(names)

    def _warm_up_voices(self, languages: tuple[str, ...]) -> None:
        for language in languages:
            voice = self.voice(language)
            if not isinstance(voice, SpeechUnavailable):
                voice.warm_up()
