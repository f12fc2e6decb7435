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


# -- the market ----------------------------------------------------------------------------

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
    while edges[-1] <= sizes.max():
        edges.append(math.floor(edges[-1] * SIZE_RATIO) + 1.0)
    edges[-1] = math.inf
    bins = [[lo, hi] for lo, hi in zip(edges[:-1], edges[1:], strict=True)
            if np.any((sizes >= lo) & (sizes < hi))]
    while len(bins) > 1:
        lo, hi = bins[-1]
        share = pmf[(sizes >= lo) & (sizes < hi)].sum()
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
    rs, rn = list(sizes[small]), list(counts[small])
    big_s, big_n = sizes[~small], counts[~small]
    if len(big_s):
        key = np.floor(np.log(big_s / exact_up_to) / math.log(ratio)).astype(int)
        group = np.unique(key, return_inverse=True)[1]
        n = np.bincount(group, weights=big_n)
        people = np.bincount(group, weights=big_s * big_n)
        held = n > 0
        rs += list(people[held] / n[held])
        rn += list(n[held])
    return np.asarray(rs, dtype=float), np.asarray(rn, dtype=float)


