"""Helpers for the GUI tests: a kiosk on the real engines, and measurements taken from rendered widgets."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QAbstractScrollArea, QLabel, QLineEdit, QWidget

from kiosk.staff.config import KioskConfig, LoadedConfig, PinGate
from kiosk.ui.app import Kiosk, build
from kiosk.ui.theme import contrast_ratio


@contextmanager
def open_kiosk(tmp_path: Path, engines=None, *, size=(1280, 800), demo=False, locked=False, audio=False,
               pin_gate: PinGate | None = None, **config):
    """A whole kiosk (worker, controller, window) shown offscreen; live audio only when asked for."""
    loaded = LoadedConfig(KioskConfig(**config), tmp_path / "kiosk.toml")
    kiosk = build(loaded, audio=audio, warm_up=False, engines=engines, demo=demo, locked=locked, pin_gate=pin_gate)
    kiosk.window.resize(*size)
    kiosk.window.show()
    # Talk buttons stay disabled until the worker's "engines ready" reaches the GUI thread; a key
    # pressed before that is dropped by Qt (seen once on a loaded CI machine).
    deadline = time.monotonic() + 30
    while not kiosk.controller.engines_ready and time.monotonic() < deadline:
        kiosk.app.processEvents()
        time.sleep(0.005)
    kiosk.app.processEvents()
    if not kiosk.controller.engines_ready:
        kiosk.close()
        raise AssertionError("the worker did not report 'engines ready' within 30 s")
    try:
        yield kiosk
    finally:
        kiosk.close()


def settle(kiosk: Kiosk, qtbot, timeout_ms: int = 60_000) -> None:
    """Wait until the worker has no job left and the GUI has drawn the result."""
    qtbot.waitUntil(lambda: not kiosk.controller.busy(), timeout=timeout_ms)
    kiosk.app.processEvents()


def shown_text(widget: QWidget) -> str:
    if isinstance(widget, QLabel):
        return widget.text()
    if isinstance(widget, QLineEdit):
        return widget.text() or widget.placeholderText()
    return ""


def visible_text_widgets(root: QWidget) -> list[QWidget]:
    """Labels and text fields that show text on screen right now."""
    return [w for w in root.findChildren(QWidget)
            if isinstance(w, (QLabel, QLineEdit)) and w.isVisible() and shown_text(w).strip()
            and w.width() > 0 and w.height() > 0]


def _in_scroll_viewport(widget: QWidget) -> bool:
    """Whether ``widget`` is the content a scroll area moves (what it hides can be scrolled to)."""
    viewport = widget.parentWidget()
    area = viewport.parentWidget() if viewport is not None else None
    return isinstance(area, QAbstractScrollArea) and area.viewport() is viewport


def clipped(widget: QWidget) -> str | None:
    """Why the widget's text does not fit (or is cut off by an ancestor), else None.

    Inside a scroll area, being outside the viewport is not clipping: it can be scrolled to.
    """
    metrics = widget.fontMetrics()
    text = shown_text(widget)
    if isinstance(widget, QLabel):
        room = widget.contentsRect()
        if widget.wordWrap():
            needed = widget.heightForWidth(widget.width())
            if needed > widget.height() + 1:
                return f"needs {needed} px of height, has {widget.height()}"
        else:
            width = max(metrics.horizontalAdvance(line) for line in text.splitlines())
            if width > room.width() + 1 or metrics.height() > room.height() + 1:
                return f"needs {width}x{metrics.height()} px, has {room.width()}x{room.height()}"
    else:  # a text field: its text must fit inside the frame and padding
        if metrics.horizontalAdvance(text) > widget.width() - 16:
            return f"text of {metrics.horizontalAdvance(text)} px in a field {widget.width()} px wide"
    child: QWidget = widget
    rect = QRect(QPoint(0, 0), widget.size())
    while child.parentWidget() is not None:
        parent = child.parentWidget()
        if _in_scroll_viewport(child):
            break
        rect = rect.translated(child.pos())
        if not QRect(QPoint(0, 0), parent.size()).adjusted(-1, -1, 1, 1).contains(rect):
            return f"cut off by {type(parent).__name__} ({rect} outside {parent.size()})"
        child = parent
    return None


def text_and_background(image: QImage) -> tuple[QColor, QColor] | None:
    """From a rendering of one text widget: its background (the commonest colour) and its text
    colour (the colour furthest in contrast from the background: anti-aliased edges are blends)."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(height, image.bytesPerLine() // 4)
    colors, counts = np.unique(rows[:, :width] & 0xFFFFFF, return_counts=True)
    background = QColor(int(colors[np.argmax(counts)]))
    candidates = [QColor(int(rgb)) for rgb, n in zip(colors, counts, strict=True) if n >= 3]
    text = max(candidates, key=lambda color: contrast_ratio(color, background))
    if contrast_ratio(text, background) < 1.05:
        return None
    return text, background


def fully_shown(widget: QWidget) -> bool:
    """On screen in full: not scrolled away or covered, so its pixels are its own."""
    return widget.visibleRegion().boundingRect() == widget.rect()


def widget_image(window: QWidget, widget: QWidget, full: QImage) -> QImage:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return full.copy(QRect(top_left, widget.size()))
