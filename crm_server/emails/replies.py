"""Replies to e-mail sent from a lead or a client (issue #22): the email pipe threads them by
In-Reply-To / References onto the record the first message was sent from, as "Email received" on its
timeline (tickets thread the same way onto the ticket). Never commits."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.email_pipe.parse import ParsedEmail
from crm_server.emails.models import InboundEmail, OutboundEmail

MAX_BODY = 100_000
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # PostgreSQL text takes no NUL


def record_keys(entity: str, entity_id: int) -> dict[str, object]:
    """Live-event data naming the record a message belongs to."""
    return {"entity": entity, "entity_id": entity_id, f"{entity}_id": entity_id}


async def announce_on_record(session: AsyncSession, entity: str, entity_id: int, action: str) -> None:
    """A live event in the record's own module (leads or clients), seen by whoever sees the record,
    so its open window reloads the timeline (entity "email", data {"lead_id": 5}; as WhatsApp does)."""
    from crm_server.clients.models import Client
    from crm_server.leads.models import Lead

    record: Lead | Client | None = None
    if entity == "lead":
        record = await session.get(Lead, entity_id)
    elif entity == "client":
        record = await session.get(Client, entity_id)
    if record is None:
        return
    events.emit(
        session,
        module=f"{entity}s",
        entity="email",
        entity_id=entity_id,
        action=action,
        actor_id=None,
        owner_id=record.owner_id,
        team_id=record.team_id,
        data={f"{entity}_id": entity_id},
    )


def storable(text: str, limit: int) -> str:
    return _UNSTORABLE.sub("", text)[:limit]


async def sent_from_record(session: AsyncSession, message_ids: list[str]) -> OutboundEmail | None:
    """The newest message sent from a lead or a client that one of these Message-IDs names."""
    if not message_ids:
        return None
    found: OutboundEmail | None = await session.scalar(
        select(OutboundEmail)
        .where(
            OutboundEmail.message_id.in_(message_ids[:20]),
            OutboundEmail.entity.in_(("lead", "client")),
            OutboundEmail.is_test.is_(False),
        )
        .order_by(OutboundEmail.id.desc())
        .limit(1)
    )
    return found


async def keep_reply(
    session: AsyncSession, sent: OutboundEmail, mail: ParsedEmail, pipe_log_id: int | None
) -> InboundEmail:
    """The reply on the record's timeline: what the sender wrote now (the quoted history stays in
    the pipe log's raw message)."""
    body = mail.new_text or mail.body or "(no text)"
    if mail.attachments:
        names = ", ".join(name for name, _, _ in mail.attachments[:10])
        body += f"\n\n[Attached: {names}. The original message is in the email pipe log.]"
    reply = InboundEmail(
        entity=sent.entity,
        entity_id=sent.entity_id,
        outbound_email_id=sent.id,
        pipe_log_id=pipe_log_id,
        sender=storable(mail.sender, 320),
        subject=storable(mail.subject, 1000),
        body=storable(body, MAX_BODY),
    )
    session.add(reply)
    await session.flush()
    events.emit(
        session,
        module="emails",
        entity="inbound_email",
        entity_id=reply.id,
        action="created",
        actor_id=None,
        data=record_keys(sent.entity, sent.entity_id),
    )
    await announce_on_record(session, sent.entity, sent.entity_id, "received")
    return reply
