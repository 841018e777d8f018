"""``pushdeck apps update APP --frequency-cap 2/24h --quiet-hours 21:00-08:00 …``.

An app's audience-hygiene defaults (docs/campaign-file.md, "Frequency caps and quiet
hours"); a campaign file's own ``frequency_cap`` / ``quiet_hours`` override them.
"""

from __future__ import annotations

import argparse
from typing import Any

from pushdeck.cli.context import Context
from pushdeck.core.campaigns.hygiene import update_app_rules
from pushdeck.core.campaigns.hygiene_rules import (
    AppRules,
    parse_cap_option,
    parse_quiet_option,
    parse_window,
)


def add_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """The rule options of ``apps update`` (each optional: unset leaves it as it is)."""
    parser.add_argument(
        "--frequency-cap",
        metavar="N/WINDOW",
        help="at most N notifications per device within WINDOW, every campaign counted "
        "(e.g. 2/24h, 5/7d); 'none' removes the app's cap",
    )
    parser.add_argument(
        "--quiet-hours",
        metavar="FROM-TO[/skip]",
        help="no sends between these local times in each device's time zone "
        "(e.g. 21:00-08:00 holds devices until 08:00; 21:00-08:00/skip skips them); 'none'",
    )
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone for devices that have none (default UTC; '' resets)",
    )
    parser.add_argument(
        "--attribution-window",
        metavar="WINDOW",
        help="how long after an open a conversion counts as influenced (default 24h)",
    )


def apply_rule_arguments(ctx: Context, args: argparse.Namespace) -> AppRules | None:
    """Apply the options given; None when none was (nothing changed)."""
    given = [args.frequency_cap, args.quiet_hours, args.timezone, args.attribution_window]
    if all(value is None for value in given):
        return None
    window = args.attribution_window
    return update_app_rules(
        ctx.workspace(),
        args.name,
        frequency_cap=None if args.frequency_cap is None else parse_cap_option(args.frequency_cap),
        quiet_hours=None if args.quiet_hours is None else parse_quiet_option(args.quiet_hours),
        timezone=args.timezone,
        attribution_window=None if window is None else parse_window(window, "--attribution-window"),
    )


def rules_json(rules: AppRules) -> dict[str, Any]:
    return {
        "frequency_cap": rules.frequency_cap.option if rules.frequency_cap else None,
        "quiet_hours": rules.quiet_hours.option if rules.quiet_hours else None,
        "timezone": rules.timezone or "UTC",
        "attribution_window": rules.attribution_window.text if rules.attribution_window else "24h",
    }


def print_rules(name: str, rules: AppRules) -> None:
    values = rules_json(rules)
    print(f"{name}: frequency cap {values['frequency_cap'] or 'none'}, quiet hours "
          f"{values['quiet_hours'] or 'none'}, default time zone {values['timezone']}, "
          f"attribution window {values['attribution_window']}")  # fmt: skip
