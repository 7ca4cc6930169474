"""The inbound email pipe's log (EmailLogPage), and its outgoing sibling, the invoices sent by
email (InvoiceEmailsPage, "Sent invoices").

The inbound log: every message that reached the server, newest first, with what became of it (a
new ticket, a reply on one, or why it was refused). The selected message is shown below as it
arrived, so an admin can see why; a refused or failed one can be replayed once the cause is fixed
(a contact added, a setting changed). Nothing that reached the server is lost: this is where it is.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, Event, ScreenshotState, can, title_label, tone
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.auth import Me
from crm_server.contract.common import Page
from crm_server.contract.email_pipe import OUTCOMES, PROCESSED, PipeLogEntry, PipeResult
from crm_server.contract.invoices import InvoiceEmailOut, SendStatus

LOG = admin_api.EMAIL_LOG
PAGE_SIZE = 100
RAW_SHOWN = 256 * 1024  # a message with big attachments is shown up to here
OUTCOME_LABELS = {
    "received": "Stored, not processed yet",
    "created": "Created ticket",
    "appended": "Reply added",
    "unregistered": "Refused: unknown sender",
    "replies_only": "Refused: not a reply",
    "limit_exceeded": "Refused: too many messages",
    "ticket_not_found": "Refused: no such ticket",
    "malformed": "Refused: unreadable",
    "rejected": "Refused: invalid ticket",
    "failed": "Failed on the server",
    "bad_token": "Refused: wrong token",
    "bounce": "Bounce recorded",
    "complaint": "Complaint recorded",
    "report_ignored": "Report about nothing we sent",
    "threaded": "Reply on a lead or client",
}
# The body of a message refused for its token is not kept, and a processed one would be processed twice.
REPLAYABLE = frozenset(OUTCOMES) - set(PROCESSED) - {"bad_token"}


def outcome_text(row: PipeLogEntry) -> str:
    label = OUTCOME_LABELS.get(row.outcome, row.outcome)
    number = row.ticket_number
    if row.outcome == "created" and number is not None:
        return f"{label} #{number}"
    if row.outcome == "appended" and number is not None:
        return f"{label} to #{number}"
    return label


def outcome_color(row: PipeLogEntry) -> str:
    if row.outcome in PROCESSED:
        return tone("success")
    return tone("muted") if row.outcome == "received" else tone("danger")


class EmailLogPage(AdminPage):
    """The pipe log above, the selected message below."""

    title = "Email log"
    areas = LOG
    live_entities = frozenset({"email_pipe_log"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self._reselect: int | None = None
        self._raw_task: asyncio.Task[None] | None = None

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search sender, subject or Message-ID…")
        self.outcome = self.filters.add_choice("outcome", "Outcome", [(OUTCOME_LABELS[o], o) for o in OUTCOMES])
        self.replay_button = QPushButton("Replay")
        self.replay_button.setObjectName("replayMessage")
        self.replay_button.setToolTip("Process the selected refused or failed message again (Ctrl+R)")
        self.replay_button.clicked.connect(self.replay)
        self.filters.add_trailing(self.replay_button)

        columns: list[Column[PipeLogEntry]] = [
            Column("Received", lambda r: format.moment(r.received_at)),
            Column("From", lambda r: r.sender or "—"),
            Column("Subject", lambda r: r.subject or "—", tooltip=lambda r: r.subject or None),
            Column("Outcome", outcome_text, color=outcome_color),
            Column("Error", lambda r: r.error or "", tooltip=lambda r: r.error or None),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model,
            "Messages the mail provider sends to the webhook appear here, "
            "with what became of each. Try clearing the filters.",
            icon="mail",
            empty_title="No messages match",
        )
        self.table.set_noun("message", "messages")
        view = self.table.view
        for column, width in enumerate((150, 220, 300, 190)):
            view.setColumnWidth(column, width)
        view.setAccessibleName("Email pipe log")
        view.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())
        self.model.loading_changed.connect(self._loaded)
        self.filters.changed.connect(self.model.reload)
        # New messages while the office works: at most one reload a second, and only at the top.
        self._live_reload = QTimer(self)
        self._live_reload.setSingleShot(True)
        self._live_reload.setInterval(1000)
        self._live_reload.timeout.connect(self._reload_if_at_top)

        self.summary = QFormLayout()
        self.summary.setContentsMargins(0, 0, 0, 0)
        self.info: dict[str, QLabel] = {}
        for key, label in (
            ("sender", "From"),
            ("subject", "Subject"),
            ("message_id", "Message-ID"),
            ("outcome", "Outcome"),
            ("source", "Arrived"),
        ):
            value = QLabel("—")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.info[key] = value
            self.summary.addRow(label, value)
        self.raw = QPlainTextEdit()
        self.raw.setObjectName("rawMessage")
        self.raw.setReadOnly(True)
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.raw.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.raw.setAccessibleName("The message as it arrived")
        self.raw.setPlaceholderText("Select a message to see it as it arrived.")
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 6, 0, 0)
        detail_layout.setSpacing(8)
        detail_layout.addLayout(self.summary)
        detail_layout.addWidget(self.raw, 1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        self.root.addWidget(
            title_label(
                "Email log",
                "Every message the inbound email pipe received and what "
                "became of it. Fix the cause of a refusal, then replay it.",
            )
        )
        self.root.addWidget(self.filters)
        self.root.addWidget(self.notice)
        self.root.addWidget(splitter, 1)
        self.shortcut(QKeySequence("Ctrl+R"), self.replay)
        self.shortcut(QKeySequence.StandardKey.Find, self.search.setFocus)
        self._update_actions()

    # --- loading -------------------------------------------------------------------------------

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[PipeLogEntry]:
        return await admin_api.email_log(self.api, offset, limit, after=after, **self.filters.values())

    def reload(self) -> None:
        """Start over, keeping the selected message selected when it is still listed."""
        current = self.table.current_row()
        self._reselect = current.id if current else self._reselect
        self.model.reload()

    def _loaded(self, loading: bool) -> None:
        if loading or self._reselect is None:
            return
        wanted, self._reselect = self._reselect, None
        if not self.table.select_key(wanted):
            self._show_selected()

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.entity in self.live_entities and not self._live_reload.isActive():
            self._live_reload.start()

    def on_changed(self, areas: frozenset[str]) -> None:
        if self.loaded and areas & self.areas and not self._live_reload.isActive():
            self._live_reload.start()

    def _reload_if_at_top(self) -> None:
        if self.table.view.verticalScrollBar().value() == 0 and not self.model.loading:
            self.reload()
        else:
            self.say("New messages arrived; press F5 to see them.")

    def is_busy(self) -> bool:
        raw_loading = self._raw_task is not None and not self._raw_task.done()
        return super().is_busy() or self.model.loading or raw_loading or self._live_reload.isActive()

    # --- the selected message ------------------------------------------------------------------

    def _update_actions(self) -> None:
        row = self.table.current_row()
        self.replay_button.setEnabled(can(self.me, "edit") and row is not None and row.outcome in REPLAYABLE)

    def _show_selected(self) -> None:
        row = self.table.current_row()
        self._update_actions()
        if self._raw_task is not None:
            self._raw_task.cancel()
            self._raw_task = None
        if row is None:
            for value in self.info.values():
                value.setText("—")
            self.raw.clear()
            return
        self.info["sender"].setText(row.sender or "—")
        self.info["subject"].setText(row.subject or "—")
        self.info["message_id"].setText(row.message_id or "—")
        outcome = outcome_text(row) + (f" — {row.error}" if row.error else "")
        self.info["outcome"].setText(outcome)
        self.info["outcome"].setStyleSheet(f"color: {outcome_color(row)};")
        tries = f", processed {row.attempts} times" if row.attempts > 1 else ""
        self.info["source"].setText(
            f"{format.moment(row.received_at)} by {row.source}"
            f" from {row.remote or 'an unknown address'}, "
            f"{row.raw_size:,} bytes{tries}"
        )
        self.raw.setPlainText("Loading…")
        self._raw_task = self.load(self._raw(row.id), self._show_raw)

    async def _raw(self, log_id: int) -> tuple[int, bytes]:
        return log_id, await admin_api.email_raw(self.api, log_id)

    def _show_raw(self, answer: tuple[int, bytes]) -> None:
        log_id, raw = answer
        current = self.table.current_row()
        if current is None or current.id != log_id:
            return  # another message was selected meanwhile
        if not raw:
            self.raw.setPlainText("The message itself was not kept (it was refused before it was read).")
            return
        text = raw[:RAW_SHOWN].decode("utf-8", errors="replace")
        if len(raw) > RAW_SHOWN:
            text += f"\n\n[… {len(raw) - RAW_SHOWN:,} more bytes not shown]"
        self.raw.setPlainText(text)

    # --- replay --------------------------------------------------------------------------------

    def replay(self) -> None:
        row = self.table.current_row()
        if row is None or row.outcome not in REPLAYABLE or not can(self.me, "edit"):
            return
        self._reselect = row.id

        def replayed(result: PipeResult) -> None:
            self._live_reload.stop()  # our own change: show it now, not in a second
            self.reload()
            if result.outcome in PROCESSED:
                self.say(f"Replayed: {result.message}.")
            else:
                self.say(f"Replayed, and refused again: {result.message.removeprefix('Refused: ')}.", error=True)

        operations.run(
            self,
            admin_api.replay_email(self.api, row.id),
            success=replayed,
            changed=LOG,
            busy=self.replay_button,
        )

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-email-log", lambda: None)]


# --- outgoing: invoices sent by email -----------------------------------------------------------

INVOICE_EMAILS = admin_api.INVOICE_EMAILS
# What an email of the log can be in (an invoice never sent has no email).
SEND_STATUSES = tuple((format.label(s), s.value) for s in (SendStatus.queued, SendStatus.sent, SendStatus.failed))


def send_color(row: InvoiceEmailOut) -> str:
    return tone({"sent": "success", "failed": "danger"}.get(row.status, "muted"))


class InvoiceEmailsPage(AdminPage):
    """The outgoing email log (admin_api.invoice_emails): every send of an invoice, newest first, with
    the SMTP server's words when it failed. Re-sending is done from the invoice itself."""

    title = "Sent invoices"
    areas = INVOICE_EMAILS

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.filters = FilterBar()
        self.status = self.filters.add_choice("status", "Status", list(SEND_STATUSES))
        columns: list[Column[InvoiceEmailOut]] = [
            Column("Queued", lambda r: format.moment(r.created_at) or "—"),
            Column("Invoice", lambda r: r.invoice_number or f"#{r.invoice_id}"),
            Column("Status", lambda r: format.label(r.status), color=send_color),
            Column("To", lambda r: r.recipient),
            Column("Sent", lambda r: format.moment(r.sent_at) or "—"),
            Column("Attempts", lambda r: str(r.attempts), align_right=True),
            Column(
                "Error",
                lambda r: (r.error or "").split("\n")[0],
                tooltip=lambda r: r.error or None,
                color=lambda r: tone("danger") if r.error else None,
            ),
            Column("Subject", lambda r: r.subject, tooltip=lambda r: r.subject or None),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model,
            "Invoices sent by email from the invoice editor or the recurring job appear here with how each send went.",
            icon="mail",
            empty_title="No invoice emails yet",
        )
        self.table.set_noun("email", "emails")
        view = self.table.view
        for column, width in enumerate((140, 130, 70, 210, 140, 70, 300)):
            view.setColumnWidth(column, width)
        view.setAccessibleName("Invoices sent by email")
        view.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())
        self._want_failed = False  # select the first failed send once the rows are in (screenshots)
        self.model.loading_changed.connect(self._loaded)
        self.filters.changed.connect(self.model.reload)
        self.detail = QLabel("Select an email to read the whole error of a failed send.")
        self.detail.setObjectName("invoiceEmailDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.root.addWidget(
            title_label(
                "Sent invoices",
                "Every invoice sent by email and how it went. A failed "
                "one keeps the mail server's answer; send it again from "
                "the invoice once the cause is fixed.",
            )
        )
        self.root.addWidget(self.filters)
        self.root.addWidget(self.notice)
        self.root.addWidget(self.table, 1)
        self.root.addWidget(self.detail)

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[InvoiceEmailOut]:
        return await admin_api.invoice_emails(self.api, offset, limit, after=after, **self.filters.values())

    def reload(self) -> None:
        self.model.reload()

    def on_live_event(self, event: Event) -> None:
        # A send's outcome arrives as an invoice "updated" event (send_status sent / failed).
        if self.loaded and event.module == "invoices":
            self.reload_soon()

    def is_busy(self) -> bool:
        return super().is_busy() or self.model.loading

    def _show_selected(self) -> None:
        row = self.table.current_row()
        if row is None:
            self.detail.setText("Select an email to read the whole error of a failed send.")
            self.detail.setStyleSheet("")
            return
        number = row.invoice_number or f"#{row.invoice_id}"
        if row.status == "failed":
            tries = f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}"
            self.detail.setText(
                f"Invoice {number} to {row.recipient} failed after {tries}: {row.error or 'no reason given'}"
            )
        elif row.status == "sent":
            self.detail.setText(f"Invoice {number} was sent to {row.recipient} on {format.moment(row.sent_at)}.")
        else:
            self.detail.setText(f"Invoice {number} to {row.recipient} is waiting to be sent.")
        self.detail.setStyleSheet(f"color: {send_color(row)};")

    def _loaded(self, loading: bool) -> None:
        if loading:
            return
        if self._want_failed:
            self._want_failed = False
            self.select_failed()
        self._show_selected()

    def select_failed(self) -> None:
        """Select the first failed send listed (now, or once the rows arrive), so its whole error
        shows below: the screenshot's state."""
        if not self.loaded or self.model.loading:
            self._want_failed = True
            return
        failed = next((r for r in self.model.rows() if r.status == "failed"), None)
        if failed is not None:
            self.table.select_key(failed.id)

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-sent-invoices", lambda: self.select_failed())]
