"""Who sees which tickets and the WHERE clauses of the queue, shared by the list, the board and the
search box so the three never disagree."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.auth import Scope
from crm_server.contract.tickets import OPEN_STATUSES, TicketFilters
from crm_server.paging import like_pattern
from crm_server.tickets.models import Ticket

# Names the queue and the board show, read with the rows (one indexed lookup each), so no client asks
# for them row by row.
CLIENT_NAME = (
    select(Client.name).where(Client.id == Ticket.client_id).correlate(Ticket).scalar_subquery().label("client_name")
)
ASSIGNEE_NAME = (
    select(User.full_name)
    .where(User.id == Ticket.assignee_id)
    .correlate(Ticket)
    .scalar_subquery()
    .label("assignee_name")
)

MODULE = "tickets"
BREACH_WARNING = timedelta(minutes=30)
SORTS: dict[str, Any] = {
    "created_at": Ticket.created_at,
    "updated_at": Ticket.updated_at,
    "priority": Ticket.priority_rank,  # critical, high, normal (a stored column, read in index order)
    "first_response_due_at": Ticket.first_response_due_at,
    "number": Ticket.number,
}


def sees(principal: Principal, ticket: Ticket) -> bool:
    """Scope of tickets: all, or the team's, or own = assigned to me or created by me."""
    if not principal.can(MODULE, "view"):
        return False
    scope = principal.scope(MODULE)
    if scope is Scope.all or principal.user_id in (ticket.assignee_id, ticket.created_by):
        return True
    return scope is Scope.team and ticket.team_id is not None and ticket.team_id == principal.team_id


def scope_filter(principal: Principal) -> ColumnElement[bool]:
    if not principal.can(MODULE, "view"):
        return false()
    scope = principal.scope(MODULE)
    if scope is Scope.all:
        return true()
    mine = or_(Ticket.assignee_id == principal.user_id, Ticket.created_by == principal.user_id)
    if scope is Scope.team and principal.team_id is not None:
        return or_(mine, Ticket.team_id == principal.team_id)
    return mine


def number_in(text: str) -> int | None:
    """ "#1234", "1234" or "Ticket#1234" name a ticket number."""
    digits = text.strip().lower().removeprefix("ticket").strip().lstrip("#").strip()
    return int(digits) if digits.isdigit() and len(digits) <= 18 else None


def text_match(q: str) -> ColumnElement[bool]:
    number = number_in(q)
    match = Ticket.search_text.like(like_pattern(q), escape="\\")
    return or_(match, Ticket.number == number) if number is not None else match


def breaching(now: datetime) -> ColumnElement[bool]:
    """Open, not answered yet, and due within 30 minutes or already late."""
    return and_(
        Ticket.status.in_([s.value for s in OPEN_STATUSES]),
        Ticket.first_responded_at.is_(None),
        Ticket.first_response_due_at <= now + BREACH_WARNING,
    )


def conditions(
    principal: Principal, filters: TicketFilters, now: datetime, *, with_status: bool = True
) -> list[ColumnElement[bool]]:
    where = [
        scope_filter(principal),
        Ticket.archived_at.is_not(None) if filters.archived else Ticket.archived_at.is_(None),
    ]
    if with_status and filters.status == "open":
        where.append(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    elif with_status and filters.status is not None:
        where.append(Ticket.status == filters.status)
    for name in ("priority", "team_id", "assignee_id", "category_id", "client_id"):
        value = getattr(filters, name)
        if value is not None:
            where.append(getattr(Ticket, name) == getattr(value, "value", value))
    if filters.mine:
        where.append(Ticket.assignee_id == principal.user_id)
    if filters.breaching:
        where.append(breaching(now))
    if filters.urgent:
        where.append(or_(Ticket.priority.in_(("high", "critical")), breaching(now)))
    if filters.q and filters.q.strip():
        where.append(text_match(filters.q))
    return where


def order_by(sort: str) -> tuple[Any, ...]:
    name = sort.lstrip("-")
    column, descending = SORTS[name], sort.startswith("-")
    key = column.desc() if descending else column.asc()
    if name == "first_response_due_at":
        key = key.nulls_last()
    return key, (Ticket.id.desc() if descending else Ticket.id.asc())
