"""Durations and rates: parsing every unit, refusing what is ambiguous, formatting back."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flywheel.scenario.defaults import DAYS_PER_MONTH, DAYS_PER_YEAR
from flywheel.scenario.units import (
    UnitError,
    format_duration,
    format_rate,
    parse_duration,
    parse_rate,
)

MINUTE = 1 / 1440
HOUR = 1 / 24

UNIT_DAYS = {
    **dict.fromkeys(["min", "mins", "minute", "minutes"], MINUTE),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], HOUR),
    **dict.fromkeys(["d", "day", "days"], 1.0),
    **dict.fromkeys(["w", "wk", "week", "weeks"], 7.0),
    **dict.fromkeys(["mo", "month", "months"], DAYS_PER_MONTH),
    **dict.fromkeys(["y", "yr", "year", "years"], DAYS_PER_YEAR),
}
ALLOWED = "allowed units: min, h, d, w, mo, y"


# -- parse_duration ------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "days"), sorted(UNIT_DAYS.items()))
def test_every_unit_spelling_parses_to_its_days(unit: str, days: float) -> None:
    assert parse_duration(f"3{unit}") == pytest.approx(3 * days, rel=1e-12)
    assert parse_duration(f"3 {unit}") == pytest.approx(3 * days, rel=1e-12)
    assert parse_duration(f"3{unit.upper()}") == pytest.approx(3 * days, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("10min", 10 / 1440),
        ("1.5d", 1.5),
        ("2 w", 14.0),
        ("1mo", 30.4375),
        ("1y", 365.25),
        ("0d", 0.0),
        (".5h", 0.5 / 24),
        ("1e3d", 1000.0),
        ("  2  Days ", 2.0),
    ],
)
def test_documented_examples(text: str, days: float) -> None:
    assert parse_duration(text) == pytest.approx(days, rel=1e-12)


def test_month_and_year_use_the_defaults_constants() -> None:
    assert parse_duration("12mo") == pytest.approx(parse_duration("1y"), rel=1e-12)
    assert parse_duration("1y") == DAYS_PER_YEAR


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5m", '"5m" is ambiguous: write "5min" for minutes or "5mo" for months'),
        ("5M", '"5M" is ambiguous: write "5min" for minutes or "5mo" for months'),
        ("2.5 m", '"2.5 m" is ambiguous: write "2.5min" for minutes or "2.5mo" for months'),
    ],
)
def test_bare_m_is_refused_as_ambiguous(text: str, message: str) -> None:
    with pytest.raises(UnitError, match=f"^{re.escape(message)}$"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, f'3 has no unit; write a duration such as "3d", {ALLOWED}'),
        (2.5, f'2.5 has no unit; write a duration such as "3d", {ALLOWED}'),
        ("3", f'"3" has no unit; write a duration such as "3d", {ALLOWED}'),
        (True, f'True is not a duration; write one such as "3d", {ALLOWED}'),
        (None, f'None is not a duration; expected a string such as "3d", {ALLOWED}'),
        ("", f'empty duration; write a duration such as "3d", {ALLOWED}'),
        ("   ", f'empty duration; write a duration such as "3d", {ALLOWED}'),
        ("-3d", '"-3d" is negative; durations must be zero or more'),
        ("infd", '"infd" is not a finite duration'),
        ("nan d", '"nan d" is not a finite duration'),
        ("3x", f'unknown unit "x" in "3x"; {ALLOWED} (or minutes'),
        ("3 fortnights", f'unknown unit "fortnights" in "3 fortnights"; {ALLOWED}'),
        ("abc", f'"abc" is not a duration; write one such as "3d", {ALLOWED}'),
        ("3d4h", f'"3d4h" is not a duration; write one such as "3d", {ALLOWED}'),
    ],
)
def test_parse_duration_refusals(value: object, message: str) -> None:
    with pytest.raises(UnitError, match=f"^{re.escape(message)}"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e308y", '"1e308y" is too long; durations are at most 1000y'),
        ("1001y", '"1001y" is too long; durations are at most 1000y'),
        ("365251d", '"365251d" is too long; durations are at most 1000y'),
    ],
)
def test_parse_duration_refuses_more_than_1000_years(value: str, message: str) -> None:
    with pytest.raises(UnitError, match=f"^{re.escape(message)}$"):
        parse_duration(value)


def test_parse_duration_accepts_up_to_1000_years_and_tiny_values() -> None:
    assert parse_duration("1000y") == 1000 * DAYS_PER_YEAR
    assert parse_duration("365250d") == 365250.0
    assert parse_duration("1e-300d") == 1e-300


def test_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


# -- parse_rate ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per_day"),
    [
        ("40/week", 40 / 7),
        ("40/w", 40 / 7),
        ("40 / Weeks", 40 / 7),
        ("0.03/month", 0.03 / DAYS_PER_MONTH),
        ("2000/mo", 2000 / DAYS_PER_MONTH),
        ("1/day", 1.0),
        ("24/h", 24 * 24.0),
        ("1/y", 1 / DAYS_PER_YEAR),
        ("5/2w", 5 / 14),
        ("5 / 2 weeks", 5 / 14),
        ("3/12h", 6.0),
        ("0/month", 0.0),
    ],
)
def test_parse_rate(text: str, per_day: float) -> None:
    assert parse_rate(text) == pytest.approx(per_day, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5/m", '"5/m" is ambiguous: write "5/min" for minutes or "5/mo" for months'),
        ("5/2m", '"5/2m" is ambiguous: write "5/2min" for minutes or "5/2mo" for months'),
        (40, '40 has no period; expected a rate such as "40/week"'),
        (0.5, '0.5 has no period; expected a rate such as "40/week"'),
        (None, 'None is not a rate; expected a rate such as "40/week"'),
        (True, 'True is not a rate; expected a rate such as "40/week"'),
        ("40", '"40" has no "/period"; expected a rate such as "40/week"'),
        ("40 week", '"40 week" has no "/period"; expected a rate such as "40/week"'),
        ("5/2/w", '"5/2/w" has more than one "/"; expected a rate such as "40/week"'),
        ("a/week", '"a/week" does not start with a number; expected a rate such as "40/week"'),
        ("/week", '"/week" does not start with a number; expected a rate such as "40/week"'),
        ("-5/week", '"-5/week" is negative; rates must be zero or more'),
        ("inf/day", '"inf/day" is not a finite rate'),
        ("5/fortnight", f'unknown period "fortnight" in "5/fortnight"; {ALLOWED}'),
        ("5/3x", f'bad period "3x" in "5/3x": unknown unit "x" in "3x"; {ALLOWED}'),
        ("5/", 'bad period "" in "5/": empty duration'),
        ("5/-2d", 'bad period "-2d" in "5/-2d": "-2d" is negative'),
        ("5/0d", '"5/0d" has a zero period; the period must be longer than zero'),
    ],
)
def test_parse_rate_refusals(value: object, message: str) -> None:
    with pytest.raises(UnitError, match=f"^{re.escape(message)}"):
        parse_rate(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e400/day", '"1e400/day" is not a finite rate'),
        ("1e308/min", '"1e308/min" is not a finite rate per day; write a smaller rate'),
        ("1/1e-320d", '"1/1e-320d" is not a finite rate per day; write a smaller rate'),
        ("5/2000y", 'bad period "2000y" in "5/2000y": "2000y" is too long; '
                    "durations are at most 1000y"),
    ],
)
def test_parse_rate_refuses_non_finite_results(value: str, message: str) -> None:
    with pytest.raises(UnitError, match=f"^{re.escape(message)}$"):
        parse_rate(value)


# -- formatting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (10 / 1440, "10min"),
        (1.5, "1.5d"),
        (14, "2w"),
        (7, "1w"),
        (365.25, "1y"),
        (0, "0d"),
        (0.5, "12h"),
        (1 / 24, "1h"),
        (2.5 / 24, "2.5h"),
        (30, "30d"),  # under a month, and not whole weeks
        (10, "10d"),  # weeks only when whole
        (35, "5w"),  # whole weeks read better than "1.15mo"
        (45, "45d"),  # exact in days; "1.48mo" is 0.1% off
        (7 / 3, "56h"),  # exact in hours; "2.33d" is not
        (DAYS_PER_MONTH, "1mo"),
        (3 * DAYS_PER_MONTH, "3mo"),
        (2 * DAYS_PER_YEAR, "2y"),
        (3650, "3650d"),  # exact; "9.99y" is 0.03% off
        (123.456789, "4.056mo"),  # nothing exact or within 0.05% in 3 digits: add one
    ],
)
def test_format_duration(days: float, text: str) -> None:
    assert format_duration(days) == text


def test_format_duration_approx_keeps_three_digits_in_the_larger_unit() -> None:
    assert format_duration(math.pi) == "75.4h"  # "3.14d" is 0.05070% off, just over 0.05%
    assert format_duration(math.pi, approx=True) == "3.14d"
    assert format_duration(2.0, approx=True) == "2d"


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_format_duration_refuses_impossible_values(bad: float) -> None:
    with pytest.raises(UnitError, match="must be finite and zero or more"):
        format_duration(bad)


@given(st.floats(min_value=1 / 1440, max_value=3650, allow_nan=False))
def test_duration_round_trip(days: float) -> None:
    text = format_duration(days)
    assert parse_duration(text) == pytest.approx(days, rel=1e-3), text
    short = format_duration(days, approx=True)
    assert parse_duration(short) == pytest.approx(days, rel=6e-3), short
    assert len(re.sub(r"[^0-9]", "", short).strip("0")) <= 3, short


@pytest.mark.parametrize(
    ("per_day", "text"),
    [
        (150 / 7, "150/week"),
        (40 / 7, "40/week"),
        (1.0, "1/day"),  # ties (1/day = 7/week) go to the shorter period
        (2.0, "2/day"),
        (0.5, "0.5/day"),
        (1 / 7, "1/week"),
        (0.03 / DAYS_PER_MONTH, "0.03/month"),
        (2000 / DAYS_PER_MONTH, "2000/month"),
        (0.0, "0/day"),
        (3.3, "3.3/day"),
        (math.pi, "22/week"),  # 22/7 is within 0.05% of pi, in 2 digits
        (0.0123456, "0.0864/week"),  # no 3-digit form is exact: fewest digits wins
    ],
)
def test_format_rate(per_day: float, text: str) -> None:
    assert format_rate(per_day) == text


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf])
def test_format_rate_refuses_impossible_values(bad: float) -> None:
    with pytest.raises(UnitError, match="must be finite and zero or more"):
        format_rate(bad)


@given(st.floats(min_value=1e-4, max_value=1e5, allow_nan=False))
def test_rate_round_trip(per_day: float) -> None:
    text = format_rate(per_day)
    assert parse_rate(text) == pytest.approx(per_day, rel=1e-3), text
