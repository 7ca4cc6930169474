"""From a sheet's cells to the values a record will be saved with, per entity, and the errors of each
row in the names people know. The same code serves the dry run and the real import.

Each entity has its fields (the template's columns, with their choices read from the CRM: statuses,
sources, owners by e-mail, VAT rates, currencies, warehouses), a converter per field type, and the
keys its duplicates are found by (normalised e-mail, E.164 phone, VAT number for clients, SKU for
products)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.models import User
from crm_server.clients import normalise
from crm_server.clients.normalise import CURRENCIES
from crm_server.contract.imports import ErrorName, TemplateField
from crm_server.contract.spreadsheet import FORMULA_STARTS
from crm_server.errors import ValidationFailed
from crm_server.imports.readers import Cell
from crm_server.leads import pipelines
from crm_server.leads.models import LeadSource, PipelineStatus
from crm_server.products.models import TaxRate
from crm_server.stock.models import Warehouse

_EMAIL = re.compile(r"^[^@\s\"<>(),;:\\\[\]]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SKU = re.compile(r"^[A-Za-z0-9._/-]{1,64}$")
_MONEY_JUNK = re.compile(r"[\s\u00a0'€$£¥]|[A-Z]{3}$|^[A-Z]{3}", re.IGNORECASE)
STOCK_PREFIX = "stock:"
_CURRENCIES = {c.casefold(): c for c in CURRENCIES}
_YES = {"yes", "y", "true", "1", "x", "da", "ja", "oui", "si"}
_NO = {"no", "n", "false", "0", "", "nu", "nein", "non"}


@dataclass
class Problem:
    column: str | None
    error: ErrorName
    reason: str


@dataclass(slots=True)
class Converted:
    row: int
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # key kind ("email") -> normalised value
    # key kind -> the column it comes from (one dict shared by every row of a file)
    key_columns: dict[str, str] = field(default_factory=dict)
    action: str = "create"  # create / update / skip / error
    record_id: int | None = None


@dataclass
class Lookups:
    """What the rows are checked against, read once per import."""

    default_country: str
    default_currency: str
    base_currency: str
    pipeline_id: int = 0
    first_status_id: int = 0
    statuses: dict[str, tuple[int, str]] = field(default_factory=dict)  # casefold name -> (id, name)
    sources: dict[str, str] = field(default_factory=dict)
    owners: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # e-mail -> (user, team)
    tax_rates: dict[str, int] = field(default_factory=dict)
    tax_rate_names: list[str] = field(default_factory=list)
    default_tax_rate_id: int | None = None
    warehouses: dict[str, int] = field(default_factory=dict)  # stock:<name casefold> -> id
    warehouse_names: list[str] = field(default_factory=list)
    # The converters of the columns of a file, by its mapped fields (rows.converter), made once.
    converters: dict[tuple[str, ...], dict[str, Callable[[Cell], Any]]] = field(
        default_factory=dict, repr=False, compare=False
    )


async def lookups(session: AsyncSession, entity: str) -> Lookups:
    found = Lookups(
        default_country=str(await settings.get(session, "company.default_country") or ""),
        default_currency=str(await settings.get(session, "leads.default_currency") or "EUR").upper(),
        base_currency=str(await settings.get(session, "sales.base_currency") or "EUR").upper(),
    )
    users = (await session.execute(select(User.email, User.id, User.team_id).where(User.active.is_(True)))).all()
    found.owners = {email.lower(): (uid, team) for email, uid, team in users}
    if entity == "leads":
        pipeline = await pipelines.get_pipeline(session, None)
        found.pipeline_id = pipeline.id
        found.first_status_id = (await pipelines.first_open_status(session, pipeline.id)).id
        for sid, name in (
            await session.execute(
                select(PipelineStatus.id, PipelineStatus.name)
                .where(PipelineStatus.pipeline_id == pipeline.id, PipelineStatus.kind == "open")
                .order_by(PipelineStatus.position)
            )
        ).all():
            found.statuses[name.casefold()] = (sid, name)
        for name in (
            await session.scalars(
                select(LeadSource.name).where(LeadSource.active.is_(True)).order_by(LeadSource.position)
            )
        ).all():
            found.sources[name.casefold()] = name
    if entity == "products":
        for rid, name, rate in (
            await session.execute(
                select(TaxRate.id, TaxRate.name, TaxRate.rate).where(TaxRate.active.is_(True)).order_by(TaxRate.id)
            )
        ).all():
            found.tax_rate_names.append(name)
            found.tax_rates[name.casefold()] = rid
            percent = format(Decimal(rate).normalize(), "f")
            found.tax_rates.setdefault(percent, rid)
            found.tax_rates.setdefault(percent + "%", rid)
            if found.default_tax_rate_id is None:
                found.default_tax_rate_id = rid
        for wid, name in (
            await session.execute(
                select(Warehouse.id, Warehouse.name).where(Warehouse.active.is_(True)).order_by(Warehouse.id)
            )
        ).all():
            found.warehouses[STOCK_PREFIX + name.casefold()] = wid
            found.warehouse_names.append(name)
    return found


# --- the fields of each entity -------------------------------------------------------------------


def _f(
    name: str,
    label: str,
    kind: str = "text",
    *,
    required: bool = False,
    choices: list[str] | None = None,
    example: str = "",
    help: str = "",
) -> TemplateField:
    return TemplateField.model_validate(
        {
            "name": name,
            "label": label,
            "required": required,
            "type": kind,
            "choices": choices,
            "example": example,
            "help": help,
        }
    )


def fields_of(entity: str, look: Lookups) -> list[TemplateField]:
    owners = sorted(look.owners)
    currencies = sorted(CURRENCIES)
    if entity == "leads":
        statuses = [name for _sid, name in look.statuses.values()]
        return [
            _f("person_name", "Full Name", required=True, example="Ana Pop", help="The person's name."),
            _f("company", "Company Name", example="Acme SRL"),
            _f("email", "Email", "email", example="ana.pop@example.com", help="Checked for duplicates."),
            _f(
                "phone",
                "Phone Number",
                "phone",
                example="+40 722 123 456",
                help="Without a country code it is read "
                f"in {look.default_country or 'the default country'}; checked for duplicates.",
            ),
            _f("source", "Source", "choice", choices=list(look.sources.values()), example="Website"),
            _f(
                "status",
                "Status",
                "choice",
                choices=statuses,
                example=statuses[0] if statuses else "",
                help="An open status of the default pipeline; empty: the first one.",
            ),
            _f(
                "owner",
                "Owner Email",
                "choice",
                choices=owners,
                example=owners[0] if owners else "",
                help="The user who works the lead; empty: the assignment rules choose.",
            ),
            _f("value", "Value", "money", example="1500.00", help="Expected deal value."),
            _f(
                "currency",
                "Currency",
                "choice",
                choices=currencies,
                example=look.default_currency,
                help=f"Empty: {look.default_currency}.",
            ),
            _f("expected_close_date", "Expected Close Date", "date", example="2027-03-31"),
            _f("territory", "Territory", example="North"),
            _f("product_interest", "Product Interest", example="Solar panels"),
            _f("tags", "Tags", "tags", example="expo, vip", help="Separated by commas."),
        ]
    if entity == "clients":
        return [
            _f("name", "Company Name", required=True, example="Acme SRL"),
            _f("vat_number", "VAT Number", example="RO12345678", help="Checked for duplicates."),
            _f("email", "Email", "email", example="office@acme.example", help="Checked for duplicates."),
            _f("phone", "Phone Number", "phone", example="+40 21 123 4567", help="Checked for duplicates."),
            _f("address", "Address", example="1 Main Street, Bucharest"),
            _f("website", "Website", example="https://acme.example"),
            _f(
                "owner",
                "Owner Email",
                "choice",
                choices=owners,
                example=owners[0] if owners else "",
                help="Empty: the person importing (or the owner chosen for the import).",
            ),
            _f("contact_name", "Contact Name", example="Ana Pop", help="A contact person of the client."),
            _f("contact_email", "Contact Email", "email", example="ana.pop@acme.example"),
            _f("contact_phone", "Contact Phone", "phone", example="+40 722 123 456"),
            _f("contact_position", "Contact Position", example="Buyer"),
        ]
    if entity == "contacts":
        return [
            _f(
                "client", "Client", required=True, example="Acme SRL", help="The client's VAT number or its exact name."
            ),
            _f("name", "Full Name", required=True, example="Ana Pop"),
            _f("email", "Email", "email", example="ana.pop@acme.example", help="Checked for duplicates."),
            _f("phone", "Phone Number", "phone", example="+40 722 123 456", help="Checked for duplicates."),
            _f("position", "Position", example="Buyer"),
        ]
    if entity == "products":
        return [
            _f(
                "sku",
                "SKU",
                required=True,
                example="PNL-400",
                help="Letters, digits and . _ / -; checked for duplicates.",
            ),
            _f("name", "Name", required=True, example="Solar panel 400 W"),
            _f("description", "Description", example="Monocrystalline, 25-year warranty"),
            _f("unit", "Unit", example="pcs", help="Empty: pcs."),
            _f("unit_price", "Unit Price", "money", required=True, example="199.90"),
            _f(
                "currency",
                "Currency",
                "choice",
                choices=currencies,
                example=look.base_currency,
                help=f"Empty: {look.base_currency}.",
            ),
            _f(
                "vat_rate",
                "VAT Rate",
                "choice",
                choices=look.tax_rate_names,
                example=look.tax_rate_names[0] if look.tax_rate_names else "",
                help="A VAT rate's name or percent; empty: the first rate.",
            ),
            _f("stock_tracked", "Track Stock", "choice", choices=["yes", "no"], example="yes"),
            *[
                _f(
                    f"{STOCK_PREFIX}{name}",
                    f"Stock: {name}",
                    "number",
                    example="25",
                    help=f"Opening stock in {name} (a tracked product).",
                )
                for name in look.warehouse_names
            ],
        ]
    raise ValueError(entity)


def required_of(fields: list[TemplateField]) -> list[str]:
    return [f.name for f in fields if f.required]


# --- converting cells ----------------------------------------------------------------------------


class Bad(Exception):
    def __init__(self, error: ErrorName, reason: str) -> None:
        super().__init__(reason)
        self.error, self.reason = error, reason


def as_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = _CONTROL.sub("", str(value)).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]  # quoted by an export or an error report against spreadsheet injection
    return text


def _text(value: Cell, limit: int) -> str | None:
    text = " ".join(as_text(value).split())
    if len(text) > limit:
        raise Bad(ErrorName.incorrect_data_type, f"it is {len(text)} characters long; at most {limit} fit")
    return text or None


def _email(value: Cell) -> str | None:
    text = as_text(value).strip().strip("<>").strip()
    if not text:
        return None
    if len(text) > 320 or not _EMAIL.match(text):
        raise Bad(ErrorName.invalid_email_format, f"{text!r} is not an e-mail address")
    return text.lower()


_INTERNATIONAL = re.compile(r"\+[1-9][0-9]{2,18}")
_PHONE_SEPARATORS = str.maketrans("", "", " -")


def _international(text: str) -> str | None:
    """The E.164 form of "+40 731-234 567" without phonenumbers.parse (two thirds of the time a
    number takes), when parse could only have read it the same way: a plus, digits (spaces and
    hyphens between them), a known country code, and national digits that neither start with 0 (the
    Italian leading zero) nor with what the country's national prefix looks like (parse would strip
    it). Then is_valid_number decides, as in normalise.phone. None: ask normalise.phone."""
    digits = text.translate(_PHONE_SEPARATORS)
    if not _INTERNATIONAL.fullmatch(digits):
        return None
    digits = digits[1:]
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None or region == phonenumbers.UNKNOWN_REGION or not 2 <= len(national) <= 17:
        return None
    if national[0] == "0":
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, national):
        return None
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    if not phonenumbers.is_valid_number(number):
        return None
    return f"+{code}{national}"


@lru_cache(maxsize=65536)
def _e164(text: str, country: str) -> str | None:
    """normalise.phone, remembered (a sheet repeats a switchboard's number; None: not a number)."""
    found = _international(text)
    if found is not None:
        return found
    try:
        return normalise.phone(text, country)
    except ValidationFailed:
        return None


def _phone(value: Cell, country: str) -> str | None:
    text = as_text(value)
    if not text:
        return None
    found = _e164(text, country)
    if found is None:
        raise Bad(ErrorName.incorrect_data_type, f"{text!r} is not a phone number")
    return found


def number(value: Cell) -> Decimal | None:
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise Bad(ErrorName.incorrect_data_type, "a number was expected")
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = _MONEY_JUNK.sub("", as_text(value))
    if not text:
        return None
    if "," in text and "." in text:  # the last separator is the decimal one: 1.234,50 / 1,234.50
        text = text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") else text.replace(",", "")
    elif "," in text:
        head, _, tail = text.rpartition(",")
        text = text.replace(",", "") if len(tail) == 3 and head.lstrip("-").isdigit() else text.replace(",", ".")
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise Bad(ErrorName.incorrect_data_type, f"{as_text(value)!r} is not a number") from None
    if not result.is_finite():
        raise Bad(ErrorName.incorrect_data_type, f"{as_text(value)!r} is not a number")
    return result


def _money(value: Cell) -> Decimal | None:
    amount = number(value)
    if amount is None:
        return None
    if amount < 0 or amount >= Decimal("1e12"):
        raise Bad(ErrorName.incorrect_data_type, f"{as_text(value)} is not an amount between 0 and 999,999,999,999")
    return amount.quantize(Decimal("0.01"))


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%y", "%Y-%m-%d %H:%M:%S")


def _date(value: Cell) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 20000 < value < 80000:
        return date(1899, 12, 30) + timedelta(days=int(value))  # a spreadsheet's day number
    text = as_text(value)
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Bad(ErrorName.incorrect_data_type, f"{text!r} is not a date (write it as 2027-03-31)")


def _tags(value: Cell) -> list[str]:
    parts = [p for p in re.split(r"[,;]", as_text(value)) if p.strip()]
    try:
        return normalise.tags(parts)
    except ValidationFailed as exc:
        raise Bad(ErrorName.incorrect_data_type, exc.message) from None


def _choice(value: Cell, allowed: dict[str, Any], what: str) -> Any:
    text = as_text(value)
    if not text:
        return None
    found = allowed.get(text.casefold())
    if found is None:
        raise Bad(ErrorName.unknown_value, f"there is no {what} {text!r}")
    return found


def _bool(value: Cell) -> bool | None:
    if isinstance(value, bool):
        return value
    text = as_text(value).casefold()
    if text in _YES:
        return True
    if text in _NO:
        return None if text == "" else False
    raise Bad(ErrorName.incorrect_data_type, f"{as_text(value)!r} is not yes or no")


_LIMITS = {
    "person_name": 200,
    "company": 300,
    "name": 300,
    "territory": 100,
    "product_interest": 200,
    "vat_number": 50,
    "website": 300,
    "contact_name": 200,
    "contact_position": 200,
    "position": 200,
    "unit": 20,
    "client": 300,
    "address": 2000,
    "description": 5000,
}


def _quantity(value: Cell) -> Decimal | None:
    quantity = number(value)
    if quantity is not None and (quantity < 0 or quantity >= Decimal("1e9")):
        raise Bad(ErrorName.incorrect_data_type, f"{as_text(value)} is not a quantity of stock")
    return quantity


def _sku(value: Cell) -> str | None:
    text = as_text(value)
    if text and not _SKU.match(text):
        raise Bad(ErrorName.incorrect_data_type, f"{text!r} is not a SKU (letters, digits and . _ / -)")
    return text or None


def converter(name: str, look: Lookups) -> Callable[[Cell], Any]:
    """The function that turns a cell into what the field `name` stores (None: empty), or raises
    Bad; chosen once per column of a file, not once per cell."""
    if name in ("email", "contact_email"):
        return _email
    if name in ("phone", "contact_phone"):
        country = look.default_country
        return lambda value: _phone(value, country)
    if name in ("value", "unit_price"):
        return _money
    if name == "expected_close_date":
        return _date
    if name == "tags":
        return _tags
    choices: dict[str, tuple[dict[str, Any], str]] = {
        "currency": (_CURRENCIES, "currency"),
        "status": (look.statuses, "open status"),
        "source": (look.sources, "lead source"),
        "owner": (look.owners, "active user with the e-mail"),
        "vat_rate": (look.tax_rates, "VAT rate"),
    }
    if name in choices:
        allowed, what = choices[name]
        return lambda value: _choice(value, allowed, what)
    if name == "stock_tracked":
        return _bool
    if name.startswith(STOCK_PREFIX):
        return _quantity
    if name == "sku":
        return _sku
    limit = _LIMITS.get(name, 300)
    return lambda value: _text(value, limit)


def convert_cell(name: str, value: Cell, look: Lookups) -> Any:
    """One cell as the field `name` stores it (None: empty), or Bad."""
    return converter(name, look)(value)


def convert(
    entity: str,
    look: Lookups,
    headers: list[str],
    columns: dict[str, int],
    required: list[str],
    row: int,
    cells: list[Cell],
    key_columns: dict[str, str],
) -> Converted:
    """A row's values by field; `columns` is field -> the index of the column that fills it."""
    out = Converted(row=row)
    convert_of = _converters(look, columns)
    for name, index in columns.items():
        try:
            value = convert_of[name](cells[index])
        except Bad as bad:
            out.problems.append(Problem(headers[index], bad.error, bad.reason))
            continue
        out.values[name] = value
    for name in required:
        if out.values.get(name) in (None, "", []) and not any(
            p.column == headers[columns[name]] for p in out.problems if name in columns
        ):
            column = headers[columns[name]] if name in columns else None
            out.problems.append(
                Problem(column, ErrorName.required_field_missing, f"{_label(entity, name)} is required")
            )
    keys_of(entity, out)
    out.key_columns = key_columns
    if out.problems:
        out.action = "error"
    return out


def _converters(look: Lookups, columns: dict[str, int]) -> dict[str, Callable[[Cell], Any]]:
    """The converters of a file's columns, made once per Lookups and mapping (kept on the Lookups)."""
    key = tuple(columns)
    cached = look.converters.get(key)
    if cached is None:
        cached = look.converters[key] = {name: converter(name, look) for name in columns}
    return cached


def _label(entity: str, name: str) -> str:
    return {
        "person_name": "the person's name",
        "name": "the name",
        "sku": "the SKU",
        "client": "the client",
        "unit_price": "the unit price",
    }.get(name, name.replace("_", " "))


def keys_of(entity: str, out: Converted) -> None:
    v = out.values
    if entity in ("leads", "clients", "contacts"):
        if v.get("email"):
            out.keys["email"] = v["email"]
        if v.get("phone"):
            out.keys["phone"] = v["phone"]
    if entity == "clients" and v.get("vat_number"):
        vat = normalise.vat_key(v["vat_number"])
        if vat:
            out.keys["vat"] = vat
    if entity == "products" and v.get("sku"):
        out.keys["sku"] = v["sku"].lower()


KEY_WORDS = {"email": "e-mail", "phone": "phone", "vat": "VAT number", "sku": "SKU"}
KEY_FIELDS = {"email": "email", "phone": "phone", "vat": "vat_number", "sku": "sku"}


def key_columns_of(headers: list[str], columns: dict[str, int]) -> dict[str, str]:
    """Key kind -> the header of the column its field comes from."""
    return {kind: headers[columns[name]] for kind, name in KEY_FIELDS.items() if name in columns}
