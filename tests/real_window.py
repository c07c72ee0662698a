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
import tempfile
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
TOOLS = ("Xvfb", "xdotool", "xmodmap", "import", "dbus-daemon", "pulseaudio")
# `KIOSK_README_SCREENSHOTS=docs/screenshots make test`: the README's figures from real windows.
README_SCREENSHOTS = "KIOSK_README_SCREENSHOTS"


def missing_tools() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not Path(AT_SPI_BUS).is_file():
        missing.append(AT_SPI_BUS)
    if subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], check=False, capture_output=True).returncode != 0:
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


def wait_for(what: str, condition: Callable[[], object], timeout_s: float, poll_s: float = 0.25,
             detail: Callable[[], str] = str):
    """Poll until ``condition`` returns something truthy; fail naming ``what`` (and ``detail()``,
    when it says something) when time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            said = detail()
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}" + (f"\n{said}" if said else ""))
        time.sleep(poll_s)


class Desktop:
    """An X display with a D-Bus session and the AT-SPI bus on it."""

    def __init__(self, width: int, height: int, stack: ExitStack, workdir: Path, dpi: float | None = None) -> None:
        """``dpi`` sets the X screen's size in millimetres (xdpyinfo). Qt reads the RandR output's
        size instead, which Xvfb always derives at 96 DPI: a test of another panel gives Qt the
        panel's size the way staff do for a monitor that reports nonsense, with [display]."""
        self.width, self.height = width, height
        self._bound: dict[str, int] = {}  # characters bound to spare keys for typing
        self._stack = stack
        self.workdir = workdir
        read_fd, write_fd = os.pipe()
        # -displayfd: Xvfb picks a free display number and writes it to the pipe when ready.
        xvfb = self._start(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                            *(["-dpi", f"{dpi:.0f}"] if dpi else []), "-nolisten", "tcp"], pass_fds=(write_fd,))
        os.close(write_fd)
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()
        assert number, f"Xvfb did not start (exit {xvfb.poll()})"
        # A runtime directory of its own: without one the accessibility bus's socket is
        # ~/.cache/at-spi/bus, shared by every desktop of the user, and a test (or a colleague's
        # run) that ends takes the others' bus with it (the staff-pad and demo tests failed so).
        runtime = tempfile.mkdtemp(prefix="kiosk-xdg-")  # short: a socket path has at most 107 bytes
        stack.callback(shutil.rmtree, runtime, ignore_errors=True)
        self.env = {**os.environ, "DISPLAY": f":{number}", "XDG_RUNTIME_DIR": runtime}
        self.env.pop("QT_QPA_PLATFORM", None)  # the suite's offscreen default must not apply here
        bus = self._start(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                          env=self.env)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
        self._start([AT_SPI_BUS, "--launch-immediately"], env=self.env)
        # A sound server with a null sink, as in the audio tests: the kiosk speaks as it would at a
        # counter (without one every answer says that sound could not be played).
        pulse = Path(runtime) / "pulse"
        self.env.update(PULSE_RUNTIME_PATH=str(pulse), PULSE_STATE_PATH=str(pulse / "state"),
                        PULSE_SERVER=f"unix:{pulse / 'native'}")
        self._start(["pulseaudio", "--daemonize=no", "--system=false", "--exit-idle-time=-1", "-n",
                     "--load=module-native-protocol-unix auth-anonymous=1", "--load=module-null-sink sink_name=kiosk_test"],
                    env=self.env)
        wait_for("the sound server", (pulse / "native").exists, 30)
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

    def press(self, node: Node, hold_s: float = 0.3) -> None:
        """A finger's touch: down, a moment, up. xdotool's click is instantaneous, which hides
        whatever the screen does between the two (a layout that moves the button away)."""
        x, y = node.center
        self.xdotool("mousemove", str(x), str(y), "mousedown", "1")
        time.sleep(hold_s)
        self.xdotool("mouseup", "1")

    def type_text(self, text: str) -> None:
        """Key presses for ``text``. For a character missing from the keymap xdotool binds a spare
        key, presses it and unbinds it at once; a busy client that reads the keymap after the
        unbinding sees no symbol and the character is lost (a Korean syllable went missing so on
        CI). So every such character is bound first and the keymap stays still while typing."""
        self._bind_keys(ch for ch in text if not ch.isascii())
        self.xdotool("type", "--delay", "40", text)

    def _bind_keys(self, characters) -> None:
        new = sorted(set(characters) - self._bound.keys())
        if not new:
            return
        table = subprocess.run(["xmodmap", "-pke"], env=self.env, capture_output=True, text=True, check=True,
                               timeout=60).stdout
        used = set(self._bound.values())
        spare = [int(m[1]) for m in re.finditer(r"^keycode\s+(\d+) =\s*$", table, re.MULTILINE)
                 if int(m[1]) not in used]
        assert len(spare) >= len(new), f"{len(new)} characters to bind, {len(spare)} spare keys"
        self._bound.update(zip(new, spare))
        bindings = [arg for ch in new for arg in ("-e", f"keycode {self._bound[ch]} = U{ord(ch):04X}")]
        subprocess.run(["xmodmap", *bindings], env=self.env, check=True, timeout=60, capture_output=True)

    def key(self, *keys: str) -> None:
        self.xdotool("key", *keys)

    def screenshot(self, name: str, readme: str | None = None) -> Path:
        """The screen as a PNG in the test's folder; ``readme`` names the README's figure that it
        replaces, written to ``KIOSK_README_SCREENSHOTS`` (docs/screenshots) when that is set."""
        path = self.workdir / f"{name}.png"
        subprocess.run(["import", "-window", "root", str(path)], env=self.env, check=True, timeout=60,
                       capture_output=True)
        if readme and os.environ.get(README_SCREENSHOTS):
            shutil.copyfile(path, Path(os.environ[README_SCREENSHOTS]) / f"{readme}.png")
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
        self._log = open(self.log_path, "w")  # noqa: SIM115 - the kiosk writes it until stop()
        self.started = time.monotonic()
        self.tree_error = ""
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
                              check=False, env=self.desktop.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:  # not on the bus yet, or a read that failed: the caller polls again
            self.tree_error = done.stderr.strip()[-2000:]
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
        self.tree_error = ""
        return wait_for(f"a {role} {name or text_in!r} on screen",
                        lambda: self.find(role, name, text_in=text_in), timeout_s, poll_s=0.5,
                        detail=self._what_is_shown)

    def _what_is_shown(self) -> str:
        """For a wait that timed out: why the tree could not be read, or the buttons it has, and a
        screenshot of the screen."""
        shot = self.desktop.screenshot(f"timed-out-{time.monotonic():.0f}")
        buttons = sorted({node.name for node in self.tree() if node.role == "push button" and node.name})
        return "\n".join(filter(None, [self.tree_error, f"buttons: {buttons}", f"screenshot: {shot}"]))

    def stop(self, timeout_s: float = 30) -> int:
        """Stop it as systemd does (SIGTERM); its exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        finally:
            self._log.close()


@contextmanager
def kiosk_on_desktop(workdir: Path, *args: str, size: tuple[int, int] = (1280, 800), dpi: float | None = None,
                     env: dict[str, str] | None = None) -> Iterator[KioskProcess]:
    missing = missing_tools()
    if missing:
        pytest.fail(f"the real-window tests need {', '.join(missing)} (make test installs them)")
    with ExitStack() as stack:
        desktop = Desktop(*size, stack, workdir, dpi)
        kiosk = KioskProcess(desktop, args, env or {})
        stack.callback(_end, kiosk.process)
        yield kiosk
