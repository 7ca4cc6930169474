"""Tickets at a million: the queue, its counts and the board read indexes, not the scattered live rows.

The live (not archived) tickets are a twentieth of the table and spread over all of it (a ticket stuck
open for a year sits among closed ones), so a plan that visits every live row in the heap reads
~17,000 pages. Now:
- a stored priority rank (critical 0, high 1, normal 2) that the priority sort and the board's cards
  read in index order (an expression with bound parameters could not match an expression index);
- one covering index of the live tickets by status and rank, carrying every column the scope and
  the filters test: counts, the board's columns and the few-matches pages are index-only;
- the small created-by index goes (the planner walked it to visit every live row in the heap);
- newest first (and by number) in the archive walks the archived rows only;
- per-direction sort indexes (due time "empty last" both ways) and a trigram index of the live
  subjects, so the queue's search no longer rechecks the archive's matches;
- statistics targets and extended statistics, so a new sample does not move the estimates that
  pick these plans.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

LIVE = "archived_at IS NULL"
ARCHIVED = "archived_at IS NOT NULL"
RANK = "CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 ELSE 2 END"
COVERED = (
    "assignee_id",
    "created_by",
    "team_id",
    "category_id",
    "client_id",
    "priority",
    "number",
    "created_at",
    "updated_at",
    "first_response_due_at",
    "first_responded_at",
    "search_text",
)
TARGETS = ("status", "archived_at", "assignee_id", "created_by", "team_id", "category_id", "priority")


def upgrade() -> None:
    op.add_column(
        "tickets",
        sa.Column("priority_rank", sa.SmallInteger(), sa.Computed(RANK, persisted=True), nullable=False),
    )
    op.drop_index("ix_tickets_queue", table_name="tickets")
    # Its small size made it the planner's way to visit every live row (in the heap, ~17,000 pages) to
    # test the scope; the covering index below tests it index-only.
    op.drop_index("ix_tickets_live_created_by", table_name="tickets")
    op.create_index(
        "ix_tickets_live_status",
        "tickets",
        ["status", "priority_rank", "id"],
        postgresql_include=list(COVERED),
        postgresql_where=sa.text(LIVE),
    )
    op.create_index("ix_tickets_live_priority", "tickets", ["priority_rank", "id"], postgresql_where=sa.text(LIVE))
    # Newest first in the queue and in the archive: each walks its own rows (the archive's walk of the
    # whole table's created-at index stepped over every live ticket first: 25,000 pages).
    op.drop_index("ix_tickets_created_at", table_name="tickets")
    for name, where in (("live", LIVE), ("archived", ARCHIVED)):
        op.create_index(f"ix_tickets_{name}_created", "tickets", ["created_at", "id"], postgresql_where=sa.text(where))
    op.create_index("ix_tickets_archived_number", "tickets", ["number"], postgresql_where=sa.text(ARCHIVED))
    for way in ("asc", "desc"):
        op.create_index(
            f"ix_tickets_live_due_{way}",
            "tickets",
            [sa.text(f"first_response_due_at {way} NULLS LAST"), sa.text(f"id {way}")],
            postgresql_where=sa.text(LIVE),
        )
    op.create_index(
        "ix_tickets_live_search_trgm",
        "tickets",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
        postgresql_where=sa.text(LIVE),
    )
    for column in TARGETS:
        op.execute(f"ALTER TABLE tickets ALTER COLUMN {column} SET STATISTICS 1000")
    # A category routes to a team, an agent works in one: the filters together are not independent.
    op.execute(
        "CREATE STATISTICS st_tickets_people (dependencies, mcv) ON team_id, assignee_id, category_id FROM tickets"
    )
    # Open tickets are all live: estimated independently, "open and live" came out 20 times too few
    # (1,261 for 24,557) and the queue's first page sorted every open ticket instead of walking the
    # number index. The most common combinations carry (status, not archived) exactly.
    op.execute("CREATE STATISTICS st_tickets_state (mcv) ON status, priority, archived_at FROM tickets")
    op.execute("ANALYZE tickets")


def downgrade() -> None:
    op.execute("DROP STATISTICS IF EXISTS st_tickets_state")
    op.execute("DROP STATISTICS IF EXISTS st_tickets_people")
    for column in TARGETS:
        op.execute(f"ALTER TABLE tickets ALTER COLUMN {column} SET STATISTICS -1")
    op.drop_index("ix_tickets_live_search_trgm", table_name="tickets")
    for way in ("asc", "desc"):
        op.drop_index(f"ix_tickets_live_due_{way}", table_name="tickets")
    op.drop_index("ix_tickets_live_priority", table_name="tickets")
    op.drop_index("ix_tickets_archived_number", table_name="tickets")
    for name in ("live", "archived"):
        op.drop_index(f"ix_tickets_{name}_created", table_name="tickets")
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.drop_index("ix_tickets_live_status", table_name="tickets")
    op.create_index("ix_tickets_queue", "tickets", ["status", "priority", "created_at"], postgresql_where=sa.text(LIVE))
    op.create_index("ix_tickets_live_created_by", "tickets", ["created_by"], postgresql_where=sa.text(LIVE))
    op.drop_column("tickets", "priority_rank")
