"""Tests for comparisons and sweeps: common random numbers, paired differences,
comparison files, sweep grids, and the ``compare`` and ``sweep`` commands."""

from __future__ import annotations

import fnmatch
import json
import math
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import PRICE_NEVER_BINDS, write
from scipy import stats

from flywheel.cli import main
from flywheel.metrics import HEADLINE, METRICS
from flywheel.outputs.files import _clean
from flywheel.scenario.files import ScenarioError, builtin_scenarios_dir, load_scenario
from flywheel.studies.comparisons import (
    Comparison,
    ComparisonSpec,
    Sweep,
    compare,
    lever_check,
    load_comparison,
    parameter_differences,
    parse_vary,
    split_values,
    sweep,
    welch_ci,
)
from flywheel.studies.runner import simulate

#: A market and horizon small enough that a replication takes about a tenth of a second.
SMALL = ["market.companies=2000", "simulation.horizon=90d"]
TINY_CLI = ["--replications", "3", "--jobs", "1", "--horizon", "60d",
            "--set", "market.companies=2000", "--quiet"]


@pytest.fixture(scope="module")
def small_change() -> Comparison:
    """The baseline against the baseline with a slightly faster time to value (2.5d -> 2d).
    12 replications: the ratio of the paired to the unpaired CI's width is itself noisy
    (over seeds 11-18 with 8 replications it ranges from about 0.3 to 0.95)."""
    base = load_scenario("baseline", SMALL)
    return compare([base, base.with_overrides({"onboarding.ttv.median": "2d"})],
                   replications=12, seed=11, jobs=1)


@pytest.fixture(scope="module")
def ttv() -> Comparison:
    """Slow (2 weeks) against fast (10 minutes) time to value, the shipped comparison."""
    return compare(["slow-ttv", "fast-ttv"], replications=8, seed=11, jobs=1, overrides=SMALL)


def width(ci: tuple[float, float, float]) -> float:
    return ci[2] - ci[1]


# -- common random numbers ---------------------------------------------------------------


@pytest.mark.parametrize("metric", ["activation_rate", "signups"])
def test_paired_ci_is_narrower_than_unpaired(small_change: Comparison, metric: str) -> None:
    # Why pairing wins: both scenarios run replication i from the i-th child of one
    # SeedSequence, and every mechanism draws from its own named stream, so replication i
    # of the two scenarios sees the same organic arrivals, the same companies and the same
    # patience draws; only the TTV draws are stretched.  Their metrics are strongly
    # positively correlated, and Var(B - A) = Var(A) + Var(B) - 2 Cov(A, B) is far below
    # the Var(A) + Var(B) that Welch's interval assumes for independent runs.
    paired = small_change.paired_diff(metric, 1)
    unpaired = small_change.unpaired_diff(metric, 1)
    assert paired[0] == pytest.approx(unpaired[0])  # no NaNs: same point estimate
    assert width(paired) < 0.6 * width(unpaired), (paired, unpaired)
    # and the paired interval resolves the small effect: it excludes zero
    assert paired[1] > 0, paired


def test_pairing_resolves_what_independent_runs_cannot(small_change: Comparison) -> None:
    # 2.5d -> 2d median TTV adds ~30 signups (more activated users invite more): the paired
    # interval sees it, Welch's interval on the same runs cannot tell it from zero.
    paired = small_change.paired_diff("signups", 1)
    unpaired = small_change.unpaired_diff("signups", 1)
    assert paired[1] > 0 and unpaired[1] < 0 < unpaired[2], (paired, unpaired)


def test_pairing_narrows_fast_vs_slow_ttv(ttv: Comparison) -> None:
    # Same reason: the market and the arrivals are shared; signups differ only through the
    # viral loop.  Teams (companies reached) are almost the same stream in both.
    for metric in ("signups", "teams"):
        assert width(ttv.paired_diff(metric, 1)) < 0.8 * width(ttv.unpaired_diff(metric, 1))


def test_paired_diff_is_mean_of_replication_differences(ttv: Comparison) -> None:
    for metric in ("activation_rate", "signups", "arr_end"):
        a = np.array(ttv.results[0].values(metric))
        b = np.array(ttv.results[1].values(metric))
        d = b - a
        mean, lo, hi = ttv.paired_diff(metric, 1)
        assert mean == pytest.approx(d.mean())
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        assert (lo, hi) == pytest.approx((d.mean() - half, d.mean() + half))
        assert ttv.paired_values(metric, 1) == pytest.approx(list(d))
    assert ttv.paired_diff("signups", 0) == (0.0, 0.0, 0.0)


def test_unpaired_diff_is_welch(ttv: Comparison) -> None:
    a = ttv.results[0].values("signups")
    b = ttv.results[1].values("signups")
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    mean, lo, hi = ttv.unpaired_diff("signups", 1)
    assert mean == pytest.approx(np.mean(b) - np.mean(a))
    assert (lo, hi) == pytest.approx((ci.low, ci.high))
    assert welch_ci([1.0, 1.0], [2.0, 2.0]) == (1.0, 1.0, 1.0)
    assert math.isnan(welch_ci([1.0], [2.0, 3.0])[1])


def test_paired_diff_skips_missing_pairs() -> None:
    # trial conversion is undefined (NaN) without trials: a pair needs both values
    from flywheel.studies.comparisons import paired_ci

    assert paired_ci([1.0, math.nan, 3.0], [2.0, 5.0, 5.0])[0] == pytest.approx(1.5)


def test_scenarios_share_the_seed(ttv: Comparison) -> None:
    assert ttv.seed == 11
    assert ttv.replications == 8
    for sc, res in zip(ttv.scenarios, ttv.results, strict=True):
        assert res.seed == 11 and res.n == 8
        # the resolved scenario pins what was run
        assert sc["simulation.seed"] == 11 and sc["simulation.replications"] == 8
    # and the reference is exactly what a plain run with that seed gives
    alone = simulate(ttv.scenarios[0], jobs=1)
    assert alone.values("signups") == ttv.results[0].values("signups")


def test_same_results_whatever_the_number_of_workers() -> None:
    # one process pool serves every scenario; replication i still uses the i-th seed child
    args = (["slow-ttv", "fast-ttv"],)
    kw = {"replications": 3, "seed": 8, "overrides": SMALL, "metrics": ["signups"]}
    one = compare(*args, jobs=1, **kw)
    two = compare(*args, jobs=2, **kw)
    for a, b in zip(one.results, two.results, strict=True):
        # assert_equal counts NaN (an undefined metric) as equal to NaN
        np.testing.assert_equal([r.metrics for r in a.replications],
                                [r.metrics for r in b.replications])


def test_parameter_differences(ttv: Comparison) -> None:
    diffs = ttv.parameter_differences()
    assert list(diffs) == ["onboarding.ttv"]
    assert [d["median"] for d in diffs["onboarding.ttv"]] == ["2w", "10min"]


def test_rows_and_summary(ttv: Comparison) -> None:
    rows = ttv.rows()
    assert len(rows) == len(HEADLINE) * 2
    assert set(rows[0]) == {"metric", "label", "unit", "scenario", "mean", "ci95_lo",
                            "ci95_hi", "diff", "diff_lo", "diff_hi"}
    ref, other = [r for r in rows if r["metric"] == "signups"]
    assert (ref["scenario"], other["scenario"]) == ("slow-ttv", "fast-ttv")
    assert math.isnan(ref["diff"])
    assert other["diff"] == pytest.approx(ttv.paired_diff("signups", 1)[0])
    assert other["label"] == METRICS["signups"].label
    summary = ttv.summary()
    text = json.dumps(_clean(summary), allow_nan=False)
    back = json.loads(text)
    assert back["reference"] == "slow-ttv" and back["seed"] == 11
    assert set(back["metrics"]) == set(METRICS)
    fast = back["metrics"]["activation_rate"]["scenarios"][1]
    assert fast["diff"]["mean"] == pytest.approx(ttv.paired_diff("activation_rate", 1)[0])
    assert len(fast["diff"]["values"]) == 8
    assert "ci95" in fast["diff_unpaired"]


def test_repeated_names_get_unique_labels() -> None:
    base = load_scenario("baseline", [*SMALL, PRICE_NEVER_BINDS])
    comp = compare([base, base.with_overrides({"pricing.price_per_seat": 30})],
                   replications=2, seed=1, jobs=1, metrics=["signups"])
    assert comp.labels == ["baseline", "baseline (2)"]
    assert [r["scenario"] for r in comp.rows()] == ["baseline", "baseline (2)"]
    # a price change reaches no random stream, and with a willingness to pay that never
    # binds no decision either: the signups are identical, pair by pair
    assert comp.paired_diff("signups", 1) == (0.0, 0.0, 0.0)


def test_overrides_apply_to_every_scenario() -> None:
    comp = compare(["baseline", load_scenario("fast-ttv")], replications=1, seed=3, jobs=1,
                   overrides=[*SMALL, "collaboration.acceptance=0"], metrics=["signups"])
    for sc in comp.scenarios:
        assert sc["collaboration.acceptance"] == 0.0
        assert sc["market.companies"] == 2000


def test_overrides_apply_to_a_loaded_comparison() -> None:
    comp = compare(load_comparison("compare-pricing"), replications=1, seed=3, jobs=1,
                   overrides=SMALL)
    assert [sc.name for sc in comp.scenarios] == ["freemium", "trial"]
    assert all(sc["market.companies"] == 2000 for sc in comp.scenarios)
    assert comp.name == "pricing" and comp.metrics == load_comparison("compare-pricing").metrics


def test_compare_checks_metrics_before_running() -> None:
    with pytest.raises(ScenarioError, match='did you mean "arr_end"'):
        compare(["baseline", "fast-ttv"], replications=1, jobs=1, metrics=["arr_ned"])


# -- comparison files --------------------------------------------------------------------


def test_shipped_comparison_files() -> None:
    ttv = load_comparison("compare-ttv")
    assert isinstance(ttv, ComparisonSpec)
    assert [s.name for s in ttv.scenarios] == ["slow-ttv", "fast-ttv"]
    assert ttv.name == "ttv" and ttv.question and "activation_rate" in ttv.metrics
    assert ttv.path == builtin_scenarios_dir() / "compare-ttv.toml"
    pricing = load_comparison(builtin_scenarios_dir() / "compare-pricing.toml")
    assert [s.name for s in pricing.scenarios] == ["freemium", "trial"]
    assert all(m in METRICS for m in pricing.metrics)


def test_every_shipped_comparison_differs_only_in_its_levers() -> None:
    """Each shipped comparison names the parameters its question varies, and its scenarios
    differ in nothing else: "They differ in" lists levers only, and nothing warns."""
    files = sorted(builtin_scenarios_dir().glob("compare-*.toml"))
    assert {f.stem for f in files} >= {"compare-ttv", "compare-pricing", "compare-motions",
                                       "compare-sales", "compare-staffing"}
    for path in files:
        spec = load_comparison(path)
        assert spec.levers, path.name
        diffs = parameter_differences(spec.scenarios)
        assert diffs, path.name
        for key in diffs:
            assert any(fnmatch.fnmatchcase(key, lever) for lever in spec.levers), (path.name, key)
        check = spec.lever_check()
        assert check.outside == () and not check.warning and check.text == "", path.name


#: The motion keys: what a go-to-market motion sets (compare-motions.toml).
MOTION_KEYS = ["pricing.*", "trial.*", "free_tier.*", "sales.*"]


def test_the_motions_meet_one_market() -> None:
    """compare-motions: freemium, opt-in trial, card trial, reverse trial, sales-assist and
    sales-led on one market, acquisition and horizon, differing in motion keys only."""
    spec = load_comparison("compare-motions")
    assert spec.name == "motions" and spec.levers == MOTION_KEYS
    assert [s.name for s in spec.scenarios] == ["plg-only", "plg-trial", "plg-card-trial",
                                                "plg-reverse-trial", "plg-sales-assist",
                                                "sales-led", "hybrid"]
    assert [(s["pricing.model"], s["trial.card_required"], s["sales.reps"] > 0)
            for s in spec.scenarios] == [
        ("freemium", False, False), ("trial", False, False), ("trial", True, False),
        ("reverse_trial", False, False), ("freemium", False, True), ("sales_led", False, True),
        ("freemium", False, True)]
    assert spec.scenarios[-1]["sales.enterprise_size"] > 0  # the hybrid
    motion = ("pricing.", "trial.", "free_tier.", "sales.")
    first = spec.scenarios[0]
    for sc in spec.scenarios[1:]:
        for path in first.differences(sc):
            assert path.startswith(motion), (sc.name, path)
    assert {s["simulation.horizon"] for s in spec.scenarios} == {2 * 365.25}
    assert {s["market.companies"] for s in spec.scenarios} == {8000}
    for metric in ("arr_end", "signups", "paying_teams", "contracts_won", "contract_value_mean",
                   "cac_blended", "ltv_cac"):
        assert metric in spec.metrics, metric


def test_lever_check_in_words() -> None:
    diffs = {"pricing.model": ["freemium", "trial"], "market.companies": [1, 2],
             "simulation.horizon": ["1y", "2y"]}
    named = lever_check(diffs, ["pricing.*", "trial.*"])
    assert named.outside == ("market.companies", "simulation.horizon") and named.warning
    assert named.line == (
        "Warning: these scenarios also differ in market.companies, simulation.horizon, outside "
        "the question's levers (pricing.*, trial.*): a difference in the results may come from "
        "them, not from the question's levers.")
    assert named.reminder == ("Warning: beyond the question's levers, the scenarios differ in 2 "
                              "parameters (market.companies, simulation.horizon); see above.")
    adhoc = lever_check(diffs, None)
    assert adhoc.warning and adhoc.outside == tuple(diffs)
    assert adhoc.line.startswith("Warning: no levers named, and these scenarios differ in 3 "
                                 "parameters: pricing.model, market.companies, simulation.horizon.")
    one = lever_check({"onboarding.ttv": [1, 2]}, None)
    assert not one.warning and one.line == ("Note: no levers named; the scenarios differ in "
                                            "onboarding.ttv only.")
    assert lever_check({"pricing.model": [1, 2]}, ["pricing.model"]).line == ""
    assert lever_check({}, None).line == ""


def test_comparison_file_paths_and_shipped_names(tmp_path: Path) -> None:
    write(tmp_path, "mine/cheap.toml",
          'extends = "../base.toml"\nname = "cheap"\n[pricing]\nprice_per_seat = 5\n')
    write(tmp_path, "base.toml", 'name = "base"\n')
    path = write(tmp_path, "compare-mine.toml",
                 'question = "Cheaper?"\nscenarios = ["base.toml", "mine/cheap.toml", '
                 '"fast-ttv", "slow-ttv.toml"]\n')
    spec = load_comparison(str(path), ["market.companies=500"])
    assert [s.name for s in spec.scenarios] == ["base", "cheap", "fast-ttv", "slow-ttv"]
    assert spec.name == "mine" and spec.question == "Cheaper?"
    assert spec.metrics == list(HEADLINE)
    assert all(s["market.companies"] == 500 for s in spec.scenarios)


@pytest.mark.parametrize(("text", "fragments"), [
    ('scenarios = ["baseline", "fast-ttv"]\nmetrics = ["activaton_rate"]\n',
     ["compare-bad.toml", "metrics", "activaton_rate", 'did you mean "activation_rate"']),
    ('scenarios = ["baseline", "fast-ttv"]\nmetrics = ["zzzzzz"]\n',
     ["compare-bad.toml", "metrics", "unknown metric", "arr_end"]),
    ('scenarios = ["baseline", "missing.toml"]\n',
     ["compare-bad.toml", "scenarios", "missing.toml", "not found"]),
    ('scenarios = ["baseline", "fast-ttv"]\nmetric = ["signups"]\n',
     ["compare-bad.toml", "metric", 'did you mean "metrics"']),
    ('scenarios = ["baseline"]\n', ["compare-bad.toml", "scenarios", "at least two"]),
    ('scenarios = "baseline"\n', ["compare-bad.toml", "scenarios", "expected a list"]),
    ('name = "x"\n[pricing]\nmodel = "trial"\n', ["compare-bad.toml", "not a comparison file"]),
    ('scenarios = ["baseline", "fast-ttv"]\nquestion = 3\n',
     ["compare-bad.toml", "question", "expected a string"]),
    ('scenarios = ["baseline", "fast-ttv"]\nlevers = "onboarding.ttv"\n',
     ["compare-bad.toml", "levers", "expected a list", 'e.g. levers = ["pricing.model"']),
    ('scenarios = ["baseline", "fast-ttv"]\nlevers = []\n',
     ["compare-bad.toml", "levers", "no levers", "leave the key out"]),
    ('scenarios = ["baseline", "fast-ttv"]\nlevers = [3]\n',
     ["compare-bad.toml", "levers", "expected a parameter path or pattern, got 3"]),
    ('scenarios = ["baseline", "fast-ttv"]\nlevers = ["pricng.*"]\n',
     ["compare-bad.toml", 'levers = "pricng.*"', "matches no parameter",
      'did you mean "pricing.*"']),
    ('scenarios = ["baseline", "fast-ttv"]\nlevers = ["onboarding.ttv.median"]\n',
     ["compare-bad.toml", 'levers = "onboarding.ttv.median"', 'did you mean "onboarding.ttv"']),
    ('scenarios = ["baseline", "fast-ttv"]\nlevers = ["zzzz"]\n',
     ["compare-bad.toml", 'levers = "zzzz"', "matches no parameter", "trial.*",
      "sections: simulation, market"]),
])
def test_comparison_file_errors(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, "compare-bad.toml", text)
    with pytest.raises(ScenarioError) as err:
        load_comparison(path)
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_error_inside_a_compared_scenario_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "broken.toml", '[collaboration]\nacceptance = 1.5\n')
    path = write(tmp_path, "compare-x.toml", 'scenarios = ["baseline", "broken.toml"]\n')
    with pytest.raises(ScenarioError, match=r"broken\.toml: collaboration\.acceptance"):
        load_comparison(path)


def test_compare_runs_a_comparison_file(tmp_path: Path) -> None:
    path = write(tmp_path, "compare-two.toml",
                 'name = "two"\nquestion = "Q?"\nscenarios = ["slow-ttv", "fast-ttv"]\n'
                 'metrics = ["activation_rate", "signups"]\n')
    comp = compare(str(path), replications=2, seed=5, jobs=1, overrides=SMALL)
    assert comp.name == "two" and comp.question == "Q?"
    assert comp.metrics == ["activation_rate", "signups"]
    assert [r["metric"] for r in comp.rows()] == ["activation_rate"] * 2 + ["signups"] * 2


# -- sweeps ------------------------------------------------------------------------------


def test_split_values() -> None:
    assert split_values("5min,1h, 1d") == ["5min", "1h", "1d"]
    assert split_values('{ median = "1h", p90 = "4h" },{ median = "2d", p90 = "9d" }') == [
        '{ median = "1h", p90 = "4h" }', '{ median = "2d", p90 = "9d" }']
    assert split_values('"a,b",c') == ['"a,b"', "c"]
    assert split_values("[1, 2],3") == ["[1, 2]", "3"]
    for bad in ("1h,,2h", "{ median = 1", '"open', "a}"):
        with pytest.raises(ScenarioError, match="--vary"):
            split_values(bad)


def test_parse_vary() -> None:
    assert parse_vary("onboarding.ttv.median=5min,1h") == ("onboarding.ttv.median",
                                                            ["5min", "1h"])
    assert parse_vary("collaboration.acceptance=0.1,0.3") == ("collaboration.acceptance",
                                                               [0.1, 0.3])
    key, values = parse_vary('onboarding.ttv={ median = "1h", p90 = "4h" },{ median = "1d" }')
    assert key == "onboarding.ttv" and values == [{"median": "1h", "p90": "4h"},
                                                  {"median": "1d"}]
    with pytest.raises(ScenarioError, match='--vary: onboardng.ttv: unknown key .*"onboarding'):
        parse_vary("onboardng.ttv=1h")
    with pytest.raises(ScenarioError, match="KEY.PATH=V1,V2"):
        parse_vary("onboarding.ttv.median")


def test_sweep_grid_1d() -> None:
    result = sweep("baseline", [("pricing.price_per_seat", [10, 20, 40])], replications=2,
                   seed=2, jobs=1, overrides=[*SMALL, PRICE_NEVER_BINDS])
    assert isinstance(result, Sweep)
    assert result.shape == (3,)
    assert result.points == [{"pricing.price_per_seat": v} for v in (10, 20, 40)]
    assert [r.scenario["pricing.price_per_seat"] for r in result.results] == [10, 20, 40]
    assert all(r.seed == 2 and r.n == 2 for r in result.results)
    rows = result.rows()
    assert len(rows) == 3 * len(HEADLINE)
    assert set(rows[0]) == {"point", "pricing.price_per_seat", "metric", "label", "unit",
                            "mean", "ci95_lo", "ci95_hi"}
    # price reaches no random stream (same seed), and with a willingness to pay that never
    # binds no decision: signups are equal, MRR scales with price (test_pricing.py: when it
    # binds, demand falls)
    signups = result.grid("signups")
    assert signups[0] == signups[1] == signups[2]
    mrr = result.grid("mrr_end")
    assert mrr[1] == pytest.approx(2 * mrr[0]) and mrr[2] == pytest.approx(4 * mrr[0])


def test_sweep_grid_2d() -> None:
    result = sweep(load_scenario("baseline", SMALL),
                   [("onboarding.ttv.median", ["1h", "1d"]),
                    ("collaboration.acceptance", [0.1, 0.2, 0.4])],
                   replications=1, seed=2, jobs=1, metrics=["signups", "activation_rate"])
    assert result.shape == (2, 3)
    assert len(result.points) == len(result.results) == 6
    # row-major: the last axis moves fastest
    assert result.points[1] == {"onboarding.ttv.median": "1h", "collaboration.acceptance": 0.2}
    assert result.points[3] == {"onboarding.ttv.median": "1d", "collaboration.acceptance": 0.1}
    assert result.grid("signups").shape == (2, 3)
    assert len(result.rows()) == 6 * 2
    assert result.axis_numbers("onboarding.ttv.median") == pytest.approx([1 / 24, 1.0])
    assert result.axis_numbers("collaboration.acceptance") == pytest.approx([0.1, 0.2, 0.4])
    summary = result.summary()
    assert summary["shape"] == [2, 3] and len(summary["points"]) == 6
    # more accepted invites, more signups, at either TTV
    grid = result.grid("signups")
    assert (np.diff(grid, axis=1) > 0).all(), grid


def test_sweep_values_reach_the_model() -> None:
    # A longer time to value loses more users to their patience: activation falls, and
    # the measured TTV of those who stay rises; with CRN the steps are far beyond noise.
    result = sweep("baseline", [("onboarding.ttv.median", ["1h", "1d", "1w"])],
                   replications=6, seed=4, jobs=1, overrides=SMALL)
    act = [r.mean_ci("activation_rate") for r in result.results]
    for (_, lo_prev, _), (_, _, hi_next) in zip(act[:-1], act[1:], strict=True):
        assert hi_next < lo_prev, act  # separated confidence intervals, decreasing
    ttv = [r.mean_ci("ttv_median_days")[0] for r in result.results]
    assert ttv[0] < ttv[1] < ttv[2], ttv


def test_sweep_errors_before_running() -> None:
    calls: list[int] = []
    with pytest.raises(ScenarioError) as err:
        sweep("baseline", [("onboarding.ttv.median", ["1h", "2w"])], progress=calls.append,
              jobs=1)
    text = str(err.value)
    assert text.startswith("--vary: onboarding.ttv") and "p90" in text
    assert "vary the whole distribution" in text
    assert calls == []  # nothing ran
    with pytest.raises(ScenarioError, match="one or two"):
        sweep("baseline", [("market.companies", [1]), ("pricing.price_per_seat", [1]),
                           ("collaboration.acceptance", [0.1])])
    with pytest.raises(ScenarioError, match="same seed"):
        sweep("baseline", [("simulation.seed", [1, 2])])
    with pytest.raises(ScenarioError, match="varied twice"):
        sweep("baseline", [("market.companies", [1]), ("market.companies", [2])])
    with pytest.raises(ScenarioError, match=r"--vary: collaboration\.acceptance = 1\.5"):
        sweep("baseline", [("collaboration.acceptance", [0.5, 1.5])])


# -- the commands ------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_user_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_cli_compare_writes_and_refuses_to_overwrite(cwd: Path) -> None:
    result = invoke("compare", "slow-ttv", "fast-ttv", *TINY_CLI, "--seed", "9", "--out", "cmp")
    assert result.exit_code == 0, (result.output, result.exception)
    out = cwd / "cmp"
    assert {p.name for p in out.iterdir()} >= {"summary.json", "comparison.csv",
                                               "scenario-0-slow-ttv.toml",
                                               "scenario-1-fast-ttv.toml", "report.html",
                                               "overlay.png"}
    assert "Results in cmp/" in result.stdout
    assert "Signup-to-activation rate" in result.stdout and "vs slow-ttv" in result.stdout
    assert "onboarding.ttv" in result.stdout  # what differs is shown
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 9 and summary["replications"] == 3
    assert [s["name"] for s in summary["scenarios"]] == ["slow-ttv", "fast-ttv"]
    header = (out / "comparison.csv").read_text().splitlines()[0]
    assert header == "metric,label,unit,scenario,mean,ci95_lo,ci95_hi,diff,diff_lo,diff_hi"
    # each resolved scenario reproduces its part of the comparison
    resolved = load_scenario(out / "scenario-1-fast-ttv.toml")
    assert resolved["simulation.seed"] == 9 and resolved["market.companies"] == 2000
    rerun = simulate(resolved, jobs=1)
    assert rerun.values("signups") == summary["metrics"]["signups"]["scenarios"][1]["values"]
    tomllib.loads((out / "scenario-0-slow-ttv.toml").read_text())

    before = (out / "summary.json").read_text()
    again = invoke("compare", "slow-ttv", "fast-ttv", *TINY_CLI, "--seed", "10", "--out", "cmp")
    assert_user_error(again, "cmp", "already exists", "--force")
    assert (out / "summary.json").read_text() == before
    forced = invoke("compare", "slow-ttv", "fast-ttv", *TINY_CLI, "--seed", "10", "--out", "cmp",
                    "--force")
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "summary.json").read_text())["seed"] == 10
    assert not [p for p in cwd.iterdir() if p.name.startswith(".")]  # no leftovers
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # as the umask allows, not mkdtemp's 0700


def test_cli_compare_runs_a_comparison_file(cwd: Path) -> None:
    result = invoke("compare", str(builtin_scenarios_dir() / "compare-ttv.toml"), *TINY_CLI)
    assert result.exit_code == 0, (result.output, result.exception)
    (out,) = (cwd / "results").iterdir()
    assert out.name.startswith("compare-ttv-")
    assert "Question: " in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    spec = load_comparison("compare-ttv")
    assert summary["shown_metrics"] == spec.metrics
    assert summary["question"] == spec.question
    assert {r.split(",")[0] for r in (out / "comparison.csv").read_text().splitlines()[1:]} == \
        set(spec.metrics)


def test_cli_compare_warns_of_differences_beyond_the_levers(cwd: Path) -> None:
    """A comparison file whose scenarios differ outside its levers says so in the terminal,
    the report and summary.json."""
    write(cwd, "smaller.toml", 'extends = "trial"\nname = "smaller"\n[market]\ncompanies = 1500\n')
    write(cwd, "compare-mixed.toml", 'name = "mixed"\nscenarios = ["freemium", "smaller.toml"]\n'
                                     'levers = ["pricing.*", "trial.*"]\nmetrics = ["signups"]\n')
    result = invoke("compare", "compare-mixed.toml", *TINY_CLI[:-3], "--quiet", "--out", "cmp")
    assert result.exit_code == 0, (result.output, result.exception)
    text = " ".join(result.stdout.split())
    assert ("Warning: these scenarios also differ in market.companies, outside the question's "
            "levers (pricing.*, trial.*): a difference in the results may come from them, not "
            "from the question's levers.") in text
    assert "Warning: beyond the question's levers, the scenarios differ in 1 parameter " \
           "(market.companies)" in result.stderr
    summary = json.loads((cwd / "cmp" / "summary.json").read_text())
    assert summary["levers"] == ["pricing.*", "trial.*"]
    assert summary["outside_levers"] == ["market.companies"]
    assert summary["lever_warning"].startswith("Warning: these scenarios also differ in")
    html = (cwd / "cmp" / "report.html").read_text()
    assert "These scenarios also differ in market.companies, outside the question&#x27;s " \
           "levers" in html and 'class="warning"' in html


def test_cli_compare_of_motions_on_different_markets_warns(cwd: Path) -> None:
    """The issue's comparison: the shipped motion files live on two markets with two
    horizons; with no levers named, compare says every parameter they differ in."""
    names = ["freemium", "trial", "reverse-trial", "card-trial", "sales-led", "plg-sales-assist"]
    result = invoke("compare", *names, "-n", "1", "-j", "1", "--quiet", "--out", "cmp",
                    "--set", "acquisition.organic=20/week", "--set", "acquisition.paid_budget=0/day")
    assert result.exit_code == 0, (result.output, result.exception)
    warning = " ".join(result.stdout[result.stdout.index("Warning: "):].split("\n\n")[0].split())
    assert warning.startswith("Warning: no levers named, and these scenarios differ in ")
    for key in ("simulation.horizon", "market.companies", "market.team_size",
                "collaboration.invites", "retention.churn_monthly", "pricing.model", "sales.reps"):
        assert key in warning, key
    assert "Warning: no levers named, the scenarios differ in" in result.stderr
    assert json.loads((cwd / "cmp" / "summary.json").read_text())["levers"] is None


def test_cli_compare_motions_differ_in_motion_keys_only(cwd: Path) -> None:
    result = invoke("compare", "motions", *TINY_CLI)
    assert result.exit_code == 0, (result.output, result.exception)
    out = result.stdout
    listed = out[out.index("They differ in:"):out.index("\n\n", out.index("They differ in:"))]
    keys = [line.split(":")[0].strip() for line in listed.splitlines()[1:]]
    assert keys and all(k.startswith(("pricing.", "trial.", "free_tier.", "sales."))
                        for k in keys), keys
    assert "Warning" not in result.output
    # a figure a motion cannot have says why
    assert "(no trial ended)" in out and "(no sales team)" in out


def test_cli_compare_bad_input(cwd: Path) -> None:
    assert_user_error(invoke("compare", "baseline", *TINY_CLI), "baseline.toml",
                      "not a comparison file")
    assert_user_error(invoke("compare", "baseline", "compare-ttv", *TINY_CLI), "compare-ttv",
                      "comparison file", "on its own")
    assert_user_error(invoke("compare", "baseline", "fast-ttv", "--metric", "arr", *TINY_CLI),
                      "unknown metric")
    assert_user_error(invoke("compare", "baseline", "fast-ttv", "--horizon", "5m"),
                      "--horizon")
    assert not (cwd / "results").exists()


def test_cli_sweep_writes_and_refuses_to_overwrite(cwd: Path) -> None:
    args = ["sweep", "baseline", "--vary", "onboarding.ttv.median=1h,1d",
            "--vary", "collaboration.acceptance=0.1,0.3", *TINY_CLI, "--out", "sw"]
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    out = cwd / "sw"
    assert {p.name for p in out.iterdir()} >= {"summary.json", "sweep.csv", "report.html",
                                               *(f"scenario-{i}-baseline.toml" for i in range(4))}
    assert "Results in sw/" in result.stdout and "2 x 2 points" in result.stdout
    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0] == ("point,onboarding.ttv.median,collaboration.acceptance,metric,label,"
                        "unit,mean,ci95_lo,ci95_hi")
    assert len(lines) == 1 + 4 * len(HEADLINE)
    assert lines[1].startswith("0,1h,0.1,signups,")
    third = load_scenario(out / "scenario-2-baseline.toml")
    assert third.raw["onboarding.ttv"]["median"] == "1d"
    assert third["collaboration.acceptance"] == 0.1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["axes"][0] == {"key": "onboarding.ttv.median", "values": ["1h", "1d"],
                                  "numbers": [pytest.approx(1 / 24), 1.0]}

    assert_user_error(invoke(*args), "sw", "already exists")
    assert invoke(*args, "--force").exit_code == 0


def test_cli_sweep_bad_input(cwd: Path) -> None:
    assert_user_error(invoke("sweep", "baseline", "--vary", "onboarding.ttv.median=1h,2w"),
                      "--vary", "onboarding.ttv", "p90")
    assert_user_error(invoke("sweep", "baseline", "--vary", "onboarding.ttv.median=1h,,2h"),
                      "--vary", "empty value")
    assert_user_error(invoke("sweep", "baseline", "--vary", "nope=1"), "--vary", "nope")
    assert not (cwd / "results").exists()
    missing = invoke("sweep", "baseline")
    assert missing.exit_code == 2 and "--vary" in missing.output
