"""The ticket window and the new-ticket dialog driven as a person would: a ticket made from a client's
window is routed to its category's team; assigning tells the assignee; an internal note sends no
email while a public reply reaches the loopback SMTP server once the email job runs; the status
moves New -> Assigned -> In process -> Resolved (with its note) -> Closed, refusals show the server's
words, and the ticket is reopened. Files go up and come back byte for byte; a colleague's change
shows up live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import errors
from crm_desktop.session import Session
from crm_desktop.views.clients.detail import ClientWindow, open_client
from crm_desktop.views.tickets.detail import AssignDialog, ResolveDialog, TicketWindow, open_ticket
from crm_desktop.views.tickets.new_ticket import NewTicketDialog
from crm_server.contract.tickets import MAX_ATTACHMENT_BYTES
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, the_dialog
from tests.desktop.test_document_window import unsaved_box
from tests.server.test_jobs import eventually, workers
from tests.support import Smtp

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton


def session_of(desk: Desk, api: ApiClient, live: bool = False) -> Session:
    session = Session(api, desk.run(auth.me(api)))
    if live:
        session.start()
        desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    return session


def route_bugs_to(desk: Desk, api: ApiClient, team: str) -> tuple[int, int]:
    """Make `team` and map the "Product bug" category to it (as an admin would); (team, category)."""
    team_id = int(desk.run(api.post("/api/teams", {"name": team}))["id"])
    bug = next(c for c in desk.run(api.get("/api/ticket-categories")) if c["name"] == "Product bug")
    desk.run(api.patch(f"/api/ticket-categories/{bug['id']}", {"version": bug["version"], "team_id": team_id}))
    return team_id, int(bug["id"])


def ticket_window(desk: Desk) -> TicketWindow:
    desk.wait_until(
        lambda: any(isinstance(w, TicketWindow) and w.isVisible() for w in QApplication.topLevelWidgets()),
        message="no ticket window",
    )
    window = the_dialog(TicketWindow)
    desk.wait_until(lambda: window.ticket is not None and not window.is_busy(), message="the ticket did not load")
    return window  # type: ignore[no-any-return]


def stored(desk: Desk, api: ApiClient, ticket_id: int) -> dict[str, Any]:
    return dict(desk.run(api.get(f"/api/tickets/{ticket_id}")))


def click_move(desk: Desk, qtbot: QtBot, window: TicketWindow, target: str) -> None:
    desk.wait_until(
        lambda: target in window.move_buttons and window.move_buttons[target].isEnabled(),
        message=f"no {target} move: {list(window.move_buttons)}",
    )
    qtbot.mouseClick(window.move_buttons[target], LEFT)


def wait_status(desk: Desk, window: TicketWindow, status: str) -> None:
    desk.wait_until(
        lambda: window.ticket is not None and window.ticket.status == status and not window.is_busy(),
        message=f"not {status}: {window.ticket and window.ticket.status}",
    )


def error_box(desk: Desk) -> QMessageBox:
    desk.wait_until(
        lambda: any(isinstance(w, QMessageBox) and w.isVisible() for w in QApplication.topLevelWidgets()),
        message="no error shown",
    )
    return the_dialog(QMessageBox)  # type: ignore[no-any-return]


def send_queued_emails(desk: Desk, count: int) -> None:
    """Run the email job as the server's worker would (the live test server runs without one)."""
    from crm_server.tickets.models import TicketEmail

    async def run() -> None:
        async with workers(desk.server.database_url, n=1):

            async def all_sent() -> bool:
                async with desk.server.session() as s:
                    found = [e.status for e in await s.scalars(select(TicketEmail))]
                return len(found) == count and set(found) == {"sent"}

            await eventually(all_sent, timeout=30, what=f"{count} emails to be sent")

    desk.on_server(run())


def notifications_of(desk: Desk, user_id: int) -> list[tuple[str, int | None]]:
    from crm_server.admin.models import Notification

    async def read() -> list[tuple[str, int | None]]:
        async with desk.server.session() as s:
            rows = await s.scalars(
                select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
            )
            return [(n.kind, n.entity_id) for n in rows]

    return desk.on_server(read())


def test_a_ticket_from_a_client_through_its_whole_life(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    api = desk.signed_in_api()
    desk.run(api.patch("/api/settings", {"values": smtp.settings()}))
    dev_team, bug_category = route_bugs_to(desk, api, "Development")
    agent_id = desk.create_user(
        "dev.agent@example.com", role="Support agent", full_name="Dev Agent", team="Development"
    )
    client = desk.run(
        api.post(
            "/api/clients",
            {
                "name": "Acme SRL",
                "email": "office@acme.example",
                "contacts": [{"name": "Ana Pop", "email": "ana@acme.example"}],
            },
        )
    )
    session = session_of(desk, api)

    # From the client's window: New ticket…, with the selected contact.
    client_window = open_client(None, session, client["id"])
    qtbot.addWidget(client_window)
    desk.wait_until(lambda: client_window.client is not None and not client_window.is_busy())
    assert isinstance(client_window, ClientWindow) and client_window.ticket_button.isVisible()
    client_window.select_contact(client["contacts"][0]["id"])
    qtbot.mouseClick(client_window.ticket_button, LEFT)
    dialog = the_dialog(NewTicketDialog)
    desk.wait_until(
        lambda: not dialog.is_busy() and dialog.client.client_id == client["id"] and dialog.category.count() > 0,
        message="the dialog did not fill",
    )
    assert dialog.client.text() == "Acme SRL" and dialog.contact.currentText() == "Ana Pop <ana@acme.example>"
    qtbot.keyClicks(dialog.subject, "Export crashes on large files")
    qtbot.keyClicks(dialog.description, "Exporting 50k rows closes the app.")
    qtbot.keyClicks(dialog.tags, "export, Crash")
    dialog.priority.setCurrentIndex(dialog.priority.findData("high"))
    dialog.category.setCurrentIndex(dialog.category.findData(bug_category))
    assert dialog.route.text() == "Routed to the Development team."
    qtbot.mouseClick(dialog.ok, LEFT)
    desk.wait_until(lambda: dialog.ticket is not None, message="the ticket was not created")
    number = dialog.ticket.number  # type: ignore[union-attr]
    assert dialog.done_text.text() == f"Ticket #{number} is created and routed to the Development team."
    assert client_window.notice.text() == f"Ticket #{number} is created."
    qtbot.mouseClick(dialog.open_button, LEFT)  # the dialog offers to open it
    window = ticket_window(desk)
    qtbot.addWidget(window)
    ticket_id = window.ticket_id
    made = stored(desk, api, ticket_id)
    assert (made["team_id"], made["category_id"], made["client_id"], made["contact_id"]) == (
        dev_team,
        bug_category,
        client["id"],
        client["contacts"][0]["id"],
    )
    assert made["priority"] == "high" and made["tags"] == ["export", "crash"] and made["status"] == "new"
    assert window.title.text() == f"#{number} Export crashes on large files"
    assert window.status_badge.text() == "New" and window.priority_badge.text() == "High priority"
    assert window.sla.text().startswith("First response due in"), window.sla.text()
    assert "Client: Acme SRL" in window.subtitle.text() and "Development" in window.subtitle.text()
    assert open_ticket(None, session, ticket_id) is window  # one window per ticket

    # Assign…: the picker offers the ticket's team; the person hears of it.
    qtbot.mouseClick(window.assign_button, LEFT)
    assign = the_dialog(AssignDialog)
    focus(desk, assign.picker)
    qtbot.keyClicks(assign.picker, "dev")
    desk.wait_until(
        lambda: assign.picker.matches.rowCount() == 1 and not assign.picker.is_busy(), message="no match for the agent"
    )
    assign.picker.choose(0)
    qtbot.mouseClick(assign.ok, LEFT)
    wait_status(desk, window, "assigned")
    assert stored(desk, api, ticket_id)["assignee_id"] == agent_id
    assert window.status_badge.text() == "Assigned" and "Dev Agent" in window.subtitle.text()
    assert window.form.assignee.text() == "Dev Agent"
    assert notifications_of(desk, agent_id) == [("ticket_assigned", ticket_id)]
    assert set(window.move_buttons) == {"in_process"}  # only what the graph allows from Assigned

    # An internal note (Ctrl+Shift+Enter), then a reply to the customer (Ctrl+Enter).
    reply = window.conversation.reply
    assert window.conversation.empty.isVisibleTo(window)
    focus(desk, reply)
    qtbot.keyClicks(reply, "Token expiry in the export worker, see logs")
    qtbot.keyClick(reply, Qt.Key.Key_Return, CTRL | SHIFT)
    desk.wait_until(lambda: len(window.conversation.cards()) == 1, message="the note is not shown")
    focus(desk, reply)
    qtbot.keyClicks(reply, "We found the cause and are fixing it.")
    qtbot.keyClick(reply, Qt.Key.Key_Return, CTRL)
    desk.wait_until(lambda: len(window.conversation.cards()) == 2, message="the reply is not shown")
    note, public = window.conversation.cards()
    assert note.internal and note.objectName() == "internalComment" and not public.internal
    assert window.conversation.texts() == [
        "Token expiry in the export worker, see logs",
        "We found the cause and are fixing it.",
    ]
    assert reply.toPlainText() == "" and not window.conversation.empty.isVisibleTo(window)
    desk.wait_until(lambda: window.sla.text().startswith("Answered in"), message=window.sla.text())
    comments = desk.run(api.get(f"/api/tickets/{ticket_id}/comments"))
    assert [c["public"] for c in comments] == [False, True]

    # The email job sends: the acknowledgement, "Assigned" and the public reply; never the note.
    send_queued_emails(desk, 3)
    assert len(smtp.messages) == 3
    assert all(f"[Ticket#{number}]" in m["Subject"] and m["To"] == "ana@acme.example" for m in smtp.messages)
    replies = [m for m in smtp.messages if "We found the cause" in m.get_content()]
    assert len(replies) == 1 and replies[0]["Subject"].startswith(f"[Ticket#{number}] Re:")
    assert not any("Token expiry" in m.get_content() for m in smtp.messages)

    # In process -> Resolved: first without a note (refused next to the field), then with one.
    click_move(desk, qtbot, window, "in_process")
    wait_status(desk, window, "in_process")
    assert set(window.move_buttons) == {"pending_customer", "resolved"}
    click_move(desk, qtbot, window, "resolved")
    resolve = the_dialog(ResolveDialog)
    qtbot.mouseClick(resolve.ok, LEFT)
    desk.wait_until(lambda: errors.is_marked(resolve.note), message="the missing note was not marked")
    assert "resolution note is required" in resolve.note.toolTip()
    assert stored(desk, api, ticket_id)["status"] == "in_process"
    qtbot.keyClicks(resolve.note, "Raised the token lifetime for long exports.")
    qtbot.mouseClick(resolve.ok, LEFT)
    wait_status(desk, window, "resolved")
    assert window.resolution_card.isVisibleTo(window)
    assert window.resolution.text() == "Raised the token lifetime for long exports."
    assert stored(desk, api, ticket_id)["resolution"] == "Raised the token lifetime for long exports."
    assert window.move_buttons["in_process"].text() == "Reopen"
    click_move(desk, qtbot, window, "closed")
    wait_status(desk, window, "closed")
    assert window.status_badge.text() == "Closed"

    # A move the graph does not have (Closed -> Resolved): the server's words are shown.
    window.move_to("resolved", resolution="again")
    box = error_box(desk)
    assert "cannot move from Closed to Resolved" in box.text(), box.text()
    box.close()
    assert stored(desk, api, ticket_id)["status"] == "closed"

    # Reopen.
    click_move(desk, qtbot, window, "in_process")
    wait_status(desk, window, "in_process")
    final = stored(desk, api, ticket_id)
    assert final["resolution"] is None and final["closed_at"] is None
    assert not window.resolution_card.isVisibleTo(window)
    desk.wait_until(
        lambda: any("Closed → In process" in t for t in window.timeline.texts()),
        message=f"no reopen in the history: {window.timeline.texts()[:5]}",
    )


def test_files_round_trip_the_size_limit_and_live_changes(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api = desk.signed_in_api()
    ticket = desk.run(api.post("/api/tickets", {"subject": "Sync stopped overnight"}))
    session = session_of(desk, api, live=True)
    window = open_ticket(None, session, ticket["id"])
    assert isinstance(window, TicketWindow)
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.ticket is not None and not window.is_busy(), message="the ticket did not load")
    files = window.files
    assert files.empty.isVisibleTo(window) and not files.save_button.isEnabled()
    assert window.conversation.empty.isVisibleTo(window)

    # Attach file… -> listed -> Save as… gives back the same bytes.
    payload = b"line one\nline two\x00\xff binary tail"
    source = tmp_path / "sync log.txt"
    source.write_bytes(payload)
    qtbot.mouseClick(files.attach_button, LEFT)
    chooser = the_dialog(QFileDialog)
    chooser.selectFile(str(source))
    chooser.accept()
    desk.wait_until(lambda: files.names() == ["sync log.txt"] and not files.loading, message="not listed")
    assert files.notice.text() == "sync log.txt is attached."
    listed = desk.run(api.get(f"/api/tickets/{ticket['id']}/attachments"))
    assert [(a["filename"], a["size"], a["content_type"]) for a in listed] == [
        ("sync log.txt", len(payload), "text/plain")
    ]
    files.select("sync log.txt")
    assert files.save_button.isEnabled()
    qtbot.mouseClick(files.save_button, LEFT)
    saver = the_dialog(QFileDialog)
    target = tmp_path / "copy.txt"
    saver.selectFile(str(target))
    saver.accept()
    desk.wait_until(lambda: target.exists() and "Saved" in files.notice.text(), message="not saved")
    assert target.read_bytes() == payload

    # Over 10 MB: the server's refusal shows under the list; nothing is added.
    big = tmp_path / "huge.bin"
    big.write_bytes(b"x" * (MAX_ATTACHMENT_BYTES + 1))
    files.attach(str(big))
    desk.wait_until(lambda: errors.is_marked(files.list_box), timeout=30, message="the refusal is not shown")
    label = files.list_box.property("_fieldErrorLabel")
    assert label is not None and label.isVisible() and "at most 10 MB" in label.text()
    assert len(desk.run(api.get(f"/api/tickets/{ticket['id']}/attachments"))) == 1

    # A colleague comments and raises the priority: the window follows.
    async def colleague(http: httpx.AsyncClient) -> None:
        path = f"/api/tickets/{ticket['id']}"
        response = await http.post(f"{path}/comments", json={"body": "Customer called again", "public": False})
        assert response.status_code == 201, response.text
        current = (await http.get(path)).json()
        response = await http.patch(path, json={"version": current["version"], "priority": "critical"})
        assert response.status_code == 200, response.text

    desk.admin_http(colleague)
    desk.wait_until(
        lambda: window.conversation.texts() == ["Customer called again"],
        message=f"the comment did not arrive: {window.conversation.texts()}",
    )
    desk.wait_until(lambda: window.priority_badge.text() == "Critical priority", message=window.priority_badge.text())
    assert window.form.priority.currentData() == "critical"

    # Ctrl+S saves only what I changed, over the colleague's version.
    focus(desk, window.form.subject)
    window.form.subject.selectAll()
    qtbot.keyClicks(window.form.subject, "Sync stops every night at 02:00")
    qtbot.keyClick(window.form.subject, Qt.Key.Key_S, CTRL)
    desk.wait_until(
        lambda: window.ticket is not None and window.ticket.subject.startswith("Sync stops"), message="not saved"
    )
    saved = stored(desk, api, ticket["id"])
    assert saved["subject"] == "Sync stops every night at 02:00" and saved["priority"] == "critical"
    assert window.title.text() == f"#{ticket['number']} Sync stops every night at 02:00"


def test_an_emailed_reply_shows_its_new_text_with_the_history_attached(desk: Desk, qtbot: QtBot) -> None:
    """A customer's reply by email (Thunderbird, format=flowed, quoting the last answer) reads in the
    conversation as the joined lines they wrote; the quoted history is full-message.txt beside it."""
    api = desk.signed_in_api()
    desk.run(api.patch("/api/settings", {"values": {"email_pipe.token": "desk-pipe-token"}}))
    ticket = desk.run(api.post("/api/tickets", {"subject": "Orders do not sync since this morning"}))
    fixture = Path(__file__).parents[1] / "server" / "fixtures" / "email" / "reply_flowed.eml"
    raw = fixture.read_bytes().replace(b"[Ticket#1000]", f"[Ticket#{ticket['number']}]".encode())

    async def mail_provider(http: httpx.AsyncClient) -> None:
        response = await http.post(
            "/webhooks/email", content=raw, headers={"X-CRM-Token": "desk-pipe-token", "Content-Type": "message/rfc822"}
        )
        assert response.status_code == 200 and response.json()["outcome"] == "appended", response.text

    desk.admin_http(mail_provider)
    window = open_ticket(None, session_of(desk, api), ticket["id"])
    assert isinstance(window, TicketWindow)
    qtbot.addWidget(window)
    desk.wait_until(
        lambda: window.ticket is not None and not window.is_busy() and window.conversation.cards(),
        message="the reply did not load",
    )
    [card] = window.conversation.cards()
    shown = card.body.text()
    assert shown.startswith(
        "Hi,\n\nthe sync works again, but the totals in the PDF are still rounded differently "
        "from the screen: 10.005 shows as 10.00"
    )
    assert "wrote:" not in shown and "We restarted" not in shown
    assert "full-message.txt" in shown
    attached = [label.text() for label in card.findChildren(QLabel) if label.text().startswith("Attached:")]
    assert len(attached) == 1 and "full-message.txt" in attached[0]
    desk.wait_until(lambda: window.files.names() == ["full-message.txt"], message=str(window.files.names()))


def test_a_pdf_file_of_a_ticket_shows_in_the_preview_through_the_typed_call(desk: Desk, qtbot: QtBot) -> None:
    """PdfPreviewDialog takes the area's typed call (bytes) as its source: a PDF attached to a ticket
    shows its page; a file that is not there says why."""
    import base64

    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QPageSize, QPainter, QPdfWriter

    from crm_desktop.api import tickets
    from crm_desktop.widgets.pdf_preview import PdfPreviewDialog
    from crm_server.contract.tickets import AttachmentIn, TicketIn

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    painter = QPainter(writer)
    painter.drawText(100, 100, "Error log, page 1")
    painter.end()
    buffer.close()
    api = desk.signed_in_api()
    ticket = desk.run(tickets.create_ticket(api, TicketIn(subject="Export crashes")))
    body = AttachmentIn(filename="log.pdf", content_type="application/pdf", data=base64.b64encode(bytes(data)).decode())
    attachment = desk.run(tickets.add_attachment(api, ticket.id, body))

    dialog = PdfPreviewDialog(None, api, lambda: tickets.download_attachment(api, attachment.id), "log.pdf")
    qtbot.addWidget(dialog)
    dialog.open()
    desk.wait_until(lambda: dialog.page_count() == 1, message=dialog.status.text())
    assert dialog.pdf_bytes.startswith(b"%PDF")

    gone = PdfPreviewDialog(None, api, lambda: tickets.download_attachment(api, attachment.id + 1000), "gone.pdf")
    qtbot.addWidget(gone)
    gone.open()
    desk.wait_until(lambda: gone.status.text().startswith("The PDF could not be shown"), message=gone.status.text())
    assert gone.page_count() == 0


def test_the_ticket_window_asks_before_closing_over_unsaved_edits(desk: Desk, qtbot: QtBot) -> None:
    """On the document window: the moves come from TRANSITIONS (a new ticket: only towards Assigned),
    and Esc with an unsaved subject asks; Discard closes without saving."""
    api = desk.signed_in_api()
    ticket = desk.run(api.post("/api/tickets", {"subject": "Printer jams"}))
    window = open_ticket(None, session_of(desk, api), ticket["id"])
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.ticket is not None and not window.is_busy(), message="the ticket did not load")
    assert set(window.move_buttons) == {"assigned"} and window.status_badge.text() == "New"
    focus(desk, window.form.subject)
    window.form.subject.selectAll()
    qtbot.keyClicks(window.form.subject, "Printer jams on page two")
    qtbot.keyClick(window.form.subject, Qt.Key.Key_Escape)
    desk.wait_until(lambda: unsaved_box() is not None, message="no close prompt")
    box = unsaved_box()
    assert box is not None and "This ticket has changes that are not saved." in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Discard), LEFT)
    desk.wait_until(lambda: not shiboken6.isValid(window) or not window.isVisible(), message="Discard did not close")
    assert stored(desk, api, ticket["id"])["subject"] == "Printer jams"
