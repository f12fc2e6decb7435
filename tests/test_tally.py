"""One metric layer: both engines hand over the same tally, and one function turns it into
every metric; what the twin cannot report it names, never a silent NaN."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from flywheel.cli import main
from flywheel.engines import meanfield, records
from flywheel.engines.model import Model
from flywheel.engines.tally import FLOWS, LEVELS, STATE_NAMES, TOTALS, Tally
from flywheel.metrics import METRICS, SERIES, TWIN_REASON, measure
from flywheel.scenario import load_scenario
from flywheel.scenario.settings import Settings
from flywheel.studies.runner import ReplicationResult, RunResult, simulate, simulate_twin

DOCS = Path(__file__).resolve().parent.parent / "docs"
SMALL = ["market.companies=1500", "simulation.horizon=90d"]


def hand_tally(**totals: float) -> Tally:
    """A tally of one 30-day run with every total 0 but those given; what the self-serve
    teams pay is per-seat billing at the tally's $10 a seat (paid seats x $10 a month, paid
    seat-days x $10 a month) unless given."""
    days = 30
    totals = {"mrr_self_serve_end": totals.get("paid_seats_end", 0.0) * 10.0,
              "self_serve_revenue": totals.get("paid_seat_days", 0.0) / 30.4375 * 10.0,
              **totals}
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


# -- why a figure has no value: one place, read from the counts ------------------------------

#: Times over nothing, as both engines count them: NaN.
NO_TIMES = dict(ttv_median=math.nan, ttv_p90=math.nan, time_to_paid_median=math.nan,
                queue_wait_mean=math.nan, queue_wait_p90=math.nan)
#: A small self-serve business: 2 customers paying for 3 seats, $300 of ads, 2 new
#: customers, 1 cancellation (logo churn above 0), revenue above the serving cost; no lead
#: taken (so no queue wait).
EARNING = dict(NO_TIMES, signups_organic=40, teams=8, teams_ever_paid=2, paid_seats_end=3,
               paying_self_serve_end=2, paid_seat_days=100, user_days=150, cancels=1,
               customer_days=60.875, acquisition_spend=300, new_customers=2, upgraded_teams=2,
               time_to_paid_median=20.0)


def reasons_of(tally: Tally) -> dict[str, str]:
    measured = measure(tally)
    for name in measured.reasons:  # a reason only where there is no value
        assert math.isnan(measured.metrics[name]), name
    return measured.reasons


@pytest.mark.parametrize("servers", [0, 10])
@pytest.mark.parametrize("world", [NO_TIMES, EARNING, {**EARNING, "cancels": 0}])
def test_every_figure_has_a_value_or_a_reason(world: dict[str, float], servers: int) -> None:
    m = measure(dataclasses.replace(hand_tally(**world), sales_servers=servers))
    assert {k for k, v in m.metrics.items() if math.isnan(v)} == set(m.reasons)


def test_a_business_that_earns_has_its_unit_economics() -> None:
    m = measure(hand_tally(**EARNING))
    for name in ("gross_margin", "cac_blended", "cac_self_serve", "ltv", "ltv_cac",
                 "cac_payback_months", "cost_per_signup"):
        assert not math.isnan(m.metrics[name]), name
        assert name not in m.reasons


def test_no_churn_no_ltv() -> None:
    why = reasons_of(hand_tally(**{**EARNING, "cancels": 0}))
    assert why["ltv"] == why["ltv_cac"] == \
        "no paying customer cancelled (logo churn 0): LTV needs churn"
    assert "cac_payback_months" not in why  # payback needs no churn


def test_no_new_customers_no_cac() -> None:
    why = reasons_of(hand_tally(signups_organic=40, acquisition_spend=300, **NO_TIMES))
    assert why["cac_blended"] == why["cac_payback_months"] == "no new paying customer"
    assert why["cac_self_serve"] == "no team started paying self-serve"
    assert why["ltv"] == why["ltv_cac"] == "no paying customer at the horizon"
    assert why["gross_margin"] == "no revenue"
    assert reasons_of(hand_tally())["cost_per_signup"] == "no signups"


def test_no_revenue_no_margin_ltv_or_payback() -> None:
    why = reasons_of(hand_tally(paying_self_serve_end=2, cancels=1, customer_days=30,
                                new_customers=2, acquisition_spend=100))
    assert why["gross_margin"] == why["ltv"] == why["cac_payback_months"] == "no revenue"


def test_costs_above_revenue_no_payback() -> None:
    """Serving 10,000 free user-days ($164) costs more than 10 paid seat-days earn ($3)."""
    why = reasons_of(hand_tally(**{**EARNING, "paid_seat_days": 10, "user_days": 10_000}))
    assert why["cac_payback_months"] == \
        "no gross margin: serving free users cost at least the revenue"


def test_no_spend_no_ltv_cac() -> None:
    why = reasons_of(hand_tally(**{**EARNING, "acquisition_spend": 0}))
    assert why["ltv_cac"] == "CAC is $0: no acquisition or sales cost"


def test_revenue_retention_needs_a_window_and_customers_at_its_start() -> None:
    assert reasons_of(hand_tally(**EARNING))["nrr"] == \
        "run shorter than two months: no retention window"
    year = dataclasses.replace(hand_tally(**EARNING), horizon=365.25)
    assert reasons_of(year)["grr"] == \
        "no customer paid 6 months before the horizon, where the retention window starts"


def test_sales_figures_say_whether_there_is_a_team() -> None:
    none = reasons_of(hand_tally(**EARNING))
    for name in ("contract_value_mean", "queue_wait_mean_days", "rep_utilisation", "cac_sales",
                 "pql_won_rate", "pql_lift"):
        assert none[name] == "no sales team", name
    team = reasons_of(dataclasses.replace(hand_tally(**EARNING), sales_servers=10))
    assert team["contract_value_mean"] == team["cac_sales"] == "no contract won"
    assert team["queue_wait_p90_days"] == "no lead reached a rep"
    assert team["pql_won_rate"] == "no PQL settled (won, lost or gone cold)"
    assert "rep_utilisation" not in team  # 0% busy is a value
    won = measure(dataclasses.replace(
        hand_tally(**EARNING, contracts_won=4, bookings=48_000), sales_servers=10)).metrics
    assert won["contract_value_mean"] == 12_000


def test_trial_cohort_and_funnel_figures_say_what_is_missing() -> None:
    why = reasons_of(hand_tally(**EARNING))
    assert why["trial_conversion"] == "no trial ended"
    assert why["free_to_paid_90d"] == "no team created 90 days or more before the horizon"
    assert why["winback_rate"] == "no self-serve cancellation"
    empty = reasons_of(hand_tally(**NO_TIMES))
    assert empty["activation_rate"] == "no signup finished onboarding"
    assert empty["ttv_median_days"] == empty["viral_coefficient"] == "no one reached value"
    assert empty["free_to_paid_rate"] == "no team created"  # sales-led: no teams at all
    assert empty["logo_churn_monthly"] == "no company paid"


def test_a_run_gives_the_reason_most_replications_give() -> None:
    sc = load_scenario("baseline", SMALL)

    def rep(i: int, value: float, why: str) -> ReplicationResult:
        metrics = dict.fromkeys(METRICS, 1.0)
        metrics["ltv"] = value
        return ReplicationResult(index=i, metrics=metrics, series={}, funnel={}, cohorts=[],
                                 states={}, reasons={"ltv": why} if why else {})

    run = RunResult(sc, seed=1, horizon=90.0, replications=[
        rep(0, math.nan, "a"), rep(1, math.nan, "b"), rep(2, math.nan, "b")])
    assert run.reason("ltv") == "b" and run.reasons() == {"ltv": "b"}
    some = RunResult(sc, seed=1, horizon=90.0, replications=[rep(0, math.nan, "a"),
                                                              rep(1, 5.0, "")])
    assert some.reason("ltv") == "" and some.reasons() == {}  # a mean exists


def test_what_the_twin_cannot_report_says_so() -> None:
    twin = simulate_twin(load_scenario("plg-sales-assist", SMALL))
    assert twin.reason("contracts_won") == TWIN_REASON
    assert twin.summary()["reasons"]["contract_value_mean"] == TWIN_REASON


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


def test_validate_names_what_the_twin_cannot_bill_or_tier() -> None:
    """A flat plan's revenue and the second tier's figures are listed under their own
    reasons, each name once, and a sales reason only where there is a sales team."""
    for name, why, first in (
            ("charge-flat", "a flat plan's bill depends on each team's size", "arr_self_serve"),
            ("tiers-ladder", "the second paid tier is not represented", "tier2_customers")):
        res = CliRunner().invoke(main, ["validate", name])
        assert res.exit_code == 0, res.output
        assert f"#   not reported (NaN, {why}): {first}" in res.output
        assert "the sales team is not represented" not in res.output
