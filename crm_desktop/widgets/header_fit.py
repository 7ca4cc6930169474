"""Column headers that are never cut: `keep_titles_whole(view)` widens, when the table is first shown,
every column narrower than its title, its sort arrow and its margins (the header's own measure,
``sectionSizeFromContents``, in the theme's font). Widths a page sets that are wide enough stay as
they are; a column the person resizes later is theirs."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QAbstractItemView, QHeaderView


def widen_to_titles(header: QHeaderView) -> None:
    """Widen each interactive (or fixed) section that is narrower than its title needs."""
    last = header.count() - 1
    for logical in range(header.count()):
        if header.isSectionHidden(logical) or header.sectionResizeMode(logical) not in (
            QHeaderView.ResizeMode.Interactive,
            QHeaderView.ResizeMode.Fixed,
        ):
            continue
        if logical == last and header.stretchLastSection():
            continue  # it takes the room left
        need = header.sectionSizeFromContents(logical).width()
        if header.sectionSize(logical) < need:
            header.resizeSection(logical, need)


class _OnFirstShow(QObject):
    def __init__(self, header: QHeaderView) -> None:
        super().__init__(header)
        self.header = header
        header.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.header and event.type() == QEvent.Type.Show:
            self.header.removeEventFilter(self)
            widen_to_titles(self.header)
        return False


def keep_titles_whole(view: QAbstractItemView, header: QHeaderView | None = None) -> None:
    """Widen `view`'s horizontal header (or `header`) to its titles when it is first shown."""
    if header is None:
        horizontal = getattr(view, "horizontalHeader", None)
        header = horizontal() if horizontal is not None else None
    if isinstance(header, QHeaderView):
        _OnFirstShow(header)


__all__ = ["keep_titles_whole", "widen_to_titles"]
