"""The workload estimate (flywheel.studies.workload): honest against measured runs, cheap, and
refusing runs too large to start unasked.

Tolerances, stated once: for every shipped scenario at its own horizon, one replication's
measured signups lie within a factor of 3 of the estimate (never below a third, never above
three times), and its measured contacts within a factor of 1.5.  When written, the
estimates were within 1.0-1.8x of measured signups and 1.0-1.12x of measured contacts
(the estimate runs high where seat limits and paywalls hold teams back).
"""

from __future__ import annotations

import math
import time

import pytest

from flywheel.engines.model import Model
from flywheel.engines.rng import replication_seeds
from flywheel.metrics import replication_metrics
from flywheel.scenario.files import list_scenarios, load_scenario
from flywheel.studies.workload import (
    LARGE_SECONDS,
    LIMIT_MEMORY,
    LIMIT_SECONDS,
    Estimate,
    WorkloadError,
    check,
    estimate,
)

SHIPPED = [name for name, _, _ in list_scenarios()]
SIGNUP_FACTOR = 3.0
CONTACT_FACTOR = 1.5

#: Runs that must be refused at 20 replications on 2 jobs (the baseline otherwise).
TOO_LARGE = ["acquisition.organic=1e9/week", "acquisition.referral=1e9/day",
             "acquisition.paid_budget=1e9/week"]


def test_shipped_scenarios_are_found() -> None:
    assert "baseline" in SHIPPED and "sales-led" in SHIPPED
    assert not any(name.startswith("compare-") for name in SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_estimate_within_tolerance_of_measured_run(name: str) -> None:
    """One replication at the scenario's own horizon (0.1-0.8 s each)."""
    sc = load_scenario(name)
    seq = replication_seeds(int(sc["simulation.seed"]), 1)[0]
    outcome = Model(dict(sc.values), seq).run()
    signups = replication_metrics(outcome)["signups"]
    contacts = outcome.counters["contacts"]
    est = estimate(sc)
    assert signups / SIGNUP_FACTOR <= est.signups <= signups * SIGNUP_FACTOR, (
        f"{name}: estimated {est.signups:.0f} signups, measured {signups:.0f}")
    assert contacts / CONTACT_FACTOR <= est.contacts <= contacts * CONTACT_FACTOR, (
        f"{name}: estimated {est.contacts:.0f} contacts, measured {contacts:.0f}")
    assert est.peak_day_contacts >= 1
    assert est.memory_bytes > 0 and est.seconds > 0


def test_estimate_is_cheap() -> None:
    """Closed form: milliseconds at most, whatever the scenario's size."""
    sc = load_scenario("baseline", ["acquisition.organic=1e9/week"])
    estimate(sc)
    t0 = time.perf_counter()
    for _ in range(20):
        estimate(sc)
    assert (time.perf_counter() - t0) / 20 < 0.02


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_are_not_refused(name: str) -> None:
    sc = load_scenario(name)
    est = check(sc, replications=20, jobs=2)
    assert isinstance(est, Estimate)
    assert est.memory_bytes <= LIMIT_MEMORY
    assert est.total_seconds(20, 2) <= LIMIT_SECONDS


@pytest.mark.parametrize("override", TOO_LARGE)
def test_too_large_runs_are_refused(override: str) -> None:
    sc = load_scenario("baseline", [override])
    with pytest.raises(WorkloadError) as info:
        check(sc, replications=20, jobs=2)
    message = str(info.value)
    assert "\n" not in message
    assert "pass --allow-large to run it anyway" in message
    assert "limit" in message and "signups" in message and "contacts" in message
    est = check(sc, replications=20, jobs=2, allow_large=True)
    assert est.memory_bytes > LIMIT_MEMORY or est.total_seconds(20, 2) > LIMIT_SECONDS


def test_refusal_names_the_limit_exceeded() -> None:
    organic = load_scenario("baseline", ["acquisition.organic=1e9/week"])
    with pytest.raises(WorkloadError, match="memory per worker over"):
        check(organic, 20, 2)
    paid = load_scenario("baseline", ["acquisition.paid_budget=1e9/week"])
    with pytest.raises(WorkloadError, match="time over") as info:
        check(paid, 20, 2)
    assert "memory per worker over" not in str(info.value)
    # a short horizon makes the same spend small enough
    assert check(paid, 20, 2, horizon=3.0).total_seconds(20, 2) < LIMIT_SECONDS


@pytest.mark.parametrize(("override", "named"), [
    ("acquisition.organic=1e9/week", '--set: acquisition.organic = "1e9/week": the run is too large'),
    ("acquisition.referral=1e9/day", '--set: acquisition.referral = "1e9/day": the run is too large'),
    ("acquisition.paid_budget=1e9/week",
     '--set: acquisition.paid_budget = "1e9/week": the run is too large'),
])
def test_refusal_names_the_parameter_behind_the_work(override: str, named: str) -> None:
    """The refusal starts as every bad-input line does: where, which key, which value."""
    with pytest.raises(WorkloadError) as info:
        check(load_scenario("baseline", [override]), 20, 2)
    assert str(info.value).startswith(named), str(info.value)
    assert str(info.value).endswith("pass --allow-large to run it anyway")


def test_workload_error_is_a_value_error() -> None:
    assert issubclass(WorkloadError, ValueError)


def test_limits_are_sane() -> None:
    assert 0 < LIMIT_MEMORY <= 4 * 2**30
    assert 0 < LARGE_SECONDS < LIMIT_SECONDS


def test_busiest_day_follows_the_contact_rate() -> None:
    """1e9 a week is ~1.43e8 contacts a day, every day: the arrays of one day."""
    est = estimate(load_scenario("baseline", ["acquisition.organic=1e9/week"]))
    assert est.peak_day_contacts == pytest.approx(1e9 / 7, rel=0.01)
    assert est.contacts == pytest.approx(1e9 / 7 * 365.25, rel=0.01)


def test_organic_growth_is_integrated() -> None:
    """5% a month for a year: 12 ((1.05^12 - 1) / ln 1.05) months of the starting rate."""
    base = load_scenario("baseline", ["acquisition.paid_budget=0/month",
                                      "acquisition.referral=0/month"])
    grown = base.with_overrides({"acquisition.organic_growth": 0.05})
    month = 365.25 / 12
    rate = float(base["acquisition.organic"])
    expected = rate * month * (1.05**12 - 1) / math.log(1.05)
    assert estimate(grown).contacts == pytest.approx(expected, rel=1e-6)
    assert estimate(grown).peak_day_contacts > estimate(base).peak_day_contacts


def test_horizon_override_scales_the_work() -> None:
    sc = load_scenario("baseline")
    short, full = estimate(sc, horizon=30.0), estimate(sc)
    assert short.contacts < full.contacts / 5
    assert short.seconds < full.seconds


def test_total_seconds_spreads_replications_over_jobs() -> None:
    est = Estimate(signups=1e6, contacts=3e6, peak_day_contacts=1e4, memory_bytes=2**30,
                   seconds=12.0)
    assert est.total_seconds(20, 2) == pytest.approx(120.0)
    assert est.total_seconds(21, 2) == pytest.approx(132.0)
    assert est.total_seconds(3, 8) == pytest.approx(12.0)  # more jobs than replications
    assert est.total_seconds(5, 1) == pytest.approx(60.0)


def test_describe_is_one_readable_line() -> None:
    est = Estimate(signups=1.2e6, contacts=3.4e6, peak_day_contacts=1e4,
                   memory_bytes=1.1 * 2**30, seconds=24.0)
    line = est.describe(20, 2)
    assert line == ("~1.2M signups and ~3.4M contacts per replication, ~1.1 GiB peak memory "
                    "per worker, ~4 min in all on 2 jobs")
    assert "on 1 job" in est.describe(1, 4) and "jobs" not in est.describe(1, 4)
