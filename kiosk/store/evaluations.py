"""Measured translation quality, kept in the model store beside each model's manifest.

``kiosk eval mt`` (``kiosk.measure.eval_mt``) writes ``<model dir>/evaluation.json``; the
engines (routing by measured quality), ``kiosk doctor``, the staff panel and the About card
read it here. The file is not in the manifest, so it changes no checksum; removing the model
removes it, and a pack does not carry it (a measurement belongs to the machine it ran on).

Shape (``version`` 1)::

    {"version": 1, "model_id": "m2m100-418m", "date": "2026-12-01T05:00:00+00:00",
     "kiosk_version": "0.1.0", "cpu": "...", "threads": 4, "sacrebleu": "2.6.0",
     "metrics": {"chrf": "...", "bleu": "..."},
     "sets": {"phrasebook": {"description": "...", "pairs": {"ko-vi": {
         "sentences": 99, "chrf": 41.2, "bleu": 12.3, "bleu_tokenizer": "13a",
         "target_script_share": 1.0, "ms_per_sentence": 80.1, "tokens_per_s": 150.2}}},
              "fleurs": {...}}}

Routing uses the phrasebook set: every model is measured on the same sentences for every pair.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.store.models import ModelStore

log = logging.getLogger(__name__)

EVALUATION = "evaluation.json"
VERSION = 1
ROUTING_SET = "phrasebook"


def read(model_dir: Path | None) -> dict | None:
    """The evaluation stored beside a model, or None (none, unreadable or of another shape)."""
    if model_dir is None:
        return None
    path = Path(model_dir) / EVALUATION
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("ignoring %s: %s", path, type(error).__name__)
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("sets"), dict):
        return None
    return data


def write(model_dir: Path, evaluation: dict) -> Path:
    """Write an evaluation beside the model's manifest, replacing the last one in one rename."""
    path = Path(model_dir) / EVALUATION
    staged = path.with_name(f".{EVALUATION}.tmp")
    staged.write_text(json.dumps(evaluation, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(staged, path)
    return path


@dataclass(frozen=True)
class Summary:
    """What the staff panel and the About card show: when, and the mean chrF++ over the pairs."""

    date: str  # YYYY-MM-DD
    chrf: float
    pairs: int


def summary(evaluation: dict | None) -> Summary | None:
    if not evaluation:
        return None
    pairs = evaluation["sets"].get(ROUTING_SET, {}).get("pairs") or next(
        (s.get("pairs") for s in evaluation["sets"].values() if s.get("pairs")), {})
    scores = [row["chrf"] for row in pairs.values() if isinstance(row.get("chrf"), (int, float))]
    if not scores:
        return None
    return Summary(str(evaluation.get("date", ""))[:10], round(sum(scores) / len(scores), 1), len(scores))


def measured_quality(store: ModelStore) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(model id, source, target) -> (chrF++, ms per sentence) from the phrasebook set of every
    installed model's evaluation: what the router ranks models by."""
    quality = {}
    for model in store.installed().values():
        evaluation = read(model.path)
        if evaluation is None:
            continue
        for pair, row in evaluation["sets"].get(ROUTING_SET, {}).get("pairs", {}).items():
            source, _, target = pair.partition("-")
            try:
                quality[(model.id, source, target)] = (float(row["chrf"]), float(row.get("ms_per_sentence") or 0.0))
            except (KeyError, TypeError, ValueError):
                continue
    return quality


# Measured speech recognition (``kiosk eval asr``, ``kiosk.measure.eval_asr``), beside the model's
# manifest as well. Shape (``version`` 1)::
#
#     {"version": 1, "model_id": "whisper-base", "date": "2026-12-01T05:00:00+00:00",
#      "kiosk_version": "0.1.0", "cpu": "...", "threads": 2, "manifest": "/.../manifest.tsv",
#      "languages": {"ko": {"clips": 17, "metric": "cer", "error": 0.069, "language_id": 1.0,
#                           "p50_s": 1.1, "worst_s": 1.6}, ...},
#      "overall": {"clips": 66, "p50_s": 1.1, "worst_s": 1.9}}
#
# ``error`` is the mean per-clip CER (metric "cer") or WER; ``language_id`` the share of clips whose
# language was detected right among the kiosk's 13; times are seconds of decoding per clip.
ASR_EVALUATION = "evaluation-asr.json"


def write_asr(model_dir: Path, evaluation: dict) -> Path:
    """Write a speech recognition evaluation beside the model's manifest, in one rename."""
    path = Path(model_dir) / ASR_EVALUATION
    staged = path.with_name(f".{ASR_EVALUATION}.tmp")
    staged.write_text(json.dumps(evaluation, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(staged, path)
    return path


def measured_asr(store: ModelStore, model_id: str) -> dict | None:
    """The parsed ``evaluation-asr.json`` of an installed model, or None (not installed, not
    measured, unreadable or of another shape)."""
    model = store.installed().get(model_id)
    if model is None:
        return None
    path = Path(model.path) / ASR_EVALUATION
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("ignoring %s: %s", path, type(error).__name__)
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("languages"), dict):
        return None
    return data
