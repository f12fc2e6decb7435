"""`flywheel calibrate`: a scenario fitted to weekly data, with intervals, checked.

Data for these tests are made by the simulation itself at known settings (the truth), so
the fit can be judged against it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from flywheel.cli import main
from flywheel.engines.model import Model
from flywheel.engines.rng import replication_seeds
from flywheel.metrics import replication_series
from flywheel.scenario.files import ScenarioError, load_scenario
from flywheel.scenario.settings import Settings
from flywheel.studies.calibrate import _levels_as_changes, calibrate, knob, parse_known
from flywheel.studies.observed import COLUMNS, Observed, weekly

#: The settings the recovery data are made at, away from the baseline's defaults (150
#: organic contacts a week, 6% monthly churn, upgrade probability 0.2) the fit starts from.
TRUTH = {"acquisition.organic": 200 / 7, "retention.churn_monthly": 0.05,
         "pricing.upgrade_probability": 0.25}
WEEKS = 26


def data(seed: int, weeks: int = WEEKS) -> Observed:
    """One replication of the baseline at :data:`TRUTH`, read as a founder's weekly file."""
    sc = load_scenario("baseline", [f"simulation.horizon={7 * weeks}d",
                                    'acquisition.organic="200/week"',
                                    "retention.churn_monthly=0.05",
                                    "pricing.upgrade_probability=0.25"])
    o = Model(Settings.of(sc), replication_seeds(seed, 1)[0]).run()
    w = np.arange(1, weeks + 1)
    return Observed("data.csv", w, weekly(replication_series(o), w))


def write_csv(obs: Observed, path: Path) -> Path:
    cols = list(obs.series)
    rows = ["week," + ",".join(cols)]
    rows += [f"{w}," + ",".join(f"{obs.series[c][i]:.0f}" for c in cols)
             for i, w in enumerate(obs.weeks)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_levels_are_compared_by_their_weekly_changes() -> None:
    """A level's change from the week before, from launch (0) for week 1; unknown where
    either week is missing."""
    change, ok = _levels_as_changes(np.array([5.0, 9.0, np.nan, 20.0, 26.0]),
                                    np.array([1, 2, 3, 4, 6]))
    assert change[:2].tolist() == [5.0, 4.0]
    assert ok.tolist() == [True, True, False, False, False]


def test_what_may_be_fitted_and_known() -> None:
    base = load_scenario("baseline")
    k, v = knob("onboarding.ttv.median", base)
    assert (k.kind, v) == ("duration", 2.5)
    k, v = knob("acquisition.organic", base)
    assert k.kind == "rate" and v == pytest.approx(150 / 7)
    assert k.from_x(k.to_x(0.37)) == pytest.approx(0.37)
    with pytest.raises(ScenarioError, match="onboarding.ttv has no field 'mean'"):
        knob("onboarding.ttv.mean", base)
    with pytest.raises(ScenarioError, match="a choice parameter cannot be fitted"):
        knob("pricing.model", base)
    assert parse_known("activation_rate=0.38") == ("activation_rate", 0.38,
                                                   pytest.approx(0.019))
    assert parse_known("activation_rate=0.38±0.01")[2] == 0.01
    with pytest.raises(ScenarioError, match="not a known metric value"):
        parse_known("activation=0.38")


#: Seeded cases of the recovery test.
CASES = (1, 2, 3, 4, 5, 6, 7, 8)


@pytest.fixture(scope="module")
def recovered() -> list[tuple[int, object]]:
    return [(seed, calibrate(data(seed), load_scenario("baseline"), list(TRUTH)))
            for seed in CASES]


def test_recovery_of_known_settings(recovered: list[tuple[int, object]]) -> None:
    """Parameter recovery: data the simulation made at TRUTH (26 weeks, one replication,
    all six series), fitted from the baseline's defaults, in eight seeded cases.  Every
    estimate is identified; the mean of each parameter's estimates is nearer the truth
    than its start; and the truth lies inside the 95% interval in at least 90% of the 24
    (case, parameter) pairs (measured: 22 of 24, one of the misses case 4's churn, 0.026
    against 0.05)."""
    held = []
    estimates: dict[str, list[float]] = {k: [] for k in TRUTH}
    for seed, fit in recovered:
        for f in fit.parameters:  # type: ignore[attr-defined]
            truth = TRUTH[f.knob.key]
            assert f.identified, (seed, f.knob.key, f.note)
            estimates[f.knob.key].append(f.estimate)
            held.append(f.ci95[0] <= truth <= f.ci95[1])
    base = load_scenario("baseline")
    for key, values in estimates.items():
        start = knob(key, base)[1]
        assert abs(np.mean(values) - TRUTH[key]) < abs(start - TRUTH[key]), (key, values)
    assert sum(held) >= 0.9 * len(held), f"{sum(held)} of {len(held)} intervals hold the truth"


def test_calibrate_writes_a_scenario_that_extends_the_base(tmp_path: Path) -> None:
    """End to end on 12 weeks, fitting the organic rate only: calibrated.toml extends the
    shipped baseline and sets that key alone; fit.json has the documented layout; the
    simulation at the estimate (20 replications: fewer make the 5-95% band too narrow to
    say much) covers most data weeks of signups in its band (measured: 9 of 12)."""
    csv = write_csv(data(7, weeks=12), tmp_path / "acme.csv")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["calibrate", str(csv), "--fit", "acquisition.organic",
                                    "-n", "20", "-j", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = (out / "calibrated.toml").read_text(encoding="utf-8")
    assert 'extends = "baseline.toml"' in text
    sc = load_scenario(out / "calibrated.toml")
    assert set(sc.differences(load_scenario("baseline"))) == {"acquisition.organic"}
    fit = json.loads((out / "fit.json").read_text(encoding="utf-8"))
    p = fit["parameters"]["acquisition.organic"]
    assert p["ci95"][0] <= TRUTH["acquisition.organic"] <= p["ci95"][1]
    assert p["estimate"] == pytest.approx(sc["acquisition.organic"], rel=1e-5)
    assert set(fit["series"]) == set(COLUMNS)
    assert fit["series"]["signups"]["coverage"] >= 0.6
    assert all(math.isfinite(s["rmse"]) for s in fit["series"].values())
    assert (out / "report.html").is_file() and (out / "weekly.csv").is_file()
    from matplotlib import _pylab_helpers

    assert _pylab_helpers.Gcf.get_num_fig_managers() == 0  # its chart left nothing in pyplot


def test_a_bad_fit_key_is_one_line(tmp_path: Path) -> None:
    csv = write_csv(data(7, weeks=4), tmp_path / "acme.csv")
    res = CliRunner().invoke(main, ["calibrate", str(csv), "--fit", "onboarding.ttv.mean",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "--fit = \"onboarding.ttv.mean\": onboarding.ttv has no field 'mean'" in res.output


def test_a_parameter_the_data_do_not_reach_gets_an_interval_cut_at_the_search_edge() -> None:
    """Signups alone, fitting the organic rate and the upgrade probability (which moves no
    signup): the fit ends, the upgrade probability is not identified and says which data
    would identify it, and its interval stays within the search's range (e^-4 to e^4 of
    the start on the logit scale) instead of overflowing."""
    obs = data(3, weeks=12)
    obs = Observed(obs.file, obs.weeks, {"signups": obs.series["signups"]})
    fit = calibrate(obs, load_scenario("baseline"),
                    ["acquisition.organic", "pricing.upgrade_probability"], correct=0)
    by_key = {f.knob.key: f for f in fit.parameters}  # type: ignore[attr-defined]
    up = by_key["pricing.upgrade_probability"]
    assert not up.identified and "identified by" in up.note
    start = math.log(0.2 / 0.8)
    lo, hi = (math.log(v / (1 - v)) for v in up.ci95)
    assert start - 4 - 1e-9 <= lo <= hi <= start + 4 + 1e-9
    assert by_key["acquisition.organic"].identified
