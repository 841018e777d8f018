"""The campaign list as a table model (an adapter over ``campaign_list.CampaignRow``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from pushdeck.app.dates import format_when, utc_hint
from pushdeck.core.reports.campaign_list import CampaignRow

Index = QModelIndex | QPersistentModelIndex
HEADERS = [
    "Name",
    "Status",
    "Audience",
    "Sent",
    "Accepted",
    "Opened",
    "Created",
    "Scheduled",
    "Finished",
]
ROW_ROLE = Qt.ItemDataRole.UserRole + 1


DATE_COLUMNS = (6, 7, 8)  # created, scheduled, finished


class CampaignListModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[CampaignRow] = []

    def set_rows(self, rows: list[CampaignRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row_named(self, name: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.name == name), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole and index.column() in DATE_COLUMNS:
            return utc_hint([row.created, row.scheduled, row.finished][index.column() - 6])
        if role == Qt.ItemDataRole.ToolTipRole and row.error:
            return row.error
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= index.column() <= 5:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        values = [
            row.name,
            row.status,
            f"{row.audience:,}",
            f"{row.sent:,}",
            f"{row.accepted:,}",
            f"{row.opened:,}",
            format_when(row.created),
            format_when(row.scheduled),
            format_when(row.finished),
        ]
        return values[index.column()]

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
