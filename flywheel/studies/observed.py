"""A founder's own numbers: weekly observed data, read from one documented CSV format.

The file has a ``week`` column and any subset of six series (docs/calibration.md)::

    week,signups,activated,new_paying,paying,mrr,active_users
    1,120,41,,0,0,38
    2,131,47,2,2,90,71
    3,128,,3,5,225,

``week`` is 1 for the first seven days (then 2, 3, ...), or the ISO date each week starts
(``2026-03-02``), all rows one way.  ``signups``, ``activated`` and ``new_paying`` are
flows within the week; ``paying``, ``mrr`` and ``active_users`` are levels at its end.  A
blank cell is unknown; weeks may be missing, never repeated or out of order.  Every
mistake is one :class:`~flywheel.scenario.files.ScenarioError` line naming the file, the
row, the column, the value and what is allowed, as for a scenario.

:func:`weekly` (and :meth:`Observed.from_model`) turns a run's daily series (:data:`flywheel.metrics.SERIES`)
into the same weeks, so the data and the model are compared on one footing.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flywheel.scenario.defaults import PARAMS_BY_PATH
from flywheel.scenario.files import ScenarioError

__all__ = ["COLUMNS", "Column", "Observed", "read_observed", "weekly"]


@dataclass(frozen=True)
class Column:
    """One observed series: its meaning, its unit, whether it is a flow within the week
    or a level at its end, and the model's daily series it is compared with (flows are
    summed over the week's days, a level is read at the week's last day)."""

    name: str
    meaning: str
    unit: str
    flow: bool
    model: tuple[str, ...]


#: The series a data file may have, in the order of the docs.
COLUMNS: dict[str, Column] = {c.name: c for c in (
    Column("signups", "people who signed up during the week", "users", True, ("signups",)),
    Column("activated", "signups who reached value during the week", "users", True,
           ("activations",)),
    Column("new_paying", "customers who started paying during the week (self-serve "
           "upgrades, trial conversions, win-backs and contracts won)", "companies", True,
           ("upgrades", "won")),
    Column("paying", "paying customers at the week's end", "companies", False,
           ("paying_teams",)),
    Column("mrr", "monthly recurring revenue at the week's end", "$ per month", False,
           ("mrr",)),
    Column("active_users", "users with a seat at the week's end", "users", False,
           ("active_users",)),
)}

#: The week column's name.
WEEK = "week"
#: Most weeks a file may span: the longest horizon a scenario may run (10 years).
MAX_WEEKS = int(PARAMS_BY_PATH["simulation.horizon"].maximum // 7)


@dataclass(frozen=True)
class Observed:
    """A data file read: ``weeks`` (1-based, increasing), ``first_day`` (the date week 1
    starts, when the file gives dates) and each series present (NaN: unknown)."""

    file: str
    weeks: np.ndarray
    series: dict[str, np.ndarray]
    first_day: dt.date | None = None

    @property
    def horizon_weeks(self) -> int:
        """The last week the data reach: the horizon a run needs to cover it."""
        return int(self.weeks[-1])

    def known(self, name: str) -> np.ndarray:
        """Where series ``name`` has a value (a boolean mask over :attr:`weeks`)."""
        return ~np.isnan(self.series[name])

    def from_model(self, daily: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A run's daily series as this file's weeks, for each series the file has
        (:func:`weekly`)."""
        return weekly(daily, self.weeks, self.series)


def weekly(daily: Mapping[str, np.ndarray], weeks: np.ndarray,
           names: Iterable[str] = COLUMNS) -> dict[str, np.ndarray]:
    """A run's daily series (day 1, 2, ...: :func:`~flywheel.engines.tally.day_grid`) as
    the data series ``names`` over ``weeks`` (1-based): a flow summed over the week's seven
    days, a level at its last day; NaN for a week the run did not reach."""
    out = {}
    for name in names:
        col = COLUMNS[name]
        per_day = sum(np.asarray(daily[s], dtype=float) for s in col.model)
        days = len(per_day)
        values = np.full(len(weeks), np.nan)
        for i, w in enumerate(weeks):
            last = 7 * int(w)
            if last > days:
                continue
            values[i] = per_day[last - 7:last].sum() if col.flow else per_day[last - 1]
        out[name] = values
    return out


def _fail(file: str, problem: str, row: int | None = None, column: str | None = None,
          value: object = None, allowed: str = "") -> ScenarioError:
    where = ", ".join(p for p in (f"row {row}" if row is not None else "",
                                  column or "") if p) or None
    if value is None:
        return ScenarioError(problem, file=file, key=where, allowed=allowed)
    return ScenarioError(problem, file=file, key=where, value=value, allowed=allowed)


def _header(file: str, header: list[str] | None) -> list[str]:
    if not header or not any(h.strip() for h in header):
        raise _fail(file, "no header row", allowed="the first row names the columns: "
                    f"{WEEK} and any of {', '.join(COLUMNS)}")
    names = [h.strip().lower() for h in header]
    known = (WEEK, *COLUMNS)
    for i, name in enumerate(names, 1):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            raise _fail(file, f'unknown column "{header[i - 1].strip()}"'
                        + (f' (did you mean "{close[0]}"?)' if close else ""), row=1,
                        allowed="" if close else f"columns are {', '.join(known)}")
        if names.count(name) > 1:
            raise _fail(file, f'column "{name}" appears twice', row=1)
    if WEEK not in names:
        raise _fail(file, f'no "{WEEK}" column', row=1,
                    allowed="a week column: 1 for the first seven days, or the ISO date "
                            "each week starts")
    if len(names) == 1:
        raise _fail(file, "no data column", row=1,
                    allowed=f"any of {', '.join(COLUMNS)}")
    return names


def _week(file: str, row: int, text: str) -> int | dt.date:
    allowed = "a week number (1 for the first seven days) or the ISO date the week starts"
    if not text:
        raise _fail(file, "the week is blank", row=row, column=WEEK, allowed=allowed)
    try:
        n = int(text)
    except ValueError:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise _fail(file, "not a week", row=row, column=WEEK, value=text,
                        allowed=allowed) from None
    if not 1 <= n <= MAX_WEEKS:
        raise _fail(file, "week out of range", row=row, column=WEEK, value=n,
                    allowed=f"a whole number from 1 to {MAX_WEEKS:,}")
    return n


def _number(file: str, row: int, column: str, text: str) -> float:
    if not text:
        return math.nan
    allowed = "a number, 0 or more, or a blank cell for unknown"
    try:
        if "_" in text:  # (float() takes "1_000"; a spreadsheet never writes it)
            raise ValueError(text)
        x = float(text)
    except ValueError:
        raise _fail(file, "not a number", row=row, column=column, value=text,
                    allowed=allowed) from None
    if not math.isfinite(x) or x < 0:
        raise _fail(file, "not a count or amount", row=row, column=column, value=text,
                    allowed=allowed)
    return x


def read_observed(path: str | Path) -> Observed:
    """Read and check a data file (see the module's docstring for the format)."""
    file = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise _fail(file, "no such file") from None
    except UnicodeDecodeError:
        raise _fail(file, "not a text file in UTF-8",
                    allowed="save it as CSV (UTF-8) from the spreadsheet") from None
    except (OSError, csv.Error) as exc:
        raise _fail(file, f"cannot be read ({exc})") from None
    names = _header(file, rows[0] if rows else None)
    weeks: list[int | dt.date] = []
    texts: list[str] = []  # each data row's week as written
    at: list[int] = []  # each data row's row number in the file
    values: dict[str, list[float]] = {n: [] for n in names if n != WEEK}
    for r, cells in enumerate(rows[1:], 2):
        if not any(c.strip() for c in cells):
            continue  # a blank line
        at.append(r)
        if len(cells) > len(names):
            raise _fail(file, f"{len(cells)} cells, but {len(names)} columns", row=r,
                        allowed="one cell per column of the header")
        cells = [c.strip() for c in cells] + [""] * (len(names) - len(cells))
        for name, text in zip(names, cells, strict=True):
            if name == WEEK:
                weeks.append(_week(file, r, text))
                texts.append(text)
            else:
                values[name].append(_number(file, r, name, text))
    if not weeks:
        raise _fail(file, "no data rows", allowed="one row per week under the header")
    dated = [isinstance(w, dt.date) for w in weeks]
    if any(dated) and not all(dated):
        r = at[dated.index(not dated[0])]
        raise _fail(file, "mixes week numbers and dates", row=r, column=WEEK,
                    allowed="write every week as a number, or every week as a date")
    first_day = weeks[0] if dated[0] else None
    if first_day is not None:
        numbered = []
        for i, d in enumerate(weeks):
            days = (d - first_day).days  # type: ignore[operator]
            if days % 7:
                raise _fail(file, f"{days} days after the first week's {first_day}, not a "
                            "whole number of weeks", row=at[i], column=WEEK,
                            value=texts[i], allowed="the date each week starts, 7 days apart")
            numbered.append(days // 7 + 1)
        weeks = numbered  # type: ignore[assignment]
    for i in range(1, len(weeks)):
        if weeks[i] <= weeks[i - 1]:  # type: ignore[operator]
            raise _fail(file, "weeks out of order or repeated", row=at[i], column=WEEK,
                        value=texts[i], allowed="one row per week, in order")
    if int(weeks[-1]) > MAX_WEEKS:  # type: ignore[arg-type]
        raise _fail(file, f"the data span {weeks[-1]} weeks", column=WEEK,
                    allowed=f"at most {MAX_WEEKS:,} (the longest horizon)")
    series = {n: np.asarray(v, dtype=float) for n, v in values.items()}
    empty = [n for n, v in series.items() if np.isnan(v).all()]
    if empty:
        raise _fail(file, f"column {empty[0]} has no value", column=empty[0],
                    allowed="leave the column out, or give at least one week's value")
    return Observed(file=file, weeks=np.asarray(weeks, dtype=np.int64), series=series,
                    first_day=first_day)  # type: ignore[arg-type]
