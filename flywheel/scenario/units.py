"""Durations and rates as founders write them (``"3d"``, ``"40/week"``), in model units.

The model keeps time in days: a duration is a number of days and a rate is a
count per day.  Scenario files always carry a unit, so a bare ``3`` never has to
be guessed at; these functions parse such strings and format numbers back into
them.  A bare ``m`` is refused because minutes and months are both plausible.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from flywheel.scenario.defaults import (
    DAYS_PER_MONTH,
    DAYS_PER_WEEK,
    DAYS_PER_YEAR,
    MAX_DURATION,
    MAX_DURATION_YEARS,
)

__all__ = [
    "UnitError",
    "format_duration",
    "format_rate",
    "parse_duration",
    "parse_rate",
]


class UnitError(ValueError):
    """A duration or rate that cannot be read; the message shows the value and what is allowed."""


#: Canonical unit -> (days per unit, spellings accepted, case-insensitively).
_UNITS: dict[str, tuple[float, tuple[str, ...]]] = {
    "min": (1.0 / 1440.0, ("min", "mins", "minute", "minutes")),
    "h": (1.0 / 24.0, ("h", "hr", "hrs", "hour", "hours")),
    "d": (1.0, ("d", "day", "days")),
    "w": (DAYS_PER_WEEK, ("w", "wk", "week", "weeks")),
    "mo": (DAYS_PER_MONTH, ("mo", "month", "months")),
    "y": (DAYS_PER_YEAR, ("y", "yr", "year", "years")),
}
_SPELLINGS: dict[str, float] = {s: days for days, names in _UNITS.values() for s in names}
_ALLOWED = "allowed units: " + ", ".join(_UNITS)

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?|[+-]?(?:infinity|inf|nan)"
_DURATION_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>[a-z]*)\s*$", re.IGNORECASE)
_NUMBER_RE = re.compile(rf"^\s*(?:{_NUMBER})\s*$", re.IGNORECASE)

#: How close a formatted value must come back when parsed (relative), and the
#: looser bound used for display-only formatting (3 significant digits always meet it).
_EXACT_TOL = 5e-4
_APPROX_TOL = 6e-3


def _show(value: object) -> str:
    """Render a value as the user wrote it: strings in double quotes, others plainly."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _ambiguous(text: str, head: str) -> UnitError:
    """The error for a bare ``m``: ``head`` is everything before the ``m``."""
    return UnitError(
        f'"{text}" is ambiguous: write "{head}min" for minutes or "{head}mo" for months'
    )


def _duration_days(text: str) -> float:
    """Parse a duration string (not a bare number) into days, raising UnitError."""
    if not text.strip():
        raise UnitError(f'empty duration; write a duration such as "3d", {_ALLOWED}')
    match = _DURATION_RE.match(text)
    if match is None:
        raise UnitError(f'"{text}" is not a duration; write one such as "3d", {_ALLOWED}')
    number = float(match["num"])
    unit = match["unit"].lower()
    if not unit:
        raise UnitError(f'"{text}" has no unit; write a duration such as "3d", {_ALLOWED}')
    if unit == "m":
        raise _ambiguous(text.strip(), text.strip()[:-1].rstrip())
    if unit not in _SPELLINGS:
        raise UnitError(
            f'unknown unit "{match["unit"]}" in "{text}"; {_ALLOWED} '
            "(or minutes, hours, days, weeks, months, years)"
        )
    if not math.isfinite(number):
        raise UnitError(f'"{text}" is not a finite duration')
    if number < 0:
        raise UnitError(f'"{text}" is negative; durations must be zero or more')
    days = number * _SPELLINGS[unit]
    if not days <= MAX_DURATION:  # also catches an overflow to infinity ("1e308y")
        raise UnitError(
            f'"{text}" is too long; durations are at most {MAX_DURATION_YEARS}y'
        )
    return days


def parse_duration(value: object) -> float:
    """Read a duration such as ``"10min"``, ``"1.5d"`` or ``"2 w"`` and return days.

    Bare numbers are refused: a scenario must say which unit it means.  Durations
    are at most 1000 years (:data:`~flywheel.scenario.defaults.MAX_DURATION`).
    """
    if isinstance(value, bool):
        raise UnitError(f'{value!r} is not a duration; write one such as "3d", {_ALLOWED}')
    if isinstance(value, (int, float)):
        raise UnitError(f'{value!r} has no unit; write a duration such as "3d", {_ALLOWED}')
    if not isinstance(value, str):
        raise UnitError(f'{value!r} is not a duration; expected a string such as "3d", {_ALLOWED}')
    return _duration_days(value)


def parse_rate(value: object) -> float:
    """Read a rate such as ``"40/week"``, ``"0.03/month"`` or ``"5/2w"`` and return per day."""
    example = 'expected a rate such as "40/week"'
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UnitError(f"{value!r} is not a rate; {example}")
    if not isinstance(value, str):
        raise UnitError(f"{value!r} has no period; {example}")
    text = value
    if "/" not in text:
        raise UnitError(f'"{text}" has no "/period"; {example}')
    if text.count("/") > 1:
        raise UnitError(f'"{text}" has more than one "/"; {example}')
    count_text, period_text = text.split("/")
    if not _NUMBER_RE.match(count_text):
        raise UnitError(f'"{text}" does not start with a number; {example}')
    count = float(count_text)
    if not math.isfinite(count):
        raise UnitError(f'"{text}" is not a finite rate')
    if count < 0:
        raise UnitError(f'"{text}" is negative; rates must be zero or more')
    period = period_text.strip()
    bare_unit = re.fullmatch(r"[a-z]+", period, re.IGNORECASE) is not None
    match = _DURATION_RE.match("1" + period if bare_unit else period)
    if match is not None and match["unit"].lower() == "m":
        raise _ambiguous(text.strip(), f"{count_text.strip()}/{period[:-1].rstrip()}")
    if bare_unit:  # "40/week" means 40 per one week
        if period.lower() not in _SPELLINGS:
            raise UnitError(
                f'unknown period "{period}" in "{text}"; {_ALLOWED} '
                "(or minute, hour, day, week, month, year)"
            )
        days = _SPELLINGS[period.lower()]
    else:
        try:
            days = _duration_days(period)
        except UnitError as error:
            raise UnitError(f'bad period "{period}" in "{text}": {error}') from None
    if days <= 0:
        raise UnitError(f'"{text}" has a zero period; the period must be longer than zero')
    per_day = count / days
    if not math.isfinite(per_day):  # "1e308/min", "1/1e-320d": too large for a float
        raise UnitError(f'"{text}" is not a finite rate per day; write a smaller rate')
    return per_day


def _round_sig(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant digits."""
    if x == 0:
        return 0.0
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _plain(x: float) -> str:
    """A float without exponent or trailing zeros (``3650.0`` -> ``"3650"``)."""
    text = format(Decimal(repr(x)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _pick(
    x: float,
    candidates: list[tuple[str, float]],
    *,
    approx: bool = False,
    fallback: int = 0,
) -> tuple[str, str]:
    """Choose how to show ``x`` as ``number * unit`` among ``(unit, size)`` candidates,
    in order of preference.

    First choice: the first unit where at most 3 significant digits are exact ("45d"
    rather than "1.48mo").  Then the first where 3 digits come within 0.05% (0.6% with
    ``approx``).  Failing both, ``candidates[fallback]`` with as many digits as it
    takes to come within 0.05%.  Returns (number text, unit name).
    """
    for name, size in candidates:
        for digits in range(1, 4):
            rounded = _round_sig(x / size, digits)
            if abs(rounded * size - x) <= 1e-9 * x:
                return _plain(rounded), name
    tol = _APPROX_TOL if approx else _EXACT_TOL
    for name, size in candidates:
        rounded = _round_sig(x / size, 3)
        if abs(rounded * size - x) <= tol * x:
            return _plain(rounded), name
    name, size = candidates[fallback]
    for digits in range(4, 18):
        rounded = _round_sig(x / size, digits)
        if abs(rounded * size - x) <= _EXACT_TOL * x:
            break
    return _plain(rounded), name


def format_duration(days: float, *, approx: bool = False) -> str:
    """Write a number of days as a duration string that reads well (``14`` -> ``"2w"``).

    Uses the largest unit (y, mo, whole w, d, h, min) that keeps the number at least
    1 and writes ``days`` exactly in at most 3 significant digits; else the largest
    that comes within 0.05% in 3 digits; else the largest unit with more digits.  So
    the result always parses back within 0.05%.  ``approx=True`` is for display: it
    accepts 3 digits up to 0.6% off, so it never needs more than 3.
    """
    x = float(days)
    if not math.isfinite(x) or x < 0:
        raise UnitError(f"{x!r} is not a duration in days; it must be finite and zero or more")
    if x == 0:
        return "0d"
    candidates = []
    for name in reversed(_UNITS):
        size = _UNITS[name][0]
        amount = x / size
        if amount < 1:
            continue
        if name == "w" and abs(amount - round(amount)) > 1e-9 * amount:
            continue  # weeks only when whole: "10d" reads better than "1.43w"
        candidates.append((name, size))
    if not candidates:  # under a minute
        candidates = [("min", _UNITS["min"][0])]
    number, unit = _pick(x, candidates, approx=approx)
    return number + unit


def format_rate(per_day: float) -> str:
    """Write a per-day rate as ``"<n>/day"``, ``"/week"`` or ``"/month"``: the first of
    those exact in at most 3 significant digits (``"150/week"``), else the first within
    0.05% in 3 digits, else per day (or per week or month if below 1 a day) with more
    digits.  Always parses back within 0.05%."""
    x = float(per_day)
    if not math.isfinite(x) or x < 0:
        raise UnitError(f"{x!r} is not a rate per day; it must be finite and zero or more")
    if x == 0:
        return "0/day"
    # _pick divides by a unit size; a rate shown per period P is x * P = x / (1 / P).
    candidates = [("day", 1.0), ("week", 1.0 / DAYS_PER_WEEK), ("month", 1.0 / DAYS_PER_MONTH)]
    fallback = next((i for i, (_, size) in enumerate(candidates) if x / size >= 1), 2)
    number, unit = _pick(x, candidates, fallback=fallback)
    return f"{number}/{unit}"
