"""Scheduled work of invoices: the nightly sweep that marks invoices past their due date overdue
(also runnable at once from the admin panel's jobs list)."""

from __future__ import annotations

import logging
from datetime import date

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.invoices import service
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
