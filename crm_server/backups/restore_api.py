"""POST /api/backups/{backup_id}/restore: restore a backup into a new database, or in place of the
live one (admin only; the rules are in restore.py).

The route checks who asks and what in the request's transaction, then ends it: an in-place restore
ends every connection to the live database (the request's own included) and a restore may take
long, so none is held while pg_restore runs and the databases are swapped. Its audit rows are
written afterwards in transactions of their own (in place: in the restored database)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi import APIRouter, Request

from crm_server.admin import audit, settings
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.backups import restore, service
from crm_server.contract.backups import RestoreIn, RestoreOut
from crm_server.db import Database
from crm_server.errors import Conflict
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api/backups", route_class=TxRoute, tags=["backups"])


@router.post("/{backup_id}/restore", response_model=RestoreOut)
async def restore_backup(
    backup_id: int, body: RestoreIn, request: Request, session: Session, actor: Principal = require("admin", "edit")
) -> RestoreOut:
    db: Database = request.app.state.db
    row = await service.get(session, backup_id)
    if row.status != "succeeded" or row.removed_at is not None or not row.file_name or not row.folder:
        raise Conflict("This backup has no file to restore (it failed, or retention removed it).", code="no_file")
    path = Path(row.folder) / row.file_name
    source, recorded = row.file_name, dict(row.row_counts or {})
    if body.mode == "new":
        name = restore.check_new_name(db.url, body.database)
    else:
        restore.confirms_company(body.confirm, str(await settings.get(session, "company.name") or ""))
    await session.commit()  # what signing in wrote (the session's last use) is kept
    await session.close()  # and its connection given back before the restore ends them all
    if body.mode == "new":
        done = await restore.restore_new(db.url, path, name)
        async with db.transaction() as session:
            audit.record(
                session,
                actor_id=actor.user_id,
                entity="backup",
                entity_id=backup_id,
                action="restored",
                changes=audit.diff({}, {"mode": "new", "database": name}),
            )
    else:
        jobs = getattr(request.app.state, "jobs", None)
        was_running = bool(jobs is not None and jobs.running)

        async def stop_worker() -> None:
            if jobs is not None and was_running:
                await jobs.stop()

        async def start_worker() -> None:
            if jobs is not None and was_running and not jobs.running:
                await jobs.start()

        done = await restore.restore_in_place(
            db.url,
            path,
            db,
            safety=lambda: restore.take_safety_backup(db, actor.user_id),
            before_swap=stop_worker,
            after_swap=start_worker,
            source=source,
        )
        with contextlib.suppress(Exception):  # the restore is done; its audit row is a courtesy
            async with db.transaction() as session:
                known = await session.get(User, actor.user_id)
                audit.record(
                    session,
                    actor_id=actor.user_id if known is not None else None,
                    entity="backup",
                    entity_id=backup_id,
                    action="restored",
                    changes=audit.diff({}, {"mode": "in_place", "safety_backup_id": done.safety_backup_id}),
                )
    return RestoreOut(
        mode="new" if done.mode == "new" else "in_place",
        database=done.database,
        backup_id=backup_id,
        started_at=done.started_at,
        finished_at=done.finished_at,
        tables=done.tables,
        rows=done.rows,
        row_counts=done.row_counts,
        counts_match=restore.counts_match(recorded, done.row_counts),
        safety_backup_id=done.safety_backup_id,
        event_seq=done.event_seq,
        jobs_kept_finished=done.jobs_kept_finished,
        jobs_requeued=done.jobs_requeued,
    )
