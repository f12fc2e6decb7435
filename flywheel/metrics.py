"""Every metric, defined once: label, unit, kind, and how it is computed.

Stocks (levels at an instant: active users, paying teams, MRR) and flows
(counts per period: signups, activations, churned users) are kept apart and
labelled here; tables, plots and reports take their labels from
:data:`METRICS` and :data:`SERIES`, never invent their own.

All computations work on a replication's :class:`~flywheel.engines.model.Outcome`
(typed columns of users and teams), after the run, vectorised.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from flywheel.engines import records
from flywheel.engines.model import Outcome
from flywheel.engines.tally import CHANNEL_NAMES as CHANNELS
from flywheel.engines.tally import COHORT_DAYS, Tally, retention_window
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.files import Claim, ScenarioError
from flywheel.scenario.units import format_duration


@dataclass(frozen=True)
class Metric:
    """A scalar metric of one replication."""

    name: str
    label: str
    unit: str
    kind: str  # "stock" (a level at the horizon), "flow" (a count over the run), "ratio", "time"
    meaning: str

    @property
    def bounds(self) -> tuple[float, float]:
        """The values this metric can take: shares lie in [0, 1], counts and money at or
        above 0; a margin, an LTV and a payback can be negative (costs above revenue)."""
        lo = -math.inf if self.name in _SIGNED else 0.0
        hi = 1.0 if self.unit.startswith("share") and self.name not in _ABOVE_ONE else math.inf
        return lo, hi

    def clamp(self, lo: float, hi: float) -> tuple[float, float]:
        """A confidence interval cut to :attr:`bounds`: a t-interval of few replications
        can reach past them (a share's upper end above 100%), the metric cannot."""
        low, high = self.bounds
        return (lo if math.isnan(lo) else max(lo, low)), (hi if math.isnan(hi) else min(hi, high))


#: Metrics that can be negative (costs above revenue).
_SIGNED = frozenset({"gross_margin", "ltv", "ltv_cac", "cac_payback_months"})
#: Ratios that can exceed 1 although their unit is a share (expansion above churn).
_ABOVE_ONE = frozenset({"nrr"})


@dataclass(frozen=True)
class Series:
    """A daily time series; stocks are end-of-day levels, flows are counts in the day."""

    name: str
    label: str
    unit: str
    kind: str  # "stock" or "flow"


def _m(name: str, label: str, unit: str, kind: str, meaning: str) -> Metric:
    return Metric(name, label, unit, kind, meaning)


METRICS: dict[str, Metric] = {m.name: m for m in (
    _m("signups", "Signups", "users", "flow", "People who signed up before the horizon, all channels."),
    *(_m(f"signups_{c}", f"Signups ({c})", "users", "flow", f"Signups brought by the {c} channel.")
      for c in CHANNELS),
    _m("turned_away", "Turned away", "people", "flow",
       "People who came to a company without the product and were turned away (it declined "
       "to buy again when someone new came, or its contract ended); they are not signups."),
    _m("activated", "Activated users", "users", "flow",
       "Signups who reached value before the horizon."),
    _m("activation_rate", "Signup-to-activation rate", "share", "ratio",
       "Reached value / signups whose onboarding ended by the horizon, however it ended "
       "(value reached, gave up, or their team lost the product); signups still onboarding "
       "at the horizon are left out, not counted as lost."),
    _m("ttv_median_days", "Time to value, median", "days", "time",
       "Median time from signup to value among activated users."),
    _m("ttv_p90_days", "Time to value, p90", "days", "time",
       "90th percentile of time from signup to value among activated users."),
    _m("viral_coefficient", "Viral coefficient K", "signups per activated user", "ratio",
       "Invites sent per activated user x the share accepted (accepted invites / activated "
       "users), counted when the invite is sent, so an invitee who arrives after the horizon "
       "counts; word-of-mouth signups are apart (signups_referral)."),
    _m("invites_per_founder", "Teammates a founder brought", "signups per team", "ratio",
       "Signups who came by an invite from their team's founder (its first signup), per "
       "team created; a team created near the horizon has had less time to bring them."),
    _m("viral_signups", "Viral signups", "users", "flow",
       "Signups brought by invites and by word of mouth before the horizon."),
    _m("viral_cycle_days", "Viral cycle time", "days", "time",
       "Mean time from an inviter taking a seat to the invitee signing up."),
    _m("invites_sent", "Invites sent", "invites", "flow",
       "Invites sent by activated users before the horizon."),
    _m("teams", "Teams created", "teams", "flow",
       "Companies whose first contact was a signup (not a sales prospect)."),
    _m("paywall_teams", "Teams at the paywall", "teams", "flow",
       "Teams that met the free tier's limit at least once."),
    _m("teams_ever_paid", "Teams that paid", "teams", "flow",
       "Teams created that started paying before the horizon (self-serve or by a contract)."),
    _m("free_to_paid_rate", "Free-to-paid conversion, pooled", "share", "ratio",
       "Teams that ever paid / teams created, pooled over every team whatever its age: it "
       "grows with the horizon, as young teams have had little time (free_to_paid_90d "
       "does not)."),
    _m("free_to_paid_90d", "Free-to-paid conversion in 90 days", "share", "ratio",
       "Of the teams created at least 90 days before the horizon, the share that started "
       "paying (self-serve or by a contract) within 90 days of creation: a cohort figure, "
       "the same at any horizon longer than 90 days."),
    _m("time_to_paid_median_days", "Time to paid, median", "days", "time",
       "Median time from a team's creation to its first payment, among teams that paid "
       "before the horizon."),
    _m("new_customers", "New paying customers", "companies", "flow",
       "Companies that started paying before the horizon: self-serve teams and won contracts "
       "(a team that paid self-serve and then signed a contract counts once)."),
    _m("trial_teams", "Trials ended", "teams", "flow", "Teams whose trial ended before the horizon."),
    _m("trial_conversion", "Trial conversion", "share", "ratio",
       "Teams that bought at the end of their trial / trials ended (empty without trials)."),
    _m("paying_teams", "Paying customers", "companies", "stock",
       "Companies paying at the horizon: self-serve or under contract."),
    _m("active_users_end", "Active users", "users", "stock", "Users with a seat at the horizon."),
    _m("free_users_end", "Free users", "users", "stock",
       "Active users at the horizon in teams that do not pay (free, trial or capped)."),
    _m("active_users_mean", "Active users, time-weighted mean", "users", "stock",
       "Active users averaged over the run, weighted by time."),
    _m("paid_seats_end", "Paid seats", "seats", "stock", "Active users of paying teams at the horizon."),
    _m("mrr_end", "MRR", "$ per month", "stock",
       "Monthly recurring revenue at the horizon: self-serve paid seats x price, plus "
       "contracts' annual value / 12."),
    _m("arr_end", "ARR", "$ per year", "stock", "Annual recurring revenue at the horizon: 12 x MRR."),
    _m("arpa", "ARPA", "$ per month per account", "ratio",
       "Average revenue per account: MRR at the horizon / paying customers at the horizon "
       "(self-serve and contracts)."),
    # -- a second paid tier ------------------------------------------------------------
    _m("tier2_customers", "Second-tier customers", "companies", "stock",
       "Self-serve teams paying on the second paid tier at the horizon (0 without one)."),
    _m("tier2_share", "Second-tier share", "share", "ratio",
       "Second-tier customers / self-serve teams paying at the horizon."),
    _m("mrr_tier1", "MRR, first tier", "$ per month", "stock",
       "Self-serve MRR at the horizon from teams on the first paid tier (all of it without "
       "a second tier)."),
    _m("mrr_tier2", "MRR, second tier", "$ per month", "stock",
       "Self-serve MRR at the horizon from teams on the second paid tier."),
    _m("tier_upgrades", "Moves to the second tier", "teams", "flow",
       "First-tier teams that moved up to the second paid tier before the horizon."),
    _m("tier_upgrade_rate", "Second-tier upgrade rate", "share", "ratio",
       "Moves up / decisions made by first-tier teams at one of the tier's limits."),
    _m("mrr_tier_upgrade", "MRR from moving up a tier", "$ per month", "flow",
       "MRR the moves to the second tier added at their instant: the team's seats then x "
       "the difference of the tiers' seat prices (part of MRR from expansion)."),
    _m("arr_self_serve", "ARR, self-serve", "$ per year", "stock",
       "12 x self-serve MRR at the horizon (paid seats x list price)."),
    _m("arr_sales", "ARR, sales contracts", "$ per year", "stock",
       "Annual value of the contracts running at the horizon."),
    _m("revenue", "Revenue", "$", "flow", "Revenue earned over the run (MRR integrated over time)."),
    _m("user_churn_monthly", "User churn", "share per month", "ratio",
       "Monthly churn of active users: 1 - exp(-ended spells / active user-months); a spell "
       "ends when the user churns or the team loses access."),
    _m("winbacks", "Win-backs", "companies", "flow",
       "Companies that had cancelled a self-serve paid plan and paid again when someone new "
       "of theirs came (a new paid spell; counted each time, not new customers)."),
    _m("winback_rate", "Win-back rate", "share", "ratio",
       "Win-backs / self-serve cancellations over the run: the share of cancellations "
       "followed by a win-back before the horizon."),
    _m("logo_churn_monthly", "Logo churn", "share per month", "ratio",
       "Monthly churn of paying customers: 1 - exp(-cancellations / paying customer-months); "
       "self-serve cancellations and contracts not renewed count, a self-serve plan replaced "
       "by a contract does not."),
    # -- revenue retention --------------------------------------------------------------
    _m("retention_window_months", "Retention window", "months", "time",
       "Whole months NRR and GRR look back: 12 where the horizon allows (two years or "
       "more), else the longest whole-month window within the run's second half."),
    _m("nrr", "Net revenue retention", "share", "ratio",
       "MRR at the horizon from the companies that paid at the start of the retention "
       "window / their MRR then (expansion counts, new customers do not)."),
    _m("grr", "Gross revenue retention", "share", "ratio",
       "As NRR, each company counted at most at its MRR then (expansion left out)."),
    _m("mrr_new", "MRR from new customers", "$ per month", "flow",
       "MRR added over the run by companies paying for the first time."),
    _m("mrr_expansion", "MRR from expansion", "$ per month", "flow",
       "MRR added over the run by paying companies growing (seats, a contract)."),
    _m("mrr_contraction", "MRR lost to contraction", "$ per month", "flow",
       "MRR lost over the run by paying companies shrinking (seats leaving)."),
    _m("mrr_churned", "MRR churned", "$ per month", "flow",
       "MRR lost over the run by companies that stopped paying."),
    _m("mrr_reactivation", "MRR from reactivation", "$ per month", "flow",
       "MRR added over the run by companies paying again after stopping."),
    # -- sales --------------------------------------------------------------------------
    _m("pqls", "PQLs", "leads", "flow",
       "Product-qualified leads: companies whose self-serve footprint met the PQL rule."),
    _m("cold_leads", "Cold leads", "leads", "flow",
       "Leads that were not product-qualified: outbound prospecting and, sales-led, inbound "
       "enquiries."),
    _m("pql_won_rate", "PQL-to-won rate", "share", "ratio",
       "PQLs won / PQLs settled (won, lost, or gone cold waiting) by the horizon."),
    _m("cold_won_rate", "Cold-lead-to-won rate", "share", "ratio",
       "Cold leads won / cold leads settled (won, lost, or gone cold waiting) by the horizon."),
    _m("pql_lift", "PQL lift over cold leads", "ratio", "ratio",
       "PQL-to-won rate / cold-lead-to-won rate (how many times better PQLs close)."),
    _m("leads_gone_cold", "Leads gone cold", "leads", "flow",
       "Leads that gave up waiting for a rep (the queue's abandonment)."),
    _m("gone_cold_share", "Leads gone cold, share", "share", "ratio",
       "Leads gone cold / leads that left the queue (taken by a rep or gone cold)."),
    _m("queue_wait_mean_days", "Sales queue wait, mean", "days", "time",
       "Mean wait from becoming a lead to a rep taking it, among leads taken."),
    _m("queue_wait_p90_days", "Sales queue wait, p90", "days", "time",
       "90th percentile of that wait."),
    _m("rep_utilisation", "Rep utilisation", "share", "ratio",
       "Time-weighted share of the reps' deal slots in use over the run."),
    _m("contracts_won", "Contracts won", "contracts", "flow", "Deals won before the horizon."),
    _m("bookings", "Bookings", "$ per year", "flow",
       "Annual value of the contracts won before the horizon (renewals not counted)."),
    _m("contract_value_mean", "Contract value, mean", "$ per year per contract", "ratio",
       "Bookings / contracts won: the mean annual value of a contract won before the "
       "horizon (ACV; renewals not counted)."),
    _m("pipeline_end", "Open pipeline", "$ per year", "stock",
       "Annual value the open leads (waiting or being worked) at the horizon would sign."),
    # -- costs and unit economics ------------------------------------------------------
    _m("acquisition_spend", "Acquisition spend", "$", "flow", "Paid acquisition spend over the run."),
    _m("sales_cost", "Sales cost", "$", "flow", "Reps' cost over the run."),
    _m("serving_cost", "Serving cost", "$", "flow", "Cost of serving active free users over the run."),
    _m("gross_margin", "Gross margin", "share", "ratio",
       "(Revenue - serving cost) / revenue over the run."),
    _m("cac_blended", "Blended CAC", "$ per new paying customer", "ratio",
       "(Acquisition spend + sales cost) / new paying customers (every channel counted)."),
    _m("cac_self_serve", "CAC, self-serve", "$ per new paying team", "ratio",
       "Acquisition spend / teams that started paying self-serve."),
    _m("cac_sales", "CAC, sales", "$ per contract", "ratio", "Sales cost / contracts won."),
    _m("cost_per_signup", "Cost per signup, blended", "$ per signup", "ratio",
       "Acquisition spend / signups (every channel counted)."),
    _m("ltv", "LTV", "$ per paying customer", "ratio",
       "Average MRR per paying customer at the horizon x gross margin / monthly logo churn."),
    _m("ltv_cac", "LTV / CAC", "ratio", "ratio", "LTV / blended CAC."),
    _m("cac_payback_months", "CAC payback", "months", "time",
       "Blended CAC / (average MRR per paying customer at the horizon x gross margin)."),
)}

#: The headline metrics the CLI prints.
HEADLINE = ("signups", "activation_rate", "ttv_median_days", "viral_coefficient", "teams",
            "paying_teams", "free_to_paid_90d", "free_to_paid_rate", "active_users_end",
            "mrr_end", "arr_end", "nrr", "user_churn_monthly")
#: Added to the headline of a run with a sales team: what it signed and how long leads wait.
SALES_HEADLINE = ("contracts_won", "contract_value_mean", "queue_wait_mean_days")


def headline(sales: bool = False) -> tuple[str, ...]:
    """The headline metrics of a run: :data:`HEADLINE`, then :data:`SALES_HEADLINE` when the
    run has a sales team (``sales``)."""
    return HEADLINE + SALES_HEADLINE if sales else HEADLINE

SERIES: dict[str, Series] = {s.name: s for s in (
    Series("active_users", "Active users", "users", "stock"),
    Series("paying_teams", "Paying customers", "companies", "stock"),
    Series("paid_seats", "Paid self-serve seats", "seats", "stock"),
    Series("mrr", "MRR", "$ per month", "stock"),
    Series("arr_self_serve", "ARR, self-serve", "$ per year", "stock"),
    Series("arr_sales", "ARR, sales contracts", "$ per year", "stock"),
    Series("sales_queue", "Leads waiting for a rep", "leads", "stock"),
    Series("reps_busy", "Rep deal slots in use", "leads", "stock"),
    Series("teams", "Teams created, cumulative", "teams", "stock"),
    Series("signups", "Signups", "users per day", "flow"),
    *(Series(f"signups_{c}", f"Signups ({c})", "users per day", "flow") for c in CHANNELS),
    Series("activations", "Activations", "users per day", "flow"),
    Series("churned", "Active spells ended", "users per day", "flow"),
    Series("upgrades", "Teams starting to pay (win-backs included)", "teams per day", "flow"),
    Series("pqls", "PQLs", "leads per day", "flow"),
    Series("cold_leads", "Cold leads", "leads per day", "flow"),
    Series("won", "Contracts won", "contracts per day", "flow"),
    Series("gone_cold", "Leads gone cold", "leads per day", "flow"),
    *(Series(k, label, "$ per month, per day", "flow") for k, label in (
        ("mrr_new", "MRR from new customers"), ("mrr_expansion", "MRR from expansion"),
        ("mrr_contraction", "MRR lost to contraction"), ("mrr_churned", "MRR churned"),
        ("mrr_reactivation", "MRR from reactivation"))),
)}

FUNNEL: tuple[tuple[str, str, str], ...] = (
    ("signups", "Signed up", "users"),
    ("activated", "Reached value", "users"),
    ("seated", "Took a seat", "users"),
    ("in_paying_team", "Had a paid seat", "users"),
    ("teams", "Teams created", "teams"),
    ("teams_activated", "Teams with a user who reached value", "teams"),
    ("teams_at_decision", "Teams at the paywall or a trial's end", "teams"),
    ("teams_paid", "Teams that paid", "teams"),
)


# -- computations: one tally -> every metric, series, funnel stage and cohort cell ---------

def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else math.nan


class Measures(NamedTuple):
    """Everything a run reports, measured from its :class:`~flywheel.engines.tally.Tally`."""

    metrics: dict[str, float]
    series: dict[str, np.ndarray]
    funnel: dict[str, float]
    cohorts: list[tuple[int, int, float, float]]
    states: dict[str, float]
    #: Metrics and series the engine could not produce for this run (reported as NaN).
    unavailable: tuple[str, ...]
    #: Why a metric has no value (NaN), where the counts say why (:func:`tally_reasons`).
    reasons: dict[str, str]


def measure(tally: Tally) -> Measures:
    """Every metric of :data:`METRICS`, series of :data:`SERIES`, stage of :data:`FUNNEL`,
    weekly cohort cell and final-state count of one run, whichever engine counted it, and
    why each metric that has no value has none."""
    metrics = tally_metrics(tally)
    series = tally_series(tally)
    reasons = tally_reasons(tally, metrics)
    for name in tally.unavailable:
        if name in metrics:
            metrics[name] = math.nan
            reasons[name] = TWIN_REASON
        if name in series:
            series[name] = np.full(len(series[name]), math.nan)
    return Measures(metrics, series, tally_funnel(tally), tally_cohorts(tally),
                    dict(tally.states), tuple(tally.unavailable), reasons)


def tally_metrics(tally: Tally) -> dict[str, float]:  # noqa: PLR0915 (one line per metric)
    """Every metric of :data:`METRICS`, from a tally (the only place each is defined)."""
    x, H = tally.totals, tally.horizon
    m: dict[str, float] = {}
    for c in CHANNELS:
        m[f"signups_{c}"] = x[f"signups_{c}"]
    m["signups"] = _signups(x)
    m["turned_away"] = x["turned_away"]
    m["activated"] = x["activated"]
    m["activation_rate"] = _div(x["activated"],
                                x["activated"] + x["abandoned"] + x["onboarding_lost"])
    m["ttv_median_days"] = x["ttv_median"]
    m["ttv_p90_days"] = x["ttv_p90"]
    m["viral_coefficient"] = _div(x["invites_accepted"], x["activated"])
    m["invites_per_founder"] = _div(x["founder_invited"], x["teams"])
    m["viral_signups"] = x["signups_invite"] + x["signups_referral"]
    m["viral_cycle_days"] = _div(x["invite_cycle_sum"], x["invited_signups"])
    m["invites_sent"] = x["invites_sent"]
    m["teams"] = x["teams"]
    m["paywall_teams"] = x["paywall_teams"]
    m["teams_ever_paid"] = x["teams_ever_paid"]
    m["free_to_paid_rate"] = _div(x["teams_ever_paid"], x["teams"])
    m["free_to_paid_90d"] = _div(x["teams_paid_90d"], x["teams_90d"])
    m["time_to_paid_median_days"] = x["time_to_paid_median"]
    m["new_customers"] = x["new_customers"]
    m["trial_teams"] = x["trial_teams"]
    m["trial_conversion"] = _div(x["trial_converted"], x["trial_teams"])
    m["paying_teams"] = x["paying_self_serve_end"] + x["contracts_running_end"]
    m["active_users_end"] = x["active_users_end"]
    m["active_users_mean"] = x["user_days"] / H
    m["free_users_end"] = x["active_users_end"] - x["paid_seats_end"] - x["contract_users_end"]
    m["paid_seats_end"] = x["paid_seats_end"]
    m["arr_self_serve"] = 12.0 * x["mrr_self_serve_end"]
    m["arr_sales"] = x["arr_sales_end"]
    m["mrr_end"] = (m["arr_self_serve"] + m["arr_sales"]) / 12.0
    m["arr_end"] = 12.0 * m["mrr_end"]
    m["arpa"] = _div(m["mrr_end"], m["paying_teams"])
    m["tier2_customers"] = x["tier2_paying_end"]
    m["tier2_share"] = _div(x["tier2_paying_end"], x["paying_self_serve_end"])
    m["mrr_tier2"] = x["mrr_tier2_end"]
    m["mrr_tier1"] = x["mrr_self_serve_end"] - x["mrr_tier2_end"]
    m["tier_upgrades"] = x["tier_upgrades"]
    m["tier_upgrade_rate"] = _div(x["tier_upgrades"], x["tier_decisions"])
    m["mrr_tier_upgrade"] = x["tier_upgrade_mrr"]
    m["revenue"] = x["self_serve_revenue"] + x["contract_revenue"]
    m["user_churn_monthly"] = _monthly(x["seats_ended"], x["user_days"])
    m["logo_churn_monthly"] = _monthly(x["cancels"], x["customer_days"])
    m["winbacks"] = x["winbacks"]
    m["winback_rate"] = _div(x["winbacks"], x["self_serve_cancels"])
    # -- revenue retention
    m["retention_window_months"] = float(retention_window(H))
    m["nrr"] = _div(x["mrr_now_of_then"], x["mrr_then"])
    m["grr"] = _div(x["mrr_kept_of_then"], x["mrr_then"])
    for kind in ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churned", "mrr_reactivation"):
        m[kind] = float(np.sum(tally.flows[kind]))
    # -- sales
    m["pqls"] = x["pqls"]
    m["cold_leads"] = x["cold_leads"]
    m["pql_won_rate"] = _div(x["pqls_won"], x["pqls_settled"])
    m["cold_won_rate"] = _div(x["cold_won"], x["cold_settled"])
    m["pql_lift"] = _div(m["pql_won_rate"], m["cold_won_rate"])
    m["leads_gone_cold"] = x["leads_gone_cold"]
    m["gone_cold_share"] = _div(x["leads_gone_cold"], x["leads_gone_cold"] + x["leads_taken"])
    m["queue_wait_mean_days"] = x["queue_wait_mean"]
    m["queue_wait_p90_days"] = x["queue_wait_p90"]
    m["rep_utilisation"] = _div(x["rep_busy_days"], tally.sales_servers * H)
    m["contracts_won"] = x["contracts_won"]
    m["bookings"] = x["bookings"]
    m["contract_value_mean"] = _div(x["bookings"], x["contracts_won"])
    m["pipeline_end"] = x["pipeline_end"]
    # -- costs and unit economics
    spend, sales_cost = x["acquisition_spend"], x["sales_cost"]
    m["acquisition_spend"] = spend
    m["sales_cost"] = sales_cost
    free_days = x["user_days"] - x["paid_seat_days"] - x["contract_user_days"]
    m["serving_cost"] = free_days / DAYS_PER_MONTH * tally.serving_cost_per_month
    m["gross_margin"] = _div(m["revenue"] - m["serving_cost"], m["revenue"])
    m["cac_blended"] = _div(spend + sales_cost, m["new_customers"])
    m["cac_self_serve"] = _div(spend, x["upgraded_teams"])
    m["cac_sales"] = _div(sales_cost, m["contracts_won"])
    m["cost_per_signup"] = _div(spend, m["signups"])
    margin_mrr = _div(m["mrr_end"], m["paying_teams"]) * m["gross_margin"]
    m["ltv"] = _div(margin_mrr, m["logo_churn_monthly"]) if m["logo_churn_monthly"] else math.nan
    m["ltv_cac"] = _div(m["ltv"], m["cac_blended"])
    m["cac_payback_months"] = _div(m["cac_blended"], margin_mrr) if margin_mrr > 0 else math.nan
    missing = set(METRICS) - set(m)
    assert not missing, f"metrics without a computation: {sorted(missing)}"
    return {k: float(m[k]) for k in METRICS}


#: Why a metric the engine cannot produce (the mean-field twin's sales figures) has no value.
TWIN_REASON = "not reported by the mean-field twin"


def tally_reasons(tally: Tally, m: Mapping[str, float]) -> dict[str, str]:
    """Why each figure of ``m`` (the tally's metrics, :func:`tally_metrics`) that has no
    value has none, in a few words read from the counts: ``{"ltv_cac": "no paying customer
    cancelled (logo churn 0): LTV needs churn"}``.  Every ratio and time that can be
    missing has its reasons here: the funnel's, unit economics, revenue retention, the
    sales team's, trials and cohorts.  The one place a missing figure is explained; tables
    print the reason in place of the CI, and ``summary.json`` keeps it (``"reasons"``)."""
    x = tally.totals
    no_team = tally.sales_servers == 0
    window = retention_window(tally.horizon)

    def margin_per_customer() -> str:  # MRR per paying customer x gross margin, not > 0
        if not m["paying_teams"]:
            return "no paying customer at the horizon"
        if math.isnan(m["gross_margin"]):
            return "no revenue"
        if m["mrr_end"] <= 0:
            return "paying customers pay nothing at the horizon"
        return "no gross margin: serving free users cost at least the revenue"

    def cac() -> str:
        if not m["new_customers"]:
            return "no new paying customer"
        return ""

    def ltv() -> str:
        if not m["paying_teams"] or math.isnan(m["gross_margin"]):
            return margin_per_customer()
        if math.isnan(m["logo_churn_monthly"]) or m["logo_churn_monthly"] == 0:
            return "no paying customer cancelled (logo churn 0): LTV needs churn"
        return ""

    def ltv_cac() -> str:
        if math.isnan(m["ltv"]):
            return ltv()
        if math.isnan(m["cac_blended"]):
            return cac()
        return "CAC is $0: no acquisition or sales cost" if m["cac_blended"] == 0 else ""

    def retention() -> str:
        if window == 0:
            return "run shorter than two months: no retention window"
        if not x["mrr_then"]:
            return (f"no customer paid {window} month{'s' if window != 1 else ''} before the "
                    "horizon, where the retention window starts")
        return ""

    def sales(count: str, none: str) -> Callable[[], str]:
        return lambda: "no sales team" if no_team else (none if not x[count] else "")

    def lift() -> str:
        for rate in ("pql_won_rate", "cold_won_rate"):
            if math.isnan(m[rate]):
                return why[rate]()
        return "no cold lead won" if m["cold_won_rate"] == 0 else ""

    def when(count: str, none: str) -> Callable[[], str]:
        return lambda: none if not x[count] else ""

    no_value = "no one reached value"
    why: dict[str, Callable[[], str]] = {
        # the funnel and the flywheel
        "activation_rate": lambda: "no signup finished onboarding",
        "ttv_median_days": when("activated", no_value),
        "ttv_p90_days": when("activated", no_value),
        "viral_coefficient": when("activated", no_value),
        "viral_cycle_days": when("invited_signups", "no invited signup"),
        "invites_per_founder": when("teams", "no team created"),
        "free_to_paid_rate": when("teams", "no team created"),
        "time_to_paid_median_days": when("teams_ever_paid", "no team paid"),
        "user_churn_monthly": when("user_days", "no one held a seat"),
        "logo_churn_monthly": when("customer_days", "no company paid"),
        "winback_rate": when("self_serve_cancels", "no self-serve cancellation"),
        # unit economics
        "gross_margin": lambda: "no revenue" if not m["revenue"] else "",
        "cac_blended": cac,
        "cac_self_serve": lambda: "no team started paying self-serve"
        if not x["upgraded_teams"] else "",
        "cac_sales": sales("contracts_won", "no contract won"),
        "cost_per_signup": lambda: "no signups" if not m["signups"] else "",
        "ltv": ltv,
        "ltv_cac": ltv_cac,
        "cac_payback_months": lambda: cac() if math.isnan(m["cac_blended"])
        else margin_per_customer(),
        "nrr": retention,
        "grr": retention,
        "contract_value_mean": sales("contracts_won", "no contract won"),
        "arpa": lambda: "no paying customer at the horizon" if not m["paying_teams"] else "",
        "tier2_share": when("paying_self_serve_end", "no self-serve team paying at the horizon"),
        "tier_upgrade_rate": when("tier_decisions", "no first-tier team decided whether to "
                                  "move up (none reached a first-tier limit, or there is no "
                                  "second tier)"),
        "queue_wait_mean_days": sales("leads_taken", "no lead reached a rep"),
        "queue_wait_p90_days": sales("leads_taken", "no lead reached a rep"),
        "rep_utilisation": lambda: "no sales team" if no_team else "",
        "gone_cold_share": lambda: "no sales team" if no_team else (
            "no lead left the queue" if not x["leads_gone_cold"] + x["leads_taken"] else ""),
        "pql_won_rate": sales("pqls_settled", "no PQL settled (won, lost or gone cold)"),
        "cold_won_rate": sales("cold_settled", "no cold lead settled (won, lost or gone cold)"),
        "pql_lift": lift,
        "trial_conversion": lambda: "no trial ended" if not x["trial_teams"] else "",
        "free_to_paid_90d": lambda: (f"no team created {COHORT_DAYS:g} days or more before "
                                     "the horizon") if not x["teams_90d"] else "",
    }
    out = {}
    for name, explain in why.items():
        if math.isnan(m[name]):
            reason = explain()
            if reason:
                out[name] = reason
    return out


def _signups(totals: Mapping[str, float]) -> float:
    """Signups of every channel (the metric and the funnel's first stage)."""
    return float(sum(totals[f"signups_{c}"] for c in CHANNELS))


def _monthly(ended: float, exposure_days: float) -> float:
    """A monthly churn rate from spells ended over time exposed: 1 - exp(-rate per month)."""
    return 1.0 - math.exp(-_div(ended, exposure_days / DAYS_PER_MONTH)) if exposure_days > 0 \
        else math.nan


def tally_series(tally: Tally) -> dict[str, np.ndarray]:
    """Every series of :data:`SERIES` (index = day number - 1), from a tally."""
    lv, fl = tally.levels, tally.flows
    s: dict[str, np.ndarray] = {
        "active_users": lv["active_users"],
        "paying_teams": lv["paying_self_serve"] + lv["contracts_running"],
        "paid_seats": lv["paid_seats"],
        "mrr": lv["mrr_self_serve"] + lv["arr_sales"] / 12.0,
        "arr_self_serve": 12.0 * lv["mrr_self_serve"],
        "arr_sales": lv["arr_sales"],
        "sales_queue": lv["sales_queue"],
        "reps_busy": lv["reps_busy"],
        "teams": lv["teams"],
        "signups": sum(fl[f"signups_{c}"] for c in CHANNELS),
        **{f"signups_{c}": fl[f"signups_{c}"] for c in CHANNELS},
        "activations": fl["activations"],
        "churned": fl["churned"],
        "upgrades": fl["upgrades"],
        "pqls": fl["pqls"],
        "cold_leads": fl["cold_leads"],
        "won": fl["won"],
        "gone_cold": fl["gone_cold"],
        **{k: fl[k] for k in ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churned",
                               "mrr_reactivation")},
    }
    return {k: np.asarray(s[k], dtype=float) for k in SERIES}


def tally_funnel(tally: Tally) -> dict[str, float]:
    """Counts at each stage of :data:`FUNNEL` (self-serve teams only: a sales prospect
    enters no funnel of signups)."""
    x = tally.totals
    f = {"signups": _signups(x), "teams_paid": x["teams_ever_paid"]}
    return {key: f[key] if key in f else x[key] for key, _, _ in FUNNEL}


def tally_cohorts(tally: Tally, max_weeks: int = 52) -> list[tuple[int, int, float, float]]:
    """Weekly signup cohorts: (cohort week, weeks since signup, signups, still active).

    Only cells observed in full by the horizon are returned: cohort ``c`` (days
    ``[7c, 7c + 7)``) is seen ``k`` weeks on when ``7c + 7 + 7k`` is at most the horizon.
    """
    sizes, active = tally.cohort_sizes, tally.cohort_active
    n_cohorts = len(sizes)
    rows = []
    for k in range(1, min(max_weeks, active.shape[1] if active.ndim == 2 else 0) + 1):
        observed = np.arange(n_cohorts) * 7 + 7 + 7 * k <= tally.horizon
        if not observed.any():
            break
        for c in np.flatnonzero(observed & (sizes > 0)).tolist():
            rows.append((c, k, sizes[c].item(), active[c, k - 1].item()))
    return rows


# -- one replication of the simulation ----------------------------------------------------

def replication_metrics(o: Outcome) -> dict[str, float]:
    """Every metric of one replication of the simulation (:func:`measure` of its tally)."""
    return tally_metrics(records.tally(o))


def replication_series(o: Outcome) -> dict[str, np.ndarray]:
    """Every daily series of one replication of the simulation."""
    return tally_series(records.tally(o))


def user_states(o: Outcome) -> dict[str, int]:
    """How many signups of one replication end in each final state."""
    return dict(records.tally(o).states)


def format_value(value: float | None, unit: str) -> str:
    """A metric value as a person reads it: shares in %, money in $, counts with separators.

    The one formatting of metric values, used by the CLI tables, plots and reports.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit.startswith("share"):
        return f"{100 * value:.1f}%"
    if unit.startswith("$"):
        sign = "-" if value < 0 else ""
        return f"{sign}${abs(value):,.0f}" if abs(value) >= 100 else f"{sign}${abs(value):,.2f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_difference(value: float | None, unit: str) -> str:
    """A difference between two values of a metric, with its sign: shares in percentage
    points (``+62.6 pp``), the rest as :func:`format_value` (``+$1,200``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit.startswith("share"):
        return f"{100 * value:+.1f} pp"
    return ("-" if value < 0 else "+") + format_value(abs(value), unit)


# -- across replications -------------------------------------------------------------------

def check_metrics(names: Sequence[object], file: str | None = None) -> list[str]:
    """Metric names checked against :data:`METRICS`: an unknown one is a
    :class:`~flywheel.scenario.files.ScenarioError` suggesting the nearest name, the same words
    from the command line (``--metric``), a comparison file (``file``) and Python."""
    from flywheel.scenario.files import ScenarioError, toml_value

    checked = []
    for name in names:
        if not isinstance(name, str):
            raise ScenarioError(f"expected a metric name, got {toml_value(name)}",
                                file=file, key="metrics")
        if name not in METRICS:
            close = difflib.get_close_matches(name, list(METRICS), n=1, cutoff=0.6)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            allowed = "" if close else "metrics are " + ", ".join(METRICS)
            raise ScenarioError("unknown metric" + hint, file=file, key="metrics", value=name,
                                allowed=allowed)
        checked.append(name)
    if not checked:
        raise ScenarioError("no metrics", file=file, key="metrics",
                            allowed="name at least one, or leave the key out for the headline")
    return checked


def check_claims(claims: Sequence[Claim], file: str | None = None) -> None:
    """A scenario's claims checked against :data:`METRICS`: each names a known metric (an
    unknown one is a :class:`~flywheel.scenario.files.ScenarioError` suggesting the
    nearest), and a range written as durations is for a metric in days."""
    for i, claim in enumerate(claims, 1):
        for key, name in ((f"claims[{i}].metric", claim.metric),
                          *((f"claims[{i}].also", a) for a in claim.also)):
            try:
                check_metrics([name], file)
            except ScenarioError as exc:
                raise ScenarioError(exc.problem, file=file, key=key, value=name,
                                    allowed=exc.allowed) from None
        if claim.in_days and METRICS[claim.metric].unit != "days":
            raise ScenarioError(f"a range in durations, but {claim.metric} is in "
                                f"{METRICS[claim.metric].unit}", file=file,
                                key=f"claims[{i}].range",
                                allowed="write the range as numbers in that unit")


class Measured(NamedTuple):
    """A claim measured: the metric's mean and 95% CI across replications, and the
    verdict: ``"inside"`` (the CI, or the value of a single run, lies in the claimed
    range), ``"mean inside"`` (the mean does, the CI crosses an end), ``"outside"``, or
    ``"no value"``."""

    claim: Claim
    value: MeanCI
    verdict: str


def judge_claims(claims: Sequence[Claim], values: Callable[[str], Sequence[float]],
                 file: str | None = None) -> list[Measured]:
    """Each claim of a scenario measured from the replications' values of its metric
    (``values(metric)``), after :func:`check_claims`."""
    check_claims(claims, file)
    out = []
    for claim in claims:
        mean, lo, hi = value = mean_ci(values(claim.metric))
        low, high = claim.low, claim.high
        if math.isnan(mean):
            verdict = "no value"
        elif not low <= mean <= high:
            verdict = "outside"
        elif math.isnan(lo) or (low <= lo and hi <= high):
            verdict = "inside"
        else:
            verdict = "mean inside"
        out.append(Measured(claim, value, verdict))
    return out


def _claim_in_durations(claim: Claim) -> bool:
    """Whether a claim's values read as durations (``10min``): a range in durations
    under a day."""
    return claim.in_days and claim.high < 1


def format_claim_value(x: float, claim: Claim) -> str:
    """A value of a claim's metric as its range reads: a duration (``10.2min``) for a
    range written as durations under a day; shares in % and money in $
    (:func:`format_value`); else 3 significant digits in :func:`claim_unit`."""
    unit = METRICS[claim.metric].unit
    if math.isnan(x):
        return "-"
    if _claim_in_durations(claim):
        return format_duration(max(x, 0.0), approx=True)
    if unit.startswith(("share", "$")):
        return format_value(x, unit)
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def claim_unit(claim: Claim) -> str:
    """The unit to write after a claim's numbers (``""`` where they show it)."""
    unit = METRICS[claim.metric].unit
    if _claim_in_durations(claim) or unit.startswith(("share", "$")) or unit == "ratio":
        return ""
    return unit


class MeanCI(NamedTuple):
    """A mean and its confidence interval (95% unless asked otherwise); NaN where
    undefined (no values, or one).  Unpacks as ``mean, lo, hi``."""

    mean: float
    lo: float
    hi: float


def mean_ci(values: Sequence[float], level: float = 0.95) -> MeanCI:
    """Mean and Student-t confidence interval of replication values (NaNs left out)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if not len(x):
        return MeanCI(math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if len(x) < 2:
        return MeanCI(mean, math.nan, math.nan)
    # the t quantile by scipy.special (what scipy.stats.t.ppf computes), imported here:
    # `flywheel --help` and a run's parent process never load scipy.stats
    from scipy import special

    half = float(special.stdtrit(len(x) - 1, 0.5 + level / 2) * x.std(ddof=1) / math.sqrt(len(x)))
    return MeanCI(mean, mean - half, mean + half)


def summarise(per_rep: Sequence[dict[str, float]],
              names: Sequence[str] | None = None) -> dict[str, dict[str, object]]:
    """``{name: {label, unit, kind, mean, ci95, values}}`` across replications."""
    out: dict[str, dict[str, object]] = {}
    for name in names or METRICS:
        meta = METRICS[name]
        vals = [float(r[name]) for r in per_rep]
        mean, lo, hi = mean_ci(vals)
        out[name] = {"label": meta.label, "unit": meta.unit, "kind": meta.kind,
                     "mean": mean, "ci95": [lo, hi], "values": vals}
    return out

