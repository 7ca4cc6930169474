"""Record scope holes (#15): a document for a client one cannot see, a client's timeline showing
sales notes to who only reads clients, duplicate warnings naming others' records, the users list
telling everyone others' sign-in details, and moves that take a record out of one's own scope.
Each through HTTP, as the role that must be refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import LiveServer


@dataclass
class Office:
    """Two teams: North (a manager, a salesperson, a support agent) and South (a salesperson)."""

    north: int
    south: int
    north_manager: int
    north_sales: int
    north_agent: int
    south_sales: int


async def _office(server: LiveServer, admin: Any) -> Office:
    ids = {
        "north_manager": await server.create_user("nm@example.com", role="Manager", team="North", full_name="Nora"),
        "north_sales": await server.create_user("ns@example.com", role="Salesperson", team="North", full_name="Ned"),
        "north_agent": await server.create_user("na@example.com", role="Support agent", team="North", full_name="Nia"),
        "south_sales": await server.create_user(
            "ss@example.com", role="Salesperson", team="South", full_name="Sol", phone="+40 721 000 222"
        ),
    }
    await server.create_user("acc@example.com", role="Accountant", full_name="Abe")
    teams = {t["name"]: t["id"] for t in (await admin.get("/api/teams")).json()}
    return Office(north=teams["North"], south=teams["South"], **ids)


@asynccontextmanager
async def signed_in(server: LiveServer, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as api:
        await server.login(api, email)
        yield api


async def _made(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _rate(api: Any) -> int:
    return int(next(r["id"] for r in (await api.get("/api/tax-rates")).json() if r["name"] == "Standard 19%"))


def _line(rate: int) -> dict[str, Any]:
    return {"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate_id": rate}


# --- invoices for a client one cannot see ----------------------------------------------------------


async def test_invoice_create_and_update_refuse_a_client_out_of_scope(server: LiveServer, admin: Any) -> None:
    office = await _office(server, admin)
    theirs = await _made(await admin.post("/api/clients", json={"name": "South Co", "owner_id": office.south_sales}))
    ours = await _made(await admin.post("/api/clients", json={"name": "North Co", "owner_id": office.north_sales}))
    rate = await _rate(admin)
    async with signed_in(server, "nm@example.com") as manager:  # invoices and clients: team scope
        refused = await manager.post("/api/invoices", json={"client_id": theirs["id"], "lines": [_line(rate)]})
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "client_id" and refused.json()["message"] == "No such client."
        draft = await _made(await manager.post("/api/invoices", json={"client_id": ours["id"], "lines": [_line(rate)]}))
        moved = await manager.patch(
            f"/api/invoices/{draft['id']}", json={"version": draft["version"], "client_id": theirs["id"]}
        )
        assert moved.status_code == 422, moved.text
        assert moved.json()["field"] == "client_id"
        kept = (await manager.get(f"/api/invoices/{draft['id']}")).json()
        assert kept["client_id"] == ours["id"] and kept["version"] == draft["version"]
    listed = (await admin.get("/api/invoices")).json()
    assert [i["client_id"] for i in listed["items"]] == [ours["id"]]  # nothing was made for South Co


# --- a client's timeline ----------------------------------------------------------------------------


async def test_client_timeline_keeps_sales_notes_and_follow_ups_from_who_only_reads_clients(
    server: LiveServer, admin: Any
) -> None:
    office = await _office(server, admin)
    client = await _made(await admin.post("/api/clients", json={"name": "Acme", "owner_id": office.south_sales}))
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    async with signed_in(server, "ss@example.com") as sales:
        await _made(
            await sales.post(
                f"/api/clients/{client['id']}/notes", json={"body": "Budget is 40k; they hate our competitor"}
            )
        )
        await _made(
            await sales.post(
                "/api/follow-ups",
                json={"client_id": client["id"], "kind": "call", "due_at": due, "notes": "Push the renewal"},
            )
        )
        mine = (await sales.get(f"/api/clients/{client['id']}/timeline")).json()["items"]
        assert {"note", "follow_up"} <= {i["kind"] for i in mine}
    for email in ("acc@example.com", "na@example.com"):  # clients.view (all), no sales scope here
        async with signed_in(server, email) as reader:
            answer = await reader.get(f"/api/clients/{client['id']}/timeline")
            assert answer.status_code == 200, answer.text
            items = answer.json()["items"]
            assert {i["kind"] for i in items} == {"created"}, (email, items)  # the client's own history
            assert answer.json()["total"] == len(items)
            assert "Budget" not in answer.text and "renewal" not in answer.text


# --- duplicate warnings and uniqueness errors --------------------------------------------------------


async def test_duplicate_vat_and_similar_names_do_not_name_a_client_one_cannot_see(
    server: LiveServer, admin: Any
) -> None:
    office = await _office(server, admin)
    theirs = await _made(
        await admin.post(
            "/api/clients", json={"name": "Secret Widgets", "vat_number": "RO123456", "owner_id": office.south_sales}
        )
    )
    async with signed_in(server, "ns@example.com") as sales:
        twin = await sales.post("/api/clients", json={"name": "Mine", "vat_number": "ro 123 456"})
        assert twin.status_code == 422, twin.text
        body = twin.json()
        assert body["code"] == "duplicate_vat" and body["field"] == "vat_number"
        assert body["message"].startswith("A record you cannot see has this VAT number")
        assert "client_id" not in body and str(theirs["id"]) not in twin.text
        mine = await _made(await sales.post("/api/clients", json={"name": "Mine"}))
        edited = await sales.patch(
            f"/api/clients/{mine['id']}", json={"version": mine["version"], "vat_number": "RO123456"}
        )
        assert edited.status_code == 422 and "client_id" not in edited.json()
        named = await _made(await sales.post("/api/clients", json={"name": "secret  widgets"}))
        assert [(w["code"], w["client_id"]) for w in named["warnings"]] == [("similar_name", None)]
        assert "Secret Widgets" not in named["warnings"][0]["message"]
    # Who may see the other client is still told which one it is.
    again = await admin.post("/api/clients", json={"name": "Other", "vat_number": "RO123456"})
    assert again.status_code == 422 and again.json()["client_id"] == theirs["id"]


async def test_lead_duplicate_warnings_do_not_name_a_lead_one_cannot_see(server: LiveServer, admin: Any) -> None:
    office = await _office(server, admin)
    theirs = await _made(
        await admin.post(
            "/api/leads", json={"person_name": "Ana", "email": "ana@acme.example", "owner_id": office.south_sales}
        )
    )
    async with signed_in(server, "ns@example.com") as sales:
        lead = await _made(await sales.post("/api/leads", json={"person_name": "Ana B", "email": "ANA@acme.example"}))
        assert [(w["code"], w["lead_id"], w["reasons"]) for w in lead["warnings"]] == [
            ("possible_duplicate", None, ["email"])
        ]
        assert lead["warnings"][0]["message"] == "A lead you cannot see has the same email."
        assert f"#{theirs['id']}" not in str(lead["warnings"])
    async with signed_in(server, "nm@example.com") as manager:  # a teammate's lead is in team scope
        own = await _made(
            await manager.post(
                "/api/leads", json={"person_name": "Ana C", "owner_id": office.north_sales, "email": "ana@acme.example"}
            )
        )
        by_id = {w["lead_id"] for w in own["warnings"]}
        assert by_id == {None, lead["id"]}


# --- the users list ----------------------------------------------------------------------------------


async def test_users_list_gives_colleagues_names_and_teams_and_admins_the_whole_record(
    server: LiveServer, admin: Any
) -> None:
    office = await _office(server, admin)
    async with signed_in(server, "ns@example.com") as sales:
        page = (await sales.get("/api/users", params={"limit": 500})).json()
        assert page["total"] == 6
        assert all(set(u) == {"id", "full_name", "email", "team_id", "active"} for u in page["items"])
        sol = next(u for u in page["items"] if u["id"] == office.south_sales)
        assert sol["team_id"] == office.south and sol["full_name"] == "Sol"
        assert "+40" not in str(page)
        by_team = (await sales.get("/api/users", params={"team_id": office.north})).json()
        assert {u["id"] for u in by_team["items"]} == {office.north_manager, office.north_sales, office.north_agent}
        by_role = await sales.get("/api/users", params={"role_id": 1})
        assert by_role.status_code == 403 and by_role.json()["field"] == "role_id"
        assert (await sales.get(f"/api/users/{office.south_sales}")).status_code == 403
    full = (await admin.get("/api/users", params={"search": "sol"})).json()["items"]
    assert [(u["phone"], u["totp_enabled"], u["locked_until"]) for u in full] == [("+40 721 000 222", False, None)]
    assert {"last_login_at", "must_change_password", "role_id"} <= set(full[0])


# --- moves out of one's scope ------------------------------------------------------------------------


async def test_agent_cannot_move_a_ticket_to_another_team(server: LiveServer, admin: Any) -> None:
    office = await _office(server, admin)
    south_desk = await _made(
        await admin.post("/api/ticket-categories", json={"name": "Billing", "team_id": office.south})
    )
    ticket = await _made(await admin.post("/api/tickets", json={"subject": "Printer", "team_id": office.north}))
    async with signed_in(server, "na@example.com") as agent:
        moved = await agent.patch(
            f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "team_id": office.south}
        )
        assert moved.status_code == 422, moved.text
        assert (moved.json()["code"], moved.json()["field"]) == ("team_not_allowed", "team_id")
        rerouted = await agent.patch(
            f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "category_id": south_desk["id"]}
        )
        assert rerouted.status_code == 422, rerouted.text
        assert (rerouted.json()["code"], rerouted.json()["field"]) == ("team_not_allowed", "category_id")
        kept = (await agent.get(f"/api/tickets/{ticket['id']}")).json()
        assert (kept["team_id"], kept["version"]) == (office.north, ticket["version"])
        edited = await agent.patch(
            f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "subject": "Printer jammed"}
        )
        assert edited.status_code == 200, edited.text  # editing within the team still works
    moved = await admin.patch(
        f"/api/tickets/{ticket['id']}", json={"version": edited.json()["version"], "team_id": office.south}
    )
    assert moved.status_code == 200 and moved.json()["team_id"] == office.south  # scope all reaches it


async def test_salesperson_and_manager_cannot_move_leads_and_clients_to_another_team(
    server: LiveServer, admin: Any
) -> None:
    office = await _office(server, admin)
    async with signed_in(server, "ns@example.com") as sales:
        lead = await _made(await sales.post("/api/leads", json={"person_name": "Own Lead"}))
        assert (lead["owner_id"], lead["team_id"]) == (office.north_sales, office.north)
        moved = await sales.patch(
            f"/api/leads/{lead['id']}", json={"version": lead["version"], "team_id": office.south}
        )
        assert moved.status_code == 422 and moved.json()["code"] == "team_not_allowed", moved.text
        born_away = await sales.post("/api/leads", json={"person_name": "Elsewhere", "team_id": office.south})
        assert born_away.status_code == 422 and born_away.json()["field"] == "team_id", born_away.text
        client = await _made(await sales.post("/api/clients", json={"name": "Own Client"}))
        moved = await sales.patch(
            f"/api/clients/{client['id']}", json={"version": client["version"], "team_id": office.south}
        )
        assert moved.status_code == 422 and moved.json()["code"] == "team_not_allowed", moved.text
        assert (await sales.get(f"/api/leads/{lead['id']}")).json()["team_id"] == office.north
        assert (await sales.get(f"/api/clients/{client['id']}")).json()["team_id"] == office.north
    async with signed_in(server, "nm@example.com") as manager:
        for path, record in ((f"/api/leads/{lead['id']}", lead), (f"/api/clients/{client['id']}", client)):
            moved = await manager.patch(path, json={"version": record["version"], "team_id": office.south})
            assert moved.status_code == 422 and moved.json()["code"] == "team_not_allowed", moved.text
        unassigned = await manager.patch(
            f"/api/leads/{lead['id']}", json={"version": lead["version"], "owner_id": None, "team_id": None}
        )
        assert unassigned.status_code == 422, unassigned.text  # an unowned lead of no team: out of sight
        handed = await manager.patch(
            f"/api/leads/{lead['id']}", json={"version": lead["version"], "owner_id": office.north_manager}
        )
        assert handed.status_code == 200 and handed.json()["team_id"] == office.north  # within the team: fine
    moved = await admin.patch(
        f"/api/leads/{lead['id']}", json={"version": handed.json()["version"], "team_id": office.south}
    )
    assert moved.status_code == 200 and moved.json()["team_id"] == office.south
