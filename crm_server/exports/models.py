"""The exports table and the chunks of each export's file (see service.py for why in the database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class Export(IdMixin, Base):
    """One export of one list by one user; only that user ever reads it."""

    __tablename__ = "exports"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(30))
    format: Mapped[str] = mapped_column(String(4))
    filter: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # The record scope the user had when they asked: a later, wider role never widens this export.
    scope: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12), server_default="pending")
    rows_done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_exports_user_id", "user_id", "id"),
        Index("ix_exports_expires_at", "expires_at", postgresql_where=text("state = 'done'")),
    )


class ExportChunk(Base):
    """A piece of an export's file, in order (up to CHUNK_BYTES each)."""

    __tablename__ = "export_chunks"
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
