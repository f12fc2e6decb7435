"""Scenario files: read, merge, validate and write them back.

A scenario is a TOML file that lists only what differs from
:data:`flywheel.scenario.defaults.PARAMS`::

    name = "sandbox"
    description = "Baseline plus a sample-data sandbox"
    extends = "baseline.toml"          # optional, relative to this file

    [onboarding]
    sandbox = true
    ttv = { median = "12h" }           # no `dist`: merged into the base's table

Loading resolves the ``extends`` chain (base first, each file overriding the
one it extends key by key), applies ``--set KEY.PATH=VALUE`` overrides, and
converts every parameter by its kind, so the engine only ever sees checked
values in days, per-day rates and :class:`~flywheel.scenario.distributions.Distribution`
objects.  Every mistake becomes one :class:`ScenarioError` line that names the
file, the key, the offending value and what would be allowed.  Nothing is
evaluated: TOML is parsed with :mod:`tomllib` and values are checked by kind.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import errno
import importlib.resources
import math
import numbers
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from flywheel.scenario.defaults import META_KEYS, PARAMS, PARAMS_BY_PATH, SECTIONS, Param
from flywheel.scenario.distributions import Distribution, DistributionError, parse_distribution
from flywheel.scenario.units import (
    UnitError,
    format_duration,
    format_rate,
    parse_duration,
    parse_rate,
)

__all__ = [
    "Scenario",
    "ScenarioError",
    "builtin_scenarios_dir",
    "format_resolved",
    "list_scenarios",
    "load_scenario",
    "load_scenario_text",
    "parse_set",
    "slug",
    "toml_value",
]

#: ``file`` of errors (and ``sources`` entry) for command-line and sweep overrides.
SET_SOURCE = "--set"
#: ``sources`` entry of a parameter nobody set.
DEFAULT_SOURCE = "default"

_UNSET: Any = object()
_PROBABILITY_RULE = "a probability is a number from 0 to 1"
_DURATION_RULE = 'a string with a unit, e.g. "10min", "2h", "3d", "2w", "1mo", "1y"'
_RATE_RULE = 'a count per period, e.g. "40/week", "1/day", "0.03/month"'


class ScenarioError(ValueError):
    """A scenario that cannot be used, explained in one line.

    The message reads ``{file}: {key} = {value}: {problem}; {allowed}``, leaving
    out the parts that do not apply.  ``file`` is the path as the user gave it
    (or ``"--set"``), ``key`` the parameter path or top-level key at fault and
    ``value`` the offending value (``None`` when there is none to show).
    """

    file: str | None
    key: str | None
    value: object

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        key: str | None = None,
        value: object = _UNSET,
        allowed: str = "",
        show_key: bool = True,
    ) -> None:
        self.problem = problem
        self.file = file
        self.key = key
        self.value = None if value is _UNSET else value
        self.allowed = allowed
        self._show_key = show_key
        self._has_value = value is not _UNSET
        parts: list[str] = []
        if file is not None:
            parts.append(file)
        shown_value = toml_value(value) if self._has_value else ""
        if key is not None and show_key:
            parts.append(f"{key} = {shown_value}" if self._has_value else key)
        elif self._has_value:
            parts.append(shown_value)
        parts.append(problem + (f"; {allowed}" if allowed else ""))
        super().__init__(": ".join(parts))

    def __reduce__(self) -> tuple[Callable[..., ScenarioError], tuple[Any, ...]]:
        # Keyword-only arguments defeat BaseException's default pickling, and
        # sweeps may carry this error back from a worker process.
        return (_rebuild_error, (self.problem, self.file, self.key, self.value,
                                 self._has_value, self.allowed, self._show_key))


def _rebuild_error(problem: str, file: str | None, key: str | None, value: object,
                   has_value: bool, allowed: str, show_key: bool) -> ScenarioError:
    """Unpickle a :class:`ScenarioError`."""
    return ScenarioError(problem, file=file, key=key, value=value if has_value else _UNSET,
                         allowed=allowed, show_key=show_key)


# -- TOML rendering -------------------------------------------------------------------


def toml_value(value: object) -> str:
    """Render ``value`` as TOML would show it on one line (tables inline)."""
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    try:
        return tomli_w.dumps({"v": value})[len("v = "):].rstrip("\n")
    except (TypeError, ValueError):
        return repr(value)  # not TOML at all; only ever shown in a message


def _toml_key(key: str) -> str:
    """Render one key part, quoting it when it is not a bare key."""
    return tomli_w.dumps({key: 0})[: -len(" = 0\n")]


# -- suggestions ----------------------------------------------------------------------


def _nearest(word: str, candidates: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to ``word``, if any is reasonably close."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def _did_you_mean(suggestion: str | None) -> str:
    return f' (did you mean "{suggestion}"?)' if suggestion else ""


def _suggest_path(path: str) -> str | None:
    """The parameter a mistyped ``path`` most likely meant: one with the same name
    in another section (``horizon`` -> ``simulation.horizon``), else the nearest."""
    last = path.rsplit(".", 1)[-1]
    same = [p.path for p in PARAMS if p.path.rsplit(".", 1)[-1] == last]
    return same[0] if same else _nearest(path, list(PARAMS_BY_PATH))


def _unknown_key(path: str, file: str | None) -> ScenarioError:
    suggestion = _suggest_path(path)
    allowed = ""
    if suggestion is None:
        section = path.split(".", 1)[0]
        names = [p.path.split(".", 1)[1] for p in PARAMS if p.section == section]
        allowed = f"{section} has {', '.join(names)}" if names else ""
    return ScenarioError("unknown key" + _did_you_mean(suggestion), file=file, key=path,
                         allowed=allowed)


# -- conversion by kind ---------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt_num(x: float) -> str:
    """A bound as a reader would write it (``0``, not ``0.0``)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _range_rule(param: Param, noun: str, fmt: Callable[[float], str]) -> str:
    lo, hi = param.minimum, param.maximum
    if lo is not None and hi is not None:
        return f"{noun} from {fmt(lo)} to {fmt(hi)}"
    if lo is not None:
        return f"{noun} of at least {fmt(lo)}"
    if hi is not None:
        return f"{noun} of at most {fmt(hi)}"
    return noun


def _in_range(param: Param, x: float) -> bool:
    if math.isnan(x):
        return False
    if param.minimum is not None and x < param.minimum:
        return False
    return not (param.maximum is not None and x > param.maximum)


def convert_value(param: Param, value: object, file: str | None = None) -> object:
    """Check ``value`` (TOML form) against ``param``'s kind and return it converted.

    Durations come back in days, rates per day, counts as ``int``, numbers and
    probabilities as ``float``, distributions as ``Distribution`` objects.
    """

    def fail(problem: str, allowed: str = "") -> ScenarioError:
        return ScenarioError(problem, file=file, key=param.path, value=value, allowed=allowed)

    kind = param.kind
    if kind in ("duration", "rate"):
        parse, fmt, noun, rule = (
            (parse_duration, format_duration, "a duration", _DURATION_RULE)
            if kind == "duration"
            else (parse_rate, format_rate, "a rate", _RATE_RULE)
        )
        if not isinstance(value, str):
            raise fail(f"expected {noun}, got {toml_value(value)}", rule)
        try:
            converted = float(parse(value))
        except UnitError as exc:
            raise fail(str(exc)) from None
        if not _in_range(param, converted):
            raise fail("out of range", _range_rule(param, noun, fmt))
        return converted
    if kind == "probability":
        if not _is_number(value):
            raise fail(f"expected a number, got {toml_value(value)}", _PROBABILITY_RULE)
        prob = float(value)  # type: ignore[arg-type]
        if not 0.0 <= prob <= 1.0:
            raise fail("out of range", _PROBABILITY_RULE)
        return prob
    if kind == "number":
        rule = _range_rule(param, "a number", _fmt_num)
        if not _is_number(value):
            raise fail(f"expected a number, got {toml_value(value)}", rule)
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number) or not _in_range(param, number):
            raise fail("out of range", rule)
        return number
    if kind == "count":
        rule = _range_rule(param, "a whole number", _fmt_num)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            count = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            count = value
        else:
            raise fail(f"expected a whole number, got {toml_value(value)}", rule)
        if not _in_range(param, count):
            raise fail("out of range", rule)
        return count
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {toml_value(value)}")
        return value
    if kind == "choice":
        allowed = "one of " + ", ".join(f'"{c}"' for c in param.choices)
        if not isinstance(value, str):
            raise fail(f"expected a string, got {toml_value(value)}", allowed)
        if value not in param.choices:
            suggestion = _nearest(value, param.choices, cutoff=0.4)
            raise fail("unknown choice" + _did_you_mean(suggestion), allowed)
        return value
    if kind == "distribution":
        try:
            dist = parse_distribution(value, param.domain)
        except (DistributionError, UnitError) as exc:
            raise fail(str(exc)) from None
        if param.dist_maximum is not None:
            _check_dist_maximum(param, value, dist, fail)  # type: ignore[arg-type]
        return dist
    raise AssertionError(f"parameter {param.path} has unknown kind {kind!r}")


def _check_dist_maximum(param: Param, table: Mapping[str, object], dist: Distribution,
                        fail: Callable[[str, str], ScenarioError]) -> None:
    """Refuse a distribution any of whose values (fields other than cv and weights),
    or whose mean, is above ``param.dist_maximum``."""
    hi = float(param.dist_maximum)  # type: ignore[arg-type]
    duration = param.domain == "duration"
    bound = format_duration(hi) if duration else _fmt_num(hi)
    allowed = f"at most {bound}" + ("" if duration else f" {param.unit}")
    cls = type(dist)
    for name in cls.required + cls.optional:
        if name not in table or name in cls.plain_fields:
            continue
        got = getattr(dist, cls.attrs.get(name, name))
        if isinstance(got, tuple):  # a list field: name the first value too large
            raw = table[name]
            for i, x in enumerate(got):
                if x > hi:
                    raise fail(f"{name}[{i}] ({toml_value(raw[i])}) is too large",  # type: ignore[index]
                               allowed)
        elif got > hi:
            raise fail(f"{name} ({toml_value(table[name])}) is too large", allowed)
    mean = dist.mean()
    if not mean <= hi:  # a lognormal's mean grows with its spread (p90 / median)
        shown = format_duration(mean, approx=True) if duration else _fmt_num(
            float(f"{mean:.3g}"))
        raise fail(f"its mean ({shown}) is too large", allowed + ", on average too")


# -- merging --------------------------------------------------------------------------


def _merge_value(param: Param, current: object, new: object) -> object:
    """``new`` laid over ``current``: a distribution table without ``dist`` merges
    field by field (so a file may change only the median); anything else replaces."""
    if (param.kind == "distribution" and isinstance(new, dict) and "dist" not in new
            and isinstance(current, dict)):
        merged = dict(current)
        merged.update(copy.deepcopy(new))
        return merged
    return copy.deepcopy(new)


def _check_override_key(key: str, file: str | None) -> None:
    """Accept a parameter path, or a distribution parameter's path plus one field."""
    if key in PARAMS_BY_PATH:
        return
    head, _, field = key.rpartition(".")
    param = PARAMS_BY_PATH.get(head)
    if param is not None and param.kind == "distribution" and field:
        return
    raise _unknown_key(key, file)


def _apply_override(raw: dict[str, object], sources: dict[str, str], key: str,
                    value: object, source: str) -> str:
    """Apply one checked override in place; return the parameter path it touched."""
    if key in PARAMS_BY_PATH:
        path = key
        raw[path] = _merge_value(PARAMS_BY_PATH[path], raw[path], value)
    else:
        path, _, field = key.rpartition(".")
        current = raw[path]
        table = dict(current) if isinstance(current, dict) else {}
        table[field] = copy.deepcopy(value)
        raw[path] = table
    sources[path] = source
    return path


def _plain(value: object) -> object:
    """Turn numeric look-alikes (numpy scalars from a sweep) into plain TOML types."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- --set ----------------------------------------------------------------------------


def parse_set(expr: str) -> tuple[str, object]:
    """Split a ``KEY.PATH=VALUE`` override into its key and TOML-form value.

    VALUE is read as a TOML value when it is one (``0.5``, ``true``, ``"3d"``,
    ``{ dist = "fixed", value = "1d" }``), else taken as a bare string (``10min``),
    so quoting is rarely needed on a command line.  KEY.PATH is a parameter path
    or a distribution parameter's path plus a field (``onboarding.ttv.median``).
    """
    key, sep, text = expr.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key:
        raise ScenarioError("expected KEY.PATH=VALUE", file=SET_SOURCE, value=expr,
                            allowed="e.g. onboarding.sandbox=true")
    _check_override_key(key, SET_SOURCE)
    value: object = text
    if text and "\n" not in text and "\r" not in text:
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
    return key, value


# -- claims ---------------------------------------------------------------------------

#: The top-level key of a scenario's claims (an array of tables, ``[[claims]]``).
CLAIMS_KEY = "claims"
#: Each claim's keys: what it says, the metric that measures it, the range it should fall
#: in, where that range comes from (optional), and metrics shown beside it (optional).
CLAIM_KEYS = ("says", "metric", "range", "source", "also")


@dataclass(frozen=True)
class Claim:
    """What a story says, to be measured: ``says`` in the story's words, the ``metric``
    (a name of :data:`flywheel.metrics.METRICS`) that measures it, and the range
    ``[low, high]`` its mean and 95% CI should fall in, in the metric's unit (days for a
    range written as durations, which ``in_days`` records), with its ``source``.
    :func:`flywheel.metrics.judge_claims` checks the metric and measures the claim."""

    says: str
    metric: str
    low: float
    high: float
    source: str = ""
    in_days: bool = False
    also: tuple[str, ...] = ()

    def to_toml(self) -> str:
        """The claim as a ``[[claims]]`` table, its range as it was written (durations, or
        numbers in the metric's unit)."""
        ends = ((format_duration(self.low), format_duration(self.high)) if self.in_days
                else (self.low, self.high))
        lines = ["[[claims]]", f"says = {toml_value(self.says)}",
                 f"metric = {toml_value(self.metric)}",
                 f"range = [{toml_value(ends[0])}, {toml_value(ends[1])}]"]
        if self.source:
            lines.append(f"source = {toml_value(self.source)}")
        if self.also:
            lines.append(f"also = {toml_value(list(self.also))}")
        return "\n".join(lines)


def _claim_bound(value: object, key: str, file: str) -> tuple[float, bool]:
    """One end of a claim's range: a number, or a duration read as days."""
    if isinstance(value, str):
        try:
            return parse_duration(value), True
        except UnitError as exc:
            raise ScenarioError(str(exc), file=file, key=key, value=value,
                                allowed="a number in the metric's unit, or a duration "
                                        'such as "10min" for a metric in days') from None
    if isinstance(value, bool) or not _is_number(value) or not math.isfinite(float(value)):
        raise ScenarioError("expected a number", file=file, key=key, value=value,
                            allowed="a number in the metric's unit, or a duration such as "
                                    '"10min" for a metric in days')
    return float(value), False  # type: ignore[arg-type]


def _read_claims(data: object, file: str) -> tuple[Claim, ...]:
    """A file's ``[[claims]]``, checked for structure (the metric names are checked
    where the metrics are known: :func:`flywheel.metrics.judge_claims`)."""
    allowed = ('write each as [[claims]] with says = "...", metric = "...", range = '
               '[low, high], optionally source = "..." and also = ["metric", ...]')
    if not isinstance(data, list) or not all(isinstance(c, dict) for c in data):
        raise ScenarioError("expected an array of tables", file=file, key=CLAIMS_KEY,
                            allowed=allowed)
    claims = []
    for i, table in enumerate(data, 1):
        where = f"{CLAIMS_KEY}[{i}]"
        for name in table:
            if name not in CLAIM_KEYS:
                raise ScenarioError("unknown key" + _did_you_mean(_nearest(name, CLAIM_KEYS)),
                                    file=file, key=f"{where}.{name}",
                                    allowed="a claim's keys are " + ", ".join(CLAIM_KEYS))
        for name in ("says", "metric", "source"):
            if name in table and not isinstance(table[name], str):
                raise ScenarioError("expected a string", file=file, key=f"{where}.{name}",
                                    value=table[name])
        for name in ("says", "metric", "range"):
            if name not in table:
                raise ScenarioError(f"missing {name}", file=file, key=where, allowed=allowed)
        bounds = table["range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise ScenarioError("expected two values [low, high]", file=file,
                                key=f"{where}.range", value=bounds)
        (low, low_days), (high, high_days) = (_claim_bound(b, f"{where}.range", file)
                                              for b in bounds)
        if low_days != high_days:
            raise ScenarioError("mixes a duration and a number", file=file,
                                key=f"{where}.range", value=bounds,
                                allowed="write both ends as durations, or both as numbers")
        if low > high:
            raise ScenarioError("low end above high end", file=file, key=f"{where}.range",
                                value=bounds, allowed="write [low, high]")
        also = table.get("also", [])
        if not isinstance(also, list) or not all(isinstance(a, str) for a in also):
            raise ScenarioError("expected a list of metric names", file=file,
                                key=f"{where}.also", value=also)
        claims.append(Claim(table["says"], table["metric"], low, high,
                            table.get("source", ""), low_days, tuple(also)))
    return tuple(claims)


# -- the scenario ---------------------------------------------------------------------


@dataclass
class Scenario:
    """A fully resolved, validated scenario.

    ``raw`` holds every parameter in TOML form after merging (defaults
    included), ``values`` the converted values the engine uses, and
    ``sources`` who set each one: ``"default"``, a file as the user would read
    its path, or ``"--set"``.  ``chain`` lists the files read, base first and
    this scenario's own file last.
    """

    name: str
    description: str
    path: Path | None
    chain: list[Path]
    raw: dict[str, object]
    values: dict[str, object]
    sources: dict[str, str]
    #: What the scenario's story says, to be measured (its own file's ``[[claims]]``: an
    #: extending file tells its own story).
    claims: tuple[Claim, ...] = ()

    def __getitem__(self, path: str) -> object:
        """The converted value of parameter ``path`` (e.g. ``"onboarding.ttv"``)."""
        return self.values[path]

    def to_toml(self) -> str:
        """The whole scenario as one self-contained TOML file (no ``extends``).

        Every parameter is written, so the file pins the scenario even if
        defaults change later; :func:`load_scenario` reads it back to identical
        values.
        """
        lines = [f"name = {toml_value(self.name)}",
                 f"description = {toml_value(self.description)}"]
        for section in SECTIONS:
            params = [p for p in PARAMS if p.section == section]
            width = max(len(p.path) - len(section) - 1 for p in params)
            lines += ["", f"[{section}]"]
            for p in params:
                key = _toml_key(p.path.split(".", 1)[1])
                lines.append(f"{key.ljust(width)} = {toml_value(self.raw[p.path])}")
        for claim in self.claims:
            lines += ["", claim.to_toml()]
        return "\n".join(lines) + "\n"

    def with_overrides(self, overrides: Mapping[str, object]) -> Scenario:
        """A copy with ``overrides`` (parameter path, or distribution path plus
        field, to TOML-form value) applied and re-validated, as ``--set`` would."""
        raw = copy.deepcopy(self.raw)
        sources = dict(self.sources)
        values = dict(self.values)
        touched: set[str] = set()
        for key, value in overrides.items():
            _check_override_key(key, SET_SOURCE)
            touched.add(_apply_override(raw, sources, key, _plain(value), SET_SOURCE))
        for path in touched:
            values[path] = convert_value(PARAMS_BY_PATH[path], raw[path], SET_SOURCE)
        return dataclasses.replace(self, raw=raw, values=values, sources=sources)

    def differences(self, other: Scenario) -> dict[str, tuple[object, object]]:
        """Parameter paths whose TOML-form values differ: ``(this one's, other's)``."""
        return {p.path: (self.raw[p.path], other.raw[p.path])
                for p in PARAMS if self.raw[p.path] != other.raw[p.path]}

    # -- display ---------------------------------------------------------------------------

    def _changed(self) -> list[str]:
        """Parameter paths whose values differ from the defaults (compared as the engine
        reads them, so ``"1y"`` and ``"365.25d"`` are the same)."""
        defaults = _default_values()
        return [p.path for p in PARAMS if not _same(self.values[p.path], defaults[p.path])]

    def _file_text(self) -> str:
        if self.path is None:
            return "no file"
        try:
            rel = os.path.relpath(self.path)
        except ValueError:  # another drive (Windows)
            rel = str(self.path)
        return str(self.path) if rel.startswith("..") else rel

    def __repr__(self) -> str:
        n = len(self._changed())
        return (f"<Scenario {self.name} ({self._file_text()}): {n} of {len(PARAMS)} "
                f"parameters {'differs' if n == 1 else 'differ'} from the defaults>")

    def _repr_html_(self) -> str:
        import html

        esc = html.escape
        changed = self._changed()
        rows = "".join(f"<tr><td>{esc(path)}</td><td>{esc(toml_value(self.raw[path]))}</td>"
                       f"<td>{esc(self.sources[path])}</td></tr>" for path in changed[:20])
        if len(changed) > 20:
            rows += f'<tr><td colspan="3">… {len(changed) - 20} more</td></tr>'
        caption = (f"<b>Scenario {esc(self.name)}</b> ({esc(self._file_text())}): "
                   f"{len(changed)} of {len(PARAMS)} parameters "
                   f"{'differs' if len(changed) == 1 else 'differ'} from the defaults"
                   + (f"<br>{esc(self.description)}" if self.description else ""))
        return (f'<table><caption style="text-align:left">{caption}</caption>'
                "<thead><tr><th>parameter</th><th>value</th><th>set by</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # pragma: no cover - values compare as plain data
        return False


_DEFAULT_VALUES: dict[str, object] = {}


def _default_values() -> dict[str, object]:
    """Every parameter's default as the engine reads it (converted once, on first use)."""
    if not _DEFAULT_VALUES:
        _DEFAULT_VALUES.update({p.path: convert_value(p, p.default) for p in PARAMS})
    return _DEFAULT_VALUES


@dataclass
class _Layer:
    """One file (or string) of an extends chain, checked for structure."""

    display: str
    path: Path | None
    data: dict[str, Any]


def _resolve(path: Path) -> Path:
    """``path`` made absolute with symbolic links followed, or just made absolute when
    they loop (``Path.resolve`` raises RuntimeError or OSError then)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return path.absolute()


def _is_link_loop(path: Path) -> bool:
    """Whether ``path`` is a symbolic link that leads back to itself."""
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


_TOML_AT = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column \d+\)$")
_TOML_KEY = re.compile(r'^(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
                       r'(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\'))*$')


def _toml_error(exc: tomllib.TOMLDecodeError, text: str, display: str) -> ScenarioError:
    """One line for a TOML syntax error; a key or table set twice is named (tomllib only
    gives its line, so the key is read from that line and the table header above it)."""
    problem = f"malformed TOML: {exc}"
    found = _TOML_AT.match(str(exc))
    if found is None or not (found["msg"] == "Cannot overwrite a value"
                             or found["msg"].startswith("Cannot declare ")):
        return ScenarioError(problem, file=display)
    lines = text.splitlines()
    number = int(found["line"])
    if not 1 <= number <= len(lines):
        return ScenarioError(problem, file=display)
    line = lines[number - 1].strip()
    header = re.match(r"^\[\s*([^\[\]]+?)\s*\]", line)
    if header is not None:  # a table declared twice, or over a value
        key = header[1]
    else:
        key = line.split("=", 1)[0].strip()
        for above in reversed(lines[:number - 1]):
            table = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]", above)
            if table is not None:
                key = f"{table[1]}.{key}"
                break
    if "=" not in line and header is None or not _TOML_KEY.match(key):
        return ScenarioError(problem, file=display)
    key = re.sub(r"\s*\.\s*", ".", key)
    return ScenarioError(f"set more than once ({problem})", file=display, key=key,
                         allowed="write each key and each [section] once")


def _read_toml(path: Path, display: str) -> dict[str, Any]:
    """Parse the TOML file at ``path``; errors name it as ``display``.  A UTF-8 byte
    order mark at the start is allowed (some Windows editors write one)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(f"file not found (looked for {_resolve(path)})",
                            file=display) from None
    except UnicodeDecodeError:
        raise ScenarioError("not UTF-8 text", file=display) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror or exc}", file=display) from None
    except ValueError as exc:  # a NUL in the name
        raise ScenarioError(f"not a usable file name ({exc})", file=display) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, text, display) from None


def _parse_text(text: str, display: str) -> dict[str, Any]:
    text = text.removeprefix("\ufeff")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, text, display) from None


def _check_structure(data: Mapping[str, Any], file: str) -> None:
    """Refuse unknown sections and keys, non-table sections and non-string meta keys."""
    for key, value in data.items():
        if key == CLAIMS_KEY:
            _read_claims(value, file)
        elif key in META_KEYS:
            if not isinstance(value, str):
                raise ScenarioError(f"expected a string, got {toml_value(value)}",
                                    file=file, key=key)
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise ScenarioError("expected a table of parameters", file=file, key=key,
                                    value=value, allowed=f"write them under [{key}]")
            for name in value:
                if f"{key}.{name}" not in PARAMS_BY_PATH:
                    raise _unknown_key(f"{key}.{name}", file)
        elif isinstance(value, dict):
            suggestion = _nearest(key, SECTIONS)
            allowed = "" if suggestion else "sections are " + ", ".join(SECTIONS)
            raise ScenarioError(f'unknown section "{key}"' + _did_you_mean(suggestion),
                                file=file, key=key, allowed=allowed, show_key=False)
        else:
            suggestion = _nearest(key, (*META_KEYS, CLAIMS_KEY)) or _suggest_path(key)
            allowed = "" if suggestion else (
                "top-level keys are " + ", ".join((*META_KEYS, CLAIMS_KEY))
                + "; parameters go in sections")
            raise ScenarioError("unknown key" + _did_you_mean(suggestion), file=file, key=key,
                                allowed=allowed)


def _collect_chain(root: _Layer) -> list[_Layer]:
    """Follow ``extends`` from ``root``; return the layers base first."""
    layers = [root]
    seen = [_resolve(root.path)] if root.path is not None else []
    current = root
    while (extends := current.data.get("extends")) is not None:
        try:
            target = Path(extends)
            if target.is_absolute():
                display = extends
            elif current.path is None:
                raise ScenarioError("a relative extends needs a file to be relative to",
                                    file=current.display, key="extends", value=extends,
                                    allowed="load the scenario from a file, or give an absolute path")
            else:
                target = current.path.parent / target
                display = os.path.normpath(os.path.join(os.path.dirname(current.display), extends))
            if not target.is_file() and isinstance(extends, str) and "/" not in extends:
                # not a file beside this one: a shipped scenario's name ("baseline")
                shipped = _shipped_file(extends)
                if shipped is not None:
                    target, display = shipped, shipped.name
            if _is_link_loop(target):
                raise ScenarioError("a symbolic link loop (too many levels of symbolic links)",
                                    file=current.display, key="extends", value=extends,
                                    allowed="extends must lead to a real file")
            if not target.is_file():
                raise ScenarioError(f"file not found (looked for {_resolve(target)})",
                                    file=current.display, key="extends", value=extends,
                                    allowed="a path relative to this file, or a shipped "
                                            "scenario's name (flywheel list)")
            resolved = _resolve(target)
            if resolved in seen:
                names = " -> ".join([layer.display for layer in layers] + [display])
                raise ScenarioError(f"circular chain {names}", file=root.display, key="extends")
            seen.append(resolved)
            data = _read_toml(target, display)
            _check_structure(data, display)
        except ScenarioError:
            raise
        except (OSError, ValueError) as exc:  # NUL, a name too long for the file system
            raise ScenarioError(f"not a usable file name ({exc})", file=current.display,
                                key="extends", value=extends) from None
        current = _Layer(display, target, data)
        layers.append(current)
    layers.reverse()
    return layers


def _build(root: _Layer, overrides: Sequence[str] | str, default_name: str) -> Scenario:
    """Resolve ``root``'s chain and ``overrides`` into a validated :class:`Scenario`."""
    if isinstance(overrides, str):
        overrides = [overrides]
    sets = [parse_set(expr) for expr in overrides]  # cheap mistakes first
    _check_structure(root.data, root.display)
    layers = _collect_chain(root)

    raw: dict[str, object] = {p.path: copy.deepcopy(p.default) for p in PARAMS}
    sources: dict[str, str] = {p.path: DEFAULT_SOURCE for p in PARAMS}
    for layer in layers:
        for section, table in layer.data.items():
            if section in META_KEYS or section == CLAIMS_KEY:
                continue
            for name, value in table.items():
                path = f"{section}.{name}"
                raw[path] = _merge_value(PARAMS_BY_PATH[path], raw[path], value)
                sources[path] = layer.display
    for key, value in sets:
        _apply_override(raw, sources, key, value, SET_SOURCE)

    values: dict[str, object] = {}
    for p in PARAMS:
        source = sources[p.path]
        values[p.path] = convert_value(p, raw[p.path],
                                       None if source == DEFAULT_SOURCE else source)
    _check_consistency(values, sources)
    return Scenario(
        name=root.data.get("name", default_name),
        description=root.data.get("description", ""),
        path=root.path,
        chain=[layer.path for layer in layers if layer.path is not None],
        raw=raw,
        values=values,
        sources=sources,
        claims=_read_claims(root.data[CLAIMS_KEY], root.display)
        if CLAIMS_KEY in root.data else (),
    )


def _check_consistency(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Refuse combinations of valid values that cannot run together."""
    _check_tiers(values, sources)
    if values["pricing.model"] == "sales_led" and values["sales.reps"] < 1:
        file = sources["sales.reps"] if sources["sales.reps"] != DEFAULT_SOURCE else (
            sources["pricing.model"])
        raise ScenarioError('pricing.model = "sales_led" needs a sales team',
                            file=file, key="sales.reps", value=values["sales.reps"],
                            allowed="a whole number >= 1")
    if values["sales.enterprise_size"] > 0 and values["sales.reps"] < 1:
        file = sources["sales.reps"] if sources["sales.reps"] != DEFAULT_SOURCE else (
            sources["sales.enterprise_size"])
        raise ScenarioError(f"sales.enterprise_size = {values['sales.enterprise_size']} "
                            "(the hybrid: larger companies are sold sales-led) needs a sales "
                            "team", file=file, key="sales.reps", value=values["sales.reps"],
                            allowed="a whole number >= 1")


def _check_tiers(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """A second paid tier needs per-seat charging, a price above the first tier's and a
    first-tier limit to reach; first-tier limits need a second tier to move up to."""
    tier2 = values["pricing.tier2_price_per_seat"]
    limits = [k for k in ("pricing.tier1_seat_limit", "pricing.tier1_usage_limit")
              if values[k]]

    def where(key: str, other: str) -> str:
        return sources[key] if sources[key] != DEFAULT_SOURCE else sources[other]

    key = "pricing.tier2_price_per_seat"
    if not tier2:
        if limits:
            raise ScenarioError("a first-tier limit needs a second tier to move up to",
                                file=sources[limits[0]], key=limits[0],
                                value=values[limits[0]],
                                allowed=f"0, or set {key} above pricing.price_per_seat")
        return
    if values["pricing.charge"] != "per_seat":
        raise ScenarioError(f'a second paid tier needs pricing.charge = "per_seat" (got '
                            f'"{values["pricing.charge"]}")', file=where("pricing.charge", key),
                            key=key, value=tier2, allowed='0, or pricing.charge = "per_seat"')
    if tier2 <= values["pricing.price_per_seat"]:
        raise ScenarioError("the second tier's price must be above the first tier's "
                            f"(pricing.price_per_seat = {values['pricing.price_per_seat']:g})",
                            file=sources[key], key=key, value=tier2,
                            allowed=f"0 or more than {values['pricing.price_per_seat']:g}")
    if not limits:
        raise ScenarioError("a second paid tier needs a first-tier limit to reach",
                            file=sources[key], key=key, value=tier2,
                            allowed="set pricing.tier1_seat_limit or pricing.tier1_usage_limit "
                                    "above 0")


# -- names ----------------------------------------------------------------------------

#: Longest scenario-name part of a default folder name (the whole name stays far below
#: the 255 bytes a file name may have).
SLUG_LENGTH = 60


def slug(name: str, limit: int = SLUG_LENGTH) -> str:
    """``name`` made safe as one part of a file name: letters, digits, ``.``, ``_`` and
    ``-`` kept, any other run of characters (separators, ``..``, spaces, control
    characters, NUL) turned into one ``-``, no leading or trailing dot or dash, at most
    ``limit`` characters; ``"scenario"`` when nothing is left."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"(?:\.{2,}|[^A-Za-z0-9._-])+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    return text[:limit].rstrip("-.") or "scenario"



# -- public loading -------------------------------------------------------------------


def builtin_scenarios_dir() -> Path:
    """The folder of shipped scenarios (the package ``flywheel.scenarios``).

    Falls back to the source checkout's top-level ``scenarios/`` when the
    package is not installed.
    """
    try:
        found = importlib.resources.files("flywheel.scenarios")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "scenarios"
    if isinstance(found, Path):
        return found
    # A namespace package (no __init__.py) gives a MultiplexedPath; use a real folder.
    for entry in found.iterdir():
        return Path(str(entry)).parent
    return Path(__file__).resolve().parents[1] / "scenarios"


def _shipped_names() -> list[str]:
    folder = builtin_scenarios_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def _shipped_file(name: str) -> Path | None:
    """The shipped scenario called ``name`` (with or without ``.toml``), if there is one."""
    stem = name[:-5] if name.lower().endswith(".toml") else name
    path = builtin_scenarios_dir() / f"{stem}.toml"
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):  # NUL, a name too long: no shipped scenario has it
        return None


def _locate(source: str | Path) -> tuple[Path, str]:
    """The file ``source`` names and how to show it: a path, or a shipped name."""
    if isinstance(source, Path):
        return source, str(source)
    given = Path(source)
    try:
        is_file = given.is_file()
    except (OSError, ValueError) as exc:  # NUL, a name too long for the file system
        raise ScenarioError(f"not a usable file name ({exc})", file=source) from None
    if given.suffix.lower() == ".toml" or "/" in source or os.sep in source or is_file:
        return given, source
    shipped = _shipped_file(source)
    if shipped is not None:
        return shipped, shipped.name
    names = _shipped_names()
    suggestion = _nearest(source, names)
    allowed = ("shipped scenarios: " + ", ".join(names)) if names and not suggestion else ""
    raise ScenarioError("no such file or shipped scenario" + _did_you_mean(suggestion),
                        file=source, allowed=allowed)


def load_scenario(source: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Load a scenario file (or a shipped scenario by name, e.g. ``"baseline"``),
    resolve its ``extends`` chain, apply ``KEY.PATH=VALUE`` overrides and validate.

    Raises :class:`ScenarioError` for anything wrong, naming file and key.
    """
    path, display = _locate(source)
    data = _read_toml(path, display)
    return _build(_Layer(display, path, data), overrides, path.stem)


def load_scenario_text(text: str, name: str = "<string>",
                       overrides: Sequence[str] = ()) -> Scenario:
    """Load a scenario from TOML text (tests, notebooks).

    ``name`` labels errors and is the scenario's name when the text has none.
    ``extends`` must be an absolute path, as there is no file to be relative to.
    """
    return _build(_Layer(name, None, _parse_text(text, name)), overrides, name)


def list_scenarios() -> list[tuple[str, str, Path]]:
    """``(name, description, path)`` of each shipped scenario, sorted by name.

    The name is the file stem (what :func:`load_scenario` accepts); comparison
    definitions (``compare-*.toml``) are skipped.
    """
    folder = builtin_scenarios_dir()
    if not folder.is_dir():
        return []
    found: list[tuple[str, str, Path]] = []
    for path in folder.glob("*.toml"):
        if path.name.startswith("compare-"):
            continue
        data = _read_toml(path, path.name)
        description = data.get("description", "")
        found.append((path.stem, description if isinstance(description, str) else "", path))
    return sorted(found)


def format_resolved(scenario: Scenario) -> str:
    """Every parameter on one aligned line, grouped by section: path, value,
    ``[unit]`` and where it came from (what ``flywheel validate`` prints)."""
    rows: list[list[tuple[str, str, str, str]]] = []
    for section in SECTIONS:
        group = []
        for p in PARAMS:
            if p.section != section:
                continue
            if p.kind == "distribution":
                shown = scenario.values[p.path].describe()  # type: ignore[attr-defined]
            else:
                shown = toml_value(scenario.raw[p.path])
            group.append((p.path, shown, f"[{p.unit}]" if p.unit else "",
                          scenario.sources[p.path]))
        rows.append(group)
    flat = [row for group in rows for row in group]
    widths = [max(len(row[i]) for row in flat) for i in range(3)]
    blocks = []
    for group in rows:
        lines = ["   ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "   " + row[3]
                 for row in group]
        blocks.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks) + "\n"
