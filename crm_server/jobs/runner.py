"""Starts and stops the procrastinate worker of one server process, and reports on job runs.

Every server process may run a worker; procrastinate hands each queued job to one worker only
(row locks), and each periodic run is deferred once however many workers schedule it (a unique row
per task and timestamp), so several processes side by side still run each job once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

import procrastinate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.config import to_libpq_url
from crm_server.contract.admin import ComponentHealth, JobRun
from crm_server.db import Database
from crm_server.jobs import log as job_log
from crm_server.jobs import registry, service
from crm_server.jobs.api import router
from crm_server.jobs.registry import TASK_MODULES

__all__ = ["TASK_MODULES", "JobRunner", "build_app", "router"]

logger = logging.getLogger(__name__)

# A todo job this late means no worker is taking jobs (or too few for the load).
OVERDUE = "5 minutes"

_STATE = text(f"""
    SELECT (SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - interval '1 minute')
               AS workers,
           (SELECT count(*) FROM procrastinate_jobs j WHERE j.status = 'failed' AND EXISTS (
               SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id AND e.at > now() - interval '1 day'))
               AS failed,
           (SELECT count(*) FROM procrastinate_jobs j WHERE j.status = 'todo'
               AND coalesce(j.scheduled_at, (SELECT min(at) FROM procrastinate_events e
                                             WHERE e.job_id = j.id AND e.type = 'deferred'))
                   < now() - interval '{OVERDUE}')
               AS overdue
""")


def build_app(database_url: str, schedule: bool = True) -> procrastinate.App:
    return registry.build_app(to_libpq_url(database_url), schedule)


class JobRunner:
    def __init__(self, database_url: str, db: Database, name: str | None = None, schedule: bool = True) -> None:
        self.app = build_app(database_url, schedule)
        self.db = db
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self._crash: str | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        await self.app.open_async()
        self._crash = None
        self._task = asyncio.create_task(
            self.app.run_worker_async(
                name=self.name,
                install_signal_handlers=False,
                concurrency=4,
                additional_context={"db": self.db},
                fetch_job_polling_interval=2.0,
                shutdown_graceful_timeout=10,
                worker_middleware=[job_log.record_attempt],
            ),
            name="job-worker",
        )
        self._task.add_done_callback(self._on_worker_end)
        async with self.db.transaction() as session:  # the task modules' start work (loaded by build_app)
            for hook in registry.START_HOOKS:
                await hook(session)

    def _on_worker_end(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._crash = job_log.describe(exc) if exc else "stopped"
            logger.error("the job worker stopped: %s", self._crash, exc_info=exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()  # procrastinate stops gracefully: running jobs get time to finish
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
            await self.app.close_async()

    async def health(self, session: AsyncSession) -> ComponentHealth:
        """Down when jobs cannot run: this process's worker died, or no process runs a worker at all."""
        state = (await session.execute(_STATE)).one()
        notes = [f"{state.failed} failed in the last day"]
        if state.overdue:
            notes.append(f"{state.overdue} waiting for over {OVERDUE}")
        if self._crash is not None:
            return ComponentHealth(status="down", detail=f"this process's job worker stopped: {self._crash}")
        if self.running:
            return ComponentHealth(status="ok", detail="; ".join([f"worker running ({state.workers} in all)", *notes]))
        if not state.workers:
            return ComponentHealth(status="down", detail="; ".join(["no job worker is running", *notes]))
        return ComponentHealth(status="ok", detail="; ".join([f"{state.workers} worker(s) elsewhere", *notes]))

    async def recent_runs(self, session: AsyncSession, failed_only: bool = False, limit: int = 50) -> list[JobRun]:
        return await service.recent_runs(session, failed_only, limit)
