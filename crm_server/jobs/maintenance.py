"""Housekeeping: forget what is no longer needed (old idempotency keys, ended sessions, old events,
old finished jobs) and put back the jobs of server processes that died while running them."""

from __future__ import annotations

import logging

from procrastinate import JobContext
from sqlalchemy import text

from crm_server.db import Database, rowcount
from crm_server.jobs import blueprint

log = logging.getLogger(__name__)

# Finished jobs stay visible to admins this long; failures longer, so they can be looked into.
KEEP_FINISHED_HOURS = 30 * 24
KEEP_FAILED_HOURS = 90 * 24
# Webhook events that need nothing more, after three months (failed and waiting ones stay for a person);
# requests refused at the door after a week (a forged flood must not stay for months).
SETTLED_EVENTS = (
    "DELETE FROM integration_events WHERE (status IN ('processed', 'ignored')"
    " AND received_at < now() - interval '90 days')"
    " OR (status = 'rejected' AND received_at < now() - interval '7 days')"
)
# A worker that has not beaten its heart for this long is gone (workers beat every 10 s).
STALLED_AFTER_SECONDS = 60


@blueprint.periodic(cron="17 3 * * *")
@blueprint.task(name="maintenance.purge", pass_context=True, queueing_lock="maintenance.purge")
async def purge(context: JobContext, timestamp: int) -> dict[str, int]:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        counts = {}
        for name, sql in {
            "idempotency_keys": "DELETE FROM idempotency_keys WHERE created_at < now() - interval '1 day'",
            "auth_sessions": "DELETE FROM auth_sessions"
            " WHERE coalesce(ended_at, expires_at) < now() - interval '90 days'",
            "events": "DELETE FROM events WHERE at < now() - interval '30 days'",
            "password_reset_tokens": "DELETE FROM password_reset_tokens WHERE expires_at < now() - interval '1 day'",
            "job_log": f"DELETE FROM job_log WHERE finished_at < now() - interval '{KEEP_FAILED_HOURS} hours'"
            f" OR (status = 'succeeded' AND finished_at < now() - interval '{KEEP_FINISHED_HOURS} hours')",
            "integration_events": SETTLED_EVENTS,
        }.items():
            result = await session.execute(text(sql))
            counts[name] = rowcount(result)
    manager = context.app.job_manager
    await manager.delete_old_jobs(nb_hours=KEEP_FINISHED_HOURS, include_cancelled=True, include_aborted=True)
    await manager.delete_old_jobs(nb_hours=KEEP_FAILED_HOURS, include_failed=True)
    log.info("maintenance purge: %s", counts)
    return counts


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="maintenance.retry_stalled", pass_context=True, queueing_lock="maintenance.retry_stalled")
async def retry_stalled(context: JobContext, timestamp: int) -> list[int]:
    """A server process killed mid-job leaves its job "doing" forever; queue it again. Its work ran in
    a transaction that died with the process, so running it again is running it once."""
    manager = context.app.job_manager
    retried = []
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
        if job.id is None or job.id == context.job.id:
            continue
        try:
            await manager.retry_job(job)
        except Exception:  # finished or retried by someone else in the meantime
            log.info("stalled job %s could not be retried", job.id, exc_info=True)
            continue
        retried.append(job.id)
    if retried:
        log.warning("retried jobs of stopped workers: %s", retried)
    return retried
