"""The WhatsApp templates admin page (issue #23): write a template (category, language, optional
header and footer, a body whose {{1}}, {{2}} … each stand for a record field, buttons), submit it
to WhatsApp for approval and follow its status; a rejection shows WhatsApp's reason in words. An
edit of a submitted template goes to WhatsApp again and waits for approval before it can be sent."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import whatsapp as whatsapp_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    ScreenshotState,
    TemplatesBeside,
    can,
    field,
    title_label,
)
from crm_desktop.views.whatsapp.campaign import WhatsAppCampaignDialog
from crm_server.contract.auth import Me
from crm_server.contract.whatsapp import VARIABLE_FIELDS, TemplateButton, TemplateIn, TemplateOut

CATEGORY_WORDS = {
    "MARKETING": "Marketing (offers, news)",
    "UTILITY": "Utility (an order, an appointment)",
    "AUTHENTICATION": "Authentication (a code)",
}
VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MAX_VARIABLES = 20


def parse_buttons(text: str) -> list[TemplateButton]:
    """One button a line: "Tell me more" (a quick reply), "See the offer | https://…" (a link) or
    "Call us | +40722123456" (a call); the server judges each one."""
    buttons = []
    for line in text.splitlines():
        label, _, target = (part.strip() for part in line.partition("|"))
        if not label and not target:
            continue
        if target.startswith("+"):
            buttons.append(TemplateButton.model_construct(type="PHONE_NUMBER", text=label, phone_number=target))
        elif target:
            buttons.append(TemplateButton.model_construct(type="URL", text=label, url=target))
        else:
            buttons.append(TemplateButton.model_construct(type="QUICK_REPLY", text=label))
    return buttons


def button_lines(buttons: list[TemplateButton]) -> str:
    return "\n".join(
        b.text + (f" | {b.url}" if b.url else f" | {b.phone_number}" if b.phone_number else "") for b in buttons
    )


def status_line(template: TemplateOut) -> str:
    """ "Rejected: The category does not fit the content … (INCORRECT_CATEGORY)"."""
    words = template.status_words
    return f"{words}: {template.reason_words}" if template.reason_words else words


def list_item(template: TemplateOut) -> QListWidgetItem:
    """A template as the list shows it: name and language, its status under them (the reason on hover)."""
    item = QListWidgetItem(f"{template.name} ({template.language})\n{template.status_words}")
    item.setToolTip(status_line(template))
    return item


class WhatsAppTemplatesPage(AdminPage):
    title = "WhatsApp templates"
    # WhatsApp's answer comes by webhook: its live event (announced as "integrations.whatsapp_template"
    # on the change bus by the session) reloads the page where it is open.
    areas = frozenset({"whatsapp", "integrations.whatsapp_template"})
    live_entities = frozenset({"whatsapp_template"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.templates: list[TemplateOut] = []
        self.current_id: int | None = None
        self.sync_button = QPushButton("Sync from WhatsApp", self)
        self.sync_button.setObjectName("whatsappTemplatesSync")
        self.sync_button.setToolTip("Read every template and its approval status from WhatsApp now")
        self.sync_button.clicked.connect(self.sync)
        self.campaign_button = QPushButton("New WhatsApp campaign…", self)
        self.campaign_button.setObjectName("whatsappNewCampaign")
        self.campaign_button.setToolTip("Send an approved template to every opted-in number of a list")
        self.campaign_button.clicked.connect(self.new_campaign)
        self.campaign_dialog: WhatsAppCampaignDialog | None = None
        self.root.addWidget(
            title_label(
                "WhatsApp templates",
                "Messages WhatsApp must approve before they can start a conversation; "
                "each {{1}}, {{2}} … is filled from the lead or client.",
                self.campaign_button,
                self.sync_button,
            )
        )
        self.root.addWidget(self.notice)

        self.side = TemplatesBeside(self, "whatsappTemplateList", self._pick, self.new_template)
        self.template_list, self.new_button = self.side.list, self.side.new_button
        editor, form = self.side.editor, self.side.form
        self.status = QLabel("New template: save it, then submit it for approval.", editor)
        self.status.setObjectName("whatsappTemplateStatus")
        self.status.setWordWrap(True)
        self.name = QLineEdit(editor)
        self.name.setObjectName("whatsappTemplateName")
        self.name.setAccessibleName("Name")
        self.name.setPlaceholderText("spring_offer")
        self.category = QComboBox(editor)
        self.category.setObjectName("whatsappTemplateCategory")
        self.category.setAccessibleName("Category")
        for code, words in CATEGORY_WORDS.items():
            self.category.addItem(words, code)
        self.language = QLineEdit("en_US", editor)
        self.language.setObjectName("whatsappTemplateLanguage")
        self.language.setAccessibleName("Language")
        self.language.setToolTip("A WhatsApp language code: en_US, en_GB, ro …")
        self.header = QLineEdit(editor)
        self.header.setObjectName("whatsappTemplateHeader")
        self.header.setAccessibleName("Header")
        self.header.setPlaceholderText("Optional, one line")
        self.body = QPlainTextEdit(editor)
        self.body.setObjectName("whatsappTemplateBody")
        self.body.setAccessibleName("Message")
        self.body.setMinimumHeight(80)
        self.body.setMaximumHeight(110)
        self.body.textChanged.connect(self._show_variables)
        self.variables_box = QWidget(editor)
        self.variables_form = QFormLayout(self.variables_box)
        self.variables_form.setContentsMargins(0, 0, 0, 0)
        self.variable_pickers: list[QComboBox] = []
        self.footer = QLineEdit(editor)
        self.footer.setObjectName("whatsappTemplateFooter")
        self.footer.setAccessibleName("Footer")
        self.footer.setPlaceholderText("Optional, one line, e.g. Reply STOP to stop these messages")
        self.buttons = QPlainTextEdit(editor)
        self.buttons.setObjectName("whatsappTemplateButtons")
        self.buttons.setAccessibleName("Buttons")
        self.buttons.setFixedHeight(64)
        self.buttons.setPlaceholderText("Tell me more\nSee the offer | https://example.com/offer")
        self.save_button = QPushButton("Save", editor)
        self.save_button.setObjectName("whatsappTemplateSave")
        self.save_button.clicked.connect(self.save)
        self.submit_button = QPushButton("Submit for approval", editor)
        self.submit_button.setObjectName("whatsappTemplateSubmit")
        self.submit_button.setProperty("role", "primary")
        self.submit_button.clicked.connect(self.submit)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.save_button)
        actions.addWidget(self.submit_button)
        form.addRow("Status", self.status)
        form.addRow("&Name", field(self.name, "Lower case letters, digits and _"))
        form.addRow("&Category", field(self.category))
        form.addRow("&Language", field(self.language))
        form.addRow("&Header", field(self.header))
        form.addRow("&Message", field(self.body, "Use {{1}}, {{2}} … for what changes per customer."))
        form.addRow("Variables", field(self.variables_box))
        form.addRow("&Footer", field(self.footer))
        form.addRow("&Buttons", field(self.buttons, "One a line; “text | https://…” is a link."))
        form.addRow(actions)
        self.root.addWidget(self.side.columns, 1)
        editable = can(me, "edit", "integrations")
        for widget in (self.save_button, self.submit_button, self.new_button, self.sync_button):
            widget.setEnabled(editable)
        self._show_variables()
        self._update_actions()

    # --- loading ---

    def reload(self) -> None:
        self.load(whatsapp_api.templates(self.api), self._templates)

    def _templates(self, templates: list[TemplateOut]) -> None:
        self.templates = templates
        row = self.side.show(templates, self.current_id, list_item)
        if row >= 0:
            self._pick(row)

    def current(self) -> TemplateOut | None:
        return next((t for t in self.templates if t.id == self.current_id), None)

    def _pick(self, row: int) -> None:
        if not 0 <= row < len(self.templates):
            return
        t = self.templates[row]
        self.current_id = t.id
        self.name.setText(t.name)
        self.category.setCurrentIndex(max(0, self.category.findData(t.category)))
        self.language.setText(t.language)
        self.header.setText(t.header or "")
        self.body.setPlainText(t.body)
        for picker, name in zip(self.variable_pickers, t.variables, strict=False):
            picker.setCurrentIndex(max(0, picker.findData(name)))
        self.footer.setText(t.footer or "")
        self.buttons.setPlainText(button_lines(t.buttons))
        self._show_status(t)
        self._update_actions()

    def _show_variables(self) -> None:
        """One field picker per {{n}} in the message, keeping what was chosen."""
        found = [int(n) for n in VARIABLE.findall(self.body.toPlainText()) if n.isdigit()]
        count = min(max(found, default=0), MAX_VARIABLES)
        if count == len(self.variable_pickers):
            return
        chosen = [p.currentData() for p in self.variable_pickers]
        while self.variables_form.rowCount():
            self.variables_form.removeRow(0)
        self.variable_pickers = []
        for index in range(count):
            picker = QComboBox(self.variables_box)
            picker.setAccessibleName(f"Field for {{{{{index + 1}}}}}")
            for code, words in VARIABLE_FIELDS.items():
                picker.addItem(words, code)
            if index < len(chosen):
                picker.setCurrentIndex(max(0, picker.findData(chosen[index])))
            self.variables_form.addRow(f"{{{{{index + 1}}}}}", picker)
            self.variable_pickers.append(picker)
        if not count:
            self.variables_form.addRow(QLabel("None: the message has no {{1}}.", self.variables_box))

    def _show_status(self, template: TemplateOut | None) -> None:
        """The status in words; a refusal (rejected, paused, disabled) in the alert colour."""
        refused = template is not None and template.status in ("REJECTED", "PAUSED", "DISABLED")
        self.status.setText(
            status_line(template) if template else "New template: save it, then submit it for approval."
        )
        self.status.setProperty("role", "alert" if refused else "")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _update_actions(self) -> None:
        template = self.current()
        submitted = template is not None and template.status in ("PENDING", "APPROVED", "IN_APPEAL")
        self.submit_button.setEnabled(can(self.me, "edit", "integrations") and not submitted)
        self.save_button.setText("Save and submit again" if template is not None and submitted else "Save")

    # --- actions ---

    def new_template(self) -> None:
        self.current_id = None
        self.template_list.clearSelection()
        for line in (self.name, self.header, self.footer):
            line.clear()
        self.body.clear()
        self.buttons.clear()
        self._show_status(None)
        self._update_actions()
        self.name.setFocus()

    def payload(self) -> TemplateIn:
        return TemplateIn.model_construct(
            name=self.name.text().strip(),
            category=self.category.currentData(),
            language=self.language.text().strip(),
            body=self.body.toPlainText(),
            variables=[str(p.currentData()) for p in self.variable_pickers],
            header=self.header.text().strip() or None,
            footer=self.footer.text().strip() or None,
            buttons=parse_buttons(self.buttons.toPlainText()),
        )

    def _fields(self) -> dict[str, QWidget]:
        return {
            "name": self.name,
            "category": self.category,
            "language": self.language,
            "header": self.header,
            "body": self.body,
            "variables": self.variables_box,
            "footer": self.footer,
            "buttons": self.buttons,
        }

    def _saved(self, template: TemplateOut, said: str) -> None:
        self.current_id = template.id
        self.say(said.format(name=template.name))
        self._show_status(template)
        self.reload()

    def save(self) -> None:
        operations.run(
            self,
            whatsapp_api.save_template(self.api, self.payload(), self.current_id),
            success=lambda t: self._saved(
                t, "{name} is saved." if t.status == "DRAFT" else "{name} is sent to WhatsApp for approval again."
            ),
            changed=whatsapp_api.CHANGED,
            fields=self._fields(),
            busy=self.save_button,
        )

    def submit(self) -> None:
        """What is on screen goes: a draft is saved and submitted; a rejected or paused one is
        saved, which sends it to WhatsApp again."""
        template = self.current()

        async def go() -> TemplateOut:
            saved = await whatsapp_api.save_template(self.api, self.payload(), self.current_id)
            self.current_id = saved.id
            if template is not None and template.submitted_at is not None:
                return saved
            return await whatsapp_api.submit_template(self.api, saved.id)

        operations.run(
            self,
            go(),
            success=lambda t: self._saved(t, "{name} is submitted: WhatsApp usually answers within a day."),
            changed=whatsapp_api.CHANGED,
            fields=self._fields(),
            busy=self.submit_button,
        )

    def new_campaign(self) -> WhatsAppCampaignDialog:
        """The campaign dialog with the templates as listed now (only approved ones can be picked)."""
        self.campaign_dialog = dialog = WhatsAppCampaignDialog(self.api, self.templates, self)
        dialog.open()
        return dialog

    def sync(self) -> None:
        operations.run(
            self,
            whatsapp_api.sync_templates(self.api),
            success=lambda _: self.reload(),
            changed=whatsapp_api.CHANGED,
            busy=self.sync_button,
        )

    def screenshot_states(self) -> list[ScreenshotState]:
        """The page as the demo has it, then with three templates (approved, rejected, a draft) and
        the rejected one open, its reason in words (as WhatsApp's webhook would have made it)."""

        def samples() -> None:
            from datetime import UTC, datetime

            now = datetime.now(UTC)
            base: dict[str, Any] = {"language": "en_US", "authored": True, "submitted_at": now}
            self._templates(
                [
                    TemplateOut(
                        id=1, name="welcome", category="UTILITY", status="APPROVED",
                        body="Hello {{1}}, thanks for your interest in {{2}}!",
                        variables=["contact.name", "company.name"], **base,
                    ),
                    TemplateOut(
                        id=2, name="spring_offer", category="UTILITY", status="REJECTED",
                        reason="INCORRECT_CATEGORY", header="Spring offer",
                        body="Hello {{1}}, {{2}} has a spring offer for you: 20% off windows until Friday.",
                        variables=["contact.name", "company.name"], footer="Reply STOP to stop these messages",
                        buttons=[
                            TemplateButton(type="QUICK_REPLY", text="Tell me more"),
                            TemplateButton(type="URL", text="See the offer", url="https://example.com/offer"),
                        ],
                        **base,
                    ),
                    TemplateOut(
                        id=3, name="appointment_reminder", category="UTILITY", status="DRAFT",
                        body="Hi {{1}}, a reminder of your appointment with {{2}} tomorrow.",
                        variables=["contact.name", "owner.full_name"], language="en_US",
                    ),
                ]
            )  # fmt: skip
            self.template_list.setCurrentRow(1)

        return [("admin-whatsapp-templates", lambda: None), ("admin-whatsapp-templates-rejected", samples)]
