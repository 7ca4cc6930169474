"""What the stock screens share: quantities shown without float noise, the names of document kinds
and statuses, and the warehouses list as combo choices."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from crm_desktop.operations.errors import local_time

Row = dict[str, Any]
KIND_LABELS = {"receipt": "Receipt", "delivery": "Delivery", "transfer": "Transfer", "adjustment": "Adjustment"}
KIND_NEW = {
    "receipt": "New receipt",
    "delivery": "New delivery",
    "transfer": "New transfer",
    "adjustment": "New adjustment",
}
STATUS_LABELS = {"draft": "Draft", "validated": "Validated", "reversed": "Reversed", "cancelled": "Cancelled"}
STATUS_COLORS = {"draft": "#6b7280", "validated": "#15803d", "reversed": "#b45309", "cancelled": "#6b7280"}
STOCK_AREAS = frozenset({"*", "stock", "purchasing"})  # live reload of lists that show stock
LOW_BACKGROUND = "#fde8e8"
LOW_TEXT = "#b91c1c"


def qty(value: Any) -> str:
    """A quantity as a person writes it: "12", "2.5", "-3" (the wire says "12.000")."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def signed_qty(value: Any) -> str:
    """A move: "+5" in, "-2" out."""
    text = qty(value)
    return text if text.startswith("-") or text in ("", "0") else f"+{text}"


def parse_qty(text: str) -> Decimal | None:
    """What a person typed as a quantity (comma or point), or None when it is not a number."""
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    if not cleaned:
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def document_title(document: Row) -> str:
    return f"{kind_label(document['kind'])} {document['number']}"


def warehouses_text(document: Row) -> str:
    source = document.get("warehouse_name") or "—"
    if document.get("kind") == "transfer":
        return f"{source} → {document.get('to_warehouse_name') or '—'}"
    return source


def document_date(document: Row) -> str:
    return local_time(document.get("validated_at") or document.get("created_at")) or ""


def warehouse_choices(warehouses: list[Row], *, active_only: bool = False) -> list[tuple[str, Any]]:
    return [
        (w["name"] if w["active"] else f"{w['name']} (inactive)", w["id"])
        for w in warehouses
        if w["active"] or not active_only
    ]
