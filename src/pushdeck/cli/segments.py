"""``pushdeck segments``: saved audience rules."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pushdeck.cli.context import Context
from pushdeck.core.common.errors import SegmentError
from pushdeck.core.store.segment_rules import MAX_DEPTH, parse_rule
from pushdeck.core.store.segments import (
    Segment,
    count_rule,
    delete_segment,
    list_segments,
    sample_rule,
    save_segment,
    usable,
)

RULE_HELP = (
    "rule text, e.g. 'platform = ios and locale ^= pt and tag has vip'. Fields: platform, "
    "provider, app, locale (=, !=, ^= starts with), timezone, tag (has, lacks), attr.NAME "
    "(=, !=, <, >, <=, >=, contains, exists), opt_in, status, test, last_seen (within 30d, "
    "before 2026-01-31), environment; combine with and / or / not and parentheses"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("segments", help="saved audience rules")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="save a segment")
    add.add_argument("name")
    group = add.add_mutually_exclusive_group(required=True)
    group.add_argument("--rule", help=RULE_HELP)
    group.add_argument("--json-rule", help="the rule in its JSON form")
    add.add_argument("--description", default="")
    add.add_argument("--replace", action="store_true", help="overwrite an existing segment")
    add.set_defaults(handler=_add)
    lst = verbs.add_parser("list", help="list segments with their sizes")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)
    cnt = verbs.add_parser("count", help="count the devices in a segment")
    cnt.add_argument("name")
    cnt.add_argument("--app")
    cnt.add_argument("--json", action="store_true")
    cnt.set_defaults(handler=_count)
    show = verbs.add_parser("show", help="show a segment's rule, size and a sample")
    show.add_argument("name")
    show.add_argument("--sample", type=int, default=5)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)
    rm = verbs.add_parser("remove", help="delete a segment")
    rm.add_argument("name")
    rm.set_defaults(handler=_remove)


def _json_rule(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise SegmentError(
            f"--json-rule nests too deeply to read (a rule nests at most {MAX_DEPTH} levels)."
        ) from None
    except ValueError as exc:
        raise SegmentError(
            f"--json-rule is not valid JSON: {str(exc)[:120]}.",
            hint='Example: {"field": "platform", "op": "=", "value": "ios"}',
        ) from None


def _add(ctx: Context, args: argparse.Namespace) -> int:
    rule = parse_rule(args.rule) if args.rule else _json_rule(args.json_rule)
    segment = save_segment(
        ctx.workspace(), Segment(args.name, rule, args.description), replace=args.replace
    )
    print(f"{segment.name}: {segment.text} ({count_rule(ctx.workspace(), rule):,} devices)")
    return 0


def _list(ctx: Context, args: argparse.Namespace) -> int:
    """Every segment; a broken one is listed as such (never fails the whole list)."""
    ws = ctx.workspace()
    segments = list_segments(ws)
    rows = [(s, None if s.problem else count_rule(ws, s.rule)) for s in segments]
    if args.json:
        ctx.print_json(
            [
                {"name": s.name, "rule": s.rule, "text": s.text, "count": n, "problem": s.problem}
                for s, n in rows
            ]
        )
    else:
        ctx.table(
            [[s.name, "broken" if n is None else f"{n:,}", s.text] for s, n in rows],
            ["NAME", "DEVICES", "RULE"],
        )
    for segment in segments:
        if segment.problem:
            print(
                f"warning: segment {segment.name!r} cannot be used: {segment.problem} Fix it "
                f"with 'pushdeck segments add {segment.name} --replace --rule ...'.",
                file=sys.stderr,
            )
    return 0


def _count(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace()
    count = count_rule(ws, usable(ws, args.name).rule, args.app)
    print(json.dumps({"segment": args.name, "count": count}) if args.json else count)
    return 0


def _show(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace()
    segment = usable(ws, args.name)
    count = count_rule(ws, segment.rule)
    sample = sample_rule(ws, segment.rule, limit=args.sample)
    if args.json:
        ctx.print_json(
            {
                "name": segment.name,
                "rule": segment.rule,
                "text": segment.text,
                "count": count,
                "sample": [d.token for d in sample],
            }
        )
        return 0
    print(f"{segment.name}: {segment.text}\n{count:,} devices")
    for d in sample:
        print(f"  {d.platform.value:8} {d.locale:6} {d.token[:40]}")
    return 0


def _remove(ctx: Context, args: argparse.Namespace) -> int:
    delete_segment(ctx.workspace(), args.name)
    print(f"Deleted segment {args.name}.")
    return 0
