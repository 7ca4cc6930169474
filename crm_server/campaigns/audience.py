"""Who a campaign goes to: the records a list filter matches (the same filters, and the viewer's
scope, as GET /api/leads and /api/clients), their addresses, and why some are left out. Counted and
copied in SQL, so a 100,000-record audience never passes through Python."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, case, func, insert, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.campaigns.models import CampaignRecipient, EmailConsent
from crm_server.clients.models import Client, Contact
from crm_server.contract.campaigns import AudienceOut
from crm_server.contract.clients import ClientQuery
from crm_server.contract.leads import LeadFilters
from crm_server.emails.models import Suppression
from crm_server.errors import ValidationFailed

# Filter keys of a list query that are paging, not a filter: a saved view may carry them.
PAGING = {"sort", "offset", "limit", "after"}
Rows = Select[int, str | None, str]
EXCLUSIONS = ("no_address", "unsubscribed", "bounced", "complained", "suppressed", "never_consented", "duplicate")


def _parse(model: type[BaseModel], filters: dict[str, Any]) -> Any:
    known = set(model.model_fields) - PAGING
    for key in filters:
        if key not in known:
            raise ValidationFailed(f"{key[:60]!r} is not a filter of this list.", field=f"filters.{key[:60]}")
    try:
        return model.model_validate({k: v for k, v in filters.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"{first['msg']}.", field=f"filters.{where}") from exc


async def records(session: AsyncSession, principal: Principal, entity: str, filters: dict[str, Any]) -> Rows:
    """(entity_id, address, name) of every record the filters match in this user's scope."""
    if entity == "lead":
        from crm_server.leads.models import Lead
        from crm_server.leads.queries import conditions

        lead_filters = _parse(LeadFilters, filters)
        country = str(await settings.get(session, "company.default_country"))
        lead_rows: Rows = select(
            Lead.id.label("entity_id"), Lead.email.label("address"), Lead.person_name.label("name")
        )
        return lead_rows.where(*conditions(principal, lead_filters, country))
    from crm_server.clients.service import _list_query

    query = _parse(ClientQuery, filters)
    shown = _list_query(principal, query)
    if entity == "client":
        client_rows: Rows = shown.with_only_columns(
            Client.id.label("entity_id"), Client.email.label("address"), Client.name.label("name")
        )
        return client_rows
    ids = shown.with_only_columns(Client.id).scalar_subquery()
    contact_rows: Rows = select(
        Contact.id.label("entity_id"), Contact.email.label("address"), Contact.name.label("name")
    )
    return contact_rows.where(Contact.client_id.in_(ids))


def _classified(rows: Rows) -> Select[Any]:
    """Each record with its lower-cased address and the reason it is left out (NULL: it is in)."""
    base = rows.subquery("base")
    addr = func.lower(func.btrim(base.c.address))
    why = case(
        (func.coalesce(addr, "") == "", literal("no_address")),
        (Suppression.source == "unsubscribe", literal("unsubscribed")),
        (Suppression.source == "bounce", literal("bounced")),
        (Suppression.source == "complaint", literal("complained")),
        (Suppression.id.is_not(None), literal("suppressed")),
        ((EmailConsent.granted_at.is_(None)) | (EmailConsent.withdrawn_at.is_not(None)), literal("never_consented")),
        else_=None,
    )
    return (
        select(base.c.entity_id, addr.label("address"), base.c.name, why.label("why"))
        .select_from(base)
        .outerjoin(Suppression, Suppression.address == addr)
        .outerjoin(EmailConsent, EmailConsent.address == addr)
    )


async def count(session: AsyncSession, principal: Principal, entity: str, filters: dict[str, Any]) -> AudienceOut:
    c = _classified(await records(session, principal, entity, filters)).subquery("c")
    row = (
        await session.execute(
            select(
                func.count(),
                func.count(func.distinct(c.c.address)).filter(c.c.why.is_(None)),
                func.count().filter(c.c.why.is_(None)),
                *[func.count().filter(c.c.why == name) for name in EXCLUSIONS[:-1]],
            ).select_from(c)
        )
    ).one()
    matching, eligible, eligible_rows, *rest = row
    excluded = dict(zip(EXCLUSIONS[:-1], rest, strict=True))
    excluded["duplicate"] = eligible_rows - eligible
    return AudienceOut(matching=matching, eligible=eligible, excluded=excluded)


async def materialize(
    session: AsyncSession, principal: Principal, campaign_id: int, entity: str, filters: dict[str, Any]
) -> int:
    """One queued recipient row per eligible address (the first record having it), in one statement."""
    c = _classified(await records(session, principal, entity, filters)).subquery("c")
    picked = (
        select(literal(campaign_id), literal(entity), c.c.entity_id, c.c.address, func.left(c.c.name, 300))
        .where(c.c.why.is_(None))
        .ext(distinct_on(c.c.address))
        .order_by(c.c.address, c.c.entity_id)
    )
    result = await session.execute(
        insert(CampaignRecipient).from_select(["campaign_id", "entity", "entity_id", "address", "name"], picked)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
