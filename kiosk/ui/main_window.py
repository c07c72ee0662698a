"""The kiosk window: a top bar that is on every screen (status, text and sound, About this AI,
staff), the screens, the idle timeout that erases a conversation, and the kiosk lock.

The kiosk lock engages only once the provisioning staff have set a PIN (``kiosk staff set-pin``):
without one, leaving the lock would need a PIN nobody has, or whoever touched the staff panel
first would choose it. A lock (or exhibition mode) asked for without a PIN leaves the kiosk
unlocked, with a notice under the top bar in the officer's language and a warning in the log."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QMainWindow,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.staff.config import KioskConfig, LoadedConfig, PinGate
from kiosk.turn import capability
from kiosk.turn.session import Side, other_side
from kiosk.ui.controller import Controller, Status
from kiosk.ui.i18n import tr
from kiosk.ui.keyboard import KeyboardDock
from kiosk.ui.screens import Screen
from kiosk.ui.screens.about import AboutScreen
from kiosk.ui.screens.accessibility import AccessibilityScreen
from kiosk.ui.screens.conversation import STATUS_ICONS, ConversationScreen
from kiosk.ui.screens.demo import DemoScreen, demo_targets
from kiosk.ui.screens.phrasebook import PhrasebookScreen
from kiosk.ui.screens.staff import StaffScreen
from kiosk.ui.screens.start import StartScreen
from kiosk.ui.theme import Appearance, Theme
from kiosk.ui.widgets import IconLabel, Label, ReflowGrid, TouchButton, scroll_area
from mt.phrasebook import Phrasebook

log = logging.getLogger(__name__)

# The warning comes this long before the idle timeout, so someone still there can keep going.
IDLE_WARNING_S = 15
# Keys that leave or hide a kiosk window; swallowed while the kiosk is locked.
LOCKED_KEYS = {Qt.Key.Key_Escape, Qt.Key.Key_F11, Qt.Key.Key_Super_L, Qt.Key.Key_Super_R, Qt.Key.Key_Meta}
ACTIVITY_EVENTS = frozenset((QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin, QEvent.Type.KeyPress,
                             QEvent.Type.Wheel))
LOCKED_SEQUENCES = (QKeySequence.StandardKey.Close, QKeySequence.StandardKey.Quit,
                    QKeySequence.StandardKey.FullScreen)


class TopBar(QFrame):
    TITLE_SHARE = 0.4  # of the screen's width, at most, for the title on one line

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("surface", "topbar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 10, 20, 10)
        layout.setSpacing(14)
        self.title = Label("", "title", "bar", bold=True)
        self.title.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        # The bar shares its width by stretch, not by need: in large-text mode the title would wrap.
        self.title.keep_one_line(self.TITLE_SHARE)
        self.status_icon = IconLabel("clock", "body")
        self.status_icon.setProperty("tone", "bar")
        self.status = Label("", "body", "bar")
        self.text_sound = TouchButton("", "text-size", "bar")
        self.about = TouchButton("", "info", "bar")
        self.staff = TouchButton("", "lock", "bar")
        layout.addWidget(self.title, 2)
        layout.addWidget(self.status_icon)
        layout.addWidget(self.status, 2)
        for button in (self.text_sound, self.about, self.staff):
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
            # At 12 mm their texts would wrap the bar to a third of a 10" panel.
            button.icon_only_in_large_text()
            layout.addWidget(button)

    def retranslate(self, lang: str) -> None:
        self.title.setText(tr(lang, "app.name"))
        self.text_sound.set_text(tr(lang, "accessibility.button"))
        self.about.set_text(tr(lang, "about.button"))
        self.staff.set_text("")
        self.staff.setAccessibleName(tr(lang, "staff.button"))
        self.staff.setToolTip(tr(lang, "staff.button"))

    def show_status(self, lang: str, status: Status, visible: bool) -> None:
        text = "" if status.kind == "ready" and not status.message else _status_text(lang, status)
        self.status.setText(text)
        self.status_icon.set_icon(STATUS_ICONS[status.kind])
        self.status_icon.setVisible(visible and bool(text))
        self.status.setVisible(visible)


def _forget_focus(screen: QWidget) -> None:
    """A new visitor finds no field focused: Qt gives focus back to the last field focused on a
    screen shown again, and the on-screen keyboard would open before they touched anything."""
    field = screen.focusWidget()
    if field is not None:
        field.clearFocus()


def _status_text(lang: str, status: Status) -> str:
    if status.kind == "error" or status.message:
        return tr(lang, status.message or "error.internal")
    if status.kind == "listening":
        return tr(lang, "status.listening")
    return tr(lang, f"status.{status.kind}")


class IdleWarning(QFrame):
    """"Are you still there?" over the screen, shortly before the conversation is erased."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setProperty("surface", "card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(16)
        self.title = Label("", "title", bold=True)
        self.message = Label("", "body")
        self.keep = TouchButton("", "check", "resident")
        for widget in (self.title, self.message, self.keep):
            layout.addWidget(widget)
        self.hide()

    def show_countdown(self, lang: str, seconds: int) -> None:
        self.setProperty("lang", lang)
        self.title.setText(tr(lang, "idle.title"))
        self.message.setText(tr(lang, "idle.message", seconds=seconds))
        self.keep.set_text(tr(lang, "idle.continue"))
        parent = self.parentWidget()
        width = min(parent.width() - 80, max(560, parent.width() // 2))
        self.setFixedWidth(width)
        self.adjustSize()
        self.move((parent.width() - self.width()) // 2, (parent.height() - self.height()) // 2)
        self.show()
        self.raise_()


class MainWindow(QMainWindow):
    def __init__(self, loaded: LoadedConfig, controller: Controller, phrasebook: Phrasebook, *,
                 demo: bool = False, locked: bool = False, pin_gate: PinGate | None = None) -> None:
        super().__init__()
        self.config: KioskConfig = loaded.config
        self.controller = controller
        self.demo_mode = demo or self.config.demo_mode
        self.locked = False
        self._quit_allowed = False
        self.appearance = Appearance()
        self.theme = Theme.for_screen(self.appearance, self.screen(), self.config)
        self.ui_lang = self.config.officer_language
        self._history: list[Screen] = []
        self._last_activity = time.monotonic()
        self.setWindowTitle("Gyeonggi counter interpreter")

        central = QWidget()
        central.setProperty("surface", "window")
        central.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.top_bar = TopBar()
        # Staff-facing: a lock (or exhibition mode) asked for on a kiosk without a staff PIN.
        self.pin_notice = Label("", "body", "error", lang=self.config.officer_language)
        self.pin_notice.setContentsMargins(20, 8, 20, 8)
        self.pin_notice.hide()
        self.stack = QStackedWidget()
        column.addWidget(self.top_bar)
        column.addWidget(self.pin_notice)
        column.addWidget(self.stack, 1)
        # The on-screen keyboard, under the screens so it never covers the field typed into.
        self.keyboard = KeyboardDock()
        column.addWidget(self.keyboard)
        self.setCentralWidget(central)

        self.start = StartScreen()
        self.conversation = ConversationScreen()
        self.phrasebook = PhrasebookScreen(phrasebook)
        servers_configured = bool(self.config.servers.routes())
        self.about = AboutScreen(sum(len(phrasebook.phrases(c.id)) for c in phrasebook.categories()),
                                 controller.worker.store, servers_configured=servers_configured)
        self.accessibility = AccessibilityScreen()
        self.staff = StaffScreen(loaded, controller.stats, pin_gate)
        self.demo = DemoScreen(phrasebook, servers_configured=servers_configured)
        # Each screen scrolls as a page when it cannot fit (large text on a small screen): never squeezed.
        self._pages: dict[Screen, QScrollArea] = {}
        for screen in (self.start, self.conversation, self.phrasebook, self.about, self.accessibility, self.staff,
                       self.demo):
            self._pages[screen] = scroll_area(screen, page=True)
            self.stack.addWidget(self._pages[screen])
            screen.back.connect(self.go_back)
        self.idle_warning = IdleWarning(central)
        self._connect()
        self.refresh_capability()
        self._apply_languages()
        self.set_ui_language(self.ui_lang)
        self.set_appearance(self.appearance)
        self.stack.setCurrentWidget(self._pages[self.home()])
        self._render_status(controller.status)

        self._idle_timer = QTimer(self)
        self._idle_timer.timeout.connect(self._check_idle)
        self._idle_timer.start(1000)
        QApplication.instance().installEventFilter(self)
        self._lock_wanted = locked or self.config.kiosk_lock
        if self._lock_wanted:
            self.set_locked(True)
        elif self.demo_mode and not self.config.has_pin:
            log.warning("exhibition mode without a staff PIN: the kiosk lock cannot engage and the staff panel "
                        "is closed; set the PIN with `kiosk staff set-pin`")
        self._render_pin_notice()

    # --- wiring ----------------------------------------------------------------------------

    def _connect(self) -> None:
        c = self.controller
        bar = self.top_bar
        bar.text_sound.clicked.connect(lambda: self.open_page(self.accessibility))
        bar.about.clicked.connect(lambda: self.open_page(self.about))
        bar.staff.clicked.connect(self.open_staff)
        self.start.language_chosen.connect(self.start_conversation)

        conv = self.conversation
        conv.send.connect(lambda side, text: c.say_text(side, text))
        conv.talk_pressed.connect(c.talk_pressed)
        conv.talk_released.connect(c.talk_released)
        conv.replay.connect(c.replay)
        conv.retract.connect(c.retract)
        conv.phrases.connect(self.open_phrasebook)
        conv.change_language.connect(self._choose_new_language)
        conv.done.connect(self.end_session)
        self.phrasebook.phrase_chosen.connect(self.choose_phrase)

        self.accessibility.appearance_changed.connect(self.set_appearance)
        self.accessibility.rate_changed.connect(lambda rate: setattr(c, "speech_rate", rate))
        self.accessibility.volume_changed.connect(lambda volume: setattr(c, "volume", volume))
        self.accessibility.sample.connect(
            lambda: c.speak_sample(self.ui_lang, tr(self.ui_lang, "accessibility.sample_text")))

        self.staff.config_saved.connect(self.apply_config)
        self.staff.quit_requested.connect(self.quit_kiosk)
        self.staff.list_devices.connect(c.list_devices)
        self.staff.check_models.connect(c.check_models)
        c.devices_listed.connect(self.staff.show_devices)
        c.models_checked.connect(self.staff.show_models)
        c.models_checked.connect(lambda _checked: self.refresh_capability())
        self.staff.check_servers.connect(c.check_servers)
        self.about.check_servers.connect(c.check_servers)
        c.servers_checked.connect(self.staff.show_servers)
        c.servers_checked.connect(self.about.set_servers)

        demo = self.demo
        demo.language_chosen.connect(self.start_demo_try)
        demo.talk_pressed.connect(lambda: c.talk_pressed("resident", self._demo_targets()))
        demo.talk_released.connect(lambda tap: c.talk_released("resident", tap))
        demo.send.connect(lambda text, origin: c.say_text("resident", text, origin, self._demo_targets()))
        demo.replay.connect(c.replay)
        demo.finish.connect(self.end_session)

        c.turn_changed.connect(self._turn_changed)
        c.conversation_reset.connect(self._conversation_reset)
        c.status_changed.connect(self._render_status)
        c.level_changed.connect(self.conversation.show_level)
        c.engines_progress.connect(self.start.show_progress)
        self.idle_warning.keep.clicked.connect(self._keep_going)

    def refresh_capability(self) -> None:
        """What a resident can do in each language, from the installed models and their figures."""
        self.controller.worker.asr_models = dict(self.config.asr_models)
        self.capability = capability.levels(self.controller.worker.store, self.config.asr_models)
        levels = {code: row.speech_level for code, row in self.capability.items()}
        self.start.set_speech_levels(levels)
        self.conversation.set_speech_levels(levels)
        self.about.set_capability(self.capability)

    def _apply_languages(self) -> None:
        self.start.set_languages(self.config.enabled_languages)
        self.demo.set_languages(self.config.enabled_languages)

    # --- language, appearance, navigation --------------------------------------------------

    def set_ui_language(self, lang: str) -> None:
        """Switch every string of the window to ``lang`` at once."""
        self.ui_lang = lang
        self.centralWidget().setProperty("lang", lang)
        self.top_bar.retranslate(lang)
        for screen in (self.start, self.about, self.accessibility, self.staff, self.demo):
            screen.retranslate(lang)
        session = self.controller.session
        if session is not None:
            self.conversation.set_languages(session.language("resident"), session.language("officer"))
        self.theme.apply_fonts(self)
        self._render_status(self.controller.status)

    def set_appearance(self, appearance: Appearance) -> None:
        self.appearance = appearance
        self.theme = Theme.for_screen(appearance, self.screen(), self.config)
        self.theme.apply(QApplication.instance(), self)
        for grid in self.findChildren(ReflowGrid):
            grid.reflow()
        self.accessibility.show_values(appearance, self.controller.speech_rate, self.controller.volume)

    def home(self) -> Screen:
        return self.demo if self.demo_mode else self.start

    def current(self) -> Screen:
        return self.stack.currentWidget().widget()

    def show_screen(self, screen: Screen) -> None:
        if screen is not self.start or not self._history:
            self.start.show_back(False)
        self.stack.setCurrentWidget(self._pages[screen])
        self._render_status(self.controller.status)

    def open_page(self, screen: Screen) -> None:
        """Open a page (About, text and sound, staff, phrasebook) on top of the current screen."""
        if self.current() is not screen:
            self._history.append(self.current())
        self.show_screen(screen)

    def go_back(self) -> None:
        self.show_screen(self._history.pop() if self._history else self.home())

    def open_staff(self) -> None:
        self.staff.open()
        self.open_page(self.staff)

    def open_phrasebook(self, side: Side) -> None:
        session = self.controller.session
        if session is None:
            return
        self.phrasebook.open_for(side, session.language(side), session.language(other_side(side)))
        self.theme.apply_fonts(self.phrasebook)
        self.open_page(self.phrasebook)

    # --- sessions --------------------------------------------------------------------------

    def start_conversation(self, resident_lang: str) -> None:
        if self.controller.session is not None and self.current() is self.start and self._history:
            # Chosen from "change language": keep the conversation, change the resident's language.
            self.controller.change_resident_language(resident_lang)
            self._history.clear()
        else:
            self.controller.start_session(resident_lang)
            _forget_focus(self.conversation)
        self.set_ui_language(resident_lang)
        self.show_screen(self.conversation)
        resident = self.conversation.panels["resident"]
        if not resident.speech_offered:
            resident.input.setFocus()  # no speech in this language: the keyboard is the way in

    def _choose_new_language(self) -> None:
        self.open_page(self.start)
        self.start.show_back(True)

    def start_demo_try(self, visitor: str) -> None:
        self.controller.start_session(visitor)
        _forget_focus(self.demo)
        self.set_ui_language(visitor)
        self.demo.show_try(visitor)
        self.show_screen(self.demo)

    def _demo_targets(self) -> tuple[str, ...]:
        session = self.controller.session
        return demo_targets(session.language("resident")) if session else ()

    def choose_phrase(self, side: Side, text: str) -> None:
        self.controller.say_text(side, text, "phrase")
        session = self.controller.session
        latest = session.latest(side) if session else None
        self.phrasebook.expected_turn = latest.id if latest else None

    def end_session(self) -> None:
        """Done (or idle): erase the conversation, reset text and sound, return to the start."""
        self.controller.end_session()
        self.idle_warning.hide()
        self._history.clear()
        self.demo.show_attract()
        self.phrasebook.clear_result()
        if self.appearance != Appearance():
            self.set_appearance(Appearance())
        self.accessibility.show_values(self.appearance, self.controller.speech_rate, self.controller.volume)
        self.set_ui_language(self.config.officer_language)
        self.show_screen(self.home())

    def _conversation_reset(self) -> None:
        """A new session, or a new resident language: the panels are rebuilt from the session."""
        self.conversation.clear()
        session = self.controller.session
        if session is not None:
            self.conversation.set_languages(session.language("resident"), session.language("officer"))
            self.theme.apply_fonts(self.conversation)
            self._show_turns(session.turns)

    def _turn_changed(self, turn_id: int) -> None:
        session = self.controller.session
        turn = session.find(turn_id) if session else None
        if turn is None:
            return
        # Only the newest resident turn can be taken back, so the resident's older ones change too.
        self._show_turns([each for each in session.turns if each.id == turn_id or each.side == "resident"])
        self.phrasebook.show_turn(turn)
        self.demo.show_turn(turn)

    def _show_turns(self, turns) -> None:
        latest = self.controller.session.latest("resident")
        for turn in turns:
            self.conversation.show_turn(turn, can_retract=latest is not None and turn.id == latest.id)

    def _render_status(self, status: Status) -> None:
        if status.kind in ("recognising", "working", "speaking"):
            self._last_activity = time.monotonic()
        ready = self.controller.engines_ready
        self.conversation.show_status(status, ready)
        self.demo.show_status(status)
        self.top_bar.show_status(self.ui_lang, status, visible=self.current() not in (self.conversation, self.demo))

    def apply_config(self, config: KioskConfig) -> None:
        """Staff saved new settings: apply them now (no restart)."""
        resized = (config.display_dpi, config.display_diagonal_in) != (self.config.display_dpi,
                                                                        self.config.display_diagonal_in)
        self.config = config
        self.controller.apply_config(config)
        if resized:
            self.set_appearance(self.appearance)
        self.refresh_capability()
        self._apply_languages()
        self.theme.apply_fonts(self)
        if self.demo_mode != config.demo_mode:
            self.demo_mode = config.demo_mode
            self._history = [self.home()]
        self._lock_wanted = config.kiosk_lock
        if config.kiosk_lock != self.locked:
            self.set_locked(config.kiosk_lock)
        self._render_pin_notice()

    # --- idle timeout ----------------------------------------------------------------------

    def _has_something_to_reset(self) -> bool:
        return (self.controller.session is not None or self.current() is not self.home()
                or self.appearance != Appearance() or self.ui_lang != self.config.officer_language)

    def _check_idle(self) -> None:
        if not self._has_something_to_reset():
            self.idle_warning.hide()
            return
        idle = time.monotonic() - self._last_activity
        timeout = self.config.idle_timeout_s
        if idle >= timeout:
            log.info("idle for %.0f s: session ended and erased", idle)
            self.end_session()
        elif idle >= timeout - min(IDLE_WARNING_S, timeout / 3):
            self.idle_warning.show_countdown(self.ui_lang, max(1, round(timeout - idle)))
            self.theme.apply_fonts(self.idle_warning)
        else:
            self.idle_warning.hide()

    def _keep_going(self) -> None:
        self._last_activity = time.monotonic()
        self.idle_warning.hide()

    def touch(self) -> None:
        """Someone is using the kiosk: postpone the idle timeout."""
        self._last_activity = time.monotonic()
        if self.controller.session is not None:
            self.controller.session.touch()

    # --- kiosk lock ------------------------------------------------------------------------

    def set_locked(self, locked: bool) -> None:
        """Fullscreen with no decorations, escape keys ignored; leaving needs the staff PIN, so the
        lock refuses to engage until one was set (the kiosk then runs unlocked, saying why)."""
        if locked and not self.config.has_pin:
            log.warning("kiosk lock refused: no staff PIN has been set; the provisioning staff set one with "
                        "`kiosk staff set-pin`. The kiosk runs unlocked")
            self._render_pin_notice()
            return
        if locked != self.locked:
            log.info("kiosk lock %s", "engaged" if locked else "released")
        self.locked = locked
        flags = self.windowFlags()
        flags = (flags | Qt.WindowType.FramelessWindowHint) if locked else (flags & ~Qt.WindowType.FramelessWindowHint)
        self.setWindowFlags(flags)
        if locked:
            # Without a window manager (a bare X session, common on kiosk PCs) full screen is only
            # a request nobody grants: the window takes the whole screen itself first.
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is not None:
                self.setGeometry(screen.geometry())
            self.showFullScreen()
        elif self.isVisible():
            self.showNormal()

    def _render_pin_notice(self) -> None:
        officer = self.config.officer_language
        wanted = not self.config.has_pin and (self._lock_wanted or self.demo_mode)
        self.pin_notice.setProperty("lang", officer)
        self.pin_notice.setText(tr(officer, "staff.no_pin_notice") if wanted else "")
        self.pin_notice.setVisible(wanted)
        if wanted:
            self.theme.apply_fonts(self.pin_notice)

    def shut_down(self) -> None:
        """Close the window even when locked (the application is ending)."""
        self._quit_allowed = True
        self._idle_timer.stop()
        QApplication.instance().removeEventFilter(self)
        self.close()

    def quit_kiosk(self) -> None:
        """Leave the kiosk; only the staff panel (behind the PIN) offers this."""
        self.shut_down()
        QApplication.instance().quit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in ACTIVITY_EVENTS:
            self.touch()
            if kind == QEvent.Type.KeyPress and self._blocked_key(event):
                return True
        return False

    def _blocked_key(self, event: QKeyEvent) -> bool:
        if not self.locked:
            return False
        alt_f4 = event.key() == Qt.Key.Key_F4 and event.modifiers() & Qt.KeyboardModifier.AltModifier
        return bool(alt_f4) or event.key() in LOCKED_KEYS or any(event.matches(s) for s in LOCKED_SEQUENCES)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.current() is not self.home():
            self.go_back()  # Esc is "back" for keyboard users (never reached while locked)
            return
        super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        if self.locked and not self._quit_allowed:
            event.ignore()
            return
        self.controller.end_session()
        super().closeEvent(event)
