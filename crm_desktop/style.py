"""The app's widget style: Fusion, with the app's own icons and a sort arrow that means what it says.

- Stock icons: on Linux without a desktop theme Qt puts its old stock pictures on dialog buttons
  (OK's tick, Cancel's cross), on message boxes, the line-edit clear button and the calendar's month
  arrows. Buttons here carry words, not pictures; every other standard icon is one of
  ``crm_desktop.icons`` (one icon set everywhere).
- Sort arrow: QHeaderView draws ``DescendingOrder`` as an arrow pointing up (Qt's convention). People
  read an arrow pointing down as "largest / newest first", so the header arrow is drawn the other way
  round: the indicator's order stays the order the server was asked for, and the picture matches it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter
from PySide6.QtWidgets import (
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleHintReturn,
    QStyleOption,
    QStyleOptionHeader,
    QWidget,
)

SP = QStyle.StandardPixmap

# standard pixmap -> (icons.py name, theme token for its colour; None: the icon colour)
STANDARD_ICONS: dict[QStyle.StandardPixmap, tuple[str, str | None]] = {
    SP.SP_MessageBoxInformation: ("info", "accent"),
    SP.SP_MessageBoxQuestion: ("help", "accent"),
    SP.SP_MessageBoxWarning: ("alert", "warning_text"),
    SP.SP_MessageBoxCritical: ("alert", "danger"),
    SP.SP_LineEditClearButton: ("close", None),
    SP.SP_ArrowLeft: ("chevron-left", None),
    SP.SP_ArrowBack: ("chevron-left", None),
    SP.SP_ArrowRight: ("chevron-right", None),
    SP.SP_ArrowForward: ("chevron-right", None),
    SP.SP_ArrowUp: ("chevron-up", None),
    SP.SP_ArrowDown: ("chevron-down", None),
    SP.SP_TitleBarMenuButton: ("chevron-down", None),
    SP.SP_ToolBarHorizontalExtensionButton: ("chevron-right", None),
    SP.SP_ToolBarVerticalExtensionButton: ("chevron-down", None),
    SP.SP_BrowserReload: ("refresh", None),
    SP.SP_BrowserStop: ("close", None),
    SP.SP_TitleBarCloseButton: ("close", None),
    SP.SP_DockWidgetCloseButton: ("close", None),
    SP.SP_TabCloseButton: ("close", None),
    SP.SP_DialogOkButton: ("check", None),
    SP.SP_DialogYesButton: ("check", None),
    SP.SP_DialogApplyButton: ("check", None),
    SP.SP_DialogSaveButton: ("check", None),
    SP.SP_DialogCancelButton: ("close", None),
    SP.SP_DialogNoButton: ("close", None),
    SP.SP_DialogCloseButton: ("close", None),
    SP.SP_DialogDiscardButton: ("close", None),
    SP.SP_DialogResetButton: ("refresh", None),
    SP.SP_DialogHelpButton: ("help", None),
    SP.SP_FileDialogInfoView: ("info", None),
    SP.SP_FileDialogDetailedView: ("info", None),
    SP.SP_DialogOpenButton: ("inbox", None),
    SP.SP_ComputerIcon: ("server", None),
    SP.SP_DriveNetIcon: ("server", None),
    SP.SP_VistaShield: ("shield-check", None),
}

_FLIPPED = {
    QStyleOptionHeader.SortIndicator.SortUp: QStyleOptionHeader.SortIndicator.SortDown,
    QStyleOptionHeader.SortIndicator.SortDown: QStyleOptionHeader.SortIndicator.SortUp,
}


class CrmStyle(QProxyStyle):
    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    def styleHint(
        self,
        hint: QStyle.StyleHint,
        option: QStyleOption | None = None,
        widget: QWidget | None = None,
        returnData: QStyleHintReturn | None = None,
    ) -> int:
        if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 0
        return super().styleHint(hint, option, widget, returnData)

    def standardIcon(
        self, standardIcon: QStyle.StandardPixmap, option: QStyleOption | None = None, widget: QWidget | None = None
    ) -> QIcon:
        own = STANDARD_ICONS.get(standardIcon)
        if own is None:
            return super().standardIcon(standardIcon, option, widget)
        from crm_desktop import icons, theme

        name, token = own
        return icons.icon(name, theme.current().token(token) if token else None)

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow and isinstance(option, QStyleOptionHeader):
            flipped = QStyleOptionHeader(option)
            flipped.sortIndicator = _FLIPPED.get(option.sortIndicator, option.sortIndicator)
            super().drawPrimitive(element, flipped, painter, widget)
            return
        super().drawPrimitive(element, option, painter, widget)
        if element == QStyle.PrimitiveElement.PE_IndicatorCheckBox:
            # Fusion outlines the box a shade darker than the window: on a dark theme it disappears.
            # Draw it in the theme's control colour (3:1 against the page, see theme.NON_TEXT_PAIRS).
            from crm_desktop import theme

            enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
            painter.save()
            painter.setPen(QColor(theme.color("control" if enabled else "border_strong")))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(option.rect.adjusted(0, 0, -1, -1))
            painter.restore()
