"""Automation jobs: a rule's queued run, a batch of webhook deliveries, and the minute sweeps that
fire planned date triggers and pick up deliveries whose worker died mid-batch."""

from __future__ import annotations

from procrastinate import JobContext

from crm_server.automation import service, webhooks
from crm_server.db import Database
from crm_server.jobs import blueprint

RUN_RETRIES = 3


@blueprint.task(name="automation.run", pass_context=True, retry=RUN_RETRIES)
async def run(context: JobContext, run_id: int) -> str:
    db: Database = context.additional_context["db"]
    try:
        return await service.run(db, run_id)
    except Exception as exc:
        if context.job.attempts >= RUN_RETRIES:  # the last try: the log says why, not "queued" forever
            await service.give_up(db, run_id, f"The actions failed: {type(exc).__name__}: {exc}")
            return "failed"
        raise


@blueprint.task(name="automation.deliver", pass_context=True)
async def deliver(context: JobContext, delivery_id: int | None = None) -> str:
    db: Database = context.additional_context["db"]
    return await webhooks.deliver(db, delivery_id)


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="automation.deliver_due", pass_context=True, queueing_lock="automation.deliver_due")
async def deliver_due(context: JobContext, timestamp: int) -> str:
    """A safety net: a lease that ran out (a worker killed mid-batch) is delivered within a minute."""
    db: Database = context.additional_context["db"]
    return await webhooks.deliver(db)


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="automation.due", pass_context=True, queueing_lock="automation.due")
async def due(context: JobContext, timestamp: int) -> int:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        return await service.fire_due(session)
