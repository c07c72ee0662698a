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
    model_rows = []
    defaults_ok = True
    for entry in catalog.models().values():
        model = present.get(entry.id)
        check = models.check_model(model) if model else models.Check(entry.id, "missing", ("not installed",))
        if entry.default and not check.ok:
            defaults_ok = False
        if model or entry.default:
            model_rows.append({"id": entry.id, "kind": entry.kind, "default": entry.default, "state": check.state,
                               "problems": list(check.problems)})

    espeak = _espeak_voices()
    languages = []
    for lang in catalog.languages().values():
        piper_ok = bool(lang.piper_voice) and lang.piper_voice in present
        espeak_ok = espeak is not None and lang.espeak_voice is not None and lang.espeak_voice in espeak
        fonts = _fonts_for(lang.code)
        languages.append({
            "code": lang.code,
            "name": lang.english,
            "voice": lang.piper_voice if piper_ok else (f"espeak-ng:{lang.espeak_voice}" if espeak_ok else None),
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
        "ok": defaults_ok and espeak is not None,
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
        lines.append(f"  {m['id']:<28} {m['state']:<9}{' (default)' if m['default'] else ''} {'; '.join(m['problems'])}")
    lines += ["", f"espeak-ng: {result['espeak_ng'] or 'MISSING (apt-get install espeak-ng)'}", "", "Languages (voice, font):"]
    for lang in result["languages"]:
        font = "ok" if lang["font_ok"] else f"MISSING font (have: {', '.join(lang['fonts']) or 'none'})"
        lines.append(f"  {lang['code']}  {lang['name']:<32} voice: {lang['voice'] or 'none (text only)':<32} font: {font}")
    audio = result["audio"]
    lines += ["", "Audio: " + (f"{len(audio['inputs'])} input(s), {len(audio['outputs'])} output(s)" if audio["ok"] else audio["error"])]
    lines += [f"CPU threads: {result['cpu_threads']}", f"Data dir: {result['data_dir']}", f"Network: {result['network']}"]
    return "\n".join(lines)
