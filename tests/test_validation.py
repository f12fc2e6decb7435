"""The validation suite: each closed-form check passes on its own set-up and fails when the
model is made wrong; the Euler–Lotka solver against cases with a closed form; the
published ranges; the CLI's results folder; docs/validation.md lists every check.

Replication counts here are smaller than the suite's (to keep the file fast); every
check's tolerance is computed for the count it runs with (standard errors under the
analytic variance, or a stated allowance), so the same assertions hold.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from flywheel.metrics import METRICS
from flywheel.outputs import plots, report
from flywheel.outputs import validation_report as vr
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.distributions import parse_distribution
from flywheel.scenario.files import load_scenario
from flywheel.studies import validation as v
from flywheel.studies.runner import simulate

REPO = Path(__file__).resolve().parents[1]

#: Replications each check runs with in these tests (the suite uses more).
SMALL = {"bass": 4, "branching": 3, "euler_lotka": 4, "constant_hazard": 3, "steady_state": 3,
         "erlang_c": 4, "erlang_a": 2, "willingness_to_pay": 2}

#: A deliberate error in the simulated model (the analytic value keeps the check's own
#: set-up): each must push the simulated value well outside the tolerance.
WRONG = {
    "bass": "acquisition.referral=0.025/day",  # q 25% higher: the S-curve comes earlier
    "branching": "collaboration.acceptance=0.55",  # K = 0.66: N/(1-K) = 14,706, not 12,500
    "euler_lotka": "collaboration.invite_delay.median=2.6d",  # longer generations, lower r
    "constant_hazard": "retention.tenure_shape=0.8",  # Weibull: same month 1, flatter later
    "steady_state": "retention.churn_monthly=0.34",  # A/λ' = 3,622, not 4,199
    "erlang_c": "sales.cold_cycle.mean=1.35d",  # ρ = 0.9: W_q = 3.3 days, not 1.29
    "erlang_a": "sales.patience.mean=1d",  # impatient leads: 17.5% go cold, not 12.9%
    # a higher median (p90 kept): 86% value a seat at $15, not 77%
    "willingness_to_pay": "pricing.willingness_to_pay.median=36",
}


def duration(table: dict) -> object:
    return parse_distribution(table, "duration")


@functools.cache
def small_run(name: str, wrong: bool = False) -> v.CheckResult:
    return v.run_check(name, replications=SMALL.get(name), perturb=(WRONG[name],) if wrong else (),
                       jobs=2)


# -- the Euler–Lotka solver -------------------------------------------------------------------


@pytest.mark.parametrize(("K", "T"), [(1.5, 3.0), (2.0, 1.0), (4.0, 10.0)])
def test_euler_lotka_exponential_generation_interval(K: float, T: float) -> None:
    """Exponential g with mean T: L(r) = 1/(1 + rT), so r = (K − 1)/T."""
    r = v.euler_lotka_rate(K, duration({"dist": "exponential", "mean": f"{T}d"}))
    assert r == pytest.approx((K - 1) / T, rel=1e-7)


@pytest.mark.parametrize(("K", "T"), [(1.5, 3.0), (2.0, 1.0), (4.0, 10.0)])
def test_euler_lotka_fixed_generation_interval(K: float, T: float) -> None:
    """Fixed delay T: L(r) = e^{−rT}, so r = ln K / T."""
    r = v.euler_lotka_rate(K, duration({"dist": "fixed", "value": f"{T}d"}))
    assert r == pytest.approx(math.log(K) / T, rel=1e-7)


def test_euler_lotka_gamma_and_sums() -> None:
    """Gamma(k, θ): L(r) = (1 + rθ)^{−k}, so r = (K^{1/k} − 1)/θ; a fixed part adds to τ
    (two fixed parts of 1 and 2 days act as one of 3), and the order of parts is free."""
    g = duration({"dist": "gamma", "mean": "4d", "cv": 0.5})  # k = 4, θ = 1 day
    assert v.euler_lotka_rate(3.0, g) == pytest.approx(3.0 ** (1 / 4) - 1, rel=1e-7)
    one, two = duration({"dist": "fixed", "value": "1d"}), duration({"dist": "fixed", "value": "2d"})
    assert v.euler_lotka_rate(2.0, one, two) == pytest.approx(math.log(2) / 3, rel=1e-7)
    e = duration({"dist": "exponential", "mean": "2d"})
    assert v.euler_lotka_rate(2.0, e, one) == pytest.approx(v.euler_lotka_rate(2.0, one, e))
    with pytest.raises(ValueError, match="above 1"):
        v.euler_lotka_rate(0.8, e)


def test_laplace_transform_of_a_lognormal_matches_its_moments_near_zero() -> None:
    """E[e^{−sX}] ≈ 1 − s·E[X] for small s, and an exponential's is 1/(1 + s·mean)."""
    ln = duration({"dist": "lognormal", "median": "2d", "p90": "8d"})
    s = 1e-4
    assert v.laplace_transform(ln, s) == pytest.approx(1 - s * ln.mean(), abs=1e-6)
    ex = duration({"dist": "exponential", "mean": "3d"})
    assert v.laplace_transform(ex, 0.2) == pytest.approx(1 / (1 + 0.2 * 3), rel=1e-8)


def test_renewal_curve_grows_at_the_euler_lotka_rate() -> None:
    """The expected-signups curve (renewal equation) has log slope → r: within 0.3% over
    days 20–50 for K = 1.5 with the suite's long-tailed invite delay."""
    delay = duration({"dist": "lognormal", "median": "2d", "p90": "8d"})
    ttv = duration({"dist": "lognormal", "median": "1d", "p90": "3d"})
    r = v.euler_lotka_rate(1.5, delay, ttv.scaled(0.5))
    x, cum = v.expected_signups(1.5, delay, ttv.scaled(0.5), ttv, founders=10, horizon=50)
    days = np.arange(20, 51)
    daily = np.diff(np.interp(days, x, cum))
    slope = np.polyfit(days[1:], np.log(daily), 1)[0]
    assert slope == pytest.approx(r, rel=0.003)


def test_bass_and_branching_closed_forms() -> None:
    """F(t*) = (q − p)/(2q) at the inflection; the branching mean tends to 1/(1 − K)."""
    p, q = 0.001, 0.02
    assert v.bass_share(math.log(q / p) / (p + q), p, q) == pytest.approx((q - p) / (2 * q))
    assert v.branching_mean(np.array([200.0]), 0.6, 1.0)[0] == pytest.approx(2.5, rel=1e-9)
    # the daily step of word of mouth lags the continuous curve, by under 0.007 here
    x = np.arange(301.0)
    lag = np.max(np.abs(v.bass_daily_step(300, p, q) - v.bass_share(x, p, q)))
    assert 0.003 < lag < 0.007


# -- each check passes on its own set-up, and fails when the model is wrong ------------------


@pytest.mark.parametrize("name", list(v.CHECKS))
def test_check_passes_on_its_own_settings(name: str) -> None:
    res = small_run(name)
    assert abs(res.mean - res.analytic) <= res.tolerance, (
        f"{name}: simulated {res.mean:.6g} vs analytic {res.analytic:.6g}, tolerance "
        f"{res.tolerance:.4g}")
    assert res.passed
    if res.curve is not None and res.curve.tolerance is not None:
        assert res.curve.max_deviation <= float(np.max(res.curve.tolerance))


@pytest.mark.parametrize("name", list(WRONG))
def test_check_fails_when_the_model_is_wrong(name: str) -> None:
    right, wrong = small_run(name), small_run(name, wrong=True)
    assert wrong.analytic == pytest.approx(right.analytic)  # the closed form is unchanged
    assert not wrong.passed
    assert abs(wrong.mean - wrong.analytic) > 2 * wrong.tolerance, (
        f"{name} with {WRONG[name]}: simulated {wrong.mean:.6g} vs analytic "
        f"{wrong.analytic:.6g}, tolerance {wrong.tolerance:.4g}")
    assert wrong.perturb == [WRONG[name]]


def test_every_check_has_a_deliberate_error() -> None:
    """A new check comes with a way to show it can fail: add it to WRONG (and SMALL)."""
    missing = set(v.CHECKS) - set(WRONG)
    assert not missing, f"add a deliberate model error for {sorted(missing)} to WRONG"


def test_steady_state_is_a_over_lambda_not_a_over_c() -> None:
    """The model churns in continuous time: fed the month-step value A/c as the analytic
    value, the steady-state check fails; A/λ passes."""
    res = small_run("steady_state")
    A, c = 1500.0, 0.30
    lam = -math.log(1 - c)
    assert res.analytic == pytest.approx(A / lam * (1 - math.exp(-lam * 548 / DAYS_PER_MONTH)))
    assert not replace(res, analytic=A / c).passed
    assert res.passed


def test_a_wrong_analytic_value_fails_every_check() -> None:
    for name in SMALL:
        res = small_run(name)
        assert not replace(res, analytic=res.analytic + 3 * res.tolerance).passed, name


def test_same_numbers_for_any_number_of_workers() -> None:
    one = v.run_check("constant_hazard", replications=2, jobs=1)
    two = v.run_check("constant_hazard", replications=2, jobs=2)
    assert one.values == two.values
    np.testing.assert_array_equal(one.curve.mean, two.curve.mean)


# -- the registry --------------------------------------------------------------------------


@pytest.fixture()
def toy_check():  # noqa: ANN201
    """A check registered for one test (a fixed measurement, no simulation)."""

    @v.check("toy", title="Toy", mechanism="nothing", closed_form="x = 1", citation="none",
             replications=3)
    def toy(ctx: v.Context) -> v.Measurement:
        return v.Measurement(quantity="x", unit="", analytic=1.0, values=[0.5, 0.6, 0.7],
                             tolerance=0.1, tolerance_note="any", setup="none")

    yield toy
    del v.CHECKS["toy"]


def test_adding_a_check_is_one_decorated_function(toy_check) -> None:  # noqa: ANN001
    res = v.run_check("toy")
    assert res.title == "Toy" and res.replications == 3
    assert res.mean == pytest.approx(0.6) and not res.passed  # |0.6 − 1| > 0.1
    suite = v.run_suite(["toy"], jobs=1)
    assert not suite.passed
    assert "### Toy" in vr.suite_markdown(suite)
    with pytest.raises(ValueError, match="already exists"):
        v.check("toy", title="", mechanism="", closed_form="", citation="", replications=1)(
            toy_check)


def test_unknown_check_is_named() -> None:
    with pytest.raises(KeyError, match="nope"):
        v.run_suite(["nope"], jobs=1)


# -- published ranges ----------------------------------------------------------------------


def test_published_bands_are_well_formed() -> None:
    for b in v.PUBLISHED:
        assert b.metric in METRICS, b
        load_scenario(b.scenario)
        if b.relative_to:
            load_scenario(b.relative_to)
        assert b.low < b.high and b.source and b.published, b


@pytest.mark.parametrize(("mean", "lo", "hi", "status"), [
    (0.30, 0.29, 0.31, "inside"), (0.36, 0.35, 0.38, "edge"), (0.40, 0.38, 0.42, "outside"),
    (0.20, 0.18, 0.22, "outside"), (0.30, math.nan, math.nan, "inside"),
])
def test_band_status(mean: float, lo: float, hi: float, status: str) -> None:
    band = v.PUBLISHED[0]  # activation, 25-37%
    assert (band.low, band.high) == (0.25, 0.37)
    assert v.BandResult(band, mean, lo, hi, 2, 1).status == status


def test_measure_bands_runs_the_named_scenario() -> None:
    trial = [b for b in v.PUBLISHED if b.scenario == "trial" and not b.relative_to]
    (res,) = v.measure_bands(replications=2, seed=1, jobs=1, bands=trial)
    assert 0 < res.mean < 1 and res.lo <= res.mean <= res.hi
    assert res.status in ("inside", "edge", "outside")
    fig = plots.validation_bands([res])
    assert len(fig.axes) == 1


def test_a_ratio_band_is_the_paired_ratio_of_two_scenarios() -> None:
    """A band relative to a second scenario measures, replication by replication, the
    metric's ratio between the two runs (same seed): its mean is the mean of those ratios;
    the rows print it as a ratio and name both scenarios."""
    band = next(b for b in v.PUBLISHED if b.relative_to == "card-trial")
    (res,) = v.measure_bands(replications=3, seed=1, jobs=1, bands=[band])
    top = simulate(load_scenario(band.scenario), replications=3, seed=1, jobs=1)
    bottom = simulate(load_scenario(band.relative_to), replications=3, seed=1, jobs=1)
    ratios = np.array(top.values("signups")) / np.array(bottom.values("signups"))
    assert res.mean == pytest.approx(ratios.mean())
    assert res.lo < res.mean < res.hi
    row = vr.band_rows(v.Suite([], [res]))[0]
    assert row[1] == "trial ÷ card-trial" and row[2].endswith("×]") and row[3] == "≥ 1×"
    assert math.isinf(band.high) and res.status in ("inside", "edge", "outside")
    assert len(plots.validation_bands([res]).axes) == 1


# -- plots, report, folder, CLI ---------------------------------------------------------------


def test_plot_and_report_of_a_check() -> None:
    res = small_run("constant_hazard")
    fig = plots.validation_check(res)
    assert len(fig.axes) == 2
    html = report.validation_report(v.Suite([res], []))
    assert "data:image/png;base64," in html and "<script" not in html
    assert "http://" not in html and "https://" not in html
    assert "Constant-hazard retention" in html and "PASS" in html


def invoke(*args: str) -> Result:
    from flywheel.cli import main

    return CliRunner().invoke(main, list(args))


def test_cli_suite_writes_the_folder_and_refuses_to_overwrite(cwd: Path) -> None:
    args = ("validate", "--suite", "--check", "constant_hazard", "-j", "1", "-q", "--out", "val")
    first = invoke(*args)
    assert first.exit_code == 0, (first.output, first.exception)
    assert "Constant-hazard retention" in first.stdout and "PASS" in first.stdout
    files = {p.name for p in (cwd / "val").iterdir()}
    assert files == {"validation.md", "report.html", "constant_hazard.png", "checks.json",
                     ".flywheel.json"}
    data = json.loads((cwd / "val" / "checks.json").read_text())
    assert data["passed"] is True
    (chk,) = data["checks"]
    assert chk["name"] == "constant_hazard" and chk["passed"] is True
    assert abs(chk["mean"] - chk["analytic"]) <= chk["tolerance"]
    md = (cwd / "val" / "validation.md").read_text()
    assert "![Constant-hazard retention" in md and "(constant_hazard.png)" in md
    before = (cwd / "val" / "checks.json").read_bytes()
    again = invoke(*args)
    assert again.exit_code == 2
    assert "--force" in again.stderr and "Traceback" not in again.output
    assert (cwd / "val" / "checks.json").read_bytes() == before
    forced = invoke(*args, "--force")
    assert forced.exit_code == 0, (forced.output, forced.exception)
    assert [p.name for p in cwd.iterdir()] == ["val"]  # no temporary folder left behind


def test_cli_suite_exits_1_when_a_check_fails(cwd: Path, toy_check) -> None:  # noqa: ANN001
    result = invoke("validate", "--suite", "--check", "toy", "-j", "1", "-q", "--out", "val")
    assert result.exit_code == 1, (result.output, result.exception)
    assert "FAIL" in result.stdout
    assert json.loads((cwd / "val" / "checks.json").read_text())["passed"] is False


@pytest.mark.parametrize(("args", "fragment"), [
    ((), "--suite"),
    (("--suite", "baseline"), "not both"),
    (("baseline", "--out", "x"), "--out: only with --suite"),
    (("--suite", "--check", "nope"), "allowed: bass"),
])
def test_cli_validate_usage_errors(cwd: Path, args: tuple[str, ...], fragment: str) -> None:
    result = invoke("validate", *args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert fragment in result.output
    assert list(cwd.iterdir()) == []


def test_cli_validate_files_unchanged() -> None:
    result = invoke("validate", "baseline")
    assert result.exit_code == 0 and result.stdout.startswith("# baseline")


# -- docs/validation.md is current -------------------------------------------------------------


def test_docs_validation_lists_every_check_and_band() -> None:
    """Regenerate with `python -m flywheel.outputs.validation_report --docs` when this fails."""
    doc = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    assert vr.DOCS_COMMAND in doc
    for name, c in v.CHECKS.items():
        assert f"### {c.title}" in doc, f"{name} missing: run {vr.DOCS_COMMAND}"
        assert f"(validation/{name}.png)" in doc
        assert (REPO / "docs" / "validation" / f"{name}.png").is_file()
    for b in v.PUBLISHED:
        assert f"| {METRICS[b.metric].label} | {b.where} |" in doc, b
        assert b.source in doc
    assert "Result: every closed-form check passes." in doc
