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
from flywheel.engines.meanfield.tally import observation, observe, twin_tally
from flywheel.engines.meanfield.twin import Twin
from flywheel.engines.tally import Tally, day_grid
from flywheel.scenario.files import Scenario
from flywheel.scenario.settings import Settings

#: Right-hand-side evaluations an integration attempt may use before the next is tried
#: (a shipped scenario needs 150 to 1,300).
MAX_EVALUATIONS = 20_000
#: Tolerances of the integration (relative; absolute, in users or teams): scipy's methods
#: with RTOL, the compiled Rosenbrock-W method with W_RTOL (its metrics then lie within
#: about 2e-4 of a solve at 1e-6 for the baseline, 2e-3 for the trials: docs/model.md).
RTOL, ATOL = 1e-4, 1e-3
W_RTOL = 1e-3
#: The compiled method's relative tolerance for a search that differentiates the twin by
#: finite differences (calibrate): the step sizes' choice moves a solution by about the
#: tolerance, which at 1e-3 swamps the derivative of a parameter that moves the data little
#: (a 52-week fit's TTV median came out collinear at 1e-3, 2.48 d [2.00, 3.07] at 1e-4 as
#: with scipy's BDF).
SEARCH_RTOL = 1e-4

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
    method: str = ""  # the integration method that solved it


def solve(scenario: Scenario, horizon: float | None = None,
          rtol: float | None = None) -> MeanFieldResult:
    """Integrate the twin of ``scenario`` to ``horizon`` (default: the scenario's) and
    return its tally, with daily values on :func:`~flywheel.engines.tally.day_grid`.
    ``rtol``: the compiled method's relative tolerance (default :data:`W_RTOL`; a search
    that differentiates the twin by finite differences wants :data:`SEARCH_RTOL`)."""
    settings = Settings.from_scenario(scenario, horizon)
    h = settings.horizon
    start = time.perf_counter()
    tw = Twin(settings)
    grid = day_grid(h)
    t_eval = np.concatenate([[0.0], grid])
    # the stiff part of the system is its linear part: with that (sparse, constant) matrix
    # as the Jacobian, the steps are of days however fast the onboarding stages are
    sol = _integrate(tw, h, t_eval, W_RTOL if rtol is None else rtol)
    obs = observe(tw, sol.y)
    return MeanFieldResult(
        scenario=scenario, horizon=h, grid=grid, tally=twin_tally(tw, obs),
        unsupported=unsupported(scenario),
        notes=mechanism_notes(scenario), seconds=time.perf_counter() - start,
        evaluations=int(sol.nfev), state_size=tw.size, method=sol.method)


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


@dataclass
class _Integrated:
    """The sums of the state :func:`observe` reads (:func:`observation`) at each time of
    ``t_eval`` (times x sums), and how they were found."""

    y: np.ndarray
    nfev: int
    method: str


def _integrate(tw: Twin, horizon: float, t_eval: np.ndarray, rtol: float = W_RTOL
               ) -> _Integrated:
    """Integrate the twin: the compiled Rosenbrock-W method (:mod:`.rosenbrock`) with the
    sparse linear part as its Jacobian (the stiff part of the system is linear); should
    it fail, or the compiled right-hand side not carry the scenario, scipy's BDF with the
    same Jacobian, then Radau, then explicit RK23 (every rate is at most MAX_RATE, so
    that is slower but never stiff)."""
    jac = tw.jacobian()
    sums = observation(tw)
    messages = []
    from flywheel.engines.meanfield import kernel, rosenbrock  # (compiled: loaded when used)

    try:
        packed = kernel.pack(tw)
    except NotImplementedError as exc:
        packed = None
        messages.append(f"ROS34PW2: {exc}")
    if packed is not None:
        try:
            sol = rosenbrock.integrate(packed, jac, tw.initial(), horizon, t_eval, rtol,
                                       ATOL * tw.scale, projection=sums)
        except FloatingPointError as exc:
            messages.append(f"ROS34PW2: {exc}")
        else:
            return _Integrated(sol.y, sol.evaluations, "ROS34PW2")
    tries = ((_SparseBDF, {"jac": jac}), ("Radau", {"jac": jac}), ("RK23", {}))
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
            return _Integrated((sums @ sol.y).T, int(sol.nfev), _name(method))
        messages.append(f"{_name(method)}: {sol.message}")
    raise EngineError("the mean-field twin's integration failed ("  # pragma: no cover
                      + "; ".join(messages) + "); run it with --engine des")


def _name(method: Any) -> str:
    """The name of an integration method (BDF for the twin's own variant of it)."""
    return method if isinstance(method, str) else "BDF"
