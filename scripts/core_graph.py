# ruff: noqa: T201 - a command-line tool: printing is its output
"""Print the core's wing-level import graph (Mermaid), from the real imports.

    .venv/bin/python scripts/core_graph.py            # the graph

Uses grimp (import-linter's graph builder), so it sees every import, lazy ones included.
docs/architecture.md shows its output; import-linter's layers contract is what enforces it.
"""

from __future__ import annotations

import sys

import grimp

#: From the top, as in src/pushdeck/core/__init__.py.
WINGS = (
    "demo", "reports", "campaigns", "team", "engagement", "credentials", "providers",
    "messages", "devices", "store", "net", "common",
)  # fmt: skip


def wing_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["pushdeck", "core"] else None


def main() -> int:
    graph = grimp.build_graph("pushdeck")
    arrows: set[tuple[str, str]] = set()
    for module in graph.modules:
        source = wing_of(module)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = wing_of(imported)
            if target and target != source:
                arrows.add((source, target))
    upward = [(a, b) for a, b in arrows if WINGS.index(a) > WINGS.index(b)]
    print("flowchart TD")
    for a, b in sorted(arrows, key=lambda ab: (WINGS.index(ab[0]), WINGS.index(ab[1]))):
        print(f"    {a} --> {b}")
    if upward:
        print("upward arrows:", upward, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
