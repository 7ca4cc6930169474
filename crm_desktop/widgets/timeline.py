"""The history of a record (a lead, a client): notes, follow-ups, status changes and edits, newest first.

    timeline = TimelineView(api, partial(leads.timeline, api, 5))   # crm_desktop.api.leads
    timeline.reload()                 # after adding a note, or when a live event names the record

It reads Page[TimelineItem] a page at a time ("Show more" asks for the next one) in the background;
nothing waits for the network. Each entry says what happened, who did it and when (local time), with
an icon per kind and field changes as "field: old → new".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import shiboken6
from pydantic import TypeAdapter
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, tasks, theme
from crm_desktop.api.client import ApiClient
from crm_server.contract.activities import TimelineItem
from crm_server.contract.admin import AuditChange
from crm_server.contract.common import Page

log = logging.getLogger(__name__)

# (offset, limit) -> one page of the record's history, from crm_desktop.api.<area>.timeline
Fetch = Callable[[int, int], Awaitable[Page[TimelineItem]]]
PAGE_SIZE = 50
_PAGE = TypeAdapter(Page[TimelineItem])

# kind -> (what to call it, icon)
KINDS: dict[str, tuple[str, str]] = {
    "note": ("Note", "info"),
    "follow_up": ("Follow-up scheduled", "bell"),
    "follow_up_completed": ("Follow-up done", "check"),
    "follow_up_done": ("Follow-up done", "check"),
    "follow_up_rescheduled": ("Follow-up rescheduled", "bell"),
    "follow_up_cancelled": ("Follow-up cancelled", "close"),
    "follow_up_updated": ("Follow-up edited", "bell"),
    "status_change": ("Status changed", "leads"),
    "created": ("Created", "check"),
    "updated": ("Edited", "settings"),
    "archived": ("Archived", "lock"),
    "restored": ("Restored", "refresh"),
    "merged": ("Merged", "copy"),
    "converted": ("Converted to a client", "clients"),
    "reassigned": ("Reassigned", "user"),
    "email_sent": ("Email sent", "mail"),  # crm_server.emails: queued, then sent or failed
    "email_bounced": ("Email bounced", "alert"),  # crm_server.emails.bounces: "Bounced: <reason>"
    "email_complaint": ("Email marked as spam", "alert"),
    "email_received": ("Email received", "mail"),  # a reply threaded by the email pipe
    # tickets
    "comment": ("Comment", "inbox"),
    "email": ("Email to the customer", "mail"),
    "assigned": ("Assigned", "user"),
    "attachment_added": ("File attached", "copy"),
    "first_response": ("First response", "check"),
    "sla_breached": ("First-response time passed", "alert"),
}
FOLLOW_UP_ICONS = {"call": "phone", "email": "mail", "whatsapp": "phone", "meeting": "team"}
MAX_CHANGES = 8  # a creation lists every field; show the first few

STYLE = """
#timelineScroll, #timelineBody {{ background: transparent; border: 0; }}
QFrame#timelineItem {{ background: {surface}; border: 1px solid {border}; border-radius: 10px; }}
QLabel#timelineIcon {{ background: {accent_soft}; border-radius: 14px; }}
QLabel#timelineWhat {{ font-weight: 600; }}
QLabel#timelineChanges {{ color: {muted}; }}
"""


def field_name(change: AuditChange) -> str:
    return change.field.replace("_", " ")


def change_line(change: AuditChange) -> str:
    """One field change as people read it: "field: old → new"."""
    return f"{field_name(change)}: {format.value(change.old)} → {format.value(change.new)}"


def describe(item: TimelineItem) -> tuple[str, str]:
    """(title, icon name) of one timeline entry."""
    kind = item.kind
    title, icon = KINDS.get(kind, (format.label(kind) if kind else "Activity", "activities"))
    if kind.startswith("follow_up"):
        icon = FOLLOW_UP_ICONS.get(str(item.data.get("kind")), icon)
    if kind == "whatsapp":  # crm_server.whatsapp: a message in or out, with its last status
        title = "WhatsApp received" if item.data.get("direction") == "in" else "WhatsApp sent"
        icon = "phone"
    return title, icon


class TimelineEntry(QFrame):
    """One entry: an icon, what happened, who and when, and the details."""

    def __init__(self, item: TimelineItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = item
        self.setObjectName("timelineItem")
        title, icon_name = describe(item)
        badge = QLabel()
        badge.setObjectName("timelineIcon")
        badge.setFixedSize(28, 28)
        badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        badge.setPixmap(icons.icon(icon_name, theme.current().token("accent_text")).pixmap(QSize(16, 16)))

        what = QLabel(title)
        what.setObjectName("timelineWhat")
        who = QLabel(f"{item.actor_name or 'System'} · {format.moment(item.at)}")
        who.setObjectName("timelineWho")
        who.setProperty("role", "caption")
        head = QHBoxLayout()
        head.setSpacing(8)
        head.addWidget(what)
        head.addWidget(who)
        head.addStretch(1)

        column = QVBoxLayout()
        column.setSpacing(4)
        column.addLayout(head)
        self.text = QLabel(self._body(), self)  # a parent first: shown without one, a label is a window
        self.text.setObjectName("timelineText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setVisible(bool(self.text.text()))
        column.addWidget(self.text)
        self.changes = QLabel(self._changes(), self)
        self.changes.setObjectName("timelineChanges")
        self.changes.setWordWrap(True)
        self.changes.setTextFormat(Qt.TextFormat.PlainText)
        self.changes.setVisible(bool(self.changes.text()))
        column.addWidget(self.changes)

        row = QHBoxLayout(self)
        row.setContentsMargins(10, 8, 12, 8)
        row.setSpacing(10)
        row.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(column, 1)

    def _body(self) -> str:
        item = self.item
        text = item.text or ""
        data = item.data
        if item.kind in ("email_bounced", "email_complaint"):  # crm_server.emails.bounces: what came back, in words
            said = {c.field: c.new for c in item.changes}
            head = " · ".join(str(said[k]) for k in ("to", "subject") if said.get(k))
            return "\n".join(p for p in (head, str(said.get("email_status") or "")) if p)
        if item.kind.startswith("follow_up") and data.get("due_at"):
            due = f"{str(data.get('kind', '')).capitalize()} due {format.moment(data['due_at'])}".strip()
            text = f"{due}\n{text}".strip() if text else due
        return text

    def _changes(self) -> str:
        if self.item.kind in ("status_change", "email_bounced", "email_complaint"):
            return ""  # the text already says it
        if self.item.kind == "whatsapp":
            data = self.item.data
            status = format.label(str(data.get("status") or "")) if data.get("direction") == "out" else ""
            template = f"Template {data['template']}" if data.get("template") else ""
            return "\n".join(p for p in (" · ".join(p for p in (template, status) if p), data.get("error") or "") if p)
        changes = self.item.changes
        if self.item.kind == "created":
            # A new record: what it was given, not "— → value" for every column (ids and empty ones left out).
            changes = [c for c in changes if c.new not in (None, False, "", []) and not c.field.endswith("_id")]
            lines = [f"{field_name(c)}: {format.value(c.new)}" for c in changes[:MAX_CHANGES]]
        else:
            lines = [change_line(c) for c in changes[:MAX_CHANGES]]
        if len(changes) > MAX_CHANGES:
            lines.append(f"… and {len(changes) - MAX_CHANGES} more")
        return "\n".join(lines)

    def plain_text(self) -> str:
        """Everything the entry says, for tests and for copying."""
        title, _ = describe(self.item)
        parts = [title, self.text.text(), self.changes.text()]
        return "\n".join(p for p in parts if p)


class TimelineView(QWidget):
    """A record's history, paged by ``source`` (a typed client's timeline call, or a path answering
    Page[TimelineItem]), newest first."""

    loaded = Signal(int)  # the total, after each page arrives

    def __init__(
        self, api: ApiClient, source: str | Fetch, parent: QWidget | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        super().__init__(parent)
        self.setObjectName("timelineView")
        self.api = api
        self.source = source
        self.page_size = page_size
        self.items: list[TimelineItem] = []
        self._entries: list[TimelineEntry] = []
        self.total: int | None = None
        self.error: str | None = None
        self._generation = 0
        self._pending: asyncio.Task[None] | None = None

        self.body = QWidget()
        self.body.setObjectName("timelineBody")
        self.list = QVBoxLayout(self.body)
        self.list.setContentsMargins(0, 0, 4, 0)
        self.list.setSpacing(8)
        self.status = QLabel("Loading…")
        self.status.setObjectName("timelineStatus")
        self.status.setProperty("role", "muted")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setWordWrap(True)
        self.more = QPushButton("Show more")
        self.more.setObjectName("timelineMore")
        self.more.setProperty("role", "link")
        self.more.clicked.connect(self.show_more)
        self.more.hide()
        self.list.addWidget(self.status)
        self.list.addWidget(self.more, 0, Qt.AlignmentFlag.AlignHCenter)
        self.list.addStretch(1)

        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("timelineScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(self.body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area)

        self._style()
        theme.current().changed.connect(self._style)
        self.reload()

    def _style(self, *_: object) -> None:
        if shiboken6.isValid(self):
            self.setStyleSheet(STYLE.format(**theme.TOKENS[theme.current().name]))

    # --- loading -------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        return self._pending is not None and not self._pending.done()

    def reload(self) -> None:
        """Ask for the newest page again (a note was added, the record changed)."""
        self._generation += 1
        if self.loading and self._pending is not None:
            self._pending.cancel()
        self._start(0, replace=True)

    def show_more(self) -> None:
        if not self.loading and self.total is not None and len(self.items) < self.total:
            self._start(len(self.items), replace=False)

    def _start(self, offset: int, replace: bool) -> None:
        self.more.setEnabled(False)
        if replace and not self.items:
            self.status.setText("Loading…")
            self.status.show()
        self._pending = tasks.spawn(self._load(offset, replace, self._generation))

    async def _load(self, offset: int, replace: bool, generation: int) -> None:
        try:
            page = await self._fetch(offset)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown in place; reload() tries again
            if shiboken6.isValid(self) and generation == self._generation:
                self.error = getattr(exc, "message", None) or str(exc)
                self.status.setText(f"The history could not be loaded: {self.error}")
                self.status.show()
                self.more.setEnabled(True)
            return
        if not shiboken6.isValid(self) or generation != self._generation:
            return
        self.error = None
        if replace:
            self._clear()
        items = page.items
        for item in items:
            entry = TimelineEntry(item, self.body)
            self.list.insertWidget(self.list.indexOf(self.status), entry)
            self._entries.append(entry)
        self.items.extend(items)
        self.total = page.total
        self.status.setText("Nothing has happened here yet.")
        self.status.setVisible(not self.items)
        left = self.total - len(self.items)
        self.more.setText(f"Show more ({left} older)")
        self.more.setVisible(left > 0 and bool(items))
        self.more.setEnabled(True)
        self.loaded.emit(self.total)

    async def _fetch(self, offset: int) -> Page[TimelineItem]:
        if isinstance(self.source, str):  # a path (areas without a typed client yet)
            return _PAGE.validate_python(await self.api.get(self.source, offset=offset, limit=self.page_size))
        return await self.source(offset, self.page_size)

    def _clear(self) -> None:
        for entry in self._entries:
            self.list.removeWidget(entry)
            entry.deleteLater()
        self._entries = []
        self.items = []

    async def wait_loaded(self) -> None:
        """Await the page in flight (tests, screenshots)."""
        while self._pending is not None and not self._pending.done():
            await asyncio.shield(self._pending)

    # --- reading -------------------------------------------------------------------------------

    def entries(self) -> list[TimelineEntry]:
        return list(self._entries)

    def texts(self) -> list[str]:
        """What each shown entry says, newest first."""
        return [e.plain_text() for e in self.entries()]
