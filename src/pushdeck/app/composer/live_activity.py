"""The composer's Live Activity mode: start, update or end an activity by push.

Every control is bound to the core's Message fields (``live_activity_event``,
``content_state``, ``stale_date`` …; docs/live-activities.md). The JSON editors keep
the last valid object in the draft and say under the field what is wrong with the text,
so a half-typed brace never wipes the content-state the previews show.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimeZone, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.composer import fields as f
from pushdeck.app.composer.model import ComposerModel
from pushdeck.core.common.errors import PushdeckError
from pushdeck.core.common.model import LiveActivityEvent, Message
from pushdeck.core.messages.payloads.live_activity import build_live_activity_aps

ERROR_STYLE = "color: #c5221f;"
OFF_TEXT = "Off: an ordinary notification"
#: Relevance orders several Live Activities; any number is allowed, this range is plenty.
RELEVANCE_MAX = 100.0


def parse_json_object(text: str, what: str) -> tuple[dict[str, Any] | None, str]:
    """(the object, "") for valid JSON object text ("" is the empty object), else (None, why)."""
    if not text.strip():
        return {}, ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
    if not isinstance(value, dict):
        kind = {list: "a list", str: "a string", bool: "true/false"}.get(type(value), "a value")
        return None, f'The {what} must be a JSON object ({{"key": value, …}}), not {kind}.'
    return value, ""


class JsonObjectField(QWidget):
    """A JSON object edited as text, with the parse error shown under it.

    Only valid objects reach the draft; the text is replaced from the draft only when the
    draft's value changed from elsewhere (undo, load), never while the user types.
    """

    def __init__(self, model: ComposerModel, name: str, what: str, placeholder: str) -> None:
        super().__init__()
        self._model, self.name, self._what = model, name, what
        self._value: Mapping[str, Any] = {}
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText(placeholder)
        self.editor.setAccessibleName(what)
        self.editor.setTabChangesFocus(True)
        self.editor.setUndoRedoEnabled(False)  # the composer's undo stack covers it
        self.editor.setFixedHeight(110)
        self.error = QLabel()
        self.error.setAccessibleName(f"{what} error")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor)
        layout.addWidget(self.error)
        self.editor.textChanged.connect(self._on_editor_text_changed)

    def show_message(self, message: Message) -> None:
        value = getattr(message, self.name)
        if dict(value) == dict(self._value):
            return  # what the user typed (even half-typed) stays
        self._value = value
        blocked = self.editor.blockSignals(True)
        try:
            self.editor.setPlainText(
                json.dumps(dict(value), indent=2, ensure_ascii=False) if value else ""
            )
        finally:
            self.editor.blockSignals(blocked)
        self._show_error("")

    def _on_editor_text_changed(self) -> None:
        value, problem = parse_json_object(self.editor.toPlainText(), self._what)
        self._show_error(problem)
        if value is not None:
            self._value = value
            self._model.set_field(self.name, value)

    def _show_error(self, problem: str) -> None:
        self.error.setText(problem)
        self.error.setVisible(bool(problem))


class OptionalDate(QWidget):
    """A UNIX-seconds date that may be unset: a check box and a UTC date-time.

    Signals:
        changed(): the value changed by the user.
    """

    changed = Signal()

    def __init__(self, label: str) -> None:
        super().__init__()
        self.enabled = QCheckBox("Set")
        self.enabled.setAccessibleName(label)
        self.enabled.setToolTip(label)
        self.edit = QDateTimeEdit()
        self.edit.setTimeZone(QTimeZone.utc())
        self.edit.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        self.edit.setCalendarPopup(True)
        self.edit.setAccessibleName(f"{label} (UTC)")
        self.edit.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled)
        layout.addWidget(self.edit, 1)
        self.enabled.toggled.connect(self._on_enabled_toggled)
        self.edit.dateTimeChanged.connect(lambda _: self.changed.emit())

    def value(self) -> int | None:
        if not self.enabled.isChecked():
            return None
        return int(self.edit.dateTime().toSecsSinceEpoch())

    def set_value(self, value: int | None) -> None:
        self.enabled.setChecked(value is not None)
        self.edit.setEnabled(value is not None)
        if value is not None:
            self.edit.setDateTime(QDateTime.fromSecsSinceEpoch(value, QTimeZone.utc()))

    def _on_enabled_toggled(self, checked: bool) -> None:
        self.edit.setEnabled(checked)
        if checked and self.edit.dateTime().toSecsSinceEpoch() < time.time():
            blocked = self.edit.blockSignals(True)  # one change, not two
            hour = (int(time.time()) // 3600 + 1) * 3600
            self.edit.setDateTime(QDateTime.fromSecsSinceEpoch(hour, QTimeZone.utc()))
            self.edit.blockSignals(blocked)
        self.changed.emit()


def _date(name: str, label: str) -> f.Binding:
    widget = OptionalDate(label)
    return f.Binding(name, widget, widget.value, widget.set_value, widget.changed)


class LiveActivityEditor(QWidget):
    """Live Activity mode: event, content-state, dates, relevance, alert and attributes.

    ``bindings`` are the plain field bindings (the form attaches and shows them with its
    own); the JSON fields and the enabling of start/end-only fields are handled here.
    """

    def __init__(self, model: ComposerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.bindings: dict[str, f.Binding] = {}
        form = QFormLayout(self)
        intro = QLabel(
            "A Live Activity push starts, updates or ends an activity on iOS "
            "(sent as push type liveactivity; Android and web devices are skipped)."
        )
        intro.setWordWrap(True)
        form.addRow(intro)
        event = self._bind(
            form, "Live Activity:", "event", f.choice("live_activity_event", LiveActivityEvent)
        )
        event.widget.setItemText(0, OFF_TEXT)  # type: ignore[attr-defined]
        self.content_state = JsonObjectField(
            model, "content_state", "content-state", '{"home": 2, "away": 1, "minute": 67}'
        )
        form.addRow("Content-state (JSON):", self.content_state)
        self._bind(
            form, "Stale after:", "stale_date", _date("stale_date", "Shown as out of date after")
        )
        self._bind(
            form,
            "Dismiss at (end):",
            "dismissal_date",
            _date("dismissal_date", "End only: leaves the Lock Screen at"),
        )
        relevance = self._bind(
            form,
            "Relevance score:",
            "relevance_score",
            f.number("relevance_score", 0.0, RELEVANCE_MAX, optional=True),
        )
        relevance.widget.setToolTip("Orders several Live Activities of the app: higher comes first")
        alert = QLabel("<b>Alert</b> (optional; leave both empty for a quiet update)")
        alert.setWordWrap(True)
        form.addRow(alert)
        self._bind(form, "Alert title:", "title", f.line("title", "Same as Content › Title"))
        self._bind(form, "Alert body:", "body", f.line("body", "Same as Content › Body"))
        form.addRow(QLabel("<b>Push-to-start</b> (start only, iOS 17.2+)"))
        self._bind(
            form,
            "Attributes type:",
            "activity_attributes_type",
            f.line(
                "activity_attributes_type",
                "The ActivityAttributes struct name, e.g. MatchAttributes",
            ),
        )
        self.attributes = JsonObjectField(
            model,
            "activity_attributes",
            "attributes",
            '{"homeTeam": "Lisbon", "awayTeam": "Porto"}',
        )
        form.addRow("Attributes (JSON):", self.attributes)
        self.problem = QLabel()
        self.problem.setAccessibleName("Live Activity problem")
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.problem)

    def _bind(self, form: QFormLayout, label: str, key: str, binding: f.Binding) -> f.Binding:
        self.bindings[f"live_activity.{key}"] = binding
        form.addRow(label, binding.widget)
        return binding

    def text_widgets(self) -> list[QWidget]:
        """The JSON editors (the form routes their undo shortcuts to its stack)."""
        return [self.content_state.editor, self.attributes.editor]

    def show_message(self, message: Message) -> None:
        """Show the JSON fields, enable what the event takes, and say what is missing."""
        self.content_state.show_message(message)
        self.attributes.show_message(message)
        event = message.live_activity_event
        for key, binding in self.bindings.items():
            if key != "live_activity.event":
                binding.widget.setEnabled(event is not None)
        self.content_state.setEnabled(event is not None)
        start = event is LiveActivityEvent.START
        self.bindings["live_activity.activity_attributes_type"].widget.setEnabled(
            start or bool(message.activity_attributes_type)  # enabled to clear a leftover
        )
        self.attributes.setEnabled(start or bool(message.activity_attributes))
        self.bindings["live_activity.dismissal_date"].widget.setEnabled(
            event is LiveActivityEvent.END or message.dismissal_date is not None
        )
        problem = ""
        if event is not None:
            try:
                build_live_activity_aps(message, time.time())
            except PushdeckError as exc:
                problem = str(exc)
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
