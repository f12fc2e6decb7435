"""Tests for the results folder: its files, their shapes, and how it is written."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from flywheel.metrics import FUNNEL, METRICS, SERIES
from flywheel.outputs import results as results_mod
from flywheel.outputs.files import ResultsExistError, default_out_dir
from flywheel.outputs.results import write_results
from flywheel.scenario.files import Scenario, load_scenario
from flywheel.studies.runner import RunResult, simulate
from flywheel.version import __version__

HORIZON = 50.5  # not a whole number of days, so the last day is a half day
REPS = 3
SEED = 11
FILES = {"scenario.toml", "summary.json", "timeseries.csv", "funnel.csv", "cohorts.csv",
         "growth.png", "mrr.png", "funnel.png", "cohorts.png", "report.html", ".flywheel.json"}
REQUIRED_METRICS = ("signups", "activated", "activation_rate", "ttv_median_days",
                    "viral_coefficient", "teams", "paying_teams", "free_to_paid_rate",
                    "active_users_end", "mrr_end", "arr_end", "user_churn_monthly")
USER_STAGES = ("signups", "activated", "seated", "in_paying_team")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario("baseline", ["market.companies=2000", f"simulation.horizon={HORIZON}d",
                                      f"simulation.replications={REPS}",
                                      f"simulation.seed={SEED}"])


@pytest.fixture(scope="module")
def run(scenario: Scenario) -> RunResult:
    return simulate(scenario, jobs=1)


@pytest.fixture(scope="module")
def out(run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_results(run, tmp_path_factory.mktemp("results") / "baseline-run")


@pytest.fixture(scope="module")
def summary(out: Path) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise AssertionError(f"summary.json holds {constant}, which is not JSON")

    return json.loads((out / "summary.json").read_text(), parse_constant=refuse)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def num(text: str) -> float:
    return math.nan if text == "" else float(text)


def same_values(a: Scenario, b: Scenario) -> None:
    assert a.values.keys() == b.values.keys()
    for path, va in a.values.items():
        vb = b.values[path]
        if hasattr(va, "to_table"):
            assert va.to_table() == vb.to_table(), path  # type: ignore[attr-defined]
        else:
            assert type(va) is type(vb) and va == vb, (path, va, vb)


# -- the folder ----------------------------------------------------------------------------


def test_folder_has_every_file(out: Path) -> None:
    assert {p.name for p in out.iterdir()} == FILES
    leftovers = [p.name for p in out.parent.iterdir() if p.name != out.name]
    assert leftovers == []


def test_default_out_dir() -> None:
    from datetime import datetime

    path = default_out_dir("fast-ttv", now=datetime(2026, 1, 2, 3, 4, 5))
    assert path == Path("results") / "fast-ttv-20260102-030405"


# -- summary.json --------------------------------------------------------------------------


def test_summary_shape(summary: dict[str, Any], run: RunResult) -> None:
    assert summary["flywheel_version"] == __version__
    assert summary["scenario"] == "baseline"
    assert summary["seed"] == SEED
    assert summary["replications"] == REPS
    assert summary["horizon_days"] == HORIZON
    metrics = summary["metrics"]
    assert set(REQUIRED_METRICS) <= set(metrics)
    assert set(metrics) == set(METRICS)
    for name, m in metrics.items():
        assert {"label", "unit", "mean", "ci95", "values"} <= set(m), name
        assert m["label"] == METRICS[name].label
        assert m["unit"] == METRICS[name].unit
        assert isinstance(m["ci95"], list) and len(m["ci95"]) == 2, name
        assert isinstance(m["values"], list) and len(m["values"]) == REPS, name
        # the values are the replications', in replication order
        for got, want in zip(m["values"], run.values(name), strict=True):
            assert (got is None and math.isnan(want)) or got == pytest.approx(want), name


def test_summary_mean_and_ci(summary: dict[str, Any]) -> None:
    checked = 0
    for name, m in summary["metrics"].items():
        present = [v for v in m["values"] if v is not None]
        if not present:
            assert m["mean"] is None and m["ci95"] == [None, None], name
            continue
        assert m["mean"] == pytest.approx(sum(present) / len(present)), name
        lo, hi = m["ci95"]
        if len(present) >= 2:
            assert lo is not None and hi is not None, name
            assert lo <= m["mean"] + 1e-9 and m["mean"] <= hi + 1e-9, name
            checked += 1
    assert checked >= len(REQUIRED_METRICS)
    for name in REQUIRED_METRICS:
        assert all(v is not None for v in summary["metrics"][name]["values"]), name
    # signups and teams really vary between replications here: a real interval
    lo, hi = summary["metrics"]["signups"]["ci95"]
    assert lo < summary["metrics"]["signups"]["mean"] < hi


def test_summary_missing_values_are_null(out: Path, summary: dict[str, Any]) -> None:
    # a freemium run has no trials: trial conversion is missing, written as null, not NaN
    text = (out / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    trial = summary["metrics"]["trial_conversion"]
    assert trial["values"] == [None] * REPS
    assert trial["mean"] is None


def test_summary_metrics_are_consistent(summary: dict[str, Any]) -> None:
    m = {name: v["values"] for name, v in summary["metrics"].items()}
    for i in range(REPS):
        assert m["activated"][i] <= m["signups"][i]
        assert 0 <= m["activation_rate"][i] <= 1
        assert 0 <= m["free_to_paid_rate"][i] <= 1
        assert m["paying_teams"][i] <= m["teams"][i]
        assert m["arr_end"][i] == pytest.approx(12 * m["mrr_end"][i])
        assert m["signups"][i] == sum(m[f"signups_{c}"][i]
                                      for c in ("organic", "paid", "referral", "invite"))


# -- scenario.toml -------------------------------------------------------------------------


def test_scenario_toml_loads_back_identically(out: Path, scenario: Scenario) -> None:
    text = (out / "scenario.toml").read_text()
    assert f"seed = {SEED}" in text and f"replications = {REPS}" in text
    assert "extends" not in text
    back = load_scenario(out / "scenario.toml")
    assert back.name == scenario.name
    assert back.raw == scenario.raw
    same_values(back, scenario)
    # every parameter is pinned by the file itself, none left to the defaults
    assert set(back.sources.values()) == {str(out / "scenario.toml")}


def test_scenario_toml_records_simulate_arguments(scenario: Scenario, tmp_path: Path) -> None:
    run = simulate(scenario, replications=1, seed=7, horizon=10.0, jobs=1)
    back = load_scenario(write_results(run, tmp_path / "r") / "scenario.toml")
    assert back["simulation.seed"] == 7
    assert back["simulation.replications"] == 1
    assert back["simulation.horizon"] == pytest.approx(10.0)


# -- timeseries.csv ------------------------------------------------------------------------


def test_timeseries_is_tidy(out: Path, summary: dict[str, Any]) -> None:
    header, rows = read_csv(out / "timeseries.csv")
    assert header == ["replication", "day", "time_days", *SERIES]
    days = math.ceil(HORIZON)
    assert len(rows) == REPS * days
    keys = [(int(r["replication"]), int(r["day"])) for r in rows]
    assert keys == [(i, d) for i in range(REPS) for d in range(1, days + 1)]
    for r in rows:
        assert all(r[k] != "" for k in header), r
        assert float(r["time_days"]) == min(int(r["day"]), HORIZON)
        assert all(float(r[k]) >= 0 for k in SERIES), r


def test_timeseries_flows_add_up_to_the_summary(out: Path, summary: dict[str, Any]) -> None:
    _, rows = read_csv(out / "timeseries.csv")
    m = {name: v["values"] for name, v in summary["metrics"].items()}
    channels = [k for k in SERIES if k.startswith("signups_")]
    for i in range(REPS):
        mine = [r for r in rows if int(r["replication"]) == i]
        assert sum(float(r["signups"]) for r in mine) == m["signups"][i]
        assert sum(float(r["activations"]) for r in mine) == m["activated"][i]
        assert sum(float(r["upgrades"]) for r in mine) == m["teams_ever_paid"][i]
        for r in mine:
            assert float(r["signups"]) == sum(float(r[c]) for c in channels)
        # stocks at the end of the last day are the metrics at the horizon
        last = mine[-1]
        assert float(last["active_users"]) == m["active_users_end"][i]
        assert float(last["paying_teams"]) == m["paying_teams"][i]
        assert float(last["teams"]) == m["teams"][i]
        assert float(last["mrr"]) == pytest.approx(m["mrr_end"][i])


# -- cohorts.csv ---------------------------------------------------------------------------


def test_cohorts(out: Path) -> None:
    header, rows = read_csv(out / "cohorts.csv")
    assert header == ["replication", "cohort_week", "weeks_since_signup", "signups", "active",
                      "share_active"]
    assert rows
    for r in rows:
        n, a, share = int(r["signups"]), int(r["active"]), float(r["share_active"])
        assert n > 0
        assert 0 <= a <= n
        assert share == pytest.approx(a / n, rel=1e-9)
        assert 0 <= share <= 1
        # only cells observed in full by the horizon
        c, k = int(r["cohort_week"]), int(r["weeks_since_signup"])
        assert 7 * c + 7 + 7 * k <= HORIZON
    for i in range(REPS):
        # weeks since signup start at 1: a week after signup, every cohort seen in full
        week1 = [r for r in rows if int(r["replication"]) == i and r["weeks_since_signup"] == "1"]
        assert week1, i
        assert {int(r["cohort_week"]) for r in week1} == set(range(int((HORIZON - 7) // 7)))
        assert any(int(r["active"]) > 0 for r in week1)
        assert not [r for r in rows if r["weeks_since_signup"] == "0"]


def test_cohort_sizes_match_daily_signups(out: Path) -> None:
    _, cohorts = read_csv(out / "cohorts.csv")
    _, series = read_csv(out / "timeseries.csv")
    for r in cohorts:
        if r["weeks_since_signup"] != "1":
            continue
        i, c = int(r["replication"]), int(r["cohort_week"])
        in_week = sum(float(s["signups"]) for s in series
                      if int(s["replication"]) == i and 7 * c < int(s["day"]) <= 7 * c + 7)
        assert in_week == int(r["signups"]), (i, c)


# -- funnel.csv ----------------------------------------------------------------------------


def test_funnel(out: Path, run: RunResult, summary: dict[str, Any]) -> None:
    header, rows = read_csv(out / "funnel.csv")
    assert header == ["stage", "label", "unit", "mean", "ci95_lo", "ci95_hi",
                      "share_of_previous"]
    assert [(r["stage"], r["label"], r["unit"]) for r in rows] == list(FUNNEL)
    mean = {r["stage"]: float(r["mean"]) for r in rows}
    for r in rows:
        values = [rep.funnel[r["stage"]] for rep in run.replications]
        assert float(r["mean"]) == pytest.approx(sum(values) / len(values))
        lo, hi, m = num(r["ci95_lo"]), num(r["ci95_hi"]), float(r["mean"])
        tol = 1e-9 * max(1.0, abs(m))  # the CSV keeps 10 significant digits
        assert lo - tol <= m <= hi + tol, r
    # counts never grow down the user stages, per replication and on average
    for a, b in zip(USER_STAGES, USER_STAGES[1:], strict=False):
        assert mean[a] >= mean[b], (a, b)
        for rep in run.replications:
            assert rep.funnel[a] >= rep.funnel[b], (a, b, rep.index)
    assert mean["teams"] >= mean["teams_activated"] and mean["teams"] >= mean["teams_paid"]
    # stages agree with the metrics of the same name
    for stage, metric in (("signups", "signups"), ("activated", "activated"),
                          ("teams", "teams"), ("teams_paid", "teams_ever_paid")):
        assert mean[stage] == pytest.approx(summary["metrics"][metric]["mean"]), stage
    # share of the stage before in the same unit; the first stage of each unit has none
    prev: dict[str, float] = {}
    for r in rows:
        share = num(r["share_of_previous"])
        if r["unit"] in prev:
            assert share == pytest.approx(float(r["mean"]) / prev[r["unit"]], rel=1e-6)
        else:
            assert math.isnan(share)
        prev[r["unit"]] = float(r["mean"])


# -- writing: refuse, force, atomic --------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_write_refuses_an_existing_folder(run: RunResult, tmp_path: Path) -> None:
    target = tmp_path / "old"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(ResultsExistError, match="--force"):
        write_results(run, target)
    assert _snapshot(target) == {"notes.txt": b"keep me"}
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert issubclass(ResultsExistError, FileExistsError)


def test_write_force_replaces(run: RunResult, tmp_path: Path) -> None:
    target = tmp_path / "old"
    write_results(run, target, charts=False)  # a folder Flywheel wrote
    (target / "cohorts.csv").write_text("replace me")
    assert write_results(run, target, force=True) == target
    assert (target / "cohorts.csv").read_text() != "replace me"
    assert {p.name for p in target.iterdir()} == FILES
    assert [p.name for p in tmp_path.iterdir()] == ["old"]  # no .partial, no .old- left


def test_write_creates_missing_parents(run: RunResult, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "run"
    write_results(run, target)
    assert {p.name for p in target.iterdir()} == FILES


def _fail_on_cohorts(real: Any) -> Any:
    def fake(path: Path, header: list[str], rows: Any) -> None:
        if path.name == "cohorts.csv":
            raise OSError("disk full")
        real(path, header, rows)

    return fake


def test_failed_write_leaves_nothing(run: RunResult, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results_mod, "write_csv", _fail_on_cohorts(results_mod.write_csv))
    target = tmp_path / "new"
    with pytest.raises(OSError, match="disk full"):
        write_results(run, target)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a hidden .partial one


def test_failed_forced_write_keeps_the_old_folder(run: RunResult, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "old"
    write_results(run, target)
    before = _snapshot(target)
    monkeypatch.setattr(results_mod, "write_csv", _fail_on_cohorts(results_mod.write_csv))
    with pytest.raises(OSError, match="disk full"):
        write_results(run, target, force=True)
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["old"]


def test_failed_write_on_first_file_leaves_nothing(run: RunResult, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(results_mod, "write_csv", boom)
    with pytest.raises(RuntimeError, match="boom"):
        write_results(run, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_report_embeds_exactly_the_charts_written_beside_it(out: Path) -> None:
    """Each chart is a PNG file in the folder, and the report embeds those same bytes."""
    import base64
    import re

    html = (out / "report.html").read_text(encoding="utf-8")
    embedded = [base64.b64decode(data) for data in
                re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]
    files = [(out / f"{name}.png").read_bytes() for name in ("growth", "mrr", "funnel", "cohorts")]
    assert all(f.startswith(b"\x89PNG") for f in files)
    assert embedded == files
