"""What the twin's solution says, as the metric layer's tally."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from flywheel.engines.meanfield.chains import Race
from flywheel.engines.meanfield.twin import _COUNTERS, TRIAL, Twin
from flywheel.engines.model import CHANNELS, USER_STATES
from flywheel.metrics import FUNNEL, METRICS, SERIES
from flywheel.scenario.defaults import DAYS_PER_MONTH


def observe(tw: Twin, Y: np.ndarray) -> dict[str, np.ndarray]:
    """Stocks and cumulative counters at each column of ``Y`` (states x times)."""
    B, n, sl = tw.B, tw.n, tw.sl
    T = Y.shape[1]
    N = np.maximum(Y[sl["N"]].reshape(B, n, T), 0.0)
    E = np.maximum(Y[sl["E"]].reshape(B, -1, T), 0.0)
    seats = N * tw.a[None, :, None]
    seats[:, tw.top_idx, :] += E
    X = Y[sl["X"]][0]
    created = tw.companies_total.sum() - (tw.rep_n[:, None] * np.exp(
        -tw.rep_s[:, None] * X[None, :])).sum(axis=0)
    onboarding = sum(np.maximum(Y[sl[k]], 0.0).sum(axis=0)
                     for k in ("OF", "OP", "OJ", "OI") if sl[k].stop > sl[k].start)
    if tw.trial:  # first signups onboarding on the trial clock
        PF = Y[sl["PF"]].reshape(B, n, T)
        onboarding = onboarding + PF[:, tw.blk == TRIAL, :].sum(axis=(0, 1))
    out = {name: Y[tw.sl["Z"].start + i] for i, name in enumerate(_COUNTERS)}
    out.update({
        "active": seats.sum(axis=(0, 1)),
        "paid_seats": seats[:, tw.paying, :].sum(axis=(0, 1)),
        "paying": N[:, tw.paying, :].sum(axis=(0, 1)),
        "teams": created,
        "onboarding": onboarding,
        "waiting": np.maximum(Y[sl["W"]], 0.0).sum(axis=0),
        "in_flight": np.maximum(Y[sl["IF"]], 0.0).sum(axis=0)
        + np.maximum(Y[sl["ID"]], 0.0).sum(axis=0),
    })
    return out

def ttv_quantile(tw: Twin, q: float, weights: Mapping[str, float]) -> float:
    """Quantile of time to value among activated users: the kinds' exact race
    distributions, mixed by how many of each kind reached value."""
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
        return math.nan
    t = np.concatenate(times)
    m = np.concatenate(mass)
    order = np.argsort(t, kind="stable")
    cum = np.cumsum(m[order])
    return float(t[order][min(np.searchsorted(cum, q * cum[-1]), len(cum) - 1)])


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


def _series(tw: Twin, obs: Mapping[str, np.ndarray], sales: bool) -> dict[str, np.ndarray]:
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


def _metrics(tw: Twin, obs: Mapping[str, np.ndarray], sales: bool) -> dict[str, float]:
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
    m["ttv_median_days"] = ttv_quantile(tw, 0.5, kinds) if act > 0 else math.nan
    m["ttv_p90_days"] = ttv_quantile(tw, 0.9, kinds) if act > 0 else math.nan
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


def _funnel(tw: Twin, obs: Mapping[str, np.ndarray]) -> dict[str, float]:
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


def _cohorts(tw: Twin, obs: Mapping[str, np.ndarray], grid: np.ndarray,
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


