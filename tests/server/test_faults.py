"""Faults an operator meets, on a PostgreSQL cluster of this module's own (loopback only): the
database restarted, and its postmaster killed with SIGKILL, in the middle of a stream of writes
(desktop-like creates with Idempotency-Keys, and Stripe webhooks); its data disk full.

During an outage every request answers 503 with words, at once (each request here gives up after
GUARD seconds: a hang fails the test), /health says 503 naming the database, the server process
reconnects by itself, and afterwards every acknowledged write is there exactly once (by ids).
A full disk refuses writes with 507 and words, reads go on, nothing is half saved, and the same
write succeeds once space is freed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from crm_server import migrate
from crm_server.embedded_db import SYSTEM_USER, EmbeddedPostgres, _is_root
from crm_server.integrations import stripe
from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer, free_port, server_process

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and mounts")

GUARD = 10.0  # seconds any one request may take before the test calls it a hang
SECRET = "whsec_faults"
STRIPE_EVENT = Path(__file__).parent / "fixtures" / "webhooks" / "stripe" / "customer.created.json"


@dataclass
class Served:
    cluster: EmbeddedPostgres
    url: str
    base: str


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A durable cluster of its own (the suite's shared one must not be restarted under the other
    tests), migrated, with an admin, and a `crm-server serve` process on it."""
    root = Path(tempfile.mkdtemp(prefix="crm-faults-"))
    cluster = EmbeddedPostgres(root)
    url = cluster.start("crm", durable=True)
    try:
        migrate.upgrade(url)
        asyncio.run(LiveServer(url, "").create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin"))
        port = free_port()
        with server_process(url, port):  # with its job worker: /health counts it
            yield Served(cluster, url, f"http://127.0.0.1:{port}")
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def _signed_in(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=GUARD) as api:
        login = await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"
        yield api


@dataclass
class Writer:
    """Writes the way a desktop and a provider do: each write retried with the same key (or event
    id) until acknowledged; every answer in between must be a 503 with words, never a 500."""

    api: httpx.AsyncClient
    leads: dict[str, int] = field(default_factory=dict)  # acknowledged: Idempotency-Key -> lead id
    events: list[str] = field(default_factory=list)  # acknowledged Stripe event ids
    refused: int = 0  # 503s met
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _until_acknowledged(self, send: Any) -> httpx.Response:
        while True:
            try:
                answer: httpx.Response = await send()
            except httpx.TimeoutException as exc:
                raise AssertionError(f"a request hung past {GUARD} s during the outage") from exc
            if answer.status_code < 300:
                return answer
            assert answer.status_code == 503, answer.text
            assert answer.json()["message"] and answer.headers.get("Retry-After"), answer.text
            self.refused += 1
            await asyncio.sleep(0.2)

    async def run(self) -> None:
        template = json.loads(STRIPE_EVENT.read_text())
        n = 0
        while not self.stop.is_set():
            key = f"fault-lead-{n}"
            answer = await self._until_acknowledged(
                lambda k=key: self.api.post("/api/leads", json={"person_name": k}, headers={"Idempotency-Key": k})
            )
            self.leads[key] = int(answer.json()["id"])
            body = json.dumps({**template, "id": f"evt_fault_{n}"}).encode()
            headers = {"Content-Type": "application/json", "Stripe-Signature": stripe.signature_header(SECRET, body)}
            await self._until_acknowledged(
                lambda b=body, h=headers: self.api.post("/webhooks/stripe", content=b, headers=h)
            )
            self.events.append(f"evt_fault_{n}")
            n += 1

    async def more(self, count: int, timeout: float = 60) -> None:
        """Wait until `count` more writes are acknowledged (the server is back by itself)."""
        wanted = len(self.leads) + count
        deadline = time.monotonic() + timeout
        while len(self.leads) < wanted:
            assert time.monotonic() < deadline, f"writes did not resume: {len(self.leads)} of {wanted}"
            await asyncio.sleep(0.05)


async def _outage_answers(api: httpx.AsyncClient) -> None:
    """While the database is away: /health 503 naming it; a write 503 with words, promptly."""
    health = await api.get("/health")
    assert health.status_code == 503 and "database" in health.json()["down"], health.text
    refused = await api.post("/api/leads", json={"person_name": "During the outage"})
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "database_unavailable" and refused.headers["Retry-After"]
    listed = await api.get("/api/leads")
    assert listed.status_code == 503, listed.text


async def _health_ok(api: httpx.AsyncClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (health := await api.get("/health")).status_code != 200:
        assert time.monotonic() < deadline, f"the server did not reconnect by itself: {health.text}"
        await asyncio.sleep(0.2)


def _start_again(cluster: EmbeddedPostgres, timeout: float = 60) -> None:
    """Start the cluster after a kill: its orphaned backends may hold the old shared memory a moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster.ensure_running()
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _counts(url: str, sql: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {str(k): int(v) for k, v in conn.execute(sql)}


async def test_postgres_restarted_and_killed_during_writes_loses_nothing(served: Served) -> None:
    async with _signed_in(served.base) as api:
        configured = await api.patch("/api/settings", json={"values": {"stripe.endpoint_secret": SECRET}})
        assert configured.status_code == 200, configured.text
        writer = Writer(api)
        stream = asyncio.create_task(writer.run())
        try:
            await writer.more(5)
            # 1. A restart (fast shutdown): connections are cut, the port refuses for a while.
            pgdata = str(served.cluster.pgdata)
            await asyncio.to_thread(served.cluster._run, "pg_ctl", "-D", pgdata, "-w", "-m", "fast", "stop")
            await _outage_answers(api)
            await asyncio.to_thread(_start_again, served.cluster)
            await _health_ok(api)
            await writer.more(5)
            # 2. The postmaster killed (SIGKILL) mid-stream: no goodbye to anyone.
            pid = served.cluster.postmaster_pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await _outage_answers(api)
            await asyncio.to_thread(_start_again, served.cluster)
            await _health_ok(api)
            await writer.more(5)
        finally:
            writer.stop.set()
            await asyncio.wait_for(stream, 120)
    assert writer.refused > 0  # the stream did meet the outages
    names = _counts(
        served.url, "SELECT person_name, count(*) FROM leads WHERE person_name LIKE 'fault-lead-%' GROUP BY 1"
    )
    assert names == dict.fromkeys(writer.leads, 1)  # each acknowledged create once; nothing else
    ids = _counts(served.url, "SELECT person_name, id FROM leads WHERE person_name LIKE 'fault-lead-%'")
    assert ids == writer.leads
    stored = "SELECT event_id, count(*) FROM integration_events WHERE provider = 'stripe' GROUP BY 1"
    events = _counts(served.url, stored)
    assert {e: events.get(e) for e in writer.events} == dict.fromkeys(writer.events, 1)
    assert "During the outage" not in str(_counts(served.url, "SELECT person_name, 1 FROM leads"))


@contextlib.contextmanager
def _tiny_disk(root: Path, megabytes: int = 16) -> Iterator[Path]:
    """A small tmpfs the cluster's user may write to (skips where mounting is not allowed)."""
    mount = root / "tiny"
    mount.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(mount)], check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a small filesystem here (needs root and mount rights)")
    try:
        space = mount / "tablespace"
        space.mkdir()
        if _is_root():
            shutil.chown(space, SYSTEM_USER, SYSTEM_USER)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path) -> Path:
    """Fill the filesystem to the last byte; returns the filler file (delete it to free the space)."""
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1):  # big pieces, then the last bytes one by one
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


async def test_a_full_data_disk_refuses_writes_in_words_and_reads_go_on(served: Served) -> None:
    """The leads table lives on a tablespace on a tiny filesystem, which is then filled."""
    with _tiny_disk(served.cluster.root) as mount, psycopg.connect(served.url, autocommit=True) as admin:
        admin.execute(f"CREATE TABLESPACE tiny LOCATION '{mount / 'tablespace'}'")
        admin.execute("ALTER TABLE leads SET TABLESPACE tiny")
        filler = _fill(mount)
        try:
            async with _signed_in(served.base) as api:
                refused = None
                for n in range(2000):  # the table's last page may take a few rows before it must grow
                    body = {"person_name": f"disk-full-{n}"}
                    answer = await api.post("/api/leads", json=body, headers={"Idempotency-Key": f"disk-{n}"})
                    if answer.status_code != 201:
                        refused = (n, answer)
                        break
                assert refused is not None, "the full disk never refused a write"
                n, answer = refused
                assert answer.status_code == 507, answer.text
                assert answer.json()["code"] == "disk_full" and "disk space" in answer.json()["message"]
                # Nothing half saved: neither the lead nor its audit row.
                assert (
                    _counts(served.url, f"SELECT person_name, 1 FROM leads WHERE person_name = 'disk-full-{n}'") == {}
                )
                audit = _counts(
                    served.url, f"""SELECT id, 1 FROM audit_log WHERE changes::text LIKE '%"disk-full-{n}"%'"""
                )
                assert audit == {}
                # Reads go on.
                listed = await api.get("/api/leads", params={"q": "disk-full"})
                assert listed.status_code == 200 and listed.json()["total"] == n, listed.text
                health = await api.get("/health")
                assert health.status_code == 200, health.text
                # Space freed: the same write (same key) succeeds, once.
                filler.unlink()
                again = await api.post(
                    "/api/leads", json={"person_name": f"disk-full-{n}"}, headers={"Idempotency-Key": f"disk-{n}"}
                )
                assert again.status_code == 201, again.text
                count = _counts(
                    served.url,
                    f"SELECT person_name, count(*) FROM leads WHERE person_name = 'disk-full-{n}' GROUP BY 1",
                )
                assert count == {f"disk-full-{n}": 1}
        finally:
            filler.unlink(missing_ok=True)
            admin.execute("ALTER TABLE leads SET TABLESPACE pg_default")
            admin.execute("DROP TABLESPACE tiny")
