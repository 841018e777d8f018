"""``pushdeck campaigns``: create, review, send (resume), status, pause, resume, cancel,
run-due."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping

from pushdeck.cli.context import Context, ProgressBar
from pushdeck.core.campaigns.approval import require_approved
from pushdeck.core.campaigns.dispatch import (
    DispatchOptions,
    Progress,
    SendSummary,
    campaign_status,
    cancel_campaign,
    pause_campaign,
    send_campaign_async,
)
from pushdeck.core.campaigns.library import (
    create_campaign,
    duplicate_campaign,
    get_campaign,
    list_campaigns,
)
from pushdeck.core.campaigns.spec import load_spec_file
from pushdeck.core.campaigns.templating import check_templates
from pushdeck.core.common import event_loop
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.credentials.secrets import open_providers
from pushdeck.core.providers.base import Provider
from pushdeck.core.store import send_memory
from pushdeck.core.store.workspace import Workspace


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("campaigns", help="create, send and follow campaigns")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    create = verbs.add_parser("create", help="create a campaign from a JSON file")
    create.add_argument("--file", required=True, help="campaign file (docs/campaign-file.md)")
    create.set_defaults(handler=_create)
    for verb, helptext in (
        ("send", "send a campaign now, or resume an interrupted send"),
        ("resume", "resume a paused or failed campaign"),
    ):
        send = verbs.add_parser(verb, help=helptext)
        send.add_argument("name")
        send.add_argument("--json", action="store_true", help="print the outcome as JSON")
        send.add_argument(
            "--concurrency",
            type=int,
            default=DispatchOptions.concurrency,
            help="most sends in progress per provider (the connections use what the "
            "provider allows; lower this to be gentler)",
        )
        send.add_argument(
            "--outage-wait",
            type=float,
            default=DispatchOptions.outage_pause_after,
            metavar="SECONDS",
            help="how long to wait for a provider that is down before pausing the campaign "
            "(default %(default)g; its devices stay queued for the next send)",
        )
        send.set_defaults(handler=_send)
    review = verbs.add_parser(
        "review", help="before sending: audience, exclusions, caps and quiet hours, estimate"
    )
    review.add_argument("name")
    review.add_argument("--json", action="store_true")
    review.set_defaults(handler=_review)
    approve = verbs.add_parser(
        "approve", help="approve a campaign an editor changed (shared workspace; senders)"
    )
    approve.add_argument("name")
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(handler=_approve)
    status = verbs.add_parser("status", help="counts by state, possibly duplicated")
    status.add_argument("name")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)
    for verb, handler, helptext in (
        ("pause", _pause, "pause a sending campaign (a running send stops after in-flight)"),
        ("cancel", _cancel, "cancel: nothing more is sent"),
    ):
        sub = verbs.add_parser(verb, help=helptext)
        sub.add_argument("name")
        sub.set_defaults(handler=handler)
    queue = verbs.add_parser(
        "queue", help="shared workspace: hand a campaign to the workers and return"
    )
    queue.add_argument("name")
    queue.set_defaults(handler=_queue)
    wait = verbs.add_parser(
        "wait", help="follow a campaign until it is sent (exit 0), stopped or --timeout"
    )
    wait.add_argument("name")
    wait.add_argument("--timeout", type=float, default=None, metavar="SECONDS")
    wait.add_argument("--json", action="store_true", help="print the final status as JSON")
    wait.set_defaults(handler=_wait)
    due = verbs.add_parser(
        "run-due",
        help="send scheduled campaigns that are due (for cron); on a shared workspace "
        "whose worker runs the schedules, does nothing and says which worker",
    )
    due.add_argument("--json", action="store_true")
    due.set_defaults(handler=_run_due)
    lst = verbs.add_parser("list", help="list campaigns")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)
    dup = verbs.add_parser("duplicate", help="copy a campaign into a new editable draft")
    dup.add_argument("name")
    dup.add_argument("new_name")
    dup.set_defaults(handler=_duplicate)


def providers_for(ws: Workspace, app: str) -> dict[ProviderKind, Provider]:
    """A provider for every credential the app has (none is an error worth saying)."""
    providers = open_providers(ws, app)
    if not providers:
        raise ConfigError(
            f"App {app!r} has no credentials, so nothing can be sent.",
            hint=f"Add one with 'pushdeck credentials set-apns {app} …' (or set-fcm, "
            "set-webpush, set-sandbox).",
        )
    return providers


async def _close(providers: Mapping[ProviderKind, Provider]) -> None:
    for provider in providers.values():
        await provider.aclose()


def _create(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace()
    spec = load_spec_file(args.file)
    known = [r[0] for r in ws.query("SELECT DISTINCT key FROM devices, json_each(attributes)")]
    problems = check_templates(spec, known)
    blocking = [p for p in problems if p.blocking]
    if blocking:
        raise ConfigError(f"{blocking[0].where}: {blocking[0].message}")
    created = create_campaign(ws, spec)
    for problem in problems:
        print(f"warning: {problem.where}: {problem.message}", file=sys.stderr)
    print(created.name)
    return 0


#: ``campaigns send`` exit code when the campaign paused because a provider was down
#: or kept failing transiently (EX_TEMPFAIL): its devices wait; run the send again.
EXIT_PROVIDER_UNAVAILABLE = 75


def _send(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace()
    send_memory.stream_from_now_on(ws)  # this process sends, then exits: peak RSS stays flat
    campaign = get_campaign(ws, args.name)
    require_approved(ws, campaign)  # a shared workspace: before any keyring or connection
    if args.outage_wait < 0:
        raise ConfigError("--outage-wait must be 0 or more seconds.")
    options = DispatchOptions(concurrency=args.concurrency, outage_pause_after=args.outage_wait)
    bar = ProgressBar(f"Sending {campaign.name}", 1)
    told = [""]  # the last outage line printed (without its countdown)

    def on_progress(p: Progress) -> None:
        bar.total = max(p.total, 1)
        eta = f" ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
        bar.update(p.done, p.notice or f"{p.rate:.0f}/s{eta}")
        headline = p.notice.split(";")[0]
        if headline != told[0] and not bar.enabled:
            # No terminal (cron, a log): one line when a provider goes down or comes back.
            print(headline or "providers answering again", file=sys.stderr)
        told[0] = headline

    async def run() -> SendSummary:
        providers = providers_for(ws, campaign.spec.app)
        try:
            return await send_campaign_async(
                ws, campaign.name, providers=providers, on_progress=on_progress, options=options
            )
        finally:
            await _close(providers)

    try:
        summary = event_loop.run(run())
    finally:
        bar.finish()
    if args.json:
        ctx.print_json(campaign_status(ws, campaign.name))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
        print(f"{summary.campaign}: {summary.status} ({counts})")
        if summary.error:  # a failure is an error (stderr); a pause's reason is a status
            print(f"why: {summary.error}", file=sys.stderr if summary.status == "failed" else None)
        if summary.possibly_duplicated:
            print(
                f"possibly duplicated: {summary.possibly_duplicated} (a request was written "
                "and not answered, then sent again)"
            )
    if summary.status == "paused" and summary.error:
        return EXIT_PROVIDER_UNAVAILABLE
    return 0 if summary.status in ("sent", "paused") else 1


def _review(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.campaigns.review import review_campaign

    review = review_campaign(ctx.workspace(), args.name)
    held = [
        {"timezone": g.timezone, "devices": g.devices,
         "release_at": g.release_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "when": g.words}
        for g in review.held
    ]  # fmt: skip
    if args.json:
        ctx.print_json(
            {
                "campaign": review.campaign, "app": review.app, "status": review.status,
                "audience": review.audience, "targeted": review.targeted,
                "eligible": review.eligible, "by_platform": review.by_platform,
                "excluded": dict(review.excluded), "rules": review.rules, "held": held,
                "estimated_seconds": round(review.estimated_seconds, 1),
            }
        )  # fmt: skip
        return 0
    print(f"{review.campaign} ({review.app}, {review.status}): {review.audience}")
    print(f"targeted {review.targeted}, will be sent {review.eligible}")
    for reason, n in review.excluded:
        print(f"  excluded: {reason}: {n}")
    for line in review.rules:
        print(f"  rule: {line}")
    for group in held:
        print(f"  held for quiet hours: {group['devices']} until {group['when']}")
    return 0


def _approve(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.campaigns.approval import approve_campaign

    ws = ctx.workspace()
    if ws.dialect.is_sqlite:
        print(f"{args.name}: nothing to approve (a workspace file has one user with every right)")
        return 0
    state = approve_campaign(ws, args.name)
    if args.json:
        ctx.print_json(
            {"campaign": args.name, "approved_by": state.approved_by,
             "approved_at": state.approved_at}
        )  # fmt: skip
    else:
        print(f"{args.name}: approved by {state.approved_by} at {state.approved_at}")
    return 0


def _status(ctx: Context, args: argparse.Namespace) -> int:
    status = campaign_status(ctx.workspace(), args.name)
    if args.json:
        ctx.print_json(status)
        return 0
    print(f"{status['name']} ({status['app']}): {status['status']}")
    if status["error"]:
        print(f"{'why' if status['status'] == 'paused' else 'error'}: {status['error']}")
    rows = [[k, v] for k, v in status["counts"].items() if v]
    ctx.table(rows, ["state", "devices"])
    if status["waiting"]:
        print("\nwaiting devices, by their last temporary failure:")
        ctx.table([[w["devices"], w["reason"]] for w in status["waiting"]], ["devices", "reason"])
    print(f"possibly duplicated: {status['possibly_duplicated']}")
    return 0


def _pause(ctx: Context, args: argparse.Namespace) -> int:
    pause_campaign(ctx.workspace(), args.name)
    print(f"{args.name}: paused (resume with 'pushdeck campaigns resume {args.name}')")
    return 0


def _cancel(ctx: Context, args: argparse.Namespace) -> int:
    cancel_campaign(ctx.workspace(), args.name)
    print(f"{args.name}: cancelled")
    return 0


def _queue(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.campaigns.queue import queue_campaign

    campaign = queue_campaign(ctx.workspace(), args.name)
    print(
        f"{campaign.name}: {campaign.status} (the workers send it; follow it with "
        f"'pushdeck campaigns wait {campaign.name}')"
    )
    return 0


#: ``campaigns wait`` exit code when --timeout passed first (as timeout(1) says).
EXIT_WAIT_TIMEOUT = 124


def _wait(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.campaigns.queue import wait_campaign

    if args.timeout is not None and args.timeout < 0:
        raise ConfigError("--timeout must be 0 or more seconds.")
    ws = ctx.workspace()
    campaign = get_campaign(ws, args.name)
    bar = ProgressBar(f"Waiting for {campaign.name}", 1)
    last = [0.0]

    def on_progress(p: Progress) -> None:
        bar.total = max(p.total, 1)
        eta = f" ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
        bar.update(p.done, f"{p.status} {p.rate:.0f}/s{eta}")
        if not bar.enabled and time.monotonic() - last[0] >= 5:  # a log: a line every 5 s
            last[0] = time.monotonic()
            print(f"{p.campaign}: {p.status}, {p.done}/{p.total} done", file=sys.stderr)

    try:
        final = wait_campaign(ws, campaign.name, timeout=args.timeout, on_progress=on_progress)
    finally:
        bar.finish()
    if final is None:
        print(
            f"{campaign.name}: still {get_campaign(ws, campaign.name).status} after "
            f"{args.timeout:g} s",
            file=sys.stderr,
        )
        return EXIT_WAIT_TIMEOUT
    if args.json:
        ctx.print_json(campaign_status(ws, campaign.name))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(final.counts.items()))
        print(f"{final.campaign}: {final.status} ({counts})")
        if final.possibly_duplicated:
            print(f"possibly duplicated: {final.possibly_duplicated}")
    return 0 if final.status == "sent" else 1


def _run_due(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.campaigns.scheduling import (  # cron's verb only
        RunDueReport,
        run_due_from_cron,
    )
    from pushdeck.core.campaigns.workers import shared

    ws = ctx.workspace()
    opened: list[Mapping[ProviderKind, Provider]] = []

    def providers(app: str) -> Mapping[ProviderKind, Provider]:
        opened.append(providers_for(ws, app))
        return opened[-1]

    async def run() -> RunDueReport:
        try:
            return await run_due_from_cron(ws, providers)
        finally:
            for group in opened:
                await _close(group)

    report = event_loop.run(run())
    data = {
        "sent": report.sent,
        "missed": report.missed,
        "waiting": report.waiting,
        "refused": report.refused,
    }
    if args.json:
        # A shared workspace: who runs the schedules when not this run (null: this run).
        scheduler = {"scheduled_by": report.scheduled_by or None} if shared(ws) else {}
        ctx.print_json({**data, **scheduler})
    elif report.scheduled_by:
        # A shared workspace whose worker runs the schedules: cron's run did nothing.
        print(f"schedules: run by {report.scheduled_by}; nothing was done here")
    else:
        for key, names in data.items():
            for name in names:
                print(f"{key}: {name}")
        for name in data["missed"]:
            print(
                f"  {name} missed its time and waits for a decision: "
                f"'pushdeck campaigns send {name}' or 'pushdeck campaigns cancel {name}'"
            )
        for why in report.refusals:
            print(f"  {why}", file=sys.stderr)
    return 0


def _list(ctx: Context, args: argparse.Namespace) -> int:
    campaigns = list_campaigns(ctx.workspace())
    rows = [
        [c.name, c.spec.app, str(c.status), c.scheduled_at or "", c.finished_at or ""]
        for c in campaigns
    ]
    if args.json:
        keys = ["name", "app", "status", "scheduled_at", "finished_at"]
        ctx.print_json([dict(zip(keys, r, strict=True)) for r in rows])
    else:
        ctx.table(rows, ["name", "app", "status", "scheduled", "finished"])
    return 0


def _duplicate(ctx: Context, args: argparse.Namespace) -> int:
    print(duplicate_campaign(ctx.workspace(), args.name, args.new_name).name)
    return 0
