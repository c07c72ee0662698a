"""`kiosk doctor`: what this machine can do, checked without using the network."""

from __future__ import annotations

import os
import shutil
import subprocess

from kiosk.audio.devices import AudioDeviceError, devices
from kiosk.cli.output import print_json
from kiosk.servers import ServerRoutes
from kiosk.staff.config import load as load_config
from kiosk.store import catalog
from kiosk.store.environment import from_environment
from kiosk.store.models import ModelStore
from kiosk.turn.capability import levels
from kiosk.turn.coverage import coverage, declared_router, translation_models
from kiosk.turn.remote import probe


def _espeak_voices() -> set[str] | None:
    if not shutil.which("espeak-ng"):
        return None
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10).stdout
    return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}


def _fonts_for(fontconfig_lang: str) -> list[str]:
    """The font families fontconfig says cover a language (its fontconfig tag)."""
    if not shutil.which("fc-list"):
        return []
    out = subprocess.run(["fc-list", f":lang={fontconfig_lang}", "family"], capture_output=True, text=True, timeout=10)
    return sorted({line.split(",")[0].strip() for line in out.stdout.splitlines() if line.strip()})


def report(store: ModelStore) -> dict:
    # The start-up check: every installed model's sha256; the kiosk refuses a model that fails it.
    # Shown: the installed models and the defaults; a default in no store is missing.
    model_rows = [{"id": row.id, "kind": row.kind, "default": row.default,
                   "state": row.state if row.in_store else "missing", "refused": row.refused,
                   "problems": list(row.problems)}
                  for row in store.inventory(full=True, available=True) if row.in_store or row.default]
    models_ok = all(row["state"] in ("verified", "installed") for row in model_rows)

    espeak = _espeak_voices()
    # By code: voice and font, and what a resident can do there (kiosk.turn.capability).
    languages = {}
    speech = levels(store)
    for lang in catalog.languages().values():
        neural_voice = store.installed_voice(lang.code, lang.piper_voice)  # Piper or Kokoro
        espeak_ok = espeak is not None and lang.espeak_voice is not None and lang.espeak_voice in espeak
        fonts = _fonts_for(lang.fontconfig)
        languages[lang.code] = {
            "code": lang.code,
            "name": lang.english,
            "voice": neural_voice or (f"espeak-ng:{lang.espeak_voice}" if espeak_ok else None),
            "font_ok": lang.font in fonts,
            "fonts": fonts[:3],
            **speech[lang.code].as_dict(),
        }

    try:
        found = devices()
        audio = {"ok": True, "inputs": [d["name"] for d in found if d["max_input_channels"] > 0],
                 "outputs": [d["name"] for d in found if d["max_output_channels"] > 0]}
    except AudioDeviceError as error:
        audio = {"ok": False, "error": str(error), "inputs": [], "outputs": []}

    translation = translation_report(store)
    routes = load_config().config.servers
    server_rows = servers_report(routes)
    return {
        "ok": models_ok and espeak is not None and all(row["ok"] for row in server_rows),
        # Problems that leave the kiosk running but short of what it offers; `--strict` fails on them.
        "warnings": translation["warnings"],
        "models": model_rows,
        "translation": translation,
        "espeak_ng": shutil.which("espeak-ng"),
        "languages": languages,
        "audio": audio,
        "cpu_threads": len(os.sched_getaffinity(0)),
        "data_dir": str(store.data_dir),
        "servers": server_rows,
        "network": ("only the configured on-prem servers: " + ", ".join(f"{h}:{p}" for h, p in sorted(routes.addresses()))
                    if routes.routes() else "not used: every model runs from local files; nothing is sent anywhere"),
    }


def servers_report(routes: ServerRoutes, timeout_s: float = 5.0) -> list[dict]:
    """Each configured server: does it answer (Wyoming describe -> info, OpenAI GET /models), what
    model it serves, and which routed languages it does not cover (``kiosk.turn.remote.probe``)."""
    return [probe(route, timeout_s) for route in routes.routes()]


def translation_report(store: ModelStore) -> dict:
    """Which model serves each resident language <-> Korean pair (the router's first route), and what is missing."""
    models = [m.id for m in translation_models(store)]
    rows = [row.as_dict() for row in coverage(declared_router(store), store)]
    missing = [row for row in rows if row["phrasebook_only"]]
    warnings = []
    if not models:
        warnings.append(f"no translation model is installed: only the phrasebook's phrases are translated; "
                        f"install {_recommended(rows)} "
                        f"(kiosk models pull ID, or kiosk models import PACK)")
    elif missing:
        warnings.append(f"{len(missing)} of {len(rows)} language pairs have only the phrasebook "
                        f"({' '.join(row['pair'] for row in missing)}); install {_recommended(missing)}")
    return {"models": models, "pairs": rows, "phrasebook_only": [row["pair"] for row in missing], "warnings": warnings}


def _recommended(rows: list[dict]) -> str:
    return ", ".join(dict.fromkeys(row["recommended"] for row in rows if row["recommended"])) or "a translation model"


def render(result: dict) -> str:
    verdict = "PROBLEMS FOUND" if not result["ok"] else "OK, WITH WARNINGS" if result["warnings"] else "OK"
    lines = [f"kiosk doctor: {verdict}", *(f"  warning: {w}" for w in result["warnings"]), "", "Models:"]
    for m in result["models"]:
        refused = " REFUSED, not loaded:" if m["refused"] else ""
        lines.append(f"  {m['id']:<28} {m['state']:<9}{' (default)' if m['default'] else ''}{refused} {'; '.join(m['problems'])}")
    lines += ["", "Translation (the model a turn uses first):"]
    for row in result["translation"]["pairs"]:
        served = (f"{row['model']} (via {row['pivot']})" if row["pivot"] else row["model"]) if row["model"] else \
            f"phrasebook only (install {row['recommended']})"
        lines.append(f"  {row['source']} -> {row['target']}  {served}")
    lines += ["", f"espeak-ng: {result['espeak_ng'] or 'MISSING (apt-get install espeak-ng)'}", "", "Languages (voice, font; speech):"]
    for lang in result["languages"].values():
        font = "ok" if lang["font_ok"] else f"MISSING font (have: {', '.join(lang['fonts']) or 'none'})"
        lines.append(f"  {lang['code']}  {lang['name']:<32} voice: {lang['voice'] or 'none (text only)':<32} font: {font}")
        lines.append(f"      {lang['speech_level']:<21} {lang['asr_model'] or 'no ASR model'}  {_error(lang)}")
    audio = result["audio"]
    lines += ["", "Audio: " + (f"{len(audio['inputs'])} input(s), {len(audio['outputs'])} output(s)" if audio["ok"] else audio["error"])]
    for row in result["servers"]:
        state = "ok" if row["ok"] else row["error"] or f"does not serve {' '.join(row['missing_languages'])}"
        lines.append(f"Server {row['role']}: {row['url']} ({', '.join(row['models']) or 'no model'}) "
                     f"for {' '.join(row['languages'])}: {state}")
    lines += [f"CPU threads: {result['cpu_threads']}", f"Data dir: {result['data_dir']}", f"Network: {result['network']}"]
    return "\n".join(lines)


def _error(lang: dict) -> str:
    if lang["measured_error"] is None:
        return f"declared: {lang['declared'] or 'no figure'}"
    where = f"measured {lang['measured_on']}" if lang["error_source"] == "measured" else "declared"
    return f"{lang['metric'].upper()} {lang['measured_error']:.3f} ({where})"


def command(args) -> int:
    result = report(from_environment())
    if args.json:
        print_json(result)
    else:
        print(render(result))
    if not result["ok"]:
        return 1
    return 1 if args.strict and result["warnings"] else 0
