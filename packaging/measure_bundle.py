"""Bundle size and startup time of the frozen app (numbers for bench/README.md).

    python packaging/measure_bundle.py                      # dist/pushdeck, 7 runs
    python packaging/measure_bundle.py --runs 11 --compare .venv/bin/python

Size: the one-folder bundle on disk and the compressed tarball beside it in dist/.
Startup: wall time from spawning the executable to the main window being shown
(``PUSHDECK_STARTUP_PROBE=1 pushdeck --self-test`` prints the moment it is on screen),
offscreen Qt, a fresh empty config each run. The first run is reported apart (cold:
files not yet in the page cache, unless an earlier build just touched them); the rest
as median and min. ``--compare PYTHON`` measures ``PYTHON -m pushdeck`` the same way.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = re.compile(r"startup-probe: main window shown at ([0-9.]+)")


def folder_mb(path: Path) -> float:
    """Bytes of the files in ``path`` (symlinks, which PyInstaller uses for libraries, once)."""
    files = (p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return sum(p.stat().st_size for p in files) / 1e6


def one_start(command: list[str]) -> float:
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
            "PUSHDECK_STARTUP_PROBE": "1",
            "XDG_CONFIG_HOME": str(Path(home) / "config"),
        }
        if sys.platform == "win32":
            env = {**os.environ, **env}
        started = time.time()
        done = subprocess.run(
            [*command, "--self-test"], env=env, capture_output=True, text=True, timeout=120
        )
    match = PROBE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"{command[0]} failed:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1)) - started


def measure(label: str, command: list[str], runs: int) -> None:
    times = [one_start(command) for _ in range(runs)]
    warm = times[1:] or times
    sys.stdout.write(
        f"{label}: first run {times[0]:.2f} s; then median {statistics.median(warm):.2f} s, "
        f"min {min(warm):.2f} s over {len(warm)} runs\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "pushdeck")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--compare", metavar="PYTHON", help="also time PYTHON -m pushdeck")
    args = parser.parse_args(argv)
    exe = args.bundle / ("pushdeck-cli.exe" if sys.platform == "win32" else "pushdeck")
    tarballs = sorted(args.bundle.parent.glob("pushdeck-*.tar.gz"))
    sys.stdout.write(f"bundle folder: {folder_mb(args.bundle):.0f} MB ({args.bundle})\n")
    for tarball in tarballs:
        sys.stdout.write(f"tarball: {tarball.stat().st_size / 1e6:.0f} MB ({tarball.name})\n")
    measure("frozen app to main window", [str(exe)], args.runs)
    if args.compare:
        measure(
            f"{args.compare} -m pushdeck to main window",
            [args.compare, "-m", "pushdeck"],
            args.runs,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
