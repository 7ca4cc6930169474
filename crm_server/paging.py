"""Server-side paging: every list answers one page and the total."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Select, func, inspect, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.sql import visitors
from sqlalchemy.sql.util import ClauseAdapter

from crm_server import keyset
from crm_server.contract.common import Page
from crm_server.errors import ValidationFailed

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
    after: str | None = None,
    keys_first: bool = False,
    by_key: bool = True,
) -> Page[T]:
    """`convert` gets each row's first column (an entity), or with `whole_rows` the row itself.

    Each full page carries `next`, a cursor: given back as `after`, the following page starts after
    the last row by its sort key (see keyset.py) and is not counted: `total` then says only whether
    more follow (a lower bound while they do).

    With `count_cap`, the total is counted only up to that many rows past the page (a list of a
    million rows takes longer to count than to page): beyond it `total` is a lower bound and
    `total_exact` is false. The count then also picks the page's plan (see `_few_first`), so a new
    statistics sample cannot flip it. With `keys_first`, a page among many matches is found by its
    keys alone (`_keys_first`). `by_key=False`: an order whose last term is no row's own key (a
    count of a group) pages by offset only (no `next`; `after` is refused)."""
    order = keyset.terms(order_by) if by_key else None
    if after is not None:
        return await _after(session, stmt, offset, limit, convert, order_by, order, whole_rows, after)
    counted = stmt.order_by(None)
    cap = None if count_cap is None else offset + limit + count_cap
    if cap is not None:  # count rows, not the columns' subqueries (client names...), and stop early
        counted = counted.with_only_columns(literal_column("1"), maintain_column_froms=True).limit(cap + 1)
    total = await session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    exact = cap is None or total <= cap
    if exact:  # the count says whether more follow
        ordered: Any = _plain(stmt, order_by, offset, limit)
        if cap is not None:
            ordered = _few_first(stmt, order_by, offset, limit) if total > offset else None
    else:  # one row past the page says it
        ordered = (_keys_first if keys_first else _plain)(stmt, order_by, offset, limit + 1)
    rows = [] if ordered is None else list(await _rows(session, ordered, whole_rows))
    more = total > offset + len(rows) if exact else len(rows) > limit
    rows = rows[:limit]
    following = await _next(session, order, rows, more, whole_rows)
    return Page[T](
        items=[convert(r) for r in rows], total=total, offset=offset, limit=limit, total_exact=exact, next=following
    )


def _plain(stmt: Select[*tuple[Any, ...]], order_by: tuple[Any, ...], offset: int, limit: int) -> Any:
    return stmt.order_by(*order_by).offset(offset).limit(limit)


async def _rows(session: AsyncSession, stmt: Any, whole_rows: bool) -> Sequence[Any]:
    return (await session.execute(stmt)).all() if whole_rows else (await session.scalars(stmt)).all()


async def _next(
    session: AsyncSession, order: list[keyset.Term] | None, rows: Sequence[Any], more: bool, whole_rows: bool
) -> str | None:
    """The cursor after the page's last row, when more rows follow and the order can take one: read
    off the row when it carries every sort column (a row of columns), else off its entity when the
    sort is on the entity's own table; otherwise none (the list pages by offset)."""
    if order is None or not more or not rows:
        return None
    last = rows[-1]
    if whole_rows:
        try:
            return keyset.encode([last._mapping[t.expr] for t in order])
        except KeyError:  # a sort on an expression the row does not carry: its entity says it
            last = last[0]
    mapper = inspect(type(last), raiseerr=False)
    if mapper is None or not isinstance(mapper, Mapper):
        return None
    tables = {c.table for t in order for c in visitors.iterate(t.expr) if isinstance(c, Column)}
    if tables - {mapper.local_table}:  # another table's column: no key of this row alone
        return None
    return await keyset.cursor_of(session, order, last)


async def _after(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    offset: int,
    limit: int,
    convert: Callable[[Any], T],
    order_by: tuple[Any, ...],
    order: list[keyset.Term] | None,
    whole_rows: bool,
    cursor: str,
) -> Page[T]:
    """The page after a cursor: an index range from the last row's key, then the empty-keyed rows."""
    if order is None:
        raise ValidationFailed(keyset.BAD, field="after")
    main, tail = keyset.after(order, keyset.decode(cursor, order))
    rows = list(await _rows(session, stmt.where(main).order_by(*order_by).limit(limit + 1), whole_rows))
    if tail is not None and len(rows) <= limit:
        rows += await _rows(session, stmt.where(tail).order_by(*order_by).limit(limit + 1 - len(rows)), whole_rows)
    more = len(rows) > limit
    rows = rows[:limit]
    following = await _next(session, order, rows, more, whole_rows)
    return Page[T](
        items=[convert(r) for r in rows],
        total=offset + len(rows) + (1 if more else 0),
        offset=offset,
        limit=limit,
        total_exact=not more,
        next=following,
    )


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
        return _plain(stmt, order_by, offset, limit)
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
