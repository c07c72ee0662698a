"""Packs for air-gapped kiosks: export, import (packs, directories, Piper voices, Argos packages), safety."""

import hashlib
import io
import json
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
import soundfile
from conftest import REPO
from tiny_mt import build_argos_package, build_seq2seq

from kiosk.errors import BadInput, ModelMissing, VerificationFailed
from kiosk.store import models, packs
from kiosk.store.catalog import Catalog
from kiosk.store.environment import from_environment
from kiosk.turn.engines import Engines

TINY_ID = "tiny-pack-m2m"
TINY_LANGUAGES = ("ko", "en", "vi")


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """An empty user store for this process (``from_environment()``) and the CLI."""
    data_dir = tmp_path / "kiosk-data"
    monkeypatch.setenv("KIOSK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KIOSK_SYSTEM_STORES", "")
    return data_dir


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_seq2seq(tmp_path_factory.mktemp("tiny") / TINY_ID, "m2m100")


def tiny_options(model_id: str = TINY_ID) -> packs.ImportOptions:
    return packs.ImportOptions(model_id=model_id, kind="mt-seq2seq", family="m2m100", languages=TINY_LANGUAGES)


def snapshot(data_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")) if data_dir.exists() else []


def write_pack(path: Path, model_dir: Path, model_id: str = TINY_ID, *, manifest_edit=None, extra=()) -> Path:
    """A pack built by hand (not by `export`), so that the importer is checked against the format itself."""
    names = sorted(p.name for p in model_dir.iterdir())
    files = {n: {"sha256": hashlib.sha256((model_dir / n).read_bytes()).hexdigest(), "size": (model_dir / n).stat().st_size}
             for n in names}
    manifest = {"format": packs.PACK_FORMAT, "version": packs.PACK_VERSION, "models": [{
        "id": model_id, "kind": "mt-seq2seq", "engine": "ctranslate2", "family": "m2m100",
        "languages": list(TINY_LANGUAGES), "license": "test only", "source": "built by the test", "files": files}]}
    if manifest_edit:
        manifest_edit(manifest)
    with tarfile.open(path, "w") as tar:
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        for name in names:
            tar.add(model_dir / name, f"models/{model_id}/{name}")
        for member in extra:
            tar.addfile(member)
    return path


def add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def special_member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def zip_package(path: Path, package_dir: Path, top: str, extra: dict[str, tuple[bytes, int]] | None = None) -> Path:
    """An .argosmodel: the package directory under one top directory; ``extra`` adds raw members by mode."""
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(package_dir.rglob("*")):
            if file.is_file():
                archive.write(file, f"{top}/{file.relative_to(package_dir).as_posix()}")
        archive.writestr(f"{top}/stanza/tokenize.pt", b"not used by the kiosk")
        archive.writestr(f"{top}/README.md", "Test package. Licence: CC0.")
        for name, (content, mode) in (extra or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return path


@pytest.fixture(scope="module")
def argos_dir(tmp_path_factory) -> Path:
    return build_argos_package(tmp_path_factory.mktemp("argos") / "en_vi", "en", "vi")


# --- round trips --------------------------------------------------------------------------------


def test_voice_round_trip_export_then_import_speaks(kiosk_cli, isolated_store, tmp_path):
    pack = tmp_path / "voice.tar"
    exported = kiosk_cli("models", "export", "en_US-joe-medium", "--to", pack, "--json")
    assert exported.code == 0, exported.stderr
    assert exported.json["models"] == ["en_US-joe-medium"]
    with tarfile.open(pack) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    entry = manifest["models"][0]
    assert entry["kind"] == "tts" and entry["languages"] == ["en"] and "CC0" in entry["license"]
    assert {n: f["sha256"] for n, f in entry["files"].items()} == Catalog().models["en_US-joe-medium"].files

    kiosk = {"KIOSK_DATA_DIR": str(tmp_path / "air-gapped")}
    imported = kiosk_cli("models", "import", pack, "--json", env=kiosk)
    assert imported.code == 0, imported.stderr
    assert kiosk_cli("models", "verify", "en_US-joe-medium", env=kiosk).code == 0
    out = tmp_path / "hello.wav"
    said = kiosk_cli("say", "Welcome to the service counter.", "--lang", "en", "--out", out, "--json", env=kiosk)
    assert said.code == 0, said.stderr
    assert said.json["voice"] == "en_US-joe-medium" and soundfile.info(out).duration > 1


def test_import_over_a_linked_model_leaves_the_link_target_alone(isolated_store, tmp_path):
    real_voice = (isolated_store / "en_US-joe-medium").resolve()
    pack = tmp_path / "voice.tar"
    packs.export_pack(from_environment(), ["en_US-joe-medium"], pack)
    packs.import_path(from_environment(), pack)
    assert not (isolated_store / "en_US-joe-medium").is_symlink()
    assert models.check_model(from_environment().installed()["en_US-joe-medium"]).state == "verified"
    assert (real_voice / "en_US-joe-medium.onnx").is_file() and (real_voice / models.MANIFEST).is_file()


def test_tiny_model_round_trip_translates(kiosk_cli, store, tiny_model, tmp_path, monkeypatch):
    imported = kiosk_cli("models", "import", tiny_model, "--id", TINY_ID, "--kind", "mt-seq2seq", "--family", "m2m100",
                         "--languages", ",".join(TINY_LANGUAGES), "--license", "test only", "--json")
    assert imported.code == 0, imported.stderr
    pack = tmp_path / "tiny.tar"
    assert kiosk_cli("models", "export", TINY_ID, "--to", pack).code == 0

    elsewhere = tmp_path / "other-kiosk"
    assert kiosk_cli("models", "import", pack, env={"KIOSK_DATA_DIR": str(elsewhere)}).code == 0
    model = models.parse_manifest(json.loads((elsewhere / "models" / TINY_ID / models.MANIFEST).read_text()), elsewhere)
    assert model.license == "test only" and model.family == "m2m100" and model.languages == TINY_LANGUAGES
    monkeypatch.setenv("KIOSK_DATA_DIR", str(elsewhere))
    translation = Engines().router.translate("서류 번호 여기", "ko", "vi")
    assert translation.engine == "seq2seq" and translation.model_id == TINY_ID and translation.text


def test_argos_package_imports_and_translates_through_the_router(kiosk_cli, store, argos_dir, tmp_path):
    package = zip_package(tmp_path / "translate-en_vi-1_9.argosmodel", argos_dir, "translate-en_vi-1_9")
    result = kiosk_cli("models", "import", package, "--json")
    assert result.code == 0, result.stderr
    assert result.json[0]["id"] == "argos-en-vi" and result.json[0]["languages"] == ["en", "vi"]
    model = from_environment().installed()["argos-en-vi"]
    assert model.family == "marian" and "stanza" not in " ".join(model.files)
    assert {"model.bin", "sentencepiece.model", "README.md"} <= set(model.files)
    router = Engines().router
    translation = router.translate("please wait here number", "en", "vi")
    assert translation.engine == "seq2seq" and translation.model_id == "argos-en-vi" and translation.text
    assert router.translate("xin chào cảm ơn", "vi", "en").engine == "none"  # one direction only


def test_argos_conventions_no_eos_and_the_packages_target_prefix(store, tmp_path):
    """As argostranslate/translate.py: bare sentencepiece pieces, ``target_prefix`` forced then removed."""
    from mt.seq2seq import Seq2SeqTranslator

    package_dir = build_argos_package(tmp_path / "en_ko", "en", "ko", target_prefix="__ko__",
                                      from_codes=["en"], to_codes=["ko", "ja"])
    package = zip_package(tmp_path / "translate-en_ko.argosmodel", package_dir, "translate-en_ko")
    [model] = packs.import_path(from_environment(), package)
    assert model.id == "argos-en-ko" and model.languages == ("en", "ko", "ja") and "metadata.json" in model.files
    translator = Seq2SeqTranslator(model.path, "marian", model.languages[:1], target_languages=model.languages[1:])
    pieces = translator._source_tokenizer.pieces("hello please wait")
    assert translator.source_tokens("hello please wait", "en", "ko") == pieces  # no </s>
    assert translator.target_prefix("ko") == ["__ko__"]
    assert translator.supports("en", "ko") and translator.supports("en", "ja") and not translator.supports("ko", "en")
    raw = translator._translator.translate_batch([pieces], target_prefix=[["__ko__"]], max_decoding_length=6)
    assert raw[0].hypotheses[0][0] == "__ko__"
    [text] = translator.translate(["hello please wait"], "en", "ko")
    assert text and "__ko__" not in text


def test_argos_package_with_several_source_codes(store, tmp_path):
    package_dir = build_argos_package(tmp_path / "mul_en", "vi", "en", from_codes=["vi", "th", "de"])
    [model] = packs.import_path(from_environment(), zip_package(tmp_path / "mul_en.argosmodel", package_dir, "mul_en"))
    assert model.id == "argos-vi-en" and model.languages == ("vi", "th", "en")  # de is not a kiosk language
    router = Engines().router
    assert router.translate("xin chào cảm ơn", "vi", "en").model_id == "argos-vi-en"
    assert router.translate("สวัสดี ขอบคุณ", "th", "en").model_id == "argos-vi-en"


def test_argos_package_for_a_language_the_kiosk_does_not_offer(store, argos_dir, tmp_path):
    package_dir = tmp_path / "de_en"
    shutil.copytree(argos_dir, package_dir)
    (package_dir / "metadata.json").write_text(json.dumps({"from_code": "de", "to_code": "en"}))
    with pytest.raises(BadInput, match="translates de→en"):
        packs.import_path(from_environment(), zip_package(tmp_path / "de_en.argosmodel", package_dir, "de_en"))


def test_piper_voice_outside_the_catalogue_becomes_the_voice_for_its_language(isolated_store, tmp_path):
    model_store = from_environment()
    real = model_store.installed()["en_US-joe-medium"]
    voice_dir = tmp_path / "voice"
    voice_dir.mkdir()
    shutil.copy(real.file("en_US-joe-medium.onnx"), voice_dir / "en_GB-test-medium.onnx")
    shutil.copy(real.file("en_US-joe-medium.onnx.json"), voice_dir / "en_GB-test-medium.onnx.json")
    [voice] = packs.import_path(model_store, voice_dir / "en_GB-test-medium.onnx")
    assert (voice.id, voice.kind, voice.engine, voice.languages, voice.license) == (
        "en_GB-test-medium", "tts", "piper", ("en",), "unknown")
    model_store.remove("en_US-joe-medium")
    assert model_store.installed_voice("en", "en_US-joe-medium") == "en_GB-test-medium"
    assert Engines(store=model_store).voice("en").voice_id == "en_GB-test-medium"


def test_directory_import_checks_the_catalogues_sha256(store, tiny_model, tmp_path, monkeypatch):
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tiny_model.iterdir()}
    extra = tmp_path / "catalogue.toml"
    extra.write_text(f'[[model]]\nid = "{TINY_ID}"\nkind = "mt-seq2seq"\nengine = "ctranslate2"\nfamily = "m2m100"\n'
                     f'name = "tiny"\nlanguages = ["ko", "en", "vi"]\nlicense = "test only"\nsource = "test"\n'
                     f'size_mb = 0.5\n[model.files]\n' + "".join(f'"{n}" = "{d}"\n' for n, d in digests.items()))
    monkeypatch.setenv("KIOSK_CATALOG", str(extra))
    damaged = shutil.copytree(tiny_model, tmp_path / "damaged" / TINY_ID)
    flip_byte(damaged / "model.bin")
    with pytest.raises(VerificationFailed, match="model.bin .* fails its sha256 check"):
        packs.import_path(from_environment(), damaged)
    assert snapshot(store / "models") == []
    [model] = packs.import_path(from_environment(), tiny_model)  # the directory's name is the catalogue id
    assert model.license == "test only" and models.check_model(model).state == "verified"


def test_directory_outside_the_catalogue_needs_a_description(kiosk_cli, store, tiny_model):
    result = kiosk_cli("models", "import", tiny_model)
    assert result.code == 2 and "--id, --kind and --languages" in result.stderr


def test_store_directory_from_another_kiosk_is_checked_against_its_manifest(store, tiny_model, tmp_path):
    [model] = packs.import_path(from_environment(), tiny_model, tiny_options())
    copy = shutil.copytree(model.path, tmp_path / "usb" / TINY_ID)
    from_environment().remove(TINY_ID)
    flip_byte(copy / "model.bin")
    with pytest.raises(VerificationFailed, match="model.bin"):
        packs.import_path(from_environment(), copy)
    assert TINY_ID not in from_environment().installed()


# --- safety -------------------------------------------------------------------------------------


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncated(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


MALICIOUS = {
    "traversal": (lambda d, t: write_pack(t / "p.tar", d, extra=[tar_file("../escaped")]), BadInput, "outside the archive"),
    "absolute path": (lambda d, t: write_pack(t / "p.tar", d, extra=[tar_file(str(t / "escaped"))]), BadInput, "absolute path"),
    "symlink escape": (lambda d, t: write_pack(t / "p.tar", d, extra=[special_member(
        f"models/{TINY_ID}/passwd", tarfile.SYMTYPE, "/etc/passwd")]), BadInput, "is a link"),
    "hard link escape": (lambda d, t: write_pack(t / "p.tar", d, extra=[special_member(
        f"models/{TINY_ID}/passwd", tarfile.LNKTYPE, "../../../etc/passwd")]), BadInput, "is a link"),
    "device file": (lambda d, t: write_pack(t / "p.tar", d, extra=[special_member(
        f"models/{TINY_ID}/null", tarfile.CHRTYPE)]), BadInput, "device file"),
    "unlisted member": (lambda d, t: write_pack(t / "p.tar", d, extra=[tar_file(f"models/{TINY_ID}/extra.bin")]),
                        BadInput, "not listed"),
    "truncated tar": (lambda d, t: truncated(write_pack(t / "p.tar", d), 0.5), BadInput, "truncated"),
    "wrong sha256": (lambda d, t: write_pack(t / "p.tar", d, manifest_edit=lambda m: m["models"][0]["files"][
        "model.bin"].update(sha256="0" * 64)), VerificationFailed, "model.bin .* fails its sha256 check"),
    "unsafe model id": (lambda d, t: write_pack(t / "p.tar", d, ".."), BadInput, "outside the archive"),
    "not a pack": (lambda d, t: not_a_pack(t / "p.tar"), BadInput, "not a model pack"),
}


def not_a_pack(path: Path) -> Path:
    path.write_text("a shopping list, not a pack")
    return path


def tar_file(name: str, content: bytes = b"evil") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info


@pytest.mark.parametrize("case", list(MALICIOUS))
def test_malicious_packs_are_refused_and_leave_the_store_unchanged(store, tiny_model, tmp_path, case):
    build, error, message = MALICIOUS[case]
    packs.import_path(from_environment(), tiny_model, tiny_options("already-installed"))
    before = snapshot(store)
    pack = build(tiny_model, tmp_path)
    with pytest.raises(error, match=message):
        packs.import_path(from_environment(), pack)
    assert snapshot(store) == before
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


@pytest.mark.parametrize("name, mode, message", [
    ("pkg/../../escaped", stat.S_IFREG | 0o644, "outside the archive"),
    ("/tmp/escaped-argos", stat.S_IFREG | 0o644, "absolute path"),
    ("pkg/model/link", stat.S_IFLNK | 0o777, "is a link"),
    ("pkg/model/fifo", stat.S_IFIFO | 0o644, "device file or pipe"),
])
def test_malicious_argos_packages_are_refused(store, argos_dir, tmp_path, name, mode, message):
    package = zip_package(tmp_path / "bad.argosmodel", argos_dir, "pkg", extra={name: (b"/etc/passwd", mode)})
    with pytest.raises(BadInput, match=message):
        packs.import_path(from_environment(), package)
    assert snapshot(store) == []


def test_malicious_pack_on_the_command_line_is_one_line_and_exit_2(kiosk_cli, store, tiny_model, tmp_path):
    pack = write_pack(tmp_path / "evil.tar", tiny_model, extra=[tar_file("../escaped")])
    result = kiosk_cli("models", "import", pack, "--json")
    assert result.code == 2 and result.json["error_kind"] == "bad-input"
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    tampered = write_pack(tmp_path / "tampered.tar", tiny_model, manifest_edit=lambda m: m["models"][0]["files"][
        "config.json"].update(sha256="1" * 64))
    result = kiosk_cli("models", "import", tampered)
    assert result.code == 1 and "config.json" in result.stderr and "nothing was installed" in result.stderr
    assert snapshot(store / "models") == []


# --- verify, start-up refusal, remove, system stores ---------------------------------------------


def test_verify_detects_a_flipped_byte_and_the_kiosk_refuses_the_model(kiosk_cli, store, tiny_model):
    model_store = from_environment()
    [model] = packs.import_path(model_store, tiny_model, tiny_options())
    flip_byte(model.file("model.bin"))
    result = kiosk_cli("models", "verify", TINY_ID, "--json")
    assert result.code == 1
    assert result.json == [{"id": TINY_ID, "state": "corrupt", "problems": ["model.bin fails its sha256 check"]}]

    refused = model_store.startup_check()
    assert list(refused) == [TINY_ID] and refused[TINY_ID].problems == ("model.bin fails its sha256 check",)
    with pytest.raises(ModelMissing, match="failed verification at start-up: model.bin"):
        model_store.find(TINY_ID)
    assert Engines(store=model_store).router.translators == []
    assert from_environment().find(TINY_ID).id == TINY_ID  # refusals belong to the store that checked
    doctor = kiosk_cli("doctor", "--json")
    row = next(m for m in doctor.json["models"] if m["id"] == TINY_ID)
    assert doctor.code == 1 and row["refused"] and row["state"] == "corrupt"

    packs.import_path(model_store, tiny_model, tiny_options())  # a fresh copy lifts the refusal
    assert model_store.find(TINY_ID).id == TINY_ID


def test_list_shows_installed_models_outside_the_catalogue_and_verifies_on_request(kiosk_cli, store, tiny_model):
    [model] = packs.import_path(from_environment(), tiny_model, tiny_options())
    rows = {row["id"]: row for row in kiosk_cli("models", "list", "--json").json}
    assert rows[TINY_ID]["state"] == "installed" and rows[TINY_ID]["path"] == str(model.path)
    assert rows["m2m100-418m"]["state"] == "available"
    assert rows["nllb-200-distilled-600m"]["license_warning"]
    verified = {row["id"]: row["state"] for row in kiosk_cli("models", "list", "--verify", "--json").json}
    assert verified[TINY_ID] == "verified"


def test_remove_and_the_read_only_system_store(kiosk_cli, store, tiny_model, tmp_path):
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    [model] = packs.import_path(from_environment(), tiny_model, tiny_options("fleet-model"))
    shutil.move(model.path, fleet / "fleet-model")
    packs.import_path(from_environment(), tiny_model, tiny_options())
    fleet_env = {"KIOSK_SYSTEM_STORES": str(fleet)}

    rows = {row["id"]: row for row in kiosk_cli("models", "list", "--json", env=fleet_env).json}
    assert rows["fleet-model"]["path"] == str(fleet / "fleet-model")
    refused = kiosk_cli("models", "remove", "fleet-model", env=fleet_env)
    assert refused.code == 2 and "read-only" in refused.stderr
    assert (fleet / "fleet-model" / "model.bin").is_file()

    removed = kiosk_cli("models", "remove", TINY_ID, "--json", env=fleet_env)
    assert removed.code == 0 and removed.json[0]["id"] == TINY_ID
    assert snapshot(store / "models") == []
    missing = kiosk_cli("models", "remove", TINY_ID, "--json")
    assert missing.code == 3 and missing.json["model_id"] == TINY_ID


def test_export_refuses_a_corrupt_or_missing_model(kiosk_cli, store, tiny_model, tmp_path):
    [model] = packs.import_path(from_environment(), tiny_model, tiny_options())
    flip_byte(model.file("config.json"))
    pack = tmp_path / "out.tar"
    corrupt = kiosk_cli("models", "export", TINY_ID, "--to", pack)
    assert corrupt.code == 1 and "config.json fails its sha256 check" in corrupt.stderr
    assert [p.name for p in tmp_path.iterdir() if "out.tar" in p.name] == []
    missing = kiosk_cli("models", "export", "no-such-model", "--to", pack)
    assert missing.code == 3 and "no-such-model" in missing.stderr


@pytest.mark.parametrize("argv, message", [
    (["models", "import", "/nonexistent/pack.tar"], "does not exist"),
    (["models", "export", "whisper-base", "--to", "/nonexistent/dir/pack.tar"], "is not a directory"),
    (["models", "import", REPO / "README.md"], "not a model pack"),
])
def test_bad_paths_are_one_line_errors(kiosk_cli, argv, message):
    result = kiosk_cli(*argv)
    assert result.code == 2 and message in result.stderr and "Traceback" not in result.stderr
