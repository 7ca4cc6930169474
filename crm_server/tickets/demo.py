"""Demo tickets: the support teams and their categories, a few agents, and a few hundred tickets in
every status and priority with their conversations; some are late for their first response so the
breaching view and the alert have something to show. Rows go in with bulk inserts (no emails)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.models import Role, Team, User
from crm_server.clients.models import Contact
from crm_server.contract.tickets import TicketStatus
from crm_server.db import utcnow
from crm_server.tickets import sla
from crm_server.tickets.models import Ticket, TicketCategory, TicketComment

ROUTES = {
    "Sync issue": "Technical Integration",
    "Product bug": "Development",
    "Feature request": "Product",
    "Data problem": "Data",
    "General": "Customer Success",
}
# (email, full name, role, team)
AGENTS = (
    ("carla.success@demo.local", "Carla Mendes", "Manager", "Customer Success"),
    ("ivan.integration@demo.local", "Ivan Petrov", "Support agent", "Technical Integration"),
    ("dana.dev@demo.local", "Dana Weiss", "Support agent", "Development"),
    ("paul.product@demo.local", "Paul Moreau", "Support agent", "Product"),
    ("hana.data@demo.local", "Hana Sato", "Support agent", "Data"),
)
SUBJECTS = {
    "Sync issue": [
        "Orders stopped syncing from the shop",
        "Calendar sync duplicates events",
        "Stock levels not updated overnight",
        "Webhook returns 401 since yesterday",
    ],
    "Product bug": [
        "Invoice PDF shows the wrong VAT",
        "Export to Excel crashes",
        "Search misses recent clients",
        "Date picker jumps a month",
    ],
    "Feature request": [
        "Bulk edit for contacts",
        "Dark theme please",
        "Custom fields on tickets",
        "Recurring follow-ups",
    ],
    "Data problem": [
        "Duplicate clients after import",
        "Wrong currency on old invoices",
        "Missing contacts for Acme",
        "Phone numbers lost their prefix",
    ],
    "General": [
        "How do I reset my password?",
        "Question about our licence",
        "Training session request",
        "Who is our account manager?",
    ],
}
TAGS = ["vip", "urgent", "billing", "mobile", "api"]
# The agent's replies to the customer (public), the notes agents leave each other (internal) and the
# customer's messages (public, by email): each conversation is told by the people who would write it.
REPLIES = [
    "Thanks, we are looking into it.",
    "Could you send a screenshot?",
    "We reproduced it.",
    "A fix is on its way.",
    "Can you confirm it works now?",
]
NOTES = [
    "Checked the logs: it started after Tuesday's release.",
    "Same as last month's ticket; the workaround is on the wiki.",
    "Waiting for the development team before we answer.",
    "VIP account: keep the manager in the loop.",
]
CUSTOMER_MESSAGES = [
    "Any news on this?",
    "Here is the screenshot you asked for.",
    "Still happening this morning.",
    "Thanks, that works now.",
]
STATUS_WEIGHTS = {
    TicketStatus.new: 12,
    TicketStatus.assigned: 10,
    TicketStatus.in_process: 18,
    TicketStatus.pending_customer: 8,
    TicketStatus.resolved: 12,
    TicketStatus.deployed: 5,
    TicketStatus.closed: 35,
}


async def _teams_and_people(session: AsyncSession, password_hash: str) -> dict[str, list[int]]:
    """The five support teams (made if missing), the categories routed to them, an agent in each."""
    roles = {n.lower(): i for i, n in (await session.execute(select(Role.id, Role.name))).all()}
    team_ids: dict[str, int] = {}
    for name in ROUTES.values():
        team = await session.scalar(select(Team).where(Team.name == name))
        if team is None:
            team = Team(name=name)
            session.add(team)
            await session.flush()
        team_ids[name] = team.id
    for category in await session.scalars(select(TicketCategory)):
        if category.name in ROUTES:
            category.team_id = team_ids[ROUTES[category.name]]
    people: dict[str, list[int]] = {name: [] for name in team_ids}
    for email, full_name, role, team_name in AGENTS:
        user = await session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            user = User(
                email=email,
                full_name=full_name,
                role_id=roles[role.lower()],
                team_id=team_ids[team_name],
                password_hash=password_hash,
            )
            session.add(user)
            await session.flush()
        people[team_name].append(user.id)
    # The demo's existing support agents join Customer Success, where the general questions land.
    for user in await session.scalars(
        select(User)
        .join(Role, Role.id == User.role_id)
        .where(Role.name == "Support agent", User.team_id.not_in(team_ids.values()))
    ):
        user.team_id = team_ids["Customer Success"]
        people["Customer Success"].append(user.id)
    await session.flush()
    return people


async def seed_tickets(session: AsyncSession, rng: random.Random, password_hash: str, count: int = 300) -> int:
    """Add `count` tickets (and what they need); returns how many."""
    people = await _teams_and_people(session, password_hash)
    categories = {c.name: c for c in await session.scalars(select(TicketCategory))}
    contacts = (await session.execute(select(Contact.id, Contact.client_id, Contact.email).limit(400))).all()
    values = await settings.get_all(session)
    schedule = sla.schedule_from_settings(values)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    speakers: list[tuple[list[int], str | None]] = []  # (who may answer, the customer's email)
    for _ in range(count):
        name = rng.choice(list(ROUTES))
        category = categories[name]
        status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        priority = rng.choices(["normal", "high", "critical"], weights=[70, 22, 8])[0]
        created = now - timedelta(minutes=rng.randint(5, 60 * 24 * 75))
        team = category.team_id
        agents = people[ROUTES[name]]
        assignee = rng.choice(agents) if agents and status is not TicketStatus.new else None
        due = sla.due_at(created, sla.hours_for(values, priority), schedule)
        answered = status not in (TicketStatus.new, TicketStatus.assigned) or rng.random() < 0.3
        # The first public reply by an agent is the first response: never after the deadline, never
        # in the future, and the conversation below starts with it.
        replied = max(created, min(due, created + timedelta(minutes=rng.randint(10, 300)), now - timedelta(minutes=1)))
        contact = rng.choice(contacts) if contacts and rng.random() < 0.9 else None
        closed = created + timedelta(days=rng.randint(1, 10)) if status is TicketStatus.closed else None
        resolved = status in (TicketStatus.resolved, TicketStatus.deployed, TicketStatus.closed)
        speakers.append(([assignee] if assignee else agents, contact.email if contact else None))
        rows.append(
            {
                "subject": rng.choice(SUBJECTS[name]),
                "description": "Reported by the customer.",
                "client_id": contact.client_id if contact else None,
                "contact_id": contact.id if contact else None,
                "priority": priority,
                "category_id": category.id,
                "team_id": team,
                "assignee_id": assignee,
                "status": status.value,
                "tags": rng.sample(TAGS, rng.randint(0, 2)),
                "first_response_due_at": due,
                "first_responded_at": replied if answered else None,
                # Long-late ones were reported already; only the recent ones wait for the alert job.
                "breach_notified_at": due if not answered and due < now - timedelta(hours=1) else None,
                "resolution": "Fixed and confirmed with the customer." if resolved else None,
                "status_changed_at": closed or created,
                "resolved_at": (closed or now) if resolved else None,
                "closed_at": closed,
                "archived_at": now if closed and closed < now - timedelta(days=30) else None,
                "created_at": created,
                "updated_at": closed or created,
            }
        )
    # render_nulls: every row keeps the same columns, so the rows go in a few batches (without it the
    # ORM sends one small INSERT per pattern of None values)
    ids = list(
        await session.scalars(
            insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True),
            rows,
            execution_options={"render_nulls": True},
        )
    )
    comments: list[dict[str, Any]] = []
    for ticket_id, row, (agents, customer) in zip(ids, rows, speakers, strict=True):
        comments.extend(_conversation(rng, ticket_id, row, agents, customer, now))
    if comments:
        await session.execute(insert(TicketComment), comments, execution_options={"render_nulls": True})
    return len(ids)


def _conversation(
    rng: random.Random, ticket_id: int, row: dict[str, Any], agents: list[int], customer: str | None, now: datetime
) -> list[dict[str, Any]]:
    """A ticket's comments, consistent with its first-response stamp: an answered ticket's thread
    starts with the agent's public reply at `first_responded_at`; an unanswered one holds only
    internal notes (always by an agent) and the customer's own messages."""
    answered = row["first_responded_at"]
    at = answered or row["created_at"]
    said: list[dict[str, Any]] = []

    def say(author_id: int | None, body: str, public: bool) -> None:
        said.append(
            {
                "ticket_id": ticket_id,
                "author_id": author_id,
                "author_email": None if author_id else customer,
                "body": body,
                "public": public,
                "created_at": at,
                "updated_at": at,
            }
        )

    if answered is not None:
        say(rng.choice(agents), rng.choice(REPLIES), True)
    for _ in range(rng.randint(0, 3)):
        at = at + timedelta(minutes=rng.randint(20, 600))
        if at >= now:
            break
        kind = rng.random()
        if kind < 0.35:
            say(None, rng.choice(CUSTOMER_MESSAGES), True)
        elif kind < 0.7 or answered is None:
            say(rng.choice(agents), rng.choice(NOTES), False)
        else:
            say(rng.choice(agents), rng.choice(REPLIES), True)
    return said
