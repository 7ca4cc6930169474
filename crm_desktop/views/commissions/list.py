"""The commissions list: every commission the user may see, newest first, with the status filter
and a search; Approve (managers), Mark paid (finance) and Add by hand (finance) act on it. The
buttons show only to whom the role allows it; the server decides. Enter or a double click opens
the invoice. Follows the change bus."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QPushButton, QVBoxLayout, QWidget

from crm_desktop import format, operations
from crm_desktop.api import commissions
from crm_desktop.session import Session
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import LiveReload, show_empty_state
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.commissions import KIND_WORDS, STATUS_WORDS, CommissionOut, CommissionQuery
from crm_server.contract.common import Page

PAGE_SIZE = 100
REFRESH_AREAS = commissions.CHANGED | {"*"}
STATUSES = [(word, code) for code, word in STATUS_WORDS.items()]


def may_pay(session: Session) -> bool:
    """Finance (who records payments) and admins mark commissions paid."""
    return session.can("payments", "edit") or session.can("admin", "edit")


class CommissionsList(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search invoice or name…")
        self.status = self.filters.add_choice("status", "Status", STATUSES, any_label="Any status")
        self.filters.changed.connect(self.reload)

        columns: list[Column[CommissionOut]] = [
            Column("Month", lambda r: format.month(r.month)),
            Column("For", lambda r: r.beneficiary or "—"),
            Column("Kind", lambda r: KIND_WORDS[r.kind]),
            Column("Invoice", lambda r: r.invoice_number or f"#{r.invoice_id}"),
            Column("Policy", lambda r: r.policy_name or "—"),
            Column("On", lambda r: format.money(r.base_amount, r.currency), align_right=True),
            Column("Commission", lambda r: format.money(r.amount, r.currency), align_right=True),
            Column("Status", lambda r: STATUS_WORDS[r.status]),
        ]
        self.model = PagedTableModel(columns, self.fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model,
            "Commissions appear once a deal's invoice is paid and the policy's waiting days have passed.",
            icon="payments",
            empty_title="No commissions yet",
        )
        self.table.set_noun("commission", "commissions")
        view = self.table.view
        view.setAccessibleName("Commissions")
        for column, width in enumerate((130, 160, 110, 150, 130, 115, 115, 80)):
            view.setColumnWidth(column, width)
        view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        view.activated.connect(lambda _: self.open_invoice())

        buttons = QHBoxLayout()
        self.approve_button = QPushButton("Approve", self)
        self.approve_button.setToolTip("Approve the selected commission (managers)")
        self.approve_button.clicked.connect(self.approve)
        self.pay_button = QPushButton("Mark paid", self)
        self.pay_button.setToolTip("Mark the selected approved commission paid (finance)")
        self.pay_button.clicked.connect(self.mark_paid)
        self.add_button = QPushButton("Add by hand…", self)
        self.add_button.setToolTip("A commission for an invoice made by hand, not from a proposal")
        self.add_button.clicked.connect(self.add_by_hand)
        for button in (self.approve_button, self.pay_button, self.add_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        shown_if(self.approve_button, session.can("commissions", "edit"))
        shown_if(self.pay_button, may_pay(session))
        shown_if(self.add_button, session.can("commissions", "create"))

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 12, 0, 0)
        root.setSpacing(10)
        root.addWidget(self.filters)
        root.addLayout(buttons)
        root.addWidget(self.table, 1)
        note = QLabel(
            "Reversals (negative rows) come from refunds and credit notes; a paid commission is never changed.", self
        )
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        root.addWidget(note)
        view.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), view)
        reload.setContext(Qt.ShortcutContext.WidgetShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, REFRESH_AREAS, self.reload)
        self.update_buttons()
        self.reload()

    def query(self) -> dict[str, Any]:
        return self.filters.values()

    async def fetch(self, offset: int, limit: int, after: str | None = None) -> Page[CommissionOut]:
        # unchecked: the server judges it
        query = CommissionQuery.model_construct(**self.query(), offset=offset, limit=limit, after=after)
        return await commissions.list_commissions(self.api, query)

    def reload(self) -> None:
        show_empty_state(
            self.table,
            self.query(),
            "No commissions yet",
            "Commissions appear once a deal's invoice is paid and the policy's waiting days have passed.",
            "No commissions match",
        )
        self.model.reload()
        self.update_buttons()

    def update_buttons(self) -> None:
        row = self.table.current_row()
        self.approve_button.setEnabled(row is not None and row.status == "pending")
        self.pay_button.setEnabled(row is not None and row.status == "approved")

    def approve(self) -> None:
        row = self.table.current_row()
        if row is not None:
            operations.run(
                self, commissions.approve(self.api, row.id), changed=commissions.CHANGED, busy=self.approve_button
            )

    def mark_paid(self) -> None:
        row = self.table.current_row()
        if row is not None:
            operations.run(
                self, commissions.mark_paid(self.api, row.id), changed=commissions.CHANGED, busy=self.pay_button
            )

    def add_by_hand(self) -> QWidget:
        from crm_desktop.views.commissions.by_hand import ByHandDialog

        dialog = ByHandDialog(self.session, self)
        dialog.open()
        return dialog

    def open_invoice(self) -> QWidget | None:
        """Enter or a double click opens the invoice the commission comes from."""
        row = self.table.current_row()
        if row is None or not self.session.can("invoices", "view"):
            return None
        from crm_desktop.views.invoices.editor import open_invoice

        return open_invoice(self, self.session, row.invoice_id)

    def is_busy(self) -> bool:
        return self.model.loading
