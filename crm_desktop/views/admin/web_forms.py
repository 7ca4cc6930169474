"""Website forms: the lead forms a website embeds. On the left the forms; on the right the selected
one: its fields (each filling a lead field, or kept in the lead's note), the websites allowed to post
it, the pipeline and status its leads start in, who gets them, the thank-you page and the hidden
spam-trap field. Once saved, the form has a post address: "Copy embed code" puts ready HTML on the
clipboard, "New key…" retires the old address (a form copied by spammers).

Server side: crm_server/webforms/; the calls are in crm_desktop.api.admin (web forms).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.views.admin.common import (
    AdminPage,
    ScreenshotState,
    UserNames,
    can,
    confirm,
    field,
    set_danger,
    style_list,
    title_label,
)
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.auth import Me, TeamOut
from crm_server.contract.leads import PipelineOut
from crm_server.contract.webforms import (
    ASSIGNMENT_LABELS,
    DEFAULT_HONEYPOT,
    FIELD_TYPE_LABELS,
    MAPS_TO_LABELS,
    EmbedSnippet,
    FormField,
    WebFormOut,
)

FORMS = admin_api.WEB_FORMS
ID_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Label", "Name in the HTML", "Type", "Fills", "Required", "Choices")
NAME, LABEL, TYPE, MAPS, REQUIRED, OPTIONS = range(6)  # not the column order: see _cells
STARTER_FIELDS: list[FormField] = [
    FormField(name="name", label="Your name", type="text", required=True, maps_to="person_name"),
    FormField(name="email", label="Email", type="email", required=True, maps_to="email"),
    FormField(name="phone", label="Phone", type="phone", required=False, maps_to="phone"),
    FormField(name="message", label="Message", type="textarea", required=False, maps_to="note"),
]


def html_name(label: str) -> str:
    """ "Your e-mail" -> "your_e_mail": a name for the HTML input, made from the label."""
    words = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return (words if words[:1].isalpha() else f"field_{words}")[:50] if words else ""


class FieldsTable(QTableWidget):
    """The form's fields, one row each, edited in place: label, HTML name (made from the label until
    typed), type, the lead field it fills, required, and the choices of a choice field."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("webFormFields")
        self.setAccessibleName("Form fields")
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((170, 130, 100, 150, 70)):
            self.setColumnWidth(column, width)
        keep_titles_whole(self)
        self.setMinimumHeight(190)
        self.on_edit: list[Any] = []  # callbacks: something in the table changed

    # --- rows ----------------------------------------------------------------------------------

    def _changed(self, *_: Any) -> None:
        for callback in self.on_edit:
            callback()

    def add_row(self, item: FormField | None = None, at: int | None = None) -> int:
        """A row showing a stored field (a new empty one if None)."""
        item = item or FormField.model_construct(name="", label="")  # blank until typed
        row = self.rowCount() if at is None else at
        self.insertRow(row)
        label = QLineEdit(item.label)
        label.setPlaceholderText("What the visitor reads")
        label.setAccessibleName("Field label")
        name = QLineEdit(item.name)
        name.setPlaceholderText("made from the label")
        name.setAccessibleName("Field name in the HTML")
        name.setProperty("typed", bool(item.name) and item.name != html_name(item.label))
        kind = QComboBox()
        kind.setAccessibleName("Field type")
        for value, text in FIELD_TYPE_LABELS.items():
            kind.addItem(text, value)
        kind.setCurrentIndex(max(kind.findData(item.type), 0))
        maps = QComboBox()
        maps.setAccessibleName("Lead field it fills")
        for value, text in MAPS_TO_LABELS.items():
            maps.addItem(text, value)
        maps.setCurrentIndex(max(maps.findData(item.maps_to), 0))
        required = QCheckBox()
        required.setAccessibleName("Required")
        required.setChecked(item.required)
        options = QLineEdit(", ".join(item.options))
        options.setPlaceholderText("For a choice: Basic, Pro, …")
        options.setAccessibleName("Choices, separated by commas")
        options.setEnabled(item.type == "select")

        def label_edited(text: str) -> None:
            if not name.property("typed"):
                name.setText(html_name(text))

        label.textEdited.connect(label_edited)
        name.textEdited.connect(lambda text: name.setProperty("typed", bool(text)))
        kind.currentIndexChanged.connect(lambda _: options.setEnabled(kind.currentData() == "select"))
        for signal in (
            label.textChanged,
            name.textChanged,
            options.textChanged,
            kind.currentIndexChanged,
            maps.currentIndexChanged,
            required.toggled,
        ):
            signal.connect(self._changed)
        for column, widget in enumerate((label, name, kind, maps, required, options)):
            self.setCellWidget(row, column, widget)
        self.setCurrentCell(row, 0)
        self._changed()
        return row

    def _cells(self, row: int) -> tuple[QLineEdit, QLineEdit, QComboBox, QComboBox, QCheckBox, QLineEdit]:
        label, name, kind, maps, required, options = (self.cellWidget(row, c) for c in range(len(COLUMNS)))
        assert isinstance(label, QLineEdit) and isinstance(name, QLineEdit) and isinstance(options, QLineEdit)
        assert isinstance(kind, QComboBox) and isinstance(maps, QComboBox) and isinstance(required, QCheckBox)
        return label, name, kind, maps, required, options

    def cell(self, row: int, what: int) -> QWidget:
        """A row's editor by meaning (NAME, LABEL, TYPE, MAPS, REQUIRED, OPTIONS), for tests and focus."""
        label, name, kind, maps, required, options = self._cells(row)
        return {NAME: name, LABEL: label, TYPE: kind, MAPS: maps, REQUIRED: required, OPTIONS: options}[what]

    def row_value(self, row: int) -> dict[str, Any]:
        """A row as typed, in the request body's shape (the form's "fields" are sent as is)."""
        label, name, kind, maps, required, options = self._cells(row)
        return {
            "label": label.text().strip(),
            "name": name.text().strip(),
            "type": kind.currentData(),
            "maps_to": maps.currentData(),
            "required": required.isChecked(),
            "options": [o.strip() for o in options.text().split(",") if o.strip()]
            if kind.currentData() == "select"
            else [],
        }

    def rows(self) -> list[dict[str, Any]]:
        return [self.row_value(r) for r in range(self.rowCount())]

    def set_rows(self, rows: list[FormField], current: int = 0) -> None:
        self.setRowCount(0)
        for item in rows:
            self.add_row(item)
        if rows:
            self.setCurrentCell(min(max(current, 0), len(rows) - 1), 0)

    def remove_current(self) -> None:
        row = self.currentRow()
        if row >= 0:
            self.removeRow(row)
            if self.rowCount():
                self.setCurrentCell(min(row, self.rowCount() - 1), 0)
            self._changed()

    def move_current(self, step: int) -> None:
        row = self.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.rowCount():
            return
        # The rows as typed, unchecked (the server checks them on save), to be shown again swapped.
        rows = [FormField.model_construct(**value) for value in self.rows()]
        typed = [bool(self._cells(r)[1].property("typed")) for r in range(self.rowCount())]
        rows[row], rows[target] = rows[target], rows[row]
        typed[row], typed[target] = typed[target], typed[row]
        self.set_rows(rows, target)
        for r, flag in enumerate(typed):
            self._cells(r)[1].setProperty("typed", flag)
        self._changed()


class WebFormsPage(AdminPage):
    """The forms and the selected form's editor. Changes stay in the editor until Save (Ctrl+S)."""

    title = "Website forms"
    areas = FORMS | frozenset({"admin.pipeline", "admin.teams"})
    live_entities = frozenset({"web_form", "pipeline", "team"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.forms: dict[int, WebFormOut] = {}
        self.pipelines: list[PipelineOut] = []
        self.teams: dict[int, str] = {}
        self.names = UserNames(api)
        self.current_id: int | None = None  # the form in the editor; None: a new one
        self.dirty = False
        self._filling = False

        self.new_button = QPushButton("New form")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New form (Ctrl+N)")
        self.new_button.clicked.connect(self.new_form)
        self.list = QListWidget()
        self.list.setObjectName("webFormList")
        self.list.setAccessibleName("Website forms")
        style_list(self.list)
        self.list.currentItemChanged.connect(self._picked)
        self.empty = QLabel(
            "No website forms yet. “New form” (Ctrl+N) starts one with name, email, phone "
            "and message; save it, then copy its embed code into your website."
        )
        self.empty.setObjectName("webFormsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "muted")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.empty, 1)

        self.editor = QWidget()
        self.editor.setObjectName("webFormEditor")
        self._build_editor()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.editor)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 900])

        self.root.addWidget(
            title_label(
                "Website forms",
                "Forms on your website that create leads. Each field fills a lead field or goes into the lead's note.",
                self.new_button,
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(split, 1)
        self.shortcut(QKeySequence.StandardKey.New, self.new_form)
        self.shortcut(QKeySequence.StandardKey.Save, self.save)
        self.shortcut(QKeySequence(Qt.Key.Key_Delete), self.delete_form, widget=self.list)
        self._show_form(None)

    def _build_editor(self) -> None:
        self.name = QLineEdit()
        self.name.setAccessibleName("Form name")
        self.name.setPlaceholderText("e.g. Contact us")
        self.active = QCheckBox("Active (a switched-off form's address answers “not found”)")
        self.fields_table = FieldsTable()
        self.add_field_button = QPushButton("Add field")
        self.add_field_button.setToolTip("Add a field (Ctrl+Shift+N)")
        self.add_field_button.clicked.connect(self.add_field)
        self.remove_field_button = QPushButton("Remove field")
        self.remove_field_button.clicked.connect(self.fields_table.remove_current)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Move the field up (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.fields_table.move_current(-1))
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Move the field down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.fields_table.move_current(1))
        field_buttons = QHBoxLayout()
        for button in (self.add_field_button, self.remove_field_button):
            field_buttons.addWidget(button)
        field_buttons.addStretch(1)
        field_buttons.addWidget(self.up_button)
        field_buttons.addWidget(self.down_button)
        fields_box = QWidget()
        fields_layout = QVBoxLayout(fields_box)
        fields_layout.setContentsMargins(0, 0, 0, 0)
        fields_layout.addWidget(self.fields_table)
        fields_layout.addLayout(field_buttons)

        self.origins = QPlainTextEdit()
        self.origins.setObjectName("webFormOrigins")
        self.origins.setAccessibleName("Websites allowed to post")
        self.origins.setPlaceholderText("https://www.example.com")
        self.origins.setTabChangesFocus(True)
        self.origins.setFixedHeight(70)
        self.pipeline = QComboBox()
        self.pipeline.setAccessibleName("Pipeline")
        self.pipeline.currentIndexChanged.connect(lambda _: self._fill_statuses(None))
        self.status = QComboBox()
        self.status.setAccessibleName("Status")
        self.assignment = QComboBox()
        self.assignment.setAccessibleName("Who gets the leads")
        for value, text in ASSIGNMENT_LABELS.items():
            self.assignment.addItem(text, value)
        self.assignment.currentIndexChanged.connect(lambda _: self._assignment_changed())
        self.owner = UserPicker(self.api, active_only=True, parent=self)
        self.owner.setAccessibleName("Person who gets the leads")
        self.team = QComboBox()
        self.team.setAccessibleName("Team that shares the leads")
        self.redirect = QLineEdit()
        self.redirect.setAccessibleName("Thank-you page")
        self.redirect.setPlaceholderText("https://www.example.com/thanks (optional)")
        self.honeypot = QLineEdit(DEFAULT_HONEYPOT)
        self.honeypot.setAccessibleName("Spam-trap field")

        self.post_url = QLineEdit()
        self.post_url.setObjectName("webFormPostUrl")
        self.post_url.setReadOnly(True)
        self.post_url.setAccessibleName("Post address")
        self.post_url.setPlaceholderText("Save the form to get its address")
        self.copy_button = QPushButton("Copy embed code")
        self.copy_button.setToolTip("Copy ready HTML for your website to the clipboard")
        self.copy_button.clicked.connect(self.copy_embed_code)
        self.key_button = QPushButton("New key…")
        self.key_button.setToolTip("Give the form a new address; the old one stops working")
        self.key_button.clicked.connect(self.new_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.post_url, 1)
        key_row.addWidget(self.copy_button)
        key_row.addWidget(self.key_button)

        self.save_button = QPushButton("Save")
        self.save_button.setProperty("role", "primary")
        self.save_button.setToolTip("Save the form (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the form (Del in the list)")
        self.delete_button.clicked.connect(self.delete_form)
        bottom = QHBoxLayout()
        bottom.addWidget(self.delete_button)
        bottom.addStretch(1)
        bottom.addWidget(self.save_button)

        self.form_layout = form = QFormLayout()
        form.setSpacing(10)
        form.addRow("&Name", field(self.name))
        form.addRow("", self.active)
        form.addRow(
            "&Fields",
            field(
                fields_box,
                "“Fills” says which lead field gets the answer; answers kept in "
                "the note appear there as “Label: answer”.",
            ),
        )
        form.addRow(
            "&Websites",
            field(
                self.origins,
                "One per line, like https://www.example.com. Browsers on other "
                "sites are refused; posts from a server (no Origin) are taken.",
            ),
        )
        form.addRow("&Pipeline", field(self.pipeline))
        form.addRow("S&tatus", field(self.status))
        form.addRow("&Leads go to", field(self.assignment))
        self.owner_row = field(self.owner)
        self.team_row = field(self.team, "Shared in turn among the team's active members.")
        form.addRow("Pers&on", self.owner_row)
        form.addRow("Tea&m", self.team_row)
        form.addRow(
            "T&hank-you page",
            field(self.redirect, "Where a visitor lands after sending; empty: a short thank-you answer."),
        )
        form.addRow(
            "Spam &trap",
            field(self.honeypot, "A hidden field people never see; robots fill it, and their posts make no lead."),
        )
        key_box = QWidget()
        key_box.setLayout(key_row)
        key_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Address", key_box)
        layout = QVBoxLayout(self.editor)
        layout.setContentsMargins(12, 0, 0, 0)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addLayout(bottom)

        self.shortcut(QKeySequence("Ctrl+Shift+N"), self.add_field)
        self.shortcut(QKeySequence("Alt+Up"), lambda: self.fields_table.move_current(-1), widget=self.fields_table)
        self.shortcut(QKeySequence("Alt+Down"), lambda: self.fields_table.move_current(1), widget=self.fields_table)
        self.fields_table.on_edit.append(self._edited)
        for signal in (
            self.name.textChanged,
            self.active.toggled,
            self.origins.textChanged,
            self.status.currentIndexChanged,
            self.assignment.currentIndexChanged,
            self.owner.user_changed,
            self.team.currentIndexChanged,
            self.redirect.textChanged,
            self.honeypot.textChanged,
            self.pipeline.currentIndexChanged,
        ):
            signal.connect(self._edited)

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load(self._fetch(), self._arrived)

    async def _fetch(self) -> tuple[list[WebFormOut], list[PipelineOut], list[TeamOut]]:
        forms, pipelines, teams = await asyncio.gather(
            admin_api.web_forms(self.api), admin_api.pipelines(self.api), admin_api.list_teams(self.api)
        )
        await self.names.ensure(f.owner_id for f in forms)
        return forms, pipelines, teams

    def _arrived(self, data: tuple[list[WebFormOut], list[PipelineOut], list[TeamOut]]) -> None:
        forms, self.pipelines, teams = data
        self.teams = {t.id: t.name for t in teams}
        self._show_list(forms)
        if self.dirty:  # someone else's change must not wipe what is being typed; Save tells of a conflict
            self._select(self.current_id)
            return
        form = self.forms.get(self.current_id) if self.current_id is not None else None
        form = form or next(iter(self.forms.values()), None)
        self._select(form.id if form else None)
        self._show_form(form)

    def _show_list(self, forms: list[WebFormOut]) -> None:
        self.forms = {f.id: f for f in forms}
        self.list.blockSignals(True)
        self.list.clear()
        for form in forms:
            state = "Active" if form.active else "Switched off"
            item = QListWidgetItem(f"{form.name}\n{state} · {len(form.fields)} fields")
            item.setData(ID_ROLE, form.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not forms)
        self.list.setVisible(bool(forms))

    def _select(self, form_id: int | None) -> None:
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == form_id:
                self.list.setCurrentRow(row)
        self.list.blockSignals(False)

    def _picked(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            form_id = int(item.data(ID_ROLE))

            def show() -> None:
                self._select(form_id)
                self._show_form(self.forms.get(form_id))

            self._leave(show)

    def _leave(self, then: Callable[[], None]) -> None:
        """Go elsewhere, asking first when the editor holds unsaved changes."""
        if not self.dirty:
            then()
            return
        self._select(self.current_id)  # stay put until the answer

        def discard() -> None:
            self.dirty = False
            then()

        confirm(self, "Unsaved changes", "Discard the changes to this form?", "Discard", discard)

    # --- the editor ----------------------------------------------------------------------------

    def _show_form(self, form: WebFormOut | None) -> None:
        """Put a form (None: a new one, with starter fields) in the editor."""
        self._filling = True
        self.current_id = form.id if form else None
        self.name.setText(form.name if form else "")
        self.active.setChecked(form.active if form else True)
        self.fields_table.set_rows(form.fields if form else STARTER_FIELDS)
        self.origins.setPlainText("\n".join(form.allowed_origins) if form else "")
        self.pipeline.clear()
        self.pipeline.addItem("The default pipeline", None)
        for pipeline in self.pipelines:
            self.pipeline.addItem(pipeline.name, pipeline.id)
        self.pipeline.setCurrentIndex(max(self.pipeline.findData(form.pipeline_id if form else None), 0))
        self._fill_statuses(form.status_id if form else None)
        self.assignment.setCurrentIndex(max(self.assignment.findData(form.assignment if form else "rules"), 0))
        owner_id = form.owner_id if form else None
        self.owner.set_user(owner_id, self.names.name(owner_id, "") if owner_id is not None else "")
        self.team.clear()
        self.team.addItem("Choose a team…", None)
        for team_id, name in sorted(self.teams.items(), key=lambda t: t[1].lower()):
            self.team.addItem(name, team_id)
        self.team.setCurrentIndex(max(self.team.findData(form.team_id if form else None), 0))
        self.redirect.setText((form.redirect_url or "") if form else "")
        self.honeypot.setText(form.honeypot if form else DEFAULT_HONEYPOT)
        self.post_url.setText(form.post_url if form else "")
        self._assignment_changed()
        self._filling = False
        self.dirty = False
        self._update_actions()

    def _fill_statuses(self, status_id: int | None) -> None:
        pipeline_id = self.pipeline.currentData()
        pipeline = next((p for p in self.pipelines if p.id == pipeline_id), None)
        if pipeline is None:
            pipeline = next((p for p in self.pipelines if p.is_default), None)
        self.status.clear()
        self.status.addItem("Its first open status", None)
        for status in pipeline.statuses if pipeline is not None else []:
            if status.kind == "open":
                self.status.addItem(status.name, status.id)
        self.status.setCurrentIndex(max(self.status.findData(status_id), 0))

    def _assignment_changed(self) -> None:
        """Only the choice that matters shows: a person, a team, or neither for the rules."""
        how = self.assignment.currentData()
        self.form_layout.setRowVisible(self.owner_row, how == "owner")
        self.form_layout.setRowVisible(self.team_row, how == "team")

    def _edited(self, *_: Any) -> None:
        if not self._filling:
            self.dirty = True

    def _update_actions(self) -> None:
        edit = can(self.me, "edit", "integrations")
        saved = self.current_id is not None
        self.new_button.setEnabled(edit)
        self.editor.setEnabled(edit)
        self.copy_button.setEnabled(saved)
        self.key_button.setEnabled(saved and edit)
        set_danger(self.delete_button, saved and edit)

    def field_widgets(self) -> dict[str, QWidget]:
        return {
            "name": self.name,
            "fields": self.fields_table,
            "allowed_origins": self.origins,
            "pipeline_id": self.pipeline,
            "status_id": self.status,
            "assignment": self.assignment,
            "owner_id": self.owner,
            "team_id": self.team,
            "redirect_url": self.redirect,
            "honeypot": self.honeypot,
        }

    def body(self) -> dict[str, Any] | None:
        """The form as the server takes it, or None after marking what is missing."""
        rows = self.fields_table.rows()
        if not rows:
            mark_field(self.fields_table, "Add at least one field.")
            return None
        for number, row in enumerate(rows, 1):
            if not row["label"] or not row["name"]:
                self.fields_table.setCurrentCell(number - 1, 0)
                mark_field(self.fields_table, f"Field {number} needs a label and a name.")
                return None
        how = self.assignment.currentData()
        if how == "owner" and self.owner.value() is None:
            mark_field(self.owner, "Choose a person from the suggestions.")
            return None
        return {
            "name": self.name.text().strip(),
            "active": self.active.isChecked(),
            "fields": rows,
            "allowed_origins": [line.strip() for line in self.origins.toPlainText().splitlines() if line.strip()],
            "pipeline_id": self.pipeline.currentData(),
            "status_id": self.status.currentData(),
            "assignment": how,
            "owner_id": self.owner.value() if how == "owner" else None,
            "team_id": self.team.currentData() if how == "team" else None,
            "redirect_url": self.redirect.text().strip() or None,
            "honeypot": self.honeypot.text().strip() or DEFAULT_HONEYPOT,
        }

    # --- changes -------------------------------------------------------------------------------

    def new_form(self) -> None:
        if not can(self.me, "edit", "integrations"):
            return

        def start() -> None:
            self._select(None)
            self._show_form(None)
            self.say("")
            self.name.setFocus()

        self._leave(start)

    def add_field(self) -> None:
        row = self.fields_table.add_row()
        self.fields_table.cell(row, LABEL).setFocus()

    def _saved(self, form: WebFormOut, words: str) -> None:
        if form.owner_id is not None:
            self.names.remember(form.owner_id, self.owner.text().split(" <")[0])
        self.forms[form.id] = form
        self._show_list(sorted(self.forms.values(), key=lambda f: (f.name.lower(), f.id)))
        self._select(form.id)
        self._show_form(form)
        self.say(words)

    def save(self) -> None:
        if not self.save_button.isEnabled() or not self.editor.isEnabled():
            return
        body = self.body()
        if body is None:
            return
        form_id = self.current_id
        if form_id is None:
            call = admin_api.create_web_form(self.api, body)
        else:
            version = self.forms[form_id].version
            call = admin_api.update_web_form(self.api, form_id, {**body, "version": version})

        def saved(form: WebFormOut) -> None:
            self._saved(
                form,
                f"The form {form.name} is saved. “Copy embed code” gives the HTML for your website."
                if form_id is None
                else f"The form {form.name} is saved.",
            )

        operations.run(
            self,
            call,
            success=saved,
            changed=FORMS,
            fields=self.field_widgets(),
            reload=self._discard,
            busy=self.save_button,
        )

    def _discard(self) -> None:
        """After a conflict: drop the edits and show the form as the server has it."""
        self.dirty = False
        self.reload()

    def delete_form(self) -> None:
        form = self.forms.get(self.current_id) if self.current_id is not None else None
        if form is None or not self.delete_button.isEnabled():
            return

        def delete() -> None:
            def deleted(_: object) -> None:
                self.forms.pop(form.id, None)
                self._show_list(list(self.forms.values()))
                first = next(iter(self.forms.values()), None)
                self._select(first.id if first else None)
                self._show_form(first)
                self.say(f"The form {form.name} is deleted; websites posting to it now get “not found”.")

            operations.run(self, admin_api.delete_web_form(self.api, form.id), success=deleted, changed=FORMS)

        confirm(
            self,
            "Delete form",
            f"Delete the form {form.name}? Its address stops working; the leads it made stay.",
            "Delete",
            delete,
        )

    def new_key(self) -> None:
        form_id = self.current_id
        if form_id is None or not self.key_button.isEnabled():
            return

        def renew() -> None:
            def renewed(form: WebFormOut) -> None:
                self.forms[form.id] = form
                self.post_url.setText(form.post_url)
                self.say(
                    "The form has a new address: copy the embed code again into your website. "
                    "The old address no longer works."
                )

            operations.run(
                self,
                admin_api.new_form_key(self.api, form_id),
                success=renewed,
                changed=FORMS,
                busy=self.key_button,
            )

        confirm(
            self,
            "New key",
            "Give this form a new address? Websites still using the old embed code stop "
            "sending leads until you paste the new code.",
            "New key",
            renew,
        )

    def copy_embed_code(self) -> None:
        form_id = self.current_id
        if form_id is None:
            return

        def arrived(snippet: EmbedSnippet) -> None:
            QGuiApplication.clipboard().setText(snippet.html)
            if snippet.public_url_set:
                self.say("The embed code is on the clipboard: paste it into your website's page.")
            else:
                self.say(
                    f"The embed code is on the clipboard, but it posts to {snippet.post_url}, this server's "
                    "address as this computer sees it. Set the server's public address in Settings so "
                    "websites can reach it.",
                    error=True,
                )

        self.load(admin_api.form_snippet(self.api, form_id), arrived)

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-website-forms", lambda: None)]
