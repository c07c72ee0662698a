"""An instruction-tuned LLM, converted to CTranslate2, prompted to translate.

Decoding is greedy and stops at the model's end token or at a line break; the prompt
is not part of the result, and a leading "<target language>:" label the model may
repeat from the prompt is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import ctranslate2
import tokenizers

from . import Engine, ModelLoadError, UnsupportedPairError
from .seq2seq import (
    RuntimeOptions,
    SentencePieceTokenizer,
    check_model_dir,
    find_model_file,
    open_ctranslate2,
    read_model_config,
    read_vocabulary,
)

DEFAULT_PROMPT_TEMPLATE = (
    "User: Translate the following {source_language} text into {target_language}. "
    "Reply with the translation only.\n"
    "{source_language}: {text}\n"
    "Assistant: {target_language}:"
)

TOKENIZER_NAMES = ("tokenizer.json", "tokenizer.model", "sentencepiece.model", "spm.model")


@dataclass(frozen=True)
class LLMOptions(RuntimeOptions):
    """Prompt and decoding options.

    ``prompt_template`` is a ``str.format`` template with ``{source_language}``,
    ``{target_language}`` (English names) and ``{text}``; use the model's own chat
    markup here when it has one. ``end_tokens`` adds turn-ending tokens such as
    ``"<|im_end|>"`` to the model's end-of-sequence token.
    """

    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    max_new_tokens: int = 256
    max_batch_size: int = 8
    repetition_penalty: float = 1.0
    stop_at_newline: bool = True
    end_tokens: tuple[str, ...] = ()
    add_bos: bool = True
    tokenizer: str | Path | None = None

    def __post_init__(self) -> None:
        try:
            self.prompt_template.format(source_language="", target_language="", text="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"prompt_template is not a valid template ({exc!r})") from exc
        if "{text}" not in self.prompt_template:
            raise ValueError("prompt_template must contain {text}")
        if self.max_new_tokens < 1 or self.max_batch_size < 1:
            raise ValueError("max_new_tokens and max_batch_size must be at least 1")


class _Tokenizer(Protocol):
    def pieces(self, text: str, add_bos: bool = False) -> list[str]: ...
    def text(self, pieces: Sequence[str]) -> str: ...
    def newline_pieces(self) -> list[str]: ...


class HuggingFaceTokenizer:
    """A ``tokenizer.json`` read with the ``tokenizers`` package."""

    def __init__(self, model_dir: Path, path: Path) -> None:
        try:
            self._tokenizer = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed files
            raise ModelLoadError(model_dir, f"the tokenizer {path.name} is unreadable ({exc})") from exc

    def pieces(self, text: str, add_bos: bool = False) -> list[str]:
        # The tokenizer's own post-processor knows whether (and which) BOS the model expects.
        return self._tokenizer.encode(text, add_special_tokens=add_bos).tokens

    def text(self, pieces: Sequence[str]) -> str:
        ids = [self._tokenizer.token_to_id(piece) for piece in pieces]
        return self._tokenizer.decode([i for i in ids if i is not None])

    def newline_pieces(self) -> list[str]:
        """Tokens whose text contains a line break (decoding stops on them)."""
        vocabulary = self._tokenizer.get_vocab()
        texts = self._tokenizer.decode_batch([[i] for i in vocabulary.values()])
        return [token for token, text in zip(vocabulary, texts) if "\n" in text]


class LLMTranslator:
    """Translation by prompting a CTranslate2 ``Generator``, for the declared ``languages``.

    ``languages`` maps each declared code to its English name: prompts name languages in
    English, the language instruction models follow best. The caller owns those names
    (the kiosk's are in assets/languages.toml).
    """

    engine: Engine = "llm"

    def __init__(
        self,
        model_dir: str | Path,
        languages: Mapping[str, str],
        *,
        model_id: str | None = None,
        options: LLMOptions | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.model_id = model_id or self.model_dir.name
        self.options = options or LLMOptions()
        if not isinstance(languages, Mapping):
            raise TypeError("languages must map each language code to its English name")
        self._names = {code: name for code, name in languages.items() if name}
        self.languages = frozenset(self._names)

        check_model_dir(self.model_dir)
        if len(self.languages) < 2:
            raise ModelLoadError(self.model_dir, f"it is declared for too few known languages ({sorted(languages)})")
        config = read_model_config(self.model_dir)
        vocabulary = set(read_vocabulary(self.model_dir, ("vocabulary",)))
        tokenizer_path = find_model_file(self.model_dir, self.options.tokenizer, TOKENIZER_NAMES, "tokenizer")
        self._tokenizer: _Tokenizer = (
            HuggingFaceTokenizer(self.model_dir, tokenizer_path)
            if tokenizer_path.suffix == ".json"
            else SentencePieceTokenizer(self.model_dir, tokenizer_path)
        )
        eos = config.get("eos_token", "</s>")
        end_tokens = [*([eos] if isinstance(eos, str) else eos), *self.options.end_tokens]
        if self.options.stop_at_newline:
            end_tokens += self._tokenizer.newline_pieces()
        self._end_tokens = [token for token in dict.fromkeys(end_tokens) if token in vocabulary]
        self._generator = open_ctranslate2(ctranslate2.Generator, self.model_dir, self.options)

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return source_lang != target_lang and source_lang in self.languages and target_lang in self.languages

    def prompt(self, text: str, source_lang: str, target_lang: str) -> str:
        # One line of input, since the answer is read up to the first line break.
        return self.options.prompt_template.format(
            source_language=self._names[source_lang],
            target_language=self._names[target_lang],
            text=" ".join(text.split()),
        )

    def prompt_tokens(self, text: str, source_lang: str, target_lang: str) -> list[str]:
        return self._tokenizer.pieces(self.prompt(text, source_lang, target_lang), add_bos=self.options.add_bos)

    def answer_text(self, tokens: Sequence[str], target_lang: str) -> str:
        """The translation in generated tokens: first line, without a repeated language label."""
        answer = self._tokenizer.text(tokens).strip()
        if self.options.stop_at_newline:
            answer = answer.split("\n", 1)[0].strip()
        label = f"{self._names[target_lang]}:"
        if answer.casefold().startswith(label.casefold()):
            answer = answer[len(label):].strip()
        return answer

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        if not self.supports(source_lang, target_lang):
            raise UnsupportedPairError(f"model {self.model_id} does not cover {source_lang}→{target_lang}")
        nonblank = [i for i, text in enumerate(texts) if text.strip()]
        if not nonblank:
            return ["" for _ in texts]
        results = self._generator.generate_batch(
            [self.prompt_tokens(texts[i], source_lang, target_lang) for i in nonblank],
            max_batch_size=self.options.max_batch_size,
            max_length=self.options.max_new_tokens,
            # At least one token, so an answer cannot end before it starts.
            min_length=1,
            beam_size=1,
            sampling_topk=1,
            repetition_penalty=self.options.repetition_penalty,
            end_token=self._end_tokens or None,
            include_prompt_in_result=False,
        )
        answers = dict(zip(nonblank, (self.answer_text(r.sequences[0], target_lang) for r in results)))
        return [answers.get(i, "") for i in range(len(texts))]

    def warm_up(self) -> None:
        source_lang, target_lang = min((s, t) for s in self.languages for t in self.languages if s != t)
        self.translate(["Hello."], source_lang, target_lang)
