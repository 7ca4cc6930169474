"""The app from start to sign-out: the token in the keyring, no keyring at all, signing in again."""

from __future__ import annotations

import keyring
import shiboken6
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop.api import credentials
from crm_desktop.controller import DesktopApp
from crm_desktop.views.login.reauth_dialog import ReauthDialog
from crm_desktop.views.main_window import MainWindow
from tests.desktop.conftest import PASSWORD, Desk


def sign_in_through_the_window(desk: Desk, qtbot: QtBot, app: DesktopApp, email: str) -> MainWindow:
    desk.run(app.start())
    login = app.login
    assert login is not None and app.main is None
    login.sign_in.email.clear()
    qtbot.keyClicks(login.sign_in.email, email)
    qtbot.keyClicks(login.sign_in.password, PASSWORD)
    qtbot.keyClick(login.sign_in.password, Qt.Key.Key_Return)
    desk.wait_until(lambda: app.main is not None, message="the main window did not open")
    assert app.main is not None
    return app.main  # the app closes and deletes its windows itself; desk closes what is left


def test_token_in_the_keyring_restores_the_session_next_start(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("kim@example.com", full_name="Kim Key")
    first = DesktopApp(desk.server.base_url)
    sign_in_through_the_window(desk, qtbot, first, "kim@example.com")
    desk.wait_until(lambda: credentials.load_token_now(desk.server.base_url, "kim@example.com"))
    desk.run(first.shutdown())

    second = DesktopApp(desk.server.base_url)
    desk.run(second.start())
    assert second.login is None and second.main is not None, "asked for the password despite a saved token"
    assert second.main.session.me.email == "kim@example.com"
    desk.run(second.shutdown())


def test_without_a_keyring_the_app_works_and_asks_for_the_password_next_time(desk: Desk, qtbot: QtBot) -> None:
    keyring.set_keyring(fail.Keyring())
    desk.create_user("nora@example.com")
    first = DesktopApp(desk.server.base_url)
    sign_in_through_the_window(desk, qtbot, first, "nora@example.com")
    desk.run(first.shutdown())

    second = DesktopApp(desk.server.base_url)
    desk.run(second.start())
    assert second.main is None and second.login is not None
    assert second.login.sign_in.email.text() == "nora@example.com"  # remembered, only the password is asked
    assert second.login.sign_in.password.hasFocus()


def test_sign_out_ends_the_session_and_forgets_the_token(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("sol@example.com")
    app = DesktopApp(desk.server.base_url)
    main = sign_in_through_the_window(desk, qtbot, app, "sol@example.com")
    token = main.api.token
    desk.wait_until(lambda: credentials.load_token_now(desk.server.base_url, "sol@example.com"))
    main.logout_action.trigger()
    desk.wait_until(lambda: app.login is not None, message="the login window did not come back")
    assert app.main is None
    assert not shiboken6.isValid(main) or not main.isVisible()
    assert app.login is not None
    assert "signed out" in app.login.sign_in.info.text()
    assert credentials.load_token_now(desk.server.base_url, "sol@example.com") is None
    probe = desk.api(token)
    from crm_desktop.api.client import ApiError

    try:
        desk.run(probe.request("GET", "/api/auth/me", retry=False))
    except ApiError as error:
        assert error.status == 401
    else:
        raise AssertionError("the server session is still valid after signing out")


def test_an_ended_session_asks_for_the_password_and_carries_on(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("rae@example.com")
    app = DesktopApp(desk.server.base_url)
    main = sign_in_through_the_window(desk, qtbot, app, "rae@example.com")
    old_token = main.api.token
    other = desk.api(old_token)
    desk.run(other.request("POST", "/api/auth/logout", retry=False))  # the session ends elsewhere
    main.reload()  # F5: the next request meets the ended session
    desk.wait_until(
        lambda: any(isinstance(w, ReauthDialog) and w.isVisible() for w in QApplication.topLevelWidgets()),
        message="no sign-in-again prompt",
    )
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ReauthDialog) and w.isVisible())
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    desk.wait_until(lambda: main.api.token and main.api.token != old_token, message="not signed in again")
    assert app.main is main and main.isVisible()  # the same window, nothing lost
    desk.run(app.shutdown())
