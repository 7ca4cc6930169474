"""Many desktops on several server processes: what people at their desks would feel.

N simulated desktops against P `crm-server serve` processes behind Debian's nginx (the production site,
tests/multi/cluster.py) on one embedded PostgreSQL. Each desktop is what the real one does over the
wire: a WebSocket on /api/events held for the whole run (resumed with ?since= if it drops), and the
requests of a person working: a page of the lead list, a lead opened (record and timeline), a global
search, and an edit of one of their own leads every few seconds. Desktops are signed in as people in
teams of ten (a Manager, who sees the team's leads, and Salespeople, who see their own), so a change
reaches only the desktops that may see it.

Printed: request p50/p95/p99 (every request, from send to answer); event delivery p50/p95/p99 at
every desktop that received it (from the writing transaction's start to arrival); events missed
(every event each desktop may see, by the server's own rule, whose sequence number it did not get:
must be 0); each server process's RSS at start and end.  [targets with 100 desktops on 2 processes
for 10 minutes: request p99 < 100 ms, event p95 < 100 ms, 0 missed, memory flat]

--knee: steps the number of desktops up (--start, --step, --max, each for --step-seconds) until the
request p99 passes 250 ms; that number over P is the desktops per process a machine like this one
carries (the sizing rule of installer/README-install.md).

Run: python -m tests.perf.bench_desktops [--desktops 100 --seconds 600 --processes 2]
     python -m tests.perf.bench_desktops --knee [--start 20 --step 20 --max 400 --step-seconds 60]"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from crm_server import migrate
from crm_server.auth import sessions
from crm_server.auth.models import Role, Team, User
from crm_server.auth.passwords import hash_password
from crm_server.embedded_db import EmbeddedPostgres
from crm_server.events import Event
from crm_server.events_api import visible
from tests.multi.cluster import Cluster
from tests.perf.common import percentiles
from tests.support import PASSWORD, LiveServer

TEAM_SIZE = 10  # a Manager and nine Salespeople
NAMES = ("Maria Popescu", "Andrei Ionescu", "Elena Dumitru", "Mihai Stan", "Ioana Marin", "Radu Tudor")
KNEE_MS = 250.0


@dataclass
class Plan:
    desktops: int = 100
    seconds: float = 600
    processes: int = 2
    edit_every: float = 5.0  # seconds between a desktop's edits
    think: tuple[float, float] = (1.0, 4.0)  # seconds between a person's other requests
    leads_each: int = 3  # leads each Salesperson owns (and edits)


@dataclass
class Desktop:
    email: str
    token: str = ""
    own_leads: list[int] = field(default_factory=list)
    start_seq: int | None = None
    last_seq: int | None = None
    seqs: set[int] = field(default_factory=set)
    reconnects: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # its stream said hello


@dataclass
class Figures:
    requests_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    resets: int = 0
    rss_by_minute: list[list[float]] = field(default_factory=list)


# --- set-up ---------------------------------------------------------------------------------------


async def make_people(live: LiveServer, count: int) -> list[str]:
    """`count` users in teams of TEAM_SIZE (the first of each a Manager), made in one transaction."""
    hashed = hash_password(PASSWORD)
    async with live.session() as s:
        roles = dict((await s.execute(select(Role.name, Role.id))).all())
        have = await s.scalar(select(func.count()).select_from(User).where(User.email.like("desk%@example.com")))
        emails = [f"desk{n}@example.com" for n in range(count)]
        teams: dict[int, int] = {}
        for n in range(have or 0, count):
            index = n // TEAM_SIZE
            if index not in teams:
                found = await s.scalar(select(Team.id).where(Team.name == f"Desk team {index}"))
                if found is None:
                    team = Team(name=f"Desk team {index}")
                    s.add(team)
                    await s.flush()
                    found = team.id
                teams[index] = found
            role = "Manager" if n % TEAM_SIZE == 0 else "Salesperson"
            s.add(
                User(
                    email=emails[n],
                    full_name=f"Desk {n}",
                    role_id=roles[role],
                    team_id=teams[index],
                    password_hash=hashed,
                )
            )
    return emails


async def sign_in(http: httpx.AsyncClient, desk: Desktop, plan: Plan, gate: asyncio.Semaphore) -> None:
    async with gate:  # argon2 on the server: a few at a time
        answer = await http.post("/api/auth/login", json={"email": desk.email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        desk.token = answer.json()["token"]
        if desk.own_leads or answer.json()["user"]["role_name"] == "Manager":
            return
        headers = {"Authorization": f"Bearer {desk.token}"}
        for n in range(plan.leads_each):
            made = await http.post(
                "/api/leads",
                json={"person_name": f"{random.choice(NAMES)} {n}", "company": "Bench SRL"},
                headers=headers,
            )
            assert made.status_code == 201, made.text
            desk.own_leads.append(int(made.json()["id"]))


# --- one desktop ------------------------------------------------------------------------------------


async def stream(desk: Desktop, ws_base: str, figures: Figures) -> None:
    """The live stream, as crm_desktop.api.events does it: resume with ?since= after a drop."""
    while True:
        url = ws_base + ("" if desk.last_seq is None else f"?since={desk.last_seq}")
        try:
            async with connect(
                url, additional_headers={"Authorization": f"Bearer {desk.token}"}, open_timeout=10, max_size=2**22
            ) as ws:
                async for raw in ws:
                    frame = json.loads(raw)
                    kind = frame.get("type")
                    if kind == "hello" and desk.last_seq is None:
                        desk.start_seq = desk.last_seq = int(frame["last_seq"])
                        desk.ready.set()
                    elif kind == "event" and desk.last_seq is not None and frame["seq"] > desk.last_seq:
                        desk.last_seq = frame["seq"]
                        desk.seqs.add(frame["seq"])
                        at = datetime.fromisoformat(frame["at"]).timestamp()
                        figures.event_ms.append((time.time() - at) * 1000)
                    elif kind == "reset":
                        figures.resets += 1
        except (OSError, WebSocketException, TimeoutError):
            pass
        desk.reconnects += 1
        await asyncio.sleep(0.5)


async def timed(http: httpx.AsyncClient, figures: Figures, method: str, path: str, **kw: Any) -> httpx.Response | None:
    t0 = time.perf_counter()
    try:
        answer = await http.request(method, path, **kw)
    except httpx.TransportError as exc:
        figures.failed.append(f"{method} {path}: {exc!r}")
        return None
    figures.requests_ms.append((time.perf_counter() - t0) * 1000)
    if answer.status_code >= 400:
        figures.failed.append(f"{method} {path}: {answer.status_code} {answer.text[:120]}")
    return answer


async def work(desk: Desktop, base: str, plan: Plan, figures: Figures, until: float) -> None:
    """A person at their desk until `until` (loop time): reading mostly, an edit every few seconds."""
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {desk.token}"}
    next_edit = loop.time() + random.uniform(0, plan.edit_every)
    seen_leads: list[int] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        while loop.time() < until:
            await asyncio.sleep(min(random.uniform(*plan.think), max(0.0, until - loop.time())))
            if loop.time() >= until:
                return
            if desk.own_leads and loop.time() >= next_edit:
                next_edit += plan.edit_every
                lead_id = random.choice(desk.own_leads)
                opened = await timed(http, figures, "GET", f"/api/leads/{lead_id}")
                if opened is not None and opened.status_code == 200:
                    body = {"version": opened.json()["version"], "company": f"Bench SRL {random.randrange(10**6)}"}
                    await timed(http, figures, "PATCH", f"/api/leads/{lead_id}", json=body)
                continue
            pick = random.random()
            if pick < 0.45:
                params = {"limit": 50, "offset": random.choice((0, 0, 50))}
                page = await timed(http, figures, "GET", "/api/leads", params=params)
                if page is not None and page.status_code == 200:
                    seen_leads = [row["id"] for row in page.json()["items"]] or seen_leads
            elif pick < 0.8 and (seen_leads or desk.own_leads):
                lead_id = random.choice(seen_leads or desk.own_leads)
                await timed(http, figures, "GET", f"/api/leads/{lead_id}")
                await timed(http, figures, "GET", f"/api/leads/{lead_id}/timeline")
            else:
                q = random.choice(NAMES).split()[random.randrange(2)][:4]
                await timed(http, figures, "GET", "/api/search", params={"q": q})


# --- a run ------------------------------------------------------------------------------------------


def rss_mb(cluster: Cluster) -> list[float]:
    sizes = []
    for process in cluster.processes.values():
        status = Path(f"/proc/{process.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        sizes.append(kb / 1024)
    return sizes


async def missed(live: LiveServer, desktops: list[Desktop], end_seq: int) -> int:
    """Events up to `end_seq` each desktop may see (the server's own rule) that it did not get."""
    first = min(d.start_seq for d in desktops if d.start_seq is not None)
    total = 0
    async with live.session() as s:
        rows = list((await s.scalars(select(Event).where(Event.seq > first, Event.seq <= end_seq))).all())
        for desk in desktops:
            if desk.start_seq is None:
                total += 1  # never connected: count it, the run is not clean
                continue
            principal = await sessions.authenticate(s, desk.token, None)
            due = {e.seq for e in rows if e.seq > desk.start_seq and visible(principal, e)}
            total += len(due - desk.seqs)
    return total


async def memory(cluster: Cluster, until: float) -> list[list[float]]:
    """Each process's RSS once a minute (and at the start): flat, or growing with the run."""
    loop = asyncio.get_running_loop()
    sizes = [rss_mb(cluster)]
    while loop.time() + 60 <= until:
        await asyncio.sleep(60)
        sizes.append(rss_mb(cluster))
    return sizes


async def run(live: LiveServer, cluster: Cluster, desktops: list[Desktop], plan: Plan, seconds: float) -> Figures:
    figures = Figures()
    ws_base = cluster.proxy.replace("http://", "ws://") + "/api/events"
    streams = [asyncio.create_task(stream(d, ws_base, figures)) for d in desktops]
    loop = asyncio.get_running_loop()
    with contextlib.suppress(TimeoutError):  # one that never connects is counted in `missed`
        await asyncio.wait_for(asyncio.gather(*(d.ready.wait() for d in desktops)), 30)
    until = loop.time() + seconds
    sizes = asyncio.create_task(memory(cluster, until))
    await asyncio.gather(*(work(d, cluster.proxy, plan, figures, until) for d in desktops))
    figures.rss_by_minute = await sizes
    async with live.session() as s:
        end_seq = int(await s.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)
    await asyncio.sleep(3)  # the last events are still on their way
    for task in streams:
        task.cancel()
    for task in streams:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    print(f"   events missed: {await missed(live, desktops, end_seq)} [must be 0]; resets {figures.resets}")
    return figures


def report(desktops: int, plan: Plan, figures: Figures, seconds: float) -> None:
    print(
        f"   {desktops} desktops on {plan.processes} processes, {seconds:.0f} s: {len(figures.requests_ms)} requests"
        f" ({len(figures.requests_ms) / seconds:.0f}/s), {len(figures.failed)} failed"
    )
    if figures.requests_ms:
        print(f"   requests: {percentiles(figures.requests_ms)}  [target p99 < 100 ms]")
    if figures.event_ms:
        print(f"   event delivery: {percentiles(figures.event_ms)}  [target p95 < 100 ms]")
    if len(figures.rss_by_minute) > 1:
        print("   RSS by minute (MB): " + " | ".join(fmt(sizes) for sizes in figures.rss_by_minute))
    for failure in figures.failed[:5]:
        print(f"   failed: {failure}")


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


async def bench(url: str, plan: Plan, folder: Path, knee: tuple[int, int, int, float] | None) -> None:
    live = LiveServer(url, "")
    most = knee[2] if knee else plan.desktops
    emails = await make_people(live, most)
    with Cluster.run(url, folder / "nginx", count=plan.processes, schedule=False, pool_size=10) as cluster:
        gate = asyncio.Semaphore(8)
        desktops = [Desktop(email) for email in emails]
        async with httpx.AsyncClient(base_url=cluster.proxy, timeout=60) as http:
            await asyncio.gather(*(sign_in(http, d, plan, gate) for d in desktops))
        print(f"server: {plan.processes} processes behind nginx; RSS at start (MB): {fmt(rss_mb(cluster))}")
        if knee is None:
            figures = await run(live, cluster, desktops, plan, plan.seconds)
            report(plan.desktops, plan, figures, plan.seconds)
            reconnects = sum(d.reconnects for d in desktops)
            print(f"   RSS at end (MB): {fmt(rss_mb(cluster))}; stream reconnects {reconnects}")
            return
        start, step, top, step_seconds = knee
        for count in range(start, top + 1, step):
            for d in desktops:
                d.start_seq = d.last_seq = None
                d.seqs.clear()
                d.ready = asyncio.Event()
            figures = await run(live, cluster, desktops[:count], plan, step_seconds)
            report(count, plan, figures, step_seconds)
            print(f"   RSS (MB): {fmt(rss_mb(cluster))}")
            if p99(figures.requests_ms) > KNEE_MS:
                print(
                    f"knee: p99 passed {KNEE_MS:.0f} ms at {count} desktops = {count / plan.processes:.0f} per process"
                )
                return
        print(f"no knee up to {top} desktops ({top / plan.processes:.0f} per process)")


def fmt(sizes: list[float]) -> str:
    return ", ".join(f"{size:.0f}" for size in sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--desktops", type=int, default=Plan.desktops)
    parser.add_argument("--seconds", type=float, default=Plan.seconds)
    parser.add_argument("--processes", type=int, default=Plan.processes)
    parser.add_argument("--edit-every", type=float, default=Plan.edit_every, help="seconds between a desktop's edits")
    parser.add_argument("--knee", action="store_true", help="step the desktops up until p99 passes 250 ms")
    parser.add_argument("--start", type=int, default=20)
    parser.add_argument("--step", type=int, default=20)
    parser.add_argument("--max", type=int, default=400)
    parser.add_argument("--step-seconds", type=float, default=60)
    args = parser.parse_args()
    plan = Plan(desktops=args.desktops, seconds=args.seconds, processes=args.processes, edit_every=args.edit_every)
    knee = (args.start, args.step, args.max, args.step_seconds) if args.knee else None
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as root:
        pg = EmbeddedPostgres(Path(root) / "pg")
        url = pg.start("bench")
        try:
            migrate.upgrade(url)
            asyncio.run(bench(url, plan, Path(root), knee))
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
