"""Two-factor sign-in already on: from the user menu a person makes new recovery codes or turns it
off, and the window asks for their password first (a wrong one is shown at the field)."""

from __future__ import annotations

from typing import Any

import pyotp
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.account.dialogs import TotpManageDialog
from crm_desktop.views.main_window import MainWindow
from tests.desktop.conftest import PASSWORD, Desk

EMAIL = "tess@example.com"


def _open_with_2fa(desk: Desk, qtbot: QtBot) -> MainWindow:
    desk.create_user(EMAIL, full_name="Tess Two")
    secret = desk.enroll_totp(EMAIL)
    api = desk.api()
    desk.run(auth.login(api, EMAIL, PASSWORD, otp=pyotp.TOTP(secret).now()))
    session = Session(api, desk.run(auth.me(api)))
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    window.show()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    return window


def _manage_dialog() -> Any:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, TotpManageDialog) and w.isVisible()]
    assert found, "the two-factor dialog did not open"
    return found[0]


def test_new_recovery_codes_ask_for_the_password(desk: Desk, qtbot: QtBot) -> None:
    window = _open_with_2fa(desk, qtbot)
    assert not window.totp_action.isEnabled()  # "Two-factor sign-in: on"
    assert window.totp_manage_action.isVisible()
    window.totp_manage_action.trigger()
    dialog = _manage_dialog()
    desk.wait_until(lambda: dialog.password.hasFocus(), message="the password field has no focus")

    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)  # nothing typed: asked, nothing sent
    assert dialog.password.accessibleDescription() == "Enter your password."
    qtbot.keyClicks(dialog.password, "not my password at all")
    qtbot.mouseClick(dialog.codes_button, Qt.MouseButton.LeftButton)
    desk.wait_until(
        lambda: "not right" in dialog.password.accessibleDescription(),
        message="the wrong password was not shown at the field",
    )
    assert dialog.stack.currentIndex() == 0 and not dialog.codes_panel.codes

    dialog.password.clear()
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    desk.wait_until(lambda: dialog.codes_panel.codes, message="no new recovery codes")
    assert len(dialog.codes_panel.codes) == 10 and dialog.stack.currentIndex() == 1
    code = dialog.codes_panel.codes[0]
    qtbot.mouseClick(dialog.codes_panel.done_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible())

    # One of the new codes signs in.
    other = desk.api()
    assert desk.run(auth.login(other, EMAIL, PASSWORD, otp=code)).user.email == EMAIL


def test_turning_two_factor_off_asks_for_the_password(desk: Desk, qtbot: QtBot) -> None:
    window = _open_with_2fa(desk, qtbot)
    window.totp_manage_action.trigger()
    dialog = _manage_dialog()
    assert dialog.turn_off_button.isVisible()
    qtbot.keyClicks(dialog.password, "not my password at all")
    qtbot.mouseClick(dialog.turn_off_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: "not right" in dialog.password.accessibleDescription())
    assert window.session.me.totp_enabled

    dialog.password.clear()
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.mouseClick(dialog.turn_off_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not window.session.me.totp_enabled, message="Me was not reloaded")
    desk.wait_until(lambda: window.totp_action.isEnabled(), message="the menu still says 2FA is on")
    assert not window.totp_manage_action.isVisible()
    assert desk.run(auth.login(desk.api(), EMAIL, PASSWORD)).user.totp_enabled is False  # no code asked


def test_an_admin_changing_their_own_email_is_asked_for_their_password(desk: Desk, qtbot: QtBot) -> None:
    from crm_desktop.operations import errors
    from crm_desktop.views.admin.users import UserDialog
    from tests.desktop.conftest import ADMIN_EMAIL
    from tests.desktop.test_admin_panel import the_dialog
    from tests.desktop.test_admin_users import open_users

    api, _panel, page = open_users(desk, qtbot)
    me = page.me.id
    desk.wait_until(lambda: page.model.find(me) is not None and not page.model.loading)
    page.table.select_key(me)
    page.edit_button.click()
    dialog = the_dialog(UserDialog)
    assert dialog.password.isVisible()  # "Your password", for one's own record only
    dialog.email.clear()
    qtbot.keyClicks(dialog.email, "ada.new@example.com")
    dialog.ok.click()
    desk.wait_until(lambda: errors.is_marked(dialog.password), message="the password was not asked for")
    assert dialog.password.accessibleDescription() == "Enter your password."
    assert desk.run(api.get(f"/api/users/{me}"))["email"] == ADMIN_EMAIL
    qtbot.keyClicks(dialog.password, PASSWORD)
    dialog.ok.click()
    desk.wait_until(lambda: not shiboken6.isValid(dialog), message="the save did not go through")
    assert desk.run(api.get(f"/api/users/{me}"))["email"] == "ada.new@example.com"
