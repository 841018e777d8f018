"""Device import and segment count on 1,000,000 devices (issue 2).

Usage: python bench/bench_import.py [--rows 1000000] [--runs 3]

Runs, each in a fresh subprocess so peak RSS is the step's own:
  1. Pushdeck's importer on a generated CSV (validation, mapping, upsert, tags; a file this
     large takes the staged path: two reader processes, then one merge);
  2. a plain ``sqlite3.executemany`` of the same, already-parsed rows into the same schema
     (the floor: no validation, no upsert);
  3. counting a typical segment (platform + locale prefix + tag) on the imported workspace.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOCALES = [
    ("en-US", "America/New_York"),
    ("pt-BR", "America/Sao_Paulo"),
    ("de-DE", "Europe/Berlin"),
    ("fr-FR", "Europe/Paris"),
    ("ja-JP", "Asia/Tokyo"),
    ("pt-PT", "Europe/Lisbon"),
]


def generate(path: Path, rows: int) -> None:
    rng = random.Random(1)
    with path.open("w") as fh:
        fh.write("token,platform,locale,timezone,tags,opt_in,attr.first_name,attr.purchases\n")
        for i in range(rows):
            platform = "ios" if i % 2 else "android"
            token = (
                f"{rng.getrandbits(256):064x}"
                if platform == "ios"
                else (f"{rng.getrandbits(256):064x}:APA91b" + "x" * 100)
            )
            locale, zone = LOCALES[i % len(LOCALES)]
            tags = ";".join(t for t in ("vip", "beta", "news") if rng.random() < 0.2)
            fh.write(f"{token},{platform},{locale},{zone},{tags},authorized,Ana,{i % 20}\n")


def step_import(csv_path: str, ws_path: str, *, again: bool = False) -> dict[str, float]:
    from pushdeck.core.common.model import App
    from pushdeck.core.devices.importer import Progress, import_devices
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app

    ws = Workspace.open(ws_path)
    if not again:
        add_app(ws, App("bench"))
    saving_at: list[float] = []

    def on_progress(progress: Progress) -> None:
        if progress.phase == "saving" and not saving_at:
            saving_at.append(time.perf_counter())

    start = time.perf_counter()
    report = import_devices(ws, Path(csv_path), "bench", progress=on_progress)
    end = time.perf_counter()
    assert report.rejected_count == 0, report.as_dict()
    assert (report.unchanged if again else report.inserted) > 0, report.as_dict()
    return {
        "seconds": end - start,
        # a small file is written batch by batch while it is read: all "reading"
        "read_seconds": (saving_at or [end])[0] - start,
        "rows": report.inserted,
        "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def step_plain(csv_path: str, ws_path: str) -> dict[str, float]:
    import csv
    import sqlite3

    from pushdeck.core.store import Workspace

    Workspace.open(ws_path).close()  # same schema, indexes and triggers
    conn = sqlite3.connect(ws_path, isolation_level=None)
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("INSERT INTO apps (name, created_at) VALUES ('bench', '2026-01-01T00:00:00Z')")
    with open(csv_path, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        rows = [
            (
                1,
                r[1],
                "apns" if r[1] == "ios" else "fcm",
                r[0],
                r[2],
                r[3],
                json.dumps(sorted(r[4].split(";"))) if r[4] else "[]",
                r[5],
                json.dumps({"first_name": r[6], "purchases": int(r[7])}),
                "2026-01-01T00:00:00Z",
            )
            for r in reader
        ]
    start = time.perf_counter()
    for i in range(0, len(rows), 5000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO devices (app_id, platform, provider, token, locale, timezone, tags,"
            " opt_in, attributes, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows[i : i + 5000],
        )
        conn.execute("COMMIT")
    return {"seconds": time.perf_counter() - start, "rows": len(rows)}


def step_count(csv_path: str, ws_path: str) -> dict[str, float]:
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.segment_rules import parse_rule
    from pushdeck.core.store.segments import count_rule

    ws = Workspace.open(ws_path)
    rule = parse_rule("platform = ios and locale ^= pt and tag has vip")
    count_rule(ws, rule)  # warm the page cache like a user's second look
    times = []
    for _ in range(5):
        start = time.perf_counter()
        count = count_rule(ws, rule)
        times.append(time.perf_counter() - start)
    return {"seconds": sorted(times)[len(times) // 2], "rows": count}


def step_reimport(csv_path: str, ws_path: str) -> dict[str, float]:
    """The same file again into the workspace it was imported into: every row unchanged."""
    return step_import(csv_path, ws_path, again=True)


STEPS = {
    "import": step_import,
    "reimport": step_reimport,
    "plain": step_plain,
    "count": step_count,
}


def run_step(name: str, csv_path: Path, ws_path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, str(csv_path), str(ws_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--step", nargs=3, metavar=("NAME", "CSV", "WS"))
    parser.add_argument(
        "--runs", type=int, default=1, help="import this many times (fresh workspace each)"
    )
    args = parser.parse_args()
    if args.step:
        name, csv_path, ws_path = args.step
        result = STEPS[name](csv_path, ws_path)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "devices.csv"
        generate(csv_path, args.rows)
        size = csv_path.stat().st_size / 1e6
        runs = []
        for run in range(args.runs):
            workspace = Path(tmp) / ("a.pushdeck" if run == args.runs - 1 else f"r{run}.pushdeck")
            runs.append(run_step("import", csv_path, workspace))
            print(
                f"import run {run + 1}: {runs[-1]['seconds']:.1f} s "
                f"(reading {runs[-1]['read_seconds']:.1f} s, load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
            if workspace.name != "a.pushdeck":
                for leftover in Path(tmp).glob(f"{workspace.name}*"):
                    leftover.unlink()
        imp = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]  # the median run
        plain = run_step("plain", csv_path, Path(tmp) / "b.pushdeck")
        count = run_step("count", csv_path, Path(tmp) / "a.pushdeck")
    print(f"rows: {args.rows:,}  csv: {size:.0f} MB")
    print(
        f"pushdeck import: {imp['seconds']:.1f} s  ({args.rows / imp['seconds']:,.0f} rows/s): "
        f"reading and checking {imp['read_seconds']:.1f} s, saving "
        f"{imp['seconds'] - imp['read_seconds']:.1f} s; peak RSS {imp['peak_rss_mb']:.0f} MB "
        f"(second reader {imp['child_rss_mb']:.0f} MB)"
    )
    print(
        f"plain executemany: {plain['seconds']:.1f} s, peak RSS {plain['peak_rss_mb']:.0f} MB "
        f"(all rows held in memory)"
    )
    print(f"ratio import / plain: {imp['seconds'] / plain['seconds']:.2f}")
    print(
        f"segment count (platform + locale prefix + tag): {count['seconds'] * 1000:.0f} ms "
        f"median of 5 -> {int(count['rows']):,} devices"
    )


if __name__ == "__main__":
    main()
