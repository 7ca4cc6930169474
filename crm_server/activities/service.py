"""The rules of notes and follow-ups. A follow-up belongs to a lead or a client and to an owner (its
scope is the owner's, module "activities"); completing one may schedule the next in the same step,
and a reschedule keeps its reason in the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, bindparam, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.activities.models import FollowUp, Note
from crm_server.admin import audit
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.clients import service as clients
from crm_server.clients.models import Client
from crm_server.clients.ownership import owner_and_team
from crm_server.concurrency import check_version
from crm_server.contract.activities import (
    CancelFollowUp,
    CompleteFollowUp,
    CompleteResult,
    FollowUpIn,
    FollowUpOut,
    FollowUpUpdate,
    MyDay,
    NextFollowUp,
    NoteIn,
    NoteOut,
    RescheduleFollowUp,
)
from crm_server.contract.common import Page
from crm_server.db import utcnow
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.leads import service as leads
from crm_server.leads.models import Lead

MODULE = "activities"
FIELDS = ("kind", "due_at", "notes", "owner_id", "team_id", "status", "outcome")
MAX_CALENDAR_DAYS = 62


def _fields(follow_up: FollowUp) -> dict[str, Any]:
    return {n: getattr(follow_up, n) for n in FIELDS}


# --- notes ---------------------------------------------------------------------------------------


async def add_note(
    session: AsyncSession, actor: Principal, data: NoteIn, *, lead_id: int | None = None, client_id: int | None = None
) -> NoteOut:
    """A note on a lead or a client the actor may see. Announced under the record's module, so whoever
    sees the record sees its timeline grow."""
    owner_id: int | None
    if lead_id is not None:
        lead = await leads.visible_lead(session, actor, lead_id)
        module, entity, owner_id, team_id = "leads", "lead", lead.owner_id, lead.team_id
        note = Note(
            lead_id=lead.id, client_id=lead.converted_client_id, author_id=actor.user_id, body=data.body.strip()
        )
    else:
        assert client_id is not None
        client = await clients.visible_client(session, actor, client_id)
        module, entity, owner_id, team_id = "clients", "client", client.owner_id, client.team_id
        note = Note(client_id=client.id, author_id=actor.user_id, body=data.body.strip())
    if not note.body:
        raise ValidationFailed("Write something first.", field="body")
    session.add(note)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="note",
        entity_id=note.id,
        action="created",
        changes=[{"field": f"{entity}_id", "old": None, "new": lead_id or client_id}],
    )
    events.emit(
        session,
        module=module,
        entity="note",
        entity_id=note.id,
        action="created",
        actor_id=actor.user_id,
        owner_id=owner_id,
        team_id=team_id,
        data={f"{entity}_id": lead_id or client_id},
    )
    return NoteOut.model_validate(note)


# --- follow-ups: reading -------------------------------------------------------------------------


def _subject_columns() -> tuple[Any, ...]:
    return (Lead.person_name, Lead.company, Client.name, User.full_name)


def _with_subject(stmt: Select[Any]) -> Select[Any]:
    return (
        stmt.add_columns(*_subject_columns())
        .outerjoin(Lead, Lead.id == FollowUp.lead_id)
        .outerjoin(Client, Client.id == FollowUp.client_id)
        .outerjoin(User, User.id == FollowUp.owner_id)
    )


def _out(row: Any) -> FollowUpOut:
    follow_up, person, company, client_name, owner_name = row
    out = FollowUpOut.model_validate(follow_up)
    out.owner_name = owner_name
    if client_name is not None and follow_up.lead_id is None:
        out.subject = client_name
    elif person is not None:
        out.subject = f"{person} ({company})" if company else person
    return out


# Built once: the answer of every follow-up save.
_BY_ID = _with_subject(select(FollowUp)).where(FollowUp.id == bindparam("id"))


def _loaded(session: AsyncSession, model: type[Any], key: int | None, *names: str) -> tuple[Any, ...] | None:
    """`names` of the row `key` when this transaction has it loaded already (None: read it)."""
    if key is None:
        return tuple(None for _ in names)
    row = session.sync_session.identity_map.get(inspect(model).identity_key_from_primary_key([key]))
    if row is None or any(name in inspect(row).unloaded for name in names):
        return None
    return tuple(getattr(row, name) for name in names)


async def _subject_of(session: AsyncSession, follow_up: FollowUp) -> FollowUpOut:
    """The answer; from the rows this save loaded already (the parent, the owner) when it can."""
    if not inspect(follow_up).unloaded:
        lead = _loaded(session, Lead, follow_up.lead_id, "person_name", "company")
        client = _loaded(session, Client, follow_up.client_id, "name")
        owner = _loaded(session, User, follow_up.owner_id, "full_name")
        if lead is not None and client is not None and owner is not None:
            return _out((follow_up, *lead, *client, *owner))
    return _out((await session.execute(_BY_ID, {"id": follow_up.id})).one())


async def visible_follow_up(
    session: AsyncSession, principal: Principal, follow_up_id: int, *, lock: bool = False
) -> FollowUp:
    follow_up = await session.get(FollowUp, follow_up_id, with_for_update=lock, populate_existing=lock)
    if follow_up is None or not principal.sees(MODULE, follow_up.owner_id, follow_up.team_id):
        raise NotFound("No such follow-up.")
    return follow_up


async def get_follow_up(session: AsyncSession, principal: Principal, follow_up_id: int) -> FollowUpOut:
    return await _subject_of(session, await visible_follow_up(session, principal, follow_up_id))


async def list_follow_ups(
    session: AsyncSession,
    principal: Principal,
    *,
    lead_id: int | None,
    client_id: int | None,
    owner_id: int | None,
    status: str | None,
    offset: int,
    limit: int,
) -> Page[FollowUpOut]:
    stmt = _with_subject(select(FollowUp)).where(principal.scope_filter(MODULE, FollowUp.owner_id, FollowUp.team_id))
    if lead_id is not None:
        stmt = stmt.where(FollowUp.lead_id == lead_id)
    if client_id is not None:
        stmt = stmt.where(FollowUp.client_id == client_id)
    if owner_id is not None:
        stmt = stmt.where(FollowUp.owner_id == owner_id)
    if status is not None:
        stmt = stmt.where(FollowUp.status == status)
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = (await session.execute(stmt.order_by(FollowUp.due_at, FollowUp.id).offset(offset).limit(limit))).all()
    return Page[FollowUpOut](items=[_out(r) for r in rows], total=total or 0, offset=offset, limit=limit)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("Unknown time zone; use a name like Europe/Bucharest.", field="tz") from None


async def my_day(session: AsyncSession, principal: Principal, tz: str, owner_id: int | None = None) -> MyDay:
    """The caller's open follow-ups (or a colleague's, as far as the caller's scope reaches): overdue
    (due before now) and the rest of today, in the caller's zone."""
    local = zone(tz)
    now = utcnow()
    today = now.astimezone(local).date()
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), local)
    stmt = _with_subject(select(FollowUp)).where(FollowUp.status == "open")
    if owner_id is None or owner_id == principal.user_id:
        stmt = stmt.where(FollowUp.owner_id == principal.user_id)
    else:  # someone else's day: only what the caller may see of it
        stmt = stmt.where(
            FollowUp.owner_id == owner_id, principal.scope_filter(MODULE, FollowUp.owner_id, FollowUp.team_id)
        )
    overdue = (await session.execute(stmt.where(FollowUp.due_at < now).order_by(FollowUp.due_at).limit(500))).all()
    later = (
        await session.execute(
            stmt.where(FollowUp.due_at >= now, FollowUp.due_at < end).order_by(FollowUp.due_at).limit(500)
        )
    ).all()
    return MyDay(
        date=today.isoformat(), time_zone=tz, overdue=[_out(r) for r in overdue], today=[_out(r) for r in later]
    )


async def calendar(
    session: AsyncSession, principal: Principal, start: datetime, end: datetime, owner_id: int | None
) -> list[FollowUpOut]:
    """Follow-ups due in [start, end) (a week view asks for seven days), cancelled ones left out."""
    if end <= start:
        raise ValidationFailed("The end must be after the start.", field="end")
    if end - start > timedelta(days=MAX_CALENDAR_DAYS):
        raise ValidationFailed(f"Ask for at most {MAX_CALENDAR_DAYS} days at a time.", field="end")
    stmt = (
        _with_subject(select(FollowUp))
        .where(
            principal.scope_filter(MODULE, FollowUp.owner_id, FollowUp.team_id),
            FollowUp.due_at >= start,
            FollowUp.due_at < end,
            FollowUp.status != "cancelled",
        )
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(5000)
    )
    if owner_id is not None:
        stmt = stmt.where(FollowUp.owner_id == owner_id)
    return [_out(r) for r in (await session.execute(stmt)).all()]


# --- follow-ups: writing -------------------------------------------------------------------------


def _announce(session: AsyncSession, actor_id: int | None, follow_up: FollowUp, action: str) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="follow_up",
        entity_id=follow_up.id,
        action=action,
        actor_id=actor_id,
        owner_id=follow_up.owner_id,
        team_id=follow_up.team_id,
        data={
            "lead_id": follow_up.lead_id,
            "client_id": follow_up.client_id,
            "status": follow_up.status,
            "due_at": follow_up.due_at.isoformat(),
            "version": follow_up.version,
        },
    )


async def _parent(session: AsyncSession, actor: Principal, lead_id: int | None, client_id: int | None) -> Lead | Client:
    """The lead or client the actor may see; a converted lead's follow-ups are the client's too."""
    if lead_id is not None:
        lead = await leads.visible_lead(session, actor, lead_id)
        if lead.archived_at is not None:
            raise ValidationFailed("The lead is archived; restore it first.", field="lead_id")
        return lead
    assert client_id is not None
    client = await clients.visible_client(session, actor, client_id)
    if client.archived_at is not None:
        raise ValidationFailed("The client is archived; restore it first.", field="client_id")
    return client


async def _new(
    session: AsyncSession,
    actor: Principal,
    lead_id: int | None,
    client_id: int | None,
    data: NextFollowUp | FollowUpIn,
    owner_id: int | None,
) -> FollowUp:
    owner, team = await owner_and_team(session, actor, MODULE, owner_id, None)
    follow_up = FollowUp(
        lead_id=lead_id,
        client_id=client_id,
        kind=data.kind.value,
        due_at=data.due_at,
        notes=data.notes.strip(),
        owner_id=owner,
        team_id=team,
        created_by=actor.user_id,
        # Set, not left out: the answer then reads them from memory (see _subject_of).
        outcome=None,
        completed_at=None,
        completed_by=None,
    )
    session.add(follow_up)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="follow_up",
        entity_id=follow_up.id,
        action="created",
        changes=audit.diff({}, {"lead_id": lead_id, "client_id": client_id, **_fields(follow_up)}),
    )
    _announce(session, actor.user_id, follow_up, "created")
    return follow_up


async def create_follow_up(session: AsyncSession, actor: Principal, data: FollowUpIn) -> FollowUpOut:
    # The parent is held until the answer is made: it names the follow-up (from memory, not a query).
    parent = await _parent(session, actor, data.lead_id, data.client_id)
    if isinstance(parent, Lead):
        lead_id, client_id, record_owner = parent.id, parent.converted_client_id, parent.owner_id
    else:
        lead_id, client_id, record_owner = None, parent.id, parent.owner_id
    owner_id = data.owner_id
    if owner_id is None:
        owner = await session.get(User, record_owner) if record_owner is not None else None
        owner_id = owner.id if owner is not None and owner.active else actor.user_id
    return await _subject_of(session, await _new(session, actor, lead_id, client_id, data, owner_id))


async def _open_for_edit(session: AsyncSession, actor: Principal, follow_up_id: int, version: int) -> FollowUp:
    follow_up = await visible_follow_up(session, actor, follow_up_id, lock=True)
    check_version(follow_up, version)
    if follow_up.status != "open":
        raise Conflict(f"This follow-up is {follow_up.status} already.", code="not_open")
    return follow_up


async def update_follow_up(
    session: AsyncSession, actor: Principal, follow_up_id: int, data: FollowUpUpdate
) -> FollowUpOut:
    follow_up = await _open_for_edit(session, actor, follow_up_id, data.version)
    before = _fields(follow_up)
    if data.kind is not None:
        follow_up.kind = data.kind.value
    if data.notes is not None:
        follow_up.notes = data.notes.strip()
    if data.owner_id is not None and data.owner_id != follow_up.owner_id:
        follow_up.owner_id, follow_up.team_id = await owner_and_team(session, actor, MODULE, data.owner_id, None)
    await session.flush()
    changes = audit.diff(before, _fields(follow_up))
    if changes:
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="follow_up",
            entity_id=follow_up.id,
            action="updated",
            changes=changes,
        )
        _announce(session, actor.user_id, follow_up, "updated")
    return await _subject_of(session, follow_up)


async def complete(
    session: AsyncSession, actor: Principal, follow_up_id: int, data: CompleteFollowUp
) -> CompleteResult:
    """Done, with what came of it; `next` schedules the following one in the same transaction."""
    follow_up = await _open_for_edit(session, actor, follow_up_id, data.version)
    before = _fields(follow_up)
    follow_up.status = "done"
    follow_up.outcome = data.outcome.strip() or None
    follow_up.completed_at = utcnow()
    follow_up.completed_by = actor.user_id
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="follow_up",
        entity_id=follow_up.id,
        action="completed",
        changes=audit.diff(before, _fields(follow_up)),
    )
    _announce(session, actor.user_id, follow_up, "updated")
    following = None
    if data.next is not None:
        following = await _new(
            session, actor, follow_up.lead_id, follow_up.client_id, data.next, follow_up.owner_id or actor.user_id
        )
    return CompleteResult(
        done=await _subject_of(session, follow_up), next=await _subject_of(session, following) if following else None
    )


async def reschedule(
    session: AsyncSession, actor: Principal, follow_up_id: int, data: RescheduleFollowUp
) -> FollowUpOut:
    """A new time, with the reason kept in the audit log; its reminders start over."""
    follow_up = await _open_for_edit(session, actor, follow_up_id, data.version)
    old = follow_up.due_at
    follow_up.due_at = data.due_at
    follow_up.reminders_sent = 0
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="follow_up",
        entity_id=follow_up.id,
        action="rescheduled",
        changes=[
            *audit.diff({"due_at": old}, {"due_at": follow_up.due_at}),
            {"field": "reason", "old": None, "new": data.reason.strip()},
        ],
    )
    _announce(session, actor.user_id, follow_up, "updated")
    return await _subject_of(session, follow_up)


async def cancel(session: AsyncSession, actor: Principal, follow_up_id: int, data: CancelFollowUp) -> FollowUpOut:
    follow_up = await _open_for_edit(session, actor, follow_up_id, data.version)
    follow_up.status = "cancelled"
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="follow_up",
        entity_id=follow_up.id,
        action="cancelled",
        changes=[
            {"field": "status", "old": "open", "new": "cancelled"},
            *([{"field": "reason", "old": None, "new": data.reason.strip()}] if data.reason.strip() else []),
        ],
    )
    _announce(session, actor.user_id, follow_up, "updated")
    return await _subject_of(session, follow_up)
