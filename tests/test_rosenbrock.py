"""The twin's compiled integrator (flywheel.engines.meanfield.rosenbrock): its linear solves,
its refactorisations, and its accuracy on problems with known solutions, with the exact
Jacobian and with a wrong one (a W-method keeps its order with any)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import linalg, sparse

from flywheel.engines.meanfield import rosenbrock
from flywheel.engines.meanfield.twin import Twin
from flywheel.scenario.files import load_scenario
from flywheel.scenario.settings import Settings


def rate_matrix(n: int, seed: int, fastest: float = 2.0) -> sparse.csc_matrix:
    """Flows between n states (a column's outflow on its diagonal), rates up to ``fastest``
    per day, as the twin's linear part is."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for i in range(n):
        for j in rng.choice(n, 3, replace=False):
            if j != i:
                r = rng.uniform(0.0, fastest)
                rows += [i, int(j)]
                cols += [i, i]
                vals += [-r, r]
    return sparse.csc_matrix((vals, (rows, cols)), shape=(n, n))


@numba.njit(cache=True)
def linear_rhs(t, y, p, dy):  # noqa: ANN001, ANN201 - a compiled right-hand side
    """dy/dt = K y + c (1 + t/100): p = (K's CSR arrays, c)."""
    ptr, idx, val, c = p
    for i in range(y.shape[0]):
        s = c[i] * (1.0 + t / 100.0)
        for k in range(ptr[i], ptr[i + 1]):
            s += val[k] * y[idx[k]]
        dy[i] = s


def exact_linear(K: sparse.spmatrix, c: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The solution from y(0) = 0 of dy/dt = K y + c (1 + t/100), by the matrix exponential of
    the system with (1, t) appended as two more states."""
    n = K.shape[0]
    big = np.zeros((n + 2, n + 2))
    big[:n, :n] = K.toarray()
    big[:n, n] = c  # c * 1
    big[:n, n + 1] = c / 100.0  # c * t / 100
    big[n + 1, n] = 1.0  # dt/dt = 1
    z0 = np.zeros(n + 2)
    z0[n] = 1.0
    return np.array([(linalg.expm(big * t) @ z0)[:n] for t in grid])  # (times x states)


def solve_linear(K: sparse.csr_matrix, c: np.ndarray, jac: sparse.spmatrix, grid: np.ndarray,
                 rtol: float) -> rosenbrock.Solution:
    K = sparse.csr_matrix(K)
    p = (K.indptr.astype(np.int64), K.indices.astype(np.int64), K.data.copy(), c)
    return rosenbrock.integrate(p, jac, np.zeros(K.shape[0]), float(grid[-1]), grid, rtol, 1e-9,
                                fn=linear_rhs)


def test_compiled_solve_inverts_superlus_factors() -> None:
    """x = M^-1 b from the factors, with the row and column orders SuperLU chose: the
    residual M x - b is at rounding level (1e-12)."""
    M = (sparse.identity(200) - 3.0 * rate_matrix(200, 1)).tocsc()
    f = rosenbrock._Factors.of(M)
    b = np.random.default_rng(2).random(200)
    assert np.max(np.abs(M @ rosenbrock.solve_with(f, b) - b)) < 1e-12
    assert not np.array_equal(f.perm_c, np.arange(200))  # (the orders are exercised)


@pytest.mark.parametrize("name", ["baseline", "trial", "reverse-trial", "data-integration-sandbox"])
def test_refactorisation_in_the_first_pattern_matches_superlu(name: str) -> None:
    """The twin's I - gamma h J for h from 1/32 to 16 days: the factors recomputed in the
    first factorisation's pattern solve as SuperLU's own factors of that matrix do (to
    1e-10), without falling back to SuperLU."""
    tw = Twin(Settings.from_scenario(load_scenario(name), None))
    factorise = rosenbrock._Factoriser(tw.jacobian())
    factorise(0.5)
    b = np.random.default_rng(3).random(tw.size)
    for h in (1 / 32, 1.0, 4.0, 16.0):
        mine = rosenbrock.solve_with(factorise(h), b)
        theirs = rosenbrock.solve_with(rosenbrock._Factors.of(factorise.matrix(h)), b)
        assert np.max(np.abs(mine - theirs)) <= 1e-10 * np.max(np.abs(theirs))
    assert factorise.superlu == 1


@pytest.mark.parametrize("rtol", [1e-4, 1e-6])
def test_linear_system_matches_its_matrix_exponential(rtol: float) -> None:
    """A 40-state linear system with rates up to 2 per day and a growing inflow, over two
    years, against its exact solution (the matrix exponential): the largest error on the
    day grid is within 20 x rtol of the solution's largest value, and tightening the
    tolerance 100-fold shrinks it."""
    K = rate_matrix(40, 5)
    c = np.random.default_rng(6).uniform(0.0, 10.0, 40)
    grid = np.arange(1.0, 731.0)
    exact = exact_linear(K, c, grid)
    sol = solve_linear(K, c, K, grid, rtol)
    err = np.max(np.abs(sol.y - exact)) / np.max(np.abs(exact))
    assert err <= 20 * rtol, err
    assert sol.steps < 3000


def test_any_jacobian_keeps_it_accurate() -> None:
    """A W-method's order does not rest on the exact Jacobian: with the matrix x 0.6, or none
    at all (an explicit method then, its steps kept small by stability), as the Jacobian,
    the solution is still within 20 x rtol of the exact one."""
    K = rate_matrix(40, 7)
    c = np.random.default_rng(8).uniform(0.0, 10.0, 40)
    grid = np.arange(1.0, 366.0)
    exact = exact_linear(K, c, grid)
    for jac in (0.6 * K, 0.0 * K):
        sol = solve_linear(K, c, jac, grid, 1e-5)
        assert np.max(np.abs(sol.y - exact)) / np.max(np.abs(exact)) <= 20 * 1e-5


def test_gives_up_with_a_floating_point_error() -> None:
    """A right-hand side that turns NaN: the integration raises FloatingPointError (the
    twin's solver then falls back to scipy's integrators), it does not loop."""
    K = sparse.csr_matrix(-np.eye(3))
    c = np.array([np.nan, 1.0, 1.0])
    with pytest.raises(FloatingPointError):
        solve_linear(K, c, K, np.arange(1.0, 11.0), 1e-4)


# -- the twin, integrated ------------------------------------------------------------------------

def shipped() -> list[str]:
    from flywheel.scenario.files import list_scenarios

    return [name for name, _, _ in list_scenarios()]


def test_every_shipped_scenario_integrates_with_the_compiled_method() -> None:
    """The twin of every shipped scenario, over two years, by ROS34PW2 (no fallback to
    scipy), in at most 3,000 evaluations of the right-hand side (the baseline takes about
    310, the devtool story, with its many small rejected steps, about 1,700)."""
    from flywheel.engines import meanfield

    for name in shipped():
        r = meanfield.solve(load_scenario(name, ["simulation.horizon=2y"]))
        assert r.method == "ROS34PW2", name
        assert r.evaluations <= 3000, (name, r.evaluations)


@pytest.mark.parametrize("name", ["baseline", "trial", "data-integration-sandbox"])
def test_compiled_and_scipy_integrations_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same twin integrated by the compiled method and, with the compiled right-hand
    side refused, by scipy's BDF (relative tolerance 1e-4): every finite headline metric
    agrees to 0.5% (measured: at most 0.2%, the compiled method's relative tolerance being
    1e-3), and the fallback says which method ran."""
    from flywheel.engines import meanfield
    from flywheel.engines.meanfield import kernel
    from flywheel.metrics import HEADLINE, measure

    sc = load_scenario(name, ["simulation.horizon=2y"])
    compiled = meanfield.solve(sc)

    def refuse(tw: Twin) -> None:
        raise NotImplementedError("refused for the test")

    monkeypatch.setattr(kernel, "pack", refuse)
    fallback = meanfield.solve(sc)
    assert (compiled.method, fallback.method) == ("ROS34PW2", "BDF")
    a, b = measure(compiled.tally).metrics, measure(fallback.tally).metrics
    for metric in HEADLINE:
        if np.isfinite(b[metric]) and abs(b[metric]) > 1e-9:
            assert a[metric] == pytest.approx(b[metric], rel=5e-3), metric
