"""Shapes shared by every area."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


# ISO 4217 minor units that are not 2; every other currency has cents.
MINOR_UNITS: dict[str, int] = {
    "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XOF": 0, "XAF": 0, "UGX": 0, "PYG": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}  # fmt: skip


def minor_unit(currency: str) -> int:
    """Decimals of the currency's smallest coin (2 unless the table says otherwise): the server
    rounds to it (crm_server/money.py), the desktop shows it (crm_desktop/format.py)."""
    return MINOR_UNITS.get(currency.upper(), 2)


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a sentence for people, and the field it is about."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str
    field: str | None = None


class Page(Model, Generic[T]):
    """One page of a server-side list; `total` lets a view size its scroll bar. A list that may
    stop counting (invoices: a million rows cannot be counted in a page's time) says so with
    `total_exact` False; `total` is then a lower bound ("more than 10,100"), exact for every
    other list."""

    items: list[T]
    total: int
    offset: int
    limit: int
    total_exact: bool = True
    # A full page's cursor: sent back as `after`, the next page starts after this one's last row
    # (page 2,500 as fast as the first). None on the last page and on lists that cannot use one.
    next: str | None = None


# The cursor a list's next page starts after (Page.next, given back as a query parameter).
After = Annotated[str | None, Field(max_length=500, pattern=r"^[A-Za-z0-9_-]*$")]


# A place in an admin's ordered list (lead sources, lost reasons, ticket categories): a 32-bit column.
Position = Annotated[int, Field(ge=0, le=2**31 - 1)]


class VersionIn(BaseModel):
    """The version the user saw: a write over a newer change is refused with 409 stale_version."""

    version: int


FieldValue = str | int | float | bool | list[str] | None


class Guarded(BaseModel):
    """What each field being saved held when the person began editing it. A field someone else has
    changed since is refused with 409 `field_changed` naming it (and their value); edits of other
    fields merge with theirs. Without it, the version alone decides."""

    expected: dict[str, FieldValue] | None = Field(default=None, max_length=100)


class Ok(Model):
    ok: bool = True


# The wire's level: raised by one whenever a change to the API would break an app built before it
# (a route moved or gone, a field renamed or newly required). The server says its level on
# GET /api/version; the desktop, built against this same module, refuses to sign in to a server
# whose level differs from the one it was built with.
API_LEVEL = 1


class ServerVersion(Model):
    """GET /api/version, public: the server package's version and the API level it speaks."""

    version: str
    api_level: int
