"""The demo's sent campaign: an A/B test with a hold-out, sent through the sandbox.

``pushdeck.core.demo.workspace`` calls ``seed_demo_campaign`` after creating its devices. The
campaign really goes through the dispatcher (journal, variants, dead tokens), is then
dated two days back, and the sandbox's simulated engagement is recorded up to now,
so the reports have two days of opens to chart.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.simulated_engagement import simulate_campaign_engagement
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.credentials.secrets import load_credential
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import Credential, SandboxCredential
from pushdeck.core.store.demo import backdate_campaign
from pushdeck.core.store.workspace import Workspace

DEMO_CAMPAIGN = "Spring sale (demo)"
_AGE = timedelta(days=2)


def demo_spec(app: str) -> dict[str, object]:
    return {
        "name": DEMO_CAMPAIGN,
        "app": app,
        "description": "A/B test of two headlines with a 10 % hold-out group.",
        "audience": {"all": True},
        "message": {
            "title": 'Hi {{ first_name | default: "there" }}, spring sale!',
            "body": "20% off everything until Sunday.",
            "url": "https://shop.example/sale",
            "actions": [{"id": "shop", "title": "Shop now"}],
        },
        "localizations": {
            "pt": {
                "title": 'Olá {{ first_name | default: "você" }}, promoção!',
                "body": "20% de desconto em tudo até domingo.",
            },
            "es": {
                "title": '¡Hola {{ first_name | default: "" }}, rebajas!',
                "body": "20% de descuento hasta el domingo.",
            },
        },
        "variants": [
            {"name": "A", "percent": 50},
            {"name": "B", "percent": 50, "message": {"body": "Last chance: 20% off ends Sunday."}},
        ],
        "control_percent": 10,
        "ttl_seconds": 86400,
    }


def seed_demo_campaign(ws: Workspace, app: str) -> None:
    """Create, send (sandbox) and simulate engagement for the demo campaign."""
    create_campaign(ws, spec_from_dict(demo_spec(app)))
    credential = load_credential(ws, app, ProviderKind.SANDBOX)
    asyncio.run(_send(ws, credential))
    # Two days back, so the reports have two days of opens to chart.
    backdate_campaign(ws, get_campaign(ws, DEMO_CAMPAIGN).id, int(_AGE.total_seconds()))
    simulate_campaign_engagement(
        ws, DEMO_CAMPAIGN, open_rate={"A": 0.12, "B": 0.17, "": 0.12}, seed=7
    )


async def _send(ws: Workspace, credential: Credential) -> None:
    if isinstance(credential, SandboxCredential):  # the demo need not wait for latency
        credential = replace(credential, latency_ms=0.0)
    # The demo simulates its A/B engagement itself, two days back (seed_demo_campaign).
    provider = create_provider(credential, engagement=False)
    try:
        await send_campaign_async(
            ws,
            DEMO_CAMPAIGN,
            providers={ProviderKind.SANDBOX: provider},
            options=DispatchOptions(backoff_base=0.01, backoff_cap=0.05, retry_after_cap=0.01),
        )
    finally:
        await provider.aclose()
