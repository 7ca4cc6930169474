"""E-mail from the lead window (issue #22): a template written for leads is picked in the composer,
the preview fills its merge tags from the lead, Send queues the message, and the lead's timeline
shows "Email sent"; a refusal (a suppressed address) lands next to the To field."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from crm_desktop.operations import errors
from crm_desktop.views.emails.compose import ComposeDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_lead_detail import open_detail


def test_compose_from_a_lead_with_a_template(desk: Desk, qtbot: QtBot) -> None:
    api, _session, lead, window = open_detail(desk, qtbot, company="Acme", email="ana@acme.example")
    desk.run(
        api.post(
            "/api/emails/templates",
            {
                "name": "Intro",
                "entity": "lead",
                "subject": "Hello {{lead.person_name}}",
                "body": "About {{lead.company}}",
            },
        )
    )
    desk.run(api.post("/api/emails/suppressions", {"address": "gone@acme.example", "reason": "hard bounce"}))
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
