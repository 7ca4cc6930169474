"""What a printed document says and how it looks: the template read from resources/pdf/document.json,
the bundled fonts registered with reportlab, the document's data as plain values (no database, no
reportlab), and the formatting of stored Decimal amounts (formatted, never recomputed)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from crm_server import money

Kind = Literal["invoice", "credit_note", "proposal"]
Align = Literal["left", "right", "center"]
_fonts_lock = threading.Lock()


# --- the template --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str  # position, description, quantity, unit_price, discount, tax_percent, net
    label: str
    width: float  # share of the frame width
    align: Align = "left"


@dataclass(frozen=True)
class Template:
    page_size: str
    margins: dict[str, float]  # mm
    font: str  # registered reportlab names
    bold_font: str
    sizes: dict[str, float]
    colours: dict[str, str]
    logo_max: tuple[float, float]  # mm
    date_format: str
    thousands: str
    decimal: str
    columns: tuple[Column, ...]
    labels: dict[str, str]
    texts: dict[str, str]

    def label(self, key: str) -> str:
        return self.labels.get(key, key.replace("_", " ").capitalize())


def resource_dir(name: str) -> Path:
    return Path(str(resources.files("resources") / name))


def _register_font(name: str, filename: str) -> None:
    """Register a bundled TrueType font once per process (reportlab's registry is global)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _fonts_lock:
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(resource_dir("fonts") / filename)))


def parse_template(raw: dict[str, Any]) -> Template:
    fonts = raw["fonts"]
    for font in fonts.values():
        _register_font(font["name"], font["file"])
    columns = tuple(
        Column(key=c["key"], label=c["label"], width=float(c["width"]), align=c.get("align", "left"))
        for c in raw["columns"]
    )
    total = sum(c.width for c in columns)
    if not 0.99 <= total <= 1.01:
        raise ValueError(f"the column widths of the PDF template add up to {total}, not 1")
    formats = raw.get("formats", {})
    return Template(
        page_size=raw["page"]["size"],
        margins=raw["page"]["margins"],
        font=fonts["regular"]["name"],
        bold_font=fonts["bold"]["name"],
        sizes=raw["sizes"],
        colours=raw["colours"],
        logo_max=(float(raw["logo"]["max_width"]), float(raw["logo"]["max_height"])),
        date_format=formats.get("date", "%Y-%m-%d"),
        thousands=formats.get("thousands", ","),
        decimal=formats.get("decimal", "."),
        columns=columns,
        labels=raw["labels"],
        texts=raw["texts"],
    )


@lru_cache(maxsize=1)
def template() -> Template:
    """The shipped template (read and its fonts registered once per process)."""
    path = resource_dir("pdf") / "document.json"
    return parse_template(json.loads(path.read_text(encoding="utf-8")))


# --- the document's data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    name: str
    address: str = ""
    vat_number: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Line:
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_percent: Decimal
    net: Decimal


@dataclass(frozen=True)
class TaxRow:
    """One VAT rate's base and tax: the sums of the stored line amounts at that rate (which are what
    money.document_totals stored, in either rounding mode)."""

    rate: Decimal
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Document:
    kind: Kind
    number: str | None
    currency: str
    company: Party
    client: Party
    lines: tuple[Line, ...]
    taxes: tuple[TaxRow, ...]
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    paid_total: Decimal = Decimal("0.00")
    issue_date: date | None = None
    due_date: date | None = None
    valid_until: date | None = None
    title: str | None = None
    notes: str | None = None
    credited_number: str | None = None
    mark: str | None = None  # "draft_mark" / "cancelled_mark": printed across every page
    logo_png: bytes | None = None


def tax_rows(lines: list[tuple[Decimal, Decimal, Decimal]]) -> tuple[TaxRow, ...]:
    """(tax_percent, net, tax) of each stored line -> one row per rate, highest rate first."""
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for rate, net, tax in lines:
        key = rate.normalize()
        base, sum_tax = by_rate.get(key, (Decimal("0.00"), Decimal("0.00")))
        by_rate[key] = (base + net, sum_tax + tax)
    return tuple(TaxRow(rate=r, base=b, tax=t) for r, (b, t) in sorted(by_rate.items(), reverse=True))


# --- formatting ----------------------------------------------------------------------------------


def _grouped(value: Decimal, places: int, tpl: Template) -> str:
    text = f"{value:,.{places}f}"  # exact: Decimal formatting, the value already has its places
    return text.replace(",", "\0").replace(".", tpl.decimal).replace("\0", tpl.thousands)


def amount(value: Decimal, currency: str, tpl: Template) -> str:
    """A stored amount as printed: the currency's decimals, grouped thousands."""
    return _grouped(value, money.minor_unit(currency), tpl)


def plain_number(value: Decimal, tpl: Template) -> str:
    """A quantity or percent without trailing zeros: 3.000 -> 3, 2.500 -> 2.5."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if not isinstance(exponent, int):  # "n", "N", "F": not a number, infinity
        raise ValueError(f"{value} is not a finite number")
    places = max(0, -exponent)
    return _grouped(normal, places, tpl)


def percent(value: Decimal, tpl: Template) -> str:
    return plain_number(value, tpl) + "%"


def day(value: date | None, tpl: Template) -> str:
    return value.strftime(tpl.date_format) if value is not None else ""
