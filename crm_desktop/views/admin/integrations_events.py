"""The webhook inbox's event browser for one provider (IntegrationsPage's lower half) and the window
of one event.

The browser is a server-paged table of the provider's events, newest first, filtered by status and
searched on the server. Enter or a double click opens an event as it arrived: headers (signatures
masked by the server), the raw body and the part of it the event is about, pretty-printed when it
is JSON, with what processing made of it. A failed event, or one waiting for a person (an unknown
invoice, an expired token), can be replayed once the cause is fixed; the list and an open window
follow the replay live as the job processes it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import integrations as integrations_api
from crm_desktop.api.client import ApiError
from crm_desktop.operations.errors import describe
from crm_desktop.views.admin.common import can, size_words, tone
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.record_window import WindowRegistry, show_window
from crm_server.contract.common import Page
from crm_server.contract.integrations import EVENT_STATUSES, InboxEventDetail, InboxEventOut
from crm_server.contract.invoices import InvoiceOut

if TYPE_CHECKING:
    from crm_desktop.views.admin.integrations import IntegrationsPage

EVENTS = integrations_api.EVENTS
INVOICE_EVENTS = integrations_api.INVOICE_EVENTS
PAGE_SIZE = 100
REPLAYABLE = frozenset({"failed", "needs_attention"})
# Payment events a person may match to an invoice when they wait (server: stripe.MATCHABLE).
MATCHABLE = {"stripe": frozenset({"payment_intent.succeeded", "invoice.paid"})}
OPEN_INVOICE_STATUSES = ("unpaid", "partially_paid", "overdue")
STATUS_TONES = {"processed": "success", "failed": "danger", "rejected": "danger", "needs_attention": "warning_text"}
SHOWN_CHARS = 256 * 1024  # a huge body is shown up to here


def status_text(row: InboxEventOut) -> str:
    return format.label(row.status)


def status_color(row: InboxEventOut) -> str:
    return tone(STATUS_TONES.get(row.status, "muted"))


def result_text(row: InboxEventOut) -> str:
    """What became of the event in a few words: the error while it is not done, else the outcome."""
    if row.error and row.status != "processed":
        return row.error
    if row.outcome:
        return row.outcome
    if row.status == "pending":
        when = row.next_attempt_at
        return f"Next attempt {format.moment(when)}" if when else "Waiting to be processed"
    return ""


def pretty(text: str) -> str:
    """JSON indented (a form post or other text as it is), cut at SHOWN_CHARS."""
    try:
        shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        shown = text
    if len(shown) > SHOWN_CHARS:
        shown = shown[:SHOWN_CHARS] + f"\n\n[… {len(shown) - SHOWN_CHARS:,} more characters not shown]"
    return shown


def _mono(name: str, placeholder: str) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setObjectName(name)
    edit.setReadOnly(True)
    edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    edit.setPlaceholderText(placeholder)
    edit.setAccessibleName(placeholder)
    return edit


class EventBrowser(QWidget):
    """The selected provider's events; `set_provider` switches the list to another one."""

    def __init__(self, page: IntegrationsPage) -> None:
        super().__init__()
        self.page = page
        self.provider: str | None = None
        self.provider_label = ""
        self._reselect: int | None = None
        self.windows: WindowRegistry[EventDialog] = WindowRegistry()

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search event id, type, outcome or error…")
        self.status = self.filters.add_choice("status", "Status", [(format.label(s), s) for s in EVENT_STATUSES])
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Show the selected event as it arrived (Enter)")
        self.open_button.clicked.connect(self.open_selected)
        self.replay_button = QPushButton("Replay")
        self.replay_button.setObjectName("replayEvent")
        self.replay_button.setToolTip("Process the selected failed event again, once its cause is fixed (Ctrl+R)")
        self.replay_button.clicked.connect(self.replay_selected)
        self.match_button = QPushButton("Match to invoice…")
        self.match_button.setObjectName("matchEvent")
        self.match_button.setToolTip("Record this waiting payment on the invoice you pick")
        self.match_button.clicked.connect(self.match_selected)
        self.filters.add_trailing(self.open_button)
        self.filters.add_trailing(self.replay_button)
        self.filters.add_trailing(self.match_button)

        columns: list[Column[InboxEventOut]] = [
            Column("Received", lambda r: format.moment(r.received_at)),
            Column("Type", lambda r: r.event_type, tooltip=lambda r: r.event_id or None),
            Column("Status", status_text, color=status_color),
            Column("Attempts", lambda r: str(r.attempts), align_right=True),
            Column(
                "Outcome / error",
                result_text,
                tooltip=lambda r: result_text(r) or None,
                color=lambda r: tone("danger") if r.error and r.status != "processed" else None,
            ),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(self.model, icon="integrations")
        self.table.set_noun("event", "events")
        view = self.table.view
        for column, width in enumerate((150, 230, 120, 70)):
            view.setColumnWidth(column, width)
        view.setAccessibleName("Webhook events")
        view.activated.connect(lambda _: self.open_selected())
        view.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        self.model.loading_changed.connect(self._loaded)
        self.model.dataChanged.connect(lambda *_: self.update_actions())
        self.filters.changed.connect(self.reload)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)
        page.shortcut(QKeySequence("Ctrl+R"), self.replay_selected)
        page.shortcut(QKeySequence.StandardKey.Find, self.search.setFocus)
        self.update_actions()

    # --- loading -------------------------------------------------------------------------------

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[InboxEventOut]:
        if self.provider is None:
            return Page[InboxEventOut](items=[], total=0, offset=offset, limit=limit)
        filters = self.filters.values()
        return await integrations_api.events(self.page.api, self.provider, offset, limit, after=after, **filters)

    def set_provider(self, provider: str, label: str) -> None:
        if provider == self.provider:
            return
        self.provider, self.provider_label = provider, label
        self._reselect = None
        self.reload()

    def reload(self, select: int | None = None) -> None:
        """Start over, keeping the selected event (or `select`) selected when it is still listed."""
        current = self.table.current_row()
        self._reselect = select if select is not None else (current.id if current else self._reselect)
        filtered = bool(self.filters.values())
        self.table.empty_title = "No events match" if filtered else "No events yet"
        self.table.empty_text = (
            "Try clearing the filters."
            if filtered
            else f"Send a test event, or give {self.provider_label or 'the provider'} the webhook "
            "URL above: every request it sends is listed here with what became of it."
        )
        self.model.reload()

    def refresh_live(self) -> None:
        """Something arrived or changed: reload when the admin looks at the newest events."""
        if self.provider is None:
            return
        if self.table.view.verticalScrollBar().value() == 0 and not self.model.loading:
            self.reload()
        else:
            self.page.say("New events arrived; press F5 to see them.")
        for window in list(self.windows.values()):
            if shiboken6.isValid(window):
                window.refresh()

    def _loaded(self, loading: bool) -> None:
        if loading:
            return
        wanted, self._reselect = self._reselect, None
        if wanted is not None:
            self.table.select_key(wanted)
        self.update_actions()

    def is_busy(self) -> bool:
        return self.model.loading or any(w.is_busy() for w in self.windows.values() if shiboken6.isValid(w))

    # --- actions -------------------------------------------------------------------------------

    def can_replay(self, row: InboxEventOut | None) -> bool:
        return row is not None and row.status in REPLAYABLE and can(self.page.me, "edit", "integrations")

    def can_match(self, row: InboxEventOut | None) -> bool:
        return (
            row is not None
            and row.status in REPLAYABLE
            and row.event_type in MATCHABLE.get(row.provider, frozenset())
            and can(self.page.me, "edit", "integrations")
            and can(self.page.me, "create", "payments")
        )

    def update_actions(self) -> None:
        row = self.table.current_row()
        self.open_button.setEnabled(row is not None)
        self.replay_button.setEnabled(self.can_replay(row))
        self.match_button.setVisible(self.provider in MATCHABLE)
        self.match_button.setEnabled(self.can_match(row))

    def match_selected(self) -> MatchDialog | None:
        row = self.table.current_row()
        return self.match(row) if self.can_match(row) else None

    def match(self, row: InboxEventOut | None, parent: QWidget | None = None) -> MatchDialog | None:
        """Ask which invoice the waiting payment is for; the server records it there."""
        if row is None or not self.can_match(row):
            return None
        dialog = MatchDialog(self, row, parent or self.page)
        dialog.open()
        return dialog

    def matched(self, event: InboxEventOut, number: str) -> None:
        self.model.replace_row(event)
        self.update_actions()
        window = self.windows.live(event.id)
        if window is not None:
            window.show_row(event)
            window.refresh()
        self.page.say(f"Matched {event.event_type} to {number}: the payment is recorded.")

    def open_selected(self) -> EventDialog | None:
        row = self.table.current_row()
        if row is None:
            return None
        window = self.windows.live(row.id)
        if window is None:
            window = EventDialog(self, row)
            self.windows.keep(row.id, window)
        return show_window(window)

    def replay_selected(self) -> None:
        row = self.table.current_row()
        if self.can_replay(row):
            assert row is not None
            self.replay(row.id, busy=self.replay_button)

    def replay(self, event_id: int, busy: QWidget) -> None:
        """Queue the event again; the job processes it and live events show how it went."""

        def replayed(event: InboxEventOut) -> None:
            self.model.replace_row(event)
            self.update_actions()
            window = self.windows.live(event_id)
            if window is not None:
                window.show_row(event)
                window.refresh()
            self.page.say(f"Replayed {event.event_type}: it is {status_text(event).lower()} now.")

        operations.run(
            self,
            integrations_api.replay(self.page.api, event_id),
            success=replayed,
            changed=EVENTS,
            busy=busy,
        )


class EventDialog(QDialog):
    """One event as it arrived and what became of it (non-modal: several can be open)."""

    SUMMARY = (
        ("event_type", "Type"),
        ("event_id", "Event id"),
        ("status", "Status"),
        ("received_at", "Received"),
        ("processed_at", "Processed"),
        ("attempts", "Attempts"),
        ("outcome", "Outcome"),
        ("error", "Error"),
        ("remote", "From"),
    )

    def __init__(self, browser: EventBrowser, row: InboxEventOut) -> None:
        super().__init__(browser.page)
        self.browser = browser
        self.event_id = row.id
        self.row = row
        self.detail: InboxEventDetail | None = None
        self._task: Any = None
        self.setObjectName("integrationEvent")
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowTitle(f"{browser.provider_label} event #{self.event_id}")
        self.resize(760, 620)

        summary = QFormLayout()
        summary.setSpacing(6)
        self.info: dict[str, QLabel] = {}
        for key, label in self.SUMMARY:
            value = QLabel("—")
            value.setObjectName(f"event_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.info[key] = value
            summary.addRow(label, value)
        # A refused request: its whole body's size and SHA-256 (only the body's start is kept).
        self.body_size, self.body_sha256 = QLabel("—"), QLabel("—")
        for key, value in (("body_size", self.body_size), ("body_sha256", self.body_sha256)):
            value.setObjectName(f"event_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        summary.addRow("Body size", self.body_size)
        summary.addRow("Body SHA-256", self.body_sha256)
        self.summary = summary
        self._show_body_facts(None, None, 0)
        self.payload = _mono("eventPayload", "The part of the body this event is about")
        self.body = _mono("eventBody", "The raw request body")
        self.headers = _mono("eventHeaders", "The request headers")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.payload, "&Payload")
        self.tabs.addTab(self.body, "Raw &body")
        self.tabs.addTab(self.headers, "&Headers")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.replay_button = self.buttons.addButton("&Replay", QDialogButtonBox.ButtonRole.ActionRole)
        self.replay_button.setObjectName("replayEventWindow")
        self.replay_button.setToolTip("Process this event again, once its cause is fixed (Ctrl+R)")
        self.replay_button.clicked.connect(self.replay)
        self.match_button = self.buttons.addButton("&Match to invoice…", QDialogButtonBox.ButtonRole.ActionRole)
        self.match_button.setObjectName("matchEventWindow")
        self.match_button.setToolTip("Record this waiting payment on the invoice you pick")
        self.match_button.clicked.connect(lambda: self.browser.match(self.row, self))
        self.buttons.rejected.connect(self.close)
        QShortcut(QKeySequence("Ctrl+R"), self).activated.connect(self.replay)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addLayout(summary)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        self.show_row(row)
        self.refresh()

    def refresh(self) -> None:
        """Ask for the whole event again (headers, body, payload and its current state)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = self.browser.page.load(
            integrations_api.event(self.browser.page.api, self.event_id), self.show_detail
        )

    def is_busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def show_row(self, row: InboxEventOut) -> None:
        self.row = row
        for key, value in self.info.items():
            raw = getattr(row, key)
            if key == "status":
                value.setText(status_text(row))
                value.setStyleSheet(f"color: {status_color(row)};")
            elif key in ("received_at", "processed_at"):
                value.setText(format.moment(raw))
            elif key == "attempts":
                due = row.next_attempt_at if row.status == "pending" else None
                value.setText(str(raw or 0) + (f" (next {format.moment(due)})" if due else ""))
            else:
                value.setText(str(raw) if raw not in (None, "") else "—")
        self.info["error"].setStyleSheet(f"color: {tone('danger')};" if row.error else "")
        self.replay_button.setEnabled(self.browser.can_replay(row))
        self.match_button.setVisible(row.event_type in MATCHABLE.get(row.provider, frozenset()))
        self.match_button.setEnabled(self.browser.can_match(row))

    def show_detail(self, detail: InboxEventDetail) -> None:
        if not shiboken6.isValid(self):
            return
        self.detail = detail
        self.show_row(detail)
        self.payload.setPlainText(json.dumps(detail.payload, indent=2, ensure_ascii=False))
        self.body.setPlainText(pretty(detail.body))
        self._show_body_facts(detail.body_size, detail.body_sha256, len(detail.body.encode()))
        headers = detail.headers
        self.headers.setPlainText("\n".join(f"{name}: {value}" for name, value in headers.items()))

    def _show_body_facts(self, size: int | None, sha256: str | None, kept: int) -> None:
        """Size and SHA-256 rows, for a refused request only. No hash beside a size: the body was
        too large to read and the size is what the sender declared."""
        for label in (self.body_size, self.body_sha256):
            self.summary.setRowVisible(label, size is not None)
        if size is None:
            return
        if sha256 is None:
            self.body_size.setText(
                f"{size_words(size)} ({size:,} bytes), as the sender declared it: "
                "the body was too large and was not read"
            )
            self.body_sha256.setText("Unknown: the body was not read")
            return
        start = f"; only its first {size_words(kept)} are kept (Raw body)" if 0 < kept < size else ""
        self.body_size.setText(f"{size_words(size)} ({size:,} bytes){start}")
        self.body_sha256.setText(sha256)

    def replay(self) -> None:
        if self.browser.can_replay(self.row):
            self.browser.replay(self.event_id, busy=self.replay_button)


class MatchDialog(QDialog):
    """ "Match to invoice…": the open invoices, searched on the server by number or client; the one
    picked gets the waiting payment (the server records it, audits it and settles the event)."""

    def __init__(self, browser: EventBrowser, row: InboxEventOut, parent: QWidget) -> None:
        super().__init__(parent)
        self.browser = browser
        self.row = row
        self._task: Any = None
        self.setObjectName("matchInvoiceDialog")
        self.setWindowTitle(f"Match {row.event_type} to an invoice")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.resize(520, 420)
        about = QLabel(
            f"{result_text(row)}\n\nPick the invoice this payment is for. It is recorded there as "
            "yours; the amount alone never decides it."
        )
        about.setWordWrap(True)
        self.search = QLineEdit()
        self.search.setObjectName("matchSearch")
        self.search.setPlaceholderText("Search invoice number or client…")
        self.search.setAccessibleName("Search invoices")
        self.search.textChanged.connect(lambda _: self.load())
        self.list = QListWidget()
        self.list.setObjectName("matchInvoices")
        self.list.setAccessibleName("Open invoices")
        self.list.itemDoubleClicked.connect(lambda _: self.accept_choice())
        self.list.currentItemChanged.connect(lambda *_: self._update())
        self.error = QLabel()
        self.error.setObjectName("matchError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {tone('danger')};")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("&Record on this invoice", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("matchOk")
        self.buttons.accepted.connect(self.accept_choice)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._update()
        self.load()

    def is_busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def load(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = self.browser.page.load(
            integrations_api.invoices_to_match(self.browser.page.api, self.search.text()), self.show_invoices
        )

    def show_invoices(self, page: Page[InvoiceOut]) -> None:
        if not shiboken6.isValid(self):
            return
        self.list.clear()
        for invoice in page.items:
            if invoice.status not in OPEN_INVOICE_STATUSES:
                continue
            open_amount = format.money(invoice.gross_total - invoice.paid_total, invoice.currency)
            item = QListWidgetItem(f"{invoice.number}  ·  {invoice.client_name}  ·  {open_amount} open")
            item.setData(Qt.ItemDataRole.UserRole, invoice)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        self._update()

    def _update(self) -> None:
        self.ok.setEnabled(self.list.currentItem() is not None)

    def accept_choice(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        invoice = item.data(Qt.ItemDataRole.UserRole)

        def done(event: InboxEventOut) -> None:
            self.browser.matched(event, str(invoice.number))
            if shiboken6.isValid(self):
                self.accept()

        def failed(message: str) -> None:
            if shiboken6.isValid(self):
                self.error.setText(message)

        async def post() -> Any:
            try:
                return await integrations_api.match(self.browser.page.api, self.row.id, invoice.id)
            except ApiError as exc:
                failed(describe(exc))
                return None

        def maybe_done(event: Any) -> None:
            if event is not None:
                done(event)

        operations.run(self, post(), success=maybe_done, changed=EVENTS | INVOICE_EVENTS, busy=self.ok)
