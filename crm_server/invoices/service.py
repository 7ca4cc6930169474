"""The rules of invoices: drafts (lines priced with money.py), issuing with a gapless number,
payments that move the status, cancellation by a credit note, and the overdue sweep. Every change
is audited and announced in the caller's transaction; nothing here commits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, any_, delete, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, keyset, money, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.concurrency import check_version
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.invoices import (
    OPEN_STATUSES,
    InvoiceAction,
    InvoiceIn,
    InvoiceOut,
    InvoiceQuery,
    InvoiceStatus,
    InvoiceUpdate,
    IssueIn,
    LineIn,
    LineOut,
    PaymentIn,
    PaymentOut,
    RecurrenceOut,
    RecurUnit,
    RefundIn,
    RefundOut,
    invoice_allows,
)
from crm_server.db import utcnow
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.invoices import numbering, reservations
from crm_server.invoices.models import Invoice, InvoiceLine, Payment, PaymentRefund
from crm_server.paging import like_pattern
from crm_server.products.models import Product, TaxRate

MODULE = "invoices"
FIELDS = (
    "status",
    "number",
    "client_id",
    "currency",
    "issue_date",
    "due_date",
    "notes",
    "net_total",
    "tax_total",
    "gross_total",
    "paid_total",
)
OPEN = tuple(s.value for s in OPEN_STATUSES)
CLIENT_NAME = (
    select(Client.name).where(Client.id == Invoice.client_id).correlate(Invoice).scalar_subquery().label("client_name")
)
# Rows counted past the page's end before the total becomes "at least" (see list_invoices).
COUNT_CAP = 10_000
# An issue-date range at most this long is sorted whole (see list_invoices).
SHORT_RANGE = timedelta(days=92)
NUMBER_START = re.compile(r"[A-Z]{1,10}-\d{4}(-\d*)?")  # a series, its year, and maybe digits
# The list's sorts as expressions no index provides (see list_invoices: a small set is sorted whole).
UNINDEXED: dict[str, Any] = {
    "number": Invoice.number.concat(""),
    "issue_date": Invoice.issue_date + 0,
    "due_date": Invoice.due_date + 0,
    "gross_total": Invoice.gross_total + 0,
    "created_at": Invoice.created_at + timedelta(0),
}
SORTS: dict[str, Any] = {
    "number": Invoice.number,
    "issue_date": Invoice.issue_date,
    "due_date": Invoice.due_date,
    "gross_total": Invoice.gross_total,
    "created_at": Invoice.created_at,
}


def fields(invoice: Invoice) -> dict[str, Any]:
    return {n: getattr(invoice, n) for n in FIELDS}


def announce(session: AsyncSession, actor_id: int | None, invoice: Invoice, action: str) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="invoice",
        entity_id=invoice.id,
        action=action,
        actor_id=actor_id,
        owner_id=invoice.owner_id,
        team_id=invoice.team_id,
        data={"number": invoice.number, "status": invoice.status, "version": invoice.version},
    )


def _record(session: AsyncSession, actor_id: int | None, invoice: Invoice, action: str, before: dict[str, Any]) -> None:
    audit.record(
        session,
        actor_id=actor_id,
        entity="invoice",
        entity_id=invoice.id,
        action=action,
        changes=audit.diff(before, fields(invoice)),
    )
    announce(session, actor_id, invoice, "created" if action in ("created", "credit_note") else "updated")


# --- reading -------------------------------------------------------------------------------------


async def visible_invoice(
    session: AsyncSession, principal: Principal | None, invoice_id: int, *, lock: bool = False
) -> Invoice:
    """The invoice, if this user may see it; otherwise 404 (whether it exists is not told). The
    system (`principal` None: the recurring job) sees every invoice."""
    invoice = await session.get(Invoice, invoice_id, with_for_update=lock, populate_existing=lock)
    if invoice is None or (principal is not None and not principal.sees(MODULE, invoice.owner_id, invoice.team_id)):
        raise NotFound("No such invoice.")
    return invoice


async def invoice_out(session: AsyncSession, invoice: Invoice) -> InvoiceOut:
    """One invoice with its client's name and its lines."""
    await session.flush()
    name = await session.scalar(select(Client.name).where(Client.id == invoice.client_id))
    lines = (
        await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
        )
    ).all()
    return InvoiceOut.model_validate(invoice).model_copy(
        update={
            "client_name": name or "",
            "lines": [LineOut.model_validate(line) for line in lines],
            "recurrence": recurrence_out(invoice),
        }
    )


def recurrence_out(invoice: Invoice) -> RecurrenceOut | None:
    """The invoice's recurrence rule as the desktop shows it (None: it does not recur)."""
    if invoice.recur_every is None or invoice.recur_unit is None:
        return None
    return RecurrenceOut(
        every=invoice.recur_every,
        unit=RecurUnit(invoice.recur_unit),
        cycles=invoice.recur_cycles,
        done=invoice.recur_done,
        next_on=invoice.recur_next_on,
        last_skip=invoice.recur_last_skip,
    )


def _conditions(principal: Principal, query: InvoiceQuery, today: date) -> list[ColumnElement[bool]]:
    where = [principal.scope_filter(MODULE, Invoice.owner_id, Invoice.team_id)]
    if query.status is not None:
        where.append(Invoice.status == query.status.value)
    if query.kind is not None:
        where.append(Invoice.kind == query.kind.value)
    if query.client_id is not None:
        where.append(Invoice.client_id == query.client_id)
    if query.overdue:  # true even before the nightly job has marked it
        where += [Invoice.status.in_(OPEN), Invoice.due_date < today]
    if query.issued_from is not None:
        where.append(Invoice.issue_date >= query.issued_from)
    if query.issued_to is not None:
        where.append(Invoice.issue_date <= query.issued_to)
    if query.q and query.q.strip():
        pattern = like_pattern(query.q)
        # client_id = ANY(ARRAY(...)) rather than IN (subquery): the OR then becomes a BitmapOr of
        # the number's trigram index and the client_id index instead of a scan of every invoice.
        clients = func.array(select(Client.id).where(Client.search_text.like(pattern, escape="\\")).scalar_subquery())
        # The start of a number (INV-2026-0001...) is a prefix search on the number's pattern index:
        # its common trigrams ("inv", "-20") would make the trigram search read most of that index.
        start = query.q.strip().upper()
        by_number = (
            Invoice.number.like(f"{start}%")
            if NUMBER_START.fullmatch(start)
            else Invoice.number.ilike(pattern, escape="\\")
        )
        where.append(or_(by_number, Invoice.client_id == any_(clients)))
    return where


def order_by(sort: str, *, unindexed: bool = False) -> tuple[Any, ...]:
    """The ORDER BY of a list sort (`unindexed`: on `column + 0`, which no index serves)."""
    name = sort.lstrip("-")
    column = UNINDEXED[name] if unindexed else SORTS[name]
    return paging.sort_order(column, Invoice.id, sort.startswith("-"), nullable=SORTS[name].nullable)


async def list_invoices(session: AsyncSession, principal: Principal, query: InvoiceQuery) -> Page[InvoiceOut]:
    """A page of invoices, without their lines (stored totals, nothing recomputed).

    The total is counted up to COUNT_CAP rows past the page (a million invoices take longer to count
    than a page may); beyond that it is a lower bound and `total_exact` says so. A short issue-date
    range (SHORT_RANGE, a quarter: tens of thousands of rows at most) is sorted whole: walking the
    created_at index backwards to a range months ago (the planner's choice, as it cannot know the
    two dates go together) would read every newer invoice first.

    Each full page carries `next`; given back as `after`, the following page is an index range from
    the last row's key (empties last), not counted (see paging.page)."""

    def named(row: Any) -> InvoiceOut:
        return InvoiceOut.model_validate(row[0]).model_copy(
            update={"client_name": row[1] or "", "recurrence": recurrence_out(row[0])}
        )

    # Plan with this call's values: psycopg prepares a statement run five times, and PostgreSQL's
    # generic plan for it (no owner, status or limit known) scans the whole table for an own-scope
    # overdue list (150 ms instead of 12 on a million invoices). For this transaction only.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    where = _conditions(principal, query, date.today())
    order = order_by(query.sort)
    if query.after is not None:
        stmt = select(Invoice, CLIENT_NAME).where(*where)
        return await paging.page(
            session, stmt, query.offset, query.limit, named, order, whole_rows=True, after=query.after
        )
    cap = query.offset + query.limit + COUNT_CAP
    counted = (
        await session.scalar(
            select(func.count()).select_from(select(Invoice.id).where(*where).limit(cap + 1).subquery())
        )
        or 0
    )
    exact = counted <= cap
    ranged = (
        query.issued_from is not None
        and query.issued_to is not None
        and query.issued_to - query.issued_from <= SHORT_RANGE
    )
    if ranged:  # the page's ids sorted off the (issue_date, created_at, id) index, then their rows
        ids = (
            select(Invoice.id)
            .where(*where)
            .order_by(*order_by(query.sort, unindexed=True))
            .offset(query.offset)
            .limit(query.limit)
        )
        stmt = select(Invoice, CLIENT_NAME).where(Invoice.id.in_(ids.scalar_subquery())).order_by(*order)
    else:
        stmt = select(Invoice, CLIENT_NAME).where(*where).order_by(*order).offset(query.offset).limit(query.limit)
    rows = (await session.execute(stmt)).all()
    terms = keyset.terms(order)
    more = counted > query.offset + len(rows)
    following = await keyset.cursor_of(session, terms, rows[-1][0]) if terms and more and rows else None
    return Page[InvoiceOut](
        items=[named(r) for r in rows],
        total=counted,
        offset=query.offset,
        limit=query.limit,
        total_exact=exact,
        next=following,
    )


# --- drafts --------------------------------------------------------------------------------------


def checked_currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationFailed("Currency must be a 3-letter ISO 4217 code, e.g. EUR.", field="currency")
    if money.minor_unit(code) > 2:
        raise ValidationFailed(f"Invoices in {code} (3 decimals) are not supported.", field="currency")
    return code


async def billable_client(session: AsyncSession, client_id: int, actor: Principal | None = None) -> Client:
    """The client a document is for: existing, not archived and, for a person (`actor` given),
    one they may see; one they may not is "No such client", as if it did not exist."""
    client = await session.get(Client, client_id)
    if client is None or (actor is not None and not actor.sees("clients", client.owner_id, client.team_id)):
        raise ValidationFailed("No such client.", field="client_id")
    if client.archived_at is not None:
        raise ValidationFailed("This client is archived; restore it first.", field="client_id")
    return client


async def priced_line(session: AsyncSession, i: int, data: LineIn, currency: str) -> dict[str, Any]:
    """A line's stored values before totals: product defaults filled in, VAT percent copied."""
    at = f"lines.{i}"
    product = None
    if data.product_id is not None:
        product = await session.get(Product, data.product_id)
        if product is None:
            raise ValidationFailed("No such product.", field=f"{at}.product_id")
    description = (data.description or (product.name if product else "")).strip()
    if not description:
        raise ValidationFailed("A line without a product needs a description.", field=f"{at}.description")
    unit_price = data.unit_price
    if unit_price is None:
        if product is None:
            raise ValidationFailed("A line without a product needs a unit price.", field=f"{at}.unit_price")
        if product.currency != currency:
            raise ValidationFailed(
                f"The product is priced in {product.currency}; give the price in {currency}.", field=f"{at}.unit_price"
            )
        unit_price = product.unit_price
    if money.round_money(unit_price, currency) != unit_price:
        raise ValidationFailed(f"{currency} has no amounts this small.", field=f"{at}.unit_price")
    rate_id = data.tax_rate_id if data.tax_rate_id is not None else (product.tax_rate_id if product else None)
    rate = await session.get(TaxRate, rate_id) if rate_id is not None else None
    if rate is None or not rate.active:
        raise ValidationFailed("Choose an active VAT rate.", field=f"{at}.tax_rate_id")
    return {
        "position": i + 1,
        "product_id": data.product_id,
        "description": description,
        "quantity": data.quantity,
        "unit_price": unit_price,
        "discount_percent": data.discount_percent,
        "tax_rate_id": rate.id,
        "tax_percent": rate.rate,
    }


async def _replace_lines(session: AsyncSession, invoice: Invoice, lines: list[LineIn]) -> None:
    """Drop the draft's lines, write the new ones and store their totals as money.py gives them."""
    values = [await priced_line(session, i, line, invoice.currency) for i, line in enumerate(lines)]
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
        invoice.currency,
        rounding,
    )
    await session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    for v, total in zip(values, totals.lines, strict=True):
        session.add(InvoiceLine(invoice_id=invoice.id, net=total.net, tax=total.tax, gross=total.gross, **v))
    invoice.net_total, invoice.tax_total, invoice.gross_total = totals.net, totals.tax, totals.gross


def _check_dates(issue_date: date | None, due_date: date | None) -> None:
    if issue_date is not None and due_date is not None and due_date < issue_date:
        raise ValidationFailed("The due date cannot be before the issue date.", field="due_date")


async def create_draft(session: AsyncSession, actor: Principal | None, data: InvoiceIn) -> Invoice:
    """A new draft; `actor` None is the system (the recurring job), audited with no user."""
    actor_id = actor.user_id if actor is not None else None
    client = await billable_client(session, data.client_id, actor)
    currency = checked_currency(data.currency or str(await settings.get(session, "sales.base_currency")))
    _check_dates(data.issue_date, data.due_date)
    invoice = Invoice(
        kind="invoice",
        status="draft",
        client_id=client.id,
        currency=currency,
        issue_date=data.issue_date,
        due_date=data.due_date,
        notes=(data.notes or "").strip() or None,
        owner_id=client.owner_id,
        team_id=client.team_id,
        created_by=actor_id,
    )
    session.add(invoice)
    await session.flush()
    await _replace_lines(session, invoice, data.lines)
    await session.flush()
    _record(session, actor_id, invoice, "created", {})
    return invoice


async def _locked(session: AsyncSession, actor: Principal | None, invoice_id: int, version: int) -> Invoice:
    invoice = await visible_invoice(session, actor, invoice_id, lock=True)
    check_version(invoice, version)
    return invoice


async def update_invoice(session: AsyncSession, actor: Principal, invoice_id: int, data: InvoiceUpdate) -> Invoice:
    """Edit a draft (lines replaced as a whole). An issued invoice's amounts are final: only notes."""
    invoice = await _locked(session, actor, invoice_id, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if not invoice_allows(invoice.status, InvoiceAction.edit):
        frozen = sorted(changes.keys() - {"notes"})
        if frozen:
            raise Conflict(
                f"Invoice {invoice.number} is issued: its {frozen[0].replace('_', ' ')} cannot be "
                "changed. Cancel it (a credit note is made) and issue a new one.",
                field=frozen[0],
                code="issued",
            )
    before = fields(invoice)
    if "notes" in changes:
        invoice.notes = (changes["notes"] or "").strip() or None
    if changes.get("client_id") is not None:
        client = await billable_client(session, changes["client_id"], actor)
        invoice.client_id, invoice.owner_id, invoice.team_id = client.id, client.owner_id, client.team_id
    if changes.get("currency") is not None:
        invoice.currency = checked_currency(changes["currency"])
    for key in ("issue_date", "due_date"):
        if key in changes:
            setattr(invoice, key, changes[key])
    _check_dates(invoice.issue_date, invoice.due_date)
    if data.lines is not None or "currency" in changes:
        lines = data.lines if data.lines is not None else await current_lines(session, invoice)
        await _replace_lines(session, invoice, lines)
        invoice.updated_at = utcnow()  # lines live in their own table: the invoice's version moves too
    await session.flush()
    if audit.diff(before, fields(invoice)) or data.lines is not None:
        _record(session, actor.user_id, invoice, "updated", before)
    return invoice


async def current_lines(session: AsyncSession, invoice: Invoice) -> list[LineIn]:
    rows = (
        await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
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


# --- issuing, payments, cancelling ---------------------------------------------------------------


def payment_status(invoice: Invoice, today: date) -> str:
    """Where an issued invoice stands from its money and its due date."""
    if invoice.paid_total >= invoice.gross_total:
        return InvoiceStatus.paid.value
    if invoice.due_date is not None and invoice.due_date < today:
        return InvoiceStatus.overdue.value
    return (InvoiceStatus.partially_paid if invoice.paid_total > 0 else InvoiceStatus.unpaid).value


async def issue_invoice(session: AsyncSession, actor: Principal | None, invoice_id: int, data: IssueIn) -> Invoice:
    """Give the draft the next number of its series (gapless: see numbering) and freeze it. `actor`
    None is the system (the recurring job)."""
    invoice = await _locked(session, actor, invoice_id, data.version)
    if not invoice_allows(invoice.status, InvoiceAction.issue):
        raise Conflict(f"Invoice {invoice.number} is issued already.", code="issued")
    if await session.scalar(select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice.id).limit(1)) is None:
        raise ValidationFailed("An invoice needs at least one line to be issued.", field="lines")
    if invoice.gross_total <= 0:
        raise ValidationFailed("An invoice's total must be above zero to be issued.", field="lines")
    before = fields(invoice)
    today = date.today()
    invoice.issue_date = data.issue_date or invoice.issue_date or today
    if invoice.due_date is None:
        terms = int(await settings.get(session, "invoices.payment_terms_days"))
        invoice.due_date = invoice.issue_date + timedelta(days=terms)
    _check_dates(invoice.issue_date, invoice.due_date)
    invoice.number = await numbering.next_number(session, "invoice", invoice.issue_date.year)
    invoice.issued_at = utcnow()
    invoice.status = payment_status(invoice, today)
    await session.flush()
    await reservations.reserve_for(session, actor, invoice)
    _record(session, actor.user_id if actor is not None else None, invoice, "issued", before)
    return invoice


async def list_payments(session: AsyncSession, principal: Principal, invoice_id: int) -> list[PaymentOut]:
    """The invoice's payments, each with its refunds."""
    await visible_invoice(session, principal, invoice_id)
    rows = (
        await session.scalars(
            select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.paid_on, Payment.id)
        )
    ).all()
    refunds = (
        (
            await session.scalars(
                select(PaymentRefund)
                .where(PaymentRefund.payment_id.in_([r.id for r in rows]))
                .order_by(PaymentRefund.id)
            )
        ).all()
        if rows
        else []
    )
    return [payment_out(r, [f for f in refunds if f.payment_id == r.id]) for r in rows]


def payment_out(payment: Payment, refunds: Sequence[PaymentRefund] = ()) -> PaymentOut:
    return PaymentOut.model_validate(payment).model_copy(
        update={"refunds": [RefundOut.model_validate(f) for f in refunds]}
    )


async def add_payment(session: AsyncSession, actor: Principal, invoice_id: int, data: PaymentIn) -> PaymentOut:
    """Record money received; more than the open amount is refused, naming the open amount."""
    invoice = await visible_invoice(session, actor, invoice_id, lock=True)
    return payment_out(await receive_payment(session, actor.user_id, invoice, data))


def _check_minor_units(amount: Decimal, currency: str) -> None:
    """A payment or refund amount the currency can express (no cents of a yen)."""
    if money.round_money(amount, currency) != amount:
        raise ValidationFailed(f"{currency} has no amounts this small.", field="amount")


async def receive_payment(
    session: AsyncSession, actor_id: int | None, invoice: Invoice, data: PaymentIn, *, external_ref: str | None = None
) -> Payment:
    """Record a payment on `invoice` (locked by the caller): a person's (add_payment) or a payment
    provider's (`actor_id` None, `external_ref` its id of the money; see payment_by_external_ref)."""
    if not invoice_allows(invoice.status, InvoiceAction.pay):
        raise Conflict(
            f"Payments can be recorded only on issued, unpaid invoices (this one is {invoice.status}).",
            field="invoice_id",
            code="not_payable",
        )
    _check_minor_units(data.amount, invoice.currency)
    open_amount = invoice.gross_total - invoice.paid_total
    if data.amount > open_amount:
        raise ValidationFailed(
            f"The payment is more than the open amount of {open_amount} {invoice.currency}.",
            field="amount",
            code="overpayment",
            extra={"open_amount": str(open_amount)},
        )
    payment = Payment(
        invoice_id=invoice.id,
        amount=data.amount,
        paid_on=data.paid_on or date.today(),
        method=data.method.value,
        reference=(data.reference or "").strip() or None,
        external_ref=external_ref,
        created_by=actor_id,
    )
    session.add(payment)
    before = fields(invoice)
    invoice.paid_total += data.amount
    invoice.status = payment_status(invoice, date.today())
    await session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        entity="payment",
        entity_id=payment.id,
        action="created",
        changes=audit.diff(
            {},
            {
                "invoice_id": invoice.id,
                "amount": payment.amount,
                "paid_on": payment.paid_on,
                "method": payment.method,
                "reference": payment.reference,
                "external_ref": external_ref,
            },
        ),
    )
    _record(session, actor_id, invoice, "paid", before)
    return payment


async def payment_by_external_ref(session: AsyncSession, method: str, external_ref: str) -> Payment | None:
    """The payment a provider already reported under this id (unique per method), if any."""
    return (
        await session.scalars(select(Payment).where(Payment.method == method, Payment.external_ref == external_ref))
    ).first()


async def invoice_by_number(session: AsyncSession, number: str, *, lock: bool = False) -> Invoice | None:
    """An issued invoice by its number (what outside systems know it by), for the system."""
    stmt = select(Invoice).where(Invoice.number == number.strip())
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def locked_payment(
    session: AsyncSession, principal: Principal | None, payment_id: int, invoice_id: int | None = None
) -> tuple[Invoice, Payment]:
    """The payment and its invoice, both locked (invoice first, as every payment change does); a
    payment of an invoice this user cannot see is not found. `principal` None is the system."""
    payment = await session.get(Payment, payment_id)
    if payment is None or (invoice_id is not None and payment.invoice_id != invoice_id):
        raise NotFound("No such payment.")
    invoice = await visible_invoice(session, principal, payment.invoice_id, lock=True)
    locked = await session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    assert locked is not None  # payments are never deleted
    return invoice, locked


async def refund_payment(
    session: AsyncSession, actor: Principal | None, payment_id: int, data: RefundIn, *, invoice_id: int | None = None
) -> PaymentOut:
    """Give back part or all of a payment: the invoice's paid total goes down and its status follows
    (a fully refunded paid invoice is unpaid or overdue again, and may then be cancelled). `actor`
    None is a payment provider's refund event. Refunding more than is left is refused, naming it."""
    actor_id = actor.user_id if actor is not None else None
    invoice, payment = await locked_payment(session, actor, payment_id, invoice_id)
    if not invoice_allows(invoice.status, InvoiceAction.refund):
        raise Conflict(
            f"Invoice {invoice.number} is {invoice.status}; its payments cannot be refunded.", code="not_refundable"
        )
    reason = data.reason.strip()
    if not reason:
        raise ValidationFailed("Say why the money is given back.", field="reason")
    _check_minor_units(data.amount, invoice.currency)
    refundable = payment.amount - payment.refunded_total
    if data.amount > refundable:
        raise ValidationFailed(
            f"The refund is more than the {refundable} {invoice.currency} left of this payment.",
            field="amount",
            code="over_refund",
            extra={"refundable": str(refundable)},
        )
    refund = PaymentRefund(
        payment_id=payment.id,
        amount=data.amount,
        refunded_on=data.refunded_on or date.today(),
        reason=reason,
        reference=(data.reference or "").strip() or None,
        created_by=actor_id,
    )
    session.add(refund)
    before = fields(invoice)
    old_refunded = payment.refunded_total
    payment.refunded_total += data.amount
    invoice.paid_total -= data.amount
    invoice.status = payment_status(invoice, date.today())
    await session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        entity="payment",
        entity_id=payment.id,
        action="refunded",
        changes=audit.diff(
            {"refunded_total": old_refunded},
            {
                "refunded_total": payment.refunded_total,
                "refund_amount": refund.amount,
                "reason": reason,
                "reference": refund.reference,
            },
        ),
    )
    _record(session, actor_id, invoice, "refunded", before)
    refunds = (
        await session.scalars(
            select(PaymentRefund).where(PaymentRefund.payment_id == payment.id).order_by(PaymentRefund.id)
        )
    ).all()
    return payment_out(payment, refunds)


async def cancel_invoice(
    session: AsyncSession, actor: Principal, invoice_id: int, data: VersionIn
) -> tuple[Invoice, Invoice | None]:
    """Cancel: a draft simply; an issued invoice by a credit note mirroring it line by line. An
    invoice with money kept on it is refused: its payments must be refunded first (refund_payment)."""
    invoice = await _locked(session, actor, invoice_id, data.version)
    if invoice.kind != "invoice" or not invoice_allows(invoice.status, InvoiceAction.cancel):
        raise Conflict("Only a draft or an issued invoice can be cancelled.", code="not_cancellable")
    if invoice.paid_total > 0:
        raise Conflict(
            f"Invoice {invoice.number} has payments of {invoice.paid_total} {invoice.currency}; "
            "refund them first, then cancel it.",
            code="has_payments",
        )
    before = fields(invoice)
    credit = None if invoice.status == InvoiceStatus.draft else await _credit_note(session, actor, invoice)
    if credit is not None:
        await reservations.release_for(session, actor, invoice)
    invoice.status, invoice.cancelled_at = InvoiceStatus.cancelled.value, utcnow()
    await session.flush()
    _record(session, actor.user_id, invoice, "cancelled", before)
    return invoice, credit


async def _credit_note(session: AsyncSession, actor: Principal, original: Invoice) -> Invoice:
    """The negative twin of `original`, numbered in its own series; its amounts are the original's
    negated exactly (half-up rounding is symmetric, so nothing is recomputed)."""
    today = date.today()
    credit = Invoice(
        kind="credit_note",
        status=InvoiceStatus.paid.value,
        client_id=original.client_id,
        currency=original.currency,
        issue_date=today,
        due_date=today,
        notes=f"Cancels invoice {original.number}.",
        net_total=-original.net_total,
        tax_total=-original.tax_total,
        gross_total=-original.gross_total,
        paid_total=-original.gross_total,
        credited_invoice_id=original.id,
        owner_id=original.owner_id,
        team_id=original.team_id,
        created_by=actor.user_id,
        issued_at=utcnow(),
        number=await numbering.next_number(session, "credit_note", today.year),
    )
    session.add(credit)
    await session.flush()
    lines = (
        await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == original.id).order_by(InvoiceLine.position)
        )
    ).all()
    for line in lines:
        session.add(
            InvoiceLine(
                invoice_id=credit.id,
                position=line.position,
                product_id=line.product_id,
                description=line.description,
                quantity=-line.quantity,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                tax_rate_id=line.tax_rate_id,
                tax_percent=line.tax_percent,
                net=-line.net,
                tax=-line.tax,
                gross=-line.gross,
            )
        )
    await session.flush()
    _record(session, actor.user_id, credit, "credit_note", {})
    return credit


async def mark_overdue(session: AsyncSession, today: date) -> int:
    """Unpaid and partially paid invoices past their due date become overdue (audited, announced)."""
    rows = (
        await session.scalars(
            select(Invoice)
            .where(Invoice.status.in_(("unpaid", "partially_paid")), Invoice.due_date < today)
            .order_by(Invoice.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for invoice in rows:
        before = fields(invoice)
        invoice.status = InvoiceStatus.overdue.value
        await session.flush()
        _record(session, None, invoice, "overdue", before)
    return len(rows)
