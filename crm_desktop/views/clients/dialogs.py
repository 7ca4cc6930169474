"""The client form (used by the New client dialog and the detail window), the contact dialog, and the
names of colleagues who own clients.

Saving goes through ``operations.run`` only: a field the server refuses is marked under that field;
a VAT number that another client has already is shown with a link that opens that client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations, tasks
from crm_desktop.api import auth
from crm_desktop.api import clients as clients_api
from crm_desktop.api.client import ApiError
from crm_desktop.operations.errors import mark_field
from crm_desktop.session import Session
from crm_desktop.widgets.form import field
from crm_desktop.widgets.user_picker import UserPicker, user_label
from crm_server.contract.auth import Colleague
from crm_server.contract.clients import ClientIn, ClientOut, ContactIn, ContactOut, ContactUpdate

log = logging.getLogger(__name__)

TEXT_FIELDS = ("name", "vat_number", "address", "phone", "email", "website")


# --- owners --------------------------------------------------------------------------------------


class OwnerNames(QObject):
    """Colleagues' names by id, so lists show "Owner: Ana Pop" without asking per row. An office has
    a few dozen people: one page of up to 500 is fetched once per session (and again on F5)."""

    changed = Signal()

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.session = session
        self._users: dict[int, Colleague] = {}
        self._task: asyncio.Task[None] | None = None
        operations.change_bus().changed.connect(self._on_changed)
        self.reload()

    def name(self, user_id: int | None, empty: str = "—") -> str:
        if user_id is None:
            return empty
        user = self._users.get(user_id)
        return user.full_name if user else "…" if not self.loaded else f"user #{user_id}"

    def label(self, user_id: int) -> str:
        user = self._users.get(user_id)
        return user_label(user) if user else self.name(user_id)

    @property
    def loaded(self) -> bool:
        return self._task is not None and self._task.done()

    def reload(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = tasks.spawn(self._load())
        return self._task

    async def _load(self) -> None:
        try:
            page = await auth.colleagues(self.session.api, limit=500)
        except ApiError as exc:
            log.info("owner names did not load: %s", exc.message)
            return
        self._users = {u.id: u for u in page.items}
        if shiboken6.isValid(self):
            self.changed.emit()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & {"*", "admin.users"}:
            self.reload()


_names: WeakKeyDictionary[Session, OwnerNames] = WeakKeyDictionary()


def owner_names(session: Session) -> OwnerNames:
    names = _names.get(session)
    if names is None:
        names = _names[session] = OwnerNames(session)
    return names


# --- the client form -----------------------------------------------------------------------------


def _columns(parent: QWidget) -> tuple[QHBoxLayout, QVBoxLayout, QVBoxLayout]:
    row = QHBoxLayout(parent)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(18)
    left, right = QVBoxLayout(), QVBoxLayout()
    for column in (left, right):
        column.setSpacing(10)
        row.addLayout(column, 1)
    return row, left, right


class ClientForm(QWidget):
    """Name, VAT, address, phone, email, website and owner. ``fields`` maps the server's field names
    to the widgets, so a refused field is marked where it was typed."""

    open_client = Signal(int)  # "Open <name>" under a VAT number that another client has
    edited = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.names = owner_names(session)
        _row, left, right = _columns(self)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Acme SRL")
        self.vat_number = QLineEdit()
        self.vat_number.setPlaceholderText("RO 12345678")
        self.address = QLineEdit()
        self.address.setPlaceholderText("Street, number, city")
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("+40 721 000 000")
        self.email = QLineEdit()
        self.email.setPlaceholderText("office@example.com")
        self.website = QLineEdit()
        self.website.setPlaceholderText("https://example.com")
        self.owner = UserPicker(session.api)
        field(left, "&Name", self.name)
        field(left, "&VAT number", self.vat_number, "Spaces, dots and the country prefix do not matter.")
        self.twin = QPushButton()
        self.twin.setObjectName("twinLink")
        self.twin.setProperty("role", "link")
        self.twin.setCursor(Qt.CursorShape.PointingHandCursor)
        self.twin.setVisible(False)
        self.twin.clicked.connect(self._open_twin)
        self.vat_number.parentWidget().layout().addWidget(self.twin)  # type: ignore[union-attr]
        self._twin_id: int | None = None
        field(left, "&Address", self.address)
        field(left, "&Owner", self.owner, "Who looks after this client; you, if left empty.")
        field(right, "&Phone", self.phone)
        field(right, "&Email", self.email)
        field(right, "&Website", self.website)
        left.addStretch(1)
        right.addStretch(1)
        self.fields: dict[str, QWidget] = {name: getattr(self, name) for name in TEXT_FIELDS}
        self.fields["owner_id"] = self.owner
        self._saved: dict[str, Any] = {}
        for name in TEXT_FIELDS:
            getattr(self, name).textChanged.connect(self.edited)
        self.owner.user_changed.connect(lambda _: self.edited.emit())
        self.vat_number.textEdited.connect(lambda _: self.show_twin(None))
        self.names.changed.connect(self._relabel_owner)

    def _relabel_owner(self) -> None:
        """Names arrived after the record: show the owner's name instead of "…"."""
        owner_id = self.owner.user_id
        if owner_id is not None and owner_id == self._saved.get("owner_id"):
            self.owner.set_user(owner_id, self.names.label(owner_id))

    # --- values ----------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name).text().strip() or None for name in TEXT_FIELDS}
        out["owner_id"] = self.owner.user_id
        return out

    def set_values(self, client: ClientOut) -> None:
        for name in TEXT_FIELDS:
            getattr(self, name).setText(getattr(client, name) or "")
        owner_id = client.owner_id
        self.owner.set_user(owner_id, self.names.label(owner_id) if owner_id is not None else "")
        self._saved = self.values()

    def changes(self) -> dict[str, Any]:
        """What differs from the record as loaded (the detail window sends only that)."""
        now = self.values()
        return {k: v for k, v in now.items() if v != self._saved.get(k) and not (k == "owner_id" and v is None)}

    @property
    def dirty(self) -> bool:
        return bool(self.changes())

    def check(self) -> bool:
        """What can be told without the server: a client needs a name."""
        if not self.name.text().strip():
            mark_field(self.name, "A client needs a name.")
            return False
        return True

    # --- the VAT twin ----------------------------------------------------------------------------

    def show_twin(self, client_id: int | None) -> None:
        """Under the VAT field: "Open <name>" of the client that has this number already."""
        self._twin_id = client_id
        if client_id is None:
            self.twin.setVisible(False)
            return
        self.twin.setText("Open the client with this VAT number")
        self.twin.setVisible(True)
        tasks.spawn(self._name_twin(client_id))

    async def _name_twin(self, client_id: int) -> None:
        try:
            other = await clients_api.get_client(self.session.api, client_id)
        except ApiError as exc:  # not one this user may see: say so instead of a dead link
            if shiboken6.isValid(self) and self._twin_id == client_id and exc.status == 404:
                self.twin.setText("A client you cannot open has this VAT number; ask its owner.")
                self.twin.setEnabled(False)
            return
        if shiboken6.isValid(self) and self._twin_id == client_id:
            self.twin.setEnabled(True)
            self.twin.setText(f"Open {other.name}")
            self.twin.setToolTip(f"{other.name} has this VAT number already")

    def _open_twin(self) -> None:
        if self._twin_id is not None:
            self.open_client.emit(self._twin_id)

    def watch_twin(self, call: Any) -> Any:
        """Wrap a save: a refused duplicate VAT also shows the link to the first client."""

        async def body() -> Any:
            try:
                return await call
            except ApiError as exc:
                if exc.code == "duplicate_vat" and exc.extra.get("client_id") and shiboken6.isValid(self):
                    self.show_twin(int(exc.extra["client_id"]))
                raise

        return body()


def warning_text(client: ClientOut) -> str:
    """The server's warnings of a save ("Another client is called 'Acme'"), as one line."""
    return " ".join(w.message for w in client.warnings if w.code != "repeated_submit")


class ClientDialog(QDialog):
    """New client. The dialog closes once the server has it; `created` carries the new client."""

    created = Signal(object)  # the new client (ClientOut)

    def __init__(
        self, session: Session, parent: QWidget | None = None, open_client: Callable[[int], object] | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("clientDialog")
        self.setWindowTitle("New client")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(640)
        self.form = ClientForm(session)
        if open_client is not None:
            self.form.open_client.connect(open_client)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Create client")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 18)
        layout.setSpacing(14)
        layout.addWidget(self.form)
        layout.addWidget(self.buttons)
        self.form.name.setFocus()

    def submit(self) -> None:
        if not self.form.check():
            return
        payload = {k: v for k, v in self.form.values().items() if v is not None}
        # As typed: the server judges it, and its refusal lands next to the field.
        call = self.form.watch_twin(clients_api.create_client(self.session.api, ClientIn.model_construct(**payload)))
        operations.run(
            self, call, success=self._done, changed=clients_api.CHANGED, fields=self.form.fields, busy=self.ok
        )

    def _done(self, client: ClientOut) -> None:
        self.created.emit(client)
        self.accept()


# --- contacts ------------------------------------------------------------------------------------


class ContactDialog(QDialog):
    """Add a contact to a client, or edit one; `saved` carries the contact as the server has it."""

    saved = Signal(object)  # the contact (ContactOut)

    def __init__(
        self, session: Session, client_id: int, contact: ContactOut | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.client_id = client_id
        self.contact = contact
        self.setObjectName("contactDialog")
        self.setWindowTitle("Edit contact" if contact else "New contact")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(420)
        self.name = QLineEdit(contact.name if contact else "")
        self.position = QLineEdit(contact.position or "" if contact else "")
        self.position.setPlaceholderText("Purchasing manager")
        self.email = QLineEdit(contact.email or "" if contact else "")
        self.phone = QLineEdit(contact.phone or "" if contact else "")
        body = QVBoxLayout()
        body.setSpacing(10)
        field(body, "&Name", self.name)
        field(body, "&Position", self.position)
        field(body, "&Email", self.email)
        field(body, "P&hone", self.phone)
        self.fields: dict[str, QWidget] = {
            "name": self.name,
            "position": self.position,
            "email": self.email,
            "phone": self.phone,
        }
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Save contact" if contact else "Add contact")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 18)
        layout.setSpacing(14)
        layout.addLayout(body)
        layout.addWidget(self.buttons)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.submit)
        self.name.setFocus()

    def values(self) -> dict[str, Any]:
        edits = (self.name, self.position, self.email, self.phone)
        return {name: edit.text().strip() or None for name, edit in zip(self.fields, edits, strict=True)}

    def submit(self) -> None:
        values = self.values()
        if not values["name"]:
            mark_field(self.name, "A contact needs a name.")
            return
        api = self.session.api
        call: Any
        if self.contact is None:
            call = clients_api.add_contact(api, self.client_id, ContactIn.model_construct(**values))
        else:
            changes = ContactUpdate.model_construct(**values, version=self.contact.version)
            call = clients_api.update_contact(api, self.contact.id, changes)
        operations.run(
            self, call, success=self._done, changed=clients_api.CONTACTS_CHANGED, fields=self.fields, busy=self.ok
        )

    def _done(self, contact: ContactOut) -> None:
        self.saved.emit(contact)
        self.accept()
