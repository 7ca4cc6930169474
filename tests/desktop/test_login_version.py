"""At sign-in the app asks the server's version (GET /api/version) and does not go on when its API
level is not the one the app was built with: it says so plainly, and asks IT for the matching app."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

import crm_server.health
from crm_desktop import config
from crm_desktop.api import auth, credentials, version
from crm_desktop.controller import DesktopApp
from crm_desktop.views.login.reauth_dialog import ReauthDialog
from crm_desktop.views.login.window import LoginWindow, SignedIn
from crm_server.auth.models import AuthSession
from tests.desktop.conftest import PASSWORD, Desk

EMAIL = "vera@example.com"


def sign_in(desk: Desk, qtbot: QtBot) -> tuple[LoginWindow, list[SignedIn]]:
    window = LoginWindow(desk.server.base_url)
    qtbot.addWidget(window)
    window.show()
    done: list[SignedIn] = []
    window.signed_in.connect(done.append)
    qtbot.keyClicks(window.sign_in.email, EMAIL)
    qtbot.keyClicks(window.sign_in.password, PASSWORD)
    qtbot.keyClick(window.sign_in.password, Qt.Key.Key_Return)
    return window, done


def sessions(desk: Desk) -> int:
    async def count() -> int:
        async with desk.server.session() as s:
            return int(await s.scalar(select(func.count()).select_from(AuthSession)) or 0)

    return desk.on_server(count())


def test_a_server_of_another_api_level_is_refused_plainly(
    desk: Desk, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.create_user(EMAIL)
    # The server in this process speaks a newer level than the app was built with.
    monkeypatch.setattr(crm_server.health, "API_LEVEL", version.APP_API_LEVEL + 1)
    window, done = sign_in(desk, qtbot)
    desk.wait_until(lambda: window.sign_in.alert.text(), message="nothing was said")
    said = window.sign_in.alert.text()
    app, server = version.app_version(), crm_server.health.package_version()
    assert said == (
        f"This CRM app (version {app}, API level {version.APP_API_LEVEL}) does not fit the server "
        f"(version {server}, API level {version.APP_API_LEVEL + 1}): ask IT for the matching app."
    )
    assert window.page is window.sign_in and window.sign_in.button.isEnabled()
    # The window stopped there: no sign-in, no session opened on the server.
    assert not done and window.me is None and sessions(desk) == 0

    # Once the server fits again (IT installed the matching one), the same window signs in.
    monkeypatch.setattr(crm_server.health, "API_LEVEL", version.APP_API_LEVEL)
    qtbot.keyClick(window.sign_in.password, Qt.Key.Key_Return)
    desk.wait_until(lambda: done, message="not signed in once the levels fit")
    assert done[0].me.email == EMAIL and sessions(desk) == 1


def test_a_server_fitting_the_app_signs_in_as_before(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user(EMAIL)
    window, done = sign_in(desk, qtbot)
    desk.wait_until(lambda: done, message="not signed in")
    assert done[0].me.email == EMAIL and not window.sign_in.alert.text()


def test_a_saved_session_on_a_server_that_no_longer_fits_shows_the_login_window_saying_why(
    desk: Desk, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.create_user(EMAIL)
    api = desk.api()
    desk.run(auth.login(api, EMAIL, PASSWORD))
    assert api.token
    config.remember_sign_in(desk.server.base_url, EMAIL)
    assert credentials.save_token_now(desk.server.base_url, EMAIL, api.token)
    monkeypatch.setattr(crm_server.health, "API_LEVEL", version.APP_API_LEVEL - 1)  # the server is older

    app = DesktopApp(desk.server.base_url)
    desk.run(app.start())
    assert app.main is None and app.login is not None, "opened the main window on a server that does not fit"
    notice = app.login.sign_in.info.text()
    assert "does not fit the server" in notice and "ask IT for the matching app" in notice
    # The session is kept: with the matching app it is restored without the password.
    assert credentials.load_token_now(desk.server.base_url, EMAIL) == api.token
    desk.run(app.shutdown())


def test_signing_in_again_mid_work_on_a_server_upgraded_meanwhile_says_why(
    desk: Desk, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.create_user(EMAIL)
    app = DesktopApp(desk.server.base_url)
    desk.run(app.start(EMAIL, PASSWORD))
    main = app.main
    assert main is not None
    old_token = main.api.token
    desk.run(desk.api(old_token).request("POST", "/api/auth/logout", retry=False))  # the session ends
    monkeypatch.setattr(crm_server.health, "API_LEVEL", version.APP_API_LEVEL + 1)  # and the server is newer
    main.reload()
    desk.wait_until(
        lambda: any(isinstance(w, ReauthDialog) and w.isVisible() for w in QApplication.topLevelWidgets()),
        message="no sign-in-again prompt",
    )
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ReauthDialog) and w.isVisible())
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    desk.wait_until(lambda: dialog.alert.text(), message="nothing was said")
    assert "does not fit the server" in dialog.alert.text() and "ask IT" in dialog.alert.text()
    assert dialog.isVisible() and main.api.token == old_token  # not signed in
    desk.run(app.shutdown())
