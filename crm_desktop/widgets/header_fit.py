"""Column headers that are never cut: `keep_titles_whole(view)` widens, each time the table is shown
(or its font or style changes), every column narrower than its title, its sort arrow and its margins
(the header's own measure, ``sectionSizeFromContents``, in the theme's font). Widths a page sets that
are wide enough stay as they are; columns are never made narrower."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView


def widen_to_titles(header: QHeaderView) -> None:
    """Widen each interactive (or fixed) section that is narrower than its title needs; a stretched last
    section too (it keeps that width when the columns before it take the whole view)."""
    for logical in range(header.count()):
        if header.isSectionHidden(logical) or header.sectionResizeMode(logical) not in (
            QHeaderView.ResizeMode.Interactive,
            QHeaderView.ResizeMode.Fixed,
        ):
            continue
        need = header.sectionSizeFromContents(logical).width()
        if header.sectionSize(logical) < need:
            header.resizeSection(logical, need)


WATCHED = (QEvent.Type.Show, QEvent.Type.FontChange, QEvent.Type.StyleChange)


class _OnShow(QObject):
    def __init__(self, header: QHeaderView) -> None:
        super().__init__(header)
        self.header = header
        header.installEventFilter(self)
        model = header.model()
        if model is not None:  # a title that changes later (a currency in it) is measured again
            model.headerDataChanged.connect(self._titles_changed)

    def _titles_changed(self, orientation: Qt.Orientation, *_: object) -> None:
        if orientation == self.header.orientation() and self.header.isVisible():
            widen_to_titles(self.header)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.header and event.type() in WATCHED:
            widen_to_titles(self.header)
        return False


def keep_titles_whole(view: QAbstractItemView, header: QHeaderView | None = None) -> None:
    """Widen `view`'s horizontal header (or `header`) to its titles whenever it is shown."""
    if header is None:
        horizontal = getattr(view, "horizontalHeader", None)
        header = horizontal() if horizontal is not None else None
    if isinstance(header, QHeaderView):
        _OnShow(header)


__all__ = ["keep_titles_whole", "widen_to_titles"]
