"""Imports in one pass (issue #19): the dry run's converted rows kept for the commit job.

import_staging says for which file, sheet, mapping, choices and lookups the rows were converted (a
signature); import_staged_rows holds each row's converted values and its problems found in the file.
Both UNLOGGED: they are a cache. After a crash of PostgreSQL they are empty and the job converts the
file again; the job removes them when the import ends.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE UNLOGGED TABLE import_staging (
            import_id bigint PRIMARY KEY REFERENCES imports (id) ON DELETE CASCADE,
            signature varchar(64) NOT NULL,
            key_columns jsonb NOT NULL DEFAULT '{}'::jsonb,
            rows integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE UNLOGGED TABLE import_staged_rows (
            import_id bigint NOT NULL REFERENCES import_staging (import_id) ON DELETE CASCADE,
            row integer NOT NULL,
            data jsonb NOT NULL,
            problems jsonb,
            PRIMARY KEY (import_id, row)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE import_staged_rows")
    op.execute("DROP TABLE import_staging")
