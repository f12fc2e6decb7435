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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from flywheel.engines.model import (
    ABANDONED,
    CHANNELS,
    COLD,
    INVITE,
    L_COLD,
    L_LOST,
    L_WON,
    PQL,
    REFERRAL,
    USER_STATES,
    Outcome,
)
from flywheel.engines.tally import day_grid
from flywheel.scenario.defaults import DAYS_PER_MONTH, DAYS_PER_YEAR


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
        hi = 1.0 if self.unit.startswith("share") else math.inf
        return lo, hi

    def clamp(self, lo: float, hi: float) -> tuple[float, float]:
        """A confidence interval cut to :attr:`bounds`: a t-interval of few replications
        can reach past them (a share's upper end above 100%), the metric cannot."""
        low, high = self.bounds
        return (lo if math.isnan(lo) else max(lo, low)), (hi if math.isnan(hi) else min(hi, high))


#: Metrics that can be negative (costs above revenue).
_SIGNED = frozenset({"gross_margin", "ltv", "ltv_cac", "cac_payback_months"})


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
    _m("activated", "Activated users", "users", "flow",
       "Signups who reached value before the horizon."),
    _m("activation_rate", "Signup-to-activation rate", "share", "ratio",
       "Reached value / signups whose onboarding ended (value reached or gave up) by the "
       "horizon; signups still onboarding at the horizon are left out, not counted as lost."),
    _m("ttv_median_days", "Time to value, median", "days", "time",
       "Median time from signup to value among activated users."),
    _m("ttv_p90_days", "Time to value, p90", "days", "time",
       "90th percentile of time from signup to value among activated users."),
    _m("viral_coefficient", "Viral coefficient K", "signups per activated user", "ratio",
       "(Invited signups + word-of-mouth signups) / activated users."),
    _m("viral_cycle_days", "Viral cycle time", "days", "time",
       "Mean time from an inviter taking a seat to the invitee signing up."),
    _m("invites_sent", "Invites sent", "invites", "flow", "Invites sent by activated users."),
    _m("teams", "Teams created", "teams", "flow",
       "Companies whose first contact was a signup (not a sales prospect)."),
    _m("paywall_teams", "Teams at the paywall", "teams", "flow",
       "Teams that met the free tier's limit at least once."),
    _m("teams_ever_paid", "Teams that paid", "teams", "flow",
       "Teams created that started paying before the horizon (self-serve or by a contract)."),
    _m("free_to_paid_rate", "Free-to-paid conversion", "share", "ratio",
       "Teams that ever paid / teams created."),
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
    _m("arr_self_serve", "ARR, self-serve", "$ per year", "stock",
       "12 x self-serve MRR at the horizon (paid seats x list price)."),
    _m("arr_sales", "ARR, sales contracts", "$ per year", "stock",
       "Annual value of the contracts running at the horizon."),
    _m("revenue", "Revenue", "$", "flow", "Revenue earned over the run (MRR integrated over time)."),
    _m("user_churn_monthly", "User churn", "share per month", "ratio",
       "Monthly churn of active users: 1 - exp(-ended spells / active user-months); a spell "
       "ends when the user churns or the team loses access."),
    _m("logo_churn_monthly", "Logo churn", "share per month", "ratio",
       "Monthly churn of paying customers: 1 - exp(-cancellations / paying customer-months); "
       "self-serve cancellations and contracts not renewed count, a self-serve plan replaced "
       "by a contract does not."),
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
            "paying_teams", "free_to_paid_rate", "active_users_end", "mrr_end", "arr_end",
            "user_churn_monthly")

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
    Series("upgrades", "Teams starting to pay", "teams per day", "flow"),
    Series("pqls", "PQLs", "leads per day", "flow"),
    Series("cold_leads", "Cold leads", "leads per day", "flow"),
    Series("won", "Contracts won", "contracts per day", "flow"),
    Series("gone_cold", "Leads gone cold", "leads per day", "flow"),
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


# -- computations -------------------------------------------------------------------------

def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else math.nan


def _team_overlap(o: Outcome, start: str, end: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's active spell overlapped with their team's spell ``[start, end)`` (team
    columns, NaN start = never): which users have a non-empty overlap, and its bounds."""
    u, t = o.users, o.teams
    if not len(u["company"]):
        return np.zeros(0, dtype=bool), np.empty(0), np.empty(0)
    ts = t[start][u["company"]]
    s = np.fmax(u["start"], ts)  # NaN where the team never had the spell or the user no seat
    e = np.minimum(u["end"], t[end][u["company"]])
    ok = ~np.isnan(u["start"]) & ~np.isnan(ts) & (s < e)
    return ok, s[ok], e[ok]


def _paid_spells(o: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """Each user's self-serve paid spell: their active spell while their team pays."""
    _, s, e = _team_overlap(o, "paid_start", "paid_end")
    return s, e


def _contract_spells(o: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """Each user's spell under contract: their active spell while their team's contract runs."""
    _, s, e = _team_overlap(o, "contract_start", "contract_end")
    return s, e


def _level(starts: np.ndarray, ends: np.ndarray, at: np.ndarray) -> np.ndarray:
    """How many spells [start, end) cover each instant in ``at``."""
    s = np.sort(starts)
    e = np.sort(ends)
    return (np.searchsorted(s, at, side="right") - np.searchsorted(e, at, side="right")).astype(float)


def _exposure(starts: np.ndarray, ends: np.ndarray, horizon: float) -> float:
    """Total time spent in spells within [0, horizon] (days)."""
    return float(np.sum(np.clip(np.minimum(ends, horizon) - starts, 0, None)))


def _seated(o: Outcome) -> tuple[np.ndarray, np.ndarray]:
    u = o.users
    ok = ~np.isnan(u["start"])
    return u["start"][ok], u["end"][ok]


def replication_metrics(o: Outcome) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one replication."""
    u, t, H = o.users, o.teams, o.horizon
    n = len(u["signup"])
    value = u["value"]
    activated = ~np.isnan(value)
    gave_up = u["state"] == ABANDONED
    ttv = value[activated] - u["signup"][activated]
    chan = np.bincount(u["channel"], minlength=len(CHANNELS)) if n else np.zeros(len(CHANNELS))
    m: dict[str, float] = {"signups": float(n)}
    for i, c in enumerate(CHANNELS):
        m[f"signups_{c}"] = float(chan[i])
    n_act = int(activated.sum())
    m["activated"] = float(n_act)
    m["activation_rate"] = _div(n_act, n_act + int(gave_up.sum()))
    m["ttv_median_days"] = float(np.median(ttv)) if len(ttv) else math.nan
    m["ttv_p90_days"] = float(np.quantile(ttv, 0.9)) if len(ttv) else math.nan
    m["viral_coefficient"] = _div(chan[INVITE] + chan[REFERRAL], n_act)
    invited = u["inviter"] >= 0
    if invited.any():
        m["viral_cycle_days"] = float(np.mean(u["signup"][invited]
                                              - u["start"][u["inviter"][invited]]))
    else:
        m["viral_cycle_days"] = math.nan
    m["invites_sent"] = float(o.counters.get("invites_sent", 0))

    selfserve = ~t["prospect"]
    paid = ~np.isnan(t["paid_start"])
    contract = ~np.isnan(t["contract_start"])
    customer = paid | contract
    n_teams = int(selfserve.sum())
    m["teams"] = float(n_teams)
    m["paywall_teams"] = float(np.sum(~np.isnan(t["paywall"])))
    m["teams_ever_paid"] = float(np.sum(customer & selfserve))
    m["free_to_paid_rate"] = _div(m["teams_ever_paid"], n_teams)
    m["new_customers"] = float(customer.sum())
    trials = ~np.isnan(t["trial_end"])
    m["trial_teams"] = float(trials.sum())
    m["trial_conversion"] = _div(np.sum(t["trial_converted"] & trials), trials.sum())
    cs, ce = t["contract_start"][contract], t["contract_end"][contract]
    acv = t["contract_acv"][contract]
    paying_ss = paid & (t["paid_start"] <= H) & (t["paid_end"] > H)
    running = ce > H
    m["paying_teams"] = float(paying_ss.sum() + running.sum())

    ss, se = _seated(o)
    m["active_users_end"] = float(np.sum(se > H))
    cs_u, ce_u = _contract_spells(o)
    m["active_users_mean"] = _exposure(ss, se, H) / H
    ps, pe = _paid_spells(o)
    seats_end = float(np.sum(pe > H))
    m["free_users_end"] = m["active_users_end"] - seats_end - float(np.sum(ce_u > H))
    m["paid_seats_end"] = seats_end
    m["arr_self_serve"] = 12.0 * seats_end * o.price_per_seat
    m["arr_sales"] = float(acv[running].sum())
    m["mrr_end"] = (m["arr_self_serve"] + m["arr_sales"]) / 12.0
    m["arr_end"] = 12.0 * m["mrr_end"]
    paid_seat_days = _exposure(ps, pe, H)
    contract_years = np.clip(np.minimum(ce, H) - cs, 0, None) / DAYS_PER_YEAR
    m["revenue"] = (paid_seat_days / DAYS_PER_MONTH * o.price_per_seat
                    + float(np.dot(contract_years, acv)))
    ended = float(np.sum(se <= H))
    m["user_churn_monthly"] = 1.0 - math.exp(-_div(ended, _exposure(ss, se, H) / DAYS_PER_MONTH)) \
        if len(ss) else math.nan
    customer_days = (_exposure(t["paid_start"][paid], t["paid_end"][paid], H)
                     + _exposure(cs, ce, H))
    cancels = float(np.sum((t["paid_end"][paid] <= H) & ~t["upsold"][paid]) + np.sum(ce <= H))
    m["logo_churn_monthly"] = 1.0 - math.exp(-_div(cancels, customer_days / DAYS_PER_MONTH)) \
        if customer_days > 0 else math.nan

    m.update(sales_metrics(o))
    spend = float(o.counters.get("paid_spend", 0.0))
    sales_cost = float(o.counters.get("sales_cost", 0.0))
    m["acquisition_spend"] = spend
    m["sales_cost"] = sales_cost
    free_days = _exposure(ss, se, H) - paid_seat_days - _exposure(cs_u, ce_u, H)
    m["serving_cost"] = free_days / DAYS_PER_MONTH * o.serving_cost_per_month
    m["gross_margin"] = _div(m["revenue"] - m["serving_cost"], m["revenue"])
    m["cac_blended"] = _div(spend + sales_cost, m["new_customers"])
    m["cac_self_serve"] = _div(spend, paid.sum())
    m["cac_sales"] = _div(sales_cost, m["contracts_won"])
    m["cost_per_signup"] = _div(spend, n)
    margin_mrr = _div(m["mrr_end"], m["paying_teams"]) * m["gross_margin"]
    m["ltv"] = _div(margin_mrr, m["logo_churn_monthly"]) if m["logo_churn_monthly"] else math.nan
    m["ltv_cac"] = _div(m["ltv"], m["cac_blended"])
    m["cac_payback_months"] = _div(m["cac_blended"], margin_mrr) if margin_mrr > 0 else math.nan
    missing = set(METRICS) - set(m)
    assert not missing, f"metrics without a computation: {sorted(missing)}"
    return m


def sales_metrics(o: Outcome) -> dict[str, float]:
    """The sales team's metrics: leads, conversion, the queue, utilisation, bookings."""
    lead, t, H = o.leads, o.teams, o.horizon
    kind, outcome = lead["kind"], lead["outcome"]
    settled = np.isin(outcome, (L_WON, L_LOST, L_COLD))
    won = outcome == L_WON
    m: dict[str, float] = {}
    m["pqls"] = float(np.sum(kind == PQL))
    m["cold_leads"] = float(np.sum(kind == COLD))
    m["pql_won_rate"] = _div(np.sum(won & (kind == PQL)), np.sum(settled & (kind == PQL)))
    m["cold_won_rate"] = _div(np.sum(won & (kind == COLD)), np.sum(settled & (kind == COLD)))
    m["pql_lift"] = _div(m["pql_won_rate"], m["cold_won_rate"])
    gone = outcome == L_COLD
    taken = ~np.isnan(lead["start"])
    m["leads_gone_cold"] = float(gone.sum())
    m["gone_cold_share"] = _div(gone.sum(), gone.sum() + taken.sum())
    wait = lead["start"][taken] - lead["arrive"][taken]
    m["queue_wait_mean_days"] = float(wait.mean()) if len(wait) else math.nan
    m["queue_wait_p90_days"] = float(np.quantile(wait, 0.9)) if len(wait) else math.nan
    busy = _exposure(lead["start"][taken], lead["end"][taken], H)
    m["rep_utilisation"] = _div(busy, o.sales_servers * H)
    contract = ~np.isnan(t["contract_start"])
    m["contracts_won"] = float(contract.sum())
    m["bookings"] = float(t["contract_acv"][contract].sum())
    m["pipeline_end"] = float(lead["acv"][~settled].sum())
    return m


def replication_series(o: Outcome) -> dict[str, np.ndarray]:
    """Daily series of :data:`SERIES` for one replication (index = day number - 1)."""
    u, t, H = o.users, o.teams, o.horizon
    grid = day_grid(H)
    days = len(grid)

    def per_day(times: np.ndarray) -> np.ndarray:
        times = times[~np.isnan(times) & (times < H)]
        return np.bincount(times.astype(np.int64), minlength=days)[:days].astype(float)

    ss, se = _seated(o)
    ps, pe = _paid_spells(o)
    paid = ~np.isnan(t["paid_start"])
    s: dict[str, np.ndarray] = {
        "active_users": _level(ss, se, grid),
        "paying_teams": _level(t["paid_start"][paid], t["paid_end"][paid], grid),
        "paid_seats": _level(ps, pe, grid),
        "teams": _level(t["created"][~t["prospect"]], np.full(int(np.sum(~t["prospect"])), np.inf),
                        grid),
        "signups": per_day(u["signup"]),
        "activations": per_day(u["value"]),
        "churned": per_day(se[se <= H]),
        "upgrades": per_day(t["paid_start"]),
    }
    contract = ~np.isnan(t["contract_start"])
    cs, ce = t["contract_start"][contract], t["contract_end"][contract]
    acv = t["contract_acv"][contract]
    order = np.argsort(cs)
    arr_on = np.concatenate([[0.0], np.cumsum(acv[order])])[np.searchsorted(cs[order], grid, "right")]
    order = np.argsort(ce)
    arr_off = np.concatenate([[0.0], np.cumsum(acv[order])])[np.searchsorted(ce[order], grid, "right")]
    s["arr_sales"] = arr_on - arr_off
    s["arr_self_serve"] = 12.0 * s["paid_seats"] * o.price_per_seat
    s["mrr"] = s["paid_seats"] * o.price_per_seat + s["arr_sales"] / 12.0
    s["paying_teams"] = s["paying_teams"] + _level(cs, ce, grid)
    lead = o.leads
    taken = ~np.isnan(lead["start"])
    s["sales_queue"] = _level(lead["arrive"], lead["left"], grid)
    s["reps_busy"] = _level(lead["start"][taken], lead["end"][taken], grid)
    s["pqls"] = per_day(lead["arrive"][lead["kind"] == PQL])
    s["cold_leads"] = per_day(lead["arrive"][lead["kind"] == COLD])
    s["won"] = per_day(cs)
    s["gone_cold"] = per_day(lead["end"][lead["outcome"] == L_COLD])
    for i, c in enumerate(CHANNELS):
        s[f"signups_{c}"] = per_day(u["signup"][u["channel"] == i])
    return {k: s[k] for k in SERIES}


def replication_funnel(o: Outcome) -> dict[str, float]:
    """Counts at each stage of :data:`FUNNEL` for one replication (self-serve teams only:
    a sales prospect enters no funnel of signups)."""
    u, t = o.users, o.teams
    activated = ~np.isnan(u["value"])
    comp = u["company"]
    selfserve = ~t["prospect"]
    team_act = np.zeros(len(selfserve), dtype=bool)
    team_act[comp[activated]] = True
    at_decision = ~np.isnan(t["paywall"]) | ~np.isnan(t["trial_end"])
    paid_users = (_team_overlap(o, "paid_start", "paid_end")[0]
                  | _team_overlap(o, "contract_start", "contract_end")[0])
    customer = ~np.isnan(t["paid_start"]) | ~np.isnan(t["contract_start"])
    return {
        "signups": float(len(comp)),
        "activated": float(activated.sum()),
        "seated": float(np.sum(~np.isnan(u["start"]))),
        "in_paying_team": float(paid_users.sum()),
        "teams": float(selfserve.sum()),
        "teams_activated": float(np.sum(team_act & selfserve)),
        "teams_at_decision": float(np.sum(at_decision & selfserve)),
        "teams_paid": float(np.sum(customer & selfserve)),
    }


def replication_cohorts(o: Outcome, max_weeks: int = 52) -> list[tuple[int, int, int, int]]:
    """Weekly signup cohorts: (cohort week, weeks since signup, signups, still active).

    A user counts as active ``k`` weeks after their own signup (k = 1, 2, ...) if their
    seat covers that instant.  Only cells observed in full by the horizon are returned.
    """
    u, H = o.users, o.horizon
    signup = u["signup"]
    if not len(signup):
        return []
    cohort = (signup // 7).astype(np.int64)
    n_cohorts = int(cohort.max()) + 1
    sizes = np.bincount(cohort, minlength=n_cohorts)
    start = np.nan_to_num(u["start"], nan=np.inf)
    end = u["end"]
    rows = []
    for k in range(1, max_weeks + 1):
        observed = np.arange(n_cohorts) * 7 + 7 + 7 * k <= H
        if not observed.any():
            break
        at = signup + 7.0 * k
        active = (start <= at) & (at < end)
        counts = np.bincount(cohort[active], minlength=n_cohorts)
        for c in np.flatnonzero(observed & (sizes > 0)).tolist():
            rows.append((c, k, int(sizes[c]), int(counts[c])))
    return rows


def user_states(o: Outcome) -> dict[str, int]:
    """How many signups end in each state of :data:`~flywheel.engines.model.USER_STATES`."""
    counts = np.bincount(o.users["state"], minlength=len(USER_STATES))
    return {s: int(counts[i]) for i, s in enumerate(USER_STATES)}


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

