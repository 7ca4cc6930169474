"""Recurring invoices: the rule kept on an issued source invoice, and the run that makes the copies.

The dates of a rule are always counted from the source's issue date: occurrence k is issue date +
k x every units, so a monthly invoice of 31 January recurs on 28 (29) February, 31 March, 30 April
(month ends are clamped, never drift). When a rule is set, its next date is the first occurrence on
or after today (and after the last invoice already made from the source): setting a rule on an old
invoice does not back-bill the months before it.

The run (the `invoices.recur` job, hourly, acting at the hour set in `invoices.recurring_hour`)
makes at most one invoice per source per run, each source in its own transaction, and moves the
next date one period on. A run that was missed (server down) leaves the next date in the past: the
following runs catch up one occurrence each, dated as the occurrence was. Every copy goes through
`service.create_draft` + `service.issue_invoice`, so numbering stays gapless.

With `invoices.recurring_only_paid` an occurrence whose source is not paid is skipped: no invoice,
the next date still moves on (it is not retried every hour) and the reason is kept on the source
(`recur_last_skip`) and said in the job's result. Skipped occurrences are not cycles: `cycles`
counts invoices made."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.concurrency import check_version
from crm_server.contract.invoices import (
    InvoiceAction,
    InvoiceIn,
    InvoiceKind,
    InvoiceStatus,
    IssueIn,
    RecurrenceUpdate,
    RecurUnit,
    SendIn,
    invoice_allows,
)
from crm_server.db import Database, savepoint
from crm_server.errors import AppError, Conflict, ValidationFailed
from crm_server.invoices import sending, service
from crm_server.invoices.models import Invoice

log = logging.getLogger(__name__)

RULE_FIELDS = ("recur_every", "recur_unit", "recur_cycles", "recur_done", "recur_next_on", "recur_last_skip")


# --- dates ---------------------------------------------------------------------------------------


def add_units(start: date, n: int, unit: RecurUnit | str) -> date:
    """`start` moved `n` days, weeks, months or years; a day the month lacks becomes its last day."""
    unit = RecurUnit(unit)
    if unit is RecurUnit.day:
        return start + timedelta(days=n)
    if unit is RecurUnit.week:
        return start + timedelta(weeks=n)
    months = start.month - 1 + n * (12 if unit is RecurUnit.year else 1)
    year, month = start.year + months // 12, months % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def occurrence(issue_date: date, every: int, unit: RecurUnit | str, k: int) -> date:
    """The k-th recurrence (k >= 1) of an invoice issued on `issue_date`."""
    return add_units(issue_date, every * k, unit)


def first_occurrence_from(issue_date: date, every: int, unit: RecurUnit | str, floor: date) -> date:
    """The first recurrence on or after `floor` (never the issue date itself)."""
    unit = RecurUnit(unit)
    if unit in (RecurUnit.day, RecurUnit.week):
        step = every * (7 if unit is RecurUnit.week else 1)
        k = max(1, -(-(floor - issue_date).days // step))  # ceiling division
        return issue_date + timedelta(days=step * k)
    step_months = every * (12 if unit is RecurUnit.year else 1)
    k = max(1, ((floor.year - issue_date.year) * 12 + floor.month - issue_date.month) // step_months)
    while k > 1 and occurrence(issue_date, every, unit, k - 1) >= floor:
        k -= 1
    while occurrence(issue_date, every, unit, k) < floor:
        k += 1
    return occurrence(issue_date, every, unit, k)


def occurrence_after(issue_date: date, every: int, unit: RecurUnit | str, after: date) -> date:
    """The first recurrence strictly after `after`: where the next date moves once `after` is done."""
    return first_occurrence_from(issue_date, every, unit, after + timedelta(days=1))


# --- the rule ------------------------------------------------------------------------------------


def _rule(invoice: Invoice) -> dict[str, Any]:
    return {n: getattr(invoice, n) for n in RULE_FIELDS}


async def _last_made_on(session: AsyncSession, source: Invoice) -> date | None:
    return await session.scalar(select(func.max(Invoice.issue_date)).where(Invoice.recurred_from_id == source.id))


async def set_recurrence(session: AsyncSession, actor: Principal, invoice_id: int, data: RecurrenceUpdate) -> Invoice:
    """Set, change or stop (`recurrence` None) the rule of an issued invoice. Drafts, credit notes and
    cancelled invoices never recur. A changed rule keeps what was made (`done`); its next date is the
    first occurrence from today on, unless only the number of cycles changed (then it stays)."""
    invoice = await service.visible_invoice(session, actor, invoice_id, lock=True)
    check_version(invoice, data.version)
    before = _rule(invoice)
    rule = data.recurrence
    if rule is None:
        invoice.recur_every = invoice.recur_unit = invoice.recur_cycles = None
        invoice.recur_next_on = None
        invoice.recur_last_skip = None
    else:
        if invoice.kind != InvoiceKind.invoice:
            raise Conflict(
                "A credit note cannot recur; set the recurrence on an issued invoice.",
                field="recurrence",
                code="not_recurrable",
            )
        if invoice.status == InvoiceStatus.draft or invoice.issue_date is None:
            raise Conflict(
                "Drafts never recur: issue the invoice first, then set it to recur.",
                field="recurrence",
                code="draft_cannot_recur",
            )
        if not invoice_allows(invoice.status, InvoiceAction.recur):
            raise Conflict(
                f"Invoice {invoice.number} is cancelled; a cancelled invoice cannot recur.",
                field="recurrence",
                code="not_recurrable",
            )
        if rule.cycles is not None and rule.cycles <= invoice.recur_done:
            raise ValidationFailed(
                f"{invoice.recur_done} invoice(s) were already made from {invoice.number}; "
                f"the number of cycles must be more than {invoice.recur_done}.",
                field="recurrence.cycles",
            )
        same_dates = (
            invoice.recur_every == rule.every
            and invoice.recur_unit == rule.unit.value
            and invoice.recur_next_on is not None
        )
        invoice.recur_every, invoice.recur_unit, invoice.recur_cycles = rule.every, rule.unit.value, rule.cycles
        if not same_dates:
            floor = date.today()
            last = await _last_made_on(session, invoice)
            if last is not None and last >= floor:
                floor = last + timedelta(days=1)
            invoice.recur_next_on = first_occurrence_from(invoice.issue_date, rule.every, rule.unit, floor)
            invoice.recur_last_skip = None
    await session.flush()
    changes = audit.diff(before, _rule(invoice))
    if changes:
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="invoice",
            entity_id=invoice.id,
            action="recurrence",
            changes=changes,
        )
        service.announce(session, actor.user_id, invoice, "updated")
    return invoice


# --- the run -------------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What one run did, said in the job log: every skip and failure with its reason."""

    made: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)
    idle: str | None = None  # why nothing was looked at (not the hour)

    def summary(self) -> str:
        if self.idle:
            return self.idle
        parts = [
            f"{title} {len(items)}: {', '.join(items) if title == 'made' else '; '.join(items)}"
            for title, items in (
                ("made", self.made),
                ("skipped", self.skipped),
                ("stopped", self.stopped),
                ("failed", self.failed),
                ("not emailed", self.not_sent),
            )
            if items
        ]
        return "; ".join(parts) if parts else "no recurring invoice is due"


async def run(db: Database, now: datetime, *, manual: bool = False) -> RunReport:
    """Make the invoices due by `now` (server local time). Unless `manual` (an admin's "Run now"),
    nothing happens outside the hour set in `invoices.recurring_hour`."""
    report = RunReport()
    async with db.transaction() as session:
        hour = int(await settings.get(session, "invoices.recurring_hour"))
        only_paid = bool(await settings.get(session, "invoices.recurring_only_paid"))
        send = bool(await settings.get(session, "invoices.recurring_send"))
        if not manual and now.hour != hour:
            report.idle = f"not the hour: recurring invoices are made at {hour:02d}:00 (server time)"
            return report
        today = now.date()
        due = (
            await session.scalars(
                select(Invoice.id)
                .where(Invoice.recur_every.is_not(None), Invoice.recur_next_on <= today)
                .order_by(Invoice.recur_next_on, Invoice.id)
            )
        ).all()
    for source_id in due:
        try:
            async with db.transaction() as session:
                await _one(session, source_id, today, only_paid=only_paid, send=send, report=report)
        except Exception as exc:  # one source's trouble must not stop the others
            reason = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, AppError):
                log.exception("recurring invoice from invoice %s failed", source_id)
            await _note_failure(db, source_id, reason, report)
    return report


async def _one(
    session: AsyncSession, source_id: int, today: date, *, only_paid: bool, send: bool, report: RunReport
) -> None:
    """One due source, locked (another server's run skips it): stop, skip or make one invoice."""
    source = await session.scalar(
        select(Invoice)
        .where(Invoice.id == source_id, Invoice.recur_every.is_not(None), Invoice.recur_next_on <= today)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if source is None or source.recur_next_on is None or source.issue_date is None:
        return  # taken by another run, or no longer due
    before = _rule(source)
    on = source.recur_next_on
    assert source.recur_every is not None and source.recur_unit is not None
    if source.recur_cycles is not None and source.recur_done >= source.recur_cycles:
        source.recur_next_on = None
        report.stopped.append(f"{source.number} cycles done ({source.recur_done} of {source.recur_cycles})")
        await _changed(session, source, before, "recurrence_stopped")
        return
    if not invoice_allows(source.status, InvoiceAction.recur) or source.kind != InvoiceKind.invoice:
        # The API never sets a rule on these; a source cancelled after its rule was set stops here.
        what = "cancelled" if source.status == InvoiceStatus.cancelled else "not an issued invoice"
        name = source.number or f"draft {source.id}"
        source.recur_next_on = None
        source.recur_last_skip = f"{on.isoformat()}: {name} is {what}; it recurs no more"
        report.stopped.append(f"{name} is {what}")
        await _changed(session, source, before, "recurrence_stopped")
        return
    source.recur_next_on = occurrence_after(source.issue_date, source.recur_every, source.recur_unit, on)
    if only_paid and source.status != InvoiceStatus.paid:
        reason = f"{source.number} is not paid (only from paid invoices)"
        source.recur_last_skip = f"{on.isoformat()}: {reason}"
        report.skipped.append(f"{reason}, the invoice of {on.isoformat()} was not made")
        await _changed(session, source, before, "recurrence_skipped")
        return
    copy = await _make_copy(session, source, on)
    source.recur_done += 1
    source.recur_last_skip = None
    report.made.append(f"{copy.number} (from {source.number})")
    if source.recur_cycles is not None and source.recur_done >= source.recur_cycles:
        source.recur_next_on = None
        report.stopped.append(f"{source.number} cycles done ({source.recur_done} of {source.recur_cycles})")
    await _changed(session, source, before, "recurred", made=copy.number)
    if send:
        await _send(session, copy, report)


async def _make_copy(session: AsyncSession, source: Invoice, on: date) -> Invoice:
    """The source's lines and notes on a new invoice dated `on`, issued by the system (actor None);
    prices are the source's, VAT percents today's rates, the due date from the payment terms."""
    lines = await service.current_lines(session, source)
    draft = await service.create_draft(
        session,
        None,
        InvoiceIn(client_id=source.client_id, currency=source.currency, issue_date=on, notes=source.notes, lines=lines),
    )
    draft.recurred_from_id = source.id
    await session.flush()
    return await service.issue_invoice(session, None, draft.id, IssueIn(version=draft.version, issue_date=on))


async def _send(session: AsyncSession, invoice: Invoice, report: RunReport) -> None:
    """Queue the email of a made invoice (setting `invoices.recurring_send`); an invoice that cannot be
    emailed is still made: the reason goes to the job's result."""
    email = await session.scalar(select(Client.email).where(Client.id == invoice.client_id))
    if not (email or "").strip():
        report.not_sent.append(f"{invoice.number}: the client has no email address")
        return
    try:
        body = SendIn(to=(email or "").strip())
    except ValidationError:
        report.not_sent.append(f"{invoice.number}: the client's email address {email!r} is not valid")
        return
    try:
        async with savepoint(session):
            await sending.queue_send(session, None, invoice, body)
    except AppError as exc:
        report.not_sent.append(f"{invoice.number}: {exc.message}")


async def _changed(
    session: AsyncSession, source: Invoice, before: dict[str, Any], action: str, made: str | None = None
) -> None:
    await session.flush()
    changes = audit.diff(before, _rule(source))
    if made is not None:
        changes.append({"field": "made", "old": None, "new": made})
    audit.record(session, actor_id=None, entity="invoice", entity_id=source.id, action=action, changes=changes)
    service.announce(session, None, source, "updated")


async def _note_failure(db: Database, source_id: int, reason: str, report: RunReport) -> None:
    """A copy that could not be made (an archived client, a VAT rate no longer active): said on the
    source and in the result; the next date stays, so the next run tries again once it is fixed."""
    try:
        async with db.transaction() as session:
            source = await session.get(Invoice, source_id, with_for_update=True)
            if source is None:
                return
            before = _rule(source)
            on = source.recur_next_on.isoformat() if source.recur_next_on else "?"
            source.recur_last_skip = f"{on}: could not be made: {reason}"
            number = source.number
            await _changed(session, source, before, "recurrence_failed")
    except Exception:
        log.exception("could not note the failure of recurring invoice %s", source_id)
        number = f"invoice {source_id}"
    report.failed.append(f"{number}: {reason}")
