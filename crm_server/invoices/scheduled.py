"""Scheduled work of invoices: the nightly sweep that marks invoices past their due date overdue,
and the hourly look at recurring invoices (acting only at the hour set in the settings); both also
runnable at once from the admin panel's jobs list."""

from __future__ import annotations

import logging
from datetime import date, datetime

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.invoices import recurring, sending, service
from crm_server.jobs import blueprint

log = logging.getLogger(__name__)


@blueprint.periodic(cron="5 0 * * *")
@blueprint.task(name="invoices.mark_overdue", pass_context=True, queueing_lock="invoices.mark_overdue")
async def mark_overdue(context: JobContext, timestamp: int) -> int:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        count = await service.mark_overdue(session, date.today())
    if count:
        log.info("invoices marked overdue: %d", count)
    return count


@blueprint.periodic(cron="0 * * * *")
@blueprint.task(name="invoices.recur", pass_context=True, queueing_lock="invoices.recur")
async def recur(context: JobContext, timestamp: int, manual: bool = False) -> str:
    """Make the recurring invoices that are due, at the hour of `invoices.recurring_hour` (server
    time) or at once when an admin runs it now (`manual`). Returns what it did, skips and failures
    with their reasons: the job log shows it."""
    db: Database = context.additional_context["db"]
    report = await recurring.run(db, datetime.fromtimestamp(timestamp), manual=manual)
    if report.made or report.failed:
        log.info("recurring invoices: %s", report.summary())
    return report.summary()


@blueprint.task(name=sending.SEND_TASK, pass_context=True)
async def send_email(context: JobContext, email_id: int) -> str:
    """Send one queued invoice email with its PDF. No retry strategy on purpose: a failure is written
    on the email and the invoice (the user sees it and re-sends), and the job still succeeds."""
    db: Database = context.additional_context["db"]
    return await sending.send_queued(db, email_id)
