"""A WhatsApp campaign (issue #23) on the campaign engine: who (leads or clients, a search), an
approved template, business hours only or not, and the pace; "Count" says how many opted-in numbers
get it and why the others do not; "Create and start" sends it. Then the results in words: held
until business hours, sent, delivered, read, failed by reason, replies (Refresh). Pause, resume and
cancel are the Campaigns module's."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import whatsapp as whatsapp_api
from crm_desktop.api.client import ApiClient
from crm_server.contract.campaigns import CampaignOut
from crm_server.contract.whatsapp import (
    CampaignAudienceIn,
    CampaignAudienceOut,
    CampaignIn,
    CampaignResults,
    TemplateOut,
)

EXCLUDED_WORDS = {
    "no_phone": "no phone number",
    "no_opt_in": "no WhatsApp opt-in",
    "opted_out": "opted out",
    "duplicate": "the same number twice",
}


def audience_line(counted: CampaignAudienceOut) -> str:
    """ "2 of 4 get it. Left out: 1 no phone number, 1 no WhatsApp opt-in." """
    left = [f"{n} {EXCLUDED_WORDS.get(k, k)}" for k, n in counted.excluded.items() if n]
    line = f"{counted.eligible} of {counted.matching} get it."
    return line + (f" Left out: {', '.join(left)}." if left else "")


def results_lines(r: CampaignResults) -> str:
    lines = []
    if r.held_for_hours:
        lines.append("Held until business hours: it goes on by itself when they begin.")
    lines.append(f"{r.sent} sent of {r.total} · {r.queued} waiting · {r.delivered} delivered · {r.read} read")
    limit = "no daily limit" if r.daily_limit is None else f"at most {r.daily_limit:,} a day (the number's limit)"
    lines.append(f"Replies: {r.replies} · {limit}")
    if r.failed:
        lines.append(f"Failed: {r.failed}")
        lines.extend(f"   {n} × {reason}" for reason, n in sorted(r.failed_by_reason.items(), key=lambda i: -i[1]))
    return "\n".join(lines)


class WhatsAppCampaignDialog(QDialog):
    def __init__(self, api: ApiClient, templates: list[TemplateOut], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.campaign: CampaignOut | None = None
        self.results: CampaignResults | None = None
        self.setObjectName("whatsappCampaign")
        self.setWindowTitle("WhatsApp campaign")
        self.resize(560, 520)
        column = QVBoxLayout(self)
        heading = QLabel("WhatsApp campaign", self)
        heading.setProperty("role", "heading")
        column.addWidget(heading)
        intro = QLabel("An approved template to every opted-in number of a list, within the number's limit.", self)
        intro.setProperty("role", "muted")
        intro.setWordWrap(True)
        column.addWidget(intro)
        form = QFormLayout()
        self.name = QLineEdit(self)
        self.name.setObjectName("whatsappCampaignName")
        self.name.setAccessibleName("Name")
        self.entity = QComboBox(self)
        self.entity.setAccessibleName("To")
        self.entity.addItem("Leads", "lead")
        self.entity.addItem("Clients", "client")
        self.search = QLineEdit(self)
        self.search.setObjectName("whatsappCampaignSearch")
        self.search.setAccessibleName("Search")
        self.search.setPlaceholderText("Name, company, e-mail or phone (empty: all)")
        self.template = QComboBox(self)
        self.template.setObjectName("whatsappCampaignTemplate")
        self.template.setAccessibleName("Template")
        for t in templates:
            if t.status == "APPROVED":
                self.template.addItem(f"{t.name} ({t.language})", t.id)
        self.business_hours = QCheckBox("Send in business hours only", self)
        self.business_hours.setChecked(True)
        self.business_hours.setToolTip("The company hours in Settings (support business hours and days)")
        self.per_minute = QSpinBox(self)
        self.per_minute.setAccessibleName("Messages a minute")
        self.per_minute.setRange(1, 1000)
        self.per_minute.setValue(20)
        self.per_minute.setSuffix(" messages a minute")
        form.addRow("&Name", self.name)
        form.addRow("&To", self.entity)
        form.addRow("&Search", self.search)
        form.addRow("T&emplate", self.template)
        form.addRow("", self.business_hours)
        form.addRow("&Pace", self.per_minute)
        column.addLayout(form)
        self.audience = QLabel("", self)
        self.audience.setObjectName("whatsappCampaignAudience")
        self.audience.setWordWrap(True)
        column.addWidget(self.audience)
        self.results_label = QLabel("", self)
        self.results_label.setObjectName("whatsappCampaignResults")
        self.results_label.setWordWrap(True)
        column.addWidget(self.results_label, 1)
        buttons = QHBoxLayout()
        self.count_button = QPushButton("Count", self)
        self.count_button.clicked.connect(self.count)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.refresh_button.setEnabled(False)
        self.start_button = QPushButton("Create and start", self)
        self.start_button.setObjectName("whatsappCampaignStart")
        self.start_button.setProperty("role", "primary")
        self.start_button.clicked.connect(self.create_and_start)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        buttons.addWidget(self.count_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        buttons.addWidget(self.start_button)
        column.addLayout(buttons)
        if not self.template.count():
            self.audience.setText("No approved template yet: submit one and wait for WhatsApp's approval.")
            self.start_button.setEnabled(False)

    def _audience(self) -> CampaignAudienceIn:
        query = self.search.text().strip()
        return CampaignAudienceIn.model_construct(
            entity=self.entity.currentData(), filters={"q": query} if query else {}
        )

    def count(self) -> None:
        def shown(counted: CampaignAudienceOut) -> None:
            if shiboken6.isValid(self):
                self.audience.setText(audience_line(counted))

        operations.run(self, whatsapp_api.campaign_audience(self.api, self._audience()), success=shown,
                       fields={"filters": self.search, "entity": self.entity}, busy=self.count_button)  # fmt: skip

    def create_and_start(self) -> None:
        audience = self._audience()
        body = CampaignIn.model_construct(
            entity=audience.entity, filters=audience.filters, name=self.name.text().strip(),
            template_id=self.template.currentData(), business_hours_only=self.business_hours.isChecked(),
            per_minute=self.per_minute.value(), scheduled_at=None,
        )  # fmt: skip

        async def both() -> CampaignOut:
            made = self.campaign or await whatsapp_api.create_campaign(self.api, body)
            self.campaign = made
            return await whatsapp_api.start_campaign(self.api, made.id)

        fields: dict[str, QWidget] = {
            "name": self.name, "template_id": self.template, "filters": self.search, "per_minute": self.per_minute,
        }  # fmt: skip
        operations.run(self, both(), success=self._started, changed=whatsapp_api.CAMPAIGNS_CHANGED, fields=fields,
                       busy=self.start_button)  # fmt: skip

    def _started(self, campaign: CampaignOut) -> None:
        if shiboken6.isValid(self):
            self.campaign = campaign
            for widget in (self.name, self.entity, self.search, self.template, self.business_hours, self.per_minute):
                widget.setEnabled(False)
            self.start_button.setEnabled(False)
            self.refresh_button.setEnabled(True)
            self.refresh()

    def refresh(self) -> None:
        if self.campaign is None:
            return

        def shown(results: CampaignResults) -> None:
            if shiboken6.isValid(self):
                self.results = results
                self.results_label.setText(results_lines(results))

        operations.run(self, whatsapp_api.campaign_results(self.api, self.campaign.id), success=shown,
                       busy=self.refresh_button)  # fmt: skip
