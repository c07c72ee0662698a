"""Full pages of the kiosk. Each re-reads its strings in ``retranslate`` when the language changes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from kiosk.ui.widgets import Label, TouchButton


class Screen(QWidget):
    """A page on the window background. ``back`` asks to return to the previous page."""

    back = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("surface", "window")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)

    def retranslate(self, lang: str) -> None:
        raise NotImplementedError


class PageHeader(QWidget):
    """A sub-page's title with a large Back button, so every page has the same way out."""

    def __init__(self, screen: Screen) -> None:
        super().__init__(screen)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(16)
        self.back_button = TouchButton("", "back", "link")
        self.back_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
        self.back_button.clicked.connect(screen.back)
        self.title = Label("", "title", bold=True)
        layout.addWidget(self.back_button)
        layout.addWidget(self.title, 1)


def page_layout(screen: Screen) -> QVBoxLayout:
    layout = QVBoxLayout(screen)
    layout.setContentsMargins(28, 20, 28, 20)
    layout.setSpacing(16)
    return layout
