"""Scheduled and background work of the tickets area: customer emails (sent after the change that
wrote them commits, retried when SMTP fails), the SLA breach alert every minute, and the archiving
of tickets closed long ago."""

from __future__ import annotations

import logging

import procrastinate
from procrastinate import JobContext

from crm_server.admin import settings
from crm_server.db import Database, utcnow
from crm_server.jobs import blueprint
from crm_server.tickets import notify, service

log = logging.getLogger(__name__)

# 1 min, 2 min, 4 min, ... about two hours in all before the email is given up (it stays "failed").
EMAIL_RETRY = procrastinate.RetryStrategy(max_attempts=7, wait=60, exponential_wait=2)


@blueprint.task(name=notify.SEND_TASK, pass_context=True, retry=EMAIL_RETRY)
async def send_email(context: JobContext, email_id: int) -> str:
    db: Database = context.additional_context["db"]
    return await notify.send_queued(db, email_id)


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="tickets.notify_breaches", pass_context=True, queueing_lock="tickets.notify_breaches")
async def notify_breaches(context: JobContext, timestamp: int) -> int:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        count = await notify.notify_breaches(session, utcnow())
    if count:
        log.info("first-response breaches reported: %d", count)
    return count


@blueprint.periodic(cron="17 * * * *")
@blueprint.task(name="tickets.archive_closed", pass_context=True, queueing_lock="tickets.archive_closed")
async def archive_closed(context: JobContext, timestamp: int) -> int:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        days = int(await settings.get(session, "tickets.archive_after_days"))
        count = await service.archive_closed(session, utcnow(), days)
    if count:
        log.info("tickets archived: %d", count)
    return count
