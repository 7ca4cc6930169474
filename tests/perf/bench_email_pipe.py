"""Benchmark: inbound email pipe throughput over real HTTP on the real app (store raw, parse,
match the sender, create the ticket or the reply, log the outcome: one transaction per message).

Run: .venv/bin/python -m tests.perf.bench_email_pipe"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.perf.common import live_server, percentiles
from tests.support import LiveServer

FIXTURES = Path(__file__).parent.parent / "server" / "fixtures" / "email"
TOKEN = "bench-token"
MESSAGES = 400
CONCURRENCY = 8


def _message(i: int, template: bytes) -> bytes:
    return template.replace(
        b"<20261127091358.11@mail.acme.example>", f"<bench-{i}@mail.acme.example>".encode()
    ).replace(b"Ana.Pop@ACME.example", f"sender{i % 50}@acme.example".encode())


async def _run(server: LiveServer, batch: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(reversed(batch))

    async def worker(hook: httpx.AsyncClient) -> None:
        while queue:
            raw = queue.pop()
            t0 = time.perf_counter()
            answer = await hook.post(
                "/webhooks/email", content=raw, headers={"X-CRM-Token": TOKEN, "Content-Type": "message/rfc822"}
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200 and answer.json()["outcome"] == "created", answer.text

    started = time.perf_counter()
    async with server.client() as hook:
        await asyncio.gather(*(worker(hook) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def bench(server: LiveServer) -> None:
    async with server.client() as admin:
        await server.login_admin(admin)
        made = await admin.patch(
            "/api/settings", json={"values": {"email_pipe.token": TOKEN, "email_pipe.max_per_window": 10000}}
        )
        assert made.status_code == 200, made.text
    template = (FIXTURES / "new_ticket.eml").read_bytes()
    pdf = (FIXTURES / "pdf_attachment.eml").read_bytes()
    for label, concurrency, offset in (("sequential", 1, 0), (f"{CONCURRENCY} concurrent", CONCURRENCY, MESSAGES)):
        batch = [_message(offset + i, template) for i in range(MESSAGES)]
        elapsed, latencies = await _run(server, batch, concurrency)
        print(f"email pipe, new tickets, {label}: {MESSAGES / elapsed:.0f} messages/s; {percentiles(latencies)}")
    with_pdf = [pdf.replace(b"<pdf-0117@", f"<pdf-{i}@".encode()) for i in range(MESSAGES)]
    elapsed, latencies = await _run(server, with_pdf, CONCURRENCY)
    print(
        f"email pipe, with a PDF attachment, {CONCURRENCY} concurrent: {MESSAGES / elapsed:.0f} messages/s; "
        f"{percentiles(latencies)}"
    )


def main() -> None:
    with live_server() as server:
        asyncio.run(bench(server))


if __name__ == "__main__":
    main()
