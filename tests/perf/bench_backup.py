"""Backup and test restore of a database with 1,000,000 leads and 1,000,000 invoices (issue #21:
backed up and verified in under 60 s, test-restored in under 120 s).

The leads come from bench_leads.generate (with a follow-up for a third of them), the invoices
from bench_invoices.generate (20,000 clients), both made in PostgreSQL with generate_series on a
throwaway embedded cluster. Then, through the same service the nightly job and `crm-server
backup` use: a backup (pg_dump -Fc inside an exported snapshot with every table's rows counted,
renamed when complete, read back whole with pg_restore, SHA-256), a second read-back alone (the
verification's share), and a test restore (a scratch database, pg_restore, row counts compared,
dropped).

Run on a quiet machine: nice -n 10 .venv/bin/python -m tests.perf.bench_backup [ROWS] [--folder DIR]
(ROWS: leads and invoices each, 1,000,000 by default; a small number checks that it runs.)"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psycopg

from crm_server.backups import service
from crm_server.backups.models import Backup
from crm_server.db import Database
from tests.perf import bench_invoices
from tests.perf.bench_leads import generate as generate_leads
from tests.perf.bench_leads import make_people
from tests.perf.common import live_server
from tests.support import LiveServer

BACKUP_TARGET_S = 60.0
RESTORE_TARGET_S = 120.0
CHUNK = 250_000


async def fill(server: LiveServer, rows: int) -> None:
    await make_people(server)  # the admin, 24 salespeople in 4 teams: they own the leads and the invoices
    url = server.database_url
    started = time.perf_counter()
    for start in range(1, rows + 1, CHUNK):
        generate_leads(url, start, min(CHUNK, rows - start + 1))
    leads_s = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        sellers = conn.execute("SELECT id, team_id FROM users WHERE email LIKE 'seller%' ORDER BY id").fetchall()
    owners, teams = [int(o) for o, _ in sellers], [int(t) for _, t in sellers]
    first_client = bench_invoices.make_clients(url, owners, teams)
    for start in range(1, rows + 1, CHUNK):
        bench_invoices.generate(url, start, min(CHUNK, rows - start + 1), first_client, owners, teams)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE clients")
        conn.execute("VACUUM ANALYZE invoices")
        counts = conn.execute("SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM invoices)").fetchone()
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    assert counts is not None and size is not None
    print(
        f"made {counts[0]:,} leads ({leads_s:.0f} s) and {counts[1]:,} invoices "
        f"(total {time.perf_counter() - started:.0f} s); database {size[0]}"
    )


async def bench(server: LiveServer, folder: Path) -> None:
    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
    try:
        async with db.transaction() as session:
            row = await service.start(session, "manual", None, folder=str(folder), queue_job=False)
            backup_id = row.id
        started = time.perf_counter()
        said = await service.run(db, backup_id)
        backup_s = time.perf_counter() - started
        async with db.transaction() as session:
            done = await session.get(Backup, backup_id)
            assert done is not None
            if done.status != "succeeded":
                raise SystemExit(f"the backup failed: {done.error_message}")
            path, size, tables = Path(done.folder or "") / (done.file_name or ""), done.size_bytes or 0, done.row_counts
        started = time.perf_counter()
        await service.read_whole(path, done.encrypted)
        verify_s = time.perf_counter() - started
        started = time.perf_counter()
        detail = await service.test_restore(db, backup_id)
        restore_s = time.perf_counter() - started
        async with db.transaction() as session:
            tested = await session.get(Backup, backup_id)
            assert tested is not None
            ok = tested.test_restore_ok
    finally:
        await db.dispose()
    rows = sum((tables or {}).values())
    print(said)
    print(f"file {size / 1_000_000:.1f} MB, {len(tables or {})} tables, {rows:,} rows counted at dump time")
    flag = "" if backup_s < BACKUP_TARGET_S else f"   <-- over {BACKUP_TARGET_S:.0f} s"
    print(f"backup + verify: {backup_s:.1f} s (the read-back alone: {verify_s:.1f} s){flag}")
    flag = "" if restore_s < RESTORE_TARGET_S else f"   <-- over {RESTORE_TARGET_S:.0f} s"
    print(f"test restore:    {restore_s:.1f} s ({'ok' if ok else 'FAILED'}: {detail}){flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000, help="leads and invoices, each")
    parser.add_argument("--folder", type=Path, default=None, help="where the backup file goes (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-backup-") as scratch:
        folder = args.folder or Path(scratch)
        with live_server() as server:
            asyncio.run(fill(server, args.rows))
            asyncio.run(bench(server, folder))


if __name__ == "__main__":
    main()
