"""Alembic environment: the schema changes only through these migrations."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from crm_server.config import to_sqlalchemy_url
from crm_server.models import metadata

config = context.config


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # procrastinate's own tables live in our database but are not ours to diff.
    return not (name or "").startswith("procrastinate")


def run() -> None:
    url = to_sqlalchemy_url(config.get_main_option("sqlalchemy.url") or "")
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _migrate(conn)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


run()
