"""Automation (#24): what a lead update pays for automation rules, and webhook delivery throughput.

1. A lead edit (PATCH /api/leads/{id}, a new company name each time) timed over HTTP, job worker
   off: with no rules, with 100 active lead rules none of which fires (they watch other fields),
   and with 100 of which 10 watch the company (they fire, their conditions fail, 10 run rows are
   logged per edit). Printed: p50/p95/p99 each and the p95 added against no rules (the issue's bar:
   under 2 ms added with 100 active rules).
2. Deliveries per second to a receiver on loopback: N deliveries put in the outbox in one
   transaction (as N changes would), the worker on, timed until every one is delivered (the bar:
   at least 500/s). The worker's batch job claims up to webhooks.BATCH due rows at a time and
   POSTs them over one connection pool; the jobs it took are printed too.

Run on a quiet machine: .venv/bin/python -m tests.perf.bench_automation [edits] [deliveries]
(small numbers first to check it starts, e.g. 50 100)."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import func, select, text

from crm_server.automation import webhooks
from crm_server.automation.models import Delivery
from tests.perf.common import live_server, percentiles
from tests.support import LiveServer

EDITS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
DELIVERIES = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
WARMUP = 20


def _rule(i: int, watched: str, fires: bool) -> dict[str, Any]:
    return {
        "name": f"bench {i}",
        "entity": "lead",
        "trigger": {"kind": "field_changed", "field": watched},
        # A condition that never holds: the rule is evaluated and logged, no action is queued.
        "conditions": {"match": "all", "items": [{"field": "value", "op": "gt", "value": 10**12}]} if fires else {},
        "actions": [{"kind": "add_tag", "tag": f"bench-{i}"}],
    }


async def _edits(api: httpx.AsyncClient, lead_id: int, label: str) -> list[float]:
    version = (await api.get(f"/api/leads/{lead_id}")).json()["version"]
    samples: list[float] = []
    for n in range(WARMUP + EDITS):
        started = time.perf_counter()
        response = await api.patch(f"/api/leads/{lead_id}", json={"version": version, "company": f"{label} {n}"})
        took = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text
        version = response.json()["version"]
        if n >= WARMUP:
            samples.append(took)
    return samples


def _p95(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95) - 1]


async def rules_cost(server: LiveServer) -> None:
    async with server.client() as api:
        await server.login_admin(api)
        lead = (await api.post("/api/leads", json={"person_name": "Bench Lead"})).json()
        base = await _edits(api, lead["id"], "none")
        print(f"no rules:                         {percentiles(base)}")
        others = ["territory", "product_interest", "source", "value", "email", "phone", "partner_name", "tags"]
        made = []
        for i in range(100):
            response = await api.post("/api/automation/rules", json=_rule(i, others[i % len(others)], False))
            assert response.status_code == 201, response.text
            made.append(response.json())
        quiet = await _edits(api, lead["id"], "quiet")
        print(f"100 rules, none fires:            {percentiles(quiet)}")
        for rule in made[:10]:
            body = _rule(rule["id"], "company", True)
            response = await api.put(f"/api/automation/rules/{rule['id']}", json=body)
            assert response.status_code == 200, response.text
        firing = await _edits(api, lead["id"], "firing")
        print(f"100 rules, 10 evaluated + logged: {percentiles(firing)}")
        print(
            f"p95 added: {_p95(quiet) - _p95(base):+.2f} ms (none fires), {_p95(firing) - _p95(base):+.2f} ms (10 fire)"
        )


async def _answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The receiver: read the body, answer 200 (a bare ASGI app, as little work as a receiver can do)."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def _serve(ports: Any) -> None:
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ports.put(sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(_answer, log_level="warning", backlog=512)).run(sockets=[sock])


@contextmanager
def receiver() -> Iterator[str]:
    """A receiver in a process of its own, as a real one would be: uvicorn (in this process, a
    threaded http.server took the worker's interpreter lock for every request it parsed, and
    itself managed about 600 requests/s here)."""
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=_serve, args=(ports,), daemon=True)
    process.start()
    port: int = ports.get(timeout=30)
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        process.terminate()
        process.join(5)


async def delivery_rate(server: LiveServer, url: str) -> None:
    async with server.client() as api:
        await server.login_admin(api)
        await api.patch("/api/settings", json={"values": {"webhooks.allowed_private": "127.0.0.1"}})
        sub = (
            await api.post(
                "/api/automation/webhooks", json={"name": "bench", "url": url, "event_types": ["lead.created"]}
            )
        ).json()
    async with server.session() as s:
        for i in range(DELIVERIES):
            await webhooks.enqueue(s, sub["id"], "lead.created", {"id": i, "person_name": f"Lead {i}"})
    started = time.perf_counter()
    while True:
        async with server.session() as s:
            done = await s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")) or 0
        if done >= DELIVERIES:
            break
        await asyncio.sleep(0.2)
    took = time.perf_counter() - started
    async with server.session() as s:
        jobs = await s.scalar(
            select(func.count())
            .select_from(text("procrastinate_jobs"))
            .where(text("task_name = 'crm:automation.deliver'"))
        )
        retried = await s.scalar(select(func.count()).select_from(Delivery).where(Delivery.attempts > 1))
    print(f"{DELIVERIES:,} deliveries to a loopback receiver in {took:.1f} s: {DELIVERIES / took:,.0f}/s")
    print(f"  in {jobs} batch jobs; {retried} needed a retry")


def main() -> None:
    with live_server(worker=False) as server:
        asyncio.run(rules_cost(server))
    with receiver() as url, live_server(worker=True) as server:
        asyncio.run(delivery_rate(server, url))


if __name__ == "__main__":  # the receiver's process imports this module: nothing runs then
    main()
