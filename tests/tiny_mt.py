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
# Used only by models built for these languages by name (the shared corpus above stays as it is).
MORE_WORDS = {
    "ru": "здравствуйте спасибо пожалуйста подождите здесь номер бланк".split(),
}
SPECIAL = ("<unk>", "<s>", "</s>")


def sentences(langs: tuple[str, ...], count: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [word for lang in langs for word in {**WORDS, **MORE_WORDS}[lang]]
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


def build_seq2seq(model_dir: Path, family: str, seed: int = 0, favour: str | None = None) -> Path:
    """An m2m100- or nllb-style model: one shared sentencepiece model and vocabulary.

    ``favour`` adds a piece the model then writes again and again.
    """
    model_dir.mkdir(parents=True)
    tokens = FAMILY_TOKENS[family]
    symbols = (*tokens, favour) if favour else tokens
    vocabulary = train_sentencepiece(model_dir / "sentencepiece.bpe.model", sentences(tuple(WORDS)), symbols)
    spec = TransformerSpec.from_config(1, 2)
    bias = {t: -1e4 for t in (*SPECIAL[:2], *tokens)} | ({favour: 50.0} if favour else {})
    _fill_weights(spec, vocabulary, vocabulary, bias=bias, seed=seed)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.config.decoder_start_token = "</s>"  # as the Transformers converter sets it for both
    spec.validate()
    spec.save(str(model_dir))
    return model_dir


def build_marian(model_dir: Path, source_lang: str, target_lang: str, target_tokens=(), seed: int = 0,
                 converter: str = "transformers") -> Path:
    """An OPUS-MT-style model with source.spm and target.spm.

    ``converter="transformers"`` writes what CTranslate2's ``TransformersConverter`` writes for a
    Hugging Face OPUS-MT checkpoint (and what gaudi/opus-mt-*-ctranslate2 hold): one shared
    vocabulary (Marian's joint ``vocab.json``, ``</s>`` and ``<unk>`` first, ``<pad>`` dropped),
    ``add_source_eos`` false (the caller appends ``</s>``), decoder start ``</s>`` from a zero
    embedding. ``converter="marian"`` writes what ``MarianConverter`` writes for a native Marian
    model: separate vocabularies and ``add_source_eos`` true.
    ``target_tokens`` (e.g. ``(">>vie<<",)``) make it a multi-target model.
    """
    model_dir.mkdir(parents=True)
    source = train_sentencepiece(model_dir / "source.spm", sentences((source_lang,), seed=1), target_tokens, 60)
    target = train_sentencepiece(model_dir / "target.spm", sentences((target_lang,), seed=2), (), 60)
    spec = TransformerSpec.from_config(1, 2)
    if converter == "transformers":
        shared = ["</s>", "<unk>", *dict.fromkeys(p for p in (*source, *target) if p not in ("</s>", "<unk>"))]
        unwritten = ("<unk>", "<s>", *target_tokens, *(set(source) - set(target)))
        _fill_weights(spec, shared, shared, bias={t: -1e4 for t in unwritten}, seed=seed)
        spec.register_source_vocabulary(shared)
        spec.register_target_vocabulary(shared)
        spec.decoder.start_from_zero_embedding = True
    elif converter == "marian":
        _fill_weights(spec, source, target, bias={t: -1e4 for t in SPECIAL[:2]}, seed=seed)
        spec.register_source_vocabulary(source)
        spec.register_target_vocabulary(target)
        spec.config.add_source_eos = True  # as the Marian converter sets it
    else:
        raise ValueError(f"unknown converter {converter!r}")
    spec.config.decoder_start_token = "</s>"
    spec.validate()
    spec.save(str(model_dir))
    return model_dir


def sentencepiece_tokenizer_json(spm_path: Path, json_path: Path, special=()) -> None:
    """The ``tokenizer.json`` equivalent of a sentencepiece unigram model (as NLLB's repositories ship one)."""
    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm_path))
    pieces = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    tokenizer = tokenizers.Tokenizer(tokenizers.models.Unigram(pieces, unk_id=processor.unk_id()))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Metaspace()
    tokenizer.decoder = tokenizers.decoders.Metaspace()
    tokenizer.add_special_tokens([*SPECIAL, *special])
    tokenizer.save(str(json_path))


def _vocabulary_as_txt(model_dir: Path, name: str = "shared_vocabulary") -> None:
    tokens = json.loads((model_dir / f"{name}.json").read_text(encoding="utf-8"))
    (model_dir / f"{name}.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    (model_dir / f"{name}.json").unlink()


# The pre-converted repositories the catalogue pulls from, and the tiny model laid out as each lays its files out.
REPO_LAYOUTS = {
    "jncraton/m2m100_418M-ct2-int8": "m2m100 sentencepiece.bpe.model + shared_vocabulary.json (+ vocab.json)",
    "jncraton/m2m100_1.2B-ct2-int8": "m2m100 sentencepiece.bpe.model + shared_vocabulary.json (+ vocab.json)",
    "JustFrederik/m2m_100_418m_ct2_int8": "m2m100 spm.128k.model + shared_vocabulary.txt (Fairseq conversion)",
    "JustFrederik/nllb-200-distilled-600M-ct2-int8": "nllb sentencepiece.bpe.model + shared_vocabulary.txt",
    "OpenNMT/nllb-200-distilled-1.3B-ct2-int8": "nllb tokenizer.json only + shared_vocabulary.txt",
    "gaudi/opus-mt-{pair}-ctranslate2": "marian source.spm + target.spm + shared_vocabulary.json",
}


def build_repo_layout(model_dir: Path, repo: str, languages: tuple[str, str] | None = None, seed: int = 0) -> Path:
    """A tiny model whose files are named and shaped as in the Hugging Face repository ``repo``."""
    if repo.startswith("jncraton/m2m100"):
        build_seq2seq(model_dir, "m2m100", seed=seed)
        vocabulary = json.loads((model_dir / "shared_vocabulary.json").read_text(encoding="utf-8"))
        (model_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocabulary)}), encoding="utf-8")
    elif repo == "JustFrederik/m2m_100_418m_ct2_int8":
        build_seq2seq(model_dir, "m2m100", seed=seed)
        (model_dir / "sentencepiece.bpe.model").rename(model_dir / "spm.128k.model")
        _vocabulary_as_txt(model_dir)
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        config["add_source_eos"] = True  # what CTranslate2's Fairseq converter sets
        (model_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    elif repo == "JustFrederik/nllb-200-distilled-600M-ct2-int8":
        build_seq2seq(model_dir, "nllb", seed=seed)
        _vocabulary_as_txt(model_dir)
    elif repo == "OpenNMT/nllb-200-distilled-1.3B-ct2-int8":
        build_seq2seq(model_dir, "nllb", seed=seed)
        sentencepiece_tokenizer_json(model_dir / "sentencepiece.bpe.model", model_dir / "tokenizer.json",
                                     FAMILY_TOKENS["nllb"])
        (model_dir / "sentencepiece.bpe.model").unlink()
        _vocabulary_as_txt(model_dir)
    elif repo.startswith("gaudi/opus-mt-"):
        source_lang, target_lang = languages
        # Multi-target OPUS-MT models (en-zh) carry their >>xxx<< tokens.
        build_marian(model_dir, source_lang, target_lang, (">>cmn_Hans<<", ">>cmn_Hant<<") if target_lang == "zh" else (),
                     seed=seed)
    else:
        raise ValueError(f"no layout for {repo}")
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


def build_argos_package(package_dir: Path, source_lang: str, target_lang: str, seed: int = 0,
                        target_prefix: str = "", **metadata_extra) -> Path:
    """The inside of an Argos Translate package: ``model/`` (CTranslate2, one shared vocabulary),
    ``sentencepiece.model`` and ``metadata.json``, as OpenNMT-py models converted for Argos are laid out.
    ``target_prefix`` (a vocabulary token) and ``metadata_extra`` (``from_codes``...) go into metadata.json."""
    (package_dir / "model").mkdir(parents=True)
    symbols = (target_prefix,) if target_prefix else ()
    vocabulary = train_sentencepiece(package_dir / "sentencepiece.model", sentences((source_lang, target_lang)), symbols, 80)
    spec = TransformerSpec.from_config(1, 2)
    _fill_weights(spec, vocabulary, vocabulary, bias={t: -1e4 for t in SPECIAL[:2]}, seed=seed)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.save(str(package_dir / "model"))
    metadata = {"package_version": "1.9", "argos_version": "1.0", "from_code": source_lang, "from_name": source_lang,
                "to_code": target_lang, "to_name": target_lang, **metadata_extra}
    if target_prefix:
        metadata["target_prefix"] = target_prefix
    (package_dir / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    return package_dir
