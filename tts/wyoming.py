"""A voice on a shared Wyoming TTS server (``wyoming-piper`` and the like).

Each sentence is one request on its own connection (Synthesize -> AudioStart, AudioChunk...,
AudioStop), so the first sentence plays while the server renders the next, as with a local
voice. The request runs on the wyoming library's own async client, bounded by
``timeout_s``: a server that accepts and never answers costs that and no more. Plain Wyoming
is unencrypted: it belongs on a private network (README, "Serving many kiosks").

A Wyoming Synthesize carries no speaking rate: ``SynthesisConfig.rate`` other than 1 is
refused here (``RateUnsupported``), so that the caller can use a local voice for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeVoice

from . import SpeechChunk, SpeechError, SynthesisConfig, speak_by_sentence

ServerFault = Literal["unreachable", "timeout", "protocol", "refused"]


class ServerError(SpeechError):
    """The server could not be used: ``fault`` says how. Messages never contain the spoken text."""

    def __init__(self, url: str, fault: ServerFault, detail: str) -> None:
        super().__init__(f"TTS server {url}: {detail}")
        self.url, self.fault = url, fault


class RateUnsupported(SpeechError, ValueError):
    """A speaking rate other than 1 was asked of a server voice, which cannot change it."""


class WyomingSynthesizer:
    """A ``Synthesizer`` whose audio comes from a Wyoming TTS server, for one language."""

    def __init__(self, url: str, *, language: str, voice: str | None = None, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
            raise ValueError(f"a Wyoming server URL is tcp://host:port, not {url!r}")
        self.url, self._host, self._port = url, parts.hostname, parts.port
        self.language = language
        self.voice = voice
        self.voice_id = f"{voice or 'default voice'} @ {parts.hostname}:{parts.port}"
        self.timeout_s = timeout_s
        self._sample_rate = 22_050  # until the server's first AudioStart says otherwise

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def synthesize(self, text: str, config: SynthesisConfig = SynthesisConfig()) -> Iterator[SpeechChunk]:
        if config.rate != 1.0:
            raise RateUnsupported(f"the TTS server {self.url} cannot change the speaking rate")

        def render(sentence: str) -> tuple[np.ndarray, int]:
            audio, rate = self._request(sentence)
            return audio * config.volume, rate

        return speak_by_sentence(text, self.voice_id, config, render)

    def _request(self, sentence: str) -> tuple[np.ndarray, int]:
        try:
            return asyncio.run(asyncio.wait_for(self._exchange(sentence), self.timeout_s))
        except TimeoutError:
            raise ServerError(self.url, "timeout", "no complete answer within the timeout") from None
        except ConnectionRefusedError:
            raise ServerError(self.url, "unreachable", "connection refused") from None
        except OSError as failure:
            raise ServerError(self.url, "unreachable", f"the connection broke ({failure.strerror or failure})") from None

    async def _exchange(self, sentence: str) -> tuple[np.ndarray, int]:
        voice = SynthesizeVoice(name=self.voice) if self.voice else None
        pieces: list[bytes] = []
        async with AsyncTcpClient(self._host, self._port) as client:
            await client.write_event(Synthesize(text=sentence, voice=voice).event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise ServerError(self.url, "protocol", "the connection closed before the audio ended, "
                                                            "or the server does not speak Wyoming")
                if Error.is_type(event.type):
                    raise ServerError(self.url, "refused", Error.from_event(event).text)
                if AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                    if start.channels != 1 or start.width != 2:
                        raise ServerError(self.url, "protocol", f"unsupported audio: {start.channels} channel(s), "
                                                                f"{start.width * 8}-bit")
                    self._sample_rate = start.rate
                elif AudioChunk.is_type(event.type):
                    pieces.append(AudioChunk.from_event(event).audio)
                elif AudioStop.is_type(event.type):
                    break
        samples = np.frombuffer(b"".join(pieces), dtype="<i2").astype(np.float32) / 32768.0
        return samples, self._sample_rate

    def warm_up(self) -> None:
        """Nothing to load here; the server keeps its voice warm."""
