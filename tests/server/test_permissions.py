"""Every route checks its permission on the server; lists only return records in scope."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, insert, select, text

from crm_server.auth.permissions import BUILTIN_ROLES, Principal
from crm_server.contract.auth import MODULES
from tests.support import LiveServer


async def test_denied_route_names_the_permission_and_is_logged(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    sales_id = await server.create_user("sales@example.com", role="Salesperson")
    async with server.client() as api:
        await server.login(api, "sales@example.com")
        denied = await api.post("/api/teams", json={"name": "Mine"})
        assert denied.status_code == 403
        assert denied.json()["code"] == "permission_denied"
        assert denied.json()["permission"] == "admin.create"
        assert "'create' permission on 'admin'" in denied.json()["message"]
        assert (await api.get("/api/audit")).status_code == 403
    log = (await admin.get("/api/security-log", params={"kind": "permission_denied"})).json()
    assert log["total"] == 2
    assert {i["detail"]["path"] for i in log["items"]} == {"/api/teams", "/api/audit"}
    assert all(i["actor_id"] == sales_id for i in log["items"])
    teams = (await admin.get("/api/teams")).json()
    assert teams == []  # the refused create left nothing behind


async def test_unauthenticated_requests_get_401(server: LiveServer) -> None:
    async with server.client() as api:
        for path in ("/api/auth/me", "/api/users", "/api/settings"):
            answer = await api.get(path)
            assert answer.status_code == 401 and answer.json()["code"] == "not_signed_in"


async def test_edited_role_takes_effect_on_the_next_request(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await server.create_user("acc@example.com", role="Accountant")
    roles = {r["name"]: r for r in (await admin.get("/api/roles")).json()}
    accountant = roles["Accountant"]
    assert accountant["user_count"] == 1 and accountant["builtin"]
    async with server.client() as api:
        await server.login(api, "acc@example.com")
        assert "invoices" in (await api.get("/api/auth/me")).json()["permissions"]
        permissions = dict(accountant["permissions"])
        permissions.pop("invoices")
        permissions["bogus"] = {"actions": ["view"], "scope": "all"}  # unknown modules are dropped
        update = {
            "name": "Accountant",
            "description": "",
            "require_2fa": False,
            "permissions": permissions,
            "version": accountant["version"],
        }
        saved = await admin.put(f"/api/roles/{accountant['id']}", json=update)
        assert saved.status_code == 200, saved.text
        assert "bogus" not in saved.json()["permissions"]
        assert "invoices" not in (await api.get("/api/auth/me")).json()["permissions"]


async def test_role_delete_is_refused_while_in_use(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    created = (
        await admin.post(
            "/api/roles", json={"name": "Interns", "permissions": {"leads": {"actions": ["view"], "scope": "own"}}}
        )
    ).json()
    user_id = await server.create_user("intern@example.com", role="Interns")
    refused = await admin.delete(f"/api/roles/{created['id']}")
    assert refused.status_code == 409 and refused.json()["code"] == "role_in_use"
    version = (await admin.get(f"/api/users/{user_id}")).json()["version"]
    sales_id = next(r["id"] for r in (await admin.get("/api/roles")).json() if r["name"] == "Salesperson")
    await admin.patch(f"/api/users/{user_id}", json={"version": version, "role_id": sales_id})
    assert (await admin.delete(f"/api/roles/{created['id']}")).status_code == 200
    builtin = await admin.delete(f"/api/roles/{sales_id}")
    assert builtin.status_code == 409


def test_builtin_roles_cover_known_modules_only() -> None:
    for spec in BUILTIN_ROLES.values():
        assert set(spec["permissions"]) <= set(MODULES)
    assert set(BUILTIN_ROLES["Admin"]["permissions"]) == set(MODULES)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [("own", {"mine"}), ("team", {"mine", "teammate"}), ("all", {"mine", "teammate", "stranger"})],
)
async def test_scope_filter_keeps_only_records_in_scope(server: LiveServer, scope: str, expected: set[str]) -> None:
    """The list filter every scoped area uses, on a real table of owned records."""
    records = Table(
        "scoped_records",
        MetaData(),
        Column("name", String),
        Column("owner_id", BigInteger),
        Column("team_id", BigInteger),
        prefixes=["TEMPORARY"],
    )
    me = Principal(user_id=1, team_id=10, role_id=1, permissions={"leads": {"actions": ["view"], "scope": scope}})
    async with server.session() as s:
        await s.execute(text("CREATE TEMP TABLE scoped_records (name text, owner_id bigint, team_id bigint)"))
        await s.execute(
            insert(records),
            [
                {"name": "mine", "owner_id": 1, "team_id": 10},
                {"name": "teammate", "owner_id": 2, "team_id": 10},
                {"name": "stranger", "owner_id": 3, "team_id": 20},
            ],
        )
        visible = set(
            (
                await s.scalars(
                    select(records.c.name).where(me.scope_filter("leads", records.c.owner_id, records.c.team_id))
                )
            ).all()
        )
        assert visible == expected
        assert {
            r
            for r in ("mine", "teammate", "stranger")
            if me.sees(
                "leads", {"mine": 1, "teammate": 2, "stranger": 3}[r], {"mine": 10, "teammate": 10, "stranger": 20}[r]
            )
        } == expected
        nothing = (
            await s.scalars(
                select(records.c.name).where(me.scope_filter("tickets", records.c.owner_id, records.c.team_id))
            )
        ).all()
        assert nothing == []  # no view permission on the module: no rows at all
