"""What goes in each kind of results folder: a run's, a comparison's, a sweep's and a
sensitivity's and a validation suite's files, charts and report, written through
:func:`flywheel.outputs.files.write_folder` (atomically, never over anything but an older
folder of Flywheel's, with ``force``)."""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING

from flywheel.outputs.files import (
    default_out_dir,
    write_csv,
    write_folder,
    write_json,
)
from flywheel.scenario.files import Scenario, toml_value
from flywheel.studies.comparisons import COMPARISON_COLUMNS, Comparison, Sweep, scenario_file
from flywheel.studies.runner import RunResult
from flywheel.studies.sensitivity import SENSITIVITY_COLUMNS, Sensitivity, pct

if TYPE_CHECKING:  # the validation study loads scipy.stats: only when a suite is written
    from flywheel.studies.calibrate import Calibration
    from flywheel.studies.diagnose import Diagnosis
    from flywheel.studies.journey import Journey
    from flywheel.studies.validation import Suite


def write_results(result: RunResult, out: Path | str, force: bool = False,
                  charts: bool = True, unique: bool = False,
                  executor: Executor | None = None) -> Path:
    """Write scenario.toml, summary.json, timeseries.csv, funnel.csv, cohorts.csv and (with
    ``charts``) the PNG charts and a self-contained report.html to ``out`` (see
    :func:`write_folder` for ``force`` and ``unique``); return the folder written.
    ``executor`` (e.g. the pool that ran the replications) draws the charts in parallel."""

    def fill(tmp: Path) -> None:
        collect = None
        if charts:
            from flywheel.outputs import plots, report

            # the charts are drawn first (in the pool's workers, side by side, when there is
            # one) while this process writes the tables; each is drawn once, written as a
            # PNG and embedded in the report
            collect = plots.start_render(plots.run_chart_jobs(result), executor)
        _write_scenario(tmp / "scenario.toml", result.scenario,
                        f"seed = {result.seed}, replications = {result.n}")
        write_json(tmp / "summary.json", result.summary())
        write_csv(tmp / "timeseries.csv", result.timeseries_header(), result.timeseries_rows())
        write_csv(tmp / "funnel.csv", result.funnel_header(), result.funnel_rows())
        write_csv(tmp / "cohorts.csv", result.cohort_header(), result.cohort_rows())
        if collect is not None:
            pngs = collect()
            for name, png in pngs.items():
                (tmp / f"{name}.png").write_bytes(png)
            (tmp / "report.html").write_text(report.run_report(result, pngs), encoding="utf-8")

    return write_folder(out, force, fill, unique=unique, kind="run")


# -- results folders -------------------------------------------------------------------


def _write_scenario(path: Path, scenario: Scenario, *notes: str,
                    before_moves: bool = False) -> None:
    """A resolved scenario file: a header saying Flywheel wrote it, every parameter as run
    (``before_moves``: before a study's moves), then ``notes`` (a line each), then
    :meth:`Scenario.to_toml`."""
    as_run = "every parameter, as run" + (", before any move" if before_moves else "")
    head = f"# Resolved scenario written by flywheel: {as_run}\n" + "".join(
        f"# {note}\n" for note in notes)
    path.write_text(head + scenario.to_toml(), encoding="utf-8")


def _write_rows(path: Path, rows: list[dict[str, object]], header: list[str]) -> None:
    write_csv(path, header, ([row[h] for h in header] for row in rows))


def default_compare_dir(name: str) -> Path:
    """``results/compare-<name>-<YYYYmmdd-HHMMSS>``."""
    return default_out_dir(f"compare-{name}")


def default_sweep_dir(name: str) -> Path:
    """``results/sweep-<name>-<YYYYmmdd-HHMMSS>``."""
    return default_out_dir(f"sweep-{name}")




def write_comparison(comparison: Comparison, out: Path | str, force: bool = False,
                     charts: bool = True, unique: bool = False,
                     executor: Executor | None = None) -> Path:
    """Write summary.json, comparison.csv, each scenario-<i>-<name>.toml and (with
    ``charts``) PNG charts and a self-contained report.html to ``out``."""

    def fill(tmp: Path) -> None:
        write_json(tmp / "summary.json", comparison.summary())
        _write_rows(tmp / "comparison.csv", comparison.rows(), COMPARISON_COLUMNS)
        for i, (sc, label) in enumerate(zip(comparison.scenarios, comparison.labels, strict=True)):
            role = "the reference" if i == 0 else f"compared against {comparison.labels[0]}"
            _write_scenario(tmp / scenario_file(i, sc.name), sc,
                            f"comparison {comparison.name}, scenario {i} ({label}, {role})",
                            f"seed = {comparison.seed}, replications = {comparison.replications}")
        if charts:
            from flywheel.outputs import plots, report  # matplotlib only when charts are asked for

            # each chart is rendered once (side by side in ``executor``'s workers): written
            # as a PNG and embedded in the report
            jobs = {"overlay": (plots.comparison_overlay, (comparison,))}
            jobs.update({m: (plots.comparison_bars, (comparison, m)) for m in comparison.metrics})
            pngs = plots.render(jobs, executor)
            for name, png in pngs.items():
                (tmp / f"{name}.png").write_bytes(png)
            (tmp / "report.html").write_text(report.comparison_report(comparison, pngs),
                                             encoding="utf-8")

    return write_folder(out, force, fill, unique=unique, kind="comparison")


def write_sweep(result: Sweep, out: Path | str, force: bool = False,
                charts: bool = True, unique: bool = False,
                executor: Executor | None = None) -> Path:
    """Write summary.json, sweep.csv, each point's scenario-<i>-<name>.toml and (with
    ``charts``) a PNG curve per metric and a self-contained report.html to ``out``."""
    keys = [k for k, _ in result.axes]
    header = ["point", *keys, "metric", "label", "unit", "mean", "ci95_lo", "ci95_hi"]

    def fill(tmp: Path) -> None:
        write_json(tmp / "summary.json", result.summary())
        _write_rows(tmp / "sweep.csv", result.rows(), header)
        for i, (point, sc) in enumerate(zip(result.points, (r.scenario for r in result.results), strict=True)):
            where = ", ".join(f"{k} = {toml_value(v)}" for k, v in point.items())
            _write_scenario(tmp / scenario_file(i, sc.name), sc,
                            f"sweep of {result.base.name}, point {i}: {where}",
                            f"seed = {result.seed}, replications = {result.replications}")
        if charts:
            from flywheel.outputs import plots, report  # matplotlib only when charts are asked for

            # each curve is rendered once (side by side in ``executor``'s workers): written
            # as a PNG and embedded in the report
            jobs = {m: (plots.sweep_curves, (result, m)) for m in result.metrics}
            if result.price_axis:  # demand and revenue against the price swept
                jobs[report.PRICE_CHART] = (plots.price_curves, (result,))
            pngs = plots.render(jobs, executor)
            for name, png in pngs.items():
                (tmp / f"{name}.png").write_bytes(png)
            (tmp / "report.html").write_text(report.sweep_report(result, pngs=pngs),
                                             encoding="utf-8")

    return write_folder(out, force, fill, unique=unique, kind="sweep")


# -- results folder -----------------------------------------------------------------------



def default_sensitivity_dir(name: str) -> Path:
    """``results/sensitivity-<name>-<YYYYmmdd-HHMMSS>``."""
    return default_out_dir(f"sensitivity-{name}")


def write_sensitivity(result: Sensitivity, out: Path | str, force: bool = False,
                      charts: bool = True, unique: bool = False) -> Path:
    """Write sensitivity.csv, summary.json, scenario.toml (the scenario as run, before any
    move) and (with ``charts``) tornado.png and a self-contained report.html to ``out``,
    atomically; an existing ``out`` is replaced only with ``force``."""

    def fill(tmp: Path) -> None:
        write_json(tmp / "summary.json", result.summary())
        _write_rows(tmp / "sensitivity.csv", result.rows(), SENSITIVITY_COLUMNS)
        _write_scenario(tmp / "scenario.toml", result.scenario,
                        f"sensitivity of {result.target} to ±{pct(result.delta)} moves; "
                        f"seed = {result.seed}, replications = {result.replications}",
                        before_moves=True)
        if charts:
            from flywheel.outputs import plots, report  # matplotlib only when charts are asked for

            png = plots.png_bytes(plots.tornado(result))
            (tmp / "tornado.png").write_bytes(png)
            (tmp / "report.html").write_text(report.sensitivity_report(result, {"tornado": png}),
                                             encoding="utf-8")

    return write_folder(out, force, fill, unique=unique, kind="sensitivity")


def write_suite(suite: Suite, out: Path | str, force: bool = False,
                unique: bool = False) -> Path:
    """Write ``validation.md``, ``report.html``, the PNGs and ``checks.json`` to the folder
    ``out``, atomically; an existing folder is replaced only with ``force``."""
    from flywheel.outputs import report, validation_report

    def fill(tmp: Path) -> None:
        pngs = validation_report.suite_charts(suite)
        for name, png in pngs.items():
            (tmp / f"{name}.png").write_bytes(png)
        (tmp / "validation.md").write_text(
            validation_report.suite_markdown(suite, generated_by="flywheel validate --suite"), encoding="utf-8")
        (tmp / "report.html").write_text(report.validation_report(suite, pngs), encoding="utf-8")
        write_json(tmp / "checks.json", suite.to_json())

    return write_folder(out, force, fill, unique=unique, kind="validation")


def default_trace_dir(name: str) -> Path:
    """``results/trace-<name>-<YYYYmmdd-HHMMSS>``."""
    return default_out_dir(f"trace-{name}")


def write_trace(journey: Journey, out: Path | str, force: bool = False, charts: bool = True,
                unique: bool = False) -> Path:
    """Write one company's journey to ``out``: story.txt (the story as printed),
    events.csv (its entries of the event log, each with the story line that tells it),
    people.csv, scenario.toml (the scenario as run, with seed, replication and company)
    and (with ``charts``) timeline.png and a self-contained report.html, atomically; an
    existing ``out`` is replaced only with ``force``."""
    from flywheel.outputs import journey as words

    def fill(tmp: Path) -> None:
        lines = words.story_lines(journey)
        (tmp / "story.txt").write_text(words.story_text(journey), encoding="utf-8")
        write_csv(tmp / "events.csv", words.EVENT_HEADER, words.event_rows(journey, lines))
        write_csv(tmp / "people.csv", words.PEOPLE_HEADER, words.people_rows(journey))
        _write_scenario(tmp / "scenario.toml", journey.scenario,
                        f"trace of company {journey.company}, replication "
                        f"{journey.replication}, seed = {journey.seed}")
        if charts:
            from flywheel.outputs import plots, report  # matplotlib only when charts are asked for

            png = plots.png_bytes(plots.journey_timeline(journey))
            (tmp / "timeline.png").write_bytes(png)
            (tmp / "report.html").write_text(report.trace_report(journey, png), encoding="utf-8")

    return write_folder(out, force, fill, unique=unique, kind="trace")


def default_diagnose_dir(name: str) -> Path:
    """``results/diagnose-<name>-<YYYYmmdd-HHMMSS>``."""
    return default_out_dir(f"diagnose-{name}")


def write_diagnosis(result: Diagnosis, out: Path | str, force: bool = False,
                    charts: bool = True, unique: bool = False) -> Path:
    """Write summary.json, diagnosis.csv, scenario.toml (the scenario as run, before any
    move) and (with ``charts``) arr_gained.png and a self-contained report.html to
    ``out``, atomically; an existing ``out`` is replaced only with ``force``."""
    from flywheel.studies.diagnose import DIAGNOSIS_COLUMNS

    def fill(tmp: Path) -> None:
        write_json(tmp / "summary.json", result.summary())
        _write_rows(tmp / "diagnosis.csv", result.rows(), DIAGNOSIS_COLUMNS)
        _write_scenario(tmp / "scenario.toml", result.scenario,
                        f"diagnosis; seed = {result.seed}, replications = {result.replications}",
                        before_moves=True)
        if charts:
            from flywheel.outputs import diagnosis, plots  # matplotlib only for charts

            png = plots.png_bytes(diagnosis.arr_chart(result))
            (tmp / f"{diagnosis.CHART}.png").write_bytes(png)
            (tmp / "report.html").write_text(
                diagnosis.diagnosis_report(result, {diagnosis.CHART: png}), encoding="utf-8")

    return write_folder(out, force, fill, unique=unique, kind="diagnosis")


def default_calibrate_dir(name: str) -> Path:
    """``results/calibrate-<name>-<YYYYmmdd-HHMMSS>``."""
    return default_out_dir(f"calibrate-{name}")


def write_calibration(cal: Calibration, out: Path | str, force: bool = False,
                      unique: bool = False) -> Path:
    """Write calibrated.toml (extends the base, sets only the fitted keys), fit.json,
    weekly.csv (each series observed beside the model's mean and 5-95% band) and
    report.html to ``out``, atomically; an existing ``out`` is replaced only with
    ``force``."""
    from flywheel.outputs import calibration

    out = Path(out)

    def fill(tmp: Path) -> None:
        (tmp / "calibrated.toml").write_text(
            cal.calibrated_toml(calibration.extends_path(cal, out)), encoding="utf-8")
        write_json(tmp / "fit.json", cal.fit_json())
        write_csv(tmp / "weekly.csv", *calibration.weekly_table(cal))
        (tmp / "report.html").write_text(calibration.report(cal), encoding="utf-8")

    return write_folder(out, force, fill, unique=unique, kind="calibration")
