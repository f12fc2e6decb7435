"""Probability distributions that scenario files describe as inline tables.

A scenario writes ``{ dist = "lognormal", median = "1.5d", p90 = "10d" }``;
:func:`parse_distribution` turns that into a frozen :class:`Distribution` whose
values are days (``domain = "duration"``), plain counts (``domain = "count"``) or plain
amounts such as $ per seat per month (``domain = "amount"``).

Every family samples by transforming standard variates with its parameters
(``median * exp(sigma * z)``, ``mean * e``, ...), so two scenarios that differ
only in a parameter consume the same underlying random numbers (common random
numbers): their difference is the parameter's effect, not sampling noise.
"""

from __future__ import annotations

import difflib
import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from numbers import Real
from typing import Any, ClassVar

import numpy as np

from flywheel.scenario.defaults import GAMMA_CV_MAX, GAMMA_CV_MIN, LOGNORMAL_MAX_SPREAD, MAX_COUNT
from flywheel.scenario.units import UnitError, format_duration, parse_duration

__all__ = [
    "DOMAINS",
    "FAMILIES",
    "Distribution",
    "DistributionError",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Poisson",
    "Uniform",
    "parse_distribution",
]

#: What a distribution's values are: days, plain counts, or plain amounts (money: a
#: willingness to pay in $ per seat per month), read as counts are (plain numbers).
DOMAINS: tuple[str, ...] = ("duration", "count", "amount")

@functools.cache
def _z90() -> float:
    """Standard normal 90th percentile, Φ⁻¹(0.9) ≈ 1.2816 (scipy is imported when first
    needed, not when Flywheel is: ``flywheel --help`` stays fast)."""
    from scipy import special

    return float(special.ndtri(0.9))

_EXAMPLE = {
    "duration": '{ dist = "exponential", mean = "3d" }',
    "count": '{ dist = "poisson", mean = 2 }',
    "amount": '{ dist = "lognormal", median = 30, p90 = 100 }',
}
_LIST_EXAMPLE = {"duration": '["1d", "2d", "5d"]', "count": "[1, 2, 5]",
                 "amount": "[10, 25, 60]"}
_UNITS_HINT = 'write a duration such as "3d", allowed units: min, h, d, w, mo, y'

#: Field name -> how its value reads in a message.
Show = Callable[[str], str]


class DistributionError(ValueError):
    """A distribution table or parameter that cannot be used; says what is allowed."""


def _raw(value: object) -> str:
    """A value as the user wrote it: strings in double quotes, the rest as Python shows it."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _and(names: tuple[str, ...]) -> str:
    """``("a", "b", "c")`` -> ``"a, b and c"``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _short(x: float) -> str:
    """A plain number with at most 3 significant digits, no exponent, no trailing zeros."""
    if x == 0 or not math.isfinite(x):
        return repr(0 if x == 0 else x)
    rounded = round(x, 2 - math.floor(math.log10(abs(x))))
    text = format(Decimal(repr(rounded)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _toml_number(x: float) -> int | float:
    """A number for a TOML table: whole values as ints so they read as written."""
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else float(x)


def _as_number(value: object, label: str) -> float:
    """A finite, non-negative float, or DistributionError naming ``label``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise DistributionError(f"{label} ({_raw(value)}) must be a number")
    x = float(value)
    if not math.isfinite(x):
        raise DistributionError(f"{label} ({_raw(value)}) must be finite")
    if x < 0:
        raise DistributionError(f"{label} ({_raw(value)}) must not be negative")
    return x


def _only_counts(kind: str) -> str:
    return (
        f"{kind} is only for counts, not durations; for a duration use e.g. " + _EXAMPLE["duration"]
    )


def _check_q(q: float) -> float:
    """Validate a probability level for :meth:`Distribution.quantile`."""
    if isinstance(q, bool) or not isinstance(q, Real) or not 0.0 <= float(q) <= 1.0:
        raise DistributionError(f"quantile level {q!r} must be a number in [0, 1]")
    return float(q)


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise DistributionError(f"sample size {size!r} must be a whole number, zero or more")
    return int(size)


def _step(x: np.ndarray, at: float) -> np.ndarray:
    """CDF of a point mass at ``at``."""
    return (x >= at).astype(np.float64)


@dataclass(frozen=True, kw_only=True)
class Distribution(ABC):
    """Base of the families: validation, formatting and the shared interface."""

    #: Family name, as written in ``dist = "..."``.
    kind: ClassVar[str]
    #: Fields a table must give, and fields it may give.
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()
    #: Fields that are plain numbers in every domain (not durations).
    plain_fields: ClassVar[tuple[str, ...]] = ()
    #: Fields holding lists of numbers.
    list_fields: ClassVar[tuple[str, ...]] = ()
    #: Domains the family supports.
    domains: ClassVar[tuple[str, ...]] = DOMAINS
    #: Table field -> attribute, where they differ (``mean`` is taken by the method).
    attrs: ClassVar[dict[str, str]] = {}

    domain: str = "duration"

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise DistributionError(f"domain {self.domain!r} must be one of: {', '.join(DOMAINS)}")
        if self.domain == "duration" and "duration" not in self.domains:
            raise DistributionError(_only_counts(self.kind))
        values: dict[str, Any] = {}
        for name in self.required + self.optional:
            raw = self._get(name)
            if raw is None:
                value: Any = None
            elif name in self.list_fields:
                if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
                    raise DistributionError(f"{name} ({_raw(raw)}) must be a list of numbers")
                value = tuple(_as_number(x, f"{name}[{i}]") for i, x in enumerate(raw))
            else:
                value = _as_number(raw, name)
            object.__setattr__(self, self.attrs.get(name, name), value)
            values[name] = value
        self._check_values(self.domain, values, self._show)

    def _get(self, name: str) -> Any:
        """The value of table field ``name``."""
        return getattr(self, self.attrs.get(name, name))

    @classmethod  # noqa: B027 - a hook: most families have no cross-field rule
    def _check_values(cls, domain: str, values: Mapping[str, Any], show: Show) -> None:
        """Checks between fields (e.g. p90 >= median); single values are already valid."""

    def _show(self, name: str) -> str:
        """A field of this distribution as it would be written in a scenario file."""
        return _raw(self._table_value(name, self._get(name)))

    def _table_value(self, name: str, value: Any) -> Any:
        if isinstance(value, tuple):
            return [self._table_value(name, v) for v in value]
        if self.domain == "duration" and name not in self.plain_fields:
            return format_duration(value)
        return _toml_number(value)

    def _fmt(self, x: float) -> str:
        """A value in this distribution's domain, for :meth:`describe`."""
        return format_duration(x, approx=True) if self.domain == "duration" else _short(x)

    def to_table(self) -> dict[str, Any]:
        """The inline-table form that :func:`parse_distribution` reads back."""
        table: dict[str, Any] = {"dist": self.kind}
        for name in self.required + self.optional:
            value = self._get(name)
            if value is not None:
                table[name] = self._table_value(name, value)
        return table

    def _scale_factor(self, factor: float) -> float:
        return _as_number(factor, "scale factor")

    @abstractmethod
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` float64 draws (days for durations), from standard variates of ``rng``."""

    @abstractmethod
    def mean(self) -> float:
        """The analytic mean."""

    @abstractmethod
    def quantile(self, q: float) -> float:
        """The smallest x with cdf(x) >= q, for q in [0, 1]."""

    @abstractmethod
    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(X <= x), elementwise."""

    @abstractmethod
    def scaled(self, factor: float) -> Distribution:
        """The same family with every value multiplied by ``factor`` (>= 0)."""

    @abstractmethod
    def describe(self) -> str:
        """One founder-readable line, e.g. ``"lognormal, median 1.5d, p90 10d"``."""


@dataclass(frozen=True, kw_only=True)
class Lognormal(Distribution):
    """Lognormal given by its median and 90th percentile (how founders estimate a spread)."""

    kind: ClassVar[str] = "lognormal"
    required: ClassVar[tuple[str, ...]] = ("median", "p90")

    median: float
    p90: float

    @classmethod
    def _check_values(cls, domain: str, values: Mapping[str, Any], show: Show) -> None:
        if values["p90"] < values["median"]:
            raise DistributionError(
                f"p90 ({show('p90')}) is below median ({show('median')}); "
                "p90 must be at least the median"
            )
        if values["median"] == 0 and values["p90"] > 0:
            raise DistributionError(
                f"median ({show('median')}) must be above zero unless p90 is zero too"
            )
        if values["p90"] > LOGNORMAL_MAX_SPREAD * values["median"]:
            raise DistributionError(
                f"p90 ({show('p90')}) is more than {_short(LOGNORMAL_MAX_SPREAD)} times the "
                f"median ({show('median')}); p90 / median must be at most "
                f"{_short(LOGNORMAL_MAX_SPREAD)}"
            )

    @property
    def sigma(self) -> float:
        """Standard deviation of log X: ln(p90 / median) / Φ⁻¹(0.9)."""
        if self.median == 0 or self.p90 == self.median:
            return 0.0
        return math.log(self.p90 / self.median) / _z90()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        z = rng.standard_normal(_check_size(size))
        return self.median * np.exp(self.sigma * z)

    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def quantile(self, q: float) -> float:
        q = _check_q(q)
        sigma = self.sigma
        if sigma == 0:
            return self.median
        from scipy import special

        return float(self.median * np.exp(sigma * special.ndtri(q)))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        sigma = self.sigma
        if sigma == 0:
            return _step(x, self.median)
        from scipy import special

        positive = x > 0
        if x.ndim and positive.all():  # (no zero to leave out: the CDF of every value)
            return special.ndtr((np.log(x) - math.log(self.median)) / sigma)
        out = np.zeros_like(x)
        out[positive] = special.ndtr((np.log(x[positive]) - math.log(self.median)) / sigma)
        return out

    def scaled(self, factor: float) -> Lognormal:
        f = self._scale_factor(factor)
        return replace(self, median=self.median * f, p90=self.p90 * f)

    def describe(self) -> str:
        return f"lognormal, median {self._fmt(self.median)}, p90 {self._fmt(self.p90)}"


@dataclass(frozen=True, kw_only=True)
class Exponential(Distribution):
    """Exponential with the given mean: memoryless waits (the table field is ``mean``)."""

    kind: ClassVar[str] = "exponential"
    required: ClassVar[tuple[str, ...]] = ("mean",)
    attrs: ClassVar[dict[str, str]] = {"mean": "mean_value"}

    mean_value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.mean_value * rng.standard_exponential(_check_size(size))

    def mean(self) -> float:
        return self.mean_value

    def quantile(self, q: float) -> float:
        q = _check_q(q)
        return -self.mean_value * math.log1p(-q) if q < 1 else math.inf

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.mean_value == 0:
            return _step(x, 0.0)
        return np.where(x > 0, -np.expm1(-np.maximum(x, 0.0) / self.mean_value), 0.0)

    def scaled(self, factor: float) -> Exponential:
        return replace(self, mean_value=self.mean_value * self._scale_factor(factor))

    def describe(self) -> str:
        return (
            f"exponential, mean {self._fmt(self.mean_value)}, p90 {self._fmt(self.quantile(0.9))}"
        )


@dataclass(frozen=True, kw_only=True)
class Gamma(Distribution):
    """Gamma given by its mean and coefficient of variation (sd / mean); cv < 1 is
    tighter than exponential, cv > 1 more spread out."""

    kind: ClassVar[str] = "gamma"
    required: ClassVar[tuple[str, ...]] = ("mean", "cv")
    plain_fields: ClassVar[tuple[str, ...]] = ("cv",)
    attrs: ClassVar[dict[str, str]] = {"mean": "mean_value"}

    mean_value: float
    cv: float

    @classmethod
    def _check_values(cls, domain: str, values: Mapping[str, Any], show: Show) -> None:
        if not GAMMA_CV_MIN <= values["cv"] <= GAMMA_CV_MAX:
            raise DistributionError(
                f"cv ({show('cv')}) must be from {_short(GAMMA_CV_MIN)} to {_short(GAMMA_CV_MAX)}"
            )

    @property
    def shape(self) -> float:
        """Gamma shape k = 1 / cv²."""
        return 1.0 / self.cv**2

    @property
    def scale(self) -> float:
        """Gamma scale θ = mean · cv² (so k θ = mean)."""
        return self.mean_value * self.cv**2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        # numpy draws scale * standard_gamma(shape): a different mean reuses the same draws.
        return rng.gamma(self.shape, self.scale, _check_size(size))

    def mean(self) -> float:
        return self.mean_value

    def quantile(self, q: float) -> float:
        q = _check_q(q)
        if self.scale == 0:
            return 0.0  # a point mass at zero (not inf * 0 at q = 1)
        from scipy import special

        return float(special.gammaincinv(self.shape, q) * self.scale)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.scale == 0:
            return _step(x, 0.0)
        from scipy import special

        return special.gammainc(self.shape, np.maximum(x, 0.0) / self.scale)

    def scaled(self, factor: float) -> Gamma:
        return replace(self, mean_value=self.mean_value * self._scale_factor(factor))

    def describe(self) -> str:
        return (
            f"gamma, mean {self._fmt(self.mean_value)}, cv {_short(self.cv)}, "
            f"p90 {self._fmt(self.quantile(0.9))}"
        )


@dataclass(frozen=True, kw_only=True)
class Fixed(Distribution):
    """Always the same value; draws no random numbers."""

    kind: ClassVar[str] = "fixed"
    required: ClassVar[tuple[str, ...]] = ("value",)

    value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(_check_size(size), self.value, dtype=np.float64)

    def mean(self) -> float:
        return self.value

    def quantile(self, q: float) -> float:
        _check_q(q)
        return self.value

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return _step(np.asarray(x, dtype=np.float64), self.value)

    def scaled(self, factor: float) -> Fixed:
        return replace(self, value=self.value * self._scale_factor(factor))

    def describe(self) -> str:
        return f"fixed, {self._fmt(self.value)}"


@dataclass(frozen=True, kw_only=True)
class Uniform(Distribution):
    """Uniform between low and high."""

    kind: ClassVar[str] = "uniform"
    required: ClassVar[tuple[str, ...]] = ("low", "high")

    low: float
    high: float

    @classmethod
    def _check_values(cls, domain: str, values: Mapping[str, Any], show: Show) -> None:
        if values["high"] < values["low"]:
            raise DistributionError(
                f"high ({show('high')}) is below low ({show('low')}); high must be at least low"
            )

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.low + (self.high - self.low) * rng.random(_check_size(size))

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def quantile(self, q: float) -> float:
        return self.low + (self.high - self.low) * _check_q(q)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.high == self.low:
            return _step(x, self.low)
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def scaled(self, factor: float) -> Uniform:
        f = self._scale_factor(factor)
        return replace(self, low=self.low * f, high=self.high * f)

    def describe(self) -> str:
        return f"uniform, {self._fmt(self.low)} to {self._fmt(self.high)}"


@dataclass(frozen=True, kw_only=True)
class Empirical(Distribution):
    """Draws from listed values, equally likely or with the given weights (observed data)."""

    kind: ClassVar[str] = "empirical"
    required: ClassVar[tuple[str, ...]] = ("values",)
    optional: ClassVar[tuple[str, ...]] = ("weights",)
    plain_fields: ClassVar[tuple[str, ...]] = ("weights",)
    list_fields: ClassVar[tuple[str, ...]] = ("values", "weights")

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    @classmethod
    def _check_values(cls, domain: str, values: Mapping[str, Any], show: Show) -> None:
        if len(values["values"]) == 0:
            raise DistributionError(
                f"values is empty; list at least one, e.g. values = {_LIST_EXAMPLE[domain]}"
            )
        weights = values.get("weights")
        if weights is None:
            return
        if len(weights) != len(values["values"]):
            raise DistributionError(
                f"{len(weights)} weights for {len(values['values'])} values; "
                "give one weight per value"
            )
        if sum(weights) <= 0:
            raise DistributionError("weights sum to 0; at least one weight must be above zero")
        if not math.isfinite(sum(weights)):
            raise DistributionError(
                "weights sum to more than a float can hold; only their ratios matter, "
                "so use smaller weights"
            )

    def _probabilities(self) -> np.ndarray:
        if self.weights is None:
            return np.full(len(self.values), 1.0 / len(self.values))
        w = np.asarray(self.weights, dtype=np.float64)
        return w / w.sum()

    @staticmethod
    def _cumulative(p: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(p)
        cumulative[-1] = 1.0  # no float shortfall: every u in [0, 1) finds a value
        return cumulative

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """Values with positive probability, ascending, and their cumulative probabilities."""
        v = np.asarray(self.values, dtype=np.float64)
        p = self._probabilities()
        keep = p > 0
        order = np.argsort(v[keep], kind="stable")
        return v[keep][order], self._cumulative(p[keep][order])

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        u = rng.random(_check_size(size))
        cumulative = self._cumulative(self._probabilities())
        index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(self.values) - 1)
        return np.asarray(self.values, dtype=np.float64)[index]

    def mean(self) -> float:
        return float(np.dot(self._probabilities(), self.values))

    def quantile(self, q: float) -> float:
        q = _check_q(q)
        values, cumulative = self._sorted()
        index = int(np.searchsorted(cumulative, q - 1e-12, side="left"))
        return float(values[min(index, len(values) - 1)])

    def cdf(self, x: np.ndarray) -> np.ndarray:
        values, cumulative = self._sorted()
        index = np.searchsorted(values, np.asarray(x, dtype=np.float64), side="right")
        return np.concatenate(([0.0], cumulative))[index]

    def scaled(self, factor: float) -> Empirical:
        f = self._scale_factor(factor)
        return replace(self, values=tuple(v * f for v in self.values))

    def describe(self) -> str:
        weighted = "weighted " if self.weights is not None else ""
        n = len(self.values)
        if n == 1:
            return f"empirical, always {self._fmt(self.values[0])}"
        return (
            f"empirical, {n} {weighted}values from {self._fmt(min(self.values))} "
            f"to {self._fmt(max(self.values))}, mean {self._fmt(self.mean())}"
        )


@dataclass(frozen=True, kw_only=True)
class Poisson(Distribution):
    """Poisson counts with the given mean (counts only)."""

    kind: ClassVar[str] = "poisson"
    required: ClassVar[tuple[str, ...]] = ("mean",)
    domains: ClassVar[tuple[str, ...]] = ("count",)
    attrs: ClassVar[dict[str, str]] = {"mean": "mean_value"}

    domain: str = "count"
    mean_value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.poisson(self.mean_value, _check_size(size)).astype(np.float64)

    def mean(self) -> float:
        return self.mean_value

    def quantile(self, q: float) -> float:
        q = _check_q(q)
        if self.mean_value == 0:
            return 0.0
        from scipy import stats

        return float(max(stats.poisson.ppf(q, self.mean_value), 0.0))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        from scipy import stats

        return np.asarray(stats.poisson.cdf(np.floor(x), self.mean_value), dtype=np.float64)

    def scaled(self, factor: float) -> Poisson:
        """Poisson with the mean multiplied: values stay whole counts (not each value
        multiplied, which would no longer be a count)."""
        return replace(self, mean_value=self.mean_value * self._scale_factor(factor))

    def describe(self) -> str:
        return f"poisson, mean {_short(self.mean_value)}"


#: Family name -> class.
FAMILIES: dict[str, type[Distribution]] = {
    cls.kind: cls for cls in (Empirical, Exponential, Fixed, Gamma, Lognormal, Poisson, Uniform)
}


def _suggest(name: str, allowed: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _read_number(label: str, raw: object) -> float:
    """A plain non-negative number from a table (counts, cv, weights)."""
    if isinstance(raw, str):
        raise DistributionError(f"{label} ({_raw(raw)}) must be a plain number, not a string")
    return _as_number(raw, label)


def _read_duration(label: str, raw: object) -> float:
    """Days from a duration string in a table."""
    if isinstance(raw, Real) and not isinstance(raw, bool):
        raise DistributionError(f"{label} ({_raw(raw)}) needs a unit; {_UNITS_HINT}")
    try:
        return parse_duration(raw)
    except UnitError as error:
        raise DistributionError(f"{label}: {error}") from None


def _read_count(label: str, raw: object) -> float:
    """A count from a table: a plain number of at most :data:`MAX_COUNT`."""
    x = _read_number(label, raw)
    if x > MAX_COUNT:
        raise DistributionError(f"{label} ({_raw(raw)}) must be at most {MAX_COUNT}")
    return x


def _read_field(cls: type[Distribution], name: str, raw: object, domain: str) -> Any:
    if name in cls.plain_fields:
        read = _read_number
    else:
        read = _read_duration if domain == "duration" else _read_count
    if name not in cls.list_fields:
        return read(name, raw)
    if not isinstance(raw, (list, tuple)):
        raise DistributionError(
            f"{name} ({_raw(raw)}) must be a list such as "
            + ("[1, 3, 1]" if name == "weights" else _LIST_EXAMPLE[domain])
        )
    return tuple(read(f"{name}[{i}]", x) for i, x in enumerate(raw))


def parse_distribution(table: object, domain: str) -> Distribution:
    """Read an inline table such as ``{ dist = "lognormal", median = "1.5d", p90 = "10d" }``.

    In the ``"duration"`` domain values are duration strings (a bare number has no
    unit and is refused); in the ``"count"`` domain they are plain numbers.  Errors
    name the field, the value as written, and what is allowed.
    """
    if domain not in DOMAINS:
        raise DistributionError(f"domain {domain!r} must be one of: {', '.join(DOMAINS)}")
    example = _EXAMPLE[domain]
    if not isinstance(table, Mapping):
        raise DistributionError(f"expected an inline table such as {example}, got {_raw(table)}")
    families = sorted(FAMILIES)
    if "dist" not in table:
        raise DistributionError(
            f"missing dist; expected an inline table such as {example}; "
            f"dist is one of: {', '.join(families)}"
        )
    kind = table["dist"]
    if not isinstance(kind, str):
        raise DistributionError(
            f"dist ({_raw(kind)}) must name a distribution; allowed: {', '.join(families)}"
        )
    cls = FAMILIES.get(kind)
    if cls is None:
        raise DistributionError(
            f'unknown dist "{kind}"{_suggest(kind, families)}; allowed: {", ".join(families)}'
        )
    if domain not in cls.domains:
        raise DistributionError(_only_counts(kind))
    allowed = cls.required + cls.optional
    for key in table:
        if key != "dist" and key not in allowed:
            raise DistributionError(
                f'unknown field "{key}" for {kind}{_suggest(str(key), allowed)}; '
                f"allowed: {', '.join(allowed)}"
            )
    missing = [name for name in cls.required if name not in table]
    if missing:
        raise DistributionError(
            f"{kind} needs {_and(cls.required)} (missing: {', '.join(missing)})"
        )
    values = {n: _read_field(cls, n, table[n], domain) for n in allowed if n in table}
    cls._check_values(domain, values, lambda name: _raw(table[name]))
    return cls(domain=domain, **{cls.attrs.get(k, k): v for k, v in values.items()})
