"""E-mail campaigns (issue #22): three figures.

1. Unthrottled throughput: messages a second handed to a loopback SMTP server (aiosmtpd that counts
   and drops) with tracking rewritten in (click links, open pixel, unsubscribe link and headers).
   The issue's bar: at least 200 messages/s.
2. A 100,000-recipient campaign in bounded memory: the audience is copied in SQL and the engine holds
   one message at a time, so this process's RSS (server and engine both live here) stays flat;
   printed before, peak during (sampled every 50 ms) and after.
3. The throttle's achieved rate against its setting over N minutes (per minute R): hand-offs counted
   in [first, first + N min) against R x N (for a fraction of a minute: R, the first minute's). The
   bar: within 1% over 5 minutes.

The engine runs in this process (crm_server.campaigns.engine.run_batch), as a worker would run the
job; the campaign is built and started through HTTP. Leads and consents are written in SQL.

Run on a quiet machine:
  .venv/bin/python -m tests.perf.bench_campaigns [fast] [big] [minutes] [per_minute]
defaults 5000 100000 5 600; tiny, to check it starts: 200 1000 0.2 60"""

from __future__ import annotations

import asyncio
import math
import resource
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import psycopg
from aiosmtpd.controller import Controller
from sqlalchemy import text

from crm_server.campaigns import engine
from crm_server.db import Database
from tests.perf.common import live_server
from tests.support import LiveServer, free_port

ARGS = sys.argv[1:]
FAST = int(ARGS[0]) if len(ARGS) > 0 else 5000
BIG = int(ARGS[1]) if len(ARGS) > 1 else 100_000
MINUTES = float(ARGS[2]) if len(ARGS) > 2 else 5.0
PER_MINUTE = int(ARGS[3]) if len(ARGS) > 3 else 600
BODY = "Dear {{lead.person_name}},\n\nOur offer: https://shop.example/spring and https://shop.example/faq.\n\nBye"


class Sink:
    """Counts what it is handed; keeps nothing (the CRM's side is measured, not the sink's)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.count = 0
        self.tracked = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        if b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in envelope.content:
            self.tracked += 1
        return "250 OK"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb())


def make_leads(url: str, tag: str, count: int) -> None:
    """`count` open leads tagged `tag`, each with its own consented address."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO leads (person_name, email, pipeline_id, status_id, tags)
            SELECT 'Person ' || g, %(tag)s || '.' || g || '@bench.example', p.id, s.id, ARRAY[%(tag)s]
            FROM generate_series(1, %(count)s) g,
                 (SELECT id FROM pipelines WHERE is_default) p,
                 (SELECT s.id FROM pipeline_statuses s JOIN pipelines p ON p.id = s.pipeline_id AND p.is_default
                  WHERE s.kind = 'open' ORDER BY s.position LIMIT 1) s
            """,
            {"tag": tag, "count": count},
        )
        conn.execute(
            "INSERT INTO email_consents (address, granted_at, source)"
            " SELECT %(tag)s || '.' || g || '@bench.example', now(), 'bench' FROM generate_series(1, %(count)s) g",
            {"tag": tag, "count": count},
        )


async def start(api: httpx.AsyncClient, tag: str, **more: Any) -> int:
    body = {"name": tag, "entity": "lead", "filters": {"tag": tag}, "subject": "Hi {{lead.person_name}}"}
    made = await api.post("/api/campaigns", json={**body, "body": BODY, **more})
    assert made.status_code == 201, made.text
    started = await api.post(f"/api/campaigns/{made.json()['id']}/start")
    assert started.status_code == 200, started.text
    return int(made.json()["id"])


async def forget_hand_offs(db: Database) -> None:
    """Earlier hand-offs out of every throttle window (the limit is the mailbox's, all campaigns')."""
    async with db.transaction() as s:
        await s.execute(text("UPDATE campaign_recipients SET handed_at = handed_at - interval '3 days'"))


async def unthrottled(
    server: LiveServer, api: httpx.AsyncClient, db: Database, sink: Sink, count: int, tag: str
) -> None:
    make_leads(server.database_url, tag, count)
    campaign_id = await start(api, tag)
    before, sent_before = rss_mb(), sink.count
    with Sampler() as sampler:
        started = time.perf_counter()
        while True:
            outcome = await engine.run_batch(db, campaign_id, run_for=3600)
            if "done" in outcome or "skipped" in outcome:
                break
        took = time.perf_counter() - started
    sent = sink.count - sent_before
    print(
        f"{tag}: {sent:,} messages in {took:.1f} s = {sent / took:.0f} messages/s (bar: 200/s); "
        f"RSS {before:.0f} MB before, {sampler.peak:.0f} MB peak, {rss_mb():.0f} MB after; "
        f"{sink.tracked:,} with tracking and one-click unsubscribe so far"
    )


async def throttled(server: LiveServer, api: httpx.AsyncClient, db: Database, sink: Sink) -> None:
    expected = PER_MINUTE * math.ceil(MINUTES)  # a sliding minute lets R go at each minute's start
    make_leads(server.database_url, "throttle", expected + PER_MINUTE)
    await forget_hand_offs(db)
    campaign_id = await start(api, "throttle", preset="custom", per_minute=PER_MINUTE)
    window = timedelta(minutes=MINUTES)
    task = asyncio.ensure_future(engine.run_batch(db, campaign_id, run_for=MINUTES * 60 + 90))
    await asyncio.sleep(MINUTES * 60 + 5)
    async with db.transaction() as s:
        first = await s.scalar(
            text("SELECT min(handed_at) FROM campaign_recipients WHERE campaign_id = :c"), {"c": campaign_id}
        )
        achieved = await s.scalar(
            text(
                "SELECT count(*) FROM campaign_recipients WHERE campaign_id = :c AND handed_at >= :a AND handed_at < :b"
            ),
            {"c": campaign_id, "a": first, "b": first + window},
        )
        await s.execute(text("UPDATE campaigns SET status = 'cancelled' WHERE id = :c"), {"c": campaign_id})
    await task
    error = (achieved - expected) / expected * 100
    print(
        f"throttle {PER_MINUTE}/min over {MINUTES:g} min: {achieved:,} handed off, setting allows {expected:,} "
        f"({error:+.2f}%; bar: within 1%)"
    )


async def main() -> None:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        with live_server(worker=False) as server:  # no worker: the engine runs here, measured
            db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=4)
            async with server.client() as api:
                await server.login_admin(api)
                values = {
                    "smtp.host": "127.0.0.1",
                    "smtp.port": sink.port,
                    "smtp.security": "none",
                    "smtp.sender": "news@bench.example",
                    "app.public_url": "https://crm.bench.example",
                }
                assert (await api.patch("/api/settings", json={"values": values})).status_code == 200
                await unthrottled(server, api, db, sink, FAST, "fast")
                await unthrottled(server, api, db, sink, BIG, "big")
                await throttled(server, api, db, sink)
            await db.dispose()
    finally:
        controller.stop()
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
