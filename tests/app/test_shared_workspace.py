"""File › Open shared workspace…: the connection form on a real PostgreSQL server.

Test connection answers off the UI thread in plain words; an empty database is offered
to be created; the window and status bar name the shared workspace; the password goes to
the (real) keyring and never to the settings files; reopening the recent workspace takes
it from the keyring; and a change made by another process (the CLI) shows up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pushdeck.app import shared_workspace as form_module
from pushdeck.app.main import build_window
from pushdeck.app.main_window import MainWindow
from pushdeck.app.shared_workspace import SharedWorkspaceDialog, build_uri, parse_uri
from pushdeck.app.workspace_target import SharedWorkspace
from pushdeck.core.common.errors import KeyringUnavailableError
from pushdeck.core.credentials import secrets
from pushdeck.core.credentials.workspace_passwords import forget_password, stored_password
from pushdeck.core.store.pg_probe import Outcome
from tests.pg_fixtures import PgServer


@pytest.fixture
def real_keyring() -> None:
    try:
        secrets.keyring_backend()
    except KeyringUnavailableError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Secret Service here; run through scripts/test")


def _dbname(uri: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(uri).path.lstrip("/")


def _window(qtbot, tmp_path: Path) -> MainWindow:
    window = build_window(None, config_dir=tmp_path / "cfg", demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(window)
    window.show()
    return window


def _form(window: MainWindow) -> SharedWorkspaceDialog:
    window.open_shared_dialog()
    dialog = window.last_dialog
    assert isinstance(dialog, SharedWorkspaceDialog)
    return dialog


def _fill(dialog: SharedWorkspaceDialog, server: PgServer, dbname: str, password: str) -> None:
    dialog.host.setText(server.socket_dir)
    dialog.database.setText(dbname)
    dialog.user.setText(server.user)
    dialog.password.setText(password)


def _test(qtbot, dialog: SharedWorkspaceDialog):
    with qtbot.wait_signal(dialog.tested, timeout=15_000) as tested:
        dialog.test_button.click()
    return tested.args[0]


def _opened(qtbot, window: MainWindow) -> None:
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    _no_error_shown()


def _no_error_shown() -> None:
    """No page's job failed on PostgreSQL (each would show an error or crash dialog)."""
    from pushdeck.app import errors

    box = errors.GATE.box
    details = getattr(box, "details", None)
    assert box is None, details.toPlainText() if details is not None else box.text()


@pytest.mark.parametrize(
    ("fields", "uri"),
    [
        ({"host": "db.example.com", "port": 5433, "database": "team", "user": "ana",
          "sslmode": "verify-full"},
         "postgresql://ana@db.example.com:5433/team?sslmode=verify-full"),
        ({"host": "/run/postgresql", "port": 5432, "database": "team", "user": "ana",
          "sslmode": "prefer"},
         "postgresql://ana@/team?host=/run/postgresql"),
        ({"host": "::1", "port": 5432, "database": "té am", "user": "", "sslmode": "require"},
         "postgresql://[::1]/t%C3%A9%20am?sslmode=require"),
    ],
)  # fmt: skip
def test_the_form_makes_a_uri_without_the_password_and_reads_it_back(fields, uri):
    assert build_uri(**fields) == uri
    back = parse_uri(uri)
    assert back["database"] == fields["database"] and back["sslmode"] == fields["sslmode"]
    assert back["port"] == fields["port"] and back["user"] == fields["user"]
    assert str(back["host"]).strip("[]") == fields["host"]


def test_create_open_remember_and_reopen_from_the_keyring(
    qtbot, tmp_path: Path, pg_server: PgServer, pg_database: str, real_keyring, monkeypatch
):
    threads: list[threading.Thread] = []
    real_probe = form_module.probe

    def probe_and_note_thread(uri: str):
        threads.append(threading.current_thread())
        return real_probe(uri)

    monkeypatch.setattr(form_module, "probe", probe_and_note_thread)
    dbname = _dbname(pg_database)
    window = _window(qtbot, tmp_path)
    assert window.welcome.shared_button.isVisible()
    assert window.open_shared_action.text() == "Open s&hared workspace…"
    dialog = _form(window)
    _fill(dialog, pg_server, dbname, pg_server.password)

    answer = _test(qtbot, dialog)
    assert answer.outcome is Outcome.EMPTY
    assert threads and threads[0] is not threading.main_thread()  # never on the UI thread
    assert "not a Pushdeck workspace yet" in dialog.status.text()
    assert dialog.create_button.isVisibleTo(dialog) and not dialog.open_button.isEnabled()
    dialog.create_button.click()
    _opened(qtbot, window)

    assert window.windowTitle() == f"{dbname} on this machine (shared) — Pushdeck"
    assert window.workspace_label.text() == f"Shared: {dbname} on this machine · 0 devices"
    assert pg_server.password not in window.workspace_label.toolTip()
    assert window.workspace_label.toolTip().startswith(f"postgresql://{pg_server.user}@/")
    ref = stored = stored_password(
        f"postgresql://{pg_server.user}@/{dbname}?host={pg_server.socket_dir}"
    )
    assert stored == pg_server.password  # in the keyring
    window.close()  # saves the settings and the window state
    settings = (tmp_path / "cfg" / "app-settings.json").read_text(encoding="utf-8")
    ini = (tmp_path / "cfg" / "window.ini").read_text(encoding="utf-8")
    assert pg_server.password not in settings and pg_server.password not in ini
    doc = json.loads(settings)
    bare = f"postgresql://{pg_server.user}@/{dbname}?host={pg_server.socket_dir}"
    assert doc["recent_workspaces"][0] == bare and doc["last_workspace"] == bare
    assert doc["shared_keyring"] == {bare: bare}
    del ref

    # Next start: the last workspace reopens, its password from the keyring.
    again = _window(qtbot, tmp_path)
    _opened(qtbot, again)
    assert again.workspace_label.text().startswith(f"Shared: {dbname} on this machine")
    assert isinstance(again.runner.workspace_path, SharedWorkspace)
    # And with the password gone from the keyring, the form asks for it, filled in.
    forget_password(bare)
    again.open_recent(bare)
    qtbot.wait_until(
        lambda: isinstance(getattr(again, "last_dialog", None), SharedWorkspaceDialog),
        timeout=20_000,
    )
    form = again.last_dialog
    assert form.database.text() == dbname and form.user.text() == pg_server.user
    assert form.password.text() == ""
    assert "password" in form.status.text().lower()
    form.close()
    _no_error_shown()
    again.close()


@pytest.mark.parametrize("problem", ["password", "database", "server", "newer"])
def test_test_connection_answers_in_plain_words(
    qtbot, tmp_path: Path, pg_server: PgServer, pg_database: str, problem: str
):
    window = _window(qtbot, tmp_path)
    dialog = _form(window)
    dbname, password = _dbname(pg_database), pg_server.password
    if problem == "password":
        password = "wrong-Passw0rd"
    elif problem == "database":
        dbname = "pushdeck_test_missing"
    elif problem == "newer":
        from pushdeck.core.store import Workspace

        with Workspace.open(pg_database) as ws, ws.transaction() as conn:
            conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    _fill(dialog, pg_server, dbname, password)
    if problem == "server":
        dialog.host.setText(str(tmp_path))  # a folder with no server's socket in it
    answer = _test(qtbot, dialog)
    text = dialog.status.text()
    expected = {
        "password": (Outcome.PASSWORD, "refused the password"),
        "database": (Outcome.NO_DATABASE, "no database of that name"),
        "server": (Outcome.UNREACHABLE, "No PostgreSQL server answered"),
        "newer": (Outcome.NEWER, "newer Pushdeck"),
    }[problem]
    assert answer.outcome is expected[0]
    assert expected[1] in text
    assert password not in text and pg_server.password not in text
    assert not dialog.create_button.isVisibleTo(dialog)
    assert dialog.open_button.isEnabled() == (problem != "newer")
    dialog.close()
    window.close()


def test_the_window_notices_a_change_made_by_the_cli(
    qtbot, tmp_path: Path, pg_server: PgServer, pg_database: str
):
    """Another process (the CLI) imports devices into the shared workspace; the window,
    open on it, recounts without being told (the change watcher polls PostgreSQL)."""
    window = _window(qtbot, tmp_path)
    window.open_workspace(SharedWorkspace.from_uri(pg_database, create=True))
    _opened(qtbot, window)
    assert window.workspace_label.text().endswith("· 0 devices")
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "token,platform,provider\n" + "".join(f"{i:064x},ios,apns\n" for i in range(1, 8)),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "PUSHDECK_WORKSPACE"}
    for args in (["apps", "add", "shop", "--topic", "com.example.shop"],
                 ["devices", "import", str(csv), "--app", "shop"]):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "pushdeck", "--workspace", pg_database, *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    qtbot.wait_until(lambda: window.workspace_label.text().endswith("· 7 devices"), timeout=15_000)
    qtbot.wait_until(lambda: list(window.composer._apps) == ["shop"], timeout=15_000)
    # Every page on the shared workspace, with the CLI's app and devices in it.
    from pushdeck.app.main_window import PAGES

    for index in range(len(PAGES)):
        window.go_to(index)
        qtbot.wait(300)
        qtbot.wait_until(lambda: window.runner.pending == 0, timeout=15_000)
    window.audience.setCurrentWidget(window.audience.segments)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=15_000)
    qtbot.wait_until(lambda: window.audience.devices.model.total == 7, timeout=15_000)
    _no_error_shown()
    window.close()


def test_a_shared_workspace_never_shows_its_password():
    target = SharedWorkspace.from_uri("postgresql://ana:pa%40ss@db.example.com:5433/team")
    assert target.uri == "postgresql://ana@db.example.com:5433/team"
    assert target.password == "pa@ss" and "pa@ss" in target.live_uri.replace("%40", "@")
    assert target.title == "team on db.example.com:5433"
    for shown in (str(target), repr(target), target.title):
        assert "pa@ss" not in shown and "pa%40ss" not in shown


def test_no_usable_keyring_means_the_password_is_not_kept_and_the_app_says_so(
    qtbot, tmp_path: Path, pg_server: PgServer, pg_database: str, monkeypatch
):
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    plain = PlaintextKeyring()
    plain.file_path = str(tmp_path / "plain-keyring.cfg")  # type: ignore[misc]
    previous = keyring.get_keyring()
    keyring.set_keyring(plain)  # only a plain-text file: refused unless chosen explicitly
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    try:
        window = _window(qtbot, tmp_path)
        dialog = _form(window)
        _fill(dialog, pg_server, _dbname(pg_database), pg_server.password)
        assert dialog.remember.isChecked()
        dialog._request(create=True)
        _opened(qtbot, window)
        qtbot.wait_until(
            lambda: "password was not remembered" in window.statusBar().currentMessage(),
            timeout=10_000,
        )
        keyring_file = tmp_path / "plain-keyring.cfg"
        assert not keyring_file.exists() or pg_server.password not in keyring_file.read_text()
        window.close()
        for name in ("app-settings.json", "window.ini"):
            assert pg_server.password not in (tmp_path / "cfg" / name).read_text(encoding="utf-8")
    finally:
        keyring.set_keyring(previous)


def test_unticking_remember_keeps_the_password_out_of_the_keyring(
    qtbot, tmp_path: Path, pg_server: PgServer, pg_database: str, real_keyring
):
    window = _window(qtbot, tmp_path)
    dialog = _form(window)
    _fill(dialog, pg_server, _dbname(pg_database), pg_server.password)
    dialog.remember.setChecked(False)
    dialog._request(create=True)
    _opened(qtbot, window)
    bare = f"postgresql://{pg_server.user}@/{_dbname(pg_database)}?host={pg_server.socket_dir}"
    assert stored_password(bare) is None
    window.close()


def test_closing_the_form_while_it_asks_the_server_is_harmless(
    qtbot, tmp_path: Path, pg_server: PgServer, pg_database: str, monkeypatch
):
    import time

    real_probe = form_module.probe
    answered = threading.Event()

    def slow_probe(uri: str):
        time.sleep(0.5)  # the server takes its time; the user closes the form meanwhile
        try:
            return real_probe(uri)
        finally:
            answered.set()

    monkeypatch.setattr(form_module, "probe", slow_probe)
    window = _window(qtbot, tmp_path)
    dialog = _form(window)
    _fill(dialog, pg_server, _dbname(pg_database), pg_server.password)
    dialog.test_button.click()
    dialog.close()  # deleted on close
    qtbot.wait_until(answered.is_set, timeout=15_000)
    qtbot.wait(300)  # the answer's callback has run
    _no_error_shown()
    window.close()


def test_a_uri_from_the_command_line_opens_and_its_password_stays_in_memory(
    qtbot, tmp_path: Path, pg_database: str, pg_server: PgServer
):
    """``pushdeck --workspace postgresql://user:password@…`` (no command): the app opens it;
    the settings remember the address without the password (nothing goes to the keyring
    that the user did not ask for)."""
    from pushdeck.core.store import Workspace

    Workspace.open(pg_database).close()
    window = build_window(pg_database, config_dir=tmp_path / "cfg", demo_path=tmp_path / "d")
    qtbot.addWidget(window)
    window.show()
    _opened(qtbot, window)
    assert window.workspace_label.text().startswith("Shared: ")
    window.close()
    settings = (tmp_path / "cfg" / "app-settings.json").read_text(encoding="utf-8")
    assert pg_server.password not in settings
    assert json.loads(settings)["last_workspace"].startswith(f"postgresql://{pg_server.user}@/")
