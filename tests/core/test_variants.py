"""Variant assignment: deterministic, proportional, with a hold-out control group."""

from __future__ import annotations

import uuid
from collections import Counter

from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.campaigns.variants import CONTROL, assign_variant, bucket, notification_id
from pushdeck.core.common.model import Device, Platform, ProviderKind

DOC = {
    "name": "AB",
    "app": "shop",
    "audience": {"all": True},
    "message": {"title": "x"},
    "variants": [{"name": "A", "percent": 70}, {"name": "B", "percent": 30}],
    "control_percent": 10,
}


def dev(i: int) -> Device:
    return Device("shop", Platform.IOS, ProviderKind.APNS, f"token-{i}")


def test_assignment_is_stable_and_proportional() -> None:
    spec = spec_from_dict(DOC)
    arms = Counter(assign_variant(spec, dev(i)) for i in range(20_000))
    assert abs(arms[CONTROL] / 20_000 - 0.10) < 0.01
    assert abs(arms["A"] / 20_000 - 0.63) < 0.015  # 70 % of the 90 % not held out
    assert abs(arms["B"] / 20_000 - 0.27) < 0.015
    assert [assign_variant(spec, dev(i)) for i in range(50)] == [
        assign_variant(spec, dev(i)) for i in range(50)
    ]


def test_bucket_is_a_known_constant() -> None:
    # SHA-256 based, so it never changes across Python versions or processes.
    assert bucket("AB", "shop", "token-1") == bucket("AB", "shop", "token-1")
    assert 0 <= bucket("AB", "shop", "token-1") < 10_000
    assert bucket("AB", "shop", "token-1") != bucket("AC", "shop", "token-1")


def test_no_variants_no_control_means_everyone_in_default_arm() -> None:
    spec = spec_from_dict({**DOC, "variants": [], "control_percent": 0})
    assert {assign_variant(spec, dev(i)) for i in range(200)} == {""}


def test_notification_id_is_uuid5_of_campaign_and_device() -> None:
    nid = notification_id("AB", "shop", "token-1")
    assert uuid.UUID(nid).version == 5
    assert nid == notification_id("AB", "shop", "token-1")
    assert nid != notification_id("AB", "shop", "token-2")


def test_notification_id_equals_the_standard_uuid5() -> None:
    # The id is computed by hand for speed; it must stay exactly uuid.uuid5, because a
    # resumed campaign re-sends with the ids an older version gave (APNs apns-id).
    from pushdeck.core.campaigns.variants import NOTIFICATION_NAMESPACE

    for campaign, app, token in [("AB", "shop", "token-1"), ("é ✓", "", "x" * 300), ("", "", "")]:
        expected = uuid.uuid5(NOTIFICATION_NAMESPACE, f"{campaign}\x1f{app}\x1f{token}")
        assert notification_id(campaign, app, token) == str(expected)
