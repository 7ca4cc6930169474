"""Tables of the e-mail area (migration 0033): templates, sender identities, the outbound log with
its attachments, and the suppression list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class EmailTemplate(IdMixin, Base):
    __tablename__ = "email_templates"
    name: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(10), server_default="private")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_email_templates_entity", "entity", "name"),)


class EmailIdentity(Base):
    """How one user's messages go out: the name shown, where replies go, the signature."""

    __tablename__ = "email_identities"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), server_default="")
    reply_to: Mapped[str] = mapped_column(String(320), server_default="")
    signature: Mapped[str] = mapped_column(Text, server_default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OutboundEmail(IdMixin, Base):
    """One message sent from a record (or a test to oneself): queued in the request, sent by a job."""

    __tablename__ = "outbound_emails"
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("email_templates.id", ondelete="SET NULL"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_addr: Mapped[str] = mapped_column(Text)
    cc: Mapped[str] = mapped_column(Text, server_default="")
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # queued, sent, failed; a report may later make it bounced, soft_bounced or complained.
    status: Mapped[str] = mapped_column(String(20), server_default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(500))
    is_test: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_outbound_emails_record", "entity", "entity_id", "created_at"),
        Index("uq_outbound_emails_message_id", "message_id", unique=True),
        Index("ix_outbound_emails_sender_day", "sender_id", "created_at"),
    )


class OutboundAttachment(IdMixin, Base):
    __tablename__ = "outbound_email_attachments"
    email_id: Mapped[int] = mapped_column(ForeignKey("outbound_emails.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    __table_args__ = (Index("ix_outbound_email_attachments_email", "email_id"),)


class Suppression(IdMixin, Base):
    """An address no message may go to, with why, since when and who or what put it there."""

    __tablename__ = "email_suppressions"
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("uq_email_suppressions_address", "address", unique=True),)


class Bounce(IdMixin, Base):
    """One bounce or complaint read from a report (migration 0038): soft ones are counted per address
    in a window before the address is suppressed, and every one says which message it answers."""

    __tablename__ = "email_bounces"
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    address: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(10))  # hard, soft, complaint
    status_code: Mapped[str] = mapped_column(String(20), server_default="")
    reason: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(500))
    outbound_email_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_emails.id", ondelete="SET NULL"))
    pipe_log_id: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_email_bounces_address_at", "address", "at"),)


class InboundEmail(IdMixin, Base):
    """A reply to a message sent from a lead or a client, kept on that record's timeline."""

    __tablename__ = "inbound_emails"
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    outbound_email_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_emails.id", ondelete="SET NULL"))
    pipe_log_id: Mapped[int | None] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text, server_default="")
    body: Mapped[str] = mapped_column(Text, server_default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_inbound_emails_record", "entity", "entity_id", "received_at"),)
