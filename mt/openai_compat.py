"""A translator on an OpenAI-compatible chat-completions server (llama.cpp's server, vLLM, ...).

The request is the same one-turn chat as ``mt.gguf``: the user turn from the same prompt
template (``mt.gguf.user_turn``), greedy decoding, the same stop strings, the answer cut at any
that leak (``mt.gguf.cut_at_stops``). The chat template is the server's: it renders the
messages with the model it serves.

Only ``POST {base}/chat/completions`` and ``GET {base}/models`` are sent, to the configured host
alone: ``http.client`` is used directly, so no proxy variable and no redirect can send the
text anywhere else. ``https://`` URLs use TLS with the system's certificate store (or the
given CA file). An optional bearer token goes in the Authorization header and nowhere else.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from . import Engine, InvalidInputError, MTError, UnsupportedPairError
from .gguf import (
    DEFAULT_PROMPT_TEMPLATE,
    check_prompt_template,
    cut_at_stops,
    user_turn,
)

ServerFault = Literal["unreachable", "timeout", "protocol", "refused"]


class ServerError(MTError):
    """The server could not be used: ``fault`` says how. Messages never hold the text or the token."""

    def __init__(self, url: str, fault: ServerFault, detail: str) -> None:
        super().__init__(f"MT server {url}: {detail}")
        self.url, self.fault = url, fault


@dataclass(frozen=True)
class ChatOptions:
    """How the server is prompted; ``model`` is the name the server knows it by (None: its only one)."""

    model: str | None = None
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    stop: tuple[str, ...] = ()
    max_tokens: int = 256
    timeout_s: float = 20.0
    ca_file: str | None = None

    def __post_init__(self) -> None:
        check_prompt_template(self.prompt_template)
        if self.max_tokens < 1 or self.timeout_s <= 0:
            raise ValueError("max_tokens and timeout_s must be positive")


class ChatServer:
    """The HTTP side: one base URL (``http(s)://host:port/v1``), requests bounded by ``timeout_s``."""

    def __init__(self, base_url: str, *, timeout_s: float, token: str | None = None, ca_file: str | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an OpenAI-compatible server URL is http(s)://host:port/v1, not {base_url!r}")
        self.url = base_url.rstrip("/")
        self._scheme, self._host = parts.scheme, parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._path = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self._token = token
        self._tls = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None

    def __repr__(self) -> str:  # never the token
        return f"ChatServer({self.url!r})"

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._tls is not None:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout_s, context=self._tls)
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)
        try:
            connection.request(method, self._path + path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except TimeoutError:
            raise ServerError(self.url, "timeout", f"no answer within {self.timeout_s:g} s") from None
        except ssl.SSLError as failure:
            raise ServerError(self.url, "protocol", f"TLS failed ({failure.reason})") from None
        except (http.client.HTTPException, ConnectionResetError, BrokenPipeError) as failure:
            raise ServerError(self.url, "protocol", f"not an HTTP answer ({type(failure).__name__})") from None
        except OSError as failure:
            raise ServerError(self.url, "unreachable", f"cannot connect ({failure.strerror or failure})") from None
        finally:
            connection.close()
        if response.status != 200:
            raise ServerError(self.url, "refused", f"HTTP {response.status} {response.reason}")
        try:
            answer = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ServerError(self.url, "protocol", "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ServerError(self.url, "protocol", "the answer is not a JSON object")
        return answer

    def models(self) -> list[str]:
        """The model names ``GET /models`` lists."""
        listed = self.request("GET", "/models").get("data")
        if not isinstance(listed, list):
            raise ServerError(self.url, "protocol", "GET /models has no data list")
        return [str(item.get("id")) for item in listed if isinstance(item, dict) and item.get("id")]


class OpenAICompatTranslator:
    """A ``Translator`` for the declared ``languages`` ({code: English name}) on a chat-completions server."""

    engine: Engine = "llm"

    def __init__(self, base_url: str, languages: Mapping[str, str], *, model_id: str | None = None,
                 options: ChatOptions = ChatOptions(), token: str | None = None) -> None:
        self.options = options
        self.server = ChatServer(base_url, timeout_s=options.timeout_s, token=token, ca_file=options.ca_file)
        self._names = {code: name for code, name in languages.items() if name}
        self.languages = frozenset(self._names)
        self.model_id = model_id or options.model or self.server.url
        self._lock = threading.Lock()

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return source_lang != target_lang and source_lang in self.languages and target_lang in self.languages

    def user_turn(self, text: str, source_lang: str, target_lang: str) -> str:
        return user_turn(self.options.prompt_template, self._names, text, source_lang, target_lang)

    def _complete(self, text: str, source_lang: str, target_lang: str) -> str:
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": self.user_turn(text, source_lang, target_lang)}],
            "temperature": 0.0, "max_tokens": self.options.max_tokens, "stream": False,
        }
        if self.options.model:
            body["model"] = self.options.model
        if self.options.stop:
            body["stop"] = list(self.options.stop)
        answer = self.server.request("POST", "/chat/completions", body)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ServerError(self.server.url, "protocol", "the answer has no choices[0].message.content") from None
        return cut_at_stops(content or "", self.options.stop)

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        if isinstance(texts, str):
            raise InvalidInputError("texts must be a sequence of strings, not one string")
        if not self.supports(source_lang, target_lang):
            raise UnsupportedPairError(f"model {self.model_id} does not cover {source_lang}→{target_lang}")
        with self._lock:
            return [self._complete(text, source_lang, target_lang) if text.strip() else "" for text in texts]

    def warm_up(self) -> None:
        """Nothing to load here; the server keeps its model warm."""
