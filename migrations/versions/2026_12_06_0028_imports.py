"""Imports: the imports table (file, mapping, choices, status, counts), the outcome of each row
number, the remembered mappings, an import_batch_id on the records an import creates or updates,
and the new `import` action for the built-in Admin role.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

BATCHED = ("leads", "clients", "contacts", "products")


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("file_hash", sa.String(64), nullable=False),
        sa.Column("file_data", sa.LargeBinary(), nullable=False),
        sa.Column("sheet", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), server_default="uploaded", nullable=False),
        sa.Column("mapping", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("winners", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("duplicate_mode", sa.String(20), server_default="skip", nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("rows_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("errors", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reverted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_imports_owner_id_users", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_imports_created_by_users", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
    )
    op.create_index("ix_imports_created_at", "imports", ["created_at"])
    op.create_index("ix_imports_file_hash", "imports", ["file_hash"])
    # The file is read whole, already compressed (.xlsx) or small: no second compression.
    op.execute("ALTER TABLE imports ALTER COLUMN file_data SET STORAGE EXTERNAL")
    op.create_table(
        "import_rows",
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("errors", postgresql.JSONB(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name="fk_import_rows_import_id_imports", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("import_id", "row", name="pk_import_rows"),
    )
    op.create_table(
        "import_mappings",
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("headers_hash", sa.String(64), nullable=False),
        sa.Column("mapping", postgresql.JSONB(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "headers_hash", name="pk_import_mappings"),
    )
    for table in BATCHED:
        op.add_column(table, sa.Column("import_batch_id", sa.BigInteger(), nullable=True))
    # The built-in Admin holds every action: now `import` too, in every module it has.
    op.execute(
        """
        UPDATE roles SET permissions = (
            SELECT coalesce(jsonb_object_agg(
                module,
                CASE WHEN grant_ -> 'actions' ? 'import' THEN grant_
                     ELSE jsonb_set(grant_, '{actions}', (grant_ -> 'actions') || '["import"]'::jsonb) END
            ), '{}'::jsonb)
            FROM jsonb_each(permissions) AS g(module, grant_)
        )
        WHERE builtin AND name = 'Admin'
        """
    )


def downgrade() -> None:
    op.execute(
        """
        UPDATE roles SET permissions = (
            SELECT coalesce(jsonb_object_agg(
                module, jsonb_set(grant_, '{actions}', (grant_ -> 'actions') - 'import')
            ), '{}'::jsonb)
            FROM jsonb_each(permissions) AS g(module, grant_)
        )
        """
    )
    for table in BATCHED:
        op.drop_column(table, "import_batch_id")
    op.drop_table("import_mappings")
    op.drop_table("import_rows")
    op.drop_index("ix_imports_file_hash", table_name="imports")
    op.drop_index("ix_imports_created_at", table_name="imports")
    op.drop_table("imports")
