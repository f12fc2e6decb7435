"""Tests for ``flywheel diagnose``: a clearly broken link ranked first with a positive CI,
a link at its good value left alone, moved figures landing at good, the search and the
direct mappings, the results folder and the command's one-line errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from flywheel.cli import main
from flywheel.outputs.files import ResultsExistError
from flywheel.outputs.results import write_diagnosis
from flywheel.scenario.files import ScenarioError, load_scenario
from flywheel.studies.diagnose import (
    CONSTRAINT,
    DIAGNOSIS_COLUMNS,
    NOT_A_CONSTRAINT,
    NOT_MEASURED,
    Diagnosis,
    _solve,
    benchmark,
    diagnose,
    knob,
)

#: The broken world: the baseline over half a year, with time to value eight times the
#: baseline's (activation crushed, ~10% against the good 37%), users' own churn at 1.5% a
#: month (measured user churn below the good 3%), a paywall upgrade probability of 0.5
#: (free-to-paid in 90 days well above the good 5%) and no paid acquisition.
BROKEN = ('onboarding.ttv={ dist = "lognormal", median = "20d", p90 = "80d" }',
          "retention.churn_monthly=0.015", "pricing.upgrade_probability=0.5",
          "acquisition.paid_budget=0/month", "simulation.horizon=180d")
LINKS = ("activation", "collaboration", "retention", "conversion", "acquisition")
N, SEED = 6, 7


@pytest.fixture(scope="module")
def broken() -> Diagnosis:
    return diagnose(load_scenario("baseline", list(BROKEN)), replications=N, seed=SEED, jobs=2,
                    links=LINKS)


def test_a_crushed_activation_is_ranked_first_with_a_positive_ci(broken: Diagnosis) -> None:
    """Activation at ~10% (good 37%) is the constraint: the first link by ARR gained, its
    paired 95% CI above zero, and the first finding names it."""
    top = broken.constraints[0]
    assert top.link == "activation"
    assert top.measured.mean < 0.2
    assert top.arr.lo > 0
    assert top.users.lo > 0
    assert broken.findings()[0].startswith("Your onboarding and activation is the constraint")


def test_links_at_good_are_not_constraints_and_not_moved(broken: Diagnosis) -> None:
    """Retention (users' own churn 1.5% a month: measured user churn below the good 3%)
    is reported as not a constraint, with nothing moved and no run."""
    for key in ("retention",):
        r = broken.link(key)
        assert r.status == NOT_A_CONSTRAINT, (key, r.measured)
        assert not r.benchmark.short_of(r.measured.mean)
        assert r.moved == {} and r.run is None and math.isnan(r.arr.mean)
    entries = {e["link"]: e for e in broken.summary()["links"]}
    assert "moved" not in entries["retention"] and entries["retention"]["rank"] is None


def test_no_paid_acquisition_is_not_diagnosed(broken: Diagnosis) -> None:
    """Without a paid budget the acquisition figure (CAC payback) does not exist: the link
    says why rather than claiming it is fine."""
    r = broken.link("acquisition")
    assert r.status == NOT_MEASURED and "no paid acquisition" in r.reason


def test_the_moved_activation_lands_at_the_good_value(broken: Diagnosis) -> None:
    """The twin's search (confirmed, and corrected once if need be, by the simulation)
    puts the moved copy's measured activation within 2 percentage points of 37%: the
    landing tolerance is 3% of good (1.1 pp), plus the simulation's noise over 6
    replications (its 95% CI half-width is about 0.5 pp here)."""
    r = broken.link("activation")
    assert r.status == CONSTRAINT
    assert r.figure_after.mean == pytest.approx(0.37, abs=0.02)
    assert r.reached
    assert set(r.moved) == {"onboarding.ttv"}  # no friction, no sandbox: only the TTV moves
    assert r.search is not None and r.search.method in ("meanfield search", "simulation search")


def test_the_search_finds_a_known_root() -> None:
    """_solve on y = 0.1 / x (a figure falling as the knob grows, like a churn against
    its lever) reaches the target 0.04 at x = 2.5 within its tolerance (0.0004), from a
    poor first guess."""
    from flywheel.studies.diagnose import Knob

    k = Knob("t", 1.0, 1.0, 100.0, True, lambda x: {}, lambda m, g: 1.1, "twin", "")
    s = _solve(k, lambda x: 0.1 / x, 0.1, 0.04, 1.1, False, 0.0004)
    assert s.x == pytest.approx(2.5, rel=0.011)
    assert len(s.evaluations) <= 6 and not s.at_limit
    # a target beyond the knob's reach (the figure never falls below 0.05): it stops at
    # the limit and says so
    s = _solve(k, lambda x: 0.05 + 0.05 / x, 0.1, 0.04, 1.1, False, 0.0004)
    assert s.at_limit and s.x == 100.0


def test_direct_mappings() -> None:
    """Conversion is proportional to its probability (0.2 x 5% / 4% = 0.25); the users'
    churn hazard drops by the measured hazard's gap to good (exact for competing
    constant hazards); NRR's guess lowers the paying teams' hazard by ln(good/NRR)/W."""
    sc = load_scenario("baseline")
    assert knob("upgrade", sc).guess(0.04, 0.05) == pytest.approx(0.25)
    c = knob("churn", sc).guess(0.065, 0.03)
    h = -math.log(1 - 0.06) - math.log(1 - 0.03) + math.log(1 - 0.065)
    assert c == pytest.approx(1 - math.exp(-h))
    w = 6  # a one-year horizon's NRR window, in months
    lam = -math.log(1 - 0.02) - math.log(0.95 / 0.90) / w
    assert knob("logo_churn", sc).guess(0.90, 0.95) == pytest.approx(1 - math.exp(-lam))


def test_benchmarks_follow_the_motion() -> None:
    """The conversion figure is the motion's: freemium's 90-day free-to-paid (good 5%), an
    opt-in trial's conversion (25%), a card trial's (60%); sales-led has none.  NRR's good
    value is SMB's 95% a year over the run's window (6 months at one year: 0.95^0.5)."""
    assert benchmark("conversion", load_scenario("baseline")).good == 0.05
    assert benchmark("conversion", load_scenario("trial")).good == 0.25
    card = benchmark("conversion", load_scenario("card-trial"))
    assert (card.metric, card.good, card.knob) == ("trial_conversion", 0.60, "card_convert")
    assert benchmark("conversion", load_scenario("sales-led")).why_not
    assert benchmark("expansion", load_scenario("baseline")).good == pytest.approx(0.95 ** 0.5)


def test_results_folder_and_summary(broken: Diagnosis, tmp_path: Path) -> None:
    """The folder holds summary.json (each link's figure, good value, source, what moved
    and to what, the paired ARR and active-user changes with CIs and per-replication
    values), diagnosis.csv (one row per link), the chart, report.html and the scenario;
    it is never overwritten without force."""
    out = write_diagnosis(broken, tmp_path / "d")
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "diagnosis.csv", "arr_gained.png", "report.html",
            "scenario.toml"} <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "diagnosis" and summary["replications"] == N
    act = next(e for e in summary["links"] if e["link"] == "activation")
    assert act["rank"] == 1 and act["good"]["value"] == 0.37 and act["good"]["source"]
    assert act["figure"]["metric"] == "activation_rate"
    assert set(act["moved"]["parameters"]) == {"onboarding.ttv"}
    assert act["moved"]["parameters"]["onboarding.ttv"]["from"]["median"] == "20d"
    lo, hi = act["arr_end"]["ci95"]
    assert lo <= act["arr_end"]["effect"] <= hi and len(act["arr_end"]["values"]) == N
    assert len(act["active_users_end"]["values"]) == N
    with (out / "diagnosis.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == DIAGNOSIS_COLUMNS and len(rows) == 1 + len(LINKS)
    assert "Your onboarding and activation is the constraint" in (out / "report.html").read_text()
    with pytest.raises(ResultsExistError, match="already exists"):
        write_diagnosis(broken, tmp_path / "d")


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    """An unknown key, a single replication and an unknown link each stop with one line
    naming the problem, exit status 2, before anything runs."""
    runner = CliRunner()
    for args, words in ((["--set", "onboarding.ttvv=1d"], "onboarding.ttv"),
                        (["-n", "1"], "at least 2 replications")):
        res = runner.invoke(main, ["diagnose", "baseline", *args, "--out", str(tmp_path / "x")])
        assert res.exit_code == 2, res.output
        lines = [x for x in res.output.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]
    with pytest.raises(ScenarioError, match="unknown link"):
        diagnose("baseline", replications=2, links=["retention", "virality"])
