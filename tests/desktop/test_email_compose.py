"""E-mail from the lead window (issue #22): a template written on the admin E-mail page (an unknown merge tag
marked on the message), an address added to the suppression list there; the template is picked in the composer,
the preview fills its merge tags from the lead, Send queues the message, and the lead's timeline
shows "Email sent"; a refusal (a suppressed address) lands next to the To field."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.operations import errors
from crm_desktop.views.admin.emails import EmailsPage
from crm_desktop.views.clients.detail import open_client
from crm_desktop.views.emails.compose import ComposeDialog
from crm_desktop.views.leads.detail import open_lead
from crm_desktop.views.tickets.detail import open_ticket
from crm_server.contract.emails import EmailEntity
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle
from tests.desktop.test_invoices import host
from tests.desktop.test_lead_detail import session_of


def test_write_a_template_then_send_it_from_a_lead(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "emails")
    assert isinstance(page, EmailsPage)
    qtbot.keyClicks(page.name, "Intro")
    qtbot.keyClicks(page.subject, "Hello {{lead.person_name}}")
    page.body.setPlainText("About {{lead.secret}}")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: errors.is_marked(page.body), message="the unknown tag was not marked on the message")
    page.body.setPlainText("About {{lead.company}}")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.template_list.count() == 1, message="the template was not saved")
    qtbot.keyClicks(page.address, "Gone@acme.example")
    qtbot.keyClicks(page.reason, "hard bounce")
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.suppression_list.count() == 1, message="the address was not added")
    assert "gone@acme.example" in page.suppression_list.item(0).text()
    settle(desk, panel)

    lead = desk.run(api.post("/api/leads", {"person_name": "Ana Pop", "company": "Acme", "email": "ana@acme.example"}))
    window = open_lead(None, session_of(desk, api), lead["id"])
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.lead is not None and not window.is_busy(), message="the lead did not load")
    assert window.email_button.isEnabled()
    dialog = window.compose_email()
    assert isinstance(dialog, ComposeDialog)
    desk.wait_until(lambda: dialog.template.count() == 2, message="the templates did not load")
    assert dialog.to.text() == "ana@acme.example"
    dialog.template.setCurrentIndex(1)
    assert dialog.subject.text() == "Hello {{lead.person_name}}"
    desk.wait_until(lambda: "Hello Ana Pop" in dialog.preview.text(), message=f"no preview: {dialog.preview.text()}")
    assert "About Acme" in dialog.preview.text() and "allows" in dialog.remaining.text()

    dialog.to.setText("gone@acme.example")
    dialog.submit()
    desk.wait_until(lambda: errors.is_marked(dialog.to), message="the suppressed address was not marked")
    assert dialog.isVisible()

    dialog.to.setText("ana@acme.example")
    dialog.submit()
    desk.wait_until(lambda: not dialog.isVisible(), message="the composer did not close")
    desk.wait_until(
        lambda: any("Email sent" in t for t in window.timeline.texts()),
        message=f"no e-mail on the timeline: {window.timeline.texts()}",
    )
    [sent] = desk.run(api.get(f"/api/emails/records/lead/{lead['id']}"))
    assert sent["subject"] == "Hello Ana Pop" and sent["status"] == "queued"

    # The client window has the same composer; the client's own address is proposed.
    client = desk.run(api.post("/api/clients", {"name": "Acme SRL", "email": "office@acme.example"}))
    client_window = open_client(host(qtbot), session_of(desk, api), client["id"])
    desk.wait_until(lambda: client_window.client is not None and not client_window.is_busy(), message="no client")
    composer = client_window.compose_email()
    assert isinstance(composer, ComposeDialog)
    desk.wait_until(lambda: "allows" in composer.remaining.text(), message="the client composer did not load")
    assert composer.to.text() == "office@acme.example" and composer.template.count() == 1  # no lead templates
    qtbot.keyClicks(composer.subject, "Hi {{client.name}}")
    composer.text.setPlainText("Regards")
    composer.submit()
    desk.wait_until(lambda: not composer.isVisible(), message="the client composer did not close")
    [to_client] = desk.run(api.get(f"/api/emails/records/client/{client['id']}"))
    assert to_client["subject"] == "Hi Acme SRL"

    # And the ticket window: the requester's address is proposed; the send is on the ticket's timeline.
    ticket = desk.run(api.post("/api/tickets", {"subject": "Printer", "requester_email": "it@acme.example"}))
    ticket_window = open_ticket(host(qtbot), session_of(desk, api), ticket["id"])
    desk.wait_until(lambda: ticket_window.ticket is not None and not ticket_window.is_busy(), message="no ticket")
    assert ticket_window.email_button.isEnabled()
    to_requester = ticket_window.compose_email()
    assert isinstance(to_requester, ComposeDialog)
    desk.wait_until(lambda: "allows" in to_requester.remaining.text(), message="the ticket composer did not load")
    assert to_requester.to.text() == "it@acme.example"
    qtbot.keyClicks(to_requester.subject, "About ticket {{ticket.number}}")
    to_requester.text.setPlainText("On it")
    to_requester.submit()
    desk.wait_until(
        lambda: any("Email sent" in t for t in ticket_window.timeline.texts()),
        message=f"no e-mail on the ticket timeline: {ticket_window.timeline.texts()}",
    )


def test_sender_identity_from_the_composer(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    lead = desk.run(api.post("/api/leads", {"person_name": "Ana Pop", "email": "ana@acme.example"}))
    composer = ComposeDialog(api, EmailEntity.lead, lead["id"], "ana@acme.example")
    qtbot.addWidget(composer)
    composer.show()
    identity = composer.edit_identity()
    desk.wait_until(lambda: identity.display_name.text() != "", message="the identity did not load")
    identity.reply_to.setText("not an address")
    identity.submit()
    desk.wait_until(lambda: errors.is_marked(identity.reply_to), message="a bad reply address was not marked")
    identity.reply_to.setText("ada@northwind.example")
    identity.signature.setPlainText("Ada, sales")
    identity.submit()
    desk.wait_until(lambda: not identity.isVisible(), message="the identity dialog did not close")
    assert desk.run(api.get("/api/emails/identity"))["signature"] == "Ada, sales"
    composer.text.setPlainText("{{owner.signature}}")
    composer.subject.setText("Hello")
    composer.refresh_preview()
    desk.wait_until(lambda: "Ada, sales" in composer.preview.text(), message=f"no signature: {composer.preview.text()}")
