"""Tables of the auth area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import CIDR, INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin, TimestampsMixin, VersionedMixin


class Team(IdMixin, TimestampsMixin, VersionedMixin, Base):
    __tablename__ = "teams"
    name: Mapped[str] = mapped_column(String(100), unique=True)
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True, ondelete="SET NULL"))


class Role(IdMixin, TimestampsMixin, VersionedMixin, Base):
    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, server_default="")
    builtin: Mapped[bool] = mapped_column(Boolean, server_default="false")
    require_2fa: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # {"leads": {"actions": ["view", "create"], "scope": "own"}, ...}
    permissions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    __table_args__ = (Index("uq_roles_name_lower", func.lower(name), unique=True),)


class User(IdMixin, TimestampsMixin, VersionedMixin, Base):
    __tablename__ = "users"
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default="false")
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Last TOTP time step accepted: a code is usable once.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How many lockouts in a row: each one lasts twice the previous.
    lockout_count: Mapped[int] = mapped_column(Integer, server_default="0")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)


class RecoveryCode(IdMixin, Base):
    """A 2FA recovery code: its first characters (not secret) find the row, the whole code is
    checked against a salted argon2 hash. Codes of the old unsalted kind were retired (used_at) in 0020."""

    __tablename__ = "recovery_codes"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lookup: Mapped[str | None] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(Text)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuthSession(IdMixin, Base):
    """A login. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_sessions"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(INET)
    client: Mapped[str | None] = mapped_column(String(200))


class PasswordResetToken(IdMixin, Base):
    __tablename__ = "password_reset_tokens"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginHistory(IdMixin, Base):
    """Every login attempt; also what lockout and per-address throttling count."""

    __tablename__ = "login_history"
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str | None] = mapped_column(INET)
    client: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(30))
    __table_args__ = (
        Index("ix_login_history_user_at", "user_id", "at"),
        Index("ix_login_history_address_at", "address", "at"),
        Index("ix_login_history_at", "at"),
        # Throttling by (email, address) and forgot-password limits per email.
        Index("ix_login_history_email_at", func.lower(email), "at"),
    )


class SecurityEvent(IdMixin, Base):
    """Failed logins, lockouts, unlocks, 2FA resets, permission denials: what an admin audits."""

    __tablename__ = "security_log"
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kind: Mapped[str] = mapped_column(String(50))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(INET)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    __table_args__ = (Index("ix_security_log_at", "at"), Index("ix_security_log_kind_at", "kind", "at"))


class BlockedNetwork(IdMixin, Base):
    """An address or range (CIDR) an admin blocked: sign-in and password reset from it are refused
    before any password check, until the block is lifted."""

    __tablename__ = "blocked_networks"
    network: Mapped[str] = mapped_column(CIDR)
    reason: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (
        Index("uq_blocked_networks_active", "network", unique=True, postgresql_where=text("lifted_at IS NULL")),
    )


class KnownDevice(IdMixin, Base):
    """An address and client a user signed in from: a sign-in from one not seen before is flagged."""

    __tablename__ = "known_devices"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    address: Mapped[str | None] = mapped_column(INET)
    client: Mapped[str] = mapped_column(String(200), server_default="")
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_known_devices_user_address", "user_id", "address"),)
