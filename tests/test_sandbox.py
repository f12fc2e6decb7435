"""The sandbox brings first value, not production value.

With ``onboarding.sandbox = true`` users reach first value through the sandbox in minutes,
while the company's setup (``onboarding.setup_friction``) still runs from its first signup:
the team reaches production value, which buying needs, when the setup is done, provided
someone is still working on it then; otherwise it gives up on the setup.  Exact event logs
in a world with nothing random left (conftest ``QUIET``), closed forms for the share of
teams set up by a trial's end, the twin's reading of it, and the world without a sandbox,
where the setup stays in the first signup's time to value and nothing waits for it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import QUIET, play, scenario
from scipy import stats

from flywheel.engines import meanfield
from flywheel.metrics import measure
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.studies.runner import simulate

HOUR = 1.0 / 24.0
#: The sandbox with a fixed first value an hour after signing up.
SANDBOX = ["onboarding.sandbox=true", 'onboarding.sandbox_ttv={ dist = "fixed", value = "1h" }']


def setup(value: str) -> str:
    """A fixed setup time (``"20d"``) or an inline distribution (``"{ dist = ... }"``)."""
    dist = value if value.startswith("{") else f'{{ dist = "fixed", value = "{value}" }}'
    return f"onboarding.setup_friction={dist}"


def trial_world(*overrides: str) -> list[str]:
    """QUIET, a 14-day opt-in trial that converts every team that may buy, the sandbox."""
    return [*QUIET, "trial.length=14d", "trial.convert_probability=1.0", *SANDBOX, *overrides]


def log(o: object) -> list[tuple[float, str, int, int]]:
    return [(round(t, 6), what, u, c) for t, what, u, c in o.trace]  # type: ignore[attr-defined]


# -- exact event logs ----------------------------------------------------------------------------

def test_a_setup_longer_than_the_trial_lets_users_in_but_the_team_cannot_buy() -> None:
    """Setup 20 days, trial 14: the founder reaches value in an hour (activation, a seat),
    the trial ends with the team not set up, so it loses access like any unconverted trial,
    and at day 20 the setup is given up (no one is working on it).  No production value."""
    _, o = play(scenario(*trial_world(setup("20d")), base="trial"), horizon=40, trace=True,
                inject=(0.0, [1]))
    assert log(o) == [(0.0, "signup:organic", 0, 0), (round(HOUR, 6), "activated", 0, 0),
                      (14.0, "trial_ended:lost_access", -1, 0),
                      (20.0, "setup_abandoned", -1, 0)]
    assert math.isnan(o.teams["ready"][0]) and not o.teams["trial_converted"][0]
    assert o.counters["setup_abandoned"] == 1 and o.counters["setup_done"] == 0


@pytest.mark.parametrize("days", [10.0, 14.0])
def test_a_setup_done_within_the_trial_lets_the_team_buy_at_its_end(days: float) -> None:
    """Setup 10 days (and 14, the trial's last instant, which counts): done while the
    founder is active, then the trial converts at day 14."""
    _, o = play(scenario(*trial_world(setup(f"{days:g}d")), base="trial"), horizon=40,
                trace=True, inject=(0.0, [1]))
    assert log(o) == [(0.0, "signup:organic", 0, 0), (round(HOUR, 6), "activated", 0, 0),
                      (days, "setup_done", -1, 0), (14.0, "trial_converted", -1, 0)]
    assert o.teams["ready"][0] == days


def test_a_setup_of_zero_is_done_at_the_first_signup_and_the_sandbox_behaves_as_before() -> None:
    """Setup 0: done at the first signup (the founder is onboarding then); the rest of the
    log is the sandbox's story without any setup: value in an hour, converted at day 14."""
    _, o = play(scenario(*trial_world(setup("0d")), base="trial"), horizon=40, trace=True,
                inject=(0.0, [1]))
    assert log(o) == [(0.0, "signup:organic", 0, 0), (0.0, "setup_done", -1, 0),
                      (round(HOUR, 6), "activated", 0, 0), (14.0, "trial_converted", -1, 0)]


def test_with_setup_zero_every_team_is_set_up_at_creation() -> None:
    """The shipped sandbox story with a setup of 0: every team's production time is its
    creation, so nothing waits for it (the results are the sandbox's before the setup was
    required: bench/fingerprint.py-style hashes matched the previous code's)."""
    _, o = play(scenario(setup("0d"), "simulation.horizon=30d", base="data-integration-sandbox"))
    t = o.teams
    assert len(t["created"]) > 100
    np.testing.assert_allclose(t["ready"], t["created"], rtol=0, atol=1e-9)
    assert o.counters["setup_abandoned"] == 0


def test_a_free_teams_paywall_decision_waits_for_its_setup() -> None:
    """Freemium with a seat limit of 2: the third user meets the paywall at ~2.06 days, the
    decision is due 3 days later, waits for the setup (day 20), and is taken then: the team
    upgrades and its waiting user takes a seat (and invites)."""
    sc = scenario(*QUIET, *SANDBOX, setup("20d"), "free_tier.seat_limit=2")
    _, o = play(sc, horizon=40, trace=True, inject=(0.0, [5]))
    events = [(t, what) for t, what, _, _ in log(o) if not what.startswith(("signup", "invite",
                                                                             "activated"))]
    assert events == [(2.0625, "paywall:seats"), (5.0625, "paywall:waits_for_setup"),
                      (20.0, "setup_done"), (20.0, "upgrade")]
    assert o.teams["paid_start"][0] == 20.0 and o.counters["paywall_waited_for_setup"] == 1
    # with no setup to wait for, the decision comes after the decision delay as before
    _, o = play(scenario(*QUIET, *SANDBOX, setup("0d"), "free_tier.seat_limit=2"), horizon=40,
                inject=(0.0, [5]))
    assert o.teams["paid_start"][0] == pytest.approx(2.0625 + 3.0)


def test_a_team_whose_users_all_left_gives_up_its_setup_and_declines() -> None:
    """Freemium with a seat limit of 2, setup 60 days, seats lasting about a month (a
    Weibull tenure of shape 10, scale 31.5 days: 10-44 days unless a draw is one in
    10^12): the third user waits at the paywall, the decision waits for the setup, the
    two seated users churn before day 60, so no one is
    working on the setup then (a waiting user has no seat): it is given up, and the
    decision that waited for it declines (the team is capped, the waiting user blocked)."""
    sc = scenario(*QUIET, *SANDBOX, setup("60d"), "free_tier.seat_limit=2",
                  "retention.churn_monthly=0.5", "retention.tenure_shape=10")
    _, o = play(sc, horizon=80, trace=True, inject=(0.0, [3]))
    events = [(t, what) for t, what, _, _ in log(o)
              if what.startswith(("paywall", "setup", "upgrade", "declined", "churned"))]
    assert [what for _, what in events] == ["paywall:seats", "paywall:waits_for_setup",
                                            "churned", "churned", "setup_abandoned", "declined"]
    assert events[-2][0] == events[-1][0] == 60.0
    assert math.isnan(o.teams["ready"][0]) and math.isnan(o.teams["paid_start"][0])


def test_a_trial_that_ended_before_its_setup_declines_at_the_paywall_after_it() -> None:
    """A company whose trial ended unset up cannot buy when someone new comes to it: an
    accepted invite arriving after the trial meets the paywall (a certain upgrade in this
    world), and the company declines; the invitee is turned away."""
    over = trial_world(setup("20d"), 'collaboration.invite_delay={ dist = "fixed", value = "15d" }')
    _, o = play(scenario(*over, base="trial"), horizon=40, trace=True, inject=(0.0, [2]))
    whats = [what for _, what, _, _ in log(o)]
    assert "paywall:after_trial" in whats and "declined:after_trial" in whats
    assert "bought_after_trial" not in whats and o.counters["turned_away"] == 1
    # set up within the trial (but not bought: conversion 0), the same company buys
    over = trial_world(setup("10d"), 'collaboration.invite_delay={ dist = "fixed", value = "15d" }',
                       "trial.convert_probability=0")
    _, o = play(scenario(*over, base="trial"), horizon=40, trace=True, inject=(0.0, [2]))
    assert "bought_after_trial" in [what for _, what, _, _ in log(o)]


# -- closed forms --------------------------------------------------------------------------------

N_TEAMS = 4000


@pytest.mark.parametrize("dist, p_ready", [
    ('{ dist = "gamma", mean = "14d", cv = 0.3 }', float(stats.gamma(1 / 0.09, scale=14 * 0.09).cdf(14))),
    ('{ dist = "exponential", mean = "10d" }', 1.0 - math.exp(-14 / 10)),
])
def test_share_of_activated_trial_teams_set_up_by_the_trials_end_is_p_setup_within_it(
        dist: str, p_ready: float) -> None:
    """4,000 one-person companies at day 0, each founder active from an hour on through the
    trial (no churn): each team is set up by the trial's end with P(setup <= 14 days) (gamma
    mean 14 cv 0.3: 0.5399; exponential mean 10: 1 - e^-1.4 = 0.7534), binomial standard
    error <= 0.0079; checked within 0.03 (fixed seed).  With trial.convert_probability 0.5
    the trial converts 0.5 x that, within 0.03 too."""
    sc = scenario(*trial_world(setup(dist)), "trial.convert_probability=0.5", base="trial")
    _, o = play(sc, seed=11, horizon=20, inject=(0.0, [1] * N_TEAMS))
    t = o.teams
    assert (o.users["start"] < 14).all() and (o.users["end"] >= 14).all()  # all active then
    ready = t["ready"] <= t["trial_end"]
    assert ready.mean() == pytest.approx(p_ready, abs=0.03)
    assert t["trial_converted"].mean() == pytest.approx(0.5 * p_ready, abs=0.03)
    assert not (t["trial_converted"] & ~ready).any()


def test_a_team_whose_only_user_churned_before_its_setup_gives_it_up() -> None:
    """Setup fixed at 7 days; each founder, seated an hour after signing up, churns at a
    constant hazard of -ln(1 - 0.5) a month.  The setup is done iff the founder is still
    active at day 7: P = exp(-ln 2 x (7 - 1/24) / 30.4375) = 0.8533; 4,000 teams, checked
    within 0.03 (binomial standard error 0.0056)."""
    sc = scenario(*trial_world(setup("7d")), "retention.churn_monthly=0.5", base="trial")
    _, o = play(sc, seed=5, horizon=20, inject=(0.0, [1] * N_TEAMS))
    expected = math.exp(-math.log(2) * (7 - HOUR) / DAYS_PER_MONTH)
    done = ~np.isnan(o.teams["ready"])
    assert done.mean() == pytest.approx(expected, abs=0.03)
    assert o.counters["setup_done"] + o.counters["setup_abandoned"] == N_TEAMS


# -- the twin --------------------------------------------------------------------------------------

def test_the_twin_buys_only_set_up_trials() -> None:
    """The twin converts a trial team with a seat with the conversion probability x P(setup
    <= trial length): over a quarter, a setup beyond the trial converts none and rescues
    activation all the same (within 1% of a setup of 0, which converts over 25%: 29.8%, the
    conversion probability 0.55 x the share of teams valuing a seat at $15); in the
    shipped sandbox story its trial conversion lies within the 95% CI of 6 replications of
    the simulation (a quarter)."""
    quarter = "simulation.horizon=90d"
    # (a quarter: in a trial world where no team ever pays the twin's integration stalls
    # after about four months, with or without the sandbox: a known limit, docs/model.md)
    never = measure(meanfield.solve(scenario(setup("30d"), quarter,
                                             base="data-integration-sandbox")).tally).metrics
    zero = measure(meanfield.solve(scenario(setup("0d"), quarter,
                                            base="data-integration-sandbox")).tally).metrics
    assert never["trial_conversion"] == pytest.approx(0.0, abs=1e-6)
    assert zero["trial_conversion"] > 0.25
    assert never["activation_rate"] == pytest.approx(zero["activation_rate"], rel=0.01)
    sc = scenario(quarter, base="data-integration-sandbox")
    twin = measure(meanfield.solve(sc).tally).metrics["trial_conversion"]
    _, lo, hi = simulate(sc, replications=6, seed=3, jobs=1).mean_ci("trial_conversion")
    assert lo <= twin <= hi, (twin, lo, hi)


def test_the_twin_names_what_it_does_not_carry() -> None:
    """The trial's setup is approximated (listed for the sandbox story); the free tier's
    wait for the setup is not represented, and unsupported() says so for a freemium or
    reverse trial with a sandbox and a setup, not with a setup of 0."""
    notes = {name: status for status, name, _ in
             meanfield.mechanism_notes(scenario(base="data-integration-sandbox"))}
    assert notes["setup before buying (sandbox)"] == meanfield.APPROXIMATED
    assert meanfield.unsupported(scenario(base="data-integration-sandbox")) == []
    free = scenario("onboarding.sandbox=true", setup("5d"))
    assert any("setup" in line for line in meanfield.unsupported(free))
    assert meanfield.unsupported(scenario("onboarding.sandbox=true")) == []


# -- without the sandbox -------------------------------------------------------------------------

def test_without_the_sandbox_the_setup_is_in_the_founders_time_to_value() -> None:
    """No sandbox, setup 5 days: the founder reaches value at 1 + 5 days, the team is set up
    then (its first value is its production value), and it converts at the trial's end as
    it always did; no setup events."""
    over = [*QUIET, "trial.length=14d", "trial.convert_probability=1.0", setup("5d")]
    _, o = play(scenario(*over, base="trial"), horizon=40, trace=True, inject=(0.0, [1]))
    assert log(o) == [(0.0, "signup:organic", 0, 0), (6.0, "activated", 0, 0),
                      (14.0, "trial_converted", -1, 0)]
    assert o.teams["ready"][0] == 6.0


def test_without_the_sandbox_nothing_waits_for_a_setup() -> None:
    """The data-integration trial as shipped, a quarter: no setup events, and each team's
    production time is its first value (the first time one of its users reached value),
    NaN for a team none of whose users did.  (That every result without a sandbox is the
    same as before setup was required is checked by bench/fingerprint.py.)"""
    _, o = play(scenario("simulation.horizon=90d", base="data-integration-trial"), trace=True)
    assert not any(what.startswith(("setup", "paywall:waits")) for _, what, _, _ in o.trace)
    assert o.counters["setup_done"] == o.counters["setup_abandoned"] == 0
    first = {}
    for t, what, _, c in o.trace:
        if what == "activated":
            first.setdefault(c, t)
    ready = o.teams["ready"]
    assert {c: ready[c] for c in first} == first
    assert np.isnan(np.delete(ready, list(first))).all()
