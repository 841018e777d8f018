"""A command imports its own verb group only; what it parses is what the whole parser parses."""

from __future__ import annotations

import argparse
import subprocess
import sys

from pushdeck.cli import COMMAND_MODULES, _command_word, build_parser
from tests.core.test_cli_global_options import _leaf_commands, _minimal_argv


def test_one_group_parses_every_command_as_the_whole_parser_does() -> None:
    whole = build_parser()
    leaves = list(_leaf_commands(whole))
    checked = 0
    for words, leaf in leaves:
        if words[0] not in COMMAND_MODULES:
            continue  # registered by another group's module (e.g. 'collect')
        argv = [*words, *_minimal_argv(leaf)]
        for full in (argv, ["--workspace", "w.pushdeck", *argv], [*argv, "--debug"]):
            assert _command_word(full) == words[0]
            assert build_parser(words[0]).parse_args(full) == whole.parse_args(full), full
        checked += 1
    assert checked > 20


def test_the_command_word_is_found_only_after_global_options() -> None:
    assert _command_word(["campaigns", "send", "x"]) == "campaigns"
    assert _command_word(["--workspace", "campaigns", "devices", "list"]) == "devices"
    assert _command_word(["--workspace=w", "--debug", "report"]) == "report"
    assert _command_word(["--help", "campaigns"]) is None  # top-level help: every group
    assert _command_word(["--version"]) is None
    assert _command_word([]) is None


def _run(*code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "\n".join(code)], capture_output=True, text=True, timeout=120
    )


def test_a_command_does_not_import_the_other_groups_or_sqlite_utils(tmp_path: object) -> None:
    out = _run(
        "import sys",
        "from pushdeck.cli import main",
        f"code = main(['--workspace', {str(tmp_path)!r} + '/w.pushdeck', 'campaigns', 'list'])",
        "loaded = sorted(m for m in sys.modules if m.startswith('pushdeck.cli.'))",
        "print('RESULT', code, loaded, 'sqlite_utils' in sys.modules, 'numpy' in sys.modules)",
    )
    assert out.returncode == 0, out.stderr
    result = out.stdout[out.stdout.index("RESULT") :]
    assert result.split()[1] == "0"
    assert "pushdeck.cli.devices" not in result and "pushdeck.cli.report" not in result
    assert "pushdeck.cli.campaigns" in result
    assert result.rstrip().endswith("False False")


def test_top_level_help_still_lists_every_group() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    for name in ("apps", "credentials", "devices", "segments", "push", "campaigns", "report"):
        assert name in out.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "pushdeck", "campaign", "list"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert wrong.returncode == 2 and "campaigns" in wrong.stderr  # argparse lists the choices
    assert isinstance(build_parser("campaigns"), argparse.ArgumentParser)
