"""Write an e-mail from a record: pick a template (its merge tags are filled by the server from the
record), edit to/cc/subject/body, attach small files, preview it, send a test to oneself, send.
The composer shows the spam warnings of the subject and how many messages today's limit still allows.
The send is queued on the server and done by a job; the record's timeline shows "Email sent"."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations, tasks
from crm_desktop.api import emails as emails_api
from crm_desktop.api.client import ApiClient
from crm_desktop.widgets.form import field
from crm_server.contract.emails import (
    MERGE_TAGS,
    ComposeIn,
    EmailEntity,
    IdentityIn,
    OutboundOut,
    PreviewIn,
    PreviewOut,
    TemplateOut,
)
from crm_server.contract.tickets import AttachmentIn

MAX_FILE = 10 * 1024 * 1024


class IdentityDialog(QDialog):
    """The user's own sender identity: the name shown, where replies go, the signature."""

    def __init__(self, api: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.setObjectName("emailIdentity")
        self.setWindowTitle("Your sender identity")
        self.setMinimumWidth(460)
        body = QVBoxLayout(self)
        body.setContentsMargins(24, 20, 24, 18)
        self.display_name = QLineEdit(self)
        self.display_name.setAccessibleName("Name shown")
        self.reply_to = QLineEdit(self)
        self.reply_to.setAccessibleName("Replies go to")
        self.reply_to.setPlaceholderText("Your own address (empty: the company sender)")
        self.signature = QPlainTextEdit(self)
        self.signature.setAccessibleName("Signature")
        self.signature.setFixedHeight(90)
        for label, widget in (
            ("Name shown", self.display_name),
            ("Replies go to", self.reply_to),
            ("Signature ({{owner.signature}})", self.signature),
        ):
            column = QVBoxLayout()
            field(column, label, widget)
            body.addLayout(column)
        row = QHBoxLayout()
        row.addStretch(1)
        cancel = QPushButton("Cancel", self)
        cancel.clicked.connect(self.reject)
        self.save_button = QPushButton("Save", self)
        self.save_button.setProperty("role", "primary")
        self.save_button.clicked.connect(self.submit)
        row.addWidget(cancel)
        row.addWidget(self.save_button)
        body.addLayout(row)
        self.loading = tasks.spawn(self._load())

    async def _load(self) -> None:
        mine = await emails_api.identity(self.api)
        if shiboken6.isValid(self):
            self.display_name.setText(mine.display_name)
            self.reply_to.setText(mine.reply_to)
            self.signature.setPlainText(mine.signature)

    def submit(self) -> None:
        data = IdentityIn.model_construct(
            display_name=self.display_name.text(),
            reply_to=self.reply_to.text().strip(),
            signature=self.signature.toPlainText(),
        )
        operations.run(
            self,
            emails_api.save_identity(self.api, data),
            success=lambda _: self.accept(),
            fields={"display_name": self.display_name, "reply_to": self.reply_to, "signature": self.signature},
            busy=self.save_button,
        )


class ComposeDialog(QDialog):
    """The composer of one record (entity, id); `sent` carries the queued message."""

    sent = Signal(object)  # OutboundOut

    def __init__(
        self, api: ApiClient, entity: EmailEntity, entity_id: int, to: str | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.api, self.entity, self.entity_id = api, entity, entity_id
        self.templates: list[TemplateOut] = []
        self.files: list[AttachmentIn] = []
        self.setObjectName("composeEmail")
        self.setWindowTitle("Write an e-mail")
        self.setMinimumSize(860, 680)
        body = QVBoxLayout(self)
        body.setContentsMargins(28, 24, 28, 22)
        body.setSpacing(10)
        heading = QLabel("Write an e-mail", self)
        heading.setProperty("role", "heading")
        body.addWidget(heading)

        self.template = QComboBox(self)
        self.template.setObjectName("composeTemplate")
        self.template.setAccessibleName("Template")
        self.template.addItem("No template", None)
        self.template.currentIndexChanged.connect(self._template_chosen)
        self.to = QLineEdit(to or "", self)
        self.to.setObjectName("composeTo")
        self.to.setAccessibleName("To")
        # Typing in To or Subject asks again after a pause: a suppressed address and a spam-prone
        # subject are warned about before Send is pressed.
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(400)
        self._typing.timeout.connect(self.refresh_preview)
        self.to.textEdited.connect(self._typing.start)
        self.cc = QLineEdit(self)
        self.cc.setObjectName("composeCc")
        self.cc.setAccessibleName("Cc")
        self.cc.setPlaceholderText("Addresses separated by commas")
        self.subject = QLineEdit(self)
        self.subject.setObjectName("composeSubject")
        self.subject.setAccessibleName("Subject")
        self.subject.editingFinished.connect(self.refresh_preview)
        self.subject.textEdited.connect(self._typing.start)
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("composeBody")
        self.text.setAccessibleName("Message")
        self.text.setPlaceholderText(
            "Blank lines make paragraphs; **bold**. Tags: "
            + ", ".join("{{" + t + "}}" for t in MERGE_TAGS[entity.value])
        )
        self.text.setMinimumHeight(170)
        row = QHBoxLayout()
        row.setSpacing(12)
        for label, widget in (("Template", self.template), ("To", self.to), ("Cc", self.cc)):
            column = QVBoxLayout()
            field(column, label, widget)
            row.addLayout(column, 1)
        body.addLayout(row)
        subject_column = QVBoxLayout()
        field(subject_column, "Subject", self.subject)
        body.addLayout(subject_column)
        message_column = QVBoxLayout()
        field(message_column, "Message", self.text)
        body.addLayout(message_column, 1)

        self.warnings = QLabel("", self)
        self.warnings.setObjectName("composeWarnings")
        self.warnings.setProperty("role", "alert")
        self.warnings.setWordWrap(True)
        self.warnings.setContentsMargins(8, 4, 8, 4)
        self.warnings.setVisible(False)
        body.addWidget(self.warnings)
        self.preview = QLabel("", self)
        self.preview.setObjectName("composePreview")
        self.preview.setProperty("role", "muted")
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setMaximumHeight(90)
        body.addWidget(self.preview)

        files_row = QHBoxLayout()
        self.attach_button = QPushButton("Attach file…", self)
        self.attach_button.clicked.connect(self.ask_file)
        self.files_label = QLabel("No attachments", self)
        self.files_label.setProperty("role", "caption")
        files_row.addWidget(self.attach_button)
        files_row.addWidget(self.files_label, 1)
        body.addLayout(files_row)

        self.remaining = QLabel("", self)
        self.remaining.setObjectName("composeRemaining")
        self.remaining.setProperty("role", "caption")
        files_row.addWidget(self.remaining)
        buttons = QHBoxLayout()
        self.identity_button = QPushButton("Sender identity…", self)
        self.identity_button.setObjectName("composeIdentity")
        self.identity_button.setToolTip("Your name on the message, where replies go, your signature")
        self.identity_button.clicked.connect(self.edit_identity)
        buttons.addWidget(self.identity_button)
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.reject)
        self.test_button = QPushButton("Send test to me", self)
        self.test_button.setObjectName("composeTest")
        self.test_button.clicked.connect(self.send_test)
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("composeSend")
        self.send_button.setProperty("role", "primary")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.submit)
        for b in (self.cancel_button, self.test_button, self.send_button):
            buttons.addWidget(b)
        body.addLayout(buttons)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.submit)
        self.loading = tasks.spawn(self._load())

    async def _load(self) -> None:
        templates = await emails_api.templates(self.api, self.entity)
        if not shiboken6.isValid(self):
            return
        self.templates = templates
        for t in templates:
            self.template.addItem(t.name, t.id)
        await self._preview()

    def _template_chosen(self, index: int) -> None:
        template_id = self.template.itemData(index)
        chosen = next((t for t in self.templates if t.id == template_id), None)
        if chosen is not None:
            self.subject.setText(chosen.subject)
            self.text.setPlainText(chosen.body)
        self.refresh_preview()

    def refresh_preview(self) -> None:
        tasks.spawn(self._preview())

    async def _preview(self) -> None:
        data = PreviewIn.model_construct(
            entity_id=self.entity_id,
            template_id=None,
            subject=self.subject.text(),
            body=self.text.toPlainText(),
            to=self.to.text().strip() or None,
        )
        try:
            answer: PreviewOut = await emails_api.preview(self.api, self.entity, data)
        except Exception:  # a draft with a bad tag: the send names the field
            return
        if not shiboken6.isValid(self):
            return
        if not self.to.text() and answer.to:
            self.to.setText(answer.to)
        self.warnings.setText("\n".join(answer.warnings))
        self.warnings.setVisible(bool(answer.warnings))
        self.preview.setText(f"Preview: {answer.subject}\n\n{answer.text[:600]}" if answer.subject else "")
        left = answer.remaining_today
        self.remaining.setText(
            f"Today's limit still allows {left} message{'s' if left != 1 else ''}"
            if left
            else "Today's sending limit is reached"
        )
        self.remaining.setProperty("role", "caption" if left else "alert")
        self.remaining.style().unpolish(self.remaining)
        self.remaining.style().polish(self.remaining)

    def edit_identity(self) -> IdentityDialog:
        dialog = IdentityDialog(self.api, self)
        dialog.accepted.connect(self.refresh_preview)  # the signature tag changes with it
        dialog.open()
        return dialog

    def ask_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Attach a file")
        if name:
            self.attach(Path(name))

    def attach(self, path: Path) -> None:
        data = path.read_bytes()
        if len(data) > MAX_FILE:
            self.files_label.setText(f"{path.name} is too large (at most 10 MB)")
            return
        self.files.append(AttachmentIn(filename=path.name, data=base64.b64encode(data).decode("ascii")))
        self.files_label.setText(", ".join(f.filename for f in self.files))

    def payload(self) -> ComposeIn:
        cc = [c.strip() for c in self.cc.text().split(",") if c.strip()]
        return ComposeIn.model_construct(
            entity=self.entity,
            entity_id=self.entity_id,
            template_id=self.template.currentData(),
            to=self.to.text().strip(),
            cc=cc,
            subject=self.subject.text(),
            body=self.text.toPlainText(),
            attachments=self.files,
        )

    def _fields(self) -> dict[str, QWidget]:
        return {"to": self.to, "cc": self.cc, "subject": self.subject, "body": self.text, "template_id": self.template}

    def send_test(self) -> None:
        operations.run(
            self,
            emails_api.send_test(self.api, self.payload()),
            success=lambda _: self.files_label.setText("Test sent to your own address"),
            fields=self._fields(),
            busy=self.test_button,
        )

    def submit(self) -> None:
        if not self.send_button.isEnabled():
            return

        def done(email: OutboundOut) -> None:
            self.sent.emit(email)
            if shiboken6.isValid(self):
                self.accept()

        operations.run(
            self,
            emails_api.send(self.api, self.payload()),
            success=done,
            changed=emails_api.CHANGED,
            fields=self._fields(),
            busy=self.send_button,
        )


async def _screenshot_data(api: ApiClient) -> tuple[int, str | None]:
    """A shared lead template, a suppressed address and the first demo lead with an address."""
    if not await api.get("/api/emails/templates"):  # the second theme runs on the same data
        await api.post(
            "/api/emails/templates",
            {
                "name": "First contact",
                "entity": "lead",
                "subject": "{{lead.company}}: a short question",
                "body": "Dear {{lead.person_name}},\n\nThank you for your interest in **our offer**.\n\nKind regards",
                "visibility": "everyone",
            },
        )
    if not (await api.get("/api/emails/suppressions"))["items"]:
        await api.post(
            "/api/emails/suppressions", {"address": "bounced@example.com", "reason": "Mailbox does not exist"}
        )
    leads = await api.get("/api/leads", limit=20)
    first = next((lead for lead in leads["items"] if lead.get("email")), leads["items"][0])
    return int(first["id"]), first.get("email")


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The admin E-mail page (templates, suppression list), then the composer over a demo lead with
    the template picked, then with a spam-prone subject."""
    from crm_desktop.views.admin.emails import EmailsPage

    prepared = ctx.run(_screenshot_data(ctx.api))
    page = EmailsPage(ctx.api, ctx.me)
    page.activate()
    yield "admin-email", page
    page.reload()
    yield "admin-email", page
    page.template_list.setCurrentRow(0)
    yield "admin-email", page
    lead_id, to = prepared.result()
    dialog = ComposeDialog(ctx.api, EmailEntity.lead, lead_id, to, ctx.main)
    dialog.open()
    yield "email-compose-empty", dialog
    dialog.template.setCurrentIndex(1)
    yield "email-compose", dialog
    dialog.subject.setText("FREE OFFER!!! ACT NOW")
    dialog.refresh_preview()
    yield "email-compose-spam-warnings", dialog
    dialog.reject()
