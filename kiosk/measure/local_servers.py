"""Starts the existing shared-engine servers on 127.0.0.1, for the tests and ``kiosk bench --servers``.

Nothing here is a server of our own: ``wyoming-faster-whisper``, ``wyoming-piper`` and llama.cpp's
server (through ``xllamacpp``) run as child processes on the kiosk's installed models, bound to
loopback only, each on a free port, and are killed when done.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"

# llama.cpp's server, embedded in xllamacpp: it serves /v1/chat/completions and /v1/models until killed.
_LLAMA_SERVER = """
import sys, threading, xllamacpp
params = xllamacpp.CommonParams()
params.model.path, params.hostnames, params.port = sys.argv[1], ["127.0.0.1"], int(sys.argv[2])
params.model_alias, params.n_ctx, params.n_parallel = {sys.argv[3]}, 2048, int(sys.argv[4])
params.verbosity, params.warmup, params.use_jinja = -1, False, True  # the GGUF's own chat template
params.sampling.temp, params.sampling.top_k = 0.0, 1
if int(sys.argv[5]) > 0:
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = int(sys.argv[5])
server = xllamacpp.Server(params)
print("ready", server.listening_address, flush=True)
threading.Event().wait()
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclass
class LocalServer:
    """One server process on 127.0.0.1; ``url`` is what a kiosk's [servers] table would name."""

    name: str
    command: list[str]
    port: int
    scheme: str
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="kiosk-server-", suffix=".log")[1]))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"tcp://{LOOPBACK}:{self.port}" if self.scheme == "tcp" else f"http://{LOOPBACK}:{self.port}/v1"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, ready_within_s: float = 300.0) -> LocalServer:
        """Start it and wait until its port accepts connections (it loads its model first)."""
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        deadline = time.monotonic() + ready_within_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {ready_within_s:.0f} s: {self.log_tail()}")

    def _answers(self) -> bool:
        """Whether it is ready: a Wyoming port accepts; llama.cpp's /health says ok once its model is loaded."""
        try:
            if self.scheme == "tcp":
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                return True
            connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
            try:
                connection.request("GET", "/health")
                return connection.getresponse().status == 200
            finally:
                connection.close()
        except (OSError, http.client.HTTPException):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]


def wyoming_asr(model_dir: Path, *, port: int | None = None, threads: int = 2, beam_size: int = 5) -> LocalServer:
    """wyoming-faster-whisper on a CTranslate2 Whisper directory of the store (never downloads)."""
    port = port or free_port()
    return LocalServer("wyoming-faster-whisper", [
        sys.executable, "-m", "wyoming_faster_whisper", "--uri", f"tcp://{LOOPBACK}:{port}",
        "--model", str(model_dir), "--data-dir", str(model_dir.parent), "--stt-library", "faster-whisper",
        "--local-files-only", "--compute-type", "int8", "--cpu-threads", str(threads), "--beam-size", str(beam_size),
        "--language", "auto"], port, "tcp")


def wyoming_tts(voice_dir: Path, voice: str, *, port: int | None = None) -> LocalServer:
    """wyoming-piper with one Piper voice of the store (``voice``.onnx in ``voice_dir``)."""
    port = port or free_port()
    return LocalServer("wyoming-piper", [
        sys.executable, "-m", "wyoming_piper", "--uri", f"tcp://{LOOPBACK}:{port}", "--voice", voice,
        "--data-dir", str(voice_dir), "--local-files-only"], port, "tcp")


def llama_server(gguf: Path, alias: str, *, port: int | None = None, parallel: int = 1, threads: int = 0) -> LocalServer:
    """llama.cpp's OpenAI-compatible server (xllamacpp) on a GGUF file."""
    port = port or free_port()
    return LocalServer("llama.cpp server", [sys.executable, "-c", _LLAMA_SERVER, str(gguf), str(port), alias,
                                            str(parallel), str(threads)], port, "http")
