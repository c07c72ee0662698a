"""The talk button on a real audio stack: the private PulseAudio null sink of test_audio.py is the
microphone, so a clip played into it is what the kiosk hears, and its answer plays back into it."""

from conftest import REPO
from PySide6.QtCore import Qt
from test_audio import pulse  # noqa: F401  (the session fixture: a private PulseAudio daemon)
from ui_support import open_kiosk, settle

from kiosk.turn.pipeline import HeadStart
from kiosk.ui.i18n import tr

KOREAN_CLIP = REPO / "assets" / "samples" / "ko_picovoice_test.wav"


def test_tap_to_talk_hears_a_turn_shows_the_level_and_answers(qtbot, tmp_path, engines, pulse, monkeypatch):  # noqa: F811
    taken_over = []
    events = HeadStart.events
    monkeypatch.setattr(HeadStart, "events", lambda self: taken_over.append(self) or events(self))
    with open_kiosk(tmp_path, engines, audio=True) as kiosk:
        window, controller = kiosk.window, kiosk.controller
        window.start_conversation("en")
        officer = window.conversation.panels["officer"]
        levels, kinds = [], []
        controller.level_changed.connect(levels.append)
        controller.status_changed.connect(lambda status: kinds.append(status.kind))

        qtbot.mouseClick(officer.talk, Qt.MouseButton.LeftButton)  # a tap: hands-free
        qtbot.waitUntil(lambda: controller.status.kind == "listening", timeout=15_000)
        assert officer.talk.text_label().text() == tr("ko", "talk.listening") and officer.meter.isVisible()
        player = pulse.play(KOREAN_CLIP)
        qtbot.waitUntil(lambda: any(t.state == "done" for t in controller.session.turns), timeout=60_000)
        player.wait(timeout=10)

        turn = controller.session.turns[0]
        assert turn.side == "officer" and turn.origin == "speech" and "피하면서" in turn.original
        assert turn.translation.isascii() and turn.engine == "whisper"
        assert levels and max(level.rms_dbfs for level in levels) > -40  # the meter saw the voice
        assert "speaking" in kinds  # the English answer went to the loudspeaker
        assert len(taken_over) == 1  # the turn was begun on the pause before the endpoint

        # Hands-free listens again after the answer; a second tap stops it.
        qtbot.waitUntil(lambda: controller.status.kind == "listening", timeout=20_000)
        qtbot.mouseClick(officer.talk, Qt.MouseButton.LeftButton)
        settle(kiosk, qtbot, timeout_ms=15_000)
        assert controller.hands_free is None and controller.status.kind == "ready"
        assert len(controller.session.turns) == 1  # the kiosk did not hear its own answer


def test_hold_to_talk_records_until_the_button_is_released(qtbot, tmp_path, engines, pulse):  # noqa: F811
    with open_kiosk(tmp_path, engines, audio=True) as kiosk:
        window, controller = kiosk.window, kiosk.controller
        window.start_conversation("en")
        officer = window.conversation.panels["officer"]
        qtbot.mousePress(officer.talk, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: controller.status.kind == "listening", timeout=15_000)
        assert officer.talk.sub_label().text() == tr("ko", "talk.release")
        pulse.play(KOREAN_CLIP).wait(timeout=15)
        qtbot.mouseRelease(officer.talk, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: any(t.state == "done" for t in controller.session.turns), timeout=60_000)
        settle(kiosk, qtbot, timeout_ms=30_000)
        [turn] = controller.session.turns
        assert "피하면서" in turn.original and turn.translation.isascii()
        assert controller.hands_free is None and controller.status.kind == "ready"
