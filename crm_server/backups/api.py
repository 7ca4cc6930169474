"""HTTP routes of backups (admin only): the list, run now, cancel, test restore, download, settings.
See crm_server/contract/backups.py for the shapes."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from crm_server.admin import service as admin_service
from crm_server.auth.permissions import Principal
from crm_server.backups import service
from crm_server.contract.backups import BackupOut, BackupRunIn, BackupSettings, BackupStatusOut
from crm_server.contract.common import After, ErrorBody, Page
from crm_server.errors import NotFound
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api/backups", route_class=TxRoute, tags=["backups"])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "not in a state for this"}}


@router.get("", response_model=Page[BackupOut], dependencies=[require("admin", "view")])
async def list_backups(session: Session, offset: Offset = 0, limit: Limit = 50, after: After = None) -> Page[BackupOut]:
    return await service.list_page(session, offset, limit, after)


@router.get("/status", response_model=BackupStatusOut, dependencies=[require("admin", "view")])
async def backup_status(session: Session) -> BackupStatusOut:
    return await service.status(session)


@router.get("/settings", response_model=BackupSettings, dependencies=[require("admin", "view")])
async def read_settings(session: Session) -> BackupSettings:
    return await service.read_settings(session)


@router.put("/settings", response_model=BackupSettings)
async def change_settings(
    body: BackupSettings, session: Session, actor: Principal = require("admin", "edit")
) -> BackupSettings:
    values = body.model_dump(exclude={"encryption", "effective_folder"})
    await admin_service.change_settings(
        session, actor, {key: values[name] for name, key in service.SETTING_KEYS.items()}
    )
    return await service.read_settings(session)


@router.post("", response_model=BackupOut, status_code=202, responses=CONFLICT)
async def run_now(
    session: Session, body: BackupRunIn | None = None, actor: Principal = require("admin", "edit")
) -> BackupOut:
    """Start a backup now: the row comes back "running"; live events carry its progress."""
    return service.to_out(await service.start(session, "manual", actor.user_id))


@router.get("/{backup_id}", response_model=BackupOut, dependencies=[require("admin", "view")])
async def get_backup(backup_id: int, session: Session) -> BackupOut:
    return service.to_out(await service.get(session, backup_id))


@router.post(
    "/{backup_id}/cancel", response_model=BackupOut, dependencies=[require("admin", "edit")], responses=CONFLICT
)
async def cancel(backup_id: int, session: Session) -> BackupOut:
    return service.to_out(await service.cancel(session, backup_id))


@router.post(
    "/{backup_id}/test-restore",
    response_model=BackupOut,
    status_code=202,
    dependencies=[require("admin", "edit")],
    responses=CONFLICT,
)
async def test_restore(backup_id: int, session: Session) -> BackupOut:
    return service.to_out(await service.queue_test_restore(session, backup_id))


@router.get(
    "/{backup_id}/download",
    dependencies=[require("admin", "edit")],
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the backup file"}, **CONFLICT},
)
async def download(backup_id: int, session: Session) -> FileResponse:
    row = await service.get(session, backup_id)
    path = service.file_path(row)
    if not await asyncio.to_thread(path.is_file):
        raise NotFound(f"{path.name} is no longer in the backup folder.", field="backup_id")
    headers = {"X-Backup-SHA256": row.sha256 or ""}
    return FileResponse(path, media_type="application/octet-stream", filename=path.name, headers=headers)
