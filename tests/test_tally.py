"""One metric layer: both engines hand over the same tally, and one function turns it into
every metric; what the twin cannot report it names, never a silent NaN."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from flywheel.cli import main
from flywheel.engines import meanfield, records
from flywheel.engines.model import Model
from flywheel.engines.tally import FLOWS, LEVELS, STATE_NAMES, TOTALS, Tally
from flywheel.metrics import METRICS, SERIES, measure
from flywheel.scenario import load_scenario
from flywheel.scenario.settings import Settings
from flywheel.studies.runner import simulate, simulate_twin

DOCS = Path(__file__).resolve().parent.parent / "docs"
SMALL = ["market.companies=1500", "simulation.horizon=90d"]


def hand_tally(**totals: float) -> Tally:
    """A tally of one 30-day run with every total 0 but those given."""
    days = 30
    return Tally(horizon=30.0, price_per_seat=10.0, serving_cost_per_month=0.5, sales_servers=0,
                 totals={**dict.fromkeys(TOTALS, 0.0), **totals},
                 levels={k: np.zeros(days) for k in LEVELS},
                 flows={k: np.zeros(days) for k in FLOWS},
                 cohort_sizes=np.zeros(0), cohort_active=np.zeros((0, 52)),
                 states=dict.fromkeys(STATE_NAMES, 0))


def test_a_tally_must_name_exactly_the_declared_quantities() -> None:
    t = hand_tally()
    with pytest.raises(ValueError, match=r"missing \['activated'\]"):
        Tally(**{**t.__dict__, "totals": {k: v for k, v in t.totals.items() if k != "activated"}})
    with pytest.raises(ValueError, match=r"unknown \['invites_clicked'\]"):
        Tally(**{**t.__dict__, "totals": {**t.totals, "invites_clicked": 1.0}})


def test_metrics_follow_the_definitions_from_known_counts() -> None:
    """Hand-computed values: 100 seat-days paid at $10 = $32.85 of revenue over 30 days
    (30.4375 days a month); 2 cancels over 60.875 customer-days = 1 - exp(-1) a month."""
    m = measure(hand_tally(signups_organic=30, signups_invite=10, activated=20, abandoned=5,
                           invites_sent=40, invites_accepted=10,
                           teams=8, teams_ever_paid=2, paid_seats_end=3,
                           paying_self_serve_end=2, paid_seat_days=100, user_days=400,
                           cancels=2, customer_days=60.875, acquisition_spend=300,
                           new_customers=2, upgraded_teams=2)).metrics
    assert m["signups"] == 40 and m["activation_rate"] == 20 / 25
    assert m["viral_coefficient"] == 10 / 20 and m["free_to_paid_rate"] == 2 / 8
    assert m["arr_end"] == pytest.approx(12 * 3 * 10) and m["mrr_end"] == pytest.approx(30)
    assert m["revenue"] == pytest.approx(100 / 30.4375 * 10)
    assert m["logo_churn_monthly"] == pytest.approx(1 - math.exp(-1))
    assert m["serving_cost"] == pytest.approx(300 / 30.4375 * 0.5)
    assert m["cac_blended"] == 150 and m["cost_per_signup"] == 300 / 40
    assert math.isnan(m["trial_conversion"]) and math.isnan(m["pql_lift"])


def test_no_revenue_means_no_ltv_in_either_engine() -> None:
    """Where the two copies disagreed, the simulation's definition holds: without revenue
    the gross margin is missing, and so are LTV and payback (the twin used to take a
    margin of 1)."""
    m = measure(hand_tally(paying_self_serve_end=2, cancels=1, customer_days=30)).metrics
    assert math.isnan(m["gross_margin"]) and math.isnan(m["ltv"])
    assert math.isnan(m["cac_payback_months"])


@pytest.mark.parametrize("name", ["baseline", "trial", "plg-sales-assist", "sales-led"])
def test_the_twin_reports_every_metric_or_names_what_it_cannot(name: str) -> None:
    """A metric the twin leaves NaN is either one it declares unavailable for the scenario
    or one the simulation's definition leaves NaN too (a rate over nothing)."""
    sc = load_scenario(name, SMALL)
    twin = simulate_twin(sc).replications[0]
    des = simulate(sc, replications=1, seed=5, jobs=1).replications[0]
    sales = Settings.of(sc).sales_motion
    assert twin.unavailable == meanfield.WITHOUT_AGES + (meanfield.WITHOUT_SALES if sales else ())
    for metric, value in twin.metrics.items():
        if math.isnan(value):
            assert metric in twin.unavailable or math.isnan(des.metrics[metric]), metric
    for metric in twin.unavailable:
        if metric in METRICS:
            assert math.isnan(twin.metrics[metric]), metric
        if metric in SERIES:
            assert np.isnan(twin.series[metric]).all(), metric
    if not sales:  # no sales team: nothing to report, as in the simulation
        for metric in ("pqls", "contracts_won", "sales_cost", "bookings", "arr_sales"):
            assert twin.metrics[metric] == des.metrics[metric] == 0, metric


def test_both_engines_hand_over_the_same_tally() -> None:
    sc = load_scenario("baseline", SMALL)
    des = records.tally(Model(Settings.of(sc), np.random.SeedSequence(1)).run())
    twin = meanfield.solve(sc).tally
    for part in ("totals", "levels", "flows", "states"):
        assert set(getattr(des, part)) == set(getattr(twin, part)), part
    assert des.cohort_active.shape[1] == twin.cohort_active.shape[1]
    assert len(des.levels["active_users"]) == len(twin.levels["active_users"]) == 90


def test_what_the_twin_cannot_report_is_listed_in_the_docs_and_by_validate() -> None:
    listed = meanfield.WITHOUT_SALES + meanfield.WITHOUT_AGES
    assert all(n in METRICS or n in SERIES for n in listed)
    doc = (DOCS / "model.md").read_text(encoding="utf-8")
    section = doc[doc.index("**Same metrics, one definition.**"):]
    for name in listed:
        assert name in section, name
    res = CliRunner().invoke(main, ["validate", "plg-sales-assist"])
    assert res.exit_code == 0, res.output
    assert "#   not reported (NaN, the sales team is not represented): signups_sales, pqls" \
        in res.output
    assert "#   not reported (NaN, the twin counts teams by class, not by age or one by one): " \
        "free_to_paid_90d" in res.output
    res = CliRunner().invoke(main, ["validate", "baseline"])
    assert "sales team is not represented" not in res.output and "free_to_paid_90d" in res.output
