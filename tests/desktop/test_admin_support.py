"""Admin panel, support setup: a category routed to a team through the page sends new tickets there;
the service levels set on the page drive a new ticket's first-response due time; a token generated on
the page lets a real message in through the webhook, and the email log shows it; a refused message
is replayed from the log once its cause is fixed. The server ends up exactly so."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.email_log import EmailLogPage
from crm_desktop.views.admin.support import SupportPage, format_days, parse_days
from crm_desktop.views.admin.ticket_categories import CategoryDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, live_event, open_panel, settle, the_dialog
from tests.desktop.test_admin_pipelines import click_row, rows

EMAILS = Path(__file__).resolve().parents[1] / "server" / "fixtures" / "email"


def deliver(desk: Desk, name: str, token: str) -> httpx.Response:
    """The mail provider posts one raw message to the webhook (another process, over HTTP)."""

    async def post() -> httpx.Response:
        async with desk.server.client() as hook:
            return await hook.post(
                "/webhooks/email",
                content=(EMAILS / name).read_bytes(),
                headers={"X-CRM-Token": token, "Content-Type": "message/rfc822"},
            )

    return desk.on_server(post())


def type_into(desk: Desk, qtbot: QtBot, spin: QAbstractSpinBox, text: str) -> None:
    focus(desk, spin)
    spin.selectAll()
    qtbot.keyClicks(spin, text)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_days_are_written_the_way_the_server_reads_them() -> None:
    assert format_days({1, 2, 3, 4, 5}) == "1-5"
    assert format_days({1, 2, 3, 6}) == "1-3,6"
    assert format_days({1, 2, 6, 7}) == "1,2,6,7"
    assert parse_days("1-3,6") == {1, 2, 3, 6}
    assert parse_days("junk") == set()


def test_a_category_routed_to_a_team_sends_new_tickets_there(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    billing = desk.run(api.post("/api/teams", {"name": "Billing desk"}))
    _, panel, page = open_panel(desk, qtbot, "support", api=api)
    assert isinstance(page, SupportPage)
    categories = page.categories
    assert rows(categories.list)[0].startswith("Sync issue")

    # Data problem -> Billing desk, with the keyboard on the team combo.
    click_row(qtbot, categories.list, "Data problem")
    assert categories.team.currentData() is None
    focus(desk, categories.team)
    qtbot.keyClick(categories.team, Qt.Key.Key_Down)
    settle(desk, panel)
    stored = {c["name"]: c for c in desk.run(api.get("/api/ticket-categories", include_inactive=True))}
    assert stored["Data problem"]["team_id"] == billing["id"]
    assert categories.list.currentItem().text() == "Data problem  →  Billing desk"
    assert "New Data problem tickets now go to Billing desk." in page.notice_text.text()

    ticket = desk.run(
        api.post("/api/tickets", {"subject": "Totals are wrong", "category_id": stored["Data problem"]["id"]})
    )
    assert ticket["team_id"] == billing["id"]

    # A new category (Ins) routed to the team at once; then deactivated (Ctrl+D).
    focus(desk, categories.list)
    qtbot.keyClick(categories.list, Qt.Key.Key_Insert)
    dialog = the_dialog(CategoryDialog)
    qtbot.keyClicks(dialog.name, "Invoices")
    dialog.team.setCurrentIndex(dialog.team.findData(billing["id"]))
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    settle(desk, panel)
    stored = {c["name"]: c for c in desk.run(api.get("/api/ticket-categories", include_inactive=True))}
    assert stored["Invoices"]["team_id"] == billing["id"] and stored["Invoices"]["active"]
    assert categories.list.currentItem().text() == "Invoices  →  Billing desk"
    focus(desk, categories.list)
    qtbot.keyClick(categories.list, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    offered = [c["name"] for c in desk.run(api.get("/api/ticket-categories"))]
    assert "Invoices" not in offered
    assert categories.active_button.text() == "Activate"

    # Another admin renames a category: the live event refreshes the list.
    general = stored["General"]
    desk.run(
        desk.signed_in_api("boss@example.com").patch(
            f"/api/ticket-categories/{general['id']}", {"version": general["version"], "name": "Other"}
        )
    )
    panel.on_live_event(live_event("tickets", "ticket_category", general["id"], "updated"))
    desk.wait_until(
        lambda: any(r.startswith("Other  →") for r in rows(categories.list)),
        message="the renamed category did not show",
    )


def test_service_levels_set_on_the_page_drive_the_due_time(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "support")
    form = page.settings
    assert form.sla_high.value() == 2 and form.opens.time().toString("HH:mm") == "09:00"
    assert [b.isChecked() for b in form.days] == [True] * 5 + [False] * 2

    # The desk works around the clock in UTC; High tickets are answered within 5 hours.
    type_into(desk, qtbot, form.sla_high, "5")
    form.opens.setTime(form.opens.time().fromString("00:00", "HH:mm"))
    form.closes.setTime(form.closes.time().fromString("23:59", "HH:mm"))
    for box in form.days[5:]:
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=box.rect().center())
    focus(desk, form.time_zone)
    form.time_zone.lineEdit().selectAll()
    qtbot.keyClicks(form.time_zone, "UTC")
    assert form.dirty_note.text() == "4 unsaved changes"
    focus(desk, form.sla_high)
    qtbot.keyClick(form.sla_high, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    values = desk.run(api.get("/api/settings"))["values"]
    assert values["tickets.sla_high_hours"] == 5
    assert values["tickets.business_hours"] == "00:00-23:59"
    assert values["tickets.business_days"] == "1-7"
    assert values["tickets.time_zone"] == "UTC"
    assert form.dirty_note.text() == "" and "Saved 4 support settings." in page.notice_text.text()

    high = desk.run(api.post("/api/tickets", {"subject": "Cannot print", "priority": "high"}))
    due = when(high["first_response_due_at"]) - when(high["created_at"])
    assert timedelta(hours=5) <= due <= timedelta(hours=5, minutes=2)  # one minute a day is off hours

    # Nonsense stays on the desktop: closing before opening is refused next to the field.
    form.opens.setTime(form.opens.time().fromString("09:00", "HH:mm"))
    form.closes.setTime(form.closes.time().fromString("08:00", "HH:mm"))
    assert form.save() is None
    assert form.inputs["tickets.business_hours"].widget.property("invalid")
    assert desk.run(api.get("/api/settings"))["values"]["tickets.business_hours"] == "00:00-23:59"


def test_a_generated_token_lets_a_message_in_and_the_log_shows_it(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "support")
    form = page.settings
    assert form.token_state.text() == "● Not set: the email webhook is off"
    assert not form.token_shown.isVisible()
    qtbot.mouseClick(form.generate_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    token = form.new_token.text()
    assert len(token) >= 40 and form.token_shown.isVisible()
    assert form.token_state.text() == "● Set: the email webhook accepts messages"
    assert desk.run(api.get("/api/settings"))["values"]["email_pipe.token"] is True  # write-only

    log = panel.show_page("email_log")
    assert isinstance(log, EmailLogPage)
    settle(desk, panel)
    assert log.model.total == 0 and log.table.empty.title.text() == "No messages match"
    assert not form.token_shown.isVisible() and form.new_token.text() == ""  # shown once only

    answer = deliver(desk, "new_ticket.eml", token)
    assert answer.status_code == 200, answer.text
    number = answer.json()["ticket_number"]
    panel.on_live_event(live_event("admin", "email_pipe_log", answer.json()["log_id"], "created"))
    desk.wait_until(lambda: log.model.total == 1, message="the log did not refresh")
    settle(desk, panel)
    row = log.model.row(0)
    assert row.outcome == "created" and row.sender == "Ana.Pop@ACME.example"
    assert log.model.index(0, 3).data() == f"Created ticket #{number}"
    assert log.model.index(0, 2).data() == "Orders do not sync since this morning"

    log.table.select_key(row.id)
    settle(desk, panel)
    assert log.raw.toPlainText().startswith("Return-Path: <ana.pop@acme.example>")
    assert not log.replay_button.isEnabled()  # already made a ticket

    # The outcome filter and the search narrow the list on the server.
    log.outcome.setCurrentIndex(log.outcome.findData("unregistered"))
    settle(desk, panel)
    assert log.model.total == 0
    log.outcome.setCurrentIndex(0)
    qtbot.keyClicks(log.search, "do not sync")
    desk.wait_until(lambda: log.model.total == 1 and not log.model.loading)


def test_a_refused_message_is_replayed_once_the_sender_is_known(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "support")
    form = page.settings
    qtbot.mouseClick(form.generate_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    token = form.new_token.text()
    box: QCheckBox = form.registered_only
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=box.rect().center())
    type_into(desk, qtbot, form.max_per_window, "3")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    values = desk.run(api.get("/api/settings"))["values"]
    assert values["email_pipe.registered_only"] is True and values["email_pipe.max_per_window"] == 3

    refused = deliver(desk, "unregistered.eml", token)
    assert refused.status_code == 200 and refused.json()["outcome"] == "unregistered"  # final: no retries
    log = panel.show_page("email_log")
    assert isinstance(log, EmailLogPage)
    settle(desk, panel)
    row = log.model.row(0)
    assert row.outcome == "unregistered"
    assert log.model.index(0, 3).data() == "Refused: unknown sender"
    assert log.model.index(0, 4).data() == "stranger@unknown.example is not a registered contact or client"
    log.table.select_key(row.id)
    assert log.replay_button.isEnabled()

    # Still unknown: the replay is refused again, and the page says so.
    focus(desk, log.table.view)
    qtbot.keyClick(log.table.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(lambda: "refused again" in log.notice_text.text())

    desk.run(
        api.post(
            "/api/clients",
            {"name": "Newcomer SRL", "contacts": [{"name": "Someone New", "email": "stranger@unknown.example"}]},
        )
    )
    settle(desk, panel)
    focus(desk, log.table.view)
    qtbot.keyClick(log.table.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(lambda: log.notice_text.text().startswith("Replayed: Created ticket #"))
    settle(desk, panel)

    entries = desk.run(api.get("/api/email-pipe/log"))["items"]
    assert [(e["id"], e["outcome"], e["attempts"]) for e in entries] == [(row.id, "created", 3)]
    ticket = desk.run(api.get(f"/api/tickets/{entries[0]['ticket_id']}"))
    assert ticket["subject"] == "Do you sell to companies in Moldova?" and ticket["client_id"] is not None
    current = log.table.current_row()
    assert current is not None and current.outcome == "created"  # still selected after the reload
    assert not log.replay_button.isEnabled()
