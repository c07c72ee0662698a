"""An instruction-tuned LLM, converted to CTranslate2, prompted to translate.

The prompt is the model's own chat markup: the ``chat_template`` of its
``tokenizer_config.json`` (a Jinja template, rendered in jinja2's sandbox, as Transformers'
``apply_chat_template`` renders it) around one user message, with the generation prompt.
Its end tokens (``eos_token`` of ``tokenizer_config.json`` and ``config.json``, and the
``eos_token_id`` of ``generation_config.json``) end decoding. A model with no template gets
``DEFAULT_PROMPT_TEMPLATE``, a plain "User:/Assistant:" prompt, as a documented fallback;
``LLMOptions.prompt_template`` overrides both.

Decoding is greedy and stops at an end token or at a line break; the prompt is not part
of the result, and a leading "<target language>:" label the model may repeat from the
prompt is removed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import ctranslate2

from . import Engine, ModelLoadError, UnsupportedPairError
from .seq2seq import (
    HuggingFaceTokenizer,
    RuntimeOptions,
    SentencePieceTokenizer,
    check_model_dir,
    find_model_file,
    load_tokenizer,
    open_ctranslate2,
    read_model_config,
    read_vocabulary,
)

__all__ = ["DEFAULT_PROMPT_TEMPLATE", "HuggingFaceTokenizer", "LLMOptions", "LLMTranslator", "USER_MESSAGE"]

# The fallback for a model without a chat template.
DEFAULT_PROMPT_TEMPLATE = (
    "User: Translate the following {source_language} text into {target_language}. "
    "Reply with the translation only.\n"
    "{source_language}: {text}\n"
    "Assistant: {target_language}:"
)

# The user message put into a model's chat template.
USER_MESSAGE = (
    "Translate the following {source_language} text into {target_language}. "
    "Reply with the translation only.\n\n{text}"
)

TOKENIZER_NAMES = ("tokenizer.json", "tokenizer.model", "sentencepiece.model", "spm.model")


@dataclass(frozen=True)
class LLMOptions(RuntimeOptions):
    """Prompt and decoding options.

    ``prompt_template`` is a ``str.format`` template with ``{source_language}``,
    ``{target_language}`` (English names) and ``{text}``. ``None`` (the default) uses the
    model's own chat template, or ``DEFAULT_PROMPT_TEMPLATE`` when it has none.
    ``end_tokens`` adds turn-ending tokens to the model's own.
    """

    prompt_template: str | None = None
    max_new_tokens: int = 256
    max_batch_size: int = 8
    repetition_penalty: float = 1.0
    stop_at_newline: bool = True
    end_tokens: tuple[str, ...] = ()
    add_bos: bool = True
    tokenizer: str | Path | None = None

    def __post_init__(self) -> None:
        if self.prompt_template is None:
            return self._check_sizes()
        try:
            self.prompt_template.format(source_language="", target_language="", text="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"prompt_template is not a valid template ({exc!r})") from exc
        if "{text}" not in self.prompt_template:
            raise ValueError("prompt_template must contain {text}")
        self._check_sizes()

    def _check_sizes(self) -> None:
        if self.max_new_tokens < 1 or self.max_batch_size < 1:
            raise ValueError("max_new_tokens and max_batch_size must be at least 1")


class _Tokenizer(Protocol):
    def pieces(self, text: str, add_bos: bool = False) -> list[str]: ...
    def text(self, pieces: Sequence[str]) -> str: ...
    def newline_pieces(self) -> list[str]: ...


def _token_text(value: object) -> str | None:
    """A special token as tokenizer_config.json gives it: a string or an AddedToken dict."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _chat_template(model_dir: Path, tokenizer_config: dict):
    """The model's default chat template, compiled in jinja2's immutable sandbox, or None."""
    template = tokenizer_config.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        named = {item.get("name"): item.get("template") for item in template if isinstance(item, dict)}
        template = named.get("default")
    if not isinstance(template, str) or not template.strip():
        return None
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise jinja2.TemplateError(message)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                extensions=["jinja2.ext.loopcontrols"])
    environment.filters["tojson"] = lambda value, indent=None: json.dumps(value, indent=indent, ensure_ascii=False)
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return environment.from_string(template)
    except jinja2.TemplateError as exc:
        raise ModelLoadError(model_dir, f"the chat_template in tokenizer_config.json does not compile ({exc})") from exc


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
        tokenizer_config = read_model_config(self.model_dir, "tokenizer_config.json")
        generation_config = read_model_config(self.model_dir, "generation_config.json")
        ordered_vocabulary = read_vocabulary(self.model_dir, ("vocabulary",))
        vocabulary = set(ordered_vocabulary)
        tokenizer_path = find_model_file(self.model_dir, self.options.tokenizer, TOKENIZER_NAMES, "tokenizer")
        self._tokenizer: _Tokenizer = load_tokenizer(self.model_dir, tokenizer_path)
        self._special = {name: _token_text(tokenizer_config.get(name)) or "" for name in ("bos_token", "eos_token")}
        self._chat_template = (
            _chat_template(self.model_dir, tokenizer_config) if self.options.prompt_template is None else None
        )
        # Special tokens a template writes as text; a tokenizer.json knows them, a sentencepiece model does not.
        added = tokenizer_config.get("added_tokens_decoder") or {}
        specials = {*self._special.values(), *map(_token_text, tokenizer_config.get("additional_special_tokens") or ()),
                    *(_token_text(token) for token in added.values() if isinstance(token, dict) and token.get("special"))}
        specials = sorted((t for t in specials if t and t in vocabulary), key=len, reverse=True)
        self._specials = re.compile("(" + "|".join(map(re.escape, specials)) + ")") if specials else None
        eos = config.get("eos_token", "</s>")
        eos_ids = generation_config.get("eos_token_id")
        eos_ids = eos_ids if isinstance(eos_ids, list) else [eos_ids]
        end_tokens = [
            *([eos] if isinstance(eos, str) else eos),
            *([self._special["eos_token"]] if self._special["eos_token"] else []),
            *(ordered_vocabulary[i] for i in eos_ids if isinstance(i, int) and 0 <= i < len(ordered_vocabulary)),
            *self.options.end_tokens,
        ]
        if self.options.stop_at_newline:
            end_tokens += self._tokenizer.newline_pieces()
        self._end_tokens = [token for token in dict.fromkeys(end_tokens) if token in vocabulary]
        self._generator = open_ctranslate2(ctranslate2.Generator, self.model_dir, self.options)

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return source_lang != target_lang and source_lang in self.languages and target_lang in self.languages

    @property
    def uses_chat_template(self) -> bool:
        return self._chat_template is not None

    def prompt(self, text: str, source_lang: str, target_lang: str) -> str:
        # One line of input, since the answer is read up to the first line break.
        fields = dict(
            source_language=self._names[source_lang],
            target_language=self._names[target_lang],
            text=" ".join(text.split()),
        )
        if self._chat_template is None:
            return (self.options.prompt_template or DEFAULT_PROMPT_TEMPLATE).format(**fields)
        return self._chat_template.render(
            messages=[{"role": "user", "content": USER_MESSAGE.format(**fields)}],
            add_generation_prompt=True,
            **self._special,
        )

    def prompt_tokens(self, text: str, source_lang: str, target_lang: str) -> list[str]:
        # A chat template writes the BOS token itself where the model wants one.
        prompt = self.prompt(text, source_lang, target_lang)
        if self._chat_template is None:
            return self._tokenizer.pieces(prompt, add_bos=self.options.add_bos)
        if self._specials is None or not isinstance(self._tokenizer, SentencePieceTokenizer):
            return self._tokenizer.pieces(prompt, add_bos=False)
        tokens: list[str] = []
        for i, part in enumerate(self._specials.split(prompt)):
            if i % 2:
                tokens.append(part)
            elif part:
                tokens += self._tokenizer.pieces(part)
        return tokens

    def output_token_count(self, text: str) -> int:
        """How many of the model's pieces ``text`` is (for tokens-per-second figures)."""
        return len(self._tokenizer.pieces(text)) if text else 0

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
