"""Campaigns in the states a report must survive: never sent, nothing accepted, no
events, still sending (shared by the core and app report tests)."""

from __future__ import annotations

from typing import Any

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import add_devices

#: name -> (status, journal states in device order, variants)
CASES: dict[str, tuple[str, list[str], bool]] = {
    "Draft": ("draft", [], False),
    "Draft AB": ("draft", [], True),
    "Nothing accepted": ("sent", ["rejected", "rejected", "dead", "excluded"], False),
    "No events": ("sent", ["accepted", "accepted", "accepted"], False),
    "Still sending": ("sending", ["accepted", "in_flight", "queued", "queued", "queued"], True),
    "Every device skipped": ("failed", ["skipped", "skipped"], False),
}


def build_cases(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"r{i}"} for i in range(5)])
    ids = [r[0] for r in ws.query("SELECT id FROM devices ORDER BY id")]
    for name, (status, states, variants) in CASES.items():
        doc: dict[str, Any] = {
            "name": name,
            "app": "shop",
            "audience": {"all": True},
            "message": {"title": "Hello", "body": "Body"},
        }
        if variants:
            doc["variants"] = [
                {"name": "A", "percent": 50},
                {"name": "B", "percent": 50, "message": {"body": "Other"}},
            ]
        campaign = create_campaign(ws, spec_from_dict(doc))
        with ws.transaction() as conn:
            started = None if status == "draft" else "2026-05-01T09:00:00Z"
            conn.execute(
                "UPDATE campaigns SET status = ?, started_at = ? WHERE id = ?",
                (status, started, campaign.id),
            )
            conn.executemany(
                "INSERT INTO journal (campaign_id, device_id, platform, locale, variant, state,"
                " reason) VALUES (?, ?, 'ios', 'en', ?, ?, ?)",
                [
                    (campaign.id, ids[i], ("A", "B")[i % 2] if variants else "", state,
                     "BadDeviceToken" if state == "rejected" else "")
                    for i, state in enumerate(states)
                ],
            )  # fmt: skip
