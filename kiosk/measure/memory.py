"""Where the kiosk's resident memory goes: each engine loaded one at a time, then each stage's peak.

Run in a child process of its own (``breakdown_in_child``) so that the bench's own figures are
untouched: there the engines load side by side and cannot be told apart. Resident memory is
``VmRSS``; a stage's peak is ``VmHWM`` after writing 5 to ``/proc/self/clear_refs``, which resets
the high-water mark to the current RSS (Linux), so each stage's transient shows on its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(float(line.split()[1]) / 1024, 1)
    return float("nan")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def breakdown(turn_audio: np.ndarray, source_lang: str, target_lang: str, voices: tuple[str, ...],
              translators: Callable[[], list] | None = None) -> list[dict]:
    """Rows of (what, RSS after it in MB, added MB, or peak over the steady RSS for a stage)."""
    from kiosk.turn.heap import release_free_memory

    rows: list[dict] = []
    last = _status_mb("VmRSS")
    rows.append({"what": "Python, before the kiosk's engines are imported", "rss_mb": last, "added_mb": last})

    def loaded(what: str) -> None:
        nonlocal last
        release_free_memory()
        now = _status_mb("VmRSS")
        rows.append({"what": what, "rss_mb": now, "added_mb": round(now - last, 1)})
        last = now

    from kiosk.store.environment import from_environment
    from kiosk.turn.engines import Engines
    from kiosk.turn.settings import Settings

    loaded("libraries imported (CTranslate2, faster-whisper, onnxruntime, piper)")
    engines = Engines(Settings(), store=from_environment(), translators=translators)
    engines.recognizer.warm_up()
    loaded("recognition: whisper-base, loaded and warmed")
    for translator in engines.router.translators:
        translator.warm_up()
    loaded(f"translation: {', '.join(t.model_id for t in engines.router.translators) or 'none'}, loaded and warmed")
    for language in voices:
        voice = engines.voice(language)
        if hasattr(voice, "warm_up"):
            voice.warm_up()
        loaded(f"voice {language}: {getattr(voice, 'voice_id', 'none')}")

    def peak(what: str, stage: Callable[[], object]) -> None:
        release_free_memory()
        before = _status_mb("VmRSS")
        _reset_peak()
        stage()
        rows.append({"what": f"peak during {what}", "rss_mb": _status_mb("VmHWM"),
                     "peak_over_mb": round(_status_mb("VmHWM") - before, 1)})

    transcript = engines.recognizer.transcribe(turn_audio, language=source_lang)
    peak("recognition of a turn (forced language)",
         lambda: engines.recognizer.transcribe(turn_audio, language=source_lang))
    peak("translation of its transcript",
         lambda: engines.router.translate(transcript.text or "Hello.", source_lang, target_lang))
    target_voice = engines.voice(target_lang)
    if hasattr(target_voice, "synthesize"):
        peak("synthesis of one sentence", lambda: list(target_voice.synthesize("Please fill in this form and sign.")))
    return rows


def breakdown_in_child(code: str) -> list[dict]:
    """Run ``code`` (which prints ``json.dumps(breakdown(...))`` as its last line) in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])
