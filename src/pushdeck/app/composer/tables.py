"""Composer editors for list-like parts: actions, custom data, localizations, A/B variants."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.composer.draft import LOCALIZED_FIELDS, Draft
from pushdeck.app.composer.model import ComposerModel
from pushdeck.app.selection import follow_selection
from pushdeck.core.campaigns.spec import VariantSpec, normalize_locale
from pushdeck.core.campaigns.templating import locale_chain
from pushdeck.core.common.model import Action


def _cell_text(item: QTableWidgetItem | None) -> str:
    return item.text() if item is not None else ""


class _TableEditor(QWidget):
    """A table with Add / Remove buttons; subclasses map rows to and from the draft."""

    columns: tuple[str, ...] = ()

    def __init__(self, model: ComposerModel, title: str) -> None:
        super().__init__()
        self._model = model
        self._showing = False
        self.table = QTableWidget(0, len(self.columns))
        self.table.setHorizontalHeaderLabels(list(self.columns))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName(title)
        self.table.itemChanged.connect(self._on_table_item_changed)
        add, remove = QPushButton("Add"), QPushButton("Remove")
        add.setAccessibleName(f"Add to {title}")
        remove.setAccessibleName(f"Remove from {title}")
        add.clicked.connect(self._on_add_clicked)
        remove.clicked.connect(self._on_remove_clicked)
        follow_selection(self.table, [remove])  # Remove needs a row
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def rows(self) -> list[list[str]]:
        return [
            [_cell_text(self.table.item(r, c)) for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]

    def set_rows(self, rows: list[list[str]]) -> None:
        if rows == self.rows():
            return
        self._showing = True
        try:
            self.table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    self.table.setItem(r, c, QTableWidgetItem(value))
        finally:
            self._showing = False

    def add_row(self, values: list[str]) -> None:
        self.set_rows([*self.rows(), values])
        self._commit()

    def _on_add_clicked(self) -> None:
        self.add_row(self.new_row())

    def _on_remove_clicked(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            row = self.table.rowCount() - 1
        if row >= 0:
            self.table.removeRow(row)
            self._commit()

    def _on_table_item_changed(self, _item: QTableWidgetItem) -> None:
        if not self._showing:
            self._commit()

    def new_row(self) -> list[str]:
        return [""] * len(self.columns)

    def _commit(self) -> None:
        raise NotImplementedError

    def show_draft(self, draft: Draft) -> None:
        raise NotImplementedError


class ActionsEditor(_TableEditor):
    columns = ("Id", "Title", "Destructive (yes/no)", "Web icon")

    def new_row(self) -> list[str]:
        n = self.table.rowCount() + 1
        return [f"action{n}", f"Action {n}", "no", ""]

    def _commit(self) -> None:
        actions = tuple(
            Action(
                id=row[0].strip() or f"action{i + 1}",
                title=row[1],
                destructive=row[2].strip().lower() in ("yes", "y", "true", "1"),
                icon=row[3].strip(),
            )
            for i, row in enumerate(self.rows())
        )
        self._model.edit(lambda d: d.with_field("actions", actions), text="Edit actions")

    def show_draft(self, draft: Draft) -> None:
        self.set_rows(
            [
                [a.id, a.title, "yes" if a.destructive else "no", a.icon]
                for a in draft.message.actions
            ]
        )


def _parse_value(text: str) -> Any:
    """Custom data values: JSON when it parses (numbers, true, objects), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class DataEditor(_TableEditor):
    columns = ("Key", "Value")

    def new_row(self) -> list[str]:
        return [f"key{self.table.rowCount() + 1}", ""]

    def _commit(self) -> None:
        data = {row[0].strip(): _parse_value(row[1]) for row in self.rows() if row[0].strip()}
        self._model.edit(lambda d: d.with_field("data", data), text="Edit custom data")

    def show_draft(self, draft: Draft) -> None:
        self.set_rows([[k, _format_value(v)] for k, v in draft.message.data.items()])


class VariantsEditor(_TableEditor):
    columns = ("Name", "Percent", "Title override", "Body override")

    def new_row(self) -> list[str]:
        return [chr(ord("A") + self.table.rowCount()), "50", "", ""]

    def _commit(self) -> None:
        variants = []
        for row in self.rows():
            try:
                percent = float(row[1] or 0)
            except ValueError:
                percent = 0.0
            overrides = {k: v for k, v in (("title", row[2]), ("body", row[3])) if v}
            variants.append(VariantSpec(row[0].strip() or "A", percent, overrides))
        self._model.edit(
            lambda d: Draft(d.message, d.localizations, tuple(variants), d.app),
            text="Edit variants",
        )

    def show_draft(self, draft: Draft) -> None:
        self.set_rows(
            [
                [
                    v.name,
                    f"{v.percent:g}",
                    str(v.overrides.get("title", "")),
                    str(v.overrides.get("body", "")),
                ]
                for v in draft.variants
            ]
        )


def fallback_text(locale: str) -> str:
    """'pt-BR → pt → default': the order a device's locale is looked up in."""
    return " → ".join([*locale_chain(locale), "default"])


class LocalizationsEditor(QWidget):
    """A tab per locale, each with the localized fields and its fallback chain."""

    def __init__(self, model: ComposerModel) -> None:
        super().__init__()
        self._model = model
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Localizations")
        self.edits: dict[str, dict[str, QLineEdit]] = {}
        self.stale: dict[str, QWidget] = {}  # per locale: "written for an older base" row
        add = QPushButton("Add locale…")
        add.setAccessibleName("Add locale")
        add.clicked.connect(self._on_add_clicked)
        remove = QPushButton("Remove locale")
        remove.clicked.connect(self._on_remove_clicked)
        follow_selection(self.tabs, [remove])  # Remove needs a locale tab
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        hint = QLabel("Fields left empty fall back along the chain shown in each tab.")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(hint)
        layout.addWidget(self.tabs)
        layout.addLayout(buttons)

    def add_locale(self, locale: str) -> None:
        locale = normalize_locale(locale.strip())
        if locale and locale not in self._model.draft.localizations:
            self._model.edit(lambda d: d.with_locale(locale), text=f"Add locale {locale}")

    def _on_add_clicked(self) -> None:
        locale, ok = QInputDialog.getText(self, "Add locale", "Locale (e.g. pt-BR, de, ja):")
        if ok:
            self.add_locale(locale)

    def _on_remove_clicked(self) -> None:
        locale = self.tabs.tabText(self.tabs.currentIndex())
        if locale:
            self._model.edit(lambda d: d.without_locale(locale), text=f"Remove locale {locale}")

    def show_draft(self, draft: Draft) -> None:
        wanted = list(draft.localizations)
        current = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        if wanted != current:
            self.tabs.clear()
            self.edits, self.stale = {}, {}
            for locale in wanted:
                self.tabs.addTab(self._make_tab(locale), locale)
        stale = set(draft.stale_locales())
        for index, locale in enumerate(wanted):
            self.stale[locale].setVisible(locale in stale)
            why = f"{locale} was written before the base message changed"
            self.tabs.setTabToolTip(index, why if locale in stale else "")
        for locale, fields in draft.localizations.items():
            for name, edit in self.edits[locale].items():
                value = fields.get(name, "")
                if edit.text() != value:
                    edit.setText(value)
            self._update_placeholders(locale, draft)

    def _make_tab(self, locale: str) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Fallback:", QLabel(fallback_text(locale)))
        warning = QWidget()
        row = QHBoxLayout(warning)
        row.setContentsMargins(0, 0, 0, 0)
        note = QLabel(
            f"⚠ {locale} was written before the base message changed, and is sent as written."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #8a4b00;")
        current = QPushButton("It still matches")
        current.setAccessibleName(f"Mark {locale} up to date")
        current.setToolTip("The translation says the same as the base message now")
        current.clicked.connect(
            lambda _=False: self._model.edit(
                lambda d: d.with_locale_current(locale), text=f"Mark {locale} up to date"
            )
        )
        row.addWidget(note, 1)
        row.addWidget(current)
        warning.setVisible(False)
        self.stale[locale] = warning
        form.addRow(warning)
        self.edits[locale] = {}
        for name in LOCALIZED_FIELDS:
            edit = QLineEdit()
            edit.setAccessibleName(f"{locale} {name}")
            edit.textEdited.connect(
                lambda value, n=name: self._model.edit(
                    lambda d: d.with_localized(locale, n, value),
                    key=f"loc.{locale}.{n}",
                    text=f"Edit {locale} {n}",
                )
            )
            self.edits[locale][name] = edit
            form.addRow(name.capitalize() + ":", edit)
        return page

    def _update_placeholders(self, locale: str, draft: Draft) -> None:
        """Show, greyed, what an empty field falls back to."""
        for name, edit in self.edits[locale].items():
            fallback = str(getattr(draft.message, name))
            for candidate in locale_chain(locale)[1:]:
                if draft.localizations.get(candidate, {}).get(name):
                    fallback = draft.localizations[candidate][name]
                    break
            edit.setPlaceholderText(fallback)
        self.tabs.setTabToolTip(list(draft.localizations).index(locale), fallback_text(locale))
