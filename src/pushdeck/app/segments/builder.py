"""The visual rule builder: groups (all / any / none) of conditions, nested.

It edits the JSON rule form of ``pushdeck.core.store.segment_rules`` and nothing else: ``rule()``
returns it, ``set_rule()`` shows one. Each field gets a typed value editor: enum
pickers, locale and time zone pickers, tag completion, durations or dates for times.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.dates import date_format
from pushdeck.core.common.model import DeviceStatus, OptIn, Platform, ProviderKind
from pushdeck.core.devices.query import FieldValues
from pushdeck.core.store.segment_rules import FIELD_OPS

ENUMS: dict[str, list[str]] = {
    "platform": [p.value for p in Platform],
    "provider": [p.value for p in ProviderKind],
    "opt_in": [o.value for o in OptIn],
    "status": [s.value for s in DeviceStatus],
    "environment": ["sandbox", "production"],
    "test": ["true", "false"],
}
FIELDS = [
    ("platform", "Platform"),
    ("locale", "Locale"),
    ("timezone", "Time zone"),
    ("tag", "Tag"),
    ("attr", "Attribute"),
    ("last_seen", "Last seen"),
    ("created_at", "Added"),
    ("opt_in", "Opt-in"),
    ("status", "Status"),
    ("provider", "Provider"),
    ("environment", "APNs environment"),
    ("test", "Test device"),
    ("app", "App"),
]
OP_TEXT = {
    "=": "is",
    "!=": "is not",
    "in": "is one of",
    "starts_with": "starts with",
    "has": "has",
    "lacks": "lacks",
    "within": "within the last",
    "before": "before",
    "<": "<",
    ">": ">",
    "<=": "≤",
    ">=": "≥",
    "contains": "contains",
    "exists": "exists",
    "not_exists": "does not exist",
}
GROUP_KINDS = [("all", "All of"), ("any", "Any of"), ("none", "None of")]
EMPTY_VALUES = FieldValues([], [], [], [], [])


def _picker(items: list[str], editable: bool = True) -> QComboBox:
    box = QComboBox()
    box.setEditable(editable)
    box.addItems(items)
    if editable:
        completer = QCompleter(items, box)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        box.setCompleter(completer)
        box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    return box


class ConditionRow(QFrame):
    """One condition: field, operator, typed value.

    Signals:
        changed(): anything in the condition changed.
        remove_requested(): the × button.
    """

    changed = Signal()
    remove_requested = Signal()

    def __init__(self, values: FieldValues, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values = values
        self.field = QComboBox()
        self.field.setAccessibleName("Field")
        for key, text in FIELDS:
            self.field.addItem(text, key)
        self.attr_name = _picker(values.attributes)
        self.attr_name.setAccessibleName("Attribute name")
        self.attr_name.setMinimumWidth(110)
        self.op = QComboBox()
        self.op.setAccessibleName("Operator")
        self.value: QWidget = QLineEdit()
        self.remove = QPushButton("×")
        self.remove.setFixedWidth(28)
        self.remove.setAccessibleName("Remove condition")
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.field, self.attr_name, self.op, self.value):
            self.row.addWidget(widget)
        self.row.addWidget(self.remove)
        self.field.currentIndexChanged.connect(self._on_field_current_index_changed)
        self.op.currentIndexChanged.connect(self._on_op_current_index_changed)
        self.attr_name.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.remove.clicked.connect(self.remove_requested)
        self._on_field_current_index_changed()

    @property
    def family(self) -> str:
        return str(self.field.currentData())

    def _on_field_current_index_changed(self, *_: object) -> None:
        self.attr_name.setVisible(self.family == "attr")
        self.op.blockSignals(True)
        self.op.clear()
        for op in FIELD_OPS[self.family]:
            self.op.addItem(OP_TEXT[op], op)
        self.op.blockSignals(False)
        self._on_op_current_index_changed()

    def _on_op_current_index_changed(self, *_: object) -> None:
        self._set_value_editor(self._editor_for(self.family, str(self.op.currentData())))
        self.changed.emit()

    def _editor_for(self, family: str, op: str) -> QWidget:
        if op in ("exists", "not_exists"):
            editor = QWidget()
        elif op == "in":
            editor = QLineEdit()
            editor.setPlaceholderText("comma-separated values")
        elif family in ENUMS:
            editor = _picker(ENUMS[family], editable=False)
        elif family == "locale":
            editor = _picker(self.values.locales)
        elif family == "timezone":
            editor = _picker(self.values.timezones)
        elif family == "tag":
            editor = _picker(self.values.tags)
        elif family == "app":
            editor = _picker(self.values.apps)
        elif family in ("last_seen", "created_at") and op == "before":
            editor = QDateEdit(QDate.currentDate().addDays(-30))
            editor.setCalendarPopup(True)
            editor.setDisplayFormat(date_format())  # the one date format of the app
        elif family in ("last_seen", "created_at"):
            editor = _picker(["1d", "7d", "30d", "90d", "12h", "2w"])
            editor.setCurrentText("30d")
        else:
            editor = QLineEdit()
        editor.setAccessibleName("Value")
        editor.setMinimumWidth(160)
        return editor

    def _set_value_editor(self, editor: QWidget) -> None:
        self.row.replaceWidget(self.value, editor)
        self.value.deleteLater()
        self.value = editor
        if isinstance(editor, QComboBox):
            editor.currentTextChanged.connect(lambda _t: self.changed.emit())
        elif isinstance(editor, QLineEdit):
            editor.textChanged.connect(lambda _t: self.changed.emit())
        elif isinstance(editor, QDateEdit):
            editor.dateChanged.connect(lambda _d: self.changed.emit())

    def value_text(self) -> str:
        if isinstance(self.value, QComboBox):
            return self.value.currentText().strip()
        if isinstance(self.value, QLineEdit):
            return self.value.text().strip()
        if isinstance(self.value, QDateEdit):
            return self.value.date().toString("yyyy-MM-dd")
        return ""

    def set_value_text(self, text: str) -> None:
        if isinstance(self.value, QComboBox):
            self.value.setCurrentText(text)
        elif isinstance(self.value, QLineEdit):
            self.value.setText(text)
        elif isinstance(self.value, QDateEdit):
            self.value.setDate(QDate.fromString(text[:10], "yyyy-MM-dd"))

    def rule(self) -> dict[str, Any]:
        family, op = self.family, str(self.op.currentData())
        field = f"attr.{self.attr_name.currentText().strip()}" if family == "attr" else family
        result: dict[str, Any] = {"field": field, "op": op}
        text = self.value_text()
        if op in ("exists", "not_exists"):
            return result
        if op == "in":
            result["value"] = [v.strip() for v in text.split(",") if v.strip()]
        elif family == "test":
            result["value"] = text == "true"
        elif family == "attr":
            result["value"] = _number_or_text(text)
        else:
            result["value"] = text
        return result

    def set_rule(self, rule: dict[str, Any]) -> None:
        field = str(rule.get("field", "platform"))
        family = "attr" if field.startswith("attr.") else field
        self.field.setCurrentIndex(max(self.field.findData(family), 0))
        if family == "attr":
            self.attr_name.setCurrentText(field[5:])
        self.op.setCurrentIndex(max(self.op.findData(rule.get("op")), 0))
        value = rule.get("value", "")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        self.set_value_text(str(value))


def _number_or_text(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


class GroupBox(QFrame):
    """All / any / none of a list of conditions and nested groups.

    Signals:
        changed(): the group or anything in it changed.
        remove_requested(): the × button (nested groups only).
    """

    changed = Signal()
    remove_requested = Signal()

    def __init__(
        self, values: FieldValues, parent: QWidget | None = None, *, nested: bool = False
    ) -> None:
        super().__init__(parent)
        self.values = values
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.kind = QComboBox()
        self.kind.setAccessibleName("Group kind")
        for key, text in GROUP_KINDS:
            self.kind.addItem(text, key)
        add = QPushButton("+ Condition")
        add_group = QPushButton("+ Group")
        remove = QPushButton("×")
        remove.setFixedWidth(28)
        remove.setVisible(nested)
        head = QHBoxLayout()
        head.addWidget(self.kind)
        head.addWidget(add)
        head.addWidget(add_group)
        head.addStretch(1)
        head.addWidget(remove)
        self.items = QVBoxLayout()
        self.items.setContentsMargins(16, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(self.items)
        self.children_: list[ConditionRow | GroupBox] = []
        self.kind.currentIndexChanged.connect(lambda _i: self.changed.emit())
        add.clicked.connect(lambda: self.add_condition())
        add_group.clicked.connect(lambda: self.add_group())
        remove.clicked.connect(self.remove_requested)

    def add_condition(self, rule: dict[str, Any] | None = None) -> ConditionRow:
        row = ConditionRow(self.values)
        if rule is not None:
            row.set_rule(rule)
        return self._add(row)  # type: ignore[return-value]

    def add_group(self, rule: dict[str, Any] | None = None) -> GroupBox:
        group = GroupBox(self.values, nested=True)
        if rule is not None:
            group.set_rule(rule)
        else:
            group.add_condition()
        return self._add(group)  # type: ignore[return-value]

    def _add(self, child: ConditionRow | GroupBox) -> ConditionRow | GroupBox:
        self.children_.append(child)
        self.items.addWidget(child)
        child.changed.connect(self.changed)
        child.remove_requested.connect(lambda: self._remove(child))
        self.changed.emit()
        return child

    def _remove(self, child: ConditionRow | GroupBox) -> None:
        self.children_.remove(child)
        child.setParent(None)
        child.deleteLater()
        self.changed.emit()

    def clear(self) -> None:
        for child in list(self.children_):
            self.children_.remove(child)
            child.setParent(None)
            child.deleteLater()

    def rule(self) -> dict[str, Any]:
        kind = str(self.kind.currentData())
        parts = [c.rule() for c in self.children_]
        if kind == "none":
            return {"not": {"any": parts}}
        return {kind: parts}

    def set_rule(self, rule: dict[str, Any]) -> None:
        self.blockSignals(True)
        self.clear()
        kind, items = _group_of(rule)
        self.kind.setCurrentIndex(self.kind.findData(kind))
        for item in items:
            if any(k in item for k in ("all", "any", "not")):
                self.add_group(item)
            else:
                self.add_condition(item)
        self.blockSignals(False)
        self.changed.emit()


def _group_of(rule: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if "all" in rule:
        return "all", list(rule["all"])
    if "any" in rule:
        return "any", list(rule["any"])
    if "not" in rule:
        inner = rule["not"]
        if "any" in inner:
            return "none", list(inner["any"])
        return "none", [inner]
    return "all", [rule]


class RuleBuilder(QWidget):
    """The root group. Signals: changed(): the rule changed."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Rule builder")
        self.values = EMPTY_VALUES
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.root = self._new_root()
        self.layout_.addStretch(1)

    def _new_root(self) -> GroupBox:
        root = GroupBox(self.values)
        root.changed.connect(self.changed)
        self.layout_.insertWidget(0, root)
        return root

    def set_values(self, values: FieldValues) -> None:
        """Pickers offer these (the workspace's locales, zones, tags, attributes)."""
        rule = self.rule()
        self.values = values
        self.set_rule(rule)

    def rule(self) -> dict[str, Any]:
        return self.root.rule()

    def set_rule(self, rule: dict[str, Any]) -> None:
        self.root.setParent(None)
        self.root.deleteLater()
        self.root = self._new_root()
        self.root.set_rule(rule)
        self.changed.emit()
