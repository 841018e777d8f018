"""File › Open shared workspace…: the connection form for a workspace on PostgreSQL.

Host (or the folder of a Unix socket), port, database, user, password and SSL mode become
a libpq URI. "Test connection" asks the server on the network thread (``pg_probe`` in a
worker thread of the asyncio loop: the form never waits) and answers in plain words; an
empty database gets a "Create the workspace" button. The password goes only to this
machine's keyring (when "Remember" is on and the workspace opened), never to the settings.

Signals:
    open_requested(object): a ``SharedWorkspace`` to open (``create`` set to create it).
"""

from __future__ import annotations

import asyncio
import html
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.errors import describe
from pushdeck.app.workspace_target import SharedWorkspace
from pushdeck.core.store.pg_probe import Outcome, Probe, probe

DEFAULT_PORT = 5432
#: libpq's sslmode values, with what each means in one line.
SSL_MODES = {
    "disable": "No encryption. Only on a network you trust completely.",
    "allow": "Encrypt only if the server insists. Not recommended.",
    "prefer": "Encrypt when the server offers it; its certificate is not checked (default).",
    "require": "Always encrypt, but do not check who the server is (stops eavesdroppers only).",
    "verify-ca": "Always encrypt and check the server's certificate against your CA.",
    "verify-full": "Always encrypt and check the certificate and the host name (safest).",
}
DEFAULT_SSL_MODE = "prefer"
GOOD, BAD, NEUTRAL = "#0a6b2d", "#b00020", "#555555"


def build_uri(*, host: str, port: int, database: str, user: str, sslmode: str) -> str:
    """A libpq URI without a password; a ``host`` starting with "/" is a socket folder."""
    query: list[tuple[str, str]] = []
    userinfo = f"{quote(user, safe='')}@" if user else ""
    if host.startswith("/"):
        netloc = userinfo  # postgresql://user@/db?host=/folder
        query.append(("host", host))
        if port != DEFAULT_PORT:  # the socket file's name (.s.PGSQL.PORT)
            query.append(("port", str(port)))
    else:
        name = f"[{host}]" if ":" in host and not host.startswith("[") else host
        netloc = f"{userinfo}{name}" + (f":{port}" if host and port != DEFAULT_PORT else "")
        if not host and port != DEFAULT_PORT:
            query.append(("port", str(port)))
    if sslmode != DEFAULT_SSL_MODE:
        query.append(("sslmode", sslmode))
    text = f"postgresql://{netloc}/{quote(database, safe='')}"
    return f"{text}?{urlencode(query, safe='/')}" if query else text


def parse_uri(uri: str) -> dict[str, str | int]:
    """The form's fields from a URI (``build_uri``'s, or one the user gave)."""
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    host = query.get("host", "") or (parts.hostname or "")
    port = int(query.get("port") or parts.port or DEFAULT_PORT)
    return {
        "host": host,
        "port": port,
        "database": unquote(parts.path.lstrip("/")) or query.get("dbname", ""),
        "user": unquote(parts.username or "") or query.get("user", ""),
        "sslmode": query.get("sslmode", DEFAULT_SSL_MODE),
    }


async def _probe(uri: str) -> Probe:
    # libpq's connect blocks: a thread of its own, never the loop (sends run on it).
    return await asyncio.to_thread(probe, uri)


class SharedWorkspaceDialog(QDialog):
    """The connection form (see the module docstring)."""

    open_requested = Signal(object)
    tested = Signal(object)  # Probe (tests wait for it)

    def __init__(self, loop: AsyncLoop, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loop = loop
        self.last_probe: Probe | None = None
        self.setWindowTitle("Open a shared workspace")
        self.setAccessibleName("Open a shared workspace")
        self.host = QLineEdit()
        self.host.setPlaceholderText("db.example.com, or a socket folder: /var/run/postgresql")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.port.setGroupSeparatorShown(False)
        self.database = QLineEdit()
        self.database.setPlaceholderText("e.g. pushdeck_team")
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("kept in this machine's keyring")
        self.sslmode = QComboBox()
        self.sslmode.addItems(list(SSL_MODES))
        self.sslmode.setCurrentText(DEFAULT_SSL_MODE)
        self.ssl_help = QLabel()
        self.ssl_help.setWordWrap(True)
        self.ssl_help.setStyleSheet(f"color: {NEUTRAL}")
        self.remember = QCheckBox("Remember the password in this machine's keyring")
        self.remember.setChecked(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Connection test result")
        self.status.setMinimumHeight(40)
        self.test_button = QPushButton("Test connection")
        self.create_button = QPushButton("Create the workspace")
        self.create_button.setVisible(False)
        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        for edit, name in ((self.host, "Host or socket folder"), (self.database, "Database"),
                           (self.user, "User"), (self.password, "Password")):  # fmt: skip
            edit.setAccessibleName(name)
        self.port.setAccessibleName("Port")
        self.sslmode.setAccessibleName("SSL mode")
        self._build()
        self.test_button.clicked.connect(self.test_connection)
        self.create_button.clicked.connect(lambda: self._request(create=True))
        self.open_button.clicked.connect(lambda: self._request(create=False))
        self.cancel_button.clicked.connect(self.reject)
        self.sslmode.currentTextChanged.connect(self._on_sslmode_changed)
        for edit in (self.host, self.database, self.user, self.password):
            edit.textEdited.connect(self._on_field_edited)
        self.port.valueChanged.connect(self._on_field_edited)
        self._on_sslmode_changed(DEFAULT_SSL_MODE)
        self.setMinimumWidth(560)

    def _build(self) -> None:
        intro = QLabel(
            "A shared workspace lives in a PostgreSQL database, so that your team sees the "
            "same devices, segments, campaigns and reports. Credentials' secrets stay in each "
            "machine's keyring."
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Host:", self.host)
        form.addRow("Port:", self.port)
        form.addRow("Database:", self.database)
        form.addRow("User:", self.user)
        form.addRow("Password:", self.password)
        form.addRow("", self.remember)
        form.addRow("SSL mode:", self.sslmode)
        form.addRow("", self.ssl_help)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.create_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    # --- the URI -------------------------------------------------------------------------------

    def uri(self) -> str:
        """The URI the fields describe, without the password."""
        return build_uri(
            host=self.host.text().strip(),
            port=self.port.value(),
            database=self.database.text().strip(),
            user=self.user.text().strip(),
            sslmode=self.sslmode.currentText(),
        )

    def target(self, *, create: bool = False) -> SharedWorkspace:
        return SharedWorkspace(
            self.uri(), self.password.text(), create=create, remember=self.remember.isChecked()
        )

    def fill(self, target: SharedWorkspace, message: str = "") -> None:
        """Show ``target``'s fields (a recent workspace whose password is needed again)."""
        fields = parse_uri(target.uri)
        self.host.setText(str(fields["host"]))
        self.port.setValue(int(fields["port"]))
        self.database.setText(str(fields["database"]))
        self.user.setText(str(fields["user"]))
        self.sslmode.setCurrentText(str(fields["sslmode"]))
        self.password.setText(target.password)
        if message:
            self._say(message, BAD)
        self.password.setFocus()

    def _missing_field(self) -> str:
        if not self.database.text().strip():
            self.database.setFocus()
            return "Give the name of the database (ask your admin, or create one with createdb)."
        return ""

    # --- actions -------------------------------------------------------------------------------

    def test_connection(self) -> None:
        if problem := self._missing_field():
            self._say(problem, BAD)
            return
        self.test_button.setEnabled(False)
        self.create_button.setVisible(False)
        self._say("Connecting…", NEUTRAL)
        self.loop.submit(_probe(self.target().live_uri), self._on_loop_probed, self._on_failed)

    def _on_loop_probed(self, result: Probe) -> None:
        if not shiboken6.isValid(self):
            return  # closed while the server was asked: nobody to tell
        self.last_probe = result
        self.test_button.setEnabled(True)
        empty = result.outcome is Outcome.EMPTY
        self.create_button.setVisible(empty)
        # Newer: this Pushdeck cannot open it. Empty: "Create the workspace" is the way in.
        self.open_button.setEnabled(result.outcome not in (Outcome.NEWER, Outcome.EMPTY))
        mark = "✔ " if result.ok or empty else "✘ "
        self._say(mark + result.message, GOOD if result.ok or empty else BAD)
        if empty:
            self.create_button.setDefault(True)
        self.tested.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.test_button.setEnabled(True)
        self._say(describe(exc), BAD)

    def _request(self, *, create: bool) -> None:
        if problem := self._missing_field():
            self._say(problem, BAD)
            return
        self.open_requested.emit(self.target(create=create))
        self.accept()

    def _on_sslmode_changed(self, mode: str) -> None:
        self.ssl_help.setText(SSL_MODES.get(mode, ""))

    def _on_field_edited(self, *_args: object) -> None:
        # An answer about other fields would mislead: forget it.
        self.last_probe = None
        self.create_button.setVisible(False)
        self.open_button.setEnabled(True)
        self.open_button.setDefault(True)
        self._say("", NEUTRAL)

    def _say(self, text: str, color: str) -> None:
        self.status.setText(f"<span style='color:{color}'>{html.escape(text)}</span>")
