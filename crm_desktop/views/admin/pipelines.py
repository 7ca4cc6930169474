"""Pipelines: the stages a lead goes through. Pick a pipeline (or add one), rename it, make it the
default; add, rename, reorder and remove its statuses and say what each one means (open, won,
lost, junk). Removing a status asks where its leads go first, so no lead is left without one.

Every change announces "admin.pipeline", so the Kanban and the lead list reload their columns.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api import reports as reports_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    NameDialog,
    ScreenshotState,
    can,
    field,
    set_danger,
    title_label,
    tone,
)
from crm_desktop.views.admin.sales_lists import OrderedList, failed
from crm_server.contract.auth import Me
from crm_server.contract.leads import PipelineOut, StatusKind, StatusOut
from crm_server.contract.reports import StageProbabilityOut

PIPELINE = admin_api.PIPELINE
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
KINDS = {kind.value: format.label(kind) for kind in StatusKind}
KIND_TONES = {"open": "accent", "won": "success", "lost": "danger", "junk": "muted"}
KIND_HELP = (
    "Open: still being worked. Won: the deal is made (the lead may become a client). "
    "Lost: asks why. Junk: not a real lead."
)


class KindTagDelegate(QStyledItemDelegate):
    """Draws the status name with its kind as a small coloured tag on the right."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().paint(painter, option, index)
        kind = str(index.data(KIND_ROLE) or "")
        if not kind:
            return
        text = KINDS.get(kind, kind)
        colour = QColor(tone(KIND_TONES.get(kind, "muted")))
        metrics = option.fontMetrics  # type: ignore[attr-defined]
        width = metrics.horizontalAdvance(text) + 16
        height = metrics.height() + 4
        rect = option.rect  # type: ignore[attr-defined]
        tag = QRect(rect.right() - width - 10, rect.center().y() - height // 2, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(colour)
        fill.setAlpha(40)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(tag, height / 2, height / 2)
        painter.setPen(colour)
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + 80, max(size.height(), option.fontMetrics.height() + 12))  # type: ignore[attr-defined]


def kind_combo() -> QComboBox:
    combo = QComboBox()
    for kind, label in KINDS.items():
        combo.addItem(label, kind)
    combo.setToolTip(KIND_HELP)
    return combo


class AddStatusDialog(QDialog):
    """Name and kind of a new status; it goes right after the selected one."""

    def __init__(self, parent: QWidget, after: str | None, submit: Callable[[AddStatusDialog], None]) -> None:
        super().__init__(parent)
        self.setWindowTitle("New status")
        self.setObjectName("addStatusDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.name = QLineEdit()
        self.name.setMinimumWidth(320)
        self.name.setAccessibleName("Status name")
        self.kind = kind_combo()
        self.kind.setAccessibleName("Kind")
        where = f"It goes right after “{after}”." if after else "It goes before the closing statuses."
        form = QFormLayout()
        form.addRow("&Name", field(self.name, where))
        form.addRow("&Kind", field(self.kind))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: submit(self))
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(self.buttons)


class RemoveStatusDialog(QDialog):
    """Removing a status moves its leads: ask where to, among the pipeline's other statuses.
    Lost statuses are offered only when removing a lost one (each lost lead needs a reason)."""

    def __init__(
        self,
        parent: QWidget,
        status: StatusOut,
        others: list[StatusOut],
        submit: Callable[[RemoveStatusDialog], None],
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Remove status")
        self.setObjectName("removeStatusDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        question = QLabel(f"Remove the status “{status.name}” from this pipeline?")
        question.setWordWrap(True)
        self.count = QLabel("Counting its leads…")
        self.count.setProperty("role", "muted")
        self.target = QComboBox()
        self.target.setAccessibleName("Move its leads to")
        for other in others:
            if other.kind == "lost" and status.kind != "lost":
                continue
            self.target.addItem(f"{other.name}  ({KINDS[other.kind]})", other.id)
        form = QFormLayout()
        form.addRow("Move its leads &to", field(self.target, "Archived leads in this status move there too."))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.remove_button = self.buttons.addButton("Remove", QDialogButtonBox.ButtonRole.AcceptRole)
        set_danger(self.remove_button, True)
        self.buttons.accepted.connect(lambda: submit(self))
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addWidget(question)
        layout.addWidget(self.count)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def show_count(self, total: int) -> None:
        self.count.setText(
            "No current leads are in this status."
            if total == 0
            else f"{total} current {'lead is' if total == 1 else 'leads are'} in this status."
        )


class PipelinesPage(AdminPage):
    """A pipeline picker on top; the chosen pipeline's statuses, in order, below."""

    title = "Pipelines"
    areas = PIPELINE
    live_entities = frozenset({"pipeline"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.pipelines: dict[int, PipelineOut] = {}
        self.current_id: int | None = None

        self.picker = QComboBox()
        self.picker.setAccessibleName("Pipeline")
        self.picker.setMinimumWidth(240)
        self.picker.currentIndexChanged.connect(self._on_pipeline_picked)
        self.new_button = QPushButton("New pipeline")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New pipeline (Ctrl+N)")
        self.new_button.clicked.connect(self.new_pipeline)
        self.rename_pipeline_button = QPushButton("Rename…")
        self.rename_pipeline_button.setToolTip("Rename this pipeline")
        self.rename_pipeline_button.clicked.connect(self.rename_pipeline)
        self.default_button = QPushButton("Make default")
        self.default_button.setToolTip("New leads go into the default pipeline unless told otherwise")
        self.default_button.clicked.connect(self.make_default)
        self.default_note = QLabel("")
        self.default_note.setProperty("role", "muted")
        top = QHBoxLayout()
        top.setSpacing(8)
        label = QLabel("&Pipeline")
        label.setBuddy(self.picker)
        for widget in (label, self.picker, self.rename_pipeline_button, self.default_button, self.default_note):
            top.addWidget(widget)
        top.addStretch(1)

        self.list = OrderedList("statusList", "Statuses")
        self.list.setItemDelegate(KindTagDelegate(self.list))
        self.list.reordered.connect(self._reordered)
        self.list.currentItemChanged.connect(lambda *_: self._update_actions())
        self.list.itemActivated.connect(lambda _: self.rename_status())
        self.empty = QLabel("Pick a pipeline above, or create one with “New pipeline” (Ctrl+N).")
        self.empty.setProperty("role", "muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.add_button = QPushButton("Add status…")
        self.add_button.setToolTip("Add a status after the selected one (Ins)")
        self.add_button.clicked.connect(self.add_status)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Rename the selected status (F2)")
        self.rename_button.clicked.connect(self.rename_status)
        self.kind = kind_combo()
        self.kind.setAccessibleName("Kind of the selected status")
        self.kind.activated.connect(self._kind_chosen)
        # The selected status's chance of being won: the weighted forecast of the reports.
        self.probabilities: dict[int, Decimal] = {}
        self.probability = QDoubleSpinBox()
        self.probability.setObjectName("winProbability")
        self.probability.setAccessibleName("Win probability of the selected status, percent")
        self.probability.setToolTip("How likely a lead in this status is won: the forecast weighs its value by it")
        self.probability.setRange(0, 100)
        self.probability.setDecimals(0)
        self.probability.setSuffix(" %")
        self.probability.setKeyboardTracking(False)
        self.probability.editingFinished.connect(self._probability_edited)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Move up (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.list.move_current(-1))
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Move down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.list.move_current(1))
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setToolTip("Remove the selected status; you choose where its leads go (Del)")
        self.remove_button.clicked.connect(self.remove_status)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        kind_label = QLabel("&Kind")
        kind_label.setBuddy(self.kind)
        chance_label = QLabel("&Win chance")
        chance_label.setBuddy(self.probability)
        parts: tuple[QWidget, ...] = (
            self.add_button,
            self.rename_button,
            kind_label,
            self.kind,
            chance_label,
            self.probability,
        )
        for part in parts:
            buttons.addWidget(part)
        buttons.addStretch(1)
        for widget in (self.up_button, self.down_button, self.remove_button):
            buttons.addWidget(widget)
        hint = QLabel(
            "Drag a status or press Alt+Up / Alt+Down to change the order; the board shows the "
            "columns in this order. " + KIND_HELP
        )
        hint.setWordWrap(True)
        hint.setProperty("role", "caption")

        self.root.addWidget(
            title_label(
                "Pipelines",
                "The stages a lead goes through, from first contact to "
                "won or lost. Lead screens follow each change at once.",
                self.new_button,
            )
        )
        self.root.addWidget(self.notice)
        self.root.addLayout(top)
        self.root.addWidget(self.list, 1)
        self.root.addWidget(self.empty, 1)
        self.root.addLayout(buttons)
        self.root.addWidget(hint)

        self.shortcut(QKeySequence.StandardKey.New, self.new_pipeline)
        self.shortcut(QKeySequence(Qt.Key.Key_Insert), self.add_status, widget=self.list)
        self.shortcut(QKeySequence(Qt.Key.Key_F2), self.rename_status, widget=self.list)
        self.shortcut(QKeySequence(Qt.Key.Key_Delete), self.remove_status, widget=self.list)
        self._show()

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load(admin_api.pipelines(self.api), self._arrived)

    def _arrived(self, pipelines: list[PipelineOut]) -> None:
        self.pipelines = {p.id: p for p in pipelines}
        if self.current_id not in self.pipelines:
            self.current_id = next((p.id for p in pipelines if p.is_default), pipelines[0].id if pipelines else None)
        self._fill_picker()
        self._show()

    def _fill_picker(self) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for pipeline in self.pipelines.values():
            self.picker.addItem(pipeline.name + ("  (default)" if pipeline.is_default else ""), pipeline.id)
        self.picker.setCurrentIndex(self.picker.findData(self.current_id))
        self.picker.blockSignals(False)

    def _on_pipeline_picked(self, index: int) -> None:
        self.current_id = self.picker.itemData(index) if index >= 0 else None
        self._show()

    def pipeline(self) -> PipelineOut | None:
        return self.pipelines.get(self.current_id) if self.current_id is not None else None

    def status(self) -> StatusOut | None:
        pipeline, status_id = self.pipeline(), self.list.current_id()
        if pipeline is None or status_id is None:
            return None
        return next((s for s in pipeline.statuses if s.id == status_id), None)

    def _show(self, select: int | None = None) -> None:
        pipeline = self.pipeline()
        statuses = pipeline.statuses if pipeline else []
        self.list.fill([(s.id, s.name) for s in statuses], select)
        for row, status in enumerate(statuses):
            item = self.list.item(row)
            item.setData(KIND_ROLE, status.kind.value)
            item.setToolTip(f"{status.name}: {KINDS[status.kind].lower()}")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{status.name}, {KINDS[status.kind]}")
        if pipeline is not None:
            self.load(reports_api.stage_probabilities(self.api, pipeline.id), self._probabilities_arrived)
        self.list.setVisible(pipeline is not None)
        self.empty.setVisible(pipeline is None)
        self.default_note.setText(
            "New leads go here unless told otherwise." if pipeline and pipeline.is_default else ""
        )
        self._update_actions()

    def _update_actions(self) -> None:
        pipeline, status = self.pipeline(), self.status()
        edit = can(self.me, "edit")
        self.new_button.setEnabled(can(self.me, "create"))
        self.rename_pipeline_button.setEnabled(edit and pipeline is not None)
        self.default_button.setEnabled(edit and pipeline is not None and not pipeline.is_default)
        self.add_button.setEnabled(edit and pipeline is not None)
        self.rename_button.setEnabled(edit and status is not None)
        self.kind.setEnabled(edit and status is not None)
        if status is not None:  # quietly: a field error shown on the combo stays until the next choice
            self.kind.blockSignals(True)
            self.kind.setCurrentIndex(self.kind.findData(status.kind.value))
            self.kind.blockSignals(False)
        self.probability.setEnabled(edit and status is not None and status.id in self.probabilities)
        if status is not None and status.id in self.probabilities:
            self.probability.blockSignals(True)
            self.probability.setValue(float(self.probabilities[status.id]))
            self.probability.blockSignals(False)
        row, count = self.list.currentRow(), self.list.count()
        self.up_button.setEnabled(edit and status is not None and row > 0)
        self.down_button.setEnabled(edit and status is not None and row < count - 1)
        set_danger(self.remove_button, edit and status is not None and count > 1)
        self.list.movable = edit
        self.list.setDragEnabled(edit)

    def _probabilities_arrived(self, stages: list[StageProbabilityOut]) -> None:
        self.probabilities.update({s.id: s.win_probability for s in stages})
        self._update_actions()

    def _probability_edited(self) -> None:
        status = self.status()
        if status is None or status.id not in self.probabilities:
            return
        chosen = Decimal(str(round(self.probability.value())))
        if chosen == self.probabilities[status.id]:
            return

        def saved(result: StageProbabilityOut) -> None:
            self.probabilities[result.id] = result.win_probability
            self.say(f"A lead in “{status.name}” now counts as {format.number(result.win_probability)} % likely won.")

        operations.run(
            self,
            reports_api.set_stage_probability(self.api, status.id, str(chosen)),
            success=saved,
            changed=PIPELINE,
            fields={"win_probability": self.probability},
        )

    def _apply(self, pipeline: PipelineOut, select: int | None = None) -> None:
        """Show the server's answer at once (the announced reload follows)."""
        self.pipelines[pipeline.id] = pipeline
        self.current_id = pipeline.id
        self._fill_picker()
        self._show(select)

    # --- pipelines -----------------------------------------------------------------------------

    def new_pipeline(self) -> None:
        if not can(self.me, "create"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            def created(pipeline: PipelineOut) -> None:
                dialog.accept()
                self._apply(pipeline)
                self.say(f"The pipeline {pipeline.name} is created with four starting statuses; shape them below.")

            operations.run(
                dialog,
                admin_api.create_pipeline(self.api, name),
                success=created,
                changed=PIPELINE,
                fields={"name": dialog.name},
                busy=dialog.buttons,
            )

        NameDialog(self, "New pipeline", "Name", "", submit).open()

    def rename_pipeline(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None or not can(self.me, "edit"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            def renamed(saved: PipelineOut) -> None:
                dialog.accept()
                self._apply(saved, self.list.current_id())
                self.say(f"The pipeline is now called {saved.name}.")

            operations.run(
                dialog,
                admin_api.update_pipeline(self.api, pipeline.id, {"name": name, "version": pipeline.version}),
                success=renamed,
                changed=PIPELINE,
                fields={"name": dialog.name},
                reload=self.reload,
            )

        NameDialog(self, "Rename pipeline", "New name", pipeline.name, submit).open()

    def make_default(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None or pipeline.is_default or not can(self.me, "edit"):
            return

        def made(saved: PipelineOut) -> None:
            for other in self.pipelines.values():
                other.is_default = False
            self._apply(saved, self.list.current_id())
            self.say(f"{saved.name} is now the default pipeline: new leads go there unless told otherwise.")

        operations.run(
            self,
            admin_api.update_pipeline(self.api, pipeline.id, {"is_default": True, "version": pipeline.version}),
            success=made,
            changed=PIPELINE,
            reload=self.reload,
            busy=self.default_button,
        )

    # --- statuses ------------------------------------------------------------------------------

    def add_status(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None or not can(self.me, "edit"):
            return
        after = self.status()
        position = self.list.currentRow() + 1 if after is not None else None

        def submit(dialog: AddStatusDialog) -> None:
            name = dialog.name.text().strip()

            def added(saved: PipelineOut) -> None:
                dialog.accept()
                new = next((s.id for s in saved.statuses if s.name.lower() == name.lower()), None)
                self._apply(saved, new)
                self.say(f"The status {name} is added.")

            operations.run(
                dialog,
                admin_api.add_status(
                    self.api,
                    pipeline.id,
                    {"name": name, "kind": dialog.kind.currentData(), "position": position},
                ),
                success=added,
                changed=PIPELINE,
                fields={"name": dialog.name, "kind": dialog.kind},
                busy=dialog.buttons,
            )

        AddStatusDialog(self, after.name if after else None, submit).open()

    def _patch_status(
        self,
        status: StatusOut,
        changes: dict[str, Any],
        message: str,
        parent: QWidget | None = None,
        fields: dict[str, QWidget] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        pipeline = self.pipeline()
        assert pipeline is not None

        def saved(result: PipelineOut) -> None:
            if after is not None:
                after()
            self._apply(result, status.id)
            self.say(message)

        task = operations.run(
            parent or self,
            admin_api.update_status(self.api, pipeline.id, status.id, {**changes, "version": status.version}),
            success=saved,
            changed=PIPELINE,
            fields=fields,
            reload=self.reload,
        )
        task.add_done_callback(lambda t: self._update_actions() if failed(t) else None)

    def rename_status(self) -> None:
        status = self.status()
        if status is None or not can(self.me, "edit"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            self._patch_status(
                status,
                {"name": name},
                f"The status is now called {name}.",
                parent=dialog,
                fields={"name": dialog.name},
                after=dialog.accept,
            )

        NameDialog(self, "Rename status", "New name", status.name, submit).open()

    def _kind_chosen(self, index: int) -> None:
        status, kind = self.status(), self.kind.itemData(index)
        if status is None or kind == status.kind:
            return
        self._patch_status(
            status,
            {"kind": kind},
            f"{status.name} is now a {KINDS[kind].lower()} status.",
            fields={"kind": self.kind},
        )

    def _reordered(self, ids: list[int], moved: int) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return

        def saved(result: PipelineOut) -> None:
            self._apply(result, moved)
            name = next((s.name for s in result.statuses if s.id == moved), "The status")
            self.say(f"{name} is now number {ids.index(moved) + 1} of {len(ids)}.")

        task = operations.run(
            self,
            admin_api.order_statuses(self.api, pipeline.id, ids),
            success=saved,
            changed=PIPELINE,
            reload=self.reload,
        )
        task.add_done_callback(lambda t: self._show(moved) if failed(t) else None)  # back to the stored order

    def remove_status(self) -> None:
        pipeline, status = self.pipeline(), self.status()
        if pipeline is None or status is None or not self.remove_button.isEnabled():
            return
        others = [s for s in pipeline.statuses if s.id != status.id]
        row = self.list.currentRow()

        def submit(dialog: RemoveStatusDialog) -> None:
            target = dialog.target.currentData()
            if target is None:
                return

            def removed(saved: PipelineOut) -> None:
                dialog.accept()
                self._apply(saved, target)
                where = next((s.name for s in saved.statuses if s.id == target), "")
                self.say(f"The status {status.name} is removed; its leads are now in {where}.")

            call = admin_api.delete_status(self.api, pipeline.id, status.id, int(target))
            operations.run(
                dialog,
                call,
                success=removed,
                changed=PIPELINE,
                fields={"move_to": dialog.target},
                reload=self.reload,
                busy=dialog.buttons,
            )

        dialog = RemoveStatusDialog(self, status, others, submit)
        # The status just above is where its leads most likely belong.
        previous = pipeline.statuses[row - 1].id if row > 0 else None
        if previous is not None and dialog.target.findData(previous) >= 0:
            dialog.target.setCurrentIndex(dialog.target.findData(previous))
        self.load(
            admin_api.leads_in_status(self.api, status.id),
            lambda count: dialog.show_count(count) if shiboken6.isValid(dialog) else None,
        )
        dialog.open()

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-pipelines", lambda: None)]
