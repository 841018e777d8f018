"""One way to show a moment everywhere in the app: the user's locale and time zone, with the
UTC time on hover.

The workspace stores UTC (``2026-12-02T03:06:20Z``); widgets never show that text, nor a
format of their own. ``format_when`` gives the short locale format with a four-digit year
("12/2/2026 3:06 AM" in en_US, "02.12.2026 04:06" in de_DE at Berlin time); ``utc_hint``
the exact UTC time for a tooltip; ``set_when`` does both on a table item or label.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, QLocale, QTimeZone
from PySide6.QtWidgets import QDateTimeEdit, QLabel, QTableWidgetItem

Moment = str | datetime | QDateTime | None


def to_local(value: Moment) -> QDateTime | None:
    """``value`` (UTC text from the workspace, an aware datetime or a QDateTime) in the
    user's time zone; None when empty or not a time."""
    if value is None or value == "":
        return None
    if isinstance(value, QDateTime):
        moment = value
    else:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return None
        else:
            parsed = value
        if parsed.tzinfo is None:  # the workspace's times are UTC
            parsed = parsed.replace(tzinfo=UTC)
        utc = parsed.astimezone(UTC)
        moment = QDateTime.fromSecsSinceEpoch(int(utc.timestamp()), QTimeZone.utc())
    return moment.toLocalTime() if moment.isValid() else None


#: The "C" / POSIX locale (no LANG set, e.g. a server or a CI box) has no real date format
#: ("4 12 2026"): it gets ISO 8601's order instead, which nobody misreads.
C_DATE, C_TIME = "yyyy-MM-dd", "HH:mm"


def _is_c(locale: QLocale) -> bool:
    return locale.language() in (QLocale.Language.C, QLocale.Language.AnyLanguage)


def date_format(locale: QLocale | None = None) -> str:
    """The locale's short date format with a four-digit year (no "12/2/26")."""
    locale = locale or QLocale()
    if _is_c(locale):
        return C_DATE
    fmt = locale.dateFormat(QLocale.FormatType.ShortFormat)
    if "yyyy" not in fmt:
        fmt = fmt.replace("yy", "yyyy")
    return fmt


def datetime_format(locale: QLocale | None = None, *, seconds: bool = False) -> str:
    """Date and time in the locale's short forms (hours and minutes, seconds on request)."""
    locale = locale or QLocale()
    time = C_TIME if _is_c(locale) else locale.timeFormat(QLocale.FormatType.ShortFormat)
    if seconds and ":ss" not in time:
        time = time.replace(":mm", ":mm:ss")
    return f"{date_format(locale)} {time}"


def format_when(value: Moment, *, seconds: bool = False, empty: str = "") -> str:
    """The moment as the user reads dates: their locale, their time zone."""
    moment = to_local(value)
    if moment is None:
        return empty
    return QLocale().toString(moment, datetime_format(seconds=seconds))


def format_date(value: Moment, *, empty: str = "") -> str:
    moment = to_local(value)
    return QLocale().toString(moment.date(), date_format()) if moment is not None else empty


def utc_hint(value: Moment) -> str:
    """The exact time in UTC, for a tooltip."""
    moment = to_local(value)
    if moment is None:
        return ""
    return moment.toUTC().toString("yyyy-MM-dd HH:mm:ss") + " UTC"


def set_when(widget: QTableWidgetItem | QLabel, value: Moment, *, empty: str = "") -> None:
    """Show ``value`` in ``widget`` the one way, with UTC on hover."""
    widget.setText(format_when(value, empty=empty))
    widget.setToolTip(utc_hint(value))


def use_locale_format(edit: QDateTimeEdit, *, with_time: bool = True) -> None:
    """A date (and time) editor in the same format; it edits the user's local time."""
    edit.setDisplayFormat(datetime_format() if with_time else date_format())
