"""Backups on the wire: the list, run now, cancel, test restore, settings (issue #21).

A backup is a `pg_dump -Fc` file in the backup folder, verified by reading it whole, with its
size, SHA-256 and the row count of every table at dump time; a test restore loads it into a
scratch database and compares those counts.

Routes (admin only; crm_server/backups/api.py):
  GET  /api/backups?offset=&limit=          Page[BackupOut], newest first
  GET  /api/backups/status                  BackupStatusOut (also the `backups` part of /health)
  POST /api/backups                         BackupRunIn -> BackupOut (202, status "running")
  GET  /api/backups/{id}                    BackupOut
  POST /api/backups/{id}/cancel             BackupOut (a running one: pg_dump stopped, file removed)
  POST /api/backups/{id}/test-restore       BackupOut (202: queued; test_restored_at set when done)
  GET  /api/backups/{id}/download           the file, streamed (application/octet-stream)
  GET  /api/backups/settings                BackupSettings
  PUT  /api/backups/settings                BackupSettings -> BackupSettings
  POST /api/backups/{id}/restore            RestoreIn -> RestoreOut (see RestoreIn)
Live events: module "admin", entity "backup", entity_id = the backup's id, action "progress" /
"updated", data {"status", "progress"}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import Model

BackupKind = Literal["nightly", "manual", "safety"]
BackupStatus = Literal["running", "succeeded", "failed", "cancelled"]

# Stable error codes of a failed backup (error_message says it in plain words).
BackupErrorCode = Literal[
    "insufficient_storage",  # "Insufficient storage"
    "permission_denied",  # "Permission denied"
    "connection_timed_out",  # "Connection timed out"
    "version_mismatch",  # "pg_dump version mismatch"
    "verify_failed",  # the archive could not be read back whole
    "cancelled",
    "failed",  # anything else; the message carries the tool's own words
]

# The live event a running backup emits as it goes (entity "backup", id = BackupOut.id).
BACKUP_EVENT = "backup"


class BackupOut(Model):
    id: int
    kind: BackupKind
    status: BackupStatus
    started_at: datetime
    finished_at: datetime | None = None
    # The file's name inside the backup folder ("crm-2026-12-06T0200Z-nightly.dump[.age]").
    file_name: str | None = None
    folder: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    encrypted: bool = False
    # Read back whole with pg_restore (not just its table of contents).
    verified_at: datetime | None = None
    verify_ok: bool | None = None
    # Loaded into a scratch database and row counts compared with those at dump time.
    test_restored_at: datetime | None = None
    test_restore_ok: bool | None = None
    test_restore_detail: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    # When retention will remove the file (None: kept for now / not decided yet).
    kept_until: datetime | None = None
    # True once retention removed the file (the row stays as history).
    removed: bool = False
    progress: float = Field(default=0.0, ge=0.0, le=1.0)


class BackupSettings(BaseModel):
    """The backup settings as the admin page shows and edits them (also in /api/admin/settings
    under the keys backup.*). The encryption passphrase is never here: it lives in the server's
    environment (CRM_BACKUP_PASSPHRASE)."""

    enabled: bool = True
    folder: str = ""
    hour: int = Field(default=2, ge=0, le=23, description="local hour of the nightly backup")
    keep_daily: int = Field(default=7, ge=1, le=365)
    keep_weekly: int = Field(default=4, ge=0, le=520)
    keep_monthly: int = Field(default=6, ge=0, le=240)
    # Read-only facts for the page.
    encryption: bool = Field(default=False, description="CRM_BACKUP_PASSPHRASE is set")
    effective_folder: str = Field(default="", description="where backups go (folder, or the default when empty)")


class BackupRunIn(BaseModel):
    """Body of POST /api/backups (run now)."""

    kind: Literal["manual"] = "manual"


class BackupStatusOut(Model):
    """The page header and /health: is the last backup good and recent?"""

    configured: bool
    ok: bool
    # "ok", "failed" (last backup failed), "stale" (last good one older than 26 hours),
    # "never" (no good backup yet), "not_configured" (backups turned off).
    state: Literal["ok", "failed", "stale", "never", "not_configured"]
    message: str
    last_good_at: datetime | None = None
    last: BackupOut | None = None


class RestoreIn(BaseModel):
    """Body of POST /api/backups/{id}/restore (admin only; crm_server/backups/restore_api.py).

    mode "new": into a new database named `database` on the same server, to look at; the live
    data are not touched. mode "in_place": replaces the live data; `confirm` must be the company's
    name (setting company.name) as the admin typed it. A safety backup is taken first; desktops get
    the live events server.restoring / server.restored (see contract/events.py SERVER_MODULE)."""

    mode: Literal["new", "in_place"]
    database: str | None = Field(default=None, max_length=63, description='mode "new": a-z, 0-9 and _')
    confirm: str | None = Field(default=None, max_length=200, description='mode "in_place": the company name')


class RestoreOut(Model):
    mode: Literal["new", "in_place"]
    database: str  # the new database, or the live one that now holds the restored data
    backup_id: int | None = None
    started_at: datetime
    finished_at: datetime | None = None
    tables: int
    rows: int
    # Rows of every table after the restore ("public.leads": 12), and whether they equal those the
    # backup recorded at dump time (None: the backup recorded none).
    row_counts: dict[str, int] = Field(default_factory=dict)
    counts_match: bool | None = None
    safety_backup_id: int | None = None  # in place: the backup of the data just replaced
    event_seq: int | None = None  # in place: the server.restored event's sequence number
    jobs_kept_finished: int = 0  # in place: queued in the backup, finished since: not run again
    jobs_requeued: int = 0  # in place: running in the backup, unfinished: queued to run once
