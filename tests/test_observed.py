"""A founder's weekly data: the CSV format read, checked, and laid beside a run's series."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from flywheel.engines.model import Model
from flywheel.engines.rng import replication_seeds
from flywheel.metrics import replication_series
from flywheel.scenario.files import ScenarioError, load_scenario
from flywheel.scenario.settings import Settings
from flywheel.studies.observed import COLUMNS, read_observed


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_of_week_numbers_with_blanks(tmp_path: Path) -> None:
    obs = read_observed(write(tmp_path, "week,signups,paying\n1,120,0\n2,,2\n\n4,128,5\n"))
    assert obs.weeks.tolist() == [1, 2, 4] and obs.first_day is None
    assert obs.series["signups"][[0, 2]].tolist() == [120.0, 128.0]
    assert math.isnan(obs.series["signups"][1])
    assert obs.known("signups").tolist() == [True, False, True]
    assert obs.horizon_weeks == 4


def test_a_file_of_dates_numbers_its_weeks_from_the_first(tmp_path: Path) -> None:
    obs = read_observed(write(tmp_path, "Week,MRR\n2026-03-02,90\n2026-03-09,225\n"
                                        "2026-03-30,400\n"))
    assert obs.first_day == dt.date(2026, 3, 2)
    assert obs.weeks.tolist() == [1, 2, 5]
    assert obs.series["mrr"].tolist() == [90.0, 225.0, 400.0]


@pytest.mark.parametrize("text, message", [
    ("", "data.csv: no header row"),
    ("signups\n1\n", 'data.csv: row 1: no "week" column'),
    ("week\n1\n", "data.csv: row 1: no data column"),
    ("week,signup\n1,2\n", 'data.csv: row 1: unknown column "signup" (did you mean "signups"?)'),
    ("week,signups,signups\n1,2,3\n", 'data.csv: row 1: column "signups" appears twice'),
    ("week,signups\n1,abc\n", 'data.csv: row 2, signups = "abc": not a number; a number, 0 '
                             "or more, or a blank cell for unknown"),
    ("week,signups\n1,-4\n", 'data.csv: row 2, signups = "-4": not a count or amount'),
    ("week,signups\n1,3\n1,4\n", 'data.csv: row 3, week = "1": weeks out of order or repeated'),
    ("week,signups\n0,3\n", "data.csv: row 2, week = 0: week out of range; a whole number "
                           "from 1 to 521"),
    ("week,signups\nmonday,3\n", 'data.csv: row 2, week = "monday": not a week'),
    ("week,signups\n2026-03-02,3\n2,4\n", "data.csv: row 3, week: mixes week numbers and dates"),
    ("week,signups\n2026-03-02,3\n2026-03-10,4\n",
     'data.csv: row 3, week = "2026-03-10": 8 days after the first week\'s 2026-03-02, not a '
     "whole number of weeks"),
    ("week,signups\n1,3,4\n", "data.csv: row 2: 3 cells, but 2 columns"),
    ("week,signups,mrr\n1,3,\n", "data.csv: mrr: column mrr has no value"),
    ("week,signups\n", "data.csv: no data rows"),
])
def test_a_bad_file_is_one_line_naming_row_column_and_value(tmp_path: Path, text: str,
                                                            message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        read_observed(path)
    assert str(err.value).replace(str(path), "data.csv").startswith(message), str(err.value)


def test_a_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        read_observed(tmp_path / "nope.csv")
    path = tmp_path / "data.csv"
    path.write_bytes(b"week,signups\n1,\xff\xfe\n")
    with pytest.raises(ScenarioError, match="not a text file in UTF-8"):
        read_observed(path)


def test_the_model_is_read_as_the_files_weeks(tmp_path: Path) -> None:
    """Flows are the sum of the week's seven days, levels the week's last day: checked
    against the run's own daily series, and the weekly signups of a 10-week run add up to
    its signups over the first 70 days."""
    sc = load_scenario("baseline", ["simulation.horizon=75d", "market.companies=3000"])
    o = Model(Settings.of(sc), replication_seeds(3, 1)[0]).run()
    daily = replication_series(o)
    obs_text = "week," + ",".join(COLUMNS) + "\n" + "".join(
        f"{w}," + ",".join("1" for _ in COLUMNS) + "\n" for w in (1, 2, 5, 10, 11))
    obs = read_observed(write(tmp_path, obs_text))
    weekly = obs.from_model(daily)
    assert weekly["signups"][2] == pytest.approx(daily["signups"][28:35].sum())
    assert weekly["new_paying"][3] == pytest.approx(daily["upgrades"][63:70].sum()
                                                    + daily["won"][63:70].sum())
    assert weekly["paying"][1] == daily["paying_teams"][13]
    assert weekly["mrr"][3] == daily["mrr"][69]
    assert math.isnan(weekly["active_users"][4])  # week 11 ends on day 77, past the run
    signups_70 = np.sum(o.users["signup"] < 70)
    assert daily["signups"][:70].sum() == pytest.approx(signups_70)
