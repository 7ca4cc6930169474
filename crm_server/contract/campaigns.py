"""E-mail campaigns on the wire (issue #22): the audience and its exclusions, the throttle and its
presets, the campaign, its results and recipients, consent and engagement."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from crm_server.contract.common import Model

MAX_BODY = 100_000
BIG = 2**63 - 1
FilterValue = str | int | bool | None


class CampaignEntity(StrEnum):
    lead = "lead"
    client = "client"
    contact = "contact"


class Preset(StrEnum):
    gmail = "gmail"
    workspace = "workspace"
    m365 = "m365"
    custom = "custom"


# (per minute, per hour, per day) of each provider's documented sending limit.
PRESETS: dict[Preset, tuple[int | None, int | None, int | None]] = {
    Preset.gmail: (None, None, 500),
    Preset.workspace: (None, None, 2000),
    Preset.m365: (30, None, 10000),
}
PRESET_LABELS: dict[Preset, str] = {
    Preset.gmail: "Gmail (500 a day)",
    Preset.workspace: "Google Workspace (2,000 a day)",
    Preset.m365: "Microsoft 365 (10,000 a day, 30 a minute)",
    Preset.custom: "Custom",
}

# Merge tags a campaign's subject and body may use, per audience.
CAMPAIGN_TAGS: dict[str, tuple[str, ...]] = {
    "lead": ("lead.person_name", "lead.company", "lead.email", "company.name"),
    "client": ("client.name", "client.email", "company.name"),
    "contact": ("contact.name", "contact.email", "client.name", "company.name"),
}


class AudienceIn(BaseModel):
    """The list filters of the entity's list API (GET /api/leads, /api/clients), as a saved view keeps them."""

    entity: CampaignEntity
    filters: dict[str, FilterValue] = Field(default_factory=dict, max_length=30)


class AudienceOut(BaseModel):
    matching: int = Field(description="records the filters match")
    eligible: int = Field(description="distinct addresses a campaign would send to")
    excluded: dict[str, int] = Field(
        description="no_address, unsubscribed, bounced, complained, suppressed, never_consented, duplicate"
    )


class CampaignIn(AudienceIn):
    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    preset: Preset = Preset.custom
    per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    per_hour: int | None = Field(default=None, ge=1, le=10_000_000)
    per_day: int | None = Field(default=None, ge=1, le=100_000_000)
    scheduled_at: datetime | None = Field(default=None, description="empty: when started")


class Counts(BaseModel):
    total: int = 0
    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unconfirmed: int = 0
    cancelled: int = 0
    bounced: int = 0
    soft_bounced: int = 0
    complained: int = 0
    opened_people: int = 0
    opened_machines: int = 0
    clicked: int = 0
    unsubscribed: int = 0


class CampaignOut(Model):
    id: int
    name: str
    channel: str
    entity: CampaignEntity
    filters: dict[str, FilterValue]
    subject: str
    body: str
    status: str
    scheduled_at: datetime | None
    preset: Preset
    per_minute: int | None
    per_hour: int | None
    per_day: int | None
    excluded: dict[str, int]
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    next_batch_at: datetime | None
    counts: Counts = Field(default_factory=Counts)


class LinkResult(BaseModel):
    url: str
    clicks: int
    people: int


class TimePoint(BaseModel):
    at: datetime
    sent: int
    opened: int
    clicked: int


class ResultsOut(BaseModel):
    counts: Counts
    links: list[LinkResult]
    timeline: list[TimePoint]


class RecipientOut(Model):
    id: int
    entity: CampaignEntity
    entity_id: int
    address: str
    name: str
    state: str
    sent_at: datetime | None
    error: str | None
    opened_at: datetime | None
    machine_opened_at: datetime | None
    clicked_at: datetime | None
    unsubscribed_at: datetime | None


class ConsentIn(BaseModel):
    """Addresses that gave marketing consent (a signed form, a ticked box), and how."""

    addresses: list[str] = Field(min_length=1, max_length=1000)
    source: str = Field(min_length=1, max_length=200)


class EngagementOut(BaseModel):
    entity: CampaignEntity
    entity_id: int
    opens: int
    clicks: int
    score: int
