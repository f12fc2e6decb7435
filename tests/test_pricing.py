"""Willingness to pay: price moves demand.  Each company draws what it would pay for a seat
once (stream ``wtp``); every buying decision compares the price with it.  Closed form,
common random numbers, the baseline's demand falling with price, the twin beside the
simulation, ARPA, and a price sweep's answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import QUIET, play, scenario

from flywheel.engines.meanfield import mechanism_notes
from flywheel.metrics import METRICS
from flywheel.scenario.settings import Settings
from flywheel.studies import validation as v
from flywheel.studies.comparisons import sweep
from flywheel.studies.runner import simulate, simulate_twin

#: The default willingness to pay: lognormal, median $30, p90 $100.
MEDIAN, P90 = 30.0, 100.0
SIGMA = math.log(P90 / MEDIAN) / 1.2815515655446004  # ln(p90 / median) / Phi^-1(0.9)


def test_the_default_is_a_lognormal_of_median_30_and_p90_100() -> None:
    pricing = Settings.from_scenario(scenario()).pricing
    assert float(pricing.willingness_to_pay.quantile(0.5)) == pytest.approx(MEDIAN)
    assert float(pricing.willingness_to_pay.quantile(0.9)) == pytest.approx(P90)
    # P(WTP >= $15) = 1 - Phi(ln(15/30) / 0.9394) = 0.7697; a team of 5 values a seat
    # 5^0.2 = 1.38 times as much: P(WTP >= 15 / 1.38) = 0.8600
    assert float(pricing.buy_share(15.0, 1)) == pytest.approx(0.7697, abs=1e-4)
    assert float(pricing.buy_share(15.0, 5)) == pytest.approx(0.8600, abs=1e-4)
    assert float(pricing.buy_share(0.0, 1)) == 1.0


def test_closed_form_share_buying_at_each_price() -> None:
    """10,000 one-person teams at the paywall once, upgrade probability 1, at $5 ... $80: the
    share buying is 1 - Phi((ln P - ln 30) / 0.9394) (0.9718 at $5, 0.7697 at $15, 0.5 at
    $30, 0.1482 at $80) within 4 binomial standard errors of the mean over 4 x 10,000
    teams (at most 0.01) at every price."""
    res = v.run_check("willingness_to_pay", replications=4, jobs=2)
    analytic = v.wtp_share(np.array(v._WTP_PRICES), MEDIAN, SIGMA)
    assert res.curve is not None
    np.testing.assert_allclose(res.curve.analytic, analytic)
    assert res.curve.analytic[v._WTP_PRICES.index(30)] == pytest.approx(0.5)
    se = np.sqrt(analytic * (1 - analytic) / (4 * 10_000))
    assert np.all(np.abs(res.curve.mean - analytic) <= 4 * se), (res.curve.mean, analytic)
    assert np.all(np.diff(res.curve.mean) < 0)  # shared draws: the curve falls at every step
    assert res.passed


def test_a_company_keeps_its_value_whatever_the_price() -> None:
    """Common random numbers: the same seed gives the same company the same willingness to
    pay at $10 and at $40.  Here each of 1,000 one-user teams meets the paywall once (a
    usage limit of 1 unit), at the same time at both prices, so the companies line up one
    to one, and exactly those that value a seat at the price buy (upgrade probability 1)."""
    world = [*QUIET, 'pricing.willingness_to_pay={ dist = "lognormal", median = 30, '
             'p90 = 100 }', 'collaboration.invites={ dist = "fixed", value = 0 }',
             "free_tier.seat_limit=0", "free_tier.usage_limit=1"]
    runs = [play(scenario(*world, f"pricing.price_per_seat={price}"), seed=5, horizon=30,
                 inject=(0.0, [1] * 1000))[1] for price in (10, 40)]
    cheap, dear = (o.teams["wtp"] for o in runs)
    assert len(cheap) == len(dear) == 1000
    np.testing.assert_array_equal(cheap, dear)
    assert np.median(cheap) == pytest.approx(MEDIAN, rel=0.1)
    for o, price in zip(runs, (10, 40), strict=True):
        paid = ~np.isnan(o.teams["paid_start"])
        assert np.array_equal(paid, o.teams["wtp"] >= price), price
    # P(WTP >= 10) = 0.879, P(WTP >= 40) = 0.380: 1,000 teams within 4 binomial SEs
    assert np.mean(~np.isnan(runs[0].teams["paid_start"])) == pytest.approx(0.879, abs=0.042)
    assert np.mean(~np.isnan(runs[1].teams["paid_start"])) == pytest.approx(0.380, abs=0.062)


def test_a_price_that_never_binds_changes_nothing() -> None:
    """A willingness to pay far above any price leaves every outcome as it was without one:
    the mechanism's probability draws are the same, on the same streams."""
    base = scenario("simulation.horizon=120d", "market.companies=3000")
    rich = base.with_overrides({"pricing.willingness_to_pay": {"dist": "fixed",
                                                                "value": 1_000_000}})
    richer = rich.with_overrides({"pricing.price_per_seat": 900.0})
    a, b = simulate(rich, replications=2, seed=3, jobs=1), simulate(richer, replications=2,
                                                                    seed=3, jobs=1)
    for name in ("signups", "paying_teams", "paid_seats_end", "teams_ever_paid"):
        assert a.values(name) == b.values(name), name


@pytest.fixture(scope="module")
def price_sweep():  # noqa: ANN201
    return sweep("baseline", [("pricing.price_per_seat", [5, 10, 20, 40, 80])],
                 replications=6, jobs=2)


def test_raising_the_price_lowers_demand_but_not_revenue_fourfold(price_sweep) -> None:  # noqa: ANN001
    """On the baseline, $10 -> $40 a seat: paying customers fall with non-overlapping 95%
    CIs (measured 240 [224, 257] -> 109 [102, 116]: flywheel sweep baseline --vary
    pricing.price_per_seat=5,10,15,20,30,40,60,80 -n 6), and ARR rises far less than the
    price's 4x (measured 1.9x)."""
    at = dict(zip([5, 10, 20, 40, 80], price_sweep.results, strict=True))
    cheap, dear = at[10].mean_ci("paying_teams"), at[40].mean_ci("paying_teams")
    assert dear.hi < cheap.lo, (cheap, dear)
    ratio = at[40].mean_ci("arr_end").mean / at[10].mean_ci("arr_end").mean
    assert 1.0 < ratio < 4.0 * 0.75, ratio
    # demand falls at every step; revenue has its maximum inside the range
    demand = [at[p].mean_ci("paying_teams").mean for p in (5, 10, 20, 40, 80)]
    assert all(a > b for a, b in zip(demand, demand[1:], strict=False)), demand
    revenue = [at[p].mean_ci("arr_end").mean for p in (5, 10, 20, 40, 80)]
    assert 0 < int(np.argmax(revenue)) < 4, revenue


def test_a_price_sweep_names_the_best_price_tried_with_its_ci(price_sweep) -> None:  # noqa: ANN001
    assert price_sweep.price_axis == "pricing.price_per_seat"
    (best,) = price_sweep.best_prices()
    arr = [r.mean_ci("arr_end").mean for r in price_sweep.results]
    assert best.price == [5, 10, 20, 40, 80][int(np.argmax(arr))]
    assert best.revenue.lo <= best.revenue.mean <= best.revenue.hi
    assert best.edge == ""  # an interior maximum
    line = price_sweep.findings()[0]
    assert line.startswith("Best price tried: pricing.price_per_seat = $")
    assert "95% CI" in line
    assert price_sweep.summary()["best_price"][0]["price"] == best.price


def test_twin_and_simulation_agree_on_conversion_at_two_prices() -> None:
    """Opt-in trials of one-person companies: both engines convert a team with probability
    trial.convert_probability x P(WTP >= price); the twin's trial conversion within 5% of
    the simulation's mean (6 replications, ~11,000 trials each: SE ~2%) at $10 and $40,
    and both fall by the closed-form ratio P(WTP >= 40) / P(WTP >= 10) = 0.3797 / 0.8789
    = 0.432 (within 8%; measured 0.43 in both)."""
    conv = {}
    for price in (10, 40):
        sc = scenario('market.team_size={ dist = "fixed", value = 1 }',
                      f"pricing.price_per_seat={price}", "market.companies=40000",
                      "acquisition.organic=300/week", base="trial")
        des = simulate(sc, replications=6, seed=3, jobs=2).mean_ci("trial_conversion").mean
        twin = simulate_twin(sc).replications[0].metrics["trial_conversion"]
        assert twin == pytest.approx(des, rel=0.05), (price, twin, des)
        conv[price] = (des, twin)
    expected = float(v.wtp_share(40.0, MEDIAN, SIGMA) / v.wtp_share(10.0, MEDIAN, SIGMA))
    assert expected == pytest.approx(0.432, abs=1e-3)
    for k in (0, 1):
        assert conv[40][k] / conv[10][k] == pytest.approx(expected, rel=0.08)
    assert "willingness to pay" in {n for _, n, _ in mechanism_notes(scenario())}


def test_arpa_is_mrr_per_paying_customer() -> None:
    run = simulate(scenario("simulation.horizon=120d", "market.companies=3000"),
                   replications=2, seed=1, jobs=1)
    assert METRICS["arpa"].unit == "$ per month per account"
    for rep in run.replications:
        m = rep.metrics
        assert m["paying_teams"] > 0
        assert m["arpa"] == pytest.approx(m["mrr_end"] / m["paying_teams"])
    none = simulate(scenario("simulation.horizon=30d", "pricing.upgrade_probability=0"),
                    replications=1, seed=1, jobs=1)
    rep = none.replications[0]
    assert math.isnan(rep.metrics["arpa"])
    assert rep.reasons["arpa"] == "no paying customer at the horizon"
