"""The Stock module: levels per product and warehouse (overview.py), a product's stock history
(history.py), the stock documents list (documents.py) with one window per document
(document_editor.py), and the warehouses manager (warehouses.py).

    create_page(session) -> StockPage                    # the sidebar's "Stock" (see views/modules.py)
    open_record(parent, session, "stock_document", id)   # a link that names a document
    open_record(parent, session, "product", id)          # a product's stock history
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session

__all__ = ["create_page", "open_record", "screenshot_states"]


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.stock.overview import StockPage

    return StockPage(session)


def open_record(parent: QWidget | None, session: Session, record_type: str, record_id: int) -> QWidget | None:
    """Open a stock document's window, or a product's stock history, from anywhere."""
    if record_type == "stock_document":
        from crm_desktop.views.stock.document_editor import open_stock_document

        return open_stock_document(parent, session, record_id)
    if record_type == "product":
        from crm_desktop.views.stock.history import open_history

        return open_history(parent, session, record_id)
    return None


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The overview with the demo's stock, a product's history, the documents tab, a document."""
    from crm_desktop.views.stock.document_editor import open_stock_document
    from crm_desktop.views.stock.overview import StockPage, level_key

    ctx.main.open_module("stock")
    page = ctx.main.pages["stock"].content
    if not isinstance(page, StockPage):
        return
    yield "stock", page
    rows = page.overview.model.rows()
    if rows:
        page.overview.table.select_key(level_key(rows[0]))
        history = page.overview.open_history()
        if history is not None:
            history.resize(ctx.size)
            yield "stock-history", history
            history.close()
    page.tabs.setCurrentWidget(page.documents)
    yield "stock-documents", page
    documents = page.documents.model.rows()
    if documents:
        window = open_stock_document(page, ctx.session, documents[0].id)
        window.resize(ctx.size)
        yield "stock-document", window
        window.close()
    page.tabs.setCurrentWidget(page.overview)
