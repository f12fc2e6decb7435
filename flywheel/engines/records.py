"""The simulation's records counted: one replication's :class:`~flywheel.engines.model.Outcome`
(a row per signup, team and lead) reduced to a :class:`~flywheel.engines.tally.Tally`.

Spells are half-open intervals ``[start, end)`` in days; a level at an instant counts the
spells covering it, an exposure sums their lengths within ``[0, horizon]``.  Everything is
vectorised over the columns, after the run.
"""

from __future__ import annotations

import numpy as np

from flywheel.engines.codes import LeadKind, LeadOutcome, UserState
from flywheel.engines.model import Outcome
from flywheel.engines.tally import CHANNEL_NAMES, STATE_NAMES, Tally, day_grid
from flywheel.scenario.defaults import DAYS_PER_YEAR

#: Weeks after signup the cohort table follows.
COHORT_WEEKS = 52


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
    return Tally(
        horizon=o.horizon, price_per_seat=o.price_per_seat,
        serving_cost_per_month=o.serving_cost_per_month, sales_servers=o.sales_servers,
        totals={**_user_totals(o), **_team_totals(o), **_lead_totals(o)},
        levels=_levels(o, grid), flows=_flows(o, grid),
        cohort_sizes=sizes, cohort_active=active,
        states={s: int(states[i]) for i, s in enumerate(STATE_NAMES)},
    )


def _user_totals(o: Outcome) -> dict[str, float]:
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
    paid_users, ps, pe = _team_overlap(o, "paid_start", "paid_end")
    contract_users, cs_u, ce_u = _team_overlap(o, "contract_start", "contract_end")
    return {
        **{f"signups_{c}": float(chan[i]) for i, c in enumerate(CHANNEL_NAMES)},
        "activated": float(activated.sum()),
        "abandoned": float(np.sum(u["state"] == UserState.ABANDONED)),
        "ttv_median": float(np.median(ttv)) if len(ttv) else np.nan,
        "ttv_p90": _quantile(ttv, 0.9),
        "invited_signups": float(invited.sum()),
        "invite_cycle_sum": float(np.sum(u["signup"][invited] - u["start"][u["inviter"][invited]])),
        "invites_sent": float(o.counters.get("invites_sent", 0)),
        "seated": float(seated.sum()),
        "in_paying_team": float((paid_users | contract_users).sum()),
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


def _team_totals(o: Outcome) -> dict[str, float]:
    t, H = o.teams, o.horizon
    selfserve = ~t["prospect"]
    paid = ~np.isnan(t["paid_start"])
    contract = ~np.isnan(t["contract_start"])
    customer = paid | contract
    trials = ~np.isnan(t["trial_end"])
    cs, ce = t["contract_start"][contract], t["contract_end"][contract]
    acv = t["contract_acv"][contract]
    running = ce > H
    contract_years = np.clip(np.minimum(ce, H) - cs, 0, None) / DAYS_PER_YEAR
    at_decision = ~np.isnan(t["paywall"]) | ~np.isnan(t["trial_end"])
    return {
        "teams": float(selfserve.sum()),
        "teams_at_decision": float(np.sum(at_decision & selfserve)),
        "paywall_teams": float(np.sum(~np.isnan(t["paywall"]))),
        "upgraded_teams": float(paid.sum()),
        "teams_ever_paid": float(np.sum(customer & selfserve)),
        "new_customers": float(customer.sum()),
        "trial_teams": float(trials.sum()),
        "trial_converted": float(np.sum(t["trial_converted"] & trials)),
        "paying_self_serve_end": float(np.sum(paid & (t["paid_start"] <= H) & (t["paid_end"] > H))),
        "contracts_running_end": float(running.sum()),
        "arr_sales_end": float(acv[running].sum()),
        "contract_revenue": float(np.dot(contract_years, acv)),
        "customer_days": _exposure(t["paid_start"][paid], t["paid_end"][paid], H)
        + _exposure(cs, ce, H),
        "cancels": float(np.sum((t["paid_end"][paid] <= H) & ~t["upsold"][paid]) + np.sum(ce <= H)),
        "contracts_won": float(contract.sum()),
        "bookings": float(acv.sum()),
    }


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


def _levels(o: Outcome, grid: np.ndarray) -> dict[str, np.ndarray]:
    u, t, lead = o.users, o.teams, o.leads
    seated = ~np.isnan(u["start"])
    _, ps, pe = _team_overlap(o, "paid_start", "paid_end")
    paid = ~np.isnan(t["paid_start"])
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
        "paying_self_serve": _level(t["paid_start"][paid], t["paid_end"][paid], grid),
        "contracts_running": _level(cs, ce, grid),
        "paid_seats": _level(ps, pe, grid),
        "teams": _level(t["created"][selfserve], np.full(int(selfserve.sum()), np.inf), grid),
        "arr_sales": arr_on - arr_off,
        "sales_queue": _level(lead["arrive"], lead["left"], grid),
        "reps_busy": _level(lead["start"][taken], lead["end"][taken], grid),
    }


def _flows(o: Outcome, grid: np.ndarray) -> dict[str, np.ndarray]:
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
        "upgrades": per_day(t["paid_start"]),
        "pqls": per_day(lead["arrive"][lead["kind"] == LeadKind.PQL]),
        "cold_leads": per_day(lead["arrive"][lead["kind"] == LeadKind.COLD]),
        "won": per_day(t["contract_start"][~np.isnan(t["contract_start"])]),
        "gone_cold": per_day(lead["end"][lead["outcome"] == LeadOutcome.WENT_COLD]),
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

