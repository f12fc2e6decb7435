"""The ``flywheel`` command line."""

from __future__ import annotations

import functools
import math
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from flywheel.engines import EngineError
from flywheel.metrics import METRICS, check_claims, format_difference, format_value
from flywheel.outputs.files import (
    OutputError,
    ResultsExistError,
    check_out,
    default_out_dir,
    is_ours,
)
from flywheel.outputs.results import (
    default_compare_dir,
    default_sensitivity_dir,
    default_sweep_dir,
    default_trace_dir,
    write_comparison,
    write_results,
    write_sensitivity,
    write_suite,
    write_sweep,
    write_trace,
)
from flywheel.scenario.distributions import DistributionError
from flywheel.scenario.files import ScenarioError, format_resolved, list_scenarios, load_scenario
from flywheel.scenario.overview import comparison_overview, overview, overview_text
from flywheel.scenario.starter import CHARGES, KINDS, MOTIONS, Answers, starter_toml
from flywheel.scenario.units import UnitError, parse_duration
from flywheel.studies import workload
from flywheel.studies.journey import OUTCOMES, JourneyError
from flywheel.studies.runner import (
    RunResult,
    claims_file,
    default_jobs,
    simulate,
    simulate_twin,
    worker_pool,
)
from flywheel.studies.workload import WorkloadError
from flywheel.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

#: Errors a user can cause by what they typed or wrote, or by where they asked for the
#: results: one line on stderr, exit 2.
USER_ERRORS = (ScenarioError, UnitError, DistributionError, ResultsExistError, OutputError,
               WorkloadError, EngineError, JourneyError)
#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def user_errors(fn: F) -> F:
    """Report bad input as one clear line and exit with status 2, without a traceback;
    Ctrl-C as one line and status 130 (results are written whole or not at all)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: stopped, no results were written", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _one_line(exc: BaseException) -> str:
    """An error's message on one line (a value with a line break is shown escaped)."""
    return " ".join(str(exc).replace("\r", "\\r").split("\n"))


def _guard(scenarios: Sequence[Any], replications: int, jobs: int, allow_large: bool,
           runs: int = 1) -> None:
    """Estimate the work before anything runs: refuse what would exhaust memory or run
    for hours (unless --allow-large); announce a large run's estimate."""
    estimates = [workload.check(sc, replications, jobs, allow_large=allow_large)
                 for sc in scenarios]
    seconds = runs * sum(e.total_seconds(replications, jobs) for e in estimates)
    if seconds > workload.LARGE_SECONDS:
        biggest = max(estimates, key=lambda e: e.seconds)
        click.echo(f"Estimate: {biggest.describe(replications, jobs)}"
                   + (f"; ~{workload.format_seconds(seconds)} for all {len(scenarios) * runs} "
                      "runs" if len(scenarios) * runs > 1 else ""), err=True)


def headline_table(result: RunResult, names: Sequence[str] | None = None) -> str:
    """Mean and 95% CI of the headline metrics (``names``, default the run's own:
    :attr:`RunResult.headline`), one line each; a metric with no value says why instead
    of its CI (``Net revenue retention  -  (run shorter than two months: ...)``)."""
    rows, reasons = [], {}
    for name in names or result.headline:
        meta = METRICS[name]
        mean, lo, hi = result.mean_ci(name)
        lo, hi = meta.clamp(lo, hi)  # a t-interval of few replications may reach past 0 or 1
        ci = "" if math.isnan(lo) else f"[{format_value(lo, meta.unit)}, {format_value(hi, meta.unit)}]"
        rows.append((meta.label, format_value(mean, meta.unit), ci, meta.unit))
        if math.isnan(mean) and result.reason(name):
            reasons[len(rows) - 1] = result.reason(name)
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    head = f"{'metric':<{w[0]}}  {'mean':>{w[1]}}  {'95% CI':<{w[2]}}  unit"
    lines = [head, "-" * len(head)]
    lines += [f"{a:<{w[0]}}  {b:>{w[1]}}  ({reasons[i]})" if i in reasons else
              f"{a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {d}"
              for i, (a, b, c, d) in enumerate(rows)]
    return "\n".join(lines)


def _progress(total: int, quiet: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rep", disable=quiet or not sys.stderr.isatty(),
                file=sys.stderr, leave=False)


def run_options(each: str, where: str, out: str, metrics: bool = False) -> Callable[[F], F]:
    """The options run, compare and sweep share; ``each`` says what a replication count
    applies to, ``where`` what --set changes, ``out`` the default results folder."""
    options = [
        click.option("-n", "--replications", type=click.IntRange(min=1), default=None,
                     help=f"Monte Carlo replications {each}."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Root seed; same scenario + same seed gives identical results."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Worker processes [default: all cores]."),
        click.option("--horizon", default=None, metavar="DURATION",
                     help='How long to simulate, e.g. "6mo", "2y".'),
        click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
                     help=f"Override one parameter{' ' + where if where else ''}, e.g. --set "
                          "onboarding.ttv.median=10min (repeatable)."),
        *([click.option("-m", "--metric", "metrics", multiple=True, metavar="NAME",
                        help="A metric to show (repeatable) [default: the headline].")]
          if metrics else []),
        click.option("--out", type=click.Path(path_type=Path), default=None,
                     help=f"Results folder [default: {out}]."),
        click.option("--force", is_flag=True,
                     help="Replace the results folder if it exists (only a folder Flywheel "
                          "wrote, holding nothing else)."),
        click.option("--allow-large", is_flag=True,
                     help="Run even when the work estimate is above the limits (memory per "
                          "worker, total time)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]

    def decorate(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flywheel")
def main() -> None:
    """Flywheel: a growth-flywheel simulator for product-led growth.

    A scenario file describes a product's go-to-market; a discrete-event model
    plays out every user and team; Monte Carlo replications give uncertainty
    bands.  Start with `flywheel run` (the built-in baseline) or `flywheel list`.
    """


@main.command()
@click.argument("scenario", required=False, default="baseline")
@run_options("[default: the scenario's, 20]", "", "results/<scenario>-<timestamp>")
@click.option("--engine", type=click.Choice(["des", "meanfield"]), default="des",
              show_default=True,
              help="des: the simulation, Monte Carlo replications with 95% CIs; meanfield: "
                   "the deterministic mean-field twin, in under a second, no CIs (flywheel "
                   "validate SCENARIO lists what it approximates).")
@user_errors
def run(scenario: str, replications: int | None, seed: int | None, jobs: int | None,
        horizon: str | None, sets: tuple[str, ...], out: Path | None, force: bool,
        allow_large: bool, quiet: bool, engine: str) -> None:
    """Run SCENARIO (a .toml file or a shipped scenario's name; default: baseline)."""
    if engine == "meanfield":
        _run_meanfield(scenario, replications, seed, jobs, horizon, sets, out, force)
        return
    overrides = _common_overrides(sets, horizon)
    if replications is not None:
        overrides.append(f"simulation.replications={replications}")
    if seed is not None:
        overrides.append(f"simulation.seed={seed}")
    sc = load_scenario(scenario, overrides)
    out_dir = out or default_out_dir(sc.name)
    check_out(out_dir, force, unique=out is None)
    n = int(sc["simulation.replications"])
    j = jobs or default_jobs()
    _guard([sc], n, min(j, n), allow_large)
    click.echo(f"Running {sc.name}: {n} replications, seed {sc['simulation.seed']}, "
               f"{j} job{'s' if j > 1 else ''}", err=True)
    # one pool runs the replications, then draws the charts side by side
    with worker_pool(j, n) as pool:
        with _progress(n, quiet, sc.name) as bar:
            result = simulate(sc, jobs=j, progress=bar.update, executor=pool)
        path = write_results(result, out_dir, force=force, unique=out is None, executor=pool)
    click.echo(headline_table(result))
    if sc.claims:
        from flywheel.outputs.report import claims_text

        click.echo("\n" + claims_text(result))
    click.echo("\n" + overview_text(overview(sc)))
    click.echo(f"\nResults in {path}/")


def _run_meanfield(scenario: str, replications: int | None, seed: int | None,
                   jobs: int | None, horizon: str | None, sets: tuple[str, ...],
                   out: Path | None, force: bool) -> None:
    """``flywheel run --engine meanfield``: one deterministic run of the twin."""
    from flywheel.engines import meanfield

    given = [name for name, value in (("-n/--replications", replications), ("--seed", seed),
                                      ("-j/--jobs", jobs)) if value is not None]
    if given:
        raise click.UsageError(f"{', '.join(given)}: only with --engine des (the mean-field "
                               "twin is deterministic: one run, no replications)")
    sc = load_scenario(scenario, _common_overrides(sets, horizon))
    out_dir = out or default_out_dir(sc.name)
    check_out(out_dir, force, unique=out is None)
    click.echo(f"Running {sc.name} with the mean-field twin (deterministic, no "
               f"replications)", err=True)
    for line in meanfield.unsupported(sc):
        click.echo(f"warning: the mean-field twin does not represent {line}", err=True)
    result = simulate_twin(sc)
    path = write_results(result, out_dir, force=force, unique=out is None)
    click.echo(headline_table(result))
    if sc.claims:
        from flywheel.outputs.report import claims_text

        click.echo("\n" + claims_text(result))
    click.echo("\n" + overview_text(overview(sc)))
    click.echo("\nEngine: mean-field twin. Its values are deterministic (no 95% CIs); "
               f"`flywheel validate {scenario}` lists what it approximates.")
    if result.unavailable:
        click.echo("Not reported by the twin for this scenario (shown as -): "
                   + ", ".join(result.unavailable))
    click.echo(f"\nResults in {path}/")


@main.command()
@click.argument("files", nargs=-1)
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override one parameter before validating FILES (repeatable).")
@click.option("--suite", is_flag=True,
              help="Run the validation suite instead: every closed-form check and the "
                   "published ranges; exit status 1 if a closed-form check fails.")
@click.option("--check", "checks", multiple=True, metavar="NAME",
              help="With --suite: run only this check (repeatable; \"bands\" for the "
                   "published ranges).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="With --suite: results folder [default: results/validation-<timestamp>].")
@click.option("--force", is_flag=True,
              help="With --suite: replace the results folder if it exists.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="With --suite: worker processes [default: all cores].")
@click.option("-q", "--quiet", is_flag=True, help="With --suite: no progress bar.")
def validate(files: tuple[str, ...], sets: tuple[str, ...], suite: bool,
             checks: tuple[str, ...], out: Path | None, force: bool, jobs: int | None,
             quiet: bool) -> None:
    """Check scenario FILES (or comparison files, with each of their scenarios) and print
    each resolved scenario, or the errors.

    With --suite, run the validation suite instead: the model against every
    closed form it must reproduce (Bass diffusion, branching, viral growth rate,
    retention...), each with its analytic value, simulated mean and 95% CI,
    tolerance and PASS/FAIL, and the shipped scenarios' measured figures beside
    the published ranges.  Writes validation.md, report.html, the charts and
    checks.json to a results folder (docs/validation.md is the latest).
    """
    if suite:
        if files or sets:
            raise click.UsageError("--suite runs on its own: give scenario FILES (with --set) "
                                   "or --suite, not both")
        _validation_suite(checks, out, force, jobs, quiet)
        return
    if not files:
        raise click.UsageError("give scenario FILES to check, or --suite to run the "
                               "validation suite")
    suite_only = [name for name, given in (("--check", checks), ("--out", out),
                                           ("--force", force), ("--jobs", jobs),
                                           ("--quiet", quiet)) if given]
    if suite_only:
        raise click.UsageError(f"{', '.join(suite_only)}: only with --suite")
    from flywheel.studies.comparisons import is_comparison_file, load_comparison

    failed = False
    for f in files:
        try:
            if is_comparison_file(f):
                spec = load_comparison(f, list(sets))
                loaded = list(spec.scenarios)
                click.echo(f"# comparison {spec.name}: {len(loaded)} scenarios ("
                           + ", ".join(sc.name for sc in loaded) + ")"
                           + (f"; question: {spec.question}" if spec.question else "")
                           + (f"; levers: {', '.join(spec.levers)}" if spec.levers else ""))
                line = spec.lever_check().line
                if line:
                    click.echo("\n".join(f"# {ln}" for ln in _wrapped(line).splitlines()))
                click.echo("")
            else:
                loaded = [load_scenario(f, list(sets))]
            for sc in loaded:
                check_claims(sc.claims, claims_file(sc))
        except USER_ERRORS as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            failed = True
            continue
        for sc in loaded:
            click.echo(f"# {sc.name}" + (f": {sc.description}" if sc.description else ""))
            click.echo(format_resolved(sc))
            click.echo(_twin_notes(sc))
            click.echo("")
    if failed:
        sys.exit(2)


def _twin_notes(sc: Any) -> str:
    """What the mean-field twin (``run --engine meanfield``) approximates or leaves out in
    this scenario, as comment lines (the resolved scenario above stays valid TOML)."""
    from flywheel.engines import meanfield

    notes = meanfield.mechanism_notes(sc)
    lines = ["# The mean-field twin (flywheel run --engine meanfield) on this scenario:"]
    if not notes:
        lines.append("#   every mechanism it uses is carried exactly in the mean")
    for status, name, how in notes:
        lines.append(f"#   {status}: {name}: {how}")
    from flywheel.scenario.settings import Settings

    st = Settings.of(sc)
    missing = meanfield.unavailable(sc)
    told: set[str] = set()
    for why, names, applies in (
            ("the sales team is not represented", meanfield.WITHOUT_SALES, st.sales_motion),
            ("the twin counts teams by class, not by age or one by one",
             meanfield.WITHOUT_AGES, True),
            ("a flat plan's bill depends on each team's size", meanfield.WITHOUT_BILLS,
             st.pricing.charge == "flat"),
            ("the second paid tier is not represented", meanfield.WITHOUT_TIERS,
             bool(st.pricing.tiers))):
        listed = [n for n in names if n in missing and n not in told] if applies else []
        told.update(listed)
        if listed:
            lines.append(f"#   not reported (NaN, {why}): " + ", ".join(listed))
    return "\n".join(lines)


@user_errors
def _validation_suite(checks: tuple[str, ...], out: Path | None, force: bool,
                      jobs: int | None, quiet: bool) -> None:
    """``flywheel validate --suite``: run, print the tables, write the folder, exit 1 on a
    failed closed-form check."""
    from flywheel.outputs import validation_report as vr
    from flywheel.studies import validation as v

    known = [*v.CHECKS, v.BANDS]
    for name in checks:
        if name not in known:
            raise click.UsageError(f"--check {name!r} is not a validation check; "
                                   f"allowed: {', '.join(known)}")
    chosen = list(dict.fromkeys(checks)) or None
    out_dir = out or default_out_dir("validation")
    check_out(out_dir, force, unique=out is None)
    j = jobs or default_jobs()
    n_checks = len([c for c in (chosen or v.CHECKS) if c in v.CHECKS])
    click.echo(f"Validation suite: {n_checks} closed-form check{'s' if n_checks != 1 else ''}"
               f"{' and the published ranges' if chosen is None or v.BANDS in chosen else ''}, "
               f"{j} job{'s' if j > 1 else ''}", err=True)
    with _progress(v.suite_size(chosen), quiet, "validate") as bar:
        result = v.run_suite(chosen, jobs=j, progress=bar.update)
    path = write_suite(result, out_dir, force=force, unique=out is None)
    if result.checks:
        click.echo(vr.text_table(vr.CHECK_HEADER, vr.check_rows(result)))
    if result.bands:
        click.echo("\nPublished ranges (reported, never failing the suite):")
        click.echo(vr.text_table(vr.BAND_HEADER, vr.band_rows(result)))
    passed = sum(c.passed for c in result.checks)
    click.echo(f"\n{passed} of {len(result.checks)} closed-form checks pass "
               f"({result.seconds:.0f} s). Results in {path}/")
    if not result.passed:
        sys.exit(1)


@main.command()
@click.argument("scenario", required=False, default="baseline")
@click.option("--company", type=click.IntRange(min=0), default=None, metavar="ID",
              help="Tell this company's story (0: the first company the replication touched) "
                   "[default: the most telling].")
@click.option("--outcome", type=click.Choice(list(OUTCOMES)), default=None,
              help="Tell the most telling story of a company with this outcome: "
                   + "; ".join(f"{k}: {what}" for k, (what, _) in OUTCOMES.items()) + ".")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Root seed [default: the scenario's].")
@click.option("--replication", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which replication (from 1) of a run with that seed: the one `flywheel "
                   "run` plays as its replication of that number.")
@click.option("--horizon", default=None, metavar="DURATION",
              help='How long to simulate, e.g. "6mo", "2y".')
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override one parameter, e.g. --set free_tier.seat_limit=3 (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Results folder [default: results/trace-<scenario>-<timestamp>].")
@click.option("--force", is_flag=True,
              help="Replace the results folder if it exists (only a folder Flywheel wrote, "
                   "holding nothing else).")
@click.option("--allow-large", is_flag=True,
              help="Run even when the work estimate is above the limits.")
@user_errors
def trace(scenario: str, company: int | None, outcome: str | None, seed: int | None,
          replication: int, horizon: str | None, sets: tuple[str, ...], out: Path | None,
          force: bool, allow_large: bool) -> None:
    """Tell one company's journey through SCENARIO as a story, day by day.

    Plays one replication with the event log on and follows one company: who
    signed up and how, when each reached value, whom they invited, the paywall,
    the purchase, who churned, and what it pays at the horizon.  By default the
    most telling company: the one that went furthest along the value chain (value,
    a teammate invited, the paywall, paid, still paying), a team of 3 signups first
    (a founder and the two teammates they invited), the first created.  Prints the story and writes story.txt, a
    report.html with the timeline beside the words, timeline.png, events.csv,
    people.csv and scenario.toml.  Same scenario, seed and replication: the same
    story.
    """
    import shlex

    from flywheel.outputs.journey import story_text
    from flywheel.studies.journey import journey

    if company is not None and outcome is not None:
        raise click.UsageError("give --company or --outcome, not both")
    overrides = _common_overrides(sets, horizon)
    if seed is not None:
        overrides.append(f"simulation.seed={seed}")
    sc = load_scenario(scenario, overrides)
    out_dir = out or default_trace_dir(sc.name)
    check_out(out_dir, force, unique=out is None)
    _guard([sc], 1, 1, allow_large)
    s = int(sc["simulation.seed"])
    click.echo(f"Tracing {sc.name}: replication {replication}, seed {s}", err=True)
    j = journey(sc, replication=replication, company=company, outcome=outcome)
    path = write_trace(j, out_dir, force=force, unique=out is None)
    click.echo(story_text(j), nl=False)
    again = ["flywheel", "trace", scenario, "--seed", str(s), "--replication", str(replication),
             "--company", str(j.company), *(a for x in sets for a in ("--set", x)),
             *(("--horizon", horizon) if horizon is not None else ())]
    click.echo(f"\nThe same story again: {shlex.join(again)}")
    click.echo(f"Story, timeline and events in {path}/")


@main.command("list")
def list_() -> None:
    """List the shipped scenarios and comparisons with their descriptions."""
    from flywheel.scenario.files import builtin_scenarios_dir
    from flywheel.studies.comparisons import load_comparison

    rows = list_scenarios()
    comparisons = [load_comparison(p) for p in sorted(builtin_scenarios_dir().glob("compare-*.toml"))]
    w = max([len(name) for name, _, _ in rows] + [len(c.name) for c in comparisons], default=0)
    click.echo("Scenarios (flywheel run NAME):")
    for name, desc, _ in rows:
        click.echo(f"  {name:<{w}}  {desc}")
    if comparisons:
        click.echo("\nComparisons (flywheel compare NAME):")
        for c in comparisons:
            click.echo(f"  {c.name:<{w}}  {c.description or c.question}")


# -- compare and sweep ---------------------------------------------------------------


def _ci(lo: float, hi: float, fmt: Callable[[float, str], str], unit: str) -> str:
    return "" if math.isnan(lo) else f"[{fmt(lo, unit)}, {fmt(hi, unit)}]"


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int],
             indent: str = "  ") -> list[str]:
    """Rows under a header, columns padded; indexes in ``right`` right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return indent + "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), *(line(r) for r in rows)]


def comparison_table(comp: Any, names: Sequence[str] | None = None) -> str:
    """Each metric: every scenario's mean and 95% CI, and its paired difference from
    the reference with the difference's own 95% CI."""
    from flywheel.scenario.files import toml_value

    labels = comp.labels
    lines = []
    if comp.question:
        lines += [f"Question: {comp.question}", ""]
    lines.append(f"{comp.name}: {len(labels)} scenarios, seed {comp.seed}, "
                 f"{comp.replications} paired replications each; reference: {labels[0]}")
    lines.append(overview_text(comparison_overview(comp.scenarios, labels)))
    diffs = comp.parameter_differences()
    check = comp.lever_check()
    if diffs:
        lines.append("They differ in:")
        for key, values in list(diffs.items())[:12]:
            lines.append(f"  {key}: " + "; ".join(f"{lab} = {toml_value(v)}"
                                                  for lab, v in zip(labels, values, strict=True)))
        if len(diffs) > 12:
            lines.append(f"  ... and {len(diffs) - 12} more (summary.json lists them all)")
    else:
        lines.append("They differ in no parameter.")
    if check.line:
        lines.append(_wrapped(check.line))
    for name in names or comp.metrics:
        meta = METRICS[name]
        rows = []
        for i, result in enumerate(comp.results):
            mean, lo, hi = result.mean_ci(name)
            lo, hi = meta.clamp(lo, hi)
            if i == 0:
                d, dci = "reference", ""
            else:
                dm, dlo, dhi = comp.paired_diff(name, i)
                d, dci = format_difference(dm, meta.unit), _ci(dlo, dhi, format_difference, meta.unit)
            why = result.reason(name) if math.isnan(mean) else ""
            rows.append([labels[i], format_value(mean, meta.unit),
                         f"({why})" if why else _ci(lo, hi, format_value, meta.unit), d, dci])
        lines += ["", f"{meta.label} [{meta.unit}]"]
        lines += _aligned(["scenario", "mean", "95% CI", f"vs {labels[0]}", "95% CI (paired)"],
                          rows, right={1, 3})
    return "\n".join(lines)


def _wrapped(text: str, width: int = 92) -> str:
    """A paragraph for the terminal, broken between words (paths and patterns whole)."""
    return "\n".join(textwrap.wrap(text, width, subsequent_indent="  ",
                                    break_long_words=False, break_on_hyphens=False))


def sweep_table(result: Any, names: Sequence[str] | None = None) -> str:
    """Each metric: its mean and 95% CI at every point of the sweep."""
    from flywheel.scenario.files import toml_value

    keys = [k for k, _ in result.axes]
    shape = " x ".join(str(n) for n in result.shape)
    lines = [f"sweep of {result.base.name}: {shape} points, seed {result.seed}, "
             f"{result.replications} replications each"]
    for name in names or result.metrics:
        meta = METRICS[name]
        rows = []
        for point, run in zip(result.points, result.results, strict=True):
            mean, lo, hi = run.mean_ci(name)
            lo, hi = meta.clamp(lo, hi)
            why = run.reason(name) if math.isnan(mean) else ""
            rows.append([*(v if isinstance(v, str) else toml_value(v) for v in point.values()),
                         format_value(mean, meta.unit),
                         f"({why})" if why else _ci(lo, hi, format_value, meta.unit)])
        lines += ["", f"{meta.label} [{meta.unit}]"]
        lines += _aligned([*keys, "mean", "95% CI"], rows, right={len(keys)})
    return "\n".join(lines)


def _common_overrides(sets: tuple[str, ...], horizon: str | None) -> list[str]:
    """``--set`` overrides plus ``--horizon`` (checked here, so its error names it)."""
    overrides = list(sets)
    if horizon is not None:
        try:
            parse_duration(horizon)
        except UnitError as exc:
            raise ScenarioError(str(exc), file="--horizon", key="simulation.horizon",
                                value=horizon) from None
        overrides.append(f"simulation.horizon={horizon}")
    return overrides


@main.command()
@click.argument("scenarios", nargs=-1, required=True)
@run_options("of each scenario [default: the first's]", "in every scenario",
             "results/compare-<name>-<timestamp>", metrics=True)
@user_errors
def compare(scenarios: tuple[str, ...], replications: int | None, seed: int | None,
            jobs: int | None, horizon: str | None, sets: tuple[str, ...],
            metrics: tuple[str, ...], out: Path | None, force: bool, allow_large: bool,
            quiet: bool) -> None:
    """Run SCENARIOS with one seed and report their paired differences.

    Give two or more scenario files (or shipped names; the first is the
    reference), or one comparison file such as scenarios/compare-ttv.toml.
    Every scenario meets the same random numbers (common random numbers), so
    each difference against the reference comes from per-replication pairs and
    its 95% CI is tight.
    """
    from flywheel.studies import comparisons as cmp

    overrides = _common_overrides(sets, horizon)
    if len(scenarios) == 1:
        spec = cmp.load_comparison(scenarios[0], overrides)
        what: Any = spec
        name = spec.name
    else:
        for s in scenarios:
            if cmp.is_comparison_file(s):
                raise ScenarioError("is a comparison file; run it on its own: "
                                    f"flywheel compare {s}", file=s)
        what = [load_scenario(s, overrides) for s in scenarios]
        name = "-vs-".join(sc.name for sc in what)[:80]
    chosen = cmp.check_metrics(metrics) if metrics else None
    out_dir = out or default_compare_dir(name)
    check_out(out_dir, force, unique=out is None)
    listed = what.scenarios if isinstance(what, cmp.ComparisonSpec) else what
    first = listed[0]
    n = replications or int(first["simulation.replications"])
    k = len(listed)
    j = jobs or default_jobs()
    _guard(listed, n, min(j, n * k), allow_large)
    click.echo(f"Comparing {k} scenarios: {n} replications each, seed "
               f"{seed if seed is not None else first['simulation.seed']}, "
               f"{j} job{'s' if j > 1 else ''}", err=True)
    with worker_pool(j, n * k) as pool:  # runs the replications, then draws the charts
        with _progress(n * k, quiet, "compare") as bar:
            result = cmp.compare(what, replications=n, seed=seed, jobs=j, progress=bar.update,
                                 metrics=chosen, name=name, executor=pool)
        path = write_comparison(result, out_dir, force=force, unique=out is None,
                                    executor=pool)
    click.echo(comparison_table(result))
    reminder = result.lever_check().reminder
    if reminder:  # said above the tables; repeated where the eye ends
        click.echo(f"\n{reminder}", err=True)
    click.echo(f"\nResults in {path}/")


@main.command()
@click.argument("scenario")
@click.option("--vary", "varies", multiple=True, required=True, metavar="KEY.PATH=V1,V2,...",
              help="A parameter and its values, e.g. --vary onboarding.ttv.median=10min,1d,1w "
                   "(once or twice; commas inside { } or quotes do not split).")
@run_options("at each point [default: the scenario's]", "at every point",
             "results/sweep-<scenario>-<timestamp>", metrics=True)
@user_errors
def sweep(scenario: str, varies: tuple[str, ...], replications: int | None, seed: int | None,
          jobs: int | None, horizon: str | None, sets: tuple[str, ...],
          metrics: tuple[str, ...], out: Path | None, force: bool, allow_large: bool,
          quiet: bool) -> None:
    """Run SCENARIO at every value of one or two parameters, all with one seed.

    Two --vary options span a grid of every combination.  Each point's headline
    metrics are printed with their 95% CIs and written to sweep.csv.
    """
    from flywheel.studies import comparisons as cmp

    axes = [cmp.parse_vary(v) for v in varies]
    base = load_scenario(scenario, _common_overrides(sets, horizon))
    chosen = cmp.check_metrics(metrics) if metrics else None
    _, grid, point_scenarios, _ = cmp.sweep_points(base, axes, replications, seed)  # checked now
    out_dir = out or default_sweep_dir(base.name)
    check_out(out_dir, force, unique=out is None)
    points = len(grid)
    n = replications or int(base["simulation.replications"])
    j = jobs or default_jobs()
    _guard(point_scenarios, n, min(j, n * points), allow_large)
    click.echo(f"Sweeping {base.name}: {points} point{'s' if points > 1 else ''}, "
               f"{n} replications each, seed "
               f"{seed if seed is not None else base['simulation.seed']}, "
               f"{j} job{'s' if j > 1 else ''}", err=True)
    with worker_pool(j, points * n) as pool:  # runs the replications, then draws the charts
        with _progress(points * n, quiet, "sweep") as bar:
            result = cmp.sweep(base, axes, replications=n, seed=seed, jobs=j,
                               progress=bar.update, metrics=chosen, executor=pool)
        path = write_sweep(result, out_dir, force=force, unique=out is None, executor=pool)
    click.echo(sweep_table(result))
    for line in result.findings():  # a price swept: the best price tried by ARR
        click.echo("\n" + line)
    click.echo(f"\nResults in {path}/")


# -- sensitivity --------------------------------------------------------------------------


def sensitivity_table(result: Any) -> str:
    """The levers, ranked: settings, engine, and each side's change with its 95% CI;
    then the notes on clipping and rounding, and the skipped parameters."""
    meta = METRICS[result.target]
    pct = f"{100 * result.delta:g}%"
    lines = [f"Sensitivity of {meta.label} [{meta.unit}] in {result.scenario.name} to "
             f"±{pct} moves: {format_value(result.base_value, meta.unit)} as it is"]
    if result.engine_note:
        lines.append(f"Engine {result.engine}: {result.engine_note}")
    rows = []
    for row, bar in zip(result.rows(), result.bars, strict=False):
        cells = []
        for side in ("low", "high"):
            d, lo, hi = bar.effect(side)
            cells += [format_difference(d, meta.unit), _ci(lo, hi, format_difference, meta.unit)]
        rows.append([str(row["rank"]), row["parameter"],
                     f"{row['low_value'] or '-'} | {row['base_value']} | {row['high_value'] or '-'}"
                     if row["kind"] != "distribution" else
                     f"x{row['low_factor']:g} | as is | x{row['high_factor']:g}",
                     "DES" if bar.engine == "des" else "twin", *cells])
    lines += [""] + _aligned(["#", "parameter", f"-{pct} | as is | +{pct}", "engine",
                              f"at -{pct}", "95% CI", f"at +{pct}", "95% CI"],
                             rows, right={0, 4, 6})
    notes = [f"  {b.path}: {'; '.join(b.move.notes)}" for b in result.bars
             if b.move.notes and b.move.param.kind != "distribution"]
    if notes:
        lines += ["", "Moves adjusted to the parameters' ranges:", *notes]
    if result.skipped:
        lines += ["", "Skipped:", *(f"  {m.path}: {m.skipped}" for m in result.skipped)]
    return "\n".join(lines)


@main.command("sensitivity")
@click.argument("scenario", required=False, default="baseline")
@click.option("--target", default="arr_end", show_default=True, metavar="METRIC",
              help="The metric whose change ranks the levers (a name in flywheel/metrics.py).")
@click.option("--delta", default="20%", show_default=True, metavar="X",
              help="How far each lever moves either way: 20% or 0.2.")
@click.option("--params", default=None, metavar="A.B,C.D",
              help="Move only these parameters [default: every number, rate, probability, "
                   "count, duration and distribution outside simulation.* and market.*].")
@click.option("--top", type=click.IntRange(min=1), default=8, show_default=True,
              help="Levers the simulation re-runs after the mean-field twin's first pass "
                   "(--engine auto).")
@click.option("--engine", type=click.Choice(["auto", "des", "meanfield"]), default="auto",
              show_default=True,
              help="des: every lever by simulation, with CIs; meanfield: the deterministic "
                   "twin, fast, no CIs; auto: the twin ranks every lever, the simulation "
                   "re-runs the top ones (the simulation alone when the twin does not fit).")
@run_options("of the scenario and of each moved copy [default: the scenario's]",
             "before anything moves", "results/sensitivity-<scenario>-<timestamp>")
@user_errors
def sensitivity_cmd(scenario: str, target: str, delta: str, params: str | None, top: int,
                    engine: str, replications: int | None, seed: int | None, jobs: int | None,
                    horizon: str | None, sets: tuple[str, ...], out: Path | None, force: bool,
                    allow_large: bool, quiet: bool) -> None:
    """Move each number of SCENARIO by ±X% (default 20%), one at a time, and rank them
    by how much they change a target metric (ARR at the horizon by default).

    Every run uses the same seed (common random numbers), so each change is a paired
    difference with a tight 95% CI.  Writes sensitivity.csv, a tornado chart, a
    report.html, summary.json and the scenario as run.
    """
    from flywheel.outputs import report
    from flywheel.studies.sensitivity import (
        check_target,
        levers,
        parse_delta,
        parse_params,
        sensitivity_analysis,
    )

    base = load_scenario(scenario, _common_overrides(sets, horizon))
    check_target(target)
    d = parse_delta(delta)
    chosen = levers(parse_params(params))  # checked before anything runs
    out_dir = out or default_sensitivity_dir(base.name)
    check_out(out_dir, force, unique=out is None)
    n = replications or int(base["simulation.replications"])
    j = jobs or default_jobs()
    if engine != "meanfield":  # every simulated lever runs the scenario twice, moved
        _guard([base], n, min(j, n), allow_large,
               runs=1 + 2 * (len(chosen) if engine == "des" else min(top, len(chosen))))
    des = "" if engine == "meanfield" else (
        f", {n} replications per simulation run, seed "
        f"{seed if seed is not None else base['simulation.seed']}")
    click.echo(f"Sensitivity of {base.name}: {len(chosen)} parameters moved ±{100 * d:g}%, "
               f"engine {engine}{des}, {j} job{'s' if j > 1 else ''}", err=True)
    with _progress(0, quiet, "sensitivity") as bar:
        def total(t: int) -> None:
            bar.total = t
            bar.refresh()

        result = sensitivity_analysis(base, target=target, delta=d, params=[p.path for p in chosen],
                             top=top, engine=engine, replications=n, seed=seed, jobs=j,
                             progress=bar.update, on_total=total)
    path = write_sensitivity(result, out_dir, force=force, unique=out is None)
    click.echo(sensitivity_table(result))
    findings = report.sensitivity_findings(result, top=3)
    if findings:
        click.echo("")
        for line in findings[:3]:
            click.echo(f"- {line}")
    runs = ", ".join(f"{v} {'simulation runs' if k == 'des' else 'twin evaluations'}"
                     for k, v in result.runs.items())
    click.echo(f"\n{runs}. Results in {path}/")


# -- demo ---------------------------------------------------------------------------------

#: The comparison files `flywheel demo` runs: the mission's headline questions.
DEMO_COMPARISONS = ("compare-ttv.toml", "compare-pricing.toml", "compare-sales.toml")


@main.command()
@click.option("-n", "--replications", type=click.IntRange(min=2), default=10, show_default=True,
              help="Replications of each scenario.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Root seed [default: the scenarios'].")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: all cores].")
@click.option("--out", type=click.Path(path_type=Path), default=Path("results") / "demo",
              show_default=True, help="Folder of the demo's report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def demo(replications: int, seed: int | None, jobs: int | None, out: Path, quiet: bool) -> None:
    """Run the headline what-ifs on built-in scenarios and write one report.

    Fast vs slow time to value, freemium vs a free trial, and product-led vs
    product-led with sales-assist vs sales-led: each comparison runs with one
    seed, the findings print here, and OUT/report.html shows them with charts.
    An older demo in OUT is kept beside it, never replaced.
    """
    import os
    from datetime import datetime

    from flywheel.outputs import report
    from flywheel.scenario.files import builtin_scenarios_dir
    from flywheel.studies import comparisons as cmp

    check_out(out, force=False, unique=True)  # a folder of its own, writable (an older
    # demo there is moved aside below, not replaced)
    if os.path.lexists(out) and not is_ours(out):
        raise ResultsExistError(f"{out} exists and is not a folder Flywheel wrote; the demo "
                                "moves an older demo aside, nothing else: choose another --out")
    specs = [cmp.load_comparison(builtin_scenarios_dir() / f) for f in DEMO_COMPARISONS]
    j = jobs or default_jobs()
    total = replications * sum(len(s.scenarios) for s in specs)
    click.echo(f"Flywheel demo: {len(specs)} comparisons, {replications} replications per "
               f"scenario, {j} job{'s' if j > 1 else ''}", err=True)
    from flywheel.outputs.files import write_folder

    results = []
    with worker_pool(j, total) as pool:  # runs the replications, then draws the charts
        with _progress(total, quiet, "demo") as bar:
            for spec in specs:
                results.append(cmp.compare(spec, replications=replications, seed=seed, jobs=j,
                                           progress=bar.update, executor=pool))
        for spec, res in zip(specs, results, strict=True):
            click.echo(f"\n{spec.question or spec.description}")
            if res.lever_check().warning:
                click.echo(f"  {res.lever_check().line}")
            for line in report.findings(res)[:4]:
                click.echo(f"  - {line}")
        kept = None
        if out.exists():  # keep the older demo, and say where it went
            stamp = datetime.fromtimestamp(out.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
            kept = out.with_name(f"{out.name}-{stamp}")
            n = 1
            while kept.exists():
                n += 1
                kept = out.with_name(f"{out.name}-{stamp}-{n}")
            os.rename(out, kept)

        def fill(tmp: Path) -> None:
            (tmp / "report.html").write_text(report.demo_report(results), encoding="utf-8")
            for spec, res in zip(specs, results, strict=True):
                write_comparison(res, tmp / spec.name, executor=pool)

        path = write_folder(out, False, fill, kind="demo")
    if kept is not None:
        click.echo(f"\nThe previous demo was kept in {kept}/", err=True)
    click.echo(f"\nReport: {path / 'report.html'}")


def _interactive() -> bool:
    """Whether a person is at the terminal to answer ``flywheel init``'s questions."""
    return sys.stdin.isatty()


@main.command()
@click.argument("file", required=False, type=click.Path(path_type=Path),
                default=Path("my-product.toml"))
@click.option("--kind", type=click.Choice(list(KINDS)), default=None,
              help="What the product is [default: devtool].")
@click.option("--motion", type=click.Choice(list(MOTIONS)), default=None,
              help="How it is sold [default: freemium].")
@click.option("--signups-per-week", type=click.FloatRange(min=0), default=None,
              help="Organic signups a week [default: 150].")
@click.option("--charge", type=click.Choice(list(CHARGES)), default=None,
              help="How the paid plan charges [default: per_seat].")
@click.option("--price", type=click.FloatRange(min=0), default=None,
              help="List price in the charge's unit: $ per seat per month (per_seat), $ per "
                   "month for the plan (flat), $ per usage unit (usage) [default: 15].")
@click.option("--paid-budget", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Paid acquisition, $ per month (0: none).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@user_errors
def init(file: Path, kind: str | None, motion: str | None, signups_per_week: float | None,
         charge: str | None, price: float | None, paid_budget: float, force: bool) -> None:
    """Write a starter scenario FILE (default my-product.toml) from a few answers.

    The product's kind, how it is sold, organic signups a week and the price: given
    as options, or asked for when the terminal is interactive (else the defaults).
    Every line of the file is commented with its unit and meaning; every other
    parameter is Flywheel's default, and paid acquisition is off unless
    --paid-budget is given.  Then: flywheel run FILE.
    """
    from flywheel.outputs.files import write_file
    from flywheel.scenario.files import load_scenario_text, slug

    defaults = Answers()
    ask = _interactive()

    def answer(given: Any, text: str, default: Any, kind_: Any) -> Any:
        if given is not None:
            return given
        return click.prompt(text, default=default, type=kind_) if ask else default

    answers = Answers(
        name=slug(file.stem),
        kind=answer(kind, "Product kind", defaults.kind, click.Choice(list(KINDS))),
        motion=answer(motion, "Sold by", defaults.motion, click.Choice(list(MOTIONS))),
        signups_per_week=answer(signups_per_week, "Organic signups a week",
                                defaults.signups_per_week, click.FloatRange(min=0)),
        charge=(charge := answer(charge, "The paid plan charges", defaults.charge,
                                 click.Choice(list(CHARGES)))),
        price=answer(price, {"per_seat": "Price, $ per seat per month",
                             "flat": "Plan price, $ per month",
                             "usage": "Price, $ per usage unit"}[charge], defaults.price,
                     click.FloatRange(min=0)),
        paid_budget=paid_budget,
    )
    text = starter_toml(answers)
    load_scenario_text(text, name=str(file))  # what it writes loads as written
    if file.exists() and not force:
        raise ResultsExistError(f"{file} exists: choose another FILE, or --force to replace it")
    if file.is_dir():
        raise ResultsExistError(f"{file} is a folder: name a .toml file")
    write_file(file, text.encode("utf-8"))
    click.echo(f"Wrote {file}: a {answers.kind} sold by {answers.motion}, "
               f"{answers.signups_per_week:g} organic signups a week, charging "
               f"{CHARGES[answers.charge][0]} at ${answers.price:g}.")
    click.echo(f"Next: flywheel validate {file}   (every value, with where it came from)")
    click.echo(f"      flywheel run {file}")


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--scenario", "base", default="baseline", show_default=True,
              help="The scenario to fit (a .toml file or a shipped scenario's name).")
@click.option("--fit", "fit", multiple=True,
              help="Parameters to fit, comma-separated or repeated (a parameter path, or a "
                   "distribution's path and field such as onboarding.ttv.median) [default: "
                   "organic, TTV median, patience, invites, acceptance, churn, upgrade "
                   "probability].")
@click.option("--known", multiple=True, metavar="NAME=VALUE[±SE]",
              help="A rate you know, e.g. activation_rate=0.38 (repeatable).")
@click.option("-n", "--replications", type=click.IntRange(min=2), default=10, show_default=True,
              help="Replications of the simulation that checks the fit.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Root seed of the check [default: the scenario's].")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: all cores].")
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a parameter of the scenario before fitting (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Results folder [default: results/calibrate-<scenario>-<timestamp>].")
@click.option("--force", is_flag=True, help="Replace the results folder if Flywheel wrote it.")
@user_errors
def calibrate(data: Path, base: str, fit: tuple[str, ...], known: tuple[str, ...],
              replications: int, seed: int | None, jobs: int | None, sets: tuple[str, ...],
              out: Path | None, force: bool) -> None:
    """Fit a scenario to your weekly DATA (a CSV file: docs/calibration.md).

    Searches on the mean-field twin for the parameters that reproduce your weekly
    series, gives each a 95% interval and says whether your data identify it,
    then runs the simulation at the estimate to check the fit.  Writes
    calibrated.toml (extends the scenario, sets only the fitted keys), fit.json,
    weekly.csv and report.html.
    """
    from flywheel.outputs.results import default_calibrate_dir, write_calibration
    from flywheel.studies import calibrate as cal_mod
    from flywheel.studies.observed import read_observed

    observed = read_observed(data)
    sc = load_scenario(base, list(sets))
    keys = [k.strip() for item in fit for k in item.split(",") if k.strip()] or list(
        cal_mod.DEFAULT_FIT)
    knowns = [cal_mod.parse_known(k) for k in known]
    out_dir = out or default_calibrate_dir(sc.name)
    check_out(out_dir, force, unique=out is None)
    click.echo(f"Calibrating {sc.name} on {data}: {len(observed.weeks)} weeks, "
               f"{len(observed.series)} series, {len(keys)} parameters", err=True)
    result = cal_mod.calibrate(observed, sc, keys, knowns,
                               progress=lambda text: click.echo(f"  {text}", err=True),
                               correct=replications, seed=seed, jobs=jobs)
    click.echo(f"  {result.twin_solves} twin solves in {result.seconds:.0f} s; checking with "
               f"{replications} replications of the simulation", err=True)
    cal_mod.check(result, replications, seed=seed, jobs=jobs)
    path = write_calibration(result, out_dir, force=force, unique=out is None)
    for line in result.findings():
        click.echo(f"- {line}")
    click.echo(f"\nResults in {path}/ (calibrated.toml: flywheel run {path}/calibrated.toml)")


# -- diagnose -------------------------------------------------------------------------------


def diagnosis_table(result: Any) -> str:
    """Every link: its figure measured, the good value, what moved, and the paired gains
    of ARR and active users at the horizon with their 95% CIs, ranked."""
    from flywheel.studies.diagnose import CONSTRAINT, figure_text

    rows = []
    for row, r in zip(result.rows(), result.links, strict=True):
        bm = r.benchmark
        good = "" if math.isnan(bm.good) else figure_text(bm.metric, bm.good)
        if r.status == CONSTRAINT:
            rows.append([str(row["rank"]), r.name, figure_text(bm.metric, r.measured.mean),
                         good, figure_text(bm.metric, r.figure_after.mean)
                         + ("" if r.reached else " (limit)"),
                         format_difference(r.arr.mean, "$ per year"),
                         _ci(r.arr.lo, r.arr.hi, format_difference, "$ per year"),
                         f"{r.users.mean:+,.0f}", f"[{r.users.lo:+,.0f}, {r.users.hi:+,.0f}]"])
        else:
            rows.append(["", r.name, figure_text(bm.metric, r.measured.mean)
                         if not math.isnan(r.measured.mean) else "-", good, r.status,
                         "", "", "", ""])
    lines = [f"Diagnosis of {result.name}: each link moved to its published good value; "
             f"gains at the horizon, paired ({result.replications} replications, seed "
             f"{result.seed})", ""]
    lines += _aligned(["#", "link", "measured", "good", "moved copy", "ARR gained", "95% CI",
                       "active users", "95% CI"], rows, right={0, 2, 3, 5, 7})
    moves = [f"  {r.name}: {'; '.join(r.set_exprs())} ({r.search.method})"
             for r in result.links if r.status == CONSTRAINT and r.search is not None]
    if moves:
        lines += ["", "Moved (each alone, everything else as it was):", *moves]
    return "\n".join(lines)


@main.command("diagnose")
@click.argument("scenario", required=False, default="baseline")
@run_options("of the scenario and of each moved copy [default: the scenario's]",
             "before anything moves", "results/diagnose-<scenario>-<timestamp>")
@user_errors
def diagnose_cmd(scenario: str, replications: int | None, seed: int | None, jobs: int | None,
                 horizon: str | None, sets: tuple[str, ...], out: Path | None, force: bool,
                 allow_large: bool, quiet: bool) -> None:
    """Which link of SCENARIO's value chain holds growth back.

    Each link (acquisition, onboarding and activation, collaboration, retention,
    conversion, expansion) has a measured figure and a published good value.  A
    link short of good is moved there by the parameters that drive it; the
    scenario and each moved copy run with one seed (common random numbers), and
    the links are ranked by the ARR they add at the horizon, with paired 95% CIs.
    Writes summary.json, diagnosis.csv, a chart, report.html and the scenario as run.
    """
    from flywheel.outputs.results import default_diagnose_dir, write_diagnosis
    from flywheel.studies.diagnose import LINKS, diagnose

    base = load_scenario(scenario, _common_overrides(sets, horizon))
    out_dir = out or default_diagnose_dir(base.name)
    check_out(out_dir, force, unique=out is None)
    n = replications or int(base["simulation.replications"])
    if n < 2:
        raise ScenarioError("a diagnosis needs at least 2 replications for its CIs",
                            file="--replications", value=n)
    j = jobs or default_jobs()
    _guard([base], n, min(j, n), allow_large, runs=1 + len(LINKS))
    click.echo(f"Diagnosing {base.name}: {len(LINKS)} links, {n} replications per run, seed "
               f"{seed if seed is not None else base['simulation.seed']}, "
               f"{j} job{'s' if j > 1 else ''}", err=True)
    with _progress(0, quiet, "diagnose") as bar:
        def total(t: int) -> None:
            bar.total = t
            bar.refresh()

        result = diagnose(base, replications=n, seed=seed, jobs=j, progress=bar.update,
                          on_total=total)
    path = write_diagnosis(result, out_dir, force=force, unique=out is None)
    click.echo(diagnosis_table(result))
    click.echo("")
    for line in result.findings():
        click.echo(textwrap.fill(line, width=92, initial_indent="- ", subsequent_indent="  "))
    runs = ", ".join(f"{v} {'simulation runs' if k == 'des' else 'twin evaluations'}"
                     for k, v in result.runs.items())
    click.echo(f"\n{runs} in {result.seconds:.0f} s. Results in {path}/")
