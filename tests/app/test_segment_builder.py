"""Segment builder: rule round trip, typed editors, live count, save/rename/duplicate/delete."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDateEdit

from pushdeck.app.segments.builder import ConditionRow, RuleBuilder
from pushdeck.app.segments.page import SegmentsPage
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.devices.query import FieldValues

VALUES = FieldValues(["en-US", "pt-BR"], ["Europe/Lisbon", "UTC"], ["vip", "beta"], ["plan"], ["A"])
RULE = {
    "all": [
        {"field": "platform", "op": "=", "value": "ios"},
        {"any": [
            {"field": "locale", "op": "starts_with", "value": "pt"},
            {"field": "tag", "op": "has", "value": "vip"},
            {"field": "attr.purchases", "op": ">=", "value": 10},
        ]},
        {"not": {"any": [{"field": "last_seen", "op": "before", "value": "2026-01-31"}]}},
    ]
}  # fmt: skip


def test_builder_round_trips_nested_rules(qtbot):
    builder = RuleBuilder()
    qtbot.addWidget(builder)
    builder.set_values(VALUES)
    builder.set_rule(RULE)
    assert builder.rule() == RULE


def test_value_editors_are_typed(qtbot):
    row = ConditionRow(VALUES)
    qtbot.addWidget(row)
    row.set_rule({"field": "timezone", "op": "=", "value": "UTC"})
    assert isinstance(row.value, QComboBox) and row.value.findText("Europe/Lisbon") >= 0
    row.set_rule({"field": "tag", "op": "has", "value": "vip"})
    assert row.value.completer().model().rowCount() == 2  # tags from the workspace
    row.set_rule({"field": "last_seen", "op": "before", "value": "2026-01-31"})
    assert isinstance(row.value, QDateEdit)
    assert row.rule() == {"field": "last_seen", "op": "before", "value": "2026-01-31"}
    row.set_rule({"field": "test", "op": "=", "value": True})
    assert row.rule()["value"] is True


@pytest.fixture
def runner(qtbot, tmp_path):
    from pushdeck.core.demo.workspace import create_demo

    runner = TaskRunner()
    opened: list[object] = []
    runner.open_workspace(create_demo(tmp_path / "d.pushdeck", devices=300), opened.append)
    qtbot.wait_until(lambda: bool(opened), timeout=10_000)
    yield runner
    runner.shutdown()


def test_live_count_follows_the_rule_and_shows_problems(qtbot, runner):
    page = SegmentsPage(runner)
    qtbot.addWidget(page)
    page.reload()
    qtbot.wait_until(lambda: page.list.count() > 0, timeout=10_000)
    with qtbot.wait_signal(page.counted, timeout=10_000) as ios:
        page.builder.set_rule({"all": [{"field": "platform", "op": "=", "value": "ios"}]})
    with qtbot.wait_signal(page.counted, timeout=10_000) as both:
        page.builder.root.add_condition({"field": "tag", "op": "has", "value": "vip"})
    assert 0 < both.args[0] < ios.args[0]
    assert page.sample.rowCount() == min(10, both.args[0])
    with qtbot.wait_signal(page.builder.changed):
        page.builder.set_rule({"all": [{"field": "attr.bad name", "op": "exists"}]})
    qtbot.wait_until(lambda: bool(page.problem.text()), timeout=10_000)
    assert "attribute name" in page.problem.text()


def test_save_rename_duplicate_delete_and_usage(qtbot, runner):
    page = SegmentsPage(runner)
    qtbot.addWidget(page)
    page.reload()
    qtbot.wait_until(lambda: page.list.count() > 0, timeout=10_000)
    page.new_segment()
    page.name.setText("Lisbon iOS")
    page.builder.set_rule({"all": [{"field": "timezone", "op": "=", "value": "Europe/Lisbon"}]})
    with qtbot.wait_signal(page.segments_changed, timeout=10_000):
        page.save()
    qtbot.wait_until(lambda: page.current_name() == "Lisbon iOS", timeout=10_000)
    with qtbot.wait_signal(page.segments_changed, timeout=10_000):
        page.rename("Lisbon iOS", "Lisbon")
    with qtbot.wait_signal(page.segments_changed, timeout=10_000):
        page.duplicate("Lisbon", "Lisbon 2")
    qtbot.wait_until(lambda: "Lisbon 2" in page.segments, timeout=10_000)
    assert page.segments["Lisbon 2"].rule == page.segments["Lisbon"].rule

    def sent_campaign(ctx):
        from pushdeck.core.campaigns.library import create_campaign, get_campaign, set_status
        from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignStatus

        ws = ctx.require_ws()
        spec = get_campaign(ws, "Spring sale (demo)").spec
        create_campaign(
            ws,
            replace(spec, name="To Lisbon", audience=AudienceSpec(AudienceKind.SEGMENT, "Lisbon")),
        )
        set_status(ws, "To Lisbon", CampaignStatus.SENT, finished=True)

    done: list[object] = []
    runner.run(sent_campaign, done.append)
    qtbot.wait_until(lambda: bool(done), timeout=10_000)
    page.list.setCurrentItem(page.list.findItems("Lisbon", Qt.MatchFlag.MatchExactly)[0])
    qtbot.wait_until(lambda: bool(page.usage), timeout=10_000)
    assert page.usage == [("To Lisbon", "sent")]
    assert "have sent" in page.delete_refusal()
    with qtbot.wait_signal(page.segments_changed, timeout=10_000):
        page.delete("Lisbon 2")
    qtbot.wait_until(lambda: "Lisbon 2" not in page.segments, timeout=10_000)
