"""The Campaigns page: the person's campaigns (a server-paged list) and the chosen one in full -
live progress while it sends, Start / Pause / Resume / Cancel, its figures (sent, delivered, opened
by people and by machines, clicked, bounced, unsubscribed, complaints), a chart over time, its links
and its recipients. Live events of the campaigns module refresh what is shown."""

from __future__ import annotations

import asyncio

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import campaigns as campaigns_api
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.campaigns.builder import CampaignBuilder
from crm_desktop.views.campaigns.chart import ResultsChart
from crm_desktop.views.campaigns.consent import ConsentDialog
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.campaigns import CampaignOut, Counts, RecipientOut, ResultsOut
from crm_server.contract.common import Page
from crm_server.contract.events import LiveEvent

STATUS_WORDS = {
    "draft": "Draft",
    "scheduled": "Scheduled",
    "sending": "Sending",
    "paused": "Paused",
    "cancelled": "Cancelled",
    "done": "Sent",
}
ACTIONS = {  # which buttons a status offers
    "draft": ("start", "cancel"),
    "scheduled": ("pause", "cancel"),
    "sending": ("pause", "cancel"),
    "paused": ("resume", "cancel"),
}
FIGURES = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("opened_people", "Opened by people"),
    ("opened_machines", "Opened by machines"),
    ("clicked", "Clicked"),
    ("bounced", "Bounced"),
    ("unsubscribed", "Unsubscribed"),
    ("complained", "Complaints"),
    ("unconfirmed", "Unconfirmed"),
    ("failed", "Failed"),
)


def handed(c: Counts) -> int:
    """Messages the campaign is through with, whatever became of them."""
    return c.sent + c.failed + c.unconfirmed + c.bounced + c.soft_bounced + c.complained + c.cancelled


def figure(c: Counts, key: str) -> int:
    if key == "delivered":  # handed over and not bounced back
        return c.sent + c.complained
    return int(getattr(c, key))


def progress_text(campaign: CampaignOut) -> str:
    c = campaign.counts
    if campaign.status == "draft":
        return "Draft: not started. Who receives it is counted and fixed when it starts."
    status = STATUS_WORDS.get(campaign.status, campaign.status)
    text = f"{status}: {format.number(c.sent)} of {format.number(c.total)} sent"
    if campaign.status == "scheduled" and campaign.scheduled_at:
        text += f", starts {format.moment(campaign.scheduled_at)}"
    elif campaign.next_batch_at and campaign.status == "sending":
        text += f", next at {format.clock(campaign.next_batch_at)} (sending limit)"
    return text + "."


class CampaignsPage(QWidget):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.setObjectName("campaignsPage")
        self.session = session
        self.api = session.api
        self.current: CampaignOut | None = None
        self.builder: CampaignBuilder | None = None

        title = QLabel("Campaigns", self)
        title.setProperty("role", "title")
        subtitle = QLabel("E-mail to a saved view of your leads or clients, sent within your mailbox's limits", self)
        subtitle.setProperty("role", "muted")
        self.new_button = QPushButton("New campaign", self)
        self.new_button.setObjectName("newCampaign")
        self.new_button.setProperty("role", "primary")
        self.new_button.clicked.connect(self.new_campaign)
        self.consent_button = QPushButton("Record consent…", self)
        self.consent_button.setObjectName("recordConsent")
        self.consent_button.clicked.connect(self.record_consent)
        self.consent: ConsentDialog | None = None
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(title)
        titles.addWidget(subtitle)
        head.addLayout(titles, 1)
        head.addWidget(self.consent_button, 0, Qt.AlignmentFlag.AlignBottom)
        head.addWidget(self.new_button, 0, Qt.AlignmentFlag.AlignBottom)

        self.model: PagedTableModel[CampaignOut] = PagedTableModel(
            [
                Column("Campaign", lambda c: c.name),
                Column("Status", lambda c: STATUS_WORDS.get(c.status, c.status)),
                Column("Sent", lambda c: format.number(c.counts.sent), align_right=True),
                Column("Opened", lambda c: format.number(c.counts.opened_people), align_right=True),
                Column("Clicked", lambda c: format.number(c.counts.clicked), align_right=True),
                Column("Created", lambda c: format.short_day(c.created_at)),
            ],
            lambda offset, limit, _after: campaigns_api.campaigns(self.api, offset, limit),
            page_size=50,
            parent=self,
        )
        self.table = PagedTable(
            self.model,
            "Build one with New campaign: pick a saved view, write the message, choose the sending limit.",
            self,
            icon="leads",
            empty_title="No campaigns yet",
        )
        self.table.set_noun("campaign", "campaigns")
        for column, width in enumerate((150, 80, 50, 62, 56, 80)):
            self.table.view.horizontalHeader().resizeSection(column, width)
        self.table.view.selectionModel().selectionChanged.connect(lambda *_: self._chosen())

        self.detail = QWidget(self)
        self.detail.setObjectName("campaignDetail")
        self.name = QLabel(self.detail)
        self.name.setProperty("role", "heading")
        self.progress_label = QLabel(self.detail)
        self.progress_label.setObjectName("campaignProgressText")
        self.progress_label.setWordWrap(True)
        self.bar = QProgressBar(self.detail)
        self.bar.setObjectName("campaignProgress")
        self.buttons: dict[str, QPushButton] = {}
        actions_row = QHBoxLayout()
        for action, words in (
            ("start", "Start"),
            ("pause", "Pause"),
            ("resume", "Resume"),
            ("cancel", "Cancel campaign"),
        ):
            button = QPushButton(words, self.detail)
            button.setObjectName(f"campaign_{action}")
            button.clicked.connect(lambda _=False, a=action: self.act(a))
            self.buttons[action] = button
            actions_row.addWidget(button)
        actions_row.addStretch(1)
        self.figures: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, (key, words) in enumerate(FIGURES):
            caption = QLabel(words, self.detail)
            caption.setProperty("role", "muted")
            value = QLabel("0", self.detail)
            value.setObjectName(f"figure_{key}")
            value.setProperty("role", "figure")
            self.figures[key] = value
            grid.addWidget(caption, (i // 5) * 2, i % 5)
            grid.addWidget(value, (i // 5) * 2 + 1, i % 5)
        self.chart = ResultsChart(self.detail)
        self.links = QTableWidget(0, 3, self.detail)
        self.links.setObjectName("campaignLinks")
        self.links.setHorizontalHeaderLabels(["Link", "Clicks", "People"])
        self.links.verticalHeader().setVisible(False)
        self.links.horizontalHeader().setStretchLastSection(False)
        self.links.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.links.setMaximumHeight(120)
        keep_titles_whole(self.links)
        self.recipient_model: PagedTableModel[RecipientOut] = PagedTableModel(
            [
                Column("Address", lambda r: r.address),
                Column("Name", lambda r: r.name),
                Column("State", lambda r: format.label(r.state)),
                Column("Opened", lambda r: format.moment(r.opened_at) if r.opened_at else ""),
                Column("Clicked", lambda r: format.moment(r.clicked_at) if r.clicked_at else ""),
                Column("Note", lambda r: r.error or ""),
            ],
            self._recipients_page,
            page_size=100,
            parent=self,
        )
        self.recipients = PagedTable(
            self.recipient_model,
            "The audience is counted and fixed when the campaign starts.",
            self.detail,
            icon="leads",
            empty_title="No recipients yet",
        )
        self.recipients.setMinimumHeight(200)
        self.recipients.set_noun("recipient", "recipients")
        detail_layout = QVBoxLayout(self.detail)
        detail_layout.setContentsMargins(12, 0, 0, 0)
        for widget in (self.name, self.progress_label, self.bar):
            detail_layout.addWidget(widget)
        detail_layout.addLayout(actions_row)
        detail_layout.addLayout(grid)
        detail_layout.addWidget(self.chart, 2)
        detail_layout.addWidget(self.links)
        detail_layout.addWidget(self.recipients, 2)
        self.detail.setVisible(False)
        self.chart.setVisible(False)
        self.links.setVisible(False)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([480, 620])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 20, 32, 12)
        layout.addLayout(head)
        layout.addWidget(split, 1)

        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(250)
        self._refresh.timeout.connect(self.refresh_current)
        session.events.event.connect(self._on_event)
        self.model.reload()

    # --- list and choice -------------------------------------------------------------------------

    async def _recipients_page(self, offset: int, limit: int, _after: str | None) -> Page[RecipientOut]:
        if self.current is None:
            return Page[RecipientOut](items=[], total=0, offset=0, limit=limit)
        return await campaigns_api.recipients(self.api, self.current.id, offset, limit)

    def _chosen(self) -> None:
        row = self.table.current_row()
        if row is not None and (self.current is None or row.id != self.current.id):
            self.show_campaign(row)
            self.recipient_model.reload()
            self.refresh_current()

    def select(self, campaign_id: int) -> bool:
        return self.table.select_key(campaign_id)

    def _on_event(self, event: LiveEvent) -> None:
        if event.module == campaigns_api.MODULE and shiboken6.isValid(self):
            if self.current is not None and event.entity_id == self.current.id:
                if not self._refresh.isActive():
                    self._refresh.start()
            elif event.action == "created":
                self.model.reload()

    def refresh_current(self) -> None:
        if self.current is None:
            return
        campaign_id = self.current.id

        async def fetch() -> None:
            try:
                campaign = await campaigns_api.campaign(self.api, campaign_id)
                results = await campaigns_api.results(self.api, campaign_id)
            except ApiError:
                return
            if shiboken6.isValid(self) and self.current is not None and self.current.id == campaign_id:
                before = self.current.counts
                self.show_campaign(campaign, results)
                self.model.replace_row(campaign)
                if before != campaign.counts:
                    self.recipient_model.reload()

        tasks.spawn(fetch())

    # --- showing ----------------------------------------------------------------------------------

    def show_campaign(self, campaign: CampaignOut, results: ResultsOut | None = None) -> None:
        self.current = campaign
        self.detail.setVisible(True)
        self.name.setText(campaign.name)
        self.progress_label.setText(progress_text(campaign))
        c = campaign.counts
        self.bar.setRange(0, max(c.total, 1))
        self.bar.setValue(min(handed(c), max(c.total, 1)))
        self.bar.setVisible(campaign.status != "draft")
        offered = ACTIONS.get(campaign.status, ())
        for action, button in self.buttons.items():
            button.setVisible(action in offered)
        for key, label in self.figures.items():
            label.setText(format.number(figure(c, key)))
        if results is not None:
            self.chart.show_points(results.timeline)
            self.chart.setVisible(bool(results.timeline))
            self.links.setVisible(bool(results.links))
            self.links.setRowCount(0)
            for link in results.links:
                row = self.links.rowCount()
                self.links.insertRow(row)
                for col, text in enumerate((link.url, format.number(link.clicks), format.number(link.people))):
                    self.links.setItem(row, col, QTableWidgetItem(text))
            self.links.resizeColumnsToContents()

    # --- acting -----------------------------------------------------------------------------------

    def new_campaign(self) -> CampaignBuilder:
        self.builder = CampaignBuilder(self.session, self)
        self.builder.saved.connect(self._made)
        self.builder.open()
        return self.builder

    def record_consent(self) -> ConsentDialog:
        self.consent = ConsentDialog(self.session, self)
        self.consent.open()
        return self.consent

    def _made(self, campaign: CampaignOut) -> None:
        self.current = None
        self.model.reload()

        def pick() -> None:
            if shiboken6.isValid(self) and not self.select(campaign.id):
                QTimer.singleShot(200, pick)

        pick()

    def act(self, action: str) -> asyncio.Task[CampaignOut | None] | None:
        if self.current is None:
            return None

        def shown(campaign: CampaignOut) -> None:
            self.show_campaign(campaign)
            self.model.replace_row(campaign)
            self.refresh_current()

        return operations.run(
            self,
            campaigns_api.act(self.api, self.current.id, action),
            success=shown,
            changed=campaigns_api.CHANGED,
            busy=self.buttons[action],
        )
