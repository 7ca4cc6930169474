"""A ticket's conversation and its files.

    thread = ConversationView(session, ticket_id)    # comments oldest first, and the reply box
    files = AttachmentList(session, ticket_id)        # open, "Save as…", "Attach file…"

Public comments are replies to the customer (the server emails them); internal notes stay among
staff and are drawn tinted so nobody mistakes one for the other. Ctrl+Enter replies to the
customer, Ctrl+Shift+Enter adds an internal note. Files travel as base64 JSON; the server refuses
anything over 10 MB and its message shows under the list.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks, theme
from crm_desktop.api import tickets
from crm_desktop.operations import handle_error
from crm_desktop.views.admin.common import UserNames, field
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.tickets import AttachmentIn, AttachmentOut, CommentIn, CommentOut

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole

STYLE = """
QFrame#publicComment {{ background: {surface}; border: 1px solid {accent_border}; border-radius: 10px; }}
QFrame#internalComment {{ background: {warning_bg}; border: 1px solid {warning_border}; border-radius: 10px; }}
QFrame#customerComment {{ background: {surface}; border: 1px solid {border}; border-radius: 10px; }}
QLabel#commentKind[internal="true"] {{ color: {warning_text}; font-weight: 600; }}
QLabel#commentKind[internal="false"] {{ color: {accent_text}; font-weight: 600; }}
QLabel#commentKind[customer="true"] {{ color: {text}; font-weight: 600; }}
QLabel#commentMeta {{ color: {muted}; }}
#conversationScroll, #conversationBody {{ background: transparent; border: 0; }}
"""


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1048576:.1f} MB"


def themed(widget: QWidget, style: str) -> None:
    """Apply `style` with the current theme's tokens, and again when light/dark switches."""

    def apply(*_: object) -> None:
        if shiboken6.isValid(widget):
            widget.setStyleSheet(style.format(**theme.TOKENS[theme.current().name]))

    apply()
    theme.current().changed.connect(apply)


def author_of(comment: CommentOut, names: UserNames) -> str:
    """Who wrote a comment: the agent by name (the server names them; an older answer without the
    name asks `names`), the customer by their address. An internal note is never the customer's:
    one whose author's account is gone reads as a former colleague."""
    if comment.author_id is not None:
        return comment.author_name or names.name(comment.author_id)
    if not comment.public:
        return "A former colleague"
    return comment.author_email or "Customer"


class CommentCard(QFrame):
    """One comment: who wrote it, when, whether the customer saw it, the text and its files."""

    def __init__(self, comment: CommentOut, author: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comment = comment
        internal = not comment.public
        customer = comment.public and comment.author_id is None  # the customer's own message (email)
        self.setObjectName("internalComment" if internal else "customerComment" if customer else "publicComment")
        self.kind = QLabel("Internal note" if internal else "From the customer" if customer else "Reply to customer")
        kind = self.kind
        kind.setObjectName("commentKind")
        kind.setProperty("internal", internal)
        kind.setProperty("customer", customer)
        meta = QLabel(f"{author} · {format.moment(comment.created_at)}")
        meta.setObjectName("commentMeta")
        head = QHBoxLayout()
        head.addWidget(kind)
        head.addStretch(1)
        head.addWidget(meta)
        self.body = QLabel(comment.body)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.body)
        if comment.attachments:
            names = ", ".join(f"{a.filename} ({size_text(a.size)})" for a in comment.attachments)
            attached = QLabel(f"Attached: {names}")
            attached.setObjectName("commentMeta")
            attached.setWordWrap(True)
            layout.addWidget(attached)

    @property
    def internal(self) -> bool:
        return not self.comment.public


class ConversationView(QWidget):
    """The thread (oldest first) with the reply box under it."""

    sent = Signal(object)  # the CommentOut the server stored

    def __init__(
        self, session: Any, ticket_id: int, names: UserNames | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.ticket_id = ticket_id
        self.names = names or UserNames(self.api)
        self.comments: list[CommentOut] = []
        self._cards: list[CommentCard] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generation = 0

        self.body = QWidget()
        self.body.setObjectName("conversationBody")
        self.thread_box = QVBoxLayout(self.body)
        self.thread_box.setContentsMargins(8, 8, 8, 0)  # cards clear the tab pane's edge
        self.thread_box.setSpacing(8)
        self.empty = QLabel("No conversation yet. Reply to the customer, or add an internal note for your team.")
        self.empty.setObjectName("conversationEmpty")
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thread_box.addWidget(self.empty)
        self.thread_box.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("conversationScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self.body)

        self.reply = QPlainTextEdit()
        self.reply.setObjectName("replyBox")
        self.reply.setAccessibleName("Reply")
        self.reply.setPlaceholderText(
            "Write a reply… (Ctrl+Enter sends it to the customer, Ctrl+Shift+Enter keeps it as an internal note)"
        )
        self.reply.setFixedHeight(90)
        self.reply_button = QPushButton("Reply to customer")
        self.reply_button.setProperty("role", "primary")
        self.reply_button.setToolTip("Email this to the customer (Ctrl+Enter)")
        self.reply_button.clicked.connect(lambda: self.send(public=True))
        self.note_button = QPushButton("Add internal note")
        self.note_button.setToolTip("Only your colleagues see it (Ctrl+Shift+Enter)")
        self.note_button.clicked.connect(lambda: self.send(public=False))
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.note_button)
        actions.addWidget(self.reply_button)
        self.composer = QWidget()
        composer = QVBoxLayout(self.composer)
        composer.setContentsMargins(0, 0, 0, 0)
        composer.setSpacing(6)
        composer.addWidget(field(self.reply))
        composer.addLayout(actions)
        shown_if(self.composer, session.can("tickets", "edit"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.composer)
        for keys, public in (
            ("Ctrl+Return", True),
            ("Ctrl+Enter", True),
            ("Ctrl+Shift+Return", False),
            ("Ctrl+Shift+Enter", False),
        ):
            shortcut = QShortcut(QKeySequence(keys), self.reply, context=Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(partial(self.send, public=public))
        themed(self, STYLE)

    # --- reading ---------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def reload(self) -> None:
        self._generation += 1
        task = tasks.spawn(self._load(self._generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load(self, generation: int) -> None:
        try:
            comments = await tickets.list_comments(self.api, self.ticket_id)
            await self.names.ensure(c.author_id for c in comments if c.author_name is None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("comments of ticket %s did not load: %s", self.ticket_id, exc)
            if shiboken6.isValid(self):
                self.empty.setText("The conversation could not be loaded. Press F5 to try again.")
            return
        if shiboken6.isValid(self) and generation == self._generation:
            self.show_comments(comments)

    def show_comments(self, comments: list[CommentOut]) -> None:
        at_bottom = self.scroll_area.verticalScrollBar().value() >= self.scroll_area.verticalScrollBar().maximum() - 4
        grew = len(comments) > len(self.comments)
        for card in self._cards:
            card.setParent(None)
            card.deleteLater()
        self.comments = comments
        self._cards = []
        for index, comment in enumerate(comments):
            card = CommentCard(comment, author_of(comment, self.names), self.body)
            self._cards.append(card)
            self.thread_box.insertWidget(index, card)
        self.empty.setVisible(not comments)
        if grew or at_bottom:
            bar = self.scroll_area.verticalScrollBar()
            bar.rangeChanged.connect(lambda _lo, hi: bar.setValue(hi), Qt.ConnectionType.SingleShotConnection)

    def cards(self) -> list[CommentCard]:
        return list(self._cards)

    def texts(self) -> list[str]:
        return [c.body for c in self.comments]

    # --- writing ---------------------------------------------------------------------------------

    def send(self, public: bool) -> asyncio.Task[Any] | None:
        text = self.reply.toPlainText().strip()
        if not text or not self.composer.isVisible() or not self.reply_button.isEnabled():
            return None
        call = tickets.add_comment(self.api, self.ticket_id, CommentIn(body=text, public=public))
        task = operations.run(
            self, call, success=self._sent, changed=tickets.CHANGED, fields={"body": self.reply}, busy=self.composer
        )
        return task

    def _sent(self, comment: CommentOut) -> None:
        self.reply.clear()
        self.sent.emit(comment)
        self.reload()


class AttachmentList(QWidget):
    """The ticket's files: open one (a temporary copy in the system viewer), save a copy, attach."""

    attached = Signal(object)  # the AttachmentOut stored

    def __init__(self, session: Any, ticket_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.ticket_id = ticket_id
        self.files: list[AttachmentOut] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.list = QListWidget()
        self.list.setObjectName("attachmentList")
        self.list.setAccessibleName("Attachments")
        self.list.setMaximumHeight(130)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemActivated.connect(lambda _item: self.open_selected())
        self.list.itemSelectionChanged.connect(self._update_actions)
        self.empty = QLabel("No files yet. Attach screenshots or logs (up to 10 MB each).")
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(self.open_selected)
        self.save_button = QPushButton("Save as…")
        self.save_button.clicked.connect(self.ask_save)
        self.attach_button = QPushButton("Attach file…")
        self.attach_button.clicked.connect(self.ask_attach)
        shown_if(self.attach_button, session.can("tickets", "edit"))
        self.notice = QLabel("")
        self.notice.setProperty("role", "muted")
        self.notice.setWordWrap(True)
        self.notice.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(self.attach_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.list_box = field(self.list)
        layout.addWidget(self.list_box)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        layout.addWidget(self.notice)
        self.list.hide()
        self._update_actions()

    @property
    def loading(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def reload(self) -> None:
        self._spawn(self._load())

    async def _load(self) -> None:
        try:
            files = await tickets.list_attachments(self.api, self.ticket_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("files of ticket %s did not load: %s", self.ticket_id, exc)
            return
        if shiboken6.isValid(self):
            self.show_files(files)

    def show_files(self, files: list[AttachmentOut]) -> None:
        selected = self.selected()
        self.files = files
        self.list.clear()
        for attachment in files:
            item = QListWidgetItem(
                f"{attachment.filename}  ·  {size_text(attachment.size)}  ·  {format.moment(attachment.created_at)}"
            )
            item.setData(ID_ROLE, attachment.id)
            item.setToolTip(attachment.content_type)
            self.list.addItem(item)
            if selected is not None and selected.id == attachment.id:
                self.list.setCurrentItem(item)
        self.list.setVisible(bool(files))
        self.empty.setVisible(not files)
        self._update_actions()

    def names(self) -> list[str]:
        return [f.filename for f in self.files]

    def selected(self) -> AttachmentOut | None:
        item = self.list.currentItem()
        if item is None or not item.isSelected():
            return None
        return next((f for f in self.files if f.id == item.data(ID_ROLE)), None)

    def select(self, filename: str) -> None:
        for row, attachment in enumerate(self.files):
            if attachment.filename == filename:
                self.list.setCurrentRow(row)
                return

    def _update_actions(self) -> None:
        chosen = self.selected() is not None
        self.open_button.setEnabled(chosen)
        self.save_button.setEnabled(chosen)

    def say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    async def _download(self, attachment: AttachmentOut) -> bytes | None:
        try:
            return await tickets.download_attachment(self.api, attachment.id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if shiboken6.isValid(self):
                handle_error(self, exc)
            return None

    # --- open and save ---------------------------------------------------------------------------

    def open_selected(self) -> asyncio.Task[Any] | None:
        attachment = self.selected()
        if attachment is None:
            return None
        return self._spawn(self._open(attachment))

    async def _open(self, attachment: AttachmentOut) -> None:
        data = await self._download(attachment)
        if data is None or not shiboken6.isValid(self):
            return
        folder = Path(tempfile.mkdtemp(prefix=f"crm-ticket-{self.ticket_id}-"))
        path = folder / Path(attachment.filename).name
        await asyncio.to_thread(path.write_bytes, data)
        if shiboken6.isValid(self) and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.say(f"No program opens {path.name}; it is saved at {path}.")

    def ask_save(self) -> QFileDialog | None:
        attachment = self.selected()
        if attachment is None:
            return None
        dialog = QFileDialog(self, f"Save {attachment.filename}")
        dialog.setObjectName("attachmentSaveDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.selectFile(attachment.filename)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(lambda path: self.save_to(attachment, path))
        dialog.open()
        return dialog

    def save_to(self, attachment: AttachmentOut, path: str) -> asyncio.Task[Any]:
        return self._spawn(self._save(attachment, Path(path)))

    async def _save(self, attachment: AttachmentOut, path: Path) -> None:
        data = await self._download(attachment)
        if data is None:
            return
        try:
            await asyncio.to_thread(path.write_bytes, data)
        except OSError as exc:
            if shiboken6.isValid(self):
                self.say(f"Could not write {path}: {exc.strerror or exc}")
            return
        if shiboken6.isValid(self):
            self.say(f"Saved {attachment.filename} to {path}.")

    # --- attach ----------------------------------------------------------------------------------

    def ask_attach(self) -> QFileDialog | None:
        if not self.attach_button.isVisible():
            return None
        dialog = QFileDialog(self, "Attach a file to the ticket")
        dialog.setObjectName("attachmentOpenDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(self.attach)
        dialog.open()
        return dialog

    def attach(self, path: str) -> asyncio.Task[Any]:
        """Read and upload one file; the server's refusal (too big, empty) shows under the list."""
        return operations.run(
            self,
            self._upload(Path(path)),
            success=self._attached,
            changed=tickets.CHANGED,
            fields={"data": self.list_box},
            busy=self.attach_button,
        )

    async def _upload(self, path: Path) -> AttachmentOut:
        def encode() -> str:
            return base64.b64encode(path.read_bytes()).decode("ascii")

        self.say(f"Uploading {path.name}…")
        try:
            data = await asyncio.to_thread(encode)
        finally:
            if shiboken6.isValid(self):
                self.say("")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        body = AttachmentIn(filename=path.name, content_type=content_type, data=data)
        return await tickets.add_attachment(self.api, self.ticket_id, body)

    def _attached(self, attachment: AttachmentOut) -> None:
        self.say(f"{attachment.filename} is attached.")
        self.attached.emit(attachment)
        self.reload()
