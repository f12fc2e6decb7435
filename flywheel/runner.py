"""Monte Carlo replications of a scenario, in a local process pool or any executor.

Replication *i* of a run with seed *S* always uses the *i*-th child of
``SeedSequence(S)``, whichever worker runs it, so results do not depend on
the number of processes.  Any :class:`concurrent.futures.Executor` can run the
replications: the default is a local process pool; a Dask ``distributed``
client's ``get_executor()`` serves sweeps larger than one machine.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flywheel import __version__
from flywheel.metrics import (
    FUNNEL,
    METRICS,
    SERIES,
    check_metrics,
    day_grid,
    mean_ci,
    replication_cohorts,
    replication_funnel,
    replication_metrics,
    replication_series,
    summarise,
    user_states,
)
from flywheel.model import Model
from flywheel.rng import replication_seeds
from flywheel.scenario import Scenario


class EngineError(ValueError):
    """An engine cannot run this scenario (the mean-field twin past what it takes on):
    one line for the user, naming the engine that can."""


@dataclass
class ReplicationResult:
    """What one replication sends back: metrics, daily series, funnel, cohorts, states."""

    index: int
    metrics: dict[str, float]
    series: dict[str, np.ndarray]
    funnel: dict[str, float]
    cohorts: list[tuple[int, int, int, int]]
    states: dict[str, int]


def run_replication(params: dict[str, Any], seq: np.random.SeedSequence, index: int,
                    horizon: float | None = None) -> ReplicationResult:
    """Run one replication and reduce its outcome to results (runs in a worker)."""
    outcome = Model(params, seq, horizon=horizon).run()
    return ReplicationResult(
        index=index,
        metrics=replication_metrics(outcome),
        series=replication_series(outcome),
        funnel=replication_funnel(outcome),
        cohorts=replication_cohorts(outcome),
        states=user_states(outcome),
    )


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
    #: deterministic run of the mean-field twin, :mod:`flywheel.meanfield`).
    engine: str = "des"

    @property
    def n(self) -> int:
        return len(self.replications)

    def values(self, metric: str) -> list[float]:
        """Per-replication values of a metric, in replication order (an unknown name is a
        :class:`~flywheel.scenario.ScenarioError` suggesting the nearest)."""
        check_metrics([metric])
        return [r.metrics[metric] for r in self.replications]

    def mean_ci(self, metric: str) -> tuple[float, float, float]:
        """Mean and 95% CI of a metric across replications."""
        return mean_ci(self.values(metric))

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
        }

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


def simulate(scenario: Scenario, replications: int | None = None, seed: int | None = None,
             jobs: int | None = None, horizon: float | None = None,
             executor: Executor | None = None,
             progress: Callable[[int], None] | None = None) -> RunResult:
    """Run the scenario's replications and collect the results.

    ``replications``, ``seed`` and ``horizon`` default to the scenario's
    ``simulation`` section.  ``jobs`` is the number of worker processes of the
    default local pool (1 runs in this process); ``executor`` replaces the pool.
    ``progress`` is called with 1 after each finished replication.
    """
    n = int(replications if replications is not None else scenario["simulation.replications"])
    s = int(seed if seed is not None else scenario["simulation.seed"])
    h = float(horizon if horizon is not None else scenario["simulation.horizon"])
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
