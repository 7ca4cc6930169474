"""Starts and stops the procrastinate worker of one server process, and reports on job runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.contract.admin import ComponentHealth, JobRun
from crm_server.db import Database
from crm_server.jobs import blueprint
from crm_server.routing import Session, TxRoute, require

log = logging.getLogger(__name__)

# Modules whose import registers tasks on the blueprint.
TASK_MODULES = ["crm_server.jobs.maintenance"]


def build_app(database_url: str) -> procrastinate.App:
    for module in TASK_MODULES:
        __import__(module)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database_url))
    app.add_tasks_from(blueprint, namespace="crm")
    return app


class JobRunner:
    def __init__(self, database_url: str, db: Database) -> None:
        self.app = build_app(database_url)
        self.db = db
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        await self.app.open_async()
        self._task = asyncio.create_task(self.app.run_worker_async(
            install_signal_handlers=False, concurrency=4, additional_context={"db": self.db},
            fetch_job_polling_interval=2.0, shutdown_graceful_timeout=10,
        ), name="job-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
            await self.app.close_async()

    async def health(self, session: AsyncSession) -> ComponentHealth:
        failed = await session.scalar(text(
            "SELECT count(*) FROM procrastinate_jobs j WHERE j.status = 'failed' AND EXISTS ("
            " SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id AND e.at > now() - interval '1 day')"
        ))
        if not self.running:
            workers = await session.scalar(text(
                "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - interval '1 minute'"
            ))
            if not workers:
                return ComponentHealth(status="down", detail="no job worker is running")
            return ComponentHealth(status="ok", detail=f"{workers} worker(s) elsewhere; {failed} failed today")
        return ComponentHealth(status="ok", detail=f"worker running; {failed} failed in the last day")

    async def recent_runs(self, session: AsyncSession, failed_only: bool = False, limit: int = 50) -> list[JobRun]:
        return await recent_runs(session, failed_only, limit)


async def recent_runs(session: AsyncSession, failed_only: bool = False, limit: int = 50) -> list[JobRun]:
    rows = await session.execute(text(
        """
        SELECT j.id, j.task_name, j.status::text AS status, j.queue_name, j.attempts, j.scheduled_at,
               (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started')
                   AS started_at,
               (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id
                   AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')) AS finished_at
        FROM procrastinate_jobs j
        WHERE (:failed_only = false OR j.status = 'failed')
        ORDER BY j.id DESC LIMIT :limit
        """
    ), {"failed_only": failed_only, "limit": limit})
    return [JobRun(id=r.id, task=r.task_name, status=r.status, queue=r.queue_name, attempts=r.attempts,
                   scheduled_at=r.scheduled_at, started_at=r.started_at, finished_at=r.finished_at)
            for r in rows]


router = APIRouter(prefix="/api/admin", route_class=TxRoute, tags=["jobs"])


@router.get("/jobs", response_model=list[JobRun], dependencies=[require("admin", "view")])
async def list_jobs(session: Session, failed_only: bool = False, limit: int = 50) -> list[JobRun]:
    return await recent_runs(session, failed_only, min(max(limit, 1), 500))


