"""Nothing personal persists: a whole GUI session on the real engines leaves no word on disk or in
the logs, and the session holds nothing once it ends. Keeping transcripts needs the staff setting."""

import hashlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path

import pytest
from conftest import REPO
from PySide6.QtCore import Qt
from ui_support import open_kiosk, settle

from asr.audio import load_audio

KOREAN_CLIP = REPO / "assets" / "samples" / "ko_picovoice_test.wav"
# A resident's private details, typed; no MT model is installed, so this turn fails (model missing).
PRIVATE_TEXT = "My name is Nguyen Thi Hoa, passport M48213957, phone 010-7319-2264."


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root``, with its sha256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def words_of(texts) -> set[str]:
    """The distinctive words of what was said (short ones would match by chance)."""
    return {w.strip(".,?!") for text in texts for w in text.split() if len(w.strip(".,?!")) >= 4}


@pytest.fixture
def private_home(tmp_path, monkeypatch, engines):
    """HOME, the XDG dirs, the kiosk's data and config dirs and TMPDIR all inside one temporary tree."""
    engines.recognizer  # the models come from the real store, loaded before HOME moves
    for language in ("en", "ko"):
        engines.voice(language)
    home = tmp_path / "home"
    dirs = {"HOME": home, "XDG_DATA_HOME": home / ".local/share", "XDG_CONFIG_HOME": home / ".config",
            "XDG_CACHE_HOME": home / ".cache", "XDG_STATE_HOME": home / ".local/state",
            "KIOSK_DATA_DIR": home / "kiosk-data", "KIOSK_CONFIG_DIR": home / "kiosk-config", "TMPDIR": home / "tmp"}
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    monkeypatch.setattr(tempfile, "tempdir", str(dirs["TMPDIR"]))
    return home


def test_a_whole_session_leaves_no_words_on_disk_or_in_the_logs(qtbot, private_home, engines, caplog):
    caplog.set_level(logging.DEBUG)
    before = tree(private_home)
    said: list[str] = []
    with open_kiosk(private_home / "kiosk-config", engines, idle_timeout_s=3) as kiosk:
        controller, window = kiosk.controller, kiosk.window

        # First conversation: a spoken turn, a phrase, a private typed turn; then "Done".
        window.start_conversation("en")
        controller.say_audio("officer", load_audio(KOREAN_CLIP))
        settle(kiosk, qtbot)
        controller.say_text("resident", "Where is the restroom?")
        settle(kiosk, qtbot)
        controller.say_text("resident", PRIVATE_TEXT)
        settle(kiosk, qtbot)
        session = controller.session
        states = [turn.state for turn in session.turns]
        assert states == ["done", "done", "failed"]
        said += [text for turn in session.turns for text in (turn.original, turn.translation) if text]
        assert any("피하면서" in text for text in said)
        qtbot.mouseClick(window.conversation.done_button, Qt.MouseButton.LeftButton)
        assert controller.session is None and session.turns == []

        # Second conversation: one turn, then nobody touches the kiosk until the idle timeout.
        window.start_conversation("en")
        controller.say_text("resident", "Thank you for waiting patiently.")
        settle(kiosk, qtbot)
        session = controller.session
        said += [text for turn in session.turns for text in (turn.original, turn.translation) if text]
        qtbot.waitUntil(lambda: controller.session is None, timeout=10_000)
        assert session.turns == []
        counts = controller.stats.snapshot()  # counts survive, words do not
        assert counts.sessions == 2 and counts.turns + counts.failed == 4

    words = words_of(said + [PRIVATE_TEXT])
    assert {"restroom", "Nguyen", "M48213957", "patiently"} <= words

    after = tree(private_home)
    written = {path for path, digest in after.items() if before.get(path) != digest}
    assert not [p for p in written if p.endswith((".wav", ".flac", ".ogg", ".mp3", ".raw", ".pcm"))]
    for path in after:
        content = (private_home / path).read_bytes()
        found = [w for w in words if w.encode("utf-8") in content]
        assert not found, f"{path} holds {found}"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not [w for w in words if w in logged], "the log holds what was said"


def test_transcripts_are_kept_only_with_the_staff_setting(qtbot, private_home, engines):
    transcripts = private_home / "kiosk-data" / "transcripts"
    for keep in (False, True):
        with open_kiosk(private_home / "kiosk-config", engines, keep_transcripts=keep) as kiosk:
            kiosk.window.start_conversation("en")
            kiosk.controller.say_text("resident", "Where is the restroom?")
            settle(kiosk, qtbot)
        if not keep:
            assert not transcripts.exists()
    [day] = transcripts.iterdir()
    [record] = [json.loads(line) for line in day.read_text(encoding="utf-8").splitlines()]
    assert record["original"] == "Where is the restroom?" and record["translation"] == "화장실은 어디에 있나요?"
    assert record["side"] == "resident" and record["source_lang"] == "en" and record["target_lang"] == "ko"
    assert stat.S_IMODE(os.stat(day).st_mode) == 0o600
