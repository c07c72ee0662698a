"""One turn through the real pipeline: typed events, timings, and every fallback."""

import numpy as np
import pytest
from conftest import REPO
from tiny_mt import build_seq2seq

from asr.audio import load_audio
from kiosk.errors import ErrorCode
from kiosk.store import catalog, models
from kiosk.store.catalog import ModelEntry
from kiosk.turn.engines import Engines
from kiosk.turn.pipeline import Audio, Done, Failed, Pipeline, Speaking, SpeechEnded, Transcribed, Translated, Turn
from kiosk.turn.settings import Settings

KOREAN_CLIP = REPO / "assets" / "samples" / "ko_picovoice_test.wav"


def install_tiny_m2m(store) -> None:
    """Build a tiny M2M-100-shaped model and install it in the store like any other model."""
    model_dir = build_seq2seq(store / "tiny-m2m", "m2m100")
    entry = ModelEntry(id="tiny-m2m", kind="mt-seq2seq", engine="ctranslate2", family="m2m100", name="tiny",
                       languages=catalog.LANGUAGE_CODES, license="test", source="built by the test", size_mb=0)
    models.write_manifest(model_dir, entry, [p.name for p in model_dir.iterdir()])


@pytest.fixture(scope="module")
def pipeline(engines):
    return Pipeline(engines)


# Start and end events of each stage, in order (audio chunks left out).
SPEECH_TURN = ["speech-ended", "transcribing", "transcribed", "translating", "translated", "synthesising", "speaking",
               "done"]


def kinds(events) -> list[str]:
    return [e.kind for e in events if not isinstance(e, Audio)]


def test_speech_turn_emits_typed_events_in_order(pipeline):
    events = list(pipeline.run(Turn(target_lang="en", audio=load_audio(KOREAN_CLIP), candidates=("ko", "en"))))
    assert kinds(events) == SPEECH_TURN
    times = [e.t for e in events]
    assert times == sorted(times) and times[0] >= 0
    assert isinstance(events[0], SpeechEnded) and events[0].duration_s == pytest.approx(3.89, abs=0.05)
    transcribed = next(e for e in events if isinstance(e, Transcribed))
    assert transcribed.transcript.language == "ko"
    speaking = next(e for e in events if isinstance(e, Speaking))
    done = events[-1]
    assert isinstance(done, Done) and done.result.timings["tts_first_audio_s"] == pytest.approx(speaking.t, abs=0.01)
    audio = [e.chunk for e in events if isinstance(e, Audio)]
    assert audio and all(c.sample_rate == 22050 for c in audio)


def test_typed_phrase_is_spoken_by_the_espeak_fallback(pipeline):
    events = list(pipeline.run(Turn(target_lang="ko", source_lang="en", text="Where is the restroom?")))
    translated = next(e for e in events if isinstance(e, Translated)).translation
    assert translated.curated and translated.text == "화장실은 어디에 있나요?"
    assert events[-1].result.voice.startswith("espeak")


def test_language_without_voice_is_text_only(pipeline):
    events = list(pipeline.run(Turn(target_lang="mn", source_lang="ko", text="잠시만 기다려 주세요.")))
    result = events[-1].result
    assert kinds(events) == ["translating", "translated", "done"]
    assert result.translation and result.voice is None and "Mongolian" in result.speech_unavailable


def test_no_model_for_the_pair_is_explained(pipeline):
    events = list(pipeline.run(Turn(target_lang="vi", source_lang="ko", text="오늘 날씨가 좋네요")))
    assert kinds(events) == ["translating", "translated", "failed"]
    assert events[1].translation.engine == "none" and "ko" in events[1].translation.reason
    failed = events[-1]
    assert failed.code == ErrorCode.MODEL_MISSING and failed.exit_code == 3 and failed.model_id == "m2m100-418m"


def test_silence_fails_as_no_speech(pipeline):
    events = list(pipeline.run(Turn(target_lang="en", audio=np.zeros(3 * 16000, dtype=np.float32))))
    assert kinds(events) == ["speech-ended", "transcribing", "failed"]
    assert events[-1].code == ErrorCode.NO_SPEECH and events[-1].exit_code == 2 and events[-1].error_kind == "bad-input"


def test_unknown_language_fails_as_bad_input(pipeline):
    events = list(pipeline.run(Turn(target_lang="xx", source_lang="ko", text="안녕하세요")))
    assert kinds(events) == ["failed"] and events[0].code == ErrorCode.BAD_INPUT and events[0].exit_code == 2


def test_engine_error_ends_the_turn_with_a_friendly_message(engines, monkeypatch):
    pipeline = Pipeline(engines)

    def broken(*args, **kwargs):
        raise RuntimeError("injected: the resident said something private")

    monkeypatch.setattr(engines.router, "translate", broken)
    events = list(pipeline.run(Turn(target_lang="en", source_lang="ko", text="안녕하세요")))
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.error_kind == "internal"
    assert "private" not in failed.reason


def test_installed_seq2seq_model_translates_in_the_turn(isolated_store):
    install_tiny_m2m(isolated_store)
    pipeline = Pipeline(Engines())
    events = list(pipeline.run(Turn(target_lang="vi", source_lang="ko", text="오늘 날씨가 좋네요", speak=False)))
    translation = next(e for e in events if isinstance(e, Translated)).translation
    assert translation.engine == "seq2seq" and translation.model_id == "tiny-m2m" and not translation.curated
    assert translation.text and isinstance(events[-1], Done)


def test_head_start_is_taken_over_when_the_same_utterance_ends(pipeline, engines, monkeypatch):
    turn = Turn(target_lang="en", source_lang="ko", audio=load_audio(KOREAN_CLIP))
    head_start = pipeline.start_early(turn)
    assert head_start.wait(timeout=60)
    calls = []
    transcribe = engines.recognizer.transcribe
    monkeypatch.setattr(engines.recognizer, "transcribe", lambda *a, **k: calls.append(1) or transcribe(*a, **k))
    # The endpointer decides later; the turn it hands over is a new object with the same audio.
    events = list(pipeline.run(Turn(target_lang="en", source_lang="ko", audio=load_audio(KOREAN_CLIP)), head_start))
    assert kinds(events) == SPEECH_TURN
    assert any(isinstance(e, Audio) for e in events)
    # Recognised once (before the takeover, by the head start), translated to English by Whisper
    # (no MT model): only that second pass may run after the takeover, and it ran before.
    assert not calls
    assert events[-1].result.transcript


def test_head_start_on_other_audio_is_dropped(pipeline):
    audio = load_audio(KOREAN_CLIP)
    head_start = pipeline.start_early(Turn(target_lang="en", source_lang="ko", audio=audio[: audio.size // 2]))
    events = list(pipeline.run(Turn(target_lang="en", source_lang="ko", audio=audio), head_start))
    assert kinds(events) == SPEECH_TURN
    assert events[0].duration_s == pytest.approx(audio.size / 16_000)
    assert not head_start.covers(Turn(target_lang="en", source_lang="ko", audio=audio[: audio.size // 2]))


def test_answer_of_several_sentences_is_spoken_sentence_by_sentence(isolated_store):
    """Each sentence is translated, then spoken at once: the first audio comes before the second
    sentence is translated, and each Translated carries the translation so far."""
    install_tiny_m2m(isolated_store)
    pipeline = Pipeline(Engines())
    events = list(pipeline.run(Turn(target_lang="ko", source_lang="vi", text="Xin chào. Tôi cần giúp đỡ.")))
    assert kinds(events) == ["translating", "translated", "synthesising", "speaking", "translated", "done"]
    first, second = [e.translation.text for e in events if isinstance(e, Translated)]
    assert first and second.startswith(first) and len(second) > len(first)
    assert events[-1].result.translation == second
    spoken = [e.chunk.text for e in events if isinstance(e, Audio)]
    assert len(spoken) >= 2


def test_without_streaming_the_whole_answer_is_translated_first(isolated_store):
    install_tiny_m2m(isolated_store)
    pipeline = Pipeline(Engines(Settings(stream_sentences=False)))
    events = list(pipeline.run(Turn(target_lang="ko", source_lang="vi", text="Xin chào. Tôi cần giúp đỡ.")))
    assert kinds(events) == ["translating", "translated", "synthesising", "speaking", "done"]


def test_a_curated_answer_of_two_sentences_stays_whole(pipeline):
    text = "My number has already been called. What should I do?"  # one phrase of the phrasebook
    events = list(pipeline.run(Turn(target_lang="ko", source_lang="en", text=text)))
    translated = [e.translation for e in events if isinstance(e, Translated)]
    assert len(translated) == 1 and translated[0].curated


def test_start_up_loads_the_pairs_engines_and_warms_them(isolated_store):
    engines = Engines()
    assert engines.loaded() == ()
    warm = engines.warm_up(("en", "ko"))
    assert 0 < warm.first_turn_s <= warm.warm_s
    loaded = engines.loaded()
    assert loaded[0] == "whisper-base" and "en_US-joe-medium" in loaded and any(v.startswith("espeak") for v in loaded)
    assert not any(name.startswith("vi") for name in loaded)  # other languages' voices load on first use
