"""The model store: embedded defaults from PyPI, manifests, verification."""

import json

import pytest

from kiosk import catalog, models
from kiosk.errors import BadInput, ModelMissing


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


def test_catalogue_entries_are_complete_and_obtainable():
    for entry in catalog.models().values():
        assert entry.license and entry.source and entry.size_mb > 0 and entry.languages, entry.id
        assert entry.embedded or entry.repo or entry.url or entry.system_package, entry.id
        if entry.convert:
            assert entry.kind == "mt-seq2seq" and entry.download_mb and entry.downloads, entry.id


def test_catalogue_holds_the_models_a_deployment_needs():
    entries = catalog.models()
    asr = {e.id: e for e in entries.values() if e.kind == "asr"}
    assert {f"whisper-{size}" for size in ("tiny", "base", "small", "medium", "large-v3", "large-v3-turbo")} <= set(asr)
    assert not asr["whisper-large-v3-turbo"].translates_to_english and asr["whisper-small"].translates_to_english

    mt = [e for e in entries.values() if e.kind.startswith("mt")]
    assert mt[0].id == "m2m100-418m" and mt[0].license == "MIT" and set(mt[0].languages) == set(catalog.LANGUAGE_CODES)
    nllb = entries["nllb-200-distilled-600m"]
    assert nllb.license == "CC-BY-NC-4.0" and "non-commercial" in nllb.license_warning
    pairs = {tuple(e.languages) for e in mt if e.family == "marian"}
    for other in ("vi", "zh", "ru", "ja", "id"):
        assert {("en", other), (other, "en")} <= pairs
    assert {("ko", "en"), ("en", "ko"), ("th", "en")} <= pairs
    assert ("en", "th") not in pairs  # OPUS-MT has no English -> Thai model

    voices = {e.languages[0]: e for e in entries.values() if e.engine == "piper"}
    assert set(voices) == {"en", "zh", "vi", "ru", "ne", "id"}
    assert entries["espeak-ng"].system_package == "espeak-ng"


def test_an_extra_catalogue_file_adds_entries_and_is_checked(tmp_path, monkeypatch):
    extra = tmp_path / "mirror.toml"
    monkeypatch.setenv("KIOSK_CATALOG", str(extra))
    entry = ('[[model]]\nid = "{id}"\nkind = "tts"\nengine = "piper"\nname = "x"\nlanguages = ["{lang}"]\n'
             'license = "MIT"\nsource = "mirror"\nurl = "https://mirror.example/x"\nfetch = ["{fetch}"]\nsize_mb = 1\n')
    cases = [
        (entry.format(id="mirror-voice", lang="vi", fetch="a/b.onnx"), None),
        (entry.format(id="whisper-base", lang="vi", fetch="b.onnx"), "already in the catalogue"),
        (entry.format(id="../escape", lang="vi", fetch="b.onnx"), "an id is"),
        (entry.format(id="voice", lang="de", fetch="b.onnx"), "outside the contract"),
        (entry.format(id="voice", lang="vi", fetch="../.hidden"), "file names must be plain"),
        (entry.format(id="voice", lang="vi", fetch="b.onnx") + "colour = 1\n", "unexpected keyword"),
    ]
    try:
        for text, error in cases:
            extra.write_text(text)
            catalog.models.cache_clear()
            if error is None:
                assert catalog.models()["mirror-voice"].downloads == ("a/b.onnx",)
            else:
                with pytest.raises(BadInput, match=error):
                    catalog.models()
    finally:
        catalog.models.cache_clear()
