"""Three server processes on one database behind nginx (tests/multi/conftest.py): whatever process a
request or a desktop lands on, it sees the same data, the same live events in the same order, the
same sessions, Idempotency-Keys, sign-in and web-form limits (no process keeps any of them in
memory), and each periodic job runs once. nginx's own answers (no process up, a body too large) come
in the server's JSON shape, and the client's address and host reach the server as nginx saw them.

One file on purpose: `--dist loadfile` keeps it in one pytest process, so one set of processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from pytestqt.qtbot import QtBot
from sqlalchemy import text
from websockets.asyncio.client import connect

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.clients.list import ClientsPage
from crm_server.contract.events import LiveEvent
from tests.desktop.conftest import Desk
from tests.desktop.test_main_window import open_main
from tests.multi.cluster import UPSTREAM_HEADER, Cluster, nginx
from tests.support import PASSWORD, LiveServer, free_port


@asynccontextmanager
async def signed_in(cluster: Cluster, base: str, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on `base` (a process or nginx) signed in as `email`, a new admin."""
    live = LiveServer(cluster.database_url, base)
    await live.create_user(email, role="Admin", full_name=email.split("@")[0].title())
    async with live.client() as api:
        await live.login(api, email)
        yield api


def test_a_desktop_on_one_process_sees_live_a_change_made_through_another(
    desk: Desk, qtbot: QtBot, cluster: Cluster
) -> None:
    api = ApiClient(cluster.url(0))  # process A, not nginx
    desk.clients.append(api)
    desk.create_user("ann@example.com", role="Admin", full_name="Ann")
    desk.run(auth.login(api, "ann@example.com", PASSWORD))
    session = Session(api, desk.run(auth.me(api)))
    page = ClientsPage(session)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    desk.wait_until(lambda: page.model.total is not None and not page.model.loading)

    async def add_on_c() -> int:
        async with signed_in(cluster, cluster.url(2), "carl@example.com") as http:
            response = await http.post("/api/clients", json={"name": "Harbour Logistics"})
            assert response.status_code == 201, response.text
            return int(response.json()["id"])

    made = desk.on_server(add_on_c())
    desk.wait_until(
        lambda: made in [row.id for row in page.model.rows()],
        message="the client made through process C did not appear on the desktop held by process A",
    )


async def test_each_process_says_healthy_with_its_database_and_event_listener(cluster: Cluster) -> None:
    """Every `crm-server serve` process of the production shape answers /health ok: its database, its
    job runner and its LISTEN connection for live events (from tests/installer/test_multi_process.py)."""
    async with httpx.AsyncClient(timeout=20) as http:
        for index in range(len(cluster.ports)):
            health = (await http.get(cluster.url(index) + "/health")).json()
            assert health["status"] == "ok", (index, health)
            assert health["database"]["status"] == "ok" and health["events"]["status"] == "ok", (index, health)


async def test_websocket_events_pass_through_nginx(cluster: Cluster) -> None:
    async with signed_in(cluster, cluster.url(1), "wes@example.com") as on_b:
        token = on_b.headers["Authorization"]
        url = cluster.proxy.replace("http://", "ws://") + "/api/events"
        async with connect(url, additional_headers={"Authorization": token}) as ws:
            assert ws.response is not None and ws.response.headers.get(UPSTREAM_HEADER)  # nginx upgraded it
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert hello["type"] == "hello"
            made = await on_b.post("/api/teams", json={"name": "Through the proxy"})
            assert made.status_code == 201, made.text
            while True:  # the periodic jobs may send other events first
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("entity") == "team":
                    break
            assert (frame["entity_id"], frame["action"]) == (made.json()["id"], "created")
            assert frame["seq"] > hello["last_seq"]


async def test_an_idempotency_key_retried_on_another_process_returns_the_first_answer(cluster: Cluster) -> None:
    async with signed_in(cluster, cluster.url(0), "ida@example.com") as on_a:
        key = {"Idempotency-Key": "team-across-processes"}
        first = await on_a.post("/api/teams", json={"name": "Written once"}, headers=key)
        assert first.status_code == 201, first.text
        for index in (1, 2):  # the retry lands on B, then on C (a lost answer, a desktop's outbox)
            async with httpx.AsyncClient(base_url=cluster.url(index), headers=on_a.headers, timeout=20) as other:
                again = await other.post("/api/teams", json={"name": "Written once"}, headers=key)
                assert (again.status_code, again.json()) == (201, first.json())
                reused = await other.post("/api/teams", json={"name": "Something else"}, headers=key)
                assert reused.status_code == 422 and reused.json()["field"] == "Idempotency-Key", reused.text
        teams = (await on_a.get("/api/teams")).json()
        assert [t["name"] for t in teams].count("Written once") == 1


async def test_sign_in_limits_count_on_every_process_and_a_forged_address_does_not_reset_them(
    cluster: Cluster,
) -> None:
    async with signed_in(cluster, cluster.url(0), "auditor@example.com") as admin:
        victim = "tess@example.com"
        victim_id = await LiveServer(cluster.database_url, "").create_user(victim, full_name="Tess")
        wrong = {"email": victim, "password": "not the password"}
        # Five failures, the free ones: three straight to A, B, C, two through nginx, each through
        # nginx with a made-up X-Forwarded-For (nginx replaces it with the real address).
        for index in (0, 1, 2):
            async with httpx.AsyncClient(base_url=cluster.url(index), timeout=20) as http:
                assert (await http.post("/api/auth/login", json=wrong)).status_code == 401
        async with httpx.AsyncClient(base_url=cluster.proxy, timeout=20) as http:
            for n in (1, 2):
                forged = {"X-Forwarded-For": f"198.51.100.{n}"}
                assert (await http.post("/api/auth/login", json=wrong, headers=forged)).status_code == 401
            refused = await http.post("/api/auth/login", json=wrong, headers={"X-Forwarded-For": "198.51.100.3"})
        assert refused.status_code == 429 and refused.json()["code"] == "login_throttled", refused.text
        history = (await admin.get("/api/login-history", params={"user_id": victim_id})).json()["items"]
        assert len(history) == 5 and {row["address"] for row in history} == {"127.0.0.1"}, history


async def test_a_session_ended_on_one_process_is_refused_on_the_others(cluster: Cluster) -> None:
    async with signed_in(cluster, cluster.url(0), "leo@example.com") as on_a:
        for index in (1, 2):
            async with httpx.AsyncClient(base_url=cluster.url(index), headers=on_a.headers, timeout=20) as other:
                assert (await other.get("/api/auth/me")).status_code == 200
        assert (await on_a.post("/api/auth/logout")).status_code == 200
        for index in (1, 2):  # no process keeps a session of its own: each asks PostgreSQL every time
            async with httpx.AsyncClient(base_url=cluster.url(index), headers=on_a.headers, timeout=20) as other:
                refused = await other.get("/api/auth/me")
                assert refused.status_code == 401 and refused.json()["code"] == "session_expired", refused.text


async def test_a_web_forms_limit_counts_on_every_process_and_a_forged_address_does_not_reset_it(
    cluster: Cluster,
) -> None:
    async with signed_in(cluster, cluster.url(0), "fern@example.com") as admin:
        limit = {"values": {"forms.max_per_window": 3}}
        assert (await admin.patch("/api/settings", json=limit)).status_code == 200, "setting refused"
        fields = [{"name": "name", "label": "Name", "required": True, "maps_to": "person_name"}]
        form = await admin.post("/api/web-forms", json={"name": "Across processes", "fields": fields})
        assert form.status_code == 201, form.text
        path = f"/webhooks/forms/{form.json()['key']}"
    async with httpx.AsyncClient(base_url=cluster.proxy, headers=admin.headers, timeout=20) as proxied:
        # Made from the Host and X-Forwarded-Proto nginx passes (app.public_url unset): nginx's address.
        listed = (await proxied.get("/api/web-forms")).json()
        assert [f["post_url"] for f in listed if f["name"] == "Across processes"] == [cluster.proxy + path]
    posted = []
    for base, forged in ((cluster.url(1), None), (cluster.url(2), None), (cluster.proxy, "203.0.113.5")):
        async with httpx.AsyncClient(base_url=base, timeout=20) as web:
            headers = {"X-Forwarded-For": forged} if forged else {}
            posted.append((await web.post(path, json={"name": "Visitor"}, headers=headers)).status_code)
    assert posted == [200, 200, 200]
    async with httpx.AsyncClient(base_url=cluster.proxy, timeout=20) as web:
        fourth = await web.post(path, json={"name": "Visitor"}, headers={"X-Forwarded-For": "203.0.113.6"})
    assert fourth.status_code == 429 and fourth.json()["code"] == "too_many_submissions", fourth.text


async def test_an_office_signing_in_at_once_through_nginx_is_not_throttled(cluster: Cluster) -> None:
    """Everyone behind one address (an office's NAT, nginx's X-Forwarded-For) signing in at the same
    moment, spread over the processes: no failure among them, so no one may be told to wait. (An
    attempt in flight, stamped a moment later by another request, once made the check wait for it.)"""
    live = LiveServer(cluster.database_url, "")
    emails = [f"office{n}@example.com" for n in range(24)]
    for email in emails:
        await live.create_user(email, full_name="Office")
    async with httpx.AsyncClient(base_url=cluster.proxy, timeout=60) as http:
        answers = await asyncio.gather(
            *(http.post("/api/auth/login", json={"email": e, "password": PASSWORD}) for e in emails)
        )
    refused = [a.json() for a in answers if a.status_code != 200]
    assert not refused, refused


def test_with_no_process_answering_nginx_says_unavailable_and_the_desktop_waits_for_one(
    desk: Desk, cluster: Cluster, tmp_path: Path
) -> None:
    """All processes down or restarting: nginx's own 502 would be an HTML page the desktop cannot
    read; it answers the server's JSON 503 instead, which the desktop retries until one is back."""
    desk.create_user("una@example.com", role="Admin", full_name="Una")
    signed = ApiClient(cluster.url(0))
    desk.clients.append(signed)
    desk.run(auth.login(signed, "una@example.com", PASSWORD))
    port = free_port()  # nothing listens here yet
    with nginx([port], tmp_path / "nginx") as proxy:
        down = httpx.get(proxy + "/api/auth/me", timeout=10)
        assert (down.status_code, down.json()["code"]) == (503, "unavailable"), down.text
        api = ApiClient(proxy, signed.token)
        desk.clients.append(api)
        asking = asyncio.ensure_future(auth.me(api))
        desk.wait_until(lambda: api.state == "reconnecting", message="the desktop did not see the server away")
        back = LiveServer(cluster.database_url, "")
        back.start(port=port)
        try:
            assert desk.run(asking).email == "una@example.com"
            assert api.state == "online"
        finally:
            back.stop()


async def test_a_body_past_the_limit_gets_nginxs_413_in_the_servers_shape(cluster: Cluster) -> None:
    async with httpx.AsyncClient(base_url=cluster.proxy, timeout=30) as http:
        response = await http.post(
            "/api/imports", content=b"x" * (34 * 1024 * 1024), headers={"Content-Type": "text/csv"}
        )
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_large" and "33 MB" in body["message"], body


async def test_each_periodic_job_runs_once_across_the_three_schedulers(cluster: Cluster) -> None:
    """Each process's scheduler defers the every-minute jobs (and, on start, the last run due of
    every job) at the same moments; one job per task and time must come of it, run once."""
    live = LiveServer(cluster.database_url, "")
    deadline = asyncio.get_running_loop().time() + 90
    while True:
        async with live.session() as s:
            workers = (await s.execute(text("SELECT count(*) FROM procrastinate_workers"))).scalar_one()
            done = await _periodic_runs(s)
        if workers >= 3 and any(r["task_name"] == "crm:activities.send_reminders" and r["succeeded"] for r in done):
            break
        assert asyncio.get_running_loop().time() < deadline, f"no periodic run finished ({workers} workers)"
        await asyncio.sleep(0.5)
    doubled = [row for row in done if row["jobs"] != 1]
    assert not doubled, doubled


async def _periodic_runs(s: Any) -> list[dict[str, Any]]:
    """Per periodic task and scheduled time: how many jobs were made, and whether one succeeded."""
    rows = await s.execute(
        text(
            """
            SELECT task_name, args ->> 'timestamp' AS at, count(*) AS jobs,
                   bool_or(status = 'succeeded') AS succeeded
            FROM procrastinate_jobs WHERE args ? 'timestamp' GROUP BY 1, 2
            """
        )
    )
    return [dict(r._mapping) for r in rows]


def test_a_killed_process_leaves_its_desktop_resuming_on_another_with_no_gap(
    desk: Desk, qtbot: QtBot, cluster: Cluster
) -> None:
    window = open_main(desk, qtbot, "kim@example.com")  # desk.api() goes through nginx
    stream = window.session.events
    seen: list[LiveEvent] = []
    stream.event.connect(seen.append)
    resets: list[int] = []
    stream.reset.connect(lambda: resets.append(1))

    def upstream() -> int:
        assert stream._ws is not None and stream._ws.response is not None
        return cluster.index_of(stream._ws.response.headers[UPSTREAM_HEADER])

    victim = upstream()
    # Last in the file on purpose: the killed process stays down (starting it again costs seconds).
    writer = cluster.url((victim + 1) % len(cluster.ports))

    def teams(names: list[str]) -> list[int]:
        async def make() -> list[int]:
            async with signed_in(cluster, writer, f"w{len(seen)}-{names[0][:4]}@example.com") as http:
                made = [await http.post("/api/teams", json={"name": name}) for name in names]
            assert all(r.status_code == 201 for r in made), [r.text for r in made]
            return [int(r.json()["id"]) for r in made]

        return desk.on_server(make())

    def team_ids() -> set[int]:
        return {e.entity_id for e in seen if e.entity == "team"}

    made = teams(["Before 1", "Before 2"])
    desk.wait_until(lambda: set(made) <= team_ids(), message="events before the kill did not arrive")
    cluster.kill(victim)
    desk.wait_until(lambda: stream.state != "connected", message="the desktop did not notice the kill")
    made += teams([f"While away {n}" for n in range(5)])
    desk.wait_until(lambda: stream.state == "connected", timeout=40, message="the desktop did not reconnect")
    assert upstream() != victim
    made += teams(["After 1", "After 2"])
    desk.wait_until(lambda: set(made) <= team_ids(), message="events made while away did not all arrive")

    got = [e.seq for e in seen if e.entity == "team"]
    in_db = desk.on_server(_team_seqs(cluster, got[0], got[-1]))
    assert got == in_db  # every team event between the first and last, in order: no gap, no double
    every = [e.seq for e in seen]
    assert every == sorted(set(every)) and not resets
    desk.wait_until(lambda: "Connected" in window.connection_label.text(), message="the status bar still says away")


async def _team_seqs(cluster: Cluster, first: int, last: int) -> list[int]:
    async with LiveServer(cluster.database_url, "").session() as s:
        rows = await s.execute(
            text("SELECT seq FROM events WHERE entity = 'team' AND seq BETWEEN :a AND :b ORDER BY seq"),
            {"a": first, "b": last},
        )
        return [int(r[0]) for r in rows]
