"""Admin panel on the wire: settings, audit log, notifications, system health, jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from crm_server.contract.common import Model


class SettingsOut(Model):
    """All settings; secret ones read as true/false (set or not), never their value."""

    values: dict[str, Any]
    labels: dict[str, str]
    secrets: list[str]


class SettingsUpdate(BaseModel):
    values: dict[str, Any] = Field(description="only the keys to change")


class TestEmailRequest(BaseModel):
    to: EmailStr


class AuditChange(Model):
    field: str
    old: Any = None
    new: Any = None


class AuditEntryOut(Model):
    id: int
    at: datetime
    actor_id: int | None
    entity: str
    entity_id: int
    action: str
    changes: list[AuditChange]
    # The record's name or number ("Ana Pop", "INV-2026-0007"); none once the record is deleted.
    label: str | None = None


class NotificationOut(Model):
    id: int
    kind: str
    title: str
    body: str
    entity: str | None
    entity_id: int | None
    created_at: datetime
    read_at: datetime | None


class MarkRead(BaseModel):
    ids: list[int] | None = Field(default=None, description="None marks all as read")


class UnreadCount(Model):
    unread: int


class JobRun(Model):
    id: int
    task: str
    title: str = ""  # what the task does, in words ("Make the recurring invoices"; jobs/registry.TITLES)
    status: str
    queue: str
    attempts: int
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = None  # the last attempt's "ExceptionType: message", cut to 2,000 characters
    result: str | None = None  # what a succeeded job said it did (its returned text), cut to 2,000 characters
    duration_ms: int | None = None  # how long the last attempt ran
    worker: str | None = None  # which server process ran the last attempt (host:pid)


class ComponentHealth(Model):
    status: str  # ok, down, not_configured
    detail: str = ""


class Health(Model):
    status: str
    version: str
    database: ComponentHealth
    jobs: ComponentHealth
    events: ComponentHealth
    integrations: ComponentHealth
    backups: ComponentHealth
    # What is down, in words ("database", "job runner", "event listener"); empty when status is ok.
    down: list[str] = Field(default_factory=list)
    # What needs a person but does not stop serving (so /health stays 200): "backups" when the last
    # backup failed or the last good one is older than 26 hours (see `backups.detail`).
    attention: list[str] = Field(default_factory=list)
    recent_failures: list[JobRun] = Field(default_factory=list)
