"""`kiosk models pull` against a real HTTP server on 127.0.0.1 serving a tiny model built by the test.

The catalogue entry comes from a test-only catalogue file (``KIOSK_CATALOG``), exactly as a
local mirror would be configured. Hugging Face itself is never contacted.
"""

import hashlib
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO
from tiny_mt import build_seq2seq

from kiosk.store import models, pull
from kiosk.store.catalog import Catalog
from kiosk.store.environment import from_environment
from kiosk.turn.engines import Engines

MODEL_ID = "test-tiny-m2m"


class FileServer:
    """Serves bytes by path, with Range support, and misbehaves on request.

    ``cuts[path]`` responses for a path stop half-way (the connection closes early);
    ``ignore_range`` answers every request with the whole file.
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.cuts: dict[str, int] = {}
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._http.server_port}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def ranges(self, path: str) -> list[str | None]:
        return [requested for served, requested in self.requests if served == path]

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requested = self.headers.get("Range")
                server.requests.append((self.path, requested))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = int(requested.removeprefix("bytes=").split("-")[0]) if requested and not server.ignore_range else 0
                if start >= len(data) > 0:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cuts.get(self.path, 0) > 0:
                    server.cuts[self.path] -= 1
                    body = body[: len(body) // 2]
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> dict[str, bytes]:
    model_dir = build_seq2seq(tmp_path_factory.mktemp("tiny") / "model", "m2m100")
    return {path.name: path.read_bytes() for path in model_dir.iterdir()}


@pytest.fixture
def server(tiny_files):
    served = FileServer({f"/{MODEL_ID}/{name}": data for name, data in tiny_files.items()})
    yield served
    served.close()


def write_catalogue(path: Path, url: str, files: dict[str, bytes], *, size_mb: float = 0.5,
                    wrong_sha256: tuple[str, ...] = ()) -> Path:
    """A one-model catalogue file for the tiny M2M-style model served at ``url``."""
    sha256 = {name: "0" * 64 if name in wrong_sha256 else hashlib.sha256(data).hexdigest() for name, data in files.items()}
    lines = [
        "[[model]]",
        f'id = "{MODEL_ID}"',
        'kind = "mt-seq2seq"',
        'engine = "ctranslate2"',
        'family = "m2m100"',
        'name = "Tiny M2M-100-shaped test model"',
        'languages = ["ko", "en", "vi"]',
        'license = "test only"',
        'source = "built by the test"',
        f'url = "{url}/{MODEL_ID}"',
        f"size_mb = {size_mb}",
        "[model.files]",
        *(f'"{name}" = "{digest}"' for name, digest in sha256.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def catalogue_file(tmp_path, server, tiny_files) -> Path:
    return write_catalogue(tmp_path / "catalogue.toml", server.url, tiny_files)


@pytest.fixture
def store_env(tmp_path, monkeypatch, catalogue_file):
    """An empty store and a catalogue naming the test server, for this process and the CLI."""
    data_dir = tmp_path / "kiosk-data"
    monkeypatch.setenv("KIOSK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KIOSK_CATALOG", str(catalogue_file))
    return data_dir


def store_contents(data_dir: Path) -> list[str]:
    store = data_dir / "models"
    return sorted(p.name for p in store.iterdir()) if store.is_dir() else []


def test_pull_resumes_an_interrupted_download_and_the_model_translates(kiosk_cli, server, store_env, tiny_files):
    server.cuts[f"/{MODEL_ID}/model.bin"] = 1
    result = kiosk_cli("models", "pull", MODEL_ID, "--json")
    assert result.code == 0, result.stderr
    assert result.json[0]["id"] == MODEL_ID
    size = len(tiny_files["model.bin"])
    assert server.ranges(f"/{MODEL_ID}/model.bin") == [None, f"bytes={size // 2}-"]
    model = from_environment().installed()[MODEL_ID]
    assert models.check_model(model).state == "verified"
    assert not (store_env / "downloads" / MODEL_ID).exists()
    assert store_contents(store_env) == [MODEL_ID]  # nothing staged is left behind
    translation = Engines().router.translate("서류 번호 여기", "ko", "vi")
    assert translation.engine == "seq2seq" and translation.model_id == MODEL_ID and translation.text

    server.requests.clear()
    assert kiosk_cli("models", "pull", MODEL_ID).code == 0 and server.requests == []  # installed and intact
    assert kiosk_cli("models", "pull", MODEL_ID, "--force").code == 0 and len(server.requests) == len(tiny_files)


def test_pull_starts_over_when_the_server_ignores_range(kiosk_cli, server, store_env):
    server.cuts[f"/{MODEL_ID}/model.bin"] = 1
    server.ignore_range = True
    result = kiosk_cli("models", "pull", MODEL_ID)
    assert result.code == 0, result.stderr
    assert models.check_model(from_environment().installed()[MODEL_ID]).state == "verified"


def test_failed_pull_leaves_the_store_unchanged_and_the_next_pull_resumes(kiosk_cli, server, store_env, tiny_files):
    path = f"/{MODEL_ID}/model.bin"
    server.cuts[path] = pull.ATTEMPTS
    failed = kiosk_cli("models", "pull", MODEL_ID)
    assert failed.code == 1
    assert "run the pull again to resume" in failed.stderr and "Traceback" not in failed.stderr
    assert store_contents(store_env) == []
    partial = store_env / "downloads" / MODEL_ID / "model.bin.part"
    kept = partial.stat().st_size
    assert 0 < kept < len(tiny_files["model.bin"])

    server.requests.clear()
    resumed = kiosk_cli("models", "pull", MODEL_ID)
    assert resumed.code == 0, resumed.stderr
    assert server.ranges(path) == [f"bytes={kept}-"]
    assert models.check_model(from_environment().installed()[MODEL_ID]).state == "verified"


def test_sha256_mismatch_installs_nothing(kiosk_cli, server, store_env, catalogue_file, tiny_files):
    write_catalogue(catalogue_file, server.url, tiny_files, wrong_sha256=("model.bin",))
    result = kiosk_cli("models", "pull", MODEL_ID, "--json")
    assert result.code == 1
    assert "model.bin" in result.stderr and "sha256" in result.stderr
    assert result.json["error_kind"] == "verification-failed"
    assert store_contents(store_env) == []
    assert not (store_env / "downloads" / MODEL_ID / "model.bin").exists()


def test_free_disk_check_comes_before_any_download(kiosk_cli, server, store_env, catalogue_file, tiny_files):
    write_catalogue(catalogue_file, server.url, tiny_files, size_mb=1e12)
    result = kiosk_cli("models", "pull", MODEL_ID)
    assert result.code == 1 and "not enough disk space" in result.stderr
    assert server.requests == []


def test_missing_file_on_the_server_is_named(kiosk_cli, server, store_env):
    del server.files[f"/{MODEL_ID}/config.json"]
    result = kiosk_cli("models", "pull", MODEL_ID)
    assert result.code == 1 and "HTTP 404" in result.stderr and "config.json" in result.stderr
    assert store_contents(store_env) == []


@pytest.mark.skipif(pull.converter_available(), reason="the convert extra is installed here")
def test_checkpoint_without_the_convert_extra_says_how(kiosk_cli, tmp_path):
    result = kiosk_cli("models", "pull", "opus-mt-ko-en", env={"KIOSK_DATA_DIR": str(tmp_path)})
    assert result.code == 1
    assert "pip install '.[convert]'" in result.stderr and "ct2-transformers-converter" in result.stderr
    assert "kiosk models import DIR --id opus-mt-ko-en" in result.stderr
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("model_id, message", [
    ("espeak-ng", "apt-get install espeak-ng"),
    ("no-such-model", "not in the catalogue"),
])
def test_pull_refuses_what_it_cannot_download(kiosk_cli, tmp_path, model_id, message):
    result = kiosk_cli("models", "pull", model_id, env={"KIOSK_DATA_DIR": str(tmp_path)})
    assert result.code == 2 and message in result.stderr


def test_hugging_face_sources_become_resolve_urls():
    from huggingface_hub import constants

    whisper = pull.plan(Catalog().models["whisper-tiny"])
    assert [d.url for d in whisper][0] == f"{constants.ENDPOINT}/Systran/faster-whisper-tiny/resolve/main/config.json"
    voice = pull.plan(Catalog().models["zh_CN-huayan-medium"])
    assert [d.name for d in voice] == ["zh_CN-huayan-medium.onnx", "zh_CN-huayan-medium.onnx.json", "MODEL_CARD"]
    assert all("/rhasspy/piper-voices/resolve/v1.0.0/zh/zh_CN/huayan/medium/" in d.url for d in voice)
    base = pull.plan(Catalog().models["whisper-base"])
    assert {d.name: d.sha256 for d in base} == Catalog().models["whisper-base"].files


# --- pre-converted catalogue models, pulled with nothing but the kiosk's own dependencies ------------

# Every catalogue translation model that comes pre-converted, pulled from a stand-in Hugging Face.
PRE_CONVERTED = [entry for entry in Catalog().models.values() if entry.kind == "mt-seq2seq" and not entry.convert]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A loopback stand-in for huggingface.co: ``/<repo>/resolve/main/<file>`` for each repository,
    holding a tiny model in exactly that repository's layout (tests/tiny_mt.py, ``build_repo_layout``)."""
    from tiny_mt import build_repo_layout

    base = tmp_path_factory.mktemp("hub")
    files = {}
    for seed, entry in enumerate(PRE_CONVERTED):
        pair = entry.languages if entry.family == "marian" else None
        model_dir = build_repo_layout(base / entry.id, entry.repo, pair, seed=seed)
        files |= {f"/{entry.repo}/resolve/main/{path.name}": path.read_bytes() for path in model_dir.iterdir()}
    served = FileServer(files)
    yield served
    served.close()


@pytest.fixture
def without_torch(tmp_path) -> dict[str, str]:
    """Environment for a subprocess in which ``import torch`` and ``import transformers`` fail."""
    blocker = tmp_path / "no-torch"
    for name in ("torch", "transformers"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    return {"PYTHONPATH": str(blocker)}


def test_pre_converted_models_pull_without_torch_and_translate(kiosk_cli, hub, tmp_path, monkeypatch, without_torch):
    assert {entry.id for entry in PRE_CONVERTED} >= {"m2m100-418m", "nllb-200-distilled-600m", "opus-mt-en-zh"}
    env = {**without_torch, "HF_ENDPOINT": hub.url, "KIOSK_DATA_DIR": str(tmp_path / "data")}
    probe = subprocess.run([sys.executable, "-c", "from kiosk.store import pull; print(pull.converter_available())"],
                           capture_output=True, text=True, env={**os.environ, **env}, cwd=REPO)
    assert probe.stdout.strip() == "False", probe.stderr  # neither torch nor transformers can be imported

    result = kiosk_cli("models", "pull", *(entry.id for entry in PRE_CONVERTED), "--json", env=env)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    monkeypatch.setenv("KIOSK_DATA_DIR", env["KIOSK_DATA_DIR"])
    installed = from_environment().installed()
    for entry in PRE_CONVERTED:
        model = installed[entry.id]
        # The store holds exactly the catalogue's files, as the repository names them, all fetched from it.
        assert sorted(model.files) == sorted(entry.fetch), entry.id
        assert models.check_model(model).state == "verified"
        assert {path for path, _ in hub.requests if path.startswith(f"/{entry.repo}/")} == {
            f"/{entry.repo}/resolve/main/{name}" for name in entry.fetch}
    translators = {t.model_id: t for t in Engines()._installed_translators()}
    assert set(translators) == {entry.id for entry in PRE_CONVERTED}  # every layout loads
    assert translators["m2m100-418m"].translate(["서류 번호 여기."], "ko", "vi")[0]
    assert translators["nllb-200-distilled-1.3b"].translate(["서류 번호 여기."], "ko", "zh")[0]
    assert translators["opus-mt-en-zh"].source_tokens("hello", "en", "zh")[0] == ">>cmn_Hans<<"
    assert translators["opus-mt-th-en"].translate(["สวัสดี ขอบคุณ"], "th", "en")[0]
