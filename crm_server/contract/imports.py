"""Imports on the wire: a spreadsheet goes up, its columns are mapped to fields, a dry run shows
what would happen, a job commits it in chunks (live progress, cancellable, resumed after a crash),
and a finished import can be reverted.

Routes (all under /api, each needs the `import` action of the entity's module: leads -> leads,
clients and contacts -> clients, products -> products; history and reads need it too):

- GET  /api/imports/entities                      -> list[ImportEntityOut] (what can be imported, its fields)
- GET  /api/imports/entities/{entity}/template    -> the .xlsx template (header row, required columns
                                                     marked "*", dropdowns, a "Help" sheet)
- POST /api/imports?entity=leads&file_name=x.xlsx -> UploadOut (201). The body is the file's raw bytes
                                                     (Content-Type application/octet-stream); .xlsx .xls
                                                     .ods .csv. A workbook with several sheets answers
                                                     `sheets` and `sheet=None`: choose with /sheet.
- POST /api/imports/{id}/sheet      SheetIn        -> UploadOut (headers and suggested mapping of that sheet)
- PUT  /api/imports/{id}/mapping    MappingIn      -> ImportOut (status mapped; 422 code "duplicate_header"
                                                     when two columns go to one field and no winner is named,
                                                     422 code "required_field_missing" when a required field
                                                     has no column; the mapping is remembered by headers)
- POST /api/imports/{id}/dry-run                   -> DryRunOut (nothing written; status dry_run_done)
- POST /api/imports/{id}/start      StartIn        -> ImportOut (status running; a job commits it). 409 code
                                                     "same_file" (body has `same_file_warning`) when the
                                                     same file was imported before: ask, then send
                                                     confirm_same_file=true
- POST /api/imports/{id}/cancel                    -> ImportOut (the job stops after its current chunk;
                                                     rows committed so far stay, and can be reverted)
- GET  /api/imports/{id}                           -> ImportOut (live: events of module "imports", entity
                                                     "import", action started / progress / done / failed /
                                                     cancelled / reverted, data ImportProgress, sent to the
                                                     person who started it; and per chunk an event of the
                                                     entity's module ("leads" ...), entity "import", action
                                                     "imported" or "reverted": lists reload)
- GET  /api/imports?entity=&offset=&limit=         -> Page[ImportOut] (the history, newest first, of the
                                                     entities this person may import)
- GET  /api/imports/{id}/errors?offset=&limit=     -> Page[ImportErrorRow] (of the dry run, or of the
                                                     import once it ran)
- GET  /api/imports/{id}/error-report              -> the failed rows exactly as they were in the file
                                                     plus an "Error" column, as .xlsx (safe from
                                                     spreadsheet injection)
- POST /api/imports/{id}/revert                    -> RevertOut (status reverted)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import Model

ImportEntity = Literal["leads", "clients", "contacts", "products"]

# The entities in the words a person reads, and the module whose `import` permission each needs.
ENTITIES: dict[str, str] = {
    "leads": "Leads",
    "clients": "Clients with their contacts",
    "contacts": "Contacts",
    "products": "Products with opening stock",
}
MODULE_OF: dict[str, str] = {"leads": "leads", "clients": "clients", "contacts": "clients", "products": "products"}

FILE_TYPES = (".xlsx", ".xls", ".ods", ".csv")
MAX_FILE_BYTES = 32 * 1024 * 1024  # the server's body limit (CRM_MAX_BODY_BYTES) applies first
# Past this many rows the desktop offers "Back up first" before starting (issue #19, with #21's backups).
BACKUP_SUGGESTED_ROWS = 1000


class ImportStatus(StrEnum):
    uploaded = "uploaded"
    mapped = "mapped"
    dry_run_done = "dry_run_done"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"
    reverted = "reverted"


STATUS_WORDS: dict[ImportStatus, str] = {
    ImportStatus.uploaded: "Uploaded",
    ImportStatus.mapped: "Mapped",
    ImportStatus.dry_run_done: "Checked",
    ImportStatus.running: "Importing",
    ImportStatus.done: "Done",
    ImportStatus.failed: "Failed",
    ImportStatus.cancelled: "Cancelled",
    ImportStatus.reverted: "Reverted",
}
# Statuses after which the import's rows no longer change (revert is possible from done/cancelled).
FINISHED = frozenset({ImportStatus.done, ImportStatus.failed, ImportStatus.cancelled, ImportStatus.reverted})


class DuplicateMode(StrEnum):
    """What a row that matches one existing record does."""

    skip = "skip"  # leave the record as it is, count the row as skipped
    fill_empty = "fill_empty"  # update the record: only its empty fields take the row's values
    overwrite = "overwrite"  # update the record: every mapped, non-blank value replaces the old one
    create = "create"  # create a new record anyway


DUPLICATE_MODE_WORDS: dict[DuplicateMode, str] = {
    DuplicateMode.skip: "Skip",
    DuplicateMode.fill_empty: "Update: fill empty fields only",
    DuplicateMode.overwrite: "Update: overwrite",
    DuplicateMode.create: "Create anyway",
}


class ErrorName(StrEnum):
    """The error names people know; each error also says its column and the reason in words."""

    required_field_missing = "Required Field Missing"
    invalid_email_format = "Invalid Email Format"
    duplicate_header = "Duplicate Header"
    incorrect_data_type = "Incorrect Data Type"
    duplicate_record = "Duplicate Record"
    unknown_value = "Unknown Value"


class TemplateField(Model):
    """One field an entity's rows can fill."""

    name: str = Field(description="the field's key, used in mappings (e.g. 'email', 'stock:Main')")
    label: str = Field(description="the template's header for it")
    required: bool
    type: Literal["text", "email", "phone", "number", "money", "date", "choice", "tags"]
    choices: list[str] | None = Field(default=None, description="allowed values (statuses, owners by email ...)")
    example: str = ""
    help: str = ""


class ImportEntityOut(Model):
    entity: ImportEntity
    label: str
    fields: list[TemplateField]


class UploadOut(Model):
    """The answer to an upload (and to choosing a sheet): what the file holds and how its columns
    would map. `mapping` is remembered from an earlier file with the same headers when there was
    one (`mapping_remembered`), else suggested from the headers."""

    item: ImportOut = Field(description="the import itself")
    sheets: list[str] = Field(description="the workbook's sheets (one name 'CSV' for a .csv)")
    sheet: str | None = Field(description="the sheet read; None: several sheets, choose one")
    headers: list[str] = Field(description="the header row as read, one per column (merged cells filled)")
    sample: list[list[str]] = Field(default_factory=list, description="the first rows as text, for the mapping page")
    rows: int = Field(description="data rows in the sheet (blank rows not counted)")
    mapping: dict[str, str | None] = Field(description="column header -> field name, None to skip the column")
    mapping_remembered: bool = False
    required: list[str] = Field(description="fields a row must have (some may be met by either of two)")
    fields: list[TemplateField]


class SheetIn(BaseModel):
    sheet: str = Field(min_length=1, max_length=200)


class MappingIn(BaseModel):
    """Which field each column fills (by the column's header, as UploadOut.headers has it; a header
    that repeats is written "Header (2)" ... as UploadOut gives it). None or a missing header: the
    column is skipped. Two columns on one field are refused ("Duplicate Header") unless `winners`
    names, for that field, the column that wins (the other is then ignored)."""

    mapping: dict[str, str | None] = Field(max_length=500)
    winners: dict[str, str] = Field(default_factory=dict, max_length=100, description="field -> winning column")
    duplicate_mode: DuplicateMode = DuplicateMode.skip
    owner_id: int | None = Field(
        default=None, description="leads/clients: this owner for every new record; None: assignment rules"
    )
    remember: bool = Field(default=True, description="offer this mapping for the next file with these headers")


class StartIn(BaseModel):
    """Start the real import (after a dry run or straight away); the mapping's choices hold."""

    confirm_same_file: bool = Field(
        default=False, description="the same file was imported before (same_file_warning): import it again anyway"
    )


class ImportOut(Model):
    id: int
    entity: ImportEntity
    file_name: str
    sheet: str | None
    status: ImportStatus
    rows_total: int = Field(description="data rows in the sheet")
    rows_done: int = Field(description="rows whose outcome is recorded (progress = rows_done / rows_total)")
    progress: float = Field(description="0.0 .. 1.0")
    created: int
    updated: int
    skipped: int
    errors: int
    duplicate_mode: DuplicateMode
    owner_id: int | None
    mapping: dict[str, str | None] = Field(default_factory=dict)
    same_file_warning: str | None = Field(
        default=None, description="'This file was imported on 5 Dec 2026 by Ana Pop.' when it was"
    )
    error: str | None = Field(default=None, description="why it failed, in words")
    created_by: int | None
    created_by_name: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reverted_at: datetime | None = None


class ImportErrorRow(Model):
    row: int = Field(description="the row's number in the sheet as a spreadsheet shows it (header is row 1)")
    column: str | None = Field(description="the column's header, None when the error is about the whole row")
    error: ErrorName
    reason: str = Field(description="in words, e.g. 'ana@@example is not an e-mail address'")


class DryRunOut(Model):
    """What the import would do, checked by the same rules; nothing is written."""

    item: ImportOut = Field(description="the import itself")
    to_create: int
    to_update: int
    to_skip: int
    in_error: int
    preview: list[dict[str, str | None]] = Field(
        description="the first rows as they will be saved (field -> value as text), with '_row' and '_action'"
    )
    errors: list[ImportErrorRow] = Field(description="the first errors (all of them: /errors)")


class RevertLeftAlone(Model):
    entity: str
    record_id: int
    label: str = Field(description="the record's name as people know it")
    reason: str = Field(description="e.g. 'changed by Ana Pop on 6 Dec 2026 after the import'")


class RevertOut(Model):
    item: ImportOut = Field(description="the import itself")
    archived: int = Field(description="records the import created, now archived (products: made inactive)")
    restored: int = Field(description="records the import updated whose previous values were put back")
    left_alone: list[RevertLeftAlone]


class ImportProgress(Model):
    """The data of an "imports.import" live event (sent to the person who started the import)."""

    status: ImportStatus
    rows_done: int
    rows_total: int
    created: int
    updated: int
    skipped: int
    errors: int


UploadOut.model_rebuild()
DryRunOut.model_rebuild()
RevertOut.model_rebuild()
