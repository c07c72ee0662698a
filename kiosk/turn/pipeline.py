"""One conversation turn as stages (ASR -> MT -> TTS) that emit typed events with timings.

Every event carries ``t``: seconds since the speaker stopped (the moment the last input
sample reached the pipeline). The GUI turns events into Qt signals, the CLI prints them as
JSON and the benchmark aggregates them. Events never carry more than the turn itself: the
pipeline keeps nothing once the generator is done.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from asr import RecognitionTimeout, Transcript
from kiosk.errors import BadInput, ErrorCode, KioskError, ModelMissing
from kiosk.store import catalog
from kiosk.store.catalog import Catalog
from kiosk.turn.engines import Engines
from kiosk.turn.heap import release_free_memory
from mt import InvalidInputError, Translation, TranslationCancelled
from mt.seq2seq import join_sentences
from text.sentences import split_sentences
from tts import SpeechChunk, SpeechUnavailable, SynthesisConfig

log = logging.getLogger(__name__)

AUTO = "auto"


@dataclass(frozen=True)
class Event:
    t: float

    @property
    def kind(self) -> str:
        return _KINDS[type(self)]


@dataclass(frozen=True)
class SpeechEnded(Event):
    duration_s: float


@dataclass(frozen=True)
class Transcribing(Event):
    """Recognition begins."""


@dataclass(frozen=True)
class Translating(Event):
    """Translation begins."""


@dataclass(frozen=True)
class Synthesising(Event):
    """Speech synthesis of the answer begins."""


@dataclass(frozen=True)
class Transcribed(Event):
    transcript: Transcript


@dataclass(frozen=True)
class Translated(Event):
    translation: Translation


@dataclass(frozen=True)
class Speaking(Event):
    """The first audio sample of the answer is ready to play."""

    voice: str


@dataclass(frozen=True)
class Audio(Event):
    chunk: SpeechChunk


@dataclass(frozen=True)
class Done(Event):
    result: "TurnResult"


@dataclass(frozen=True)
class Failed(Event):
    reason: str  # for people; switch on ``code``
    code: ErrorCode
    model_id: str | None = None

    @property
    def exit_code(self) -> int:
        return self.code.exit_code

    @property
    def error_kind(self) -> str:
        return self.code.kind


_KINDS = {
    SpeechEnded: "speech-ended",
    Transcribing: "transcribing",
    Transcribed: "transcribed",
    Translating: "translating",
    Translated: "translated",
    Synthesising: "synthesising",
    Speaking: "speaking",
    Audio: "audio",
    Done: "done",
    Failed: "failed",
}


@dataclass(frozen=True)
class Turn:
    """What to do: either ``audio`` (16 kHz mono float32) or ``text``, from one language to another."""

    target_lang: str
    source_lang: str = AUTO
    audio: np.ndarray | None = None
    text: str | None = None
    candidates: tuple[str, ...] = ()
    speak: bool = True
    speech: SynthesisConfig = SynthesisConfig()
    # monotonic time the speaker stopped; defaults to when the turn starts
    speech_ended_at: float | None = None


@dataclass(frozen=True)
class TurnResult:
    source_lang: str
    target_lang: str
    transcript: str
    translation: str
    mt_engine: str
    mt_model: str | None
    curated: bool
    pivot: str | None
    voice: str | None
    speech_unavailable: str | None
    timings: dict[str, float | None] = field(default_factory=dict)


class Pipeline:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def start_early(self, turn: Turn) -> "HeadStart":
        """Begin ``turn`` now, in the background, in case the speaker has just finished (see HeadStart)."""
        return HeadStart(self._run(turn), turn)

    def run(self, turn: Turn, head_start: "HeadStart | None" = None) -> Iterator[Event]:
        """Run one turn; always ends with exactly one ``Done`` or ``Failed`` event.

        With a ``head_start`` begun on the same audio, its events are taken over instead
        of doing the work again; a head start on other audio is dropped.
        """
        if head_start is not None and head_start.covers(turn):
            yield from head_start.events()
        else:
            if head_start is not None:
                head_start.drop()
            yield from self._run(turn)
        release_free_memory()

    def _run(self, turn: Turn) -> Iterator[Event]:
        start = turn.speech_ended_at if turn.speech_ended_at is not None else time.monotonic()

        def elapsed() -> float:
            return time.monotonic() - start

        try:
            yield from self._stages(turn, elapsed)
        except KioskError as error:
            yield Failed(elapsed(), str(error), error.code, error.model_id)
        except TranslationCancelled:
            yield Failed(elapsed(), "the turn was cancelled", ErrorCode.CANCELLED)
        except Exception as error:
            # Details go to the log by kind only: the message may quote what the resident said.
            log.error("turn failed: %s", type(error).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
            yield Failed(elapsed(), "Something went wrong; please try again.", ErrorCode.INTERNAL)

    def _stages(self, turn: Turn, elapsed) -> Iterator[Event]:
        target = _check_language(turn.target_lang)
        source = turn.source_lang if turn.source_lang == AUTO else _check_language(turn.source_lang)
        timings: dict[str, float | None] = {"asr_s": None, "mt_s": None, "tts_first_audio_s": None, "total_s": None}

        if turn.audio is not None:
            yield SpeechEnded(elapsed(), turn.audio.size / 16_000)
            asr_start = elapsed()
            yield Transcribing(asr_start)
            # The recognizer first: a missing model is the failure to report, not the languages.
            _, recognizer = self.engines.recognizer_for(None if source == AUTO else source)
            candidates = turn.candidates or self.engines.settings.enabled_languages
            if source == AUTO:
                candidates = self._speech_candidates(candidates)
            try:
                transcript = recognizer.transcribe(
                    turn.audio, language=None if source == AUTO else source, candidates=candidates
                )
            except RecognitionTimeout as error:
                log.info("recognition timed out: %s", error)
                raise BadInput("the speech could not be recognised in time",
                               code=ErrorCode.RECOGNITION_TIMEOUT) from None
            timings["asr_s"] = elapsed() - asr_start
            if transcript.is_empty:
                raise BadInput("no speech was heard in the audio", code=ErrorCode.NO_SPEECH)
            source = transcript.language
            yield Transcribed(elapsed(), transcript)
            text = transcript.text
        else:
            if source == AUTO:
                raise BadInput("typed text needs its language (--from)")
            text = (turn.text or "").strip()
            if not text:
                raise BadInput("the text is empty")

        yield Translating(elapsed())
        translation, voice_id, unavailable = yield from self._translate_and_speak(text, source, target, turn,
                                                                                  elapsed, timings)

        timings["total_s"] = elapsed()
        yield Done(
            elapsed(),
            TurnResult(
                source_lang=source,
                target_lang=target,
                transcript=text,
                translation=translation.text,
                mt_engine=translation.engine,
                mt_model=translation.model_id,
                curated=translation.curated,
                pivot=translation.pivot,
                voice=voice_id,
                speech_unavailable=unavailable,
                timings=timings,
            ),
        )

    def _translate_and_speak(self, text: str, source: str, target: str, turn: Turn, elapsed,
                             timings: dict) -> Iterator[Event]:
        """Translate ``text`` and speak the translation; returns (translation, voice id, why no voice).

        With ``Settings.stream_sentences``, a spoken answer of several sentences is translated one
        sentence at a time and each is spoken as soon as it is translated, so the first audio does
        not wait for the whole translation; each ``Translated`` carries the translation so far. A
        curated phrase, and Whisper's own speech translation, stay whole.
        """
        pieces = [text]
        router = self.engines.router
        if (turn.speak and self.engines.settings.stream_sentences
                and not (router.phrasebook and router.phrasebook.lookup(text, source, target))):
            pieces = split_sentences(text) or [text]
        voice = None
        voice_id = unavailable = None
        done: list[Translation] = []
        mt_s = 0.0
        spoken = False
        for piece in pieces:
            mt_start = elapsed()
            translation = self._translate(piece, source, target, turn)
            mt_s += elapsed() - mt_start
            if translation.ok:
                done.append(translation)
                translation = dataclasses.replace(done[0], text=join_sentences([t.text for t in done], target))
            timings["mt_s"] = mt_s
            yield Translated(elapsed(), translation)
            if not translation.ok:
                raise ModelMissing(recommended_mt_model(self.engines.catalog, source, target), translation.reason or "")
            if turn.speak and done[-1].text:
                if voice is None:
                    voice = self.engines.voice(target)
                if isinstance(voice, SpeechUnavailable):
                    unavailable = voice.reason
                else:
                    voice_id = voice.voice_id
                    if not spoken:
                        yield Synthesising(elapsed())
                    for chunk in voice.synthesize(done[-1].text, turn.speech):
                        if not spoken:
                            spoken = True
                            timings["tts_first_audio_s"] = elapsed()
                            yield Speaking(elapsed(), voice_id)
                        yield Audio(elapsed(), chunk)
            if translation.engine == "whisper":
                break  # Whisper translated the whole utterance at once
        return translation, voice_id, unavailable

    def _speech_candidates(self, candidates: tuple[str, ...]) -> tuple[str, ...]:
        """The languages detection may pick: those of ``candidates`` the kiosk offers speech in
        (not "typing-and-phrases", ``kiosk.turn.capability``); whisper-base takes Uzbek for Russian."""
        offered = self.engines.speech_languages
        kept = tuple(code for code in candidates if code in offered)
        if not kept:
            raise BadInput(f"speech is not recognised in {', '.join(candidates)}; please type instead")
        return kept

    def _translate(self, text: str, source: str, target: str, turn: Turn) -> Translation:
        try:
            translation = self.engines.router.translate(text, source, target)
        except InvalidInputError as error:
            raise BadInput(str(error)) from None
        if translation.ok:
            return translation
        # Whisper can translate speech to English by itself when no MT model covers the pair.
        # Never a model that cannot translate (recognizer_for: the catalogue's translates_to_english).
        whisper = None
        if target == "en" and turn.audio is not None:
            whisper = self.engines.recognizer_for(source, task="translate")
        if whisper is not None:
            asr_id, recognizer = whisper
            try:
                english = recognizer.transcribe(turn.audio, language=source, task="translate")
            except RecognitionTimeout:
                return translation  # no model covers the pair, and Whisper ran out of time
            if not english.is_empty:
                return Translation(english.text, source, target, "whisper", model_id=asr_id)
        return translation


class HeadStart:
    """A turn begun on a pause, before the endpointer is sure that the speaker has finished.

    The endpointer waits ``end_silence_ms`` of silence before it ends an utterance; that wait
    is long enough to recognise and translate much of a short utterance. A head start runs
    the turn's stages in a background thread up to the first audio chunk of the answer and
    holds it there. If the utterance that ends is the one it began on, ``Pipeline.run`` takes
    its events over; if the speaker went on, it is dropped, and the stage running at that
    moment finishes first (CTranslate2 and ONNX calls cannot be interrupted).
    """

    def __init__(self, events: Iterator[Event], turn: Turn) -> None:
        self.turn = turn
        self._events = events
        self._held: list[Event] = []
        self._lock = threading.Lock()
        self._dropped = False
        self._holding = threading.Event()
        threading.Thread(target=self._run_ahead, name="head-start", daemon=True).start()

    def _run_ahead(self) -> None:
        try:
            for event in self._events:
                self._held.append(event)
                if isinstance(event, (Speaking, Done, Failed)) or self._dropped:
                    break
        finally:
            with self._lock:
                self._holding.set()
                if self._dropped:
                    self._events.close()

    def covers(self, turn: Turn) -> bool:
        """Whether ``turn`` is the same work: same audio, languages and speech settings."""
        mine, theirs = self.turn, turn
        if self._dropped or mine.audio is None or theirs.audio is None:
            return False
        return (dataclasses.replace(mine, audio=None, speech_ended_at=None)
                == dataclasses.replace(theirs, audio=None, speech_ended_at=None)
                and np.array_equal(mine.audio, theirs.audio))

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it holds at the first audio chunk (or has ended), waiting up to ``timeout``."""
        return self._holding.wait(timeout)

    def drop(self) -> None:
        with self._lock:
            self._dropped = True
            if self._holding.is_set():
                self._events.close()

    def events(self) -> Iterator[Event]:
        """What the head start has done (waiting for it to reach the first audio), then the rest."""
        self._holding.wait()
        yield from self._held
        if not isinstance(self._held[-1], (Done, Failed)):
            yield from self._events


def recommended_mt_model(known: Catalog, source: str, target: str) -> str:
    """The catalogue's first translation model that covers both languages."""
    for entry in known.models.values():
        if entry.kind.startswith("mt") and {source, target} <= set(entry.languages):
            return entry.id
    return "a translation model"


def _check_language(code: str) -> str:
    try:
        return catalog.language(code).code
    except KeyError as error:
        raise BadInput(error.args[0]) from None
