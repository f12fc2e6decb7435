"""The notebook-friendly Python API: DataFrames beside the row methods, short reprs, named
results (MeanCI), horizons written as durations, either engine from ``simulate``, and a
``flywheel.studies.sensitivity`` that is the module (the function is ``sensitivity_analysis``)."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pandas as pd
import pytest

import flywheel
from flywheel import metrics
from flywheel.metrics import HEADLINE, METRICS, MeanCI, format_value
from flywheel.scenario.defaults import PARAMS
from flywheel.scenario.files import load_scenario, load_scenario_text
from flywheel.scenario.units import UnitError
from flywheel.studies.runner import simulate_twin

ROOT = Path(__file__).resolve().parents[1]
#: A market and horizon small enough that a replication takes a few hundredths of a second.
SMALL = ["market.companies=2000", "simulation.horizon=60d"]


@pytest.fixture(scope="module")
def year_run() -> flywheel.RunResult:
    """A one-year, 20-replication baseline run (a smaller market keeps it quick)."""
    sc = load_scenario("baseline", ["market.companies=2000"])
    return flywheel.simulate(sc, replications=20, seed=1, jobs=2)


@pytest.fixture(scope="module")
def small_run() -> flywheel.RunResult:
    return flywheel.simulate(load_scenario("baseline", SMALL), replications=3, seed=2, jobs=1)


@pytest.fixture(scope="module")
def comparison() -> flywheel.Comparison:
    return flywheel.compare(["slow-ttv", "fast-ttv"], replications=4, seed=3, jobs=1,
                            overrides=SMALL)


@pytest.fixture(scope="module")
def swept() -> flywheel.Sweep:
    return flywheel.sweep("baseline", [("collaboration.acceptance", [0.1, 0.4]),
                                       ("onboarding.ttv.median", ["1h", "2d"])],
                          replications=2, seed=4, jobs=1, overrides=SMALL)


@pytest.fixture(scope="module")
def sens() -> flywheel.Sensitivity:
    # collaboration.invites is 0 here, so it is skipped: the frame has a skipped row
    return flywheel.sensitivity_analysis(
        "baseline", engine="des", replications=3, seed=5, jobs=1,
        params=["onboarding.ttv", "acquisition.organic", "collaboration.acceptance"],
        overrides=[*SMALL, "collaboration.acceptance=0"])


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _same_metrics(a: flywheel.RunResult, b: flywheel.RunResult) -> bool:
    return all(_same(a.values(m), b.values(m)) or
               all(_same(x, y) for x, y in zip(a.values(m), b.values(m), strict=True))
               for m in METRICS)


def _assert_frame_is_rows(df: pd.DataFrame, header: list[str], rows: list[list[object]]) -> None:
    """Same columns in order, same number of rows, every cell equal (NaN equal to NaN)."""
    assert list(df.columns) == header
    assert len(df) == len(rows)
    for got, want in zip(df.itertuples(index=False), rows, strict=True):
        for column, g, w in zip(header, got, want, strict=True):
            g = g.item() if hasattr(g, "item") else g
            assert _same(g, w), (column, g, w)


# -- 1. DataFrames beside the row methods ------------------------------------------------


def test_summary_frame_has_one_row_per_metric_with_the_summary_numbers(small_run) -> None:
    df = small_run.summary_frame()
    assert list(df.columns) == ["name", "label", "unit", "kind", "mean", "ci95_lo", "ci95_hi"]
    assert list(df["name"]) == list(METRICS)
    summary = small_run.summary()["metrics"]
    for row in df.itertuples(index=False):
        meta = METRICS[row.name]
        assert (row.label, row.unit, row.kind) == (meta.label, meta.unit, meta.kind)
        assert _same(row.mean, summary[row.name]["mean"])
        assert _same(row.ci95_lo, summary[row.name]["ci95"][0])
        assert _same(row.ci95_hi, summary[row.name]["ci95"][1])


def test_timeseries_frame_is_the_rows(small_run) -> None:
    df = small_run.timeseries_frame()
    rows = [list(r) for r in small_run.timeseries_rows()]
    assert len(rows) == 3 * 60
    _assert_frame_is_rows(df, small_run.timeseries_header(), rows)
    assert df["replication"].dtype.kind == "i" and df["day"].dtype.kind == "i"


def test_funnel_and_cohort_frames_are_the_rows(small_run) -> None:
    funnel = small_run.funnel_frame()
    _assert_frame_is_rows(funnel, ["stage", "label", "unit", "mean", "ci95_lo", "ci95_hi",
                                   "share_of_previous"], small_run.funnel_rows())
    cohorts = small_run.cohorts_frame()
    assert len(cohorts) > 0
    _assert_frame_is_rows(cohorts, ["replication", "cohort_week", "weeks_since_signup",
                                    "signups", "active", "share_active"], small_run.cohort_rows())


def test_comparison_frame_is_the_rows(comparison) -> None:
    rows = comparison.rows()
    header = ["metric", "label", "unit", "scenario", "mean", "ci95_lo", "ci95_hi", "diff",
              "diff_lo", "diff_hi"]
    _assert_frame_is_rows(comparison.frame(), header, [[r[h] for h in header] for r in rows])
    only = comparison.frame(["arr_end"])
    assert list(only["metric"]) == ["arr_end", "arr_end"]


def test_sweep_frame_is_the_rows(swept) -> None:
    header = ["point", "collaboration.acceptance", "onboarding.ttv.median", "metric", "label",
              "unit", "mean", "ci95_lo", "ci95_hi"]
    rows = swept.rows()
    assert len(rows) == 4 * len(HEADLINE)
    _assert_frame_is_rows(swept.frame(), header, [[r[h] for h in header] for r in rows])


def test_sensitivity_frame_is_the_rows_with_a_nullable_rank(sens) -> None:
    rows = sens.rows()
    df = sens.frame()
    assert list(df.columns) == list(rows[0])
    assert len(df) == len(rows) == 3
    assert [r["status"] for r in rows] == ["ok", "ok", "skipped"]
    assert str(df["rank"].dtype) == "Int64"
    assert list(df["rank"][:2]) == [1, 2] and df["rank"].isna().tolist() == [False, False, True]
    for got, want in zip(df.to_dict("records"), rows, strict=True):
        for key in want:
            if key != "rank":
                assert _same(got[key], want[key]), key


def test_import_flywheel_and_help_load_neither_pandas_nor_matplotlib_nor_scipy_stats() -> None:
    heavy = "[m for m in sys.modules if m.split('.')[0] in ('pandas', 'matplotlib') or m == 'scipy.stats']"
    code = ("import sys\nimport flywheel\nimport flywheel.studies.sensitivity\n"
            f"print({heavy})\n"
            "from flywheel.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print({heavy})\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip().splitlines()
    assert out[0] == "[]"
    assert out[-1] == "[]"


def test_pandas_is_a_declared_dependency() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "pandas>=1.5" in deps


# -- 2. short reprs ------------------------------------------------------------------------


def test_repr_of_a_year_of_20_replications_is_short_and_says_what_ran(year_run) -> None:
    text = repr(year_run)
    assert len(text) < 1000
    assert text.startswith("<RunResult baseline: 20 replications, seed 1, 365.25 days, engine des;")
    mean, lo, hi = year_run.mean_ci("signups")
    assert f"signups {format_value(mean, 'users')} [{format_value(lo, 'users')}, " in text
    assert "activation_rate" in text and "%" in text
    assert "array(" not in text and "ReplicationResult" not in text
    html = year_run._repr_html_()
    assert html.startswith("<table") and "baseline" in html and len(html) < 5000
    assert all(METRICS[m].label in html for m in HEADLINE)


def test_scenario_repr_names_it_its_file_and_what_differs() -> None:
    text = repr(load_scenario("baseline"))
    assert text.startswith("<Scenario baseline (") and "baseline.toml)" in text
    # the baseline's paid budget: the defaults have none
    n = len(PARAMS)
    assert text.endswith(f": 1 of {n} parameters differs from the defaults>")
    text = repr(load_scenario("fast-ttv"))
    assert text.startswith("<Scenario fast-ttv (") and "fast-ttv.toml" in text
    assert f"2 of {n} parameters differ from the defaults" in text
    two = load_scenario("fast-ttv", ["market.companies=2000"])
    assert f"3 of {n} parameters differ" in repr(two)
    # the same value written another way is not a difference
    assert f"2 of {n}" in repr(load_scenario("fast-ttv", ["simulation.horizon=365.25d"]))
    html = two._repr_html_()
    assert "onboarding.ttv" in html and "market.companies" in html and "2000" in html


def test_html_reprs_escape_text() -> None:
    sc = load_scenario_text('name = "a<b>&c"\n[market]\ncompanies = 2000\n')
    assert "a<b>&c" in repr(sc) and "no file" in repr(sc)
    html = sc._repr_html_()
    assert "a&lt;b&gt;&amp;c" in html and "a<b>" not in html
    run = flywheel.simulate(sc, replications=2, jobs=1, horizon="10d")
    assert "a&lt;b&gt;&amp;c" in run._repr_html_()
    assert repr(run).startswith("<RunResult a<b>&c: 2 replications")


def test_comparison_sweep_and_sensitivity_reprs_are_short(comparison, swept, sens) -> None:
    text = repr(comparison)
    assert text.startswith("<Comparison slow-ttv-vs-fast-ttv: 2 scenarios (reference slow-ttv)")
    assert "fast-ttv" in text and " pp [" in text and len(text) < 1000
    assert "slow-ttv" in comparison._repr_html_() and "fast-ttv" in comparison._repr_html_()

    text = repr(swept)
    assert text.startswith("<Sweep baseline: collaboration.acceptance (2 values) × "
                           "onboarding.ttv.median (2 values); 4 points, 2 replications, seed 4")
    assert len(text) < 1000
    html = swept._repr_html_()
    assert html.count("<tr>") == 1 + 4 and "onboarding.ttv.median" in html

    text = repr(sens)
    assert text.startswith("<Sensitivity baseline: arr_end to ±20% moves of 2 levers, engine des")
    assert sens.bars[0].path in text and len(text) < 1000
    assert sens.bars[1].path in sens._repr_html_()


# -- 3. named results ----------------------------------------------------------------------


def test_mean_ci_is_a_named_tuple_that_still_unpacks(small_run) -> None:
    m = small_run.mean_ci("signups")
    assert isinstance(m, MeanCI) and isinstance(m, tuple) and MeanCI is flywheel.MeanCI
    assert m._fields == ("mean", "lo", "hi")
    mean, lo, hi = m
    assert (m.mean, m.lo, m.hi) == (mean, lo, hi)
    assert lo < mean < hi
    assert m == metrics.mean_ci(small_run.values("signups"))
    assert isinstance(metrics.mean_ci([1.0, 2.0, 4.0]), MeanCI)
    single = metrics.mean_ci([3.0])
    assert single.mean == 3.0 and math.isnan(single.lo) and math.isnan(single.hi)


def test_paired_and_unpaired_differences_are_mean_cis(comparison) -> None:
    d = comparison.paired_diff("activation_rate", 1)
    assert isinstance(d, MeanCI)
    row = [r for r in comparison.rows() if r["metric"] == "activation_rate"][1]
    assert (d.mean, d.lo, d.hi) == (row["diff"], row["diff_lo"], row["diff_hi"])
    assert d.lo < d.mean < d.hi and d.mean > 0  # a faster time to value activates more
    u = comparison.unpaired_diff("activation_rate", 1)
    assert isinstance(u, MeanCI) and u.mean == pytest.approx(d.mean)


# -- 4. horizons as the CLI writes them --------------------------------------------------


def test_a_duration_horizon_gives_exactly_the_run_of_its_days() -> None:
    sc = load_scenario("baseline", ["market.companies=2000"])
    a = flywheel.simulate(sc, replications=2, seed=7, jobs=1, horizon="30d")
    b = flywheel.simulate(sc, replications=2, seed=7, jobs=1, horizon=30.0)
    c = flywheel.simulate(sc, replications=2, seed=7, jobs=1, horizon=30)
    assert a.horizon == b.horizon == c.horizon == 30.0
    assert _same_metrics(a, b) and _same_metrics(a, c)
    assert list(a.timeseries_rows()) == list(b.timeseries_rows())
    assert a.scenario.raw == b.scenario.raw == c.scenario.raw
    assert flywheel.simulate(sc, replications=1, jobs=1, horizon="1w").horizon == 7.0


def test_a_bad_horizon_is_refused() -> None:
    sc = load_scenario("baseline", SMALL)
    with pytest.raises(UnitError):
        flywheel.simulate(sc, replications=1, jobs=1, horizon="30")  # a string needs a unit
    with pytest.raises(ValueError, match="horizon"):
        flywheel.simulate(sc, replications=1, jobs=1, horizon=True)


# -- 5. either engine from one call --------------------------------------------------------


def test_simulate_runs_the_mean_field_twin() -> None:
    sc = load_scenario("baseline", SMALL)
    run = flywheel.simulate(sc, engine="meanfield", horizon="2y")
    assert run.engine == "meanfield" and run.n == 1 and run.horizon == 730.5
    assert "engine meanfield" in repr(run) and "1 replication," in repr(run)

    direct = simulate_twin(sc, 730.5)
    assert _same_metrics(run, direct)


@pytest.mark.parametrize("kwargs, named", [({"replications": 3}, "replications"),
                                           ({"seed": 1}, "seed"), ({"jobs": 2}, "jobs")])
def test_meanfield_refuses_what_only_the_des_takes(kwargs, named) -> None:
    with pytest.raises(ValueError, match=f"{named}.*only with engine=\"des\""):
        flywheel.simulate("baseline", engine="meanfield", **kwargs)


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine"):
        flywheel.simulate("baseline", engine="ode")


def test_simulate_takes_a_scenario_name_or_path() -> None:
    by_name = flywheel.simulate("fast-ttv", replications=1, seed=1, jobs=1, horizon="10d")
    assert by_name.scenario.name == "fast-ttv" and by_name.engine == "des"
    path = ROOT / "scenarios" / "fast-ttv.toml"
    by_path = flywheel.simulate(str(path), replications=1, seed=1, jobs=1, horizon="10d")
    assert _same_metrics(by_path, by_name)
    assert flywheel.simulate(path, replications=1, seed=1, jobs=1, horizon="10d").n == 1


# -- 6. module and function names ------------------------------------------------------------


def test_module_and_function_names_do_not_shadow_each_other() -> None:
    import flywheel.studies.sensitivity as m

    assert isinstance(m, types.ModuleType) and m is sys.modules["flywheel.studies.sensitivity"]
    assert m.Sensitivity is flywheel.Sensitivity
    assert flywheel.studies.sensitivity is m
    from flywheel.studies import sensitivity

    assert sensitivity is m
    assert flywheel.sensitivity_analysis is m.sensitivity_analysis
    assert not hasattr(m, "sensitivity")  # one name for the function
    assert "sensitivity_analysis" in flywheel.__all__ and "sensitivity" not in flywheel.__all__
    # every public name of the package is what it says, never a module bound over a function
    for name in flywheel.__all__:
        assert not isinstance(getattr(flywheel, name), types.ModuleType), name
    for layer in ("scenario", "engines", "studies", "outputs", "metrics"):
        # (importing flywheel loads no outputs, so the layer is imported here, as a user would)
        module = importlib.import_module(f"flywheel.{layer}")
        assert getattr(flywheel, layer) is module, layer
