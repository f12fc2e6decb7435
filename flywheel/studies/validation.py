"""The validation suite: the closed forms the model must reproduce, and the published ranges.

Two kinds of evidence, run by ``flywheel validate --suite`` and written to
``docs/validation.md`` by ``python -m flywheel.outputs.validation_report --docs``:

* **Closed-form checks** (:data:`CHECKS`).  In a limiting case where theory gives
  the answer (word of mouth alone, invites alone, churn alone), the model is run
  over replications and its mean, with a 95% CI, is compared with the analytic
  value within a stated tolerance.  Each check passes or fails; a failure means
  the model no longer does what its documentation says.
* **Published ranges** (:data:`PUBLISHED`).  The shipped scenarios' measured
  figures beside the practitioner ranges in DESIGN, with their sources.  These
  are ranges, not laws: each is reported inside, on the edge of, or outside its
  band, and never fails the suite (a known miss stays visible, not hidden).

Adding a check is one decorated function::

    @check("erlang_c", title="Sales queue: Erlang C", mechanism="...",
           closed_form="W_q = C(c, λ/μ) / (cμ − λ)", citation="Kleinrock 1975",
           replications=8)
    def erlang_c(ctx: Context) -> Measurement:
        sc = ctx.scenario([...])            # the set-up the closed form assumes
        values = ctx.replicate(sc, reduce)  # one reduced value per replication
        return Measurement(...)

A check builds its scenario from the shipped baseline plus overrides that make
the closed form exact, computes the analytic value from that scenario, and runs
replications of it (with ``ctx.perturb`` applied on top: tests use it to show
that a check fails when the model is made wrong).  Seeds are fixed; replication
*i* uses the *i*-th child of the check's seed whichever worker runs it, so the
suite gives the same numbers for any number of worker processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import integrate, optimize, special, stats

from flywheel.engines.model import Model, Outcome
from flywheel.engines.rng import replication_seeds
from flywheel.metrics import METRICS, mean_ci
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.distributions import Distribution
from flywheel.scenario.files import Scenario, load_scenario, parse_set
from flywheel.scenario.settings import Settings
from flywheel.studies.queueing import erlang_a, erlang_c, erlang_c_wait
from flywheel.studies.runner import simulate, worker_pool
from flywheel.version import __version__

__all__ = [
    "CHECKS",
    "PLANNED",
    "PUBLISHED",
    "SEED",
    "Band",
    "BandResult",
    "Check",
    "CheckResult",
    "Context",
    "Curve",
    "Measurement",
    "Suite",
    "check",
    "euler_lotka_rate",
    "expected_signups",
    "format_number",
    "laplace_transform",
    "measure_bands",
    "run_check",
    "run_suite",
]

#: Root seed of every check (each check's replication i uses child i of it).
SEED = 2026
#: Replications of each shipped scenario measured against the published ranges.
BAND_REPLICATIONS = 20
#: Root seed of the published-range runs: the shipped scenarios' own default seed.
BAND_SEED = 20261123
#: The name ``--check`` takes for the published-range comparison.
BANDS = "bands"


# -- results ---------------------------------------------------------------------------------


@dataclass
class Curve:
    """A simulated curve (mean and 95% CI of the mean across replications) beside its
    analytic counterpart.  ``tolerance`` (one value per point, or None when the curve
    is shown but not judged) bounds |simulated mean − analytic| at every point."""

    x: np.ndarray
    analytic: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    x_label: str
    y_label: str
    analytic_label: str
    log_y: bool = False
    tolerance: np.ndarray | None = None
    window: tuple[float, float] | None = None  # a fitting window to shade, if any

    @property
    def max_deviation(self) -> float:
        """Largest |simulated mean − analytic| over the curve."""
        d = np.abs(self.mean - self.analytic)
        return float(np.nanmax(d)) if np.isfinite(d).any() else math.nan

    @property
    def within(self) -> bool:
        """Every point within its tolerance (True when the curve is not judged)."""
        if self.tolerance is None:
            return True
        return bool(np.all(np.abs(self.mean - self.analytic) <= self.tolerance))

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("x_label", "y_label", "analytic_label", "log_y")}
        for k in ("x", "analytic", "mean", "lo", "hi", "tolerance"):
            v = getattr(self, k)
            out[k] = None if v is None else [float(a) for a in np.asarray(v, dtype=float)]
        out["window"] = list(self.window) if self.window else None
        out["max_deviation"] = self.max_deviation
        out["within_tolerance"] = self.within
        return out


@dataclass
class Measurement:
    """What a check function returns: the quantity it judges, its analytic value, one
    simulated value per replication, the tolerance and why, and the curve to plot."""

    quantity: str
    unit: str
    analytic: float
    values: list[float]
    tolerance: float
    tolerance_note: str
    setup: str
    overrides: Sequence[str] = ()
    inject: str = ""
    curve: Curve | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    """One closed-form check: what it checks, from where, and how the model did."""

    name: str
    title: str
    mechanism: str
    closed_form: str
    citation: str
    quantity: str
    unit: str
    analytic: float
    mean: float
    lo: float
    hi: float
    values: list[float]
    tolerance: float
    tolerance_note: str
    setup: str
    overrides: list[str]
    inject: str
    replications: int
    seed: int
    perturb: list[str]
    curve: Curve | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = math.nan

    @property
    def deviation(self) -> float:
        """Simulated mean − analytic value."""
        return self.mean - self.analytic

    @property
    def passed(self) -> bool:
        """|simulated mean − analytic| within the tolerance, and the curve (if judged)
        within its own at every point.  Computed from the numbers, never stored."""
        return (math.isfinite(self.mean) and abs(self.deviation) <= self.tolerance
                and (self.curve is None or self.curve.within))

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (
            "name", "title", "mechanism", "closed_form", "citation", "quantity", "unit",
            "analytic", "mean", "tolerance", "tolerance_note", "setup", "overrides", "inject",
            "replications", "seed", "perturb", "notes", "seconds")}
        out.update(ci95=[self.lo, self.hi], deviation=self.deviation, passed=self.passed,
                   values=list(self.values),
                   curve=self.curve.to_json() if self.curve is not None else None)
        return out


@dataclass(frozen=True)
class Check:
    """A registered check: its description and the function that measures it."""

    name: str
    title: str
    mechanism: str
    closed_form: str
    citation: str
    replications: int
    fn: Callable[[Context], Measurement]


#: Every closed-form check, in the order the suite runs and reports them.
CHECKS: dict[str, Check] = {}

#: Closed forms DESIGN names that no registered check covers yet: listed in the report
#: as not yet checked, and dropped from the list as soon as a check of that name exists.
PLANNED: dict[str, str] = {
    "mean_field": "A mean-field (ODE) twin of the flywheel agreeing with the replication "
                  "mean as populations grow.",
}


def check(name: str, *, title: str, mechanism: str, closed_form: str, citation: str,
          replications: int) -> Callable[[Callable[[Context], Measurement]],
                                         Callable[[Context], Measurement]]:
    """Register a check function under ``name`` (``replications``: its default count)."""

    def register(fn: Callable[[Context], Measurement]) -> Callable[[Context], Measurement]:
        if name in CHECKS or name == BANDS:
            raise ValueError(f"a validation check named {name!r} already exists")
        CHECKS[name] = Check(name, title, mechanism, closed_form, citation, replications, fn)
        return fn

    return register


# -- running replications ----------------------------------------------------------------------

Reduce = Callable[[Outcome], Any]


def _replicate(task: tuple[dict[str, Any], np.random.SeedSequence, float,
                           tuple[float, list[int]] | None, Reduce]) -> Any:
    """One replication of a check (runs in a worker): run the model, reduce its outcome."""
    params, seq, horizon, inject, reduce = task
    model = Model(params, seq, horizon=horizon)
    if inject is not None:
        model.inject(*inject)
    return reduce(model.run())


class Context:
    """What a check function works with: its replication count and seed, the overrides
    that perturb the model (empty in the suite), and the executor that runs replications."""

    def __init__(self, replications: int, seed: int = SEED, perturb: Sequence[str] = (),
                 executor: Executor | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.replications = int(replications)
        self.seed = int(seed)
        self.perturb = tuple(perturb)
        self.executor = executor
        self.progress = progress

    @staticmethod
    def scenario(overrides: Sequence[str]) -> Scenario:
        """The set-up the closed form assumes: the shipped baseline plus ``overrides``."""
        return load_scenario("baseline", list(overrides))

    def replicate(self, sc: Scenario, reduce: Reduce,
                  inject: tuple[float, list[int]] | None = None) -> list[Any]:
        """``reduce(outcome)`` of each replication of ``sc`` (with :attr:`perturb` applied
        on top), in replication order.  ``inject``: ``(time, company sizes)`` of founding
        signups (:meth:`Model.inject`).  ``reduce`` must be a module-level function."""
        if self.perturb:
            sc = sc.with_overrides(dict(parse_set(p) for p in self.perturb))
        params = dict(sc.values)
        h = float(sc["simulation.horizon"])
        tasks = [(params, seq, h, inject, reduce)
                 for seq in replication_seeds(self.seed, self.replications)]
        out = []
        results = self.executor.map(_replicate, tasks) if self.executor else map(_replicate, tasks)
        for res in results:
            out.append(res)
            if self.progress:
                self.progress(1)
        return out


def _curve_stats(per_rep: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise mean and Student-t 95% CI of the mean across replications (rows)."""
    a = np.vstack([np.asarray(r, dtype=float) for r in per_rep])
    mean = a.mean(axis=0)
    n = a.shape[0]
    if n < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    half = stats.t.ppf(0.975, n - 1) * a.std(axis=0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def _curve(x: np.ndarray, per_rep: Sequence[np.ndarray], analytic: np.ndarray,
           **kwargs: Any) -> Curve:
    mean, lo, hi = _curve_stats(per_rep)
    return Curve(x=np.asarray(x, dtype=float), analytic=np.asarray(analytic, dtype=float),
                 mean=mean, lo=lo, hi=hi, **kwargs)


def format_number(x: float) -> str:
    """A number for a table: separators from 1,000, else 4 significant digits."""
    if x is None or not math.isfinite(x):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _pct(x: float) -> str:
    return f"{100 * x:.2g}%"


def run_check(name: str, replications: int | None = None, seed: int = SEED,
              perturb: Sequence[str] = (), jobs: int | None = 1,
              executor: Executor | None = None,
              progress: Callable[[int], None] | None = None) -> CheckResult:
    """Run one registered check.  ``replications`` defaults to the check's own;
    ``perturb`` (``KEY.PATH=VALUE`` overrides applied to the simulated model only, not
    to the analytic value) makes the model deliberately wrong; ``jobs`` worker
    processes unless ``executor`` is given (1: in this process)."""
    if name not in CHECKS:
        raise KeyError(f"unknown validation check {name!r}; known: {', '.join(CHECKS)}")
    c = CHECKS[name]
    n = int(replications or c.replications)
    t0 = time.perf_counter()
    with worker_pool(jobs, n, executor) as pool:
        m = c.fn(Context(n, seed, perturb, pool, progress))
    mean, lo, hi = mean_ci(m.values)
    return CheckResult(
        name=c.name, title=c.title, mechanism=c.mechanism, closed_form=c.closed_form,
        citation=c.citation, quantity=m.quantity, unit=m.unit, analytic=float(m.analytic),
        mean=mean, lo=lo, hi=hi, values=[float(v) for v in m.values],
        tolerance=float(m.tolerance), tolerance_note=m.tolerance_note, setup=m.setup,
        overrides=list(m.overrides), inject=m.inject, replications=n, seed=seed,
        perturb=list(perturb), curve=m.curve, notes=list(m.notes),
        seconds=time.perf_counter() - t0)


# -- shared set-up ------------------------------------------------------------------------------

#: Nothing but what a check turns on: no acquisition, no churn, no limits, certain
#: onboarding.  Each check adds the mechanism it tests.
_QUIET = (
    "acquisition.organic=0/day", "acquisition.paid_budget=0/day",
    "acquisition.referral=0/day", "acquisition.organic_growth=0",
    "onboarding.no_show=0", 'onboarding.setup_friction={ dist = "fixed", value = "0d" }',
    "onboarding.sandbox=false",
    'onboarding.ttv={ dist = "fixed", value = "0d" }',
    'onboarding.patience={ dist = "fixed", value = "1d" }',
    'collaboration.invites={ dist = "fixed", value = 0 }',
    "retention.churn_monthly=0", "retention.tenure_shape=1", "paid.logo_churn_monthly=0",
    'pricing.model="freemium"', "free_tier.seat_limit=0", "free_tier.usage_limit=0",
)

def _setup(*overrides: str) -> list[str]:
    """:data:`_QUIET` with ``overrides`` on top, each key once (the last value wins), so
    the listed set-up reads as what runs."""
    merged: dict[str, str] = {}
    for expr in (*_QUIET, *overrides):
        merged[expr.partition("=")[0].strip()] = expr
    return list(merged.values())


#: Company size for checks whose companies must never run out of people to invite.
_HUGE_COMPANY = 1_000_000


# -- (a) Bass diffusion -------------------------------------------------------------------------

_BASS_M, _BASS_P, _BASS_Q, _BASS_DAYS = 40_000, 0.001, 0.02, 300


def bass_share(t: np.ndarray | float, p: float, q: float) -> np.ndarray:
    """Bass (1969): adopted share F(t) = (1 − e^{−(p+q)t}) / (1 + (q/p) e^{−(p+q)t})."""
    e = np.exp(-(p + q) * np.asarray(t, dtype=float))
    return (1 - e) / (1 + (q / p) * e)


def bass_daily_step(days: int, p: float, q: float) -> np.ndarray:
    """F at each day's end when word of mouth is set, as in the model, from the share
    reached at the day's start: within day d, dF/dt = (p + q·F_d)(1 − F), so
    1 − F_{d+1} = (1 − F_d)·e^{−(p + q·F_d)}.  Measures the lag the daily step causes."""
    f = np.zeros(days + 1)
    for d in range(days):
        f[d + 1] = 1 - (1 - f[d]) * math.exp(-(p + q * f[d]))
    return f


def _bass_inflection() -> float:
    """t* = ln(q/p) / (p+q), where adoption is fastest and F(t*) = (q − p) / (2q)."""
    return math.log(_BASS_Q / _BASS_P) / (_BASS_P + _BASS_Q)


def _reduce_bass(o: Outcome) -> tuple[np.ndarray, float]:
    s = np.sort(o.users["signup"])
    x = np.arange(_BASS_DAYS + 1, dtype=float)
    m = o.market_people
    return (np.searchsorted(s, x, side="left") / m,
            float(np.searchsorted(s, _bass_inflection(), side="left") / m))


@check("bass", title="Bass diffusion",
       mechanism="Organic contacts and word of mouth reaching random people of a finite "
                 "market, lost when they reach someone who has signed up already.",
       closed_form="F(t) = (1 − e^{−(p+q)t}) / (1 + (q/p)·e^{−(p+q)t})",
       citation="Bass, F. M. (1969). A new product growth for model consumer durables. "
                "Management Science 15(5), 215–227.",
       replications=12)
def bass(ctx: Context) -> Measurement:
    """Word of mouth alone follows the Bass curve, judged at every day."""
    M, p, q = _BASS_M, _BASS_P, _BASS_Q
    overrides = _setup(f"market.companies={M}", 'market.team_size={ dist = "fixed", value = 1 }',
                       f"acquisition.organic={p * M:g}/day", f"acquisition.referral={q:g}/day",
                       f"simulation.horizon={_BASS_DAYS}d")
    sc = ctx.scenario(overrides)
    # the closed form's p and q, read back from the scenario the model runs
    p_sc = float(sc["acquisition.organic"]) / float(sc["market.companies"])
    q_sc = float(sc["acquisition.referral"])
    reps = ctx.replicate(sc, _reduce_bass)
    x = np.arange(_BASS_DAYS + 1, dtype=float)
    tol = 0.015
    t_star = _bass_inflection()
    lag = float(np.max(np.abs(bass_daily_step(_BASS_DAYS, p_sc, q_sc) - bass_share(x, p_sc, q_sc))))
    spread = float(np.std([v for _, v in reps], ddof=1)) if ctx.replications > 1 else math.nan
    return Measurement(
        quantity=f"adopted share F(t*) at the inflection t* = ln(q/p)/(p+q) = {t_star:.1f} days",
        unit="share of the market", analytic=float(bass_share(t_star, p_sc, q_sc)),
        values=[v for _, v in reps], tolerance=tol,
        tolerance_note=(
            f"0.015 on the adopted share, at t* and at every day of the curve.  The model "
            f"sets each day's word of mouth from the users active at the day's start, so it "
            f"lags the continuous curve: the Bass equation solved with that daily step "
            f"departs from F(t) by up to {lag:.4f}.  One replication's F(t*) scatters by "
            f"{spread:.4f} (SD), so the mean of {ctx.replications} has an SE near "
            f"{spread / math.sqrt(ctx.replications):.4f}."),
        setup=(f"A market of M = {M:,} one-person companies; organic contacts at p·M a day "
               f"with p = {p_sc:g}, word of mouth at q = {q_sc:g} contacts a day per active "
               f"user, each reaching a random person of the market; value at once, no "
               f"churn, no invites, no limits; {_BASS_DAYS} days."),
        overrides=overrides,
        curve=_curve(x, [c for c, _ in reps], bass_share(x, p_sc, q_sc),
                     x_label="Day", y_label="Share of the market signed up",
                     analytic_label="Bass F(t)", tolerance=np.full(len(x), tol)))


# -- (b) branching total ------------------------------------------------------------------------

_BRANCH_SEEDS, _BRANCH_DAYS = 5_000, 30


def branching_mean(t: np.ndarray, K: float, delay_mean: float) -> np.ndarray:
    """Expected signups per seed by time t when each signup brings Poisson(K) signups
    after independent exponential delays of mean ``delay_mean``: generation k arrives
    after a sum of k delays (a gamma(k) time), so m(t) = Σ_k K^k P(Γ(k, d) ≤ t); its
    limit is the branching total 1/(1 − K)."""
    t = np.asarray(t, dtype=float)
    total = np.ones_like(t)
    k = 1
    while K**k > 1e-12:
        total += K**k * special.gammainc(k, t / delay_mean)
        k += 1
    return total


def _reduce_branching(o: Outcome) -> tuple[np.ndarray, float]:
    s = np.sort(o.users["signup"])
    x = np.arange(_BRANCH_DAYS + 1, dtype=float)
    return np.searchsorted(s, x, side="right").astype(float), float(len(s))


@check("branching", title="Branching total N/(1 − K)",
       mechanism="Activated users invite teammates; accepted invites sign up and invite in "
                 "turn (a Galton–Watson branching process with mean offspring K).",
       closed_form="expected total signups = N/(1 − K) for N seeds and K < 1",
       citation="Galton–Watson total progeny; as used for viral growth by Wallinga, J. & "
                "Lipsitch, M. (2007). How generation intervals shape the relationship "
                "between growth rates and reproductive numbers. Proc. R. Soc. B 274, 599–604.",
       replications=8)
def branching(ctx: Context) -> Measurement:
    """Invites alone, K = 0.6: N seeds bring N/(1 − K) signups in all."""
    N = _BRANCH_SEEDS
    overrides = _setup('collaboration.invites={ dist = "poisson", mean = 1.2 }',
                       "collaboration.acceptance=0.5",
                       'collaboration.invite_delay={ dist = "exponential", mean = "1d" }',
                       f"simulation.horizon={_BRANCH_DAYS}d")
    sc = ctx.scenario(overrides)
    K = sc["collaboration.invites"].mean() * float(sc["collaboration.acceptance"])
    delay = sc["collaboration.invite_delay"].mean()
    reps = ctx.replicate(sc, _reduce_branching, inject=(0.0, [_HUGE_COMPANY] * N))
    # Var(total per seed) = σ²/(1 − K)³ with offspring variance σ² = K (Poisson)
    se = math.sqrt(N * K / (1 - K) ** 3 / ctx.replications)
    x = np.arange(_BRANCH_DAYS + 1, dtype=float)
    analytic_curve = N * branching_mean(x, K, delay)
    late = float(N / (1 - K) - analytic_curve[-1])
    return Measurement(
        quantity=f"total signups from N = {N:,} seeds", unit="signups",
        analytic=N / (1 - K), values=[v for _, v in reps], tolerance=4 * se,
        tolerance_note=(
            f"4 standard errors of the mean of {ctx.replications} replications under the "
            f"analytic variance: the total per seed has variance K/(1 − K)³ = "
            f"{K / (1 - K) ** 3:.3g} for Poisson offspring, so one replication's total has "
            f"SD {math.sqrt(N * K / (1 - K) ** 3):.0f} and the mean's SE is {se:.0f}.  "
            f"Lineages still growing at day {_BRANCH_DAYS} would add {late:.2g} signups "
            f"in expectation."),
        setup=(f"N = {N:,} founding signups at day 0, each in a company of {_HUGE_COMPANY:,} "
               f"people (never runs out); each activated user sends Poisson(1.2) invites, "
               f"each accepted with probability 0.5, so K = {K:g}; invitees sign up after an "
               f"exponential delay of mean {delay:g} day and reach value at once; no churn, "
               f"no limits; {_BRANCH_DAYS} days."),
        overrides=overrides, inject=f"{N:,} founders at day 0 in companies of {_HUGE_COMPANY:,}",
        notes=[f"The curve's analytic line is m(t) = N·Σ_k K^k·P(Γ(k, {delay:g} d) ≤ t): "
               "generation k arrives after a sum of k exponential delays."],
        curve=_curve(x, [c for c, _ in reps], analytic_curve,
                     x_label="Day", y_label="Signups, cumulative",
                     analytic_label="N·Σ K^k P(Γ(k) ≤ t) → N/(1 − K)",
                     tolerance=None))


# -- (c) Euler–Lotka growth rate ----------------------------------------------------------------


def laplace_transform(dist: Distribution, s: float) -> float:
    """E[e^{−sX}] of a non-negative distribution, by quadrature over its quantile function:
    ∫₀¹ e^{−s·Q(u)} du (exact for a fixed value, fine for heavy tails)."""
    if s == 0:
        return 1.0
    value, _ = integrate.quad(lambda u: math.exp(-s * dist.quantile(u)), 0.0, 1.0, limit=200)
    return float(value)


def euler_lotka_rate(K: float, *parts: Distribution) -> float:
    """Growth rate r solving the Euler–Lotka equation 1 = K ∫ e^{−rτ} g(τ) dτ, where the
    generation interval τ is the sum of independent ``parts`` (so its Laplace transform is
    the product of theirs).  K > 1 (supercritical); solved with :func:`scipy.optimize.brentq`.
    """
    if K <= 1:
        raise ValueError(f"K ({K:g}) must be above 1 for exponential growth")
    if not parts:
        raise ValueError("give the distributions whose sum is the generation interval")

    def excess(r: float) -> float:
        return K * math.prod(laplace_transform(d, r) for d in parts) - 1.0

    hi = 1.0 / max(sum(d.mean() for d in parts), 1e-9)
    while excess(hi) > 0:  # K·L(r) falls from K at r = 0 towards 0: widen until it crosses 1
        hi *= 2
        if hi > 1e6:
            raise ValueError("no growth rate found: the generation interval is ~0")
    return float(optimize.brentq(excess, 0.0, hi, xtol=1e-12, rtol=1e-10))


def expected_signups(K: float, delay: Distribution, invitee_ttv: Distribution,
                     founder_ttv: Distribution, founders: int, horizon: float,
                     dt: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Expected cumulative signups (founders included) on a grid of step ``dt``, from the
    renewal equation of the invite process: seats a(t) = N·f_T(t) + K·∫ a(s) g(t − s) ds
    with g the density of delay + invitee TTV, and signups at seat time + delay.

    Its log slope tends to the Euler–Lotka rate; it is the analytic curve of the check.
    """
    n = int(round(horizon / dt)) + 1
    x = np.arange(n) * dt

    def pmf(d: Distribution) -> np.ndarray:  # mass of each grid cell [x - dt/2, x + dt/2)
        return np.diff(np.concatenate([[0.0], d.cdf(x + dt / 2)]))

    p_delay = pmf(delay)
    p_gen = np.convolve(p_delay, pmf(invitee_ttv))[:n]
    p_founder = pmf(founder_ttv)
    seats = np.zeros(n)
    for i in range(n):
        seats[i] = founders * p_founder[i] + (K * np.dot(seats[:i], p_gen[i:0:-1]) if i else 0.0)
    arrivals = K * np.convolve(seats, p_delay)[:n]
    return x, founders + np.cumsum(arrivals)


_EL_FOUNDERS, _EL_DAYS, _EL_FROM = 50, 50, 15
_EL_TOLERANCE = 0.03


def _reduce_daily_signups(o: Outcome) -> np.ndarray:
    days = int(math.ceil(o.horizon))
    return np.bincount(o.users["signup"].astype(np.int64), minlength=days)[:days].astype(float)


def _fit_rate(days: np.ndarray, daily: np.ndarray) -> float:
    """Least-squares slope of log(daily signups) over the fitting window."""
    ok = (days >= _EL_FROM) & (daily > 0)
    return float(np.polyfit(days[ok] + 0.5, np.log(daily[ok]), 1)[0])


@check("euler_lotka", title="Viral growth rate (Euler–Lotka)",
       mechanism="Invites with K > 1 in companies that never run out of people: signups "
                 "grow exponentially at a rate set by K and the generation interval.",
       closed_form="r solves 1 = K ∫ e^{−rτ} g(τ) dτ, g = density of the generation interval",
       citation="Wallinga, J. & Lipsitch, M. (2007). How generation intervals shape the "
                "relationship between growth rates and reproductive numbers. "
                "Proc. R. Soc. B 274, 599–604.",
       replications=12)
def euler_lotka(ctx: Context) -> Measurement:
    """K = 1.5 with a long-tailed invite delay: the growth rate fitted to log daily signups
    matches the Euler–Lotka r of the model's generation interval."""
    overrides = _setup('onboarding.ttv={ dist = "lognormal", median = "1d", p90 = "3d" }',
                       'onboarding.patience={ dist = "fixed", value = "1y" }',
                       "onboarding.invited_ttv_factor=0.5",
                       'collaboration.invites={ dist = "poisson", mean = 3 }',
                       "collaboration.acceptance=0.5",
                       'collaboration.invite_delay={ dist = "lognormal", median = "2d", p90 = "8d" }',
                       f"simulation.horizon={_EL_DAYS}d")
    sc = ctx.scenario(overrides)
    # everyone activates (no no-shows, patience far beyond any TTV): K = invites x acceptance
    K = sc["collaboration.invites"].mean() * float(sc["collaboration.acceptance"])
    delay: Distribution = sc["collaboration.invite_delay"]
    ttv: Distribution = sc["onboarding.ttv"]
    factor = float(sc["onboarding.invited_ttv_factor"])
    r = euler_lotka_rate(K, delay, ttv.scaled(factor))
    naive = math.log(K) / (delay.mean() + factor * ttv.mean())
    daily = ctx.replicate(sc, _reduce_daily_signups, inject=(0.0, [_HUGE_COMPANY] * _EL_FOUNDERS))
    days = np.arange(_EL_DAYS, dtype=float)
    xs, cum = expected_signups(K, delay, ttv.scaled(factor), ttv, _EL_FOUNDERS, _EL_DAYS)
    expected_daily = np.diff(np.interp(np.arange(_EL_DAYS + 1.0), xs, cum))
    expected_daily[0] += _EL_FOUNDERS  # the founders sign up on day 0
    renewal_r = _fit_rate(days, expected_daily)
    window = days >= _EL_FROM
    cumulative_r = float(np.polyfit(days[window] + 1, np.log(np.cumsum(expected_daily)[window]), 1)[0])
    fitted = [_fit_rate(days, d) for d in daily]
    spread = float(np.std(fitted, ddof=1)) / r if len(fitted) > 1 else math.nan
    return Measurement(
        quantity=f"growth rate of daily signups, fitted over days {_EL_FROM}–{_EL_DAYS}",
        unit="per day", analytic=r, values=fitted,
        tolerance=_EL_TOLERANCE * r,
        tolerance_note=(
            f"{_pct(_EL_TOLERANCE)} of r.  One replication's fitted rate scatters by "
            f"{_pct(spread)} of r (SD; the first generations are few), so the mean of "
            f"{ctx.replications} has an SE near {_pct(spread / math.sqrt(ctx.replications))}; "
            f"fitting the same window to "
            f"the expected curve of the renewal equation gives {renewal_r:.5f}, "
            f"{_pct(abs(renewal_r / r - 1))} from r, so the transient of the first "
            f"generations is negligible there.  The fit uses log daily signups: fitted to "
            f"log cumulative signups, which carry a constant offset, the expected curve "
            f"would give {cumulative_r:.5f}, {_pct(cumulative_r / r - 1)} above r."),
        setup=(f"{_EL_FOUNDERS} founding signups at day 0, each in a company of "
               f"{_HUGE_COMPANY:,} people; each activated user sends Poisson(3) invites, "
               f"each accepted with probability 0.5, so K = {K:g} (no no-shows, patience 1 "
               f"year: everyone reaches value); no churn, no seat or usage limits; "
               f"{_EL_DAYS} days."),
        overrides=overrides,
        inject=f"{_EL_FOUNDERS} founders at day 0 in companies of {_HUGE_COMPANY:,}",
        notes=[
            "Generation interval, from the model: an activated user sends invites when they "
            "take a seat (at once, with no seat limit); an accepted invitee signs up D later "
            "and takes a seat f·T after that, where D is the invite delay "
            f"({delay.describe()}), T the time to value ({ttv.describe()}) and f = {factor:g} "
            "the invited users' TTV factor.  So τ = D + f·T, g = g_D ∗ g_fT, and "
            "∫ e^{−rτ} g(τ) dτ = E[e^{−rD}]·E[e^{−r f T}], each computed by quadrature over "
            "the distribution's quantile function; r by Brent's method.",
            f"Euler–Lotka r = {r:.5f} per day (doubling every {math.log(2) / r:.2f} days); "
            f"the naive ln K / mean(τ) = {naive:.5f} would understate it by "
            f"{_pct(1 - naive / r)}, because the spread of τ matters, not just its mean.",
            "The curve's analytic line is the expected number of signups a day from the "
            "renewal equation (numerical, step 0.01 day); its slope tends to r.",
        ],
        curve=_curve(days + 0.5, daily, expected_daily, x_label="Day",
                     y_label="Signups per day", analytic_label="renewal equation (slope → r)",
                     log_y=True, tolerance=None, window=(float(_EL_FROM), float(_EL_DAYS))))


# -- (d) constant-hazard retention --------------------------------------------------------------

_HAZ_USERS, _HAZ_C, _HAZ_DAYS, _HAZ_AT = 20_000, 0.10, 200, 6


def _reduce_survival(o: Outcome) -> tuple[np.ndarray, float]:
    end = np.sort(o.users["end"])
    x = np.arange(_HAZ_DAYS + 1, dtype=float)
    n = len(end)
    return ((n - np.searchsorted(end, x, side="right")) / n,
            float(np.mean(end > _HAZ_AT * DAYS_PER_MONTH)))


@check("constant_hazard", title="Constant-hazard retention",
       mechanism="Each active user churns after an exponential tenure (constant hazard).",
       closed_form="S(t) = e^{−λt}, λ = −ln(1 − c) per month for monthly churn c",
       citation="The exponential survival function; monthly churn c is the probability of "
                "churning within a month, 1 − e^{−λ}.",
       replications=6)
def constant_hazard(ctx: Context) -> Measurement:
    """20,000 users seated at day 0; only churn acts."""
    N = _HAZ_USERS
    overrides = _setup(f"retention.churn_monthly={_HAZ_C:g}", f"simulation.horizon={_HAZ_DAYS}d")
    sc = ctx.scenario(overrides)
    c = float(sc["retention.churn_monthly"])
    lam = -math.log1p(-c) / DAYS_PER_MONTH  # per day
    reps = ctx.replicate(sc, _reduce_survival, inject=(0.0, [1] * N))
    x = np.arange(_HAZ_DAYS + 1, dtype=float)
    s_at = math.exp(-lam * _HAZ_AT * DAYS_PER_MONTH)
    n = ctx.replications

    def se(s: np.ndarray | float) -> np.ndarray | float:  # binomial SE of the mean share
        return np.sqrt(np.asarray(s) * (1 - np.asarray(s)) / (N * n))

    analytic_curve = np.exp(-lam * x)
    return Measurement(
        quantity=f"share still active at {_HAZ_AT} months", unit="share of the cohort",
        analytic=s_at, values=[v for _, v in reps], tolerance=4 * float(se(s_at)),
        tolerance_note=(
            f"4 binomial standard errors of the mean share over {n} x {N:,} users "
            f"(SE {float(se(s_at)):.4f} at {_HAZ_AT} months); along the curve, 5 such "
            f"standard errors at each day."),
        setup=(f"{N:,} users take a seat at day 0 (each in a one-person company, value at "
               f"once); monthly churn c = {c:g}, constant hazard; nothing else happens; "
               f"{_HAZ_DAYS} days."),
        overrides=overrides, inject=f"{N:,} one-person companies at day 0",
        notes=[f"λ = −ln(1 − {c:g}) = {lam * DAYS_PER_MONTH:.5f} per month "
               f"({lam:.6f} per day, a month being {DAYS_PER_MONTH:g} days)."],
        curve=_curve(x, [s for s, _ in reps], analytic_curve, x_label="Day",
                     y_label="Share of the cohort still active", analytic_label="e^{−λt}",
                     tolerance=5 * se(analytic_curve) + 1e-9))


# -- (e) steady state ---------------------------------------------------------------------------

_SS_INFLOW, _SS_C, _SS_DAYS = 1500.0, 0.30, 548


def _reduce_active(o: Outcome) -> tuple[np.ndarray, float]:
    u = o.users
    start = np.sort(u["start"][~np.isnan(u["start"])])
    end = np.sort(u["end"][~np.isnan(u["start"])])
    x = np.arange(0, _SS_DAYS + 1, 5, dtype=float)
    level = np.searchsorted(start, x, side="right") - np.searchsorted(end, x, side="right")
    return level.astype(float), float(np.sum(end > o.horizon))


@check("steady_state", title="Steady state of active users",
       mechanism="A constant inflow of new active users, each churning with a constant hazard.",
       closed_form="N(t) = (A/λ)(1 − e^{−λt}) → A/λ, λ = −ln(1 − c) per month",
       citation="Little's law / the M/M/∞ queue: level = inflow × mean tenure (1/λ).",
       replications=8)
def steady_state(ctx: Context) -> Measurement:
    """A steady inflow A a month into a market that never fills, churn c a month."""
    overrides = _setup("market.companies=1000000000",
                       'market.team_size={ dist = "fixed", value = 1 }',
                       f"acquisition.organic={_SS_INFLOW:g}/month",
                       f"retention.churn_monthly={_SS_C:g}", f"simulation.horizon={_SS_DAYS}d")
    sc = ctx.scenario(overrides)
    A = float(sc["acquisition.organic"]) * DAYS_PER_MONTH  # per month
    c = float(sc["retention.churn_monthly"])
    lam = -math.log1p(-c)  # per month
    H = float(sc["simulation.horizon"]) / DAYS_PER_MONTH  # months
    reps = ctx.replicate(sc, _reduce_active)
    expected_end = A / lam * (1 - math.exp(-lam * H))
    se = math.sqrt(expected_end / ctx.replications)  # the level is Poisson (M/M/∞ from empty)
    x = np.arange(0, _SS_DAYS + 1, 5, dtype=float)
    level = A / lam * (1 - np.exp(-lam * x / DAYS_PER_MONTH))
    return Measurement(
        quantity=f"active users at day {_SS_DAYS}", unit="users", analytic=expected_end,
        values=[v for _, v in reps], tolerance=4 * se,
        tolerance_note=(
            f"4 standard errors of the mean of {ctx.replications} replications: the number "
            f"active is Poisson with mean (A/λ)(1 − e^{{−λt}}) (an M/M/∞ queue started "
            f"empty), SD {math.sqrt(expected_end):.0f} in one replication, SE {se:.0f}.  "
            f"Along the curve, 5 such standard errors at each point."),
        setup=(f"Organic signups at A = {A:,.0f} a month into a market of 10⁹ one-person "
               f"companies (it never fills), value at once, monthly churn c = {c:g} with "
               f"constant hazard, nothing else; {_SS_DAYS} days.  The churn is high so that "
               f"the level settles well within the horizon and A/λ and A/c differ clearly."),
        overrides=overrides,
        notes=[f"A/λ = {A:,.0f} / {lam:.4f} = {A / lam:,.0f} active users in the steady "
               f"state; at day {_SS_DAYS} the transient factor 1 − e^{{−λt}} is "
               f"{1 - math.exp(-lam * H):.5f}, so the analytic value is {expected_end:,.0f}.",
               f"A/c = {A / c:,.0f} is the steady state of a month-by-month recursion "
               f"N ← (1 − c)·N + A; Flywheel churns in continuous time with hazard λ = −ln(1 − c), so "
               f"its steady state is A/λ, {_pct(1 - c / lam)} below A/c here "
               f"(A/λ ÷ A/c = c/λ = {c / lam:.4f})."],
        curve=_curve(x, [lv for lv, _ in reps], level, x_label="Day", y_label="Active users",
                     analytic_label="(A/λ)(1 − e^{−λt})",
                     tolerance=5 * np.sqrt(level / ctx.replications) + 1e-9))


# -- (f) the sales queue: Erlang C and Erlang-A ------------------------------------------------

#: Poisson outbound leads at λ a day into c single-slot reps who work each for an
#: exponential time of mean 1/μ days: offered load λ/μ = 2.4 servers, ρ = 0.8.
_Q_LAM, _Q_WORK, _Q_C, _Q_DAYS, _Q_WARM = 2.0, 1.2, 3, 3000, 100
_Q_TAIL = np.linspace(0.0, 6.0, 25)


def _queue_setup(patience: str) -> list[str]:
    return _setup('pricing.model="sales_led"', "market.companies=10000000",
                  'market.team_size={ dist = "fixed", value = 5 }',
                  f"sales.reps={_Q_C}", "sales.rep_capacity=1", f"sales.outbound={_Q_LAM:g}/day",
                  "sales.close_base=0",
                  f'sales.cold_cycle={{ dist = "exponential", mean = "{_Q_WORK:g}d" }}',
                  f"sales.patience={patience}", f"simulation.horizon={_Q_DAYS}d")


def _reduce_queue(o: Outcome) -> tuple[np.ndarray, float, float]:
    """P(wait > t) on :data:`_Q_TAIL`, the mean wait and the share gone cold, over leads
    arriving after the warm-up and early enough to be settled or taken by the horizon."""
    lead = o.leads
    sel = (lead["arrive"] > _Q_WARM) & (lead["arrive"] < o.horizon - _Q_WARM)
    taken = ~np.isnan(lead["start"])
    wait = (np.where(taken, lead["start"], lead["end"]) - lead["arrive"])[sel]
    tail = np.array([np.mean(wait > t + 1e-12) for t in _Q_TAIL])
    cold = float(np.mean(~taken[sel]))
    return tail, float(wait.mean()), cold


@check("erlang_c", title="Sales queue: Erlang C",
       mechanism="Leads queue for the reps' deal slots (a SimPy Resource); no lead gives up.",
       closed_form="P(wait > 0) = C(c, λ/μ); W_q = C(c, λ/μ) / (cμ − λ); "
                   "P(wait > t) = C(c, λ/μ) e^{−(cμ − λ)t}",
       citation="Kleinrock 1975, Queueing Systems vol. 1, section 3.5 (M/M/c).",
       replications=8)
def erlang_c_check(ctx: Context) -> Measurement:
    """A sales-only world with Poisson leads, exponential work and patience too long to
    matter: the M/M/c queue."""
    overrides = _queue_setup('{ dist = "fixed", value = "100y" }')
    sc = ctx.scenario(overrides)
    lam = float(sc["sales.outbound"])
    mu = 1.0 / float(sc["sales.cold_cycle"].mean())
    c = Settings.from_scenario(sc).sales.servers
    pw = erlang_c(c, lam / mu)
    wq = erlang_c_wait(c, lam, mu)
    reps = ctx.replicate(sc, _reduce_queue)
    return Measurement(
        quantity="mean wait for a rep", unit="days", analytic=wq,
        values=[w for _, w, _ in reps], tolerance=0.12 * wq,
        tolerance_note=("12% of W_q: successive waits are strongly correlated at ρ = 0.8, "
                        "so the mean of ~5,600 waits in one replication has a standard error "
                        "near 13%; over 8 replications about 4.5%.  Along the tail curve, "
                        "0.03 at each point."),
        setup=(f"Sales-led, outbound leads only at λ = {lam:g} a day (a Poisson process), "
               f"{c} reps with one deal slot each, exponential work of mean {1 / mu:g} days "
               f"(μ = {mu:.4g} a day), patience 100 years, no lead won; {_Q_DAYS} days, leads "
               f"arriving in the first and last {_Q_WARM} days left out (warm-up, censoring)."),
        overrides=overrides,
        notes=[f"Offered load a = λ/μ = {lam / mu:g} servers, ρ = a/c = {lam / mu / c:g}; "
               f"Erlang C gives P(wait > 0) = {pw:.4f}, measured "
               f"{np.mean([t[0] for t, _, _ in reps]):.4f}."],
        curve=_curve(_Q_TAIL, [t for t, _, _ in reps], pw * np.exp(-(c * mu - lam) * _Q_TAIL),
                     x_label="Wait t (days)", y_label="P(wait > t)",
                     analytic_label="C(c, a) e^{−(cμ − λ)t}",
                     tolerance=np.full(len(_Q_TAIL), 0.03)))


_QA_PATIENCE = (0.5, 1.0, 2.0, 4.0, 8.0)  # mean patience, days
_QA_MAIN = 2.0


@check("erlang_a", title="Sales queue with patience: Erlang-A",
       mechanism="Leads that wait longer than their patience go cold (abandon the queue).",
       closed_form="M/M/c+M birth-death chain: P(abandon) = θ E[queue] / λ, "
                   "W_q = E[queue] / λ",
       citation="Palm 1943; Garnett, Mandelbaum & Reiman 2002, Manufacturing & Service "
                "Operations Management 4(3).",
       replications=6)
def erlang_a_check(ctx: Context) -> Measurement:
    """The Erlang C set-up with exponential patience: the share of leads gone cold at a
    mean patience of 2 days, and how it moves with patience."""
    per_patience = []
    for mean in _QA_PATIENCE:
        sc = ctx.scenario(_queue_setup(f'{{ dist = "exponential", mean = "{mean:g}d" }}'))
        per_patience.append(ctx.replicate(sc, _reduce_queue))
    overrides = _queue_setup(f'{{ dist = "exponential", mean = "{_QA_MAIN:g}d" }}')
    sc = ctx.scenario(overrides)
    lam = float(sc["sales.outbound"])
    mu = 1.0 / float(sc["sales.cold_cycle"].mean())
    c = Settings.from_scenario(sc).sales.servers
    analytic = [erlang_a(c, lam, mu, 1.0 / m)[2] for m in _QA_PATIENCE]
    main = per_patience[_QA_PATIENCE.index(_QA_MAIN)]
    cold = np.array([[r[2] for r in reps] for reps in per_patience]).T  # replications x patience
    pw, wq, ab = erlang_a(c, lam, mu, 1.0 / _QA_MAIN)
    return Measurement(
        quantity=f"share of leads gone cold, patience mean {_QA_MAIN:g} days", unit="share",
        analytic=ab, values=[r[2] for r in main], tolerance=0.01,
        tolerance_note=("0.01 absolute: the share of ~5,600 leads in one replication has a "
                        "standard error near 0.005 (correlated), about 0.002 over the "
                        "replications.  Along the curve, 0.015 at each patience."),
        setup=(f"As the Erlang C check, with exponential patience of mean "
               f"{', '.join(f'{m:g}' for m in _QA_PATIENCE)} days (θ = 1/mean)."),
        overrides=overrides,
        notes=[f"At patience {_QA_MAIN:g} days: P(wait > 0) = {pw:.4f}, W_q = {wq:.4f} days "
               f"(measured {np.mean([r[1] for r in main]):.4f}); shorter patience means more "
               f"leads gone cold and shorter waits, as the curve shows."],
        curve=_curve(np.asarray(_QA_PATIENCE), list(cold), np.asarray(analytic),
                     x_label="Mean patience (days)", y_label="Share of leads gone cold",
                     analytic_label="Erlang-A θ E[queue] / λ",
                     tolerance=np.full(len(_QA_PATIENCE), 0.015)))


# -- (f2) willingness to pay: the demand curve ------------------------------------------------

#: One-person companies, each meeting the paywall once; the prices asked of them ($ per seat
#: per month), the one the check's quantity is judged at, and the willingness to pay.
_WTP_N, _WTP_PRICES, _WTP_MAIN, _WTP_DAYS = 10_000, (5, 10, 15, 20, 30, 40, 60, 80), 15, 5
_WTP_DIST = '{ dist = "lognormal", median = 30, p90 = 100 }'


def wtp_share(price: float | np.ndarray, median: float, sigma: float) -> np.ndarray:
    """P(WTP >= price) for a lognormal willingness to pay: 1 - Φ((ln P - ln median) / σ)."""
    z = (np.log(np.asarray(price, dtype=float)) - math.log(median)) / sigma
    return 1.0 - special.ndtr(z)


def _reduce_bought(o: Outcome) -> float:
    """Share of the companies that started paying."""
    return float(np.mean(~np.isnan(o.teams["paid_start"])))


def _wtp_setup(price: float) -> list[str]:
    return _setup(f"pricing.willingness_to_pay={_WTP_DIST}", "pricing.upgrade_probability=1",
                  f"pricing.price_per_seat={price:g}", "free_tier.usage_limit=1",
                  "free_tier.usage_per_user=1/day",
                  'pricing.decision_delay={ dist = "fixed", value = "1d" }',
                  f"simulation.horizon={_WTP_DAYS}d")


@check("willingness_to_pay", title="Demand curve: willingness to pay",
       mechanism="Each company draws its willingness to pay once, when it is materialised; "
                 "a team at the paywall buys only if its value of a seat is at least the "
                 "price (here with upgrade probability 1, one user per team).",
       closed_form="share buying at price P = P(WTP ≥ P) = 1 − Φ((ln P − ln median) / σ), "
                   "σ = ln(p90 / median) / Φ⁻¹(0.9)",
       citation="The lognormal distribution function; a buyer purchases when the price is at "
                "most their reservation price (willingness to pay).",
       replications=4)
def willingness_to_pay(ctx: Context) -> Measurement:
    """10,000 one-person teams meet the paywall once at each price; the share that buys is
    the willingness to pay's survival function at the price."""
    N, n = _WTP_N, ctx.replications
    per_price = []
    for price in _WTP_PRICES:
        per_price.append(ctx.replicate(ctx.scenario(_wtp_setup(price)), _reduce_bought,
                                       inject=(0.0, [1] * N)))
    sc = ctx.scenario(_wtp_setup(_WTP_MAIN))
    wtp = Settings.from_scenario(sc).pricing.willingness_to_pay
    median, sigma = float(wtp.quantile(0.5)), float(wtp.sigma)  # type: ignore[attr-defined]
    prices = np.asarray(_WTP_PRICES, dtype=float)
    analytic = wtp_share(prices, median, sigma)

    def se(p: np.ndarray | float) -> np.ndarray:  # binomial SE of the mean share
        return np.sqrt(np.asarray(p) * (1 - np.asarray(p)) / (N * n))

    main = _WTP_PRICES.index(_WTP_MAIN)
    return Measurement(
        quantity=f"share of teams buying at ${_WTP_MAIN} a seat", unit="share of the teams",
        analytic=float(analytic[main]), values=per_price[main],
        tolerance=4 * float(se(analytic[main])),
        tolerance_note=(
            f"4 binomial standard errors of the mean share over {n} x {N:,} teams (SE "
            f"{float(se(analytic[main])):.4f} at ${_WTP_MAIN}); the same at each price of "
            f"the curve.  The prices share their random numbers (each company keeps its "
            f"value whatever the price), so the curve falls monotonically."),
        setup=(f"{N:,} one-person companies founded at day 0 (value at once, no churn, no "
               f"invites); a usage limit of 1 unit at 1 unit a day brings each to the paywall "
               f"at day 1, where it decides after 1 day with upgrade probability 1; "
               f"willingness to pay {_WTP_DIST} (σ = {sigma:.4f}), value growth irrelevant "
               f"for one user; run at each price {', '.join(f'${p:g}' for p in _WTP_PRICES)}; "
               f"{_WTP_DAYS} days."),
        overrides=_wtp_setup(_WTP_MAIN), inject=f"{N:,} one-person companies at day 0",
        notes=[f"P(WTP ≥ ${p:g}) = {a:.4f}" for p, a in zip(_WTP_PRICES, analytic,
                                                           strict=True)],
        curve=_curve(prices, [np.array([per_price[k][r] for k in range(len(prices))])
                              for r in range(n)],
                     analytic, x_label="Price, $ per seat per month",
                     y_label="Share of teams buying", analytic_label="1 − Φ((ln P − ln m)/σ)",
                     tolerance=4 * se(analytic) + 1e-9))


# -- (g) published ranges -----------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A published range a shipped scenario's measured figure should sit in."""

    metric: str  # a key of flywheel.metrics.METRICS
    scenario: str  # the shipped scenario measured
    low: float
    high: float
    figure: str  # the figure as DESIGN names it
    published: str  # the range as published
    source: str
    #: A second shipped scenario: the band is then on the ratio of the metric in
    #: ``scenario`` to the metric in this one, replication by replication (both run with
    #: the same seed, so each pair shares its random numbers); ``high`` may be inf.
    relative_to: str = ""

    @property
    def where(self) -> str:
        """The scenario measured, or ``a ÷ b`` for a ratio of two."""
        return f"{self.scenario} ÷ {self.relative_to}" if self.relative_to else self.scenario


#: The 2026 free-to-paid survey several bands cite.
_SURVEY_2026 = ("Kyle Poyar with ChartMogul and ProductLed, free-to-paid conversion report (200 "
                "B2B products, January 2026, growthunhinged.com)")

#: The published ranges of DESIGN, in one place (tests/test_baseline.py reads them too).
PUBLISHED: tuple[Band, ...] = (
    Band("activation_rate", "baseline", 0.25, 0.37, "signup → activation",
         "average ~34–37%, median ~25–30%",
         "Lenny Rachitsky activation survey (500+ products); Userpilot B2B benchmark"),
    Band("ttv_median_days", "baseline", 1.0, 2.0, "time to value",
         "median ~1.5 days, B2B SaaS (checked within ±0.5 day)", "Userpilot, 547 companies"),
    Band("free_to_paid_90d", "baseline", 0.03, 0.08, "freemium → paid, self-serve",
         "3–5% good, 6–8% great (checked against the cohort figure: teams created at least 90 "
         "days before the horizon, paying within 90 days)",
         "Lenny Rachitsky / Kyle Poyar benchmarks, as quoted by getlago.com/blog/freemium-pricing"),
    Band("viral_coefficient", "baseline", 0.10, 0.30, "viral coefficient K, B2B SaaS",
         "~0.1–0.3 (sustained K > 1 is rare)",
         "growth glossaries; David Skok, forentrepreneurs.com viral lessons"),
    Band("user_churn_monthly", "baseline", 0.03, 0.07, "monthly user churn, SMB self-serve",
         "3–7% (the logo-churn range, applied to users)",
         "SaaStr (Lemkin); monthly→annual: 3% → 31% (Tunguz, \"maximum viable churn\")"),
    Band("logo_churn_monthly", "baseline", 0.03, 0.07, "monthly logo churn, SMB self-serve",
         "3–7%", "SaaStr (Lemkin); monthly→annual: 3% → 31% (Tunguz, \"maximum viable churn\")"),
    Band("nrr", "baseline", 0.80, 1.10, "net revenue retention, SMB self-serve",
         "SMB (ACV under $25K) median ~97–98%; 80–110% taken as the band (the baseline's "
         "window is 6 months, its horizon being one year)",
         "Benchmarkit/Maxio 2024 B2B SaaS survey and ChartMogul 2024 benchmarks, as quoted by "
         "digitalapplied.com and optif.ai (NRR by ACV segment)"),
    Band("trial_conversion", "trial", 0.15, 0.25, "opt-in free trial (no card) → paid",
         "~15–25% (Totango: 15%); the 2026 survey finds lower medians for no-card trials "
         "(4–6%), with a top quarter at 10–15%",
         "Totango 2012 study; retentionlens.com trial-to-paid benchmarks; " + _SURVEY_2026),
    Band("trial_conversion", "card-trial", 0.30, 0.60, "opt-out trial (card required) → paid",
         "~40–60% (Totango: 50%); ~30% and more than 5× no-card trials (2026 survey)",
         "Totango 2012 study; retentionlens.com trial-to-paid benchmarks; " + _SURVEY_2026),
    Band("trial_conversion", "card-trial", 2.0, math.inf,
         "opt-out vs opt-in trial conversion",
         "card trials convert more than 5× no-card trials (2026 survey); Totango 50% vs 15%; "
         "checked as at least 2×",
         "Kyle Poyar with ChartMogul and ProductLed, free-to-paid conversion report (200 B2B "
         "products, January 2026, growthunhinged.com); Totango 2012 study",
         relative_to="trial"),
    Band("signups", "freemium", 1.0, math.inf, "signups, free plan vs opt-in trial",
         "a time-limited offer attracts fewer signups than a free plan (checked: the ratio's "
         "95% CI above 1)",
         _SURVEY_2026,
         relative_to="trial"),
    Band("signups", "trial", 1.0, math.inf, "signups, opt-in vs card trial",
         "visitor → trial start ~10% without a card vs ~2% with one (checked: the ratio's "
         "95% CI above 1)",
         "Lean Analytics (Croll & Yoskovitz)", relative_to="card-trial"),
    Band("pql_lift", "enterprise-sales-assist", 2.0, 5.0, "PQL vs MQL (cold leads)",
         "PQLs convert 2–5× MQLs; the seeds' story: ~3× cold outbound (it emerges: one close "
         "function of the account's footprint when a rep takes the lead, so a PQL's 20+ "
         "active users out-close a cold lead's none)",
         "OpenView 2024 PLG benchmarks, as quoted by appcues.com"),
)

#: DESIGN's published figures that are inputs of the model, or not modelled yet, rather
#: than measured: (figure, range, source, why it is not measured here).
UNMEASURED: tuple[tuple[str, str, str, str], ...] = (
    ("visitor → trial start, card vs no card", "~2% vs ~10%", "Lean Analytics (Croll & Yoskovitz)",
     "an input for would-be founders: trial.card_signup_factor = 0.2 sets their ratio "
     "directly (the signups ratio above also counts the teammates they bring)"),
)


@dataclass
class BandResult:
    """A shipped scenario's measured figure beside its published range."""

    band: Band
    mean: float
    lo: float
    hi: float
    replications: int
    seed: int

    @property
    def status(self) -> str:
        """``inside`` (the whole 95% CI in the band), ``outside`` (none of it), else
        ``edge``."""
        b = self.band
        lo, hi = (self.mean, self.mean) if math.isnan(self.lo) else (self.lo, self.hi)
        if b.low <= lo and hi <= b.high:
            return "inside"
        if hi < b.low or lo > b.high or math.isnan(self.mean):
            return "outside"
        return "edge"

    def to_json(self) -> dict[str, Any]:
        b = self.band
        return {"metric": b.metric, "label": METRICS[b.metric].label,
                "unit": "ratio" if b.relative_to else METRICS[b.metric].unit,
                "scenario": b.scenario, "relative_to": b.relative_to or None,
                "figure": b.figure,
                "band": [b.low, b.high], "published": b.published, "source": b.source,
                "mean": self.mean, "ci95": [self.lo, self.hi], "status": self.status,
                "replications": self.replications, "seed": self.seed}


def measure_bands(replications: int = BAND_REPLICATIONS, seed: int = BAND_SEED,
                  jobs: int | None = 1, executor: Executor | None = None,
                  progress: Callable[[int], None] | None = None,
                  bands: Sequence[Band] = PUBLISHED) -> list[BandResult]:
    """Run each shipped scenario named in ``bands`` once and set its measured figures
    beside their published ranges."""
    runs = {}
    names = [n for b in bands for n in (b.scenario, b.relative_to) if n]
    with worker_pool(jobs, replications, executor) as pool:
        for name in dict.fromkeys(names):
            runs[name] = simulate(load_scenario(name), replications=replications, seed=seed,
                                  jobs=1, executor=pool, progress=progress)

    def measured(b: Band) -> tuple[float, float, float]:
        if not b.relative_to:
            return runs[b.scenario].mean_ci(b.metric)
        top, bottom = runs[b.scenario].values(b.metric), runs[b.relative_to].values(b.metric)
        with np.errstate(divide="ignore", invalid="ignore"):
            return mean_ci(np.asarray(top, float) / np.asarray(bottom, float))

    return [BandResult(b, *measured(b), replications, seed) for b in bands]


# -- (h) the mean-field twin against the replication mean ------------------------------------

#: A world the twin carries exactly in the mean (every mechanism it uses is EXACT): one
#: person per company, exponential onboarding and invite delays, no free-tier limits.
TWIN_EXACT = ('market.team_size={ dist = "fixed", value = 1 }',
              'onboarding.ttv={ dist = "exponential", mean = "2d" }',
              'onboarding.patience={ dist = "exponential", mean = "4d" }',
              'collaboration.invite_delay={ dist = "exponential", mean = "3d" }',
              "free_tier.seat_limit=0", "free_tier.usage_limit=0",
              "onboarding.commitment_spread=0")
#: The quantities whose gap measures convergence: metrics, and active users on these days.
GAP_METRICS = ("signups", "activated", "active_users_end", "active_users_mean",
               "signups_referral", "invites_sent")
GAP_DAYS = (30, 90, 180, 240)


def twin_exact_world(s: int) -> Any:
    """:data:`TWIN_EXACT` at scale s: a market of 4,000 s companies, organic 6 s and paid
    2 s contacts a day, word of mouth, 240 days."""
    from flywheel.scenario.files import load_scenario

    return load_scenario("baseline", [*TWIN_EXACT, f"market.companies={4000 * s}",
                                      f"acquisition.organic={6 * s}/day",
                                      f"acquisition.paid_budget={60 * s}/day",
                                      "acquisition.paid_cost_per_signup=30",
                                      "acquisition.referral=0.002/day", "simulation.horizon=240d"])


def convergence_gaps(s: int, reps: int, seed: int = 11,
                     jobs: int | None = 2) -> tuple[np.ndarray, np.ndarray]:
    """Per quantity at scale s: (twin - mean of ``reps`` replications) / twin, and the
    replications' standard error of the mean / twin: the one measurement of how the
    simulation's mean approaches the twin (the test suite and bench/bench_meanfield.py)."""
    from flywheel.studies.runner import simulate, simulate_twin

    sc = twin_exact_world(s)
    des = simulate(sc, replications=reps, seed=seed, jobs=jobs)
    twin = simulate_twin(sc).replications[0]
    values = [(twin.metrics[k], np.array(des.values(k))) for k in GAP_METRICS]
    values += [(twin.series["active_users"][d - 1],
                np.array([r.series["active_users"][d - 1] for r in des.replications]))
               for d in GAP_DAYS]
    rel = np.array([(t - x.mean()) / t for t, x in values])
    se = np.array([x.std(ddof=1) / math.sqrt(reps) / t for t, x in values])
    return rel, se


# -- the suite ------------------------------------------------------------------------------------


@dataclass
class Suite:
    """The results of the validation suite."""

    checks: list[CheckResult]
    bands: list[BandResult]
    seconds: float = math.nan

    @property
    def passed(self) -> bool:
        """Every closed-form check passed (published ranges never fail the suite)."""
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"flywheel_version": __version__, "passed": self.passed, "seconds": self.seconds,
                "checks": [c.to_json() for c in self.checks],
                "published_ranges": [b.to_json() for b in self.bands],
                "not_yet_checked": [v for k, v in PLANNED.items() if k not in CHECKS]}


def suite_size(names: Iterable[str] | None = None) -> int:
    """Replications the suite (or the named part of it) runs: for a progress bar."""
    chosen = list(names) if names else [*CHECKS, BANDS]
    n = sum(CHECKS[c].replications for c in chosen if c in CHECKS)
    if BANDS in chosen:
        n += BAND_REPLICATIONS * len({n for b in PUBLISHED for n in (b.scenario, b.relative_to)
                                      if n})
    return n


def run_suite(names: Iterable[str] | None = None, jobs: int | None = None, seed: int = SEED,
              executor: Executor | None = None,
              progress: Callable[[int], None] | None = None) -> Suite:
    """Run the named checks (default: all, and the published ranges, ``"bands"``) through
    one worker pool of ``jobs`` processes (default: all cores)."""
    chosen = list(names) if names else [*CHECKS, BANDS]
    unknown = [c for c in chosen if c not in CHECKS and c != BANDS]
    if unknown:
        raise KeyError(f"unknown validation check {unknown[0]!r}; "
                       f"known: {', '.join([*CHECKS, BANDS])}")
    t0 = time.perf_counter()
    with worker_pool(jobs, max(2, suite_size(chosen)), executor) as pool:
        checks = [run_check(c, seed=seed, executor=pool, progress=progress)
                  for c in chosen if c in CHECKS]
        bands = measure_bands(executor=pool, progress=progress) if BANDS in chosen else []
    return Suite(checks, bands, time.perf_counter() - t0)
