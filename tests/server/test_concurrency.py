"""Concurrent edits are refused instead of lost; retried POSTs return the first answer."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from crm_server.auth.models import Team, User
from tests.support import LiveServer


async def test_stale_version_is_refused_with_409(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    user_id = await server.create_user("v@example.com")
    version = (await admin.get(f"/api/users/{user_id}")).json()["version"]
    first = await admin.patch(f"/api/users/{user_id}", json={"version": version, "full_name": "First"})
    assert first.status_code == 200
    second = await admin.patch(f"/api/users/{user_id}", json={"version": version, "full_name": "Second"})
    assert second.status_code == 409
    assert second.json()["code"] == "stale_version" and second.json()["current_version"] == version + 1
    assert (await admin.get(f"/api/users/{user_id}")).json()["full_name"] == "First"


async def test_repeated_idempotency_key_returns_first_result(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": "create-team-1"}
    first = await admin.post("/api/teams", json={"name": "Once"}, headers=headers)
    again = await admin.post("/api/teams", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = await admin.post("/api/teams", json={"name": "Different"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    async with server.session() as s:
        assert await s.scalar(select(func.count()).select_from(Team)) == 1


async def test_concurrent_duplicates_create_one_record(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    roles = {r["name"]: r["id"] for r in (await admin.get("/api/roles")).json()}
    body = {
        "email": "twice@example.com",
        "full_name": "Double Click",
        "role_id": roles["Salesperson"],
        "password": "seven green apples 1",
    }
    answers = await asyncio.gather(
        *[admin.post("/api/users", json=body, headers={"Idempotency-Key": "dbl"}) for _ in range(5)]
    )
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json()["id"] for a in answers}) == 1
    async with server.session() as s:
        assert await s.scalar(select(func.count()).select_from(User).where(User.email == "twice@example.com")) == 1


async def test_failed_request_leaves_the_key_unused(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    """A refused request rolls its key back with it, so its retry is really tried again."""
    headers = {"Idempotency-Key": "retry-after-fix"}
    await admin.post("/api/teams", json={"name": "Taken"})
    refused = await admin.post("/api/teams", json={"name": "Taken"}, headers=headers)
    assert refused.status_code == 422
    team = (await admin.get("/api/teams")).json()[0]
    await admin.put(f"/api/teams/{team['id']}", json={"name": "Renamed", "version": team["version"]})
    retried = await admin.post("/api/teams", json={"name": "Taken"}, headers=headers)
    assert retried.status_code == 201 and retried.headers.get("idempotent-replayed") is None
