"""The office's review of registrations that matched an existing lead only weakly (a similar name at
the same company): accept makes the lead and credits it to the partner; reject tells the partner
"not accepted". Nothing here commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import audit
from crm_server.auth.permissions import Principal
from crm_server.contract.partners import ReviewOut
from crm_server.db import utcnow
from crm_server.errors import Conflict, NotFound
from crm_server.leads import service as leads
from crm_server.leads.models import Lead
from crm_server.partners import registrations
from crm_server.partners.models import LeadRegistration, Partner, PartnerUser

LIMIT = 200


def _out(reg: LeadRegistration, partner: str, person: str | None) -> ReviewOut:
    return ReviewOut.model_validate(
        {
            "id": reg.id,
            "partner_id": reg.partner_id,
            "partner_name": partner,
            "partner_user_name": person,
            "state": reg.state,
            "lead_id": reg.lead_id,
            "company": reg.company,
            "contact": reg.contact,
            "email": reg.email,
            "phone": reg.phone,
            "interest": reg.interest,
            "notes": reg.notes,
            "created_at": reg.created_at,
        }
    )


async def waiting(session: AsyncSession) -> list[ReviewOut]:
    """Registrations waiting for review, oldest first (at most LIMIT)."""
    stmt = (
        select(LeadRegistration, Partner.name, PartnerUser.full_name)
        .join(Partner, Partner.id == LeadRegistration.partner_id)
        .outerjoin(PartnerUser, PartnerUser.id == LeadRegistration.partner_user_id)
        .where(LeadRegistration.state == "needs_review")
        .order_by(LeadRegistration.created_at, LeadRegistration.id)
        .limit(LIMIT)
    )
    return [_out(reg, partner, person) for reg, partner, person in (await session.execute(stmt)).all()]


async def _waiting_one(
    session: AsyncSession, registration_id: int
) -> tuple[LeadRegistration, Partner, PartnerUser | None]:
    reg = await session.get(LeadRegistration, registration_id, with_for_update=True)
    if reg is None:
        raise NotFound("No such registration.")
    if reg.state != "needs_review":
        raise Conflict("This registration was decided already.", code="already_decided")
    partner = await session.get(Partner, reg.partner_id)
    assert partner is not None
    person = await session.get(PartnerUser, reg.partner_user_id) if reg.partner_user_id else None
    return reg, partner, person


async def accept(session: AsyncSession, actor: Principal, registration_id: int) -> ReviewOut:
    """Make the lead (through the leads service, as a registration does) and credit it."""
    reg, partner, person = await _waiting_one(session, registration_id)
    values = {k: getattr(reg, k) for k in registrations.LIMITS}
    data = registrations.lead_in(values, partner, await registrations.owner_of(session, partner))
    created = await leads.create_lead(session, None, data)
    lead = await session.get(Lead, created.id)
    assert lead is not None
    await registrations.credit(session, reg, partner, lead, actor.user_id, person.full_name if person else None)
    return _out(reg, partner.name, person.full_name if person else None)


async def reject(session: AsyncSession, actor: Principal, registration_id: int) -> ReviewOut:
    reg, partner, person = await _waiting_one(session, registration_id)
    reg.state, reg.updated_at = "rejected", utcnow()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="lead_registration",
        entity_id=reg.id,
        action="rejected",
        changes=audit.diff({"state": "needs_review"}, {"state": "rejected"}),
    )
    registrations.announce(session, reg, "rejected")
    return _out(reg, partner.name, person.full_name if person else None)
