"""CTranslate2 sequence-to-sequence translation: M2M-100, NLLB-200 and OPUS-MT (Marian).

The engine-specific language codes of these model families live here and nowhere else.
Token conventions follow the CTranslate2 guide for converted Transformers models: the
source is ``[language token] + pieces + ["</s>"]`` and the target language token is
forced as the first decoded token, then removed from the output. A model whose
``config.json`` sets ``add_source_eos`` (Marian and Fairseq conversions) gets no explicit
``</s>``. An Argos Translate package (its ``metadata.json`` kept beside the model) is fed as
argostranslate/translate.py feeds it: sentencepiece pieces only, and its ``target_prefix``
forced, then removed.

Tokenizer layouts accepted (the pre-converted repositories use all of them):
``source.spm`` + ``target.spm``; one shared ``sentencepiece.bpe.model``, ``spm.128k.model``,
``spm.model`` or ``sentencepiece.model``; or ``tokenizer.json`` alone. Vocabularies are
``shared_vocabulary`` or ``source_vocabulary`` + ``target_vocabulary``, as ``.json`` or ``.txt``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Literal, Sequence

import ctranslate2
import sentencepiece
import tokenizers

from text.sentences import split_sentences

from . import Engine, ModelLoadError, UnsupportedPairError

Family = Literal["m2m100", "nllb", "marian"]
FAMILIES: tuple[Family, ...] = ("m2m100", "nllb", "marian")

# Each family's codes for the kiosk's languages (tests/test_mt.py checks them against the catalogue).
M2M100_TOKENS: dict[str, str] = {
    lang: f"__{lang}__" for lang in ("ko", "en", "zh", "vi", "th", "ru", "ja", "uz", "mn", "ne", "km", "id", "tl")
}

NLLB_TOKENS: dict[str, str] = {
    "ko": "kor_Hang", "en": "eng_Latn", "zh": "zho_Hans", "vi": "vie_Latn",
    "th": "tha_Thai", "ru": "rus_Cyrl", "ja": "jpn_Jpan", "uz": "uzn_Latn",
    "mn": "khk_Cyrl", "ne": "npi_Deva", "km": "khm_Khmr", "id": "ind_Latn",
    "tl": "tgl_Latn",
}

# Multi-target OPUS-MT models choose the output language with a ">>xxx<<" source token.
# Model releases differ in the code they use. At load time every ">>xxx<<" token of the model's
# own vocabulary is read and mapped to a language (``opus_target_tokens``); this table only
# orders the preferred ones first (e.g. Simplified before any other Chinese token).
OPUS_TARGET_TOKENS: dict[str, tuple[str, ...]] = {
    "ko": (">>kor<<",), "en": (">>eng<<",),
    "zh": (">>cmn_Hans<<", ">>zho_Hans<<", ">>cmn<<", ">>zho<<"),
    "vi": (">>vie<<",), "th": (">>tha<<",), "ru": (">>rus<<",), "ja": (">>jpn<<",),
    "uz": (">>uzb_Latn<<", ">>uzn_Latn<<", ">>uzb<<", ">>uzn<<"),
    "mn": (">>khk<<", ">>mon<<", ">>khk_Cyrl<<"),
    "ne": (">>npi<<", ">>nep<<"), "km": (">>khm<<",), "id": (">>ind<<",),
    "tl": (">>tgl<<", ">>tgl_Latn<<", ">>fil<<"),
}
_OPUS_TOKEN = re.compile(r">>(\w+)<<")
# ISO 639-3 (and macrolanguage member) codes OPUS-MT uses, to ISO 639-1.
ISO_639_3: dict[str, str] = {
    "kor": "ko", "eng": "en", "zho": "zh", "cmn": "zh", "vie": "vi", "tha": "th", "rus": "ru", "jpn": "ja",
    "uzb": "uz", "uzn": "uz", "mon": "mn", "khk": "mn", "nep": "ne", "npi": "ne", "khm": "km", "ind": "id",
    "tgl": "tl", "fil": "tl",
}
# The script the kiosk writes each language in; a token naming another script is not that language's.
OPUS_SCRIPTS: dict[str, str] = {"zh": "Hans", "uz": "Latn", "mn": "Cyrl", "tl": "Latn", "ko": "Hang", "ja": "Jpan"}

# Languages written without spaces between sentences; all others get one space.
_UNSPACED_SENTENCE_LANGUAGES = frozenset({"zh", "ja"})

_CONTROL_TOKENS = frozenset({"<s>", "</s>", "<pad>", "<unk>"})
SHARED_SENTENCEPIECE_NAMES = ("sentencepiece.bpe.model", "spm.128k.model", "spm.model", "sentencepiece.model")
SOURCE_TOKENIZER_NAMES = ("source.spm", *SHARED_SENTENCEPIECE_NAMES, "tokenizer.json")
TARGET_TOKENIZER_NAMES = ("target.spm", *SHARED_SENTENCEPIECE_NAMES, "tokenizer.json")
ARGOS_METADATA = "metadata.json"


def opus_target_tokens(vocabulary: Collection[str], languages: Collection[str] = ()) -> dict[str, str]:
    """Each language's ">>xxx<<" target token, read from the model's own vocabulary.

    A token counts for a language when its code is the language's ISO 639-1 code (in
    ``languages``) or an ISO 639-3 code of it, and it names no script or the language's
    script. Of several, the ``OPUS_TARGET_TOKENS`` preference comes first, then tokens
    without a script, then the rest in vocabulary order.
    """
    found: dict[str, list[str]] = {}
    for token in vocabulary:
        match = _OPUS_TOKEN.fullmatch(token)
        if not match:
            continue
        code, _, script = match.group(1).partition("_")
        lang = code if code in languages else ISO_639_3.get(code)
        if lang is None or (script and script != OPUS_SCRIPTS.get(lang, script)):
            continue
        found.setdefault(lang, []).append(token)
    tokens = {}
    for lang, candidates in found.items():
        preferred = OPUS_TARGET_TOKENS.get(lang, ())
        candidates.sort(key=lambda t: (preferred.index(t) if t in preferred else len(preferred), "_" in t))
        tokens[lang] = candidates[0]
    return tokens

def join_sentences(sentences: Sequence[str], language: str) -> str:
    separator = "" if language in _UNSPACED_SENTENCE_LANGUAGES else " "
    return separator.join(sentence for sentence in sentences if sentence)


@dataclass(frozen=True)
class RuntimeOptions:
    """Where and how a CTranslate2 model runs (shared by every CTranslate2 engine)."""

    device: str = "auto"
    device_index: int = 0
    compute_type: str = "int8"
    intra_threads: int = 0  # 0: CTranslate2 picks
    inter_threads: int = 1


@dataclass(frozen=True)
class Seq2SeqOptions(RuntimeOptions):
    """Decoding options, in the style of faster-whisper's ``TranscriptionOptions``.

    ``source_sentencepiece`` / ``target_sentencepiece`` name tokenizer files explicitly
    (relative to the model directory or absolute); otherwise the usual names are searched.
    """

    beam_size: int = 2
    max_batch_size: int = 32
    max_input_length: int = 1024
    max_decoding_length: int = 256
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    disable_unk: bool = True
    # Restrict each step's output to the candidates of the model's vmap.txt (CTranslate2's dynamic
    # vocabulary reduction); without that file it changes nothing.
    use_vmap: bool = False
    source_sentencepiece: str | Path | None = None
    target_sentencepiece: str | Path | None = None

    def __post_init__(self) -> None:
        for name in ("beam_size", "max_batch_size", "max_decoding_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


class SentencePieceTokenizer:
    """A sentencepiece model that turns text into pieces and back."""

    def __init__(self, model_dir: Path, path: Path) -> None:
        self.path = path
        self._processor = sentencepiece.SentencePieceProcessor()
        try:
            self._processor.load(str(path))
        except (OSError, RuntimeError) as exc:
            raise ModelLoadError(model_dir, f"the sentencepiece model {path.name} is unreadable ({exc})") from exc

    def pieces(self, text: str, add_bos: bool = False) -> list[str]:
        return self._processor.encode(text, out_type=str, add_bos=add_bos)

    def text(self, pieces: Sequence[str]) -> str:
        return self._processor.decode(list(pieces))

    def newline_pieces(self) -> list[str]:
        """Pieces whose text contains a line break (LLMs stop on them)."""
        ids = list(range(self._processor.get_piece_size()))
        texts = self._processor.decode([[i] for i in ids])
        return [self._processor.id_to_piece(i) for i, text in zip(ids, texts) if "\n" in text]


class HuggingFaceTokenizer:
    """A ``tokenizer.json`` read with the ``tokenizers`` package (no transformers, no torch)."""

    def __init__(self, model_dir: Path, path: Path) -> None:
        self.path = path
        try:
            self._tokenizer = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed files
            raise ModelLoadError(model_dir, f"the tokenizer {path.name} is unreadable ({exc})") from exc

    def pieces(self, text: str, add_bos: bool = False) -> list[str]:
        # The tokenizer's own post-processor knows whether (and which) special tokens the model expects;
        # seq2seq callers add language tokens and </s> themselves.
        return self._tokenizer.encode(text, add_special_tokens=add_bos).tokens

    def text(self, pieces: Sequence[str]) -> str:
        ids = [self._tokenizer.token_to_id(piece) for piece in pieces]
        return self._tokenizer.decode([i for i in ids if i is not None])

    def newline_pieces(self) -> list[str]:
        """Tokens whose text contains a line break (decoding stops on them)."""
        vocabulary = self._tokenizer.get_vocab()
        texts = self._tokenizer.decode_batch([[i] for i in vocabulary.values()])
        return [token for token, text in zip(vocabulary, texts) if "\n" in text]


def load_tokenizer(model_dir: Path, path: Path) -> SentencePieceTokenizer | HuggingFaceTokenizer:
    """A ``tokenizer.json`` or a sentencepiece model, by its file name."""
    if path.suffix == ".json":
        return HuggingFaceTokenizer(model_dir, path)
    return SentencePieceTokenizer(model_dir, path)


def find_model_file(model_dir: Path, explicit: str | Path | None, candidates: Sequence[str], what: str) -> Path:
    """The explicit file if given, else the first candidate name present in the model dir."""
    paths = [model_dir / explicit] if explicit is not None else [model_dir / name for name in candidates]
    for path in paths:
        if path.is_file():
            return path
    raise ModelLoadError(model_dir, f"no {what} found (looked for {', '.join(p.name for p in paths)})")


def check_model_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise ModelLoadError(model_dir, "the directory does not exist")
    if not (model_dir / "model.bin").is_file():
        raise ModelLoadError(model_dir, "model.bin is missing")


def read_model_config(model_dir: Path, name: str = "config.json") -> dict:
    path = model_dir / name
    if not path.is_file():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(model_dir, f"{name} is unreadable ({exc})") from exc
    if not isinstance(content, dict):
        raise ModelLoadError(model_dir, f"{name} is not a JSON object")
    return content


def argos_codes(metadata: dict, side: str) -> list[str]:
    """An Argos package's ``from``/``to`` codes: ``<side>_code`` and the ``<side>_codes`` list."""
    codes = [metadata.get(f"{side}_code"), *(metadata.get(f"{side}_codes") or ())]
    return [code for code in dict.fromkeys(codes) if isinstance(code, str) and code]


def read_vocabulary(model_dir: Path, names: Sequence[str]) -> list[str]:
    """The first of ``names`` (without extension) found as a CTranslate2 .json or .txt vocabulary."""
    for name in names:
        for suffix in (".json", ".txt"):
            path = model_dir / f"{name}{suffix}"
            if not path.is_file():
                continue
            try:
                content = path.read_text(encoding="utf-8")
                if suffix == ".json":
                    return json.loads(content)
                return content.removesuffix("\n").split("\n")
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelLoadError(model_dir, f"{path.name} is unreadable ({exc})") from exc
    raise ModelLoadError(model_dir, f"no vocabulary file found (looked for {', '.join(names)} as .json or .txt)")


def open_ctranslate2(model_class: type, model_dir: Path, options: RuntimeOptions):
    """Load a ``ctranslate2.Translator`` or ``ctranslate2.Generator``, or raise ModelLoadError."""
    try:
        return model_class(
            str(model_dir),
            device=options.device,
            device_index=options.device_index,
            compute_type=options.compute_type,
            intra_threads=options.intra_threads,
            inter_threads=options.inter_threads,
        )
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelLoadError(model_dir, f"CTranslate2 could not load it ({exc})") from exc


def _language_tokens(family: Family, source_vocabulary: set[str], languages: Collection[str]) -> dict[str, str]:
    """Each language's token in this model family (for OPUS-MT, as found in the vocabulary)."""
    if family == "m2m100":
        return M2M100_TOKENS
    if family == "nllb":
        return NLLB_TOKENS
    return opus_target_tokens(source_vocabulary, languages)


def _listed(tokens: Sequence[str], most: int = 20) -> str:
    shown = ", ".join(tokens[:most])
    return shown + (f" and {len(tokens) - most} more" if len(tokens) > most else "")


class Seq2SeqTranslator:
    """A CTranslate2 encoder-decoder translation model of one of the ``FAMILIES``.

    ``languages`` are the languages the model was declared to cover: its source
    languages, and its target languages too unless ``target_languages`` is given
    (required for OPUS-MT, which translates one way). Coverage is further limited to
    languages whose tokens the model's vocabulary actually holds. An Argos Translate
    package (``metadata.json`` beside the model) covers the declared languages among its
    ``from_code(s)`` as sources and its ``to_code(s)`` as targets.
    """

    engine: Engine = "seq2seq"

    def __init__(
        self,
        model_dir: str | Path,
        family: Family,
        languages: Collection[str],
        *,
        target_languages: Collection[str] | None = None,
        model_id: str | None = None,
        options: Seq2SeqOptions | None = None,
    ) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown model family {family!r} (expected one of {', '.join(FAMILIES)})")
        if family == "marian" and target_languages is None:
            # An OPUS-MT model translates one way; guessing the direction would translate backwards.
            raise ValueError("an OPUS-MT (marian) model needs target_languages: it translates one way")
        self.model_dir = Path(model_dir)
        self.family = family
        self.model_id = model_id or self.model_dir.name
        self.options = options or Seq2SeqOptions()

        check_model_dir(self.model_dir)
        config = read_model_config(self.model_dir)
        argos = read_model_config(self.model_dir, ARGOS_METADATA) if family == "marian" else {}
        source_vocabulary = set(read_vocabulary(self.model_dir, ("source_vocabulary", "shared_vocabulary")))
        target_vocabulary = set(read_vocabulary(self.model_dir, ("target_vocabulary", "shared_vocabulary")))
        self._source_tokenizer = load_tokenizer(self.model_dir, find_model_file(
            self.model_dir, self.options.source_sentencepiece, SOURCE_TOKENIZER_NAMES, "tokenizer"))
        self._target_tokenizer = load_tokenizer(self.model_dir, find_model_file(
            self.model_dir, self.options.target_sentencepiece or self.options.source_sentencepiece,
            TARGET_TOKENIZER_NAMES, "tokenizer"))
        # Models converted from Marian or Fairseq append </s> themselves; Transformers models do not;
        # Argos passes the bare pieces (argostranslate/translate.py), whatever the converter was.
        self._source_suffix = [] if config.get("add_source_eos") or argos else ["</s>"]
        prefix = argos.get("target_prefix") or ""
        self._argos_prefix = [prefix] if isinstance(prefix, str) and prefix else []

        # Multi-target OPUS-MT models have ">>xxx<<" tokens and expect one on the source side.
        opus_tokens = sorted(token for token in source_vocabulary if _OPUS_TOKEN.fullmatch(token))
        self._target_token_in_source = family == "marian" and bool(opus_tokens) and not argos
        declared = {*languages, *(target_languages or ())}
        self._language_tokens = _language_tokens(family, source_vocabulary, declared)
        sources = set(languages)
        targets = set(target_languages) if target_languages is not None else set(languages)
        if argos:
            sources = declared & set(argos_codes(argos, "from"))
            targets = declared & set(argos_codes(argos, "to"))
        elif family != "marian":
            sources = {lang for lang in sources if self._language_tokens.get(lang) in source_vocabulary}
            targets = {lang for lang in targets if self._language_tokens.get(lang) in target_vocabulary}
        elif self._target_token_in_source:
            missing = sorted(targets - self._language_tokens.keys())
            if missing:
                raise ModelLoadError(
                    self.model_dir,
                    f"its vocabulary has no target token for {', '.join(missing)} "
                    f"(it has {_listed(opus_tokens)})",
                )
        self.source_languages = frozenset(sources)
        self.target_languages = frozenset(targets)
        if not any(self.supports(s, t) for s in self.source_languages for t in self.target_languages):
            raise ModelLoadError(
                self.model_dir,
                f"its vocabulary has no {family} language tokens for the declared languages "
                f"({', '.join(sorted(declared))})" if not argos else
                f"its Argos metadata translates {argos_codes(argos, 'from')}→{argos_codes(argos, 'to')}, "
                f"not the declared languages ({', '.join(sorted(declared))})",
            )
        self._strip_tokens = _CONTROL_TOKENS | set(self._language_tokens.values()) | set(self._argos_prefix) | {
            token for token in target_vocabulary if _OPUS_TOKEN.fullmatch(token)
        }
        # M2M-100 has one "__zh__" with no script, and writes Traditional as often as Simplified;
        # the kiosk's Chinese is Simplified (as the ASR's is), so its output is converted.
        self._to_simplified = None
        if family == "m2m100" and "zh" in self.target_languages:
            import opencc

            self._to_simplified = opencc.OpenCC("t2s")
        self._translator = open_ctranslate2(ctranslate2.Translator, self.model_dir, self.options)

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return (
            source_lang != target_lang
            and source_lang in self.source_languages
            and target_lang in self.target_languages
        )

    def source_tokens(self, sentence: str, source_lang: str, target_lang: str) -> list[str]:
        """The tokens CTranslate2 receives for one source sentence."""
        pieces = self._source_tokenizer.pieces(sentence)
        if self.family != "marian":
            prefix = [self._language_tokens[source_lang]]
        else:
            prefix = [self._language_tokens[target_lang]] if self._target_token_in_source else []
        return prefix + pieces + self._source_suffix

    def target_prefix(self, target_lang: str) -> list[str] | None:
        """The tokens forced at the start of the output (the target language token, or Argos's prefix)."""
        if self.family == "marian":
            return list(self._argos_prefix) or None
        return [self._language_tokens[target_lang]]

    def output_text(self, tokens: Sequence[str], target_lang: str | None = None) -> str:
        """Decode output tokens, dropping language and control tokens (and, for M2M-100 Chinese,
        converting to Simplified)."""
        text = self._target_tokenizer.text([t for t in tokens if t not in self._strip_tokens]).strip()
        if self._to_simplified is not None and target_lang == "zh":
            text = self._to_simplified.convert(text)
        return text

    def output_token_count(self, text: str) -> int:
        """How many target-vocabulary pieces ``text`` is (for tokens-per-second figures)."""
        return len(self._target_tokenizer.pieces(text)) if text else 0

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        """Translate every sentence of every text in one batch, then rejoin per text."""
        if not self.supports(source_lang, target_lang):
            raise UnsupportedPairError(f"model {self.model_id} does not cover {source_lang}→{target_lang}")
        sentences_per_text = [split_sentences(text) for text in texts]
        sentences = [sentence for text_sentences in sentences_per_text for sentence in text_sentences]
        if not sentences:
            return ["" for _ in texts]
        prefix = self.target_prefix(target_lang)
        options = self.options
        results = self._translator.translate_batch(
            [self.source_tokens(sentence, source_lang, target_lang) for sentence in sentences],
            target_prefix=[prefix] * len(sentences) if prefix else None,
            max_batch_size=options.max_batch_size,
            beam_size=options.beam_size,
            max_input_length=options.max_input_length,
            max_decoding_length=options.max_decoding_length,
            length_penalty=options.length_penalty,
            repetition_penalty=options.repetition_penalty,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            disable_unk=options.disable_unk,
            use_vmap=options.use_vmap,
        )
        outputs = iter(self.output_text(result.hypotheses[0], target_lang) for result in results)
        return [
            join_sentences([next(outputs) for _ in text_sentences], target_lang)
            for text_sentences in sentences_per_text
        ]

    def warm_up(self) -> None:
        source_lang, target_lang = min(
            (s, t) for s in self.source_languages for t in self.target_languages if s != t
        )
        self.translate(["Hello."], source_lang, target_lang)
