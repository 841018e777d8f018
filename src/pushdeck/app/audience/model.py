"""A lazy table model over the workspace's devices: pages fetched on the worker, cached.

The model is an adapter: it keeps a count and a few cached pages of core ``Device``
rows, never the whole table. Sorting and filtering are SQL (``pushdeck.core.devices.query``),
so a million devices sort and filter as fast as one page can be read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from pushdeck.app.dates import format_when, utc_hint
from pushdeck.app.tasks import TaskRunner, WorkerContext
from pushdeck.core.common.model import Device
from pushdeck.core.devices.query import DeviceQuery, LastAnswer

Index = QModelIndex | QPersistentModelIndex

#: (key, header, sortable); keys match ``store.device_search.SORT_KEYS`` where sortable.
COLUMNS: list[tuple[str, str, bool]] = [
    ("id", "#", True),
    ("app", "App", True),
    ("platform", "Platform", True),
    ("provider", "Provider", True),
    ("token", "Token / endpoint", True),
    ("locale", "Locale", True),
    ("timezone", "Time zone", True),
    ("opt_in", "Opt-in", True),
    ("status", "Status", True),
    ("answer", "Last provider answer", False),
    ("tags", "Tags", False),
    ("attributes", "Attributes", False),
    ("test", "Test", True),
    ("last_seen", "Last seen", True),
    ("created_at", "Added", True),
]
DEFAULT_HIDDEN = {"id", "app", "created_at", "attributes"}
LOADING = "…"
DEVICE_ROLE = Qt.ItemDataRole.UserRole + 1


def _page_job(query: DeviceQuery, offset: int, limit: int) -> Callable[[WorkerContext], Any]:
    def job(ctx: WorkerContext) -> tuple[list[Device], dict[int, LastAnswer]]:
        from pushdeck.core.devices import query as device_query

        ws = ctx.require_ws()
        rows = device_query.page(ws, query, offset, limit)
        answers = device_query.last_answers(ws, [d.id for d in rows if d.id is not None])
        return rows, answers

    return job


def _count_job(query: DeviceQuery) -> Callable[[WorkerContext], int]:
    def job(ctx: WorkerContext) -> int:
        from pushdeck.core.devices import query as device_query

        return device_query.count(ctx.require_ws(), query)

    return job


def _answer_text(answer: LastAnswer | None) -> str:
    if answer is None:
        return ""
    text = answer.state.replace("_", " ")
    return f"{text}: {answer.reason}" if answer.reason else text


def cell_text(key: str, device: Device, answer: LastAnswer | None) -> str:
    if key == "answer":
        return _answer_text(answer)
    if key == "tags":
        return ", ".join(device.tags)
    if key == "attributes":
        return ", ".join(f"{k}={v}" for k, v in device.attributes.items())
    if key == "test":
        return "yes" if device.test else ""
    if key == "status":
        reason = f" ({device.status_reason})" if device.status_reason else ""
        return f"{device.status}{reason}"
    if key in ("last_seen", "created_at"):
        return format_when(getattr(device, key))
    if key == "token" and device.subscription is not None:
        return device.subscription.endpoint
    return str(getattr(device, key, ""))


class DeviceTableModel(QAbstractTableModel):
    """Devices matching a ``DeviceQuery``, fetched ``page_size`` rows at a time.

    Signals:
        count_changed(int): the number of matching devices is known (after a query change).
        page_loaded(int): a page arrived (its first row).
        failed(object): a fetch raised (the exception).
    """

    count_changed = Signal(int)
    page_loaded = Signal(int)
    failed = Signal(object)

    def __init__(self, runner: TaskRunner, page_size: int = 200, max_pages: int = 40) -> None:
        super().__init__()
        self.runner = runner
        self.page_size = page_size
        self.max_pages = max_pages
        self.query = DeviceQuery()
        self._count = 0
        self._generation = 0
        self._pages: OrderedDict[int, tuple[list[Device], dict[int, LastAnswer]]] = OrderedDict()
        self._pending: set[int] = set()

    # --- the query ---------------------------------------------------------------------------

    def set_query(self, query: DeviceQuery) -> None:
        """Show the devices matching ``query``: counted, then paged in on demand."""
        self.query = query
        self._generation += 1
        generation = self._generation
        if self.runner.workspace_path is None:
            return  # nothing to count yet; the page reloads when a workspace opens
        self.runner.run(
            _count_job(query),
            lambda n: self._on_runner_counted(generation, n),
            self._on_runner_failed,
        )

    def refresh(self) -> None:
        self.set_query(self.query)

    def _on_runner_counted(self, generation: int, count: int) -> None:
        if generation != self._generation:
            return
        self.beginResetModel()
        self._count = count
        self._pages.clear()
        self._pending.clear()
        self.endResetModel()
        self.count_changed.emit(count)

    def _on_runner_failed(self, exc: BaseException) -> None:
        self.failed.emit(exc)

    @property
    def total(self) -> int:
        return self._count

    # --- paging ----------------------------------------------------------------------------

    def _request(self, number: int) -> None:
        if number in self._pending:
            return
        self._pending.add(number)
        generation = self._generation
        self.runner.run(
            _page_job(self.query, number * self.page_size, self.page_size),
            lambda result: self._on_runner_page(generation, number, result),
            self._on_runner_failed,
        )

    def _on_runner_page(
        self, generation: int, number: int, result: tuple[list[Device], dict[int, LastAnswer]]
    ) -> None:
        if generation != self._generation:
            return
        self._pending.discard(number)
        self._pages[number] = result
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        first = number * self.page_size
        last = min(first + len(result[0]), self._count) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        self.page_loaded.emit(first)

    def device_at(self, row: int) -> Device | None:
        """The device on ``row`` if its page is loaded (else asks for it and returns None)."""
        number, offset = divmod(row, self.page_size)
        cached = self._pages.get(number)
        if cached is None:
            self._request(number)
            return None
        self._pages.move_to_end(number)
        rows = cached[0]
        return rows[offset] if offset < len(rows) else None

    @property
    def cached_rows(self) -> int:
        return sum(len(p[0]) for p in self._pages.values())

    # --- Qt model API -----------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
                return COLUMNS[section][1]
            if orientation == Qt.Orientation.Vertical:
                return str(section + 1)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < self._count):
            return None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, DEVICE_ROLE):
            return None
        device = self.device_at(index.row())
        if device is None:
            return LOADING if role == Qt.ItemDataRole.DisplayRole else None
        if role == DEVICE_ROLE:
            return device
        number = index.row() // self.page_size
        answer = self._pages[number][1].get(device.id or 0)
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.ToolTipRole and key in ("last_seen", "created_at"):
            return utc_hint(getattr(device, key))
        return cell_text(key, device, answer)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not (0 <= column < len(COLUMNS)) or not COLUMNS[column][2]:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        self.set_query(
            DeviceQuery(self.query.search, self.query.segment, COLUMNS[column][0], descending)
        )
