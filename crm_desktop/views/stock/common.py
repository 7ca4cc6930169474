"""What the stock screens share: the names of document kinds and statuses (from the contract's
enums, in format.label's words), a move's signed quantity, and the warehouses list as combo choices.
Quantities, days and moments are shown by crm_desktop.format."""

from __future__ import annotations

from typing import Any

from crm_desktop import format, theme
from crm_server.contract.stock import DocumentKind, DocumentStatus, StockDocumentOut, WarehouseOut

KIND_LABELS = {kind.value: format.label(kind) for kind in DocumentKind}
KIND_NEW = {kind.value: f"New {format.label(kind).lower()}" for kind in DocumentKind}
STATUS_LABELS = {status.value: format.label(status) for status in DocumentStatus}
STATUS_COLORS = theme.ToneColors(
    {"draft": "neutral", "validated": "success", "reversed": "warning", "cancelled": "neutral"}
)
LOW_BACKGROUND = "danger_soft"  # theme tokens: a low product's rows, and the figures that are low
LOW_TEXT = "danger"


def signed_qty(value: Any) -> str:
    """A move: "+5" in, "-2" out."""
    text = format.quantity(value)
    return text if text.startswith("-") or text in ("", "0") else f"+{text}"


def kind_label(kind: str) -> str:
    return format.label(kind)


def status_label(status: str) -> str:
    return format.label(status)


def document_title(document: StockDocumentOut) -> str:
    return f"{kind_label(document.kind)} {document.number}"


def warehouses_text(document: StockDocumentOut) -> str:
    source = document.warehouse_name or "—"
    if document.kind == "transfer":
        return f"{source} → {document.to_warehouse_name or '—'}"
    return source


def document_date(document: StockDocumentOut) -> str:
    return format.moment(document.validated_at or document.created_at)


def warehouse_choices(warehouses: list[WarehouseOut], *, active_only: bool = False) -> list[tuple[str, Any]]:
    return [(w.name if w.active else f"{w.name} (inactive)", w.id) for w in warehouses if w.active or not active_only]
