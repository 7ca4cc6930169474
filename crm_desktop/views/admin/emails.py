"""The E-mail admin page (issue #22): templates with merge tags (write, share, remove) and the
suppression list (search, add by hand, remove). Sending itself happens from a record's window."""

from __future__ import annotations

from datetime import date
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import emails as emails_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, TemplatesBeside, can, confirm, field, style_list, title_label
from crm_server.contract.auth import Me
from crm_server.contract.common import Page
from crm_server.contract.emails import (
    MERGE_TAGS,
    EmailEntity,
    SuppressionIn,
    SuppressionOut,
    TemplateIn,
    TemplateOut,
    Visibility,
)

ENTITY_WORDS = {"lead": "Leads", "client": "Clients", "invoice": "Invoices", "ticket": "Tickets"}
VISIBILITY_WORDS = {"private": "Only me", "team": "My team", "everyone": "Everyone"}


class EmailsPage(AdminPage):
    title = "E-mail"
    areas = frozenset({"emails"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.templates: list[TemplateOut] = []
        self.current_id: int | None = None
        self.root.addWidget(
            title_label(
                "E-mail", "Templates people send from leads, clients and tickets, and addresses nothing goes to."
            )
        )
        self.root.addWidget(self.notice)

        # --- templates ---
        self.side = TemplatesBeside(self, "emailTemplateList", self._pick, self.new_template)
        self.template_list, self.new_button = self.side.list, self.side.new_button
        editor, form = self.side.editor, self.side.form
        self.name = QLineEdit(editor)
        self.name.setObjectName("templateName")
        self.name.setAccessibleName("Name")
        self.entity = QComboBox(editor)
        self.entity.setObjectName("templateEntity")
        self.entity.setAccessibleName("For")
        for code, words in ENTITY_WORDS.items():
            self.entity.addItem(words, code)
        self.entity.currentIndexChanged.connect(self._show_tags)
        self.visibility = QComboBox(editor)
        self.visibility.setObjectName("templateVisibility")
        self.visibility.setAccessibleName("Shared with")
        for code, words in VISIBILITY_WORDS.items():
            self.visibility.addItem(words, code)
        self.subject = QLineEdit(editor)
        self.subject.setObjectName("templateSubject")
        self.subject.setAccessibleName("Subject")
        self.body = QPlainTextEdit(editor)
        self.body.setObjectName("templateBody")
        self.body.setAccessibleName("Message")
        self.body.setMinimumHeight(160)
        self.tags = QLabel("", editor)
        self.tags.setObjectName("templateTags")
        self.tags.setProperty("role", "caption")
        self.tags.setWordWrap(True)
        self.save_button = QPushButton("Save template", editor)
        self.save_button.setObjectName("templateSave")
        self.save_button.setProperty("role", "primary")
        self.save_button.clicked.connect(self.save)
        self.delete_button = QPushButton("Remove", editor)
        self.delete_button.clicked.connect(self.remove)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.save_button)
        form.addRow("&Name", field(self.name))
        form.addRow("&For", field(self.entity))
        form.addRow("Shared &with", field(self.visibility))
        form.addRow("&Subject", field(self.subject))
        form.addRow("&Message", field(self.body, "Blank lines make paragraphs; **bold**."))
        form.addRow("", self.tags)
        form.addRow(buttons)
        self.root.addWidget(self.side.columns)

        # --- suppression list ---
        self.search = QLineEdit(self)
        self.search.setObjectName("suppressionSearch")
        self.search.setAccessibleName("Search addresses")
        self.search.setPlaceholderText("Search addresses…")
        self.search.textChanged.connect(lambda _: self.reload_suppressions())
        self.suppression_list = QListWidget(self)
        self.suppression_list.setObjectName("suppressionList")
        self.suppression_list.setAccessibleName("Suppressed addresses")
        self.suppression_list.setMinimumHeight(140)
        style_list(self.suppression_list)
        self.address = QLineEdit(self)
        self.address.setObjectName("suppressionAddress")
        self.address.setAccessibleName("Address")
        self.address.setPlaceholderText("someone@example.com")
        self.reason = QLineEdit(self)
        self.reason.setObjectName("suppressionReason")
        self.reason.setAccessibleName("Reason")
        self.reason.setPlaceholderText("Why nothing may be sent there")
        self.add_button = QPushButton("Add", self)
        self.add_button.clicked.connect(self.add_suppression)
        self.remove_button = QPushButton("Remove selected", self)
        self.remove_button.clicked.connect(self.remove_suppression)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setObjectName("suppressionExport")
        self.export_button.setToolTip("The list as shown (searched) as a CSV file for a spreadsheet")
        self.export_button.clicked.connect(self.ask_export)
        self.export_button.setEnabled(can(me, "export"))
        add_row = QHBoxLayout()
        add_row.addWidget(field(self.address), 2)
        add_row.addWidget(field(self.reason), 3)
        add_row.addWidget(self.add_button)
        add_row.addWidget(self.remove_button)
        heading = QLabel("Suppression list", self)
        heading.setProperty("role", "heading")
        self.root.addWidget(heading)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.export_button)
        self.root.addLayout(search_row)
        self.root.addWidget(self.suppression_list, 1)
        self.root.addLayout(add_row)
        editable = can(me, "edit")
        for w in (self.add_button, self.remove_button, self.address, self.reason):
            w.setEnabled(editable)
        self._show_tags()

    # --- templates ---

    def reload(self) -> None:
        self.load(emails_api.templates(self.api), self._templates)
        self.reload_suppressions()

    def _templates(self, templates: list[TemplateOut]) -> None:
        self.templates = templates
        self.side.show(
            templates,
            self.current_id,
            lambda t: QListWidgetItem(
                f"{t.name}  ·  {ENTITY_WORDS[t.entity.value]}  ·  {VISIBILITY_WORDS[t.visibility.value]}"
            ),
        )

    def _pick(self, row: int) -> None:
        if not 0 <= row < len(self.templates):
            return
        t = self.templates[row]
        self.current_id = t.id
        self.name.setText(t.name)
        self.entity.setCurrentIndex(self.entity.findData(t.entity.value))
        self.visibility.setCurrentIndex(self.visibility.findData(t.visibility.value))
        self.subject.setText(t.subject)
        self.body.setPlainText(t.body)

    def _show_tags(self, *_: object) -> None:
        tags = MERGE_TAGS[str(self.entity.currentData() or "lead")]
        self.tags.setText("Merge tags: " + "  ".join("{{" + t + "}}" for t in tags))

    def new_template(self) -> None:
        self.current_id = None
        self.template_list.clearSelection()
        for w in (self.name, self.subject):
            w.clear()
        self.body.clear()
        self.name.setFocus()

    def payload(self) -> TemplateIn:
        return TemplateIn.model_construct(
            name=self.name.text(),
            entity=EmailEntity(self.entity.currentData()),
            subject=self.subject.text(),
            body=self.body.toPlainText(),
            visibility=Visibility(self.visibility.currentData()),
        )

    def save(self) -> None:
        def saved(t: TemplateOut) -> None:
            self.current_id = t.id
            self.say(f"The template {t.name} is saved.")
            self.reload()

        operations.run(
            self,
            emails_api.save_template(self.api, self.payload(), self.current_id),
            success=saved,
            changed=emails_api.CHANGED,
            fields={"name": self.name, "subject": self.subject, "body": self.body, "visibility": self.visibility},
            busy=self.save_button,
        )

    def remove(self) -> None:
        template_id = self.current_id
        if template_id is None:
            return

        def go() -> None:
            operations.run(
                self,
                emails_api.delete_template(self.api, template_id),
                success=lambda _: self._removed(),
                changed=emails_api.CHANGED,
            )

        confirm(self, "Remove template", f"Remove the template {self.name.text()}?", "Remove", go)

    def _removed(self) -> None:
        self.new_template()
        self.reload()

    # --- suppression list ---

    def reload_suppressions(self) -> None:
        if can(self.me, "view"):
            self.load(emails_api.suppressions(self.api, self.search.text().strip()), self._suppressions)

    def _suppressions(self, page: Page[SuppressionOut]) -> None:
        self.suppression_list.clear()
        for s in page.items:
            item = QListWidgetItem(
                f"{s.address}  —  {s.reason}  ({format.label(s.source)}, {format.moment(s.created_at)})"
            )
            item.setData(256, s.id)
            self.suppression_list.addItem(item)

    def ask_export(self) -> None:
        """The save dialog, opened without a nested event loop; its choice starts the download."""
        dialog = QFileDialog(self, "Export the suppression list")
        dialog.setObjectName("suppressionExportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(f"suppression-list-{date.today().isoformat()}.csv")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(self.export_to)
        dialog.open()

    def export_to(self, path: str) -> None:
        self.export_button.setEnabled(False)

        def done(size: int) -> None:
            self.say(f"Exported the suppression list to {path} ({size / 1024:,.1f} KB).")

        task = self.load(emails_api.export_suppressions(self.api, path, self.search.text().strip()), done)
        button, allowed = self.export_button, can(self.me, "export")
        task.add_done_callback(lambda _: button.setEnabled(allowed) if shiboken6.isValid(button) else None)

    def add_suppression(self) -> None:
        data = SuppressionIn.model_construct(address=self.address.text().strip(), reason=self.reason.text().strip())

        def added(s: SuppressionOut) -> None:
            self.address.clear()
            self.reason.clear()
            self.say(f"Nothing will be sent to {s.address}.")
            self.reload_suppressions()

        operations.run(
            self,
            emails_api.suppress(self.api, data),
            success=added,
            changed=emails_api.CHANGED,
            fields={"address": self.address, "reason": self.reason},
            busy=self.add_button,
        )

    def remove_suppression(self) -> None:
        item = self.suppression_list.currentItem()
        if item is None:
            return
        suppression_id: Any = item.data(256)
        operations.run(
            self,
            emails_api.unsuppress(self.api, int(suppression_id)),
            success=lambda _: self.reload_suppressions(),
            changed=emails_api.CHANGED,
        )
