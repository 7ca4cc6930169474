"""The timeline of a lead or a client: notes, follow-ups and what the audit log says happened
(status changes, edits, reschedules, merges, the conversion), newest first, with who and when.

A lead's timeline includes the leads merged into it; a client's includes the leads converted into
it, so the history of a deal is never lost by merging or winning it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, and_, false, func, literal, null, or_, select, true, union_all
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import FollowUp, Note
from crm_server.admin.models import AuditEntry
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.clients import service as clients
from crm_server.contract.activities import TimelineItem
from crm_server.contract.admin import AuditChange
from crm_server.contract.common import Page
from crm_server.emails.models import InboundEmail
from crm_server.leads import service as leads
from crm_server.leads.duplicates import merged_ids
from crm_server.leads.models import Lead
from crm_server.whatsapp.models import Message


def _parts(
    note_where: Any, follow_up_where: Any, audit_where: Any, message_where: Any = None, reply_where: Any = None
) -> Any:
    nothing = null().cast(JSONB)
    notes = select(
        Note.created_at.label("at"),
        literal("note").label("entity"),
        Note.id.label("entity_id"),
        literal("created", String).label("action"),
        Note.author_id.label("actor_id"),
        Note.body.label("text"),
        nothing.label("changes"),
        nothing.label("data"),
    ).where(note_where)
    follow_ups = select(
        FollowUp.created_at,
        literal("follow_up"),
        FollowUp.id,
        literal("created", String),
        FollowUp.created_by,
        FollowUp.notes,
        nothing,
        func.jsonb_build_object(
            "kind",
            FollowUp.kind,
            "due_at",
            FollowUp.due_at,
            "status",
            FollowUp.status,
            "outcome",
            FollowUp.outcome,
            "completed_at",
            FollowUp.completed_at,
        ),
    ).where(follow_up_where)
    history = select(
        AuditEntry.at,
        AuditEntry.entity,
        AuditEntry.entity_id,
        AuditEntry.action,
        AuditEntry.actor_id,
        null().cast(String),
        AuditEntry.changes,
        nothing,
    ).where(audit_where)
    # WhatsApp messages in and out (crm_server/whatsapp), with their last status.
    messages = select(
        Message.created_at,
        literal("whatsapp"),
        Message.id,
        Message.direction.cast(String),
        Message.created_by,
        Message.body,
        nothing,
        func.jsonb_build_object(
            "direction",
            Message.direction,
            "status",
            Message.status,
            "error",
            Message.error,
            "template",
            Message.template_name,
            "phone",
            Message.phone,
        ),
    ).where(false() if message_where is None else message_where)
    # Replies to e-mail sent from the record (crm_server/emails/replies.py), threaded by the email pipe.
    replies = select(
        InboundEmail.received_at,
        literal("email_received"),
        InboundEmail.id,
        literal("received", String),
        null().cast(BigInteger),
        func.concat("From ", InboundEmail.sender, ": ", InboundEmail.subject, "\n\n", InboundEmail.body),
        nothing,
        func.jsonb_build_object("from", InboundEmail.sender, "subject", InboundEmail.subject),
    ).where(false() if reply_where is None else reply_where)
    return union_all(notes, follow_ups, history, messages, replies).subquery()


def _kind(entity: str, action: str, changes: list[dict[str, Any]]) -> tuple[str, str | None]:
    if entity == "note":
        return "note", None
    if entity == "follow_up":
        return ("follow_up" if action == "created" else f"follow_up_{action}"), None
    if entity in ("whatsapp", "email_received"):
        return entity, None
    status = next((c for c in changes if c.get("field") == "status"), None)
    if status is not None and action in ("status_changed", "merged", "updated"):
        return "status_change", f"{status.get('old') or '—'} → {status.get('new')}"
    return action, None


async def _page(session: AsyncSession, parts: Any, offset: int, limit: int) -> Page[TimelineItem]:
    total = await session.scalar(select(func.count()).select_from(parts))
    rows = (
        await session.execute(
            select(parts).order_by(parts.c.at.desc(), parts.c.entity_id.desc()).offset(offset).limit(limit)
        )
    ).all()
    actor_ids = {r.actor_id for r in rows if r.actor_id is not None}
    names = (
        dict((await session.execute(select(User.id, User.full_name).where(User.id.in_(actor_ids)))).all())
        if actor_ids
        else {}
    )
    items = []
    for r in rows:
        changes = r.changes or []
        kind, summary = _kind(r.entity, r.action, changes)
        items.append(
            TimelineItem(
                at=r.at,
                kind=kind,
                entity=r.entity,
                entity_id=r.entity_id,
                actor_id=r.actor_id,
                actor_name=names.get(r.actor_id),
                text=r.text or summary,
                changes=[AuditChange.model_validate(c) for c in changes],
                data=r.data or {},
            )
        )
    return Page[TimelineItem](items=items, total=total or 0, offset=offset, limit=limit)


async def lead_timeline(
    session: AsyncSession, principal: Principal, lead_id: int, offset: int, limit: int
) -> Page[TimelineItem]:
    lead = await leads.visible_lead(session, principal, lead_id)
    history = merged_ids(lead.id)
    follow_up_ids = select(FollowUp.id).where(FollowUp.lead_id.in_(history))
    parts = _parts(
        Note.lead_id.in_(history),
        FollowUp.lead_id.in_(history),
        or_(
            and_(AuditEntry.entity == "lead", AuditEntry.entity_id.in_(history)),
            and_(
                AuditEntry.entity == "follow_up",
                AuditEntry.action != "created",
                AuditEntry.entity_id.in_(follow_up_ids),
            ),
        ),
        Message.lead_id.in_(history),
        and_(InboundEmail.entity == "lead", InboundEmail.entity_id.in_(history)),
    )
    return await _page(session, parts, offset, limit)


async def client_timeline(
    session: AsyncSession, principal: Principal, client_id: int, offset: int, limit: int
) -> Page[TimelineItem]:
    """The client's own history for whoever sees the client; its sales side only for who may see
    it: notes need the client in the user's activities scope (a note belongs to its client),
    follow-ups their own activities scope, and the history and notes of the leads it came from
    those leads in leads scope. Whoever only reads clients (accounts, the warehouse, support for
    another team's client) sees the client's edits, not what sales wrote."""
    client = await clients.visible_client(session, principal, client_id)
    converted = select(Lead.id).where(
        Lead.converted_client_id == client.id, principal.scope_filter("leads", Lead.owner_id, Lead.team_id)
    )
    deals = converted.union_all(select(Lead.id).where(Lead.merged_into_id.in_(converted)))
    # Notes have no owner of their own: they are the client's, in activities scope.
    notes = principal.sees("activities", client.owner_id, client.team_id)
    mine = principal.scope_filter("activities", FollowUp.owner_id, FollowUp.team_id)
    follow_up_ids = select(FollowUp.id).where(FollowUp.client_id == client.id, mine)
    parts = _parts(
        and_(
            Note.client_id == client.id,
            true() if notes else false(),
            or_(Note.lead_id.is_(None), Note.lead_id.in_(deals)),
        ),
        and_(FollowUp.client_id == client.id, mine),
        or_(
            and_(AuditEntry.entity == "client", AuditEntry.entity_id == client.id),
            and_(AuditEntry.entity == "lead", AuditEntry.entity_id.in_(deals)),
            and_(
                AuditEntry.entity == "follow_up",
                AuditEntry.action != "created",
                AuditEntry.entity_id.in_(follow_up_ids),
            ),
        ),
        Message.client_id == client.id,
        or_(
            and_(InboundEmail.entity == "client", InboundEmail.entity_id == client.id),
            and_(InboundEmail.entity == "lead", InboundEmail.entity_id.in_(deals)),
        ),
    )
    return await _page(session, parts, offset, limit)
