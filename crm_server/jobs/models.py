"""The job log: procrastinate keeps a job's status and events but not why it failed nor how long it
took, so every attempt a worker makes is written here for the admin panel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class JobLogEntry(IdMixin, Base):
    """One attempt of one job (no foreign key: procrastinate deletes its old jobs on its own)."""

    __tablename__ = "job_log"
    job_id: Mapped[int] = mapped_column(BigInteger)
    task: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # succeeded, failed, aborted
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # What a succeeded job says it did (its return value when a string), e.g. why it skipped something.
    result: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_job_log_job_id", "job_id", "id"),
        Index("ix_job_log_finished_at", "finished_at"),
    )
