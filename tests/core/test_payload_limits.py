"""A payload over its platform's limit is shown with its real size and the bytes over, and
is an error in lint (base message, and each variant and localization of a campaign)."""

from __future__ import annotations

from pathlib import Path

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.review import review_campaign
from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignSpec, VariantSpec
from pushdeck.core.common.model import Message
from pushdeck.core.demo.workspace import DEMO_APP, create_demo
from pushdeck.core.messages.payloads import lint, preview_payloads
from pushdeck.core.messages.payloads.lint import Severity
from pushdeck.core.store import Workspace

LONG = "Everything must go, today only! " * 150  # about 4,800 bytes


def test_an_oversize_payload_keeps_its_size_and_text() -> None:
    previews = preview_payloads(Message(title="Sale", body=LONG))
    for platform in ("ios", "android", "web"):
        preview = previews[platform]
        assert not preview.ok
        assert preview.size > preview.limit and preview.over == preview.size - preview.limit
        assert '"Sale"' in preview.text  # the JSON is still there to look at
        assert f"{preview.over} bytes over" in preview.error


def test_a_payload_that_fits_is_not_over() -> None:
    preview = preview_payloads(Message(title="Sale", body="Short"))["ios"]
    assert preview.ok and preview.over == 0


def test_lint_reports_each_oversize_platform_as_an_error() -> None:
    errors = [w for w in lint(Message(title="Sale", body=LONG)) if w.code == "payload-too-large"]
    assert len(errors) == 3
    assert all(w.severity is Severity.ERROR for w in errors)
    assert lint(Message(title="Sale", body=LONG))[0].code == "payload-too-large"  # errors first
    assert any("over its 4,096-byte limit" in w.message for w in errors)
    assert not [w for w in lint(Message(title="S", body="x")) if w.code == "payload-too-large"]


def test_review_flags_an_oversize_variant_and_localization(tmp_path: Path) -> None:
    path = create_demo(tmp_path / "d.pushdeck", devices=30)
    with Workspace.open(path) as ws:
        spec = CampaignSpec(
            "Big B",
            DEMO_APP.name,
            Message(title="Sale", body="Short and fine"),
            AudienceSpec(AudienceKind.ALL),
            localizations={"pt-BR": {"body": LONG}},
            variants=(VariantSpec("A", 50), VariantSpec("B", 50, {"body": LONG})),
        )
        create_campaign(ws, spec)
        review = review_campaign(ws, "Big B")
    errors = [(field, text) for severity, field, text in review.lint if severity == "error"]
    places = {field for field, _ in errors}
    assert "payload (variant B)" in places
    assert "payload (pt-BR)" in places and "payload (variant A, pt-BR)" in places
    assert "payload (base message)" not in places and "payload (variant A)" not in places
    assert all("bytes over" not in text or "over its" in text for _, text in errors)
