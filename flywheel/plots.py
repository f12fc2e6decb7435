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
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from flywheel.defaults import PARAMS_BY_PATH
from flywheel.metrics import FUNNEL, METRICS, SERIES, day_grid, format_value, mean_ci

__all__ = [
    "BAND",
    "DPI",
    "STYLE",
    "axis_label",
    "cohort_heatmap",
    "cohort_matrix",
    "comparison_bars",
    "comparison_overlay",
    "funnel",
    "growth",
    "mrr",
    "png_bytes",
    "run_charts",
    "save",
    "series_label",
    "sweep_curves",
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
}
#: Colour-blind-safe palette (Okabe & Ito), one colour per scenario / line.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
          "#000000")
_BAND_TEXT = f"{BAND[0]:g}–{BAND[1]:g}% of replications"
_DAY_LABEL = "Day since launch"

F = TypeVar("F", bound=Callable[..., Figure])


def _styled(fn: F) -> F:
    """Build the figure under :data:`STYLE`, restoring matplotlib's settings after."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
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
        _series_axes(ax, result, name, _color(i), _mean_label(result.n), _BAND_TEXT)
        ax.set_title(SERIES[name].label, loc="left")
        ax.set_ylabel(series_label(name))
        _format_axis(ax.yaxis, SERIES[name].unit)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", frameon=False)
    axes[-1].set_xlabel(_DAY_LABEL)
    _x_days(axes[-1], result.horizon)
    fig.suptitle(f"{result.scenario.name}: growth")
    return fig


@_styled
def mrr(result: Any) -> Figure:
    """MRR and ARR (12 × MRR) over time, mean and band."""
    arr = METRICS["arr_end"]
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    ax_m, ax_a = fig.subplots(2, 1, sharex=True)
    _series_axes(ax_m, result, "mrr", _color(0), _mean_label(result.n), _BAND_TEXT)
    ax_m.set_title(SERIES["mrr"].label, loc="left")
    ax_m.set_ylabel(series_label("mrr"))
    _series_axes(ax_a, result, "mrr", _color(2), _mean_label(result.n), _BAND_TEXT, scale=12.0)
    ax_a.set_title(arr.label, loc="left")
    ax_a.set_ylabel(axis_label("arr_end"))
    for ax, unit in ((ax_m, SERIES["mrr"].unit), (ax_a, arr.unit)):
        _format_axis(ax.yaxis, unit)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", frameon=False)
    ax_a.set_xlabel(_DAY_LABEL)
    _x_days(ax_a, result.horizon)
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
        ax.set_xlabel(f"{unit} (mean, whiskers: 95% CI)")
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
    fig.suptitle(f"{result.scenario.name}: funnel ({_mean_label(result.n)})")
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
                 f"{_mean_label(result.n)}", loc="left", fontsize=13)
    fig.suptitle(f"{result.scenario.name}: cohort retention")
    return fig


def run_charts(result: Any) -> dict[str, Figure]:
    """The charts of a run, by file stem: growth, mrr, funnel, cohorts."""
    return {"growth": growth(result), "mrr": mrr(result), "funnel": funnel(result),
            "cohorts": cohort_heatmap(result)}


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


@_styled
def comparison_overlay(cmp: Any, series: Sequence[str] = ("active_users", "mrr")) -> Figure:
    """Each scenario's mean line and percentile band, one panel per daily series."""
    series = tuple(series)
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
        from flywheel.scenario import toml_value

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


# -- writing --------------------------------------------------------------------------------

def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def save(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Write the figure as a PNG at ``dpi`` (150) with a tight bounding box, atomically
    (a temporary file beside it, then renamed into place)."""
    from flywheel.results import write_file

    return write_file(path, png_bytes(fig, dpi))
