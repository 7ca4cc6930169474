"""Live events: announced after commit only, in order, to those allowed to see them, resumable."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from crm_server import events
from tests.support import PASSWORD, LiveServer


async def _open(server: LiveServer, token: str, since: int | None = None) -> tuple[ClientConnection, dict[str, Any]]:
    url = server.ws_url + (f"?since={since}" if since is not None else "")
    ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"})
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    return ws, hello


async def _next(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _quiet(ws: ClientConnection, wait: float = 0.5) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), wait)
    except TimeoutError:
        return True
    return False


async def test_change_is_pushed_after_commit_and_not_on_rollback(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    token = admin.headers["Authorization"].split()[1]
    ws, _ = await _open(server, token)
    async with ws:
        created = await admin.post("/api/teams", json={"name": "North"})
        event = await _next(ws)
        assert event["type"] == "event"
        assert (event["entity"], event["entity_id"], event["action"]) == ("team", created.json()["id"], "created")
        # A refused change (duplicate name) rolls back and announces nothing.
        assert (await admin.post("/api/teams", json={"name": "North"})).status_code == 422
        with pytest.raises(RuntimeError):  # an event in a transaction that rolls back
            async with server.session() as s:
                events.emit(s, module="admin", entity="team", entity_id=999, action="updated")
                await events.publish_pending(s)
                raise RuntimeError("roll back")
        assert await _quiet(ws)


async def test_resume_from_last_seen_sequence_misses_nothing(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    token = admin.headers["Authorization"].split()[1]
    ws, _ = await _open(server, token)
    async with ws:
        await admin.post("/api/teams", json={"name": "T0"})
        last_seen = (await _next(ws))["seq"]
    # Offline while three changes happen.
    for i in range(1, 4):
        await admin.post("/api/teams", json={"name": f"T{i}"})
    ws, hello = await _open(server, token, since=last_seen)
    async with ws:
        missed = [await _next(ws) for _ in range(3)]
        assert [e["data"] for e in missed] == [{}, {}, {}]
        seqs = [e["seq"] for e in missed]
        assert seqs == sorted(seqs) and seqs[0] > last_seen and seqs[-1] == hello["last_seq"]
        assert await _quiet(ws, 0.3)  # and nothing twice
        await admin.post("/api/teams", json={"name": "T4"})
        assert (await _next(ws))["seq"] > seqs[-1]


async def test_events_go_only_to_those_who_may_see_the_record(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    own_id = await server.create_user("own@example.com", role="Salesperson", team="East")
    mate_id = await server.create_user("mate@example.com", role="Salesperson", team="East")
    await server.create_user("lead@example.com", role="Manager", team="East")
    await server.create_user("other@example.com", role="Manager", team="West")
    sockets = {}
    for name in ("own", "mate", "lead", "other"):
        async with server.client() as api:
            token = (await server.login(api, f"{name}@example.com", PASSWORD))["token"]
        sockets[name], _ = await _open(server, token)
    async with server.session() as s:
        from sqlalchemy import select

        from crm_server.auth.models import User

        east = await s.scalar(select(User.team_id).where(User.id == own_id))
        events.emit(s, module="leads", entity="lead", entity_id=1, action="updated", owner_id=own_id, team_id=east)
    try:
        assert (await _next(sockets["own"]))["entity_id"] == 1  # owner, scope own
        assert (await _next(sockets["lead"]))["entity_id"] == 1  # manager of the team, scope team
        assert await _quiet(sockets["mate"])  # a salesperson sees only their own leads
        assert await _quiet(sockets["other"])  # another team's manager
        # A notification reaches its user only.
        async with server.session() as s:
            from crm_server.admin.service import notify

            notify(s, mate_id, "test", "Hello")
        event = await _next(sockets["mate"])
        assert event["module"] == "notifications" and event["data"]["title"] == "Hello"
        assert await _quiet(sockets["own"], 0.3)
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_a_bad_token_is_refused(server: LiveServer) -> None:
    with pytest.raises(InvalidStatus):
        await connect(server.ws_url, additional_headers={"Authorization": "Bearer nope"})


async def test_logged_out_session_is_not_accepted(server: LiveServer) -> None:
    await server.create_user("x@example.com")
    async with server.client() as api:
        token = (await server.login(api, "x@example.com"))["token"]
        await api.post("/api/auth/logout")
    with pytest.raises(InvalidStatus):
        await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
