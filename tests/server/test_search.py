"""Global search: grouped by type, a few per group with a "more" flag, by name, company, email, phone
(typed any way) and number, and only what the user may see."""

from __future__ import annotations

from tests.server.test_leads import make_lead
from tests.support import LiveServer


def _groups(body: dict) -> dict[str, list[int]]:  # type: ignore[type-arg]
    return {g["type"]: [i["id"] for i in g["items"]] for g in body["groups"]}


async def test_results_are_grouped_and_found_every_way(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    lead = await make_lead(
        admin, person_name="Ioana Marinescu", company="Zephyr Logistics", email="ioana@zephyr.ro", phone="0744 555 666"
    )
    client = (
        await admin.post(
            "/api/clients",
            json={
                "name": "Zephyr Logistics SRL",
                "vat_number": "RO 4455667",
                "contacts": [{"name": "Mihai Zephyrescu", "email": "mihai@zephyr.ro"}],
            },
        )
    ).json()
    found = (await admin.get("/api/search", params={"q": "zephyr"})).json()
    assert [g["type"] for g in found["groups"]] == ["lead", "client", "contact", "ticket"]
    assert _groups(found) == {
        "lead": [lead["id"]],
        "client": [client["id"]],
        "contact": [client["contacts"][0]["id"]],
        "ticket": [],
    }
    contact = found["groups"][2]["items"][0]
    assert contact["parent_id"] == client["id"] and "Zephyr Logistics SRL" in contact["subtitle"]
    for q in ("0744555666", "+40 744 555 666", "744 555", "IOANA@ZEPHYR", str(lead["id"]), f"#{lead['id']}"):
        assert lead["id"] in _groups((await admin.get("/api/search", params={"q": q})).json())["lead"], q
    assert _groups((await admin.get("/api/search", params={"q": "4455667"})).json())["client"] == [client["id"]]
    assert _groups((await admin.get("/api/search", params={"q": "ro4455667"})).json())["client"] == [client["id"]]
    only = (await admin.get("/api/search", params={"q": "zephyr", "types": "client"})).json()
    assert [g["type"] for g in only["groups"]] == ["client"]
    assert (await admin.get("/api/search", params={"q": "z"})).json()["groups"] == []
    # Wildcards are text, not patterns.
    assert all(not g["items"] for g in (await admin.get("/api/search", params={"q": "%_%"})).json()["groups"])


async def test_groups_are_short_with_a_more_flag_and_archived_last(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    ids = [(await make_lead(admin, person_name=f"Popescu {i}"))["id"] for i in range(7)]
    archived = await make_lead(admin, person_name="Popescu Archived")
    await admin.post(f"/api/leads/{archived['id']}/archive", json={"version": archived["version"]})
    body = (await admin.get("/api/search", params={"q": "popescu", "limit": 5})).json()
    leads = body["groups"][0]
    assert len(leads["items"]) == 5 and leads["more"] is True
    everything = (await admin.get("/api/search", params={"q": "popescu", "limit": 20})).json()["groups"][0]
    assert everything["more"] is False and everything["items"][-1]["id"] == archived["id"]
    assert everything["items"][-1]["archived"] is True
    assert {i["id"] for i in everything["items"][:-1]} == set(ids)


async def test_search_keeps_to_the_users_scope(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await server.create_user("sam@example.com", team="East")
    await server.create_user("sue@example.com", team="East")
    await server.create_user("max@example.com", role="Manager", team="East")
    await server.create_user("wes@example.com", role="Warehouse")
    async with server.client() as sam, server.client() as sue, server.client() as mgr, server.client() as wh:
        for api, email in ((sam, "sam"), (sue, "sue"), (mgr, "max"), (wh, "wes")):
            await server.login(api, f"{email}@example.com")
        mine = await make_lead(sam, person_name="Quentin Sam")
        theirs = await make_lead(sue, person_name="Quentin Sue")
        sams_client = (await sam.post("/api/clients", json={"name": "Quentin Holdings"})).json()
        assert _groups((await sam.get("/api/search", params={"q": "quentin"})).json()) == {
            "lead": [mine["id"]],
            "client": [sams_client["id"]],
            "contact": [],
        }
        assert _groups((await sue.get("/api/search", params={"q": "quentin"})).json())["lead"] == [theirs["id"]]
        assert set(_groups((await mgr.get("/api/search", params={"q": "quentin"})).json())["lead"]) == {
            mine["id"],
            theirs["id"],
        }
        # Warehouse staff view clients (scope all) but not leads: no leads group at all.
        warehouse = _groups((await wh.get("/api/search", params={"q": "quentin"})).json())
        assert "lead" not in warehouse and warehouse["client"] == [sams_client["id"]]
