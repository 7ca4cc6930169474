"""The warehouses manager, opened from the Stock page ("Warehouses…"): the list with name, address
and whether each is active; add one, rename it or change its address, deactivate or reactivate it.
A warehouse is never deleted (its moves keep naming it); an inactive one takes no new documents.
Needs stock edit (create to add); the server decides, the buttons only follow the role."""

from __future__ import annotations

import asyncio
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations, tasks
from crm_desktop.api import stock
from crm_desktop.api.client import ApiError
from crm_desktop.operations import handle_error
from crm_desktop.session import Session
from crm_desktop.widgets.form import field
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.stock import WarehouseIn, WarehouseOut, WarehouseUpdate


class WarehousesDialog(QDialog):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.warehouses: list[WarehouseOut] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setObjectName("warehousesDialog")
        self.setWindowTitle("Warehouses")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.resize(720, 480)

        self.table = QTableWidget(0, 3)
        self.table.setObjectName("warehousesTable")
        self.table.setHorizontalHeaderLabels(["Name", "Address", "Active"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setColumnWidth(0, 200)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Main warehouse")
        self.address = QLineEdit()
        self.address.setPlaceholderText("Street, city")
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add a new warehouse with this name and address")
        self.add_button.clicked.connect(self.add)
        self.save_button = QPushButton("Save changes")
        self.save_button.setToolTip("Rename the selected warehouse or change its address")
        self.save_button.clicked.connect(self.save)
        self.active_button = QPushButton("Deactivate")
        self.active_button.clicked.connect(self.toggle_active)
        self.notice = QLabel()
        self.notice.setProperty("role", "muted")
        self.notice.setWordWrap(True)
        close = QPushButton("Close")
        close.clicked.connect(self.close)

        form = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        field(left, "&Name", self.name)
        field(right, "A&ddress", self.address)
        form.addLayout(left, 1)
        form.addLayout(right, 2)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.save_button, self.active_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        root = QVBoxLayout(self)
        root.addWidget(self.table, 1)
        root.addLayout(form)
        root.addLayout(buttons)
        root.addWidget(self.notice)
        self.fields: dict[str, QWidget] = {"name": self.name, "address": self.address}
        shown_if(self.add_button, session.can("stock", "create"))
        operations.change_bus().changed.connect(self._on_changed)
        self.reload()
        self._selected()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks) or operations.pending() > 0

    def reload(self) -> None:
        self._spawn(self._load())

    async def _load(self) -> None:
        try:
            warehouses = await stock.list_warehouses(self.api)
        except ApiError as exc:
            if shiboken6.isValid(self):
                handle_error(self, exc)
            return
        if shiboken6.isValid(self):
            self.show_warehouses(warehouses)

    def show_warehouses(self, warehouses: list[WarehouseOut]) -> None:
        selected = self.current()
        self.warehouses = warehouses
        self.table.setRowCount(len(warehouses))
        for i, w in enumerate(warehouses):
            for column, text in enumerate((w.name, w.address or "", "Yes" if w.active else "No")):
                self.table.setItem(i, column, QTableWidgetItem(text))
        if selected is not None:
            self.select(selected.id)
        self._selected()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & stock.WAREHOUSES_WATCHED and shiboken6.isValid(self):
            self.reload()

    def current(self) -> WarehouseOut | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or not 0 <= rows[0].row() < len(self.warehouses):
            return None
        return self.warehouses[rows[0].row()]

    def select(self, warehouse_id: int) -> None:
        for i, w in enumerate(self.warehouses):
            if w.id == warehouse_id:
                self.table.selectRow(i)
                return

    def _selected(self) -> None:
        w = self.current()
        can_edit = self.session.can("stock", "edit")
        self.save_button.setEnabled(w is not None and can_edit)
        self.active_button.setEnabled(w is not None and can_edit)
        self.active_button.setText("Reactivate" if w is not None and not w.active else "Deactivate")
        if w is not None:
            self.name.setText(w.name)
            self.address.setText(w.address or "")

    def add(self) -> asyncio.Task[Any]:
        # As typed, unchecked (model_construct): the server judges it and names the field.
        typed = WarehouseIn.model_construct(name=self.name.text().strip(), address=self.address.text().strip() or None)

        def added(w: WarehouseOut) -> None:
            self.notice.setText(f"Added {w.name}.")
            self.warehouses.append(w)
            self.show_warehouses(self.warehouses)
            self.select(w.id)

        return operations.run(
            self,
            stock.create_warehouse(self.api, typed),
            success=added,
            changed=stock.WAREHOUSES_CHANGED,
            fields=self.fields,
            busy=self.add_button,
        )

    def _patch(self, changes: dict[str, Any], said: str) -> asyncio.Task[Any] | None:
        w = self.current()
        if w is None:
            return None

        def saved(updated: WarehouseOut) -> None:
            self.notice.setText(said.format(name=updated.name))
            self.warehouses = [updated if x.id == updated.id else x for x in self.warehouses]
            self.show_warehouses(self.warehouses)

        update = WarehouseUpdate.model_construct(version=w.version, **changes)
        return operations.run(
            self,
            stock.update_warehouse(self.api, w.id, update),
            success=saved,
            changed=stock.WAREHOUSES_CHANGED,
            fields=self.fields,
            reload=self.reload,
        )

    def save(self) -> asyncio.Task[Any] | None:
        return self._patch(
            {"name": self.name.text().strip(), "address": self.address.text().strip() or None}, "Saved {name}."
        )

    def toggle_active(self) -> asyncio.Task[Any] | None:
        w = self.current()
        if w is None:
            return None
        active = not w.active
        return self._patch(
            {"active": active},
            "{name} is active again." if active else "{name} is deactivated: it takes no new documents.",
        )
