"""Jobs of commissions: the daily calculation (payments past their waiting days, reversals of
refunds and credit notes) and the partners' report e-mails, both runnable at once from the admin
panel's jobs list."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from procrastinate import JobContext

from crm_server.commissions import calculate
from crm_server.commissions import partner_reports as partner_reports_module
from crm_server.db import Database
from crm_server.jobs import blueprint

log = logging.getLogger(__name__)
CALCULATE_TASK = "commissions.calculate"
PARTNER_REPORTS_TASK = "commissions.partner_reports"


@blueprint.periodic(cron="20 1 * * *")
@blueprint.task(name=CALCULATE_TASK, pass_context=True, queueing_lock=CALCULATE_TASK)
async def calculate_due(context: JobContext, timestamp: int, manual: bool = False) -> str:
    """Calculate the commissions that are due by today (UTC)."""
    db: Database = context.additional_context["db"]
    today = datetime.fromtimestamp(timestamp, UTC).date()
    async with db.transaction() as session:
        done = await calculate.calculate(session, today)
    if done.earned or done.reversed:
        log.info("commissions: %d earned, %d reversed", done.earned, done.reversed)
    return f"{done.earned} commissions calculated, {done.reversed} reversed"


@blueprint.periodic(cron="0 6 * * *")
@blueprint.task(name=PARTNER_REPORTS_TASK, pass_context=True, queueing_lock=PARTNER_REPORTS_TASK)
async def partner_reports(context: JobContext, timestamp: int, manual: bool = False) -> str:
    """E-mail partners their commission report when due (weekly: Mondays, monthly: the 1st)."""
    db: Database = context.additional_context["db"]
    return await partner_reports_module.run(db, datetime.fromtimestamp(timestamp, UTC).date(), manual)
