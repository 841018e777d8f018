"""``pushdeck report`` end to end, headless: PDF renders and holds the numbers, HTML is one
self-contained file, CSV has the aggregates and hashed per-device rows."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.demo.workspace import create_demo

# CI installs poppler-utils (scripts/setup); only a bare developer machine may skip.
pytestmark = pytest.mark.skipif(
    not os.environ.get("CI")
    and (shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None),
    reason="poppler-utils not installed",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo(tmp_path_factory.mktemp("cli") / "demo.pushdeck")


def pushdeck(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)  # the command must choose offscreen by itself
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(workspace), "report", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def aggregates(demo: Path) -> dict[str, str]:
    result = pushdeck(demo, DEMO_CAMPAIGN, "--format", "csv", "-o", "-")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["dimension"] for r in rows} == {"overall", "platform", "locale", "variant"}
    return rows[0]


def test_pdf_renders_and_holds_the_report(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = pushdeck(demo, DEMO_CAMPAIGN, "--format", "pdf", "-o", str(out))
    assert result.returncode == 0, result.stderr
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 4 and all(p.stat().st_size > 1000 for p in pages)
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    overall = aggregates(demo)
    for expected in (
        DEMO_CAMPAIGN,
        "Targeted",
        "Accepted",
        "Delivered",
        "Opened",
        "Not proof of delivery",
        "The message as sent",
        "everything until Sunday.",  # ("off" is set with an ff ligature)
        "Last chance",
        f"{int(overall['targeted']):,}",
        f"{int(overall['accepted']):,}",
        f"{int(overall['opened']):,}",
        f"{float(overall['open_rate_of_accepted']) * 100:.1f} % of accepted",
    ):
        assert expected in text, expected


def test_html_is_one_file_with_embedded_images(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = pushdeck(demo, DEMO_CAMPAIGN, "--format", "html", "-o", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    sources = re.findall(r"src='([^']*)'", page)
    assert len(sources) >= 5  # four charts and the preview
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in page and "<script" not in page
    assert list(tmp_path.iterdir()) == [out]


def test_png_and_csv_rows(demo: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    assert pushdeck(demo, DEMO_CAMPAIGN, "--format", "png", "-o", str(png)).returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    overall = aggregates(demo)
    assert int(overall["accepted"]) + int(overall["rejected"]) + int(overall["dead"]) == int(
        overall["sent"]
    )
    rows_file = tmp_path / "devices.csv"
    result = pushdeck(demo, DEMO_CAMPAIGN, "--format", "csv", "--per-device", "-o", str(rows_file))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(rows_file.open(encoding="utf-8")))
    assert len(rows) == int(overall["targeted"])
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["device"]) for r in rows)
    assert sum(1 for r in rows if r["opened_at"]) == int(overall["opened"])


def test_unknown_campaign_is_a_clear_error_and_writes_nothing(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    result = pushdeck(demo, "no such campaign", "--format", "pdf", "-o", str(out))
    assert result.returncode == 1
    assert "no campaign named 'no such campaign'" in result.stderr
    assert not out.exists()
