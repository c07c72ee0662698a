"""The systemd user unit that restarts the kiosk, checked by systemd's own parser."""

from __future__ import annotations

import configparser
import os
import subprocess

from conftest import REPO

UNIT = REPO / "packaging" / "kiosk.service"


def test_unit_restarts_the_kiosk_whenever_it_exits():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNIT)
    assert unit["Service"]["Restart"] == "always"
    assert unit["Service"]["ExecStart"].endswith("kiosk run --fullscreen")


def test_systemd_accepts_the_unit(tmp_path):
    # The unit expects the checkout in ~/kiosk; systemd checks that ExecStart is executable.
    (tmp_path / "kiosk").symlink_to(REPO, target_is_directory=True)
    done = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True,
                          env={**os.environ, "HOME": str(tmp_path)}, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
