"""``--workspace`` (and ``--debug``) work before the command and after it, on every verb."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from pushdeck.cli import build_parser


def pushdeck(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in its own process, with a private HOME (so a default workspace
    written by mistake lands where the test can see it)."""
    env = {k: v for k, v in os.environ.items() if k != "PUSHDECK_WORKSPACE"}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_workspace_after_the_command_is_the_one_used(tmp_path: Path) -> None:
    ws = tmp_path / "after.pushdeck"
    added = pushdeck(tmp_path, "apps", "add", "shop", "--topic", "com.x", "--workspace", str(ws))
    assert added.returncode == 0, added.stderr
    listed = pushdeck(tmp_path, "apps", "list", "--json", "--workspace", str(ws))
    assert listed.returncode == 0, listed.stderr
    assert [a["name"] for a in json.loads(listed.stdout)] == ["shop"]
    before = pushdeck(tmp_path, "--workspace", str(ws), "apps", "list", "--json")
    assert json.loads(before.stdout) == json.loads(listed.stdout)
    # Nothing went to the default workspace in the data directory.
    assert not list((tmp_path / "data").rglob("*.pushdeck"))


def test_an_error_after_the_command_names_the_given_workspace(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "x.pushdeck"
    result = pushdeck(tmp_path, "campaigns", "status", "Spring", "--workspace", str(missing))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Spring" in result.stderr or str(missing) in result.stderr


def _leaf_commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield words, parser
    for group in groups:
        for name, child in group.choices.items():
            yield from _leaf_commands(child, (*words, name))


def _value(action: argparse.Action) -> list[str]:
    """A valid placeholder for ``action`` (its first choice, or "x"); none for a flag."""
    if action.nargs == 0:
        return []
    return [str(next(iter(action.choices))) if action.choices else "x"]


def _minimal_argv(leaf: argparse.ArgumentParser) -> list[str]:
    """The command's required positionals and options, filled with placeholders."""
    argv: list[str] = []
    for action in leaf._actions:
        if not action.option_strings and action.required:
            argv += _value(action)
        elif action.option_strings and action.required:
            argv += [action.option_strings[0], *_value(action)]
    for group in leaf._mutually_exclusive_groups:
        if group.required:  # one of them: the first
            first = group._group_actions[0]
            argv += [first.option_strings[0], *_value(first)]
    return argv


def test_every_command_accepts_workspace_after_it() -> None:
    parser = build_parser()
    leaves = list(_leaf_commands(parser))
    assert len(leaves) > 20  # every verb of every group, not only a few
    for words, leaf in leaves:
        argv = [*words, *_minimal_argv(leaf)]
        args = parser.parse_args([*argv, "--workspace", "after.pushdeck"])
        assert args.workspace == "after.pushdeck", words
        # Given only before the command, it survives the command's own default.
        args = parser.parse_args(["--workspace", "before.pushdeck", *argv])
        assert args.workspace == "before.pushdeck", words
        assert parser.parse_args([*argv, "--debug"]).debug is True, words
