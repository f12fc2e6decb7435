"""One-at-a-time sensitivity: which of a scenario's numbers moves a target metric most.

Every lever a founder can move is set X% lower and X% higher (default 20%), one
at a time, everything else held at the scenario's values, and the change of a
target metric (default: ARR at the horizon) is measured against the scenario
itself.  The levers are ranked by the larger of their two changes and drawn as a
tornado chart (:func:`flywheel.outputs.plots.tornado`).

Which parameters are levers.  Every parameter of :data:`~flywheel.scenario.defaults.PARAMS`
whose kind is a number (``number``, ``rate``, ``probability``, ``count``,
``duration``) or a ``distribution``, outside two sections:

* ``simulation.*`` says how the simulation runs (horizon, replications, seed),
  not how the business does; it can never be chosen.
* ``market.*`` (companies, team sizes) is the world a product sells into, not a
  decision; it is left out unless named with ``params`` (``--params
  market.companies``), for a founder who wants to see how much an uncertain
  market size matters.

Flags (``bool``) and choices (``pricing.model``) have no ±X%; compare them with
``flywheel compare`` instead.  The list is read from ``PARAMS`` each time, so a
parameter added there becomes a lever without a change here.

How each kind moves (low = value × (1 − X), high = value × (1 + X)):

* a distribution is scaled as a whole (:meth:`Distribution.scaled`: median and
  p90, or the mean, each × (1 ± X)), so its shape stays and its location moves;
  durations keep the units they were written in (``"2.5d"`` -> ``"3d"``);
* a value that would leave its allowed range is clipped to the bound (a
  probability of 0.9 + 20% is 1), and the row's notes say so; a side clipped
  back onto the scenario's own value is not run;
* a count is rounded to the nearest whole number; when rounding gives the value
  back (±20% of 2), it is stepped by 1 instead; a positive count is never moved
  to 0, which usually means "none" or "no limit" rather than a bit less;
* a parameter at 0 (or a distribution that is always 0) cannot move by a
  percentage; it is reported as skipped with the reason rather than given an
  arbitrary absolute step, whose size nothing in the scenario would justify.

Engines.  ``"des"`` runs the discrete-event simulation: the scenario and each
moved copy run with the same seed and replication count (common random numbers),
so each change is the mean of per-replication differences with a Student t 95%
CI, and noise the runs share cancels.  ``"meanfield"`` runs the deterministic
mean-field twin (:mod:`flywheel.engines.meanfield`): one evaluation per setting, no CI.
``"auto"`` screens every lever with the twin when it supports the scenario,
then re-runs the ``top`` levers with the DES; the other bars keep the twin's
figures.  Every bar records the engine that produced it.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from flywheel.metrics import METRICS, format_value, measure
from flywheel.scenario.defaults import PARAMS, PARAMS_BY_PATH, Param
from flywheel.scenario.distributions import FAMILIES, Distribution
from flywheel.scenario.files import (
    Scenario,
    ScenarioError,
    _did_you_mean,
    _nearest,
    load_scenario,
    parse_set,
    toml_value,
)
from flywheel.studies.comparisons import paired_ci, welch_ci
from flywheel.studies.runner import RunResult, ci_text, html_table, simulate, worker_pool
from flywheel.version import __version__

if TYPE_CHECKING:  # pandas is imported only by the method that returns a DataFrame
    import pandas as pd

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_TARGET",
    "DEFAULT_TOP",
    "ENGINES",
    "LEVER_KINDS",
    "Bar",
    "Move",
    "Sensitivity",
    "check_target",
    "choose_levers",
    "levers",
    "move",
    "parse_delta",
    "parse_params",
    "sensitivity_analysis",
    "twin",
]

#: How far each lever moves, each way, unless asked otherwise.
DEFAULT_DELTA = 0.2
#: The metric whose changes rank the levers, unless asked otherwise.
DEFAULT_TARGET = "arr_end"
#: Levers re-run with the DES after the twin's screening (``auto``).
DEFAULT_TOP = 8
#: The engines a sensitivity may use.
ENGINES = ("auto", "des", "meanfield")
#: Parameter kinds a percentage move applies to.
LEVER_KINDS = ("number", "rate", "probability", "count", "duration", "distribution")
#: Sections that are never levers, and why.
NEVER = {"simulation": "says how the simulation runs, not how the business does; "
                       "use --horizon, --replications and --seed"}
#: Sections left out unless named in ``params``, and why.
NOT_BY_DEFAULT = {"market": "the market is the world a product sells into, not a decision"}
#: ``file`` of errors about each option.
PARAMS_SOURCE, TARGET_SOURCE, DELTA_SOURCE, ENGINE_SOURCE = "--params", "--target", "--delta", "--engine"

DES, MEANFIELD = "des", "meanfield"
LOW, HIGH = "low", "high"

Progress = Callable[[int], None]

_NUMBER_HEAD = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)(.*)$", re.IGNORECASE)


# -- options ---------------------------------------------------------------------------


def parse_delta(text: str | float) -> float:
    """``"20%"``, ``"0.2"`` or ``0.2`` as a fraction, checked to lie strictly between 0
    and 1 (a move of 100% or more would take a value to 0 or below)."""
    allowed = "a fraction between 0 and 1 (exclusive), e.g. 20% or 0.2"
    if isinstance(text, bool):
        raise ScenarioError("expected a number", file=DELTA_SOURCE, value=text, allowed=allowed)
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip()
        percent = s.endswith("%")
        try:
            value = float(s[:-1] if percent else s)
        except ValueError:
            raise ScenarioError("not a number", file=DELTA_SOURCE, value=str(text),
                                allowed=allowed) from None
        if percent:
            value /= 100.0
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        hint = f"; for {value:g}% write {value:g}%" if 1.0 <= value < 100.0 else ""
        raise ScenarioError("out of range", file=DELTA_SOURCE, value=text, allowed=allowed + hint)
    return value


def check_target(name: str) -> str:
    """A metric name of :data:`METRICS`, else one line naming it and what is allowed."""
    if name in METRICS:
        return name
    suggestion = _nearest(name, list(METRICS))
    allowed = "" if suggestion else "metrics are " + ", ".join(METRICS)
    raise ScenarioError("unknown metric" + _did_you_mean(suggestion), file=TARGET_SOURCE,
                        value=name, allowed=allowed)


def parse_params(text: str | Sequence[str] | None) -> list[str] | None:
    """``"a.b,c.d"`` (or a list of paths) as a list of paths; ``None`` or empty: all
    levers.  The paths are checked by :func:`choose_levers`."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    paths = [p.strip() for p in items if p.strip()]
    return paths or None


def twin() -> ModuleType | None:
    """The mean-field twin module, or None when this installation has none."""
    try:
        return importlib.import_module("flywheel.engines.meanfield")
    except ModuleNotFoundError as exc:
        if exc.name == "flywheel.engines.meanfield":
            return None
        raise


# -- levers and their moves --------------------------------------------------------------


def levers(chosen: Sequence[str] | None = None) -> list[Param]:
    """The parameters to move: every lever of :data:`PARAMS` (see the module's notes), or
    the ``chosen`` paths, checked; in ``PARAMS`` order either way."""
    if chosen is None:
        return [p for p in PARAMS if p.kind in LEVER_KINDS
                and p.section not in NEVER and p.section not in NOT_BY_DEFAULT]
    return choose_levers(chosen)


def _default_lever_paths() -> list[str]:
    return [p.path for p in levers()]


def choose_levers(paths: Sequence[str]) -> list[Param]:
    """The parameters named in ``paths`` (``--params``), each checked to be a lever."""
    found: list[Param] = []
    for path in paths:
        param = PARAMS_BY_PATH.get(path)
        if param is None:
            suggestion = _nearest(path, _default_lever_paths()) or _nearest(path, list(PARAMS_BY_PATH))
            allowed = "" if suggestion else "levers are " + ", ".join(_default_lever_paths())
            raise ScenarioError("unknown parameter" + _did_you_mean(suggestion),
                                file=PARAMS_SOURCE, key=path, allowed=allowed)
        if param.section in NEVER:
            raise ScenarioError(f"not a lever: {param.section}.* {NEVER[param.section]}",
                                file=PARAMS_SOURCE, key=path)
        if param.kind not in LEVER_KINDS:
            raise ScenarioError(
                f"not a lever: a {param.kind} has no ±X% move", file=PARAMS_SOURCE, key=path,
                allowed="levers are numbers, rates, probabilities, counts, durations and "
                        "distributions; compare settings of a flag or a choice with flywheel compare")
        if param in found:
            raise ScenarioError("named twice", file=PARAMS_SOURCE, key=path)
        found.append(param)
    if not found:
        raise ScenarioError("no parameters named", file=PARAMS_SOURCE,
                            allowed="e.g. --params acquisition.organic,onboarding.ttv")
    order = {p.path: i for i, p in enumerate(PARAMS)}
    return sorted(found, key=lambda p: order[p.path])


@dataclass(frozen=True)
class Move:
    """One lever's two settings.  Values are in TOML form (what ``--set`` takes); a side
    that cannot move is ``None``; ``skipped`` says why when neither side moves."""

    path: str
    base: object
    low: object | None
    high: object | None
    low_factor: float  # moved value / base value (the distribution's mean for one)
    high_factor: float
    notes: tuple[str, ...] = ()
    skipped: str = ""

    @property
    def param(self) -> Param:
        return PARAMS_BY_PATH[self.path]

    def side(self, which: str) -> object | None:
        return self.low if which == LOW else self.high

    def sides(self) -> list[str]:
        """The sides that move, low first."""
        return [s for s in (LOW, HIGH) if self.side(s) is not None]

    def set_expr(self, which: str) -> str:
        """The ``--set`` expression that reproduces one side (``""`` if it does not move)."""
        value = self.side(which)
        return "" if value is None else f"{self.path}={toml_value(value)}"


def _num(x: float) -> str:
    """A number for a TOML string or a note: up to 12 significant digits, no exponent
    when avoidable (``180``, ``2.4``, ``0.0125``)."""
    text = f"{x:.12g}"
    if "e" in text:
        text = f"{x:.12f}".rstrip("0").rstrip(".")
    return text


def _scale_text(text: str, factor: float) -> str:
    """``"150/week"`` × 1.2 -> ``"180/week"``: the leading number scaled, its unit kept."""
    m = _NUMBER_HEAD.match(text)
    if m is None:  # pragma: no cover - a checked duration or rate always starts with a number
        raise ValueError(f"no number to scale in {text!r}")
    return _num(float(m.group(1)) * factor) + m.group(2)


def _scale_table(table: dict[str, object], factor: float) -> dict[str, object]:
    """A distribution's TOML table with every value scaled (durations keep their units);
    shape fields (a gamma's ``cv``, an empirical's ``weights``) are left as they are."""
    family = FAMILIES[str(table["dist"])]
    out: dict[str, object] = {}
    for key, value in table.items():
        if key == "dist" or key in family.plain_fields:
            out[key] = value
        elif isinstance(value, list):
            out[key] = [_scale_one(v, factor) for v in value]
        else:
            out[key] = _scale_one(value, factor)
    return out


def _scale_one(value: object, factor: float) -> object:
    if isinstance(value, str):
        return _scale_text(value, factor)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) * factor
    return value  # pragma: no cover - a checked table holds only numbers and strings


def _with_unit(param: Param, x: float) -> object:
    """A value in the engine's units (days, per day) back in TOML form."""
    if param.kind == "duration":
        return f"{_num(x)}d"
    if param.kind == "rate":
        return f"{_num(x)}/day"
    if param.kind == "count":
        return int(x)
    return float(x)


def _bounds(param: Param) -> tuple[float, float]:
    if param.kind == "probability":
        return 0.0, 1.0
    lo = -math.inf if param.minimum is None else float(param.minimum)
    hi = math.inf if param.maximum is None else float(param.maximum)
    return lo, hi


#: The columns of a sensitivity's table (sensitivity.csv, :meth:`Sensitivity.frame`).
SENSITIVITY_COLUMNS = [
    "rank", "parameter", "label", "unit", "kind", "base_value", "low_value", "high_value",
    "low_factor", "high_factor", "engine", "target", "target_label", "target_unit",
    "base_target", "effect_low", "effect_low_ci95_lo", "effect_low_ci95_hi", "effect_high",
    "effect_high_ci95_lo", "effect_high_ci95_hi", "effect_low_pct", "effect_high_pct",
    "swing", "status", "notes"]


def pct(delta: float) -> str:
    return f"{_num(round(100 * delta, 6))}%"


def move(scenario: Scenario, param: Param, delta: float) -> Move:
    """``param``'s low and high settings in ``scenario`` for a ±``delta`` move (see the
    module's notes for clipping, rounding and parameters at 0)."""
    path, raw, value = param.path, scenario.raw[param.path], scenario.values[param.path]
    down, up = f"−{pct(delta)}", f"+{pct(delta)}"
    if param.kind == "distribution":
        dist: Distribution = value  # type: ignore[assignment]
        if dist.scaled(1 + delta) == dist:
            return Move(path, raw, None, None, math.nan, math.nan,
                        skipped=f"always 0 ({dist.describe()}): scaling it by ±{pct(delta)} "
                                "leaves it at 0")
        table = raw if isinstance(raw, dict) else dist.to_table()
        return Move(path, raw, _scale_table(dict(table), 1 - delta),
                    _scale_table(dict(table), 1 + delta), 1 - delta, 1 + delta,
                    notes=(f"whole distribution scaled ×{_num(1 - delta)} and ×{_num(1 + delta)}",))
    x = float(value)  # type: ignore[arg-type]
    if x == 0:
        return Move(path, raw, None, None, math.nan, math.nan,
                    skipped=f"at 0: a ±{pct(delta)} move of 0 is still 0")
    lo_b, hi_b = _bounds(param)
    notes: list[str] = []
    targets = {LOW: x * (1 - delta), HIGH: x * (1 + delta)}
    moved: dict[str, float | None] = {}
    clipped: set[str] = set()
    for side, sign in ((LOW, down), (HIGH, up)):
        t = targets[side]
        if param.kind == "count":
            r = math.floor(t + 0.5)
            stepped = r == x
            if stepped:
                r = int(x) - 1 if side == LOW else int(x) + 1
            if x > 0 >= r or x < 0 <= r:
                notes.append(f"{sign} side not run: it would take {int(x)} to {r}, and 0 "
                             "usually means none or no limit")
                moved[side] = None
                continue
            if stepped:
                notes.append(f"{sign} of {int(x)} rounds back to {int(x)}: stepped by 1 to {r}")
            elif r != t:
                notes.append(f"{sign} of {int(x)} is {_num(t)}, rounded to {r}")
            t = float(r)
        if t < lo_b or t > hi_b:
            bound = lo_b if t < lo_b else hi_b
            which = "minimum" if t < lo_b else "maximum"
            if bound == x:
                notes.append(f"{sign} side not run: already at its {which} {_num(bound)}")
                moved[side] = None
                continue
            notes.append(f"{sign} clipped to {_num(bound)}, the {which}")
            clipped.add(side)
            t = bound
        moved[side] = t if param.kind == "count" else float(_num(t))  # no 0.21600000000000003
    if moved[LOW] is None and moved[HIGH] is None:
        return Move(path, raw, None, None, math.nan, math.nan, notes=tuple(notes),
                    skipped="neither side can move: " + "; ".join(notes))

    def toml(side: str) -> object | None:
        t = moved[side]
        if t is None:
            return None
        if param.kind in ("duration", "rate") and isinstance(raw, str) and side not in clipped:
            # keep the units the value was written in
            return _scale_text(raw, 1 - delta if side == LOW else 1 + delta)
        return _with_unit(param, t)

    def factor(side: str) -> float:
        t = moved[side]
        return math.nan if t is None else t / x

    return Move(path, raw, toml(LOW), toml(HIGH), factor(LOW), factor(HIGH), notes=tuple(notes))


# -- results ----------------------------------------------------------------------------


@dataclass
class Bar:
    """One lever's effect on the target: each side's change against the scenario itself
    (mean, 95% CI low, high; the CI is NaN for the twin, the whole triple NaN for a side
    that does not move) and the engine that measured it."""

    move: Move
    engine: str
    base: float  # the target at the scenario's own values, this engine
    effect_low: tuple[float, float, float]
    effect_high: tuple[float, float, float]
    diffs_low: list[float] = field(default_factory=list)  # per replication (DES)
    diffs_high: list[float] = field(default_factory=list)
    unpaired_low: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    unpaired_high: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    screened: tuple[float, float] | None = None  # the twin's changes, when re-run with DES

    @property
    def path(self) -> str:
        return self.move.path

    @property
    def swing(self) -> float:
        """The larger of the two changes, in absolute value: what ranks the bars."""
        vals = [abs(e[0]) for e in (self.effect_low, self.effect_high) if not math.isnan(e[0])]
        return max(vals) if vals else math.nan

    def effect(self, side: str) -> tuple[float, float, float]:
        return self.effect_low if side == LOW else self.effect_high

    def clear(self, side: str) -> bool:
        """Whether that side's 95% CI excludes zero (DES bars only)."""
        _, lo, hi = self.effect(side)
        return not (math.isnan(lo) or math.isnan(hi)) and (lo > 0 or hi < 0)


def _ranked(bars: list[Bar]) -> list[Bar]:
    """Largest swing first; a bar without any value last; ties in PARAMS order."""
    order = {p.path: i for i, p in enumerate(PARAMS)}
    return sorted(bars, key=lambda b: (math.isnan(b.swing), -(0.0 if math.isnan(b.swing) else b.swing),
                                       order.get(b.path, 0)))


@dataclass
class Sensitivity:
    """A one-at-a-time sensitivity of ``target`` to ±``delta`` moves of levers of ``scenario``."""

    scenario: Scenario
    target: str
    delta: float
    seed: int
    replications: int
    horizon: float
    bars: list[Bar]
    skipped: list[Move]
    engine: str  # as asked: auto, des or meanfield
    engine_note: str = ""  # why auto used what it used
    top: int = DEFAULT_TOP
    base_des: RunResult | None = None
    base_meanfield: dict[str, float] | None = None  # the twin's metrics at the base
    runs: dict[str, int] = field(default_factory=dict)  # runs per engine

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def base_value(self) -> float:
        """The target at the scenario's own values: the DES mean when the DES ran, else
        the twin's value.  Every bar is drawn from it."""
        if self.base_des is not None:
            return self.base_des.mean_ci(self.target)[0]
        if self.base_meanfield is not None:
            return self.base_meanfield[self.target]
        return math.nan

    def bar(self, path: str) -> Bar:
        for b in self.bars:
            if b.path == path:
                return b
        raise KeyError(path)

    def rows(self) -> list[dict[str, object]]:
        """Tidy rows, ranked: one per lever, then one per skipped parameter."""
        meta = METRICS[self.target]
        rows: list[dict[str, object]] = []
        entries: list[tuple[Move, Bar | None]] = [(b.move, b) for b in self.bars]
        entries += [(m, None) for m in self.skipped]
        for rank, (mv, bar) in enumerate(entries, start=1):
            p = mv.param
            el = bar.effect_low if bar else (math.nan,) * 3
            eh = bar.effect_high if bar else (math.nan,) * 3
            base = bar.base if bar else math.nan
            rows.append({
                "rank": rank if bar else "",
                "parameter": p.path,
                "label": getattr(p, "label", "") or p.path,
                "unit": p.unit,
                "kind": p.kind,
                "base_value": _shown(p, mv.base),
                "low_value": _shown(p, mv.low),
                "high_value": _shown(p, mv.high),
                "low_factor": mv.low_factor,
                "high_factor": mv.high_factor,
                "engine": bar.engine if bar else "",
                "target": self.target,
                "target_label": meta.label,
                "target_unit": meta.unit,
                "base_target": base,
                "effect_low": el[0], "effect_low_ci95_lo": el[1], "effect_low_ci95_hi": el[2],
                "effect_high": eh[0], "effect_high_ci95_lo": eh[1], "effect_high_ci95_hi": eh[2],
                "effect_low_pct": _rel(el[0], base), "effect_high_pct": _rel(eh[0], base),
                "swing": bar.swing if bar else math.nan,
                "status": "ok" if bar else "skipped",
                "notes": "; ".join(mv.notes) if bar else mv.skipped,
            })
        return rows

    def frame(self) -> pd.DataFrame:
        """:meth:`rows` as a pandas DataFrame (the columns of ``sensitivity.csv``); ``rank``
        is a nullable integer, missing on a skipped parameter's row (``""`` in :meth:`rows`)."""
        import pandas as pd

        df = pd.DataFrame(self.rows(), columns=SENSITIVITY_COLUMNS)
        df["rank"] = pd.array([r if isinstance(r, int) else None for r in df["rank"]],
                              dtype="Int64")
        return df

    def _described(self) -> str:
        engines = ", ".join(f"{v} {k}" for k, v in self.runs.items())
        return (f"{self.target} to ±{pct(self.delta)} moves of {len(self.bars)} lever"
                f"{'s' if len(self.bars) != 1 else ''}, engine {self.engine}"
                + (f" (runs: {engines})" if engines else "")
                + (f", {self.replications} replications, seed {self.seed}"
                   if self.replications else ""))

    def _effect(self, bar: Bar, side: str) -> str:
        effect = bar.effect(side)
        return "-" if math.isnan(effect[0]) else ci_text(effect, self.target, signed=True)

    def __repr__(self) -> str:
        unit = METRICS[self.target].unit
        top = "; ".join(f"{b.path} {self._effect(b, LOW)} / {self._effect(b, HIGH)}"
                        for b in self.bars[:3])
        return (f"<Sensitivity {self.name}: {self._described()}; base "
                f"{format_value(self.base_value, unit)}; top (low / high): {top or 'none'}>")

    def _repr_html_(self, limit: int = 15) -> str:
        rows = [[rank, b.path, _shown(b.move.param, b.move.base), self._effect(b, LOW),
                 self._effect(b, HIGH), b.engine]
                for rank, b in enumerate(self.bars[:limit], start=1)]
        meta = METRICS[self.target]
        return html_table(f"Sensitivity {self.name}: {self._described()}; base "
                           f"{meta.label} {format_value(self.base_value, meta.unit)}",
                           ["rank", "parameter", "value", f"change at −{pct(self.delta)}",
                            f"change at +{pct(self.delta)}", "engine"], rows,
                           more=max(0, len(self.bars) - limit))

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        meta = METRICS[self.target]
        base: dict[str, Any] = {}
        if self.base_des is not None:
            mean, lo, hi = self.base_des.mean_ci(self.target)
            base[DES] = {"mean": mean, "ci95": [lo, hi], "values": self.base_des.values(self.target)}
        if self.base_meanfield is not None:
            base[MEANFIELD] = {"value": self.base_meanfield[self.target]}
        bars = []
        for rank, b in enumerate(self.bars, start=1):
            entry: dict[str, Any] = {
                "rank": rank, "parameter": b.path, "engine": b.engine, "base_target": b.base,
                "base_value": b.move.base, "notes": list(b.move.notes), "swing": b.swing,
            }
            for side in (LOW, HIGH):
                mean, lo, hi = b.effect(side)
                one: dict[str, Any] = {
                    "value": b.move.side(side),
                    "factor": b.move.low_factor if side == LOW else b.move.high_factor,
                    "set": b.move.set_expr(side), "effect": mean, "ci95": [lo, hi],
                    "effect_pct": _rel(mean, b.base),
                }
                if b.engine == DES:
                    one["values"] = b.diffs_low if side == LOW else b.diffs_high
                    u = b.unpaired_low if side == LOW else b.unpaired_high
                    one["unpaired"] = {"effect": u[0], "ci95": [u[1], u[2]]}
                if b.screened is not None:
                    one["meanfield_effect"] = b.screened[0 if side == LOW else 1]
                entry[side] = one
            bars.append(entry)
        return {
            "flywheel_version": __version__,
            "kind": "sensitivity",
            "scenario": self.scenario.name,
            "target": {"name": self.target, "label": meta.label, "unit": meta.unit},
            "delta": self.delta,
            "seed": self.seed,
            "replications": self.replications,
            "horizon_days": self.horizon,
            "engine": {"asked": self.engine, "note": self.engine_note, "top": self.top},
            "runs": dict(self.runs),
            "base": base,
            "bars": bars,
            "skipped": [{"parameter": m.path, "base_value": m.base, "reason": m.skipped}
                        for m in self.skipped],
        }


def _rel(effect: float, base: float) -> float:
    if math.isnan(effect) or math.isnan(base) or base == 0:
        return math.nan
    return effect / abs(base)


def _shown(param: Param, value: object) -> str:
    """A setting as a reader writes it: ``150/week``, ``0.25``, ``5``, a distribution's line."""
    if value is None:
        return ""
    if param.kind == "distribution":
        from flywheel.scenario.distributions import parse_distribution

        return parse_distribution(value, param.domain).describe()
    if isinstance(value, float):
        return _num(value)
    return str(value)


# -- running ----------------------------------------------------------------------------


def _scenario_for(base: Scenario, mv: Move, side: str) -> Scenario:
    return base.with_overrides({mv.path: mv.side(side)})


def _run_des(scenarios: Sequence[Scenario], n: int, seed: int, jobs: int | None,
             pool: Executor | None, progress: Progress | None) -> list[RunResult]:
    """Every scenario with the same seed and count, in the given pool (None: here)."""
    return [simulate(sc, replications=n, seed=seed, jobs=1 if pool is None else jobs,
                     executor=pool, progress=progress) for sc in scenarios]


def _twin_task(args: tuple[str, Scenario, float]) -> dict[str, float]:
    """One evaluation of the twin module named ``args[0]`` (runs in a worker)."""
    name, scenario, horizon = args
    return _twin_metrics(importlib.import_module(name), scenario, horizon)


def _run_twin(module: ModuleType, scenarios: Sequence[Scenario], horizon: float,
              pool: Executor | None, progress: Progress | None) -> list[dict[str, float]]:
    """The twin's metrics for every scenario, in the pool when the twin is importable
    there (it is deterministic, so where it runs does not matter)."""
    out: list[dict[str, float]] = []
    importable = importlib.util.find_spec(module.__name__) is not None \
        if module.__name__.startswith("flywheel.") else False
    if pool is not None and importable:
        results = pool.map(_twin_task, [(module.__name__, sc, horizon) for sc in scenarios])
    else:
        results = (_twin_metrics(module, sc, horizon) for sc in scenarios)
    for metrics in results:
        out.append(metrics)
        if progress:
            progress(1)
    return out


def _unsupported(module: ModuleType, scenario: Scenario) -> list[str]:
    return [str(x) for x in module.unsupported(scenario)]


def _twin_metrics(module: ModuleType, scenario: Scenario, horizon: float) -> dict[str, float]:
    """Every metric of one deterministic evaluation of the twin: its ``simulate`` gives a
    :class:`RunResult` of one replication (a twin with only ``solve`` gives its tally,
    which :func:`flywheel.metrics.measure` turns into metrics)."""
    if hasattr(module, "simulate"):
        metrics = module.simulate(scenario, horizon).replications[0].metrics
    else:
        metrics = measure(module.solve(scenario, horizon).tally).metrics
    return {k: float(v) for k, v in metrics.items()}


def sensitivity_analysis(scenario: Scenario | str | Path, target: str = DEFAULT_TARGET,
                         delta: float | str = DEFAULT_DELTA,
                         params: Sequence[str] | str | None = None, top: int = DEFAULT_TOP,
                         engine: str = "auto", replications: int | None = None,
                         seed: int | None = None, jobs: int | None = None,
                         progress: Progress | None = None, *, overrides: Sequence[str] = (),
                         executor: Executor | None = None,
                         on_total: Callable[[int], None] | None = None) -> Sensitivity:
    """Move each lever of ``scenario`` by ±``delta``, one at a time, and rank the levers
    by the change of ``target`` (a name of :data:`METRICS`).

    ``params`` limits the levers to the named paths (a list, or ``"a.b,c.d"``);
    ``engine`` is ``"auto"`` (the twin screens every lever when it supports the
    scenario, the DES re-runs the ``top`` ones), ``"des"`` or ``"meanfield"``.  DES runs
    use ``replications`` and ``seed`` (default: the scenario's) for the scenario and for
    every moved copy (common random numbers).  One worker pool (``jobs`` processes, or
    ``executor``) runs everything.  ``progress`` is called with 1 after each twin
    evaluation and each DES replication; ``on_total`` with how many there will be, once
    planned and again when the twin's pass has chosen the DES runs.
    """
    base = (scenario if isinstance(scenario, Scenario)
            else load_scenario(scenario, list(overrides)))
    if isinstance(scenario, Scenario) and overrides:
        base = base.with_overrides(dict(parse_set(e) for e in overrides))
    target = check_target(target)
    d = parse_delta(delta)
    if engine not in ENGINES:
        raise ScenarioError("unknown engine", file=ENGINE_SOURCE, value=engine,
                            allowed="one of " + ", ".join(ENGINES))
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ScenarioError("expected a whole number of at least 1", file="--top", value=top)
    n = int(replications if replications is not None else base["simulation.replications"])
    s = int(seed if seed is not None else base["simulation.seed"])
    if n < 1:
        raise ScenarioError("expected at least 1", file="--replications", value=n)
    horizon = float(base["simulation.horizon"])

    moves = [move(base, p, d) for p in levers(parse_params(params))]
    movable = [m for m in moves if not m.skipped]
    skipped = [m for m in moves if m.skipped]
    if not movable:
        raise ScenarioError("no parameter can move: " + "; ".join(f"{m.path} {m.skipped}"
                                                                   for m in skipped),
                            file=PARAMS_SOURCE)
    scen = {(m.path, side): _scenario_for(base, m, side) for m in movable for side in m.sides()}

    module, use_twin, note = _engine_plan(engine, base)
    twin_keys = [(m.path, side) for m in movable for side in m.sides()] if use_twin else []
    twin_count = 1 + len(twin_keys) if use_twin else 0
    des_all = (1 + len(scen)) * n
    if on_total is not None:
        on_total(twin_count + (0 if use_twin else des_all))

    runs = {DES: 0, MEANFIELD: 0}
    twin_base: dict[str, float] | None = None
    twin_bars: dict[str, Bar] = {}
    des_paths = [m.path for m in movable]
    with worker_pool(jobs, max(n, twin_count), executor) as pool:
        if use_twin:
            assert module is not None
            # a moved copy the twin does not carry runs with the DES only
            must_des = [m.path for m in movable
                        if any(_unsupported(module, scen[(m.path, side)]) for side in m.sides())]
            screen = [k for k in twin_keys if k[0] not in must_des]
            evaluated = _run_twin(module, [base, *(scen[k] for k in screen)], horizon, pool,
                                  progress)
            runs[MEANFIELD] += len(evaluated)
            twin_base = evaluated[0]
            b0 = twin_base[target]
            by_key = dict(zip(screen, evaluated[1:], strict=True))
            for m in movable:
                if m.path in must_des:
                    continue
                tw = {side: (by_key[(m.path, side)][target] - b0, math.nan, math.nan)
                      if (m.path, side) in by_key else (math.nan,) * 3 for side in (LOW, HIGH)}
                twin_bars[m.path] = Bar(m, MEANFIELD, b0, tw[LOW], tw[HIGH])
            des_paths, note = _des_after_twin(engine, target, top, twin_bars, must_des, b0,
                                              movable)

        # -- the DES: the scenario and each chosen lever's sides, one seed ------------------
        des_moves = [m for m in movable if m.path in des_paths]
        keys = [(m.path, side) for m in des_moves for side in m.sides()]
        if on_total is not None and use_twin:
            on_total(twin_count + ((1 + len(keys)) * n if keys else 0))
        results = (_run_des([base, *(scen[k] for k in keys)], n, s, jobs, pool, progress)
                   if keys else [])
    runs[DES] += len(results)
    des_base = results[0] if results else None
    bars = [b for p, b in twin_bars.items() if p not in des_paths]
    if des_base is not None:
        by_run = dict(zip(keys, results[1:], strict=True))
        bars += [_des_bar(m, des_base, by_run, target, twin_bars.get(m.path)) for m in des_moves]
    return Sensitivity(scenario=(des_base.scenario if des_base is not None else base),
                       target=target, delta=d, seed=s, replications=n if keys else 0,
                       horizon=horizon, bars=_ranked(bars), skipped=skipped, engine=engine,
                       engine_note=note, top=top, base_des=des_base, base_meanfield=twin_base,
                       runs={k: v for k, v in runs.items() if v})




def _engine_plan(engine: str, base: Scenario) -> tuple[ModuleType | None, bool, str]:
    """The twin module, whether it screens the levers, and a note on why not."""
    if engine == DES:
        return None, False, ""
    module = twin()
    why = "" if module is not None else "the mean-field twin is not part of this installation"
    if module is not None:
        missing = _unsupported(module, base)
        why = ("the mean-field twin does not carry: " + "; ".join(missing)) if missing else ""
    if why and engine == MEANFIELD:
        raise ScenarioError(why, file=ENGINE_SOURCE, value=engine,
                            allowed="use --engine des (or auto, which falls back to it)")
    return module, not why, why + ("; every lever ran with the DES" if why else "")


def _des_after_twin(engine: str, target: str, top: int, twin_bars: dict[str, Bar],
                    must_des: list[str], b0: float, movable: list[Move]) -> tuple[list[str], str]:
    """After the twin's pass: the levers the DES runs, and the note that says why."""
    if engine == MEANFIELD:
        note = ("the mean-field twin does not carry a moved copy of " + ", ".join(must_des)
                + "; those ran with the DES") if must_des else ""
        return list(must_des), note
    if math.isnan(b0):
        return ([m.path for m in movable],
                f"the mean-field twin gives no value of {target}; every lever ran with the DES")
    ranked = [b.path for b in _ranked(list(twin_bars.values()))]
    chosen = must_des + ranked[:max(0, top - len(must_des))]
    note = (f"the mean-field twin screened {len(twin_bars)} lever"
            f"{'s' if len(twin_bars) != 1 else ''}; the DES re-ran the top {len(chosen)}")
    if must_des:
        note += (" (" + ", ".join(must_des) + " with the DES only: the twin does not carry "
                 "a moved copy)")
    return chosen, note


def _des_bar(m: Move, des_base: RunResult, by_run: dict[tuple[str, str], RunResult],
             target: str, screened: Bar | None) -> Bar:
    """A lever's bar from the DES: each side's paired change against the base runs."""
    base_vals = des_base.values(target)
    eff: dict[str, tuple[float, float, float]] = {}
    unp: dict[str, tuple[float, float, float]] = {}
    diffs: dict[str, list[float]] = {}
    for side in (LOW, HIGH):
        run = by_run.get((m.path, side))
        if run is None:
            eff[side] = unp[side] = (math.nan,) * 3
            diffs[side] = []
            continue
        vals = run.values(target)
        eff[side] = paired_ci(base_vals, vals)
        unp[side] = welch_ci(base_vals, vals)
        diffs[side] = [b - a if not (math.isnan(a) or math.isnan(b)) else math.nan
                       for a, b in zip(base_vals, vals, strict=True)]
    return Bar(m, DES, des_base.mean_ci(target)[0], eff[LOW], eff[HIGH], diffs[LOW],
               diffs[HIGH], unp[LOW], unp[HIGH],
               screened=(screened.effect_low[0], screened.effect_high[0]) if screened else None)
