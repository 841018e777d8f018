"""One form per provider. Each knows its fields, shows a problem next to the field at
fault, and builds the worker job that checks and stores it (``core.credential_forms``).

Secrets typed or picked here are dropped from the form once saved: the page shows only
the non-secret facts the workspace keeps.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.tasks import WorkerContext

Job = Callable[[WorkerContext], Any]


class ProviderForm(QWidget):
    """Base: fields with an error label under each, an 'Advanced' group, a Save button.

    Signals:
        save_requested(): the user pressed Save.
    """

    save_requested = Signal()
    title = ""
    file_filter = "All files (*)"
    has_endpoint = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout()
        self.inputs: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.advanced = QGroupBox("Advanced: custom endpoint and extra CA certificate")
        self.advanced.setCheckable(True)
        self.advanced.setChecked(False)
        self.advanced_form = QFormLayout(self.advanced)
        self.save = QPushButton(f"Save {self.title}")
        self.save.clicked.connect(self.save_requested)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self._result_is_problem = False  # the result line shows a problem, not "Saved"
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.advanced)
        row = QHBoxLayout()
        row.addWidget(self.save)
        row.addWidget(self.result, 1)
        layout.addLayout(row)
        layout.addStretch(1)
        self.build()
        if self.has_endpoint:
            self._add(self.advanced_form, "endpoint", "Endpoint:", QLineEdit())
            self.line("endpoint").setPlaceholderText("https://host:port (default: the provider's)")
        self._add(
            self.advanced_form,
            "ca_file",
            "Extra CA file:",
            self._file_row("ca_file", "PEM (*.pem *.crt)"),
        )
        for key, widget in self.inputs.items():
            # A problem shown under a field is about what was there: it goes as soon as the
            # user changes that field, rather than staying under the new text.
            if isinstance(widget, QLineEdit):
                widget.textEdited.connect(lambda _t, k=key: self.clear_problem(k))
                widget.textChanged.connect(lambda _t, k=key: self._on_input_changed(k))
            elif isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(lambda _i, k=key: self.clear_problem(k))

    def build(self) -> None:  # pragma: no cover - every form overrides it
        raise NotImplementedError

    # --- building blocks ---------------------------------------------------------------------

    def _add(self, form: QFormLayout, key: str, label: str, widget: QWidget) -> None:
        error = QLabel()
        error.setStyleSheet("color: #b00020")
        error.setWordWrap(True)
        error.setVisible(False)
        error.setAccessibleName(f"{label.rstrip(':')} problem")
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        column.addWidget(error)
        form.addRow(label, box)
        self.errors[key] = error
        if key not in self.inputs:
            self.inputs[key] = widget

    def field(self, key: str, label: str, widget: QWidget) -> None:
        self._add(self.form, key, label, widget)

    def _file_row(self, key: str, file_filter: str) -> QWidget:
        edit = QLineEdit()
        edit.setAccessibleName(key)
        browse = QPushButton("Choose…")
        browse.clicked.connect(lambda: self._on_browse_clicked(edit, file_filter))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        layout.addWidget(browse)
        self.inputs[key] = edit
        return row

    def _on_browse_clicked(self, edit: QLineEdit, file_filter: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file", "", file_filter)
        if path:
            edit.setText(path)

    def line(self, key: str) -> QLineEdit:
        widget = self.inputs[key]
        assert isinstance(widget, QLineEdit)
        return widget

    def text(self, key: str) -> str:
        return self.line(key).text().strip() if key in self.inputs else ""

    def endpoint(self) -> str:
        return self.text("endpoint") if self.advanced.isChecked() and self.has_endpoint else ""

    def ca_file(self) -> str:
        return self.text("ca_file") if self.advanced.isChecked() else ""

    # --- problems and results ----------------------------------------------------------------

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.setVisible(False)
            label.setText("")
        self.result.setText("")
        self._result_is_problem = False

    def clear_problem(self, field: str) -> None:
        """The user changed ``field``: its problem (and a form-wide one) no longer applies."""
        label = self.errors.get(field)
        if label is not None:
            label.setVisible(False)
            label.setText("")
        if self._result_is_problem:
            self.result.setText("")
            self._result_is_problem = False

    def _on_input_changed(self, field: str) -> None:
        # A path picked with "Choose…" changes the text without an edit by typing.
        widget = self.inputs.get(field)
        if isinstance(widget, QLineEdit) and not widget.hasFocus():
            self.clear_problem(field)

    def show_problem(self, field: str, text: str) -> None:
        label = self.errors.get(field)
        if label is None:
            self.result.setText(f"<span style='color:#b00020'>{html.escape(text)}</span>")
            self._result_is_problem = True
            return
        if field in ("endpoint", "ca_file"):
            self.advanced.setChecked(True)
        label.setText(text)
        label.setVisible(True)

    def problem(self, field: str) -> str:
        label = self.errors.get(field)
        return label.text() if label is not None and label.isVisibleTo(self) else ""

    def forget_secrets(self) -> None:
        """After saving: the secret lives only in the keyring now."""
        for key in ("file", "password"):
            if key in self.inputs:
                self.line(key).clear()

    def job(self, app: str) -> Job:  # pragma: no cover - every form overrides it
        raise NotImplementedError


class ApnsTokenForm(ProviderForm):
    title = "APNs token key"

    def build(self) -> None:
        self.field(
            "file", ".p8 key file:", self._file_row("file", "APNs key (*.p8);;All files (*)")
        )
        self.field("key_id", "Key ID:", QLineEdit())
        self.field("team_id", "Team ID:", QLineEdit())
        self.environment = QComboBox()
        self.environment.addItems(["production", "sandbox"])
        self.field("environment", "Environment:", self.environment)
        self.line("key_id").setPlaceholderText("10 characters, e.g. ABC123DEFG")
        self.line("team_id").setPlaceholderText("10 characters, from Membership")

    def job(self, app: str) -> Job:
        values = {
            "key_file": self.text("file"), "key_id": self.text("key_id"),
            "team_id": self.text("team_id"), "environment": self.environment.currentText(),
            "endpoint": self.endpoint(), "ca_file": self.ca_file(),
        }  # fmt: skip

        def job(ctx: WorkerContext) -> Any:
            from pushdeck.core.credentials.forms import save_apns_token

            return save_apns_token(ctx.require_ws(), app, **values)

        return job


class ApnsCertForm(ProviderForm):
    title = "APNs certificate"

    def build(self) -> None:
        self.field("file", ".p12 certificate:", self._file_row("file", "Certificate (*.p12 *.pfx)"))
        password = QLineEdit()
        password.setEchoMode(QLineEdit.EchoMode.Password)
        self.field("password", "Password:", password)
        self.environment = QComboBox()
        self.environment.addItems(["production", "sandbox"])
        self.field("environment", "Environment:", self.environment)
        self.expiry = QLabel("The expiry date is shown once the certificate is saved.")
        self.form.addRow("", self.expiry)

    def job(self, app: str) -> Job:
        values = {
            "cert_file": self.text("file"), "password": self.line("password").text(),
            "environment": self.environment.currentText(),
            "endpoint": self.endpoint(), "ca_file": self.ca_file(),
        }  # fmt: skip

        def job(ctx: WorkerContext) -> Any:
            from pushdeck.core.credentials.forms import save_apns_cert

            return save_apns_cert(ctx.require_ws(), app, **values)

        return job


class FcmForm(ProviderForm):
    title = "FCM service account"
    inspect_requested = Signal(str)

    def build(self) -> None:
        self.field("file", "Service account:", self._file_row("file", "JSON (*.json)"))
        self.account = QLabel("Pick the JSON key from Firebase console › Project settings.")
        self.account.setWordWrap(True)
        self.form.addRow("", self.account)
        self.line("file").editingFinished.connect(
            lambda: self.inspect_requested.emit(self.text("file"))
        )
        self.line("file").textChanged.connect(lambda t: self.inspect_requested.emit(t.strip()))

    def show_account(self, facts: dict[str, Any]) -> None:
        self.account.setText(
            f"Project: <b>{facts.get('project_id', '')}</b> · "
            f"client: {facts.get('client_email', '')}"
        )

    def job(self, app: str) -> Job:
        values = {"service_account": self.text("file"), "endpoint": self.endpoint(),
                  "ca_file": self.ca_file()}  # fmt: skip

        def job(ctx: WorkerContext) -> Any:
            from pushdeck.core.credentials.forms import save_fcm

            return save_fcm(ctx.require_ws(), app, **values)

        return job


class WebPushForm(ProviderForm):
    title = "Web Push (VAPID)"
    has_endpoint = False

    def build(self) -> None:
        self._pem = ""
        generate = QPushButton("Generate a new key")
        generate.clicked.connect(self.generate)
        imported = QPushButton("Import a .pem key…")
        imported.clicked.connect(self._on_import_clicked)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(generate)
        layout.addWidget(imported)
        layout.addStretch(1)
        self.field("file", "Key pair:", row)
        self.public_key = QLineEdit()
        self.public_key.setReadOnly(True)
        self.public_key.setAccessibleName("applicationServerKey")
        self.copy = QPushButton("Copy")
        self.copy.clicked.connect(self.copy_public_key)
        key_row = QWidget()
        key_layout = QHBoxLayout(key_row)
        key_layout.setContentsMargins(0, 0, 0, 0)
        key_layout.addWidget(self.public_key, 1)
        key_layout.addWidget(self.copy)
        self.form.addRow("applicationServerKey:", key_row)
        self.field("subject", "Contact (subject):", QLineEdit())
        self.line("subject").setPlaceholderText("mailto:ops@example.com")

    def generate(self) -> None:
        from pushdeck.core.credentials.forms import new_vapid_key

        self.set_key(new_vapid_key())

    def set_key(self, pem: str) -> None:
        from pushdeck.core.common.errors import ValidationError
        from pushdeck.core.credentials.forms import vapid_public_key_of

        try:
            self.public_key.setText(vapid_public_key_of(pem))
        except ValidationError as exc:
            self.show_problem("file", str(exc))
            return
        self._pem = pem
        self.errors["file"].setVisible(False)

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "VAPID private key", "", "PEM (*.pem)")
        if path:
            from pathlib import Path

            self.set_key(Path(path).read_text(encoding="utf-8", errors="replace"))

    def copy_public_key(self) -> None:
        QGuiApplication.clipboard().setText(self.public_key.text())
        self.result.setText("Public key copied.")

    def forget_secrets(self) -> None:
        self._pem = ""

    def show_public_key(self, key: str) -> None:
        self.public_key.setText(key)

    def job(self, app: str) -> Job:
        values = {"private_key_pem": self._pem, "subject": self.text("subject"),
                  "ca_file": self.ca_file()}  # fmt: skip

        def job(ctx: WorkerContext) -> Any:
            from pushdeck.core.credentials.forms import save_webpush

            return save_webpush(ctx.require_ws(), app, **values)

        return job


class SandboxForm(ProviderForm):
    title = "sandbox"
    has_endpoint = False

    def build(self) -> None:
        self.advanced.setVisible(False)
        self.failure = QDoubleSpinBox()
        self.failure.setRange(0, 1)
        self.failure.setSingleStep(0.01)
        self.failure.setValue(0.02)
        self.opens = QDoubleSpinBox()
        self.opens.setRange(0, 1)
        self.opens.setSingleStep(0.01)
        self.opens.setValue(0.12)
        self.form.addRow(
            QLabel("The built-in simulated push service: nothing leaves this computer.")
        )
        self.field("failure_rate", "Share refused:", self.failure)
        self.field("open_rate", "Share opened:", self.opens)

    def job(self, app: str) -> Job:
        failure, opens = self.failure.value(), self.opens.value()

        def job(ctx: WorkerContext) -> Any:
            from pushdeck.core.credentials.forms import save_sandbox

            return save_sandbox(ctx.require_ws(), app, failure_rate=failure, open_rate=opens)

        return job


FORMS: list[type[ProviderForm]] = [ApnsTokenForm, ApnsCertForm, FcmForm, WebPushForm, SandboxForm]
