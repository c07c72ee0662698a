"""The CLI contract (README, "Command line"), run as a subprocess on real engines."""

import numpy as np
import pytest
import soundfile
from conftest import REPO, error_rate, find_clip

CONTRACT_KEYS = {"source_lang", "target_lang", "transcript", "translation", "mt_engine", "voice", "out", "timings"}
TIMING_KEYS = {"asr_s", "mt_s", "tts_first_audio_s", "total_s"}
KOREAN_CLIP = REPO / "assets" / "samples" / "ko_picovoice_test.wav"


def test_translate_korean_speech_to_english(kiosk_cli, tmp_path):
    out = tmp_path / "answer.wav"
    result = kiosk_cli("translate", KOREAN_CLIP, "--to", "en", "--out", out, "--json")
    assert result.code == 0, result.stderr
    record = result.json
    assert CONTRACT_KEYS <= set(record) and TIMING_KEYS == set(record["timings"])
    assert record["source_lang"] == "ko" and record["target_lang"] == "en"
    assert error_rate("그는 이리저리 피하면서 길 한 옆으로 걸어갔다.", record["transcript"], "ko") < 0.3
    assert record["mt_engine"] == "whisper" and record["translation"].isascii()
    assert record["voice"] == "en_US-joe-medium" and record["out"] == str(out)
    info = soundfile.info(out)
    assert info.samplerate == 22050 and info.duration > 0.5
    t = record["timings"]
    assert 0 < t["asr_s"] <= t["tts_first_audio_s"] <= t["total_s"]


def test_typed_phrase_is_curated(kiosk_cli):
    result = kiosk_cli("translate", "--text", "신분증을 보여 주시겠어요?", "--from", "ko", "--to", "en", "--json")
    assert result.code == 0, result.stderr
    record = result.json
    assert record["mt_engine"] == "phrasebook" and record["curated"] is True
    assert record["translation"] and record["timings"]["asr_s"] is None


def test_round_trip_english_say_then_translate(kiosk_cli, tmp_path):
    sentence = "Please take a number ticket and wait until your number is called."
    spoken = tmp_path / "said.wav"
    said = kiosk_cli("say", sentence, "--lang", "en", "--out", spoken, "--json")
    assert said.code == 0, said.stderr
    assert said.json["voice"] == "en_US-joe-medium"
    heard = kiosk_cli("translate", spoken, "--to", "en", "--from", "auto", "--json")
    assert heard.code == 0, heard.stderr
    assert error_rate(sentence, heard.json["transcript"], "en") <= 0.1


def test_say_korean_with_the_espeak_fallback(kiosk_cli, tmp_path):
    out = tmp_path / "ko.wav"
    result = kiosk_cli("say", "안녕하세요", "--lang", "ko", "--out", out, "--json")
    assert result.code == 0, result.stderr
    audio, _ = soundfile.read(out)
    assert result.json["voice"].startswith("espeak") and np.sqrt(np.mean(audio**2)) > 0.01


def test_say_without_a_voice_exits_3(kiosk_cli, tmp_path):
    result = kiosk_cli("say", "Сайн байна уу", "--lang", "mn", "--out", tmp_path / "mn.wav")
    assert result.code == 3
    assert "Mongolian" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["translate", KOREAN_CLIP, "--to", "xx"], "unknown language code 'xx'"),
        (["translate", KOREAN_CLIP, "--to", "en", "--from", "klingon"], "unknown language code 'klingon'"),
        (["translate", "--text", "hello", "--to", "ko"], "needs its language"),
        (["translate", "--text", "   ", "--from", "en", "--to", "ko"], "empty"),
        (["translate", "/nonexistent.wav", "--to", "en"], "does not exist"),
        (["say", "hello", "--lang", "en", "--out", "/tmp/x.wav", "--rate", "0"], "speech rate"),
    ],
)
def test_bad_input_exits_2_with_one_line(kiosk_cli, args, message):
    result = kiosk_cli(*args)
    assert result.code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_silent_and_broken_audio_exit_2(kiosk_cli, tmp_path):
    silent, broken, empty = tmp_path / "silent.wav", tmp_path / "broken.wav", tmp_path / "empty.wav"
    soundfile.write(silent, np.zeros(3 * 16000), 16000)
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    empty.write_bytes(b"")
    for path, message in ((silent, "no speech"), (broken, "not readable"), (empty, "not readable")):
        result = kiosk_cli("translate", path, "--to", "ko", "--json")
        assert result.code == 2, result.stderr
        assert message in result.json["error"] and "Traceback" not in result.stderr


def test_missing_translation_model_exits_3_naming_it(kiosk_cli):
    clip = find_clip("Japanese clip", lambda c: c.lang == "ja")
    result = kiosk_cli("translate", clip.path, "--to", "vi", "--json")
    assert result.code == 3
    assert result.json["model_id"] == "m2m100-418m"
    assert "m2m100-418m" in result.stderr


def test_missing_asr_model_exits_3(kiosk_cli, tmp_path):
    result = kiosk_cli("translate", KOREAN_CLIP, "--to", "en", env={"KIOSK_DATA_DIR": str(tmp_path)})
    assert result.code == 3
    assert "whisper-base" in result.stderr and "Traceback" not in result.stderr


def test_doctor_reports_every_language(kiosk_cli):
    result = kiosk_cli("doctor", "--json")
    assert result.code == 0, result.stdout
    report = result.json
    voices = {code: lang["voice"] for code, lang in report["languages"].items()}
    assert voices["en"] == "en_US-joe-medium"
    assert voices["ko"].startswith("espeak-ng") and voices["mn"] is None
    assert all(lang["font_ok"] for lang in report["languages"].values())
    assert {m["id"]: m["state"] for m in report["models"]}["whisper-base"] == "verified"
    assert "not used" in report["network"]


def test_doctor_fails_when_a_default_is_broken(kiosk_cli, tmp_path):
    result = kiosk_cli("doctor", env={"KIOSK_DATA_DIR": str(tmp_path)})
    assert result.code == 1
    assert "whisper-base" in result.stdout and "missing" in result.stdout


def test_models_list_and_verify(kiosk_cli):
    listed = kiosk_cli("models", "list", "--json")
    assert listed.code == 0
    states = {row["id"]: row["state"] for row in listed.json}
    assert states["whisper-base"] == "installed" and states["m2m100-418m"] == "available"
    verified = kiosk_cli("models", "verify", "whisper-base", "--json")
    assert verified.code == 0 and verified.json[0]["state"] == "verified"
