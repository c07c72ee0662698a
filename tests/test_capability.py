"""What a resident can do in each language (kiosk.turn.capability): the thresholds applied to the
catalogue's declared figures and to figures measured on this kiosk, and the doctor's report of it."""

import json

import pytest

from kiosk.store.environment import from_environment
from kiosk.turn import capability
from kiosk.turn.capability import LESS_RELIABLE, SPEECH, TYPING


def _own_whisper_base(store_dir):
    """Replace the linked whisper-base with a folder of this test's own (its files linked), so an
    evaluation written into it stays out of the suite's shared store."""
    linked = store_dir / "whisper-base"
    real = linked.resolve()
    linked.unlink()
    linked.mkdir()
    for path in real.iterdir():
        (linked / path.name).symlink_to(path)
    return linked


def _write_evaluation(model_dir, languages):
    (model_dir / "evaluation-asr.json").write_text(json.dumps({
        "version": 1, "model_id": "whisper-base", "date": "2026-11-30T10:00:00+00:00", "languages": languages}))


def test_whisper_base_alone_gives_the_declared_levels(isolated_store):
    rows = capability.levels(from_environment())
    got = {code: row.speech_level for code, row in rows.items()}
    assert got == {"en": SPEECH, "ko": SPEECH, "zh": SPEECH, "ja": SPEECH,
                   "ru": LESS_RELIABLE, "vi": LESS_RELIABLE, "th": LESS_RELIABLE, "id": LESS_RELIABLE,
                   "tl": LESS_RELIABLE, "uz": TYPING, "km": TYPING, "ne": TYPING, "mn": TYPING}
    assert all(row.asr_model == "whisper-base" and row.source == "declared" for row in rows.values())
    assert rows["ko"].measured_error == 0.073 and rows["ko"].metric == "cer"
    assert rows["uz"].measured_error is None and rows["uz"].note == "not-recognised"
    assert capability.speech_languages(from_environment()) == tuple(
        code for code in rows if code not in ("uz", "mn", "ne", "km"))


@pytest.mark.parametrize(("error", "language_id", "level"), [
    (0.0, None, SPEECH), (capability.SPEECH_MAX_ERROR, 1.0, SPEECH),
    (capability.SPEECH_MAX_ERROR + 0.001, 1.0, LESS_RELIABLE), (capability.LESS_RELIABLE_MAX_ERROR, None, LESS_RELIABLE),
    (capability.LESS_RELIABLE_MAX_ERROR + 0.001, 1.0, TYPING), (0.1, capability.MIN_LANGUAGE_ID - 0.01, TYPING),
    (None, None, capability.UNMEASURED_LEVEL)])
def test_thresholds(error, language_id, level):
    assert capability.level_for(error, language_id) == level


def test_a_measurement_on_the_kiosk_takes_the_place_of_the_declared_figure(isolated_store):
    _write_evaluation(_own_whisper_base(isolated_store), {
        "ko": {"clips": 17, "metric": "cer", "error": 0.31, "language_id": 1.0, "p50_s": 1.0, "worst_s": 2.0},
        "uz": {"clips": 3, "metric": "wer", "error": 0.12, "language_id": 1.0},
        "ru": {"clips": 3, "metric": "wer", "error": 0.10, "language_id": 0.3},
        "vi": {"clips": 5, "metric": "wer", "error": 0.2, "language_id": 1.0}})
    store = from_environment()
    rows = capability.levels(store)
    assert (rows["ko"].speech_level, rows["ko"].source, rows["ko"].measured_error, rows["ko"].date) == \
        (LESS_RELIABLE, "measured", 0.31, "2026-11-30")
    assert rows["uz"].speech_level == SPEECH and rows["uz"].source == "measured"
    assert rows["ru"].speech_level == TYPING  # mostly taken for another language
    assert rows["vi"].speech_level == SPEECH
    assert rows["en"].source == "declared" and rows["en"].speech_level == SPEECH  # not in the measurement
    assert capability.speech_level("uz", store) == SPEECH
    assert "uz" in capability.speech_languages(store) and "ru" not in capability.speech_languages(store)


def test_a_staff_choice_of_model_and_no_model(isolated_store, tmp_path, monkeypatch):
    store = from_environment()
    # A choice that is not installed falls back to the default.
    assert capability.capability("uz", store, asr_models={"uz": "whisper-large-v3"}).asr_model == "whisper-base"
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "empty"))
    empty = capability.levels(from_environment())
    assert {row.speech_level for row in empty.values()} == {TYPING}
    assert all(row.asr_model is None for row in empty.values())


def test_doctor_json_carries_the_levels_by_language(kiosk_cli, isolated_store):
    result = kiosk_cli("doctor", "--json")
    languages = result.json["languages"]
    assert list(languages)[:3] == ["ko", "en", "zh"] and len(languages) == 13
    uz = languages["uz"]
    assert (uz["speech_level"], uz["asr_model"], uz["measured_error"]) == (TYPING, "whisper-base", None)
    assert {"code", "name", "voice", "font_ok", "fonts"} <= set(uz)
    assert languages["ko"]["speech_level"] == SPEECH and languages["ko"]["measured_error"] == 0.073
    assert languages["ko"]["error_source"] == "declared"
    text = kiosk_cli("doctor").stdout
    assert "typing-and-phrases" in text and "whisper-base" in text


# --- shown, not hidden: the start tiles and the conversation ------------------------------------

def test_start_tiles_and_conversation_show_the_level(qtbot, tmp_path, isolated_store):
    from PySide6.QtCore import Qt
    from ui_support import open_kiosk, visible_text_widgets, shown_text

    from kiosk.ui.i18n import tr

    with open_kiosk(tmp_path, None) as kiosk:
        window = kiosk.window
        window.show_screen(window.start)
        kiosk.app.processEvents()
        shown = {shown_text(w) for w in visible_text_widgets(window.start)}
        for code in ("uz", "km", "ne"):
            tile = window.start.grid.tiles()[code]
            assert tile.note_label().isVisible() and tile.note_label().text() == tr(code, "capability.typing")
            assert tr(code, "capability.typing") in shown and tr(code, "capability.typing") in tile.accessibleName()
        assert window.start.grid.tiles()["ko"].note_label().text() == tr("ko", "capability.speech")
        assert window.start.grid.tiles()["ru"].note_label().text() == tr("ru", "capability.less_reliable")

        qtbot.mouseClick(window.start.grid.tiles()["uz"], Qt.MouseButton.LeftButton)
        kiosk.app.processEvents()
        resident, officer = window.conversation.panels["resident"], window.conversation.panels["officer"]
        assert window.current() is window.conversation
        assert not resident.talk.isVisible() and resident.phrases_big.isVisible()
        assert resident.level.isVisible() and resident.level.text() == tr("uz", "capability.typing")
        assert resident.input.isVisible() and resident.input.hasFocus()
        assert officer.talk.isVisible() and not officer.phrases_big.isVisible()  # the officer's side is unchanged
        qtbot.mouseClick(resident.phrases_big, Qt.MouseButton.LeftButton)
        assert window.current() is window.phrasebook

        window.end_session()
        qtbot.mouseClick(window.start.grid.tiles()["en"], Qt.MouseButton.LeftButton)
        resident = window.conversation.panels["resident"]
        assert resident.talk.isVisible() and not resident.phrases_big.isVisible()
        assert resident.level.text() == tr("en", "capability.speech")


def test_staff_matrix_and_about_card_say_measured_or_declared(qtbot, tmp_path, isolated_store):
    from ui_support import open_kiosk, shown_text, visible_text_widgets

    from kiosk.ui.i18n import tr

    _write_evaluation(_own_whisper_base(isolated_store), {"ko": {"clips": 17, "metric": "cer", "error": 0.069,
                                                                 "language_id": 1.0}})
    with open_kiosk(tmp_path, None) as kiosk:
        window = kiosk.window
        window.set_ui_language("en")
        window.open_staff()
        window.staff.open_settings()
        kiosk.wait_until_idle()
        qtbot.waitUntil(lambda: any(tr("en", "capability.title") == w.text() for w in window.staff.findChildren(
            type(window.staff.header.title))), timeout=30_000)
        texts = [w.text() for w in window.staff.findChildren(type(window.staff.header.title))]
        assert "Korean: Speak or type · whisper-base · CER 0.069 (measured on this kiosk on 2026-11-30)" in texts
        assert ("Uzbek: Type or choose a phrase · whisper-base · not-recognised "
                "(declared, not measured on this kiosk)") in texts
        window.open_page(window.about)
        kiosk.app.processEvents()
        shown = [shown_text(w) for w in visible_text_widgets(window.about)]
        assert "Korean: Speak or type · CER 0.069 (measured on this kiosk on 2026-11-30)" in shown
        assert "Russian: Speech may be less reliable · WER 0.324 (declared, not measured on this kiosk)" in shown
