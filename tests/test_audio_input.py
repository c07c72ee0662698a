"""Decoding files into 16 kHz mono: every rate, channel count and format; clear errors otherwise."""

import numpy as np
import pytest
import soundfile

from asr import SAMPLE_RATE
from asr.audio import AudioInputError, is_silent, load_audio, to_mono_16k


def tone(rate: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_any_rate_and_channel_count_becomes_16k_mono(tmp_path, rate, channels):
    path = tmp_path / "in.wav"
    soundfile.write(path, tone(rate, 1.0, channels), rate)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - SAMPLE_RATE) <= 16
    assert 0.15 < np.abs(audio).max() <= 0.31


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_sample_formats(tmp_path, subtype):
    path = tmp_path / "in.wav"
    soundfile.write(path, tone(16000), 16000, subtype=subtype)
    assert abs(load_audio(path).max() - 0.3) < 0.02


def test_flac_and_ogg(tmp_path):
    for name in ("in.flac", "in.ogg"):
        soundfile.write(tmp_path / name, tone(48000), 48000)
        assert load_audio(tmp_path / name).size == pytest.approx(SAMPLE_RATE, abs=400)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not readable"),
        (b"RIFF\x24\x00\x00\x00WAVE", "not readable"),
        (b"this is not audio at all" * 10, "not readable"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioInputError, match=message):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioInputError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")


def test_header_only_wav_is_empty(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0), 16000)
    with pytest.raises(AudioInputError, match="empty"):
        load_audio(path)


def test_truncated_wav_keeps_what_is_there(tmp_path):
    path = tmp_path / "cut.wav"
    soundfile.write(path, tone(16000, 2.0), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    audio = load_audio(path)
    assert 0.5 * SAMPLE_RATE < audio.size < 1.5 * SAMPLE_RATE


def test_nan_samples_are_refused():
    samples = tone(16000)
    samples[100] = np.nan
    with pytest.raises(AudioInputError, match="NaN"):
        to_mono_16k(samples, 16000)


def test_ten_minutes_is_the_limit(tmp_path):
    path = tmp_path / "long.wav"
    soundfile.write(path, np.zeros(8000 * 601, dtype=np.int16), 8000)
    with pytest.raises(AudioInputError, match="at most 600 s"):
        load_audio(path)


def test_silence_detection():
    assert is_silent(np.zeros(16000, dtype=np.float32))
    assert is_silent(np.full(16000, 0.2, dtype=np.float32))  # DC offset only
    assert not is_silent(tone(16000).astype(np.float32))
