"""`kiosk soak`: many turns in one process, to show that memory does not grow."""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from asr.audio import load_audio
from kiosk.store.catalog import ASSETS_DIR
from kiosk.turn.engines import Engines
from kiosk.turn.heap import release_free_memory
from kiosk.turn.pipeline import Done, Pipeline, Turn

SOAK_CLIP = ASSETS_DIR / "samples" / "en_librivox_austen_0880.wav"


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def _held_mb() -> float:
    """RSS once glibc has handed back what threads freed: a leak is memory still held."""
    release_free_memory()
    return rss_mb()


@dataclass(frozen=True)
class SoakReport:
    turns: int
    warmup_turns: int
    rss_after_warmup_mb: float
    rss_end_mb: float
    growth_percent: float
    # The median growth of one cycle of turns, scaled to 1,000 turns. A leak grows every cycle;
    # a buffer that grows once to a larger size (whisper-base did so once, +43 MB, at a random
    # turn between the 10th and the 30th) is one cycle of many and leaves the median at zero.
    growth_per_1000_turns_mb: float
    failed_turns: int
    seconds: float


def soak(turns: int, warmup_turns: int = 20, engines: Engines | None = None) -> SoakReport:
    """Cycle through a speech turn (ASR, Whisper translation, Piper) and typed turns
    (phrasebook with Piper, phrasebook with espeak-ng); measure RSS after warm-up, after each
    cycle and at the end."""
    pipeline = Pipeline(engines or Engines())
    kinds = [
        Turn(target_lang="en", audio=load_audio(SOAK_CLIP), candidates=("en", "ko")),
        Turn(target_lang="en", source_lang="ko", text="잠시만 기다려 주세요."),
        Turn(target_lang="ko", source_lang="en", text="Where is the restroom?"),
    ]
    cycle = itertools.cycle(kinds)
    start = time.monotonic()
    failed = 0
    held: list[float] = []  # at the baseline and after each whole cycle of measured turns
    for index in range(warmup_turns + turns):
        measured = index - warmup_turns
        if measured >= 0 and measured % len(kinds) == 0:
            held.append(_held_mb())
        *_, last = pipeline.run(next(cycle))
        failed += not isinstance(last, Done)
    end = _held_mb()
    baseline = held[0]
    steps = [after - before for before, after in itertools.pairwise(held + [end])]
    per_turn = statistics.median(steps) / len(kinds) if len(steps) > 1 else (end - baseline) / turns
    return SoakReport(turns, warmup_turns, round(baseline, 1), round(end, 1),
                      round(100 * (end - baseline) / baseline, 2), round(1000 * per_turn, 1), failed,
                      round(time.monotonic() - start, 1))
