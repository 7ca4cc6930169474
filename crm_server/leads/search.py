"""Leads in the global search. Candidates come from the trigram index in no order (a LIMIT stops the
scan early: with a scope filter every row not the user's costs a heap visit); the best of them by
similarity are shown, archived ones last."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.search import SearchHit
from crm_server.leads.models import Lead
from crm_server.search.registry import Provider, Terms, register

CANDIDATES = 60


def lead_match(terms: Terms) -> ColumnElement[bool]:
    """Name, company, email or phone contains the text; a phone typed any way finds its E.164 form;
    a number finds the lead with that id. Shared by the search box and the list's search field."""
    match: list[ColumnElement[bool]] = [Lead.search_text.like(terms.pattern, escape="\\")]
    if terms.digits_pattern:
        match.append(Lead.search_text.like(terms.digits_pattern, escape="\\"))
    if terms.phone:
        match.append(Lead.phone == terms.phone)
    if terms.number is not None:
        match.append(Lead.id == terms.number)
    return or_(*match)


async def search_leads(session: AsyncSession, principal: Principal, terms: Terms, limit: int) -> list[SearchHit]:
    candidates = (
        select(Lead.id, Lead.person_name, Lead.company, Lead.email, Lead.phone, Lead.archived_at, Lead.search_text)
        .where(
            lead_match(terms),
            Lead.merged_into_id.is_(None),
            principal.scope_filter("leads", Lead.owner_id, Lead.team_id),
        )
        .limit(CANDIDATES)
        .subquery()
    )
    rows = (
        await session.execute(
            select(candidates)
            .order_by(
                candidates.c.archived_at.is_not(None),
                func.similarity(candidates.c.search_text, terms.text.lower()).desc(),
                candidates.c.id.desc(),
            )
            .limit(limit + 1)
        )
    ).all()
    return [
        SearchHit(
            type="lead",
            id=r.id,
            title=r.person_name,
            subtitle=" · ".join(x for x in (r.company, r.email, r.phone) if x) or None,
            archived=r.archived_at is not None,
        )
        for r in rows
    ]


register(Provider(type="lead", label="Leads", module="leads", search=search_leads, order=10))
