"""Bad input gets a structured 4xx naming the field, never a 500."""

from __future__ import annotations

from tests.support import OPENAPI_SECONDS, LiveServer


async def test_validation_errors_name_the_field(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    answer = await admin.post("/api/users", json={"email": "not-an-email", "full_name": "X", "role_id": 1})
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid" and answer.json()["field"] == "email"
    missing = await admin.post("/api/users", json={"email": "a@example.com", "role_id": 1})
    assert missing.status_code == 422 and missing.json()["field"] == "full_name"
    no_role = await admin.post("/api/users", json={"email": "a@example.com", "full_name": "A", "role_id": 999})
    assert no_role.status_code == 422 and no_role.json()["field"] == "role_id"
    bad_json = await admin.post("/api/teams", content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422 and bad_json.json()["code"] == "invalid"
    bad_query = await admin.get("/api/users", params={"limit": "lots"})
    assert bad_query.status_code == 422 and bad_query.json()["field"] == "limit"


async def test_unknown_things_are_404_json(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    assert (await admin.get("/api/nothing-here")).json()["code"] == "not_found"
    missing = await admin.get("/api/users/424242")
    assert missing.status_code == 404 and missing.json() == {"code": "not_found", "message": "No such user."}


async def test_openapi_describes_the_api(server: LiveServer) -> None:
    async with server.client() as api:
        spec = (await api.get("/openapi.json", timeout=OPENAPI_SECONDS)).json()
    assert {"/api/auth/login", "/api/users", "/api/roles", "/api/audit", "/health"} <= set(spec["paths"])
