"""The backups table: one row per backup attempt (running, succeeded, failed or cancelled), kept
as history after retention removed its file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class Backup(IdMixin, Base):
    __tablename__ = "backups"
    kind: Mapped[str] = mapped_column(String(20))  # nightly, manual, safety
    status: Mapped[str] = mapped_column(String(20), server_default="running")  # running succeeded failed cancelled
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    folder: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    estimated_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    encrypted: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Row count of every table at dump time ({"public.leads": 12, ...}), from the dump's own snapshot.
    row_counts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    server_version: Mapped[str | None] = mapped_column(String(40))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verify_ok: Mapped[bool | None] = mapped_column(Boolean)
    test_restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    test_restore_ok: Mapped[bool | None] = mapped_column(Boolean)
    test_restore_detail: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    kept_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, server_default="false")
    __table_args__ = (
        Index("ix_backups_started_at", "started_at", "id"),
        Index("ix_backups_status", "status"),
    )
