"""The chart and the HTML report of a diagnosis (:mod:`flywheel.studies.diagnose`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from flywheel.metrics import METRICS, format_value
from flywheel.outputs import plots
from flywheel.outputs.report import _document, _img, _list, _section, _table
from flywheel.studies.diagnose import CONSTRAINT, Diagnosis, _horizon_text, figure_text
from flywheel.version import __version__

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The chart's name (``arr_gained.png``, the key of ``pngs``).
CHART = "arr_gained"


def arr_chart(d: Diagnosis) -> Figure:
    """ARR gained at the horizon when each link moves to its good value: one bar per
    link short of good, largest on top, with 95% CI whiskers of the paired change."""
    from matplotlib.figure import Figure

    rows = d.constraints
    fig = Figure(figsize=(10, 1.8 + 0.7 * max(len(rows), 1)), layout="constrained")
    ax = fig.subplots()
    ax.grid(axis="y", visible=False)
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        m, lo, hi = r.arr
        color = plots.COLORS[0] if r.reached else plots.COLORS[1]
        ax.barh(y, m, height=0.55, color=color, alpha=0.9)
        if not (math.isnan(lo) or math.isnan(hi)):
            ax.errorbar(m, y, xerr=[[max(m - lo, 0.0)], [max(hi - m, 0.0)]], fmt="none",
                        ecolor="#333333", elinewidth=1.4, capsize=4)
        ax.annotate(("+" if m >= 0 else "−") + format_value(abs(m), "$ per year"),
                    (max(hi if not math.isnan(hi) else m, 0.0), y), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=10)
    labels = [f"{r.name}\n{figure_text(r.benchmark.metric, r.measured.mean)} → "
              f"{figure_text(r.benchmark.metric, r.benchmark.good)}" for r in rows]
    ax.set_yticks(range(len(rows) - 1, -1, -1), labels, fontsize=10)
    ax.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    ax.axvline(0, color="#333333", linewidth=1.2)
    ax.set_xlabel("ARR gained at the horizon, $ per year (paired, 95% CI)")
    ax.set_title(f"{d.name}: ARR gained by moving each link to its good value", loc="left",
                 fontsize=13)
    return fig


def diagnosis_report(d: Diagnosis, pngs: Mapping[str, bytes] | None = None) -> str:
    """The self-contained HTML report of a diagnosis."""
    chart = (pngs or {}).get(CHART) or plots.png_bytes(arr_chart(d))
    question = (f"Which link of {d.name}'s value chain holds growth back: what would moving "
                "each link to its published good value add to ARR and active users at the "
                f"horizon ({_horizon_text(d.horizon)})?")
    setup = [
        f"The scenario and each moved copy: {d.replications} replications each, all with seed "
        f"{d.seed} (common random numbers), so each gain is a paired difference with a 95% CI.",
        "A link short of good is moved by the parameters that drive its figure; a link at or "
        "better than good is not moved.",
        "Runs: " + ", ".join(f"{v} {'simulation runs' if k == 'des' else 'mean-field twin evaluations'}"
                             for k, v in d.runs.items()) + f"; {d.seconds:.0f} s.",
    ]
    header = ["Rank", "Link", "Figure", "Measured", "Good", "Moved", "Moved copy measures",
              "ARR gained [95% CI]", "Active users gained [95% CI]"]
    rows = []
    for row, r in zip(d.rows(), d.links, strict=True):
        bm = r.benchmark
        if r.status == CONSTRAINT:
            moved = "; ".join(r.set_exprs()) + f" ({r.search.method if r.search else ''})"
            after = figure_text(bm.metric, r.figure_after.mean)
            arr = (f"{format_value(r.arr.mean, '$ per year')} "
                   f"[{format_value(r.arr.lo, '$ per year')}, {format_value(r.arr.hi, '$ per year')}]")
            users = f"{r.users.mean:+,.0f} [{r.users.lo:+,.0f}, {r.users.hi:+,.0f}]"
        else:
            moved, after, arr, users = r.status + (f": {r.reason}" if r.reason else ""), "", "", ""
        rows.append([row["rank"], r.name, METRICS[bm.metric].label,
                     figure_text(bm.metric, r.measured.mean), figure_text(bm.metric, bm.good)
                     if not math.isnan(bm.good) else "", moved, after, arr, users])
    sources = [[r.name, figure_text(r.benchmark.metric, r.benchmark.good)
                if not math.isnan(r.benchmark.good) else "", r.benchmark.published,
                r.benchmark.source, r.benchmark.moves] for r in d.links]
    sections = [
        _section("Findings", _list(d.findings())),
        _section("Setup", _list(setup, cls="setup")),
        _section("ARR gained per link",
                 _img(chart, "ARR gained per link",
                      "ARR gained at the horizon by moving each link to its good value, with "
                      "the 95% CI of the paired difference (orange: the link's lever reached "
                      "its limit before the good value).")),
        _section("Every link", _table(header, rows,
                                      [True, False, False, True, True, False, True, True, True])),
        _section("Good values and their sources",
                 _table(["Link", "Good", "Published", "Source", "What is moved"], sources)),
    ]
    footer = (f"Made by flywheel {__version__}: flywheel diagnose {d.name}, "
              f"{d.replications} replications per run, seed {d.seed}.")
    return _document(f"Diagnosis: {d.name}", str(getattr(d.scenario, "description", "") or ""), question,
                     sections, footer)
