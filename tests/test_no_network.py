"""No network, ever: every command runs with IPv4/IPv6 socket creation made to raise.

A ``sitecustomize`` on the subprocess's path replaces ``socket.socket`` before any kiosk code
runs; any attempt is also written to a file, so an attempt that something caught and hid
still fails the test. Unix sockets (PulseAudio) stay allowed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

GUARD = '''
import os, socket

_blocked = (socket.AF_INET, socket.AF_INET6)
_log = os.environ["KIOSK_NETWORK_ATTEMPTS"]


class GuardedSocket(socket.socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if family in _blocked or (family == -1 and fileno is None):
            with open(_log, "a") as f:
                f.write(f"socket family={family}\\n")
            raise OSError("network access is forbidden in this test")
        super().__init__(family, type, proto, fileno)


socket.socket = GuardedSocket
'''

KOREAN_CLIP = REPO / "assets" / "samples" / "ko_picovoice_test.wav"


@pytest.fixture
def guarded_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GUARD)
    attempts = tmp_path / "attempts.log"
    env = {"PYTHONPATH": str(site), "KIOSK_NETWORK_ATTEMPTS": str(attempts), "QT_QPA_PLATFORM": "offscreen",
           "HF_HUB_OFFLINE": "0"}
    return env, attempts


def test_the_guard_really_blocks(guarded_env):
    env, attempts = guarded_env
    code = "import socket\ntry:\n socket.create_connection(('127.0.0.1', 9))\nexcept OSError as e:\n print(e)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                         capture_output=True, text=True)
    assert "forbidden" in out.stdout and attempts.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["doctor", "--json"],
        ["translate", str(KOREAN_CLIP), "--to", "en", "--json"],
        ["translate", "--text", "화장실은 어디에 있나요?", "--from", "ko", "--to", "vi", "--json"],
        ["say", "Please wait a moment.", "--lang", "en", "--out", "{tmp}/say.wav", "--json"],
        ["models", "list", "--json"],
        ["screenshot", "start", "--lang", "ko", "--out", "{tmp}/start.png"],
    ],
    ids=["doctor", "speech-turn", "typed-turn", "say", "models-list", "gui-start"],
)
def test_commands_run_without_network(kiosk_cli, guarded_env, tmp_path, args):
    env, attempts = guarded_env
    result = kiosk_cli(*[a.format(tmp=tmp_path) for a in args], env=env)
    assert result.code == 0, result.stderr
    assert not attempts.exists(), attempts.read_text()
