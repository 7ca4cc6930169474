"""Scheduled work of sales orders: the quarter-hourly reconciliation with the web shop (also
runnable at once from the admin panel's jobs list)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.jobs import blueprint
from crm_server.orders import reconcile

log = logging.getLogger(__name__)


@blueprint.periodic(cron="*/15 * * * *")
@blueprint.task(name="orders.reconcile_woocommerce", pass_context=True, queueing_lock="orders.reconcile_woocommerce")
async def reconcile_woocommerce(context: JobContext, timestamp: int) -> str:
    """Returns what it read and queued: the job log shows it."""
    db: Database = context.additional_context["db"]
    summary = await reconcile.run(db, datetime.fromtimestamp(timestamp, UTC) if timestamp else None)
    log.info("%s", summary)
    return summary
