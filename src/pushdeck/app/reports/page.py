"""The Reports page: a campaign dashboard, its A/B test, and the across-campaigns view.

All data comes from ``pushdeck.core.reports.dashboard`` through the TaskRunner (the one SQLite
worker). The campaign list follows the workspace (``TaskRunner.workspace_changed``: a
campaign created or sent here, by the CLI or a worker), and while the page is visible it
polls every few seconds, so the charts follow a campaign that is sending and events
arriving from the collector.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.dates import format_when, utc_hint
from pushdeck.app.errors import show_error
from pushdeck.app.reports.charts import Chart, FunnelChart, GroupChart, OpensChart, TrendChart
from pushdeck.app.tasks import TaskRunner, WorkerContext
from pushdeck.core.campaigns.library import list_campaigns
from pushdeck.core.campaigns.spec import CampaignStatus
from pushdeck.core.common.paths import open_private
from pushdeck.core.reports.dashboard import (
    NOTE,
    DashboardData,
    ReportCache,
    ab_table,
    conversion_summary,
    dashboard_data,
    percent,
    send_winner_to_rest,
    write_aggregates_csv,
    write_devices_csv,
)
from pushdeck.core.reports.data import CampaignSummary, across_campaigns
from pushdeck.core.store.apps import list_apps
from pushdeck.core.store.segments import list_segments

POLL_MS = 4000
LIVE = {CampaignStatus.SENDING, CampaignStatus.PAUSED}


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))


class ChartBox(QWidget):
    """A chart with its PNG / SVG export button."""

    def __init__(self, chart: Chart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart = chart
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(chart)
        button = QToolButton()
        button.setText("Export chart…")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        menu.addAction("PNG image…", lambda: self._export("png"))
        menu.addAction("SVG drawing…", lambda: self._export("svg"))
        button.setMenu(menu)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(button)
        layout.addLayout(row)

    def _export(self, kind: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chart", f"{self.chart.title[:40]}.{kind}", f"{kind.upper()} (*.{kind})"
        )
        if not path:
            return
        try:
            self.chart.export_png(path) if kind == "png" else self.chart.export_svg(path)
        except OSError as exc:
            show_error(self, exc)


class ReportsPage(QWidget):
    """Campaign reports.

    Signals:
        data_loaded(object): a DashboardData was shown (tests, status bar).
        follow_up_created(str): "send the winner to the rest" created this campaign.
    """

    data_loaded = Signal(object)
    follow_up_created = Signal(str)

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.data: DashboardData | None = None
        self.cache = ReportCache()  # used only inside jobs, on the workspace thread
        self._loading = False
        self._wanted = ""
        self._reloads = 0  # list reloads queued on the worker, not back yet
        self.picker = QComboBox()
        self.picker.setMinimumWidth(260)
        self.picker.setAccessibleName("Campaign")
        self.picker.currentTextChanged.connect(self._on_picker_current_text_changed)
        self.status = QLabel("")
        self.export_button = QToolButton()
        self.export_button.setText("Export report…")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("PDF report…", lambda: self._export_report("pdf"))
        menu.addAction("HTML page…", lambda: self._export_report("html"))
        menu.addAction("CSV: aggregates…", lambda: self._export_report("csv"))
        menu.addAction("CSV: per device (hashed tokens)…", lambda: self._export_report("devices"))
        self.export_button.setMenu(menu)
        top = QHBoxLayout()
        top.addWidget(QLabel("Campaign:"))
        top.addWidget(self.picker)
        top.addWidget(self.status, 1)
        top.addWidget(self.export_button)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._dashboard_tab(), "Dashboard")
        self.tabs.addTab(self._ab_tab(), "A/B test")
        self.tabs.addTab(self._across_tab(), "Across campaigns")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()
        tasks.workspace_opened.connect(self._on_workspace_opened)
        tasks.workspace_changed.connect(self._on_workspace_changed)

    # --- building --------------------------------------------------------------------------

    def _dashboard_tab(self) -> QWidget:
        self.headline = QLabel("Open a workspace with a sent campaign to see its report.")
        self.headline.setWordWrap(True)
        note = QLabel(NOTE)
        note.setWordWrap(True)
        note.setStyleSheet("background:#fff7e0; padding:6px; border-left:4px solid #e0a800;")
        self.funnel = FunnelChart()
        self.opens = OpensChart()
        self.unit = QComboBox()
        self.unit.addItems(["per hour", "per minute"])
        self.unit.currentIndexChanged.connect(lambda _i: self._show_opens())
        self.platform_chart = GroupChart("Open rate by platform (opened ÷ accepted)")
        self.locale_chart = GroupChart("Open rate by locale (opened ÷ accepted)")
        self.variant_chart = GroupChart("Open rate by variant (opened ÷ accepted, 95 % interval)")
        self.definitions = _table(("stage", "count", "rate", "definition"))
        self.reasons = _table(("state", "reason", "devices"))
        grid = QGridLayout()
        grid.addWidget(ChartBox(self.funnel), 0, 0)
        opens_box = QVBoxLayout()
        opens_box.addWidget(ChartBox(self.opens))
        unit_row = QHBoxLayout()
        unit_row.addWidget(QLabel("Buckets:"))
        unit_row.addWidget(self.unit)
        unit_row.addStretch(1)
        opens_box.addLayout(unit_row)
        grid.addLayout(opens_box, 0, 1)
        grid.addWidget(self.definitions, 1, 0)
        grid.addWidget(self.reasons, 1, 1)
        groups = QHBoxLayout()
        for chart in (self.platform_chart, self.locale_chart, self.variant_chart):
            groups.addWidget(ChartBox(chart))
        body = QWidget()
        column = QVBoxLayout(body)
        column.addWidget(self.headline)
        column.addWidget(note)
        column.addLayout(grid)
        column.addLayout(groups)
        for chart in (self.funnel, self.opens):
            chart.setMinimumHeight(300)
            chart.setMaximumHeight(380)
        for chart in (self.platform_chart, self.locale_chart, self.variant_chart):
            chart.setMinimumHeight(260)
        self.definitions.setMinimumHeight(190)
        self.reasons.setMinimumHeight(190)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        return scroll

    def _ab_tab(self) -> QWidget:
        self.verdict = QLabel("This campaign is not an A/B test.")
        self.verdict.setWordWrap(True)
        self.verdict.setStyleSheet("font-size: 14pt;")
        self.ab_chart = GroupChart("Open rate by variant (opened ÷ accepted), 95 % Wilson interval")
        self.ab_table = _table(
            ("variant", "accepted", "opened", "opened ÷ accepted", "95 % interval")
        )
        self.winner_button = QPushButton("Send the winner to the rest…")
        self.winner_button.setToolTip(
            "Creates a draft campaign with the winning variant for the held-out devices."
        )
        self.winner_button.clicked.connect(self._on_winner_button_clicked)
        self.winner_button.setEnabled(False)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.verdict)
        layout.addWidget(ChartBox(self.ab_chart), 1)
        layout.addWidget(self.ab_table)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.winner_button)
        layout.addLayout(row)
        return tab

    def _across_tab(self) -> QWidget:
        self.since = _date_combo(-90)
        self.until = _date_combo(0)
        self.app_filter = QComboBox()
        self.platform_filter = QComboBox()
        self.platform_filter.addItems(["", "ios", "android", "web"])
        self.segment_filter = QComboBox()
        self.segment_filter.setEditable(True)
        self.app_filter.setEditable(True)
        apply = QPushButton("Apply")
        apply.clicked.connect(self.reload_across)
        form = QFormLayout()
        form.addRow("Started from (YYYY-MM-DD)", self.since)
        form.addRow("to", self.until)
        form.addRow("App", self.app_filter)
        form.addRow("Platform", self.platform_filter)
        form.addRow("Segment", self.segment_filter)
        form.addRow("", apply)
        self.trend = TrendChart()
        self.across = _table(
            ("campaign", "app", "started", "audience", "targeted", "sent", "accepted", "opened",
             "opened ÷ accepted"),
        )  # fmt: skip
        tab = QWidget()
        layout = QHBoxLayout(tab)
        layout.addLayout(form)
        right = QVBoxLayout()
        right.addWidget(ChartBox(self.trend), 1)
        right.addWidget(self.across, 1)
        layout.addLayout(right, 1)
        return tab

    # --- loading ---------------------------------------------------------------------------

    def _on_workspace_opened(self, _target: object) -> None:
        # Another workspace: the loads still waiting for the last one are dropped by the
        # runner (they never answer), and the campaign wanted there is not wanted here.
        self._loading, self._reloads, self._wanted = False, 0, ""
        self.data = None
        self.reload()

    def _on_workspace_changed(self, areas: frozenset[str]) -> None:
        # A reload still queued on the worker will see the change (changes are reported
        # between jobs): no second one.
        if areas & {"campaigns", "apps", "segments"} and not self._reloads:
            self.reload()  # a campaign created, started, sent or deleted: the list follows
        elif "events" in areas and self.isVisible():
            self.refresh()

    def reload(self) -> None:
        """Reload the campaign list (and the shown campaign) from the workspace."""

        def job(ctx: WorkerContext) -> tuple[list[tuple[str, bool]], list[str], list[str]]:
            ws = ctx.require_ws()
            return (
                [(c.name, bool(c.started_at)) for c in list_campaigns(ws)],  # newest first
                [a.name for a in list_apps(ws)],
                [s.name for s in list_segments(ws)],
            )

        self._reloads += 1
        self.tasks.run(job, self._on_lists_loaded, self._on_lists_failed)
        self.reload_across()

    def _on_lists_failed(self, exc: BaseException) -> None:
        self._reloads -= 1
        self._on_error(exc)

    def _on_lists_loaded(self, lists: tuple[list[tuple[str, bool]], list[str], list[str]]) -> None:
        self._reloads -= 1
        campaigns, apps, segments = lists
        for combo, items in ((self.app_filter, apps), (self.segment_filter, segments)):
            current = combo.currentText()
            combo.clear()
            combo.addItems(["", *items])
            combo.setCurrentText(current)
        self._on_campaigns_loaded(campaigns)

    def show_campaign(self, name: str) -> None:
        """Show the report of campaign ``name``."""
        self._wanted = name
        if self.picker.findText(name) < 0:
            self.reload()
            return
        if self.picker.currentText() != name:
            self.picker.setCurrentText(name)  # loads through the signal
        else:
            self.refresh()

    def refresh(self) -> None:
        name = self.picker.currentText()
        if not name or self._loading:
            return
        self._loading = True
        cache = self.cache
        self.tasks.run(
            lambda ctx: dashboard_data(ctx.require_ws(), name, cache),
            self._on_data,
            self._on_load_error,
        )

    def _on_campaigns_loaded(self, campaigns: list[tuple[str, bool]]) -> None:
        """Fill the picker (every campaign, newest first); keep the one shown, else show
        the newest that has sent."""
        names = [name for name, _started in campaigns]
        sent = [name for name, started in campaigns if started]
        current = self._wanted or self.picker.currentText()
        if current not in names:
            current = sent[0] if sent else (names[0] if names else "")
        self.picker.blockSignals(True)
        self.picker.clear()
        self.picker.addItems(names)
        for index, (_name, started) in enumerate(campaigns):
            if not started:
                self.picker.setItemData(index, "Not sent yet", Qt.ItemDataRole.ToolTipRole)
        self.picker.setCurrentText(current)
        self.picker.blockSignals(False)
        if names:
            self.refresh()
        else:
            self.headline.setText("No campaign yet: reports appear once one is created and sent.")

    def _on_picker_current_text_changed(self, name: str) -> None:
        if name:
            self._wanted = name
            self._loading = False
            self.timer.start()  # again, if a failed load stopped it
            self.refresh()

    def _on_timer_timeout(self) -> None:
        if self.isVisible() and self.data is not None:
            self.refresh()

    def _on_load_error(self, exc: BaseException) -> None:
        self._loading = False
        self.timer.stop()  # no error dialog every few seconds
        self._on_error(exc)

    def _on_error(self, exc: BaseException) -> None:
        show_error(self, exc)

    def _on_data(self, data: DashboardData) -> None:
        self._loading = False
        if data.name != self.picker.currentText():
            self.refresh()
            return
        self.data = data
        c, o = data.campaign, data.overall
        live = " · live: updating while it sends" if c.status in LIVE else ""
        self.status.setText(
            f"{c.status}{live} · updated {format_when(data.generated_at, seconds=True)}"
        )
        self.status.setToolTip(utc_hint(data.generated_at))
        if not c.started_at:
            self.headline.setText(
                f"<b>{c.name}</b> — app {c.spec.app}: {c.status}, not sent yet. Its report "
                "fills in as soon as it sends; review and send it from Campaigns."
            )
        else:
            self.headline.setText(
                f"<b>{c.name}</b> — app {c.spec.app}, started {format_when(c.started_at)}. "
                f"{o.targeted:,} targeted, {o.accepted:,} accepted by the providers, "
                f"<b>{o.opened:,} opened = {percent(o.open_rate_of_accepted)} of accepted</b>; "
                f"{o.delivered:,} confirmed delivered by apps that report it. "
                f"Dead tokens: {o.dead:,}; rejected: {o.rejected:,}; excluded: {o.excluded:,}. "
                + html.escape(conversion_summary(data))
            )
        self.funnel.set_stages(data.stages)
        self._show_opens()
        _set_group(self.platform_chart, data.by_platform)
        _set_group(self.locale_chart, data.by_locale)
        _set_group(self.variant_chart, data.by_variant, data.ab)
        _fill(
            self.definitions,
            [[s.label, f"{s.count:,}", s.rate_text, s.definition] for s in data.stages],
        )
        _fill(
            self.reasons,
            [
                [state, reason, f"{n:,}"]
                for state in ("rejected", "dead", "excluded", "skipped")
                for reason, n in data.reasons.get(state, [])
            ]
            + [["action button", a, f"{n:,} presses"] for a, n in data.actions],
        )
        self._show_ab(data)
        self.data_loaded.emit(data)

    def _show_opens(self) -> None:
        if self.data is None:
            return
        hourly = self.unit.currentIndex() == 0
        points = self.data.opens_per_hour if hourly else self.data.opens_per_minute
        self.opens.set_points(points, self.data.overall.accepted, "hour" if hourly else "minute")

    def _show_ab(self, data: DashboardData) -> None:
        ab = data.ab
        _set_group(self.ab_chart, data.by_variant, ab)
        if ab is None:
            self.verdict.setText(
                "This campaign is not an A/B test (it has fewer than two variants)."
            )
            _fill(self.ab_table, [])
            self.winner_button.setEnabled(False)
            return
        self.verdict.setText(ab.verdict)
        _fill(self.ab_table, ab_table(ab)[1])
        self.winner_button.setEnabled(ab.winner is not None and data.overall.control > 0)
        self.winner_button.setText(
            f"Send {ab.winner} to the rest ({data.overall.control:,} held out)…"
            if ab.winner
            else "Send the winner to the rest…"
        )

    # --- across campaigns -------------------------------------------------------------------

    def reload_across(self) -> None:
        filters = {
            "since": self.since.currentText().strip(),
            "until": self.until.currentText().strip(),
            "app": self.app_filter.currentText().strip(),
            "platform": self.platform_filter.currentText(),
            "segment": self.segment_filter.currentText().strip(),
        }
        self.tasks.run(
            lambda ctx: across_campaigns(ctx.require_ws(), **filters),
            self._on_across_loaded,
            self._on_error,
        )

    def _on_across_loaded(self, rows: list[CampaignSummary]) -> None:
        self.trend.set_rows(rows)
        _fill(
            self.across,
            [
                [r.name, r.app, format_when(r.started_at), r.audience, f"{r.targeted:,}",
                 f"{r.sent:,}", f"{r.accepted:,}", f"{r.opened:,}", percent(r.open_rate)]
                for r in rows
            ],
        )  # fmt: skip

    # --- actions ----------------------------------------------------------------------------

    def _on_winner_button_clicked(self) -> None:
        data = self.data
        if data is None or data.ab is None or data.ab.winner is None:
            return
        winner, name = data.ab.winner, data.name
        answer = QMessageBox.question(
            self,
            "Send the winner to the rest",
            f"Create a draft campaign with variant {winner} of “{name}” for the "
            f"{data.overall.control:,} devices held out of the test? Nothing is sent yet: "
            "review and send it from Campaigns.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.tasks.run(
            lambda ctx: send_winner_to_rest(ctx.require_ws(), name, variant=winner).name,
            self._on_follow_up_created,
            self._on_error,
        )

    def _on_follow_up_created(self, name: str) -> None:
        self.status.setText(f"Created draft campaign “{name}”.")
        self.follow_up_created.emit(name)

    def _export_report(self, kind: str) -> None:
        if self.data is None:
            return
        suffix = {"pdf": "pdf", "html": "html", "csv": "csv", "devices": "csv"}[kind]
        default = f"{self.data.name} report.{suffix}".replace("/", "-")
        path, _ = QFileDialog.getSaveFileName(self, "Export report", default, f"*.{suffix}")
        if path:
            self.export_report(kind, Path(path))

    def export_report(self, kind: str, path: Path) -> None:
        """Write the shown campaign's report; CSVs on the worker, PDF/HTML here (Qt)."""
        data = self.data
        if data is None:
            return
        if kind in ("pdf", "html"):
            from pushdeck.app.reports import export

            writer: Callable[[DashboardData, Path], None] = (
                export.export_pdf if kind == "pdf" else export.export_html
            )
            # Charts are widgets, so this runs here: about half a second, under a wait cursor.
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                writer(data, path)
            except OSError as exc:
                QApplication.restoreOverrideCursor()
                show_error(self, exc)
                return
            QApplication.restoreOverrideCursor()
            self.status.setText(f"Saved {path}")
            return
        name = data.name

        def job(ctx: WorkerContext) -> Path:
            with open_private(path, encoding="utf-8", newline="") as out:
                if kind == "devices":
                    write_devices_csv(ctx.require_ws(), name, out)
                else:
                    write_aggregates_csv(data, out)
            return path

        self.tasks.run(job, lambda p: self.status.setText(f"Saved {p}"), self._on_error)


def _set_group(chart: GroupChart, rows: Any, ab: Any = None) -> None:
    """Show ``rows`` in a group chart; with none accepted yet (a draft, a campaign without
    variants, a send just started) the chart says so itself."""
    chart.set_rows(rows, ab)


def _date_combo(days: int) -> QComboBox:
    combo = QComboBox()
    combo.setEditable(True)
    combo.addItems(["", QDate.currentDate().addDays(days).toString("yyyy-MM-dd")])
    combo.setCurrentIndex(1 if days < 0 else 0)
    return combo


__all__: list[Any] = ["ReportsPage"]
