"""Bulk work on selected leads: reassign, change status, add or remove a tag. Each lead is changed by
the same rules as one at a time, audited and announced on its own; leads the user may not see are
reported as skipped, never touched."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities import preferences
from crm_server.admin import audit
from crm_server.auth.permissions import Principal
from crm_server.clients import normalise
from crm_server.contract.leads import BulkRequest, BulkResult, BulkSkip, StatusKind
from crm_server.db import savepoint
from crm_server.errors import AppError, ValidationFailed
from crm_server.leads import pipelines
from crm_server.leads.models import Lead
from crm_server.leads.service import MODULE, announce, apply_owner, apply_status, fields


async def bulk(session: AsyncSession, actor: Principal, data: BulkRequest) -> BulkResult:
    ids = list(dict.fromkeys(data.ids))
    leads = {
        lead.id: lead
        for lead in (
            await session.scalars(
                select(Lead)
                .where(Lead.id.in_(ids), actor.scope_filter(MODULE, Lead.owner_id, Lead.team_id))
                .order_by(Lead.id)
                .with_for_update()
            )
        ).all()
    }
    skipped = [BulkSkip(id=i, code="not_found", message="No such lead.") for i in ids if i not in leads]
    status = None
    if data.action == "status":
        assert data.status_id is not None
        status = await pipelines.get_status(session, data.status_id)
        if status.kind == StatusKind.lost.value:  # one reason for all: check it before touching any
            await pipelines.lost_reason(session, data.lost_reason_id, data.lost_reason_text)
    tag = normalise.tags([data.tag])[0] if data.tag else None
    if data.action in ("tag_add", "tag_remove") and not tag:
        raise ValidationFailed("Give a tag.", field="tag")
    updated: list[int] = []
    new_owners: Counter[int] = Counter()
    for lead in leads.values():
        if lead.archived_at is not None:
            skipped.append(BulkSkip(id=lead.id, code="archived", message="Archived leads are not changed."))
            continue
        before = fields(lead)
        try:
            async with savepoint(session):  # one lead's refusal leaves the others' changes alone
                if data.action == "reassign":
                    await apply_owner(session, actor, lead, data.owner_id, None, False)
                    action = "reassigned"
                    changes = audit.diff(before, fields(lead))
                elif data.action == "status":
                    assert status is not None
                    changes = await apply_status(session, lead, status, data.lost_reason_id, data.lost_reason_text)
                    action = "status_changed"
                else:
                    assert tag is not None
                    lead.tags = (
                        ([*lead.tags, tag] if tag not in lead.tags else lead.tags)
                        if data.action == "tag_add"
                        else [t for t in lead.tags if t != tag]
                    )
                    action = "updated"
                    changes = audit.diff(before, fields(lead))
                await session.flush()
        except AppError as exc:
            await session.refresh(lead)
            skipped.append(BulkSkip(id=lead.id, code=exc.code, message=exc.message))
            continue
        if not changes:
            continue
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="lead",
            entity_id=lead.id,
            action=action,
            changes=[*changes, {"field": "bulk", "old": None, "new": True}],
        )
        announce(session, actor.user_id, lead, "updated")
        updated.append(lead.id)
        if data.action == "reassign" and lead.owner_id is not None and lead.owner_id != actor.user_id:
            new_owners[lead.owner_id] += 1
    for owner_id, count in new_owners.items():
        await preferences.notify(
            session, owner_id, "lead_assigned", f"{count} leads assigned to you", "Reassigned in bulk."
        )
    return BulkResult(updated=updated, skipped=sorted(skipped, key=lambda s: s.id))
