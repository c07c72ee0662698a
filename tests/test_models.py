"""The model store: embedded defaults from PyPI, manifests, verification."""

import json

import pytest

from kiosk import catalog, models
from kiosk.errors import ModelMissing


def test_defaults_are_installed_and_verified():
    for entry in catalog.models().values():
        if entry.default:
            model = models.installed()[entry.id]
            assert models.check_model(model).state == "verified"
            assert set(model.files) == set(entry.files)


def test_embedded_install_joins_parts_and_checks_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    entry = catalog.models()["whisper-base"]
    model = models.install_embedded(entry)
    assert model.path == tmp_path / "models" / "whisper-base"
    assert models.sha256_file(model.file("model.bin")) == entry.files["model.bin"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["whisper-base"]  # no staging left


def test_ensure_defaults_is_fast_when_present(tmp_path, monkeypatch, isolated_store):
    before = {p.name: p.resolve() for p in isolated_store.iterdir()}
    models.ensure_defaults()
    assert {p.name: p.resolve() for p in isolated_store.iterdir()} == before


def test_flipped_byte_is_detected_and_named(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    model = models.install_embedded(catalog.models()["en_US-joe-medium"])
    onnx = model.file("en_US-joe-medium.onnx")
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    assert models.check_model(model, full=False).ok  # same size: only the hash can tell
    check = models.check_model(model)
    assert check.state == "corrupt"
    assert check.problems == ("en_US-joe-medium.onnx fails its sha256 check",)


def test_missing_file_makes_the_model_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    model = models.install_embedded(catalog.models()["en_US-joe-medium"])
    model.file("en_US-joe-medium.onnx.json").unlink()
    with pytest.raises(ModelMissing, match="en_US-joe-medium.*onnx.json is missing"):
        models.find("en_US-joe-medium")


def test_unreadable_manifest_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    (tmp_path / "models" / "broken").mkdir(parents=True)
    (tmp_path / "models" / "broken" / "manifest.json").write_text("{not json")
    assert models.installed() == {}
    with pytest.raises(ModelMissing, match="whisper-base"):
        models.find("whisper-base")


def test_manifest_records_catalogue_facts(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    model = models.install_embedded(catalog.models()["en_US-joe-medium"])
    manifest = json.loads((model.path / "manifest.json").read_text())
    assert manifest["kind"] == "tts" and manifest["languages"] == ["en"]
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in manifest["files"].values())


def test_catalogue_languages_match_the_contract():
    assert tuple(catalog.languages()) == catalog.LANGUAGE_CODES
    for lang in catalog.languages().values():
        assert lang.native and lang.font
        assert lang.piper_voice is None or lang.piper_voice in catalog.models()
