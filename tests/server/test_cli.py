"""crm-server's commands, run as IT would run them, and the embedded PostgreSQL's life cycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from crm_server.embedded_db import EmbeddedPostgres

PASSWORD = "a long admin passphrase"


def _cli(args: list[str], database_url: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "crm_server.cli", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_admin_and_settings(database_url: str) -> None:
    made = _cli(["create-admin", "--email", "it@example.com", "--password-stdin"], database_url, PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    again = _cli(["create-admin", "--email", "IT@example.com", "--password-stdin"], database_url, PASSWORD + "\n")
    assert again.returncode != 0 and "email" in again.stderr
    weak = _cli(["create-admin", "--email", "b@example.com", "--password-stdin"], database_url, "short\n")
    assert weak.returncode != 0 and "12 characters" in weak.stderr

    assert _cli(["settings", "set", "security.session_idle_minutes", "45"], database_url).returncode == 0
    got = _cli(["settings", "get", "security.session_idle_minutes"], database_url)
    assert json.loads(got.stdout) == {"security.session_idle_minutes": 45}
    bad = _cli(["settings", "set", "security.session_idle_minutes", "1"], database_url)
    assert bad.returncode != 0 and "at least 5" in bad.stderr
    unknown = _cli(["settings", "get", "no.such"], database_url)
    assert unknown.returncode != 0 and "Unknown setting" in unknown.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT full_name FROM users").fetchall() == [("Administrator",)]


def test_migrate_reports_the_schema(database_url: str) -> None:
    done = _cli(["migrate"], database_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("schema at 00")


def test_embedded_postgres_survives_a_crashed_owner(tmp_path: Path) -> None:
    """A server killed with SIGKILL leaves PostgreSQL running; the next start adopts and stops it."""
    script = (
        "import sys, time; from pathlib import Path; from crm_server.embedded_db import EmbeddedPostgres;"
        f"print(EmbeddedPostgres(Path({str(tmp_path)!r})).start(), flush=True); time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        url = owner.stdout.readline().strip()  # type: ignore[union-attr]
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.commit()
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    second = EmbeddedPostgres(tmp_path)
    url2 = second.start()
    with psycopg.connect(url2) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    second.stop()
    assert second._running_port() is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url2, connect_timeout=2)
