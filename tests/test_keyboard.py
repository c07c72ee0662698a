"""The on-screen keyboard (kiosk.ui.keyboard): its layouts, its legibility, and typing by touch.

The real-window test taps the keys of the rendered keyboard with xdotool, as a finger would,
finding each key by its accessible name (the style names every key and candidate by its text),
and reads the text of the field through the accessibility tree.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable

import pytest
from PySide6.QtGui import QColor
from real_window import Node, kiosk_on_desktop, wait_for

from kiosk.store import catalog
from kiosk.ui import keyboard
from kiosk.ui.i18n import tr
from kiosk.ui.theme import (
    CALM,
    HIGH_CONTRAST,
    LARGE_TEXT_MIN_MM,
    MM_PER_INCH,
    Appearance,
    Theme,
    contrast_ratio,
)

READY_TIMEOUT_S = 180
PANEL = "on-screen keyboard"
HOLD_S = 1.5  # longer than Qt Virtual Keyboard's press-and-hold delay for alternative keys
ALTERNATIVES_TIMEOUT_S = 30  # the alternatives' popup, read through AT-SPI on a loaded machine
SCREENSHOTS = {"ko": "keyboard-ko", "th": "keyboard-th"}


# --- what the keyboard offers, without a window ---------------------------------------------


def test_every_language_opens_its_own_layout_and_switches_only_to_english():
    assert list(keyboard.LAYOUTS) == list(catalog.LANGUAGE_CODES)
    assert keyboard.locales_for("ko") == ["ko_KR", "en_GB"]
    assert keyboard.locales_for("en") == ["en_GB"]
    for lang in catalog.LANGUAGE_CODES:
        locales = keyboard.locales_for(lang)
        assert locales[0] == keyboard.LAYOUTS[lang].locale and locales[-1] == keyboard.ENGLISH
        assert len(locales) <= 2


@pytest.mark.parametrize("palette", [CALM, HIGH_CONTRAST], ids=["calm", "high-contrast"])
def test_key_text_contrast_is_at_least_4_5_to_1(palette):
    colours = keyboard.KeyColours.from_palette(palette)
    for what, (text, background) in colours.text_pairs().items():
        ratio = contrast_ratio(QColor(text), QColor(background))
        assert ratio >= 4.5, f"{what}: {text} on {background} is {ratio:.2f}:1"


@pytest.mark.parametrize("dpi", [72.0, 96.0, 102.5, 150.0])  # 102.5: a 21.5" 1920x1080 screen
def test_large_text_keys_are_at_least_12_mm(dpi):
    theme = Theme(Appearance(large_text=True), physical_dpi=dpi, logical_dpi=96.0)
    sizes = keyboard.KeySizes.for_width(theme, 1280)
    assert sizes.text_px / dpi * MM_PER_INCH >= LARGE_TEXT_MIN_MM
    assert sizes.design_height >= keyboard.KeySizes.ROWS * sizes.text_px  # every row holds its label


# --- typing by touch on the real window -----------------------------------------------------


class Keys:
    """The keys the keyboard shows now, by accessible name, with the panel's rectangle."""

    def __init__(self, kiosk) -> None:
        self.kiosk = kiosk
        self.panel, self.keys = self._read()

    def _read(self) -> tuple[Node, dict[str, Node]]:
        tree = self.kiosk.tree()
        panel = next((n for n in tree if n.name == PANEL and n.extents and n.extents[3] > 0), None)
        if panel is None:
            return None, {}
        keys = {n.name: n for n in tree if n.role == "push button" and n.extents and _inside(n, panel)}
        return panel, keys

    def wait_for(self, *names: str, timeout_s: float = 30) -> Keys:
        def showing():
            self.panel, self.keys = self._read()
            return all(name in {key.strip() for key in self.keys} for name in names)

        try:
            wait_for(f"keys {names} on the keyboard", showing, timeout_s, poll_s=0.5)
        except pytest.fail.Exception as failed:
            pytest.fail(f"{failed}; it shows {sorted(self.keys)}")
        return self

    def tap(self, *names: str) -> None:
        # Combining vowels and signs (Thai, Khmer) are labelled with a space before them.
        by_label = {name.strip(): node for name, node in self.keys.items()}
        for name in names:
            assert name in by_label, f"no key {name!r}; the keyboard shows {sorted(self.keys)}"
            self.kiosk.desktop.tap(by_label[name])
            time.sleep(0.15)  # one touch after another, as a hand types

    def hold_and_pick(self, name: str, alternative: str, field: Callable[[], Node]) -> None:
        """Press and hold a key, then slide to one of its alternatives and let go. On a loaded
        machine the alternatives can come late or not at all: then the hold is tried once more,
        after taking back the plain letter the release typed (``field`` reads the field)."""
        x, y = self.keys[name].center
        desktop = self.kiosk.desktop
        for attempt in (1, 2):
            before = field().text
            desktop.xdotool("mousemove", str(x), str(y), "mousedown", "1")
            time.sleep(HOLD_S)
            try:
                target = self.kiosk.wait_for_node("push button", alternative, timeout_s=ALTERNATIVES_TIMEOUT_S)
                break
            except pytest.fail.Exception:
                desktop.xdotool("mouseup", "1")
                if attempt == 2:
                    raise
                time.sleep(2)  # the release's letter, if it types one, reaches the field
                if field().text != before:
                    self.tap("backspace")
                wait_for(f"the field back to {before!r}", lambda before=before: field().text == before, 10)
        tx, ty = target.center
        desktop.xdotool("mousemove", str(tx), str(ty))
        time.sleep(0.3)
        desktop.xdotool("mouseup", "1")


def _inside(node: Node, panel: Node) -> bool:
    x, y, w, h = node.extents
    px, py, pw, ph = panel.extents
    return px <= x + w / 2 <= px + pw and py <= y + h / 2 <= py + ph


def _intersect(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _field(kiosk, lang: str) -> Node:
    return kiosk.wait_for_node("text", tr(lang, "conversation.type_here"))


def _open_keyboard(kiosk, lang: str, *keys: str) -> Keys:
    """Touch the typing field of the side speaking ``lang``; the keyboard opens in ``lang``."""
    kiosk.desktop.tap(_field(kiosk, lang))
    board = Keys(kiosk).wait_for("space", *keys)
    field = wait_for("the field scrolled above the keyboard and the bar",
                     lambda: (node := _field(kiosk, lang)) and _bottom(node) <= _top_of_bar(kiosk) and node, 10)
    assert _bottom(field) <= board.panel.extents[1], "the field must stay above the keyboard"
    return board


def _bottom(node: Node) -> int:
    return node.extents[1] + node.extents[3]


def _bar(kiosk) -> list[Node]:
    """The conversation's bar: change language, swap sides, Done (named in both languages)."""
    return [kiosk.wait_for_node("push button", text_in=tr("ko", key))
            for key in ("conversation.change_language", "conversation.swap", "conversation.done")]


def _top_of_bar(kiosk) -> int:
    return min(button.extents[1] for button in _bar(kiosk))


def _typed(kiosk, lang: str, expected: str) -> Node:
    return wait_for(f"{expected!r} in the {lang} field",
                    lambda: (node := _field(kiosk, lang)) and expected in node.text and node, 15)


def _switch_resident(kiosk, resident: str, new: str) -> None:
    """Change the resident's language with the bar above the open keyboard."""
    kiosk.desktop.tap(kiosk.wait_for_node("push button", text_in=tr(resident, "conversation.change_language")))
    kiosk.desktop.tap(kiosk.wait_for_node("push button", text_in=catalog.language(new).native))
    _field(kiosk, new)


@pytest.fixture
def config_env(tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "kiosk.toml").write_text("")
    return {"KIOSK_CONFIG_DIR": str(config_dir)}


def test_typing_by_touch_in_korean_russian_chinese_vietnamese_and_thai(tmp_path, config_env):
    """One kiosk for all five (a start takes a while); ``KIOSK_KEYBOARD_SCREENSHOTS=docs/screenshots``
    keeps the screenshots of the Korean and the Thai keyboard for the README."""
    shots = os.environ.get("KIOSK_KEYBOARD_SCREENSHOTS")
    with kiosk_on_desktop(tmp_path, env=config_env) as kiosk:
        kiosk.wait_for_log(r"engines ready", READY_TIMEOUT_S)
        kiosk.desktop.tap(kiosk.wait_for_node("push button", text_in=catalog.language("ru").native))

        # The officer: Korean jamo, composed into syllables by the Hangul input method.
        board = _open_keyboard(kiosk, "ko", "ㅇ", "ㅏ")
        kiosk.desktop.screenshot(SCREENSHOTS["ko"])
        board.tap(*"ㅇㅏㄴㄴㅕㅇㅎㅏㅅㅔㅇㅛ", "space")
        assert _typed(kiosk, "ko", "안녕하세요").text.strip() == "안녕하세요"

        # The resident: Russian; the language key goes to English and back, and nowhere else.
        board = _open_keyboard(kiosk, "ru", "й", "ц")
        board.tap(*"привет")
        _typed(kiosk, "ru", "Привет")  # Qt capitalises the first letter of a sentence
        board.tap("language")
        board.wait_for("q", "w")
        assert "й" not in board.keys
        board.tap("language")
        board.wait_for("й", "ц")

        # Chinese: pinyin keys, then the candidate.
        _switch_resident(kiosk, "ru", "zh")
        board = _open_keyboard(kiosk, "zh", "n", "i")
        board.tap(*"nihao")
        board.wait_for("你好").tap("你好")
        _typed(kiosk, "zh", "你好")

        # Vietnamese: hold e for ệ.
        _switch_resident(kiosk, "zh", "vi")
        board = _open_keyboard(kiosk, "vi", "v", "e")
        board.tap("v", "i")
        board.hold_and_pick("e", "ệ", lambda: _field(kiosk, "vi"))
        board.tap("t")
        _typed(kiosk, "vi", "Việt")

        # Thai.
        _switch_resident(kiosk, "vi", "th")
        board = _open_keyboard(kiosk, "th", "ส", "ว")
        board.tap(*"สวัสดี")
        _typed(kiosk, "th", "สวัสดี")
        kiosk.desktop.screenshot(SCREENSHOTS["th"])

        assert kiosk.stop() == 0, kiosk.log()[-3000:]
    log = kiosk.log()
    assert "Traceback" not in log, log[-3000:]
    if shots:
        for name in SCREENSHOTS.values():
            shutil.copy(tmp_path / f"{name}.png", f"{shots}/{name}.png")


def test_typing_by_touch_in_khmer_mongolian_and_japanese(tmp_path, config_env):
    """The kiosk's own Khmer and Mongolian layouts (Qt has none), and Japanese romaji to kana
    with its candidate."""
    with kiosk_on_desktop(tmp_path, env=config_env) as kiosk:
        kiosk.wait_for_log(r"engines ready", READY_TIMEOUT_S)
        kiosk.desktop.tap(kiosk.wait_for_node("push button", text_in=catalog.language("km").native))

        # Khmer: a consonant, its vowel, the subscript sign ្ before the next consonant.
        board = _open_keyboard(kiosk, "km", "ស", "្")
        board.tap("ស", "ួ", "ស", "្", "ត", "ី")
        assert _typed(kiosk, "km", "សួស្តី").text == "សួស្តី"
        khmer = kiosk.desktop.screenshot("keyboard-km")
        if os.environ.get("KIOSK_KEYBOARD_SCREENSHOTS"):
            shutil.copy(khmer, os.environ["KIOSK_KEYBOARD_SCREENSHOTS"])

        # Mongolian Cyrillic, with ө and ү.
        _switch_resident(kiosk, "km", "mn")
        board = _open_keyboard(kiosk, "mn", "ө", "ү")
        for word in ("сайн", "байна", "уу", "үнэ", "өндөр"):
            board.tap(*word, "space")
        assert _typed(kiosk, "mn", "Сайн байна уу үнэ өндөр").text.strip() == "Сайн байна уу үнэ өндөр"

        # Japanese: romaji keys to kana, then the candidate.
        _switch_resident(kiosk, "mn", "ja")
        board = _open_keyboard(kiosk, "ja", "k", "o")
        board.wait_for("あ")  # the input mode key: hiragana
        board.tap(*"konnnichiha")  # OpenWNN's romaji: "nn" is ん, so ん before に is "nnn"
        board.wait_for("こんにちは").tap("こんにちは")
        assert _typed(kiosk, "ja", "こんにちは").text == "こんにちは"
        assert kiosk.stop() == 0, kiosk.log()[-3000:]
    assert "Traceback" not in kiosk.log()


def test_the_first_touch_after_opening_types_and_done_stays_within_reach(tmp_path, config_env):
    """The first key touched after the keyboard opens types (it once was lost); the bar under the
    conversation stays on screen above the keyboard, and Done, touched by a finger (down, 0.3 s,
    up), ends the session from there."""
    with kiosk_on_desktop(tmp_path, env=config_env) as kiosk:
        kiosk.wait_for_log(r"engines ready", READY_TIMEOUT_S)
        kiosk.desktop.tap(kiosk.wait_for_node("push button", text_in=catalog.language("ru").native))
        kiosk.desktop.tap(_field(kiosk, "ru"))
        board = Keys(kiosk).wait_for("п", "р", "и")
        board.tap(*"при")
        typed = wait_for("text in the field", lambda: _field(kiosk, "ru").text, 15)

        screen = (0, 0, kiosk.desktop.width, kiosk.desktop.height)
        bar = _bar(kiosk)
        for button in bar:
            x, y, w, h = button.extents
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= screen[2] and y + h <= screen[3], button
            assert not _intersect(button.extents, board.panel.extents), (button, board.panel)
        kiosk.desktop.press(bar[-1])  # Done
        wait_for("the keyboard to close", lambda: Keys(kiosk).panel is None, 15)
        kiosk.wait_for_node("push button", text_in=catalog.language("ru").native)  # the start screen again
        assert kiosk.stop() == 0
    assert typed == "При"
