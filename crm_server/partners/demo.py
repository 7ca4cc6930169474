"""Demo partners for `crm-desktop --demo` and screenshots: two partner companies with their managing
salespeople, people who can sign in to the portal (with the demo password), a few of the demo's
leads credited to them and one submission waiting for review."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import User
from crm_server.db import utcnow
from crm_server.leads.models import Lead
from crm_server.partners.models import LeadRegistration, Partner, PartnerUser

# (partner, its people (name, e-mail), share values)
PARTNERS = (
    ("Northwind Resellers", (("Pia Lund", "pia@northwind.demo"), ("Noah Berg", "noah@northwind.demo")), True),
    ("Contoso Consulting", (("Cleo Marin", "cleo@contoso.demo"),), False),
)


async def seed_partners(session: AsyncSession, sellers: list[User], password_hash: str, rng: random.Random) -> None:
    now = utcnow()
    leads = list((await session.scalars(select(Lead).order_by(Lead.id).limit(40))).all())
    rng.shuffle(leads)
    for n, (name, people, share) in enumerate(PARTNERS):
        manager = sellers[n % len(sellers)] if sellers else None
        partner = Partner(name=name, managing_user_id=manager.id if manager else None, share_values=share)
        session.add(partner)
        await session.flush()
        users = [
            PartnerUser(
                partner_id=partner.id,
                email=email,
                full_name=full_name,
                password_hash=password_hash,
                invited_at=now - timedelta(days=30),
            )
            for full_name, email in people
        ]
        session.add_all(users)
        await session.flush()
        for lead in leads[n * 4 : n * 4 + 4]:
            session.add(
                LeadRegistration(
                    partner_id=partner.id,
                    partner_user_id=users[0].id,
                    lead_id=lead.id,
                    state="registered",
                    company=lead.company or "",
                    contact=lead.person_name,
                    email=lead.email or "",
                    phone=lead.phone or "",
                    interest=lead.product_interest or "",
                    protected_until=now + timedelta(days=rng.randint(10, 90)),
                    created_at=now - timedelta(days=rng.randint(1, 60)),
                )
            )
    session.add(
        LeadRegistration(
            partner_id=partner.id,
            partner_user_id=users[0].id,
            state="needs_review",
            company="Fabrikam Foods",
            contact="Finn Fabre",
            email="finn@fabrikam.demo",
            interest="Web shop integration",
            notes="Met them at the trade fair; they asked for a demo.",
        )
    )
    await session.flush()
