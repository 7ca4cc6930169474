"""Every text colour on every background each theme draws it on keeps WCAG AA contrast (4.5:1), row states
included; the parts of controls a person must see keep 3:1. The pairs are crm_desktop/theme.py's PAIRS; the
style sheets and the views' state tones are checked to use no pair, and no colour, that PAIRS does not list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop import theme
from crm_desktop.theme import (
    AVATAR_COLORS,
    AVATAR_TEXT,
    NON_TEXT_PAIRS,
    PAIRS,
    THEME_DIR,
    TOKENS,
    TONE_BACKGROUNDS,
    TONES,
)
from tests.desktop.conftest import Desk

ROOT = Path(__file__).resolve().parents[2]
AA_TEXT = 4.5
AA_NON_TEXT = 3.0


def luminance(hex_color: str) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    color = QColor(hex_color)

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.red()) + 0.7152 * channel(color.green()) + 0.0722 * channel(color.blue())


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-too-light grey


def _failures(pairs: list[tuple[str, str, str]], minimum: float) -> list[str]:
    found = []
    for name, tokens in TOKENS.items():
        for text, background, where in pairs:
            ratio = contrast(tokens[text], tokens[background])
            if ratio < minimum:
                found.append(
                    f"{name}: {text} {tokens[text]} on {background} {tokens[background]} = {ratio:.2f}:1 ({where})"
                )
    return found


def tone_pairs() -> list[tuple[str, str, str]]:
    """A tone's text on the surfaces list rows are drawn on, and on its own badge background."""
    pairs = []
    for tone, token in TONES.items():
        pairs += [(token, surface, f"'{tone}' tone in a list") for surface in ("bg", "surface", "alt_row")]
        pairs.append((token, TONE_BACKGROUNDS[tone], f"'{tone}' badge"))
    return pairs


def test_every_text_pair_of_both_themes_reaches_aa() -> None:
    failures = _failures(PAIRS + tone_pairs(), AA_TEXT)
    assert not failures, "text below WCAG AA (4.5:1):\n  " + "\n  ".join(failures)


def test_controls_stand_out_from_their_background() -> None:
    failures = _failures(NON_TEXT_PAIRS, AA_NON_TEXT)
    assert not failures, "control outlines below 3:1:\n  " + "\n  ".join(failures)


def test_avatar_initials_are_readable() -> None:
    low = [
        f"{AVATAR_TEXT} on {c} = {contrast(AVATAR_TEXT, c):.2f}"
        for c in AVATAR_COLORS
        if contrast(AVATAR_TEXT, c) < 4.5
    ]
    assert not low, low


def test_the_low_stock_row_of_the_dark_theme_is_dark_with_light_text() -> None:
    """The bug this test was written for: pale pink rows under white text in the dark theme."""
    from crm_desktop.views.stock.common import LOW_BACKGROUND, LOW_TEXT

    dark = TOKENS["dark"]
    assert luminance(dark[LOW_BACKGROUND]) < luminance(dark["text"])
    assert contrast(dark["text"], dark[LOW_BACKGROUND]) >= AA_TEXT
    assert contrast(dark[LOW_TEXT], dark[LOW_BACKGROUND]) >= AA_TEXT


# --- every pair the style sheets use is one PAIRS checks ------------------------------------------------------


def _rules(sheet: str, token: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(selector, {property: token}) for each rule of a style sheet whose colours are written ``token``
    (``@name@`` in the template, ``{name}`` in the views' format strings)."""
    sheet = re.sub(r"/\*.*?\*/", "", sheet, flags=re.S)
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", sheet):
        props = {}
        for prop, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body):
            names = re.findall(token, value)
            if names:
                props[prop.strip()] = names[-1]
        yield selector.strip(), props


def _sheets() -> list[tuple[str, str, str]]:
    """(where, text, token pattern) of each style sheet the app applies."""
    from crm_desktop.views.tickets import detail as ticket_detail
    from crm_desktop.widgets import document_window

    template = (THEME_DIR / "_template.qss.in").read_text(encoding="utf-8")
    views = r"\{(\w+)\}"
    return [
        ("_template.qss.in", template, r"@(\w+)@"),
        ("document_window.STYLE", document_window.STYLE.replace("{{", "{").replace("}}", "}"), views),
        ("tickets.detail.SLA_STYLE", ticket_detail.SLA_STYLE.replace("{{", "{").replace("}}", "}"), views),
    ]


def test_the_style_sheets_use_only_pairs_the_theme_checks() -> None:
    known = {(text, background) for text, background, _ in PAIRS + tone_pairs()}
    texts = {text for text, _ in known}
    missing = []
    for where, sheet, pattern in _sheets():
        # a format string's braces are the rule's own once the {{ }} are undone: read tokens as @x@
        if pattern != r"@(\w+)@":
            sheet = re.sub(r"\{(\w+)\}", r"@\1@", sheet)
        for selector, props in _rules(sheet, r"@(\w+)@"):
            text = props.get("color")
            background = props.get("background") or props.get("background-color")
            if text is not None and text not in texts:
                missing.append(f"{where}: {selector}: color {text} is in no checked pair")
            if text is not None and background is not None and (text, background) not in known:
                missing.append(f"{where}: {selector}: {text} on {background} is not checked")
            selection = (props.get("selection-color"), props.get("selection-background-color"))
            if None not in selection and selection not in known:
                missing.append(f"{where}: {selector}: selection {selection[0]} on {selection[1]} is not checked")
    assert not missing, "\n".join(missing)


def test_no_colour_literals_in_views_and_widgets() -> None:
    """Colours come from theme.py's tokens (so the pairs above cover them), not from hex in a view."""
    literal = re.compile(r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?\b|#[0-9a-fA-F]{3}\b(?=[\"';])")
    found = []
    for folder in ("views", "widgets"):
        for path in sorted((ROOT / "crm_desktop" / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if literal.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "colour literals (use crm_desktop.theme tokens):\n" + "\n".join(found)


def test_the_qss_files_are_rendered_from_the_template() -> None:
    for name in TOKENS:
        assert (THEME_DIR / f"{name}.qss").read_text(encoding="utf-8") == theme.render_style_sheet(name), (
            f"resources/theme/{name}.qss is stale: run python -m crm_desktop.theme"
        )
        for file_name, text in theme.render_pictures(name).items():
            assert (THEME_DIR / file_name).read_text(encoding="utf-8") == text, f"{file_name} is stale"
        assert "@THEME_DIR@" not in theme.style_sheet(name)  # its pictures are found from any directory


# --- the chart draws in the theme's colours -------------------------------------------------------------------


@pytest.fixture
def dark(qapp: QApplication) -> Iterator[str]:
    style, sheet, palette = qapp.style().name(), qapp.styleSheet(), qapp.palette()
    theme.install(qapp, "dark")
    yield "dark"
    theme.install(qapp, "light")
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)
    qapp.setPalette(palette)


def test_report_chart_gridlines_and_labels_follow_the_dark_theme(desk: Desk, qtbot: QtBot, dark: str) -> None:
    from tests.desktop.test_reports import open_report

    page = open_report(desk, qtbot, desk.signed_in_api())
    desk.wait_until(lambda: len(page.chart.axes()) == 2)
    tokens = TOKENS[dark]
    for axis in page.chart.axes():
        assert axis.gridLineColor() == QColor(tokens["chart_grid"]), "gridlines glare"
        assert axis.labelsColor() == QColor(tokens["muted"])
    # subtle lines on the page (not white on black), labels readable on it
    assert contrast(tokens["chart_grid"], tokens["bg"]) < 1.6
    assert contrast(tokens["muted"], tokens["bg"]) >= AA_TEXT


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_unchecked_check_boxes_and_radio_buttons_are_visible(qapp: QApplication, qtbot: QtBot, name: str) -> None:
    """Fusion outlines them a shade darker than the window: on the dark page they were all but invisible."""
    from PySide6.QtWidgets import QCheckBox, QRadioButton, QVBoxLayout, QWidget

    style, sheet, palette = qapp.style().name(), qapp.styleSheet(), qapp.palette()
    theme.install(qapp, name)
    try:
        page = QWidget()
        qtbot.addWidget(page)
        column = QVBoxLayout(page)
        boxes = [QCheckBox("Low stock only"), QRadioButton("Keep mine")]
        for box in boxes:
            column.addWidget(box)
        page.show()
        page.resize(240, 100)
        qapp.processEvents()
        background = TOKENS[name]["bg"]
        for box in boxes:
            picture = box.grab().toImage()
            strongest = max(
                contrast(picture.pixelColor(x, y).name(), background)
                for x in range(min(22, picture.width()))
                for y in range(picture.height())
            )
            assert strongest >= AA_NON_TEXT, f"{name}: {box.text()!r}'s outline is {strongest:.2f}:1 on the page"
    finally:
        theme.install(qapp, "light")
        qapp.setStyleSheet(sheet)
        qapp.setStyle(style)
        qapp.setPalette(palette)
