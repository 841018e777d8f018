"""The Apps & credentials page: apps and their identities, credentials (facts only, never
secrets), a form per provider, and a Check that asks the provider in plain words.

Signals:
    keyring_changed(str): the keyring backend's name (for the status bar).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.credentials.forms import FORMS, FcmForm, ProviderForm, WebPushForm
from pushdeck.app.dates import format_date, format_when
from pushdeck.app.errors import describe, show_error
from pushdeck.app.selection import follow_selection
from pushdeck.app.tasks import TaskRunner, WorkerContext, WorkspaceTie
from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.credentials.forms import AppCredentials, Saved
from pushdeck.core.providers.base import CheckResult

HIDDEN_FACTS = {"behaviour", "token_uri", "last_check"}


def _facts(record: Any) -> str:
    from pushdeck.core.store.check_results import last_check

    facts = {k: v for k, v in record.facts.items() if k not in HIDDEN_FACTS}
    if "behaviour" in record.facts:
        b = record.facts["behaviour"]
        facts["simulated"] = (
            f"{b.get('failure_rate', 0):.0%} refused, {b.get('open_rate', 0):.0%} opened"
        )
    if "expires" in facts:
        facts["expires"] = format_date(str(facts["expires"]))
    if (check := last_check(record.facts)) is not None:
        outcome = "works" if check.ok else f"FAILED ({check.summary})"
        facts["last check"] = f"{outcome}, {format_when(check.at)}"
    return " · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in facts.items())


class AppDialog(QDialog):
    """Add an app with its platform identities; problems shown next to the field."""

    added = Signal(str)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.setWindowTitle("Add an app")
        self.edits = {k: QLineEdit() for k in ("name", "topic", "android_package", "web_origin")}
        self.edits["topic"].setPlaceholderText("iOS bundle id, e.g. com.example.shop")
        self.edits["android_package"].setPlaceholderText("e.g. com.example.shop")
        self.edits["web_origin"].setPlaceholderText("e.g. https://shop.example.com")
        self.errors = {k: QLabel() for k in self.edits}
        form = QFormLayout(self)
        labels = {"name": "Name:", "topic": "APNs topic:",
                  "android_package": "Android package:", "web_origin": "Web origin:"}  # fmt: skip
        for key, label in labels.items():
            self.errors[key].setStyleSheet("color: #b00020")
            self.errors[key].setVisible(False)
            form.addRow(label, self.edits[key])
            form.addRow("", self.errors[key])
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.add)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        # Another workspace opened: the app would be added there, not where it was typed.
        self.tie = WorkspaceTie(runner, self, close=True)

    def add(self) -> None:
        from pushdeck.core.common.model import App

        text = {k: e.text().strip() for k, e in self.edits.items()}
        app = App(text["name"], text["topic"], text["android_package"], text["web_origin"])

        def job(ctx: WorkerContext) -> str:
            from pushdeck.core.store.apps import add_app

            return add_app(ctx.require_ws(), app).name

        for label in self.errors.values():
            label.setVisible(False)
        self.runner.run(job, self._on_runner_added, self._on_runner_failed)

    def _on_runner_added(self, name: str) -> None:
        self.added.emit(name)
        self.accept()

    def _on_runner_failed(self, exc: BaseException) -> None:
        field = getattr(exc, "field", "") or "name"
        field = {"apns_topic": "topic"}.get(field, field)
        label = self.errors.get(field, self.errors["name"])
        label.setText(describe(exc))
        label.setVisible(True)


class CredentialsPage(QWidget):
    keyring_changed = Signal(str)
    loaded = Signal()
    saved = Signal(object)  # Saved
    checked = Signal(object)  # CheckResult

    def __init__(self, runner: TaskRunner, loop: AsyncLoop, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Apps & credentials")
        self.runner, self.loop = runner, loop
        self.apps: dict[str, AppCredentials] = {}
        self._checking: tuple[str, ProviderKind] = ("", ProviderKind.SANDBOX)
        self._shown_app = ""
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName("Keyring problem")
        self.banner.setStyleSheet("background: #fde7e9; color: #5c0011; padding: 8px;")
        self.banner.setVisible(False)
        self.app_list = QListWidget()
        self.app_list.setAccessibleName("Apps")
        self.add_app = QPushButton("Add an app…")
        self.identity = QLabel()
        self.identity.setWordWrap(True)
        # A shared workspace's credential whose secret is in other machines' keyrings only.
        self.missing = QLabel()
        self.missing.setWordWrap(True)
        self.missing.setAccessibleName("Missing on this machine")
        self.missing.setTextFormat(Qt.TextFormat.RichText)  # escaped text, one line each
        self.missing.setStyleSheet("background: #fff4e5; color: #5c3b00; padding: 8px;")
        self.missing.setVisible(False)
        self.records = QTableWidget(0, 4)
        self.records.setAccessibleName("Credentials")
        self.records.setHorizontalHeaderLabels(
            ["Provider", "Kind", "What is stored (no secrets)", "Endpoint"]
        )
        self.records.verticalHeader().setVisible(False)
        self.records.horizontalHeader().setStretchLastSection(True)
        self.records.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.records.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.check_button = QPushButton("Check")
        self.remove_button = QPushButton("Remove…")
        self.check_result = QLabel()
        self.check_result.setWordWrap(True)
        self.check_result.setAccessibleName("Check result")
        self.forms: list[ProviderForm] = [cls() for cls in FORMS]
        self.tabs = QTabWidget()
        for form in self.forms:
            self.tabs.addTab(form, form.title)
            form.save_requested.connect(lambda f=form: self.save_form(f))
        self._build()
        self._connect()

    def _build(self) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("<b>Apps</b>"))
        left_layout.addWidget(self.app_list, 1)
        left_layout.addWidget(self.add_app)
        right = QWidget()
        layout = QVBoxLayout(right)
        layout.addWidget(self.identity)
        layout.addWidget(self.missing)
        layout.addWidget(self.records, 1)
        row = QHBoxLayout()
        row.addWidget(self.check_button)
        row.addWidget(self.remove_button)
        row.addWidget(self.check_result, 1)
        layout.addLayout(row)
        layout.addWidget(QLabel("<b>Add or replace a credential</b>"))
        layout.addWidget(self.tabs, 2)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([220, 900])
        outer = QVBoxLayout(self)
        outer.addWidget(QLabel("<h2>Apps &amp; credentials</h2>"))
        outer.addWidget(self.banner)
        outer.addWidget(splitter, 1)

    def _connect(self) -> None:
        self.add_app.clicked.connect(self._on_add_app_clicked)
        self.app_list.currentTextChanged.connect(self._show_app)
        self.check_button.clicked.connect(self.check_selected)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self._checking_now = False  # one check at a time: Check stays off while one runs
        follow_selection(self.records, [self.remove_button])
        self._follow_check = follow_selection(
            self.records, [self.check_button], lambda: not self._checking_now
        )
        fcm = next(f for f in self.forms if isinstance(f, FcmForm))
        fcm.inspect_requested.connect(self._on_fcm_inspect_requested)
        self.runner.workspace_changed.connect(self._on_workspace_changed)
        self.runner.workspace_opened.connect(self._on_workspace_opened)

    def _on_workspace_opened(self, _target: object) -> None:
        # A check asked for the last workspace may have been dropped by the runner (it
        # never answers): Check works again here.
        self._checking_now = False
        self._follow_check()

    def _on_workspace_changed(self, areas: frozenset[str]) -> None:
        if "apps" in areas:  # an app or credential added, replaced or checked elsewhere
            self.reload()

    # --- loading -------------------------------------------------------------------------------

    def reload(self, select: str = "") -> None:
        def job(ctx: WorkerContext) -> Any:
            from pushdeck.core.credentials.forms import overview

            return overview(ctx.require_ws())

        current = select or self.current_app()
        self.runner.run(
            job, lambda r: self._on_runner_loaded(r, current), lambda e: show_error(self, e)
        )

    def _on_runner_loaded(self, result: tuple[list[AppCredentials], str, str], select: str) -> None:
        apps, backend, problem = result
        self.apps = {a.name: a for a in apps}
        self.banner.setText(f"<b>No usable keyring.</b> {problem}")
        self.banner.setVisible(bool(problem))
        self.keyring_changed.emit(f"Keyring: {backend}")
        self.app_list.blockSignals(True)
        self.app_list.clear()
        self.app_list.addItems(list(self.apps))
        self.app_list.blockSignals(False)
        names = list(self.apps)
        if names:
            self.app_list.setCurrentRow(names.index(select) if select in names else 0)
        self._show_app(self.current_app())
        self.loaded.emit()

    def current_app(self) -> str:
        item = self.app_list.currentItem()
        return item.text() if item else ""

    def _show_app(self, name: str) -> None:
        app = self.apps.get(name)
        for form in self.forms:
            form.save.setEnabled(app is not None)
        self.missing.setText("<br>".join(html.escape(m) for m in app.missing_here) if app else "")
        self.missing.setVisible(bool(app and app.missing_here))
        if app is None:
            self.identity.setText("Add an app first: credentials and devices belong to one.")
            self.records.setRowCount(0)
            return
        ids = [f"APNs topic {app.apns_topic}" if app.apns_topic else "",
               f"Android package {app.android_package}" if app.android_package else "",
               f"web origin {app.web_origin}" if app.web_origin else ""]  # fmt: skip
        self.identity.setText(
            f"<h3>{app.name}</h3>{' · '.join(i for i in ids if i) or 'No identities.'}"
        )
        self.records.setRowCount(len(app.records))
        for r, record in enumerate(app.records):
            cells = [
                record.provider.value,
                record.kind,
                _facts(record),
                record.endpoint or "default",
            ]
            for c, value in enumerate(cells):
                self.records.setItem(r, c, QTableWidgetItem(value))
        self.records.resizeColumnsToContents()
        if app.records:
            self.records.selectRow(0)
        web = next((r for r in app.records if r.provider is ProviderKind.WEBPUSH), None)
        if web is not None:
            next(f for f in self.forms if isinstance(f, WebPushForm)).show_public_key(
                str(web.facts.get("public_key", ""))
            )
        if name != self._shown_app:  # another app; a reload of this one keeps the answer
            self.check_result.setText("")
        self._shown_app = name

    def _on_add_app_clicked(self) -> None:
        dialog = AppDialog(self.runner, self)
        dialog.added.connect(lambda name: self.reload(select=name))
        dialog.open()

    # --- saving --------------------------------------------------------------------------------

    def save_form(self, form: ProviderForm) -> None:
        app = self.current_app()
        if not app:
            return
        form.clear_errors()
        self.runner.run(
            form.job(app),
            lambda saved: self._on_runner_saved(form, saved),
            lambda exc: self._on_runner_save_failed(form, exc),
        )

    def _on_runner_saved(self, form: ProviderForm, saved: Saved) -> None:
        form.forget_secrets()
        warnings = " ".join(saved.warnings)
        form.result.setText(f"Saved; the secret is in the keyring. {warnings}".strip())
        expires = saved.record.facts.get("expires")
        if expires and hasattr(form, "expiry"):
            form.expiry.setText(f"Expires on {format_date(str(expires))}.")
        self.reload(select=saved.record.app)
        self.saved.emit(saved)

    def _on_runner_save_failed(self, form: ProviderForm, exc: BaseException) -> None:
        if isinstance(exc, ValidationError):
            if exc.field == "keyring":  # the banner says what to do, once
                self.banner.setText(f"<b>No usable keyring.</b> {exc.hint}")
                self.banner.setVisible(True)
                form.show_problem("", f"Not saved: {exc.message} (see above).")
                return
            form.show_problem(exc.field, describe(exc))
        else:
            form.show_problem("", describe(exc))

    def _on_fcm_inspect_requested(self, path: str) -> None:
        form = next(f for f in self.forms if isinstance(f, FcmForm))
        if not path.endswith(".json"):
            return

        def job(_ctx: WorkerContext) -> dict[str, Any]:
            from pushdeck.core.credentials.forms import inspect_service_account

            return inspect_service_account(path)

        def failed(exc: BaseException) -> None:
            form.show_problem("file", describe(exc))

        form.clear_errors()
        self.runner.run(job, form.show_account, failed)

    # --- check and remove ----------------------------------------------------------------------

    def selected_provider(self) -> ProviderKind | None:
        rows = self.records.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.records.item(rows[0].row(), 0)
        return ProviderKind(item.text()) if item else None

    def check_selected(self) -> None:
        app, provider = self.current_app(), self.selected_provider()
        if not app or provider is None:
            return

        def job(ctx: WorkerContext) -> Any:
            from pushdeck.core.credentials.forms import load_for_check

            return load_for_check(ctx.require_ws(), app, provider)

        self.check_result.setText(f"Asking {provider.value}…")
        self._checking_now = True
        self._follow_check()
        self._checking = (app, provider)
        self.runner.run(job, self._on_runner_loaded_credential, self._on_check_failed)

    def _on_runner_loaded_credential(self, credential: Any) -> None:
        from pushdeck.core.credentials.forms import run_check

        self.loop.submit(run_check(credential), self._on_loop_checked, self._on_check_failed)

    def _on_loop_checked(self, result: CheckResult) -> None:
        self._checking_now = False
        self._follow_check()
        if result.ok:
            mark, color = "✔ Works", "#0a6b2d"
        elif result.conclusive:
            mark, color = "✘ Does not work", "#b00020"
        else:  # no network, DNS, TLS, provider down: nothing known about the credential
            mark, color = "⚠ Could not check", "#8a5300"
        # The summary and details may quote the provider's answer: text, never markup.
        details = f" — {html.escape(result.details)}" if result.details else ""
        self.check_result.setText(
            f"<span style='color:{color}'><b>{mark}:</b> {html.escape(result.summary)}"
            f"{details}</span>"
        )
        app, provider = self._checking

        def remember(ctx: WorkerContext) -> None:
            from pushdeck.core.credentials.forms import remember_check

            remember_check(ctx.require_ws(), app, provider, result)

        # Kept with the credential: sending warns when its last check failed.
        self.runner.run(
            remember, lambda _: self.checked.emit(result), lambda e: show_error(self, e)
        )

    def _on_check_failed(self, exc: BaseException) -> None:
        self._checking_now = False
        self._follow_check()
        self.check_result.setText(
            f"<span style='color:#b00020'>{html.escape(describe(exc))}</span>"
        )

    def _on_remove_clicked(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        app, provider = self.current_app(), self.selected_provider()
        if not app or provider is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove credential",
            f"Remove the {provider.value} credential of {app} (and its keyring secret)?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(app, provider)

    def remove(self, app: str, provider: ProviderKind) -> None:
        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.credentials.secrets import remove_credential

            remove_credential(ctx.require_ws(), app, provider)

        self.runner.run(job, lambda _: self.reload(select=app), lambda e: show_error(self, e))
