"""The shipped baseline's measured figures sit inside the published ranges in DESIGN.

Each band is a practitioner range (see flywheel/defaults.py for the sources beside the
defaults they inform); the check is that the 95% CI of the replication mean lies inside
it, over 8 replications of the full baseline.
"""

from __future__ import annotations

import pytest

from flywheel.runner import simulate
from flywheel.scenario import load_scenario

BANDS = {
    # signup -> activation: average ~34-37%, median ~25-30% (Rachitsky survey; Userpilot)
    "activation_rate": (0.25, 0.37),
    # median time to value ~1.5 days for B2B SaaS (Userpilot, 547 companies): +-0.5 day
    "ttv_median_days": (1.0, 2.0),
    # freemium -> paid, self-serve: 3-5% good, 6-8% great (Rachitsky / Poyar)
    "free_to_paid_rate": (0.03, 0.08),
    # viral coefficient K for B2B SaaS: ~0.1-0.3 (Skok)
    "viral_coefficient": (0.10, 0.30),
    # monthly churn, SMB self-serve: 3-7% (SaaStr, Lemkin)
    "user_churn_monthly": (0.03, 0.07),
    "logo_churn_monthly": (0.03, 0.07),
}


@pytest.fixture(scope="module")
def baseline_run():  # noqa: ANN201
    return simulate(load_scenario("baseline"), replications=8, seed=2026, jobs=2)


@pytest.mark.parametrize("metric", list(BANDS))
def test_baseline_sits_inside_published_band(baseline_run, metric: str) -> None:  # noqa: ANN001
    low, high = BANDS[metric]
    mean, lo, hi = baseline_run.mean_ci(metric)
    assert low <= lo and hi <= high, f"{metric}: {mean:.4g} [{lo:.4g}, {hi:.4g}] not in [{low}, {high}]"
