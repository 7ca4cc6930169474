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
        "on_accent_soft": "#48629e",
        "danger": "#c23a2f",
        "on_danger": "#ffffff",
        "danger_soft": "#fdf0ee",
        "danger_border": "#f3c9c4",
        "warning_bg": "#fff5e2",
        "warning_border": "#f2dca9",
        "warning_text": "#7a4a00",
        "success": "#17704b",
        "alt_row": "#f9fafc",
        "scroll": "#c9d0da",
        "control": "#7d8796",
        "brand_a": "#3563d0",
        "brand_b": "#5a3fc0",
        "on_brand": "#ffffff",
        "on_brand_muted": "#e6ecfb",
        "chart_grid": "#e1e5ec",
        "chart_axis": "#cfd5de",
        "qr_bg": "#ffffff",
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
        "on_accent_soft": "#a3b5dc",
        "danger": "#ff8a7f",
        "on_danger": "#2a0f0c",
        "danger_soft": "#35201f",
        "danger_border": "#5b302c",
        "warning_bg": "#382c12",
        "warning_border": "#5a4718",
        "warning_text": "#f6cd73",
        "success": "#5fd3a0",
        "alt_row": "#1a1e25",
        "scroll": "#3a4250",
        "control": "#727d90",
        "brand_a": "#2a4fa8",
        "brand_b": "#4a34a0",
        "on_brand": "#ffffff",
        "on_brand_muted": "#d5dcf0",
        "chart_grid": "#262b35",
        "chart_axis": "#363d4a",
        "qr_bg": "#ffffff",
        "icon": "#aab3c2",
    },
}

# Avatars: one colour per person (the same in both themes), initials in AVATAR_TEXT on it.
AVATAR_COLORS = ("#3563d0", "#7a4fc4", "#1d8457", "#b8512a", "#1f7a8c", "#b0397a", "#5b6b2a")
AVATAR_TEXT = "#ffffff"

# How a state reads in a list or a badge (statuses, overdue, low stock) -> the token its text is drawn in.
TONES: dict[str, str] = {
    "neutral": "muted",
    "info": "accent_text",
    "success": "success",
    "warning": "warning_text",
    "danger": "danger",
}
# A badge of a tone: its text (TONES) on this background (the document windows' status badge, orders).
TONE_BACKGROUNDS: dict[str, str] = {
    "neutral": "hover",
    "info": "accent_soft",
    "success": "alt_row",
    "warning": "warning_bg",
    "danger": "danger_soft",
}

# Every text colour the app draws on every background it draws it on (resources/theme/_template.qss.in,
# the views' row states and tones, the chart): (text token, background token, where). Both themes must
# keep each pair at WCAG AA contrast, 4.5:1 (tests/desktop/test_theme_contrast.py).
_SURFACES = ("bg", "surface", "alt_row")
PAIRS: list[tuple[str, str, str]] = [
    *[("text", b, "body text") for b in (*_SURFACES, "sidebar", "hover", "pressed")],
    ("text", "accent_soft", "selected row, selected text"),
    ("text", "danger_soft", "invalid field, overdue ticket row, low-stock row"),
    ("text", "warning_bg", "ticket row near its SLA"),
    *[("muted", b, "captions, placeholders, column headers, disabled text") for b in (*_SURFACES, "sidebar", "hover")],
    ("muted", "accent_soft", "caption on a selected row"),
    *[("accent", b, "links and link buttons") for b in (*_SURFACES, "sidebar")],
    *[("accent_text", b, "selected tab, info text, 'info' tone") for b in (*_SURFACES, "accent_soft")],
    ("on_accent", "accent", "primary button"),
    ("on_accent", "accent_hover", "primary button, hovered"),
    ("on_accent_soft", "accent_soft", "primary button while it works (disabled), still read"),
    *[("danger", b, "errors, overdue, low stock, 'danger' tone") for b in (*_SURFACES, "sidebar", "danger_soft")],
    ("on_danger", "danger", "unread-count badge on the bell"),
    *[("warning_text", b, "'warning' tone, offline banner, high priority") for b in (*_SURFACES, "warning_bg")],
    *[("success", b, "'success' tone, won column") for b in (*_SURFACES, "sidebar")],
    ("on_brand", "brand_a", "sign-in brand panel"),
    ("on_brand", "brand_b", "sign-in brand panel"),
    ("on_brand_muted", "brand_a", "sign-in brand panel, muted"),
    ("on_brand_muted", "brand_b", "sign-in brand panel, muted"),
    ("muted", "surface", "chart axis labels and title"),
    ("muted", "bg", "chart axis labels and title"),
]
# Parts of controls a person must see (WCAG 1.4.11, 3:1): (colour token, background token, where).
NON_TEXT_PAIRS: list[tuple[str, str, str]] = [
    ("control", "surface", "radio button and check box outline"),
    ("control", "bg", "radio button and check box outline"),
]


def color(token: str) -> str:
    """The current theme's colour for ``token`` (read when drawing: the theme can change)."""
    return current().token(token)


def tone(name: str | None) -> str | None:
    """The text colour of a tone (TONES) in the current theme; None for no tone."""
    return None if name is None else color(TONES[name])


class ToneColors:
    """A state -> tone table read like a dict of colours: ``.get(state)`` is the tone's colour now."""

    def __init__(self, tones: dict[str, str]) -> None:
        self.tones = tones

    def get(self, key: object, default: str | None = None) -> str | None:
        name = self.tones.get(str(getattr(key, "value", key)))
        return tone(name) if name is not None else default

    def background(self, key: object) -> str:
        """The badge background of the state's tone (neutral's when the state has none)."""
        return color(TONE_BACKGROUNDS[self.tones.get(str(getattr(key, "value", key)), "neutral")])

    def __getitem__(self, key: object) -> str:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found


def system_scheme() -> str:
    app = QGuiApplication.instance()
    if app is None:
        return "light"
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def style_sheet(name: str) -> str:
    # url()s in a style sheet are read from the working directory: the theme's pictures by their full path
    return (THEME_DIR / f"{name}.qss").read_text(encoding="utf-8").replace("@THEME_DIR@", THEME_DIR.as_posix())


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


def render_pictures(name: str) -> dict[str, str]:
    """The style sheet's pictures in this theme's colours: the drop-down arrow of combo boxes and date
    fields and the step arrows of number fields (the app's chevron icons, in the muted colour)."""
    icons = THEME_DIR.parent / "icons"
    return {
        f"arrow-{way}-{name}.svg": (icons / f"chevron-{way}.svg")
        .read_text(encoding="utf-8")
        .replace("currentColor", TOKENS[name]["muted"])
        for way in ("down", "up")
    }


if __name__ == "__main__":
    for scheme in TOKENS:
        (THEME_DIR / f"{scheme}.qss").write_text(render_style_sheet(scheme), encoding="utf-8")
        print("wrote", THEME_DIR / f"{scheme}.qss")
        for file_name, text in render_pictures(scheme).items():
            (THEME_DIR / file_name).write_text(text, encoding="utf-8")
            print("wrote", THEME_DIR / file_name)
