"""The mean-field twin: conservation, closed forms where it is exact, agreement with the
simulation as populations grow, and its place in results, reports and the CLI."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import scenario

from flywheel.cli import main
from flywheel.engines import meanfield as mf
from flywheel.engines.meanfield import chains, market
from flywheel.engines.model import CHANNELS, USER_STATES, _size_histogram
from flywheel.engines.tally import day_grid
from flywheel.metrics import FUNNEL, HEADLINE, METRICS, SERIES, Measures, measure
from flywheel.outputs.results import write_results
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.files import Scenario
from flywheel.studies.runner import RunResult, simulate, simulate_twin
from flywheel.studies.validation import TWIN_EXACT, convergence_gaps

#: One-person companies, exponential delays, no free-tier limits: every mechanism left is
#: one the twin carries exactly in the mean (MECHANISMS), so only the simulation's noise
#: and its finite size separate the two.
#: (with no spread of commitment, patience stays exponential: the race is one exact stage)
EXACT = [*TWIN_EXACT, "onboarding.commitment_spread=0"]


def solve(sc: Scenario) -> Measures:
    """The twin's run, measured by the one metric layer."""
    return measure(mf.solve(sc).tally)


@pytest.fixture(scope="module")
def baseline() -> Measures:
    return solve(scenario())


# -- what it returns --------------------------------------------------------------------------

def test_every_metric_series_and_funnel_stage_is_there(baseline: Measures) -> None:
    r = baseline
    assert set(r.metrics) == set(METRICS)
    assert set(r.series) == set(SERIES)
    assert set(r.funnel) == {key for key, _, _ in FUNNEL}
    grid = day_grid(365.25)
    np.testing.assert_array_equal(mf.solve(scenario()).grid, grid)
    assert all(len(v) == len(grid) for v in r.series.values())
    # what the twin computes has a value; with no sales team there are no leads and no
    # contracts, and a rate over no leads is missing, as in the simulation
    for name in (*HEADLINE, "revenue", "serving_cost", "logo_churn_monthly", "ltv"):
        assert math.isfinite(r.metrics[name]) or name in r.unavailable, name
    assert r.metrics["pqls"] == r.metrics["contracts_won"] == r.metrics["sales_cost"] == 0
    assert math.isnan(r.metrics["pql_won_rate"]) and r.unavailable == mf.WITHOUT_AGES
    assert mf.unsupported(scenario()) == []


def test_users_and_money_add_up(baseline: Measures) -> None:
    """Conservation: every signup ends in exactly one state (to the integration's
    tolerance, 1e-6 of signups), channels add up, the daily flows add up to the totals,
    and the money is seats x price."""
    r, m = baseline, baseline.metrics
    assert set(r.states) == set(USER_STATES)
    assert sum(r.states.values()) == pytest.approx(m["signups"], rel=1e-6)
    assert sum(m[f"signups_{c}"] for c in CHANNELS) == pytest.approx(m["signups"], rel=1e-9)
    assert r.series["signups"].sum() == pytest.approx(m["signups"], rel=1e-9)
    assert r.series["activations"].sum() == pytest.approx(m["activated"], rel=1e-9)
    assert r.series["active_users"][-1] == pytest.approx(m["active_users_end"])
    lost_onboarding = mf.solve(scenario()).tally.totals["onboarding_lost"]
    assert m["activation_rate"] == pytest.approx(
        m["activated"] / (m["activated"] + r.states["abandoned"] + lost_onboarding), rel=1e-6)
    assert m["mrr_end"] == pytest.approx(m["paid_seats_end"] * 15.0)
    assert m["arr_end"] == pytest.approx(12 * m["mrr_end"])
    assert 0 < m["paid_seats_end"] < m["active_users_end"]
    assert m["teams"] <= 20_000 and m["teams_ever_paid"] <= m["paywall_teams"] <= m["teams"]
    assert r.funnel["seated"] <= r.funnel["activated"] <= r.funnel["signups"]
    assert np.all(np.diff(r.series["teams"]) >= -1e-9)  # a cumulative count never falls


@pytest.mark.parametrize("name", ["trial", "reverse-trial", "devtool-story"])
def test_users_add_up_in_trials_and_viral_teams(name: str) -> None:
    r = solve(scenario(base=name))
    assert sum(r.states.values()) == pytest.approx(r.metrics["signups"], rel=1e-5)
    assert min(r.states.values()) > -1e-3


# -- closed forms where the twin is exact --------------------------------------------------------

def test_word_of_mouth_alone_is_bass_diffusion() -> None:
    """Bass (1969): F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}).  One-person
    companies, instant value, no churn: the twin's adopted share is F to within 1e-3 (the
    integration's global error: BDF at rtol 1e-4 lands 1e-4 to 7e-4 from F at day 150
    depending on its step path, which the Jacobian of every mechanism's linear part
    shapes even when the mechanism carries nothing, e.g. pricing.upgrade_probability 0.15
    vs 0.27 here; the DES, with its daily step, is held to 0.015 in test_model.py)."""
    M, p, q = 20_000, 0.002, 0.04
    r = solve(scenario("acquisition.paid_budget=0/day", f"acquisition.organic={p * M}/day",
                          f"acquisition.referral={q}/day", f"market.companies={M}",
                          'market.team_size={ dist = "fixed", value = 1 }',
                          'onboarding.ttv={ dist = "fixed", value = "0d" }',
                          'onboarding.patience={ dist = "fixed", value = "1d" }',
                          "onboarding.no_show=0", "retention.churn_monthly=0",
                          "free_tier.seat_limit=0", "free_tier.usage_limit=0",
                          "simulation.horizon=150d"))
    at = np.array([20, 40, 60, 80, 120, 150])
    share = np.cumsum(r.series["signups"])[at - 1] / M
    e = np.exp(-(p + q) * at)
    np.testing.assert_allclose(share, (1 - e) / (1 + (q / p) * e), atol=1e-3)


def test_constant_hazard_approaches_the_steady_state_inflow_over_hazard() -> None:
    """A constant inflow of A seats a day with churn hazard lambda = -ln(1 - c) per month:
    active(t) = (A / lambda)(1 - e^{-lambda t}) -> A / lambda; the churn metric recovers c.
    Tolerance 1e-3 relative (the ODE tolerance)."""
    c, A = 0.10, 50.0
    lam = -math.log(1 - c) / DAYS_PER_MONTH
    r = solve(scenario(f"acquisition.organic={A}/day", "acquisition.paid_budget=0/day",
                          "acquisition.referral=0/day", "market.companies=1000000000",
                          'market.team_size={ dist = "fixed", value = 1 }',
                          'onboarding.ttv={ dist = "fixed", value = "0d" }',
                          "onboarding.no_show=0", 'collaboration.invites={ dist = "fixed", value = 0 }',
                          f"retention.churn_monthly={c}", "free_tier.seat_limit=0",
                          "free_tier.usage_limit=0", "simulation.horizon=1500d"))
    for t in (100, 500, 1500):
        expected = A / lam * (1 - math.exp(-lam * t))
        assert r.series["active_users"][t - 1] == pytest.approx(expected, rel=1e-3)
    assert r.series["active_users"][-1] == pytest.approx(A / lam, rel=0.01)
    assert r.metrics["user_churn_monthly"] == pytest.approx(c, rel=1e-6)


def test_exponential_race_gives_its_closed_form_activation_and_time_to_value() -> None:
    """TTV ~ Exp(rate a), patience ~ Exp(rate b), no-show s: activation (1 - s) a / (a + b);
    the time to value of those who reach it is Exp(a + b): median ln 2 / (a + b), p90
    ln 10 / (a + b).  Tolerances: 2e-3 on the rate (ODE), 0.5% on the quantiles (grid)."""
    r = solve(scenario(*EXACT))
    a, b, s = 1 / 2, 1 / 4, 0.3
    assert r.metrics["activation_rate"] == pytest.approx((1 - s) * a / (a + b), abs=2e-3)
    assert r.metrics["ttv_median_days"] == pytest.approx(math.log(2) / (a + b), rel=5e-3)
    assert r.metrics["ttv_p90_days"] == pytest.approx(math.log(10) / (a + b), rel=5e-3)


# -- the approximations, measured ---------------------------------------------------------------

def test_onboarding_chain_keeps_the_race_probabilities_and_follows_its_timing() -> None:
    """The baseline's lognormal TTV against exponential patience as a chain of stages:
    the probability of reaching value is kept exactly (1e-9); its distribution in time
    is within 0.05 of the exact one (a Kolmogorov distance) from half a day on."""
    p = scenario().values
    race = chains.onboarding_race(p["onboarding.ttv"], p["onboarding.patience"], p["onboarding.no_show"])
    chain = chains.race_chain(race)
    assert chain.outcome(chains.ACT) == pytest.approx(race.p_act, abs=1e-9)
    t = np.array([0.5, 1, 2, 4, 8, 16])
    exact = np.array([race.instant_act + race.act[race.times <= x].sum() for x in t])
    np.testing.assert_allclose(chain.cdf(t, chains.ACT), exact, atol=0.05)


def test_market_sizes_are_those_the_simulation_draws() -> None:
    """The twin's company sizes are the values the DES's histogram can take, and its bins
    hold every company."""
    dist = scenario()["market.team_size"]
    sizes, pmf = market.size_histogram(dist)
    values, counts = _size_histogram(dist, 1_000_000, np.random.default_rng(1))
    assert set(values[counts > 0]) <= set(sizes.astype(int))
    assert pmf.sum() == pytest.approx(1.0)
    bins = market.size_bins(sizes, pmf)
    assert bins[0][0] == 1 and bins[-1][1] == math.inf


def test_mechanisms_name_approximations_and_what_is_not_represented() -> None:
    names = {m.name for m in mf.MECHANISMS}
    assert {"market", "onboarding delays", "seat limit", "usage limit", "trial length",
            "retention", "sales motions"} <= names
    assert all(m.status in (mf.EXACT, mf.APPROXIMATED, mf.NOT_REPRESENTED)
               for m in mf.MECHANISMS)
    notes = {name for _, name, _ in mf.mechanism_notes(scenario())}
    assert {"usage limit", "seat limit"} <= notes and "trial length" not in notes
    assert "trial length" in {name for _, name, _ in mf.mechanism_notes(scenario(base="trial"))}
    # sales: self-serve only, said once per cause
    assert mf.unsupported(scenario("sales.reps=0", "sales.pql_users=20")) == []
    sales = mf.unsupported(scenario("sales.reps=2", "sales.pql_users=20"))
    assert len(sales) == 1 and "sales.reps = 2" in sales[0] and "sales.pql_users" in sales[0]
    led = mf.unsupported(scenario('pricing.model="sales_led"', "sales.reps=2"))
    assert any('pricing.model = "sales_led"' in line for line in led)


# -- it approaches the simulation as populations grow ---------------------------------------------

def test_simulation_mean_converges_to_the_twin_as_the_market_grows() -> None:
    """Scale the market, organic contacts and paid budget by s = 1, 4, 16 in a world the
    twin carries exactly in the mean (EXACT).  The simulation's per-capita outcomes then
    tend to the twin's: their relative gap is Monte Carlo noise, ~ s^-1/2 / sqrt(reps),
    plus finite-size and daily-step effects of order 1/s and 1/1000 (within-day repeats,
    the word-of-mouth lag).

    Gap: the RMS over ten quantities (signups, activated, active users at the end and
    time-averaged, referral signups, invites sent, active users at days 30, 90, 180, 240)
    of (twin - mean of 8 replications) / twin.  Checked: (1) the gaps are noise, RMS of
    the z-scores (gap / the replications' own standard error) at most 2 at each scale;
    (2) the RMS gap falls like s^b with b within [-0.85, -0.25] (expected -1/2); (3) at
    s = 16 it is below 1%.  Measured: 1.55%, 0.90%, 0.46%, b = -0.44; RMS z 1.0 to 1.2.
    """
    reps, scales, gaps = 8, (1, 4, 16), []
    for s in scales:
        rel, se = convergence_gaps(s, reps)
        z = rel / se
        rms_z = math.sqrt(np.mean(np.square(z)))
        print(f"s={s}: RMS z {rms_z:.2f}")  # noqa: T201
        assert rms_z <= 2.0, f"s={s}: the gaps are more than noise (RMS z = {rms_z:.2f})"
        gaps.append(math.sqrt(np.mean(np.square(rel))))
    b = np.polyfit(np.log(scales), np.log(gaps), 1)[0]
    print(f"RMS gaps {[round(g, 5) for g in gaps]}, falling like s^{b:.2f}")  # noqa: T201
    assert -0.85 <= b <= -0.25, f"RMS gaps {gaps} fall like s^{b:.2f}, expected ~s^-0.5"
    assert gaps[-1] < 0.01, f"RMS gap at s=16: {gaps[-1]:.4f}, expected < 1%"


def test_gap_on_the_shipped_baseline_is_reported(baseline: Measures,
                                                  record_property: pytest.RecordProperty
                                                  ) -> None:
    """Not a tolerance test: the baseline's headline gaps against 6 replications, recorded
    (pytest -rA shows them; docs/model.md tabulates 20).  Held only loosely, to 10%: the
    twin approximates team-level mechanisms here (MECHANISMS)."""
    des = simulate(scenario(), replications=6, jobs=2)
    lines = []
    for name in (n for n in HEADLINE if n not in baseline.unavailable):
        mean = des.mean_ci(name)[0]
        gap = (baseline.metrics[name] - mean) / mean
        record_property(f"gap_{name}", round(gap, 4))
        lines.append(f"{name}: twin {baseline.metrics[name]:.4g}, DES {mean:.4g} ({gap:+.1%})")
        assert abs(gap) < 0.10, lines[-1]
    print("\n".join(lines))  # noqa: T201


def test_runtime_is_measured_not_asserted(record_property: pytest.RecordProperty) -> None:
    """Benchmarks live in bench/bench_meanfield.py; here the time is only recorded."""
    sc = scenario()
    start = time.perf_counter()
    r = mf.solve(sc)
    record_property("solve_seconds", round(time.perf_counter() - start, 3))
    record_property("evaluations", r.evaluations)
    assert r.seconds > 0 and r.state_size > 0


# -- results, reports and the command line ------------------------------------------------------

def test_simulate_gives_a_run_result_that_writes_a_results_folder(tmp_path: Path) -> None:
    sc = scenario(base="trial")
    result = simulate_twin(sc, horizon=120)
    assert isinstance(result, RunResult) and result.engine == "meanfield" and result.n == 1
    assert result.horizon == 120 and result.scenario["simulation.horizon"] == 120
    summary = result.summary()
    assert summary["engine"] == "meanfield" and summary["replications"] == 1
    lo, hi = summary["metrics"]["signups"]["ci95"]
    assert math.isnan(lo) and math.isnan(hi)
    out = write_results(result, tmp_path / "twin")
    data = json.loads((out / "summary.json").read_text())
    assert data["engine"] == "meanfield" and data["metrics"]["signups"]["ci95"] == [None, None]
    html = (out / "report.html").read_text()
    assert "mean-field twin" in html and "trial length" in html
    assert "mean over Monte Carlo replications" not in html
    assert (out / "cohorts.csv").read_text().count("\n") > 10


def test_cli_run_with_the_twin_warns_about_sales_and_refuses_replications(cwd: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["run", "--engine", "meanfield", "--set", "sales.reps=2",
                               "--out", "twin", "--horizon", "90d"])
    assert res.exit_code == 0, res.output
    assert "warning: the mean-field twin does not represent sales.reps = 2" in res.stderr
    assert "Engine: mean-field twin" in res.stdout and "Signups" in res.stdout
    assert json.loads(Path("twin/summary.json").read_text())["engine"] == "meanfield"
    res = runner.invoke(main, ["run", "--engine", "meanfield", "-n", "3"])
    assert res.exit_code == 2 and "only with --engine des" in res.output


def test_cli_validate_lists_what_the_twin_approximates() -> None:
    res = CliRunner().invoke(main, ["validate", "trial"])
    assert res.exit_code == 0, res.output
    assert "# The mean-field twin (flywheel run --engine meanfield) on this scenario:" in res.output
    assert "#   approximated: trial length:" in res.output
