"""Server-side paging: every list answers one page and the total."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Select, func, inspect, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import visitors
from sqlalchemy.sql.util import ClauseAdapter

from crm_server.contract.common import Page

T = TypeVar("T")


async def page(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    offset: int,
    limit: int,
    convert: Callable[[Any], T],
    order_by: tuple[Any, ...],
    *,
    whole_rows: bool = False,
    count_cap: int | None = None,
    keys_first: bool = False,
) -> Page[T]:
    """`convert` gets each row's first column (an entity), or with `whole_rows` the row itself.

    With `count_cap`, the total is counted only up to that many rows past the page (a list of a
    million rows takes longer to count than to page): beyond it `total` is a lower bound and
    `total_exact` is false. The count then also picks the page's plan (see `_few_first`), so a new
    statistics sample cannot flip it. With `keys_first`, a page among many matches is found by its
    keys alone (`_keys_first`)."""
    counted = stmt.order_by(None)
    cap = None if count_cap is None else offset + limit + count_cap
    if cap is not None:  # count rows, not the columns' subqueries (client names...), and stop early
        counted = counted.with_only_columns(literal_column("1"), maintain_column_froms=True).limit(cap + 1)
    total = await session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    exact = cap is None or total <= cap
    ordered: Any = stmt.order_by(*order_by).offset(offset).limit(limit)
    if cap is not None and exact:
        ordered = _few_first(stmt, order_by, offset, limit) if total > offset else None
    elif keys_first:
        ordered = _keys_first(stmt, order_by, offset, limit)
    if ordered is None:
        rows: Sequence[Any] = []
    elif whole_rows:
        rows = (await session.execute(ordered)).all()
    else:
        rows = (await session.scalars(ordered)).all()
    return Page[T](items=[convert(r) for r in rows], total=total, offset=offset, limit=limit, total_exact=exact)


def _few_first(stmt: Select[*tuple[Any, ...]], order_by: tuple[Any, ...], offset: int, limit: int) -> Any:
    """The page among few matches (the count said there are at most the cap): their keys are
    materialized and sorted there, so the planner cannot walk a sort index hoping to meet a few rare
    rows (a misestimate away); only the page's rows are read whole. Past the cap the matches are
    dense and the sort's index finds a page soon. A sort on another table's column keeps the plain
    shape."""
    key = inspect(stmt.column_descriptions[0]["entity"]).primary_key[0]
    keys = {key.key: key}
    for term in order_by:
        keys.update((c.key, c) for c in visitors.iterate(term) if isinstance(c, Column))
    if any(c.table is not key.table for c in keys.values()):
        return stmt.order_by(*order_by).offset(offset).limit(limit)
    matches = (
        stmt.order_by(None).with_only_columns(*keys.values(), maintain_column_froms=True).cte("matches")
    ).prefix_with("MATERIALIZED")
    adapter = ClauseAdapter(matches)
    page_keys = (
        select(matches.c[key.key]).order_by(*(adapter.traverse(t) for t in order_by)).offset(offset).limit(limit)
    )
    return stmt.where(key.in_(page_keys.scalar_subquery())).order_by(*order_by)


def _keys_first(stmt: Select[*tuple[Any, ...]], order_by: tuple[Any, ...], offset: int, limit: int) -> Any:
    """The page's keys chosen by the filters and the sort alone, then only those rows read whole: where
    an index carries the filtered and sorted columns the choice is index-only, instead of fetching
    every candidate row from the heap to test it (a table whose live rows are scattered)."""
    key = inspect(stmt.column_descriptions[0]["entity"]).primary_key[0]
    page_keys = (
        stmt.order_by(None)
        .with_only_columns(key, maintain_column_froms=True)
        .order_by(*order_by)
        .offset(offset)
        .limit(limit)
        .correlate(None)
    )
    return stmt.where(key.in_(page_keys.scalar_subquery())).order_by(*order_by)


def sort_order(column: Any, tie: Any, descending: bool, nullable: bool | None = None) -> tuple[Any, ...]:
    """ORDER BY `column`, then `tie` (the id) the same way. NULLS LAST only on a nullable column: on
    a NOT NULL one it would keep PostgreSQL from reading the column's index backwards (a whole-table
    sort instead of a page). `nullable` is read off a mapped column unless given."""
    if nullable is None:
        nullable = getattr(getattr(column, "expression", column), "nullable", True)
    first = column.desc() if descending else column.asc()
    return (first.nulls_last() if nullable else first, tie.desc() if descending else tie.asc())


def like_pattern(q: str) -> str:
    """A LIKE pattern matching `q` anywhere (lower-cased, wildcards in `q` taken literally)."""
    escaped = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
