"""The job runner on the real database: each job runs once however many workers compete, periodic
runs are deferred once, failures are recorded with their error for admins, a rolled-back change
enqueues nothing, and admins can run a task now."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
import pytest
from procrastinate import JobContext
from sqlalchemy import text

from crm_server.config import to_sqlalchemy_url
from crm_server.db import Database
from crm_server.jobs import queue, registry
from crm_server.jobs.runner import JobRunner
from tests.support import PASSWORD, LiveServer

FAILURE = "the mail server said no: " + "x" * 5000

# Test-only tasks, registered (per test, through the `tasks` fixture) under the "test" namespace.
test_tasks = procrastinate.Blueprint()


@test_tasks.task(name="count", pass_context=True)
async def count(context: JobContext, mark: str) -> None:
    """Leaves one row per run: the side effect the tests count."""
    await asyncio.sleep(0.05)  # long enough for a second worker to try to take the same job
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        await session.execute(
            text("INSERT INTO job_hits (mark, job_id, worker) VALUES (:m, :j, :w)"),
            {"m": mark, "j": context.job.id, "w": context.worker_name},
        )


@test_tasks.task(name="fail")
async def fail() -> None:
    raise RuntimeError(FAILURE)


SAID = {
    "text": "  made 2; skipped 1: INV-1 is not paid  ",
    "long": "y" * 5000,
    "dict": {"made": 2, "on": date(2027, 1, 1)},
    "none": None,
}


@test_tasks.task(name="say")
async def say(kind: str = "text") -> Any:
    """Returns what the job log keeps as a succeeded job's result."""
    return SAID[kind]


@test_tasks.task(name="hourly")
async def hourly(manual: bool = False) -> str:
    """A task that acts only at a set hour unless an admin runs it now (`manual`)."""
    return f"manual={manual}"


# Kept apart: a task due every second must only exist in the test that wants it.
every_second = procrastinate.Blueprint()


@every_second.periodic(cron="* * * * * *")
@every_second.task(name="tick", pass_context=True)
async def tick(context: JobContext, timestamp: int) -> None:
    await count.func(context, mark=str(timestamp))


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """The test tasks are known to defer() and to every JobRunner built in this test; job_hits exists."""
    monkeypatch.setitem(registry.BLUEPRINTS, "test", test_tasks)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE job_hits (mark text, job_id bigint, worker text)")


@asynccontextmanager
async def workers(database_url: str, n: int = 2) -> AsyncIterator[list[JobRunner]]:
    """`n` independent workers (own procrastinate App, pool and engine each), as `n` server processes."""
    runners = [
        JobRunner(database_url, Database(to_sqlalchemy_url(database_url), pool_size=2), name=f"w{i}") for i in range(n)
    ]
    try:
        await asyncio.gather(*(r.start() for r in runners))
        yield runners
    finally:
        for r in runners:
            await r.stop()
            await r.db.dispose()


@asynccontextmanager
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(to_sqlalchemy_url(database_url), pool_size=1)
    try:
        yield db
    finally:
        await db.dispose()


async def rows(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await (await conn.execute(sql, params or None)).fetchall()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


async def statuses(database_url: str, task: str) -> list[str]:
    return [
        r[0]
        for r in await rows(
            database_url, "SELECT status::text FROM procrastinate_jobs WHERE task_name = %(t)s ORDER BY id", t=task
        )
    ]


async def all_finished(database_url: str, task: str, n: int) -> bool:
    found = await statuses(database_url, task)
    return len(found) == n and all(s in ("succeeded", "failed") for s in found)


async def test_each_deferred_job_runs_once_with_two_workers(database_url: str, tasks: None) -> None:
    async with workers(database_url) as runners, database(database_url) as db:
        async with db.transaction() as s:
            ids = [await queue.defer(s, "test:count", mark="single")]
            ids += [await queue.defer(s, "test:count", mark=f"batch-{i}") for i in range(12)]
        await eventually(lambda: all_finished(database_url, "test:count", len(ids)), what="the jobs to finish")
        await asyncio.sleep(0.3)  # a second (wrong) run would land now
        assert set(await statuses(database_url, "test:count")) == {"succeeded"}
        hits = await rows(database_url, "SELECT job_id, count(*) FROM job_hits GROUP BY job_id")
        assert sorted(hits) == [(job_id, 1) for job_id in sorted(ids)]
        assert {r.name for r in runners} == {"w0", "w1"}
        logged = await rows(
            database_url,
            "SELECT job_id, count(*), min(status), min(duration_ms)"
            " FROM job_log WHERE task = 'test:count' GROUP BY job_id",
        )
        assert len(logged) == len(ids)
        assert all(n == 1 and status == "succeeded" and ms >= 50 for _, n, status, ms in logged)


async def test_periodic_task_is_deferred_and_run_once_with_two_workers(
    database_url: str, tasks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BLUEPRINTS, "tick", every_second)

    async def two_ticks() -> bool:
        return len(await rows(database_url, "SELECT DISTINCT mark FROM job_hits")) >= 2

    async with workers(database_url):
        await eventually(two_ticks, what="two periodic runs")
    jobs = await rows(
        database_url,
        "SELECT args->>'timestamp', count(*) FROM procrastinate_jobs WHERE task_name = 'tick:tick' GROUP BY 1",
    )
    assert jobs and all(n == 1 for _, n in jobs), jobs
    hits = await rows(database_url, "SELECT mark, count(*) FROM job_hits GROUP BY mark")
    assert len(hits) >= 2 and all(n == 1 for _, n in hits), hits
    assert {mark for mark, _ in hits} <= {ts for ts, _ in jobs}


async def test_failed_job_shows_its_error_to_admins_only(
    server: LiveServer, admin: Any, database_url: str, tasks: None
) -> None:
    async with workers(database_url, n=1), database(database_url) as db:
        async with db.transaction() as s:
            job_id = await queue.defer(s, "test:fail")
        await eventually(lambda: all_finished(database_url, "test:fail", 1), what="the job to fail")

    listed = await admin.get("/api/admin/jobs")
    assert listed.status_code == 200, listed.text
    run = next(r for r in listed.json() if r["id"] == job_id)
    assert run["status"] == "failed" and run["task"] == "test:fail"
    assert run["error"].startswith("RuntimeError: the mail server said no: xxx")
    assert len(run["error"]) <= 2000
    assert run["worker"] == "w0" and run["duration_ms"] is not None and run["finished_at"] is not None
    failed = (await admin.get("/api/admin/jobs", params={"failed_only": "true"})).json()
    assert [r["id"] for r in failed] == [job_id]
    health = (await admin.get("/api/admin/health")).json()
    assert any(r["id"] == job_id and r["error"] for r in health["recent_failures"])

    await server.create_user("sam@example.com", role="Salesperson")
    async with server.client() as sales:
        await server.login(sales, "sam@example.com", PASSWORD)
        assert (await sales.get("/api/admin/jobs")).status_code == 403
        assert (await sales.post("/api/admin/jobs/maintenance.purge/run")).status_code == 403


async def test_job_log_keeps_what_a_succeeded_job_says(
    server: LiveServer, admin: Any, database_url: str, tasks: None
) -> None:
    async with database(database_url) as db:
        async with db.transaction() as s:
            ids = {kind: await queue.defer(s, "test:say", kind=kind) for kind in SAID}
    manual = (await admin.post("/api/admin/jobs/test:hourly/run")).json()["id"]
    plain = (await admin.post("/api/admin/jobs/test:say/run")).json()["id"]
    args = dict(
        await rows(
            database_url, "SELECT id, args FROM procrastinate_jobs WHERE id IN (%(a)s, %(b)s)", a=manual, b=plain
        )
    )
    assert args == {manual: {"manual": True}, plain: {}}  # only a task that takes `manual` is told
    async with workers(database_url, n=1):
        await eventually(lambda: all_finished(database_url, "test:say", len(SAID) + 1), what="the jobs to finish")
        await eventually(lambda: all_finished(database_url, "test:hourly", 1), what="the manual run")
    runs = {r["id"]: r for r in (await admin.get("/api/admin/jobs")).json()}
    assert runs[ids["text"]]["result"] == runs[plain]["result"] == "made 2; skipped 1: INV-1 is not paid"
    assert len(runs[ids["long"]]["result"]) == 2000 and runs[ids["long"]]["result"].endswith("y…")
    assert json.loads(runs[ids["dict"]]["result"]) == {"made": 2, "on": "2027-01-01"}
    assert runs[ids["none"]]["result"] is None and runs[ids["none"]]["status"] == "succeeded"
    assert runs[manual]["result"] == "manual=True" and runs[manual]["error"] is None


async def test_defer_belongs_to_the_callers_transaction(database_url: str, tasks: None) -> None:
    async with database(database_url) as db:
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                await queue.defer(s, "test:count", mark="rolled back")
                raise RuntimeError("the change failed")
        assert await rows(database_url, "SELECT id FROM procrastinate_jobs") == []

        later = datetime.now(UTC) + timedelta(hours=1)
        async with db.transaction() as s:
            first = await queue.defer(s, "test:count", mark="a", queueing_lock="only-one", scheduled_at=later)
            with pytest.raises(queue.AlreadyQueued):
                await queue.defer(s, "test:count", mark="b", queueing_lock="only-one")
            second = await queue.defer(s, "test:count", mark="c")  # the transaction survived the refusal
        jobs = await rows(
            database_url,
            "SELECT id, task_name, args->>'mark', queueing_lock, scheduled_at, status::text"
            " FROM procrastinate_jobs ORDER BY id",
        )
        assert jobs == [
            (first, "test:count", "a", "only-one", later, "todo"),
            (second, "test:count", "c", None, None, "todo"),
        ]

        async with db.transaction() as s:
            with pytest.raises(registry.UnknownTask):
                await queue.defer(s, "test:no_such_task")
            with pytest.raises(ValueError):
                await queue.defer(s, "test:count", mark="x", scheduled_at=datetime(2030, 1, 1))


async def test_admin_runs_a_task_now(server: LiveServer, admin: Any, database_url: str) -> None:
    started = await admin.post("/api/admin/jobs/maintenance.purge/run")
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["task"], job["status"]) == ("crm:maintenance.purge", "todo")

    again = await admin.post("/api/admin/jobs/crm:maintenance.purge/run")
    assert again.status_code == 409 and again.json()["code"] == "already_queued", again.text
    unknown = await admin.post("/api/admin/jobs/no.such.task/run")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "unknown_task" and "no.such.task" in unknown.json()["message"]
    assert "crm:maintenance.purge" in unknown.json()["message"]

    audit = (await admin.get("/api/audit", params={"entity": "job", "entity_id": job["id"]})).json()
    assert [(e["action"], e["changes"][0]["new"]) for e in audit["items"]] == [("run_now", "crm:maintenance.purge")]

    with LiveServer.run(database_url, worker=True):  # a second server process, with its worker on
        await eventually(lambda: all_finished(database_url, "crm:maintenance.purge", 1), what="the purge")
    run = next(r for r in (await admin.get("/api/admin/jobs")).json() if r["id"] == job["id"])
    assert run["status"] == "succeeded" and run["error"] is None and run["duration_ms"] is not None
    assert run["worker"].endswith(f":{os.getpid()}")  # host:pid of the process that ran it


async def test_health_says_whether_any_worker_runs(server: LiveServer, database_url: str) -> None:
    async with server.client() as api:
        down = (await api.get("/health")).json()["jobs"]
        assert down["status"] == "down" and "no job worker" in down["detail"], down
        async with workers(database_url, n=1):

            async def up() -> bool:  # the worker registers itself a moment after it starts
                jobs = (await api.get("/health")).json()["jobs"]
                return bool(jobs["status"] == "ok" and "1 worker(s) elsewhere" in jobs["detail"])

            await eventually(up, what="the health check to see the worker")


async def test_job_of_a_dead_process_runs_again(database_url: str, tasks: None) -> None:
    # What a killed server process leaves behind: a job "doing" with no live worker.
    await rows(
        database_url,
        """INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)
                                VALUES ('default', 'test:count', '{"mark": "stalled"}', 'doing') RETURNING id""",
    )

    async def ran() -> bool:
        return bool(await rows(database_url, "SELECT 1 FROM job_hits WHERE mark = 'stalled'"))

    async with workers(database_url, n=1):  # maintenance.retry_stalled is deferred as the worker starts
        await eventually(ran, what="the stalled job to run again")
