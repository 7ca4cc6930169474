"""The WhatsApp composer of a lead or a client: the number and its opt-in (record one: how the
customer agreed), the 24-hour window in words (free text only inside it; outside it only an approved
template, and why), and the messages with their last status. Sending is queued on the server and
sent by a job; the status follows the webhook (a live event refreshes the list)."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import whatsapp as whatsapp_api
from crm_desktop.api.client import ApiClient
from crm_server.contract.whatsapp import STATUS_WORDS, Conversation, MessageIn, MessageOut, OptInIn


def message_line(message: MessageOut) -> str:
    """ "→ Hello … · Delivered · 6 Dec 2026, 10:00" (← for the customer's)."""
    arrow = "→" if message.direction == "out" else "←"
    what = f"[{message.template_name}] " if message.template_name else ""
    line = f"{arrow} {what}{message.body} · {STATUS_WORDS[message.status]} · {format.moment(message.created_at)}"
    return f"{line}\n   {message.error}" if message.error else line


class WhatsAppDialog(QDialog):
    def __init__(self, api: ApiClient, kind: whatsapp_api.Kind, record_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api, self.kind, self.record_id = api, kind, record_id
        self.state: Conversation | None = None
        self.setObjectName("whatsappComposer")
        self.setWindowTitle("WhatsApp")
        self.resize(620, 560)
        column = QVBoxLayout(self)

        self.number = QLabel("Loading…", self)
        self.number.setProperty("role", "heading")
        column.addWidget(self.number)
        self.consent = QLabel("", self)
        self.consent.setObjectName("whatsappConsent")
        self.consent.setWordWrap(True)
        column.addWidget(self.consent)
        consent_row = QHBoxLayout()
        self.method = QLineEdit(self)
        self.method.setObjectName("whatsappOptInMethod")
        self.method.setAccessibleName("How the customer agreed")
        self.method.setPlaceholderText("How the customer agreed, e.g. ticked the box on the web form")
        self.opt_in_button = QPushButton("Record opt-in", self)
        self.opt_in_button.setObjectName("whatsappOptIn")
        self.opt_in_button.clicked.connect(self.record_opt_in)
        consent_row.addWidget(self.method, 1)
        consent_row.addWidget(self.opt_in_button)
        column.addLayout(consent_row)

        self.window_note = QLabel("", self)
        self.window_note.setObjectName("whatsappWindow")
        self.window_note.setWordWrap(True)
        self.window_note.setProperty("role", "muted")
        column.addWidget(self.window_note)

        template_row = QHBoxLayout()
        template_label = QLabel("&Template", self)
        self.template = QComboBox(self)
        self.template.setObjectName("whatsappTemplate")
        self.template.setAccessibleName("Approved template")
        template_label.setBuddy(self.template)
        self.send_template_button = QPushButton("Send template", self)
        self.send_template_button.setObjectName("whatsappSendTemplate")
        self.send_template_button.clicked.connect(self.send_template)
        template_row.addWidget(template_label)
        template_row.addWidget(self.template, 1)
        template_row.addWidget(self.send_template_button)
        column.addLayout(template_row)
        self.preview = QLabel("", self)
        self.preview.setWordWrap(True)
        self.preview.setProperty("role", "caption")
        column.addWidget(self.preview)
        self.template.currentIndexChanged.connect(self._preview)

        self.text = QPlainTextEdit(self)
        self.text.setObjectName("whatsappText")
        self.text.setAccessibleName("Message")
        self.text.setFixedHeight(80)
        self.send_text_button = QPushButton("Send message", self)
        self.send_text_button.setObjectName("whatsappSendText")
        self.send_text_button.clicked.connect(self.send_text)
        text_row = QHBoxLayout()
        text_row.addWidget(self.text, 1)
        text_row.addWidget(self.send_text_button, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(text_row)

        column.addWidget(QLabel("Messages", self))
        self.messages = QListWidget(self)
        self.messages.setObjectName("whatsappMessages")
        self.messages.setAccessibleName("Messages")
        self.messages.setWordWrap(True)
        column.addWidget(self.messages, 1)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.accept)
        column.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self._enable(None)
        self.reload()

    # --- loading --------------------------------------------------------------------------------

    def reload(self) -> None:
        operations.run(self, self._load())

    async def _load(self) -> None:
        state = await whatsapp_api.conversation(self.api, self.kind, self.record_id)
        messages = await whatsapp_api.messages(self.api, self.kind, self.record_id)
        if shiboken6.isValid(self):
            self.show_state(state, messages)

    def show_state(self, state: Conversation, messages: list[MessageOut]) -> None:
        self.state = state
        self.number.setText(f"WhatsApp to {state.phone}" if state.phone else "No phone number")
        consent = state.opt_in
        if consent is not None and consent.opted_out_at is not None:
            self.consent.setText(f"Opted out {format.moment(consent.opted_out_at)}.")
        elif consent is not None and consent.opted_in_at is not None:
            self.consent.setText(f"Opted in {format.moment(consent.opted_in_at)} — {consent.method}.")
        else:
            self.consent.setText("No opt-in recorded: the customer must agree before any WhatsApp message.")
        window = ""
        if state.window_open and state.window_ends_at is not None:
            window = f" The window closes {format.moment(state.window_ends_at)}."
        self.window_note.setText(state.reason + window)
        chosen = self.template.currentData()
        self.template.clear()
        for template in state.templates:
            self.template.addItem(f"{template.name} ({template.language})", template.name)
        if chosen is not None and (index := self.template.findData(chosen)) >= 0:
            self.template.setCurrentIndex(index)
        self._preview()
        self.messages.clear()
        for message in messages:
            self.messages.addItem(message_line(message))
        self._enable(state)

    def _preview(self, *_: object) -> None:
        state, index = self.state, self.template.currentIndex()
        body = state.templates[index].body if state is not None and 0 <= index < len(state.templates) else ""
        self.preview.setText(body)

    def _enable(self, state: Conversation | None) -> None:
        has_phone = state is not None and state.phone is not None
        self.method.setEnabled(has_phone)
        self.opt_in_button.setEnabled(has_phone)
        sendable = state is not None and state.can_send
        self.template.setEnabled(sendable and bool(state and state.templates))
        self.send_template_button.setEnabled(sendable and bool(state and state.templates))
        free = state is not None and state.free_text
        self.text.setEnabled(free)
        self.send_text_button.setEnabled(free)
        self.text.setPlaceholderText(
            "Write a message…" if free else "Free text only within 24 hours of the customer's last message."
        )

    # --- actions ---------------------------------------------------------------------------------

    def record_opt_in(self) -> None:
        method = self.method.text().strip()
        call = whatsapp_api.opt_in(self.api, self.kind, self.record_id, OptInIn.model_construct(method=method))
        operations.run(
            self,
            call,
            success=lambda _: self.reload(),
            changed=whatsapp_api.CHANGED,
            fields={"method": self.method},
            busy=self.opt_in_button,
        )

    def send_template(self) -> None:
        name = self.template.currentData()
        if not name:
            return
        self._send(MessageIn(template=str(name)), self.send_template_button)

    def send_text(self) -> None:
        text = self.text.toPlainText().strip()
        if text:
            self._send(MessageIn(text=text), self.send_text_button)

    def _send(self, body: MessageIn, button: QPushButton) -> None:
        fields: dict[str, QWidget] = {"text": self.text, "template": self.template, "opt_in": self.method}
        operations.run(
            self,
            whatsapp_api.send(self.api, self.kind, self.record_id, body),
            success=self._sent,
            changed=whatsapp_api.CHANGED,
            fields=fields,
            busy=button,
        )

    def _sent(self, _message: Any) -> None:
        if shiboken6.isValid(self):
            self.text.clear()
            self.reload()
