"""A second paid tier (good-better): a first-tier team at one of the tier's limits decides
whether to move up (probability x its value against the second tier's price), or stays
capped at the first tier's limits.  The closed-form share moving up, the bill from the
move, the bridge's expansion, seats beyond the limit waiting or blocked, usage held, a
ladder that never binds changing nothing, the shipped comparison, the twin's declaration,
and the errors a bad combination gets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import QUIET, assert_one_line_error, play, scenario

from flywheel.engines.meanfield import mechanism_notes, unavailable, unsupported
from flywheel.engines.records import tally
from flywheel.metrics import TWIN_REASON, tally_metrics
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.settings import Settings
from flywheel.studies.comparisons import load_comparison
from flywheel.studies.runner import simulate, simulate_twin

#: Every injected team pays from its paywall on: a user reaches value a day after signing
#: up, a free team meets the paywall at 1 usage unit (1 a day per user) and upgrades 3
#: days later (probability 1); nobody churns.  Invites: 2 per activated user, all
#: accepted, 2 days later (QUIET).
PAYING = [*QUIET, "free_tier.seat_limit=0", "free_tier.usage_limit=1"]
SOLO = [*PAYING, 'collaboration.invites={ dist = "fixed", value = 0 }']
#: A ladder: $15 then $30 a seat; the decision to move up takes 3 days (the paywall's).
LADDER = ["pricing.price_per_seat=15", "pricing.tier2_price_per_seat=30"]
WTP_DEFAULT = 'pricing.willingness_to_pay={ dist = "lognormal", median = 30, p90 = 100 }'


def run(sc, horizon: float, sizes: list[int], seed: int = 3):  # noqa: ANN001, ANN201
    """One replication with ``sizes`` companies injected at day 0: metrics, outcome, model."""
    model, o = play(sc, seed=seed, horizon=horizon, inject=(0.0, sizes))
    return tally_metrics(tally(o)), o, model


def test_the_share_moving_up_is_the_probability_times_the_value_test() -> None:
    """4,000 one-person teams, each paying $15 from its paywall (upgrade probability 1, if
    it values a seat at $15) and at once at the first tier's usage limit (10 units a month;
    one user uses 30.4): it moves up with probability 0.5 if it values a seat at $30.  A
    company keeps its value, so among the paying teams the share moving up is
    0.5 x P(WTP >= 30) / P(WTP >= 15) = 0.5 x 0.5 / 0.7697 = 0.3248 (Settings.buy_share),
    within 4 binomial standard errors (about 0.034 over ~3,080 decisions)."""
    sc = scenario(*SOLO, WTP_DEFAULT, *LADDER, "pricing.tier1_usage_limit=10",
                  "pricing.tier2_upgrade_probability=0.5")
    st = Settings.from_scenario(sc)
    share1 = float(st.pricing.buy_share(st.seat_bill(1)))
    share2 = float(st.tier2_share(1))
    assert share1 == pytest.approx(0.7697, abs=1e-4) and share2 == pytest.approx(0.5)
    expected = 0.5 * share2 / share1
    m, o, _ = run(sc, 40, [1] * 4000)
    decisions = m["tier_upgrades"] / m["tier_upgrade_rate"]
    paying = np.sum(~np.isnan(o.teams["paid_start"]))
    assert decisions == paying  # every paying team is at the usage limit from its first day
    assert paying == pytest.approx(4000 * share1, abs=4 * math.sqrt(4000 * share1 * (1 - share1)))
    se = math.sqrt(expected * (1 - expected) / decisions)
    assert m["tier_upgrade_rate"] == pytest.approx(expected, abs=4 * se)
    # exactly the companies that value a seat at $30 may move up, 3 days after paying
    moved = np.isfinite(o.paid["tier2"])
    assert np.all(o.teams["wtp"][o.paid["company"][moved]] >= 30.0)
    np.testing.assert_allclose(o.paid["tier2"][moved] - o.paid["start"][moved], 3.0)


def test_mrr_bills_the_second_tier_from_the_move_and_the_bridge_counts_expansion() -> None:
    """300 one-person teams, each paying $15 from day 5 and moving up 3 days later (day 8;
    probability 1, a value far above any price): at the horizon (day 60) every one pays
    $30 (MRR 300 x $30), the bridge counts $15 a team as new MRR and $15 as expansion,
    all of it from moving up, and revenue is 300 x ($15 x 3 days + $30 x 52 days) / a
    month.  Annually billed, every figure is 83% of that."""
    world = [*SOLO, *LADDER, "pricing.tier1_usage_limit=10",
             "pricing.tier2_upgrade_probability=1"]
    for billing, factor in (("monthly", 1.0), ("annual", 0.83)):
        m, o, _ = run(scenario(*world, f"pricing.billing={billing}"), 60, [1] * 300)
        np.testing.assert_allclose(o.paid["start"], 5.0)
        np.testing.assert_allclose(o.paid["tier2"], 8.0)
        assert m["tier2_customers"] == 300 and m["tier2_share"] == 1.0
        assert m["mrr_end"] == pytest.approx(300 * 30.0 * factor)
        assert m["mrr_tier2"] == pytest.approx(300 * 30.0 * factor) and m["mrr_tier1"] == 0.0
        assert m["mrr_new"] == pytest.approx(300 * 15.0 * factor)
        assert m["mrr_expansion"] == pytest.approx(300 * 15.0 * factor)
        assert m["mrr_tier_upgrade"] == pytest.approx(300 * 15.0 * factor)
        assert m["revenue"] == pytest.approx(
            300 * (15.0 * 3 + 30.0 * 52) / DAYS_PER_MONTH * factor)


@pytest.mark.parametrize(("p", "seats", "price", "tier2"), [(0.0, 3, 15.0, 0), (1.0, 5, 30.0, 1)])
def test_seats_beyond_the_first_tier_wait_for_the_decision_or_are_blocked(
        p: float, seats: int, price: float, tier2: int) -> None:
    """200 companies of 5 people, first-tier seat limit 2.  The founder (value at day 1)
    invites 2, who take seats on the free tier at day 3.5 and invite the company's last 2
    (they come at day 5.5, value at day 6).  The team pays from day 5 with 3 seats, over
    the limit: it decides at once, 3 days later (day 8).  Staying on the first tier
    (probability 0) the 3 keep their seats and the last 2 are blocked: 3 seats at $15.
    Moving up (probability 1) the last 2 wait and take seats at the move: 5 seats at $30;
    the move adds 3 x $15 (seats then x the step) and the bridge's expansion is
    5 x $30 - 3 x $15 = $105 a team."""
    sc = scenario(*PAYING, *LADDER, "pricing.tier1_seat_limit=2",
                  f"pricing.tier2_upgrade_probability={p}")
    m, o, model = run(sc, 30, [5] * 200)
    assert m["paid_seats_end"] == 200 * seats
    assert m["mrr_end"] == pytest.approx(200 * seats * price)
    assert m["tier2_customers"] == 200 * tier2
    assert model.counters["tier_decisions"] == 200
    assert model.counters["tier_capped_seats"] == 200 * (1 - tier2)
    assert o.users["state"].tolist().count(5) == 200 * 2 * (1 - tier2)  # BLOCKED
    assert m["mrr_new"] == pytest.approx(200 * 3 * 15.0)
    assert m["mrr_expansion"] == pytest.approx(200 * 105.0 * tier2)
    assert m["mrr_tier_upgrade"] == pytest.approx(200 * 45.0 * tier2)


def test_a_team_staying_on_the_first_tier_has_its_usage_held_at_the_limit() -> None:
    """One-person teams at the first tier's usage limit (10 units a month) from their first
    day of paying (day 5) that stay (probability 0, decided at day 8): 7 units by then at
    1 a day from the user's value at day 1, then 10 / 30.44 a day: 7 + 92 x 10 / 30.4375 =
    37.2 units at day 100 (unheld: 99)."""
    sc = scenario(*SOLO, *LADDER, "pricing.tier1_usage_limit=10",
                  "pricing.tier2_upgrade_probability=0")
    m, _, model = run(sc, 100, [1] * 50)
    assert model.counters["tier_capped_usage"] == 50 and m["tier2_customers"] == 0
    for c in range(50):
        model._accrue(100.0, c)
        assert model.c_usage[c] == pytest.approx(7.0 + 92.0 * 10.0 / DAYS_PER_MONTH)


def test_a_ladder_no_team_reaches_changes_nothing() -> None:
    """With first-tier limits no team reaches, every figure is the one-tier run's, draw for
    draw (the ladder's draws come from streams of their own, used only at a limit)."""
    base = ["simulation.horizon=150d", "market.companies=4000"]
    one = simulate(scenario(*base), replications=2, seed=11, jobs=1)
    two = simulate(scenario(*base, "pricing.tier2_price_per_seat=30",
                            "pricing.tier1_seat_limit=100000"), replications=2, seed=11, jobs=1)
    for name in one.replications[0].metrics:
        a, b = one.values(name), two.values(name)
        assert np.allclose(a, b, equal_nan=True, rtol=0, atol=0), name


def test_the_tiers_comparison_differs_only_in_pricing() -> None:
    """compare-tiers: one tier at $15 and a ladder whose first tier is that $15 seat, the
    same market (the ladder extends the single tier's file), differing in pricing.* keys
    only."""
    spec = load_comparison("compare-tiers")
    assert spec.question and [sc.name for sc in spec.scenarios] == ["tiers-single",
                                                                    "tiers-ladder"]
    check = spec.lever_check()
    assert not check.warning and check.outside == ()
    single, ladder = spec.scenarios
    differ = {k for k in single.values if single.values[k] != ladder.values[k]}
    assert differ == {"pricing.tier2_price_per_seat", "pricing.tier1_seat_limit",
                      "pricing.tier1_usage_limit"}
    s, lad = Settings.from_scenario(single), Settings.from_scenario(ladder)
    assert not s.pricing.tiers and lad.pricing.tiers
    assert s.seat_bill(1) == lad.seat_bill(1) == 15.0 and lad.tier2_seat_bill == 30.0


def test_the_twin_declares_the_second_tier_not_represented() -> None:
    """The twin has one paid tier: a ladder is named in unsupported() and the mechanism
    notes, and the tier metrics come out missing with the twin's reason; without a ladder
    the twin reports no second-tier customer, as there are none."""
    sc = scenario("simulation.horizon=90d", *LADDER, "pricing.tier1_seat_limit=10")
    assert any(line.startswith("pricing.tier2_price_per_seat = 30") for line in unsupported(sc))
    assert "second paid tier" in {name for _, name, _ in mechanism_notes(sc)}
    assert "tier2_customers" in unavailable(sc)
    rep = simulate_twin(sc).replications[0]
    assert math.isnan(rep.metrics["tier2_customers"]) and rep.metrics["paying_teams"] > 0
    assert rep.reasons["tier2_share"] == TWIN_REASON
    plain = simulate_twin(scenario("simulation.horizon=90d")).replications[0].metrics
    assert plain["tier2_customers"] == 0.0 and plain["mrr_tier1"] == pytest.approx(
        plain["mrr_end"])


@pytest.mark.parametrize(("text", "message"), [
    ("[pricing]\ntier2_price_per_seat = 30\n",
     "bad.toml: pricing.tier2_price_per_seat = 30.0: a second paid tier needs a first-tier "
     "limit to reach"),
    ("[pricing]\ntier1_seat_limit = 10\n",
     "bad.toml: pricing.tier1_seat_limit = 10: a first-tier limit needs a second tier"),
    ("[pricing]\ntier2_price_per_seat = 12\ntier1_seat_limit = 10\n",
     "bad.toml: pricing.tier2_price_per_seat = 12.0: the second tier's price must be above "
     "the first tier's (pricing.price_per_seat = 15)"),
    ('[pricing]\ncharge = "usage"\ntier2_price_per_seat = 30\ntier1_seat_limit = 10\n',
     'bad.toml: pricing.tier2_price_per_seat = 30.0: a second paid tier needs '
     'pricing.charge = "per_seat" (got "usage")'),
    ("[pricing]\ntier1_usage_limit = -5\n", "bad.toml: pricing.tier1_usage_limit = -5"),
])
def test_a_bad_tier_value_is_a_one_line_error(cwd: Path, text: str, message: str) -> None:
    assert_one_line_error(cwd, text, message)
