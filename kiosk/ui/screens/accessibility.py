"""Text and sound: large text, high contrast, speech speed and volume, one tap from every screen.

The choices last for the current visitor: they return to the staff defaults when the session
ends, so the next person finds the kiosk as the staff set it up.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiosk.ui.i18n import tr
from kiosk.ui.screens import PageHeader, Screen, page_layout
from kiosk.ui.theme import Appearance
from kiosk.ui.widgets import Card, ChoiceGrid, Label, ReflowGrid, TouchButton, scroll_area

SPEECH_RATES = (0.75, 1.0, 1.2)
VOLUMES = (0.6, 1.0, 1.5)


class AccessibilityScreen(Screen):
    appearance_changed = Signal(object)  # Appearance
    rate_changed = Signal(object)
    volume_changed = Signal(object)
    sample = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = page_layout(self)
        self.header = PageHeader(self)
        layout.addWidget(self.header)
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 12, 0)
        column.setSpacing(14)
        self.text_size = ChoiceGrid((False, True))
        self.contrast = ChoiceGrid((False, True))
        self.rate = ChoiceGrid(SPEECH_RATES)
        self.volume = ChoiceGrid(VOLUMES)
        self.titles: list[Label] = []
        cards = []
        for choice in (self.text_size, self.contrast, self.rate, self.volume):
            card = Card()
            card.column.addWidget(choice)
            self.titles.append(card.title)
            cards.append(card)
        self.cards = ReflowGrid(min_em=16, max_columns=2)  # side by side where they fit
        self.cards.set_items(cards)
        column.addWidget(self.cards)
        self.sample_button = TouchButton("", "play", "resident")
        self.sample_button.clicked.connect(self.sample)
        column.addWidget(self.sample_button)
        column.addStretch(1)
        layout.addWidget(scroll_area(content), 1)
        self.text_size.chosen.connect(lambda _: self.appearance_changed.emit(self.appearance()))
        self.contrast.chosen.connect(lambda _: self.appearance_changed.emit(self.appearance()))
        self.rate.chosen.connect(self.rate_changed)
        self.volume.chosen.connect(self.volume_changed)

    def appearance(self) -> Appearance:
        return Appearance(large_text=self.text_size.value(), high_contrast=self.contrast.value())

    def show_values(self, appearance: Appearance, rate: float, volume: float) -> None:
        self.text_size.select(appearance.large_text)
        self.contrast.select(appearance.high_contrast)
        self.rate.select(rate)
        self.volume.select(volume)

    def retranslate(self, lang: str) -> None:
        self.header.title.setText(tr(lang, "accessibility.title"))
        self.header.back_button.set_text(tr(lang, "common.back"))
        for title, key in zip(self.titles, ("text_size", "contrast", "rate", "volume"), strict=True):
            title.setText(tr(lang, f"accessibility.{key}"))
        self.text_size.set_labels([tr(lang, "accessibility.text_normal"), tr(lang, "accessibility.text_large")])
        self.contrast.set_labels([tr(lang, "accessibility.contrast_normal"), tr(lang, "accessibility.contrast_high")])
        self.rate.set_labels([tr(lang, f"accessibility.rate_{k}") for k in ("slow", "normal", "fast")])
        self.volume.set_labels([tr(lang, f"accessibility.volume_{k}") for k in ("quiet", "normal", "loud")])
        self.sample_button.set_text(tr(lang, "accessibility.sample"))
