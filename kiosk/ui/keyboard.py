"""The on-screen keyboard: Qt Virtual Keyboard, embedded at the bottom of the kiosk window.

Counter kiosks are touch screens with no physical keyboard. Touching a typing field opens the
keyboard in that side's language (a field says which with its ``keyboardLang`` property): the
resident gets theirs, the officer Korean, Hangul composed by Qt's Hangul input method. The
language key switches only between that keyboard and English. Pinyin and Japanese show their
word candidates in a bar above the keys.

The panel (keyboard_qml/panel.qml) lives in a ``QQuickWidget`` inside the window, under the
screens: Qt's own desktop keyboard window hides again whenever focus moves when there is no
window manager, as on most kiosk PCs. The screens shrink while it is open and scroll the field
into view, so the keyboard never covers the field being typed into. Its style
(keyboard_qml/.../Styles/kiosk/style.qml) draws the keys in the kiosk's text size and colours.

The staff PIN pad keeps the kiosk's own numeric pad: it is buttons, not a typing field.
The keyboard is pure UI: it types into the field, and the field's owner decides what to send.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    Q_ARG,
    Property,
    QDir,
    QEvent,
    QFile,
    QIODevice,
    QMetaObject,
    QObject,
    Qt,
    QTemporaryDir,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtQml import QQmlComponent, QQmlEngine
from PySide6.QtWidgets import QApplication, QScrollArea, QVBoxLayout, QWidget

from kiosk.store import catalog
from kiosk.ui import fonts
from kiosk.ui.theme import Appearance, Palette, Theme, contrast_ratio, theme_of

log = logging.getLogger(__name__)

QML_DIR = Path(__file__).resolve().parent / "keyboard_qml"
INPUT_METHOD = "qtvirtualkeyboard"
ENGLISH = "en_GB"
# The property a typing field carries to get the keyboard: the ISO 639-1 code of its language.
FIELD_LANGUAGE = "keyboardLang"
RELEASE_POLL_MS = 50  # how often a held touch is checked for its release before the keyboard closes


@dataclass(frozen=True)
class KeyboardLayout:
    locale: str  # the Qt Virtual Keyboard layout (its folder name, a Qt locale)
    typed: str  # how the language is typed with it
    rows: int = 4  # rows of keys, for the keyboard's height


# Per kiosk language (assets/languages.toml), the layout its keyboard opens with. Qt Virtual
# Keyboard 6.9 has layouts of its own for ko, en, zh, vi, th, ru, ja and id; Khmer and Mongolian
# have the kiosk's own (keyboard_qml/layouts); the others use the nearest layout of the same
# script (see the README's keyboard table).
LAYOUTS: dict[str, KeyboardLayout] = {
    "ko": KeyboardLayout("ko_KR", "Hangul jamo keys; Qt's Hangul input method composes the syllables"),
    "en": KeyboardLayout("en_GB", "QWERTY"),
    "zh": KeyboardLayout("zh_CN", "pinyin on QWERTY keys; Qt's Pinyin input method shows the Chinese candidates"),
    "vi": KeyboardLayout("vi_VN", "QWERTY; hold a vowel for its tone and vowel marks (ệ, ơ, ư…), hold d for đ"),
    "th": KeyboardLayout("th_TH", "Thai Kedmanee keys"),
    "ru": KeyboardLayout("ru_RU", "ЙЦУКЕН keys; hold е for ё, ь for ъ"),
    "ja": KeyboardLayout("ja_JP", "romaji to kana (OpenWNN); kana-kanji candidates"),
    "uz": KeyboardLayout("en_GB", "QWERTY; oʻ and gʻ written with the apostrophe, as on most keyboards in "
                                  "Uzbekistan"),
    "mn": KeyboardLayout("mn_MN", "Mongolian Cyrillic keys in the standard keyboard's order, with ө and ү"),
    "ne": KeyboardLayout("hi_IN", "the Hindi Devanagari layout: the same letters"),
    "km": KeyboardLayout("km_KH", "Khmer consonants in alphabetical order, the subscript sign ្ and the dependent "
                                  "vowels on one page; Khmer digits and independent vowels on the symbols page",
                         rows=5),
    "id": KeyboardLayout("id_ID", "QWERTY (Qt's Indonesian layout)"),
    "tl": KeyboardLayout("es_ES", "the Spanish QWERTY layout, for ñ"),
}
assert set(LAYOUTS) == set(catalog.LANGUAGE_CODES), "every kiosk language needs a keyboard layout"


# Qt's own layouts are Qt resources compiled into its layout and input-method plugins, under this
# prefix (Qt internals: the one place the kiosk relies on it). A layout path replaces them all, so
# the kiosk's layout folder holds copies of those it uses beside its own.
QT_LAYOUTS = ":/qt-project.org/imports/QtQuick/VirtualKeyboard/Layouts"
OWN_LAYOUTS = QML_DIR / "layouts"
LAYOUT_PATH = "QT_VIRTUALKEYBOARD_LAYOUT_PATH"


def build_layout_folder(engine: QQmlEngine, folder: Path) -> None:
    """Fill ``folder`` with every layout the kiosk's languages use: Qt's own, copied from its
    resources, and the kiosk's own (Khmer, Mongolian)."""
    # Importing the modules loads the plugins, which registers their layouts as resources.
    probe = QQmlComponent(engine)
    probe.setData(b"import QtQml\nimport QtQuick.VirtualKeyboard.Layouts\nimport QtQuick.VirtualKeyboard.Plugins\n"
                  b"QtObject {}", QUrl())
    for error in probe.errors():
        log.error("on-screen keyboard layouts: %s", error.toString())
    own = {path.name for path in OWN_LAYOUTS.iterdir()}
    for locale in sorted(({layout.locale for layout in LAYOUTS.values()} | {ENGLISH, "fallback"}) - own):
        source = QDir(f"{QT_LAYOUTS}/{locale}")
        names = source.entryList(QDir.Filter.Files)
        if not names:
            log.error("on-screen keyboard: Qt has no %s layout", locale)
        (folder / locale).mkdir()
        for name in names:
            (folder / locale / name).write_bytes(_read_resource(source.filePath(name)))
    for locale in own:
        shutil.copytree(OWN_LAYOUTS / locale, folder / locale)


def _read_resource(path: str) -> bytes:
    resource = QFile(path)
    if not resource.open(QIODevice.OpenModeFlag.ReadOnly):
        raise OSError(f"cannot read Qt resource {path}")
    return bytes(resource.readAll())


def locales_for(lang: str) -> list[str]:
    """The layouts the language key cycles through: the language's own, then English."""
    return list(dict.fromkeys((LAYOUTS[lang].locale, ENGLISH)))


def available() -> bool:
    """Qt Virtual Keyboard is installed (it comes with PySide6-Addons)."""
    import PySide6

    return (Path(PySide6.__file__).parent / "Qt" / "lib" / "libQt6VirtualKeyboard.so.6").exists()


def prepare_environment() -> bool:
    """Select Qt Virtual Keyboard as the input method; call before the QApplication exists.
    Its own desktop window is turned off: the panel is embedded in the kiosk window instead."""
    if not available():
        log.warning("on-screen keyboard unavailable: Qt Virtual Keyboard is missing (install PySide6-Addons)")
        return False
    os.environ["QT_IM_MODULE"] = INPUT_METHOD
    os.environ["QT_VIRTUALKEYBOARD_DESKTOP_DISABLE"] = "1"
    return True


def enabled() -> bool:
    return os.environ.get("QT_IM_MODULE") == INPUT_METHOD


# --- style --------------------------------------------------------------------------------


def readable_on(background: str) -> str:
    """Black or white, whichever contrasts more with ``background``."""
    back = QColor(background)
    return max(("#000000", "#FFFFFF"), key=lambda text: contrast_ratio(QColor(text), back))


@dataclass(frozen=True)
class KeyColours:
    background: str
    key: str
    text: str
    accent: str
    accent_text: str
    pressed: str
    pressed_text: str
    key_edge: str
    focus: str
    surface: str

    @classmethod
    def from_palette(cls, p: Palette) -> KeyColours:
        return cls(background=p.window, key=p.surface, text=p.text, accent=p.top_bar, accent_text=p.top_bar_text,
                   pressed=p.focus, pressed_text=readable_on(p.focus), key_edge=p.border, focus=p.focus,
                   surface=p.surface)

    def text_pairs(self) -> dict[str, tuple[str, str]]:
        """Every text colour of the keyboard with the background it is drawn on."""
        return {"key": (self.text, self.key), "special key": (self.accent_text, self.accent),
                "pressed key": (self.pressed_text, self.pressed), "candidate": (self.text, self.surface)}


@dataclass(frozen=True)
class KeySizes:
    text_px: int  # the key labels' em height
    gap: int
    design_width: int
    design_height: int  # the keys' height; the candidate bar comes on top

    ROWS = 4  # most layouts; taller ones share the same height

    @classmethod
    def for_width(cls, theme: Theme, width: int, rows: int = ROWS) -> KeySizes:
        text_px = theme.text_px("button")
        gap = max(2, theme.px(0.8))
        row = max(theme.px(12.0), round(text_px * 1.8))  # a touch target, and room for the label
        return cls(text_px, gap, max(1, width), rows * row + 2 * gap)

    @property
    def candidate_bar(self) -> int:
        return round(self.text_px * 1.7)

    @property
    def panel_height(self) -> int:
        return self.design_height + self.candidate_bar


STYLE_FIELDS: dict[str, type] = {
    "textPx": int, "gap": int, "designWidth": int, "designHeight": int, "edge": int, "fontFamily": str,
    "background": str, "key": str, "text": str, "accent": str, "accentText": str, "pressed": str,
    "pressedText": str, "keyEdge": str, "focus": str, "surface": str,
}


class KeyStyle(QObject):
    """What style.qml reads as ``kioskKeys``: sizes in pixels and colours."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._values: dict[str, object] = {name: kind() for name, kind in STYLE_FIELDS.items()}

    def update(self, sizes: KeySizes, colours: KeyColours, font_family: str, edge: int) -> None:
        self._values = {
            "textPx": sizes.text_px, "gap": sizes.gap, "designWidth": sizes.design_width,
            "designHeight": sizes.design_height, "fontFamily": font_family, "edge": edge,
            "background": colours.background, "key": colours.key, "text": colours.text, "accent": colours.accent,
            "accentText": colours.accent_text, "pressed": colours.pressed, "pressedText": colours.pressed_text,
            "keyEdge": colours.key_edge, "focus": colours.focus, "surface": colours.surface,
        }
        self.changed.emit()

    def value(self, name: str):
        return self._values[name]

    # One read-only QML property per field.
    for _name, _kind in STYLE_FIELDS.items():
        locals()[_name] = Property(_kind, lambda self, name=_name: self._values[name], notify=changed)
    del _name, _kind


# --- the dock -------------------------------------------------------------------------------


class KeyboardDock(QWidget):
    """The bottom of the window: hidden until a typing field with ``keyboardLang`` has focus,
    then the keyboard in that language."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("onScreenKeyboard")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.view = None  # QQuickWidget
        self.style_values = KeyStyle(self)
        self.field: QWidget | None = None
        self.lang: str | None = None
        self._areas: list[QScrollArea] = []  # the field's scroll areas, innermost first
        self.hide()
        if enabled():
            # Made now, before any field has focus: a keyboard made after the field took focus
            # misses Qt's focus-in and has no input method until focus moves again, so its first
            # key press is dropped ("input method is not set").
            self.view = self._make_view()
            QApplication.instance().focusChanged.connect(self._focus_changed)
            QGuiApplication.inputMethod().visibleChanged.connect(self._input_method_visibility)

    def _input_method_visibility(self) -> None:
        if not QGuiApplication.inputMethod().isVisible():  # the keyboard's own hide key, or a press elsewhere
            self._close_when_released()

    def _close_when_released(self) -> None:
        """Close once no finger is down. A press on a button outside the keyboard takes the focus
        and hides Qt's input method at once; closing the dock then moved the button (Done, Change
        language) from above the keyboard to the bottom of the window before the finger lifted,
        and the touch was lost."""
        if QGuiApplication.mouseButtons() != Qt.MouseButton.NoButton:
            QTimer.singleShot(RELEASE_POLL_MS, self._close_when_released)
            return
        focus = QApplication.focusWidget()
        if focus is not None and focus is self.field and QGuiApplication.inputMethod().isVisible():
            return  # the finger went back to the field being typed into
        self.close_keyboard()

    def _make_view(self):
        from PySide6.QtQuickWidgets import QQuickWidget

        view = QQuickWidget(self)
        # Touching a key must leave the focus in the field being typed into.
        view.setFocusPolicy(view.focusPolicy().NoFocus)
        view.setResizeMode(QQuickWidget.ResizeMode.SizeRootObjectToView)
        view.engine().addImportPath(str(QML_DIR))  # the kiosk style: QtQuick/VirtualKeyboard/Styles/kiosk
        # The layouts, read when the keyboard is made (the folder lives as long as the dock).
        self._layouts = QTemporaryDir()
        try:
            build_layout_folder(view.engine(), Path(self._layouts.path()))
            os.environ[LAYOUT_PATH] = self._layouts.path()
        except OSError as error:  # Qt's own layouts still work; Khmer and Mongolian get English
            log.error("on-screen keyboard: no Khmer or Mongolian layout: %s", error)
        view.rootContext().setContextProperty("kioskKeys", self.style_values)
        view.setSource(QUrl.fromLocalFile(str(QML_DIR / "panel.qml")))
        for error in view.errors():
            log.error("on-screen keyboard: %s", error.toString())
        self._layout.addWidget(view)
        return view

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new is not None and new.property(FIELD_LANGUAGE):
            self.open_for(new)
        elif new is not None and not self.isAncestorOf(new):
            self._close_when_released()

    def open_for(self, field: QWidget) -> None:
        lang = str(field.property(FIELD_LANGUAGE))
        theme = theme_of(self) or Theme.for_screen(Appearance(), self.screen())
        self._restyle(theme, lang)
        root = self.view.rootObject()
        if root is not None and lang != self.lang:
            QMetaObject.invokeMethod(root, "useLocales", Q_ARG("QVariant", locales_for(lang)))
        self._unwatch()
        self.field, self.lang = field, lang
        field.installEventFilter(self)  # its screen going away closes the keyboard
        self._areas = _scroll_areas_around(field)
        for area in self._areas:  # they shrink when the keyboard comes up, and scroll further
            area.verticalScrollBar().rangeChanged.connect(self._keep_field_in_view)
        self.show()
        QGuiApplication.inputMethod().show()
        log.debug("on-screen keyboard open: %s (%s)", lang, LAYOUTS[lang].locale)
        QTimer.singleShot(0, self._keep_field_in_view)

    def close_keyboard(self) -> None:
        if self.isVisible():
            QGuiApplication.inputMethod().hide()
            self.hide()
        self._unwatch()
        self.field = None

    def _unwatch(self) -> None:
        if self.field is not None:
            self.field.removeEventFilter(self)
        for area in self._areas:
            area.verticalScrollBar().rangeChanged.disconnect(self._keep_field_in_view)
        self._areas = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Buttons that change the screen take no focus, so focus alone does not say the field is gone.
        if watched is self.field and event.type() == QEvent.Type.Hide:
            self.close_keyboard()
        elif (watched is self.field and event.type() == QEvent.Type.DynamicPropertyChange
              and event.propertyName().data().decode() == FIELD_LANGUAGE and self.isVisible()):
            # The side's language changed while its field has focus: the keyboard follows.
            QTimer.singleShot(0, lambda field=self.field: field is self.field and self.open_for(field))
        return False

    def _restyle(self, theme: Theme, lang: str) -> None:
        width = self.window().width()
        sizes = KeySizes.for_width(theme, width, LAYOUTS[lang].rows)
        edge = 3 if theme.appearance.high_contrast else 1
        self.style_values.update(sizes, KeyColours.from_palette(theme.palette), fonts.families_for(lang)[0], edge)
        self.view.setFixedHeight(sizes.panel_height)

    def _keep_field_in_view(self) -> None:
        """The screens above shrank: scroll so the field stays above the keyboard."""
        if self.field is None:
            return
        margin = self.style_values.value("gap")
        for area in self._areas:
            area.ensureWidgetVisible(self.field, 0, margin)


def _scroll_areas_around(widget: QWidget) -> list[QScrollArea]:
    """The scroll areas that hold ``widget``, innermost first."""
    areas = []
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            areas.append(parent)
        parent = parent.parentWidget()
    return areas
