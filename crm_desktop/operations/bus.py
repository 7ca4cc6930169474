"""The "what changed" bus: operations announce the areas they changed, views refresh only those.

Area names are module names from the contract (``"leads"``, ``"admin"``...) or finer tags such as
``"admin.users"``, ``"notifications"``, ``"me"``. A view subscribes once:

    changes.changed.connect(self._on_changed)

    def _on_changed(self, areas: frozenset[str]) -> None:
        if "admin.users" in areas: self.reload()
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class ChangeBus(QObject):
    """One per app; live events from other desktops are announced here too."""

    changed = Signal(frozenset)  # frozenset[str]

    def announce(self, areas: frozenset[str] | set[str] | str) -> None:
        if isinstance(areas, str):
            areas = frozenset({areas})
        areas = frozenset(areas)
        if areas:
            self.changed.emit(areas)


_bus: ChangeBus | None = None


def change_bus() -> ChangeBus:
    """The app-wide bus (created on first use, after QApplication exists)."""
    global _bus
    if _bus is None:
        _bus = ChangeBus()
    return _bus


def reset_change_bus() -> None:
    """Start over with a new bus (tests: nothing of a previous test keeps listening)."""
    global _bus
    old, _bus = _bus, None
    if old is not None:
        old.deleteLater()
