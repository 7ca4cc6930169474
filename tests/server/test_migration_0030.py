"""Migration 0030 fills each existing lead's status history from the audit log: where it started
(the `old` of its first audited move, else its status) at its creation, then every audited move at
its time; a lead that never moved has its one row; later moves are written by the trigger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from crm_server import migrate
from tests.support import make_url


def test_history_filled_from_the_audit_log(pg_cluster: Any) -> None:
    name = "migration_0030_history"
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_cluster.admin_url, name)
    migrate.upgrade(url, "0029")
    created = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    first_move = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    second_move = datetime(2026, 3, 9, 16, 30, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                "SELECT s.name, s.id FROM pipeline_statuses s JOIN pipelines p ON p.id = s.pipeline_id AND p.is_default"
            ).fetchall()
        )
        pipeline = conn.execute("SELECT id FROM pipelines WHERE is_default").fetchone()[0]  # type: ignore[index]
        moved, still = (
            conn.execute(
                "INSERT INTO leads (person_name, pipeline_id, status_id, created_at, status_changed_at)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (who, pipeline, statuses[status], created, created),
            ).fetchone()[0]  # type: ignore[index]
            for who, status in (("Moved", "Connected"), ("Still", "First Contact"))
        )
        for at, old, new in ((first_move, "Open", "First Contact"), (second_move, "First Contact", "Connected")):
            conn.execute(
                "INSERT INTO audit_log (at, entity, entity_id, action, changes) VALUES (%s, 'lead', %s, 'moved', %s)",
                (
                    at,
                    moved,
                    psycopg.types.json.Jsonb(
                        [
                            {"field": "status", "old": old, "new": new},
                            {"field": "status_id", "old": statuses[old], "new": statuses[new]},
                        ]
                    ),
                ),
            )
        conn.execute(  # an edit that is not a move says nothing of the status
            "INSERT INTO audit_log (at, entity, entity_id, action, changes) VALUES (%s, 'lead', %s, 'updated', %s)",
            (second_move, still, psycopg.types.json.Jsonb([{"field": "phone", "old": None, "new": "+40722"}])),
        )
    migrate.upgrade(url, "0030")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT lead_id, from_status_id, to_status_id, at FROM lead_status_history ORDER BY lead_id, at, id"
        ).fetchall()
        assert rows == [
            (moved, None, statuses["Open"], created),
            (moved, statuses["Open"], statuses["First Contact"], first_move),
            (moved, statuses["First Contact"], statuses["Connected"], second_move),
            (still, None, statuses["First Contact"], created),
        ]
        # From now on the trigger writes each move.
        conn.execute("UPDATE leads SET status_id = %s WHERE id = %s", (statuses["Connected"], still))
        last = conn.execute(
            "SELECT from_status_id, to_status_id FROM lead_status_history WHERE lead_id = %s ORDER BY id DESC LIMIT 1",
            (still,),
        ).fetchone()
        assert last == (statuses["First Contact"], statuses["Connected"])
