"""Lint warnings: each check fires on the case it is for, and stays quiet otherwise."""

from __future__ import annotations

import pytest

from pushdeck.core.common.model import Action, InterruptionLevel, Message, Priority, PushType
from pushdeck.core.messages.payloads import LintWarning, Severity, lint

CLEAN = Message(
    title="Your order shipped",
    body="It arrives on Tuesday.",
    image_url="https://cdn.example.com/box.png",
    url="https://shop.example.com/orders/1",
    android_channel_id="orders",
    web_icon="https://cdn.example.com/icon.png",
    collapse_id="order-1",
)


def codes(message: Message) -> set[str]:
    return {w.code for w in lint(message)}


def with_(**changes: object) -> Message:
    from dataclasses import replace

    return replace(CLEAN, **changes)  # type: ignore[arg-type]


def test_clean_message_has_no_warnings() -> None:
    assert lint(CLEAN) == []


@pytest.mark.parametrize(
    ("message", "code", "field"),
    [
        (
            Message(content_available=True, priority=Priority.HIGH, android_channel_id="c"),
            "background-high-priority",
            "priority",
        ),
        (with_(push_type=PushType.BACKGROUND), "push-type-contradicts-content", "push_type"),
        (with_(content_available=True), "content-available-with-alert", "content_available"),
        (with_(collapse_id="c" * 65), "collapse-id-too-long", "collapse_id"),
        (with_(collapse_id="has spaces"), "collapse-id-not-web-topic", "collapse_id"),
        (with_(image_url="http://cdn.example.com/a.png"), "media-not-https", "image_url"),
        (with_(web_icon="http://cdn.example.com/i.png"), "media-not-https", "web_icon"),
        (with_(web_badge="/badge.png"), "media-not-https", "web_badge"),
        (with_(android_channel_id=""), "android-channel-missing", "android_channel_id"),
        (with_(title="T" * 36), "title-likely-truncated", "title"),
        (with_(body="b" * 131), "body-very-long", "body"),
        (
            with_(actions=(Action("a", "A"), Action("b", "B"), Action("c", "C"))),
            "too-many-web-actions",
            "actions",
        ),
        (with_(critical_sound=True), "critical-sound-level", "interruption_level"),
        (
            with_(interruption_level=InterruptionLevel.CRITICAL),
            "critical-entitlement",
            "interruption_level",
        ),
        (with_(badge=-1), "badge-negative", "badge"),
        (with_(ttl_seconds=0, priority=Priority.LOW), "ttl-zero-low-priority", "ttl_seconds"),
        (with_(image_url="", mutable_content=True), "mutable-content-no-image", "mutable_content"),
        (with_(relevance_score=1.5), "relevance-out-of-range", "relevance_score"),
        (with_(relevance_score=-0.1), "relevance-out-of-range", "relevance_score"),
        (with_(sound="sounds/chime.caf"), "sound-has-path", "sound"),
        (with_(data={"from": "x"}), "fcm-reserved-data-key", "data.from"),
        (with_(data={"notification": "x"}), "fcm-reserved-data-key", "data.notification"),
        (with_(data={"message_type": "x"}), "fcm-reserved-data-key", "data.message_type"),
        (with_(data={"google.c.a": "x"}), "fcm-reserved-data-key", "data.google.c.a"),
        (with_(data={"gcm.n.e": "1"}), "fcm-reserved-data-key", "data.gcm.n.e"),
        (with_(url="not a url"), "url-invalid", "url"),
        (with_(url="javascript:alert(1)"), "url-unsafe-scheme", "url"),
        (with_(url="myapp://orders/1"), "url-not-web", "url"),
        (Message(), "empty-message", "title"),
    ],
)
def test_each_check_fires(message: Message, code: str, field: str) -> None:
    found = [w for w in lint(message) if w.code == code]
    assert found, f"{code} not reported; got {codes(message)}"
    assert found[0].field == field
    assert found[0].message


def test_ios_action_limit_is_separate_from_web() -> None:
    five = tuple(Action(str(i), str(i)) for i in range(5))
    assert {"too-many-web-actions", "too-many-ios-actions"} <= codes(with_(actions=five))
    assert "too-many-ios-actions" not in codes(with_(actions=five[:4]))


def test_boundaries_do_not_fire() -> None:
    assert codes(with_(title="T" * 35, body="b" * 130, collapse_id="c" * 32)) == set()
    assert codes(with_(relevance_score=0.0)) == codes(with_(relevance_score=1.0)) == set()
    assert codes(with_(ttl_seconds=0, priority=Priority.NORMAL)) == set()
    assert codes(with_(image_url="", body="b" * 160)) == set()
    assert codes(with_(data={"googles": 1, "fromage": 2})) == set()


def test_background_with_normal_priority_is_fine_but_noted_for_web() -> None:
    found = codes(Message(content_available=True, priority=Priority.NORMAL))
    assert found == {"web-silent"}


def test_truncation_warning_is_labelled_heuristic() -> None:
    (warning,) = [w for w in lint(with_(title="T" * 50)) if w.code == "title-likely-truncated"]
    assert "heuristic" in warning.message and "heuristic" in warning.hint.lower()
    assert warning.severity is Severity.INFO


def test_critical_sound_mentions_entitlement_and_errors_sort_first() -> None:
    warnings = lint(with_(critical_sound=True, badge=-3))
    assert isinstance(warnings[0], LintWarning)
    assert warnings[0].severity is Severity.ERROR
    critical = next(w for w in warnings if w.code == "critical-sound-level")
    assert "entitlement" in critical.hint
