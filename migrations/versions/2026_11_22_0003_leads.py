"""Leads, clients, contacts, pipelines, notes, follow-ups, assignment rules, notification preferences.

Seeds the default pipeline, the lost reasons and the lead sources. Needs pg_trgm (shipped with
PostgreSQL's contrib, trusted since PostgreSQL 13) for the similarity and search indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 21:19:19.490685
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


DEFAULT_STATUSES = [
    ("Open", "open"),
    ("First Contact", "open"),
    ("Connected", "open"),
    ("Demo Scheduled", "open"),
    ("Demo Given", "open"),
    ("Proposal Sent", "open"),
    ("Negotiation", "open"),
    ("On Hold", "open"),
    ("Integration Approved", "open"),
    ("Won", "won"),
    ("Lost", "lost"),
    ("Junk", "junk"),
]
LOST_REASONS = [
    ("Price too high", False),
    ("Went with competitor", False),
    ("Budget constraints", False),
    ("Timing not right", False),
    ("Feature gaps", False),
    ("Other", True),
]
LEAD_SOURCES = [
    "Facebook",
    "Website form",
    "Manual",
    "Partner referral",
    "Import",
    "Email",
    "Phone call",
    "WooCommerce",
    "Event",
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "lead_sources",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_sources")),
    )
    op.create_index("uq_lead_sources_name_lower", "lead_sources", [sa.literal_column("lower(name)")], unique=True)
    op.create_table(
        "lost_reasons",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("requires_text", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lost_reasons")),
    )
    op.create_index("uq_lost_reasons_name_lower", "lost_reasons", [sa.literal_column("lower(name)")], unique=True)
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
    )
    op.create_index(
        "uq_pipelines_default", "pipelines", ["is_default"], unique=True, postgresql_where=sa.text("is_default")
    )
    op.create_index("uq_pipelines_name_lower", "pipelines", [sa.literal_column("lower(name)")], unique=True)
    op.create_table(
        "recent_submits",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "fingerprint", name=op.f("pk_recent_submits")),
    )
    op.create_table(
        "assignment_cursors",
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("last_user_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_assignment_cursors_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_assignment_cursors")),
    )
    op.create_table(
        "pipeline_statuses",
        sa.Column("pipeline_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("kind IN ('open', 'won', 'lost', 'junk')", name=op.f("ck_pipeline_statuses_kind")),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_pipeline_statuses_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_statuses")),
    )
    op.create_index(
        "uq_pipeline_statuses_name", "pipeline_statuses", ["pipeline_id", sa.literal_column("lower(name)")], unique=True
    )
    op.create_table(
        "assignment_rules",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("territory", sa.String(length=100), nullable=True),
        sa.Column("product_interest", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_assignment_rules_target")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_assignment_rules_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_assignment_rules_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_rules")),
    )
    op.create_table(
        "clients",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column(
            "name_key",
            sa.String(length=300),
            sa.Computed("lower(regexp_replace(btrim(name), '\\s+', ' ', 'g'))", persisted=True),
            nullable=False,
        ),
        sa.Column("vat_number", sa.String(length=50), nullable=True),
        sa.Column("vat_key", sa.String(length=50), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("website", sa.String(length=300), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("is_vendor", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "search_text",
            sa.Text(),
            sa.Computed(
                "lower(name || ' ' || coalesce(vat_key, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_clients_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_clients_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_clients_team_id_teams"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )
    op.create_index("ix_clients_name_key", "clients", ["name_key"], unique=False)
    op.create_index("ix_clients_owner_id", "clients", ["owner_id"], unique=False)
    op.create_index(
        "ix_clients_search_trgm",
        "clients",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.create_index("ix_clients_team_id", "clients", ["team_id"], unique=False)
    op.create_index("uq_clients_vat_key", "clients", ["vat_key"], unique=True)
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "contacts",
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("position", sa.String(length=200), nullable=True),
        sa.Column(
            "search_text",
            sa.Text(),
            sa.Computed("lower(name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))", persisted=True),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_contacts_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index("ix_contacts_client_id", "contacts", ["client_id"], unique=False)
    op.create_index(
        "ix_contacts_search_trgm",
        "contacts",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.create_table(
        "leads",
        sa.Column("person_name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=300), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("partner_name", sa.String(length=200), nullable=True),
        sa.Column("partner_client_id", sa.BigInteger(), nullable=True),
        sa.Column("pipeline_id", sa.BigInteger(), nullable=False),
        sa.Column("status_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("territory", sa.String(length=100), nullable=True),
        sa.Column("product_interest", sa.String(length=200), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("lost_reason_id", sa.BigInteger(), nullable=True),
        sa.Column("lost_reason_text", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_client_id", sa.BigInteger(), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "search_text",
            sa.Text(),
            sa.Computed(
                "lower(person_name || ' ' || coalesce(company, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "company_key", sa.String(length=300), sa.Computed("lower(btrim(company))", persisted=True), nullable=True
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("value IS NULL OR value >= 0", name=op.f("ck_leads_value")),
        sa.ForeignKeyConstraint(
            ["converted_client_id"],
            ["clients.id"],
            name=op.f("fk_leads_converted_client_id_clients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_leads_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["lost_reason_id"], ["lost_reasons.id"], name=op.f("fk_leads_lost_reason_id_lost_reasons")
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["leads.id"], name=op.f("fk_leads_merged_into_id_leads"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_leads_owner_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["partner_client_id"], ["clients.id"], name=op.f("fk_leads_partner_client_id_clients"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"], name=op.f("fk_leads_pipeline_id_pipelines")),
        sa.ForeignKeyConstraint(
            ["status_id"], ["pipeline_statuses.id"], name=op.f("fk_leads_status_id_pipeline_statuses")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_leads_team_id_teams"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    op.create_index(
        "ix_leads_summary",
        "leads",
        ["pipeline_id", "status_id", "currency"],
        unique=False,
        postgresql_include=["value", "owner_id", "team_id"],
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index("ix_leads_updated_at", "leads", ["updated_at"], unique=False)
    op.create_index("ix_leads_person_name", "leads", ["person_name"], unique=False)
    op.create_index(
        "ix_leads_board",
        "leads",
        ["pipeline_id", "status_id", sa.literal_column("status_changed_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index(
        "ix_leads_company_trgm",
        "leads",
        ["company_key"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"company_key": "gin_trgm_ops"},
    )
    op.create_index("ix_leads_converted_client_id", "leads", ["converted_client_id"], unique=False)
    op.create_index("ix_leads_created_at", "leads", ["created_at"], unique=False)
    op.create_index("ix_leads_email_lower", "leads", [sa.literal_column("lower(email)")], unique=False)
    op.create_index("ix_leads_merged_into_id", "leads", ["merged_into_id"], unique=False)
    op.create_index(
        "ix_leads_owner",
        "leads",
        ["owner_id", "status_id"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index("ix_leads_phone", "leads", ["phone"], unique=False)
    op.create_index(
        "ix_leads_search_trgm",
        "leads",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.create_index("ix_leads_tags", "leads", ["tags"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_leads_team",
        "leads",
        ["team_id", "status_id"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_table(
        "follow_ups",
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.BigInteger(), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("kind IN ('call', 'email', 'whatsapp', 'meeting')", name=op.f("ck_follow_ups_kind")),
        sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name=op.f("ck_follow_ups_status")),
        sa.CheckConstraint("lead_id IS NOT NULL OR client_id IS NOT NULL", name=op.f("ck_follow_ups_parent")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_follow_ups_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["completed_by"], ["users.id"], name=op.f("fk_follow_ups_completed_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_follow_ups_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_follow_ups_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_follow_ups_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_follow_ups_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    op.create_index("ix_follow_ups_client", "follow_ups", ["client_id", "status", "due_at"], unique=False)
    op.create_index("ix_follow_ups_lead", "follow_ups", ["lead_id", "status", "due_at"], unique=False)
    op.create_index(
        "ix_follow_ups_open_due", "follow_ups", ["due_at"], unique=False, postgresql_where=sa.text("status = 'open'")
    )
    op.create_index("ix_follow_ups_owner_due", "follow_ups", ["owner_id", "due_at"], unique=False)
    op.create_table(
        "notes",
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("lead_id IS NOT NULL OR client_id IS NOT NULL", name=op.f("ck_notes_parent")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_notes_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_notes_lead_id_leads"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index("ix_notes_client", "notes", ["client_id", "created_at"], unique=False)
    op.create_index("ix_notes_lead", "notes", ["lead_id", "created_at"], unique=False)
    _seed()


def _seed() -> None:
    op.execute("INSERT INTO pipelines (name, is_default) VALUES ('Sales', true)")
    values = ", ".join(f"('{name}', {i}, '{kind}')" for i, (name, kind) in enumerate(DEFAULT_STATUSES))
    op.execute(f"""
        INSERT INTO pipeline_statuses (pipeline_id, name, position, kind)
        SELECT p.id, v.name, v.position, v.kind FROM pipelines p, (VALUES {values}) AS v(name, position, kind)
        WHERE p.is_default
    """)
    reasons = sa.table(
        "lost_reasons",
        sa.column("name", sa.String),
        sa.column("requires_text", sa.Boolean),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(reasons, [{"name": n, "requires_text": t, "position": i} for i, (n, t) in enumerate(LOST_REASONS)])
    sources = sa.table("lead_sources", sa.column("name", sa.String), sa.column("position", sa.Integer))
    op.bulk_insert(sources, [{"name": n, "position": i} for i, n in enumerate(LEAD_SOURCES)])


def downgrade() -> None:
    op.drop_index("ix_notes_lead", table_name="notes")
    op.drop_index("ix_notes_client", table_name="notes")
    op.drop_table("notes")
    op.drop_index("ix_follow_ups_owner_due", table_name="follow_ups")
    op.drop_index("ix_follow_ups_open_due", table_name="follow_ups", postgresql_where=sa.text("status = 'open'"))
    op.drop_index("ix_follow_ups_lead", table_name="follow_ups")
    op.drop_index("ix_follow_ups_client", table_name="follow_ups")
    op.drop_table("follow_ups")
    op.drop_index("ix_leads_team", table_name="leads", postgresql_where=sa.text("archived_at IS NULL"))
    op.drop_index("ix_leads_tags", table_name="leads", postgresql_using="gin")
    op.drop_index(
        "ix_leads_search_trgm",
        table_name="leads",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.drop_index("ix_leads_phone", table_name="leads")
    op.drop_index("ix_leads_owner", table_name="leads", postgresql_where=sa.text("archived_at IS NULL"))
    op.drop_index("ix_leads_merged_into_id", table_name="leads")
    op.drop_index("ix_leads_email_lower", table_name="leads")
    op.drop_index("ix_leads_created_at", table_name="leads")
    op.drop_index("ix_leads_converted_client_id", table_name="leads")
    op.drop_index(
        "ix_leads_company_trgm",
        table_name="leads",
        postgresql_using="gin",
        postgresql_ops={"company_key": "gin_trgm_ops"},
    )
    op.drop_index("ix_leads_board", table_name="leads", postgresql_where=sa.text("archived_at IS NULL"))
    op.drop_table("leads")
    op.drop_index(
        "ix_contacts_search_trgm",
        table_name="contacts",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.drop_index("ix_contacts_client_id", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("notification_preferences")
    op.drop_index("uq_clients_vat_key", table_name="clients")
    op.drop_index("ix_clients_team_id", table_name="clients")
    op.drop_index(
        "ix_clients_search_trgm",
        table_name="clients",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.drop_index("ix_clients_owner_id", table_name="clients")
    op.drop_index("ix_clients_name_key", table_name="clients")
    op.drop_table("clients")
    op.drop_table("assignment_rules")
    op.drop_index("uq_pipeline_statuses_name", table_name="pipeline_statuses")
    op.drop_table("pipeline_statuses")
    op.drop_table("assignment_cursors")
    op.drop_table("recent_submits")
    op.drop_index("uq_pipelines_name_lower", table_name="pipelines")
    op.drop_index("uq_pipelines_default", table_name="pipelines", postgresql_where=sa.text("is_default"))
    op.drop_table("pipelines")
    op.drop_index("uq_lost_reasons_name_lower", table_name="lost_reasons")
    op.drop_table("lost_reasons")
    op.drop_index("uq_lead_sources_name_lower", table_name="lead_sources")
    op.drop_table("lead_sources")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
