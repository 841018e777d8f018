"""Report charts fit their size (issue 15): labels never overlap or get cut off, and a
chart with nothing to show says so instead of drawing axes from 0 to 1."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QFontMetrics

from pushdeck.app.reports.charts import FunnelChart, GroupChart, TrendChart
from pushdeck.core.reports.analytics import FunnelRow
from pushdeck.core.reports.dashboard import stages
from pushdeck.core.reports.data import AbResult, VariantStat

LOCALES = ["en-US", "pt-BR", "de-DE", "fr-FR", "es-ES", "it-IT", "ja-JP", "zh-Hans-CN",
           "ko-KR", "nl-NL", "sv-SE", "pl-PL", "tr-TR", "ru-RU", "ar-SA", "he-IL", ""]  # fmt: skip


def row(group: str, accepted: int, opened: int) -> FunnelRow:
    return FunnelRow(group, accepted + 5, 0, 0, 0, 0, 0, accepted + 2, accepted, 0, 0,
                     max(accepted - 3, 0), opened, 0, 0)  # fmt: skip


def _drawn_labels_fit(chart) -> None:
    """Every drawn category label is narrower than the distance to the next drawn one."""
    axis = chart.getAxis("bottom")
    metrics = QFontMetrics(axis.style.get("tickFont") or chart.font())
    view = chart.getPlotItem().vb
    (x0, x1), _ = view.viewRange()
    px_per_unit = view.width() / (x1 - x0)
    drawn = [(x, label) for x, label in axis._tickLevels[0] if label]
    assert drawn
    for (xa, a), (xb, b) in itertools.pairwise(drawn):
        gap = (xb - xa) * px_per_unit
        assert (metrics.horizontalAdvance(a) + metrics.horizontalAdvance(b)) / 2 < gap, (a, b)


@pytest.mark.parametrize("width", [360, 520, 900])
def test_many_locale_labels_are_thinned_to_fit(qtbot, width) -> None:
    chart = GroupChart("By locale")
    qtbot.addWidget(chart)
    chart.set_rows([row(name, 100 + i, 10 + i) for i, name in enumerate(LOCALES)])
    chart.to_image(QSize(width, 260))
    _drawn_labels_fit(chart)
    assert chart.hover_text_at(7).startswith("zh-Hans-CN")  # a thinned label still hovers


def test_a_long_title_wraps_instead_of_pushing_the_plot_out_of_view(qtbot) -> None:
    chart = FunnelChart()
    qtbot.addWidget(chart)
    chart.set_stages(stages(row("", 2875, 812)))
    chart.to_image(QSize(420, 260))
    assert chart.getPlotItem().geometry().width() <= 420  # it was 488: the right bar cut off
    assert "<br>" in chart.getPlotItem().titleLabel.text
    _drawn_labels_fit(chart)
    for label in chart._labels[1:]:  # "2,877" / "99.9 %" / "of targeted": one line each
        lines = label.textItem.toPlainText().replace("\u2028", "\n").splitlines()
        assert len(lines) == 3 and lines[2].startswith("of "), lines


@pytest.mark.parametrize(
    ("rows", "ab", "says"),
    [
        ([], None, "Nothing sent yet."),
        ([row("A", 0, 0), row("B", 0, 0)], None, "Nothing accepted yet"),
        (
            [row("A", 0, 0), row("B", 0, 0)],
            AbResult(
                (VariantStat("A", 0, 0, None, None), VariantStat("B", 0, 0, None, None)),
                None,
                None,
                None,
                False,
                False,
                "Not enough data.",
            ),
            "Nothing accepted yet",
        ),
    ],
)
def test_empty_group_charts_render_an_empty_state(qtbot, rows, ab, says) -> None:
    chart = GroupChart("By variant")
    qtbot.addWidget(chart)
    chart.set_rows([row("A", 50, 5)])  # had data, then a campaign with none is picked
    chart.show()
    chart.set_rows(rows, ab)
    qtbot.wait(10)
    assert chart.empty_text().startswith(says)
    assert not chart.getAxis("left").style["showValues"]  # no 0..1 scale
    assert not chart.to_image(QSize(400, 240)).isNull()
    assert chart.grab().width() > 0


def test_the_reports_page_leaves_empty_group_charts_to_the_chart(qtbot) -> None:
    from pushdeck.app.reports import page

    chart = GroupChart("By platform")
    qtbot.addWidget(chart)
    page._set_group(chart, [row("ios", 0, 0)])
    assert chart.empty_text().startswith("Nothing accepted yet")


def test_trend_labels_use_the_user_date_format_and_fit(qtbot) -> None:
    from pushdeck.app.dates import format_date
    from pushdeck.core.reports.data import CampaignSummary

    rows = [CampaignSummary(f"Campaign number {i} with a long name", "App", "done",
                            f"2026-11-{i + 1:02d}T10:00:00Z", "all", 100, 100, 90, 80, 9)
            for i in range(12)]  # fmt: skip
    chart = TrendChart()
    qtbot.addWidget(chart)
    chart.set_rows(rows)
    chart.to_image(QSize(600, 260))
    _drawn_labels_fit(chart)
    assert format_date("2026-11-01T10:00:00Z") in chart._categories[0]
