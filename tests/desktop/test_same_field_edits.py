"""Two people, one field, in the record windows: a colleague's save shows up live while my edits stay;
saving a field they changed meanwhile shows both values and lets me choose; fields they changed and
I did not simply take their values."""

from __future__ import annotations

from typing import Any

import httpx
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.leads.detail import LeadDetail, open_lead
from crm_desktop.views.tickets.detail import TicketWindow, open_ticket
from crm_desktop.widgets.field_conflict import FieldConflictDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus

CTRL = Qt.KeyboardModifier.ControlModifier
LEFT = Qt.MouseButton.LeftButton


def live_session(desk: Desk) -> Session:
    api = desk.signed_in_api()
    session = Session(api, desk.run(auth.me(api)))
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    return session


def retype(qtbot: QtBot, widget: QWidget, text: str) -> None:
    widget.selectAll()  # type: ignore[attr-defined]
    qtbot.keyClick(widget, Qt.Key.Key_Backspace)
    qtbot.keyClicks(widget, text)


def colleague_saves(desk: Desk, path: str, **changes: Any) -> int:
    """Another admin, in another office, saves `changes` over the newest version; answers it."""

    async def save(http: httpx.AsyncClient) -> int:
        current = (await http.get(path)).json()
        answer = await http.patch(path, json={"version": current["version"], **changes})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["version"])

    return desk.admin_http(save)


def conflict_dialog(desk: Desk, window: QWidget) -> FieldConflictDialog:
    def shown() -> list[FieldConflictDialog]:
        return [d for d in window.findChildren(FieldConflictDialog) if d.isVisible()]

    desk.wait_until(shown, message="no choice was offered")
    [dialog] = shown()
    return dialog


def test_lead_window_keep_mine_or_take_theirs(desk: Desk, qtbot: QtBot) -> None:
    session = live_session(desk)
    lead = desk.run(session.api.post("/api/leads", {"person_name": "Ana Pop", "company": "Acme"}))
    window = open_lead(None, session, lead["id"])
    assert isinstance(window, LeadDetail)
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.lead is not None and not window.is_busy(), message="the lead did not load")
    path = f"/api/leads/{lead['id']}"

    focus(desk, window.form.company)
    retype(qtbot, window.form.company, "Gamma")
    version = colleague_saves(desk, path, company="Beta", territory="North")
    desk.wait_until(
        lambda: window.lead is not None and window.lead.version == version,
        message="the colleague's save did not show",
    )
    assert window.form.company.text() == "Gamma"  # my edit stays
    assert window.form.territory.text() == "North"  # theirs, where I had not typed

    focus(desk, window.form.company)
    qtbot.keyClick(window.form.company, Qt.Key.Key_S, CTRL)
    dialog = conflict_dialog(desk, window)
    assert dialog.keep_mine["company"].text() == "Mine: Gamma"
    assert dialog.take_theirs["company"].text() == "Theirs: Beta"
    assert dialog.keep_mine["company"].isChecked()
    qtbot.mouseClick(dialog.save_button, LEFT)
    desk.wait_until(
        lambda: window.lead is not None and window.lead.company == "Gamma" and not window.has_edits(),
        message="mine was not saved",
    )
    stored = desk.run(session.api.get(path))
    assert (stored["company"], stored["territory"]) == ("Gamma", "North")

    # Again, and this time their value wins: my edit is dropped, nothing of mine is sent.
    retype(qtbot, window.form.company, "Delta")
    version = colleague_saves(desk, path, company="Epsilon")
    desk.wait_until(
        lambda: window.lead is not None and window.lead.version == version, message="the second save did not show"
    )
    qtbot.mouseClick(window.save_button, LEFT)  # this time with the mouse (after a dialog, focus is the WM's)
    dialog = conflict_dialog(desk, window)
    qtbot.mouseClick(dialog.take_theirs["company"], LEFT)
    qtbot.mouseClick(dialog.save_button, LEFT)
    desk.wait_until(
        lambda: window.form.company.text() == "Epsilon" and not window.has_edits(), message="their value is not shown"
    )
    assert desk.run(session.api.get(path))["company"] == "Epsilon"


def test_ticket_window_names_the_field_in_words(desk: Desk, qtbot: QtBot) -> None:
    session = live_session(desk)
    ticket = desk.run(session.api.post("/api/tickets", {"subject": "Sync stopped overnight"}))
    window = open_ticket(None, session, ticket["id"])
    assert isinstance(window, TicketWindow)
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.ticket is not None and not window.is_busy(), message="the ticket did not load")
    path = f"/api/tickets/{ticket['id']}"

    focus(desk, window.form.subject)
    retype(qtbot, window.form.subject, "Sync stops every night")
    version = colleague_saves(desk, path, subject="Sync broken", priority="critical")
    desk.wait_until(
        lambda: window.ticket is not None and window.ticket.version == version,
        message="the colleague's save did not show",
    )
    assert window.form.subject.text() == "Sync stops every night"
    assert window.form.priority.currentData() == "critical"

    focus(desk, window.form.subject)
    qtbot.keyClick(window.form.subject, Qt.Key.Key_S, CTRL)
    dialog = conflict_dialog(desk, window)
    assert dialog.take_theirs["subject"].text() == "Theirs: Sync broken"
    qtbot.mouseClick(dialog.save_button, LEFT)
    desk.wait_until(
        lambda: window.ticket is not None and window.ticket.subject == "Sync stops every night",
        message="mine was not saved",
    )
    stored = desk.run(session.api.get(path))
    assert (stored["subject"], stored["priority"]) == ("Sync stops every night", "critical")
