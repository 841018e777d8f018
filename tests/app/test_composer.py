"""Composer edits flow into the previews and payloads; undo/redo spans the whole form."""

from __future__ import annotations

import pytest

from pushdeck.app.composer.draft import Draft, personalize, sample_device
from pushdeck.app.composer.form import variable_snippet
from pushdeck.app.composer.page import ComposerPage
from pushdeck.app.composer.tables import fallback_text
from pushdeck.core.common.model import InterruptionLevel, Message


@pytest.fixture
def page(qtbot, fonts):
    widget = ComposerPage()
    qtbot.addWidget(widget)
    widget.load_document({"message": {"title": "Hello", "body": "World"}})
    return widget


def _card_text(page: ComposerPage, key: str, block: str) -> str:
    result = page.previews.grid.cards[key].measured.blocks[block]
    return "".join(line.text for line in result.lines)


def test_typing_in_the_title_updates_every_preview(page, qtbot) -> None:
    title = page.form.bindings["title"].widget
    title.setFocus()
    qtbot.keyClicks(title, " there")
    assert page.model.draft.message.title == "Hello there"
    for key in ("ios.lock", "android.collapsed", "web.chrome_windows", "web.safari_macos"):
        assert _card_text(page, key, "title") == "Hello there"


def test_typing_in_the_body_truncates_in_narrow_states(page, qtbot) -> None:
    body = page.form.bindings["body"].widget
    body.setPlainText(
        "This is a much longer body that certainly does not fit in one collapsed line"
    )
    assert page.previews.grid.cards["android.collapsed"].measured.blocks["body"].truncated
    assert not page.previews.grid.cards["ios.lock"].measured.blocks["body"].truncated


def test_undo_redo_across_fields(page, qtbot) -> None:
    title = page.form.bindings["title"].widget
    qtbot.keyClicks(title, "!!")
    page.form.bindings["content_available"].widget.setChecked(True)
    badge = page.form.bindings["badge"].widget
    badge.setValue(7)
    stack = page.model.undo_stack
    assert stack.count() == 3  # typing merges into one step per field
    stack.undo()
    assert page.model.draft.message.badge is None
    assert badge.value() == -1 and badge.text() == "Leave unchanged"
    stack.undo()
    assert not page.model.draft.message.content_available
    stack.undo()
    assert page.model.draft.message.title == "Hello"
    assert title.text() == "Hello"
    assert _card_text(page, "ios.lock", "title") == "Hello"
    stack.redo()
    assert title.text() == "Hello!!"


def test_choice_binding_sets_the_enum(page) -> None:
    combo = page.form.bindings["interruption_level"].widget
    combo.setCurrentIndex(combo.findData(InterruptionLevel.CRITICAL))
    assert page.model.draft.message.interruption_level is InterruptionLevel.CRITICAL
    assert page.previews.grid.cards["ios.timesensitive"].caption  # re-measured


def test_actions_and_data_tables(page) -> None:
    page.form.actions_editor.add_row(["buy", "Buy now", "no", ""])
    page.form.actions_editor.add_row(["stop", "Stop", "yes", ""])
    actions = page.model.draft.message.actions
    assert [a.title for a in actions] == ["Buy now", "Stop"]
    assert actions[1].destructive
    page.form.data_editor.add_row(["order", "42"])
    page.form.data_editor.add_row(["note", "hi"])
    assert dict(page.model.draft.message.data) == {"order": 42, "note": "hi"}
    page.model.undo_stack.undo()
    assert dict(page.model.draft.message.data) == {"order": 42}


def test_payloads_and_lint_follow_the_draft(page, qtbot, monkeypatch) -> None:
    import json

    from pushdeck.core.messages import payloads

    def fake_previews(message, **_):
        text = json.dumps({"aps": {"alert": {"title": message.title}}}, indent=2)
        return {
            "ios": payloads.PayloadPreview("ios", text, len(text), 4096),
            "android": payloads.PayloadPreview("android", "", 0, 4096, "Too big: 5000 bytes"),
            "web": payloads.PayloadPreview("web", "{}", 5000, 3993),
        }

    monkeypatch.setattr(payloads, "preview_payloads", fake_previews)
    page.form.bindings["title"].widget.setText("")
    qtbot.keyClicks(page.form.bindings["title"].widget, "Sale")
    page.refresh_payloads()
    assert '"Sale"' in page.payloads.json_views["ios"].toPlainText()
    assert page.payloads.meter_labels["ios"].text().endswith("B (1%)")
    assert "Too big" in page.payloads.json_views["android"].toPlainText()
    assert page.payloads.meter_labels["web"].text().endswith("over!")
    assert page.payloads.lint_list.count() >= 1


def test_payload_panel_survives_a_failing_builder(page, monkeypatch) -> None:
    from pushdeck.core.messages import payloads

    def broken(message, **_):
        raise TypeError("half-built")

    monkeypatch.setattr(payloads, "preview_payloads", broken)
    page.refresh_payloads()
    assert "half-built" in page.payloads.json_views["ios"].toPlainText()


def test_localization_tab_and_fallback(page) -> None:
    page.form.localizations.add_locale("pt_br")
    assert "pt-BR" in page.model.draft.localizations
    assert fallback_text("pt-BR") == "pt-BR → pt → default"
    edit = page.form.localizations.edits["pt-BR"]["title"]
    assert edit.placeholderText() == "Hello"  # shows what an empty field falls back to
    edit.setText("Olá")
    edit.textEdited.emit("Olá")
    index = page.recipient.findText("Sample recipient · pt-BR · Ana")
    page.recipient.setCurrentIndex(index)
    assert _card_text(page, "ios.lock", "title") == "Olá"


def test_variables_personalize_the_preview(page) -> None:
    title = page.form.bindings["title"].widget
    title.setFocus()
    title.setCursorPosition(len(title.text()))
    page.form.insert_variable("first_name")
    assert page.model.draft.message.title == "Hello" + variable_snippet("first_name")
    assert _card_text(page, "ios.lock", "title") == "HelloAna"
    page.recipient.setCurrentIndex(0)  # as written
    assert "{{" in _card_text(page, "android.bigtext", "title")


def test_broken_template_shows_the_problem_not_a_crash(page) -> None:
    page.model.set_field("title", "Hi {{ first_name ")
    assert page.problem.text()
    assert _card_text(page, "ios.lock", "title").startswith("Hi {{")


def test_variants_preview(page) -> None:
    page.form.variants.add_row(["B", "50", "Variant B title", ""])
    assert [v.name for v in page.model.draft.variants] == ["B"]
    page.variant.setCurrentIndex(page.variant.findData("B"))
    assert _card_text(page, "ios.lock", "title") == "Variant B title"


def test_draft_document_round_trip() -> None:
    draft = Draft(Message(title="A", badge=2), {"de": {"title": "B"}})
    again = Draft.from_document(draft.to_document())
    assert again == draft
    message, problem = personalize(again, sample_device("de-AT"))
    assert message.title == "B" and not problem


def test_autosave_emits_the_document(page, qtbot) -> None:
    with qtbot.wait_signal(page.autosave_requested, timeout=3000) as blocker:
        page.model.set_field("body", "Autosaved")
    assert blocker.args[0]["message"]["body"] == "Autosaved"


def test_dark_toggle_and_focus_export(page, tmp_path, qtbot) -> None:
    page.previews.dark_box.setChecked(True)
    page.previews.grid.cards["android.bigtext"].activated.emit("android.bigtext")
    assert page.previews.focus.card.state.key == "android.bigtext"
    path = page.previews.focus.export_png(tmp_path / "x.png")
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert image.width() == 2 * 412  # exported at 2x for sharing


def test_focus_view_lists_shown_lines_and_the_hidden_rest(page) -> None:
    page.model.set_field("body", "word " * 80 + "THE END")
    page.previews.grid.cards["android.collapsed"].activated.emit("android.collapsed")
    details = page.previews.focus.details.text()
    assert "Cut here; not shown" in details
    assert "THE END" in details  # the hidden rest is listed


def test_undo_shortcut_goes_to_the_form_wide_stack(page, qtbot) -> None:
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent

    title = page.form.bindings["title"].widget
    undo = QKeyEvent(
        QEvent.Type.ShortcutOverride, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
    )
    assert page.form.eventFilter(title, undo)  # the field does not claim Ctrl+Z
    assert not undo.isAccepted()
    letter = QKeyEvent(QEvent.Type.ShortcutOverride, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier)
    assert not page.form.eventFilter(title, letter)


def test_loc_args_edit_as_a_list(page, qtbot) -> None:
    args = page.form.bindings["body_loc_args"].widget
    qtbot.keyClicks(args, "Ana, 3")
    assert page.model.draft.message.body_loc_args == ("Ana", "3")


def test_zoom_scales_the_pictures_not_the_measurement(page) -> None:
    card = page.previews.grid.cards["ios.lock"]
    page.previews.zoom_box.setCurrentIndex(page.previews.zoom_box.findData(1.0))
    full_width, cut = card.width(), card.measured.blocks["body"].cut
    page.previews.zoom_box.setCurrentIndex(page.previews.zoom_box.findData(0.5))
    assert card.width() == full_width // 2
    assert card.measured.blocks["body"].cut == cut


def test_loading_a_draft_does_not_autosave_it(page, qtbot) -> None:
    with qtbot.assert_not_emitted(page.autosave_requested, wait=1000):
        page.load_document({"message": {"title": "Loaded"}})
    assert page.model.draft.message.title == "Loaded"
