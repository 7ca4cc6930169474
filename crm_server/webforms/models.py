"""The website forms admins define. Submissions are not kept here: they go through the integration
inbox (provider "forms"), which also counts them for the per-address limit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin


class WebForm(IdMixin, TimestampsMixin, Versioned, Base):
    """One form: its fields (each filling a lead field or kept in the note), the websites allowed
    to post it, and where its leads go. `key` is the secret-ish public name in the post URL; a new
    key retires the old URL at once."""

    __tablename__ = "web_forms"
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    allowed_origins: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="SET NULL"))
    status_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_statuses.id", ondelete="SET NULL"))
    assignment: Mapped[str] = mapped_column(String(10), server_default="rules")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    redirect_url: Mapped[str | None] = mapped_column(Text)
    honeypot: Mapped[str] = mapped_column(String(50), server_default="website")
    __table_args__ = (
        Index("uq_web_forms_key", "key", unique=True),
        Index("uq_web_forms_name_lower", func.lower(name), unique=True),
        CheckConstraint("assignment IN ('rules', 'owner', 'team')", name="assignment"),
    )
