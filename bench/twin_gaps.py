"""The mean-field twin against the simulation on the shipped self-serve scenarios.

For each scenario: the twin's value of a few headline metrics against the mean of N
replications (default 20, seed 20261123), as the gap (twin - mean) / mean and, in
brackets, the half-width of the mean's 95% CI, both in percent; printed as the Markdown
table of docs/model.md ("The mean-field twin", "Against the simulation").

    python bench/twin_gaps.py              # every scenario of the table, 20 replications
    python bench/twin_gaps.py -n 8 baseline trial
"""

from __future__ import annotations

import argparse
import math

SCENARIOS = ("baseline", "trial", "reverse-trial", "card-trial", "fast-ttv", "slow-ttv",
             "devtool-story", "data-integration-trial", "data-integration-sandbox")
#: (metric, column heading)
COLUMNS = (("signups", "signups"), ("activation_rate", "activation"), ("viral_coefficient", "K"),
           ("teams_ever_paid", "teams paid"), ("paying_teams", "paying"),
           ("active_users_end", "active users"), ("arr_end", "ARR"))
SEED = 20261123


def gaps(name: str, replications: int, jobs: int) -> list[str]:
    """The table's cells for one scenario."""
    from flywheel.studies.runner import simulate, simulate_twin

    des = simulate(name, replications=replications, seed=SEED, jobs=jobs)
    twin = simulate_twin(des.scenario)
    cells = []
    for metric, _ in COLUMNS:
        mean, lo, hi = des.mean_ci(metric)
        value = twin.replications[0].metrics[metric]
        if not (math.isfinite(mean) and mean and math.isfinite(value)):
            cells.append("–")
            continue
        half = (hi - lo) / 2 / abs(mean) * 100 if math.isfinite(hi - lo) else math.nan
        cells.append(f"{(value - mean) / abs(mean) * 100:+.1f}% (±{half:.1f})")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("-n", "--replications", type=int, default=20)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_args()
    print("| scenario | " + " | ".join(h for _, h in COLUMNS) + " |")  # noqa: T201
    print("|---|" + "---:|" * len(COLUMNS))  # noqa: T201
    for name in args.scenarios:
        print(f"| {name} | " + " | ".join(gaps(name, args.replications, args.jobs)) + " |",  # noqa: T201
              flush=True)


if __name__ == "__main__":
    main()
