"""Clients and contacts in the global search (a contact is seen by whoever sees its client)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client, Contact
from crm_server.clients.normalise import vat_key
from crm_server.contract.search import SearchHit
from crm_server.search.registry import Provider, Terms, register

CANDIDATES = 60


async def search_clients(session: AsyncSession, principal: Principal, terms: Terms, limit: int) -> list[SearchHit]:
    match: list[ColumnElement[bool]] = [Client.search_text.like(terms.pattern, escape="\\")]
    if terms.digits_pattern:
        match.append(Client.search_text.like(terms.digits_pattern, escape="\\"))
    if terms.phone:
        match.append(Client.phone == terms.phone)
    if terms.number is not None:
        match.append(Client.id == terms.number)
    if (key := vat_key(terms.text)) and key != terms.text.upper():
        match.append(Client.vat_key == key)
    candidates = (
        select(
            Client.id,
            Client.name,
            Client.vat_number,
            Client.email,
            Client.phone,
            Client.archived_at,
            Client.search_text,
        )
        .where(or_(*match), principal.scope_filter("clients", Client.owner_id, Client.team_id))
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
            type="client",
            id=r.id,
            title=r.name,
            subtitle=" · ".join(x for x in (r.vat_number, r.email, r.phone) if x) or None,
            archived=r.archived_at is not None,
        )
        for r in rows
    ]


async def search_contacts(session: AsyncSession, principal: Principal, terms: Terms, limit: int) -> list[SearchHit]:
    match: list[ColumnElement[bool]] = [Contact.search_text.like(terms.pattern, escape="\\")]
    if terms.digits_pattern:
        match.append(Contact.search_text.like(terms.digits_pattern, escape="\\"))
    if terms.phone:
        match.append(Contact.phone == terms.phone)
    candidates = (
        select(
            Contact.id,
            Contact.name,
            Contact.email,
            Contact.phone,
            Contact.client_id,
            Client.name.label("client_name"),
            Client.archived_at,
            Contact.search_text,
        )
        .join(Client, Client.id == Contact.client_id)
        .where(or_(*match), principal.scope_filter("clients", Client.owner_id, Client.team_id))
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
            type="contact",
            id=r.id,
            title=r.name,
            parent_id=r.client_id,
            subtitle=" · ".join(x for x in (r.client_name, r.email, r.phone) if x) or None,
            archived=r.archived_at is not None,
        )
        for r in rows
    ]


register(Provider(type="client", label="Clients", module="clients", search=search_clients, order=20))
register(Provider(type="contact", label="Contacts", module="clients", search=search_contacts, order=30))
