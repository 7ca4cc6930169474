"""Enqueue work inside the caller's transaction: the job exists exactly when the change that asked
for it commits (a rolled-back change enqueues nothing), and workers hear of it only after commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.db import savepoint
from crm_server.errors import Conflict
from crm_server.jobs import registry

# procrastinate's partial unique index: one "todo" job per queueing lock.
QUEUEING_LOCK_INDEX = "procrastinate_jobs_queueing_lock_idx_v1"

_DEFER = text("""
    SELECT (procrastinate_defer_jobs_v1(ARRAY[ROW(
        CAST(:queue AS varchar), CAST(:task AS varchar), CAST(:priority AS integer), CAST(:lock AS text),
        CAST(:queueing_lock AS text), CAST(:args AS jsonb), CAST(:scheduled_at AS timestamptz)
    )]::procrastinate_job_to_defer_v1[]))[1]
""")


class AlreadyQueued(Conflict):
    """A job with the same queueing lock is still waiting to run."""

    code = "already_queued"


async def defer(
    session: AsyncSession,
    task_name: str,
    /,
    *,
    queueing_lock: str | None = None,
    scheduled_at: datetime | None = None,
    **task_kwargs: Any,
) -> int:
    """Queue `task_name` ("maintenance.purge" or "crm:maintenance.purge") with `task_kwargs`; return
    the job id. The task's own queue, priority, lock and queueing lock apply unless overridden.

    Raises registry.UnknownTask for a name no blueprint knows (a typo should fail here, not later in
    a worker), AlreadyQueued when the queueing lock is taken (the caller's transaction stays usable),
    ValueError for a naive `scheduled_at` and TypeError for arguments JSON cannot carry."""
    name, task = registry.find(task_name)
    if scheduled_at is not None and scheduled_at.utcoffset() is None:
        raise ValueError("scheduled_at must carry a time zone")
    lock = queueing_lock if queueing_lock is not None else task.queueing_lock
    params = {
        "queue": task.queue,
        "task": name,
        "priority": task.priority,
        "lock": task.lock,
        "queueing_lock": lock,
        "args": json.dumps(task_kwargs),
        "scheduled_at": scheduled_at,
    }
    if lock is None:  # nothing unique to refuse it: no savepoint needed (the inbox defers one per event)
        job_id = await session.scalar(_DEFER, params)
        assert job_id is not None
        return int(job_id)
    try:
        async with savepoint(session):  # a refused insert must not doom the caller's transaction
            job_id = await session.scalar(_DEFER, params)
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) == QUEUEING_LOCK_INDEX:
            raise AlreadyQueued(
                f"{name} is already queued and has not started yet.", extra={"queueing_lock": lock}
            ) from exc
        raise
    assert job_id is not None
    return int(job_id)
