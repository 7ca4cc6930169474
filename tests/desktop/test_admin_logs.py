"""Admin panel, sign-ins and security log: filters (result, user, period) go to the server and the
rows name people, not ids."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiError
from crm_desktop.views.admin.logs import LogsPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import (
    open_panel,
    settle,
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
        "sam@example.com", "Sam Seller", "Wrong email or password"]

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
    kinds = [security.model.row(i)["kind"] for i in range(security.model.rowCount())]
    assert kinds and set(kinds) == {"login_failed"}
    assert security.model.index(0, 3).data() == "Sam Seller"
    expected = desk.run(api.get("/api/security-log", user_id=sam))["total"]
    assert security.model.total == expected
