"""Line icons from assets/icons, recoloured per theme (the SVGs draw in ``currentColor``)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from kiosk.store.catalog import ASSETS_DIR

ICONS_DIR = ASSETS_DIR / "icons"


@cache
def _svg(name: str) -> str:
    return (ICONS_DIR / f"{name}.svg").read_text(encoding="utf-8")


@cache
def pixmap(name: str, color: str, size: int, device_pixel_ratio: float = 1.0) -> QPixmap:
    """The icon ``name`` drawn in ``color``, ``size`` logical pixels square (cached: themes reuse them)."""
    renderer = QSvgRenderer(QByteArray(_svg(name).replace("currentColor", color).encode()))
    side = max(1, round(size * device_pixel_ratio))
    image = QPixmap(side, side)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, side, side))
    painter.end()
    image.setDevicePixelRatio(device_pixel_ratio)
    return image
