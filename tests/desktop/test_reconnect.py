"""Losing the server: the banner says so, nothing is lost, and the live stream resumes on return."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk
from tests.desktop.test_main_window import notify, open_main
from tests.support import LiveServer


def test_offline_banner_and_event_stream_resume_after_a_server_restart(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    me = window.session.me
    assert not window.offline_banner.isVisible() and "Connected" in window.connection_label.text()
    notify(desk, me.id, "Before the restart")
    # The bell may count it from its own reload before the live event lands: wait for both.
    desk.wait_until(lambda: window.bell.count == 1 and window.session.events.last_seq > 0)
    seq_before = window.session.events.last_seq
    port = int(desk.server.base_url.rsplit(":", 1)[1])

    desk.server.stop()
    desk.wait_until(lambda: window.offline_banner.isVisible(), timeout=30, message="no offline banner")
    assert window.offline_banner.text == "Offline - reconnecting..."
    assert "Connected" not in window.connection_label.text()

    restarted = LiveServer(desk.server.database_url, "")
    restarted.start(port=port)
    try:
        desk.wait_until(
            lambda: not window.offline_banner.isVisible(),
            timeout=40,
            message="the banner did not clear after the server came back",
        )
        desk.wait_until(lambda: window.session.events.state == "connected", timeout=20)
        assert window.session.events.last_seq == seq_before  # resumed from where it was, not from scratch
        notify(desk, me.id, "After the restart")
        desk.wait_until(lambda: window.bell.count == 2, message="live events did not resume")
        assert "Connected" in window.connection_label.text()
    finally:
        restarted.stop()
