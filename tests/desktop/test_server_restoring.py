"""The server restoring a backup, as a connected desktop lives it: a banner across the main window
while it restores, then the live stream starts over, every view reloads and a notice says so."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.operations import change_bus
from crm_desktop.session import Session
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.restoring import FAILED_TEXT, RESTORED_TEXT, RESTORING_TEXT
from crm_server import events
from tests.desktop.conftest import Desk


def announce(desk: Desk, action: str) -> None:
    """The server's notice, as crm_server/backups/restore.py writes it (module "server")."""

    async def emit() -> None:
        async with desk.server.session() as session:
            events.emit(session, module="server", entity="server", entity_id=0, action=action, data={})

    desk.on_server(emit())


def connected_window(desk: Desk, qtbot: QtBot, role: str = "Admin") -> tuple[Session, MainWindow]:
    api = desk.signed_in_api(f"{role.lower()}@example.com", role=role)
    session = Session(api, desk.run(auth.me(api)))
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    return session, window


def test_a_banner_while_the_server_restores_then_a_reload(desk: Desk, qtbot: QtBot) -> None:
    session, window = connected_window(desk, qtbot)
    window.open_module("admin")
    assert not window.restoring_banner.isVisible()
    resets: list[frozenset[str]] = []
    change_bus().changed.connect(lambda areas: resets.append(areas) if "*" in areas else None)
    connections: list[bool] = []
    session.events.connected.connect(lambda: connections.append(True))

    announce(desk, "restoring")
    desk.wait_until(lambda: window.restoring_banner.isVisible(), message="no banner while the server restores")
    assert window.restoring_banner.text == RESTORING_TEXT
    assert not resets  # nothing reloads while it restores

    announce(desk, "restored")
    desk.wait_until(lambda: not window.restoring_banner.isVisible(), message="the banner stayed")
    desk.wait_until(lambda: bool(resets), message="the views were not told to reload")
    desk.wait_until(
        lambda: connections and session.events.state == "connected", message="the live stream did not start over"
    )
    assert window.notice.isVisible() and window.notice.label.text() == RESTORED_TEXT
    assert session.events.last_seq is not None  # numbered again from the server's hello


def test_a_failed_restore_says_the_data_is_as_before(desk: Desk, qtbot: QtBot) -> None:
    """Told to everyone, not only admins: here a salesperson's desktop."""
    _session, window = connected_window(desk, qtbot, role="Salesperson")
    announce(desk, "restoring")
    desk.wait_until(lambda: window.restoring_banner.isVisible(), message="no banner while the server restores")
    announce(desk, "restore_failed")
    desk.wait_until(lambda: not window.restoring_banner.isVisible(), message="the banner stayed")
    desk.wait_until(lambda: window.notice.isVisible(), message="no notice after the failed restore")
    assert window.notice.label.text().startswith(FAILED_TEXT)
    assert QApplication.activeModalWidget() is None
