"""Conversation state: the two sides and their languages, the turns, retraction, wipe and idleness.

Qt-free and kept in memory only. The GUI feeds pipeline events in with ``apply`` and renders
what the turns say; ``wipe`` forgets every word at the end of a session. ``Statistics``
outlives sessions but holds counts and timings only, never content.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Literal

from kiosk.turn.pipeline import Done, Event, Failed, Speaking, Transcribed, Translated

Side = Literal["resident", "officer"]
Origin = Literal["speech", "typed", "phrase"]
TurnState = Literal["pending", "done", "failed", "retracted"]
SIDES: tuple[Side, Side] = ("resident", "officer")


def other_side(side: Side) -> Side:
    return "officer" if side == "resident" else "resident"


@dataclass
class TurnRecord:
    """One thing one side said (or typed, or picked from the phrasebook) and its translation."""

    id: int
    side: Side
    origin: Origin
    source_lang: str
    target_lang: str
    original: str = ""
    translation: str = ""
    engine: str = ""
    curated: bool = False
    back_translation: str | None = None
    state: TurnState = "pending"
    error_kind: str | None = None
    speaking: bool = False
    speech_unavailable: bool = False

    @property
    def machine_translated(self) -> bool:
        return bool(self.translation) and not self.curated and self.engine != "identity"


@dataclass(frozen=True)
class StatsSnapshot:
    sessions: int
    turns: int
    by_origin: dict[str, int]
    failed: int
    retracted: int
    median_first_audio_s: float | None
    median_total_s: float | None


@dataclass
class Statistics:
    """Anonymous counters since start-up: how many turns, how they ended, how long they took."""

    sessions: int = 0
    by_origin: Counter = field(default_factory=Counter)
    failed: int = 0
    retracted: int = 0
    first_audio_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)

    def record_done(self, origin: Origin, timings: dict[str, float | None]) -> None:
        self.by_origin[origin] += 1
        if timings.get("tts_first_audio_s") is not None:
            self.first_audio_s.append(timings["tts_first_audio_s"])
        if timings.get("total_s") is not None:
            self.total_s.append(timings["total_s"])

    def snapshot(self) -> StatsSnapshot:
        def median(values: list[float]) -> float | None:
            return statistics.median(values) if values else None

        return StatsSnapshot(
            sessions=self.sessions,
            turns=sum(self.by_origin.values()),
            by_origin=dict(self.by_origin),
            failed=self.failed,
            retracted=self.retracted,
            median_first_audio_s=median(self.first_audio_s),
            median_total_s=median(self.total_s),
        )


class Session:
    """One conversation between a resident and an officer, from language choice to "Done"."""

    def __init__(self, resident_language: str, officer_language: str = "ko",
                 stats: Statistics | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._languages: dict[Side, str] = {"resident": resident_language, "officer": officer_language}
        self._turns: list[TurnRecord] = []
        self._next_id = 1
        self._clock = clock
        self._last_activity = clock()
        self.stats = stats if stats is not None else Statistics()
        self.stats.sessions += 1

    @property
    def turns(self) -> list[TurnRecord]:
        return list(self._turns)

    def language(self, side: Side) -> str:
        return self._languages[side]

    def change_resident_language(self, language: str) -> None:
        self._languages["resident"] = language
        self.touch()

    def start_turn(self, side: Side, origin: Origin, text: str = "", target_lang: str | None = None) -> TurnRecord:
        """A new turn from ``side``, into the other side's language unless ``target_lang`` says otherwise."""
        target = target_lang or self.language(other_side(side))
        turn = TurnRecord(self._next_id, side, origin, self.language(side), target, original=text.strip())
        self._next_id += 1
        self._turns.append(turn)
        self.touch()
        return turn

    def find(self, turn_id: int) -> TurnRecord | None:
        return next((turn for turn in self._turns if turn.id == turn_id), None)

    def latest(self, side: Side) -> TurnRecord | None:
        return next((turn for turn in reversed(self._turns) if turn.side == side and turn.state != "retracted"), None)

    def apply(self, turn_id: int, event: Event) -> TurnRecord | None:
        """Record what a pipeline event says about a turn; unknown, retracted or ended turns are ignored."""
        turn = self.find(turn_id)
        if turn is None or turn.state in ("retracted", "done", "failed"):
            return None
        if isinstance(event, Transcribed):
            turn.original = event.transcript.text
            turn.source_lang = event.transcript.language
        elif isinstance(event, Translated):
            turn.translation = event.translation.text
            turn.engine = event.translation.engine
            turn.curated = event.translation.curated
        elif isinstance(event, Speaking):
            turn.speaking = True
        elif isinstance(event, Done):
            turn.state = "done"
            turn.speech_unavailable = event.result.speech_unavailable is not None
            self.stats.record_done(turn.origin, event.result.timings)
        elif isinstance(event, Failed):
            turn.state = "failed"
            turn.error_kind = _error_kind(event)
            self.stats.failed += 1
        self.touch()
        return turn

    def finished_speaking(self, turn_id: int) -> TurnRecord | None:
        """The turn's job ended; a translated turn whose speech was stopped early counts as done."""
        turn = self.find(turn_id)
        if turn is not None:
            turn.speaking = False
            if turn.state == "pending" and turn.translation:
                turn.state = "done"
        return turn

    def set_back_translation(self, turn_id: int, text: str) -> TurnRecord | None:
        turn = self.find(turn_id)
        if turn is None or turn.state != "done":
            return None
        turn.back_translation = text
        return turn

    def retract(self, turn_id: int) -> TurnRecord | None:
        """The resident says the kiosk got it wrong: forget the words, keep a withdrawn marker."""
        turn = self.find(turn_id)
        if turn is None or turn.state == "retracted":
            return None
        turn.state = "retracted"
        turn.original = turn.translation = ""
        turn.back_translation = None
        turn.speaking = False
        self.stats.retracted += 1
        self.touch()
        return turn

    def touch(self) -> None:
        self._last_activity = self._clock()

    def idle_s(self) -> float:
        return self._clock() - self._last_activity

    def wipe(self) -> None:
        """Forget every word of the conversation (called at "Done" and on idle timeout)."""
        for turn in self._turns:
            turn.original = turn.translation = ""
            turn.back_translation = None
        self._turns.clear()


def _error_kind(event: Failed) -> str:
    """The failure the screen explains (``error.<code>`` in the UI strings)."""
    return event.code.value
