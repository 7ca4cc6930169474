"""Scheduled work of sales orders: the quarter-hourly reconciliation with the web shop, and the
retry of orders short of stock (both also runnable at once from the admin panel's jobs list)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.jobs import blueprint
from crm_server.orders import reconcile, service

log = logging.getLogger(__name__)


@blueprint.periodic(cron="*/15 * * * *")
@blueprint.task(name="orders.reconcile_woocommerce", pass_context=True, queueing_lock="orders.reconcile_woocommerce")
async def reconcile_woocommerce(context: JobContext, timestamp: int) -> str:
    """Returns what it read and queued: the job log shows it."""
    db: Database = context.additional_context["db"]
    summary = await reconcile.run(db, datetime.fromtimestamp(timestamp, UTC) if timestamp else None)
    log.info("%s", summary)
    return summary


@blueprint.periodic(cron="7,22,37,52 * * * *")
@blueprint.task(name="orders.retry_short", pass_context=True, queueing_lock="orders.retry_short")
async def retry_short(context: JobContext, timestamp: int) -> str:
    """Orders short of stock try again every quarter of an hour (a receipt may have come in)."""
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        settled = await service.retry_short(session)
    if settled:
        log.info("orders no longer short of stock: %s", ", ".join(settled))
    return f"{len(settled)} orders no longer short" + (f": {', '.join(settled)}" if settled else "")
