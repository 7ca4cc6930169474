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
        data={"entity": sent.entity, "entity_id": sent.entity_id},
    )
    return reply
