"""Exports as jobs at a million leads: the time from "export" to a finished file, as .csv and as
.xlsx, the download, and the memory the server process holds meanwhile (constant: rows stream from a
server-side cursor, the file goes to the database in 1 MiB chunks).

1,000,000 leads (bench_leads.generate), all of them exported by the admin (filter: closed ones too).
The job runs in this process's server (the in-process LiveServer with its worker), so the RSS of this
process is the server's: sampled every 50 ms during each export (peak), next to the process's peak
since start (ru_maxrss). The issue's bar: .csv under 60 s, memory constant.

Run on a quiet machine: .venv/bin/python -m tests.perf.bench_exports [leads] [--url=URL]
(a small number first, e.g. 2000, to check it starts; --url: a database filled before, migrated and
measured again without building the leads anew)."""

from __future__ import annotations

import asyncio
import resource
import sys
import threading
import time
from typing import Any

import httpx

from crm_server import migrate
from tests.perf.bench_leads import generate, make_people
from tests.perf.common import live_server
from tests.support import ADMIN_EMAIL, LiveServer

ARGS = [a for a in sys.argv[1:] if not a.startswith("--url")]
URL = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--url=")), None)
LEADS = int(ARGS[0]) if ARGS else 1_000_000
CHUNK = 100_000
FILTER: dict[str, Any] = {"include_closed": True}


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Sampler:
    """The highest RSS seen while it runs (every 50 ms, in a thread)."""

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


async def fill(server: LiveServer) -> None:
    await make_people(server)
    started = time.perf_counter()
    for start in range(1, LEADS + 1, CHUNK):
        generate(server.database_url, start, min(CHUNK, LEADS - start + 1))
    print(f"generated {LEADS:,} leads in {time.perf_counter() - started:.0f} s\n")


async def export_once(api: httpx.AsyncClient, fmt: str) -> None:
    before = rss_mb()
    with Sampler() as sampled:
        started = time.perf_counter()
        asked = await api.post("/api/exports", json={"entity": "leads", "format": fmt, "filter": FILTER})
        assert asked.status_code == 201, asked.text
        export_id = asked.json()["id"]
        while True:
            body = (await api.get(f"/api/exports/{export_id}")).json()
            if body["state"] not in ("pending", "running"):
                break
            await asyncio.sleep(0.2)
        took = time.perf_counter() - started
    assert body["state"] == "done", body
    rows, size = body["rows_done"], body["size_bytes"]
    got = 0
    started = time.perf_counter()
    async with api.stream("GET", f"/api/exports/{export_id}/file") as response:
        assert response.status_code == 200, await response.aread()
        async for piece in response.aiter_bytes():
            got += len(piece)
    download = time.perf_counter() - started
    assert got == size, (got, size)
    print(
        f".{fmt:<4}  {rows:>9,} rows  {took:7.1f} s  ({rows / took:,.0f} rows/s)  file {size / 2**20:7.1f} MiB"
        f"  download {download:5.1f} s  RSS before {before:6.0f} MB, peak during {sampled.peak:6.0f} MB"
        f" (+{sampled.peak - before:.0f} MB)"
    )


async def bench(server: LiveServer) -> None:
    async with server.client() as api:
        api.timeout = httpx.Timeout(600)
        await server.login(api, ADMIN_EMAIL)
        print(f"exporting {LEADS:,} leads (RSS now {rss_mb():.0f} MB, peak so far {peak_mb():.0f} MB)")
        for fmt in ("csv", "xlsx"):
            await export_once(api, fmt)
        print(f"process peak RSS since start (ru_maxrss): {peak_mb():.0f} MB")


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
