"""What each CLI command does; ``kiosk.cli`` only parses arguments."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Sequence

import numpy as np

from kiosk import catalog, models
from kiosk.errors import BadInput, ModelMissing
from kiosk.pipeline import AUTO, Audio, Done, Failed, Pipeline, Turn, TurnResult
from tts import SpeechChunk, SpeechUnavailable, SynthesisConfig

SAMPLES_DIR = catalog.ASSETS_DIR / "samples"


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=None, default=str))


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
    record = {
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
    if args.json:
        _print_json(record)
    else:
        print(f"[{result.source_lang}] {result.transcript}")
        print(f"[{result.target_lang}] {result.translation}   ({result.mt_engine}{', verified phrase' if result.curated else ''})")
        if result.speech_unavailable:
            print(f"speech: {result.speech_unavailable}")
        if out:
            print(f"answer written to {out}")
    return 0


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
        state = models.check_model(model, full=False).state if model else "available"
        rows.append({"id": entry.id, "kind": entry.kind, "languages": list(entry.languages), "size_mb": entry.size_mb,
                     "license": entry.license, "state": state})
    for model in present.values():
        if model.id not in catalog.models():
            rows.append({"id": model.id, "kind": model.kind, "languages": list(model.languages),
                         "size_mb": round(sum(f["size"] for f in model.files.values()) / 1e6, 1),
                         "license": model.license, "state": models.check_model(model, full=False).state})
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"{row['id']:<28} {row['kind']:<11} {row['state']:<10} {row['size_mb']:>6} MB  {row['license']}")
    return 0


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
    ready = models.ensure_defaults()
    if args.json:
        _print_json([{"id": m.id, "path": str(m.path)} for m in ready])
    else:
        for m in ready:
            print(f"{m.id:<28} {m.path}")
    return 0


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
