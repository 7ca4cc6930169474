"""One proposal in its own window: who it is for (a client or a lead), title, currency, valid-until,
notes and the lines (widgets/line_grid.LineGrid, with live totals); the status with its revision and
the moves ALLOWED_MOVES permits from it (Mark sent, Open, Accept, Decline...); who accepted or
declined it and when; Save (Ctrl+S), Preview PDF, and Convert to invoice.

Conversion is never a silently missing button: the server says whether it is possible now
(crm_desktop.api.proposals.conversion) and, when it is not, why; the reason is the button's tooltip
and a line of text under it. Once converted, the button opens the invoice instead.

Live events naming this proposal reload it; edits typed but not yet saved are kept (and the version
they were read at), so saving over someone else's change gets the usual "Changed elsewhere - Reload".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Any, cast

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import invoices, proposals
from crm_desktop.api.client import ApiError
from crm_desktop.format import day, moment, money
from crm_desktop.operations.errors import mark_field
from crm_desktop.session import Session
from crm_desktop.views.admin.common import UserNames
from crm_desktop.views.proposals.common import (
    MOVE_LABELS,
    MOVE_TIPS,
    STATUS_LABELS,
    STATUS_TONES,
)
from crm_desktop.views.proposals.party import PartyPicker
from crm_desktop.widgets.document_window import NEW, Action, DocumentWindow, sources
from crm_desktop.widgets.form import DateEdit, qdate
from crm_desktop.widgets.line_grid import LineGrid
from crm_desktop.widgets.record_window import WindowRegistry, lazy, show_window
from crm_server.contract.events import LiveEvent
from crm_server.contract.invoices import InvoiceOut
from crm_server.contract.proposals import (
    ALLOWED_MOVES,
    ConversionOut,
    ProposalIn,
    ProposalOut,
    ProposalStatus,
    ProposalUpdate,
    StatusIn,
)

log = logging.getLogger(__name__)

S = ProposalStatus
VALID_DAYS = 30  # what the server gives a new proposal when no date is chosen
FINAL = (S.accepted, S.declined)
MOVES = (S.sent, S.open, S.revised, S.accepted, S.declined)
LINE_FIELDS = {
    "product_id": "product",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "discount_percent": "discount_percent",
    "tax_rate_id": "tax_rate_id",
}
_open: WindowRegistry[ProposalWindow] = WindowRegistry()  # (session, proposal) -> its window


def open_proposal(
    parent: QWidget | None,
    session: Session,
    proposal_id: int | None,
    *,
    client_id: int | None = None,
    lead_id: int | None = None,
) -> ProposalWindow:
    """The proposal's window (made, or raised when it is open already); None makes a new proposal,
    optionally for a client or a lead."""
    window = _open.live((id(session), proposal_id)) if proposal_id is not None else None
    if window is None:
        window = ProposalWindow(
            session, proposal_id, parent.window() if parent is not None else None, client_id=client_id, lead_id=lead_id
        )
        if proposal_id is not None:
            window.remember()
    return show_window(window)


class ProposalWindow(DocumentWindow[ProposalOut]):
    """The editor of one proposal (or of a new one until its first save)."""

    created = Signal(object)  # the ProposalOut of a new proposal, once saved
    loaded = Signal(object)  # the ProposalOut whenever the proposal shown changes (load, save, move, live event)

    module, entity, noun = "proposals", "proposal", "proposal"
    ACTIONS = (
        *(
            Action(
                f"move_{status.value}",
                MOVE_LABELS[status],
                MOVE_TIPS[status],
                "set_status",
                (status,),
                statuses=sources(ALLOWED_MOVES, status),
                role="danger" if status == S.declined else "",
                object_name=f"move_{status.value}",
            )
            for status in MOVES
        ),
        Action(
            "pdf",
            "Preview PDF",
            "The proposal as the client gets it (Ctrl+P)",
            "preview_pdf",
            statuses=frozenset(S),
            shortcut="Ctrl+P",
            right=True,
        ),
        Action("save", "Save", "Save the proposal (Ctrl+S)", "save", role="primary", right=True),
    )
    pdf_button: QPushButton
    save_button: QPushButton

    def __init__(
        self,
        session: Session,
        proposal_id: int | None,
        parent: QWidget | None = None,
        *,
        client_id: int | None = None,
        lead_id: int | None = None,
    ) -> None:
        self.proposal_id = proposal_id
        self.proposal: ProposalOut | None = None
        self.conversion: ConversionOut | None = None
        self.invoice_number: str | None = None
        super().__init__(
            session,
            parent,
            name="proposalWindow",
            title="New proposal" if proposal_id is None else "Loading…",
            size=(1180, 780),
        )
        self.setWindowTitle("New proposal - CRM")
        self.names = UserNames(self.api)
        self.names.remember(session.me.id, session.me.full_name)
        self.move_buttons: dict[ProposalStatus, QPushButton] = {s: self.buttons[f"move_{s.value}"] for s in MOVES}

        # --- header: the expired badge and who decided -------------------------------------------
        self.expired_badge = self.make_badge("Expired", "danger")
        self.expired_badge.setVisible(False)
        self.decision = QLabel("")
        self.decision.setObjectName("proposalDecision")
        self.decision.setVisible(False)
        self.add_badge(self.expired_badge)
        self.add_badge(self.decision)

        # --- conversion ---------------------------------------------------------------------------
        self.convert_button = QPushButton("Convert to invoice")
        self.convert_button.setObjectName("convertButton")
        self.convert_button.clicked.connect(self.convert)
        self.conversion_reason = QLabel("")
        self.conversion_reason.setObjectName("conversionReason")
        self.conversion_reason.setWordWrap(True)
        self.open_lead_button = QPushButton("Open the lead…")
        self.open_lead_button.setProperty("role", "link")
        self.open_lead_button.setToolTip("Convert the lead to a client from its window")
        self.open_lead_button.clicked.connect(self.open_lead)
        conversion = QHBoxLayout()
        conversion.setSpacing(10)
        conversion.addWidget(self.convert_button)
        conversion.addWidget(self.conversion_reason)
        conversion.addWidget(self.open_lead_button)
        conversion.addStretch(1)
        self.conversion_row = QWidget()
        self.conversion_row.setLayout(conversion)
        self.conversion_row.setVisible(False)

        # --- the form -----------------------------------------------------------------------------
        self.party = PartyPicker(self.api)
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("Website redesign")
        self.title_edit.setMaxLength(300)
        self.currency = QLineEdit()
        self.currency.setMaxLength(3)
        self.currency.setPlaceholderText("Base currency")
        self.valid_until = DateEdit(qdate(date.today() + timedelta(days=VALID_DAYS)))
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Terms, what is included, delivery…")
        self.notes.setFixedHeight(64)
        self.grid = LineGrid(session)
        self.root.addWidget(self.conversion_row)
        self.add_form(
            [
                (3, [("&For (client or lead)", self.party), ("&Title", self.title_edit)]),
                (3, [("&Notes", self.notes)]),
                (2, [("&Valid until", self.valid_until), ("C&urrency", self.currency)]),
            ],
            self.grid,
        )
        self.fields: dict[str, QWidget] = {
            "client_id": self.party,
            "lead_id": self.party,
            "title": self.title_edit,
            "currency": self.currency,
            "valid_until": self.valid_until,
            "notes": self.notes,
            "lines": self.grid,
        }

        self.grid.changed.connect(lambda: self.touch("lines"))
        self.currency.textEdited.connect(lambda t: self.grid.set_currency(t) if len(t) == 3 else None)

        if proposal_id is None:
            if client_id is not None:
                self.party.load("client", client_id)
            elif lead_id is not None:
                self.party.load("lead", lead_id)
            self._show_actions()
            self.snapshot()
            self.party.setFocus()
        else:
            self.reload()

    # --- state -----------------------------------------------------------------------------------

    def remember(self) -> None:
        key = (id(self.session), self.proposal_id)
        _open.keep(key, self)

    def current_id(self) -> int | None:
        return self.proposal_id

    def parts_busy(self) -> bool:
        return self.grid.is_busy() or self.party.is_busy()

    def can_save(self) -> bool:
        return self.editable

    @property
    def status(self) -> ProposalStatus | None:
        return None if self.proposal is None else self.proposal.status

    @property
    def editable(self) -> bool:
        if self.proposal is None:
            return self.session.can("proposals", "create")
        return self.session.can("proposals", "edit") and self.status not in FINAL

    def values(self) -> dict[str, Any]:
        """The form as the server's fields (lines apart: the grid `touch`es "lines")."""
        party = self.party.party
        return {
            "client_id": self.party.client_id,
            "lead_id": self.party.lead_id,
            "party": party,
            "title": self.title_edit.text().strip() or None,
            "currency": self.currency.text().strip().upper() or None,
            "valid_until": cast(date, self.valid_until.date().toPython()).isoformat(),
            "notes": self.notes.toPlainText().strip() or None,
        }

    def has_edits(self) -> bool:
        if self.proposal is None:  # a new one: only what was typed counts (a preset party is not an edit)
            values = self.values()
            return bool(self.buffer.touched) or values["title"] is not None or values["notes"] is not None
        return super().has_edits()

    # --- loading ---------------------------------------------------------------------------------

    async def fetch(self) -> ProposalOut:
        assert self.proposal_id is not None, "the base loads only a saved proposal (current_id)"
        return await proposals.get_proposal(self.api, self.proposal_id)

    async def show_loaded(self, proposal: ProposalOut, replace_edits: bool) -> None:
        """Names of who decided, then the proposal, then what the server says about converting it."""
        await self.names.ensure([proposal.accepted_by, proposal.declined_by])
        if not shiboken6.isValid(self):
            return
        if not replace_edits and self.proposal is not None and proposal.version != self.proposal.version:
            self.say(
                "Someone else changed this proposal. Your edits are kept; Reload shows their version.", reload=True
            )
            self._show_header(proposal)  # the status and decision are theirs; the form stays mine
            return
        self.show_proposal(proposal)
        await self._load_conversion()

    async def _load_conversion(self) -> None:
        if self.proposal_id is None:
            return
        try:
            conversion = await proposals.conversion(self.api, self.proposal_id)
        except ApiError as exc:
            conversion = ConversionOut(possible=False, reason=exc.message, code=exc.code)
        invoice_id = conversion.invoice_id
        number: str | None = None
        if invoice_id is not None:
            try:
                number = (await invoices.get_invoice(self.api, invoice_id)).number
            except ApiError as exc:  # no invoices.view: the button still names the invoice by id
                log.info("invoice %s: %s", invoice_id, exc.message)
        if shiboken6.isValid(self):
            self.conversion, self.invoice_number = conversion, number
            self._show_conversion()

    def show_proposal(self, proposal: ProposalOut) -> None:
        """The proposal as the server has it, edits replaced."""
        self.proposal = proposal
        self.proposal_id = proposal.id
        self.buffer.take(proposal)
        if proposal.lead_id is not None:
            self.party.set_party("lead", proposal.lead_id, proposal.party_name)
        elif proposal.client_id is not None:
            self.party.set_party("client", proposal.client_id, proposal.party_name)
        self.title_edit.setText(proposal.title or "")
        self.currency.setText(proposal.currency)
        self.valid_until.setDate(qdate(proposal.valid_until))
        self.notes.setPlainText(proposal.notes or "")
        self.grid.set_currency(proposal.currency)
        self.grid.set_read_only(not self.editable)
        self.grid.set_lines(proposal.lines)
        self.snapshot()
        self._show_header(proposal)
        self.loaded.emit(proposal)

    def _show_header(self, proposal: ProposalOut) -> None:
        status = proposal.status
        number = proposal.number or f"#{proposal.id}"
        self.setWindowTitle(f"{number} {proposal.title or 'Proposal'} - CRM")
        self.title.setText(f"{number}  {proposal.title or ''}".strip())
        revision = proposal.revision
        self.show_status(
            f"{STATUS_LABELS[status]} · revision {revision}" if revision > 1 else STATUS_LABELS[status],
            STATUS_TONES[status],
        )
        expired = proposal.expired
        self.expired_badge.setVisible(expired)
        if expired:
            self.expired_badge.setText(f"Expired {day(proposal.valid_until)}")
            self.expired_badge.setToolTip("Past its valid-until date. Setting it back to Open gives it 7 more days.")
        party = proposal.party_name or "—"
        kind = "lead" if proposal.lead_id is not None else "client"
        parts = [
            f"For {party} ({kind})",
            f"valid until {day(proposal.valid_until)}",
            f"total {money(proposal.gross_total, proposal.currency)}",
        ]
        if proposal.sent_at:
            parts.append(f"sent {moment(proposal.sent_at)}")
        self.set_subtitle("  ·  ".join(parts))
        self.decision.setText(self.decision_text(proposal))
        self.decision.setVisible(bool(self.decision.text()))
        self.form.setEnabled(True)
        for widget in (self.party, self.title_edit, self.currency, self.valid_until, self.notes):
            widget.setEnabled(self.editable)
        self._show_actions()

    def decision_text(self, proposal: ProposalOut) -> str:
        """ "Accepted by Ana Pop on 27 Nov 2026, 14:05" (who as a name when the user list shows them)."""
        if proposal.accepted_at:
            return f"Accepted by {self.names.name(proposal.accepted_by, 'someone')} on {moment(proposal.accepted_at)}"
        if proposal.declined_at:
            return f"Declined by {self.names.name(proposal.declined_by, 'someone')} on {moment(proposal.declined_at)}"
        return ""

    def _show_actions(self) -> None:
        saved = self.proposal is not None
        self.show_actions(str(self.status) if self.status is not None else NEW)
        if not self.session.can("proposals", "edit"):
            for button in self.move_buttons.values():
                button.setVisible(False)
        self.save_button.setVisible(self.editable)
        self.conversion_row.setVisible(saved)
        if not saved:
            self.show_status("New · not saved yet", "muted")

    def _show_conversion(self) -> None:
        """Convert to invoice, or Open invoice INV-…, or the reason it cannot be converted now."""
        conversion = self.conversion or ConversionOut(possible=False)
        invoice_id = conversion.invoice_id
        reason = "" if conversion.possible else conversion.reason or ""
        button = self.convert_button
        if invoice_id is not None:
            button.setText(f"Open invoice {self.invoice_number or f'#{invoice_id}'}")
            button.setEnabled(True)
            button.setToolTip("This proposal is converted; open its invoice")
            button.setProperty("role", "")
            reason = ""
        else:
            button.setText("Convert to invoice")
            possible = conversion.possible
            button.setEnabled(possible)
            button.setProperty("role", "primary" if possible else "")
            button.setToolTip("Make an invoice draft with these lines" if possible else reason)
        button.style().unpolish(button)
        button.style().polish(button)
        self.conversion_reason.setText(reason)
        self.conversion_reason.setVisible(bool(reason))
        self.open_lead_button.setVisible(
            conversion.code == "lead_not_client" and self.proposal is not None and self.proposal.lead_id is not None
        )

    # --- live ------------------------------------------------------------------------------------

    def on_other_event(self, event: LiveEvent) -> None:
        if event.module == "invoices" and self.conversion is not None and event.entity_id == self.conversion.invoice_id:
            self.spawn(self._load_conversion())  # the invoice was issued: its number changed

    def on_changed(self, areas: frozenset[str]) -> None:
        if areas & invoices.CHANGED and self.proposal is not None:
            self.spawn(self._load_conversion())

    # --- actions ---------------------------------------------------------------------------------

    def _payload(self) -> tuple[dict[str, Any], dict[str, QWidget]] | None:
        """What to send (all of a new proposal, only the changes of a saved one) and the widgets its
        field errors land on; None when something can be told wrong here already."""
        values = self.values()
        if values["party"] is None:
            mark_field(self.party, "Choose the client or lead this proposal is for.")
            return None
        if values["currency"] is not None and len(values["currency"]) != 3:
            mark_field(self.currency, "Currency: a 3-letter code such as EUR.")
            return None
        problem = self.grid.problem()
        if problem is not None:
            self.say(problem)
            return None
        lines = self.grid.lines_in()
        fields = dict(self.fields)
        for k, row in enumerate(self.grid.sent_rows):
            for name, key in LINE_FIELDS.items():
                fields[f"lines.{k}.{name}"] = self.grid.cell(row, key)
        body = {k: v for k, v in values.items() if k != "party"}
        if self.proposal is None:
            body = {k: v for k, v in body.items() if v is not None}
            body["lines"] = lines
            return body, fields
        changes = {k: v for k, v in body.items() if v != self.buffer.clean.get(k)}
        if "client_id" in changes or "lead_id" in changes:  # the party moved: name the new one only
            changes.pop("client_id" if values["client_id"] is None else "lead_id", None)
            changes.update({k: values[k] for k in ("client_id", "lead_id") if values[k] is not None})
        for key in ("title", "notes"):  # cleared: the server takes "" as "no title"
            if key in changes and changes[key] is None:
                changes[key] = ""
        if "lines" in self.buffer.touched:
            changes["lines"] = lines
        return changes, fields

    def save(self, then: Any = None) -> bool:
        """Ctrl+S: create, or send what changed with the version that was read. `then` runs after
        a successful save (a move or the PDF preview that needed the edits saved first)."""
        if not self.editable or not self.save_button.isVisible():
            return False
        payload = self._payload()
        if payload is None:
            return False
        body, fields = payload
        call: Awaitable[ProposalOut] | None = None
        if self.proposal is None:
            call = proposals.create_proposal(self.api, ProposalIn.model_construct(**body))
        elif body and self.proposal_id is not None:
            changes = ProposalUpdate.model_construct(**body, version=self.proposal.version)
            call = proposals.update_proposal(self.api, self.proposal_id, changes)
        return self.send_save(call, changed=proposals.CHANGED, fields=fields, then=then)

    def saved(self, proposal: ProposalOut) -> None:
        new = self.proposal is None
        before = self.proposal
        self.show_proposal(proposal)
        if new:
            self.remember()
            self.created.emit(proposal)
            self.say(f"{proposal.number} is saved as a draft. Mark it sent once the client has it.")
        elif before is not None and before.status != proposal.status and proposal.status == S.revised:
            self.say(f"The offer changed, so this is revision {proposal.revision} now: send it again.")
        else:
            self.say("Saved.")
        self.spawn(self._load_conversion())

    def set_status(self, target: ProposalStatus) -> None:
        """A status move; unsaved edits are saved first (the move is about the offer as shown)."""
        if self.proposal is None or target not in ALLOWED_MOVES[self.proposal.status]:
            return
        if self.has_edits() and self.editable:
            self.save(then=lambda: self.set_status(target))
            return
        before = self.proposal
        move = StatusIn(version=before.version, status=target)
        operations.run(
            self,
            proposals.set_status(self.api, before.id, move),
            success=lambda p: self._moved(before, p),
            changed=proposals.CHANGED,
            reload=self.reload,
            busy=self.move_buttons[target],
        )

    def _moved(self, before: ProposalOut, proposal: ProposalOut) -> None:
        self.spawn(self._show_moved(before, proposal))

    async def _show_moved(self, before: ProposalOut, proposal: ProposalOut) -> None:
        await self.names.ensure([proposal.accepted_by, proposal.declined_by])
        if not shiboken6.isValid(self):
            return
        self.show_proposal(proposal)
        status = proposal.status
        if status == S.open and proposal.valid_until != before.valid_until:
            self.say(f"It had expired: it is valid until {day(proposal.valid_until)} now (7 more days).")
        elif status in FINAL:
            self.say(f"{self.decision_text(proposal)}.")
        else:
            self.say(f"{proposal.number} is {STATUS_LABELS[status].lower()} now.")
        await self._load_conversion()

    def convert(self) -> None:
        """Convert to invoice, or (once converted) open the invoice."""
        conversion = self.conversion or ConversionOut(possible=False)
        if conversion.invoice_id is not None:
            self.open_invoice(conversion.invoice_id)
            return
        if not conversion.possible or self.proposal_id is None:
            return
        operations.run(
            self,
            proposals.convert(self.api, self.proposal_id),
            success=self._converted,
            changed=proposals.CHANGED | invoices.CHANGED,
            busy=self.convert_button,
        )

    def _converted(self, invoice: InvoiceOut) -> None:
        self.say("The invoice draft is made from this proposal. Check it and issue it from its window.")
        self.reload()
        self.open_invoice(invoice.id)

    def open_invoice(self, invoice_id: int) -> QWidget | None:
        opener = lazy("crm_desktop.views.invoices.editor", "open_invoice")
        if opener is None:
            self.say(f"The invoice (#{invoice_id}) is made; the invoice window is not part of this build yet.")
            return None
        window: QWidget = opener(self, self.session, invoice_id)
        return window

    def open_lead(self) -> QWidget | None:
        if self.proposal is None or self.proposal.lead_id is None:
            return None
        opener = lazy("crm_desktop.views.leads.board", "open_lead")
        return opener(self, self.session, self.proposal.lead_id) if opener is not None else None

    def preview_pdf(self) -> QWidget | None:
        """The PDF the server makes (saved figures only: unsaved edits are saved first)."""
        if self.proposal is None:
            return None
        if self.has_edits() and self.editable:
            self.save(then=self.preview_pdf)
            return None
        dialog_class = lazy("crm_desktop.widgets.pdf_preview", "PdfPreviewDialog")
        if dialog_class is None:
            self.say("The PDF preview is not part of this build yet.")
            return None
        number = self.proposal.number or f"#{self.proposal_id}"
        proposal_id = self.proposal.id

        async def source() -> bytes:
            return await proposals.pdf(self.api, proposal_id)

        dialog: QWidget = dialog_class(self, self.api, source, f"Proposal {number}")
        opener = getattr(dialog, "open", None) or dialog.show
        opener()
        return dialog
