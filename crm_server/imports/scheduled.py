"""The import jobs: commits one import's rows in chunks (queued when a person starts the import; a
job of a server killed mid-way is queued again by maintenance.retry_stalled and resumes), and the
nightly removal of uploads past their keeping time (setting imports.keep_days)."""

from __future__ import annotations

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.imports import service
from crm_server.jobs import blueprint


@blueprint.task(name="imports.run", pass_context=True)
async def run(context: JobContext, import_id: int) -> str:
    db: Database = context.additional_context["db"]
    return await service.run(db, import_id)


@blueprint.periodic(cron="41 2 * * *")
@blueprint.task(name="imports.remove_old_files", pass_context=True, queueing_lock="imports.remove_old_files")
async def remove_old_files(context: JobContext, timestamp: int) -> str:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        return await service.remove_old_files(session)
