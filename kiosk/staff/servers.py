"""The staff TOML's [servers] table: shared on-prem engines and the languages routed to them.

    [servers.asr]
    url = "tcp://10.20.0.5:10300"          # Wyoming (wyoming-faster-whisper)
    languages = ["vi", "th"]               # these go to the server; the others stay local
    timeout_s = 15

    [servers.mt]
    url = "https://mt.example.internal:8443/v1"   # OpenAI-compatible chat completions
    languages = ["vi"]
    model = "qwen2.5-7b-instruct"
    token_file = "/etc/kiosk/mt-token"     # or token_env = "KIOSK_MT_TOKEN"; never written here

Like every other key, a bad value never stops the kiosk: it is reported and that server is
left out (its languages stay local). The token itself is never read, stored or printed here.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from kiosk.servers import ServerRoute, ServerRoutes
from kiosk.store.catalog import LANGUAGE_CODES

TABLE = "servers"
TIMEOUT_RANGE_S = (0.5, 120.0)
DEFAULT_TIMEOUT_S = {"asr": 15.0, "tts": 10.0, "mt": 20.0}
_SCHEMES = {"asr": ("tcp",), "tts": ("tcp",), "mt": ("http", "https")}
_KEYS = {"url", "languages", "timeout_s", "model", "voice", "token_file", "token_env", "ca_file", "max_tokens"}


class _Invalid(ValueError):
    pass


def _route(role: str, table: Any) -> ServerRoute:
    if not isinstance(table, dict):
        raise _Invalid(f"a [servers.{role}] table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise _Invalid(f"only the keys {' '.join(sorted(_KEYS))} (got {' '.join(unknown)})")
    url = table.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in _SCHEMES[role] or not parts.hostname or \
            (parts.scheme == "tcp" and parts.port is None):
        example = "tcp://host:port" if role != "mt" else "http(s)://host:port/v1"
        raise _Invalid(f"url = {example!r}")
    languages = table.get("languages")
    if not isinstance(languages, list) or not languages or any(code not in LANGUAGE_CODES for code in languages):
        raise _Invalid(f"languages = a non-empty list of codes from {' '.join(LANGUAGE_CODES)}")
    timeout = table.get("timeout_s", DEFAULT_TIMEOUT_S[role])
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or not TIMEOUT_RANGE_S[0] <= timeout <= TIMEOUT_RANGE_S[1]:
        raise _Invalid(f"timeout_s = a number from {TIMEOUT_RANGE_S[0]} to {TIMEOUT_RANGE_S[1]}")
    text = {name: table.get(name) for name in ("model", "voice", "token_file", "token_env", "ca_file")}
    if any(value is not None and (not isinstance(value, str) or not value.strip()) for value in text.values()):
        raise _Invalid("model, voice, token_file, token_env and ca_file are non-empty strings")
    if role != "mt" and (text["token_file"] or text["token_env"] or text["ca_file"]):
        raise _Invalid("a token or CA file only for [servers.mt] (Wyoming has neither)")
    max_tokens = table.get("max_tokens", 256)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 4096:
        raise _Invalid("max_tokens = a whole number from 1 to 4096")
    return ServerRoute(role, url, tuple(code for code in LANGUAGE_CODES if code in languages), float(timeout),
                       model=text["model"] or text["voice"], token_file=text["token_file"],
                       token_env=text["token_env"], ca_file=text["ca_file"], max_tokens=max_tokens)


def parse(table: Any) -> tuple[ServerRoutes, list[str]]:
    """The routes of a [servers] table, and a problem line for each part left out."""
    if table is None:
        return ServerRoutes(), []
    if not isinstance(table, dict):
        return ServerRoutes(), [f"{TABLE}: expected a [{TABLE}] table; no server is used"]
    problems = [f"{TABLE}.{name}: unknown server kind (asr, tts, mt); ignored"
                for name in table if name not in DEFAULT_TIMEOUT_S]
    routes = {}
    for role in DEFAULT_TIMEOUT_S:
        if role in table:
            try:
                routes[role] = _route(role, table[role])
            except _Invalid as error:
                problems.append(f"{TABLE}.{role}: expected {error}; this server is not used")
    return ServerRoutes(**routes), problems


def tables(routes: ServerRoutes) -> dict[str, dict[str, Any]]:
    """The [servers.*] tables that ``parse`` reads back (the token's file or variable, never the token)."""
    written = {}
    for route in routes.routes():
        table: dict[str, Any] = {"url": route.url, "languages": list(route.languages), "timeout_s": route.timeout_s}
        if route.model:
            table["voice" if route.role == "tts" else "model"] = route.model
        for name in ("token_file", "token_env", "ca_file"):
            if getattr(route, name):
                table[name] = getattr(route, name)
        if route.role == "mt":
            table["max_tokens"] = route.max_tokens
        written[f"{TABLE}.{route.role}"] = table
    return written
