"""`crm-desktop --demo` as a person uses it: the demo lives under CRM_DATA_DIR, its login window says
how to sign in as each role (and fills the account in), and the demo's random port is never
remembered over a real installation's server address."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop import config, local_server
from crm_desktop.controller import DesktopApp
from crm_server.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD
from tests.desktop.conftest import Desk

REAL_SERVER = "https://crm.example.com"


def test_demo_under_crm_data_dir_offers_its_roles_and_forgets_its_port(
    desk: Desk, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    assert local_server.demo_data_dir() == tmp_path / "data" / "demo"
    config.remember_sign_in(REAL_SERVER, "me@company.com")  # a real installation, used before the demo

    app = DesktopApp(config.resolve_server_url(None))
    try:
        assert desk.run(app.start_demo(), timeout=170), "the demo did not start"
        assert (tmp_path / "data" / "demo" / "pgdata" / "PG_VERSION").is_file()  # its cluster is there
        assert app.session is not None and app.session.me.email == DEMO_ADMIN_EMAIL

        # Sign out: the login window of the demo lists its accounts by role, with their password.
        desk.run(app.sign_out())
        login = app.login
        assert login is not None and login.isVisible()
        page = login.sign_in
        combo, note = page.demo_accounts, page.demo_note
        assert combo is not None and combo.isVisible() and note is not None and note.isVisible()
        assert DEMO_PASSWORD in note.text() and not page.demo_link.isVisible()
        roles = [combo.itemText(i).split(" · ")[0] for i in range(combo.count())]
        assert {"Admin", "Manager", "Salesperson", "Support agent", "Accountant", "Warehouse"} <= set(roles)
        # Pick a role with the keyboard: the account and its password are filled in.
        combo.setFocus()
        qtbot.keyClicks(combo, "Sales")
        assert combo.currentText() == "Salesperson · Sam Okafor"
        assert page.email.text() == "sam.sales@demo.local" and page.password.text() == DEMO_PASSWORD
        qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)
        desk.wait_until(lambda: app.main is not None, timeout=30, message="the salesperson did not get in")
        assert app.session is not None and app.session.me.email == "sam.sales@demo.local"
    finally:
        desk.run(app.shutdown(), timeout=60)

    # The demo's address (a port of this run only) is not what the next start opens.
    assert config.remembered_server_url() == REAL_SERVER
    assert config.remembered_email() == "me@company.com"
    assert config.resolve_server_url(None) == REAL_SERVER
