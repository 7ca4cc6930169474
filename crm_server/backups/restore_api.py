"""POST /api/backups/{backup_id}/restore: restore a backup into a new database, or in place of the
live one (admin only; the rules are in restore.py).

Not a TxRoute: an in-place restore ends every connection to the live database, the request's own
included, so the route checks who asks and what in short transactions of its own and holds none
while pg_restore runs and the databases are swapped."""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi import APIRouter, Depends, Request

from crm_server import input_guard
from crm_server.admin import audit, settings
from crm_server.auth import sessions
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.backups import restore, service
from crm_server.contract.backups import RestoreIn, RestoreOut
from crm_server.db import Database
from crm_server.errors import Unauthorized
from crm_server.routing import ERROR_RESPONSES, client_address

router = APIRouter(prefix="/api/backups", tags=["backups"])


async def restoring_admin(request: Request) -> Principal:
    """The signed-in admin (admin: edit), checked in a transaction of its own; the request's path,
    query and body pass input_guard first, as on every other route."""
    route = request.scope.get("route")
    await input_guard.check_request(request, getattr(route, "path_format", request.url.path))
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Sign in first.", code="not_signed_in")
    db: Database = request.app.state.db
    async with db.transaction() as session:
        principal = await sessions.authenticate(session, token.strip(), client_address(request))
        await sessions.ensure_allowed(session, principal, "admin", "edit", request.url.path)
    return principal


@router.post("/{backup_id}/restore", response_model=RestoreOut, responses=ERROR_RESPONSES)
async def restore_backup(
    backup_id: int, body: RestoreIn, request: Request, actor: Principal = Depends(restoring_admin)
) -> RestoreOut:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        row = await service.get(session, backup_id)
        path: Path = service.file_path(row)
        recorded = dict(row.row_counts or {})
        company = str(await settings.get(session, "company.name") or "")
    if body.mode == "new":
        name = restore.check_new_name(db.url, body.database)
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
        restore.confirms_company(body.confirm, company)
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
            source=row.file_name or "",
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
