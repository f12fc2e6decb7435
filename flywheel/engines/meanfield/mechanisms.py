"""What the twin carries: every mechanism of the simulation and how the twin represents it,
and what a scenario switches on that it does not."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flywheel.engines import EngineError
from flywheel.scenario.defaults import PARAMS_BY_PATH
from flywheel.scenario.distributions import Exponential
from flywheel.scenario.files import Scenario
from flywheel.scenario.settings import FREE_TIER_MODELS, SELF_SERVE_MODELS, Settings

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
    M("a trial's offer and card", EXACT, "contacts that would start a company go ahead "
      "with the offer's share (trial.signup_factor, times trial.card_signup_factor when a "
      "card is asked: those whose commitment is above the threshold of that share); their "
      "onboarding race is the one of the committed (see commitment); a card trial's "
      "conversion uses the card probability",
      lambda s: s.starter_share < 1.0),
    M("commitment", APPROXIMATED,
      "patience scaled by each person's exp(spread z - spread^2 / 2): the race against a "
      "mixture of scaled patience over 16 Gauss-Legendre nodes in Phi(z), for a trial's "
      "founders over z above the offer's threshold, renormalised; the race's "
      "outcome probabilities within about 1e-4 of the exact mixture (baseline: 1e-6, "
      "card trial's founders: 3e-5)",
      lambda s: s.onboarding.commitment_spread > 0),
    M("joining a touched company", APPROXIMATED,
      "the people still reachable are exact in the mean per size bin (sizes 1, 2, 3, then "
      "ratio 3); a later signup goes to a team class in proportion to the people its "
      "companies have left, taking the teams of a bin at the bin's mean company size"),
    M("onboarding race", EXACT,
      "no-show, TTV (with setup friction for a company's first signup, the sandbox, the "
      "invitee factor) against patience: outcome probabilities computed from the "
      "distributions; their timing is exact for exponential TTV and patience (and no "
      "spread of commitment)",
      lambda s: _exact_race(s) and s.onboarding.commitment_spread <= 0),
    M("onboarding delays", APPROXIMATED,
      "the race's outcome times as a chain of exponential stages (quantile groups, stages "
      "of at least 12 hours, outcomes under 6 hours taken as instant): outcome "
      "probabilities exact, timing off by up to about half a day",
      lambda s: not _exact_race(s) or s.onboarding.commitment_spread > 0),
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
      "holding the mean; a seat sends invites only if its team (free, deciding or "
      "capped) is still below the limit after it, exact below the lump, by the closure "
      "in it",
      lambda s: s.pricing.free_tier and s.free_tier.seat_limit > 0),
    M("usage limit", APPROXIMATED,
      "usage as 8 Erlang stages crossed at the team's seats x usage rate: the paywall "
      "comes at the right mean time, spread by about +/-35%; a team capped on usage "
      "keeps inviting and seating below the seat limit, as in the DES (its usage, held "
      "at the limit, is not followed)",
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
    M("companies without the product", EXACT,
      "someone reaching a company that has lost the product (a later signup reaching a "
      "team class without access, or an invite in flight of a team that lost access "
      "arriving) is turned away: no signup, counted apart (sig_lost_signup); same in the "
      "mean, given the team classes"),
    M("paywall after a trial", APPROXIMATED,
      "someone new coming to a company whose trial ended without buying: it decides once, "
      "buying with the upgrade probability (they sign up as its first user of the paid "
      "plan) or staying closed, decided at once for each company reached (the DES decides "
      "after the decision delay, and those who came meanwhile share it); an invite "
      "arriving to no access finds such a company in its bin's share of them among the "
      "teams without access",
      lambda s: s.pricing.model == "trial"),
    M("win-back", APPROXIMATED,
      "a paying team that cancels (logo churn, or its last user left) moves to a class of "
      "its own; someone new coming to it meets the paywall once, as after a trial: it buys "
      "again with the upgrade probability, decided at once (the DES: after the decision "
      "delay, shared by whoever came meanwhile), into a paying class without a seat whose "
      "first seat brings its MRR back (mrr_reactivation), or it declines and stays closed; "
      "an invite arriving to no access finds a cancelled company in its bin's share of "
      "them among the teams without access (win-backs on the baseline: +8% over two years, "
      "+35% over one, where they are few; within 5% where they are many)"),
    M("setup before buying (sandbox)", APPROXIMATED,
      "with the sandbox users reach first value in minutes, but buying needs the company's "
      "setup done (production value): a trial team with a seat at the trial's end is set up "
      "with P(setup <= trial length), its trial and its setup both starting at its first "
      "signup (the simulation also needs someone working on it when the setup ends: 99.7% "
      "of those teams in the data-integration sandbox); a team without a seat then is taken "
      "as not set up (in the simulation, one whose users all left after its setup was done "
      "is set up); an opt-in trial that ended before its setup declines at the paywall when "
      "someone comes",
      lambda s: s.onboarding.has_setup_wait and s.pricing.trial),
    M("setup before buying on the free tier (sandbox)", NOT_REPRESENTED,
      "in the simulation a free team's paywall decision waits until its setup is done (and "
      "one that gave up its setup declines); the twin, which does not follow a team's age, "
      "decides as if it were set up, so its upgrades come sooner and a little more often",
      lambda s: s.onboarding.has_setup_wait and s.pricing.model in FREE_TIER_MODELS),
    M("willingness to pay", APPROXIMATED,
      "every buying decision passes with P(WTP x n^value_growth >= price) = 1 - F(price / "
      "n^value_growth), n the deciding team's users in its class (at the paywall its seats "
      "and waiting users, at a trial's end its seats, one person buying again), beside its "
      "probability; each decision on its own, as if the company drew its value anew: in the "
      "simulation a company keeps one value, so one that declined on price would decline "
      "again and one won back had valued the product before (the twin's win-backs at a "
      "binding price come out lower); no sales contracts (see sales motions)",
      lambda s: s.pricing.buy_share(s.pricing.price_per_seat, 1.0).item() < 1.0
      or s.pricing.value_growth != 0.0),
    M("paying teams", EXACT,
      "price per seat, logo churn (exponential), and a paying team whose last user leaves "
      "cancels, given the team's seats"),
    M("metered usage charge", EXACT,
      "with every company at usage intensity 1 a metered bill is paid seats x usage rate x "
      "a month x the unit price: a price per seat, carried as one (decisions and MRR)",
      lambda s: s.pricing.charge == "usage" and s.pricing.usage_spread == 0),
    M("usage intensity", NOT_REPRESENTED,
      "companies differing in usage intensity (their usage rate, free-tier exhaustion, "
      "value and metered bill): the twin runs every company at intensity 1",
      lambda s: s.pricing.usage_spread > 0),
    M("flat plan", APPROXIMATED,
      "a buying decision compares the value per seat of a team of n users with the plan's "
      "bill per seat for n seats (plan price, seats beyond the included ones at the seat "
      "price), n as for willingness to pay; its MRR is not carried (the twin counts paid "
      "seats, not each paying team's seats): MRR, ARR, arpa, revenue and LTV are reported "
      "missing", lambda s: s.pricing.charge == "flat"),
    M("annual billing", APPROXIMATED,
      "the annual discount is carried exactly (a seat's bill x (1 - discount)); the wait "
      "for the renewal is not: the twin cancels a paying team when its cancellation is "
      "drawn or its last user leaves, as on a monthly plan (its logo churn comes out "
      "higher, its paying teams fewer), and bills active seats, not the most of the year",
      lambda s: s.pricing.annual),
    M("second paid tier", NOT_REPRESENTED,
      "a first-tier team reaching the tier's seat or usage limit and deciding whether to "
      "move up to the second tier (pricing.tier2_price_per_seat): the twin has one paid "
      "tier, at pricing.price_per_seat, without limits; the tier metrics are reported "
      "missing", lambda s: s.pricing.tiers),
    M("costs", EXACT, "paid spend = budget x horizon; serving cost of free seats"),
    M("metrics", APPROXIMATED,
      "TTV median and p90 from the exact race distributions mixed by kind of signup; "
      "weekly cohorts approximate (each kind's time to value, the tenure curve, access "
      "lost at the run's average rate, with a trial at its end); no confidence intervals "
      "(one deterministic run)"),
    M("sales motions", NOT_REPRESENTED,
      "sales-led pricing, the hybrid's sales-led companies, PQLs, the sales queue, reps, "
      "the close function, outbound leads and contracts; the twin runs the self-serve "
      "flywheel only", lambda s: s.sales_motion),
)


#: What the twin cannot produce when a scenario has a sales motion (sales-led pricing, the
#: hybrid, or reps): these metrics and daily series are reported missing, never guessed.  (Without a
#: sales motion there is no sales team, and the twin reports them as the simulation
#: does: no leads, no contracts, no sales cost.)
WITHOUT_SALES: tuple[str, ...] = (
    # metrics of the sales team, and those that need its cost or its contracts
    "signups_sales", "pqls", "cold_leads", "pql_won_rate", "cold_won_rate", "pql_lift",
    "leads_gone_cold", "gone_cold_share", "queue_wait_mean_days", "queue_wait_p90_days",
    "rep_utilisation", "contracts_won", "bookings", "contract_value_mean", "pipeline_end",
    "arr_sales", "sales_cost",
    "cac_sales", "cac_blended", "ltv_cac", "cac_payback_months",
    # daily series (signups_sales, pqls, cold_leads and arr_sales are named above)
    "sales_queue", "reps_busy", "won", "gone_cold",
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
    costly = too_costly(s)
    if costly:
        out.append(costly)
    if s.pricing.usage_spread > 0:
        out.append(f"pricing.usage_spread = {s.pricing.usage_spread:g}: companies' usage "
                   "intensity is not represented (the twin runs every company at "
                   "intensity 1)")
    if s.pricing.charge == "flat":
        out.append('pricing.charge = "flat": a flat plan\'s MRR is not represented (the twin '
                   "counts paid seats, not each team's); MRR, ARR, arpa, revenue and LTV are "
                   "reported missing")
    if s.pricing.annual:
        out.append('pricing.billing = "annual": cancellation at the renewal is not '
                   "represented (the twin cancels at once, as a monthly plan; the discount "
                   "is carried)")
    if s.pricing.tiers:
        out.append(f"pricing.tier2_price_per_seat = {s.pricing.tier2_price_per_seat:g}: the "
                   "second paid tier is not represented (the twin runs one paid tier at "
                   "pricing.price_per_seat, without the first tier's limits); second-tier "
                   "metrics are reported missing")
    if s.onboarding.has_setup_wait and s.pricing.model in FREE_TIER_MODELS:
        out.append("onboarding.sandbox with onboarding.setup_friction: the free tier's paywall "
                   "decision waiting for the company's setup is not represented (the twin "
                   "decides as if the team were set up)")
    if s.sales.hybrid and not s.pricing.sales_led:
        out.append(f"sales.enterprise_size = {s.sales.enterprise_size}: the hybrid's "
                   f"sales-led companies (more than {s.sales.enterprise_size} people, no "
                   "product before a deal) are not represented (it ran every company "
                   "self-serve)")
    reps = s.sales.reps
    if reps > 0:
        keys = [p for p in v if p.startswith("sales.")
                and p not in ("sales.reps", "sales.enterprise_size")
                and _non_default(p, v[p])]
        out.append(f"sales.reps = {reps}: PQLs, the sales queue, reps, outbound leads and "
                   "contracts are not represented"
                   + (f" (nor {', '.join(keys)})" if keys else ""))
    return out


#: What the twin never reports: it counts teams by class, not by age or one by one, so it
#: has neither a team's time to pay nor a company's MRR history.
WITHOUT_AGES: tuple[str, ...] = (
    "free_to_paid_90d", "time_to_paid_median_days", "nrr", "grr",
    # metrics and daily series of the MRR bridge (but mrr_reactivation: a won-back team is
    # in a class of its own until its first seat, which brings its MRR back from 0)
    "mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churned",
    # who invited whom: the twin counts invites, not the inviter's place in the team
    "invites_per_founder",
)


#: What the twin cannot report under a flat plan, whose bill depends on each paying team's
#: seats (the twin counts paid seats, not seats per paying team).
WITHOUT_BILLS: tuple[str, ...] = (
    "arr_self_serve", "mrr_end", "arr_end", "arpa", "revenue", "ltv", "ltv_cac",
    "mrr_reactivation", "mrr", "cac_payback_months", "gross_margin",
)


#: What the twin cannot report with a second paid tier, which it does not represent.
WITHOUT_TIERS: tuple[str, ...] = (
    "tier2_customers", "tier2_share", "mrr_tier1", "mrr_tier2", "tier_upgrades",
    "tier_upgrade_rate", "mrr_tier_upgrade",
)


def unavailable(scenario: Scenario | Mapping[str, Any] | Settings) -> tuple[str, ...]:
    """The metrics and series the twin cannot report for ``scenario`` (they come out NaN,
    and the run, ``flywheel validate`` and ``summary.json`` name them): those of
    :data:`WITHOUT_AGES`, of :data:`WITHOUT_SALES` when it has a sales motion, and of
    :data:`WITHOUT_BILLS` under a flat plan."""
    s = scenario if isinstance(scenario, Settings) else Settings.of(scenario)
    out = WITHOUT_AGES + (WITHOUT_SALES if s.sales_motion else ())
    if not s.bill_linear and s.pricing.charge == "flat":
        out += tuple(k for k in WITHOUT_BILLS if k not in out)
    if s.pricing.tiers:
        out += WITHOUT_TIERS
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



#: Most invites per activated user (the distribution's mean) the twin takes on: its cost
#: grows steeply with them (on the baseline, a mean of 10 solves in ~3 s, 20 in ~20 s, 30
#: in more than 5 minutes).  The simulation has no such limit.
MAX_INVITES = 20.0

def too_costly(settings: Settings) -> str | None:
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
    costly = too_costly(settings)
    if costly:
        raise EngineError(f"{costly}; run it with --engine des")
