"""espeak-ng: the last-resort voice for languages without a neural one.

Runs the system ``espeak-ng`` binary once per sentence and reads the WAV it writes
to stdout. Text goes in on stdin, so no text can be mistaken for an option.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soundfile

from . import SpeechChunk, SynthesisConfig, SynthesisError, VoiceLoadError, speak_by_sentence

# espeak-ng speaks no slower than 80 words per minute, whatever it is asked.
_MIN_WORDS_PER_MINUTE = 80

# Every voice reads digits, so one probe text checks them all.
_PROBE_TEXT = "1"


@dataclass(frozen=True)
class EspeakOptions:
    """How espeak-ng is run. ``rate`` and ``volume`` scale the two defaults below."""

    binary: str = "espeak-ng"
    words_per_minute: int = 175
    """Speed at rate 1.0 (espeak-ng's own default). Scaled speeds stop at espeak-ng's floor of 80."""

    amplitude: int = 100
    """Amplitude at volume 1.0 (espeak-ng's own default, range 0..200)."""

    timeout_s: float = 30.0


class EspeakSynthesizer:
    """One espeak-ng voice. Construction checks that the binary and the voice work."""

    def __init__(self, voice: str, language: str, options: EspeakOptions = EspeakOptions()) -> None:
        binary_path = shutil.which(options.binary)
        if binary_path is None:
            raise VoiceLoadError(options.binary, "espeak-ng is not installed (not found on PATH)")
        self._binary = binary_path
        self._voice = voice
        self.language = language
        self.voice_id = f"espeak-ng:{voice}"
        self.options = options
        # A real probe rather than a look-up in `--voices`: that list also names
        # mbrola voices, which fail when the mbrola package is absent.
        try:
            probe, self._sample_rate = self._render(_PROBE_TEXT, options.words_per_minute, options.amplitude)
        except SynthesisError as error:
            raise VoiceLoadError(self.voice_id, error.reason) from error
        if not np.any(probe):
            raise VoiceLoadError(self.voice_id, "the voice produces no audio")

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def synthesize(self, text: str, config: SynthesisConfig = SynthesisConfig()) -> Iterator[SpeechChunk]:
        """Yield one ``SpeechChunk`` per sentence of ``text``; none when there is nothing to say.

        ``config.rate`` scales the speed in words per minute, but espeak-ng goes no
        slower than 80 (rate 0.46 at the default speed); ``config.volume`` scales
        the amplitude.
        """
        words_per_minute = max(round(self.options.words_per_minute * config.rate), _MIN_WORDS_PER_MINUTE)
        amplitude = round(self.options.amplitude * config.volume)
        return speak_by_sentence(
            text, self.voice_id, config, lambda sentence: self._render(sentence, words_per_minute, amplitude)
        )

    def warm_up(self) -> None:
        """Run espeak-ng once so its voice data is in the page cache."""
        self._render(_PROBE_TEXT, self.options.words_per_minute, self.options.amplitude)

    def _render(self, text: str, words_per_minute: int, amplitude: int) -> tuple[np.ndarray, int]:
        # -b 1: the text on stdin is UTF-8, whatever the locale says.
        command = [
            self._binary, "-v", self._voice, "-s", str(words_per_minute), "-a", str(amplitude),
            "-b", "1", "--stdin", "--stdout",
        ]  # fmt: skip
        try:
            completed = subprocess.run(
                command, input=text.encode("utf-8"), capture_output=True, timeout=self.options.timeout_s
            )
        except subprocess.TimeoutExpired:
            raise SynthesisError(self.voice_id, f"espeak-ng took longer than {self.options.timeout_s} s") from None
        if completed.returncode != 0:
            raise SynthesisError(self.voice_id, _failure_reason(completed))
        try:
            audio, sample_rate = soundfile.read(io.BytesIO(completed.stdout), dtype="float32", always_2d=True)
        except soundfile.SoundFileError as error:
            raise SynthesisError(self.voice_id, f"espeak-ng wrote no readable WAV ({error})") from error
        return audio[:, 0], sample_rate


def _failure_reason(completed: subprocess.CompletedProcess[bytes]) -> str:
    """espeak-ng's first "Error:" line, e.g. "The specified espeak-ng voice does not exist."

    The first one names the cause; for a missing mbrola voice the last is generic.
    """
    lines = completed.stderr.decode("utf-8", "replace").splitlines()
    errors = [line.removeprefix("Error:").strip() for line in lines if line.startswith("Error:")]
    if errors:
        return errors[0]
    return lines[-1].strip() if lines else f"espeak-ng exited with status {completed.returncode}"
