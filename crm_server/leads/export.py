"""Excel export of a filtered lead list: rows are read in batches and written by openpyxl in
write-only mode (constant memory) into a temporary file that the route then streams."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_server.auth.models import Team, User
from crm_server.auth.permissions import Principal
from crm_server.contract import spreadsheet
from crm_server.contract.leads import LeadQuery
from crm_server.leads import queries
from crm_server.leads.models import Lead, LostReason, PipelineStatus
from crm_server.leads.service import default_country, order_by

MAX_ROWS = 1_000_000  # Excel's sheet holds 1,048,576 rows
BATCH = 2000
HEADERS = [
    "ID",
    "Name",
    "Company",
    "Email",
    "Phone",
    "Source",
    "Partner",
    "Status",
    "Owner",
    "Team",
    "Value",
    "Currency",
    "Expected close",
    "Territory",
    "Product interest",
    "Tags",
    "Lost reason",
    "Created (UTC)",
    "Updated (UTC)",
    "Archived (UTC)",
]


def _naive(value: datetime | None) -> datetime | None:
    """Excel has no time zones: times are written in UTC, as the header says."""
    return value.replace(tzinfo=None) if value is not None else None


def _row(r: Any) -> list[Any]:
    lost = r.lost_reason if r.lost_reason_text is None else f"{r.lost_reason}: {r.lost_reason_text}"
    return [
        r.id,
        r.person_name,
        r.company,
        r.email,
        r.phone,
        r.source,
        r.partner_name,
        r.status,
        r.owner,
        r.team,
        r.value,
        r.currency,
        r.expected_close_date,
        r.territory,
        r.product_interest,
        ", ".join(r.tags),
        lost,
        _naive(r.created_at),
        _naive(r.updated_at),
        _naive(r.archived_at),
    ]


def _append(sheet: Any, rows: list[list[Any]]) -> None:
    for row in rows:
        sheet.append(spreadsheet.xlsx_row(sheet, row))  # text as text: never a formula


async def export_xlsx(session: AsyncSession, principal: Principal, query: LeadQuery) -> str:
    """Writes the leads the list would show (all pages) to a temporary .xlsx; returns its path."""
    where = queries.conditions(principal, query, await default_country(session))
    owner = aliased(User)
    stmt = (
        select(
            Lead.id,
            Lead.person_name,
            Lead.company,
            Lead.email,
            Lead.phone,
            Lead.source,
            Lead.partner_name,
            PipelineStatus.name.label("status"),
            owner.full_name.label("owner"),
            Team.name.label("team"),
            Lead.value,
            Lead.currency,
            Lead.expected_close_date,
            Lead.territory,
            Lead.product_interest,
            Lead.tags,
            LostReason.name.label("lost_reason"),
            Lead.lost_reason_text,
            Lead.created_at,
            Lead.updated_at,
            Lead.archived_at,
        )
        .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
        .outerjoin(owner, owner.id == Lead.owner_id)
        .outerjoin(Team, Team.id == Lead.team_id)
        .outerjoin(LostReason, LostReason.id == Lead.lost_reason_id)
        .where(*where)
        .order_by(*order_by(query.sort))
        .limit(MAX_ROWS)
    )
    from openpyxl import Workbook  # loaded on the first export, not at server start

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Leads")
    sheet.append(HEADERS)
    result = await session.stream(stmt.execution_options(yield_per=BATCH))
    async for batch in result.partitions(BATCH):
        rows = [_row(r) for r in batch]
        await asyncio.to_thread(_append, sheet, rows)
    fd, path = tempfile.mkstemp(prefix="leads-", suffix=".xlsx")
    os.close(fd)
    try:
        await asyncio.to_thread(workbook.save, path)
    except BaseException:
        os.unlink(path)
        raise
    return path


def stream_file(path: str, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """Streams the file, then removes it."""
    try:
        with open(path, "rb") as f:
            while data := f.read(chunk):
                yield data
    finally:
        os.unlink(path)
