"""crm_desktop.layout_check finds each shape of layout bug it names, and the widgets built against them
(FilterBar's flow, header_fit) avoid it. Offscreen and quick; test_screens_fit runs the check on every
screen in a real window."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop.layout_check import check_window, size_problems
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.header_fit import keep_titles_whole


def _window(qtbot: QtBot, content: QWidget, width: int) -> QWidget:
    """`content` squeezed into `width` pixels of a window (as a 1280x800 screen squeezes a page)."""
    window = QWidget()
    qtbot.addWidget(window)
    content.setParent(window)
    window.resize(width + 40, 300)
    window.show()
    content.setGeometry(10, 10, width, 120)
    qtbot.waitExposed(window)
    return window


def test_neighbours_of_a_squeezed_row_overlap_and_the_check_says_which(qtbot: QtBot) -> None:
    row = QWidget()
    layout = QHBoxLayout(row)
    search = QLineEdit()
    search.setPlaceholderText("Search number or client…")
    search.setMinimumWidth(300)
    layout.addWidget(search)
    status = QComboBox()
    status.addItem("Any status")
    status.setMinimumWidth(300)
    layout.addWidget(status)
    window = _window(qtbot, row, 450)
    found = [p for p in check_window(window, []) if p.check == "overlap"]
    assert len(found) == 1
    assert "Search number or client" in found[0].detail and "Any status" in found[0].detail


def test_a_filter_bar_wraps_where_a_row_would_overlap(qtbot: QtBot) -> None:
    bar = FilterBar()
    search = bar.add_search("q", "Search number or client…")
    search.setMinimumWidth(300)
    status = bar.add_choice("status", "Status", [("Paid", "paid")], any_label="Any status")
    status.setMinimumWidth(300)
    bar.add_trailing(QPushButton("Export to Excel"))
    window = _window(qtbot, bar, 520)
    qtbot.waitUntil(lambda: status.mapTo(bar, QPoint(0, 0)).y() > search.mapTo(bar, QPoint(0, 0)).y())
    assert check_window(window, []) == []
    assert bar.values() == {}


def test_a_column_narrower_than_its_title_is_found_and_header_fit_widens_it(qtbot: QtBot) -> None:
    model = QStandardItemModel(3, 3)
    model.setHorizontalHeaderLabels(["Number", "Low threshold", "Expected delivery"])
    cut = QTableView()
    cut.setModel(model)
    for column in range(3):
        cut.setColumnWidth(column, 40)
    cut.horizontalHeader().setSortIndicatorShown(True)
    holder = QWidget()
    box = QVBoxLayout(holder)
    box.addWidget(cut)
    window = _window(qtbot, holder, 700)
    found = [p.detail for p in check_window(window, []) if p.check == "header_elided"]
    assert any('"Low threshold"' in detail for detail in found), found

    whole = QTableView()
    whole.setModel(model)
    for column in range(3):
        whole.setColumnWidth(column, 40)
    whole.horizontalHeader().setSortIndicatorShown(True)
    keep_titles_whole(whole)
    window = _window(qtbot, whole, 700)
    assert [p for p in check_window(window, []) if p.check == "header_elided"] == []
    assert whole.columnWidth(1) > 40


def test_a_window_taller_than_the_screen_is_found(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    screen = window.screen().availableGeometry()
    window.resize(screen.width() - 100, screen.height() + 160)
    window.show()
    qtbot.waitExposed(window)
    found = list(size_problems(window))
    assert found and found[0].check == "too_big"
    window.resize(screen.width() - 100, screen.height() - 100)
    assert list(size_problems(window)) == []
