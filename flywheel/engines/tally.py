"""What both engines hand to the metric layer: a :class:`Tally` of one run.

The discrete-event simulation counts its records (:func:`flywheel.engines.records.tally`);
the mean-field twin reads its integrated counters (:mod:`flywheel.engines.meanfield.tally`).
Both fill the same names, declared here with their meaning, and
:func:`flywheel.metrics.measure` turns a tally into every metric, daily series, funnel
stage, cohort cell and final-state count.  A metric is therefore defined once, whichever
engine ran; a quantity an engine cannot count it lists in :attr:`Tally.unavailable`
instead of inventing a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from flywheel.engines.codes import Channel, UserState, labels
from flywheel.scenario.defaults import DAYS_PER_MONTH

#: Acquisition channels and final user states, as their lower-case labels.
CHANNEL_NAMES = labels(Channel)
STATE_NAMES = labels(UserState)

#: Days after a team's creation within which ``free_to_paid_90d`` counts its conversion.
COHORT_DAYS = 90.0
#: Most months back the revenue retention looks (12 when the horizon allows).
RETENTION_MONTHS = 12


def retention_window(horizon: float) -> int:
    """Whole months over which NRR and GRR compare MRR: 12 where the horizon allows, else
    the longest whole-month window within the run's second half, so the customers it
    starts from have had at least half the run to come (a one-year run: 6 months; 0: the
    run is shorter than two months)."""
    return int(min(RETENTION_MONTHS, math.floor(horizon / (2 * DAYS_PER_MONTH) + 1e-9)))


#: Counts and sums over the whole run (up to the horizon): name -> meaning.  Unit: users,
#: teams, leads or contracts for counts; days for ``*_days`` and times; $ for money.
TOTALS: dict[str, str] = {
    **{f"signups_{c}": f"signups brought by the {c} channel" for c in CHANNEL_NAMES},
    "activated": "signups who reached value",
    "abandoned": "signups who gave up onboarding (no-show or out of patience)",
    "onboarding_lost": "signups whose onboarding ended because their team lost the product",
    "turned_away": "people who came to a company without the product and were turned "
                   "away (it declined to buy again when someone new came, its contract "
                   "ended...): not signups",
    "ttv_median": "median time from signup to value among activated users (days)",
    "ttv_p90": "90th percentile of that time (days)",
    "invited_signups": "signups who came by an invite (the invites' arrivals)",
    "invite_cycle_sum": "sum over those of the time from the inviter's seat to the signup (days)",
    "founder_invited": "signups who came by an invite from their team's founder (the first "
                       "signup of a self-serve team)",
    "invites_sent": "invites sent by activated users",
    "invites_accepted": "of those, invites accepted by someone still in the company (they "
                        "sign up after the invite's delay, before the horizon or after it)",
    "seated": "users who took a seat",
    "in_paying_team": "users who held a seat while their team paid (self-serve or contract)",
    "teams": "teams created (companies whose first contact was a signup)",
    "teams_activated": "teams created with a user who reached value",
    "teams_at_decision": "teams created that met the paywall or a trial's end",
    "paywall_teams": "teams that met the free tier's limit at least once",
    "upgraded_teams": "teams that started paying self-serve (each counted once, however many "
                      "paid spells it had)",
    "teams_ever_paid": "teams created that started paying (self-serve or by a contract)",
    "new_customers": "companies that started paying: self-serve teams and won contracts",
    "teams_90d": f"teams created at least {COHORT_DAYS:g} days before the horizon",
    "teams_paid_90d": f"of those, teams that started paying within {COHORT_DAYS:g} days of "
                      "creation (self-serve or by a contract)",
    "time_to_paid_median": "median time from a team's creation to its first payment, among "
                           "teams that paid (days)",
    "mrr_then": "MRR, at the start of the retention window, of the companies paying then ($ "
                "per month)",
    "mrr_now_of_then": "MRR at the horizon of those same companies ($ per month)",
    "mrr_kept_of_then": "the same, each company counted at most at its MRR then ($ per month)",
    "trial_teams": "teams whose trial ended",
    "trial_converted": "of those, teams that bought at the trial's end",
    "paying_self_serve_end": "teams paying self-serve at the horizon (in any of their paid "
                             "spells)",
    "contracts_running_end": "contracts running at the horizon",
    "active_users_end": "users with a seat at the horizon",
    "paid_seats_end": "seats of self-serve paying teams at the horizon",
    "contract_users_end": "seats under a running contract at the horizon",
    "arr_sales_end": "annual value of the contracts running at the horizon ($ per year)",
    "user_days": "time users held seats (user-days)",
    "paid_seat_days": "time seats were paid self-serve (seat-days)",
    "contract_user_days": "time seats were under contract (seat-days)",
    "contract_revenue": "revenue of contracts over the run ($)",
    "mrr_self_serve_end": "what the self-serve paying teams pay at the horizon ($ per month: "
                          "their bills under the scenario's charge and billing)",
    "self_serve_revenue": "revenue of self-serve plans over the run ($)",
    "seats_ended": "active spells ended (churn or access lost)",
    "customer_days": "time companies paid, self-serve or by contract (company-days)",
    "cancels": "paying customers lost: self-serve cancellations (not replaced by a contract) "
               "and contracts not renewed",
    "self_serve_cancels": "self-serve paid spells cancelled (not replaced by a contract), "
                          "every spell of a team counted",
    "winbacks": "self-serve paid spells begun by a company that had cancelled one, when someone "
                "new of it came (a win-back; a team won back twice counts twice)",
    "acquisition_spend": "paid acquisition spend ($)",
    "sales_cost": "reps' cost ($)",
    "pqls": "product-qualified leads",
    "cold_leads": "leads not product-qualified (outbound, inbound)",
    "pqls_won": "PQLs won",
    "pqls_settled": "PQLs won, lost or gone cold",
    "cold_won": "cold leads won",
    "cold_settled": "cold leads won, lost or gone cold",
    "leads_gone_cold": "leads that gave up waiting for a rep",
    "leads_taken": "leads a rep took",
    "queue_wait_mean": "mean wait from lead to rep, among leads taken (days)",
    "queue_wait_p90": "90th percentile of that wait (days)",
    "rep_busy_days": "time the reps' deal slots were in use (slot-days)",
    "contracts_won": "deals won",
    "bookings": "annual value of the deals won ($ per year)",
    "pipeline_end": "annual value the open leads at the horizon would sign ($ per year)",
}

#: Daily counts: name -> meaning.  Levels are read at each day's end
#: (:func:`day_grid`), flows are counted within each day.
LEVELS: dict[str, str] = {
    "active_users": "users with a seat",
    "paying_self_serve": "teams paying self-serve",
    "contracts_running": "contracts running",
    "paid_seats": "seats of self-serve paying teams",
    "mrr_self_serve": "what the self-serve paying teams pay ($ per month)",
    "teams": "teams created so far",
    "arr_sales": "annual value of the running contracts ($ per year)",
    "sales_queue": "leads waiting for a rep",
    "reps_busy": "rep deal slots in use",
}
FLOWS: dict[str, str] = {
    **{f"signups_{c}": f"signups by the {c} channel" for c in CHANNEL_NAMES},
    "activations": "users reaching value",
    "churned": "active spells ended",
    "upgrades": "teams starting a self-serve paid spell (a win-back included)",
    "pqls": "PQLs arriving",
    "cold_leads": "cold leads arriving",
    "won": "contracts won",
    "gone_cold": "leads going cold",
    "mrr_new": "MRR added by companies paying for the first time ($ per month)",
    "mrr_expansion": "MRR added by paying companies growing (seats, a contract) ($ per month)",
    "mrr_contraction": "MRR lost by paying companies shrinking ($ per month)",
    "mrr_churned": "MRR lost by companies that stopped paying ($ per month)",
    "mrr_reactivation": "MRR added by companies paying again after stopping ($ per month)",
}


#: Counts of a mechanism an engine may not carry (the second paid tier: the mean-field twin
#: has one paid tier): an engine that leaves them out has none, and they are taken as 0.
#: Where a scenario switches the mechanism on, such an engine names the metrics built on
#: them in :attr:`Tally.unavailable`.  Units as in :data:`TOTALS`.
OPTIONAL_TOTALS: dict[str, str] = {
    "tier2_paying_end": "self-serve teams paying on the second paid tier at the horizon",
    "mrr_tier2_end": "their MRR at the horizon ($ per month)",
    "tier_decisions": "decisions of first-tier teams at one of the tier's limits whether to "
                      "move up to the second tier",
    "tier_upgrades": "of those, moves up",
    "tier_upgrade_mrr": "MRR the moves up added at their instant: the seats then x the "
                        "difference of the tiers' seat bills ($ per month)",
}


@dataclass(frozen=True)
class Tally:
    """What one run counted, by the names of :data:`TOTALS`, :data:`LEVELS` and
    :data:`FLOWS`, with the prices that turn seats into money.

    ``cohort_sizes[c]`` is the number of signups in week ``c`` (days ``[7c, 7c + 7)``) and
    ``cohort_active[c, k - 1]`` how many of them were active ``k`` weeks after their own
    signup; ``states`` counts signups by final state (:data:`STATE_NAMES`).
    ``unavailable`` names the metrics and series the engine cannot produce for this run
    (the metric layer reports them as missing, and says so).
    """

    horizon: float
    price_per_seat: float
    serving_cost_per_month: float
    sales_servers: int
    totals: Mapping[str, float]
    levels: Mapping[str, np.ndarray]
    flows: Mapping[str, np.ndarray]
    cohort_sizes: np.ndarray
    cohort_active: np.ndarray
    states: Mapping[str, float]
    unavailable: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        absent = set(OPTIONAL_TOTALS) - set(self.totals)
        if absent:  # (an engine without the mechanism: none of them)
            object.__setattr__(self, "totals", {**self.totals, **dict.fromkeys(absent, 0.0)})
        want_totals = {**TOTALS, **OPTIONAL_TOTALS}
        for what, got, want in (("totals", self.totals, want_totals),
                                ("levels", self.levels, LEVELS),
                                ("flows", self.flows, FLOWS), ("states", self.states, STATE_NAMES)):
            missing, extra = set(want) - set(got), set(got) - set(want)
            if missing or extra:
                raise ValueError(f"a tally's {what} must name exactly the declared quantities: "
                                 f"missing {sorted(missing)}, unknown {sorted(extra)}")


def day_grid(horizon: float) -> np.ndarray:
    """End of each simulated day: 1, 2, ..., with the horizon as the last point."""
    days = int(math.ceil(horizon))
    return np.minimum(np.arange(1, days + 1, dtype=float), horizon)
