"""The PDF report read the way a reader's tools read it (pdftotext): no ligature glyphs,
headers repeated on every page a table runs onto, the user's date format, previews named
by variant and platform, and no pages left half empty by forced breaks (issue 15)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument

from pushdeck.app.dates import format_when
from pushdeck.app.reports.pdf import _table, _without_ligatures
from pushdeck.core.demo.workspace import create_demo

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler")


def pdf_pages(path: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    from PySide6.QtWidgets import QApplication

    from pushdeck.app.fonts import load_bundled_fonts
    from pushdeck.app.reports.export import export_pdf
    from pushdeck.core.campaigns.library import list_campaigns
    from pushdeck.core.reports.dashboard import dashboard_data
    from pushdeck.core.store import Workspace

    _app = QApplication.instance() or QApplication([])
    load_bundled_fonts()
    folder = tmp_path_factory.mktemp("pdf")
    with Workspace.open(create_demo(folder / "demo.pushdeck")) as ws:
        name = next(c.name for c in list_campaigns(ws) if c.started_at)
        data = dashboard_data(ws, name)
    path = folder / "report.pdf"
    export_pdf(data, path)
    return data, pdf_pages(path)


def test_text_has_no_ligature_glyphs_so_search_finds_words(report) -> None:
    _data, pages = report
    text = "\n".join(pages)
    assert not any(glyph in text for glyph in "ﬀﬁﬂﬃﬄ")
    assert "confirmed delivered" in text and "definition" in text and "difference" in text


def test_times_are_in_the_users_format(report) -> None:
    data, pages = report
    first = pages[0]
    assert format_when(data.campaign.started_at) in first
    assert data.campaign.started_at not in first  # no raw ISO text
    assert "T" not in first.split("Report generated")[1].split("\n")[0]


def test_previews_are_labelled_by_variant_and_platform(report) -> None:
    data, pages = report
    text = "\n".join(pages)
    for variant in data.campaign.spec.variants:
        assert f"Variant {variant.name}" in text
    assert "iOS banner" in text


def test_no_forced_half_empty_pages(report) -> None:
    _data, pages = report
    assert len(pages) <= 5  # it was 6: each section began a new page
    assert "In short" in pages[0] and "\nFunnel\n" in pages[0]  # the funnel follows on
    starts = [page.lstrip().splitlines()[0].strip() for page in pages[1:]]
    assert "Opens over time" not in starts and "Funnel" not in starts


def test_a_table_that_splits_repeats_its_header(qtbot, tmp_path: Path) -> None:
    from pushdeck.app.fonts import load_bundled_fonts, report_font

    load_bundled_fonts()
    rows = [[f"row {i}", f"value {i}"] for i in range(150)]
    path = tmp_path / "t.pdf"
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    writer.setResolution(200)
    document = QTextDocument()
    document.setDefaultFont(_without_ligatures(report_font(10)))
    document.setHtml(_table(("field name", "field value"), rows))
    document.print_(writer)
    pages = pdf_pages(path)
    assert len(pages) >= 2
    for page in pages:
        assert page.lstrip().startswith("field name"), page[:80]
