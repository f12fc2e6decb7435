"""Charts of runs, comparisons and sweeps, as matplotlib :class:`~matplotlib.figure.Figure`\\ s.

Every axis label is built from :data:`~flywheel.metrics.METRICS`,
:data:`~flywheel.metrics.SERIES` or :data:`~flywheel.metrics.FUNNEL` (label
and unit), never written here, so a chart says exactly what the tables say.

Figures are made with :class:`matplotlib.figure.Figure` directly, not through
``pyplot``: nothing is registered in pyplot's global list of figures, no GUI
backend is touched, and a figure is freed as soon as it is no longer referenced.
Styling (a base font of 13 pt, readable on a projector) is applied with
:func:`matplotlib.rc_context` while a figure is built, so matplotlib's global
settings are left as they were.

Bands: over time, the shaded band spans the 5th to 95th percentile of the
replications (where a single run may land); for scalar metrics, whiskers and
bands are the 95% confidence interval of the mean (how sure the mean is).
"""

from __future__ import annotations

import functools
import io
import math
import numbers
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from flywheel.engines.tally import day_grid
from flywheel.metrics import FUNNEL, METRICS, SERIES, format_value, mean_ci
from flywheel.scenario.defaults import DAYS_PER_MONTH, PARAMS_BY_PATH
from flywheel.scenario.settings import Settings

__all__ = [
    "BAND",
    "DPI",
    "STYLE",
    "axis_label",
    "cohort_heatmap",
    "cohort_matrix",
    "comparison_bars",
    "comparison_overlay",
    "comparison_series",
    "funnel",
    "growth",
    "has_sales",
    "journey_timeline",
    "mrr",
    "png_bytes",
    "price_curves",
    "run_charts",
    "sales",
    "save",
    "series_label",
    "sweep_curves",
    "tornado",
    "validation_bands",
    "validation_check",
]

#: Resolution of written PNGs.
DPI = 150
#: Percentiles of the replications shaded around a time series' mean.
BAND = (5.0, 95.0)
#: rc settings applied while a figure is built: large enough for a projector.
STYLE: dict[str, Any] = {
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "figure.titlesize": 15,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # no text is read as math: "$" is money here, and names come from users' files
    "text.parse_math": False,
}
#: Colour-blind-safe palette (Okabe & Ito), one colour per scenario / line.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
          "#000000")
_BAND_TEXT = f"{BAND[0]:g}–{BAND[1]:g}% of replications"
_DAY_LABEL = "Day since launch"

F = TypeVar("F", bound=Callable[..., Any])


def _load_matplotlib() -> None:
    """Import matplotlib's pieces on the first chart, not with this module: the report and
    a run's parent process use this module's helpers without drawing, and a run's charts
    are drawn in its worker processes (each imports matplotlib once, side by side)."""
    global Figure, FuncFormatter, MaxNLocator, PercentFormatter, rc_context
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter


def _styled(fn: F) -> F:
    """Build the figure under :data:`STYLE`, restoring matplotlib's settings after."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        _load_matplotlib()
        with rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


# -- labels and number formats -------------------------------------------------------------

def axis_label(metric: str) -> str:
    """``"Label (unit)"`` of a metric of :data:`METRICS`."""
    m = METRICS[metric]
    return f"{m.label} ({m.unit})"


def series_label(series: str) -> str:
    """``"Label (unit)"`` of a daily series of :data:`SERIES`."""
    s = SERIES[series]
    return f"{s.label} ({s.unit})"


def _money(value: float, _pos: object = None) -> str:
    a = abs(value)
    sign = "−" if value < 0 else ""
    if a >= 1e9:
        return f"{sign}${a / 1e9:.3g}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:.3g}M"
    if a >= 1e3:
        return f"{sign}${a / 1e3:.3g}k"
    return f"{sign}${a:.3g}" if a else "$0"


def _count(value: float, _pos: object = None) -> str:
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:,.0f}" if a >= 100 or float(value).is_integer() else f"{value:.3g}"


def _format_axis(axis: Any, unit: str) -> None:
    """Tick labels in the unit's own terms: percentages, dollars or plain counts."""
    if unit.startswith("share"):
        axis.set_major_formatter(PercentFormatter(1.0))
    elif unit.startswith("$"):
        axis.set_major_formatter(FuncFormatter(_money))
    else:
        axis.set_major_formatter(FuncFormatter(_count))


def _nan0(x: float) -> float:
    return 0.0 if x is None or math.isnan(x) else float(x)


# -- shared pieces --------------------------------------------------------------------------

def _stack(result: Any, name: str) -> np.ndarray:
    """Replications × days array of a daily series."""
    reps = result.replications
    days = len(day_grid(result.horizon))
    if not reps:
        return np.full((1, days), np.nan)
    return np.vstack([np.asarray(r.series[name], dtype=float) for r in reps])


def _band(ax: Any, x: np.ndarray, values: np.ndarray, color: str, label: str | None,
          band_label: str | None) -> None:
    """Mean line with a shaded percentile band across replications (rows)."""
    mean = values.mean(axis=0)
    ax.plot(x, mean, color=color, linewidth=2.2, label=label, zorder=3)
    if values.shape[0] > 1:
        lo, hi = np.percentile(values, BAND, axis=0)
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0, label=band_label,
                        zorder=2)


def _series_axes(ax: Any, result: Any, name: str, color: str, label: str | None,
                 band_label: str | None, scale: float = 1.0) -> None:
    x = day_grid(result.horizon)
    _band(ax, x, _stack(result, name) * scale, color, label, band_label)


def _mean_label(n: int) -> str:
    return f"mean of {n} replication{'s' if n != 1 else ''}"


def is_twin(result: Any) -> bool:
    """Whether a run's curves come from the deterministic mean-field twin, not replications."""
    return getattr(result, "engine", "des") == "meanfield"


def _run_label(result: Any) -> str:
    """What a run's lines are: a mean over replications, or the mean-field twin's curve."""
    return "mean-field twin (deterministic)" if is_twin(result) else _mean_label(result.n)


def _x_days(ax: Any, horizon: float) -> None:
    ax.set_xlim(0, max(1.0, float(horizon)))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))


# -- a run ----------------------------------------------------------------------------------

@_styled
def growth(result: Any) -> Figure:
    """Signups per day, active users and paying teams over time, mean and band."""
    names = ("signups", "active_users", "paying_teams")
    fig = Figure(figsize=(10, 10), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True)
    for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
        _series_axes(ax, result, name, _color(i), _run_label(result), _BAND_TEXT)
        ax.set_title(SERIES[name].label, loc="left")
        ax.set_ylabel(series_label(name))
        _format_axis(ax.yaxis, SERIES[name].unit)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", frameon=False)
    axes[-1].set_xlabel(_DAY_LABEL)
    _x_days(axes[-1], result.horizon)
    fig.suptitle(f"{result.scenario.name}: growth")
    return fig


#: The MRR bridge's parts: (series, sign drawn, colour index).
BRIDGE = (("mrr_new", 1, 0), ("mrr_expansion", 1, 2), ("mrr_reactivation", 1, 4),
          ("mrr_contraction", -1, 1), ("mrr_churned", -1, 3))


def bridge_by_month(result: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The MRR bridge summed by month of the run (mean over replications): each month's
    start day, and each part's MRR ($ per month) added (or, for contraction and churn,
    lost) in that month."""
    days = len(result.replications[0].series["mrr_new"])
    month = (np.arange(days) / DAYS_PER_MONTH).astype(int)
    n = int(month[-1]) + 1 if days else 0
    parts = {}
    for name, _, _ in BRIDGE:
        mean = np.mean([r.series[name] for r in result.replications], axis=0)
        parts[name] = np.bincount(month, weights=mean, minlength=n)
    return np.arange(n) * DAYS_PER_MONTH, parts


def _bridge_axes(ax: Any, result: Any) -> None:
    """Monthly MRR bridge: what was added above zero, what was lost below, the net line."""
    starts, parts = bridge_by_month(result)
    width = DAYS_PER_MONTH * 0.8
    up = np.zeros(len(starts))
    down = np.zeros(len(starts))
    for name, sign, colour in BRIDGE:
        values = parts[name]
        base = up if sign > 0 else down
        ax.bar(starts + DAYS_PER_MONTH / 2, sign * values, width, bottom=sign * base,
               color=_color(colour), label=SERIES[name].label)
        base += values
    ax.plot(starts + DAYS_PER_MONTH / 2, up - down, color="black", marker="o", ms=3,
            label="Net change")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title("MRR bridge, by month", loc="left")
    ax.set_ylabel("$ per month, added or lost")
    _format_axis(ax.yaxis, "$ per month")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")


@_styled
def mrr(result: Any) -> Figure:
    """MRR and ARR (12 × MRR) over time, mean and band; with the monthly MRR bridge (new,
    expansion, reactivation, contraction, churned) where the engine reports it."""
    arr = METRICS["arr_end"]
    bridge = "mrr_new" not in getattr(result, "unavailable", ())
    fig = Figure(figsize=(10, 10.5 if bridge else 7.5), layout="constrained")
    axes = fig.subplots(3 if bridge else 2, 1, sharex=True)
    ax_m, ax_a = axes[0], axes[1]
    _series_axes(ax_m, result, "mrr", _color(0), _run_label(result), _BAND_TEXT)
    ax_m.set_title(SERIES["mrr"].label, loc="left")
    ax_m.set_ylabel(series_label("mrr"))
    _series_axes(ax_a, result, "mrr", _color(2), _run_label(result), _BAND_TEXT, scale=12.0)
    ax_a.set_title(arr.label, loc="left")
    ax_a.set_ylabel(axis_label("arr_end"))
    for ax, unit in ((ax_m, SERIES["mrr"].unit), (ax_a, arr.unit)):
        _format_axis(ax.yaxis, unit)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", frameon=False)
    if bridge:
        _bridge_axes(axes[2], result)
    axes[-1].set_xlabel(_DAY_LABEL)
    _x_days(axes[-1], result.horizon)
    fig.suptitle(f"{result.scenario.name}: recurring revenue")
    return fig


def _funnel_stats(result: Any) -> list[tuple[str, str, str, float, float, float]]:
    out = []
    for key, label, unit in FUNNEL:
        mean, lo, hi = mean_ci([r.funnel[key] for r in result.replications])
        out.append((key, label, unit, mean, lo, hi))
    return out


@_styled
def funnel(result: Any) -> Figure:
    """The funnel: users' stages and teams' stages as horizontal bars, mean and 95% CI.

    Each bar is annotated with its mean and its share of the stage above (same unit).
    """
    stats = _funnel_stats(result)
    units = list(dict.fromkeys(unit for _, _, unit, *_ in stats))
    heights = [sum(1 for s in stats if s[2] == u) for u in units]
    fig = Figure(figsize=(11, 1.2 + 0.75 * len(stats) + 0.6 * len(units)), layout="constrained")
    axes = fig.subplots(len(units), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    for j, (ax, unit) in enumerate(zip(axes, units, strict=True)):
        rows = [s for s in stats if s[2] == unit]
        y = np.arange(len(rows))
        means = np.array([_nan0(s[3]) for s in rows])
        lo = np.array([_nan0(s[3] - s[4]) if not math.isnan(s[4]) else 0.0 for s in rows])
        hi = np.array([_nan0(s[5] - s[3]) if not math.isnan(s[5]) else 0.0 for s in rows])
        lo = np.minimum(lo, means)  # a count's interval is shown no lower than zero
        ax.barh(y, means, xerr=[lo, hi], color=_color(j), alpha=0.85, capsize=5,
                error_kw={"elinewidth": 1.5, "ecolor": "#333333"})
        ax.set_yticks(y, [s[1] for s in rows])
        ax.invert_yaxis()
        ax.set_xlabel(f"{unit} (mean-field twin)" if is_twin(result)
                      else f"{unit} (mean, whiskers: 95% CI)")
        _format_axis(ax.xaxis, unit)
        ax.grid(axis="y", visible=False)
        top = float(np.max(means + hi)) if len(means) else 1.0
        ax.set_xlim(0, top * 1.3 if top > 0 else 1.0)
        prev = math.nan
        for k, m in enumerate(means):
            text = _count(m)
            if prev and not math.isnan(prev) and prev > 0:
                text += f"  ({100 * m / prev:.1f}% of above)"
            ax.annotate(text, (m + hi[k], k), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=11)
            prev = m
    fig.suptitle(f"{result.scenario.name}: funnel ({_run_label(result)})")
    return fig


def cohort_matrix(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cohort_weeks, weeks_since, share)``: mean share of each weekly signup cohort
    still active k weeks after signing up, across replications (NaN: not observed)."""
    cells: dict[tuple[int, int], list[float]] = {}
    for r in result.replications:
        for c, k, n, a in r.cohorts:
            if n:
                cells.setdefault((int(c), int(k)), []).append(a / n)
    if not cells:
        return np.empty(0, int), np.empty(0, int), np.empty((0, 0))
    n_c = max(c for c, _ in cells) + 1
    n_k = max(k for _, k in cells) + 1
    share = np.full((n_c, n_k), np.nan)
    for (c, k), vals in cells.items():
        share[c, k] = float(np.mean(vals))
    return np.arange(n_c), np.arange(n_k), share


@_styled
def cohort_heatmap(result: Any) -> Figure:
    """Weekly signup cohorts × weeks since signup: mean share of the cohort still active."""
    cohorts, weeks, share = cohort_matrix(result)
    active = SERIES["active_users"]
    # cells grow with the table but the figure stays projector-sized (at most 14 x 9 in)
    fig = Figure(figsize=(min(14.0, max(7.0, 1.5 + 0.55 * max(len(weeks), 1))),
                          min(9.0, max(4.5, 1.8 + 0.4 * max(len(cohorts), 1)))),
                 layout="constrained")
    ax = fig.subplots()
    ax.grid(False)
    if share.size:
        img = ax.imshow(np.ma.masked_invalid(share), aspect="auto", cmap="viridis",
                        vmin=0.0, vmax=max(0.05, float(np.nanmax(share))), origin="upper",
                        interpolation="nearest")
        cbar = fig.colorbar(img, ax=ax)
        cbar.set_label(f"{active.label} (share of signup cohort)")
        cbar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        if share.size <= 400:
            vmax = max(0.05, float(np.nanmax(share)))
            for c in range(share.shape[0]):
                for k in range(share.shape[1]):
                    v = share[c, k]
                    if not math.isnan(v):
                        ax.text(k, c, f"{100 * v:.0f}", ha="center", va="center", fontsize=9,
                                color="white" if v < 0.6 * vmax else "black")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.text(0.5, 0.5, "no cohort observed in full before the horizon", ha="center",
                va="center", transform=ax.transAxes)
    ax.set_xlabel("Weeks since signup")
    ax.set_ylabel("Signup cohort (week since launch)")
    ax.set_title(f"{active.label}: share of each weekly signup cohort (%), "
                 f"{_run_label(result)}", loc="left", fontsize=13)
    fig.suptitle(f"{result.scenario.name}: cohort retention")
    return fig


def has_sales(result: Any) -> bool:
    """Whether the run had a sales team (and so has sales views to show)."""
    return int(result.scenario["sales.reps"]) > 0


def _weekly(values: np.ndarray) -> np.ndarray:
    """Daily flows (replications x days) summed into weeks (replications x weeks)."""
    weeks = values.shape[1] // 7
    return values[:, :weeks * 7].reshape(values.shape[0], weeks, 7).sum(axis=2)


@_styled
def sales(result: Any) -> Figure:
    """The sales team's views: lead flow per week, the queue and the deal slots in use,
    and ARR by motion (self-serve vs sales contracts)."""
    fig = Figure(figsize=(10, 11), layout="constrained")
    ax_flow, ax_queue, ax_arr = fig.subplots(3, 1, sharex=True)
    weeks = (np.arange(len(day_grid(result.horizon)) // 7) + 1) * 7.0
    for i, name in enumerate(("pqls", "cold_leads", "won", "gone_cold")):
        _band(ax_flow, weeks, _weekly(_stack(result, name)), _color(i), SERIES[name].label, None)
    ax_flow.set_title("Leads per week", loc="left")
    ax_flow.set_ylabel("leads per week")
    ax_flow.legend(loc="upper left", frameon=False, title=f"mean; band: {_BAND_TEXT}",
                   title_fontsize=11, alignment="left")
    for i, name in enumerate(("sales_queue", "reps_busy")):
        _series_axes(ax_queue, result, name, _color(i + 4), SERIES[name].label, None)
    slots = Settings.from_scenario(result.scenario).sales.servers
    ax_queue.axhline(slots, color="#444444", linestyle="--", linewidth=1.2,
                     label=f"deal slots ({slots})")
    ax_queue.set_title("The sales queue", loc="left")
    ax_queue.set_ylabel("leads")
    ax_queue.legend(loc="upper left", frameon=False)
    for i, name in enumerate(("arr_self_serve", "arr_sales")):
        _series_axes(ax_arr, result, name, _color(i), SERIES[name].label, None)
    ax_arr.set_title("ARR by motion", loc="left")
    ax_arr.set_ylabel("ARR ($ per year)")
    _format_axis(ax_arr.yaxis, SERIES["arr_sales"].unit)
    ax_arr.legend(loc="upper left", frameon=False)
    for ax in (ax_flow, ax_queue, ax_arr):
        ax.set_ylim(bottom=0)
    ax_arr.set_xlabel(_DAY_LABEL)
    _x_days(ax_arr, result.horizon)
    fig.suptitle(f"{result.scenario.name}: sales")
    return fig


def run_chart_jobs(result: Any) -> dict[str, tuple[Callable[..., Figure], tuple[Any, ...]]]:
    """The charts of a run, by file stem, as (function, arguments) to draw each: growth,
    mrr, funnel, cohorts, and sales when the scenario has a sales team."""
    jobs: dict[str, tuple[Callable[..., Figure], tuple[Any, ...]]] = {
        "growth": (growth, (result,)), "mrr": (mrr, (result,)), "funnel": (funnel, (result,)),
        "cohorts": (cohort_heatmap, (result,))}
    if has_sales(result) and not is_twin(result):  # (the twin carries no sales motion)
        jobs["sales"] = (sales, (result,))
    return jobs


def run_charts(result: Any) -> dict[str, Figure]:
    """The charts of a run, by file stem (see :func:`run_chart_jobs`)."""
    return {name: fn(*args) for name, (fn, args) in run_chart_jobs(result).items()}


# -- comparisons ----------------------------------------------------------------------------

def _scenario_names(cmp: Any) -> list[str]:
    """The comparison's scenario labels (unique), as its tables show them."""
    labels = getattr(cmp, "labels", None)
    if labels:
        return list(labels)
    names = [sc.name for sc in cmp.scenarios]
    # Two scenarios may share a name (e.g. one file with different --set): number them.
    if len(set(names)) < len(names):
        seen: dict[str, int] = {}
        out = []
        for n in names:
            seen[n] = seen.get(n, 0) + 1
            out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
        names = out
    return names


def comparison_series(cmp: Any) -> tuple[str, ...]:
    """The daily series a comparison overlays: active users and MRR, and the sales views
    (ARR by motion, the queue) when any scenario has a sales team."""
    if any(has_sales(r) for r in cmp.results):
        return ("active_users", "arr_self_serve", "arr_sales", "sales_queue")
    return ("active_users", "mrr")


@_styled
def comparison_overlay(cmp: Any, series: Sequence[str] | None = None) -> Figure:
    """Each scenario's mean line and percentile band, one panel per daily series
    (default: :func:`comparison_series`)."""
    series = tuple(series) if series is not None else comparison_series(cmp)
    fig = Figure(figsize=(10, 1.0 + 3.6 * len(series)), layout="constrained")
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    names = _scenario_names(cmp)
    horizon = max((r.horizon for r in cmp.results), default=1.0)
    for ax, name in zip(axes, series, strict=True):
        for i, (label, res) in enumerate(zip(names, cmp.results, strict=True)):
            _series_axes(ax, res, name, _color(i), label, None)
        ax.set_title(SERIES[name].label, loc="left")
        ax.set_ylabel(series_label(name))
        _format_axis(ax.yaxis, SERIES[name].unit)
        ax.set_ylim(bottom=0)
    axes[0].legend(loc="upper left", frameon=False,
                   title=f"mean; band: {_BAND_TEXT}", title_fontsize=11, alignment="left")
    axes[-1].set_xlabel(_DAY_LABEL)
    _x_days(axes[-1], horizon)
    fig.suptitle(" vs ".join(names))
    return fig


@_styled
def comparison_bars(cmp: Any, metric: str) -> Figure:
    """Each scenario's mean of ``metric`` with 95% CI whiskers."""
    meta = METRICS[metric]
    names = _scenario_names(cmp)
    stats = [r.mean_ci(metric) for r in cmp.results]
    fig = Figure(figsize=(max(6.0, 1.8 + 1.9 * len(names)), 5.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(names))
    means = np.array([_nan0(m) for m, _, _ in stats])
    lo = np.array([m - lo_ if not math.isnan(lo_) else 0.0 for m, lo_, _ in stats])
    hi = np.array([hi_ - m if not math.isnan(hi_) else 0.0 for m, _, hi_ in stats])
    lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
    ax.bar(x, means, yerr=[lo, hi], color=[_color(i) for i in range(len(names))], alpha=0.85,
           capsize=8, error_kw={"elinewidth": 1.5, "ecolor": "#333333"})
    ax.set_xticks(x, names)
    ax.grid(axis="x", visible=False)
    ax.set_ylabel(axis_label(metric))
    _format_axis(ax.yaxis, meta.unit)
    top = float(np.max(means + hi)) if len(means) else 0.0
    bottom = min(0.0, float(np.min(means - lo)) if len(means) else 0.0)
    ax.set_ylim(bottom * 1.15, top * 1.18 if top > 0 else 1.0)

    for i, (m, _, _) in enumerate(stats):
        ax.annotate(format_value(m, meta.unit), (i, means[i] + hi[i]), xytext=(0, 5),
                    textcoords="offset points", ha="center", va="bottom", fontsize=12)
    ax.set_title(f"{meta.label}: mean, whiskers 95% CI", loc="left")
    return fig


# -- sweeps ---------------------------------------------------------------------------------

def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _axis_title(path: str, values: Sequence[object]) -> str:
    """A swept parameter's path, with its unit when the values are bare numbers."""
    param = PARAMS_BY_PATH.get(path)
    if param is not None and param.unit and all(_is_number(v) for v in values) \
            and param.kind in ("number", "count", "probability"):
        return f"{path} ({param.unit})"
    return path


def _show(v: object) -> str:
    """A swept value as the user wrote it: 10min, 0.3, true, { median = "1h" }."""
    if isinstance(v, (dict, list, tuple)):
        from flywheel.scenario.files import toml_value

        return toml_value(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def sweep_grid(sweep: Any) -> tuple[list[object], list[object] | None, list[list[int | None]]]:
    """``(x values, line values or None, index[line][x] into sweep.results)``."""
    axes = list(sweep.axes)
    (xp, xs) = axes[0]
    lines = axes[1] if len(axes) > 1 else None
    idx: list[list[int | None]] = []
    for lv in (lines[1] if lines else [None]):
        row: list[int | None] = []
        for xv in xs:
            found = None
            for j, point in enumerate(sweep.points):
                if point.get(xp) == xv and (lines is None or point.get(lines[0]) == lv):
                    found = j
                    break
            row.append(found)
        idx.append(row)
    return list(xs), (list(lines[1]) if lines else None), idx


@_styled
def sweep_curves(sweep: Any, metric: str) -> Figure:
    """``metric`` (mean, 95% CI band) against the first swept parameter; a second swept
    parameter gives one line per value.  Non-numeric values (durations such as
    ``"10min"``) are placed evenly in the order swept."""
    meta = METRICS[metric]
    axes = list(sweep.axes)
    xpath = axes[0][0]
    xs, lines, idx = sweep_grid(sweep)
    numeric = all(_is_number(v) for v in xs)
    nums: list[float | None] = [float(v) for v in xs] if numeric else [None]
    if not numeric and hasattr(sweep, "axis_numbers"):  # durations in days, rates per day
        nums = list(sweep.axis_numbers(xpath))
    placed = all(v is not None for v in nums) and len(set(nums)) == len(nums)
    xpos = (np.array(nums, dtype=float) if placed else np.arange(len(xs), dtype=float))
    fig = Figure(figsize=(10, 6), layout="constrained")
    ax = fig.subplots()
    for li, row in enumerate(idx):
        stats = [sweep.results[j].mean_ci(metric) if j is not None else (math.nan,) * 3
                 for j in row]
        mean = np.array([s[0] for s in stats], dtype=float)
        lo = np.array([s[1] for s in stats], dtype=float)
        hi = np.array([s[2] for s in stats], dtype=float)
        label = None if lines is None else f"{axes[1][0]} = {_show(lines[li])}"
        color = _color(li)
        ok = ~(np.isnan(lo) | np.isnan(hi))
        if ok.any():
            ax.fill_between(xpos, np.where(ok, lo, np.nan), np.where(ok, hi, np.nan),
                            color=color, alpha=0.2, linewidth=0)
        ax.plot(xpos, mean, color=color, marker="o", linewidth=2.2, markersize=7, label=label)
    if placed and len(xpos) > 1 and np.all(xpos > 0) and xpos.max() / xpos.min() > 50:
        ax.set_xscale("log")  # values spanning orders of magnitude (10min ... 2w)
        ax.minorticks_off()
    if not numeric:
        ax.set_xticks(xpos, [_show(v) for v in xs])
    ax.set_xlabel(_axis_title(xpath, xs))
    ax.set_ylabel(axis_label(metric))
    _format_axis(ax.yaxis, meta.unit)
    ax.set_title(f"{meta.label}: mean, band 95% CI", loc="left")
    if lines is not None:
        ax.legend(frameon=False, loc="best")
    fig.suptitle(f"{sweep.base.name}: sweep of {' × '.join(p for p, _ in axes)}")
    return fig


@_styled
def price_curves(sweep: Any) -> Figure:
    """Demand and revenue against price, for a sweep over a price (``sweep.price_axis``):
    paying customers (left) and ARR (right) at the horizon, mean with a 95% CI band, one
    line per value of a second swept parameter; the best price tried by ARR marked."""
    from flywheel.studies.comparisons import PRICE_DEMAND, PRICE_REVENUE

    key = sweep.price_axis
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    best = {tuple(b.where.items()): b for b in sweep.best_prices()}
    for li, (where, prices, idx) in enumerate(sweep.price_lines()):
        color = _color(li)
        label = ", ".join(f"{k} = {_show(v)}" for k, v in where.items()) or None
        x = np.asarray(prices, dtype=float)
        for ax, metric in zip(axes, (PRICE_DEMAND, PRICE_REVENUE), strict=True):
            stats = np.array([sweep.results[i].mean_ci(metric) for i in idx], dtype=float)
            ok = ~np.isnan(stats[:, 1:]).any(axis=1)
            if ok.any():
                ax.fill_between(x, np.where(ok, stats[:, 1], np.nan),
                                np.where(ok, stats[:, 2], np.nan), color=color, alpha=0.2,
                                linewidth=0)
            ax.plot(x, stats[:, 0], color=color, marker="o", linewidth=2.2, markersize=7,
                    label=label)
        b = best.get(tuple(where.items()))
        if b is not None:
            axes[1].plot([b.price], [b.revenue.mean], marker="*", markersize=18, color=color,
                         markeredgecolor="black", linestyle="none",
                         label=f"best price tried: {_money(b.price, None)}"
                         + (f" ({label})" if label else ""))
    for ax, metric, title in ((axes[0], PRICE_DEMAND, "Demand"),
                              (axes[1], PRICE_REVENUE, "Revenue")):
        ax.set_xlabel(_axis_title(key, [1.0]))
        ax.set_ylabel(axis_label(metric))
        _format_axis(ax.yaxis, METRICS[metric].unit)
        ax.xaxis.set_major_formatter(FuncFormatter(_money))
        ax.set_ylim(bottom=0)
        ax.set_title(f"{title} ({METRICS[metric].label}): mean, band 95% CI", loc="left")
    axes[1].legend(frameon=False, loc="best")
    fig.suptitle(f"{sweep.base.name}: demand and revenue against {key}")
    return fig


# -- one company's journey (flywheel trace) -------------------------------------------------

#: Most people a journey's timeline draws a lane for (the story names them all).
TIMELINE_LANES = 30
#: The colour of each plan of a team (TeamState labels) on the timeline's team lane.
PLAN_COLORS = {"free": "#56B4E9", "trial": "#CC79A7", "paying": "#009E73", "capped": "#E69F00",
               "no_access": "#BBBBBB", "prospect": "#F0E442", "contract": "#006B4F"}
#: Team events marked on the timeline, with their short label.
TIMELINE_MARKS = {"paywall": "paywall", "upgrade": "upgrades", "trial_converted": "buys",
                  "bought_after_trial": "buys", "won_back": "buys again", "declined": "declines",
                  "cancelled": "cancels", "trial_ended": "trial ends", "pql": "PQL",
                  "won": "contract", "contract_ended": "contract ends"}


@_styled
def journey_timeline(j: Any) -> Figure:
    """One company's journey: a lane per person (onboarding as a thin line, the seat as a
    bar, blue on a free or trial plan, green while the team pays; who invited whom as
    arrows; how each left), the team's plan below them with its paywall and purchases
    marked, and under it what the company pays (MRR) or, if it never paid, its active
    users."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from flywheel.outputs.journey import name
    from flywheel.studies.journey import plan_spans

    people = j.people[:TIMELINE_LANES]
    n = len(people)
    H = float(j.horizon)
    spans = plan_spans(j)
    paid_spans = [(a, b) for a, b, plan in spans if plan in ("paying", "contract")]
    fig = Figure(figsize=(8, 3.6 + 0.38 * (n + 1)), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True,
                               gridspec_kw={"height_ratios": [max(n + 1, 2) * 0.38, 1.6]})
    team_y = n  # the team's lane, below the people
    for p in people:
        y = p.index
        left = min(x for x in (p.value, p.abandon, p.start, p.end, H) if not math.isnan(x))
        top.plot([p.signup, left], [y, y], color="#888888", linewidth=1.2, zorder=2)
        top.plot([p.signup], [y], "o", mfc="white", mec="#1d1d1f", markersize=6, zorder=4)
        if not math.isnan(p.start):
            end = min(p.end, H)
            cuts = sorted({p.start, end, *(x for a, b in paid_spans for x in (a, b)
                                           if p.start < x < end)})
            for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                paid = any(s <= a < e for s, e in paid_spans)
                top.broken_barh([(a, b - a)], (y - 0.28, 0.56),
                                color=PLAN_COLORS["paying" if paid else "free"], zorder=3)
        if not math.isnan(p.value):
            top.plot([p.value], [y], "|", color="#1d1d1f", markersize=14, zorder=5)
        gone = {"churned": ("X", "#D55E00"), "abandoned": ("x", "#888888"),
                "blocked": ("x", "#D55E00"), "lost_access": ("|", "#888888")}.get(p.state)
        t_end = p.abandon if p.state == "abandoned" else p.end
        if gone and not math.isnan(t_end) and t_end <= H:
            top.plot([t_end], [y], gone[0], color=gone[1], markersize=8, zorder=5)
        if p.inviter is not None and p.inviter < n:
            q = people[p.inviter]
            sent = q.start if not math.isnan(q.start) else q.signup
            top.annotate("", xy=(p.signup, y - 0.2), xytext=(sent, q.index + 0.2),
                         arrowprops={"arrowstyle": "->", "color": "#0072B2", "alpha": 0.6,
                                     "linewidth": 1.0}, zorder=1)
    for a, b, plan in spans:
        top.broken_barh([(a, b - a)], (team_y - 0.35, 0.7), color=PLAN_COLORS.get(plan, "#DDDDDD"),
                        zorder=3)
        if b - a > 0.08 * (H - j.team["created"]):
            top.text((a + b) / 2, team_y, plan.replace("_", " "), ha="center", va="center",
                     fontsize=10, zorder=4)
    marks = [(e.t, TIMELINE_MARKS[e.what.partition(":")[0]]) for e in j.events
             if e.person is None and e.what.partition(":")[0] in TIMELINE_MARKS]
    for k, (t, label) in enumerate(marks[:12]):
        for ax in (top, bottom):
            ax.axvline(t, color="#555555", linestyle=":", linewidth=1.0, zorder=1)
        top.text(t, -0.75 - 0.45 * (k % 2), f" {label}", fontsize=10, va="bottom", ha="left",
                 color="#333333")
    key = [Line2D([], [], marker="o", mfc="white", mec="#1d1d1f", linestyle="none",
                  label="signs up"),
           Line2D([], [], color="#888888", linewidth=1.2, label="onboarding"),
           Line2D([], [], marker="|", color="#1d1d1f", markersize=12, linestyle="none",
                  label="reaches value"),
           Patch(color=PLAN_COLORS["free"], label="seat, free or trial"),
           Patch(color=PLAN_COLORS["paying"], label="seat, paid"),
           Line2D([], [], marker="X", color="#D55E00", linestyle="none", label="churns"),
           Line2D([], [], marker="x", color="#888888", linestyle="none", label="gives up"),
           Line2D([], [], color="#0072B2", alpha=0.6, label="invites")]
    fig.legend(handles=key, loc="outside lower center", ncols=3, frameon=False, fontsize=11)
    top.set_yticks(range(n + 1), [name(p.index) for p in people] + ["team"])
    top.set_ylim(n + 0.7, -1.4 - (0.45 if len(marks) > 1 else 0))
    top.grid(axis="y", visible=False)
    top.set_title(f"{j.scenario.name}: company {j.company}, replication {j.replication}, seed "
                  f"{j.seed}" + (f" (first {TIMELINE_LANES} of {len(j.people)} people)"
                                 if len(j.people) > n else ""), loc="left")
    # what the company pays over time, or its active users if it never paid
    times = sorted({j.team["created"], H, *(e.t for e in j.events),
                    *(x for p in j.people for x in (p.start, p.end)
                      if not math.isnan(x) and x <= H)})
    paid = any(j.mrr_at(t) for t in times)
    series = "mrr" if paid else "active_users"
    values = [j.mrr_at(t) if paid else j.seats_at(t) for t in times]
    bottom.step(times, values, where="post", color=_color(2 if paid else 0), linewidth=2)
    bottom.fill_between(times, values, step="post", color=_color(2 if paid else 0), alpha=0.2,
                        linewidth=0)
    bottom.set_ylabel(series_label(series))
    _format_axis(bottom.yaxis, SERIES[series].unit)
    bottom.set_ylim(bottom=0, top=max(max(values, default=0) * 1.15, 1))
    bottom.set_xlabel(_DAY_LABEL)
    lo = max(0.0, float(j.team["created"]) - 0.02 * H)
    bottom.set_xlim(lo, H)
    bottom.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    return fig


# -- writing --------------------------------------------------------------------------------

def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (every figure is laid out "constrained": nothing is cut)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")  # constrained layout: no
    # second, "tight" drawing pass is needed
    return buf.getvalue()


def _draw_png(job: tuple[Callable[..., Figure], tuple[Any, ...]]) -> bytes:
    fn, args = job
    return png_bytes(fn(*args))


def start_render(jobs: dict[str, tuple[Callable[..., Figure], tuple[Any, ...]]],
                 executor: Executor | None = None) -> Callable[[], dict[str, bytes]]:
    """Start drawing each chart, and return what collects the PNG bytes by name.  With
    ``executor`` (the pool that ran the replications) the charts are drawn in its workers,
    side by side, while this process writes the other files; without, they are drawn
    here when collected."""
    if executor is None or len(jobs) < 2:
        return lambda: {name: png_bytes(fn(*args)) for name, (fn, args) in jobs.items()}
    futures = {name: executor.submit(_draw_png, job) for name, job in jobs.items()}
    return lambda: {name: future.result() for name, future in futures.items()}


def render(jobs: dict[str, tuple[Callable[..., Figure], tuple[Any, ...]]],
           executor: Executor | None = None) -> dict[str, bytes]:
    """Each chart drawn and encoded as PNG bytes, by name (see :func:`start_render`)."""
    return start_render(jobs, executor)()


def save(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Write the figure as a PNG at ``dpi`` (150) with a tight bounding box, atomically
    (a temporary file beside it, then renamed into place)."""
    from flywheel.outputs.files import write_file

    return write_file(path, png_bytes(fig, dpi))


# -- sensitivity ----------------------------------------------------------------------------

#: Most bars a tornado chart draws; the rest are in sensitivity.csv.
TORNADO_BARS = 25


def _lever_values(row: dict[str, Any]) -> str:
    """A tornado row's settings, low | base | high: values as written, a scaled
    distribution by its factors."""
    if row["kind"] == "distribution":
        return f"×{row['low_factor']:.3g} | as is | ×{row['high_factor']:.3g}"
    return f"{row['low_value'] or '–'} | {row['base_value']} | {row['high_value'] or '–'}"


@_styled
def tornado(result: Any, max_bars: int = TORNADO_BARS) -> Figure:
    """A tornado chart of a :class:`~flywheel.studies.sensitivity.Sensitivity`: one row per lever,
    largest swing on top, bars from the target's base value to its value with the lever
    moved low (lower half of the row) and high (upper half).  Bars the DES measured are
    solid with 95% CI whiskers (paired, common random numbers); bars of the mean-field
    twin are hatched and have none.  Meanfield bars are drawn about the same base: the
    twin's change added to it."""
    meta = METRICS[result.target]
    ok = [r for r in result.rows() if r["status"] == "ok"]
    moving = [r for r in ok if not _no_change(r)]
    rows = moving[:max_bars]
    idle, hidden = len(ok) - len(moving), len(moving) - len(rows)
    base = float(result.base_value)
    pct = f"{100 * result.delta:g}%"
    low_c, high_c = COLORS[0], COLORS[1]
    fig = Figure(figsize=(11, 1.9 + 0.72 * max(len(rows), 1)), layout="constrained")
    ax = fig.subplots()
    ax.grid(axis="y", visible=False)
    half = 0.36
    extent = [base]
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i  # largest on top
        des = row["engine"] == "des"
        for side, color, dy in (("low", low_c, -half / 2 - 0.02), ("high", high_c, half / 2 + 0.02)):
            d = row[f"effect_{side}"]
            if d is None or math.isnan(d):
                continue
            style = ({"color": color, "alpha": 0.9} if des else
                     {"facecolor": "white", "edgecolor": color, "hatch": "///", "linewidth": 1.2})
            ax.barh(y + dy, d, left=base, height=half, **style)
            end = outer = base + d
            lo, hi = row[f"effect_{side}_ci95_lo"], row[f"effect_{side}_ci95_hi"]
            if des and not (lo is None or hi is None or math.isnan(lo) or math.isnan(hi)):
                ax.errorbar(end, y + dy, xerr=[[max(d - lo, 0.0)], [max(hi - d, 0.0)]], fmt="none",
                            ecolor="#333333", elinewidth=1.4, capsize=4)
                extent += [base + lo, base + hi]
                outer = base + (hi if d >= 0 else lo)  # the label goes past the whisker
            extent.append(end)
            sign = "+" if d >= 0 else "−"
            ax.annotate(sign + format_value(abs(d), meta.unit),
                        (max(outer, base) if d >= 0 else min(outer, base), y + dy),
                        xytext=(5 if d >= 0 else -5, 0), textcoords="offset points",
                        ha="left" if d >= 0 else "right", va="center", fontsize=10)
    ax.axvline(base, color="#333333", linewidth=1.2)
    ticks = [f"{r['label']}" + ("" if r["engine"] == "des" else "  (twin)") + "\n" + _lever_values(r)
             for r in rows]
    ax.set_yticks(range(len(rows) - 1, -1, -1), ticks, fontsize=11)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    lo_x, hi_x = min(extent), max(extent)
    pad = 0.25 * (hi_x - lo_x) if hi_x > lo_x else max(abs(base) * 0.05, 1.0)
    ax.set_xlim(lo_x - pad, hi_x + pad)
    _format_axis(ax.xaxis, meta.unit)
    ax.set_xlabel(f"{axis_label(result.target)}; line: the scenario as it is, "
                            f"{format_value(base, meta.unit)}")
    from matplotlib.patches import Patch

    handles = [Patch(color=low_c, label=f"−{pct} (low)"), Patch(color=high_c, label=f"+{pct} (high)"),
               Patch(facecolor="#999999", label="simulation (DES): whiskers 95% CI, paired"),
               Patch(facecolor="white", edgecolor="#666666", hatch="///",
                     label="mean-field twin: no CI")]
    engines = {r["engine"] for r in rows}
    if "meanfield" not in engines:
        handles = handles[:3]
    elif "des" not in engines:
        handles = handles[:2] + handles[3:]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
               fontsize=10)
    title = f"{meta.label}: change when one parameter moves ±{pct}"
    left_out = ([f"top {len(rows)}; {hidden} more in sensitivity.csv"] if hidden > 0 else []) + \
        ([f"{idle} with no change at all not drawn"] if idle else [])
    if left_out:
        title += f"\n({'; '.join(left_out)})"
    ax.set_title(title, loc="left", fontsize=13)
    fig.suptitle(f"{result.scenario.name}: sensitivity of {_lower(meta.label)}")
    return fig


def _no_change(row: dict[str, Any]) -> bool:
    """A sensitivity row whose changes (and CIs) are all exactly 0 or missing: a lever the
    scenario does not use."""
    keys = [f"effect_{s}{c}" for s in ("low", "high") for c in ("", "_ci95_lo", "_ci95_hi")]
    return all(row[k] is None or math.isnan(row[k]) or row[k] == 0 for k in keys)


def _lower(label: str) -> str:
    """A label inside a title: lower-case first letter unless an acronym (ARR, MRR)."""
    first = label.split(" ", 1)[0]
    return label if len(first) > 1 and first[1:2].isupper() else label[:1].lower() + label[1:]


# -- validation -----------------------------------------------------------------------------

#: Colours of a measured figure against its published range, by status.
_BAND_STATUS_COLORS = {"inside": "#009E73", "edge": "#E69F00", "outside": "#D55E00"}


def _short_number(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


@_styled
def validation_check(check: Any) -> Figure:
    """One closed-form check (:class:`flywheel.studies.validation.CheckResult`): the simulated mean
    with its 95% CI band beside the analytic curve and, below, the deviation of the mean
    from the analytic curve with the tolerance shaded (relative, on a log scale)."""
    c = check.curve
    fig = Figure(figsize=(10, 7.8), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.5]})
    x = np.asarray(c.x, dtype=float)
    analytic = np.asarray(c.analytic, dtype=float)
    mean, lo, hi = (np.asarray(v, dtype=float) for v in (c.mean, c.lo, c.hi))
    if c.window is not None:
        for ax in (top, bottom):
            ax.axvspan(*c.window, color="#999999", alpha=0.12, linewidth=0,
                       label="fitting window" if ax is top else None)
    if np.isfinite(lo).any():
        top.fill_between(x, lo, hi, color=_color(0), alpha=0.25, linewidth=0,
                         label="95% CI of the mean")
    top.plot(x, mean, color=_color(0), linewidth=2.2,
             label=f"simulated, {_mean_label(check.replications)}")
    top.plot(x, analytic, color="black", linewidth=1.6, linestyle="--",
             label=f"analytic: {c.analytic_label}")
    if c.log_y:
        top.set_yscale("log")
    else:
        _format_axis(top.yaxis, "share" if "share" in c.y_label.lower() else "")
    top.set_ylabel(c.y_label)
    top.legend(loc="best", frameon=False, fontsize=11)
    top.set_title(f"{check.quantity}: analytic {_short_number(check.analytic)}, simulated "
                  f"{_short_number(check.mean)} [{_short_number(check.lo)}, "
                  f"{_short_number(check.hi)}], tolerance ±{_short_number(check.tolerance)}",
                  loc="left", fontsize=11, wrap=True)
    if c.log_y:  # deviations of a growing curve are relative
        with np.errstate(divide="ignore", invalid="ignore"):
            dev, dlo, dhi = (v / analytic - 1 for v in (mean, lo, hi))
        bottom.yaxis.set_major_formatter(PercentFormatter(1.0))
        dev_label = "simulated / analytic − 1"
    else:
        dev, dlo, dhi = mean - analytic, lo - analytic, hi - analytic
        dev_label = "simulated − analytic"
    bottom.set_ylabel(dev_label)
    if c.tolerance is not None and not c.log_y:
        tol = np.asarray(c.tolerance, dtype=float)
        bottom.fill_between(x, -tol, tol, color="#999999", alpha=0.25, linewidth=0,
                            label="tolerance")
    if np.isfinite(dlo).any():
        bottom.fill_between(x, dlo, dhi, color=_color(0), alpha=0.25, linewidth=0)
    bottom.plot(x, dev, color=_color(0), linewidth=1.8, label=dev_label.replace(
        "simulated", "simulated mean"))
    bottom.axhline(0.0, color="black", linewidth=1.0, linestyle="--")
    bottom.set_xlabel(c.x_label)
    bottom.legend(loc="best", frameon=False, fontsize=10)
    bottom.set_xlim(float(x.min()), float(x.max()))
    fig.suptitle(f"{check.title}: {'PASS' if check.passed else 'FAIL'}")
    return fig


@_styled
def validation_bands(results: Sequence[Any]) -> Figure:
    """Measured figures (:class:`flywheel.studies.validation.BandResult`: mean, 95% CI whiskers)
    beside their published ranges (shaded), one panel each, coloured by status."""
    n = max(1, len(results))
    fig = Figure(figsize=(10, 1.0 + 1.15 * n), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, r in zip(axes, results, strict=False):
        b = r.band
        meta = METRICS[b.metric]
        color = _BAND_STATUS_COLORS.get(r.status, "#333333")
        err = None
        if not (math.isnan(r.lo) or math.isnan(r.hi)):
            err = [[r.mean - r.lo], [r.hi - r.mean]]
        ax.errorbar([r.mean], [0], xerr=err, fmt="o", color=color, markersize=8, capsize=6,
                    elinewidth=2)
        # a ratio's band may be open above: shade it to beyond the measured figure
        top = b.high if math.isfinite(b.high) else max(r.mean, r.hi if err else r.mean,
                                                       b.low) * 1.2
        ax.axvspan(b.low, top, color="#999999", alpha=0.25, linewidth=0)
        span = [b.low, top, r.mean, *([r.lo, r.hi] if err else [])]
        left, right = min(span), max(span)
        pad = 0.25 * (right - left or 1.0)
        ax.set_xlim(left - pad, right + pad)
        ax.set_yticks([])
        ax.grid(axis="y", visible=False)
        if b.relative_to:
            value = f"{r.mean:.2f}×"
        else:
            _format_axis(ax.xaxis, meta.unit)
            value = format_value(r.mean, meta.unit) + (" days" if meta.unit == "days" else "")
        ax.set_title(f"{meta.label} ({b.where}): {value}, {r.status}; published "
                     f"{b.published}", loc="left", fontsize=11)
    fig.suptitle("Measured figures (mean, 95% CI) beside the published ranges (shaded)")
    return fig
