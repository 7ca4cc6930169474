"""What counts as a ticket's first response, and who wrote each comment, over real HTTP: only a public
reply by an agent stops the first-response clock (an internal note or the customer's own email does
not), a ticket with such a reply is never "breaching", the demo's conversations agree with their
tickets' stamps, and every comment names its staff author so an internal note never reads as the
customer's."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from crm_server.db import utcnow
from crm_server.tickets import service
from crm_server.tickets.demo import seed_tickets
from crm_server.tickets.models import Ticket
from tests.support import LiveServer


async def make_ticket(api: httpx.AsyncClient, subject: str) -> dict[str, Any]:
    response = await api.post("/api/tickets", json={"subject": subject, "requester_email": "reader@example.com"})
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def comment(api: httpx.AsyncClient, ticket_id: int, body: str, public: bool) -> dict[str, Any]:
    response = await api.post(f"/api/tickets/{ticket_id}/comments", json={"body": body, "public": public})
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def breaching(api: httpx.AsyncClient) -> set[int]:
    page = (await api.get("/api/tickets", params={"breaching": True, "limit": 500})).json()
    return {t["id"] for t in page["items"]}


async def test_only_an_agents_public_reply_is_the_first_response(server: LiveServer, admin: Any) -> None:
    await server.create_user("agent@example.com", role="Support agent", full_name="Ivan Petrov")
    async with server.client() as agent:
        await server.login(agent, "agent@example.com")
        ticket = await make_ticket(admin, "Orders stopped syncing")
        agent_id = int((await agent.get("/api/auth/me")).json()["id"])
        assigned = await admin.post(
            f"/api/tickets/{ticket['id']}/assign", json={"version": ticket["version"], "assignee_id": agent_id}
        )
        assert assigned.status_code == 200, assigned.text
        async with server.session() as s:  # its deadline passed an hour ago
            await s.execute(
                update(Ticket)
                .where(Ticket.id == ticket["id"])
                .values(first_response_due_at=utcnow() - timedelta(hours=1))
            )
        # An internal note and the customer's emailed message are not a response to the customer.
        note = await comment(agent, ticket["id"], "Checked the logs first.", public=False)
        async with server.session() as s:
            await service.add_public_comment_from_email(
                s, ticket["number"], sender="reader@example.com", body="Any news?", attachments=[]
            )
        got = (await admin.get(f"/api/tickets/{ticket['id']}")).json()
        assert got["first_responded_at"] is None and ticket["id"] in await breaching(admin)
        # The agent's public reply is.
        reply = await comment(agent, ticket["id"], "We are on it.", public=True)
        got = (await admin.get(f"/api/tickets/{ticket['id']}")).json()
        assert got["first_responded_at"] is not None and ticket["id"] not in await breaching(admin)
        # Each comment says who wrote it: the agent by name (also to a colleague who may not read the
        # user admin), the customer by their address.
        thread = (await agent.get(f"/api/tickets/{ticket['id']}/comments")).json()
        authors = {c["id"]: (c["author_name"], c["author_email"]) for c in thread}
        assert authors[note["id"]] == ("Ivan Petrov", None)
        assert authors[reply["id"]] == ("Ivan Petrov", None)
        assert ("reader@example.com" in {email for _, email in authors.values()}) and None in {
            name for name, _ in authors.values()
        }


async def test_demo_conversations_agree_with_the_first_response_stamp(server: LiveServer, admin: Any) -> None:
    """A demo ticket with an agent's public reply is answered (at that reply), so never "overdue";
    an unanswered one has no such reply; every internal note has an agent for its author."""
    async with server.session() as s:
        assert await seed_tickets(s, random.Random(5), "not-a-real-hash", count=120) == 120
    page = (await admin.get("/api/tickets", params={"limit": 500})).json()
    archived = (await admin.get("/api/tickets", params={"archived": True, "limit": 500})).json()
    tickets = page["items"] + archived["items"]
    assert len(tickets) == 120
    late = await breaching(admin)
    answered = notes = 0
    for ticket in tickets:
        thread = (await admin.get(f"/api/tickets/{ticket['id']}/comments")).json()
        replies = sorted(c["created_at"] for c in thread if c["public"] and c["author_id"] is not None)
        for c in thread:
            if not c["public"]:
                notes += 1
                assert c["author_id"] is not None and c["author_name"], f"#{ticket['number']}: a note without its agent"
            if c["author_id"] is None:
                assert c["public"], f"#{ticket['number']}: the customer's message marked internal"
        if replies:
            answered += 1
            assert ticket["first_responded_at"] is not None, f"#{ticket['number']} has a reply but no first response"
            assert ticket["first_responded_at"].replace("Z", "+00:00")[:19] == replies[0].replace("Z", "+00:00")[:19]
            assert ticket["id"] not in late
        else:
            assert ticket["first_responded_at"] is None, f"#{ticket['number']} answered without a reply"
    assert answered > 50 and notes > 10 and late  # the demo still shows late ones, and notes
