"""What admins see of the job queue and what they may do with it: recent runs with their errors,
and "run now" for any registered task."""

from __future__ import annotations

import inspect
import time
from typing import Any

from procrastinate.tasks import Task
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import audit
from crm_server.auth.permissions import Principal
from crm_server.contract.admin import JobRun
from crm_server.errors import NotFound, ValidationFailed
from crm_server.jobs import queue, registry

_RECENT = text("""
    SELECT j.id, j.task_name, j.status::text AS status, j.queue_name, j.attempts, j.scheduled_at,
           (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started')
               AS started_at,
           (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id
               AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')) AS finished_at,
           l.error, l.result, l.duration_ms, l.worker
    FROM procrastinate_jobs j
    LEFT JOIN LATERAL (
        SELECT error, result, duration_ms, worker FROM job_log WHERE job_log.job_id = j.id ORDER BY id DESC LIMIT 1
    ) l ON true
    WHERE (:failed_only = false OR j.status = 'failed')
      AND (CAST(:task AS varchar) IS NULL OR j.task_name = :task)
    ORDER BY j.id DESC LIMIT :limit
""")


async def recent_runs(
    session: AsyncSession, failed_only: bool = False, limit: int = 50, task: str | None = None
) -> list[JobRun]:
    """Newest jobs first, each with its last attempt's error or result, duration and worker (from the
    job log)."""
    rows = await session.execute(
        _RECENT, {"failed_only": failed_only, "limit": limit, "task": registry.full_name(task) if task else None}
    )
    return [
        JobRun(
            id=r.id,
            task=r.task_name,
            title=registry.title(r.task_name),
            status=r.status,
            queue=r.queue_name,
            attempts=r.attempts,
            scheduled_at=r.scheduled_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            error=r.error,
            result=r.result,
            duration_ms=r.duration_ms,
            worker=r.worker,
        )
        for r in rows
    ]


async def run_now(session: AsyncSession, actor: Principal, task_name: str) -> JobRun:
    """Queue a registered task to run as soon as a worker is free (audited as who asked for it). A task
    with a `manual` parameter is told so: it then skips its own "only at hour X" check."""
    try:
        name, task = registry.find(task_name)
    except registry.UnknownTask:
        known = ", ".join(sorted(registry.registered()))
        raise NotFound(
            f"There is no job task named {task_name!r}. Known tasks: {known}.", code="unknown_task", field="task"
        ) from None
    kwargs: dict[str, Any] = {}
    if registry.is_periodic(name):
        kwargs["timestamp"] = int(time.time())  # what the scheduler passes to a periodic task
    if "manual" in inspect.signature(task.func).parameters:
        kwargs["manual"] = True  # an admin's "run now" ignores the hour a task is set to run at
    if _required_arguments(task, skip=set(kwargs)):
        raise ValidationFailed(
            f"{name} needs arguments and cannot be run from the admin panel.", code="task_needs_arguments", field="task"
        )
    job_id = await queue.defer(session, name, **kwargs)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="job",
        entity_id=job_id,
        action="run_now",
        changes=[{"field": "task", "old": None, "new": name}],
    )
    return JobRun(
        id=job_id,
        task=name,
        title=registry.title(name),
        status="todo",
        queue=task.queue,
        attempts=0,
        scheduled_at=None,
        started_at=None,
        finished_at=None,
    )


def _required_arguments(task: Task[Any, Any, Any], skip: set[str]) -> list[str]:
    params = list(inspect.signature(task.func).parameters.values())
    if task.pass_context:
        params = params[1:]
    return [
        p.name
        for p in params
        if p.default is inspect.Parameter.empty
        and p.name not in skip
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
