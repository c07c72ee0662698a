"""Piper neural voices (piper-tts, onnxruntime); the session is set up by ``tts.sessions``."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import onnxruntime
from piper.config import PiperConfig
from piper.config import SynthesisConfig as PiperSynthesisConfig
from piper.voice import PiperVoice

from . import SpeechChunk, SynthesisConfig, VoiceLoadError, speak_by_sentence
from .sessions import onnx_session

_LOGGER = logging.getLogger(__name__)

# piper logs every text it phonemizes at DEBUG; the kiosk's logs must never hold content.
logging.getLogger("piper.voice").setLevel(logging.INFO)

# The inputs every Piper VITS export takes; anything else is not a Piper voice.
_PIPER_INPUTS = frozenset({"input", "input_lengths", "scales"})

# Digits exist in every language's phonemizer, so one warm-up text serves all voices.
_WARM_UP_TEXT = "1, 2, 3."


@dataclass(frozen=True)
class PiperOptions:
    """How a Piper voice uses the machine."""

    threads: int = 1
    """onnxruntime intra-op threads: the cores one sentence's inference may use."""

    use_cuda: bool = False
    """Run on a CUDA GPU when onnxruntime has one; falls back to the CPU otherwise."""

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")


class PiperSynthesizer:
    """One Piper voice, loaded once. ``synthesize`` is a generator: one chunk per sentence."""

    def __init__(
        self,
        model_path: str | Path,
        config_path: str | Path | None = None,
        *,
        language: str,
        voice_id: str | None = None,
        options: PiperOptions = PiperOptions(),
    ) -> None:
        model_path = Path(model_path)
        config_path = Path(config_path) if config_path is not None else Path(f"{model_path}.json")
        self.language = language
        self.voice_id = voice_id or model_path.name.removesuffix(".onnx")
        self.options = options
        if not model_path.is_file():
            raise VoiceLoadError(str(model_path), "file not found")
        config = _load_config(config_path)
        self._voice = PiperVoice(session=_load_session(model_path, options), config=config)

    @property
    def sample_rate(self) -> int:
        return self._voice.config.sample_rate

    def synthesize(self, text: str, config: SynthesisConfig = SynthesisConfig()) -> Iterator[SpeechChunk]:
        """Yield one ``SpeechChunk`` per sentence of ``text``; none when there is nothing to say.

        ``config.rate`` divides the voice's own length scale (rate 0.5 speaks at half
        speed); ``config.volume`` scales piper's peak-normalised samples.
        """
        piper_config = PiperSynthesisConfig(
            length_scale=self._voice.config.length_scale / config.rate,
            volume=config.volume,
        )

        def render(sentence: str) -> tuple[np.ndarray, int]:
            # piper may cut a sentence further at its own clause rules; the pieces
            # are played back to back anyway, so they become one chunk.
            pieces = [chunk.audio_float_array for chunk in self._voice.synthesize(sentence, piper_config)]
            audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
            return audio, self.sample_rate

        return speak_by_sentence(text, self.voice_id, config, render)

    def warm_up(self) -> None:
        """Run one short synthesis so the first real sentence does not pay for allocations."""
        started = time.monotonic()
        for _ in self.synthesize(_WARM_UP_TEXT):
            pass
        _LOGGER.info("piper voice %s warmed up in %.2f s", self.voice_id, time.monotonic() - started)


def _load_config(config_path: Path) -> PiperConfig:
    try:
        with config_path.open(encoding="utf-8") as config_file:
            config_dict = json.load(config_file)
        return PiperConfig.from_dict(config_dict)
    except FileNotFoundError:
        raise VoiceLoadError(str(config_path), "file not found") from None
    except OSError as error:
        raise VoiceLoadError(str(config_path), f"cannot be read ({error.strerror})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VoiceLoadError(str(config_path), f"not a valid JSON voice config ({error})") from error
    except KeyError as error:
        raise VoiceLoadError(str(config_path), f"voice config lacks the key {error}") from error
    except (TypeError, ValueError, AttributeError) as error:
        raise VoiceLoadError(str(config_path), f"not a Piper voice config ({error})") from error


def _load_session(model_path: Path, options: PiperOptions) -> onnxruntime.InferenceSession:
    return onnx_session(
        model_path, threads=options.threads, required_inputs=_PIPER_INPUTS, kind="a Piper voice", use_cuda=options.use_cuda
    )
