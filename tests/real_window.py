"""A real desktop for the kiosk: Xvfb, a D-Bus session with the accessibility bus, xdotool input.

The kiosk runs as ``python -m kiosk -v run``, the way ``make run`` starts it. Tests read what is
on screen through the accessibility tree (AT-SPI: the names, texts and screen positions a screen
reader sees), press and type with xdotool (real X input events), and take screenshots of the
root window. Every process started here is ended when its context closes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-pyatspi
AT_SPI_BUS = "/usr/libexec/at-spi-bus-launcher"
TOOLS = ("Xvfb", "xdotool", "import", "dbus-daemon")


def missing_tools() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not Path(AT_SPI_BUS).is_file():
        missing.append(AT_SPI_BUS)
    if subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True).returncode != 0:
        missing.append("python3-pyatspi")
    return missing


@dataclass(frozen=True)
class Node:
    role: str
    name: str
    text: str
    extents: tuple[int, int, int, int] | None
    depth: int

    @property
    def center(self) -> tuple[int, int]:
        assert self.extents, f"{self.role} {self.name!r} has no position on screen"
        x, y, w, h = self.extents
        return x + w // 2, y + h // 2


def wait_for(what: str, condition: Callable[[], object], timeout_s: float, poll_s: float = 0.25):
    """Poll until ``condition`` returns something truthy; fail naming ``what`` when time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


class Desktop:
    """An X display with a D-Bus session and the AT-SPI bus on it."""

    def __init__(self, width: int, height: int, stack: ExitStack, workdir: Path) -> None:
        self.width, self.height = width, height
        self._stack = stack
        self.workdir = workdir
        read_fd, write_fd = os.pipe()
        # -displayfd: Xvfb picks a free display number and writes it to the pipe when ready.
        xvfb = self._start(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                            "-nolisten", "tcp"], pass_fds=(write_fd,))
        os.close(write_fd)
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()
        assert number, f"Xvfb did not start (exit {xvfb.poll()})"
        self.env = {**os.environ, "DISPLAY": f":{number}"}
        self.env.pop("QT_QPA_PLATFORM", None)  # the suite's offscreen default must not apply here
        bus = self._start(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
        self._start([AT_SPI_BUS, "--launch-immediately"])
        self.env["QT_LINUX_ACCESSIBILITY_ALWAYS_ON"] = "1"

    def _start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   **{"stdout": subprocess.DEVNULL, **kwargs})
        self._stack.callback(_end, process)
        return process

    def xdotool(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, check=True,
                              timeout=60).stdout

    def tap(self, node: Node) -> None:
        """A touch: move the pointer to the middle of ``node`` and click."""
        x, y = node.center
        self.xdotool("mousemove", str(x), str(y), "click", "1")

    def type_text(self, text: str) -> None:
        self.xdotool("type", "--delay", "40", text)

    def key(self, *keys: str) -> None:
        self.xdotool("key", *keys)

    def screenshot(self, name: str) -> Path:
        path = self.workdir / f"{name}.png"
        subprocess.run(["import", "-window", "root", str(path)], env=self.env, check=True, timeout=60,
                       capture_output=True)
        return path


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class KioskProcess:
    """``kiosk -v run`` on a desktop, its log in a file that tests read as it grows."""

    def __init__(self, desktop: Desktop, args: tuple[str, ...], env: dict[str, str]) -> None:
        self.desktop = desktop
        self.log_path = desktop.workdir / "kiosk.log"
        self._log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "-v", "run", *args], cwd=REPO, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, env={**desktop.env, **env},
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log()))

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for_log(self, pattern: str, timeout_s: float, count: int = 1) -> None:
        def seen() -> bool:
            if not self.alive():
                pytest.fail(f"the kiosk exited with {self.process.returncode} before logging {pattern!r}:\n"
                            + self.log()[-3000:])
            return self.log_count(pattern) >= count

        wait_for(f"{pattern!r} in the kiosk's log", seen, timeout_s)

    def tree(self) -> list[Node]:
        """What the kiosk shows right now, as a screen reader sees it."""
        done = subprocess.run([SYSTEM_PYTHON, str(HERE / "a11y_tree.py"), str(self.process.pid)],
                              env=self.desktop.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            return []
        return [Node(**{**record, "extents": tuple(record["extents"]) if record["extents"] else None})
                for record in map(json.loads, done.stdout.splitlines())]

    def find(self, role: str, name: str | None = None, *, text_in: str | None = None) -> Node | None:
        for node in self.tree():
            if node.role == role and (name is None or node.name == name) and (
                    text_in is None or text_in in node.name or text_in in node.text):
                return node
        return None

    def wait_for_node(self, role: str, name: str | None = None, *, text_in: str | None = None,
                      timeout_s: float = 30) -> Node:
        return wait_for(f"a {role} {name or text_in!r} on screen",
                        lambda: self.find(role, name, text_in=text_in), timeout_s, poll_s=0.5)

    def stop(self, timeout_s: float = 30) -> int:
        """Stop it as systemd does (SIGTERM); its exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        finally:
            self._log.close()


@contextmanager
def kiosk_on_desktop(workdir: Path, *args: str, size: tuple[int, int] = (1280, 800),
                     env: dict[str, str] | None = None) -> Iterator[KioskProcess]:
    missing = missing_tools()
    if missing:
        pytest.fail(f"the real-window tests need {', '.join(missing)} (make test installs them)")
    with ExitStack() as stack:
        desktop = Desktop(*size, stack, workdir)
        kiosk = KioskProcess(desktop, args, env or {})
        stack.callback(_end, kiosk.process)
        yield kiosk
