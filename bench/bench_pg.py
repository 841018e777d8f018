"""Import and segment count on PostgreSQL beside SQLite, from the same file (issue 17).

Usage: python bench/bench_pg.py [--rows 1000000] [--runs 1] [--again]

Uses the server of ``$PUSHDECK_TEST_PG_ADMIN_DSN`` / ``$PUSHDECK_TEST_PG_USER_DSN`` when
set (``eval "$(scripts/pg_throwaway start --owner $$)"``), else starts a throwaway one
itself (scripts/pg_throwaway, stopped at the end). For each run, alternately:

  1. Pushdeck's importer into a new SQLite workspace file (the staged path: two reader
     processes, one merge in token order, indexes rebuilt);
  2. the same file into a new PostgreSQL database (the same readers, then COPY into a
     temporary table and one merge transaction, then VACUUM and ANALYZE);

each in a fresh process (``bench_import.py --step``); with ``--again``, each import is
followed by the same file into the same workspace (every row found, none changed). Then
the typical segment (``platform = ios and locale ^= pt and tag has vip``) is counted on
both, median of 5 after one warm-up. The load average is printed with every number: the
machine is shared.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import generate, run_step

ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def _server() -> tuple[str, str, Path | None]:
    admin = os.environ.get("PUSHDECK_TEST_PG_ADMIN_DSN")
    user = os.environ.get("PUSHDECK_TEST_PG_USER_DSN")
    if admin and user:
        return admin, user, None
    out = subprocess.run(
        [str(ROOT / "scripts" / "pg_throwaway"), "start", "--owner", str(os.getpid())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(
        shlex.split(line)[1].split("=", 1) for line in out.splitlines() if line.startswith("export")
    )
    return (
        values["PUSHDECK_TEST_PG_ADMIN_DSN"],
        values["PUSHDECK_TEST_PG_USER_DSN"],
        Path(values["PUSHDECK_TEST_PG_DIR"]),
    )


def _new_database(admin: str, user_dsn: str) -> str:
    """A fresh database owned by the (non-superuser) password role, as that role's URI."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    role = psycopg.conninfo.conninfo_to_dict(user_dsn)["user"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(str(role))
            )
        )
    return user_dsn.replace("/postgres?", f"/{name}?", 1)


def _drop(admin: str, uri: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(uri)["dbname"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="imports per backend, alternating")
    parser.add_argument(
        "--again",
        action="store_true",
        help="after each import, import the same file again into the same workspace",
    )
    args = parser.parse_args()
    admin, user, started = _server()
    databases: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "devices.csv"
            generate(csv_path, args.rows)
            print(f"rows: {args.rows:,}  csv: {csv_path.stat().st_size / 1e6:.0f} MB", flush=True)
            results: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgresql": []}
            again: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgresql": []}
            targets: dict[str, str] = {}
            for run in range(args.runs):
                for backend in ("sqlite", "postgresql"):
                    if backend == "sqlite":
                        target = str(Path(tmp) / f"run{run}.pushdeck")
                    else:
                        target = _new_database(admin, user)
                        databases.append(target)
                    before = _load()
                    result = run_step("import", csv_path, target)  # type: ignore[arg-type]
                    result["load"] = f"{before} → {_load()}"  # type: ignore[assignment]
                    results[backend].append(result)
                    targets[backend] = target
                    print(
                        f"{backend:>10} import run {run + 1}: {result['seconds']:.1f} s "
                        f"(reading {result['read_seconds']:.1f} s, saving "
                        f"{result['seconds'] - result['read_seconds']:.1f} s; "
                        f"{result['load']})",
                        flush=True,
                    )
                    if args.again:
                        before = _load()
                        result = run_step("reimport", csv_path, target)  # type: ignore[arg-type]
                        again[backend].append(result)
                        print(
                            f"{backend:>10} same file again, run {run + 1}: "
                            f"{result['seconds']:.1f} s ({before} → {_load()})",
                            flush=True,
                        )
            counts = {}
            for backend, target in targets.items():
                before = _load()
                counts[backend] = run_step("count", csv_path, target)  # type: ignore[arg-type]
                print(
                    f"{backend:>10} segment count: {counts[backend]['seconds'] * 1000:.0f} ms "
                    f"median of 5 -> {int(counts[backend]['rows']):,} devices "
                    f"({before} → {_load()})",
                    flush=True,
                )
            median = {
                b: sorted(r["seconds"] for r in rs)[len(rs) // 2] for b, rs in results.items()
            }
            print(
                f"import: PostgreSQL {median['postgresql']:.1f} s, SQLite "
                f"{median['sqlite']:.1f} s, ratio {median['postgresql'] / median['sqlite']:.2f} "
                "(target <= 1.5)"
            )
            if args.again:
                median = {
                    b: sorted(r["seconds"] for r in rs)[len(rs) // 2] for b, rs in again.items()
                }
                print(
                    f"same file again: PostgreSQL {median['postgresql']:.1f} s, SQLite "
                    f"{median['sqlite']:.1f} s, ratio "
                    f"{median['postgresql'] / median['sqlite']:.2f}"
                )
            assert counts["sqlite"]["rows"] == counts["postgresql"]["rows"], counts
    finally:
        for uri in databases:
            _drop(admin, uri)
        if started is not None:
            subprocess.run([str(ROOT / "scripts" / "pg_throwaway"), "stop", str(started)])


if __name__ == "__main__":
    main()
