"""The ``flywheel`` command line."""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from flywheel import __version__
from flywheel.distributions import DistributionError
from flywheel.metrics import HEADLINE, METRICS
from flywheel.results import ResultsExistError, default_out_dir, write_results
from flywheel.runner import RunResult, default_jobs, simulate
from flywheel.scenario import (ScenarioError, format_resolved, list_scenarios, load_scenario)
from flywheel.units import UnitError, parse_duration

F = TypeVar("F", bound=Callable[..., Any])

#: Errors a user can cause by what they typed or wrote: one line on stderr, exit 2.
USER_ERRORS = (ScenarioError, UnitError, DistributionError, ResultsExistError)


def user_errors(fn: F) -> F:
    """Report bad input as one clear line and exit with status 2, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def format_value(value: float, unit: str) -> str:
    """A metric value as a person reads it: shares in %, money in $, counts with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit.startswith("share"):
        return f"{100 * value:.1f}%"
    if unit.startswith("$"):
        return f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.2f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def headline_table(result: RunResult, names: Sequence[str] = HEADLINE) -> str:
    """Mean and 95% CI of the headline metrics, one line each."""
    rows = []
    for name in names:
        meta = METRICS[name]
        mean, lo, hi = result.mean_ci(name)
        # every headline metric is a count, a share or money: none can fall below 0 and
        # no share above 1, however wide a t-interval of few replications is
        lo, hi = max(lo, 0.0), (min(hi, 1.0) if meta.unit.startswith("share") else hi)
        ci = "" if math.isnan(lo) else f"[{format_value(lo, meta.unit)}, {format_value(hi, meta.unit)}]"
        rows.append((meta.label, format_value(mean, meta.unit), ci, meta.unit))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    head = f"{'metric':<{w[0]}}  {'mean':>{w[1]}}  {'95% CI':<{w[2]}}  unit"
    lines = [head, "-" * len(head)]
    lines += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows]
    return "\n".join(lines)


def _progress(total: int, quiet: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rep", disable=quiet or not sys.stderr.isatty(),
                file=sys.stderr, leave=False)


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
@click.option("-n", "--replications", type=click.IntRange(min=1), default=None,
              help="Monte Carlo replications [default: the scenario's, 20].")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Root seed; same scenario + same seed gives identical results.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: all cores].")
@click.option("--horizon", default=None, metavar="DURATION",
              help='How long to simulate, e.g. "6mo", "2y".')
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
              help='Override one parameter, e.g. --set onboarding.ttv.median=10min (repeatable).')
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Results folder [default: results/<scenario>-<timestamp>].")
@click.option("--force", is_flag=True, help="Replace the results folder if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def run(scenario: str, replications: int | None, seed: int | None, jobs: int | None,
        horizon: str | None, sets: tuple[str, ...], out: Path | None, force: bool,
        quiet: bool) -> None:
    """Run SCENARIO (a .toml file or a shipped scenario's name; default: baseline)."""
    overrides = list(sets)
    if horizon is not None:
        try:
            parse_duration(horizon)
        except UnitError as exc:
            raise ScenarioError(str(exc), file="--horizon", key="simulation.horizon",
                                value=horizon) from None
        overrides.append(f"simulation.horizon={horizon}")
    if replications is not None:
        overrides.append(f"simulation.replications={replications}")
    if seed is not None:
        overrides.append(f"simulation.seed={seed}")
    sc = load_scenario(scenario, overrides)
    out_dir = out or default_out_dir(sc.name)
    if out_dir.exists() and not force:
        raise ResultsExistError(
            f"{out_dir} already exists; choose another --out or pass --force to replace it")
    n = int(sc["simulation.replications"])
    j = jobs or default_jobs()
    click.echo(f"Running {sc.name}: {n} replications, seed {sc['simulation.seed']}, "
               f"{j} job{'s' if j > 1 else ''}", err=True)
    with _progress(n, quiet, sc.name) as bar:
        result = simulate(sc, jobs=j, progress=bar.update)
    path = write_results(result, out_dir, force=force)
    click.echo(headline_table(result))
    click.echo(f"\nResults in {path}/")


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override one parameter before validating (repeatable).")
def validate(files: tuple[str, ...], sets: tuple[str, ...]) -> None:
    """Check scenario FILES and print each resolved scenario, or the errors."""
    failed = False
    for f in files:
        try:
            sc = load_scenario(f, list(sets))
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
            continue
        click.echo(f"# {sc.name}" + (f": {sc.description}" if sc.description else ""))
        click.echo(format_resolved(sc))
        click.echo("")
    if failed:
        sys.exit(2)


@main.command("list")
def list_() -> None:
    """List the shipped scenarios with their descriptions."""
    rows = list_scenarios()
    w = max((len(name) for name, _, _ in rows), default=0)
    for name, desc, _ in rows:
        click.echo(f"{name:<{w}}  {desc}")
