"""How much work a run will be, estimated from the scenario before simulating.

:func:`estimate` reads a scenario's numbers and, in closed form (about a
millisecond of arithmetic: no simulation, no sampling), predicts per replication
the contacts, the signups, the busiest day's contacts (``Model._contacts``
allocates numpy arrays of that length), and from them the peak memory of a
worker and the CPU seconds.  :func:`check` refuses a run that would need more
memory per worker than :data:`LIMIT_MEMORY` or longer than :data:`LIMIT_SECONDS`
in all, unless the caller allows large runs.

The estimate (``H`` the horizon in days, ``m`` a month in days):

* **Market**: ``M = companies x mean team size`` people.  Contacts reach random people,
  so a company of size ``s`` is still untouched with probability ``exp(-s theta)``,
  where ``theta`` counts company-founding contacts per person of the market; this gives
  the share ``nu`` of founding contacts that reach an untouched company, and the mean
  size of the companies touched (both from a quantile grid of the size distribution).
* **Direct contacts** ``D = organic x m ((1+g)^(H/m) - 1) / ln(1+g) + paid_budget /
  cost_per_contact x H``.  They become signups, except that a contact reaching a new
  company starts with the offer's share (``starter_share``: a trial's, times the card's),
  except in the companies sold sales-led (every one in a sales-led motion; in the hybrid,
  the share ``e`` of the market's people in companies above its enterprise size): there
  none does, a share ``inbound_share`` of them (with outbound leads) become leads,
  ``min(leads, servers x H / mean cold cycle) x close_base`` of them contracts (a cold
  lead has no footprint), times the share of buying units valuing a seat at the contract
  price (willingness to pay), each rolling out the buying unit of a company of the mean
  touched size (``Sales.contract_seats``).
* **Flywheel**: an activated user brings ``K = mean invites x acceptance`` invitees and
  ``rho = referral x L_H`` word-of-mouth contacts, ``L_H`` the mean active time within
  the horizon of a user seated at a uniform time (``L`` the mean Weibull tenure from
  ``retention.churn_monthly``).  Activation ``a = (1 - no_show) P(ttv <= patience)``
  (fresh signups with setup friction; invitees with the invited TTV factor), so the
  reproduction number is ``R = a_direct rho + a_invited K``.  Activated users number
  ``Y = Y0 (1 + R (1 - avg R^(u/T)) / (1 - R))``: the generations that fit in the time
  ``u`` left after a seed (``T`` the mean generation time, ``u`` uniform on ``[0, H]``),
  which is ``Y0 / (1 - R)`` for a long horizon and stays finite (growing like
  ``R^(H/T)``) when ``R >= 1``.
* **Trial ends** (``pricing.model = "trial"``; a reverse trial keeps its free tier): a
  team buys with probability ``c = a_direct x`` the trial's conversion probability (it
  needs an active user at the end); the others lose the product, so their generations
  stop at the trial's length, ``Y = c Y_H + (1 - c) Y0 (1 + R + ... + R^(length / T))``,
  and a contact reaching a company already touched signs up only if it is open: bought,
  or buying again when someone new comes (``c + (1 - c) upgrade_probability``).
* **Saturation**: signups ``S = M (1 - exp(-S_free / M))`` of the unsaturated
  ``S_free = D_signups + rollouts + (K + rho) Y``; word-of-mouth contacts are
  ``referral x L_H x`` the activated users, whether or not they find anyone left.

Not modelled (each makes the estimate a little high, or misses a little work):
seat limits and paywalls, company sizes capping invites, product-qualified leads.
Checked against every shipped scenario in ``tests/test_workload.py`` (signups within a
factor of 3 of measured, contacts within a factor of 1.5).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.settings import Settings

__all__ = [
    "LARGE_SECONDS",
    "LIMIT_MEMORY",
    "LIMIT_SECONDS",
    "Estimate",
    "WorkloadError",
    "check",
    "estimate",
]

# -- cost coefficients -----------------------------------------------------------------
# Measured on the development machine (2 cores, Python 3.11, one replication in one
# process, CPU time from time.process_time, peak memory from ru_maxrss): the 15 shipped
# scenarios at their own horizons (3k-55k signups), the baseline scaled to 100k, 300k and
# 1M signups in a year (bench/bench_scale.py's overrides), the baseline with
# acquisition.paid_budget = "1e9/week" and "3e8/week" for 3-60 days (up to 4.8M contacts
# a day, nearly all lost to a saturated market), and 10-year runs with ~1 contact a
# week.  CPU seconds were fitted by non-negative least squares on signups by channel,
# contacts and days (model run plus every metric, series, funnel and cohort table), then
# rounded; the fit is within a factor of 1.5 of each run of 0.5 s or more.

#: CPU seconds per signup from a contact (organic, paid, word of mouth): numpy batches.
SECONDS_PER_DIRECT_SIGNUP = 8e-6
#: CPU seconds per invited or rolled-out signup: one Python calendar event each.
SECONDS_PER_INVITED_SIGNUP = 21e-6
#: CPU seconds per contact, signed up or lost (drawing and placing it in the market):
#: 0.27-0.53 measured, the most at 4.8M contacts a day for 60 days (286M contacts, 152 s).
SECONDS_PER_CONTACT = 0.5e-6
#: CPU seconds per simulated day (the daily SimPy step and its Poisson draws).
SECONDS_PER_DAY = 50e-6
#: CPU seconds of a replication whatever its size (market histogram, metrics set-up).
SECONDS_BASE = 0.05

#: Resident memory of a worker before its replication (Python, numpy, scipy, SimPy and
#: flywheel imported): ~100 MiB measured.
MEMORY_BASE = 110 * 2**20
#: Bytes per signup at the peak: user and team columns, calendar entries, metric
#: temporaries (measured 160-190 at 100k-1M signups).
BYTES_PER_SIGNUP = 190
#: Bytes per contact of the busiest day: the day-length numpy arrays of
#: ``Model._contacts`` (fitted on 0.5M-4.8M contacts a day: ~120 bytes each plus ~60 MiB,
#: rounded up to cover the fixed part on the smaller days).
BYTES_PER_DAY_CONTACT = 160

# -- limits ----------------------------------------------------------------------------


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None


_RAM = _physical_memory()
#: Refuse a run whose estimated peak memory per worker exceeds this: 4 GiB, or half the
#: machine's physical memory if that is less.
LIMIT_MEMORY: int = min(4 * 2**30, _RAM // 2) if _RAM else 4 * 2**30
#: Refuse a run whose estimated time in all (replications spread over the jobs) exceeds
#: this many seconds.
LIMIT_SECONDS: float = 3600.0
#: Above this many seconds in all, callers print the estimate before running.
LARGE_SECONDS: float = 30.0

#: Quantile bins of the team-size distribution (denser in the tail, which holds the
#: large companies that contacts, being people, reach first); the model drops the top
#: 1e-7 too (``flywheel.engines.model._size_histogram``).
_SIZE_EDGES = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99,
                        0.995, 0.999, 0.9995, 0.9999, 1 - 1e-5, 1 - 1e-6, 1 - 1e-7])
#: Quantile midpoints for durations (time to value, friction, patience).
_DURATION_Q = (np.arange(32) + 0.5) / 32
#: Cap on the flywheel multiplier (a supercritical flywheel saturates the market anyway).
_MULT_CAP = 1e30


class WorkloadError(ValueError):
    """A run too large to start without being asked to: one line for the user."""


@dataclass(frozen=True)
class Estimate:
    """Expected work of one replication (``memory_bytes`` is a worker's peak)."""

    signups: float
    contacts: float
    peak_day_contacts: float
    memory_bytes: float
    seconds: float
    #: The parameter that brings most of the work (the channel with most contacts, or
    #: invites), named in a refusal.
    driver: str = "acquisition.organic"

    def total_seconds(self, replications: int, jobs: int) -> float:
        """Wall time of ``replications`` spread over ``jobs`` worker processes."""
        n = max(int(replications), 0)
        j = max(1, min(int(jobs or 1), max(n, 1)))
        return self.seconds * math.ceil(n / j)

    def describe(self, replications: int, jobs: int) -> str:
        """One readable line: signups, contacts, memory per worker, time in all."""
        j = max(1, min(int(jobs or 1), max(int(replications), 1)))
        return (f"~{_count(self.signups)} signups and ~{_count(self.contacts)} contacts per "
                f"replication, ~{_bytes(self.memory_bytes)} peak memory per worker, "
                f"~{format_seconds(self.total_seconds(replications, j))} in all on {j} "
                f"job{'s' if j != 1 else ''}")


def estimate(scenario: Any, horizon: float | None = None) -> Estimate:
    """Estimate the work of one replication of ``scenario`` (a Scenario, its
    :class:`~flywheel.scenario.settings.Settings`, or a mapping of parameter paths to converted
    values) at ``horizon`` days (default: its own)."""
    st = Settings.of(scenario, horizon)
    H = st.horizon
    servers = st.sales.servers

    # -- contacts the acquisition process draws, and the busiest day's ------------------
    organic = st.acquisition.organic
    growth = st.acquisition.organic_growth
    paid = st.acquisition.paid_contacts
    referral = st.acquisition.referral
    outbound = st.sales.outbound_rate
    D = _organic_total(organic, growth, H) + paid * H
    peak_rate = organic * _growth_peak(growth, H) + paid
    leads_out = outbound * H

    # -- the market: how much of it founding contacts find untouched --------------------
    companies = float(st.market.companies)
    sizes, weights = _size_atoms(st.market.team_size)
    M = companies * float(st.market.team_size.mean())
    M_atoms = companies * float(weights @ sizes)
    kappa = st.starter_share  # new company: keeps going
    # the share of the market's people in companies sold sales-led: all of them in a
    # sales-led motion, the hybrid's large ones, none otherwise
    people = weights * sizes
    e = float(people[sizes > st.sales_led_above].sum() / people.sum()) if people.sum() else 0.0
    found = e * st.sales.inbound_share + (1.0 - e) * kappa
    theta = (found * D + leads_out) / max(M_atoms, 1e-300)
    touched = companies * float(weights @ -np.expm1(-sizes * theta))  # companies touched
    touched_people = companies * float(weights @ (sizes * -np.expm1(-sizes * theta)))
    nu = touched / (M_atoms * theta) if theta > 0 else 1.0  # untouched share, on average
    nu = min(max(nu, 0.0), 1.0)
    mean_touched = touched_people / touched if touched > 0 else float(weights @ sizes)

    # -- activation and the flywheel's reproduction ---------------------------------------
    onb = st.onboarding
    no_show = onb.no_show
    ttv = onb.effective_ttv
    patience = onb.patience
    friction = onb.setup_friction if onb.friction_applies else None  # first signups only
    a_new, t_new = _activation(ttv, friction, patience)
    a_join, t_join = _activation(ttv, None, patience)
    a_inv, t_inv = _activation(ttv.scaled(onb.invited_ttv_factor), None, patience)
    new_share = nu * kappa / (nu * kappa + 1.0 - nu) if nu * kappa + 1 - nu > 0 else 1.0
    a_d = (1 - no_show) * (new_share * a_new + (1 - new_share) * a_join)
    t_d = new_share * t_new + (1 - new_share) * t_join
    a_i = (1 - no_show) * a_inv

    lifetime = st.retention.tenure.mean
    L_H = _time_in_horizon(lifetime, H)
    K = st.collaboration.invites_mean * st.collaboration.acceptance
    # A trial that ends without a purchase (not a reverse trial) closes its company: its
    # flywheel stops at the trial's end, and later contacts into it are turned away unless
    # it buys when they come.  Buying needs an active user at the end: the founder's
    # activation times the trial's conversion probability.
    ends = st.pricing.model == "trial"
    bought = a_d * st.trial_convert_probability if ends else 1.0
    open_share = bought + (1.0 - bought) * st.pricing.upgrade_probability if ends else 1.0
    # (the share e of contacts reaching a company sold sales-led signs no one up)
    reach = (1.0 - e) * (nu * kappa + (1.0 - nu) * open_share)
    rho = referral * L_H * reach
    R = a_d * rho + a_i * K
    if R > 0:
        t_gen = (a_i * K * (t_inv + float(st.collaboration.invite_delay.mean()))
                 + a_d * rho * (t_d + L_H / 2)) / R
    else:
        t_gen = H

    # -- seeds: signups from contacts, and seats rolled out by contracts -----------------
    d0 = D * reach
    leads = leads_out + e * st.sales.inbound_share * nu * D
    contracts = 0.0
    if servers:
        cycle = max(float(st.sales.cold_cycle.mean()), 1e-9)
        contracts = min(leads, servers * H / cycle) * st.sales.close_probability(0, 0)
    seats = float(st.sales.contract_seats(0, mean_touched))
    # (a deal is signed only by a buying unit that values a seat at the contract's price)
    unit = max(seats, min(mean_touched, float(st.sales.buying_unit)))
    contracts *= float(st.pricing.buy_share(st.sales.price_per_seat, unit))
    i0 = contracts * seats

    Y0 = a_d * d0 + a_i * i0
    N = H / max(t_gen, 1e-9)
    Y = Y0 * _multiplier(R, N)
    if ends:  # the teams that do not buy grow only for the trial's length
        window = min(st.trial.length, H) / max(t_gen, 1e-9)
        Y = bought * Y + (1.0 - bought) * Y0 * _window_multiplier(R, window)
    x_d, x_i = d0 + rho * Y, i0 + K * Y
    free = x_d + x_i
    signups = M * -math.expm1(-free / M) if M > 0 and free > 0 else 0.0
    share = signups / free if free > 0 else 0.0
    a_mix = (a_d * x_d + a_i * x_i) / free if free > 0 else 0.0
    active = min(Y, a_mix * signups)  # activated users, counting saturation

    # -- contacts, the busiest day, memory and time --------------------------------------
    contacts = D + referral * L_H * active
    n_active_peak = active * min(1.0, lifetime / H) if H > 0 else 0.0
    peak_rate += referral * n_active_peak
    peak_day = peak_rate + 4.0 * math.sqrt(peak_rate)  # a Poisson day, high side
    memory = MEMORY_BASE + BYTES_PER_SIGNUP * signups + BYTES_PER_DAY_CONTACT * peak_day
    seconds = (SECONDS_BASE + SECONDS_PER_DAY * H + SECONDS_PER_CONTACT * contacts
               + SECONDS_PER_DIRECT_SIGNUP * x_d * share
               + SECONDS_PER_INVITED_SIGNUP * x_i * share)
    # what drives the work most, in contact-equivalents of CPU time
    per_signup = SECONDS_PER_DIRECT_SIGNUP / SECONDS_PER_CONTACT
    organic_total = _organic_total(organic, growth, H)
    shares = {
        "acquisition.organic": organic_total * (1 + per_signup * share * reach),
        "acquisition.paid_budget": paid * H * (1 + per_signup * share * reach),
        "acquisition.referral": referral * L_H * active * (1 + per_signup * share * reach),
        "collaboration.invites": x_i * share * SECONDS_PER_INVITED_SIGNUP / SECONDS_PER_CONTACT,
        "sales.outbound": leads_out,
    }
    driver = max(shares, key=lambda k: shares[k])
    return Estimate(signups=signups, contacts=contacts, peak_day_contacts=peak_day,
                    memory_bytes=memory, seconds=seconds, driver=driver)


def check(scenario: Any, replications: int, jobs: int, horizon: float | None = None,
          allow_large: bool = False) -> Estimate:
    """The estimate of a run, or :class:`WorkloadError` if it exceeds :data:`LIMIT_MEMORY`
    per worker or :data:`LIMIT_SECONDS` in all (unless ``allow_large``)."""
    est = estimate(scenario, horizon)
    if allow_large:
        return est
    over = []
    if est.memory_bytes > LIMIT_MEMORY:
        over.append(f"memory per worker over the {_bytes(LIMIT_MEMORY, approx=False)} limit")
    total = est.total_seconds(replications, jobs)
    if total > LIMIT_SECONDS:
        over.append(f"time over the {format_seconds(LIMIT_SECONDS)} limit")
    if over:
        where = ""
        sources = getattr(scenario, "sources", None)
        raw = getattr(scenario, "raw", None)
        if sources is not None and raw is not None:
            from flywheel.scenario.files import toml_value

            source = sources.get(est.driver, "default")
            where = (f"{source}: " if source != "default" else
                     f"{getattr(scenario, 'name', 'scenario')}: ")
            where += f"{est.driver} = {toml_value(raw.get(est.driver))}: "
        raise WorkloadError(f"{where}the run is too large ({' and '.join(over)}): "
                            f"{est.describe(replications, jobs)}; pass --allow-large to "
                            f"run it anyway")
    return est


# -- pieces --------------------------------------------------------------------------------


def _organic_total(rate: float, growth: float, H: float) -> float:
    """Organic contacts over ``[0, H]`` at ``rate (1+growth)^(t/month)``."""
    if rate <= 0 or H <= 0:
        return 0.0
    if growth <= -1:
        return 0.0
    k = math.log1p(growth) / DAYS_PER_MONTH  # per day
    if abs(k * H) < 1e-9:
        return rate * H
    if k * H > 700:
        return math.inf
    return rate * math.expm1(k * H) / k


def _growth_peak(growth: float, H: float) -> float:
    """Largest factor ``(1+growth)^(t/month)`` over the horizon."""
    if growth <= 0:
        return 1.0
    x = math.log1p(growth) * H / DAYS_PER_MONTH
    return math.exp(min(x, 700.0))


def _size_atoms(dist: Any) -> tuple[np.ndarray, np.ndarray]:
    """Team sizes as weighted atoms (one per quantile bin, rounded, at least 1)."""
    lo, hi = _SIZE_EDGES[:-1], _SIZE_EDGES[1:]
    sizes = np.array([max(1.0, round(float(dist.quantile(q)))) for q in (lo + hi) / 2])
    w = hi - lo
    return sizes, w / w.sum()


def _activation(ttv: Any, friction: Any | None, patience: Any) -> tuple[float, float]:
    """P(ttv (+ friction) <= patience), and the mean time to value of those who make it."""
    x = np.array([float(ttv.quantile(q)) for q in _DURATION_Q])
    if friction is not None:
        f = np.array([float(friction.quantile(q)) for q in _DURATION_Q])
        x = (x[:, None] + f[None, :]).ravel()
    x = x[np.isfinite(x)]
    if not len(x):
        return 0.0, 0.0
    stay = 1.0 - np.asarray(patience.cdf(x), dtype=float)
    # patience below ttv means giving up; a tie (both 0) counts as reaching value
    stay = np.where(x <= 0, 1.0, stay)
    p = float(stay.mean())
    t = float((x * stay).sum() / stay.sum()) if p > 0 else 0.0
    return p, t


def _time_in_horizon(lifetime: float, H: float) -> float:
    """Mean active time before the horizon of a user seated at a uniform time in [0, H],
    with an exponential tenure of mean ``lifetime``."""
    if H <= 0 or lifetime <= 0:
        return 0.0
    if not math.isfinite(lifetime) or lifetime > 1e6 * H:
        return H / 2
    return lifetime * (1.0 - lifetime / H * -math.expm1(-H / lifetime))


def _window_multiplier(R: float, n: float) -> float:
    """Activated users per activated seed when every seed has ``n`` generation times to
    reproduce (a trial's length): ``1 + R + ... + R^n``, continuous in ``n``."""
    if R <= 0 or n <= 0:
        return 1.0
    if abs(R - 1.0) < 1e-9:
        return 1.0 + n
    return min(1.0 + R * (1.0 - R ** n) / (1.0 - R), _MULT_CAP)


def _multiplier(R: float, N: float) -> float:
    """Activated users per activated seed: generations of reproduction ``R`` that fit in
    ``u / T`` with ``u`` uniform on ``[0, H]`` and ``N = H / T``."""
    if R <= 0 or N <= 0:
        return 1.0
    lnR = math.log(R)
    x = N * lnR
    if abs(x) < 1e-9:
        return 1.0 + R * N / 2  # R = 1: on average N/2 generations
    if x > 690:
        return _MULT_CAP
    avg = math.expm1(x) / x  # mean of R^(u/T)
    return min(1.0 + R * (1.0 - avg) / (1.0 - R), _MULT_CAP)


# -- formatting -----------------------------------------------------------------------------


def _sig(x: float) -> str:
    """Two significant digits below 10 (``"1.2"``, ``"3"``), whole numbers above."""
    text = f"{x:.1f}" if x < 10 else f"{x:.0f}"
    return text[:-2] if text.endswith(".0") else text


def _count(x: float) -> str:
    """``1234567`` -> ``"1.2M"``."""
    if not math.isfinite(x):
        return "unbounded"
    for unit, size in (("e12", 1e12), ("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= size:
            if unit == "e12":
                return f"{x:.1e}"
            return f"{_sig(x / size)}{unit}"
    return f"{x:.0f}"


def _bytes(x: float, approx: bool = True) -> str:
    """``1.2e9`` -> ``"1.1 GiB"``."""
    if not math.isfinite(x):
        return "unbounded"
    for unit, size in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if x >= size or unit == "MiB":
            v = x / size
            if unit == "PiB" and v >= 1000:
                return f"{x:.1e} bytes"
            return f"{_sig(v) if approx else f'{v:g}'} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_seconds(s: float) -> str:
    """Seconds as ``"40 s"``, ``"4 min"``, ``"2.5 h"``, ``"3 days"``, ``"2 years"``."""
    if not math.isfinite(s):
        return "forever"
    if s < 90:
        return f"{max(s, 1):.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{_sig(s / 3600)} h"
    if s < 730 * 86400:
        return f"{s / 86400:.0f} days"
    years = s / (365.25 * 86400)
    return f"{years:.0f} years" if years < 1e6 else f"{years:.1e} years"
