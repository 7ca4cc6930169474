"""Forged webhooks cannot fill the database: a refused request is kept compactly (headers cut short,
the body's first 4 KB, its size and SHA-256); past `integrations.max_rejects_per_hour` refusals from
one address the door answers 429 and keeps nothing; refusals are forgotten after 7 days; the website
forms' shared test door takes only a signed-in admin."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text

from crm_server.auth.models import SecurityEvent
from crm_server.db import utcnow
from crm_server.integrations import facebook
from crm_server.integrations.models import InboxEvent
from crm_server.jobs.maintenance import SETTLED_EVENTS
from tests.support import LiveServer

SECRET = "fb-app-secret-for-rejects"


async def _configure(admin: httpx.AsyncClient, **values: Any) -> None:
    changed = await admin.patch("/api/settings", json={"values": {"facebook.app_secret": SECRET, **values}})
    assert changed.status_code == 200, changed.text


async def _rows(server: LiveServer) -> list[InboxEvent]:
    async with server.session() as session:
        stmt = select(InboxEvent).order_by(InboxEvent.id)
        rows = list((await session.scalars(stmt)).all())
        for row in rows:  # the deferred body, while the session is open
            await session.refresh(row, ["body"])
        return rows


async def test_a_forged_post_is_kept_compactly(server: LiveServer, admin: httpx.AsyncClient) -> None:
    await _configure(admin)
    body = b'{"object": "page", "entry": [' + b" " * (64 * 1024) + b"]}"
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + "0" * 64,
        "X-Padding": "p" * 4000,
        **{f"X-Extra-{n}": "x" for n in range(80)},
    }
    forged = await admin.post("/webhooks/facebook", content=body, headers=headers)
    assert (forged.status_code, forged.json()["code"]) == (401, "bad_signature")
    [row] = await _rows(server)
    assert (row.status, row.event_id, row.provider) == ("rejected", None, "facebook")
    assert row.body == body[:4096] and row.body_size == len(body)
    assert row.body_sha256 == hashlib.sha256(body).hexdigest()
    assert row.headers["x-hub-signature-256"] == "(hidden)" and row.headers["authorization"] == "(hidden)"
    assert len(row.headers) <= 50 and all(len(v) <= 500 for v in row.headers.values())
    # The admin's event browser still shows it, with the part of the body that was kept.
    detail = (await admin.get(f"/api/integrations/events/{row.id}")).json()
    assert detail["status"] == "rejected" and len(detail["body"]) == 4096


async def test_a_refused_requests_size_and_hash_are_in_the_admins_event_detail(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    from crm_server.integrations.api import MAX_BODY_BYTES

    await _configure(admin)
    # Forged: read whole, so its size and SHA-256 are measured.
    forged_body = b'{"object": "page", "entry": [' + b" " * 12_000 + b"]}"
    forged = await admin.post(
        "/webhooks/facebook",
        content=forged_body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert forged.status_code == 401
    # Too large with a Content-Length: refused unread, its size the one the sender declared.
    huge = b"{" + b" " * (MAX_BODY_BYTES + 500) + b"}"
    declared = await admin.post("/webhooks/stripe", content=huge, headers={"Content-Type": "application/json"})
    assert (declared.status_code, declared.json()["code"]) == (413, "too_large")

    # Too large and streamed without a Content-Length: measured and hashed to its end.
    async def chunks() -> Any:
        for start in range(0, len(huge), 256 * 1024):
            yield huge[start : start + 256 * 1024]

    streamed = await admin.post("/webhooks/stripe", content=chunks(), headers={"Content-Type": "application/json"})
    assert (streamed.status_code, streamed.json()["code"]) == (413, "too_large")

    listed = (await admin.get("/api/integrations/events", params={"status": "rejected"})).json()["items"]
    details = [
        (await admin.get(f"/api/integrations/events/{e['id']}")).json() for e in sorted(listed, key=lambda e: e["id"])
    ]
    assert [(d["provider"], d["status"]) for d in details] == [
        ("facebook", "rejected"),
        ("stripe", "rejected"),
        ("stripe", "rejected"),
    ]
    first, unread, measured = details
    assert first["body_size"] == len(forged_body)
    assert first["body_sha256"] == hashlib.sha256(forged_body).hexdigest()
    assert unread["body_size"] == len(huge) and unread["body_sha256"] is None and unread["body"] == ""
    assert "the sender declared (Content-Length)" in unread["error"] and "not read" in unread["error"]
    assert measured["body_size"] == len(huge) and measured["body_sha256"] == hashlib.sha256(huge).hexdigest()
    assert measured["body"] == huge[:4096].decode() and "declared" not in measured["error"]


async def test_refusals_past_the_limit_get_429_and_leave_nothing(server: LiveServer, admin: httpx.AsyncClient) -> None:
    await _configure(admin, **{"integrations.max_rejects_per_hour": 3})
    body = b'{"object": "page", "entry": []}'
    bad = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "1" * 64}
    answers = [await admin.post("/webhooks/facebook", content=body, headers=bad) for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    assert answers[3].json()["code"] == "too_many_rejects" and int(answers[3].headers["retry-after"]) > 0
    # Malformed bodies count as refusals too: still 429, still nothing kept.
    malformed = await admin.post(
        "/webhooks/facebook", content=b"{", headers={"X-Hub-Signature-256": facebook.signature(SECRET, b"{")}
    )
    assert malformed.status_code == 429
    assert len(await _rows(server)) == 3
    async with server.session() as session:
        logged = await session.scalar(
            select(func.count()).select_from(SecurityEvent).where(SecurityEvent.kind == "webhook_bad_signature")
        )
    assert logged == 3
    # The limit is on refusals only: a genuine event from the same address is stored.
    genuine = await admin.post(
        "/webhooks/facebook",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": facebook.signature(SECRET, body)},
    )
    assert genuine.status_code == 200, genuine.text
    # Refusals an hour old no longer count.
    async with server.session() as session:
        await session.execute(
            text(
                "UPDATE integration_events SET received_at = received_at - interval '61 minutes'"
                " WHERE status = 'rejected'"
            )
        )
    again = await admin.post("/webhooks/facebook", content=body, headers=bad)
    assert again.status_code == 401


async def test_refusals_are_forgotten_after_a_week(server: LiveServer) -> None:
    now = utcnow()
    async with server.session() as session:
        for n, (status, days) in enumerate(
            [("rejected", 8), ("rejected", 6), ("processed", 8), ("ignored", 89), ("processed", 91), ("failed", 91)]
        ):
            session.add(
                InboxEvent(
                    provider="facebook",
                    event_id=None if status == "rejected" else f"e{n}",
                    event_type="leadgen",
                    status=status,
                    received_at=now - timedelta(days=days),
                )
            )
    async with server.session() as session:  # the nightly maintenance.purge's statement
        await session.execute(text(SETTLED_EVENTS))
    left = sorted((r.status, round((now - r.received_at).total_seconds() / 86400)) for r in await _rows(server))
    assert left == [("failed", 91), ("ignored", 89), ("processed", 8), ("rejected", 6)]


async def test_the_forms_test_door_takes_only_an_admin(server: LiveServer, admin: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as stranger:
        for _ in range(3):
            refused = await stranger.post("/webhooks/forms", json={"event_type": "test"})
            assert refused.status_code == 401, refused.text
    await server.create_user("sam@example.com", full_name="Sam")
    async with server.client() as sales:
        await server.login(sales, "sam@example.com")
        assert (await sales.post("/webhooks/forms", json={"event_type": "test"})).status_code == 403
    assert await _rows(server) == []
    # The admin panel's "Send test event" still goes through that door, with the admin's token.
    form = await admin.post(
        "/api/web-forms",
        json={
            "name": "Contact",
            "fields": [{"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}],
        },
    )
    assert form.status_code == 201, form.text
    result = (await admin.post("/api/integrations/forms/test")).json()
    assert result["ok"] is True and result["event"]["event_type"] == "test", result
    [row] = await _rows(server)
    assert row.headers["authorization"] == "(hidden)"
