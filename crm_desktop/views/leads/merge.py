"""Merge two leads that are the same person: both side by side, one choice per field.

Every field keeps the kept lead's value unless the other one is picked. The server moves notes,
follow-ups and history to the kept lead, unites the tags and archives the other (merged_into_id),
all in one transaction with its audit row; both versions are sent, so a change made meanwhile on
either lead refuses the merge (409) instead of losing it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QMessageBox,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import leads as leads_api
from crm_desktop.views.admin.common import UserNames
from crm_desktop.views.leads.lookups import sales_lookups
from crm_server.contract.leads import MERGE_FIELDS, LeadOut, LeadQuery, MergeRequest

log = logging.getLogger(__name__)


class MergeDialog(QDialog):
    """Pick, per field, which lead's value stays; Merge sends it (the other lead is archived)."""

    merged = Signal(object)  # the kept lead (LeadOut) after the merge

    def __init__(self, session: Any, keep_id: int, other_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mergeDialog")
        self.setWindowTitle("Merge leads")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumSize(860, 600)
        self.session = session
        self.api = session.api
        self.keep_id = keep_id
        self.other_id = other_id
        self.keep: LeadOut | None = None
        self.other: LeadOut | None = None
        self.names = UserNames(self.api)
        self.lookups = sales_lookups(session)
        self.choices: dict[str, tuple[QRadioButton, QRadioButton]] = {}

        heading = QLabel("Which values should the merged lead keep?")
        heading.setProperty("role", "heading")
        intro = QLabel(
            "Notes, follow-ups, history and tags of both leads are kept. The lead on the right is "
            "archived and points to the one on the left."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        self.grid_holder = QWidget()
        self.grid = QGridLayout(self.grid_holder)
        self.grid.setHorizontalSpacing(18)
        self.grid.setVerticalSpacing(8)
        self.status = QLabel("Loading both leads…")
        self.status.setProperty("role", "muted")
        self.grid.addWidget(self.status, 0, 0, 1, 3)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.grid_holder)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.merge_button = self.buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole)
        self.merge_button.setProperty("role", "primary")
        self.merge_button.setEnabled(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.buttons)
        self._loading: asyncio.Task[None] = tasks.spawn(self._load())

    # --- loading ---------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return not self._loading.done()

    async def wait_loaded(self) -> None:
        await asyncio.shield(self._loading)

    async def _load(self) -> None:
        try:
            keep, other = await asyncio.gather(
                leads_api.get_lead(self.api, self.keep_id), leads_api.get_lead(self.api, self.other_id)
            )
            await self.names.ensure([keep.owner_id, other.owner_id])
            await self.lookups.ready()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if shiboken6.isValid(self):
                self.status.setText(f"The leads could not be loaded: {getattr(exc, 'message', exc)}")
            return
        if shiboken6.isValid(self):
            self.show_leads(keep, other)

    def show_leads(self, keep: LeadOut, other: LeadOut) -> None:
        self.keep, self.other = keep, other
        self.status.hide()
        for column, (text, lead) in enumerate((("Keep", keep), ("Merge away", other)), start=1):
            title = QLabel(f"{text}: #{lead.id} {lead.person_name}")
            title.setStyleSheet("font-weight: 600;")
            self.grid.addWidget(title, 0, column)
        for row, name in enumerate(MERGE_FIELDS, start=1):
            caption = QLabel(format.label(name))
            caption.setProperty("role", "muted")
            mine, theirs = QRadioButton(self.shown(keep, name)), QRadioButton(self.shown(other, name))
            for button, side in ((mine, "keep"), (theirs, "other")):
                button.setObjectName(f"merge_{name}_{side}")
                button.setAccessibleName(f"{format.label(name)}: {side}")
            group = QButtonGroup(self)
            group.addButton(mine)
            group.addButton(theirs)
            mine.setChecked(True)
            if getattr(keep, name) == getattr(other, name):
                theirs.setEnabled(False)  # the same on both: nothing to choose
            self.grid.addWidget(caption, row, 0)
            self.grid.addWidget(mine, row, 1)
            self.grid.addWidget(theirs, row, 2)
            self.choices[name] = (mine, theirs)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self.grid.setRowStretch(len(MERGE_FIELDS) + 1, 1)
        self.merge_button.setEnabled(self.session.can("leads", "edit"))

    def shown(self, lead: LeadOut, name: str) -> str:
        value = getattr(lead, name)
        if name == "owner_id":
            return self.names.name(value, "Unassigned")
        if name == "status_id":
            return self.lookups.status_name(value)
        if name == "value" and value is not None:
            return format.money(value, lead.currency)
        if name == "expected_close_date" and value is not None:
            return format.day(value)
        if name == "partner_client_id" and value is not None:
            return f"Client #{value}"
        return format.value(value)

    # --- choosing and merging --------------------------------------------------------------------

    def choose(self, name: str, side: str) -> None:
        """Take `name` from "keep" or "other" (as a click on its radio does)."""
        mine, theirs = self.choices[name]
        (theirs if side == "other" else mine).setChecked(True)

    def take(self) -> dict[str, str]:
        return {name: "other" for name, (_, theirs) in self.choices.items() if theirs.isChecked()}

    def submit(self) -> None:
        if self.keep is None or self.other is None or not self.merge_button.isEnabled():
            return
        merge = MergeRequest.model_construct(
            version=self.keep.version, other_id=self.other_id, other_version=self.other.version, take=self.take()
        )
        operations.run(
            self,
            leads_api.merge_leads(self.api, self.keep_id, merge),
            success=self._merged,
            changed=leads_api.CHANGED,
            reload=self._reload,
            busy=self.merge_button,
        )

    def _reload(self) -> None:
        """After a conflict: show both leads as they are now."""
        for i in reversed(range(self.grid.count())):
            item = self.grid.itemAt(i)
            widget = item.widget() if item is not None else None
            if widget is not None and widget is not self.status:
                widget.deleteLater()
        self.choices = {}
        self.status.setText("Loading both leads…")
        self.status.show()
        self.merge_button.setEnabled(False)
        self._loading = tasks.spawn(self._load())

    def _merged(self, lead: LeadOut) -> None:
        self.merged.emit(lead)
        other = self.other.person_name if self.other is not None else "The other lead"
        text = f"{other} (#{self.other_id}) is merged into {lead.person_name} (#{lead.id}) and archived."
        parent = self.parentWidget()
        box = QMessageBox(QMessageBox.Icon.Information, "Leads merged", text, QMessageBox.StandardButton.Ok, parent)
        box.setObjectName("mergeDoneBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.open()
        self.accept()


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Two demo leads that look alike (the first lead with a likely duplicate)."""
    found: dict[str, int] = {}

    async def pick() -> None:
        page = await leads_api.list_leads(ctx.api, LeadQuery(limit=100))
        for lead in page.items:
            duplicates = await leads_api.duplicates(ctx.api, lead.id)
            alike = [d for d in duplicates if {"email", "phone"} & set(d.reasons)] or duplicates
            if alike and "keep" not in found:
                found["keep"], found["other"] = lead.id, alike[0].id
            if alike is not duplicates:  # same email or phone: the pair a person would merge
                return

    tasks.spawn(pick())
    host = QWidget()
    host.resize(ctx.size)
    QVBoxLayout(host).addWidget(QLabel("Looking for two leads that look alike…"), 0, Qt.AlignmentFlag.AlignCenter)
    host.show()
    yield "leads-merge-searching", host  # (the runner settles meanwhile: the pair is found)
    if found:
        dialog = MergeDialog(ctx.session, found["keep"], found["other"], host)
        dialog.open()
        yield "leads-merge", host
        dialog.close()
    host.close()
