"""MT timing proxies of the kiosk's model shapes, and the bench's MT lever rows.

No real translation model can be downloaded on the build machines, so MT is timed on
**proxies**: CTranslate2 models with a real model's exact shapes and random int8 weights,
built once and cached in ``<data dir>/bench/``, loaded by the kiosk's own ``Seq2SeqTranslator``
(same tokenising, batching and decoding code). Two shapes are built:

* ``M2M100_418M``: d_model 1024, 12+12 layers, 16 heads, FFN 4096, 128 112 shared embeddings,
  pre-norm, ReLU (the kiosk's default multilingual model); 484M weights as counted here, whatever
  its name says;
* ``OPUS_MT_BASE``: the Marian transformer-base of Helsinki-NLP/opus-mt-ko-en (its config.json:
  d_model 512, 6+6 layers, 8 heads, FFN 2048, swish, post-norm, 65 001 tied embeddings less
  the ``<pad>`` CTranslate2's converter drops); 77M parameters. It loads as family ``marian``.

Each source sentence decodes as many tokens as the reference sentence (``REFERENCE_SENTENCE``)
takes with the proxy's tokenizer, plus the end of sentence (end-of-sentence is masked out until
then), as in ``kiosk bench``. The output is noise, so the proxy translator returns the reference
sentence as its text (the next pivot leg and TTS get real words).

``mt_lever_rows`` times the MT levers of issue 17 on both shapes (beam 1 against 2, the smaller
model, the pivot through English, CTranslate2's vocabulary map) in a child process, so that
neither the build nor the loaded models count in the caller's RSS. Quality cannot be measured
on random weights; ``kiosk eval mt`` measures it where a real model is installed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text.sentences import split_sentences

log = logging.getLogger(__name__)

# What the proxy "translates" each sentence into: a counter sentence (20 tokens with the proxy's
# tokenizer, end of sentence included).
REFERENCE_SENTENCE = "Please fill in this form and sign at the bottom."
# The resident's side of the same counter exchange: what the lever rows translate.
SOURCE_SENTENCE = ("ko", "이 양식을 작성하시고 아래에 서명해 주세요.")
PIVOT_TARGET = "vi"  # any language OPUS-MT reaches only through English from Korean
PROXY_VERSION = 1
VMAP_TOKENS = 4000  # a per-target vocabulary map of a few thousand pieces
NOT_MEASURABLE = "not measurable here: no real model (kiosk eval mt on a provisioned machine)"


@dataclass(frozen=True)
class ProxyShape:
    """The shapes of one encoder-decoder translation model, and the kiosk family it loads as."""

    name: str
    family: str  # a mt.seq2seq family: "m2m100", "nllb" or "marian"
    d_model: int
    encoder_layers: int
    decoder_layers: int
    heads: int
    ffn: int
    vocabulary: int
    shared_embeddings: bool = True  # one matrix for source, target and output; else source apart
    pre_norm: bool = True
    activation: str = "relu"  # or "swish"

    @property
    def proxy_id(self) -> str:
        return f"{self.name}-shape-proxy"

    @property
    def parameters(self) -> int:
        """Weights and biases, as the proxy holds them (sinusoidal positions hold none)."""
        d, f, v = self.d_model, self.ffn, self.vocabulary
        attention = 4 * d * d + 4 * d
        ffn = 2 * d * f + f + d
        norm = 2 * d
        encoder = self.encoder_layers * (attention + ffn + 2 * norm)
        decoder = self.decoder_layers * (2 * attention + ffn + 3 * norm)
        final_norms = 2 * norm if self.pre_norm else 0
        embeddings = v * d * (1 if self.shared_embeddings else 2)
        return encoder + decoder + final_norms + embeddings + v  # + the output bias


M2M100_418M = ProxyShape("m2m100-418m", "m2m100", d_model=1024, encoder_layers=12, decoder_layers=12, heads=16,
                         ffn=4096, vocabulary=128_112)
OPUS_MT_BASE = ProxyShape("opus-mt-base", "marian", d_model=512, encoder_layers=6, decoder_layers=6, heads=8,
                          ffn=2048, vocabulary=65_000, pre_norm=False, activation="swish")
MT_PROXY_ID = M2M100_418M.proxy_id


def proxy_dir(data_dir: Path, shape: ProxyShape = M2M100_418M) -> Path:
    return data_dir / "bench" / f"{shape.proxy_id}-v{PROXY_VERSION}"


def _corpus() -> list[str]:
    from kiosk.store import catalog

    texts: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in sorted(catalog.phrasebook_dir().glob("*.toml")):
        with open(path, "rb") as f:
            walk(tomllib.load(f))
    return [t for t in texts if len(t) > 1]


def _language_tokens(family: str) -> list[str]:
    from mt.seq2seq import M2M100_TOKENS, NLLB_TOKENS

    # An OPUS-MT pair model has no language tokens: it translates one way.
    return list({"m2m100": M2M100_TOKENS, "nllb": NLLB_TOKENS}.get(family, {}).values())


def build_mt_proxy(target: Path, shape: ProxyShape = M2M100_418M, seed: int = 0) -> None:
    """Write an int8 model of ``shape`` with random weights into ``target``.

    Weights are drawn directly as int8 with a per-row scale (what CTranslate2's int8
    quantization stores), so no float32 copy is ever made. The tokenizer is a sentencepiece
    model trained on the phrasebook; the vocabulary is its pieces, the family's language
    tokens and filler up to the shape's size.
    """
    import sentencepiece
    from ctranslate2.specs import TransformerSpec, common_spec

    staging = target.with_name(f".{target.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()), model_writer=model, vocab_size=4000, hard_vocab_limit=False,
        character_coverage=1.0, minloglevel=2,
    )
    # Marian releases keep one tokenizer per side; the others one shared model.
    names = ("source.spm", "target.spm") if shape.family == "marian" else ("sentencepiece.bpe.model",)
    for name in names:
        (staging / name).write_bytes(model.getvalue())
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocabulary = pieces + [t for t in _language_tokens(shape.family) if t not in pieces]
    if len(vocabulary) > shape.vocabulary:
        raise ValueError(f"{shape.name}: a vocabulary of {shape.vocabulary} cannot hold the {len(vocabulary)} "
                         "pieces and language tokens")
    vocabulary += [f"<proxy{i}>" for i in range(shape.vocabulary - len(vocabulary))]

    d, ffn, size = shape.d_model, shape.ffn, shape.vocabulary
    rng = np.random.default_rng(seed)

    def int8(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        # Weights in +-0.05.
        return (rng.integers(-127, 128, size=(rows, cols), dtype=np.int8),
                np.full(rows, 127.0 / 0.05, dtype=np.float32))

    def linear(spec, rows: int, cols: int) -> None:
        spec.weight, spec.weight_scale = int8(rows, cols)
        spec.bias = np.zeros(rows, dtype=np.float32)

    def norm(spec) -> None:
        spec.gamma = np.ones(d, dtype=np.float32)
        spec.beta = np.zeros(d, dtype=np.float32)

    activation = {"relu": common_spec.Activation.RELU, "swish": common_spec.Activation.SWISH}[shape.activation]
    spec = TransformerSpec.from_config((shape.encoder_layers, shape.decoder_layers), shape.heads,
                                       pre_norm=shape.pre_norm, activation=activation)
    # The target embeddings are also the output projection (tied, as in all three families).
    spec.decoder.embeddings.weight, spec.decoder.embeddings.weight_scale = int8(size, d)
    spec.decoder.projection.weight = spec.decoder.embeddings.weight
    spec.decoder.projection.weight_scale = spec.decoder.embeddings.weight_scale
    source = spec.encoder.embeddings[0]
    if shape.shared_embeddings:
        source.weight, source.weight_scale = spec.decoder.embeddings.weight, spec.decoder.embeddings.weight_scale
    else:
        source.weight, source.weight_scale = int8(size, d)
    bias = np.zeros(size, dtype=np.float32)
    bias[vocabulary.index("</s>")] = -1e4  # never stop early: every sentence decodes the same length
    spec.decoder.projection.bias = bias
    if shape.family == "marian":
        spec.decoder.start_from_zero_embedding = True  # as CTranslate2's Marian converter sets it
    for stack in (spec.encoder, spec.decoder):
        if hasattr(stack, "layer_norm"):  # pre-norm only
            norm(stack.layer_norm)
        for layer in stack.layer:
            norm(layer.self_attention.layer_norm)
            linear(layer.self_attention.linear[0], 3 * d, d)
            linear(layer.self_attention.linear[1], d, d)
            if hasattr(layer, "attention"):
                norm(layer.attention.layer_norm)
                linear(layer.attention.linear[0], d, d)
                linear(layer.attention.linear[1], 2 * d, d)
                linear(layer.attention.linear[2], d, d)
            norm(layer.ffn.layer_norm)
            linear(layer.ffn.linear_0, ffn, d)
            linear(layer.ffn.linear_1, d, ffn)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.config.decoder_start_token = "</s>"
    spec.validate()
    # Written once: the others are aliases (what ``spec.optimize`` finds by comparing every pair).
    tied = [spec.decoder.projection] + ([source] if shape.shared_embeddings else [])
    for alias in tied:
        alias.weight, alias.weight_scale = "decoder/embeddings/weight", "decoder/embeddings/weight_scale"
    spec.save(str(staging))
    (staging / "proxy.json").write_text(json.dumps({
        "id": shape.proxy_id, "version": PROXY_VERSION, "seed": seed, "shapes": dataclasses.asdict(shape),
        "parameters": shape.parameters, "quantization": "int8",
        "note": f"random weights: a timing proxy for {shape.name}, not a translation model",
    }, indent=2), encoding="utf-8")
    staging.rename(target)


def _ensure_here(data_dir: Path, shape: ProxyShape) -> tuple[Path, float | None]:
    target = proxy_dir(data_dir, shape)
    if (target / "proxy.json").is_file():
        return target, None
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    build_mt_proxy(target, shape)
    return target, time.monotonic() - started


def ensure_mt_proxy(data_dir: Path, shape: ProxyShape = M2M100_418M) -> tuple[Path, float | None]:
    """The cached proxy's directory (under ``data_dir``), and its build time when it had to be built now.

    It is built in a child process so that the generator's memory never counts in this
    process's peak RSS.
    """
    target = proxy_dir(data_dir, shape)
    if (target / "proxy.json").is_file():
        return target, None
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"kiosk bench: building the {shape.name}-shaped MT timing proxy in {target} (once)", file=sys.stderr)
    started = time.monotonic()
    code = ("import json, sys; from pathlib import Path; from kiosk.measure.mt_levers import ProxyShape, build_mt_proxy; "
            "build_mt_proxy(Path(sys.argv[1]), ProxyShape(**json.loads(sys.argv[2])))")
    subprocess.run([sys.executable, "-c", code, str(target), json.dumps(dataclasses.asdict(shape))], check=True)
    return target, time.monotonic() - started


def proxy_translator_class():
    from mt.seq2seq import Seq2SeqTranslator

    class ProxyTranslator(Seq2SeqTranslator):
        """The kiosk's Seq2SeqTranslator on the proxy; all its work runs, then the reference text is returned."""

        def translate(self, texts, source_lang, target_lang):
            super().translate(texts, source_lang, target_lang)
            return [" ".join(REFERENCE_SENTENCE for _ in split_sentences(text)) for text in texts]

    return ProxyTranslator


def reference_tokens(model_dir: Path) -> int:
    """How many tokens the reference sentence decodes to with the proxy's tokenizer, end of sentence included."""
    from mt.seq2seq import SentencePieceTokenizer, find_model_file

    path = find_model_file(model_dir, None, ("target.spm", "sentencepiece.bpe.model"), "tokenizer")
    return len(SentencePieceTokenizer(model_dir, path).pieces(REFERENCE_SENTENCE)) + 1


# --- the vocabulary map ------------------------------------------------------------------------

def write_vmap(model_dir: Path, size: int = VMAP_TOKENS) -> Path:
    """A per-target vocabulary map in ``model_dir/vmap.txt`` (CTranslate2 loads it with the model).

    The map a provisioned model would carry for English output: the pieces English text
    uses, always candidates (a line with an empty source n-gram), ``size`` in all. Here they are
    the reference sentence's pieces, then the other tokenizer pieces, then filler, as the
    proxy's vocabulary has no English statistics. CTranslate2 keys a map's rules on source
    n-grams only, so a per-target map means one model directory per target for M2M-100 (or a
    rule on the ``>>xxx<<`` token of a multi-target OPUS-MT model).
    """
    from mt.seq2seq import SentencePieceTokenizer, find_model_file, read_vocabulary

    path = model_dir / "vmap.txt"
    if path.is_file():
        return path
    tokenizer = SentencePieceTokenizer(model_dir, find_model_file(
        model_dir, None, ("target.spm", "sentencepiece.bpe.model"), "tokenizer"))
    vocabulary = read_vocabulary(model_dir, ("target_vocabulary", "shared_vocabulary"))
    chosen = dict.fromkeys(tokenizer.pieces(REFERENCE_SENTENCE))
    for token in vocabulary:
        if len(chosen) >= size:
            break
        chosen.setdefault(token)
    staging = path.with_suffix(".staging")
    staging.write_text("\t" + " ".join(chosen) + "\n", encoding="utf-8")
    staging.rename(path)
    return path


# --- the lever rows ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Variant:
    lever: str
    variant: str
    model: str  # "large" or "small"
    beam: int
    vmap: bool = False
    pivot: bool = False
    decision: str = "off"
    why: str = ""


def _variants(large: ProxyShape, small: ProxyShape) -> list[_Variant]:
    big = f"{large.name} shape ({large.parameters / 1e6:.0f}M)"
    little = f"{small.name} shape ({small.parameters / 1e6:.0f}M)"
    provision = ("install it for a pair where `kiosk eval mt` scores it within margin of the large model; "
                 "the router already ranks a pair's models by chrF++, then speed")
    return [
        _Variant("MT model size", f"{big}, beam 2 (as configured)", "large", 2, decision="taken",
                 why="the configured model and beam: the baseline of every MT row"),
        _Variant("MT beam", f"{big}, beam 1", "large", 1,
                 why="beam 2 stays until `kiosk eval mt` shows beam 1 within margin on a real model"),
        _Variant("MT vocabulary map", f"{big}, beam 2, use_vmap ({VMAP_TOKENS} target pieces)", "large", 2,
                 vmap=True, why="quality unknown; CTranslate2 keys a map on source n-grams, so a per-target map "
                                "needs one model directory (and one loaded copy) per target language"),
        _Variant("MT model size", f"{little}, beam 2, direct pair", "small", 2, decision="provisioning choice",
                 why=provision),
        _Variant("MT beam", f"{little}, beam 1", "small", 1,
                 why="beam 2 stays until `kiosk eval mt` shows beam 1 within margin on a real model"),
        _Variant("MT pivot", f"{little} x2 through English, beam 2", "small", 2, pivot=True,
                 decision="provisioning choice",
                 why="for pairs with no direct OPUS-MT model; two models to load and two errors compounded"),
        _Variant("MT vocabulary map", f"{little}, beam 2, use_vmap ({VMAP_TOKENS} target pieces)", "small", 2,
                 vmap=True, why="quality unknown; a multi-target OPUS-MT model can key the map on its >>xxx<< "
                                "token, a pair model carries one map"),
    ]


def _time_variants(path: Path, shape: ProxyShape, variants: list[_Variant], *, threads: int,
                   repeats: int) -> dict[_Variant, list[float]]:
    """Load the proxy at ``path`` once and time each variant ``repeats`` times, interleaved against drift.

    The translator lives only in this call, so its memory goes back before the next model loads.
    """
    from kiosk.store import catalog
    from mt.router import Route
    from mt.seq2seq import Seq2SeqOptions

    source_lang, source_text = SOURCE_SENTENCE
    if shape.family == "marian":  # a pair model translates one way: ko→en, and en→vi for the pivot's second leg
        languages, targets = (source_lang, "en"), ("en", PIVOT_TARGET)
    else:
        languages, targets = catalog.LANGUAGE_CODES, None
    options = Seq2SeqOptions(intra_threads=threads, max_decoding_length=reference_tokens(path))
    translator = proxy_translator_class()(path, family=shape.family, languages=languages, target_languages=targets,
                                          model_id=shape.proxy_id, options=options)
    times: dict[_Variant, list[float]] = {variant: [] for variant in variants}
    for round_ in range(repeats + 1):  # round 0 warms up
        for variant in variants:
            translator.options = dataclasses.replace(options, beam_size=variant.beam, use_vmap=variant.vmap)
            # The pivot runs as the router runs it; the proxy hands the reference sentence to the second leg.
            route = Route((translator, translator), "en") if variant.pivot else Route((translator,))
            started = time.monotonic()
            route.run([source_text], source_lang, PIVOT_TARGET if variant.pivot else "en")
            if round_:
                times[variant].append(time.monotonic() - started)
    return times


def measure_rows(data_dir: Path, *, threads: int, quick: bool = False, large: ProxyShape = M2M100_418M,
                 small: ProxyShape = OPUS_MT_BASE) -> list[dict]:
    """The lever rows, measured in this process (``mt_lever_rows`` runs it in a child)."""
    # The large model's decodes take about 1 s each on 2 cores; the small one's a tenth of that,
    # so it gets more of them (its figures are the ones contention blurs most).
    repeats = {"large": 2 if quick else 3, "small": 4 if quick else 9}
    variants = _variants(large, small)
    times: dict[_Variant, list[float]] = {}
    for model, shape in (("large", large), ("small", small)):
        path, _ = _ensure_here(data_dir, shape)
        write_vmap(path)
        times.update(_time_variants(path, shape, [v for v in variants if v.model == model], threads=threads,
                                    repeats=repeats[model]))
    baseline = statistics.median(times[variants[0]])
    rows = []
    for variant in variants:
        p50 = statistics.median(times[variant])
        rows.append({
            "lever": variant.lever, "variant": variant.variant, "stage": "mt", "p50_s": round(p50, 4),
            "baseline_p50_s": round(baseline, 4), "gain_s": round(baseline - p50, 4),
            "accuracy": "reference" if variant is variants[0] else NOT_MEASURABLE,
            "decision": variant.decision, "why": variant.why,
        })
    return rows


def mt_lever_rows(data_dir: Path, *, threads: int, quick: bool = False, large: ProxyShape = M2M100_418M,
                  small: ProxyShape = OPUS_MT_BASE) -> list[dict]:
    """One row per MT lever variant, timed on the proxies against the large shape at beam 2.

    Proxies are built once (cached under ``data_dir/bench/``); building, loading and timing
    run in a child process, so nothing of it stays in this process's memory or peak RSS.
    """
    arguments = {"data_dir": str(data_dir), "threads": threads, "quick": quick,
                 "large": dataclasses.asdict(large), "small": dataclasses.asdict(small)}
    code = "import sys; from kiosk.measure.mt_levers import _child; _child(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, json.dumps(arguments)], check=False,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the MT lever measurement failed (exit {result.returncode}): {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _child(arguments: str) -> None:
    given = json.loads(arguments)
    rows = measure_rows(Path(given["data_dir"]), threads=given["threads"], quick=given["quick"],
                        large=ProxyShape(**given["large"]), small=ProxyShape(**given["small"]))
    print(json.dumps(rows, ensure_ascii=False))
