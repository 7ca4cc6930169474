"""Website forms on the wire: what an admin defines (fields and the lead field each fills, allowed
origins, where the lead goes and who gets it), and what a visitor's post gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from crm_server.contract.common import Model

FieldType = Literal["text", "email", "phone", "textarea", "select"]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
FIELD_TYPE_LABELS = {"text": "Text", "email": "Email", "phone": "Phone", "textarea": "Long text", "select": "Choice"}

MapsTo = Literal["person_name", "company", "email", "phone", "value", "territory", "product_interest", "note", "none"]
MAPS_TO: tuple[str, ...] = get_args(MapsTo)
# What each target means to the admin; "note" and "none" both end up in the lead's first note.
MAPS_TO_LABELS = {
    "person_name": "Person's name",
    "company": "Company",
    "email": "Email",
    "phone": "Phone",
    "value": "Value",
    "territory": "Territory",
    "product_interest": "Product interest",
    "note": "Note (the message)",
    "none": "Kept in the note",
}
# Targets one form may fill only once (a lead has one email); note and none may repeat.
SINGLE_TARGETS = frozenset(MAPS_TO) - {"note", "none"}

Assignment = Literal["rules", "owner", "team"]
ASSIGNMENT_LABELS = {"rules": "The assignment rules", "owner": "A person", "team": "Round-robin in a team"}

FIELD_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,49}$"
DEFAULT_HONEYPOT = "website"
LEAD_SOURCE = "Website form"


class FormField(Model):
    name: str = Field(pattern=FIELD_NAME_PATTERN, description="the HTML input's name")
    label: str = Field(min_length=1, max_length=200)
    type: FieldType = "text"
    required: bool = False
    maps_to: MapsTo = "none"
    options: list[str] = Field(default_factory=list, max_length=100, description="the choices of a select")


class WebFormIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    active: bool = True
    fields: list[FormField] = Field(min_length=1, max_length=50)
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="websites allowed to post from a browser, e.g. https://example.com",
    )
    pipeline_id: int | None = Field(default=None, description="default: the default pipeline")
    status_id: int | None = Field(default=None, description="default: the pipeline's first open status")
    assignment: Assignment = "rules"
    owner_id: int | None = None
    team_id: int | None = None
    redirect_url: str | None = Field(default=None, max_length=2000, description="thank-you page for form posts")
    honeypot: str = Field(
        default=DEFAULT_HONEYPOT,
        pattern=FIELD_NAME_PATTERN,
        description="a hidden field people leave empty and spam robots fill",
    )


class WebFormUpdate(WebFormIn):
    version: int


class WebFormOut(Model):
    id: int
    name: str
    key: str
    active: bool
    fields: list[FormField]
    allowed_origins: list[str]
    pipeline_id: int | None
    status_id: int | None
    assignment: Assignment
    owner_id: int | None
    team_id: int | None
    redirect_url: str | None
    honeypot: str
    post_url: str = ""  # where the embed snippet posts ({app.public_url}/webhooks/forms/{key})
    created_at: datetime
    updated_at: datetime
    version: int


class EmbedSnippet(Model):
    post_url: str
    html: str  # a plain HTML form with the fields, the hidden honeypot and a small optional script
    public_url_set: bool  # False: app.public_url is empty and the URL is only this server's own address


class SubmissionAnswer(Model):
    """What a visitor's browser (or the site's script) gets for an accepted post."""

    ok: bool = True
    message: str = "Thank you, we will be in touch soon."
