"""The composer says what would go wrong: an oversize payload is red with the bytes over and
an error in lint; a translation of an older base message is flagged; a local image file is
said to work in previews only; inserted variables get a default of their type."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication

from pushdeck.app.composer.draft import Draft
from pushdeck.app.composer.form import is_local_file, variable_snippet
from pushdeck.app.composer.page import ComposerPage
from pushdeck.core.common.model import Device, Platform, ProviderKind

LONG = "Everything must go, today only! " * 150


@pytest.fixture
def page(qtbot, fonts):
    widget = ComposerPage()
    qtbot.addWidget(widget)
    widget.load_document({"message": {"title": "Hello", "body": "World"}})
    return widget


def _settle(qtbot, page: ComposerPage) -> None:
    # The payload panel follows typing a moment later: wait for that timer to have fired
    # (however late a loaded machine runs it), not for a fixed time.
    qtbot.wait_until(lambda: not page._payload_timer.isActive(), timeout=10_000)
    QCoreApplication.processEvents()


def _lint_texts(page: ComposerPage) -> list[str]:
    lint = page.payloads.lint_list
    return [lint.item(i).text() for i in range(lint.count())]


def test_an_oversize_payload_is_red_with_the_bytes_over(qtbot, page) -> None:
    page.model.set_field("body", LONG)
    _settle(qtbot, page)
    for key in ("ios", "android", "web"):
        bar, label = page.payloads.meters[key], page.payloads.meter_labels[key]
        assert bar.property("state") == "bad", key
        assert "B over" in label.text() and "not built" not in label.text()
        assert bar.value() == bar.maximum()  # full, red: nothing green about it
        assert '"Hello"' in page.payloads.json_views[key].toPlainText()
    errors = [t for t in _lint_texts(page) if t.startswith("⛔")]
    assert len(errors) == 3 and all("over its" in t for t in errors)
    page.model.set_field("body", "Short again")
    _settle(qtbot, page)
    assert page.payloads.meters["ios"].property("state") == "ok"
    assert not [t for t in _lint_texts(page) if t.startswith("⛔")]


def test_a_translation_of_an_older_base_message_is_flagged(qtbot, page) -> None:
    editor = page.form.localizations
    editor.add_locale("pt-BR")
    page.model.edit(lambda d: d.with_localized("pt-BR", "body", "Mundo"), text="pt")
    assert page.model.draft.stale_locales() == []
    page.model.set_field("body", "World, now with a price")  # the base changes afterwards
    _settle(qtbot, page)
    assert page.model.draft.stale_locales() == ["pt-BR"]
    assert editor.stale["pt-BR"].isVisibleTo(editor)
    assert any("pt-BR was written before the base message changed" in t for t in _lint_texts(page))
    # The campaign made from this draft carries it to the review (and the file).
    spec = page.model.draft.to_spec()
    from pushdeck.core.campaigns.spec import spec_from_dict, spec_to_dict, stale_localizations

    assert stale_localizations(spec_from_dict(spec_to_dict(spec))) == ["pt-BR"]
    # "It still matches" clears it; so does editing the translation.
    page.model.edit(lambda d: d.with_locale_current("pt-BR"), text="ok")
    assert page.model.draft.stale_locales() == []
    assert not editor.stale["pt-BR"].isVisibleTo(editor)


def test_the_draft_document_keeps_what_each_translation_was_written_for() -> None:
    draft = Draft().with_field("body", "One").with_localized("de", "body", "Eins")
    changed = Draft.from_document(draft.with_field("body", "Two").to_document())
    assert changed.stale_locales() == ["de"]


def test_a_local_image_file_is_said_to_work_in_previews_only(qtbot, page, tmp_path) -> None:
    note = page.form.image_note
    page.model.set_field("image_url", str(tmp_path / "sale.png"))
    assert not note.isHidden() and "previews only" in note.text()
    page.model.set_field("image_url", "https://cdn.example/sale.png")
    assert note.isHidden()
    assert is_local_file("C:\\Users\\ana\\sale.png") and is_local_file("file:///tmp/x.png")
    assert not is_local_file("data:image/png;base64,AAAA") and not is_local_file("")


def test_inserted_variables_get_a_default_of_their_type(page) -> None:
    device = Device(
        app="Pushdeck Demo", platform=Platform.IOS, provider=ProviderKind.SANDBOX, token="t",
        attributes={"first_name": "Ana", "purchases": 3, "vip": True, "plan": "pro"},
    )  # fmt: skip
    page.set_recipients([device], ["first_name", "purchases", "vip", "plan"])
    menu = {a.text().split()[0]: a.text() for a in page.form.variable_menu.actions()}
    assert menu["purchases"].endswith("{{ purchases | default: 0 }}")
    assert menu["vip"].endswith("{{ vip | default: false }}")
    assert menu["first_name"].endswith('{{ first_name | default: "there" }}')
    assert menu["plan"].endswith('{{ plan | default: "" }}')
    assert not any('"there"' in text for name, text in menu.items() if name != "first_name")
    page.model.set_field("title", "You bought ")
    page.form.insert_variable("purchases")
    assert page.model.draft.message.title == "You bought {{ purchases | default: 0 }}"
    assert variable_snippet("locale") == '{{ locale | default: "" }}'
