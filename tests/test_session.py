"""Conversation state fed by real pipeline turns: languages, retraction, wipe, idleness, statistics."""

import pytest

from kiosk.turn.pipeline import Pipeline, Turn
from kiosk.turn.session import Session, Statistics


@pytest.fixture(scope="module")
def pipeline(engines):
    return Pipeline(engines)


def run(session: Session, pipeline: Pipeline, side: str, text: str, origin: str = "typed"):
    turn = session.start_turn(side, origin, text)
    for event in pipeline.run(Turn(target_lang=turn.target_lang, source_lang=turn.source_lang, text=text,
                                   speak=False)):
        session.apply(turn.id, event)
    return turn


def test_a_typed_phrase_turn_is_recorded_with_its_translation(pipeline):
    session = Session("vi")
    turn = run(session, pipeline, "resident", "Tôi muốn khai báo địa chỉ mới.")
    assert (turn.source_lang, turn.target_lang, turn.state) == ("vi", "ko", "done")
    assert turn.translation and turn.curated and not turn.machine_translated
    officer = run(session, pipeline, "officer", "잠시만 기다려 주세요.")
    assert officer.target_lang == "vi" and officer.translation
    assert [t.id for t in session.turns] == [turn.id, officer.id]
    assert session.latest("resident") is turn


def test_a_missing_model_fails_the_turn_with_its_kind(pipeline):
    session = Session("vi")
    turn = run(session, pipeline, "officer", "오늘 날씨가 정말 좋네요")
    assert turn.state == "failed" and turn.error_kind == "model-missing" and not turn.translation
    assert session.stats.failed == 1


def test_retract_forgets_the_words(pipeline):
    session = Session("en")
    turn = run(session, pipeline, "resident", "Where is the restroom?")
    session.set_back_translation(turn.id, "Where is the restroom?")
    assert session.retract(turn.id) is turn
    assert turn.state == "retracted" and turn.original == turn.translation == "" and turn.back_translation is None
    assert session.latest("resident") is None and session.stats.retracted == 1
    assert session.retract(turn.id) is None  # once only


def test_wipe_erases_every_turn(pipeline):
    session = Session("ru")
    turns = [run(session, pipeline, "officer", "감사합니다."), run(session, pipeline, "resident", "Спасибо.")]
    session.wipe()
    assert session.turns == [] and all(t.original == t.translation == "" for t in turns)


def test_idleness_follows_the_clock():
    now = [0.0]
    session = Session("th", clock=lambda: now[0])
    now[0] = 40.0
    assert session.idle_s() == 40.0
    session.touch()
    assert session.idle_s() == 0.0


def test_statistics_keep_counts_and_medians_only(pipeline):
    stats = Statistics()
    for text in ("감사합니다.", "잠시만 기다려 주세요.", "안녕하세요, 무엇을 도와드릴까요?"):
        run(Session("en", stats=stats), pipeline, "officer", text)
    snapshot = stats.snapshot()
    assert snapshot.sessions == 3 and snapshot.turns == 3 and snapshot.by_origin == {"typed": 3}
    assert snapshot.median_total_s is not None and snapshot.median_total_s >= 0
    assert not any(isinstance(value, str) for value in vars(stats).values())  # no content, ever
