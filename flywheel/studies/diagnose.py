"""Which link of the value chain holds growth back: ``flywheel diagnose``.

Each link of the PLG value chain (acquisition, onboarding and activation,
collaboration, retention, conversion, expansion) has one measured figure and a
published "good" value for it (:func:`benchmark`, sources in
``docs/diagnose.md``).  The scenario runs once with the discrete-event
simulation (DES); each link whose figure falls short of good is *moved*: the
parameters that drive its figure are set so that the figure reaches the good
value, everything else as it was.  The scenario and every moved copy then run
with one seed and replication count (common random numbers), so each link's
effect on ARR and on active users at the horizon is a paired difference with a
Student t 95% CI.  Links are ranked by the ARR they add.

How a link is moved (the parameter value is found once, before the moved copies
run):

* **a search** on the mean-field twin (:mod:`flywheel.engines.meanfield`) where
  the twin carries the figure (activation, viral coefficient, user churn, CAC
  payback): a bracketing secant (Illinois) on the knob, at most
  :data:`MAX_EVALS` evaluations, aiming at the good value shifted by the twin's
  own gap to the simulation at the scenario as it is (the twin's bias is taken
  as constant over the move); when the twin does not carry the scenario (a
  sales team, sales-led) the same search runs on the simulation itself, with the
  run's seed and replications;
* **a direct mapping** where the figure is a known function of one parameter
  (conversion: linear in the decision probability; expansion: NRR over a window
  of W months scales with exp(-Δλ·W) when the paying teams' own cancellation
  hazard λ changes by Δλ, a competing risk independent of the others).

Either way the moved copy's figure is measured by the simulation and reported
beside the good value, so a reader sees where it landed.  A link whose figure
is already at or better than good is "not a constraint" and is not moved; a
link whose knob reaches its limit before good is moved to the limit and says
how far it got; a link with no figure (no paid acquisition, no self-serve
conversion in a sales-led motion, NRR in a run too short for its window) says
why it is not diagnosed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flywheel.metrics import METRICS, MeanCI, format_difference, format_value
from flywheel.scenario.defaults import DAYS_PER_MONTH, DAYS_PER_YEAR
from flywheel.scenario.files import Scenario, ScenarioError, load_scenario, parse_set, toml_value
from flywheel.studies.comparisons import paired_ci
from flywheel.studies.runner import RunResult, simulate, worker_pool
from flywheel.version import __version__

__all__ = [
    "DIAGNOSIS_COLUMNS",
    "LINKS",
    "MAX_EVALS",
    "Benchmark",
    "Diagnosis",
    "LinkResult",
    "benchmark",
    "diagnose",
]

#: The links of the value chain, in its order: (key, name as a reader says it).
LINKS: tuple[tuple[str, str], ...] = (
    ("acquisition", "acquisition"),
    ("activation", "onboarding and activation"),
    ("collaboration", "collaboration"),
    ("retention", "retention"),
    ("conversion", "conversion"),
    ("expansion", "expansion"),
)
LINK_NAMES = dict(LINKS)

#: Most evaluations a link's search may take (the first, at the scenario as it is, is
#: shared by every link and not counted).
MAX_EVALS = 6
#: A search stops when the figure is within this share of the good value.
SEARCH_TOLERANCE = 0.01
#: A twin's answer whose simulated figure lands further than this share from good takes
#: one correcting step with the simulation.
LANDING_TOLERANCE = 0.03

CONSTRAINT, NOT_A_CONSTRAINT, NOT_MEASURED = "constraint", "not a constraint", "not measured"
CANNOT_MOVE = "lever at its limit"
TWIN, DES_SEARCH, MAPPING = "meanfield search", "simulation search", "direct mapping"

Progress = Callable[[int], None]

# -- the published good values -------------------------------------------------------------

#: Sources (DESIGN's table of published ranges; studies/validation.py's PUBLISHED).
_SRC_ACTIVATION = ("Lenny Rachitsky & Yuriy Timen activation survey, 500+ products (average "
                   "34%, median 25%); Userpilot B2B benchmark (average ~37.5%)")
_SRC_K = "growth glossaries; David Skok, forentrepreneurs.com viral lessons"
_SRC_CHURN = "SaaStr (Lemkin), SMB self-serve 3-7% a month"
_SRC_FREEMIUM = ("Lenny Rachitsky / Kyle Poyar benchmarks, as quoted by "
                 "getlago.com/blog/freemium-pricing")
_SRC_TRIAL = "Totango 2012 study; retentionlens.com trial-to-paid benchmarks"
_SRC_NRR = ("SaaStr (Lemkin), 'What are user retention benchmarks': 80% very small / "
            "single-seat, 95% SMB, 120% enterprise as the 1.0 NRR benchmarks after 12 months")
_SRC_PAYBACK = "Aleph x Benchmarkit 2026, 342 companies: median 16 months, top quartile <= 6"


@dataclass(frozen=True)
class Benchmark:
    """A link's figure in one scenario, its good value and what moves it."""

    link: str
    metric: str  # a key of METRICS
    good: float
    higher_is_better: bool
    published: str  # the published figure the good value comes from, and how it was read
    source: str
    knob: str  # the lever's key in _KNOBS
    moves: str  # what is moved, in words
    why_not: str = ""  # set when the link is not diagnosed in this scenario

    @property
    def name(self) -> str:
        return LINK_NAMES[self.link]

    def short_of(self, value: float) -> bool:
        """Whether ``value`` falls short of good."""
        return value < self.good if self.higher_is_better else value > self.good


def _nrr_window_months(horizon: float) -> int:
    """The whole months NRR looks back (metrics.retention_window)."""
    from flywheel.engines.tally import retention_window

    return int(retention_window(horizon))


def benchmark(link: str, scenario: Scenario, base: RunResult | None = None) -> Benchmark:
    """``link``'s figure, good value, source and lever in ``scenario`` (the figure can
    depend on the motion: a trial's conversion is not a free plan's).  ``base`` (the
    scenario's run) tells whether the figure exists (no paid spend: no CAC payback)."""
    model = str(scenario["pricing.model"])
    card = bool(scenario["trial.card_required"]) and model == "trial"
    horizon = float(base.horizon if base is not None else scenario["simulation.horizon"])
    if link == "acquisition":
        why = ""
        if float(scenario["acquisition.paid_budget"]) <= 0:
            why = ("no paid acquisition: the published figure, CAC payback, measures paid "
                   "spend, and organic volume has no published good level apart from the "
                   "market's size")
        return Benchmark(link, "cac_payback_months", 6.0, False,
                         "CAC payback: top quartile <= 6 months (median 16)", _SRC_PAYBACK,
                         "paid_cost", "acquisition.paid_cost_per_signup (what a paid contact "
                         "costs), the budget kept", why)
    if link == "activation":
        return Benchmark(link, "activation_rate", 0.37, True,
                         "signup -> activation: average ~34-37%, median ~25-30%; good taken "
                         "as the average's top, 37%", _SRC_ACTIVATION, "ttv",
                         "time to value: onboarding.ttv, onboarding.setup_friction and "
                         "onboarding.sandbox_ttv scaled by one factor")
    if link == "collaboration":
        return Benchmark(link, "viral_coefficient", 0.30, True,
                         "viral coefficient K, B2B SaaS: ~0.1-0.3; good taken as 0.3",
                         _SRC_K, "acceptance", "collaboration.acceptance (share of invites "
                         "accepted)")
    if link == "retention":
        return Benchmark(link, "user_churn_monthly", 0.03, False,
                         "monthly churn, SMB self-serve: 3-7%; good taken as 3%", _SRC_CHURN,
                         "churn", "retention.churn_monthly (active users' own churn)")
    if link == "conversion":
        if model == "sales_led":
            return Benchmark(link, "free_to_paid_90d", 0.05, True, "", "", "upgrade", "",
                             "sales-led: no self-serve conversion (teams buy through a "
                             "rep); see flywheel sensitivity for the sales levers")
        if model in ("trial", "reverse_trial"):
            if card:
                return Benchmark(link, "trial_conversion", 0.60, True,
                                 "opt-out (card) trial -> paid: ~40-60% (Totango 50%); good "
                                 "taken as 60%", _SRC_TRIAL, "card_convert",
                                 "trial.card_convert_probability (a team with a card on "
                                 "file buying at the trial's end)")
            return Benchmark(link, "trial_conversion", 0.25, True,
                             "opt-in trial -> paid: ~15-25% (Totango 15%); good taken as 25%",
                             _SRC_TRIAL, "trial_convert",
                             "trial.convert_probability (a team buying at the trial's end)")
        return Benchmark(link, "free_to_paid_90d", 0.05, True,
                         "freemium -> paid: 3-5% good, 6-8% great; good taken as 5%",
                         _SRC_FREEMIUM, "upgrade",
                         "pricing.upgrade_probability (a team at the paywall upgrading)")
    if link == "expansion":
        months = _nrr_window_months(horizon)
        good = 0.95 ** (months / 12) if months > 0 else math.nan
        why = "" if months > 0 else "the run is too short for an NRR window (two months or more)"
        return Benchmark(link, "nrr", good, True,
                         f"NRR, SMB: 95% over 12 months; over this run's {months}-month window "
                         f"0.95^({months}/12) = {100 * good:.1f}%" if months > 0 else "",
                         _SRC_NRR, "logo_churn",
                         "paid.logo_churn_monthly (paying teams' own cancellations)", why)
    raise ValueError(f"unknown link {link!r}")


# -- the levers ------------------------------------------------------------------------------


def _hazard(monthly: float) -> float:
    """A monthly probability as a hazard per month (-ln(1 - c))."""
    return -math.log1p(-min(monthly, 1 - 1e-12))


def _prob(hazard: float) -> float:
    return -math.expm1(-hazard)


@dataclass(frozen=True)
class Knob:
    """One link's lever: a number x (its value at the scenario is ``base``) and how the
    scenario's parameters follow it."""

    key: str
    base: float
    lo: float
    hi: float
    log: bool  # search in log x
    overrides: Callable[[float], dict[str, object]]
    guess: Callable[[float, float], float]  # (figure measured, good) -> first x to try
    #: How the guess is refined: "twin" (a search on the mean-field twin, or on the
    #: simulation when the twin does not carry the scenario), "des" (a search on the
    #: simulation: the twin does not report the figure) or "" (the guess is the answer:
    #: a direct mapping).
    search: str
    mapping: str  # how the guess is made, in words


_TTV_PATHS = ("onboarding.ttv", "onboarding.setup_friction", "onboarding.sandbox_ttv")


def _num(x: float) -> float:
    return float(f"{x:.6g}")


def knob(key: str, scenario: Scenario) -> Knob:  # noqa: PLR0911 (one branch per lever)
    """The lever ``key`` of :class:`Benchmark` in ``scenario``."""
    v = scenario.values
    if key == "paid_cost":
        c = float(v["acquisition.paid_cost_per_signup"])
        return Knob(key, 1.0, 0.02, 1.0, True,
                    lambda f: {"acquisition.paid_cost_per_signup": _num(max(0.01, c * f))},
                    lambda m, g: g / m if m > 0 else 0.5, "twin",
                    "cost per contact x good / measured payback (exact were every paying "
                    "customer bought), then searched")
    if key == "ttv":
        paths = [p for p in _TTV_PATHS if v[p].scaled(2.0) != v[p]  # always 0 stays 0
                 and (p != "onboarding.sandbox_ttv" or v["onboarding.sandbox"])]

        def scaled(f: float) -> dict[str, object]:
            return {p: v[p].scaled(f).to_table() for p in paths}
        return Knob(key, 1.0, 1e-3, 1.0, True, scaled,
                    lambda m, g: 0.5, "twin",
                    "every path to first value scaled by one factor (the time to value, "
                    "the setup friction when there is one, the sandbox's time when it is "
                    "on), searched from a halved time")
    if key == "acceptance":
        a = float(v["collaboration.acceptance"])
        return Knob(key, a, a, 1.0, False, lambda x: {"collaboration.acceptance": _num(x)},
                    lambda m, g: a * g / m if m > 0 else 1.0, "twin",
                    "acceptance x good / measured K (K = invites x acceptance), then searched")
    if key == "churn":
        c = float(v["retention.churn_monthly"])

        def churn_guess(m: float, g: float) -> float:
            # the spells that end for other reasons (a team losing the product) add a
            # hazard kept as it is
            return _prob(max(0.0, _hazard(c) + _hazard(g) - _hazard(m)))
        return Knob(key, c, 0.0, c, False, lambda x: {"retention.churn_monthly": _num(x)},
                    churn_guess, "twin",
                    "hazards add: the users' own churn hazard lowered by the measured "
                    "hazard's gap to good, then searched")
    if key in ("upgrade", "trial_convert", "card_convert"):
        path = {"upgrade": "pricing.upgrade_probability",
                "trial_convert": "trial.convert_probability",
                "card_convert": "trial.card_convert_probability"}[key]
        p = float(v[path])
        return Knob(key, p, p, 1.0, False, lambda x: {path: _num(x)},
                    lambda m, g: p * g / m if m > 0 else 1.0, "",
                    "the figure is proportional to the probability (each decision is one "
                    "draw after the willingness-to-pay check): probability x good / measured")
    if key == "logo_churn":
        c = float(v["paid.logo_churn_monthly"])

        def nrr_guess(m: float, g: float) -> float:
            months = _nrr_window_months(float(v["simulation.horizon"]))
            if m <= 0 or months <= 0:
                return 0.0
            return _prob(max(0.0, _hazard(c) - math.log(g / m) / months))
        return Knob(key, c, 0.0, c, False, lambda x: {"paid.logo_churn_monthly": _num(x)},
                    nrr_guess, "des",
                    "first guess: NRR over W months scales with exp(-dλ W) when the paying "
                    "teams' own cancellation hazard λ moves by dλ (λ' = λ - ln(good / "
                    "measured) / W), then searched with the simulation (the twin does not "
                    "report NRR)")
    raise ValueError(f"unknown knob {key!r}")


# -- searching a knob ---------------------------------------------------------------------------


@dataclass
class Search:
    """How a link's knob was set: the value, the evaluations, the engine."""

    x: float
    method: str
    evaluations: list[tuple[float, float]] = field(default_factory=list)  # (x, figure)
    target: float = math.nan  # what the search aimed the figure at (its engine's scale)
    at_limit: bool = False  # the knob reached its limit short of the target
    #: The simulation's confirmation of a twin's answer, when it took a correcting step:
    #: (x, figure) at the twin's answer and at the corrected value.
    evaluations_des: list[tuple[float, float]] = field(default_factory=list)


def _u(k: Knob, x: float) -> float:
    return math.log(x) if k.log else x


def _x(k: Knob, u: float) -> float:
    return math.exp(u) if k.log else u


def _solve(k: Knob, evaluate: Callable[[float], float], y0: float, target: float,
           first: float, higher_is_better: bool, tol: float) -> Search:
    """Set the knob so that ``evaluate(x)`` reaches ``target``: a secant in x (or log
    x) from the scenario (x = base, figure ``y0``) through ``first`` while the target is
    not bracketed, then regula falsi with the Illinois step once it is; at most
    :data:`MAX_EVALS` evaluations, within [lo, hi], the knob moving from its base
    towards its other end.  The point nearest the target wins."""
    limit = k.lo if k.hi == k.base else k.hi

    def gap(y: float) -> float:  # > 0: still short of the target
        return (target - y) if higher_is_better else (y - target)

    def clip(x: float) -> float:
        return min(k.hi, max(k.lo, x))

    s = Search(x=k.base, method="", target=target)
    short = (_u(k, k.base), gap(y0))  # the last point short of the target
    past: tuple[float, float] | None = None  # the last point past it
    x = clip(first)
    if x == k.base:
        x = limit
    best = (math.inf, k.base)
    last_side = 0
    for _ in range(MAX_EVALS):
        y = evaluate(x)
        s.evaluations.append((x, y))
        g = gap(y)
        if math.isnan(g):
            break
        if abs(g) < best[0]:
            best = (abs(g), x)
        if abs(g) <= tol:
            break
        u = _u(k, x)
        if g > 0:
            if x == limit:
                s.at_limit = True
                break
            previous = short
            short = (u, g)
            if past is not None and last_side == 1:
                past = (past[0], past[1] / 2)  # Illinois: the stale end's weight halved
            last_side = 1
            if past is None:  # not bracketed yet: extrapolate the secant, or jump to the limit
                pu, pg = previous
                nu = u - g * (u - pu) / (g - pg) if pg > g else _u(k, limit)
                x = clip(_x(k, nu)) if math.isfinite(nu) else limit
                continue
        else:
            past = (u, g)
            if last_side == -1:
                short = (short[0], short[1] / 2)
            last_side = -1
        (au, ag), (bu, bg) = short, past
        x = clip(_x(k, au - ag * (bu - au) / (bg - ag)))
    s.x = best[1]
    return s


def _twin_figure(scenario: Scenario, metric: str) -> float:
    from flywheel.engines import meanfield
    from flywheel.metrics import measure

    return float(measure(meanfield.solve(scenario, float(scenario["simulation.horizon"]))
                         .tally).metrics[metric])


def _twin_search(args: tuple[Scenario, Benchmark, float, float]) -> Search:
    """One link's search on the twin (runs in a worker): aims at good shifted by the
    twin's gap to the simulation at the scenario as it is."""
    scenario, bm, measured, twin_base = args
    k = knob(bm.knob, scenario)
    # the twin's bias taken as a constant ratio over the move
    target = bm.good * (twin_base / measured) if measured else bm.good
    s = _solve(k, lambda x: _twin_figure(scenario.with_overrides(k.overrides(x)), bm.metric),
               twin_base, target, k.guess(measured, bm.good), bm.higher_is_better,
               SEARCH_TOLERANCE * abs(bm.good))
    s.method = TWIN
    return s


# -- results ---------------------------------------------------------------------------------


@dataclass
class LinkResult:
    """One link's diagnosis."""

    benchmark: Benchmark
    status: str  # constraint, not a constraint, not measured
    measured: MeanCI
    reason: str = ""
    search: Search | None = None
    moved: dict[str, tuple[object, object]] = field(default_factory=dict)  # path: (from, to)
    run: RunResult | None = None  # the moved copy's runs
    figure_after: MeanCI = MeanCI(math.nan, math.nan, math.nan)
    arr: MeanCI = MeanCI(math.nan, math.nan, math.nan)  # paired change of arr_end
    users: MeanCI = MeanCI(math.nan, math.nan, math.nan)  # paired change of active_users_end
    arr_values: list[float] = field(default_factory=list)
    users_values: list[float] = field(default_factory=list)

    @property
    def link(self) -> str:
        return self.benchmark.link

    @property
    def name(self) -> str:
        return self.benchmark.name

    @property
    def reached(self) -> bool:
        """Whether the moved copy's figure got to good, within the search's tolerance
        (or its CI reaches it)."""
        bm, (m, lo, hi) = self.benchmark, self.figure_after
        if math.isnan(m):
            return False
        tol = 2 * SEARCH_TOLERANCE * abs(bm.good)
        if not bm.short_of(m) or abs(m - bm.good) <= tol:
            return True
        return not math.isnan(lo) and (lo <= bm.good <= hi)

    def set_exprs(self) -> list[str]:
        """The ``--set`` expressions that reproduce the moved copy."""
        return [f"{p}={toml_value(to)}" for p, (_, to) in self.moved.items()]


#: Columns of diagnosis.csv (:meth:`Diagnosis.rows`).
DIAGNOSIS_COLUMNS = [
    "rank", "link", "status", "metric", "label", "unit", "measured", "measured_ci95_lo",
    "measured_ci95_hi", "good", "higher_is_better", "published", "source", "moves", "method",
    "set", "figure_after", "figure_after_ci95_lo", "figure_after_ci95_hi", "reached_good",
    "arr_gain", "arr_gain_ci95_lo", "arr_gain_ci95_hi", "users_gain", "users_gain_ci95_lo",
    "users_gain_ci95_hi", "reason"]


#: Each figure as a sentence names it.
PHRASES = {"cac_payback_months": "CAC payback", "activation_rate": "activation (signup to value)",
           "viral_coefficient": "viral coefficient K", "user_churn_monthly": "user churn",
           "free_to_paid_90d": "free-to-paid conversion within 90 days",
           "trial_conversion": "trial conversion", "nrr": "net revenue retention"}


def _fmt(metric: str, x: float) -> str:
    """A figure as a sentence gives it: shares in %, K to 2 decimals, months to 1."""
    if math.isnan(x):
        return "-"
    meta = METRICS[metric]
    if "share" in meta.unit:
        return f"{100 * x:.1f}%"
    if metric == "viral_coefficient":
        return f"{x:.2f}"
    if metric == "cac_payback_months":
        return f"{x:.1f}"
    return format_value(x, meta.unit)


def _figure_unit(metric: str) -> str:
    return {"user_churn_monthly": " a month", "cac_payback_months": " months"}.get(metric, "")


def figure_text(metric: str, x: float) -> str:
    """A figure with its unit: ``36.1%``, ``6.2% a month``, ``7.9 months``."""
    return _fmt(metric, x) + _figure_unit(metric)


def _money(ci: Sequence[float]) -> str:
    m, lo, hi = ci
    text = format_difference(m, "$ per year")
    if math.isnan(lo):
        return text
    return f"{text} (95% CI {format_difference(lo, '$ per year')} to " \
           f"{format_difference(hi, '$ per year')})"


def _users(ci: Sequence[float]) -> str:
    m, lo, hi = ci
    text = f"{m:+,.0f}"
    if math.isnan(lo):
        return text
    return f"{text} (95% CI {lo:+,.0f} to {hi:+,.0f})"


def _horizon_text(days: float) -> str:
    years = days / DAYS_PER_YEAR
    if abs(years - round(years)) < 1e-6 and round(years) >= 1:
        return f"{round(years)} year{'s' if round(years) > 1 else ''}"
    months = days / DAYS_PER_MONTH
    if abs(months - round(months)) < 1e-6:
        return f"{round(months)} months"
    return f"{days:g} days"


@dataclass
class Diagnosis:
    """Every link of one scenario, ranked by the ARR its move to good adds."""

    scenario: Scenario
    seed: int
    replications: int
    horizon: float
    base: RunResult
    links: list[LinkResult]  # ranked: constraints by ARR gained, then the others
    seconds: float = math.nan
    runs: dict[str, int] = field(default_factory=dict)  # DES runs, twin evaluations

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def constraints(self) -> list[LinkResult]:
        return [r for r in self.links if r.status == CONSTRAINT]

    def link(self, key: str) -> LinkResult:
        for r in self.links:
            if r.link == key:
                return r
        raise KeyError(key)

    def _sentence(self, r: LinkResult) -> str:
        bm = r.benchmark
        phrase = PHRASES[bm.metric]
        unit = _figure_unit(bm.metric)
        frm, to = _fmt(bm.metric, r.measured.mean), _fmt(bm.metric, bm.good)
        where = f"at the horizon ({_horizon_text(self.horizon)})"
        text = (f"{phrase} from {frm} to {to}{unit} would add {_money(r.arr)} ARR and "
                f"{_users(r.users)} active users {where}")
        if not r.reached:
            text = (f"{phrase} from {frm} towards {to}{unit}: moving "
                    f"{', '.join(r.moved)} to its limit takes it only to "
                    f"{_fmt(bm.metric, r.figure_after.mean)}{unit}, which would add "
                    f"{_money(r.arr)} ARR and {_users(r.users)} active users {where}")
        return text

    def findings(self) -> list[str]:
        """The diagnosis in plain words: the constraint first, then each link."""
        out: list[str] = []
        ranked = self.constraints
        if ranked:
            top = ranked[0]
            clear = not math.isnan(top.arr.lo) and top.arr.lo > 0
            if clear:
                out.append(f"Your {top.name} is the constraint: {self._sentence(top)}.")
            else:
                out.append(f"No link clearly holds growth back: the largest gain, from "
                           f"{top.name}, cannot be told from zero: {self._sentence(top)}.")
            if len(ranked) > 1:
                second = ranked[1]
                diff = paired_ci(second.arr_values, top.arr_values)
                if not math.isnan(diff.lo) and diff.lo > 0:
                    out.append(f"It adds {_money(diff)} more ARR than the next link, "
                               f"{second.name}.")
                else:
                    out.append(f"The next link, {second.name}, is not separated from it: "
                               f"the difference of their ARR gains is {_money(diff)}.")
            for r in ranked[1:]:
                out.append(f"{r.name.capitalize()}: {self._sentence(r)}.")
        else:
            out.append("No link falls short of its published good value: nothing here holds "
                       "growth back by that measure.")
        for r in self.links:
            bm = r.benchmark
            if r.status == NOT_A_CONSTRAINT:
                out.append(f"{r.name.capitalize()} is not a constraint: {PHRASES[bm.metric]} "
                           f"{figure_text(bm.metric, r.measured.mean)} is at or better than "
                           f"the good {figure_text(bm.metric, bm.good)}.")
            elif r.status == NOT_MEASURED:
                out.append(f"{r.name.capitalize()} is not diagnosed: {r.reason}.")
            elif r.status == CANNOT_MOVE:
                out.append(f"{r.name.capitalize()}: {PHRASES[bm.metric]} "
                           f"{figure_text(bm.metric, r.measured.mean)} is "
                           f"{r.reason}.")
        return out

    def rows(self) -> list[dict[str, object]]:
        """One row per link, ranked (diagnosis.csv)."""
        rows = []
        rank = 0
        for r in self.links:
            bm = r.benchmark
            meta = METRICS[bm.metric]
            if r.status == CONSTRAINT:
                rank += 1
            rows.append({
                "rank": rank if r.status == CONSTRAINT else "",
                "link": r.link, "status": r.status, "metric": bm.metric,
                "label": meta.label, "unit": meta.unit,
                "measured": r.measured.mean, "measured_ci95_lo": r.measured.lo,
                "measured_ci95_hi": r.measured.hi, "good": bm.good,
                "higher_is_better": bm.higher_is_better, "published": bm.published,
                "source": bm.source, "moves": bm.moves,
                "method": r.search.method if r.search else "",
                "set": "; ".join(r.set_exprs()),
                "figure_after": r.figure_after.mean, "figure_after_ci95_lo": r.figure_after.lo,
                "figure_after_ci95_hi": r.figure_after.hi,
                "reached_good": r.reached if r.status == CONSTRAINT else "",
                "arr_gain": r.arr.mean, "arr_gain_ci95_lo": r.arr.lo,
                "arr_gain_ci95_hi": r.arr.hi,
                "users_gain": r.users.mean, "users_gain_ci95_lo": r.users.lo,
                "users_gain_ci95_hi": r.users.hi,
                "reason": r.reason,
            })
        return rows

    def summary(self) -> dict[str, Any]:
        """The content of summary.json."""
        links = []
        for row, r in zip(self.rows(), self.links, strict=True):
            bm = r.benchmark
            entry: dict[str, Any] = {
                "rank": row["rank"] or None, "link": r.link, "name": r.name,
                "status": r.status, "reason": r.reason,
                "figure": {"metric": bm.metric, "label": METRICS[bm.metric].label,
                           "unit": METRICS[bm.metric].unit, "mean": r.measured.mean,
                           "ci95": [r.measured.lo, r.measured.hi]},
                "good": {"value": bm.good, "higher_is_better": bm.higher_is_better,
                         "published": bm.published, "source": bm.source},
                "moves": bm.moves,
            }
            if r.status == CONSTRAINT:
                assert r.search is not None
                k = knob(bm.knob, self.scenario)
                entry["moved"] = {
                    "parameters": {p: {"from": a, "to": b} for p, (a, b) in r.moved.items()},
                    "set": r.set_exprs(),
                    "method": r.search.method, "mapping": k.mapping,
                    "search_target": r.search.target,
                    "evaluations": [{"x": x, "figure": y} for x, y in r.search.evaluations],
                    "confirmation": [{"x": x, "figure": y} for x, y in r.search.evaluations_des],
                    "at_limit": r.search.at_limit,
                }
                entry["figure_after"] = {"mean": r.figure_after.mean,
                                         "ci95": [r.figure_after.lo, r.figure_after.hi],
                                         "reached_good": r.reached}
                entry["arr_end"] = {"effect": r.arr.mean, "ci95": [r.arr.lo, r.arr.hi],
                                    "values": r.arr_values}
                entry["active_users_end"] = {"effect": r.users.mean,
                                             "ci95": [r.users.lo, r.users.hi],
                                             "values": r.users_values}
            links.append(entry)
        base = {m: {"mean": self.base.mean_ci(m).mean,
                    "ci95": [self.base.mean_ci(m).lo, self.base.mean_ci(m).hi],
                    "values": self.base.values(m)} for m in ("arr_end", "active_users_end")}
        return {
            "flywheel_version": __version__, "kind": "diagnosis",
            "scenario": self.scenario.name, "seed": self.seed,
            "replications": self.replications, "horizon_days": self.horizon,
            "runs": dict(self.runs), "seconds": self.seconds,
            "base": base, "findings": self.findings(), "links": links,
        }

    def __repr__(self) -> str:
        top = self.constraints[0].name if self.constraints else "none"
        return (f"<Diagnosis {self.name}: {len(self.constraints)} constraint"
                f"{'s' if len(self.constraints) != 1 else ''}, first {top}; "
                f"{self.replications} replications, seed {self.seed}>")


# -- running ----------------------------------------------------------------------------------


def _twin_carries(scenario: Scenario) -> bool:
    try:
        from flywheel.engines import meanfield
    except ModuleNotFoundError:  # pragma: no cover - an installation without the twin
        return False
    return not list(meanfield.unsupported(scenario))


def _moved(scenario: Scenario, overrides: dict[str, object]) -> dict[str, tuple[object, object]]:
    return {p: (scenario.raw[p], v) for p, v in overrides.items()}


def diagnose(scenario: Scenario | str | Path, replications: int | None = None,
             seed: int | None = None, jobs: int | None = None,
             progress: Progress | None = None, *, overrides: Sequence[str] = (),
             executor: Executor | None = None, links: Sequence[str] | None = None,
             on_total: Callable[[int], None] | None = None) -> Diagnosis:
    """Diagnose ``scenario``: measure each link's figure, move every link short of good
    to good, run the scenario and the moved copies with one seed, and rank the links by
    the ARR they add (see the module's notes).  ``links`` limits the links diagnosed
    (keys of :data:`LINKS`); ``progress`` is called with 1 after each DES replication
    and twin evaluation; ``on_total`` with the expected count, as it becomes known."""
    started = time.perf_counter()
    base_sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario,
                                                                            list(overrides))
    if isinstance(scenario, Scenario) and overrides:
        base_sc = base_sc.with_overrides(dict(parse_set(e) for e in overrides))
    chosen = list(links) if links is not None else [k for k, _ in LINKS]
    for key in chosen:
        if key not in LINK_NAMES:
            raise ScenarioError("unknown link", file="links", value=key,
                                allowed="links are " + ", ".join(LINK_NAMES))
    n = int(replications if replications is not None else base_sc["simulation.replications"])
    s = int(seed if seed is not None else base_sc["simulation.seed"])
    if n < 2:
        raise ScenarioError("a diagnosis needs at least 2 replications for its CIs",
                            file="--replications", value=n)
    runs = {"des": 0, "meanfield": 0}
    with worker_pool(jobs, n, executor) as pool:
        if on_total:
            on_total(n)
        base = simulate(base_sc, replications=n, seed=s, jobs=1 if pool is None else jobs,
                        executor=pool, progress=progress)
        runs["des"] += 1
        base_sc = base.scenario
        horizon = base.horizon

        results: dict[str, LinkResult] = {}
        to_move: list[tuple[Benchmark, MeanCI]] = []
        for key in chosen:
            bm = benchmark(key, base_sc, base)
            measured = base.mean_ci(bm.metric) if not bm.why_not else MeanCI(math.nan, math.nan,
                                                                             math.nan)
            if bm.why_not:
                results[key] = LinkResult(bm, NOT_MEASURED, measured, reason=bm.why_not)
            elif math.isnan(measured.mean) or math.isnan(bm.good):
                why = base.reason(bm.metric) or "the run gives no value of this figure"
                results[key] = LinkResult(bm, NOT_MEASURED, measured, reason=why)
            elif not bm.short_of(measured.mean):
                results[key] = LinkResult(bm, NOT_A_CONSTRAINT, measured)
            elif knob(bm.knob, base_sc).lo == knob(bm.knob, base_sc).hi:
                k = knob(bm.knob, base_sc)
                results[key] = LinkResult(
                    bm, CANNOT_MOVE, measured,
                    reason=f"short of good, but its lever is at its limit already ({bm.moves} "
                           f"= {_num(k.base):g}): nothing is left to move")
            else:
                to_move.append((bm, measured))

        # -- set each link's knob ------------------------------------------------------------
        searches: dict[str, Search] = {}
        des_cache: dict[tuple[str, float], RunResult] = {}  # (link, x): the DES search's runs
        twin_ok = _twin_carries(base_sc)

        def engine_of(bm: Benchmark) -> str:
            how = knob(bm.knob, base_sc).search
            return "des" if how == "twin" and not twin_ok else how

        on_twin = [(bm, m) for bm, m in to_move if engine_of(bm) == "twin"]
        on_des = [(bm, m) for bm, m in to_move if engine_of(bm) == "des"]
        for bm, m in to_move:
            if engine_of(bm) == "":
                k = knob(bm.knob, base_sc)
                x = min(k.hi, max(k.lo, k.guess(m.mean, bm.good)))
                searches[bm.link] = Search(x=x, method=MAPPING, target=bm.good,
                                           at_limit=x != k.base and x in (k.lo, k.hi))
        if on_total:
            on_total(n * (1 + len(to_move) + 3 * len(on_des)) + MAX_EVALS * len(on_twin))
        if on_twin:
            metrics = [b.metric for b, _ in on_twin]
            twin_base = list(pool.map(_twin_figure, [base_sc] * len(metrics), metrics)
                             if pool is not None else
                             (_twin_figure(base_sc, mt) for mt in metrics))
            runs["meanfield"] += 1
            tasks = [(base_sc, bm, m.mean, tb) for (bm, m), tb in zip(on_twin, twin_base,
                                                                       strict=True)]
            for (bm, _), found in zip(on_twin, (pool.map(_twin_search, tasks) if pool is not None
                                                else map(_twin_search, tasks)), strict=True):
                searches[bm.link] = found
                runs["meanfield"] += len(found.evaluations)
                if progress:
                    progress(len(found.evaluations))
        for bm, m in on_des:  # searched with the simulation itself (same seed)
            k = knob(bm.knob, base_sc)

            def evaluate(x: float, k: Knob = k, bm: Benchmark = bm) -> float:
                run = simulate(base_sc.with_overrides(k.overrides(x)), replications=n,
                               seed=s, jobs=1 if pool is None else jobs, executor=pool,
                               progress=progress)
                runs["des"] += 1
                des_cache[(bm.link, x)] = run
                return run.mean_ci(bm.metric).mean

            found = _solve(k, evaluate, m.mean, bm.good, k.guess(m.mean, bm.good),
                           bm.higher_is_better, SEARCH_TOLERANCE * abs(bm.good))
            found.method = DES_SEARCH
            searches[bm.link] = found

        # -- run every moved copy with the same seed ----------------------------------------
        moved_runs: dict[str, RunResult] = {}
        measured_of = {bm.link: m.mean for bm, m in to_move}
        for bm, _ in to_move:
            x = searches[bm.link].x
            if (bm.link, x) in des_cache:  # the simulation search ran it already
                moved_runs[bm.link] = des_cache[(bm.link, x)]
                continue
            k = knob(bm.knob, base_sc)
            run = simulate(base_sc.with_overrides(k.overrides(x)), replications=n, seed=s,
                           jobs=1 if pool is None else jobs, executor=pool, progress=progress)
            runs["des"] += 1
            # confirmed by the simulation: a twin's answer that lands off good by more
            # than LANDING_TOLERANCE takes one secant step between the simulation's two
            # points (the scenario and this copy), and the nearer copy is kept
            y, y0 = run.mean_ci(bm.metric).mean, measured_of[bm.link]
            if (searches[bm.link].method == TWIN and not math.isnan(y) and y != y0
                    and abs(y - bm.good) > LANDING_TOLERANCE * abs(bm.good)):
                u0, u1 = _u(k, k.base), _u(k, x)
                x2 = min(k.hi, max(k.lo, _x(k, u1 + (bm.good - y) * (u1 - u0) / (y - y0))))
                run2 = simulate(base_sc.with_overrides(k.overrides(x2)), replications=n, seed=s,
                                jobs=1 if pool is None else jobs, executor=pool,
                                progress=progress)
                runs["des"] += 1
                searches[bm.link].evaluations_des = [(x, y), (x2, run2.mean_ci(bm.metric).mean)]
                if abs(run2.mean_ci(bm.metric).mean - bm.good) < abs(y - bm.good):
                    run, searches[bm.link].x = run2, x2
            moved_runs[bm.link] = run

    for bm, m in to_move:
        k = knob(bm.knob, base_sc)
        run = moved_runs[bm.link]
        arr_b, arr_m = base.values("arr_end"), run.values("arr_end")
        us_b, us_m = base.values("active_users_end"), run.values("active_users_end")
        results[bm.link] = LinkResult(
            bm, CONSTRAINT, m, search=searches[bm.link],
            moved=_moved(base_sc, k.overrides(searches[bm.link].x)), run=run,
            figure_after=run.mean_ci(bm.metric),
            arr=MeanCI(*paired_ci(arr_b, arr_m)), users=MeanCI(*paired_ci(us_b, us_m)),
            arr_values=[b - a for a, b in zip(arr_b, arr_m, strict=True)],
            users_values=[b - a for a, b in zip(us_b, us_m, strict=True)])
    order = {k: i for i, (k, _) in enumerate(LINKS)}
    cons = sorted((r for r in results.values() if r.status == CONSTRAINT),
                  key=lambda r: (-(r.arr.mean if not math.isnan(r.arr.mean) else -math.inf),
                                 order[r.link]))
    rest = sorted((r for r in results.values() if r.status != CONSTRAINT),
                  key=lambda r: ([CANNOT_MOVE, NOT_A_CONSTRAINT, NOT_MEASURED].index(r.status),
                                 order[r.link]))
    return Diagnosis(scenario=base_sc, seed=s, replications=n, horizon=horizon, base=base,
                     links=cons + rest, seconds=time.perf_counter() - started,
                     runs={k: v for k, v in runs.items() if v})
