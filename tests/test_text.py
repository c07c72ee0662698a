"""text/: the one sentence splitter and the one normaliser (matching and scoring)."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from text.normalise import CHARACTER_SCORED, for_scoring, match_key, normalise, scoring_units
from text.sentences import first_clause, split_sentences

# --- sentences ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("안녕하세요. 반갑습니다!", ["안녕하세요.", "반갑습니다!"]),
        ("Is it 3.5 kg? Yes.", ["Is it 3.5 kg?", "Yes."]),
        ("Wait... what?! OK", ["Wait...", "what?!", "OK"]),
        ('He said "Hi." Then left.', ['He said "Hi."', "Then left."]),
        ("«Oui.» Merci", ["«Oui.»", "Merci"]),
        # CJK stops end a sentence with no space after them; closing brackets stay with it.
        ("你好。请等一下！好吗？", ["你好。", "请等一下！", "好吗？"]),
        ("「はい。」わかりました。", ["「はい。」", "わかりました。"]),
        ("（好。）谢谢", ["（好。）", "谢谢"]),
        # Devanagari danda and double danda.
        ("नमस्ते। धन्यवाद।", ["नमस्ते।", "धन्यवाद।"]),
        ("नमस्ते।धन्यवाद॥ फेरि", ["नमस्ते।", "धन्यवाद॥", "फेरि"]),
        # Khmer khan and bariyoosan, with or without a space after them.
        ("សួស្តី។ អរគុណ។", ["សួស្តី។", "អរគុណ។"]),
        ("សួស្តី។អរគុណ៕", ["សួស្តី។", "អរគុណ៕"]),
        # Thai: spaces separate phrases, not sentences; ? and ! and the angkhankhu end one.
        ("สวัสดีครับ ยินดีต้อนรับ", ["สวัสดีครับ ยินดีต้อนรับ"]),
        ("สวัสดีครับ! ขอบคุณครับ", ["สวัสดีครับ!", "ขอบคุณครับ"]),
        ("สวัสดี๚ขอบคุณ", ["สวัสดี๚", "ขอบคุณ"]),
        # The ellipsis character ends a sentence like "...": before a space or the end.
        ("Wait… what? OK…", ["Wait…", "what?", "OK…"]),
        ("1…5 please", ["1…5 please"]),
        ("first line\nsecond line\n\n third ", ["first line", "second line", "third"]),
        ("no terminator", ["no terminator"]),
        ("... !?", ["...", "!?"]),
        ("", []),
        ("  \n\t ", []),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


@given(st.text(alphabet=st.sampled_from("ab 가 .!?…。！？।॥។៕๚\"'」\n\t"), max_size=40))
def test_split_sentences_keeps_every_character(text):
    sentences = split_sentences(text)
    assert all(s and s == s.strip() for s in sentences)
    assert "".join("".join(sentences).split()) == "".join(text.split())


# --- normalisation --------------------------------------------------------------------


def test_normalise():
    assert normalise("  Hello,\tWORLD!! ") == "hello world"
    assert normalise("STRASSE") == normalise("straße") == "strasse"
    assert normalise(unicodedata.normalize("NFD", "Tiếng Việt")) == "tiếng việt"
    assert normalise("ＡＢＣ　１２３") == "abc 123"  # full-width forms (NFKC)
    assert normalise("№ 5 = ₩1,000") == "no 5 1 000"  # symbols are spaces too
    assert normalise("a\u200bb\u00adc") == "abc"  # zero-width space, soft hyphen: dropped
    assert normalise("नमस्ते। धन्यवाद॥") == "नमस्ते धन्यवाद"  # vowel signs (marks) are kept
    assert normalise("...!?") == ""


def test_match_key():
    assert match_key("  Hello,\tWORLD!! ") == "helloworld"
    assert match_key("नमस्ते। धन्यवाद॥") == "नमस्तेधन्यवाद"
    assert match_key("맛있나봐요") == match_key("맛있나 봐요.")  # ASR spaces Korean freely
    assert match_key("시청해 주셔서 감사합니다!") == match_key("시청해주셔서 감사합니다")
    assert match_key("«where» is it¿") == match_key("Where Is It？") == "whereisit"
    assert match_key("♪ ♪") == ""


def test_scoring_units():
    assert CHARACTER_SCORED == {"ko", "zh", "ja", "th", "km"}
    assert scoring_units("Hello, WORLD! It's me.", "en") == ["hello", "world", "it", "s", "me"]
    assert scoring_units("안녕 하세요.", "ko") == ["안", "녕", "하", "세", "요"]
    assert scoring_units("你好，世界。", "zh") == ["你", "好", "世", "界"]
    assert for_scoring("안녕 하세요.", "ko") == "안 녕 하 세 요"
    assert for_scoring("  Xin chào!  ", "vi") == "xin chào"
    assert scoring_units("", "ja") == [] and for_scoring("?!", "en") == ""


def test_text_imports_nothing_from_the_project():
    code = (
        "import sys, text, text.normalise, text.sentences; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'kiosk', 'asr', 'mt', 'tts', 'PySide6'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("sentence", "cut"), [
    ("Please fill in this form, and then sign at the bottom.",
     ("Please fill in this form,", "and then sign at the bottom.")),
    ("请先填写这张表格，然后在第二页签名。", ("请先填写这张表格，", "然后在第二页签名。")),
    ("Yes, please sign here.", None),          # the first clause is too short to say on its own
    ("Please fill in this form, thanks.", None),  # and here the rest
    ("It weighs 3,5 kilograms in total.", None),  # a decimal comma is no clause mark
    ("No clause marks in this sentence.", None),
])
def test_first_clause(sentence, cut):
    assert first_clause(sentence, 8) == cut
