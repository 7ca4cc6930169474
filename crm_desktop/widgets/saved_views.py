"""What the leads and tickets filter bars share: refilling a choice combo without losing the current
choice, and saved views (named sets of filter values, kept per user in QSettings)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QInputDialog, QWidget


def refill(combo: QComboBox, items: list[tuple[str, Any]]) -> None:
    """New choices after the first ("any"), keeping the current one (a saved view may name an item
    that is not loaded yet: it stays, shown as #id)."""
    current = combo.currentData()
    combo.blockSignals(True)
    while combo.count() > 1:
        combo.removeItem(1)
    for text, value in items:
        combo.addItem(text, value)
    select(combo, current)
    combo.blockSignals(False)


def select(combo: QComboBox, value: Any) -> None:
    if value is not None and combo.findData(value) < 0:
        combo.addItem(f"#{value}", value)
    combo.setCurrentIndex(max(combo.findData(value), 0) if value is not None else 0)


class SavedViewsMixin:
    """For a filter bar with ``views`` (a combo whose first entry is its title), ``session``,
    ``values()`` and ``set_values()``; ``saved_views_area`` keeps each screen's views apart."""

    saved_views_area = ""
    views: QComboBox
    session: Any

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def set_values(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def _settings_key(self) -> str:
        return f"{self.saved_views_area}/saved_views/{self.session.me.id}"

    def saved_views(self) -> dict[str, dict[str, Any]]:
        raw = QSettings().value(self._settings_key(), "{}")
        try:
            views = json.loads(str(raw))
        except ValueError:
            return {}
        return views if isinstance(views, dict) else {}

    def save_current(self, name: str) -> None:
        name = name.strip()
        if not name:
            return
        views = self.saved_views()
        views[name] = self.values()
        QSettings().setValue(self._settings_key(), json.dumps(views))
        self._refill_views()
        self.views.setCurrentIndex(self.views.findText(name))

    def apply_view(self, name: str) -> None:
        values = self.saved_views().get(name)
        if values is not None:
            self.set_values(values)

    def _refill_views(self) -> None:
        refill(self.views, [(name, name) for name in sorted(self.saved_views(), key=str.lower)])
        self.views.setEnabled(self.views.count() > 1)

    def _pick_view(self, index: int) -> None:
        name = self.views.itemData(index)
        if name:
            self.apply_view(str(name))

    def _ask_view_name(self) -> None:
        dialog = QInputDialog(self if isinstance(self, QWidget) else None)  # the bar is a QWidget
        dialog.setWindowTitle("Save view")
        dialog.setLabelText("Name of this view")
        dialog.setObjectName("saveViewDialog")
        dialog.textValueSelected.connect(self.save_current)
        dialog.open()
