"""The lines of a purchase order: the one LineGrid in its purchase mode (product by SKU or name from
the scanner entry, quantity, unit cost, the line total and, once ordered, what was received and what
remains; the order's total). See crm_desktop/widgets/line_grid.py."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from crm_desktop.api.client import ApiClient
from crm_desktop.widgets.line_grid import LineGrid, Mode


class PurchaseLines(LineGrid):
    """A purchase order's lines (LineGrid, Mode.PURCHASE)."""

    def __init__(self, api: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(api, parent, mode=Mode.PURCHASE)
