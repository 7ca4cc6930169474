"""Keyset paging: the next page starts after the last row's sort key, so page 2,500 of a list costs
what the first does (an OFFSET reads and throws away every row before it).

A cursor is the last row's sort values, opaque to the desktop (base64 of JSON). It serves an
order of one direction: a sort column (which may be empty, sorted last) and the id as the tie. The
rows after a non-empty value are an index range (a row comparison); the empty ones come after all
of them, in id order, read by a second query only when the first runs out."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column, ColumnElement, and_, inspect, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from crm_server.errors import ValidationFailed

MAX_CURSOR = 500  # characters: a few values, base64
BAD = "This list cannot continue from that place; reload it from the top."


@dataclass(frozen=True)
class Term:
    expr: ColumnElement[Any]
    descending: bool
    nulls_last: bool


def terms(order_by: tuple[Any, ...]) -> list[Term] | None:
    """The order as terms, or None when a cursor cannot serve it (mixed directions, empties sorted
    anywhere but in the first of two terms)."""
    out = []
    for term in order_by:
        descending = nulls_last = False
        expr = term
        while isinstance(expr, UnaryExpression) and expr.modifier in (
            operators.desc_op,
            operators.asc_op,
            operators.nulls_last_op,
            operators.nulls_first_op,
        ):
            if expr.modifier is operators.nulls_first_op:
                return None
            nulls_last = nulls_last or expr.modifier is operators.nulls_last_op
            descending = descending or expr.modifier is operators.desc_op
            expr = expr.element
        out.append(Term(expr, descending, nulls_last))
    if not 1 <= len(out) <= 2 or len({t.descending for t in out}) != 1 or any(t.nulls_last for t in out[1:]):
        return None
    return out


def encode(values: list[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    text = json.dumps([plain(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, order: list[Term]) -> list[Any]:
    """The values of a cursor, each parsed as its column's type; anything else is a 422 on `after`."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(order):
            raise ValueError("shape")
        return [_parse(value, term) for value, term in zip(raw, order, strict=True)]
    except (ValueError, TypeError, binascii.Error, InvalidOperation, UnicodeDecodeError) as exc:
        raise ValidationFailed(BAD, field="after") from exc


def _parse(value: Any, term: Term) -> Any:
    if value is None:
        if not term.nulls_last:
            raise ValueError("empty value in a column that is never empty")
        return None
    try:
        kind = term.expr.type.python_type
    except NotImplementedError:
        kind = type(value)
    if kind is datetime:
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            raise ValueError("a time without its zone")
        return moment
    if kind is date:
        return date.fromisoformat(str(value))
    if kind is Decimal:
        return Decimal(str(value))
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise ValueError("not a 64-bit integer")
        return value
    if kind is str:
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError("not text")
        return value
    raise ValueError("a type a cursor does not carry")


def after(order: list[Term], values: list[Any]) -> tuple[ColumnElement[bool], ColumnElement[bool] | None]:
    """WHERE for the rows after `values`, and for the empty-valued rows that follow all the others
    (None when there are none to add)."""
    exprs = [t.expr for t in order]
    descending = order[0].descending
    if values[0] is None:  # already among the empties: only the tie orders them
        rest = tuple_(*exprs[1:]) < tuple_(*values[1:]) if descending else tuple_(*exprs[1:]) > tuple_(*values[1:])
        return and_(exprs[0].is_(None), rest), None
    main = tuple_(*exprs) < tuple_(*values) if descending else tuple_(*exprs) > tuple_(*values)
    return main, (exprs[0].is_(None) if order[0].nulls_last else None)


async def cursor_of(session: AsyncSession, order: list[Term], entity: Any) -> str:
    """The cursor after `entity` (the page's last row): its own attributes, or, for a sort on an
    expression (a priority rank), the expression computed for that row."""
    mapper = inspect(type(entity))
    key = mapper.primary_key[0]
    values: list[Any] = []
    computed: list[int] = []
    for i, term in enumerate(order):
        if isinstance(term.expr, Column) and term.expr.table is key.table:
            values.append(getattr(entity, mapper.get_property_by_column(term.expr).key))
        else:
            values.append(None)
            computed.append(i)
    if computed:
        row = (
            await session.execute(select(*(order[i].expr for i in computed)).where(key == getattr(entity, key.key)))
        ).one()
        for i, value in zip(computed, row, strict=True):
            values[i] = value
    return encode(values)
