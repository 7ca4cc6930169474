"""What the proposals list and editor share: status words and tones (dates, moments and amounts
are shown by crm_desktop.format; the change-bus areas are crm_desktop.api.proposals.CHANGED)."""

from __future__ import annotations

from typing import Any

from crm_desktop import format
from crm_server.contract.proposals import ProposalStatus

Row = dict[str, Any]
S = ProposalStatus

STATUS_LABELS = {status: format.label(status) for status in S}
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


def status_text(row: Row) -> str:
    """ "Sent", "Revised (rev 3)", "Open · expired"."""
    status = S(row["status"])
    text = STATUS_LABELS[status]
    if int(row.get("revision") or 1) > 1:
        text += f" (rev {row['revision']})"
    if row.get("expired"):
        text += " · expired"
    return text
