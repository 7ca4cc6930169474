"""The questions a move asks before it reaches the server: why a lead was lost, and whether a won
lead becomes a client; and the move itself, as the board and the lead's window both make it.

    ask_move(parent, lookups, lead, target, send)   # the question (if any), then send(extra, dialog)
    move_call(api, lead, status_id, extra)          # the move as the server takes it (MoveResult)

Each dialog only collects: `submitted(dict)` carries the extra fields of the MoveRequest
(lost_reason_id / lost_reason_text, or convert / client). The move is sent with the dialog as the
operation's parent, so a refusal lands next to the field and the dialog stays open; it closes
(``finish``) once the server agreed. Cancel moves nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop.api import leads as leads_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import field
from crm_desktop.views.leads.lookups import SalesLookups
from crm_server.contract.leads import MoveRequest, MoveResult, NamedItemOut, StatusKind, StatusOut


class Moving(Protocol):
    """The lead being moved, as the board's card or the lead's window has it (BoardCard, LeadOut)."""

    @property
    def id(self) -> int: ...

    @property
    def version(self) -> int: ...

    @property
    def person_name(self) -> str: ...

    @property
    def company(self) -> str | None: ...


class _MoveDialog(QDialog):
    """Shared frame: a heading, a line of context, a form, and the two buttons."""

    submitted = Signal(dict)

    def __init__(self, title: str, heading: str, text: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        head = QLabel(heading)
        head.setProperty("role", "heading")
        layout.addWidget(head)
        intro = QLabel(text)
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        layout.addWidget(intro)
        self.form = QFormLayout()
        self.form.setSpacing(10)
        layout.addLayout(self.form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok: QPushButton = self.buttons.addButton(ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setProperty("role", "primary")
        self.ok.setDefault(True)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout.addSpacing(4)
        layout.addWidget(self.buttons)

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def fields(self) -> dict[str, QWidget]:
        """Server field names -> the widgets that show their errors."""
        return {}

    def _submit(self) -> None:
        if self.ok.isEnabled():
            self.submitted.emit(self.payload())

    def finish(self) -> None:
        """The server agreed: close for good."""
        self.accept()


class LostReasonDialog(_MoveDialog):
    """Lost needs a reason; some reasons (Other) need it in words too."""

    def __init__(self, reasons: list[NamedItemOut], lead_name: str, parent: QWidget | None = None) -> None:
        super().__init__(
            "Mark as lost",
            "Why was this lead lost?",
            f"{lead_name} moves to Lost. The reason helps the team see where deals slip away.",
            "Mark as lost",
            parent,
        )
        self.setObjectName("lostReasonDialog")
        self.reasons: list[NamedItemOut] = []
        self.reason = QComboBox()
        self.reason.setAccessibleName("Lost reason")
        self.set_reasons(reasons)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Reason in words")
        self.text.setPlaceholderText("A few words on what happened")
        self.text.setFixedHeight(76)
        self.text_label = QLabel("In words")
        self.form.addRow("Reason", field(self.reason))
        self.form.addRow(self.text_label, field(self.text))
        self.reason.currentIndexChanged.connect(self._update)
        self.text.textChanged.connect(self._update)
        self._update()

    def set_reasons(self, reasons: list[NamedItemOut]) -> None:
        """The admin's list of reasons (again when it arrives or changes while the dialog is open)."""
        current = self.reason.currentData()
        self.reasons = [r for r in reasons if r.active]
        self.reason.blockSignals(True)
        self.reason.clear()
        self.reason.addItem("Choose a reason…", None)
        for reason in self.reasons:
            self.reason.addItem(reason.name, reason.id)
        self.reason.setCurrentIndex(max(self.reason.findData(current), 0) if current is not None else 0)
        self.reason.blockSignals(False)
        if hasattr(self, "text"):
            self._update()

    def follow(self, lookups: SalesLookups) -> None:
        """Refill when the reasons arrive or an admin edits them (a slot: gone with the dialog)."""
        self._lookups = lookups
        lookups.changed.connect(self._lookups_changed)
        if not lookups.loaded:
            lookups.ready()

    def _lookups_changed(self) -> None:
        self.set_reasons(self._lookups.lost_reasons)

    def selected_reason(self) -> NamedItemOut | None:
        return next((r for r in self.reasons if r.id == self.reason.currentData()), None)

    def needs_text(self) -> bool:
        reason = self.selected_reason()
        return reason is not None and reason.requires_text

    def _update(self) -> None:
        needs = self.needs_text()
        self.text_label.setText("In words (required)" if needs else "In words (optional)")
        has_text = bool(self.text.toPlainText().strip())
        self.ok.setEnabled(self.selected_reason() is not None and (has_text or not needs))

    def choose(self, name: str) -> None:
        """Pick a reason by its name (as a person picks it from the list)."""
        index = self.reason.findText(name)
        if index >= 0:
            self.reason.setCurrentIndex(index)

    def payload(self) -> dict[str, Any]:
        text = self.text.toPlainText().strip()
        return {"lost_reason_id": self.reason.currentData(), "lost_reason_text": text or None}

    def fields(self) -> dict[str, QWidget]:
        return {"lost_reason_id": self.reason, "lost_reason_text": self.text}


class WonDialog(_MoveDialog):
    """Won: by default the lead becomes a client (named after the company, VAT number optional)."""

    def __init__(self, card: Moving, parent: QWidget | None = None) -> None:
        super().__init__(
            "Mark as won",
            "Won — well done!",
            f"{card.person_name} moves to Won. Turn the lead into a client to keep its notes, "
            "follow-ups and history with the client.",
            "Mark as won",
            parent,
        )
        self.setObjectName("wonDialog")
        self.convert = QCheckBox("Convert to a client")
        self.convert.setChecked(True)
        self.name = QLineEdit(card.company or card.person_name)
        self.name.setAccessibleName("Client name")
        self.vat = QLineEdit()
        self.vat.setAccessibleName("VAT number")
        self.vat.setPlaceholderText("Optional")
        self.form.addRow("", self.convert)
        self.form.addRow("Client name", field(self.name))
        self.form.addRow("VAT number", field(self.vat))
        self.convert.toggled.connect(self._update)
        self.name.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        converting = self.convert.isChecked()
        self.name.setEnabled(converting)
        self.vat.setEnabled(converting)
        self.ok.setText("Convert and mark as won" if converting else "Mark as won")
        self.ok.setEnabled(not converting or bool(self.name.text().strip()))

    def payload(self) -> dict[str, Any]:
        if not self.convert.isChecked():
            return {"convert": False}
        client = {"name": self.name.text().strip() or None, "vat_number": self.vat.text().strip() or None}
        return {"convert": True, "client": client}

    def fields(self) -> dict[str, QWidget]:
        return {"name": self.name, "vat_number": self.vat, "client": self.name}


def ask_move(
    parent: QWidget,
    lookups: SalesLookups,
    lead: Moving,
    target: StatusOut,
    send: Callable[[dict[str, Any], _MoveDialog | None], object],
    *,
    undo: bool = False,
) -> _MoveDialog | None:
    """A move to `target`: Lost asks the reason, Won whether the lead becomes a client (not when an
    undo goes back to Won: the lead was won already, and is not converted again); then
    `send(extra, dialog)` with the MoveRequest's extra fields. Answers the dialog asked, if any;
    Cancel sends nothing."""
    dialog: _MoveDialog | None = None
    if target.kind == StatusKind.lost:
        lost = LostReasonDialog(lookups.lost_reasons, lead.person_name, parent)
        lost.follow(lookups)
        dialog = lost
    elif target.kind == StatusKind.won and not undo:
        dialog = WonDialog(lead, parent)
    if dialog is None:
        send({"convert": False} if undo and target.kind == StatusKind.won else {}, None)
        return None
    asked = dialog
    dialog.submitted.connect(lambda extra: send(extra, asked))
    dialog.open()
    return dialog


def move_call(api: ApiClient, lead: Moving, status_id: int, extra: dict[str, Any]) -> Awaitable[MoveResult]:
    """The move as asked, with the version the mover holds: sent unchecked (model_construct), so the
    server judges it and its refusal names the field."""
    move = MoveRequest.model_construct(**{"version": lead.version, "status_id": status_id, **extra})
    return leads_api.move_lead(api, lead.id, move)
