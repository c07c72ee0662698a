"""Run-time settings of the engines: the thread split, decoding and the languages on offer.

Staff choices (devices, speech rate and volume, idle timeout) live in ``kiosk.staff.config``;
live-audio settings in ``kiosk.audio.listener.AudioSettings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

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
    mt_beam_size: int = 2
    enabled_languages: tuple[str, ...] = LANGUAGE_CODES
    # A recognition model per language, over the catalogue's default (staff [speech] models).
    asr_models: Mapping[str, str] = field(default_factory=dict)
