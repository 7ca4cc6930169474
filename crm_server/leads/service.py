"""The rules of leads: create (with assignment and duplicate warnings), edit, move through the
pipeline (lost needs a reason, won may convert), archive and restore, hand over a leaver's work.
Every change is audited and announced in the caller's transaction; nothing here commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.activities import preferences
from crm_server.activities.models import FollowUp, Note
from crm_server.admin import audit, settings
from crm_server.admin.models import AuditEntry
from crm_server.auth import users
from crm_server.auth.models import Team
from crm_server.auth.permissions import Principal
from crm_server.clients import double_submit, normalise
from crm_server.clients.models import Client
from crm_server.clients.ownership import check_reach, owner_and_team
from crm_server.concurrency import check_unchanged, check_version
from crm_server.contract.clients import RecordWarning
from crm_server.contract.common import Page
from crm_server.contract.leads import LeadIn, LeadOut, LeadQuery, LeadUpdate, MoveRequest, MoveResult, StatusKind
from crm_server.db import utcnow
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.leads import assignment, pipelines, queries
from crm_server.leads.duplicates import duplicate_warnings
from crm_server.leads.models import Lead, PipelineStatus

MODULE = "leads"
FIELDS = (
    "person_name",
    "company",
    "email",
    "phone",
    "source",
    "partner_name",
    "partner_client_id",
    "owner_id",
    "team_id",
    "value",
    "currency",
    "expected_close_date",
    "territory",
    "product_interest",
    "tags",
)
SORTS: dict[str, Any] = {
    "created_at": Lead.created_at,
    "updated_at": Lead.updated_at,
    "person_name": Lead.person_name,
    "company": Lead.company,
    "value": Lead.value,
    "expected_close_date": Lead.expected_close_date,
    "status_changed_at": Lead.status_changed_at,
    "id": Lead.id,
}
NULLABLE = {"company", "value", "expected_close_date"}
COUNT_CAP = 1_000  # past this many the list says "more than 1,100" (counting a million took 0.6 s)


def order_by(sort: str) -> tuple[Any, ...]:
    """ORDER BY for a whitelisted sort ("-" for descending); empty values last. Not-null columns get
    plain orders, so their indexes serve the list page without sorting the table."""
    name = sort.lstrip("-")
    column, descending = SORTS[name], sort.startswith("-")
    key = column.desc() if descending else column.asc()
    if name in NULLABLE:
        key = key.nulls_last()
    return key, (Lead.id.desc() if descending else Lead.id.asc())


def fields(lead: Lead) -> dict[str, Any]:
    return {n: getattr(lead, n) for n in FIELDS}


def announce(session: AsyncSession, actor_id: int | None, lead: Lead, action: str, **data: Any) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="lead",
        entity_id=lead.id,
        action=action,
        actor_id=actor_id,
        owner_id=lead.owner_id,
        team_id=lead.team_id,
        data={"status_id": lead.status_id, "pipeline_id": lead.pipeline_id, "version": lead.version, **data},
    )


def lead_out(lead: Lead, warnings: list[RecordWarning] | None = None) -> LeadOut:
    out = LeadOut.model_validate(lead)
    out.warnings = warnings or []
    return out


async def default_country(session: AsyncSession) -> str:
    return str(await settings.get(session, "company.default_country"))


# --- reading -------------------------------------------------------------------------------------


async def visible_lead(session: AsyncSession, principal: Principal, lead_id: int, *, lock: bool = False) -> Lead:
    """The lead, if this user may see it; otherwise 404 (whether it exists is not told)."""
    lead = await session.get(Lead, lead_id, with_for_update=lock, populate_existing=lock)
    if lead is None or not principal.sees(MODULE, lead.owner_id, lead.team_id):
        raise NotFound("No such lead.")
    return lead


async def list_leads(session: AsyncSession, principal: Principal, query: LeadQuery) -> Page[LeadOut]:
    where = queries.conditions(principal, query, await default_country(session))
    return await paging.page(
        session,
        select(Lead).where(*where),
        query.offset,
        query.limit,
        lead_out,
        order_by(query.sort),
        count_cap=COUNT_CAP,
        after=query.after,
    )


# --- writing -------------------------------------------------------------------------------------


async def clean(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """Normalise what was typed (email, E.164 phone, currency, tags); errors name the field."""
    out = dict(values)
    for key in ("company", "source", "partner_name", "territory", "product_interest"):
        if key in out:
            out[key] = normalise.clean_text(out[key])
    if "person_name" in out:
        out["person_name"] = " ".join((out["person_name"] or "").split())
        if not out["person_name"]:
            raise ValidationFailed("A lead needs the person's name.", field="person_name")
    if "email" in out:
        out["email"] = normalise.email(out["email"])
    if "phone" in out:
        out["phone"] = normalise.phone(out["phone"], await default_country(session))
    if "currency" in out:
        out["currency"] = normalise.currency(out["currency"])
    if "tags" in out:
        out["tags"] = normalise.tags(out["tags"])
    if "source_details" in out:  # ids an integration noted; empty ones say nothing
        out["source_details"] = {
            k.strip(): v.strip() for k, v in (out["source_details"] or {}).items() if k.strip() and v.strip()
        }
    if out.get("partner_client_id") is not None and await session.get(Client, out["partner_client_id"]) is None:
        raise ValidationFailed("No such partner client.", field="partner_client_id")
    return out


async def _default_currency(session: AsyncSession) -> str:
    return normalise.currency(str(await settings.get(session, "leads.default_currency"))) or "EUR"


async def _notify_owner(session: AsyncSession, actor_id: int | None, lead: Lead, why: str) -> None:
    if lead.owner_id is not None and lead.owner_id != actor_id:
        title = f"New lead: {lead.person_name}" + (f" ({lead.company})" if lead.company else "")
        await preferences.notify(session, lead.owner_id, "lead_assigned", title, why, "lead", lead.id)


async def create_lead(session: AsyncSession, actor: Principal | None, data: LeadIn, *, guard: bool = True) -> LeadOut:
    """A new lead. No owner named: a salesperson (scope own) keeps it, otherwise the assignment rules
    choose, and if none matches the creator keeps it (a system source, `actor` None, leaves it
    unassigned for a manager to hand out). The answer warns of likely duplicates, never refuses."""
    actor_id = actor.user_id if actor else None
    fp = None
    if actor is not None and guard:
        fp, earlier = await double_submit.claim(session, actor.user_id, "lead", data.model_dump(mode="json"))
        if earlier is not None and (first := await session.get(Lead, earlier)) is not None:
            return lead_out(
                first,
                [
                    RecordWarning(
                        code="repeated_submit", lead_id=first.id, message="This was just saved; here is the first one."
                    )
                ],
            )
    values = await clean(session, data.model_dump(exclude={"note", "pipeline_id", "status_id"}))
    pipeline = await pipelines.get_pipeline(session, data.pipeline_id)
    if data.status_id is None:
        status = await pipelines.first_open_status(session, pipeline.id)
    else:
        status = await pipelines.get_status(session, data.status_id)
        if status.pipeline_id != pipeline.id or status.kind != StatusKind.open.value:
            raise ValidationFailed("A new lead starts in an open status of its pipeline.", field="status_id")
    if values["value"] is not None and values["currency"] is None:
        values["currency"] = await _default_currency(session)
    owner_id, team_id = values["owner_id"], values["team_id"]
    how = "given"
    if owner_id is None and actor is not None and actor.scope(MODULE).value == "own":
        owner_id, how = actor.user_id, "own"
    if owner_id is not None:
        owner_id, team_id = await owner_and_team(session, actor, MODULE, owner_id, team_id)
    else:
        owner_id, rule_team = await assignment.choose_owner(
            session, values["source"], values["territory"], values["product_interest"]
        )
        how = "rules"
        if owner_id is None and actor is not None:  # no rule for it: whoever typed it in keeps it
            owner_id, how = actor.user_id, "creator"
            rule_team = actor.team_id
        if team_id is None:
            team_id = rule_team
        elif await session.get(Team, team_id) is None:
            raise ValidationFailed("No such team.", field="team_id")
        if values["team_id"] is not None:  # a team the person chose, whoever the rules give it to
            check_reach(actor, MODULE, None, team_id)
    lead = Lead(
        **{**values, "owner_id": owner_id, "team_id": team_id},
        pipeline_id=pipeline.id,
        status_id=status.id,
        created_by=actor_id,
    )
    session.add(lead)
    await session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        entity="lead",
        entity_id=lead.id,
        action="created",
        changes=audit.diff({}, {**fields(lead), "status": status.name, "assigned_by": how}),
    )
    announce(session, actor_id, lead, "created")
    if data.note and data.note.strip():
        session.add(Note(lead_id=lead.id, author_id=actor_id, body=data.note.strip()))
    await _notify_owner(session, actor_id, lead, f"Source: {lead.source or 'not given'}")
    warnings = await duplicate_warnings(session, actor, lead)
    if fp is not None and actor is not None:
        await double_submit.remember(session, actor.user_id, fp, lead.id)
    return lead_out(lead, warnings)


async def apply_owner(
    session: AsyncSession,
    actor: Principal | None,
    lead: Lead,
    owner_id: int | None,
    team_id: int | None,
    team_given: bool,
) -> None:
    """A new owner brings their team unless a team is given."""
    if owner_id is None:
        if team_given and team_id is not None and await session.get(Team, team_id) is None:
            raise ValidationFailed("No such team.", field="team_id")
        new_team = team_id if team_given else lead.team_id
        check_reach(actor, MODULE, None, new_team)
        lead.owner_id, lead.team_id = None, new_team
        return
    lead.owner_id, lead.team_id = await owner_and_team(
        session, actor, MODULE, owner_id, team_id if team_given else None
    )


async def update_lead(session: AsyncSession, actor: Principal, lead_id: int, data: LeadUpdate) -> LeadOut:
    lead = await visible_lead(session, actor, lead_id, lock=True)
    check_version(lead, data.version)
    check_unchanged(lead, data)
    changes = await clean(session, data.model_dump(exclude_unset=True, exclude={"version", "expected"}))
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    before = fields(lead)
    owner_changed = "owner_id" in changes and changes["owner_id"] != lead.owner_id
    if owner_changed or "team_id" in changes:
        await apply_owner(
            session, actor, lead, changes.pop("owner_id", lead.owner_id), changes.get("team_id"), "team_id" in changes
        )
        changes.pop("team_id", None)
    for key, value in changes.items():
        setattr(lead, key, value)
    if lead.value is not None and lead.currency is None:
        lead.currency = await _default_currency(session)
    await session.flush()
    diff = audit.diff(before, fields(lead))
    warnings: list[RecordWarning] = []
    if diff:
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="lead",
            entity_id=lead.id,
            action="reassigned" if owner_changed and len(diff) <= 2 else "updated",
            changes=diff,
        )
        announce(session, actor.user_id, lead, "updated")
        if owner_changed:
            await _notify_owner(session, actor.user_id, lead, "Reassigned to you.")
        if {"email", "phone", "company", "person_name"} & {c["field"] for c in diff}:
            warnings = await duplicate_warnings(session, actor, lead)
    return lead_out(lead, warnings)


async def apply_status(
    session: AsyncSession, lead: Lead, status: PipelineStatus, reason_id: int | None, reason_text: str | None
) -> list[dict[str, Any]]:
    """Put the lead in `status` (lost needs a reason); returns the audit changes."""
    old_status = await session.get(PipelineStatus, lead.status_id)
    before = {
        "status": old_status.name if old_status else None,
        "status_id": lead.status_id,
        "pipeline_id": lead.pipeline_id,
        "lost_reason_id": lead.lost_reason_id,
        "lost_reason_text": lead.lost_reason_text,
    }
    if status.kind == StatusKind.lost.value:
        reason, text = await pipelines.lost_reason(session, reason_id, reason_text)
        lead.lost_reason_id, lead.lost_reason_text = reason.id, text
    else:
        lead.lost_reason_id = lead.lost_reason_text = None
    now = utcnow()
    if status.id != lead.status_id:
        lead.status_changed_at = now
    lead.status_id, lead.pipeline_id = status.id, status.pipeline_id
    if status.kind == StatusKind.open.value:
        lead.closed_at = None
    elif lead.closed_at is None or (old_status is not None and old_status.kind != status.kind):
        lead.closed_at = now
    return audit.diff(
        before,
        {
            "status": status.name,
            "status_id": status.id,
            "pipeline_id": lead.pipeline_id,
            "lost_reason_id": lead.lost_reason_id,
            "lost_reason_text": lead.lost_reason_text,
        },
    )


async def move_lead(session: AsyncSession, actor: Principal, lead_id: int, data: MoveRequest) -> MoveResult:
    """A move on the board (or a status change in the form). Moving to a won status with `convert`
    makes the lead a client in the same transaction."""
    from crm_server.leads import conversion  # conversion builds on this module

    lead = await visible_lead(session, actor, lead_id, lock=True)
    check_version(lead, data.version)
    if lead.archived_at is not None:
        raise Conflict("Restore the lead before moving it.", code="archived")
    status = await pipelines.get_status(session, data.status_id)
    if data.convert and status.kind != StatusKind.won.value:
        raise ValidationFailed("Only a move to a won status converts the lead.", field="convert")
    changes = await apply_status(session, lead, status, data.lost_reason_id, data.lost_reason_text)
    await session.flush()
    if changes:
        audit.record(
            session, actor_id=actor.user_id, entity="lead", entity_id=lead.id, action="status_changed", changes=changes
        )
    client = None
    if data.convert:
        client = await conversion.convert(session, actor, lead, data.client)
    announce(session, actor.user_id, lead, "updated")
    if status.kind == StatusKind.won.value and changes:
        await _tell_team_lead(session, actor.user_id, lead)
    return MoveResult(lead=lead_out(lead), client=client)


async def _tell_team_lead(session: AsyncSession, actor_id: int, lead: Lead) -> None:
    if lead.team_id is None:
        return
    team = await session.get(Team, lead.team_id)
    if team is not None and team.lead_user_id is not None and team.lead_user_id != actor_id:
        await preferences.notify(
            session,
            team.lead_user_id,
            "lead_won",
            f"Won: {lead.company or lead.person_name}",
            f"{lead.value or ''} {lead.currency or ''}".strip(),
            "lead",
            lead.id,
        )


async def set_archived(session: AsyncSession, actor: Principal, lead_id: int, version: int, archived: bool) -> LeadOut:
    """Archive or reactivate: leads are never deleted. A merged lead stays with the one it joined."""
    lead = await visible_lead(session, actor, lead_id, lock=True)
    check_version(lead, version)
    if (lead.archived_at is not None) == archived:
        raise Conflict(
            "The lead is archived already." if archived else "The lead is not archived.",
            code="already_archived" if archived else "not_archived",
        )
    if not archived and lead.merged_into_id is not None:
        raise Conflict(
            "This lead was merged into another; open that one instead.",
            code="merged",
            extra={"lead_id": lead.merged_into_id},
        )
    old = lead.archived_at
    lead.archived_at = utcnow() if archived else None
    await session.flush()
    action = "archived" if archived else "restored"
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="lead",
        entity_id=lead.id,
        action=action,
        changes=audit.diff({"archived_at": old}, {"archived_at": lead.archived_at}),
    )
    announce(session, actor.user_id, lead, action)
    return lead_out(lead)


# --- a leaver's work -----------------------------------------------------------------------------


async def hand_over(session: AsyncSession, from_user: int, to_user: int, actor_id: int) -> int:
    """Reassigner for user deactivation: the leaver's open leads, active clients and open follow-ups
    go to the heir (and the heir's team). Returns how many records moved."""
    heir = await users.get_user(session, to_user)
    open_statuses = select(PipelineStatus.id).where(PipelineStatus.kind == StatusKind.open.value).scalar_subquery()
    targets: list[tuple[str, str, Any, Any]] = [
        (
            "leads",
            "lead",
            Lead,
            update(Lead).where(
                Lead.owner_id == from_user, Lead.archived_at.is_(None), Lead.status_id.in_(open_statuses)
            ),
        ),
        ("clients", "client", Client, update(Client).where(Client.owner_id == from_user, Client.archived_at.is_(None))),
        (
            "activities",
            "follow_up",
            FollowUp,
            update(FollowUp).where(FollowUp.owner_id == from_user, FollowUp.status == "open"),
        ),
    ]
    total = 0
    for module, entity, model, stmt in targets:
        rows = (
            await session.execute(
                stmt.values(owner_id=heir.id, team_id=heir.team_id, version=model.version + 1)
                .returning(model.id, model.team_id, model.version)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if not rows:
            continue
        change = [{"field": "owner_id", "old": from_user, "new": heir.id}]
        await session.execute(
            insert(AuditEntry),
            [
                {
                    "actor_id": actor_id,
                    "entity": entity,
                    "entity_id": r.id,
                    "action": "reassigned",
                    "changes": [*change, {"field": "reason", "old": None, "new": "owner deactivated"}],
                }
                for r in rows
            ],
        )
        for r in rows:
            events.emit(
                session,
                module=module,
                entity=entity,
                entity_id=r.id,
                action="updated",
                actor_id=actor_id,
                owner_id=heir.id,
                team_id=r.team_id,
                data={"version": r.version},
            )
        total += len(rows)
    if total:
        await preferences.notify(
            session,
            heir.id,
            "records_reassigned",
            f"{total} records handed to you",
            "Open leads, clients and follow-ups of a deactivated colleague.",
        )
    return total


users.register_reassigner("leads", hand_over)
