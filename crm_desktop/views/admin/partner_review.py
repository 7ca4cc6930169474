"""Registrations waiting for review: a partner's lead that matched an existing one only weakly (a
similar name at the same company). "Accept" makes the lead and credits it to the partner (it goes
to the managing salesperson); "Reject" tells the partner it was not accepted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from crm_desktop import format, operations
from crm_desktop.api import partners as partners_api
from crm_desktop.views.admin.common import can
from crm_server.contract.partners import ReviewOut

if TYPE_CHECKING:
    from crm_desktop.views.admin.partners import PartnersPage

COLUMNS = ("Partner", "Company", "Contact", "E-mail", "Phone", "Sent")


class ReviewDialog(QDialog):
    """The waiting registrations, one row each; the selected one is accepted or rejected."""

    def __init__(self, page: PartnersPage) -> None:
        super().__init__(page)
        self.page = page
        self.rows: list[ReviewOut] = []
        self.setWindowTitle("Registrations to review")
        self.setObjectName("partnerReviewDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.resize(900, 420)
        self.intro = QLabel(
            "These partner leads look like leads we may already have (a similar name at the same company). "
            "Accept one to make the lead and credit it to the partner; reject it to tell them it was not accepted.",
            self,
        )
        self.intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("reviewTable")
        self.table.setAccessibleName("Registrations to review")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update)
        self.notes = QLabel("", self)
        self.notes.setWordWrap(True)
        self.notes.setProperty("role", "muted")
        self.empty = QLabel("Nothing waits for review.", self)
        self.empty.setProperty("role", "muted")
        self.accept_button = QPushButton("Accept", self)
        self.accept_button.setProperty("role", "primary")
        self.accept_button.clicked.connect(lambda: self.decide(True))
        self.reject_button = QPushButton("Reject", self)
        self.reject_button.clicked.connect(lambda: self.decide(False))
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(self.intro)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes)
        layout.addLayout(buttons)
        self.reload()

    def reload(self) -> None:
        self.page.load(partners_api.waiting(self.page.api), self._arrived)

    def _arrived(self, rows: list[ReviewOut]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            texts = (row.partner_name, row.company, row.contact, row.email, row.phone, format.moment(row.created_at))
            for c, text in enumerate(texts):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.empty.setVisible(not rows)
        if rows:
            self.table.selectRow(0)
        self._update()

    def selected(self) -> ReviewOut | None:
        chosen = self.table.selectionModel().selectedRows()
        return self.rows[chosen[0].row()] if chosen and chosen[0].row() < len(self.rows) else None

    def _update(self) -> None:
        row = self.selected()
        allowed = row is not None and can(self.page.me, "edit")
        self.accept_button.setEnabled(allowed)
        self.reject_button.setEnabled(allowed)
        by = f"Sent by {row.partner_user_name}. " if row is not None and row.partner_user_name else ""
        self.notes.setText(f"{by}Interested in: {row.interest or '—'}. Notes: {row.notes or '—'}" if row else "")

    def decide(self, accept: bool) -> None:
        row = self.selected()
        if row is None:
            return
        call = partners_api.accept if accept else partners_api.reject

        def done(result: ReviewOut) -> None:
            if result.state == "registered":
                self.page.say(f"{result.contact} ({result.partner_name}) is now lead #{result.lead_id}.")
            else:
                self.page.say(f"{result.contact} ({result.partner_name}) was not accepted.")
            self.reload()

        operations.run(self, call(self.page.api, row.id), success=done, changed=partners_api.CHANGED)
