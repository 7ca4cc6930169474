"""Typed calls for Admin > Backup & Restore: the list of backups, run now, cancel, download, test
restore, restore, and the page's status line. The wire models come from crm_server.contract.backups;
the backup settings are ordinary admin settings under the keys ``backup.*`` (crm_desktop.api.admin).

    page = await backups.list_backups(api, 0, 50)
    operations.run(self, backups.run_now(api), changed=backups.CHANGED)
    async with backups.download(api, backup_id) as response: ...   # stream it to a file
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient, ApiError, Offline
from crm_server.contract.backups import BackupOut, BackupSettings, BackupStatusOut, RestoreIn, RestoreOut
from crm_server.contract.common import Page

# What a change announces on the change bus (operations.run(..., changed=...)): the same area the
# server's live events of a backup arrive as (module "admin", entity "backup", action "progress" /
# "updated").
CHANGED = frozenset({"admin.backup"})
# The settings keys of the page (written through the admin settings API).
SETTING_KEYS = (
    "backup.enabled",
    "backup.folder",
    "backup.hour",
    "backup.keep_daily",
    "backup.keep_weekly",
    "backup.keep_monthly",
)

# A restore answers when it is done: an hour is a very large database on a slow disk.
RESTORE_TIMEOUT = httpx.Timeout(3600, connect=20)

_PAGE = TypeAdapter(Page[BackupOut])


async def list_backups(api: ApiClient, offset: int = 0, limit: int = 50, after: str | None = None) -> Page[BackupOut]:
    """The backups, newest first (removed ones stay as history)."""
    return _PAGE.validate_python(await api.get("/api/backups", offset=offset, limit=limit, after=after))


async def get_backup(api: ApiClient, backup_id: int) -> BackupOut:
    return BackupOut.model_validate(await api.get(f"/api/backups/{backup_id}"))


async def status(api: ApiClient) -> BackupStatusOut:
    """Is the last backup good and recent? (the page's red banner)"""
    return BackupStatusOut.model_validate(await api.get("/api/backups/status"))


async def settings(api: ApiClient) -> BackupSettings:
    """The backup settings with the server's read-only facts (is a passphrase set?)."""
    return BackupSettings.model_validate(await api.get("/api/backups/settings"))


async def run_now(api: ApiClient) -> BackupOut:
    """Start a backup now; the answer is the running backup, its progress comes as live events."""
    return BackupOut.model_validate(await api.post("/api/backups", {"kind": "manual"}))


async def cancel(api: ApiClient, backup_id: int) -> BackupOut:
    return BackupOut.model_validate(await api.post(f"/api/backups/{backup_id}/cancel"))


async def test_restore(api: ApiClient, backup_id: int) -> BackupOut:
    """Load the backup into a scratch database and compare its row counts (then drop it)."""
    return BackupOut.model_validate(await api.post(f"/api/backups/{backup_id}/test-restore"))


async def restore(api: ApiClient, backup_id: int, body: RestoreIn) -> RestoreOut:
    """Restore a backup: mode "new" into the database `body.database` (to look at it), or
    "in_place" of the live one, `body.confirm` being the company's name as the admin typed it.

    The answer comes when the restore is done, which can take minutes: sent once (never retried,
    a second restore is not the same call) and waited for without the usual time limit."""
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    payload = body.model_dump(exclude_none=True)
    try:
        async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=RESTORE_TIMEOUT) as http:
            response = await http.post(f"/api/backups/{backup_id}/restore", json=payload)
    except (httpx.TransportError, OSError) as exc:
        raise Offline(type(exc).__name__) from exc
    if response.status_code >= 400:
        raise ApiError.from_response(response)
    return RestoreOut.model_validate(response.json())


@asynccontextmanager
async def download(api: ApiClient, backup_id: int) -> AsyncIterator[httpx.Response]:
    """The backup file, streamed (it can be gigabytes): read it with `aiter_bytes()`."""
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=60) as http:
        async with http.stream("GET", f"/api/backups/{backup_id}/download") as response:
            if response.status_code >= 400:
                await response.aread()
                raise ApiError.from_response(response)
            yield response
