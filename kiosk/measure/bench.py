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
* cold start to the first turn possible (engines loaded) and to everything warm, peak and steady RSS,
  and, with ``--levers``, where the memory goes (``kiosk.measure.memory``);
* with ``--levers``, every speed lever against the configuration it changes, with its accuracy
  cost: ASR decoding here, the ASR window in ``kiosk.measure.asr_levers``, the MT model, beam,
  pivot and vocabulary map in ``kiosk.measure.mt_levers``, and the overlaps here.

No real translation model can be downloaded on the build machines, so, unless an ``mt-seq2seq``
model is installed in the store, MT runs on a **timing proxy**: a CTranslate2 model with the
exact shapes of M2M-100 418M (d_model 1024, 12+12 layers, 16 heads, FFN 4096, 128 112 shared
embeddings, int8) and random weights, built once and cached in ``<data dir>/bench/``
(``kiosk.measure.mt_levers``, which also builds the OPUS-MT-base-shaped one). It is
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
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kiosk.measure.memory import breakdown_in_child
from kiosk.measure.mt_levers import MT_PROXY_ID, REFERENCE_SENTENCE, ensure_mt_proxy, proxy_translator_class
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
OFFICER_LANG = "ko"
BLOCK = 320  # 20 ms at 16 kHz, as the capture thread delivers them
TRAILING_SILENCE_S = 1.0  # after each clip, so that the endpointer can end it
# Stages are compared with direct library calls in the first rounds only (ASR and MT in the first,
# TTS in both): every round times the live turns, and the bench stays under 6 minutes with --levers.
STAGE_ROUNDS = 2
TTS_PAIRS = 3


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
                return [proxy_translator_class()(
                    self.proxy_path, family="m2m100", languages=catalog.LANGUAGE_CODES, model_id=MT_PROXY_ID,
                    options=Seq2SeqOptions(beam_size=self.settings.mt_beam_size,
                                           intra_threads=self.settings.mt_threads,
                                           max_decoding_length=self.proxy_tokens),
                )]

            self.mt_label = f"{MT_PROXY_ID} (timing proxy: M2M-100 418M shapes, random int8 weights)"
        engines = Engines(self.settings, store=store, translators=proxy)
        # The two voices of a counter: the answer's and the officer's (Korean).
        warm = engines.warm_up((TARGET_LANG, OFFICER_LANG))
        imported_s = time.monotonic() - started - warm.warm_s
        self.cold_start_s = imported_s + warm.first_turn_s
        self.warm_s = imported_s + warm.warm_s
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
        started = time.monotonic()
        self.by_clip: dict[str, list[float]] = {}  # end of speech -> first audio of each clip's turns
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
                self.by_clip.setdefault(clip.name, []).append(turn["e2e"])
                if round_index == 0:
                    errors.setdefault(clip.lang, []).append(error_rate(clip.reference, turn["text"], clip.lang))
                if round_index >= STAGE_ROUNDS:
                    continue
                # Stage by stage, alone, against the direct library calls on the same input: ASR and
                # MT (about 1 s each, steady) in the first round, TTS in every stage round.
                if round_index == 0:
                    asr_direct, _ = self._asr_stage(turn["utterance"], clip.lang)
                    mt, mt_direct = self.compare(lambda: self.pipeline_mt(turn["text"], clip.lang),
                                                 lambda: self.direct_mt(turn["text"], clip.lang))
                    for key, value in (("mt", mt), ("mt_direct", mt_direct)):
                        self.add(key, value)
                # A first chunk takes 0.15 s, where other work on the machine moves single pairs by 5 %:
                # TTS_PAIRS pairs per turn settle its ratio for the price of one ASR decode.
                for pair in range(TTS_PAIRS):
                    (tts, _), (tts_direct, tts_rtf_direct) = self.compare(
                        lambda: self.pipeline_tts(turn["translation"]), lambda: self.direct_tts(turn["translation"]))
                    for key, value in (("tts_first", tts), ("tts_first_direct", tts_direct),
                                       ("tts_rtf_direct", tts_rtf_direct)):
                        self.add(key, value)
                    if pair == 0 and round_index == 0:
                        self.add("chain_direct", asr_direct + mt_direct + tts_direct)
            for clip in self.asr_clips if round_index == 0 else ():
                _, text = self._asr_stage(self.audio[clip.name], clip.lang)
                if round_index == 0:
                    errors.setdefault(clip.lang, []).append(error_rate(clip.reference, text, clip.lang))
        self.rss_steady = rss_mb()
        report = self.report(errors)
        if profiler:
            report["profile"] = _top(profiler)
        rounds_done = time.monotonic()
        if self.options.levers:
            report["levers"] = self.levers()
            clip = self.turn_clips[0]
            proxy = str(self.proxy_path) if self.proxy_used else None
            report["memory"] = breakdown_in_child(
                "import json; from kiosk.measure.bench import memory_rows; "
                f"print(json.dumps(memory_rows({proxy!r}, {str(clip.path)!r}, {clip.lang!r}, {self.proxy_tokens!r})))")
        report["load_average"] = {"start": [round(x, 2) for x in self.load_before],
                                  "end": [round(x, 2) for x in os.getloadavg()]}
        report["peak_rss_mb"] = peak_rss_mb()
        report["seconds"] = {"start_and_rounds": round(rounds_done - started, 1),
                             "levers_and_memory": round(time.monotonic() - rounds_done, 1)}
        return report

    def _asr_stage(self, audio: np.ndarray, lang: str) -> tuple[float, str]:
        """The recognizer and stock faster-whisper on ``audio``: the direct time and the recognizer's text."""
        (asr, text), asr_direct = self.compare(lambda: self.pipeline_asr(audio, lang),
                                            lambda: self.direct_asr(audio, lang))
        self.add("asr", asr)
        self.add("asr_rtf", asr / (audio.size / 16_000))
        # The share of its recognition budget (max(3 x duration, 4 s)) the decode used.
        budget = self.engines.recognizer.deadline_s(audio.size / 16_000)
        self.add("asr_budget_share", asr / budget if budget else None)
        self.add("asr_direct", asr_direct)
        return asr_direct, text

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
            "everything_warm_s": round(self.warm_s, 3),
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
        """Each lever against the configured kiosk, measured in this run (one pass each, after the
        rounds), as rows of ``lever_row``; the ASR window and MT model levers come from their modules."""
        from kiosk.measure.asr_levers import asr_lever_rows
        from kiosk.measure.mt_levers import mt_lever_rows
        from kiosk.store.environment import from_environment

        rows = self._asr_setting_rows()
        rows += asr_lever_rows(self.engines.recognizer, quick=self.options.quick)
        rows += mt_lever_rows(from_environment().data_dir, threads=self.settings.mt_threads, quick=self.options.quick)
        rows += self._overlap_rows()
        return rows

    def _asr_setting_rows(self) -> list[dict]:
        """Language detection and smaller beams against the configured recognizer, on the turn clips."""
        recognizer = self.engines.recognizer
        original = recognizer.options
        clips = list({c.lang: c for c in self.turn_clips}.values())  # one clip per language

        def measure(changes: dict, forced: bool) -> tuple[float, dict[str, list[float]]]:
            recognizer.options = dataclasses.replace(original, **changes)
            times, errs = [], {}
            for clip in clips:
                started = time.monotonic()
                text = recognizer.transcribe(self.audio[clip.name], language=clip.lang if forced else None,
                                             candidates=self.settings.enabled_languages).text
                times.append(time.monotonic() - started)
                errs.setdefault(clip.lang, []).append(error_rate(clip.reference, text, clip.lang))
            return stats(times)["p50"], errs

        try:
            base_p50, base_errs = measure({}, True)
            rows = []
            for variant, changes, forced in (("language detected among the 13, not forced", {}, False),
                                             (f"beam 2 (configured {original.beam_size})", {"beam_size": 2}, True),
                                             (f"beam 1 (configured {original.beam_size})", {"beam_size": 1}, True)):
                p50, errs = measure(changes, forced)
                accuracy, acceptable = accuracy_change(base_errs, errs, f"turn clips, {len(clips)}")
                faster = p50 < base_p50
                # One clip per language is too few to change the default on: the beam stays where the
                # accuracy bounds of tests/test_asr.py were measured.
                why = ("not faster" if not faster else "error rises beyond the margin" if not acceptable
                       else f"faster within the margins on these {len(clips)} clips, too few to change the "
                            f"default (beam {original.beam_size}, where the accuracy bounds were measured)")
                if not forced:
                    why = "the kiosk knows each side's language; detection is for Auto only"
                decision = "off"
                rows.append(lever_row("ASR decoding", variant, "asr", p50, base_p50, accuracy, decision, why))
        finally:
            recognizer.options = original
        return rows

    def _overlap_rows(self) -> list[dict]:
        """Head start, sentence streaming and the first clause, each against the kiosk without it."""
        rows = []
        # One clip per language without head start, against the same clips' turns in the rounds.
        clips = {c.lang: c for c in self.turn_clips}.values()
        ran = [e2e for clip in clips for e2e in self.by_clip[clip.name]]
        other = [self.pipeline_turn(clip, head_start=not self.options.head_start)["e2e"] for clip in clips]
        with_it, without = (ran, other) if self.options.head_start else (other, ran)
        rows.append(lever_row("Overlap", "head start: the turn begins at a 200 ms pause", "e2e",
                              stats(with_it)["p50"], stats(without)["p50"], "none: the same audio is recognised",
                              "taken", "the endpointer's 600 ms wait is used"))

        # An answer of three sentences (the proxy decodes each): first audio with and without streaming.
        answer = " ".join(clip.reference.rstrip(".!?。") + "." for clip in self.turn_clips[:3])
        source = self.turn_clips[0].lang
        first_audio: dict[bool, list[float]] = {True: [], False: []}
        original = self.engines.settings
        try:
            for _ in range(2 if self.options.quick else 3):
                for streaming in (True, False):
                    self.engines.settings = dataclasses.replace(original, stream_sentences=streaming)
                    first_audio[streaming].append(self._first_audio(answer, source))
        finally:
            self.engines.settings = original
        rows.append(lever_row("Overlap", "answer of three sentences spoken sentence by sentence", "e2e",
                              stats(first_audio[True])["p50"], stats(first_audio[False])["p50"],
                              "none: the same sentences are translated", "taken",
                              "the rest is translated while the first sentence is spoken; CTranslate2 batches "
                              "the sentences of one call, so the gain grows with the answer's length"))

        long_sentence = "Please fill in this form with your address, and then sign at the bottom of the second page."
        from tts import SynthesisConfig

        first_chunk: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(3 if self.options.quick else 6):
            for clause in (True, False):
                config = SynthesisConfig() if clause else SynthesisConfig(first_clause_chars=None)
                started = time.monotonic()
                next(iter(self.voice.synthesize(long_sentence, config)))
                first_chunk[clause].append(time.monotonic() - started)
        rows.append(lever_row("Overlap", "TTS starts on the first clause of a long first sentence", "tts",
                              stats(first_chunk[True])["p50"], stats(first_chunk[False])["p50"],
                              "none: the same words; a pause the comma asks for anyway", "taken",
                              "speech starts on the clause"))
        return rows

    def _first_audio(self, text: str, source_lang: str) -> float:
        from kiosk.turn.pipeline import Speaking, Turn

        started = time.monotonic()
        for event in self.pipeline.run(Turn(target_lang=TARGET_LANG, source_lang=source_lang, text=text)):
            if isinstance(event, Speaking):
                return time.monotonic() - started
        raise RuntimeError("bench: the answer was not spoken")


def memory_rows(proxy_path: str | None, clip_path: str, lang: str, max_tokens: int | None) -> list[dict]:
    """The memory breakdown (``kiosk.measure.memory``) of this bench's configuration: the proxy as
    the MT model unless a real one is installed, the clip's language into English, two voices."""
    from asr.audio import load_audio
    from kiosk.measure.memory import breakdown

    translators = None
    if proxy_path is not None:
        from kiosk.store import catalog
        from mt.seq2seq import Seq2SeqOptions

        def translators() -> list:
            return [proxy_translator_class()(Path(proxy_path), family="m2m100", languages=catalog.LANGUAGE_CODES,
                                              model_id=MT_PROXY_ID, options=Seq2SeqOptions(max_decoding_length=max_tokens))]
    return breakdown(load_audio(clip_path), lang, TARGET_LANG, (TARGET_LANG, OFFICER_LANG), translators)


def lever_row(lever: str, variant: str, stage: str, p50_s: float | None, baseline_p50_s: float | None,
              accuracy: str, decision: str, why: str) -> dict:
    """One row of the levers table: a variant's p50 against the configuration it changes, measured
    in the same run, with its accuracy cost and whether the kiosk takes it."""
    gain = round(baseline_p50_s - p50_s, 4) if p50_s is not None and baseline_p50_s is not None else None
    return {"lever": lever, "variant": variant, "stage": stage, "p50_s": p50_s, "baseline_p50_s": baseline_p50_s,
            "gain_s": gain, "accuracy": accuracy, "decision": decision, "why": why}


# A lever may cost at most this much accuracy: the mean error rate over the clips may rise by
# 0.02 (about one word in fifty) and no language's mean by more than 0.10.
MEAN_ERROR_MARGIN = 0.02
LANGUAGE_ERROR_MARGIN = 0.10


def accuracy_change(base: dict[str, list[float]], variant: dict[str, list[float]], where: str) -> tuple[str, bool]:
    """The error rate's change from ``base`` to ``variant`` (per language, lists of clip error
    rates) as a short text, and whether it stays within the margins."""
    def mean(errs: dict[str, list[float]]) -> float:
        return float(np.mean([e for v in errs.values() for e in v]))

    worst_lang, worst_rise = max(((lang, float(np.mean(variant[lang]) - np.mean(base[lang]))) for lang in base),
                                 key=lambda item: item[1])
    acceptable = mean(variant) - mean(base) <= MEAN_ERROR_MARGIN and worst_rise <= LANGUAGE_ERROR_MARGIN
    text = f"mean error {mean(base):.3f} → {mean(variant):.3f}"
    if worst_rise > 0:
        text += f"; {worst_lang} +{worst_rise:.3f}"
    return f"{text} ({where})", acceptable


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
        f"- The run took {report['seconds']['start_and_rounds']:.0f} s to start and do its rounds"
        + (f", and {report['seconds']['levers_and_memory']:.0f} s more for the levers and the memory breakdown."
           if report.get("levers") else "."),
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
        "`WhisperModel.transcribe` with the recognizer's options on Whisper's 30 s window, which stock cannot "
        "shorten: the kiosk's short window for utterances of 3.5 s and more (README \"Speed\") takes its ratio "
        "below 1; on shorter ones it is the recognizer's own overhead.",
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
        f"| cold start to first turn possible: engines imported and loaded, the two voices included (s) | "
        f"{_f(report['cold_start_s'], 2)} | ≤ 4 |",
        f"| cold start to everything warm: each engine exercised once (s) | {_f(report['everything_warm_s'], 2)} | |",
        f"| peak RSS (MB) | {_f(report['peak_rss_mb'], 0)} | ≤ 1229 (1.2 GB) |",
        f"| steady RSS after the rounds (MB) | {_f(report['steady_rss_mb'], 0)} | |",
        "",
        "ASR error on the clips of this run (WER; CER for ko, zh, ja): "
        + ", ".join(f"{k} {v}" for k, v in report["asr_error_rate"].items()) + ".",
        "",
    ]
    if report.get("memory"):
        lines += ["## Where the memory goes", "",
                  "A fresh process loads each engine alone, then runs each stage once: RSS after each step, what it "
                  "added, and each stage's peak over the RSS before it (`VmHWM` reset through `/proc/self/clear_refs`).",
                  "", "| step | RSS (MB) | added (MB) | peak over steady (MB) |", "| --- | --- | --- | --- |"]
        for row in report["memory"]:
            lines.append(f"| {row['what']} | {_f(row['rss_mb'], 0)} | {_f(row.get('added_mb'), 0)} "
                         f"| {_f(row.get('peak_over_mb'), 0)} |")
        lines.append("")
    if report.get("levers"):
        lines += ["## Levers (measured in this run, one pass each)", "",
                  "Each variant against the configuration it changes, measured in the same run. Gain is baseline − "
                  f"variant (positive: faster). A lever that raises the mean error by more than {MEAN_ERROR_MARGIN} or "
                  f"a language's mean by more than {LANGUAGE_ERROR_MARGIN} stays off (the ASR window levers state "
                  "their own margins on the perturbed set).", "",
                  "| lever | variant | stage | p50 (s) | baseline p50 (s) | gain (s) | accuracy cost | decision |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in report["levers"]:
            lines.append(f"| {row['lever']} | {row['variant']} | {row['stage']} | {_f(row['p50_s'])} "
                         f"| {_f(row['baseline_p50_s'])} | {_f(row['gain_s'])} | {row['accuracy']} "
                         f"| {row['decision']}: {row['why']} |")
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
