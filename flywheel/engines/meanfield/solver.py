"""Integrating the twin, and its solution as a tally for the metric layer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.integrate import BDF, solve_ivp
from scipy.sparse.linalg import splu

from flywheel.engines import EngineError
from flywheel.engines.meanfield.mechanisms import mechanism_notes, unsupported
from flywheel.engines.meanfield.tally import observe, twin_tally
from flywheel.engines.meanfield.twin import Twin
from flywheel.engines.tally import Tally, day_grid
from flywheel.scenario.files import Scenario
from flywheel.scenario.settings import Settings

#: Right-hand-side evaluations an integration attempt may use before the next is tried
#: (a shipped scenario needs 150 to 1,300).
MAX_EVALUATIONS = 20_000
#: Tolerances of the integration (relative; absolute, in users or teams).
RTOL, ATOL = 1e-4, 1e-3

# -- results ---------------------------------------------------------------------------------

@dataclass
class MeanFieldResult:
    """The twin's deterministic run: its tally (which :func:`flywheel.metrics.measure`
    turns into metrics, series, funnel and cohorts), and how it ran."""

    scenario: Scenario
    horizon: float
    grid: np.ndarray
    tally: Tally
    unsupported: list[str]
    notes: list[tuple[str, str, str]]
    seconds: float
    evaluations: int
    state_size: int


def solve(scenario: Scenario, horizon: float | None = None) -> MeanFieldResult:
    """Integrate the twin of ``scenario`` to ``horizon`` (default: the scenario's) and
    return its tally, with daily values on :func:`~flywheel.engines.tally.day_grid`."""
    settings = Settings.from_scenario(scenario, horizon)
    h = settings.horizon
    start = time.perf_counter()
    tw = Twin(settings)
    grid = day_grid(h)
    t_eval = np.concatenate([[0.0], grid])
    # the stiff part of the system is its linear part: BDF with that (sparse, constant)
    # matrix as the Jacobian takes steps of days however fast the onboarding stages are
    sol = _integrate(tw, h, t_eval)
    obs = observe(tw, sol.y)
    return MeanFieldResult(
        scenario=scenario, horizon=h, grid=grid, tally=twin_tally(tw, obs),
        unsupported=unsupported(scenario),
        notes=mechanism_notes(scenario), seconds=time.perf_counter() - start,
        evaluations=int(sol.nfev), state_size=tw.size)


class _SparseBDF(BDF):
    """scipy's BDF, its Newton matrices I - cJ factorised without row pivoting.

    J is a matrix of rates (flows out of a state on its diagonal, at most 0; flows into
    others off it, at least 0), so I - cJ has a diagonal of at least 1 that dominates its
    column's flows into the other states of the system: elimination in the fill-reducing
    order needs no pivoting.  Without the search for pivots each factorisation (one
    whenever the step changes: 71 in a two-year baseline) takes about 15% less time and
    fills less, and the solution is the same to about 1e-12."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        def lu(matrix: Any) -> Any:
            self.nlu += 1
            return splu(matrix, permc_spec="COLAMD", diag_pivot_thresh=0.0)

        self.lu = lu


class _OverBudget(Exception):
    """An integration attempt used up MAX_EVALUATIONS."""


def _integrate(tw: Twin, horizon: float, t_eval: np.ndarray) -> Any:
    """Integrate the twin: BDF with the sparse linear part as its Jacobian (the stiff part
    of the system is linear); should it fail, Radau, then explicit RK23 (every rate is
    at most MAX_RATE, so that is slower but never stiff)."""
    jac = tw.jacobian()
    tries = ((_SparseBDF, {"jac": jac}), ("Radau", {"jac": jac}), ("RK23", {}))
    messages = []
    for method, extra in tries:
        calls = 0

        def rhs(t: float, y: np.ndarray) -> np.ndarray:
            nonlocal calls
            calls += 1
            if calls > MAX_EVALUATIONS:
                raise _OverBudget
            return tw.rhs(t, y)

        try:
            sol = solve_ivp(rhs, (0.0, horizon), tw.initial(), method=method, t_eval=t_eval,
                            rtol=RTOL, atol=ATOL * tw.scale, **extra)
        except _OverBudget:
            messages.append(f"{_name(method)}: more than {MAX_EVALUATIONS} evaluations")
            continue
        if sol.success:
            sol.method = _name(method)
            return sol
        messages.append(f"{_name(method)}: {sol.message}")
    raise EngineError("the mean-field twin's integration failed ("  # pragma: no cover
                      + "; ".join(messages) + "); run it with --engine des")


def _name(method: Any) -> str:
    """The name of an integration method (BDF for the twin's own variant of it)."""
    return method if isinstance(method, str) else "BDF"
