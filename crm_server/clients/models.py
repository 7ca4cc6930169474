"""Tables of the clients area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from crm_server.db import Base, IdMixin, TimestampsMixin, VersionedMixin

CLIENT_SEARCH = (
    "lower(name || ' ' || coalesce(vat_key, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))"
)
CONTACT_SEARCH = "lower(name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))"


class Versioned(VersionedMixin):
    """VersionedMixin that also reads back what the database sets on write (updated_at, computed
    search columns) in the same statement, so a record serialises right after a flush."""

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version, "eager_defaults": True}


class Client(IdMixin, TimestampsMixin, Versioned, Base):
    """A company. Archived, never deleted: invoices and tickets keep pointing at it."""

    __tablename__ = "clients"
    name: Mapped[str] = mapped_column(String(300))
    # Same name, other spelling ("ACME  srl" / "Acme SRL"): a warning on create, not a refusal.
    name_key: Mapped[str] = mapped_column(
        String(300), Computed(r"lower(regexp_replace(btrim(name), '\s+', ' ', 'g'))", persisted=True)
    )
    vat_number: Mapped[str | None] = mapped_column(String(50))
    # Normalised VAT (see clients.normalise.vat_key): unique, so the same company cannot exist twice.
    vat_key: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    website: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    is_vendor: Mapped[bool] = mapped_column(Boolean, server_default="false")
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The import that created or last updated it (imports/ reverts by it).
    import_batch_id: Mapped[int | None] = mapped_column(BigInteger)
    search_text: Mapped[str] = mapped_column(Text, Computed(CLIENT_SEARCH, persisted=True))
    __table_args__ = (
        Index("uq_clients_vat_key", "vat_key", unique=True),
        Index("ix_clients_name_key", "name_key"),
        Index("ix_clients_owner_id", "owner_id"),
        Index("ix_clients_team_id", "team_id"),
        Index("ix_clients_email_lower", func.lower(text("email"))),  # who sent an inbound email
        Index(
            "ix_clients_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )


class Contact(IdMixin, TimestampsMixin, Versioned, Base):
    """A person at a client; seen by whoever sees the client."""

    __tablename__ = "contacts"
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    position: Mapped[str | None] = mapped_column(String(200))
    # The import that created or last updated it (imports/ reverts by it).
    import_batch_id: Mapped[int | None] = mapped_column(BigInteger)
    search_text: Mapped[str] = mapped_column(Text, Computed(CONTACT_SEARCH, persisted=True))
    __table_args__ = (
        Index("ix_contacts_client_id", "client_id"),
        Index("ix_contacts_email_lower", func.lower(text("email"))),
        Index(
            "ix_contacts_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )


class RecentSubmit(Base):
    """Double-submit guard: the same create by the same user with the same payload within a few
    seconds returns the first record (a double click, a retry without Idempotency-Key). Shared by
    every area that creates records; rows older than a minute are purged by activities.scheduled."""

    __tablename__ = "recent_submits"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
