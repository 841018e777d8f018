"""What the app needs around the campaign engine: review, test sends, sending.

- ``review_campaign``: audience by platform and variant, exclusions by reason, lint
  warnings, the estimated duration at a throttle, and each platform's payload.
- ``plan_test_send`` (SQLite, worker thread) + ``send_test`` (network, asyncio loop):
  the campaign's message to the app's test devices, one plain-words answer per device.
- ``send_in_own_workspace``: a whole send on the asyncio loop thread with its own
  connection to the workspace (WAL lets the app's worker keep reading meanwhile).
- ``interrupted_campaigns``: campaigns left ``sending`` by a process that died.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pushdeck.core.campaigns.approval import TeamView, team_view
from pushdeck.core.campaigns.audience import (
    EXCLUSION_TEXT,
    Exclusion,
    audience_rule,
    exclusion_case,
)
from pushdeck.core.campaigns.dispatch import (
    DispatchOptions,
    ProgressCallback,
    SendControl,
    SendSummary,
)
from pushdeck.core.campaigns.hygiene import HeldGroup, forecast
from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.campaigns.spec import (
    AudienceKind,
    Campaign,
    CampaignStatus,
    stale_localizations,
)
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import Device, ProviderKind
from pushdeck.core.messages.payloads import PayloadPreview
from pushdeck.core.messages.payloads.live_activity import accepted_token_kinds
from pushdeck.core.providers.credentials import Credential
from pushdeck.core.store.audience import count_by_reason_and_platform
from pushdeck.core.store.workspace import Workspace

#: Sends per second assumed for an unthrottled estimate (HTTP/2, 64 concurrent streams).
NOMINAL_RATE = 500.0


@dataclass(frozen=True)
class Review:
    campaign: str
    app: str
    status: str
    audience: str  # in words: "segment 'VIP customers'", "test devices", ...
    targeted: int
    eligible: int
    by_platform: dict[str, int]  # eligible devices per platform
    by_variant: list[tuple[str, int]]  # (arm, estimated devices); "control" for the hold-out
    excluded: list[tuple[str, int]]  # (reason in words, devices)
    lint: list[tuple[str, str, str]]  # (severity, field, message + hint)
    payloads: dict[str, PayloadPreview]
    providers: list[str]  # credentials the app has
    throttle_per_minute: int
    estimated_seconds: float
    #: Credentials whose last check failed: (provider, when (UTC), what the provider said).
    failed_checks: list[tuple[str, str, str]] = field(default_factory=list)
    # Audience hygiene (issue 20): the rules in words and the devices quiet hours hold
    # (sent later, still counted in ``eligible``); capped and skipped ones are in excluded.
    rules: list[str] = field(default_factory=list)
    held: list[HeldGroup] = field(default_factory=list)
    #: Credentials of the app whose secret this machine's keyring lacks (a shared
    #: workspace: the row is everyone's, the secret some machines'): one sentence each.
    #: Compose, preview and review work; sending from here does not.
    missing_here: list[str] = field(default_factory=list)
    #: A shared workspace's role and approval (issue 18); None on a workspace file.
    team: TeamView | None = None

    @property
    def can_send_here(self) -> bool:
        return not self.missing_here

    @property
    def held_devices(self) -> int:
        return sum(g.devices for g in self.held)


def _audience_words(campaign: Campaign) -> str:
    audience = campaign.spec.audience
    if audience.kind is AudienceKind.SEGMENT:
        return f"segment '{audience.segment}'"
    if audience.kind is AudienceKind.TEST:
        return "the app's test devices"
    if audience.kind is AudienceKind.TOKENS:
        return f"{len(audience.tokens)} listed tokens"
    return "every device of the app"


def available_providers(ws: Workspace, app: str) -> list[ProviderKind]:
    from pushdeck.core.credentials.secrets import list_records

    return [ProviderKind(r.provider) for r in list_records(ws, app)]


def failed_checks(ws: Workspace, app: str) -> list[tuple[str, str, str]]:
    """(provider, when, summary) of the app's credentials whose last check failed."""
    from pushdeck.core.credentials.secrets import list_records
    from pushdeck.core.store.check_results import last_check

    failed = []
    for record in list_records(ws, app):
        check = last_check(record.facts)
        if check is not None and not check.ok:
            why = f"{check.summary} {check.details}".strip()
            failed.append((record.provider.value, check.at, why))
    return failed


def estimate_seconds(eligible: int, throttle_per_minute: int) -> float:
    rate = throttle_per_minute / 60.0 if throttle_per_minute > 0 else NOMINAL_RATE
    return eligible / rate


def review_campaign(
    ws: Workspace,
    name: str,
    throttle_per_minute: int | None = None,
    *,
    now: datetime | None = None,
) -> Review:
    from pushdeck.core.credentials.on_this_machine import missing_here
    from pushdeck.core.messages.payloads import preview_payloads
    from pushdeck.core.messages.payloads.lint import lint
    from pushdeck.core.store.apps import get_app

    campaign = get_campaign(ws, name)
    spec = campaign.spec
    app = get_app(ws, spec.app)
    topic = app.apns_topic or "app"
    available = available_providers(ws, spec.app)
    rule = audience_rule(ws, spec)
    case = exclusion_case(available, accepted_token_kinds(spec.message))
    rows = count_by_reason_and_platform(ws, rule, case)
    by_platform: dict[str, int] = {}
    excluded: dict[str, int] = {}
    for reason, platform, n in rows:
        if reason:
            excluded[reason] = excluded.get(reason, 0) + n
        else:
            by_platform[platform] = by_platform.get(platform, 0) + n
    targeted = sum(by_platform.values()) + sum(excluded.values())
    rules = forecast(ws, spec, rule, case, now)
    for platform, n in rules.excluded_by_platform.items():
        by_platform[platform] -= n
        if not by_platform[platform]:
            del by_platform[platform]
    eligible = sum(by_platform.values())
    excluded_words = [(EXCLUSION_TEXT[Exclusion(k)], v) for k, v in sorted(excluded.items())]
    throttle = spec.throttle_per_minute if throttle_per_minute is None else throttle_per_minute
    return Review(
        campaign=name,
        app=spec.app,
        status=str(campaign.status),
        audience=_audience_words(campaign),
        targeted=targeted,
        eligible=eligible,
        by_platform=by_platform,
        by_variant=_variant_split(campaign, eligible),
        excluded=excluded_words + sorted(rules.excluded.items()),
        lint=[
            (str(w.severity), w.field, f"{w.message} {w.hint}".strip())
            for w in lint(spec.message, app)
            if w.code != "payload-too-large"  # checked below for every variant and locale
        ]
        + oversize_payloads(spec, topic)
        + [_stale_warning(locale) for locale in stale_localizations(spec)],
        payloads=preview_payloads(spec.message, topic=topic),
        providers=[p.value for p in available],
        throttle_per_minute=throttle,
        estimated_seconds=estimate_seconds(eligible, throttle),
        failed_checks=failed_checks(ws, spec.app),
        rules=rules.rules,
        held=rules.held,
        missing_here=[m.message for m in missing_here(ws, spec.app)],
        team=team_view(ws, campaign) if not ws.dialect.is_sqlite else None,
    )


def _stale_warning(locale: str) -> tuple[str, str, str]:
    return (
        "warning",
        f"localizations.{locale}",
        f"{locale} was written before the base message changed: it is sent as written. "
        "Check that it still says the same, then edit it (or mark it up to date) in the "
        "composer.",
    )


def oversize_payloads(spec: Any, topic: str = "app") -> list[tuple[str, str, str]]:
    """Lint errors for every (variant, localization) whose payload is over a platform's
    limit, as the dispatcher builds it (before personalization, which can only add)."""
    from pushdeck.core.campaigns.templating import Personalizer
    from pushdeck.core.messages.payloads import preview_payloads

    try:
        personalizer = Personalizer(spec)
    except Exception:  # noqa: BLE001 - a broken template is reported by the template checks
        return []
    names = {"ios": "iOS (APNs)", "android": "Android (FCM)", "web": "Web Push"}
    problems = []
    for variant in ["", *(v.name for v in spec.variants)]:
        for locale in ["", *spec.localizations]:
            message, _templated = personalizer.localized(variant, locale)
            where = ", ".join(
                part
                for part in (f"variant {variant}" if variant else "", locale and f"{locale}")
                if part
            )
            for platform, preview in preview_payloads(message, topic=topic).items():
                if preview.over:
                    problems.append(
                        (
                            "error",
                            f"payload ({where or 'base message'})",
                            f"The {names.get(platform, platform)} payload is "
                            f"{preview.size:,} bytes, {preview.over:,} over its "
                            f"{preview.limit:,}-byte limit: those devices cannot be sent to. "
                            "Shorten the text or move custom data out of the notification.",
                        )
                    )
    return problems


def _variant_split(campaign: Campaign, eligible: int) -> list[tuple[str, int]]:
    spec = campaign.spec
    control = round(eligible * spec.control_percent / 100)
    rest = eligible - control
    arms = [(v.name, round(rest * v.percent / 100)) for v in spec.variants] or [("(one)", rest)]
    return [*arms, ("control (hold-out)", control)] if control else arms


# --------------------------------------------------------------------------- test sends


@dataclass(frozen=True)
class TestPlan:
    campaign: str
    spec: Any  # CampaignSpec
    devices: list[Device]
    credentials: dict[ProviderKind, Credential] = field(default_factory=dict)
    problems: dict[ProviderKind, str] = field(default_factory=dict)  # why a provider is missing


@dataclass(frozen=True)
class TestResult:
    device: str  # short label: platform + token start
    ok: bool
    answer: str  # plain words


def plan_test_send(ws: Workspace, name: str) -> TestPlan:
    """Everything a test send needs, read on the workspace's thread (keyring included)."""
    from pushdeck.core.credentials.secrets import load_credential
    from pushdeck.core.store.devices import list_devices
    from pushdeck.core.store.segments import audience_filter

    campaign = get_campaign(ws, name)
    test = audience_filter(ws, {"field": "test", "op": "=", "value": True}, campaign.spec.app)
    devices = list_devices(ws, where=test.where, params=test.params, limit=50)
    credentials: dict[ProviderKind, Credential] = {}
    problems: dict[ProviderKind, str] = {}
    for kind in {d.provider for d in devices}:
        try:
            credentials[kind] = load_credential(ws, campaign.spec.app, kind)
        except Exception as exc:  # noqa: BLE001 - shown per device, in words
            problems[kind] = str(exc)
    return TestPlan(name, campaign.spec, devices, credentials, problems)


def _label(device: Device) -> str:
    token = device.subscription.endpoint if device.subscription else device.token
    return (
        f"{device.platform} · {token[:24]}…" if len(token) > 24 else f"{device.platform} · {token}"
    )


async def send_test(plan: TestPlan) -> list[TestResult]:
    """Send the campaign's message to each test device now; never raises per device."""
    from pushdeck.core.campaigns.templating import Personalizer
    from pushdeck.core.providers.base import create_provider

    providers = {kind: create_provider(c) for kind, c in plan.credentials.items()}
    personalizer = Personalizer(plan.spec, campaign_key=f"test:{plan.campaign}")
    results: list[TestResult] = []
    try:
        for device in plan.devices:
            results.append(await _one_test(device, providers, plan, personalizer))
    finally:
        for provider in providers.values():
            await provider.aclose()
    return results


async def _one_test(
    device: Device, providers: Mapping[ProviderKind, Any], plan: TestPlan, personalizer: Any
) -> TestResult:
    provider = providers.get(device.provider)
    if provider is None:
        why = plan.problems.get(device.provider, f"no {device.provider} credential for the app")
        return TestResult(_label(device), False, f"Not sent: {why}")
    try:
        message = personalizer.render(device)
        if device.token_kind not in accepted_token_kinds(message):
            return TestResult(
                _label(device),
                False,
                f"Not sent: a {device.token_kind} token does not take "
                "this message (Live Activity pushes and alerts use different tokens).",
            )
        result = await provider.send(message, device)
    except Exception as exc:  # noqa: BLE001 - transport failures become an answer
        return TestResult(_label(device), False, f"Not sent: {exc}")
    if result.accepted:
        return TestResult(
            _label(device), True, "Accepted by the provider (not yet proof of display)."
        )
    words = result.explanation or result.reason or f"HTTP {result.http_status}"
    return TestResult(_label(device), False, f"Refused: {words}")


# --------------------------------------------------------------------------- list + send


def interrupted_campaigns(ws: Workspace) -> list[str]:
    """Campaigns stopped mid-send: ``sending`` though no send runs (a crash, a kill), or
    ``paused`` (the app was closed while sending). Both resume where they stopped. One
    that a live process is sending right now (the CLI, a worker) is not interrupted."""
    from pushdeck.core.campaigns.library import list_campaigns
    from pushdeck.core.campaigns.sender_lease import is_sending

    return [
        c.name
        for status in (CampaignStatus.SENDING, CampaignStatus.PAUSED)
        for c in list_campaigns(ws, status=status)
        if not is_sending(ws, c.id)
    ]


def providers_for(ws: Workspace, app: str) -> dict[ProviderKind, Any]:
    from pushdeck.core.credentials.secrets import open_providers

    return dict(open_providers(ws, app))


async def send_in_own_workspace(
    path: Path | str,
    name: str,
    *,
    control: SendControl,
    on_progress: ProgressCallback | None = None,
    options: DispatchOptions | None = None,
) -> SendSummary:
    """Send (or resume) ``name`` with a connection opened on the calling (loop) thread."""
    from pushdeck.core.campaigns.dispatch import send_campaign_async

    ws = Workspace.open(path, create=False)
    try:
        app = get_campaign(ws, name).spec.app
        providers = providers_for(ws, app)
        if not providers:
            raise ConfigError(
                f"App {app!r} has no credentials, so nothing can be sent.",
                hint="Add one on the Apps & credentials page (the sandbox needs no secret).",
            )
        try:
            return await send_campaign_async(
                ws, name, providers=providers, on_progress=on_progress, control=control,
                options=options,
            )  # fmt: skip
        finally:
            for provider in providers.values():
                await provider.aclose()
    finally:
        ws.close()


def schedule_campaign(ws: Workspace, name: str, schedule: Any) -> Campaign:
    """Give a draft (or scheduled) campaign a new schedule (``ScheduleSpec``)."""
    from dataclasses import replace

    from pushdeck.core.campaigns.library import update_campaign

    current = get_campaign(ws, name)
    return update_campaign(ws, name, replace(current.spec, schedule=schedule))


async def run_due_in_own_workspace(path: Path | str) -> Any:
    """Send what the schedule says is due (the app's timer on a workspace file), on the
    loop thread. A shared workspace's schedules are the workers' (their scheduler holds
    an advisory lock, so one runs them): refused here, nothing is sent."""
    from pushdeck.core.campaigns.scheduling import run_due
    from pushdeck.core.campaigns.workers import shared

    ws = Workspace.open(path, create=False)
    if shared(ws):
        ws.close()
        raise ConfigError(
            "On a shared workspace scheduled campaigns are sent by the team's workers.",
            hint="Start one with 'pushdeck worker'.",
        )
    opened: list[dict[ProviderKind, Any]] = []

    def providers(app: str) -> dict[ProviderKind, Any]:
        opened.append(providers_for(ws, app))
        return opened[-1]

    try:
        return await run_due(ws, providers)
    finally:
        for group in opened:
            for provider in group.values():
                await provider.aclose()
        ws.close()
