"""Admin panel, sign-ins and security log: filters (result, user, period) go to the server and the
rows name people, not ids."""

from __future__ import annotations

import httpx
import shiboken6
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiError
from crm_desktop.views.admin.logs import BlockDialog, LogsPage
from tests.desktop.conftest import PASSWORD, Desk
from tests.desktop.test_admin_panel import (
    open_panel,
    settle,
    the_dialog,
)


def test_filter_sign_ins_and_security_events(desk: Desk, qtbot: QtBot) -> None:
    sam = desk.create_user("sam@example.com", full_name="Sam Seller")
    try:
        desk.run(auth.login(desk.api(), "sam@example.com", "not his password"))
    except ApiError as exc:
        assert exc.status == 401
    api, panel, page = open_panel(desk, qtbot, "logs")
    assert isinstance(page, LogsPage)
    logins = page.logins
    assert logins.model.total == 2  # the admin's sign-in and Sam's failure

    logins.choice.setCurrentIndex(logins.choice.findData("bad_credentials"))
    settle(desk, panel)
    assert logins.model.total == 1
    assert [logins.model.index(0, c).data() for c in (1, 2, 3)] == [
        "sam@example.com",
        "Sam Seller",
        "Wrong email or password",
    ]

    logins.period.preset.setCurrentIndex(logins.period.preset.findText("Today"))
    settle(desk, panel)
    assert logins.model.total == 1  # it happened today
    logins.period.preset.setCurrentIndex(logins.period.preset.findText("Custom…"))
    logins.period.start.setDate(logins.period.start.date().addYears(-2))
    logins.period.end.setDate(logins.period.end.date().addYears(-1))
    settle(desk, panel)
    assert logins.model.total == 0 and logins.table.empty.isVisible()

    page.tabs.setCurrentIndex(1)
    security = page.security
    security.user.set_user(sam, "Sam Seller <sam@example.com>")
    settle(desk, panel)
    kinds = [security.model.row(i).kind for i in range(security.model.rowCount())]
    assert kinds and set(kinds) == {"login_failed"}
    assert security.model.index(0, 3).data() == "Sam Seller"
    expected = desk.run(api.get("/api/security-log", user_id=sam))["total"]
    assert security.model.total == expected


async def _sign_in_from(desk: Desk, address: str, password: str, times: int = 1) -> list[int]:
    """Sign-in attempts as Sam, from another loopback address (the server sees `address`)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=desk.server.base_url, transport=transport, timeout=20) as client:
        return [
            (
                await client.post(
                    "/api/auth/login", json={"email": "sam@example.com", "password": password, "client": "Sam's phone"}
                )
            ).status_code
            for _ in range(times)
        ]


def test_block_an_address_from_its_failures_and_lift_it(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("sam@example.com", full_name="Sam Seller")
    assert desk.run(_sign_in_from(desk, "127.0.0.1", PASSWORD)) == [200]
    assert desk.run(_sign_in_from(desk, "127.0.0.2", "not his password", times=3)) == [401] * 3
    assert desk.run(_sign_in_from(desk, "127.0.0.3", PASSWORD)) == [200]  # a new address: flagged
    api, panel, page = open_panel(desk, qtbot, "logs")
    assert isinstance(page, LogsPage)

    page.tabs.setCurrentWidget(page.security)
    security = page.security
    security.choice.setCurrentIndex(security.choice.findData("new_device_sign_in"))
    settle(desk, panel)
    assert security.model.total == 1
    assert [security.model.index(0, c).data() for c in (1, 3, 4)] == [
        "Sign-in from a new address or device",
        "Sam Seller",
        "127.0.0.3",
    ]

    page.tabs.setCurrentWidget(page.failures)
    failures = page.failures
    settle(desk, panel)
    assert failures.model.total == 1  # three failures from one address, one group
    assert [failures.model.index(0, c).data() for c in (0, 1, 4, 5, 6)] == [
        "127.0.0.2",
        "3",
        "sam@example.com",
        "Sam Seller",
        "—",
    ]
    assert not page.block_button.isEnabled()
    failures.table.view.selectRow(0)
    assert page.block_button.isEnabled()
    qtbot.mouseClick(page.block_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(BlockDialog)
    assert dialog.address.text() == "127.0.0.2"
    qtbot.keyClicks(dialog.reason, "guessing Sam's password")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(
        lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), message="the block dialog did not close"
    )
    settle(desk, panel)
    assert "127.0.0.2 is blocked" in page.notice_text.text()
    assert failures.model.index(0, 6).data() == "Blocked"
    assert desk.run(_sign_in_from(desk, "127.0.0.2", PASSWORD)) == [403]

    page.tabs.setCurrentWidget(page.blocked)
    blocked = page.blocked
    settle(desk, panel)
    assert [blocked.model.index(0, c).data() for c in (0, 1, 2)] == ["127.0.0.2", "guessing Sam's password", "Admin"]
    assert not page.lift_button.isEnabled() and not page.block_button.isEnabled()
    blocked.table.view.selectRow(0)
    qtbot.mouseClick(page.lift_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    assert blocked.model.total == 0 and "may sign in again" in page.notice_text.text()
    assert desk.run(_sign_in_from(desk, "127.0.0.2", PASSWORD)) == [200]
    kinds = [e["kind"] for e in desk.run(api.get("/api/security-log"))["items"]]
    assert {"address_blocked", "address_unblocked"} <= set(kinds)
