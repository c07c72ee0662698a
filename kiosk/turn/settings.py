"""Run-time settings of the engines: the thread split, decoding and the languages on offer.

Staff choices (devices, speech rate and volume, idle timeout) live in ``kiosk.staff.config``;
live-audio settings in ``kiosk.audio.listener.AudioSettings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from kiosk.servers import ServerRoutes
from kiosk.store.catalog import LANGUAGE_CODES


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    # The stages of one turn run one after another, so each may use every core.
    asr_threads: int = field(default_factory=_cpu_count)
    mt_threads: int = field(default_factory=_cpu_count)
    # Piper measured slower with 2 intra-op threads than with 1 on a 2-core machine.
    tts_threads: int = 1
    asr_beam_size: int = 5
    # Whisper's encoder on a window of the speech + 2 s (at least 10 s) instead of 30 s, for
    # utterances of 3.5 s and more; shorter ones keep the 30 s window, where the short one failed
    # (README "Speed": the perturbed set of kiosk.measure.asr_levers). None: always 30 s.
    asr_min_window_s: float | None = 10.0
    asr_short_window_from_s: float | None = 3.5
    mt_beam_size: int = 2
    # Speak an answer of several sentences one sentence at a time, each as soon as it is translated.
    stream_sentences: bool = True
    enabled_languages: tuple[str, ...] = LANGUAGE_CODES
    # A recognition model per language, over the catalogue's default (staff [speech] models).
    asr_models: Mapping[str, str] = field(default_factory=dict)
    # Shared on-prem servers and the languages routed to them (staff [servers], kiosk.turn.remote).
    servers: ServerRoutes = field(default_factory=ServerRoutes)

    @classmethod
    def from_staff(cls, config) -> Settings:
        """The settings the staff's config (``kiosk.staff.config.KioskConfig``) asks for: languages,
        recognition models and servers. The window and the CLI build their engines from it, so both
        route every language the same way."""
        return cls(enabled_languages=config.enabled_languages, asr_models=config.asr_models, servers=config.servers)
