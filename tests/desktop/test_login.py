"""The login window, driven as a person would: typing, pressing Enter, reading the messages."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyotp
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.views.login.window import LoginWindow, SignedIn
from tests.desktop.conftest import PASSWORD, Desk
from tests.support import free_port

NEW_PASSWORD = "Granite-meadow-Lantern-77"


def open_login(
    desk: Desk, qtbot: QtBot, email: str = "", server_url: str | None = None
) -> tuple[LoginWindow, list[SignedIn]]:
    window = LoginWindow(server_url or desk.server.base_url, email)
    qtbot.addWidget(window)
    window.show()
    done: list[SignedIn] = []
    window.signed_in.connect(done.append)
    return window, done


def type_credentials(qtbot: QtBot, window: LoginWindow, email: str, password: str) -> None:
    page = window.sign_in
    page.email.clear()
    qtbot.keyClicks(page.email, email)
    qtbot.keyClicks(page.password, password)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)


def test_wrong_password_says_so_and_keeps_the_email(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("sam@example.com")
    window, done = open_login(desk, qtbot)
    type_credentials(qtbot, window, "sam@example.com", "not-my-password")
    desk.wait_until(lambda: window.sign_in.alert.text())
    assert "don't match" in window.sign_in.alert.text()
    assert window.page is window.sign_in and window.sign_in.email.text() == "sam@example.com"
    assert window.sign_in.button.isEnabled() and not done


def test_sign_in_with_a_two_factor_code(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("otto@example.com", full_name="Otto Two")
    secret = desk.enroll_totp("otto@example.com")
    window, done = open_login(desk, qtbot)
    type_credentials(qtbot, window, "otto@example.com", PASSWORD)
    desk.wait_until(lambda: window.page is window.otp, message="the code step did not appear")
    assert window.otp.code.hasFocus()
    qtbot.keyClicks(window.otp.code, "000000")
    qtbot.keyClick(window.otp.code, Qt.Key.Key_Return)
    desk.wait_until(lambda: window.otp.alert.text())
    assert "didn't work" in window.otp.alert.text()
    window.otp.code.clear()
    qtbot.keyClicks(window.otp.code, pyotp.TOTP(secret).at(time.time()))
    qtbot.keyClick(window.otp.code, Qt.Key.Key_Return)
    desk.wait_until(lambda: done, message="not signed in")
    assert done[0].me.email == "otto@example.com" and done[0].me.totp_enabled
    assert done[0].api.token


def test_locked_account_says_only_what_a_wrong_password_says(desk: Desk, qtbot: QtBot) -> None:
    # Which emails have an account is not learnable: the owner learns of the lock by email (#15).
    desk.create_user("lou@example.com", locked_until=datetime.now(UTC) + timedelta(minutes=20))
    window, _ = open_login(desk, qtbot)
    type_credentials(qtbot, window, "lou@example.com", PASSWORD)
    desk.wait_until(lambda: window.sign_in.alert.text())
    text = window.sign_in.alert.text()
    assert "don't match" in text and "locked" not in text


def test_inactive_account(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("ina@example.com", active=False)
    window, _ = open_login(desk, qtbot)
    type_credentials(qtbot, window, "ina@example.com", PASSWORD)
    desk.wait_until(lambda: window.sign_in.alert.text())
    assert "deactivated" in window.sign_in.alert.text()


def test_unreachable_server(desk: Desk, qtbot: QtBot) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    window, _ = open_login(desk, qtbot, server_url=nowhere)
    type_credentials(qtbot, window, "sam@example.com", PASSWORD)
    desk.wait_until(lambda: window.sign_in.alert.text())
    assert "Can't reach the server" in window.sign_in.alert.text() and nowhere in window.sign_in.alert.text()


def test_temporary_password_must_be_changed_first(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("tina@example.com", must_change_password=True)
    window, done = open_login(desk, qtbot)
    type_credentials(qtbot, window, "tina@example.com", PASSWORD)
    desk.wait_until(lambda: window.must_change is not None and window.page is window.must_change)
    form = window.must_change.form  # type: ignore[union-attr]
    assert not form.current.isVisibleTo(window)  # the password just typed is used as the current one
    qtbot.keyClicks(form.new, "short")
    qtbot.keyClicks(form.repeat, "short")
    qtbot.keyClick(form.repeat, Qt.Key.Key_Return)
    desk.wait_until(lambda: form.new.property("invalid"))
    assert "12 characters" in form.new.toolTip()
    form.new.clear()
    form.repeat.clear()
    qtbot.keyClicks(form.new, NEW_PASSWORD)
    qtbot.keyClicks(form.repeat, NEW_PASSWORD)
    qtbot.keyClick(form.repeat, Qt.Key.Key_Return)
    desk.wait_until(lambda: done, message="not signed in after changing the password")
    assert not done[0].me.must_change_password and done[0].password == NEW_PASSWORD


def test_two_factor_set_up_when_the_role_requires_it(desk: Desk, qtbot: QtBot) -> None:
    desk.admin_http(lambda http: http.patch("/api/settings", json={"values": {"security.require_2fa_for_all": True}}))
    desk.create_user("rhea@example.com")
    window, done = open_login(desk, qtbot)
    type_credentials(qtbot, window, "rhea@example.com", PASSWORD)
    desk.wait_until(lambda: window.totp_setup is not None and window.totp_setup.form.setup is not None)
    form = window.totp_setup.form  # type: ignore[union-attr]
    assert form.qr.loaded and form.setup is not None
    qtbot.keyClicks(form.code, pyotp.TOTP(form.setup.secret).now())
    qtbot.keyClick(form.code, Qt.Key.Key_Return)
    desk.wait_until(lambda: form.codes, message="no recovery codes")
    assert len(form.codes) == 10
    qtbot.mouseClick(form.done_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: done)
    assert done[0].me.totp_enabled


def test_forgotten_password_by_emailed_code(desk: Desk, qtbot: QtBot, smtp: object) -> None:
    from tests.support import Smtp

    assert isinstance(smtp, Smtp)
    desk.admin_http(lambda http: http.patch("/api/settings", json={"values": smtp.settings()}))
    desk.create_user("fay@example.com")
    window, done = open_login(desk, qtbot, email="fay@example.com")
    qtbot.mouseClick(window.sign_in.forgot_link, Qt.MouseButton.LeftButton)
    assert window.page is window.forgot and window.forgot.email.text() == "fay@example.com"
    qtbot.keyClick(window.forgot.email, Qt.Key.Key_Return)
    desk.wait_until(lambda: window.page is window.reset)
    assert "on its way" in window.reset.info.text()
    from tests.server.test_jobs import workers

    async def deliver() -> None:  # the code is mailed by a job after the request (#15)
        async with workers(desk.server.database_url, n=1):
            await smtp.wait_for(1, timeout=20)

    desk.run(deliver(), timeout=40)
    body = smtp.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = next(line.strip() for line in body.splitlines() if line.startswith("    "))
    qtbot.keyClicks(window.reset.token, token)
    qtbot.keyClicks(window.reset.new, NEW_PASSWORD)
    qtbot.keyClicks(window.reset.repeat, NEW_PASSWORD)
    qtbot.keyClick(window.reset.repeat, Qt.Key.Key_Return)
    desk.wait_until(lambda: window.page is window.sign_in, message=window.reset.alert.text())
    assert "password is changed" in window.sign_in.info.text()
    type_credentials(qtbot, window, "fay@example.com", NEW_PASSWORD)
    desk.wait_until(lambda: done)
