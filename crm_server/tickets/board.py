"""The tickets board: per status a count (one grouped query) and the first cards of each column."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.tickets import OPEN_STATUSES, Board, BoardCard, BoardColumn, TicketFilters, TicketStatus
from crm_server.db import utcnow
from crm_server.tickets import queries
from crm_server.tickets.models import Ticket

CARD_COLUMNS = (
    Ticket.id,
    Ticket.number,
    Ticket.subject,
    Ticket.priority,
    Ticket.assignee_id,
    Ticket.team_id,
    Ticket.client_id,
    queries.CLIENT_NAME,
    queries.ASSIGNEE_NAME,
    Ticket.first_response_due_at,
    Ticket.first_responded_at,
    Ticket.created_at,
    Ticket.version,
)


async def board(session: AsyncSession, principal: Principal, filters: TicketFilters, per_column: int) -> Board:
    now = utcnow()
    where = queries.conditions(principal, filters, now, with_status=False)
    counts = dict(
        (await session.execute(select(Ticket.status, func.count()).where(*where).group_by(Ticket.status))).all()
    )
    if filters.status == "open":
        statuses = [s for s in TicketStatus if s in OPEN_STATUSES]
    else:
        statuses = [TicketStatus(filters.status)] if filters.status is not None else list(TicketStatus)
    columns = []
    for status in statuses:
        count = int(counts.get(status.value, 0))
        cards: list[BoardCard] = []
        if count:
            # The column's first cards by their keys alone (index-only: the live-status index carries
            # the scope's and filters' columns), then only those rows read whole.
            first = (
                select(Ticket.id)
                .where(*where, Ticket.status == status.value)
                .order_by(*queries.order_by("priority"))
                .limit(per_column)
                .correlate(None)
            )
            rows = (
                await session.execute(
                    select(*CARD_COLUMNS)
                    .where(Ticket.id.in_(first.scalar_subquery()))
                    .order_by(*queries.order_by("priority"))
                )
            ).all()
            cards = [BoardCard.model_validate(r._asdict()) for r in rows]
        columns.append(BoardColumn(status=status, count=count, cards=cards))
    return Board(columns=columns)
