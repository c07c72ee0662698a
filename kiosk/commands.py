"""What each CLI command does; ``kiosk.cli`` only parses arguments."""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np

from kiosk import catalog, models
from kiosk.errors import BadInput, KioskError, ModelMissing, ProvisioningFailed
from kiosk.pipeline import AUTO, Audio, Done, Failed, Pipeline, Turn, TurnResult
from tts import SpeechChunk, SpeechUnavailable, SynthesisConfig

SAMPLES_DIR = catalog.ASSETS_DIR / "samples"


def _print_json(obj) -> None:
    # Flushed: `kiosk listen --json` is read line by line while it runs.
    print(json.dumps(obj, ensure_ascii=False, indent=None, default=str), flush=True)


def _language(code: str) -> str:
    try:
        return catalog.language(code).code
    except KeyError as error:
        raise BadInput(error.args[0]) from None


def _speech_config(rate: float) -> SynthesisConfig:
    try:
        return SynthesisConfig(rate=rate)
    except ValueError as error:
        raise BadInput(str(error)) from None


def _engines():
    from kiosk.engines import Engines

    return Engines()


def write_wav(path: Path, chunks: Sequence[SpeechChunk], pause_s: float = 0.25) -> None:
    """Write speech chunks (one per sentence) to a 16-bit WAV with a short pause between them."""
    import soundfile

    rate = chunks[0].sample_rate
    pause = np.zeros(int(pause_s * rate), dtype=np.float32)
    parts = [part for chunk in chunks for part in (chunk.audio, pause)][:-1]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, np.concatenate(parts), rate, subtype="PCM_16")
    except OSError as error:
        raise BadInput(f"cannot write {path}: {error.strerror or error}") from None


def run_turn(pipeline: Pipeline, turn: Turn, events_to=None) -> tuple[TurnResult, list[SpeechChunk]]:
    """Run a turn to its end; a ``Failed`` event becomes the matching ``KioskError``."""
    chunks: list[SpeechChunk] = []
    for event in pipeline.run(turn):
        if events_to is not None:
            print(json.dumps(_event_record(event), ensure_ascii=False), file=events_to, flush=True)
        if isinstance(event, Audio):
            chunks.append(event.chunk)
        elif isinstance(event, Failed):
            error = ModelMissing(event.model_id, event.reason) if event.exit_code == 3 else BadInput(event.reason)
            if event.exit_code not in (2, 3):
                error.exit_code, error.kind = event.exit_code, event.error_kind
            raise error
        elif isinstance(event, Done):
            return event.result, chunks
    raise AssertionError("a turn always ends with done or failed")


def _event_record(event) -> dict:
    record = {"event": event.kind, "t": round(event.t, 4)}
    if isinstance(event, Audio):
        record["duration_s"] = round(event.chunk.duration_s, 3)
    elif isinstance(event, Failed):
        record.update(reason=event.reason, error_kind=event.error_kind)
    return record


def translate(args) -> int:
    from asr.audio import AudioInputError, load_audio

    if (args.input is None) == (args.text is None):
        raise BadInput("give either an audio file or --text")
    target = _language(args.target)
    source = AUTO if args.source == AUTO else _language(args.source)
    speech = _speech_config(args.rate)
    audio = None
    if args.input is not None:
        try:
            audio = load_audio(args.input)
        except AudioInputError as error:
            raise BadInput(str(error)) from None
    pipeline = Pipeline(_engines())
    turn = Turn(target_lang=target, source_lang=source, audio=audio, text=args.text, speech=speech)
    result, chunks = run_turn(pipeline, turn, events_to=sys.stderr if args.events else None)
    out = None
    if args.out and chunks:
        write_wav(args.out, chunks)
        out = str(args.out)
    if args.json:
        _print_json(_result_record(result, out))
    else:
        _print_result(result)
        if out:
            print(f"answer written to {out}")
    return 0


def _result_record(result: TurnResult, out: str | None) -> dict:
    """The JSON contract of one turn's result (ARCHITECTURE.md, `kiosk translate --json`)."""
    return {
        "source_lang": result.source_lang,
        "target_lang": result.target_lang,
        "transcript": result.transcript,
        "translation": result.translation,
        "mt_engine": result.mt_engine,
        "mt_model": result.mt_model,
        "curated": result.curated,
        "pivot": result.pivot,
        "voice": result.voice,
        "speech_unavailable": result.speech_unavailable,
        "out": out,
        "timings": {k: (round(v, 4) if v is not None else None) for k, v in result.timings.items()},
    }


def _print_result(result: TurnResult) -> None:
    print(f"[{result.source_lang}] {result.transcript}")
    print(f"[{result.target_lang}] {result.translation}   ({result.mt_engine}{', verified phrase' if result.curated else ''})")
    if result.speech_unavailable:
        print(f"speech: {result.speech_unavailable}")


def say(args) -> int:
    language = _language(args.lang)
    speech = _speech_config(args.rate)
    if not args.text.strip():
        raise BadInput("the text is empty")
    voice = _engines().voice(language)
    if isinstance(voice, SpeechUnavailable):
        raise ModelMissing(_recommended_voice(language), voice.reason)
    chunks = list(voice.synthesize(args.text, speech))
    if not chunks:
        raise BadInput("the text has nothing to speak")
    write_wav(args.out, chunks)
    duration = sum(c.duration_s for c in chunks)
    if args.json:
        _print_json({"lang": language, "voice": voice.voice_id, "out": str(args.out), "duration_s": round(duration, 3),
                     "sample_rate": chunks[0].sample_rate})
    else:
        print(f"{duration:.1f} s of speech by {voice.voice_id} written to {args.out}")
    return 0


def _recommended_voice(language: str) -> str:
    for entry in catalog.models().values():
        if entry.kind == "tts" and language in entry.languages:
            return entry.id
    return f"a {catalog.language(language).english} voice"


def models_list(args) -> int:
    present = models.installed()
    rows = []
    for entry in catalog.models().values():
        model = present.get(entry.id)
        if entry.system_package:
            # The package's program has the package's name (espeak-ng).
            state = "installed" if shutil.which(entry.system_package) else "available"
        else:
            state = _model_state(model, args.verify) if model else "available"
        rows.append({"id": entry.id, "kind": entry.kind, "languages": list(entry.languages), "size_mb": entry.size_mb,
                     "license": entry.license, "license_warning": entry.license_warning, "state": state,
                     "path": str(model.path) if model else None})
    for model in present.values():
        if model.id not in catalog.models():
            rows.append({"id": model.id, "kind": model.kind, "languages": list(model.languages),
                         "size_mb": round(model.size / 1e6, 1), "license": model.license, "license_warning": None,
                         "state": _model_state(model, args.verify), "path": str(model.path)})
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            warning = "  (!) " + row["license_warning"] if row["license_warning"] else ""
            print(f"{row['id']:<32} {row['kind']:<11} {row['state']:<10} {row['size_mb']:>7} MB  "
                  f"{' '.join(row['languages'])}  [{row['license']}]{warning}")
    return 0


def _model_state(model: models.InstalledModel, full: bool) -> str:
    return models.check_model(model, full=full).state


def models_verify(args) -> int:
    present = models.installed()
    ids = args.ids or sorted(present)
    checks = [models.check_model(present[i]) if i in present else models.Check(i, "missing", ("not installed",)) for i in ids]
    if args.json:
        _print_json([{"id": c.model_id, "state": c.state, "problems": list(c.problems)} for c in checks])
    else:
        for c in checks:
            print(f"{c.model_id:<28} {c.state}" + (f": {'; '.join(c.problems)}" if c.problems else ""))
    return 0 if all(c.ok for c in checks) else 1


def models_install_defaults(args) -> int:
    with _model_files():
        ready = models.ensure_defaults()
    _print_installed(args, ready, "ready")
    return 0


def models_pull(args) -> int:
    from kiosk import pull

    entries = []
    for model_id in dict.fromkeys(args.ids):
        entry = catalog.models().get(model_id)
        if entry is None:
            raise BadInput(f"{model_id} is not in the catalogue; `kiosk models list` shows what is")
        entries.append(entry)
    present = models.installed()
    pulled = []
    with _model_files():
        for entry in entries:
            model = present.get(entry.id)
            if model is not None and not args.force and models.check_model(model).ok:
                pulled.append(model)  # already here and intact: nothing to download
                continue
            if entry.license_warning:
                print(f"kiosk: licence of {entry.id}: {entry.license_warning}", file=sys.stderr)
            pulled.append(pull.pull(entry))
    _print_installed(args, pulled, "installed")
    return 0


def models_import(args) -> int:
    from kiosk import packs

    languages = tuple(code.strip() for code in args.languages.split(",")) if args.languages else ()
    options = packs.ImportOptions(model_id=args.id, kind=args.kind, family=args.family, languages=languages,
                                  license=args.license)
    with _model_files():
        imported = packs.import_path(args.path, options)
    _print_installed(args, imported, "imported")
    return 0


def models_export(args) -> int:
    from kiosk import packs

    with _model_files():
        exported = packs.export_pack(args.ids, args.to)
    size_mb = round(args.to.stat().st_size / 1e6, 1)
    if args.json:
        _print_json({"to": str(args.to), "size_mb": size_mb, "models": [m.id for m in exported]})
    else:
        print(f"{len(exported)} model(s) ({', '.join(m.id for m in exported)}), {size_mb} MB, written to {args.to}")
    return 0


def models_remove(args) -> int:
    with _model_files():
        removed = {model_id: models.remove(model_id) for model_id in dict.fromkeys(args.ids)}
    if args.json:
        _print_json([{"id": model_id, "path": str(path)} for model_id, path in removed.items()])
    else:
        for model_id, path in removed.items():
            print(f"{model_id:<28} removed from {path.parent}")
    return 0


def _print_installed(args, installed: list[models.InstalledModel], verb: str) -> None:
    if args.json:
        _print_json([{"id": m.id, "kind": m.kind, "languages": list(m.languages), "license": m.license,
                      "size_mb": round(m.size / 1e6, 1), "path": str(m.path)} for m in installed])
    else:
        for m in installed:
            print(f"{m.id:<28} {verb}: {m.path}")


@contextmanager
def _model_files():
    """A full disk or a denied permission while handling model files is reported, never a traceback."""
    try:
        yield
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        raise ProvisioningFailed(f"{where}{error.strerror or error}") from None


def doctor(args) -> int:
    from kiosk.doctor import report

    result = report()
    if args.json:
        _print_json(result)
    else:
        from kiosk.doctor import render

        print(render(result))
    return 0 if result["ok"] else 1


def demo(args) -> int:
    """Translate the bundled real-speech samples and a few typed counter phrases; speak the answers."""
    from asr.audio import load_audio
    from kiosk.audio import AudioDeviceError, play

    out_dir = getattr(args, "out_dir", Path("out/demo"))
    playing = not getattr(args, "no_play", False)
    with open(SAMPLES_DIR / "samples.toml", "rb") as f:
        samples = tomllib.load(f)["sample"]
    typed = [("en", "ko", "Where is the restroom?"), ("ko", "en", "신분증을 보여 주시겠어요?"), ("ko", "vi", "잠시만 기다려 주세요.")]
    turns = [(s["file"], Turn(target_lang=s["to"], audio=load_audio(SAMPLES_DIR / s["file"]))) for s in samples]
    turns += [(f"typed-{src}-{tgt}", Turn(target_lang=tgt, source_lang=src, text=text)) for src, tgt, text in typed]
    pipeline = Pipeline(_engines())
    print("Loading and warming up the engines…", flush=True)
    pipeline.engines.warm_up(("en",))
    records = []
    for name, turn in turns:
        try:
            result, chunks = run_turn(pipeline, turn)
        except (BadInput, ModelMissing) as error:
            print(f"\n{name}: {error}")
            records.append({"name": name, "error": str(error)})
            continue
        print(f"\n{name}\n  [{result.source_lang}] {result.transcript}\n  [{result.target_lang}] {result.translation}"
              f"   ({result.mt_engine}{', verified phrase' if result.curated else ''})")
        answer = None
        if chunks:
            answer = out_dir / f"{Path(name).stem}.{result.target_lang}.wav"
            write_wav(answer, chunks)
            print(f"  first audio {result.timings['tts_first_audio_s']:.2f} s after input; answer: {answer}")
            if playing:
                try:
                    play(chunks)
                except AudioDeviceError as error:
                    print(f"  (not played: {error})")
                    playing = False
        elif result.speech_unavailable:
            print(f"  speech: {result.speech_unavailable}")
        records.append({"name": name, "transcript": result.transcript, "translation": result.translation,
                        "mt_engine": result.mt_engine, "out": str(answer) if answer else None})
    if getattr(args, "json", False):
        _print_json(records)
    return 0


def listen(args) -> int:
    """Hear the microphone until each utterance ends, translate it and speak the answer; again unless --once."""
    from kiosk.audio import AudioSettings, Listener, Player

    target = _language(args.target)
    source = AUTO if args.source == AUTO else _language(args.source)
    if args.timeout is not None and args.timeout <= 0:
        raise BadInput("--timeout must be more than 0 seconds")
    settings = AudioSettings(input_device=args.input_device, output_device=args.output_device)
    pipeline = Pipeline(_engines())
    with Listener(settings) as listener:
        listener.start()  # without a microphone, say so before spending seconds on the engines
        if not args.json:
            print("Loading and warming up the engines…", file=sys.stderr, flush=True)
        pipeline.engines.warm_up((target,))
        player = Player(settings, listener)
        while True:
            failure_printed = False
            try:
                utterance = _hear(listener, args)
                turn = Turn(target_lang=target, source_lang=source, audio=utterance.audio,
                            speech_ended_at=utterance.speech_ended_at)
                failure_printed = args.json  # run_turn prints a failed event itself
                result, chunks = run_turn(pipeline, turn, events_to=sys.stdout if args.json else None)
                failure_printed = False
                if args.json:
                    _print_json({"event": "result", **_result_record(result, None), "truncated": utterance.truncated})
                else:
                    _print_result(result)
                if chunks and not args.no_play:
                    player.play(chunks)
            except KioskError as error:
                if args.once:
                    raise
                # The kiosk keeps listening (a lost microphone is reopened); staff see why this turn failed.
                print(f"kiosk: {error}", file=sys.stderr, flush=True)
                if not failure_printed and args.json:
                    _print_json({"event": "failed", "reason": str(error), "error_kind": error.kind})
            if args.once:
                return 0


def _hear(listener, args):
    listener.start()
    if args.json:
        _print_json({"event": "listening"})
    else:
        print("Listening… speak now (Ctrl-C to stop)", file=sys.stderr, flush=True)
    utterance = listener.listen(timeout_s=args.timeout)
    if utterance is None:
        raise BadInput(f"no speech was heard within {args.timeout:g} s" if args.timeout else "no speech was heard")
    return utterance


def audio_devices(args) -> int:
    from kiosk.audio import devices

    found = devices()
    if args.json:
        _print_json(found)
        return 0
    for d in found:
        defaults = [kind for kind in ("input", "output") if d[f"default_{kind}"]]
        print(f"{d['index']:>3}  {d['name']:<40} in {d['max_input_channels']:>2}  out {d['max_output_channels']:>2}"
              f"  {d['default_samplerate']:.0f} Hz{'  (default ' + ' and '.join(defaults) + ')' if defaults else ''}")
    if not found:
        print("no audio devices found")
    return 0


def bench(args) -> int:
    from kiosk import bench as bench_module

    return bench_module.run(args)


def run(args) -> int:
    """Open the kiosk window (``kiosk`` with no command does this too)."""
    import os

    from kiosk.ui.app import run as run_kiosk

    if not any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        raise BadInput("there is no display to open the kiosk on (DISPLAY is not set); "
                       "`kiosk demo` runs without one")

    return run_kiosk(demo=args.demo, fullscreen=args.fullscreen)


def screenshot(args) -> int:
    from kiosk.ui.app import screenshot as render

    try:
        width, height = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        raise BadInput(f"--size must look like 1280x800, got {args.size!r}") from None
    if not (320 <= width <= 7680 and 240 <= height <= 4320):
        raise BadInput(f"--size {args.size} is outside 320x240 to 7680x4320")
    out = render(args.screen, _language(args.lang), args.out, large_text=args.large_text,
                 high_contrast=args.high_contrast, size=(width, height))
    print(f"{args.screen} ({args.lang}) written to {out}")
    return 0


def soak(args) -> int:
    from dataclasses import asdict

    from kiosk.soak import soak as run_soak

    if args.turns < 1 or args.warmup < 0:
        raise BadInput("--turns must be at least 1 and --warmup at least 0")
    report = run_soak(args.turns, args.warmup, _engines())
    if args.json:
        _print_json(asdict(report))
    else:
        print(f"{report.turns} turns after {report.warmup_turns} warm-up turns in {report.seconds} s: "
              f"RSS {report.rss_after_warmup_mb} MB -> {report.rss_end_mb} MB ({report.growth_percent:+.2f} %), "
              f"{report.failed_turns} failed")
    return 0 if report.failed_turns == 0 else 1
