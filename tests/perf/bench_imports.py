"""Import of a 100,000-row leads .xlsx (10 columns) with duplicates checked against 1,000,000 existing
leads: rows/s from upload to committed, the dry run's seconds, and the peak RSS of the server.

The issue's bar: at least 20,000 rows/s end to end, peak server memory under 300 MB, the dry run
under 5 s. 5% of the file's rows carry the e-mail of an existing lead (found as duplicates: skipped),
1% are broken (an e-mail without @), the rest are new. The job runs in this process's server (the
in-process LiveServer with its worker), so this process's RSS is the server's (sampled every 50 ms).

Run on a quiet machine: .venv/bin/python -m tests.perf.bench_imports [existing leads] [file rows] [--url=URL]
(small numbers first, e.g. 2000 500, to check it starts; --url: a database filled before)."""

from __future__ import annotations

import asyncio
import io
import random
import sys
import time

import httpx
import psycopg

from crm_server import migrate
from tests.perf.bench_exports import Sampler, peak_mb, rss_mb
from tests.perf.bench_leads import generate, make_people
from tests.perf.common import live_server
from tests.support import ADMIN_EMAIL, LiveServer

ARGS = [a for a in sys.argv[1:] if not a.startswith("--url")]
URL = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--url=")), None)
EXISTING = int(ARGS[0]) if ARGS else 1_000_000
ROWS = int(ARGS[1]) if len(ARGS) > 1 else 100_000
CHUNK = 100_000
HEADER = ["Full Name", "Company Name", "Email", "Phone Number", "Source", "Value", "Currency", "Territory",
          "Product Interest", "Tags"]  # fmt: skip


def make_file(url: str) -> bytes:
    from openpyxl import Workbook

    with psycopg.connect(url, autocommit=True) as conn:
        taken = [r[0] for r in conn.execute("SELECT email FROM leads WHERE email IS NOT NULL LIMIT %s", (ROWS // 20,))]
        sources = [r[0] for r in conn.execute("SELECT name FROM lead_sources WHERE active")] or [None]
    rnd = random.Random(19)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(HEADER)
    for i in range(ROWS):
        if taken and i % 20 == 7:
            email = taken[(i // 20) % len(taken)].upper()
        elif i % 100 == 13:
            email = f"broken{i}.example.com"
        else:
            email = f"imported.person{i}@fair{i % 97}.example"
        sheet.append(
            [
                f"Person {i} Imported",
                f"Company {i % 5000} SRL",
                email,
                f"+4073{i:07d}"[:12],
                rnd.choice(sources),
                rnd.randrange(100, 100_000) / 100,
                "EUR",
                rnd.choice(["North", "South", "East", "West"]),
                rnd.choice(["POS", "ERP", "E-commerce"]),
                "expo, 2026",
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def fill(server: LiveServer) -> None:
    await make_people(server)
    started = time.perf_counter()
    for start in range(1, EXISTING + 1, CHUNK):
        generate(server.database_url, start, min(CHUNK, EXISTING - start + 1))
    print(f"generated {EXISTING:,} leads in {time.perf_counter() - started:.0f} s")


async def bench(server: LiveServer) -> None:
    started = time.perf_counter()
    data = await asyncio.to_thread(make_file, server.database_url)
    print(f"wrote a {ROWS:,}-row .xlsx ({len(data) / 2**20:.1f} MiB) in {time.perf_counter() - started:.1f} s")
    async with server.client() as api:
        api.timeout = httpx.Timeout(900)
        await server.login(api, ADMIN_EMAIL)
        with psycopg.connect(server.database_url) as conn:  # made by an earlier run on this database
            row = conn.execute("SELECT id FROM users WHERE email = 'bench-owner@example.com'").fetchone()
        owner = row[0] if row else await server.create_user("bench-owner@example.com", full_name="Bench Owner")
        before = rss_mb()
        with Sampler() as sampled:
            began = time.perf_counter()
            answer = await api.post(
                "/api/imports",
                params={"entity": "leads", "file_name": "bench.xlsx"},
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert answer.status_code == 201, answer.text
            upload = answer.json()
            import_id = upload["item"]["id"]
            uploaded = time.perf_counter() - began
            mapped = await api.put(
                f"/api/imports/{import_id}/mapping",
                json={"mapping": upload["mapping"], "duplicate_mode": "skip", "owner_id": owner},
            )
            assert mapped.status_code == 200, mapped.text
            t0 = time.perf_counter()
            dry = await api.post(f"/api/imports/{import_id}/dry-run")
            assert dry.status_code == 200, dry.text
            dry_s = time.perf_counter() - t0
            plan = dry.json()
            t0 = time.perf_counter()
            started_ok = await api.post(f"/api/imports/{import_id}/start", json={})
            assert started_ok.status_code == 200, started_ok.text
            while True:
                body = (await api.get(f"/api/imports/{import_id}")).json()
                if body["status"] != "running":
                    break
                await asyncio.sleep(0.2)
            commit_s = time.perf_counter() - t0
            total_s = time.perf_counter() - began
        assert body["status"] == "done", body
        print(
            f"upload {uploaded:.1f} s; dry run {dry_s:.1f} s (create {plan['to_create']:,}, skip {plan['to_skip']:,},"
            f" errors {plan['in_error']:,}); commit {commit_s:.1f} s"
        )
        print(
            f"{ROWS:,} rows against {EXISTING:,} leads: {total_s:.1f} s end to end ({ROWS / total_s:,.0f} rows/s;"
            f" commit alone {ROWS / commit_s:,.0f} rows/s); created {body['created']:,}, skipped {body['skipped']:,},"
            f" errors {body['errors']:,}"
        )
        print(
            f"RSS before {before:.0f} MB, peak during {sampled.peak:.0f} MB (+{sampled.peak - before:.0f} MB);"
            f" process peak since start {peak_mb():.0f} MB"
        )


def main() -> None:
    if URL:
        migrate.upgrade(URL)
        with LiveServer.run(URL, worker=True) as server:
            asyncio.run(bench(server))
        return
    with live_server(worker=True) as server:
        asyncio.run(fill(server))
        asyncio.run(bench(server))


if __name__ == "__main__":
    main()
