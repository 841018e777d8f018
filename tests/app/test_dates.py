"""One date format everywhere: the user's locale and time zone, UTC on hover."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pushdeck.app.campaigns.model import CampaignListModel
from pushdeck.app.dates import format_when, utc_hint
from pushdeck.core.reports.campaign_list import CampaignRow

PROBE = """
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
from pushdeck.app.dates import format_when, utc_hint
print(format_when("2026-12-02T03:06:20Z"))
print(format_when("2026-12-02T03:06:20Z", seconds=True))
print(utc_hint("2026-12-02T03:06:20Z"))
"""


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("de_DE.UTF-8", "Europe/Berlin", ["02.12.2026 04:06", "02.12.2026 04:06:20"]),
        ("en_US.UTF-8", "America/New_York", ["12/1/2026 10:06 PM", "12/1/2026 10:06:20 PM"]),
        ("pt_BR.UTF-8", "America/Sao_Paulo", ["02/12/2026 00:06", "02/12/2026 00:06:20"]),
        # No locale at all (LANG unset, a server): ISO order, never "2 12 2026".
        ("C", "UTC", ["2026-12-02 03:06", "2026-12-02 03:06:20"]),
    ],
)
def test_dates_follow_the_users_locale_and_time_zone(locale, zone, expected) -> None:
    env = {**os.environ, "LC_ALL": locale, "LANG": locale, "TZ": zone}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    # Some ICU versions write a plain space before AM/PM, others a narrow no-break space.
    assert [line.replace("\u202fPM", " PM") for line in out[:2]] == expected
    assert out[2] == "2026-12-02 03:06:20 UTC"  # the hover text never changes


def test_empty_and_garbage_show_nothing_not_a_traceback(qapp) -> None:
    assert format_when("") == "" and format_when(None, empty="never") == "never"
    assert format_when("not a date") == "" and utc_hint("not a date") == ""


def test_campaign_list_uses_the_one_format_with_utc_on_hover(qapp) -> None:
    from PySide6.QtCore import Qt

    model = CampaignListModel()
    created, finished = "2026-12-02T03:06:20Z", "2026-12-02T04:34:00Z"
    model.set_rows([CampaignRow("A", "sent", "app", 1, 1, 1, 0, created, "", finished)])
    assert model.data(model.index(0, 6)) == format_when(created)
    assert model.data(model.index(0, 8)) == format_when(finished)
    assert model.data(model.index(0, 6), Qt.ItemDataRole.ToolTipRole) == ("2026-12-02 03:06:20 UTC")
    assert "T" not in model.data(model.index(0, 6)) and "Z" not in model.data(model.index(0, 6))
