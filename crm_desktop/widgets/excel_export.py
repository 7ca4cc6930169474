"""Export of a filtered list to Excel, shared by the lists.

    ask_save_path(parent, "Export leads to Excel", "leads.xlsx", self.export_to, "leadExportDialog")
        # the one "where to?" dialog of every export (non-native, window-modal, .xlsx suffix)
    await write_workbook(path, "Invoices", headers, rows)
        # for lists the server has no export of: rows already fetched, written in a worker thread

Lists the server exports itself (leads: the leads area's export call) only use the dialog."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from crm_server.contract import spreadsheet


def ask_save_path(
    parent: QWidget, title: str, file_name: str, on_path: Callable[[str], None], object_name: str = "exportDialog"
) -> QFileDialog:
    """Ask where to save a workbook; `on_path` gets the chosen path."""
    dialog = QFileDialog(parent, title, file_name, "Excel workbook (*.xlsx)")
    dialog.setObjectName(object_name)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix("xlsx")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    dialog.fileSelected.connect(on_path)
    dialog.open()
    return dialog


def _write(path: str, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    name = "".join(c for c in title if c not in "[]:*?/\\")[:31]  # what a sheet name may not hold
    sheet = book.create_sheet(name or "Sheet")
    sheet.append(spreadsheet.xlsx_row(sheet, headers))
    for row in rows:
        sheet.append(spreadsheet.xlsx_row(sheet, row))  # text as text (crm_server/contract/spreadsheet.py)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")  # the file appears whole or not at all
    book.save(partial)
    os.replace(partial, target)


async def write_workbook(path: str, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """One sheet with a header row; Decimals stay exact numbers; text stays text (never a formula).
    Returns the rows written."""
    await asyncio.to_thread(_write, path, title, headers, rows)  # the UI keeps going
    return len(rows)
