"""The model: exact event logs in small cases, conservation, and the closed forms it must
reproduce in limiting cases (Bass diffusion, branching-process totals, constant hazard)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import QUIET, play, scenario

from flywheel.engines.model import ACTIVE, CHANNELS, USER_STATES
from flywheel.metrics import replication_metrics, user_states
from flywheel.scenario.defaults import DAYS_PER_MONTH

# -- exact event logs -----------------------------------------------------------------------

def test_one_team_event_log_is_exactly_what_the_parameters_imply() -> None:
    """One founder in a company of 10, TTV 1d (invitees 0.5d), 2 invites each, accepted
    after 2d, a 3-seat free tier, a decision 3d after the paywall, certain upgrade."""
    sc = scenario(*QUIET)
    _, o = play(sc, horizon=30, trace=True, inject=(0.5, [10]))
    log = [(round(t, 9), what, user) for t, what, user, _ in o.trace]
    assert log == [
        (0.5, "signup:organic", 0),
        (1.5, "activated", 0),            # signup + TTV 1d
        (1.5, "invite", 0), (1.5, "invite", 0),
        (3.5, "signup:invite", 1), (3.5, "signup:invite", 2),   # + invite delay 2d
        (4.0, "activated", 1),            # + invitee TTV 0.5 x 1d
        (4.0, "invite", 1), (4.0, "invite", 1),
        (4.0, "activated", 2),            # the 3rd seat: at the seat limit, no invites
        (6.0, "signup:invite", 3), (6.0, "signup:invite", 4),
        (6.5, "activated", 3),            # a 4th seat: the 3-seat free tier's paywall
        (6.5, "paywall:seats", -1),
        (6.5, "activated", 4),
        (9.5, "upgrade", -1),             # + decision delay 3d; waiting users take seats
        # and, paying, invite 2 each: 4 of the company's 10 people are reached
        (9.5, "invite", 3), (9.5, "invite", 3), (9.5, "invite", 4), (9.5, "invite", 4),
        (11.5, "signup:invite", 5), (11.5, "signup:invite", 6),
        (11.5, "signup:invite", 7), (11.5, "signup:invite", 8),
        (12.0, "activated", 5),
        (12.0, "invite", 5),              # the last person left
        (12.0, "activated", 6), (12.0, "activated", 7), (12.0, "activated", 8),
        (14.0, "signup:invite", 9),
        (14.5, "activated", 9),
    ]
    # 1 + 3 x 2 invites at day 12 (users 5-8) and 2 at day 14.5 find no one left to invite
    assert o.counters["invites_no_one_left"] == 9
    u, t = o.users, o.teams
    assert list(u["state"]) == [ACTIVE] * 10
    assert t["paywall"][0] == 6.5 and t["paid_start"][0] == 9.5
    np.testing.assert_allclose(u["start"][3:5], 9.5)  # seats granted at the upgrade
    np.testing.assert_allclose(u["value"][3:5], 6.5)  # value was reached before
    m = replication_metrics(o)
    assert m["mrr_end"] == 10 * sc["pricing.price_per_seat"]
    assert m["ttv_median_days"] == 0.5


def test_declined_paywall_caps_the_team_at_its_seat_limit() -> None:
    sc = scenario(*QUIET, "pricing.upgrade_probability=0.0")
    _, o = play(sc, horizon=30, trace=True, inject=(0.0, [10]))
    whats = [(round(t, 9), w) for t, w, _, _ in o.trace if w in ("paywall:seats", "declined",
                                                                  "blocked", "invite")]
    assert (6.0, "paywall:seats") in whats and (9.0, "declined") in whats
    assert whats.count((9.0, "blocked")) == 2  # the two waiting users lose their chance
    # the 3rd seat (at the limit, day 3.5) and every seat after it send no invites
    assert whats.count((1.0, "invite")) == 2 and whats.count((3.5, "invite")) == 2
    assert not [w for t, w in whats if w == "invite" and t > 3.5]
    assert user_states(o)["blocked"] == 2 and user_states(o)["active"] == 3
    assert math.isnan(o.teams["paid_start"][0])
    assert o.counters["capped_seats"] == 1 and o.counters["capped_usage"] == 0


def test_usage_limit_paywall_comes_when_usage_runs_out() -> None:
    """One active user accruing 2 units a day against a 50-unit limit meets the paywall
    25 days after taking a seat; a second user halves the time left."""
    sc = scenario(*QUIET, "free_tier.seat_limit=0", "free_tier.usage_limit=50",
                  "free_tier.usage_per_user=2/day",
                  'collaboration.invites={ dist = "fixed", value = 0 }')
    _, o = play(sc, horizon=60, trace=True, inject=(0.0, [1]))
    assert o.teams["paywall"][0] == pytest.approx(1.0 + 25.0)
    sc2 = scenario(*QUIET, "free_tier.seat_limit=0", "free_tier.usage_limit=50",
                   "free_tier.usage_per_user=2/day",
                   'collaboration.invites={ dist = "fixed", value = 1 }',
                   'collaboration.invite_delay={ dist = "fixed", value = "4d" }')
    _, o2 = play(sc2, horizon=60, trace=True, inject=(0.0, [2]))
    # founder active from day 1 (8 units by day 5), invitee from day 5.5: 2 users x 2/day
    # use the remaining 50 - 9 = 41 units in 10.25 days
    assert o2.teams["paywall"][0] == pytest.approx(5.5 + (50 - 2 * 4.5) / 4)


def test_trial_team_without_value_loses_access_at_trial_end() -> None:
    sc = scenario(*QUIET, 'pricing.model="trial"', "trial.length=14d",
                  'onboarding.ttv={ dist = "fixed", value = "20d" }',
                  'onboarding.patience={ dist = "fixed", value = "30d" }')
    _, o = play(sc, horizon=40, trace=True, inject=(0.0, [5]))
    assert [w for _, w, _, _ in o.trace] == ["signup:organic", "trial_ended:lost_access"]
    assert user_states(o) == {**{s: 0 for s in USER_STATES}, "lost_access": 1}
    assert o.teams["trial_end"][0] == 14.0


def test_trial_with_value_converts_with_certainty_when_told_so() -> None:
    sc = scenario(*QUIET, 'pricing.model="trial"', "trial.length=14d",
                  "trial.convert_probability=1.0")
    _, o = play(sc, horizon=40, trace=True, inject=(0.0, [3]))
    assert o.teams["paid_start"][0] == 14.0 and o.teams["trial_converted"][0]
    assert ("trial_converted" in [w for _, w, _, _ in o.trace])


def test_reverse_trial_falls_back_to_the_free_tier_and_meets_the_paywall() -> None:
    sc = scenario(*QUIET, 'pricing.model="reverse_trial"', "trial.length=14d",
                  "trial.convert_probability=0.0", "free_tier.seat_limit=2")
    _, o = play(sc, horizon=40, trace=True, inject=(0.0, [10]))
    whats = [(round(t, 6), w) for t, w, _, _ in o.trace if ":" in w or w == "upgrade"]
    # during the trial 7 users take seats (no limit); at day 14 the 2-seat free tier applies
    assert (14.0, "trial_ended:free") in whats and (14.0, "paywall:seats") in whats
    assert (17.0, "upgrade") in whats


# -- conservation ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["freemium", "trial", "reverse_trial"])
def test_conservation(model: str) -> None:
    sc = scenario(f'pricing.model="{model}"', "market.companies=3000",
                  "acquisition.organic=60/day", "simulation.horizon=120d")
    _, o = play(sc, seed=3, trace=True)
    u, t, H = o.users, o.teams, o.horizon
    n = len(u["signup"])
    assert n > 3000
    # every signup is in exactly one state
    states = user_states(o)
    assert sum(states.values()) == n
    assert set(np.unique(u["state"])) <= set(range(len(USER_STATES)))
    # nothing happens after the horizon
    assert u["signup"].max() < H
    for col in ("value", "start", "abandon"):
        x = u[col][~np.isnan(u[col])]
        assert (x < H).all(), col
    assert (u["end"][np.isfinite(u["end"])] <= H).all()
    assert max(r[0] for r in o.trace) < H
    # spells are ordered: signup <= value <= start < end
    seated = ~np.isnan(u["start"])
    assert (u["signup"][seated] <= u["value"][seated]).all()
    assert (u["value"][seated] <= u["start"][seated]).all()
    assert (u["start"][seated] <= u["end"][seated]).all()
    assert ((u["state"] == ACTIVE) == (seated & (u["end"] > H))).all()
    # paid seats never exceed a team's members; MRR is seats x price
    m = replication_metrics(o)
    members = np.bincount(u["company"], minlength=len(t["created"]))
    paying = np.zeros(len(members), dtype=bool)  # (a team's open paid spell, if any)
    paying[o.paid["company"][(o.paid["start"] <= H) & (o.paid["end"] > H)]] = True
    active = u["state"] == ACTIVE
    seats = np.bincount(u["company"][active], minlength=len(members))
    assert (seats[paying] <= members[paying]).all()
    assert (members <= t["size"]).all()
    assert m["paid_seats_end"] == seats[paying].sum()
    assert m["mrr_end"] == pytest.approx(m["paid_seats_end"] * sc["pricing.price_per_seat"])
    assert m["arr_end"] == pytest.approx(12 * m["mrr_end"])
    # channels add up
    assert sum(m[f"signups_{c}"] for c in CHANNELS) == m["signups"]


# -- closed forms ---------------------------------------------------------------------------

def test_word_of_mouth_alone_follows_bass_diffusion() -> None:
    """Bass (1969): F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}).

    A market of M one-person companies; organic contacts at rate p*M reach a random
    person (lost if already a user), word of mouth at q per active user likewise;
    activation is immediate and nobody churns.  Mean of 8 replications vs F(t) at five
    instants, absolute tolerance 0.015 on the adopted share: the replication SE is
    ~0.002 and the daily step on the word-of-mouth rate lags the curve by under half a
    day (at most ~0.006 on F at the steepest point).
    """
    M, p, q = 20_000, 0.002, 0.04
    sc = scenario("acquisition.paid_budget=0/day", f"acquisition.organic={p * M}/day",
                  f"acquisition.referral={q}/day", f"market.companies={M}",
                  'market.team_size={ dist = "fixed", value = 1 }',
                  'onboarding.ttv={ dist = "fixed", value = "0d" }',
                  'onboarding.patience={ dist = "fixed", value = "1d" }', "onboarding.no_show=0",
                  "retention.churn_monthly=0", "free_tier.seat_limit=0",
                  "free_tier.usage_limit=0", "simulation.horizon=150d")
    at = np.array([20.0, 40.0, 60.0, 80.0, 120.0])
    shares = []
    for seed in range(8):
        _, o = play(sc, seed=seed)
        shares.append([np.sum(o.users["signup"] < x) / M for x in at])
    sim = np.mean(shares, axis=0)
    e = np.exp(-(p + q) * at)
    bass = (1 - e) / (1 + (q / p) * e)
    np.testing.assert_allclose(sim, bass, atol=0.015)
    assert bass[-1] - bass[0] > 0.5  # the check spans the steep part of the S-curve


def test_invites_alone_give_the_branching_total_one_over_one_minus_k() -> None:
    """Galton-Watson with Poisson(K) offspring: expected total progeny per seed = 1/(1-K).

    5,000 seeds in companies too large to run out of people; each activated user sends
    Poisson(1.2) invites, each accepted with probability 0.5 (K = 0.6), invitees activate
    at once.  Total = 2.5 per seed; its variance is K/(1-K)^3 = 9.4 per seed, so the mean
    over 5,000 seeds has SE 0.043: tolerance 0.15 (3.5 SE).
    """
    K = 0.6
    sc = scenario("acquisition.organic=0/day", "acquisition.paid_budget=0/day",
                  "acquisition.referral=0/day",
                  'onboarding.ttv={ dist = "fixed", value = "0d" }',
                  'onboarding.patience={ dist = "fixed", value = "1d" }', "onboarding.no_show=0",
                  'collaboration.invites={ dist = "poisson", mean = 1.2 }',
                  "collaboration.acceptance=0.5",
                  'collaboration.invite_delay={ dist = "exponential", mean = "1d" }',
                  "retention.churn_monthly=0", "free_tier.seat_limit=0",
                  "free_tier.usage_limit=0", "simulation.horizon=120d")
    seeds = 5000
    _, o = play(sc, seed=11, inject=(0.0, [1_000_000] * seeds))
    assert len(o.users["signup"]) / seeds == pytest.approx(1 / (1 - K), abs=0.15)
    m = replication_metrics(o)
    # K measured as invited signups per activated user matches K = 1.2 x 0.5 (SE ~0.01)
    assert m["viral_coefficient"] == pytest.approx(K, abs=0.03)


def test_constant_hazard_retention_is_exponential() -> None:
    """S(t) = e^{-lambda t} with lambda = -ln(1 - c) per month for monthly churn c.

    20,000 users take a seat at t = 0 and only churn acts.  The share still active at
    1, 3 and 6 months has SE <= 0.0036: tolerance 0.012 (about 3.3 SE).  The churn
    metric (1 - exp(-ends / exposure)) recovers c within 0.004.
    """
    c = 0.10
    sc = scenario(*QUIET, 'onboarding.ttv={ dist = "fixed", value = "0d" }',
                  'collaboration.invites={ dist = "fixed", value = 0 }',
                  f"retention.churn_monthly={c}", "free_tier.seat_limit=0")
    _, o = play(sc, seed=5, horizon=200, inject=(0.0, [1] * 20_000))
    lam = -math.log(1 - c) / DAYS_PER_MONTH
    end = o.users["end"]
    for months in (1, 3, 6):
        t = months * DAYS_PER_MONTH
        assert np.mean(end > t) == pytest.approx(math.exp(-lam * t), abs=0.012)
    assert replication_metrics(o)["user_churn_monthly"] == pytest.approx(c, abs=0.004)


def test_decaying_hazard_keeps_first_month_churn_and_flattens_later() -> None:
    """Weibull tenure with shape k < 1: P(churn in month 1) = c still, and the survival
    curve is S(t) = exp(-(-ln(1-c)) (t / month)^k).  Tolerance as above."""
    c, k = 0.10, 0.5
    sc = scenario(*QUIET, 'onboarding.ttv={ dist = "fixed", value = "0d" }',
                  'collaboration.invites={ dist = "fixed", value = 0 }',
                  f"retention.churn_monthly={c}", f"retention.tenure_shape={k}",
                  "free_tier.seat_limit=0")
    _, o = play(sc, seed=6, horizon=200, inject=(0.0, [1] * 20_000))
    end = o.users["end"]
    for months in (1, 4):
        expected = math.exp(math.log(1 - c) * months ** k)
        assert np.mean(end > months * DAYS_PER_MONTH) == pytest.approx(expected, abs=0.012)


def test_market_saturates_when_everyone_has_signed_up() -> None:
    """A 500-person market cannot yield more than 500 signups, however hard it is pushed."""
    sc = scenario("market.companies=100", 'market.team_size={ dist = "fixed", value = 5 }',
                  "acquisition.organic=200/day", "simulation.horizon=60d")
    _, o = play(sc, seed=2)
    assert len(o.users["signup"]) == 500
    assert len(o.teams["created"]) == 100
    assert (np.bincount(o.users["company"]) == 5).all()
