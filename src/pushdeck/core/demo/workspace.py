"""The demo workspace: a sandbox app, a few thousand simulated devices, segments,
and (once the campaign engine is present) a sent campaign with engagement data.

Everything is deterministic from the seed, so screenshots and tests are stable.
It needs no credentials and no keyring: the app sends through the sandbox.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app, app_names
from pushdeck.core.store.segment_rules import parse_rule
from pushdeck.core.store.segments import Segment, save_segment
from pushdeck.core.store.workspace import Workspace

DEMO_APP = App(
    "Pushdeck Demo",
    apns_topic="com.pushdeck.demo",
    android_package="com.pushdeck.demo",
    web_origin="https://demo.pushdeck.invalid",
)

_LOCALES = [
    ("en-US", "America/New_York", 24),
    ("en-US", "America/Los_Angeles", 10),
    ("en-GB", "Europe/London", 10),
    ("pt-BR", "America/Sao_Paulo", 14),
    ("pt-PT", "Europe/Lisbon", 4),
    ("de-DE", "Europe/Berlin", 10),
    ("fr-FR", "Europe/Paris", 9),
    ("es-ES", "Europe/Madrid", 7),
    ("ja-JP", "Asia/Tokyo", 6),
    ("ar-EG", "Africa/Cairo", 3),
    ("he-IL", "Asia/Jerusalem", 3),
]
_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emma",
    "Felipe",
    "Grace",
    "Hiro",
    "Inês",
    "Jonas",
    "Karim",
    "Lena",
    "Mateus",
    "Noa",
    "Olivia",
    "Pedro",
    "Quentin",
    "Rosa",
    "Sven",
    "Yuki",
]
_TAGS = ["vip", "beta", "newsletter", "churn-risk", "premium-trial"]

DEMO_SEGMENTS = [
    ("iOS users", "platform = ios", "Every opted-in iPhone and iPad"),
    ("Portuguese speakers", "locale ^= pt", "pt-BR and pt-PT"),
    ("VIP customers", "tag has vip", "Tagged vip by the CRM"),
    ("Active this week", "last_seen within 7d", "Seen in the last 7 days"),
    ("Big spenders", "attr.purchases >= 10", "Ten purchases or more"),
    ("Test devices", "test = true", "The team's own phones and browsers"),
]


def demo_devices(count: int, seed: int = 7, now: datetime | None = None) -> list[dict[str, Any]]:
    """Device records for the demo, deterministic from ``seed``."""
    rng = random.Random(seed)
    moment = now or datetime.now(UTC)
    weights = [w for _, _, w in _LOCALES]
    records = []
    for index in range(count):
        platform = rng.choices(["ios", "android", "web"], weights=[45, 40, 15])[0]
        locale, zone, _ = rng.choices(_LOCALES, weights=weights)[0]
        seen = moment - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        created = seen - timedelta(days=rng.randint(0, 400))
        tags = sorted({t for t in _TAGS if rng.random() < 0.18})
        records.append(
            {
                "platform": platform,
                "provider": ProviderKind.SANDBOX.value,
                "token": f"sbx-{platform}-{index:06d}-{rng.getrandbits(48):012x}",
                "p256dh": "",
                "auth": "",
                "environment": "production",
                "opt_in": rng.choices(["authorized", "provisional", "denied"], [88, 6, 6])[0],
                "locale": locale,
                "timezone": zone,
                "tags": json.dumps(tags),
                "attributes": json.dumps(
                    {
                        "first_name": rng.choice(_NAMES),
                        "plan": rng.choices(["free", "plus", "pro"], [70, 20, 10])[0],
                        "purchases": int(rng.expovariate(1 / 4)),
                    },
                    sort_keys=True,
                ),
                "test": 1 if index < 5 else 0,
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "last_seen": seen.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return records


#: Set by the campaign engine module when it is importable: (ws, app name) -> None.
CampaignSeeder = Callable[[Workspace, str], None]


def create_demo(path: Path, *, devices: int = 3000, seed: int = 7) -> Path:
    """Create a ready demo workspace at ``path`` (which must not exist yet)."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; the demo never overwrites a file.")
    fill_demo(path, devices=devices, seed=seed)
    return path


def fill_demo(target: Path | str, *, devices: int = 3000, seed: int = 7) -> None:
    """Make the demo in a new workspace: a file, or an empty PostgreSQL database (URI)."""
    with Workspace.open(target) as ws:
        if app_names(ws):
            raise FileExistsError(
                f"{ws.location} already holds a workspace; the demo never overwrites one."
            )
        app_id = add_app(ws, DEMO_APP).id
        from pushdeck.core.credentials import (  # local: keeps demo importable without keyring use
            secrets,
        )

        secrets.store_credential(
            ws,
            DEMO_APP.name,
            ProviderKind.SANDBOX,
            "sandbox",
            None,
            {"behaviour": {"failure_rate": 0.02, "open_rate": 0.14, "seed": seed}},
        )
        records = demo_devices(devices, seed)
        for record in records:
            record["app_id"] = app_id
        for start in range(0, len(records), 5000):
            device_store.upsert_devices(ws, records[start : start + 5000])
        for name, text, description in DEMO_SEGMENTS:
            save_segment(ws, Segment(name, parse_rule(text), description))
        _seed_campaign(ws)


def _seed_campaign(ws: Workspace) -> None:
    """Add a sent campaign with engagement when the campaign engine offers a seeder."""
    try:
        from pushdeck.core.demo.campaign import seed_demo_campaign
    except ImportError:
        return
    seed_demo_campaign(ws, DEMO_APP.name)
