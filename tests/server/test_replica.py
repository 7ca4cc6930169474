"""The read replica (CRM_REPLICA_URL): a real streaming standby of the test cluster, built with the
embedded binaries (pg_basebackup -R) on another loopback port. Reports and search are read there
while it keeps up; when its replay is paused and it falls behind past the bound, or when it is
stopped, the primary answers and the person gets the report all the same."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from crm_server.embedded_db import SYSTEM_USER, EmbeddedPostgres, _is_root
from crm_server.replica import APPLICATION_NAME, AS_OF_HEADER, SOURCE_HEADER
from tests.conftest import Clones
from tests.support import ADMIN_EMAIL, LiveServer, free_port, make_url

REPORT = "/api/reports/sources"


@dataclass
class Standby:
    cluster: EmbeddedPostgres
    pgdata: Path
    port: int
    url: str  # the test database on the standby

    @property
    def admin_url(self) -> str:
        return make_url(self.url, "postgres")

    def pg_ctl(self, *args: str) -> None:
        self.cluster._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", *args)

    def start(self) -> None:
        # Every statement in its log, with the connection's application name: what ran where shows.
        options = f"-h 127.0.0.1 -p {self.port} -c max_connections=200 -c log_statement=all -c log_line_prefix='%a|'"
        self.cluster._run("pg_ctl", "-D", str(self.pgdata), "-W", "-l", str(self.log), "-o", options, "start")
        # A hot standby opens once it has seen a snapshot of the primary's running transactions: ask
        # the primary for one now rather than wait for its next (every 15 s, or a checkpoint).
        with psycopg.connect(self.cluster.admin_url, autocommit=True) as primary:  # type: ignore[attr-defined]
            primary.execute("SELECT pg_log_standby_snapshot()")
        _wait_for(self.admin_url)

    @property
    def log(self) -> Path:
        return self.pgdata / "standby.log"

    def statements(self, application: str) -> list[str]:
        """The log's entries (a statement's later lines joined to it) made on `application`'s connections."""
        entries = re.split(r"\n(?=[^\n|]*\|[A-Z]+:)", self.log.read_text(errors="replace"))
        return [entry for entry in entries if entry.startswith(f"{application}|")]

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            return list(conn.execute(statement))


def _wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "the standby did not open"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def primary_url(pg_cluster: EmbeddedPostgres, clones: Clones) -> Iterator[str]:
    name = clones.take()
    yield make_url(pg_cluster.admin_url, name)  # type: ignore[attr-defined]
    clones.give_back(name)


@pytest.fixture(scope="module")
def standby(pg_cluster: EmbeddedPostgres, primary_url: str) -> Iterator[Standby]:
    """A base backup of the running test cluster, started as a hot standby streaming from it."""
    pgdata = pg_cluster.root / f"standby-{os.getpid()}"
    shutil.rmtree(pgdata, ignore_errors=True)
    pgdata.mkdir(mode=0o700)
    if _is_root():
        shutil.chown(pgdata, SYSTEM_USER, SYSTEM_USER)
    source = make_url(primary_url, "postgres")
    pg_cluster._run("pg_basebackup", "-D", str(pgdata), "-R", "-X", "stream", "-c", "fast", "-d", source, timeout=300)
    port = free_port()
    parts = urlsplit(primary_url)
    url = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}").geturl()
    made = Standby(pg_cluster, pgdata, port, url)
    made.start()
    try:
        yield made
    finally:
        if (pgdata / "postmaster.pid").exists():
            made.stop()
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_server(primary_url: str, standby: Standby) -> Iterator[LiveServer]:
    """The app (with its job worker) on the primary, told of the standby; it tolerates 1 s of lag."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_REPLICA_URL", standby.url)
        patch.setenv("CRM_REPLICA_MAX_LAG_SECONDS", "1")
        with LiveServer.run(primary_url, worker=True) as live:  # the worker writes exports
            asyncio.run(live.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin"))
            yield live


@pytest.fixture
async def boss(replica_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with replica_server.client() as api:
        await replica_server.login(api, ADMIN_EMAIL)
        yield api


async def _report_until(api: httpx.AsyncClient, wanted: Any, what: str, timeout: float = 30) -> httpx.Response:
    """GET the report until `wanted(response)` holds (the replica catches up, or falls behind)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await api.get(REPORT)
        assert response.status_code == 200, response.text
        if wanted(response):
            return response
        assert loop.time() < deadline, f"{what}: last answer {dict(response.headers)}"
        await asyncio.sleep(0.2)


async def _lead(api: httpx.AsyncClient, source: str) -> None:
    created = await api.post("/api/leads", json={"person_name": f"From {source}", "source": source})
    assert created.status_code == 201, created.text


def _from_replica(response: httpx.Response) -> bool:
    return response.headers.get(SOURCE_HEADER) == "replica"


async def test_a_report_is_read_from_the_caught_up_replica(boss: httpx.AsyncClient, standby: Standby) -> None:
    await _lead(boss, "Replicated fair")
    response = await _report_until(
        boss, lambda r: _from_replica(r) and "Replicated fair" in r.text, "the replica did not catch up"
    )
    assert response.headers[AS_OF_HEADER]  # how fresh: the report may say "as of"
    # The report's query ran on the standby, on the server's replica connection.
    ran = [line for line in standby.statements(APPLICATION_NAME) if re.search(r"(FROM|JOIN) lead", line)]
    assert ran, standby.statements(APPLICATION_NAME)[-5:]
    # Writes stay on the primary (a standby refuses them): a new lead is saved as ever.
    await _lead(boss, "Written on the primary")


async def test_an_export_reads_its_rows_from_the_replica(boss: httpx.AsyncClient, standby: Standby) -> None:
    await _report_until(boss, lambda r: _from_replica(r) and "Written on the primary" in r.text, "no catch-up")
    started = await boss.post("/api/exports", json={"entity": "leads", "format": "csv", "filter": {}})
    assert started.status_code == 201, started.text
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (export := (await boss.get(f"/api/exports/{started.json()['id']}")).json())["state"] in (
        "pending",
        "running",
    ):
        assert loop.time() < deadline, export
        await asyncio.sleep(0.2)
    assert export["state"] == "done", export
    got = await boss.get(f"/api/exports/{export['id']}/file")
    assert got.status_code == 200 and "Written on the primary" in got.text
    # Its rows were read on the standby (its COPY in the standby's log, on the replica connection).
    assert any("COPY" in line for line in standby.statements(APPLICATION_NAME)), standby.statements(APPLICATION_NAME)[
        -5:
    ]


async def test_a_lagging_replica_is_skipped_and_the_primary_answers(boss: httpx.AsyncClient, standby: Standby) -> None:
    await _report_until(boss, _from_replica, "the replica is not in use")
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        await _lead(boss, "While paused")
        # Behind and getting older: first maybe the replica's stale answer, then, past 1 s of lag,
        # the primary's, with the new lead in it and no replica headers.
        fresh = await _report_until(boss, lambda r: "While paused" in r.text, "the lagging replica was not skipped")
        assert SOURCE_HEADER not in fresh.headers and AS_OF_HEADER not in fresh.headers
        assert standby.sql("SELECT pg_is_wal_replay_paused()") == [(True,)]  # still behind
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    await _report_until(boss, lambda r: _from_replica(r) and "While paused" in r.text, "the replica did not return")


async def test_a_stopped_replica_is_skipped_without_an_error(boss: httpx.AsyncClient, standby: Standby) -> None:
    await _report_until(boss, _from_replica, "the replica is not in use")
    standby.stop()
    try:
        await _lead(boss, "Replica down")
        for _ in range(3):  # every answer a report, from the primary: none a 5xx
            response = await boss.get(REPORT)
            assert response.status_code == 200, response.text
            assert SOURCE_HEADER not in response.headers and "Replica down" in response.text
        searched = await boss.get("/api/search", params={"q": "Replica down"})
        assert searched.status_code == 200 and SOURCE_HEADER not in searched.headers
    finally:
        standby.start()
    await _report_until(boss, lambda r: _from_replica(r) and "Replica down" in r.text, "the restarted replica")
