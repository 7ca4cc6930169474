"""Lost reasons and lead sources: the short lists salespeople pick from (why a lead was lost, where
it came from). Admins add, rename, reorder and (de)activate entries; entries are never deleted,
because old leads still point at them, so "Deactivate" only hides them from new choices.

Also home of `OrderedList`, the reorderable list (drag, Alt+Up/Alt+Down) the pipelines and
assignment-rule pages use too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    Columns,
    NameDialog,
    ScreenshotState,
    can,
    field,
    style_list,
    title_label,
)
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.auth import Me
from crm_server.contract.leads import NamedItemOut
from crm_server.contract.tickets import CategoryOut

ID_ROLE = Qt.ItemDataRole.UserRole + 1

LISTS = admin_api.LISTS


Item = NamedItemOut | CategoryOut  # an entry of an ordered admin list


@dataclass(frozen=True)
class ListCalls:
    """How a list of named entries is read, added to and changed (each answer a contract model)."""

    read: Callable[[ApiClient], Awaitable[Sequence[Item]]]
    create: Callable[[ApiClient, admin_api.Body], Awaitable[Item]]
    update: Callable[[ApiClient, int, admin_api.Body], Awaitable[Item]]


def _named_list(kind: admin_api.ListKind) -> ListCalls:
    return ListCalls(
        lambda api: admin_api.list_items(api, kind),
        lambda api, body: admin_api.create_item(api, kind, body),
        lambda api, item_id, body: admin_api.update_item(api, kind, item_id, body),
    )


LOST_REASONS = _named_list("lost-reasons")
LEAD_SOURCES = _named_list("lead-sources")


def failed(task: asyncio.Task[Any]) -> bool:
    """An operation's task ended without a result (the error was shown): put the screen back."""
    return not task.cancelled() and task.result() is None


class OrderedList(QListWidget):
    """A list whose order means something. Drag a row, or press Alt+Up / Alt+Down, and
    `reordered(ids, moved_id)` says the new order; the page then tells the server."""

    reordered = Signal(list, int)

    def __init__(self, name: str, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName(accessible)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.movable = True
        style_list(self)

    def ids(self) -> list[int]:
        return [int(self.item(i).data(ID_ROLE)) for i in range(self.count())]

    def current_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(ID_ROLE))

    def fill(self, rows: list[tuple[int, str]], select: int | None = None) -> None:
        """Show `rows` (id, text), keeping the selection on `select` (default: the same id as before)."""
        keep = select if select is not None else self.current_id()
        self.blockSignals(True)
        self.clear()
        for row_id, text in rows:
            item = QListWidgetItem(text)
            item.setData(ID_ROLE, row_id)
            self.addItem(item)
        self.blockSignals(False)
        target = next((i for i, (row_id, _) in enumerate(rows) if row_id == keep), 0 if rows else -1)
        self.setCurrentRow(target)
        self.currentItemChanged.emit(self.currentItem(), None)

    def item_of(self, row_id: int) -> QListWidgetItem | None:
        return next((self.item(i) for i in range(self.count()) if self.item(i).data(ID_ROLE) == row_id), None)

    def move_current(self, delta: int) -> None:
        """Move the selected row up (-1) or down (+1) one place."""
        row = self.currentRow()
        target = row + delta
        if not self.movable or row < 0 or not 0 <= target < self.count():
            return
        item = self.takeItem(row)
        self.insertItem(target, item)
        self.setCurrentRow(target)
        self.reordered.emit(self.ids(), int(item.data(ID_ROLE)))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.modifiers() == Qt.KeyboardModifier.AltModifier and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.move_current(-1 if event.key() == Qt.Key.Key_Up else 1)
            event.accept()
            return
        super().keyPressEvent(event)

    def dropEvent(self, event: Any) -> None:
        before = self.ids()
        moved = self.current_id()
        super().dropEvent(event)
        after = self.ids()
        if after != before and moved is not None:
            item = self.item_of(moved)
            if item is not None:  # the moved row is always still there after an internal move
                self.setCurrentItem(item)
            self.reordered.emit(after, moved)


class ItemDialog(QDialog):
    """New lost reason or lead source: a name, and for lost reasons whether to ask for words."""

    def __init__(self, parent: QWidget, title: str, with_text_flag: bool, submit: Callable[[ItemDialog], None]) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("itemDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.name = QLineEdit()
        self.name.setMinimumWidth(320)
        self.name.setAccessibleName("Name")
        self.requires_text = QCheckBox("Ask the salesperson to describe the reason in words")
        shown_if(self.requires_text, with_text_flag)
        form = QFormLayout()
        form.addRow("&Name", field(self.name))
        if with_text_flag:
            form.addRow("", self.requires_text)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: submit(self))
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def body(self) -> dict[str, Any]:
        return {"name": self.name.text().strip(), "requires_text": self.requires_text.isChecked()}

    def fields(self) -> dict[str, QWidget]:
        return {"name": self.name}


class ItemList(QWidget):
    """One editable list (lost reasons, lead sources; ticket categories subclass it) with its own
    buttons and keys."""

    # What (de)activating says; a subclass for another kind of entry words it its own way.
    ACTIVE_AGAIN = "active again"
    INACTIVE = "inactive: hidden from new choices, kept on old leads"

    def __init__(
        self,
        page: AdminPage,
        name: str,
        calls: ListCalls,
        title: str,
        noun: str,
        area: str,
        with_text_flag: bool,
        plural: str | None = None,
    ) -> None:
        super().__init__()
        self.page = page
        self.calls = calls
        self.noun = noun
        self.plural = plural or f"{noun}s"
        self.area = frozenset({area})
        self.with_text_flag = with_text_flag
        self.items: dict[int, Item] = {}
        self.order: list[int] = []

        heading = QLabel(title)
        heading.setProperty("role", "heading")
        self.list = OrderedList(name, title)
        self.list.reordered.connect(self._reordered)
        self.list.currentItemChanged.connect(lambda *_: self._update_actions())
        self.list.itemActivated.connect(lambda _: self.rename())
        self.empty = QLabel(f"No {self.plural} yet. Add one with “Add…” (Ins).")
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip(f"Add a {noun} (Ins)")
        self.add_button.clicked.connect(self.add)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip(f"Rename the selected {noun} (F2)")
        self.rename_button.clicked.connect(self.rename)
        self.active_button = QPushButton("Deactivate")
        self.active_button.setToolTip("Hidden from new choices; leads that have it keep it (Ctrl+D)")
        self.active_button.clicked.connect(self.toggle_active)
        self.text_flag = QCheckBox("Ask for text")
        self.text_flag.setToolTip("When a lead is lost for this reason, the salesperson must describe it")
        shown_if(self.text_flag, with_text_flag)
        self.text_flag.clicked.connect(self.set_requires_text)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Move up (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.list.move_current(-1))
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Move down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.list.move_current(1))

        self.body = QVBoxLayout(self)
        layout = self.body
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.active_button, self.text_flag):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.up_button)
        buttons.addWidget(self.down_button)
        layout.addLayout(buttons)
        page.shortcut(QKeySequence(Qt.Key.Key_Insert), self.add, widget=self.list)
        page.shortcut(QKeySequence(Qt.Key.Key_F2), self.rename, widget=self.list)
        page.shortcut(QKeySequence("Ctrl+D"), self.toggle_active, widget=self.list)
        self._update_actions()

    def reload(self) -> None:
        self.page.load(self.calls.read(self.page.api), self._arrived)

    def _arrived(self, items: Sequence[Item], select: int | None = None) -> None:
        self.items = {i.id: i for i in items}
        self.order = [i.id for i in items]
        self.list.fill([(i.id, self._text(i)) for i in items], select)
        self.empty.setVisible(not items)
        self.list.setVisible(bool(items))
        self._update_actions()

    def _text(self, item: Item) -> str:
        notes = []
        if isinstance(item, NamedItemOut) and item.requires_text and self.with_text_flag:
            notes.append("asks for text")
        if not item.active:
            notes.append("inactive")
        return item.name + (f"  ({', '.join(notes)})" if notes else "")

    def current(self) -> Item | None:
        row_id = self.list.current_id()
        return None if row_id is None else self.items.get(row_id)

    def _update_actions(self) -> None:
        item = self.current()
        edit = can(self.page.me, "edit")
        self.add_button.setEnabled(can(self.page.me, "create"))
        self.rename_button.setEnabled(edit and item is not None)
        self.active_button.setEnabled(edit and item is not None)
        self.active_button.setText("Activate" if item is not None and not item.active else "Deactivate")
        self.text_flag.setEnabled(edit and item is not None)
        self.text_flag.setChecked(isinstance(item, NamedItemOut) and item.requires_text)
        row, count = self.list.currentRow(), self.list.count()
        self.up_button.setEnabled(edit and item is not None and row > 0)
        self.down_button.setEnabled(edit and item is not None and row < count - 1)
        self.list.movable = edit
        self.list.setDragEnabled(edit)

    # --- changes -------------------------------------------------------------------------------

    def _saved(self, item: Item, message: str) -> None:
        self.items[item.id] = item
        if item.id not in self.order:
            self.order.append(item.id)
        self._arrived([self.items[i] for i in self.order], select=item.id)
        self.page.say(message)

    def new_dialog(self, submit: Callable[[Any], None]) -> Any:
        """The "Add…" dialog; it has `name` and `buttons`, and `body()` gives what to POST."""
        return ItemDialog(self, f"New {self.noun}", self.with_text_flag, submit)

    def added_message(self, item: Item) -> str:
        return f"The {self.noun} {item.name} is added."

    def add(self) -> None:
        if not can(self.page.me, "create"):
            return

        def submit(dialog: Any) -> None:
            def created(item: Item) -> None:
                dialog.accept()
                self._saved(item, self.added_message(item))

            operations.run(
                dialog,
                self.calls.create(self.page.api, dialog.body()),
                success=created,
                changed=self.area,
                fields=dialog.fields(),
                busy=dialog.buttons,
            )

        self.new_dialog(submit).open()

    def _patch(
        self,
        item: Item,
        changes: dict[str, Any],
        message: str,
        parent: QWidget | None = None,
        fields: dict[str, QWidget] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        def saved(result: Item) -> None:
            if after is not None:
                after()
            self._saved(result, message)

        task = operations.run(
            parent or self.page,
            self.calls.update(self.page.api, item.id, {**changes, "version": item.version}),
            success=saved,
            changed=self.area,
            fields=fields,
            reload=self.reload,
        )
        task.add_done_callback(lambda t: self._update_actions() if failed(t) else None)

    def rename(self) -> None:
        item = self.current()
        if item is None or not can(self.page.me, "edit"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            self._patch(
                item,
                {"name": name},
                f"The {self.noun} is now called {name}.",
                parent=dialog,
                fields={"name": dialog.name},
                after=dialog.accept,
            )

        NameDialog(self, f"Rename {self.noun}", "New name", item.name, submit).open()

    def toggle_active(self) -> None:
        item = self.current()
        if item is None or not can(self.page.me, "edit"):
            return
        active = not item.active
        verb = self.ACTIVE_AGAIN if active else self.INACTIVE
        self._patch(item, {"active": active}, f"The {self.noun} {item.name} is {verb}.")

    def set_requires_text(self, checked: bool) -> None:
        item = self.current()
        if item is None:
            return
        what = "asks" if checked else "no longer asks"
        self._patch(item, {"requires_text": checked}, f"The reason {item.name} {what} for text.")

    def _reordered(self, ids: list[int], moved: int) -> None:
        """Lists have no order endpoint: renumber by PATCHing each entry whose place changed."""
        old = {i: self.items[i] for i in ids}

        async def renumber() -> list[Item]:
            saved = []
            for position, row_id in enumerate(ids):
                item = old[row_id]
                if item.position != position:
                    item = await self.calls.update(
                        self.page.api, row_id, {"position": position, "version": item.version}
                    )
                saved.append(item)
            return saved

        def done(items: list[Item]) -> None:
            self._arrived(items, select=moved)
            self.page.say(f"The {self.plural} are in the new order.")

        task = operations.run(self.page, renumber(), success=done, changed=self.area, reload=self.reload)
        task.add_done_callback(lambda t: self.reload() if failed(t) else None)


class SalesListsPage(AdminPage):
    """Lost reasons on the left, lead sources on the right."""

    title = "Sales lists"
    areas = LISTS
    live_entities = frozenset({"lost_reason", "lead_source"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.reasons = ItemList(
            self, "lostReasonList", LOST_REASONS, "Lost reasons", "lost reason", "admin.lost_reason", True
        )
        self.sources = ItemList(
            self, "leadSourceList", LEAD_SOURCES, "Lead sources", "lead source", "admin.lead_source", False
        )
        lists = Columns((self.reasons, 1), (self.sources, 1))  # one above the other on a small screen
        self.root.addWidget(
            title_label(
                "Sales lists",
                "What salespeople choose from: why a lead was lost and where it came from, in "
                "this order. Inactive entries stay on old leads but are no longer offered.",
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(lists, 1)

    def reload(self) -> None:
        self.reasons.reload()
        self.sources.reload()

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-sales-lists", lambda: None)]
