"""The pipe log: every inbound message, raw, with what became of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.contract.email_pipe import Outcome
from crm_server.db import Base, IdMixin


class PipeMessage(IdMixin, Base):
    """One message that reached the server. Kept whatever its outcome, so nothing is lost and a
    refused one can be replayed; unique by Message-ID, so a redelivery changes nothing.

    The ticket is named by id and number without a foreign key: the log outlives what it made."""

    __tablename__ = "email_pipe_log"
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(20))  # webhook, cli
    remote: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(500))
    in_reply_to: Mapped[str | None] = mapped_column(String(500))
    sender: Mapped[str] = mapped_column(String(320), server_default="")
    # The address lower-cased: how the rate limit and the contact match compare it.
    sender_key: Mapped[str] = mapped_column(String(320), server_default="")
    subject: Mapped[str] = mapped_column(Text, server_default="")
    outcome: Mapped[Outcome] = mapped_column(String(30))  # text in the table
    error: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    ticket_number: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    raw_size: Mapped[int] = mapped_column(Integer, server_default="0")
    raw: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''::bytea"), deferred=True)
    __table_args__ = (
        Index(
            "uq_email_pipe_log_message_id", "message_id", unique=True, postgresql_where=text("message_id IS NOT NULL")
        ),
        Index("ix_email_pipe_log_sender_window", "sender_key", "received_at"),
        Index("ix_email_pipe_log_outcome", "outcome", "id"),
        Index("ix_email_pipe_log_received_at", "received_at"),
    )
