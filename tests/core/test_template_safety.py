"""Templates that cannot send nothing silently (issue 12).

Complete validation when a campaign is saved, bounded rendering per recipient, a send
that stops when most renders fail, and "every recipient skipped" never reported as a
success — in process, and through the ``pushdeck`` command in a second process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
from pushdeck.core.campaigns.library import create_campaign, get_campaign, update_campaign
from pushdeck.core.campaigns.render_guard import MIN_FAILURES, RenderGuard, nothing_sent_reason
from pushdeck.core.campaigns.spec import CampaignStatus, spec_from_dict
from pushdeck.core.campaigns.templating import Personalizer, check_templates
from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.model import App, Device, Platform, ProviderKind
from pushdeck.core.credentials import secrets
from pushdeck.core.messages import render_budget
from pushdeck.core.messages.liquid_env import (
    LOOP_ITERATION_LIMIT,
    MAX_SOURCE_CHARS,
    TemplateError,
)
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.journal import counts_by_state
from tests.core.campaign_helpers import FakeProvider, add_devices

FAST = DispatchOptions(
    backoff_base=0.001, backoff_cap=0.01, flush_interval=0.01, chunk_size=8, progress_interval=0
)


def doc(**message: Any) -> dict[str, Any]:
    return {
        "name": "C1",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": "Hi", "body": "b", **message},
    }


def device(**attributes: object) -> Device:
    return Device("shop", Platform.IOS, ProviderKind.APNS, "tok", attributes=attributes)


# ------------------------------------------------------------------ validation on save


@pytest.mark.parametrize(
    ("extra", "field", "named"),
    [
        ({"message": {"title": "Hi", "body": "{{ first_name | upcasee }}"}}, "message.body",
         "unknown filter 'upcasee' (did you mean 'upcase'?)"),
        ({"localizations": {"de": {"title": "{{ first_name | capitalise }}"}}},
         "localizations.de.title", "unknown filter 'capitalise'"),
        ({"variants": [{"name": "A", "percent": 50, "message": {"subtitle": "{% iff x %}y"}},
                       {"name": "B", "percent": 50}]},
         "variants[0].message.subtitle", "unknown tag 'iff'"),
        ({"message": {"title": "Hi", "body": "b", "data": {"x": "{{ a | nope: 1 }}"}}},
         "message.data.x", "unknown filter 'nope'"),
    ],
)  # fmt: skip
def test_unknown_filters_and_tags_are_refused_when_saved_naming_them_and_the_field(
    ws: Workspace, extra: dict[str, Any], field: str, named: str
) -> None:
    spec = spec_from_dict({**doc(), **extra})
    with pytest.raises(ValidationError) as caught:
        create_campaign(ws, spec)
    assert caught.value.message.startswith(f"{field}: ")
    assert named in caught.value.message
    assert "\n" not in caught.value.message
    assert ws.scalar("SELECT count(*) FROM campaigns") == 0
    # The composer shows the same problem as blocking while the draft is edited.
    assert [p.where for p in check_templates(spec) if p.blocking] == [field]


def test_an_edit_cannot_introduce_an_unknown_filter(ws: Workspace) -> None:
    create_campaign(ws, spec_from_dict(doc()))
    broken = spec_from_dict(doc(body="{{ first_name | reverse_words }}"))
    with pytest.raises(ValidationError, match=r"message\.body: .*unknown filter 'reverse_words'"):
        update_campaign(ws, "C1", broken)
    assert get_campaign(ws, "C1").spec.message.body == "b"


@pytest.mark.parametrize("tag", ["include", "render"])
def test_include_and_render_are_refused_in_one_line(ws: Workspace, tag: str) -> None:
    with pytest.raises(TemplateError) as caught:
        create_campaign(ws, spec_from_dict(doc(body=f"{{% {tag} 'footer' %}}")))
    assert f"{{% {tag} %}} is not supported" in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{% for i in (1..100000000) %}x{% endfor %}", "loops run more than"),
        ("{% for i in (1..1000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}",
         "loops run more than"),
        ('{% assign s = "ab" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}'
         "{{ s | size }}", "exceeds 65,536"),
        ("{{ (1..100000000) | join }}", "exceeds 65,536"),
        ("{% for i in (1..9000) %}0123456789{% endfor %}", "longer than 65,536 characters"),
        ("{{ x }}" + " " * MAX_SOURCE_CHARS, "the limit is 16,384"),
    ],
)  # fmt: skip
def test_templates_over_a_limit_for_everyone_are_refused_when_saved(
    ws: Workspace, body: str, why: str
) -> None:
    with pytest.raises(TemplateError, match=r"^message\.body: ") as caught:
        create_campaign(ws, spec_from_dict(doc(body=body)))
    assert why in caught.value.message


# ------------------------------------------------------------------ bounded rendering


def test_an_attribute_driven_loop_stops_at_the_iteration_limit() -> None:
    spec = spec_from_dict(doc(body="{% for i in (1..n) %}.{% endfor %}"))
    personalizer = Personalizer(spec)  # fine for devices without n
    assert personalizer.render(device(n=3)).body == "..."
    with pytest.raises(TemplateError) as caught:
        personalizer.render(device(n=100_000_000))
    assert caught.value.message == (
        f"body: the loops run more than {LOOP_ITERATION_LIMIT:,} times in one message"
    )


def test_string_doubling_from_device_data_never_uses_a_gigabyte() -> None:
    body = (
        "{% assign s = first_name %}{% for i in (1..40) %}{% assign s = s | append: s %}"
        "{% endfor %}{{ s | size }}"
    )
    personalizer = Personalizer(spec_from_dict(doc(body=body)))
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match="exceeds 65,536"):
            personalizer.render(device(first_name="Ana"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024  # 2**40 copies of "Ana" would be 3 TB


def test_replace_and_join_cannot_multiply_sizes() -> None:
    personalizer = Personalizer(
        spec_from_dict(
            doc(
                title="{{ code | replace: 'x', code }}",
                body="{% assign parts = code | split: '' %}{{ parts | join: code }}",
            )
        )
    )
    with pytest.raises(TemplateError, match="'replace' exceeds"):
        personalizer.render(device(code="x" * 60_000))
    assert personalizer.render(device(code="xy")).title == "xyy"


class StepClock:
    """A render clock that moves ``step`` seconds each time it is read (``step`` 0:
    frozen), so the budget counts the render's work, not how loaded the machine is."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.reads = 1000.0, step, 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def test_a_slow_template_is_cut_at_the_time_limit_per_recipient(monkeypatch) -> None:
    # Each loop is within the iteration limit, but hundreds of them (as many as fit in
    # the source limit) take seconds; devices without n render with next to no work.
    one = "{% for i in (1..n) %}{% assign x = i %}{% endfor %}"
    body = one * (MAX_SOURCE_CHARS // len(one))
    personalizer = Personalizer(spec_from_dict(doc(body=body)))
    # On the real clock: the slow render is cut (a loaded machine only cuts it sooner).
    with pytest.raises(TemplateError, match=r"body: rendering takes longer than 0\.25 s"):
        personalizer.render(device(n=LOOP_ITERATION_LIMIT))
    # On a controlled clock that moves a quarter of a millisecond per look, the budget is
    # 1,000 looks however slow the machine: the empty loops (one look each, 321 of them)
    # fit, and the slow render stops at the first look past the deadline.
    clock = StepClock(0.00025)
    monkeypatch.setattr(render_budget, "clock", clock)
    assert personalizer.render(device()).body == ""
    assert clock.reads < 400
    clock.reads = 0
    with pytest.raises(TemplateError, match="body: rendering takes longer than"):
        personalizer.render(device(n=LOOP_ITERATION_LIMIT))
    assert 1000 <= clock.reads <= 1010  # cut right at the deadline, not loops later


# ------------------------------------------------------------------ the send stops


def test_render_guard_stops_only_when_most_renders_fail() -> None:
    guard = RenderGuard("C1")
    for _ in range(100):
        guard.success()
    assert not any(guard.failure("Template: x") for _ in range(100))  # half: goes on
    assert guard.failure("Template: x")  # now most of them failed
    few = RenderGuard("C1")
    assert not any(few.failure("Template: x") for _ in range(MIN_FAILURES - 1))
    assert "could not be rendered for 20 of the first 20" in few.failure("Template: x")
    # With the queue to judge by: a cluster of failures among good devices goes on.
    good = RenderGuard("C1", sample=lambda: [(device(), "")] * 40, render=lambda d, v: None)
    assert not any(good.failure("Template: x") for _ in range(100))
    bad = [(device(ok=False), "")] * 30 + [(device(ok=True), "")] * 10

    def render(d: Device, _variant: str) -> None:
        if not d.attributes["ok"]:
            raise TemplateError("body: no")

    judged = RenderGuard("C1", sample=lambda: bad, render=render)
    stops = [judged.failure("Template: x") for _ in range(MIN_FAILURES)]
    assert stops[-1] and not any(stops[:-1])
    assert "and for 21 of 21 devices sampled from those still queued" in stops[-1]
    assert nothing_sent_reason({"skipped": 3, "excluded": 1}, "Template: y").startswith(
        "Nothing was sent: all 3 recipients were skipped (most often: Template: y)"
    )
    assert nothing_sent_reason({"skipped": 3, "rejected": 1}) == ""
    assert nothing_sent_reason({"excluded": 2}) == ""


async def test_send_stops_when_rendering_fails_for_most_devices(ws: Workspace) -> None:
    # 90 devices never visited (visits 0) and 10 that did: "100 / visits" fails for most.
    rows = [{"token": f"z{i:03}", "attributes": {"visits": 0}} for i in range(90)]
    rows += [{"token": f"v{i:03}", "attributes": {"visits": 4}} for i in range(10)]
    add_devices(ws, rows)
    create_campaign(ws, spec_from_dict(doc(body="{{ 100 | divided_by: visits }} points each")))
    fake = FakeProvider()
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.status == "failed"  # returned, not raised: 'run-due' goes on with others
    assert "could not be rendered" in summary.error
    assert "divided_by: can't divide by 0" in summary.error
    campaign = get_campaign(ws, "C1")
    assert campaign.status is CampaignStatus.FAILED
    assert "divided_by" in campaign.error
    counts = counts_by_state(ws, campaign.id)
    assert MIN_FAILURES <= counts["skipped"] < 40  # stopped early, not after all 90
    assert counts["queued"] == 100 - counts["skipped"] - counts.get("accepted", 0)
    assert sum(fake.received.values()) == counts.get("accepted", 0)


async def test_a_few_bad_devices_do_not_stop_a_campaign(ws: Workspace) -> None:
    rows = [{"token": f"a{i:03}", "attributes": {"visits": 0}} for i in range(MIN_FAILURES + 5)]
    rows += [{"token": f"b{i:03}", "attributes": {"visits": 5}} for i in range(200)]
    add_devices(ws, rows)
    create_campaign(ws, spec_from_dict(doc(body="{{ 100 | divided_by: visits }} points")))
    fake = FakeProvider()
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.status == "sent"
    assert summary.counts == {"accepted": 200, "skipped": MIN_FAILURES + 5}
    assert fake.messages["b000"].body == "20 points"


async def test_every_device_skipped_is_not_a_success(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}", "attributes": {"visits": 0}} for i in range(5)])
    create_campaign(ws, spec_from_dict(doc(body="{{ 100 | divided_by: visits }}")))
    fake = FakeProvider()
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.counts == {"skipped": 5}
    assert summary.status == "failed"
    assert summary.error.startswith("Nothing was sent: all 5 recipients were skipped")
    assert "divided_by" in summary.error
    assert not fake.received


# ------------------------------------------------------------------ the command, from outside


def _pushdeck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(
            ws,
            [
                {"token": f"s{i}", "provider": "sandbox", "platform": "ios",
                 "attributes": {"visits": 0}}
                for i in range(6)
            ],
        )  # fmt: skip
        secrets.store_credential(
            ws, "shop", ProviderKind.SANDBOX, "sandbox", None,
            {"behaviour": {"latency_ms": 0, "failure_rate": 0, "dead_rate": 0}},
        )  # fmt: skip
    return path


def test_cli_refuses_include_in_one_line_without_traceback(workspace: Path, tmp_path: Path) -> None:
    spec = tmp_path / "c.json"
    spec.write_text(json.dumps(doc(body='{% include "footer" %}')))
    result = _pushdeck("--workspace", str(workspace), "campaigns", "create", "--file", str(spec))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert "message.body" in first and "{% include %} is not supported" in first


def test_cli_send_where_everyone_is_skipped_exits_non_zero_and_says_why(
    workspace: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "c.json"
    spec.write_text(json.dumps(doc(body="{{ 100 | divided_by: visits }} points")))
    ws = str(workspace)
    assert _pushdeck("--workspace", ws, "campaigns", "create", "--file", str(spec)).returncode == 0
    result = _pushdeck("--workspace", ws, "campaigns", "send", "C1")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Nothing was sent: all 6 recipients were skipped" in result.stderr
    status = json.loads(_pushdeck("--workspace", ws, "campaigns", "status", "C1", "--json").stdout)
    assert status["status"] == "failed" and status["counts"]["skipped"] == 6
    assert "divided_by: can't divide by 0" in status["error"]
