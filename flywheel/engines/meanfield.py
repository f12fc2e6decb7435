"""The mean-field twin: the same self-serve flywheel as ordinary differential equations.

Where :mod:`flywheel.engines.model` plays out every user and team, the twin follows the
*expected* number of users and teams in each state, as a system of ODEs that
:func:`scipy.integrate.solve_ivp` integrates from launch day to the horizon.  It
reads the same parameters (a resolved scenario's ``values``) with the same
meaning, returns deterministic curves on the day grid of
:func:`flywheel.metrics.day_grid` and the metrics of :data:`flywheel.metrics.METRICS`,
and takes a fraction of a second.  As the market and the signup volume grow the
replication mean of the DES approaches it (``tests/test_meanfield.py``).

What the state is (``docs/model.md``, "The mean-field twin", has the equations):

* **The market** by company size: untouched companies of size *s* deplete as
  ``n_s exp(-s X(t))``, where ``dX/dt`` is the contact hazard per person, so one
  state variable carries the size-biased, without-replacement draws exactly in the
  mean.  Touched companies are grouped into size bins (1, 2, 3, then ratio 3).
* **Teams** per bin by plan (free, paywall decision pending, capped, paying, trial,
  no access) and seats 0..8 (above 8, a lump that keeps its extra seats), with
  usage (free) or trial age (trial) as Erlang stages: a *team class*.
* **What each class carries**: the people its companies have reached, and the
  signups pending for its teams (a company's first signup, later signups,
  invitees; onboarding, or an accepted invite not yet signed up).  They move with
  their teams, so a user who reaches value lands in their own team's class, later
  signups arrive in proportion to the people still reachable, and the pending
  signups of a team that loses access lose it too, as in the DES.
* **Onboarding pools** per bin and kind of signup: the TTV-versus-patience race is
  computed from the distributions, and its outcome times become a chain of
  exponential stages (a phase-type distribution; exact for exponential TTV and
  patience).  Invites in flight, and the seats' tenure when its hazard is not
  constant, are chains too.

Most flows are a constant rate times one state variable: they form one sparse
matrix, which is also the Jacobian that :func:`scipy.integrate.solve_ivp`'s BDF
method needs for the fast onboarding stages.  The rest (the market, allocation to
teams, closures) is computed per call.

Each approximation, and how large it is, is listed in :data:`MECHANISMS`;
:func:`unsupported` names what a scenario switches on that the twin does not carry
(sales motions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.integrate import solve_ivp

from flywheel.engines import EngineError
from flywheel.engines.codes import PAYWALL_PENDING, TeamState
from flywheel.engines.model import CHANNELS, USER_STATES
from flywheel.metrics import FUNNEL, METRICS, SERIES, day_grid
from flywheel.scenario.defaults import DAYS_PER_MONTH, PARAMS_BY_PATH
from flywheel.scenario.distributions import Distribution, Exponential
from flywheel.scenario.files import Scenario
from flywheel.scenario.settings import FREE_TIER_MODELS, SELF_SERVE_MODELS, Settings, Tenure, size_pmf

__all__ = [
    "APPROXIMATED",
    "EXACT",
    "MECHANISMS",
    "NOT_REPRESENTED",
    "MeanFieldResult",
    "Mechanism",
    "check_supported",
    "mechanism_notes",
    "solve",
    "unsupported",
]

# -- what the twin carries -----------------------------------------------------------------

EXACT, APPROXIMATED, NOT_REPRESENTED = "same in the mean", "approximated", "not represented"

# (the pricing models the twin carries: SELF_SERVE_MODELS, from flywheel.scenario.settings)


@dataclass(frozen=True)
class Mechanism:
    """How the twin represents one mechanism of the DES."""

    name: str
    status: str  # EXACT, APPROXIMATED or NOT_REPRESENTED
    how: str
    #: Whether the mechanism is on in a scenario (None: always on).
    on: Callable[[Settings], bool] | None = None


def _exp(d: object) -> bool:
    return isinstance(d, Exponential)


def _exact_race(s: Settings) -> bool:
    """Exponential TTV (the one in effect) and patience, and no setup friction."""
    onb = s.onboarding
    return _exp(onb.patience) and _exp(onb.effective_ttv) and not onb.has_friction


M = Mechanism
#: Every mechanism of the DES and how the twin represents it.  ``on`` says when a
#: scenario uses it, so :func:`mechanism_notes` lists only what matters there.
MECHANISMS: tuple[Mechanism, ...] = (
    M("market", EXACT,
      "untouched companies of size s deplete as n_s exp(-s X), X the contact hazard per "
      "person: size-biased draws without replacement, exact in the mean (sizes above 200 "
      "grouped within 2%)"),
    M("acquisition: organic, paid", EXACT,
      "contact rates as in the DES; organic growth compounds continuously (the DES holds "
      "it for a day at its mid-day value)"),
    M("acquisition: word of mouth", APPROXIMATED,
      "referral contacts from the current active users; the DES uses those at the start of "
      "each day (a lag of up to a day, under 0.01 of the Bass share F)",
      lambda s: s.acquisition.referral > 0),
    M("card-required trial", EXACT, "contacts that would start a company go ahead with "
      "trial.card_signup_factor; conversion uses the card probability",
      lambda s: s.card_trial),
    M("joining a touched company", APPROXIMATED,
      "the people still reachable are exact in the mean per size bin (sizes 1, 2, 3, then "
      "ratio 3); a later signup goes to a team class in proportion to the people its "
      "companies have left, taking the teams of a bin at the bin's mean company size"),
    M("onboarding race", EXACT,
      "no-show, TTV (with setup friction for a company's first signup, the sandbox, the "
      "invitee factor) against patience: outcome probabilities computed from the "
      "distributions; their timing is exact for exponential TTV and patience",
      _exact_race),
    M("onboarding delays", APPROXIMATED,
      "the race's outcome times as a chain of exponential stages (quantile groups, stages "
      "of at least 12 hours, outcomes under 6 hours taken as instant): outcome "
      "probabilities exact, timing off by up to about half a day",
      lambda s: not _exact_race(s)),
    M("teams", APPROXIMATED,
      "teams of one class are taken alike: a signup pending in a class lands in it, on "
      "one of its teams at random (the DES knows each user's own team); exact for "
      "one-person companies"),
    M("invites", APPROXIMATED,
      "invites per seat and acceptance exact in the mean; an invite finds someone left "
      "with probability min(1, people left per team of its class): exact for 1- and "
      "2-person companies, else a little high (1.4% in the devtool story, whose in-company "
      "virality turns that into 4% more invitees); the invite delay as stages (exact if "
      "exponential)"),
    M("retention", EXACT, "constant hazard -ln(1 - c) per month",
      lambda s: s.retention.tenure.constant),
    M("retention with a decaying or rising hazard", APPROXIMATED,
      "Weibull tenure as phases for all seats together; every team sees the seats' "
      "average hazard", lambda s: not s.retention.tenure.constant),
    M("seat limit", APPROXIMATED,
      "seats counted per team up to 8, a lump above with its extra seats (geometric "
      "closure); users waiting at the paywall counted per bin, each pending team "
      "holding the mean",
      lambda s: s.pricing.free_tier and s.free_tier.seat_limit > 0),
    M("usage limit", APPROXIMATED,
      "usage as 8 Erlang stages crossed at the team's seats x usage rate: the paywall "
      "comes at the right mean time, spread by about +/-35%",
      lambda s: s.pricing.free_tier and s.free_tier.usage_limit > 0),
    M("paywall decision", EXACT, "decision delay exponential; upgrade or capped as in the DES",
      lambda s: s.pricing.free_tier and _exp(s.pricing.decision_delay)),
    M("paywall decision delay", APPROXIMATED, "the decision delay as stages",
      lambda s: s.pricing.free_tier and not _exp(s.pricing.decision_delay)),
    M("trial length", APPROXIMATED,
      "the fixed trial length as 12 Erlang stages (trials end at the right mean time, "
      "spread by about +/-29%); a first signup's onboarding runs on the same clock",
      lambda s: s.pricing.trial),
    M("reverse-trial fallback", APPROXIMATED,
      "usage accrued in the trial taken as seats x usage rate x half the trial",
      lambda s: s.pricing.reverse_trial and s.free_tier.usage_limit > 0),
    M("paying teams", EXACT,
      "price per seat, logo churn (exponential), and a paying team whose last user leaves "
      "cancels, given the team's seats"),
    M("costs", EXACT, "paid spend = budget x horizon; serving cost of free seats"),
    M("metrics", APPROXIMATED,
      "TTV median and p90 from the exact race distributions mixed by kind of signup; "
      "weekly cohorts approximate (each kind's time to value, the tenure curve, access "
      "lost at the run's average rate, with a trial at its end); no confidence intervals "
      "(one deterministic run)"),
    M("sales motions", NOT_REPRESENTED,
      "sales-led pricing, PQLs, the sales queue, reps, outbound leads and contracts; the "
      "twin runs the self-serve flywheel only", lambda s: s.sales_motion),
)


def _values(scenario: Scenario | Mapping[str, Any]) -> Mapping[str, Any]:
    return scenario.values if isinstance(scenario, Scenario) else scenario


def mechanism_notes(scenario: Scenario | Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(status, mechanism, how)`` for every mechanism the scenario uses that the twin
    approximates or does not represent."""
    s = Settings.of(scenario)
    return [(m.status, m.name, m.how) for m in MECHANISMS
            if m.status != EXACT and (m.on is None or m.on(s))]


def unsupported(scenario: Scenario | Mapping[str, Any]) -> list[str]:
    """What ``scenario`` switches on that the twin does not represent, one line each
    (empty: the twin carries every mechanism it uses, some approximately)."""
    v = _values(scenario)
    s = Settings.of(scenario)
    out = []
    model = s.pricing.model
    if model not in SELF_SERVE_MODELS:
        out.append(f'pricing.model = "{model}": the twin carries only '
                   f"{', '.join(SELF_SERVE_MODELS)} (it ran the scenario as freemium)")
    too_costly = _too_costly(s)
    if too_costly:
        out.append(too_costly)
    reps = s.sales.reps
    if reps > 0:
        keys = [p for p in v if p.startswith("sales.") and p != "sales.reps"
                and _non_default(p, v[p])]
        out.append(f"sales.reps = {reps}: PQLs, the sales queue, reps, outbound leads and "
                   "contracts are not represented"
                   + (f" (nor {', '.join(keys)})" if keys else ""))
    return out


def _non_default(path: str, value: object) -> bool:
    """Whether a converted value differs from its parameter's default and is truthy."""
    from flywheel.scenario.files import convert_value

    param = PARAMS_BY_PATH.get(path)
    if param is None:
        return bool(value)
    try:
        default = convert_value(param, param.default)
    except Exception:  # noqa: BLE001 - a default that cannot convert is simply "set"
        return bool(value)
    return bool(value) and value != default


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
#: Erlang stages of the trial clock and of the free tier's usage.
TRIAL_STAGES = 12
USAGE_STAGES = 8
#: Seats tracked one by one per team; above, a lump with its extra seats.
TOP_SEATS = 8
#: Ratio of the company-size bins (sizes 1, 2, 3, then 4-12, 13-39, ... for ratio 3), and
#: the least share of the companies a bin holds (the tail beyond is one bin).
SIZE_RATIO = 3.0
MIN_BIN_SHARE = 1e-4
#: Right-hand-side evaluations an integration attempt may use before the next is tried
#: (a shipped scenario needs 150 to 1,300).
MAX_EVALUATIONS = 20_000
#: Most invites per activated user (the distribution's mean) the twin takes on: its cost
#: grows steeply with them (on the baseline, a mean of 10 solves in ~3 s, 20 in ~20 s, 30
#: in more than 5 minutes).  The simulation has no such limit.
MAX_INVITES = 20.0
#: Tolerances of the integration (relative; absolute, in users or teams).
RTOL, ATOL = 1e-4, 1e-3
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


def _scatter(arr: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> None:
    """``arr[:, idx] += vals`` with repeated indices adding up (numpy's fancy ``+=``
    keeps only one of them)."""
    rows, width = arr.shape
    flat = (np.arange(rows)[:, None] * width + np.asarray(idx)[None, :]).ravel()
    arr += np.bincount(flat, weights=np.asarray(vals).ravel(),
                       minlength=rows * width).reshape(rows, width)


def _mean_age(ch: Chain) -> float:
    """Mean time to finish a chain, for those who go through it."""
    reach = np.concatenate([[1.0], np.cumprod(ch.cont)[:-1]])
    return float(np.sum(reach / ch.rates))


def _one_stage(rate: float, split: Sequence[float], instant: Sequence[float]) -> Chain:
    """An exponential delay of ``rate`` ending in outcome o with probability split[o]."""
    s = np.asarray(split, dtype=float)
    return Chain(rates=np.array([float(rate)]), exits=s.reshape(-1, 1) / max(s.sum(), 1e-300),
                 instant=np.asarray(instant, dtype=float), ages=np.array([1.0 / rate]))


def _chain_from_masses(times: np.ndarray, masses: np.ndarray, n_out: int,
                       groups: int = GROUPS, budget: int = STAGE_BUDGET) -> Chain:
    """A chain for a (sub-)distribution given as point masses ``masses[o, i]`` at
    ``times[i]``: mass earlier than G_MIN / 2 finishes at once; the rest is cut into
    quantile groups whose mean ages the stages reproduce, a group far from the one
    before split into Erlang sub-stages so a sharp delay stays sharp."""
    masses = np.asarray(masses, dtype=float).reshape(n_out, -1)
    early = times < G_MIN / 2
    instant = masses[:, early].sum(axis=1)
    t, w = times[~early], masses[:, ~early]
    rest = float(w.sum())
    if rest <= 1e-12:
        return Chain(rates=np.array([MAX_RATE]), exits=np.full((n_out, 1), 1.0 / n_out),
                     instant=instant, ages=np.array([G_MIN]))
    order = np.argsort(t, kind="stable")
    t, w = t[order], w[:, order]
    wt = w.sum(axis=0)
    mid = (np.cumsum(wt) - wt / 2) / rest
    gid = np.minimum((mid * groups).astype(int), groups - 1)
    found = []
    for g in range(groups):
        sel = gid == g
        m = wt[sel].sum()
        if m <= 0:
            continue
        mean = float(np.dot(wt[sel], t[sel]) / m)
        sd = float(np.sqrt(max(np.dot(wt[sel], (t[sel] - mean) ** 2) / m, 0.0)))
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


def _race(ttv: Distribution, patience: Distribution, no_show: float,
          friction: Distribution | None = None, factor: float = 1.0) -> Race:
    """TTV (x ``factor``, plus ``friction``) against patience, after the no-shows.

    On a grid of cells: reaching value in a cell needs patience at least the cell's
    start, giving up in a cell needs a TTV beyond its end, so the two masses add up
    exactly (a summation by parts) and ties go to value, as in the DES (TTV <= patience).
    """
    hi = _upper(patience)
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

    g = _grid(hi)
    ft = cdf_t(g)
    fp = np.asarray(patience.cdf(g), dtype=float)
    fp[-1] = 1.0
    show = 1.0 - float(no_show)
    act = np.diff(ft) * (1.0 - fp[:-1])
    ab = np.diff(fp) * (1.0 - ft[1:])
    inst_act = ft[0]
    inst_ab = fp[0] * (1.0 - ft[0])
    tot = inst_act + inst_ab + act.sum() + ab.sum()
    scale = show / tot if tot > 0 else 0.0
    return Race(times=_cell_times(g), act=act * scale, abandon=ab * scale,
                instant_act=inst_act * scale, instant_abandon=inst_ab * scale + no_show)


def _race_chain(race: Race, exact: tuple[float, float] | None = None) -> Chain:
    """The chain of a race; ``exact`` = (TTV rate, patience rate) when both are
    exponential, making it one stage with the race's exact split."""
    inst = np.array([race.instant_act, race.instant_abandon])
    through = 1.0 - inst.sum()
    if exact is not None and through > 0:
        a, b = exact
        return _one_stage(a + b, [a, b], inst)
    masses = np.vstack([race.act, race.abandon])
    ch = _chain_from_masses(race.times, masses, 2)
    # the early masses join the instants (they were part of ``through`` above)
    return Chain(rates=ch.rates, exits=ch.exits, instant=inst + ch.instant, ages=ch.ages)


def _delay_chain(dist: Distribution, allow_instant: bool = True) -> Chain:
    """A plain delay (one outcome) as a chain: exact for an exponential."""
    if isinstance(dist, Exponential) and dist.mean() > 0:
        # exact (one stage), unless faster than MAX_RATE: then stretched to that
        return _one_stage(min(1.0 / dist.mean(), MAX_RATE), [1.0], [0.0])
    hi = _upper(dist)
    g = _grid(hi)
    f = np.asarray(dist.cdf(g), dtype=float)
    f[-1] = 1.0
    masses = np.concatenate([[f[0]], np.diff(f)])
    times = np.concatenate([[0.0], _cell_times(g)])
    ch = _chain_from_masses(times, masses, 1)
    if not allow_instant and ch.instant.sum() > 0:
        # finish "instant" mass in the first stage instead (no instant transitions)
        inst = float(ch.instant.sum())
        reach = 1.0 - inst
        ex = ch.exits.copy()
        ex[0, 0] = (inst + reach * ex[0, 0])
        return Chain(rates=ch.rates, exits=ex, instant=np.zeros(1), ages=ch.ages)
    return ch


def _tenure_chain(tenure: Tenure) -> tuple[Chain | None, float]:
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
    ch = _chain_from_masses(times, masses, 1, groups=TENURE_GROUPS, budget=TENURE_GROUPS * 2)
    if ch.instant.sum() > 0:
        ex = ch.exits.copy()
        ex[0, 0] = float(ch.instant.sum()) + (1 - float(ch.instant.sum())) * ex[0, 0]
        ch = Chain(rates=ch.rates, exits=ex, instant=np.zeros(1), ages=ch.ages)
    return ch, lam


# -- the market ----------------------------------------------------------------------------

def _size_pmf(dist: Distribution) -> tuple[np.ndarray, np.ndarray]:
    """Company sizes (as floats) and their probabilities, as the simulation draws them
    (:meth:`flywheel.scenario.settings.Market.size_pmf`)."""
    sizes, pmf = size_pmf(dist)
    return sizes.astype(float), pmf


def _size_bins(sizes: np.ndarray, pmf: np.ndarray,
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


def _representatives(sizes: np.ndarray, counts: np.ndarray, exact_up_to: float = 200.0,
                     ratio: float = 1.02) -> tuple[np.ndarray, np.ndarray]:
    """Sizes above ``exact_up_to`` grouped within ``ratio``: each group keeps its companies
    and its people (representative size = people / companies)."""
    small = sizes <= exact_up_to
    rs, rn = list(sizes[small]), list(counts[small])
    big_s, big_n = sizes[~small], counts[~small]
    if len(big_s):
        key = np.floor(np.log(big_s / exact_up_to) / math.log(ratio)).astype(int)
        for k in np.unique(key):
            sel = key == k
            n = big_n[sel].sum()
            if n > 0:
                rs.append(float(np.dot(big_s[sel], big_n[sel]) / n))
                rn.append(float(n))
    return np.asarray(rs, dtype=float), np.asarray(rn, dtype=float)


# -- team classes --------------------------------------------------------------------------

#: Plans of the team classes: the simulation's team states (flywheel.engines.codes.TeamState), and
#: PENDING, a free team whose paywall decision is under way (a class of its own here; a
#: flag beside FREE in the simulation).
FREE, TRIAL, PAYING, CAPPED, NO_ACCESS = (int(TeamState.FREE), int(TeamState.TRIAL),
                                          int(TeamState.PAYING), int(TeamState.CAPPED),
                                          int(TeamState.NO_ACCESS))
PENDING = int(PAYWALL_PENDING)


@dataclass
class _Classes:
    """The team classes of one size bin, with their attributes and transitions."""

    block: list[int] = field(default_factory=list)
    seats: list[int] = field(default_factory=list)
    stage: list[int] = field(default_factory=list)  # usage (free), decision (pending), trial
    top: list[bool] = field(default_factory=list)  # the top seat level, with a lump above
    index: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def add(self, block: int, seats: int, stage: int = 0, top: bool = False) -> int:
        i = len(self.block)
        self.block.append(block)
        self.seats.append(seats)
        self.stage.append(stage)
        self.top.append(top)
        self.index[(block, seats, stage)] = i
        return i

    def __call__(self, block: int, seats: int, stage: int = 0) -> int:
        return self.index[(block, seats, stage)]

    def __len__(self) -> int:
        return len(self.block)


#: Cumulative counters integrated with the state.
_COUNTERS = (
    "sig_organic", "sig_paid", "sig_referral", "sig_invite", "sig_founder", "sig_lost_signup",
    "act_founder", "act_joiner", "act_invitee", "abandoned", "lost", "churned", "lost_seats",
    "blocked", "seated", "paid_entries", "teams_activated", "paywall", "upgrades", "declines",
    "trial_ends", "trial_conversions", "cancels", "invites_sent", "invite_arrivals",
    "invite_delay_sum", "contacts", "user_days", "paid_seat_days", "paying_days",
)
_C = {name: i for i, name in enumerate(_COUNTERS)}
#: Signups pending per team class (onboarding, or an accepted invite not yet signed up),
#: by kind: a company's first signup, later signups (joiners), invitees.
_PENDING = ("PF", "PJ", "PI")
#: Teams per class, and what each class carries: one block of the state.
_TEAM = ("N", "K", *_PENDING)
_TINY = 1e-12
#: Regularises ratios of state variables (per-team means): x / (n + _EPS), in teams.
_EPS = 1e-3


class _Twin:
    """The ODE system of one scenario: layout, parameters, right-hand side."""

    def __init__(self, settings: Settings) -> None:
        self.settings = st = settings
        self.H = st.horizon
        # (a sales-led scenario runs as freemium: the twin carries self-serve models only)
        self.model = st.pricing.model if st.pricing.model in SELF_SERVE_MODELS else "freemium"
        self.trial = st.pricing.trial
        self.reverse = st.pricing.reverse_trial
        self.limit = st.free_tier.seat_limit
        # a positive limit within the simulation's 1e-9 tolerance is met at once there; taken
        # as 1e-9 here, so its stage rate stays finite (1e-300 would overflow)
        limit = st.free_tier.usage_limit
        self.usage_limit = max(limit, 1e-9) if limit > 0 else 0.0
        self.usage_rate = st.free_tier.usage_per_user
        self.upgrade_p = st.pricing.upgrade_probability
        self.acceptance = st.collaboration.acceptance
        self.invites_mean = st.collaboration.invites_mean
        self.card = st.card_signup_factor
        self.convert_p = st.trial_convert_probability
        self.trial_length = max(st.trial.length, 1e-6)
        self.organic_rate = st.acquisition.organic_rate
        self.paid = st.acquisition.paid_contacts
        self.referral = st.acquisition.referral
        self.budget = st.acquisition.paid_budget
        self.price = st.pricing.price_per_seat
        self.serving = st.costs.serving_cost_per_free_user
        # a paying team's own cancellation: a constant hazard, a certain one at MAX_RATE
        self.logo = min(st.paid.tenure.hazard, MAX_RATE)
        self.user_tenure = st.retention.tenure
        self.tenure, self.churn = _tenure_chain(self.user_tenure)
        self._onboarding()
        self._market()
        self._layout()

    # -- construction ----------------------------------------------------------------------

    def _onboarding(self) -> None:
        onb = self.settings.onboarding
        ttv: Distribution = onb.effective_ttv
        patience: Distribution = onb.patience
        no_show = onb.no_show
        factor = onb.invited_ttv_factor
        has_friction = onb.has_friction
        self.race_founder = _race(ttv, patience, no_show,
                                  onb.setup_friction if has_friction else None)
        self.race_joiner = _race(ttv, patience, no_show)
        self.race_invitee = _race(ttv, patience, no_show, factor=factor)
        exp = isinstance(ttv, Exponential) and isinstance(patience, Exponential) \
            and ttv.mean() > 0 and patience.mean() > 0
        b = 1.0 / patience.mean() if exp else 0.0

        def exact(f: float) -> tuple[float, float] | None:
            if not exp or f <= 0:
                return None
            a = 1.0 / (ttv.mean() * f)
            return (a, b) if a + b <= MAX_RATE else None

        self.ch_founder = _race_chain(self.race_founder, None if has_friction else exact(1.0))
        self.ch_joiner = _race_chain(self.race_joiner, exact(1.0))
        self.ch_invitee = _race_chain(self.race_invitee, exact(factor))
        self.ch_invite = _delay_chain(self.settings.collaboration.invite_delay,
                                      allow_instant=False)
        self.ch_decision = _delay_chain(self.settings.pricing.decision_delay,
                                        allow_instant=False)
        if self.trial:
            self._trial_founder()

    def _trial_founder(self) -> None:
        """A trial team's first signup onboards on the trial's own clock: founder exit
        hazards per trial stage, and the rest of the race after the trial (a chain)."""
        r = self.race_founder
        L = self.trial_length
        # TRIAL_STAGES, fewer for a trial so short that a stage would be quicker than MAX_RATE
        n = self.nT = max(1, min(TRIAL_STAGES, int(L * MAX_RATE)))
        nu = n / L
        self.trial_rate = nu
        early = r.times < G_MIN / 2
        self.tf_instant = np.array([r.instant_act + r.act[early].sum(),
                                    r.instant_abandon + r.abandon[early].sum()])
        t = r.times[~early]
        act, ab = r.act[~early], r.abandon[~early]
        window = np.minimum((t / (L / n)).astype(int), n)
        m_act = np.bincount(window, weights=act, minlength=n + 1)
        m_ab = np.bincount(window, weights=ab, minlength=n + 1)
        # exit hazards within each stage; survivors tracked as the chain will see them
        surv = 1.0 - self.tf_instant.sum()
        target = surv
        eta = np.zeros((2, n))
        cap = MAX_RATE
        for k in range(n):
            target -= m_act[k] + m_ab[k]
            want = surv - max(target, 0.0)  # exit in this stage to be on track
            if surv <= 1e-15 or want <= 0:
                continue
            c = min(want / surv, 0.999)
            tot = min(nu * c / (1 - c), cap)
            share = m_act[k] / (m_act[k] + m_ab[k]) if m_act[k] + m_ab[k] > 0 else 0.5
            eta[:, k] = tot * share, tot * (1 - share)
            surv *= nu / (nu + tot)
        self.tf_eta = eta
        # what is left after the trial: the race beyond L, as a chain of its own
        late = t >= L
        res = np.vstack([act[late], ab[late]])
        if res.sum() > 1e-12:
            self.ch_post = _chain_from_masses(t[late] - L, res / res.sum(), 2)
        else:
            self.ch_post = _one_stage(MAX_RATE, [0.5, 0.5], [0.0, 0.0])

    def _market(self) -> None:
        market = self.settings.market
        sizes, pmf = _size_pmf(market.team_size)
        companies = float(market.companies)
        self.M = float(np.dot(sizes, pmf)) * companies
        bins = _size_bins(sizes, pmf, companies)
        self.bins = bins
        self.B = len(bins)
        rs, rn = _representatives(sizes, pmf * companies)
        self.rep_s, self.rep_n = rs, rn
        self.rep_bin = np.array([next(i for i, (lo, hi) in enumerate(bins) if lo <= s < hi)
                                 for s in rs])
        self.people_total = np.bincount(self.rep_bin, weights=rs * rn, minlength=self.B)
        # absolute tolerances (teams, users) shrink with a market under 10,000 companies
        self.scale = min(1.0, companies / 1e4)
        self.eps = _EPS * self.scale
        self.companies_total = np.bincount(self.rep_bin, weights=rn, minlength=self.B)

    def _layout(self) -> None:
        """Team classes and the state vector."""
        # seat levels: TOP_SEATS, or two above a seat limit of up to 10; a larger limit is
        # met through the lump's closure (it holds a share of its teams at the limit)
        A = max(TOP_SEATS, self.limit + 2) if 0 < self.limit <= 10 else TOP_SEATS
        self.A = A
        lim = self.limit
        self.A_free = lim if 0 < lim <= A else A
        # USAGE_STAGES, fewer if a stage would pass quicker than MAX_RATE at full seats
        J = 1
        if self.usage_limit > 0:
            fastest = self.usage_rate * max(self.A_free, 1) / self.usage_limit
            J = max(1, min(USAGE_STAGES, int(MAX_RATE / max(fastest, 1e-12))))
        self.J = J
        D = self.ch_decision.stages
        cl = _Classes()
        free_tier = self.model in FREE_TIER_MODELS
        if free_tier:
            for a in range(self.A_free + 1):
                for j in range(J):
                    cl.add(FREE, a, j, top=a == self.A_free)
            for a in range(A + 1):
                for d in range(D):
                    cl.add(PENDING, a, d, top=a == A)
            for a in range(A + 1):
                cl.add(CAPPED, a, top=a == A)
        for a in range(A + 1):
            cl.add(PAYING, a, top=a == A)
        if self.trial:
            for k in range(self.nT):
                for a in range(A + 1):
                    cl.add(TRIAL, a, k, top=a == A)
        cl.add(NO_ACCESS, 0)
        self.cl = cl
        n = len(cl)
        self.n = n
        blk = np.array(cl.block)
        seats = np.array(cl.seats, dtype=float)
        self.blk, self.a = blk, seats
        self.top = np.array(cl.top)
        self.top_idx = np.flatnonzero(self.top)
        self.top_pos = np.full(n, -1)
        self.top_pos[self.top_idx] = np.arange(len(self.top_idx))
        self.access = blk != NO_ACCESS
        self.invites_from = np.isin(blk, (FREE, PENDING, PAYING, TRIAL))
        self.paying = blk == PAYING
        # where a first signup may be pending with its own onboarding pool (not on the
        # trial clock: freemium teams, and trial teams after the trial)
        self.pf_pool = (blk != TRIAL) & self.access
        self.zero = self.access & (seats == 0)
        self.na = cl(NO_ACCESS, 0)
        # at-limit behaviour of each class: static share at the limit (1 or 0), and for
        # top classes with the limit above them, the gap for the geometric closure
        limited = np.isin(blk, (FREE, PENDING, CAPPED)) & (lim > 0)
        self.lim_static = (limited & (seats >= lim)).astype(float)
        self.lim_gap = np.where(limited & self.top & (seats < lim), lim - seats, 0.0)
        self._transitions()
        # state vector
        B, ntop = self.B, len(self.top_idx)
        # (N and what the teams carry are contiguous: one (5, B, n) block, see rhs)
        sizes = {"X": 1, "W": B, "V": B, **{name: B * n for name in _TEAM},
                 "E": B * ntop,
                 "OF": B * self.ch_founder.stages, "OP": B * (self.ch_post.stages if self.trial else 0),
                 "OJ": B * self.ch_joiner.stages, "OI": B * self.ch_invitee.stages,
                 "IF": B * self.ch_invite.stages, "ID": B * self.ch_invite.stages,
                 "G": self.tenure.stages if self.tenure is not None else 0,
                 "Z": len(_COUNTERS)}
        self.sl: dict[str, slice] = {}
        at = 0
        for k, size in sizes.items():
            self.sl[k] = slice(at, at + size)
            at += size
        self.size = at
        self._helpers()
        self._linear()

    def _helpers(self) -> None:
        """Masks and index arrays the right-hand side uses at every call."""
        cl, B, n, sl = self.cl, self.B, self.n, self.sl
        blk = self.blk
        # free teams at the top may hold extra seats (no seat limit, or one above the top)
        self.free_extra = bool((blk == FREE).any()) and self.A_free == self.A and (
            self.limit == 0 or self.limit > self.A)
        m = self.top[self.u_src] & self.free_extra if len(self.u_src) else np.zeros(0, bool)
        self.u_top, self.u_top_dst = self.u_src[m], self.u_dst[m]
        self.u_top_pay = self.u_pay[m]
        self.acc_f = self.access.astype(float)
        self.nontop = np.flatnonzero(~self.top)
        self.invites_from_f = self.invites_from.astype(float)
        self.wait_cls = np.isin(blk, (FREE, PENDING)).astype(float)
        self.capped_cls = (blk == CAPPED).astype(float)
        self.zero_f = self.zero.astype(float)
        self.pending_f = (blk == PENDING).astype(float)
        self.free_lim = np.flatnonzero((blk == FREE) & ((self.lim_static > 0) | (self.lim_gap > 0)))
        self.gap_cls = np.flatnonzero(self.lim_gap > 0)
        self.top_down = np.array([cl(blk[i], int(self.a[i]) - 1, cl.stage[i])
                                  for i in self.top_idx], int)
        self._off = (np.arange(B) * n)[:, None]
        self._off5 = (np.arange(len(_TEAM))[:, None, None] * B + np.arange(B)[None, :, None]) * n
        self._team = slice(sl[_TEAM[0]].start, sl[_TEAM[-1]].stop)
        self._ctr = _C
        self._ctr_channels = np.array([_C["sig_organic"], _C["sig_paid"], _C["sig_referral"]])

        def first(name: str) -> np.ndarray:
            width = (sl[name].stop - sl[name].start) // B
            return sl[name].start + np.arange(B) * width

        self._oj0 = first("OJ")
        self._of0 = first("OF")
        self._if0 = first("IF")
        if self.trial:
            self._new_onb = cl(TRIAL, 0, 0)
            self._new_seat = cl(TRIAL, 1, 0)
        else:
            self._new_onb = cl(FREE, 0, 0)
            self._new_seat = cl(FREE, 1, 0) if self.A_free >= 1 else self._new_onb
        # the class a team is in after a seat taken in each class (a top keeps its class)
        self.seat_dest = np.where(self.top, np.arange(n), self.seat_dst)
        self.rep_sn = self.rep_s * self.rep_n
        self._lost_row: sparse.csr_matrix | None = None

    def _transitions(self) -> None:
        """Index arrays of every static transition between team classes."""
        cl, A, n = self.cl, self.A, self.n
        blk, a = self.blk, self.a.astype(int)
        J = self.J
        lim = self.limit
        # where a seat taken in each class leads (same class for a top: an extra seat)
        seat_dst = np.arange(n)
        for i in range(n):
            b, s, st = blk[i], a[i], cl.stage[i]
            if b == NO_ACCESS or self.top[i]:
                continue
            seat_dst[i] = cl(b, s + 1, st)
        self.seat_dst = seat_dst
        # at the limit: free -> pending (waiting), pending stays (waiting), capped stays
        lim_dst = np.arange(n)
        for i in range(n):
            if blk[i] == FREE:
                lim_dst[i] = cl(PENDING, a[i], 0)
        self.lim_dst = lim_dst
        # usage: free classes with seats move a stage; the last stage meets the paywall
        src, dst, pay = [], [], []
        if self.usage_limit > 0:
            for i in range(n):
                if blk[i] == FREE and a[i] > 0:
                    j = cl.stage[i]
                    src.append(i)
                    dst.append(cl(FREE, a[i], j + 1) if j + 1 < J else cl(PENDING, a[i], 0))
                    pay.append(j + 1 == J)
        self.u_src, self.u_dst = np.array(src, int), np.array(dst, int)
        self.u_pay = np.array(pay, bool)
        # churn: one seat fewer; a paying team whose last user leaves cancels
        src, dst = [], []
        for i in range(n):
            if blk[i] != NO_ACCESS and a[i] > 0:
                src.append(i)
                if blk[i] == PAYING and a[i] == 1:
                    dst.append(self.na)
                else:
                    dst.append(cl(blk[i], a[i] - 1, cl.stage[i]))
        self.c_src, self.c_dst = np.array(src, int), np.array(dst, int)
        # logo churn of paying teams
        self.l_src = np.array([i for i in range(n) if blk[i] == PAYING and a[i] > 0], int)
        # decisions: stage progress within pending, and the decision at a stage's end
        ch = self.ch_decision
        src, dst, rate = [], [], []
        dsrc, drate = [], []
        for i in range(n):
            if blk[i] != PENDING:
                continue
            d = cl.stage[i]
            if d + 1 < ch.stages and ch.cont[d] > 0:
                src.append(i)
                dst.append(cl(PENDING, a[i], d + 1))
                rate.append(ch.rates[d] * ch.cont[d])
            if ch.exits[0, d] > 0:
                dsrc.append(i)
                drate.append(ch.rates[d] * ch.exits[0, d])
        self.d_src, self.d_dst, self.d_rate = np.array(src, int), np.array(dst, int), np.array(rate)
        self.dec_src, self.dec_rate = np.array(dsrc, int), np.array(drate)
        self.dec_a = a[self.dec_src].astype(float)
        self.dec_cap = np.array([cl(CAPPED, x) for x in a[self.dec_src]], int)
        self.pay_idx = np.array([cl(PAYING, s) for s in range(A + 1)], int)
        if not self.trial:
            return
        # trial: the clock, the first signup's onboarding, the trial's end
        src, dst = [], []
        for i in range(n):
            if blk[i] == TRIAL and cl.stage[i] + 1 < self.nT:
                src.append(i)
                dst.append(cl(TRIAL, a[i], cl.stage[i] + 1))
        self.t_src, self.t_dst = np.array(src, int), np.array(dst, int)
        self.t_last = (blk == TRIAL) & (np.array(cl.stage) == self.nT - 1)
        # the first signup, pending in a trial team, reaches value (a seat) or gives up
        self.f_src = np.flatnonzero(blk == TRIAL)
        self.f_act = np.where(self.top[self.f_src], self.f_src, seat_dst[self.f_src])
        self.f_eta = self.tf_eta[:, np.array(cl.stage)[self.f_src]]
        self.f_top = self.top[self.f_src]
        self.f_zero = a[self.f_src] == 0
        # the trial's end: (source, destination, probability, kind) rows
        # kind: 0 converted, 1 lost access, 2 fell back to free, 3 fell back to the paywall
        rows = []
        last = self.nT - 1
        for i in range(n):
            if blk[i] != TRIAL or cl.stage[i] != last:
                continue
            s = a[i]
            conv = self.convert_p if s > 0 else 0.0
            if conv > 0:
                rows.append((i, cl(PAYING, s), conv, 0))
            rest = 1.0 - conv
            if rest <= 0:
                continue
            if not self.reverse:
                rows.append((i, self.na, rest, 1))
            elif lim > 0 and s > lim:
                rows.append((i, cl(PENDING, s, 0), rest, 3))
            else:
                for j, w, paywall in self._fallback_usage(min(s, self.A_free)):
                    to = cl(PENDING, s, 0) if paywall else cl(FREE, min(s, self.A_free), j)
                    rows.append((i, to, rest * w, 3 if paywall else 2))
        r = np.array(rows, dtype=float).reshape(-1, 4)
        self.e_src, self.e_dst = r[:, 0].astype(int), r[:, 1].astype(int)
        self.e_p, self.e_kind = r[:, 2], r[:, 3].astype(int)

    def _fallback_usage(self, seats: int) -> list[tuple[int, float, bool]]:
        """Usage stage of a reverse-trial team falling back to the free tier: its trial
        usage taken as seats x usage rate x half the trial.  ``(stage, weight, paywall)``."""
        if self.usage_limit <= 0:
            return [(0, 1.0, False)]
        x = self.usage_rate * seats * self.trial_length / 2 / self.usage_limit * self.J
        if x >= self.J:
            return [(0, 1.0, True)]
        lo = int(math.floor(x))
        frac = x - lo
        out = [(lo, 1.0 - frac, False)]
        if frac > 0:
            out.append((lo + 1, frac, True) if lo + 1 >= self.J else (lo + 1, frac, False))
        return out

    # -- the linear part: one sparse matrix ----------------------------------------------

    def _index(self, name: str, b: int | np.ndarray, k: int | np.ndarray,
               width: int) -> np.ndarray:
        return self.sl[name].start + np.asarray(b) * width + np.asarray(k)

    def _linear(self) -> None:
        """Every flow whose rate is a constant times one state variable: onboarding and
        invite chains, tenure phases, usage of teams without extra seats, logo churn, the
        decision and trial clocks, a trial team's first signup, the trial's end; with the
        counters they feed and the per-bin outputs the nonlinear part reads.  A team
        moving between classes takes its carried quantities along (people reached,
        pending signups); those of a team that loses access are doomed."""
        B, n, sl = self.B, self.n, self.sl
        ntop = len(self.top_idx)
        size = self.size
        out_names = ("act_f", "act_j", "act_i", "ab_f", "ab_j", "ab_i", "doom_f", "doom_j",
                     "doom_i", "seat_new", "first_t")
        self.out = {name: slice(i * B, (i + 1) * B) for i, name in enumerate(out_names)}
        n_out = len(out_names) * B
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("A", "Ac", "R", "Rc")}

        def add(which: str, r: Any, c: Any, v: Any) -> None:
            r, c, v = np.broadcast_arrays(np.asarray(r, int), np.asarray(c, int),
                                          np.asarray(v, float))
            rows[which].append(np.vstack([r.ravel(), c.ravel(), v.ravel()]))

        def flow(which: str, src: Any, dst: Any | None, rate: Any) -> None:
            add(which, src, src, -np.asarray(rate, float))
            if dst is not None:
                add(which, dst, src, rate)

        z = sl["Z"].start
        ctr = {name: z + i for i, name in enumerate(_COUNTERS)}

        def out(name: str, b: Any) -> np.ndarray:
            return self.out[name].start + np.asarray(b)

        bb = np.arange(B)[:, None]  # broadcast over bins

        # onboarding pools: (state, chain, counter of values reached, kind of signup)
        pools = [("OJ", self.ch_joiner, "act_joiner", "j"),
                 ("OI", self.ch_invitee, "act_invitee", "i")]
        pools.append(("OP", self.ch_post, "act_founder", "f") if self.trial
                     else ("OF", self.ch_founder, "act_founder", "f"))
        for name, ch, counter, kind in pools:
            K = ch.stages
            k = np.arange(K)[None, :]
            src = self._index(name, bb, k, K)
            nxt = self._index(name, bb, np.minimum(k + 1, K - 1), K)
            flow("A", src, None, ch.rates)
            add("A", nxt[:, :-1], src[:, :-1], ch.rates[:-1] * ch.cont[:-1])
            add("A", ctr[counter], src, ch.rates * ch.exits[ACT])
            add("A", ctr["abandoned"], src, ch.rates * ch.exits[ABANDON])
            add("R", out(f"act_{kind}", bb), src, ch.rates * ch.exits[ACT])
            add("R", out(f"ab_{kind}", bb), src, ch.rates * ch.exits[ABANDON])
        # invites in flight: live ones sign up as invitees, those of lost teams lose access
        chv, chi = self.ch_invite, self.ch_invitee
        K = chv.stages
        k = np.arange(K)[None, :]
        arrive = chv.rates * chv.exits[0]
        for name in ("IF", "ID"):
            src = self._index(name, bb, k, K)
            nxt = self._index(name, bb, np.minimum(k + 1, K - 1), K)
            flow("A", src, None, chv.rates)
            add("A", nxt[:, :-1], src[:, :-1], chv.rates[:-1] * chv.cont[:-1])
            for counter in ("sig_invite", "invite_arrivals"):
                add("A", ctr[counter], src, arrive)
            add("A", ctr["invite_delay_sum"], src, arrive * chv.ages)
            if name == "ID":
                add("A", ctr["lost"], src, arrive)
                continue
            add("A", self._index("OI", bb, 0, chi.stages), src,
                arrive * (1.0 - chi.instant.sum()))
            add("A", ctr["act_invitee"], src, arrive * chi.instant[ACT])
            add("A", ctr["abandoned"], src, arrive * chi.instant[ABANDON])
            add("R", out("act_i", bb), src, arrive * chi.instant[ACT])
            add("R", out("ab_i", bb), src, arrive * chi.instant[ABANDON])
        # tenure phases (the churn itself is read from them in the nonlinear part)
        if self.tenure is not None:
            ch = self.tenure
            src = sl["G"].start + np.arange(ch.stages)
            flow("A", src, None, ch.rates)
            add("A", src[1:], src[:-1], ch.rates[:-1] * ch.cont[:-1])

        # team classes
        def iX(name: str, c: Any) -> np.ndarray:
            return sl[name].start + bb * n + np.asarray(c)[None, :]

        def iN(c: Any) -> np.ndarray:
            return iX("N", c)

        def iE(c: Any) -> np.ndarray:
            return sl["E"].start + bb * ntop + self.top_pos[np.asarray(c)][None, :]

        def team_flow(which: str, src: np.ndarray, dst: np.ndarray, rate: Any,
                      out_which: str = "R") -> None:
            """Teams move from src to dst classes at ``rate`` per team, with what they
            carry; the signups pending for a team that loses access are doomed (a trial
            team's first signup, onboarding on the trial clock, has no pool: lost now)."""
            rate = np.broadcast_to(np.asarray(rate, float), src.shape)
            flow(which, iN(src), iN(dst), rate)
            flow(which, iX("K", src), iX("K", dst), rate)  # reached people stay reached
            na = dst == self.na
            for name in _PENDING:
                flow(which, iX(name, src), None, rate)
                if (~na).any():
                    add(which, iX(name, dst[~na]), iX(name, src[~na]), rate[~na])
                if not na.any():
                    continue
                if name == "PF":
                    clock = self.blk[src[na]] == TRIAL
                    add(which, ctr["lost"], iX(name, src[na][clock]), rate[na][clock])
                    add(out_which, out("doom_f", bb), iX(name, src[na][~clock]),
                        rate[na][~clock])
                else:
                    add(out_which, out("doom_" + name[1].lower(), bb), iX(name, src[na]),
                        rate[na])

        def extras(which: str, src: np.ndarray, dst: np.ndarray, rate: Any,
                   lost: tuple[str, ...] = ()) -> None:
            """Extra seats of top sources go with a flow of rate ``rate`` (per team)."""
            rate = np.broadcast_to(np.asarray(rate, float), src.shape)
            m = self.top[src]
            if not m.any():
                return
            s, d, r = src[m], dst[m], rate[m]
            flow(which, iE(s), None, r)
            keep = self.top[d]
            if keep.any():
                add(which, iE(d[keep]), iE(s[keep]), r[keep])
            for counter in lost:
                if (~keep).any():
                    add(which, ctr[counter], iE(s[~keep]), r[~keep])

        a = self.a
        # usage (teams whose seats are whole numbers here; a top with extras: nonlinear)
        if len(self.u_src):
            lin = ~self.top[self.u_src] | (not self.free_extra)
            s, d = self.u_src[lin], self.u_dst[lin]
            rate = self.usage_rate * self.J / self.usage_limit * a[s]
            team_flow("A", s, d, rate)
            add("A", ctr["paywall"], iN(s), rate * self.u_pay[lin])
        # logo churn: paying teams cancel; their seats end
        if self.logo > 0 and len(self.l_src):
            s = self.l_src
            na = np.full(len(s), self.na)
            team_flow("A", s, na, self.logo)
            add("A", ctr["cancels"], iN(s), self.logo)
            add("A", ctr["lost_seats"], iN(s), self.logo * a[s])
            extras("A", s, na, self.logo, lost=("lost_seats",))
        # churn of teams below the top (rate x seats; a paying team's last seat cancels it)
        if len(self.c_src):
            lin = ~self.top[self.c_src]
            s, d = self.c_src[lin], self.c_dst[lin]
            which = ("Ac", "Rc") if self.tenure is not None else ("A", "R")
            rate = a[s] * (1.0 if self.tenure is not None else self.churn)
            team_flow(which[0], s, d, rate, out_which=which[1])
            add(which[0], ctr["churned"], iN(s), rate)
            add(which[0], ctr["cancels"], iN(s), rate * (d == self.na))
        # decision clock (the decision itself is nonlinear: waiting users)
        if len(self.d_src):
            team_flow("A", self.d_src, self.d_dst, self.d_rate)
            extras("A", self.d_src, self.d_dst, self.d_rate)
        # stocks integrated over time
        add("A", ctr["user_days"], iN(np.arange(n)), a * self.access)
        add("A", ctr["user_days"], sl["E"].start + np.arange(B * ntop), 1.0)
        add("A", ctr["paid_seat_days"], iN(np.arange(n)), a * self.paying)
        ptop = self.top_idx[self.paying[self.top_idx]]
        add("A", ctr["paid_seat_days"], iE(ptop), 1.0)
        add("A", ctr["paying_days"], iN(np.arange(n)), 1.0 * self.paying)
        if self.trial:
            self._linear_trial(add, team_flow, extras, iX, iE, ctr, out, bb)
        for key, (r, c) in {"A": (size, size), "Ac": (size, size), "R": (n_out, size),
                            "Rc": (n_out, size)}.items():
            data = np.hstack(rows[key]) if rows[key] else np.zeros((3, 0))
            mat = sparse.csr_matrix((data[2], (data[0].astype(int), data[1].astype(int))),
                                    shape=(r, c))
            mat.sum_duplicates()
            mat.data[np.abs(mat.data) < 1e-30] = 0.0  # negligible: would breed subnormals
            mat.eliminate_zeros()
            setattr(self, f"L_{key}", mat)

    def _linear_trial(self, add: Any, team_flow: Any, extras: Any, iX: Any, iE: Any,
                      ctr: dict[str, int], out: Any, bb: np.ndarray) -> None:
        a = self.a
        nu = self.trial_rate

        def iN(c: Any) -> np.ndarray:
            return iX("N", c)

        team_flow("A", self.t_src, self.t_dst, nu)
        extras("A", self.t_src, self.t_dst, nu)
        # the first signup, pending in a trial team, reaches value (its team takes a seat:
        # a rate per pending first signup) or gives up, on the trial clock; the rest of
        # what the team carries follows in the nonlinear part
        s = self.f_src
        ea, eb = self.f_eta
        pf = iX("PF", s)
        add("A", pf, pf, -(ea + eb))
        nt = ~self.f_top
        add("A", iN(s[nt]), pf[:, nt], -ea[nt])
        add("A", iN(self.f_act[nt]), pf[:, nt], ea[nt])
        if self.f_top.any():
            add("A", iE(s[~nt]), pf[:, ~nt], ea[~nt])  # a seat beyond the top
        for counter in ("act_founder", "seated"):
            add("A", ctr[counter], pf, ea)
        add("A", ctr["abandoned"], pf, eb)
        add("R", out("seat_new", bb), pf, ea)
        add("R", out("first_t", bb), pf, ea * self.f_zero)
        # the trial's end
        last = np.flatnonzero(self.t_last)
        add("A", ctr["trial_ends"], iN(last), nu)
        s, d, p, kind = self.e_src, self.e_dst, self.e_p, self.e_kind
        rate = nu * p
        team_flow("A", s, d, rate)
        conv, lost, pay = kind == 0, kind == 1, kind == 3
        add("A", ctr["trial_conversions"], iN(s), rate * conv)
        add("A", ctr["paid_entries"], iN(s), rate * conv * a[s])
        add("A", ctr["paywall"], iN(s), rate * pay)
        add("A", ctr["lost_seats"], iN(s), rate * lost * a[s])
        # a first signup still onboarding when the trial ends, in a team that keeps access,
        # goes on (the rest of the race, a chain of its own), pending in that team (it
        # moved there with the team)
        post = self.ch_post
        keep = ~lost
        pf = iX("PF", s)
        add("A", self._index("OP", bb, 0, post.stages), pf,
            rate * keep * (1.0 - post.instant.sum()))
        add("A", ctr["act_founder"], pf, rate * keep * post.instant[ACT])
        add("A", ctr["abandoned"], pf, rate * keep * post.instant[ABANDON])
        add("R", out("act_f", bb), pf, rate * keep * post.instant[ACT])
        add("R", out("ab_f", bb), pf, rate * keep * post.instant[ABANDON])
        extras("A", s, d, rate, lost=("lost_seats",))
        m = self.top[s]
        if m.any():
            add("A", ctr["paid_entries"], iE(s[m]), (rate * conv)[m])

    # -- the right-hand side ---------------------------------------------------------------

    def initial(self) -> np.ndarray:
        return np.zeros(self.size)

    def jacobian(self) -> sparse.csc_matrix:
        """A constant sparse approximation of the Jacobian: the linear part, plus the
        decisions at the paywall and the resolution of pending signups as if linear
        (rates of a fraction of a day: left out, they would limit the steps)."""
        lam = self.churn
        if self.tenure is not None:
            ch = self.tenure
            lam = float(1.0 / np.sum(1.0 / ch.rates))  # about the seats' mean hazard
        B, n, sl = self.B, self.n, self.sl
        r, c, v = [], [], []
        bb = np.arange(B)[:, None]
        if self.dec_src.size:
            src = self.dec_src[None, :]
            rate = np.broadcast_to(self.dec_rate, (B, self.dec_src.size))
            pay = self.pay_idx[self.dec_a.astype(int)][None, :]
            for base in ("N", "K", *_PENDING):
                i = sl[base].start + bb * n
                for dst, w in ((src, -1.0), (self.dec_cap[None, :], 1.0 - self.upgrade_p),
                               (pay, self.upgrade_p)):
                    r.append((i + dst).ravel())
                    c.append((i + src).ravel())
                    v.append((rate * w).ravel())
            r.append(np.arange(sl["W"].start, sl["W"].stop))
            c.append(np.arange(sl["W"].start, sl["W"].stop))
            v.append(np.full(B, -float(self.dec_rate.max())))
        # pending signups resolve after their onboarding (invitees: the delay first)
        waits = {"PF": _mean_age(self.ch_founder), "PJ": _mean_age(self.ch_joiner),
                 "PI": _mean_age(self.ch_invite) + _mean_age(self.ch_invitee)}
        for name, wait in waits.items():
            q = np.arange(sl[name].start, sl[name].stop)
            if name == "PF":  # (on the trial clock they are in the linear part)
                q = q[np.tile(self.pf_pool, B)]
            r.append(q)
            c.append(q)
            v.append(np.full(len(q), -1.0 / max(wait, G_MIN)))
        extra = sparse.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))),
                                  shape=(self.size, self.size))
        return (self.L_A + lam * self.L_Ac + extra).tocsc()

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:  # noqa: C901, PLR0915
        """dy/dt: the linear flows (one sparse product) plus the nonlinear ones."""
        B, n, sl = self.B, self.n, self.sl
        ctr = self._ctr
        eps = self.eps
        # churn hazard: constant, or the seats' average over their tenure phases
        if self.tenure is not None:
            ch = self.tenure
            G = np.maximum(y[sl["G"]], 0.0)
            g_tot = float(G.sum())
            lam = (float(np.dot(G, ch.rates * ch.exits[0])) / g_tot if g_tot > _TINY
                   else float(ch.rates[0] * ch.exits[0, 0]))
            dy = self.L_A @ y + lam * (self.L_Ac @ y)
            o = self.L_R @ y + lam * (self.L_Rc @ y)
        else:
            lam = self.churn
            dy = self.L_A @ y
            o = self.L_R @ y
        out = {k: o[s] for k, s in self.out.items()}
        dZ = np.zeros(len(_COUNTERS))
        X = float(y[sl["X"].start])
        W = y[sl["W"]]
        V = y[sl["V"]]
        E = y[sl["E"]].reshape(B, -1)
        # teams per class and what they carry: people reached, and signups pending
        # (onboarding, or an accepted invite not yet signed up) by kind
        team = y[self._team].reshape(len(_TEAM), B, n)
        dT = np.zeros_like(team)
        N, dN = team[0], dT[0]
        carried = dict(zip(_TEAM[1:], team[1:], strict=True))
        d_car = dict(zip(_TEAM[1:], dT[1:], strict=True))
        dE = np.zeros_like(E)
        dW = np.zeros(B)
        top = self.top_idx
        Ntop = N[:, top]
        etop = E / (np.abs(Ntop) + eps)  # extra seats per top team
        extra = np.zeros((B, n))
        extra[:, top] = etop
        per = self.a + extra
        seats = N * per
        s_b = seats.sum(axis=1)
        active = float(s_b.sum())
        n0 = N @ self.zero_f
        n_p = N @ self.pending_f

        # -- acquisition and the market ----------------------------------------------------
        organic = self.organic_rate(t)
        rates = np.array([organic, self.paid, self.referral * active])
        contacts = float(rates.sum())
        share = rates / contacts if contacts > 0 else np.zeros(3)
        ex = np.exp(-self.rep_s * X)
        untouched = np.bincount(self.rep_bin, weights=self.rep_sn * ex, minlength=B)
        touched = self.companies_total - np.bincount(self.rep_bin, weights=self.rep_n * ex,
                                                     minlength=B)
        kappa = self.card * contacts / self.M
        create = kappa * untouched  # new teams (first signups) per day, per bin
        people = self.people_total - untouched  # in touched companies
        K = carried["K"]
        remaining_b = np.maximum(people - K.sum(axis=1), 0.0)
        join_b = contacts * remaining_b / self.M
        # a joiner reaches one of the remaining people: each class by its teams' share
        # (teams of a bin taken at the bin's mean size)
        size_b = people / np.maximum(touched, _TINY)
        rem = np.maximum(N * size_b[:, None] - K, 0.0)
        rem_b = rem.sum(axis=1)
        join = rem * (join_b / (rem_b + eps))[:, None]
        join_lost = join[:, self.na]
        join_in = join * self.acc_f
        dy[sl["X"].start] += kappa
        d_car["K"] += join
        d_car["K"][:, self._new_onb] += create
        signed = float(create.sum() + join.sum())
        dZ[ctr["contacts"]] += contacts
        dZ[self._ctr_channels] += share * signed
        dZ[ctr["sig_founder"]] += create.sum()
        dZ[ctr["sig_lost_signup"]] += join_lost.sum()
        dZ[ctr["lost"]] += join_lost.sum()
        chj, chf = self.ch_joiner, self.ch_founder
        d_car["PJ"] += join_in * (1.0 - chj.instant.sum())
        dy[self._oj0] += join_in.sum(axis=1) * (1.0 - chj.instant.sum())
        dZ[ctr["abandoned"]] += join_in.sum() * chj.instant[ABANDON]
        j_now = join_in * chj.instant[ACT]  # joiners reaching value at once, per class
        dZ[ctr["act_joiner"]] += j_now.sum()
        if not self.trial:
            dy[self._of0] += create * (1.0 - chf.instant.sum())
            d_car["PF"][:, self._new_onb] += create * (1.0 - chf.instant.sum())
            dZ[ctr["abandoned"]] += create.sum() * chf.instant[ABANDON]

        # -- users who reach value land in their own team's class -------------------------
        land = j_now.copy()
        for kind, name in (("f", "PF"), ("j", "PJ"), ("i", "PI")):
            P = carried[name] * self.pf_pool if name == "PF" else carried[name]
            phi = out[f"act_{kind}"]
            # (a numerical residue with nothing pending goes to the bin's teams evenly)
            w = P + 1e-9 * np.abs(N) * self.acc_f
            w_b = w.sum(axis=1)
            lnd = w * (phi / np.where(np.abs(w_b) > 1e-30, w_b, 1.0))[:, None]
            land += lnd
            d_car[name] -= lnd * (P / np.where(np.abs(w) > 1e-30, w, 1.0))
            # those who gave up leave their teams' pending count
            d_car[name] -= P * (out[f"ab_{kind}"] / (np.abs(P.sum(axis=1)) + eps))[:, None]
        # at the limit: static for most classes; a top class below the limit: geometric
        if self.gap_cls.size:
            q = np.broadcast_to(self.lim_static, (B, n)).copy()
            e = extra[:, self.gap_cls]
            q[:, self.gap_cls] = (e / (1.0 + e)) ** self.lim_gap[self.gap_cls]
        else:
            q = self.lim_static
        lim_flux = land * q
        seat_flux = land - lim_flux
        moves_s = [self.nontop]
        moves_d = [self.seat_dst[self.nontop]]
        moves_f = [seat_flux[:, self.nontop]]
        dE += seat_flux[:, top]
        taken = seat_flux.sum(axis=1)
        # seats that send invites, by the class the team is in once seated
        inv_seats = np.zeros((B, n))
        _scatter(inv_seats, self.seat_dest, seat_flux * self.invites_from_f)
        seat_new = taken.sum() + out["seat_new"].sum()
        dZ[ctr["seated"]] += taken.sum()
        dZ[ctr["paid_entries"]] += seat_flux[:, self.paying].sum()
        dW += lim_flux @ self.wait_cls
        dZ[ctr["blocked"]] += (lim_flux @ self.capped_cls).sum()
        if self.free_lim.size:
            f = lim_flux[:, self.free_lim]
            moves_s.append(self.free_lim)
            moves_d.append(self.lim_dst[self.free_lim])
            moves_f.append(f)
            dZ[ctr["paywall"]] += f.sum()
            ft = self.top_pos[self.free_lim]
            m = (ft >= 0) & (self.top_pos[self.lim_dst[self.free_lim]] >= 0)
            if m.any():
                mv = f[:, m] * extra[:, self.free_lim[m]]
                _scatter(dE, ft[m], -mv)
                _scatter(dE, self.top_pos[self.lim_dst[self.free_lim[m]]], mv)
        frac_v = V / (np.abs(n0) + eps)
        first = ((land @ self.zero_f) + out["first_t"]) * frac_v
        dV = -first
        dZ[ctr["teams_activated"]] += first.sum()

        # -- top classes: churn with the geometric closure; usage with extra seats ---------
        if lam > 0:
            at = self.a[top]
            drop = lam * at * Ntop / (1.0 + etop)
            moves_s.append(top)
            moves_d.append(self.top_down)
            moves_f.append(drop)
            total = lam * (at * Ntop + E)
            dE -= total - drop
            dZ[ctr["churned"]] += total.sum()
        if self.free_extra and self.u_top.size:
            s, d = self.u_top, self.u_top_dst
            fl = N[:, s] * per[:, s] * (self.usage_rate * self.J / self.usage_limit)
            moves_s.append(s)
            moves_d.append(d)
            moves_f.append(fl)
            mv = fl * extra[:, s]
            _scatter(dE, self.top_pos[s], -mv)
            _scatter(dE, self.top_pos[d], mv)
            dZ[ctr["paywall"]] += fl[:, self.u_top_pay].sum()

        # -- paywall decisions (waiting users per pending team at the bin's mean) ----------
        if self.dec_src.size:
            dec = N[:, self.dec_src] * self.dec_rate
            wbar = W / (np.abs(n_p) + eps)
            ex_d = extra[:, self.dec_src]
            someone = np.where(self.dec_a + ex_d > 0, 1.0, np.clip(wbar[:, None], 0.0, 1.0))
            up = dec * (self.upgrade_p * someone)
            down = dec - up
            moves_s.append(self.dec_src)
            moves_d.append(self.dec_cap)
            moves_f.append(down)
            st = self.top_pos[self.dec_src]
            m = st >= 0
            if m.any():
                _scatter(dE, st[m], -dec[:, m] * ex_d[:, m])
                _scatter(dE, self.top_pos[self.dec_cap[m]], down[:, m] * ex_d[:, m])
            # an upgrade: waiting users take seats; the team joins the paying classes
            tgt = np.maximum(self.dec_a + ex_d + wbar[:, None], 0.0)
            A = float(self.A)
            lo = np.minimum(np.floor(tgt), A)
            frac = np.where(lo < A, tgt - lo, 0.0)
            lo_i = lo.astype(int)
            hi_i = np.minimum(lo_i + 1, self.A)
            width = self.A + 1
            # what moves to the paying classes lo / lo + 1: the teams, what they carry,
            # and (last) the waiting users seated there, who send invites
            moving = np.concatenate([team[:, :, self.dec_src] / (
                np.abs(N[:, self.dec_src]) + eps) * up, (up * wbar[:, None])[None]])
            moving[0] = up
            k = len(moving)
            off = (np.arange(k)[:, None, None] * B + np.arange(B)[None, :, None]) * width
            w = (moving * (1 - frac)).ravel(), (moving * frac).ravel()
            paid = (np.bincount((off + lo_i).ravel(), weights=w[0], minlength=k * B * width)
                    + np.bincount((off + hi_i).ravel(), weights=w[1], minlength=k * B * width)
                    ).reshape(k, B, width)
            dT[:, :, self.dec_src] -= moving[:-1]
            dT[:, :, self.pay_idx] += paid[:-1]
            dE[:, self.top_pos[self.pay_idx[-1]]] += (up * np.maximum(tgt - A, 0.0)).sum(axis=1)
            decided = dec.sum(axis=1)
            dW -= decided * wbar
            seated_up = up.sum(axis=1) * wbar
            seat_new += seated_up.sum()
            inv_seats[:, self.pay_idx] += paid[-1]
            dZ[ctr["seated"]] += seated_up.sum()
            dZ[ctr["blocked"]] += (down.sum(axis=1) * wbar).sum()
            dZ[ctr["paid_entries"]] += (up * tgt).sum()
            dZ[ctr["upgrades"]] += up.sum()
            dZ[ctr["declines"]] += down.sum()

        # -- new teams: the first signup's instant outcomes now, the rest onboarding -------
        if self.trial:
            ia, ib = self.tf_instant
            dN[:, self._new_onb] += create * (1.0 - ia)
            dN[:, self._new_seat] += create * ia
            d_car["PF"][:, self._new_onb] += create * (1.0 - ia - ib)
            dZ[ctr["abandoned"]] += create.sum() * ib
            # a trial team's first signup took a seat: the linear part moved the team; its
            # seat sends invites, and what the team carries goes along
            fa = carried["PF"][:, self.f_src] * self.f_eta[ACT]
            _scatter(inv_seats, self.f_act, fa)
            mv = ~self.f_top
            for name in ("K", "PJ", "PI"):
                c = fa[:, mv] * (carried[name][:, self.f_src[mv]]
                                 / (np.abs(N[:, self.f_src[mv]]) + eps))
                _scatter(d_car[name], self.f_src[mv], -c)
                _scatter(d_car[name], self.f_act[mv], c)
        else:
            ia = chf.instant[ACT]
            dN[:, self._new_onb] += create * (1.0 - ia)
            dN[:, self._new_seat] += create * ia
        if self._new_seat != self._new_onb:  # reached people of instant starters
            d_car["K"][:, self._new_onb] -= create * ia
            d_car["K"][:, self._new_seat] += create * ia
        dZ[ctr["act_founder"]] += create.sum() * ia
        dZ[ctr["seated"]] += create.sum() * ia
        seat_new += create.sum() * ia
        inv_seats[:, self._new_seat] += create * ia
        dV = dV + create * (1.0 - ia)
        dZ[ctr["teams_activated"]] += create.sum() * ia

        # -- apply the team moves, with what the teams carry ---------------------------------
        s_all = np.concatenate(moves_s)
        d_all = np.concatenate(moves_d)
        f2 = np.concatenate(moves_f, axis=1)
        flows = team[:, :, s_all] * (f2 / (np.abs(N[:, s_all]) + eps))
        flows[0] = f2
        w = flows.ravel()
        size = dT.size
        dT -= np.bincount((self._off5 + s_all).ravel(), weights=w, minlength=size).reshape(dT.shape)
        dT += np.bincount((self._off5 + d_all).ravel(), weights=w, minlength=size).reshape(dT.shape)

        # -- signups pending for teams that lost access: they lose it too ------------------
        def doom(names: tuple[str, ...], amount: np.ndarray, lost_now: bool = True) -> np.ndarray:
            """Remove ``amount`` (per bin) from the pools ``names`` in proportion, counting
            what is removed as having lost access (unless ``lost_now`` is false)."""
            pools = [y[sl[p]].reshape(B, -1) for p in names]
            tot = sum(p.sum(axis=1) for p in pools)
            frac = np.clip(amount / np.where(tot > 1e-12, tot, 1.0), 0.0, 1e3) * (tot > 1e-12)
            for p, pool in zip(names, pools, strict=True):
                removed = pool * frac[:, None]
                dy[sl[p]].reshape(B, -1)[:] -= removed
                if lost_now:
                    dZ[ctr["lost"]] += float(removed.sum())
            return frac

        doom(("OF", "OP") if self.trial else ("OF",), out["doom_f"])
        doom(("OJ",), out["doom_j"])
        IF = y[sl["IF"]].reshape(B, -1)
        OI = y[sl["OI"]].reshape(B, -1)
        tot_i = OI.sum(axis=1) + IF.sum(axis=1)
        frac = np.clip(out["doom_i"] / np.where(tot_i > 1e-12, tot_i, 1.0), 0.0, 1e3) * (
            tot_i > 1e-12)
        dy[sl["OI"]].reshape(B, -1)[:] -= OI * frac[:, None]  # onboarding: lose access now
        dZ[ctr["lost"]] += float((OI * frac[:, None]).sum())
        dy[sl["IF"]].reshape(B, -1)[:] -= IF * frac[:, None]  # in flight: arrive to no access
        dy[sl["ID"]].reshape(B, -1)[:] += IF * frac[:, None]

        # -- invites: sent by new seats, accepted, reserving someone still there ------------
        reach = np.clip(rem / (np.abs(N) + eps), 0.0, 1.0)
        accepted = inv_seats * (self.invites_mean * self.acceptance) * reach
        dZ[ctr["invites_sent"]] += inv_seats.sum() * self.invites_mean
        d_car["PI"] += accepted
        d_car["K"] += accepted
        dy[self._if0] += accepted.sum(axis=1)

        # -- seats' tenure phases ---------------------------------------------------------
        if self.tenure is not None:
            g0 = sl["G"].start
            dy[g0] += seat_new
            if self._lost_row is None:
                self._lost_row = self.L_A.getrow(sl["Z"].start + ctr["lost_seats"])
            lost_seats = float((self._lost_row @ y)[0])
            if g_tot > _TINY:
                dy[sl["G"]] -= G * (lost_seats / g_tot)

        dy[sl["W"]] += dW
        dy[sl["V"]] += dV
        dy[sl["E"]] += dE.ravel()
        dy[self._team] += dT.ravel()
        dy[sl["Z"]] += dZ
        # no value below 1e-100 is meaningful here; left in, such values become subnormal
        # numbers in the solver's norms, which makes every step many times slower
        dy[np.abs(dy) < 1e-100] = 0.0
        return dy

    # -- what the state means ----------------------------------------------------------

    def observe(self, Y: np.ndarray) -> dict[str, np.ndarray]:
        """Stocks and cumulative counters at each column of ``Y`` (states x times)."""
        B, n, sl = self.B, self.n, self.sl
        T = Y.shape[1]
        N = np.maximum(Y[sl["N"]].reshape(B, n, T), 0.0)
        E = np.maximum(Y[sl["E"]].reshape(B, -1, T), 0.0)
        seats = N * self.a[None, :, None]
        seats[:, self.top_idx, :] += E
        X = Y[sl["X"]][0]
        created = self.companies_total.sum() - (self.rep_n[:, None] * np.exp(
            -self.rep_s[:, None] * X[None, :])).sum(axis=0)
        onboarding = sum(np.maximum(Y[sl[k]], 0.0).sum(axis=0)
                         for k in ("OF", "OP", "OJ", "OI") if sl[k].stop > sl[k].start)
        if self.trial:  # first signups onboarding on the trial clock
            PF = Y[sl["PF"]].reshape(B, n, T)
            onboarding = onboarding + PF[:, self.blk == TRIAL, :].sum(axis=(0, 1))
        out = {name: Y[self.sl["Z"].start + i] for i, name in enumerate(_COUNTERS)}
        out.update({
            "active": seats.sum(axis=(0, 1)),
            "paid_seats": seats[:, self.paying, :].sum(axis=(0, 1)),
            "paying": N[:, self.paying, :].sum(axis=(0, 1)),
            "teams": created,
            "onboarding": onboarding,
            "waiting": np.maximum(Y[sl["W"]], 0.0).sum(axis=0),
            "in_flight": np.maximum(Y[sl["IF"]], 0.0).sum(axis=0)
            + np.maximum(Y[sl["ID"]], 0.0).sum(axis=0),
        })
        return out

    def ttv_quantile(self, q: float, weights: Mapping[str, float]) -> float:
        """Quantile of time to value among activated users: the kinds' exact race
        distributions, mixed by how many of each kind reached value."""
        times, mass = [], []
        for race, w in ((self.race_founder, weights["founder"]),
                        (self.race_joiner, weights["joiner"]),
                        (self.race_invitee, weights["invitee"])):
            tot = race.p_act
            if w <= 0 or tot <= 0:
                continue
            times += [np.zeros(1), race.times]
            mass += [np.array([race.instant_act * w / tot]), race.act * w / tot]
        if not times:
            return math.nan
        t = np.concatenate(times)
        m = np.concatenate(mass)
        order = np.argsort(t, kind="stable")
        cum = np.cumsum(m[order])
        return float(t[order][min(np.searchsorted(cum, q * cum[-1]), len(cum) - 1)])


# -- results ---------------------------------------------------------------------------------

@dataclass
class MeanFieldResult:
    """The twin's deterministic run: daily curves, metrics, funnel, states, and how
    it ran."""

    scenario: Scenario
    horizon: float
    grid: np.ndarray
    series: dict[str, np.ndarray]
    metrics: dict[str, float]
    funnel: dict[str, float]
    cohorts: list[tuple[int, int, float, float]]
    states: dict[str, float]
    unsupported: list[str]
    notes: list[tuple[str, str, str]]
    seconds: float
    evaluations: int
    state_size: int


def solve(scenario: Scenario, horizon: float | None = None) -> MeanFieldResult:
    """Integrate the twin of ``scenario`` to ``horizon`` (default: the scenario's) and
    return its curves on :func:`~flywheel.metrics.day_grid` and every metric of
    :data:`~flywheel.metrics.METRICS` (NaN where the twin has none)."""
    settings = Settings.from_scenario(scenario, horizon)
    h = settings.horizon
    start = time.perf_counter()
    tw = _Twin(settings)
    grid = day_grid(h)
    t_eval = np.concatenate([[0.0], grid])
    # the stiff part of the system is its linear part: BDF with that (sparse, constant)
    # matrix as the Jacobian takes steps of days however fast the onboarding stages are
    sol = _integrate(tw, h, t_eval)
    obs = tw.observe(sol.y)
    sales = bool(unsupported(scenario))
    series = _series(tw, obs, sales)
    metrics = _metrics(tw, obs, sales)
    funnel = _funnel(tw, obs)
    states = _states(obs)
    cohorts = _cohorts(tw, obs, grid)
    return MeanFieldResult(
        scenario=scenario, horizon=h, grid=grid, series=series, metrics=metrics,
        funnel=funnel, cohorts=cohorts, states=states, unsupported=unsupported(scenario),
        notes=mechanism_notes(scenario), seconds=time.perf_counter() - start,
        evaluations=int(sol.nfev), state_size=tw.size)


class _OverBudget(Exception):
    """An integration attempt used up MAX_EVALUATIONS."""


def _integrate(tw: _Twin, horizon: float, t_eval: np.ndarray) -> Any:
    """Integrate the twin: BDF with the sparse linear part as its Jacobian (the stiff part
    of the system is linear); should it fail, Radau, then explicit RK23 (every rate is
    at most MAX_RATE, so that is slower but never stiff)."""
    jac = tw.jacobian()
    tries = (("BDF", {"jac": jac}), ("Radau", {"jac": jac}), ("RK23", {}))
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
            messages.append(f"{method}: more than {MAX_EVALUATIONS} evaluations")
            continue
        if sol.success:
            sol.method = method
            return sol
        messages.append(f"{method}: {sol.message}")
    raise EngineError("the mean-field twin's integration failed ("  # pragma: no cover
                      + "; ".join(messages) + "); run it with --engine des")


def _end(x: np.ndarray) -> float:
    return float(x[-1])


def _daily(cum: np.ndarray) -> np.ndarray:
    """A cumulative counter at 0 and at each day's end -> the count of each day."""
    return np.maximum(np.diff(cum), 0.0)


_CHANNEL_COUNTERS = {"organic": "sig_organic", "paid": "sig_paid", "referral": "sig_referral",
                     "invite": "sig_invite"}


def _signups(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    return sum(obs[c] for c in _CHANNEL_COUNTERS.values())


def _activated(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    return obs["act_founder"] + obs["act_joiner"] + obs["act_invitee"]


def _series(tw: _Twin, obs: Mapping[str, np.ndarray], sales: bool) -> dict[str, np.ndarray]:
    """Every series of :data:`SERIES` (NaN where the twin has none)."""
    days = len(obs["active"]) - 1
    nan = np.full(days, math.nan)
    zero = np.zeros(days)
    s: dict[str, np.ndarray] = {
        "active_users": obs["active"][1:],
        "paying_teams": obs["paying"][1:],
        "paid_seats": obs["paid_seats"][1:],
        "mrr": obs["paid_seats"][1:] * tw.price,
        "arr_self_serve": 12 * obs["paid_seats"][1:] * tw.price,
        "teams": obs["teams"][1:],
        "signups": _daily(_signups(obs)),
        "activations": _daily(_activated(obs)),
        "churned": _daily(obs["churned"] + obs["lost_seats"]),
        "upgrades": _daily(obs["upgrades"] + obs["trial_conversions"]),
    }
    for c in CHANNELS:
        key = _CHANNEL_COUNTERS.get(c)
        s[f"signups_{c}"] = _daily(obs[key]) if key else (nan if sales else zero)
    return {k: np.asarray(s.get(k, nan), dtype=float) for k in SERIES}


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else math.nan


def _metrics(tw: _Twin, obs: Mapping[str, np.ndarray], sales: bool) -> dict[str, float]:
    """Every metric of :data:`METRICS`, by the definitions of :mod:`flywheel.metrics`
    (NaN for those of the sales motions, which the twin does not carry)."""
    H = tw.H
    e = {k: _end(v) for k, v in obs.items()}
    m: dict[str, float] = {}
    signups = float(_end(_signups(obs)))
    m["signups"] = signups
    for c in CHANNELS:
        key = _CHANNEL_COUNTERS.get(c)
        m[f"signups_{c}"] = e[key] if key else (math.nan if sales else 0.0)
    act = e["act_founder"] + e["act_joiner"] + e["act_invitee"]
    m["activated"] = act
    m["activation_rate"] = _div(act, act + e["abandoned"])
    kinds = {"founder": e["act_founder"], "joiner": e["act_joiner"], "invitee": e["act_invitee"]}
    m["ttv_median_days"] = tw.ttv_quantile(0.5, kinds) if act > 0 else math.nan
    m["ttv_p90_days"] = tw.ttv_quantile(0.9, kinds) if act > 0 else math.nan
    m["viral_coefficient"] = _div(e["sig_invite"] + e["sig_referral"], act)
    m["viral_cycle_days"] = _div(e["invite_delay_sum"], e["invite_arrivals"]) \
        if e["invite_arrivals"] > 1e-9 else math.nan
    m["invites_sent"] = e["invites_sent"]
    m["teams"] = e["teams"]
    m["paywall_teams"] = e["paywall"]
    paid = e["upgrades"] + e["trial_conversions"]
    m["teams_ever_paid"] = paid
    m["free_to_paid_rate"] = _div(paid, e["teams"])
    m["new_customers"] = paid
    m["trial_teams"] = e["trial_ends"]
    m["trial_conversion"] = _div(e["trial_conversions"], e["trial_ends"]) \
        if e["trial_ends"] > 1e-9 else math.nan
    m["paying_teams"] = e["paying"]
    m["active_users_end"] = e["active"]
    m["free_users_end"] = e["active"] - e["paid_seats"]
    m["active_users_mean"] = e["user_days"] / H
    m["paid_seats_end"] = e["paid_seats"]
    m["mrr_end"] = e["paid_seats"] * tw.price
    m["arr_end"] = 12.0 * m["mrr_end"]
    m["arr_self_serve"] = m["arr_end"]
    m["revenue"] = e["paid_seat_days"] / DAYS_PER_MONTH * tw.price
    ended = e["churned"] + e["lost_seats"]
    exposure = e["user_days"] / DAYS_PER_MONTH
    m["user_churn_monthly"] = 1.0 - math.exp(-ended / exposure) if exposure > 0 else math.nan
    team_months = e["paying_days"] / DAYS_PER_MONTH
    m["logo_churn_monthly"] = 1.0 - math.exp(-e["cancels"] / team_months) \
        if team_months > 1e-9 else math.nan
    spend = tw.budget * H
    sales_cost = math.nan if sales else 0.0
    m["acquisition_spend"] = spend
    m["sales_cost"] = sales_cost
    m["serving_cost"] = (e["user_days"] - e["paid_seat_days"]) / DAYS_PER_MONTH * tw.serving
    m["gross_margin"] = _div(m["revenue"] - m["serving_cost"], m["revenue"])
    m["cac_blended"] = _div(spend + sales_cost, paid)
    m["cac_self_serve"] = _div(spend, paid)
    m["cost_per_signup"] = _div(spend, signups)
    gm = m["gross_margin"]
    margin_mrr = _div(m["mrr_end"], m["paying_teams"]) * (gm if not math.isnan(gm) else 1.0)
    logo = m["logo_churn_monthly"]
    m["ltv"] = _div(margin_mrr, logo) if logo and not math.isnan(logo) else math.nan
    m["ltv_cac"] = _div(m["ltv"], m["cac_blended"])
    m["cac_payback_months"] = _div(m["cac_blended"], margin_mrr) if margin_mrr > 0 else math.nan
    return {k: float(m.get(k, math.nan)) for k in METRICS}


def _funnel(tw: _Twin, obs: Mapping[str, np.ndarray]) -> dict[str, float]:
    e = {k: _end(v) for k, v in obs.items()}
    f = {
        "signups": float(_end(_signups(obs))),
        "activated": e["act_founder"] + e["act_joiner"] + e["act_invitee"],
        "seated": e["seated"],
        "in_paying_team": e["paid_entries"],
        "teams": e["teams"],
        "teams_activated": e["teams_activated"],
        "teams_at_decision": e["trial_ends"] if tw.trial else e["paywall"],
        "teams_paid": e["upgrades"] + e["trial_conversions"],
    }
    return {key: float(f.get(key, math.nan)) for key, _, _ in FUNNEL}


def _states(obs: Mapping[str, np.ndarray]) -> dict[str, float]:
    e = {k: _end(v) for k, v in obs.items()}
    s = {"onboarding": e["onboarding"], "active": e["active"], "abandoned": e["abandoned"],
         "churned": e["churned"], "lost_access": e["lost"] + e["lost_seats"],
         "blocked": e["blocked"], "waiting": e["waiting"]}
    return {k: float(s.get(k, 0.0)) for k in USER_STATES}


def _cohorts(tw: _Twin, obs: Mapping[str, np.ndarray], grid: np.ndarray,
             max_weeks: int = 52) -> list[tuple[int, int, float, float]]:
    """Weekly signup cohorts as in :func:`flywheel.metrics.replication_cohorts`:
    (cohort week, weeks since signup, signups, still active), approximately.

    The twin does not follow cohorts; a cohort's share active k weeks on is built from
    its mix of kinds of signup, each kind's exact time to value, the share of those
    reaching value who take a seat, the tenure curve, and access lost at the run's
    average rate (with a trial: the run's share of seats lost, all at the trial's end,
    as if users signed up when their team did)."""
    H = tw.H
    cum = {k: obs[k] for k in ("sig_founder", "sig_invite", "sig_lost_signup")}
    total = _signups(obs)
    days = len(grid)
    day_idx = np.arange(days + 1)
    weeks = int(math.ceil(days / 7))
    edges = np.minimum(day_idx[::7], days)
    if edges[-1] != days:
        edges = np.append(edges, days)

    def per_week(c: np.ndarray) -> np.ndarray:
        return np.maximum(np.diff(c[edges]), 0.0)

    n = per_week(total)
    founders = per_week(cum["sig_founder"])
    invitees = per_week(cum["sig_invite"])
    lost = per_week(cum["sig_lost_signup"])
    joiners = np.maximum(n - founders - invitees - lost, 0.0)
    e = {k: float(v[-1]) for k, v in obs.items()}
    act = e["act_founder"] + e["act_joiner"] + e["act_invitee"]
    seat_share = e["seated"] / act if act > 0 else 0.0
    lam_access = e["lost_seats"] / e["user_days"] if e["user_days"] > 0 else 0.0
    p_lost = e["lost_seats"] / e["seated"] if e["seated"] > 0 else 0.0

    def access(t: np.ndarray) -> np.ndarray:
        if tw.trial:
            return np.where(t >= tw.trial_length, 1.0 - p_lost, 1.0)
        return np.exp(-lam_access * t)

    tenure = tw.user_tenure.survival

    def active_share(race: Race, at: float) -> float:
        """P(seated and still active ``at`` days after signing up), one kind."""
        ok = race.times <= at
        got = race.instant_act * tenure(np.array([at]))[0]
        got += float(np.dot(race.act[ok], tenure(at - race.times[ok])))
        return seat_share * got * float(access(np.array([at]))[0])

    rows: list[tuple[int, int, float, float]] = []
    for kk in range(1, max_weeks + 1):
        at = 7.0 * kk
        share = (active_share(tw.race_founder, at), active_share(tw.race_joiner, at),
                 active_share(tw.race_invitee, at))
        observed = np.arange(weeks) * 7 + 7 + 7 * kk <= H
        if not observed.any():
            break
        for cw in np.flatnonzero(observed & (n[:weeks] > 0)).tolist():
            a = founders[cw] * share[0] + joiners[cw] * share[1] + invitees[cw] * share[2]
            rows.append((cw, kk, float(n[cw]), float(a)))
    return rows


def _too_costly(settings: Settings) -> str | None:
    """Why the twin cannot solve this scenario in reasonable time, or None."""
    invites = settings.collaboration.invites_mean
    if invites > MAX_INVITES:
        return (f"collaboration.invites: a mean of {invites:g} invites per activated user is "
                f"more than the mean-field twin takes on ({MAX_INVITES:g}; its equations grow "
                "too stiff to solve in reasonable time beyond that)")
    return None


def check_supported(settings: Settings) -> None:
    """Refuse, in one line, a scenario the twin cannot solve in reasonable time
    (:func:`unsupported` lists the same reason)."""
    too_costly = _too_costly(settings)
    if too_costly:
        raise EngineError(f"{too_costly}; run it with --engine des")
