"""The rule editor's conditions: groups of comparisons, "all of these" or "any of these", inside each
other as deep as a person needs ("status is Won and (value is more than 10,000 or source is
Referral)"). Each comparison picks one of the record's fields (never typed), a comparison and a
value; a person or team field offers the people or teams, a yes/no field yes and no."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format
from crm_server.contract.automation import Condition, ConditionGroup, FieldOut

OPS = {
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "empty": "is empty",
    "not_empty": "is not empty",
}
MATCH = {"all": "All of these", "any": "Any of these"}
GROUP = Qt.ItemDataRole.UserRole  # an item's role: "group" or "condition"
# Who made the change, in words (engine.changed_by).
CHANGED_BY = {"person": "A person", "integration": "An integration or form", "rule": "A rule"}


def combo(name: str, choices: dict[str, str], parent: QWidget | None = None) -> QComboBox:
    box = QComboBox(parent)
    box.setAccessibleName(name)
    for key, text in choices.items():
        box.addItem(text, key)
    return box


def key_of(box: QComboBox) -> str:
    data = box.currentData()
    return str(data) if data is not None else ""


def choose(box: QComboBox, key: Any) -> None:
    i = box.findData(key if key is None else str(key)) if key is not None else -1
    if i >= 0:
        box.setCurrentIndex(i)


def field_words(name: str) -> str:
    return {"changed_by": "Changed by", "changed_by_id": "Changed by (person)", "status_kind": "Status kind"}.get(
        name, format.label(name)
    )


class ConditionTree(QWidget):
    """The tree of groups and comparisons under the rule's top "Match" choice."""

    def __init__(self, match: QComboBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.match = match
        self.fields: list[FieldOut] = []
        self.people: dict[str, str] = {}
        self.teams: dict[str, str] = {}
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("automationConditions")
        self.tree.setAccessibleName("Conditions")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Field or group", "Is", "Value"])
        self.tree.setMinimumHeight(200)
        self.tree.setColumnWidth(0, 230)
        self.tree.setColumnWidth(1, 130)
        self.add_condition = QPushButton("Add condition", self)
        self.add_condition.setToolTip("A comparison in the selected group (or the top one)")
        self.add_condition.clicked.connect(lambda: self.new_condition())
        self.add_group = QPushButton("Add group", self)
        self.add_group.setToolTip("A group of its own (all / any of these) inside the selected group")
        self.add_group.clicked.connect(lambda: self.new_group())
        self.remove = QPushButton("Remove", self)
        self.remove.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        for button in (self.add_condition, self.add_group, self.remove):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)

    # --- choices -----------------------------------------------------------------------------------

    def set_choices(self, fields: list[FieldOut], people: dict[str, str], teams: dict[str, str]) -> None:
        """The record's fields (a new record kind: the comparisons keep what still exists)."""
        before = self.group()
        self.fields, self.people, self.teams = fields, people, teams
        self.tree.clear()
        self._fill(None, before)

    def _kind(self, name: str) -> str:
        return next((f.kind for f in self.fields if f.name == name), "text")

    # --- building ----------------------------------------------------------------------------------

    def _target(self) -> QTreeWidgetItem | None:
        """The group new items go into: the selected group, the selected comparison's group, or the top."""
        item = self.tree.currentItem()
        if item is None:
            return None
        return item if item.data(0, GROUP) == "group" else item.parent()

    def _attach(self, parent: QTreeWidgetItem | None, item: QTreeWidgetItem) -> None:
        if parent is None:
            self.tree.addTopLevelItem(item)
        else:
            parent.addChild(item)
            parent.setExpanded(True)

    def new_group(self, parent: QTreeWidgetItem | bool | None = False, match: str = "any") -> QTreeWidgetItem:
        under = self._target() if parent is False else parent
        item = QTreeWidgetItem()
        item.setData(0, GROUP, "group")
        self._attach(under if isinstance(under, QTreeWidgetItem) else None, item)
        box = combo("Group matches", MATCH)
        choose(box, match)
        self.tree.setItemWidget(item, 0, box)
        item.setExpanded(True)
        self.tree.setCurrentItem(item)
        return item

    def new_condition(
        self, parent: QTreeWidgetItem | bool | None = False, values: dict[str, Any] | None = None
    ) -> QTreeWidgetItem:
        under = self._target() if parent is False else parent
        values = values or {}
        item = QTreeWidgetItem()
        item.setData(0, GROUP, "condition")
        self._attach(under if isinstance(under, QTreeWidgetItem) else None, item)
        name = combo("Field", {f.name: field_words(f.name) for f in self.fields})
        if values.get("field") and name.findData(values["field"]) < 0:  # a field this record no longer has
            name.addItem(field_words(str(values["field"])), values["field"])
        choose(name, values.get("field"))
        op = combo("Comparison", OPS)
        choose(op, values.get("op", "eq"))
        self.tree.setItemWidget(item, 0, name)
        self.tree.setItemWidget(item, 1, op)
        self._value_widget(item, values.get("value"))
        name.currentIndexChanged.connect(lambda *_: self._value_widget(item, None))
        self.tree.setCurrentItem(item)
        return item

    def _value_widget(self, item: QTreeWidgetItem, value: Any) -> None:
        """A choice of people, teams or yes/no where the field holds one; else a line to type in."""
        name = self.tree.itemWidget(item, 0)
        kind = self._kind(key_of(name)) if isinstance(name, QComboBox) else "text"
        choices = {
            "person": self.people,
            "team": self.teams,
            "bool": {"true": "Yes", "false": "No"},
        }.get(kind)
        if isinstance(name, QComboBox) and key_of(name) == "changed_by":
            choices = CHANGED_BY
        widget: QWidget
        if choices is not None:
            box = combo("Value", {"": "—", **choices})
            choose(box, str(value).lower() if isinstance(value, bool) else value)
            widget = box
        else:
            line = QLineEdit()
            line.setAccessibleName("Value")
            line.setText("" if value is None else ", ".join(map(str, value)) if isinstance(value, list) else str(value))
            widget = line
        self.tree.setItemWidget(item, 2, widget)

    def remove_selected(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            return
        parent = item.parent()
        if parent is None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        else:
            parent.removeChild(item)

    # --- to and from the rule ----------------------------------------------------------------------

    def _fill(self, parent: QTreeWidgetItem | None, group: ConditionGroup) -> None:
        for entry in group.items:
            if isinstance(entry, ConditionGroup):
                self._fill(self.new_group(parent, entry.match), entry)
            else:
                self.new_condition(parent, entry.model_dump())

    def load(self, group: ConditionGroup) -> None:
        choose(self.match, group.match)
        self.tree.clear()
        self._fill(None, group)

    def _value(self, item: QTreeWidgetItem) -> Any:
        widget = self.tree.itemWidget(item, 2)
        if isinstance(widget, QComboBox):
            key = key_of(widget)
            if key in ("true", "false"):
                return key == "true"
            return int(key) if key.isdigit() else key or None
        text = widget.text().strip() if isinstance(widget, QLineEdit) else ""
        return text or None

    def _items(self, parent: QTreeWidgetItem | None) -> list[Condition | ConditionGroup]:
        count = self.tree.topLevelItemCount() if parent is None else parent.childCount()
        out: list[Condition | ConditionGroup] = []
        for i in range(count):
            item = self.tree.topLevelItem(i) if parent is None else parent.child(i)
            if item is None:
                continue
            first = self.tree.itemWidget(item, 0)
            if not isinstance(first, QComboBox):
                continue
            if item.data(0, GROUP) == "group":
                out.append(ConditionGroup(match=key_of(first), items=self._items(item)))  # type: ignore[arg-type]
                continue
            op = self.tree.itemWidget(item, 1)
            if key_of(first):
                out.append(
                    Condition(
                        field=key_of(first),
                        op=key_of(op) if isinstance(op, QComboBox) else "eq",  # type: ignore[arg-type]
                        value=self._value(item),
                    )
                )
        return out

    def group(self) -> ConditionGroup:
        return ConditionGroup(match=key_of(self.match) or "all", items=self._items(None))  # type: ignore[arg-type]
