"""Retry-After in both RFC 9110 forms, and the per-route outage bookkeeping (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pushdeck.core.providers import apns, fcm
from pushdeck.core.providers.base import RETRY_AFTER_CAP, retry_after_seconds
from pushdeck.core.providers.health import HealthPolicy, RouteHealth, RouteState, duration
from pushdeck.core.providers.http2 import H2Response

NOW = datetime(2026, 3, 1, 14, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Sun, 01 Mar 2026 14:03:00 GMT", 60.0),
        ("Sunday, 01-Mar-26 14:02:30 GMT", 30.0),  # RFC 850, obsolete but allowed
        ("Sun Mar  1 14:02:10 2026", 10.0),  # asctime: no zone, GMT by definition
        ("Sun, 01 Mar 2026 13:00:00 GMT", 0.0),  # already past: now
        ("99999999999", RETRY_AFTER_CAP),
        ("", None),
        (None, None),
        ("-5", None),
        ("soon", None),
        ("1.5", None),  # delay-seconds is an integer
    ],
)
def test_retry_after_both_forms(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def test_apns_and_fcm_honour_an_http_date_retry_after() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    headers = {"retry-after": later}
    apns_result = apns.interpret(H2Response(503, headers, b'{"reason":"ServiceUnavailable"}'))
    body = b'{"error":{"code":503,"status":"UNAVAILABLE","message":"x"}}'
    fcm_result = fcm.interpret(H2Response(503, headers, body))
    for result in (apns_result, fcm_result):
        assert result.retryable and result.retry_after is not None
        assert 115 <= result.retry_after <= 120


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def route(**policy: float) -> tuple[RouteHealth, Clock]:
    clock = Clock()
    health = RouteHealth(
        "APNs",
        HealthPolicy(**{"window": 4, "ratio": 0.75, "probe_base": 5, "probe_cap": 30,
                        "pause_after": 120, **policy}),  # type: ignore[arg-type]
        clock=clock,
        wall=lambda: datetime(2026, 3, 1, 14, 2),
    )  # fmt: skip
    return health, clock


def test_down_when_most_recent_answers_are_transient_and_not_before() -> None:
    health, clock = route()  # window 4, ratio 0.75
    health.answered(clock())
    health.failed("503 ServiceUnavailable", None, clock())
    health.answered(clock())
    health.failed("503 ServiceUnavailable", None, clock())
    assert health.state() is RouteState.GO  # 2 of 4 transient: some devices' bad luck
    health.failed("503 ServiceUnavailable", None, clock())
    assert health.down and health.state() is RouteState.WAIT  # 3 of the last 4
    assert health.notice() == (
        "APNs unavailable since 14:02 (503 ServiceUnavailable); retrying in 5 s"
    )


def test_probes_one_at_a_time_with_doubling_waits_then_recovery() -> None:
    health, clock = route()
    start = clock()
    for _ in range(4):
        health.failed("500 InternalServerError", None, start)
    assert health.state() is RouteState.WAIT
    waits = []
    for _ in range(4):
        clock.now = health.gate
        assert health.state() is RouteState.PROBE
        health.start_probe(7)
        assert health.state() is RouteState.WAIT  # only one probe at a time
        assert "checking whether it is back" in health.notice()
        probe_started = clock()
        health.failed("500 InternalServerError", None, probe_started)
        health.end_probe(7)
        waits.append(health.gate - clock())
    assert waits == [10, 20, 30, 30]
    health.answered(start - 1)  # a late answer to a request sent before the outage
    assert health.down
    clock.now = health.gate
    health.start_probe(8)
    health.answered(clock())
    health.end_probe(8)
    assert not health.down and health.state() is RouteState.GO and health.notice() == ""


def test_a_long_retry_after_is_an_outage_at_once_and_is_honoured() -> None:
    health, clock = route()
    health.failed("429 TooManyRequests", 42.0, clock())
    assert health.down and health.gate - clock() == 42.0
    health, clock = route()
    health.failed("429 TooManyRequests", 0.2, clock())  # a short one only spaces sends
    assert not health.down and health.gate - clock() == pytest.approx(0.2)
    health, clock = route()
    for _ in range(4):
        health.failed("503", None, clock())
    health.failed("503", 0.0, clock())  # "retry now" while down: not a busy loop
    assert health.gate - clock() >= 5


def test_gives_up_after_the_bound_with_a_reason_naming_when() -> None:
    health, clock = route(pause_after=120)
    for _ in range(4):
        health.failed("Could not connect to api.push.apple.com: name not resolved.", None, 0)
    clock.now += 119
    assert health.state() is not RouteState.GAVE_UP
    clock.now += 1
    assert health.state() is RouteState.GAVE_UP and health.gave_up
    assert health.gave_up_text() == (
        "APNs unavailable since 2026-03-01 14:02: Could not connect to api.push.apple.com: "
        "name not resolved; stopped waiting after 2 min."
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (1, "1 s"), (45, "45 s"), (60, "1 min"), (150, "2 min 30 s"), (300, "5 min"),
     (3900, "1 h 5 min")],
)  # fmt: skip
def test_duration_words(seconds: float, text: str) -> None:
    assert duration(seconds) == text
