"""The suite does not depend on what the user installed: a translation model in the user's own store
changes nothing that the tests see."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO
from tiny_mt import build_seq2seq

USER_MODEL = "tiny-user-m2m"


def test_suite_ignores_a_translation_model_in_the_users_store(tmp_path):
    # A user who followed the README and installed a translation model: the model lands in
    # platformdirs' user data dir, which XDG_DATA_HOME points at here.
    user_env = {name: value for name, value in os.environ.items()
                if name not in ("KIOSK_DATA_DIR", "KIOSK_CONFIG_DIR", "KIOSK_SYSTEM_STORES")}
    user_env |= {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
                 "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")}
    model_dir = build_seq2seq(tmp_path / USER_MODEL, "m2m100")
    imported = subprocess.run(
        [sys.executable, "-m", "kiosk", "models", "import", str(model_dir), "--id", USER_MODEL,
         "--kind", "mt-seq2seq", "--family", "m2m100", "--languages", "ko,en,vi", "--license", "test only"],
        env=user_env, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "xdg-data" / "kiosk" / "models" / USER_MODEL).is_dir()

    # The suite's engines fixture, run against that user: ko→vi still has no model, as the
    # pipeline test asserts, because the suite builds its own store.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_pipeline.py::test_no_model_for_the_pair_is_explained",
         "tests/test_pipeline.py::test_language_without_voice_is_text_only"],
        env=user_env, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
