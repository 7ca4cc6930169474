"""Counts kept for reports and Home at a million rows (issue #20).

`follow_up_day_counts`: the follow-ups per UTC day, state, kind, owner and team: a done one on the
day it was done, an open one on the day it is due. Team activity over a year and Home's overdue
follow-ups read a few thousand of these rows instead of counting millions of follow-ups. Kept as
`lead_board_counts` is (migration 0027): statement-level triggers with transition tables add each
statement's changes in one upsert per bucket, in key order, in the same transaction, so the counts
are never behind the follow-ups they count.

`leads.reached_status_ids`: every status a lead has been in (kept by a row trigger as its status
changes; filled from lead_status_history), and `lead_month_counts`: the live leads per UTC month of
creation, pipeline, status, currency, owner, team, source and statuses reached, with their value,
kept like the others. The sales funnel and the lead sources read a year of a million leads as a few
tens of thousands of these rows (and the leads of a range's first and last part-months one by one).
Filling them reads every lead once (with the leads' own triggers off: nothing they keep changes).

`lead_board_counts.dated`: how many of the board's leads have an expected close date (the forecast's
"open leads without a close date" without counting every open lead).

`ix_invoices_open_due`: the open invoices by due date with what Home's overdue figure and the
receivables report read, so both are read from the index alone. `ix_leads_converted_created`: the converted leads by creation
time (lead sources: what the won clients paid). `ix_leads_sample_16/64/256/1024`: one lead in 16 (64, ...; by a hash of its id) by
pipeline and creation time, with what the filters read: the funnel's median times in stage of a
large range come from a sample, and each lead's moves are read from `ix_lead_status_history_lead`
alone (it now carries where each move went). `ix_leads_created_at` carries what the reports count of
the leads created on a range's first and last part-months (read from the index alone).

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

KEY = "day, state, kind, owner_id, team_id"
DAY = (
    "CASE WHEN status = 'done' THEN (completed_at AT TIME ZONE 'UTC')::date ELSE (due_at AT TIME ZONE 'UTC')::date END"
)


def _rows(table: str, sign: str) -> str:
    return (
        f"SELECT {DAY} AS day, status AS state, kind, owner_id, team_id, {sign}1 AS n FROM {table}"
        " WHERE status = 'open' OR (status = 'done' AND completed_at IS NOT NULL)"
    )


def _apply(name: str, changes: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO follow_up_day_counts AS c ({KEY}, n)
    SELECT {KEY}, sum(n) FROM ({changes}) AS d
     GROUP BY {KEY}
    HAVING sum(n) <> 0
     ORDER BY {KEY}
        ON CONFLICT ({KEY}) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$"""


CREATED_COUNTED = "archived_at, pipeline_id, status_id, currency, owner_id, team_id, source, value, reached_status_ids"
SAMPLES = (16, 64, 256, 1024)  # the funnel's samples of a large range's leads, for its medians
LEAD_KEY = "month, pipeline_id, status_id, currency, owner_id, team_id, source, reached"


def _lead_rows(table: str, sign: str) -> str:
    return (
        "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS month, pipeline_id, status_id,"
        f" currency, owner_id, team_id, source, reached_status_ids AS reached, {sign}1 AS leads,"
        f" {sign}coalesce(value, 0) AS value FROM {table} WHERE archived_at IS NULL"
    )


def _apply_leads(name: str, changes: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_month_counts AS c ({LEAD_KEY}, leads, value)
    SELECT {LEAD_KEY}, sum(leads), sum(value) FROM ({changes}) AS d
     GROUP BY {LEAD_KEY}
    HAVING sum(leads) <> 0 OR sum(value) <> 0
     ORDER BY {LEAD_KEY}
        ON CONFLICT ({LEAD_KEY}) DO UPDATE SET leads = c.leads + excluded.leads, value = c.value + excluded.value;
    RETURN NULL;
END $$"""


def _lead_counts() -> None:
    op.execute("ALTER TABLE leads ADD COLUMN reached_status_ids bigint[] NOT NULL DEFAULT '{}'")
    op.execute("ALTER TABLE leads DISABLE TRIGGER USER")
    op.execute(
        """
UPDATE leads l SET reached_status_ids = h.reached
  FROM (SELECT lead_id, array_agg(DISTINCT to_status_id ORDER BY to_status_id) AS reached
          FROM lead_status_history GROUP BY lead_id) AS h
 WHERE h.lead_id = l.id"""
    )
    op.execute("UPDATE leads SET reached_status_ids = ARRAY[status_id] WHERE NOT status_id = ANY(reached_status_ids)")
    op.execute("ALTER TABLE leads ENABLE TRIGGER USER")
    op.execute(
        """
CREATE FUNCTION leads_reached() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.status_id = ANY(NEW.reached_status_ids) THEN
        NEW.reached_status_ids := ARRAY(
            SELECT DISTINCT s FROM unnest(NEW.reached_status_ids || NEW.status_id::bigint) AS s ORDER BY s);
    END IF;
    RETURN NEW;
END $$"""
    )
    op.execute(
        "CREATE TRIGGER leads_reached BEFORE INSERT OR UPDATE OF status_id, reached_status_ids ON leads"
        " FOR EACH ROW EXECUTE FUNCTION leads_reached()"
    )
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
    CONSTRAINT uq_lead_month_counts UNIQUE NULLS NOT DISTINCT ({LEAD_KEY})
)"""
    )
    op.execute(_apply_leads("lead_month_counts_insert", _lead_rows("new_leads", "")))
    op.execute(_apply_leads("lead_month_counts_delete", _lead_rows("old_leads", "-")))
    op.execute(
        _apply_leads(
            "lead_month_counts_update", f"{_lead_rows('new_leads', '')} UNION ALL {_lead_rows('old_leads', '-')}"
        )
    )
    op.execute(
        """
CREATE FUNCTION lead_month_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_month_counts;
    RETURN NULL;
END $$"""
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_leads"),
        ("DELETE", "OLD TABLE AS old_leads"),
        ("UPDATE", "OLD TABLE AS old_leads NEW TABLE AS new_leads"),
    ):
        op.execute(
            f"CREATE TRIGGER lead_month_counts_{event.lower()} AFTER {event} ON leads REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION lead_month_counts_{event.lower()}()"
        )
    op.execute(
        "CREATE TRIGGER lead_month_counts_truncate AFTER TRUNCATE ON leads"
        " FOR EACH STATEMENT EXECUTE FUNCTION lead_month_counts_truncate()"
    )
    op.execute(
        f"INSERT INTO lead_month_counts ({LEAD_KEY}, leads, value)"
        f" SELECT {LEAD_KEY}, sum(leads), sum(value) FROM ({_lead_rows('leads', '')}) AS d GROUP BY {LEAD_KEY}"
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
    op.execute("DROP INDEX ix_leads_created_at")
    op.execute("CREATE INDEX ix_leads_created_at ON leads (created_at)")
    op.execute("DROP INDEX ix_lead_status_history_lead")
    op.execute("CREATE INDEX ix_lead_status_history_lead ON lead_status_history (lead_id, at, id)")
    for every in SAMPLES:
        op.execute(f"DROP INDEX ix_leads_sample_{every}")
    op.execute("DROP INDEX ix_leads_converted_created")
    for event in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER lead_month_counts_{event} ON leads")
        op.execute(f"DROP FUNCTION lead_month_counts_{event}()")
    op.execute("DROP TABLE lead_month_counts")
    op.execute("DROP TRIGGER leads_reached ON leads")
    op.execute("DROP FUNCTION leads_reached()")
    op.execute("ALTER TABLE leads DROP COLUMN reached_status_ids")


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
    _board_dated()
    _lead_counts()
    op.execute(
        f"""
CREATE TABLE follow_up_day_counts (
    day date NOT NULL,
    state varchar(10) NOT NULL,
    kind varchar(20) NOT NULL,
    owner_id integer,
    team_id integer,
    n bigint NOT NULL,
    CONSTRAINT uq_follow_up_day_counts UNIQUE NULLS NOT DISTINCT ({KEY})
)"""
    )
    op.execute(_apply("follow_up_day_counts_insert", _rows("new_rows", "")))
    op.execute(_apply("follow_up_day_counts_delete", _rows("old_rows", "-")))
    op.execute(_apply("follow_up_day_counts_update", f"{_rows('new_rows', '')} UNION ALL {_rows('old_rows', '-')}"))
    op.execute(
        """
CREATE FUNCTION follow_up_day_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM follow_up_day_counts;
    RETURN NULL;
END $$"""
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER follow_up_day_counts_{event.lower()} AFTER {event} ON follow_ups REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION follow_up_day_counts_{event.lower()}()"
        )
    op.execute(
        "CREATE TRIGGER follow_up_day_counts_truncate AFTER TRUNCATE ON follow_ups"
        " FOR EACH STATEMENT EXECUTE FUNCTION follow_up_day_counts_truncate()"
    )
    op.execute(
        f"INSERT INTO follow_up_day_counts ({KEY}, n)"
        f" SELECT {KEY}, sum(n) FROM ({_rows('follow_ups', '')}) AS d GROUP BY {KEY}"
    )
    op.execute(
        "CREATE INDEX ix_invoices_open_due ON invoices (due_date)"
        " INCLUDE (currency, gross_total, paid_total, owner_id, team_id, client_id, kind, issue_date)"
        " WHERE status IN ('unpaid', 'partially_paid', 'overdue')"
    )


def downgrade() -> None:
    _board_functions(dated=False)
    op.execute("ALTER TABLE lead_board_counts DROP COLUMN dated")
    _drop_lead_counts()
    op.execute("DROP INDEX ix_invoices_open_due")
    for event in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER follow_up_day_counts_{event} ON follow_ups")
        op.execute(f"DROP FUNCTION follow_up_day_counts_{event}()")
    op.execute("DROP TABLE follow_up_day_counts")
