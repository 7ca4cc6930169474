"""Counts kept for reports and Home at a million rows (issue #20).

Each kept table is maintained as `lead_board_counts` is (migration 0027): statement-level triggers
with transition tables add a statement's changes (new rows counted +1, old rows -1) in one upsert per
bucket, in key order, in the same transaction: the counts are never behind what they count, a COPY
or a bulk edit costs one upsert per bucket, and a save that changes nothing counted writes nothing.

- `follow_up_day_counts`: follow-ups per UTC day, state, kind, owner and team (a done one on the day
  it was done, an open one on the day it is due): team activity, the daily summary and Home.
- `lead_month_counts`: live leads per UTC month of creation, pipeline, status, currency, owner, team,
  source and statuses reached, with their value: the sales funnel and lead sources.
- `lead_closed_counts`: live closed leads per UTC month of closing, pipeline, status, currency,
  owner, team, source, lost reason and the status they left last, with their value: lost deals.
- `lead_board_counts.dated`: the board's leads that have an expected close date (the forecast's
  "open, no close date").

A report reads a range's whole months from these and its first and last part-months from the rows
themselves, through covering indexes (`ix_leads_created_at`, `ix_leads_closed_at`), so a year of a
million leads is a few tens of thousands of rows. Two columns are kept on each lead by a row
trigger as its status changes: `reached_status_ids` (every status it has been in, sorted) and
`previous_status_id` (the one it left last); both are filled from lead_status_history, in one pass
over the leads with their own triggers off (minutes at a million leads: plan the upgrade).

The funnel's median times in stage of a large range come from a sample of its leads (one in 16, 64,
256 or 1024, by a hash of the id), each with a partial index (`ix_leads_sample_*`); a lead's moves
are read from `ix_lead_status_history_lead` alone (it now carries where each move went). Home's
overdue invoices and the receivables report read `ix_invoices_open_due` alone. Lead sources find
the converted leads by `ix_leads_converted_created`.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

Rows = Callable[[str, str], str]  # (table, sign) -> SELECT of the key and the signed measures


def _keep(counts: str, source: str, key: str, measures: tuple[str, ...], rows: Rows) -> None:
    """Triggers on `source` keeping `counts` (key + measures), and `counts` filled from `source`."""
    sums = ", ".join(f"sum({m})" for m in measures)
    listed = ", ".join(measures)

    def function(name: str, changes: str) -> str:
        return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {counts} AS c ({key}, {listed})
    SELECT {key}, {sums} FROM ({changes}) AS d
     GROUP BY {key}
    HAVING {" OR ".join(f"sum({m}) <> 0" for m in measures)}
     ORDER BY {key}
        ON CONFLICT ({key}) DO UPDATE SET {", ".join(f"{m} = c.{m} + excluded.{m}" for m in measures)};
    RETURN NULL;
END $$"""

    new, old = f"new_{source}", f"old_{source}"
    op.execute(function(f"{counts}_insert", rows(new, "")))
    op.execute(function(f"{counts}_delete", rows(old, "-")))
    op.execute(function(f"{counts}_update", f"{rows(new, '')} UNION ALL {rows(old, '-')}"))
    op.execute(
        f"CREATE FUNCTION {counts}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN DELETE FROM {counts}; RETURN NULL; END $$"
    )
    for event, tables in (
        ("INSERT", f"NEW TABLE AS {new}"),
        ("DELETE", f"OLD TABLE AS {old}"),
        ("UPDATE", f"OLD TABLE AS {old} NEW TABLE AS {new}"),
    ):
        op.execute(
            f"CREATE TRIGGER {counts}_{event.lower()} AFTER {event} ON {source} REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {counts}_{event.lower()}()"
        )
    op.execute(
        f"CREATE TRIGGER {counts}_truncate AFTER TRUNCATE ON {source} FOR EACH STATEMENT"
        f" EXECUTE FUNCTION {counts}_truncate()"
    )
    op.execute(
        f"INSERT INTO {counts} ({key}, {listed}) SELECT {key}, {sums} FROM ({rows(source, '')}) AS d GROUP BY {key}"
    )


def _unkeep(counts: str, source: str) -> None:
    for event in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER {counts}_{event} ON {source}")
        op.execute(f"DROP FUNCTION {counts}_{event}()")
    op.execute(f"DROP TABLE {counts}")


# --- follow-ups per day ---------------------------------------------------------------------------

FOLLOW_UP_KEY = "day, state, kind, owner_id, team_id"


def _follow_up_rows(table: str, sign: str) -> str:
    day = (
        "CASE WHEN status = 'done' THEN (completed_at AT TIME ZONE 'UTC')::date"
        " ELSE (due_at AT TIME ZONE 'UTC')::date END"
    )
    return (
        f"SELECT {day} AS day, status AS state, kind, owner_id, team_id, {sign}1 AS n FROM {table}"
        " WHERE status = 'open' OR (status = 'done' AND completed_at IS NOT NULL)"
    )


def _follow_up_counts() -> None:
    op.execute(
        f"""
CREATE TABLE follow_up_day_counts (
    day date NOT NULL,
    state varchar(10) NOT NULL,
    kind varchar(20) NOT NULL,
    owner_id integer,
    team_id integer,
    n bigint NOT NULL,
    CONSTRAINT uq_follow_up_day_counts UNIQUE NULLS NOT DISTINCT ({FOLLOW_UP_KEY})
)"""
    )
    _keep("follow_up_day_counts", "follow_ups", FOLLOW_UP_KEY, ("n",), _follow_up_rows)


# --- leads: what each reached, per month created and closed ---------------------------------------

CREATED_KEY = "month, pipeline_id, status_id, currency, owner_id, team_id, source, reached"
CLOSED_KEY = "month, pipeline_id, status_id, currency, owner_id, team_id, source, lost_reason_id, previous_status_id"
COUNTED = "archived_at, pipeline_id, status_id, currency, owner_id, team_id, source, value"
SAMPLES = (16, 64, 256, 1024)


def _month(column: str) -> str:
    return f"date_trunc('month', {column} AT TIME ZONE 'UTC')::date"


def _created_rows(table: str, sign: str) -> str:
    return (
        f"SELECT {_month('created_at')} AS month, pipeline_id, status_id, currency, owner_id, team_id, source,"
        f" reached_status_ids AS reached, {sign}1 AS leads, {sign}coalesce(value, 0) AS value"
        f" FROM {table} WHERE archived_at IS NULL"
    )


def _closed_rows(table: str, sign: str) -> str:
    return (
        f"SELECT {_month('closed_at')} AS month, pipeline_id, status_id, currency, owner_id, team_id, source,"
        f" lost_reason_id, previous_status_id, {sign}1 AS leads, {sign}coalesce(value, 0) AS value"
        f" FROM {table} WHERE archived_at IS NULL AND closed_at IS NOT NULL"
    )


def _lead_columns() -> None:
    op.execute("ALTER TABLE leads ADD COLUMN reached_status_ids bigint[] NOT NULL DEFAULT '{}'")
    op.execute("ALTER TABLE leads ADD COLUMN previous_status_id bigint")
    op.execute("ALTER TABLE leads DISABLE TRIGGER USER")
    op.execute(
        """
UPDATE leads l SET reached_status_ids = h.reached, previous_status_id = h.previous
  FROM (SELECT lead_id, array_agg(DISTINCT to_status_id ORDER BY to_status_id) AS reached,
               (array_agg(from_status_id ORDER BY at DESC, id DESC))[1] AS previous
          FROM lead_status_history GROUP BY lead_id) AS h
 WHERE h.lead_id = l.id"""
    )
    op.execute("UPDATE leads SET reached_status_ids = ARRAY[status_id] WHERE NOT status_id = ANY(reached_status_ids)")
    op.execute("ALTER TABLE leads ENABLE TRIGGER USER")
    op.execute(
        """
CREATE FUNCTION leads_status_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status_id IS DISTINCT FROM OLD.status_id THEN
        NEW.previous_status_id := OLD.status_id;
    END IF;
    IF NOT NEW.status_id = ANY(NEW.reached_status_ids) THEN
        NEW.reached_status_ids := ARRAY(
            SELECT DISTINCT s FROM unnest(NEW.reached_status_ids || NEW.status_id::bigint) AS s ORDER BY s);
    END IF;
    RETURN NEW;
END $$"""
    )
    op.execute(
        "CREATE TRIGGER leads_status_kept BEFORE INSERT OR UPDATE OF status_id, reached_status_ids ON leads"
        " FOR EACH ROW EXECUTE FUNCTION leads_status_kept()"
    )


def _lead_counts() -> None:
    _lead_columns()
    op.execute(
        f"""
CREATE TABLE lead_month_counts (
    month date NOT NULL,
    pipeline_id integer NOT NULL,
    status_id integer NOT NULL,
    currency varchar(3),
    owner_id integer,
    team_id integer,
    source varchar(100),
    reached bigint[] NOT NULL,
    leads bigint NOT NULL,
    value numeric NOT NULL,
    CONSTRAINT uq_lead_month_counts UNIQUE NULLS NOT DISTINCT ({CREATED_KEY})
)"""
    )
    _keep("lead_month_counts", "leads", CREATED_KEY, ("leads", "value"), _created_rows)
    op.execute(
        f"""
CREATE TABLE lead_closed_counts (
    month date NOT NULL,
    pipeline_id integer NOT NULL,
    status_id integer NOT NULL,
    currency varchar(3),
    owner_id integer,
    team_id integer,
    source varchar(100),
    lost_reason_id integer,
    previous_status_id integer,
    leads bigint NOT NULL,
    value numeric NOT NULL,
    CONSTRAINT uq_lead_closed_counts UNIQUE NULLS NOT DISTINCT ({CLOSED_KEY})
)"""
    )
    _keep("lead_closed_counts", "leads", CLOSED_KEY, ("leads", "value"), _closed_rows)
    op.execute("DROP INDEX ix_leads_created_at")
    op.execute(f"CREATE INDEX ix_leads_created_at ON leads (created_at) INCLUDE ({COUNTED}, reached_status_ids)")
    op.execute("DROP INDEX ix_leads_closed_at")
    op.execute(
        f"CREATE INDEX ix_leads_closed_at ON leads (closed_at) INCLUDE ({COUNTED}, lost_reason_id, previous_status_id)"
        " WHERE closed_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_leads_converted_created ON leads (created_at)"
        " WHERE converted_client_id IS NOT NULL AND archived_at IS NULL"
    )
    op.execute("DROP INDEX ix_lead_status_history_lead")
    op.execute(
        "CREATE INDEX ix_lead_status_history_lead ON lead_status_history (lead_id, at, id) INCLUDE (to_status_id)"
    )
    for every in SAMPLES:
        op.execute(
            f"CREATE INDEX ix_leads_sample_{every} ON leads (pipeline_id, created_at)"
            f" INCLUDE (id, owner_id, team_id, source) WHERE (hashint8(id) & {every - 1}) = 0 AND archived_at IS NULL"
        )


def _drop_lead_counts() -> None:
    for every in SAMPLES:
        op.execute(f"DROP INDEX ix_leads_sample_{every}")
    op.execute("DROP INDEX ix_lead_status_history_lead")
    op.execute("CREATE INDEX ix_lead_status_history_lead ON lead_status_history (lead_id, at, id)")
    op.execute("DROP INDEX ix_leads_converted_created")
    op.execute("DROP INDEX ix_leads_closed_at")
    op.execute("CREATE INDEX ix_leads_closed_at ON leads (closed_at) WHERE closed_at IS NOT NULL")
    op.execute("DROP INDEX ix_leads_created_at")
    op.execute("CREATE INDEX ix_leads_created_at ON leads (created_at)")
    _unkeep("lead_closed_counts", "leads")
    _unkeep("lead_month_counts", "leads")
    op.execute("DROP TRIGGER leads_status_kept ON leads")
    op.execute("DROP FUNCTION leads_status_kept()")
    op.execute("ALTER TABLE leads DROP COLUMN previous_status_id")
    op.execute("ALTER TABLE leads DROP COLUMN reached_status_ids")


# --- the board's dated leads ----------------------------------------------------------------------

BOARD_KEY = "pipeline_id, status_id, currency, owner_id, team_id"


def _board_function(name: str, changes: str, dated: bool) -> str:
    """Migration 0027's board-count functions, with (`dated`) or without the count of leads that have
    an expected close date."""
    extra, sums, sets = (", dated", ", sum(dated)", ", dated = c.dated + excluded.dated") if dated else ("", "", "")
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_board_counts AS c ({BOARD_KEY}, leads, value, valued{extra})
    SELECT {BOARD_KEY}, sum(leads), sum(value), sum(valued){sums}
      FROM ({changes}) AS d
     GROUP BY {BOARD_KEY}
    HAVING sum(leads) <> 0 OR sum(value) <> 0 OR sum(valued) <> 0{" OR sum(dated) <> 0" if dated else ""}
     ORDER BY {BOARD_KEY}
        ON CONFLICT ({BOARD_KEY}) DO UPDATE
       SET leads = c.leads + excluded.leads, value = c.value + excluded.value,
           valued = c.valued + excluded.valued{sets};
    RETURN NULL;
END $$"""


def _board_rows(table: str, sign: str, dated: bool) -> str:
    more = f", {sign}(expected_close_date IS NOT NULL)::int AS dated" if dated else ""
    return (
        f"SELECT {BOARD_KEY}, {sign}1 AS leads, {sign}coalesce(value, 0) AS value,"
        f" {sign}(value IS NOT NULL)::int AS valued{more} FROM {table} WHERE archived_at IS NULL"
    )


def _board_functions(dated: bool) -> None:
    op.execute(_board_function("lead_board_counts_insert", _board_rows("new_leads", "", dated), dated))
    op.execute(_board_function("lead_board_counts_delete", _board_rows("old_leads", "-", dated), dated))
    both = f"{_board_rows('new_leads', '', dated)} UNION ALL {_board_rows('old_leads', '-', dated)}"
    op.execute(_board_function("lead_board_counts_update", both, dated))


def _board_dated() -> None:
    op.execute("ALTER TABLE lead_board_counts ADD COLUMN dated bigint NOT NULL DEFAULT 0")
    op.execute(
        f"UPDATE lead_board_counts c SET dated = d.n FROM (SELECT {BOARD_KEY}, count(*) AS n FROM leads"
        f" WHERE archived_at IS NULL AND expected_close_date IS NOT NULL GROUP BY {BOARD_KEY}) AS d"
        " WHERE (c.pipeline_id, c.status_id) = (d.pipeline_id, d.status_id)"
        " AND c.currency IS NOT DISTINCT FROM d.currency AND c.owner_id IS NOT DISTINCT FROM d.owner_id"
        " AND c.team_id IS NOT DISTINCT FROM d.team_id"
    )
    _board_functions(dated=True)


def upgrade() -> None:
    _follow_up_counts()
    _lead_counts()
    _board_dated()
    op.execute(
        "CREATE INDEX ix_invoices_open_due ON invoices (due_date)"
        " INCLUDE (currency, gross_total, paid_total, owner_id, team_id, client_id, kind, issue_date)"
        " WHERE status IN ('unpaid', 'partially_paid', 'overdue')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_invoices_open_due")
    _board_functions(dated=False)
    op.execute("ALTER TABLE lead_board_counts DROP COLUMN dated")
    _drop_lead_counts()
    _unkeep("follow_up_day_counts", "follow_ups")
