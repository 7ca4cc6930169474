"""The Products module: the searchable, server-paged catalogue (list.py) and the product editor
(editor.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.products.list import ProductsPage

    return ProductsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The catalogue with the demo's products, then the editor on the first one."""
    from crm_desktop.views.products.list import ProductsPage

    ctx.main.open_module("products")
    page = ctx.main.pages["products"].content
    if not isinstance(page, ProductsPage):
        return
    yield "products", page
    rows = page.model.rows()
    if rows:
        page.table.select_key(rows[0].id)
        dialog = page.edit_selected()
        if dialog is not None:
            yield "product-editor", dialog
            dialog.close()
