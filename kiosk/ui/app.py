"""Starting the kiosk (``kiosk run``) and rendering its screens to PNG (``kiosk screenshot``).

Start-up shows the window at once; the worker loads and warms the engines behind it.
Screenshots run the same window offscreen, with sample turns from the phrasebook sent through
the real pipeline (no microphone, no speaker), so what is rendered is what the kiosk shows.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.staff.config import KioskConfig, LoadedConfig, PinGate, hash_pin
from kiosk.staff.config import load as load_config
from kiosk.store import catalog
from kiosk.turn.settings import Settings
from kiosk.ui import keyboard

log = logging.getLogger(__name__)

SCREENS = ("start", "conversation", "phrasebook", "about", "accessibility", "staff", "demo", "demo-try")
# Sample turns for screenshots: (side, phrasebook key). Verified phrases, so they read well in every language.
SAMPLE_TURNS = (("officer", "greetings.how_can_i_help"), ("resident", "certificates.want_registration_copy"),
                ("officer", "identification.show_id"))
SAMPLE_PHRASE = "certificates.how_many_copies"
DEMO_SAMPLE = "directions.where_is_restroom"


@dataclass
class Kiosk:
    app: object  # QApplication
    worker: object  # Worker
    controller: object  # Controller
    window: object  # MainWindow

    def wait_until_idle(self, timeout_s: float = 120.0) -> None:
        """Let the GUI process worker messages until no job is left (screenshots, tests)."""
        deadline = time.monotonic() + timeout_s
        while self.controller.busy() and time.monotonic() < deadline:
            self.app.processEvents()
            time.sleep(0.01)
        self.app.processEvents()

    def close(self) -> None:
        self.window.shut_down()
        self.worker.shutdown()
        self.window.deleteLater()


def _qt_message(kind, _context, message: str) -> None:
    """Qt's own notices (font fallbacks, platform limits) go to the log, never to the screen."""
    from PySide6.QtCore import QtMsgType

    level = logging.ERROR if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg) else logging.DEBUG
    log.log(level, "Qt: %s", message)


def application():
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("kiosk")
    app.setApplicationDisplayName("Gyeonggi counter interpreter")
    return app


def build(loaded: LoadedConfig, *, audio: bool, warm_up: bool, engines=None, demo: bool = False,
          locked: bool = False, pin_gate: PinGate | None = None) -> Kiosk:
    """The whole kiosk: worker, controller and window (the worker is started, the window not shown)."""
    from kiosk.ui.controller import Controller
    from kiosk.ui.main_window import MainWindow
    from kiosk.audio.listener import AudioSettings
    from kiosk.store.environment import from_environment
    from kiosk.ui.worker import Worker
    from mt.phrasebook import Phrasebook

    app = application()
    config = loaded.config
    worker = Worker(
        Settings.from_staff(config),
        engines=engines,
        audio=AudioSettings(input_device=config.input_device, output_device=config.output_device) if audio else None,
        warm_up_languages=(config.officer_language, config.resident_language) if warm_up else None,
        store=engines.store if engines is not None else from_environment(),  # read here, at the kiosk's start
    )
    controller = Controller(worker, config)
    window = MainWindow(loaded, controller, Phrasebook.load(catalog.phrasebook_dir()), demo=demo, locked=locked,
                        pin_gate=pin_gate)
    worker.start()
    return Kiosk(app, worker, controller, window)


def run(demo: bool = False, fullscreen: bool = False) -> int:
    loaded = load_config()
    # Without a staff PIN the window refuses the lock (and says why, on screen and in the log).
    keyboard.prepare_environment()  # the on-screen keyboard's input method, before the QApplication
    kiosk = build(loaded, audio=True, warm_up=True, demo=demo, locked=fullscreen)
    exit_on_uncaught_error(kiosk)
    close_on_stop_signals(kiosk)
    if not kiosk.window.locked:
        show_filling_screen(kiosk.window)
    try:
        return kiosk.app.exec()
    finally:
        kiosk.worker.shutdown()


def show_filling_screen(window) -> None:
    """Maximised under a window manager; without one (a bare X session, common on kiosk PCs)
    maximising does nothing, so the window is first given the whole screen itself."""
    from PySide6.QtGui import QGuiApplication

    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        window.setGeometry(screen.availableGeometry())
    window.showMaximized()


def close_on_stop_signals(kiosk: Kiosk) -> None:
    """SIGTERM (systemd stopping the unit) and SIGINT (Ctrl+C) close the kiosk as Quit does: the
    conversation is erased, the worker stopped, and the exit code is 0."""
    from PySide6.QtCore import QTimer

    def stop(signum: int, _frame) -> None:
        log.info("%s: closing", signal.Signals(signum).name)
        kiosk.window.quit_kiosk()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Python runs a signal handler only when the interpreter gets control; Qt's event loop is C++,
    # so a short timer hands it control a few times a second.
    poll = QTimer(kiosk.window)  # owned by the window
    poll.timeout.connect(lambda: None)
    poll.start(200)


FATAL_EXIT_CODE = 70  # EX_SOFTWARE: the supervisor (packaging/kiosk.service) starts a fresh kiosk


def exit_on_uncaught_error(kiosk: Kiosk) -> None:
    """An error that escapes the GUI thread leaves the window in an unknown state: end the event
    loop with ``FATAL_EXIT_CODE`` rather than go on half-broken. Worker errors never get here: the
    worker ends that one turn with a friendly message."""

    def fatal(kind, error, trace) -> None:
        # The kind only: the message may quote what somebody said.
        log.critical("fatal error in the GUI thread: %s", kind.__name__, exc_info=log.isEnabledFor(logging.DEBUG))
        kiosk.app.exit(FATAL_EXIT_CODE)

    sys.excepthook = fatal


def _phrase(key: str):
    from mt.phrasebook import Phrasebook

    book = Phrasebook.load(catalog.phrasebook_dir())
    category = key.split(".")[0]
    return next(p for p in book.phrases(category) if p.id == key)


def stage(kiosk: Kiosk, screen: str, lang: str) -> None:
    """Put the window on ``screen`` with ``lang`` as its language, with sample content where it has any."""
    window, controller = kiosk.window, kiosk.controller
    officer = window.config.officer_language
    # With the officer's own language chosen, show the officer's view of a conversation in English.
    resident = lang if lang != officer else window.config.resident_language
    if screen in ("conversation", "phrasebook"):
        window.start_conversation(resident)
        if screen == "conversation":
            for side, key in SAMPLE_TURNS:
                text = _phrase(key).texts[controller.session.language(side)]
                controller.say_text(side, text)
                kiosk.wait_until_idle()
        window.set_ui_language(lang)
        if screen == "phrasebook":
            side = "resident" if resident == lang else "officer"
            window.open_phrasebook(side)
            window.phrasebook.show_category(SAMPLE_PHRASE.split(".")[0])
            window.choose_phrase(side, _phrase(SAMPLE_PHRASE).texts[controller.session.language(side)])
            kiosk.wait_until_idle()
    elif screen in ("demo", "demo-try"):
        window.set_ui_language(lang)
        window.demo.show_attract()
        window.show_screen(window.demo)
        if screen == "demo-try":
            window.start_demo_try(lang)
            window.demo.send.emit(_phrase(DEMO_SAMPLE).texts[lang], "phrase")
            kiosk.wait_until_idle()
    else:
        window.set_ui_language(lang)
        if screen == "start":
            window.show_screen(window.start)
        elif screen == "about":
            window.open_page(window.about)
        elif screen == "accessibility":
            window.open_page(window.accessibility)
        elif screen == "staff":
            window.open_staff()
            window.staff.open_settings()
            kiosk.wait_until_idle()
    kiosk.app.processEvents()


def screenshot(screen: str, lang: str, out: Path, *, large_text: bool = False, high_contrast: bool = False,
               size: tuple[int, int] = (1280, 800)) -> Path:
    """Render a named screen offscreen to a PNG file."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from kiosk.ui.theme import Appearance

    # A provisioned kiosk (a staff PIN is set, one nobody knows): no notice about a missing PIN.
    provisioned = KioskConfig(pin_hash=hash_pin(f"{secrets.randbelow(10**8):08d}"))
    kiosk = build(LoadedConfig(provisioned, Path(os.devnull)), audio=False, warm_up=False,
                  demo=screen.startswith("demo"))
    try:
        window = kiosk.window
        window.resize(*size)
        window.show()
        stage(kiosk, screen, lang)
        window.set_appearance(Appearance(large_text=large_text, high_contrast=high_contrast))
        for _ in range(3):
            kiosk.app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out), "PNG"):
            raise OSError(f"cannot write {out}")
        return out
    finally:
        kiosk.close()
