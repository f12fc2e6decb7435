"""Integrating the twin with a Rosenbrock-W method, compiled.

The twin's stiff part is linear and constant (:meth:`~flywheel.engines.meanfield.twin.Twin.jacobian`
is a sparse matrix fixed for the run), so a *W-method* fits it: a linearly implicit
Runge-Kutta method that keeps its order with any approximation of the Jacobian.  Each
step solves four linear systems with one matrix ``I - gamma h J``; there is no Newton
iteration, so nothing fails to converge, and the matrix depends on the step size alone.

The method is ROS34PW2 (Rang & Angermann 2005, BIT Numer. Math. 45:761-787): four stages,
order 3 as a W-method, L-stable, stiffly accurate, with an embedded order-2 solution for
the error estimate.  Its coefficients are used in the transformed form of Hairer & Wanner
(Solving ODEs II, section IV.7), which needs no product with the Jacobian.

Step sizes follow the error (order 3; the embedded estimate filtered through the step's
matrix, its root mean square over the states that hold something).  The matrix is
factorised for the nearest rung of a ladder H0 x sqrt(2)^k and shared by every step
within half a rung of it (a step of size h with the matrix of h' is
the W-method with h'/h times the Jacobian, which keeps its order): about a dozen
factorisations over two years.  The first is SuperLU's (its fill-reducing order and
pattern); the others reuse that order and pattern, recomputed compiled and checked by the
residual of one solve.  The loop runs until it wants a rung it has no factorisation for,
then returns to :func:`integrate`, which factorises and calls it again.  At the grid's
times the loop keeps only what the caller asks for (a sparse projection of the state:
for the twin, the sums its tally reads), from the cubic Hermite interpolant of each step
(its ends' values and derivatives), accurate to the method's order.

The matrix decides what the method conserves: a linear quantity the system keeps (the
users' total, say) is kept exactly only if the matrix keeps it too, which
:meth:`Twin.jacobian <flywheel.engines.meanfield.twin.Twin.jacobian>` sees to.

The loop is a controller tuned for the twin, whose matrix is itself an approximation:
sizes chosen freely there take about a fifth fewer steps than sizes held to the ladder.
With an exact Jacobian the mismatch between h and the rung costs more (a linear test
system takes up to five times the steps it takes on the ladder, and still meets its
tolerance).

The twin's right-hand side here is :func:`flywheel.engines.meanfield.kernel.rhs`, the
compiled twin of :meth:`Twin.rhs <flywheel.engines.meanfield.twin.Twin.rhs>`; the loop
also takes any other compiled right-hand side (the tests give it problems with known
solutions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from flywheel.engines.meanfield import kernel

# -- the method: ROS34PW2 -------------------------------------------------------------------

GAMMA = 0.435866521508459
_ALPHA = np.array([[0.0, 0.0, 0.0, 0.0],
                   [0.87173304301691801, 0.0, 0.0, 0.0],
                   [0.84457060015369423, -0.11299064236484185, 0.0, 0.0],
                   [0.0, 0.0, 1.0, 0.0]])
_GAMMAS = np.array([[GAMMA, 0.0, 0.0, 0.0],
                    [-0.87173304301691801, GAMMA, 0.0, 0.0],
                    [-0.90338057013044082, 0.054180672388095326, GAMMA, 0.0],
                    [0.24212380706095346, -1.2232505839045147, 0.54526025533510214, GAMMA]])
_B = np.array([0.24212380706095346, -1.2232505839045147, 1.5452602553351020, GAMMA])
_B_EMBEDDED = np.array([0.37810903145819369, -0.096042292212423178, 0.5, 0.2179332607542295])
# the transformed form: stage increments u_i = sum_j gamma_ij k_j
_GINV = np.linalg.inv(_GAMMAS)
A = np.ascontiguousarray(_ALPHA @ _GINV)  # stage values: y + sum_j A_ij u_j
C = np.ascontiguousarray(np.tril(-_GINV, -1))  # stage right-hand sides: + sum_j C_ij u_j / h
M = np.ascontiguousarray(_B @ _GINV)  # the step: y + sum_i M_i u_i
E = np.ascontiguousarray(M - _B_EMBEDDED @ _GINV)  # its error estimate: sum_i E_i u_i
TIMES = np.ascontiguousarray(_ALPHA.sum(axis=1))  # stage times, as fractions of the step

#: Step sizes are H0 x RATIO^k days for whole k (H0: half a day, the first steps' size).
H0 = 0.5
RATIO = math.sqrt(2.0)
_LOG_RATIO = math.log(RATIO)
#: Steps a run may take before it gives up (a shipped scenario takes 100 to 300).
MAX_STEPS = 20_000

_DONE, _RESIZE, _FAILED = 0, 1, 2


@dataclass
class Solution:
    """Values at the times asked for (times x states), and how the integration went."""

    y: np.ndarray
    steps: int
    rejected: int
    evaluations: int
    factorisations: int


# -- the linear systems ---------------------------------------------------------------------

@dataclass
class _Factors:
    """``I - gamma h J`` = Pr^T L U Pc^T: L strictly below its unit diagonal and U strictly
    above its diagonal, by columns (CSC, rows ascending: what the refactorisation writes)
    and by rows (CSR: what the solve reads, each entry gathered rather than scattered,
    about 1.5 times quicker), U's diagonal, and the row and column permutations."""

    l_ptr: np.ndarray
    l_idx: np.ndarray
    l_val: np.ndarray
    u_ptr: np.ndarray
    u_idx: np.ndarray
    u_val: np.ndarray
    u_diag: np.ndarray
    perm_r: np.ndarray
    perm_c: np.ndarray
    # by rows: pattern, where each entry lies by columns, values; 1 / U's diagonal
    rows: tuple[np.ndarray, ...] = ()
    u_inv: np.ndarray | None = None

    def by_rows(self, pattern: _Factors | None = None) -> _Factors:
        """Fill in the by-rows arrays (the pattern's maps when given: the same pattern)."""
        if pattern is None:
            maps = [_transpose(self.l_ptr, self.l_idx), _transpose(self.u_ptr, self.u_idx)]
        else:
            (lp, li, lm, _), (up, ui, um, _) = pattern.rows[:4], pattern.rows[4:]
            maps = [(lp, li, lm), (up, ui, um)]
        (lp, li, lm), (up, ui, um) = maps
        self.rows = (lp, li, lm, self.l_val[lm], up, ui, um, self.u_val[um])
        self.u_inv = 1.0 / self.u_diag
        return self

    @classmethod
    def of(cls, matrix: sparse.csc_matrix) -> _Factors:
        """SuperLU's factors of ``matrix``: a fill-reducing column order (COLAMD), no row
        pivoting (I - gamma h J has a diagonal of at least 1 that dominates its columns)."""
        lu = splu(matrix, permc_spec="COLAMD", diag_pivot_thresh=0.0)
        lower, upper = lu.L, lu.U
        l_ptr, l_idx, l_val, _ = _strict(lower.indptr, lower.indices, lower.data, True)
        u_ptr, u_idx, u_val, diag = _strict(upper.indptr, upper.indices, upper.data, False)
        return cls(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, diag, lu.perm_r.astype(np.int64),
                   lu.perm_c.astype(np.int64)).by_rows()

    def args(self) -> tuple[np.ndarray, ...]:
        """What the compiled solve reads."""
        lp, li, _, lv, up, ui, _, uv = self.rows
        return (lp, li, lv, up, ui, uv, self.u_inv, self.perm_r, self.perm_c)


class _Factoriser:
    """Factors of I - gamma h J for each step size h: SuperLU for the first, then the same
    orders and fill pattern with new values (a compiled left-looking elimination, about
    ten times quicker), checked by the residual of one solve (SuperLU again should the
    pattern not hold them)."""

    def __init__(self, jacobian: sparse.spmatrix) -> None:
        self.jacobian = sparse.csc_matrix(jacobian)
        self.jacobian.sort_indices()
        self.n = self.jacobian.shape[0]
        self.identity = sparse.identity(self.n, format="csc")
        self.first: _Factors | None = None
        self.superlu = 0

    def matrix(self, h: float) -> sparse.csc_matrix:
        return (self.identity - (GAMMA * h) * self.jacobian).tocsc()

    def __call__(self, h: float) -> _Factors:
        if self.first is None:
            self.superlu += 1
            self.first = _Factors.of(self.matrix(h))
            f = self.first
            # J and I in the factors' orders
            self._jac = _permuted(self.jacobian, f.perm_r, f.perm_c)
            self._eye = _permuted(self.identity, f.perm_r, f.perm_c)
            return self.first
        f = self.first
        lp, li, lm, _, up, ui, um, _ = f.rows
        new = _Factors(f.l_ptr, f.l_idx, np.empty_like(f.l_val), f.u_ptr, f.u_idx,
                       np.empty_like(f.u_val), np.empty_like(f.u_diag), f.perm_r, f.perm_c,
                       (lp, li, lm, np.empty_like(f.l_val), up, ui, um, np.empty_like(f.u_val)),
                       np.empty_like(f.u_diag))
        jac = self.jacobian
        residual = _refactor_checked(*self._eye, *self._jac, GAMMA * h, new.l_ptr, new.l_idx,
                                     new.l_val, new.u_ptr, new.u_idx, new.u_val, new.u_diag,
                                     *new.rows, new.u_inv, new.perm_r, new.perm_c,
                                     jac.indptr, jac.indices, jac.data)
        if residual <= 1e-9 * 2.0:  # (a NaN is no success)
            return new
        self.superlu += 1
        return _Factors.of(self.matrix(h))


@numba.njit(cache=True)
def _refactor_checked(e_ptr: Any, e_idx: Any, e_val: Any, j_ptr: Any, j_idx: Any, j_val: Any,
                      gh: float, l_ptr: Any, l_idx: Any, l_val: Any, u_ptr: Any, u_idx: Any,
                      u_val: Any, u_diag: Any, lr_ptr: Any, lr_idx: Any, l_where: Any, lr_val: Any,
                      ur_ptr: Any, ur_idx: Any, u_where: Any, ur_val: Any, u_inv: Any,
                      perm_r: Any, perm_c: Any, jc_ptr: Any, jc_idx: Any, jc_val: Any
                      ) -> float:  # pragma: no cover
    """:func:`_refactor`, the values by rows, and the largest residual |x - gh J x - b| of
    the solve of one right-hand side b (from 1 to 2), J in CSC (``jc_*``)."""
    n = u_diag.shape[0]
    _refactor(e_ptr, e_idx, e_val, j_ptr, j_idx, j_val, gh, l_ptr, l_idx, l_val, u_ptr, u_idx,
              u_val, u_diag, np.zeros(n))
    for k in range(lr_val.shape[0]):
        lr_val[k] = l_val[l_where[k]]
    for k in range(ur_val.shape[0]):
        ur_val[k] = u_val[u_where[k]]
    for i in range(n):
        u_inv[i] = 1.0 / u_diag[i]
    b = np.empty(n)
    for i in range(n):
        b[i] = 1.0 + i / max(n - 1, 1)
    x, w = np.empty(n), np.empty(n)
    _solve(lr_ptr, lr_idx, lr_val, ur_ptr, ur_idx, ur_val, u_inv, perm_r, perm_c, b, x, w)
    r = x - b
    for j in range(n):
        for k in range(jc_ptr[j], jc_ptr[j + 1]):
            r[jc_idx[k]] -= gh * jc_val[k] * x[j]
    worst = 0.0
    for i in range(n):
        a = abs(r[i])
        if a != a:
            return math.inf
        worst = max(worst, a)
    return worst


def _permuted(matrix: sparse.csc_matrix, perm_r: np.ndarray, perm_c: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pr ``matrix`` Pc as CSC arrays (rows ascending in each column), Pr taking row i to
    perm_r[i] and Pc column i to perm_c[i] (SuperLU's Pr A Pc = L U)."""
    return _permute(matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64),
                    matrix.data.astype(float), perm_r, perm_c)


@numba.njit(cache=True)
def _permute(ptr: Any, idx: Any, val: Any, perm_r: Any, perm_c: Any) -> Any:  # pragma: no cover
    """:func:`_permuted` on CSC arrays."""
    n = ptr.shape[0] - 1
    new_ptr = np.zeros(n + 1, dtype=np.int64)
    for j in range(n):  # column j goes to perm_c[j]
        new_ptr[perm_c[j] + 1] = ptr[j + 1] - ptr[j]
    for j in range(n):
        new_ptr[j + 1] += new_ptr[j]
    new_idx = np.empty(ptr[n], dtype=np.int64)
    new_val = np.empty(ptr[n])
    for j in range(n):
        start = new_ptr[perm_c[j]]
        at = start
        for k in range(ptr[j], ptr[j + 1]):
            row, v = perm_r[idx[k]], val[k]
            m = at  # (insertion into the column's sorted run)
            while m > start and new_idx[m - 1] > row:
                new_idx[m] = new_idx[m - 1]
                new_val[m] = new_val[m - 1]
                m -= 1
            new_idx[m] = row
            new_val[m] = v
            at += 1
    return new_ptr, new_idx, new_val


@numba.njit(cache=True)
def _transpose(ptr: Any, idx: Any) -> Any:  # pragma: no cover
    """A CSC pattern by rows: CSR pointers and columns (ascending), and for each entry its
    position among the CSC entries."""
    n = ptr.shape[0] - 1
    nnz = ptr[n]
    row_ptr = np.zeros(n + 1, dtype=np.int64)
    for k in range(nnz):
        row_ptr[idx[k] + 1] += 1
    for i in range(n):
        row_ptr[i + 1] += row_ptr[i]
    fill = row_ptr[:-1].copy()
    cols = np.empty(nnz, dtype=np.int64)
    where = np.empty(nnz, dtype=np.int64)
    for j in range(n):  # (columns in ascending order: each row's columns come out sorted)
        for k in range(ptr[j], ptr[j + 1]):
            at = fill[idx[k]]
            cols[at] = j
            where[at] = k
            fill[idx[k]] += 1
    return row_ptr, cols, where


@numba.njit(cache=True)
def _strict(ptr: Any, idx: Any, val: Any, lower: bool) -> Any:  # pragma: no cover
    """A triangular CSC matrix's entries off the diagonal (rows ascending in each column) and
    its diagonal."""
    n = ptr.shape[0] - 1
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    for j in range(n):
        count = 0
        for k in range(ptr[j], ptr[j + 1]):
            if idx[k] != j:
                count += 1
        out_ptr[j + 1] = out_ptr[j] + count
    out_idx = np.empty(out_ptr[n], dtype=np.int64)
    out_val = np.empty(out_ptr[n])
    diag = np.ones(n)
    for j in range(n):
        at = out_ptr[j]
        for k in range(ptr[j], ptr[j + 1]):
            row = idx[k]
            if row == j:
                if not lower:
                    diag[j] = val[k]
            elif (row > j) == lower:
                # insertion into the column's sorted run
                m = at
                while m > out_ptr[j] and out_idx[m - 1] > row:
                    out_idx[m] = out_idx[m - 1]
                    out_val[m] = out_val[m - 1]
                    m -= 1
                out_idx[m] = row
                out_val[m] = val[k]
                at += 1
        out_ptr[j + 1] = at
    return out_ptr, out_idx[:out_ptr[n]].copy(), out_val[:out_ptr[n]].copy(), diag


@numba.njit(cache=True)
def _refactor(e_ptr: Any, e_idx: Any, e_val: Any, j_ptr: Any, j_idx: Any, j_val: Any, gh: float,
              l_ptr: Any, l_idx: Any, l_val: Any, u_ptr: Any, u_idx: Any, u_val: Any, u_diag: Any,
              x: Any) -> None:  # pragma: no cover
    """LU factors of E - gh J (both CSC, already in the factors' row and column orders) in
    the known pattern of L and U: column by column, each column of U's rows in ascending
    order eliminating with the columns of L before it.  ``x`` (zeros) is scratch."""
    n = u_diag.shape[0]
    for j in range(n):
        for k in range(e_ptr[j], e_ptr[j + 1]):
            x[e_idx[k]] += e_val[k]
        for k in range(j_ptr[j], j_ptr[j + 1]):
            x[j_idx[k]] -= gh * j_val[k]
        for k in range(u_ptr[j], u_ptr[j + 1]):
            row = u_idx[k]
            xr = x[row]
            u_val[k] = xr
            x[row] = 0.0
            if xr != 0.0:
                for m in range(l_ptr[row], l_ptr[row + 1]):
                    x[l_idx[m]] -= l_val[m] * xr
        pivot = x[j]
        u_diag[j] = pivot
        x[j] = 0.0
        for k in range(l_ptr[j], l_ptr[j + 1]):
            row = l_idx[k]
            l_val[k] = x[row] / pivot
            x[row] = 0.0


@numba.njit(cache=True, fastmath={"reassoc", "contract", "arcp", "nsz"})
def _solve(l_ptr: Any, l_idx: Any, l_val: Any, u_ptr: Any, u_idx: Any, u_val: Any, u_inv: Any,
           perm_r: Any, perm_c: Any, b: Any, x: Any, w: Any) -> None:  # pragma: no cover
    """x = (Pr^T L U Pc^T)^-1 b, with ``w`` as scratch: L and U strictly triangular by rows
    (CSR), U's diagonal as its reciprocals."""
    n = b.shape[0]
    for i in range(n):
        w[perm_r[i]] = b[i]
    for i in range(n):  # L w' = w (unit diagonal)
        s = w[i]
        for k in range(l_ptr[i], l_ptr[i + 1]):
            s -= l_val[k] * w[l_idx[k]]
        w[i] = s
    for i in range(n - 1, -1, -1):  # U z = w'
        s = w[i]
        for k in range(u_ptr[i], u_ptr[i + 1]):
            s -= u_val[k] * w[u_idx[k]]
        w[i] = s * u_inv[i]
    for i in range(n):
        x[i] = w[perm_c[i]]


def solve_with(factors: _Factors, b: np.ndarray) -> np.ndarray:
    """(I - gamma h J)^-1 b: the compiled solve, for tests."""
    x, w = np.empty_like(b), np.empty_like(b)
    _solve(*factors.args(), b, x, w)
    return x


# -- the loop -------------------------------------------------------------------------------

@numba.njit
def _steps(fn: Any, p: Any, y: Any, f: Any, clock: Any, h_lu: float, horizon: float,
           l_ptr: Any, l_idx: Any, l_val: Any, u_ptr: Any, u_idx: Any, u_val: Any, u_diag: Any,
           perm_r: Any, perm_c: Any, grid: Any, p_ptr: Any, p_idx: Any, p_val: Any, out: Any,
           at: Any, rtol: float, atol: float, stats: Any) -> int:  # pragma: no cover
    """Steps from time ``clock[0]``, the first of size ``clock[1]``, with the factors of
    I - gamma h_lu J (updating ``y``, ``f`` = dy/dt there, the clock and the next step's
    size, ``out``'s rows ``at[0]``... at the grid's times (the projection P y of the state,
    P in CSR), and ``stats``: steps, rejected,
    evaluations), until the horizon (returns _DONE), or a step size whose nearest
    size on the ladder H0 x RATIO^k is not h_lu's (_RESIZE), or MAX_STEPS (_FAILED).

    A step of size h with the factors of another size h_lu is the W-method with h_lu/h
    times the Jacobian, which keeps its order; within the ladder's half-rung (a factor
    2^1/4) it keeps the stability of the exact matrix too."""
    n = y.shape[0]
    u = np.zeros((4, n))
    stage = np.empty(n)
    rhs = np.empty(n)
    w = np.empty(n)
    new = np.empty(n)
    f_new = np.empty(n)
    n_out = p_ptr.shape[0] - 1
    py, pf, pn, pfn = np.empty(n_out), np.empty(n_out), np.empty(n_out), np.empty(n_out)
    t = clock[0]
    h = clock[1]
    rung = _rung(h_lu)
    rejected = False  # (no larger step right after a rejected one)
    while t < horizon:
        if stats[0] + stats[1] >= MAX_STEPS:
            return _FAILED
        gh = GAMMA * h
        u0, u1, u2, u3 = u[0], u[1], u[2], u[3]
        # stage 1: f at the step's start
        for q in range(n):
            rhs[q] = gh * f[q]
        _solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_diag, perm_r, perm_c, rhs, u0, w)
        # stage 2
        a = A[1, 0]
        for q in range(n):
            stage[q] = y[q] + a * u0[q]
        fn(t + TIMES[1] * h, stage, p, rhs)
        c0 = C[1, 0] / h
        for q in range(n):
            rhs[q] = gh * (rhs[q] + c0 * u0[q])
        _solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_diag, perm_r, perm_c, rhs, u1, w)
        # stage 3
        a0, a1 = A[2, 0], A[2, 1]
        for q in range(n):
            stage[q] = y[q] + a0 * u0[q] + a1 * u1[q]
        fn(t + TIMES[2] * h, stage, p, rhs)
        c0, c1 = C[2, 0] / h, C[2, 1] / h
        for q in range(n):
            rhs[q] = gh * (rhs[q] + c0 * u0[q] + c1 * u1[q])
        _solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_diag, perm_r, perm_c, rhs, u2, w)
        # stage 4
        a0, a1, a2 = A[3, 0], A[3, 1], A[3, 2]
        for q in range(n):
            stage[q] = y[q] + a0 * u0[q] + a1 * u1[q] + a2 * u2[q]
        fn(t + TIMES[3] * h, stage, p, rhs)
        c0, c1, c2 = C[3, 0] / h, C[3, 1] / h, C[3, 2] / h
        for q in range(n):
            rhs[q] = gh * (rhs[q] + c0 * u0[q] + c1 * u1[q] + c2 * u2[q])
        _solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_diag, perm_r, perm_c, rhs, u3, w)
        stats[2] += 3
        # the error: the embedded estimate passed through the step's matrix (Shampine's
        # filter: what the stiff part would damp is not counted), its root mean square over
        # the states that hold more than atol (the many that hold nothing would otherwise
        # dilute it), each against atol + rtol |y|
        for q in range(n):
            new[q] = y[q] + M[0] * u0[q] + M[1] * u1[q] + M[2] * u2[q] + M[3] * u3[q]
            stage[q] = E[0] * u0[q] + E[1] * u1[q] + E[2] * u2[q] + E[3] * u3[q]
        _solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_diag, perm_r, perm_c, stage, rhs, w)
        total = 0.0
        holding = 0
        for q in range(n):
            size = max(abs(y[q]), abs(new[q]))
            total += (rhs[q] / (atol + rtol * size)) ** 2
            if size > atol:
                holding += 1
        err = math.sqrt(total / max(holding, 1))
        # the next step's size (order 3, a 0.9 margin, at most x4 and at least /5 at once)
        if err != err:  # (NaN)
            factor = 0.2
        elif err > 0.0:
            factor = min(4.0, max(0.2, 0.9 * err ** (-1.0 / 3.0)))
        else:
            factor = 4.0
        if not err <= 1.0:  # (a NaN is no success either)
            stats[1] += 1
            rejected = True
            h = h * min(factor, 0.5)
            clock[1] = h
            if _rung(h) != rung:
                return _RESIZE
            continue
        fn(t + h, new, p, f_new)
        stats[2] += 1
        stats[0] += 1
        t_new = t + h
        k = at[0]
        if k < grid.shape[0] and grid[k] <= t_new:  # the projections of both ends
            for i in range(n_out):
                a0 = a1 = a2 = a3 = 0.0
                for m in range(p_ptr[i], p_ptr[i + 1]):
                    q, v = p_idx[m], p_val[m]
                    a0 += v * y[q]
                    a1 += v * f[q]
                    a2 += v * new[q]
                    a3 += v * f_new[q]
                py[i], pf[i], pn[i], pfn[i] = a0, a1, a2, a3
        while k < grid.shape[0] and grid[k] <= t_new:
            s = (grid[k] - t) / h
            h00 = (1.0 + 2.0 * s) * (1.0 - s) ** 2
            h10 = s * (1.0 - s) ** 2
            h01 = s * s * (3.0 - 2.0 * s)
            h11 = s * s * (s - 1.0)
            for i in range(n_out):
                out[k, i] = h00 * py[i] + h10 * h * pf[i] + h01 * pn[i] + h11 * h * pfn[i]
            k += 1
        at[0] = k
        for q in range(n):
            y[q] = new[q]
            f[q] = f_new[q]
        t = t_new
        clock[0] = t
        h = h * (min(factor, 1.0) if rejected else factor)
        rejected = False
        clock[1] = h
        if _rung(h) != rung and t < horizon:
            return _RESIZE
    return _DONE


@numba.njit(cache=True)
def _rung(h: float) -> int:  # pragma: no cover
    """The step size ladder's nearest rung to ``h``: k of H0 x RATIO^k."""
    return int(round(math.log(h / H0) / _LOG_RATIO))


@numba.njit(cache=True)
def _twin_steps(p: Any, y: Any, f: Any, clock: Any, h_lu: float, horizon: float,
                l_ptr: Any, l_idx: Any, l_val: Any, u_ptr: Any, u_idx: Any, u_val: Any, u_diag: Any,
                perm_r: Any, perm_c: Any, grid: Any, p_ptr: Any, p_idx: Any, p_val: Any,
                out: Any, at: Any, rtol: float, atol: float, stats: Any) -> int:  # pragma: no cover
    """:func:`_steps` with the twin's right-hand side, compiled once and cached on disk (a
    compiled function taking another as an argument is compiled again in every process)."""
    return _steps(kernel.rhs, p, y, f, clock, h_lu, horizon, l_ptr, l_idx, l_val, u_ptr, u_idx,
                  u_val, u_diag, perm_r, perm_c, grid, p_ptr, p_idx, p_val, out, at, rtol, atol,
                  stats)


def integrate(p: Any, jacobian: sparse.spmatrix, y0: np.ndarray, horizon: float,
              grid: np.ndarray, rtol: float, atol: float, fn: Any = None,
              projection: sparse.spmatrix | None = None) -> Solution:
    """Integrate dy/dt = f(t, y) from 0 to ``horizon``; the values at the times of ``grid``
    (ascending, from 0; times x states), or of ``projection`` @ y (a sparse matrix: sums
    of states the caller reports).

    f is the twin's right-hand side, :func:`~flywheel.engines.meanfield.kernel.rhs`, with
    ``p`` its packed parameters (:func:`~flywheel.engines.meanfield.kernel.pack`); or, for
    other problems, ``fn(t, y, p, dy)``, a compiled function (``numba.njit``) writing f(t, y)
    into ``dy``.  ``jacobian`` is a constant sparse approximation of df/dy (any will do for
    the order; the stiff part must be in it for the step sizes).
    Raises ``FloatingPointError`` when it gives up (MAX_STEPS, or no step size small
    enough), so the caller can fall back to another method."""
    n = y0.shape[0]
    factorise = _Factoriser(jacobian)
    factors: dict[int, _Factors] = {}
    y = np.array(y0, dtype=float)
    f = np.empty(n)
    (kernel.rhs if fn is None else fn)(0.0, y, p, f)
    proj = sparse.csr_matrix(sparse.identity(n) if projection is None else projection)
    pro = (proj.indptr.astype(np.int64), proj.indices.astype(np.int64), proj.data.astype(float))
    out = np.empty((len(grid), proj.shape[0]))  # (times x values: each time's at once)
    clock = np.array([0.0, H0])  # the time, and the next step's size
    at = np.zeros(2, dtype=np.int64)
    stats = np.zeros(3, dtype=np.int64)
    stats[2] = 1
    while True:
        rung = int(_rung(clock[1]))
        if clock[1] < 1e-7:
            raise FloatingPointError("the Rosenbrock step size fell below 1e-7 days")
        if rung not in factors:
            factors[rung] = factorise(H0 * RATIO ** rung)
        h_lu = H0 * RATIO ** rung
        status = (_twin_steps(p, y, f, clock, h_lu, horizon, *factors[rung].args(), grid, *pro,
                              out, at, rtol, atol, stats) if fn is None else
                  _steps(fn, p, y, f, clock, h_lu, horizon, *factors[rung].args(), grid, *pro, out,
                         at, rtol, atol, stats))
        if status == _DONE:
            break
        if status == _FAILED:
            raise FloatingPointError(f"the Rosenbrock integration took more than {MAX_STEPS} steps")
    if at[0] != len(grid):  # pragma: no cover - (the loop runs past the horizon)
        raise FloatingPointError("the Rosenbrock integration stopped short of the horizon")
    return Solution(y=out, steps=int(stats[0]), rejected=int(stats[1]), evaluations=int(stats[2]),
                    factorisations=len(factors))
