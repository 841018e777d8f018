"""Issue 16: outside ``store/``, no module of the core holds SQL text.

The other wings call store functions that say what they do, so a second database
backend replaces ``store/`` alone. This is the issue's "done when" grep, run as a test:
it reads the source files, the way a reviewer would. (That no wing but the store
imports the database driver is an import-linter contract in pyproject.toml.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pushdeck.core

CORE = Path(pushdeck.core.__file__).parent
#: The issue's grep: ``grep -rn "SELECT\\|INSERT INTO\\|UPDATE .* SET\\|DELETE FROM"``.
SQL = re.compile(r"SELECT|INSERT INTO|UPDATE .* SET|DELETE FROM")


def sql_lines(paths: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(CORE)}:{number}: {line.strip()}"
        for path in paths
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]


def test_no_sql_text_outside_the_store() -> None:
    outside = [p for p in sorted(CORE.rglob("*.py")) if p.relative_to(CORE).parts[0] != "store"]
    assert len(outside) > 50  # every wing's modules were read
    assert sql_lines(outside) == []


def test_the_scan_finds_sql_where_it_is() -> None:
    # store/ is full of SQL: a check that never matched would pass for nothing.
    assert len(sql_lines(sorted((CORE / "store").rglob("*.py")))) > 50
