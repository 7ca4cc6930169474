"""Demo data of the sales side: clients with contacts, a few thousand leads spread over every status
(lost ones with reasons, won ones converted), notes, follow-ups and the audit rows their timelines
show. Written with COPY (ids taken from the sequences first): a few thousand leads take well under a second.

Called by crm_server.demo with the demo users; `rng` makes the data the same on every run."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import FollowUp, Note
from crm_server.admin.models import AuditEntry
from crm_server.auth.models import Role, User
from crm_server.clients.models import Client, Contact
from crm_server.clients.normalise import vat_key
from crm_server.db import copy_rows, utcnow
from crm_server.leads.models import Lead, LeadSource, LostReason, Pipeline, PipelineStatus

FIRST = (
    "Ana",
    "Ioana",
    "Maria",
    "Elena",
    "Andreea",
    "Cristina",
    "Mihai",
    "Andrei",
    "Alexandru",
    "Ion",
    "George",
    "Radu",
    "Bogdan",
    "Vlad",
    "Sofia",
    "Lars",
    "Emma",
    "Lukas",
    "Chiara",
    "Jan",
    "Marta",
    "Pierre",
    "Julia",
)
LAST = (
    "Popescu",
    "Ionescu",
    "Popa",
    "Dumitru",
    "Stan",
    "Stoica",
    "Gheorghe",
    "Matei",
    "Ciobanu",
    "Rusu",
    "Marin",
    "Lungu",
    "Andersson",
    "Müller",
    "Rossi",
    "Novak",
    "Dubois",
    "Kowalski",
    "Nieminen",
    "Horvat",
)
COMPANY_A = (
    "Nord",
    "Carpat",
    "Delta",
    "Vertex",
    "Blue",
    "Danube",
    "Astra",
    "Nova",
    "Orion",
    "Tera",
    "Alpin",
    "Green",
    "Smart",
    "Prime",
    "Urban",
    "Euro",
    "Media",
    "Agro",
    "Metal",
    "Trans",
)
COMPANY_B = (
    "Logistics",
    "Retail",
    "Foods",
    "Systems",
    "Pharma",
    "Construct",
    "Textile",
    "Auto",
    "Energy",
    "Software",
    "Consulting",
    "Distribution",
    "Hotels",
    "Clinic",
    "Print",
    "Furniture",
)
SUFFIX = ("SRL", "SA", "GmbH", "Ltd", "SRL", "SRL")
TERRITORIES = ("North", "South", "East", "West", "Bucharest", "Export")
PRODUCTS = ("POS", "ERP", "E-commerce", "Loyalty", "Payroll", "Inventory")
TAGS = ("hot", "vip", "expo-2026", "referral", "follow-up", "budget-q3", "decision-maker")
CITIES = ("Cluj-Napoca", "Bucharest", "Iași", "Timișoara", "Brașov", "Constanța", "Oradea", "Sibiu")
NOTES = (
    "Called, interested in a demo next week.",
    "Sent the brochure and price list.",
    "Decision maker is the CFO; follow up after the budget meeting.",
    "Asked for a discount on 3 licences.",
    "Uses a competitor today, contract ends in autumn.",
    "Very positive demo, wants a proposal.",
    "No answer; left a voicemail.",
    "Met at the trade fair, card scanned.",
)
OUTCOMES = (
    "Talked for 20 minutes; sending a proposal.",
    "Not reachable, will try again.",
    "Demo done, they loved the reports.",
    "Asked to call back next month.",
)
# Share of leads per status name of the default pipeline (the rest of the statuses share what is left).
WEIGHTS = {
    "Open": 18,
    "First Contact": 12,
    "Connected": 10,
    "Demo Scheduled": 8,
    "Demo Given": 7,
    "Proposal Sent": 7,
    "Negotiation": 5,
    "On Hold": 4,
    "Integration Approved": 3,
    "Won": 10,
    "Lost": 12,
    "Junk": 4,
}


def _phone(rng: random.Random) -> str:
    return f"+407{rng.choice('2345')}{rng.randrange(10_000_000):07d}"


def _company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} {rng.choice(SUFFIX)}"


def _slug(text: str) -> str:
    return "".join(c for c in text.lower().replace("ș", "s").replace("ț", "t").replace("ü", "u") if c.isalnum())


async def _owners(session: AsyncSession, users: Sequence[Any]) -> list[tuple[int, int | None]]:
    """(id, team) of the given users who work leads; everyone given if none of them does."""
    ids = [u if isinstance(u, int) else u.id for u in users]
    rows = (
        await session.execute(
            select(User.id, User.team_id, Role.permissions)
            .join(Role, Role.id == User.role_id)
            .where(User.id.in_(ids), User.active.is_(True))
            .order_by(User.id)
        )
    ).all()
    working = [(r.id, r.team_id) for r in rows if "edit" in r.permissions.get("leads", {}).get("actions", [])]
    return working or [(r.id, r.team_id) for r in rows]


async def seed_leads(
    session: AsyncSession, users: Sequence[Any], rng: random.Random, leads: int = 3000, clients: int = 250
) -> dict[str, int]:
    """Adds the sales demo; `users` are User rows (or ids). Returns how many of each were made."""
    now = utcnow()
    owners = await _owners(session, users) or [(0, None)]
    pipeline_id = await session.scalar(select(Pipeline.id).where(Pipeline.is_default.is_(True)))
    statuses = (
        await session.scalars(
            select(PipelineStatus).where(PipelineStatus.pipeline_id == pipeline_id).order_by(PipelineStatus.position)
        )
    ).all()
    reasons = (await session.scalars(select(LostReason).where(LostReason.active.is_(True)))).all()
    sources = list((await session.scalars(select(LeadSource.name).where(LeadSource.active.is_(True)))).all())
    weights = [WEIGHTS.get(s.name, 3) for s in statuses]

    def owner() -> tuple[int | None, int | None]:
        user_id, team_id = rng.choice(owners)
        return (user_id or None), team_id

    # Clients (and their contacts) first: won leads become them.
    client_rows: list[dict[str, Any]] = []
    used_vat: set[str | None] = set()
    for _ in range(clients):
        name = _company(rng)
        vat = f"RO{rng.randrange(1_000_000, 49_999_999)}"
        if vat_key(vat) in used_vat:
            continue
        used_vat.add(vat_key(vat))
        user_id, team_id = owner()
        client_rows.append(
            {
                "name": name,
                "vat_number": vat,
                "vat_key": vat_key(vat),
                "email": f"office@{_slug(name)}.ro",
                "phone": _phone(rng),
                "address": f"Str. {rng.choice(LAST)} {rng.randrange(1, 120)}, {rng.choice(CITIES)}",
                "website": f"https://{_slug(name)}.ro",
                "owner_id": user_id,
                "team_id": team_id,
                "is_vendor": rng.random() < 0.08,
                "created_at": now - timedelta(days=rng.randrange(30, 720)),
            }
        )
    client_ids = await copy_rows(session, Client, client_rows, with_ids=True)
    contact_rows: list[dict[str, Any]] = []
    for client_id in client_ids:
        for _ in range(rng.randrange(1, 4)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            contact_rows.append(
                {
                    "client_id": client_id,
                    "name": f"{first} {last}",
                    "phone": _phone(rng),
                    "email": f"{_slug(first)}.{_slug(last)}@example.com",
                    "position": rng.choice(("CEO", "CFO", "Purchasing", "IT manager", "Owner")),
                }
            )
    await copy_rows(session, Contact, contact_rows)

    lead_rows: list[dict[str, Any]] = []
    kinds: list[PipelineStatus] = []
    for _ in range(leads):
        status = rng.choices(statuses, weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = _company(rng) if rng.random() < 0.85 else None
        created = now - timedelta(days=rng.randrange(0, 240), minutes=rng.randrange(0, 1440))
        changed = min(now, created + timedelta(days=rng.randrange(0, 30), minutes=rng.randrange(0, 600)))
        user_id, team_id = owner()
        reason = rng.choice(reasons) if status.kind == "lost" and reasons else None
        row: dict[str, Any] = {
            "person_name": f"{first} {last}",
            "company": company,
            "email": f"{_slug(first)}.{_slug(last)}{rng.randrange(100)}@{_slug(company or 'gmail')}.ro",
            "phone": _phone(rng) if rng.random() < 0.9 else None,
            "source": rng.choice(sources) if sources else None,
            "pipeline_id": pipeline_id,
            "status_id": status.id,
            "owner_id": user_id,
            "team_id": team_id,
            "value": Decimal(rng.randrange(5, 500) * 100) if rng.random() < 0.8 else None,
            "territory": rng.choice(TERRITORIES),
            "product_interest": rng.choice(PRODUCTS),
            "tags": rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2))),
            "expected_close_date": (now + timedelta(days=rng.randrange(-30, 120))).date(),
            "lost_reason_id": reason.id if reason else None,
            "lost_reason_text": "Chose to build it in-house." if reason and reason.requires_text else None,
            "created_at": created,
            "updated_at": changed,
            "status_changed_at": changed,
            "closed_at": changed if status.kind != "open" else None,
            "converted_client_id": rng.choice(client_ids) if status.kind == "won" and client_ids else None,
        }
        row["currency"] = rng.choice(("EUR", "EUR", "RON")) if row["value"] is not None else None
        lead_rows.append(row)
        kinds.append(status)
    lead_ids = await copy_rows(session, Lead, lead_rows, with_ids=True)

    notes: list[dict[str, Any]] = []
    follow_ups: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for lead_id, row, status in zip(lead_ids, lead_rows, kinds, strict=True):
        opened: datetime = row["created_at"]
        history.append(
            {
                "at": opened,
                "actor_id": row["owner_id"],
                "entity": "lead",
                "entity_id": lead_id,
                "action": "created",
                "changes": [
                    {"field": "person_name", "old": None, "new": row["person_name"]},
                    {"field": "status", "old": None, "new": "Open"},
                ],
            }
        )
        if status.name != "Open":
            history.append(
                {
                    "at": row["status_changed_at"],
                    "actor_id": row["owner_id"],
                    "entity": "lead",
                    "entity_id": lead_id,
                    "action": "status_changed",
                    "changes": [{"field": "status", "old": "Open", "new": status.name}],
                }
            )
        for i in range(rng.choice((0, 1, 1, 2, 3))):
            notes.append(
                {
                    "lead_id": lead_id,
                    "client_id": row["converted_client_id"],
                    "author_id": row["owner_id"],
                    "body": rng.choice(NOTES),
                    "created_at": opened + timedelta(hours=6 * (i + 1)),
                }
            )
        if status.kind == "open":
            due = now + timedelta(days=rng.randrange(-3, 15), hours=rng.randrange(8, 17) - now.hour)
            follow_ups.append(
                {
                    "lead_id": lead_id,
                    "kind": rng.choice(("call", "email", "whatsapp", "meeting")),
                    "due_at": due,
                    "notes": rng.choice(NOTES),
                    "owner_id": row["owner_id"],
                    "team_id": row["team_id"],
                    "status": "open",
                    "created_by": row["owner_id"],
                    # past ones count as reminded: the demo must not start with a flood
                    "reminders_sent": 7 if due < now else 0,
                }
            )
        if rng.random() < 0.5:
            follow_ups.append(
                {
                    "lead_id": lead_id,
                    "client_id": row["converted_client_id"],
                    "kind": "call",
                    "due_at": opened + timedelta(days=2),
                    "owner_id": row["owner_id"],
                    "team_id": row["team_id"],
                    "status": "done",
                    "outcome": rng.choice(OUTCOMES),
                    "completed_at": opened + timedelta(days=2, hours=1),
                    "completed_by": row["owner_id"],
                    "created_by": row["owner_id"],
                    "reminders_sent": 7,
                    "notes": "",
                }
            )
    await copy_rows(session, Note, notes)
    await copy_rows(session, FollowUp, follow_ups)
    await copy_rows(session, AuditEntry, history)
    return {
        "clients": len(client_ids),
        "contacts": len(contact_rows),
        "leads": len(lead_ids),
        "notes": len(notes),
        "follow_ups": len(follow_ups),
    }
