"""Jobs of reports: every five minutes, e-mail the scheduled reports that are due."""

from __future__ import annotations

from datetime import UTC, datetime

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.jobs import blueprint
from crm_server.reports import schedules

SEND_TASK = "reports.send_scheduled"


@blueprint.periodic(cron="*/5 * * * *")
@blueprint.task(name=SEND_TASK, pass_context=True, queueing_lock=SEND_TASK)
async def send_scheduled(context: JobContext, timestamp: int, manual: bool = False) -> dict[str, str]:
    """Send the schedules due by now (an admin's "run now" sends every active one)."""
    from crm_server.reports.api import BUILDERS

    db: Database = context.additional_context["db"]
    return await schedules.run_due(db, BUILDERS, datetime.fromtimestamp(timestamp, UTC), manual)
