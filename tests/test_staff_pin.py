"""`kiosk staff set-pin`: the provisioning staff set the staff PIN (issue #16), as a subprocess.

The PIN comes from the terminal without echo, asked twice (a pseudo-terminal here), or as one
line of standard input with ``--stdin``; never from the command line. Only its salted hash is
written to the staff config.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from kiosk.staff.config import KioskConfig, load, save, verify_pin


def set_pin(config_dir, stdin: str | None, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", "staff", "set-pin", *args], input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "KIOSK_CONFIG_DIR": str(config_dir)}, timeout=120)


def test_stdin_saves_only_a_salted_hash_and_keeps_the_other_settings(tmp_path):
    save(KioskConfig(idle_timeout_s=120, officer_language="ko", resident_language="vi"), tmp_path / "kiosk.toml")
    done = set_pin(tmp_path, "48151623\n", "--stdin")
    assert done.returncode == 0, done.stderr
    assert "saved" in done.stdout and "48151623" not in done.stdout + done.stderr
    text = (tmp_path / "kiosk.toml").read_text()
    assert "48151623" not in text and 'pin_hash = "scrypt$' in text
    loaded = load(tmp_path / "kiosk.toml")
    assert loaded.problems == () and verify_pin("48151623", loaded.config.pin_hash)
    assert (loaded.config.idle_timeout_s, loaded.config.resident_language) == (120, "vi")

    again = set_pin(tmp_path, "2468\n", "--stdin")  # provisioning may replace it
    assert again.returncode == 0 and "replaced" in again.stdout
    assert verify_pin("2468", load(tmp_path / "kiosk.toml").config.pin_hash)


@pytest.mark.parametrize("line", ["123\n", "123456789\n", "12a4\n", "\n", "١٢٣٤\n", ""])
def test_stdin_refuses_an_invalid_pin_with_exit_2(tmp_path, line):
    done = set_pin(tmp_path, line, "--stdin")
    assert done.returncode == 2 and done.stderr.startswith("kiosk: ") and "Traceback" not in done.stderr
    assert not (tmp_path / "kiosk.toml").exists()


def test_without_a_terminal_or_stdin_it_says_how(tmp_path):
    done = set_pin(tmp_path, None)
    assert done.returncode == 2 and "not a terminal" in done.stderr and "--stdin" in done.stderr
    assert not (tmp_path / "kiosk.toml").exists()


def test_the_pin_is_never_an_argument(tmp_path):
    done = set_pin(tmp_path, "2468\n", "2468")
    assert done.returncode == 2 and not (tmp_path / "kiosk.toml").exists()


def test_an_unreadable_config_is_not_overwritten(tmp_path):
    (tmp_path / "kiosk.toml").write_text("[session\nidle_timeout_s = 120\n")
    done = set_pin(tmp_path, "2468\n", "--stdin")
    assert done.returncode == 2 and "cannot be read" in done.stderr
    assert (tmp_path / "kiosk.toml").read_text() == "[session\nidle_timeout_s = 120\n"


PROMPTS = (b"New staff PIN", b"again")


def _on_a_terminal(config_dir, answers: list[str]) -> tuple[int, str]:
    """Run set-pin on a pseudo-terminal, answering each prompt in turn; (exit code, what was shown)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in an ssh session
        os.chdir(REPO)
        os.environ["KIOSK_CONFIG_DIR"] = str(config_dir)
        os.execv(sys.executable, [sys.executable, "-m", "kiosk", "staff", "set-pin"])
    shown, answered, deadline = b"", 0, time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        if answered < len(answers) and PROMPTS[answered] in shown and shown.rstrip().endswith(b":"):
            time.sleep(0.2)  # getpass has turned echo off before its prompt; let it reach its read
            os.write(fd, answers[answered].encode() + b"\n")
            answered += 1
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_on_a_terminal_asked_twice_without_echo(tmp_path):
    code, shown = _on_a_terminal(tmp_path, ["5790", "5790"])
    assert code == 0, shown
    assert "New staff PIN" in shown and "again" in shown and "5790" not in shown  # no echo
    assert verify_pin("5790", load(tmp_path / "kiosk.toml").config.pin_hash)


def test_on_a_terminal_a_mismatch_saves_nothing(tmp_path):
    code, shown = _on_a_terminal(tmp_path, ["5790", "5791"])
    assert code == 2 and "different" in shown, shown
    assert not (tmp_path / "kiosk.toml").exists()
