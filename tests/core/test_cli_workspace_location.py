"""``--workspace`` / ``PUSHDECK_WORKSPACE`` given a URI: PostgreSQL goes to the server
(here none is listening: one clear error naming the URI without its password), another
scheme is one clear refusal, exit code 2; nothing is created on disk either way.

Before: ``--workspace postgresql://u:p@localhost/db devices list`` silently made a SQLite
file at ``./postgresql:/u:p@localhost/db`` and listed its (no) devices.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "s3cret-Passw0rd"
PG_URI = f"postgresql://pushdeck:{PASSWORD}@localhost/team"


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def run(tmp_path: Path, *args: str, env_workspace: str | None = None) -> tuple[int, str, str]:
    """The real command in its own process, from an empty folder, with a private HOME,
    data folder and TMPDIR under ``tmp_path``; asserts it created nothing in any of them."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PUSHDECK_WORKSPACE"}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        TMPDIR=str(home),
    )
    if env_workspace is not None:
        env["PUSHDECK_WORKSPACE"] = env_workspace
    before = _files(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert _files(tmp_path) == before, "the command created files"
    return done.returncode, done.stdout, done.stderr


def assert_one_clear_line(code: int, stdout: str, stderr: str) -> str:
    assert code == 2, (code, stdout, stderr)
    assert stdout == ""
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("pushdeck: ")
    assert PASSWORD not in stderr
    return stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--workspace", PG_URI, "devices", "list"),
        ("devices", "list", "--workspace", PG_URI),
        ("--workspace", PG_URI.replace("postgresql:", "postgres:"), "apps", "add", "shop"),
        ("--workspace", PG_URI.replace("postgresql:", "PostgreSQL:"), "devices", "list"),
    ],
    ids=["before-command", "after-command", "postgres-scheme", "upper-case"],
)
def test_a_postgresql_workspace_goes_to_the_server(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, stdout, stderr = run(tmp_path, *args)  # no server listens on localhost:5432
    assert code == 1 and stdout == "" and "Traceback" not in stderr, (code, stderr)
    assert stderr.startswith("pushdeck: Cannot open the workspace postgres")
    assert "pushdeck:***@localhost/team" in stderr  # which one, password hidden
    assert PASSWORD not in stderr
    assert "server is running" in stderr  # what to do


def test_a_postgresql_workspace_from_the_environment_goes_to_the_server(tmp_path: Path) -> None:
    code, _, stderr = run(tmp_path, "devices", "list", env_workspace=PG_URI)
    assert code == 1 and "pushdeck:***@localhost/team" in stderr
    assert PASSWORD not in stderr


@pytest.mark.parametrize(
    "value",
    [
        "ftp://x",
        "http://x",
        f"https://admin:{PASSWORD}@example.com/w.pushdeck",
        "sqlite:///w.pushdeck",
        "file:///srv/team.pushdeck",
        "file:team.pushdeck",
    ],
)
def test_another_uri_is_refused_naming_the_accepted_forms(tmp_path: Path, value: str) -> None:
    message = assert_one_clear_line(*run(tmp_path, "--workspace", value, "devices", "list"))
    assert "postgresql://" in message
    assert "file path" in message or "the path itself (/srv/team.pushdeck)" in message


def test_another_uri_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    message = assert_one_clear_line(*run(tmp_path, "apps", "list", env_workspace="ftp://x"))
    assert "PUSHDECK_WORKSPACE=ftp://x" in message


def test_a_libpq_keyword_string_is_refused_with_the_uri_to_write(tmp_path: Path) -> None:
    value = f"host=db.internal dbname=team password={PASSWORD}"
    message = assert_one_clear_line(*run(tmp_path, "--workspace", value, "devices", "list"))
    assert "postgresql://USER@HOST:PORT/DBNAME" in message
    assert "password=***" in message


def test_a_path_still_makes_a_sqlite_workspace(tmp_path: Path) -> None:
    """The same folder-watching harness sees a real path create its file: the refusals
    above are not an artefact of the harness."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PUSHDECK_WORKSPACE"}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", "team.pushdeck", "devices", "list"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (cwd / "team.pushdeck").is_file()


def test_the_cli_works_on_a_postgresql_workspace(tmp_path: Path, pg_database: str) -> None:
    """apps, import, segments and counts through the real command, each its own process."""
    src = tmp_path / "d.csv"
    src.write_text(
        "token,platform,locale,tags\n"
        + "".join(f"{i:064x},ios,{'pt-BR' if i % 2 else 'en'},vip\n" for i in range(40))
    )

    def pushdeck(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pushdeck", "--workspace", pg_database, *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    pushdeck("apps", "add", "shop", "--topic", "com.example.shop")
    pushdeck("devices", "import", str(src), "--app", "shop")
    pushdeck("segments", "add", "pt", "--rule", "locale ^= pt and tag has vip")
    assert "20" in pushdeck("segments", "count", "pt")
    assert not list(tmp_path.glob("**/*.pushdeck"))  # nothing local was created
