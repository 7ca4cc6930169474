"""Support tickets over real HTTP on a real database: the status graph, resolution notes, routing by
category, assignment and its notification, SLA due times and the breaching filter, the breach alert
sent once, customer emails through the job queue to a loopback SMTP server, archiving, scope,
attachments, search, optimistic versions, and the doors the inbound email pipe uses."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from crm_server.admin.models import Notification
from crm_server.auth.models import Role, Team
from crm_server.clients.models import Client, Contact
from crm_server.config import to_sqlalchemy_url
from crm_server.contract.tickets import MAX_ATTACHMENT_BYTES, TRANSITIONS, TicketStatus
from crm_server.db import Database, utcnow
from crm_server.jobs import registry
from crm_server.mail import MailError
from crm_server.tickets import notify, service, sla
from crm_server.tickets.models import Ticket, TicketEmail
from tests.server.test_jobs import eventually, workers
from tests.support import LiveServer


async def make_ticket(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/tickets", json={"subject": "Sync stopped overnight", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def my_id(api: httpx.AsyncClient) -> int:
    return int((await api.get("/api/auth/me")).json()["id"])


async def move(api: httpx.AsyncClient, ticket: dict[str, Any], status: str, **extra: Any) -> httpx.Response:
    return await api.post(
        f"/api/tickets/{ticket['id']}/move", json={"version": ticket["version"], "status": status, **extra}
    )


async def team_id(server: LiveServer, name: str) -> int:
    async with server.session() as s:
        found = await s.scalar(select(Team.id).where(Team.name == name))
        if found is None:
            team = Team(name=name)
            s.add(team)
            await s.flush()
            found = team.id
        return found


async def category(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    items = (await api.get("/api/ticket-categories")).json()
    return next(c for c in items if c["name"] == name)


async def route(api: httpx.AsyncClient, name: str, team: int) -> dict[str, Any]:
    found = await category(api, name)
    response = await api.patch(
        f"/api/ticket-categories/{found['id']}", json={"version": found["version"], "team_id": team}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


SignIn = Callable[[str, str, str | None], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def sign_in(server: LiveServer) -> AsyncIterator[SignIn]:
    """Creates a user and hands back their signed-in client; closes them all after the test."""
    opened: list[httpx.AsyncClient] = []

    async def make(email: str, role: str, team: str | None) -> httpx.AsyncClient:
        await server.create_user(email, role=role, team=team, full_name=email.split("@")[0])
        api = server.client()
        opened.append(api)
        await server.login(api, email)
        return api

    yield make
    for api in opened:
        await api.aclose()


async def notifications_of(server: LiveServer, user_email: str) -> list[Notification]:
    from crm_server.auth.models import User

    async with server.session() as s:
        user_id = await s.scalar(select(User.id).where(User.email == user_email))
        return list(
            await s.scalars(select(Notification).where(Notification.user_id == user_id).order_by(Notification.id))
        )


async def test_every_move_of_the_graph_and_refusals(server: LiveServer, admin: Any) -> None:
    ticket = await make_ticket(admin)
    assert ticket["status"] == "new" and ticket["number"] >= 1000
    refused = await move(admin, ticket, "closed")
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "invalid_transition" and body["field"] == "status"
    assert "from New to Closed" in body["message"]
    no_one = await move(admin, ticket, "assigned")
    assert no_one.status_code == 422 and no_one.json()["field"] == "assignee_id"
    assigned = await admin.post(
        f"/api/tickets/{ticket['id']}/assign", json={"version": ticket["version"], "assignee_id": await my_id(admin)}
    )
    assert assigned.status_code == 200, assigned.text
    ticket = assigned.json()
    assert ticket["status"] == "assigned"
    path = [
        "in_process",
        "pending_customer",
        "in_process",
        "resolved",
        "in_process",
        "pending_customer",
        "resolved",
        "deployed",
        "closed",
        "in_process",
        "resolved",
        "closed",
        "assigned",
        "in_process",
        "resolved",
        "assigned",
    ]
    seen = {("new", "assigned")}
    for target in path:
        if target == "resolved":
            missing = await move(admin, ticket, "resolved", resolution="  ")
            assert missing.status_code == 422 and missing.json()["field"] == "resolution", missing.text
        moved = await move(admin, ticket, target, resolution="Restarted the sync agent")
        assert moved.status_code == 200, (ticket["status"], target, moved.text)
        seen.add((ticket["status"], target))
        ticket = moved.json()
        assert ticket["status"] == target
        if target == "resolved":
            assert ticket["resolution"] == "Restarted the sync agent" and ticket["resolved_at"]
        if target == "closed":
            assert ticket["closed_at"]
        if target in ("in_process", "assigned") and ticket["resolved_at"] is None:
            assert ticket["resolution"] is None  # a reopened ticket needs a fresh resolution
    every_edge = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert seen == every_edge
    # A stale version is refused.
    stale = await admin.patch(
        f"/api/tickets/{ticket['id']}", json={"version": ticket["version"] - 1, "subject": "Changed"}
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    timeline = (await admin.get(f"/api/tickets/{ticket['id']}/timeline", params={"limit": 200})).json()
    assert sum(1 for i in timeline["items"] if i["kind"] == "status_change") == len(path)
    assert any(i["text"] == "Resolved → Deployed" for i in timeline["items"])


async def test_routing_assignment_and_scope(server: LiveServer, admin: Any, sign_in: SignIn) -> None:
    dev, data = await team_id(server, "Development"), await team_id(server, "Data")
    await route(admin, "Product bug", dev)
    await route(admin, "Data problem", data)
    agent = await sign_in("dev.agent@example.com", "Support agent", "Development")
    other = await sign_in("data.agent@example.com", "Support agent", "Data")
    manager = await sign_in("dev.manager@example.com", "Manager", "Development")
    bug = await make_ticket(other, subject="Export crashes", category_id=(await category(admin, "Product bug"))["id"])
    assert bug["team_id"] == dev
    general = await make_ticket(admin, subject="Question about invoices")
    assert general["category_id"] == (await category(admin, "General"))["id"] and general["team_id"] is None
    # The agent sees their team's ticket; the other team's agent does not (even though they typed it
    # in, they still see it as its creator, but not the team's other tickets).
    assert (await agent.get(f"/api/tickets/{bug['id']}")).status_code == 200
    data_ticket = await make_ticket(
        admin, subject="Duplicated rows", category_id=(await category(admin, "Data problem"))["id"]
    )
    assert (await agent.get(f"/api/tickets/{data_ticket['id']}")).status_code == 404
    listed = {t["id"] for t in (await agent.get("/api/tickets")).json()["items"]}
    assert bug["id"] in listed and data_ticket["id"] not in listed and general["id"] not in listed
    # The manager assigns it to the agent: the agent hears of it at once.
    agent_id = await my_id(agent)
    outsider = await manager.post(
        f"/api/tickets/{bug['id']}/assign", json={"version": bug["version"], "assignee_id": 1}
    )
    assert outsider.status_code == 422 and outsider.json()["field"] == "assignee_id"
    assigned = await manager.post(
        f"/api/tickets/{bug['id']}/assign", json={"version": bug["version"], "assignee_id": agent_id}
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["status"] == "assigned"
    told = await notifications_of(server, "dev.agent@example.com")
    assert [(n.kind, n.entity_id) for n in told] == [("ticket_assigned", bug["id"])]
    mine = (await agent.get("/api/tickets", params={"mine": True})).json()["items"]
    assert [t["id"] for t in mine] == [bug["id"]]
    # Own scope: a role that sees only tickets assigned to or created by the user.
    async with server.session() as s:
        s.add(
            Role(
                name="Sales with tickets",
                permissions={"tickets": {"actions": ["view", "create", "edit"], "scope": "own"}},
            )
        )
    seller = await sign_in("seller@example.com", "Sales with tickets", "Development")
    own = await make_ticket(seller, subject="Customer cannot log in")
    visible = {t["id"] for t in (await seller.get("/api/tickets")).json()["items"]}
    assert visible == {own["id"]}
    assert (await seller.get(f"/api/tickets/{bug['id']}")).status_code == 404
    refused = await seller.post(
        f"/api/tickets/{own['id']}/assign", json={"version": own["version"], "assignee_id": agent_id}
    )
    assert refused.status_code == 403


async def test_sla_due_times_and_the_breaching_filter(server: LiveServer, admin: Any) -> None:
    await admin.patch(
        "/api/settings",
        json={
            "values": {
                "tickets.business_days": "1-7",
                "tickets.business_hours": "00:00-23:59",
                "tickets.time_zone": "UTC",
            }
        },
    )
    critical = await make_ticket(admin, subject="Everything is down", priority="critical")
    normal = await make_ticket(admin, subject="A small question")
    schedule = sla.Schedule(sla.time(0), sla.time(23, 59), frozenset(range(1, 8)), sla.ZoneInfo("UTC"))
    async with server.session() as s:
        made = {t.id: t for t in await s.scalars(select(Ticket))}
    for ticket, hours in ((critical, 1), (normal, 8)):
        expected = sla.due_at(made[ticket["id"]].created_at, hours, schedule)
        assert made[ticket["id"]].first_response_due_at == expected
    # A priority change recomputes the deadline from the creation time.
    raised = await admin.patch(f"/api/tickets/{normal['id']}", json={"version": normal["version"], "priority": "high"})
    assert raised.status_code == 200
    async with server.session() as s:
        recomputed = await s.get(Ticket, normal["id"])
        assert recomputed is not None
        assert recomputed.first_response_due_at == sla.due_at(recomputed.created_at, 2, schedule)
    # Breaching: due within 30 minutes or past, no first response yet.
    breaching = (await admin.get("/api/tickets", params={"breaching": True})).json()["items"]
    assert breaching == []
    async with server.session() as s:
        await s.execute(
            update(Ticket)
            .where(Ticket.id == critical["id"])
            .values(first_response_due_at=utcnow() + timedelta(minutes=20))
        )
    breaching = (await admin.get("/api/tickets", params={"breaching": True})).json()["items"]
    assert [t["id"] for t in breaching] == [critical["id"]]
    internal = await admin.post(f"/api/tickets/{critical['id']}/comments", json={"body": "Looking", "public": False})
    assert internal.status_code == 201
    assert len((await admin.get("/api/tickets", params={"breaching": True})).json()["items"]) == 1
    public = await admin.post(f"/api/tickets/{critical['id']}/comments", json={"body": "On it", "public": True})
    assert public.status_code == 201
    assert (await admin.get("/api/tickets", params={"breaching": True})).json()["items"] == []
    answered = (await admin.get(f"/api/tickets/{critical['id']}")).json()
    assert answered["first_responded_at"] is not None


async def test_breach_alert_is_sent_once_to_the_teams_managers(server: LiveServer, admin: Any) -> None:
    assert registry.is_periodic("tickets.notify_breaches") and registry.is_periodic("tickets.archive_closed")
    dev = await team_id(server, "Development")
    await route(admin, "Product bug", dev)
    await server.create_user("boss@example.com", role="Manager", team="Development")
    await server.create_user("elsewhere@example.com", role="Manager", team="Data")
    bug = await make_ticket(admin, subject="Crash on save", category_id=(await category(admin, "Product bug"))["id"])
    orphan = await make_ticket(admin, subject="No team at all")
    async with server.session() as s:
        await s.execute(update(Ticket).values(first_response_due_at=utcnow() - timedelta(minutes=1)))
    for _ in range(2):
        async with server.session() as s:
            await notify.notify_breaches(s, utcnow())
    boss = await notifications_of(server, "boss@example.com")
    assert [(n.kind, n.entity_id) for n in boss] == [("ticket_sla_breached", bug["id"])]
    assert await notifications_of(server, "elsewhere@example.com") == []
    admins = [n for n in await notifications_of(server, "admin@example.com") if n.kind == "ticket_sla_breached"]
    assert [n.entity_id for n in admins] == [orphan["id"]]  # no team: the admins hear of it
    assert (await admin.get(f"/api/tickets/{bug['id']}")).json()["breach_notified_at"] is not None


async def test_customer_emails_are_sent_after_commit_by_the_job(
    server: LiveServer, admin: Any, smtp: Any, database_url: str
) -> None:
    await admin.patch("/api/settings", json={"values": smtp.settings()})
    async with server.session() as s:
        client = Client(name="Acme", email="office@acme.example")
        s.add(client)
        await s.flush()
        contact = Contact(client_id=client.id, name="Ana Pop", email="ana@acme.example")
        s.add(contact)
        await s.flush()
        client_id, contact_id = client.id, contact.id
    ticket = await make_ticket(admin, client_id=client_id, contact_id=contact_id)
    n = ticket["number"]
    me_id = await my_id(admin)
    ticket = (
        await admin.post(
            f"/api/tickets/{ticket['id']}/assign", json={"version": ticket["version"], "assignee_id": me_id}
        )
    ).json()
    await admin.post(f"/api/tickets/{ticket['id']}/comments", json={"body": "Internal only", "public": False})
    await admin.post(f"/api/tickets/{ticket['id']}/comments", json={"body": "We are on it.", "public": True})
    assert smtp.messages == []  # nothing is sent inside the request
    async with workers(database_url, n=1):
        messages = await smtp.wait_for(3, timeout=20)

        async def all_sent() -> bool:
            async with server.session() as s:
                return {e.status for e in await s.scalars(select(TicketEmail))} == {"sent"}

        await eventually(all_sent, what="the emails to be marked sent")
    assert len(messages) == 3
    assert all(f"[Ticket#{n}]" in m["Subject"] and m["To"] == "ana@acme.example" for m in messages)
    subjects = sorted(m["Subject"] for m in messages)
    assert any("Assigned" in s for s in subjects) and any(s.startswith("[Ticket#") and "Re:" in s for s in subjects)
    assert any("We are on it." in m.get_content() for m in messages)


async def test_an_smtp_failure_is_recorded_and_never_undoes_the_change(server: LiveServer, admin: Any) -> None:
    await admin.patch(
        "/api/settings", json={"values": {"smtp.host": "127.0.0.1", "smtp.port": 1, "smtp.security": "none"}}
    )
    ticket = await make_ticket(admin, requester_email="someone@example.com")
    db = Database(to_sqlalchemy_url(server.database_url), pool_size=1)
    try:
        async with server.session() as s:
            email_id = await s.scalar(select(TicketEmail.id).where(TicketEmail.ticket_id == ticket["id"]))
        assert email_id is not None
        try:
            await notify.send_queued(db, email_id)
            raise AssertionError("the send should have failed")
        except MailError:
            pass
    finally:
        await db.dispose()
    async with server.session() as s:
        email = await s.get(TicketEmail, email_id)
        assert email is not None and email.status == "failed" and email.attempts == 1 and email.error
    assert (await admin.get(f"/api/tickets/{ticket['id']}")).status_code == 200
    timeline = (await admin.get(f"/api/tickets/{ticket['id']}/timeline")).json()["items"]
    assert any(i["kind"] == "email" and i["data"]["status"] == "failed" for i in timeline)


async def test_archive_job_and_archived_tickets_stay_findable(server: LiveServer, admin: Any) -> None:
    old = await make_ticket(admin, subject="Ancient printer problem")
    fresh = await make_ticket(admin, subject="Recent printer problem")
    async with server.session() as s:
        await s.execute(
            update(Ticket)
            .values(status="closed", closed_at=utcnow() - timedelta(days=31))
            .where(Ticket.id == old["id"])
        )
        await s.execute(
            update(Ticket)
            .values(status="closed", closed_at=utcnow() - timedelta(days=29))
            .where(Ticket.id == fresh["id"])
        )
    async with server.session() as s:
        assert await service.archive_closed(s, utcnow(), 30) == 1
    async with server.session() as s:
        assert await service.archive_closed(s, utcnow(), 30) == 0
    queue = {t["id"] for t in (await admin.get("/api/tickets")).json()["items"]}
    assert old["id"] not in queue and fresh["id"] in queue
    archived = (await admin.get("/api/tickets", params={"archived": True})).json()["items"]
    assert [t["id"] for t in archived] == [old["id"]]
    got = (await admin.get(f"/api/tickets/{old['id']}")).json()
    assert got["archived_at"] is not None
    hits = (await admin.get("/api/search", params={"q": "printer"})).json()
    tickets = next(g for g in hits["groups"] if g["type"] == "ticket")
    assert {h["id"] for h in tickets["items"]} == {old["id"], fresh["id"]}
    # Editing an archived ticket is refused; reopening brings it back.
    edit = await admin.patch(f"/api/tickets/{old['id']}", json={"version": got["version"], "subject": "x"})
    assert edit.status_code == 409 and edit.json()["code"] == "archived"
    reopened = await move(admin, got, "in_process")
    assert reopened.status_code == 200 and reopened.json()["archived_at"] is None, reopened.text


async def test_attachments_round_trip_and_size_refusal(server: LiveServer, admin: Any, sign_in: SignIn) -> None:
    ticket = await make_ticket(admin)
    payload = b"%PDF-1.4 hello\x00\xff"
    up = await admin.post(
        f"/api/tickets/{ticket['id']}/attachments",
        json={"filename": "report.pdf", "content_type": "application/pdf", "data": base64.b64encode(payload).decode()},
    )
    assert up.status_code == 201, up.text
    down = await admin.get(f"/api/attachments/{up.json()['id']}")
    assert down.status_code == 200 and down.content == payload
    assert down.headers["content-type"] == "application/pdf" and "report.pdf" in down.headers["content-disposition"]
    guessed = await admin.post(
        f"/api/tickets/{ticket['id']}/attachments",
        json={"filename": "shot.png", "data": base64.b64encode(b"\x89PNG").decode()},
    )
    assert guessed.json()["content_type"] == "image/png"
    too_big = base64.b64encode(b"x" * (MAX_ATTACHMENT_BYTES + 1)).decode()
    refused = await admin.post(
        f"/api/tickets/{ticket['id']}/attachments", json={"filename": "big.bin", "data": too_big}
    )
    assert refused.status_code == 413 and refused.json()["code"] == "too_large"
    bad = await admin.post(f"/api/tickets/{ticket['id']}/attachments", json={"filename": "a", "data": "@@@"})
    assert bad.status_code == 422 and bad.json()["field"] == "data"
    with_file = await admin.post(
        f"/api/tickets/{ticket['id']}/comments",
        json={
            "body": "Log attached",
            "attachments": [{"filename": "log.txt", "data": base64.b64encode(b"ok").decode()}],
        },
    )
    assert with_file.status_code == 201 and with_file.json()["attachments"][0]["filename"] == "log.txt"
    thread = (await admin.get(f"/api/tickets/{ticket['id']}/comments")).json()
    assert [c["body"] for c in thread] == ["Log attached"]
    files = (await admin.get(f"/api/tickets/{ticket['id']}/attachments")).json()
    assert len(files) == 3
    # Another team's agent cannot download it.
    agent = await sign_in("agent@example.com", "Support agent", "Data")
    assert (await agent.get(f"/api/attachments/{up.json()['id']}")).status_code == 404


async def test_search_by_number_and_subject_and_the_board(server: LiveServer, admin: Any) -> None:
    first = await make_ticket(admin, subject="Invoice PDF is blank")
    await make_ticket(admin, subject="Calendar sync duplicates events", priority="critical")
    by_number = (await admin.get("/api/search", params={"q": f"#{first['number']}"})).json()
    hits = next(g for g in by_number["groups"] if g["type"] == "ticket")["items"]
    assert hits[0]["id"] == first["id"] and hits[0]["title"] == f"#{first['number']} Invoice PDF is blank"
    by_words = (await admin.get("/api/search", params={"q": "pdf is bla"})).json()
    assert [h["id"] for h in next(g for g in by_words["groups"] if g["type"] == "ticket")["items"]] == [first["id"]]
    listed = (await admin.get("/api/tickets", params={"q": str(first["number"])})).json()
    assert [t["id"] for t in listed["items"]] == [first["id"]]
    board = (await admin.get("/api/tickets/board")).json()
    columns = {c["status"]: c for c in board["columns"]}
    assert columns["new"]["count"] == 2 and columns["new"]["cards"][0]["priority"] == "critical"
    assert columns["closed"]["count"] == 0 and len(columns) == len(TicketStatus)


async def test_email_pipe_doors(server: LiveServer, admin: Any) -> None:
    async with server.session() as s:
        ticket = await service.create_ticket_from_email(
            s,
            client_id=None,
            contact_id=None,
            sender="reader@example.com",
            subject="  Cannot   export ",
            body="Hello, export fails.",
            attachments=[("trace.txt", "text/plain", b"stack")],
        )
        number, ticket_id = ticket.number, ticket.id
        assert ticket.subject == "Cannot export" and ticket.created_by is None
    got = (await admin.get(f"/api/tickets/{ticket_id}")).json()
    assert got["requester_email"] == "reader@example.com" and got["status"] == "new"
    me_id = await my_id(admin)
    got = (
        await admin.post(f"/api/tickets/{ticket_id}/assign", json={"version": got["version"], "assignee_id": me_id})
    ).json()
    got = (await move(admin, got, "in_process")).json()
    got = (await move(admin, got, "resolved", resolution="Fixed in 2.3")).json()
    async with server.session() as s:
        assert (
            await service.add_public_comment_from_email(s, 999_999, sender="x@example.com", body="hi", attachments=[])
            is None
        )
        again = await service.add_public_comment_from_email(
            s, number, sender="reader@example.com", body="Still broken", attachments=[]
        )
        assert again is not None and again.status == "in_process" and again.resolution is None
    thread = (await admin.get(f"/api/tickets/{ticket_id}/comments")).json()
    assert thread[-1]["author_email"] == "reader@example.com" and thread[-1]["public"] is True
    async with server.session() as s:
        emails = list(
            await s.scalars(select(TicketEmail).where(TicketEmail.ticket_id == ticket_id).order_by(TicketEmail.id))
        )
    # Acknowledgement, assigned, in process, resolved, reopened: never the customer's own reply.
    assert [e.kind for e in emails] == ["created", "status", "status", "status", "status"]
    assert all(e.recipient == "reader@example.com" for e in emails)


async def test_demo_tickets_cover_every_status_and_some_breach(server: LiveServer, admin: Any) -> None:
    import random

    from crm_server.tickets.demo import seed_tickets

    async with server.session() as s:
        assert await seed_tickets(s, random.Random(3), "not-a-real-hash", count=200) == 200
    async with server.session() as s:
        statuses = set(await s.scalars(select(Ticket.status).distinct()))
        unrouted = await s.scalar(select(Ticket.id).where(Ticket.team_id.is_(None)).limit(1))
    assert statuses == {s.value for s in TicketStatus} and unrouted is None
    breaching = (await admin.get("/api/tickets", params={"breaching": True, "limit": 1})).json()
    assert breaching["total"] > 0
    board = (await admin.get("/api/tickets/board", params={"per_column": 5})).json()
    assert sum(c["count"] for c in board["columns"]) < 200  # the long-closed ones are archived
