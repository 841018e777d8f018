"""When a schedule's moments fall: a local time in a zone, the first instant anything is due.

Pure time arithmetic on the spec, below everything that stores or sends a campaign (the
library stores ``first_due_time`` as ``scheduled_at``; scheduling and hygiene use
``local_due``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pushdeck.core.campaigns.spec import ScheduleKind, ScheduleSpec
from pushdeck.core.common.errors import ValidationError

#: Every zone on Earth reaches a wall-clock time within this window of UTC.
_EARLIEST_OFFSET = timedelta(hours=14)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_due(schedule: ScheduleSpec, timezone: str) -> datetime:
    """The UTC instant at which ``schedule``'s local time arrives in ``timezone``."""
    if schedule.kind is not ScheduleKind.LOCAL:
        raise ValidationError("local_due needs a local-time schedule.")
    naive = datetime.strptime(f"{schedule.local_date} {schedule.local_time}", "%Y-%m-%d %H:%M")
    zone = _zone(timezone or schedule.default_timezone)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def first_due_time(schedule: ScheduleSpec) -> datetime | None:
    """The earliest instant anything of the campaign is due (None for 'now')."""
    if schedule.kind is ScheduleKind.AT:
        return schedule.at
    if schedule.kind is ScheduleKind.LOCAL:
        naive = datetime.strptime(f"{schedule.local_date} {schedule.local_time}", "%Y-%m-%d %H:%M")
        return naive.replace(tzinfo=UTC) - _EARLIEST_OFFSET
    return None
