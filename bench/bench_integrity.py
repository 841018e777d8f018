"""What checking a workspace's integrity on open costs at 1,000,000 devices (issue 13).

Usage: python bench/bench_integrity.py [--rows 1000000] [--dir DIR]

Builds a workspace by importing a generated CSV (``bench_import.generate``; kept in DIR
between runs when --dir is given), then, each in a fresh process so nothing is cached
in Python: ``PRAGMA quick_check`` alone (median of 3, the file warm in the OS page cache
as it is right after the app last ran), ``Workspace.open`` + ``close`` when the daily
check is due, and when it is not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_import import generate, run_step


def step(name: str, ws_path: str) -> dict[str, float]:
    import sqlite3

    from pushdeck.core.store import Workspace
    from pushdeck.core.store import workspace as workspace_module

    if name == "quick_check":
        conn = sqlite3.connect(ws_path)
        start = time.perf_counter()
        result = conn.execute("PRAGMA quick_check").fetchall()
        seconds = time.perf_counter() - start
        conn.close()
        assert result == [("ok",)], result
        return {"seconds": seconds}
    if name == "open_due":
        workspace_module.forget_integrity_check(Path(ws_path))
    start = time.perf_counter()
    Workspace.open(ws_path).close()
    return {"seconds": time.perf_counter() - start}


def run(name: str, ws_path: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, str(ws_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout)["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="keep the CSV and workspace here")
    parser.add_argument("--step", nargs=2, metavar=("NAME", "WS"))
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(*args.step)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        csv_path, ws_path = folder / f"devices-{args.rows}.csv", folder / f"w-{args.rows}.pushdeck"
        if not ws_path.exists():
            generate(csv_path, args.rows)
            run_step("import", csv_path, ws_path)
        size = ws_path.stat().st_size / 1e6
        run("quick_check", ws_path)  # warm the page cache
        checks = sorted(run("quick_check", ws_path) for _ in range(3))
        due = sorted(run("open_due", ws_path) for _ in range(3))
        not_due = sorted(run("open", ws_path) for _ in range(3))
    print(f"rows: {args.rows:,}  workspace: {size:.0f} MB")
    print(f"PRAGMA quick_check: {checks[1]:.2f} s median of 3 ({checks[0]:.2f}-{checks[2]:.2f})")
    print(f"Workspace.open + close, check due: {due[1]:.2f} s median of 3")
    print(f"Workspace.open + close, checked today: {not_due[1] * 1000:.0f} ms median of 3")


if __name__ == "__main__":
    main()
