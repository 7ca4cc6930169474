"""The client's whole picture in its window: a tab per area (deals, proposals, invoices, payments,
tickets, sales orders) with the area's totals in words and its newest records; double-click or
Enter on a record opens that record's own window (a payment opens its invoice).

All of it comes from one call (clients.summary); an area the role may not view is not shown. The
window reloads it when one of those areas changes (clients.SUMMARY_AREAS on the change bus)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format
from crm_desktop.session import Session
from crm_desktop.widgets.record_window import lazy
from crm_server.contract.client_summary import AreaTotal, ClientSummaryOut, InvoiceTotal, SummarySection
from crm_server.contract.invoices import InvoiceKind, InvoiceOut
from crm_server.contract.leads import LeadOut
from crm_server.contract.orders import OrderOut
from crm_server.contract.payments import PaymentRow
from crm_server.contract.proposals import ProposalOut
from crm_server.contract.tickets import TicketOut

ItemT = TypeVar("ItemT")
TotalT = TypeVar("TotalT", bound=AreaTotal)
ITEM_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class Column(Generic[ItemT]):
    title: str
    text: Callable[[ItemT, ClientSummaryOut], str]  # the record, and the summary it came in (its names)
    money: bool = False  # right-aligned
    stretch: bool = False  # the one column that takes the width left (a title, a subject)


def _joined(parts: Sequence[str]) -> str:
    return "  ·  ".join(p for p in parts if p)


def _amounts(totals: Sequence[TotalT], pick: Callable[[TotalT], Decimal]) -> str:
    """ "1,200.00 EUR + 300.00 USD" (a currency whose sum is nothing is left out)."""
    shown = [format.money(pick(t), t.currency) for t in totals if pick(t)]
    return " + ".join(shown) if shown else format.money(0, totals[0].currency) if totals else ""


def _count(count: int, one: str, many: str) -> str:
    return f"{format.number(count)} {one if count == 1 else many}"


def _invoice_number(row: InvoiceOut) -> str:
    return row.number or f"Draft #{row.id}"


def _invoice_status(row: InvoiceOut) -> str:
    text = format.label(row.status)
    return f"Credit note ({text.lower()})" if row.kind == InvoiceKind.credit_note else text


def deals_line(section: SummarySection[LeadOut, AreaTotal]) -> str:
    totals = section.totals
    return _joined(
        [
            _count(section.count, "deal", "deals"),
            f"{format.number(section.open_count)} open" if section.open_count else "",
            f"Won {_amounts(totals, lambda t: t.total)}" if any(t.total for t in totals) else "",
            f"In play {_amounts(totals, lambda t: t.open)}" if any(t.open for t in totals) else "",
        ]
    )


def proposals_line(section: SummarySection[ProposalOut, AreaTotal]) -> str:
    totals = section.totals
    return _joined(
        [
            _count(section.count, "proposal", "proposals"),
            f"Accepted {_amounts(totals, lambda t: t.total)}" if any(t.total for t in totals) else "",
            f"Awaiting an answer {_amounts(totals, lambda t: t.open)}" if section.open_count else "",
        ]
    )


def invoices_line(section: SummarySection[InvoiceOut, InvoiceTotal]) -> str:
    totals = section.totals
    overdue = any(t.overdue for t in totals)
    return _joined(
        [
            _count(section.count, "invoice", "invoices"),
            f"Invoiced {_amounts(totals, lambda t: t.total)}" if totals else "",
            f"Paid {_amounts(totals, lambda t: t.paid)}" if totals else "",
            f"Open balance {open_balance(section)}" if totals else "",
            f"of which overdue {_amounts(totals, lambda t: t.overdue)}" if overdue else "",
        ]
    )


def open_balance(section: SummarySection[InvoiceOut, InvoiceTotal]) -> str:
    """What the client still owes, in words: "218.99 EUR" (or "0.00 EUR")."""
    return _amounts(section.totals, lambda t: t.open)


def payments_line(section: SummarySection[PaymentRow, AreaTotal]) -> str:
    received = f"Received {_amounts(section.totals, lambda t: t.total)}" if section.totals else ""
    return _joined([_count(section.count, "payment", "payments"), received])


def tickets_line(section: SummarySection[TicketOut, AreaTotal]) -> str:
    open_ = f"{format.number(section.open_count)} open" if section.count else ""
    return _joined([_count(section.count, "ticket", "tickets"), open_])


def orders_line(section: SummarySection[OrderOut, AreaTotal]) -> str:
    totals = section.totals
    return _joined(
        [
            _count(section.count, "order", "orders"),
            f"Ordered {_amounts(totals, lambda t: t.total)}" if any(t.total for t in totals) else "",
            f"Not completed {_amounts(totals, lambda t: t.open)}" if section.open_count else "",
        ]
    )


DEALS: list[Column[LeadOut]] = [
    Column("Person", lambda r, _: r.person_name),
    Column("Company", lambda r, _: r.company or "", stretch=True),
    Column("Stage", lambda r, summary: summary.stage_names.get(r.status_id, "")),
    Column("Value", lambda r, _: format.money(r.value, r.currency) if r.value is not None else "", money=True),
    Column("Expected close", lambda r, _: format.day(r.expected_close_date)),
    Column("Created", lambda r, _: format.day(r.created_at)),
]
PROPOSALS: list[Column[ProposalOut]] = [
    Column("Number", lambda r, _: r.number or f"Draft #{r.id}"),
    Column("Title", lambda r, _: r.title or "", stretch=True),
    Column("Status", lambda r, _: format.label(r.status)),
    Column("Valid until", lambda r, _: format.day(r.valid_until)),
    Column("Total", lambda r, _: format.money(r.gross_total, r.currency), money=True),
]
INVOICES: list[Column[InvoiceOut]] = [
    Column("Number", lambda r, _: _invoice_number(r)),
    Column("Status", lambda r, _: _invoice_status(r)),
    Column("Issued", lambda r, _: format.day(r.issue_date)),
    Column("Due", lambda r, _: format.day(r.due_date)),
    Column("Total", lambda r, _: format.money(r.gross_total, r.currency), money=True),
    Column("Open", lambda r, _: format.money(r.open_amount, r.currency), money=True),
]
PAYMENTS: list[Column[PaymentRow]] = [
    Column("Paid on", lambda r, _: format.day(r.paid_on)),
    Column("Invoice", lambda r, _: r.invoice_number or f"#{r.invoice_id}"),
    Column("Method", lambda r, _: format.label(r.method)),
    Column("Amount", lambda r, _: format.money(r.amount, r.currency), money=True),
    Column("Refunded", lambda r, _: format.money(r.refunded_total, r.currency) if r.refunded_total else "", money=True),
]
TICKETS: list[Column[TicketOut]] = [
    Column("Number", lambda r, _: f"#{r.number}"),
    Column("Subject", lambda r, _: r.subject, stretch=True),
    Column("Status", lambda r, _: format.label(r.status)),
    Column("Priority", lambda r, _: format.label(r.priority)),
    Column("Opened", lambda r, _: format.day(r.created_at)),
]
ORDERS: list[Column[OrderOut]] = [
    Column("Number", lambda r, _: r.number),
    Column("Status", lambda r, _: format.label(r.status)),
    Column("Created", lambda r, _: format.day(r.created_at)),
    Column("Total", lambda r, _: format.money(r.total, r.currency), money=True),
]


def _opener(module: str, name: str, record_id: Callable[[Any], int]) -> Callable[[QWidget, Session, Any], Any]:
    """Opens a record's own window with the area's open_* helper (looked up when used)."""

    def open_(parent: QWidget, session: Session, item: Any) -> Any:
        helper = lazy(module, name)
        return helper(parent, session, record_id(item)) if helper is not None else None

    return open_


@dataclass(frozen=True)
class Area:
    key: str  # the ClientSummaryOut field
    title: str
    columns: Sequence[Column[Any]]
    line: Callable[[Any], str]
    open: Callable[[QWidget, Session, Any], Any]
    empty: str


AREAS = (
    Area(
        "invoices",
        "Invoices",
        INVOICES,
        invoices_line,
        _opener("crm_desktop.views.invoices.editor", "open_invoice", lambda r: r.id),
        "No invoices yet.",
    ),
    Area(
        "payments",
        "Payments",
        PAYMENTS,
        payments_line,
        _opener("crm_desktop.views.invoices.editor", "open_invoice", lambda r: r.invoice_id),
        "No payments yet.",
    ),
    Area(
        "proposals",
        "Proposals",
        PROPOSALS,
        proposals_line,
        _opener("crm_desktop.views.proposals.editor", "open_proposal", lambda r: r.id),
        "No proposals yet.",
    ),
    Area(
        "deals",
        "Deals",
        DEALS,
        deals_line,
        _opener("crm_desktop.views.leads.detail", "open_lead", lambda r: r.id),
        "No deals: leads won into this client show here.",
    ),
    Area(
        "tickets",
        "Tickets",
        TICKETS,
        tickets_line,
        _opener("crm_desktop.views.tickets.detail", "open_ticket", lambda r: r.id),
        "No tickets.",
    ),
    Area(
        "orders",
        "Orders",
        ORDERS,
        orders_line,
        _opener("crm_desktop.views.orders.detail", "open_order", lambda r: r.id),
        "No sales orders.",
    ),
)


class AreaTab(QWidget):
    """One area of the client: its totals in a line of words, and its newest records in a table."""

    def __init__(self, session: Session, area: Area, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.area = area
        self.section: SummarySection[Any, Any] | None = None
        self.setObjectName(f"{area.key}Tab")
        self.totals = QLabel("")
        self.totals.setObjectName(f"{area.key}Totals")
        self.totals.setWordWrap(True)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(area.columns))
        self.table.setObjectName(f"{area.key}Table")
        self.table.setAccessibleName(area.title)
        self.table.setHorizontalHeaderLabels([c.title for c in area.columns])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        stretched = [i for i, c in enumerate(area.columns) if c.stretch]
        # One text column takes the width left, the others fit their contents; without one, all share it.
        header.setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents if stretched else QHeaderView.ResizeMode.Stretch
        )
        for index in stretched:
            header.setSectionResizeMode(index, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Double-click or press Enter to open")
        self.table.itemActivated.connect(lambda _: self.open_selected())
        self.empty = QLabel(area.empty)
        self.empty.setProperty("role", "muted")
        self.more = QLabel("")
        self.more.setProperty("role", "muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        layout.addWidget(self.totals)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.more)
        layout.addStretch(0)
        self.empty.setVisible(False)
        self.more.setVisible(False)

    def tab_title(self) -> str:
        return f"{self.area.title} ({format.number(self.section.count)})" if self.section else self.area.title

    def show_section(self, section: SummarySection[Any, Any], summary: ClientSummaryOut) -> None:
        """Fill the tab; the selected record stays selected when it is still there."""
        selected = self.selected()
        keep = getattr(selected, "id", None)
        self.section = section
        self.totals.setText(self.area.line(section))
        self.totals.setVisible(bool(section.count))  # none: the empty line says it
        self.table.setRowCount(len(section.items))
        for row, item in enumerate(section.items):
            for column, spec in enumerate(self.area.columns):
                cell = QTableWidgetItem(spec.text(item, summary))
                cell.setData(ITEM_ROLE, item)
                if spec.money:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, cell)
            if keep is not None and getattr(item, "id", None) == keep:
                self.table.selectRow(row)
        self.table.setVisible(bool(section.items))
        self.empty.setVisible(not section.items)
        shown, count = len(section.items), section.count
        self.more.setText(
            f"The newest {format.number(shown)} of {format.number(count)}; the {self.area.title} page lists them all."
            if shown < count
            else ""
        )
        self.more.setVisible(shown < count)

    def row_of(self, predicate: Callable[[Any], bool]) -> int | None:
        for row in range(self.table.rowCount()):
            cell = self.table.item(row, 0)
            if cell is not None and predicate(cell.data(ITEM_ROLE)):
                return row
        return None

    def selected(self) -> Any:
        rows = self.table.selectionModel().selectedRows()
        cell = self.table.item(rows[0].row(), 0) if rows else None
        return cell.data(ITEM_ROLE) if cell is not None else None

    def open_selected(self) -> Any:
        """The selected record's own window (Enter or a double-click)."""
        item = self.selected()
        return self.area.open(self, self.session, item) if item is not None else None


def sections(summary: ClientSummaryOut) -> list[tuple[Area, SummarySection[Any, Any]]]:
    """The areas this user sees, in the window's order (an area the role may not view is None)."""
    out: list[tuple[Area, SummarySection[Any, Any]]] = []
    for area in AREAS:
        section = getattr(summary, area.key)
        if section is not None:
            out.append((area, section))
    return out
