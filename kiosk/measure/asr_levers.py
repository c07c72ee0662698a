"""The ASR levers of ``kiosk bench --levers`` (issue #17): shorter encoder windows, scored on a perturbed set.

Whisper pads every utterance to a 30 s window, and on 2 CPU cores the encoder is most of the
cost of a short one. The recognizer's ``min_window_s`` encodes a shorter window instead, but it
broke short, quiet or resampled Mandarin clips (``asr.whisper``'s module doc), so each variant
is scored on a **perturbed set** built in memory from real clips, not on the clean clips alone:
each clip as recorded, 20 dB quieter, resampled through 8 kHz (telephone band) and with seeded
white noise at 10 dB SNR, plus a copy cut after its first sentence where a clip has a clear pause
there (a short utterance in Korean and Japanese as well as the short Mandarin ones).

The variants, each with the recognizer's own options and the clip's language forced (as the
kiosk does): Whisper's 30 s window (the baseline); ``min_window_s`` 10, 15 and
20 s; the 10 s window only for utterances of at least ``SHORT_WINDOW_FROM_S``
(``WhisperOptions.short_window_from_s``); and the dual decode (30 s and 10 s windows, the short
result kept only when both agree). The last two are composed from the decodes of the 30 s and
10 s variants rather than decoded again (the same audio with the same options decodes to the same
text; only a temperature fallback samples), which keeps the pass near 90 s on 2 cores.

The decision rule (issue #17): a lever that raises the mean error beyond ``MEAN_MARGIN``, or the
error of any one utterance beyond ``WORST_MARGIN``, over the 30 s window on the perturbed set
stays off; so does one that is not faster.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import soxr

from asr import SAMPLE_RATE
from kiosk.measure import bench
from text.normalise import match_key

log = logging.getLogger(__name__)

# Clips covering zh (the two 2.3 s aishell clips the short window broke, and a 4.3 s one), ko,
# ja, en and ru; bench's clip names (manifest path, or librivox:<file id>).
PERTURBED_CLIPS = (
    "zh/aishell3_SSB10560454.wav", "zh/aishell3_SSB02410161.wav", "zh/aishell1_BAC009S0724W0121.wav",
    "ko/deeply_sub100121a00045.wav", "ja/cv_ja_38853932.wav",
    "librivox:sense_and_sensibility_01_austen_64kb-0880", "ru/golos_001ce26c07c20eaa0d666b824c6c6924.wav",
)
# Cut after the first sentence, in the pause that follows it (from the clip's word timestamps
# and energy): clip -> (seconds kept, what is said in them).
TRIMS = {
    "ko/deeply_sub100121a00045.wav": (1.8, "자, 이쪽으로 오세요."),
    "ja/cv_ja_38853932.wav": (2.9, "王もこのやり方は喜んでいません。"),
}
QUICK_CLIPS = ("zh/aishell3_SSB02410161.wav",)
ORIGINAL, QUIET, TELEPHONE, NOISY, TRIMMED = "original", "quiet -20 dB", "8 kHz", "noise 10 dB SNR", "trimmed"
PERTURBATIONS = (ORIGINAL, QUIET, TELEPHONE, NOISY, TRIMMED)
QUICK_PERTURBATIONS = (ORIGINAL, TELEPHONE)
QUIET_DB = -20.0
TELEPHONE_RATE = 8000
NOISE_SNR_DB = 10.0

# The short window the length rule and the dual decode use (the fastest one measured).
SHORT_WINDOW_S = 10.0
# The length from which the short window is used, chosen from this set's results (2026-12, Intel
# Xeon 2 cores): every rise beyond WORST_MARGIN was on the 2.3 s Mandarin clips, none from the
# 2.9 s Japanese cut up; 3.5 s is 1.5 x the longest that failed. Checked on held-out clips (six
# other zh and ko clips of 3.9-5.5 s, same perturbations, 24 utterances): mean 0.246 -> 0.237,
# largest rise on one utterance +0.07.
SHORT_WINDOW_FROM_S = 3.5
# Margins of the decision rule, absolute, against the 30 s window on the same set in the same pass.
# Mean: one utterance of ~30 that breaks (error 1.0 where the baseline had ~0.1) moves the mean by
# ~0.03, so 0.02 lets no broken utterance through but absorbs a few single-unit slips.
# Worst: 0.20 is one character of the shortest reference (5 characters); a one-unit slip on the
# hardest utterance is within what int8 decoding moves between CPUs, an empty or garbled one is not.
MEAN_MARGIN = 0.02
WORST_MARGIN = 0.20
LEVER = "ASR window"


@dataclass(frozen=True)
class Utterance:
    clip: str
    perturbation: str
    lang: str
    reference: str
    audio: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.audio.size / SAMPLE_RATE


@dataclass(frozen=True)
class Decoded:
    text: str
    seconds: float
    error: float


# --- the perturbed set -------------------------------------------------------------------------

def quieter(audio: np.ndarray, db: float = QUIET_DB) -> np.ndarray:
    return (audio * 10 ** (db / 20)).astype(np.float32)


def telephone(audio: np.ndarray, rate: int = TELEPHONE_RATE) -> np.ndarray:
    """Down to ``rate`` and back (soxr): what is above ``rate`` / 2 is gone."""
    return soxr.resample(soxr.resample(audio, SAMPLE_RATE, rate), rate, SAMPLE_RATE).astype(np.float32)


def with_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """White noise at ``snr_db`` below the speech: the mean power of the 20 ms frames within 30 dB
    of the loudest (the pauses would otherwise dilute it)."""
    frames = audio[: audio.size // 320 * 320].reshape(-1, 320)
    power = (frames.astype(np.float64) ** 2).mean(axis=1)
    speech_power = power[power >= power.max() * 1e-3].mean()
    noise = np.random.default_rng(seed).standard_normal(audio.size) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def perturbed(audio: np.ndarray, perturbation: str, seed: int) -> np.ndarray:
    """The copy of ``audio`` that ``perturbation`` names (all but ``TRIMMED``, which needs a clip's cut)."""
    if perturbation == QUIET:
        return quieter(audio)
    if perturbation == TELEPHONE:
        return telephone(audio)
    if perturbation == NOISY:
        return with_noise(audio, NOISE_SNR_DB, seed)
    if perturbation == ORIGINAL:
        return audio
    raise ValueError(f"no such perturbation: {perturbation}")


def perturbed_set(quick: bool = False) -> list[Utterance]:
    """The perturbed utterances of the clips that are present (none without ../shared and librivox)."""
    from asr.audio import load_audio

    known = {**bench._manifest(), **bench._librivox()}
    chosen = QUICK_CLIPS if quick else PERTURBED_CLIPS
    wanted = QUICK_PERTURBATIONS if quick else PERTURBATIONS
    missing = [name for name in chosen if name not in known]
    if missing:
        log.warning("ASR levers: clip(s) not found, left out: %s", ", ".join(missing))
    utterances = []
    for name in chosen:
        if name not in known:
            continue
        clip = known[name]
        audio = load_audio(clip.path)
        for perturbation in wanted:
            if perturbation != TRIMMED:
                copy = perturbed(audio, perturbation, seed=zlib.crc32(name.encode()))
                utterances.append(Utterance(name, perturbation, clip.lang, clip.reference, copy))
        if TRIMMED in wanted and name in TRIMS:
            seconds, said = TRIMS[name]
            if clip.reference.startswith(said):  # else the manifest changed under the cut
                utterances.append(Utterance(name, TRIMMED, clip.lang, said, audio[: round(seconds * SAMPLE_RATE)]))
    return utterances


# --- decoding and scoring ----------------------------------------------------------------------

def decode(recognizer, utterances: Sequence[Utterance], windows: Sequence[float | None]) -> dict:
    """window (None: 30 s) -> one ``Decoded`` per utterance; the recognizer's options otherwise,
    restored after. Utterance by utterance, every window in turn, so that a change in the machine's
    load falls on all variants alike."""
    original = recognizer.options
    results = {window: [] for window in windows}
    try:
        for u in utterances:
            for window in windows:
                recognizer.options = dataclasses.replace(original, min_window_s=window, short_window_from_s=None)
                started = time.monotonic()
                text = recognizer.transcribe(u.audio, language=u.lang).text
                seconds = time.monotonic() - started
                results[window].append(Decoded(text, seconds, bench.error_rate(u.reference, text, u.lang)))
    finally:
        recognizer.options = original
    return results


def from_length(utterances, baseline: list[Decoded], short: list[Decoded], from_s: float) -> list[Decoded]:
    """What ``short_window_from_s`` gives: the short window's result from ``from_s`` on, else the 30 s one."""
    return [s if u.duration_s >= from_s else b for u, b, s in zip(utterances, baseline, short)]


def agree(baseline: Decoded, short: Decoded) -> bool:
    return match_key(baseline.text) == match_key(short.text)


def dual(baseline: list[Decoded], short: list[Decoded]) -> list[Decoded]:
    """Both decodes in turn on the one loaded model; the short result kept only when the two agree.
    The result is known only when both are done, so it takes the sum of the two."""
    return [Decoded(s.text if agree(b, s) else b.text, b.seconds + s.seconds, s.error if agree(b, s) else b.error)
            for b, s in zip(baseline, short)]


@dataclass(frozen=True)
class Summary:
    p50_s: float
    errors: tuple[float, ...]  # one per utterance, in the set's order
    by_perturbation: dict[str, float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.errors))

    @property
    def worst(self) -> float:
        return max(self.errors)


def summarise(utterances: Sequence[Utterance], decoded: Sequence[Decoded]) -> Summary:
    by = {}
    for u, d in zip(utterances, decoded):
        by.setdefault(u.perturbation, []).append(d.error)
    return Summary(bench.stats([d.seconds for d in decoded])["p50"], tuple(d.error for d in decoded),
                   {p: float(np.mean(v)) for p, v in by.items()})


def worst_rise(baseline: Summary, variant: Summary) -> float:
    """The largest rise in error on one utterance. The worst case is compared utterance by utterance:
    the set's maximum alone would hide a clip the lever breaks behind a hard (noisy) one that the
    30 s window already gets mostly wrong."""
    return max(v - b for b, v in zip(baseline.errors, variant.errors))


def decide(baseline: Summary, variant: Summary) -> tuple[str, str]:
    """("taken" | "off", why): off when the mean error, or the error of any one utterance, rises
    beyond its margin, or when it is not faster."""
    reasons = []
    if variant.mean > baseline.mean + MEAN_MARGIN + 1e-9:
        reasons.append(f"mean error +{variant.mean - baseline.mean:.3f} > {MEAN_MARGIN}")
    rise = worst_rise(baseline, variant)
    if rise > WORST_MARGIN + 1e-9:
        reasons.append(f"worst case: one utterance +{rise:.2f} > {WORST_MARGIN}")
    if variant.p50_s >= baseline.p50_s:
        reasons.append("not faster")
    if reasons:
        return "off", "; ".join(reasons)
    return "taken", f"within margins (mean +{MEAN_MARGIN}, worst +{WORST_MARGIN}) and faster"


def _accuracy(baseline: Summary, variant: Summary, clips: int) -> str:
    per = ", ".join(f"{p} {baseline.by_perturbation[p]:.3f} → {v:.3f}" for p, v in variant.by_perturbation.items())
    return (f"mean {baseline.mean:.3f} → {variant.mean:.3f}, worst {baseline.worst:.2f} → {variant.worst:.2f}, "
            f"largest rise on one utterance {worst_rise(baseline, variant):+.2f} "
            f"(perturbed set, {len(variant.errors)} utterances from {clips} clips; {per})")


def _s(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.2f} s"


def asr_lever_rows(recognizer, *, quick: bool = False,
                   utterances: Sequence[Utterance] | None = None,
                   on_decoded: Callable[[dict], None] | None = None) -> list[dict]:
    """One row per ASR window variant on the perturbed set (``perturbed_set(quick)`` unless given):
    lever, variant, stage, p50_s, baseline_p50_s, gain_s, accuracy, decision, why. The recognizer's
    options are restored after. ``on_decoded`` gets the raw decodes (window -> list of ``Decoded``)."""
    utterances = perturbed_set(quick) if utterances is None else list(utterances)
    if not utterances:
        log.warning("ASR levers: no clips (../shared/data/speech and pocketsphinx-testdata missing)")
        return []
    windows = (None, SHORT_WINDOW_S, 15.0, 20.0)
    decoded = decode(recognizer, utterances, windows)
    if on_decoded is not None:
        on_decoded(decoded)
    baseline, short = decoded[None], decoded[SHORT_WINDOW_S]
    agreeing = [agree(b, s) for b, s in zip(baseline, short)]
    # On a turn where they agree, the short text was ready this much sooner: what speculative MT on it could win.
    sooner = bench.stats([b.seconds - s.seconds for b, s, same in zip(baseline, short, agreeing) if same])["p50"]
    long = [i for i, u in enumerate(utterances) if u.duration_s >= SHORT_WINDOW_FROM_S]
    long_p50 = [bench.stats([d[i].seconds for i in long])["p50"] for d in (baseline, short)]
    variants = [
        ("30 s window (Whisper's own)", baseline, None),
        *((f"min_window_s {w:g} s", decoded[w], None) for w in windows[1:]),
        (f"{SHORT_WINDOW_S:g} s window from {SHORT_WINDOW_FROM_S:g} s of audio, 30 s below",
         from_length(utterances, baseline, short, SHORT_WINDOW_FROM_S),
         f"{len(long)} of {len(utterances)} utterances that long: p50 {_s(long_p50[0])} → {_s(long_p50[1])} on them"),
        (f"dual decode 30 s + {SHORT_WINDOW_S:g} s, short kept when both agree", dual(baseline, short),
         (f"agree on {sum(agreeing)}/{len(utterances)}; the kept result is known only after the 30 s decode "
          f"(on agreeing ones the short text is ready {_s(sooner)} sooner, p50: a gain only for speculative MT)")),
    ]
    base = summarise(utterances, baseline)
    clips = len({u.clip for u in utterances})
    rows = []
    for label, results, note in variants:
        summary = summarise(utterances, results)
        if results is baseline:
            decision, why = "reference", "the others' baseline; the kiosk keeps it for utterances under 3.5 s"
        else:
            decision, why = decide(base, summary)
        rows.append({
            "lever": LEVER, "variant": label, "stage": "asr", "p50_s": summary.p50_s, "baseline_p50_s": base.p50_s,
            "gain_s": round(base.p50_s - summary.p50_s, 4), "accuracy": _accuracy(base, summary, clips),
            "decision": decision, "why": f"{why}; {note}" if note else why,
        })
    return rows


def main() -> None:
    """``python -m kiosk.measure.asr_levers``: the full pass on the kiosk's recognizer, rows as JSON
    on stdout, each utterance's errors and times on stderr."""
    import json
    import sys

    from kiosk.turn.engines import Engines

    logging.basicConfig(level=logging.WARNING)
    recognizer = Engines().recognizer
    recognizer.warm_up()
    started, cpu_started = time.monotonic(), time.process_time()
    utterances = perturbed_set(quick="--quick" in sys.argv)

    def show(decoded: dict) -> None:
        for i, u in enumerate(utterances):
            cells = "  ".join(f"{decoded[w][i].error:.2f}/{decoded[w][i].seconds:.2f}s" for w in decoded)
            print(f"{u.clip:52} {u.perturbation:16} {u.duration_s:5.2f}s  {cells}  "
                  f"30s={decoded[None][i].text!r} 10s={decoded[SHORT_WINDOW_S][i].text!r}", file=sys.stderr)

    rows = asr_lever_rows(recognizer, utterances=utterances, on_decoded=show)
    print(json.dumps({"seconds": round(time.monotonic() - started, 1),
                      "cpu_seconds": round(time.process_time() - cpu_started, 1), "utterances": len(utterances),
                      "cpu": bench.cpu_model(), "rows": rows}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
