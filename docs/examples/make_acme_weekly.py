"""How docs/examples/acme-weekly.csv was made: the simulation plays a starter scenario
(`flywheel init --signups-per-week 150`) at settings a founder would not know, for 26 weeks
from Monday 4 May 2026, and writes what a dashboard would show, with two weeks of MRR
missing.  The calibration tutorial (docs/calibration.md) fits it and compares the fit with
these settings.  Run: python docs/examples/make_acme_weekly.py docs/examples/acme-weekly.csv
"""

from __future__ import annotations

import datetime as dt
import sys

import numpy as np

from flywheel.engines.model import Model
from flywheel.engines.rng import replication_seeds
from flywheel.metrics import replication_series
from flywheel.scenario.files import load_scenario_text
from flywheel.scenario.settings import Settings
from flywheel.scenario.starter import Answers, starter_toml
from flywheel.studies.observed import COLUMNS, weekly

#: The hidden truth: what the tutorial's fit should find.
HIDDEN = ['acquisition.organic="200/week"', "retention.churn_monthly=0.045",
          "pricing.upgrade_probability=0.28"]
WEEKS = 26
FIRST_MONDAY = dt.date(2026, 5, 4)


def main(path: str) -> None:
    text = starter_toml(Answers(name="acme", signups_per_week=150))
    sc = load_scenario_text(text, overrides=[f"simulation.horizon={7 * WEEKS}d", *HIDDEN])
    o = Model(Settings.of(sc), replication_seeds(2026, 1)[0]).run()
    weeks = np.arange(1, WEEKS + 1)
    series = weekly(replication_series(o), weeks)
    series["mrr"][[9, 17]] = np.nan  # two weeks the billing export was not kept
    with open(path, "w", encoding="utf-8") as f:
        f.write("week," + ",".join(COLUMNS) + "\n")
        for i in range(WEEKS):
            day = FIRST_MONDAY + dt.timedelta(weeks=i)
            cells = ["" if np.isnan(series[c][i]) else f"{series[c][i]:.0f}" for c in COLUMNS]
            f.write(f"{day.isoformat()}," + ",".join(cells) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
