"""What ``flywheel calibrate``'s results hold beyond the data: how the calibrated scenario
names its base, and a report that draws each observed series over the calibrated model's
5–95% band (written by :func:`flywheel.outputs.results.write_calibration`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flywheel.outputs import plots
from flywheel.outputs.report import _document, _img, _list, _section, _table
from flywheel.studies.calibrate import Calibration, _show
from flywheel.studies.observed import COLUMNS
from flywheel.version import __version__


def extends_path(cal: Calibration, out: Path) -> str:
    """How ``calibrated.toml`` in ``out`` names its base: a shipped scenario by its file
    name, a file by its path relative to ``out``."""
    from flywheel.scenario.files import builtin_scenarios_dir

    path = cal.base.path
    if path is None:
        return cal.base.name
    if path.resolve().parent == builtin_scenarios_dir().resolve():
        return path.name
    return os.path.relpath(path.resolve(), Path(out).resolve())


@plots._styled
def chart(cal: Calibration) -> Any:
    """One panel per observed series: the data (points) over the simulation's 5–95% band
    and mean at the estimate, week by week (a Figure of its own: nothing in pyplot)."""
    from matplotlib.figure import Figure

    names = list(cal.observed.series)
    fig = Figure(figsize=(8, 2.4 * len(names)), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)
    weeks = cal.observed.weeks
    for ax, name in zip(axes[:, 0], names, strict=True):
        band = cal.bands.get(name)
        if band is not None:
            ax.fill_between(weeks, band["lo"], band["hi"], color=plots._color(0), alpha=0.25,
                            label="simulation at the estimate, 5-95%")
            ax.plot(weeks, band["mean"], color=plots._color(0), lw=1.2, label="its mean")
        data = cal.observed.series[name]
        ax.plot(weeks, data, "o", ms=3, color="black", label="your data")
        col = COLUMNS[name]
        ax.set_ylabel(f"{name}\n[{col.unit}{' a week' if col.flow else ''}]")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("week")
    return fig


def report(cal: Calibration) -> str:
    rows = []
    for f in cal.parameters:
        lo, hi = f.ci95
        rows.append([f.knob.key, _show(f.knob, f.start), _show(f.knob, f.estimate),
                     f"{_show(f.knob, lo)} to {_show(f.knob, hi)}",
                     "yes" if f.identified else f"no: {f.note}"])
    series_rows = [[n, f"{c['rmse']:.3g}", f"{c['coverage']:.0%}"]
                   for n, c in cal.series_check.items()]
    sections = [
        _section("Findings", _list(cal.findings())),
        _section("Fitted parameters",
                 _table(["parameter", "base", "estimate", "95% interval", "identified"], rows)),
        _section("The data against the calibrated model",
                 _img(chart(cal), "Observed series over the calibrated model's band",
                      "Each series you gave (points) over the simulation at the estimate: "
                      "the band holds 90% of the replications week by week."),
                 _table(["series", "RMS error a week", "weeks inside the band"], series_rows)),
    ]
    return _document(f"Flywheel calibration: {cal.base.name} on {Path(cal.observed.file).name}",
                     cal.calibrated.description,
                     "Which settings of the scenario reproduce these weekly numbers, and how "
                     "sure is each?", sections,
                     f"Made by flywheel {__version__}: {cal.twin_solves} solves of the "
                     f"mean-field twin in {cal.seconds:.0f} s, then the simulation at the "
                     "estimate.")


def weekly_table(cal: Calibration) -> tuple[list[str], list[list[float]]]:
    """``weekly.csv``: the week, then each observed series beside the simulation's mean and
    5th and 95th percentiles at the estimate."""
    header = ["week"]
    columns: list[object] = [cal.observed.weeks]
    for name, band in cal.bands.items():
        header += [f"{name}_observed", f"{name}_model_mean", f"{name}_model_p5",
                   f"{name}_model_p95"]
        columns += [cal.observed.series[name], band["mean"], band["lo"], band["hi"]]
    rows = [[float(c[i]) for c in columns] for i in range(len(cal.observed.weeks))]  # type: ignore[index]
    return header, rows
