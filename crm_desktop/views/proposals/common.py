"""What the proposals list and editor share: the change-bus areas, status words and tones, and how a
date, a moment and an amount are shown."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import shiboken6
from PySide6.QtWidgets import QLabel, QWidget

from crm_desktop import theme
from crm_server.contract.proposals import ProposalStatus

Row = dict[str, Any]
S = ProposalStatus
# Announced after a change of ours; live events of other desktops arrive as the same names.
PROPOSALS = frozenset({"proposals", "proposals.proposal"})
INVOICES = frozenset({"invoices", "invoices.invoice"})

STATUS_LABELS = {
    S.draft: "Draft",
    S.sent: "Sent",
    S.open: "Open",
    S.revised: "Revised",
    S.accepted: "Accepted",
    S.declined: "Declined",
}
STATUS_TONES = {
    S.draft: "muted",
    S.sent: "accent",
    S.open: "accent",
    S.revised: "warning",
    S.accepted: "success",
    S.declined: "danger",
}
# The button that moves a proposal to a status (the moves themselves come from ALLOWED_MOVES).
MOVE_LABELS = {
    S.sent: "Mark sent",
    S.open: "Open",
    S.revised: "Mark revised",
    S.accepted: "Accept",
    S.declined: "Decline",
}
MOVE_TIPS = {
    S.sent: "The client has it now; it waits for their answer",
    S.open: "Under discussion with the client (an expired one gets 7 more days)",
    S.revised: "The offer changed and must be sent again",
    S.accepted: "The client said yes: record who and when (final)",
    S.declined: "The client said no: record who and when (final)",
}
EXPIRED_COLOR = "#c0392b"
MUTED_COLOR = "#8a8f98"

BADGE_STYLE = """
QLabel#proposalBadge {{ border-radius: 9px; padding: 2px 10px; font-weight: 600; }}
QLabel#proposalBadge[tone="accent"] {{ background: {accent_soft}; color: {accent_text}; }}
QLabel#proposalBadge[tone="warning"] {{ background: {warning_bg}; color: {warning_text}; }}
QLabel#proposalBadge[tone="danger"] {{ background: {danger_soft}; color: {danger}; }}
QLabel#proposalBadge[tone="success"] {{ background: {alt_row}; color: {success}; border: 1px solid {border}; }}
QLabel#proposalBadge[tone="muted"] {{ background: {hover}; color: {muted}; }}
QLabel#conversionReason {{ color: {warning_text}; }}
"""


def themed(widget: QWidget, style: str) -> None:
    """Apply `style` with the current theme's colours, and again when light/dark switches."""

    def apply(*_: object) -> None:
        if shiboken6.isValid(widget):
            widget.setStyleSheet(style.format(**theme.TOKENS[theme.current().name]))

    apply()
    theme.current().changed.connect(apply)


def badge(name: str) -> QLabel:
    label = QLabel("")
    label.setObjectName("proposalBadge")
    label.setAccessibleName(name)
    return label


def status_text(row: Row) -> str:
    """ "Sent", "Revised (rev 3)", "Open · expired"."""
    status = S(row["status"])
    text = STATUS_LABELS[status]
    if int(row.get("revision") or 1) > 1:
        text += f" (rev {row['revision']})"
    if row.get("expired"):
        text += " · expired"
    return text


def day(value: str | date | None) -> str:
    if not value:
        return "—"
    return (value if isinstance(value, date) else date.fromisoformat(str(value)[:10])).isoformat()


def moment(value: str | None) -> str:
    """A server timestamp (UTC) in the user's local time."""
    if not value:
        return "—"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone().strftime("%d %b %Y, %H:%M")


def amount(value: Any, currency: str | None) -> str:
    """Decimal text exactly as the server sent it (never through float), with the currency."""
    return f"{value} {currency}" if currency else str(value)
