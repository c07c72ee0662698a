"""``kiosk eval asr``: the manifest, the stored record and the command line.

The per-language figures on all the shared clips are checked against README's table in
tests/test_asr.py, from the same pass over the clips as the recognition tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import find_clip

from kiosk.errors import BadInput, ModelMissing
from kiosk.measure import eval_asr
from kiosk.store import evaluations
from kiosk.store.environment import from_environment

RECORD_KEYS = {"version", "model_id", "date", "kiosk_version", "cpu", "threads", "manifest", "languages", "overall"}
LANGUAGE_KEYS = {"clips", "metric", "error", "language_id", "p50_s", "worst_s"}


def write_manifest(folder: Path, clips, extra_column: bool = True) -> Path:
    """A manifest next to links to the clips (paths in a manifest are relative to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["path\tlang\tduration_s\ttranscript" + ("\tspeaker" if extra_column else "")]
    for clip in clips:
        (folder / clip.path.name).symlink_to(clip.path)
        lines.append(f"{clip.path.name}\t{clip.lang}\t{clip.duration_s}\t{clip.transcript}" + ("\tx" if extra_column else ""))
    manifest = folder / "manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


@pytest.fixture
def own_whisper(isolated_store) -> Path:
    """whisper-base in the isolated store as a folder of its own (links to the files), so the
    evaluation is written there and not into the session's store."""
    linked = isolated_store / "whisper-base"
    real = linked.resolve()
    linked.unlink()
    linked.mkdir()
    for item in real.iterdir():
        if not item.name.startswith("evaluation"):
            (linked / item.name).symlink_to(item)
    return linked


def test_cli_measures_a_small_manifest_and_stores_the_result(tmp_path, own_whisper, kiosk_cli):
    clips = [
        find_clip("a Korean clip", lambda c: c.lang == "ko" and c.duration_s >= 3),
        find_clip("an English clip", lambda c: c.lang == "en" and c.duration_s >= 3),
        find_clip("a Japanese clip", lambda c: c.lang == "ja" and c.duration_s >= 3),
    ]
    manifest = write_manifest(tmp_path / "recordings", clips)
    done = kiosk_cli("eval", "asr", manifest, "--json")
    assert done.code == 0, done.stderr
    result = done.json
    assert RECORD_KEYS | {"stored"} <= set(result) and "store_error" not in result
    assert result["version"] == 1 and result["model_id"] == "whisper-base" and result["threads"] >= 1
    assert result["manifest"] == str(manifest) and result["date"].endswith("+00:00")
    assert list(result["languages"]) == ["ko", "en", "ja"]  # the catalogue's order
    for lang, row in result["languages"].items():
        assert set(row) == LANGUAGE_KEYS, lang
        assert row["clips"] == 1 and row["metric"] == ("wer" if lang == "en" else "cer")
        assert 0 <= row["error"] < 0.5 and row["language_id"] == 1.0
        assert 0 < row["p50_s"] == row["worst_s"]
    assert result["overall"]["clips"] == 3
    assert result["overall"]["worst_s"] == max(row["worst_s"] for row in result["languages"].values())

    stored = own_whisper / "evaluation-asr.json"
    assert result["stored"] == str(stored)
    on_disk = json.loads(stored.read_text(encoding="utf-8"))
    assert on_disk == {key: value for key, value in result.items() if key != "stored"}
    assert evaluations.measured_asr(from_environment(), "whisper-base") == on_disk
    assert evaluations.read(own_whisper) is None  # the translation record is a file of its own


def test_manifest_format(tmp_path):
    clip = find_clip("a Korean clip", lambda c: c.lang == "ko")
    manifest = write_manifest(tmp_path / "ok", [clip])
    [read] = eval_asr.read_manifest(manifest)
    assert (read.path, read.lang, read.transcript, read.duration_s) == (
        manifest.parent / clip.path.name, "ko", clip.transcript, clip.duration_s)

    bad = tmp_path / "bad.tsv"
    for text, says in [
        ("path\tlang\ttranscript\nx.wav\tko\t안녕\n", "duration_s"),
        (f"path\tlang\tduration_s\ttranscript\n{clip.path}\tfr\t1.0\tbonjour\n", "'fr'"),
        ("path\tlang\tduration_s\ttranscript\nmissing.wav\tko\t1.0\t안녕\n", "missing.wav does not exist"),
        ("path\tlang\tduration_s\ttranscript\n", "lists no clips"),
    ]:
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(BadInput, match=says):
            eval_asr.read_manifest(bad)
    with pytest.raises(BadInput, match="does not exist"):
        eval_asr.read_manifest(tmp_path / "none.tsv")


def test_cli_refuses_a_bad_manifest_and_an_unknown_model(tmp_path, isolated_store, kiosk_cli):
    bad = tmp_path / "bad.tsv"
    bad.write_text("path\tlang\n", encoding="utf-8")
    done = kiosk_cli("eval", "asr", bad, "--json")
    assert done.code == 2 and done.json["error_code"] == "bad-input" and "duration_s" in done.json["error"]

    manifest = write_manifest(tmp_path / "ok", [find_clip("a Korean clip", lambda c: c.lang == "ko")])
    done = kiosk_cli("eval", "asr", manifest, "--model", "whisper-nonesuch", "--json")
    assert done.code == 3 and done.json["model_id"] == "whisper-nonesuch"
    with pytest.raises(ModelMissing, match="not speech recognition"):
        eval_asr.run(from_environment(), manifest, "en_US-joe-medium")


def fake_record(model_id="whisper-base") -> dict:
    return {"version": 1, "model_id": model_id, "date": "2026-12-01T05:00:00+00:00", "kiosk_version": "0.1.0",
            "cpu": "Test CPU", "threads": 2, "manifest": "/m/manifest.tsv",
            "languages": {"ko": {"clips": 2, "metric": "cer", "error": 0.069, "language_id": 1.0,
                                 "p50_s": 1.1, "worst_s": 1.5},
                          "en": {"clips": 1, "metric": "wer", "error": 0.05, "language_id": 1.0,
                                 "p50_s": 1.2, "worst_s": 1.2}},
            "overall": {"clips": 3, "p50_s": 1.1, "worst_s": 1.5}}


def test_read_only_store_still_gives_the_figures(tmp_path, own_whisper, monkeypatch):
    manifest = write_manifest(tmp_path / "ok", [find_clip("a Korean clip", lambda c: c.lang == "ko")])
    monkeypatch.setattr(eval_asr, "build_recognizer", lambda *args: None)
    monkeypatch.setattr(eval_asr, "evaluate", lambda *args: fake_record())

    def read_only(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(evaluations, "write_asr", read_only)
    result = eval_asr.run(from_environment(), manifest)
    assert result["stored"] is None and result["store_error"] == "Permission denied"
    assert result["languages"]["ko"]["error"] == 0.069
    assert not (own_whisper / "evaluation-asr.json").exists()


def test_human_output_is_a_table_per_language(monkeypatch, capsys):
    from kiosk.cli.parser import main

    monkeypatch.setattr(eval_asr, "run", lambda store, manifest, model: fake_record() | {"stored": "/s/evaluation-asr.json"})
    assert main(["eval", "asr", "/m/manifest.tsv"]) == 0
    out = capsys.readouterr().out
    assert "whisper-base" in out and "/m/manifest.tsv" in out and "/s/evaluation-asr.json" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("    ")}
    assert rows["ko"][1:] == ["2", "CER", "0.069", "100%", "1.10", "1.50"]
    assert rows["en"][1:4] == ["1", "WER", "0.050"]
    assert rows["all"][1:] == ["3", "1.10", "1.50"]


def test_measured_asr_reads_only_its_own_shape(own_whisper):
    store = from_environment()
    assert evaluations.measured_asr(store, "whisper-base") is None
    assert evaluations.measured_asr(store, "whisper-nonesuch") is None
    path = evaluations.write_asr(own_whisper, fake_record())
    assert path == own_whisper / "evaluation-asr.json"
    assert evaluations.measured_asr(store, "whisper-base") == fake_record()
    path.write_text(json.dumps({"version": 2, "languages": {}}), encoding="utf-8")
    assert evaluations.measured_asr(store, "whisper-base") is None
    path.write_text("{", encoding="utf-8")
    assert evaluations.measured_asr(store, "whisper-base") is None


def test_a_clip_out_of_budget_scores_as_not_recognised(tmp_path):
    from asr import RecognitionTimeout, Transcript

    clips = eval_asr.read_manifest(write_manifest(tmp_path / "ok", [
        find_clip("a Korean clip", lambda c: c.lang == "ko"),
        find_clip("an English clip", lambda c: c.lang == "en")]))

    class Recognizer:
        def transcribe(self, audio, *, candidates):
            assert set(candidates) == set(eval_asr.catalog.LANGUAGE_CODES)
            if len(self.__dict__) == 0:
                self.called = True
                raise RecognitionTimeout("over its deadline")
            return Transcript(clips[1].transcript, "en", 0.9, (), audio.size / 16000, "transcribe")

    results = eval_asr.clip_results(Recognizer(), clips)
    assert [(r.error, r.language_right) for r in results] == [(1.0, False), (0.0, True)]
    languages, overall = eval_asr.summarise(results)
    assert languages["ko"]["error"] == 1.0 and languages["ko"]["language_id"] == 0.0
    assert languages["en"] == {"clips": 1, "metric": "wer", "error": 0.0, "language_id": 1.0,
                               "p50_s": languages["en"]["p50_s"], "worst_s": languages["en"]["p50_s"]}
    assert overall["clips"] == 2
