"""Delays as chains of exponential stages (phase-type distributions), and the onboarding
race of time to value against patience computed from the distributions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flywheel.scenario.distributions import Distribution, Exponential
from flywheel.scenario.settings import Tenure

# -- delays as chains of exponential stages -------------------------------------------------

#: The fastest rate of any stage or hazard (per day): outcomes earlier than half its
#: reciprocal (6 hours) are instant, stages last at least its reciprocal (12 hours).  It
#: bounds how stiff the system is, so an explicit fallback integrator always works.
MAX_RATE = 2.0
G_MIN = 1.0 / MAX_RATE
#: Quantile groups of an onboarding or delay distribution, and the stage budget.
GROUPS = 8
STAGE_BUDGET = 14
MAX_SUBSTAGES = 4
#: Quantile groups of the seats' tenure when its hazard is not constant.
TENURE_GROUPS = 32
#: Grid of the race computations (cells, and how far below the top they reach).
_GRID = 3000
_GRID_SPAN = 1e-7

ACT, ABANDON = 0, 1


@dataclass(frozen=True)
class Chain:
    """A delay as stages in series (a Coxian phase-type distribution).

    An entry finishes at once with probability ``instant[o]`` for outcome ``o``;
    otherwise it enters stage 0.  Stage ``k`` lasts an exponential time of rate
    ``rates[k]``; on leaving it, the entry finishes with outcome ``o`` with
    probability ``exits[o, k]``, else moves on (the last stage always finishes).
    ``ages[k]`` is the mean age on leaving stage ``k``.
    """

    rates: np.ndarray
    exits: np.ndarray
    instant: np.ndarray
    ages: np.ndarray

    @property
    def stages(self) -> int:
        return len(self.rates)

    @property
    def cont(self) -> np.ndarray:
        return np.clip(1.0 - self.exits.sum(axis=0), 0.0, 1.0)

    def outcome(self, o: int) -> float:
        """Total probability of outcome ``o``."""
        through = 1.0 - float(self.instant.sum())
        reach = np.concatenate([[1.0], np.cumprod(self.cont)[:-1]])
        return float(self.instant[o]) + through * float(np.sum(reach * self.exits[o]))

    def cdf(self, t: np.ndarray, o: int = 0) -> np.ndarray:
        """P(finished with outcome ``o`` by age t), for tests and docs."""
        from scipy.linalg import expm

        k = self.stages
        q = np.zeros((k, k))
        for i in range(k):
            q[i, i] = -self.rates[i]
            if i + 1 < k:
                q[i, i + 1] = self.rates[i] * self.cont[i]
        exit_rate = self.rates * self.exits[o]
        through = 1.0 - float(self.instant.sum())
        out = []
        for x in np.atleast_1d(np.asarray(t, dtype=float)):
            # P(exit o by x) = integral of p(u) exit_rate du with p(u) = e0 expm(Q u)
            big = np.zeros((k + 1, k + 1))
            big[:k, :k] = q
            big[:k, k] = exit_rate
            p = expm(big * x)[0, k] if k else 0.0
            out.append(float(self.instant[o]) + through * p)
        return np.asarray(out)


def scatter(arr: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> None:
    """``arr[:, idx] += vals`` with repeated indices adding up (numpy's fancy ``+=``
    keeps only one of them)."""
    rows, width = arr.shape
    flat = (np.arange(rows)[:, None] * width + np.asarray(idx)[None, :]).ravel()
    arr += np.bincount(flat, weights=np.asarray(vals).ravel(),
                       minlength=rows * width).reshape(rows, width)


def mean_age(ch: Chain) -> float:
    """Mean time to finish a chain, for those who go through it."""
    reach = np.concatenate([[1.0], np.cumprod(ch.cont)[:-1]])
    return float(np.sum(reach / ch.rates))


def one_stage(rate: float, split: Sequence[float], instant: Sequence[float]) -> Chain:
    """An exponential delay of ``rate`` ending in outcome o with probability split[o]."""
    s = np.asarray(split, dtype=float)
    return Chain(rates=np.array([float(rate)]), exits=s.reshape(-1, 1) / max(s.sum(), 1e-300),
                 instant=np.asarray(instant, dtype=float), ages=np.array([1.0 / rate]))


def chain_from_masses(times: np.ndarray, masses: np.ndarray, n_out: int,
                       groups: int = GROUPS, budget: int = STAGE_BUDGET) -> Chain:
    """A chain for a (sub-)distribution given as point masses ``masses[o, i]`` at
    ``times[i]``: mass earlier than G_MIN / 2 finishes at once; the rest is cut into
    quantile groups whose mean ages the stages reproduce, a group far from the one
    before split into Erlang sub-stages so a sharp delay stays sharp."""
    masses = np.asarray(masses, dtype=float).reshape(n_out, -1)
    if times.size < 2 or bool((times[1:] >= times[:-1]).all()):
        # (grids come sorted: the early times are the first ones; the masses laid out time
        # by time, as a selection of times is, so they add up in the same order)
        k = int(np.searchsorted(times, G_MIN / 2, side="left"))
        instant = np.asfortranarray(masses[:, :k]).sum(axis=1)
        t, w = times[k:], np.asfortranarray(masses[:, k:])
    else:
        early = times < G_MIN / 2
        instant = masses[:, early].sum(axis=1)
        t, w = times[~early], masses[:, ~early]
        order = np.argsort(t, kind="stable")
        t, w = t[order], w[:, order]
    rest = float(w.sum())
    if rest <= 1e-12:
        return Chain(rates=np.array([MAX_RATE]), exits=np.full((n_out, 1), 1.0 / n_out),
                     instant=instant, ages=np.array([G_MIN]))
    wt = w[0].copy()  # (the outcomes' masses added in order)
    for row in w[1:]:
        wt += row
    mid = (np.cumsum(wt) - wt / 2) / rest
    gid = np.minimum((mid * groups).astype(int), groups - 1)
    # each group's masses: a run of the sorted times (gid never decreases with non-negative
    # masses), else picked one by one
    if gid.size < 2 or bool((gid[1:] >= gid[:-1]).all()):
        edges = np.searchsorted(gid, np.arange(groups + 1), side="left")
        members = [slice(int(edges[g]), int(edges[g + 1])) for g in range(groups)]
    else:
        members = [gid == g for g in range(groups)]
    found = []
    for sel in members:
        wt_g = wt[sel]
        m = wt_g.sum()
        if m <= 0:
            continue
        t_g = t[sel]
        mean = float(np.dot(wt_g, t_g) / m)
        sd = float(np.sqrt(max(np.dot(wt_g, (t_g - mean) ** 2) / m, 0.0)))
        found.append([w[:, sel].sum(axis=1), m, mean, sd])
    # merge a group into the one before when their mean ages are closer than G_MIN
    merged: list[list[Any]] = []
    for g in found:
        if merged and g[2] - merged[-1][2] < G_MIN:
            a = merged[-1]
            m = a[1] + g[1]
            mean = (a[1] * a[2] + g[1] * g[2]) / m
            var = (a[1] * (a[3] ** 2 + (a[2] - mean) ** 2)
                   + g[1] * (g[3] ** 2 + (g[2] - mean) ** 2)) / m
            merged[-1] = [a[0] + g[0], m, mean, math.sqrt(var)]
        else:
            merged.append(list(g))
    gaps = np.diff(np.concatenate([[0.0], [g[2] for g in merged]]))
    gaps = np.maximum(gaps, G_MIN)
    sds = np.array([g[3] for g in merged])
    # sub-stages: a group's own spread is small next to its gap -> sharpen it (Erlang)
    subs = np.clip(np.floor(gaps**2 / np.maximum(3 * sds**2, 1e-12)), 1, MAX_SUBSTAGES)
    subs = np.minimum(subs, np.maximum(1, np.floor(gaps / G_MIN))).astype(int)
    while subs.sum() > budget and subs.max() > 1:
        subs[np.argmax(subs)] -= 1
    rates, exits, ages = [], [], []
    left = rest
    age = 0.0
    for (mo, m, _, _), gap, n in zip(merged, gaps, subs, strict=True):
        for i in range(n):
            rates.append(n / gap)
            age += gap / n
            ages.append(age)
            if i + 1 < n:
                exits.append(np.zeros(n_out))
            else:
                exits.append(mo / left if left > 1e-300 else np.full(n_out, 1.0 / n_out))
        left -= m
    ex = np.array(exits).T
    tot = ex[:, -1].sum()
    ex[:, -1] = ex[:, -1] / tot if tot > 0 else 1.0 / n_out
    return Chain(rates=np.array(rates), exits=ex, instant=instant, ages=np.array(ages))


def _grid(hi: float) -> np.ndarray:
    """0, then a geometric grid up to ``hi`` (days)."""
    hi = max(float(hi), 1e-6)
    return np.concatenate([[0.0], np.geomspace(hi * _GRID_SPAN, hi, _GRID)])


def _cell_times(grid: np.ndarray) -> np.ndarray:
    """Representative time of each grid cell (geometric middle; the first cell's half)."""
    mid = np.sqrt(grid[1:] * np.maximum(grid[:-1], 1e-300))
    mid[0] = grid[1] / 2
    return mid


def _upper(dist: Distribution) -> float:
    return float(dist.quantile(1.0 - 1e-7))


def _quantile_points(dist: Distribution, n: int = 48) -> np.ndarray:
    """``n`` stratified quantiles of ``dist``, found on its CDF (vectorised)."""
    hi = _upper(dist)
    g = _grid(hi) if hi > 0 else np.array([0.0, 1e-9])
    c = np.asarray(dist.cdf(g), dtype=float)
    c[-1] = 1.0
    u = (np.arange(n) + 0.5) / n
    idx = np.minimum(np.searchsorted(c, u, side="left"), len(g) - 1)
    return g[idx]


#: Quadrature nodes over a person's commitment (Gauss-Legendre in its normal quantile).
COMMITMENT_NODES = 16
#: The Gauss-Legendre nodes and weights on [-1, 1] for COMMITMENT_NODES (a constant).
_LEGENDRE = np.polynomial.legendre.leggauss(COMMITMENT_NODES)
#: Nodes whose CDFs :meth:`CommittedPatience.cdf` computes at once.
_NODES_AT_ONCE = 4


class CommittedPatience:
    """Patience scaled by each person's commitment factor exp(spread z - spread^2 / 2), z
    standard normal, as a distribution over people: a mixture of the base patience scaled
    by the factor at quadrature nodes over z (Gauss-Legendre in u = Phi(z)), restricted to
    z >= ``threshold`` (a card trial's starters) and renormalised.  Only what the race
    reads: :meth:`cdf`, :meth:`quantile` (an upper bound: the largest node's), :meth:`mean`."""

    def __init__(self, base: Distribution, spread: float, threshold: float = -math.inf,
                 nodes: int = COMMITMENT_NODES) -> None:
        from statistics import NormalDist

        nd = NormalDist()
        lo = 0.0 if threshold == -math.inf else nd.cdf(threshold)
        x, w = _LEGENDRE if nodes == COMMITMENT_NODES else np.polynomial.legendre.leggauss(nodes)
        u = lo + (1.0 - lo) * (x + 1.0) / 2.0
        z = np.array([nd.inv_cdf(v) for v in u.tolist()])
        self.base = base
        self.z = z
        self.weights = w / w.sum()
        self.factors = np.exp(spread * z - 0.5 * spread * spread)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        out = np.zeros(x.size)
        # the base CDF at a few nodes' scaled x at once (small enough to stay in the cache),
        # the nodes added up in order
        for i in range(0, len(self.factors), _NODES_AT_ONCE):
            factors = self.factors[i:i + _NODES_AT_ONCE, None]
            parts = np.asarray(self.base.cdf((x.reshape(1, -1) / factors).ravel()),
                               dtype=float).reshape(len(factors), -1)
            parts *= self.weights[i:i + _NODES_AT_ONCE, None]
            for part in parts:
                out += part
        return out.reshape(x.shape)

    def quantile(self, q: float) -> float:
        return float(self.factors.max()) * float(self.base.quantile(q))

    def mean(self) -> float:
        return float(np.dot(self.weights, self.factors)) * float(self.base.mean())


@dataclass(frozen=True)
class Race:
    """The onboarding race of one kind of signup, per signup: point masses of reaching
    value (``act``) and of giving up (``abandon``) at ``times``, plus the instant ones
    (no-shows, zero TTV)."""

    times: np.ndarray
    act: np.ndarray
    abandon: np.ndarray
    instant_act: float
    instant_abandon: float

    @property
    def p_act(self) -> float:
        return self.instant_act + float(self.act.sum())


def patience_grid(patience: Distribution | CommittedPatience) -> tuple[np.ndarray, np.ndarray]:
    """The grid of the races against ``patience`` (up to its 1 - 1e-7 quantile) and the
    patience CDF on it (1 at the top): what every race against the same patience shares."""
    g = _grid(_upper(patience))
    fp = np.asarray(patience.cdf(g), dtype=float)
    fp[-1] = 1.0
    return g, fp


def onboarding_race(ttv: Distribution, patience: Distribution | CommittedPatience,
          no_show: float,
          friction: Distribution | None = None, factor: float = 1.0,
          grid: tuple[np.ndarray, np.ndarray] | None = None) -> Race:
    """TTV (x ``factor``, plus ``friction``) against patience, after the no-shows;
    ``grid``, if given, is :func:`patience_grid` of ``patience``.

    On a grid of cells: reaching value in a cell needs patience at least the cell's
    start, giving up in a cell needs a TTV beyond its end, so the two masses add up
    exactly (a summation by parts) and ties go to value, as in the DES (TTV <= patience).
    """
    if friction is not None and float(friction.quantile(1.0)) > 0:
        fr = _quantile_points(friction)
    else:
        fr = np.zeros(1)

    def cdf_t(x: np.ndarray) -> np.ndarray:
        if factor <= 0:
            return (x >= 0).astype(float)
        y = (x[None, :] - fr[:, None]) / factor
        return np.asarray(ttv.cdf(np.maximum(y, -1.0)), dtype=float).reshape(y.shape).mean(0) \
            * (x >= 0)

    g, fp = grid if grid is not None else patience_grid(patience)
    ft = cdf_t(g)
    show = 1.0 - float(no_show)
    act = np.diff(ft) * (1.0 - fp[:-1])
    ab = np.diff(fp) * (1.0 - ft[1:])
    inst_act = ft[0]
    inst_ab = fp[0] * (1.0 - ft[0])
    tot = inst_act + inst_ab + act.sum() + ab.sum()
    scale = show / tot if tot > 0 else 0.0
    return Race(times=_cell_times(g), act=act * scale, abandon=ab * scale,
                instant_act=inst_act * scale, instant_abandon=inst_ab * scale + no_show)


def race_chain(race: Race, exact: tuple[float, float] | None = None) -> Chain:
    """The chain of a race; ``exact`` = (TTV rate, patience rate) when both are
    exponential, making it one stage with the race's exact split."""
    inst = np.array([race.instant_act, race.instant_abandon])
    through = 1.0 - inst.sum()
    if exact is not None and through > 0:
        a, b = exact
        return one_stage(a + b, [a, b], inst)
    masses = np.vstack([race.act, race.abandon])
    ch = chain_from_masses(race.times, masses, 2)
    # the early masses join the instants (they were part of ``through`` above)
    return Chain(rates=ch.rates, exits=ch.exits, instant=inst + ch.instant, ages=ch.ages)


def delay_chain(dist: Distribution, allow_instant: bool = True) -> Chain:
    """A plain delay (one outcome) as a chain: exact for an exponential."""
    if isinstance(dist, Exponential) and dist.mean() > 0:
        # exact (one stage), unless faster than MAX_RATE: then stretched to that
        return one_stage(min(1.0 / dist.mean(), MAX_RATE), [1.0], [0.0])
    hi = _upper(dist)
    g = _grid(hi)
    f = np.asarray(dist.cdf(g), dtype=float)
    f[-1] = 1.0
    masses = np.concatenate([[f[0]], np.diff(f)])
    times = np.concatenate([[0.0], _cell_times(g)])
    ch = chain_from_masses(times, masses, 1)
    if not allow_instant and ch.instant.sum() > 0:
        # finish "instant" mass in the first stage instead (no instant transitions)
        inst = float(ch.instant.sum())
        reach = 1.0 - inst
        ex = ch.exits.copy()
        ex[0, 0] = (inst + reach * ex[0, 0])
        return Chain(rates=ch.rates, exits=ex, instant=np.zeros(1), ages=ch.ages)
    return ch


def tenure_chain(tenure: Tenure) -> tuple[Chain | None, float]:
    """The seats' tenure: ``(None, hazard per day)`` for a constant hazard, else a chain
    fitted to the Weibull tenure of the DES (:class:`flywheel.scenario.settings.Tenure`), with the
    hazard -ln(1 - c) per month beside it; a certain churn is the fastest rate, MAX_RATE."""
    c = tenure.churn_monthly
    if c <= 0:
        return None, 0.0
    if c >= 1:
        return None, MAX_RATE
    lam = tenure.hazard
    k = tenure.shape
    if tenure.constant:
        return None, lam
    scale = tenure.scale
    hi = min(scale * (-math.log(1e-7)) ** (1.0 / k), 3.0e4)
    g = _grid(hi)
    f = 1.0 - np.exp(-(g / scale) ** k)
    masses = np.concatenate([np.diff(f), [1.0 - f[-1]]])
    times = np.concatenate([_cell_times(g), [hi * 2]])
    # one chain for all seats: it can afford fine groups (churn matters month by month)
    ch = chain_from_masses(times, masses, 1, groups=TENURE_GROUPS, budget=TENURE_GROUPS * 2)
    if ch.instant.sum() > 0:
        ex = ch.exits.copy()
        ex[0, 0] = float(ch.instant.sum()) + (1 - float(ch.instant.sum())) * ex[0, 0]
        ch = Chain(rates=ch.rates, exits=ex, instant=np.zeros(1), ages=ch.ages)
    return ch, lam
