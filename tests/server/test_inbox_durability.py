"""Nothing acknowledged is lost: a server process is killed (SIGKILL, no goodbye) in the middle of a
stream of website form posts; after a restart every post that got its 2xx has become a lead, once.

So that the kill proves something, part of the stream is acknowledged while its work cannot finish:
halfway, the test holds a SHARE lock on the leads table (reads go on, no lead can be inserted), so
every post acknowledged after that waits in the inbox, its job stuck mid-way, when the process dies.
The test checks that such posts existed (acknowledged, stored, not yet leads) before it restarts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select, text

from crm_server.integrations.models import InboxEvent
from crm_server.leads.models import Lead
from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer, free_port, server_process

SENDERS = 4
LOCK_AFTER = 30  # acknowledged posts, then no lead can be made
KILL_AFTER = 60  # acknowledged posts


async def _set_up(base: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        token = (await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})).json()["token"]
        api.headers["Authorization"] = f"Bearer {token}"
        changed = await api.patch("/api/settings", json={"values": {"forms.max_per_window": 10000}})
        assert changed.status_code == 200, changed.text
        form = await api.post(
            "/api/web-forms",
            json={
                "name": "Contact",
                "fields": [
                    {"name": "name", "label": "Name", "required": True, "maps_to": "person_name"},
                    {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
                ],
            },
        )
        assert form.status_code == 201, form.text
        return str(form.json()["key"])


async def _stream(base: str, key: str, acknowledged: list[str], stop: asyncio.Event) -> None:
    """Post until the server goes away; remember each post that got a 2xx."""
    async with httpx.AsyncClient(base_url=base, timeout=5) as web:
        n = 0
        while not stop.is_set():
            email = f"visitor-{id(web)}-{n}@example.com"
            n += 1
            try:
                answer = await web.post(f"/webhooks/forms/{key}", json={"name": f"Visitor {n}", "email": email})
            except httpx.TransportError:
                return
            if answer.status_code < 300:
                acknowledged.append(email)


async def _until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


async def _nothing_locked(live: LiveServer) -> bool:
    """No waiting event is still locked (by a dead process's backend that has not noticed yet)."""
    async with live.session() as session:
        waiting = await session.scalar(text("SELECT count(*) FROM integration_events WHERE status = 'pending'"))
        free = len(
            (
                await session.execute(
                    text("SELECT id FROM integration_events WHERE status = 'pending' FOR UPDATE SKIP LOCKED")
                )
            ).all()
        )
    return bool(free == waiting)


async def test_every_acknowledged_event_is_processed_after_a_crash(database_url: str) -> None:
    live = LiveServer(database_url, "")  # only for its data helpers; the servers here are processes
    await live.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    locker = await psycopg.AsyncConnection.connect(database_url)
    try:
        with server_process(database_url, port) as process:
            key = await _set_up(base)
            stop = asyncio.Event()
            senders = [asyncio.create_task(_stream(base, key, acknowledged, stop)) for _ in range(SENDERS)]
            await _until(lambda: len(acknowledged) >= LOCK_AFTER, "the first posts are acknowledged")
            await locker.execute("LOCK TABLE leads IN SHARE MODE")  # from now on no lead can be made
            stuck_from = len(acknowledged)
            await _until(lambda: len(acknowledged) >= max(KILL_AFTER, stuck_from + 10), "more are acknowledged")
            process.kill()  # mid-stream: posts in flight get no answer, acknowledged ones must survive
            process.wait(timeout=10)
            stop.set()
            await asyncio.gather(*senders)
        # What the dead process left: acknowledged posts stored in the inbox but not yet leads.
        async with live.session() as session:
            emails = set((await session.scalars(select(Lead.email))).all())
            waiting = await session.scalar(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.status.in_(("pending", "failed")))
            )
    finally:
        await locker.rollback()
        await locker.close()
    not_yet = set(acknowledged) - emails
    print(
        f"killed after {len(acknowledged)} acknowledged posts; {waiting} events waiting, "
        f"{len(not_yet)} acknowledged posts not yet leads"
    )
    assert waiting and waiting >= len(not_yet) >= len(acknowledged) - stuck_from > 0
    await _until_async(lambda: _nothing_locked(live), "the dead process's transactions are gone")

    with server_process(database_url, free_port()):
        deadline = time.monotonic() + 90
        while True:
            async with live.session() as session:
                emails = set((await session.scalars(select(Lead.email))).all())
                left = await session.scalar(
                    select(func.count()).select_from(InboxEvent).where(InboxEvent.status.in_(("pending", "failed")))
                )
            if not left and set(acknowledged) <= emails:
                break
            assert time.monotonic() < deadline, f"{left} events still waiting, {len(set(acknowledged) - emails)} lost"
            await asyncio.sleep(0.25)
    async with live.session() as session:
        leads = await session.scalar(select(func.count()).select_from(Lead))
        stored = await session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "processed")
        )
    assert set(acknowledged) <= emails
    assert leads == stored  # one lead per stored submission: none twice


async def _until_async(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.1)
