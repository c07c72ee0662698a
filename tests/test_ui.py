"""The kiosk GUI on the real pipeline: language choice, speech and typed turns, replay, phrasebook,
back-translation retract, idle erase, staff PIN, demo reset, friendly errors and the kiosk lock."""

import pytest
from conftest import REPO
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QInputMethodEvent, QKeyEvent
from test_pipeline import install_tiny_m2m
from ui_support import open_kiosk, settle

from asr.audio import load_audio
from kiosk.staff.config import PinGate, hash_pin, load, verify_pin
from kiosk.turn.engines import Engines
from kiosk.ui.i18n import tr
from kiosk.ui.theme import Appearance

SAMPLES = REPO / "assets" / "samples"


def bubbles(kiosk, side):
    return list(kiosk.window.conversation.panels[side].transcript.bubbles().values())


def test_choosing_a_language_switches_every_string(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        window = kiosk.window
        assert window.top_bar.title.text() == tr("ko", "app.name")  # the officer's language until a choice
        qtbot.mouseClick(window.start.grid.tiles()["vi"], Qt.MouseButton.LeftButton)
        assert window.current() is window.conversation and kiosk.controller.session.language("resident") == "vi"
        assert window.top_bar.title.text() == tr("vi", "app.name")
        assert window.top_bar.about.text_label().text() == tr("vi", "about.button")
        resident, officer = window.conversation.panels["resident"], window.conversation.panels["officer"]
        assert resident.role.text() == tr("vi", "role.resident") and resident.send_button.text_label().text() == "Gửi"
        assert officer.role.text() == tr("ko", "role.officer")  # the officer's side stays in Korean
        assert window.conversation.done_button.sub_label().text() == tr("ko", "conversation.done")

        qtbot.mouseClick(window.conversation.change_language_button, Qt.MouseButton.LeftButton)
        assert window.current() is window.start and window.start.back_button.isVisible()
        kiosk.controller.say_text("officer", "감사합니다.")
        settle(kiosk, qtbot)
        qtbot.mouseClick(window.start.grid.tiles()["ru"], Qt.MouseButton.LeftButton)
        assert window.top_bar.title.text() == tr("ru", "app.name")
        assert resident.input.placeholderText() == tr("ru", "conversation.type_here")
        assert len(bubbles(kiosk, "resident")) == 1  # the conversation so far stays on screen


def test_a_spoken_turn_from_a_file_makes_bubbles_with_original_and_translation(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("en")
        kiosk.controller.say_audio("officer", load_audio(SAMPLES / "ko_picovoice_test.wav"))
        settle(kiosk, qtbot)
        turn = kiosk.controller.session.turns[-1]
        assert turn.state == "done" and turn.source_lang == "ko" and turn.engine == "whisper"
        [resident_view] = bubbles(kiosk, "resident")
        [officer_view] = bubbles(kiosk, "officer")
        # The resident reads English first with the Korean below; the officer the other way round.
        assert resident_view.primary.text() == turn.translation and turn.translation.isascii()
        assert resident_view.secondary.text() == turn.original and "피하면서" in turn.original
        assert officer_view.primary.text() == turn.original and officer_view.secondary.text() == turn.translation
        assert resident_view.badge.text() == tr("en", "bubble.machine")  # not a verified phrase
        assert resident_view.replay_button.isVisible()


def test_replay_says_the_translation_again(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("en")
        kiosk.controller.say_text("resident", "Where is the restroom?")
        settle(kiosk, qtbot)
        speaking = []
        kiosk.controller.status_changed.connect(lambda status: speaking.append(status.kind == "speaking"))
        [bubble] = bubbles(kiosk, "officer")
        qtbot.mouseClick(bubble.replay_button, Qt.MouseButton.LeftButton)
        settle(kiosk, qtbot)
        assert any(speaking)  # the Korean voice spoke it again
        assert not kiosk.controller.session.turns[0].speaking
        assert bubble.replay_button.text_label().text() == tr("ko", "bubble.replay")


def test_typed_input_from_the_keyboard_and_the_input_method(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("en")
        resident = kiosk.window.conversation.panels["resident"]
        qtbot.keyClicks(resident.input, "Where is the restroom?")
        qtbot.keyClick(resident.input, Qt.Key.Key_Return)
        settle(kiosk, qtbot)
        [bubble] = bubbles(kiosk, "officer")
        assert bubble.primary.text() == "화장실은 어디에 있나요?" and bubble.badge.text() == tr("ko", "bubble.curated")
        # Korean arrives through the system input method as committed text.
        officer = kiosk.window.conversation.panels["officer"]
        officer.input.setFocus()
        event = QInputMethodEvent()
        event.setCommitString("신분증을 보여 주시겠어요?")
        kiosk.app.sendEvent(officer.input, event)
        assert officer.input.text() == "신분증을 보여 주시겠어요?"
        qtbot.mouseClick(officer.send_button, Qt.MouseButton.LeftButton)
        settle(kiosk, qtbot)
        latest = bubbles(kiosk, "resident")[-1]
        assert latest.primary.text() == "May I see your ID, please?" and officer.input.text() == ""


def test_phrasebook_tap_shows_and_speaks_the_other_language(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        window = kiosk.window
        window.start_conversation("vi")
        qtbot.mouseClick(window.conversation.panels["officer"].phrases_button, Qt.MouseButton.LeftButton)
        book = window.phrasebook
        assert window.current() is book and book.header.title.text() == tr("ko", "phrasebook.title")
        qtbot.mouseClick(book.category_buttons["waiting"], Qt.MouseButton.LeftButton)
        phrase = next(b for b in book.phrase_buttons if b.text_label().text() == "잠시만 기다려 주세요.")
        spoken = []
        kiosk.controller.status_changed.connect(lambda status: spoken.append(status.kind))
        qtbot.mouseClick(phrase, Qt.MouseButton.LeftButton)
        settle(kiosk, qtbot)
        assert book.result.isVisible() and book.result_text.text() == "Xin vui lòng chờ một chút."
        assert book.result_badge.isVisible() and "speaking" in spoken
        qtbot.mouseClick(book.header.back_button, Qt.MouseButton.LeftButton)
        assert window.current() is window.conversation
        assert bubbles(kiosk, "resident")[-1].primary.text() == "Xin vui lòng chờ một chút."


def test_back_translation_check_and_retract_of_a_typed_turn(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("en")
        kiosk.controller.say_text("resident", "I'd like to get a copy of my resident registration.")
        settle(kiosk, qtbot)
        [bubble] = bubbles(kiosk, "resident")
        assert bubble.understood.isVisible()
        assert bubble.understood.text() == tr("en", "bubble.understood",
                                              text="I'd like to get a copy of my resident registration.")
        qtbot.mouseClick(bubble.retract_button, Qt.MouseButton.LeftButton)
        turn = kiosk.controller.session.turns[0]
        assert turn.state == "retracted" and turn.original == "" and turn.translation == ""
        assert bubble.primary.text() == tr("en", "bubble.withdrawn") and not bubble.replay_button.isVisible()
        assert bubbles(kiosk, "officer")[0].primary.text() == tr("ko", "bubble.withdrawn")
        status = kiosk.window.conversation.panels["resident"].status_text.text()
        assert status == tr("en", "bubble.say_again")


def test_back_translation_after_the_resident_speaks(qtbot, tmp_path, isolated_store):
    install_tiny_m2m(isolated_store)  # a real (tiny) translation model, so speech into Korean works
    with open_kiosk(tmp_path, Engines()) as kiosk:
        kiosk.window.start_conversation("en")
        kiosk.controller.say_audio("resident", load_audio(SAMPLES / "en_librivox_austen_0880.wav"))
        settle(kiosk, qtbot, timeout_ms=120_000)
        turn = kiosk.controller.session.turns[0]
        assert turn.state == "done" and turn.engine == "seq2seq" and "young man" in turn.original
        [bubble] = bubbles(kiosk, "resident")
        assert bubble.badge.text() == tr("en", "bubble.machine")
        assert turn.back_translation and bubble.understood.text().startswith("We understood:")
        assert bubble.retract_button.isVisible()
        qtbot.mouseClick(bubble.retract_button, Qt.MouseButton.LeftButton)
        assert kiosk.controller.session.turns[0].state == "retracted"


def test_a_failed_translation_is_a_friendly_message(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("ru")
        kiosk.controller.say_text("resident", "Сегодня очень хорошая погода")  # not a phrase; no MT model
        settle(kiosk, qtbot)
        [resident_view] = bubbles(kiosk, "resident")
        assert resident_view.note.text() == tr("ru", "error.model-missing")
        assert bubbles(kiosk, "officer")[0].note.text() == tr("ko", "error.model-missing")
        panel_status = kiosk.window.conversation.panels["resident"].status_text.text()
        assert panel_status == tr("ru", "error.model-missing") and "m2m100" not in panel_status


def test_without_a_microphone_the_talk_button_explains(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("th")
        talk = kiosk.window.conversation.panels["resident"].talk
        qtbot.mousePress(talk, Qt.MouseButton.LeftButton)
        qtbot.wait(talk.TAP_MS + 50)
        qtbot.mouseRelease(talk, Qt.MouseButton.LeftButton)
        status = kiosk.window.conversation.panels["resident"].status_text
        qtbot.waitUntil(lambda: status.text() == tr("th", "error.no-microphone"), timeout=10_000)
        settle(kiosk, qtbot)
        assert kiosk.controller.hands_free is None


def test_idle_timeout_warns_then_erases_the_session(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines, idle_timeout_s=3) as kiosk:
        window = kiosk.window
        window.start_conversation("id")
        window.set_appearance(Appearance(large_text=True))
        kiosk.controller.say_text("resident", "Terima kasih.")
        settle(kiosk, qtbot)
        session = kiosk.controller.session
        assert session.turns and bubbles(kiosk, "resident")
        qtbot.waitUntil(window.idle_warning.isVisible, timeout=4000)
        assert window.idle_warning.title.text() == tr("id", "idle.title")
        qtbot.waitUntil(lambda: kiosk.controller.session is None, timeout=5000)
        assert session.turns == [] and bubbles(kiosk, "resident") == []
        assert window.current() is window.start and window.ui_lang == "ko"
        assert not window.appearance.large_text and not window.idle_warning.isVisible()


def test_done_erases_at_once(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("zh")
        kiosk.controller.say_text("resident", "谢谢。")
        settle(kiosk, qtbot)
        session = kiosk.controller.session
        qtbot.mouseClick(kiosk.window.conversation.done_button, Qt.MouseButton.LeftButton)
        assert kiosk.controller.session is None and session.turns == []
        assert kiosk.window.current() is kiosk.window.start


def enter_pin(qtbot, pad, pin: str) -> None:
    for digit in pin:
        qtbot.mouseClick(pad.keys[digit], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(pad.ok_key, Qt.MouseButton.LeftButton)


def test_staff_pin_rejects_rate_limits_and_accepts(qtbot, tmp_path, engines):
    now = [0.0]
    gate = PinGate(max_attempts=3, lockout_s=30, clock=lambda: now[0])
    with open_kiosk(tmp_path, engines, pin_gate=gate, pin_hash=hash_pin("2468")) as kiosk:
        staff = kiosk.window.staff
        qtbot.mouseClick(kiosk.window.top_bar.staff, Qt.MouseButton.LeftButton)
        assert kiosk.window.current() is staff and staff.stack.currentIndex() == 0
        enter_pin(qtbot, staff.pin_pad, "1111")
        assert staff.pin_message.text() == tr("ko", "staff.pin_wrong", tries=2)
        enter_pin(qtbot, staff.pin_pad, "1112")
        enter_pin(qtbot, staff.pin_pad, "1113")
        assert staff.pin_message.text() == tr("ko", "staff.pin_locked", seconds=30)
        enter_pin(qtbot, staff.pin_pad, "2468")  # right, but still locked out
        assert staff.stack.currentIndex() == 0
        now[0] += 31
        enter_pin(qtbot, staff.pin_pad, "2468")
        assert staff.stack.currentIndex() == 1
        settle(kiosk, qtbot)
        qtbot.waitUntil(lambda: bool(staff._model_rows))
        assert any("Whisper" in label.text() for label in staff._model_rows)


def test_without_a_pin_the_staff_panel_only_says_how_provisioning_sets_one(qtbot, tmp_path, engines):
    """Nobody at the kiosk chooses the first PIN: the panel names `kiosk staff set-pin` in its
    language and offers neither a PIN pad nor settings (issue #16)."""
    with open_kiosk(tmp_path, engines) as kiosk:
        staff = kiosk.window.staff
        qtbot.mouseClick(kiosk.window.top_bar.staff, Qt.MouseButton.LeftButton)
        assert kiosk.window.current() is staff and staff.stack.currentIndex() == 0
        assert staff.pin_prompt.text() == tr("ko", "staff.no_pin") and "kiosk staff set-pin" in staff.pin_prompt.text()
        assert staff.pin_prompt.isVisible() and not staff.pin_pad.isVisible()
        enter_pin(qtbot, staff.pin_pad, "5790")  # even pressed directly, the pad chooses nothing
        assert staff.stack.currentIndex() == 0 and not staff._settings_built
        assert not (tmp_path / "kiosk.toml").exists()
        kiosk.window.set_ui_language("vi")
        assert staff.pin_prompt.text() == tr("vi", "staff.no_pin")


def test_staff_change_the_pin_and_save_settings(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines, pin_hash=hash_pin("2468")) as kiosk:
        staff = kiosk.window.staff
        kiosk.window.open_staff()
        assert staff.pin_prompt.text() == tr("ko", "staff.pin_prompt") and staff.pin_pad.isVisible()
        enter_pin(qtbot, staff.pin_pad, "2468")
        assert staff.stack.currentIndex() == 1
        qtbot.mouseClick(staff.change_pin_button, Qt.MouseButton.LeftButton)  # after the current PIN only
        assert staff.pin_prompt.text() == tr("ko", "staff.pin_setup")
        enter_pin(qtbot, staff.pin_pad, "12")
        assert staff.pin_message.text() == tr("ko", "staff.pin_rule")
        enter_pin(qtbot, staff.pin_pad, "5790")
        enter_pin(qtbot, staff.pin_pad, "5790")
        assert staff.stack.currentIndex() == 1
        qtbot.mouseClick(staff.idle_timeout.buttons[0], Qt.MouseButton.LeftButton)
        qtbot.mouseClick(staff.enabled.buttons[12], Qt.MouseButton.LeftButton)  # hide Filipino
        qtbot.mouseClick(staff.save_button, Qt.MouseButton.LeftButton)
        saved = load(tmp_path / "kiosk.toml")
        assert saved.problems == () and saved.config.idle_timeout_s == 60 and "tl" not in saved.config.enabled_languages
        assert verify_pin("5790", saved.config.pin_hash) and "5790" not in (tmp_path / "kiosk.toml").read_text()
        assert "tl" not in kiosk.window.start.grid.tiles()  # applied without a restart


def test_demo_mode_guides_a_try_and_resets_after_idle(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines, demo=True, idle_timeout_s=3) as kiosk:
        window = kiosk.window
        demo = window.demo
        assert window.current() is demo and not demo.trying()
        assert demo.invite.text() == tr("ko", "demo.invite")
        qtbot.mouseClick(demo.grid.tiles()["vi"], Qt.MouseButton.LeftButton)
        assert demo.trying() and demo.try_title.text() == tr("vi", "demo.try_title", language="Tiếng Việt")
        qtbot.mouseClick(demo.example_buttons[0], Qt.MouseButton.LeftButton)
        settle(kiosk, qtbot)
        assert demo.results["ko"].text.text() == "화장실은 어디에 있나요?"
        assert demo.results["en"].text.text() == "Where is the restroom?"
        assert demo.results["ko"].badge.text() == tr("vi", "bubble.curated")
        qtbot.mouseClick(window.top_bar.staff, Qt.MouseButton.LeftButton)  # staff stay reachable
        assert window.current() is window.staff
        qtbot.waitUntil(lambda: kiosk.controller.session is None and window.current() is demo, timeout=6000)
        assert not demo.trying() and demo.results["ko"].text.text() == "…"


def test_kiosk_lock_ignores_escape_keys_and_close(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines, locked=True, pin_hash=hash_pin("2468")) as kiosk:
        window = kiosk.window
        assert window.locked and window.windowFlags() & Qt.WindowType.FramelessWindowHint
        assert not window.pin_notice.isVisible()
        window.open_page(window.about)
        kiosk.app.sendEvent(window, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier))
        assert window.current() is window.about  # Esc does nothing while locked
        alt_f4 = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)
        assert window.eventFilter(window, alt_f4)
        window.close()
        assert window.isVisible()  # leaving needs the staff PIN


@pytest.mark.parametrize("how", ["fullscreen", "setting", "demo"])
def test_without_a_staff_pin_lock_and_demo_say_so_and_stay_unlocked(qtbot, tmp_path, engines, caplog, how):
    """`--fullscreen`, the kiosk_lock setting and exhibition mode on a kiosk with no staff PIN:
    it runs unlocked, with a notice in the officer's language and a warning naming the command."""
    options = {"fullscreen": {"locked": True}, "setting": {"kiosk_lock": True}, "demo": {"demo": True}}[how]
    with caplog.at_level("WARNING", logger="kiosk"), open_kiosk(tmp_path, engines, officer_language="vi",
                                                                 **options) as kiosk:
        window = kiosk.window
        assert not window.locked and not window.windowFlags() & Qt.WindowType.FramelessWindowHint
        assert window.pin_notice.isVisible() and window.pin_notice.text() == tr("vi", "staff.no_pin_notice")
        window.start_demo_try("en") if how == "demo" else window.start_conversation("en")
        assert window.pin_notice.isVisible() and window.pin_notice.text() == tr("vi", "staff.no_pin_notice")
        window.close()
        assert not window.isVisible()  # nothing holds the window: it was never locked
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("kiosk staff set-pin" in message for message in warnings), warnings


@pytest.mark.parametrize("key", [Qt.Key.Key_Space, Qt.Key.Key_Return])
def test_talk_button_works_from_the_keyboard(qtbot, tmp_path, engines, key):
    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("mn")
        talk = kiosk.window.conversation.panels["officer"].talk
        talk.setFocus()
        qtbot.keyClick(talk, key)
        status = kiosk.window.conversation.panels["officer"].status_text
        qtbot.waitUntil(lambda: status.text() == tr("ko", "error.no-microphone"), timeout=10_000)


def test_a_worker_error_ends_the_turn_kindly_and_the_kiosk_goes_on(qtbot, tmp_path, engines, monkeypatch):
    from kiosk.ui.worker import Worker

    with open_kiosk(tmp_path, engines) as kiosk:
        kiosk.window.start_conversation("en")
        working = Worker._run

        def broken(self, *args, **kwargs):
            raise RuntimeError("injected: the resident's words")

        monkeypatch.setattr(Worker, "_run", broken)
        kiosk.controller.say_text("resident", "Where is the restroom?")
        settle(kiosk, qtbot)
        [turn] = kiosk.controller.session.turns
        assert turn.state == "failed" and turn.error_kind == "internal"
        assert kiosk.window.conversation.panels["resident"].status_text.text() == tr("en", "error.internal")

        monkeypatch.setattr(Worker, "_run", working)
        kiosk.controller.say_text("resident", "Where is the restroom?")
        settle(kiosk, qtbot)
        assert kiosk.controller.session.turns[-1].state == "done"


@pytest.mark.qt_no_exception_capture
def test_an_error_in_the_gui_thread_exits_non_zero_for_the_supervisor(qtbot, tmp_path, engines, monkeypatch):
    import sys

    from PySide6.QtCore import QTimer

    from kiosk.ui.app import FATAL_EXIT_CODE, exit_on_uncaught_error

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    with open_kiosk(tmp_path, engines) as kiosk:
        exit_on_uncaught_error(kiosk)

        def broken_slot() -> None:
            raise RuntimeError("injected")

        QTimer.singleShot(0, broken_slot)
        assert kiosk.app.exec() == FATAL_EXIT_CODE


def test_start_up_model_check_before_the_staff_settings_exist(qtbot, tmp_path, engines):
    """The start-up model check answers before anyone opens the staff settings (it used to crash
    ``kiosk run`` 8-10 s after start); its rows appear once the settings are opened."""
    from kiosk.store.models import ModelRow
    from kiosk.ui.messages import ModelsChecked

    row = ModelRow(id="whisper-base", name="Whisper base", kind="asr", languages=("en",), size_mb=142.0, license="MIT",
                   license_warning=None, source="PyPI", default=True, state="installed", problems=(), path=None,
                   refused=False)
    with open_kiosk(tmp_path, engines) as kiosk:
        staff = kiosk.window.staff
        staff.show_models(ModelsChecked((row,), full=False))
        staff.open_settings()
        assert any("Whisper base" in label.text() for label in staff._model_rows)


def test_the_staff_panel_says_which_engines_are_loaded(qtbot, tmp_path, engines):
    from kiosk.ui.messages import ModelsChecked

    with open_kiosk(tmp_path, engines) as kiosk:
        staff = kiosk.window.staff
        staff.open_settings()
        staff.show_models(ModelsChecked((), full=False, loaded=("whisper-base", "en_US-joe-medium")))
        assert any(label.text() == tr("ko", "staff.loaded", engines="whisper-base, en_US-joe-medium")
                   for label in staff._model_rows)
