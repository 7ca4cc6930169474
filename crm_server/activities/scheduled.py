"""Scheduled work of the activities area: the follow-up reminders, every minute."""

from __future__ import annotations

import logging

from procrastinate import JobContext

from crm_server.activities import reminders
from crm_server.db import Database, utcnow
from crm_server.jobs import blueprint

log = logging.getLogger(__name__)


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="activities.send_reminders", pass_context=True, queueing_lock="activities.send_reminders")
async def send_reminders(context: JobContext, timestamp: int) -> dict[str, int]:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        now = utcnow()
        sent = await reminders.send_due(session, now)
        await reminders.forget_recent_submits(session, now)
    if any(sent.values()):
        log.info("follow-up reminders sent: %s", sent)
    return sent
