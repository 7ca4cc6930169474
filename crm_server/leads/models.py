"""Tables of the leads area: pipelines and their statuses, leads, and the admin lists around them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin

STATUS_KINDS = ("open", "won", "lost", "junk")
LEAD_SEARCH = (
    "lower(person_name || ' ' || coalesce(company, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))"
)
# The company as a duplicate check compares it: lower case, no dots or punctuation, no legal form
# ("Intelligent Systems S.R.L." and "intelligent systems srl" are one company). NULL when nothing is left.
LEGAL_FORMS = (
    "srl|srld|srls|sa|sas|sarl|sc|snc|pfa|ii|if|llc|llp|ltd|limited|inc|incorporated|corp|corporation|co|company"
    "|plc|gmbh|ag|kg|ohg|ug|bv|nv|spa|sl|oy|ab|as|aps|kft|sro|doo"
)
COMPANY_KEY = (
    "nullif(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(company), '[.'']', '', 'g'),"
    f" '[[:punct:][:space:]]+', ' ', 'g'), '\\m({LEGAL_FORMS})\\M', ' ', 'g'), '\\s+', ' ', 'g')), '')"
)


class Pipeline(IdMixin, TimestampsMixin, Versioned, Base):
    __tablename__ = "pipelines"
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, server_default="false")
    __table_args__ = (
        Index("uq_pipelines_name_lower", func.lower(name), unique=True),
        # At most one default pipeline: where new leads go when none is named.
        Index("uq_pipelines_default", "is_default", unique=True, postgresql_where=text("is_default")),
    )


class PipelineStatus(IdMixin, TimestampsMixin, Versioned, Base):
    """A column of the board. `kind` says what reaching it means (won converts, lost needs a reason)."""

    __tablename__ = "pipeline_statuses"
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10), server_default="open")
    # Percent chance a lead here is won (the weighted forecast of the reports; migration 0030).
    win_probability: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default="0")
    __table_args__ = (
        Index("uq_pipeline_statuses_name", "pipeline_id", func.lower(name), unique=True),
        CheckConstraint("kind IN ('open', 'won', 'lost', 'junk')", name="kind"),
        CheckConstraint("win_probability BETWEEN 0 AND 100", name="win_probability"),
    )


class LostReason(IdMixin, TimestampsMixin, Versioned, Base):
    """Why deals are lost (reports analyse them); "Other" asks for the reason in words."""

    __tablename__ = "lost_reasons"
    name: Mapped[str] = mapped_column(String(100))
    requires_text: Mapped[bool] = mapped_column(Boolean, server_default="false")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    __table_args__ = (Index("uq_lost_reasons_name_lower", func.lower(name), unique=True),)


class LeadSource(IdMixin, TimestampsMixin, Versioned, Base):
    """The sources offered in pickers; a lead's source is text, so an integration may bring a new one."""

    __tablename__ = "lead_sources"
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    __table_args__ = (Index("uq_lead_sources_name_lower", func.lower(name), unique=True),)


# What the reports count of leads created or closed in a range's part-months, carried by the
# created_at and closed_at indexes (index-only scans, migration 0040); reached_status_ids last.
CREATED_COUNTED = (
    "archived_at",
    "pipeline_id",
    "status_id",
    "currency",
    "owner_id",
    "team_id",
    "source",
    "value",
    "reached_status_ids",
)


class Lead(IdMixin, TimestampsMixin, Versioned, Base):
    __tablename__ = "leads"
    person_name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    source: Mapped[str | None] = mapped_column(String(100))
    # Where an integration found the lead (Facebook: page_id, form_id, ad_id, leadgen_id), shown on it.
    source_details: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    partner_name: Mapped[str | None] = mapped_column(String(200))
    partner_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    status_id: Mapped[int] = mapped_column(ForeignKey("pipeline_statuses.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    territory: Mapped[str | None] = mapped_column(String(100))
    product_interest: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    lost_reason_id: Mapped[int | None] = mapped_column(ForeignKey("lost_reasons.id"))
    lost_reason_text: Mapped[str | None] = mapped_column(Text)
    # When the lead entered its current status: the card's "in this column since".
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Every status the lead has been in, sorted (kept by a trigger, migration 0040): the sales funnel.
    reached_status_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    # The status it left last (kept by the same trigger): a lost lead's stage lost from.
    previous_status_id: Mapped[int | None] = mapped_column(BigInteger)
    converted_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The import that created or last updated it (imports/ reverts by it).
    import_batch_id: Mapped[int | None] = mapped_column(BigInteger)
    search_text: Mapped[str] = mapped_column(Text, Computed(LEAD_SEARCH, persisted=True))
    company_key: Mapped[str | None] = mapped_column(String(300), Computed(COMPANY_KEY, persisted=True))
    __table_args__ = (
        # The board: one column's page is an index range scan in card order.
        Index(
            "ix_leads_board",
            "pipeline_id",
            "status_id",
            text("status_changed_at DESC"),
            text("id DESC"),
            postgresql_where=text("archived_at IS NULL"),
        ),
        # The board's counts and totals: an index-only scan (scope columns included).
        Index(
            "ix_leads_summary",
            "pipeline_id",
            "status_id",
            "currency",
            postgresql_include=["value", "owner_id", "team_id"],
            postgresql_where=text("archived_at IS NULL"),
        ),
        Index("ix_leads_owner", "owner_id", "status_id", postgresql_where=text("archived_at IS NULL")),
        Index("ix_leads_team", "team_id", "status_id", postgresql_where=text("archived_at IS NULL")),
        # A salesperson's or a team's list, newest first: their own rows in order, not a walk of everyone's.
        Index(
            "ix_leads_owner_created",
            "owner_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("archived_at IS NULL"),
        ),
        Index(
            "ix_leads_team_created",
            "team_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("archived_at IS NULL"),
        ),
        # The list's usual sorts (the other sortable columns sort the filtered rows).
        # By creation time, carrying what the reports count (index-only: a range's part-months of
        # leads created, migration 0040).
        Index("ix_leads_created_at", "created_at", postgresql_include=list(CREATED_COUNTED)),
        # The lost deals report: leads closed in a range (migration 0030).
        Index(
            "ix_leads_closed_at",
            "closed_at",
            postgresql_include=[*CREATED_COUNTED[:-1], "lost_reason_id", "previous_status_id"],
            postgresql_where=text("closed_at IS NOT NULL"),
        ),
        Index(
            "ix_leads_converted_created",
            "created_at",
            postgresql_where=text("converted_client_id IS NOT NULL AND archived_at IS NULL"),
        ),
        # The funnel's samples of a large range (its median times in stage): one lead in 16, 64, ...
        *(
            Index(
                f"ix_leads_sample_{every}",
                "pipeline_id",
                "created_at",
                postgresql_include=["id", "owner_id", "team_id", "source"],
                postgresql_where=text(f"(hashint8(id) & {every - 1}) = 0 AND archived_at IS NULL"),
            )
            for every in (16, 64, 256, 1024)
        ),
        Index("ix_leads_updated_at", "updated_at"),
        Index("ix_leads_person_name", "person_name"),
        # The list's sorts on columns that may be empty ("empty last" both ways): one index per
        # direction, so a first page is an index range and never a sort of every live lead.
        *(
            Index(
                f"ix_leads_{name}_{way}",
                text(f"{name} {way} NULLS LAST"),
                text(f"id {way}"),
                postgresql_where=text("archived_at IS NULL"),
            )
            for name in ("company", "value", "expected_close_date")
            for way in ("asc", "desc")
        ),
        Index("ix_leads_email_lower", func.lower(email)),
        Index("ix_leads_phone", "phone"),
        # One lead per Facebook lead: a replayed leadgen event finds it instead of making a second.
        Index(
            "uq_leads_leadgen_id",
            text("(source_details ->> 'leadgen_id')"),
            unique=True,
            postgresql_where=text("(source_details ->> 'leadgen_id') IS NOT NULL"),
        ),
        Index("ix_leads_converted_client_id", "converted_client_id"),
        Index("ix_leads_merged_into_id", "merged_into_id"),
        Index("ix_leads_tags", "tags", postgresql_using="gin"),
        Index(
            "ix_leads_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        # Duplicates: colleagues at one company are an index range, bounded by the company's size.
        Index("ix_leads_company_key", "company_key", postgresql_where=text("merged_into_id IS NULL")),
        CheckConstraint("value IS NULL OR value >= 0", name="value"),
    )


# The board's column counts and totals per pipeline, stage, currency, owner and team, kept by the
# triggers of migration 0027 (never written by the application): an unfiltered board reads these.
lead_board_counts = Table(
    "lead_board_counts",
    Base.metadata,
    Column("pipeline_id", Integer, nullable=False),
    Column("status_id", Integer, nullable=False),
    Column("currency", String(3)),
    Column("owner_id", Integer),
    Column("team_id", Integer),
    Column("leads", BigInteger, nullable=False),
    Column("value", Numeric, nullable=False),
    Column("valued", BigInteger, nullable=False),
    Column("dated", BigInteger, nullable=False, server_default="0"),  # with an expected close date (0040)
    UniqueConstraint(
        "pipeline_id",
        "status_id",
        "currency",
        "owner_id",
        "team_id",
        name="uq_lead_board_counts",
        postgresql_nulls_not_distinct=True,
    ),
)


# The live leads per UTC month of creation, pipeline, status, currency, owner, team, source and the
# statuses they reached, with their value; kept by the triggers of migration 0040 (never written by
# the application): the sales funnel and the lead sources read these for a range's whole months.
lead_month_counts = Table(
    "lead_month_counts",
    Base.metadata,
    Column("month", Date, nullable=False),
    Column("pipeline_id", Integer, nullable=False),
    Column("status_id", Integer, nullable=False),
    Column("currency", String(3)),
    Column("owner_id", Integer),
    Column("team_id", Integer),
    Column("source", String(100)),
    Column("reached", ARRAY(BigInteger), nullable=False),
    Column("leads", BigInteger, nullable=False),
    Column("value", Numeric, nullable=False),
    UniqueConstraint(
        "month",
        "pipeline_id",
        "status_id",
        "currency",
        "owner_id",
        "team_id",
        "source",
        "reached",
        name="uq_lead_month_counts",
        postgresql_nulls_not_distinct=True,
    ),
)


# The live closed leads per UTC month of closing, pipeline, status, currency, owner, team, source,
# lost reason and the status they left last, with their value; kept by the triggers of migration
# 0040: lost deals read these for a range's whole months.
lead_closed_counts = Table(
    "lead_closed_counts",
    Base.metadata,
    Column("month", Date, nullable=False),
    Column("pipeline_id", Integer, nullable=False),
    Column("status_id", Integer, nullable=False),
    Column("currency", String(3)),
    Column("owner_id", Integer),
    Column("team_id", Integer),
    Column("source", String(100)),
    Column("lost_reason_id", Integer),
    Column("previous_status_id", Integer),
    Column("leads", BigInteger, nullable=False),
    Column("value", Numeric, nullable=False),
    UniqueConstraint(
        "month",
        "pipeline_id",
        "status_id",
        "currency",
        "owner_id",
        "team_id",
        "source",
        "lost_reason_id",
        "previous_status_id",
        name="uq_lead_closed_counts",
        postgresql_nulls_not_distinct=True,
    ),
)


class AssignmentRule(IdMixin, TimestampsMixin, Versioned, Base):
    """Who gets a new lead nobody owns: the first active rule (by position) whose criteria all match
    gives it to `user_id`, or round-robin among the active members of `team_id`."""

    __tablename__ = "assignment_rules"
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    source: Mapped[str | None] = mapped_column(String(100))
    territory: Mapped[str | None] = mapped_column(String(100))
    product_interest: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="target"),)


class AssignmentCursor(Base):
    """Round-robin state per team: the member who got the last lead. Locked (FOR UPDATE) while the
    next one is chosen, so two leads arriving together go to two different people."""

    __tablename__ = "assignment_cursors"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    last_user_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
