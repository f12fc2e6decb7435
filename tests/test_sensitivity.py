"""Tests for one-at-a-time sensitivity: which parameters are levers, how each kind moves
(clipping, rounding, skipping), the DES ranking against an analytic case, common random
numbers, the engines, the results folder and the ``flywheel sensitivity`` command."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from matplotlib.figure import Figure
from scipy import stats

from flywheel.cli import main
from flywheel.outputs import plots, report
from flywheel.outputs.files import _clean
from flywheel.outputs.results import write_sensitivity
from flywheel.scenario.defaults import PARAMS, PARAMS_BY_PATH
from flywheel.scenario.distributions import parse_distribution
from flywheel.scenario.files import ScenarioError, load_scenario
from flywheel.studies.comparisons import welch_ci
from flywheel.studies.runner import simulate
from flywheel.studies.sensitivity import (
    DES,
    LEVER_KINDS,
    MEANFIELD,
    Sensitivity,
    check_target,
    choose_levers,
    levers,
    move,
    parse_delta,
    sensitivity_analysis,
)
from flywheel.studies.sensitivity import twin as real_twin

#: The module itself (the function is ``flywheel.sensitivity_analysis``).
SENS = sys.modules["flywheel.studies.sensitivity"]

#: A market and horizon small enough that a replication takes a few hundredths of a second.
SMALL = ["market.companies=2000", "simulation.horizon=60d"]
#: Acquisition only, in a market too large to saturate: no paid or word-of-mouth signups,
#: no accepted invites, so signups are the organic contacts: E[signups] = rate x horizon.
ORGANIC_PER_DAY, HORIZON_DAYS = 100.0, 30.0
ACQUISITION_ONLY = ["market.companies=10000000", f"simulation.horizon={HORIZON_DAYS:g}d",
                    f"acquisition.organic={ORGANIC_PER_DAY:g}/day", "acquisition.paid_budget=0/day",
                    "acquisition.referral=0/day", "collaboration.acceptance=0"]
TINY_CLI = ["-n", "3", "-j", "1", "--horizon", "60d", "--set", "market.companies=2000", "-q"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_error_line(result: Result, *fragments: str) -> str:
    """Exit 2 with exactly one ``error: ...`` line naming every fragment, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def baseline():
    return load_scenario("baseline", SMALL)


@pytest.fixture(scope="module")
def acquisition() -> Sensitivity:
    """Organic rate, price and TTV moved ±20%, target signups, acquisition only."""
    return sensitivity_analysis("baseline", target="signups", engine="des", replications=10, seed=5,
                       jobs=1, params="acquisition.organic,pricing.price_per_seat,onboarding.ttv",
                       overrides=ACQUISITION_ONLY)


# -- levers --------------------------------------------------------------------------------

def test_levers_are_every_numeric_parameter_outside_simulation_and_market() -> None:
    expected = [p.path for p in PARAMS if p.kind in LEVER_KINDS
                and p.section not in ("simulation", "market")]
    assert [p.path for p in levers()] == expected
    assert "acquisition.organic" in expected and "onboarding.ttv" in expected
    assert not any(p.kind in ("bool", "choice") for p in levers())
    # the market may be named on purpose; the simulation never
    assert [p.path for p in choose_levers(["market.companies", "acquisition.organic"])] == \
        ["market.companies", "acquisition.organic"]  # PARAMS order
    with pytest.raises(ScenarioError, match=r"--params: simulation.horizon: not a lever"):
        choose_levers(["simulation.horizon"])


def test_every_lever_of_the_baseline_moves_to_a_valid_scenario(baseline) -> None:
    """Both settings of every lever (parameters added to PARAMS included) load as
    scenarios, and each moves the value by the asked factor unless a note says why."""
    for p in levers():
        mv = move(baseline, p, 0.2)
        if mv.skipped:
            continue
        for side, factor in (("low", mv.low_factor), ("high", mv.high_factor)):
            if mv.side(side) is None:
                continue
            moved = baseline.with_overrides({p.path: mv.side(side)}).values[p.path]
            if p.kind == "distribution":
                assert moved.mean() == pytest.approx(factor * baseline.values[p.path].mean(),
                                                     rel=1e-9), p.path
            else:
                assert float(moved) == pytest.approx(factor * float(baseline.values[p.path]),
                                                     rel=1e-9), p.path
            if not mv.notes:
                assert factor == pytest.approx(0.8 if side == "low" else 1.2), p.path


def test_rates_durations_and_distributions_keep_their_units(baseline) -> None:
    sc = baseline.with_overrides({"acquisition.organic": "150/week", "trial.length": "14d"})
    def settings(path: str) -> tuple[object, object, object]:
        mv = move(sc, PARAMS_BY_PATH[path], 0.2)
        return mv.base, mv.low, mv.high

    assert settings("acquisition.organic") == ("150/week", "120/week", "180/week")
    assert settings("trial.length") == ("14d", "11.2d", "16.8d")
    ttv = move(sc.with_overrides({"onboarding.ttv": {"dist": "lognormal", "median": "2.5d",
                                                     "p90": "10d"}}),
               PARAMS_BY_PATH["onboarding.ttv"], 0.2)
    assert ttv.low == {"dist": "lognormal", "median": "2d", "p90": "8d"}
    assert ttv.high == {"dist": "lognormal", "median": "3d", "p90": "12d"}
    # a gamma's shape (cv) is not a location: it stays
    g = move(sc.with_overrides({"onboarding.patience": {"dist": "gamma", "mean": "4d", "cv": 2.0}}),
             PARAMS_BY_PATH["onboarding.patience"], 0.2)
    assert g.high == {"dist": "gamma", "mean": "4.8d", "cv": 2.0}
    assert parse_distribution(g.high, "duration").mean() == pytest.approx(4.8)


def test_probability_clipped_to_one(baseline) -> None:
    p = PARAMS_BY_PATH["collaboration.acceptance"]
    mv = move(baseline.with_overrides({p.path: 0.9}), p, 0.2)
    assert (mv.low, mv.high) == (0.72, 1.0)  # 0.9 x 1.2 = 1.08, clipped to 1
    assert mv.high_factor == pytest.approx(1 / 0.9)
    assert mv.notes == ("+20% clipped to 1, the maximum",)
    at_one = move(baseline.with_overrides({p.path: 1.0}), p, 0.2)
    assert (at_one.low, at_one.high) == (0.8, None)
    assert at_one.notes == ("+20% side not run: already at its maximum 1",)
    assert at_one.sides() == ["low"]


def test_counts_round_step_by_one_and_never_reach_zero(baseline) -> None:
    p = PARAMS_BY_PATH["free_tier.seat_limit"]

    def at(n: int) -> tuple[object, object, tuple[str, ...]]:
        mv = move(baseline.with_overrides({p.path: n}), p, 0.2)
        return mv.low, mv.high, mv.notes

    assert at(5) == (4, 6, ())
    low, high, notes = at(3)  # 2.4 -> 2, 3.6 -> 4
    assert (low, high) == (2, 4) and "−20% of 3 is 2.4, rounded to 2" in notes
    low, high, notes = at(2)  # 1.6 -> 2 and 2.4 -> 2: back to 2, so stepped by 1
    assert (low, high) == (1, 3)
    assert "−20% of 2 rounds back to 2: stepped by 1 to 1" in notes
    low, high, notes = at(1)  # 0 would mean no seat limit at all: not a 20% move
    assert (low, high) == (None, 2)
    assert any("−20% side not run" in n and "0 usually means" in n for n in notes)
    assert all(isinstance(v, int) for v in (at(5)[0], at(5)[1]))


def test_parameters_at_zero_are_skipped_with_the_reason(baseline) -> None:
    growth = move(baseline.with_overrides({"acquisition.organic_growth": 0.0}),
                  PARAMS_BY_PATH["acquisition.organic_growth"], 0.2)
    assert growth.skipped == "at 0: a ±20% move of 0 is still 0"
    assert (growth.low, growth.high) == (None, None)
    friction = move(baseline.with_overrides({"onboarding.setup_friction":
                                             {"dist": "fixed", "value": "0d"}}),
                    PARAMS_BY_PATH["onboarding.setup_friction"], 0.2)
    assert friction.skipped.startswith("always 0 (fixed, 0d)")
    res = sensitivity_analysis(baseline, params="acquisition.organic_growth,pricing.price_per_seat",
                      engine="des", replications=2, seed=1, jobs=1)
    assert [m.path for m in res.skipped] == ["acquisition.organic_growth"]
    assert [b.path for b in res.bars] == ["pricing.price_per_seat"]
    skipped_row = res.rows()[-1]
    assert skipped_row["status"] == "skipped" and "at 0" in skipped_row["notes"]
    with pytest.raises(ScenarioError, match="no parameter can move"):
        sensitivity_analysis(baseline, params="acquisition.organic_growth", engine="des",
                    replications=2, jobs=1)


# -- options -------------------------------------------------------------------------------

def test_delta_forms_and_errors() -> None:
    assert parse_delta("20%") == pytest.approx(0.2)
    assert parse_delta("0.2") == parse_delta(0.2) == 0.2
    assert parse_delta("5 %") == pytest.approx(0.05)
    for bad, fragment in (("1.5", "out of range"), ("0", "out of range"), ("abc", "not a number"),
                          ("20", "for 20% write 20%"), ("100%", "out of range")):
        with pytest.raises(ScenarioError, match="--delta") as err:
            parse_delta(bad)
        assert fragment in str(err.value) and "between 0 and 1" in str(err.value)


def test_target_errors_name_the_value_and_the_choices() -> None:
    assert check_target("signups") == "signups"
    with pytest.raises(ScenarioError) as err:
        check_target("arr_edn")
    assert str(err.value) == '--target: "arr_edn": unknown metric (did you mean "arr_end"?)'
    with pytest.raises(ScenarioError) as err:
        check_target("zzz")
    assert "metrics are signups," in str(err.value) and "arr_end" in str(err.value)


# -- the DES: an analytic case, common random numbers, determinism ---------------------------

def test_acquisition_only_signups_move_with_the_organic_rate(acquisition: Sensitivity) -> None:
    """With acquisition only, E[signups] = organic rate x horizon (the market is 10 million
    companies, so almost no contact is lost): ±20% on the rate moves signups by ±20%, i.e.
    ±600 of 3,000.  Parameters signups do not depend on change them by exactly 0 (common
    random numbers: identical draws, identical runs)."""
    expected = 0.2 * ORGANIC_PER_DAY * HORIZON_DAYS  # 600
    assert [b.path for b in acquisition.bars][0] == "acquisition.organic"
    organic = acquisition.bar("acquisition.organic")
    assert organic.engine == DES
    assert acquisition.base_value == pytest.approx(ORGANIC_PER_DAY * HORIZON_DAYS, rel=0.02)
    t = stats.t.ppf(0.975, acquisition.replications - 1)
    for side, sign in (("low", -1), ("high", 1)):
        mean, lo, hi = organic.effect(side)
        se = (hi - lo) / (2 * t)
        assert abs(mean - sign * expected) < 4 * se, (side, mean, se)  # 4 standard errors
        assert mean / organic.base == pytest.approx(sign * 0.2, abs=0.03)
    for path in ("pricing.price_per_seat", "onboarding.ttv"):
        bar = acquisition.bar(path)
        assert bar.effect_low == bar.effect_high == (0.0, 0.0, 0.0), path
        assert bar.diffs_low == bar.diffs_high == [0.0] * 10


def test_common_random_numbers_narrow_the_interval(baseline) -> None:
    """The paired CI of a paywall change against the same runs with independent seeds:
    each company meets its own first-decision draw in both runs.  Measured 3.9x narrower
    (seed 5, 8 replications; 2.5x and 2.6x at seeds 7 and 9); asserted at least 2x."""
    res = sensitivity_analysis(baseline, target="arr_end", params="pricing.upgrade_probability",
                      engine="des", replications=8, seed=5, jobs=1)
    bar = res.bar("pricing.upgrade_probability")
    _, lo, hi = bar.effect_high
    paired = hi - lo
    high = baseline.with_overrides({bar.path: bar.move.high})
    independent = simulate(high, replications=8, seed=6, jobs=1).values("arr_end")
    _, ulo, uhi = welch_ci(res.base_des.values("arr_end"), independent)
    assert 0 < paired < (uhi - ulo) / 2, (paired, uhi - ulo)
    # the Welch interval kept in the results (same runs, pairing ignored) says the same
    assert paired < (bar.unpaired_high[2] - bar.unpaired_high[1]) / 2


def test_same_seed_same_rows_whatever_the_jobs(baseline) -> None:
    kwargs = dict(params="pricing.upgrade_probability,free_tier.seat_limit",
                  engine="des", replications=4, seed=9)
    one = sensitivity_analysis(baseline, jobs=1, **kwargs)
    two = sensitivity_analysis(baseline, jobs=2, **kwargs)
    assert _clean(one.rows()) == _clean(two.rows())
    assert one.runs == two.runs == {DES: 5}


# -- engines -------------------------------------------------------------------------------

def fake_twin(unsupported: list[str] | None = None) -> types.ModuleType:
    """A stand-in twin with the real one's interface: one deterministic evaluation (here the
    DES's replication 0 of seed 1), and the list of what it does not carry."""
    module = types.ModuleType("fake_meanfield")
    module.simulate = lambda sc, horizon: simulate(sc, replications=1, seed=1, jobs=1,  # type: ignore[attr-defined]
                                                   horizon=horizon)
    module.unsupported = lambda sc: list(unsupported or [])  # type: ignore[attr-defined]
    return module


PARAMS4 = "pricing.price_per_seat,pricing.upgrade_probability,costs.serving_cost_per_free_user," \
          "acquisition.organic"


def test_auto_screens_with_the_twin_and_reruns_the_top(baseline, monkeypatch) -> None:
    monkeypatch.setattr(SENS, "twin", lambda: fake_twin())
    res = sensitivity_analysis(baseline, params=PARAMS4, top=2, engine="auto", replications=3, seed=2,
                      jobs=1)
    engines = {b.path: b.engine for b in res.bars}
    assert sorted(engines.values()) == [DES, DES, MEANFIELD, MEANFIELD]
    assert res.runs == {MEANFIELD: 1 + 4 * 2, DES: 1 + 2 * 2}
    for b in res.bars:
        if b.engine == DES:
            assert b.screened is not None and not math.isnan(b.effect_high[1])
        else:
            assert b.screened is None and math.isnan(b.effect_high[1]) and math.isnan(b.effect_low[2])
    # serving cost does not touch ARR: the twin ranks it last, so the DES does not re-run it
    assert engines["costs.serving_cost_per_free_user"] == MEANFIELD
    assert "screened 4 levers" in res.engine_note and "re-ran the top 2" in res.engine_note
    fig = plots.tornado(res)
    assert isinstance(fig, Figure)
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("mean-field twin" in t for t in legend) and any("DES" in t for t in legend)
    assert any("(twin)" in t.get_text() for t in fig.axes[0].get_yticklabels())
    assert any("mean-field twin" in f for f in report.sensitivity_findings(res))


def test_auto_falls_back_to_the_des(baseline, monkeypatch) -> None:
    monkeypatch.setattr(SENS, "twin", lambda: None)
    res = sensitivity_analysis(baseline, params="pricing.price_per_seat", replications=2, jobs=1)
    assert [b.engine for b in res.bars] == [DES] and MEANFIELD not in res.runs
    assert res.engine_note == ("the mean-field twin is not part of this installation; every "
                               "lever ran with the DES")
    with pytest.raises(ScenarioError, match="--engine: \"meanfield\": the mean-field twin is not part"):
        sensitivity_analysis(baseline, params="pricing.price_per_seat", engine="meanfield")
    monkeypatch.setattr(SENS, "twin", lambda: fake_twin(["sales-led motions"]))
    res = sensitivity_analysis(baseline, params="pricing.price_per_seat", replications=2, jobs=1)
    assert [b.engine for b in res.bars] == [DES]
    assert res.engine_note.startswith("the mean-field twin does not carry: sales-led motions")
    with pytest.raises(ScenarioError, match="does not carry: sales-led motions"):
        sensitivity_analysis(baseline, params="pricing.price_per_seat", engine="meanfield")


def test_meanfield_engine_alone(baseline, monkeypatch) -> None:
    monkeypatch.setattr(SENS, "twin", lambda: fake_twin())
    res = sensitivity_analysis(baseline, params="pricing.price_per_seat", engine="meanfield")
    (bar,) = res.bars
    assert bar.engine == MEANFIELD and res.runs == {MEANFIELD: 3}
    assert bar.effect_high[0] == pytest.approx(0.2 * bar.base)  # ARR is price x seats
    assert res.base_des is None and res.replications == 0


@pytest.mark.skipif(real_twin() is None, reason="no mean-field twin in this installation")
def test_the_real_twin_screens_the_baseline() -> None:
    from flywheel.engines import meanfield

    sc = load_scenario("baseline", SMALL)
    if meanfield.unsupported(sc):
        pytest.skip("the twin does not carry the baseline: " + "; ".join(meanfield.unsupported(sc)))
    res = sensitivity_analysis(sc, params=PARAMS4, engine="meanfield", jobs=1)
    assert {b.engine for b in res.bars} == {MEANFIELD}
    # the twin carries willingness to pay: +20% on the price loses some paying seats, so
    # ARR rises by less than 20% (below the revenue-maximising price, it still rises)
    effect = res.bar("pricing.price_per_seat").effect_high[0]
    assert 0 < effect < 0.2 * res.base_value, (effect, res.base_value)


# -- results folder and command --------------------------------------------------------------

def test_results_folder(acquisition: Sensitivity, tmp_path: Path) -> None:
    out = write_sensitivity(acquisition, tmp_path / "s")
    assert sorted(p.name for p in out.iterdir()) == [
        ".flywheel.json", "report.html", "scenario.toml", "sensitivity.csv", "summary.json", "tornado.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "sensitivity" and summary["target"]["name"] == "signups"
    assert summary["runs"] == {"des": 7}
    first = summary["bars"][0]
    assert first["parameter"] == "acquisition.organic"
    assert first["high"]["set"] == 'acquisition.organic="120/day"'
    assert len(first["high"]["values"]) == 10
    csv_lines = (out / "sensitivity.csv").read_text().splitlines()
    assert csv_lines[0].startswith("rank,parameter,label,unit,kind,base_value,low_value")
    assert csv_lines[1].startswith("1,acquisition.organic,")
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "most sensitive to acquisition.organic" in html
    assert load_scenario(out / "scenario.toml").values == acquisition.scenario.values
    with pytest.raises(FileExistsError, match="already exists"):
        write_sensitivity(acquisition, out)
    write_sensitivity(acquisition, out, force=True)


def test_findings_in_plain_words(acquisition: Sensitivity) -> None:
    lines = report.sensitivity_findings(acquisition)
    assert lines[0].startswith("Signups are most sensitive to acquisition.organic: +20% (120/day) "
                               "moves it by +600 (+20%, 95% CI")
    assert any("did not change in any replication" in line and "pricing.price_per_seat" in line
               for line in lines)


def test_command(tmp_path: Path) -> None:
    out = tmp_path / "sens"
    args = ["sensitivity", "baseline", *TINY_CLI, "--params",
            "pricing.price_per_seat,acquisition.organic_growth", "--engine", "des",
            "--out", str(out)]
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "pricing.price_per_seat" in result.stdout and "12 | 15 | 18" in result.stdout
    assert "Skipped:\n  acquisition.organic_growth: at 0" in result.stdout
    assert "3 simulation runs" in result.stdout
    assert (out / "tornado.png").is_file()
    one_error_line(invoke(*args), str(out), "already exists", "--force")
    assert invoke(*args, "--force").exit_code == 0


@pytest.mark.parametrize(("extra", "fragments"), [
    (["--target", "arr_edn"], ("--target", '"arr_edn"', "unknown metric", '"arr_end"')),
    (["--params", "acquisition.organik"], ("--params", "acquisition.organik", "unknown parameter",
                                           '"acquisition.organic"')),
    (["--params", "pricing.model"], ("--params: pricing.model: not a lever", "choice",
                                     "levers are numbers")),
    (["--params", "simulation.seed"], ("--params: simulation.seed: not a lever",)),
    (["--delta", "120%"], ("--delta", '"120%"', "out of range", "between 0 and 1")),
])
def test_command_bad_input_is_one_line(tmp_path: Path, extra: list[str],
                                       fragments: tuple[str, ...]) -> None:
    out = tmp_path / "never"
    one_error_line(invoke("sensitivity", "baseline", *TINY_CLI, "--out", str(out), *extra),
                   *fragments)
    assert not out.exists()
