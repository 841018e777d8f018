"""``pushdeck apps``: add, update (identities, settings, audience-hygiene defaults) and
list apps."""

from __future__ import annotations

import argparse
from dataclasses import replace

from pushdeck.cli.app_rules import add_rule_arguments, apply_rule_arguments, print_rules
from pushdeck.cli.context import Context
from pushdeck.core.common.model import App
from pushdeck.core.store.apps import add_app, get_app, list_apps, update_app, validate_app

_NSE_HELP = (
    "the iOS app has a Notification Service Extension (needed for images on iOS; "
    "lint warns about images otherwise)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("apps", help="apps and their platform identities")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="add an app")
    add.add_argument("name")
    add.add_argument("--topic", default="", help="APNs topic (the iOS bundle id)")
    add.add_argument("--android-package", default="", help="Android package name")
    add.add_argument("--web-origin", default="", help="https origin of the web app")
    add.add_argument("--has-nse", action="store_true", help=_NSE_HELP)
    add.set_defaults(handler=_add)
    update = verbs.add_parser(
        "update",
        help="change an app's identities, settings or defaults (frequency cap, quiet hours, "
        "time zone, …)",
    )
    update.add_argument("name")
    update.add_argument("--topic", help="APNs topic (the iOS bundle id)")
    update.add_argument("--android-package", help="Android package name")
    update.add_argument("--web-origin", help="https origin of the web app")
    update.add_argument(
        "--has-nse", action=argparse.BooleanOptionalAction, default=None, help=_NSE_HELP
    )
    add_rule_arguments(update)
    update.set_defaults(handler=_update)
    lst = verbs.add_parser("list", help="list apps")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)


def _add(ctx: Context, args: argparse.Namespace) -> int:
    app = add_app(
        ctx.workspace(),
        App(
            args.name,
            apns_topic=args.topic,
            android_package=args.android_package,
            web_origin=args.web_origin,
            has_service_extension=args.has_nse,
        ),
    )
    print(app.name)
    return 0


def _update(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.campaigns.hygiene import app_rules

    ws = ctx.workspace()
    app = get_app(ws, args.name)  # an unknown app is an error, not empty rules
    changes = {
        field: value
        for field, value in (
            ("apns_topic", args.topic),
            ("android_package", args.android_package),
            ("web_origin", args.web_origin),
            ("has_service_extension", args.has_nse),
        )
        if value is not None
    }
    updated = replace(app, **changes)
    if changes:
        validate_app(updated)  # before the rules are written: nothing half-written
    rules = apply_rule_arguments(ctx, args)  # checks every rule option before writing
    if changes:
        print(update_app(ws, updated).name)
    if rules is not None or not changes:
        print_rules(args.name, rules if rules is not None else app_rules(ws, args.name))
    return 0


def _list(ctx: Context, args: argparse.Namespace) -> int:
    apps = list_apps(ctx.workspace())
    if args.json:
        from pushdeck.cli.app_rules import rules_json
        from pushdeck.core.campaigns.hygiene import app_rules

        ctx.print_json(
            [
                {
                    "name": a.name,
                    "topic": a.apns_topic,
                    "android_package": a.android_package,
                    "web_origin": a.web_origin,
                    "has_service_extension": a.has_service_extension,
                    "rules": rules_json(app_rules(ctx.workspace(), a.name)),
                }
                for a in apps
            ]
        )
    else:
        ctx.table(
            [
                [
                    a.name,
                    a.apns_topic,
                    a.android_package,
                    a.web_origin,
                    "yes" if a.has_service_extension else "no",
                ]
                for a in apps
            ],
            ["NAME", "APNS TOPIC", "ANDROID PACKAGE", "WEB ORIGIN", "NSE"],
        )
    return 0
