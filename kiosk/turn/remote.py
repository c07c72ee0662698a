"""Shared on-prem servers for some languages, with the kiosk's own engines behind them.

The staff's [servers] table (``kiosk.staff.servers``) routes languages to a Wyoming ASR server,
a Wyoming TTS server and an OpenAI-compatible MT server. Here each server is wrapped so that
the pipeline cannot tell it from a local engine:

- a request the server fails (unreachable, past its timeout, an error, a wrong protocol) goes
  to the local engine where one covers the language; with none, the turn fails with
  ``server-unavailable``;
- a server that failed is skipped for a back-off (5 s, doubling up to 60 s) instead of being
  tried on every turn; the first request after it is a retry, and a success makes it healthy
  again, with no restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from asr import Recognizer, Task, Transcript
from asr.wyoming import ServerError as ASRServerError
from asr.wyoming import WyomingRecognizer, asr_languages
from asr.wyoming import describe as wyoming_describe
from kiosk.errors import ServerUnavailable
from kiosk.servers import ServerRoute, ServerRoutes
from mt import Translation
from mt.openai_compat import ChatOptions, ChatServer, OpenAICompatTranslator
from mt.openai_compat import ServerError as MTServerError
from mt.router import Router
from tts import (
    SpeechChunk,
    SpeechUnavailable,
    SynthesisConfig,
    Synthesizer,
    speakable_sentences,
)
from tts.wyoming import RateUnsupported, WyomingSynthesizer
from tts.wyoming import ServerError as TTSServerError

log = logging.getLogger(__name__)

SERVER_ERRORS = (ASRServerError, TTSServerError, MTServerError)


BACK_OFF_S = (5.0, 60.0)
PROBE_TIMEOUT_S = 3.0  # a staff check waits no longer for a server that does not answer


@dataclass
class ServerHealth:
    """What the kiosk knows of one server, for routing and the staff panel."""

    route: ServerRoute
    state: Literal["unknown", "up", "down"] = "unknown"
    detail: str = ""
    model: str | None = None  # what the server said it serves (doctor, a successful request)
    retry_at: float = 0.0
    _back_off: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    clock: Callable[[], float] = time.monotonic

    def worth_trying(self) -> bool:
        return self.state != "down" or self.clock() >= self.retry_at

    def succeeded(self) -> None:
        with self._lock:
            if self.state == "down":
                log.info("servers: %s server is back", self.route.role)
            self.state, self.detail, self._back_off = "up", "", 0.0

    def failed(self, error: Exception) -> None:
        with self._lock:
            self._back_off = min(BACK_OFF_S[1], max(BACK_OFF_S[0], self._back_off * 2))
            self.state, self.detail = "down", str(error)
            self.retry_at = self.clock() + self._back_off
        log.warning("servers: %s; retrying in %.0f s", error, self._back_off)

    def as_dict(self) -> dict:
        return {"role": self.route.role, "url": self.route.url, "languages": list(self.route.languages),
                "state": self.state, "detail": self.detail, "model": self.model}


def probe(route: ServerRoute, timeout_s: float) -> dict:
    """Ask one server what it serves (Wyoming describe -> info, OpenAI ``GET /models``): ``ok``,
    its ``models``, the routed languages it does not cover (``missing_languages``) and any ``error``.
    ``kiosk doctor`` reports it; the staff panel and the About card show it."""
    row = {"role": route.role, "url": route.url, "languages": list(route.languages), "ok": False,
           "models": [], "missing_languages": [], "error": None}
    try:
        if route.role == "mt":
            row["models"] = ChatServer(route.url, timeout_s=timeout_s, token=route.token(),
                                       ca_file=route.ca_file).models()
            # A chat model names no languages: the check is that the configured model is served.
            missing = list(route.languages) if route.model and route.model not in row["models"] else []
        else:
            info = wyoming_describe(route.url, timeout_s)
            if route.role == "asr":
                model, languages = asr_languages(info)
                row["models"] = [model] if model else []
            else:
                voices = [v for p in info.tts if p.installed for v in p.voices if v.installed]
                row["models"] = [v.name for v in voices]
                languages = {code.split("_")[0] for v in voices for code in v.languages}
            missing = [code for code in route.languages if code not in languages]
        row["missing_languages"], row["ok"] = missing, not missing
    except (*SERVER_ERRORS, ValueError) as error:
        row["error"] = str(error)
    return row


def _unavailable(role: str, language: str | None, error: Exception | str) -> ServerUnavailable:
    return ServerUnavailable(f"the {role} server is unavailable and this kiosk has no {role.upper()} engine of its "
                             f"own for {language or 'this language'} ({error})")


class RoutedRecognizer:
    """The server for its languages while it is healthy, else the local recognizer (when there is one)."""

    def __init__(self, remote: WyomingRecognizer, health: ServerHealth,
                 local: Callable[[], Recognizer | None]) -> None:
        self.remote, self.health, self._local = remote, health, local
        self.languages = remote.languages

    def transcribe(self, audio: np.ndarray, *, language: str | None = None,
                   candidates: Iterable[str] | None = None, task: Task = "transcribe") -> Transcript:
        error: Exception | str = "in back-off after a failure"
        if language in self.remote.languages and task == "transcribe" and self.health.worth_trying():
            try:
                transcript = self.remote.transcribe(audio, language=language, candidates=candidates)
                self.health.succeeded()
                return transcript
            except ASRServerError as failure:
                self.health.failed(failure)
                error = failure
        local = self._local()
        if local is None:
            raise _unavailable("asr", language, error)
        return local.transcribe(audio, language=language, candidates=candidates, task=task)

    def warm_up(self) -> None:
        local = self._local()
        if local is not None:
            local.warm_up()


class RoutedSynthesizer:
    """The server's voice while it is healthy, else the local voice; a sentence the server fails
    mid-answer is spoken, with the rest, by the local voice."""

    def __init__(self, remote: WyomingSynthesizer, health: ServerHealth, local: Synthesizer | None) -> None:
        self.remote, self.health, self.local = remote, health, local
        self.language = remote.language

    @property
    def voice_id(self) -> str:
        return self.remote.voice_id if self.health.worth_trying() or self.local is None else self.local.voice_id

    @property
    def sample_rate(self) -> int:
        return self.remote.sample_rate if self.health.worth_trying() or self.local is None else self.local.sample_rate

    def synthesize(self, text: str, config: SynthesisConfig = SynthesisConfig()) -> Iterator[SpeechChunk]:
        spoken = 0
        error: Exception | str = "in back-off after a failure"
        if self.health.worth_trying() and (config.rate == 1.0 or self.local is None):
            try:
                for chunk in self.remote.synthesize(text, config):
                    self.health.succeeded()
                    spoken += 1
                    yield chunk
                return
            except TTSServerError as failure:
                self.health.failed(failure)
                error = failure
            except RateUnsupported as failure:
                error = failure
        if self.local is None:
            raise _unavailable("tts", self.language, error)
        yield from self.local.synthesize(" ".join(speakable_sentences(text)[spoken:]), config)

    def warm_up(self) -> None:
        if self.local is not None:
            self.local.warm_up()


class RoutedTranslator:
    """The MT server as one of the router's translators: it offers the routed pairs only while
    worth trying, so a failing server is skipped and the router's next route (a local model) runs."""

    engine = "llm"

    def __init__(self, remote: OpenAICompatTranslator, health: ServerHealth) -> None:
        self.remote, self.health = remote, health
        self.model_id = remote.model_id
        routed = frozenset(health.route.languages)
        self._routed = routed

    def covers(self, source_lang: str, target_lang: str) -> bool:
        return (source_lang in self._routed or target_lang in self._routed) \
            and self.remote.supports(source_lang, target_lang)

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return self.covers(source_lang, target_lang) and self.health.worth_trying()

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        try:
            result = self.remote.translate(texts, source_lang, target_lang)
        except MTServerError as failure:
            self.health.failed(failure)
            raise
        self.health.succeeded()
        return result

    def warm_up(self) -> None:
        """The server keeps its model warm."""


class ServerRouter(Router):
    """The kiosk's router, which fails a pair with ``server-unavailable`` when the MT server that
    covers it failed and nothing else did (instead of "no model installed")."""

    def __init__(self, *args, server: RoutedTranslator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.server = server

    def translate_many(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[Translation]:
        results = super().translate_many(texts, source_lang, target_lang)
        if any(not r.ok for r in results) and self.server.covers(source_lang, target_lang) \
                and self.server.health.state == "down":
            raise _unavailable("mt", f"{source_lang}→{target_lang}", self.server.health.detail)
        return results


class Servers:
    """The configured servers, their remote engines and their health, built once per ``Engines``."""

    def __init__(self, routes: ServerRoutes, language_names: dict[str, str]) -> None:
        self.routes = routes
        self.health = {route.role: ServerHealth(route) for route in routes.routes()}
        self._names = language_names
        self._translator: RoutedTranslator | None = None

    def recognizer(self, language: str | None, task: Task,
                   local: Callable[[], Recognizer | None]) -> RoutedRecognizer | None:
        route = self.routes.asr
        if route is None or language not in route.languages or task != "transcribe":
            return None
        remote = WyomingRecognizer(route.url, languages=route.languages, timeout_s=route.timeout_s,
                                   model_id=route.model)
        return RoutedRecognizer(remote, self.health["asr"], local)

    def voice(self, language: str, local: Synthesizer | SpeechUnavailable) -> Synthesizer | SpeechUnavailable:
        route = self.routes.tts
        if route is None or language not in route.languages:
            return local
        remote = WyomingSynthesizer(route.url, language=language, voice=route.model, timeout_s=route.timeout_s)
        return RoutedSynthesizer(remote, self.health["tts"], None if isinstance(local, SpeechUnavailable) else local)

    def translator(self) -> RoutedTranslator | None:
        route = self.routes.mt
        if route is None:
            return None
        if self._translator is None:
            names = {code: self._names[code] for code in self._names}
            remote = OpenAICompatTranslator(route.url, names, model_id=route.model and f"{route.model} (server)",
                                            options=ChatOptions(model=route.model, timeout_s=route.timeout_s,
                                                                ca_file=route.ca_file, max_tokens=route.max_tokens),
                                            token=route.token())
            self._translator = RoutedTranslator(remote, self.health["mt"])
        return self._translator

    def status(self) -> list[dict]:
        """Each server's health, for the staff panel."""
        return [health.as_dict() for health in self.health.values()]

    def check(self, timeout_s: float = PROBE_TIMEOUT_S) -> list[dict]:
        """Probe each server now (``probe``) and record the answer in its health: a server that
        does not answer is "down" (and in back-off), one that answers is "up" with the model it
        named. The status after it."""
        for health in self.health.values():
            row = probe(health.route, min(timeout_s, health.route.timeout_s))
            if row["error"] is not None:
                health.failed(RuntimeError(row["error"]))
                continue
            health.succeeded()
            # The configured model where the server serves it (an MT server may list several).
            named = health.route.model if health.route.model in row["models"] else None
            health.model = named or (row["models"][0] if row["models"] else None)
            if row["missing_languages"]:
                health.detail = f"does not serve {' '.join(row['missing_languages'])}"
        return self.status()
