"""The rules of tickets: create (routed to the category's team, with its first-response deadline),
edit, move through the status graph, assign, archive; and the two doors the inbound email pipe uses.
Every change is audited, announced and (for the customer) emailed in the caller's transaction;
nothing here commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit, settings
from crm_server.admin.models import AuditEntry
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.clients import normalise
from crm_server.clients.models import Client, Contact
from crm_server.clients.ownership import check_reach
from crm_server.concurrency import check_unchanged, check_version
from crm_server.contract.auth import Scope
from crm_server.contract.common import Page
from crm_server.contract.tickets import (
    TRANSITIONS,
    AssignIn,
    MoveIn,
    Priority,
    TicketIn,
    TicketOut,
    TicketQuery,
    TicketStatus,
    TicketUpdate,
)
from crm_server.db import utcnow
from crm_server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_server.tickets import notify, queries, routing, sla
from crm_server.tickets.models import Ticket

MODULE = queries.MODULE
FIELDS = (
    "subject",
    "description",
    "client_id",
    "contact_id",
    "requester_email",
    "priority",
    "category_id",
    "team_id",
    "assignee_id",
    "status",
    "tags",
    "first_response_due_at",
    "resolution",
)
REOPEN_FROM = frozenset({TicketStatus.resolved, TicketStatus.closed})
# Rows counted past the page before the total becomes "more than" (1,100 for a first page): counting
# the archive's ~1M tickets took longer than the page itself, and up to the cap the matches are
# collected and sorted among themselves (paging._few_first).
COUNT_CAP = 1_000


def fields(ticket: Ticket) -> dict[str, Any]:
    return {n: getattr(ticket, n) for n in FIELDS}


def ticket_out(ticket: Ticket) -> TicketOut:
    return TicketOut.model_validate(ticket)


def announce(session: AsyncSession, actor_id: int | None, ticket: Ticket, action: str, **data: Any) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="ticket",
        entity_id=ticket.id,
        action=action,
        actor_id=actor_id,
        owner_id=ticket.assignee_id,
        team_id=ticket.team_id,
        data={"number": ticket.number, "status": ticket.status, "version": ticket.version, **data},
    )


# --- reading -------------------------------------------------------------------------------------


async def visible_ticket(session: AsyncSession, principal: Principal, ticket_id: int, *, lock: bool = False) -> Ticket:
    """The ticket, if this user may see it; otherwise 404 (whether it exists is not told)."""
    ticket = await session.get(Ticket, ticket_id, with_for_update=lock, populate_existing=lock)
    if ticket is None or not queries.sees(principal, ticket):
        raise NotFound("No such ticket.")
    return ticket


async def list_tickets(session: AsyncSession, principal: Principal, query: TicketQuery) -> Page[TicketOut]:
    where = queries.conditions(principal, query, utcnow())

    def named(row: Any) -> TicketOut:
        ticket, client_name, assignee_name = row
        return ticket_out(ticket).model_copy(update={"client_name": client_name, "assignee_name": assignee_name})

    stmt = select(Ticket, queries.CLIENT_NAME, queries.ASSIGNEE_NAME).where(*where)
    return await paging.page(
        session,
        stmt,
        query.offset,
        query.limit,
        named,
        queries.order_by(query.sort),
        whole_rows=True,
        count_cap=COUNT_CAP,
        keys_first=True,
        after=query.after,
    )


async def named_out(session: AsyncSession, ticket: Ticket) -> TicketOut:
    """One ticket as the queue shows it, with its client's and assignee's names."""
    names = (
        await session.execute(select(queries.CLIENT_NAME, queries.ASSIGNEE_NAME).where(Ticket.id == ticket.id))
    ).one()
    return ticket_out(ticket).model_copy(update={"client_name": names[0], "assignee_name": names[1]})


# --- writing -------------------------------------------------------------------------------------


async def first_response_due(session: AsyncSession, created_at: datetime, priority: str) -> datetime:
    values = await settings.get_all(session)
    return sla.due_at(created_at, sla.hours_for(values, priority), sla.schedule_from_settings(values))


async def _client_and_contact(
    session: AsyncSession, client_id: int | None, contact_id: int | None
) -> tuple[int | None, int | None]:
    """A contact brings its client; a contact of another client is refused."""
    client, contact = await _parties(session, client_id, contact_id)
    return (client.id if client else None), (contact.id if contact else None)


async def _parties(
    session: AsyncSession, client_id: int | None, contact_id: int | None
) -> tuple[Client | None, Contact | None]:
    contact = None
    if contact_id is not None:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise ValidationFailed("No such contact.", field="contact_id")
        if client_id is not None and contact.client_id != client_id:
            raise ValidationFailed("This contact works for another client.", field="contact_id")
        client_id = contact.client_id
    client = None
    if client_id is not None and (client := await session.get(Client, client_id)) is None:
        raise ValidationFailed("No such client.", field="client_id")
    return client, contact


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "subject" in out:
        out["subject"] = " ".join((out["subject"] or "").split())
        if not out["subject"]:
            raise ValidationFailed("A ticket needs a subject.", field="subject")
    if "description" in out:
        out["description"] = (out["description"] or "").strip()
    if "requester_email" in out:
        out["requester_email"] = normalise.email(out["requester_email"], field="requester_email")
    if "tags" in out:
        out["tags"] = normalise.tags(out["tags"])
    if isinstance(out.get("priority"), Priority):
        out["priority"] = out["priority"].value
    return out


async def _new_ticket(
    session: AsyncSession, actor: Principal | None, values: dict[str, Any], team_id: int | None
) -> Ticket:
    """Route, stamp the deadline, save, audit, announce and acknowledge to the customer."""
    category = await routing.category_for_new_ticket(session, values.pop("category_id", None))
    if team_id is None:
        team_id = category.team_id if category and category.team_id else (actor.team_id if actor else None)
    now = utcnow()
    ticket = Ticket(
        **values,
        category_id=category.id if category else None,
        team_id=team_id,
        created_by=actor.user_id if actor else None,
        created_at=now,
        status_changed_at=now,
        first_response_due_at=await first_response_due(session, now, values.get("priority", "normal")),
    )
    session.add(ticket)
    await session.flush()
    actor_id = actor.user_id if actor else None
    audit.record(
        session,
        actor_id=actor_id,
        entity="ticket",
        entity_id=ticket.id,
        action="created",
        changes=audit.diff({}, {"number": ticket.number, **fields(ticket)}),
    )
    announce(session, actor_id, ticket, "created")
    await notify.created(session, ticket)
    return ticket


async def create_ticket(session: AsyncSession, actor: Principal, data: TicketIn) -> Ticket:
    values = _clean(data.model_dump(exclude={"team_id"}))
    # Held until the ticket is made: the session keeps only rows someone holds, and the customer's
    # acknowledgement reads the contact or client again (then from memory, not another query).
    client, contact = await _parties(session, data.client_id, data.contact_id)
    values["client_id"], values["contact_id"] = (client.id if client else None), (contact.id if contact else None)
    ticket = await _new_ticket(session, actor, values, await routing.check_team(session, data.team_id))
    del client, contact
    return ticket


async def _locked(session: AsyncSession, actor: Principal, ticket_id: int, version: int) -> Ticket:
    ticket = await visible_ticket(session, actor, ticket_id, lock=True)
    check_version(ticket, version)
    return ticket


def not_archived(ticket: Ticket) -> None:
    if ticket.archived_at is not None:
        raise Conflict("This ticket is archived; reopen it first.", code="archived")


async def update_ticket(session: AsyncSession, actor: Principal, ticket_id: int, data: TicketUpdate) -> Ticket:
    ticket = await _locked(session, actor, ticket_id, data.version)
    not_archived(ticket)
    check_unchanged(ticket, data)
    changes = _clean(data.model_dump(exclude_unset=True, exclude={"version", "expected"}))
    for key in ("subject", "priority"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key.capitalize()} cannot be empty.", field=key)
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if {"client_id", "contact_id"} & changes.keys():
        changes["client_id"], changes["contact_id"] = await _client_and_contact(
            session,
            changes.get("client_id", ticket.client_id if "contact_id" not in changes else None),
            changes.get("contact_id", ticket.contact_id if "client_id" not in changes else None),
        )
    if changes.get("category_id") not in (None, ticket.category_id):
        category = await routing.category_for_new_ticket(session, changes["category_id"])
        if "team_id" not in changes and category is not None and category.team_id is not None:
            changes["team_id"] = category.team_id  # re-classified: re-routed to that category's team
    if "team_id" in changes:
        await routing.check_team(session, changes["team_id"])
        if changes["team_id"] != ticket.team_id:  # out of the team: only for who sees where it goes
            check_reach(
                actor,
                MODULE,
                ticket.assignee_id,
                changes["team_id"],
                "team_id" if "team_id" in data.model_fields_set else "category_id",
            )
    before = fields(ticket)
    for key, value in changes.items():
        setattr(ticket, key, value)
    if "priority" in changes and ticket.first_responded_at is None:
        ticket.first_response_due_at = await first_response_due(session, ticket.created_at, ticket.priority)
        if ticket.first_response_due_at > utcnow():
            ticket.breach_notified_at = None
    await session.flush()
    diff = audit.diff(before, fields(ticket))
    if diff:
        audit.record(
            session, actor_id=actor.user_id, entity="ticket", entity_id=ticket.id, action="updated", changes=diff
        )
        announce(session, actor.user_id, ticket, "updated")
    return ticket


def check_move(current: str, target: TicketStatus) -> None:
    """Refuse a move the status graph does not have, naming both statuses."""
    if target not in TRANSITIONS[TicketStatus(current)]:
        allowed = ", ".join(notify.label(s) for s in sorted(TRANSITIONS[TicketStatus(current)]))
        raise ValidationFailed(
            f"A ticket cannot move from {notify.label(current)} to {notify.label(target)} "
            f"(from {notify.label(current)} it can go to: {allowed}).",
            field="status",
            code="invalid_transition",
            extra={"from_status": current, "to_status": target.value},
        )


def apply_status(ticket: Ticket, target: TicketStatus, resolution: str | None, now: datetime) -> None:
    """Put the ticket in `target` (already checked against the graph) with the stamps it needs."""
    if target is TicketStatus.assigned and ticket.assignee_id is None:
        raise ValidationFailed("Assign the ticket to someone first.", field="assignee_id", code="no_assignee")
    if target is TicketStatus.resolved:
        resolution = (resolution or "").strip()
        if not resolution:
            raise ValidationFailed(
                "Say how it was resolved: a resolution note is required.",
                field="resolution",
                code="resolution_required",
            )
        ticket.resolution, ticket.resolved_at = resolution, now
    if target is TicketStatus.closed:
        ticket.closed_at = now
    if TicketStatus(ticket.status) in REOPEN_FROM and target in (TicketStatus.in_process, TicketStatus.assigned):
        ticket.resolution = ticket.resolved_at = ticket.closed_at = ticket.archived_at = None
    ticket.status, ticket.status_changed_at = target.value, now


async def _record_move(
    session: AsyncSession, actor_id: int | None, ticket: Ticket, before: dict[str, Any], reason: str | None = None
) -> None:
    await session.flush()
    changes = audit.diff(
        before, {"status": ticket.status, "resolution": ticket.resolution, "archived_at": ticket.archived_at}
    )
    if reason:
        changes.append({"field": "reason", "old": None, "new": reason})
    audit.record(
        session, actor_id=actor_id, entity="ticket", entity_id=ticket.id, action="status_changed", changes=changes
    )
    announce(session, actor_id, ticket, "updated")
    await notify.status_changed(session, ticket)


async def move_ticket(session: AsyncSession, actor: Principal, ticket_id: int, data: MoveIn) -> Ticket:
    """A status change. An archived ticket can only be reopened (which brings it back to the queue)."""
    ticket = await _locked(session, actor, ticket_id, data.version)
    if ticket.archived_at is not None and data.status not in (TicketStatus.in_process, TicketStatus.assigned):
        raise Conflict("This ticket is archived; reopen it first.", code="archived")
    check_move(ticket.status, data.status)
    before = {"status": ticket.status, "resolution": ticket.resolution, "archived_at": ticket.archived_at}
    apply_status(ticket, data.status, data.resolution, utcnow())
    await _record_move(session, actor.user_id, ticket, before)
    return ticket


async def assign_ticket(session: AsyncSession, actor: Principal, ticket_id: int, data: AssignIn) -> Ticket:
    """Hand the ticket to a person (a new ticket becomes assigned), who hears of it at once. Needs
    team or all scope; with team scope, only to people of the actor's team."""
    scope = actor.scope(MODULE)
    if scope is Scope.own:
        raise Forbidden("Assigning tickets needs team or all scope on tickets.", code="scope")
    ticket = await _locked(session, actor, ticket_id, data.version)
    not_archived(ticket)
    assignee = None
    if data.assignee_id is not None:
        assignee = await session.get(User, data.assignee_id)
        if assignee is None or not assignee.active:
            raise ValidationFailed("No such active user.", field="assignee_id")
        if scope is Scope.team and assignee.team_id != actor.team_id and assignee.id != actor.user_id:
            raise ValidationFailed(
                "You can assign tickets to people of your team only.", field="assignee_id", code="other_team"
            )
    if data.assignee_id == ticket.assignee_id:
        return ticket
    before = {"assignee_id": ticket.assignee_id, "status": ticket.status}
    ticket.assignee_id = data.assignee_id
    now = utcnow()
    if assignee is not None and ticket.status == TicketStatus.new.value:
        ticket.status, ticket.status_changed_at = TicketStatus.assigned.value, now
    elif assignee is None and ticket.status == TicketStatus.assigned.value:
        ticket.status, ticket.status_changed_at = TicketStatus.new.value, now
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="ticket",
        entity_id=ticket.id,
        action="assigned",
        changes=audit.diff(before, {"assignee_id": ticket.assignee_id, "status": ticket.status}),
    )
    announce(session, actor.user_id, ticket, "updated")
    if assignee is not None:
        await notify.tell(
            session,
            assignee.id,
            actor.user_id,
            "ticket_assigned",
            ticket,
            f"Ticket #{ticket.number} assigned to you",
            ticket.subject,
        )
    if before["status"] != ticket.status:
        await notify.status_changed(session, ticket)
    return ticket


async def archive_closed(session: AsyncSession, now: datetime, days: int) -> int:
    """Archive tickets closed more than `days` ago: out of the queues, still searchable."""
    rows = (
        await session.execute(
            update(Ticket)
            .where(
                Ticket.status == TicketStatus.closed.value,
                Ticket.archived_at.is_(None),
                Ticket.closed_at < now - timedelta(days=days),
            )
            .values(archived_at=now, version=Ticket.version + 1)
            .returning(Ticket.id, Ticket.number, Ticket.assignee_id, Ticket.team_id, Ticket.version)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not rows:
        return 0
    await session.execute(
        insert(AuditEntry),
        [
            {
                "actor_id": None,
                "entity": "ticket",
                "entity_id": r.id,
                "action": "archived",
                "changes": [{"field": "archived_at", "old": None, "new": now.isoformat()}],
            }
            for r in rows
        ],
    )
    for r in rows:
        events.emit(
            session,
            module=MODULE,
            entity="ticket",
            entity_id=r.id,
            action="archived",
            owner_id=r.assignee_id,
            team_id=r.team_id,
            data={"number": r.number, "status": "closed", "version": r.version},
        )
    return len(rows)


# --- the inbound email pipe ----------------------------------------------------------------------


async def create_ticket_from_email(
    session: AsyncSession,
    *,
    client_id: int | None,
    contact_id: int | None,
    sender: str,
    subject: str,
    body: str,
    attachments: list[tuple[str, str, bytes]],
) -> Ticket:
    """A ticket from a customer's email (no user acts: the system does). Category General, so it
    goes to General's team; the sender is the reply address and gets the acknowledgement."""
    from crm_server.tickets import comments  # comments builds on this module

    client_id, contact_id = await _client_and_contact(session, client_id, contact_id)
    values: dict[str, Any] = {
        "subject": (" ".join(subject.split()) or "(no subject)")[:300],
        "description": body.strip(),
        "client_id": client_id,
        "contact_id": contact_id,
        "requester_email": sender.strip()[:320] or None,
        "priority": "normal",
        "tags": [],
    }
    ticket = await _new_ticket(session, None, values, None)
    for filename, content_type, data in attachments:
        await comments.store_attachment(session, ticket, None, None, filename, content_type, data)
    return ticket


async def add_public_comment_from_email(
    session: AsyncSession, ticket_number: int, *, sender: str, body: str, attachments: list[tuple[str, str, bytes]]
) -> Ticket | None:
    """The customer's reply, as a public comment (not emailed back to them). None: no such ticket.

    A reply to a ticket waiting for the customer, or to a resolved one, (re)opens it: in process.
    A reply to a deployed, closed or archived ticket is kept on it but does not reopen it: the
    assignee (or the team's managers) are told and decide whether to reopen or open a new one."""
    from crm_server.tickets import comments

    ticket = await session.scalar(select(Ticket).where(Ticket.number == ticket_number).with_for_update())
    if ticket is None:
        return None
    comment = await comments.save_comment(
        session,
        ticket,
        None,
        body,
        public=True,
        author_email=sender,
        attachments=[(f, c, d) for f, c, d in attachments],
    )
    status = TicketStatus(ticket.status)
    if ticket.archived_at is None and status in (TicketStatus.pending_customer, TicketStatus.resolved):
        before = {"status": ticket.status, "resolution": ticket.resolution, "archived_at": ticket.archived_at}
        apply_status(ticket, TicketStatus.in_process, None, utcnow())
        await _record_move(session, None, ticket, before, reason="customer replied")
    title = f"#{ticket.number}: the customer replied"
    if status in (TicketStatus.deployed, TicketStatus.closed) or ticket.archived_at is not None:
        title = f"#{ticket.number} ({notify.label(ticket.status)}): the customer replied"
    targets = [ticket.assignee_id] if ticket.assignee_id else await notify.managers_of(session, ticket.team_id)
    for user_id in targets:
        await notify.tell(session, user_id, None, "ticket_reply", ticket, title, comment.body[:300])
    return ticket
