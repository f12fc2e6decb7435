"""Start-up and the serial tail, as ratios measured in one run.

    python bench/bench_startup.py [--runs 5]

1. ``flywheel --help`` against ``python -c "import numpy, simpy, click"`` (the floor any
   command of this stack pays): the target is at most 3x.
2. ``flywheel run baseline -n 20 -j 2`` against ``-j 1``: with the charts drawn in the
   pool's workers, the target is at least 1.6x faster on an otherwise idle 2-core machine.

Each pair runs alternately (A B A B ...), so a drift in the machine's speed hits both;
the medians of the wall-clock times and of the pairwise ratios are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLYWHEEL = [sys.executable, "-m", "flywheel"]


def wall(cmd: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=dict(os.environ, MPLBACKEND="Agg"))
    return time.perf_counter() - t0


def pair(name: str, a: list[str], b: list[str], runs: int, cwd: str) -> None:
    wall(a, cwd), wall(b, cwd)  # warm-up: file caches, compiled bytecode
    ta, tb = [], []
    for _ in range(runs):
        ta.append(wall(a, cwd))
        tb.append(wall(b, cwd))
    ratios = [x / y for x, y in zip(ta, tb, strict=True)]
    sys.stdout.write(f"{name}: A {statistics.median(ta):.2f} s, B {statistics.median(tb):.2f} s, "
                     f"A/B median {statistics.median(ratios):.2f} "
                     f"(min {min(ratios):.2f}, max {max(ratios):.2f})\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each command")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="flywheel-bench-")
    try:
        pair("--help vs import numpy, simpy, click", [*FLYWHEEL, "--help"],
             [sys.executable, "-c", "import numpy, simpy, click"], args.runs, work)
        run = [*FLYWHEEL, "run", "baseline", "-n", "20", "-q", "--force", "--out"]
        pair("run -n 20: -j 1 vs -j 2", [*run, str(Path(work) / "j1"), "-j", "1"],
             [*run, str(Path(work) / "j2"), "-j", "2"], max(3, args.runs // 2), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
