"""A recognizer on a shared Wyoming ASR server (``wyoming-faster-whisper`` and the like).

The utterance is streamed as Wyoming events on one TCP connection per turn (Transcribe,
AudioStart, AudioChunk..., AudioStop) and the server answers with one Transcript. Every read
waits at most until the request's deadline (``timeout_s`` from the call), so a server that
accepts and never answers costs ``timeout_s`` and no more. Plain Wyoming is unencrypted: it
belongs on a private network (README, "Serving many kiosks").

The server's own decoding applies, not the local guards of ``asr.whisper``; a Wyoming
Transcript has no segments, so ``Transcript.segments`` is empty.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from typing import Literal, Self
from urllib.parse import urlsplit

import numpy as np
from wyoming.asr import Transcribe
from wyoming.asr import Transcript as WyomingTranscript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, read_event, write_event
from wyoming.info import Describe, Info

from asr import SAMPLE_RATE, Task, Transcript
from asr.audio import is_silent

# 100 ms of 16-bit mono audio per AudioChunk, as Wyoming satellites send it.
_CHUNK_SAMPLES = SAMPLE_RATE // 10

ServerFault = Literal["unreachable", "timeout", "protocol", "refused"]


class ServerError(RuntimeError):
    """The server could not be used: ``fault`` says how (unreachable, timeout, protocol: it does
    not speak Wyoming ASR, refused: it answered with an error). Never holds what was said."""

    def __init__(self, url: str, fault: ServerFault, detail: str) -> None:
        super().__init__(f"ASR server {url}: {detail}")
        self.url, self.fault = url, fault


def tcp_address(url: str) -> tuple[str, int]:
    """(host, port) of a ``tcp://host:port`` Wyoming URL."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ValueError(f"a Wyoming server URL is tcp://host:port, not {url!r}")
    return parts.hostname, parts.port


class WyomingExchange:
    """One request to a Wyoming server: events out, events back, all before one deadline."""

    def __init__(self, url: str, timeout_s: float, error: type = ServerError) -> None:
        self.url, self._error = url, error
        self._deadline = time.monotonic() + timeout_s
        host, port = tcp_address(url)
        try:
            self._socket = socket.create_connection((host, port), timeout=self._left())
        except TimeoutError:
            raise error(url, "timeout", "no connection within the timeout") from None
        except OSError as failure:
            raise error(url, "unreachable", f"cannot connect ({failure.strerror or failure})") from None
        self._reader = self._socket.makefile("rb")
        self._writer = self._socket.makefile("wb")

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise self._error(self.url, "timeout", "no answer within the timeout")
        return left

    def send(self, *events: Event) -> None:
        try:
            for event in events:
                self._socket.settimeout(self._left())
                write_event(event, self._writer)
        except TimeoutError:
            raise self._error(self.url, "timeout", "the server stopped reading within the timeout") from None
        except OSError as failure:
            raise self._error(self.url, "unreachable", f"the connection broke ({failure.strerror or failure})") from None

    def receive(self) -> Event:
        """The next event; a closed connection or an answer that is not Wyoming is an error."""
        try:
            self._socket.settimeout(self._left())
            first = self._reader.peek(1)[:1]
            if first and first != b"{":
                raise self._error(self.url, "protocol", "the server does not speak the Wyoming protocol")
            event = read_event(self._reader)
        except TimeoutError:
            raise self._error(self.url, "timeout", "no answer within the timeout") from None
        except OSError as failure:
            raise self._error(self.url, "unreachable", f"the connection broke ({failure.strerror or failure})") from None
        if event is None:
            fault = "unreachable" if not first else "protocol"
            raise self._error(self.url, fault, "the server closed the connection before answering")
        return event

    def close(self) -> None:
        for stream in (self._reader, self._writer, self._socket):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def describe(url: str, timeout_s: float, error: type = ServerError) -> Info:
    """The server's ``info`` answer to ``describe``: its programs, models and languages."""
    with WyomingExchange(url, timeout_s, error) as exchange:
        exchange.send(Describe().event())
        while True:
            event = exchange.receive()
            if Info.is_type(event.type):
                return Info.from_event(event)


def asr_languages(info: Info) -> tuple[str | None, frozenset[str]]:
    """(first installed model's name, languages of all installed ASR models) of a server's info."""
    models = [model for program in info.asr if program.installed for model in program.models if model.installed]
    return (models[0].name if models else None), frozenset(code for model in models for code in model.languages)


class WyomingRecognizer:
    """A ``Recognizer`` whose work is done by a Wyoming ASR server; one connection per call."""

    def __init__(self, url: str, *, languages: Iterable[str], timeout_s: float = 15.0,
                 model_id: str | None = None) -> None:
        tcp_address(url)  # a bad URL fails here, not at the first turn
        self.url = url
        self.languages = frozenset(languages)
        self.timeout_s = timeout_s
        self.model_id = model_id or url

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        candidates: Iterable[str] | None = None,
        task: Task = "transcribe",
    ) -> Transcript:
        if task != "transcribe":
            raise ValueError("a Wyoming ASR server only transcribes")
        if language is not None and language not in self.languages:
            raise ValueError(f"the ASR server {self.url} is not used for language {language!r}")
        duration = audio.size / SAMPLE_RATE
        if is_silent(audio):
            return Transcript("", language or "", 0.0, (), duration, task)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        step = _CHUNK_SAMPLES * 2
        audio_format = {"rate": SAMPLE_RATE, "width": 2, "channels": 1}
        with WyomingExchange(self.url, self.timeout_s) as exchange:
            exchange.send(Transcribe(language=language).event(), AudioStart(**audio_format).event(),
                          *(AudioChunk(audio=pcm[i:i + step], **audio_format).event() for i in range(0, len(pcm), step)),
                          AudioStop().event())
            while True:
                event = exchange.receive()
                if WyomingTranscript.is_type(event.type):
                    answer = WyomingTranscript.from_event(event)
                    break
        heard = answer.language or language
        if heard is None:
            options = list(candidates or ())
            if len(options) != 1:
                raise ServerError(self.url, "protocol", "the server did not say which language it heard")
            heard = options[0]
        return Transcript(" ".join(answer.text.split()), heard, 1.0, (), duration, task)

    def warm_up(self) -> None:
        """Nothing to load here; the server keeps its model warm."""
