"""Between the screens and the worker: turns user intents into worker commands and worker
messages into session updates and a status.

Qt signals only go out from here; no engine is touched. Jobs are numbered here, and a message
for a job this controller no longer tracks (a finished session, a cancelled press) is dropped,
so nothing from an erased conversation can reappear.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PySide6.QtCore import QObject, Signal

from kiosk.staff.config import KioskConfig
from kiosk.turn import transcripts
from kiosk.turn.pipeline import Done, Failed, Speaking, Transcribing, Translating
from kiosk.turn.session import Origin, Session, Side, Statistics, other_side
from kiosk.ui.messages import (
    BackTranslated,
    CheckModels,
    CheckServers,
    DevicesListed,
    DeviceUnavailable,
    EnginesLoading,
    EnginesReady,
    Heard,
    JobFinished,
    LevelChanged,
    ListDevices,
    ListeningStarted,
    ListenMode,
    ModelsChecked,
    NothingHeard,
    ServersChecked,
    SpeakRequest,
    TurnEvent,
    TurnRequest,
    UseDevices,
)
from kiosk.ui.worker import Worker
from tts import SynthesisConfig

log = logging.getLogger(__name__)

StatusKind = Literal["loading", "ready", "listening", "recognising", "working", "speaking", "error"]


@dataclass(frozen=True)
class Status:
    kind: StatusKind
    side: Side | None = None
    mode: ListenMode | None = None
    message: str | None = None  # an i18n key: the error, or a notice such as "please say it again"


@dataclass
class _Job:
    kind: Literal["turn", "replay", "sample"]
    side: Side
    origin: Origin
    targets: tuple[str, ...]
    listen: ListenMode | None = None
    turns: dict[str, int] = field(default_factory=dict)  # target language -> turn id


class Controller(QObject):
    turn_changed = Signal(int)
    conversation_reset = Signal()
    status_changed = Signal(object)
    level_changed = Signal(object)
    engines_progress = Signal(int, int)
    devices_listed = Signal(object)
    models_checked = Signal(object)
    servers_checked = Signal(object)  # ServersChecked

    def __init__(self, worker: Worker, config: KioskConfig, stats: Statistics | None = None) -> None:
        super().__init__()
        self.worker = worker
        self.config = config
        self.stats = stats or Statistics()
        self.session: Session | None = None
        self.status = Status("loading")
        self.engines_ready = False
        self.hands_free: Side | None = None
        self.speech_rate = config.speech_rate
        self.volume = config.volume
        self._jobs: dict[int, _Job] = {}
        self._press_job: dict[Side, int] = {}
        self._ids = itertools.count(1)
        worker.signals.message.connect(self._on_message)

    # --- session ---------------------------------------------------------------------------

    def start_session(self, resident_lang: str) -> Session:
        self.end_session()
        self.session = Session(resident_lang, self.config.officer_language, self.stats)
        self.conversation_reset.emit()
        return self.session

    def end_session(self) -> None:
        """Stop everything under way and forget the conversation (Done, idle timeout)."""
        self.worker.cancel_all()
        self._jobs.clear()
        self._press_job.clear()
        self.hands_free = None
        if self.session is not None:
            self.session.wipe()
            self.session = None
            self.conversation_reset.emit()
        self.speech_rate, self.volume = self.config.speech_rate, self.config.volume
        self._set_status(Status("ready" if self.engines_ready else "loading"))

    def change_resident_language(self, lang: str) -> None:
        if self.session is not None:
            self._interrupt()
            self.session.change_resident_language(lang)
            self.conversation_reset.emit()

    def apply_config(self, config: KioskConfig) -> None:
        self.config = config
        self.worker.submit(UseDevices(config.input_device, config.output_device))

    def speech(self) -> SynthesisConfig:
        return SynthesisConfig(rate=self.speech_rate, volume=self.volume)

    # --- turns -----------------------------------------------------------------------------

    def say_text(self, side: Side, text: str, origin: Origin = "typed",
                 targets: tuple[str, ...] | None = None) -> int | None:
        text = text.strip()
        if not text or self.session is None:
            return None
        self._interrupt()
        job_id, job = self._new_job("turn", side, origin, targets)
        self._open_turns(job, text)
        self.worker.submit(TurnRequest(job_id, self.session.language(side), job.targets, text=text,
                                       speech=self.speech(), back_translate=self._checks_back(side, origin)))
        self._set_status(Status("working", side))
        return job_id

    def say_audio(self, side: Side, audio: np.ndarray, speech_ended_at: float | None = None,
                  targets: tuple[str, ...] | None = None) -> int | None:
        if self.session is None:
            return None
        self._interrupt()
        job_id, job = self._new_job("turn", side, "speech", targets)
        self._open_turns(job)
        self.worker.submit(TurnRequest(job_id, self.session.language(side), job.targets, audio=audio,
                                       speech_ended_at=speech_ended_at, speech=self.speech(),
                                       back_translate=self._checks_back(side, "speech")))
        self._set_status(Status("working", side))
        return job_id

    def talk_pressed(self, side: Side, targets: tuple[str, ...] | None = None) -> None:
        """A talk button went down: start listening at once (push-to-talk until we know better)."""
        if self.session is None:
            return
        if self.hands_free == side:
            # A press while hands-free listens on this side turns it off; what was heard is kept.
            self.hands_free = None
            for job_id, job in self._jobs.items():
                if job.listen == "hands-free" and job.side == side:
                    self.worker.end_utterance(job_id)
            return
        self._interrupt()
        self._press_job[side] = self._listen(side, "push-to-talk", targets)

    def talk_released(self, side: Side, tap: bool) -> None:
        job_id = self._press_job.pop(side, None)
        if job_id is None:
            return
        if not tap:
            self.worker.end_utterance(job_id)
            return
        # A tap: drop the push-to-talk listen and listen hands-free until tapped again.
        targets = self._jobs[job_id].targets if job_id in self._jobs else None
        self.worker.cancel(job_id)
        self._forget(job_id)
        self.hands_free = side
        self._listen(side, "hands-free", targets)

    def replay(self, turn_id: int) -> None:
        turn = self.session.find(turn_id) if self.session else None
        if turn is None or not turn.translation:
            return
        if turn.speaking:
            self.stop_speaking()
            return
        self._interrupt()
        job_id, job = self._new_job("replay", turn.side, turn.origin, (turn.target_lang,))
        job.turns[turn.target_lang] = turn_id
        self.worker.submit(SpeakRequest(job_id, turn.translation, turn.target_lang, self.speech()))

    def speak_sample(self, lang: str, text: str) -> None:
        """Say a sample sentence so the speed and volume can be judged (accessibility)."""
        self._interrupt()
        job_id, _job = self._new_job("sample", "resident", "typed", (lang,))
        self.worker.submit(SpeakRequest(job_id, text, lang, self.speech()))

    def retract(self, turn_id: int) -> None:
        """"That's not right": withdraw the turn and ask the resident to say it again."""
        if self.session is None:
            return
        for job_id, job in list(self._jobs.items()):
            if turn_id in job.turns.values():
                self.worker.cancel(job_id)
                self._forget(job_id)
        self.worker.stop_speaking()
        if self.session.retract(turn_id) is not None:
            self.turn_changed.emit(turn_id)
            self._set_status(Status("ready", "resident", message="bubble.say_again"))

    def stop_speaking(self) -> None:
        self.worker.stop_speaking()

    def busy(self) -> bool:
        """Whether a job is queued or running."""
        return bool(self._jobs)

    # --- staff -----------------------------------------------------------------------------

    def list_devices(self) -> None:
        self.worker.submit(ListDevices())

    def check_models(self, full: bool) -> None:
        self.worker.submit(CheckModels(full))

    def check_servers(self) -> None:
        self.worker.submit(CheckServers())

    # --- internals -------------------------------------------------------------------------

    def _new_job(self, kind, side: Side, origin: Origin, targets: tuple[str, ...] | None) -> tuple[int, _Job]:
        if targets is None:
            targets = (self.session.language(other_side(side)),) if self.session else ()
        job_id = next(self._ids)
        job = _Job(kind, side, origin, targets)
        self._jobs[job_id] = job
        return job_id, job

    def _open_turns(self, job: _Job, text: str = "") -> None:
        for target in job.targets:
            job.turns[target] = self.session.start_turn(job.side, job.origin, text, target_lang=target).id
            self.turn_changed.emit(job.turns[target])

    def _listen(self, side: Side, mode: ListenMode, targets: tuple[str, ...] | None) -> int:
        job_id, job = self._new_job("turn", side, "speech", targets)
        job.listen = mode
        self.worker.stop_speaking()
        self.worker.submit(TurnRequest(job_id, self.session.language(side), job.targets, listen=mode,
                                       speech=self.speech(), back_translate=self._checks_back(side, "speech")))
        return job_id

    def _checks_back(self, side: Side, origin: Origin) -> bool:
        # Verified phrases need no check; the resident's own words do.
        return side == "resident" and origin != "phrase" and self.session is not None \
            and self.session.language("resident") != self.session.language("officer")

    def _interrupt(self) -> None:
        """A new action starts: stop listening and speaking (one microphone, one speaker)."""
        self.hands_free = None
        for job_id, job in list(self._jobs.items()):
            if job.listen is not None and not job.turns:
                self.worker.cancel(job_id)
                self._forget(job_id)
        self._press_job.clear()
        self.worker.stop_speaking()

    def _forget(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)

    def _set_status(self, status: Status) -> None:
        self.status = status
        self.status_changed.emit(status)

    def _on_message(self, message) -> None:
        if isinstance(message, EnginesLoading):
            self.engines_progress.emit(message.step, message.steps)
            return
        if isinstance(message, EnginesReady):
            if not self.engines_ready:
                log.info("engines ready")
            self.engines_ready = True
            self.engines_progress.emit(1, 1)
            if self.status.kind == "loading":
                self._set_status(Status("ready"))
            return
        if isinstance(message, LevelChanged):
            self.level_changed.emit(message.level)
            return
        if isinstance(message, DevicesListed):
            self.devices_listed.emit(message)
            return
        if isinstance(message, ModelsChecked):
            self.models_checked.emit(message)
            return
        if isinstance(message, ServersChecked):
            self.servers_checked.emit(message)
            return
        job = self._jobs.get(getattr(message, "job", None))
        if job is None:
            if isinstance(message, DeviceUnavailable) and message.job is None:
                self._set_status(Status("error", message=f"error.no-{message.device}"))
            return
        job_id = message.job
        if self.session is not None:
            self.session.touch()
        if isinstance(message, ListeningStarted):
            self._set_status(Status("listening", job.side, message.mode))
        elif isinstance(message, Heard):
            self._open_turns(job)
            self._set_status(Status("working", job.side))
        elif isinstance(message, NothingHeard):
            if self.hands_free != job.side:
                self._set_status(Status("ready"))
        elif isinstance(message, DeviceUnavailable):
            self.hands_free = None
            self._set_status(Status("error", job.side, message=f"error.no-{message.device}"))
        elif isinstance(message, TurnEvent):
            self._on_turn_event(job, message)
        elif isinstance(message, BackTranslated):
            turn_id = job.turns.get(job.targets[0])
            if turn_id is not None and self.session.set_back_translation(turn_id, message.text):
                self.turn_changed.emit(turn_id)
        elif isinstance(message, JobFinished):
            self._on_job_finished(job_id, job)

    def _on_turn_event(self, job: _Job, message: TurnEvent) -> None:
        turn_id = job.turns.get(message.target)
        event = message.event
        if job.kind != "turn":
            # A replay or a sample only changes what is playing, never the turn itself.
            if isinstance(event, Speaking):
                if turn_id is not None and self.session and self.session.find(turn_id):
                    self.session.find(turn_id).speaking = True
                    self.turn_changed.emit(turn_id)
                self._set_status(Status("speaking", other_side(job.side)))
            elif isinstance(event, Failed):
                self._set_status(Status("error", job.side, message="error.internal"))
            return
        if turn_id is None or self.session is None:
            return
        turn = self.session.apply(turn_id, event)
        if turn is None:
            return
        self.turn_changed.emit(turn_id)
        if isinstance(event, Transcribing):
            self._set_status(Status("recognising", job.side))
        elif isinstance(event, Translating):
            self._set_status(Status("working", job.side))
        elif isinstance(event, Speaking):
            self._set_status(Status("speaking", other_side(job.side)))
        elif isinstance(event, Failed):
            self._set_status(Status("error", job.side, message=f"error.{turn.error_kind}"))
        elif isinstance(event, Done) and self.config.keep_transcripts:
            self._keep_transcript(turn)

    def _keep_transcript(self, turn) -> None:
        try:
            transcripts.append(turn)
        except OSError as error:  # the conversation goes on; staff see the problem in the log
            log.warning("cannot keep the transcript: %s", error.strerror or type(error).__name__)

    def _on_job_finished(self, job_id: int, job: _Job) -> None:
        self._forget(job_id)
        if self.session is not None:
            for turn_id in job.turns.values():
                if self.session.finished_speaking(turn_id) is not None:
                    self.turn_changed.emit(turn_id)
        if self.status.kind != "error":
            self._set_status(Status("ready"))
        if job.listen == "hands-free" and self.hands_free == job.side and self.session is not None:
            self._listen(job.side, "hands-free", job.targets)
