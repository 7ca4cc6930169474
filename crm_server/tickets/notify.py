"""Who hears of a ticket: the customer by email (queued with the change, sent by a job after commit,
so a dead SMTP server never undoes a status change), staff in their notification bell, and the
team's managers once when a first response is late."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, mail
from crm_server.activities import preferences
from crm_server.admin import audit
from crm_server.auth.models import Role, User
from crm_server.clients.models import Client, Contact
from crm_server.db import Database, utcnow
from crm_server.jobs import queue
from crm_server.tickets.models import Ticket, TicketEmail

log = logging.getLogger(__name__)

SEND_TASK = "tickets.send_email"
STATUS_LABELS = {
    "new": "New",
    "assigned": "Assigned",
    "in_process": "In process",
    "pending_customer": "Waiting for your reply",
    "resolved": "Resolved",
    "deployed": "Deployed",
    "closed": "Closed",
}


def label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def tag(ticket: Ticket) -> str:
    """What email subjects carry, so a reply finds its ticket again."""
    return f"[Ticket#{ticket.number}]"


async def recipient(session: AsyncSession, ticket: Ticket) -> str | None:
    """The contact's address, else whoever wrote in, else the client's address."""
    if ticket.contact_id is not None:
        contact = await session.get(Contact, ticket.contact_id)
        if contact is not None and contact.email:
            return contact.email
    if ticket.requester_email:
        return ticket.requester_email
    if ticket.client_id is not None:
        client = await session.get(Client, ticket.client_id)
        if client is not None and client.email:
            return client.email
    return None


async def email_customer(session: AsyncSession, ticket: Ticket, kind: str, subject: str, body: str) -> int | None:
    """Write the email and queue its sending in the caller's transaction; None when there is nobody
    to write to."""
    to = await recipient(session, ticket)
    if to is None:
        return None
    email = TicketEmail(
        ticket_id=ticket.id, kind=kind, recipient=to, subject=f"{tag(ticket)} {subject}"[:400], body=body
    )
    session.add(email)
    await session.flush()
    await queue.defer(session, SEND_TASK, email_id=email.id)
    return email.id


async def created(session: AsyncSession, ticket: Ticket) -> None:
    await email_customer(
        session,
        ticket,
        "created",
        f"We received your request: {ticket.subject}",
        f"Thank you for writing to us. Your request is ticket #{ticket.number}.\n\n"
        f"Subject: {ticket.subject}\n\nReply to this email to add to it; keep "
        f"{tag(ticket)} in the subject.",
    )


async def status_changed(session: AsyncSession, ticket: Ticket) -> None:
    text = f"Your ticket #{ticket.number} ({ticket.subject}) is now: {label(ticket.status)}."
    if ticket.status == "resolved" and ticket.resolution:
        text += f"\n\nResolution:\n{ticket.resolution}"
    await email_customer(session, ticket, "status", f"{label(ticket.status)}: {ticket.subject}", text)


async def public_comment(session: AsyncSession, ticket: Ticket, body: str) -> None:
    await email_customer(session, ticket, "comment", f"Re: {ticket.subject}", body)


async def send_queued(db: Database, email_id: int) -> str:
    """Send one queued email (the job's work). A failure is written down in its own transaction and
    raised again so procrastinate retries; a message already sent is not sent twice."""
    try:
        async with db.transaction() as session:
            email = await session.get(TicketEmail, email_id, with_for_update=True)
            if email is None or email.status == "sent":
                return "skipped"
            email.attempts += 1
            await mail.send(session, email.recipient, email.subject, email.body)
            email.status, email.sent_at, email.error = "sent", utcnow(), None
            return "sent"
    except mail.MailError as exc:
        async with db.transaction() as session:
            failed = await session.get(TicketEmail, email_id, with_for_update=True)
            if failed is not None:
                failed.attempts += 1
                failed.status, failed.error = "failed", exc.message[:2000]
        log.warning("ticket email %s failed: %s", email_id, exc.message)
        raise


# --- staff ---------------------------------------------------------------------------------------


async def tell(
    session: AsyncSession,
    user_id: int | None,
    actor_id: int | None,
    kind: str,
    ticket: Ticket,
    title: str,
    body: str = "",
) -> None:
    if user_id is not None and user_id != actor_id:
        await preferences.notify(session, user_id, kind, title, body, "ticket", ticket.id)


async def managers_of(session: AsyncSession, team_id: int | None) -> list[int]:
    """The team's managers (role Manager in that team); the admins when it has none."""
    if team_id is not None:
        found = list(
            await session.scalars(
                select(User.id)
                .join(Role, Role.id == User.role_id)
                .where(User.team_id == team_id, User.active, Role.name == "Manager")
                .order_by(User.id)
            )
        )
        if found:
            return found
    return list(
        await session.scalars(
            select(User.id)
            .join(Role, Role.id == User.role_id)
            .where(User.active, Role.name == "Admin")
            .order_by(User.id)
        )
    )


async def notify_breaches(session: AsyncSession, now: datetime) -> int:
    """Tell the managers once of each open ticket whose first response is late. Rows are locked and
    skipped when another worker holds them, and the flag is set in the same transaction."""
    rows = list(
        await session.scalars(
            select(Ticket)
            .where(
                Ticket.first_responded_at.is_(None),
                Ticket.breach_notified_at.is_(None),
                Ticket.archived_at.is_(None),
                Ticket.first_response_due_at <= now,
                or_(*(Ticket.status == s for s in ("new", "assigned", "in_process", "pending_customer"))),
            )
            .order_by(Ticket.first_response_due_at)
            .limit(500)
            .with_for_update(skip_locked=True)
        )
    )
    for ticket in rows:
        ticket.breach_notified_at = now
        audit.record(
            session,
            actor_id=None,
            entity="ticket",
            entity_id=ticket.id,
            action="sla_breached",
            changes=[
                {
                    "field": "first_response_due_at",
                    "old": None,
                    "new": ticket.first_response_due_at.isoformat() if ticket.first_response_due_at else None,
                }
            ],
        )
        for manager in await managers_of(session, ticket.team_id):
            await tell(
                session,
                manager,
                None,
                "ticket_sla_breached",
                ticket,
                f"#{ticket.number} has no first response yet",
                ticket.subject,
            )
    await session.flush()
    for ticket in rows:
        events.emit(
            session,
            module="tickets",
            entity="ticket",
            entity_id=ticket.id,
            action="updated",
            owner_id=ticket.assignee_id,
            team_id=ticket.team_id,
            data={"status": ticket.status, "version": ticket.version, "breached": True},
        )
    return len(rows)
