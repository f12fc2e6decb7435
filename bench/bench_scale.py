"""Scale benchmark: the baseline flywheel at about 10k, 100k and 1M signups in a year.

Prints, for each size, the signups simulated, the wall time of one replication (model
run plus every metric, series, funnel and cohort table), signups per second, the cost
per signup, and the peak memory of the process that ran it.  Each size runs in its own
process so peak memory is its own.

    python bench/bench_scale.py            # 10k, 100k, 1M
    python bench/bench_scale.py 100000     # one size

Targets on a 2-core machine: 1M signups in at most 20 s of one core, per-signup cost at
1M at most 1.3x that at 100k, peak memory at most 300 MiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SIZES = (10_000, 100_000, 1_000_000)


def overrides(signups: int) -> list[str]:
    """Baseline with organic contacts scaled to bring about ``signups`` in a year.

    About 1.03 signups arrive per organic contact once invites and word of mouth are
    counted; the market is made large enough (~5 people per signup) not to saturate.
    """
    return [f"acquisition.organic={signups / 1.03 / 365.25:.3f}/day",
            f"market.companies={max(20_000, signups // 2)}"]


def one(signups: int) -> dict[str, float]:
    from flywheel.engines.rng import replication_seeds
    from flywheel.scenario.files import load_scenario
    from flywheel.studies.runner import run_replication

    sc = load_scenario("baseline", overrides(signups))
    seq = replication_seeds(int(sc["simulation.seed"]), 1)[0]
    t0 = time.process_time()
    w0 = time.perf_counter()
    res = run_replication(dict(sc.values), seq, 0)
    cpu = time.process_time() - t0
    wall = time.perf_counter() - w0
    n = res.metrics["signups"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    return {"target": signups, "signups": n, "cpu_s": cpu, "wall_s": wall,
            "signups_per_s": n / cpu, "us_per_signup": 1e6 * cpu / n, "peak_mib": peak}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, metavar="SIGNUPS",
                        help=f"signups in a year to simulate (default: {', '.join(map(str, SIZES))})")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a size, in its own process
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.one)))  # noqa: T201
        return
    sizes = args.sizes or list(SIZES)
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True,
                             capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'target':>10} {'signups':>10} {'cpu s':>7} {'signups/s':>10} "  # noqa: T201
          f"{'us/signup':>9} {'peak MiB':>8}")
    for r in rows:
        print(f"{r['target']:>10,} {r['signups']:>10,.0f} {r['cpu_s']:>7.2f} "  # noqa: T201
              f"{r['signups_per_s']:>10,.0f} {r['us_per_signup']:>9.2f} {r['peak_mib']:>8.0f}")
    by = {r["target"]: r for r in rows}
    if 100_000 in by and 1_000_000 in by:
        ratio = by[1_000_000]["us_per_signup"] / by[100_000]["us_per_signup"]
        print(f"per-signup cost at 1M / at 100k: {ratio:.2f} (target <= 1.3)")  # noqa: T201


if __name__ == "__main__":
    main(sys.argv[1:])
