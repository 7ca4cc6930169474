"""Sending invoices by email with their PDF: the user (or the recurring job) queues a send in its
own transaction; a job renders the PDF and talks to the SMTP server after commit, so a dead SMTP
server never undoes anything. Every send is an InvoiceEmail row (the email log); the invoice keeps
the latest one's outcome (send_status, sent_at, send_error). A failure is final for that row: the
user re-sends, which makes a new row."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import mail, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.common import Page
from crm_server.contract.invoices import (
    InvoiceAction,
    InvoiceEmailOut,
    InvoiceStatus,
    SendDraft,
    SendIn,
    SendStatus,
    invoice_allows,
)
from crm_server.db import Database, utcnow
from crm_server.documents import layout
from crm_server.documents.sources import render_invoice, render_invoice_pdf
from crm_server.errors import Conflict, ValidationFailed
from crm_server.invoices import service
from crm_server.invoices.models import Invoice, InvoiceEmail
from crm_server.jobs import queue

__all__ = ["SEND_TASK", "email_log", "invoice_emails", "queue_send", "render_invoice_pdf", "send_draft", "send_queued"]

log = logging.getLogger(__name__)

SEND_TASK = "invoices.send_email"
EMAIL_STATUSES = ("queued", "sent", "failed")
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # the same rule as SendIn.to
SEND_FIELDS = ("send_status", "sent_at", "send_error")


def _send_fields(invoice: Invoice) -> dict[str, Any]:
    return {n: getattr(invoice, n) for n in SEND_FIELDS}


def _what(invoice: Invoice) -> str:
    return f"{layout.template().label(invoice.kind)} {invoice.number}"


def check_sendable(invoice: Invoice) -> None:
    """Only issued invoices and credit notes go out; the refusal says why."""
    if invoice_allows(invoice.status, InvoiceAction.send) and invoice.number is not None:
        return
    if invoice.status == InvoiceStatus.draft or invoice.number is None:
        raise Conflict(
            "This invoice is a draft: issue it first, then send it (a draft has no number yet).",
            field="invoice_id",
            code="not_issued",
        )
    raise Conflict(
        f"Invoice {invoice.number} is cancelled; send its credit note instead.",
        field="invoice_id",
        code="cancelled",
    )


async def _defaults(session: AsyncSession, invoice: Invoice) -> tuple[str, str, str]:
    """(to, subject, message) a send starts from: the client's address and a sentence naming the
    invoice, its amount and due date."""
    cfg = await settings.get_all(session)
    tpl = layout.template()
    client = await session.get(Client, invoice.client_id)
    company = str(cfg["company.name"] or "")
    what = _what(invoice)
    subject = f"{what} from {company}" if company else what
    total = f"{layout.amount(invoice.gross_total, invoice.currency, tpl)} {invoice.currency}"
    due = f", due on {layout.day(invoice.due_date, tpl)}" if invoice.kind == "invoice" and invoice.due_date else ""
    lines = [
        f"Dear {client.name}," if client else "Hello,",
        "",
        f"Please find attached {tpl.label(invoice.kind).lower()} {invoice.number} of {total}{due}.",
        "",
        "Kind regards,",
        company,
    ]
    from crm_server.integrations.stripe import live_checkout  # the invoices area does not need Stripe to load

    link = await live_checkout(session, invoice) if invoice.kind == "invoice" else None
    if link is not None:  # its "Pay online" link, made in the invoice window
        lines[4:4] = [f"You can pay it online: {link.url}", ""]
    return (client.email or "") if client else "", subject, "\n".join(lines).rstrip()


async def send_draft(session: AsyncSession, principal: Principal, invoice_id: int) -> SendDraft:
    """What the send dialog starts from; `to` is None for a client without an address. A draft or
    cancelled invoice cannot be sent, so it has no proposal either (409, saying why)."""
    invoice = await service.visible_invoice(session, principal, invoice_id)
    check_sendable(invoice)
    to, subject, message = await _defaults(session, invoice)
    return SendDraft(to=to or None, subject=subject, message=message)


async def queue_send(session: AsyncSession, actor_id: int | None, invoice: Invoice, data: SendIn) -> InvoiceEmail:
    """Write the email, mark the invoice queued (audited, announced) and defer the send job, all in the
    caller's transaction. Also what the recurring job calls to send a new invoice by itself."""
    check_sendable(invoice)
    to = (data.to or "").strip()
    if not ADDRESS.match(to) or len(to) > 320:
        raise ValidationFailed("Give one valid email address, e.g. office@client.example.", field="to")
    from crm_server.emails.service import check_suppressed  # the suppression list (issue #22)

    await check_suppressed(session, [to])
    _, subject, message = await _defaults(session, invoice)
    email = InvoiceEmail(
        invoice_id=invoice.id,
        recipient=to,
        subject=((data.subject or "").strip() or subject)[:400],
        body=(data.message or "").strip() or message,
        status="queued",
        created_by=actor_id,
    )
    session.add(email)
    before = _send_fields(invoice)
    invoice.send_status, invoice.send_error = SendStatus.queued.value, None
    await session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        entity="invoice",
        entity_id=invoice.id,
        action="send_queued",
        changes=[*audit.diff(before, _send_fields(invoice)), {"field": "recipient", "old": None, "new": to}],
    )
    service.announce(session, actor_id, invoice, "updated")
    await queue.defer(session, SEND_TASK, email_id=email.id)
    return email


async def send(session: AsyncSession, actor: Principal, invoice_id: int, data: SendIn) -> Invoice:
    invoice = await service.visible_invoice(session, actor, invoice_id, lock=True)
    await queue_send(session, actor.user_id, invoice, data)
    return invoice


# --- the job -------------------------------------------------------------------------------------


async def _settle(session: AsyncSession, email: InvoiceEmail, error: str | None) -> Invoice | None:
    """Write the outcome on the email and, when it is the invoice's latest send, on the invoice."""
    if error is None:
        email.status, email.sent_at, email.error = "sent", utcnow(), None
    else:
        email.status, email.error = "failed", error[:2000]
    await session.flush()
    latest = await session.scalar(select(func.max(InvoiceEmail.id)).where(InvoiceEmail.invoice_id == email.invoice_id))
    if latest != email.id:
        return None  # a newer send is on its way; it will tell the invoice its outcome
    invoice = await session.get(Invoice, email.invoice_id, with_for_update=True, populate_existing=True)
    if invoice is None:
        return None
    before = _send_fields(invoice)
    if error is None:
        invoice.send_status, invoice.sent_at, invoice.send_error = SendStatus.sent.value, email.sent_at, None
    else:
        invoice.send_status, invoice.send_error = SendStatus.failed.value, email.error
    await session.flush()
    audit.record(
        session,
        actor_id=email.created_by,
        entity="invoice",
        entity_id=invoice.id,
        action="sent" if error is None else "send_failed",
        changes=audit.diff(before, _send_fields(invoice)),
    )
    service.announce(session, None, invoice, "updated")
    return invoice


async def send_queued(db: Database, email_id: int) -> str:
    """Send one queued invoice email (the job's work) and say what happened in a short sentence. A
    failure is recorded and not raised: it is final, the user re-sends (no automatic retry)."""
    async with db.transaction() as session:
        email = await session.get(InvoiceEmail, email_id, with_for_update=True)
        if email is None:
            return f"skipped: no invoice email {email_id}"
        if email.status != "queued":
            return f"skipped: email {email_id} is {email.status} already"
        invoice = await session.get(Invoice, email.invoice_id)
        assert invoice is not None  # invoice_emails.invoice_id is a RESTRICT foreign key
        number = invoice.number
        email.attempts += 1
        error: str | None = None
        try:
            filename, data = await render_invoice(session, invoice)
            await mail.send(
                session, email.recipient, email.subject, email.body, attachments=[(filename, "application/pdf", data)]
            )
        except mail.MailError as exc:
            error = exc.message
        except Exception as exc:  # a PDF that cannot be drawn must still end as "failed", not "queued"
            log.exception("invoice email %s could not be prepared", email_id)
            error = f"The email could not be prepared: {exc}"
        await _settle(session, email, error)
        recipient = email.recipient
    if error is not None:
        log.warning("invoice email %s (%s) failed: %s", email_id, number, error)
        return f"failed: {number} to {recipient}: {error}"[:500]
    return f"sent {number} to {recipient}"


# --- the email log -------------------------------------------------------------------------------


def _out(email: InvoiceEmail, number: str | None) -> InvoiceEmailOut:
    return InvoiceEmailOut.model_validate(email).model_copy(update={"invoice_number": number})


async def invoice_emails(session: AsyncSession, principal: Principal, invoice_id: int) -> list[InvoiceEmailOut]:
    """Every send of one invoice, newest first."""
    invoice = await service.visible_invoice(session, principal, invoice_id)
    rows = (
        await session.scalars(
            select(InvoiceEmail).where(InvoiceEmail.invoice_id == invoice.id).order_by(InvoiceEmail.id.desc())
        )
    ).all()
    return [_out(r, invoice.number) for r in rows]


async def email_log(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    invoice_id: int | None,
    offset: int,
    limit: int,
    after: str | None = None,
) -> Page[InvoiceEmailOut]:
    """The outgoing email log of the invoices this user sees, newest first."""
    where: list[ColumnElement[bool]] = [principal.scope_filter(service.MODULE, Invoice.owner_id, Invoice.team_id)]
    if status is not None:
        if status not in EMAIL_STATUSES:
            raise ValidationFailed(f"Status must be one of {', '.join(EMAIL_STATUSES)}.", field="status")
        where.append(InvoiceEmail.status == status)
    if invoice_id is not None:
        where.append(InvoiceEmail.invoice_id == invoice_id)
    stmt = select(InvoiceEmail, Invoice.number).join(Invoice, Invoice.id == InvoiceEmail.invoice_id).where(*where)
    return await paging.page(
        session,
        stmt,
        offset,
        limit,
        lambda row: _out(row[0], row[1]),
        (InvoiceEmail.id.desc(),),
        whole_rows=True,
        after=after,
    )
