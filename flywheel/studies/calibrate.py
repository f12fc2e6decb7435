"""Fit a scenario to a founder's weekly data (``flywheel calibrate``).

**The search runs on the mean-field twin**, which gives the expected weekly series of a
scenario in a fraction of a second and without noise, so a least-squares search can move
several parameters at once (:func:`scipy.optimize.least_squares`, trust-region on
transformed parameters: logs of rates, durations and counts, logits of probabilities).

**The residuals.**  A weekly flow (signups, activated, new paying) is compared as it is;
a level (paying, MRR, active users) by its change from the week before (its first week from
launch, when every level is 0), since successive levels share most of their noise.  Each
residual is scaled twice: first by the square root of the model's value (counts are about
Poisson), then, after a first fit, each series by its own residual spread (feasible
generalised least squares), so a series with extra noise weighs less and every series
counts by how well the model can follow it.  A known rate (``--known
activation_rate=0.38``) is one more residual: (the twin's value − the known) / its
standard error (5% of the value unless given as ``0.38±0.02``).

**The twin's gap, taken out.**  The twin is an approximation (a few percent off the
simulation on some series, docs/model.md §9), and a fit on it would carry that gap into
the estimates.  So after the first fit the simulation runs at the estimate
(:data:`CORRECTION_RUNS` replications), each series' ratio of the simulation's mean to the
twin's is measured over the data's weeks, and the search runs again with the twin's series
multiplied by those ratios (a surrogate corrected by the model it stands for).

**The intervals** are Wald intervals on the transformed scale (Student's t quantile, one
degree of freedom per week beyond the fitted parameters) with a sandwich covariance:
H⁻¹ S H⁻¹, H = JᵀJ from the fit's Jacobian, S the Newey–West estimate of the scores'
covariance summed week by week with :data:`HAC_LAG` weeks of lag (weekly residuals are
autocorrelated: a team that joins one week is still there the next).  Back-transformed,
an interval is asymmetric around the estimate, as a rate's should be.  A parameter is
**identified** when the data move it on their own: its interval is finite and narrower
than a factor :data:`MAX_SPREAD` either side, and it is not almost collinear with another
(|correlation| below :data:`MAX_CORRELATION`); otherwise the fit says which data would
identify it (:data:`WHICH_DATA`).

**The check** runs the simulation at the estimate (common seed, replications) and reports,
for each observed series, the root-mean-square error of the data against the replications'
mean, and the share of data points inside the replications' 5–95% band (coverage).

Why this method, not profile likelihood or a bootstrap: each needs tens of fits, each of
tens of twin solves; the sandwich needs one fit's Jacobian, so calibrating six parameters
on a year of weeks takes minutes.  Parameter recovery on data the simulation generated at
known settings (tests/test_calibrate.py) checks that the intervals cover the truth.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flywheel.metrics import METRICS, measure
from flywheel.scenario.defaults import PARAMS_BY_PATH
from flywheel.scenario.files import Scenario, ScenarioError, toml_value
from flywheel.scenario.units import UnitError, format_duration, parse_duration
from flywheel.studies.observed import COLUMNS, Observed

__all__ = ["DEFAULT_FIT", "Calibration", "Knob", "calibrate", "knob", "parse_known"]

#: What ``flywheel calibrate`` fits unless told: what a founder cannot read off their
#: dashboard but the weekly data speak to.
DEFAULT_FIT = ("acquisition.organic", "onboarding.ttv.median", "onboarding.patience.mean",
               "collaboration.invites.mean", "collaboration.acceptance",
               "retention.churn_monthly", "pricing.upgrade_probability")

#: Weeks of lag in the Newey–West estimate of the scores' covariance.
HAC_LAG = 8
#: An estimate whose 95% interval spans more than this factor either side (on the
#: transformed scale: e^1.96·SE) is not identified by the data.
MAX_SPREAD = 5.0
#: Two estimates correlated beyond this are not told apart by the data.
MAX_CORRELATION = 0.98
#: Standard error of a known rate given without one: this share of its value.
KNOWN_SE = 0.05
#: Replications of the simulation at the twin's first estimate, whose mean series measure
#: the twin's gap to the simulation, taken out before the second fit.
CORRECTION_RUNS = 10

#: Which data would identify a parameter the fit could not.
WHICH_DATA: dict[str, str] = {
    "acquisition.organic": "weekly signups",
    "onboarding.ttv.median": "weekly activated users, or your median time to value "
                             "(--known ttv_median_days=...)",
    "onboarding.patience.mean": "weekly activated users beside signups, with the time to "
                                "value known (--known ttv_median_days=...)",
    "collaboration.invites.mean": "invites sent per activated user (--known "
                                  "viral_coefficient=... fixes invites x acceptance only)",
    "collaboration.acceptance": "the share of invites accepted; the signups alone fix "
                                "invites x acceptance, not each",
    "retention.churn_monthly": "weekly active users, or your monthly user churn (--known "
                               "user_churn_monthly=...)",
    "pricing.upgrade_probability": "weekly new paying customers, or paying customers",
}


@dataclass(frozen=True)
class Knob:
    """One fitted parameter: its key (a parameter path, or a distribution's path and
    field, as ``--set`` takes), its kind (``rate``, ``duration``, ``number``,
    ``probability``), its unit and how to write a value back in TOML."""

    key: str
    kind: str
    unit: str
    #: For a distribution's duration field: the distribution's other duration fields and
    #: their values beside this one's (days), moved by the same factor so its shape holds
    #: (a lognormal's p90 / median, say).
    companions: tuple[tuple[str, float], ...] = ()
    base: float = 1.0

    def overrides(self, value: float) -> dict[str, object]:
        """The ``--set`` keys and TOML values that put this parameter at ``value``."""
        out: dict[str, object] = {self.key: self.toml(value)}
        path = self.key.rpartition(".")[0]
        for name, days in self.companions:
            out[f"{path}.{name}"] = format_duration(days * value / self.base)
        return out

    def to_x(self, value: float) -> float:
        """The value on the search's scale: logit of a probability, log of the rest."""
        if self.kind == "probability":
            v = min(max(value, 1e-9), 1 - 1e-9)
            return math.log(v / (1 - v))
        return math.log(max(value, 1e-12))

    def from_x(self, x: float) -> float:
        if self.kind == "probability":
            return 1.0 / (1.0 + math.exp(-x))
        return math.exp(x)

    def toml(self, value: float) -> object:
        """A value in Flywheel's internal unit (days, per day, share) as TOML would say it."""
        if self.kind == "rate":
            return f"{value:.6g}/day"
        if self.kind == "duration":
            return format_duration(value)
        return float(f"{value:.6g}")


def knob(key: str, scenario: Scenario) -> tuple[Knob, float]:
    """The :class:`Knob` of ``key`` and its value in ``scenario`` (internal unit), or a
    :class:`ScenarioError` naming what may be fitted."""
    allowed = ("a number, rate or probability parameter, or a duration or count "
               "distribution's field such as onboarding.ttv.median")
    if key in PARAMS_BY_PATH:
        p = PARAMS_BY_PATH[key]
        kinds = {"rate": "rate", "probability": "probability", "number": "number",
                 "count": "number"}
        if p.kind not in kinds:
            raise ScenarioError(f"a {p.kind} parameter cannot be fitted", key="--fit",
                                value=key, allowed=allowed)
        return Knob(key, kinds[p.kind], p.unit), float(scenario[key])
    path, _, name = key.rpartition(".")
    p = PARAMS_BY_PATH.get(path)
    if p is None or p.kind != "distribution":
        raise ScenarioError("not a parameter", key="--fit", value=key, allowed=allowed)
    table = scenario.raw[path]
    if not isinstance(table, dict) or name not in table:
        fields = ", ".join(f"{path}.{f}" for f in table if f != "dist") if isinstance(
            table, dict) else ""
        raise ScenarioError(f"{path} has no field {name!r} in this scenario", key="--fit",
                            value=key, allowed=f"its fields: {fields}" if fields else allowed)
    raw = table[name]
    if p.domain == "duration":
        try:
            value = parse_duration(raw)
        except UnitError:
            pass
        else:
            others = []
            for other, text in table.items():
                if other in (name, "dist") or not isinstance(text, str):
                    continue
                try:
                    others.append((other, parse_duration(text)))
                except UnitError:
                    continue
            return Knob(key, "duration", "days", tuple(others), value), value
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Knob(key, "number", p.unit), float(raw)
    raise ScenarioError("not a field that can be fitted", key="--fit", value=key,
                        allowed=allowed)


def parse_known(expr: str) -> tuple[str, float, float]:
    """``NAME=VALUE`` or ``NAME=VALUE±SE`` (``+-`` too): a metric, its known value and
    standard error (:data:`KNOWN_SE` of the value if none)."""
    name, sep, rest = expr.partition("=")
    name = name.strip()
    allowed = "NAME=VALUE or NAME=VALUE±SE with a metric's name, e.g. activation_rate=0.38"
    if not sep or name not in METRICS:
        raise ScenarioError("not a known metric value", key="--known", value=expr,
                            allowed=allowed)
    value, _, se = rest.replace("+-", "±").partition("±")
    try:
        v = float(value)
        s = float(se) if se.strip() else KNOWN_SE * abs(v)
    except ValueError:
        raise ScenarioError("not a number", key="--known", value=expr, allowed=allowed) from None
    if not (math.isfinite(v) and math.isfinite(s) and s > 0):
        raise ScenarioError("needs a finite value and a positive standard error",
                            key="--known", value=expr, allowed=allowed)
    return name, v, s


@dataclass
class Fitted:
    """One parameter's fit: estimate and 95% interval (internal unit), the starting value,
    whether the data identify it, and why not."""

    knob: Knob
    start: float
    estimate: float
    ci95: tuple[float, float]
    identified: bool
    note: str = ""


@dataclass
class Calibration:
    """The result: the data, the base scenario, each fitted parameter, the calibrated
    scenario, and (after :meth:`check`) the check against the simulation."""

    observed: Observed
    base: Scenario
    parameters: list[Fitted]
    calibrated: Scenario
    known: list[tuple[str, float, float]]
    twin_solves: int
    seconds: float
    twin_gap: dict[str, float] = field(default_factory=dict)
    series_check: dict[str, dict[str, float]] = field(default_factory=dict)
    bands: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def fit_json(self) -> dict[str, Any]:
        """The content of ``fit.json`` (numbers in Flywheel's internal units: days, per
        day, shares)."""
        return {
            "data": self.observed.file,
            "base": self.base.name,
            "method": "least squares on the mean-field twin; 95% Wald intervals with a "
                      f"Newey-West sandwich ({HAC_LAG} weeks of lag)",
            "parameters": {f.knob.key: {"estimate": f.estimate, "ci95": list(f.ci95),
                                        "identified": f.identified, "unit": f.knob.unit,
                                        "start": f.start, "note": f.note}
                           for f in self.parameters},
            "known": {n: {"value": v, "se": s} for n, v, s in self.known},
            "series": self.series_check,
            "twin_gap": self.twin_gap,
            "twin_solves": self.twin_solves,
            "seconds": self.seconds,
        }

    def calibrated_toml(self, extends: str) -> str:
        """``calibrated.toml``: extends the base and sets only the fitted keys."""
        lines = [f"# Calibrated by `flywheel calibrate` on {self.observed.file}: the base "
                 f"scenario with the {len(self.parameters)} fitted parameter(s) below.",
                 "# Each is the estimate; fit.json holds its 95% interval and whether the "
                 "data identify it.", "",
                 f"extends = {toml_value(extends)}",
                 f"name = {toml_value(self.calibrated.name)}",
                 f"description = {toml_value(self.calibrated.description)}"]
        sections: dict[str, list[str]] = {}
        dists: dict[str, dict[str, object]] = {}
        for f in self.parameters:
            for path, value in f.knob.overrides(f.estimate).items():
                if path in PARAMS_BY_PATH:
                    section, key = path.split(".", 1)
                    note = "" if f.identified else "  # not identified by the data: fit.json"
                    sections.setdefault(section, []).append(
                        f"{key} = {toml_value(value)}{note}")
                else:
                    dist, _, name = path.rpartition(".")
                    dists.setdefault(dist, {})[name] = value
        for dist, fields_ in dists.items():
            section, key = dist.split(".", 1)
            inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in fields_.items())
            sections.setdefault(section, []).append(f"{key} = {{ {inner} }}")
        for section, body in sections.items():
            lines += ["", f"[{section}]", *body]
        return "\n".join(lines) + "\n"

    def findings(self) -> list[str]:
        out = []
        for f in self.parameters:
            k = f.knob
            lo, hi = f.ci95
            text = (f"{k.key}: {_show(k, f.estimate)} (95% CI {_show(k, lo)} to "
                    f"{_show(k, hi)}; from {_show(k, f.start)})")
            out.append(text if f.identified else f"{text}: not identified, {f.note}")
        for name, c in self.series_check.items():
            col = COLUMNS[name]
            unit = f"{col.unit} a week" if col.flow else col.unit
            out.append(f"{name}: {c['coverage']:.0%} of your weeks lie inside the 5-95% band "
                       f"of the simulation at the estimate (RMS error {c['rmse']:.3g} {unit})")
        return out


def _show(k: Knob, value: float) -> str:
    if not math.isfinite(value):
        return "-"
    if k.kind == "duration":
        return format_duration(max(value, 0.0), approx=True)
    if k.kind == "rate":
        return f"{value * 7:.4g}/week"
    return f"{value:.4g}"


def _levels_as_changes(values: np.ndarray, weeks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A level's week-on-week changes, where a week and the one before are both known
    (week 1 from launch, at 0): the changes and the mask of weeks they belong to."""
    prev = np.full(len(values), np.nan)
    consecutive = np.r_[weeks[0] == 1, np.diff(weeks) == 1]
    prev[1:] = values[:-1]
    prev[0] = 0.0 if weeks[0] == 1 else np.nan
    change = np.where(consecutive, values - prev, np.nan)
    return change, ~np.isnan(change)


class _Problem:
    """The residual function of a fit: the data, the knobs, and how the twin is run."""

    def __init__(self, observed: Observed, base: Scenario, knobs: Sequence[Knob],
                 known: Sequence[tuple[str, float, float]]) -> None:
        self.obs, self.knobs, self.known = observed, list(knobs), list(known)
        horizon = f"{7 * observed.horizon_weeks}d"
        self.base = base.with_overrides({"simulation.horizon": horizon})
        self.scale = {name: 1.0 for name in observed.series}
        #: Each series' ratio of the simulation's mean to the twin's near the estimate
        #: (1 until :func:`calibrate` measures it): the twin's own gap, taken out.
        self.correction = {name: 1.0 for name in observed.series}
        self.solves = 0
        self._cache: dict[tuple[float, ...], tuple[dict[str, np.ndarray], dict[str, float]]] = {}
        #: (the cache holds the twin's weekly series, levels as levels, uncorrected)
        self.data = {}
        for name, v in observed.series.items():
            self.data[name] = v if COLUMNS[name].flow else _levels_as_changes(
                v, observed.weeks)[0]

    def scenario(self, x: np.ndarray) -> Scenario:
        sets: dict[str, object] = {}
        for k, xi in zip(self.knobs, x, strict=True):
            sets.update(k.overrides(k.from_x(float(xi))))
        return self.base.with_overrides(sets)

    def model(self, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The twin's weekly series (flows; levels as changes) and metrics at ``x``."""
        from flywheel.engines import meanfield
        from flywheel.engines.meanfield.solver import SEARCH_RTOL

        key = tuple(np.round(x, 12))
        if key not in self._cache:
            self.solves += 1
            m = measure(meanfield.solve(self.scenario(x), rtol=SEARCH_RTOL).tally)
            weekly = self.obs.from_model(m.series)
            self._cache[key] = (weekly, dict(m.metrics))
        weekly, metrics = self._cache[key]
        weekly = {n: w * self.correction[n] for n, w in weekly.items()}
        out = {n: (w if COLUMNS[n].flow else _levels_as_changes(w, self.obs.weeks)[0])
               for n, w in weekly.items()}
        return out, metrics

    def raw_weekly(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The twin's weekly series at ``x``, levels as levels, uncorrected."""
        self.model(x)
        return self._cache[tuple(np.round(x, 12))][0]

    def _poisson_scaled(self, x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each series' residuals at ``x`` over its known weeks, scaled by the square root
        of the model's count (the first scaling), with those weeks."""
        series, _ = self.model(x)
        out = {}
        for name, data in self.data.items():
            ok = ~np.isnan(data)
            mod = series[name][ok]
            r = (data[ok] - np.nan_to_num(mod)) / np.sqrt(np.maximum(np.abs(mod), 1.0))
            out[name] = (r, self.obs.weeks[ok])
        return out

    def residuals(self, x: np.ndarray, by_week: bool = False) -> Any:
        parts, weeks = [], []
        for name, (r, w) in self._poisson_scaled(x).items():
            parts.append(r / self.scale[name])
            weeks.append(w)
        metrics = self.model(x)[1]
        for i, (name, value, se) in enumerate(self.known):
            parts.append(np.array([(np.nan_to_num(metrics[name]) - value) / se]))
            weeks.append(np.array([-1 - i]))  # a group of its own
        r = np.concatenate(parts)
        return (r, np.concatenate(weeks)) if by_week else r

    def series_rms(self, x: np.ndarray) -> dict[str, float]:
        """Each series' residual spread at ``x`` (on the first scaling)."""
        return {name: float(np.sqrt(np.mean(r ** 2))) if len(r) else 1.0
                for name, (r, _) in self._poisson_scaled(x).items()}


def _sandwich(jac: np.ndarray, r: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """H⁻¹ S H⁻¹ with H = JᵀJ and S the Newey–West covariance of the per-week scores."""
    h = jac.T @ jac
    h_inv = np.linalg.pinv(h)
    ids = np.unique(groups)
    scores = np.array([jac[groups == g].T @ r[groups == g] for g in ids])
    weeks = ids.astype(float)
    s = scores.T @ scores
    for lag in range(1, HAC_LAG + 1):
        w = 1.0 - lag / (HAC_LAG + 1.0)
        for i, wk in enumerate(weeks):
            if wk < 0:
                continue
            j = np.flatnonzero(weeks == wk + lag)
            if len(j):
                cross = np.outer(scores[i], scores[j[0]])
                s += w * (cross + cross.T)
    return h_inv @ s @ h_inv


def calibrate(observed: Observed, base: Scenario, fit: Sequence[str] = DEFAULT_FIT,
              known: Sequence[tuple[str, float, float]] = (),
              progress: Callable[[str], None] | None = None, correct: int = CORRECTION_RUNS,
              seed: int | None = None, jobs: int | None = 1) -> Calibration:
    """Fit ``fit``'s parameters of ``base`` to ``observed`` on the twin (see the module's
    docstring), then, with ``correct`` replications of the simulation at that estimate,
    take out the twin's own gap to the simulation and fit again from there; :func:`check`
    then runs the simulation at the final estimate."""
    from scipy.optimize import least_squares

    from flywheel.engines import meanfield

    started = time.perf_counter()
    if not fit:
        raise ScenarioError("nothing to fit", key="--fit", allowed="name at least one key")
    if len(set(fit)) != len(fit):
        raise ScenarioError("a key is named twice", key="--fit", value=",".join(fit))
    problems = meanfield.unsupported(base)
    if problems:
        raise ScenarioError("the mean-field twin, which the search runs on, does not "
                            f"represent {problems[0]}", file=base.name,
                            allowed="calibrate a scenario the twin carries (flywheel "
                                    "validate lists what it does not)")
    pairs = [knob(k, base) for k in fit]
    knobs = [k for k, _ in pairs]
    start = np.array([k.to_x(v) for k, v in pairs])
    for name, _, _ in known:
        if name in meanfield.unavailable(base):
            raise ScenarioError("the mean-field twin does not report this metric",
                                key="--known", value=name)
    problem = _Problem(observed, base, knobs, known)
    lower, upper = start - 4.0, start + 4.0

    def solve(x0: np.ndarray) -> Any:
        return least_squares(problem.residuals, x0, bounds=(lower, upper), diff_step=1e-3,
                             x_scale=1.0, xtol=1e-6, ftol=1e-8, max_nfev=60 * len(knobs))

    if progress:
        progress("fitting on the twin (first pass)")
    first = solve(start)
    problem.scale = {n: max(v, 1e-6) for n, v in problem.series_rms(first.x).items()}
    if progress:
        progress("fitting on the twin (each series weighed by its own spread)")
    res = solve(first.x)
    if correct:
        if progress:
            progress(f"taking out the twin's gap to the simulation ({correct} replications "
                     "at the estimate), then fitting again")
        problem.correction = _twin_gap(problem, res.x, correct, seed, jobs)
        problem.scale = {n: max(v, 1e-6) for n, v in problem.series_rms(res.x).items()}
        res = solve(res.x)
    r, groups = problem.residuals(res.x, by_week=True)
    cov = _sandwich(res.jac, r, groups)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(se, se)
    fitted = []
    spread = math.log(MAX_SPREAD) / 1.96
    # Student's t with one degree of freedom per week left after the fit: few weeks, wider
    from scipy import special

    z = float(special.stdtrit(max(len(observed.weeks) - len(knobs), 1), 0.975))
    for i, (k, v0) in enumerate(pairs):
        est = k.from_x(float(res.x[i]))
        # (an interval reaching past the search's range is cut at its edges: such a
        # parameter spreads beyond MAX_SPREAD, so it is reported as not identified)
        lo, hi = (k.from_x(float(max(res.x[i] - z * se[i], lower[i]))),
                  k.from_x(float(min(res.x[i] + z * se[i], upper[i]))))
        others = [abs(corr[i, j]) for j in range(len(knobs)) if j != i and np.isfinite(corr[i, j])]
        collinear = max(others, default=0.0) > MAX_CORRELATION
        at_bound = min(res.x[i] - lower[i], upper[i] - res.x[i]) < 1e-3
        ok = bool(np.isfinite(se[i]) and se[i] > 0 and se[i] < spread and not collinear
                  and not at_bound)
        note = ""
        if not ok:
            why = ("almost collinear with " + knobs[int(np.nanargmax(
                [abs(corr[i, j]) if j != i else 0 for j in range(len(knobs))]))].key
                   if collinear else "at the edge of the search" if at_bound
                   else "the data cannot tell it apart from the other fitted parameters"
                   if not se[i] > 1e-9 else "the data hardly move it")
            note = f"{why}; it would be identified by {WHICH_DATA.get(k.key, 'more data')}"
        fitted.append(Fitted(k, v0, est, (lo, hi), ok, note))
    calibrated = problem.scenario(res.x)
    calibrated = calibrated.with_overrides({"simulation.horizon": base.raw["simulation.horizon"]})
    calibrated = dataclasses.replace(calibrated, name=f"{base.name}-calibrated",
                                     description=f"{base.name} fitted to {observed.file}")
    return Calibration(observed, base, fitted, calibrated, list(known), problem.solves,
                       time.perf_counter() - started, dict(problem.correction))


def _twin_gap(problem: _Problem, x: np.ndarray, replications: int, seed: int | None,
              jobs: int | None) -> dict[str, float]:
    """Each series' ratio of the simulation's mean to the twin's at ``x``, over the weeks
    the data know: the factor the twin's series are multiplied by in the second fit
    (1 where either is 0)."""
    obs = problem.obs
    des = _simulated_weeks(obs, problem.scenario(x), replications, seed, jobs)
    twin = problem.raw_weekly(x)
    out = {}
    for name, data in obs.series.items():
        ok = ~np.isnan(data) & ~np.isnan(twin[name])
        sim = float(np.mean(np.nansum(des[name][:, ok], axis=1)))
        mod = float(np.nansum(twin[name][ok]))
        out[name] = sim / mod if mod > 0 and sim > 0 else 1.0
    return out


def _simulated_weeks(obs: Observed, scenario: Scenario, replications: int, seed: int | None,
                     jobs: int | None) -> dict[str, np.ndarray]:
    """The simulation's replications of ``scenario`` over the data's weeks: for each series
    of the data, an array of replications x weeks (:meth:`Observed.from_model`)."""
    from flywheel.studies.runner import simulate

    res = simulate(scenario, replications=replications, seed=seed, jobs=jobs,
                   horizon=7.0 * obs.horizon_weeks)
    weekly = [obs.from_model(r.series) for r in res.replications]
    return {name: np.array([w[name] for w in weekly]) for name in obs.series}


def check(cal: Calibration, replications: int, seed: int | None = None,
          jobs: int | None = None) -> Calibration:
    """Run the simulation at the estimate over the data's weeks and compare: each observed
    series' RMS error against the replications' mean, and the share of its known weeks
    inside the replications' 5–95% band; the bands are kept for the report."""
    obs = cal.observed
    simulated = _simulated_weeks(obs, cal.calibrated, replications, seed, jobs)
    for name, data in obs.series.items():
        stack = simulated[name]
        lo, hi = np.percentile(stack, [5, 95], axis=0)
        mean = stack.mean(axis=0)
        ok = ~np.isnan(data)
        inside = (data[ok] >= lo[ok]) & (data[ok] <= hi[ok])
        cal.series_check[name] = {
            "rmse": float(np.sqrt(np.mean((data[ok] - mean[ok]) ** 2))),
            "coverage": float(inside.mean()) if ok.any() else math.nan,
        }
        cal.bands[name] = {"lo": lo, "hi": hi, "mean": mean}
    return cal

