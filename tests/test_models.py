"""The model store: embedded defaults from PyPI, manifests, verification."""

import json
import os

import pytest

from kiosk.errors import BadInput, ModelMissing
from kiosk.store import catalog, models
from kiosk.store.catalog import MODELS_FILE, Catalog
from kiosk.store.environment import from_environment
from kiosk.store.models import ModelStore

CATALOG = Catalog()


def test_defaults_are_installed_and_verified():
    store = from_environment()  # the suite's store (conftest.hermetic_model_store)
    for entry in store.catalog.models.values():
        if entry.default:
            model = store.installed()[entry.id]
            assert models.check_model(model).state == "verified"
            assert set(model.files) == set(entry.files)


def test_embedded_install_joins_parts_and_checks_sha256(tmp_path):
    entry = CATALOG.models["whisper-base"]
    model = ModelStore(tmp_path).install_embedded(entry)
    assert model.path == tmp_path / "models" / "whisper-base"
    assert models.sha256_file(model.file("model.bin")) == entry.files["model.bin"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["whisper-base"]  # no staging left


def test_ensure_defaults_is_fast_when_present(isolated_store):
    before = {p.name: p.resolve() for p in isolated_store.iterdir()}
    from_environment().ensure_defaults()
    assert {p.name: p.resolve() for p in isolated_store.iterdir()} == before


def test_flipped_byte_is_detected_and_named(tmp_path):
    model = ModelStore(tmp_path).install_embedded(CATALOG.models["en_US-joe-medium"])
    onnx = model.file("en_US-joe-medium.onnx")
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    assert models.check_model(model, full=False).ok  # same size: only the hash can tell
    check = models.check_model(model)
    assert check.state == "corrupt"
    assert check.problems == ("en_US-joe-medium.onnx fails its sha256 check",)


def test_missing_file_makes_the_model_unavailable(tmp_path):
    store = ModelStore(tmp_path)
    model = store.install_embedded(CATALOG.models["en_US-joe-medium"])
    model.file("en_US-joe-medium.onnx.json").unlink()
    with pytest.raises(ModelMissing, match="en_US-joe-medium.*onnx.json is missing"):
        store.find("en_US-joe-medium")


def test_unreadable_manifest_is_ignored(tmp_path):
    store = ModelStore(tmp_path)
    (tmp_path / "models" / "broken").mkdir(parents=True)
    (tmp_path / "models" / "broken" / "manifest.json").write_text("{not json")
    assert store.installed() == {}
    with pytest.raises(ModelMissing, match="whisper-base"):
        store.find("whisper-base")


def test_manifest_records_catalogue_facts(tmp_path):
    model = ModelStore(tmp_path).install_embedded(CATALOG.models["en_US-joe-medium"])
    manifest = json.loads((model.path / "manifest.json").read_text())
    assert manifest["kind"] == "tts" and manifest["languages"] == ["en"]
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in manifest["files"].values())


def test_catalogue_languages_match_the_contract():
    assert tuple(catalog.languages()) == catalog.LANGUAGE_CODES
    for lang in catalog.languages().values():
        assert lang.native and lang.font
        assert lang.piper_voice is None or lang.piper_voice in CATALOG.models


def test_catalogue_entries_are_complete_and_obtainable():
    for entry in CATALOG.models.values():
        assert entry.license and entry.source and entry.size_mb > 0 and entry.languages, entry.id
        assert entry.embedded or entry.repo or entry.url or entry.system_package, entry.id
        if entry.convert:
            assert entry.kind == "mt-seq2seq" and entry.download_mb and entry.downloads, entry.id


def test_catalogue_holds_the_models_a_deployment_needs():
    entries = CATALOG.models
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


def test_an_extra_catalogue_file_adds_entries_and_is_checked(tmp_path):
    extra = tmp_path / "mirror.toml"
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
    for text, error in cases:
        extra.write_text(text)
        if error is None:
            assert Catalog((MODELS_FILE, extra)).models["mirror-voice"].downloads == ("a/b.onnx",)
        else:
            with pytest.raises(BadInput, match=error):
                Catalog((MODELS_FILE, extra))


def test_the_environment_is_read_when_the_store_is_built(tmp_path):
    extra = tmp_path / "mirror.toml"
    extra.write_text('[[model]]\nid = "mirror-voice"\nkind = "tts"\nengine = "piper"\nname = "x"\nlanguages = ["vi"]\n'
                     'license = "MIT"\nsource = "mirror"\nurl = "https://mirror.example/x"\nsize_mb = 1\n')
    store = from_environment({"KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_SYSTEM_STORES": os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]),
                              "KIOSK_CATALOG": str(extra)})
    assert store.user_dir == tmp_path / "data" / "models"
    assert store.stores == [tmp_path / "data" / "models", tmp_path / "a", tmp_path / "b"]
    assert "mirror-voice" in store.catalog.models and "whisper-base" in store.catalog.models
    assert from_environment({"KIOSK_DATA_DIR": str(tmp_path)}).system_dirs == models.SYSTEM_STORES
    assert "mirror-voice" not in from_environment({"KIOSK_DATA_DIR": str(tmp_path)}).catalog.models


def test_inventory_rows(tmp_path):
    store = ModelStore(tmp_path)
    voice = store.install_embedded(CATALOG.models["en_US-joe-medium"])
    [row] = store.inventory()
    assert (row.id, row.name, row.kind, row.state, row.path, row.refused, row.default) == (
        "en_US-joe-medium", CATALOG.models["en_US-joe-medium"].name, "tts", "installed", voice.path, False, True)
    every = {row.id: row for row in store.inventory(available=True)}
    assert set(every) == set(CATALOG.models)
    assert every["whisper-base"].state == "available" and every["whisper-base"].path is None
    onnx = voice.file("en_US-joe-medium.onnx")
    data = bytearray(onnx.read_bytes())
    data[1000] ^= 0xFF
    onnx.write_bytes(bytes(data))
    assert store.inventory()[0].state == "installed"  # sizes only
    [row] = store.inventory(full=True)
    assert row.state == "corrupt" and row.refused and row.problems == ("en_US-joe-medium.onnx fails its sha256 check",)
