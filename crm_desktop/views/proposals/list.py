"""The proposals page: filters (status, client, lead, search), the server-paged list, New proposal
(Ctrl+N), Enter or a double click opens one in its own window (editor.open_proposal).

An expired proposal (still undecided, past its valid-until date) is shown in red with "expired" in
its status. The list follows the change bus: a change here or on another desktop ("proposals"
areas) reloads it and keeps the selected proposal selected."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QPushButton, QVBoxLayout, QWidget

from crm_desktop import format, theme
from crm_desktop.api import invoices, proposals
from crm_desktop.session import Session
from crm_desktop.views.exports import ExportButton, ExportProgressDialog, begin_export
from crm_desktop.views.proposals.common import (
    DECLINED_TONE,
    EXPIRED_TONE,
    STATUS_LABELS,
    status_text,
)
from crm_desktop.views.proposals.party import PartyPicker
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import (
    HeaderSort,
    KeepSelected,
    LiveReload,
    notice_label,
    show_empty_state,
    title_bar,
)
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.common import Page
from crm_server.contract.proposals import ProposalOut, ProposalQuery, ProposalStatus

log = logging.getLogger(__name__)

PAGE_SIZE = 100
REFRESH_AREAS = proposals.CHANGED | {"*"}
SORTABLE = {0: "number", 3: "valid_until", 5: "gross_total"}  # column -> the server's sort key


def _color(row: ProposalOut) -> str | None:
    if row.expired:
        return theme.tone(EXPIRED_TONE)
    return theme.tone(DECLINED_TONE) if row.status == ProposalStatus.declined else None


def invoice_text(row: ProposalOut) -> str:
    """The invoice a converted proposal became: its number, or which draft it is."""
    invoice_id = row.converted_invoice_id
    if invoice_id is None:
        return "—"
    return row.converted_invoice_number or f"Draft invoice #{invoice_id}"


class ProposalsPage(QWidget):
    """Everything of the Proposals module but the editor windows (see editor.open_proposal)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("proposalsPage")
        self.session = session
        self.api = session.api
        self.sort = "-created_at"

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search number, title, client or lead…")
        self.status = self.filters.add_choice(
            "status",
            "Status",
            [(label, status.value) for status, label in STATUS_LABELS.items()],
            any_label="Any status",
        )
        self.client = PartyPicker(self.api, kinds=("client",))
        self.client.setPlaceholderText("Any client")
        self.client.setMinimumWidth(180)
        self.client.party_changed.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("client_id", self.client, lambda: self.client.client_id, "Client")
        self.lead = PartyPicker(self.api, kinds=("lead",))
        self.lead.setPlaceholderText("Any lead")
        self.lead.setMinimumWidth(160)
        self.lead.party_changed.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("lead_id", self.lead, lambda: self.lead.lead_id, "Lead")
        self.filters.changed.connect(self.reload)

        columns: list[Column[ProposalOut]] = [
            Column("Number", lambda r: r.number or "—", color=_color),
            Column("Title", lambda r: r.title or "—", color=_color, tooltip=lambda r: r.notes),
            Column("Client / lead", self._party_text, color=_color),
            Column(
                "Valid until",
                lambda r: format.day(r.valid_until),
                color=_color,
                tooltip=lambda r: "Expired: set it back to Open to give 7 more days" if r.expired else None,
            ),
            Column("Status", status_text, color=_color),
            Column("Total", lambda r: format.money(r.gross_total, r.currency), color=_color, align_right=True),
            Column("Invoice", invoice_text, color=_color),
        ]
        self._fetch = self.fetch
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model, "Press Ctrl+N to write your first quote.", icon="proposals", empty_title="No proposals yet"
        )
        self.table.set_noun("proposal", "proposals")
        view = self.table.view
        view.setAccessibleName("Proposals")
        for column, width in enumerate((90, 260, 220, 100, 140, 130, 150)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE)
        view.activated.connect(lambda _: self.open_selected())  # Enter, and a double click
        self.keep = KeepSelected(self.table, self._update_actions)

        self.new_button = QPushButton("New proposal")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New proposal (Ctrl+N)")
        self.new_button.clicked.connect(self.new_proposal)
        shown_if(self.new_button, session.can("proposals", "create"))
        self.export_button = ExportButton(self, "proposals", self.export)
        shown_if(self.export_button, session.can("proposals", "export"))
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the selected proposal (Enter)")
        self.open_button.clicked.connect(self.open_selected)
        view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.model.modelReset.connect(self._update_actions)
        self.notice = notice_label()

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        root.addWidget(
            title_bar(
                "Proposals",
                "Quotes for clients and leads, from draft to accepted. Enter opens one; Ctrl+N writes one.",
                self.new_button,
            )
        )
        self.filters.add_trailing(self.export_button)
        self.filters.add_trailing(self.open_button)
        root.addWidget(self.filters)
        root.addWidget(self.notice)
        root.addWidget(self.table, 1)

        new = QShortcut(QKeySequence(QKeySequence.StandardKey.New), self)
        new.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        new.activated.connect(self.new_proposal)
        export = QShortcut(QKeySequence("Ctrl+E"), self)
        export.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        export.activated.connect(self.export)
        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), view)
        reload.setContext(Qt.ShortcutContext.WidgetShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, REFRESH_AREAS, self.reload, on_change=self._on_changed)
        self._update_actions()
        self.reload()

    @staticmethod
    def _party_text(row: ProposalOut) -> str:
        name = row.party_name or "—"
        return f"{name} (lead)" if row.lead_id is not None else name

    # --- loading ---------------------------------------------------------------------------------

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    def reload(self) -> None:
        """From the top with the filters as they are now, keeping the selected proposal selected."""
        show_empty_state(
            self.table,
            self.query(),
            "No proposals yet",
            "Press Ctrl+N to write your first quote.",
            "No proposals match",
        )
        self.keep.remember()
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def _on_changed(self, areas: frozenset[str]) -> None:
        """A draft invoice made from a proposal got its number: show it."""
        if areas & invoices.CHANGED and any(
            r.converted_invoice_id and not r.converted_invoice_number for r in self.model.rows()
        ):
            self.reload()

    def _update_actions(self) -> None:
        self.open_button.setEnabled(self.table.current_row() is not None)

    # --- actions ---------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def new_proposal(self, *, client_id: int | None = None, lead_id: int | None = None) -> QWidget | None:
        if not self.session.can("proposals", "create"):
            return None
        return self.open_proposal(None, client_id=client_id, lead_id=lead_id)

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        return self.open_proposal(row.id) if row is not None else None

    def open_proposal(
        self, proposal_id: int | None, *, client_id: int | None = None, lead_id: int | None = None
    ) -> QWidget:
        from crm_desktop.views.proposals.editor import open_proposal

        window = open_proposal(self, self.session, proposal_id, client_id=client_id, lead_id=lead_id)
        if proposal_id is None:  # a new window: its first save selects it here
            window.created.connect(self._created)
        return window

    def _created(self, proposal: ProposalOut) -> None:
        self.keep.select(proposal.id)
        self.say(f"{proposal.number} is created.")

    def export(self, fmt: str = "xlsx") -> asyncio.Task[Any] | None:
        """Ctrl+E: export the proposals of the current filters as a job (views/exports.py: progress,
        Cancel, then "Save as…")."""
        if not self.session.can("proposals", "export"):
            return None
        query = ProposalQuery.model_construct(**self.query())
        return begin_export(self, self.session, "proposals", query, fmt, opened=self._export_opened)

    def _export_opened(self, dialog: ExportProgressDialog) -> None:
        self.export_dialog = dialog

    async def fetch(self, offset: int, limit: int, after: str | None = None) -> Page[ProposalOut]:
        """One page of the table."""
        return await proposals.list_proposals(self.api, self._query(offset, limit, after))

    def _query(self, offset: int, limit: int, after: str | None = None) -> ProposalQuery:
        """The filters as the server's query, unchecked: the server judges what was typed."""
        return ProposalQuery.model_construct(**self.query(), offset=offset, limit=limit, after=after)

    def open_record(self, record_type: str, record_id: int, parent_id: int | None = None) -> QWidget | None:
        """A global-search hit (or a link from another window) names a proposal: open it."""
        return self.open_proposal(record_id) if record_type == "proposal" else None

    def is_busy(self) -> bool:
        return self.model.loading or self.client.is_busy() or self.lead.is_busy()
