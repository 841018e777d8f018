"""Create a campaign from the composer's draft: name, audience, throttle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from pushdeck.app.errors import describe
from pushdeck.app.tasks import TaskRunner, WorkerContext, WorkspaceTie
from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignSpec

TEST_DEVICES = "Test devices only"
EVERYONE = "Every device of the app"


class NewCampaignDialog(QDialog):
    """Signals:
    created(str): the campaign was stored (its name).
    """

    created = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        spec_source: Callable[[], CampaignSpec],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.spec_source = runner, spec_source
        self.setWindowTitle("New campaign from the composer")
        self.setAccessibleName("New campaign")
        self.name = QLineEdit()
        self.name.setAccessibleName("Campaign name")
        self.name.setPlaceholderText("e.g. Spring sale")
        self.app = QComboBox()
        self.app.setAccessibleName("App")
        self.audience = QComboBox()
        self.audience.setAccessibleName("Audience")
        self.throttle = QSpinBox()
        self.throttle.setRange(0, 10_000_000)
        self.throttle.setSingleStep(1000)
        self.throttle.setSpecialValueText("no limit")
        self.throttle.setSuffix(" / minute")
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create and review")
        self.buttons.accepted.connect(self.create_campaign)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel("The message is the composer's current draft (title, body, variants)."))
        form.addRow("Name:", self.name)
        form.addRow("App:", self.app)
        form.addRow("Audience:", self.audience)
        form.addRow("Throttle:", self.throttle)
        form.addRow(self.error)
        form.addRow(self.buttons)
        self.audience.addItems([TEST_DEVICES, EVERYONE])
        # Another workspace opened: the apps and segments offered are the last one's.
        self.tie = WorkspaceTie(runner, self, close=True)
        runner.run(_segments, self._on_runner_segments)

    def _on_runner_segments(self, result: tuple[list[str], list[str]]) -> None:
        names, apps = result
        self.app.addItems(apps)
        draft_app = self.spec_source().app
        if draft_app in apps:
            self.app.setCurrentText(draft_app)
        for name in names:
            self.audience.addItem(f"Segment: {name}", name)

    def audience_spec(self) -> AudienceSpec:
        segment = self.audience.currentData()
        if segment:
            return AudienceSpec(AudienceKind.SEGMENT, segment=segment)
        if self.audience.currentText() == TEST_DEVICES:
            return AudienceSpec(AudienceKind.TEST)
        return AudienceSpec(AudienceKind.ALL)

    def create_campaign(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.error.setText("Give the campaign a name.")
            self.name.setFocus()
            return
        spec = replace(
            self.spec_source(),
            name=name,
            app=self.app.currentText() or self.spec_source().app,
            audience=self.audience_spec(),
            throttle_per_minute=self.throttle.value(),
        )

        def job(ctx: WorkerContext) -> str:
            from pushdeck.core.campaigns.library import create_campaign

            return create_campaign(ctx.require_ws(), spec).name

        self.buttons.setEnabled(False)
        self.runner.run(job, self._on_runner_created, self._on_runner_failed)

    def _on_runner_created(self, name: str) -> None:
        self.created.emit(name)
        self.accept()

    def _on_runner_failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(describe(exc))


def _segments(ctx: WorkerContext) -> tuple[list[str], list[str]]:
    from pushdeck.core.store.apps import list_apps
    from pushdeck.core.store.segments import list_segments

    ws = ctx.require_ws()
    return [s.name for s in list_segments(ws)], [a.name for a in list_apps(ws)]
