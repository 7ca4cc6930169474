"""The import job: commits one import's rows in chunks (queued when a person starts the import; a
job of a server killed mid-way is queued again by maintenance.retry_stalled and resumes)."""

from __future__ import annotations

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.imports import service
from crm_server.jobs import blueprint


@blueprint.task(name="imports.run", pass_context=True)
async def run(context: JobContext, import_id: int) -> str:
    db: Database = context.additional_context["db"]
    return await service.run(db, import_id)
