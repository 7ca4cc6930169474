"""Leads: validation, record scope (list, board, WebSocket), the pipeline rules (lost needs a reason,
won converts keeping the history), pipeline editing, the board's counts, bulk work, the Excel export,
duplicates and merging."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from websockets.asyncio.client import connect

from crm_server.activities.models import FollowUp, Note
from crm_server.admin.models import AuditEntry
from crm_server.leads.models import Lead
from tests.support import LiveServer


async def status_ids(api: httpx.AsyncClient) -> dict[str, int]:
    pipelines = (await api.get("/api/pipelines")).json()
    default = next(p for p in pipelines if p["is_default"])
    return {s["name"]: s["id"] for s in default["statuses"]}


async def reason_ids(api: httpx.AsyncClient) -> dict[str, int]:
    return {r["name"]: r["id"] for r in (await api.get("/api/lost-reasons")).json()}


async def make_lead(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/leads", json={"person_name": "Ana Pop", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def move(api: httpx.AsyncClient, lead: dict[str, Any], status_id: int, **extra: Any) -> httpx.Response:
    return await api.post(
        f"/api/leads/{lead['id']}/move", json={"version": lead["version"], "status_id": status_id, **extra}
    )


async def test_create_normalises_and_validates_naming_the_field(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    lead = await make_lead(
        admin,
        company="Acme",
        email="Ana@Acme.RO",
        phone="0722 123 456",
        value="1500.50",
        tags=["Hot", " hot ", "VIP"],
        note="Met at the fair",
    )
    assert lead["phone"] == "+40722123456" and lead["email"] == "Ana@acme.ro"
    assert lead["value"] == "1500.50" and lead["currency"] == "EUR"  # the default currency setting
    assert lead["tags"] == ["hot", "vip"]
    assert lead["status_id"] == (await status_ids(admin))["Open"]
    for payload, field, code in (
        ({"email": "john@domaincom"}, "email", "invalid_email"),
        ({"phone": "0722"}, "phone", "invalid_phone"),
        ({"currency": "EUO", "value": "1"}, "currency", "invalid_currency"),
        ({"value": "-5"}, "value", "invalid"),
        ({"person_name": "  "}, "person_name", "invalid"),
    ):
        response = await admin.post("/api/leads", json={"person_name": "X", **payload})
        assert response.status_code == 422, payload
        assert (response.json()["field"], response.json()["code"]) == (field, code), response.json()
    # A phone abroad keeps its own country.
    assert (await make_lead(admin, phone="+49 30 901820"))["phone"] == "+4930901820"
    async with server.session() as s:
        assert (await s.scalars(select(Note.body).where(Note.lead_id == lead["id"]))).one() == "Met at the fair"


async def test_a_salesperson_sees_own_leads_in_list_board_and_live_events(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await server.create_user("sam@example.com", role="Salesperson", team="East")
    await server.create_user("sue@example.com", role="Salesperson", team="East")
    await server.create_user("max@example.com", role="Manager", team="East")
    await server.create_user("wes@example.com", role="Manager", team="West")
    apis = {}
    for name in ("sam", "sue", "max", "wes"):
        apis[name] = server.client()
        await server.login(apis[name], f"{name}@example.com")
    sockets = {}
    try:
        for name, api in apis.items():
            token = api.headers["Authorization"].split()[1]
            sockets[name] = await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
            await sockets[name].recv()  # hello
        sam_lead = await make_lead(apis["sam"], person_name="Sam's lead")
        sue_lead = await make_lead(apis["sue"], person_name="Sue's lead")
        assert sam_lead["owner_id"] != sue_lead["owner_id"]  # a salesperson keeps what they enter

        async def listed(name: str) -> set[int]:
            return {lead["id"] for lead in (await apis[name].get("/api/leads")).json()["items"]}

        assert await listed("sam") == {sam_lead["id"]}
        assert await listed("max") == {sam_lead["id"], sue_lead["id"]}  # team scope
        assert await listed("wes") == set()
        assert (await apis["sam"].get(f"/api/leads/{sue_lead['id']}")).status_code == 404
        board = (await apis["sam"].get("/api/leads/board")).json()
        assert sum(c["count"] for c in board["columns"]) == 1
        assert [card["id"] for c in board["columns"] for card in c["cards"]] == [sam_lead["id"]]

        async def events_of(name: str) -> set[int]:
            seen: set[int] = set()
            while True:
                try:
                    frame = json.loads(await asyncio.wait_for(sockets[name].recv(), 0.7))
                except TimeoutError:
                    return seen
                if frame.get("entity") == "lead":
                    seen.add(frame["entity_id"])

        got = dict(zip(sockets, await asyncio.gather(*(events_of(n) for n in sockets)), strict=True))
        assert got["sam"] == {sam_lead["id"]} and got["sue"] == {sue_lead["id"]}
        assert got["max"] == {sam_lead["id"], sue_lead["id"]} and got["wes"] == set()
    finally:
        for ws in sockets.values():
            await ws.close()
        for api in apis.values():
            await api.aclose()
    assert (await admin.get("/api/leads")).json()["total"] == 2  # scope all


async def test_lost_needs_a_reason_and_other_needs_words(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    statuses, reasons = await status_ids(admin), await reason_ids(admin)
    lead = await make_lead(admin)
    refused = await move(admin, lead, statuses["Lost"])
    assert refused.status_code == 422
    assert (refused.json()["field"], refused.json()["code"]) == ("lost_reason_id", "lost_reason_required")
    other = await move(admin, lead, statuses["Lost"], lost_reason_id=reasons["Other"])
    assert (other.json()["field"], other.json()["code"]) == ("lost_reason_text", "lost_reason_text_required")
    lost = await move(admin, lead, statuses["Lost"], lost_reason_id=reasons["Other"], lost_reason_text="Moved abroad")
    assert lost.status_code == 200, lost.text
    body = lost.json()["lead"]
    assert body["lost_reason_text"] == "Moved abroad" and body["closed_at"] is not None
    # Stale version: someone moved it meanwhile.
    stale = await move(admin, lead, statuses["Connected"])
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    # Reactivated: back to an open status, the reason is cleared.
    reopened = (await move(admin, body, statuses["Connected"])).json()["lead"]
    assert reopened["lost_reason_id"] is None and reopened["closed_at"] is None
    # Lost stays out of the default list, in with include_closed.
    await move(admin, reopened, statuses["Lost"], lost_reason_id=reasons["Price too high"])
    assert (await admin.get("/api/leads")).json()["total"] == 0
    assert (await admin.get("/api/leads", params={"include_closed": True})).json()["total"] == 1


async def test_won_converts_into_a_client_keeping_notes_and_history(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    statuses = await status_ids(admin)
    lead = await make_lead(
        admin, company="Globex SRL", email="ana@globex.ro", phone="0722000111", note="First call went well"
    )
    await admin.post(f"/api/leads/{lead['id']}/notes", json={"body": "Sent the proposal"})
    follow_up = (
        await admin.post(
            "/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": "2030-01-02T10:00:00Z"}
        )
    ).json()
    moved = (await move(admin, lead, statuses["Demo Given"])).json()["lead"]
    assert (await move(admin, moved, statuses["Proposal Sent"], convert=True)).status_code == 422  # not a won status
    won = await move(admin, moved, statuses["Won"], convert=True, client={"vat_number": "RO 777"})
    assert won.status_code == 200, won.text
    client = won.json()["client"]
    assert client["name"] == "Globex SRL" and client["vat_number"] == "RO 777"
    assert [(c["name"], c["email"], c["phone"]) for c in client["contacts"]] == [
        ("Ana Pop", "ana@globex.ro", "+40722000111")
    ]
    assert won.json()["lead"]["converted_client_id"] == client["id"]
    # The client's timeline has the lead's notes, follow-up and status history.
    items = (await admin.get(f"/api/clients/{client['id']}/timeline")).json()["items"]
    texts = [i["text"] for i in items]
    assert "First call went well" in texts and "Sent the proposal" in texts
    assert "Open → Demo Given" in texts and "Proposal Sent → Won" not in texts and "Demo Given → Won" in texts
    assert any(i["kind"] == "follow_up" and i["entity_id"] == follow_up["id"] for i in items)
    assert any(i["kind"] == "converted" for i in items)
    assert all(i["actor_name"] == "Ada Admin" for i in items)
    # Still on the lead's own timeline too.
    lead_items = (await admin.get(f"/api/leads/{lead['id']}/timeline")).json()["items"]
    assert {"First call went well", "Sent the proposal"} <= {i["text"] for i in lead_items}
    async with server.session() as s:
        fu = await s.get(FollowUp, follow_up["id"])
        assert fu is not None and fu.client_id == client["id"] and fu.lead_id == lead["id"]
    # A second conversion is refused; converting into an existing client adds a contact there.
    again = await admin.post(
        f"/api/leads/{lead['id']}/move",
        json={"version": won.json()["lead"]["version"], "status_id": statuses["Won"], "convert": True},
    )
    assert again.status_code == 409 and again.json()["client_id"] == client["id"]
    second = await make_lead(admin, person_name="Bob Ionescu", company="Globex", email="bob@globex.ro")
    joined = await move(admin, second, statuses["Won"], convert=True, client={"existing_client_id": client["id"]})
    assert joined.json()["client"]["id"] == client["id"]
    assert {c["name"] for c in joined.json()["client"]["contacts"]} == {"Ana Pop", "Bob Ionescu"}


async def test_pipeline_status_removal_moves_its_leads(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    pipeline = next(p for p in (await admin.get("/api/pipelines")).json() if p["is_default"])
    statuses = {s["name"]: s for s in pipeline["statuses"]}
    added = await admin.post(f"/api/pipelines/{pipeline['id']}/statuses", json={"name": "Trial"})
    assert added.status_code == 201
    names = [s["name"] for s in added.json()["statuses"]]
    assert names.index("Trial") == names.index("Won") - 1  # before the closed ones
    trial = next(s for s in added.json()["statuses"] if s["name"] == "Trial")
    leads = [await make_lead(admin, status_id=trial["id"], person_name=f"P{i}") for i in range(3)]
    renamed = await admin.patch(
        f"/api/pipelines/{pipeline['id']}/statuses/{trial['id']}", json={"version": trial["version"], "name": "Pilot"}
    )
    assert any(s["name"] == "Pilot" for s in renamed.json()["statuses"])
    order = [s["id"] for s in renamed.json()["statuses"]]
    order.remove(trial["id"])
    order.insert(1, trial["id"])
    reordered = await admin.put(f"/api/pipelines/{pipeline['id']}/statuses/order", json={"status_ids": order})
    assert [s["id"] for s in reordered.json()["statuses"]] == order
    assert [s["position"] for s in reordered.json()["statuses"]] == list(range(len(order)))
    # Removing asks where its leads go.
    missing = await admin.delete(f"/api/pipelines/{pipeline['id']}/statuses/{trial['id']}")
    assert missing.status_code == 422 and missing.json()["field"] == "move_to"
    into_lost = await admin.delete(
        f"/api/pipelines/{pipeline['id']}/statuses/{trial['id']}", params={"move_to": statuses["Lost"]["id"]}
    )
    assert into_lost.status_code == 422
    removed = await admin.delete(
        f"/api/pipelines/{pipeline['id']}/statuses/{trial['id']}", params={"move_to": statuses["Negotiation"]["id"]}
    )
    assert removed.status_code == 200, removed.text
    assert "Pilot" not in [s["name"] for s in removed.json()["statuses"]]
    for lead in leads:
        now = (await admin.get(f"/api/leads/{lead['id']}")).json()
        assert now["status_id"] == statuses["Negotiation"]["id"] and now["version"] == lead["version"] + 1
    async with server.session() as s:
        audited = (await s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "status_changed"))).all()
    assert sorted(audited) == sorted(lead["id"] for lead in leads)
    # The last won status cannot go, nor become open.
    won = next(s for s in removed.json()["statuses"] if s["name"] == "Won")
    lone = await admin.patch(
        f"/api/pipelines/{pipeline['id']}/statuses/{won['id']}", json={"version": won["version"], "kind": "open"}
    )
    assert lone.status_code == 422 and lone.json()["code"] == "status_kind_needed"
    # Salespeople read pipelines but cannot edit them.
    await server.create_user("sam@example.com")
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        assert (await sam.get("/api/pipelines")).status_code == 200
        assert (await sam.post(f"/api/pipelines/{pipeline['id']}/statuses", json={"name": "X"})).status_code == 403


async def test_board_counts_totals_per_currency_and_pages(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    statuses, reasons = await status_ids(admin), await reason_ids(admin)
    for i in range(55):
        await make_lead(admin, person_name=f"Open {i}", value="10.25", tags=["hot"] if i % 5 == 0 else [])
    await make_lead(admin, person_name="In RON", value="100", currency="RON")
    await make_lead(admin, person_name="No value")
    demo = await make_lead(admin, person_name="Demo", value="999.99", status_id=statuses["Demo Scheduled"])
    lost = await make_lead(admin, person_name="Lost one", value="5")
    await move(admin, lost, statuses["Lost"], lost_reason_id=reasons["Feature gaps"])
    await admin.post(
        "/api/follow-ups", json={"lead_id": demo["id"], "kind": "meeting", "due_at": "2031-05-05T09:00:00Z"}
    )
    board = (await admin.get("/api/leads/board")).json()
    columns = {c["status"]["name"]: c for c in board["columns"]}
    assert "Lost" not in columns and "Junk" not in columns and "Won" in columns
    open_col = columns["Open"]
    assert open_col["count"] == 57
    assert {t["currency"]: t["amount"] for t in open_col["totals"]} == {
        "EUR": str(Decimal("10.25") * 55),
        "RON": "100.00",
    }
    assert len(open_col["cards"]) == 50
    card = columns["Demo Scheduled"]["cards"][0]
    assert card["next_follow_up_at"].startswith("2031-05-05T09:00") and card["owner_name"] == "Ada Admin"
    assert card["age_days"] == 0
    more = (await admin.get(f"/api/leads/board/columns/{statuses['Open']}", params={"offset": 50})).json()
    assert len(more["cards"]) == 7
    seen = {c["id"] for c in open_col["cards"]} | {c["id"] for c in more["cards"]}
    assert len(seen) == 57
    with_closed = (await admin.get("/api/leads/board", params={"include_closed": True})).json()
    assert {c["status"]["name"]: c["count"] for c in with_closed["columns"]}["Lost"] == 1
    hot = (await admin.get("/api/leads/board", params={"tag": "hot"})).json()
    assert {c["status"]["name"]: c["count"] for c in hot["columns"]}["Open"] == 11
    searched = (await admin.get("/api/leads/board", params={"q": "demo"})).json()
    assert sum(c["count"] for c in searched["columns"]) == 1


async def test_list_is_sorted_filtered_and_paged(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    for name, value, source in (
        ("Carla", "30", "Facebook"),
        ("Alin", "10", "Website form"),
        ("Bogdan", "20", "Facebook"),
    ):
        await make_lead(admin, person_name=name, value=value, source=source)
    by_name = (await admin.get("/api/leads", params={"sort": "person_name"})).json()
    assert [i["person_name"] for i in by_name["items"]] == ["Alin", "Bogdan", "Carla"]
    by_value = (await admin.get("/api/leads", params={"sort": "-value", "limit": 2})).json()
    assert [i["person_name"] for i in by_value["items"]] == ["Carla", "Bogdan"] and by_value["total"] == 3
    facebook = (await admin.get("/api/leads", params={"source": "Facebook", "sort": "id"})).json()
    assert [i["person_name"] for i in facebook["items"]] == ["Carla", "Bogdan"]
    bad_sort = await admin.get("/api/leads", params={"sort": "password_hash"})
    assert bad_sort.status_code == 422 and bad_sort.json()["field"] == "sort"


async def test_bulk_reassign_status_and_tags_audited_per_record(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    statuses, reasons = await status_ids(admin), await reason_ids(admin)
    sam_id = await server.create_user("sam@example.com", role="Salesperson", team="East")
    leads = [await make_lead(admin, person_name=f"Bulk {i}") for i in range(4)]
    ids = [lead["id"] for lead in leads]
    token = admin.headers["Authorization"].split()[1]
    async with connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.recv()
        result = await admin.post(
            "/api/leads/bulk", json={"ids": [*ids, 999999], "action": "reassign", "owner_id": sam_id}
        )
        assert result.status_code == 200, result.text
        assert result.json()["updated"] == ids
        assert result.json()["skipped"] == [{"id": 999999, "code": "not_found", "message": "No such lead."}]
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(4)]
        assert sorted(f["entity_id"] for f in frames if f["entity"] == "lead") == ids
    tagged = await admin.post("/api/leads/bulk", json={"ids": ids[:2], "action": "tag_add", "tag": "Expo 2026"})
    assert tagged.json()["updated"] == ids[:2]
    untagged = await admin.post("/api/leads/bulk", json={"ids": ids, "action": "tag_remove", "tag": "expo 2026"})
    assert untagged.json()["updated"] == ids[:2]  # the others had nothing to remove
    no_reason = await admin.post(
        "/api/leads/bulk", json={"ids": ids, "action": "status", "status_id": statuses["Lost"]}
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "lost_reason_id"
    lost = await admin.post(
        "/api/leads/bulk",
        json={
            "ids": ids[:3],
            "action": "status",
            "status_id": statuses["Lost"],
            "lost_reason_id": reasons["Budget constraints"],
        },
    )
    assert lost.json()["updated"] == ids[:3]
    missing_arg = await admin.post("/api/leads/bulk", json={"ids": ids, "action": "reassign"})
    assert missing_arg.status_code == 422
    async with server.session() as s:
        rows = (
            await s.execute(
                select(AuditEntry.entity_id, AuditEntry.action).where(
                    AuditEntry.entity == "lead", AuditEntry.action != "created"
                )
            )
        ).all()
        owners = set((await s.scalars(select(Lead.owner_id).where(Lead.id.in_(ids)))).all())
    assert sorted(r.entity_id for r in rows if r.action == "reassigned") == ids
    assert sorted(r.entity_id for r in rows if r.action == "status_changed") == ids[:3]
    assert owners == {sam_id}
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        bell = (await sam.get("/api/notifications")).json()["items"]
        assert [n["title"] for n in bell] == ["4 leads assigned to you"]
        # Sam may not touch leads outside his scope: they are "not found" for him.
        other = await make_lead(admin, person_name="Admin's")
        answer = (
            await sam.post("/api/leads/bulk", json={"ids": [other["id"]], "action": "tag_add", "tag": "x"})
        ).json()
        assert answer["updated"] == [] and answer["skipped"][0]["code"] == "not_found"


async def test_duplicates_are_warned_listed_and_merged(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    statuses = await status_ids(admin)
    first = await make_lead(
        admin,
        person_name="Ana Pop",
        company="Intelligent Systems SRL",
        email="ana@isys.ro",
        phone="0722 111 222",
        tags=["fair"],
    )
    second = await make_lead(
        admin, person_name="A. Pop", company="Inteligent Systems SRL", email="ANA@isys.ro", value="300", tags=["web"]
    )
    reasons = {w["lead_id"]: w["reasons"] for w in second["warnings"] if w["code"] == "possible_duplicate"}
    assert reasons == {first["id"]: ["email"]}  # "Inteligent" is another company; "A. Pop" another name
    third = await make_lead(admin, person_name="Someone", phone="+40 722 111 222")
    assert [(w["lead_id"], w["reasons"]) for w in third["warnings"]] == [(first["id"], ["phone"])]
    unrelated = await make_lead(admin, person_name="Other", company="Banca Transilvania")
    assert unrelated["warnings"] == []
    listed = (await admin.get(f"/api/leads/{first['id']}/duplicates")).json()
    assert {d["id"] for d in listed} == {second["id"], third["id"]}

    await admin.post(f"/api/leads/{second['id']}/notes", json={"body": "Note on the twin"})
    fu = (
        await admin.post(
            "/api/follow-ups", json={"lead_id": second["id"], "kind": "email", "due_at": "2030-03-03T08:00:00Z"}
        )
    ).json()
    moved = (await move(admin, second, statuses["Connected"])).json()["lead"]
    merged = await admin.post(
        f"/api/leads/{first['id']}/merge",
        json={
            "version": first["version"],
            "other_id": second["id"],
            "other_version": moved["version"],
            "take": {"value": "other", "person_name": "keep", "status_id": "other"},
        },
    )
    assert merged.status_code == 200, merged.text
    kept = merged.json()
    assert kept["value"] == "300.00" and kept["currency"] == "EUR" and kept["person_name"] == "Ana Pop"
    assert kept["status_id"] == statuses["Connected"] and kept["tags"] == ["fair", "web"]
    other = (await admin.get(f"/api/leads/{second['id']}")).json()
    assert other["merged_into_id"] == first["id"] and other["archived_at"] is not None
    assert (await admin.post(f"/api/leads/{second['id']}/restore", json={"version": other["version"]})).json()[
        "code"
    ] == "merged"
    async with server.session() as s:
        assert (await s.scalars(select(Note.lead_id).where(Note.body == "Note on the twin"))).one() == first["id"]
        assert (await s.get(FollowUp, fu["id"])).lead_id == first["id"]  # type: ignore[union-attr]
        audit = (
            await s.scalars(
                select(AuditEntry).where(AuditEntry.action.in_(["merged", "merged_into"])).order_by(AuditEntry.id)
            )
        ).all()
    assert [(a.entity_id, a.action) for a in audit] == [(first["id"], "merged"), (second["id"], "merged_into")]
    assert {"field": "merged_lead_id", "old": None, "new": second["id"]} in audit[0].changes
    # The kept lead's timeline shows the other's history and note.
    items = (await admin.get(f"/api/leads/{first['id']}/timeline")).json()["items"]
    assert "Note on the twin" in [i["text"] for i in items]
    assert any(i["entity_id"] == second["id"] and i["kind"] == "status_change" for i in items)
    assert any(i["kind"] == "merged" for i in items)
    # Merged leads are not offered as duplicates any more; stale versions are refused.
    assert second["id"] not in {d["id"] for d in (await admin.get(f"/api/leads/{first['id']}/duplicates")).json()}
    stale = await admin.post(
        f"/api/leads/{first['id']}/merge",
        json={"version": first["version"], "other_id": third["id"], "other_version": third["version"]},
    )
    assert stale.status_code == 409


async def test_a_twin_is_the_same_person_not_a_colleague_ranked_by_reasons(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    first = await make_lead(admin, person_name="Ana Pop", company="Vortex Data S.R.L.", email="ana@vortex.ro")
    # A colleague at the same company is not a twin; the same person there is, legal form and dots aside.
    colleague = await make_lead(admin, person_name="Mihai Ionescu", company="vortex data s.r.l.")
    assert colleague["warnings"] == []
    same_person = await make_lead(admin, person_name="Ana  Popp", company="VORTEX DATA, SRL")
    assert [(w["lead_id"], w["reasons"]) for w in same_person["warnings"]] == [
        (first["id"], ["name at the same company"])
    ]
    # Ranked: the twin with the most reasons first, each with why.
    both = await make_lead(admin, person_name="Ana Pop", company="Vortex Data", email="ANA@vortex.ro")
    assert [(w["lead_id"], w["reasons"]) for w in both["warnings"]] == [
        (first["id"], ["email", "name at the same company"]),
        (same_person["id"], ["name at the same company"]),
    ]
    listed = (await admin.get(f"/api/leads/{first['id']}/duplicates")).json()
    assert [d["id"] for d in listed] == [both["id"], same_person["id"]]
    # Renaming a lead asks again.
    renamed = await admin.patch(
        f"/api/leads/{colleague['id']}", json={"version": colleague["version"], "person_name": "Ana Pop"}
    )
    assert renamed.status_code == 200, renamed.text
    assert [w["lead_id"] for w in renamed.json()["warnings"]] == [both["id"], same_person["id"], first["id"]]


async def test_archive_and_restore(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    lead = await make_lead(admin)
    archived = (await admin.post(f"/api/leads/{lead['id']}/archive", json={"version": lead["version"]})).json()
    assert archived["archived_at"] is not None
    assert (await admin.get("/api/leads")).json()["total"] == 0
    assert (await admin.get("/api/leads", params={"archived": True})).json()["total"] == 1
    again = await admin.post(f"/api/leads/{lead['id']}/archive", json={"version": archived["version"]})
    assert again.status_code == 409 and again.json()["code"] == "already_archived"
    restored = (await admin.post(f"/api/leads/{lead['id']}/restore", json={"version": archived["version"]})).json()
    assert restored["archived_at"] is None
    items = (await admin.get(f"/api/leads/{lead['id']}/timeline")).json()["items"]
    assert [i["kind"] for i in items] == ["restored", "archived", "created"]


async def test_admins_edit_lost_reasons_and_sources(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    statuses = await status_ids(admin)
    made = await admin.post("/api/lost-reasons", json={"name": "Merged with another company", "requires_text": True})
    assert made.status_code == 201 and made.json()["position"] == 6
    assert (await admin.post("/api/lost-reasons", json={"name": "other"})).json()["code"] == "name_taken"
    lead = await make_lead(admin)
    needs_words = await move(admin, lead, statuses["Lost"], lost_reason_id=made.json()["id"])
    assert needs_words.json()["code"] == "lost_reason_text_required"
    off = await admin.patch(
        f"/api/lost-reasons/{made.json()['id']}", json={"version": made.json()["version"], "active": False}
    )
    assert off.json()["active"] is False
    assert "Merged with another company" not in {r["name"] for r in (await admin.get("/api/lost-reasons")).json()}
    retired = await move(admin, lead, statuses["Lost"], lost_reason_id=made.json()["id"], lost_reason_text="x")
    assert retired.status_code == 422 and retired.json()["field"] == "lost_reason_id"
    source = await admin.post("/api/lead-sources", json={"name": "LinkedIn"})
    assert source.status_code == 201
    assert "LinkedIn" in [s["name"] for s in (await admin.get("/api/lead-sources")).json()]
    renamed = await admin.patch(
        f"/api/lead-sources/{source.json()['id']}", json={"version": source.json()["version"], "name": "LinkedIn Ads"}
    )
    assert renamed.json()["name"] == "LinkedIn Ads"
    await server.create_user("sam@example.com")
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        assert (await sam.get("/api/lead-sources")).status_code == 200
        assert (await sam.post("/api/lead-sources", json={"name": "X"})).status_code == 403
