"""Every change writes its audit row in the same transaction; the log is append-only."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.support import LiveServer


async def test_user_changes_are_audited_with_old_and_new(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    roles = {r["name"]: r["id"] for r in (await admin.get("/api/roles")).json()}
    created = await admin.post(
        "/api/users",
        json={
            "email": "new@example.com",
            "full_name": "New Person",
            "role_id": roles["Salesperson"],
            "password": "initial words 2026",
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["must_change_password"] is True
    edited = await admin.patch(
        f"/api/users/{user['id']}",
        json={"version": user["version"], "full_name": "Renamed", "role_id": roles["Manager"]},
    )
    assert edited.status_code == 200 and edited.json()["version"] == user["version"] + 1
    log = (await admin.get("/api/audit", params={"entity": "user", "entity_id": user["id"]})).json()
    assert [e["action"] for e in log["items"]] == ["updated", "created"]
    changes = {c["field"]: (c["old"], c["new"]) for c in log["items"][0]["changes"]}
    assert changes == {"full_name": ("New Person", "Renamed"), "role_id": (roles["Salesperson"], roles["Manager"])}
    me = (await admin.get("/api/auth/me")).json()
    assert log["items"][0]["actor_id"] == me["id"]
    by_actor = (await admin.get("/api/audit", params={"actor_id": me["id"], "entity": "user"})).json()
    assert by_actor["total"] == 2


async def test_settings_changes_are_audited_and_secrets_hidden(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    saved = await admin.patch(
        "/api/settings", json={"values": {"smtp.password": "hunter2hunter2", "company.name": "Acme"}}
    )
    assert saved.status_code == 200
    assert saved.json()["values"]["smtp.password"] is True  # write-only: says it is set
    entry = (await admin.get("/api/audit", params={"entity": "settings"})).json()["items"][0]
    assert {"field": "smtp.password", "old": "***", "new": "***"} in entry["changes"]
    assert {"field": "company.name", "old": "My Company", "new": "Acme"} in entry["changes"]
    bad = await admin.patch("/api/settings", json={"values": {"company.name": "Half", "smtp.port": "many"}})
    assert bad.status_code == 422 and bad.json()["field"] == "smtp.port"
    assert (await admin.get("/api/settings")).json()["values"]["company.name"] == "Acme"  # nothing half-saved


async def test_audit_log_is_append_only(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await admin.post("/api/teams", json={"name": "A"})
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with server.session() as s:
                await s.execute(text(sql))


async def test_audit_csv_export(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    team = (await admin.post("/api/teams", json={"name": "Export"})).json()
    await admin.put(f"/api/teams/{team['id']}", json={"name": "Exported", "version": team["version"]})
    answer = await admin.get("/api/audit.csv", params={"entity": "team"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    renamed = [r for r in rows if r["action"] == "updated" and r["field"] == "name"]
    assert renamed and renamed[0]["old"] == "Export" and renamed[0]["new"] == "Exported"
    assert {r["entity"] for r in rows} == {"team"}
