"""Leads, pipelines, the board, bulk work, duplicates and assignment rules on the wire."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from crm_server.contract.clients import ClientOut, RecordWarning
from crm_server.contract.common import After, Guarded, Model, Position, VersionIn

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
SourceDetails = dict[Annotated[str, Field(min_length=1, max_length=50)], Annotated[str, Field(max_length=200)]]


class StatusKind(StrEnum):
    open = "open"
    won = "won"  # reaching it may convert the lead into a client
    lost = "lost"  # needs a lost reason
    junk = "junk"


# --- pipelines and admin lists -------------------------------------------------------------------


class StatusOut(Model):
    id: int
    pipeline_id: int
    name: str
    position: int
    kind: StatusKind
    version: int


class PipelineOut(Model):
    id: int
    name: str
    is_default: bool
    version: int
    statuses: list[StatusOut]


class PipelineIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    is_default: bool = False


class PipelineUpdate(VersionIn):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    is_default: bool | None = None


class StatusIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: StatusKind = StatusKind.open
    position: int | None = Field(default=None, ge=0, description="where to insert; default: before the closed ones")


class StatusUpdate(VersionIn):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    kind: StatusKind | None = None


class StatusOrder(BaseModel):
    status_ids: list[int] = Field(min_length=1, description="every status of the pipeline, in the new order")


class NamedItemOut(Model):
    """A lost reason or a lead source (admin-editable lists)."""

    id: int
    name: str
    position: int
    active: bool
    requires_text: bool = False
    version: int


class NamedItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    position: Position | None = None
    active: bool = True
    requires_text: bool = Field(default=False, description="lost reasons only: ask for the reason in words")


class NamedItemUpdate(VersionIn):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    position: Position | None = None
    active: bool | None = None
    requires_text: bool | None = None


# --- leads ---------------------------------------------------------------------------------------


class LeadIn(BaseModel):
    person_name: str = Field(min_length=1, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    source: str | None = Field(default=None, max_length=100)
    source_details: SourceDetails = Field(
        default_factory=dict, max_length=10, description="where an integration found it, e.g. Facebook page/form/ad ids"
    )
    partner_name: str | None = Field(default=None, max_length=200)
    partner_client_id: int | None = None
    pipeline_id: int | None = Field(default=None, description="default: the default pipeline")
    status_id: int | None = Field(default=None, description="default: the pipeline's first open status")
    owner_id: int | None = Field(default=None, description="none: the assignment rules choose")
    team_id: int | None = None
    value: Money | None = None
    currency: str | None = Field(default=None, max_length=3)
    expected_close_date: date | None = None
    territory: str | None = Field(default=None, max_length=100)
    product_interest: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=30)
    note: str | None = Field(default=None, max_length=20000, description="a first note")


class LeadUpdate(VersionIn, Guarded):
    """Fields to change (status changes go through /move)."""

    person_name: str | None = Field(default=None, min_length=1, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    source: str | None = Field(default=None, max_length=100)
    partner_name: str | None = Field(default=None, max_length=200)
    partner_client_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    value: Money | None = None
    currency: str | None = Field(default=None, max_length=3)
    expected_close_date: date | None = None
    territory: str | None = Field(default=None, max_length=100)
    product_interest: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=30)


class LeadOut(Model):
    id: int
    person_name: str
    company: str | None
    email: str | None
    phone: str | None
    source: str | None
    source_details: dict[str, str] = Field(default_factory=dict)
    partner_name: str | None
    partner_client_id: int | None
    pipeline_id: int
    status_id: int
    owner_id: int | None
    team_id: int | None
    value: Decimal | None
    currency: str | None
    expected_close_date: date | None
    territory: str | None
    product_interest: str | None
    tags: list[str]
    lost_reason_id: int | None
    lost_reason_text: str | None
    status_changed_at: datetime
    closed_at: datetime | None
    archived_at: datetime | None
    converted_client_id: int | None
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int
    warnings: list[RecordWarning] = Field(default_factory=list)


LeadSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "person_name",
    "-person_name",
    "company",
    "-company",
    "value",
    "-value",
    "expected_close_date",
    "-expected_close_date",
    "status_changed_at",
    "-status_changed_at",
    "id",
    "-id",
]


class LeadFilters(BaseModel):
    """The filter bar of the board and the list (the same filters, so switching views keeps them)."""

    pipeline_id: int | None = None
    status_id: int | None = None
    owner_id: int | None = None
    unassigned: bool = Field(
        default=False, description="only the open leads (not won, lost or junk) with no owner: waiting to be assigned"
    )
    team_id: int | None = None
    source: str | None = Field(default=None, max_length=100)
    tag: str | None = Field(default=None, max_length=50)
    created_from: date | None = None
    created_to: date | None = Field(default=None, description="inclusive")
    include_closed: bool = Field(default=False, description="also lost and junk leads")
    archived: bool = Field(default=False, description="true shows archived (and merged) leads instead")
    q: str | None = Field(default=None, max_length=200)
    min_engagement: int | None = Field(
        default=None, ge=0, le=100, description="only leads whose campaign engagement score is at least this"
    )


class LeadQuery(LeadFilters):
    sort: LeadSort = "-created_at"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


class ConversionIn(BaseModel):
    """The client a won lead becomes: an existing one, or a new one made from the lead and these."""

    existing_client_id: int | None = None
    name: str | None = Field(default=None, max_length=300, description="default: the lead's company")
    vat_number: str | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=2000)
    website: str | None = Field(default=None, max_length=300)


class MoveRequest(VersionIn):
    status_id: int
    lost_reason_id: int | None = None
    lost_reason_text: str | None = Field(default=None, max_length=2000)
    convert: bool = Field(default=False, description="moving to a won status: make the lead a client")
    client: ConversionIn | None = None


class MoveResult(Model):
    lead: LeadOut
    client: ClientOut | None = None


class MoneyTotal(Model):
    currency: str | None
    amount: Decimal


class BoardCard(Model):
    id: int
    person_name: str
    company: str | None
    value: Decimal | None
    currency: str | None
    owner_id: int | None
    owner_name: str | None
    tags: list[str]
    created_at: datetime
    status_changed_at: datetime
    age_days: int
    next_follow_up_at: datetime | None
    version: int


class BoardColumn(Model):
    status: StatusOut
    count: int
    totals: list[MoneyTotal]
    cards: list[BoardCard]
    offset: int = 0


class Board(Model):
    pipeline_id: int
    columns: list[BoardColumn]


class ColumnPage(Model):
    status_id: int
    offset: int
    cards: list[BoardCard]


class BulkRequest(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=5000)
    action: Literal["reassign", "status", "tag_add", "tag_remove"]
    owner_id: int | None = None
    status_id: int | None = None
    lost_reason_id: int | None = None
    lost_reason_text: str | None = Field(default=None, max_length=2000)
    tag: str | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _arguments(self) -> BulkRequest:
        needed = {"reassign": "owner_id", "status": "status_id", "tag_add": "tag", "tag_remove": "tag"}[self.action]
        if getattr(self, needed) is None:
            raise ValueError(f"{self.action} needs {needed}")
        return self


class BulkSkip(Model):
    id: int
    code: str
    message: str


class BulkResult(Model):
    updated: list[int]
    skipped: list[BulkSkip]


class DuplicateOut(Model):
    id: int
    person_name: str
    company: str | None
    email: str | None
    phone: str | None
    owner_id: int | None
    status_id: int
    archived_at: datetime | None
    reasons: list[str]


MERGE_FIELDS = (
    "person_name",
    "company",
    "email",
    "phone",
    "source",
    "partner_name",
    "partner_client_id",
    "owner_id",
    "value",
    "expected_close_date",
    "territory",
    "product_interest",
    "status_id",
)


class MergeRequest(VersionIn):
    """Merge `other_id` into this lead. `take` names the fields whose value comes from the other
    lead (value brings its currency, owner its team); every other field keeps this lead's value.
    Tags are united; notes, follow-ups and history move to this lead."""

    other_id: int
    other_version: int
    take: dict[str, Literal["keep", "other"]] = Field(default_factory=dict)


class AssignmentRuleOut(Model):
    id: int
    name: str
    position: int
    active: bool
    source: str | None
    territory: str | None
    product_interest: str | None
    user_id: int | None
    team_id: int | None
    version: int


class AssignmentRuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    active: bool = True
    source: str | None = Field(default=None, max_length=100)
    territory: str | None = Field(default=None, max_length=100)
    product_interest: str | None = Field(default=None, max_length=200)
    user_id: int | None = None
    team_id: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> AssignmentRuleIn:
        if (self.user_id is None) == (self.team_id is None):
            raise ValueError("give either user_id or team_id")
        return self


class AssignmentRuleUpdate(AssignmentRuleIn):
    version: int


class RuleOrder(BaseModel):
    rule_ids: list[int] = Field(min_length=1)
