"""Scheduled reports through HTTP and the job worker: a schedule e-mails each recipient the report
as they may see it (.xlsx attached, key figures in the body) to the loopback SMTP server; one who
unsubscribed gets nothing; an empty report is not sent; a failing schedule rings the admins' bell
and the others still go out; the daily summary goes to managers by default."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.support import LiveServer, Smtp


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    with LiveServer.run(database_url, worker=True) as server:
        yield server


@pytest.fixture
async def boss(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await live.login_admin(api)
        yield api


async def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _text(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _attachment(message: Any) -> bytes:
    parts = [p for p in message.iter_attachments()]
    assert len(parts) == 1
    assert parts[0].get_filename().endswith(".xlsx")
    data: bytes = parts[0].get_payload(decode=True)
    return data


async def test_scheduled_reports_by_email(live: LiveServer, boss: httpx.AsyncClient, smtp: Smtp) -> None:
    await _ok(await boss.patch("/api/settings", json={"values": smtp.settings()}))
    mia = await live.create_user("mia@example.com", role="Manager", full_name="Mia Manager", team="North")
    sam = await live.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller", team="North")
    olga = await live.create_user("olga@example.com", role="Salesperson", full_name="Olga Other")
    for name, source, owner in (("A", "Website", sam), ("B", "Referral", olga)):
        await _ok(await boss.post("/api/leads", json={"person_name": name, "source": source, "owner_id": owner}), 201)
    base = {"period": "today", "frequency": "daily", "hour": 7}
    sources = await _ok(
        await boss.post(
            "/api/reports/schedules",
            json={**base, "name": "Sources", "report": "sources", "user_ids": [sam, olga]},
        ),
        201,
    )
    empty = await _ok(
        await boss.post("/api/reports/schedules", json={**base, "name": "Losses", "report": "lost", "user_ids": [sam]}),
        201,
    )
    broken = await _ok(
        await boss.post(
            "/api/reports/schedules",
            json={**base, "name": "Broken", "report": "funnel", "user_ids": [sam], "filters": {"pipeline_id": 987654}},
        ),
        201,
    )
    weekly = await boss.post(
        "/api/reports/schedules", json={**base, "name": "W", "report": "lost", "frequency": "weekly", "user_ids": [sam]}
    )
    assert weekly.status_code == 422 and "weekday" in weekly.text
    async with live.client() as olga_api:
        await live.login(olga_api, "olga@example.com")
        out = await _ok(await olga_api.post(f"/api/reports/schedules/{sources['id']}/unsubscribe"))
        assert out["unsubscribed"] is True
        refused = await olga_api.post(
            "/api/reports/schedules", json={**base, "name": "X", "report": "lost", "user_ids": [olga]}
        )
        assert refused.status_code == 403  # scheduling needs the right to export reports

    await _ok(await boss.post("/api/admin/jobs/reports.send_scheduled/run"), 202)
    ids = {sources["id"], empty["id"], broken["id"]}
    for _ in range(500):
        done = {s["id"]: s for s in await _ok(await boss.get("/api/reports/schedules")) if s["id"] in ids}
        if all(s["last_status"] for s in done.values()):
            break
        await asyncio.sleep(0.05)
    assert {k: v["last_status"] for k, v in done.items()} == {
        sources["id"]: "sent",
        empty["id"]: "empty",
        broken["id"]: "failed",
    }
    assert "No such pipeline" in (done[broken["id"]]["last_error"] or "")

    # Sam's sources report and Mia's daily summary (managers get it by default); Olga unsubscribed.
    messages = await smtp.wait_for(2)
    await asyncio.sleep(0.3)
    by_to = {m["To"]: m for m in smtp.messages}
    assert set(by_to) == {"sam@example.com", "mia@example.com"}
    to_sam = by_to["sam@example.com"]
    assert to_sam["Subject"].startswith("Sources: Lead sources")
    text = _text(to_sam)
    assert "Leads: 1" in text and "Unsubscribe" in text
    book = load_workbook(io.BytesIO(_attachment(to_sam)))
    rows = list(book["By source"].iter_rows(values_only=True))
    assert [r[:3] for r in rows[1:]] == [("Website", 1, 0)]  # his own lead only, not Olga's
    to_mia = by_to["mia@example.com"]
    assert to_mia["Subject"].startswith("Daily summary: Daily summary")
    summary = _text(to_mia)
    assert "Leads generated: 1" in summary  # Sam's (her team); Olga's is not her team's
    assert len(messages) >= 2

    bell = await _ok(await boss.get("/api/notifications"))
    assert any("Broken" in n["title"] for n in bell["items"])
    assert mia  # the manager exists only to get the daily summary
