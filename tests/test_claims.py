"""A story's claims: stated in its scenario file, measured by every run.

A claim names a metric and the range its measured mean and 95% CI should fall in, with
the range's source; ``flywheel run`` prints each as measured, the report and
``summary.json`` carry them, and a claim on a name that is not a metric is a one-line
error naming the file and the key.
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
from flywheel.metrics import check_claims, judge_claims, replication_metrics
from flywheel.scenario.files import Claim, ScenarioError, load_scenario, load_scenario_text
from flywheel.scenario.settings import Settings

MINUTE = 1.0 / 1440.0

STORY = """
name = "tiny-story"
[simulation]
horizon = "30d"
[market]
companies = 300

[[claims]]
says = "value in about a day"
metric = "ttv_median_days"
range = ["2h", "3d"]
source = "the story"

[[claims]]
says = "some teams form"
metric = "teams"
range = [1.0, 1000.0]
also = ["signups"]
"""


def test_claims_are_read_with_their_units_and_written_back() -> None:
    sc = load_scenario_text(STORY)
    first, second = sc.claims
    assert (first.metric, first.low, first.high, first.in_days) == (
        "ttv_median_days", pytest.approx(2 / 24), pytest.approx(3.0), True)
    assert (second.low, second.high, second.in_days, second.also) == (1.0, 1000.0, False,
                                                                      ("signups",))
    assert load_scenario_text(sc.to_toml()).claims == sc.claims


def test_an_extending_file_tells_its_own_story(tmp_path: Path) -> None:
    """Claims belong to the file that states them: a scenario extending a story does not
    inherit them (its settings differ, so the story's ranges need not hold)."""
    base = tmp_path / "story.toml"
    base.write_text(STORY, encoding="utf-8")
    child = tmp_path / "variant.toml"
    child.write_text('extends = "story.toml"\n[pricing]\nprice_per_seat = 20.0\n',
                     encoding="utf-8")
    assert load_scenario(base).claims and not load_scenario(child).claims


@pytest.mark.parametrize("claim, message", [
    ('says = "x"\nmetric = "teams"\nrange = [1.0]',
     "claims[1].range = [1.0]: expected two values [low, high]"),
    ('says = "x"\nmetric = "teams"\nrange = [5.0, 1.0]',
     "claims[1].range = [5.0, 1.0]: low end above high end"),
    ('says = "x"\nmetric = "teams"\nrange = ["1d", 3.0]',
     'claims[1].range = ["1d", 3.0]: mixes a duration and a number'),
    ('says = "x"\nmetric = "teams"\nrange = ["soon", "later"]',
     'claims[1].range = "soon"'),
    ('says = "x"\nmetric = "teams"', "claims[1]: missing range"),
    ('says = "x"\nmetric = "teams"\nrange = [1.0, 2.0]\nwhy = "y"',
     "claims[1].why: unknown key"),
    ('says = 3\nmetric = "teams"\nrange = [1.0, 2.0]', "claims[1].says = 3: expected a string"),
])
def test_a_malformed_claim_is_one_line_naming_file_and_key(claim: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(f"[[claims]]\n{claim}\n", name="story.toml")
    assert str(err.value).startswith(f"story.toml: {message}"), str(err.value)


def test_a_claim_on_an_unknown_metric_suggests_the_nearest() -> None:
    sc = load_scenario_text('[[claims]]\nsays = "x"\nmetric = "activation"\nrange = [0.1, 0.2]\n',
                            name="story.toml")
    with pytest.raises(ScenarioError) as err:
        check_claims(sc.claims, "story.toml")
    assert str(err.value).startswith('story.toml: claims[1].metric = "activation": unknown '
                                     'metric (did you mean "activation_rate"?)')
    days = load_scenario_text('[[claims]]\nsays = "x"\nmetric = "signups"\nrange = ["1d", "2d"]\n',
                              name="story.toml")
    with pytest.raises(ScenarioError, match=r"claims\[1\]\.range: a range in durations, but "
                                            r"signups is in users"):
        check_claims(days.claims, "story.toml")


def test_the_verdict_reads_the_ci_against_the_range() -> None:
    """inside: the CI lies in the range; mean inside: the mean does, the CI crosses an
    end; outside: the mean does not; a single run (no CI) is judged by its value."""
    claim = Claim("x", "teams", 10.0, 20.0)
    values = {"inside": [14.0, 15.0, 16.0], "mean inside": [11.0, 19.0, 15.0, 10.5, 19.5],
              "outside": [21.0, 22.0, 23.0], "no value": [math.nan, math.nan]}
    for verdict, xs in values.items():
        (m,) = judge_claims([claim], lambda _, xs=xs: xs)
        assert m.verdict == verdict, (verdict, m.value)
    (single,) = judge_claims([claim], lambda _: [12.0])
    assert single.verdict == "inside" and math.isnan(single.value.lo)


def test_teammates_a_founder_brought_counts_the_first_signups_invitees() -> None:
    """invites_per_founder = invitees of each team's first signup / teams, checked against
    the records read another way: a founder is the user who signed up when the team was
    created."""
    sc = load_scenario("devtool-story", ["simulation.horizon=60d", "market.companies=2000"])
    for seq in replication_seeds(11, 2):
        o = Model(Settings.of(sc), seq).run()
        u, t = o.users, o.teams
        founders = np.flatnonzero(u["signup"] == t["created"][u["company"]])
        brought = np.isin(u["inviter"][u["inviter"] >= 0], founders).sum()
        m = replication_metrics(o)
        assert m["invites_per_founder"] == pytest.approx(brought / len(founders))
        assert 0 < m["invites_per_founder"] < 2  # two invites each, most not accepted


def test_flywheel_run_prints_each_claim_measured(tmp_path: Path) -> None:
    story = tmp_path / "story.toml"
    story.write_text(STORY, encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(story), "-n", "2", "-j", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "The story's claims, measured (2 replications, mean [95% CI]):" in res.output
    assert '"value in about a day"\n    Time to value, median: ' in res.output
    assert "claimed 1 to 1,000 teams: inside" in res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    teams = summary["claims"][1]
    assert teams["metric"] == "teams" and teams["verdict"] == "inside"
    assert teams["mean"] == pytest.approx(summary["metrics"]["teams"]["mean"])
    assert "The story&#x27;s claims, measured" in (out / "report.html").read_text(
        encoding="utf-8")


def test_a_bad_claim_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    story = tmp_path / "story.toml"
    story.write_text(STORY.replace('metric = "teams"', 'metric = "teamz"'), encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(story), "-n", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert 'story.toml: claims[2].metric = "teamz": unknown metric (did you mean "teams"?)' \
        in res.output
    assert not (tmp_path / "o").exists()
