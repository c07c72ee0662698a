"""The face-to-face conversation: a resident panel and an officer panel, each in its own language.

Each panel shows the whole conversation from its reader's side (their language first), the
status, a typed-input row and a large talk button. The bar below holds "change language",
"swap sides" and "Done", labelled in the resident's language with the officer's underneath;
it stays on screen while the panels above it scroll.
"""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.store import catalog
from kiosk.turn.session import Side, TurnRecord
from kiosk.ui.controller import Status
from kiosk.ui.i18n import tr
from kiosk.ui.keyboard import FIELD_LANGUAGE
from kiosk.ui.screens import Screen
from kiosk.ui.theme import refresh_fonts
from kiosk.ui.widgets import (
    LEVEL_KEYS,
    IconLabel,
    Label,
    LevelMeter,
    TalkButton,
    TouchButton,
    Transcript,
    scroll_area,
)

STATUS_ICONS = {"loading": "clock", "ready": "mic", "listening": "mic", "recognising": "clock", "working": "clock",
                "speaking": "speaker", "error": "alert"}


class SidePanel(QFrame):
    send = Signal(str, str)  # side, text
    talk_pressed = Signal(str)
    talk_released = Signal(str, bool)  # side, was a tap
    phrases = Signal(str)

    def __init__(self, side: Side, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.lang = "ko"
        self.setProperty("surface", "card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(12)

        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        self.role = Label("", "title", side, bold=True)
        self.language = Label("", "caption", "muted")
        titles.addWidget(self.role)
        titles.addWidget(self.language)
        # What this side can do in its language (kiosk.turn.capability); shown on the resident's side.
        self.level = Label("", "caption", "muted")
        self.level.setVisible(False)
        titles.addWidget(self.level)
        header.addLayout(titles, 1)
        self.phrases_button = TouchButton("", "book", "link")
        self.phrases_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
        self.phrases_button.clicked.connect(lambda: self.phrases.emit(self.side))
        header.addWidget(self.phrases_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(header)

        self.transcript = Transcript(side)
        layout.addWidget(self.transcript, 1)

        status_row = QHBoxLayout()
        self.status_icon = IconLabel("mic", "body")
        self.status_text = Label("", "body")
        status_row.addWidget(self.status_icon, 0, Qt.AlignmentFlag.AlignTop)
        status_row.addWidget(self.status_text, 1)
        layout.addLayout(status_row)
        self.meter = LevelMeter()
        self.meter.setVisible(False)
        layout.addWidget(self.meter)

        typing = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setProperty("textRole", "body")
        self.input.returnPressed.connect(self._send)
        self.send_button = TouchButton("", "send", side)
        self.send_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
        self.send_button.clicked.connect(self._send)
        typing.addWidget(self.input, 1)
        typing.addWidget(self.send_button)
        layout.addLayout(typing)

        self.talk = TalkButton(side)
        self.talk.hold_started.connect(lambda: self.talk_pressed.emit(self.side))
        self.talk.hold_released.connect(lambda: self.talk_released.emit(self.side, False))
        self.talk.tapped.connect(lambda: self.talk_released.emit(self.side, True))
        layout.addWidget(self.talk)
        # Where speech is not offered (typing-and-phrases), the phrasebook takes the talk button's place.
        self.phrases_big = TouchButton("", "book", side)
        self.phrases_big.clicked.connect(lambda: self.phrases.emit(self.side))
        self.phrases_big.setVisible(False)
        layout.addWidget(self.phrases_big)
        self._listening: str | None = None
        self._ready = False
        self._speech_level: str | None = None

    def _send(self) -> None:
        text = self.input.text().strip()
        if text:
            self.input.clear()
            self.send.emit(self.side, text)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.setProperty("lang", lang)
        self.input.setProperty(FIELD_LANGUAGE, lang)  # the on-screen keyboard opens in this side's language
        self.retranslate()

    def retranslate(self) -> None:
        lang = self.lang
        self.role.setText(tr(lang, f"role.{self.side}"))
        self.language.setText(catalog.language(lang).native)
        self.phrases_button.set_text(tr(lang, "conversation.phrases"))
        self.input.setPlaceholderText(tr(lang, "conversation.type_here"))
        self.input.setAccessibleName(tr(lang, "conversation.type_here"))
        self.send_button.set_text(tr(lang, "conversation.send"))
        self.transcript.empty_hint.setText(tr(lang, f"conversation.empty_{self.side}"))
        self.phrases_big.set_text(tr(lang, "conversation.phrases"), tr(lang, "capability.typing"))
        self.level.setText(tr(lang, LEVEL_KEYS[self._speech_level]) if self._speech_level in LEVEL_KEYS else "")
        self._render_talk()

    def set_speech_level(self, level: str | None) -> None:
        """Show what a resident can do in this language; without speech, no talk button: the
        phrasebook button in its place and the typing field ready."""
        self._speech_level = level
        typing_only = level == "typing-and-phrases"
        self.level.setVisible(level is not None)
        self.talk.setVisible(not typing_only)
        self.phrases_big.setVisible(typing_only)
        self.retranslate()
        if typing_only:
            self.input.setFocus()

    @property
    def speech_offered(self) -> bool:
        return self._speech_level != "typing-and-phrases"

    def _render_talk(self) -> None:
        lang = self.lang
        if not self._ready:
            self.talk.set_text(tr(lang, "talk.getting_ready"), tr(lang, "talk.type_meanwhile"))
        elif self._listening == "push-to-talk":
            self.talk.set_text(tr(lang, "talk.listening"), tr(lang, "talk.release"))
        elif self._listening == "hands-free":
            self.talk.set_text(tr(lang, "talk.listening"), tr(lang, "talk.tap_to_stop"))
        else:
            self.talk.set_text(tr(lang, "talk.hold"), tr(lang, "talk.tap_hint"))
        self.talk.setEnabled(self._ready)
        self.talk.set_tone("listening" if self._listening else self.side)

    def show_status(self, status: Status, ready: bool) -> None:
        lang = self.lang
        self._ready = ready
        self._listening = status.mode if status.kind == "listening" and status.side == self.side else None
        if status.kind == "listening":
            text = tr(lang, "status.listening_you" if status.side == self.side else f"status.listening_{status.side}")
        elif status.kind == "error" or status.message:
            text = tr(lang, status.message or "error.internal")
        elif status.kind == "ready":
            text = tr(lang, "status.ready")
        else:
            text = tr(lang, f"status.{status.kind}")
        self.status_text.setText(text)
        self.status_text.set_tone("error" if status.kind == "error" else None)
        self.status_icon.set_icon(STATUS_ICONS[status.kind])
        self.meter.setVisible(bool(self._listening))
        if not self._listening:
            self.meter.reset()
        self._render_talk()

    def show_level(self, level) -> None:
        if not self._listening:
            return
        hint = {"too-quiet": "level.too_quiet", "clipping": "level.clipping"}.get(level.hint)
        self.meter.show_level(level.rms_dbfs, tr(self.lang, hint) if hint else "", warn=hint is not None)


class ConversationScreen(Screen):
    send = Signal(str, str)
    talk_pressed = Signal(str)
    talk_released = Signal(str, bool)
    phrases = Signal(str)
    replay = Signal(int)
    retract = Signal(int)
    change_language = Signal()
    done = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(14)
        self.panels: dict[Side, SidePanel] = {side: SidePanel(side) for side in ("resident", "officer")}
        # The panels scroll on their own and the bar stays under them: "Done" is always on screen,
        # also while the on-screen keyboard takes the bottom of the window or text is large.
        panels = QWidget()
        self._row = QHBoxLayout(panels)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(16)
        for panel in self.panels.values():
            panel.send.connect(self.send)
            panel.talk_pressed.connect(self.talk_pressed)
            panel.talk_released.connect(self.talk_released)
            panel.phrases.connect(self.phrases)
            panel.transcript.replay.connect(self.replay)
            panel.transcript.retract.connect(self.retract)
            self._row.addWidget(panel, 1)
        layout.addWidget(scroll_area(panels), 1)

        bar = QHBoxLayout()
        bar.setSpacing(14)
        self.change_language_button = TouchButton("", "globe", "link")
        self.swap_button = TouchButton("", "swap", "link")
        self.done_button = TouchButton("", "done", "danger")
        self.change_language_button.clicked.connect(self.change_language)
        self.swap_button.clicked.connect(self.swap_sides)
        self.done_button.clicked.connect(self.done)
        for button in (self.change_language_button, self.swap_button):
            bar.addWidget(button, 1)
        bar.addStretch(0)
        bar.addWidget(self.done_button, 1)
        layout.addLayout(bar)
        self._officer_lang = "ko"
        self._levels: dict[str, str] = {}
        self._order_focus()

    def set_speech_levels(self, levels: dict[str, str]) -> None:
        """Each language's speech level (kiosk.turn.capability), shown on the resident's side only."""
        self._levels = dict(levels)

    def set_languages(self, resident: str, officer: str) -> None:
        self._officer_lang = officer
        self.panels["resident"].set_speech_level(self._levels.get(resident))
        self.panels["resident"].set_language(resident)
        self.panels["officer"].set_language(officer)
        for button in (self.change_language_button, self.swap_button, self.done_button):
            button.setProperty("lang", resident)
            button.sub_label().setProperty("lang", officer)
        self.retranslate(resident)
        refresh_fonts(self)

    def retranslate(self, lang: str) -> None:
        officer = self._officer_lang
        for button, key in ((self.change_language_button, "conversation.change_language"),
                            (self.swap_button, "conversation.swap"), (self.done_button, "conversation.done")):
            sub = tr(officer, key) if officer != lang else ""
            button.set_text(tr(lang, key), sub)

    def swap_sides(self) -> None:
        """Mirror the panels, for counters where the officer stands on the left."""
        first = self._row.itemAt(0).widget()
        self._row.removeWidget(first)
        self._row.addWidget(first, 1)
        self._order_focus()

    def _order_focus(self) -> None:
        """Tab goes through the panels left to right, each top to bottom, then the bar."""
        chain: list[QWidget] = []
        for index in range(self._row.count()):
            panel = self._row.itemAt(index).widget()
            chain += [panel.phrases_button, panel.input, panel.send_button, panel.talk, panel.phrases_big]
        chain += [self.change_language_button, self.swap_button, self.done_button]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def show_turn(self, turn: TurnRecord, can_retract: bool) -> None:
        for panel in self.panels.values():
            panel.transcript.show_turn(turn, can_retract)

    def clear(self) -> None:
        for panel in self.panels.values():
            panel.transcript.clear()
            panel.input.clear()

    def show_status(self, status: Status, ready: bool) -> None:
        for panel in self.panels.values():
            panel.show_status(status, ready)

    def show_level(self, level) -> None:
        for panel in self.panels.values():
            panel.show_level(level)
