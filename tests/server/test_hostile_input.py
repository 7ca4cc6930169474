"""Hostile input over real HTTP: integers past 64 bits, NUL and control characters, deep nesting,
huge bodies, nulls where a value is required, look-alike names, header injection through an
attachment's type. Each answers a 4xx {"code", "message", "field"} naming the field, never a 500."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.test_web_forms import make_form
from tests.support import ADMIN_EMAIL, OPENAPI_SECONDS, LiveServer

BIG = 2**64  # one past what PostgreSQL's bigint holds, and more
NUL = "\x00"


def assert_refused(answer: httpx.Response, field: str | None, status: int = 422) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.text)
    body: dict[str, Any] = answer.json()
    assert set(body) >= {"code", "message"}, body
    assert body.get("field") == field, body
    return body


# --- integers past 64 bits: path, query and body, one check for every route ----------------------

INT_CASES = [
    ("GET", f"/api/users/{BIG}", None, "user_id"),
    ("GET", f"/api/clients/{BIG}", None, "client_id"),
    ("GET", f"/api/invoices/{-BIG}", None, "invoice_id"),
    ("GET", f"/api/tickets/{BIG}/attachments", None, "ticket_id"),
    ("GET", f"/api/leads?offset={BIG}", None, "offset"),
    ("GET", f"/api/tickets?assignee_id={BIG}", None, "assignee_id"),
    ("GET", f"/api/audit?entity_id={BIG}", None, "entity_id"),
    ("GET", f"/api/stock/levels?product_id={BIG}", None, "product_id"),
    ("POST", "/api/users", {"email": "x@example.com", "full_name": "X", "role_id": BIG}, "role_id"),
    ("POST", "/api/teams", {"name": "Night shift", "member_ids": [1, BIG]}, "member_ids.1"),
    ("POST", "/api/tickets", {"subject": "Printer", "client_id": BIG}, "client_id"),
    ("POST", "/api/leads", {"person_name": "Ana", "owner_id": -BIG}, "owner_id"),
    ("POST", "/api/leads", {"person_name": "Ana", "": BIG}, '""'),  # a key that is empty text
    # As text: pydantic reads "12" as 12 for an integer field.
    ("POST", "/api/tickets", {"subject": "Printer", "category_id": str(BIG)}, "category_id"),
    ("POST", "/api/teams", {"name": "Day shift", "member_ids": [1, str(BIG)]}, "member_ids.1"),
]


@pytest.mark.parametrize(("method", "url", "body", "field"), INT_CASES, ids=[f"{c[0]} {c[1]}" for c in INT_CASES])
async def test_integers_past_64_bits_are_refused_naming_the_field(
    server: LiveServer, admin: httpx.AsyncClient, method: str, url: str, body: Any, field: str
) -> None:
    answer = await admin.request(method, url, json=body)
    refused = assert_refused(answer, field)
    assert refused["code"] == "out_of_range" and field in refused["message"]


POSITION_CASES = ["/api/lost-reasons", "/api/lead-sources", "/api/ticket-categories"]


@pytest.mark.parametrize("url", POSITION_CASES)
async def test_a_position_past_its_32_bit_column_is_refused_at_the_door(
    server: LiveServer, admin: httpx.AsyncClient, url: str
) -> None:
    """A list position is a 32-bit column: 2**40 fits the int64 guard but reached the database (the
    fuzzer found it on lost reasons and lead sources); it is refused naming the field."""
    answer = await admin.post(url, json={"name": "Far away", "position": 2**40})
    assert_refused(answer, "position")


async def test_a_long_number_is_fine_where_the_field_is_text(server: LiveServer, admin: httpx.AsyncClient) -> None:
    """Only integer fields are held to the range: a search for a 25-digit reference is text."""
    answer = await admin.get("/api/leads", params={"search": str(BIG * 10_000_000)})
    assert answer.status_code == 200, answer.text
    created = await admin.post("/api/leads", json={"person_name": "Ana", "company": str(BIG)})
    assert created.status_code == 201 and created.json()["company"] == str(BIG), created.text


@pytest.mark.parametrize("due_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"])
async def test_a_time_that_leaves_the_calendar_in_utc_is_refused(
    server: LiveServer, admin: httpx.AsyncClient, due_at: str
) -> None:
    """PostgreSQL stores 1 January of year 1 at +01:00 (31 December 1 BC in UTC), but it cannot be
    read back: today that answered 500 after saving."""
    lead = (await admin.post("/api/leads", json={"person_name": "Ana"})).json()
    answer = await admin.post("/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": due_at})
    assert assert_refused(answer, "due_at")["code"] == "out_of_range"
    fine = await admin.post(
        "/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": "0001-01-01T00:00:00-01:00"}
    )
    assert fine.status_code == 201, fine.text


# --- NUL and control characters: one check for every string, signed in or not --------------------


async def _form(admin: httpx.AsyncClient) -> dict[str, Any]:
    return await make_form(admin, allowed_origins=[])


NUL_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/auth/login", {"email": f"{ADMIN_EMAIL}{NUL}", "password": "x"}, "email"),
    ("POST", "/api/auth/login", {"email": ADMIN_EMAIL, "password": f"pass{NUL}word"}, "password"),
    ("POST", "/api/auth/forgot-password", {"email": f"someone{NUL}@example.com"}, "email"),
    ("POST", "/api/teams", {"name": f"Night{NUL}shift"}, "name"),
    ("POST", "/api/tickets", {"subject": "Printer", "tags": ["ok", f"bad{NUL}"]}, "tags.1"),
    ("POST", "/api/leads", {"person_name": "Ana", "company": "Globex\x1b[31m"}, "company"),
]


@pytest.mark.parametrize(("method", "url", "body", "field"), NUL_CASES, ids=[f"{c[1]} {c[3]}" for c in NUL_CASES])
async def test_control_characters_in_a_body_are_refused_naming_the_field(
    server: LiveServer, admin: httpx.AsyncClient, method: str, url: str, body: dict[str, Any], field: str
) -> None:
    signed_in = url not in ("/api/auth/login", "/api/auth/forgot-password")
    async with server.client() as anonymous:
        api = admin if signed_in else anonymous
        refused = assert_refused(await api.request(method, url, json=body), field)
    assert refused["code"] == "control_characters"


@pytest.mark.parametrize("where", ["query", "path"])
async def test_control_characters_in_the_query_or_path_are_refused(
    server: LiveServer, admin: httpx.AsyncClient, where: str
) -> None:
    if where == "query":
        answer = await admin.get("/api/leads", params={"search": f"a{NUL}b"})
        assert_refused(answer, "search")
    else:  # an unknown provider's name is looked up as text
        async with server.client() as anonymous:
            answer = await anonymous.post(
                "/webhooks/fac%00ebook", content=b"{}", headers={"content-type": "application/json"}
            )
        assert_refused(answer, "provider")


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_control_characters_in_a_website_form_post_are_refused(
    server: LiveServer, admin: httpx.AsyncClient, encoding: str
) -> None:
    form = await _form(admin)
    values = {"name": f"Maria{NUL}", "email": "maria@example.com", "message": "Call me"}
    async with server.client() as visitor:
        url = f"/webhooks/forms/{form['key']}"
        answer = await (visitor.post(url, data=values) if encoding == "form" else visitor.post(url, json=values))
    assert_refused(answer, "name")


async def test_tab_and_line_breaks_are_fine_in_body_text(server: LiveServer, admin: httpx.AsyncClient) -> None:
    answer = await admin.post("/api/tickets", json={"subject": "Printer", "description": "Steps:\r\n\t1. print"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["description"] == "Steps:\r\n\t1. print"


# --- nesting and size: the middleware, before any route reads the body ---------------------------


def deep(levels: int) -> bytes:
    return b'{"name": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize("door", ["form", "test_door", "api"])
async def test_json_nested_5000_deep_is_refused(server: LiveServer, admin: httpx.AsyncClient, door: str) -> None:
    form = await _form(admin)
    url = {"form": f"/webhooks/forms/{form['key']}", "test_door": "/webhooks/forms", "api": "/api/teams"}[door]
    async with server.client() as anonymous:
        api = admin if door == "api" else anonymous
        answer = await api.post(url, content=deep(5000), headers={"content-type": "application/json"})
    refused = assert_refused(answer, "name")
    assert refused["code"] == "too_deep"
    # 40 levels parse, yet are still past the limit.
    answer = await admin.post("/api/teams", content=deep(40), headers={"content-type": "application/json"})
    assert assert_refused(answer, "name")["code"] == "too_deep"


async def _raw_request(base_url: str, head: str, body_parts: list[bytes]) -> tuple[int, bytes]:
    """Send a request by hand (the client never finishes a huge body) and read the answer."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode())
        for part in body_parts:
            writer.write(part)
            try:
                await writer.drain()
            except ConnectionError:
                break
        # readuntil takes what arrived even when a reset follows it (read() would raise instead).
        head_in = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        body_in = await asyncio.wait_for(reader.readuntil(b"}"), timeout=10)  # the error's JSON
    finally:
        writer.close()
    return int(head_in.split()[1]), head_in + body_in


async def test_a_huge_body_is_refused_by_its_length_before_anything_reads_it(server: LiveServer) -> None:
    """200 MB announced, one KB sent: the answer comes at once (today it waited for all of it and
    then said 401)."""
    head = (
        "POST /api/teams HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
    )
    status, rest = await _raw_request(server.base_url, head, [b"[" * 1024])
    assert status == 413
    assert b'"code":"too_large"' in rest.replace(b" ", b"")


async def test_a_streamed_body_is_refused_once_past_the_cap(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Content-Length (chunked): counted as it comes; the cap is a setting (CRM_MAX_BODY_BYTES)."""
    monkeypatch.setenv("CRM_MAX_BODY_BYTES", str(64 * 1024))
    with LiveServer.run(database_url) as live:
        head = (
            "POST /api/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 16384
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        # 80 KB, all sent: the server reads past the cap and refuses, leaving nothing unread (so
        # its close is clean: a reset could swallow the answer).
        status, rest = await _raw_request(live.base_url, head, [framed * 5 + b"0\r\n\r\n"])
        assert status == 413 and b"too_large" in rest
        async with live.client() as api:  # a body under the cap goes through as before
            small = await api.post("/api/auth/login", json={"email": "nobody@example.com", "password": "x"})
            assert small.status_code == 401


async def test_webhooks_keep_their_own_smaller_cap(server: LiveServer, admin: httpx.AsyncClient) -> None:
    form = await _form(admin)
    async with server.client() as visitor:
        answer = await visitor.post(f"/webhooks/forms/{form['key']}", data={"message": "x" * (70 * 1024)})
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"


# --- nulls where a value is required -------------------------------------------------------------


@pytest.mark.parametrize("field", ["full_name", "email", "role_id"])
async def test_a_user_field_that_cannot_be_empty_refuses_null(
    server: LiveServer, admin: httpx.AsyncClient, field: str
) -> None:
    user_id = await server.create_user("sam@example.com", full_name="Sam Seller")
    user = (await admin.get(f"/api/users/{user_id}")).json()
    refused = assert_refused(
        await admin.patch(f"/api/users/{user_id}", json={"version": user["version"], field: None}), field
    )
    assert refused["code"] == "invalid"
    after = (await admin.get(f"/api/users/{user_id}")).json()
    assert (after["email"], after["full_name"]) == ("sam@example.com", "Sam Seller")
    # Leaving a field out still means "unchanged"; phone may be emptied.
    kept = await admin.patch(f"/api/users/{user_id}", json={"version": user["version"], "phone": None})
    assert kept.status_code == 200 and kept.json()["email"] == "sam@example.com"


# --- names compared one way ----------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [("Ärzte", "Ärzte"), ("Ärzte", " Ärzte "), ("Support", "SUPPORT")])
async def test_a_role_name_taken_is_refused_however_it_is_written(
    server: LiveServer, admin: httpx.AsyncClient, first: str, second: str
) -> None:
    assert (await admin.post("/api/roles", json={"name": first})).status_code == 201
    refused = assert_refused(await admin.post("/api/roles", json={"name": second}), "name")
    assert refused["code"] == "name_taken"


@pytest.mark.parametrize("url", ["/api/teams", "/api/pipelines", "/api/lost-reasons", "/api/lead-sources"])
async def test_other_unique_names_are_compared_the_same_way(
    server: LiveServer, admin: httpx.AsyncClient, url: str
) -> None:
    assert (await admin.post(url, json={"name": "Équipe Nord"})).status_code == 201
    refused = assert_refused(await admin.post(url, json={"name": "Équipe Nord "}), "name")
    assert refused["code"] == "name_taken"


# --- attachments: an allow-listed type, never a header of the sender's choosing ------------------


async def test_an_attachment_type_with_line_breaks_cannot_inject_headers(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    ticket = (await admin.post("/api/tickets", json={"subject": "Printer"})).json()
    data = base64.b64encode(b"<script>alert(1)</script>").decode()
    up = await admin.post(
        f"/api/tickets/{ticket['id']}/attachments",
        json={"filename": "note.html", "content_type": "text/html\r\nX-Injected: yes", "data": data},
    )
    assert up.status_code == 201, up.text
    assert up.json()["content_type"] == "application/octet-stream"
    down = await admin.get(f"/api/attachments/{up.json()['id']}")
    assert down.status_code == 200 and down.content == b"<script>alert(1)</script>"
    assert "x-injected" not in down.headers
    assert down.headers["content-type"] == "application/octet-stream"
    assert down.headers["x-content-type-options"] == "nosniff"
    # A type on the list is kept; one off it (HTML runs scripts) is sent as plain bytes.
    pdf = await admin.post(
        f"/api/tickets/{ticket['id']}/attachments",
        json={"filename": "a.pdf", "content_type": "Application/PDF", "data": data},
    )
    assert pdf.json()["content_type"] == "application/pdf"
    html = await admin.post(
        f"/api/tickets/{ticket['id']}/attachments",
        json={"filename": "a.html", "content_type": "text/html", "data": data},
    )
    assert html.json()["content_type"] == "application/octet-stream"


# --- send-draft ----------------------------------------------------------------------------------


async def test_send_draft_of_a_draft_is_refused_and_a_missing_address_is_null(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    from tests.server.test_invoice_sending import issued_invoice

    rates = {r["name"]: r["id"] for r in (await admin.get("/api/tax-rates")).json()}
    client = (await admin.post("/api/clients", json={"name": "No Mail Ltd"})).json()
    draft = (
        await admin.post(
            "/api/invoices",
            json={
                "client_id": client["id"],
                "lines": [
                    {"description": "Work", "quantity": "1", "unit_price": "10", "tax_rate_id": rates["Standard 19%"]}
                ],
            },
        )
    ).json()
    refused = await admin.get(f"/api/invoices/{draft['id']}/send-draft")
    assert refused.status_code == 409 and refused.json()["code"] == "not_issued"
    invoice = await issued_invoice(admin, client_email=None)
    proposal = (await admin.get(f"/api/invoices/{invoice['id']}/send-draft")).json()
    assert proposal["to"] is None
    assert invoice["number"] in proposal["subject"] and "None" not in proposal["subject"]


def test_send_draft_declares_its_answer(server: LiveServer) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=OPENAPI_SECONDS).json()
    answer = spec["paths"]["/api/invoices/{invoice_id}/send-draft"]["get"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert ref == "SendDraft"
    assert json.dumps(spec["components"]["schemas"][ref]["properties"]["to"]).count("null") == 1
