"""The turn commands: ``translate``, ``say``, ``demo``, ``listen``, ``audio-devices``, ``run`` and
``screenshot``. Each runs the same pipeline the window uses and prints one result.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Sequence

import numpy as np

from kiosk.cli.output import language_code, print_json
from kiosk.errors import BadInput, KioskError, ModelMissing
from kiosk.store import catalog
from kiosk.store.catalog import Catalog
from kiosk.turn.pipeline import AUTO, Audio, Done, Failed, Pipeline, Turn, TurnResult
from tts import SpeechChunk, SpeechUnavailable, SynthesisConfig

SAMPLES_DIR = catalog.ASSETS_DIR / "samples"

def _speech_config(rate: float) -> SynthesisConfig:
    try:
        return SynthesisConfig(rate=rate)
    except ValueError as error:
        raise BadInput(str(error)) from None

def default_engines():
    """The engines on the model store the environment describes, with the staff config's languages,
    recognition models and servers, as the window builds them (both read here, at the command's start)."""
    from kiosk.staff.config import load as load_config
    from kiosk.store.environment import from_environment
    from kiosk.turn.engines import Engines
    from kiosk.turn.settings import Settings

    return Engines(Settings.from_staff(load_config().config), store=from_environment())

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
    """Run a turn to its end; a ``Failed`` event ends the command as an error with the same code."""
    chunks: list[SpeechChunk] = []
    for event in pipeline.run(turn):
        if events_to is not None:
            print(json.dumps(_event_record(event), ensure_ascii=False), file=events_to, flush=True)
        if isinstance(event, Audio):
            chunks.append(event.chunk)
        elif isinstance(event, Failed):
            raise KioskError(event.reason, code=event.code, model_id=event.model_id)
        elif isinstance(event, Done):
            return event.result, chunks
    raise AssertionError("a turn always ends with done or failed")

def _event_record(event) -> dict:
    record = {"event": event.kind, "t": round(event.t, 4)}
    if isinstance(event, Audio):
        record["duration_s"] = round(event.chunk.duration_s, 3)
    elif isinstance(event, Failed):
        record.update(reason=event.reason, error_kind=event.error_kind, error_code=event.code.value)
    return record

def translate(args) -> int:
    from asr.audio import AudioInputError, load_audio

    if (args.input is None) == (args.text is None):
        raise BadInput("give either an audio file or --text")
    target = language_code(args.target)
    source = AUTO if args.source == AUTO else language_code(args.source)
    speech = _speech_config(args.rate)
    audio = None
    if args.input is not None:
        try:
            audio = load_audio(args.input)
        except AudioInputError as error:
            raise BadInput(str(error)) from None
    pipeline = Pipeline(default_engines())
    turn = Turn(target_lang=target, source_lang=source, audio=audio, text=args.text, speech=speech)
    result, chunks = run_turn(pipeline, turn, events_to=sys.stderr if args.events else None)
    out = None
    if args.out and chunks:
        write_wav(args.out, chunks)
        out = str(args.out)
    if args.json:
        print_json(_result_record(result, out))
    else:
        _print_result(result)
        if out:
            print(f"answer written to {out}")
    return 0

def _result_record(result: TurnResult, out: str | None) -> dict:
    """The JSON contract of one turn's result (`kiosk translate --json`; README, "Command line")."""
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
    language = language_code(args.lang)
    speech = _speech_config(args.rate)
    if not args.text.strip():
        raise BadInput("the text is empty")
    engines = default_engines()
    voice = engines.voice(language)
    if isinstance(voice, SpeechUnavailable):
        raise ModelMissing(_recommended_voice(engines.catalog, language), voice.reason)
    chunks = list(voice.synthesize(args.text, speech))
    if not chunks:
        raise BadInput("the text has nothing to speak")
    write_wav(args.out, chunks)
    duration = sum(c.duration_s for c in chunks)
    if args.json:
        print_json({"lang": language, "voice": voice.voice_id, "out": str(args.out), "duration_s": round(duration, 3),
                     "sample_rate": chunks[0].sample_rate})
    else:
        print(f"{duration:.1f} s of speech by {voice.voice_id} written to {args.out}")
    return 0

def demo(args) -> int:
    """Translate the bundled real-speech samples and a few typed counter phrases; speak the answers."""
    from asr.audio import load_audio
    from kiosk.audio.devices import AudioDeviceError
    from kiosk.audio.player import play

    out_dir = getattr(args, "out_dir", Path("out/demo"))
    playing = not getattr(args, "no_play", False)
    with open(SAMPLES_DIR / "samples.toml", "rb") as f:
        samples = tomllib.load(f)["sample"]
    typed = [("en", "ko", "Where is the restroom?"), ("ko", "en", "신분증을 보여 주시겠어요?"), ("ko", "vi", "잠시만 기다려 주세요.")]
    turns = [(s["file"], Turn(target_lang=s["to"], audio=load_audio(SAMPLES_DIR / s["file"]))) for s in samples]
    turns += [(f"typed-{src}-{tgt}", Turn(target_lang=tgt, source_lang=src, text=text)) for src, tgt, text in typed]
    pipeline = Pipeline(default_engines())
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
        print_json(records)
    return 0

def listen(args) -> int:
    """Hear the microphone until each utterance ends, translate it and speak the answer; again unless --once."""
    from kiosk.audio.listener import AudioSettings, Listener
    from kiosk.audio.player import Player

    target = language_code(args.target)
    source = AUTO if args.source == AUTO else language_code(args.source)
    if args.timeout is not None and args.timeout <= 0:
        raise BadInput("--timeout must be more than 0 seconds")
    settings = AudioSettings(input_device=args.input_device, output_device=args.output_device)
    pipeline = Pipeline(default_engines())
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
                    print_json({"event": "result", **_result_record(result, None), "truncated": utterance.truncated})
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
                    print_json({"event": "failed", "reason": str(error), "error_kind": error.kind,
                                "error_code": error.code.value})
            if args.once:
                return 0

def _hear(listener, args):
    listener.start()
    if args.json:
        print_json({"event": "listening"})
    else:
        print("Listening… speak now (Ctrl-C to stop)", file=sys.stderr, flush=True)
    utterance = listener.listen(timeout_s=args.timeout)
    if utterance is None:
        raise BadInput(f"no speech was heard within {args.timeout:g} s" if args.timeout else "no speech was heard")
    return utterance

def audio_devices(args) -> int:
    from kiosk.audio.devices import devices

    found = devices()
    if args.json:
        print_json(found)
        return 0
    for d in found:
        defaults = [kind for kind in ("input", "output") if d[f"default_{kind}"]]
        print(f"{d['index']:>3}  {d['name']:<40} in {d['max_input_channels']:>2}  out {d['max_output_channels']:>2}"
              f"  {d['default_samplerate']:.0f} Hz{'  (default ' + ' and '.join(defaults) + ')' if defaults else ''}")
    if not found:
        print("no audio devices found")
    return 0

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
    out = render(args.screen, language_code(args.lang), args.out, large_text=args.large_text,
                 high_contrast=args.high_contrast, size=(width, height))
    print(f"{args.screen} ({args.lang}) written to {out}")
    return 0


def _recommended_voice(known: Catalog, language: str) -> str:
    for entry in known.models.values():
        if entry.kind == "tts" and language in entry.languages:
            return entry.id
    return f"a {catalog.language(language).english} voice"
