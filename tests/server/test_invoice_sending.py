"""Sending invoices by email: the send is queued with the request and done by the job after commit;
the message reaches the loopback SMTP server with the PDF attached; the invoice shows Sent with the
time, or Failed with the SMTP server's words, and can be re-sent; every send is in the email log;
drafts and bad addresses are refused naming why."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from crm_server.admin.models import AuditEntry
from crm_server.config import to_sqlalchemy_url
from crm_server.db import Database
from crm_server.invoices import sending
from crm_server.invoices.models import InvoiceEmail
from tests.server.test_jobs import eventually, workers
from tests.support import LiveServer, Smtp, free_port


@asynccontextmanager
async def database(server: LiveServer) -> AsyncIterator[Database]:
    db = Database(to_sqlalchemy_url(server.database_url), pool_size=1)
    try:
        yield db
    finally:
        await db.dispose()


async def queued_jobs(server: LiveServer) -> list[int]:
    """The email ids of the send jobs waiting to run, oldest first."""
    async with server.session() as s:
        rows = (
            await s.execute(select(InvoiceEmail.id).where(InvoiceEmail.status == "queued").order_by(InvoiceEmail.id))
        ).all()
    return [r[0] for r in rows]


async def run_send_jobs(server: LiveServer) -> list[str]:
    """Do what the worker does for each queued send (the task's own function)."""
    async with database(server) as db:
        return [await sending.send_queued(db, email_id) for email_id in await queued_jobs(server)]


async def issued_invoice(admin: Any, client_email: str | None = "billing@acme.example") -> dict[str, Any]:
    rates = {r["name"]: r["id"] for r in (await admin.get("/api/tax-rates")).json()}
    client = (await admin.post("/api/clients", json={"name": "Acme Ștefan SRL", "email": client_email})).json()
    draft = (
        await admin.post(
            "/api/invoices",
            json={
                "client_id": client["id"],
                "lines": [
                    {
                        "description": "Consulting",
                        "quantity": "3",
                        "unit_price": "33.33",
                        "tax_rate_id": rates["Standard 19%"],
                    }
                ],
            },
        )
    ).json()
    issued = await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]})
    assert issued.status_code == 200, issued.text
    return issued.json()  # type: ignore[no-any-return]


async def test_send_arrives_with_the_pdf_and_is_logged(server: LiveServer, admin: Any, smtp: Smtp) -> None:
    await admin.patch("/api/settings", json={"values": {**smtp.settings(), "company.name": "Northwind"}})
    invoice = await issued_invoice(admin)
    draft = (await admin.get(f"/api/invoices/{invoice['id']}/send-draft")).json()
    assert draft["to"] == "billing@acme.example"
    assert invoice["number"] in draft["subject"] and "Northwind" in draft["subject"]
    assert "118.99 EUR" in draft["message"] and invoice["number"] in draft["message"]

    answer = await admin.post(f"/api/invoices/{invoice['id']}/send", json=draft)
    assert answer.status_code == 200, answer.text
    queued = answer.json()
    assert queued["send_status"] == "queued" and queued["sent_at"] is None and queued["version"] > invoice["version"]
    assert smtp.messages == []  # nothing is sent inside the request
    assert (await run_send_jobs(server)) == [f"sent {invoice['number']} to billing@acme.example"]

    [message] = await smtp.wait_for(1)
    assert message["To"] == "billing@acme.example" and message["Subject"] == draft["subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{invoice['number']}.pdf"
    pdf_text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert invoice["number"] in pdf_text and "118.99" in pdf_text and "Acme Ștefan SRL" in pdf_text
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "118.99 EUR" in body.get_content()

    sent = (await admin.get(f"/api/invoices/{invoice['id']}")).json()
    assert sent["send_status"] == "sent" and sent["sent_at"] is not None and sent["send_error"] is None
    emails = (await admin.get(f"/api/invoices/{invoice['id']}/emails")).json()
    assert [(e["status"], e["recipient"], e["attempts"], e["invoice_number"]) for e in emails] == [
        ("sent", "billing@acme.example", 1, invoice["number"])
    ]
    assert emails[0]["sent_at"] is not None and emails[0]["error"] is None
    log = (await admin.get("/api/invoice-emails", params={"status": "sent"})).json()
    assert log["total"] == 1 and log["items"][0]["invoice_id"] == invoice["id"]
    assert (await admin.get("/api/invoice-emails", params={"status": "failed"})).json()["total"] == 0
    async with server.session() as s:
        actions = list(
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "invoice", AuditEntry.entity_id == invoice["id"])
                .order_by(AuditEntry.id)
            )
        )
    assert actions[-2:] == ["send_queued", "sent"]
    # A job that runs twice sends once.
    async with database(server) as db:
        assert (await sending.send_queued(db, emails[0]["id"])).startswith("skipped")
    assert len(smtp.messages) == 1


async def test_smtp_failure_is_shown_and_a_resend_succeeds(server: LiveServer, admin: Any, smtp: Smtp) -> None:
    dead = free_port()  # nothing listens there
    await admin.patch("/api/settings", json={"values": {**smtp.settings(), "smtp.port": dead}})
    invoice = await issued_invoice(admin)
    body = {"to": "billing@acme.example", "subject": "Your invoice", "message": "Attached."}
    assert (await admin.post(f"/api/invoices/{invoice['id']}/send", json=body)).status_code == 200
    [result] = await run_send_jobs(server)
    assert result.startswith(f"failed: {invoice['number']}") and "SMTP error" in result
    failed = (await admin.get(f"/api/invoices/{invoice['id']}")).json()
    assert failed["send_status"] == "failed" and failed["sent_at"] is None
    assert "SMTP error" in failed["send_error"] and (
        "refused" in failed["send_error"].lower() or "errno" in failed["send_error"].lower()
    )
    [email] = (await admin.get(f"/api/invoices/{invoice['id']}/emails")).json()
    assert email["status"] == "failed" and email["attempts"] == 1 and email["error"] == failed["send_error"]
    assert (await admin.get("/api/invoice-emails", params={"status": "failed"})).json()["total"] == 1
    assert await queued_jobs(server) == []  # no automatic retry: the user decides

    # The SMTP server is fixed; the user sends again.
    await admin.patch("/api/settings", json={"values": {"smtp.port": smtp.port}})
    again = await admin.post(f"/api/invoices/{invoice['id']}/send", json=body)
    assert again.status_code == 200 and again.json()["send_status"] == "queued"
    assert again.json()["send_error"] is None
    assert (await run_send_jobs(server)) == [f"sent {invoice['number']} to billing@acme.example"]
    await smtp.wait_for(1)
    sent = (await admin.get(f"/api/invoices/{invoice['id']}")).json()
    assert sent["send_status"] == "sent" and sent["sent_at"] and sent["send_error"] is None
    emails = (await admin.get(f"/api/invoices/{invoice['id']}/emails")).json()
    assert [e["status"] for e in emails] == ["sent", "failed"]  # newest first
    # And again: re-sending works any number of times.
    assert (await admin.post(f"/api/invoices/{invoice['id']}/send", json=body)).status_code == 200
    await run_send_jobs(server)
    await smtp.wait_for(2)
    assert (await admin.get("/api/invoice-emails")).json()["total"] == 3


async def test_the_worker_runs_the_send_job(server: LiveServer, admin: Any, smtp: Smtp) -> None:
    """The task is registered under invoices.send_email and a real worker sends after commit."""
    await admin.patch("/api/settings", json={"values": smtp.settings()})
    invoice = await issued_invoice(admin)
    answer = await admin.post(f"/api/invoices/{invoice['id']}/send", json={"to": "ap@acme.example"})
    assert answer.status_code == 200, answer.text
    async with workers(server.database_url, n=1):
        [message] = await smtp.wait_for(1, timeout=20)

        async def marked_sent() -> bool:
            got = (await admin.get(f"/api/invoices/{invoice['id']}")).json()
            return got["send_status"] == "sent"  # type: ignore[no-any-return]

        await eventually(marked_sent, what="the invoice to show Sent")
    assert message["To"] == "ap@acme.example" and invoice["number"] in message["Subject"]
    assert [a.get_filename() for a in message.iter_attachments()] == [f"{invoice['number']}.pdf"]


async def test_drafts_cancelled_and_bad_addresses_are_refused(server: LiveServer, admin: Any) -> None:
    rates = {r["name"]: r["id"] for r in (await admin.get("/api/tax-rates")).json()}
    client = (await admin.post("/api/clients", json={"name": "No Mail Ltd"})).json()
    draft = (
        await admin.post(
            "/api/invoices",
            json={
                "client_id": client["id"],
                "lines": [
                    {"description": "Work", "quantity": "1", "unit_price": "10", "tax_rate_id": rates["Standard 19%"]}
                ],
            },
        )
    ).json()
    refused = await admin.post(f"/api/invoices/{draft['id']}/send", json={"to": "a@b.example"})
    assert refused.status_code == 409 and refused.json()["code"] == "not_issued"
    assert "draft" in refused.json()["message"] and "issue it first" in refused.json()["message"]

    invoice = await issued_invoice(admin, client_email=None)
    assert (await admin.get(f"/api/invoices/{invoice['id']}/send-draft")).json()["to"] is None
    for bad in ("not-an-address", "a@b", "two@a.example, three@b.example"):
        answer = await admin.post(f"/api/invoices/{invoice['id']}/send", json={"to": bad})
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["field"] in ("to", "body.to"), answer.json()
    assert (await admin.get(f"/api/invoices/{invoice['id']}/emails")).json() == []

    cancelled = await admin.post(f"/api/invoices/{invoice['id']}/cancel", json={"version": invoice["version"]})
    assert cancelled.status_code == 200
    credit = cancelled.json()
    no = await admin.post(f"/api/invoices/{invoice['id']}/send", json={"to": "a@b.example"})
    assert no.status_code == 409 and no.json()["code"] == "cancelled" and "credit note" in no.json()["message"]
    yes = await admin.post(f"/api/invoices/{credit['id']}/send", json={"to": "a@b.example"})
    assert yes.status_code == 200 and yes.json()["send_status"] == "queued"
    assert (await admin.get("/api/invoice-emails", params={"status": "bogus"})).status_code == 422


async def test_sending_scope_and_permissions(server: LiveServer, admin: Any) -> None:
    sales_id = await server.create_user("sam@example.com", role="Salesperson")
    invoice = await issued_invoice(admin)
    rates = {r["name"]: r["id"] for r in (await admin.get("/api/tax-rates")).json()}
    theirs = (await admin.post("/api/clients", json={"name": "Theirs", "owner_id": sales_id})).json()
    draft = (
        await admin.post(
            "/api/invoices",
            json={
                "client_id": theirs["id"],
                "lines": [
                    {"description": "Work", "quantity": "1", "unit_price": "10", "tax_rate_id": rates["Standard 19%"]}
                ],
            },
        )
    ).json()
    mine = (await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]})).json()
    for target in (invoice, mine):
        assert (await admin.post(f"/api/invoices/{target['id']}/send", json={"to": "x@y.example"})).status_code == 200
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        assert (await sam.get(f"/api/invoices/{invoice['id']}/emails")).status_code == 404
        assert (await sam.get(f"/api/invoices/{invoice['id']}/send-draft")).status_code == 404
        log = (await sam.get("/api/invoice-emails")).json()
        assert [e["invoice_id"] for e in log["items"]] == [mine["id"]] and log["total"] == 1
        can_edit = "edit" in (await sam.get("/api/auth/me")).json().get("permissions", {}).get("invoices", {}).get(
            "actions", []
        )
        answer = await sam.post(f"/api/invoices/{invoice['id']}/send", json={"to": "x@y.example"})
        assert answer.status_code == (404 if can_edit else 403)
