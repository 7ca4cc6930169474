"""The rules of proposals: lines priced like invoice lines (money.py), the status moves, expiry,
accept / decline with who and when, and conversion into an invoice draft through the invoices
service. Every change is audited and announced in the caller's transaction; nothing here commits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, delete, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, money, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.concurrency import check_version
from crm_server.contract.common import Page
from crm_server.contract.invoices import InvoiceIn, LineIn, LineOut
from crm_server.contract.proposals import (
    ALLOWED_MOVES,
    ConversionOut,
    ProposalIn,
    ProposalOut,
    ProposalQuery,
    ProposalStatus,
    ProposalUpdate,
    StatusIn,
)
from crm_server.db import utcnow
from crm_server.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from crm_server.invoices import service as invoices
from crm_server.invoices.models import Invoice
from crm_server.leads.models import Lead
from crm_server.paging import like_pattern
from crm_server.proposals.models import Proposal, ProposalLine

MODULE = "proposals"
VALID_DAYS = 30  # a new proposal's default validity
REOPEN_DAYS = 7  # an expired proposal set back to open is valid this much longer
FIELDS = (
    "status",
    "revision",
    "number",
    "lead_id",
    "client_id",
    "title",
    "currency",
    "valid_until",
    "notes",
    "net_total",
    "tax_total",
    "gross_total",
    "accepted_by",
    "declined_by",
    "converted_invoice_id",
)
S = ProposalStatus
# Changing these on a sent or open proposal changes the offer: it becomes revised.
OFFER_FIELDS = {"lines", "currency", "lead_id", "client_id"}
PARTY_NAME: Any = type_coerce(
    func.coalesce(
        select(Client.name).where(Client.id == Proposal.client_id).correlate(Proposal).scalar_subquery(),
        select(func.concat_ws(", ", Lead.person_name, Lead.company))
        .where(Lead.id == Proposal.lead_id)
        .correlate(Proposal)
        .scalar_subquery(),
    ),
    String,
).label("party_name")
# The number of the invoice a converted proposal became (none while that invoice is a draft).
INVOICE_NUMBER: Any = (
    select(Invoice.number)
    .where(Invoice.id == Proposal.converted_invoice_id)
    .correlate(Proposal)
    .scalar_subquery()
    .label("converted_invoice_number")
)
SORTS: dict[str, Any] = {
    "number": Proposal.id,
    "valid_until": Proposal.valid_until,
    "gross_total": Proposal.gross_total,
    "created_at": Proposal.created_at,
    "updated_at": Proposal.updated_at,
}


def fields(proposal: Proposal) -> dict[str, Any]:
    return {n: getattr(proposal, n) for n in FIELDS}


def announce(session: AsyncSession, actor_id: int | None, proposal: Proposal, action: str) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="proposal",
        entity_id=proposal.id,
        action=action,
        actor_id=actor_id,
        owner_id=proposal.owner_id,
        team_id=proposal.team_id,
        data={"number": proposal.number, "status": proposal.status, "version": proposal.version},
    )


def _record(
    session: AsyncSession, actor_id: int | None, proposal: Proposal, action: str, before: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor_id=actor_id,
        entity="proposal",
        entity_id=proposal.id,
        action=action,
        changes=audit.diff(before, fields(proposal)),
    )
    announce(session, actor_id, proposal, "created" if action == "created" else "updated")


# --- reading -------------------------------------------------------------------------------------


async def visible_proposal(
    session: AsyncSession, principal: Principal, proposal_id: int, *, lock: bool = False
) -> Proposal:
    """The proposal, if this user may see it; otherwise 404 (whether it exists is not told)."""
    proposal = await session.get(Proposal, proposal_id, with_for_update=lock, populate_existing=lock)
    if proposal is None or not principal.sees(MODULE, proposal.owner_id, proposal.team_id):
        raise NotFound("No such proposal.")
    return proposal


async def proposal_out(session: AsyncSession, proposal: Proposal) -> ProposalOut:
    """One proposal with its client's or lead's name and its lines."""
    await session.flush()
    name, invoice_number = (
        await session.execute(select(PARTY_NAME, INVOICE_NUMBER).where(Proposal.id == proposal.id))
    ).one()
    lines = (
        await session.scalars(
            select(ProposalLine).where(ProposalLine.proposal_id == proposal.id).order_by(ProposalLine.position)
        )
    ).all()
    return ProposalOut.model_validate(proposal).model_copy(
        update={
            "party_name": name or "",
            "converted_invoice_number": invoice_number,
            "lines": [LineOut.model_validate(line) for line in lines],
        }
    )


def _conditions(principal: Principal, query: ProposalQuery) -> list[ColumnElement[bool]]:
    where = [principal.scope_filter(MODULE, Proposal.owner_id, Proposal.team_id)]
    if query.status is not None:
        where.append(Proposal.status == query.status.value)
    if query.client_id is not None:
        where.append(Proposal.client_id == query.client_id)
    if query.lead_id is not None:
        where.append(Proposal.lead_id == query.lead_id)
    if query.q and query.q.strip():
        pattern = like_pattern(query.q)
        where.append(
            or_(
                func.lower(Proposal.number).like(pattern, escape="\\"),
                func.lower(Proposal.title).like(pattern, escape="\\"),
                Proposal.client_id.in_(select(Client.id).where(Client.search_text.like(pattern, escape="\\"))),
                Proposal.lead_id.in_(select(Lead.id).where(Lead.search_text.like(pattern, escape="\\"))),
            )
        )
    return where


async def list_proposals(session: AsyncSession, principal: Principal, query: ProposalQuery) -> Page[ProposalOut]:
    """A page of proposals, without their lines (stored totals, nothing recomputed)."""
    column = SORTS[query.sort.lstrip("-")]
    order = paging.sort_order(column, Proposal.id, query.sort.startswith("-"))

    def named(row: Any) -> ProposalOut:
        return ProposalOut.model_validate(row[0]).model_copy(
            update={"party_name": row[1] or "", "converted_invoice_number": row[2]}
        )

    stmt = select(Proposal, PARTY_NAME, INVOICE_NUMBER).where(*_conditions(principal, query))
    return await paging.page(session, stmt, query.offset, query.limit, named, order, whole_rows=True, after=query.after)


# --- writing -------------------------------------------------------------------------------------


async def _party(
    session: AsyncSession, actor: Principal, lead_id: int | None, client_id: int | None
) -> tuple[int | None, int | None]:
    """Exactly one of a lead and a client, existing, not archived and visible to the user."""
    if (lead_id is None) == (client_id is None):
        raise ValidationFailed(
            "A proposal is for a lead or for a client: choose exactly one.",
            field="client_id" if client_id is not None else "lead_id",
        )
    if client_id is not None:
        client = await invoices.billable_client(session, client_id)
        if not actor.sees("clients", client.owner_id, client.team_id):
            raise ValidationFailed("No such client.", field="client_id")
        return None, client.id
    lead = await session.get(Lead, lead_id)
    if lead is None or not actor.sees("leads", lead.owner_id, lead.team_id):
        raise ValidationFailed("No such lead.", field="lead_id")
    if lead.archived_at is not None:
        raise ValidationFailed("This lead is archived; restore it first.", field="lead_id")
    return lead.id, None


async def _replace_lines(session: AsyncSession, proposal: Proposal, lines: list[LineIn]) -> None:
    """Drop the lines, write the new ones (validated and priced as invoice lines are) and store
    the totals money.py gives for them."""
    values = [await invoices.priced_line(session, i, line, proposal.currency) for i, line in enumerate(lines)]
    rounding = money.tax_rounding(await settings.get(session, "sales.tax_rounding"))
    totals = money.document_totals(
        [
            money.Line(
                quantity=v["quantity"],
                unit_price=v["unit_price"],
                tax_rate=v["tax_percent"],
                discount_percent=v["discount_percent"],
            )
            for v in values
        ],
        proposal.currency,
        rounding,
    )
    await session.execute(delete(ProposalLine).where(ProposalLine.proposal_id == proposal.id))
    for v, total in zip(values, totals.lines, strict=True):
        session.add(ProposalLine(proposal_id=proposal.id, net=total.net, tax=total.tax, gross=total.gross, **v))
    proposal.net_total, proposal.tax_total, proposal.gross_total = totals.net, totals.tax, totals.gross


async def _current_lines(session: AsyncSession, proposal: Proposal) -> list[LineIn]:
    rows = (
        await session.scalars(
            select(ProposalLine).where(ProposalLine.proposal_id == proposal.id).order_by(ProposalLine.position)
        )
    ).all()
    return [
        LineIn(
            product_id=r.product_id,
            description=r.description,
            quantity=r.quantity,
            unit_price=r.unit_price,
            discount_percent=r.discount_percent,
            tax_rate_id=r.tax_rate_id,
        )
        for r in rows
    ]


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


async def create_proposal(session: AsyncSession, actor: Principal, data: ProposalIn) -> Proposal:
    """A draft owned by its creator (and their team), numbered P-1001, P-1002, ... by its id."""
    lead_id, client_id = await _party(session, actor, data.lead_id, data.client_id)
    currency = invoices.checked_currency(data.currency or str(await settings.get(session, "sales.base_currency")))
    proposal = Proposal(
        status=S.draft.value,
        lead_id=lead_id,
        client_id=client_id,
        title=_text(data.title),
        currency=currency,
        valid_until=data.valid_until or date.today() + timedelta(days=VALID_DAYS),
        notes=_text(data.notes),
        owner_id=actor.user_id,
        team_id=actor.team_id,
        created_by=actor.user_id,
    )
    session.add(proposal)
    await session.flush()
    proposal.number = f"P-{1000 + proposal.id}"
    await _replace_lines(session, proposal, data.lines)
    await session.flush()
    _record(session, actor.user_id, proposal, "created", {})
    return proposal


async def _locked(session: AsyncSession, actor: Principal, proposal_id: int, version: int) -> Proposal:
    proposal = await visible_proposal(session, actor, proposal_id, lock=True)
    check_version(proposal, version)
    return proposal


def _closed(proposal: Proposal) -> Conflict:
    return Conflict(
        f"Proposal {proposal.number} is {proposal.status}; it can no longer be changed.", field="status", code="closed"
    )


async def update_proposal(session: AsyncSession, actor: Principal, proposal_id: int, data: ProposalUpdate) -> Proposal:
    """Edit (lines replaced as a whole). A sent or open proposal whose offer changes becomes revised."""
    proposal = await _locked(session, actor, proposal_id, data.version)
    if proposal.status in (S.accepted, S.declined):
        raise _closed(proposal)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    before = fields(proposal)
    if "lead_id" in changes or "client_id" in changes:
        lead_id = (
            changes.get("lead_id")
            if "lead_id" in changes
            else (None if changes.get("client_id") is not None else proposal.lead_id)
        )
        client_id = (
            changes.get("client_id")
            if "client_id" in changes
            else (None if changes.get("lead_id") is not None else proposal.client_id)
        )
        proposal.lead_id, proposal.client_id = await _party(session, actor, lead_id, client_id)
    for key in ("title", "notes"):
        if key in changes:
            setattr(proposal, key, _text(changes[key]))
    if changes.get("valid_until") is not None:
        proposal.valid_until = changes["valid_until"]
    if changes.get("currency") is not None:
        proposal.currency = invoices.checked_currency(changes["currency"])
    if data.lines is not None or changes.get("currency") is not None:
        lines = data.lines if data.lines is not None else await _current_lines(session, proposal)
        await _replace_lines(session, proposal, lines)
        proposal.updated_at = utcnow()  # lines live in their own table: the version moves too
    if proposal.status in (S.sent, S.open) and OFFER_FIELDS & changes.keys():
        proposal.status = S.revised.value
        proposal.revision += 1
    await session.flush()
    if audit.diff(before, fields(proposal)) or data.lines is not None:
        _record(session, actor.user_id, proposal, "updated", before)
    return proposal


async def set_status(session: AsyncSession, actor: Principal, proposal_id: int, data: StatusIn) -> Proposal:
    """Move along ALLOWED_MOVES; accepting and declining record who and when; an expired proposal
    set back to open stays valid for another REOPEN_DAYS from today."""
    proposal = await _locked(session, actor, proposal_id, data.version)
    current, target = S(proposal.status), data.status
    if target not in ALLOWED_MOVES[current]:
        allowed = ", ".join(sorted(ALLOWED_MOVES[current])) or "none: it is final"
        raise Conflict(
            f"A {current} proposal cannot be set to {target} (allowed: {allowed}).",
            field="status",
            code="status_not_allowed",
        )
    before = fields(proposal)
    today, now = date.today(), utcnow()
    proposal.status = target.value
    if target == S.sent:
        proposal.sent_at = now
    elif target == S.open and proposal.valid_until < today:
        proposal.valid_until = today + timedelta(days=REOPEN_DAYS)
    elif target == S.revised:
        proposal.revision += 1
    elif target == S.accepted:
        proposal.accepted_by, proposal.accepted_at = actor.user_id, now
    elif target == S.declined:
        proposal.declined_by, proposal.declined_at = actor.user_id, now
    await session.flush()
    _record(session, actor.user_id, proposal, target.value, before)
    return proposal


# --- conversion into an invoice draft ------------------------------------------------------------


async def _conversion_refusal(session: AsyncSession, actor: Principal, proposal: Proposal) -> AppError | None:
    """Why this proposal cannot become an invoice draft now (None: it can). Rules in order: not
    twice; the user must hold invoices.create; invoices are for clients, not leads; only an
    accepted proposal is invoiced."""
    if proposal.converted_invoice_id is not None:
        invoice = await session.get(Invoice, proposal.converted_invoice_id)
        name = (
            f"invoice {invoice.number}"
            if invoice is not None and invoice.number
            else (f"draft invoice #{proposal.converted_invoice_id}")
        )
        return Conflict(
            f"Proposal {proposal.number} is already converted into {name}.",
            code="already_converted",
            extra={"invoice_id": proposal.converted_invoice_id},
        )
    if not actor.can("invoices", "create"):
        return Forbidden(
            "Converting a proposal creates an invoice: you need the invoices.create permission.",
            code="forbidden",
            extra={"permission": "invoices.create"},
        )
    if proposal.client_id is None:
        return ValidationFailed(
            "This proposal is for a lead. Convert the lead to a client first.", field="lead_id", code="lead_not_client"
        )
    if proposal.status != S.accepted:
        return Conflict(
            f"Only an accepted proposal can be converted into an invoice (this one is {proposal.status}).",
            field="status",
            code="not_accepted",
        )
    return None


async def conversion(session: AsyncSession, principal: Principal, proposal_id: int) -> ConversionOut:
    proposal = await visible_proposal(session, principal, proposal_id)
    refusal = await _conversion_refusal(session, principal, proposal)
    if refusal is None:
        return ConversionOut(possible=True, invoice_id=proposal.converted_invoice_id)
    return ConversionOut(
        possible=False, reason=refusal.message, code=refusal.code, invoice_id=proposal.converted_invoice_id
    )


async def convert(session: AsyncSession, actor: Principal, proposal_id: int) -> Invoice:
    """Make the invoice draft (through the invoices service: same lines, client and currency) and
    link the proposal to it; both in the caller's transaction."""
    proposal = await visible_proposal(session, actor, proposal_id, lock=True)
    refusal = await _conversion_refusal(session, actor, proposal)
    if refusal is not None:
        raise refusal
    assert proposal.client_id is not None
    notes = f"From proposal {proposal.number}" + (f": {proposal.title}" if proposal.title else ".")
    invoice = await invoices.create_draft(
        session,
        actor,
        InvoiceIn(
            client_id=proposal.client_id,
            currency=proposal.currency,
            notes=notes,
            lines=await _current_lines(session, proposal),
        ),
    )
    before = fields(proposal)
    proposal.converted_invoice_id = invoice.id
    await session.flush()
    _record(session, actor.user_id, proposal, "converted", before)
    return invoice
