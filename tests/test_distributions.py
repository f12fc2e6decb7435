"""Distributions: samples match their parameters, common random numbers hold, tables
round-trip, and every refusal says what was wrong and what is allowed.

Sampling checks draw N = 200_000 values from ``np.random.default_rng(12345)``.  Each
tolerance is stated next to its standard error (SE) so it is several SE wide: a real
bug (wrong sigma, wrong scale, mean vs median mix-up) moves the statistic by far more.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from flywheel.scenario.defaults import PARAMS
from flywheel.scenario.distributions import (
    FAMILIES,
    Distribution,
    DistributionError,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Poisson,
    Uniform,
    parse_distribution,
)

SEED = 12345
N = 200_000
Z90 = 1.2815515655446004  # Φ⁻¹(0.9)
FAMILY_LIST = "empirical, exponential, fixed, gamma, lognormal, poisson, uniform"


def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def dur(table: dict[str, Any]) -> Distribution:
    return parse_distribution(table, "duration")


def count(table: dict[str, Any]) -> Distribution:
    return parse_distribution(table, "count")


def assert_quantiles_and_cdf_match(d: Distribution, x: np.ndarray) -> None:
    """quantile() and cdf() agree with the sample of a continuous distribution.

    The fraction of N draws below a fixed point has SE sqrt(q(1-q)/N) <= 0.0011, so
    0.005 is > 4 SE.
    """
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert np.mean(x <= d.quantile(q)) == pytest.approx(q, abs=0.005), q
        assert float(d.cdf(np.array([np.quantile(x, q)]))[0]) == pytest.approx(q, abs=0.005), q


def fields_close(a: Distribution, b: Distribution, rel: float) -> bool:
    """Same family and domain, every field equal within ``rel`` (tables round to ~0.05%)."""
    if type(a) is not type(b) or a.domain != b.domain:
        return False
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, (float, tuple)):
            if vb != pytest.approx(va, rel=rel):
                return False
        elif va != vb:
            return False
    return True


# -- sampling against the parameters -------------------------------------------------


def test_lognormal_sample_matches_median_and_p90() -> None:
    d = dur({"dist": "lognormal", "median": "2d", "p90": "6d"})
    sigma = math.log(3) / Z90  # 0.857
    assert d.sigma == pytest.approx(sigma, rel=1e-12)
    x = d.sample(rng(), N)
    assert x.dtype == np.float64 and x.shape == (N,)
    # Sample median: SE of log(median) = sigma * sqrt(pi/2) / sqrt(N) = 0.24%; 1% is ~4 SE.
    assert np.median(x) == pytest.approx(2.0, rel=0.01)
    # Sample p90: SE of log(p90) = sigma * sqrt(0.09) / phi(Z90) / sqrt(N) = 0.33%; 2% is ~6 SE.
    assert np.quantile(x, 0.9) == pytest.approx(6.0, rel=0.02)
    # Mean 2 exp(sigma^2 / 2) = 2.888; SE = sqrt(exp(sigma^2) - 1) / sqrt(N) = 0.23%; 1.5%.
    assert d.mean() == pytest.approx(2 * math.exp(sigma**2 / 2), rel=1e-12)
    assert np.mean(x) == pytest.approx(2.888, rel=0.015)
    assert d.quantile(0.5) == pytest.approx(2.0, rel=1e-12)
    assert d.quantile(0.9) == pytest.approx(6.0, rel=1e-12)
    assert_quantiles_and_cdf_match(d, x)


def test_lognormal_count_domain_team_size_default() -> None:
    d = count({"dist": "lognormal", "median": 6, "p90": 40})
    x = d.sample(rng(), N)
    # sigma = ln(40/6)/Z90 = 1.48; median SE = 1.48 * 1.2533 / 447 = 0.41%, so 2% is ~5 SE.
    assert np.median(x) == pytest.approx(6.0, rel=0.02)
    # p90 SE = 1.48 * 0.3 / 0.1755 / 447 = 0.57%, so 3% is ~5 SE.
    assert np.quantile(x, 0.9) == pytest.approx(40.0, rel=0.03)


def test_lognormal_with_p90_equal_to_median_is_fixed() -> None:
    d = dur({"dist": "lognormal", "median": "2d", "p90": "2d"})
    generator = rng()
    np.testing.assert_array_equal(d.sample(generator, 10), np.full(10, 2.0))
    assert d.mean() == 2.0 and d.quantile(0.99) == 2.0
    np.testing.assert_array_equal(d.cdf(np.array([1.9, 2.0])), [0.0, 1.0])
    # still consumes its normals, so the stream stays aligned with a non-degenerate one
    reference = rng()
    reference.standard_normal(10)
    assert generator.random() == reference.random()


def test_exponential_sample_matches_mean() -> None:
    d = dur({"dist": "exponential", "mean": "3d"})
    x = d.sample(rng(), N)
    # Mean 3; SE = 3 / sqrt(N) = 0.22%, so 1% is ~4.5 SE.
    assert np.mean(x) == pytest.approx(3.0, rel=0.01)
    # Median 3 ln 2 = 2.079; SE = 0.5 / (f(median) sqrt(N)) = 0.32%, so 1.5% is ~4.5 SE.
    assert np.median(x) == pytest.approx(3 * math.log(2), rel=0.015)
    # p90 3 ln 10 = 6.908; SE 0.29%, so 2% is ~7 SE.
    assert np.quantile(x, 0.9) == pytest.approx(3 * math.log(10), rel=0.02)
    assert d.mean() == 3.0
    assert d.quantile(0.9) == pytest.approx(3 * math.log(10), rel=1e-12)
    assert d.quantile(1.0) == math.inf
    assert_quantiles_and_cdf_match(d, x)


def test_gamma_sample_matches_mean_and_cv() -> None:
    d = dur({"dist": "gamma", "mean": "3d", "cv": 0.5})
    assert isinstance(d, Gamma)
    assert d.shape == pytest.approx(4.0) and d.scale == pytest.approx(0.75)
    x = d.sample(rng(), N)
    # Mean 3; SE = cv / sqrt(N) = 0.11%, so 1% is ~9 SE.
    assert np.mean(x) == pytest.approx(3.0, rel=0.01)
    # cv 0.5; SE of the sample cv ~ cv * sqrt((1 + 2 cv^2) / 2N) ~ 0.2%, so 2% is ~10 SE.
    assert np.std(x) / np.mean(x) == pytest.approx(0.5, rel=0.02)
    # p90 from the gamma(4, 0.75) inverse CDF; SE ~ 0.35%, so 2%.
    p90 = float(special.gammaincinv(4.0, 0.9) * 0.75)
    assert d.quantile(0.9) == pytest.approx(p90, rel=1e-12)
    assert np.quantile(x, 0.9) == pytest.approx(p90, rel=0.02)
    assert_quantiles_and_cdf_match(d, x)


def test_uniform_sample_matches_bounds_and_mean() -> None:
    d = dur({"dist": "uniform", "low": "1d", "high": "3d"})
    x = d.sample(rng(), N)
    assert x.min() >= 1.0 and x.max() <= 3.0
    # Gaps at the ends are ~ (high - low) / N = 1e-5; 1e-3 is 100x that.
    assert x.min() == pytest.approx(1.0, abs=1e-3) and x.max() == pytest.approx(3.0, abs=1e-3)
    # Mean 2; SE = 2 / sqrt(12 N) = 0.07%, so 0.5% is ~7 SE.
    assert d.mean() == 2.0
    assert np.mean(x) == pytest.approx(2.0, rel=0.005)
    # Variance (high - low)^2 / 12 = 1/3; SE ~ 0.2%, so 2%.
    assert np.var(x) == pytest.approx(1 / 3, rel=0.02)
    assert d.quantile(0.25) == 1.5
    assert_quantiles_and_cdf_match(d, x)


def test_fixed_returns_its_value_and_consumes_no_random_numbers() -> None:
    d = dur({"dist": "fixed", "value": "2h"})
    generator = rng()
    x = d.sample(generator, 5)
    np.testing.assert_array_equal(x, np.full(5, 2 / 24))
    assert x.dtype == np.float64
    assert generator.random() == rng().random()
    assert d.mean() == d.quantile(0.3) == pytest.approx(2 / 24)
    np.testing.assert_array_equal(d.cdf(np.array([0.0, 2 / 24, 1.0])), [0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("weights", "expected"),
    [(None, [1 / 3, 1 / 3, 1 / 3]), ([1, 3, 1], [0.2, 0.6, 0.2]), ([0, 1, 1], [0.0, 0.5, 0.5])],
)
def test_empirical_frequencies_match_weights(
    weights: list[float] | None, expected: list[float]
) -> None:
    table: dict[str, Any] = {"dist": "empirical", "values": ["5d", "1d", "2d"]}
    if weights is not None:
        table["weights"] = weights
    d = dur(table)
    x = d.sample(rng(), N)
    assert set(np.unique(x)) <= {1.0, 2.0, 5.0}
    # Each frequency has SE sqrt(p(1-p)/N) <= 0.0011, so 0.01 absolute is ~9 SE.
    for value, p in zip([5.0, 1.0, 2.0], expected, strict=True):
        assert np.mean(x == value) == pytest.approx(p, abs=0.01), value
    mean = float(np.dot(expected, [5.0, 1.0, 2.0]))
    assert d.mean() == pytest.approx(mean, rel=1e-12)
    # Mean SE <= 2 / sqrt(N) = 0.0045 days; 0.03 days is > 6 SE.
    assert np.mean(x) == pytest.approx(mean, abs=0.03)
    # cdf() at each support point matches the sample; quantile() is the inverse step.
    for point in (1.0, 2.0, 5.0):
        assert float(d.cdf(np.array([point]))[0]) == pytest.approx(np.mean(x <= point), abs=0.01)
    for q in (0.1, 0.5, 0.9):
        assert np.mean(x <= d.quantile(q)) >= q - 0.01


def test_empirical_quantile_and_cdf_steps() -> None:
    d = dur({"dist": "empirical", "values": ["1d", "2d", "3d"], "weights": [1, 0, 2]})
    np.testing.assert_allclose(d.cdf(np.array([0.5, 1.0, 2.5, 3.0])), [0, 1 / 3, 1 / 3, 1])
    assert d.quantile(0.0) == 1.0
    assert d.quantile(1 / 3) == 1.0
    assert d.quantile(0.34) == 3.0  # 2d has weight 0 and is never a quantile
    assert d.quantile(1.0) == 3.0


def test_poisson_sample_matches_mean_and_variance() -> None:
    d = count({"dist": "poisson", "mean": 3})
    x = d.sample(rng(), N)
    assert x.dtype == np.float64
    assert np.all(x == np.round(x)) and x.min() >= 0
    # Mean 3; SE = sqrt(3 / N) = 0.13%, so 1% is ~8 SE.
    assert np.mean(x) == pytest.approx(3.0, rel=0.01)
    # Variance = mean = 3; SE = sqrt((mu4 - var^2) / N) = sqrt(21 / N) = 0.34%, so 2%.
    assert np.var(x) == pytest.approx(3.0, rel=0.02)
    assert d.mean() == 3.0
    for k in (0, 1, 3, 6):
        assert float(d.cdf(np.array([k]))[0]) == pytest.approx(np.mean(x <= k), abs=0.005)
    assert d.quantile(0.5) == 3.0
    assert d.quantile(0.0) == 0.0
    assert float(d.cdf(np.array([-0.5]))[0]) == 0.0


# -- common random numbers -----------------------------------------------------------


def test_lognormals_with_different_medians_draw_proportional_samples() -> None:
    a = dur({"dist": "lognormal", "median": "1.5d", "p90": "10d"})
    b = dur({"dist": "lognormal", "median": "3d", "p90": "20d"})
    xa, xb = a.sample(rng(), 1000), b.sample(rng(), 1000)
    np.testing.assert_array_equal(xb, 2 * xa)
    # and both are median * exp(sigma * z) of the same standard normals
    z = rng().standard_normal(1000)
    np.testing.assert_allclose(xa, 1.5 * np.exp(a.sigma * z), rtol=1e-12)


def test_lognormals_with_different_spreads_share_their_normals() -> None:
    a = dur({"dist": "lognormal", "median": "2d", "p90": "4d"})
    b = dur({"dist": "lognormal", "median": "2d", "p90": "16d"})
    za = np.log(a.sample(rng(), 1000) / 2) / a.sigma
    zb = np.log(b.sample(rng(), 1000) / 2) / b.sigma
    np.testing.assert_allclose(za, zb, rtol=1e-9, atol=1e-12)


def test_exponentials_with_different_means_draw_proportional_samples() -> None:
    a = dur({"dist": "exponential", "mean": "1d"})
    b = dur({"dist": "exponential", "mean": "3d"})
    np.testing.assert_allclose(b.sample(rng(), 1000), 3 * a.sample(rng(), 1000), rtol=1e-12)


@pytest.mark.parametrize(
    "table",
    [
        {"dist": "lognormal", "median": "1.5d", "p90": "10d"},
        {"dist": "exponential", "mean": "3d"},
        {"dist": "gamma", "mean": "3d", "cv": 0.7},
        {"dist": "uniform", "low": "1d", "high": "3d"},
        {"dist": "fixed", "value": "2d"},
        {"dist": "empirical", "values": ["1d", "2d", "5d"], "weights": [1, 2, 1]},
    ],
)
def test_scaled_multiplies_every_draw_and_keeps_the_stream_aligned(
    table: dict[str, Any],
) -> None:
    d = dur(table)
    ga, gb = rng(), rng()
    np.testing.assert_allclose(d.scaled(0.5).sample(gb, 1000), 0.5 * d.sample(ga, 1000), rtol=1e-9)
    assert ga.random() == gb.random()  # same number of underlying draws consumed
    assert d.scaled(0.5).mean() == pytest.approx(0.5 * d.mean(), rel=1e-12)
    assert d.scaled(0.5).quantile(0.8) == pytest.approx(0.5 * d.quantile(0.8), rel=1e-9)
    zero = d.scaled(0)
    np.testing.assert_array_equal(zero.sample(rng(), 10), np.zeros(10))


def test_poisson_scaled_multiplies_the_mean() -> None:
    d = count({"dist": "poisson", "mean": 2})
    assert d.scaled(1.5) == Poisson(mean_value=3.0)
    assert d.scaled(0).sample(rng(), 5).tolist() == [0.0] * 5


def test_scaled_refuses_negative_factor() -> None:
    with pytest.raises(
        DistributionError, match=re.escape("scale factor (-1) must not be negative")
    ):
        dur({"dist": "exponential", "mean": "1d"}).scaled(-1)


# -- tables, describe ----------------------------------------------------------------


@pytest.mark.parametrize("param", [p for p in PARAMS if p.kind == "distribution"], ids=str)
def test_every_default_parses_and_round_trips(param: Any) -> None:
    d = parse_distribution(param.default, param.domain)
    assert d.domain == param.domain
    assert d.to_table() == param.default
    assert parse_distribution(d.to_table(), d.domain) == d


@pytest.mark.parametrize(
    ("table", "domain", "description"),
    [
        (
            {"dist": "lognormal", "median": "1.5d", "p90": "10d"},
            "duration",
            "lognormal, median 1.5d, p90 10d",
        ),
        (
            {"dist": "lognormal", "median": "15min", "p90": "2h"},
            "duration",
            "lognormal, median 15min, p90 2h",
        ),
        ({"dist": "lognormal", "median": 6, "p90": 40}, "count", "lognormal, median 6, p90 40"),
        ({"dist": "exponential", "mean": "3d"}, "duration", "exponential, mean 3d, p90 6.91d"),
        (
            {"dist": "gamma", "mean": "3d", "cv": 0.5},
            "duration",
            "gamma, mean 3d, cv 0.5, p90 5.01d",
        ),
        ({"dist": "fixed", "value": "0d"}, "duration", "fixed, 0d"),
        ({"dist": "uniform", "low": "1d", "high": "2w"}, "duration", "uniform, 1d to 2w"),
        (
            {"dist": "empirical", "values": [1, 2, 6]},
            "count",
            "empirical, 3 values from 1 to 6, mean 3",
        ),
        (
            {"dist": "empirical", "values": ["1d", "4d"], "weights": [1, 1]},
            "duration",
            "empirical, 2 weighted values from 1d to 4d, mean 2.5d",
        ),
        ({"dist": "poisson", "mean": 1.25}, "count", "poisson, mean 1.25"),
    ],
)
def test_describe(table: dict[str, Any], domain: str, description: str) -> None:
    assert parse_distribution(table, domain).describe() == description


@pytest.mark.parametrize(
    ("table", "domain"),
    [
        ({"dist": "gamma", "mean": "36h", "cv": 1.5}, "duration"),
        ({"dist": "gamma", "mean": 2.5, "cv": 0.25}, "count"),
        ({"dist": "uniform", "low": "0d", "high": "1mo"}, "duration"),
        ({"dist": "empirical", "values": ["1h", "2w"], "weights": [0.25, 0.75]}, "duration"),
        ({"dist": "empirical", "values": [0, 3.5]}, "count"),
        ({"dist": "fixed", "value": 3}, "count"),
        ({"dist": "exponential", "mean": 0.5}, "count"),
    ],
)
def test_to_table_round_trips(table: dict[str, Any], domain: str) -> None:
    d = parse_distribution(table, domain)
    assert parse_distribution(d.to_table(), domain) == d
    assert d.to_table()["dist"] == table["dist"]


@given(
    median=st.floats(min_value=1 / 1440, max_value=3650),
    ratio=st.floats(min_value=1.0, max_value=100.0),
    domain=st.sampled_from(["duration", "count"]),
)
def test_lognormal_table_round_trip_up_to_rounding(
    median: float, ratio: float, domain: str
) -> None:
    d = Lognormal(median=median, p90=median * ratio, domain=domain)
    back = parse_distribution(d.to_table(), domain)
    # durations are written with format_duration, which rounds within 0.05%
    assert fields_close(d, back, rel=1e-3), (d, d.to_table(), back)


def test_families_registry() -> None:
    assert ", ".join(sorted(FAMILIES)) == FAMILY_LIST
    for kind, cls in FAMILIES.items():
        assert cls.kind == kind


def test_distributions_are_frozen_hashable_values() -> None:
    d = dur({"dist": "empirical", "values": ["1d", "2d"]})
    assert d == Empirical(values=[1, 2]) and hash(d) == hash(Empirical(values=(1.0, 2.0)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.values = (3.0,)  # type: ignore[misc]


def test_direct_construction_is_validated() -> None:
    with pytest.raises(DistributionError, match=re.escape('p90 ("1d") is below median ("2d")')):
        Lognormal(median=2.0, p90=1.0)
    with pytest.raises(DistributionError, match="poisson is only for counts"):
        Poisson(mean_value=1.0, domain="duration")
    with pytest.raises(DistributionError, match=re.escape('mean ("3d") must be a number')):
        Exponential(mean_value="3d")  # type: ignore[arg-type]
    with pytest.raises(DistributionError, match=re.escape("value (-1.0) must not be negative")):
        Fixed(value=-1.0)
    with pytest.raises(DistributionError, match=re.escape("domain 'days' must be one of")):
        Uniform(low=0.0, high=1.0, domain="days")


@pytest.mark.parametrize("q", [-0.1, 1.5, math.nan])
def test_quantile_refuses_levels_outside_0_1(q: float) -> None:
    with pytest.raises(DistributionError, match="must be a number in \\[0, 1\\]"):
        dur({"dist": "exponential", "mean": "1d"}).quantile(q)


def test_sample_refuses_negative_size() -> None:
    with pytest.raises(DistributionError, match="sample size -1 must be a whole number"):
        dur({"dist": "exponential", "mean": "1d"}).sample(rng(), -1)


# -- parse_distribution refusals -----------------------------------------------------

UNITS = 'write a duration such as "3d", allowed units: min, h, d, w, mo, y'


@pytest.mark.parametrize(
    ("table", "domain", "message"),
    [
        (
            {"dist": "lognormal", "median": "2d", "p90": "1d"},
            "duration",
            'p90 ("1d") is below median ("2d"); p90 must be at least the median',
        ),
        (
            {"dist": "lognormal", "median": "2d", "p95": "1d"},
            "duration",
            'unknown field "p95" for lognormal (did you mean "p90"?); allowed: median, p90',
        ),
        (
            {"dist": "exponential", "mean": "2d", "sd": "1d"},
            "duration",
            'unknown field "sd" for exponential; allowed: mean',
        ),
        (
            {"dist": "lognorm", "median": "2d"},
            "duration",
            f'unknown dist "lognorm" (did you mean "lognormal"?); allowed: {FAMILY_LIST}',
        ),
        ({"dist": "weibull"}, "duration", f'unknown dist "weibull"; allowed: {FAMILY_LIST}'),
        ({"dist": 3}, "duration", f"dist (3) must name a distribution; allowed: {FAMILY_LIST}"),
        (
            {"mean": "3d"},
            "duration",
            'missing dist; expected an inline table such as { dist = "exponential", mean = "3d" }',
        ),
        (
            "3d",
            "duration",
            'expected an inline table such as { dist = "exponential", mean = "3d" }, got "3d"',
        ),
        (
            None,
            "count",
            'expected an inline table such as { dist = "poisson", mean = 2 }, got None',
        ),
        (
            {"dist": "lognormal", "median": "2d"},
            "duration",
            "lognormal needs median and p90 (missing: p90)",
        ),
        ({"dist": "gamma"}, "duration", "gamma needs mean and cv (missing: mean, cv)"),
        ({"dist": "uniform", "low": "1d"}, "duration", "uniform needs low and high"),
        ({"dist": "empirical"}, "duration", "empirical needs values (missing: values)"),
        ({"dist": "exponential", "mean": 3}, "duration", f"mean (3) needs a unit; {UNITS}"),
        ({"dist": "exponential", "mean": 2.5}, "duration", f"mean (2.5) needs a unit; {UNITS}"),
        (
            {"dist": "exponential", "mean": "-3d"},
            "duration",
            'mean: "-3d" is negative; durations must be zero or more',
        ),
        (
            {"dist": "exponential", "mean": "5m"},
            "duration",
            'mean: "5m" is ambiguous: write "5min" for minutes or "5mo" for months',
        ),
        ({"dist": "fixed", "value": True}, "duration", "value: True is not a duration"),
        ({"dist": "exponential", "mean": -1}, "count", "mean (-1) must not be negative"),
        (
            {"dist": "exponential", "mean": "3"},
            "count",
            'mean ("3") must be a plain number, not a string',
        ),
        ({"dist": "fixed", "value": True}, "count", "value (True) must be a number"),
        ({"dist": "fixed", "value": math.nan}, "count", "value (nan) must be finite"),
        (
            {"dist": "poisson", "mean": "3d"},
            "duration",
            "poisson is only for counts, not durations; for a duration use e.g. "
            '{ dist = "exponential", mean = "3d" }',
        ),
        ({"dist": "gamma", "mean": "3d", "cv": 0}, "duration", "cv (0) must be from 0.01 to 100"),
        (
            {"dist": "gamma", "mean": "3d", "cv": 1e300},
            "duration",
            "cv (1e+300) must be from 0.01 to 100",
        ),
        (
            {"dist": "gamma", "mean": "3d", "cv": 1e-300},
            "duration",
            "cv (1e-300) must be from 0.01 to 100",
        ),
        (
            {"dist": "gamma", "mean": 2, "cv": 101},
            "count",
            "cv (101) must be from 0.01 to 100",
        ),
        (
            {"dist": "lognormal", "median": "1d", "p90": "1e308d"},
            "duration",
            'p90: "1e308d" is too long; durations are at most 1000y',
        ),
        (
            {"dist": "lognormal", "median": "1min", "p90": "10w"},
            "duration",
            'p90 ("10w") is more than 10000 times the median ("1min"); '
            "p90 / median must be at most 10000",
        ),
        (
            {"dist": "lognormal", "median": 1, "p90": 10001},
            "count",
            "p90 (10001) is more than 10000 times the median (1); p90 / median must be at most "
            "10000",
        ),
        (
            {"dist": "exponential", "mean": "1001y"},
            "duration",
            'mean: "1001y" is too long; durations are at most 1000y',
        ),
        ({"dist": "poisson", "mean": 1e308}, "count", "mean (1e+308) must be at most 1000000000"),
        (
            {"dist": "empirical", "values": [1, 2e9]},
            "count",
            "values[1] (2000000000.0) must be at most 1000000000",
        ),
        (
            {"dist": "empirical", "values": [1, 2], "weights": [1e308, 1e308]},
            "count",
            "weights sum to more than a float can hold; only their ratios matter, "
            "so use smaller weights",
        ),
        (
            {"dist": "gamma", "mean": "3d", "cv": "0.5"},
            "duration",
            'cv ("0.5") must be a plain number, not a string',
        ),
        (
            {"dist": "uniform", "low": "3d", "high": "1d"},
            "duration",
            'high ("1d") is below low ("3d"); high must be at least low',
        ),
        (
            {"dist": "lognormal", "median": "0d", "p90": "1d"},
            "duration",
            'median ("0d") must be above zero unless p90 is zero too',
        ),
        (
            {"dist": "empirical", "values": []},
            "duration",
            'values is empty; list at least one, e.g. values = ["1d", "2d", "5d"]',
        ),
        (
            {"dist": "empirical", "values": "1d"},
            "duration",
            'values ("1d") must be a list such as ["1d", "2d", "5d"]',
        ),
        (
            {"dist": "empirical", "values": 4},
            "count",
            "values (4) must be a list such as [1, 2, 5]",
        ),
        (
            {"dist": "empirical", "values": ["1d", "x"]},
            "duration",
            'values[1]: "x" is not a duration',
        ),
        (
            {"dist": "empirical", "values": ["1d", 2]},
            "duration",
            f"values[1] (2) needs a unit; {UNITS}",
        ),
        (
            {"dist": "empirical", "values": ["1d", "2d"], "weights": [1]},
            "duration",
            "1 weights for 2 values; give one weight per value",
        ),
        (
            {"dist": "empirical", "values": ["1d", "2d"], "weights": [0, 0]},
            "duration",
            "weights sum to 0; at least one weight must be above zero",
        ),
        (
            {"dist": "empirical", "values": ["1d", "2d"], "weights": [1, -1]},
            "duration",
            "weights[1] (-1) must not be negative",
        ),
        (
            {"dist": "empirical", "values": ["1d", "2d"], "weights": ["1", "1"]},
            "duration",
            'weights[0] ("1") must be a plain number, not a string',
        ),
        (
            {"dist": "empirical", "values": [1, 2], "weights": "1"},
            "count",
            'weights ("1") must be a list such as [1, 3, 1]',
        ),
        ({"dist": "fixed", "value": "1d"}, "time", "domain 'time' must be one of: duration, count"),
    ],
)
def test_parse_distribution_refusals(table: object, domain: str, message: str) -> None:
    with pytest.raises(DistributionError, match=f"^{re.escape(message)}"):
        parse_distribution(table, domain)


@pytest.mark.parametrize(
    ("table", "domain"),
    [
        ({"dist": "gamma", "mean": "1000y", "cv": 100}, "duration"),
        ({"dist": "gamma", "mean": "1000y", "cv": 0.01}, "duration"),
        ({"dist": "gamma", "mean": "1e-300d", "cv": 100}, "duration"),
        ({"dist": "gamma", "mean": "0d", "cv": 100}, "duration"),
        ({"dist": "lognormal", "median": "1y", "p90": "1000y"}, "duration"),
        ({"dist": "lognormal", "median": "1e-300d", "p90": "1e-297d"}, "duration"),
        ({"dist": "exponential", "mean": "1000y"}, "duration"),
        ({"dist": "uniform", "low": "0d", "high": "1000y"}, "duration"),
        ({"dist": "empirical", "values": ["0d", "1000y"], "weights": [1e300, 1e-300]},
         "duration"),
        ({"dist": "poisson", "mean": 1e9}, "count"),
        ({"dist": "poisson", "mean": 1e-300}, "count"),
        ({"dist": "gamma", "mean": 1e9, "cv": 100}, "count"),
        ({"dist": "lognormal", "median": 1e6, "p90": 1e9}, "count"),
    ],
)
def test_values_at_the_bounds_sample_and_describe(table: dict[str, Any], domain: str) -> None:
    """Every table at the limits (1000y, 1e9 counts, cv 0.01 to 100, p90 / median
    1000) samples, describes and gives finite moments and quantiles."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        d = parse_distribution(table, domain)
        draws = d.sample(np.random.default_rng(1), 1000)
        assert np.isfinite(draws).all() and (draws >= 0).all()
        assert math.isfinite(d.mean())
        for q in (0.0, 0.5, 0.9, 1 - 1e-7):
            assert math.isfinite(d.quantile(q))
        assert d.describe()
        assert parse_distribution(d.to_table(), domain) == d


def test_distribution_error_is_a_value_error() -> None:
    assert issubclass(DistributionError, ValueError)
