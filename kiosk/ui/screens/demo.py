"""Exhibition mode: an attract loop inviting visitors in every language, then a guided try —
speak (or type, or pick a phrase) in your language and hear it in Korean and English."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLineEdit, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from kiosk.store import catalog
from kiosk.turn.session import TurnRecord
from kiosk.ui.controller import Status
from kiosk.ui.i18n import tr
from kiosk.ui.keyboard import FIELD_LANGUAGE
from kiosk.ui.screens import Screen, page_layout
from kiosk.ui.theme import refresh_fonts
from kiosk.ui.widgets import Badge, Label, LanguagePicker, TalkButton, TouchButton, failure_text, scroll_area
from mt.phrasebook import Phrasebook

DEMO_LANGUAGES = ("ko", "en")
# Phrases a visitor might say at a counter, offered as one-touch examples (verified translations).
EXAMPLE_PHRASES = ("directions.where_is_restroom", "help_emergency.i_need_help", "certificates.two_copies")
INVITE_INTERVAL_MS = 2200


def demo_targets(lang: str) -> tuple[str, ...]:
    return tuple(code for code in DEMO_LANGUAGES if code != lang)


class DemoResult(QFrame):
    """What the visitor said, in one of the demo languages, with a replay button."""

    replay = Signal(int)

    def __init__(self, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("surface", "card")
        self.turn_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        top = QHBoxLayout()
        self.language = Label(catalog.language(lang).native, "caption", "muted", bold=True, lang=lang)
        self.badge = Badge()
        top.addWidget(self.language, 1)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignRight)
        layout.addLayout(top)
        self.text = Label("…", "title", bold=True, lang=lang)
        layout.addWidget(self.text)
        self.replay_button = TouchButton("", "play", "link", role="caption")
        self.replay_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
        self.replay_button.clicked.connect(lambda: self.turn_id is not None and self.replay.emit(self.turn_id))
        layout.addWidget(self.replay_button)

    def render_turn(self, turn: TurnRecord, ui_lang: str) -> None:
        self.turn_id = turn.id
        if turn.state == "failed":
            self.text.setText(failure_text(ui_lang, turn.error_kind))
            self.text.setProperty("lang", ui_lang)
            self.text.set_tone("error")
        else:
            self.text.setText(turn.translation or "…")
            self.text.setProperty("lang", turn.target_lang)
            self.text.set_tone(None)
        done = turn.state == "done"
        kind = "curated" if turn.curated else "machine"
        self.badge.set_kind(kind, tr(ui_lang, f"bubble.{kind}"))
        self.badge.setVisible(done and turn.engine != "identity")
        self.replay_button.set_text(tr(ui_lang, "bubble.stop" if turn.speaking else "bubble.replay"))
        self.replay_button.set_icon("stop" if turn.speaking else "play")
        self.replay_button.setVisible(done and not turn.speech_unavailable)

    def reset(self) -> None:
        self.turn_id = None
        self.text.setText("…")
        self.text.set_tone(None)
        self.badge.setVisible(False)
        self.replay_button.setVisible(False)


class DemoScreen(Screen):
    language_chosen = Signal(str)
    talk_pressed = Signal()
    talk_released = Signal(bool)
    send = Signal(str, str)  # text, origin
    replay = Signal(int)
    finish = Signal()

    def __init__(self, phrasebook: Phrasebook, servers_configured: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._servers_configured = servers_configured  # the tagline then names the province's servers
        self._examples = {phrase.id: phrase for c in phrasebook.categories() for phrase in phrasebook.phrases(c.id)
                          if phrase.id in EXAMPLE_PHRASES}
        self._visitor = "en"
        self._ui_lang = "ko"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack)
        self.stack.addWidget(self._build_attract())
        self.stack.addWidget(self._build_try())

    def _build_attract(self) -> QWidget:
        page = Screen()
        layout = page_layout(page)
        # In a region of its own: a stack is as tall as its tallest page, and the tiles' height
        # would otherwise push the try page's Finish button under the on-screen keyboard.
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        self.picker = LanguagePicker("demo.invite", INVITE_INTERVAL_MS, banner=True)
        self.picker.chosen.connect(self.language_chosen)
        self.invite, self.grid = self.picker.prompt, self.picker.grid
        self.tagline = Label("", "caption", "muted")
        self.tagline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(self.picker, 1)
        column.addWidget(self.tagline)
        layout.addWidget(scroll_area(content), 1)
        return page

    def _build_try(self) -> QWidget:
        page = Screen()
        layout = page_layout(page)
        # Everything above the buttons scrolls as one, so "Finish" stays on screen while the
        # on-screen keyboard takes the bottom of the window or text is large.
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(layout.spacing())
        self.try_title = Label("", "display", bold=True)
        self.try_hint = Label("", "body", "muted")
        content_layout.addWidget(self.try_title)
        content_layout.addWidget(self.try_hint)
        columns = QHBoxLayout()
        columns.setSpacing(20)
        left = QVBoxLayout()
        left.setSpacing(12)
        self.talk = TalkButton("resident")
        self.talk.hold_started.connect(self.talk_pressed)
        self.talk.hold_released.connect(lambda: self.talk_released.emit(False))
        self.talk.tapped.connect(lambda: self.talk_released.emit(True))
        left.addWidget(self.talk)
        typing = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setProperty("textRole", "body")
        self.input.returnPressed.connect(self._send_typed)
        self.send_button = TouchButton("", "send", "resident")
        self.send_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
        self.send_button.clicked.connect(self._send_typed)
        typing.addWidget(self.input, 1)
        typing.addWidget(self.send_button)
        left.addLayout(typing)
        self.examples_label = Label("", "caption", "muted")
        left.addWidget(self.examples_label)
        self.example_buttons: list[TouchButton] = []
        for phrase_id in EXAMPLE_PHRASES:
            button = TouchButton("", tone="quiet", role="body",
                                 align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            button.clicked.connect(lambda _=False, p=phrase_id: self._send_example(p))
            left.addWidget(button)
            self.example_buttons.append(button)
        left.addStretch(1)
        columns.addLayout(left, 1)

        right = QVBoxLayout()
        right.setSpacing(12)
        self.said = Label("", "body")
        right.addWidget(self.said)
        self.results = {lang: DemoResult(lang) for lang in DEMO_LANGUAGES}
        for result in self.results.values():
            result.replay.connect(self.replay)
            right.addWidget(result)
        self.status = Label("", "body", "muted")
        right.addWidget(self.status)
        right.addStretch(1)
        columns.addLayout(right, 1)
        content_layout.addLayout(columns, 1)
        layout.addWidget(scroll_area(content), 1)

        actions = QHBoxLayout()
        self.again_button = TouchButton("", "mic", "link")
        self.again_button.clicked.connect(self._again)
        self.finish_button = TouchButton("", "done", "danger")
        self.finish_button.clicked.connect(self.finish)
        actions.addWidget(self.again_button, 1)
        actions.addWidget(self.finish_button, 1)
        layout.addLayout(actions)
        return page

    def set_languages(self, codes: tuple[str, ...]) -> None:
        self.picker.set_languages(codes, self._ui_lang)
        self.retranslate(self._ui_lang)

    def show_attract(self) -> None:
        """Back to the invitation; what the last visitor said is cleared from the screen."""
        self._again()
        self.stack.setCurrentIndex(0)

    def show_try(self, visitor: str) -> None:
        self._visitor = visitor
        self.stack.widget(1).setProperty("lang", visitor)
        self._again()
        self._render_try()
        self.stack.setCurrentIndex(1)
        refresh_fonts(self)

    def trying(self) -> bool:
        return self.stack.currentIndex() == 1

    def _again(self) -> None:
        for lang, result in self.results.items():
            result.reset()
            result.setVisible(lang in demo_targets(self._visitor))
        self.said.setText("")
        self.input.clear()

    def _send_example(self, phrase_id: str) -> None:
        self.send.emit(self._examples[phrase_id].texts[self._visitor], "phrase")

    def _send_typed(self) -> None:
        text = self.input.text().strip()
        if text:
            self.input.clear()
            self.send.emit(text, "typed")

    def retranslate(self, lang: str) -> None:
        self._ui_lang = lang
        self.picker.retranslate(lang, tr(lang, "demo.touch"))
        self.tagline.setText(tr(lang, "demo.tagline_servers" if self._servers_configured else "demo.tagline"))
        if self.trying():
            self._render_try()

    def _render_try(self) -> None:
        lang = self._visitor
        targets = " · ".join(catalog.language(code).native for code in demo_targets(lang))
        self.try_title.setText(tr(lang, "demo.try_title", language=catalog.language(lang).native))
        self.try_hint.setText(tr(lang, "demo.try_hint", languages=targets))
        self.talk.set_text(tr(lang, "talk.hold"), tr(lang, "talk.tap_hint"))
        self.input.setPlaceholderText(tr(lang, "conversation.type_here"))
        self.input.setAccessibleName(tr(lang, "conversation.type_here"))
        self.input.setProperty(FIELD_LANGUAGE, lang)  # the on-screen keyboard opens in the visitor's language
        self.send_button.set_text(tr(lang, "conversation.send"))
        self.examples_label.setText(tr(lang, "demo.examples"))
        for button, phrase_id in zip(self.example_buttons, EXAMPLE_PHRASES, strict=True):
            phrase = self._examples.get(phrase_id)
            button.set_text(phrase.texts.get(lang, "") if phrase else "")
            button.setVisible(bool(phrase and lang in phrase.texts))
        self.again_button.set_text(tr(lang, "demo.again"))
        self.finish_button.set_text(tr(lang, "demo.finish"))

    def show_turn(self, turn: TurnRecord) -> None:
        result = self.results.get(turn.target_lang)
        if result is None or not result.isVisible():
            return
        if turn.original:
            self.said.setText(tr(self._visitor, "demo.you_said", text=turn.original))
        result.render_turn(turn, self._visitor)
        refresh_fonts(self)

    def show_status(self, status: Status) -> None:
        lang = self._visitor
        listening = status.kind == "listening"
        if listening:
            self.talk.set_text(tr(lang, "talk.listening"),
                               tr(lang, "talk.release" if status.mode == "push-to-talk" else "talk.tap_to_stop"))
        else:
            self.talk.set_text(tr(lang, "talk.hold"), tr(lang, "talk.tap_hint"))
        self.talk.set_tone("listening" if listening else "resident")
        if status.kind == "error" or status.message:
            text = tr(lang, status.message or "error.internal")
        elif status.kind in ("recognising", "working", "speaking"):
            text = tr(lang, f"status.{status.kind}")
        else:
            text = ""
        self.status.setText(text)
        self.status.set_tone("error" if status.kind == "error" else "muted")
