"""The look: light and dark style sheets (resources/theme/*.qss) following the system color scheme.

The .qss files are generated from ``resources/theme/_template.qss.in`` with the tokens below
(``python -m crm_desktop.theme`` rewrites them); icons are tinted with the same tokens.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEME_DIR = Path(str(resources.files("resources") / "theme"))

TOKENS: dict[str, dict[str, str]] = {
    "light": {
        "bg": "#f4f6f9",
        "surface": "#ffffff",
        "sidebar": "#eef1f6",
        "text": "#1b2230",
        "muted": "#5d6878",
        "border": "#e1e5ec",
        "border_strong": "#cfd5de",
        "hover": "#e8ecf3",
        "pressed": "#dde3ee",
        "accent": "#3563d0",
        "accent_hover": "#2b55b8",
        "accent_soft": "#e3ebfb",
        "accent_text": "#2a52b0",
        "accent_border": "#c4d4f5",
        "on_accent": "#ffffff",
        "on_accent_soft": "#7d96cf",
        "danger": "#c23a2f",
        "danger_soft": "#fdf0ee",
        "danger_border": "#f3c9c4",
        "warning_bg": "#fff5e2",
        "warning_border": "#f2dca9",
        "warning_text": "#7a4a00",
        "success": "#1d8457",
        "alt_row": "#f9fafc",
        "scroll": "#c9d0da",
        "brand_a": "#3563d0",
        "brand_b": "#5a3fc0",
        "icon": "#4a5567",
    },
    "dark": {
        "bg": "#15181e",
        "surface": "#1d2129",
        "sidebar": "#191c23",
        "text": "#e5e9f0",
        "muted": "#97a1b2",
        "border": "#2a303b",
        "border_strong": "#363d4a",
        "hover": "#262b35",
        "pressed": "#2e3440",
        "accent": "#6f9cff",
        "accent_hover": "#89aeff",
        "accent_soft": "#223152",
        "accent_text": "#a9c3ff",
        "accent_border": "#34497a",
        "on_accent": "#0d1320",
        "on_accent_soft": "#6c7ea8",
        "danger": "#ff8a7f",
        "danger_soft": "#35201f",
        "danger_border": "#5b302c",
        "warning_bg": "#382c12",
        "warning_border": "#5a4718",
        "warning_text": "#f6cd73",
        "success": "#5fd3a0",
        "alt_row": "#1a1e25",
        "scroll": "#3a4250",
        "brand_a": "#2a4fa8",
        "brand_b": "#4a34a0",
        "icon": "#aab3c2",
    },
}


def system_scheme() -> str:
    app = QGuiApplication.instance()
    if app is None:
        return "light"
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def style_sheet(name: str) -> str:
    return (THEME_DIR / f"{name}.qss").read_text(encoding="utf-8")


def render_style_sheet(name: str) -> str:
    text = (THEME_DIR / "_template.qss.in").read_text(encoding="utf-8").replace("@NAME@", name)
    for key in sorted(TOKENS[name], key=len, reverse=True):
        text = text.replace(f"@{key}@", TOKENS[name][key])
    return text


def palette(name: str) -> QPalette:
    t = TOKENS[name]
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: t["bg"],
        QPalette.ColorRole.WindowText: t["text"],
        QPalette.ColorRole.Base: t["surface"],
        QPalette.ColorRole.AlternateBase: t["alt_row"],
        QPalette.ColorRole.Text: t["text"],
        QPalette.ColorRole.Button: t["surface"],
        QPalette.ColorRole.ButtonText: t["text"],
        QPalette.ColorRole.Highlight: t["accent"],
        QPalette.ColorRole.HighlightedText: t["on_accent"],
        QPalette.ColorRole.ToolTipBase: t["surface"],
        QPalette.ColorRole.ToolTipText: t["text"],
        QPalette.ColorRole.PlaceholderText: t["muted"],
        QPalette.ColorRole.Link: t["accent"],
        QPalette.ColorRole.Mid: t["border_strong"],
        QPalette.ColorRole.Midlight: t["border"],
        QPalette.ColorRole.Dark: t["border_strong"],
        QPalette.ColorRole.Light: t["surface"],
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(t["muted"]))
    return p


class Theme(QObject):
    """Applies the theme to the app and follows the system's light/dark setting."""

    changed = Signal(str)

    def __init__(self, forced: str | None = None) -> None:
        super().__init__()
        self.forced = forced
        self.name = forced or system_scheme()

    def token(self, key: str) -> str:
        return TOKENS[self.name][key]

    def apply(self, app: QApplication) -> None:
        from crm_desktop.style import CrmStyle

        app.setStyle(CrmStyle())
        self._apply_now(app)
        if self.forced is None:
            QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: self._follow(app))

    def _follow(self, app: QApplication) -> None:
        name = system_scheme()
        if name != self.name:
            self.name = name
            self._apply_now(app)

    def _apply_now(self, app: QApplication) -> None:
        from crm_desktop import icons

        icons.clear_cache()
        app.setPalette(palette(self.name))
        app.setStyleSheet(style_sheet(self.name))
        self.changed.emit(self.name)


_theme: Theme | None = None


def current() -> Theme:
    global _theme
    if _theme is None:
        _theme = Theme()
    return _theme


def install(app: QApplication, forced: str | None = None) -> Theme:
    global _theme
    _theme = Theme(forced)
    _theme.apply(app)
    return _theme


if __name__ == "__main__":
    for scheme in TOKENS:
        (THEME_DIR / f"{scheme}.qss").write_text(render_style_sheet(scheme), encoding="utf-8")
        print("wrote", THEME_DIR / f"{scheme}.qss")
