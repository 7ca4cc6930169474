"""Likely duplicates (same email, same phone, a very similar company name) and merging two leads
into one: the kept lead takes the chosen fields, the notes, follow-ups and history; the other is
archived with a pointer to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import FollowUp, Note
from crm_server.admin import audit
from crm_server.auth.permissions import Principal
from crm_server.concurrency import check_version
from crm_server.contract.clients import RecordWarning
from crm_server.contract.leads import MERGE_FIELDS, DuplicateOut, LeadOut, MergeRequest
from crm_server.db import rowcount, utcnow
from crm_server.errors import Conflict, ValidationFailed
from crm_server.leads.models import Lead

SIMILAR_NAME = 0.6  # pg_trgm similarity of two person names at one company ("Ana Pop" ~ "Ana Popp")
COLLEAGUES = 500  # at most this many leads of one company are compared by name: the check stays bounded
# Fields that travel together: a value means nothing without its currency, an owner brings a team.
COMPANIONS = {
    "value": ("currency",),
    "owner_id": ("team_id",),
    "status_id": ("pipeline_id", "lost_reason_id", "lost_reason_text", "closed_at"),
}
REASONS = ("email", "phone", "name at the same company")  # read as "the same …"


# One statement, the same text every time (the server prepares it): each way of being a twin is an
# index lookup, a missing e-mail or phone (NULL) finds nothing, and the name similarity is computed
# only among the colleagues at the lead's company (the key as the database computed it).
FIND_TWINS = text(
    """
    WITH me AS (SELECT company_key FROM leads WHERE id = :me),
    hits AS (
        SELECT id, 0 AS why FROM leads
        WHERE lower(email) = :email AND id <> :me AND merged_into_id IS NULL
        UNION ALL
        SELECT id, 1 FROM leads WHERE phone = :phone AND id <> :me AND merged_into_id IS NULL
        UNION ALL
        SELECT id, 2 FROM (
            SELECT l.id, l.person_name FROM leads l, me
            WHERE l.company_key = me.company_key AND l.id <> :me AND l.merged_into_id IS NULL
            LIMIT :colleagues
        ) colleagues
        WHERE similarity(lower(person_name), :name) >= :similar
    )
    SELECT id, array_agg(DISTINCT why ORDER BY why) AS why FROM hits
    GROUP BY id ORDER BY count(*) DESC, id DESC LIMIT :limit
    """
)


async def _candidates(session: AsyncSession, lead: Lead, limit: int) -> list[tuple[Lead, list[str]]]:
    """Likely twins, each found by an index: the same e-mail (lower case), the same phone (stored
    E.164), or a near-identical person name at the same company (legal form and punctuation aside).
    A colleague at the same company is not a twin. Most reasons first, then the newest; archived
    ones last."""
    found = (
        await session.execute(
            FIND_TWINS,
            {
                "me": lead.id,
                "email": lead.email.lower() if lead.email else None,
                "phone": lead.phone,
                "name": lead.person_name.lower(),
                "similar": SIMILAR_NAME,
                "colleagues": COLLEAGUES,
                "limit": limit,
            },
        )
    ).all()
    if not found:
        return []
    reasons = {row.id: [REASONS[i] for i in row.why] for row in found}
    rank = {row.id: i for i, row in enumerate(found)}
    twins = (await session.scalars(select(Lead).where(Lead.id.in_(list(reasons))))).all()
    twins = sorted(twins, key=lambda o: (o.archived_at is not None, rank[o.id]))
    return [(o, reasons[o.id]) for o in twins]


async def duplicate_warnings(session: AsyncSession, actor: Principal | None, lead: Lead) -> list[RecordWarning]:
    """Said on create and edit: a likely twin the user may see is named by its id; one they may not
    (another's lead) only by what matched, so nobody learns another's records through it."""
    warnings = []
    for other, reasons in await _candidates(session, lead, 10):
        same = " and ".join(reasons)
        if actor is None or actor.sees("leads", other.owner_id, other.team_id):
            warnings.append(
                RecordWarning(
                    code="possible_duplicate",
                    lead_id=other.id,
                    reasons=reasons,
                    message=f"Lead #{other.id} has the same {same}.",
                )
            )
        else:
            warnings.append(
                RecordWarning(
                    code="possible_duplicate", reasons=reasons, message=f"A lead you cannot see has the same {same}."
                )
            )
    return warnings


async def duplicates_of(session: AsyncSession, principal: Principal, lead: Lead) -> list[DuplicateOut]:
    """Likely duplicates of `lead` among the leads this user may see."""
    return [
        DuplicateOut(
            id=o.id,
            person_name=o.person_name,
            company=o.company,
            email=o.email,
            phone=o.phone,
            owner_id=o.owner_id,
            status_id=o.status_id,
            archived_at=o.archived_at,
            reasons=r,
        )
        for o, r in await _candidates(session, lead, 200)
        if principal.sees("leads", o.owner_id, o.team_id)
    ][:50]


def _values(lead: Lead, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(lead, n) for n in names}


async def merge(session: AsyncSession, actor: Principal, keep_id: int, data: MergeRequest) -> LeadOut:
    """Merge `data.other_id` into `keep_id`; the merge is audited on both leads."""
    from crm_server.leads.service import announce, fields, lead_out, visible_lead

    if data.other_id == keep_id:
        raise ValidationFailed("Choose another lead to merge with.", field="other_id")
    unknown = set(data.take) - set(MERGE_FIELDS)
    if unknown:
        raise ValidationFailed(f"These fields cannot be merged: {', '.join(sorted(unknown))}.", field="take")
    # Lock both in id order, so two merges of the same pair cannot deadlock.
    first, second = sorted((keep_id, data.other_id))
    locked = {i: await visible_lead(session, actor, i, lock=True) for i in (first, second)}
    keep, other = locked[keep_id], locked[data.other_id]
    check_version(keep, data.version)
    if other.version != data.other_version:
        raise Conflict(
            "The other lead changed since you opened it; reload it.",
            code="stale_version",
            field="other_version",
            extra={"current_version": other.version},
        )
    if other.merged_into_id is not None or keep.merged_into_id is not None:
        raise Conflict("One of these leads was merged already.", code="merged")

    before = fields(keep) | _values(keep, ("status_id", "pipeline_id"))
    for name, side in data.take.items():
        if side == "other":
            for attr in (name, *COMPANIONS.get(name, ())):
                setattr(keep, attr, getattr(other, attr))
    keep.tags = list(dict.fromkeys([*keep.tags, *other.tags]))
    if keep.converted_client_id is None:
        keep.converted_client_id = other.converted_client_id
    moved_notes = rowcount(
        await session.execute(
            update(Note)
            .where(Note.lead_id == other.id)
            .values(lead_id=keep.id)
            .execution_options(synchronize_session=False)
        )
    )
    moved_follow_ups = rowcount(
        await session.execute(
            update(FollowUp)
            .where(FollowUp.lead_id == other.id)
            .values(lead_id=keep.id)
            .execution_options(synchronize_session=False)
        )
    )
    # Leads merged into `other` earlier now point at `keep`: the history stays one hop away.
    await session.execute(
        update(Lead)
        .where(Lead.merged_into_id == other.id)
        .values(merged_into_id=keep.id, version=Lead.version + 1)
        .execution_options(synchronize_session=False)
    )
    now = utcnow()
    other.merged_into_id, other.archived_at = keep.id, now
    await session.flush()

    after = fields(keep) | _values(keep, ("status_id", "pipeline_id"))
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="lead",
        entity_id=keep.id,
        action="merged",
        changes=[
            *audit.diff(before, after),
            {"field": "merged_lead_id", "old": None, "new": other.id},
            {"field": "notes_moved", "old": None, "new": moved_notes},
            {"field": "follow_ups_moved", "old": None, "new": moved_follow_ups},
        ],
    )
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="lead",
        entity_id=other.id,
        action="merged_into",
        changes=[
            {"field": "merged_into_id", "old": None, "new": keep.id},
            {"field": "archived_at", "old": None, "new": now.isoformat()},
        ],
    )
    announce(session, actor.user_id, keep, "updated", merged_lead_id=other.id)
    announce(session, actor.user_id, other, "archived", merged_into_id=keep.id)
    return lead_out(keep)


def merged_ids(lead_id: int) -> Any:
    """The lead and those merged into it: whose history its timeline shows."""
    return select(Lead.id).where(Lead.merged_into_id == lead_id).union_all(select(literal(lead_id)))


async def duplicates_of_lead(session: AsyncSession, principal: Principal, lead_id: int) -> list[DuplicateOut]:
    from crm_server.leads.service import visible_lead

    return await duplicates_of(session, principal, await visible_lead(session, principal, lead_id))
