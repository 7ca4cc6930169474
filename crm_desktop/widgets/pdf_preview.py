"""PdfPreviewDialog: a PDF from the server shown inside the app, with Save as….

API:

    dialog = PdfPreviewDialog(parent, api, lambda: invoices.pdf(api, 7), "Invoice INV-2026-000007")
    dialog.open()                 # fetches the bytes in the background (the area's typed call;
                                  # a path of the API is still taken and read raw)
    dialog.loaded                 # Signal(): the document is showing
    dialog.failed                 # Signal(str): why it could not be shown (also said in the dialog)
    dialog.page_count() -> int    # 0 until loaded
    dialog.pdf_bytes              # what was fetched (b"" until loaded)
    dialog.save_to(path)          # what Save as… does once a file name is chosen

The PDF is rendered by QtPdf (QPdfDocument + QPdfView, PySide6-Addons) from bytes held in memory:
nothing is written to disk unless the person saves it."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import tasks
from crm_desktop.api.client import ApiError
from crm_desktop.operations.errors import describe
from crm_desktop.widgets.record_window import fit_to_screen

log = logging.getLogger(__name__)


def file_name(title: str) -> str:
    """A safe default file name from the title ("Invoice INV-2026-000007" -> "Invoice INV-2026-000007.pdf")."""
    name = re.sub(r"[^\w.\- ]+", "_", title).strip() or "document"
    return f"{name}.pdf"


class PdfPreviewDialog(QDialog):
    """Shows the PDF `source` gives (a typed call of crm_desktop.api answering bytes, or a path of
    the API); zoom with the buttons or Ctrl++ / Ctrl+-."""

    loaded = Signal()
    failed = Signal(str)

    def __init__(
        self, parent: QWidget | None, api: Any, source: str | Callable[[], Awaitable[bytes]], title: str
    ) -> None:
        super().__init__(parent)
        self.api = api
        self.source = source
        self.title = title
        self.pdf_bytes = b""
        self.setObjectName("pdfPreviewDialog")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        fit_to_screen(self, 820, 960)  # a page at a readable size, never taller than the screen

        self.document = QPdfDocument(self)
        self._buffer: QBuffer | None = None
        self.view = QPdfView(self)
        self.view.setObjectName("pdfView")
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.view.setDocument(self.document)
        self.status = QLabel("Loading the PDF…")
        self.status.setProperty("role", "muted")
        self.zoom_out = QPushButton("−")
        self.zoom_out.setToolTip("Zoom out (Ctrl+-)")
        self.zoom_out.clicked.connect(lambda: self._zoom(1 / 1.25))
        self.zoom_in = QPushButton("+")
        self.zoom_in.setToolTip("Zoom in (Ctrl++)")
        self.zoom_in.clicked.connect(lambda: self._zoom(1.25))
        self.fit = QPushButton("Fit width")
        self.fit.clicked.connect(lambda: self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth))
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Save the PDF to a file (Ctrl+S)")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.ask_save)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)

        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        for button in (self.zoom_out, self.zoom_in, self.fit, self.save_button, self.close_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self).activated.connect(self.ask_save)
        QShortcut(QKeySequence(QKeySequence.StandardKey.ZoomIn), self).activated.connect(lambda: self._zoom(1.25))
        QShortcut(QKeySequence(QKeySequence.StandardKey.ZoomOut), self).activated.connect(lambda: self._zoom(1 / 1.25))
        self._task = tasks.spawn(self._load())

    def is_busy(self) -> bool:
        return not self._task.done()

    def page_count(self) -> int:
        return int(self.document.pageCount()) if self.pdf_bytes else 0

    async def _load(self) -> None:
        try:
            if callable(self.source):
                data = await self.source()
            else:
                data = bytes((await self.api.request("GET", self.source, raw=True)).content)
        except ApiError as exc:
            self._fail(describe(exc))
            return
        if not shiboken6.isValid(self):
            return
        self.show_bytes(data)

    def show_bytes(self, data: bytes) -> None:
        """Render `data` (a whole PDF); says so when it is not one."""
        buffer = QBuffer(self)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.document.load(buffer)
        self._buffer = buffer  # QPdfDocument reads from it; keep it alive
        if self.document.status() != QPdfDocument.Status.Ready or self.document.pageCount() < 1:
            self._fail("The server's answer is not a PDF that can be shown.")
            return
        self.pdf_bytes = data
        pages = self.document.pageCount()
        self.status.setText(f"{pages} page{'s' if pages != 1 else ''} - {len(data) // 1024 + 1} KB")
        self.save_button.setEnabled(True)
        self.loaded.emit()

    def _fail(self, message: str) -> None:
        if not shiboken6.isValid(self):
            return
        self.status.setText(f"The PDF could not be shown: {message}")
        self.status.setProperty("role", "error")
        self.failed.emit(message)

    def _zoom(self, factor: float) -> None:
        self.view.setZoomMode(QPdfView.ZoomMode.Custom)
        self.view.setZoomFactor(max(0.25, min(5.0, self.view.zoomFactor() * factor)))

    def ask_save(self) -> QFileDialog | None:
        if not self.pdf_bytes:
            return None
        dialog = QFileDialog(self, "Save PDF", file_name(self.title), "PDF document (*.pdf)")
        dialog.setObjectName("pdfSaveDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("pdf")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(self.save_to)
        dialog.open()
        return dialog

    def save_to(self, path: str) -> asyncio.Task[None]:
        async def write() -> None:
            try:
                await asyncio.to_thread(Path(path).write_bytes, self.pdf_bytes)  # the UI keeps going
            except OSError as exc:
                if shiboken6.isValid(self):
                    self.status.setText(f"Not saved: {exc.strerror or exc}")
                return
            if shiboken6.isValid(self):
                self.status.setText(f"Saved to {path}")

        return tasks.spawn(write())
