"""How a paid plan charges (per seat, flat with included seats, metered usage) and is billed
(monthly, annual): the bill a team pays, the MRR the records count from it, the renewal
an annual team's cancellation waits for, the companies' usage intensity, the shipped
charging comparison, what the twin declares, and the errors a bad value gets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import QUIET, assert_one_line_error, play, scenario

from flywheel.engines.meanfield import mechanism_notes, unsupported
from flywheel.engines.records import tally
from flywheel.metrics import tally_metrics
from flywheel.scenario.defaults import DAYS_PER_MONTH, DAYS_PER_YEAR
from flywheel.scenario.settings import Settings
from flywheel.studies.comparisons import load_comparison
from flywheel.studies.runner import simulate, simulate_twin

#: A world where every injected team pays from its paywall on: each user reaches value a
#: day after signing up, invites 2 teammates (all accept, 2 days later), a free team meets
#: the paywall at 1 usage unit and upgrades 3 days later (probability 1, a willingness to
#: pay far above any price), nobody churns.
PAYING = [*QUIET, "free_tier.seat_limit=0", "free_tier.usage_limit=1"]
SOLO = [*PAYING, 'collaboration.invites={ dist = "fixed", value = 0 }']


def metrics_of(sc, horizon: float, sizes: list[int], seed: int = 3):  # noqa: ANN001, ANN201
    """One replication with ``sizes`` companies injected at day 0: its metrics and outcome."""
    _, o = play(sc, seed=seed, horizon=horizon, inject=(0.0, sizes))
    return tally_metrics(tally(o)), o


def test_the_bill_under_each_charge() -> None:
    """Settings.bill, by hand: per seat 3 x $15 = $45; flat $49 for up to 10 seats, $49 +
    2 x $15 = $79 for 12, nothing without a seat; metered $0.5 x 30.4375 units a month x
    seats x intensity; annual: 83% of the monthly bill."""
    base = Settings.from_scenario(scenario())
    assert base.bill(3) == 45.0 and base.seat_bill(3) == 15.0
    flat = Settings.from_scenario(scenario("pricing.charge=flat"))
    np.testing.assert_allclose(flat.bill(np.array([0, 1, 3, 10, 12])), [0, 49, 49, 49, 79])
    assert flat.seat_bill(1) == 49.0 and flat.seat_bill(7) == pytest.approx(7.0)
    usage = Settings.from_scenario(scenario("pricing.charge=usage"))
    assert usage.bill(3, 2.0) == pytest.approx(0.5 * DAYS_PER_MONTH * 3 * 2.0)
    annual = Settings.from_scenario(scenario("pricing.billing=annual"))
    assert annual.bill(3) == pytest.approx(45.0 * 0.83)
    assert annual.pricing.renewal_after(10.0, 11.0) == pytest.approx(10.0 + DAYS_PER_YEAR)
    assert annual.pricing.renewal_after(10.0, 10.0 + 2.5 * DAYS_PER_YEAR) == pytest.approx(
        10.0 + 3 * DAYS_PER_YEAR)


def test_a_flat_plan_bills_its_price_within_its_seats_and_seats_beyond() -> None:
    """100 teams of 3 and 100 of 12 people, all paying with every person seated by day 60:
    a flat plan ($49 up to 10 seats) bills 100 x $49 + 100 x ($49 + 2 x $15) = $12,800 a
    month, per-seat charging 100 x $45 + 100 x $180 = $22,500, annual per seat 83% of that
    (exact: no draw decides)."""
    sizes = [3] * 100 + [12] * 100
    flat, o = metrics_of(scenario(*PAYING, "pricing.charge=flat"), 60, sizes)
    assert flat["paid_seats_end"] == 1500 and flat["paying_teams"] == 200
    assert flat["mrr_end"] == pytest.approx(12_800.0)
    assert flat["arpa"] == pytest.approx(64.0)
    seat, _ = metrics_of(scenario(*PAYING), 60, sizes)
    assert seat["mrr_end"] == pytest.approx(22_500.0)
    # billed annually, a month's revenue is the annual bill / 12: 83% of it
    annual, _ = metrics_of(scenario(*PAYING, "pricing.billing=annual"), 60, sizes)
    assert annual["mrr_end"] == pytest.approx(22_500.0 * 0.83)
    # the MRR bridge adds up: everything new (no one left), to the MRR at the horizon
    assert flat["mrr_new"] + flat["mrr_expansion"] == pytest.approx(12_800.0)
    assert flat["mrr_churned"] == flat["mrr_contraction"] == 0.0
    # a 3-seat team pays $49 at once; a 12-seat one grows beyond its 10 seats: expansion
    assert flat["mrr_expansion"] == pytest.approx(100 * 30.0)
    assert o.teams["paid_start"].max() < 10


def test_metered_mrr_is_units_times_the_unit_price() -> None:
    """Metered at $0.5 a unit, companies of usage intensity lognormal (mean 1, cv 1): the
    MRR at the horizon is $0.5 x the units the paying teams accrue in a month (seats x
    intensity x 1 unit a day x 30.4375), and the revenue $0.5 x the units their seats
    accrued while paying (to 1e-9)."""
    sc = scenario(*PAYING, "pricing.charge=usage", "pricing.usage_spread=1.0")
    m, o = metrics_of(sc, 90, [1] * 300 + [3] * 100)
    u, t = o.users, o.teams
    intensity = t["intensity"][u["company"]]
    paid_from = np.fmax(u["start"], t["paid_start"][u["company"]])
    paying = ~np.isnan(paid_from) & (paid_from < 90)
    units_month = np.sum(intensity[paying]) * DAYS_PER_MONTH
    assert m["mrr_end"] == pytest.approx(0.5 * units_month, rel=1e-9)
    units_run = np.sum(intensity[paying] * (90 - paid_from[paying]))
    assert m["revenue"] == pytest.approx(0.5 * units_run, rel=1e-9)
    # intensity: mean 1 (within 4 standard errors of 1 / sqrt(400)), and it scales usage: a
    # solo team meets the 1-unit limit 1 / intensity days after its first value (day 1)
    assert np.mean(t["intensity"]) == pytest.approx(1.0, abs=4 / math.sqrt(400))
    solo = np.arange(300)
    np.testing.assert_allclose(t["paywall"][solo] - 1.0, 1.0 / t["intensity"][solo])


def test_no_usage_spread_keeps_metered_billing_a_price_per_seat() -> None:
    """Without a usage spread every company is at intensity 1 (no draw), so a unit price of
    $15 / 30.4375 is the $15 seat: the same teams buy and the MRR is the same (to 1e-9)."""
    world = ["simulation.horizon=150d", "market.companies=4000"]
    seat = simulate(scenario(*world), replications=1, seed=11, jobs=1).replications[0].metrics
    usage = simulate(scenario(*world, "pricing.charge=usage",
                              f"pricing.price_per_unit={15 / DAYS_PER_MONTH!r}"),
                     replications=1, seed=11, jobs=1).replications[0].metrics
    assert usage["paying_teams"] == seat["paying_teams"] > 0
    assert usage["mrr_end"] == pytest.approx(seat["mrr_end"], rel=1e-9)
    # and per seat, the default, is what it always was: paid seats x $15
    assert seat["mrr_end"] == seat["paid_seats_end"] * 15.0


def test_an_annual_cancellation_lands_on_a_renewal() -> None:
    """1,000 solo teams, a paying team's own monthly cancellation probability 30%, over
    three years; the same seed gives each team the same cancellation draw monthly and
    annually.  Annually, every cancellation lands on the first anniversary of its purchase
    at or after the monthly one; the measured logo churn falls from the monthly plan's
    ~30% (1 - exp(-hazard), within 4 standard errors) to under a third of it (a spell
    lasts a whole number of years: P(T <= 1 year) = 1 - 0.7^12 = 0.986)."""
    world = [*SOLO, "paid.logo_churn_monthly=0.3"]
    horizon = 3 * DAYS_PER_YEAR
    monthly, om = metrics_of(scenario(*world), horizon, [1] * 1000)
    annual, oa = metrics_of(scenario(*world, "pricing.billing=annual"), horizon, [1] * 1000)
    pm, pa = om.paid, oa.paid
    # the first spell of each team, paired
    first_m = np.unique(pm["company"], return_index=True)[1]
    first_a = np.unique(pa["company"], return_index=True)[1]
    start = pa["start"][first_a]
    np.testing.assert_array_equal(start, pm["start"][first_m])
    end_m, end_a = pm["end"][first_m], pa["end"][first_a]
    ended = np.isfinite(end_a)
    assert ended.sum() > 500
    years = (end_a[ended] - start[ended]) / DAYS_PER_YEAR
    np.testing.assert_allclose(years, np.round(years), atol=1e-9)
    np.testing.assert_allclose(end_a[ended], np.ceil((end_m[ended] - start[ended])
                                                     / DAYS_PER_YEAR - 1e-12)
                               * DAYS_PER_YEAR + start[ended])
    se = math.sqrt(0.3 * 0.7 / 1000) * 4
    assert monthly["logo_churn_monthly"] == pytest.approx(0.3, abs=max(se, 0.03))
    assert annual["logo_churn_monthly"] < monthly["logo_churn_monthly"] / 3


def test_an_annual_team_keeps_paying_for_a_seat_that_left_until_renewal() -> None:
    """Users churn (10% a month) but teams never cancel on their own: a team billed
    annually pays for the most seats it had in its paid year, so its MRR at the horizon
    (half a year in) is at least what its seats then bring at the discounted price, and
    nothing of its MRR is contraction; monthly, seats that leave are contraction."""
    world = [*PAYING, "retention.churn_monthly=0.1"]
    annual, _ = metrics_of(scenario(*world, "pricing.billing=annual"), 180, [3] * 300)
    monthly, _ = metrics_of(scenario(*world), 180, [3] * 300)
    assert annual["mrr_contraction"] == 0.0 and annual["mrr_churned"] == 0.0
    assert monthly["mrr_contraction"] > 0
    assert annual["mrr_end"] >= annual["paid_seats_end"] * 15.0 * 0.83
    # a team whose last user left is still a paying customer until its renewal
    assert annual["paying_teams"] == 300


def test_the_charging_comparison_differs_only_in_pricing() -> None:
    """compare-charging: four scenarios, the same market (they extend one file), differing
    only in pricing.* keys; a 3-seat team of mean usage pays $45 a month under each
    monthly charge."""
    spec = load_comparison("compare-charging")
    assert spec.question
    check = spec.lever_check()
    assert not check.warning and check.outside == ()
    bills = []
    for sc in spec.scenarios:
        assert all(k.startswith("pricing.") or k.startswith("simulation.")
                   for k in sc.values if sc.values[k] != spec.scenarios[0].values[k])
        st = Settings.from_scenario(sc)
        bills.append(float(st.bill(3)) / st.pricing.discount_factor)
    assert bills == pytest.approx([45.0] * 4, abs=0.01)


def test_the_twin_declares_what_it_cannot_carry() -> None:
    """The twin carries metered billing without a spread and the annual discount; it
    declares a flat plan's MRR, usage intensity and the renewal wait, and reports a flat
    plan's revenue figures missing, never guessed."""
    assert unsupported(scenario("pricing.charge=usage")) == []
    flat = scenario("pricing.charge=flat", "simulation.horizon=90d")
    assert any("pricing.charge" in line for line in unsupported(flat))
    assert any("usage_spread" in line for line in unsupported(scenario("pricing.usage_spread=1")))
    assert any("renewal" in line for line in unsupported(scenario("pricing.billing=annual")))
    names = {name for _, name, _ in mechanism_notes(flat)}
    assert "flat plan" in names
    run = simulate_twin(flat).replications[0]
    assert math.isnan(run.metrics["arr_end"]) and math.isnan(run.metrics["arpa"])
    assert run.metrics["paying_teams"] > 0
    # the annual discount is exact in the mean: ARR x 0.83 against the monthly twin's
    per = simulate_twin(scenario("simulation.horizon=90d")).replications[0].metrics
    ann = simulate_twin(scenario("simulation.horizon=90d", "pricing.billing=annual",
                                 "pricing.willingness_to_pay={ dist = \"fixed\", "
                                 "value = 1000000 }")).replications[0].metrics
    per_rich = simulate_twin(scenario("simulation.horizon=90d",
                                      "pricing.willingness_to_pay={ dist = \"fixed\", "
                                      "value = 1000000 }")).replications[0].metrics
    assert per["arr_end"] > 0
    assert ann["arr_end"] == pytest.approx(per_rich["arr_end"] * 0.83, rel=1e-6)


@pytest.mark.parametrize(("text", "message"), [
    ('[pricing]\ncharge = "seat"\n',
     'bad.toml: pricing.charge = "seat": unknown choice (did you mean "per_seat"?); '
     'one of "per_seat", "flat", "usage"'),
    ('[pricing]\nbilling = "yearly"\n', 'bad.toml: pricing.billing = "yearly"'),
    ("[pricing]\nannual_discount = 1.5\n", "bad.toml: pricing.annual_discount = 1.5"),
    ("[pricing]\nplan_seats = 0\n", "bad.toml: pricing.plan_seats = 0"),
    ("[pricing]\nusage_spread = -1\n", "bad.toml: pricing.usage_spread = -1"),
])
def test_a_bad_charging_value_is_a_one_line_error(cwd: Path, text: str, message: str) -> None:
    assert_one_line_error(cwd, text, message)
