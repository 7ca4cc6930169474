"""Nothing acknowledged is lost: a server process is killed (SIGKILL, no goodbye) in the middle of a
stream of website form posts; after a restart every post that got its 2xx has become a lead, once."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import func, select

from crm_server.integrations.models import InboxEvent
from crm_server.leads.models import Lead
from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer, free_port, server_process

SENDERS = 4
KILL_AFTER = 60  # acknowledged posts


async def _set_up(base: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        token = (await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})).json()["token"]
        api.headers["Authorization"] = f"Bearer {token}"
        changed = await api.patch("/api/settings", json={"values": {"forms.max_per_window": 10000}})
        assert changed.status_code == 200, changed.text
        form = await api.post("/api/web-forms", json={"name": "Contact", "fields": [
            {"name": "name", "label": "Name", "required": True, "maps_to": "person_name"},
            {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}]})
        assert form.status_code == 201, form.text
        return str(form.json()["key"])


async def _stream(base: str, key: str, acknowledged: list[str], enough: asyncio.Event, stop: asyncio.Event) -> None:
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
            if len(acknowledged) >= KILL_AFTER:
                enough.set()


async def test_every_acknowledged_event_is_processed_after_a_crash(database_url: str) -> None:
    live = LiveServer(database_url, "")  # only for its data helpers; the servers here are processes
    await live.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    with server_process(database_url, port) as process:
        key = await _set_up(base)
        enough, stop = asyncio.Event(), asyncio.Event()
        senders = [asyncio.create_task(_stream(base, key, acknowledged, enough, stop)) for _ in range(SENDERS)]
        await asyncio.wait_for(enough.wait(), timeout=60)
        process.kill()  # mid-stream: posts in flight get no answer, acknowledged ones must survive
        process.wait(timeout=10)
        stop.set()
        await asyncio.gather(*senders)
    async with live.session() as session:
        waiting = await session.scalar(select(func.count()).select_from(InboxEvent)
                                       .where(InboxEvent.status != "processed"))
    print(f"killed after {len(acknowledged)} acknowledged posts; {waiting} events not yet processed")

    with server_process(database_url, free_port()):
        deadline = time.monotonic() + 90
        while True:
            async with live.session() as session:
                emails = set((await session.scalars(select(Lead.email))).all())
                left = await session.scalar(select(func.count()).select_from(InboxEvent)
                                            .where(InboxEvent.status.in_(("pending", "failed"))))
            if not left and set(acknowledged) <= emails:
                break
            assert time.monotonic() < deadline, f"{left} events still waiting, {len(set(acknowledged) - emails)} lost"
            await asyncio.sleep(0.25)
    async with live.session() as session:
        leads = await session.scalar(select(func.count()).select_from(Lead))
        stored = await session.scalar(select(func.count()).select_from(InboxEvent)
                                      .where(InboxEvent.status == "processed"))
    assert set(acknowledged) <= emails
    assert leads == stored  # one lead per stored submission: none twice
