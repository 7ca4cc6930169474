"""Follow-up reminders: an hour before, at the due time, and a day after if still open. Each stage
is sent once: the stage's bit is set on the row by a conditional UPDATE in the same transaction as
the notification, so two workers running at once never both send it (the second skips rows the
first has locked, or finds the bit set once it commits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities import preferences
from crm_server.activities.models import REMIND_BEFORE, REMIND_DUE, REMIND_OVERDUE, FollowUp
from crm_server.admin.service import notify
from crm_server.clients.models import Client, RecentSubmit
from crm_server.db import rowcount
from crm_server.leads.models import Lead

BATCH = 500
# A follow-up forgotten for longer than this gets no more reminders (nor a flood after an outage).
GIVE_UP_AFTER = timedelta(days=8)


@dataclass(frozen=True)
class Stage:
    bit: int
    marks: int  # bits set when this stage is sent: a later stage stands for the earlier ones
    kind: str
    title: str


BEFORE = Stage(REMIND_BEFORE, REMIND_BEFORE, "follow_up_soon", "In an hour")
DUE = Stage(REMIND_DUE, REMIND_BEFORE | REMIND_DUE, "follow_up_due", "Due now")
OVERDUE = Stage(REMIND_OVERDUE, REMIND_BEFORE | REMIND_DUE | REMIND_OVERDUE, "follow_up_overdue", "A day overdue")


KIND_WORDS = {"call": "call", "email": "email", "whatsapp": "WhatsApp message to", "meeting": "meeting with"}


def _window(stage: Stage, now: datetime) -> ColumnElement[bool]:
    if stage is BEFORE:
        return and_(FollowUp.due_at > now, FollowUp.due_at <= now + timedelta(hours=1))
    if stage is DUE:
        return and_(FollowUp.due_at <= now, FollowUp.due_at > now - timedelta(days=1))
    return and_(FollowUp.due_at <= now - timedelta(days=1), FollowUp.due_at > now - GIVE_UP_AFTER)


async def _send_stage(session: AsyncSession, stage: Stage, now: datetime) -> int:
    unsent = FollowUp.reminders_sent.op("&")(stage.bit) == 0
    picked = (
        select(FollowUp.id)
        .where(FollowUp.status == "open", unsent, _window(stage, now))
        .order_by(FollowUp.due_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    rows = (
        await session.execute(
            update(FollowUp)
            .where(FollowUp.id.in_(picked.scalar_subquery()), FollowUp.status == "open", unsent)
            .values(reminders_sent=FollowUp.reminders_sent.op("|")(stage.marks))
            .returning(
                FollowUp.id,
                FollowUp.owner_id,
                FollowUp.kind,
                FollowUp.due_at,
                FollowUp.notes,
                FollowUp.lead_id,
                FollowUp.client_id,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    owners = {r.owner_id for r in rows if r.owner_id is not None}
    muted = await preferences.switched_off(session, owners, stage.kind)
    subjects = await _subjects(
        session, {r.lead_id for r in rows if r.lead_id}, {r.client_id for r in rows if r.client_id}
    )
    sent = 0
    for r in rows:
        if r.owner_id is None or r.owner_id in muted:
            continue
        subject = subjects.get(("lead", r.lead_id)) if r.lead_id else subjects.get(("client", r.client_id))
        # The title says when relative to now (the server does not know the reader's time zone;
        # the notification's own time is shown in local time by the desktop).
        what = KIND_WORDS.get(r.kind, r.kind)
        notify(
            session,
            r.owner_id,
            stage.kind,
            f"{stage.title}: {what} {subject or ''}".strip(),
            r.notes or "",
            "follow_up",
            r.id,
        )
        sent += 1
    return sent


async def _subjects(
    session: AsyncSession, lead_ids: set[int | None], client_ids: set[int | None]
) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    if lead_ids:
        for lead_id, person, company in (
            await session.execute(select(Lead.id, Lead.person_name, Lead.company).where(Lead.id.in_(lead_ids)))
        ).all():
            out[("lead", lead_id)] = f"{person} ({company})" if company else person
    if client_ids:
        for client_id, name in (
            await session.execute(select(Client.id, Client.name).where(Client.id.in_(client_ids)))
        ).all():
            out[("client", client_id)] = name
    return out


async def send_due(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Send every reminder due at `now`; returns how many of each stage were sent."""
    return {stage.kind: await _send_stage(session, stage, now) for stage in (OVERDUE, DUE, BEFORE)}


async def forget_recent_submits(session: AsyncSession, now: datetime) -> int:
    """The double-submit guard only needs its last few seconds."""
    result = await session.execute(delete(RecentSubmit).where(RecentSubmit.created_at < now - timedelta(minutes=1)))
    return rowcount(result)
