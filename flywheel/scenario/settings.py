"""One reading of a scenario: every converted value, typed, and every derived quantity.

A resolved scenario's ``values`` map parameter paths to converted values (durations in
days, rates per day, :class:`~flywheel.scenario.distributions.Distribution` objects).
:class:`Settings` reads them once into frozen, typed sections that mirror
:mod:`flywheel.scenario.defaults` (``settings.onboarding.no_show`` is ``onboarding.no_show``)
and derives, in one place, what the engines need beyond the raw numbers: whether a
card-required trial applies and the share of would-be founders each offer starts, the contact rates by channel, the
time to value in effect, the Weibull tenures of users and paying teams, the sales team's
servers, whether PQLs and usage tracking are on, and the horizon.  The simulation
(:class:`flywheel.engines.model.Model`), the mean-field twin (:mod:`flywheel.engines.meanfield`) and
the workload estimate (:mod:`flywheel.studies.workload`) all read it and derive none of these
themselves.

    settings = Settings.from_scenario(scenario)          # or Settings.from_values(values)
    settings.starter_share                               # 0.8 x 0.2 in a card trial, 1 in freemium
    settings.retention.tenure.scale                      # days
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel.scenario.defaults import DAYS_PER_MONTH, DAYS_PER_YEAR, PARAMS_BY_PATH
from flywheel.scenario.distributions import Distribution

if TYPE_CHECKING:
    from flywheel.scenario.files import Scenario

__all__ = [
    "FREE_TIER_MODELS",
    "SELF_SERVE_MODELS",
    "TRIAL_MODELS",
    "Acquisition",
    "Collaboration",
    "Costs",
    "FreeTier",
    "Market",
    "Onboarding",
    "Paid",
    "Pricing",
    "Retention",
    "Sales",
    "Settings",
    "Simulation",
    "Tenure",
    "Trial",
    "size_pmf",
]

#: Pricing models whose new teams start on a trial (a reverse trial falls back to the free
#: tier at its end, a trial loses access unless it converts).
TRIAL_MODELS = ("trial", "reverse_trial")
#: Pricing models with a free tier (seat and usage limits, the paywall).
FREE_TIER_MODELS = ("freemium", "reverse_trial")
#: Self-serve pricing models (everything but sales-led).
SELF_SERVE_MODELS = ("freemium", "trial", "reverse_trial")

_SLOTS = {"frozen": True, "slots": True}


# -- a tenure with a monthly churn probability -----------------------------------------------

@dataclass(**_SLOTS)
class Tenure:
    """A Weibull tenure T with P(T <= 1 month) = ``churn_monthly`` and shape ``shape``.

    S(t) = exp(-(t / scale)^k): S(1 month) = 1 - c gives scale = month / (-ln(1-c))^(1/k).
    With k = 1 this is the constant hazard lambda = -ln(1 - c) per month.  Users' tenure
    (``retention``) and paying teams' own cancellation (``paid``, k = 1) are both one.
    """

    #: Probability of ending within a month of starting (0 = never, 1 = at once).
    churn_monthly: float
    #: Weibull shape k: 1 = constant hazard, < 1 = hazard decays with tenure.
    shape: float = 1.0

    @property
    def scale(self) -> float:
        """Weibull scale in days: ``inf`` without churn, 1e-9 (at once) with churn 1."""
        c = self.churn_monthly
        if c <= 0:
            return math.inf
        if c >= 1:
            return 1e-9
        return DAYS_PER_MONTH / (-math.log1p(-c)) ** (1.0 / self.shape)

    @property
    def inverse_shape(self) -> float:
        """1/k, the exponent of a draw ``scale * E ** (1/k)`` from a standard exponential E
        (1 when the tenure is degenerate: no churn, or churn 1)."""
        c = self.churn_monthly
        return 1.0 / self.shape if 0 < c < 1 else 1.0

    @property
    def hazard(self) -> float:
        """-ln(1 - c) per month, in per day: the constant hazard when k = 1 (0 without
        churn, ``inf`` with churn 1)."""
        c = self.churn_monthly
        if c <= 0:
            return 0.0
        if c >= 1:
            return math.inf
        return -math.log1p(-c) / DAYS_PER_MONTH

    @property
    def constant(self) -> bool:
        """Whether the hazard is constant (k = 1: an exponential tenure)."""
        return self.shape == 1.0

    @property
    def mean(self) -> float:
        """Mean tenure in days: scale x Gamma(1 + 1/k) (``inf`` without churn, 0 with 1)."""
        c = self.churn_monthly
        if c <= 0:
            return math.inf
        if c >= 1:
            return 0.0
        return self.scale * math.gamma(1.0 + 1.0 / self.shape)

    def survival(self, t: np.ndarray) -> np.ndarray:
        """P(T > t) at ``t`` days (an array), ``exp(ln(1 - c) (t / month)^k)``; negative
        ``t`` counts as 0."""
        c, k = self.churn_monthly, self.shape
        if c <= 0:
            return np.ones_like(t)
        if c >= 1:
            return (t <= 0).astype(float)
        months = np.maximum(t, 0.0) / DAYS_PER_MONTH
        return np.exp(math.log1p(-c) * (months if k == 1.0 else months**k))


# -- the sections, as in flywheel.scenario.defaults ----------------------------------------------------

@dataclass(**_SLOTS)
class Simulation:
    """``simulation.*``: the scenario's own horizon (days), replications and root seed."""

    horizon: float
    replications: int
    seed: int


@dataclass(**_SLOTS)
class Market:
    """``market.*``: companies in the market and their sizes (people per company)."""

    companies: int
    team_size: Distribution

    def size_pmf(self) -> tuple[np.ndarray, np.ndarray]:
        """Company sizes and their probabilities (:func:`size_pmf` of ``team_size``)."""
        return size_pmf(self.team_size)


def size_pmf(team_size: Distribution) -> tuple[np.ndarray, np.ndarray]:
    """Company sizes (people, int64) and their probabilities, as the market holds them:
    ``team_size`` rounded to a whole number, at least 1, sizes beyond its 1 - 1e-7
    quantile (or 200,000) lumped into the largest; sizes of probability 0 left out."""
    top = float(team_size.quantile(1 - 1e-7))
    smax = int(min(max(math.ceil(top) + 1, 1), 200_000))
    s = np.arange(1, smax + 1, dtype=np.int64)
    cdf = np.asarray(team_size.cdf(s + 0.5), dtype=float)
    cdf[-1] = 1.0
    pmf = np.clip(np.diff(np.concatenate([[0.0], cdf])), 0.0, None)
    keep = pmf > 0
    s, pmf = s[keep], pmf[keep]
    return s, pmf / pmf.sum()


@dataclass(**_SLOTS)
class Acquisition:
    """``acquisition.*``: contact rates per day (``organic_growth`` per month, budget in $
    per day, ``paid_cost_per_signup`` in $ per contact, ``referral`` per active user per
    day)."""

    organic: float
    organic_growth: float
    paid_budget: float
    paid_cost_per_signup: float
    referral: float

    def organic_rate(self, t: float) -> float:
        """Organic contacts per day at time ``t`` (days): ``organic (1 + growth)^(t/month)``,
        the growth compounding monthly."""
        if not self.organic:
            return 0.0
        return self.organic * (1.0 + self.organic_growth) ** (t / DAYS_PER_MONTH)

    @property
    def paid_contacts(self) -> float:
        """Paid contacts per day: budget ($ per day) / cost per contact ($)."""
        return self.paid_budget / self.paid_cost_per_signup


@dataclass(**_SLOTS)
class Onboarding:
    """``onboarding.*``: durations in days.  ``ttv`` and ``sandbox_ttv`` are the two
    parameters; :attr:`effective_ttv` is the one in effect."""

    no_show: float
    ttv: Distribution
    patience: Distribution
    setup_friction: Distribution
    sandbox: bool
    sandbox_ttv: Distribution
    invited_ttv_factor: float
    commitment_spread: float

    @property
    def effective_ttv(self) -> Distribution:
        """The time to value in effect (days): ``sandbox_ttv`` with the sandbox, else ``ttv``."""
        return self.sandbox_ttv if self.sandbox else self.ttv

    @property
    def friction_applies(self) -> bool:
        """Whether setup friction is added to a company's first signup's TTV (not through
        the sandbox)."""
        return not self.sandbox

    @property
    def has_friction(self) -> bool:
        """Whether setup friction applies and can be more than zero."""
        return self.friction_applies and float(self.setup_friction.quantile(1.0)) > 0

    @property
    def setup_for_production(self) -> bool:
        """Whether the company's setup runs apart from first value (with the sandbox): users
        reach first value through the sandbox, and the team reaches production value, which
        buying needs, when its setup (``setup_friction``, days from its first signup) is
        done.  Without the sandbox the setup is part of the first signup's TTV, so first
        value is production value."""
        return self.sandbox

    @property
    def has_setup_wait(self) -> bool:
        """Whether buying can have to wait for the setup: the sandbox, and a setup that can
        take more than zero days (a setup of 0 is done at the company's first signup)."""
        return self.setup_for_production and float(self.setup_friction.quantile(1.0)) > 0


@dataclass(**_SLOTS)
class Collaboration:
    """``collaboration.*``: invites per activated user, acceptance, delay in days."""

    invites: Distribution
    acceptance: float
    invite_delay: Distribution

    @property
    def invites_mean(self) -> float:
        """Mean invites an activated user sends."""
        return float(self.invites.mean())


@dataclass(**_SLOTS)
class Retention:
    """``retention.*``: users' monthly churn probability and the tenure's Weibull shape."""

    churn_monthly: float
    tenure_shape: float

    @property
    def tenure(self) -> Tenure:
        """An active user's tenure (days)."""
        return Tenure(self.churn_monthly, self.tenure_shape)


@dataclass(**_SLOTS)
class Pricing:
    """``pricing.*``: the go-to-market model, list price ($ per seat per month), upgrade
    probability at the paywall, willingness to pay ($ per seat per month) and how it grows
    with a team's size and usage, how a plan charges (per seat, flat, metered usage) and
    is billed (monthly, annual), a second paid tier (its price, the first tier's seat limit
    and usage limit in units a month, the probability of moving up), decision delay (days).
    What a team pays is
    :meth:`Settings.bill` (it needs the usage rate of ``free_tier``)."""

    model: str
    price_per_seat: float
    upgrade_probability: float
    willingness_to_pay: Distribution
    value_growth: float
    charge: str
    plan_price: float
    plan_seats: int
    price_per_unit: float
    usage_spread: float
    usage_value: float
    billing: str
    annual_discount: float
    tier2_price_per_seat: float
    tier1_seat_limit: int
    tier1_usage_limit: float
    tier2_upgrade_probability: float
    decision_delay: Distribution

    @property
    def tiers(self) -> bool:
        """Whether there is a second paid tier above the first (a price for it): a
        first-tier team reaching one of the first tier's limits decides whether to move
        up (see :meth:`Settings.tier2_seat_bill`)."""
        return self.tier2_price_per_seat > 0

    @property
    def annual(self) -> bool:
        """Whether plans are billed a year ahead (cancelled only at a renewal)."""
        return self.billing == "annual"

    @property
    def discount_factor(self) -> float:
        """What a month of the plan costs as a share of its monthly bill: 1 - the annual
        discount on an annual plan, 1 on a monthly one."""
        return 1.0 - self.annual_discount if self.annual else 1.0

    def renewal_after(self, start: float, t: float) -> float:
        """The first renewal of a plan bought at ``start`` (days) at or after ``t``: ``t``
        itself on a monthly plan, else the next anniversary ``start + k years`` (k >= 1) at or
        after ``t``, when an annual team's cancellation takes effect."""
        if not self.annual or t == math.inf:
            return t
        k = max(math.ceil((t - start) / DAYS_PER_YEAR - 1e-12), 1)
        return start + k * DAYS_PER_YEAR

    def intensity_factor(self, intensity: float) -> float:
        """How much more a company of usage ``intensity`` values a seat than one of mean
        intensity: ``intensity^usage_value`` (1 at intensity 1)."""
        return intensity ** self.usage_value if intensity != 1.0 else 1.0

    def sample_intensity(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` companies' usage intensities: lognormal with mean 1 and coefficient of
        variation ``usage_spread`` (sigma^2 = ln(1 + cv^2), mu = -sigma^2 / 2)."""
        s2 = math.log1p(self.usage_spread ** 2)
        return rng.lognormal(-0.5 * s2, math.sqrt(s2), k)

    def value_factor(self, n: float) -> float:
        """How much more a team of ``n`` users values a seat than a one-user team:
        ``max(n, 1)^value_growth``."""
        return max(float(n), 1.0) ** self.value_growth if self.value_growth else 1.0

    def buys_at(self, wtp: float, n: float, price: float) -> bool:
        """Whether a company of willingness to pay ``wtp`` (a one-user team's value of a
        seat), as a team of ``n`` users, values a seat at ``price`` or more: every buying
        decision's test beside its probability."""
        return wtp * self.value_factor(n) >= price

    def buy_share(self, price: float | np.ndarray, n: float | np.ndarray = 1.0) -> np.ndarray:
        """P(value per seat >= ``price``) for a team of ``n`` users, over companies (``price``
        may be an array, one per ``n``):
        ``1 - F(price / max(n, 1)^value_growth)``, F the willingness to pay's cdf (the
        share of teams a decision's price lets through; 1 at a price of 0)."""
        n = np.maximum(np.asarray(n, dtype=float), 1.0)
        price = np.asarray(price, dtype=float)
        if not np.any(price > 0):
            return np.ones(np.broadcast(n, price).shape)
        x = price / n ** self.value_growth
        # P(WTP >= x) = 1 - P(WTP < x): the cdf just below x (a value at the price buys)
        below = np.nextafter(np.atleast_1d(x), 0.0)
        cdf = np.asarray(self.willingness_to_pay.cdf(below), dtype=float)
        share = np.clip(1.0 - cdf.reshape(x.shape), 0.0, 1.0)
        return np.where(price > 0, share, 1.0)

    @property
    def trial(self) -> bool:
        """Whether new teams start on a trial (``trial``, ``reverse_trial``)."""
        return self.model in TRIAL_MODELS

    @property
    def reverse_trial(self) -> bool:
        """Whether a trial falls back to the free tier at its end."""
        return self.model == "reverse_trial"

    @property
    def free_tier(self) -> bool:
        """Whether the model has a free tier (``freemium``, ``reverse_trial``)."""
        return self.model in FREE_TIER_MODELS

    @property
    def sales_led(self) -> bool:
        """Whether the motion is sales-led: no product before a deal."""
        return self.model == "sales_led"


@dataclass(**_SLOTS)
class FreeTier:
    """``free_tier.*``: seat limit (0 = none), usage limit in usage units (0 = none), usage
    per active user per day."""

    seat_limit: int
    usage_limit: float
    usage_per_user: float


@dataclass(**_SLOTS)
class Trial:
    """``trial.*``: length in days, the card requirement and the probabilities as written
    (see :attr:`Settings.card_trial` for what is in effect)."""

    length: float
    card_required: bool
    convert_probability: float
    card_convert_probability: float
    signup_factor: float
    reverse_signup_factor: float
    card_signup_factor: float


@dataclass(**_SLOTS)
class Paid:
    """``paid.*``: a paying team's own monthly cancellation probability."""

    logo_churn_monthly: float

    @property
    def tenure(self) -> Tenure:
        """A paying team's time to cancel for reasons of its own (days; constant hazard)."""
        return Tenure(self.logo_churn_monthly, 1.0)


@dataclass(**_SLOTS)
class Sales:
    """``sales.*``: durations in days, rates per day, prices in $ per seat per month."""

    reps: int
    rep_capacity: int
    rep_cost: float
    pql_users: int
    pql_usage: float
    pql_rule: str
    pql_cooldown: float
    patience: Distribution
    pql_cycle: Distribution
    cold_cycle: Distribution
    close_base: float
    close_users: float
    close_share: float
    close_usage: float
    outbound: float
    outbound_per_rep: float
    inbound_share: float
    enterprise_size: int
    price_per_seat: float
    seat_share: float
    buying_unit: int
    term: float
    renewal_probability: float
    rollout: Distribution

    @property
    def servers(self) -> int:
        """Servers of the sales queue: reps x deal slots per rep (0 = no sales team)."""
        return self.reps * self.rep_capacity

    @property
    def outbound_rate(self) -> float:
        """Outbound leads per day: ``outbound + reps x outbound_per_rep`` when there are
        deal slots, else 0."""
        return self.outbound + self.reps * self.outbound_per_rep if self.servers else 0.0

    @property
    def pql_on(self) -> bool:
        """Whether companies can become product-qualified leads: a sales team and at least
        one PQL signal (users or usage) switched on."""
        return self.reps > 0 and (self.pql_users > 0 or self.pql_usage > 0)

    @property
    def pql_all(self) -> bool:
        """Whether a PQL needs every signal that is on (rule ``"all"``), not any one."""
        return self.pql_rule == "all"

    @property
    def cost_per_day(self) -> float:
        """What the sales team costs, $ per day (reps x cost per rep)."""
        return self.reps * self.rep_cost

    @property
    def hybrid(self) -> bool:
        """Whether companies above :attr:`enterprise_size` people go sales-led while the
        rest self-serve (``sales.enterprise_size`` > 0)."""
        return self.enterprise_size > 0

    def close_probability(self, users: float, people: float, user_months: float = 0.0) -> float:
        """The close function: the probability a rep wins a lead whose account has
        ``users`` active users of ``people`` (its size) and ``user_months`` of accrued usage
        when the rep takes it.  Logistic in the footprint::

            logit P = logit(close_base) + close_users ln(1 + users)
                      + close_share users / people + close_usage ln(1 + user_months)

        A cold lead (no footprint) closes at ``close_base``; a base of 0 or 1 makes every
        close lost or won, whatever the footprint.
        """
        p0 = self.close_base
        if p0 <= 0.0 or p0 >= 1.0:
            return 0.0 if p0 <= 0.0 else 1.0
        z = math.log(p0 / (1.0 - p0))
        if users > 0:
            z += self.close_users * math.log1p(users)
            if people > 0:
                z += self.close_share * min(users / people, 1.0)
        if user_months > 0:
            z += self.close_usage * math.log1p(user_months)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def contract_seats(self, users: int, people: int) -> int:
        """Seats a won contract covers: the company's buying unit, ``seat_share`` of its
        ``people`` but at most ``buying_unit`` seats, and never fewer than its ``users``
        already active (nor than one)."""
        unit = min(math.ceil(self.seat_share * people - 1e-9), self.buying_unit)
        return max(int(users), unit, 1)


@dataclass(**_SLOTS)
class Costs:
    """``costs.*``: $ per active free user per month."""

    serving_cost_per_free_user: float


#: The section classes, by section name (the order of :data:`flywheel.scenario.defaults.SECTIONS`).
_SECTIONS: dict[str, type] = {
    "simulation": Simulation, "market": Market, "acquisition": Acquisition,
    "onboarding": Onboarding, "collaboration": Collaboration, "retention": Retention,
    "pricing": Pricing, "free_tier": FreeTier, "trial": Trial, "paid": Paid,
    "sales": Sales, "costs": Costs,
}


def _convert(kind: str, value: Any) -> Any:
    """A converted scenario value as its type: floats, ints, bools, strings, distributions."""
    if kind in ("duration", "rate", "probability", "number"):
        return float(value)
    if kind == "count":
        return int(value)
    if kind == "bool":
        return bool(value)
    if kind == "choice":
        return str(value)
    return value  # a Distribution


# -- the whole -------------------------------------------------------------------------------

@dataclass(**_SLOTS)
class Settings:
    """Every value of a resolved scenario, typed, with what the engines derive from them.

    One frozen section per scenario section; ``horizon`` (days) is what a run uses (the
    scenario's own unless given).  Build with :meth:`from_scenario` or :meth:`from_values`.
    """

    simulation: Simulation
    market: Market
    acquisition: Acquisition
    onboarding: Onboarding
    collaboration: Collaboration
    retention: Retention
    pricing: Pricing
    free_tier: FreeTier
    trial: Trial
    paid: Paid
    sales: Sales
    costs: Costs
    #: Days the run lasts, from launch day.
    horizon: float

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_values(cls, values: Mapping[str, Any], horizon: float | None = None) -> Settings:
        """Settings from converted values by parameter path (a scenario's ``values``),
        run to ``horizon`` days (default: ``simulation.horizon``)."""
        sections = {}
        for name, section in _SECTIONS.items():
            sections[name] = section(**{
                f.name: _convert(PARAMS_BY_PATH[f"{name}.{f.name}"].kind,
                                 values[f"{name}.{f.name}"])
                for f in dataclasses.fields(section)})
        h = float(horizon if horizon is not None else values["simulation.horizon"])
        return cls(**sections, horizon=h)

    @classmethod
    def from_scenario(cls, scenario: Scenario, horizon: float | None = None) -> Settings:
        """Settings of a resolved scenario, run to ``horizon`` days (default: its own)."""
        return cls.from_values(scenario.values, horizon)

    @classmethod
    def of(cls, source: Settings | Scenario | Mapping[str, Any],
           horizon: float | None = None) -> Settings:
        """Settings from whatever a caller holds: settings (at ``horizon`` if given), a
        scenario, or a mapping of converted values."""
        if isinstance(source, Settings):
            return source if horizon is None else source.with_horizon(horizon)
        values = getattr(source, "values", None)
        return cls.from_values(values if isinstance(values, Mapping) else source, horizon)

    def with_horizon(self, horizon: float) -> Settings:
        """The same settings run to ``horizon`` days."""
        return dataclasses.replace(self, horizon=float(horizon))

    # -- derived across sections -------------------------------------------------------

    @property
    def card_trial(self) -> bool:
        """Whether starting a trial needs a card: ``pricing.model = "trial"`` and
        ``trial.card_required`` (a reverse trial never asks for one)."""
        return self.pricing.model == "trial" and self.trial.card_required

    @property
    def offer_signup_factor(self) -> float:
        """Share of the would-be founders reached by a contact who start on this offer,
        card aside: 1 for a free plan (a contact is someone who would sign up for one),
        ``trial.signup_factor`` for a trial, ``trial.reverse_signup_factor`` for a reverse
        trial; 1 when sales-led (no product offer: a contact asks for a demo or leaves)."""
        model = self.pricing.model
        if model == "trial":
            return self.trial.signup_factor
        if model == "reverse_trial":
            return self.trial.reverse_signup_factor
        return 1.0

    @property
    def card_signup_factor(self) -> float:
        """Share of those who would start a trial who still start when it asks for a card:
        ``trial.card_signup_factor`` in a card trial, else 1."""
        return self.trial.card_signup_factor if self.card_trial else 1.0

    @property
    def starter_share(self) -> float:
        """Share of the would-be founders reached by a contact who start a company: the
        offer's factor times the card's.  They are the most committed ones (see
        :attr:`commitment_threshold`)."""
        return self.offer_signup_factor * self.card_signup_factor

    @property
    def offer_threshold(self) -> float:
        """The commitment a would-be founder needs to take the offer, card aside."""
        return _threshold(self.offer_signup_factor)

    @property
    def commitment_threshold(self) -> float:
        """The commitment a would-be founder needs to start: Phi^-1(1 - starter_share), so
        that share of standard-normal commitments lies above it (-inf when everyone
        starts, +inf when no one does)."""
        return _threshold(self.starter_share)

    @property
    def trial_convert_probability(self) -> float:
        """Probability a trial team with an active user buys at the trial's end: the card
        probability in a card trial, else the opt-in one."""
        return (self.trial.card_convert_probability if self.card_trial
                else self.trial.convert_probability)

    # -- what a paying team pays --------------------------------------------------------

    @property
    def unit_month(self) -> float:
        """Usage units a seat of usage intensity 1 accrues in a month
        (``free_tier.usage_per_user`` x a month)."""
        return self.free_tier.usage_per_user * DAYS_PER_MONTH

    def bill(self, seats: float | np.ndarray, intensity: float | np.ndarray = 1.0,
             tier2: bool | np.ndarray = False) -> np.ndarray:
        """A paying team's bill in $ per month (its MRR) with ``seats`` billed seats and usage
        ``intensity`` (arrays broadcast), under ``pricing.charge`` and ``pricing.billing``:

        * per_seat: seats x price_per_seat, or x tier2_price_per_seat for a team on the
          second paid tier (``tier2``; tiers need per-seat charging);
        * flat: plan_price + max(seats - plan_seats, 0) x price_per_seat (0 without a seat);
        * usage: price_per_unit x units a month, units = seats x intensity x usage rate x a
          month;

        times (1 - annual_discount) on an annual plan.  Records and buying decisions both
        use it (and :meth:`seat_bill`)."""
        p = self.pricing
        seats = np.asarray(seats, dtype=float)
        if p.charge == "flat":
            extra = np.maximum(seats - p.plan_seats, 0.0) * p.price_per_seat
            monthly = np.where(seats > 0, p.plan_price + extra, 0.0)
        elif p.charge == "usage":
            monthly = seats * (p.price_per_unit * self.unit_month) * np.asarray(intensity)
        elif p.tiers and np.any(tier2):
            monthly = seats * np.where(tier2, p.tier2_price_per_seat, p.price_per_seat)
        else:
            monthly = seats * p.price_per_seat
        return monthly * p.discount_factor

    @property
    def tier2_seat_bill(self) -> float:
        """What a seat of the second paid tier costs a month: the price a first-tier team's
        value of a seat is compared with at its upgrade decision (the annual discount off
        on an annual plan)."""
        return self.pricing.tier2_price_per_seat * self.pricing.discount_factor

    def tier2_share(self, n: float | np.ndarray = 1.0) -> np.ndarray:
        """P(a team of ``n`` users values a seat at the second tier's price), over companies
        of usage intensity 1: :meth:`Pricing.buy_share` at :attr:`tier2_seat_bill`.  A
        first-tier team at its limit moves up with probability
        ``tier2_upgrade_probability`` x P(value >= tier-2 price | it bought the first tier):
        with ``value_growth`` 0, this share over the first tier's
        (``buy_share(seat_bill(1))``), since a company keeps its value."""
        return self.pricing.buy_share(self.tier2_seat_bill, n)

    def seat_bill(self, n: float, intensity: float = 1.0) -> float:
        """What a team of ``n`` seats (at least 1) pays per seat per month: the price its
        value of a seat is compared with at a buying decision (the list price per seat under
        per-seat charging on a monthly plan)."""
        p = self.pricing
        if p.charge == "per_seat":
            return p.price_per_seat * p.discount_factor
        n = max(float(n), 1.0)
        return float(self.bill(n, intensity)) / n

    def seat_bills(self, n: np.ndarray) -> np.ndarray:
        """:meth:`seat_bill` for each team size in ``n`` (usage intensity 1)."""
        n = np.maximum(np.asarray(n, dtype=float), 1.0)
        if self.pricing.charge == "per_seat":
            return np.full(n.shape, self.seat_bill(1.0))
        return self.bill(n) / n

    def buys(self, wtp: float, n: float, intensity: float = 1.0) -> bool:
        """Whether a company of willingness to pay ``wtp`` and usage ``intensity``, as a team
        of ``n`` users, values the plan at least at its bill: value per seat (wtp x
        n^value_growth x intensity^usage_value) >= :meth:`seat_bill`."""
        p = self.pricing
        return p.buys_at(wtp * p.intensity_factor(intensity), n, self.seat_bill(n, intensity))

    @property
    def bill_linear(self) -> bool:
        """Whether every team pays the same per seat whatever its size and usage (per-seat
        charging, or metered usage with every company of intensity 1): MRR is then paid
        seats x :meth:`seat_bill` (what the twin counts)."""
        p = self.pricing
        return p.charge == "per_seat" or (p.charge == "usage" and p.usage_spread == 0)

    @property
    def track_usage(self) -> bool:
        """Whether teams' usage must be accrued: a free-tier usage limit, the PQL usage
        signal switched on, or a sales team whose close function weighs usage."""
        sales = self.sales
        return (bool(self.free_tier.usage_limit) or (sales.pql_on and sales.pql_usage > 0)
                or (sales.reps > 0 and sales.close_usage != 0))

    @property
    def sales_motion(self) -> bool:
        """Whether any sales motion is on: sales-led pricing, the hybrid's sales-led
        companies, or a sales team (PQLs, outbound, contracts)."""
        return self.pricing.sales_led or self.sales.hybrid or self.sales.reps > 0

    @property
    def sales_led_above(self) -> float:
        """Companies with more people than this are sold sales-led (no product before a
        deal): 0 when the whole motion is (``pricing.model = "sales_led"``),
        ``sales.enterprise_size`` in the hybrid, and infinity when every company
        self-serves."""
        if self.pricing.sales_led:
            return 0.0
        return float(self.sales.enterprise_size) if self.sales.hybrid else math.inf


def _threshold(share: float) -> float:
    """Phi^-1(1 - share): the standard-normal value with ``share`` of the mass above it."""
    if share >= 1.0:
        return -math.inf
    if share <= 0.0:
        return math.inf
    return statistics.NormalDist().inv_cdf(1.0 - share)
