"""Server-side paging: every list answers one page and the total."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

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
) -> Page[T]:
    """`convert` gets each row's first column (an entity), or with `whole_rows` the row itself.

    With `count_cap`, the total is counted only up to that many rows past the page (a list of a
    million rows takes longer to count than to page): beyond it `total` is a lower bound and
    `total_exact` is false."""
    counted = stmt.order_by(None)
    cap = None if count_cap is None else offset + limit + count_cap
    if cap is not None:  # count rows, not the columns' subqueries (client names...), and stop early
        counted = counted.with_only_columns(literal_column("1"), maintain_column_froms=True).limit(cap + 1)
    total = await session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    ordered = stmt.order_by(*order_by).offset(offset).limit(limit)
    rows = (await session.execute(ordered)).all() if whole_rows else (await session.scalars(ordered)).all()
    return Page[T](
        items=[convert(r) for r in rows],
        total=total,
        offset=offset,
        limit=limit,
        total_exact=cap is None or total <= cap,
    )


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
