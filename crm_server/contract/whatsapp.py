"""WhatsApp on the wire: a record's opt-in, its 24-hour window, templates, messages, sending."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, computed_field

from crm_server.contract.activities import FollowUpOut
from crm_server.contract.campaigns import FilterValue
from crm_server.contract.common import Model

MessageStatus = Literal["queued", "sent", "delivered", "read", "failed", "received"]
STATUS_WORDS = {
    "queued": "Waiting to be sent",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Read",
    "failed": "Failed",
    "received": "Received",
}


class OptInIn(BaseModel):
    method: str = Field(min_length=1, max_length=200, description="how consent was given, e.g. 'web form'")


class OptInOut(Model):
    phone: str
    opted_in_at: datetime | None = None
    method: str | None = None
    recorded_by: int | None = None
    opted_out_at: datetime | None = None


TemplateCategory = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
# The record fields a template's {{n}} may stand for (an allow-list, like the e-mail merge tags).
VARIABLE_FIELDS: dict[str, str] = {
    "contact.name": "The lead's or client's name",
    "contact.company": "The lead's company (a client's name)",
    "owner.full_name": "The sender's name",
    "company.name": "Our company's name",
}
TEMPLATE_STATUS_WORDS = {
    "DRAFT": "Not submitted yet",
    "PENDING": "Waiting for WhatsApp's approval",
    "APPROVED": "Approved",
    "REJECTED": "Rejected",
    "PAUSED": "Paused by WhatsApp (low quality)",
    "DISABLED": "Disabled by WhatsApp",
    "IN_APPEAL": "In appeal",
}
# Meta's rejected_reason codes (template status webhook, GET message_templates) in words.
REASON_WORDS = {
    "ABUSIVE_CONTENT": "WhatsApp found the content abusive.",
    "INCORRECT_CATEGORY": "The category does not fit the content (e.g. a promotion filed as utility).",
    "INVALID_FORMAT": "The format is invalid (variables, placeholders or length).",
    "PROMOTIONAL": "The content is promotional, which this category does not allow.",
    "SCAM": "WhatsApp judged the content to be a possible scam.",
    "TAG_CONTENT_MISMATCH": "The content does not match the chosen category or language.",
}


class TemplateButton(BaseModel):
    """QUICK_REPLY (text only), URL (text + https address) or PHONE_NUMBER (text + E.164 number)."""

    type: Literal["QUICK_REPLY", "URL", "PHONE_NUMBER"]
    text: str = Field(min_length=1, max_length=25)
    url: str | None = Field(default=None, max_length=2000)
    phone_number: str | None = Field(default=None, max_length=20)


class TemplateIn(BaseModel):
    """A template written in the CRM: Meta's rules on names, lengths and {{1}}..{{n}} apply."""

    name: str = Field(min_length=1, max_length=512, description="lower case letters, digits and _")
    category: TemplateCategory
    language: str = Field(min_length=2, max_length=20, description="e.g. en_US, ro")
    body: str = Field(min_length=1, max_length=1024)
    variables: list[str] = Field(default_factory=list, max_length=20, description="the field behind {{1}}, {{2}}..")
    header: str | None = Field(default=None, max_length=60)
    footer: str | None = Field(default=None, max_length=60)
    buttons: list[TemplateButton] = Field(default_factory=list, max_length=10)


class TemplateOut(Model):
    id: int
    name: str
    language: str
    category: str
    status: str  # APPROVED, PENDING, REJECTED, PAUSED, DRAFT (written here, not submitted) ...
    body: str
    reason: str | None = None
    header: str | None = None
    footer: str | None = None
    buttons: list[TemplateButton] = Field(default_factory=list)
    variables: list[str] = Field(default_factory=list)
    authored: bool = False
    submitted_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_words(self) -> str:
        return TEMPLATE_STATUS_WORDS.get(self.status, self.status.replace("_", " ").capitalize())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reason_words(self) -> str | None:
        """Why WhatsApp refused or paused it, in words (its code kept in brackets)."""
        if not self.reason:
            return None
        code, _, detail = self.reason.partition(": ")
        words = REASON_WORDS.get(code)
        return (f"{words} ({code})" + (f" {detail}" if detail else "")) if words else self.reason


class NumberOut(Model):
    """The business number as the Cloud API reads it now: its quality rating and messaging limit."""

    phone_number_id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None  # GREEN, YELLOW, RED, UNKNOWN
    messaging_limit_tier: str | None = None  # TIER_50, TIER_250, TIER_1K ... TIER_UNLIMITED
    daily_limit: int | None = None  # unique customers per 24 h (None: unlimited or unknown)
    words: str  # both in a sentence for people


class Conversation(Model):
    """What the composer needs: the number, consent, the window and what may be sent now, and why."""

    phone: str | None
    opt_in: OptInOut | None = None
    window_open: bool
    window_ends_at: datetime | None = None
    can_send: bool
    free_text: bool  # free text allowed now (inside the 24 h window)
    reason: str  # in words: why only templates, or why nothing
    templates: list[TemplateOut] = Field(default_factory=list)  # approved ones


class MessageIn(BaseModel):
    text: str | None = Field(default=None, max_length=4096)
    template: str | None = Field(default=None, max_length=512)
    language: str | None = Field(default=None, max_length=20)


class MessageOut(Model):
    id: int
    lead_id: int | None
    client_id: int | None
    phone: str
    direction: Literal["in", "out"]
    template_name: str | None = None
    body: str
    status: MessageStatus
    error: str | None = None
    wamid: str | None = None
    created_at: datetime
    status_at: datetime | None = None


class FollowUpMessageIn(MessageIn):
    """Send on WhatsApp for a follow-up and mark it done in the same step (its version as read)."""

    version: int = Field(ge=0, le=2**31 - 1)
    outcome: str = Field(default="", max_length=5000)


class FollowUpSent(Model):
    message: MessageOut
    follow_up: FollowUpOut


class CampaignAudienceIn(BaseModel):
    """Leads or clients by the list filters of GET /api/leads or /api/clients (a saved view's)."""

    entity: Literal["lead", "client"]
    filters: dict[str, FilterValue] = Field(default_factory=dict, max_length=30)


class CampaignAudienceOut(BaseModel):
    matching: int
    eligible: int  # distinct opted-in numbers that would get it
    excluded: dict[str, int]  # no_phone, no_opt_in, opted_out, duplicate


class CampaignIn(CampaignAudienceIn):
    """A WhatsApp campaign on the campaign engine: an approved template to every opted-in number."""

    name: str = Field(min_length=1, max_length=200)
    template_id: int = Field(ge=1, le=2**63 - 1)
    business_hours_only: bool = True
    per_minute: int = Field(default=20, ge=1, le=1000, description="hand-offs a minute (the Cloud API's pace)")
    scheduled_at: AwareDatetime | None = None


class CampaignResults(BaseModel):
    """What came of a WhatsApp campaign: hand-offs, then the statuses Meta's webhook brought."""

    campaign_id: int
    status: str
    held_for_hours: bool  # paused by the business-hours clock (resumes by itself at opening)
    business_hours_only: bool
    template: str
    daily_limit: int | None  # the number's tier when it started
    total: int
    queued: int
    sent: int  # handed to WhatsApp
    delivered: int  # delivered or read
    read: int
    failed: int
    failed_by_reason: dict[str, int]
    replies: int  # recipients who wrote back after it started
