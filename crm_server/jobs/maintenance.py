"""Housekeeping: forget what is no longer needed (old idempotency keys, ended sessions, old events)."""

from __future__ import annotations

import logging

from procrastinate import JobContext
from sqlalchemy import text

from crm_server.db import Database
from crm_server.jobs import blueprint

log = logging.getLogger(__name__)


@blueprint.periodic(cron="17 3 * * *")
@blueprint.task(name="maintenance.purge", pass_context=True, queueing_lock="maintenance.purge")
async def purge(context: JobContext, timestamp: int) -> dict[str, int]:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        counts = {}
        for name, sql in {
            "idempotency_keys": "DELETE FROM idempotency_keys WHERE created_at < now() - interval '1 day'",
            "auth_sessions": "DELETE FROM auth_sessions WHERE coalesce(ended_at, expires_at) < now() - interval '90 days'",
            "events": "DELETE FROM events WHERE at < now() - interval '30 days'",
            "password_reset_tokens": "DELETE FROM password_reset_tokens WHERE expires_at < now() - interval '1 day'",
        }.items():
            result = await session.execute(text(sql))
            counts[name] = result.rowcount  # type: ignore[attr-defined]
    log.info("maintenance purge: %s", counts)
    return counts
