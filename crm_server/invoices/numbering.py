"""Gapless document numbers. The series row is locked FOR UPDATE in the issuing transaction, so
concurrent issues queue on it and a rolled-back issue releases its number unused (no gaps, no
duplicates), which a PostgreSQL sequence cannot promise."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.errors import ValidationFailed
from crm_server.invoices.models import InvoiceSeries

FORMAT_SETTINGS = {"invoice": "invoices.number_format", "credit_note": "invoices.credit_note_format"}


def render(number_format: str, year: int, seq: int, setting: str) -> str:
    """The number from its format; a format without {seq} (every number alike) is refused."""
    if "{seq" not in number_format:
        raise ValidationFailed(f"The setting {setting} must contain {{seq}}.", field=setting, code="bad_format")
    try:
        return number_format.format(year=year, seq=seq)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationFailed(
            f"The setting {setting} is not a valid number format ({exc}).", field=setting, code="bad_format"
        ) from None


async def next_number(session: AsyncSession, series: str, year: int) -> str:
    """Take the next number of `series` for `year`; the lock is held until the caller commits."""
    setting = FORMAT_SETTINGS[series]
    number_format = str(await settings.get(session, setting))
    await session.execute(
        insert(InvoiceSeries)
        .values(series=series, year=year, next_value=1)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )
    row = (
        await session.execute(
            select(InvoiceSeries)
            .where(InvoiceSeries.series == series, InvoiceSeries.year == year)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    seq = row.next_value
    number = render(number_format, year, seq, setting)
    row.next_value = seq + 1
    await session.flush()
    return number
