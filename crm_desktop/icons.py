"""The app's own line icons (resources/icons/*.svg), tinted with the theme and crisp at any DPI.

SVGs draw with ``currentColor``; ``icon("bell")`` renders them through QSvgRenderer at the exact
device pixel size Qt asks for, so nothing is scaled from a bitmap on high-DPI screens.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QIconEngine, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICON_DIR = Path(str(resources.files("resources") / "icons"))


@cache
def _svg(name: str) -> str:
    return (ICON_DIR / f"{name}.svg").read_text(encoding="utf-8")


class SvgIconEngine(QIconEngine):
    def __init__(self, name: str, color: str, active: str | None, disabled: str) -> None:
        super().__init__()
        self.name, self.color, self.active, self.disabled = name, color, active, disabled

    def _color(self, mode: QIcon.Mode) -> str:
        if mode == QIcon.Mode.Disabled:
            return self.disabled
        if mode in (QIcon.Mode.Selected, QIcon.Mode.Active) and self.active:
            return self.active
        return self.color

    def _renderer(self, mode: QIcon.Mode) -> QSvgRenderer:
        return QSvgRenderer(QByteArray(_svg(self.name).replace("currentColor", self._color(mode)).encode()))

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        self._renderer(mode).render(painter, QRectF(rect))

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float) -> QPixmap:
        image = QImage(size * scale, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._renderer(mode).render(painter, QRectF(0, 0, image.width(), image.height()))
        painter.end()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self.name, self.color, self.active, self.disabled)

    def key(self) -> str:
        return "crm-svg"

    def iconName(self) -> str:  # QIcon.name(): which of the app's icons this is
        return self.name


_cache: dict[tuple[str, str, str | None], QIcon] = {}


def icon(name: str, color: str | QColor | None = None, active: str | None = None) -> QIcon:
    """The icon ``name`` in ``color`` (default: the theme's icon colour); ``active`` when selected."""
    from crm_desktop import theme

    current = theme.current()
    tint = QColor(color).name() if color is not None else current.token("icon")
    key = (name, tint, active)
    if key not in _cache:
        _cache[key] = QIcon(SvgIconEngine(name, tint, active, current.token("muted")))
    return _cache[key]


def app_icon() -> QIcon:
    return QIcon(str(ICON_DIR / "app.svg"))


def clear_cache() -> None:
    _cache.clear()
