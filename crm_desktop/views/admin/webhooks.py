"""Outgoing webhooks: subscriptions (an address and the events it wants), each delivery with its
attempts (status code, time, the start of the answer), resend. A new subscription's signing secret
is shown once, on this page, right after it is made; the receiver checks each request with it
(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import automation
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, ScreenshotState, can, field, title_label
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.automation import EVENT_TYPES, AttemptOut, DeliveryOut, SubscriptionOut

STATUS = {"pending": "Waiting", "delivered": "Delivered", "failed": "Failed", "dead": "Gave up"}


class SubscriptionDialog(QDialog):
    def __init__(self, page: WebhooksPage) -> None:
        super().__init__(page)
        self.page = page
        self.setWindowTitle("New webhook")
        self.setObjectName("webhookDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.name = QLineEdit()
        self.name.setAccessibleName("Name")
        self.url = QLineEdit()
        self.url.setAccessibleName("Address")
        self.url.setPlaceholderText("https://example.com/hooks/crm")
        self.url.setMinimumWidth(360)
        self.types = QListWidget()
        self.types.setAccessibleName("Events")
        for key, words in EVENT_TYPES.items():
            item = QListWidgetItem(words)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.types.addItem(item)
        form = QFormLayout()
        form.addRow("&Name", field(self.name))
        form.addRow(
            "&Address", field(self.url, "http:// or https://; private and loopback addresses need an admin's leave.")
        )
        form.addRow("&Events", field(self.types))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def check(self, key: str) -> None:
        for i in range(self.types.count()):
            item = self.types.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == key:
                item.setCheckState(Qt.CheckState.Checked)

    def body(self) -> dict[str, Any]:
        chosen = [
            self.types.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.types.count())
            if self.types.item(i).checkState() == Qt.CheckState.Checked
        ]
        return {"name": self.name.text().strip(), "url": self.url.text().strip(), "event_types": chosen}

    def submit(self) -> None:
        def made(sub: SubscriptionOut) -> None:
            self.accept()
            self.page.created(sub)

        operations.run(
            self,
            automation.create_subscription(self.page.api, self.body()),
            success=made,
            changed=automation.WEBHOOKS,
            fields={"name": self.name, "url": self.url, "event_types": self.types},
            busy=self.buttons,
        )


def _attempt(a: AttemptOut) -> str:
    answer = f"HTTP {a.status_code}" if a.status_code is not None else (a.error or "no answer")
    excerpt = f" — {a.response_excerpt[:120]}" if a.response_excerpt else ""
    return f"{format.moment(a.at)}: {answer}, {a.duration_ms} ms{excerpt}"


class WebhooksPage(AdminPage):
    title = "Webhooks"
    areas = automation.WEBHOOKS
    live_entities = frozenset({"webhook_subscription"})

    def __init__(self, api: ApiClient, me: Any, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.subs: list[SubscriptionOut] = []
        self.list = QListWidget()
        self.list.setObjectName("webhookSubscriptions")
        self.list.setAccessibleName("Webhooks")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.currentRowChanged.connect(lambda *_: self._selected())
        self.secret_note = QLabel("The signing secret, shown this once; give it to the receiver now:")
        self.secret_note.setWordWrap(True)
        self.secret = QLineEdit()
        self.secret.setObjectName("webhookSecret")
        self.secret.setAccessibleName("Signing secret")
        self.secret.setReadOnly(True)
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self.add)
        self.resend_button = QPushButton("Resend")
        self.resend_button.setToolTip("Send the selected delivery again")
        self.resend_button.clicked.connect(self.resend)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.resend_button, self.refresh_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Show"))
        self.model: PagedTableModel[DeliveryOut] = PagedTableModel(
            [
                Column("When", lambda d: format.moment(d.created_at)),
                Column("Event", lambda d: EVENT_TYPES.get(d.event_type, d.event_type)),
                Column("Status", lambda d: STATUS.get(d.status, d.status)),
                Column("Tries", lambda d: str(d.attempts), align_right=True),
                Column("Last answer", lambda d: "" if d.last_status_code is None else str(d.last_status_code)),
            ],
            self._fetch,
            page_size=50,
        )
        self.status = QComboBox()
        self.status.setObjectName("webhookStatusFilter")
        self.status.setAccessibleName("Show deliveries")
        self.status.addItem("All deliveries", None)
        for key, words in STATUS.items():
            self.status.addItem("Gave up (dead letters)" if key == "dead" else words, key)
        self.status.currentIndexChanged.connect(lambda *_: self.model.reload() if self.loaded else None)
        self.table = PagedTable(self.model, "Nothing sent to this webhook yet.", empty_title="No deliveries")
        self.table.set_noun("delivery", "deliveries")
        buttons.addWidget(self.status)
        self.table.view.selectionModel().selectionChanged.connect(lambda *_: self._delivery_selected())
        self.log = QListWidget()
        self.log.setObjectName("webhookAttempts")
        self.log.setAccessibleName("Attempts of the selected delivery")
        self.root.addWidget(
            title_label(
                "Webhooks",
                "Other systems told of changes as they happen: signed, retried for about a day, "
                "and listed here with every answer.",
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(self.secret_note)
        self.root.addWidget(self.secret)
        self.root.addWidget(self.list, 1)
        self.root.addLayout(buttons)
        self.root.addWidget(self.table, 2)
        self.root.addWidget(QLabel("Attempts of the selected delivery"))
        self.root.addWidget(self.log, 1)
        shown_if(self.secret_note, False)
        shown_if(self.secret, False)
        self._selected()

    async def _fetch(self, offset: int, limit: int, after: str | None) -> Any:
        sub = self.current()
        return await automation.list_deliveries(
            self.api, offset, limit, subscription_id=sub.id if sub else None, status=self.status.currentData()
        )

    def reload(self) -> None:
        self.load(automation.list_subscriptions(self.api), self.show_subs)

    def show_subs(self, subs: list[SubscriptionOut], select: int | None = None) -> None:
        now = self.current()
        keep = select if select is not None else (now.id if now else None)
        self.subs = subs
        self.list.clear()
        for sub in subs:
            words = f"{sub.name} — {sub.url}" + (
                "" if sub.active else f"  (off: {sub.disabled_reason or 'turned off'})"
            )
            self.list.addItem(words)
            if sub.id == keep:
                self.list.setCurrentRow(self.list.count() - 1)
        self._selected()

    def current(self) -> SubscriptionOut | None:
        row = self.list.currentRow()
        return self.subs[row] if 0 <= row < len(self.subs) else None

    def _selected(self) -> None:
        self.add_button.setEnabled(can(self.me, "edit"))
        self.resend_button.setEnabled(False)
        self.log.clear()
        if self.loaded:
            self.model.reload()

    def _delivery_selected(self) -> None:
        delivery = self.table.current_row()
        self.resend_button.setEnabled(delivery is not None and can(self.me, "edit"))
        self.log.clear()
        if delivery is not None:
            self.load(automation.get_delivery(self.api, delivery.id), self._show_log)

    def _show_log(self, delivery: DeliveryOut) -> None:
        self.log.clear()
        for attempt in delivery.log:
            self.log.addItem(_attempt(attempt))

    def created(self, sub: SubscriptionOut) -> None:
        self.secret.setText(sub.secret or "")
        shown_if(self.secret_note, True)
        shown_if(self.secret, True)
        sub.secret = None
        self.show_subs([*[s for s in self.subs if s.id != sub.id], sub], select=sub.id)
        self.say(f"The webhook “{sub.name}” is added. Copy its secret now: it is not shown again.")

    def add(self) -> None:
        if can(self.me, "edit"):
            SubscriptionDialog(self).open()

    def resend(self) -> None:
        delivery = self.table.current_row()
        if delivery is None:
            return

        def sent(result: DeliveryOut) -> None:
            self.model.replace_row(result)
            self.say("Sent again; its answer shows in the attempts below.")
            self._show_log(result)

        operations.run(self, automation.resend(self.api, delivery.id), success=sent, busy=self.resend_button)

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-webhooks", lambda: None)]
