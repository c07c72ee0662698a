"""The ASR window levers of ``kiosk bench --levers`` (kiosk.measure.asr_levers): the perturbations,
the decision rule, and one quick pass on the real whisper-base."""

import dataclasses

import numpy as np
import pytest
from conftest import find_clip

from asr import SAMPLE_RATE
from asr.audio import load_audio
from kiosk.measure import asr_levers
from kiosk.measure.asr_levers import Summary, decide

ROW_KEYS = {"lever", "variant", "stage", "p50_s", "baseline_p50_s", "gain_s", "accuracy", "decision", "why"}


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE)).astype(np.float32)


def power(audio: np.ndarray) -> float:
    return float(np.mean(audio.astype(np.float64) ** 2))


def test_perturbations_do_what_they_say():
    speech_band, above_telephone = tone(1000), tone(6000)
    assert np.allclose(asr_levers.quieter(speech_band), speech_band * 0.1, atol=1e-6)  # -20 dB
    assert power(asr_levers.telephone(speech_band)) == pytest.approx(power(speech_band), rel=0.05)
    assert power(asr_levers.telephone(above_telephone)) < 1e-3 * power(above_telephone)  # gone through 8 kHz
    noisy = asr_levers.with_noise(speech_band, 10.0, seed=1)
    assert np.array_equal(noisy, asr_levers.with_noise(speech_band, 10.0, seed=1))  # seeded
    snr_db = 10 * np.log10(power(speech_band) / power(noisy - speech_band))
    assert snr_db == pytest.approx(10.0, abs=0.3)


def summary(errors, p50_s=1.0) -> Summary:
    return Summary(p50_s, tuple(errors), {"original": float(np.mean(errors))})


def test_decision_rule():
    baseline = summary([0.1, 0.2, 0.0, 0.8], p50_s=1.8)
    # Faster and within both margins (mean +0.02, one utterance +0.20): taken.
    assert decide(baseline, summary([0.1, 0.2, 0.05, 0.8], p50_s=0.5))[0] == "taken"
    assert decide(baseline, summary([0.1, 0.2, 0.2, 0.8], p50_s=0.5)) == ("off", "mean error +0.050 > 0.02")
    # An utterance it breaks counts, even where the set's worst (0.8) hides it under the margin.
    decision, why = decide(baseline, summary([0.0, 0.0, 1.0, 0.0], p50_s=0.5))
    assert decision == "off" and "one utterance +1.00" in why
    assert decide(baseline, summary([0.1, 0.2, 0.0, 0.8], p50_s=2.5)) == ("off", "not faster")


def test_quick_lever_pass_on_whisper_base(recognizer):
    find_clip("the 2.3 s Mandarin clip of the quick lever pass",
              lambda c: c.path.name == asr_levers.QUICK_CLIPS[0].split("/")[-1])
    original = recognizer.options
    rows = asr_levers.asr_lever_rows(recognizer, quick=True)
    assert recognizer.options is original
    assert len(rows) == 6 and all(set(row) == ROW_KEYS for row in rows), rows
    assert {row["stage"] for row in rows} == {"asr"} and {row["lever"] for row in rows} == {"ASR window"}
    assert all(row["decision"] in ("taken", "off", "reference") and row["why"] for row in rows)
    baseline = rows[0]
    assert baseline["gain_s"] == 0 and baseline["decision"] == "reference"
    for row in rows:
        assert row["baseline_p50_s"] == baseline["p50_s"] > 0
        assert row["gain_s"] == round(row["baseline_p50_s"] - row["p50_s"], 4)
        assert "2 utterances from 1 clips" in row["accuracy"]


def test_short_window_only_from_the_given_length(recognizer, monkeypatch):
    """``short_window_from_s``: below it the 30 s window (stock transcribe), from it the short one."""
    from asr import fw_internals

    clip = find_clip("Mandarin clip under 2.5 s", lambda c: c.lang == "zh" and c.duration_s < 2.5)
    audio = load_audio(clip.path)
    window_frames, used = fw_internals.window_frames, []
    monkeypatch.setattr(fw_internals, "window_frames", lambda *args: used.append(window_frames(*args)) or used[-1])
    for from_s in (clip.duration_s + 1.0, clip.duration_s - 1.0):
        options = dataclasses.replace(recognizer.options, min_window_s=10.0, short_window_from_s=from_s)
        monkeypatch.setattr(recognizer, "options", options)
        recognizer.transcribe(audio, language="zh")
    assert len(used) == 1 and used[0] < 3000, used  # only the second went through the short window
