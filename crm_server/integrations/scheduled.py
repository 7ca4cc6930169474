"""The inbox's jobs: work on one event (queued when it is stored, and again for each retry), and a
minute's sweep that queues any event whose job went missing (a crash between two steps), and a
starting worker's first look at the inbox."""

from __future__ import annotations

import logging
from datetime import timedelta

from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.db import Database
from crm_server.integrations import inbox
from crm_server.jobs import blueprint, registry
from crm_server.request_timings import yield_to_requests

log = logging.getLogger(__name__)


@blueprint.task(name=inbox.PROCESS_TASK, pass_context=True)
async def process(context: JobContext, event_id: int) -> str:
    db: Database = context.additional_context["db"]
    await yield_to_requests()  # a burst's acknowledgements first: the event is stored, it can wait
    async with db.transaction() as session:
        return await inbox.work(session, event_id)


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="integrations.sweep", pass_context=True, queueing_lock="integrations.sweep")
async def sweep(context: JobContext, timestamp: int) -> str:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        queued = await inbox.requeue(session)
    if queued:
        log.info("integration inbox: %d events queued again", queued)
    return f"{queued} events queued again"


@registry.at_start
async def requeue_at_start(session: AsyncSession) -> int:
    """What a killed predecessor had taken (its job stays "doing" until procrastinate's stalled-job
    check) is queued again at once, not after the sweep's two minutes."""
    return await inbox.requeue(session, stale_after=timedelta(0))
