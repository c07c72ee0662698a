"""Tiny CTranslate2 models with random weights and real sentencepiece tokenizers, for tests.

They do not translate: greedy decoding gives deterministic noise made of real vocabulary
pieces, which is what the loading, tokenising, batching and decoding code needs.
The language tokens are written here independently of ``mt.seq2seq`` on purpose.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import sentencepiece
import tokenizers
from ctranslate2.specs import TransformerDecoderModelSpec, TransformerSpec, model_spec

from kiosk.store import catalog

# The kiosk's languages (assets/languages.toml, through the catalogue).
LANGUAGES = catalog.LANGUAGE_CODES
FAMILY_TOKENS = {
    "m2m100": [f"__{lang}__" for lang in LANGUAGES],
    "nllb": ["kor_Hang", "eng_Latn", "zho_Hans", "vie_Latn", "tha_Thai", "rus_Cyrl", "jpn_Jpan",
             "uzn_Latn", "khk_Cyrl", "npi_Deva", "khm_Khmr", "ind_Latn", "tgl_Latn"],
}
WORDS = {
    "ko": "안녕하세요 감사합니다 서류 번호 여기 기다려 주세요 도와 드릴까요 신분증".split(),
    "en": "hello thank you please wait here number form help sign card".split(),
    "vi": "xin chào cảm ơn vui lòng chờ đây số giấy tờ ký tên".split(),
    "zh": "你好 谢谢 请 等 这里 号码 表格 帮助".split(),
    "th": "สวัสดี ขอบคุณ กรุณา รอ ที่นี่ หมายเลข".split(),
}
SPECIAL = ("<unk>", "<s>", "</s>")


def sentences(langs: tuple[str, ...], count: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [word for lang in langs for word in WORDS[lang]]
    return [" ".join(rng.choices(words, k=rng.randint(2, 7))) + rng.choice(".!?") for _ in range(count)]


def train_sentencepiece(path: Path, corpus: list[str], symbols=(), vocab_size=150, **extra) -> list[str]:
    """Train a sentencepiece model into ``path``; return its pieces in id order."""
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocab_size, hard_vocab_limit=False,
        user_defined_symbols=list(symbols), character_coverage=1.0, minloglevel=2, **extra,
    )
    path.write_bytes(model.getvalue())
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _fill_weights(spec, source_vocabulary, target_vocabulary, bias: dict[str, float], d=16, ff=32, seed=0):
    """Random weights for every unset variable; ``bias`` steers the output projection."""
    rng = np.random.default_rng(seed)
    shapes = {"self_attention/linear_0": (3 * d, d), "self_attention/linear_1": (d, d),
              "/attention/linear_0": (d, d), "/attention/linear_1": (2 * d, d), "/attention/linear_2": (d, d),
              "ffn/linear_0": (ff, d), "ffn/linear_1": (d, ff), "encoder/embeddings_0": (len(source_vocabulary), d),
              "decoder/embeddings": (len(target_vocabulary), d), "decoder/projection": (len(target_vocabulary), d)}

    def fill(layer, name, value):
        if value is None:
            scope, attr = name.rsplit("/", 1)
            if attr in ("gamma", "beta"):
                value = np.ones(d) if attr == "gamma" else np.zeros(d)
            else:
                value = rng.normal(0, 1, next(shape for key, shape in shapes.items() if scope.endswith(key)))
            setattr(layer, attr, value.astype(np.float32))

    model_spec.visit_spec(spec, fill)
    spec.decoder.projection.bias = np.array([bias.get(t, 0.0) for t in target_vocabulary], np.float32)


def build_seq2seq(model_dir: Path, family: str, seed: int = 0) -> Path:
    """An m2m100- or nllb-style model: one shared sentencepiece model and vocabulary."""
    model_dir.mkdir(parents=True)
    tokens = FAMILY_TOKENS[family]
    vocabulary = train_sentencepiece(model_dir / "sentencepiece.bpe.model", sentences(tuple(WORDS)), tokens)
    spec = TransformerSpec.from_config(1, 2)
    _fill_weights(spec, vocabulary, vocabulary, bias={t: -1e4 for t in (*SPECIAL[:2], *tokens)}, seed=seed)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.config.decoder_start_token = "</s>"  # as the Transformers converter sets it for both
    spec.validate()
    spec.save(str(model_dir))
    return model_dir


def build_marian(model_dir: Path, source_lang: str, target_lang: str, target_tokens=(), seed: int = 0) -> Path:
    """An OPUS-MT-style model: source.spm/target.spm, separate vocabularies, implicit </s>.

    ``target_tokens`` (e.g. ``(">>vie<<",)``) make it a multi-target model.
    """
    model_dir.mkdir(parents=True)
    source = train_sentencepiece(model_dir / "source.spm", sentences((source_lang,), seed=1), target_tokens, 60)
    target = train_sentencepiece(model_dir / "target.spm", sentences((target_lang,), seed=2), (), 60)
    spec = TransformerSpec.from_config(1, 2)
    _fill_weights(spec, source, target, bias={t: -1e4 for t in SPECIAL[:2]}, seed=seed)
    spec.register_source_vocabulary(source)
    spec.register_target_vocabulary(target)
    spec.config.add_source_eos = True  # as the Marian converter sets it
    spec.config.decoder_start_token = "</s>"
    spec.validate()
    spec.save(str(model_dir))
    return model_dir


def build_llm(model_dir: Path) -> Path:
    """A decoder-only model with a byte-fallback tokenizer that answers "hello", then a line break."""
    model_dir.mkdir(parents=True)
    vocabulary = train_sentencepiece(
        model_dir / "tokenizer.model", sentences(tuple(WORDS)), vocab_size=400, byte_fallback=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
    )
    spec = TransformerDecoderModelSpec.from_config(1, 2)
    _fill_weights(spec, vocabulary, vocabulary, bias={"<0x0A>": 50.0, "▁hello": 40.0})
    spec.register_vocabulary(vocabulary)
    spec.validate()
    spec.save(str(model_dir))
    return model_dir


def write_tokenizer_json(model_dir: Path) -> None:
    """Swap the LLM's sentencepiece model for an equivalent ``tokenizer.json`` (Llama-style decoder)."""
    vocabulary = json.loads((model_dir / "vocabulary.json").read_text(encoding="utf-8"))
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(
        {piece: i for i, piece in enumerate(vocabulary)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Metaspace()
    tokenizer.decoder = tokenizers.decoders.Sequence([
        tokenizers.decoders.Replace("▁", " "), tokenizers.decoders.ByteFallback(),
        tokenizers.decoders.Fuse(), tokenizers.decoders.Strip(" ", 1, 0)])
    tokenizer.save(str(model_dir / "tokenizer.json"))
    (model_dir / "tokenizer.model").unlink()


def build_argos_package(package_dir: Path, source_lang: str, target_lang: str, seed: int = 0) -> Path:
    """The inside of an Argos Translate package: ``model/`` (CTranslate2, one shared vocabulary),
    ``sentencepiece.model`` and ``metadata.json``, as OpenNMT-py models converted for Argos are laid out."""
    (package_dir / "model").mkdir(parents=True)
    vocabulary = train_sentencepiece(package_dir / "sentencepiece.model", sentences((source_lang, target_lang)), (), 80)
    spec = TransformerSpec.from_config(1, 2)
    _fill_weights(spec, vocabulary, vocabulary, bias={t: -1e4 for t in SPECIAL[:2]}, seed=seed)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.save(str(package_dir / "model"))
    metadata = {"package_version": "1.9", "argos_version": "1.0", "from_code": source_lang, "from_name": source_lang,
                "to_code": target_lang, "to_name": target_lang}
    (package_dir / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    return package_dir
