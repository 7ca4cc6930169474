"""Tickets in the global search: by number ("#1234", "1234") or words of the subject (trigram index),
scope-filtered; archived ones are found too, shown last."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.search import SearchHit
from crm_server.search.registry import Provider, Terms, register
from crm_server.tickets import notify, queries
from crm_server.tickets.models import Ticket

CANDIDATES = 60


async def search_tickets(session: AsyncSession, principal: Principal, terms: Terms, limit: int) -> list[SearchHit]:
    candidates = (
        select(Ticket.id, Ticket.number, Ticket.subject, Ticket.status, Ticket.archived_at, Ticket.search_text)
        .where(queries.text_match(terms.text), queries.scope_filter(principal))
        .limit(CANDIDATES)
        .subquery()
    )
    exact = candidates.c.number == (terms.number if terms.number is not None else -1)
    rows = (
        await session.execute(
            select(candidates)
            .order_by(
                exact.desc(),
                candidates.c.archived_at.is_not(None),
                func.similarity(candidates.c.search_text, terms.text.lower()).desc(),
                candidates.c.id.desc(),
            )
            .limit(limit + 1)
        )
    ).all()
    return [
        SearchHit(
            type="ticket",
            id=r.id,
            title=f"#{r.number} {r.subject}",
            subtitle=notify.label(r.status),
            archived=r.archived_at is not None,
        )
        for r in rows
    ]


register(Provider(type="ticket", label="Tickets", module="tickets", search=search_tickets, order=40))
