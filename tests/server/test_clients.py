"""Clients: VAT normalised and unique, similar names warned about, double submits folded into one,
phones stored E.164, contacts, archive and restore, record scope."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from crm_server.admin.models import AuditEntry
from crm_server.clients.normalise import vat_key
from tests.support import LiveServer


def test_vat_normal_form() -> None:
    assert vat_key("RO 123.456-78") == vat_key("12345678") == vat_key("ro12345678") == "12345678"
    assert vat_key("DE-811 907 980") == "811907980"
    assert vat_key("  ") is None and vat_key(None) is None
    assert vat_key("CHE-123.456.789") == "CHE123456789"  # three letters: not a country prefix


async def test_same_vat_is_refused_with_the_first_clients_id(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    first = await admin.post("/api/clients", json={"name": "Acme SRL", "vat_number": "RO 123.456-78"})
    assert first.status_code == 201, first.text
    assert first.json()["vat_number"] == "RO 123.456-78"
    again = await admin.post("/api/clients", json={"name": "Acme Romania", "vat_number": "12345678"})
    assert again.status_code == 422
    body = again.json()
    assert body["code"] == "duplicate_vat" and body["field"] == "vat_number"
    assert body["client_id"] == first.json()["id"]
    # An edit that would give another client the same VAT is refused the same way.
    other = (await admin.post("/api/clients", json={"name": "Beta", "vat_number": "RO999"})).json()
    clash = await admin.patch(
        f"/api/clients/{other['id']}", json={"version": other["version"], "vat_number": "ro12345678"}
    )
    assert clash.status_code == 422 and clash.json()["client_id"] == first.json()["id"]
    # Two creates racing with the same VAT: one wins, the other gets the same clear error.
    a, b = await asyncio.gather(
        admin.post("/api/clients", json={"name": "Race 1", "vat_number": "RO 555"}),
        admin.post("/api/clients", json={"name": "Race 2", "vat_number": "555"}),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 422]
    assert (b if b.status_code == 422 else a).json()["code"] == "duplicate_vat"


async def test_similar_name_warns_but_saves(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    first = (await admin.post("/api/clients", json={"name": "Acme  SRL"})).json()
    assert first["warnings"] == []
    second = await admin.post("/api/clients", json={"name": " acme srl ", "email": "x@acme.ro"})
    assert second.status_code == 201
    warnings = second.json()["warnings"]
    assert [(w["code"], w["client_id"]) for w in warnings] == [("similar_name", first["id"])]


async def test_double_submit_returns_the_first_record(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    payload = {"name": "Double Click SRL", "phone": "0722 123 456"}
    first, second = await asyncio.gather(
        admin.post("/api/clients", json=payload), admin.post("/api/clients", json=payload)
    )
    assert {first.status_code, second.status_code} == {201}
    assert first.json()["id"] == second.json()["id"]
    replay = first if first.json()["warnings"] else second
    assert replay.json()["warnings"][0]["code"] == "repeated_submit"
    listed = (await admin.get("/api/clients", params={"q": "double click"})).json()
    assert listed["total"] == 1
    # A different payload is a different client.
    third = await admin.post("/api/clients", json={**payload, "website": "dc.ro"})
    assert third.json()["id"] != first.json()["id"]
    # The generic Idempotency-Key also works (the desktop sends one).
    headers = {"Idempotency-Key": "k-1"}
    k1 = await admin.post("/api/clients", json={"name": "Keyed"}, headers=headers)
    k2 = await admin.post("/api/clients", json={"name": "Keyed"}, headers=headers)
    assert k1.json()["id"] == k2.json()["id"] and k2.headers.get("Idempotent-Replayed") == "true"


async def test_phone_and_email_are_validated_and_normalised(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    made = await admin.post(
        "/api/clients",
        json={
            "name": "Phone Co",
            "phone": "0722 123 456",
            "email": "Office@Phone.RO",
            "contacts": [{"name": "Ana", "phone": "+44 20 7946 0958"}],
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["phone"] == "+40722123456"  # default country RO
    assert made.json()["email"] == "Office@phone.ro"
    assert made.json()["contacts"][0]["phone"] == "+442079460958"
    bad_phone = await admin.post("/api/clients", json={"name": "X", "phone": "12"})
    assert bad_phone.status_code == 422
    assert (bad_phone.json()["field"], bad_phone.json()["code"]) == ("phone", "invalid_phone")
    bad_email = await admin.post("/api/clients", json={"name": "X", "email": "john@domaincom"})
    assert (bad_email.json()["field"], bad_email.json()["code"]) == ("email", "invalid_email")
    bad_contact = await admin.post(f"/api/clients/{made.json()['id']}/contacts", json={"name": "B", "email": "nope"})
    assert bad_contact.status_code == 422 and bad_contact.json()["field"] == "email"


async def test_contacts_archive_restore_and_audit(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    client = (await admin.post("/api/clients", json={"name": "Vendor Co", "is_vendor": True})).json()
    contact = (
        await admin.post(
            f"/api/clients/{client['id']}/contacts",
            json={"name": "Ion Pop", "position": "CFO", "email": "ion@vendor.ro"},
        )
    ).json()
    changed = await admin.patch(
        f"/api/contacts/{contact['id']}", json={"version": contact["version"], "position": "CEO"}
    )
    assert changed.json()["position"] == "CEO"
    stale = await admin.patch(f"/api/contacts/{contact['id']}", json={"version": contact["version"], "name": "X"})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert (await admin.delete(f"/api/contacts/{contact['id']}")).status_code == 200
    archived = await admin.post(f"/api/clients/{client['id']}/archive", json={"version": client["version"]})
    assert archived.json()["archived_at"] is not None
    assert (await admin.get("/api/clients")).json()["total"] == 0
    assert (await admin.get("/api/clients", params={"archived": True})).json()["total"] == 1
    vendors = (await admin.get("/api/clients", params={"archived": True, "is_vendor": True})).json()
    assert [c["id"] for c in vendors["items"]] == [client["id"]]
    restored = await admin.post(f"/api/clients/{client['id']}/restore", json={"version": archived.json()["version"]})
    assert restored.json()["archived_at"] is None
    async with server.session() as s:
        actions = (
            await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "client").order_by(AuditEntry.id))
        ).all()
        deleted = (
            await s.scalars(select(AuditEntry).where(AuditEntry.entity == "contact", AuditEntry.action == "deleted"))
        ).one()
    assert actions == ["created", "archived", "restored"]
    assert {"field": "name", "old": "Ion Pop", "new": None} in deleted.changes


async def test_salesperson_sees_own_clients_only(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await server.create_user("sam@example.com", role="Salesperson", team="East")
    await server.create_user("sue@example.com", role="Salesperson", team="East")
    async with server.client() as sam, server.client() as sue:
        await server.login(sam, "sam@example.com")
        await server.login(sue, "sue@example.com")
        mine = (await sam.post("/api/clients", json={"name": "Sam's client"})).json()
        theirs = (await sue.post("/api/clients", json={"name": "Sue's client"})).json()
        assert [c["id"] for c in (await sam.get("/api/clients")).json()["items"]] == [mine["id"]]
        assert (await sam.get(f"/api/clients/{theirs['id']}")).status_code == 404
        # A salesperson cannot give a client to someone else.
        other_id = theirs["owner_id"]
        refused = await sam.patch(f"/api/clients/{mine['id']}", json={"version": mine["version"], "owner_id": other_id})
        assert refused.status_code == 422 and refused.json()["code"] == "owner_not_allowed"
    assert (await admin.get("/api/clients")).json()["total"] == 2
