"""Accessibility and rendering, measured on the rendered widgets of every screen: contrast in both
themes, text size in large-text mode, no clipped label in any language, no missing glyph."""

import re

import pytest
from PySide6.QtWidgets import QScrollArea
from ui_support import (
    clipped,
    fully_shown,
    open_kiosk,
    shown_text,
    text_and_background,
    visible_text_widgets,
    widget_image,
)

from kiosk.store.catalog import LANGUAGE_CODES
from kiosk.ui import fonts, i18n
from kiosk.ui.app import stage
from kiosk.ui.theme import LARGE_TEXT_MIN_MM, MM_PER_INCH, Appearance, contrast_ratio

SCREENS = ("start", "conversation", "phrasebook", "about", "accessibility", "staff", "demo", "demo-try")
GLYPH_LANGUAGES = ("ko", "vi", "zh", "th", "km", "ru")
SIZES = ((1280, 800), (1920, 1080))
MIN_CONTRAST = 4.5


@pytest.mark.parametrize("lang", LANGUAGE_CODES)
def test_every_language_has_every_ui_string_and_no_unknown_placeholder(lang):
    """English is the reference; a language may spell out a placeholder ("in Russian") but never
    ask for one that the code does not fill."""
    reference, strings = i18n.strings(i18n.REFERENCE), i18n.strings(lang)
    assert sorted(reference.keys() - strings.keys()) == [] and sorted(strings.keys() - reference.keys()) == []
    for key, text in strings.items():
        assert set(re.findall(r"\{(\w+)\}", text)) <= set(re.findall(r"\{(\w+)\}", reference[key])), key


@pytest.fixture(scope="module")
def kiosk(qapp, engines, tmp_path_factory):
    with open_kiosk(tmp_path_factory.mktemp("a11y"), engines) as kiosk:
        yield kiosk


def show(kiosk, screen: str, lang: str, size=(1280, 800), appearance=Appearance()):
    """A fresh session on ``screen`` in ``lang``, with the sample turns the screenshots use."""
    window = kiosk.window
    kiosk.controller.end_session()  # not the window's: that would reset the appearance (a slow restyle)
    window.resize(*size)
    window.set_appearance(appearance)
    stage(kiosk, screen, lang)
    kiosk.app.processEvents()
    return window


@pytest.mark.parametrize("high_contrast", [False, True], ids=["calm", "high-contrast"])
def test_text_contrast_is_at_least_4_5_everywhere(kiosk, high_contrast, record_property):
    worst = (99.0, "")
    for screen in SCREENS:
        window = show(kiosk, screen, "en", appearance=Appearance(high_contrast=high_contrast))
        full = window.grab().toImage()
        measured = 0
        for widget in visible_text_widgets(window):
            if not fully_shown(widget):
                continue
            pair = text_and_background(widget_image(window, widget, full))
            if pair is None:
                continue
            ratio = contrast_ratio(*pair)
            measured += 1
            worst = min(worst, (ratio, f"{screen}: {shown_text(widget)[:40]!r} {pair[0].name()} on {pair[1].name()}"))
        assert measured >= 5, f"{screen}: too few texts measured"
    record_property("min_contrast", round(worst[0], 2))
    print(f"\nminimum contrast ({'high contrast' if high_contrast else 'calm'}): {worst[0]:.2f} at {worst[1]}")
    assert worst[0] >= MIN_CONTRAST, worst[1]


def test_large_text_is_at_least_12_mm_on_every_screen(kiosk, record_property):
    smallest = (99.0, "")
    for screen in SCREENS:
        window = show(kiosk, screen, "ko", size=(1920, 1080), appearance=Appearance(large_text=True))
        screen_info = window.screen()
        for widget in visible_text_widgets(window):
            info = widget.fontInfo()
            # The size Qt renders (pixels) and the size asked for (points via the logical DPI), in mm.
            rendered_mm = info.pixelSize() / screen_info.physicalDotsPerInchY() * MM_PER_INCH
            asked_mm = widget.font().pointSizeF() / 72 * widget.logicalDpiY() / screen_info.physicalDotsPerInchY() \
                * MM_PER_INCH
            smallest = min(smallest, (min(rendered_mm, asked_mm), f"{screen}: {shown_text(widget)[:30]!r}"))
    record_property("min_large_text_mm", round(smallest[0], 2))
    print(f"\nsmallest text in large-text mode: {smallest[0]:.2f} mm ({smallest[1]})")
    assert smallest[0] >= LARGE_TEXT_MIN_MM, smallest[1]


@pytest.mark.parametrize("lang", LANGUAGE_CODES)
def test_no_label_is_clipped_on_start_and_conversation(kiosk, lang):
    problems = []
    for size in SIZES:
        for screen in ("start", "conversation"):
            window = show(kiosk, screen, lang, size=size)
            page = window.stack.currentWidget()
            assert isinstance(page, QScrollArea) and page.verticalScrollBar().maximum() == 0, \
                f"{screen} at {size} does not fit without scrolling"
            problems += [f"{screen} {size[0]}x{size[1]}: {shown_text(w)[:40]!r} {why}"
                         for w in visible_text_widgets(window) if (why := clipped(w))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", GLYPH_LANGUAGES)
def test_screenshots_have_no_missing_glyphs(kiosk, lang, tmp_path):
    missing = []
    for screen in SCREENS:
        window = show(kiosk, screen, lang)
        assert window.grab().save(str(tmp_path / f"{screen}-{lang}.png"))
        for widget in visible_text_widgets(window):
            lost = fonts.missing_characters(shown_text(widget), widget.font().families())
            if lost:
                missing.append(f"{screen}: {shown_text(widget)[:30]!r} lacks {lost!r} in {widget.font().families()}")
    assert not missing, "\n".join(missing)


def test_the_measurements_see_what_they_measure(qapp):
    from PySide6.QtGui import QColor, QImage
    from PySide6.QtWidgets import QLabel

    label = QLabel("A label far too long for its box")
    label.resize(60, 40)
    assert clipped(label) is not None
    label.resize(label.sizeHint())
    assert clipped(label) is None
    image = QImage(40, 20, QImage.Format.Format_RGB32)
    image.fill(QColor("#ffffff"))
    for x in range(10, 20):
        for y in range(5, 15):
            image.setPixelColor(x, y, QColor("#767676"))
    text, background = text_and_background(image)
    assert background.name() == "#ffffff" and round(contrast_ratio(text, background), 2) == 4.54


@pytest.mark.parametrize(("lang", "family"), [("ko", "Noto Sans CJK KR"), ("zh", "Noto Sans CJK SC"),
                                              ("ja", "Noto Sans CJK JP"), ("th", "Noto Sans Thai"),
                                              ("km", "Noto Sans Khmer"), ("ne", "Noto Sans Devanagari"),
                                              ("vi", "Noto Sans"), ("ru", "Noto Sans"), ("mn", "Noto Sans")])
def test_each_script_gets_a_font_that_covers_it(qapp, lang, family):
    assert fonts.family_for(lang) == family
    assert fonts.missing_characters(fonts.ui_text(lang), fonts.families_for(lang)) == ""
