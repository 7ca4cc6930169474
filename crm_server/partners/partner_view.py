"""What a partner sees of their registrations in the portal: only their company's, and of each only
the fields meant for partners - what they typed, a partner-friendly stage, won or lost, and the value
only when the office shares it (partners.share_values). Totals and months for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_server.errors import NotFound
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.partners.models import LeadRegistration, Partner

PAGE = 50


@dataclass(frozen=True)
class PortalLead:
    id: int
    submitted: datetime
    company: str
    contact: str
    interest: str
    stage: str
    outcome: str  # "won", "lost" or ""
    value: Decimal | None
    currency: str | None


_FIRST_OPEN = aliased(PipelineStatus)


def _rows(partner_id: int) -> Any:
    first_open = (
        select(func.min(_FIRST_OPEN.position))
        .where(_FIRST_OPEN.pipeline_id == Lead.pipeline_id, _FIRST_OPEN.kind == "open")
        .correlate(Lead)
        .scalar_subquery()
    )
    return (
        select(LeadRegistration, PipelineStatus.kind, PipelineStatus.position == first_open, Lead.value, Lead.currency)
        .outerjoin(Lead, Lead.id == LeadRegistration.lead_id)
        .outerjoin(PipelineStatus, PipelineStatus.id == Lead.status_id)
        .where(LeadRegistration.partner_id == partner_id)
    )


def _stage(state: str, kind: str | None, first: bool | None) -> tuple[str, str]:
    """(stage in a partner's words, "won"/"lost"/"")."""
    if state == "needs_review":
        return "Under review", ""
    if state == "lapsed":
        return "Protection ended", ""
    if state == "rejected":
        return "Not accepted", "lost"
    if kind == "won" or state == "won":
        return "Won", "won"
    if kind in ("lost", "junk") or state == "lost":
        return "Not won", "lost"
    return ("Received" if first else "In progress"), ""


def _portal_lead(row: Any, share_values: bool) -> PortalLead:
    reg, kind, first, value, currency = row
    stage, outcome = _stage(reg.state, kind, first)
    shown = share_values and outcome == "won"
    return PortalLead(
        id=reg.id,
        submitted=reg.created_at,
        company=reg.company,
        contact=reg.contact,
        interest=reg.interest,
        stage=stage,
        outcome=outcome,
        value=value if shown else None,
        currency=currency if shown else None,
    )


async def partner_leads(session: AsyncSession, partner: Partner, q: str, page: int) -> tuple[list[PortalLead], bool]:
    """The partner's registrations, newest first, searched in what the partner typed; and whether
    more follow."""
    stmt = _rows(partner.id)
    words = q.strip()[:100]
    if words:
        like = [
            getattr(LeadRegistration, f).icontains(words, autoescape=True)
            for f in ("company", "contact", "email", "phone", "interest")
        ]
        stmt = stmt.where(or_(*like))
    stmt = stmt.order_by(LeadRegistration.created_at.desc(), LeadRegistration.id.desc())
    rows = (await session.execute(stmt.offset(page * PAGE).limit(PAGE + 1))).all()
    return [_portal_lead(r, partner.share_values) for r in rows[:PAGE]], len(rows) > PAGE


async def partner_lead(session: AsyncSession, partner: Partner, registration_id: int) -> PortalLead:
    """One of the partner's registrations; another partner's answers exactly like none at all."""
    row = (await session.execute(_rows(partner.id).where(LeadRegistration.id == registration_id))).first()
    if row is None:
        raise NotFound("No such lead.")
    return _portal_lead(row, partner.share_values)


@dataclass(frozen=True)
class MonthRow:
    month: date
    submitted: int
    won: int
    won_value: Decimal | None


@dataclass(frozen=True)
class Dashboard:
    submitted: int
    open: int
    won: int
    lost: int
    conversion: Decimal | None  # percent of decided leads that were won
    months: list[MonthRow]


async def dashboard(session: AsyncSession, partner: Partner) -> Dashboard:
    rows = _rows(partner.id).subquery()
    won = or_(rows.c.kind == "won", rows.c.state == "won")
    lost = and_(~won, or_(rows.c.kind.in_(("lost", "junk")), rows.c.state.in_(("lost", "rejected"))))
    month = func.date_trunc("month", rows.c.created_at)
    by_month = (
        await session.execute(
            select(
                month,
                func.count(),
                func.count().filter(won),
                func.sum(case((won, rows.c.value))),
            )
            .group_by(month)
            .order_by(month.desc())
            .limit(12)
        )
    ).all()
    totals = (
        await session.execute(
            select(func.count(), func.count().filter(won), func.count().filter(lost)).select_from(rows)
        )
    ).one()
    submitted, won_n, lost_n = int(totals[0]), int(totals[1]), int(totals[2])
    decided = won_n + lost_n
    return Dashboard(
        submitted=submitted,
        open=submitted - decided,
        won=won_n,
        lost=lost_n,
        conversion=(Decimal(won_n * 100) / decided).quantize(Decimal("0.1")) if decided else None,
        months=[
            MonthRow(month=m.date(), submitted=int(n), won=int(w), won_value=(v if partner.share_values else None))
            for m, n, w, v in by_month
        ],
    )
