"""Integrations: how outside systems feed the CRM (Facebook Lead Ads, website forms, WooCommerce,
Stripe), one provider at a time.

On the left each provider with its state in words and colour (Not configured, Connected, Needs
attention and why, Needs re-authorization), its last event and how many events wait on an error.
On the right the selected provider's webhook URL to give it, its settings, "Send test event" and
its events (integrations_events.py).

The settings are ordinary server settings, on the same form base as the Settings page
(common.SettingsForm: only changed keys sent); the provider names its keys in display order. Secrets are write-only: the
server only says whether one is set, and typing a new one replaces it. "Send test event" saves
pending changes first (the server tests with the stored settings), then pushes a signed sample
event through the real webhook door; the event shows up in the browser below.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api import integrations as integrations_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    Event,
    ScreenshotState,
    SettingsForm,
    can,
    confirm,
    field,
    in_row,
    plural,
    scrolled,
    style_list,
    title_label,
    tone,
)
from crm_desktop.views.admin.integrations_events import EventBrowser
from crm_desktop.views.whatsapp.number import NumberQuality
from crm_server.contract.admin import SettingsOut
from crm_server.contract.auth import Me
from crm_server.contract.integrations import PROVIDER_LABELS, STATE_LABELS, ProviderState

SETTINGS = admin_api.SETTINGS
STATES = integrations_api.STATES
PUBLIC_URL_KEY = "app.public_url"
STATE_TONES = {
    "not_configured": "muted",
    "connected": "success",
    "needs_attention": "danger",
    "needs_reauthorization": "warning_text",
}
LIVE_DELAY_MS = 500  # a burst of webhooks makes one refresh


def state_text(state: ProviderState) -> str:
    """ "Connected", "Needs attention: the access token has expired"."""
    label = STATE_LABELS.get(state.state, format.label(state.state))
    return f"{label}: {state.reason}" if state.reason else label


def state_color(state: ProviderState) -> str:
    return tone(STATE_TONES.get(state.state, "muted"))


def activity_text(state: ProviderState) -> str:
    """ "Last event 27 Nov 2026, 21:40 · 1 error · 2 waiting", or "No events yet"."""
    if state.last_event_at is None:
        return "No events yet"
    parts = [f"Last event {format.moment(state.last_event_at)}", plural(state.error_count, "error")]
    if state.pending_count:
        parts.append(f"{state.pending_count} waiting")
    return " · ".join(parts)


class ProviderRow(QWidget):
    """One provider in the left list: its name, its state in colour, its activity."""

    def __init__(self) -> None:
        super().__init__()
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground, True)
        self.name = QLabel("")
        self.name.setStyleSheet("font-weight: 600;")
        self.state = QLabel("")
        self.state.setObjectName("providerState")
        self.state.setWordWrap(True)
        self.activity = QLabel("")
        self.activity.setProperty("role", "caption")
        self.activity.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        for label in (self.name, self.state, self.activity):
            layout.addWidget(label)

    def show_state(self, state: ProviderState) -> None:
        self.name.setText(state.label)
        self.state.setText("● " + state_text(state))
        self.state.setStyleSheet(f"color: {state_color(state)};")
        self.activity.setText(activity_text(state))


class ProviderList(QListWidget):
    """The providers, each row as tall as its wrapped words need at the list's current width."""

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit_rows()

    def fit_rows(self) -> None:
        width = max(self.viewport().width() - 10, 120)  # the list's own padding (common.LIST_STYLE)
        inner = width - 16  # each row's padding, left and right
        for i in range(self.count()):
            item = self.item(i)
            row = self.itemWidget(item)
            layout = row.layout() if row is not None else None
            if layout is not None:
                item.setSizeHint(QSize(width, layout.totalHeightForWidth(inner) + 12))


class IntegrationsPage(AdminPage, SettingsForm):
    """Providers on the left; the selected one's webhook, settings, test button and events on the right."""

    title = "Integrations"
    areas = SETTINGS | STATES
    live_entities = frozenset({"integration", "integration_event", "settings"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.init_form(self)  # its inputs: the selected provider's settings, by key
        self.states: dict[str, ProviderState] = {}
        self.labels: dict[str, str] = {}
        self.secrets: set[str] = set()
        self.secret_states: dict[str, QLabel] = {}
        self.provider: str | None = None
        self._testing = False
        self._settings_stale = False  # settings changed elsewhere: read them at the next refresh
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_DELAY_MS)
        self._live.timeout.connect(self._refresh_live)

        # --- left: the providers
        self.providers = ProviderList()
        self.providers.setObjectName("integrationProviders")
        self.providers.setAccessibleName("Providers")
        self.providers.setMinimumWidth(230)
        self.providers.setMaximumWidth(320)
        style_list(self.providers)
        self.providers.currentItemChanged.connect(self._provider_picked)
        self.rows: dict[str, ProviderRow] = {}

        # --- right: the selected provider
        self.heading = QLabel("")
        self.heading.setProperty("role", "heading")
        self.state_label = QLabel("")
        self.state_label.setObjectName("integrationState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.whatsapp_number = NumberQuality(self)  # WhatsApp's quality rating and messaging limit

        self.webhook_url = QLineEdit()
        self.webhook_url.setObjectName("webhookUrl")
        self.webhook_url.setReadOnly(True)
        self.webhook_url.setAccessibleName("Webhook URL")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Put the webhook URL on the clipboard")
        self.copy_button.clicked.connect(self.copy_url)
        url_box = in_row(self.webhook_url, self.copy_button, grow=self.webhook_url)
        self.url_hint = QLabel("")
        self.url_hint.setWordWrap(True)
        self.url_hint.setProperty("role", "caption")

        self.settings_box = QGroupBox("Settings")
        self.form = QFormLayout(self.settings_box)
        self.form.setSpacing(10)
        self.form.setContentsMargins(14, 14, 14, 14)

        self.test_button = QPushButton("Send test event")
        self.test_button.setObjectName("sendTestEvent")
        self.test_button.setToolTip("Check the connection and push a signed sample event through the webhook")
        self.test_button.clicked.connect(self.send_test)
        self.test_progress = QProgressBar()
        self.test_progress.setRange(0, 0)  # busy, no percentage: one request
        self.test_progress.setMaximumWidth(120)
        self.test_progress.setTextVisible(False)
        self.test_progress.setVisible(False)
        self.test_result = QLabel("")
        self.test_result.setObjectName("testEventResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = self.form_buttons(self.test_button, self.test_progress, self.test_result)
        actions.setStretchFactor(self.test_result, 1)

        webhook = QFormLayout()
        webhook.addRow("Webhook URL", url_box)
        webhook.addRow("", self.url_hint)
        scroll, config = scrolled(webhook, self.settings_box, actions, spacing=10)

        self.events = EventBrowser(self)
        events_box = QWidget()
        events_layout = QVBoxLayout(events_box)
        events_layout.setContentsMargins(0, 6, 0, 0)
        events_title = QLabel("Events")
        events_title.setProperty("role", "heading")
        events_layout.addWidget(events_title)
        events_layout.addWidget(self.events, 1)
        events_box.setMinimumHeight(240)  # below its list's empty-state height: the settings get the room

        self.config = config
        self.right_split = right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(scroll)
        right_split.addWidget(events_box)
        right_split.setStretchFactor(0, 1)  # the settings and the events share the height
        right_split.setStretchFactor(1, 1)
        scroll.setMinimumHeight(180)
        right_split.setChildrenCollapsible(False)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(12, 0, 0, 0)
        right_layout.setSpacing(4)
        right_layout.addWidget(self.heading)
        right_layout.addWidget(self.state_label)
        right_layout.addWidget(self.whatsapp_number)
        right_layout.addWidget(right_split, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.providers)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        self.root.addWidget(
            title_label(
                "Integrations",
                "How outside systems feed the CRM: give each provider "
                "its webhook URL and secrets, send a test event, and "
                "replay an event that failed once its cause is fixed.",
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(split, 1)
        self.setEnabled(False)  # until the first answer
        self.update_actions()

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        async def both() -> tuple[list[ProviderState], SettingsOut]:
            states = await integrations_api.states(self.api)
            return states, await self._read_settings()

        def arrived(answer: tuple[list[ProviderState], SettingsOut]) -> None:
            states, settings = answer
            chosen = self.provider is not None  # else showing the first provider loads its events
            self._show_settings(settings)
            self._show_states(states)
            if chosen:
                self.events.reload()

        self.load(both(), arrived)

    def on_reset(self) -> None:
        if not (self.loaded and self.keep_edits()):
            super().on_reset()

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.entity in self.live_entities:
            self._settings_stale |= event.entity == "settings"
            if not self._live.isActive():
                self._live.start()

    def on_changed(self, areas: frozenset[str]) -> None:
        if self.loaded and areas & self.areas:
            self._settings_stale |= bool(areas & SETTINGS)
            if not self._live.isActive():
                self._live.start()

    async def _read_settings(self) -> SettingsOut:
        """The providers' settings are admin settings: others (the sidebar's Integrations module)
        see the states and events, and a note instead of the settings."""
        if not can(self.me, "view"):
            self.settings_box.setTitle("Settings (an administrator sets these)")
            return SettingsOut(values={}, labels={}, secrets=[])
        return await admin_api.get_settings(self.api)

    def _refresh_live(self) -> None:
        """States and counts always; the settings when they changed and nothing is being edited; the events."""
        settings_too, self._settings_stale = self._settings_stale and not self.pending(), False

        async def fresh() -> tuple[list[ProviderState], SettingsOut | None]:
            states = await integrations_api.states(self.api)
            return states, await self._read_settings() if settings_too else None

        def arrived(answer: tuple[list[ProviderState], SettingsOut | None]) -> None:
            states, settings = answer
            if settings is not None and not self.pending():
                self._show_settings(settings)
            self._show_states(states)

        self.load(fresh(), arrived)
        self.events.refresh_live()

    def is_busy(self) -> bool:
        return super().is_busy() or self.events.is_busy() or self._live.isActive()

    def _show_states(self, states: list[ProviderState]) -> None:
        self.setEnabled(True)
        self.states = {s.provider: s for s in states}
        self.providers.blockSignals(True)
        try:
            for state in states:
                row = self.rows.get(state.provider)
                if row is None:
                    row = ProviderRow()
                    item = QListWidgetItem()
                    item.setData(Qt.ItemDataRole.UserRole, state.provider)
                    self.providers.addItem(item)
                    self.providers.setItemWidget(item, row)
                    self.rows[state.provider] = row
                row.show_state(state)
                listed = self._item(state.provider)
                if listed is not None:
                    listed.setData(Qt.ItemDataRole.AccessibleTextRole, f"{state.label}: {state_text(state)}")
            self.providers.fit_rows()
            if self.provider is None and states:
                self.providers.setCurrentRow(0)
        finally:
            self.providers.blockSignals(False)
        if self.provider is None and states:
            self._select(states[0].provider)
        else:
            self._show_header()

    def _show_settings(self, settings: SettingsOut) -> None:
        keys = list(self.inputs)
        before = {k: self.stored.get(k) for k in keys}
        self.stored = dict(settings.values)
        self.labels = dict(settings.labels)
        self.secrets = set(settings.secrets)
        if self.provider is None:
            return
        if keys != self._keys():
            self._build_form()
        elif before != {k: self.stored.get(k) for k in keys} or self.pending():
            self.revert()  # the same fields: keep them (and the focus), show the new values

    def _keys(self) -> list[str]:
        state = self.states.get(self.provider or "")
        return list(state.settings) if state is not None else []

    def _item(self, provider: str) -> QListWidgetItem | None:
        for i in range(self.providers.count()):
            item = self.providers.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == provider:
                return item
        return None

    # --- the selected provider -----------------------------------------------------------------

    def _provider_picked(self, current: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if current is None:
            return
        provider = str(current.data(Qt.ItemDataRole.UserRole))
        if provider == self.provider:
            return
        changes = self.pending()
        if not changes:
            self._select(provider)
            return
        # Unsaved edits: stay until the admin says to drop them.
        if previous is not None:
            self.providers.blockSignals(True)
            self.providers.setCurrentItem(previous)
            self.providers.blockSignals(False)

        def discard() -> None:
            self._select(provider, force=True)

        n = len(changes)
        confirm(
            self,
            "Discard unsaved changes?",
            f"{n} setting{'s' if n != 1 else ''} of "
            f"{PROVIDER_LABELS.get(self.provider or '', '')} {'are' if n != 1 else 'is'} not saved.",
            "Discard",
            discard,
        )

    def select_provider(self, provider: str) -> None:
        """Show `provider` (the list follows), e.g. from a test or the health page."""
        self._select(provider)

    def _select(self, provider: str, force: bool = False) -> None:
        if provider not in self.states or (provider == self.provider and not force):
            return
        self.provider = provider
        item = self._item(provider)
        if item is not None and self.providers.currentItem() is not item:
            self.providers.blockSignals(True)
            self.providers.setCurrentItem(item)
            self.providers.blockSignals(False)
        self.test_result.setText("")
        self.whatsapp_number.follow(self.api, provider)
        self._build_form()
        self._show_header()
        self.events.set_provider(provider, self.states[provider].label)

    def _show_header(self) -> None:
        state = self.states.get(self.provider or "")
        if state is None:
            return
        self.heading.setText(state.label)
        self.state_label.setText(f"● {state_text(state)}    {activity_text(state)}")
        self.state_label.setStyleSheet(f"color: {state_color(state)};")
        public = str(self.stored.get(PUBLIC_URL_KEY) or "").strip().rstrip("/")
        self.webhook_url.setText((public or self.api.base_url) + state.webhook_path)
        hint = (
            f"Give {state.label} this address for its webhook."
            if public
            else "This is how this computer reaches the server. Set the server address in Settings (Outgoing "
            "email) to the address the internet reaches it by, so the provider gets that one."
        )
        if self.provider == "forms":
            hint += " Each form posts to this address followed by its key, as in the form's embed snippet."
        self.url_hint.setText(hint)

    def copy_url(self) -> None:
        QGuiApplication.clipboard().setText(self.webhook_url.text())
        self.say("The webhook URL is on the clipboard.")

    # --- the settings form ---------------------------------------------------------------------

    def _build_form(self) -> None:
        """One row per setting the provider names, in its order, filled with the stored values."""
        while self.form.rowCount():
            self.form.removeRow(0)
        self.inputs = {}
        self.secret_states = {}
        keys = self._keys()
        for key in keys:
            label = self.labels.get(key, format.label(key))
            if key in self.secrets:
                self.form.addRow(label, self._secret_input(key, label))
            else:
                self.form.addRow(label, field(self._plain_input(key, label, self.stored.get(key))))
        if not keys:
            self.form.addRow(QLabel("This provider has no settings of its own."))
        self.revert()
        # The whole form in view when it fits; the events take the rest.
        self._share_height()
        QTimer.singleShot(0, self, self._share_height)  # again once the new rows are laid out

    def _share_height(self) -> None:
        """The whole form in view when it fits, up to three fifths of the height; the events take the rest.
        Measured on the split's real height once it has one (see showEvent), not on a guess."""
        total = self.right_split.height() if self.right_split.isVisible() else sum(self.right_split.sizes())
        total = total or 800
        wanted = min(self.config.sizeHint().height() + 4, total * 3 // 5)
        self.right_split.setSizes([wanted, max(total - wanted, 200)])

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self, self._share_height)  # laid out by then (a 1280x800 screen is not an 800 px guess)

    def _secret_input(self, key: str, label: str) -> QWidget:
        """ "Set" / "Not set" and a password entry that replaces the stored secret when typed in."""
        state = QLabel("")
        state.setObjectName("secretState")
        state.setMinimumWidth(60)

        def show_set(is_set: Any) -> None:
            edit.clear()
            edit.setPlaceholderText("Type a new one to replace it" if is_set else "Type it here")
            state.setText("Set" if is_set else "Not set")
            state.setStyleSheet(f"color: {tone('success' if is_set else 'muted')};")

        edit = self.secret_input(key, label, show_set)
        edit.setObjectName(key)
        self.secret_states[key] = state
        entry = field(edit)
        return in_row(state, entry, grow=entry)

    def _plain_input(self, key: str, label: str, value: Any) -> QWidget:
        widget: QWidget
        if isinstance(value, bool):
            widget = self.check_input(key, label)
        elif isinstance(value, int):
            # the server checks the real bounds
            widget = self.spin_input(key, -2_000_000_000, 2_000_000_000, name=label)
        else:
            widget = self.text_input(key, label)
        widget.setAccessibleName(label)
        widget.setObjectName(key)
        return widget

    def form_actions(self, changes: dict[str, Any]) -> None:
        self.test_button.setEnabled(
            self.provider is not None and not self._testing and can(self.me, "edit", "integrations")
        )

    def form_saved(self, result: SettingsOut, changes: dict[str, Any]) -> None:
        self._show_settings(result)
        self.say(
            f"Saved {plural(len(changes), 'setting')} of {PROVIDER_LABELS.get(self.provider or '', 'the provider')}."
        )
        self._live.start()  # the state may have changed (configured now)

    # --- send test event -----------------------------------------------------------------------

    def send_test(self) -> None:
        """Save what is pending (the server tests the stored settings), then push a test event."""
        if self.provider is None or self._testing:
            return
        self._testing = True
        self.test_progress.setVisible(True)
        self._test_says("Checking the connection and sending a signed test event…", "muted")
        self.update_actions()
        self.load(self._send_test(self.provider), lambda _: None)

    async def _send_test(self, provider: str) -> None:
        try:
            if not await self.save_pending():
                self._test_says("Fix the settings above first.", "danger")
                return
            result = await operations.run(
                self, integrations_api.send_test(self.api, provider), changed=integrations_api.EVENTS
            )
            if result is None:  # the error handler said why
                self._test_says("The test event was not sent.", "danger")
                return
            self._test_says(result.message, "success" if result.ok else "danger")
            if result.event is not None and provider == self.provider:
                self.events.reload(select=result.event.id)
            self._live.start()  # the provider's state and counts
        finally:
            if shiboken6.isValid(self):
                self._testing = False
                self.test_progress.setVisible(False)
                self.update_actions()

    def _test_says(self, text: str, token: str) -> None:
        if shiboken6.isValid(self.test_result):
            self.test_result.setText(text)
            self.test_result.setStyleSheet(f"color: {tone(token)};")

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-integrations", lambda: None)]
