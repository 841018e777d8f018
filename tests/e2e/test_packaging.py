"""Packaging: the self-test in-process (fast), and the packaging files' consistency.

The frozen bundle itself is built and self-tested by ``packaging/build_linux.sh``
(minutes, so it runs as its own CI step, not here).
"""

from __future__ import annotations

import configparser
import io
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.pushdeck.Pushdeck"


def test_self_test_passes_in_process(qapp, tmp_path) -> None:
    from pushdeck.selftest import run_self_test

    out = io.StringIO()
    code = run_self_test(out, devices=40, keep=tmp_path)
    text = out.getvalue()
    assert code == 0, text
    for step in (
        "Qt starts",
        "bundled preview fonts",
        "demo workspace (no keyring)",
        "main window opens the demo",
        "every preview state renders",
        "demo campaign sent through the sandbox",
        "campaign report written",
    ):
        assert re.search(rf"^✓ {re.escape(step)}", text, re.M), text
    assert "self-test passed: 7 passed, 0 failed" in text
    assert "charts: Funnel" in text  # pyqtgraph and numpy really drew the report chart
    from pushdeck.selftest import SELF_TEST_CAMPAIGN

    assert SELF_TEST_CAMPAIGN in (tmp_path / "self-test-report.html").read_text(encoding="utf-8")
    assert (tmp_path / "self-test-report.csv").read_text().startswith("dimension")
    assert (tmp_path / "window.png").stat().st_size > 0


def test_a_failing_step_fails_the_run_and_later_steps_are_not_attempted() -> None:
    from pushdeck.selftest import _Run

    run = _Run(io.StringIO())
    assert run.step("fine", lambda: "ok")
    assert not run.step("broken", lambda: 1 / 0)
    assert not run.passed
    assert "✗ broken — ZeroDivisionError" in run.out.getvalue()


def test_a_skipped_step_does_not_fail_the_run() -> None:
    from pushdeck.selftest import SkipStep, _Run

    def missing() -> str:
        raise SkipStep("not present")

    run = _Run(io.StringIO())
    assert run.step("optional part", missing)
    assert run.passed
    assert "– optional part — skipped: not present" in run.out.getvalue()


def test_marks_fall_back_to_ascii_on_consoles_without_them() -> None:
    from pushdeck.selftest import _marks

    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    assert _marks(ascii_out)["pass"] == "[ok]"


def test_no_keyring_blocks_secrets_and_restores_the_backend() -> None:
    import keyring
    import keyring.core
    from keyring.errors import NoKeyringError

    from pushdeck.selftest import no_keyring

    before = getattr(keyring.core, "_keyring_backend", None)
    with no_keyring():
        with pytest.raises(NoKeyringError):
            keyring.get_password("pushdeck-selftest", "nobody")
    assert getattr(keyring.core, "_keyring_backend", None) is before


def test_cli_self_test_flag_runs_the_self_test(monkeypatch) -> None:
    import pushdeck.selftest
    from pushdeck.cli import main

    calls: list[int] = []
    monkeypatch.setattr(pushdeck.selftest, "main", lambda: calls.append(1) or 0)
    assert main(["--self-test"]) == 0
    assert calls == [1]


# --- packaging files ---------------------------------------------------------------------------


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_desktop_entry_has_the_required_keys() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / "linux" / f"{APP_ID}.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"].startswith("pushdeck")
    assert section["Icon"] == APP_ID
    assert section["Categories"].endswith(";")


def test_metainfo_names_the_desktop_entry_and_the_current_release() -> None:
    tree = ET.parse(PACKAGING / "linux" / f"{APP_ID}.metainfo.xml")
    root = tree.getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"
    versions = [r.get("version") for r in root.iter("release")]
    assert versions and versions[0] == _project_version()


def test_icon_set_is_complete() -> None:
    icons = ROOT / "src" / "pushdeck" / "resources" / "icons" / "app"
    assert (icons / "pushdeck.svg").is_file()
    for size in (16, 32, 48, 64, 128, 256, 512, 1024):
        png = icons / f"pushdeck-{size}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert int.from_bytes(png.read_bytes()[16:20], "big") == size
    assert (icons / "pushdeck.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (icons / "pushdeck.icns").read_bytes()[:4] == b"icns"


def test_spec_hidden_imports_name_real_modules() -> None:
    import importlib.util

    spec_text = (PACKAGING / "pushdeck.spec").read_text()
    for module in re.findall(r'"(pushdeck\.core\.providers\.\w+)"', spec_text):
        assert importlib.util.find_spec(module) is not None, module
