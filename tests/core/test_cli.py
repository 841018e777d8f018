"""The scriptable CLI contract: exact forms, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pushdeck.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_foundation_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "w.pushdeck")
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "token,platform,locale,tags,attr.plan\n"
        + "".join(f"{i:064x},ios,pt-BR,vip,pro\n" for i in range(4))
        + "bad,ios,en,,\n"
    )
    assert (
        run(
            capsys,
            "--workspace",
            ws,
            "apps",
            "add",
            "shop",
            "--topic",
            "com.example.shop",
            "--android-package",
            "com.example.shop",
            "--web-origin",
            "https://shop.example",
        )[0]
        == 0
    )
    code, out, err = run(
        capsys,
        "--workspace",
        ws,
        "devices",
        "import",
        str(csv),
        "--app",
        "shop",
        "--report",
        str(tmp_path / "rej.csv"),
    )
    assert code == 0 and "4 added" in out and "1 rejected" in out and "line 6: token" in err
    assert (tmp_path / "rej.csv").read_text().count("\n") == 2
    assert (
        run(
            capsys,
            "--workspace",
            ws,
            "segments",
            "add",
            "pt-vip",
            "--rule",
            "locale ^= pt and tag has vip",
        )[0]
        == 0
    )
    code, out, _ = run(
        capsys, "--workspace", ws, "devices", "count", "--segment", "pt-vip", "--json"
    )
    assert code == 0 and json.loads(out)["count"] == 4
    code, out, _ = run(capsys, "--workspace", ws, "devices", "count")
    assert out.strip() == "4"
    code, out, _ = run(capsys, "--workspace", ws, "segments", "show", "pt-vip", "--json")
    assert json.loads(out)["count"] == 4


def test_errors_are_one_line_on_stderr_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.pushdeck")
    code, _out, err = run(capsys, "--workspace", ws, "devices", "import", "x.csv", "--app", "nope")
    assert code == 1 and "no app named 'nope'" in err and "Traceback" not in err
    code, _, err = run(capsys, "--workspace", ws, "segments", "add", "s", "--rule", "os = ios")
    assert code == 1 and "unknown field 'os'" in err
    bad = tmp_path / "bad.pushdeck"
    bad.write_text("not a database")
    code, _, err = run(capsys, "--workspace", str(bad), "devices", "count")
    assert code == 1 and "not an SQLite database" in err
    assert bad.read_text() == "not a database"


def test_python_dash_m_and_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--help"], capture_output=True, text=True, check=True
    )
    for verb in ("apps", "credentials", "devices", "segments", "demo"):
        assert verb in result.stdout


def test_demo_workspace_is_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo.pushdeck"
    assert run(capsys, "demo", str(path), "--devices", "500")[0] == 0
    code, out, _ = run(capsys, "--workspace", str(path), "segments", "list", "--json")
    segments = {s["name"]: s["count"] for s in json.loads(out)}
    assert segments["Test devices"] == 5 and segments["iOS users"] > 100
    code, _, err = run(capsys, "demo", str(path))
    assert code == 1 and "already exists" in err
