"""Live audio on a real audio stack: a private PulseAudio daemon with a null sink whose monitor
is the default source, so whatever is played into the sink is what the kiosk's microphone hears.

Every wait is bounded: listens run with timeouts on worker threads joined with timeouts.
"""

from __future__ import annotations

import json
import math
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pytest
import soundfile
from conftest import REPO, error_rate, find_clip

from asr.audio import load_audio
from kiosk.audio.devices import AudioDeviceError, devices
from kiosk.audio.listener import AudioSettings, Level, Listener, Utterance
from kiosk.audio.player import Player
from tts import SpeechChunk

SINK = "kiosk_test"
RATE = 16_000
ENGLISH_CLIP = "fleurs_en_cuttledoc004.wav"  # 4.3 s, no pause inside long enough to end a turn
CHINESE_CLIPS = ("aishell3_SSB02410161.wav", "aishell3_SSB10560454.wav")  # 2.3 s each


@dataclass
class PulseServer:
    home: Path
    keep_awake: subprocess.Popen | None = None

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], capture_output=True, text=True, check=True, timeout=10).stdout

    def use_sink(self) -> None:
        self.pactl("set-default-sink", SINK)
        self.pactl("set-default-source", f"{SINK}.monitor")
        # An idle null sink sleeps up to 2 s between renders, so a new stream would wait up to
        # that long for its first callback; silence played at 20 ms latency keeps it rendering.
        with open("/dev/zero", "rb") as zeros:
            self.keep_awake = subprocess.Popen(
                ["pacat", "--playback", "--raw", "--latency-msec=20", "-d", SINK],
                stdin=zeros, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

    def unload_sink(self) -> None:
        modules = self.pactl("list", "short", "modules").splitlines()
        index = next(line.split()[0] for line in modules if f"sink_name={SINK}" in line)
        self.pactl("unload-module", index)
        self._end_keep_awake()

    def load_sink(self) -> None:
        self.pactl("load-module", "module-null-sink", f"sink_name={SINK}")
        self.use_sink()

    def play(self, path: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", "-d", SINK, str(path)], stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self._end_keep_awake()
        pid_file = self.home / "run" / "pid"
        if pid_file.is_file():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)

    def _end_keep_awake(self) -> None:
        if self.keep_awake is not None:
            self.keep_awake.terminate()
            self.keep_awake.wait(timeout=5)
            self.keep_awake = None


def audio_unavailable(reason: str) -> None:
    """Skip the live-audio tests, unless ``KIOSK_REQUIRE_AUDIO=1`` (CI sets it): then fail, so a
    broken audio set-up cannot hide a whole area of tests behind skips."""
    if os.environ.get("KIOSK_REQUIRE_AUDIO") == "1":
        pytest.fail(f"{reason} (KIOSK_REQUIRE_AUDIO=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    if not all(shutil.which(tool) for tool in ("pulseaudio", "pactl", "paplay", "pacat")):
        audio_unavailable("PulseAudio is not installed (make test installs pulseaudio and pulseaudio-utils)")
    home = tmp_path_factory.mktemp("pulse")
    env = {
        "PULSE_RUNTIME_PATH": str(home / "run"),
        "PULSE_STATE_PATH": str(home / "state"),
        "PULSE_SERVER": f"unix:{home / 'run' / 'native'}",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)  # for this process's PortAudio and for every kiosk subprocess
    # As root a per-user daemon needs --system=false; -n skips default.pa (no hardware modules).
    started = subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--system=false", "--exit-idle-time=-1", "--disallow-exit", "-n",
         "--load=module-native-protocol-unix auth-anonymous=1", f"--load=module-null-sink sink_name={SINK}",
         f"--log-target=file:{home / 'pulse.log'}"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    server = PulseServer(home)
    try:
        if started.returncode != 0:
            log = (home / "pulse.log").read_text() if (home / "pulse.log").is_file() else started.stderr
            audio_unavailable(f"PulseAudio cannot start here: {log.strip().splitlines()[-1:] or started.returncode}")
        server.use_sink()
        devices(rescan=True)  # PortAudio may have started in this process before the daemon did
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def clip_path(name: str) -> Path:
    return find_clip(f"clip {name}", lambda clip: clip.path.name == name).path


def write_wav(path: Path, *parts: np.ndarray) -> Path:
    soundfile.write(path, np.concatenate(parts), RATE, subtype="PCM_16")
    return path


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


class Background:
    """``Listener.listen`` on a worker thread, as the GUI runs it; ``result`` waits a bounded time."""

    def __init__(self, listener: Listener, **kwargs) -> None:
        self._box: queue.Queue = queue.Queue()
        self.returned_at = 0.0

        def run() -> None:
            try:
                outcome = listener.listen(**kwargs)
            except Exception as error:  # noqa: BLE001 - handed to the test thread
                outcome = error
            self.returned_at = time.monotonic()
            self._box.put(outcome)

        threading.Thread(target=run, daemon=True).start()

    def result(self, timeout: float) -> Utterance | None | Exception:
        return self._box.get(timeout=timeout)


def waveform_match(heard: np.ndarray, clip: np.ndarray) -> float:
    """How much of ``clip`` ``heard`` holds, as the peak cross-correlation normalised by the whole
    clip: 1.0 when all of it came through unchanged but for level and delay, less when a part is
    missing or distorted (independent of any recogniser)."""
    size = heard.size + clip.size
    correlation = np.fft.irfft(np.fft.rfft(heard, size) * np.conj(np.fft.rfft(clip, size)), size)
    lag = int(np.argmax(np.abs(correlation)))
    lag = lag - size if lag > heard.size else lag  # a negative lag: heard starts inside the clip
    overlap_heard = heard[max(lag, 0): max(lag, 0) + clip.size]
    overlap_clip = clip[max(-lag, 0): max(-lag, 0) + overlap_heard.size]
    overlap_heard = overlap_heard[: overlap_clip.size]
    denominator = float(np.linalg.norm(overlap_heard) * np.linalg.norm(clip)) or 1.0
    return abs(float(np.dot(overlap_heard, overlap_clip))) / denominator


def until_played(paplay: subprocess.Popen, timeout: float = 30) -> float:
    """Wait for paplay to end; it exits a little after its last sample reached the sink."""
    paplay.wait(timeout=timeout)
    return time.monotonic()


@pytest.fixture(scope="module")
def english_voice(engines):
    voice = engines.voice("en")
    voice.warm_up()
    return voice


def test_devices_lists_the_pulse_microphone(pulse, kiosk_cli):
    found = devices()
    assert any(d["default_input"] and d["max_input_channels"] > 0 for d in found)
    listed = kiosk_cli("devices", "--json")
    assert listed.code == 0, listed.stderr
    assert {d["name"] for d in listed.json} == {d["name"] for d in found}


class ListeningKiosk:
    """`kiosk listen --json` as a subprocess, its JSON lines read as they come."""

    def __init__(self, *args: str, stderr: Path) -> None:
        self._stderr_path = stderr
        with open(stderr, "w") as stderr_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kiosk", "listen", "--json", *args],
                stdout=subprocess.PIPE, stderr=stderr_file, text=True, cwd=REPO,
            )
        self.records: list[dict] = []
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def wait_for(self, event: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            record = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert record is not None, f"kiosk listen ended before {event!r}: {self.stderr}"
            self.records.append(record)
            if record["event"] == event:
                return record

    def finish(self, timeout: float) -> int:
        self.process.wait(timeout=timeout)
        while (record := self._lines.get(timeout=5)) is not None:
            self.records.append(record)
        return self.process.returncode

    @property
    def stderr(self) -> str:
        return self._stderr_path.read_text()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def test_listen_once_hears_the_clip_as_the_file_reads(pulse, recognizer, latencies, tmp_path):
    clip = clip_path(ENGLISH_CLIP)
    # --no-play: playing the answer is the next test's business.
    with ListeningKiosk("--once", "--to", "en", "--timeout", "30", "--no-play", stderr=tmp_path / "stderr.txt") as kiosk:
        kiosk.wait_for("listening", timeout=120)
        until_played(pulse.play(clip))
        assert kiosk.finish(timeout=120) == 0, kiosk.stderr
    events = [r["event"] for r in kiosk.records]
    assert events[1] == "speech-ended" and events[-2:] == ["done", "result"], events
    result = kiosk.records[-1]
    direct = recognizer.transcribe(load_audio(clip)).text
    assert result["source_lang"] == "en" and result["truncated"] is False
    assert error_rate(direct, result["transcript"], "en") <= 0.1, (direct, result["transcript"])
    latencies.append(kiosk.records[1]["t"])


def test_listen_keeps_going_without_hearing_itself_and_survives_a_lost_microphone(pulse, tmp_path):
    clip = clip_path(ENGLISH_CLIP)
    with ListeningKiosk("--to", "en", stderr=tmp_path / "stderr.txt") as kiosk:
        kiosk.wait_for("listening", timeout=120)
        until_played(pulse.play(clip))
        assert kiosk.wait_for("result", timeout=60)["voice"] == "en_US-joe-medium"
        kiosk.wait_for("listening", timeout=60)  # the answer has been played into the "microphone"
        time.sleep(3)  # an echo heard would have ended as a turn by now
        assert [r["event"] for r in kiosk.records].count("speech-ended") == 1

        pulse.unload_sink()
        try:
            assert kiosk.wait_for("failed", timeout=10)["error_kind"] == "audio-device"
        finally:
            pulse.load_sink()
        kiosk.wait_for("listening", timeout=20)  # reopened after the back-off
        until_played(pulse.play(clip))
        assert kiosk.wait_for("result", timeout=60)["transcript"]
        kiosk.process.send_signal(signal.SIGINT)
        assert kiosk.finish(timeout=30) == 130, kiosk.stderr
    assert [r["event"] for r in kiosk.records].count("speech-ended") == 2
    assert "Traceback" not in kiosk.stderr


def test_two_utterances_make_two_turns(pulse, tmp_path):
    clips = [load_audio(clip_path(name)) for name in CHINESE_CLIPS]
    wav = write_wav(tmp_path / "two.wav", clips[0], silence(1.5), clips[1])
    levels = []
    with Listener(AudioSettings(), on_level=levels.append) as listener:
        listener.start()
        playing = pulse.play(wav)
        first = listener.listen(timeout_s=10)
        second = listener.listen(timeout_s=10)
        until_played(playing)
        third = listener.listen(timeout_s=1)
    heard_s = [None if u is None else round(u.audio.size / RATE, 2) for u in (first, second, third)]
    assert first is not None and second is not None and third is None, heard_s
    for heard, clip in zip((first, second), clips):
        assert not heard.truncated and 1.5 < heard.audio.size / RATE < 4, heard_s
        assert waveform_match(heard.audio, clip) >= 0.95
    assert first.speech_ended_at < second.speech_ended_at
    hints = [level.hint for level in levels]
    assert hints.count("ok") >= 0.95 * len(hints) and len(levels) > 3 * 20  # speech at a good level


@pytest.mark.parametrize("sound", ["silence", "low noise"])
def test_five_seconds_without_speech_make_no_turn(pulse, tmp_path, sound):
    noise = np.random.default_rng(5).normal(0, 0.003, 5 * RATE).astype(np.float32)  # about -50 dBFS
    wav = write_wav(tmp_path / "quiet.wav", silence(5) if sound == "silence" else noise)
    with Listener(AudioSettings()) as listener:
        listener.start()
        playing = pulse.play(wav)
        assert listener.listen(timeout_s=5.5) is None
        until_played(playing)


def test_a_one_word_answer_makes_a_turn(pulse, english_voice, tmp_path):
    (word,) = english_voice.synthesize("Yes.")
    wav = tmp_path / "yes.wav"
    soundfile.write(wav, word.audio, word.sample_rate, subtype="PCM_16")
    with Listener(AudioSettings()) as listener:
        listener.start()
        playing = pulse.play(wav)
        heard = listener.listen(timeout_s=5)
        until_played(playing)
    assert isinstance(heard, Utterance), f"{word.duration_s:.2f} s of 'yes' made no turn"


def test_echo_guard_never_hears_the_kiosks_own_answer(pulse, english_voice):
    answer = list(english_voice.synthesize("Please take a number ticket and wait until your number is called."))
    duration = sum(chunk.duration_s for chunk in answer)
    for guarded in (True, False):
        settings = AudioSettings(echo_guard=guarded)
        with Listener(settings) as listener:
            listener.start()
            during = Background(listener, timeout_s=duration + 2)
            Player(settings, listener).play(answer)
            heard = during.result(timeout=duration + 10)
            if guarded:
                assert heard is None
                assert listener.listen(timeout_s=1.0) is None  # nor the echo's tail after playback
            else:  # the control: without the guard the loop-back is heard as speech
                assert isinstance(heard, Utterance)


def test_device_loss_fails_cleanly_and_the_next_listen_works(pulse, tmp_path):
    wav = write_wav(tmp_path / "clip.wav", load_audio(clip_path(CHINESE_CLIPS[0])), silence(1))
    with Listener(AudioSettings()) as listener:
        listener.start()
        during = Background(listener, timeout_s=15)
        time.sleep(0.5)
        try:
            pulse.unload_sink()
            failure = during.result(timeout=10)
            assert isinstance(failure, AudioDeviceError), failure
            assert "\n" not in str(failure) and listener.device_error == str(failure)
            with pytest.raises(AudioDeviceError):  # still gone: fails again, after the back-off
                listener.listen(timeout_s=10)
        finally:
            pulse.load_sink()
        during = Background(listener, timeout_s=15)
        reopened_by = time.monotonic() + 10
        while listener.device_error is not None and time.monotonic() < reopened_by:
            time.sleep(0.05)
        until_played(pulse.play(wav))
        heard = during.result(timeout=20)
    assert isinstance(heard, Utterance) and heard.audio.size > RATE
    assert listener.device_error is None


def test_listen_without_a_microphone_says_so_in_one_line(pulse, kiosk_cli):
    pulse.unload_sink()
    try:
        result = kiosk_cli("listen", "--once", "--to", "en", "--json", timeout=60)
    finally:
        pulse.load_sink()
    assert result.code == 4
    assert result.json["error_kind"] == "audio-device"
    assert result.stderr.strip().splitlines()[-1].startswith("kiosk: ") and "Traceback" not in result.stderr


def test_push_to_talk_records_until_released(pulse, tmp_path):
    clip = load_audio(clip_path(CHINESE_CLIPS[1]))
    wav = write_wav(tmp_path / "clip.wav", clip)
    released = threading.Event()
    with Listener(AudioSettings(mode="push-to-talk")) as listener:
        listener.start()
        pressed_at = time.monotonic()
        holding = Background(listener, released=released, timeout_s=10)
        done_at = until_played(pulse.play(wav))
        time.sleep(1.0)  # still holding after speaking: push-to-talk does not end on silence
        released.set()
        released_at = time.monotonic()
        heard = holding.result(timeout=5)
        assert isinstance(heard, Utterance) and not heard.truncated
        assert heard.audio.size / RATE == pytest.approx(released_at - pressed_at + 0.3, abs=0.35)
        assert heard.speech_ended_at < done_at
        assert waveform_match(heard.audio, clip) >= 0.95

        released.clear()
        tap = Background(listener, released=released, timeout_s=10)
        time.sleep(0.7)
        released.set()
        assert tap.result(timeout=5) is None  # a tap without speech is no turn


def test_level_hints_for_quiet_speech_and_clipping(pulse, tmp_path):
    speech = load_audio(clip_path(ENGLISH_CLIP))
    quiet = speech * (10 ** (-58 / 20) / np.sqrt(np.mean(speech**2)))  # speech at -58 dBFS
    square = np.sign(np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float32)
    wav = write_wav(tmp_path / "levels.wav", quiet, silence(0.5), square)
    levels = []
    released = threading.Event()
    with Listener(AudioSettings(mode="push-to-talk"), on_level=levels.append) as listener:
        listener.start()
        recording = Background(listener, released=released, timeout_s=20)
        until_played(pulse.play(wav))
        released.set()
        recording.result(timeout=5)
    hints = [level.hint for level in levels]
    assert hints.count("too-quiet") >= 10
    clipping = [level for level in levels if level.hint == "clipping"]
    assert len(clipping) >= 10 and all(level.peak >= 0.99 for level in clipping)
    assert max(level.rms_dbfs for level in levels) > -3


def test_max_utterance_closes_the_turn(pulse):
    with Listener(AudioSettings(max_utterance_s=1.0)) as listener:
        listener.start()
        playing = pulse.play(clip_path(ENGLISH_CLIP))
        heard = listener.listen(timeout_s=10)
        playing.terminate()
        playing.wait(timeout=10)
    assert heard is not None and heard.truncated
    assert heard.audio.size / RATE == pytest.approx(1.0, abs=0.05)


def test_playback_starts_before_synthesis_ends_and_stop_cuts_it(pulse):
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(22050) / 22050)).astype(np.float32)
    produced_second_at = []

    def slow_synthesis():
        yield SpeechChunk(tone, 22050, "one")
        time.sleep(1.5)  # the second sentence takes longer to make than the first takes to play
        produced_second_at.append(time.monotonic())
        yield SpeechChunk(tone, 22050, "two")

    loud_at = []

    def meter(level: Level) -> None:
        if level.rms_dbfs > -20:
            loud_at.append(time.monotonic())

    released = threading.Event()
    settings = AudioSettings(mode="push-to-talk", echo_guard=False)
    with Listener(settings, on_level=meter) as listener:
        listener.start()
        recording = Background(listener, released=released, timeout_s=30)
        player = Player(settings)
        started = time.monotonic()
        player.play(slow_synthesis())
        assert loud_at and loud_at[0] < produced_second_at[0] - 0.5
        assert time.monotonic() - started < 5

        long_tone = SpeechChunk(np.tile(tone, 10), 22050, "ten seconds")
        threading.Timer(0.5, player.stop).start()
        started = time.monotonic()
        player.play([long_tone])
        stopped_after = time.monotonic() - started
        time.sleep(0.5)
        released.set()
        recording.result(timeout=5)
    assert stopped_after < 1.0
    assert loud_at[-1] < started + stopped_after + 0.3  # silence right after stop


def test_endpointing_latency(pulse, tmp_path, latencies, capsys):
    """Reported, not asserted: from the last speech sample to the end of listen()."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from kiosk.audio.listener import _TAIL_PAD_MS

    clip = load_audio(clip_path(CHINESE_CLIPS[0]))
    speech_end = get_speech_timestamps(clip, VadOptions(min_silence_duration_ms=100, speech_pad_ms=0))[-1]["end"]
    wav = write_wav(tmp_path / "ends-with-speech.wav", clip[:speech_end])  # digital silence follows the speech
    from_sound = []
    with Listener(AudioSettings()) as listener:
        listener.start()
        for _ in range(5):
            during = Background(listener, timeout_s=10)
            until_played(pulse.play(wav))
            heard = during.result(timeout=10)
            assert isinstance(heard, Utterance)
            latencies.append(during.returned_at - heard.speech_ended_at)
            # Cross-check against the sound itself: where the played file ends, the sink is silent.
            vad_end = heard.audio.size - _TAIL_PAD_MS * RATE // 1000
            sound_end = np.nonzero(np.abs(heard.audio) > 1e-4)[0][-1] + 1
            from_sound.append(during.returned_at - heard.speech_ended_at + (vad_end - sound_end) / RATE)
    with capsys.disabled():
        print(f"\nendpointing at end_silence_ms=600, last speech sample -> speech ended: "
              f"VAD's last speech frame, N={len(latencies)}: median {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {_p95(latencies) * 1000:.0f} ms; last non-silent sample, N={len(from_sound)}: "
              f"median {statistics.median(from_sound) * 1000:.0f} ms, p95 {_p95(from_sound) * 1000:.0f} ms")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


@pytest.fixture(scope="module")
def latencies() -> list[float]:
    return []


def test_streaming_vad_matches_faster_whisper_on_the_whole_clip():
    from faster_whisper.vad import get_vad_model

    from kiosk.audio.listener import StreamingVad

    clip = load_audio(clip_path(ENGLISH_CLIP))
    clip = clip[: clip.size // 512 * 512]
    vad = StreamingVad()
    streamed = [vad(clip[i:i + 512]) for i in range(0, clip.size, 512)]
    # The whole-clip model silences the last frame's final 64 samples (in place), so that frame differs.
    whole = get_vad_model()(clip.copy()).reshape(-1)
    assert np.allclose(streamed[:-1], whole[:-1], atol=1e-5)


def test_pause_offers_the_utterance_that_the_endpoint_then_ends(pulse, tmp_path):
    clip = load_audio(clip_path(CHINESE_CLIPS[0]))
    wav = write_wav(tmp_path / "one.wav", clip, silence(1.5))
    offered = []
    with Listener(AudioSettings()) as listener:
        listener.start()
        playing = pulse.play(wav)
        heard = listener.listen(timeout_s=10, on_pause=lambda u: offered.append((u, time.monotonic())))
        ended = time.monotonic()
        until_played(playing)
    assert heard is not None and offered
    last, offered_at = offered[-1]
    # The last pause offered exactly what the endpoint ended, about 400 ms before it did.
    assert np.array_equal(last.audio, heard.audio) and last.speech_ended_at == heard.speech_ended_at
    assert 0.2 < ended - offered_at < 0.8


def test_head_start_must_keep_the_tail_and_come_before_the_endpoint():
    assert AudioSettings(head_start_ms=0).head_start_ms == 0
    for bad in (100, 600, 700):
        with pytest.raises(ValueError, match="head_start_ms"):
            AudioSettings(head_start_ms=bad)
