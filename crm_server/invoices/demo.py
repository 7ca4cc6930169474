"""Demo invoices and proposals: forty invoices over the last six months in every status (drafts,
unpaid, partially paid, paid, overdue, one cancelled with its credit note, one recurring monthly)
and fifteen proposals in every status (one on a lead, one expired, one converted into an invoice),
and a dozen of them in the sent-invoices email log (one bounced).

Everything goes through the real services (numbers, totals, payments, recurrence, audit), so the
demo shows what the app makes; only `created_at` is moved back afterwards to the invoice's date,
as if it had been written then, and the email log is written as the send job would have left it
(the demo has no SMTP server)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.models import Role, User
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.common import VersionIn
from crm_server.contract.invoices import (
    InvoiceIn,
    IssueIn,
    LineIn,
    PaymentIn,
    PaymentMethod,
    RecurrenceIn,
    RecurrenceUpdate,
    RecurUnit,
)
from crm_server.contract.proposals import ProposalIn, ProposalStatus, ProposalUpdate, StatusIn
from crm_server.invoices import service
from crm_server.invoices.models import Invoice, InvoiceEmail
from crm_server.invoices.recurring import set_recurrence
from crm_server.leads.models import Lead
from crm_server.products.models import Product
from crm_server.proposals import service as proposals

# How many invoices of each status the demo has (the test checks these; the converted proposal's
# invoice is one of the paid ones, the recurring source another).
INVOICE_STATUSES = {"draft": 5, "unpaid": 7, "partially_paid": 4, "paid": 17, "overdue": 6, "cancelled": 1}
# The proposals, in order: (status, on a lead, expired, converted).
PROPOSAL_PLAN: tuple[tuple[ProposalStatus, bool, bool, bool], ...] = (
    (ProposalStatus.draft, False, False, False),
    (ProposalStatus.draft, True, False, False),
    (ProposalStatus.draft, False, False, False),
    (ProposalStatus.sent, False, False, False),
    (ProposalStatus.sent, False, False, False),
    (ProposalStatus.sent, False, True, False),
    (ProposalStatus.open, False, False, False),
    (ProposalStatus.open, False, False, False),
    (ProposalStatus.revised, False, False, False),
    (ProposalStatus.revised, False, False, False),
    (ProposalStatus.accepted, False, False, False),
    (ProposalStatus.accepted, False, False, False),
    (ProposalStatus.accepted, False, False, True),
    (ProposalStatus.declined, False, False, False),
    (ProposalStatus.declined, False, False, False),
)
TITLES = (
    "POS rollout",
    "Support contract renewal",
    "Warehouse scanners",
    "CRM licences for the new office",
    "Training for the sales team",
    "Network upgrade",
    "Web shop connector",
    "Printer refresh",
)
S = ProposalStatus
# The moves from draft that end in each status (set_status checks each one).
PATHS: dict[ProposalStatus, tuple[ProposalStatus, ...]] = {
    S.draft: (),
    S.sent: (S.sent,),
    S.open: (S.sent, S.open),
    S.revised: (S.sent, S.revised),
    S.accepted: (S.sent, S.accepted),
    S.declined: (S.sent, S.declined),
}


async def principal_of(session: AsyncSession, user_id: int) -> Principal:
    user = await session.get_one(User, user_id)
    role = await session.get_one(Role, user.role_id)
    return Principal(user_id=user.id, team_id=user.team_id, role_id=role.id, permissions=role.permissions)


def _lines(rng: random.Random, products: list[Product]) -> list[LineIn]:
    chosen = rng.sample(products, k=rng.randint(1, 4))
    return [
        LineIn(
            product_id=p.id,
            quantity=Decimal(rng.choice((1, 1, 2, 3, 5, 10))),
            discount_percent=Decimal(rng.choice((0, 0, 0, 5, 10))),
        )
        for p in chosen
    ]


async def _invoice(
    session: AsyncSession,
    actor: Principal,
    rng: random.Random,
    client_id: int,
    products: list[Product],
    status: str,
    issued: date | None,
    today: date,
) -> Invoice:
    """One invoice taken to `status` the way a user would: draft, issue, payments."""
    due = issued + timedelta(days=14 if status == "overdue" else 30) if issued else None
    invoice = await service.create_draft(
        session, actor, InvoiceIn(client_id=client_id, issue_date=issued, due_date=due, lines=_lines(rng, products))
    )
    if status == "draft":
        return invoice
    return await _take(session, actor, rng, invoice, status, today)


async def _take(
    session: AsyncSession, actor: Principal, rng: random.Random, invoice: Invoice, status: str, today: date
) -> Invoice:
    """Issue a draft and record what moves it to `status`."""
    invoice = await service.issue_invoice(session, actor, invoice.id, IssueIn(version=invoice.version))
    issued = invoice.issue_date
    assert issued is not None
    if status == "cancelled":
        invoice, _ = await service.cancel_invoice(session, actor, invoice.id, VersionIn(version=invoice.version))
        return invoice
    gross = invoice.gross_total
    paid_on = _not_after(issued + timedelta(days=rng.randint(3, 25)), today)
    method = rng.choice((PaymentMethod.transfer, PaymentMethod.transfer, PaymentMethod.card, PaymentMethod.stripe))
    if status in ("partially_paid", "overdue") and rng.random() < (1.0 if status == "partially_paid" else 0.3):
        part = (gross * Decimal(rng.choice(("0.3", "0.4", "0.5")))).quantize(Decimal("0.01"))
        await service.add_payment(
            session,
            actor,
            invoice.id,
            PaymentIn(amount=part, paid_on=paid_on, method=method, reference=f"Part of {invoice.number}"),
        )
    elif status == "paid":
        if rng.random() < 0.3 and gross > 10:  # paid in two instalments
            first = (gross / 2).quantize(Decimal("0.01"))
            await service.add_payment(
                session, actor, invoice.id, PaymentIn(amount=first, paid_on=paid_on, method=method)
            )
            second = _not_after(paid_on + timedelta(days=rng.randint(5, 20)), today)
            await service.add_payment(
                session, actor, invoice.id, PaymentIn(amount=gross - first, paid_on=second, method=method)
            )
        else:
            await service.add_payment(
                session,
                actor,
                invoice.id,
                PaymentIn(amount=gross, paid_on=paid_on, method=method, reference=invoice.number),
            )
    return invoice


def _not_after(day: date, today: date) -> date:
    return day if day <= today else today


def _issue_day(status: str, rng: random.Random, today: date) -> date | None:
    """A plausible issue date for an invoice that ends in `status` (unpaid ones are recent)."""
    days = {
        "draft": None,
        "unpaid": (1, 25),
        "partially_paid": (5, 25),
        "paid": (20, 180),
        "overdue": (45, 170),
        "cancelled": (30, 90),
    }[status]
    return None if days is None else today - timedelta(days=rng.randint(*days))


async def seed_invoices(session: AsyncSession, admin_id: int, rng: random.Random) -> dict[str, int]:
    """The demo's invoices and proposals; returns how many of each were made."""
    today = date.today()
    admin = await principal_of(session, admin_id)
    currency = await settings.get(session, "sales.base_currency")
    products = list(
        (
            await session.scalars(
                select(Product).where(Product.active.is_(True), Product.currency == currency).order_by(Product.id)
            )
        ).all()
    )
    clients = list(
        (
            await session.execute(
                select(Client.id, Client.owner_id, Client.team_id)
                .where(Client.archived_at.is_(None), Client.is_vendor.is_(False))
                .order_by(Client.id)
            )
        ).all()
    )
    if not products or not clients:
        return {"invoices": 0, "proposals": 0}
    dated: list[tuple[date | None, str]] = [
        (_issue_day(status, rng, today), status) for status, n in INVOICE_STATUSES.items() for _ in range(n)
    ]
    dated.pop(next(i for i, (_, s) in enumerate(dated) if s == "paid"))  # the converted proposal's one
    dated.sort(key=lambda d: d[0] or today)  # oldest first, so ids follow the dates as in real life
    backdate: dict[int, date] = {}
    recurring: Invoice | None = None
    for issued, status in dated:
        client = rng.choice(clients)
        invoice = await _invoice(session, admin, rng, client.id, products, status, issued, today)
        backdate[invoice.id] = issued or today - timedelta(days=rng.randint(0, 3))
        if recurring is None and status == "paid" and issued is not None and issued > today - timedelta(days=60):
            recurring = invoice
    if recurring is not None:
        # A monthly service contract: the next one is made by the recurring job on its date.
        await set_recurrence(
            session,
            admin,
            recurring.id,
            RecurrenceUpdate(
                version=recurring.version, recurrence=RecurrenceIn(every=1, unit=RecurUnit.month, cycles=12)
            ),
        )
    await service.mark_overdue(session, today)
    made = await _seed_proposals(session, rng, clients, products, today, backdate)
    for invoice_id, day in backdate.items():
        await session.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(created_at=datetime.combine(day, time(9, rng.randint(0, 59)), UTC))
        )
    emails = await _seed_email_log(session, admin_id, rng)
    return {"invoices": len(backdate), "proposals": made, "emails": emails}


async def _seed_email_log(session: AsyncSession, admin_id: int, rng: random.Random) -> int:
    """The sent-invoices log: most issued invoices went out by email on their day, one bounced (the
    demo has no SMTP server, so these are written as the send job would have left them)."""
    issued = (
        await session.scalars(
            select(Invoice).where(Invoice.kind == "invoice", Invoice.number.is_not(None)).order_by(Invoice.id)
        )
    ).all()
    made = 0
    for n, invoice in enumerate(issued[:12]):
        client = await session.get_one(Client, invoice.client_id)
        to = client.email or f"accounts@{client.name.split()[0].lower()}.example"
        assert invoice.issue_date is not None
        at = datetime.combine(invoice.issue_date, time(10, rng.randint(0, 59)), UTC)
        failed = n == 3
        session.add(
            InvoiceEmail(
                invoice_id=invoice.id,
                recipient=to,
                subject=f"Invoice {invoice.number}",
                body="Please find the invoice attached.",
                status="failed" if failed else "sent",
                attempts=3 if failed else 1,
                error=f"SMTPRecipientsRefused: 550 5.1.1 <{to}>: Recipient address rejected: User unknown"
                if failed
                else None,
                sent_at=None if failed else at,
                created_by=admin_id,
                created_at=at,
            )
        )
        invoice.send_status = "failed" if failed else "sent"
        invoice.sent_at = None if failed else at
        invoice.send_error = f"550 5.1.1 <{to}>: Recipient address rejected: User unknown" if failed else None
        made += 1
    await session.flush()
    return made


async def _seed_proposals(
    session: AsyncSession,
    rng: random.Random,
    clients: Sequence[Any],
    products: list[Product],
    today: date,
    backdate: dict[int, date],
) -> int:
    admin_id = await session.scalar(
        select(User.id).join(Role, Role.id == User.role_id).where(Role.name == "Admin").order_by(User.id).limit(1)
    )
    assert admin_id is not None
    actors: dict[int, Principal] = {}
    for n, (status, on_lead, expired, converted) in enumerate(PROPOSAL_PLAN):
        # Made by the owner of the client (or lead), who may propose to them; the converted one by
        # whoever may also create invoices (its client's owner if a manager, else the admin).
        client = rng.choice(clients)
        lead_id, client_id, owner_id = None, client.id, client.owner_id
        if on_lead:
            lead = (
                await session.execute(
                    select(Lead.id, Lead.owner_id)
                    .where(Lead.archived_at.is_(None), Lead.owner_id.is_not(None))
                    .order_by(Lead.id)
                    .limit(1)
                )
            ).first()
            if lead is not None:
                lead_id, client_id, owner_id = lead.id, None, lead.owner_id
        if owner_id is None or owner_id not in actors:
            actors[owner_id or admin_id] = await principal_of(session, owner_id or admin_id)
        actor = actors[owner_id or admin_id]
        if not actor.can("proposals", "create") or (converted and not actor.can("invoices", "create")):
            actor = actors.setdefault(admin_id, await principal_of(session, admin_id))
        valid_until = (
            today - timedelta(days=rng.randint(3, 20)) if expired else today + timedelta(days=rng.randint(5, 40))
        )
        proposal = await proposals.create_proposal(
            session,
            actor,
            ProposalIn(
                lead_id=lead_id,
                client_id=client_id,
                title=TITLES[n % len(TITLES)],
                valid_until=valid_until,
                lines=_lines(rng, products),
            ),
        )
        for step in PATHS[status]:
            if step == S.revised and n % 2:  # one revised by editing the offer, the other by hand
                proposal = await proposals.update_proposal(
                    session, actor, proposal.id, ProposalUpdate(version=proposal.version, lines=_lines(rng, products))
                )
                continue
            proposal = await proposals.set_status(
                session, actor, proposal.id, StatusIn(version=proposal.version, status=step)
            )
        if converted:
            draft = await proposals.convert(session, actor, proposal.id)
            invoice = await _take(session, actor, rng, draft, "paid", today)
            backdate[invoice.id] = invoice.issue_date or today
    return len(PROPOSAL_PLAN)
