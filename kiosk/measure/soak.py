"""`kiosk soak`: many turns in one process, to show that memory does not grow."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from asr.audio import load_audio
from kiosk.store.catalog import ASSETS_DIR
from kiosk.turn.engines import Engines
from kiosk.turn.pipeline import Done, Pipeline, Turn

SOAK_CLIP = ASSETS_DIR / "samples" / "en_librivox_austen_0880.wav"


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


@dataclass(frozen=True)
class SoakReport:
    turns: int
    warmup_turns: int
    rss_after_warmup_mb: float
    rss_end_mb: float
    growth_percent: float
    failed_turns: int
    seconds: float


def soak(turns: int, warmup_turns: int = 20, engines: Engines | None = None) -> SoakReport:
    """Cycle through a speech turn (ASR, Whisper translation, Piper) and typed turns
    (phrasebook with Piper, phrasebook with espeak-ng); measure RSS after warm-up and at the end."""
    pipeline = Pipeline(engines or Engines())
    cycle = itertools.cycle([
        Turn(target_lang="en", audio=load_audio(SOAK_CLIP), candidates=("en", "ko")),
        Turn(target_lang="en", source_lang="ko", text="잠시만 기다려 주세요."),
        Turn(target_lang="ko", source_lang="en", text="Where is the restroom?"),
    ])
    start = time.monotonic()
    failed = 0
    baseline = 0.0
    for index in range(warmup_turns + turns):
        if index == warmup_turns:
            baseline = rss_mb()
        *_, last = pipeline.run(next(cycle))
        failed += not isinstance(last, Done)
    end = rss_mb()
    return SoakReport(turns, warmup_turns, round(baseline, 1), round(end, 1),
                      round(100 * (end - baseline) / baseline, 2), failed, round(time.monotonic() - start, 1))
