"""Shared on-prem servers in the window (issue 18): the staff panel shows each server's health and
the About-this-AI card names the servers' models, from the servers' own describe answers.

A real wyoming-piper server on 127.0.0.1 (the Joe voice) and a port nothing listens on stand for
a province's servers; the window learns about them only through the worker's ServersChecked.
"""

from __future__ import annotations

import socket

import pytest
from conftest import WYOMING_VOICE as VOICE
from ui_support import open_kiosk, settle

from kiosk.servers import ServerRoute, ServerRoutes
from kiosk.turn.engines import Engines
from kiosk.turn.settings import Settings
from kiosk.ui.i18n import tr


@pytest.fixture
def dead_url():
    """A Wyoming URL on a loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def routed_kiosk(tmp_path, engines, routes: ServerRoutes):
    served = Engines(Settings(servers=routes), store=engines.store)
    return open_kiosk(tmp_path, served, servers=routes)


def texts(labels) -> list[str]:
    return [label.text() for label in labels]


def test_the_staff_panel_shows_a_live_server_answering_and_a_stopped_one_unreachable(
        qtbot, tmp_path, engines, tts_server, dead_url):
    routes = ServerRoutes(asr=ServerRoute("asr", dead_url, ("vi",), 2.0),
                          tts=ServerRoute("tts", tts_server.url, ("en",), 30.0, model=VOICE))
    with routed_kiosk(tmp_path, engines, routes) as kiosk:
        staff = kiosk.window.staff
        kiosk.window.open_staff()
        staff.open_settings()  # as after the PIN (the PIN itself is test_ui's)
        qtbot.waitUntil(lambda: len(staff._server_rows) >= 3, timeout=30_000)
        rows = texts(staff._server_rows)
        [voice_row] = [row for row in rows if row.startswith(tr("ko", "servers.role_tts"))]
        assert VOICE in voice_row and tts_server.url in voice_row
        assert voice_row.endswith(tr("ko", "servers.state_up"))
        [asr_row] = [row for row in rows if row.startswith(tr("ko", "servers.role_asr"))]
        assert dead_url in asr_row and asr_row.endswith(tr("ko", "servers.state_down"))
        assert any("cannot connect" in row for row in rows)  # the reason, under the row
        assert staff.check_servers_button.isVisible()

        kiosk.window.set_ui_language("en")  # the rows follow the panel's language
        assert any(row.endswith("unreachable") for row in texts(staff._server_rows))


def test_a_turn_that_used_a_server_updates_the_panel_without_a_check(qtbot, tmp_path, engines, tts_server):
    routes = ServerRoutes(tts=ServerRoute("tts", tts_server.url, ("en",), 30.0, model=VOICE))
    with routed_kiosk(tmp_path, engines, routes) as kiosk:
        seen = []
        kiosk.controller.servers_checked.connect(seen.append)
        kiosk.controller.speak_sample("en", "Please take a number.")  # spoken by the server's voice
        settle(kiosk, qtbot)
        qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
        [server] = seen[-1].servers
        assert server["role"] == "tts" and server["state"] == "up"


def test_without_servers_the_staff_panel_says_everything_runs_here(qtbot, tmp_path, engines):
    with open_kiosk(tmp_path, engines) as kiosk:
        staff = kiosk.window.staff
        kiosk.window.open_staff()
        staff.open_settings()
        qtbot.waitUntil(lambda: bool(staff._server_rows), timeout=30_000)
        assert texts(staff._server_rows) == [tr("ko", "servers.none")]
        assert not staff.check_servers_button.isVisible()


def test_the_about_card_names_the_servers_models_when_they_are_used(qtbot, tmp_path, engines, tts_server):
    """...and says where voice and text go: not "every model runs on this machine" then."""
    routes = ServerRoutes(tts=ServerRoute("tts", tts_server.url, ("en",), 30.0, model=VOICE))
    with routed_kiosk(tmp_path, engines, routes) as kiosk:
        about = kiosk.window.about
        kiosk.window.set_ui_language("en")
        kiosk.window.open_page(about)  # showing it asks the worker, which asks the server (describe)

        def shown() -> list[str]:
            return [w.text() for w in about._dynamic]

        # From the configuration, before any server answered; the exhibition's tagline too.
        assert about.intro.text() == tr("en", "about.intro_servers")
        assert kiosk.window.demo.tagline.text() == tr("en", "demo.tagline_servers")
        assert tr("en", "about.privacy_body_servers") in shown() and tr("en", "about.privacy_body") not in shown()

        # The local Joe voice is on the card from the start: wait for the server's own line.
        qtbot.waitUntil(lambda: tr("en", "servers.about") in shown(), timeout=30_000)
        [line] = [text for text in shown() if text.endswith("(127.0.0.1)")]
        assert line == f"Speech synthesis: {VOICE}, for en (127.0.0.1)"

    with open_kiosk(tmp_path, engines) as kiosk:  # no servers: no server line on the card
        about = kiosk.window.about
        kiosk.window.set_ui_language("en")
        kiosk.window.open_page(about)
        settle(kiosk, qtbot)
        kiosk.app.processEvents()
        assert tr("en", "servers.about") not in [w.text() for w in about._dynamic]
        assert about.intro.text() == tr("en", "about.intro")
        assert kiosk.window.demo.tagline.text() == tr("en", "demo.tagline")
        assert tr("en", "about.privacy_body") in [w.text() for w in about._dynamic]
