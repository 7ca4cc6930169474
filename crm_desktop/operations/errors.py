"""The one place the desktop turns a failed server call into something a person can act on.

- 422 with a ``field`` the form knows: red border + the message as tooltip and under-field label.
- 403 permission_denied: says which permission is missing (``leads.edit``).
- 409 stale_version: someone else saved first; offers Reload (announces the areas again and calls
  the operation's ``reload``) and keeps the edits until the person decides.
- Offline: the window's "Offline - reconnecting..." banner shows; the form stays open with its edits.
- Anything else: a message box with the server's message.

Dialogs are opened with ``open()`` (window-modal, non-blocking), never ``exec()``: a nested event
loop inside a qasync task would stall every other coroutine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from crm_desktop.api.client import ApiError, Offline

log = logging.getLogger(__name__)

ERROR_PROPERTY = "invalid"
_LABEL_NAME = "fieldErrorLabel"

GENERIC_TITLES = {
    400: "Request refused",
    401: "Signed out",
    403: "Not allowed",
    404: "Not found",
    409: "Changed elsewhere",
    422: "Please check the form",
    429: "Too many attempts",
}


def describe(error: ApiError) -> str:
    """A sentence for a person, from the server's structured error."""
    if isinstance(error, Offline):
        if error.code == "kept":  # in the outbox (crm_desktop.outbox): sent by itself later
            return error.message
        return "The server cannot be reached. Your changes are kept; try again once it is back."
    if error.code == "permission_denied":
        permission = error.extra.get("permission")
        if permission:
            return f"Your role does not include the permission “{permission}”. Ask an administrator."
        return "Your role does not allow this. Ask an administrator."
    if error.code == "stale_version":
        return "Someone else changed this record after you opened it. Reload to see their version."
    if error.code == "login_throttled":
        retry = error.extra.get("retry_after")
        if retry:
            return f"Too many attempts. Try again in {int(retry)} seconds."
    if error.code == "account_locked":
        until = local_time(error.extra.get("locked_until"))
        return f"This account is locked until {until}." if until else "This account is locked for now."
    return error.message


def local_time(value: object) -> str | None:
    """An ISO timestamp from the server, shown in the user's local time."""
    if not value:
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.astimezone().strftime("%H:%M on %d %b %Y")


# --- field errors --------------------------------------------------------------------------------


def _repolish(widget: QWidget) -> None:
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


def _error_label(widget: QWidget) -> QLabel | None:
    """The label under the field, when the field sits in a layout we can add to."""
    label = widget.property("_fieldErrorLabel")
    if isinstance(label, QLabel) and shiboken6.isValid(label):
        return label
    parent = widget.parentWidget()
    layout = parent.layout() if parent else None
    if layout is None:
        return None
    index = layout.indexOf(widget)
    if index < 0:
        return None
    label = QLabel(parent)
    label.setObjectName(_LABEL_NAME)
    label.setWordWrap(True)
    insert = getattr(layout, "insertWidget", None)
    if insert is None:  # grid / form layouts: keep the tooltip and border only
        label.deleteLater()
        return None
    insert(index + 1, label)
    widget.setProperty("_fieldErrorLabel", label)
    return label


def mark_field(widget: QWidget, message: str) -> None:
    """Show ``message`` at ``widget``: red border (``[invalid="true"]`` in the theme), tooltip, label."""
    widget.setProperty(ERROR_PROPERTY, True)
    widget.setToolTip(message)
    widget.setAccessibleDescription(message)
    _repolish(widget)
    label = _error_label(widget)
    if label is not None:
        label.setText(message)
        label.show()
    _clear_on_edit(widget)
    widget.setFocus()


def clear_field(widget: QWidget) -> None:
    if not shiboken6.isValid(widget) or not widget.property(ERROR_PROPERTY):
        return
    widget.setProperty(ERROR_PROPERTY, False)
    widget.setToolTip("")
    widget.setAccessibleDescription("")
    _repolish(widget)
    label = widget.property("_fieldErrorLabel")
    if isinstance(label, QLabel) and shiboken6.isValid(label):
        label.hide()


def clear_fields(fields: Mapping[str, QWidget] | None) -> None:
    for widget in (fields or {}).values():
        clear_field(widget)


def _clear_on_edit(widget: QWidget) -> None:
    if widget.property("_clearsOnEdit"):
        return
    for name in ("textChanged", "currentIndexChanged", "valueChanged", "dateChanged", "toggled"):
        signal = getattr(widget, name, None)
        if signal is not None and hasattr(signal, "connect"):
            signal.connect(lambda *_: clear_field(widget))
            widget.setProperty("_clearsOnEdit", True)
            return


def is_marked(widget: QWidget) -> bool:
    return bool(widget.property(ERROR_PROPERTY))


# --- message boxes -------------------------------------------------------------------------------


def _box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("operationErrorBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    return box


def _window_notice(parent: QWidget | None, text: str) -> bool:
    """Ask the top-level window to show an inline notice (main window implements ``show_notice``)."""
    window = parent.window() if parent is not None and shiboken6.isValid(parent) else None
    notice = getattr(window, "show_notice", None)
    if callable(notice):
        notice(text)
        return True
    return False


def handle_error(
    parent: QWidget | None,
    error: BaseException,
    *,
    fields: Mapping[str, QWidget] | None = None,
    reload: Callable[[], None] | None = None,
) -> None:
    """Show ``error`` the one way the app shows errors."""
    if parent is not None and not shiboken6.isValid(parent):
        parent = None
    if not isinstance(error, ApiError):
        log.exception("operation failed", exc_info=error)
        box = _box(parent, QMessageBox.Icon.Critical, "Something went wrong", f"The action did not complete: {error}")
        box.addButton(QMessageBox.StandardButton.Ok)
        box.open()
        return
    if isinstance(error, Offline):
        if not _window_notice(parent, describe(error)):
            box = _box(parent, QMessageBox.Icon.Warning, "Offline", describe(error))
            box.addButton(QMessageBox.StandardButton.Ok)
            box.open()
        return
    if error.field and fields and error.field in fields:
        mark_field(fields[error.field], error.message)
        return
    if error.is_conflict:
        box = _box(parent, QMessageBox.Icon.Information, GENERIC_TITLES[409], describe(error))
        reload_button = box.addButton("Reload", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep my edits", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(reload_button)

        def clicked(button: object) -> None:
            if button is reload_button and reload is not None:
                reload()

        box.buttonClicked.connect(clicked)
        box.open()
        return
    icon = QMessageBox.Icon.Warning if error.status in (403, 409, 422, 429) else QMessageBox.Icon.Critical
    box = _box(parent, icon, GENERIC_TITLES.get(error.status, "The server refused"), describe(error))
    box.addButton(QMessageBox.StandardButton.Ok)
    box.open()
