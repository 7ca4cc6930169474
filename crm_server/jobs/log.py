"""Writes every attempt of every job to the job log (a procrastinate worker middleware), because
procrastinate records that a job failed but not why; admins read the why in the admin panel."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from procrastinate import JobContext, exceptions
from procrastinate.middleware import AsyncCallNext

from crm_server.db import Database
from crm_server.jobs.models import JobLogEntry

log = logging.getLogger(__name__)

ERROR_LIMIT = 2000
RESULT_LIMIT = 2000


def describe(exc: BaseException) -> str:
    """ "Type: message", cut to what fits in a list cell and a tooltip."""
    message = str(exc).strip()
    described = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return _cut(described, ERROR_LIMIT)


def summarize(result: Any) -> str | None:
    """What a succeeded job said it did: a returned string as is, a dict or list as JSON, a count as
    its number (so "skipped INV-... : not paid" reaches the admin panel); anything else says nothing."""
    if isinstance(result, str):
        text = result.strip()
    elif isinstance(result, dict | list):
        try:
            text = json.dumps(result, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            return None
    elif isinstance(result, int) and not isinstance(result, bool):
        text = str(result)
    else:
        return None
    return _cut(text, RESULT_LIMIT) if text else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Tasks that run once per item of a table that keeps its own outcome (the integration inbox): their
# successes would bury the other jobs in the log; their failures are still written.
QUIET_TASKS = frozenset({"crm:integrations.process"})


async def record_attempt(call_next: AsyncCallNext, context: JobContext, worker: Any) -> Any:
    """Run the job and log how it ended; the log write never changes the job's outcome."""
    started = time.time()
    try:
        result = await call_next()
    except asyncio.CancelledError:
        raise  # the worker is shutting down; procrastinate puts the job back, nothing to explain
    except exceptions.JobAborted as exc:
        await _write(context, started, "aborted", describe(exc))
        raise
    except Exception as exc:
        await _write(context, started, "failed", describe(exc))
        raise
    await _write(context, started, "succeeded", None, summarize(result))
    return result


async def _write(
    context: JobContext, started: float, status: str, error: str | None, result: str | None = None
) -> None:
    db: Database | None = context.additional_context.get("db")
    job = context.job
    if db is None or job.id is None or (status == "succeeded" and job.task_name in QUIET_TASKS):
        return
    entry = JobLogEntry(
        job_id=job.id,
        task=job.task_name,
        attempt=job.attempts,
        worker=context.worker_name,
        status=status,
        started_at=datetime.fromtimestamp(started, UTC),
        duration_ms=round((time.time() - started) * 1000),
        error=error,
        result=result,
    )
    try:
        async with db.transaction() as session:
            session.add(entry)
    except Exception:
        log.exception("could not write the job log for job %s (%s)", job.id, job.task_name)
