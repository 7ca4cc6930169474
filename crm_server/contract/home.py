"""Home on the wire: the signed-in person's widgets, each a few figures (and maybe a small table),
every figure naming the list behind it and the filter that list opens with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from crm_server.contract.common import Model

FigureKind = Literal["count", "money", "text", "bytes"]
Tone = Literal["normal", "good", "warn", "bad"]
Filter = dict[str, str | int | bool]


class HomeFigure(Model):
    key: str
    label: str
    value: int | Decimal | str
    kind: FigureKind = "count"
    currency: str | None = None  # for money
    tone: Tone = "normal"  # bad: a red flag (a breach, a failed backup)
    detail: str = ""  # a sentence more ("No backup has been made yet")
    module: str | None = Field(default=None, description="the sidebar module whose list is behind the figure")
    filter: Filter = Field(
        default_factory=dict, description="that list's filter (its query parameters) showing these records"
    )


class HomeTable(Model):
    columns: list[str]
    rows: list[list[str | int]]
    kinds: list[FigureKind] = Field(
        default_factory=list, description="per column; a money column's cells are decimal strings in `currency`"
    )
    currency: str | None = None


class HomeWidget(Model):
    key: str
    title: str
    figures: list[HomeFigure] = Field(default_factory=list)
    table: HomeTable | None = None
    empty: str = ""  # what to say when there is nothing to show


class HomeOut(Model):
    generated_at: datetime
    widgets: list[HomeWidget] = Field(description="in the default order for the person's role")
