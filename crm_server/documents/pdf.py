"""Draw a Document (layout.py) as a PDF with reportlab platypus: header with logo and title, the two
parties, the lines, the VAT breakdown and totals, payment terms and notes; every page gets the
company footer, its number and, for drafts and cancelled invoices, a mark across it.

`render` is synchronous and CPU-bound: call it through `render_async` (a worker thread) from the
event loop. Renders are serialised by a lock because reportlab's font subsetting state is shared;
under the GIL that costs no throughput."""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors, pagesizes
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from crm_server.documents.layout import Document, Line, Party, Template, amount, day, percent, plain_number, template

_render_lock = threading.Lock()
FRAME_PADDING = 6.0  # reportlab's default Frame padding (pt)


@dataclass(frozen=True)
class _Styles:
    """The few Paragraph styles (Paragraphs only where text must wrap: long descriptions, notes)."""

    body: ParagraphStyle
    muted: ParagraphStyle
    bold: ParagraphStyle
    cell: ParagraphStyle


_styles: dict[int, tuple[Template, _Styles]] = {}


def _make_styles(tpl: Template) -> _Styles:
    found = _styles.get(id(tpl))
    if found is not None and found[0] is tpl:
        return found[1]
    size, small = tpl.sizes["body"], tpl.sizes["small"]
    body = ParagraphStyle(
        "body", fontName=tpl.font, fontSize=size, leading=size * 1.3, textColor=colors.HexColor(tpl.colours["text"])
    )
    made = _Styles(
        body=body,
        muted=ParagraphStyle(
            "muted",
            parent=body,
            fontSize=small,
            leading=small * 1.4,
            fontName=tpl.bold_font,
            textColor=colors.HexColor(tpl.colours["muted"]),
        ),
        bold=ParagraphStyle("bold", parent=body, fontName=tpl.bold_font),
        cell=ParagraphStyle("cell", parent=body, leading=size * 1.25),
    )
    _styles[id(tpl)] = (tpl, made)
    return made


def _text(value: str) -> str:
    """Plain text for a Paragraph: markup characters escaped, line breaks kept."""
    return escape(value.strip()).replace("\n", "<br/>")


def _title(doc: Document, tpl: Template) -> str:
    return tpl.label(doc.kind)


# --- blocks --------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _logo_size(png: bytes) -> tuple[int, int] | None:
    """The logo's pixel size (read once: the same logo prints on every document), None if unreadable."""
    try:
        width, height = ImageReader(io.BytesIO(png)).getSize()
    except Exception:  # a broken logo setting must not stop the invoice
        return None
    return (int(width), int(height)) if width and height else None


def _logo(png: bytes, tpl: Template) -> Flowable | None:
    size = _logo_size(png)
    if size is None:
        return None
    max_w, max_h = tpl.logo_max[0] * mm, tpl.logo_max[1] * mm
    scale = min(max_w / size[0], max_h / size[1])
    image = Image(io.BytesIO(png), width=size[0] * scale, height=size[1] * scale)
    image.hAlign = "LEFT"
    return image


def _plain(rows: list[list[Any]], widths: list[float], style: list[Any], **kw: Any) -> Table:
    """A table of plain strings (much cheaper than Paragraphs: no markup parsing, no wrapping)."""
    table = Table(rows, colWidths=widths, **kw)
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *style,
            ]
        )
    )
    return table


def _wrapped(text: str, font: str, size: float, width: float) -> str:
    """`text` broken into lines that fit `width` (kept line breaks too)."""
    return "\n".join(
        part for line in text.strip().splitlines() for part in (simpleSplit(line, font, size, width) or [""])
    )


def _header(doc: Document, tpl: Template, width: float) -> Flowable:
    logo = _logo(doc.logo_png, tpl) if doc.logo_png else None
    left: Any = (
        logo if logo is not None else _wrapped(doc.company.name, tpl.bold_font, tpl.sizes["company"], width * 0.48)
    )
    meta: list[tuple[str, str]] = [
        (tpl.label("number"), doc.number or tpl.label("draft_number")),
        (tpl.label("issue_date"), day(doc.issue_date, tpl)),
    ]
    if doc.kind == "proposal":
        meta.append((tpl.label("valid_until"), day(doc.valid_until, tpl)))
    else:
        meta.append((tpl.label("due_date"), day(doc.due_date, tpl)))
    meta.append((tpl.label("currency"), doc.currency))
    rows: list[list[Any]] = [[left, _title(doc, tpl), ""]]
    rows += [["", k, v] for k, v in meta if v]
    muted, accent = colors.HexColor(tpl.colours["muted"]), colors.HexColor(tpl.colours["accent"])
    size, title = tpl.sizes["body"], tpl.sizes["title"]
    return _plain(
        rows,
        [width * 0.55, width * 0.2, width * 0.25],
        [
            ("SPAN", (0, 0), (0, -1)),
            ("SPAN", (1, 0), (2, 0)),
            ("FONTNAME", (0, 0), (0, 0), tpl.bold_font),
            ("FONTSIZE", (0, 0), (0, 0), tpl.sizes["company"]),
            ("LEADING", (0, 0), (0, 0), tpl.sizes["company"] * 1.25),
            ("FONTNAME", (1, 0), (2, 0), tpl.bold_font),
            ("FONTSIZE", (1, 0), (2, 0), title),
            ("LEADING", (1, 0), (2, 0), title * 1.2),
            ("TEXTCOLOR", (1, 0), (2, 0), accent),
            ("ALIGN", (1, 0), (2, 0), "RIGHT"),
            ("BOTTOMPADDING", (1, 0), (2, 0), 3 * mm),
            ("FONTNAME", (1, 1), (-1, -1), tpl.font),
            ("FONTSIZE", (1, 1), (-1, -1), size),
            ("FONTNAME", (1, 1), (1, -1), tpl.bold_font),
            ("FONTSIZE", (1, 1), (1, -1), tpl.sizes["small"]),
            ("TEXTCOLOR", (1, 1), (1, -1), muted),
            ("ALIGN", (2, 1), (2, -1), "RIGHT"),
            ("VALIGN", (1, 1), (-1, -1), "MIDDLE"),
        ],
    )


def _party(label: str, party: Party, tpl: Template, width: float) -> list[str]:
    """One party as label, name, and its details (address, VAT number, email, phone) as lines."""
    wrap = width - 6
    details = [_wrapped(party.address, tpl.font, tpl.sizes["body"], wrap)] if party.address else []
    if party.vat_number:
        details.append(f"{tpl.label('vat_number')} {party.vat_number}")
    details += [c for c in (party.email, party.phone) if c]
    return [label.upper(), _wrapped(party.name, tpl.bold_font, tpl.sizes["body"], wrap), "\n".join(details)]


def _parties(doc: Document, tpl: Template, width: float) -> Flowable:
    to_label = tpl.label("prepared_for" if doc.kind == "proposal" else "bill_to")
    left = _party(tpl.label("from"), doc.company, tpl, width * 0.5)
    right = _party(to_label, doc.client, tpl, width * 0.5)
    size = tpl.sizes["body"]
    return _plain(
        [list(pair) for pair in zip(left, right, strict=True)],
        [width * 0.5, width * 0.5],
        [
            ("FONTNAME", (0, 0), (-1, -1), tpl.font),
            ("FONTSIZE", (0, 0), (-1, -1), size),
            ("LEADING", (0, 0), (-1, -1), size * 1.3),
            ("TEXTCOLOR", (0, 0), (-1, -1), colors.HexColor(tpl.colours["text"])),
            ("FONTNAME", (0, 0), (-1, 1), tpl.bold_font),
            ("FONTSIZE", (0, 0), (-1, 0), tpl.sizes["small"]),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.HexColor(tpl.colours["muted"])),
        ],
    )


def _cell(line: Line, key: str, doc: Document, tpl: Template, st: _Styles, width: float) -> Any:
    if key == "position":
        return str(line.position)
    if key == "description":
        text = line.description.strip()
        if "\n" in text or stringWidth(text, tpl.font, tpl.sizes["body"]) > width - 12:
            return Paragraph(_text(text), st.cell)  # only long ones pay for wrapping
        return text
    if key == "quantity":
        return plain_number(line.quantity, tpl)
    if key == "unit_price":
        return amount(line.unit_price, doc.currency, tpl)
    if key == "discount":
        return percent(line.discount_percent, tpl) if line.discount_percent else ""
    if key == "tax_percent":
        return percent(line.tax_percent, tpl)
    if key == "net":
        return amount(line.net, doc.currency, tpl)
    raise ValueError(f"unknown column {key!r} in the PDF template")


def _lines(doc: Document, tpl: Template, st: _Styles, width: float) -> Flowable:
    header = [c.label for c in tpl.columns]
    rows: list[list[Any]] = [header]
    rows += [[_cell(line, c.key, doc, tpl, st, width * c.width) for c in tpl.columns] for line in doc.lines]
    table = Table(rows, colWidths=[width * c.width for c in tpl.columns], repeatRows=1)
    rule = colors.HexColor(tpl.colours["rule"])
    style: list[Any] = [
        ("FONTNAME", (0, 0), (-1, -1), tpl.font),
        ("FONTNAME", (0, 0), (-1, 0), tpl.bold_font),
        ("FONTSIZE", (0, 0), (-1, -1), tpl.sizes["body"]),
        ("TEXTCOLOR", (0, 0), (-1, -1), colors.HexColor(tpl.colours["text"])),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(tpl.colours["header_background"])),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor(tpl.colours["accent"])),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, rule),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if len(rows) > 2:
        style.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor(tpl.colours["stripe"])]))
    for i, column in enumerate(tpl.columns):
        style.append(("ALIGN", (i, 0), (i, -1), column.align.upper()))
    table.setStyle(TableStyle(style))
    return table


def _totals(doc: Document, tpl: Template, width: float) -> Flowable:
    cur = doc.currency
    vat_rows: list[list[Any]] = [[tpl.label("rate"), tpl.label("base"), tpl.label("tax")]]
    vat_rows += [[percent(t.rate, tpl), amount(t.base, cur, tpl), amount(t.tax, cur, tpl)] for t in doc.taxes]
    vat = Table(vat_rows, colWidths=[width * 0.1, width * 0.15, width * 0.13], hAlign="LEFT")
    vat.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), tpl.font),
                ("FONTNAME", (0, 0), (-1, 0), tpl.bold_font),
                ("FONTSIZE", (0, 0), (-1, -1), tpl.sizes["small"]),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.HexColor(tpl.colours["muted"])),
                ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.3, colors.HexColor(tpl.colours["rule"])),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    sums: list[list[str]] = [
        [tpl.label("subtotal"), amount(doc.net_total, cur, tpl)],
        [tpl.label("vat_total"), amount(doc.tax_total, cur, tpl)],
        [f"{tpl.label('total')} {cur}", amount(doc.gross_total, cur, tpl)],
    ]
    due_row = None
    if doc.kind == "invoice" and doc.paid_total:
        sums.append([tpl.label("paid"), amount(doc.paid_total, cur, tpl)])
        sums.append([tpl.label("amount_due"), amount(doc.gross_total - doc.paid_total, cur, tpl)])
        due_row = len(sums) - 1
    totals = Table(sums, colWidths=[width * 0.2, width * 0.2], hAlign="RIGHT")
    accent = colors.HexColor(tpl.colours["accent"])
    style: list[Any] = [
        ("FONTNAME", (0, 0), (-1, -1), tpl.font),
        ("FONTSIZE", (0, 0), (-1, -1), tpl.sizes["body"]),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
        ("FONTNAME", (0, 2), (-1, 2), tpl.bold_font),
        ("FONTSIZE", (0, 2), (-1, 2), tpl.sizes["body"] + 2),
        ("LINEABOVE", (0, 2), (-1, 2), 0.8, accent),
        ("TOPPADDING", (0, 2), (-1, 2), 4),
    ]
    if due_row is not None:
        style += [
            ("FONTNAME", (0, due_row), (-1, due_row), tpl.bold_font),
            ("TEXTCOLOR", (0, due_row), (-1, due_row), accent),
        ]
    totals.setStyle(TableStyle(style))
    outer = Table([[vat, totals]], colWidths=[width * 0.5, width * 0.5])
    outer.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return outer


def _closing(doc: Document, tpl: Template, st: _Styles) -> list[Flowable]:
    """Payment terms (or validity, or what a credit note cancels) and the notes."""
    sentences: list[str] = []
    if doc.kind == "proposal":
        if doc.valid_until is not None:
            sentences.append(tpl.texts["validity"].format(valid_until=day(doc.valid_until, tpl)))
    elif doc.kind == "credit_note":
        if doc.credited_number:
            sentences.append(tpl.texts["credit_note"].format(credited=doc.credited_number))
    elif doc.mark is None and doc.number:
        open_amount = doc.gross_total - doc.paid_total
        if open_amount <= 0:
            sentences.append(tpl.texts["payment_terms_paid"])
        elif doc.due_date is not None:
            sentences.append(
                tpl.texts["payment_terms"].format(
                    amount=amount(open_amount, doc.currency, tpl),
                    currency=doc.currency,
                    due_date=day(doc.due_date, tpl),
                    number=doc.number,
                )
            )
    out: list[Flowable] = [Paragraph(_text(s), st.body) for s in sentences]
    if doc.notes and doc.notes.strip():
        out += [
            Spacer(1, 3 * mm),
            Paragraph(_text(tpl.label("notes")).upper(), st.muted),
            Paragraph(_text(doc.notes), st.body),
        ]
    return out


def _decorate(doc: Document, tpl: Template) -> Any:
    """The per-page drawing: footer with the company's details and the page number; the mark."""
    footer = " · ".join(
        p
        for p in (
            doc.company.name,
            doc.company.vat_number and f"{tpl.label('vat_number')} {doc.company.vat_number}",
            doc.company.email,
            doc.company.phone,
        )
        if p
    )

    def draw(canvas: Canvas, frame_doc: Any) -> None:
        width = canvas._pagesize[0]
        left = tpl.margins["left"] * mm + FRAME_PADDING
        right = width - tpl.margins["right"] * mm - FRAME_PADDING
        y = tpl.margins["bottom"] * mm * 0.55
        canvas.saveState()
        canvas.setStrokeColor(colors.HexColor(tpl.colours["rule"]))
        canvas.setLineWidth(0.4)
        canvas.line(left, y + 10, right, y + 10)
        canvas.setFont(tpl.font, tpl.sizes["small"])
        canvas.setFillColor(colors.HexColor(tpl.colours["muted"]))
        canvas.drawString(left, y, footer)
        canvas.drawRightString(right, y, tpl.label("page").format(page=canvas.getPageNumber()))
        canvas.restoreState()

    return draw


class _MarkedDoc(SimpleDocTemplate):
    """Draws the mark (DRAFT, CANCELLED) after each page's content, so it shows over the tables."""

    mark: str | None = None
    tpl: Template | None = None

    def afterPage(self) -> None:
        if not self.mark or self.tpl is None:
            return
        canvas, tpl = self.canv, self.tpl
        width, height = canvas._pagesize
        canvas.saveState()
        canvas.translate(width / 2, height / 2)
        canvas.rotate(35)
        canvas.setFillColor(colors.HexColor(tpl.colours["mark"]))
        canvas.setFillAlpha(0.14)
        canvas.setFont(tpl.bold_font, tpl.sizes["mark"])
        canvas.drawCentredString(0, -tpl.sizes["mark"] / 3, self.mark)
        canvas.restoreState()


def render(doc: Document, tpl: Template | None = None) -> bytes:
    """The PDF of `doc`, as bytes."""
    tpl = tpl or template()
    st = _make_styles(tpl)
    size = getattr(pagesizes, tpl.page_size.upper())
    m = tpl.margins
    buffer = io.BytesIO()
    title = f"{_title(doc, tpl)} {doc.number or tpl.label('draft_number')}"
    frame = _MarkedDoc(
        buffer,
        pagesize=size,
        leftMargin=m["left"] * mm,
        rightMargin=m["right"] * mm,
        topMargin=m["top"] * mm,
        bottomMargin=m["bottom"] * mm,
        title=title,
        author=doc.company.name,
        subject=title,
        creator="CRM",
    )
    frame.mark, frame.tpl = (tpl.label(doc.mark) if doc.mark else None), tpl
    width = frame.width - 2 * FRAME_PADDING  # platypus frames keep 6 pt inside the margins
    story: list[Flowable] = [_header(doc, tpl, width), Spacer(1, 8 * mm), _parties(doc, tpl, width)]
    if doc.title:
        story += [Spacer(1, 5 * mm), Paragraph(_text(doc.title), st.bold)]
    story += [
        Spacer(1, 6 * mm),
        _lines(doc, tpl, st, width),
        Spacer(1, 4 * mm),
        _totals(doc, tpl, width),
        Spacer(1, 6 * mm),
        *_closing(doc, tpl, st),
    ]
    decorate = _decorate(doc, tpl)
    with _render_lock:
        frame.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


async def render_async(doc: Document, tpl: Template | None = None) -> bytes:
    """`render` in a worker thread, so the event loop keeps serving while reportlab draws."""
    return await asyncio.to_thread(render, doc, tpl)
