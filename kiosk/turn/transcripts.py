"""The transcript log, kept only when staff turn on ``[privacy] keep_transcripts`` (off by default).

With it off (the default) no word a resident or officer said is ever written anywhere. With it
on, each finished turn's text (never audio) is appended to one JSON-lines file a day in
``<data dir>/transcripts/``, readable by the kiosk's user only. Deleting those files is the
operator's duty; the README says so.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from kiosk.store import environment
from kiosk.turn.session import TurnRecord


def transcripts_dir() -> Path:
    # Read from the environment on each call (the controller that appends has no store of its own).
    return environment.data_dir() / "transcripts"


def append(turn: TurnRecord, directory: Path | None = None) -> Path:
    """Add one finished turn to today's file; return the file."""
    directory = directory or transcripts_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now().astimezone()
    path = directory / f"{now:%Y-%m-%d}.jsonl"
    record = {"time": now.isoformat(timespec="seconds"), "side": turn.side, "origin": turn.origin,
              "source_lang": turn.source_lang, "target_lang": turn.target_lang, "original": turn.original,
              "translation": turn.translation, "engine": turn.engine}
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
