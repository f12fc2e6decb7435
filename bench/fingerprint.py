"""A fingerprint of what the engines produce, to show a restructuring changed nothing.

Runs a few shipped scenarios with a fixed seed through the simulation (and the mean-field
twin where it applies) and hashes every metric, daily series, funnel stage, cohort cell
and final-state count, rounded to 12 significant digits (so a different but equivalent
order of floating-point sums does not count as a change).  Prints one line per scenario
and engine; ``--json FILE`` writes the hashes and ``--check FILE`` compares against them
(exit 1 on any difference, naming each metric or series that moved; parts the reference
does not have, metrics added since, are listed as new and are no difference).

    python bench/fingerprint.py --json /tmp/before.json
    ... change the code ...
    python bench/fingerprint.py --check /tmp/before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from typing import Any

import flywheel
from flywheel.scenario.files import load_scenario

SCENARIOS = ("baseline", "reverse-trial", "data-integration-trial", "plg-sales-assist",
             "sales-led")
REPLICATIONS = 3
SEED = 20261129
HORIZON = "180d"


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return None if math.isnan(x) else (x if math.isinf(x) else float(f"{x:.12g}"))
    if isinstance(x, dict):
        return {str(k): _round(v) for k, v in sorted(x.items())}
    if isinstance(x, (list, tuple)):
        return [_round(v) for v in x]
    if hasattr(x, "tolist"):
        return _round(x.tolist())
    return x


def parts(run: Any) -> dict[str, Any]:
    """What a run produced, by part: each metric, each series, the funnel, cohorts, states."""
    out: dict[str, Any] = {}
    for rep in run.replications:
        for name, value in rep.metrics.items():
            out.setdefault(f"metric {name}", []).append(value)
        for name, values in rep.series.items():
            out.setdefault(f"series {name}", []).append(values)
        out.setdefault("funnel", []).append(rep.funnel)
        out.setdefault("cohorts", []).append(rep.cohorts)
        out.setdefault("states", []).append(rep.states)
    return {k: hashlib.sha256(json.dumps(_round(v)).encode()).hexdigest()[:16]
            for k, v in sorted(out.items())}


def fingerprints() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for name in SCENARIOS:
        sc = load_scenario(name, [f"simulation.horizon={HORIZON}"])
        run = flywheel.simulate(sc, replications=REPLICATIONS, seed=SEED, jobs=1)
        found[f"{name} des"] = parts(run)
        if name in ("baseline", "reverse-trial", "data-integration-trial"):
            from flywheel.studies.runner import simulate_twin

            found[f"{name} meanfield"] = parts(simulate_twin(sc))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the fingerprints to this file")
    parser.add_argument("--check", help="compare with fingerprints written before")
    args = parser.parse_args(argv)
    found = fingerprints()
    for key, hashes in found.items():
        whole = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
        sys.stdout.write(f"{key:<34} {whole}  ({len(hashes)} parts)\n")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(found, fh, indent=1, sort_keys=True)
    if args.check:
        with open(args.check) as fh:
            before = json.load(fh)
        # a part the reference does not have (a metric added since) is new, not a change;
        # one it has that is gone or differs is a change
        moved = [(key, part) for key in sorted(before)
                 for part in sorted(before[key])
                 if before[key][part] != found.get(key, {}).get(part)]
        added = [(key, part) for key in sorted(found)
                 for part in sorted(set(found[key]) - set(before.get(key, {})))]
        for key, part in moved:
            sys.stdout.write(f"changed: {key}: {part}\n")
        if added:
            names = sorted({part for _, part in added})
            sys.stdout.write(f"{len(added)} parts new (not in the reference): "
                             f"{', '.join(names)}\n")
        sys.stdout.write(f"{len(moved)} parts changed\n")
        return 1 if moved else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
