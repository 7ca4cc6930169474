"""Admin panel as a whole: every page loads against the real server, keyboard navigation works,
and live events refresh the page that shows the record. Also holds the helpers the other
test_admin_* modules import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop import operations, tasks
from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin import AdminPanel
from crm_server.contract.events import LiveEvent
from tests.desktop.conftest import Desk


def open_panel(desk: Desk, qtbot: QtBot, page: str, api: ApiClient | None = None) -> tuple[ApiClient, AdminPanel, Any]:
    """An admin's panel on `page`, shown, with its first load finished."""
    api = api or desk.signed_in_api()
    panel = AdminPanel(api, desk.run(auth.me(api)))
    qtbot.addWidget(panel)
    panel.resize(1280, 820)
    panel.show()
    shown = panel.show_page(page)
    settle(desk, panel)
    return api, panel, shown


def live_event(module: str, entity: str, entity_id: int, action: str) -> LiveEvent:
    """A live event as the shell's event stream hands it to the panel."""
    return LiveEvent(seq=1, at=datetime.now(UTC), module=module, entity=entity, entity_id=entity_id, action=action)


def settle(desk: Desk, panel: AdminPanel) -> None:
    """Wait until nothing is loading or saving (pages, pickers, operations)."""
    desk.wait_until(
        lambda: not panel.is_busy() and operations.pending() == 0 and tasks.running() == 0,
        message="the admin panel did not settle",
    )


def focus(desk: Desk, widget: QWidget) -> None:
    """Give `widget` the keyboard focus in an active window, as a click on it would (shortcuts
    only reach the focused window)."""
    widget.window().activateWindow()
    widget.setFocus()
    desk.wait_until(lambda: QApplication.focusWidget() is widget, message=f"{widget} did not get the focus")


def the_dialog(kind: type[Any]) -> Any:
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    assert len(dialogs) == 1, dialogs
    return dialogs[0]


def test_every_page_loads_and_is_reachable_by_keyboard(desk: Desk, qtbot: QtBot) -> None:
    _api, panel, users = open_panel(desk, qtbot, "users")
    names = list(panel.pages)
    assert names == [
        "users",
        "roles",
        "teams",
        "pipelines",
        "sales_lists",
        "tax_rates",
        "assignment",
        "support",
        "email_log",
        "invoice_emails",
        "emails",
        "email_dns",
        "whatsapp_templates",
        "integrations",
        "web_forms",
        "partners",
        "automation",
        "webhooks",
        "logs",
        "audit",
        "settings",
        "data_management",
        "backups",
        "health",
    ]
    focus(desk, panel.nav)
    for row, name in enumerate(names):
        if row:
            qtbot.keyClick(panel.nav, Qt.Key.Key_Down)
        page = panel.current_page()
        assert page is panel.pages[name]
        settle(desk, panel)
        assert page.loaded, name
    # Real data arrived on each page, not just empty widgets.
    assert [r.email for r in users.model.rows()] == ["admin@example.com"]
    assert panel.roles_page.list.count() == 6  # the built-in roles
    assert panel.logs_page.logins.model.total == 1  # the admin's own sign-in
    assert panel.audit_page.model.total is not None
    assert panel.settings_page.company_name.text() == "My Company"
    health = panel.health_page
    assert health.cards["database"].status.text() == "● OK"
    assert health.cards["backups"].status.text() == "● Not configured"
    assert health.cards["integrations"].status.text() == "● Not configured"

    shots = []
    for name, widget in panel.screenshot_states():  # the screenshot runner settles between states
        settle(desk, panel)
        shots.append((name, panel.current_page().title, widget is panel))
    assert ("admin-users-new", "Users", True) in shots and ("admin-health", "System health", True) in shots
    assert len(shots) == 35 and ("admin-sent-invoices", "Sent invoices", True) in shots
    assert ("admin-whatsapp-templates-rejected", "WhatsApp templates", True) in shots
    assert ("admin-failures-by-address", "Sign-ins & security", True) in shots
    assert ("admin-website-forms", "Website forms", True) in shots
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def test_a_live_event_patches_the_row_in_place(desk: Desk, qtbot: QtBot) -> None:
    """Another admin renames a user: the open list shows the new name without a reload."""
    api, panel, users = open_panel(desk, qtbot, "users")
    other = desk.create_user("olga@example.com", full_name="Olga Old")
    users.reload_list()
    settle(desk, panel)
    row = users.model.find(other)
    assert row is not None
    second_admin = desk.signed_in_api("boss@example.com")
    version = desk.run(api.get(f"/api/users/{other}"))["version"]
    desk.run(second_admin.patch(f"/api/users/{other}", {"version": version, "full_name": "Olga New"}))
    resets: list[bool] = []
    users.model.modelReset.connect(lambda: resets.append(True))
    panel.on_live_event(live_event("admin", "user", other, "updated"))
    desk.wait_until(lambda: users.model.row(row).full_name == "Olga New", message="the row was not patched")
    assert resets == []  # patched in place, the list was not reloaded
    assert users.model.index(row, 0).data() == "Olga New"


def test_pages_are_read_only_without_edit_rights(desk: Desk, qtbot: QtBot) -> None:
    """A role with admin view only sees the panel but no buttons that would be refused."""
    api = desk.signed_in_api()
    roles = desk.run(api.get("/api/roles"))
    viewer = desk.run(
        api.post("/api/roles", {"name": "Auditor", "permissions": {"admin": {"actions": ["view"], "scope": "all"}}})
    )
    assert viewer["id"] not in {r["id"] for r in roles}
    desk.create_user("auditor@example.com", role="Auditor", full_name="Ann Auditor")
    auditor = desk.api()
    desk.run(auth.login(auditor, "auditor@example.com", "Tr0ub4dor&3-horse-battery"))
    _, panel, users = open_panel(desk, qtbot, "users", api=auditor)
    assert users.model.total == 2
    assert not users.new_button.isEnabled()
    users.table.select_key(users.model.row(0).id)
    assert not users.edit_button.isEnabled() and not users.deactivate_button.isEnabled()
    panel.show_page("settings")
    settings = panel.settings_page
    settle(desk, panel)
    assert not settings.company_name.isEnabled() and not settings.test_button.isEnabled()
    assert not panel.audit_page.export_button.isEnabled()  # no admin.export


def test_session_change_areas_refresh_the_panel_until_live_events_are_wired(desk: Desk, qtbot: QtBot) -> None:
    """The session announces each live event on the change bus as {"admin", "admin.user"}; the
    panel reloads the users list from that alone (before the shell passes events in)."""
    _, _, users = open_panel(desk, qtbot, "users")
    other = desk.create_user("olga@example.com", full_name="Olga Old")
    assert users.model.find(other) is None  # created elsewhere, not shown yet
    operations.change_bus().announce(frozenset({"admin", "admin.user"}))
    desk.wait_until(lambda: users.model.find(other) is not None, message="the list did not refresh")


def test_sent_invoices_and_what_a_job_said(desk: Desk, qtbot: QtBot) -> None:
    """The outgoing email log lists each send with its status and the SMTP error in full, filtered
    by status; the health page shows a job's result beside its error column."""
    from datetime import UTC, datetime

    from crm_server.invoices.models import InvoiceEmail
    from crm_server.jobs.models import JobLogEntry

    api = desk.signed_in_api()
    client = desk.run(api.post("/api/clients", {"name": "Fabrikam", "email": "ap@fabrikam.example"}))
    rate = next(r["id"] for r in desk.run(api.get("/api/tax-rates")) if r["name"] == "Standard 19%")
    draft = desk.run(
        api.post(
            "/api/invoices",
            {
                "client_id": client["id"],
                "lines": [{"description": "Support", "quantity": "1", "unit_price": "80.00", "tax_rate_id": rate}],
            },
        )
    )
    invoice = desk.run(api.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"]}))
    job = desk.run(api.post("/api/admin/jobs/invoices.recur/run"))
    error = "SMTPRecipientsRefused: 550 5.1.1 <ap@fabrikam.example>: mailbox unavailable\n(second line)"

    async def seed() -> None:
        async with desk.server.session() as s:
            s.add(
                InvoiceEmail(
                    invoice_id=invoice["id"],
                    recipient="ap@fabrikam.example",
                    subject="Invoice 1",
                    body="Hello",
                    status="sent",
                    attempts=1,
                    sent_at=datetime.now(UTC),
                )
            )
            await s.flush()
            s.add(
                InvoiceEmail(
                    invoice_id=invoice["id"],
                    recipient="ap@fabrikam.example",
                    subject="Invoice 1",
                    body="Hello",
                    status="failed",
                    attempts=3,
                    error=error,
                )
            )
            s.add(
                JobLogEntry(
                    job_id=job["id"],
                    task=job["task"],
                    attempt=1,
                    worker="test:1",
                    status="succeeded",
                    started_at=datetime.now(UTC),
                    duration_ms=12,
                    result=f"Skipped {invoice['number']}: the source invoice is not paid.",
                )
            )

    desk.on_server(seed())
    _api, panel, page = open_panel(desk, qtbot, "invoice_emails", api)
    assert page is panel.invoice_emails_page and page.title == "Sent invoices"
    rows = page.model.rows()
    assert [r.status for r in rows] == ["failed", "sent"] and rows[0].invoice_number == invoice["number"]
    view = page.table.view
    assert page.model.index(0, 6).data() == error.split("\n")[0]
    assert page.model.index(0, 2).data() == "Failed" and page.model.index(1, 2).data() == "Sent"
    page.status.setCurrentIndex(page.status.findData("failed"))
    settle(desk, panel)
    assert [r.status for r in page.model.rows()] == ["failed"]
    view.selectRow(0)
    assert "failed after 3 attempts" in page.detail.text() and "(second line)" in page.detail.text()
    page.status.setCurrentIndex(0)  # any status again; the screenshot state picks the failed one
    settle(desk, panel)
    view.selectRow(1)
    assert page.detail.text().startswith(f"Invoice {invoice['number']} was sent to ap@fabrikam.example")
    page.select_failed()
    assert page.table.current_row().status == "failed"  # type: ignore[union-attr]

    health = panel.show_page("health")
    settle(desk, panel)
    assert health.jobs.horizontalHeaderItem(7).text() == "Result"
    row = next(i for i, run in enumerate(health.runs) if run.id == job["id"])
    assert health.jobs.item(row, 7).text() == f"Skipped {invoice['number']}: the source invoice is not paid."
    assert health.jobs.item(row, 6).text() == ""
    health.jobs.selectRow(row)
    assert health.job_detail.text().endswith("the source invoice is not paid.")
