"""Closing as a function of adoption: one close probability, a logistic function of the
account's product footprint when a rep takes the lead, for every lead; the buying unit a
contract covers; and the hybrid motion (companies above a size sold sales-led, the rest
self-serve).  The close function is checked at footprints whose value is known in closed
form; the base rate, the emerging PQL lift and the PQL threshold's trade-off statistically,
with the tolerance stated."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import PRICE_NEVER_BINDS, QUIET, play, scenario

from flywheel.engines import meanfield
from flywheel.engines.model import COLD, CONTRACT, L_WON, PQL, Model
from flywheel.engines.rng import replication_seeds
from flywheel.metrics import replication_metrics
from flywheel.scenario.files import ScenarioError, load_scenario
from flywheel.scenario.settings import Settings
from flywheel.studies.runner import simulate


def _sales(*overrides: str) -> Settings:
    return Settings.of(scenario(*overrides))


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# -- the close function, analytic ------------------------------------------------------------

def test_close_probability_at_known_footprints() -> None:
    """With a base of 1/2 (log-odds 0), each term alone moves the log-odds by what it says:
    e - 1 users at 1 per e-fold give z = 1 (P = 0.7311); everyone active at ln 3 gives odds
    3 (P = 3/4); one user-month at 1 per e-fold gives odds 2 (P = 2/3)."""
    users = _sales("sales.close_base=0.5", "sales.close_users=1", "sales.close_share=0",
                   "sales.close_usage=0").sales
    assert users.close_probability(math.e - 1, 1000) == pytest.approx(_logistic(1.0), abs=1e-12)
    assert _logistic(1.0) == pytest.approx(0.7310586, abs=1e-7)
    share = _sales("sales.close_base=0.5", "sales.close_users=0",
                   f"sales.close_share={math.log(3)!r}").sales
    assert share.close_probability(8, 8) == pytest.approx(0.75, abs=1e-12)
    assert share.close_probability(4, 8) == pytest.approx(_logistic(math.log(3) / 2))
    usage = _sales("sales.close_base=0.5", "sales.close_users=0", "sales.close_share=0",
                   "sales.close_usage=1").sales
    assert usage.close_probability(5, 10, user_months=1.0) == pytest.approx(2 / 3, abs=1e-12)


def test_the_defaults_give_a_cold_lead_the_base_and_a_story_pql_about_three_times_it() -> None:
    """The shipped defaults: a cold lead (no footprint) closes at close_base = 0.1; 20
    active users of a 300-person company (the story's PQL rule, at its median company):
    z = logit(0.1) + 0.4 ln 21 + 1.0 x 20/300 = -0.9127, P = 0.2864 (2.9x the base)."""
    sa = _sales().sales
    assert (sa.close_base, sa.close_users, sa.close_share, sa.close_usage) == (0.1, 0.4, 1.0, 0.0)
    assert sa.close_probability(0, 300) == pytest.approx(0.1, abs=1e-15)
    z = math.log(0.1 / 0.9) + 0.4 * math.log(21) + 20 / 300
    assert z == pytest.approx(-0.9127, abs=1e-4)
    assert sa.close_probability(20, 300) == pytest.approx(_logistic(z), abs=1e-12)
    assert sa.close_probability(20, 300) == pytest.approx(0.2864, abs=1e-4)
    # more users, or a deeper share of the company, close better
    p = [sa.close_probability(u, 100) for u in (0, 1, 5, 20, 40, 100)]
    assert all(a < b for a, b in zip(p, p[1:], strict=False))
    assert sa.close_probability(20, 25) > sa.close_probability(20, 2000)


def test_a_base_of_zero_or_one_makes_every_close_certain_whatever_the_footprint() -> None:
    for base, p in ((0.0, 0.0), (1.0, 1.0)):
        sa = _sales(f"sales.close_base={base}").sales
        assert [sa.close_probability(u, 50, 3.0) for u in (0, 5, 50)] == [p, p, p]


# -- the engine reads the footprint when a rep takes the lead -------------------------------

#: One rep with one deal slot, PQLs at 3 active users, fixed 50-day cycles, leads patient.
ONE_SLOT = [*QUIET, "free_tier.seat_limit=0", "sales.reps=1", "sales.rep_capacity=1",
            "sales.pql_users=3", 'sales.pql_cycle={ dist = "fixed", value = "50d" }',
            'sales.patience={ dist = "fixed", value = "100d" }', "sales.term=1y"]


def test_the_footprint_is_read_when_a_rep_takes_the_lead_not_when_it_arrives() -> None:
    """Two companies of 10: the first qualifies at its third seat (day 3.5) and takes the
    only slot at once, with 3 active users; the second qualifies at day 4.5 and waits
    until the slot frees at day 53.5, when all 10 of its people are active (invites of 2,
    all accepted, 2 days apart): its close probability is that of 10 users out of 10."""
    sa = _sales().sales
    sc = scenario(*ONE_SLOT)
    model = Model(sc.values, replication_seeds(3, 1)[0], horizon=80)
    model.inject(0.0, [10])
    model.inject(1.0, [10])
    lead = model.run().leads
    assert list(lead["company"][:2]) == [0, 1]
    assert list(lead["arrive"][:2]) == [3.5, 4.5] and list(lead["start"][:2]) == [3.5, 53.5]
    assert list(lead["users"][:2]) == [3, 10]
    assert lead["p_close"][0] == sa.close_probability(3, 10)
    assert lead["p_close"][1] == sa.close_probability(10, 10)
    assert _logistic(math.log(1 / 9) + 0.4 * math.log(11) + 1.0) == pytest.approx(
        lead["p_close"][1], abs=1e-12)


def test_the_usage_term_reads_the_usage_accrued_when_the_rep_takes_the_lead() -> None:
    """Usage alone (base 1/2, 1 per e-fold of user-months): a company of 10 qualifies at
    its third seat at day 3.5, when its founder (active since day 1, 1 usage unit a day)
    has used it 2.5 user-days, m = 2.5 / 30.4375 user-months: odds 1 + m, P = (1 + m) /
    (2 + m).  Usage is tracked for it though no free-tier limit or PQL signal needs it."""
    sc = scenario(*QUIET, "free_tier.seat_limit=0", "sales.reps=1", "sales.pql_users=3",
                  "sales.close_base=0.5", "sales.close_users=0", "sales.close_share=0",
                  "sales.close_usage=1")
    assert Settings.of(sc).track_usage
    _, o = play(sc, horizon=10, inject=(0.0, [10]))
    m = 2.5 / 30.4375
    assert o.leads["start"][0] == 3.5
    assert o.leads["p_close"][0] == pytest.approx((1 + m) / (2 + m), abs=1e-12)


def test_a_cold_lead_closes_at_the_base_rate() -> None:
    """A sales-only world (outbound leads, 2 a day, into 4 single-slot reps who work each
    for an exponential 1.2 days: no lead waits long, none goes cold) with close_base = 0.25.
    Every lead is a prospect with no footprint, so each is won with probability 0.25: over
    the ~2,000 leads settled in 1,000 days (seed 11), the share won must be 0.25 within
    0.03 (3.1 binomial standard errors, sqrt(0.25 x 0.75 / 2000) = 0.0097)."""
    sc = scenario('pricing.model="sales_led"', "acquisition.organic=0/day",
                  "acquisition.paid_budget=0/day",
                  "acquisition.referral=0/day", "market.companies=10000000",
                  'market.team_size={ dist = "fixed", value = 5 }', "sales.reps=4",
                  "sales.rep_capacity=1", "sales.outbound=2/day", "sales.close_base=0.25",
                  'sales.cold_cycle={ dist = "exponential", mean = "1.2d" }',
                  'sales.patience={ dist = "fixed", value = "100y" }',
                  "simulation.horizon=1000d", PRICE_NEVER_BINDS)
    o = Model(sc.values, replication_seeds(11, 1)[0]).run()
    lead = o.leads
    settled = np.isfinite(lead["end"])
    assert settled.sum() > 1900 and np.all(lead["kind"] == COLD)
    assert np.all(lead["users"] == 0)
    assert np.all(lead["p_close"][settled] == 0.25)
    won = float(np.mean(lead["outcome"][settled] == L_WON))
    assert won == pytest.approx(0.25, abs=0.03)
    assert replication_metrics(o)["cold_won_rate"] == pytest.approx(won)


# -- the lift emerges, and moves with the PQL rule ------------------------------------------

def test_pql_lift_emerges_on_the_enterprise_story_inside_two_to_five() -> None:
    """Nothing types a PQL close rate: PQLs (20+ active users) and cold outbound leads share
    one close function, and the story's published band is PQLs closing 2-5x cold leads
    (OpenView 2024).  Over 8 replications (seed 20261123) the 95% CI of the lift must lie
    inside [2, 5] (measured 3.26 [2.29, 4.22]), its mean near the story's 3x (2.5-3.5),
    and cold leads must close at the base rate 0.1 times the share of buying units that
    value a seat at the $25 contract price: about 0.8 for the story's ~20-person companies
    (1 - F(25 / 20^0.2)), so a CI inside [0.06, 0.1] (measured 0.078 [0.064, 0.092])."""
    res = simulate(load_scenario("enterprise-sales-assist"), replications=8, jobs=2)
    mean, lo, hi = res.mean_ci("pql_lift")
    assert lo >= 2.0 and hi <= 5.0
    assert 2.5 < mean < 3.5
    _, cold_lo, cold_hi = res.mean_ci("cold_won_rate")
    assert cold_lo >= 0.06 and cold_hi <= 0.1


def test_a_stricter_pql_rule_closes_better_and_finds_fewer() -> None:
    """The teaching point of the PQL threshold: at 40 active users PQLs close better
    than at 5 (a deeper footprint) but there are far fewer of them.  8 replications at
    each (seed 20261123): the lift's 95% CIs are apart (measured 2.55 [2.18, 2.93] vs
    3.95 [3.18, 4.72]: its noise is mostly the ~380 cold leads' binomial, ~15% a
    replication), and so are the PQL-to-won rates' (0.22 vs 0.37) and the PQL counts'
    (~1,870 vs ~160)."""
    loose = simulate(load_scenario("enterprise-sales-assist", ["sales.pql_users=5"]),
                     replications=8, jobs=2)
    strict = simulate(load_scenario("enterprise-sales-assist", ["sales.pql_users=40"]),
                      replications=8, jobs=2)
    _, _, loose_hi = loose.mean_ci("pql_lift")
    _, strict_lo, _ = strict.mean_ci("pql_lift")
    assert strict_lo > loose_hi
    _, _, strict_hi = strict.mean_ci("pqls")
    _, loose_lo, _ = loose.mean_ci("pqls")
    assert strict_hi < loose_lo / 4
    assert strict.mean_ci("pql_won_rate")[1] > loose.mean_ci("pql_won_rate")[2]


# -- the buying unit ------------------------------------------------------------------------

def test_contract_seats_are_the_buying_unit_and_never_fewer_than_the_users() -> None:
    """seats = max(active users, min(ceil(seat_share x people), buying_unit), 1)."""
    sa = _sales().sales
    assert (sa.seat_share, sa.buying_unit) == (0.5, 50)
    assert sa.contract_seats(0, 10) == 5  # half of a small company
    assert sa.contract_seats(0, 1000) == 50  # a department, not half of a large company
    assert sa.contract_seats(120, 1000) == 120  # the users already active, at least
    assert sa.contract_seats(0, 1) == 1
    assert _sales("sales.seat_share=0").sales.contract_seats(0, 300) == 1
    assert _sales("sales.seat_share=0.2").sales.contract_seats(0, 15) == 3  # not 4 (0.2 x 15)


def test_a_won_contract_covers_the_buying_unit_of_a_large_company() -> None:
    """A company of 1,000 qualifies at its third seat (day 3.5) and is won with certainty
    after a 5-day cycle: its contract covers the 50-seat buying unit, not 500 seats
    (half the company), and the unit's seats not in use roll out."""
    sc = scenario(*QUIET, "free_tier.seat_limit=0", "sales.reps=1", "sales.pql_users=3",
                  'sales.pql_cycle={ dist = "fixed", value = "5d" }', "sales.close_base=1.0",
                  'sales.patience={ dist = "fixed", value = "100d" }')
    _, o = play(sc, horizon=60, inject=(0.0, [1000]))
    t = o.teams
    assert t["state"][0] == CONTRACT and t["contract_seats"][0] == 50
    assert t["contract_acv"][0] == 50 * 25.0 * 12
    assert o.leads["acv"][0] == 50 * 25.0 * 12


# -- the hybrid -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hybrid_run() -> tuple[Model, object]:
    sc = load_scenario("hybrid", ["simulation.horizon=1y"])
    model = Model(sc.values, replication_seeds(5, 1)[0])
    return model, model.run()


def test_hybrid_large_companies_get_the_product_only_after_a_deal(hybrid_run) -> None:  # noqa: ANN001
    """Above 250 people: every company came through the sales pipeline (a prospect), none
    became a PQL, and every user of one signed up after its contract began."""
    _, o = hybrid_run
    t, u, lead = o.teams, o.users, o.leads
    large = t["size"] > 250
    assert large.sum() > 50 and (~large).sum() > 500
    assert np.all(t["prospect"][large])
    in_large = large[u["company"]]
    assert in_large.sum() > 0  # the contracts' users
    assert np.all(u["signup"][in_large] >= t["contract_start"][u["company"][in_large]])
    assert not np.any(large[lead["company"][lead["kind"] == PQL]])
    m = replication_metrics(o)
    assert o.counters["leads_inbound"] > 0 and o.counters["leads_outbound"] > 0
    assert m["contracts_won"] > 0 and m["pqls"] > 0


def test_hybrid_small_companies_self_serve_and_are_never_cold_leads(hybrid_run) -> None:  # noqa: ANN001
    """At most 250 people: no company is a prospect (none asked for a demo nor was
    prospected), every one was set up by a signup, some pay self-serve."""
    model, o = hybrid_run
    t, lead = o.teams, o.leads
    small = t["size"] <= 250
    assert not np.any(t["prospect"][small])
    assert not np.any(small[lead["company"][lead["kind"] == COLD]])
    assert np.any(~np.isnan(t["paid_start"][small]))
    # companies drawn for contacts who left are back in the market: none is lost
    assert model.untouched_people + model.touched_people == pytest.approx(model.market_people)


def test_hybrid_differs_from_the_other_motions_only_in_motion_keys() -> None:
    hybrid = load_scenario("hybrid")
    assert hybrid["sales.enterprise_size"] == 250
    for other in ("plg-only", "plg-sales-assist"):
        base = load_scenario(other)
        differ = [p for p in hybrid.values if p != "simulation.seed"
                  and hybrid.values[p] != base.values[p]]
        assert differ and all(p.startswith(("sales.", "pricing.")) for p in differ), differ


def test_hybrid_needs_a_sales_team_and_the_twin_says_it_does_not_carry_it() -> None:
    with pytest.raises(ScenarioError, match=r"sales.reps = 0: sales.enterprise_size = 250 "
                                            r"\(the hybrid.*needs a sales team"):
        load_scenario("baseline", ["sales.enterprise_size=250"])
    sc = load_scenario("hybrid")
    lines = meanfield.unsupported(sc)
    assert any(line.startswith("sales.enterprise_size = 250: the hybrid's sales-led") for line in lines)
    assert set(meanfield.WITHOUT_SALES) <= set(meanfield.unavailable(sc))
    assert "sales motions" in {name for _, name, _ in meanfield.mechanism_notes(sc)}
