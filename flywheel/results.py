"""Writing a run's results folder, atomically and never over an older one by accident.

The folder is first written in full under a hidden temporary name beside its
destination, then renamed into place in one step: a reader never sees half a
result, and a crash leaves no partial folder under the real name.  An existing
folder is replaced only when asked (``force``), and then only once the new one
is complete.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from flywheel.runner import RunResult


class ResultsExistError(FileExistsError):
    """The output folder exists and overwriting was not asked for."""


def default_out_dir(scenario_name: str, root: Path | str = "results",
                    now: datetime | None = None) -> Path:
    """``results/<scenario>-<YYYYmmdd-HHMMSS>``."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{scenario_name}-{stamp}"


def _clean(x: Any) -> Any:
    """JSON has no NaN: missing values are written as null."""
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _csv(path: Path, header: list[str], rows: Any) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if isinstance(v, float) and math.isnan(v) else
                        (f"{v:.10g}" if isinstance(v, float) else v) for v in row])


def check_out(out: Path | str, force: bool) -> None:
    """Refuse an existing results folder unless ``force``: checked again at writing, and
    by the CLI before it simulates, so nobody waits for a run it will not save."""
    if Path(out).exists() and not force:
        raise ResultsExistError(
            f"{out} already exists; choose another --out or pass --force to replace it")


def write_file(path: Path | str, data: bytes) -> Path:
    """Write one file atomically: a temporary file in the same folder, then
    :func:`os.replace`, so a reader never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for reading
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_folder(out: Path | str, force: bool, fill: Callable[[Path], None]) -> Path:
    """Write a results folder through ``fill(tmp)`` under a hidden temporary name beside
    ``out``, then rename it into place in one step; refuse an existing ``out`` unless
    ``force``, and then swap the complete new folder in before dropping the old one."""
    out = Path(out)
    check_out(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; results are for reading
    try:
        fill(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_results(result: RunResult, out: Path | str, force: bool = False,
                  charts: bool = True) -> Path:
    """Write scenario.toml, summary.json, timeseries.csv, funnel.csv, cohorts.csv and (with
    ``charts``) the PNG charts and a self-contained report.html to ``out``."""

    def fill(tmp: Path) -> None:
        header = (f"# Resolved scenario written by flywheel: every parameter, as run\n"
                  f"# seed = {result.seed}, replications = {result.n}\n")
        (tmp / "scenario.toml").write_text(header + result.scenario.to_toml())
        (tmp / "summary.json").write_text(
            json.dumps(_clean(result.summary()), indent=2, allow_nan=False) + "\n")
        _csv(tmp / "timeseries.csv", result.timeseries_header(), result.timeseries_rows())
        _csv(tmp / "funnel.csv", ["stage", "label", "unit", "mean", "ci95_lo", "ci95_hi",
                                  "share_of_previous"], result.funnel_rows())
        _csv(tmp / "cohorts.csv", ["replication", "cohort_week", "weeks_since_signup",
                                   "signups", "active", "share_active"], result.cohort_rows())
        if charts:
            from flywheel import plots, report  # matplotlib only when charts are asked for

            # each chart is rendered once: written as a PNG and embedded in the report
            pngs = {name: plots.png_bytes(fig) for name, fig in plots.run_charts(result).items()}
            for name, png in pngs.items():
                (tmp / f"{name}.png").write_bytes(png)
            (tmp / "report.html").write_text(report.run_report(result, pngs), encoding="utf-8")

    return write_folder(out, force, fill)
