"""The one inference worker: pipeline turns, listening and playback, off the GUI thread.

The GUI sends commands (``submit``) and receives typed messages through one Qt signal; a
signal emitted from this thread reaches GUI-thread slots as a queued call, so the GUI thread
only renders. Engines load and warm up here in the background, one step at a time, and any
command waiting in the queue goes before the next warm-up step, so a typed turn is not held
up by the speech model loading. ``end_utterance``, ``cancel`` and ``stop_speaking`` are safe
to call from the GUI thread while a command runs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

from PySide6.QtCore import QObject, Signal

from kiosk.audio.devices import AudioDeviceError, devices
from kiosk.audio.listener import AudioSettings, Listener
from kiosk.audio.player import Player
from kiosk.errors import ErrorCode
from kiosk.store.models import ModelStore
from kiosk.turn.capability import levels
from kiosk.turn.coverage import coverage, declared_router, log_coverage
from kiosk.turn.pipeline import Audio, Done, Failed, HeadStart, Pipeline, Translated, Turn
from kiosk.turn.settings import Settings
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
from tts import SpeechChunk

log = logging.getLogger(__name__)

# A hands-free listen that hears nothing for this long gives up (the idle timeout resets later).
LISTEN_TIMEOUT_S = 60.0
_LEVEL_INTERVAL_S = 0.05


class WorkerSignals(QObject):
    message = Signal(object)


@dataclass
class _JobControl:
    cancel: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


_STOP = object()


class Worker:
    def __init__(self, settings: Settings = Settings(), *, engines=None, audio: AudioSettings | None = AudioSettings(),
                 warm_up_languages: tuple[str, ...] | None = (), store: ModelStore | None = None) -> None:
        """``audio`` None turns live audio off (screenshots, tests, machines without sound: files and text
        only). ``warm_up_languages`` None skips the background warm-up (engines then load on first use).
        ``store``: the model store, whose start-up refusals the engines obey; default: the given
        engines' store, else the one the environment describes (read now)."""
        if store is None:
            if engines is not None:
                store = engines.store
            else:
                from kiosk.store.environment import from_environment

                store = from_environment()
        self.store = store
        self.asr_models: dict[str, str] = {}  # the staff's recognition model per language (the GUI sets it)
        self.signals = WorkerSignals()
        self._settings = settings
        self._engines = engines
        self._audio = audio
        self._queue: queue.Queue = queue.Queue()
        self._controls: dict[int, _JobControl] = {}
        self._controls_lock = threading.Lock()
        self._warm_steps: list[Callable[[], None]] = \
            [] if warm_up_languages is None else self._warm_up_steps(warm_up_languages)
        self._warm_total = len(self._warm_steps)
        self._listener = None
        self._listener_mode: ListenMode | None = None
        self._running_job: int | None = None  # the job the worker thread is running now
        self._head_start: HeadStart | None = None  # the first target's turn, begun on a pause
        self._player = None
        self._player_lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._last_level = 0.0
        self._servers_sent: tuple[dict, ...] = ()  # the last server status sent to the GUI
        self._thread = threading.Thread(target=self._loop, name="kiosk-worker", daemon=True)

    # --- GUI thread API ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, command) -> None:
        if isinstance(command, (TurnRequest, SpeakRequest)):
            with self._controls_lock:
                self._controls[command.job] = _JobControl()
        self._queue.put(command)

    def end_utterance(self, job: int) -> None:
        """The speaker is done (button released, or hands-free tapped off): finish and translate."""
        control = self._control(job)
        if control is not None:
            control.released.set()

    def cancel(self, job: int) -> None:
        control = self._control(job)
        if control is not None:
            control.cancel.set()
            if job == self._running_job and self._engines is not None:
                self._engines.interrupt_translation()

    def cancel_all(self) -> None:
        """Abandon every queued and running job (session end): no result of theirs will arrive."""
        with self._controls_lock:
            for control in self._controls.values():
                control.cancel.set()
        if self._running_job is not None and self._engines is not None:
            self._engines.interrupt_translation()
        self.stop_speaking()

    def stop_speaking(self) -> None:
        self._stop_requested.set()
        with self._player_lock:
            player = self._player
        if player is not None:
            player.stop()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        self.cancel_all()
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    # --- worker thread ----------------------------------------------------------------------

    def _emit(self, message) -> None:
        self.signals.message.emit(message)

    def _control(self, job: int) -> _JobControl | None:
        with self._controls_lock:
            return self._controls.get(job)

    @property
    def engines(self):
        if self._engines is None:
            from kiosk.turn.engines import Engines

            self._engines = Engines(self._settings, store=self.store)
        return self._engines

    def _warm_up_steps(self, languages: tuple[str, ...]) -> list[Callable[[], None]]:
        def verification() -> None:
            # Models failing their sha256 are refused before anything loads; staff see which.
            self.store.startup_check()
            self._emit(self._models_checked(full=False, log_it=True))

        def loading() -> None:
            self.engines.load(languages)

        def warming() -> None:
            self.engines.exercise(languages)
            self._emit(self._models_checked(full=False))  # the staff panel shows what is warm

        return [verification, loading, warming]

    def _loop(self) -> None:
        self._emit(EnginesLoading(0, self._warm_total) if self._warm_steps else EnginesReady())
        while True:
            try:
                command = self._queue.get(block=not self._warm_steps)
            except queue.Empty:
                self._warm_up_next()
                continue
            if command is _STOP:
                break
            self._running_job = getattr(command, "job", None)
            try:
                self._handle(command)
            except Exception as error:  # the worker must outlive any one command
                log.error("worker command %s failed: %s", type(command).__name__, type(error).__name__,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                if isinstance(command, (TurnRequest, SpeakRequest)):
                    # Every target's turn ends with the friendly message; those already done keep their answer.
                    targets = command.targets if isinstance(command, TurnRequest) else (command.lang,)
                    for target in targets:
                        self._emit(TurnEvent(command.job, target, Failed(0.0, "internal error", ErrorCode.INTERNAL)))
            finally:
                if isinstance(command, (TurnRequest, SpeakRequest)):
                    with self._controls_lock:
                        self._controls.pop(command.job, None)
                    self._emit(JobFinished(command.job))
                self._running_job = None
        self._close_audio()

    def _warm_up_next(self) -> None:
        step = self._warm_steps.pop(0)
        try:
            step()
        except Exception as error:  # a missing model is reported when a turn needs it
            log.warning("warm-up step %s failed: %s", step.__name__, type(error).__name__)
        done = self._warm_total - len(self._warm_steps)
        self._emit(EnginesReady() if not self._warm_steps else EnginesLoading(done, self._warm_total))

    def _handle(self, command) -> None:
        if isinstance(command, TurnRequest):
            self._turn(command)
            self._report_servers(probe=False)
        elif isinstance(command, SpeakRequest):
            turn = Turn(target_lang=command.lang, source_lang=command.lang, text=command.text, speech=command.speech)
            self._run(command.job, command.lang, turn, self._control(command.job) or _JobControl())
            self._report_servers(probe=False)
        elif isinstance(command, CheckServers):
            self._report_servers(probe=True)
        elif isinstance(command, ListDevices):
            self._list_devices()
        elif isinstance(command, CheckModels):
            self._emit(self._models_checked(full=command.full))
        elif isinstance(command, UseDevices):
            self._close_audio()
            if self._audio is not None:
                self._audio = replace(self._audio, input_device=command.input_device,
                                      output_device=command.output_device)

    def _report_servers(self, probe: bool) -> None:
        """The servers' health for the staff panel and the About card: probed on request; after a
        turn, what the turn learnt, sent only when it changed (a kiosk without servers sends nothing then)."""
        servers = self.engines.servers
        status = tuple(servers.check() if probe else servers.status())
        if probe or status != self._servers_sent:
            self._servers_sent = status
            self._emit(ServersChecked(status))

    def _models_checked(self, full: bool, log_it: bool = False) -> ModelsChecked:
        """The store's rows and the translation coverage (the start-up log names what serves each pair)."""
        rows = self.store.inventory(full=full)
        pairs = coverage(declared_router(self.store), self.store)
        if log_it:
            log_coverage(pairs)
        loaded = self._engines.loaded() if self._engines is not None else ()
        return ModelsChecked(rows, full, tuple(pairs), tuple(levels(self.store, self.asr_models).items()), loaded)

    def _turn(self, request: TurnRequest) -> None:
        control = self._control(request.job) or _JobControl()
        if control.cancel.is_set():
            return
        audio, speech_ended_at = request.audio, request.speech_ended_at
        if request.listen is not None:
            utterance = self._listen(request, control)
            if utterance is None:
                self._drop_head_start()
                return
            audio, speech_ended_at = utterance.audio, utterance.speech_ended_at
        for index, target in enumerate(request.targets):
            if control.cancel.is_set():
                self._drop_head_start()
                return
            turn = self._pipeline_turn(request, target, audio, speech_ended_at if index == 0 else None)
            head_start = self._head_start if index == 0 else None
            self._head_start = None
            done = self._run(request.job, target, turn, control, head_start)
            if done is None:
                continue
            if index == 0 and request.back_translate and not control.cancel.is_set():
                self._back_translate(request.job, done)

    @staticmethod
    def _pipeline_turn(request: TurnRequest, target: str, audio, speech_ended_at: float | None) -> Turn:
        return Turn(target_lang=target, source_lang=request.source_lang, audio=audio, text=request.text,
                    speech=request.speech, speak=request.speak, speech_ended_at=speech_ended_at)

    def _start_early(self, request: TurnRequest, so_far) -> None:
        """On a pause in live speech: begin the first target's turn (kiosk.turn.pipeline.HeadStart)."""
        self._drop_head_start()
        turn = self._pipeline_turn(request, request.targets[0], so_far.audio, so_far.speech_ended_at)
        self._head_start = Pipeline(self.engines).start_early(turn)

    def _drop_head_start(self) -> None:
        if self._head_start is not None:
            self._head_start.drop()
            self._head_start = None

    def _run(self, job: int, target: str, turn: Turn, control: _JobControl,
             head_start: HeadStart | None = None) -> Done | None:
        """Run one pipeline turn, forwarding its events and playing its audio as it streams."""
        outcome: list[Done] = []

        def chunks() -> Iterator[SpeechChunk]:
            for event in Pipeline(self.engines).run(turn, head_start):
                if control.cancel.is_set():
                    return
                if isinstance(event, Audio):
                    yield event.chunk
                    continue
                if isinstance(event, Done):
                    outcome.append(event)
                self._emit(TurnEvent(job, target, event))

        stream = chunks()
        self._stop_requested.clear()
        player = self._player_for(job) if turn.speak else None
        if player is not None:
            try:
                player.play(stream)
            except AudioDeviceError as error:
                log.warning("playback failed: %s", type(error).__name__)
                self._drop_player()
                self._emit(DeviceUnavailable(job, "speaker"))
        if self._stop_requested.is_set():
            stream.close()  # stopped: the rest of the answer is not synthesised (the GUI settles the turn)
        for _ in stream:  # without a speaker (or after it failed) the turn still runs to its end
            pass
        return outcome[0] if outcome else None

    def _back_translate(self, job: int, done: Done) -> None:
        """Render the translation back into the speaker's language, for the "we understood" check."""
        result = done.result
        if not result.translation or result.mt_engine == "identity":
            return
        turn = Turn(target_lang=result.source_lang, source_lang=result.target_lang, text=result.translation,
                    speak=False)
        for event in Pipeline(self.engines).run(turn):
            if isinstance(event, Translated) and event.translation.ok:
                self._emit(BackTranslated(job, event.translation.text))

    # --- audio devices (PortAudio itself loads on first use: live audio is optional) ----------------

    def _on_level(self, level) -> None:
        now = time.monotonic()
        if now - self._last_level >= _LEVEL_INTERVAL_S:
            self._last_level = now
            self._emit(LevelChanged(level))

    def _listen(self, request: TurnRequest, control: _JobControl):
        if self._audio is None:
            self._emit(DeviceUnavailable(request.job, "microphone"))
            return None
        try:
            if self._listener is None or self._listener_mode != request.listen:
                self._close_listener()
                self._listener = Listener(replace(self._audio, mode=request.listen), on_level=self._on_level)
                self._listener_mode = request.listen
                self._drop_player()  # the next player's echo guard mutes this microphone
            self._emit(ListeningStarted(request.job, request.listen))
            utterance = self._listener.listen(cancel=control.cancel, released=control.released,
                                              timeout_s=LISTEN_TIMEOUT_S,
                                              on_pause=lambda so_far: self._start_early(request, so_far))
        except AudioDeviceError as error:
            log.warning("microphone failed: %s", type(error).__name__)
            self._close_listener()
            self._emit(DeviceUnavailable(request.job, "microphone"))
            return None
        if utterance is None or control.cancel.is_set():
            self._emit(NothingHeard(request.job))
            return None
        self._emit(Heard(request.job, utterance.truncated))
        return utterance

    def _player_for(self, job: int):
        if self._audio is None:
            return None
        with self._player_lock:
            if self._player is not None:
                return self._player
        try:
            player = Player(replace(self._audio, mode=self._listener_mode or "hands-free"), listener=self._listener)
        except AudioDeviceError as error:
            log.warning("speaker unavailable: %s", type(error).__name__)
            self._emit(DeviceUnavailable(job, "speaker"))
            return None
        with self._player_lock:
            self._player = player
        return player

    def _drop_player(self) -> None:
        with self._player_lock:
            self._player = None

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None
                self._listener_mode = None
                self._drop_player()  # the player's echo guard points at the old listener

    def _close_audio(self) -> None:
        self.stop_speaking()
        self._drop_player()
        self._close_listener()

    def _list_devices(self) -> None:
        try:
            found = devices()
        except AudioDeviceError as error:
            log.warning("cannot list audio devices: %s", type(error).__name__)
            self._emit(DevicesListed((), (), False))
            return
        self._emit(DevicesListed(
            tuple(d["name"] for d in found if d.get("max_input_channels", 0) > 0),
            tuple(d["name"] for d in found if d.get("max_output_channels", 0) > 0),
            True,
        ))

