"""Colours, text sizes and the style sheet, for the calm and the high-contrast theme.

Text sizes are set in millimetres at the screen's physical size: ``Theme`` turns them into
pixels with the screen's physical DPI and then into points with Qt's logical DPI, so
"12 mm" is 12 mm on any screen, whatever scaling the desktop uses. The physical DPI is what the
display reports to Qt unless the staff set the screen's size ([display] in kiosk.toml), or the
report is outside ``DISPLAY_DPI_RANGE`` (a monitor with no or a wrong size): ``physical_dpi``. In large-text mode every
text role is at least 12 mm. Every text/background pair of both palettes has a contrast
ratio of at least 4.5:1 (WCAG 2.x); the GUI tests measure it on the rendered widgets.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette, QScreen
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.staff.config import DISPLAY_DPI_RANGE, KioskConfig
from kiosk.ui import fonts

log = logging.getLogger(__name__)

TextRole = Literal["caption", "body", "button", "tile", "title", "display"]
MM_PER_INCH = 25.4
LARGE_TEXT_MIN_MM = 12.0

# Em height in millimetres: (normal, large text). Large text never goes below 12 mm.
TEXT_MM: dict[str, tuple[float, float]] = {
    "caption": (4.0, 12.0),
    "body": (5.2, 12.0),
    "button": (5.4, 12.0),
    "tile": (6.6, 12.5),
    "title": (7.0, 13.0),
    "display": (10.0, 15.0),
}
# Qt's own assumption for a screen of unknown size; used when a monitor reports nonsense.
FALLBACK_DPI = 96.0
# The smallest touch target, in millimetres (public kiosks: 15 mm or more).
TOUCH_MM = 15.0


@dataclass(frozen=True)
class Palette:
    window: str
    surface: str
    text: str
    muted: str
    border: str
    top_bar: str
    top_bar_text: str
    resident: str
    officer: str
    on_accent: str
    resident_text: str  # the resident's and the officer's colour as text on a surface
    officer_text: str
    resident_bubble: str
    officer_bubble: str
    curated_bg: str
    curated_text: str
    machine_bg: str
    machine_text: str
    danger: str
    error_text: str
    listening: str
    focus: str
    meter: str
    meter_warn: str
    # Edges: invisible in the calm theme, drawn in high contrast where surfaces are all black.
    card_edge: str
    bar_edge: str
    resident_edge: str
    officer_edge: str
    curated_edge: str
    machine_edge: str
    link_edge: str


CALM = Palette(
    window="#EEF2F6", surface="#FFFFFF", text="#1B2430", muted="#4A5565", border="#C5CFDB",
    top_bar="#15304F", top_bar_text="#FFFFFF",
    resident="#1D5FA8", officer="#0F6B57", on_accent="#FFFFFF", resident_text="#1D5FA8", officer_text="#0F6B57",
    resident_bubble="#E4EEF9", officer_bubble="#E1F2EC",
    curated_bg="#D9F0E0", curated_text="#14532D", machine_bg="#FDEFD3", machine_text="#7A4300",
    danger="#B42318", error_text="#A61B12", listening="#C0261B", focus="#E8A317",
    meter="#0F6B57", meter_warn="#B45309",
    card_edge="#FFFFFF", bar_edge="#15304F", resident_edge="#E4EEF9", officer_edge="#E1F2EC",
    curated_edge="#D9F0E0", machine_edge="#FDEFD3", link_edge="#1D5FA8",
)
HIGH_CONTRAST = Palette(
    window="#000000", surface="#000000", text="#FFFFFF", muted="#F0F0F0", border="#FFFFFF",
    top_bar="#000000", top_bar_text="#FFFFFF",
    resident="#FFE14D", officer="#7FE3FF", on_accent="#000000", resident_text="#FFFFFF", officer_text="#FFFFFF",
    resident_bubble="#000000", officer_bubble="#000000",
    curated_bg="#000000", curated_text="#6EF09A", machine_bg="#000000", machine_text="#FFB86B",
    danger="#FF9E9E", error_text="#FF9E9E", listening="#FF9E9E", focus="#FF5CF0",
    meter="#6EF09A", meter_warn="#FFB86B",
    card_edge="#FFFFFF", bar_edge="#FFFFFF", resident_edge="#FFE14D", officer_edge="#7FE3FF",
    curated_edge="#6EF09A", machine_edge="#FFB86B", link_edge="#FFFFFF",
)


@dataclass(frozen=True)
class Appearance:
    large_text: bool = False
    high_contrast: bool = False


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2.x contrast ratio of two opaque colours (1 to 21)."""

    def luminance(color: QColor) -> float:
        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


class Theme:
    def __init__(self, appearance: Appearance, physical_dpi: float, logical_dpi: float) -> None:
        self.appearance = appearance
        self.physical_dpi = physical_dpi
        self.logical_dpi = logical_dpi
        self.palette = HIGH_CONTRAST if appearance.high_contrast else CALM

    @classmethod
    def for_screen(cls, appearance: Appearance, screen: QScreen | None = None,
                   config: KioskConfig | None = None) -> Theme:
        screen = screen or QGuiApplication.primaryScreen()
        return cls(appearance, physical_dpi(screen, config or KioskConfig()), screen.logicalDotsPerInchY())

    def px(self, mm: float) -> int:
        """Logical pixels for a length in millimetres (physical DPI is in logical pixels in Qt 6)."""
        return math.ceil(mm / MM_PER_INCH * self.physical_dpi)

    def text_px(self, role: TextRole) -> int:
        normal, large = TEXT_MM[role]
        return self.px(large if self.appearance.large_text else normal)

    def font(self, lang: str, role: TextRole, bold: bool = False) -> QFont:
        font = QFont()
        font.setFamilies(fonts.families_for(lang))
        # Points through the logical DPI give exactly text_px pixels, hence the millimetres asked for.
        font.setPointSizeF(self.text_px(role) * 72.0 / self.logical_dpi)
        font.setWeight(QFont.Weight.DemiBold if bold else QFont.Weight.Normal)
        return font

    def apply_fonts(self, root: QWidget) -> None:
        """Give every widget that declares a ``textRole`` its language's font at its role's size."""
        for widget in (root, *root.findChildren(QWidget)):
            role = widget.property("textRole")
            if role:
                widget.setFont(self.font(language_of(widget), role, bool(widget.property("bold"))))

    def application_palette(self) -> QPalette:
        p = self.palette
        palette = QPalette()
        for role, color in ((QPalette.ColorRole.Window, p.window), (QPalette.ColorRole.Base, p.surface),
                            (QPalette.ColorRole.WindowText, p.text), (QPalette.ColorRole.Text, p.text),
                            (QPalette.ColorRole.ButtonText, p.text), (QPalette.ColorRole.Button, p.surface),
                            (QPalette.ColorRole.PlaceholderText, p.muted), (QPalette.ColorRole.Highlight, p.resident),
                            (QPalette.ColorRole.HighlightedText, p.on_accent)):
            palette.setColor(role, QColor(color))
        return palette

    def apply(self, app: QApplication, root: QWidget | None = None) -> None:
        stylesheet = self.stylesheet()
        if app.styleSheet() != stylesheet:  # re-styling every widget is the slow part
            app.setPalette(self.application_palette())
            app.setStyleSheet(stylesheet)
        if root is not None:
            self.apply_fonts(root)

    def stylesheet(self) -> str:
        p = self.palette
        radius = self.px(2.5)
        pad = self.px(2.2)
        touch = self.px(TOUCH_MM)
        border = 3 if self.appearance.high_contrast else 2
        scroll = self.px(5)
        return f"""
QWidget {{ color: {p.text}; }}
QWidget[surface="window"] {{ background: {p.window}; }}
QFrame[surface="card"] {{ background: {p.surface}; border: {border}px solid {p.card_edge}; border-radius: {radius}px; }}
QFrame[surface="banner"] {{ background: {p.resident}; border-radius: {radius}px; }}
QFrame[surface="topbar"] {{ background: {p.top_bar}; border-bottom: {border}px solid {p.bar_edge}; }}
QFrame[bubble="resident"] {{ background: {p.resident_bubble}; border-radius: {radius}px;
    border: {border}px solid {p.resident_edge}; }}
QFrame[bubble="officer"] {{ background: {p.officer_bubble}; border-radius: {radius}px;
    border: {border}px solid {p.officer_edge}; }}
QFrame[bubble="withdrawn"] {{ background: transparent; border-radius: {radius}px;
    border: {border}px dashed {p.muted}; }}
QLabel {{ background: transparent; }}
QLabel[tone="muted"] {{ color: {p.muted}; }}
QLabel[tone="error"] {{ color: {p.error_text}; }}
QLabel[tone="resident"] {{ color: {p.resident_text}; }}
QLabel[tone="officer"] {{ color: {p.officer_text}; }}
QLabel[tone="bar"] {{ color: {p.top_bar_text}; }}
QLabel[badge="curated"] {{ background: {p.curated_bg}; color: {p.curated_text}; border-radius: {radius // 2}px;
    padding: 2px {pad // 2}px; border: {border}px solid {p.curated_edge}; }}
QLabel[badge="machine"] {{ background: {p.machine_bg}; color: {p.machine_text}; border-radius: {radius // 2}px;
    padding: 2px {pad // 2}px; border: {border}px solid {p.machine_edge}; }}
QPushButton {{ min-height: {touch}px; min-width: {touch}px; border-radius: {radius}px; padding: 0px;
    background: {p.surface}; border: {border}px solid {p.border}; }}
QPushButton:focus {{ border: {border + 2}px solid {p.focus}; }}
QPushButton[tone="resident"] {{ background: {p.resident}; border-color: {p.resident}; }}
QPushButton[tone="officer"] {{ background: {p.officer}; border-color: {p.officer}; }}
QPushButton[tone="danger"] {{ background: {p.danger}; border-color: {p.danger}; }}
QPushButton[tone="listening"] {{ background: {p.listening}; border-color: {p.listening}; }}
QPushButton[selected="true"] {{ background: {p.resident}; border-color: {p.resident}; }}
QPushButton[inactive="true"] {{ background: {p.window}; border: {border}px dashed {p.muted}; }}
QPushButton[tone="bar"] {{ background: {p.top_bar}; border: {border}px solid {p.top_bar_text}; }}
QPushButton[tone="quiet"] {{ background: transparent; border: {border}px solid {p.border}; }}
QPushButton[tone="link"] {{ background: {p.surface}; border: {border}px solid {p.link_edge}; }}
QLabel[on="plain"] {{ color: {p.text}; }}
QLabel[on="accent"] {{ color: {p.on_accent}; }}
QLabel[on="inactive"] {{ color: {p.muted}; }}
QLabel[on="bar"] {{ color: {p.top_bar_text}; }}
QLabel[on="link"] {{ color: {p.resident_text}; }}
QLineEdit {{ background: {p.surface}; color: {p.text}; border: {border}px solid {p.muted};
    border-radius: {radius}px; padding: {pad // 2}px {pad}px; min-height: {touch - 2 * border}px; }}
QLineEdit:focus {{ border: {border + 2}px solid {p.focus}; }}
QScrollArea, QScrollArea > QWidget > QWidget {{ background: transparent; border: none; }}
QScrollBar:vertical {{ background: {p.window}; width: {scroll}px; margin: 0px; border: none; }}
QScrollBar::handle:vertical {{ background: {p.muted}; min-height: {touch}px; border-radius: {scroll // 2}px; }}
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{ height: 0px; }}
QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical {{ background: transparent; }}
QProgressBar {{ background: {p.window}; border: {border}px solid {p.border}; border-radius: {radius // 2}px;
    max-height: {self.px(2.5)}px; min-height: {self.px(2.5)}px; }}
QProgressBar::chunk {{ background: {p.meter}; border-radius: {radius // 2}px; }}
QProgressBar[hint="warn"]::chunk {{ background: {p.meter_warn}; }}
"""


def physical_dpi(screen: QScreen, config: KioskConfig) -> float:
    """Logical pixels per physical inch: the staff's [display] setting if any, else what the
    display reports through Qt (its EDID size on X11), else ``FALLBACK_DPI`` with a warning."""
    geometry = screen.geometry()
    size = screen.physicalSize()
    reported = screen.physicalDotsPerInchY() if size.height() > 0 else 0.0
    if config.display_dpi is not None:
        dpi, source = config.display_dpi, f"[display] dpi = {config.display_dpi:g}"
    elif config.display_diagonal_in is not None:
        dpi = math.hypot(geometry.width(), geometry.height()) / config.display_diagonal_in
        source = f"[display] diagonal_inches = {config.display_diagonal_in:g}"
    elif DISPLAY_DPI_RANGE[0] <= reported <= DISPLAY_DPI_RANGE[1]:
        dpi, source = reported, f"the display ({size.width():.0f}x{size.height():.0f} mm)"
    else:
        dpi, source = FALLBACK_DPI, "a fallback"
        _log_once(logging.WARNING, f"display: the screen reports {reported:.0f} DPI ({size.width():.0f}x"
                  f"{size.height():.0f} mm), outside {DISPLAY_DPI_RANGE[0]:g}-{DISPLAY_DPI_RANGE[1]:g}; text "
                  f"sizes assume {FALLBACK_DPI:g} DPI. Set [display] diagonal_inches in kiosk.toml")
    _log_once(logging.INFO, f"display: {geometry.width()}x{geometry.height()} px at {dpi:.1f} DPI from {source}"
              f" (reported {reported:.1f})")
    return dpi


_logged: set[str] = set()


def _log_once(level: int, message: str) -> None:
    """Themes are rebuilt on every appearance change; the screen's size is worth saying once."""
    if message not in _logged:
        _logged.add(message)
        log.log(level, message)


def language_of(widget: QWidget) -> str:
    """The nearest ``lang`` property up the parent chain (each side speaks its own language)."""
    while widget is not None:
        lang = widget.property("lang")
        if lang:
            return lang
        widget = widget.parentWidget()
    return "en"


def theme_of(widget: QWidget) -> Theme | None:
    """The theme of the window a widget is in (None before it is placed in one)."""
    return getattr(widget.window(), "theme", None)


def refresh_fonts(widget: QWidget) -> None:
    """Fonts for widgets created or re-languaged after the theme was applied."""
    theme = theme_of(widget)
    if theme is not None:
        theme.apply_fonts(widget)


def restyle(widget: QWidget) -> None:
    """Re-apply the style sheet to a widget whose dynamic property (tone, bubble, on) changed.

    The style sheet has no rules that depend on an ancestor's properties, so children are left alone.
    """
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
