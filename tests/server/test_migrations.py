"""The schema changes only through alembic: every migration upgrades and downgrades cleanly, and
the models match what the migrations build."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from crm_server import migrate
from crm_server.config import to_sqlalchemy_url
from crm_server.models import metadata
from tests.support import make_url

SCHEMA_QUERY = """
    SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname <> 'alembic_version'
              AND relname <> 'alembic_version_pkc'),
           (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace),
           (SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype IN ('e', 'c')
              AND typname NOT LIKE '%alembic%')
"""


def _fresh(pg_cluster, name: str) -> str:  # type: ignore[no-untyped-def]
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(pg_cluster.admin_url, name)


def test_each_migration_upgrades_and_downgrades(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = _fresh(pg_cluster, "migrations_walk")
    cfg = migrate.alembic_config(url)
    revisions = [r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()][::-1]
    assert revisions, "no migrations found"
    for revision in revisions:
        migrate.upgrade(url, revision)
        migrate.downgrade(url, "-1")
        migrate.upgrade(url, revision)
    migrate.downgrade(url, "base")
    with psycopg.connect(url) as conn:
        assert conn.execute(SCHEMA_QUERY).fetchone() == (0, 0, 0), "downgrade to base left objects behind"
    migrate.upgrade(url)
    assert migrate.current_and_head(url)[0] == revisions[-1]


def test_models_match_migrations(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = _fresh(pg_cluster, "migrations_drift")
    migrate.upgrade(url)
    engine = create_engine(to_sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, *_: not (name or "").startswith("procrastinate"),
            },
        )
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
