"""mt: engine language codes, real CTranslate2 on tiny models, the phrasebook and the router.

Sentence splitting and the phrasebook's matching key are text/'s, tested in test_text.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
import unicodedata
from pathlib import Path

import pytest
import sentencepiece
from tiny_mt import LANGUAGES, REPO_LAYOUTS, build_llm, build_marian, build_repo_layout, build_seq2seq, write_tokenizer_json

from kiosk.store import catalog
from mt import InvalidInputError, ModelLoadError, PhrasebookError, Translation, UnsupportedPairError
from mt.llm import LLMOptions, LLMTranslator
from mt.phrasebook import Phrasebook
from mt.router import Router
from mt.seq2seq import (
    M2M100_TOKENS,
    NLLB_TOKENS,
    OPUS_TARGET_TOKENS,
    Seq2SeqOptions,
    Seq2SeqTranslator,
    join_sentences,
    opus_target_tokens,
)
from text.sentences import split_sentences

REPO = Path(__file__).resolve().parent.parent
PHRASEBOOK_DIR = REPO / "assets" / "phrasebook"
FAST = Seq2SeqOptions(device="cpu", max_decoding_length=8)
# What the kiosk hands the LLM translator: each language's English name, from the catalogue.
ENGLISH_NAMES = {code: catalog.language(code).english for code in LANGUAGES}


# --- engine language codes ------------------------------------------------------------

# Languages a family's code table leaves out on purpose (none today): say why here.
FAMILY_GAPS: dict[str, set[str]] = {"m2m100": set(), "nllb": set(), "marian": set()}


@pytest.mark.parametrize(
    "family, table", [("m2m100", M2M100_TOKENS), ("nllb", NLLB_TOKENS), ("marian", OPUS_TARGET_TOKENS)]
)
def test_family_codes_cover_exactly_the_catalogue(family, table):
    catalogue = set(catalog.LANGUAGE_CODES)
    assert FAMILY_GAPS[family] <= catalogue
    assert set(table) == catalogue - FAMILY_GAPS[family], f"{family}: update its code table in mt/seq2seq.py"


def test_family_codes_are_the_upstream_tokenizers_codes():
    """Checked against Transformers' own tokenizer constants (a test-only dependency), not our tables."""
    pytest.importorskip("transformers")
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES as M2M100_CODES
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as NLLB_CODES

    m2m100 = {f"__{code}__" for code in M2M100_CODES["m2m100"]}
    assert {lang: token for lang, token in M2M100_TOKENS.items() if token not in m2m100} == {}
    assert {lang: token for lang, token in NLLB_TOKENS.items() if token not in NLLB_CODES} == {}
    # Each code's script is the one the kiosk writes that language in (assets/languages.toml).
    for lang, token in NLLB_TOKENS.items():
        script = catalog.language(lang).script
        assert token.split("_")[1] == ("Hani" if script == "Hani" else script), (lang, token)


def test_join_sentences_spacing_by_language():
    assert join_sentences(["你好。", "谢谢。"], "zh") == "你好。谢谢。"
    assert join_sentences(["こんにちは。", "はい。"], "ja") == "こんにちは。はい。"
    assert join_sentences(["Hello.", "", "Thanks."], "en") == "Hello. Thanks."


# --- tiny models ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("tiny-mt")
    return {
        "m2m100": build_seq2seq(base / "m2m100-tiny", "m2m100", seed=1),
        "nllb": build_seq2seq(base / "nllb-tiny", "nllb", seed=2),
        "ko-en": build_marian(base / "opus-ko-en", "ko", "en", seed=3),
        "ko-en-marian": build_marian(base / "opus-ko-en-marian", "ko", "en", seed=3, converter="marian"),
        "en-vi": build_marian(base / "opus-en-vi", "en", "vi", seed=4),
        "en-mul": build_marian(base / "opus-en-mul", "en", "vi", (">>vie<<", ">>tha<<"), seed=5),
        "llm": build_llm(base / "llm-tiny"),
    }


@pytest.fixture(scope="module")
def m2m(model_dirs):
    return Seq2SeqTranslator(model_dirs["m2m100"], "m2m100", LANGUAGES, options=FAST)


@pytest.fixture(scope="module")
def nllb(model_dirs):
    return Seq2SeqTranslator(model_dirs["nllb"], "nllb", LANGUAGES, options=FAST)


@pytest.fixture(scope="module")
def ko_en(model_dirs):
    return Seq2SeqTranslator(model_dirs["ko-en"], "marian", ["ko"], target_languages=["en"], options=FAST)


@pytest.fixture(scope="module")
def en_vi(model_dirs):
    return Seq2SeqTranslator(model_dirs["en-vi"], "marian", ["en"], target_languages=["vi"], options=FAST)


@pytest.fixture(scope="module")
def llm(model_dirs):
    return LLMTranslator(model_dirs["llm"], ENGLISH_NAMES, options=LLMOptions(device="cpu", max_new_tokens=8))


def sentencepiece_pieces(model_file: Path, text: str) -> list[str]:
    return sentencepiece.SentencePieceProcessor(model_file=str(model_file)).encode(text, out_type=str)


def test_tiny_models_build_fast(tmp_path):
    start = time.perf_counter()
    build_seq2seq(tmp_path / "m", "m2m100")
    build_marian(tmp_path / "p", "ko", "en")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    "fixture, source_token, target_token",
    [("m2m", "__ko__", "__en__"), ("nllb", "kor_Hang", "eng_Latn")],
)
def test_multilingual_language_tokens(request, fixture, source_token, target_token):
    translator = request.getfixturevalue(fixture)
    pieces = sentencepiece_pieces(translator.model_dir / "sentencepiece.bpe.model", "안녕하세요 여기.")
    assert translator.source_tokens("안녕하세요 여기.", "ko", "en") == [source_token, *pieces, "</s>"]
    assert translator.target_prefix("en") == [target_token]


def test_nllb_codes_for_every_language(nllb):
    expected = {"ko": "kor_Hang", "en": "eng_Latn", "zh": "zho_Hans", "vi": "vie_Latn", "th": "tha_Thai",
                "ru": "rus_Cyrl", "ja": "jpn_Jpan", "uz": "uzn_Latn", "mn": "khk_Cyrl", "ne": "npi_Deva",
                "km": "khm_Khmr", "id": "ind_Latn", "tl": "tgl_Latn"}
    assert {lang: nllb.target_prefix(lang)[0] for lang in LANGUAGES} == expected
    assert nllb.source_languages == nllb.target_languages == frozenset(LANGUAGES)


def test_target_token_is_forced_then_removed(m2m):
    source = m2m.source_tokens("감사합니다.", "ko", "vi")
    raw = m2m._translator.translate_batch([source], target_prefix=[["__vi__"]], max_decoding_length=8)
    hypothesis = raw[0].hypotheses[0]
    assert hypothesis[0] == "__vi__"
    [translated] = m2m.translate(["감사합니다."], "ko", "vi")
    assert translated == m2m.output_text(hypothesis)
    assert "__vi__" not in translated and translated
    english = sentencepiece_pieces(m2m.model_dir / "sentencepiece.bpe.model", "hello thank you")
    assert m2m.output_text(["__en__", *english]) == "hello thank you"


@pytest.mark.parametrize("variant, eos", [("ko-en", ["</s>"]), ("ko-en-marian", [])],
                         ids=["transformers-converter", "marian-converter"])
def test_marian_pair_has_no_language_tokens_and_eos_as_its_converter_wants(model_dirs, variant, eos):
    model_dir = model_dirs[variant]
    config = json.loads((model_dir / "config.json").read_text())
    shared = (model_dir / "shared_vocabulary.json").is_file()
    # TransformersConverter: one shared vocabulary, add_source_eos false, so the caller appends </s>;
    # MarianConverter: separate vocabularies, add_source_eos true, so CTranslate2 appends it itself.
    assert (shared, config["add_source_eos"]) == ((True, False) if variant == "ko-en" else (False, True))
    ko_en = Seq2SeqTranslator(model_dir, "marian", ["ko"], target_languages=["en"], options=FAST)
    pieces = sentencepiece_pieces(ko_en.model_dir / "source.spm", "감사합니다.")
    assert ko_en.source_tokens("감사합니다.", "ko", "en") == pieces + eos
    assert ko_en.target_prefix("en") is None
    assert ko_en.supports("ko", "en") and not ko_en.supports("en", "ko")
    assert ko_en.translate(["감사합니다."], "ko", "en")[0]


def test_marian_multi_target_uses_target_token(model_dirs):
    translator = Seq2SeqTranslator(model_dirs["en-mul"], "marian", ["en"], target_languages=["vi", "th"], options=FAST)
    assert translator.source_tokens("hello.", "en", "th")[0] == ">>tha<<"
    assert translator.supports("en", "vi") and translator.supports("en", "th")
    assert all(translator.translate(["hello.", "thank you."], "en", "vi"))
    # No >>kor<< (nor any other Korean token) in its vocabulary: refused, naming the tokens it has.
    with pytest.raises(ModelLoadError, match="no target token for ko .it has >>tha<<, >>vie<<"):
        Seq2SeqTranslator(model_dirs["en-mul"], "marian", ["en"], target_languages=["vi", "ko"], options=FAST)


def test_opus_target_tokens_come_from_the_model_vocabulary():
    vocabulary = [">>cmn_Hant<<", ">>yue<<", ">>zho<<", ">>cmn_Hans<<", ">>uzb_Cyrl<<", ">>uzn_Latn<<", ">>fil<<",
                  ">>tl<<", ">>deu<<", "▁hello"]
    tokens = opus_target_tokens(vocabulary, ["tl", "zh", "uz"])
    # Simplified before the bare code, Traditional never; a script the kiosk does not write is skipped.
    assert tokens == {"zh": ">>cmn_Hans<<", "uz": ">>uzn_Latn<<", "tl": ">>fil<<"}  # a preferred code first
    # Tokens no hand-written table lists are still found through their ISO 639-3 code.
    assert opus_target_tokens([">>zho_Hans<<", ">>khk_Cyrl<<", ">>npi<<"]) == {
        "zh": ">>zho_Hans<<", "mn": ">>khk_Cyrl<<", "ne": ">>npi<<"}
    assert opus_target_tokens([">>cmn_Hant<<"]) == {}


def test_m2m100_chinese_is_converted_to_simplified(tmp_path):
    # M2M-100 has one __zh__ with no script; this tiny model always writes Traditional "這裡號碼".
    model_dir = build_seq2seq(tmp_path / "m2m-traditional", "m2m100", favour="這裡號碼")
    translator = Seq2SeqTranslator(model_dir, "m2m100", ["ko", "zh", "vi"], options=FAST)
    [chinese] = translator.translate(["감사합니다."], "ko", "zh")
    assert "这里号码" in chinese and "這" not in chinese and "號" not in chinese
    [vietnamese] = translator.translate(["감사합니다."], "ko", "vi")
    assert "這裡號碼" in vietnamese  # only Chinese output is converted


@pytest.mark.parametrize("repo, family, pair", [
    ("jncraton/m2m100_418M-ct2-int8", "m2m100", None),
    ("JustFrederik/m2m_100_418m_ct2_int8", "m2m100", None),
    ("JustFrederik/nllb-200-distilled-600M-ct2-int8", "nllb", None),
    ("OpenNMT/nllb-200-distilled-1.3B-ct2-int8", "nllb", None),
    ("gaudi/opus-mt-en-zh-ctranslate2", "marian", ("en", "zh")),
    ("gaudi/opus-mt-th-en-ctranslate2", "marian", ("th", "en")),
])
def test_every_pre_converted_repository_layout_loads(tmp_path, repo, family, pair):
    assert repo.replace("en-zh", "{pair}").replace("th-en", "{pair}") in REPO_LAYOUTS
    model_dir = build_repo_layout(tmp_path / "model", repo, pair)
    if pair:
        translator = Seq2SeqTranslator(model_dir, family, pair[:1], target_languages=pair[1:], options=FAST)
        text = {"en": "hello please wait.", "th": "สวัสดี ขอบคุณ"}[pair[0]]
        assert translator.translate([text], *pair)[0]
        if pair[1] == "zh":
            assert translator.source_tokens(text, *pair)[0] == ">>cmn_Hans<<"
    else:
        translator = Seq2SeqTranslator(model_dir, family, LANGUAGES, options=FAST)
        assert translator.source_languages == translator.target_languages == frozenset(LANGUAGES)
        tokens = translator.source_tokens("서류 번호 여기", "ko", "en")
        config = json.loads((model_dir / "config.json").read_text())
        assert (tokens[-1] == "</s>") == (not config.get("add_source_eos"))  # fairseq conversions add it themselves
        assert "<unk>" not in tokens and translator.translate(["서류 번호 여기."], "ko", "vi")[0]


def test_missing_tokenizer_names_the_files_it_expected(model_dirs, tmp_path):
    broken = corrupt_copy(model_dirs["nllb"], tmp_path / "nllb", lambda d: (d / "sentencepiece.bpe.model").unlink())
    with pytest.raises(ModelLoadError) as error:
        Seq2SeqTranslator(broken, "nllb", LANGUAGES, options=FAST)
    for name in ("source.spm", "sentencepiece.bpe.model", "spm.128k.model", "tokenizer.json"):
        assert name in str(error.value)


def test_batch_keeps_texts_and_sentences_in_order(m2m):
    texts = ["안녕하세요. 감사합니다!", "", "서류 번호? 여기 기다려 주세요.", "신분증"]
    batched = m2m.translate(texts, "ko", "en")
    one_by_one = [
        join_sentences([m2m.translate([s], "ko", "en")[0] for s in split_sentences(text)], "en")
        for text in texts
    ]
    assert len(batched) == len(texts)
    assert batched == one_by_one
    assert batched[1] == ""
    assert len(set(batched)) == len(texts)  # outputs depend on inputs, so order is observable


def test_declared_languages_limit_coverage(model_dirs):
    translator = Seq2SeqTranslator(model_dirs["m2m100"], "m2m100", ["ko", "en", "vi"], options=FAST)
    assert translator.supports("ko", "vi")
    assert not translator.supports("ko", "km") and not translator.supports("ko", "ko")
    with pytest.raises(UnsupportedPairError, match="ko→km"):
        translator.translate(["안녕하세요."], "ko", "km")


def test_warm_up(m2m, ko_en):
    m2m.warm_up()
    ko_en.warm_up()


def corrupt_copy(source: Path, destination: Path, damage) -> Path:
    shutil.copytree(source, destination)
    damage(destination)
    return destination


def truncate_model(model_dir: Path) -> None:
    data = (model_dir / "model.bin").read_bytes()
    (model_dir / "model.bin").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "damage, reason",
    [
        (truncate_model, "CTranslate2 could not load it"),
        (lambda d: (d / "shared_vocabulary.json").unlink(), "no vocabulary file"),
        (lambda d: (d / "model.bin").unlink(), "model.bin is missing"),
        (lambda d: (d / "sentencepiece.bpe.model").unlink(), "no tokenizer found"),
        (lambda d: (d / "sentencepiece.bpe.model").write_bytes(b"not a model"), "unreadable"),
        (lambda d: (d / "config.json").write_text("{"), "config.json is unreadable"),
    ],
    ids=["truncated-model", "no-vocabulary", "no-model-bin", "no-tokenizer", "bad-tokenizer", "bad-config"],
)
def test_broken_model_dir_gives_model_load_error(model_dirs, tmp_path, damage, reason):
    broken = corrupt_copy(model_dirs["m2m100"], tmp_path / "broken", damage)
    with pytest.raises(ModelLoadError) as error:
        Seq2SeqTranslator(broken, "m2m100", LANGUAGES, options=FAST)
    assert error.value.model_dir == broken
    assert str(broken) in str(error.value) and reason in str(error.value)


def test_missing_dir_and_wrong_family(model_dirs, tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Seq2SeqTranslator(tmp_path / "absent", "m2m100", LANGUAGES)
    with pytest.raises(ModelLoadError, match="no m2m100 language tokens"):
        Seq2SeqTranslator(model_dirs["nllb"], "m2m100", LANGUAGES, options=FAST)
    with pytest.raises(ValueError, match="unknown model family"):
        Seq2SeqTranslator(model_dirs["nllb"], "opennmt", LANGUAGES)
    with pytest.raises(ValueError, match="needs target_languages"):
        Seq2SeqTranslator(model_dirs["ko-en"], "marian", ["ko", "en"])


# --- LLM ------------------------------------------------------------------------------

def test_llm_prompt_and_greedy_answer_stops_at_newline(llm):
    prompt = llm.prompt("안녕하세요\n반갑습니다", "ko", "vi")
    assert "Korean" in prompt and "Vietnamese" in prompt and "안녕하세요 반갑습니다" in prompt
    assert llm.prompt_tokens("안녕하세요", "ko", "vi")[0] == "<s>"
    # The tiny model always answers "hello" and then a line break, which must end decoding.
    assert llm.translate(["안녕하세요.", "", "감사합니다."], "ko", "vi") == ["hello", "", "hello"]


def test_llm_with_tokenizer_json(model_dirs, tmp_path):
    model_dir = corrupt_copy(model_dirs["llm"], tmp_path / "llm-hf", write_tokenizer_json)
    options = LLMOptions(device="cpu", max_new_tokens=8, prompt_template="{source_language} {text} {target_language}")
    translator = LLMTranslator(model_dir, {"ko": "Korean", "en": "English"}, options=options)
    assert "▁hello" in translator.prompt_tokens("hello", "en", "ko")
    assert translator.translate(["hello", "you"], "en", "ko") == ["hello", "hello"]
    assert not translator.supports("en", "vi")


CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "[INST] {{ message['content'] }} [/INST]{% else %}{{ raise_exception('user turns only') }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %} Answer:{% endif %}"
)


def test_llm_uses_the_models_chat_template_and_end_tokens(model_dirs, tmp_path):
    def add_template(model_dir):
        vocabulary = json.loads((model_dir / "vocabulary.json").read_text())
        (model_dir / "tokenizer_config.json").write_text(json.dumps({
            "chat_template": CHAT_TEMPLATE, "bos_token": "<s>",
            "eos_token": {"content": "</s>", "special": True}}))
        (model_dir / "generation_config.json").write_text(json.dumps({"eos_token_id": [vocabulary.index("▁help")]}))

    model_dir = corrupt_copy(model_dirs["llm"], tmp_path / "llm-chat", add_template)
    translator = LLMTranslator(model_dir, ENGLISH_NAMES, options=LLMOptions(device="cpu", max_new_tokens=8))
    assert translator.uses_chat_template
    prompt = translator.prompt("안녕하세요\n반갑습니다", "ko", "vi")
    assert prompt.startswith("<s>[INST] Translate the following Korean text into Vietnamese.")
    assert prompt.endswith("안녕하세요 반갑습니다 [/INST] Answer:") and "User:" not in prompt
    tokens = translator.prompt_tokens("안녕하세요", "ko", "vi")
    assert tokens[0] == "<s>" and tokens.count("<s>") == 1  # the template's BOS, written once, as the token
    assert {"</s>", "▁help"} <= set(translator._end_tokens)  # tokenizer_config's eos and generation_config's id
    assert translator.translate(["안녕하세요."], "ko", "vi") == ["hello"]
    # Without a template, the documented fallback prompt.
    assert not LLMTranslator(model_dirs["llm"], ENGLISH_NAMES, options=LLMOptions(device="cpu")).uses_chat_template


def test_llm_chat_template_is_sandboxed(model_dirs, tmp_path):
    from jinja2.exceptions import SecurityError

    def add_template(model_dir):
        (model_dir / "tokenizer_config.json").write_text(json.dumps(
            {"chat_template": "{{ messages.__class__.__mro__[1].__subclasses__() }}"}))

    model_dir = corrupt_copy(model_dirs["llm"], tmp_path / "llm-evil", add_template)
    translator = LLMTranslator(model_dir, ENGLISH_NAMES, options=LLMOptions(device="cpu"))
    with pytest.raises(SecurityError):
        translator.prompt("hello", "en", "ko")


def test_llm_answer_cleanup(llm):
    pieces = llm._tokenizer.pieces("Vietnamese: xin chào\nsecond line")
    assert llm.answer_text(pieces, "vi") == "xin chào"


def test_llm_takes_language_names_from_its_caller(model_dirs):
    with pytest.raises(TypeError, match="English name"):
        LLMTranslator(model_dirs["llm"], ["ko", "en"])
    named = LLMTranslator(model_dirs["llm"], {"ko": "Korean", "en": "Englisch"}, options=LLMOptions(device="cpu"))
    assert "Englisch" in named.prompt("안녕", "ko", "en") and named.languages == {"ko", "en"}


def test_llm_options_validate_template():
    with pytest.raises(ValueError):
        LLMOptions(prompt_template="Translate {txt}")
    with pytest.raises(ValueError):
        LLMOptions(prompt_template="Translate to {target_language}")


def test_llm_missing_tokenizer(model_dirs, tmp_path):
    broken = corrupt_copy(model_dirs["llm"], tmp_path / "llm", lambda d: (d / "tokenizer.model").unlink())
    with pytest.raises(ModelLoadError, match="no tokenizer found"):
        LLMTranslator(broken, ENGLISH_NAMES)


# --- phrasebook -----------------------------------------------------------------------

def write_phrasebook(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(content, encoding="utf-8")
    return directory


SMALL_BOOK = """
[category]
key = "desk"
ko = "창구"
en = "Desk"
vi = "Quầy"
es = "ignored: not a kiosk language"

[[phrase]]
key = "desk.wait"
ko = "잠시만 기다려 주세요."
en = "Please wait a moment."
vi = "Xin vui lòng chờ một chút."

[[phrase]]
key = "desk.where"
ko = "¿어디에, 있나요?"
en = "WHERE is it?"
vi = "Ở đâu?"
"""


@pytest.fixture
def small_book(tmp_path) -> Phrasebook:
    return Phrasebook.load(write_phrasebook(tmp_path / "book", {"desk.toml": SMALL_BOOK}), LANGUAGES)


@pytest.mark.parametrize(
    "text, lang",
    [
        ("잠시만 기다려 주세요.", "ko"),
        ("  잠시만   기다려\t주세요  ", "ko"),
        ("잠시만 기다려 주세요!!", "ko"),
        ("잠시만, 기다려 주세요。", "ko"),
        ("어디에 있나요", "ko"),
        ("어디에,있나요?", "ko"),
        ("where is it", "en"),
        ("Where Is It？", "en"),
        ("«where» is it¿", "en"),
        (unicodedata.normalize("NFD", "Ở đâu"), "vi"),
    ],
)
def test_phrasebook_matches_normalised_variants(small_book, text, lang):
    assert small_book.lookup(text, lang, "en" if lang != "en" else "vi") is not None


def test_phrasebook_lookup_misses_and_records(small_book):
    assert small_book.lookup("잠시만 기다려", "ko", "en") is None
    assert small_book.lookup("잠시만 기다려 주세요.", "ko", "km") is None  # category lacks km
    assert small_book.lookup("잠시만 기다려 주세요.", "ko", "en") == "Please wait a moment."
    assert small_book.languages == {"ko", "en", "vi"}  # "es" is not a kiosk language
    [category] = small_book.categories()
    assert category.id == "desk" and category.names["en"] == "Desk"
    phrase = small_book.phrases("desk")[0]
    assert phrase.id == "desk.wait" and phrase.category == "desk" and phrase.texts["vi"].startswith("Xin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        phrase.id = "other"
    with pytest.raises(TypeError):
        phrase.texts["en"] = "changed"
    with pytest.raises(KeyError):
        small_book.phrases("nope")


def test_phrases_that_read_alike_are_reported(tmp_path, caplog):
    twin = SMALL_BOOK.replace('key = "desk"', 'key = "desk2"').replace('key = "desk.', 'key = "desk2.')
    twin = twin.replace("Please wait a moment.", "One moment, please.")
    with caplog.at_level(logging.WARNING, logger="mt.phrasebook"):
        book = Phrasebook.load(write_phrasebook(tmp_path / "book", {"a.toml": SMALL_BOOK, "b.toml": twin}), LANGUAGES)
    assert book.lookup("잠시만 기다려 주세요.", "ko", "en") == "Please wait a moment."  # first file wins
    assert "desk.wait and desk2.wait read alike in ko" in caplog.text
    assert "잠시만" not in caplog.text


def test_phrasebook_languages_come_from_the_caller_or_its_files(tmp_path):
    book_dir = write_phrasebook(tmp_path / "book", {"desk.toml": SMALL_BOOK})
    with pytest.raises(PhrasebookError, match="lacks es"):  # without a list, every key is a language
        Phrasebook.load(book_dir)
    only_ko_en = Phrasebook.load(book_dir, ["ko", "en"])
    assert only_ko_en.languages == {"ko", "en"}


@pytest.mark.parametrize(
    "files, message",
    [
        ({"a.toml": SMALL_BOOK, "b.toml": SMALL_BOOK.replace('key = "desk"', 'key = "desk2"')},
         "b.toml: duplicate id 'desk.wait' (first defined in a.toml)"),
        ({"a.toml": SMALL_BOOK.replace('key = "desk.where"', 'key = "desk.wait"')},
         "a.toml: duplicate id 'desk.wait'"),
        ({"a.toml": SMALL_BOOK.replace('vi = "Ở đâu?"', "")}, "phrase 'desk.where' lacks vi"),
        ({"a.toml": SMALL_BOOK.replace('en = "WHERE is it?"', 'en = " "')}, "non-empty"),
        ({"a.toml": "[category\n"}, "a.toml: unreadable"),
        ({"a.toml": '[[phrase]]\nkey = "x"\nko = "가"\n'}, "a.toml: needs a [category] table"),
        ({"a.toml": '[category]\nid = "desk"\nko = "창구"\nid = "Meja"\n'}, "the identifier is 'key'"),
    ],
    ids=["duplicate-across-files", "duplicate-in-file", "missing-language", "blank-text", "bad-toml", "no-category",
         "id-as-identifier"],
)
def test_phrasebook_validation(tmp_path, files, message):
    with pytest.raises(PhrasebookError) as error:
        Phrasebook.load(write_phrasebook(tmp_path / "book", files), LANGUAGES)
    assert message in str(error.value)


@pytest.fixture(scope="module")
def real_book() -> Phrasebook:
    return Phrasebook.load(PHRASEBOOK_DIR)


def test_real_phrasebook_is_complete(real_book):
    phrases = [phrase for category in real_book.categories() for phrase in real_book.phrases(category.id)]
    assert len(phrases) >= 80
    assert real_book.languages == set(LANGUAGES)
    for category in real_book.categories():
        assert category.languages == set(LANGUAGES), category.id
    for phrase in phrases:
        assert set(phrase.texts) == set(LANGUAGES), phrase.id


COUNTER_PHRASES = [
    "안녕하세요, 무엇을 도와드릴까요?",
    "잠시만 기다려 주세요.",
    "신분증을 보여 주시겠어요?",
    "여기에 서명해 주세요.",
    "화장실은 어디에 있나요?",
    "번호표를 뽑고 기다려 주세요.",
    "수수료는 천 원입니다.",
    "도움이 필요하시면 말씀해 주세요.",
]


def variants(text: str) -> list[str]:
    bare = text.rstrip(".?")
    return [text, bare, f"  {bare.replace(' ', '  ')}!! ", bare.replace(",", "") + "？", f"“{bare}”。"]


@pytest.mark.parametrize("korean", COUNTER_PHRASES)
def test_counter_phrases_are_curated_in_every_language(real_book, korean):
    router = Router(real_book, [])
    for target in LANGUAGES:
        if target == "ko":
            continue
        expected = real_book.lookup(korean, "ko", target)
        assert expected, f"{korean!r} has no {target} text"
        for variant in variants(korean):
            translation = router.translate(variant, "ko", target)
            assert translation.curated and translation.engine == "phrasebook", (variant, target)
            assert translation.text == expected


def test_curated_from_other_languages_too(real_book):
    router = Router(real_book, [])
    english = real_book.lookup("안녕하세요, 무엇을 도와드릴까요?", "ko", "en")
    translation = router.translate(english.upper().replace(",", " "), "en", "ko")
    assert translation.curated and translation.text == "안녕하세요, 무엇을 도와드릴까요?"


# --- router ---------------------------------------------------------------------------

class FailingTranslator:
    """Stands in for a model that breaks at run time (the router must not crash)."""

    engine = "seq2seq"

    def __init__(self, model_id: str, results: list[str] | None = None) -> None:
        self.model_id = model_id
        self.results = results

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return True

    def translate(self, texts, source_lang, target_lang):
        if self.results is None:
            raise RuntimeError(f"failed on {texts}")
        return self.results

    def warm_up(self) -> None:
        pass


def test_router_order_phrasebook_direct_pivot_none(small_book, m2m, ko_en, en_vi, model_dirs):
    m2m_ko_en_vi = Seq2SeqTranslator(model_dirs["m2m100"], "m2m100", ["ko", "en", "vi"], options=FAST)
    router = Router(small_book, [ko_en, en_vi, m2m_ko_en_vi], languages=LANGUAGES)

    curated = router.translate("잠시만 기다려 주세요", "ko", "vi")
    assert curated == Translation("Xin vui lòng chờ một chút.", "ko", "vi", "phrasebook", curated=True)

    direct = router.translate("안녕하세요. 감사합니다.", "ko", "vi")
    assert (direct.engine, direct.model_id, direct.pivot, direct.curated) == ("seq2seq", "m2m100-tiny", None, False)
    assert direct.text == m2m_ko_en_vi.translate(["안녕하세요. 감사합니다."], "ko", "vi")[0]

    first_choice = router.translate("안녕하세요.", "ko", "en")
    assert first_choice.model_id == "opus-ko-en"

    none = router.translate("안녕하세요.", "ko", "km")
    assert none == Translation("", "ko", "km", "none", reason="no translation model installed for ko→km")
    assert not none.ok


def test_router_pivots_through_english(ko_en, en_vi):
    router = Router(None, [ko_en, en_vi], languages=LANGUAGES)
    translation = router.translate("안녕하세요. 감사합니다!", "ko", "vi")
    english = ko_en.translate(["안녕하세요. 감사합니다!"], "ko", "en")
    assert translation.engine == "seq2seq" and translation.pivot == "en"
    assert translation.model_id == "opus-ko-en+opus-en-vi"
    assert translation.text == en_vi.translate(english, "en", "vi")[0]
    no_pivot = Router(None, [ko_en, en_vi], pivot_lang=None, languages=LANGUAGES)
    assert no_pivot.translate("안녕", "ko", "vi").engine == "none"


def test_router_same_language_is_identity(small_book):
    translation = Router(small_book, [], languages=LANGUAGES).translate("  잠시만 기다려 주세요. ", "ko", "ko")
    assert translation == Translation("잠시만 기다려 주세요.", "ko", "ko", "identity")
    assert translation.ok and not translation.curated


def test_router_survives_failing_models_without_logging_text(m2m, caplog):
    secret = "제 주민등록번호는 비밀입니다"
    broken = [FailingTranslator("broken"), FailingTranslator("empty", [" "]), FailingTranslator("short", [])]
    with caplog.at_level(logging.DEBUG, logger="mt"):
        fallback = Router(None, [*broken, m2m], languages=LANGUAGES).translate(secret, "ko", "en")
        failed = Router(None, broken, languages=LANGUAGES).translate(secret, "ko", "en")
    assert fallback.engine == "seq2seq" and fallback.model_id == "m2m100-tiny" and fallback.text
    assert failed.engine == "none" and failed.text == ""
    assert failed.reason == (
        "translation failed: broken failed (RuntimeError); empty returned an empty translation; "
        "short failed (ValueError)"
    )
    assert "RuntimeError" in caplog.text
    assert secret not in caplog.text and secret not in failed.reason


def test_router_translate_many_mixes_phrasebook_and_model(small_book, m2m, llm):
    router = Router(small_book, [m2m], languages=LANGUAGES)
    texts = ["잠시만 기다려 주세요.", "안녕하세요.", "어디에 있나요?", "감사합니다."]
    results = router.translate_many(texts, "ko", "en")
    assert [r.engine for r in results] == ["phrasebook", "seq2seq", "phrasebook", "seq2seq"]
    assert [r.text for r in results[1::2]] == m2m.translate(texts[1::2], "ko", "en")
    assert Router(None, [llm], languages=LANGUAGES).translate("안녕하세요.", "ko", "vi") == Translation(
        "hello", "ko", "vi", "llm", model_id="llm-tiny"
    )


@pytest.mark.parametrize(
    "text, source, target",
    [("", "ko", "en"), ("   \n", "ko", "en"), ("안녕", "kr", "en"), ("안녕", "ko", "EN"), ("안녕", "ko", "fr")],
)
def test_router_rejects_bad_input(text, source, target):
    with pytest.raises(InvalidInputError):
        Router(None, [], languages=LANGUAGES).translate(text, source, target)


def test_router_languages_come_from_the_caller_or_the_phrasebook(small_book, real_book):
    with pytest.raises(ValueError, match="needs the languages"):
        Router(None, [])
    assert Router(small_book, []).languages == {"ko", "en", "vi"}
    assert Router(real_book, []).languages == set(catalog.LANGUAGE_CODES)
