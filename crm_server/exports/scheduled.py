"""The export jobs: writing one export (queued when a person asks) and the hourly sweep that removes
the files of exports past their keeping time (setting exports.keep_days)."""

from __future__ import annotations

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.exports import service
from crm_server.jobs import blueprint


@blueprint.task(name="exports.run", pass_context=True)
async def run(context: JobContext, export_id: int) -> str:
    db: Database = context.additional_context["db"]
    return await service.run(db, export_id)


@blueprint.periodic(cron="23 * * * *")
@blueprint.task(name="exports.expire", pass_context=True, queueing_lock="exports.expire")
async def expire(context: JobContext, timestamp: int) -> int:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        return await service.expire(session)
