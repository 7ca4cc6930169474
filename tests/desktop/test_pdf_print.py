"""Printing a PDF preview as a person does: an issued invoice's window, its PDF button, Ctrl+P in the
preview, Qt's print dialog accepted with the printer set to "Print to File (PDF)" in a tmp folder.
The printed file has the document's pages, each on paper of the page's size, and shows what the
preview shows (its pages are pictures rendered by QtPdf, so it is compared by eye, as pixels: the
first page carries the invoice whose number the original's text holds)."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from crm_desktop.widgets.pdf_preview import PdfPreviewDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, the_dialog
from tests.desktop.test_invoices import click, editor, host, make_client, rate_id, signed_in

LINES = 45  # enough lines for the invoice to run over more than one page


def first_page(path: Path, size: QSize = QSize(300, 424)) -> QImage:
    """Page 1 of the PDF at `path`, rendered at `size` (an A4 page's shape), in grey."""
    document = QPdfDocument()
    document.load(str(path))
    assert document.status() == QPdfDocument.Status.Ready, document.status()
    page = QImage(size, QImage.Format.Format_RGB32)
    page.fill(Qt.GlobalColor.white)  # QtPdf leaves the paper transparent
    painter = QPainter(page)
    painter.drawImage(0, 0, document.render(0, size))
    painter.end()
    return page.convertToFormat(QImage.Format.Format_Grayscale8)


def ink_difference(a: QImage, b: QImage) -> tuple[int, float]:
    """(pixels inked in `a`, share of the pixels inked in either that differ clearly between them)."""
    assert a.size() == b.size(), (a.size(), b.size())
    inked = differ = ink_a = 0
    for y in range(a.height()):
        for x in range(a.width()):
            ga, gb = a.pixelColor(x, y).value(), b.pixelColor(x, y).value()
            ink_a += ga < 160
            if ga < 160 or gb < 160:
                inked += 1
                differ += abs(ga - gb) > 96
    return ink_a, differ / max(inked, 1)


def test_ctrl_p_prints_the_invoice_pdf_through_the_print_dialog(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, session = signed_in(desk, live=False)
    client = make_client(desk, api, "Acme SRL")
    line = {"quantity": "1", "unit_price": "10.00", "tax_rate_id": rate_id(desk, api, "Standard 19%")}
    lines = [{"description": f"Support hours, week {week}", **line} for week in range(1, LINES + 1)]
    draft = desk.run(api.post("/api/invoices", {"client_id": client["id"], "lines": lines}))
    desk.run(api.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"]}))

    window = editor(desk, host(qtbot), session, draft["id"])
    number = window.invoice.number if window.invoice else None
    assert number and number.startswith("INV-"), window.invoice
    click(qtbot, window.pdf_button)
    preview = the_dialog(PdfPreviewDialog)
    desk.wait_until(lambda: preview.page_count() >= 1, message="the PDF preview shows no pages")
    pages = preview.page_count()
    assert pages >= 2, f"{LINES} lines fit on one page: the test would not print a second one"
    original = tmp_path / "original.pdf"
    original.write_bytes(preview.pdf_bytes)
    assert number in " ".join(page.extract_text() for page in PdfReader(original).pages[:1])
    assert preview.print_button.isVisible() and preview.print_button.isEnabled()
    assert preview.print_button.text() == "Print…" and "Ctrl+P" in preview.print_button.toolTip()

    # The person's printer: a PDF file (a second Print… starts from the first's choices).
    printed = tmp_path / "printed.pdf"
    preview.printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    preview.printer.setOutputFileName(str(printed))
    focus(desk, preview.view)
    qtbot.keyClick(preview.view, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # Ctrl+P
    dialog = the_dialog(QPrintDialog)
    assert dialog.objectName() == "pdfPrintDialog" and number in dialog.windowTitle()
    assert dialog.windowModality() != Qt.WindowModality.NonModal and dialog.parent() is preview
    assert [e.text() for e in dialog.findChildren(QLineEdit) if e.objectName() == "filename"] == [str(printed)]
    assert not printed.exists()
    dialog.accept()  # the dialog's Print

    desk.wait_until(lambda: "Sent" in preview.status.text(), message=f"not printed: {preview.status.text()!r}")
    assert preview.status.text() == f"Sent {pages} pages to the printer."
    assert printed.is_file() and printed.read_bytes().startswith(b"%PDF")
    reader, source = PdfReader(printed), PdfReader(original)
    assert len(reader.pages) == pages == len(source.pages)
    for out, page in zip(reader.pages, source.pages, strict=True):  # paper of the page's own size
        assert abs(float(out.mediabox.width) - float(page.mediabox.width)) < 1
        assert abs(float(out.mediabox.height) - float(page.mediabox.height)) < 1

    # The first printed page shows the original's first page (the invoice with its number), not a
    # blank or another page.
    ink, differ = ink_difference(first_page(original), first_page(printed))
    assert ink > 500, "the original's first page is blank?"
    assert differ < 0.1, f"{differ:.0%} of the inked pixels differ from the original's first page"
    blank = QImage(first_page(original).size(), QImage.Format.Format_Grayscale8)
    blank.fill(Qt.GlobalColor.white)
    assert ink_difference(first_page(printed), blank)[1] > 0.9
