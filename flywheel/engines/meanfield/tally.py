"""What the twin's solution says, as the metric layer's tally."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

from flywheel.engines.meanfield.chains import Race
from flywheel.engines.meanfield.mechanisms import unavailable
from flywheel.engines.meanfield.twin import _COUNTERS, TRIAL, Twin
from flywheel.engines.tally import CHANNEL_NAMES, STATE_NAMES, Tally
from flywheel.scenario.defaults import DAYS_PER_MONTH

#: Elements of a block :func:`observe` works on at once (2 MB: numpy asks for huge pages
#: from 4 MB, and touching them first can cost more than the arithmetic).
_BLOCK = 1 << 18


#: What :func:`observe` reads of the state at every day, each a weighted sum of its
#: variables (:func:`observation`), besides the cumulative counters.
SUMS = ("X", "active", "paid_seats", "paying", "onboarding", "waiting", "in_flight")


def observation(tw: Twin) -> sparse.csr_matrix:
    """The sums of the state that :func:`observe` reads, as the rows of one matrix (SUMS,
    then the counters in _COUNTERS order): the contact hazard X; seats in use (each class's
    teams times its seats, and the top classes' extra seats), those that pay, and paying
    teams; users onboarding (the pools, and first signups on a trial's clock); users
    waiting at the seat limit; invites in flight.  The integrator keeps these alone at
    every day, not the state."""
    B, n, sl = tw.B, tw.n, tw.sl
    rows, cols, vals = [], [], []

    def add(row: int, at: np.ndarray, weight: np.ndarray | float = 1.0) -> None:
        at = np.asarray(at, dtype=np.int64).ravel()
        rows.append(np.full(len(at), row))
        cols.append(at)
        vals.append(np.broadcast_to(np.asarray(weight, dtype=float).ravel(), at.shape))

    teams = sl["N"].start + np.arange(B)[:, None] * n + np.arange(n)[None, :]  # (bin, class)
    ntop = len(tw.top_idx)
    extra = sl["E"].start + np.arange(B)[:, None] * ntop + np.arange(ntop)[None, :]
    seats = np.broadcast_to(tw.a, teams.shape)
    pay = np.broadcast_to(tw.paying, teams.shape)
    row = {name: i for i, name in enumerate(SUMS)}
    add(row["X"], [sl["X"].start])
    add(row["active"], teams, seats)
    add(row["active"], extra)
    add(row["paid_seats"], teams[pay], seats[pay])
    add(row["paid_seats"], extra[:, tw.paying[tw.top_idx]])
    add(row["paying"], teams[pay])
    for k in ("OF", "OP", "OJ", "OI"):
        add(row["onboarding"], np.arange(sl[k].start, sl[k].stop))
    if tw.trial:  # first signups onboarding on the trial clock
        on_clock = tw.blk == TRIAL
        add(row["onboarding"], (sl["PF"].start + np.arange(B)[:, None] * n + np.arange(n))[:, on_clock])
    add(row["waiting"], np.arange(sl["W"].start, sl["W"].stop))
    for k in ("IF", "ID"):
        add(row["in_flight"], np.arange(sl[k].start, sl[k].stop))
    for i in range(len(_COUNTERS)):
        add(len(SUMS) + i, [sl["Z"].start + i])
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(len(SUMS) + len(_COUNTERS), tw.size))


def observe(tw: Twin, Y: np.ndarray) -> dict[str, np.ndarray]:
    """Stocks and cumulative counters at each row of ``Y`` (times x the sums of
    :func:`observation`)."""
    T = Y.shape[0]
    out = {name: Y[:, len(SUMS) + i].copy() for i, name in enumerate(_COUNTERS)}
    out.update({name: Y[:, i].copy() for i, name in enumerate(SUMS) if name != "X"})
    # companies touched: all but the untouched, rep_n exp(-rep_s X) of each size (a few
    # days at a time)
    X = Y[:, SUMS.index("X")]
    created = np.empty(T)
    width = max(2, _BLOCK // len(tw.rep_s))
    for t0 in range(0, T, width):
        t1 = T if T - (t0 + width) < 2 else t0 + width  # (no block of one day)
        untouched = np.multiply(-tw.rep_s[:, None], X[None, t0:t1])
        np.exp(untouched, out=untouched)
        untouched *= tw.rep_n[:, None]
        created[t0:t1] = tw.companies_total.sum() - untouched.sum(axis=0)
        if t1 == T:
            break
    out["teams"] = created
    return out


def ttv_quantile(tw: Twin, q: float, weights: Mapping[str, float]) -> float:
    """Quantile of time to value among activated users: the kinds' exact race
    distributions, mixed by how many of each kind reached value."""
    return ttv_quantiles(tw, (q,), weights)[0]


def ttv_quantiles(tw: Twin, qs: Sequence[float], weights: Mapping[str, float]) -> list[float]:
    """:func:`ttv_quantile` at each of ``qs``, from one mixture."""
    times, mass = [], []
    for race, w in ((tw.race_founder, weights["founder"]),
                    (tw.race_joiner, weights["joiner"]),
                    (tw.race_invitee, weights["invitee"])):
        tot = race.p_act
        if w <= 0 or tot <= 0:
            continue
        times += [np.zeros(1), race.times]
        mass += [np.array([race.instant_act * w / tot]), race.act * w / tot]
    if not times:
        return [math.nan for _ in qs]
    t = np.concatenate(times)
    m = np.concatenate(mass)
    order = np.argsort(t, kind="stable")
    cum = np.cumsum(m[order])
    t = t[order]
    return [float(t[min(np.searchsorted(cum, q * cum[-1]), len(cum) - 1)]) for q in qs]


#: Which integrated counter holds each channel's signups (the twin has no sales seats).
_CHANNEL_COUNTERS = {"organic": "sig_organic", "paid": "sig_paid", "referral": "sig_referral",
                     "invite": "sig_invite"}
#: Counters smaller than this (users, teams, days) are the integration's rounding, not a
#: count: they are taken as 0, so a ratio of two of them is missing, as in the simulation.
_DUST = 1e-9


def _daily(cum: np.ndarray) -> np.ndarray:
    """A cumulative counter at 0 and at each day's end -> the count of each day."""
    return np.maximum(np.diff(cum), 0.0)


def twin_tally(tw: Twin, obs: Mapping[str, np.ndarray]) -> Tally:
    """The twin's solution as a :class:`~flywheel.engines.tally.Tally`: its counters at the
    horizon, its stocks at each day's end, its counters' daily increments, its
    approximate cohorts.  The twin has no contracts; with a sales motion on, the sales
    team's counts are NaN and :data:`~flywheel.engines.meanfield.mechanisms.WITHOUT_SALES`
    lists the metrics and series the run cannot report."""
    sales = tw.settings.sales_motion
    end = {k: (0.0 if abs(float(v[-1])) < _DUST else float(v[-1])) for k, v in obs.items()}
    days = len(obs["active"]) - 1
    zeros, nan = np.zeros(days), np.full(days, math.nan)
    none = math.nan if sales else 0.0  # what the sales team counted
    act = end["act_founder"] + end["act_joiner"] + end["act_invitee"]
    kinds = {"founder": end["act_founder"], "joiner": end["act_joiner"],
             "invitee": end["act_invitee"]}
    paid = end["upgrades"] + end["trial_conversions"]  # (first payments: no win-back)
    ttv_median, ttv_p90 = ttv_quantiles(tw, (0.5, 0.9), kinds) if act > 0 else (math.nan, math.nan)
    totals = {
        # (no contracts, so no seats rolled out by one: the sales channel counts none)
        **{f"signups_{c}": end[_CHANNEL_COUNTERS[c]] if c in _CHANNEL_COUNTERS else 0.0
           for c in CHANNEL_NAMES},
        "activated": act,
        "abandoned": end["abandoned"],
        "onboarding_lost": end["lost"],
        "turned_away": end["sig_lost_signup"],
        "ttv_median": ttv_median,
        "ttv_p90": ttv_p90,
        "invited_signups": end["invite_arrivals"],
        "invite_cycle_sum": end["invite_delay_sum"],
        "founder_invited": math.nan,  # (not followed: who invited whom; WITHOUT_AGES)
        "invites_sent": end["invites_sent"],
        "invites_accepted": end["invites_accepted"],
        "seated": end["seated"],
        "in_paying_team": end["paid_entries"],
        "teams": end["teams"],
        "teams_activated": end["teams_activated"],
        "teams_at_decision": end["trial_ends"] if tw.trial else end["paywall"],
        "paywall_teams": end["paywall"],
        "upgraded_teams": paid,
        "teams_ever_paid": paid,
        "new_customers": paid,
        "trial_teams": end["trial_ends"],
        "trial_converted": end["trial_conversions"],
        "paying_self_serve_end": end["paying"],
        "active_users_end": end["active"],
        "paid_seats_end": end["paid_seats"],
        "user_days": end["user_days"],
        "paid_seat_days": end["paid_seat_days"],
        # (NaN for a flat plan: its bill depends on each team's seats; see MECHANISMS)
        "mrr_self_serve_end": end["paid_seats"] * tw.price,
        "self_serve_revenue": end["paid_seat_days"] / DAYS_PER_MONTH * tw.price,
        "seats_ended": end["churned"] + end["lost_seats"],
        "customer_days": end["paying_days"],
        "cancels": end["cancels"],
        "self_serve_cancels": end["cancels"],  # (no contracts)
        "winbacks": end["winbacks"],
        "acquisition_spend": tw.budget * tw.H,
        # (not followed: the twin counts teams by class, not by age; WITHOUT_AGES)
        **dict.fromkeys(("teams_90d", "teams_paid_90d", "time_to_paid_median", "mrr_then",
                         "mrr_now_of_then", "mrr_kept_of_then"), math.nan),
        # no contracts: a scenario with a sales motion runs as self-serve only
        **dict.fromkeys(("contracts_running_end", "contract_users_end", "arr_sales_end",
                         "contract_user_days", "contract_revenue"), 0.0),
        **dict.fromkeys(("sales_cost", "pqls", "cold_leads", "pqls_won", "pqls_settled", "cold_won", "cold_settled",
                         "leads_gone_cold", "leads_taken", "rep_busy_days", "contracts_won",
                         "bookings", "pipeline_end"), none),
        "queue_wait_mean": math.nan,  # no lead was taken (or, with sales, unknown)
        "queue_wait_p90": math.nan,
    }
    no_sales = nan if sales else zeros
    levels = {
        "active_users": obs["active"][1:],
        "paying_self_serve": obs["paying"][1:],
        "paid_seats": obs["paid_seats"][1:],
        "mrr_self_serve": obs["paid_seats"][1:] * tw.price,
        "teams": obs["teams"][1:],
        **dict.fromkeys(("contracts_running", "arr_sales"), zeros),
        **dict.fromkeys(("sales_queue", "reps_busy"), no_sales),
    }
    flows = {
        **{f"signups_{c}": _daily(obs[_CHANNEL_COUNTERS[c]]) if c in _CHANNEL_COUNTERS
           else zeros for c in CHANNEL_NAMES},
        "activations": _daily(obs["act_founder"] + obs["act_joiner"] + obs["act_invitee"]),
        "churned": _daily(obs["churned"] + obs["lost_seats"]),
        "upgrades": _daily(obs["upgrades"] + obs["trial_conversions"] + obs["winbacks"]),
        **dict.fromkeys(("pqls", "cold_leads", "won", "gone_cold"), no_sales),
        **dict.fromkeys(("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churned"), nan),
        # (a won-back team, in a class of its own until its first seat, brings its MRR back
        # from 0 with that seat)
        "mrr_reactivation": _daily(obs["reactivated_seats"]) * tw.price,
    }
    sizes, active = _cohorts(tw, obs, end)
    states = {"onboarding": end["onboarding"], "active": end["active"],
              "abandoned": end["abandoned"], "churned": end["churned"],
              "lost_access": end["lost"] + end["lost_seats"], "blocked": end["blocked"],
              "waiting": end["waiting"]}
    return Tally(
        horizon=tw.H, price_per_seat=tw.price, serving_cost_per_month=tw.serving,
        sales_servers=tw.settings.sales.servers, totals=totals, levels=levels, flows=flows,
        cohort_sizes=sizes, cohort_active=active,
        states={k: float(states.get(k, 0.0)) for k in STATE_NAMES},
        unavailable=unavailable(tw.settings))


def _cohorts(tw: Twin, obs: Mapping[str, np.ndarray], end: Mapping[str, float],
             max_weeks: int = 52) -> tuple[np.ndarray, np.ndarray]:
    """Signups per week, and how many of them are active k weeks after signing up, as in
    the simulation's cohorts (:func:`flywheel.engines.records.tally`), approximately.

    The twin does not follow cohorts; a cohort's share active k weeks on is built from
    its mix of kinds of signup, each kind's exact time to value, the share of those
    reaching value who take a seat, the tenure curve, and access lost at the run's
    average rate (with a trial: the run's share of seats lost, all at the trial's end,
    as if users signed up when their team did)."""
    days = len(obs["active"]) - 1
    edges = np.minimum(np.arange(days + 1)[::7], days)
    if edges[-1] != days:
        edges = np.append(edges, days)

    def per_week(c: np.ndarray) -> np.ndarray:
        return np.maximum(np.diff(c[edges]), 0.0)

    n = per_week(sum(obs[c] for c in _CHANNEL_COUNTERS.values()))
    founders = per_week(obs["sig_founder"])
    invitees = per_week(obs["sig_invite"])
    joiners = np.maximum(n - founders - invitees, 0.0)
    act = end["act_founder"] + end["act_joiner"] + end["act_invitee"]
    seat_share = end["seated"] / act if act > 0 else 0.0
    lam_access = end["lost_seats"] / end["user_days"] if end["user_days"] > 0 else 0.0
    p_lost = end["lost_seats"] / end["seated"] if end["seated"] > 0 else 0.0

    def access(t: float) -> float:
        if tw.trial:
            return 1.0 - p_lost if t >= tw.trial_length else 1.0
        return math.exp(-lam_access * t)

    tenure = tw.user_tenure.survival
    weeks = np.arange(1, max_weeks + 1)
    weeks = weeks[7 + 7 * weeks <= tw.H]
    ats = 7.0 * weeks
    at_once = tenure(ats)
    kept = np.array([access(at) for at in ats])
    # the tenure's survival since each cell of a race's grid, every week (0 before the
    # cell): one matrix for all the races on the same grid
    survival: list[tuple[np.ndarray, np.ndarray]] = []

    def since(times: np.ndarray) -> np.ndarray:
        for grid, matrix in survival:
            if grid is times or np.array_equal(grid, times):
                return matrix
        matrix = np.empty((len(ats), len(times)))
        for w in range(0, len(ats), 8):  # (a few weeks at a time: they stay in the cache)
            elapsed = ats[w:w + 8, None] - times[None, :]
            block = tenure(elapsed)
            block *= elapsed >= 0.0
            matrix[w:w + 8] = block
        survival.append((times, matrix))
        return matrix

    def active_share(race: Race) -> np.ndarray:
        """P(seated and still active ``at`` days after signing up), one kind, at each of
        ``ats`` (every week at once: the race's cells reaching value by then, each at the
        tenure's survival since)."""
        got = race.instant_act * at_once
        got += since(race.times) @ race.act
        return seat_share * got * kept

    active = np.zeros((len(n), max_weeks))
    share = (active_share(tw.race_founder), active_share(tw.race_joiner),
             active_share(tw.race_invitee))
    active[:, weeks - 1] = (founders[:, None] * share[0] + joiners[:, None] * share[1]
                            + invitees[:, None] * share[2])
    return n, active
