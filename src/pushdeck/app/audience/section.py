"""The Audience section of the window: the devices table and the segments, as two tabs."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from pushdeck.app.audience.page import AudiencePage
from pushdeck.app.segments.page import SegmentsPage
from pushdeck.app.tasks import TaskRunner


class AudienceSection(QTabWidget):
    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Audience")
        self.devices = AudiencePage(runner)
        self.segments = SegmentsPage(runner)
        self.addTab(self.devices, "Devices")
        self.addTab(self.segments, "Segments")
        self.segments.segments_changed.connect(self.devices.reload)
        self.devices.devices_changed.connect(self.segments.recount)
        runner.workspace_changed.connect(self._on_workspace_changed)

    def _on_workspace_changed(self, areas: frozenset[str]) -> None:
        # Devices imported or segments saved elsewhere (the CLI, the collector, a worker).
        # The segment editor keeps unsaved edits through this (SegmentsPage.reload).
        if areas & {"devices", "segments"}:
            self.reload()

    def reload(self) -> None:
        """A workspace opened (or changed): refill both tabs."""
        self.devices.reload()
        self.segments.reload()
