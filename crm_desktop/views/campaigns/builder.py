"""The campaign builder: an audience from a saved view of the lead list (or a search), counted with
who is left out and why; subject and body with merge tags; the throttle (a provider's preset or
custom limits); send now or at a time. Saves a draft, or saves and starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import shiboken6
from PySide6.QtCore import QDateTime, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import campaigns as campaigns_api
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.saved_views import SavedViewsMixin
from crm_server.contract.campaigns import (
    CAMPAIGN_TAGS,
    PRESET_LABELS,
    PRESETS,
    AudienceIn,
    AudienceOut,
    CampaignEntity,
    CampaignIn,
    CampaignOut,
    Preset,
)
from crm_server.contract.clients import ClientQuery
from crm_server.contract.leads import LeadFilters

ENTITY_WORDS = {CampaignEntity.lead: "Leads", CampaignEntity.client: "Clients", CampaignEntity.contact: "Contacts"}
EXCLUDED_WORDS = {
    "never_consented": "never consented",
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
    "complained": "complained",
    "suppressed": "on the suppression list",
    "no_address": "without an address",
    "duplicate": "sharing an address",
}


class LeadViews(SavedViewsMixin):
    """The lead list's saved views (named filter sets, per user), read where the filter bar keeps them."""

    saved_views_area = "leads"

    def __init__(self, session: Session) -> None:
        self.session = session


def audience_text(counted: AudienceOut) -> str:
    left_out = [
        f"{format.number(counted.excluded[k])} {words}"
        for k, words in EXCLUDED_WORDS.items()
        if counted.excluded.get(k)
    ]
    text = f"{format.number(counted.eligible)} will receive it (of {format.number(counted.matching)} matching)."
    return text + (" Left out: " + ", ".join(left_out) + "." if left_out else "")


class CampaignBuilder(QDialog):
    saved = Signal(object)  # the CampaignOut

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("campaignBuilder")
        self.setWindowTitle("New campaign")
        self.session = session
        self.api = session.api
        self.counted: AudienceOut | None = None
        self.draft_id: int | None = None
        self.views = LeadViews(session)

        self.name = QLineEdit(self)
        self.name.setObjectName("campaignName")
        self.entity = QComboBox(self)
        for entity, words in ENTITY_WORDS.items():
            self.entity.addItem(words, entity)
        self.view = QComboBox(self)
        self.view.setObjectName("campaignSavedView")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Name, company, e-mail…")
        self.tag = QLineEdit(self)
        self.tag.setPlaceholderText("A tag of the leads")
        self.audience = QLabel("Counting…", self)
        self.audience.setObjectName("campaignAudience")
        self.audience.setWordWrap(True)
        self.subject = QLineEdit(self)
        self.subject.setObjectName("campaignSubject")
        self.body = QPlainTextEdit(self)
        self.body.setObjectName("campaignBody")
        self.body.setMinimumHeight(140)
        self.tags_hint = QLabel(self)
        self.tags_hint.setProperty("role", "muted")
        self.tags_hint.setWordWrap(True)
        self.preset = QComboBox(self)
        self.preset.setObjectName("campaignPreset")
        for preset, words in PRESET_LABELS.items():
            self.preset.addItem(words, preset)
        self.limits: dict[str, QSpinBox] = {}
        limits_row = QHBoxLayout()
        for key, words, top in (("per_minute", "a minute", 1_000_000), ("per_hour", "an hour", 10_000_000)):
            self.limits[key] = self._limit_box(top, words)
            limits_row.addWidget(self.limits[key])
        self.limits["per_day"] = self._limit_box(100_000_000, "a day")
        limits_row.addWidget(self.limits["per_day"])
        self.later = QCheckBox("Send at", self)
        self.when = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600), self)
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("d MMM yyyy HH:mm")
        when_row = QHBoxLayout()
        when_row.addWidget(self.later)
        when_row.addWidget(self.when, 1)
        self.error = QLabel(self)
        self.error.setObjectName("campaignError")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.save_button = QPushButton("Save draft", self)
        self.start_button = QPushButton("Save and start", self)
        self.start_button.setObjectName("campaignStart")
        self.start_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.start_button)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Send to", self.entity)
        form.addRow("Saved view", self.view)
        form.addRow("Search", self.search)
        form.addRow("Tag", self.tag)
        form.addRow("", self.audience)
        form.addRow("Subject", self.subject)
        form.addRow("Message", self.body)
        form.addRow("", self.tags_hint)
        form.addRow("Sending limit", self.preset)
        form.addRow("Custom limits", limits_row)
        form.addRow("When", when_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.resize(640, 640)

        self._recount = QTimer(self)
        self._recount.setSingleShot(True)
        self._recount.setInterval(300)
        self._recount.timeout.connect(self.count)
        self.entity.currentIndexChanged.connect(self._entity_changed)
        self.view.currentIndexChanged.connect(self._recount.start)
        self.search.textChanged.connect(self._recount.start)
        self.tag.textChanged.connect(self._recount.start)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.later.toggled.connect(self.when.setEnabled)
        self.save_button.clicked.connect(lambda: self.submit(start=False))
        self.start_button.clicked.connect(lambda: self.submit(start=True))
        self.when.setEnabled(False)
        self._entity_changed()
        self._preset_changed()

    def _limit_box(self, top: int, words: str) -> QSpinBox:
        box = QSpinBox(self)
        box.setRange(0, top)
        box.setSpecialValueText("no limit")
        box.setSuffix(f" {words}")
        box.setGroupSeparatorShown(True)
        return box

    # --- audience ------------------------------------------------------------------------------

    def entity_value(self) -> CampaignEntity:
        return CampaignEntity(self.entity.currentData())

    def _entity_changed(self) -> None:
        leads = self.entity_value() is CampaignEntity.lead
        self.view.blockSignals(True)
        self.view.clear()
        self.view.addItem("Everyone in the list" if not leads else "All open leads", None)
        if leads:
            for name in sorted(self.views.saved_views(), key=str.lower):
                self.view.addItem(name, name)
        self.view.blockSignals(False)
        self.view.setEnabled(leads)
        self.tag.setEnabled(leads)
        tags = ", ".join("{{" + t + "}}" for t in CAMPAIGN_TAGS[self.entity_value().value])
        self.tags_hint.setText(f"Merge tags: {tags}. Links in the message are tracked; an unsubscribe link is added.")
        self._recount.start()

    def filters(self) -> dict[str, Any]:
        entity = self.entity_value()
        known = set(LeadFilters.model_fields if entity is CampaignEntity.lead else ClientQuery.model_fields)
        values: dict[str, Any] = {}
        name = self.view.currentData()
        if entity is CampaignEntity.lead and name:
            values.update(self.views.saved_views().get(str(name), {}))
        if self.search.text().strip():
            values["q"] = self.search.text().strip()
        if entity is CampaignEntity.lead and self.tag.text().strip():
            values["tag"] = self.tag.text().strip()
        return {k: v for k, v in values.items() if k in known and k not in ("sort", "offset", "limit", "after")}

    def count(self) -> None:
        data = AudienceIn(entity=self.entity_value(), filters=self.filters())

        async def ask() -> None:
            try:
                counted = await campaigns_api.audience(self.api, data)
            except ApiError as exc:
                if shiboken6.isValid(self):
                    self.audience.setText(exc.message)
                return
            if shiboken6.isValid(self):
                self.counted = counted
                self.audience.setText(audience_text(counted))

        tasks.spawn(ask())

    # --- throttle and saving ----------------------------------------------------------------------

    def _preset_changed(self) -> None:
        preset = Preset(self.preset.currentData())
        custom = preset is Preset.custom
        for key, box in self.limits.items():
            box.setEnabled(custom)
            if not custom:
                minute, hour, day = PRESETS[preset]
                box.setValue({"per_minute": minute, "per_hour": hour, "per_day": day}[key] or 0)

    def data(self) -> CampaignIn:
        when = datetime.fromtimestamp(self.when.dateTime().toSecsSinceEpoch(), UTC) if self.later.isChecked() else None
        return CampaignIn(
            entity=self.entity_value(),
            filters=self.filters(),
            name=self.name.text().strip() or "Untitled campaign",
            subject=self.subject.text(),
            body=self.body.toPlainText(),
            preset=Preset(self.preset.currentData()),
            per_minute=self.limits["per_minute"].value() or None,
            per_hour=self.limits["per_hour"].value() or None,
            per_day=self.limits["per_day"].value() or None,
            scheduled_at=when,
        )

    def submit(self, start: bool) -> asyncio.Task[CampaignOut | None] | None:
        self.error.setText("")
        missing = [
            w
            for w, box in (("a subject", self.subject.text()), ("a message", self.body.toPlainText()))
            if not box.strip()
        ]
        if missing:
            self.error.setText(f"Write {' and '.join(missing)}.")
            return None

        async def save_and_start() -> CampaignOut:
            made = await campaigns_api.save(self.api, self.data(), self.draft_id)
            self.draft_id = made.id  # a start refused (nobody eligible) keeps this draft, not a second
            return await campaigns_api.act(self.api, made.id, "start") if start else made

        def done(campaign: CampaignOut) -> None:
            self.saved.emit(campaign)
            self.accept()

        return operations.run(
            self,
            save_and_start(),
            success=done,
            changed=campaigns_api.CHANGED,
            fields={"name": self.name, "subject": self.subject, "body": self.body, "filters": self.search},
            busy=self.start_button if start else self.save_button,
        )
