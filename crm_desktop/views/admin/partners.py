"""Partners: the companies that bring leads through the partner portal, each with its managing
salesperson (who gets their registered leads), and the people who sign in to the portal.

"Invite" e-mails a person a single-use link where they choose their password; deactivating a
partner or a person signs them out of the portal. How long a registered lead stays protected
without progress is the setting below the list (partners.protection_days)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import admin as admin_api
from crm_desktop.api import partners as partners_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, Event, ScreenshotState, can, field, style_list, title_label
from crm_desktop.views.admin.partner_review import ReviewDialog
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.auth import Me
from crm_server.contract.partners import InviteOut, PartnerIn, PartnerOut, PartnerUserIn, PartnerUserOut

CHANGED = partners_api.CHANGED
ID_ROLE = Qt.ItemDataRole.UserRole + 1
PROTECTION = "partners.protection_days"


def person_state(user: PartnerUserOut) -> str:
    """Where a person stands with the portal, in words."""
    if not user.active:
        return "Deactivated"
    if user.locked:
        return "Locked after failed sign-ins"
    if user.last_login_at is not None:
        return f"Signed in {format.ago(user.last_login_at)}"
    if user.has_password:
        return "Has a password, not signed in yet"
    if user.invited_at is not None:
        return f"Invited {format.ago(user.invited_at)}"
    return "Not invited yet"


class PartnerFormDialog(QDialog):
    """A short form of the partners page: a name and one more field, OK (runs `submit`, which closes
    the dialog once the server took it) and Cancel. What differs is passed in by the two below."""

    def __init__(self, parent: QWidget, title: str, object_name: str, name: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName(object_name)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.name_edit = QLineEdit(self)
        self.name_edit.setAccessibleName(name)
        self.name_edit.setMinimumWidth(320)

    def finish(self, submit: Callable[[], None], *rows: tuple[str, QWidget, str]) -> None:
        """The rows (label, field, hint), then OK and Cancel; called once the fields exist."""
        form = QFormLayout()
        for label, widget, hint in rows:
            form.addRow(label, field(widget, hint))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        # The rows join the dialog after the buttons (the layout adopts them), so OK would take the focus.
        self.name_edit.setFocus()


class PersonDialog(PartnerFormDialog):
    """A person of the partner: name and e-mail (the address the invitation goes to)."""

    def __init__(self, parent: QWidget, submit: Callable[[PersonDialog], None]) -> None:
        super().__init__(parent, "Add a person", "partnerPersonDialog", "Name")
        self.full_name = self.name_edit
        self.email = QLineEdit(self)
        self.email.setAccessibleName("E-mail")
        self.finish(
            lambda: submit(self),
            ("&Name", self.full_name, ""),
            ("&E-mail", self.email, "The portal invitation goes here."),
        )

    def body(self) -> PartnerUserIn:
        return PartnerUserIn.model_construct(email=self.email.text().strip(), full_name=self.full_name.text().strip())


class PartnersPage(AdminPage):
    """Partner list on the left; the selected partner and its people on the right."""

    title = "Partners"
    areas = frozenset({"admin.partners"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.partners: dict[int, PartnerOut] = {}
        self.current: PartnerOut | None = None
        self.people: list[PartnerUserOut] = []
        self._select_after_load: int | None = None

        self.list = QListWidget(self)
        self.list.setObjectName("partnerList")
        self.list.setAccessibleName("Partners")
        self.list.setMinimumWidth(220)
        style_list(self.list)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.empty = QLabel("No partners yet. Add one with “New partner” (Ctrl+N).", self)
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "muted")
        self.new_button = QPushButton("New partner", self)
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New partner (Ctrl+N)")
        self.new_button.clicked.connect(self.new_partner)
        self.review_button = QPushButton("Review registrations", self)
        self.review_button.setObjectName("reviewButton")
        self.review_button.setToolTip("Partner leads that look like leads we may already have")
        self.review_button.clicked.connect(self.open_review)
        self.protection = QSpinBox(self)
        self.protection.setObjectName("protectionDays")
        self.protection.setRange(1, 3650)
        self.protection.setSuffix(" days")
        self.protection.setAccessibleName("Protection of a registered lead")
        self.protection.editingFinished.connect(self.save_protection)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.empty)
        protection_form = QFormLayout()
        protection_form.addRow(
            "&Protection", field(self.protection, "A registered lead that makes no progress lapses after this.")
        )
        left_layout.addLayout(protection_form)

        self.editor = QWidget(self)
        self.name = QLineEdit(self.editor)
        self.name.setAccessibleName("Partner name")
        self.manager = UserPicker(api, active_only=True, parent=self.editor)
        self.manager.setAccessibleName("Managing salesperson")
        self.email = QLineEdit(self.editor)
        self.email.setAccessibleName("Partner e-mail")
        self.phone = QLineEdit(self.editor)
        self.phone.setAccessibleName("Partner phone")
        self.share_values = QCheckBox("Show the value of won leads in their portal", self.editor)
        self.active = QCheckBox("Active (its people may sign in to the portal)", self.editor)
        self.notes = QPlainTextEdit(self.editor)
        self.notes.setAccessibleName("Notes")
        self.notes.setMaximumHeight(70)
        self.save_button = QPushButton("Save", self.editor)
        self.save_button.setDefault(True)
        self.save_button.setToolTip("Save the partner (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        form = QFormLayout()
        form.addRow("&Name", field(self.name))
        form.addRow("&Managing salesperson", field(self.manager, "Gets the partner's registered leads."))
        form.addRow("E-&mail", field(self.email))
        form.addRow("P&hone", field(self.phone))
        form.addRow("", self.share_values)
        form.addRow("", self.active)
        form.addRow("N&otes", field(self.notes))

        self.people_box = QGroupBox("People who sign in to the portal", self.editor)
        self.table = QTableWidget(0, 3, self.people_box)
        self.table.setObjectName("partnerPeople")
        self.table.setAccessibleName("People of the partner")
        self.table.setHorizontalHeaderLabels(["Name", "E-mail", "Portal"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_people_actions)
        self.add_person_button = QPushButton("Add person", self.people_box)
        self.add_person_button.clicked.connect(self.add_person)
        self.invite_button = QPushButton("Invite", self.people_box)
        self.invite_button.setToolTip("E-mail a single-use link to choose a password")
        self.invite_button.clicked.connect(self.invite)
        self.person_active_button = QPushButton("Deactivate", self.people_box)
        self.person_active_button.clicked.connect(self.toggle_person)
        people_buttons = QHBoxLayout()
        people_buttons.addWidget(self.add_person_button)
        people_buttons.addWidget(self.invite_button)
        people_buttons.addWidget(self.person_active_button)
        people_buttons.addStretch(1)
        self.no_people = QLabel("No people yet. “Add person”, then “Invite” e-mails them a link to the portal.")
        self.no_people.setParent(self.people_box)
        self.no_people.setProperty("role", "muted")
        self.no_people.setWordWrap(True)
        people_layout = QVBoxLayout(self.people_box)
        people_layout.addWidget(self.no_people)
        people_layout.addWidget(self.table, 1)
        people_layout.addLayout(people_buttons)

        right_layout = QVBoxLayout(self.editor)
        right_layout.setContentsMargins(12, 0, 0, 0)
        right_layout.addLayout(form)
        save_row = QHBoxLayout()
        save_row.addStretch(1)
        save_row.addWidget(self.save_button)
        right_layout.addLayout(save_row)
        right_layout.addWidget(self.people_box, 1)

        splitter = QSplitter(self)
        splitter.addWidget(left)
        splitter.addWidget(self.editor)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([260, 740])
        self.root.addWidget(
            title_label(
                "Partners",
                "Companies that register leads through the partner portal.",
                self.review_button,
                self.new_button,
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(splitter, 1)
        self.shortcut(QKeySequence.StandardKey.New, self.new_partner)
        self.shortcut(QKeySequence.StandardKey.Save, self.save)
        self._show(None)

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        async def all_of_it() -> tuple[list[PartnerOut], int, int]:
            page, stored, waiting = await asyncio.gather(
                partners_api.list_partners(self.api), admin_api.get_settings(self.api), partners_api.waiting(self.api)
            )
            return page.items, int(stored.values.get(PROTECTION) or 90), len(waiting)

        self.load(all_of_it(), self._arrived)

    def _arrived(self, answer: tuple[list[PartnerOut], int, int]) -> None:
        partners, days, waiting = answer
        self.review_button.setText(f"Review registrations ({waiting})" if waiting else "Review registrations")
        self.protection.blockSignals(True)
        self.protection.setValue(days)
        self.protection.blockSignals(False)
        self.partners = {p.id: p for p in partners}
        keep = self._select_after_load or (self.current.id if self.current else None)
        self._select_after_load = None
        self.list.blockSignals(True)
        self.list.clear()
        for partner in partners:
            manager = partner.managing_user_name or "no managing salesperson"
            state = "" if partner.active else "  (inactive)"
            item = QListWidgetItem(f"{partner.name}{state}\n{manager} · {partner.leads} leads")
            item.setData(ID_ROLE, partner.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not partners)
        self.list.setVisible(bool(partners))
        if not partners:
            self._show(None)
            return
        row = next((i for i in range(self.list.count()) if self.list.item(i).data(ID_ROLE) == keep), 0)
        self.list.blockSignals(True)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)
        self._show(self.partners[self.list.item(row).data(ID_ROLE)])

    def _on_current_changed(self, item: QListWidgetItem | None, _: QListWidgetItem | None) -> None:
        self._show(self.partners.get(item.data(ID_ROLE)) if item is not None else None)

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.entity in ("partner", "partner_user", "lead_registration"):
            self.reload_soon()

    def _show(self, partner: PartnerOut | None) -> None:
        self.current = partner
        editable = partner is not None and can(self.me, "edit")
        self.editor.setEnabled(partner is not None)
        for w in (self.name, self.manager, self.email, self.phone, self.share_values, self.active, self.notes):
            w.setEnabled(editable)
        self.save_button.setEnabled(editable)
        self.name.setText(partner.name if partner else "")
        if partner is not None and partner.managing_user_id is not None:
            self.manager.set_user(partner.managing_user_id, partner.managing_user_name or "")
        else:
            self.manager.set_user(None)
        self.email.setText(partner.email if partner else "")
        self.phone.setText(partner.phone if partner else "")
        self.share_values.setChecked(bool(partner and partner.share_values))
        self.active.setChecked(bool(partner is None or partner.active))
        self.notes.setPlainText(partner.notes if partner else "")
        self.new_button.setEnabled(can(self.me, "edit"))
        self.protection.setEnabled(can(self.me, "edit"))
        self.people = []
        self._fill_people()
        if partner is not None:
            self.load(partners_api.list_users(self.api, partner.id), self._people_arrived)

    def _people_arrived(self, people: list[PartnerUserOut]) -> None:
        self.people = people
        self._fill_people()

    def _fill_people(self) -> None:
        chosen = self.selected_person()
        self.table.setRowCount(len(self.people))
        for row, person in enumerate(self.people):
            for col, text in enumerate((person.full_name, person.email, person_state(person))):
                item = QTableWidgetItem(text)
                item.setData(ID_ROLE, person.id)
                self.table.setItem(row, col, item)
            if chosen is not None and person.id == chosen.id:
                self.table.selectRow(row)
        self.no_people.setVisible(self.current is not None and not self.people)
        self._update_people_actions()

    def selected_person(self) -> PartnerUserOut | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.people):
            return None
        return self.people[rows[0].row()]

    def _update_people_actions(self) -> None:
        person = self.selected_person()
        editable = self.current is not None and can(self.me, "edit")
        self.add_person_button.setEnabled(editable)
        self.invite_button.setEnabled(
            editable and person is not None and person.active and self.current is not None and self.current.active
        )
        self.person_active_button.setEnabled(editable and person is not None)
        self.person_active_button.setText("Activate" if person is not None and not person.active else "Deactivate")

    # --- changes -------------------------------------------------------------------------------

    def _body(self) -> PartnerIn:
        return PartnerIn.model_construct(
            name=self.name.text().strip(),
            managing_user_id=self.manager.value(),
            email=self.email.text().strip(),
            phone=self.phone.text().strip(),
            notes=self.notes.toPlainText().strip(),
            active=self.active.isChecked(),
            share_values=self.share_values.isChecked(),
        )

    def _fields(self) -> dict[str, QWidget]:
        return {
            "name": self.name,
            "managing_user_id": self.manager,
            "email": self.email,
            "phone": self.phone,
            "notes": self.notes,
        }

    def save(self) -> None:
        partner = self.current
        if partner is None or not can(self.me, "edit"):
            return

        def saved(result: PartnerOut) -> None:
            self._select_after_load = result.id
            self.say(f"The partner {result.name} is saved.")

        operations.run(
            self,
            partners_api.update_partner(self.api, partner.id, self._body()),
            success=saved,
            changed=CHANGED,
            fields=self._fields(),
            busy=self.save_button,
        )

    def new_partner(self) -> None:
        if not can(self.me, "edit"):
            return
        NewPartnerDialog(self, self._create).open()

    def _create(self, dialog: NewPartnerDialog) -> None:
        def created(partner: PartnerOut) -> None:
            dialog.accept()
            self._select_after_load = partner.id
            self.say(f"The partner {partner.name} is added; choose its managing salesperson and add its people.")

        body = PartnerIn.model_construct(
            name=dialog.name.text().strip(),
            managing_user_id=dialog.manager.value(),
            email="",
            phone="",
            notes="",
            active=True,
            share_values=False,
        )
        operations.run(
            dialog,
            partners_api.create_partner(self.api, body),
            success=created,
            changed=CHANGED,
            fields={"name": dialog.name, "managing_user_id": dialog.manager},
        )

    def add_person(self) -> None:
        partner = self.current
        if partner is None or not can(self.me, "edit"):
            return

        def submit(dialog: PersonDialog) -> None:
            def added(person: PartnerUserOut) -> None:
                dialog.accept()
                self.say(f"{person.full_name} is added; “Invite” e-mails them the link to the portal.")
                self._show(self.partners.get(partner.id, partner))

            operations.run(
                dialog,
                partners_api.create_user(self.api, partner.id, dialog.body()),
                success=added,
                changed=CHANGED,
                fields={"email": dialog.email, "full_name": dialog.full_name},
            )

        PersonDialog(self, submit).open()

    def invite(self) -> None:
        partner, person = self.current, self.selected_person()
        if partner is None or person is None:
            return

        def sent(answer: InviteOut) -> None:
            until = format.moment(answer.expires_at)
            self.say(f"The invitation to {person.email} is on its way; its link works until {until}.")
            self._show(self.partners.get(partner.id, partner))

        operations.run(
            self, partners_api.invite(self.api, partner.id, person.id), success=sent, busy=self.invite_button
        )

    def toggle_person(self) -> None:
        partner, person = self.current, self.selected_person()
        if partner is None or person is None:
            return
        body = PartnerUserIn.model_construct(email=person.email, full_name=person.full_name, active=not person.active)

        def done(result: PartnerUserOut) -> None:
            word = "can sign in again" if result.active else "is deactivated and signed out of the portal"
            self.say(f"{result.full_name} {word}.")
            self._show(self.partners.get(partner.id, partner))

        operations.run(
            self, partners_api.update_user(self.api, partner.id, person.id, body), success=done, changed=CHANGED
        )

    def open_review(self) -> ReviewDialog:
        dialog = ReviewDialog(self)
        dialog.open()
        return dialog

    def save_protection(self) -> None:
        if not can(self.me, "edit"):
            return
        days = self.protection.value()
        operations.run(
            self,
            admin_api.save_settings(self.api, {PROTECTION: days}),
            success=lambda _: self.say(f"Registered leads are now protected for {days} days without progress."),
            changed=admin_api.SETTINGS,
            fields={PROTECTION: self.protection},
        )

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-partners", lambda: None)]


class NewPartnerDialog(PartnerFormDialog):
    """A new partner: its name and, if known, its managing salesperson."""

    def __init__(self, page: PartnersPage, submit: Callable[[NewPartnerDialog], None]) -> None:
        super().__init__(page, "New partner", "newPartnerDialog", "Partner name")
        self.name = self.name_edit
        self.manager = UserPicker(page.api, active_only=True, parent=self)
        self.manager.setAccessibleName("Managing salesperson")
        self.finish(
            lambda: submit(self),
            ("&Name", self.name, ""),
            ("&Managing salesperson", self.manager, "Optional: the assignment rules decide otherwise."),
        )


async def _demo_partner(page: PartnersPage) -> None:
    """A partner with people, for the screenshot tool (once per database)."""
    api = page.api
    if not (await partners_api.list_partners(api)).items:
        from crm_desktop.api import auth

        sales = (await auth.colleagues(api, active=True, limit=5)).items
        manager = sales[1].id if len(sales) > 1 else None
        body = PartnerIn(name="Northwind Traders", managing_user_id=manager, email="office@northwind.example")
        partner = await partners_api.create_partner(api, body.model_copy(update={"share_values": True}))
        for name, email in (("Pia Partner", "pia@northwind.example"), ("Noah North", "noah@northwind.example")):
            await partners_api.create_user(api, partner.id, PartnerUserIn(email=email, full_name=name))
        await partners_api.create_partner(api, PartnerIn(name="Contoso Resellers", notes="Signed in March."))
    page.reload()


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Hook of ``python -m crm_desktop.screenshots``: the page with a partner and its people."""
    page = PartnersPage(ctx.api, ctx.me)
    page.loaded = True  # loaded once the demo partner exists
    tasks.spawn(_demo_partner(page))
    yield "admin-partners-filled", page
    northwind = next((i for i in range(page.list.count()) if "Northwind" in page.list.item(i).text()), 0)
    page.list.setCurrentRow(northwind)
    yield "admin-partners-northwind", page
    if page.people:
        page.table.selectRow(0)
    yield "admin-partners-person", page
    review = page.open_review()
    yield "admin-partners-review", review
    review.close()
