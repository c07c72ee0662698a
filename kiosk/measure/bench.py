"""`kiosk bench`: end of speech to first translated audio, per stage, against direct library calls.

Everything runs in this one process, on a fixed set of real utterances (2-6 s):

* each clip, followed by silence, is delivered in 20 ms blocks at the microphone's pace to the
  kiosk's own endpointer (``kiosk.audio.listener.Segmenter``, Silero VAD) and pipeline, as live audio
  is: a 200 ms pause offers the utterance for a head start (``kiosk.turn.pipeline.HeadStart``), and
  ``end_silence_ms`` (600 ms) of silence ends it. The clock starts when that last block has
  been delivered and stops when the answer's first audio chunk is ready to play (the
  ``Speaking`` event reaches the consumer). The wait from the last voiced sample, endpointing
  included, is reported beside it;
* per stage: ASR time and real-time factor, MT time, TTS time to first chunk and RTF;
* the same work by direct library calls on the same loaded models (stock
  ``WhisperModel.transcribe`` with the recognizer's options; ``ctranslate2.Translator.translate_batch``
  with the same tokens and options; ``PiperVoice.synthesize``), and the ratio pipeline/direct;
* cold start to ready (engines loaded and warmed), peak and steady RSS.

No real translation model can be downloaded on the build machines, so, unless an ``mt-seq2seq``
model is installed in the store, MT runs on a **timing proxy**: a CTranslate2 model with the
exact shapes of M2M-100 418M (d_model 1024, 12+12 layers, 16 heads, FFN 4096, 128 112 shared
embeddings, int8) and random weights, built once and cached in ``<data dir>/bench/``. It is
loaded by the kiosk's own ``Seq2SeqTranslator`` (same tokenising, batching and decoding code)
and put into the router in place of the store's models. For each source sentence it decodes
as many tokens as the reference sentence (``REFERENCE_SENTENCE``) takes with its tokenizer,
plus the end of sentence (end-of-sentence is masked out until then); its output is noise, so
the text handed to TTS is that reference sentence; the report says so.
"""

from __future__ import annotations

import cProfile
import csv
import dataclasses
import io
import json
import logging
import os
import platform
import pstats
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from text.normalise import scoring_units
from text.sentences import split_sentences

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
SPEECH_DIR = Path(os.environ.get("KIOSK_SHARED_DIR", REPO.parent / "shared")) / "data" / "speech"
LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")

# The fixed set: (source, name). Turn clips are translated to English (the Piper voice);
# English clips have no other Piper target, so they measure ASR only.
TURN_CLIPS = (
    "ko/deeply_sub100101a00000.wav", "ko/deeply_sub100101a00082.wav", "ko/picovoice_test_ko.wav",
    "zh/aishell3_SSB06710128.wav", "zh/aishell3_SSB15670405.wav", "zh/aishell1_BAC009S0724W0121.wav",
    "ru/golos_001ce26c07c20eaa0d666b824c6c6924.wav", "ja/picovoice_test_ja.wav",
)
ASR_ONLY_CLIPS = (
    "librivox:sense_and_sensibility_01_austen_64kb-0880", "librivox:sense_and_sensibility_01_austen_64kb-0930",
    "librivox:sense_and_sensibility_01_austen_64kb-0890", "en/fleurs_en_cuttledoc004.wav",
)
QUICK_TURN_CLIPS = TURN_CLIPS[:1] + TURN_CLIPS[3:4]
QUICK_ASR_ONLY_CLIPS = ASR_ONLY_CLIPS[:1]

TARGET_LANG = "en"
# What the proxy "translates" each sentence into: a counter sentence; see the module doc.
REFERENCE_SENTENCE = "Please fill in this form and sign at the bottom."
MT_PROXY_ID = "m2m100-418m-shape-proxy"
M2M100_418M = {"d_model": 1024, "layers": 12, "heads": 16, "ffn": 4096, "vocabulary": 128_112}
PROXY_VERSION = 1
BLOCK = 320  # 20 ms at 16 kHz, as the capture thread delivers them
TRAILING_SILENCE_S = 1.0  # after each clip, so that the endpointer can end it


# --- clips -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    lang: str
    reference: str


def _manifest() -> dict[str, Clip]:
    path = SPEECH_DIR / "manifest.tsv"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as f:
        return {row["path"]: Clip(row["path"], SPEECH_DIR / row["path"], row["lang"], row["transcript"])
                for row in csv.DictReader(f, delimiter="\t")}


def _librivox() -> dict[str, Clip]:
    clips = {}
    transcription = LIBRIVOX_DIR / "transcription"
    if transcription.is_file():
        for line in transcription.read_text(encoding="utf-8").splitlines():
            m = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
            if m:
                name = f"librivox:{m.group(2)}"
                clips[name] = Clip(name, LIBRIVOX_DIR / f"{m.group(2)}.wav", "en", m.group(1))
    return clips


def select_clips(quick: bool) -> tuple[list[Clip], list[Clip]]:
    known = {**_manifest(), **_librivox()}
    turns = [known[n] for n in (QUICK_TURN_CLIPS if quick else TURN_CLIPS) if n in known]
    asr_only = [known[n] for n in (QUICK_ASR_ONLY_CLIPS if quick else ASR_ONLY_CLIPS) if n in known]
    if not turns:
        # Without ../shared/data/speech, English clips still make turns (to Korean would need
        # a Piper voice for it); keep the bench runnable and say so in the report.
        raise SystemExit("kiosk bench: no benchmark clips found (../shared/data/speech/manifest.tsv)")
    return turns, asr_only


def error_rate(reference: str, hypothesis: str, lang: str) -> float:
    """WER (CER for character-scored languages) over ``text.normalise.scoring_units``, as the tests score."""
    ref, hyp = scoring_units(reference, lang), scoring_units(hypothesis, lang)
    if not hyp:
        return 1.0
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


# --- the MT timing proxy -----------------------------------------------------------------------

def proxy_dir(data_dir: Path) -> Path:
    return data_dir / "bench" / f"{MT_PROXY_ID}-v{PROXY_VERSION}"


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


def build_mt_proxy(target: Path, seed: int = 0) -> None:
    """Write the M2M-100 418M-shaped int8 model with random weights into ``target``.

    Weights are drawn directly as int8 with a per-row scale (what CTranslate2's int8
    quantization stores), so no 2 GB float32 copy is ever made. The tokenizer is a
    sentencepiece model trained on the phrasebook; the vocabulary is its pieces, the M2M
    language tokens and filler up to M2M-100's 128 112 entries.
    """
    import sentencepiece
    from ctranslate2.specs import TransformerSpec

    from mt.seq2seq import M2M100_TOKENS

    staging = target.with_name(f".{target.name}.staging")
    if staging.exists():
        import shutil

        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()), model_writer=model, vocab_size=4000, hard_vocab_limit=False,
        character_coverage=1.0, minloglevel=2,
    )
    (staging / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocabulary = pieces + [t for t in M2M100_TOKENS.values() if t not in pieces]
    size = M2M100_418M["vocabulary"]
    vocabulary += [f"<proxy{i}>" for i in range(size - len(vocabulary))]

    d, ffn, layers, heads = M2M100_418M["d_model"], M2M100_418M["ffn"], M2M100_418M["layers"], M2M100_418M["heads"]
    rng = np.random.default_rng(seed)

    def linear(spec, rows: int, cols: int) -> None:
        spec.weight = rng.integers(-127, 128, size=(rows, cols), dtype=np.int8)
        spec.weight_scale = np.full(rows, 127.0 / 0.05, dtype=np.float32)  # weights in +-0.05
        spec.bias = np.zeros(rows, dtype=np.float32)

    def norm(spec) -> None:
        spec.gamma = np.ones(d, dtype=np.float32)
        spec.beta = np.zeros(d, dtype=np.float32)

    spec = TransformerSpec.from_config((layers, layers), heads, pre_norm=True)
    embeddings = rng.integers(-127, 128, size=(size, d), dtype=np.int8)
    embedding_scale = np.full(size, 127.0 / 0.05, dtype=np.float32)
    # Shared embeddings, as M2M-100: one matrix for the encoder, decoder and output projection.
    spec.decoder.embeddings.weight = embeddings
    spec.decoder.embeddings.weight_scale = embedding_scale
    for shared in (spec.encoder.embeddings[0], spec.decoder.projection):
        shared.weight, shared.weight_scale = embeddings, embedding_scale
    bias = np.zeros(size, dtype=np.float32)
    bias[vocabulary.index("</s>")] = -1e4  # never stop early: every sentence decodes the same length
    spec.decoder.projection.bias = bias
    for stack in (spec.encoder, spec.decoder):
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
    for shared in (spec.encoder.embeddings[0], spec.decoder.projection):
        shared.weight, shared.weight_scale = "decoder/embeddings/weight", "decoder/embeddings/weight_scale"
    spec.save(str(staging))
    (staging / "proxy.json").write_text(json.dumps({
        "id": MT_PROXY_ID, "version": PROXY_VERSION, "seed": seed, "shapes": M2M100_418M, "quantization": "int8",
        "note": "random weights: a timing proxy for M2M-100 418M, not a translation model",
    }, indent=2), encoding="utf-8")
    staging.rename(target)


def ensure_mt_proxy(data_dir: Path) -> tuple[Path, float | None]:
    """The cached proxy's directory (under ``data_dir``), and its build time when it had to be built now.

    It is built in a child process so that the generator's memory never counts in this
    process's peak RSS.
    """
    target = proxy_dir(data_dir)
    if (target / "proxy.json").is_file():
        return target, None
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"kiosk bench: building the M2M-100 418M-shaped MT timing proxy in {target} (once)", file=sys.stderr)
    started = time.monotonic()
    code = f"from pathlib import Path; from kiosk.measure.bench import build_mt_proxy; build_mt_proxy(Path({str(target)!r}))"
    subprocess.run([sys.executable, "-c", code], check=True)
    return target, time.monotonic() - started


def _proxy_translator_class():
    from mt.seq2seq import Seq2SeqTranslator

    class ProxyTranslator(Seq2SeqTranslator):
        """The kiosk's Seq2SeqTranslator on the proxy; all its work runs, then the reference text is returned."""

        def translate(self, texts, source_lang, target_lang):
            super().translate(texts, source_lang, target_lang)
            return [" ".join(REFERENCE_SENTENCE for _ in split_sentences(text)) for text in texts]

    return ProxyTranslator


# --- measurement helpers ---------------------------------------------------------------------

def _status_kb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    kb = _status_kb("VmRSS")
    return round(kb / 1024, 1) if kb is not None else float("nan")


def peak_rss_mb() -> float:
    import resource

    kb = _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024, 1)


def stats(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    return {"p50": round(float(np.percentile(values, 50)), 4), "p95": round(float(np.percentile(values, 95)), 4),
            "max": round(float(max(values)), 4), "n": len(values)}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --- the bench ---------------------------------------------------------------------------------

@dataclass
class Options:
    rounds: int = 5
    threads: int | None = None
    quick: bool = False
    forced_language: bool = True
    levers: bool = False
    profile: bool = False
    head_start: bool = True


class Bench:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.samples: dict[str, list[float]] = {}
        self.notes: list[str] = []

    def add(self, key: str, value: float | None) -> None:
        if value is not None:
            self.samples.setdefault(key, []).append(value)

    # -- setup --
    def start(self) -> None:
        from asr.audio import load_audio
        from kiosk.store import catalog
        from kiosk.store.environment import from_environment
        from kiosk.turn.settings import Settings

        self.load_before = os.getloadavg()
        self.rss_at_start = rss_mb()
        self.turn_clips, self.asr_clips = select_clips(self.options.quick)
        self.audio = {c.name: load_audio(c.path) for c in (*self.turn_clips, *self.asr_clips)}
        store = from_environment()
        real_mt = [m for m in store.installed().values() if m.kind == "mt-seq2seq"]
        self.proxy_build_s = None
        if not real_mt:
            self.proxy_path, self.proxy_build_s = ensure_mt_proxy(store.data_dir)
        threads = self.options.threads
        self.settings = Settings() if threads is None else Settings(asr_threads=threads, mt_threads=threads)

        started = time.monotonic()
        from kiosk.turn.engines import Engines
        from mt.seq2seq import SentencePieceTokenizer, Seq2SeqOptions

        proxy = None
        if real_mt:
            self.mt_label = f"{real_mt[0].id} (installed model)"
            self.proxy_tokens = None
        else:
            tokenizer = SentencePieceTokenizer(self.proxy_path, self.proxy_path / "sentencepiece.bpe.model")
            self.proxy_tokens = len(tokenizer.pieces(REFERENCE_SENTENCE)) + 1  # and the end of sentence

            def proxy() -> list:
                # Built when the router is (in warm_up, beside the voices): the same router the
                # kiosk builds, with the proxy as its only model.
                return [_proxy_translator_class()(
                    self.proxy_path, family="m2m100", languages=catalog.LANGUAGE_CODES, model_id=MT_PROXY_ID,
                    options=Seq2SeqOptions(beam_size=self.settings.mt_beam_size,
                                           intra_threads=self.settings.mt_threads,
                                           max_decoding_length=self.proxy_tokens),
                )]

            self.mt_label = f"{MT_PROXY_ID} (timing proxy: M2M-100 418M shapes, random int8 weights)"
        engines = Engines(self.settings, store=store, translators=proxy)
        voices = engines.warm_up_voices_in_background((TARGET_LANG,))
        engines.warm_up()
        voices.result()
        self.cold_start_s = time.monotonic() - started
        self.engines = engines
        self.rss_ready = rss_mb()
        from kiosk.turn.pipeline import Pipeline

        self.pipeline = Pipeline(engines)
        from kiosk.audio.listener import StreamingVad

        self.vad = StreamingVad()
        self.translator = engines.router.routes(self.turn_clips[0].lang, TARGET_LANG)[0].legs[0]
        self.voice = engines.voice(TARGET_LANG)

    # -- one measurement of each kind --
    def pipeline_turn(self, clip: Clip, head_start: bool = True) -> dict:
        """One live turn: the clip and silence at the microphone's pace through endpointer and pipeline."""
        from kiosk.audio.listener import AudioSettings, Segmenter
        from kiosk.turn.pipeline import Audio, Done, Failed, Speaking, Transcribed, Translated, Turn

        def turn_for(utterance) -> Turn:
            return Turn(target_lang=TARGET_LANG, source_lang=clip.lang if self.options.forced_language else "auto",
                        audio=utterance.audio, candidates=self.settings.enabled_languages,
                        speech_ended_at=utterance.speech_ended_at)

        segmenter = Segmenter(AudioSettings(head_start_ms=200 if head_start else 0), 16_000, self.vad)
        audio = np.concatenate([self.audio[clip.name], np.zeros(int(TRAILING_SILENCE_S * 16_000), np.float32)])
        early = None
        due = time.monotonic()
        for start in range(0, audio.size, BLOCK):
            due += BLOCK / 16_000
            time.sleep(max(0.0, due - time.monotonic()))
            if segmenter.push(audio[start:start + BLOCK], time.monotonic()):
                break
            if segmenter.take_pause() and (so_far := segmenter.result()) is not None:
                if early is not None:
                    early.drop()
                early = self.pipeline.start_early(turn_for(so_far))
        else:
            raise RuntimeError(f"bench: the endpointer did not end {clip.name}")
        endpoint_at = time.monotonic()
        utterance = segmenter.result()
        marks: dict[str, float] = {}
        out_s = 0.0
        transcript = translation = ""
        for event in self.pipeline.run(turn_for(utterance), early):
            if isinstance(event, Transcribed):
                transcript = event.transcript.text
            elif isinstance(event, Translated):
                marks["translated"] = event.t
                translation = event.translation.text
            elif isinstance(event, Speaking):
                first_audio_at = time.monotonic()
                marks["speaking"] = event.t
            elif isinstance(event, Audio):
                out_s += event.chunk.duration_s
            elif isinstance(event, Done):
                done_at = time.monotonic()
                timings = event.result.timings
            elif isinstance(event, Failed):
                raise RuntimeError(f"bench turn failed on {clip.name}: {event.reason}")
        return {
            "e2e": first_audio_at - endpoint_at, "from_voice": first_audio_at - utterance.speech_ended_at,
            "asr": timings["asr_s"], "asr_rtf": timings["asr_s"] / (utterance.audio.size / 16_000),
            "mt": timings["mt_s"], "tts_first": marks["speaking"] - marks["translated"],
            "tts_rtf": (timings["total_s"] - marks["translated"]) / out_s if out_s else None,
            "text": transcript, "translation": translation, "turn_total": done_at - endpoint_at,
            "utterance": utterance.audio,
        }

    def pipeline_asr(self, audio: np.ndarray, lang: str) -> tuple[float, str]:
        started = time.monotonic()
        transcript = self.engines.recognizer.transcribe(
            audio, language=lang if self.options.forced_language else None,
            candidates=self.settings.enabled_languages)
        return time.monotonic() - started, transcript.text

    def direct_asr(self, audio: np.ndarray, lang: str) -> float:
        """Stock ``WhisperModel.transcribe`` on the same loaded model with the recognizer's options
        (a detected language is detected among all of Whisper's, as stock does)."""
        recognizer = self.engines.recognizer
        started = time.monotonic()
        segments, _ = recognizer.model.transcribe(
            audio, language=lang if self.options.forced_language else None, **recognizer.transcribe_options())
        for _ in segments:
            pass
        return time.monotonic() - started

    def direct_mt(self, text: str, source_lang: str) -> float:
        """ctranslate2.Translator.translate_batch on the same model, tokens and options."""
        t = self.translator
        o = t.options
        batch = [t.source_tokens(s, source_lang, TARGET_LANG) for s in split_sentences(text)]
        prefix = t.target_prefix(TARGET_LANG)
        started = time.monotonic()
        t._translator.translate_batch(
            batch, target_prefix=[prefix] * len(batch) if prefix else None, max_batch_size=o.max_batch_size,
            beam_size=o.beam_size, max_input_length=o.max_input_length, max_decoding_length=o.max_decoding_length,
            length_penalty=o.length_penalty, repetition_penalty=o.repetition_penalty,
            no_repeat_ngram_size=o.no_repeat_ngram_size, disable_unk=o.disable_unk,
        )
        return time.monotonic() - started

    def direct_tts(self, text: str) -> tuple[float, float | None]:
        """PiperVoice.synthesize on the same voice: time to the first chunk, and RTF over all."""
        from piper.config import SynthesisConfig as PiperSynthesisConfig

        voice = getattr(self.voice, "_voice", None)
        if voice is None:
            return None, None
        config = PiperSynthesisConfig(length_scale=voice.config.length_scale)
        started = time.monotonic()
        first = None
        samples = 0
        for chunk in voice.synthesize(text, config):
            if first is None:
                first = time.monotonic() - started
            samples += chunk.audio_float_array.size
        total = time.monotonic() - started
        return first, total / (samples / voice.config.sample_rate)

    # -- the run --
    def pipeline_mt(self, text: str, source_lang: str) -> float:
        started = time.monotonic()
        self.engines.router.translate(text, source_lang, TARGET_LANG)
        return time.monotonic() - started

    def pipeline_tts(self, text: str) -> tuple[float, float]:
        """The kiosk's voice: time to the first chunk, and RTF over all."""
        from tts import SynthesisConfig

        started = time.monotonic()
        first = None
        seconds = 0.0
        for chunk in self.voice.synthesize(text, SynthesisConfig()):
            first = first if first is not None else time.monotonic() - started
            seconds += chunk.duration_s
        return first, (time.monotonic() - started) / seconds

    def compare(self, pipeline, direct) -> tuple:
        """Run both sides, in alternating order so that neither always meets the warmer cache."""
        self._order = not getattr(self, "_order", False)
        if self._order:
            ours, theirs = pipeline(), direct()
        else:
            theirs, ours = direct(), pipeline()
        return ours, theirs

    def run(self) -> dict:
        self.start()
        profiler = cProfile.Profile() if self.options.profile else None
        errors: dict[str, list[float]] = {}
        for round_index in range(self.options.rounds):
            for clip in self.turn_clips:
                if profiler:
                    profiler.enable()
                turn = self.pipeline_turn(clip, head_start=self.options.head_start)
                if profiler:
                    profiler.disable()
                for key in ("e2e", "from_voice", "turn_total", "tts_rtf"):
                    self.add(key, turn[key])
                self.add(f"e2e_{clip.lang}", turn["e2e"])
                if round_index == 0:
                    errors.setdefault(clip.lang, []).append(error_rate(clip.reference, turn["text"], clip.lang))
                # Stage by stage, alone, against the direct library calls on the same input.
                asr, asr_direct = self._asr_stage(turn["utterance"], clip.lang)
                mt, mt_direct = self.compare(lambda: self.pipeline_mt(turn["text"], clip.lang),
                                             lambda: self.direct_mt(turn["text"], clip.lang))
                (tts, tts_rtf), (tts_direct, tts_rtf_direct) = self.compare(
                    lambda: self.pipeline_tts(turn["translation"]), lambda: self.direct_tts(turn["translation"]))
                for key, value in (("mt", mt), ("mt_direct", mt_direct), ("tts_first", tts),
                                   ("tts_first_direct", tts_direct), ("tts_rtf_direct", tts_rtf_direct)):
                    self.add(key, value)
                self.add("chain_direct", asr_direct + mt_direct + tts_direct)
            for clip in self.asr_clips:
                _, text = self.pipeline_asr(self.audio[clip.name], clip.lang)
                self._asr_stage(self.audio[clip.name], clip.lang)
                if round_index == 0:
                    errors.setdefault(clip.lang, []).append(error_rate(clip.reference, text, clip.lang))
        self.rss_steady = rss_mb()
        report = self.report(errors)
        if profiler:
            report["profile"] = _top(profiler)
        if self.options.levers:
            report["levers"] = self.levers()
        report["load_average"] = {"start": [round(x, 2) for x in self.load_before],
                                  "end": [round(x, 2) for x in os.getloadavg()]}
        report["peak_rss_mb"] = peak_rss_mb()
        return report

    def _asr_stage(self, audio: np.ndarray, lang: str) -> tuple[float, float]:
        (asr, _), asr_direct = self.compare(lambda: self.pipeline_asr(audio, lang),
                                            lambda: self.direct_asr(audio, lang))
        self.add("asr", asr)
        self.add("asr_rtf", asr / (audio.size / 16_000))
        # The share of its recognition budget (max(3 x duration, 4 s)) the decode used.
        budget = self.engines.recognizer.deadline_s(audio.size / 16_000)
        self.add("asr_budget_share", asr / budget if budget else None)
        self.add("asr_direct", asr_direct)
        return asr, asr_direct

    def report(self, errors: dict[str, list[float]]) -> dict:
        s = {key: stats(values) for key, values in self.samples.items()}

        def stage(key: str, direct: str, extra: dict) -> dict:
            p50, d50 = s.get(key, {}).get("p50"), s.get(direct, {}).get("p50")
            return {"p50_s": p50, "p95_s": s.get(key, {}).get("p95"), "direct_p50_s": d50,
                    "direct_p95_s": s.get(direct, {}).get("p95"),
                    "ratio": round(p50 / d50, 3) if p50 and d50 else None, "n": s.get(key, {}).get("n", 0), **extra}

        recognizer = self.engines.recognizer
        return {
            "end_to_first_audio_s": {k: v for k, v in s["e2e"].items()},
            "last_voice_to_first_audio_s": s["from_voice"],
            "end_to_first_audio_by_language_s": {k.split("_", 1)[1]: v for k, v in s.items() if k.startswith("e2e_")},
            "turn_total_s": s.get("turn_total"),
            "cold_start_s": round(self.cold_start_s, 3),
            "peak_rss_mb": None,  # filled last
            "steady_rss_mb": self.rss_steady,
            "ready_rss_mb": self.rss_ready,
            "start_rss_mb": self.rss_at_start,
            "stages": {
                "asr": stage("asr", "asr_direct", {"rtf_p50": s["asr_rtf"]["p50"], "worst_s": s["asr"]["max"],
                                                   "worst_budget_share": s["asr_budget_share"]["max"]}),
                "mt": stage("mt", "mt_direct", {"tokens_per_sentence": self.proxy_tokens}),
                "tts": stage("tts_first", "tts_first_direct",
                             {"rtf_p50": s.get("tts_rtf", {}).get("p50"),
                              "direct_rtf_p50": s.get("tts_rtf_direct", {}).get("p50")}),
            },
            "direct_chain_first_audio_s": s["chain_direct"],
            "head_start": self.options.head_start,
            "asr_error_rate": {lang: round(float(np.mean(v)), 3) for lang, v in sorted(errors.items())},
            "rounds": self.options.rounds,
            "clips": {"turns": [c.name for c in self.turn_clips], "asr_only": [c.name for c in self.asr_clips],
                      "turn_audio_s": [round(self.audio[c.name].size / 16_000, 2) for c in self.turn_clips]},
            "source_language": "forced (the kiosk knows each side's language)" if self.options.forced_language
            else "detected among the enabled languages",
            "models": {"asr": f"whisper-base ({recognizer.options.compute_type}, beam {recognizer.options.beam_size})",
                       "mt": self.mt_label, "tts": getattr(self.voice, "voice_id", str(self.voice))},
            "mt_proxy": {"path": str(self.proxy_path), "build_s": round(self.proxy_build_s, 1)
                         if self.proxy_build_s else None, "reference_sentence": REFERENCE_SENTENCE} if self.proxy_used else None,
            "settings": dataclasses.asdict(self.settings) | {"enabled_languages": len(self.settings.enabled_languages)},
            "machine": {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "python": platform.python_version()},
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        }

    @property
    def proxy_used(self) -> bool:
        return self.mt_label.startswith(MT_PROXY_ID)

    def levers(self) -> list[dict]:
        """Each lever against the configured kiosk, on the same clips (one pass each, after the rounds)."""
        recognizer = self.engines.recognizer
        original = recognizer.options
        clips = [*self.turn_clips, *self.asr_clips]
        rows = []
        short = original.min_window_s is not None
        variants = [(f"ASR as configured: beam {original.beam_size}, forced language, "
                     f"{'short' if short else '30 s'} window", {}, True),
                    ("ASR detected language", {}, False),
                    ("ASR 30 s window (stock Whisper)" if short else "ASR short window (speech + 2 s, at least 10 s)",
                     {"min_window_s": None if short else 10.0}, True),
                    ("ASR beam 2", {"beam_size": 2}, True),
                    ("ASR beam 1", {"beam_size": 1}, True)]
        try:
            for label, changes, forced in variants:
                recognizer.options = dataclasses.replace(original, **changes)
                times, errs = [], {}
                for clip in clips:
                    audio = self.audio[clip.name]
                    started = time.monotonic()
                    text = recognizer.transcribe(audio, language=clip.lang if forced else None,
                                                 candidates=self.settings.enabled_languages).text
                    times.append(time.monotonic() - started)
                    errs.setdefault(clip.lang, []).append(error_rate(clip.reference, text, clip.lang))
                rows.append({"variant": label, "asr_p50_s": stats(times)["p50"],
                             "error_rate": {k: round(float(np.mean(v)), 3) for k, v in sorted(errs.items())}})
        finally:
            recognizer.options = original
        translator = self.translator
        mt_original = translator.options
        for beam in sorted({1, 2, mt_original.beam_size}):
            translator.options = dataclasses.replace(mt_original, beam_size=beam)
            times = [self.direct_mt(c.reference, c.lang) for c in self.turn_clips]
            rows.append({"variant": f"MT beam {beam}", "mt_p50_s": stats(times)["p50"]})
        translator.options = mt_original
        turns = [self.pipeline_turn(clip, head_start=not self.options.head_start) for clip in self.turn_clips]
        rows.append({"variant": "no head start" if self.options.head_start else "with head start",
                     "e2e_p50_s": stats([t["e2e"] for t in turns])["p50"],
                     "e2e_p95_s": stats([t["e2e"] for t in turns])["p95"]})
        return rows


def _top(profiler: cProfile.Profile, count: int = 15) -> list[dict]:
    stream_ = io.StringIO()
    st = pstats.Stats(profiler, stream=stream_)
    rows = []
    for (filename, line, name), (cc, nc, tottime, cumtime, _) in st.stats.items():
        rows.append({"function": f"{Path(filename).name}:{line}({name})", "calls": nc,
                     "tottime_s": round(tottime, 3), "cumtime_s": round(cumtime, 3)})
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return rows[:count]


# --- output ----------------------------------------------------------------------------------

def _f(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(report: dict, command: str) -> str:
    st = report["stages"]
    e2e = report["end_to_first_audio_s"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {report['date']}; do not edit by hand (`make bench` rewrites it).",
        "",
        f"- Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, Python {report['machine']['python']}.",
        f"- Load average (1, 5, 15 min) at start {report['load_average']['start']}, at end {report['load_average']['end']}"
        " (other work on the machine makes the figures noisier and slower).",
        f"- Threads: ASR {report['settings']['asr_threads']}, MT {report['settings']['mt_threads']}, "
        f"TTS {report['settings']['tts_threads']}; beams: ASR {report['settings']['asr_beam_size']}, "
        f"MT {report['settings']['mt_beam_size']}.",
        f"- Models: ASR {report['models']['asr']}; MT {report['models']['mt']}; TTS {report['models']['tts']}.",
        f"- Source language: {report['source_language']}. Rounds: {report['rounds']}. "
        f"Turn clips ({len(report['clips']['turns'])}, {min(report['clips']['turn_audio_s'])}–"
        f"{max(report['clips']['turn_audio_s'])} s, to English): {', '.join(report['clips']['turns'])}. "
        f"ASR-only clips (English; the only Piper voice is English): {', '.join(report['clips']['asr_only'])}.",
        "",
    ]
    if report.get("mt_proxy"):
        build = report["mt_proxy"]["build_s"]
        tokens = report["stages"]["mt"]["tokens_per_sentence"]
        lines += [
            "**MT is a timing proxy**: a CTranslate2 model with the exact shapes of M2M-100 418M (d_model 1024, "
            "12+12 layers, 16 heads, FFN 4096, 128 112 shared embeddings, int8) and random weights, loaded by the "
            f"kiosk's own `Seq2SeqTranslator`. For each source sentence it decodes {tokens} tokens: what the "
            f"counter sentence \"{REFERENCE_SENTENCE}\" takes with the proxy's tokenizer, and the end of sentence "
            "(M2M-100's own 128k vocabulary needs fewer). Its output is noise, so TTS speaks that sentence. "
            + (f"It was built in this run in {build} s." if build else "It was built by an earlier run and cached."),
            "",
        ]
    voice = report["last_voice_to_first_audio_s"]
    lines += [
        "## End of speech → first audio of the answer",
        "",
        f"Each clip and {TRAILING_SILENCE_S:g} s of silence go in 20 ms blocks, at the microphone's pace, through "
        "the kiosk's endpointer (Silero VAD; 600 ms of silence ends an utterance) and pipeline, as live audio does. "
        "The clock starts when the block that ends the utterance has been delivered and stops when the first "
        "audio chunk of the answer is ready to play. "
        + ("A 200 ms pause begins the turn early (head start, README \"Speed\"), so much of the work is done "
           "while the endpointer still waits; the second row is what a resident waits from their last voiced "
           "sound, endpointing included." if report["head_start"] else "Head start is off in this run."),
        "",
        "| measure | p50 | p95 | goal |",
        "| --- | --- | --- | --- |",
        f"| end of speech (utterance ended) → first audio (s) | {_f(e2e['p50'])} | {_f(e2e['p95'])} | ≤ 1.0 / ≤ 1.5 |",
        f"| last voiced sound → first audio, endpointing included (s) | {_f(voice['p50'])} | {_f(voice['p95'])} | |",
        f"| the chain done by direct library calls, one after another, no head start (s) | "
        f"{_f(report['direct_chain_first_audio_s']['p50'])} | {_f(report['direct_chain_first_audio_s']['p95'])} | |",
        f"| end of speech → last audio chunk of the answer (s) | {_f(report['turn_total_s']['p50'])} | "
        f"{_f(report['turn_total_s']['p95'])} | |",
    ]
    for lang, v in report["end_to_first_audio_by_language_s"].items():
        lines.append(f"| … {lang} clips (s) | {_f(v['p50'])} | {_f(v['p95'])} | |")
    lines += [
        "",
        "## Stages: pipeline against direct library calls",
        "",
        "Each stage alone, on the utterances of the turns above (and the ASR-only clips), against the same work by "
        "direct library calls on the same loaded model, in alternating order. ASR's direct call is stock faster-whisper "
        "`WhisperModel.transcribe` with the recognizer's options, so with a forced language its ratio is the "
        "recognizer's own overhead (to detect a language, stock encodes twice and picks among all of Whisper's).",
        "",
        "| stage | pipeline p50 (s) | p95 (s) | direct p50 (s) | ratio pipeline/direct | RTF p50 |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| ASR (whisper-base) | {_f(st['asr']['p50_s'])} | {_f(st['asr']['p95_s'])} | {_f(st['asr']['direct_p50_s'])} "
        f"| {_f(st['asr']['ratio'])} | {_f(st['asr']['rtf_p50'])} |",
        f"| MT | {_f(st['mt']['p50_s'])} | {_f(st['mt']['p95_s'])} | {_f(st['mt']['direct_p50_s'])} | {_f(st['mt']['ratio'])} | |",
        f"| TTS, to first chunk | {_f(st['tts']['p50_s'])} | {_f(st['tts']['p95_s'])} | {_f(st['tts']['direct_p50_s'])} "
        f"| {_f(st['tts']['ratio'])} | {_f(st['tts']['rtf_p50'])} (direct {_f(st['tts']['direct_rtf_p50'])}) |",
        "",
        f"Slowest recognition: {_f(st['asr']['worst_s'])} s, {_f(st['asr']['worst_budget_share'])} of its budget "
        "(max(3 × duration, 4 s); README \"Bounded recognition\").",
        "",
        "## Start-up and memory",
        "",
        "| measure | value | goal |",
        "| --- | --- | --- |",
        f"| cold start to ready: engines loaded and warmed (s) | {_f(report['cold_start_s'], 2)} | ≤ 4 |",
        f"| peak RSS (MB) | {_f(report['peak_rss_mb'], 0)} | ≤ 1229 (1.2 GB) |",
        f"| steady RSS after the rounds (MB) | {_f(report['steady_rss_mb'], 0)} | |",
        "",
        "ASR error on the clips of this run (WER; CER for ko, zh, ja): "
        + ", ".join(f"{k} {v}" for k, v in report["asr_error_rate"].items()) + ".",
        "",
    ]
    if report.get("levers"):
        lines += ["## Levers (same clips, one pass each)", "",
                  "| variant | ASR p50 (s) | MT p50 (s) | end of speech → first audio p50 / p95 (s) | error rate |",
                  "| --- | --- | --- | --- | --- |"]
        for row in report["levers"]:
            errs = ", ".join(f"{k} {v}" for k, v in row.get("error_rate", {}).items())
            e2e_row = f"{_f(row['e2e_p50_s'])} / {_f(row['e2e_p95_s'])}" if "e2e_p50_s" in row else "–"
            lines.append(f"| {row['variant']} | {_f(row.get('asr_p50_s'))} | {_f(row.get('mt_p50_s'))} | {e2e_row} | {errs} |")
        lines.append("")
    if report.get("profile"):
        lines += ["## Profile of the pipeline turns (cProfile, by own time)", "", "| function | calls | own (s) | cumulative (s) |",
                  "| --- | --- | --- | --- |"]
        for row in report["profile"]:
            lines.append(f"| `{row['function']}` | {row['calls']} | {row['tottime_s']} | {row['cumtime_s']} |")
        lines.append("")
    return "\n".join(lines)


def run(args) -> int:
    """The `kiosk bench` command."""
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    options = Options(rounds=max(1, args.rounds), threads=args.threads, quick=args.quick,
                      forced_language=not args.detect_language, levers=args.levers, profile=args.profile,
                      head_start=not args.no_head_start)
    report = Bench(options).run()
    command = "kiosk bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else "kiosk bench"
    if args.markdown:
        args.markdown.write_text(markdown(report, command.strip()), encoding="utf-8")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(markdown(report, command.strip()))
    return 0
