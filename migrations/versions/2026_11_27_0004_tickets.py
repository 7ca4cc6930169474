"""Support tickets: categories (mapped to teams), tickets, comments, attachments, customer emails.

Ticket numbers come from a sequence starting at 1000 (shown as #1000). Attachments are stored in
the database (bytea): they commit with the ticket, travel with every backup, and every server
process behind a load balancer sees them without a shared folder. The categories are seeded without
a team; the demo generator (or an admin) maps them to teams.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CATEGORIES = ["Sync issue", "Product bug", "Feature request", "Data problem", "General"]


def _stamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE SEQUENCE ticket_number_seq START WITH 1000")
    op.create_table(
        "ticket_categories",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        *_stamps(),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_ticket_categories_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_categories")),
    )
    op.create_index(
        "uq_ticket_categories_name_lower", "ticket_categories", [sa.literal_column("lower(name)")], unique=True
    )
    op.create_table(
        "tickets",
        sa.Column("number", sa.BigInteger(), server_default=sa.text("nextval('ticket_number_seq')"), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_email", sa.String(length=320), nullable=True),
        sa.Column("priority", sa.String(length=10), server_default="normal", nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="new", nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breach_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.Text(), sa.Computed("lower(subject)", persisted=True), nullable=False),
        *_stamps(),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("priority IN ('normal', 'high', 'critical')", name=op.f("ck_tickets_priority")),
        sa.CheckConstraint(
            "status IN ('new', 'assigned', 'in_process', 'pending_customer', 'resolved', 'deployed', 'closed')",
            name=op.f("ck_tickets_status"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_tickets_assignee_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["ticket_categories.id"],
            name=op.f("fk_tickets_category_id_ticket_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_tickets_client_id_clients"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_tickets_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_tickets_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_tickets_team_id_teams"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.execute("ALTER SEQUENCE ticket_number_seq OWNED BY tickets.number")
    op.create_index("uq_tickets_number", "tickets", ["number"], unique=True)
    op.create_index(
        "ix_tickets_queue",
        "tickets",
        ["status", "priority", "created_at"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index(
        "ix_tickets_team",
        "tickets",
        ["team_id", "status", "created_at"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index(
        "ix_tickets_assignee",
        "tickets",
        ["assignee_id", "status", "created_at"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"], unique=False)
    op.create_index("ix_tickets_client_id", "tickets", ["client_id"], unique=False)
    # The queue sorted by last change, and the team scope's "or created by me" (bench_tickets plans).
    op.create_index(
        "ix_tickets_live_updated",
        "tickets",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index(
        "ix_tickets_live_created_by",
        "tickets",
        ["created_by"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_index(
        "ix_tickets_first_response_due",
        "tickets",
        ["first_response_due_at"],
        unique=False,
        postgresql_where=sa.text("first_responded_at IS NULL AND archived_at IS NULL"),
    )
    op.create_index(
        "ix_tickets_closed_at",
        "tickets",
        ["closed_at"],
        unique=False,
        postgresql_where=sa.text("status = 'closed' AND archived_at IS NULL"),
    )
    op.create_index(
        "ix_tickets_search_trgm",
        "tickets",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.create_index("ix_tickets_tags", "tickets", ["tags"], unique=False, postgresql_using="gin")
    op.create_table(
        "ticket_comments",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("author_email", sa.String(length=320), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), server_default="false", nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_ticket_comments_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_comments_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
    )
    op.create_index("ix_ticket_comments_ticket", "ticket_comments", ["ticket_id", "created_at"], unique=False)
    op.create_table(
        "ticket_attachments",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.BigInteger(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["ticket_comments.id"],
            name=op.f("fk_ticket_attachments_comment_id_ticket_comments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_attachments_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_ticket_attachments_uploaded_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
    )
    op.create_index("ix_ticket_attachments_ticket", "ticket_attachments", ["ticket_id"], unique=False)
    op.create_table(
        "ticket_emails",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        *_stamps(),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f("ck_ticket_emails_status")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_emails_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_emails")),
    )
    op.create_index("ix_ticket_emails_ticket", "ticket_emails", ["ticket_id", "created_at"], unique=False)
    categories = sa.table("ticket_categories", sa.column("name", sa.String), sa.column("position", sa.Integer))
    op.bulk_insert(categories, [{"name": n, "position": i} for i, n in enumerate(CATEGORIES)])


def downgrade() -> None:
    op.drop_index("ix_ticket_emails_ticket", table_name="ticket_emails")
    op.drop_table("ticket_emails")
    op.drop_index("ix_ticket_attachments_ticket", table_name="ticket_attachments")
    op.drop_table("ticket_attachments")
    op.drop_index("ix_ticket_comments_ticket", table_name="ticket_comments")
    op.drop_table("ticket_comments")
    op.drop_index("ix_tickets_tags", table_name="tickets", postgresql_using="gin")
    op.drop_index(
        "ix_tickets_search_trgm",
        table_name="tickets",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.drop_index(
        "ix_tickets_closed_at",
        table_name="tickets",
        postgresql_where=sa.text("status = 'closed' AND archived_at IS NULL"),
    )
    op.drop_index(
        "ix_tickets_first_response_due",
        table_name="tickets",
        postgresql_where=sa.text("first_responded_at IS NULL AND archived_at IS NULL"),
    )
    op.drop_index("ix_tickets_live_created_by", table_name="tickets")
    op.drop_index("ix_tickets_live_updated", table_name="tickets")
    op.drop_index("ix_tickets_client_id", table_name="tickets")
    op.drop_index("ix_tickets_created_at", table_name="tickets")
    op.drop_index("ix_tickets_assignee", table_name="tickets", postgresql_where=sa.text("archived_at IS NULL"))
    op.drop_index("ix_tickets_team", table_name="tickets", postgresql_where=sa.text("archived_at IS NULL"))
    op.drop_index("ix_tickets_queue", table_name="tickets", postgresql_where=sa.text("archived_at IS NULL"))
    op.drop_index("uq_tickets_number", table_name="tickets")
    op.drop_table("tickets")
    op.execute("DROP SEQUENCE IF EXISTS ticket_number_seq")
    op.drop_index("uq_ticket_categories_name_lower", table_name="ticket_categories")
    op.drop_table("ticket_categories")
