"""No network, ever: every command runs with IPv4/IPv6 socket creation made to raise.

A ``sitecustomize`` on the subprocess's path replaces ``socket.socket`` before any kiosk code
runs; any attempt is also written to a file, so an attempt that something caught and hid
still fails the test. Unix sockets (PulseAudio) stay allowed.

With a staff [servers] table the guarantee is "no connection except to the configured on-prem
servers": the guard is then given exactly ``ServerRoutes.addresses()`` (``KIOSK_ALLOWED_ADDRESSES``)
and lets sockets connect there and nowhere else; every connection is logged, allowed or not.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO
from conftest import WYOMING_VOICE as VOICE

GUARD = '''
import os, socket

_blocked = (socket.AF_INET, socket.AF_INET6)
_log = os.environ["KIOSK_NETWORK_ATTEMPTS"]
# "host:port,host:port": the configured servers; unset, no IP socket may even be created.
_allowed = os.environ.get("KIOSK_ALLOWED_ADDRESSES")
_allowed = None if _allowed is None else {tuple(a.rsplit(":", 1)) for a in _allowed.split(",") if a}


def _record(line):
    with open(_log, "a") as f:
        f.write(line + "\\n")


class GuardedSocket(socket.socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if _allowed is None and (family in _blocked or (family == -1 and fileno is None)):
            _record(f"socket family={family}")
            raise OSError("network access is forbidden in this test")
        super().__init__(family, type, proto, fileno)

    def _check(self, address):
        if self.family not in _blocked:
            return
        host, port = address[0], str(address[1])
        if (host, port) not in _allowed:
            _record(f"forbidden {host}:{port}")
            raise OSError(f"network access to {host}:{port} is forbidden in this test")
        with open(os.environ["KIOSK_NETWORK_ALLOWED"], "a") as f:
            f.write(f"{host}:{port}\\n")

    def connect(self, address):
        self._check(address)
        return super().connect(address)

    def connect_ex(self, address):
        self._check(address)
        return super().connect_ex(address)

    def sendto(self, data, *args):
        self._check(args[-1])
        return super().sendto(data, *args)


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


# -- with [servers]: exactly the configured addresses -------------------------------------------

@pytest.fixture
def servers_env(guarded_env, tmp_path, tts_server):
    """A staff config routing English speech to the voice server, and the guard allowing exactly the
    addresses that config names (read back through the kiosk's own parser)."""
    from kiosk.staff import config

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "kiosk.toml").write_text(
        f'[servers.tts]\nurl = "{tts_server.url}"\nlanguages = ["en"]\nvoice = "{VOICE}"\n', encoding="utf-8")
    loaded = config.load(config_dir / "kiosk.toml")
    assert not loaded.problems, loaded.problems
    addresses = loaded.config.servers.addresses()
    env, attempts = guarded_env
    allowed = tmp_path / "allowed.log"
    env = {**env, "KIOSK_CONFIG_DIR": str(config_dir), "KIOSK_NETWORK_ALLOWED": str(allowed),
           "KIOSK_ALLOWED_ADDRESSES": ",".join(f"{host}:{port}" for host, port in sorted(addresses))}
    return env, attempts, allowed, addresses


def test_with_servers_the_cli_reaches_the_configured_server_and_nothing_else(kiosk_cli, servers_env, tmp_path):
    """``kiosk say`` builds its engines from the staff config as the window does: the voice is the server's."""
    env, attempts, allowed, addresses = servers_env
    result = kiosk_cli("say", "Please take a number.", "--lang", "en", "--out", tmp_path / "say.wav", "--json", env=env)
    assert result.code == 0, result.stderr
    [(host, port)] = addresses
    assert result.json["voice"] == f"{VOICE} @ {host}:{port}"
    assert not attempts.exists(), attempts.read_text()
    assert set(allowed.read_text().split()) == {f"{host}:{port}"}


def test_with_servers_the_guard_fails_any_other_address(servers_env):
    """The other direction: from the same guarded process, the configured address connects and
    another loopback port that is listening (so only the guard can refuse it) is refused and logged."""
    env, attempts, allowed, addresses = servers_env
    [(host, port)] = addresses
    code = ("import socket\n"
            "listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
            "listener.bind(('127.0.0.1', 0)); listener.listen(1)\n"
            f"socket.create_connection(('{host}', {port}), timeout=5).close()\n"
            "try:\n"
            "    socket.create_connection(listener.getsockname(), timeout=5)\n"
            "    print('connected')\n"
            "except OSError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=False, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "forbidden" in out.stdout
    [refused] = attempts.read_text().splitlines()
    assert refused.startswith("forbidden 127.0.0.1:") and refused != f"forbidden {host}:{port}"
    assert allowed.read_text().split() == [f"{host}:{port}"]
