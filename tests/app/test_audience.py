"""Audience page: the lazy device model, search/sort in SQL, details, import wizard, export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from pushdeck.app.audience.details import DeviceDialog
from pushdeck.app.audience.model import COLUMNS, LOADING, DeviceTableModel
from pushdeck.app.audience.page import AudiencePage
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.devices.query import DeviceQuery

APP = "Shop"


def write_devices(path: Path, count: int, *, bad: int = 0, token: str = "Device Token") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow([token, "os", "lang", "tags", "attr.plan"])
        for i in range(count):
            out.writerow(
                [
                    f"{i:064x}",
                    "ios",
                    "pt-BR" if i % 2 else "en-US",
                    "vip" if i % 3 == 0 else "",
                    "pro",
                ]
            )
        for i in range(bad):
            out.writerow([f"zz{i}", "ios", "en-US", "", ""])
    return path


def make_workspace(path: Path, devices: int = 0) -> Path:
    from pushdeck.core.common.model import App
    from pushdeck.core.devices.importer import import_devices
    from pushdeck.core.store.apps import add_app
    from pushdeck.core.store.workspace import Workspace

    with Workspace.open(path) as ws:
        add_app(ws, App(APP, apns_topic="com.example.shop"))
        if devices:
            source = write_devices(path.with_suffix(".csv"), devices)
            import_devices(ws, source, APP, mapping={"token": "Device Token"})
    return path


@pytest.fixture
def runner(qtbot, tmp_path):
    runner = TaskRunner()
    done: list[object] = []
    runner.open_workspace(make_workspace(tmp_path / "w.pushdeck", 450), done.append)
    qtbot.wait_until(lambda: bool(done), timeout=10_000)
    yield runner
    runner.shutdown()


def settle(qtbot, runner) -> None:
    qtbot.wait_until(lambda: runner.pending == 0, timeout=10_000)


def test_model_loads_pages_lazily_and_passes_the_model_tester(qtbot, runner, qtmodeltester):
    model = DeviceTableModel(runner, page_size=100, max_pages=2)
    with qtbot.wait_signal(model.count_changed):
        model.set_query(DeviceQuery())
    assert model.rowCount() == 450
    assert model.cached_rows == 0
    assert model.data(model.index(0, 4)) == LOADING  # not there yet: asked for, not blocked
    settle(qtbot, runner)
    assert model.data(model.index(0, 4)) == f"{0:064x}"
    model.data(model.index(449, 4))
    model.data(model.index(250, 4))
    settle(qtbot, runner)
    assert model.cached_rows <= 200  # old pages evicted: never the whole table
    qtmodeltester.check(model)


def test_sort_and_search_run_in_sql(qtbot, runner):
    model = DeviceTableModel(runner, page_size=50)
    token = [k for k, _h, _s in COLUMNS].index("token")
    with qtbot.wait_signal(model.count_changed):
        model.sort(token, Qt.SortOrder.DescendingOrder)
    model.data(model.index(0, token))
    settle(qtbot, runner)
    assert model.data(model.index(0, token)) == f"{449:064x}"
    for search, expected in [
        ("tag:vip", 150),
        ("attr:plan=pro", 450),
        ("attr:plan=free", 0),
        ("1C1", 1),
    ]:
        with qtbot.wait_signal(model.count_changed):
            model.set_query(DeviceQuery(search=search))
        assert model.rowCount() == expected, search


def test_page_filters_by_segment_and_search_and_exports_the_view(qtbot, runner, tmp_path):
    page = AudiencePage(runner)
    qtbot.addWidget(page)
    page.reload()
    settle(qtbot, runner)
    assert page.count.text() == "450 devices"
    with qtbot.wait_signal(page.model.count_changed):
        page.search.setText("tag:vip")
    assert page.count.text() == "150 devices match"
    out = tmp_path / "view.csv"
    page.export_view(out)
    settle(qtbot, runner)
    assert len(out.read_text().splitlines()) == 151


def test_device_dialog_edits_tags_and_test_flag(qtbot, runner):
    dialog = DeviceDialog(runner, 1)
    qtbot.addWidget(dialog)
    qtbot.wait_until(lambda: dialog.details is not None, timeout=10_000)
    assert dialog.tags.text() == "vip"
    dialog.tags.setText("vip, beta")
    dialog.test.setChecked(True)
    with qtbot.wait_signal(dialog.saved):
        dialog.buttons.accepted.emit()
    again = DeviceDialog(runner, 1)
    qtbot.addWidget(again)
    qtbot.wait_until(lambda: again.details is not None, timeout=10_000)
    assert again.details.device.tags == ("beta", "vip")
    assert again.details.device.test


def test_import_wizard_previews_maps_imports_and_reports_rejects(qtbot, runner, tmp_path):
    wizard = make_wizard(qtbot, runner)
    source = write_devices(tmp_path / "new.csv", 20, bad=3, token="Push ID")
    with qtbot.wait_signal(wizard.previewed):
        wizard.load_file(source)
    assert wizard.preview.rowCount() == 10
    assert wizard.current_mapping()["platform"] == "os"
    assert "token" not in wizard.current_mapping()  # "Push ID" is no known alias
    assert not wizard.next.isEnabled()
    wizard.set_mapping("token", "Push ID")
    assert wizard.next.isEnabled()
    with qtbot.wait_signal(wizard.finished_import, timeout=20_000) as blocker:
        wizard.start_import()
    report = blocker.args[0]
    assert (report.inserted, report.unchanged, report.rejected_count) == (0, 20, 3)
    assert wizard.rejected_table.rowCount() == 3
    assert wizard.rejected_table.item(0, 1).text() == "token"
    saved = tmp_path / "rejected.csv"
    wizard.save_rejected(saved)
    settle(qtbot, runner)
    assert len(saved.read_text().splitlines()) == 4


def test_import_wizard_takes_the_staged_path_for_large_files(qtbot, runner, tmp_path, monkeypatch):
    """A second reader process started from the worker thread; the wizard says when it saves."""
    from pushdeck.core.devices import staged_import as import_staged

    monkeypatch.setattr(import_staged, "STAGED_BYTES", 0)
    monkeypatch.setattr(import_staged, "PARALLEL_BYTES", 0)
    wizard = make_wizard(qtbot, runner)
    source = write_devices(tmp_path / "big.csv", 400, bad=5, token="token")
    with qtbot.wait_signal(wizard.previewed):
        wizard.load_file(source)
    labels: list[str] = []
    original = wizard.progress_label.setText
    monkeypatch.setattr(
        wizard.progress_label, "setText", lambda text: (labels.append(text), original(text))
    )
    with qtbot.wait_signal(wizard.finished_import, timeout=30_000) as blocker:
        wizard.start_import()
    report = blocker.args[0]
    assert (report.rows, report.imported, report.rejected_count) == (405, 400, 5)
    assert any(text.startswith("Saving") for text in labels)


def make_wizard(qtbot, runner):
    from pushdeck.app.audience.import_wizard import ImportWizard

    wizard = ImportWizard(runner)
    qtbot.addWidget(wizard)
    qtbot.wait_until(lambda: wizard.app_box.count() == 1, timeout=10_000)
    return wizard


def test_nothing_is_queried_before_a_workspace_opens(qtbot):
    runner = TaskRunner()
    try:
        page = AudiencePage(runner)  # sorts its table on construction
        qtbot.addWidget(page)
        failures: list[object] = []
        page.model.failed.connect(failures.append)
        page.apply_filter()
        qtbot.wait(100)
        assert runner.pending == 0 and not failures
    finally:
        runner.shutdown()
