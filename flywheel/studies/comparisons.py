"""Comparisons and sweeps: several scenarios (or one scenario at several settings)
run with the same seed, so their differences can be read with tight intervals.

Common random numbers.  Replication *i* of every scenario uses the *i*-th child
of ``SeedSequence(seed)``, and each mechanism of the model draws from its own
named stream.  Two scenarios that differ in one mechanism therefore meet the
same market, the same signups and the same patience draws everywhere else, and
replication *i* of one is a natural pair of replication *i* of the other.  The
difference of a metric is estimated from the per-replication differences
(:meth:`Comparison.paired_diff`, a Student t interval); the noise the two runs
share cancels, so the interval is much narrower than Welch's interval for two
independent samples (:meth:`Comparison.unpaired_diff`), which is kept for
contrast.

A comparison can be written down as a file, ``scenarios/compare-*.toml``::

    name = "ttv"
    description = "Fast vs slow time to value"
    question = "How much does a 10-minute time to value grow the business?"
    scenarios = ["slow-ttv.toml", "fast-ttv.toml"]   # the first is the reference
    levers = ["onboarding.ttv"]                      # what the question varies
    metrics = ["activation_rate", "signups", "arr_end"]

Scenario entries are paths relative to the comparison file, or names of
shipped scenarios; metrics are names from :data:`flywheel.metrics.METRICS`.

Levers.  A comparison answers a question about some parameters, its levers:
parameter paths or glob patterns on them (``"trial.*"``, ``"sales.*"``).  When
the scenarios also differ in a parameter outside the levers (a market, a
horizon), a difference in the results may come from it rather than from the
levers, and :meth:`Comparison.lever_check` says so; the terminal and the report
print it.  A comparison without levers (``flywheel compare a b c``) says which
parameters differ and that no levers were named.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel.metrics import HEADLINE, METRICS, MeanCI, check_metrics, format_value, mean_ci
from flywheel.scenario.defaults import PARAMS, PARAMS_BY_PATH, SECTIONS
from flywheel.scenario.files import (
    SET_SOURCE,
    Scenario,
    ScenarioError,
    _did_you_mean,
    _locate,
    _nearest,
    _read_toml,
    load_scenario,
    parse_set,
    slug,
    toml_value,
)
from flywheel.scenario.units import UnitError, parse_duration, parse_rate
from flywheel.studies.runner import RunResult, ci_range, ci_text, html_table, simulate, worker_pool
from flywheel.version import __version__

if TYPE_CHECKING:  # pandas is imported only by the methods that return a DataFrame
    import pandas as pd

__all__ = [
    "PRICE_KEYS",
    "BestPrice",
    "COMPARISON_KEYS",
    "Comparison",
    "ComparisonSpec",
    "Sweep",
    "COMPARISON_COLUMNS",
    "LeverCheck",
    "check_levers",
    "check_metrics",
    "compare",
    "is_comparison_file",
    "lever_check",
    "load_comparison",
    "parameter_differences",
    "paired_ci",
    "parse_vary",
    "split_values",
    "sweep",
    "sweep_points",
    "welch_ci",
]

#: Parameters that are prices ($ per seat per month): a sweep over one answers which price
#: tried earns the most (:meth:`Sweep.best_prices`), and draws demand and revenue against it.
PRICE_KEYS = ("pricing.price_per_seat", "sales.price_per_seat")
#: What the best price is judged by, and the demand beside it.
PRICE_REVENUE, PRICE_DEMAND = "arr_end", "paying_teams"

#: The keys a comparison file may have.
COMPARISON_KEYS = ("name", "description", "question", "scenarios", "levers", "metrics")
#: Parameters a comparison runs alike in every scenario (one seed, one count), never a
#: difference between them.
RUN_KEYS = ("simulation.seed", "simulation.replications")
#: ``file`` of errors about ``--vary``.
VARY_SOURCE = "--vary"
#: Parameters a sweep may not vary: every point runs with the same seed and count.
_FIXED_IN_SWEEP = ("simulation.seed", "simulation.replications")

Progress = Callable[[int], None]


# -- statistics ------------------------------------------------------------------------


def paired_ci(reference: Sequence[float], other: Sequence[float],
              level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``other[i] - reference[i]`` and its Student t interval.

    Pairs where either value is missing (NaN) are left out.
    """
    if len(reference) != len(other):
        raise ValueError(f"paired samples differ in length: {len(reference)} vs {len(other)}")
    return mean_ci(_differences(reference, other), level)


def welch_ci(reference: Sequence[float], other: Sequence[float],
             level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means ``mean(other) - mean(reference)`` and its Welch interval,
    treating the two samples as independent (NaNs left out of each)."""
    x = _finite(reference)
    y = _finite(other)
    if not len(x) or not len(y):
        return math.nan, math.nan, math.nan
    diff = float(y.mean() - x.mean())
    if len(x) < 2 or len(y) < 2:
        return diff, math.nan, math.nan
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0.0:
        return diff, diff, diff
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    from scipy import special  # t quantile, as in metrics.mean_ci

    half = float(special.stdtrit(df, 0.5 + level / 2) * se)
    return diff, diff - half, diff + half


def _finite(values: Sequence[float]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)


def _differences(reference: Sequence[float], other: Sequence[float]) -> list[float]:
    """``other[i] - reference[i]``, NaN where either is missing."""
    out = []
    for a, b in zip(reference, other, strict=True):
        if a is None or b is None or math.isnan(a) or math.isnan(b):
            out.append(math.nan)
        else:
            out.append(float(b) - float(a))
    return out


# -- running several scenarios with one seed -------------------------------------------


def _common(first: Scenario, replications: int | None, seed: int | None) -> tuple[int, int]:
    n = int(replications if replications is not None else first["simulation.replications"])
    s = int(seed if seed is not None else first["simulation.seed"])
    if n < 1:
        raise ValueError(f"replications must be at least 1, got {n}")
    return n, s


def _run_all(scenarios: Sequence[Scenario], n: int, seed: int, jobs: int | None,
             executor: Executor | None, progress: Progress | None) -> list[RunResult]:
    with worker_pool(jobs, n, executor) as pool:
        return [simulate(sc, replications=n, seed=seed, jobs=1 if pool is None else jobs,
                         executor=pool, progress=progress) for sc in scenarios]


def _unique_labels(names: Sequence[str]) -> list[str]:
    """Scenario names, with ``" (2)"``, ``" (3)"``... added to repeats."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return labels


#: The columns of a comparison's table (comparison.csv, :meth:`Comparison.frame`).
COMPARISON_COLUMNS = ["metric", "label", "unit", "scenario", "mean", "ci95_lo", "ci95_hi",
                      "diff", "diff_lo", "diff_hi"]


def scenario_file(i: int, name: str) -> str:
    return f"scenario-{i}-{slug(name)}.toml"


def _metric_meta(name: str) -> dict[str, str]:
    meta = METRICS[name]
    return {"label": meta.label, "unit": meta.unit, "kind": meta.kind}


# -- levers: what a comparison's question varies -----------------------------------------


def parameter_differences(scenarios: Sequence[Scenario]) -> dict[str, list[object]]:
    """Parameter paths whose values (as written, TOML form) differ between the
    scenarios, with each scenario's value in order (the seed and the replication count,
    which a comparison sets alike, left out)."""
    out: dict[str, list[object]] = {}
    for p in PARAMS:
        if p.path in RUN_KEYS:
            continue
        values = [sc.raw[p.path] for sc in scenarios]
        if any(v != values[0] for v in values[1:]):
            out[p.path] = values
    return out


def _is_lever(path: str, levers: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in levers)


def _suggest_lever(pattern: str) -> str | None:
    """What a lever that matches no parameter most likely meant: a section's pattern
    (``pricng.*`` -> ``pricing.*``), a parameter of that name in another section, or the
    nearest path."""
    head, dot, tail = pattern.partition(".")
    if dot and tail == "*":
        near = _nearest(head, SECTIONS)
        return f"{near}.*" if near else None
    same = [p.path for p in PARAMS if p.path.rsplit(".", 1)[-1] == pattern.rsplit(".", 1)[-1]]
    return same[0] if same else _nearest(pattern, list(PARAMS_BY_PATH))


def check_levers(levers: object, file: str | None = None) -> list[str]:
    """A comparison's ``levers`` checked: a non-empty list of parameter paths or glob
    patterns on them (``*``, ``?``, ``[...]``), each matching at least one parameter.  A
    bad one is a :class:`~flywheel.scenario.files.ScenarioError` naming the file, the
    key, the value and what is allowed."""
    example = 'e.g. levers = ["pricing.model", "trial.*"]'
    if not isinstance(levers, list):
        raise ScenarioError(f"expected a list of parameter paths or patterns, got "
                            f"{toml_value(levers)}", file=file, key="levers", allowed=example)
    if not levers:
        raise ScenarioError("no levers", file=file, key="levers",
                            allowed=f"name at least one parameter, {example}, or leave the "
                                    "key out")
    for pattern in levers:
        if not isinstance(pattern, str):
            raise ScenarioError(f"expected a parameter path or pattern, got "
                                f"{toml_value(pattern)}", file=file, key="levers",
                                allowed=example)
        if not any(fnmatch.fnmatchcase(p.path, pattern) for p in PARAMS):
            suggestion = _suggest_lever(pattern)
            raise ScenarioError(
                "matches no parameter" + _did_you_mean(suggestion), file=file, key="levers",
                value=pattern,
                allowed="" if suggestion else
                "a parameter path (pricing.model) or a pattern on paths (trial.*); sections: "
                + ", ".join(SECTIONS))
    return list(levers)


@dataclass(frozen=True)
class LeverCheck:
    """What a comparison's scenarios differ in beyond its levers, in words.

    ``outside`` lists the parameters they differ in that no lever matches (every one they
    differ in when no levers were named); ``warning`` is true when a difference in the
    results may come from one of them (always, with levers named; without, when they
    differ in more than one parameter); ``text`` says so in a sentence, ``""`` when there
    is nothing to say."""

    levers: tuple[str, ...] | None
    outside: tuple[str, ...]
    warning: bool
    text: str

    @property
    def line(self) -> str:
        """``text`` headed ``Warning:`` or ``Note:``, as the terminal prints it."""
        return f"{'Warning' if self.warning else 'Note'}: {self.text}" if self.text else ""

    @property
    def reminder(self) -> str:
        """The warning in one short line (a few of the parameters named), for the end of
        the terminal's output; ``""`` without a warning."""
        if not self.warning:
            return ""
        shown = ", ".join(self.outside[:3]) + (", ..." if len(self.outside) > 3 else "")
        n = len(self.outside)
        where = ("no levers named" if self.levers is None
                 else "beyond the question's levers")
        return (f"Warning: {where}, the scenarios differ in {n} parameter"
                f"{'s' if n != 1 else ''} ({shown}); see above.")


def lever_check(differences: Mapping[str, Sequence[object]],
                levers: Sequence[str] | None) -> LeverCheck:
    """Which of the parameters a comparison's scenarios differ in
    (:func:`parameter_differences`) lie outside its ``levers`` (``None``: none named), and
    the warning to print."""
    keys = [k for k in differences if k not in RUN_KEYS]
    if levers is None:
        if not keys:
            return LeverCheck(None, (), False, "")
        if len(keys) == 1:
            return LeverCheck(None, tuple(keys), False,
                              f"no levers named; the scenarios differ in {keys[0]} only.")
        return LeverCheck(None, tuple(keys), True,
                          f"no levers named, and these scenarios differ in {len(keys)} "
                          f"parameters: {', '.join(keys)}. A difference in the results may "
                          "come from any of them (a comparison file names its levers: "
                          "levers = [...]).")
    outside = [k for k in keys if not _is_lever(k, levers)]
    if not outside:
        return LeverCheck(tuple(levers), (), False, "")
    return LeverCheck(tuple(levers), tuple(outside), True,
                      f"these scenarios also differ in {', '.join(outside)}, outside the "
                      f"question's levers ({', '.join(levers)}): a difference in the results "
                      "may come from them, not from the question's levers.")


# -- comparisons -----------------------------------------------------------------------


@dataclass
class ComparisonSpec:
    """A comparison file, loaded: its scenarios resolved and its metrics checked."""

    name: str
    description: str
    question: str
    scenarios: list[Scenario]
    metrics: list[str]
    path: Path | None = None
    #: The parameters the question varies (paths or glob patterns); ``None``: not named.
    levers: list[str] | None = None

    def lever_check(self) -> LeverCheck:
        """What the scenarios differ in beyond the levers (:func:`lever_check`), known
        before anything runs."""
        return lever_check(parameter_differences(self.scenarios), self.levers)


@dataclass
class Comparison:
    """Scenarios run with one seed; scenario 0 is the reference of every difference."""

    scenarios: list[Scenario]
    results: list[RunResult]
    seed: int
    metrics: list[str] = field(default_factory=lambda: list(HEADLINE))
    question: str = ""
    name: str = ""
    description: str = ""
    #: The parameters the question varies (paths or glob patterns); ``None``: not named.
    levers: list[str] | None = None

    def __post_init__(self) -> None:
        if len(self.scenarios) != len(self.results):
            raise ValueError("one result per scenario")
        if not self.name:
            self.name = "-vs-".join(sc.name for sc in self.scenarios)[:80]

    @property
    def labels(self) -> list[str]:
        """The scenarios' names, made unique (a repeat gets `` (2)``)."""
        return _unique_labels([sc.name for sc in self.scenarios])

    @property
    def replications(self) -> int:
        return self.results[0].n if self.results else 0

    def paired_values(self, metric: str, i: int) -> list[float]:
        """Per-replication differences, scenario ``i`` minus scenario 0 (NaN where a
        replication lacks the metric in either)."""
        return _differences(self.results[0].values(metric), self.results[i].values(metric))

    def paired_diff(self, metric: str, i: int) -> MeanCI:
        """Scenario ``i`` minus scenario 0: the mean of the per-replication differences
        and its 95% Student t interval (common random numbers make the pairs), as
        ``MeanCI(mean, lo, hi)``."""
        return mean_ci(self.paired_values(metric, i))

    def unpaired_diff(self, metric: str, i: int) -> MeanCI:
        """Scenario ``i`` minus scenario 0 as if the runs were independent: difference
        of means and its 95% Welch interval, as ``MeanCI(mean, lo, hi)``.  For contrast
        with :meth:`paired_diff`."""
        return MeanCI(*welch_ci(self.results[0].values(metric), self.results[i].values(metric)))

    def rows(self, metrics: Sequence[str] | None = None) -> list[dict[str, object]]:
        """Tidy rows, one per metric and scenario: metric, label, unit, scenario, mean,
        ci95_lo, ci95_hi, and the paired difference against scenario 0 (diff, diff_lo,
        diff_hi; NaN on the reference's own rows)."""
        rows: list[dict[str, object]] = []
        labels = self.labels
        for metric in metrics or self.metrics:
            meta = METRICS[metric]
            for i, result in enumerate(self.results):
                mean, lo, hi = result.mean_ci(metric)
                d, dlo, dhi = (math.nan,) * 3 if i == 0 else self.paired_diff(metric, i)
                rows.append({"metric": metric, "label": meta.label, "unit": meta.unit,
                             "scenario": labels[i], "mean": mean, "ci95_lo": lo,
                             "ci95_hi": hi, "diff": d, "diff_lo": dlo, "diff_hi": dhi})
        return rows

    def frame(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """:meth:`rows` as a pandas DataFrame (the columns of ``comparison.csv``)."""
        import pandas as pd

        return pd.DataFrame(self.rows(metrics), columns=COMPARISON_COLUMNS)

    def _described(self) -> str:
        labels = self.labels
        return (f"{len(self.scenarios)} scenarios (reference {labels[0] if labels else '-'}), "
                f"{self.replications} replications, seed {self.seed}")

    def __repr__(self) -> str:
        labels = self.labels
        shown = [f"{m} {labels[i]} {ci_text(self.paired_diff(m, i), m, signed=True)}"
                 for m in self.metrics[:3] for i in range(1, min(len(self.results), 4))]
        more = len(self.results) - 4
        tail = f"; ... {more} more scenarios" if more > 0 else ""
        return (f"<Comparison {self.name}: {self._described()}; paired differences "
                f"vs {labels[0] if labels else '-'}: {'; '.join(shown) or 'none'}{tail}>")

    def _repr_html_(self) -> str:
        labels = self.labels
        rows = []
        for m in self.metrics:
            meta = METRICS[m]
            for i, result in enumerate(self.results):
                mci = result.mean_ci(m)
                diff = "" if i == 0 else ci_text(self.paired_diff(m, i), m, signed=True)
                rows.append([meta.label if i == 0 else "", labels[i],
                             format_value(mci.mean, meta.unit), ci_range(mci, m), diff])
        return html_table(f"Comparison {self.name}: {self._described()}",
                           ["metric", "scenario", "mean", "95% CI",
                            f"paired difference vs {labels[0] if labels else '-'} [95% CI]"],
                           rows)

    def parameter_differences(self) -> dict[str, list[object]]:
        """Parameter paths whose values (as written, TOML form) differ between the
        scenarios, with each scenario's value in order (:func:`parameter_differences`)."""
        return parameter_differences(self.scenarios)

    def lever_check(self) -> LeverCheck:
        """What the scenarios differ in beyond the comparison's levers, and the warning
        the terminal and the report print (:func:`lever_check`)."""
        return lever_check(self.parameter_differences(), self.levers)

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``: every metric (the chosen ones first), each
        scenario's mean, CI and per-replication values, and the paired and unpaired
        differences against the reference."""
        labels = self.labels
        check = self.lever_check()
        names = list(self.metrics) + [m for m in METRICS if m not in self.metrics]
        metrics: dict[str, Any] = {}
        for metric in names:
            per = []
            for i, result in enumerate(self.results):
                mean, lo, hi = result.mean_ci(metric)
                entry: dict[str, Any] = {"scenario": labels[i], "mean": mean, "ci95": [lo, hi],
                                         "values": result.values(metric)}
                if i == 0:
                    entry["diff"] = entry["diff_unpaired"] = None
                else:
                    d, dlo, dhi = self.paired_diff(metric, i)
                    u, ulo, uhi = self.unpaired_diff(metric, i)
                    entry["diff"] = {"mean": d, "ci95": [dlo, dhi],
                                     "values": self.paired_values(metric, i)}
                    entry["diff_unpaired"] = {"mean": u, "ci95": [ulo, uhi]}
                per.append(entry)
            metrics[metric] = {**_metric_meta(metric), "scenarios": per}
        return {
            "flywheel_version": __version__,
            "kind": "comparison",
            "name": self.name,
            "description": self.description,
            "question": self.question,
            "seed": self.seed,
            "replications": self.replications,
            "reference": labels[0] if labels else None,
            "scenarios": [{"index": i, "name": labels[i], "description": sc.description,
                           "horizon_days": r.horizon, "file": scenario_file(i, sc.name)}
                          for i, (sc, r) in enumerate(zip(self.scenarios, self.results, strict=True))],
            "parameter_differences": self.parameter_differences(),
            "levers": None if self.levers is None else list(self.levers),
            "outside_levers": list(check.outside),
            "lever_warning": check.line or None,
            "reasons": {label: r.reasons() for label, r in zip(labels, self.results,
                                                                strict=True)},
            "shown_metrics": list(self.metrics),
            "metrics": metrics,
        }


def _read_comparison(source: str | Path) -> tuple[Path, str, dict[str, Any]]:
    """Locate a comparison file; a shipped one may be named without its ``compare-``
    prefix, as ``flywheel list`` shows it (``ttv`` for ``compare-ttv.toml``)."""
    try:
        path, display = _locate(source)
    except ScenarioError:
        name = str(source)
        if "/" in name or name.endswith(".toml") or name.startswith("compare-"):
            raise
        try:
            path, display = _locate(f"compare-{name}")
        except ScenarioError:
            pass
        else:
            return path, display, _read_toml(path, display)
        raise
    return path, display, _read_toml(path, display)


def is_comparison_file(source: str | Path) -> bool:
    """Whether ``source`` names a readable comparison file (one with ``scenarios``)."""
    try:
        _, _, data = _read_comparison(source)
    except ScenarioError:
        return False
    return "scenarios" in data


def _comparison_scenario(entry: str, path: Path, display: str,
                         overrides: Sequence[str]) -> Scenario:
    """Load one ``scenarios`` entry: a path relative to the comparison file, else a
    shipped scenario's name (with or without ``.toml``).  Any error names the comparison
    file and the entry as well as what is wrong inside the scenario."""
    try:
        return _entry_scenario(entry, path, display, overrides)
    except ScenarioError as exc:
        if exc.file in (display, "--set"):  # already says where
            raise
        raise ScenarioError(str(exc), file=display, key="scenarios", value=entry) from None
    except (OSError, ValueError) as exc:  # a name no file system takes: NUL, too long
        raise ScenarioError(f"not a usable file name ({exc})", file=display, key="scenarios",
                            value=entry) from None


def _entry_scenario(entry: str, path: Path, display: str,
                    overrides: Sequence[str]) -> Scenario:
    target = Path(os.path.normpath(path.parent / entry))
    if target.is_file() and is_comparison_file(target):
        raise ScenarioError("is a comparison file, not a scenario", file=display,
                            key="scenarios", value=entry,
                            allowed="list scenario files (or shipped scenarios' names)")
    if target.is_file():
        return load_scenario(target, overrides)
    plain = "/" not in entry and os.sep not in entry
    stem = entry[:-5] if entry.lower().endswith(".toml") else entry
    if plain:
        try:
            located, _ = _locate(stem)
        except ScenarioError:
            located = None
        if located is not None:
            return load_scenario(stem, overrides)
    raise ScenarioError(f"scenario file not found (looked for {target.resolve()})",
                        file=display, key="scenarios", value=entry,
                        allowed="give a path relative to the comparison file, or a shipped "
                                "scenario's name")


def load_comparison(path: str | Path, overrides: Sequence[str] = ()) -> ComparisonSpec:
    """Read a comparison file (or a shipped one by name, e.g. ``"compare-ttv"``), load
    its scenarios with ``KEY.PATH=VALUE`` overrides applied to each, check its metrics.

    Raises :class:`ScenarioError` naming the file and key for anything wrong.
    """
    file_path, display, data = _read_comparison(path)
    if "scenarios" not in data:
        raise ScenarioError("not a comparison file: it has no scenarios list", file=display,
                            allowed="compare two or more scenarios, or one comparison file "
                                    'with scenarios = ["a.toml", "b.toml", ...]')
    for key, value in data.items():
        if key not in COMPARISON_KEYS:
            suggestion = _nearest(key, COMPARISON_KEYS)
            allowed = "" if suggestion else "a comparison file has " + ", ".join(COMPARISON_KEYS)
            raise ScenarioError("unknown key" + _did_you_mean(suggestion), file=display,
                                key=key, allowed=allowed)
        if key in ("name", "description", "question") and not isinstance(value, str):
            raise ScenarioError(f"expected a string, got {toml_value(value)}", file=display,
                                key=key)
    entries = data["scenarios"]
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ScenarioError(f"expected a list of scenario files, got {toml_value(entries)}",
                            file=display, key="scenarios",
                            allowed='e.g. scenarios = ["baseline.toml", "fast-ttv.toml"]')
    if len(entries) < 2:
        raise ScenarioError(f"a comparison needs at least two scenarios, got {len(entries)}",
                            file=display, key="scenarios")
    metrics = data.get("metrics", list(HEADLINE))
    if not isinstance(metrics, list):
        raise ScenarioError(f"expected a list of metric names, got {toml_value(metrics)}",
                            file=display, key="metrics",
                            allowed='e.g. metrics = ["activation_rate", "arr_end"]')
    metrics = check_metrics(metrics, display)
    levers = check_levers(data["levers"], display) if "levers" in data else None
    if isinstance(overrides, str):
        overrides = [overrides]
    for expr in overrides:  # a bad --set is reported once, before any file is read
        parse_set(expr)
    scenarios = [_comparison_scenario(e, file_path, display, overrides) for e in entries]
    stem = file_path.stem
    default_name = stem[len("compare-"):] if stem.startswith("compare-") else stem
    return ComparisonSpec(name=data.get("name", default_name) or default_name,
                          description=data.get("description", ""),
                          question=data.get("question", ""), scenarios=scenarios,
                          metrics=metrics, path=file_path, levers=levers)


def compare(scenarios: Sequence[Scenario | str | Path] | ComparisonSpec | str | Path,
            replications: int | None = None, seed: int | None = None,
            jobs: int | None = None, progress: Progress | None = None, *,
            overrides: Sequence[str] = (), metrics: Sequence[str] | None = None,
            question: str | None = None, name: str | None = None,
            levers: Sequence[str] | None = None,
            executor: Executor | None = None) -> Comparison:
    """Run ``scenarios`` with one seed (common random numbers); the first is the
    reference of every difference.

    ``scenarios`` is a list of :class:`Scenario` objects, files or shipped names,
    or a comparison file (its path or shipped name, or a loaded
    :class:`ComparisonSpec`), which also sets the metrics, question, name and levers
    (``levers``: parameter paths or glob patterns the question varies; the comparison
    warns of differences outside them).
    ``replications`` and ``seed`` default to the first scenario's; ``overrides``
    (``KEY.PATH=VALUE``) apply to every scenario.  ``jobs`` and ``executor`` as in
    :func:`~flywheel.studies.runner.simulate`, one pool serving all scenarios; ``progress``
    is called with 1 after each replication of each scenario.
    """
    spec: ComparisonSpec | None = None
    if isinstance(scenarios, (str, Path)):
        spec = load_comparison(scenarios, overrides)
    elif isinstance(scenarios, ComparisonSpec):
        spec = scenarios
        if overrides:
            sets = dict(parse_set(expr) for expr in overrides)
            spec = dataclasses.replace(
                spec, scenarios=[sc.with_overrides(sets) for sc in spec.scenarios])
    if spec is not None:
        loaded = list(spec.scenarios)
        metrics = spec.metrics if metrics is None else metrics
        question = spec.question if question is None else question
        name = spec.name if name is None else name
        levers = spec.levers if levers is None else levers
        description = spec.description
    else:
        items = list(scenarios)
        if not items:
            raise ValueError("compare needs at least one scenario")
        sets = dict(parse_set(expr) for expr in overrides)
        loaded = [(item.with_overrides(sets) if sets else item) if isinstance(item, Scenario)
                  else load_scenario(item, list(overrides)) for item in items]
        description = ""
    chosen = check_metrics(metrics) if metrics is not None else list(HEADLINE)
    if isinstance(levers, str):
        levers = [levers]
    chosen_levers = check_levers(list(levers)) if levers is not None else None
    n, s = _common(loaded[0], replications, seed)
    results = _run_all(loaded, n, s, jobs, executor, progress)
    # each scenario as run (simulate records the common seed and replications in it)
    return Comparison(scenarios=[r.scenario for r in results], results=results, seed=s, metrics=chosen,
                      question=question or "", name=name or "", description=description,
                      levers=chosen_levers)


# -- sweeps ----------------------------------------------------------------------------


def _axis_number(value: object) -> float | None:
    """An axis value as a number for plotting: numbers as they are, durations in
    days, rates per day; ``None`` for anything else (tables, choices, flags)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        for parse in (parse_duration, parse_rate):
            try:
                return float(parse(value))
            except (UnitError, ValueError):
                continue
    return None


def _shown(value: object) -> object:
    """An axis value for a CSV cell or a table: scalars as they are, tables as TOML."""
    if isinstance(value, (Mapping, list, tuple)):
        return toml_value(value)
    return value


def _relabel(exc: ScenarioError, hint: str = "") -> ScenarioError:
    """An error from applying a sweep value, naming ``--vary`` instead of ``--set``."""
    if exc.file != SET_SOURCE:
        return exc
    kwargs: dict[str, Any] = {"value": exc.value} if exc._has_value else {}
    allowed = "; ".join(a for a in (exc.allowed, hint) if a)
    return ScenarioError(exc.problem, file=VARY_SOURCE, key=exc.key, allowed=allowed,
                         **kwargs)


def _field_hint(exc: ScenarioError, keys: Sequence[str]) -> str:
    """When varying one field of a distribution broke it (a median above the p90 it
    kept), say how to vary the whole distribution instead."""
    for key in keys:
        head, _, name = key.rpartition(".")
        if key not in PARAMS_BY_PATH and head == exc.key:
            return (f"the other fields keep their values at every point; vary the whole "
                    f"distribution instead, e.g. --vary '{head}={{ {name} = ..., ... }},"
                    f"{{ ... }}'")
    return ""


@dataclass(frozen=True)
class BestPrice:
    """The price tried that earns the most (mean ARR at the horizon) along a price sweep,
    for one value of the other swept parameter (``where``; empty with one axis)."""

    key: str  # the price parameter swept
    price: float
    where: dict[str, object]
    revenue: MeanCI  # ARR ($ per year) at that price
    demand: MeanCI  # paying customers there
    #: The best is the lowest or highest price tried: a price beyond the range may earn more.
    edge: str = ""  # "", "lowest" or "highest"
    #: Other prices tried whose mean ARR lies inside the best one's 95% CI (not separated).
    close: tuple[float, ...] = ()

    def sentence(self) -> str:
        """The answer in words, with its 95% CI."""
        ctx = "".join(f" with {k} = {_shown(v)}" for k, v in self.where.items())
        r, d = self.revenue, self.demand
        text = (f"Best price tried{ctx}: {self.key} = {format_value(self.price, '$')}, ARR "
                f"{format_value(r.mean, '$')} [95% CI {format_value(r.lo, '$')} to "
                f"{format_value(r.hi, '$')}] from {d.mean:,.0f} paying customers "
                f"[{d.lo:,.0f} to {d.hi:,.0f}].")
        if self.close:
            text += (" Mean ARR at " + ", ".join(format_value(p, "$") for p in self.close)
                     + " lies inside that CI: these runs do not tell them apart.")
        if self.edge:
            more = "higher" if self.edge == "highest" else "lower"
            text += (f" It is the {self.edge} price tried: a {more} one may earn more; "
                     "widen the sweep.")
        return text

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "price": self.price, "where": dict(self.where),
                "metric": PRICE_REVENUE, "mean": self.revenue.mean,
                "ci95": [self.revenue.lo, self.revenue.hi],
                "paying_teams": {"mean": self.demand.mean,
                                 "ci95": [self.demand.lo, self.demand.hi]},
                "edge": self.edge, "within_ci": list(self.close)}


@dataclass
class Sweep:
    """One scenario run at every point of a grid of parameter values, all with one seed."""

    base: Scenario
    axes: list[tuple[str, list[object]]]
    points: list[dict[str, object]]
    results: list[RunResult]
    seed: int = 0
    metrics: list[str] = field(default_factory=lambda: list(HEADLINE))
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.points) != len(self.results):
            raise ValueError("one result per point")
        if not self.name:
            self.name = self.base.name

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values on each axis; points run in row-major (C) order."""
        return tuple(len(values) for _, values in self.axes)

    @property
    def replications(self) -> int:
        return self.results[0].n if self.results else 0

    def axis_numbers(self, key: str) -> list[float | None]:
        """The values of axis ``key`` as numbers (durations in days, rates per day),
        ``None`` where a value is not a number, for plotting."""
        for k, values in self.axes:
            if k == key:
                return [_axis_number(v) for v in values]
        raise KeyError(key)

    @property
    def price_axis(self) -> str | None:
        """The swept price parameter (:data:`PRICE_KEYS`) with numeric values, if any."""
        for key, values in self.axes:
            if key in PRICE_KEYS and all(_axis_number(v) is not None for v in values):
                return key
        return None

    def price_lines(self) -> list[tuple[dict[str, object], list[float], list[int]]]:
        """Along the price axis, per value of the other swept parameter (none with one
        axis): ``(where, prices, indices into results)``, prices ascending."""
        key = self.price_axis
        if key is None:
            return []
        others = [(k, v) for k, v in self.axes if k != key]
        out = []
        for other in (others[0][1] if others else [None]):
            where = {others[0][0]: other} if others else {}
            found = sorted((float(_axis_number(p[key]) or 0.0), i)
                           for i, p in enumerate(self.points)
                           if not others or p[others[0][0]] == other)
            out.append((where, [x for x, _ in found], [i for _, i in found]))
        return out

    def best_prices(self) -> list[BestPrice]:
        """For a sweep over a price (:attr:`price_axis`): the price tried with the highest
        mean ARR, with its CI and the paying customers there, per value of the other swept
        parameter; empty when no price is swept."""
        key = self.price_axis
        out = []
        for where, prices, idx in self.price_lines():
            means = [self.results[i].mean_ci(PRICE_REVENUE).mean for i in idx]
            ok = [k for k, m in enumerate(means) if not math.isnan(m)]
            if not ok:
                continue
            k = max(ok, key=lambda q: means[q])
            edge = ("" if len(prices) < 2 else "lowest" if k == 0
                    else "highest" if k == len(prices) - 1 else "")
            res = self.results[idx[k]]
            revenue = res.mean_ci(PRICE_REVENUE)
            close = tuple(prices[q] for q in ok
                          if q != k and revenue.lo <= means[q] <= revenue.hi)
            out.append(BestPrice(key=str(key), price=prices[k], where=where, revenue=revenue,
                                 demand=res.mean_ci(PRICE_DEMAND), edge=edge, close=close))
        return out

    def findings(self) -> list[str]:
        """What the sweep answers in words, before the per-metric changes the report adds:
        the best price tried by ARR (and its CI), when a price is swept."""
        return [b.sentence() for b in self.best_prices()]

    def grid(self, metric: str) -> np.ndarray:
        """The metric's mean at each point, shaped like the grid (:attr:`shape`)."""
        return np.asarray([r.mean_ci(metric)[0] for r in self.results]).reshape(self.shape)

    def rows(self, metrics: Sequence[str] | None = None) -> list[dict[str, object]]:
        """Tidy rows, one per point and metric: point, each axis value (tables as TOML
        text), metric, label, unit, mean, ci95_lo, ci95_hi."""
        rows: list[dict[str, object]] = []
        for i, (point, result) in enumerate(zip(self.points, self.results, strict=True)):
            for metric in metrics or self.metrics:
                meta = METRICS[metric]
                mean, lo, hi = result.mean_ci(metric)
                rows.append({"point": i, **{k: _shown(v) for k, v in point.items()},
                             "metric": metric, "label": meta.label, "unit": meta.unit,
                             "mean": mean, "ci95_lo": lo, "ci95_hi": hi})
        return rows

    def frame(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """:meth:`rows` as a pandas DataFrame (the columns of ``sweep.csv``)."""
        import pandas as pd

        columns = ["point", *(k for k, _ in self.axes), "metric", "label", "unit", "mean",
                   "ci95_lo", "ci95_hi"]
        return pd.DataFrame(self.rows(metrics), columns=columns)

    def _described(self) -> str:
        axes = " × ".join(f"{k} ({len(v)} value{'s' if len(v) != 1 else ''})"
                          for k, v in self.axes)
        return (f"{axes}; {len(self.points)} points, {self.replications} replications, "
                f"seed {self.seed}")

    def __repr__(self) -> str:
        shown = []
        for m in self.metrics[:3]:
            unit = METRICS[m].unit
            means = [r.mean_ci(m).mean for r in self.results]
            finite = [x for x in means if not math.isnan(x)]
            span = (f"{format_value(min(finite), unit)} to {format_value(max(finite), unit)}"
                    if finite else "-")
            shown.append(f"{m} {span}")
        return f"<Sweep {self.name}: {self._described()}; means {'; '.join(shown)}>"

    def _repr_html_(self, limit: int = 30) -> str:
        keys = [k for k, _ in self.axes]
        metrics = self.metrics[:6]
        rows = []
        for i, (point, result) in enumerate(zip(self.points[:limit], self.results, strict=False)):
            cells: list[object] = [i, *(_shown(point[k]) for k in keys)]
            cells += [ci_text(result.mean_ci(m), m) for m in metrics]
            rows.append(cells)
        header = ["point", *keys, *(f"{METRICS[m].label} [95% CI]" for m in metrics)]
        return html_table(f"Sweep {self.name}: {self._described()}", header, rows,
                           more=max(0, len(self.points) - limit))

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``: the axes, the points, and every metric (the
        chosen ones first) at every point with mean, CI and per-replication values."""
        names = list(self.metrics) + [m for m in METRICS if m not in self.metrics]
        metrics = {}
        for metric in names:
            per = []
            for i, result in enumerate(self.results):
                mean, lo, hi = result.mean_ci(metric)
                per.append({"point": i, "mean": mean, "ci95": [lo, hi],
                            "values": result.values(metric)})
            metrics[metric] = {**_metric_meta(metric), "points": per}
        return {
            "flywheel_version": __version__,
            "kind": "sweep",
            "name": self.name,
            "scenario": self.base.name,
            "seed": self.seed,
            "replications": self.replications,
            "axes": [{"key": k, "values": list(v), "numbers": self.axis_numbers(k)}
                     for k, v in self.axes],
            "shape": list(self.shape),
            "points": [{"index": i, "values": dict(p), "horizon_days": r.horizon,
                        "file": scenario_file(i, self.base.name)}
                       for i, (p, r) in enumerate(zip(self.points, self.results, strict=True))],
            "shown_metrics": list(self.metrics),
            "metrics": metrics,
            "best_price": [b.to_json() for b in self.best_prices()],
        }


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` on commas outside braces, brackets and quotes:
    ``'{ median = "1h", p90 = "4h" },2d'`` gives two values."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    escaped = False
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth < 0:
                raise ScenarioError(f'unbalanced "{ch}"', file=VARY_SOURCE, value=text)
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if quote or depth:
        raise ScenarioError("unclosed " + (f"quote {quote}" if quote else "brace or bracket"),
                            file=VARY_SOURCE, value=text)
    parts.append(text[start:])
    parts = [p.strip() for p in parts]
    if any(not p for p in parts):
        raise ScenarioError("empty value in the list", file=VARY_SOURCE, value=text,
                            allowed="e.g. onboarding.ttv.median=10min,1d,1w")
    return parts


def parse_vary(expr: str) -> tuple[str, list[object]]:
    """Read ``KEY.PATH=V1,V2,...`` into the key and its values (TOML form, each read
    as ``--set`` reads a value)."""
    key, sep, text = expr.partition("=")
    key = key.strip()
    if not sep or not key or not text.strip():
        raise ScenarioError("expected KEY.PATH=V1,V2,...", file=VARY_SOURCE, value=expr,
                            allowed="e.g. --vary onboarding.ttv.median=10min,1d,1w")
    values = []
    for piece in split_values(text):
        try:
            _, value = parse_set(f"{key}={piece}")
        except ScenarioError as exc:
            raise _relabel(exc) from None
        values.append(value)
    return key, values


def sweep_points(base: Scenario, vary: Sequence[tuple[str, Sequence[object]]],
                 replications: int | None = None, seed: int | None = None
                 ) -> tuple[list[tuple[str, list[object]]], list[dict[str, object]],
                            list[Scenario], int]:
    """Check a sweep without running it: the axes, the points (row-major, the last axis
    fastest), each point's scenario, and the common seed (:func:`simulate` writes it and
    the replications into each point's scenario as it runs).  Raises :class:`ScenarioError` for a bad key or value."""
    axes = [(str(k), list(v)) for k, v in vary]
    if not 1 <= len(axes) <= 2:
        raise ScenarioError(f"a sweep varies one or two parameters, got {len(axes)}",
                            file=VARY_SOURCE)
    keys = [k for k, _ in axes]
    for key, values in axes:
        if keys.count(key) > 1:
            raise ScenarioError("varied twice", file=VARY_SOURCE, key=key,
                                allowed="give all its values in one list")
        if key in _FIXED_IN_SWEEP:
            raise ScenarioError("cannot be varied: every point runs with the same seed and "
                                "replications", file=VARY_SOURCE, key=key,
                                allowed="use --seed and --replications")
        if not values:
            raise ScenarioError("no values", file=VARY_SOURCE, key=key)
    _, s = _common(base, replications, seed)  # checks the replication count too
    points = [dict(zip(keys, combo, strict=True)) for combo in product(*(v for _, v in axes))]
    scenarios = []
    for point in points:
        try:
            scenarios.append(base.with_overrides(point))
        except ScenarioError as exc:
            raise _relabel(exc, _field_hint(exc, keys)) from None
    return axes, points, scenarios, s


def sweep(scenario: Scenario | str | Path, vary: Sequence[tuple[str, Sequence[object]]],
          replications: int | None = None, seed: int | None = None,
          jobs: int | None = None, progress: Progress | None = None, *,
          overrides: Sequence[str] = (), metrics: Sequence[str] | None = None,
          executor: Executor | None = None) -> Sweep:
    """Run ``scenario`` at every point of the grid ``vary`` spans, all with one seed.

    ``vary`` lists one or two ``(KEY.PATH, values)`` axes; keys are what ``--set``
    takes (a parameter, or a distribution's field such as
    ``"onboarding.ttv.median"``), values are TOML-form (``"1h"``, ``0.3``, ``True``,
    ``{"median": "1h", "p90": "4h"}``).  Points run in row-major order (the last
    axis fastest).  Every point is checked before anything runs.
    """
    base = (scenario if isinstance(scenario, Scenario)
            else load_scenario(scenario, list(overrides)))
    if isinstance(scenario, Scenario) and overrides:
        base = base.with_overrides(dict(parse_set(e) for e in overrides))
    chosen = check_metrics(metrics) if metrics is not None else list(HEADLINE)
    axes, points, scenarios, s = sweep_points(base, vary, replications, seed)
    n, _ = _common(base, replications, seed)
    results = _run_all(scenarios, n, s, jobs, executor, progress)
    return Sweep(base=base, axes=axes, points=points, results=results, seed=s, metrics=chosen)
