"""The phrasebook: counter phrases by category, in the reader's language; a touch shows and
speaks the verified translation in the other side's language."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.store import catalog
from kiosk.turn.session import Side, TurnRecord
from kiosk.ui.i18n import tr
from kiosk.ui.screens import PageHeader, Screen, page_layout
from kiosk.ui.theme import refresh_fonts
from kiosk.ui.widgets import Badge, Label, TouchButton, discard, scroll_area
from mt.phrasebook import Phrasebook


class PhrasebookScreen(Screen):
    phrase_chosen = Signal(str, str)  # side, the phrase in that side's language

    def __init__(self, phrasebook: Phrasebook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._phrasebook = phrasebook
        self._side: Side = "officer"
        self._lang = self._other_lang = "ko"
        self._category = phrasebook.categories()[0].id
        self.expected_turn: int | None = None
        layout = page_layout(self)
        self.header = PageHeader(self)
        layout.addWidget(self.header)
        self.hint = Label("", "body", "muted")
        layout.addWidget(self.hint)

        columns = QHBoxLayout()
        columns.setSpacing(16)
        self._categories = QWidget()
        self._category_column = QVBoxLayout(self._categories)
        self._category_column.setContentsMargins(0, 0, 8, 0)
        self._category_group = QButtonGroup(self)
        self.category_buttons: dict[str, TouchButton] = {}
        for category in phrasebook.categories():
            button = TouchButton("", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, c=category.id: self.show_category(c))
            self._category_group.addButton(button)
            self._category_column.addWidget(button)
            self.category_buttons[category.id] = button
        self._category_column.addStretch(1)
        self._phrases = QWidget()
        self._phrase_column = QVBoxLayout(self._phrases)
        self._phrase_column.setContentsMargins(0, 0, 8, 0)
        self._phrase_column.addStretch(1)
        self.phrase_buttons: list[TouchButton] = []
        columns.addWidget(scroll_area(self._categories), 2)
        columns.addWidget(scroll_area(self._phrases), 3)
        layout.addLayout(columns, 1)

        self.result = QFrame()
        self.result.setProperty("surface", "card")
        result_layout = QVBoxLayout(self.result)
        result_layout.setContentsMargins(20, 14, 20, 14)
        top = QHBoxLayout()
        self.result_language = Label("", "caption", "muted", bold=True)
        self.result_badge = Badge()
        top.addWidget(self.result_language, 1)
        top.addWidget(self.result_badge, 0, Qt.AlignmentFlag.AlignRight)
        result_layout.addLayout(top)
        self.result_text = Label("", "title", bold=True)
        self.result_original = Label("", "caption", "muted")
        result_layout.addWidget(self.result_text)
        result_layout.addWidget(self.result_original)
        self.result.setVisible(False)
        layout.addWidget(self.result)

    def clear_result(self) -> None:
        self.expected_turn = None
        self.result.setVisible(False)
        self.result_text.setText("")
        self.result_original.setText("")

    def open_for(self, side: Side, lang: str, other_lang: str) -> None:
        self._side, self._lang, self._other_lang = side, lang, other_lang
        self.clear_result()
        self.setProperty("lang", lang)
        self.result_text.setProperty("lang", other_lang)
        self.retranslate(lang)

    def retranslate(self, lang: str) -> None:
        # The page speaks its reader's language, whatever the rest of the window shows.
        lang = self._lang
        self.header.title.setText(tr(lang, "phrasebook.title"))
        self.header.back_button.set_text(tr(lang, "common.back"))
        self.hint.setText(tr(lang, "phrasebook.hint", language=_native(self._other_lang)))
        for category in self._phrasebook.categories():
            self.category_buttons[category.id].set_text(category.names.get(lang, category.names["en"]))
        self.result_badge.set_kind("curated", tr(lang, "bubble.curated"))
        self.result_language.setText(_native(self._other_lang))
        self.show_category(self._category)

    def show_category(self, category_id: str) -> None:
        self._category = category_id
        self.category_buttons[category_id].setChecked(True)
        for button in self.phrase_buttons:
            discard(button)
        self.phrase_buttons = []
        for phrase in self._phrasebook.phrases(category_id):
            text = phrase.texts.get(self._lang)
            if text is None:
                continue
            button = TouchButton(text, role="body", tone="quiet",
                                 align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            button.clicked.connect(lambda _=False, t=text: self.phrase_chosen.emit(self._side, t))
            self._phrase_column.insertWidget(len(self.phrase_buttons), button)
            self.phrase_buttons.append(button)
        refresh_fonts(self)

    def show_turn(self, turn: TurnRecord) -> None:
        """Show the chosen phrase's translation once the pipeline has it."""
        if turn.id != self.expected_turn:
            return
        self.result.setVisible(True)
        self.result_text.setText(turn.translation or "…")
        self.result_original.setText(turn.original)
        self.result_badge.setVisible(turn.curated)
        refresh_fonts(self.result)


def _native(code: str) -> str:
    return catalog.language(code).native
