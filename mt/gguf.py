"""A GGUF language model, run in-process by llama.cpp (through ``xllamacpp``), prompted to translate.

The prompt is the user turn of a one-turn chat, rendered with the model's chat template: the
one the caller gives (a catalogue entry whose model card prescribes one), else the GGUF's own
``tokenizer.chat_template``. Decoding is greedy (temperature 0) and stops at the model's
end-of-sequence/end-of-turn tokens; the number of new tokens is bounded by the input's length
(``tokens_per_input_token`` × input tokens + ``extra_tokens``, never more than
``max_new_tokens``), so a model that does not stop is stopped. Tokens are streamed, so a
cancelled call stops decoding at the next token. ``last_stats`` reports the last text's
token counts, tokens per second and time to the first token.

llama.cpp's server engine is embedded (``xllamacpp.Server``) and called in-process. It always
opens a listener of its own, which this class never uses: it is given a Unix socket in a private
temporary directory (mode 0700), so no TCP port is opened (with no hostname it would listen on
127.0.0.1).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import Engine, InvalidInputError, ModelLoadError, TranslationCancelled, UnsupportedPairError
from .ggufread import GGUFError, GGUFHeader, read_header

# The user turn: a str.format template with {source_language}, {target_language} (English
# names), {source_code}, {target_code} (ISO 639-1) and {text}.
DEFAULT_PROMPT_TEMPLATE = (
    "Translate the following {source_language} text into {target_language}. "
    "Reply with the translation only.\n\n{text}"
)


def check_prompt_template(template: str) -> None:
    """Raise ValueError unless ``template`` is a user-turn template (see DEFAULT_PROMPT_TEMPLATE)."""
    try:
        template.format(source_language="", target_language="", source_code="", target_code="", text="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"prompt_template is not a valid template ({exc!r})") from exc
    if "{text}" not in template:
        raise ValueError("prompt_template must contain {text}")


def user_turn(template: str, names: Mapping[str, str], text: str, source_lang: str, target_lang: str) -> str:
    """The user turn asking for a translation; ``names`` maps codes to English language names.
    Shared by every engine that prompts a chat model (here, and ``mt.openai_compat``)."""
    return template.format(source_language=names[source_lang], target_language=names[target_lang],
                           source_code=source_lang, target_code=target_lang, text=text.strip())


def cut_at_stops(generated: str, stops: Sequence[str]) -> str:
    """The answer in generated text: up to the first end token or stop string that leaked as text, trimmed."""
    for stop in stops:
        generated = generated.split(stop, 1)[0]
    return generated.strip()


@dataclass(frozen=True)
class GGUFOptions:
    """How the model runs and is prompted.

    ``chat_template``: Jinja text of the chat template (Hugging Face style: ``messages``,
    ``bos_token``, ``add_generation_prompt``); None uses the GGUF's ``tokenizer.chat_template``.
    ``stop``: extra stop strings, beside the end tokens the GGUF names.
    """

    threads: int = 0  # 0: llama.cpp picks
    context: int = 2048
    # Prompt tokens per decoding step: a cancel is seen between steps, so prompt reading stops too.
    batch: int = 32
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    chat_template: str | None = None
    stop: tuple[str, ...] = ()
    max_new_tokens: int = 512
    tokens_per_input_token: float = 2.0
    extra_tokens: int = 16
    # (token text, bias) pairs added to the logits at every step; the text is one vocabulary entry.
    logit_bias: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        check_prompt_template(self.prompt_template)
        if self.max_new_tokens < 1 or self.extra_tokens < 1 or self.tokens_per_input_token <= 0:
            raise ValueError("max_new_tokens, extra_tokens and tokens_per_input_token must be positive")

    def token_bound(self, input_tokens: int) -> int:
        """The most new tokens for an input of this many tokens."""
        return min(self.max_new_tokens, int(self.tokens_per_input_token * max(input_tokens, 1)) + self.extra_tokens)


@dataclass(frozen=True)
class GenerationStats:
    """One text's decoding: ``stop`` is "end" (an end token or stop string), "limit" (the token
    bound), or "cancelled"."""

    prompt_tokens: int
    input_tokens: int  # the text's own tokens (the prompt less the template's)
    generated_tokens: int
    max_tokens: int
    seconds: float
    first_token_seconds: float | None
    tokens_per_second: float  # decoding rate, after the first token
    stop: str


def find_gguf(path: str | Path) -> Path:
    """The GGUF file: ``path`` itself, or the one ``*.gguf`` in a model directory."""
    path = Path(path)
    if path.is_file():
        return path
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(found) != 1:
        raise ModelLoadError(path, "no GGUF file" if not found else f"{len(found)} GGUF files; expected one")
    return found[0]


class GGUFTranslator:
    """Translation by a GGUF chat model, for the declared ``languages`` ({code: English name})."""

    engine: Engine = "llm"

    def __init__(
        self,
        model_path: str | Path,
        languages: Mapping[str, str],
        *,
        model_id: str | None = None,
        options: GGUFOptions | None = None,
    ) -> None:
        self.path = find_gguf(model_path)
        self.model_id = model_id or (Path(model_path).name if Path(model_path).is_dir() else self.path.stem)
        self.options = options or GGUFOptions()
        if not isinstance(languages, Mapping):
            raise TypeError("languages must map each language code to its English name")
        self._names = {code: name for code, name in languages.items() if name}
        self.languages = frozenset(self._names)
        if len(self.languages) < 2:
            raise ModelLoadError(self.path, f"it is declared for too few known languages ({sorted(languages)})")
        try:
            self.header: GGUFHeader = read_header(self.path)
        except GGUFError as error:
            raise ModelLoadError(self.path, str(error)) from None
        template = self.options.chat_template or self.header.chat_template
        if not template:
            raise ModelLoadError(self.path, "the GGUF has no chat template and none was given")
        self._template = _compile(template, self.path)
        meta = self.header.metadata
        # llama.cpp adds BOS itself when the GGUF says so: the template must not add a second.
        self._bos = "" if meta.get("tokenizer.ggml.add_bos_token", True) else \
            (self.header.token_text(meta.get("tokenizer.ggml.bos_token_id", -1)) or "")
        self.end_tokens = tuple(self.header.end_tokens())
        self._stop = list(dict.fromkeys([*self.options.stop, *self.end_tokens]))
        self._logit_bias = []
        for text, bias in self.options.logit_bias:
            token_id = self.header.token_id(text)
            if token_id is None:
                raise ModelLoadError(self.path, f"its vocabulary has no token {text!r} (logit_bias)")
            self._logit_bias.append([token_id, bias])
        self._server: Any = None
        self._socket_dir: str | None = None  # holds the Unix socket of llama.cpp's unused listener
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._overhead: dict[tuple[str, str], int] = {}
        self.last_stats: GenerationStats | None = None
        self._generated_for: dict[str, int] = {}  # the last call's answers -> tokens generated
        self.stats: list[GenerationStats] = []  # the last call's, one per non-blank text

    # -- prompting ---------------------------------------------------------------------------

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return source_lang != target_lang and source_lang in self.languages and target_lang in self.languages

    def user_turn(self, text: str, source_lang: str, target_lang: str) -> str:
        return user_turn(self.options.prompt_template, self._names, text, source_lang, target_lang)

    def prompt(self, text: str, source_lang: str, target_lang: str) -> str:
        """The whole prompt: the user turn in the chat template, ready for the model's answer."""
        return self._template.render(
            messages=[{"role": "user", "content": self.user_turn(text, source_lang, target_lang)}],
            add_generation_prompt=True, bos_token=self._bos, eos_token=self.end_tokens[0] if self.end_tokens else "",
        )

    # -- decoding ----------------------------------------------------------------------------

    def _load(self) -> Any:
        if self._server is None:
            try:
                import xllamacpp
            except ImportError as error:
                raise ModelLoadError(self.path, f"xllamacpp is not installed ({error})") from None
            params = xllamacpp.CommonParams()
            params.model.path = str(self.path)
            params.n_ctx = self.options.context
            params.n_parallel = 1
            params.n_batch = params.n_ubatch = self.options.batch
            params.verbosity = -1
            params.warmup = False
            if self.options.threads > 0:
                params.cpuparams.n_threads = self.options.threads
                params.cpuparams_batch.n_threads = self.options.threads
            params.sampling.temp = 0.0
            params.sampling.top_k = 1
            self._socket_dir = tempfile.mkdtemp(prefix="kiosk-llama-")
            params.hostnames = [str(Path(self._socket_dir) / "llama.sock")]
            try:
                self._server = xllamacpp.Server(params)
            except Exception as error:  # llama.cpp reports a bad model as a bare RuntimeError
                raise ModelLoadError(self.path, f"llama.cpp cannot load it ({error})") from None
        return self._server

    def _request(self, prompt: str, max_tokens: int, on_chunk) -> None:
        request = {
            "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "top_k": 1, "stream": True,
            "stop": self._stop, "return_progress": True, "timings_per_token": True, "cache_prompt": True,
        }
        if self.options.logit_bias:
            request["logit_bias"] = self._logit_bias
        self._load().handle_completions(request, on_chunk)

    def _template_tokens(self, source_lang: str, target_lang: str) -> int:
        """Tokens of the prompt without the text (once per pair; its prefix is then in the cache)."""
        key = (source_lang, target_lang)
        if key not in self._overhead:
            total = [0]

            def on_chunk(chunk: Mapping) -> bool:
                progress = chunk.get("prompt_progress")
                if progress:
                    total[0] = int(progress.get("total", 0))
                    return True
                return False

            self._request(self.prompt("", source_lang, target_lang), 1, on_chunk)
            self._overhead[key] = total[0]
        return self._overhead[key]

    def cancel(self) -> None:
        """Stop the call in progress (from another thread) at its next token."""
        self._cancel.set()

    def _generate(self, text: str, source_lang: str, target_lang: str, cancel: threading.Event | None) -> str:
        overhead = self._template_tokens(source_lang, target_lang)
        prompt = self.prompt(text, source_lang, target_lang)
        state: dict[str, Any] = {"pieces": [], "prompt": 0, "bound": self.options.max_new_tokens, "generated": 0,
                                 "first": None, "timings": {}, "stop": "limit", "input": 0}
        start = time.monotonic()

        def on_chunk(chunk: Mapping) -> bool:
            if self._cancel.is_set() or (cancel is not None and cancel.is_set()):
                state["stop"] = "cancelled"
                return True
            progress = chunk.get("prompt_progress")
            if progress and not state["prompt"]:
                state["prompt"] = int(progress.get("total", 0))
                state["input"] = max(state["prompt"] - overhead, 1)
                state["bound"] = self.options.token_bound(state["input"])
            timings = chunk.get("timings") or {}
            if timings:
                state["timings"] = timings
                state["generated"] = int(timings.get("predicted_n", state["generated"]))
            choice = (chunk.get("choices") or [{}])[0]
            piece = choice.get("text") or ""
            if piece:
                if state["first"] is None:
                    state["first"] = time.monotonic() - start
                state["pieces"].append(piece)
                if not timings:
                    state["generated"] += 1
            reason = choice.get("finish_reason")
            if reason:
                state["stop"] = "limit" if reason == "length" else "end"
                return False
            if state["generated"] >= state["bound"]:
                state["stop"] = "limit"
                return True
            return False

        self._request(prompt, self.options.max_new_tokens, on_chunk)
        seconds = time.monotonic() - start
        timings = state["timings"]
        decode_ms = float(timings.get("predicted_ms") or 0.0)
        rate = (state["generated"] - 1) / decode_ms * 1000 if decode_ms > 0 and state["generated"] > 1 else 0.0
        stats = GenerationStats(
            prompt_tokens=state["prompt"], input_tokens=state["input"], generated_tokens=state["generated"],
            max_tokens=state["bound"], seconds=seconds, first_token_seconds=state["first"],
            tokens_per_second=rate, stop=state["stop"],
        )
        self.last_stats = stats
        self.stats.append(stats)
        if stats.stop == "cancelled":
            raise TranslationCancelled(f"translation by {self.model_id} cancelled")
        answer = self.answer_text("".join(state["pieces"]))
        self._generated_for[answer.strip()] = stats.generated_tokens
        return answer

    def output_token_count(self, text: str) -> int | None:
        """Tokens the last call generated for ``text``: llama.cpp counts them while decoding, and
        counting afresh would cost a model call. None for a text the last call did not produce."""
        return self._generated_for.get(text.strip())

    def answer_text(self, generated: str) -> str:
        """The translation in the generated text: up to any end token that leaked as text, trimmed."""
        return cut_at_stops(generated, self._stop)

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str, *,
                  cancel: threading.Event | None = None) -> list[str]:
        """Translate in order; ``cancel`` (or ``cancel()``) stops decoding and raises ``TranslationCancelled``."""
        if isinstance(texts, str):
            raise InvalidInputError("texts must be a sequence of strings, not one string")
        if not self.supports(source_lang, target_lang):
            raise UnsupportedPairError(f"model {self.model_id} does not cover {source_lang}→{target_lang}")
        with self._lock:
            self._cancel.clear()
            self.stats = []
            self._generated_for = {}
            return [self._generate(text, source_lang, target_lang, cancel) if text.strip() else "" for text in texts]

    def warm_up(self) -> None:
        source_lang, target_lang = min((s, t) for s in self.languages for t in self.languages if s != t)
        self.translate(["Hello."], source_lang, target_lang)

    def close(self) -> None:
        with self._lock:
            self._server = None
            if self._socket_dir is not None:
                shutil.rmtree(self._socket_dir, ignore_errors=True)
                self._socket_dir = None


def _compile(template: str, path: Path) -> Any:
    try:
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as error:
        raise ModelLoadError(path, f"jinja2 is not installed ({error})") from None

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    try:
        return environment.from_string(template)
    except TemplateError as error:
        raise ModelLoadError(path, f"its chat template does not compile ({error})") from None
