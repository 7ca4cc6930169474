"""The WhatsApp composer of a lead or a client: the number and its opt-in (record one: how the
customer agreed), the 24-hour window in words (free text only inside it; outside it only an approved
template, and why), and the messages with their last status. Sending is queued on the server and
sent by a job; the status follows the webhook (a live event refreshes the list). Opened for a
follow-up of type WhatsApp, sending also marks the follow-up done (one server step) and closes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
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
from crm_server.contract.activities import FollowUpOut
from crm_server.contract.whatsapp import (
    STATUS_WORDS,
    Conversation,
    FollowUpMessageIn,
    FollowUpSent,
    MessageIn,
    MessageOut,
    OptInIn,
    TemplateOut,
)

STATUS_NAMES = {"PENDING": "waiting for approval", "REJECTED": "rejected", "PAUSED": "paused", "DISABLED": "disabled"}


def message_line(message: MessageOut) -> str:
    """ "→ Hello … · Delivered · 6 Dec 2026, 10:00" (← for the customer's)."""
    arrow = "→" if message.direction == "out" else "←"
    what = f"[{message.template_name}] " if message.template_name else ""
    line = f"{arrow} {what}{message.body} · {STATUS_WORDS[message.status]} · {format.moment(message.created_at)}"
    return f"{line}\n   {message.error}" if message.error else line


class WhatsAppDialog(QDialog):
    follow_up_done = Signal(object)  # FollowUpSent: the message and the follow-up it completed

    def __init__(
        self,
        api: ApiClient,
        kind: whatsapp_api.Kind,
        record_id: int,
        parent: QWidget | None = None,
        *,
        follow_up: FollowUpOut | None = None,
    ) -> None:
        super().__init__(parent)
        self.api, self.kind, self.record_id, self.follow_up = api, kind, record_id, follow_up
        self.state: Conversation | None = None
        self.templates: list[TemplateOut] = []
        self.setObjectName("whatsappComposer")
        self.setWindowTitle("WhatsApp")
        self.resize(620, 560)
        column = QVBoxLayout(self)

        self.number = QLabel("Loading…", self)
        self.number.setProperty("role", "heading")
        column.addWidget(self.number)
        if follow_up is not None:
            for_follow_up = QLabel("Sending marks the follow-up done.", self)
            for_follow_up.setObjectName("whatsappForFollowUp")
            for_follow_up.setProperty("role", "caption")
            column.addWidget(for_follow_up)
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
        self.sync_button = QPushButton("Sync templates", self)
        self.sync_button.setObjectName("whatsappSyncTemplates")
        self.sync_button.setToolTip("Read the templates and their approval status from WhatsApp (administrators)")
        self.sync_button.clicked.connect(self.sync_templates)
        template_row.addWidget(self.sync_button)
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
        templates = await whatsapp_api.templates(self.api)
        if shiboken6.isValid(self):
            self.show_state(state, messages, templates)

    def sync_templates(self) -> None:
        """Ask the Cloud API for the templates and their approval status now (an administrator's)."""
        operations.run(
            self,
            whatsapp_api.sync_templates(self.api),
            success=lambda _: self.reload(),
            changed=whatsapp_api.CHANGED,
            busy=self.sync_button,
        )

    def show_state(
        self, state: Conversation, messages: list[MessageOut], templates: list[TemplateOut] | None = None
    ) -> None:
        """The state; every template is listed with its approval status, only approved ones can be picked."""
        self.state = state
        known = {(t.name, t.language): t for t in [*state.templates, *(templates or [])]}
        self.templates = sorted(known.values(), key=lambda t: (t.status != "APPROVED", t.name))
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
        model = self.template.model()
        for template in self.templates:
            approved = template.status == "APPROVED"
            words = (
                "" if approved else f" — {STATUS_NAMES.get(template.status, template.status.lower())}, cannot be sent"
            )
            self.template.addItem(f"{template.name} ({template.language}){words}", template.name)
            if not approved and isinstance(model, QStandardItemModel):
                item = model.item(self.template.count() - 1)
                item.setEnabled(False)
                item.setToolTip(template.reason or "Only templates WhatsApp approved can be sent.")
        if chosen is not None and (index := self.template.findData(chosen)) >= 0:
            self.template.setCurrentIndex(index)
        self._preview()
        self.messages.clear()
        for message in messages:
            self.messages.addItem(message_line(message))
        self._enable(state)

    def _preview(self, *_: object) -> None:
        state, index = self.state, self.template.currentIndex()
        body = self.templates[index].body if state is not None and 0 <= index < len(self.templates) else ""
        self.preview.setText(body)

    def _enable(self, state: Conversation | None) -> None:
        has_phone = state is not None and state.phone is not None
        self.method.setEnabled(has_phone)
        self.opt_in_button.setEnabled(has_phone)
        sendable = state is not None and state.can_send
        self.template.setEnabled(sendable and bool(self.templates))
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
        if self.follow_up is not None:
            done = FollowUpMessageIn.model_construct(**body.model_dump(), version=self.follow_up.version, outcome="")
            operations.run(
                self,
                whatsapp_api.send_for_follow_up(self.api, self.follow_up.id, done),
                success=self._follow_up_sent,
                changed=whatsapp_api.FOLLOW_UP_CHANGED,
                fields=fields,
                busy=button,
            )
            return
        operations.run(
            self,
            whatsapp_api.send(self.api, self.kind, self.record_id, body),
            success=self._sent,
            changed=whatsapp_api.CHANGED,
            fields=fields,
            busy=button,
        )

    def _follow_up_sent(self, sent: FollowUpSent) -> None:
        if shiboken6.isValid(self):
            self.follow_up_done.emit(sent)
            self.accept()

    def _sent(self, _message: Any) -> None:
        if shiboken6.isValid(self):
            self.text.clear()
            self.reload()


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The composer of a demo lead with a phone: first as the server has it (opt-in recorded, no
    template synced, outside the window), then with an approved template and a conversation whose
    window is open (as the Cloud API would have made it)."""
    from datetime import UTC, datetime, timedelta

    from crm_desktop.api import leads as leads_api
    from crm_desktop.views.leads.detail import open_lead
    from crm_server.contract.leads import LeadQuery

    found: dict[str, int] = {}

    async def pick() -> None:
        for attempt in range(10):  # the run's earlier "offline" picture may have dropped a connection
            try:
                page = await leads_api.list_leads(ctx.api, LeadQuery(limit=50, sort="-updated_at"))
                lead = next(lead for lead in page.items if lead.phone)
                method = OptInIn(method="Ticked the WhatsApp box on the web form")
                await whatsapp_api.opt_in(ctx.api, "leads", lead.id, method)
                found["lead"] = lead.id
                return
            except Exception:
                if attempt == 9:
                    raise
                await asyncio.sleep(0.5)

    ctx.run(pick())
    yield "whatsapp-picking", ctx.main
    for _ in range(10):  # pick() may still be retrying
        if "lead" in found:
            break
        ctx.run(asyncio.sleep(0.5))
        yield "whatsapp-picking", ctx.main
    window = open_lead(ctx.main, ctx.session, found["lead"])
    yield "whatsapp-lead-window", window  # its action bar with WhatsApp…
    composer = window.open_whatsapp()
    assert isinstance(composer, WhatsAppDialog)
    yield "whatsapp-composer", composer
    state = composer.state
    assert state is not None
    now = datetime.now(UTC)
    welcome = TemplateOut(
        id=1,
        name="welcome",
        language="en_US",
        category="MARKETING",
        status="APPROVED",
        body="Hello {{1}}, thanks for your interest in our offer! Reply here with any question.",
    )
    open_state = state.model_copy(
        update={
            "window_open": True,
            "window_ends_at": now + timedelta(hours=21),
            "free_text": True,
            "reason": "The customer wrote in the last 24 hours: free text or a template may be sent.",
            "templates": [welcome],
        }
    )

    def message(i: int, direction: str, body: str, status: str, **extra: Any) -> MessageOut:
        return MessageOut(
            id=i, lead_id=found["lead"], client_id=None, phone=state.phone or "", direction=direction,  # type: ignore[arg-type]
            body=body, status=status, created_at=now - timedelta(hours=5 - i), **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    ERROR_131047 = "More than 24 hours have passed since the customer last wrote. (code 131047)"
    messages = [
        message(4, "out", "Yes, until Friday. Shall I send the price list?", "failed",
                error=ERROR_131047),
        message(3, "in", "Is the offer still on?", "received"),
        message(2, "out", welcome.body, "read", template_name="welcome"),
        message(1, "out", welcome.body, "delivered", template_name="welcome"),
    ]  # fmt: skip
    offer = welcome.model_copy(update={"id": 2, "name": "spring_offer", "status": "PENDING", "body": "Spring offer"})
    composer.show_state(open_state, messages, [welcome, offer])
    yield "whatsapp-composer-conversation", composer
    composer.close()
    window.close()

    # A WhatsApp follow-up's window offers "Send WhatsApp…" (sending completes it).
    from crm_desktop.views.activities.schedule import CompleteDialog
    from crm_server.contract.activities import FollowUpKind, FollowUpOut, FollowUpStatus

    follow_up = FollowUpOut(
        id=0, lead_id=found["lead"], client_id=None, kind=FollowUpKind.whatsapp, due_at=now, notes="Send the offer",
        owner_id=None, team_id=None, status=FollowUpStatus.open, outcome=None, completed_at=None, created_at=now,
        version=1, subject="Kerry Fisher (Acme SRL)",
    )  # fmt: skip
    complete = CompleteDialog(ctx.api, follow_up, ctx.main)
    complete.open()
    yield "whatsapp-follow-up-complete", complete
    composer = complete.open_whatsapp()
    yield "whatsapp-follow-up-composer", composer
    composer.close()
    complete.close()

    # The WhatsApp integration with the number's quality rating and messaging limit.
    from crm_desktop.views.admin.integrations import IntegrationsPage
    from crm_desktop.views.admin.panel import AdminPanel
    from crm_server.contract.whatsapp import NumberOut

    ctx.main.open_module("admin")
    # The admin panel (the Automation module has a panel of its own, with that page alone).
    panel = next((p for p in ctx.main.findChildren(AdminPanel) if "integrations" in p.pages), None)
    if panel is not None:
        page = panel.show_page("integrations")
        assert isinstance(page, IntegrationsPage)
        yield "whatsapp-integration-picking", ctx.main
        page.select_provider("whatsapp")
        yield "whatsapp-integration", ctx.main  # the demo has no Cloud API: the refusal in words
        sample = NumberOut(
            phone_number_id="106540352242922", display_phone_number="15550783881", verified_name="Acme Windows",
            quality_rating="GREEN", messaging_limit_tier="TIER_1K", daily_limit=1000,
            words="Quality rating: high. Messaging limit: up to 1,000 customers a day (new conversations the "
            "business starts).",
        )  # fmt: skip
        page.whatsapp_number.show_number(sample)
        yield "whatsapp-integration-quality", ctx.main

    # A WhatsApp campaign: its audience counted, then held outside business hours with some results.
    from crm_desktop.views.whatsapp.campaign import WhatsAppCampaignDialog, audience_line, results_lines
    from crm_server.contract.whatsapp import CampaignAudienceOut, CampaignResults

    campaign = WhatsAppCampaignDialog(ctx.api, [welcome], ctx.main)
    campaign.open()
    campaign.name.setText("Spring on WhatsApp")
    campaign.search.setText("Acme")
    campaign.audience.setText(
        audience_line(CampaignAudienceOut(matching=140, eligible=96, excluded={"no_phone": 12, "no_opt_in": 30,
                                                                               "opted_out": 2, "duplicate": 0}))
    )  # fmt: skip
    yield "whatsapp-campaign", campaign
    campaign.results_label.setText(
        results_lines(
            CampaignResults(
                campaign_id=1, status="paused", held_for_hours=True, business_hours_only=True,
                template="welcome (en_US)", daily_limit=1000, total=96, queued=40, sent=56, delivered=50, read=31,
                failed=3, failed_by_reason={ERROR_131047: 1, "The message could not be delivered: the number may "
                                            "not be on WhatsApp or has an old app. (code 131026)": 2}, replies=7,
            )
        )
    )  # fmt: skip
    yield "whatsapp-campaign-results", campaign
    campaign.close()
