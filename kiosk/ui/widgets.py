"""The kiosk's building blocks: labels with a text role, touch buttons that wrap, the talk button,
the level meter, conversation bubbles, the transcript, segmented choices, the language grid and
the PIN pad.

Widgets declare what they are (``textRole``, ``tone``, ``lang`` properties); ``Theme`` turns that
into fonts and colours, so switching theme or text size restyles everything at once.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QElapsedTimer,
    QEvent,
    QObject,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.store import catalog
from kiosk.turn.session import Side, TurnRecord
from kiosk.ui import icons
from kiosk.ui.i18n import tr
from kiosk.ui.theme import language_of, refresh_fonts, restyle, theme_of


class Label(QLabel):
    """A text label with a role (its size) and a tone (its colour); wraps by default."""

    def __init__(self, text: str = "", role: str = "body", tone: str | None = None, *, wrap: bool = True,
                 bold: bool = False, lang: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setProperty("textRole", role)
        self.setProperty("bold", bold)
        if tone:
            self.setProperty("tone", tone)
        self._one_line_share: float | None = None  # see keep_one_line
        if lang:
            self.setProperty("lang", lang)
        self.setWordWrap(wrap)
        self.setTextFormat(Qt.TextFormat.PlainText)
        if wrap:
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def set_tone(self, tone: str | None) -> None:
        if self.property("tone") != tone:
            self.setProperty("tone", tone)
            restyle(self)
            self.updateGeometry()

    def keep_one_line(self, screen_share: float) -> None:
        """Ask for the width of one line, up to ``screen_share`` of the screen's width, where a
        layout that shares its width by stretch would otherwise wrap the text."""
        self._one_line_share = screen_share
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        if self._one_line_share is not None and self.wordWrap():
            share = round(self.screen().availableGeometry().width() * self._one_line_share)
            hint.setWidth(max(hint.width(), min(self.one_line_hint().width(), share)))
        return hint

    def one_line_hint(self) -> QSize:
        frame = self.width() - self.contentsRect().width() if self.width() else 0
        width = self.fontMetrics().horizontalAdvance(self.text()) + frame + 4
        return QSize(width, self.heightForWidth(width))


class Badge(Label):
    """"Verified phrase" or "Machine translation": one line where it fits, wrapped where it does not."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", "caption", wrap=True, parent=parent)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)

    def set_kind(self, kind: str, text: str) -> None:
        self.setText(text)
        if self.property("badge") != kind:
            self.setProperty("badge", kind)
            restyle(self)

    def sizeHint(self) -> QSize:
        # A wrapped label hints a narrow, tall shape; a badge prefers its single line.
        return self.one_line_hint()


class IconLabel(QLabel):
    """An icon drawn in the colour of the text around it, sized to a text role."""

    def __init__(self, name: str, role: str = "body", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._drawn: tuple = ()
        self.setProperty("textRole", role)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def set_icon(self, name: str) -> None:
        self._name = name
        self.refresh()

    def refresh(self) -> None:
        side = round(self.fontInfo().pixelSize() * 1.25)
        color = self.palette().color(QPalette.ColorRole.WindowText).name()
        key = (self._name, color, side, self.devicePixelRatioF())
        if key != self._drawn:  # style changes arrive in bursts; draw once per real change
            self._drawn = key
            self.setPixmap(icons.pixmap(*key))
            self.setFixedSize(side, side)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (event.Type.FontChange, event.Type.PaletteChange, event.Type.StyleChange):
            self.refresh()


# Button tones with a coloured fill, on which labels are drawn in the accent's text colour.
ACCENT_TONES = ("resident", "officer", "danger", "listening")


class TouchButton(QPushButton):
    """A large button whose text wraps (long Russian, Vietnamese, Filipino labels are never cut).

    Its text lives in child labels, so its size comes from its layout; the accessible name
    carries the text for screen readers and tests.
    """

    def __init__(self, text: str = "", icon: str | None = None, tone: str | None = None, *, sub: str = "",
                 role: str = "button", align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignCenter,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a touch leaves no focus ring; Tab still reaches it
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        if tone:
            self.setProperty("tone", tone)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 8)
        layout.setSpacing(10)
        self._icon = IconLabel(icon, role) if icon else None
        if self._icon:
            layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignVCenter)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        self._text = Label(text, role, bold=True)
        self._sub = Label(sub, "caption")
        for label in (self._text, self._sub):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            label.setAlignment(align)
            texts.addWidget(label)
        self._sub.setVisible(bool(sub))
        self._text.setVisible(bool(text))
        layout.addLayout(texts, 1)
        self._texts = texts
        self._align = align
        self._note: Label | None = None
        self._details = True
        self._role = role
        self._tick: IconLabel | None = None
        self._icon_only_in_large_text = False  # see icon_only_in_large_text
        self._colour_labels()
        self.setAccessibleName(text)
        self._text.installEventFilter(self)  # its font changes with the text size: see _shows_text

    def icon_only_in_large_text(self) -> None:
        """Show the icon alone in large-text mode; the accessible name keeps the text."""
        self._icon_only_in_large_text = self._icon is not None
        self._text.setVisible(self._shows_text())

    def _shows_text(self) -> bool:
        if not self._text.text():
            return False
        theme = theme_of(self) if self._icon_only_in_large_text else None
        return theme is None or not theme.appearance.large_text

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._text and event.type() == QEvent.Type.FontChange:
            self._text.setVisible(self._shows_text())
        return False

    def setCheckable(self, checkable: bool) -> None:
        super().setCheckable(checkable)
        if checkable and self._tick is None:
            # A checked option shows a tick, so the choice does not rest on colour alone.
            self._tick = IconLabel("check", self._role)
            self._tick.setVisible(False)
            self.layout().addWidget(self._tick, 0, Qt.AlignmentFlag.AlignVCenter)
            self._colour_labels()

    def checkStateSet(self) -> None:
        # Style sheets cannot test an ancestor's :checked or :disabled, so they become properties.
        super().checkStateSet()
        self._sync_state()

    def nextCheckState(self) -> None:
        super().nextCheckState()
        self._sync_state()

    def _sync_state(self) -> None:
        selected, inactive = self.isChecked(), not self.isEnabled()
        if self._tick is not None:
            self._tick.setVisible(selected)
        if self.property("selected") != selected or self.property("inactive") != inactive:
            self.setProperty("selected", selected)
            self.setProperty("inactive", inactive)
            restyle(self)
            self._colour_labels()
            refresh_fonts(self)  # re-polishing gave the labels their parent's font (seen on the page buttons)

    def _colour_labels(self) -> None:
        """Tell the child labels what they sit on (style sheets matching ancestors are slow)."""
        tone = self.property("tone")
        if not self.isEnabled():
            on = "inactive"
        elif self.isChecked() or tone in ACCENT_TONES:
            on = "accent"
        else:
            on = tone if tone in ("bar", "link") else "plain"
        for label in filter(None, (self._text, self._sub, self._tick, self._icon, getattr(self, "_note", None))):
            if label.property("on") != on:
                label.setProperty("on", on)
                restyle(label)  # it may be polished already (a layout asked for its size)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.EnabledChange:
            self._sync_state()

    def set_text(self, text: str, sub: str = "") -> None:
        self._text.setText(text)
        self._text.setVisible(self._shows_text())
        self._sub.setText(sub)
        self._sub.setVisible(self._details and bool(sub))
        self.setAccessibleName(f"{text}. {sub}" if sub else text)
        self.updateGeometry()

    def set_note(self, text: str, lang: str | None = None) -> None:
        """A third line under the text (a language tile's "Type or choose a phrase"), in ``lang``'s font."""
        if self._note is None:
            self._note = Label("", "caption")
            self._note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            self._note.setAlignment(self._align)
            self._texts.addWidget(self._note)
            self._colour_labels()
        if lang:
            self._note.setProperty("lang", lang)
        self._note.setText(text)
        self._note.setVisible(self._details and bool(text))
        self.setAccessibleName(". ".join(t for t in (self._text.text(), self._sub.text().strip(), text) if t))
        self.updateGeometry()

    def show_details(self, shown: bool) -> None:
        """Show or hide the lines under the text (a tile shows its name alone where space is short);
        the accessible name keeps them."""
        self._details = shown
        self._sub.setVisible(shown and bool(self._sub.text()))
        if self._note is not None:
            self._note.setVisible(shown and bool(self._note.text()))

    def note_label(self) -> Label | None:
        return self._note

    def text_label(self) -> Label:
        return self._text

    def sub_label(self) -> Label:
        return self._sub

    def set_icon(self, name: str) -> None:
        if self._icon:
            self._icon.set_icon(name)

    def set_tone(self, tone: str | None) -> None:
        if self.property("tone") != tone:
            self.setProperty("tone", tone)
            restyle(self)
            self._colour_labels()

    def sizeHint(self) -> QSize:
        return self.layout().sizeHint().expandedTo(self.minimumSize())

    def minimumSizeHint(self) -> QSize:
        return self.layout().minimumSize()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return max(self.layout().totalHeightForWidth(width), self.minimumHeight())


class TalkButton(TouchButton):
    """Hold to talk (push-to-talk); a short tap toggles hands-free listening instead.

    ``hold_started`` fires at once on press, so no word is lost while the hold is measured;
    release after ``TAP_MS`` ends the utterance (``hold_released``), an earlier release is a tap.
    Space and Enter on a focused button act as a press followed by a tap.
    """

    TAP_MS = 350
    hold_started = Signal()
    hold_released = Signal()
    tapped = Signal()

    def __init__(self, tone: str, parent: QWidget | None = None) -> None:
        super().__init__("", "mic", tone, sub=" ", role="title", parent=parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._held = QElapsedTimer()
        self._pointer_down = False

    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self.isEnabled():
            self._pointer_down = True
            self._held.start()
            self.hold_started.emit()

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if self._pointer_down and event.button() == Qt.MouseButton.LeftButton:
            self._pointer_down = False
            if self._held.elapsed() >= self.TAP_MS:
                self.hold_released.emit()
            else:
                self.tapped.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.isAutoRepeat():
            self.hold_started.emit()
            self.tapped.emit()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return
        super().keyReleaseEvent(event)


class LevelMeter(QWidget):
    """The live input level, with a hint when the voice is too quiet or clipping."""

    FLOOR_DBFS = -60.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._bar = QProgressBar()
        self._bar.setRange(0, 100)
        self._bar.setTextVisible(False)
        self._hint = Label("", "caption", "muted", wrap=True)
        layout.addWidget(self._bar, 1)
        layout.addWidget(self._hint, 2)

    def show_level(self, rms_dbfs: float, hint_text: str, warn: bool) -> None:
        fraction = (max(self.FLOOR_DBFS, min(0.0, rms_dbfs)) - self.FLOOR_DBFS) / -self.FLOOR_DBFS
        self._bar.setValue(round(100 * fraction))
        if self._bar.property("hint") != ("warn" if warn else None):
            self._bar.setProperty("hint", "warn" if warn else None)
            restyle(self._bar)
        self._hint.setText(hint_text)

    def reset(self) -> None:
        self._bar.setValue(0)
        self._hint.setText("")


class _ScrollRegion(QScrollArea):
    """A part of a screen that scrolls on its own. It asks for no more height than its minimum:
    a screen is grown to its preferred height by its page's scroll area, and a region that asked
    for its content's height pushed the buttons under it (Finish, Done) off the screen while the
    on-screen keyboard was up. Its stretch gives it the room there is."""

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.minimumSizeHint().height())


def scroll_area(content: QWidget, *, page: bool = False) -> QScrollArea:
    """A vertical scroll area that a finger can drag: a whole screen (``page``) when it cannot
    fit, else a region of a screen.

    The content's height follows its width (wrapped text): an explicit minimum height keeps
    the scroll area from using the layout's minimum, which is the height wrapped labels need
    at their narrowest and would leave blank space at the end.
    """
    content.setMinimumHeight(1)
    area = QScrollArea() if page else _ScrollRegion()
    area.setWidget(content)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    QScroller.grabGesture(area.viewport(), QScroller.ScrollerGestureType.TouchGesture)
    return area


class Bubble(QFrame):
    """One turn seen from one panel: the text in the panel's language first, the other below it."""

    replay = Signal(int)
    retract = Signal(int)

    def __init__(self, turn_id: int, panel_side: Side, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turn_id = turn_id
        self._panel_side = panel_side
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(6)
        self.speaker = Label("", "caption", "muted", bold=True)
        layout.addWidget(self.speaker)
        self.primary = Label("", "body")
        self.secondary = Label("", "caption", "muted")
        self.note = Label("", "caption", "error")
        self.understood = Label("", "caption")
        for label in (self.primary, self.secondary, self.understood, self.note):
            layout.addWidget(label)
        actions = QHBoxLayout()
        self.replay_button = TouchButton("", "play", "link", role="caption")
        self.retract_button = TouchButton("", "x", "quiet", role="caption")
        self.replay_button.clicked.connect(lambda: self.replay.emit(self.turn_id))
        self.retract_button.clicked.connect(lambda: self.retract.emit(self.turn_id))
        # Verified or machine-made: said at the foot of every translated bubble; it wraps before the buttons do.
        self.badge = Badge()
        for button in (self.replay_button, self.retract_button):
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Minimum)
        actions.addWidget(self.replay_button)
        actions.addWidget(self.retract_button)
        actions.addStretch(1)
        actions.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(actions)

    def render_turn(self, turn: TurnRecord, can_retract: bool) -> None:
        lang = language_of(self)
        own = turn.side == self._panel_side
        if turn.state == "retracted":
            self._set_surface("withdrawn")
            self.speaker.setText(tr(lang, f"role.{turn.side}"))
            self.primary.setText(tr(lang, "bubble.withdrawn"))
            for widget in (self.secondary, self.understood, self.note, self.badge, self.replay_button,
                           self.retract_button):
                widget.setVisible(False)
            return
        self._set_surface(turn.side)
        self.speaker.setText(tr(lang, "role.you") if own else tr(lang, f"role.{turn.side}"))
        # The panel's reader sees their own language first: their own words, or the translation.
        first, second = (turn.original, turn.translation) if own else (turn.translation, turn.original)
        if turn.engine == "identity":
            second = ""
        self.primary.setText(first or (tr(lang, "bubble.working") if turn.state == "pending" else ""))
        self.primary.setProperty("lang", turn.source_lang if own else turn.target_lang)
        self.secondary.setText(second)
        self.secondary.setProperty("lang", turn.target_lang if own else turn.source_lang)
        self.secondary.setVisible(bool(second))
        self.primary.setVisible(bool(self.primary.text()))
        self._render_badge(turn, lang)
        note = ""
        if turn.state == "failed":
            note = failure_text(lang, turn.error_kind)
        elif turn.speech_unavailable and not own:
            note = tr(lang, "bubble.text_only")
        self.note.set_tone("error" if turn.state == "failed" else "muted")
        self.note.setText(note)
        self.note.setVisible(bool(note))
        show_check = own and turn.side == "resident" and turn.back_translation is not None
        self.understood.setText(tr(lang, "bubble.understood", text=turn.back_translation) if show_check else "")
        self.understood.setVisible(show_check)
        self.replay_button.set_text(tr(lang, "bubble.stop") if turn.speaking else tr(lang, "bubble.replay"))
        self.replay_button.set_icon("stop" if turn.speaking else "play")
        self.replay_button.setVisible(turn.state == "done" and bool(turn.translation) and not turn.speech_unavailable)
        self.retract_button.set_text(tr(lang, "bubble.not_right"))
        self.retract_button.setVisible(own and turn.side == "resident" and can_retract and turn.state == "done")

    def _render_badge(self, turn: TurnRecord, lang: str) -> None:
        if turn.state != "done" or turn.engine == "identity":
            self.badge.setVisible(False)
            return
        kind = "curated" if turn.curated else "machine"
        self.badge.set_kind(kind, tr(lang, f"bubble.{kind}"))
        self.badge.setVisible(True)

    def _set_surface(self, kind: str) -> None:
        if self.property("bubble") != kind:
            self.setProperty("bubble", kind)
            restyle(self)


# The error codes explained in the reader's language (i18n keys error.<code>); others read as internal.
EXPLAINED_ERRORS = ("no-speech", "recognition-timeout", "model-missing", "bad-input", "internal")


def failure_text(lang: str, code: str | None) -> str:
    return tr(lang, f"error.{code}" if code in EXPLAINED_ERRORS else "error.internal")


class Transcript(QWidget):
    """The bubbles of a conversation from one panel's point of view, newest at the bottom."""

    replay = Signal(int)
    retract = Signal(int)

    def __init__(self, panel_side: Side, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._panel_side = panel_side
        self._bubbles: dict[int, Bubble] = {}
        self._content = QWidget()
        self._column = QVBoxLayout(self._content)
        self._column.setContentsMargins(4, 4, 12, 4)
        self._column.setSpacing(12)
        self.empty_hint = Label("", "body", "muted")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._column.addWidget(self.empty_hint)
        self._column.addStretch(1)
        self._area = scroll_area(self._content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._area)
        self._area.verticalScrollBar().rangeChanged.connect(self._follow_newest)
        self._follow = True
        self.setProperty("textRole", "body")

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            # At least a few lines of conversation stay visible, whatever the text size.
            self.setMinimumHeight(5 * self.fontInfo().pixelSize())

    def show_turn(self, turn: TurnRecord, can_retract: bool) -> None:
        bubble = self._bubbles.get(turn.id)
        if bubble is None:
            bubble = Bubble(turn.id, self._panel_side)
            bubble.replay.connect(self.replay)
            bubble.retract.connect(self.retract)
            self._bubbles[turn.id] = bubble
            self._column.insertWidget(self._column.count() - 1, self._indented(bubble, turn.side))
            self._follow = True
        bubble.render_turn(turn, can_retract)
        refresh_fonts(bubble)  # new bubbles, and texts whose language changed
        self.empty_hint.setVisible(False)

    def _indented(self, bubble: Bubble, side: Side) -> QWidget:
        """Chat layout: the reader's own turns keep to the right, the other side's to the left."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        indent = max(24, self.fontInfo().pixelSize() * 2)
        if side == self._panel_side:
            layout.addSpacing(indent)
        layout.addWidget(bubble, 1)
        if side != self._panel_side:
            layout.addSpacing(indent)
        return row

    def clear(self) -> None:
        for bubble in self._bubbles.values():
            discard(bubble.parentWidget())
        self._bubbles.clear()
        self.empty_hint.setVisible(True)

    def bubbles(self) -> dict[int, Bubble]:
        return dict(self._bubbles)

    def _follow_newest(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self._area.verticalScrollBar().setValue(maximum)


class ChoiceGrid(QWidget):
    """Large touch options in rows of ``columns``: one choice (exclusive) or several.

    Used for speech speed, volume and on/off, and in the staff panel for languages and audio
    devices, where a grid of buttons is easier to touch than a drop-down list.
    """

    chosen = Signal(object)  # the value touched

    def __init__(self, values: tuple = (), columns: int = 0, *, exclusive: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._columns = columns
        self._exclusive = exclusive
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(8)
        self._values: tuple = ()
        self.buttons: list[TouchButton] = []
        self.set_options(values)

    def set_options(self, values: tuple, labels: list[str] | None = None, langs: list[str] | None = None) -> None:
        for button in self.buttons:
            discard(button)
        self._values = tuple(values)
        self.buttons = []
        columns = self._columns or max(1, len(values))
        for index in range(len(values)):
            button = TouchButton(labels[index] if labels else "")
            button.setCheckable(True)
            if langs:
                button.setProperty("lang", langs[index])
            button.clicked.connect(lambda _=False, i=index: self._touched(i))
            self._grid.addWidget(button, index // columns, index % columns)
            self.buttons.append(button)
        refresh_fonts(self)

    def _touched(self, index: int) -> None:
        if self._exclusive:
            for other, button in enumerate(self.buttons):
                button.setChecked(other == index)
        self.chosen.emit(self._values[index])

    def set_labels(self, labels: list[str]) -> None:
        for button, label in zip(self.buttons, labels, strict=True):
            button.set_text(label)

    def select(self, value) -> None:
        """Check the option equal to ``value`` (the nearest one, for numbers)."""
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if numeric:
            index = min(range(len(self._values)), key=lambda i: abs(self._values[i] - value))
        else:
            index = self._values.index(value) if value in self._values else 0
        for other, button in enumerate(self.buttons):
            button.setChecked(other == index)

    def set_selected(self, values) -> None:
        for value, button in zip(self._values, self.buttons, strict=True):
            button.setChecked(value in values)

    def value(self):
        return next(value for value, button in zip(self._values, self.buttons, strict=True) if button.isChecked())

    def selected(self) -> tuple:
        return tuple(value for value, button in zip(self._values, self.buttons, strict=True) if button.isChecked())


def discard(widget: QWidget) -> None:
    """Remove a widget now (``deleteLater`` alone would leave it showing until the event loop runs)."""
    widget.hide()
    widget.setParent(None)
    widget.deleteLater()


class ReflowGrid(QWidget):
    """Items in as many equal columns as fit, each at least ``min_em`` of their text size wide.

    Call ``reflow`` after the text size changes (large-text mode); resizing reflows by itself.
    """

    def __init__(self, min_em: float, max_columns: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._min_em = min_em
        self._max_columns = max_columns
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(14)
        self._items: list[QWidget] = []
        self._columns = 0

    def set_items(self, items: list[QWidget]) -> None:
        for item in self._items:
            discard(item)
        self._items = list(items)
        self._columns = 0
        self.reflow()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.reflow()

    def reflow(self) -> None:
        label = self._items[0].findChild(QLabel) if self._items else None
        em = label.fontInfo().pixelSize() if label is not None else 20
        fit = self.width() // max(1, round(self._min_em * em)) if self.width() > 0 else self._max_columns
        columns = max(1, min(self._max_columns, fit))
        if columns == self._columns:
            return
        self._columns = columns
        for item in self._items:
            self._grid.removeWidget(item)
        for index, item in enumerate(self._items):
            self._grid.addWidget(item, index // columns, index % columns)
        for column in range(self._max_columns):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)


class LanguageGrid(ReflowGrid):
    """Touch tiles of languages by their native names, one page at a time.

    A page is as many rows of tiles as fit in the height the grid is given; ``paged`` says which
    page shows and how many there are, and ``show_page`` turns them (the picker's page buttons).
    Older users touch a big button more surely than they drag a list. Where a page would hold
    fewer than ``MIN_FULL_TILES`` tiles (large text on a 10" panel), the tiles show their native
    names alone; their second and third lines stay in the accessible name.
    """

    chosen = Signal(str)
    paged = Signal(int, int)  # the page shown (from 0), the number of pages

    MIN_FULL_TILES = 4
    NAME_ONLY_MIN_EM = 6  # names alone are narrower than full tiles: two columns on a 10" panel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(min_em=9, max_columns=5, parent=parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self._tiles: dict[str, TouchButton] = {}
        self._levels: dict[str, str] = {}
        self._pages: list[list[list[TouchButton]]] = []  # pages of rows of tiles
        self._page = 0
        self._shown: tuple = ()
        self._row_floor = 0

    def set_languages(self, codes: tuple[str, ...], caption_lang: str) -> None:
        self._tiles = {}
        for code in codes:
            tile = TouchButton(catalog.language(code).native, role="tile", sub=_language_caption(code, caption_lang))
            tile.setProperty("lang", code)
            tile.sub_label().setProperty("lang", caption_lang)
            tile.clicked.connect(lambda _=False, c=code: self.chosen.emit(c))
            self._tiles[code] = tile
        self._show_levels()
        self._page = 0
        self.set_items(list(self._tiles.values()))

    def set_caption_language(self, caption_lang: str) -> None:
        for code, tile in self._tiles.items():
            tile.sub_label().setProperty("lang", caption_lang)
            tile.set_text(catalog.language(code).native, _language_caption(code, caption_lang))
        self._show_levels()
        self.reflow()

    def set_speech_levels(self, levels: dict[str, str]) -> None:
        """Each tile's third line, in the tile's language: what a resident can do there (kiosk.turn.capability)."""
        self._levels = dict(levels)
        self._show_levels()
        self.reflow()

    def _show_levels(self) -> None:
        for code, tile in self._tiles.items():
            level = self._levels.get(code)
            tile.set_note(tr(code, LEVEL_KEYS[level]) if level in LEVEL_KEYS else "", code)

    def tiles(self) -> dict[str, TouchButton]:
        return dict(self._tiles)

    def page(self) -> int:
        return self._page

    def page_count(self) -> int:
        return len(self._pages)

    def page_of(self, code: str) -> int:
        tile = self._tiles[code]
        return next(index for index, page in enumerate(self._pages) if any(tile in row for row in page))

    def show_page(self, page: int) -> None:
        self._page = max(0, min(page, len(self._pages) - 1))
        self._place()

    def showEvent(self, event) -> None:
        # The start screen comes back for the next visitor: from the first page.
        super().showEvent(event)
        self.show_page(0)

    def sizeHint(self) -> QSize:
        # One row: the grid takes what the page leaves and shows as many rows as fit there.
        return QSize(0, self._row_floor)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self._row_floor)

    def reflow(self) -> None:
        if not self._items or self.width() <= 0:
            return
        first = self._pages[self._page][0][0] if self._pages else None
        self._pages = self._plan(details=True)
        if len(self._pages[0]) and sum(map(len, self._pages[0])) < min(self.MIN_FULL_TILES, len(self._items)):
            self._pages = self._plan(details=False)
        self._page = next((index for index, page in enumerate(self._pages) if any(first in row for row in page)), 0)
        # The page asks room for one row of names (not of full tiles: that would change with the plan).
        row_floor = max(tile.text_label().sizeHint().height() for tile in self._items) + 16
        if row_floor != self._row_floor:
            self._row_floor = row_floor
            self.updateGeometry()
        self._shown = ()
        self._place()

    def _plan(self, details: bool) -> list[list[list[TouchButton]]]:
        """Rows of as many columns as fit, and pages of as many rows as fit in the grid's height."""
        for tile in self._items:
            tile.show_details(details)
        label = self._items[0].text_label()
        em = label.fontInfo().pixelSize()
        spacing = self._grid.spacing()
        min_width = round((self._min_em if details else self.NAME_ONLY_MIN_EM) * em)
        columns = max(1, min(self._max_columns, (self.width() + spacing) // max(1, min_width + spacing)))
        width = (self.width() - spacing * (columns - 1)) // columns
        rows = [self._items[start:start + columns] for start in range(0, len(self._items), columns)]
        pages: list[list[list[TouchButton]]] = [[]]
        used = 0
        for row in rows:
            height = max(tile.heightForWidth(width) for tile in row)
            if pages[-1] and used + spacing + height > self.height():
                pages.append([])
                used = 0
            used += (spacing if pages[-1] else 0) + height
            pages[-1].append(row)
        self._columns = columns
        return pages

    def _place(self) -> None:
        if not self._pages:
            return
        rows = self._pages[self._page]
        shown = (self._columns, tuple(tuple(row) for row in rows))
        if shown != self._shown:
            self._shown = shown
            for item in self._items:
                self._grid.removeWidget(item)
                item.hide()
            for index, row in enumerate(rows):
                for column, tile in enumerate(row):
                    self._grid.addWidget(tile, index, column)
                    tile.show()
            for column in range(self._max_columns):
                self._grid.setColumnStretch(column, 1 if column < self._columns else 0)
            # Rows keep their height; what is left over stays below the last one.
            for row in range(len(self._items) + 1):
                self._grid.setRowStretch(row, 1 if row == len(rows) else 0)
        self.paged.emit(self._page, len(self._pages))


class LanguagePicker(QWidget):
    """An invitation that cycles through every offered language, a hint, and the language tiles,
    a page at a time with big page buttons beside them when they do not all fit."""

    chosen = Signal(str)

    def __init__(self, prompt_key: str, interval_ms: int, *, banner: bool = False,
                 parent: QWidget | None = None) -> None:
        """``banner`` sets the invitation on a coloured band, to draw visitors at an exhibition."""
        super().__init__(parent)
        self._prompt_key = prompt_key
        self._languages: tuple[str, ...] = ()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(16)
        self.prompt = Label("", "display", bold=True)
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._rotation = RotatingText(self.prompt, interval_ms)
        if banner:
            band = QFrame()
            band.setProperty("surface", "banner")
            QVBoxLayout(band).addWidget(self.prompt)
            band.layout().setContentsMargins(24, 28, 24, 28)
            self.prompt.setProperty("on", "accent")
            layout.addWidget(band)
        else:
            layout.addWidget(self.prompt)
        self.hint = FittingLabel(max_lines=2, role="body", tone="muted")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid = LanguageGrid()
        self.grid.chosen.connect(self.chosen)
        layout.addWidget(self.hint)
        tiles = QHBoxLayout()
        tiles.setSpacing(16)
        tiles.addWidget(self.grid, 1)
        self.pager = QWidget()
        pager = QVBoxLayout(self.pager)
        pager.setContentsMargins(0, 0, 0, 0)
        pager.setSpacing(8)
        self.page_previous = TouchButton("", "chevron-up", "link", role="title")
        self.page_next = TouchButton("", "chevron-down", "link", role="title")
        self.page_label = Label("", "caption", "muted", wrap=False)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.page_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        pager.addWidget(self.page_previous)
        pager.addStretch(1)
        pager.addWidget(self.page_label)
        pager.addStretch(1)
        pager.addWidget(self.page_next)
        self.pager.hide()
        tiles.addWidget(self.pager)
        layout.addLayout(tiles, 1)
        self.page_previous.clicked.connect(lambda: self.grid.show_page(self.grid.page() - 1))
        self.page_next.clicked.connect(lambda: self.grid.show_page(self.grid.page() + 1))
        self.grid.paged.connect(self._paged)

    def _paged(self, page: int, count: int) -> None:
        self.pager.setVisible(count > 1)
        self.page_previous.setEnabled(page > 0)
        self.page_next.setEnabled(page < count - 1)
        self.page_label.setText(f"{page + 1} / {count}")

    def set_languages(self, codes: tuple[str, ...], ui_lang: str) -> None:
        self._languages = codes
        self.grid.set_languages(codes, ui_lang)

    def retranslate(self, ui_lang: str, hint: str, short_hint: str = "") -> None:
        """The invitation starts in ``ui_lang`` and then goes through the other offered languages.
        ``short_hint`` replaces ``hint`` where that would take more than two lines."""
        others = [code for code in self._languages if code != ui_lang]
        self._rotation.set_texts([(code, tr(code, self._prompt_key)) for code in [ui_lang, *others]])
        self.hint.set_texts(hint, short_hint or hint)
        self.grid.set_caption_language(ui_lang)
        self.page_previous.setAccessibleName(tr(ui_lang, "start.page_previous"))
        self.page_next.setAccessibleName(tr(ui_lang, "start.page_next"))


class FittingLabel(Label):
    """A label with a full and a short text: the full one where it takes at most ``max_lines``
    lines at the label's width and font, else the short one (large text on a small panel)."""

    def __init__(self, max_lines: int, role: str = "body", tone: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("", role, tone, parent=parent)
        self._max_lines = max_lines
        self._texts = ("", "")

    def set_texts(self, full: str, short: str) -> None:
        self._texts = (full, short)
        self._fit()

    def _fit(self) -> None:
        full, short = self._texts
        width = self.contentsRect().width()
        if width <= 0:
            text = full
        else:
            metrics = self.fontMetrics()
            lines = metrics.boundingRect(QRect(0, 0, width, 1 << 20), Qt.TextFlag.TextWordWrap, full).height()
            text = full if lines <= self._max_lines * metrics.lineSpacing() else short
        if text != self.text():
            self.setText(text)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit()


class Card(QFrame):
    """A panel on the page with a title and a column of content."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("surface", "card")
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(20, 14, 20, 14)
        self.column.setSpacing(10)
        self.title = Label("", "title", bold=True)
        self.column.addWidget(self.title)


# The i18n key that names each speech level (kiosk.turn.capability) to a resident.
LEVEL_KEYS = {"speech": "capability.speech", "speech-less-reliable": "capability.less_reliable",
              "typing-and-phrases": "capability.typing"}


def _language_caption(code: str, caption_lang: str) -> str:
    """A tile's second line: the language's name for the officer (Korean) or in English.

    The reader's own language gets a blank line, so every tile's name sits at the same height.
    """
    spec = catalog.language(code)
    if code == caption_lang:
        return " "
    return spec.korean if caption_lang == "ko" else spec.english


class PinPad(QWidget):
    """A touch keypad for the staff PIN; digits on a physical keyboard work too."""

    entered = Signal(str)
    MAX_DIGITS = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._digits = ""
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.display = Label("", "display", wrap=False)
        self.display.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.display.setAccessibleName("PIN")
        layout.addWidget(self.display)
        grid = QGridLayout()
        grid.setSpacing(10)
        self.keys: dict[str, TouchButton] = {}
        for index, digit in enumerate("123456789"):
            self._add_key(grid, digit, index // 3, index % 3)
        self.clear_key = TouchButton("", "backspace", role="title")
        self.clear_key.clicked.connect(self._backspace)
        grid.addWidget(self.clear_key, 3, 0)
        self._add_key(grid, "0", 3, 1)
        self.ok_key = TouchButton("", "check", "resident", role="title")
        self.ok_key.clicked.connect(self._submit)
        grid.addWidget(self.ok_key, 3, 2)
        layout.addLayout(grid)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _add_key(self, grid: QGridLayout, digit: str, row: int, column: int) -> None:
        key = TouchButton(digit, role="display")
        key.clicked.connect(lambda _=False, d=digit: self._type(d))
        grid.addWidget(key, row, column)
        self.keys[digit] = key

    def _type(self, digit: str) -> None:
        if len(self._digits) < self.MAX_DIGITS:
            self._digits += digit
            self._show()

    def _backspace(self) -> None:
        self._digits = self._digits[:-1]
        self._show()

    def _submit(self) -> None:
        pin, self._digits = self._digits, ""
        self._show()
        if pin:
            self.entered.emit(pin)

    def clear(self) -> None:
        self._digits = ""
        self._show()

    def _show(self) -> None:
        self.display.setText("●" * len(self._digits))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if text.isdigit() and text.isascii():
            self._type(text)
        elif event.key() == Qt.Key.Key_Backspace:
            self._backspace()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._submit()
        else:
            super().keyPressEvent(event)


class RotatingText(QObject):
    """Cycles a label through (language, text) pairs, switching its font with the language."""

    def __init__(self, label: Label, interval_ms: int) -> None:
        super().__init__(label)
        self._label = label
        self._texts: list[tuple[str, str]] = []
        self._index = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next)
        self._timer.setInterval(interval_ms)

    def set_texts(self, texts: list[tuple[str, str]]) -> None:
        self._texts = texts
        self._index = -1
        self._next()
        if len(texts) > 1:
            self._timer.start()
        else:
            self._timer.stop()

    def _next(self) -> None:
        if not self._texts:
            return
        self._index = (self._index + 1) % len(self._texts)
        lang, text = self._texts[self._index]
        self._label.setProperty("lang", lang)
        self._label.setText(text)
        refresh_fonts(self._label)
