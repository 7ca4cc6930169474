"""A ticket's history: the conversation, what the audit log says happened (created, moves,
assignment, edits, the SLA breach, files) and the emails sent to the customer, newest first.
The lead timeline (activities.timeline) is built from notes and follow-ups, which tickets do not
have, so tickets read the same TimelineItem shape from their own tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, func, literal, null, or_, select, union_all
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin.models import AuditEntry
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.activities import TimelineItem
from crm_server.contract.admin import AuditChange
from crm_server.contract.common import Page
from crm_server.tickets import notify, service
from crm_server.tickets.models import TicketComment, TicketEmail


def _parts(ticket_id: int) -> Any:
    nothing = null().cast(JSONB)
    comments = select(
        TicketComment.created_at.label("at"),
        literal("ticket_comment").label("entity"),
        TicketComment.id.label("entity_id"),
        literal("comment", String).label("action"),
        TicketComment.author_id.label("actor_id"),
        TicketComment.body.label("text"),
        nothing.label("changes"),
        func.jsonb_build_object("public", TicketComment.public, "author_email", TicketComment.author_email).label(
            "data"
        ),
    ).where(TicketComment.ticket_id == ticket_id)
    emails = select(
        TicketEmail.created_at,
        literal("ticket_email"),
        TicketEmail.id,
        literal("email", String),
        null(),
        TicketEmail.subject,
        nothing,
        func.jsonb_build_object(
            "recipient",
            TicketEmail.recipient,
            "status",
            TicketEmail.status,
            "error",
            TicketEmail.error,
            "sent_at",
            TicketEmail.sent_at,
        ),
    ).where(TicketEmail.ticket_id == ticket_id)
    history = select(
        AuditEntry.at,
        AuditEntry.entity,
        AuditEntry.entity_id,
        AuditEntry.action,
        AuditEntry.actor_id,
        null().cast(String),
        AuditEntry.changes,
        nothing,
    ).where(or_(and_(AuditEntry.entity == "ticket", AuditEntry.entity_id == ticket_id)))
    return union_all(comments, emails, history).subquery()


def _kind(action: str, changes: list[dict[str, Any]]) -> tuple[str, str | None]:
    status = next((c for c in changes if c.get("field") == "status"), None)
    if action in ("comment", "email"):
        return action, None
    if status is not None and action == "status_changed":
        return "status_change", f"{notify.label(status.get('old') or '')} → {notify.label(status.get('new') or '')}"
    return action, None


async def ticket_timeline(
    session: AsyncSession, principal: Principal, ticket_id: int, offset: int, limit: int
) -> Page[TimelineItem]:
    ticket = await service.visible_ticket(session, principal, ticket_id)
    parts = _parts(ticket.id)
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
        kind, summary = _kind(r.action, changes)
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
