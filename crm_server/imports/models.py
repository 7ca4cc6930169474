"""Tables of imports: the import (file, mapping, choices, status, counts), the outcome of each row
number (what makes a resumed import write every row exactly once, the error report and the revert),
and the mappings remembered per set of headers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin
from crm_server.errors import Gone


class Import(IdMixin, Base):
    __tablename__ = "imports"
    entity: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(300))
    # sha256 of the file's bytes: "this file was imported on ... by ..."
    file_hash: Mapped[str] = mapped_column(String(64))
    # Deferred: a progress poll or the history must not load the file (read it with file_of).
    file_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    sheet: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default="uploaded")
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    winners: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    duplicate_mode: Mapped[str] = mapped_column(String(20), server_default="skip")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rows_total: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_done: Mapped[int] = mapped_column(Integer, server_default="0")
    created: Mapped[int] = mapped_column(Integer, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_imports_created_at", "created_at"),
        Index("ix_imports_file_hash", "file_hash"),
    )


class ImportRow(Base):
    """The outcome of one row number of an import (written in the chunk's own transaction, so a
    resumed job starts after the last row whose outcome is here). `kind` is created / updated /
    skipped / error; `before` holds the previous values of the fields an update changed and
    `version` the record's version right after it (revert leaves a record changed since alone)."""

    __tablename__ = "import_rows"
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)


class ImportMapping(Base):
    """The mapping last used for a set of headers of an entity (offered for the next such file)."""

    __tablename__ = "import_mappings"
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    headers_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# What file_data holds once the file was removed (setting imports.keep_days): the history, counts,
# row outcomes and revert stay; only the error report, which copies the file's rows, is gone.
FILE_REMOVED = b""


async def file_of(session: AsyncSession, imp: Import) -> bytes:
    """The import's file (a deferred column: read on purpose, never by a progress poll)."""
    if "file_data" in imp.__dict__:
        data: bytes | None = imp.file_data
    else:
        data = await session.scalar(select(Import.file_data).where(Import.id == imp.id))
    if not data:
        raise Gone(
            "The uploaded file of this import was removed after the days imports are kept (setting"
            " imports.keep_days); its errors are still listed."
        )
    return bytes(data)


class ImportStaging(Base):
    """The dry run's converted rows of an import are kept (import_staged_rows) for the commit job,
    which then does not read and convert the file again. `signature` names what they were converted
    for (file, sheet, mapping, choices, the importer and the lookups): another signature, or no row
    here (the tables are UNLOGGED: emptied by a crash of PostgreSQL), and the job converts again."""

    __tablename__ = "import_staging"
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    signature: Mapped[str] = mapped_column(String(64))
    key_columns: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    rows: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = {"prefixes": ["UNLOGGED"]}


class ImportStagedRow(Base):
    """One converted row: its values by field (JSON; rows.staged_values reads them back in their
    types) and the problems found in the file (conversion, within-file duplicates, owners in reach)."""

    __tablename__ = "import_staged_rows"
    import_id: Mapped[int] = mapped_column(ForeignKey("import_staging.import_id", ondelete="CASCADE"), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    problems: Mapped[list[list[str | None]] | None] = mapped_column(JSONB)
    __table_args__ = {"prefixes": ["UNLOGGED"]}
