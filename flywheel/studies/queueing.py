"""Closed forms of the sales queue: Erlang C (no abandonment) and Erlang-A (patience).

The sales team is a queue with ``c`` servers (reps x deal slots), Poisson lead
arrivals at rate ``lam``, exponential work times at rate ``mu`` per server and,
for Erlang-A, exponential patience at rate ``theta``.  These are the values the
model must reproduce in that degenerate case (``tests/test_sales.py`` and the
validation suite check them).

* Erlang C (Kleinrock 1975, *Queueing Systems* vol. 1, section 3.5):
  P(wait > 0) = C(c, a) with a = lam / mu, and W_q = C(c, a) / (c mu - lam).
* Erlang-A (Palm 1943; Garnett, Mandelbaum & Reiman 2002, MSOM 4(3)): the
  birth-death chain with birth rate lam and death rate min(n, c) mu +
  max(n - c, 0) theta in state n, solved numerically; the share of leads that
  abandon is theta E[queue] / lam, and by Little's law W_q = E[queue] / lam.
"""

from __future__ import annotations

import numpy as np


def erlang_c(c: int, a: float) -> float:
    """Probability that an arriving lead waits, for ``c`` servers and offered load ``a``
    (= lam / mu, in servers; needs a < c)."""
    if c < 1:
        raise ValueError(f"servers (={c}) must be >= 1")
    if not 0 <= a < c:
        raise ValueError(f"offered load (={a}) must be in [0, servers={c}) for a steady state")
    # C = P(N = c) c/(c - a) / (P(N < c) + P(N = c) c/(c - a)) with N ~ Poisson(a)
    from scipy import stats

    tail = stats.poisson.pmf(c, a) * c / (c - a)
    return float(tail / (stats.poisson.cdf(c - 1, a) + tail))


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue W_q = C(c, a) / (c mu - lam) (same time unit as 1 / lam)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def erlang_a(c: int, lam: float, mu: float, theta: float,
             tol: float = 1e-12) -> tuple[float, float, float]:
    """(P(wait > 0), mean wait of all leads, share that abandon) for M/M/c+M."""
    if theta <= 0:
        pw = erlang_c(c, lam / mu)
        return pw, pw / (c * mu - lam), 0.0
    # truncate the chain where the stationary mass is negligible
    n_max = c + 10
    while True:
        n = np.arange(n_max + 1)
        death = np.minimum(n, c) * mu + np.maximum(n - c, 0) * theta
        logp = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(death[1:]))])
        p = np.exp(logp - logp.max())
        p /= p.sum()
        if p[-1] < tol or n_max > 1_000_000:
            break
        n_max *= 2
    queue = float(np.sum(np.maximum(n - c, 0) * p))
    return float(p[c:].sum()), queue / lam, theta * queue / lam


__all__ = ["erlang_a", "erlang_c", "erlang_c_wait"]
