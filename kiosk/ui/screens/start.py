"""The start screen: the languages by their native names; a touch starts the conversation."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QProgressBar, QSizePolicy, QWidget

from kiosk.ui.i18n import tr
from kiosk.ui.screens import Screen, page_layout
from kiosk.ui.widgets import Label, LanguagePicker, TouchButton

PROMPT_INTERVAL_MS = 2500


class StartScreen(Screen):
    language_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = page_layout(self)
        self.back_button = TouchButton("", "back", "link")
        self.back_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
        self.back_button.clicked.connect(self.back)
        self.back_button.setVisible(False)
        layout.addWidget(self.back_button)
        self.picker = LanguagePicker("start.prompt", PROMPT_INTERVAL_MS)
        self.picker.chosen.connect(self.language_chosen)
        self.grid = self.picker.grid
        self.loading = Label("", "caption", "muted")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        layout.addWidget(self.picker, 1)
        layout.addWidget(self.loading)
        layout.addWidget(self.progress)
        self._lang = "ko"

    def set_languages(self, codes: tuple[str, ...]) -> None:
        self.picker.set_languages(codes, self._lang)

    def set_speech_levels(self, levels: dict[str, str]) -> None:
        """Each tile says, in its language, what a resident can do there (kiosk.turn.capability)."""
        self.grid.set_speech_levels(levels)

    def retranslate(self, lang: str) -> None:
        self._lang = lang
        self.picker.retranslate(lang, tr(lang, "start.hint"), tr(lang, "start.privacy"))
        self.back_button.set_text(tr(lang, "common.back"))
        self.loading.setText(tr(lang, "start.loading"))

    def show_back(self, visible: bool) -> None:
        """The Back button, when the screen is open to change the language of a conversation."""
        self.back_button.setVisible(visible)

    def show_progress(self, done: int, total: int) -> None:
        ready = done >= total
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.loading.setVisible(not ready)
        self.progress.setVisible(not ready)
