"""Monte Carlo replications of a scenario, in a local process pool or any executor.

Replication *i* of a run with seed *S* always uses the *i*-th child of
``SeedSequence(S)``, whichever worker runs it, so results do not depend on
the number of processes.  Any :class:`concurrent.futures.Executor` can run the
replications: the default is a local process pool; a Dask ``distributed``
client's ``get_executor()`` serves sweeps larger than one machine.
"""

from __future__ import annotations

import html
import math
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel.engines import records
from flywheel.engines.model import Model
from flywheel.engines.rng import replication_seeds
from flywheel.engines.tally import day_grid
from flywheel.metrics import (
    FUNNEL,
    METRICS,
    SERIES,
    MeanCI,
    Measured,
    check_claims,
    check_metrics,
    format_difference,
    format_value,
    headline,
    judge_claims,
    mean_ci,
    measure,
    summarise,
)
from flywheel.scenario.files import Scenario, load_scenario
from flywheel.scenario.settings import Settings
from flywheel.scenario.units import parse_duration
from flywheel.version import __version__

if TYPE_CHECKING:  # pandas is imported only by the methods that return a DataFrame
    import pandas as pd

#: The engines :func:`simulate` runs: the discrete-event simulation, or one deterministic
#: run of the mean-field twin (:mod:`flywheel.engines.meanfield`).
ENGINES = ("des", "meanfield")
#: The metrics a one-line ``repr`` shows, with the CI.
REPR_METRICS = ("signups", "activation_rate", "paying_teams", "arr_end")
#: Columns of :meth:`RunResult.funnel_rows` (``funnel.csv``) and of
#: :meth:`RunResult.cohort_rows` (``cohorts.csv``).
FUNNEL_HEADER = ["stage", "label", "unit", "mean", "ci95_lo", "ci95_hi", "share_of_previous"]
COHORT_HEADER = ["replication", "cohort_week", "weeks_since_signup", "signups", "active",
                 "share_active"]


@dataclass
class ReplicationResult:
    """What one replication sends back: metrics, daily series, funnel, cohorts, states."""

    index: int
    metrics: dict[str, float]
    series: dict[str, np.ndarray]
    funnel: dict[str, float]
    cohorts: list[tuple[int, int, int, int]]
    states: dict[str, int]
    #: Metrics and series the engine could not produce for this run (they are NaN).
    unavailable: tuple[str, ...] = ()
    #: Why a metric has no value (NaN) in this replication, where the counts say why
    #: (:func:`~flywheel.metrics.tally_reasons`).
    reasons: dict[str, str] = field(default_factory=dict)


def run_replication(params: dict[str, Any], seq: np.random.SeedSequence, index: int,
                    horizon: float | None = None) -> ReplicationResult:
    """Run one replication and reduce its outcome to results (runs in a worker)."""
    measured = measure(records.tally(Model(params, seq, horizon=horizon).run()))
    return ReplicationResult(index=index, metrics=measured.metrics, series=measured.series,
                             funnel=measured.funnel, cohorts=measured.cohorts,
                             states=measured.states, reasons=measured.reasons)


def _run_packed(args: tuple[dict[str, Any], np.random.SeedSequence, int, float | None]
                ) -> ReplicationResult:
    return run_replication(*args)


@dataclass
class RunResult:
    """The replications of one scenario, with tidy tables and the summary."""

    scenario: Scenario
    seed: int
    horizon: float
    replications: list[ReplicationResult] = field(default_factory=list)
    #: What produced the replications: "des" (the simulation) or "meanfield" (one
    #: deterministic run of the mean-field twin, :mod:`flywheel.engines.meanfield`).
    engine: str = "des"

    @property
    def n(self) -> int:
        return len(self.replications)

    def values(self, metric: str) -> list[float]:
        """Per-replication values of a metric, in replication order (an unknown name is a
        :class:`~flywheel.scenario.files.ScenarioError` suggesting the nearest)."""
        check_metrics([metric])
        return [r.metrics[metric] for r in self.replications]

    def mean_ci(self, metric: str) -> MeanCI:
        """Mean and 95% CI of a metric across replications: ``MeanCI(mean, lo, hi)``,
        which unpacks as a 3-tuple (the CI is NaN for a single replication)."""
        return mean_ci(self.values(metric))

    def reason(self, metric: str) -> str:
        """Why ``metric`` has no value in any replication (its mean prints as ``-``): the
        reason most replications give (:func:`~flywheel.metrics.tally_reasons`); ``""``
        when some replication has a value, or no reason is known."""
        if any(not math.isnan(v) for v in self.values(metric)):
            return ""
        given = [r.reasons[metric] for r in self.replications if metric in r.reasons]
        return max(dict.fromkeys(given), key=given.count) if given else ""

    def reasons(self) -> dict[str, str]:
        """Every metric with no value in any replication, and why (:meth:`reason`), in the
        order of :data:`~flywheel.metrics.METRICS`."""
        return {m: why for m in METRICS if (why := self.reason(m))}

    @property
    def headline(self) -> tuple[str, ...]:
        """The metrics ``flywheel run`` and the run report lead with: the headline, and
        the sales team's (contracts won, their mean value, the queue wait) when the
        scenario has one (:func:`~flywheel.metrics.headline`)."""
        return headline(int(self.scenario["sales.reps"]) > 0)

    def claims(self) -> list[Measured]:
        """The scenario's claims (its story's ``[[claims]]``), each measured across the
        replications with a verdict (:func:`~flywheel.metrics.judge_claims`)."""
        return judge_claims(self.scenario.claims, self.values, claims_file(self.scenario))

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        return {
            "flywheel_version": __version__,
            "scenario": self.scenario.name,
            "engine": self.engine,
            "seed": self.seed,
            "replications": self.n,
            "horizon_days": self.horizon,
            "metrics": summarise([r.metrics for r in self.replications], list(METRICS)),
            "user_states": {s: [r.states[s] for r in self.replications]
                            for s in (self.replications[0].states if self.replications else {})},
            "unavailable": list(self.unavailable),
            "reasons": self.reasons(),
            "claims": [{"says": c.claim.says, "metric": c.claim.metric,
                        "range": [c.claim.low, c.claim.high], "source": c.claim.source,
                        "mean": c.value.mean, "ci95": [c.value.lo, c.value.hi],
                        "verdict": c.verdict} for c in self.claims()],
        }

    @property
    def unavailable(self) -> tuple[str, ...]:
        """Metrics and series the engine could not produce for this scenario (NaN here)."""
        return tuple(dict.fromkeys(n for r in self.replications for n in r.unavailable))

    def timeseries_rows(self) -> Iterable[list[object]]:
        """Tidy daily rows: replication, day, time in days, then each series."""
        grid = day_grid(self.horizon)
        for r in self.replications:
            for d in range(len(grid)):
                yield [r.index, d + 1, float(grid[d]), *(float(r.series[k][d]) for k in SERIES)]

    def timeseries_header(self) -> list[str]:
        return ["replication", "day", "time_days", *SERIES]

    def funnel_rows(self) -> list[list[object]]:
        """Stage, label, unit, mean, 95% CI, and the share of the stage before (same unit)."""
        rows: list[list[object]] = []
        prev: dict[str, float] = {}
        for key, label, unit in FUNNEL:
            mean, lo, hi = mean_ci([r.funnel[key] for r in self.replications])
            share = mean / prev[unit] if prev.get(unit) else math.nan
            rows.append([key, label, unit, mean, lo, hi, share])
            prev[unit] = mean
        return rows

    def cohort_rows(self) -> list[list[object]]:
        """replication, cohort_week, weeks_since_signup, signups, active, share_active."""
        return [[r.index, c, k, n, a, a / n if n else math.nan]
                for r in self.replications for (c, k, n, a) in r.cohorts]

    def funnel_header(self) -> list[str]:
        return list(FUNNEL_HEADER)

    def cohort_header(self) -> list[str]:
        return list(COHORT_HEADER)

    # -- the same tables as pandas DataFrames (pandas imported here, not at import) --------

    def summary_frame(self) -> pd.DataFrame:
        """One row per metric of :data:`~flywheel.metrics.METRICS`, in its order: name,
        label, unit, kind, mean, ci95_lo, ci95_hi (the numbers of :meth:`summary`)."""
        import pandas as pd

        rows = []
        for name, meta in METRICS.items():
            m = self.mean_ci(name)
            rows.append([name, meta.label, meta.unit, meta.kind, m.mean, m.lo, m.hi])
        return pd.DataFrame(rows, columns=["name", "label", "unit", "kind", "mean", "ci95_lo",
                                           "ci95_hi"])

    def timeseries_frame(self) -> pd.DataFrame:
        """:meth:`timeseries_rows` as a tidy DataFrame, columns :meth:`timeseries_header`:
        one row per replication and day."""
        import pandas as pd

        grid = np.asarray(day_grid(self.horizon), dtype=float)
        days, reps = len(grid), self.replications
        cols: dict[str, np.ndarray] = {
            "replication": np.repeat(np.asarray([r.index for r in reps], dtype=np.int64), days),
            "day": np.tile(np.arange(1, days + 1, dtype=np.int64), len(reps)),
            "time_days": np.tile(grid, len(reps)),
        }
        for k in SERIES:
            parts = [np.asarray(r.series[k][:days], dtype=float) for r in reps]
            cols[k] = np.concatenate(parts) if parts else np.empty(0)
        return pd.DataFrame(cols, columns=self.timeseries_header())

    def funnel_frame(self) -> pd.DataFrame:
        """:meth:`funnel_rows` as a DataFrame, columns :meth:`funnel_header`."""
        import pandas as pd

        return pd.DataFrame(self.funnel_rows(), columns=self.funnel_header())

    def cohorts_frame(self) -> pd.DataFrame:
        """:meth:`cohort_rows` as a DataFrame, columns :meth:`cohort_header`."""
        import pandas as pd

        return pd.DataFrame(self.cohort_rows(), columns=self.cohort_header())

    # -- display ---------------------------------------------------------------------------

    def _described(self) -> str:
        reps = f"{self.n} replication{'s' if self.n != 1 else ''}"
        return f"{reps}, seed {self.seed}, {self.horizon:g} days, engine {self.engine}"

    def __repr__(self) -> str:
        shown = "; ".join(f"{m} {ci_text(self.mean_ci(m), m)}" for m in REPR_METRICS) \
            if self.replications else "no replications"
        return f"<RunResult {self.scenario.name}: {self._described()}; {shown}>"

    def _repr_html_(self) -> str:
        rows = []
        if self.replications:
            for m in self.headline:
                meta = METRICS[m]
                mci = self.mean_ci(m)
                rows.append([meta.label, format_value(mci.mean, meta.unit),
                             ci_range(mci, m), meta.unit])
        return html_table(f"RunResult {self.scenario.name}: {self._described()}",
                           ["metric", "mean", "95% CI", "unit"], rows)


def claims_file(scenario: Scenario) -> str | None:
    """The file a scenario's claims come from, as errors name it (its own file)."""
    return scenario.path.name if scenario.path else scenario.name


def ci_range(value: MeanCI | Sequence[float], metric: str, signed: bool = False) -> str:
    """``[lo, hi]`` of a metric's CI cut to its bounds (unless ``signed``: a difference),
    formatted as the CLI does; ``""`` without a CI (one replication)."""
    meta = METRICS[metric]
    _, lo, hi = value
    if not signed:
        lo, hi = meta.clamp(lo, hi)
    if math.isnan(lo) or math.isnan(hi):
        return ""
    return f"[{_fmt(lo, meta.unit, signed)}, {_fmt(hi, meta.unit, signed)}]"


def _fmt(value: float, unit: str, signed: bool = False) -> str:
    """A value as :func:`~flywheel.metrics.format_value` shows it; a ``signed`` difference
    as :func:`~flywheel.metrics.format_difference` does."""
    return format_difference(value, unit) if signed else format_value(value, unit)


def ci_text(value: MeanCI | Sequence[float], metric: str, signed: bool = False) -> str:
    """A metric's mean and 95% CI in one short phrase: ``9,866 [9,828, 9,904]``."""
    mean = value[0]
    ci = ci_range(value, metric, signed)
    text = _fmt(mean, METRICS[metric].unit, signed)
    return f"{text} {ci}" if ci else text


def html_table(caption: str, header: Sequence[str], rows: Sequence[Sequence[object]],
                more: int = 0) -> str:
    """A small HTML table for a notebook: a caption, a header row and text cells (all
    escaped); ``more`` rows left out are counted in a last line."""
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    if more:
        body += f'<tr><td colspan="{len(header)}">… {more} more</td></tr>'
    return (f"<table><caption style=\"text-align:left\"><b>{esc(caption)}</b></caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def worker_pool(jobs: int | None, n: int, executor: Executor | None = None
                ) -> Iterator[Executor | None]:
    """The executor that runs ``n`` replications: ``executor`` if given, else a local
    process pool of ``jobs`` workers (default: all cores), else None to run in this
    process (one job or one replication).  A pool made here is shut down on exit."""
    if executor is not None:
        yield executor
        return
    j = default_jobs() if jobs is None else max(1, int(jobs))
    if j == 1 or n == 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=min(j, n), initializer=_ignore_interrupt)
    try:
        yield pool
    except BaseException:
        # Ctrl-C or an error: stop now, without waiting for replications under way.  The
        # pool's own thread then fails the futures it still holds (on Python 3.11 with an
        # error about the ones map() cancelled): this process is on its way out, and that
        # thread's complaint is not the user's news.
        threading.excepthook = _quiet_thread_errors
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        raise
    pool.shutdown()


def _quiet_thread_errors(args: threading.ExceptHookArgs) -> None:
    """Say nothing of errors in background threads (set once a run is being stopped)."""


def _ignore_interrupt() -> None:
    """Workers leave Ctrl-C to the parent, which stops them and reports it once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def horizon_days(horizon: float | str | None) -> float | None:
    """A horizon as :func:`simulate` takes it: a duration as the CLI writes it (``"2y"``,
    ``"30d"``; :func:`~flywheel.scenario.units.parse_duration`) or a number of days."""
    if horizon is None:
        return None
    if isinstance(horizon, str):
        return parse_duration(horizon)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, float, np.integer, np.floating)):
        raise ValueError(f'horizon: expected a duration such as "2y" or a number of days, '
                         f"got {horizon!r}")
    return float(horizon)


def simulate(scenario: Scenario | str | Path, replications: int | None = None,
             seed: int | None = None, jobs: int | None = None,
             horizon: float | str | None = None, executor: Executor | None = None,
             progress: Callable[[int], None] | None = None, *,
             engine: str = "des") -> RunResult:
    """Run the scenario's replications and collect the results.

    ``scenario`` is a :class:`Scenario`, or a shipped scenario's name or a file's path
    (read with :func:`~flywheel.scenario.files.load_scenario`).  ``replications``, ``seed``
    and ``horizon`` default to the scenario's ``simulation`` section; ``horizon`` is a
    duration as the CLI writes it (``"2y"``, ``"30d"``) or a number of days.  ``jobs``
    is the number of worker processes of the default local pool (1 runs in this
    process); ``executor`` replaces the pool.  ``progress`` is called with 1 after each
    finished replication.

    ``engine="meanfield"`` runs the deterministic mean-field twin instead
    (:func:`simulate_twin`): one "replication", no CI; ``replications``,
    ``seed``, ``jobs`` and ``executor`` are refused with it, as ``flywheel run --engine
    meanfield`` refuses them.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    check_claims(scenario.claims, claims_file(scenario))  # a mistake before the run
    h_asked = horizon_days(horizon)
    if engine == "meanfield":
        return _simulate_meanfield(scenario, h_asked, progress,
                                   replications=replications, seed=seed, jobs=jobs,
                                   executor=executor)
    n = int(replications if replications is not None else scenario["simulation.replications"])
    s = int(seed if seed is not None else scenario["simulation.seed"])
    h = float(h_asked if h_asked is not None else scenario["simulation.horizon"])
    # the scenario records what actually ran, so its resolved file reproduces the run
    asked = {"simulation.replications": n, "simulation.seed": s, "simulation.horizon": h}
    changed = {k: v for k, v in asked.items() if v != scenario[k]}
    if changed:
        if "simulation.horizon" in changed:
            changed["simulation.horizon"] = f"{h!r}d"
        scenario = scenario.with_overrides(changed)
    params = dict(scenario.values)
    tasks = [(params, seq, i, h) for i, seq in enumerate(replication_seeds(s, n))]
    results: list[ReplicationResult] = []
    with worker_pool(jobs, n, executor) as pool:
        for res in (pool.map(_run_packed, tasks) if pool else map(_run_packed, tasks)):
            results.append(res)
            if progress:
                progress(1)
    results.sort(key=lambda r: r.index)
    return RunResult(scenario=scenario, seed=s, horizon=h, replications=results)


def _simulate_meanfield(scenario: Scenario, horizon: float | None,
                        progress: Callable[[int], None] | None, **des_only: object) -> RunResult:
    """One run of the mean-field twin; the DES-only arguments must be left out."""
    given = [name for name, value in des_only.items() if value is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: only with engine=\"des\" (the mean-field twin "
                         "is deterministic: one run, no replications)")
    from flywheel.engines import meanfield

    for line in meanfield.unsupported(scenario):
        warnings.warn(f"the mean-field twin does not represent {line}", stacklevel=3)
    result = simulate_twin(scenario, horizon)
    if progress:
        progress(1)
    return result


def simulate_twin(scenario: Scenario, horizon: float | None = None) -> RunResult:
    """The mean-field twin's run as a :class:`RunResult` of one deterministic
    "replication" (engine ``"meanfield"``), so that summaries, result folders, plots
    and reports work as for a simulation; confidence intervals are empty."""
    from flywheel.engines import meanfield

    settings = Settings.from_scenario(scenario, horizon)
    h = settings.horizon
    if h != settings.simulation.horizon:  # the scenario records what ran
        scenario = scenario.with_overrides({"simulation.horizon": f"{h!r}d"})
    meanfield.check_supported(settings)
    measured = measure(meanfield.solve(scenario, h).tally)
    rep = ReplicationResult(index=0, metrics=measured.metrics, series=measured.series,
                            funnel=measured.funnel, cohorts=measured.cohorts,
                            states=measured.states, unavailable=measured.unavailable,
                            reasons=measured.reasons)
    return RunResult(scenario=scenario, seed=int(scenario["simulation.seed"]), horizon=h,
                     replications=[rep], engine="meanfield")
