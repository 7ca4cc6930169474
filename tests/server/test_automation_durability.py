"""A rule's actions survive the server dying between the change and the actions, and run once: the
run and its job commit with the change (the server process that took the change runs no worker and
is killed with SIGKILL right after it answered), a worker that starts later does them, and a second
job for the same run (a retry, a duplicate) finds the run done and does nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import text

from crm_server.jobs import queue
from tests.support import LiveServer, free_port, server_process


async def _runs(api: httpx.AsyncClient, rule_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("/api/automation/runs", params={"rule_id": rule_id})).json()["items"]
    return items


async def test_actions_after_a_crash_run_once(server: LiveServer, admin: httpx.AsyncClient) -> None:
    made = await admin.post(
        "/api/automation/rules",
        json={
            "name": "Greet new leads",
            "entity": "lead",
            "trigger": {"kind": "created"},
            "actions": [
                {"kind": "add_tag", "tag": "greeted"},
                {"kind": "create_follow_up", "title": "Say hello", "offset_minutes": 60},
            ],
        },
    )
    assert made.status_code == 201, made.text
    rule = made.json()
    # The change goes to a server process of its own, killed (SIGKILL) right after it answered: it
    # runs no worker, so whatever the rule does must be in the database already, committed with it.
    port = free_port()
    with server_process(server.database_url, port, worker=False) as process:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as doomed:
            doomed.headers["Authorization"] = admin.headers["Authorization"]
            lead = (await doomed.post("/api/leads", json={"person_name": "Crash Carla"})).json()
        process.kill()
        process.wait(timeout=10)
    [run] = await _runs(admin, rule["id"])
    assert run["outcome"] == "queued"  # committed with the lead; no worker has done it
    async with server.session() as s:  # a duplicate of its job, as a retry after a crash would be
        await queue.defer(s, "automation.run", run_id=run["id"])

    with LiveServer.run(server.database_url, worker=True):  # the server comes back
        deadline = time.monotonic() + 60
        while True:
            async with server.session() as s:
                left = await s.scalar(
                    text(
                        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'crm:automation.run' "
                        "AND status IN ('todo', 'doing')"
                    )
                )
            if left == 0:
                break
            assert time.monotonic() < deadline, "the jobs did not run"
            await asyncio.sleep(0.1)

    [run] = await _runs(admin, rule["id"])
    assert run["outcome"] == "done" and [a["ok"] for a in run["actions"]] == [True, True]
    assert (await admin.get(f"/api/leads/{lead['id']}")).json()["tags"] == ["greeted"]
    follow_ups = (await admin.get("/api/follow-ups", params={"lead_id": lead["id"]})).json()["items"]
    assert [f["notes"] for f in follow_ups] == ["Say hello"]
