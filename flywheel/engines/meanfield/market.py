"""The market by company size: the sizes the simulation draws, grouped into bins."""

from __future__ import annotations

import math

import numpy as np

from flywheel.scenario.distributions import Distribution
from flywheel.scenario.settings import size_pmf

#: Ratio of the company-size bins (sizes 1, 2, 3, then 4-12, 13-39, ... for ratio 3), and
#: the least share of the companies a bin holds (the tail beyond is one bin).
SIZE_RATIO = 3.0
MIN_BIN_SHARE = 1e-4


#: The longest product OpenBLAS computes on the calling thread; a longer one it shares out
#: among its threads.
BLAS_ONE_THREAD = 10_000


# -- the market ----------------------------------------------------------------------------

def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a . b`` without waking BLAS's threads: a product longer than BLAS_ONE_THREAD (and
    up to twice that) as two halves, each computed on the calling thread, added up; that is
    the sum two BLAS threads give, each taking a half.  (Woken, the threads spin for a
    while after the product: on a busy machine that costs the rest of the twin's
    construction and its solution several times their own time.)"""
    n = len(a)
    if n <= BLAS_ONE_THREAD or n > 2 * BLAS_ONE_THREAD:
        return float(np.dot(a, b))
    half = (n + 1) // 2
    return float(np.dot(a[:half], b[:half]) + np.dot(a[half:], b[half:]))


def size_histogram(dist: Distribution) -> tuple[np.ndarray, np.ndarray]:
    """Company sizes (as floats) and their probabilities, as the simulation draws them
    (:meth:`flywheel.scenario.settings.Market.size_pmf`)."""
    sizes, pmf = size_pmf(dist)
    return sizes.astype(float), pmf


def size_bins(sizes: np.ndarray, pmf: np.ndarray,
               companies: float = math.inf) -> list[tuple[float, float]]:
    """Bins of company sizes: 1, 2, 3 alone, then ratio SIZE_RATIO; the tail holding
    less than MIN_BIN_SHARE of the companies (a share, so the bins are the same at any
    market size), or less than one company of ``companies``, joins the bin below."""
    edges = [1.0, 2.0, 3.0, 4.0]
    largest = sizes.max()
    while edges[-1] <= largest:
        edges.append(math.floor(edges[-1] * SIZE_RATIO) + 1.0)
    edges[-1] = math.inf
    ordered = sizes.size < 2 or bool((sizes[1:] >= sizes[:-1]).all())

    def within(lo: float, hi: float) -> slice | np.ndarray:
        """The sizes from lo up to hi: a run of them if they are sorted (as
        :func:`size_histogram` gives them)."""
        if ordered:
            return slice(*np.searchsorted(sizes, [lo, hi], side="left").tolist())
        return (sizes >= lo) & (sizes < hi)

    bins = [[lo, hi] for lo, hi in zip(edges[:-1], edges[1:], strict=True)
            if sizes[within(lo, hi)].size]
    while len(bins) > 1:
        lo, hi = bins[-1]
        share = pmf[within(lo, hi)].sum()
        if share >= MIN_BIN_SHARE and share * companies >= 1.0:
            break
        bins.pop()
        bins[-1][1] = math.inf
    return [(lo, hi) for lo, hi in bins]


def representatives(sizes: np.ndarray, counts: np.ndarray, exact_up_to: float = 200.0,
                     ratio: float = 1.02) -> tuple[np.ndarray, np.ndarray]:
    """Sizes above ``exact_up_to`` grouped within ``ratio``: each group keeps its companies
    and its people (representative size = people / companies)."""
    small = sizes <= exact_up_to
    rs, rn = [sizes[small]], [counts[small]]
    big_s, big_n = sizes[~small], counts[~small]
    if len(big_s):
        key = np.floor(np.log(big_s / exact_up_to) / math.log(ratio)).astype(int)
        if bool((key[1:] >= key[:-1]).all()):  # sorted sizes: a group is a run of keys
            group = np.concatenate([[0], np.cumsum(key[1:] != key[:-1])])
        else:
            group = np.unique(key, return_inverse=True)[1]
        n = np.bincount(group, weights=big_n)
        people = np.bincount(group, weights=big_s * big_n)
        held = n > 0
        rs.append(people[held] / n[held])
        rn.append(n[held])
    return (np.concatenate(rs).astype(float, copy=False),
            np.concatenate(rn).astype(float, copy=False))


