"""The GUI <-> worker protocol: commands the GUI sends, messages the worker answers with.

Plain frozen records, so either side can be read (and tested) without the other. The GUI
never calls an engine: it sends one of the commands below through ``Worker.submit`` and
renders the messages that come back through one Qt signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kiosk.store.models import ModelRow
from kiosk.turn.capability import LanguageCapability
from kiosk.turn.coverage import PairCoverage
from kiosk.turn.pipeline import Event
from tts import SynthesisConfig

ListenMode = Literal["push-to-talk", "hands-free"]
Device = Literal["microphone", "speaker"]


# --- commands (GUI -> worker) -------------------------------------------------------------

@dataclass(frozen=True)
class TurnRequest:
    """Translate what one side says into one or more languages: typed text, audio, or live listening."""

    job: int
    source_lang: str
    targets: tuple[str, ...]
    text: str | None = None
    audio: np.ndarray | None = None
    speech_ended_at: float | None = None
    listen: ListenMode | None = None
    speech: SynthesisConfig = SynthesisConfig()
    back_translate: bool = False
    speak: bool = True


@dataclass(frozen=True)
class SpeakRequest:
    """Say a text again (replay), synthesised anew at the current speech rate and volume."""

    job: int
    text: str
    lang: str
    speech: SynthesisConfig = SynthesisConfig()


@dataclass(frozen=True)
class ListDevices:
    pass


@dataclass(frozen=True)
class CheckModels:
    full: bool = False


@dataclass(frozen=True)
class CheckServers:
    """Probe the configured on-prem servers now (staff panel, About card) and report them."""


@dataclass(frozen=True)
class UseDevices:
    input_device: str | None
    output_device: str | None


# --- messages (worker -> GUI) -------------------------------------------------------------

@dataclass(frozen=True)
class EnginesLoading:
    step: int
    steps: int


@dataclass(frozen=True)
class EnginesReady:
    pass


@dataclass(frozen=True)
class ListeningStarted:
    job: int
    mode: ListenMode


@dataclass(frozen=True)
class LevelChanged:
    level: object  # kiosk.audio.listener.Level


@dataclass(frozen=True)
class Heard:
    """An utterance ended; recognition starts."""

    job: int
    truncated: bool


@dataclass(frozen=True)
class NothingHeard:
    job: int


@dataclass(frozen=True)
class TurnEvent:
    job: int
    target: str
    event: Event


@dataclass(frozen=True)
class BackTranslated:
    job: int
    text: str


@dataclass(frozen=True)
class DeviceUnavailable:
    job: int | None
    device: Device


@dataclass(frozen=True)
class JobFinished:
    job: int


@dataclass(frozen=True)
class DevicesListed:
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    available: bool


@dataclass(frozen=True)
class ModelsChecked:
    rows: tuple[ModelRow, ...]  # the store's rows (``ModelStore.inventory``): the models in a store
    full: bool
    # Which model serves each resident language <-> Korean pair (``kiosk.turn.coverage``).
    coverage: tuple[PairCoverage, ...] = ()
    # What a resident can do in each language (``kiosk.turn.capability``), in the kiosk's order.
    capability: tuple[tuple[str, LanguageCapability], ...] = ()
    # The engines in memory now (``Engines.loaded``): the voices of the pair load first, the rest on use.
    loaded: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServersChecked:
    """Each configured server's health (``kiosk.turn.remote.Servers.status``): role, url, languages,
    state ("unknown", "up", "down"), detail and the model it named; empty without servers."""

    servers: tuple[dict, ...]
