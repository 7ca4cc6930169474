"""Leads a partner registers through the portal; the nightly settling of registrations.

A submission is answered at once: "registered" (a new lead, created by the leads service so it is
audited and shown live, credited to the partner, given to the managing salesperson or the
assignment rules), "already registered" (another partner's registration or an existing lead has the
same e-mail or phone: nothing about it is told) or "needs review" (only a weaker match: a similar
name at the same company). The duplicate check is the leads' own, run on the new lead inside a
savepoint that is rolled back (with its live events) when the lead is not to be kept. What the
partner sees of them: partner_view.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.activities import preferences
from crm_server.admin import audit, settings
from crm_server.auth.models import User
from crm_server.clients import normalise
from crm_server.contract.leads import LeadIn
from crm_server.db import savepoint, utcnow
from crm_server.errors import TooManyRequests, ValidationFailed
from crm_server.leads import service as leads
from crm_server.leads.duplicates import _candidates
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.partners.models import LeadRegistration, Partner, PartnerSubmission, PartnerUser

Outcome = Literal["registered", "already_registered", "needs_review"]
STRONG = ("email", "phone")  # a twin by these is the same lead; a similar name at the company is not sure
LIMITS = {"company": 200, "contact": 200, "phone": 50, "email": 320, "interest": 200, "notes": 5000}


@dataclass(frozen=True)
class Submission:
    company: str
    contact: str
    phone: str
    email: str
    interest: str
    notes: str


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    registration_id: int | None = None


class _NotKept(Exception):
    """Rolls the savepoint (the trial lead and its events) back."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def _clean(form: Submission, country: str) -> dict[str, str]:
    """What was typed, trimmed and checked: errors name the field."""
    values = {k: (getattr(form, k) or "").strip() for k in LIMITS}
    for key, limit in LIMITS.items():
        if len(values[key]) > limit:
            raise ValidationFailed(f"At most {limit} characters, please.", field=key, code="too_long")
    values["contact"] = " ".join(values["contact"].split())
    if not values["contact"]:
        raise ValidationFailed("Give the contact person's name.", field="contact")
    values["email"] = normalise.email(values["email"]) or ""
    values["phone"] = normalise.phone(values["phone"], country) or ""
    if not values["email"] and not values["phone"]:
        raise ValidationFailed("Give the contact's e-mail or phone.", field="email")
    return values


async def _registered_elsewhere(session: AsyncSession, values: dict[str, str]) -> bool:
    """A submission waiting for review (any partner's) with the same e-mail or phone."""
    same = []
    if values["email"]:
        same.append(func.lower(LeadRegistration.email) == values["email"].lower())
    if values["phone"]:
        same.append(LeadRegistration.phone == values["phone"])
    found = await session.scalar(
        select(LeadRegistration.id)
        .where(LeadRegistration.state == "needs_review", LeadRegistration.lead_id.is_(None), or_(*same))
        .limit(1)
    )
    return found is not None


async def owner_of(session: AsyncSession, partner: Partner) -> int | None:
    """The managing salesperson if active (else the assignment rules choose)."""
    if partner.managing_user_id is None:
        return None
    manager = await session.get(User, partner.managing_user_id)
    return manager.id if manager is not None and manager.active else None


def lead_in(values: dict[str, str], partner: Partner, owner_id: int | None) -> LeadIn:
    """The lead a registration makes: what the partner typed, credited by name to the partner."""
    return LeadIn(
        person_name=values["contact"],
        company=values["company"] or None,
        email=values["email"] or None,
        phone=values["phone"] or None,
        source="Partner",
        partner_name=partner.name,
        owner_id=owner_id,
        product_interest=values["interest"] or None,
        note=values["notes"] or None,
    )


async def _check_pace(session: AsyncSession, person: PartnerUser) -> None:
    """At most partners.submissions_per_hour answers an hour per person: "already registered" tells
    something, so nobody may ask it of thousands of addresses."""
    limit = int(await settings.get(session, "partners.submissions_per_hour"))
    since = utcnow() - timedelta(hours=1)
    sent = await session.scalar(
        select(func.count())
        .select_from(PartnerSubmission)
        .where(PartnerSubmission.partner_user_id == person.id, PartnerSubmission.at > since)
    )
    if (sent or 0) >= limit:
        raise TooManyRequests(
            f"You have sent {limit} leads in the last hour; please wait a while before sending more.",
            code="submissions_throttled",
            headers={"Retry-After": "600"},
        )


async def submit(session: AsyncSession, person: PartnerUser, partner: Partner, form: Submission) -> Answer:
    values = _clean(form, await leads.default_country(session))
    await _check_pace(session, person)
    answer = await _answer(session, person, partner, values)
    session.add(PartnerSubmission(partner_user_id=person.id, at=utcnow(), outcome=answer.outcome))
    return answer


async def _answer(session: AsyncSession, person: PartnerUser, partner: Partner, values: dict[str, str]) -> Answer:
    if await _registered_elsewhere(session, values):
        return Answer("already_registered")
    data = lead_in(values, partner, await owner_of(session, partner))
    try:
        async with savepoint(session):
            created = await leads.create_lead(session, None, data)
            lead = await session.get(Lead, created.id)
            assert lead is not None
            twins = await _candidates(session, lead, 10)
            if any(r in STRONG for _, reasons in twins for r in reasons):
                raise _NotKept("already_registered")
            if twins:
                raise _NotKept("needs_review")
    except _NotKept as not_kept:
        if not_kept.outcome == "already_registered":
            return Answer("already_registered")
        reg = _registration(partner, person, None, "needs_review", values, None)
        session.add(reg)
        await session.flush()
        announce(session, reg, "submitted")
        return Answer("needs_review", reg.id)
    reg = _registration(partner, person, None, "registered", values, None)
    session.add(reg)
    await credit(session, reg, partner, lead, None, person.full_name)
    return Answer("registered", reg.id)


async def credit(
    session: AsyncSession,
    reg: LeadRegistration,
    partner: Partner,
    lead: Lead,
    actor_id: int | None,
    person_name: str | None,
) -> None:
    """Credit `lead` to the partner: protected for partners.protection_days, audited, announced,
    and the managing salesperson told when the assignment rules gave the lead to someone else."""
    days = int(await settings.get(session, "partners.protection_days"))
    now = utcnow()
    reg.lead_id, reg.state, reg.updated_at = lead.id, "registered", now
    reg.protected_until = now + timedelta(days=days)
    await session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        entity="lead",
        entity_id=lead.id,
        action="partner_registered",
        changes=audit.diff({}, {"partner": partner.name, "partner_user": person_name}),
    )
    announce(session, reg, "registered", lead)
    if partner.managing_user_id is not None and partner.managing_user_id != lead.owner_id:
        await preferences.notify(
            session,
            partner.managing_user_id,
            "lead_assigned",
            f"{partner.name} registered a lead: {lead.person_name}",
            f"Given to another salesperson by the assignment rules (lead #{lead.id}).",
            "lead",
            lead.id,
        )


def _registration(
    partner: Partner,
    person: PartnerUser,
    lead_id: int | None,
    state: str,
    values: dict[str, str],
    until: datetime | None,
) -> LeadRegistration:
    return LeadRegistration(
        partner_id=partner.id,
        partner_user_id=person.id,
        lead_id=lead_id,
        state=state,
        protected_until=until,
        **values,
    )


def announce(session: AsyncSession, reg: LeadRegistration, action: str, lead: Lead | None = None) -> None:
    """A registration of a lead is heard by those who see the lead (its window shows the partner);
    one still under review by those who see the admin module."""
    events.emit(
        session,
        module="leads" if lead is not None else "admin",
        entity="lead_registration",
        entity_id=reg.id,
        action=action,
        owner_id=lead.owner_id if lead is not None else None,
        team_id=lead.team_id if lead is not None else None,
        data={"lead_id": reg.lead_id, "partner_id": reg.partner_id, "state": reg.state},
    )


# --- the nightly job -----------------------------------------------------------------------------


async def settle(session: AsyncSession, now: datetime) -> int:
    """Registrations follow their lead (won, lost); those whose protection ended while the lead
    stayed in its pipeline's first open stage lapse. Returns how many lapsed."""
    kind = select(PipelineStatus.kind).where(PipelineStatus.id == Lead.status_id).scalar_subquery()
    for outcome, kinds in (("won", ("won",)), ("lost", ("lost", "junk"))):
        await session.execute(
            update(LeadRegistration)
            .where(
                LeadRegistration.state == "registered",
                LeadRegistration.lead_id == Lead.id,
                kind.in_(kinds),
            )
            .values(state=outcome, updated_at=now)
        )
    first_open = (
        select(func.min(PipelineStatus.position))
        .where(PipelineStatus.pipeline_id == Lead.pipeline_id, PipelineStatus.kind == "open")
        .scalar_subquery()
    )
    status_position = select(PipelineStatus.position).where(PipelineStatus.id == Lead.status_id).scalar_subquery()
    lapsed = (
        await session.scalars(
            update(LeadRegistration)
            .where(
                LeadRegistration.state == "registered",
                LeadRegistration.protected_until < now,
                LeadRegistration.lead_id == Lead.id,
                status_position == first_open,
            )
            .values(state="lapsed", updated_at=now)
            .returning(LeadRegistration)
        )
    ).all()
    for reg in lapsed:
        lead = await session.get(Lead, reg.lead_id) if reg.lead_id is not None else None
        if reg.lead_id is not None:
            audit.record(
                session,
                actor_id=None,
                entity="lead",
                entity_id=reg.lead_id,
                action="partner_registration_lapsed",
                changes=[],
            )
        announce(session, reg, "lapsed", lead)
    return len(lapsed)
