"""`kiosk bench` in its short CI mode: one round over a few clips, with the levers on their quick
subsets; every report field exists, no timing is judged."""

import pytest
from conftest import speech_clips


def test_bench_quick_round_reports_every_field(kiosk_cli, tmp_path):
    if not speech_clips():
        pytest.skip("../shared/data/speech is not beside the checkout")
    markdown = tmp_path / "BENCHMARKS.md"
    result = kiosk_cli("bench", "--quick", "--rounds", "1", "--levers", "--json", "--markdown", markdown, timeout=900)
    assert result.code == 0, result.stderr
    report = result.json

    assert set(report["end_to_first_audio_s"]) >= {"p50", "p95"}
    assert report["end_to_first_audio_s"]["p50"] > 0
    for key in ("cold_start_s", "everything_warm_s", "peak_rss_mb", "steady_rss_mb"):
        assert report[key] > 0, key
    for stage in ("asr", "mt", "tts"):
        fields = report["stages"][stage]
        assert set(fields) >= {"p50_s", "direct_p50_s", "ratio"}, stage
        assert all(fields[name] > 0 for name in ("p50_s", "direct_p50_s", "ratio")), stage
    assert report["stages"]["asr"]["rtf_p50"] > 0 and report["stages"]["tts"]["rtf_p50"] > 0
    assert report["stages"]["asr"]["worst_s"] > 0 and report["stages"]["asr"]["worst_budget_share"] > 0
    assert report["models"]["mt"]  # names the proxy or the installed model
    if report["mt_proxy"] is not None:
        assert "timing proxy" in report["models"]["mt"]
    assert set(report["load_average"]) == {"start", "end"}
    assert report["machine"]["cpu"] and report["date"]

    levers = report["levers"]
    assert {row["lever"] for row in levers} >= {"ASR decoding", "ASR window", "MT model size", "MT pivot", "Overlap"}
    for row in levers:
        assert set(row) == {"lever", "variant", "stage", "p50_s", "baseline_p50_s", "gain_s", "accuracy", "decision",
                            "why"}, row
        assert row["p50_s"] > 0 and row["baseline_p50_s"] > 0 and row["accuracy"] and row["decision"], row
    steps = [row["what"] for row in report["memory"]]
    assert any(step.startswith("recognition") for step in steps) and any(step.startswith("peak") for step in steps)

    text = markdown.read_text(encoding="utf-8")
    assert "## Levers" in text and "## Where the memory goes" in text
    assert "End of speech → first audio" in text and "| ASR" in text and "| MT" in text and "| TTS" in text


def test_bench_is_in_the_cli_help(kiosk_cli):
    result = kiosk_cli("bench", "--help")
    assert result.code == 0 and "--rounds" in result.stdout and "--markdown" in result.stdout
