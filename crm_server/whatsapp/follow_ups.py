"""A follow-up of type WhatsApp done by sending: the message goes through the same rules as from
the record's window (opt-in, the 24-hour window, approved templates only), and the follow-up is
completed through the follow-ups service (its audit row and live event) in the same transaction,
so a refused message leaves the follow-up open. Never commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities import service as follow_ups
from crm_server.auth.permissions import Principal
from crm_server.contract.activities import CompleteFollowUp
from crm_server.contract.whatsapp import FollowUpMessageIn, FollowUpSent, MessageIn
from crm_server.errors import Conflict, Forbidden, ValidationFailed
from crm_server.whatsapp import service
from crm_server.whatsapp.models import Message


async def send(session: AsyncSession, actor: Principal, follow_up_id: int, body: FollowUpMessageIn) -> FollowUpSent:
    follow_up = await follow_ups.visible_follow_up(session, actor, follow_up_id, lock=True)
    if follow_up.kind != "whatsapp":
        raise ValidationFailed(f"This follow-up is a {follow_up.kind}, not a WhatsApp message.", field="kind")
    if follow_up.status != "open":
        raise Conflict(f"This follow-up is {follow_up.status} already.", code="not_open")
    kind = "leads" if follow_up.lead_id is not None else "clients"
    record_id = follow_up.lead_id if follow_up.lead_id is not None else follow_up.client_id
    if record_id is None or not actor.can(kind, "edit"):
        raise Forbidden(f"You may not message {kind}.")
    message_in = MessageIn(text=body.text, template=body.template, language=body.language)
    sent = await service.send(session, actor, kind, record_id, message_in)
    row = await session.get(Message, sent.id)
    if row is not None:
        row.follow_up_id = follow_up.id
    what = f"the template {sent.template_name}" if sent.template_name else f"“{sent.body[:200]}”"
    outcome = body.outcome.strip() or f"Sent on WhatsApp: {what}"
    done = await follow_ups.complete(
        session, actor, follow_up.id, CompleteFollowUp(version=body.version, outcome=outcome)
    )
    return FollowUpSent(message=sent, follow_up=done.done)
