"""The composer form: every Message field, grouped in tabs, bound to the ComposerModel."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.composer import fields as f
from pushdeck.app.composer.draft import Draft
from pushdeck.app.composer.live_activity import LiveActivityEditor
from pushdeck.app.composer.model import ComposerModel
from pushdeck.app.composer.tables import (
    ActionsEditor,
    DataEditor,
    LocalizationsEditor,
    VariantsEditor,
)
from pushdeck.core.campaigns.templating import BUILTIN_VARIABLES
from pushdeck.core.common.model import AndroidVisibility, InterruptionLevel, Priority, PushType

SOUNDS = [("Silent (no sound)", ""), ("Default", "default")]


#: Text attributes that hold a person's name: "Hi {{ first_name | default: "there" }}".
NAME_LIKE = ("first_name", "name", "given_name", "nickname", "display_name")


def default_literal(name: str, sample: object = None) -> str:
    """A Liquid default of the variable's type: a count falls back to 0, a flag to false,
    a name to "there", other text to nothing (never "there" for a number)."""
    if isinstance(sample, bool):
        return "false"
    if isinstance(sample, int | float):
        return "0"
    if name in NAME_LIKE or name.endswith("_name"):
        return '"there"'
    return '""'


def variable_snippet(name: str, sample: object = None) -> str:
    """The Liquid inserted by the variable menu, with a default so it never renders empty;
    ``sample`` is a value the variable has on some device (its type picks the default)."""
    return f"{{{{ {name} | default: {default_literal(name, sample)} }}}}"


def is_local_file(reference: str) -> bool:
    """An image reference that names a file here, not something a device can download."""
    text = reference.strip()
    if not text:
        return False
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in ("http", "https", "data"):
        return False
    return scheme in ("", "file") or len(scheme) == 1  # "C:\\…" is a Windows drive


class ComposerForm(QWidget):
    """Every field of the message, grouped: content, behaviour, media and actions, platforms,
    custom data, localizations and A/B variants."""

    def __init__(self, model: ComposerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._last_text: QLineEdit | QPlainTextEdit | None = None
        self._samples: dict[str, object] = {}  # variable -> a value it has (for its type)
        self.bindings: dict[str, f.Binding] = {}
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Composer sections")
        self.tabs.addTab(self._scroll(self._content_tab()), "Content")
        self.tabs.addTab(self._scroll(self._behaviour_tab()), "Behaviour")
        self.actions_editor = ActionsEditor(model, "Actions")
        self.tabs.addTab(self._media_tab(), "Media && actions")
        self.tabs.addTab(self._scroll(self._platform_tab()), "Platforms")
        self.live_activity = LiveActivityEditor(model)
        self.bindings.update(self.live_activity.bindings)
        self.tabs.addTab(self._scroll(self.live_activity), "Live Activity")
        self.data_editor = DataEditor(model, "Custom data")
        self.tabs.addTab(self.data_editor, "Custom data")
        self.localizations = LocalizationsEditor(model)
        self.tabs.addTab(self.localizations, "Localizations")
        self.variants = VariantsEditor(model, "A/B variants")
        self.tabs.addTab(self.variants, "A/B variants")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        for binding in self.bindings.values():
            binding.attach(model)
            if isinstance(binding.widget, QLineEdit | QPlainTextEdit):
                binding.widget.installEventFilter(self)
            if isinstance(binding.widget, QPlainTextEdit):
                binding.widget.setUndoRedoEnabled(False)
        for widget in self.live_activity.text_widgets():
            widget.installEventFilter(self)
        model.draft_changed.connect(self.show_draft)
        QApplication.instance().focusChanged.connect(self._on_app_focus_changed)  # type: ignore[union-attr]
        self.show_draft(model.draft)

    # --- building ----------------------------------------------------------------------

    def _bind(self, form: QFormLayout, label: str, binding: f.Binding) -> f.Binding:
        self.bindings[binding.name] = binding
        form.addRow(label, binding.widget)
        return binding

    def _bind_as(self, form: QFormLayout, key: str, label: str, binding: f.Binding) -> f.Binding:
        """A second control for a field another tab also shows, under its own key."""
        self.bindings[key] = binding
        form.addRow(label, binding.widget)
        return binding

    @staticmethod
    def _scroll(widget: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(widget)
        return area

    def _content_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.variable_button = QToolButton()
        self.variable_button.setText("Insert variable")
        self.variable_button.setAccessibleName("Insert personalization variable")
        self.variable_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.variable_menu = QMenu(self.variable_button)
        self.variable_button.setMenu(self.variable_menu)
        self.set_variables([])
        form.addRow("", self.variable_button)
        self._bind(form, "Title:", f.line("title", "Shown in bold"))
        self._bind(form, "Subtitle (iOS):", f.line("subtitle"))
        self._bind(form, "Body:", f.text("body", "The message text"))
        self._bind(form, "Open URL / deep link:", f.line("url", "https://… or myapp://…"))
        self._bind(form, "Title loc-key:", f.line("title_loc_key", "Resolved on the device"))
        self._bind(form, "Title loc-args:", f.csv("title_loc_args", "Comma-separated"))
        self._bind(form, "Body loc-key:", f.line("body_loc_key"))
        self._bind(form, "Body loc-args:", f.csv("body_loc_args", "Comma-separated"))
        return page

    def _behaviour_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self._bind(form, "Sound:", f.editable_choice("sound", SOUNDS))
        self._bind(
            form, "", f.check("critical_sound", "Critical alert sound (needs Apple's entitlement)")
        )
        self._bind(form, "Critical volume:", f.number("critical_volume", 0.0, 1.0))
        self._bind(form, "Badge:", f.optional_int("badge", 99999, "Leave unchanged"))
        self._bind(form, "Interruption level:", f.choice("interruption_level", InterruptionLevel))
        self._bind(form, "Relevance score:", f.number("relevance_score", 0.0, 1.0, optional=True))
        self._bind(form, "Priority:", f.choice("priority", Priority))
        self._bind(
            form, "Time to live (s):", f.optional_int("ttl_seconds", 2_419_200, "Provider default")
        )
        self._bind(
            form, "Collapse id:", f.line("collapse_id", "Replaces an earlier one with the same id")
        )
        self._bind(form, "Thread / group:", f.line("thread_id", "iOS thread-id, Android group"))
        self._bind(form, "Category:", f.line("category", "iOS category / click_action"))
        self._bind(form, "", f.check("content_available", "Background update (content-available)"))
        self._bind(
            form, "", f.check("mutable_content", "Mutable content (service extension may rewrite)")
        )
        self._bind(form, "APNs push type:", f.choice("push_type", PushType))
        return page

    def _media_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout()
        image = self._bind(
            form, "Image (file or URL):", f.line("image_url", "https://… or a file path")
        )
        browse = QPushButton("Choose file…")
        browse.setAccessibleName("Choose image file")
        browse.setToolTip(
            "A file on this computer shows in the previews only; devices need an https:// URL"
        )
        browse.clicked.connect(self._on_browse_clicked)
        form.addRow("", browse)
        self.image_note = QLabel(
            "⚠ This image is a file on this computer: it shows in the previews only. Devices "
            "download images from the web, so upload it and paste its https:// address here "
            "before sending (otherwise the notification arrives without the image)."
        )
        self.image_note.setWordWrap(True)
        self.image_note.setAccessibleName("Local image warning")
        self.image_note.setStyleSheet("color: #8a4b00;")
        self.image_note.setVisible(False)
        form.addRow("", self.image_note)
        self._image_edit = image.widget
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(QLabel("Actions (iOS category actions, Android actions, web actions):"))
        layout.addWidget(self.actions_editor, 1)
        return page

    def _platform_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        same = "Same as Content › {} when empty"
        form.addRow(QLabel("<b>iOS</b>"))
        self._bind(form, "Title:", f.line("ios_title", same.format("Title")))
        self._bind(form, "Body:", f.text("ios_body", same.format("Body"), height=56))
        self._bind_as(form, "ios.sound", "Sound file:", f.editable_choice("sound", SOUNDS))
        form.addRow(QLabel("<b>Android</b>"))
        self._bind(form, "Title:", f.line("android_title", same.format("Title")))
        self._bind(form, "Body:", f.text("android_body", same.format("Body"), height=56))
        sound = f.line("android_sound", "res/raw name or default (8+: the channel's)")
        self._bind(form, "Sound:", sound)
        self._bind(form, "Channel id:", f.line("android_channel_id"))
        self._bind(form, "Small icon:", f.line("android_icon"))
        self._bind(form, "Accent colour:", f.line("android_color", "#RRGGBB"))
        self._bind(
            form, "Lock screen visibility:", f.choice("android_visibility", AndroidVisibility)
        )
        self._bind(form, "Tag:", f.line("android_tag"))
        form.addRow(QLabel("<b>Web</b>"))
        self._bind(form, "Title:", f.line("web_title", same.format("Title")))
        self._bind(form, "Body:", f.text("web_body", same.format("Body"), height=56))
        urgency = self._bind_as(form, "web.urgency", "Urgency:", f.choice("priority", Priority))
        urgency.widget.setItemText(0, "Not set (normal)")  # type: ignore[attr-defined]
        urgency.widget.setToolTip(
            "Web Push Urgency; the same setting as Behaviour › Priority on the other platforms"
        )
        declarative = f.check("web_declarative", "Declarative Web Push (Safari 18.4+)")
        declarative.widget.setToolTip(
            "Sends the declarative JSON form, which Safari shows with no service worker "
            "(the example service worker reads it too); needs an Open URL"
        )
        self._bind(form, "", declarative)
        self._bind(form, "", f.check("web_padding", "Pad to 4096 bytes (hides the length)"))
        self._bind(form, "Icon:", f.line("web_icon", "https://… (192×192 or larger)"))
        self._bind(form, "Badge:", f.line("web_badge"))
        self._bind(
            form,
            "",
            f.check("web_require_interaction", "Stay until the user acts (requireInteraction)"),
        )
        self._bind(form, "Tag:", f.line("web_tag"))
        return page

    # --- behaviour ---------------------------------------------------------------------

    def show_draft(self, draft: Draft) -> None:
        for binding in self.bindings.values():
            binding.show(draft.message)
        self.image_note.setVisible(is_local_file(draft.message.image_url))
        self.actions_editor.show_draft(draft)
        self.live_activity.show_message(draft.message)
        self.data_editor.show_draft(draft)
        self.localizations.show_draft(draft)
        self.variants.show_draft(draft)

    def set_variables(
        self, attributes: list[str], samples: Mapping[str, object] | None = None
    ) -> None:
        """Fill the insert-variable menu: the workspace's device attributes, then built-ins.

        ``samples`` maps an attribute to a value it has on some device, so that the default
        offered fits its type (``purchases | default: 0``, not ``default: "there"``).
        """
        self._samples = dict(samples or {})
        self.variable_menu.clear()
        for name in [*attributes, *sorted(BUILTIN_VARIABLES - {"device", "tags"})]:
            snippet = variable_snippet(name, self._samples.get(name))
            action = self.variable_menu.addAction(f"{name}   →   {snippet}")
            action.triggered.connect(lambda _=False, n=name: self.insert_variable(n))

    def insert_variable(self, name: str) -> None:
        """Insert the variable at the cursor of the last focused text field (title by default)."""
        target = self._last_text or self.bindings["title"].widget
        snippet = variable_snippet(name, self._samples.get(name))
        if isinstance(target, QPlainTextEdit):
            target.insertPlainText(snippet)
        elif isinstance(target, QLineEdit):
            target.insert(snippet)
            target.textEdited.emit(target.text())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Let Undo/Redo shortcuts reach the form-wide undo stack, not the field's own."""
        undo_keys = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo)
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and any(event.matches(key) for key in undo_keys)
        ):
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    def _on_app_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if isinstance(new, QLineEdit | QPlainTextEdit) and self.isAncestorOf(new):
            self._last_text = new

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose image", "", "Images (*.png *.jpg *.jpeg *.gif *.webp)"
        )
        if path:
            self._image_edit.setText(path)  # type: ignore[attr-defined]
            self._model.set_field("image_url", path)
