"""The simulation's records counted: one replication's :class:`~flywheel.engines.model.Outcome`
(a row per signup, team, paid spell and lead) reduced to a :class:`~flywheel.engines.tally.Tally`.

Spells are half-open intervals ``[start, end)`` in days; a level at an instant counts the
spells covering it, an exposure sums their lengths within ``[0, horizon]``.  Everything is
vectorised over the columns, after the run.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flywheel.engines.codes import LeadKind, LeadOutcome, PaidStart, UserState
from flywheel.engines.model import Outcome
from flywheel.engines.tally import (
    CHANNEL_NAMES,
    COHORT_DAYS,
    STATE_NAMES,
    Tally,
    day_grid,
    retention_window,
)
from flywheel.scenario.defaults import DAYS_PER_MONTH, DAYS_PER_YEAR

#: Weeks after signup the cohort table follows.
COHORT_WEEKS = 52


class Seats(NamedTuple):
    """Users' seats overlapped with the spells of their team (paid self-serve, each of its
    paid spells; or under contract): which users had such a seat, and each overlap's
    start, end and company."""

    users: np.ndarray
    start: np.ndarray
    end: np.ndarray
    company: np.ndarray


def _team_overlap(o: Outcome, start: str, end: str) -> Seats:
    """Each user's active spell overlapped with their team's spell ``[start, end)`` (team
    columns, NaN start = never), where the overlap is not empty."""
    u, t = o.users, o.teams
    if not len(u["company"]):
        return Seats(np.zeros(0, dtype=bool), np.empty(0), np.empty(0), np.zeros(0, np.int64))
    ts = t[start][u["company"]]
    s = np.fmax(u["start"], ts)  # NaN where the team never had the spell or the user no seat
    e = np.minimum(u["end"], t[end][u["company"]])
    ok = ~np.isnan(u["start"]) & ~np.isnan(ts) & (s < e)
    return Seats(ok, s[ok], e[ok], u["company"][ok])


def _paid_overlap(o: Outcome) -> Seats:
    """Each user's active spell overlapped with every self-serve paid spell of their team
    (``Outcome.paid``: a team may have several), where the overlap is not empty."""
    u, p = o.users, o.paid
    n = len(u["company"])
    seated = np.flatnonzero(~np.isnan(u["start"]))
    if not len(p["company"]) or not len(seated):
        return Seats(np.zeros(n, dtype=bool), np.empty(0), np.empty(0), np.zeros(0, np.int64))
    # users with a seat, by company; each spell paired with its company's users
    by_company = seated[np.argsort(u["company"][seated], kind="stable")]
    sorted_company = u["company"][by_company]
    lo = np.searchsorted(sorted_company, p["company"], side="left")
    count = np.searchsorted(sorted_company, p["company"], side="right") - lo
    spell = np.repeat(np.arange(len(count)), count)
    offset = np.arange(len(spell)) - np.repeat(np.cumsum(count) - count, count)
    user = by_company[np.repeat(lo, count) + offset]
    s = np.maximum(u["start"][user], p["start"][spell])
    e = np.minimum(u["end"][user], p["end"][spell])
    ok = s < e
    users = np.zeros(n, dtype=bool)
    users[user[ok]] = True
    return Seats(users, s[ok], e[ok], u["company"][user[ok]].astype(np.int64))


class Billing(NamedTuple):
    """Each self-serve paying company's MRR as a step function: spells ``[start, end)`` of
    constant MRR (``mrr``, $ per month, :meth:`~flywheel.scenario.settings.Settings.bill` of
    its billed seats and usage intensity), one per company and instant its bill changes."""

    company: np.ndarray
    start: np.ndarray
    end: np.ndarray
    mrr: np.ndarray


def _billing(o: Outcome, seats: Seats) -> Billing:
    """What the self-serve paying teams pay, over time (see :class:`Billing`).

    A team's billed seats are its active users in a paid spell (``seats``); on an annual
    plan, the most it had since its last renewal (each anniversary of the spell's start:
    a seat that leaves is paid for until then, and the count is trued down there).  Its
    bill is the scenario's :meth:`~flywheel.scenario.settings.Settings.bill` of them, of its
    usage intensity and of its tier (with a second paid tier: from the instant its spell
    moved up, each seat at the second tier's price)."""
    H = o.horizon
    st = o.settings
    keep = seats.start <= H
    comp = [seats.company[keep]]
    when = [seats.start[keep]]
    delta = [np.ones(int(keep.sum()))]
    ends = seats.end <= H
    comp.append(seats.company[ends])
    when.append(seats.end[ends])
    delta.append(-np.ones(int(ends.sum())))
    boundary = [np.zeros(len(when[0]) + len(when[1]), dtype=bool)]
    annual = st is not None and st.pricing.annual
    if annual:  # each spell's start, renewals before the horizon, and end: a new paid year
        p = o.paid
        years = np.floor(np.clip(np.minimum(p["end"], H) - p["start"], 0, None)
                         / DAYS_PER_YEAR).astype(np.int64)
        k = np.arange(int(years.sum())) - np.repeat(np.cumsum(years) - years, years)
        spell = np.repeat(np.arange(len(years)), years)
        b_when = np.concatenate([p["start"], p["start"][spell] + (k + 1) * DAYS_PER_YEAR,
                                 p["end"]])
        b_comp = np.concatenate([p["company"], p["company"][spell], p["company"]])
        ok = b_when <= H
        comp.append(b_comp[ok].astype(np.int64))
        when.append(b_when[ok])
        delta.append(np.zeros(int(ok.sum())))
        boundary.append(np.ones(int(ok.sum()), dtype=bool))
    tiered = st is not None and st.pricing.tiers
    if tiered:  # a spell's move up to the second tier (+1) and its end (-1): its tier level
        p = o.paid
        up = p["tier2"] <= H
        off = up & (p["end"] <= H)
        tier = [np.zeros(len(d_), dtype=float) for d_ in delta]
        for mask, col, sign in ((up, "tier2", 1.0), (off, "end", -1.0)):
            comp.append(p["company"][mask].astype(np.int64))
            when.append(p[col][mask])
            delta.append(np.zeros(int(mask.sum())))
            boundary.append(np.zeros(int(mask.sum()), dtype=bool))
            tier.append(np.full(int(mask.sum()), sign))
    company = np.concatenate(comp).astype(np.int64)
    t = np.concatenate(when)
    d = np.concatenate(delta)
    bound = np.concatenate(boundary)
    if not len(t):
        return Billing(np.zeros(0, np.int64), np.empty(0), np.empty(0), np.empty(0))
    order = np.lexsort((t, company))
    company, t, d, bound = company[order], t[order], d[order], bound[order]
    # one change per company and instant
    first = np.ones(len(t), dtype=bool)
    first[1:] = (company[1:] != company[:-1]) | (t[1:] != t[:-1])
    starts = np.flatnonzero(first)
    company, t = company[starts], t[starts]
    d = np.add.reduceat(d, starts)
    bound = np.logical_or.reduceat(bound, starts)
    new_company = np.ones(len(t), dtype=bool)
    new_company[1:] = company[1:] != company[:-1]
    # active seats after each change: a running sum that restarts per company
    running = np.cumsum(d)
    offset = np.maximum.accumulate(np.where(new_company, np.arange(len(t)), 0))
    count = running - np.where(offset > 0, running[offset - 1], 0.0)
    on_tier2: np.ndarray | bool = False
    if tiered:  # the tier after each change, likewise
        level = np.cumsum(np.add.reduceat(np.concatenate(tier)[order], starts))
        on_tier2 = (level - np.where(offset > 0, level[offset - 1], 0.0)) > 0.5
    if annual:  # the most seats since the paid year began (a renewal, a spell's start or end)
        term = np.cumsum(bound | new_company).astype(float)
        big = float(count.max()) + 1.0
        count = np.maximum.accumulate(count + term * big) - term * big
    end = np.full(len(t), np.inf)
    same = ~new_company[1:]
    end[:-1][same] = t[1:][same]
    if st is None:
        mrr = count * o.price_per_seat
    else:
        mrr = st.bill(count, o.teams["intensity"][company], on_tier2)
    on = end > t
    return Billing(company[on], t[on], end[on], np.asarray(mrr, dtype=float)[on])


def _weighted_level(starts: np.ndarray, ends: np.ndarray, weights: np.ndarray,
                    at: np.ndarray) -> np.ndarray:
    """The sum of ``weights`` of the spells [start, end) covering each instant in ``at``."""
    o = np.argsort(starts, kind="stable")
    on = np.concatenate([[0.0], np.cumsum(weights[o])])[np.searchsorted(starts[o], at, "right")]
    o = np.argsort(ends, kind="stable")
    off = np.concatenate([[0.0], np.cumsum(weights[o])])[np.searchsorted(ends[o], at, "right")]
    return on - off


def _level(starts: np.ndarray, ends: np.ndarray, at: np.ndarray) -> np.ndarray:
    """How many spells [start, end) cover each instant in ``at``."""
    s = np.sort(starts)
    e = np.sort(ends)
    return (np.searchsorted(s, at, side="right") - np.searchsorted(e, at, side="right")).astype(float)


def _exposure(starts: np.ndarray, ends: np.ndarray, horizon: float) -> float:
    """Total time spent in spells within [0, horizon] (days)."""
    return float(np.sum(np.clip(np.minimum(ends, horizon) - starts, 0, None)))


def _quantile(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if len(x) else np.nan


def tally(o: Outcome) -> Tally:
    """Count one replication's records into the names of :data:`~flywheel.engines.tally.TOTALS`,
    :data:`~flywheel.engines.tally.LEVELS` and :data:`~flywheel.engines.tally.FLOWS`."""
    grid = day_grid(o.horizon)
    sizes, active = _cohorts(o)
    states = np.bincount(o.users["state"], minlength=len(STATE_NAMES))
    paid = _paid_overlap(o)  # (each read by several parts)
    bills = _billing(o, paid)
    contract = _team_overlap(o, "contract_start", "contract_end")
    return Tally(
        horizon=o.horizon, price_per_seat=o.price_per_seat,
        serving_cost_per_month=o.serving_cost_per_month, sales_servers=o.sales_servers,
        totals={**_user_totals(o, paid, contract), **_team_totals(o, bills),
                **_lead_totals(o)},
        levels=_levels(o, grid, paid, bills), flows=_flows(o, grid, bills),
        cohort_sizes=sizes, cohort_active=active,
        states={s: int(states[i]) for i, s in enumerate(STATE_NAMES)},
    )


def _founder_invited(o: Outcome) -> float:
    """Signups who came by an invite from their team's founder: the first user of each
    self-serve team (users are numbered in the order they sign up)."""
    u, t = o.users, o.teams
    if not len(u["company"]):
        return 0.0
    companies, first = np.unique(u["company"], return_index=True)
    founders = first[~t["prospect"][companies]]
    inviter = u["inviter"][u["inviter"] >= 0]
    return float(np.isin(inviter, founders).sum())


def _user_totals(o: Outcome, paid: Seats, contract: Seats) -> dict[str, float]:
    u, t, H = o.users, o.teams, o.horizon
    n = len(u["signup"])
    value = u["value"]
    activated = ~np.isnan(value)
    ttv = value[activated] - u["signup"][activated]
    chan = np.bincount(u["channel"], minlength=len(CHANNEL_NAMES)) if n else np.zeros(len(CHANNEL_NAMES))
    invited = u["inviter"] >= 0
    seated = ~np.isnan(u["start"])
    se = u["end"][seated]
    ss = u["start"][seated]
    ps, pe, cs_u, ce_u = paid.start, paid.end, contract.start, contract.end
    return {
        **{f"signups_{c}": float(chan[i]) for i, c in enumerate(CHANNEL_NAMES)},
        "activated": float(activated.sum()),
        "abandoned": float(np.sum(u["state"] == UserState.ABANDONED)),
        "onboarding_lost": float(np.sum((u["state"] == UserState.LOST_ACCESS) & ~activated)),
        "ttv_median": float(np.median(ttv)) if len(ttv) else np.nan,
        "ttv_p90": _quantile(ttv, 0.9),
        "invited_signups": float(invited.sum()),
        "invite_cycle_sum": float(np.sum(u["signup"][invited] - u["start"][u["inviter"][invited]])),
        "founder_invited": _founder_invited(o),
        "invites_sent": float(o.counters.get("invites_sent", 0)),
        "invites_accepted": float(o.counters.get("invites_accepted", 0)),
        "turned_away": float(o.counters.get("turned_away", 0)),
        "seated": float(seated.sum()),
        "in_paying_team": float((paid.users | contract.users).sum()),
        "active_users_end": float(np.sum(se > H)),
        "paid_seats_end": float(np.sum(pe > H)),
        "contract_users_end": float(np.sum(ce_u > H)),
        "user_days": _exposure(ss, se, H),
        "paid_seat_days": _exposure(ps, pe, H),
        "contract_user_days": _exposure(cs_u, ce_u, H),
        "seats_ended": float(np.sum(se <= H)),
        "acquisition_spend": float(o.counters.get("paid_spend", 0.0)),
        "sales_cost": float(o.counters.get("sales_cost", 0.0)),
        "teams_activated": float(_teams_activated(o, activated, t)),
    }


def _teams_activated(o: Outcome, activated: np.ndarray, t: dict[str, np.ndarray]) -> int:
    selfserve = ~t["prospect"]
    team_act = np.zeros(len(selfserve), dtype=bool)
    team_act[o.users["company"][activated]] = True
    return int(np.sum(team_act & selfserve))


def _team_totals(o: Outcome, bills: Billing) -> dict[str, float]:
    t, p, H = o.teams, o.paid, o.horizon
    selfserve = ~t["prospect"]
    paid = ~np.isnan(t["paid_start"])  # (teams that ever paid self-serve: their first spell)
    contract = ~np.isnan(t["contract_start"])
    customer = paid | contract
    trials = ~np.isnan(t["trial_end"])
    cs, ce = t["contract_start"][contract], t["contract_end"][contract]
    acv = t["contract_acv"][contract]
    running = ce > H
    contract_years = np.clip(np.minimum(ce, H) - cs, 0, None) / DAYS_PER_YEAR
    at_decision = ~np.isnan(t["paywall"]) | ~np.isnan(t["trial_end"])
    cancelled = float(np.sum((p["end"] <= H) & ~p["upsold"]))  # (not replaced by a contract)
    return {
        "teams": float(selfserve.sum()),
        "teams_at_decision": float(np.sum(at_decision & selfserve)),
        "paywall_teams": float(np.sum(~np.isnan(t["paywall"]))),
        "upgraded_teams": float(paid.sum()),
        "teams_ever_paid": float(np.sum(customer & selfserve)),
        "new_customers": float(customer.sum()),
        "trial_teams": float(trials.sum()),
        "trial_converted": float(np.sum(t["trial_converted"] & trials)),
        "paying_self_serve_end": float(np.sum((p["start"] <= H) & (p["end"] > H))),
        "contracts_running_end": float(running.sum()),
        "arr_sales_end": float(acv[running].sum()),
        "contract_revenue": float(np.dot(contract_years, acv)),
        "customer_days": _exposure(p["start"], p["end"], H) + _exposure(cs, ce, H),
        "cancels": cancelled + float(np.sum(ce <= H)),
        "self_serve_cancels": cancelled,
        "winbacks": float(np.sum(p["how"] == PaidStart.WON_BACK)),
        "contracts_won": float(contract.sum()),
        "bookings": float(acv.sum()),
        "mrr_self_serve_end": float(bills.mrr[(bills.start <= H) & (bills.end > H)].sum()),
        **_tier_totals(o, bills),
        "self_serve_revenue": float(np.dot(
            np.clip(np.minimum(bills.end, H) - bills.start, 0, None), bills.mrr)
            / DAYS_PER_MONTH),
        **_cohort_conversion(o),
        **_revenue_retention(o, bills),
    }


def _tier_totals(o: Outcome, bills: Billing) -> dict[str, float]:
    """The second paid tier: teams paying on it at the horizon and their MRR, decisions to
    move up and moves, and the MRR the moves added (the seats at the move x the difference
    of the tiers' seat bills; part of the bridge's expansion)."""
    p, H, st = o.paid, o.horizon, o.settings
    tier2 = (p["start"] <= H) & (p["end"] > H) & (p["tier2"] <= H)
    at_h = (bills.start <= H) & (bills.end > H) & np.isin(bills.company, p["company"][tier2])
    step = 0.0
    if st is not None and st.pricing.tiers:
        step = st.tier2_seat_bill - st.seat_bill(1.0)
    return {
        "tier2_paying_end": float(tier2.sum()),
        "mrr_tier2_end": float(bills.mrr[at_h].sum()),
        "tier_decisions": float(o.counters.get("tier_decisions", 0)),
        "tier_upgrades": float(np.sum(p["tier2"] <= H)),
        "tier_upgrade_mrr": float(o.counters.get("tier_upgrade_seats", 0)) * step,
    }


def _cohort_conversion(o: Outcome) -> dict[str, float]:
    """Conversion of self-serve teams by their age: of those created at least COHORT_DAYS
    before the horizon, how many paid within COHORT_DAYS; and the median time to pay."""
    t, H = o.teams, o.horizon
    selfserve = ~t["prospect"]
    created = t["created"][selfserve]
    to_paid = np.fmin(t["paid_start"], t["contract_start"])[selfserve] - created
    old_enough = created <= H - COHORT_DAYS
    paid = ~np.isnan(to_paid)
    return {
        "teams_90d": float(old_enough.sum()),
        "teams_paid_90d": float(np.sum(old_enough & paid & (to_paid <= COHORT_DAYS))),
        "time_to_paid_median": float(np.median(to_paid[paid])) if paid.any() else np.nan,
    }


def _company_mrr(o: Outcome, bills: Billing, at: float) -> np.ndarray:
    """Each company's MRR at instant ``at``: its self-serve bill then, plus its running
    contract's annual value / 12."""
    t = o.teams
    on = (bills.start <= at) & (at < bills.end)
    paid = np.bincount(bills.company[on], weights=bills.mrr[on], minlength=len(t["created"]))
    contract = (t["contract_start"] <= at) & (at < t["contract_end"])
    return paid + np.where(contract, t["contract_acv"] / 12.0, 0.0)


def _revenue_retention(o: Outcome, seats: Billing) -> dict[str, float]:
    """The retention window's MRR: the companies paying at its start, then and at the
    horizon (see :func:`~flywheel.engines.tally.retention_window`)."""
    months = retention_window(o.horizon)
    if months < 1:
        return dict.fromkeys(("mrr_then", "mrr_now_of_then", "mrr_kept_of_then"), np.nan)
    then = _company_mrr(o, seats, o.horizon - months * DAYS_PER_MONTH)
    now = _company_mrr(o, seats, o.horizon)
    paying = then > 0
    return {"mrr_then": float(then[paying].sum()), "mrr_now_of_then": float(now[paying].sum()),
            "mrr_kept_of_then": float(np.minimum(now, then)[paying].sum())}


#: MRR below this ($ per month) is rounding left by adding and removing seats and contracts.
_MRR_ZERO = 1e-6


def _mrr_bridge(o: Outcome, bills: Billing, days: int) -> dict[str, np.ndarray]:
    """Each day's MRR changes, by kind: every change of a self-serve bill (a seat taken or
    gone, a renewal) and every contract starting or ending is a change of its company's
    MRR; a company's changes at one instant are taken together, then classed by its MRR
    before and after (new, reactivation, expansion, contraction, churned), each as a
    positive amount in $ per month."""
    t, H = o.teams, o.horizon
    ps, pe, seat_company, bill = bills.start, bills.end, bills.company, bills.mrr
    contract = np.flatnonzero(~np.isnan(t["contract_start"]))
    monthly = t["contract_acv"][contract] / 12.0
    when = np.concatenate([ps, pe, t["contract_start"][contract], t["contract_end"][contract]])
    company = np.concatenate([seat_company, seat_company, contract, contract])
    change = np.concatenate([bill, -bill, monthly, -monthly])
    keep = when < H
    when, company, change = when[keep], company[keep], change[keep]
    kinds = ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churned", "mrr_reactivation")
    if not len(when):
        return {k: np.zeros(days) for k in kinds}
    order = np.lexsort((when, company))
    when, company, change = when[order], company[order], change[order]
    # one change per company and instant
    first = np.ones(len(when), dtype=bool)
    first[1:] = (company[1:] != company[:-1]) | (when[1:] != when[:-1])
    starts = np.flatnonzero(first)
    when, company = when[starts], company[starts]
    change = np.add.reduceat(change, starts)
    # each company's MRR after each change: a running sum that restarts per company
    running = np.cumsum(change)
    company_start = np.ones(len(company), dtype=bool)
    company_start[1:] = company[1:] != company[:-1]
    offset = np.maximum.accumulate(np.where(company_start, np.arange(len(company)), 0))
    after = running - np.where(offset > 0, running[offset - 1], 0.0)
    before = after - change
    on_before, on_after = before > _MRR_ZERO, after > _MRR_ZERO
    # whether the company paid after an earlier change (a comeback, not a first payment)
    paying_changes = np.cumsum(on_after)
    paying_changes = paying_changes - np.where(offset > 0, paying_changes[offset - 1], 0)
    paid_before = (paying_changes - on_after) > 0
    amount = {
        "mrr_new": np.where(~on_before & on_after & ~paid_before, after, 0.0),
        "mrr_reactivation": np.where(~on_before & on_after & paid_before, after, 0.0),
        "mrr_expansion": np.where(on_before & on_after & (change > 0), change, 0.0),
        "mrr_contraction": np.where(on_before & on_after & (change < 0), -change, 0.0),
        "mrr_churned": np.where(on_before & ~on_after, before, 0.0),
    }
    day = when.astype(np.int64)
    return {k: np.bincount(day, weights=amount[k], minlength=days)[:days] for k in kinds}


def _lead_totals(o: Outcome) -> dict[str, float]:
    lead, H = o.leads, o.horizon
    kind, outcome = lead["kind"], lead["outcome"]
    settled = np.isin(outcome, (LeadOutcome.WON, LeadOutcome.LOST, LeadOutcome.WENT_COLD))
    won = outcome == LeadOutcome.WON
    pql, cold = kind == LeadKind.PQL, kind == LeadKind.COLD
    gone = outcome == LeadOutcome.WENT_COLD
    taken = ~np.isnan(lead["start"])
    wait = lead["start"][taken] - lead["arrive"][taken]
    return {
        "pqls": float(pql.sum()),
        "cold_leads": float(cold.sum()),
        "pqls_won": float(np.sum(won & pql)),
        "pqls_settled": float(np.sum(settled & pql)),
        "cold_won": float(np.sum(won & cold)),
        "cold_settled": float(np.sum(settled & cold)),
        "leads_gone_cold": float(gone.sum()),
        "leads_taken": float(taken.sum()),
        "queue_wait_mean": float(wait.mean()) if len(wait) else np.nan,
        "queue_wait_p90": _quantile(wait, 0.9),
        "rep_busy_days": _exposure(lead["start"][taken], lead["end"][taken], H),
        "pipeline_end": float(lead["acv"][~settled].sum()),
    }


def _levels(o: Outcome, grid: np.ndarray, seats: Seats, bills: Billing
            ) -> dict[str, np.ndarray]:
    u, t, lead = o.users, o.teams, o.leads
    seated = ~np.isnan(u["start"])
    ps, pe = seats.start, seats.end
    contract = ~np.isnan(t["contract_start"])
    cs, ce = t["contract_start"][contract], t["contract_end"][contract]
    acv = t["contract_acv"][contract]
    order = np.argsort(cs)
    arr_on = np.concatenate([[0.0], np.cumsum(acv[order])])[np.searchsorted(cs[order], grid, "right")]
    order = np.argsort(ce)
    arr_off = np.concatenate([[0.0], np.cumsum(acv[order])])[np.searchsorted(ce[order], grid, "right")]
    selfserve = ~t["prospect"]
    taken = ~np.isnan(lead["start"])
    return {
        "active_users": _level(u["start"][seated], u["end"][seated], grid),
        "paying_self_serve": _level(o.paid["start"], o.paid["end"], grid),
        "contracts_running": _level(cs, ce, grid),
        "paid_seats": _level(ps, pe, grid),
        "mrr_self_serve": _weighted_level(bills.start, bills.end, bills.mrr, grid),
        "teams": _level(t["created"][selfserve], np.full(int(selfserve.sum()), np.inf), grid),
        "arr_sales": arr_on - arr_off,
        "sales_queue": _level(lead["arrive"], lead["left"], grid),
        "reps_busy": _level(lead["start"][taken], lead["end"][taken], grid),
    }


def _flows(o: Outcome, grid: np.ndarray, bills: Billing) -> dict[str, np.ndarray]:
    u, t, lead, H = o.users, o.teams, o.leads, o.horizon
    days = len(grid)

    def per_day(times: np.ndarray) -> np.ndarray:
        times = times[~np.isnan(times) & (times < H)]
        return np.bincount(times.astype(np.int64), minlength=days)[:days].astype(float)

    se = u["end"][~np.isnan(u["start"])]
    return {
        **{f"signups_{c}": per_day(u["signup"][u["channel"] == i])
           for i, c in enumerate(CHANNEL_NAMES)},
        "activations": per_day(u["value"]),
        "churned": per_day(se[se <= H]),
        "upgrades": per_day(o.paid["start"]),  # every paid spell: win-backs too
        "pqls": per_day(lead["arrive"][lead["kind"] == LeadKind.PQL]),
        "cold_leads": per_day(lead["arrive"][lead["kind"] == LeadKind.COLD]),
        "won": per_day(t["contract_start"][~np.isnan(t["contract_start"])]),
        "gone_cold": per_day(lead["end"][lead["outcome"] == LeadOutcome.WENT_COLD]),
        **_mrr_bridge(o, bills, days),
    }


def _cohorts(o: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """Signups per week, and how many of them were active ``k`` weeks after their own signup
    (k = 1 .. :data:`COHORT_WEEKS`; a user counts if their seat covers that instant)."""
    u = o.users
    signup = u["signup"]
    if not len(signup):
        return np.zeros(0, dtype=np.int64), np.zeros((0, COHORT_WEEKS), dtype=np.int64)
    cohort = (signup // 7).astype(np.int64)
    n_cohorts = int(cohort.max()) + 1
    sizes = np.bincount(cohort, minlength=n_cohorts)
    start = np.nan_to_num(u["start"], nan=np.inf)
    end = u["end"]
    active = np.zeros((n_cohorts, COHORT_WEEKS), dtype=np.int64)
    for k in range(1, COHORT_WEEKS + 1):
        if 7 + 7 * k > o.horizon:  # not even the first week's cohort is seen that far
            break
        at = signup + 7.0 * k
        covered = (start <= at) & (at < end)
        active[:, k - 1] = np.bincount(cohort[covered], minlength=n_cohorts)
    return sizes, active

