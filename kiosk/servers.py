"""Which shared on-prem servers a kiosk uses, and for which languages (the staff's [servers] table).

Only the description lives here, at the bottom of the application, so that the staff config
(``kiosk.staff.servers`` parses it), the engines (``kiosk.turn.remote`` uses it), ``kiosk doctor``
and the bench share one type. These addresses are the only network the kiosk ever uses.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

Role = Literal["asr", "tts", "mt"]


@dataclass(frozen=True)
class ServerRoute:
    """One server and the languages routed to it. ``model``: the MT model or TTS voice name the
    server knows (None: its default). The bearer token is named, never held: a file or an env var."""

    role: Role
    url: str
    languages: tuple[str, ...]
    timeout_s: float
    model: str | None = None
    token_file: str | None = None
    token_env: str | None = None
    ca_file: str | None = None
    max_tokens: int = 256  # MT: the most tokens one answer may take

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname or "", parts.port or default

    def token(self) -> str | None:
        """The bearer token from its file or environment variable; None when there is none."""
        if self.token_file:
            try:
                return Path(self.token_file).read_text(encoding="utf-8").strip() or None
            except OSError as error:
                log.warning("servers: the MT token file cannot be read (%s)", error.strerror)
                return None
        return os.environ.get(self.token_env, "").strip() or None if self.token_env else None


@dataclass(frozen=True)
class ServerRoutes:
    asr: ServerRoute | None = None
    tts: ServerRoute | None = None
    mt: ServerRoute | None = None

    def routes(self) -> list[ServerRoute]:
        return [route for route in (self.asr, self.tts, self.mt) if route is not None]

    def addresses(self) -> set[tuple[str, int]]:
        """Every (host, port) the kiosk may connect to: the only network it uses."""
        return {route.address for route in self.routes()}
