"""First run without a server: "Try the demo" on the login window starts a local server with sample
data on this computer and opens the main window signed in as the demo admin."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop import local_server
from crm_desktop.controller import DesktopApp
from crm_server.demo import DEMO_ADMIN_EMAIL
from tests.desktop.conftest import Desk


def test_try_the_demo_from_the_login_window(
    desk: Desk, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_server, "demo_data_dir", lambda: tmp_path / "demo")
    app = DesktopApp("http://127.0.0.1:9")  # nothing listens there: a first run with no server yet
    login = app.show_login()
    assert login.sign_in.demo_link.isVisible()
    qtbot.mouseClick(login.sign_in.demo_link, Qt.MouseButton.LeftButton)
    try:
        desk.wait_until(lambda: app.main is not None, timeout=150, message="the demo did not open")
        assert app.main is not None and app.session is not None
        assert app.session.me.email == DEMO_ADMIN_EMAIL
        assert app.local is not None and app.server_url == app.local.base_url
        assert "leads" in app.main.sidebar.keys()
    finally:
        desk.run(app.shutdown(), timeout=60)
    assert app.local is None
