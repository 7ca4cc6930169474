"""Two people, one field: a save says what each field it changes held when the person began; a field
someone else changed since is refused with 409 naming it and their value, and edits of other fields
merge. Leads and tickets, over HTTP as two signed-in colleagues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.support import LiveServer


@asynccontextmanager
async def _colleague(server: LiveServer) -> AsyncIterator[Any]:
    await server.create_user("bo@example.com", role="Admin", full_name="Bo Admin")
    async with server.client() as other:
        await server.login(other, "bo@example.com")
        yield other


async def test_the_later_edit_of_the_same_lead_field_is_refused_and_named(server: LiveServer, admin: Any) -> None:
    lead = (await admin.post("/api/leads", json={"person_name": "Ana Pop", "company": "Acme", "value": "100"})).json()
    async with _colleague(server) as bo:
        theirs = await bo.patch(f"/api/leads/{lead['id']}", json={"version": lead["version"], "company": "Beta"})
        assert theirs.status_code == 200, theirs.text
        newest = theirs.json()["version"]
        # My window refreshed to their version, but I began editing the company when it was "Acme".
        mine = await admin.patch(
            f"/api/leads/{lead['id']}", json={"version": newest, "company": "Gamma", "expected": {"company": "Acme"}}
        )
        assert mine.status_code == 409, mine.text
        body = mine.json()
        assert body["code"] == "field_changed" and body["field"] == "company"
        assert body["conflicts"] == [{"field": "company", "theirs": "Beta"}]
        assert body["current_version"] == newest
        assert (await admin.get(f"/api/leads/{lead['id']}")).json()["company"] == "Beta"  # nothing saved

        # A field nobody else touched merges silently: their company stays, my value is saved.
        merged = await admin.patch(
            f"/api/leads/{lead['id']}", json={"version": newest, "value": "250.5", "expected": {"value": "100.00"}}
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["company"] == "Beta" and merged.json()["value"] == "250.5"

        # Having seen theirs, I keep mine: expected is now their value.
        kept = await admin.patch(
            f"/api/leads/{lead['id']}",
            json={"version": merged.json()["version"], "company": "Gamma", "expected": {"company": "Beta"}},
        )
        assert kept.status_code == 200 and kept.json()["company"] == "Gamma"


async def test_the_later_edit_of_the_same_ticket_field_is_refused(server: LiveServer, admin: Any) -> None:
    ticket = (
        await admin.post(
            "/api/tickets", json={"subject": "Printer jams", "priority": "normal", "requester_email": "c@example.com"}
        )
    ).json()
    async with _colleague(server) as bo:
        theirs = await bo.patch(
            f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "priority": "high", "tags": ["printer"]}
        )
        assert theirs.status_code == 200, theirs.text
        newest = theirs.json()["version"]
        mine = await admin.patch(
            f"/api/tickets/{ticket['id']}",
            json={
                "version": newest,
                "priority": "critical",
                "tags": ["paper"],
                "expected": {"priority": "normal", "tags": []},
            },
        )
        assert mine.status_code == 409 and mine.json()["code"] == "field_changed", mine.text
        assert {c["field"]: c["theirs"] for c in mine.json()["conflicts"]} == {"priority": "high", "tags": ["printer"]}
        subject = await admin.patch(
            f"/api/tickets/{ticket['id']}",
            json={"version": newest, "subject": "Printer jams on A3", "expected": {"subject": "Printer jams"}},
        )
        assert subject.status_code == 200 and subject.json()["priority"] == "high"


@pytest.mark.parametrize(
    "expected",
    [
        {"email": "x@example.com"},  # a field this save does not change
        {"company": {"nested": "dict"}},  # not a value a field holds
        {"value": "not a number"},
        {"nope": "x"},
    ],
)
async def test_a_bad_expected_is_a_422_naming_it(server: LiveServer, admin: Any, expected: dict[str, Any]) -> None:
    lead = (await admin.post("/api/leads", json={"person_name": "Ana Pop", "company": "Acme"})).json()
    answer = await admin.patch(
        f"/api/leads/{lead['id']}",
        json={"version": lead["version"], "company": "Beta", "value": "5", "expected": expected},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"].startswith("expected")
    assert (await admin.get(f"/api/leads/{lead['id']}")).json()["company"] == "Acme"
