"""PdfPreviewDialog: a PDF from the server shown inside the app, with Print… and Save as….

API:

    dialog = PdfPreviewDialog(parent, api, lambda: invoices.pdf(api, 7), "Invoice INV-2026-000007")
    dialog.open()                 # fetches the bytes in the background (the area's typed call;
                                  # a path of the API is still taken and read raw)
    dialog.loaded                 # Signal(): the document is showing
    dialog.failed                 # Signal(str): why it could not be shown (also said in the dialog)
    dialog.page_count() -> int    # 0 until loaded
    dialog.pdf_bytes              # what was fetched (b"" until loaded)
    dialog.save_to(path)          # what Save as… does once a file name is chosen
    dialog.ask_print()            # Print… (Ctrl+P): Qt's print dialog on dialog.printer
    dialog.printer                # the QPrinter it prints on: a second Print… starts from the first's choices
    dialog.print_to(printer)      # what the print dialog's Print does: the chosen pages -> the number printed

The PDF is rendered by QtPdf (QPdfDocument + QPdfView, PySide6-Addons) from bytes held in memory:
nothing is written to disk unless the person saves it. Printing renders each page with
QPdfDocument.render at the printer's resolution (at most PRINT_DPI) onto the printer, the paper
size taken from the page, so what the printer gets is what the preview shows; Qt's print dialog's
"Print to File (PDF)" gives the same pages as a PDF of pictures (Save as… keeps the original)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSize, QSizeF, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPageLayout, QPageSize, QPainter, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter
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

PRINT_DPI = 300  # pages are rendered at the printer's resolution up to this (an A4 page: 2480x3508, 35 MB)


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
        self.printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        self.printer.setDocName(title)
        self.print_button = QPushButton("Print…")
        self.print_button.setToolTip("Print the PDF (Ctrl+P)")
        self.print_button.setEnabled(False)
        self.print_button.clicked.connect(self.ask_print)
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Save the PDF to a file (Ctrl+S)")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.ask_save)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)

        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        for button in (self.zoom_out, self.zoom_in, self.fit, self.print_button, self.save_button, self.close_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self).activated.connect(self.ask_save)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Print), self).activated.connect(self.ask_print)
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
        self.print_button.setEnabled(True)
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

    def ask_print(self) -> QPrintDialog | None:
        """Qt's print dialog on self.printer (all pages, a range or the page in view); its Print prints."""
        if not self.pdf_bytes:
            return None
        dialog = QPrintDialog(self.printer, self)
        dialog.setObjectName("pdfPrintDialog")
        dialog.setWindowTitle(f"Print {self.title}")
        dialog.setMinMax(1, self.document.pageCount())
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintSelection, False)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, True)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintCurrentPage, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.accepted.connect(lambda: self.print_to(self.printer))
        QDialog.open(dialog)  # PySide's QPrintDialog.open wants a receiver; the plain window-modal open
        return dialog

    def pages_to_print(self, printer: QPrinter) -> list[int]:
        """The pages (from 0) the print dialog's choice names, each copy when the printer makes none."""
        count = self.document.pageCount()
        pages = list(range(count))
        if printer.printRange() == QPrinter.PrintRange.PageRange:
            ranges = printer.pageRanges()
            pages = [page for page in pages if ranges.contains(page + 1)]
        elif printer.printRange() == QPrinter.PrintRange.CurrentPage:
            pages = [min(max(self.view.pageNavigator().currentPage(), 0), count - 1)]
        copies = 1 if printer.supportsMultipleCopies() else max(printer.copyCount(), 1)
        if printer.collateCopies():
            return pages * copies
        return [page for page in pages for _ in range(copies)]

    def print_to(self, printer: QPrinter) -> int:
        """Print the chosen pages on `printer`, each on paper of its own size; returns how many."""
        pages = self.pages_to_print(printer) if self.pdf_bytes else []
        if not pages:
            return 0
        printer.setFullPage(True)
        self._paper(printer, pages[0])
        painter = QPainter()
        if not painter.begin(printer):
            self.status.setText("Not printed: the printer could not be opened.")
            return 0
        self.status.setText("Printing…")
        try:
            for index, page in enumerate(pages):
                if index:
                    self._paper(printer, page)
                    printer.newPage()
                self._draw_page(painter, printer, page)
        finally:
            painter.end()
        self.status.setText(f"Sent {len(pages)} page{'s' if len(pages) != 1 else ''} to the printer.")
        return len(pages)

    def _paper(self, printer: QPrinter, page: int) -> None:
        """The page's own size (in points) as the paper, turned when it is wider than tall, no margins."""
        size = self.document.pagePointSize(page)
        landscape = size.width() > size.height()
        upright = QSizeF(size.height(), size.width()) if landscape else size
        orientation = QPageLayout.Orientation.Landscape if landscape else QPageLayout.Orientation.Portrait
        printer.setPageLayout(
            QPageLayout(
                QPageSize(upright, QPageSize.Unit.Point, "", QPageSize.SizeMatchPolicy.FuzzyMatch),
                orientation,
                QMarginsF(0, 0, 0, 0),
                QPageLayout.Unit.Point,
            )
        )

    def _draw_page(self, painter: QPainter, printer: QPrinter, page: int) -> None:
        """The page rendered at the printer's resolution, scaled to the paper whole and centred (a
        printer that keeps its own paper still gets the whole page)."""
        points = self.document.pagePointSize(page)
        dpi = min(printer.resolution(), PRINT_DPI)
        rendered = self.document.render(
            page, QSize(round(points.width() * dpi / 72), round(points.height() * dpi / 72))
        )
        image = QImage(rendered.size(), QImage.Format.Format_RGB32)  # on white: QtPdf leaves the paper transparent
        image.fill(Qt.GlobalColor.white)
        on_white = QPainter(image)
        on_white.drawImage(0, 0, rendered)
        on_white.end()
        area = QRectF(printer.pageLayout().fullRectPixels(printer.resolution()))
        scale = min(area.width() / points.width(), area.height() / points.height())
        target = QRectF(0, 0, points.width() * scale, points.height() * scale)
        target.moveCenter(area.center())
        painter.drawImage(target, image)

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
