"""The staff config: validation that names the key, defaults on every problem, the salted PIN."""

import stat

import pytest

from kiosk.staff import config
from kiosk.staff.config import KioskConfig, PinGate, hash_pin, load, save, verify_pin


def write(tmp_path, text: str):
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults(tmp_path):
    loaded = load(tmp_path / "absent.toml")
    assert loaded.config == KioskConfig() and loaded.problems == ()
    assert loaded.config.idle_timeout_s == 90 and loaded.config.officer_language == "ko"


def test_config_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG_DIR", str(tmp_path))
    assert config.config_path() == tmp_path / "kiosk.toml"


def test_save_and_load_round_trip(tmp_path):
    chosen = KioskConfig(resident_language="vi", enabled_languages=("ko", "vi", "th"), input_device="USB mic",
                         idle_timeout_s=120, demo_mode=True, kiosk_lock=True, speech_rate=0.75, volume=1.5,
                         pin_hash=hash_pin("2468"))
    path = save(chosen, tmp_path / "kiosk.toml")
    loaded = load(path)
    assert loaded.config == chosen and loaded.problems == ()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the PIN hash


def test_each_bad_value_is_named_and_falls_back(tmp_path):
    path = write(tmp_path, """
[languages]
default_pair = ["ko", "xx"]
enabled = ["ko", "en", "vi"]
[session]
idle_timeout_s = 5
demo_mode = "yes"
[speech]
rate = 3.0
volume = 0.8
[staff]
pin_hash = "1234"
colour = "blue"
[privacy]
keep_transcripts = 1
""")
    loaded = load(path)
    problems = "\n".join(loaded.problems)
    assert "languages.default_pair: expected two language codes" in problems
    assert "session.idle_timeout_s: expected a whole number from 30 to 3600, got 5; using 90" in problems
    assert "session.demo_mode: expected true or false, got 'yes'; using False" in problems
    assert "speech.rate: expected a number from 0.5 to 1.5, got 3.0; using 1.0" in problems
    assert "staff.pin_hash: expected a hash written by the staff panel" in problems
    assert "staff.colour: unknown key; ignored" in problems
    assert "privacy.keep_transcripts: expected true or false, got 1; using False" in problems
    good = loaded.config
    assert good.enabled_languages == ("ko", "en", "vi") and good.volume == 0.8  # valid keys still apply
    assert (good.idle_timeout_s, good.demo_mode, good.speech_rate, good.pin_hash) == (90, False, 1.0, None)
    assert good.resident_language == "en"


def test_resident_language_outside_the_enabled_ones_is_corrected(tmp_path):
    loaded = load(write(tmp_path, '[languages]\ndefault_pair = ["ko", "th"]\nenabled = ["ko", "vi"]\n'))
    assert loaded.config.resident_language == "vi"
    assert any("'th' is not in languages.enabled" in p for p in loaded.problems)


def test_a_recognition_model_per_language(tmp_path):
    loaded = load(write(tmp_path, '[speech]\nmodels = { uz = "whisper-small", km = "whisper-large-v3" }\n'))
    assert loaded.config.asr_models == {"uz": "whisper-small", "km": "whisper-large-v3"} and loaded.problems == ()
    path = save(KioskConfig(asr_models={"uz": "whisper-small"}), tmp_path / "saved.toml")
    assert load(path).config.asr_models == {"uz": "whisper-small"}
    assert load(save(KioskConfig(), tmp_path / "none.toml")).config.asr_models == {}


@pytest.mark.parametrize("models", ['{ uz = "m2m100-418m" }', '{ xx = "whisper-small" }', '{ uz = "whisper-huge" }',
                                    '"whisper-small"'])
def test_a_recognition_model_must_be_a_catalogue_asr_entry(tmp_path, models):
    loaded = load(write(tmp_path, f"[speech]\nmodels = {models}\n"))
    assert loaded.config.asr_models == {}
    assert len(loaded.problems) == 1 and loaded.problems[0].startswith("speech.models: expected a table")


def test_unreadable_toml_gives_all_defaults(tmp_path):
    loaded = load(write(tmp_path, "[session\nidle_timeout_s = 60"))
    assert loaded.config == KioskConfig()
    assert len(loaded.problems) == 1 and "cannot be read" in loaded.problems[0]


def test_pin_hash_is_salted_scrypt():
    first, second = hash_pin("2468"), hash_pin("2468")
    assert first.startswith("scrypt$") and first != second  # a fresh salt each time
    assert verify_pin("2468", first) and verify_pin("2468", second)
    assert not verify_pin("2469", first) and not verify_pin("2468", None)
    assert "2468" not in first


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "", "١٢٣٤"])
def test_pins_are_four_to_eight_ascii_digits(pin):
    with pytest.raises(ValueError):
        hash_pin(pin)


def test_tampered_hash_parameters_are_refused():
    n, r, p, salt, digest = hash_pin("2468").split("$")[1:]
    assert not verify_pin("2468", f"scrypt${2**24}${r}${p}${salt}${digest}")  # would need gigabytes
    assert not verify_pin("2468", f"scrypt${n}${r}${p}$zz${digest}")


def test_pin_gate_locks_out_and_doubles_the_wait():
    now = [1000.0]
    gate = PinGate(max_attempts=3, lockout_s=30, clock=lambda: now[0])
    stored = hash_pin("2468")
    assert [gate.check("0000", stored).attempts_left for _ in range(2)] == [2, 1]
    third = gate.check("0000", stored)
    assert not third.accepted and third.locked_for_s == 30
    assert not gate.check("2468", stored).accepted  # the right PIN waits out the lockout too
    now[0] += 31
    assert gate.check("2468", stored).accepted
    for _ in range(3):
        result = gate.check("1111", stored)
    assert result.locked_for_s == 30  # a success resets the escalation
    now[0] += 31
    for _ in range(3):
        result = gate.check("1111", stored)
    assert result.locked_for_s == 60
