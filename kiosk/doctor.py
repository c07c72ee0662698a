"""`kiosk doctor`: what this machine can do, checked without using the network."""

from __future__ import annotations

import os
import shutil
import subprocess

from kiosk import catalog, models
from kiosk.audio import AudioDeviceError, devices

# fontconfig's language tags for coverage checks (Latin is checked with Vietnamese diacritics).
FONTCONFIG_LANG = {
    "ko": "ko", "en": "en", "zh": "zh-cn", "vi": "vi", "th": "th", "ru": "ru", "ja": "ja",
    "uz": "uz", "mn": "mn-mn", "ne": "ne", "km": "km", "id": "id", "tl": "tl",
}


def _espeak_voices() -> set[str] | None:
    if not shutil.which("espeak-ng"):
        return None
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10).stdout
    return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}


def _fonts_for(language: str) -> list[str]:
    if not shutil.which("fc-list"):
        return []
    out = subprocess.run(["fc-list", f":lang={FONTCONFIG_LANG[language]}", "family"], capture_output=True, text=True, timeout=10)
    return sorted({line.split(",")[0].strip() for line in out.stdout.splitlines() if line.strip()})


def report() -> dict:
    present = models.installed()
    catalogue = catalog.models()
    # The start-up check: every installed model's sha256; the kiosk refuses a model that fails it.
    checks = {check.model_id: check for check in models.verify_installed()}
    shown = [e.id for e in catalogue.values() if e.id in present or e.default] + [i for i in present if i not in catalogue]
    model_rows = []
    for model_id in shown:
        entry = catalogue.get(model_id)
        check = checks.get(model_id, models.Check(model_id, "missing", ("not installed",)))
        model_rows.append({"id": model_id, "kind": entry.kind if entry else present[model_id].kind,
                           "default": bool(entry and entry.default), "state": check.state,
                           "refused": model_id in present and not check.ok, "problems": list(check.problems)})
    models_ok = all(row["state"] in ("verified", "installed") for row in model_rows)

    espeak = _espeak_voices()
    languages = []
    for lang in catalog.languages().values():
        piper_voice = models.installed_voice(lang.code, lang.piper_voice)
        espeak_ok = espeak is not None and lang.espeak_voice is not None and lang.espeak_voice in espeak
        fonts = _fonts_for(lang.code)
        languages.append({
            "code": lang.code,
            "name": lang.english,
            "voice": piper_voice or (f"espeak-ng:{lang.espeak_voice}" if espeak_ok else None),
            "font_ok": lang.font in fonts,
            "fonts": fonts[:3],
        })

    try:
        found = devices()
        audio = {"ok": True, "inputs": [d["name"] for d in found if d["max_input_channels"] > 0],
                 "outputs": [d["name"] for d in found if d["max_output_channels"] > 0]}
    except AudioDeviceError as error:
        audio = {"ok": False, "error": str(error), "inputs": [], "outputs": []}

    return {
        "ok": models_ok and espeak is not None,
        "models": model_rows,
        "espeak_ng": shutil.which("espeak-ng"),
        "languages": languages,
        "audio": audio,
        "cpu_threads": len(os.sched_getaffinity(0)),
        "data_dir": str(models.data_dir()),
        "network": "not used: every model runs from local files; nothing is sent anywhere",
    }


def render(result: dict) -> str:
    lines = [f"kiosk doctor: {'OK' if result['ok'] else 'PROBLEMS FOUND'}", "", "Models:"]
    for m in result["models"]:
        refused = " REFUSED, not loaded:" if m["refused"] else ""
        lines.append(f"  {m['id']:<28} {m['state']:<9}{' (default)' if m['default'] else ''}{refused} {'; '.join(m['problems'])}")
    lines += ["", f"espeak-ng: {result['espeak_ng'] or 'MISSING (apt-get install espeak-ng)'}", "", "Languages (voice, font):"]
    for lang in result["languages"]:
        font = "ok" if lang["font_ok"] else f"MISSING font (have: {', '.join(lang['fonts']) or 'none'})"
        lines.append(f"  {lang['code']}  {lang['name']:<32} voice: {lang['voice'] or 'none (text only)':<32} font: {font}")
    audio = result["audio"]
    lines += ["", "Audio: " + (f"{len(audio['inputs'])} input(s), {len(audio['outputs'])} output(s)" if audio["ok"] else audio["error"])]
    lines += [f"CPU threads: {result['cpu_threads']}", f"Data dir: {result['data_dir']}", f"Network: {result['network']}"]
    return "\n".join(lines)
