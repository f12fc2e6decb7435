"""Benchmark: the mean-field twin against one simulation replication of the same scenario.

For the shipped baseline and the baseline with a 10x market (companies, organic contacts
and paid budget all x10), prints the twin's solve time (best of 3), its right-hand-side
evaluations and state size, the wall time of one DES replication (model run plus every
metric, series, funnel and cohort table), and their ratio.

    python bench/bench_meanfield.py            # baseline and 10x
    python bench/bench_meanfield.py trial      # another shipped scenario, same two sizes
    python bench/bench_meanfield.py --convergence docs/meanfield-convergence.png
    python bench/bench_meanfield.py --ratio     # two-year baseline: twin / one replication

``--ratio [ROUNDS] [SCENARIO]`` times, in one process and alternating ROUNDS times
(default 7), the twin's two-year solve of SCENARIO (default the baseline: what a calibration
search runs many times) and one discrete-event replication of the same scenario (the
model's run, ``Model(...).run()``), and prints each median and the ratio twin / replication
of the medians.  Alternating keeps both under the same load of a shared machine.

``--convergence`` draws the figure of docs/model.md: the relative gap between the mean
of 8 replications and the twin, in the world of tests/test_meanfield.py where the twin is
exact in the mean, for market sizes x1 to x64 (about a minute on 2 cores).

The twin's cost does not grow with the market (its state is per size bin and team class,
not per user); the simulation's grows with the signups.  Timings on a busy 2-core machine
vary by +/-30%; BLAS threads are left as configured.
"""

from __future__ import annotations

import sys
import time


def scaled(name: str, factor: float) -> list[str]:
    """Overrides that multiply the market and the acquisition by ``factor``."""
    from flywheel.scenario.files import load_scenario

    sc = load_scenario(name)
    if factor == 1:
        return []
    return [f"market.companies={int(sc['market.companies'] * factor)}",
            f"acquisition.organic={sc['acquisition.organic'] * factor}/day",
            f"acquisition.paid_budget={sc['acquisition.paid_budget'] * factor}/day"]


def one(name: str, factor: float) -> dict[str, float]:
    from flywheel.engines import meanfield
    from flywheel.engines.rng import replication_seeds
    from flywheel.scenario.files import load_scenario
    from flywheel.studies.runner import run_replication

    sc = load_scenario(name, scaled(name, factor))
    best = float("inf")
    result = None
    for _ in range(3):
        t0 = time.perf_counter()
        result = meanfield.solve(sc)
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    seq = replication_seeds(int(sc["simulation.seed"]), 1)[0]
    t0 = time.perf_counter()
    rep = run_replication(dict(sc.values), seq, 0)
    des = time.perf_counter() - t0
    return {"factor": factor, "signups": rep.metrics["signups"], "twin_s": best,
            "evaluations": result.evaluations, "states": result.state_size, "des_s": des,
            "ratio": des / best}


def ratio(rounds: int = 7, name: str = "baseline", horizon: str = "2y") -> dict[str, float]:
    """Median seconds of the twin's solve and of one replication, alternating ``rounds`` times."""
    import statistics

    from flywheel.engines import meanfield
    from flywheel.engines.model import Model
    from flywheel.engines.rng import replication_seeds
    from flywheel.scenario.files import load_scenario
    from flywheel.scenario.settings import Settings

    sc = load_scenario(name, [f"simulation.horizon={horizon}"])
    seq = replication_seeds(int(sc["simulation.seed"]), 1)[0]
    meanfield.solve(sc)  # (imports and first-call costs out of the way, both sides)
    Model(Settings.of(sc), seq).run()
    twin, des = [], []
    evaluations, method = 0, ""
    for _ in range(rounds):
        t0 = time.perf_counter()
        solved = meanfield.solve(sc)
        evaluations, method = solved.evaluations, solved.method
        twin.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        Model(Settings.of(sc), seq).run()
        des.append(time.perf_counter() - t0)
    out = {"twin_s": statistics.median(twin), "des_s": statistics.median(des),
           "evaluations": evaluations}
    out["ratio"] = out["twin_s"] / out["des_s"]
    print(f"{name}, {horizon}, {rounds} alternating rounds (medians): twin {out['twin_s']:.3f} s "  # noqa: T201
          f"({method}, {evaluations} evaluations), one replication {out['des_s']:.3f} s, "
          f"twin / replication {out['ratio']:.2f}")
    return out


def convergence(path: str, scales: tuple[int, ...] = (1, 4, 16, 64), reps: int = 8) -> None:
    """The RMS relative gap (twin vs replication mean) against the scale, with s^-1/2."""
    import math

    import numpy as np
    from matplotlib.figure import Figure

    from flywheel.outputs.files import write_file
    from flywheel.outputs.plots import png_bytes
    from flywheel.studies.validation import convergence_gaps  # the test's measurement, one definition

    gaps, ses = [], []
    for s in scales:
        rel, se = convergence_gaps(s, reps)
        gaps.append(math.sqrt(np.mean(np.square(rel))))
        ses.append(math.sqrt(np.mean(np.square(se))))
        print(f"s={s:3d}: RMS gap {gaps[-1]:.5f}, RMS standard error {ses[-1]:.5f}")  # noqa: T201
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    x = np.array(scales, dtype=float)
    ax.loglog(x, gaps, "o-", label="twin vs mean of 8 replications (RMS relative gap)")
    ax.loglog(x, ses, "s--", label="standard error of that mean (RMS, relative)")
    ax.loglog(x, gaps[0] * x**-0.5, ":", color="#555555", label="s^-1/2")
    ax.set_xlabel("scale s (companies, organic and paid contacts x s)")
    ax.set_ylabel("relative gap")
    ax.set_title("The simulation's mean approaches the mean-field twin", loc="left")
    ax.legend(frameon=False, fontsize=9)
    write_file(path, png_bytes(fig))
    print(f"wrote {path}")  # noqa: T201


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--ratio":
        ratio(int(argv[1]) if len(argv) > 1 else 7, argv[2] if len(argv) > 2 else "baseline")
        return
    if argv and argv[0] == "--convergence":
        convergence(argv[1] if len(argv) > 1 else "docs/meanfield-convergence.png")
        return
    name = argv[0] if argv else "baseline"
    rows = [one(name, f) for f in (1, 10)]
    print(f"{name}: mean-field twin vs one DES replication")  # noqa: T201
    print(f"{'market':>7} {'signups':>9} {'twin s':>7} {'evals':>6} {'states':>6} "  # noqa: T201
          f"{'DES s':>7} {'DES/twin':>8}")
    for r in rows:
        print(f"{r['factor']:>6g}x {r['signups']:>9,.0f} {r['twin_s']:>7.2f} "  # noqa: T201
              f"{r['evaluations']:>6.0f} {r['states']:>6.0f} {r['des_s']:>7.2f} {r['ratio']:>8.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
