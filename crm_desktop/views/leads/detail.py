"""One lead: its fields as an editable form, its history, follow-ups and likely duplicates; and the
dialog that makes a new lead.

    open_lead(parent, session, lead_id)     # a window per lead; a second call raises the open one
    NewLeadDialog(session, parent).open()   # `created(LeadOut)` once the server made it

Saving sends only what changed, with the version that was read (409: someone saved first, and
"Reload" fetches theirs). Refusals land next to their field. The stage selector and the Won / Lost
buttons move the lead as the board does (move_dialogs.ask_move: Lost asks the reason, Won offers
to make a client); unsaved edits stay. The header shows the value as the lead's card does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import activities as activities_api
from crm_desktop.api import campaigns as campaigns_api
from crm_desktop.api import leads as leads_api
from crm_desktop.api import partners as partners_api
from crm_desktop.session import Session
from crm_desktop.views.admin.common import UserNames, confirm, field
from crm_desktop.views.leads.lookups import sales_lookups
from crm_desktop.views.leads.move_dialogs import _MoveDialog, ask_move, move_call
from crm_desktop.views.leads.partner_line import partner_text
from crm_desktop.widgets.document_window import Action, DocumentWindow, section
from crm_desktop.widgets.edit_buffer import EditBuffer, Values
from crm_desktop.widgets.field_conflict import Conflicted, ask_which, save_guarded, shown
from crm_desktop.widgets.form import DateEdit
from crm_desktop.widgets.record_window import WindowRegistry, lazy, show_window
from crm_desktop.widgets.timeline import TimelineView
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.activities import FollowUpOut, FollowUpStatus, NoteIn, NoteOut
from crm_server.contract.campaigns import CampaignEntity
from crm_server.contract.events import LiveEvent
from crm_server.contract.leads import (
    DuplicateOut,
    LeadIn,
    LeadOut,
    LeadQuery,
    MoveResult,
    StatusKind,
    StatusOut,
)

log = logging.getLogger(__name__)

NO_DATE = QDate(2000, 1, 1)  # the date edit's minimum, shown as "No date"
TEXT_FIELDS = ("person_name", "company", "email", "phone", "territory", "product_interest")

_open: WindowRegistry[LeadDetail] = WindowRegistry()  # (session, lead) -> its window


DETAIL_LABELS = {"page_id": "page", "form_id": "form", "ad_id": "ad", "leadgen_id": "lead"}


def source_text(lead: LeadOut) -> str:
    """Where an integration found the lead, e.g. "Facebook: page 123, form 456, ad 789"; "" if nothing."""
    details = lead.source_details
    if not details:
        return ""
    keys = [k for k in DETAIL_LABELS if k in details] + sorted(k for k in details if k not in DETAIL_LABELS)
    parts = [f"{DETAIL_LABELS.get(k, k.removesuffix('_id').replace('_', ' '))} {details[k]}" for k in keys]
    return f"{lead.source or 'Source'}: {', '.join(parts)}"


STATUS_TONES = {
    StatusKind.open: "accent",
    StatusKind.won: "success",
    StatusKind.lost: "danger",
    StatusKind.junk: "muted",
}


def clear(layout: QLayout) -> None:
    """Empty a layout of its widgets."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()


# The form's words for its fields: the contract's field names through format.label (a new lead's
# note is its first one).
FIELD_LABELS = {name: format.label(name) for name in LeadIn.model_fields} | {"note": "First note"}


class LeadForm(QWidget):
    """The lead's fields; `values()` is the LeadIn/LeadUpdate body, `fields` maps names to widgets.
    It fills from and compares with the EditBuffer's dict (a lead in the PATCH's JSON shape)."""

    def __init__(self, session: Any, parent: QWidget | None = None, with_note: bool = False) -> None:
        super().__init__(parent)
        self.session = session
        self.lookups = sales_lookups(session)
        self.person_name = QLineEdit()
        self.person_name.setPlaceholderText("Who you talk to")
        self.company = QLineEdit()
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@company.com")
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("+40 722 123 456")
        self.source = QComboBox()
        self.source.setEditable(True)
        self.value = QLineEdit()
        self.value.setPlaceholderText("0.00")
        self.currency = QLineEdit()
        self.currency.setMaxLength(3)
        self.currency.setPlaceholderText("EUR")
        self.currency.setFixedWidth(64)
        self.expected_close_date = DateEdit()
        self.expected_close_date.setMinimumDate(NO_DATE)
        self.expected_close_date.setSpecialValueText("No date")
        self.expected_close_date.setDate(NO_DATE)
        self.territory = QLineEdit()
        self.product_interest = QLineEdit()
        self.owner = UserPicker(session.api, active_only=True)
        self.owner.setPlaceholderText("Unassigned: the assignment rules choose")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("hot, vip")
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("What you know so far")
        self.note.setFixedHeight(72)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)
        money = QWidget()
        money_row = QHBoxLayout(money)
        money_row.setContentsMargins(0, 0, 0, 0)
        money_row.setSpacing(6)
        money_row.addWidget(field(self.value), 1)
        money_row.addWidget(field(self.currency))
        rows: list[tuple[str, QWidget]] = [
            ("&Name", field(self.person_name)),
            ("&Company", field(self.company)),
            ("&Email", field(self.email)),
            ("&Phone", field(self.phone)),
            ("&Source", field(self.source)),
            ("&Value", money),
            ("Expected c&lose", field(self.expected_close_date)),
            ("&Territory", field(self.territory)),
            ("Product &interest", field(self.product_interest)),
            ("&Owner", field(self.owner)),
            ("Ta&gs", field(self.tags, "Separate tags with commas.")),
        ]
        if with_note:
            rows.append(("First &note", field(self.note)))
        for label, widget in rows:
            form.addRow(label, widget)
        names = FIELD_LABELS
        self.fields: dict[str, QWidget] = {
            "person_name": self.person_name,
            "company": self.company,
            "email": self.email,
            "phone": self.phone,
            "source": self.source,
            "value": self.value,
            "currency": self.currency,
            "expected_close_date": self.expected_close_date,
            "territory": self.territory,
            "product_interest": self.product_interest,
            "owner_id": self.owner,
            "tags": self.tags,
        }
        if with_note:
            self.fields["note"] = self.note
        for name, widget in self.fields.items():
            widget.setAccessibleName(names[name])
        self._fill_sources()
        self.lookups.changed.connect(self._fill_sources)

    def _fill_sources(self) -> None:
        if not shiboken6.isValid(self):
            return
        current = self.source.currentText()
        self.source.blockSignals(True)
        self.source.clear()
        self.source.addItem("")
        self.source.addItems([s.name for s in self.lookups.sources if s.active])
        self.source.setCurrentText(current)
        self.source.blockSignals(False)

    def values(self) -> dict[str, Any]:
        def text(widget: QLineEdit) -> str | None:
            return widget.text().strip() or None

        close = self.expected_close_date.date()
        values: dict[str, Any] = {name: text(getattr(self, name)) for name in TEXT_FIELDS}
        values.update(
            {
                "person_name": self.person_name.text().strip(),
                "source": self.source.currentText().strip() or None,
                "value": text(self.value),
                "currency": (text(self.currency) or "").upper() or None,
                "expected_close_date": None if close <= NO_DATE else close.toString("yyyy-MM-dd"),
                "owner_id": self.owner.user_id,
                "tags": [t.strip().lower() for t in self.tags.text().split(",") if t.strip()],
            }
        )
        return values

    def fill(self, lead: dict[str, Any], owner_name: str = "") -> None:
        for name in TEXT_FIELDS:
            getattr(self, name).setText(lead.get(name) or "")
        self.source.setCurrentText(lead.get("source") or "")
        self.value.setText(str(lead["value"]) if lead.get("value") is not None else "")
        self.currency.setText(lead.get("currency") or "")
        close = lead.get("expected_close_date")
        self.expected_close_date.setDate(QDate.fromString(close, "yyyy-MM-dd") if close else NO_DATE)
        self.owner.set_user(lead.get("owner_id"), owner_name if lead.get("owner_id") else "")
        self.tags.setText(", ".join(lead.get("tags") or []))

    def changes(self, lead: dict[str, Any]) -> dict[str, Any]:
        """What differs from the stored lead (the PATCH body without the version)."""
        changed: dict[str, Any] = {}
        for name, value in self.values().items():
            stored = lead.get(name)
            if name == "value" and value is not None and stored is not None:
                same = format.parse_decimal(str(value)) == format.parse_decimal(str(stored)) is not None
            elif name == "tags":
                same = sorted(value) == sorted(stored or [])
            else:
                same = (value or None) == (stored or None)
            if not same:
                changed[name] = value
        return changed


class LeadDetail(DocumentWindow[LeadOut]):
    """A lead's own window on the document window: form, duplicates, follow-ups, and the timeline
    with a note box. The header's badge is the lead's status and its figure the value; the action bar
    moves the lead (stage, Won, Lost), schedules a follow-up, archives or restores, and saves."""

    loaded = Signal(object)  # the lead (LeadOut) as last read or saved

    module, entity, noun = "leads", "lead", "lead"
    ACTIONS = (
        Action("won", "Won…", "Mark the lead won (and make it a client)", "mark_kind", (StatusKind.won,)),
        Action("lost", "Lost…", "Mark the lead lost, with the reason", "mark_kind", (StatusKind.lost,), role="danger"),
        Action("follow_up", "Schedule follow-up…", "Plan the next step with this lead", "schedule_follow_up"),
        Action("whatsapp", "WhatsApp…", "Message the lead on WhatsApp (opt-in, the 24-hour window)", "open_whatsapp"),
        Action("email", "E-mail…", "Write an e-mail to the lead, from a template", "compose_email"),
        Action("archive", "Archive", "Put the lead away (it can be restored)", "toggle_archived", right=True),
        Action("save", "Save", "Save the changes (Ctrl+S)", "save", role="primary", right=True),
    )
    won_button: QPushButton
    lost_button: QPushButton
    follow_up_button: QPushButton
    whatsapp_button: QPushButton
    email_button: QPushButton
    archive_button: QPushButton
    save_button: QPushButton
    form: LeadForm

    def __init__(self, session: Session, lead_id: int, parent: QWidget | None = None) -> None:
        self.lead_id = lead_id
        self.lead: LeadOut | None = None
        super().__init__(session, parent, name="leadDetail", title="Loading…", size=(1080, 720))
        self.setWindowTitle("Lead")
        self.names = UserNames(self.api)
        self.lookups = sales_lookups(session)
        self.badge.setVisible(False)  # until the lead's status is known
        self.value_figure = QLabel("")
        self.value_figure.setObjectName("leadValue")
        self.value_figure.setAccessibleName("Value")
        self.value_figure.setProperty("role", "heading")
        self.add_figure(self.value_figure)
        self.stage = QComboBox()
        self.stage.setObjectName("leadStage")
        self.stage.setAccessibleName("Stage")
        self.stage.setToolTip("Move the lead to another stage of its pipeline (as on the board)")
        self.stage.setMinimumWidth(150)
        self.stage.currentIndexChanged.connect(self._stage_chosen)
        stage_box = QWidget()
        stage_row = QHBoxLayout(stage_box)
        stage_row.setContentsMargins(0, 0, 6, 0)
        stage_row.setSpacing(6)
        stage_label = QLabel("St&age")
        stage_label.setBuddy(self.stage)
        stage_row.addWidget(stage_label)
        stage_row.addWidget(self.stage)
        self.add_to_action_bar(stage_box, at=0)
        self.moving: _MoveDialog | None = None  # the question a move asks (Lost, Won), while open
        self.whatsapp: Any = None  # the WhatsApp composer, while open

        self.source_details = QLabel("")
        self.source_details.setObjectName("leadSourceDetails")
        self.source_details.setProperty("role", "muted")
        self.source_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source_details.setToolTip("Where the lead came from (ids to look it up there)")
        self.source_details.hide()
        self.root.insertWidget(self.root.indexOf(self.subtitle) + 1, self.source_details)
        self.partner_note = QLabel("")  # the partner it is credited to (issue #25), once known
        self.partner_note.setObjectName("leadPartner")
        self.partner_note.setProperty("role", "muted")
        self.partner_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.partner_note.hide()
        self.root.insertWidget(self.root.indexOf(self.source_details) + 1, self.partner_note)
        self.engagement_note = QLabel("")  # campaign engagement (issue #22), once known
        self.engagement_note.setObjectName("leadEngagement")
        self.engagement_note.setProperty("role", "muted")
        self.engagement_note.hide()
        self.root.insertWidget(self.root.indexOf(self.partner_note) + 1, self.engagement_note)
        self.archived_note = QFrame()
        self.archived_note.setProperty("role", "alert")
        self.archived_text = QLabel("")
        self.archived_text.setWordWrap(True)
        QHBoxLayout(self.archived_note).addWidget(self.archived_text)
        self.archived_note.hide()
        self.root.addWidget(self.archived_note)
        if lazy("crm_desktop.views.activities.schedule", "ScheduleFollowUpDialog") is None:
            self.follow_up_button.hide()

        self.form = LeadForm(session)
        self.buffer = EditBuffer(self.form.changes)
        self.form.setEnabled(False)
        form_scroll = QScrollArea()
        form_scroll.setWidgetResizable(True)
        form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        form_holder = QWidget()
        form_column = QVBoxLayout(form_holder)
        form_column.setContentsMargins(0, 0, 12, 0)
        form_column.addWidget(section("Details"))
        form_column.addWidget(self.form)
        form_column.addWidget(self._build_duplicates())
        form_column.addWidget(self._build_follow_ups())
        form_column.addStretch(1)
        form_scroll.setWidget(form_holder)

        self.timeline = TimelineView(self.api, partial(leads_api.timeline, self.api, lead_id))
        self.note = QPlainTextEdit()
        self.note.setObjectName("leadNoteBox")
        self.note.setAccessibleName("New note")
        self.note.setPlaceholderText("Add a note… (Ctrl+Enter adds it)")
        self.note.setFixedHeight(70)
        self.add_note_button = QPushButton("Add note")
        self.add_note_button.clicked.connect(self.add_note)
        note_row = QHBoxLayout()
        note_row.addWidget(field(self.note), 1)
        note_row.addWidget(self.add_note_button, 0, Qt.AlignmentFlag.AlignTop)
        history = QWidget()
        history_column = QVBoxLayout(history)
        history_column.setContentsMargins(12, 0, 0, 0)
        history_column.addWidget(section("History"))
        history_column.addLayout(note_row)
        history_column.addWidget(self.timeline, 1)

        split = QSplitter()
        split.addWidget(form_scroll)
        split.addWidget(history)
        split.setSizes([520, 560])
        split.setChildrenCollapsible(False)
        self.root.addWidget(split, 1)

        note_key = QShortcut(QKeySequence("Ctrl+Return"), self.note)
        note_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        note_key.activated.connect(self.add_note)
        self.lookups.changed.connect(self._show_header)
        self.reload()

    def _build_duplicates(self) -> QWidget:
        self.duplicates_box = QFrame()
        self.duplicates_box.setObjectName("leadDuplicates")
        self.duplicates_box.setProperty("role", "info")
        self.duplicates_list = QVBoxLayout(self.duplicates_box)
        self.duplicates_list.setContentsMargins(12, 10, 12, 10)
        self.duplicates_list.setSpacing(6)
        self.duplicates_box.hide()
        self.duplicates: list[DuplicateOut] = []
        return self.duplicates_box

    def _build_follow_ups(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 12, 0, 0)
        column.setSpacing(6)
        column.addWidget(section("Open follow-ups"))
        self.follow_ups_list = QVBoxLayout()
        self.follow_ups_list.setSpacing(4)
        column.addLayout(self.follow_ups_list)
        self.follow_ups_empty = QLabel("Nothing planned. Schedule the next step so it is not forgotten.")
        self.follow_ups_empty.setProperty("role", "muted")
        self.follow_ups_empty.setWordWrap(True)
        column.addWidget(self.follow_ups_empty)
        self.follow_ups: list[FollowUpOut] = []
        self.follow_ups_box = box
        return box

    # --- loading (the document window's live refresh; the side parts come along) -----------------

    def current_id(self) -> int | None:
        return self.lead_id

    def parts_busy(self) -> bool:
        return self.timeline.loading

    def can_save(self) -> bool:
        return self.save_button.isEnabled()

    def reload(self) -> None:
        """Everything again: the lead, its duplicates, follow-ups and history (edits replaced)."""
        super().reload()
        self._reload_side()

    def refresh_from_server(self) -> None:
        """Someone changed the lead: keep my unsaved edits, update the rest."""
        if shiboken6.isValid(self):
            super().refresh_from_server()
            self._reload_side()

    def _reload_side(self) -> None:
        self.spawn(self._load_side())
        self.timeline.reload()

    async def fetch(self) -> LeadOut:
        lead = await leads_api.get_lead(self.api, self.lead_id)
        await self.names.ensure([lead.owner_id])
        return lead

    async def show_loaded(self, record: LeadOut, replace_edits: bool) -> None:
        self.show_lead(record, replace_edits)

    async def _load_side(self) -> None:
        duplicates: list[DuplicateOut] = []
        follow_ups: list[FollowUpOut] | None = None
        try:
            duplicates = await leads_api.duplicates(self.api, self.lead_id)
        except Exception as exc:  # the strip stays hidden; the lead itself still shows
            log.info("duplicates of lead %s: %s", self.lead_id, exc)
        if self.session.can("activities", "view"):
            try:
                page = await activities_api.list_follow_ups(
                    self.api, lead_id=self.lead_id, status=FollowUpStatus.open, limit=50
                )
                follow_ups = page.items
            except Exception as exc:
                log.info("follow-ups of lead %s: %s", self.lead_id, exc)
        partner = ""
        try:
            partner = partner_text(await partners_api.lead_partner(self.api, self.lead_id))
        except Exception as exc:  # the line stays hidden; the lead itself still shows
            log.info("partner of lead %s: %s", self.lead_id, exc)
        engagement = ""
        try:
            score = await campaigns_api.engagement(self.api, CampaignEntity.lead, self.lead_id)
            engagement = campaigns_api.engagement_text(score)
        except Exception as exc:  # the line stays hidden; the lead itself still shows
            log.info("engagement of lead %s: %s", self.lead_id, exc)
        await self.names.ensure(d.owner_id for d in duplicates)
        if shiboken6.isValid(self):
            self._show_duplicates(duplicates)
            self._show_follow_ups(follow_ups)
            self.partner_note.setText(partner)
            self.partner_note.setVisible(bool(partner))
            self.engagement_note.setText(engagement)
            self.engagement_note.setVisible(bool(engagement))

    def show_lead(self, lead: LeadOut, replace_edits: bool = True) -> None:
        """The server's lead; unless `replace_edits`, the fields I am editing keep my values."""
        shown = self.load_edited(lead, keep_edits=not replace_edits)
        if shown is None:  # an answer older than what is shown
            return
        self._show(lead, shown)

    def _show(self, lead: LeadOut, shown: Values) -> None:
        self.lead = lead
        self.form.fill(shown, self.names.name(shown.get("owner_id"), ""))
        self.form.setEnabled(self.session.can("leads", "edit"))
        self._show_header()
        self.loaded.emit(lead)

    def _show_header(self, *_: object) -> None:
        lead = self.lead
        if lead is None or not shiboken6.isValid(self):
            return
        self.setWindowTitle(f"Lead: {lead.person_name}")
        self.title.setText(lead.person_name)
        status = self.lookups.status(lead.status_id)
        self.show_status(
            self.lookups.status_name(lead.status_id), STATUS_TONES.get(status.kind, "accent") if status else "muted"
        )
        self.badge.setVisible(True)
        self.value_figure.setText(
            format.money(lead.value, lead.currency) if lead.value is not None else "No value"
        )  # as on the lead's card
        parts = [lead.company or "", f"Owner: {self.names.name(lead.owner_id, 'unassigned')}"]
        self.set_subtitle(" · ".join(p for p in parts if p))
        self.source_details.setText(source_text(lead))
        self.source_details.setVisible(bool(self.source_details.text()))
        archived = lead.archived_at is not None
        if lead.merged_into_id:
            self.archived_text.setText(f"This lead was merged into lead #{lead.merged_into_id}.")
        else:
            self.archived_text.setText(f"Archived {format.moment(lead.archived_at)}. Restore it to work on it again.")
        self.archived_note.setVisible(archived)
        can_edit = self.session.can("leads", "edit")
        self.save_button.setEnabled(can_edit and not archived)
        self.archive_button.setText("Restore" if archived else "Archive")
        self.archive_button.setToolTip("Bring the lead back" if archived else "Put the lead away (it can be restored)")
        self.archive_button.setEnabled(can_edit and not lead.merged_into_id)
        self.add_note_button.setEnabled(can_edit)
        self.follow_up_button.setEnabled(not archived and self.session.can("activities", "create"))
        self.email_button.setEnabled(not archived and self.session.can("activities", "create"))
        self._show_stage()

    # --- moving: the board's move, from the window ----------------------------------------------

    def stages(self) -> list[StatusOut]:
        """The lead's pipeline, stage by stage."""
        pipeline = self.lookups.pipeline(self.lead.pipeline_id) if self.lead is not None else None
        return sorted(pipeline.statuses, key=lambda s: s.position) if pipeline is not None else []

    def can_move(self) -> bool:
        lead = self.lead
        return lead is not None and lead.archived_at is None and self.session.can("leads", "edit")

    def _show_stage(self, *_: object) -> None:
        """The selector on the lead's stage; Won / Lost where the lead is not won / lost already."""
        lead = self.lead
        if lead is None or not shiboken6.isValid(self):
            return
        self.stage.blockSignals(True)
        self.stage.clear()
        for status in self.stages():
            self.stage.addItem(status.name, status.id)
        if self.stage.findData(lead.status_id) < 0:
            self.stage.addItem(self.lookups.status_name(lead.status_id), lead.status_id)
        self.stage.setCurrentIndex(self.stage.findData(lead.status_id))
        self.stage.blockSignals(False)
        movable = self.can_move() and self.moving is None
        self.stage.setEnabled(movable)
        where = self.lookups.status(lead.status_id)
        kind = where.kind if where is not None else None
        for button, target in ((self.won_button, StatusKind.won), (self.lost_button, StatusKind.lost)):
            button.setVisible(kind != target and self.session.can("leads", "edit"))
            button.setEnabled(movable and self._first_of(target) is not None)

    def _first_of(self, kind: StatusKind) -> StatusOut | None:
        return next((s for s in self.stages() if s.kind == kind), None)

    def _stage_chosen(self, index: int) -> None:
        status_id = self.stage.itemData(index)
        if status_id is not None:
            self.move_to(int(status_id))

    def mark_kind(self, kind: StatusKind) -> QWidget | None:
        """Won… / Lost…: the pipeline's won (lost) stage, with its question."""
        target = self._first_of(kind)
        return self.move_to(target.id) if target is not None else None

    def move_to(self, status_id: int) -> QWidget | None:
        """Move the lead as the board does: Lost asks why, Won whether it becomes a client; Cancel
        moves nothing. Answers the question asked, if any."""
        lead, target = self.lead, self.lookups.status(status_id)
        if lead is None or target is None or status_id == lead.status_id or not self.can_move() or self.moving:
            self._show_stage()
            return None
        dialog = ask_move(self, self.lookups, lead, target, lambda extra, asked: self._send_move(target, extra, asked))
        if dialog is not None:
            self.moving = dialog
            dialog.finished.connect(lambda _result: self._asked())
            self._show_stage()
        return dialog

    def _asked(self) -> None:
        self.moving = None
        self._show_stage()  # Cancel: the selector goes back to where the lead is

    def _send_move(self, target: StatusOut, extra: dict[str, Any], dialog: _MoveDialog | None) -> None:
        lead = self.lead
        if lead is None:
            return
        task = operations.run(
            dialog if dialog is not None else self,
            move_call(self.api, lead, target.id, extra),
            success=lambda result: self._moved(result, dialog),
            changed=leads_api.CHANGED,
            fields=dialog.fields() if dialog is not None else None,
            reload=self.reload,
            busy=dialog.ok if dialog is not None else self.stage,
        )
        task.add_done_callback(lambda _done: self._show_stage())  # refused: the selector goes back

    def _moved(self, result: MoveResult, dialog: _MoveDialog | None) -> None:
        if dialog is not None and shiboken6.isValid(dialog):
            dialog.finish()
        lead = result.lead
        self.show_lead(lead, replace_edits=False)  # the stage is theirs now; my typed edits stay
        self._reload_side()
        if result.client is not None:
            self.say(f"{lead.person_name} is won, and {result.client.name} is now a client.")
        else:
            self.say(f"{lead.person_name} moved to {self.lookups.status_name(lead.status_id)}.")

    def _show_duplicates(self, duplicates: list[DuplicateOut]) -> None:
        clear(self.duplicates_list)
        self.duplicates = [d for d in duplicates if d.archived_at is None]
        if not self.duplicates:
            self.duplicates_box.hide()
            return
        heading = QLabel(f"Possible duplicates ({len(self.duplicates)})")
        heading.setStyleSheet("font-weight: 600;")
        self.duplicates_list.addWidget(heading)
        for dup in self.duplicates:
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            who = dup.person_name + (f" ({dup.company})" if dup.company else "")
            text = QLabel(f"{who} — same {', '.join(dup.reasons)}")
            text.setWordWrap(True)
            open_button = QPushButton("Open")
            open_button.setProperty("role", "link")
            open_button.clicked.connect(lambda _=False, i=dup.id: open_lead(self, self.session, i))
            merge_button = QPushButton("Merge…")
            merge_button.setObjectName(f"mergeDuplicate{dup.id}")
            merge_button.setEnabled(self.session.can("leads", "edit"))
            merge_button.clicked.connect(lambda _=False, i=dup.id: self.merge_with(i))
            line.addWidget(text, 1)
            line.addWidget(open_button)
            line.addWidget(merge_button)
            self.duplicates_list.addWidget(row)
        self.duplicates_box.show()

    def _show_follow_ups(self, follow_ups: list[FollowUpOut] | None) -> None:
        clear(self.follow_ups_list)
        self.follow_ups_box.setVisible(follow_ups is not None)
        self.follow_ups = follow_ups or []
        for follow_up in self.follow_ups:
            notes = f" — {follow_up.notes}" if follow_up.notes else ""
            label = QLabel(f"{format.label(follow_up.kind)} · due {format.moment(follow_up.due_at)}{notes}")
            label.setWordWrap(True)
            self.follow_ups_list.addWidget(label)
        self.follow_ups_empty.setVisible(not self.follow_ups)

    # --- live: the lead's own events are the document window's; its follow-ups' come here ---------

    def on_other_event(self, event: LiveEvent) -> None:
        if event.module == "activities" and event.data.get("lead_id") == self.lead_id:
            self._live.start()
        if event.module == "leads" and event.entity == "email" and event.data.get("lead_id") == self.lead_id:
            self.timeline.reload()  # an e-mail of the lead sent, bounced or answered (crm_server/emails)
        if event.entity == "lead_registration" and event.data.get("lead_id") == self.lead_id:
            self._live.start()  # a partner's registration of it changed (lapsed, won)
        if event.module == "leads" and event.entity == "whatsapp" and event.data.get("lead_id") == self.lead_id:
            self.timeline.reload()  # a message sent, received, or its status from the webhook
            if self.whatsapp is not None and shiboken6.isValid(self.whatsapp):
                self.whatsapp.reload()

    # --- actions ---------------------------------------------------------------------------------

    def has_edits(self) -> bool:
        return self.buffer.has_edits()

    def changes(self) -> Values:
        return self.buffer.edits()

    def save(self, then: Callable[[], object] | None = None) -> None:
        """Ctrl+S: send what I changed, with what each field held when I began (a field someone else
        changed meanwhile comes back as a choice between their value and mine); `then` runs once saved."""
        if self.lead is None or not self.save_button.isEnabled() or not self.buffer.has_edits():
            if then is not None and self.lead is not None and not self.buffer.has_edits():
                then()
            return
        # The buffer's body (a dict in LeadUpdate's shape) goes out as it is: field_conflict reads
        # a field_changed refusal from it.
        call = save_guarded(self.api, leads_api.lead_path(self.lead_id), self.buffer.body())
        operations.run(
            self,
            call,
            success=lambda answer: self._saved(answer, then),
            changed=leads_api.CHANGED,
            fields=self.form.fields,
            reload=self.reload,
            busy=self.save_button,
        )

    def record_path(self) -> str:
        return leads_api.lead_path(self.lead_id)

    def landed(self, answer: Any) -> None:
        """My edit, kept while the server was away, is saved: shown as after Ctrl+S (no unsaved edits)."""
        if isinstance(answer, dict):
            self._saved(answer)

    def _saved(self, answer: LeadOut | Values | Conflicted, then: Callable[[], object] | None = None) -> None:
        if isinstance(answer, Conflicted):
            ask_which(
                self,
                answer,
                self.buffer,
                FIELD_LABELS,
                lambda newest, shown: self._settled(newest, shown, then),
                lambda name, value: self.names.name(value, "Unassigned") if name == "owner_id" else shown(value),
            )
            return
        self.show_lead(answer if isinstance(answer, LeadOut) else LeadOut.model_validate(answer))
        self._reload_side()
        if then is not None:
            then()

    def _settled(self, newest: Values, shown: Values, then: Callable[[], object] | None = None) -> None:
        lead = LeadOut.model_validate(newest)
        self.buffer.take(lead)
        self._show(lead, shown)
        self.save(then)

    def add_note(self) -> None:
        body = self.note.toPlainText().strip()
        if not body or not self.add_note_button.isEnabled():
            return
        call = leads_api.add_note(self.api, self.lead_id, NoteIn.model_construct(body=body))
        operations.run(
            self,
            call,
            success=self._note_added,
            changed=leads_api.CHANGED,
            fields={"body": self.note},
            busy=self.add_note_button,
        )

    def _note_added(self, _note: NoteOut) -> None:
        self.note.clear()
        self.timeline.reload()

    def toggle_archived(self) -> None:
        lead = self.lead
        if lead is None:
            return
        if lead.archived_at is not None:
            self._archive("restore")
            return
        confirm(
            self,
            "Archive lead",
            f"Archive {lead.person_name}? It leaves the lists and the board, and can be restored at any time.",
            "Archive",
            lambda: self._archive("archive"),
        )

    def _archive(self, action: str) -> None:
        assert self.lead is not None
        send = leads_api.restore_lead if action == "restore" else leads_api.archive_lead
        call = send(self.api, self.lead_id, self.lead.version)
        operations.run(
            self, call, success=self._saved, changed=leads_api.CHANGED, reload=self.reload, busy=self.archive_button
        )

    def schedule_follow_up(self) -> QDialog | None:
        dialog_class = lazy("crm_desktop.views.activities.schedule", "ScheduleFollowUpDialog")
        if dialog_class is None:
            return None
        dialog: QDialog = dialog_class(self.api, lead_id=self.lead_id, parent=self)
        dialog.finished.connect(lambda _: self._follow_up_done())
        dialog.open()
        return dialog

    def _follow_up_done(self) -> None:
        if shiboken6.isValid(self):
            self._reload_side()

    def compose_email(self) -> QDialog:
        """The e-mail composer (crm_desktop.views.emails); a send shows on the timeline."""
        from crm_desktop.views.emails.compose import ComposeDialog
        from crm_server.contract.emails import EmailEntity

        to = self.lead.email if self.lead is not None else None
        dialog = ComposeDialog(self.api, EmailEntity.lead, self.lead_id, to, self)
        dialog.sent.connect(lambda _: self._follow_up_done())
        dialog.open()
        return dialog

    def open_whatsapp(self) -> QDialog:
        from crm_desktop.views.whatsapp.composer import WhatsAppDialog

        self.whatsapp = WhatsAppDialog(self.api, "leads", self.lead_id, self)
        self.whatsapp.open()
        return self.whatsapp

    def merge_with(self, other_id: int) -> QDialog:
        from crm_desktop.views.leads.merge import MergeDialog

        dialog = MergeDialog(self.session, self.lead_id, other_id, self)
        dialog.merged.connect(lambda _lead: self.reload())
        dialog.open()
        return dialog


def open_lead(parent: QWidget | None, session: Session, lead_id: int) -> LeadDetail:
    """Show the lead's window (one per lead: a second call raises the open one)."""
    key = (id(session), lead_id)
    window = _open.live(key)
    if window is None:
        window = LeadDetail(session, lead_id, parent.window() if parent is not None else None)
        _open.keep(key, window)
    return show_window(window)


class NewLeadDialog(QDialog):
    """A new lead. After it is made, likely duplicates are shown (the lead stays made) with a way to
    open them."""

    created = Signal(object)  # the new lead (LeadOut)

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newLeadDialog")
        self.setWindowTitle("New lead")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(520)
        self.session = session
        self.lead: LeadOut | None = None
        self.form = LeadForm(session, with_note=True)
        self.warning = QFrame()
        self.warning.setObjectName("duplicateWarning")
        self.warning.setProperty("role", "info")
        self.warning_column = QVBoxLayout(self.warning)
        self.warning_column.setContentsMargins(12, 10, 12, 10)
        self.warning.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Create lead")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        heading = QLabel("New lead")
        heading.setProperty("role", "heading")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addWidget(self.form)
        layout.addWidget(self.warning)
        layout.addWidget(self.buttons)
        self.form.person_name.setFocus()

    def submit(self) -> None:
        if self.lead is not None:  # already made: the button now says "Done"
            self.accept()
            return
        body = {k: v for k, v in self.form.values().items() if v not in (None, [])}
        note = self.form.note.toPlainText().strip()
        if note:
            body["note"] = note
        operations.run(
            self,
            # As typed: the server judges it, and its refusal lands next to the field.
            leads_api.create_lead(self.session.api, LeadIn.model_construct(**body)),
            success=self._created,
            changed=leads_api.CHANGED,
            fields=self.form.fields,
            busy=self.ok,
        )

    def _created(self, lead: LeadOut) -> None:
        self.lead = lead
        self.created.emit(lead)
        # A duplicate the user cannot see comes without its id: said, with nothing to open.
        duplicates = [w for w in lead.warnings if w.code == "possible_duplicate" and w.lead_id != lead.id]
        if not duplicates:
            self.accept()
            return
        self.form.setEnabled(False)
        title = QLabel(f"{lead.person_name} is saved. It looks like a lead you may already have:")
        title.setWordWrap(True)
        self.warning_column.addWidget(title)
        self.duplicate_buttons: list[QPushButton] = []
        for warning in duplicates:
            row = QHBoxLayout()
            text = QLabel(warning.message or f"Lead #{warning.lead_id}")
            text.setWordWrap(True)
            row.addWidget(text, 1)
            if warning.lead_id:
                button = QPushButton(f"Open lead #{warning.lead_id}")
                button.setProperty("role", "link")
                button.clicked.connect(lambda _=False, i=warning.lead_id: self._open_duplicate(i))
                self.duplicate_buttons.append(button)
                row.addWidget(button)
            self.warning_column.addLayout(row)
        self.warning.show()
        self.ok.setText("Done")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()

    def _open_duplicate(self, lead_id: int) -> None:
        parent = self.parentWidget()
        open_lead(parent, self.session, lead_id)
        self.accept()


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The new-lead dialog, then the demo lead with the longest recent history."""
    found: dict[str, int] = {}

    async def pick() -> None:
        page = await leads_api.list_leads(ctx.api, LeadQuery(limit=20, sort="-updated_at"))
        most = -1
        for lead in page.items:
            total = (await leads_api.timeline(ctx.api, lead.id, limit=1)).total
            if total > most:
                found["id"], most = lead.id, total

    tasks.spawn(pick())  # the runner settles (waits for it) while the first picture is taken
    host = QWidget()
    host.resize(ctx.size)
    host.show()
    dialog = NewLeadDialog(ctx.session, host)
    dialog.open()
    yield "lead-new", host
    dialog.close()
    host.close()
    if "id" in found:
        window = open_lead(None, ctx.session, found["id"])
        window.resize(ctx.size)
        yield "lead-detail", window
        window.close()
