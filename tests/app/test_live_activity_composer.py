"""Issue 14 in the composer: Live Activity mode and its previews, per-platform text and
sounds, Web Push options, and the iOS cards' Notification Service Extension note."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import QDateTime, QTimeZone
from PySide6.QtGui import QImage

from pushdeck.app.composer.page import ComposerPage
from pushdeck.app.previews import LIVE_ACTIVITY_STATES, render
from pushdeck.app.previews.base import RenderContext
from pushdeck.app.previews.ios import NSE_NOTE
from pushdeck.app.previews.live_activity import APPROXIMATION
from pushdeck.core.common.model import App, LiveActivityEvent, Message, Priority

STALE = 1_767_225_600  # 2026-01-01 00:00 UTC


@pytest.fixture
def page(qtbot, fonts):
    widget = ComposerPage()
    qtbot.addWidget(widget)
    widget.load_document({"message": {"title": "Goal!", "body": "2-1"}})
    return widget


def _combo_pick(combo, value: str) -> None:
    combo.setCurrentIndex(combo.findData(value))


def _type_json(field, text: str) -> None:
    field.editor.setPlainText(text)  # textChanged, as typing emits it


def _reloaded(page: ComposerPage, qtbot) -> ComposerPage:
    """A second composer opening the first one's saved draft (through JSON, as stored)."""
    doc = json.loads(json.dumps(page.model.draft.to_document()))
    other = ComposerPage()
    qtbot.addWidget(other)
    other.load_document(doc)
    assert other.model.draft.message == page.model.draft.message
    return other


# --- the Live Activity controls --------------------------------------------------------------


def test_update_controls_round_trip_into_the_message_and_the_saved_draft(page, qtbot) -> None:
    la = page.form.live_activity
    _combo_pick(la.bindings["live_activity.event"].widget, "update")
    _type_json(la.content_state, '{"home": 2, "away": 1, "minute": 67}')
    stale = la.bindings["live_activity.stale_date"].widget
    stale.enabled.setChecked(True)
    stale.edit.setDateTime(QDateTime.fromSecsSinceEpoch(STALE, QTimeZone.utc()))
    la.bindings["live_activity.relevance_score"].widget.setValue(50)
    la.bindings["live_activity.title"].widget.setText("Goal!!")
    la.bindings["live_activity.title"].widget.textEdited.emit("Goal!!")
    message = page.model.draft.message
    assert message.live_activity_event is LiveActivityEvent.UPDATE
    assert dict(message.content_state) == {"home": 2, "away": 1, "minute": 67}
    assert list(message.content_state) == ["home", "away", "minute"]  # the order typed
    assert message.stale_date == STALE
    assert message.relevance_score == 50.0
    assert message.title == "Goal!!"
    assert page.form.bindings["title"].widget.text() == "Goal!!"  # one field, two places
    assert la.problem.isHidden() and la.problem.text() == ""
    # the draft saves and reopens with every control showing it
    other = _reloaded(page, qtbot)
    ola = other.form.live_activity
    assert ola.bindings["live_activity.event"].widget.currentData() == "update"
    assert json.loads(ola.content_state.editor.toPlainText()) == {
        "home": 2,
        "away": 1,
        "minute": 67,
    }
    assert ola.bindings["live_activity.stale_date"].widget.value() == STALE
    assert ola.bindings["live_activity.relevance_score"].widget.value() == 50
    assert other.previews.tabs.tabText(0) == "Live Activity"


def test_start_and_end_fields_round_trip(page, qtbot) -> None:
    la = page.form.live_activity
    event = la.bindings["live_activity.event"].widget
    _combo_pick(event, "start")
    assert not la.problem.isHidden() and "content_state" in la.problem.text()
    _type_json(la.content_state, '{"home": 0, "away": 0}')
    assert "activity_attributes_type" in la.problem.text()
    kind = la.bindings["live_activity.activity_attributes_type"].widget
    assert kind.isEnabled()
    kind.setText("MatchAttributes")
    kind.textEdited.emit("MatchAttributes")
    _type_json(la.attributes, '{"homeTeam": "Lisbon", "awayTeam": "Porto"}')
    message = page.model.draft.message
    assert message.live_activity_event is LiveActivityEvent.START
    assert message.activity_attributes_type == "MatchAttributes"
    assert dict(message.activity_attributes) == {"homeTeam": "Lisbon", "awayTeam": "Porto"}
    assert la.problem.text() == ""
    _reloaded(page, qtbot)
    # an end takes a dismissal date (and no attributes: the core refuses them, said here)
    _combo_pick(event, "end")
    assert "activity_attributes" in la.problem.text()
    dismissal = la.bindings["live_activity.dismissal_date"].widget
    assert dismissal.isEnabled()
    dismissal.enabled.setChecked(True)
    dismissal.edit.setDateTime(QDateTime.fromSecsSinceEpoch(STALE, QTimeZone.utc()))
    assert page.model.draft.message.dismissal_date == STALE
    kind.setText("")
    kind.textEdited.emit("")
    _type_json(la.attributes, "")
    assert page.model.draft.message.activity_attributes == {}
    assert la.problem.text() == ""
    assert not kind.isEnabled()  # nothing left to clear: start-only fields rest
    other = _reloaded(page, qtbot)
    assert other.form.live_activity.bindings["live_activity.dismissal_date"].widget.value() == STALE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"home": 2,', "Not valid JSON"),
        ('{"home": 2} x', "Not valid JSON"),
        ("[1, 2]", "not a list"),
        ('"score"', "not a string"),
        ("{'home': 2}", "Not valid JSON"),  # Python, not JSON
    ],
)
def test_bad_content_state_is_said_under_the_field_and_keeps_the_last_valid(
    page, text, expected
) -> None:
    la = page.form.live_activity
    _combo_pick(la.bindings["live_activity.event"].widget, "update")
    _type_json(la.content_state, '{"home": 1}')
    before = page.model.draft.message
    _type_json(la.content_state, text)
    assert not la.content_state.error.isHidden() and expected in la.content_state.error.text()
    assert "line 1" in la.content_state.error.text() or "object" in la.content_state.error.text()
    assert page.model.draft.message == before  # the draft and previews keep the last valid
    assert la.content_state.editor.toPlainText() == text  # the user's text is not replaced
    page.model.set_field("body", "another field changes")  # a redraw keeps the half-typed text
    assert la.content_state.editor.toPlainText() == text
    _type_json(la.content_state, '{"home": 3}')
    assert la.content_state.error.isHidden()
    assert dict(page.model.draft.message.content_state) == {"home": 3}


def test_undo_restores_the_content_state_text(page) -> None:
    la = page.form.live_activity
    _combo_pick(la.bindings["live_activity.event"].widget, "update")
    _type_json(la.content_state, '{"home": 1}')
    page.model.set_field("title", "other")  # a separate step between the two
    _type_json(la.content_state, '{"home": 2}')
    page.model.undo_stack.undo()
    page.model.undo_stack.undo()
    assert dict(page.model.draft.message.content_state) == {"home": 1}
    assert json.loads(la.content_state.editor.toPlainText()) == {"home": 1}


def test_turning_the_mode_off_shows_the_notification_grid_again(page) -> None:
    la = page.form.live_activity
    event = la.bindings["live_activity.event"].widget
    _combo_pick(event, "update")
    assert page.previews.grids.currentWidget() is page.previews.live_scroll_area
    assert la.content_state.isEnabled()
    event.setCurrentIndex(0)
    assert page.model.draft.message.live_activity_event is None
    assert page.previews.grids.currentWidget() is page.previews.scroll_area
    assert page.previews.tabs.tabText(0) == "All platforms"
    assert not la.content_state.isEnabled()


# --- Live Activity previews ------------------------------------------------------------------


def _distinct_colours(image: QImage) -> int:
    return len(
        {image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    )


def _la(content_state: dict, **kw) -> RenderContext:
    return RenderContext(
        Message(live_activity_event=LiveActivityEvent.UPDATE, content_state=content_state, **kw)
    )


@pytest.mark.parametrize("state", LIVE_ACTIVITY_STATES, ids=lambda s: s.key)
def test_live_activity_states_draw_the_content_state_and_follow_it(fonts, state) -> None:
    # no title or body: an ordinary card would say "silent"; a Live Activity still draws
    quiet = _la({"home": 2, "away": 1})
    assert not state.shows_nothing(quiet)
    first = render.render_image(state, quiet)
    assert _distinct_colours(first) > 20  # a picture, not a blank or a flat notice
    changed = render.render_image(state, _la({"home": 3, "away": 1}))
    assert changed.size() == first.size() and changed != first
    same = render.render_image(state, _la({"home": 2, "away": 1}))
    assert same == first  # deterministic: the change above is the content-state's


def test_live_activity_cards_are_labelled_as_approximations(page) -> None:
    page.model.set_field("live_activity_event", LiveActivityEvent.UPDATE)
    page.model.set_field("content_state", {"home": 2})
    for card in page.previews.live_grid.cards.values():
        notes = [text for kind, text in card.caption if kind == "note"]
        assert APPROXIMATION in notes
        assert not any("Nothing to show" in n for n in notes)
    lock = page.previews.live_grid.cards["la.lock"]
    page.model.set_field("content_state", {"home": 2, "a": 1, "b": 1, "c": 1, "d": 1})
    assert any("+1 more" in text for _, text in lock.caption)


def test_live_activity_grid_repaints_when_the_content_state_changes(page, qtbot) -> None:
    page.resize(1400, 900)
    page.show()
    la = page.form.live_activity
    _combo_pick(la.bindings["live_activity.event"].widget, "update")
    _type_json(la.content_state, '{"home": 2, "away": 1}')
    qtbot.wait(10)
    before = page.previews.live_grid.grab().toImage()
    _type_json(la.content_state, '{"home": 5, "away": 1}')
    qtbot.wait(10)
    after = page.previews.live_grid.grab().toImage()
    assert before.size() == after.size() and before != after


# --- per-platform text, sounds, Web Push options -------------------------------------------------


def _shown(page: ComposerPage, key: str, block: str) -> str:
    return "".join(line.text for line in page.previews.grid.cards[key].measured.blocks[block].lines)


def test_per_platform_text_shows_in_that_platforms_previews_only(page, qtbot) -> None:
    for name, value in (
        ("android_title", "Android title"),
        ("web_body", "Only on the web"),
        ("ios_title", "iPhone title"),
    ):
        widget = page.form.bindings[name].widget
        if hasattr(widget, "setPlainText"):
            widget.setPlainText(value)
        else:
            widget.setText(value)
            widget.textEdited.emit(value)
    assert _shown(page, "android.collapsed", "title") == "Android title"
    assert _shown(page, "ios.lock", "title") == "iPhone title"
    assert _shown(page, "web.chrome_windows", "title") == "Goal!"  # no web title: the common
    assert _shown(page, "web.chrome_windows", "body") == "Only on the web"
    assert _shown(page, "android.collapsed", "body") == "2-1"
    other = _reloaded(page, qtbot)
    assert other.form.bindings["web_body"].widget.toPlainText() == "Only on the web"
    assert _shown(other, "ios.lock", "title") == "iPhone title"


def test_sounds_and_web_push_options_round_trip(page, qtbot) -> None:
    bindings = page.form.bindings
    ios_sound = bindings["ios.sound"].widget
    ios_sound.setEditText("chime.caf")
    android_sound = bindings["android_sound"].widget
    android_sound.setText("chime")
    android_sound.textEdited.emit("chime")
    _combo_pick(bindings["web.urgency"].widget, "very-low")
    bindings["web_declarative"].widget.setChecked(True)
    bindings["web_padding"].widget.setChecked(True)
    message = page.model.draft.message
    assert (message.sound, message.android_sound) == ("chime.caf", "chime")
    assert message.priority is Priority.VERY_LOW
    assert message.web_declarative and message.web_padding
    assert bindings["sound"].widget.currentText() == "chime.caf"  # Behaviour shows it too
    assert bindings["priority"].widget.currentData() == "very-low"
    other = _reloaded(page, qtbot)
    assert other.form.bindings["web.urgency"].widget.currentData() == "very-low"
    assert other.form.bindings["web_padding"].widget.isChecked()
    assert other.form.bindings["android_sound"].widget.text() == "chime"


# --- the Notification Service Extension note ----------------------------------------------------


def _ios_notes(page: ComposerPage) -> list[str]:
    return [text for kind, text in page.previews.grid.cards["ios.lock"].caption if kind == "note"]


def test_nse_note_follows_the_apps_setting(page) -> None:
    page.model.set_field("image_url", "https://cdn.example.com/goal.jpg")
    assert NSE_NOTE in _ios_notes(page)  # no app known: nothing declared
    page.set_apps([App("Pushdeck Demo", apns_topic="com.example.demo", has_service_extension=True)])
    assert NSE_NOTE not in _ios_notes(page)
    page.set_apps([App("Pushdeck Demo", apns_topic="com.example.demo")])
    assert NSE_NOTE in _ios_notes(page)
    android = page.previews.grid.cards["android.collapsed"].caption
    assert not any(text == NSE_NOTE for _, text in android)
    page.model.set_field("image_url", "")
    assert NSE_NOTE not in _ios_notes(page)


def test_nse_note_reads_the_setting_another_process_saved(qtbot, tmp_path) -> None:
    """The CLI (another process) declares the extension; the window opening the workspace
    stops showing the note."""
    from pushdeck.app.main import build_window

    ws = tmp_path / "w.pushdeck"
    cli = [sys.executable, "-m", "pushdeck", "--workspace", str(ws), "apps"]
    subprocess.run([*cli, "add", "Pushdeck Demo", "--topic", "com.example.demo"], check=True)
    window = build_window(None, config_dir=tmp_path / "config", demo_path=tmp_path / "demo")
    qtbot.addWidget(window)
    composer = window.composer

    def open_and_wait() -> None:
        window.open_workspace(ws)
        qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=30_000)
        qtbot.wait_until(lambda: window.runner.pending == 0, timeout=30_000)
        composer.model.set_field("image_url", "https://cdn.example.com/goal.jpg")

    try:
        open_and_wait()
        assert NSE_NOTE in _ios_notes(composer)
        subprocess.run([*cli, "update", "Pushdeck Demo", "--has-nse"], check=True)
        open_and_wait()
        assert NSE_NOTE not in _ios_notes(composer)
    finally:
        # no campaigns check may fire in a later test, after this window's loop is gone
        window.campaigns.due_timer.stop()
        window.close()
        window.runner.shutdown()


def test_a_live_activity_card_opens_in_the_focused_view_and_exports(page, tmp_path) -> None:
    page.model.set_field("live_activity_event", LiveActivityEvent.UPDATE)
    page.model.set_field("content_state", {"home": 2, "away": 1})
    page.previews.live_grid.state_activated.emit("la.expanded")
    focus = page.previews.focus
    assert page.previews.tabs.currentWidget() is focus
    assert focus.card.state.key == "la.expanded"
    assert APPROXIMATION in [text for _, text in focus.card.caption]
    exported = QImage(str(focus.export_png(tmp_path / "island.png")))
    assert exported.width() == 2 * focus.card.state.width and _distinct_colours(exported) > 20
