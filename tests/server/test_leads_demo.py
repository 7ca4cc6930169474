"""The sales demo data: fast, varied, consistent with the rules (lost leads have reasons, won ones
point at clients, no reminder flood), and visible through the API."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from crm_server.activities import reminders
from crm_server.auth.models import User
from crm_server.db import utcnow
from crm_server.leads.demo import seed_leads
from crm_server.leads.models import Lead, PipelineStatus
from tests.support import LiveServer


async def test_seed_leads_fills_every_status(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        await server.create_user(f"s{i}@example.com", full_name=f"Seller {i}", team="North" if i else "South")
    async with server.session() as s:
        users = (await s.scalars(select(User))).all()
        counts = await seed_leads(s, users, random.Random(7))
    assert counts["leads"] == 3000 and counts["clients"] > 200 and counts["follow_ups"] > 1000
    async with server.session() as s:
        per_kind = dict(
            (
                await s.execute(
                    select(PipelineStatus.kind, func.count())
                    .join(Lead, Lead.status_id == PipelineStatus.id)
                    .group_by(PipelineStatus.kind)
                )
            ).all()
        )
        assert set(per_kind) == {"open", "won", "lost", "junk"}
        lost_without_reason = await s.scalar(
            select(func.count())
            .select_from(Lead)
            .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
            .where(PipelineStatus.kind == "lost", Lead.lost_reason_id.is_(None))
        )
        assert lost_without_reason == 0
        owners = set((await s.scalars(select(Lead.owner_id).distinct())).all())
        assert owners <= {u.id for u in users}
        assert sum((await reminders.send_due(s, utcnow())).values()) < 100  # no flood on first start
    board = (await admin.get("/api/leads/board")).json()
    assert sum(c["count"] for c in board["columns"]) > 2000
    assert (await admin.get("/api/search", params={"q": "popescu"})).json()["groups"][0]["items"]
