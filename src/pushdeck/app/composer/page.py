"""The Compose page: form and payload panel on the left, live previews on the right."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.composer.draft import Draft, personalize, sample_device
from pushdeck.app.composer.form import ComposerForm
from pushdeck.app.composer.model import ComposerModel
from pushdeck.app.composer.payload_panel import PayloadPanel
from pushdeck.app.previews.base import RenderContext
from pushdeck.app.previews.images import ImageCache
from pushdeck.app.previews.widgets import PreviewPanel
from pushdeck.core.common.model import Action, App, Device, Message

PAYLOAD_DELAY_MS = 60  # payload JSON and lint follow typing a moment later; previews don't wait
AUTOSAVE_DELAY_MS = 800
#: Attribute names of the sample recipient, offered when no workspace is open.
SAMPLE_ATTRIBUTES = ("first_name", "plan", "purchases")

STARTER = Draft(
    message=Message(
        title="Flash sale: 40% off everything today",
        body='Hi {{ first_name | default: "there" }} 👋 our biggest sale of the year starts now. '
        "Everything in store is 40% off until midnight: shoes, jackets, bags and more.",
        sound="default",
        badge=1,
        thread_id="sales",
        actions=(Action("shop", "Shop now"), Action("later", "Remind me later")),
    ),
    localizations={"pt-BR": {"title": "Promoção relâmpago: 40% em tudo hoje"}},
).with_locale_current("pt-BR")


class ComposerPage(QWidget):
    """Compose one message and watch every platform's preview follow each keystroke.

    Signals:
        autosave_requested(object): the draft document to save (debounced after edits).
        review_requested(): "Review & send…": make a campaign of this draft and review it.
    """

    autosave_requested = Signal(object)
    review_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, images: ImageCache | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Compose")
        self.model = ComposerModel(self)
        self.images = images or ImageCache(self)
        self.images.image_ready.connect(self._on_images_image_ready)
        self.form = ComposerForm(self.model)
        self.payloads = PayloadPanel()
        self.previews = PreviewPanel()
        self._attributes: list[str] = list(SAMPLE_ATTRIBUTES)
        self.recipient = QComboBox()
        self.recipient.setAccessibleName("Preview as recipient")
        self.variant = QComboBox()
        self.variant.setAccessibleName("Preview variant")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c5221f;")
        self.problem.setWordWrap(True)
        self._recipients: list[Device] = []
        self._apps: dict[str, App] = {}
        self._loading = False
        self._build_header()
        self._payload_timer = self._timer(PAYLOAD_DELAY_MS, self.refresh_payloads)
        self._autosave_timer = self._timer(AUTOSAVE_DELAY_MS, self._emit_autosave)
        self._build()
        self.model.draft_changed.connect(self._on_model_draft_changed)
        self.recipient.currentIndexChanged.connect(lambda _: self.refresh_previews())
        self.variant.currentIndexChanged.connect(lambda _: self.refresh_previews())
        self.previews.zoom_box.setCurrentIndex(1)  # 75%: all three columns fit beside the form
        self.load_document(None)

    def _timer(self, msecs: int, slot: Any) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(msecs)
        timer.timeout.connect(slot)
        return timer

    def _build_header(self) -> None:
        """Which message this is (the workspace's draft), for which app, and what is next."""
        self.heading = QLabel()
        self.heading.setAccessibleName("What you are editing")
        self.app_box = QComboBox()
        self.app_box.setAccessibleName("The draft's app")
        self.app_box.setToolTip("The app whose devices and credentials this message is for")
        self.app_box.setMinimumWidth(180)
        self.app_box.activated.connect(self._on_app_box_activated)
        self.saved = QLabel()
        self.saved.setAccessibleName("Saved")
        self.saved.setStyleSheet("color: #5f6368;")
        self.review_button = QPushButton("Review && send…")
        self.review_button.setAccessibleName("Review and send")
        self.review_button.setToolTip(
            "Make a campaign of this draft (name, audience), review it, then send or schedule"
        )
        self.review_button.clicked.connect(self.review_requested)
        bold = self.review_button.font()
        bold.setBold(True)  # the way forward from here
        self.review_button.setFont(bold)
        self.header = QHBoxLayout()
        self.header.addWidget(self.heading)
        self.header.addSpacing(12)
        self.header.addWidget(QLabel("App:"))
        self.header.addWidget(self.app_box)
        self.header.addSpacing(12)
        self.header.addWidget(self.saved)
        self.header.addStretch(1)
        self.header.addWidget(self.review_button)

    def _show_header(self, draft: Draft) -> None:
        def count(n: int, what: str) -> str:
            return f", {n} {what}{'s' if n != 1 else ''}" if n else ""

        variants = count(len(draft.variants), "A/B variant")
        locales = count(len(draft.localizations), "translation")
        self.heading.setText(f"<b>Draft message</b> (not sent yet{variants}{locales})")
        items = list(self._apps)
        missing = bool(items) and draft.app not in items
        if draft.app not in items:
            items.insert(0, draft.app)
        if [self.app_box.itemText(i) for i in range(self.app_box.count())] != items:
            self.app_box.clear()
            self.app_box.addItems(items)
        self.app_box.setCurrentText(draft.app)
        self.app_box.setStyleSheet("color: #b00020;" if missing else "")
        self.app_box.setToolTip(
            f"This workspace has no app named “{draft.app}”: pick one before sending."
            if missing
            else "The app whose devices and credentials this message is for"
        )

    def mark_saved(self, text: str) -> None:
        self.saved.setText(text)

    def _on_app_box_activated(self, index: int) -> None:
        app = self.app_box.itemText(index)
        if app and app != self.model.draft.app:
            self.model.edit(lambda d: replace(d, app=app), key="app", text="Change app")

    def _build(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.form)
        left.addWidget(self.payloads)
        left.setSizes([520, 380])
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Preview as:"))
        bar.addWidget(self.recipient, 1)
        bar.addWidget(QLabel("Variant:"))
        bar.addWidget(self.variant)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(bar)
        column.addWidget(self.problem)
        column.addWidget(self.previews, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        # Every tab in view (no scroll arrows hiding some): the form is at least as wide
        # as its tab bar, and starts that wide.
        self.form.tabs.setUsesScrollButtons(False)
        splitter.setSizes([max(460, self.form.tabs.tabBar().sizeHint().width() + 16), 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self.header)
        layout.addWidget(splitter, 1)
        self._fill_recipients()
        self.form.set_variables(self._attributes, sample_device().attributes)

    # --- public API ------------------------------------------------------------------------

    def current_message(self) -> tuple[Message, str]:
        """The message previews show: personalized for the picked recipient and variant."""
        device = self.recipient.currentData()
        variant = self.variant.currentData() or ""
        return personalize(self.model.draft, device, variant)

    def refresh_previews(self) -> None:
        message, problem = self.current_message()
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        app = self._apps.get(self.model.draft.app)
        self.previews.set_context(
            RenderContext(
                message,
                app_name=self.model.draft.app,
                images=self.images,
                has_service_extension=app is not None and app.has_service_extension,
            )
        )

    def refresh_payloads(self) -> None:
        from pushdeck.core.campaigns.templating import check_templates
        from pushdeck.core.messages.payloads import lint, preview_payloads

        message, _ = self.current_message()
        try:
            payloads = preview_payloads(message)
        except Exception as exc:  # noqa: BLE001 - the panel must survive a core bug mid-typing
            self.payloads.show_placeholder(
                f"The payload preview failed: {type(exc).__name__}: {exc}"
            )
        else:
            self.payloads.show_payloads(payloads)
        template_notes = [
            f"{p.where}: {p.message}"
            for p in check_templates(self.model.draft.to_spec(), self._attributes)
        ] + [
            f"{locale} was written before the base message changed: it is sent as written. "
            "Check it on the Localizations tab."
            for locale in self.model.draft.stale_locales()
        ]
        try:
            warnings = lint(message)
        except Exception as exc:  # noqa: BLE001 - same: never lose the window to a lint bug
            warnings, template_notes = [], [*template_notes, f"Lint failed: {exc}"]
        self.payloads.show_lint(warnings, template_notes)

    def set_recipients(self, devices: Sequence[Device], attributes: Sequence[str] = ()) -> None:
        """Real devices of the workspace for "preview as", and its attribute names."""
        self._recipients = list(devices)
        self._attributes = list(attributes)
        samples: dict[str, object] = {}
        for device in [*self._recipients, sample_device()]:
            for name, value in device.attributes.items():
                samples.setdefault(name, value)
        self.form.set_variables(self._attributes or list(SAMPLE_ATTRIBUTES), samples)
        self._fill_recipients()

    def set_apps(self, apps: Sequence[App]) -> None:
        """The workspace's apps: offered for the draft, and the draft's app says whether it
        has a service extension (the iOS previews' image note)."""
        self._apps = {app.name: app for app in apps}
        self._show_header(self.model.draft)
        self.refresh_previews()

    def load_document(self, doc: Mapping[str, Any] | None) -> None:
        """Open a saved draft document (or the starter draft when there is none)."""
        self._loading = True  # a draft just read from the workspace needs no autosave
        try:
            self.model.load(Draft.from_document(doc) if doc else STARTER)
        finally:
            self._loading = False

    # --- slots ---------------------------------------------------------------------------------

    def _fill_recipients(self) -> None:
        current = self.recipient.currentText()
        blocked = self.recipient.blockSignals(True)
        self.recipient.clear()
        self.recipient.addItem("Message as written (no personalization)", None)
        self.recipient.addItem("Sample recipient · en-US · Ana", sample_device())
        for locale in self.model.draft.localizations:
            self.recipient.addItem(f"Sample recipient · {locale} · Ana", sample_device(locale))
        for device in self._recipients:
            name = device.attributes.get("first_name", "")
            self.recipient.addItem(
                f"{device.platform.value} · {device.locale or '—'} · {name} · #{device.id}", device
            )
        index = self.recipient.findText(current)
        self.recipient.setCurrentIndex(index if index >= 0 else 1)
        self.recipient.blockSignals(blocked)

    def _fill_variants(self, draft: Draft) -> None:
        names = [v.name for v in draft.variants]
        if self.variant.count() and names == [
            self.variant.itemData(i) for i in range(1, self.variant.count())
        ]:
            return
        current = self.variant.currentData()
        blocked = self.variant.blockSignals(True)
        self.variant.clear()
        self.variant.addItem("Base message", "")
        for name in names:
            self.variant.addItem(name, name)
        self.variant.setCurrentIndex(max(0, self.variant.findData(current)))
        self.variant.blockSignals(blocked)

    def _on_model_draft_changed(self, draft: Draft) -> None:
        self._show_header(draft)
        self._fill_variants(draft)
        if self.recipient.count() - 2 - len(self._recipients) != len(draft.localizations):
            self._fill_recipients()
        self.refresh_previews()
        self._payload_timer.start()
        if not self._loading:
            self._autosave_timer.start()

    def _on_images_image_ready(self, _ref: str) -> None:
        self.refresh_previews()

    def flush_autosave(self) -> None:
        """Ask now for the autosave still waiting for its delay: the workspace is about to
        change, and the edits belong to the one they were made in (the runner drops a
        save asked for once the next one is open)."""
        if self._autosave_timer.isActive():
            self._autosave_timer.stop()
            self._emit_autosave()

    def _emit_autosave(self) -> None:
        self.autosave_requested.emit(self.model.draft.to_document())
