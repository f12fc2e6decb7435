"""The discrete-event model of the self-serve flywheel.

How the model is built, and why (see ``docs/model.md`` for the full account):

* **SimPy carries the clock and every change of shared state.**  A daily
  acquisition process draws the day's contacts; team-level events (trial end,
  the paywall decision, a paying team cancelling) are SimPy events at their
  exact times.
* **Per-user events ride a light calendar that SimPy's loop drains.**  A user's
  activation, churn, an accepted invite's arrival and a contact's arrival at a company
  already touched are pushed, as plain tuples, onto a heap that :meth:`Model.run` drains
  between SimPy events, in time order.  A SimPy event costs ~15 µs here, a heap entry
  ~2 µs; a million signups would otherwise spend most of their time in scheduling.
* **Draws are made in blocks from numpy**, each mechanism from its own named
  stream (:mod:`flywheel.engines.rng`), and nothing is scheduled past the horizon.
* **Users are rows in typed columns**, not objects: the outcome of a run is a
  set of arrays (signup, value, active-from, active-until times; company;
  channel; final state) from which :mod:`flywheel.metrics` computes every
  metric, stock and flow.
* **The sales motion is a component of its own**, :class:`~flywheel.engines.sales.Sales`
  (product-qualified and cold leads, the reps' queue, contracts, and the lead table).
  The model creates it and calls it when a user takes a seat or churns, from the daily
  acquisition process (outbound prospecting, a sales-led motion's inbound enquiries)
  and for its usage checks on the calendar; a won contract becomes the team's plan.

A company's first signup brought by the daily acquisition process takes effect on it at
the start of its day (its own times, and everything that follows from them, are exact); a
contact reaching a person of a company already touched reserves that person then and
arrives at its own time, as invitees do.  Only a company that has the product takes a
signup: someone who comes to one that has lost it is turned away (counted, not a signup),
or, if its trial ended without buying or it cancelled a paid plan, meets its paywall once
and signs up if it buys (a purchase after the trial, or a win-back: a new paid spell).
Activations, churn and team events happen at their exact times.
"""

from __future__ import annotations

import heapq
import itertools
import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from flywheel.engines.codes import Channel, PaidStart, TeamState, UserState, labels
from flywheel.engines.rng import (
    STANDARD_EXPONENTIAL,
    STANDARD_NORMAL,
    STANDARD_UNIFORM,
    Buffered,
    Streams,
)
from flywheel.engines.sales import (  # noqa: F401 (the lead codes, importable from here too)
    COLD,
    L_COLD,
    L_LOST,
    L_WAITING,
    L_WON,
    L_WORKING,
    LEAD_COLUMNS,
    LEAD_KINDS,
    LEAD_OUTCOMES,
    PQL,
    Sales,
)
from flywheel.engines.sales import COUNTERS as SALES_COUNTERS
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.distributions import Distribution
from flywheel.scenario.settings import Settings, size_pmf

# -- codes (declared once in flywheel.engines.codes; plain ints here for the hot paths) -------------

#: Final state of a signup at the horizon; every signup is in exactly one.
USER_STATES = labels(UserState)
ONBOARDING, ACTIVE, ABANDONED, CHURNED, LOST_ACCESS, BLOCKED, WAITING = (
    int(UserState.ONBOARDING), int(UserState.ACTIVE), int(UserState.ABANDONED),
    int(UserState.CHURNED), int(UserState.LOST_ACCESS), int(UserState.BLOCKED),
    int(UserState.WAITING))

#: Acquisition channels of a signup ("sales": a seat of a won contract, rolled out).
CHANNELS = labels(Channel)
ORGANIC, PAID, REFERRAL, INVITE, SALES = (
    int(Channel.ORGANIC), int(Channel.PAID), int(Channel.REFERRAL), int(Channel.INVITE),
    int(Channel.SALES))

#: Team (company) plan states.  A prospect is a company in the sales pipeline that has
#: no product yet (sales-led, or an outbound lead); a contract is a won deal.
TEAM_STATES = labels(TeamState)
FREE, TRIAL, PAYING, CAPPED, NO_ACCESS, PROSPECT, CONTRACT = (
    int(TeamState.FREE), int(TeamState.TRIAL), int(TeamState.PAYING), int(TeamState.CAPPED),
    int(TeamState.NO_ACCESS), int(TeamState.PROSPECT), int(TeamState.CONTRACT))

#: How a self-serve paid spell began (code into PAID_STARTS, column ``how`` of the paid table).
PAID_STARTS = labels(PaidStart)
UPGRADE, TRIAL_CONVERTED, BOUGHT_AFTER_TRIAL, WON_BACK = (
    int(PaidStart.UPGRADE), int(PaidStart.TRIAL_CONVERTED), int(PaidStart.BOUGHT_AFTER_TRIAL),
    int(PaidStart.WON_BACK))

#: Sales leads (LEAD_KINDS, PQL, COLD; LEAD_OUTCOMES, L_WAITING ...; LEAD_COLUMNS) are
#: declared with the sales motion, in flywheel.engines.sales, and importable from here.

# kinds of per-user calendar entries (_PQL_USAGE: the sales motion's usage signal; _JOINER:
# a contact's signup into a company already touched, at its own time)
_ACTIVATE, _CHURN, _INVITEE, _USAGE, _PQL_USAGE, _JOINER = range(6)
# the inviter code of a contract's rolled-out seat (an _INVITEE entry with no inviter)
_ROLLOUT = -2
# the counters of people turned away, by channel
_TURNED_AWAY = tuple(f"turned_away_{ch}" for ch in CHANNELS)

_NAN = math.nan
_INF = math.inf


@dataclass
class Outcome:
    """What one replication produced: the raw material of every metric.

    User columns (one row per signup, in signup order within each day):
    ``company``, ``channel``, ``signup``, ``value`` (reached value, NaN if not),
    ``abandon`` (gave up, NaN if not), ``start``/``end`` (the active spell,
    NaN/inf when none), ``state`` (code into :data:`USER_STATES`), ``inviter``
    (-1 unless invited).

    Team columns (one row per company touched): ``created``, ``size``,
    ``paywall`` (first time at the paywall), ``trial_end`` (when a trial
    ended, NaN if none ended), ``trial_converted``, ``paid_start`` (its *first*
    self-serve payment, NaN if it never paid self-serve: every spell is in ``paid``),
    ``prospect`` (the company entered as a sales prospect, not by a signup),
    ``contract_start``/``contract_end``/``contract_acv``/``contract_seats`` (a won deal,
    renewals extending its end), ``access_end`` (when it last lost the product, inf if
    it has it), ``ready``
    (production value, days: with the sandbox, when the company's setup was done, NaN if it
    was given up or is not done by the horizon; without it, the team's first value, since
    the setup is part of its first signup's TTV), ``state``.

    Paid columns (one row per self-serve paid spell, in order of start; a team may have
    several: it buys, cancels, is won back, ...): ``company``, ``start``, ``end`` (inf if
    still paying), ``how`` (code into :data:`PAID_STARTS`), ``upsold`` (the spell ended
    because a contract replaced it), ``closed_since`` (for a spell that reopened a company
    without the product, after its trial or by a win-back: when it had lost it; NaN
    otherwise), ``tier2`` (when it moved up to the second paid tier; inf if it did not).

    ``intensity`` (team column) is the company's usage intensity (1 without a spread).

    ``counters`` holds the run's counts that are no rows: contacts, invites, paywall
    decisions, and the people who came to a company without the product
    (``turned_away``, by channel ``turned_away_<channel>``; ``knocking_end``: still
    waiting for a decision after a trial at the horizon).

    Lead columns (one row per sales lead): ``company``, ``kind`` (code into
    :data:`LEAD_KINDS`), ``arrive``, ``start`` (a rep took it; NaN if never),
    ``left`` (it left the queue: taken or gone cold; inf if still waiting),
    ``end`` (won, lost or gone cold; inf if open), ``outcome`` (code into
    :data:`LEAD_OUTCOMES`), ``acv`` (the annual value the deal would have), ``users``
    (the account's active users when a rep took it; 0 if never taken, or a prospect),
    ``p_close`` (its close probability then, from its footprint; NaN if never taken).
    """

    horizon: float
    price_per_seat: float
    serving_cost_per_month: float
    users: dict[str, np.ndarray]
    teams: dict[str, np.ndarray]
    paid: dict[str, np.ndarray]
    counters: dict[str, float]
    market_people: float
    leads: dict[str, np.ndarray]
    sales_servers: int = 0
    sales_cost_per_month: float = 0.0
    trace: list[tuple[float, str, int, int]] | None = None
    #: The run's settings: what a paying team pays (:meth:`Settings.bill`).
    settings: Settings | None = None


# -- the data columns, each declared once ---------------------------------------------------
#
# A column is (name, array typecode, how the Outcome carries it): "" as stored, "bool" as
# booleans, None not at all (working state of the run).  ``Model`` holds each as a typed
# ``array`` attribute, the table's prefix + name (``self.u_signup``, ``self.c_state``), and
# its ``Sales`` the lead table's (``self.sales.l_acv``, LEAD_COLUMNS); :meth:`Model._outcome`
# reads them as numpy arrays of the typecode's dtype.  The Outcome's dicts follow the
# tables' order.

#: numpy dtype of each array typecode used here (same item size, so views need no copy)
_DTYPES = {"b": np.dtype(np.int8), "i": np.dtype(np.int32), "d": np.dtype(np.float64)}

#: One row per signup.
USER_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("company", "i", ""),
    ("channel", "b", ""),
    ("signup", "d", ""),
    ("value", "d", ""),
    ("abandon", "d", ""),
    ("start", "d", ""),
    ("end", "d", ""),
    ("state", "b", ""),
    ("inviter", "i", ""),
    ("commitment", "d", None),  # z ~ N(0, 1), drawn once: scales patience; the card
)

#: One row per company touched (c_remaining and c_cumsize, numpy arrays, are kept apart).
TEAM_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("created", "d", ""),
    ("size", "i", ""),
    ("paywall", "d", ""),
    ("trial_end", "d", ""),
    ("trial_converted", "b", "bool"),
    ("paid_start", "d", ""),  # the first self-serve payment (every spell: PAID_COLUMNS)
    ("prospect", "b", "bool"),  # came to be as a sales prospect, not by a signup
    ("contract_start", "d", ""),
    ("contract_end", "d", ""),
    ("contract_acv", "d", ""),
    ("contract_seats", "i", ""),
    ("access_end", "d", ""),
    ("ready", "d", ""),  # production value: the setup done (NaN: not, or given up)
    ("state", "b", ""),
    ("active", "i", None),
    ("pending", "b", None),  # a paywall decision is under way
    ("usage", "d", None),  # usage accrued up to c_usage_t
    ("usage_t", "d", None),
    ("usage_due", "d", None),  # earliest usage check on the calendar
    ("limit", "b", None),  # the free-tier limit of its last paywall (_SEATS, _USAGE_LIMIT): a
    #                        capped team is capped by it
    ("wtp", "d", ""),  # willingness to pay, $ per seat per month (a one-user team's value
    #                    of a seat), drawn when it is materialised: see _values
    ("intensity", "d", ""),  # usage intensity (mean 1; 1 without pricing.usage_spread): its
    #                          users' usage rate, its value and its metered bill scale with it
    ("decide_u", "d", None),  # the uniform of its first paywall or trial-end decision,
    #                           drawn when it is materialised (NaN once used): see _decision_draw
    ("reopened", "d", None),  # last bought after losing the product (a trial ended, or a
    #                           cancellation): when (NaN if never); earlier users' spells ended
    ("lapse", "b", None),  # without the product, may it buy again when someone new comes:
    #                        _CLOSED, _AFTER_TRIAL, _CANCELLED
    ("spell", "i", None),  # its current (or last) paid spell: a row of PAID_COLUMNS, -1 if none
    ("setup", "b", None),  # with the sandbox, the setup's progress (_SETUP_NONE ...)
    ("onb_until", "d", None),  # with the sandbox, when its last onboarding signup is done
    ("deferred", "b", None),  # a paywall decision waits for the setup
    ("tier", "b", None),  # with a second paid tier, a paying team's tier: _TIER1 ...
    ("tier_pending", "b", None),  # its decision to move up to the second tier is under way
)

#: One row per self-serve paid spell (a team may have several).
PAID_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("company", "i", ""),
    ("start", "d", ""),
    ("end", "d", ""),  # inf: still paying at the horizon
    ("how", "b", ""),  # code into PAID_STARTS
    ("upsold", "b", "bool"),  # ended because a contract replaced it
    ("closed_since", "d", ""),  # it reopened a company without the product since then (NaN: no)
    ("tier2", "d", ""),  # when it moved up to the second paid tier (inf: never)
)

#: Codes of ``c_lapse``: why a company without the product may buy again when someone new
#: comes (its paywall, once per loss of the product), or that it may not.
_CLOSED, _AFTER_TRIAL, _CANCELLED = 0, 1, 2
#: Each reopening kind: the paid spell it starts, its counters (paywall hits, purchases,
#: declines) and its trace events (the paywall, the decline; a purchase logs PAID_STARTS).
_REOPEN = {
    _AFTER_TRIAL: (BOUGHT_AFTER_TRIAL, "after_trial_paywall_hits", "after_trial_buys",
                   "after_trial_declines", "paywall:after_trial", "declined:after_trial"),
    _CANCELLED: (WON_BACK, "winback_paywall_hits", "winbacks", "winback_declines",
                 "paywall:winback", "declined:winback"),
}

#: Codes of ``c_setup`` (with the sandbox): no setup to do (a sales prospect, or no sandbox),
#: under way, done (production value), given up.
_SETUP_NONE, _SETUP_RUNNING, _SETUP_DONE, _SETUP_GIVEN_UP = 0, 1, 2, 3

#: Codes of ``c_limit``: which free-tier limit brought a team to the paywall.
_NO_LIMIT, _SEATS, _USAGE_LIMIT = 0, 1, 2

#: Codes of ``c_tier`` (with a second paid tier): a paying team on the first tier, on the
#: second, or staying on the first after declining to move up, capped by its seat limit or
#: by its usage limit (its usage held at the limit's pace).
_TIER1, _TIER2, _TIER1_CAPPED_SEATS, _TIER1_CAPPED_USAGE = 0, 1, 2, 3

#: Each of the model's tables with the prefix of its attributes on ``Model``.
_TABLES = (("u_", USER_COLUMNS), ("c_", TEAM_COLUMNS), ("p_", PAID_COLUMNS))


class Model:
    """One replication of one scenario.

    ``params`` is the run's :class:`~flywheel.scenario.settings.Settings`, or a mapping of
    parameter paths to converted values (a resolved scenario's ``values``) to build them
    from; ``horizon`` (days) overrides theirs.  ``seq`` is the replication's seed
    sequence.
    """

    def __init__(self, params: Settings | Mapping[str, Any], seq: np.random.SeedSequence,
                 horizon: float | None = None, trace: bool = False) -> None:
        self.settings = st = Settings.of(params, horizon)
        self.H = st.horizon
        self.env = simpy.Environment()
        self.streams = s = Streams(seq)
        self.trace: list[tuple[float, str, int, int]] | None = [] if trace else None

        # -- settings used in hot paths, copied to attributes ---------------------------
        self.model = st.pricing.model
        self.trial_plan = st.pricing.trial
        self.reverse_trial = st.pricing.reverse_trial
        self.seat_limit = st.free_tier.seat_limit
        self.usage_limit = st.free_tier.usage_limit
        self.usage_rate = st.free_tier.usage_per_user
        self.upgrade_p = st.pricing.upgrade_probability
        self.pricing = st.pricing  # willingness to pay: every buying decision's test
        self.price = st.pricing.price_per_seat
        self.acceptance = st.collaboration.acceptance
        self.invite_factor = st.onboarding.invited_ttv_factor
        self.sandbox = st.onboarding.sandbox
        self.friction_applies = st.onboarding.friction_applies
        self.starter_share = st.starter_share
        self.offer_threshold = st.offer_threshold
        self.starter_threshold = st.commitment_threshold
        # with the sandbox, buying needs the company's setup done (production value)
        self.setup_apart = st.onboarding.setup_for_production
        self.trial_convert = st.trial_convert_probability
        self.trial_length = st.trial.length
        self.sales_led = st.pricing.sales_led
        # companies above this many people are sold sales-led (0: all; inf: none)
        self.sales_led_above = st.sales_led_above
        self.hybrid = 0.0 < self.sales_led_above < _INF
        self.pql_on = st.sales.pql_on
        self.track_usage = st.track_usage
        # a second paid tier: the first tier's limits (seats; usage units a day), the
        # second's price per seat (annual discount off) and the probability of moving up
        self.tiers = st.pricing.tiers
        self.tier1_seats = st.pricing.tier1_seat_limit if self.tiers else 0
        self.tier1_pace = st.pricing.tier1_usage_limit / DAYS_PER_MONTH if self.tiers else 0.0
        self.tier2_price = st.tier2_seat_bill
        self.tier_p = st.pricing.tier2_upgrade_probability

        # -- buffered draws, one stream per mechanism -----------------------------------
        onb = st.onboarding
        self.ttv = Buffered(onb.effective_ttv, s["sandbox_ttv" if self.sandbox else "ttv"])
        self.friction = Buffered(onb.setup_friction, s["friction"])
        self.patience = Buffered(onb.patience, s["patience"])
        # commitment: patience x exp(spread z - spread^2 / 2), mean 1 over people
        self.commitment = Buffered(STANDARD_NORMAL, s["commitment"])
        self.spread = onb.commitment_spread
        self.spread_shift = -0.5 * self.spread * self.spread
        self.no_show = onb.no_show
        self.show_u = Buffered(STANDARD_UNIFORM, s["no_show"])
        self.invites = Buffered(st.collaboration.invites, s["invites"])
        self.invite_delay = Buffered(st.collaboration.invite_delay, s["invite_delay"])
        self.accept_u = Buffered(STANDARD_UNIFORM, s["invite_accept"])
        self.invite_round_u = Buffered(STANDARD_UNIFORM, s["invite_round"])
        # a company's first paywall or trial-end decision uses a uniform drawn when the
        # company is materialised (stream "paywall"); any later one draws from its own
        self.first_decision = s["paywall"]
        self.decision_u = Buffered(STANDARD_UNIFORM, s["paywall_again"])
        self.decision_delay = Buffered(st.pricing.decision_delay, s["decision_delay"])
        # each company's willingness to pay, drawn when it is materialised (stream "wtp"),
        # so the same company values the product the same whatever the price
        self.wtp_stream = s["wtp"]
        # each company's usage intensity, likewise (stream "usage_intensity"; none drawn
        # without a spread: every company at 1)
        self.intensity_stream = s["usage_intensity"] if st.pricing.usage_spread > 0 else None
        # an annual plan's cancellation waits for its renewal
        self.annual = st.pricing.annual
        # a company that lost the product deciding whether to buy again (after its trial,
        # a win-back): the paywall's probability and delay, drawn from streams of their own
        self.reopen_u = Buffered(STANDARD_UNIFORM, s["reopen"])
        self.reopen_delay = Buffered(st.pricing.decision_delay, s["reopen_delay"])
        # a first-tier team at one of its limits deciding whether to move up: the paywall's
        # delay, and a probability draw, each from a stream of its own
        if self.tiers:
            self.tier_u = Buffered(STANDARD_UNIFORM, s["tier_upgrade"])
            self.tier_delay = Buffered(st.pricing.decision_delay, s["tier_delay"])
        self.churn_u = Buffered(STANDARD_EXPONENTIAL, s["churn"])
        self.paid_churn_u = Buffered(STANDARD_EXPONENTIAL, s["paid_churn"])
        tenure = st.retention.tenure
        self.churn_scale, self.churn_shape = tenure.scale, tenure.inverse_shape
        self.paid_churn_scale = st.paid.tenure.scale

        # -- market: company sizes by value, materialised lazily --------------------------
        self.size_values, self.size_counts = _size_histogram(
            st.market.team_size, st.market.companies, s["team_size"])
        self.market_people = float(np.dot(self.size_values, self.size_counts))
        self.untouched_people = self.market_people

        # -- users and teams: typed columns (see USER_COLUMNS, TEAM_COLUMNS) ---------------
        for prefix, columns in _TABLES:
            for name, typecode, _ in columns:
                setattr(self, prefix + name, array(typecode))
        self.c_remaining = np.zeros(1024, dtype=np.int64)  # potential users not yet reached
        self.c_cumsize = np.zeros(1024, dtype=np.float64)  # people in companies 0..i
        self.touched_people = 0.0
        self.waiting: dict[int, list[int]] = {}
        # people knocking at a company that lost the product (its trial ended, or it
        # cancelled), while it decides whether to buy again: (channel, inviter)
        self.knocking: dict[int, list[tuple[int, int]]] = {}

        # -- running state ----------------------------------------------------------------
        self.n_active = 0
        self.heap: list[tuple] = []  # entries of the current day, in time order
        self.day_end = 0.0
        self.buckets: list[list[tuple]] = [[] for _ in range(int(math.ceil(self.H)) + 1)]
        self.next_simpy = 0.0
        self._seq = itertools.count()
        self.counters: dict[str, float] = {
            "contacts": 0, "contacts_lost": 0, "offer_declined": 0, "card_refused": 0, "invites_sent": 0,
            "invites_accepted": 0, "invites_no_one_left": 0, "paywall_hits": 0,
            "paywall_upgrades": 0, "paywall_declines": 0, "capped_seats": 0, "capped_usage": 0,
            "priced_out": 0,
            "turned_away": 0, **dict.fromkeys(_TURNED_AWAY, 0),
            **{name: 0 for kind in _REOPEN.values() for name in kind[1:4]},
            "setup_done": 0, "setup_abandoned": 0, "paywall_waited_for_setup": 0,
            "tier_decisions": 0, "tier_upgrades": 0, "tier_upgrade_seats": 0,
            "tier_capped_seats": 0, "tier_capped_usage": 0,
            **dict.fromkeys(SALES_COUNTERS, 0),
        }

        # -- the sales motion: PQLs, cold leads, the reps' queue, contracts --------------
        self.servers = st.sales.servers  # deal slots of the reps' queue (0: no sales team)
        self.sales = Sales(self, st, s)

    # ---------------------------------------------------------------------------------
    # running
    # ---------------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Run to the horizon and return the outcome."""
        env, heap, H = self.env, self.heap, self.H
        env.process(self._acquisition())
        pop = heapq.heappop
        handlers = (self._on_activate, self._on_churn, self._on_invitee, self._on_usage,
                    self.sales.on_pql_usage, self._on_joiner)
        while True:
            # drain the per-user calendar up to the next SimPy event (SimPy first on ties);
            # handlers that schedule a SimPy event lower self.next_simpy (see _at)
            self.next_simpy = env.peek()
            while heap and heap[0][0] < self.next_simpy and heap[0][0] < H:
                t, _, kind, a, b = pop(heap)
                handlers[kind](t, a, b)
            if env.peek() >= H:
                break
            env.step()
        return self._outcome()

    def inject(self, t: float, sizes: list[int] | np.ndarray, channel: int = ORGANIC) -> None:
        """Before :meth:`run`: at time ``t``, one founding signup in each of ``len(sizes)``
        new companies of the given sizes (outside the drawn market).

        For worked examples and closed-form checks: seed users of a branching
        process, a cohort for a retention curve, one team's story.
        """
        sizes = np.asarray(sizes, dtype=np.int64)

        def arrive(_: simpy.Event) -> None:
            times = np.full(len(sizes), float(t))
            ids = self._new_companies(times, sizes)
            self._signups(times, np.full(len(sizes), channel, dtype=np.int8), ids,
                          self.commitment.take(len(sizes)))

        ev = self.env.timeout(t)
        ev.callbacks.append(arrive)

    def _push(self, t: float, kind: int, a: int, b: int = 0) -> None:
        """Put a per-user event on the calendar: today's heap, or the bucket of its day;
        nothing at or past the horizon (nor at NaN).

        Keeping later days in unsorted buckets keeps the heap small (a heap pop
        costs ~1 µs with a day's entries, ~4 µs with a year's).
        """
        if not t < self.H:
            return
        if t < self.day_end:
            heapq.heappush(self.heap, (t, next(self._seq), kind, a, b))
        else:
            self.buckets[int(t)].append((t, next(self._seq), kind, a, b))

    def _open_day(self, day: int, day_end: float) -> None:
        """Move the bucket of ``day`` onto the heap (called by the daily process)."""
        self.day_end = day_end
        bucket = self.buckets[day]
        if bucket:
            self.heap.extend(bucket)
            heapq.heapify(self.heap)
            self.buckets[day] = []

    def _at(self, t: float, callback: Any, value: Any) -> None:
        """Schedule a SimPy event at absolute time ``t`` (``t`` >= now); nothing at or past
        the horizon (nor at NaN)."""
        if not t < self.H:
            return
        ev = self.env.timeout(t - self.env.now, value)
        ev.callbacks.append(callback)
        if t < self.next_simpy:
            self.next_simpy = t

    def _log(self, t: float, what: str, user: int, company: int) -> None:
        if self.trace is not None:
            self.trace.append((t, what, user, company))

    def _book_pql_usage(self, t: float, c: int) -> None:
        """The sales motion's check of team ``c``'s usage signal, on the calendar at ``t``."""
        self._push(t, _PQL_USAGE, c)

    def _roll_out(self, t: float, c: int) -> None:
        """A user for one of team ``c``'s contract seats signs up at ``t`` (channel sales)."""
        self._push(t, _INVITEE, c, _ROLLOUT)

    # ---------------------------------------------------------------------------------
    # acquisition: one SimPy process, one step a day
    # ---------------------------------------------------------------------------------

    def _acquisition(self):  # noqa: ANN202 (a SimPy process generator)
        env, H = self.env, self.H
        acq = self.settings.acquisition
        organic = acq.organic_rate
        paid = acq.paid_contacts
        referral = acq.referral
        outbound = self.settings.sales.outbound_rate
        sales = self.sales
        streams = self.streams
        day = 0
        while day < H:
            t0, t1 = float(day), min(float(day + 1), H)
            dt = t1 - t0
            self._open_day(day, t1)
            rates = (organic(t0 + dt / 2), paid, referral * self.n_active)
            times, chans = [], []
            for ch, (name, rate) in enumerate(zip(("organic", "paid", "referral"), rates, strict=True)):
                if rate <= 0:
                    continue
                g = streams[name]
                n = int(g.poisson(rate * dt))
                if n:
                    times.append(t0 + dt * g.random(n))
                    chans.append(np.full(n, ch, dtype=np.int8))
            if times:
                t = np.concatenate(times)
                c = np.concatenate(chans)
                order = np.argsort(t, kind="stable")
                self._contacts(t[order], c[order])
            if outbound > 0:
                sales.prospect(t0, dt)
            day += 1
            if t1 < H:
                yield env.timeout(t1 - env.now)

    def _contacts(self, times: np.ndarray, chans: np.ndarray) -> None:
        """Turn a day's contacts into signups: each reaches a random person of the market."""
        n = len(times)
        self.counters["contacts"] += n
        n_touched = len(self.c_state)
        u = self.streams["market"].random(n) * (self.untouched_people + self.touched_people)
        new = u < self.untouched_people
        companies = np.full(n, -1, dtype=np.int64)

        # a contact with a touched company reaches one of its people, who may have signed
        # up already (the contact is lost) or not (they join the team)
        if n_touched and not new.all():
            pos = np.flatnonzero(~new)
            x = u[pos] - self.untouched_people
            cum = self.c_cumsize[:n_touched]
            idx = np.minimum(np.searchsorted(cum, x, side="right"), n_touched - 1)
            size = np.frombuffer(self.c_size, dtype=np.int32)[idx].astype(np.float64)
            offset = x - (cum[idx] - size)
            remaining = self.c_remaining[idx]
            fresh = offset >= size - remaining
            # a company in the sales pipeline has no product to sign up to; one sold
            # sales-led (every one in a sales-led motion, the hybrid's large ones) has it
            # only under contract
            st = np.frombuffer(self.c_state, dtype=np.int8)[idx]
            fresh &= np.where(size > self.sales_led_above, st == CONTRACT, st != PROSPECT)
            pos, idx, remaining = pos[fresh], idx[fresh], remaining[fresh]
            # several contacts in one day may reach the same company: at most its remaining
            order = np.lexsort((times[pos], idx))
            sidx = idx[order]
            rank = np.arange(len(sidx)) - np.searchsorted(sidx, sidx, side="left")
            ok = rank < remaining[order]
            companies[pos[order][ok]] = sidx[ok]
            np.subtract.at(self.c_remaining, sidx[ok], 1)

        # contacts that reach an untouched company: the company is materialised now
        # every would-be founder has a commitment, drawn whatever the scenario (the same
        # people get the same one); a time-limited offer puts off the least committed, and
        # a card more of them: only those above the threshold start
        commitment = np.full(n, _NAN)
        if new.any():
            pos = np.flatnonzero(new)
            z = self.commitment.take(len(pos))
            sizes = None
            if self.hybrid:  # the company decides the motion: a large one is sold sales-led
                sizes = self._draw_sizes(len(pos))
                pos, z = pos[:len(sizes)], z[:len(sizes)]
                large = sizes > self.sales_led_above
                self.sales.inbound(times[pos[large]], sizes[large])
                pos, z, sizes = pos[~large], z[~large], sizes[~large]
            if self.starter_share < 1.0:
                agree = z >= self.starter_threshold
                offered = z >= self.offer_threshold
                self.counters["offer_declined"] += int((~offered).sum())
                self.counters["card_refused"] += int((offered & ~agree).sum())
                pos, z = pos[agree], z[agree]
                if sizes is not None:  # those who did not start leave their company untouched
                    self._return_sizes(sizes[~agree])
                    sizes = sizes[agree]
            if self.sales_led:  # no product to try: some ask for a demo, the rest leave
                self.sales.inbound(times[pos])
            elif len(pos):
                if sizes is None:
                    sizes = self._draw_sizes(len(pos))
                pos = pos[:len(sizes)]
                companies[pos] = self._new_companies(times[pos], sizes)
                commitment[pos] = z[:len(pos)]

        sel = companies >= 0
        self.counters["contacts_lost"] += int(n - sel.sum())
        # a company's first signup sets it up now; a person reached in a touched company
        # (reserved above) arrives at their own time, when the company may have lost the
        # product (_on_joiner)
        first = sel & new
        if first.any():
            self._signups(times[first], chans[first], companies[first], commitment[first])
        joiners = np.flatnonzero(sel & ~new)
        push = self._push
        for t, c, ch in zip(times[joiners].tolist(), companies[joiners].tolist(),
                            chans[joiners].tolist(), strict=True):
            push(t, _JOINER, c, ch)

    def _draw_sizes(self, k: int, above: float = -1.0) -> np.ndarray:
        """Sizes of k newly reached companies: size-biased (a contact is a person), without
        replacement from the untouched companies (of more than ``above`` people: the
        hybrid's outbound prospects only its large companies)."""
        g = self.streams["team_size"]
        vals, counts = self.size_values, self.size_counts
        out = np.empty(0, dtype=np.int64)
        need = k
        while need > 0:
            w = vals * counts
            if above >= 0:
                w = np.where(vals > above, w, 0)
            tot = w.sum()
            if tot <= 0:
                break
            pick = g.choice(len(vals), size=need, p=w / tot)
            got = np.bincount(pick, minlength=len(vals))
            take = np.minimum(got, counts)
            counts -= take
            out = np.concatenate([out, np.repeat(vals, take)])
            need -= int(take.sum())
        g.shuffle(out)  # fewer than k when the market runs out of companies
        self.untouched_people = float(np.dot(vals, counts))
        return out

    def _return_sizes(self, sizes: np.ndarray) -> None:
        """Companies drawn by :meth:`_draw_sizes` that were not materialised after all (the
        contact left): back among the untouched."""
        if len(sizes):
            np.add.at(self.size_counts, np.searchsorted(self.size_values, sizes), 1)
            self.untouched_people = float(np.dot(self.size_values, self.size_counts))

    def _new_companies(self, times: np.ndarray, sizes: np.ndarray,
                       state: int | None = None) -> np.ndarray:
        k = len(times)
        first = len(self.c_state)
        ids = np.arange(first, first + k)
        need = first + k
        if need > len(self.c_remaining):
            cap = max(need, 2 * len(self.c_remaining))
            self.c_remaining = _grow(self.c_remaining, cap, first)
            self.c_cumsize = _grow(self.c_cumsize, cap, first)
        # the first signup takes one of the company's people; a prospect has no signup yet
        taken = 0 if state == PROSPECT else 1
        self.c_remaining[first:need] = np.maximum(sizes - taken, 0)
        self.c_cumsize[first:need] = self.touched_people + np.cumsum(sizes)
        self.touched_people += float(sizes.sum())
        self.c_created.frombytes(times.astype(np.float64).tobytes())
        self.c_size.frombytes(sizes.astype(np.int32).tobytes())
        if state is None:
            state = TRIAL if self.trial_plan else FREE
        self.c_active.extend(array("i", [0]) * k)
        self.c_state.extend(array("b", [state]) * k)
        self.c_pending.extend(array("b", [0]) * k)
        self.c_usage.extend(array("d", [0.0]) * k)
        self.c_usage_t.frombytes(times.astype(np.float64).tobytes())
        self.c_usage_due.extend(array("d", [_INF]) * k)
        self.c_limit.extend(array("b", [_NO_LIMIT]) * k)
        self.c_reopened.extend(array("d", [_NAN]) * k)
        self.c_decide_u.frombytes(self.first_decision.random(k).tobytes())
        wtp = self.pricing.willingness_to_pay.sample(self.wtp_stream, k)
        self.c_wtp.frombytes(np.asarray(wtp, dtype=np.float64).tobytes())
        if self.intensity_stream is None:
            self.c_intensity.extend(array("d", [1.0]) * k)
        else:
            intensity = self.pricing.sample_intensity(self.intensity_stream, k)
            self.c_intensity.frombytes(np.asarray(intensity, dtype=np.float64).tobytes())
        self.c_lapse.extend(array("b", [_CLOSED]) * k)
        self.c_spell.extend(array("i", [-1]) * k)
        setup = self.setup_apart and state != PROSPECT
        self.c_setup.extend(array("b", [_SETUP_RUNNING if setup else _SETUP_NONE]) * k)
        self.c_onb_until.extend(array("d", [-_INF]) * k)
        self.c_deferred.extend(array("b", [0]) * k)
        self.c_tier.extend(array("b", [_TIER1]) * k)
        self.c_tier_pending.extend(array("b", [0]) * k)
        for col, v in ((self.c_paywall, _NAN), (self.c_trial_end, _NAN),
                       (self.c_paid_start, _NAN),
                       (self.c_access_end, _INF), (self.c_ready, _NAN), (self.c_contract_start, _NAN),
                       (self.c_contract_end, _INF), (self.c_contract_acv, 0.0)):
            col.extend(array("d", [v]) * k)
        self.c_trial_converted.extend(array("b", [0]) * k)
        self.c_prospect.extend(array("b", [state == PROSPECT]) * k)
        self.c_contract_seats.extend(array("i", [0]) * k)
        self.sales.add_companies(k)
        if setup:
            # the setup starts at the first signup (stream "friction", as the setup friction
            # it is without the sandbox); booked before the trial's end, so a setup done at
            # the trial's last instant counts
            done = times + self.friction.take(k)
            for c, t in zip(ids.tolist(), done.tolist(), strict=True):
                self._at(t, self._on_setup, c)
        if state == TRIAL:
            for c, t in zip(ids.tolist(), times.tolist(), strict=True):
                self._at(t + self.trial_length, self._on_trial_end, c)
        return ids

    def _signups(self, times: np.ndarray, chans: np.ndarray, companies: np.ndarray,
                 commitment: np.ndarray) -> None:
        """Append a batch of first signups of new companies (sorted by time), with their
        commitments, and schedule their onboarding.  (A later signup into a company arrives
        by :meth:`_arrive`.)"""
        k = len(times)
        first_user = len(self.u_state)
        # the first signup of a company sets it up: setup friction applies to it only
        created = np.frombuffer(self.c_created, dtype=np.float64)[companies]
        creator = times == created
        ttv = self.ttv.take(k)
        if self.friction_applies:
            fr = self.friction.take(k)
            ttv = ttv + np.where(creator, fr, 0.0)
        patience = self.patience.take(k)
        if self.spread:
            patience = patience * np.exp(self.spread * commitment + self.spread_shift)
        shows = self.show_u.take(k) >= self.no_show  # no-shows leave at signup
        patience = np.where(shows, patience, 0.0)
        act = shows & (ttv <= patience)
        value = np.where(act, times + ttv, np.nan)
        abandon = np.where(act, np.nan, times + patience)
        state = np.full(k, ONBOARDING, dtype=np.int8)
        end = np.full(k, np.inf)

        self.u_company.frombytes(companies.astype(np.int32).tobytes())
        self.u_channel.frombytes(chans.astype(np.int8).tobytes())
        self.u_signup.frombytes(times.tobytes())
        self.u_value.frombytes(value.tobytes())
        self.u_abandon.frombytes(abandon.tobytes())
        self.u_start.extend(array("d", [_NAN]) * k)
        self.u_end.frombytes(end.tobytes())
        self.u_state.frombytes(state.tobytes())
        self.u_inviter.extend(array("i", [-1]) * k)
        self.u_commitment.frombytes(commitment.astype(np.float64).tobytes())
        if self.setup_apart:  # (each is its company's first signup)
            onb = self.c_onb_until
            for c, x in zip(companies.tolist(), np.where(act, value, abandon).tolist(),
                            strict=True):
                onb[c] = max(onb[c], x)

        due = np.flatnonzero(value < self.H)
        push, seq, heap, buckets, day_end = (heapq.heappush, self._seq, self.heap, self.buckets,
                                             self.day_end)
        for i, t in zip(due.tolist(), value[due].tolist(), strict=True):
            entry = (t, next(seq), _ACTIVATE, first_user + i, 0)
            if t < day_end:
                push(heap, entry)
            else:
                buckets[int(t)].append(entry)
        if self.trace is not None:
            for i in range(k):
                uid = first_user + i
                c = int(companies[i])
                self._log(float(times[i]), f"signup:{CHANNELS[chans[i]]}", uid, c)
                if not math.isnan(abandon[i]) and abandon[i] < self.H:
                    self._log(float(abandon[i]), "abandoned", uid, c)

    # ---------------------------------------------------------------------------------
    # per-user calendar handlers
    # ---------------------------------------------------------------------------------

    def _on_invitee(self, t: float, c: int, inviter: int) -> None:
        """An accepted invite arrives: the invitee signs up into the inviter's company (or a
        contract's rolled-out seat gets its user)."""
        self._arrive(t, c, INVITE if inviter >= 0 else SALES, max(inviter, -1))

    def _on_joiner(self, t: float, c: int, channel: int) -> None:
        """A contact who reached a person of a touched company arrives."""
        self._arrive(t, c, channel, -1)

    def _arrive(self, t: float, c: int, channel: int, inviter: int) -> None:
        """Someone of company ``c`` comes to sign up.  A company that has the product takes
        them in; one that has lost it does not: if it may buy again (its trial ended without
        buying, or it cancelled a self-serve paid plan, and it has not declined since), it
        meets the paywall (they wait for its decision), else they are turned away (a
        contract that ended, a prospect never won, a company that declined)."""
        if self.c_state[c] != NO_ACCESS:
            self._join(t, c, channel, inviter)
        elif self.c_lapse[c] != _CLOSED:
            self.knocking.setdefault(c, []).append((channel, inviter))
            if not self.c_pending[c]:
                self._reopen_paywall(t, c)
        else:
            self._turn_away(t, c, channel)

    def _turn_away(self, t: float, c: int, channel: int) -> None:
        """Someone of a company without the product leaves: not a signup, only counted."""
        counters = self.counters
        counters["turned_away"] += 1
        counters[_TURNED_AWAY[channel]] += 1
        if self.trace is not None:
            self._log(t, f"turned_away:{CHANNELS[channel]}", -1, c)

    def _join(self, t: float, c: int, channel: int, inviter: int) -> None:
        """A signup into company ``c`` (which has the product) at ``t``: it onboards (no setup
        friction; an invitee's or a rolled-out seat's TTV is scaled by the invitee factor)."""
        uid = len(self.u_state)
        self.u_company.append(c)
        self.u_channel.append(channel)
        self.u_signup.append(t)
        self.u_start.append(_NAN)
        self.u_inviter.append(inviter)
        self.u_end.append(_INF)
        self.u_state.append(ONBOARDING)
        trace = self.trace is not None
        if trace:
            self._log(t, f"signup:{CHANNELS[channel]}", uid, c)
        ttv = self.ttv.one()
        if channel in (INVITE, SALES):  # invitees and rolled-out seats
            ttv *= self.invite_factor
        patience = self.patience.one()
        z = self.commitment.one()
        self.u_commitment.append(z)
        if self.spread:
            patience *= math.exp(self.spread * z + self.spread_shift)
        shows = self.show_u.one() >= self.no_show
        if shows and ttv <= patience:
            self.u_value.append(t + ttv)
            self.u_abandon.append(_NAN)
            self._push(t + ttv, _ACTIVATE, uid)
            if self.setup_apart and t + ttv > self.c_onb_until[c]:
                self.c_onb_until[c] = t + ttv
            return
        if not shows:  # a no-show leaves at signup
            patience = 0.0
        if self.setup_apart and t + patience > self.c_onb_until[c]:
            self.c_onb_until[c] = t + patience
        self.u_value.append(_NAN)
        self.u_abandon.append(t + patience)
        if trace and t + patience < self.H:
            self._log(t + patience, "abandoned", uid, c)

    def _on_activate(self, t: float, uid: int, _: int) -> None:
        """A user reaches value; they take a seat if the team's plan allows it."""
        c = self.u_company[uid]
        st = self.c_state[c]
        # the team lost access while the user was onboarding (and may have bought since,
        # after its trial or as a win-back: the user's spell in it ended with that access)
        if st == NO_ACCESS or self.u_signup[uid] < self.c_reopened[c]:
            return
        self._log(t, "activated", uid, c)
        if not self.setup_apart and math.isnan(self.c_ready[c]):
            self.c_ready[c] = t  # the setup was part of the TTV: first value is production's
        if st in (FREE, CAPPED) and self.seat_limit and self.c_active[c] >= self.seat_limit:
            if st == CAPPED:
                self.u_state[uid] = BLOCKED
                self.u_end[uid] = t
                self._log(t, "blocked", uid, c)
                return
            self.u_state[uid] = WAITING
            self.waiting.setdefault(c, []).append(uid)
            if not self.c_pending[c]:
                self._paywall(t, c, "seats")
            return
        if (st == PAYING and self.tier1_seats and self.c_tier[c] != _TIER2
                and self.c_active[c] >= self.tier1_seats):
            # the first paid tier's seat limit: the user waits for the team's decision to
            # move up, or is blocked by a team that stays on the first tier
            if self.c_tier[c] != _TIER1:
                self.u_state[uid] = BLOCKED
                self.u_end[uid] = t
                self._log(t, "blocked:tier1", uid, c)
                return
            self.u_state[uid] = WAITING
            self.waiting.setdefault(c, []).append(uid)
            if not self.c_tier_pending[c]:
                self._tier_decision(t, c, _SEATS)
            return
        self._seat(t, uid, c)

    def _seat(self, t: float, uid: int, c: int) -> None:
        """The user becomes active in team ``c``: churn clock, usage, invites."""
        self.u_state[uid] = ACTIVE
        self.u_start[uid] = t
        self._accrue(t, c)
        self.c_active[c] += 1
        self.n_active += 1
        if self.churn_scale < _INF:
            tc = t + self.churn_scale * self.churn_u.one() ** self.churn_shape
            self._push(tc, _CHURN, uid)
        self._usage_check(t, c)
        if self.pql_on:
            self.sales.pql_check(t, c)
        if self.tiers and self.c_state[c] == PAYING and self.c_tier[c] != _TIER2:
            # the first paid tier's limits: over its seat limit (a team that bought with
            # more users) or at its usage pace, the team meets the decision to move up;
            # at or over the seat limit its seats send no invites, as on the free tier
            if self.c_tier[c] == _TIER1 and not self.c_tier_pending[c]:
                if self.tier1_seats and self.c_active[c] > self.tier1_seats:
                    self._tier_decision(t, c, _SEATS)
                elif self.tier1_pace and (self.usage_rate * self.c_intensity[c]
                                          * self.c_active[c] >= self.tier1_pace):
                    self._tier_decision(t, c, _USAGE_LIMIT)
            if self.tier1_seats and self.c_active[c] >= self.tier1_seats:
                return
        # the seat limit holds invites too: a free or capped team at (or over) its limit
        # sends none; a team capped by its usage limit keeps inviting below the seat limit
        if not (self.seat_limit and self.c_state[c] in (FREE, CAPPED)
                and self.c_active[c] >= self.seat_limit):
            self._send_invites(t, uid, c)

    def _send_invites(self, t: float, uid: int, c: int) -> None:
        x = self.invites.one()
        n = int(x)
        if x > n and self.invite_round_u.one() < x - n:
            n += 1  # a fractional draw (gamma, uniform...) rounds up or down, keeping its mean
        if not n:
            return
        counters = self.counters
        counters["invites_sent"] += n
        rem = self.c_remaining
        for _ in range(n):
            if self.accept_u.one() >= self.acceptance:
                continue
            if rem[c] <= 0:
                counters["invites_no_one_left"] += 1
                continue
            rem[c] -= 1
            counters["invites_accepted"] += 1
            ta = t + self.invite_delay.one()
            self._log(t, "invite", uid, c)
            self._push(ta, _INVITEE, c, uid)

    def _on_churn(self, t: float, uid: int, _: int) -> None:
        c = self.u_company[uid]
        if (self.u_state[uid] != ACTIVE or self.c_state[c] == NO_ACCESS
                or self.u_signup[uid] < self.c_reopened[c]):  # (a seat of an earlier access)
            return
        self.u_state[uid] = CHURNED
        self.u_end[uid] = t
        self._accrue(t, c)
        self.c_active[c] -= 1
        self.n_active -= 1
        self._log(t, "churned", uid, c)
        if self.c_state[c] == PAYING and self.c_active[c] == 0:
            if self.annual:  # paid for the year: it cancels at its renewal if still empty
                spell = self.c_spell[c]
                renewal = self.pricing.renewal_after(self.p_start[spell], t)
                self._log(t, "empty:until_renewal", -1, c)
                self._at(renewal, self._on_empty_renewal, (c, spell))
                return
            self._end_paid(t, c)
            self._lose_access(t, c, "cancelled:no_users", _CANCELLED)
            return
        self._usage_check(t, c)
        if self.pql_on:
            self.sales.pql_usage_due(t, c)

    # -- usage limit -------------------------------------------------------------------

    def _accrue(self, t: float, c: int) -> None:
        """Bring team ``c``'s usage up to time ``t`` at its current number of active users.
        A capped team's usage is held at the free tier's usage limit: it grows no further
        (nor, if the paywall found it above the limit, falls)."""
        if self.track_usage:
            used = self.c_usage[c]
            if self.tiers:
                more = used + self._pace(c) * (t - self.c_usage_t[c])
            else:
                more = used + (self.usage_rate * self.c_intensity[c] * self.c_active[c]
                               * (t - self.c_usage_t[c]))
            if self.usage_limit and self.c_state[c] == CAPPED:
                more = min(more, max(used, self.usage_limit))
            self.c_usage[c] = more
            self.c_usage_t[c] = t

    def _pace(self, c: int) -> float:
        """Team ``c``'s usage per day: its active users x the usage rate x its intensity,
        held at the first paid tier's usage limit for a team that stayed on that tier
        capped by it."""
        pace = self.usage_rate * self.c_intensity[c] * self.c_active[c]
        if (self.tiers and self.c_tier[c] == _TIER1_CAPPED_USAGE
                and self.c_state[c] == PAYING):
            return min(pace, self.tier1_pace)
        return pace

    def _usage_check(self, t: float, c: int) -> None:
        """Make sure a check is on the calendar no later than team ``c`` uses up the free
        tier at its current pace.  A check that comes early (users churned since) finds
        usage short of the limit and books the next one."""
        if not self.usage_limit or self.c_state[c] != FREE or self.c_pending[c]:
            return
        left = self.usage_limit - self.c_usage[c]
        if left <= 1e-9:
            self._paywall(t, c, "usage")
            return
        pace = self.usage_rate * self.c_intensity[c] * self.c_active[c]
        if pace <= 0:
            return
        due = t + left / pace
        if due < self.c_usage_due[c] and due < self.H:
            self.c_usage_due[c] = due
            self._push(due, _USAGE, c)

    def _on_usage(self, t: float, c: int, _: int) -> None:
        if t != self.c_usage_due[c]:
            return  # superseded by an earlier check
        self.c_usage_due[c] = _INF
        self._accrue(t, c)
        self._usage_check(t, c)

    # ---------------------------------------------------------------------------------
    # team events (SimPy)
    # ---------------------------------------------------------------------------------

    def _decision_draw(self, c: int) -> float:
        """The uniform of company ``c``'s next paywall or trial-end decision (it buys if the
        uniform is below the probability).  Its first decision uses the one drawn when it
        was materialised, so the same company meets the same draw whatever else differs
        between two scenarios run with one seed (common random numbers: a shared stream
        read in the order of decisions would pair them only until one more team
        upgrades); later decisions draw from a stream of their own."""
        u = self.c_decide_u[c]
        if u == u:  # not NaN: unused
            self.c_decide_u[c] = _NAN
            return u
        return self.decision_u.one()

    def _values(self, c: int, n: int, price: float | None = None) -> bool:
        """Whether company ``c``, as a team of ``n`` users, values a seat at least at
        ``price`` (default: what a team of ``n`` seats would pay per seat under the
        scenario's charge and billing, :meth:`Settings.seat_bill`: the list price per seat
        when charging per seat monthly): its willingness to pay times n^value_growth times
        its usage intensity^usage_value.  Every buying decision asks it after its probability
        draw (which is drawn whatever the answer, so a price that never binds changes
        nothing); a team the draw would have let buy but the price stops is counted as
        ``priced_out``."""
        intensity = self.c_intensity[c]
        if price is None:
            ok = self.settings.buys(self.c_wtp[c], n, intensity)
        else:
            ok = self.pricing.buys_at(
                self.c_wtp[c] * self.pricing.intensity_factor(intensity), n, price)
        if ok:
            return True
        self.counters["priced_out"] += 1
        return False

    def _paywall(self, t: float, c: int, reason: str) -> None:
        """Team ``c`` meets the paywall: it decides after a delay."""
        self.c_pending[c] = True
        self.c_limit[c] = _SEATS if reason == "seats" else _USAGE_LIMIT
        self.counters["paywall_hits"] += 1
        if math.isnan(self.c_paywall[c]):
            self.c_paywall[c] = t
        self._log(t, f"paywall:{reason}", -1, c)
        td = t + self.decision_delay.one()
        self._at(td, self._on_decision, c)

    def _on_decision(self, ev: simpy.Event) -> None:
        c: int = ev.value
        t = self.env.now
        if self.c_state[c] != FREE:  # a contract replaced the free plan meanwhile
            self.c_pending[c] = False
            return
        if self.c_setup[c] == _SETUP_RUNNING:
            # buying needs production value: the team decides when its setup is done (or
            # given up), still deciding meanwhile (_on_setup)
            self.c_deferred[c] = 1
            self.counters["paywall_waited_for_setup"] += 1
            self._log(t, "paywall:waits_for_setup", -1, c)
            return
        self._decide(t, c)

    def _decide(self, t: float, c: int) -> None:
        """Free team ``c`` decides at the paywall: it upgrades with the upgrade probability
        if it values a seat at the price (its active and waiting users count), else it is
        capped by the limit that brought it there."""
        self.c_pending[c] = False
        waiting = self.waiting.pop(c, [])
        # a team with no one left (everyone churned while it decided) does not buy, nor does
        # one without production value (its setup given up: with the sandbox)
        if (self._decision_draw(c) < self.upgrade_p and (self.c_active[c] or waiting)
                and self._set_up(c) and self._values(c, self.c_active[c] + len(waiting))):
            self.counters["paywall_upgrades"] += 1
            self._start_paying(t, c, UPGRADE)
            for uid in waiting:
                self._seat(t, uid, c)
        else:
            self.counters["paywall_declines"] += 1
            self.counters["capped_seats" if self.c_limit[c] == _SEATS else "capped_usage"] += 1
            self._accrue(t, c)
            self.c_state[c] = CAPPED
            self._log(t, "declined", -1, c)
            for uid in waiting:
                self.u_state[uid] = BLOCKED
                self.u_end[uid] = t
                self._log(t, "blocked", uid, c)

    def _reopen_paywall(self, t: float, c: int) -> None:
        """Someone new comes to company ``c``, which lost the product and may buy again (its
        trial ended without buying, or it cancelled a paid plan): it meets the paywall and
        decides after a delay, as a free team does.  Once per loss of the product: a
        company that declines stays closed."""
        _, hits, _, _, paywall, _ = _REOPEN[self.c_lapse[c]]
        self.c_pending[c] = True
        self.counters[hits] += 1
        self._log(t, paywall, -1, c)
        self._at(t + self.reopen_delay.one(), self._on_reopen_decision, c)

    def _on_reopen_decision(self, ev: simpy.Event) -> None:
        """Company ``c`` decides: it buys with the paywall's upgrade probability if it values
        a seat at the price, as a team of the people who came (a new paid
        spell: after its trial, or a win-back), and the people who came meanwhile sign up
        now, as its first users of the new plan; or it stays closed and they are turned
        away."""
        c: int = ev.value
        t = self.env.now
        self.c_pending[c] = False
        how, _, buys, declines, _, declined = _REOPEN[self.c_lapse[c]]
        self.c_lapse[c] = _CLOSED  # once per loss of the product
        knocking = self.knocking.pop(c, [])
        # (with the sandbox, a company whose setup was not done cannot buy: it declines)
        if (self.reopen_u.one() < self.upgrade_p and self._set_up(c)
                and self._values(c, len(knocking))):
            self.counters[buys] += 1
            closed_since = self.c_access_end[c]
            self.c_reopened[c] = t
            self.c_access_end[c] = _INF
            self._start_paying(t, c, how, closed_since)
            for channel, inviter in knocking:
                self._join(t, c, channel, inviter)
        else:
            self.counters[declines] += 1
            self._log(t, declined, -1, c)
            for channel, _ in knocking:
                self._turn_away(t, c, channel)

    def _set_up(self, c: int) -> bool:
        """Whether company ``c`` has production value, which buying needs: with the sandbox,
        its setup is done; without it, the setup was part of its first signup's TTV, and any
        team with a user who reached value is set up."""
        return not self.setup_apart or self.c_setup[c] == _SETUP_DONE

    def _on_setup(self, ev: simpy.Event) -> None:
        """With the sandbox, company ``c``'s setup (started at its first signup) ends: it is
        done, and the team has production value, if the company still has the product and
        someone working on it (an active user, or one still onboarding); otherwise the team
        has given up on it (its users all left, or none reached value).  A paywall decision
        that waited for the setup is taken now."""
        c: int = ev.value
        t = self.env.now
        st = self.c_state[c]
        if (st != NO_ACCESS and st != PROSPECT
                and (self.c_active[c] > 0 or self.c_onb_until[c] >= t)):
            self.c_setup[c] = _SETUP_DONE
            self.c_ready[c] = t
            self.counters["setup_done"] += 1
            self._log(t, "setup_done", -1, c)
        else:
            self.c_setup[c] = _SETUP_GIVEN_UP
            self.counters["setup_abandoned"] += 1
            self._log(t, "setup_abandoned", -1, c)
        if self.c_deferred[c]:
            self.c_deferred[c] = 0
            if self.c_state[c] == FREE:
                self._decide(t, c)
            else:
                self.c_pending[c] = False

    def _start_paying(self, t: float, c: int, how: int, closed_since: float = _NAN) -> None:
        """Team ``c`` starts a paid spell (a row of the paid table) at ``t``, begun ``how``
        (a code of PAID_STARTS, also its trace event); its cancellation time is drawn."""
        self._accrue(t, c)
        self.c_state[c] = PAYING
        if math.isnan(self.c_paid_start[c]):
            self.c_paid_start[c] = t
        spell = len(self.p_start)
        self.c_spell[c] = spell
        self.p_company.append(c)
        self.p_start.append(t)
        self.p_end.append(_INF)
        self.p_how.append(how)
        self.p_upsold.append(0)
        self.p_closed_since.append(closed_since)
        self.p_tier2.append(_INF)
        self._log(t, PAID_STARTS[how], -1, c)
        if self.paid_churn_scale < _INF:
            tc = t + self.paid_churn_scale * self.paid_churn_u.one()
            # an annual team's cancellation takes effect at its next renewal
            self._at(self.pricing.renewal_after(t, tc), self._on_paid_churn, (c, spell))
        if self.tiers:  # every paid spell starts on the first tier
            self.c_tier[c] = _TIER1
            self.c_tier_pending[c] = 0
            self._tier_check(t, c)

    # -- the second paid tier ------------------------------------------------------------

    def _tier_check(self, t: float, c: int) -> None:
        """A team that starts paying on the first tier (after a trial, or seating the users
        who waited at the paywall) with more users than its seat limit, or at its usage
        pace, meets the decision to move up at once; users beyond the limit keep their
        seats whatever it decides (as at a reverse trial's fall-back)."""
        if self.tier1_seats and self.c_active[c] > self.tier1_seats:
            self._tier_decision(t, c, _SEATS)
        elif self.tier1_pace and (self.usage_rate * self.c_intensity[c] * self.c_active[c]
                                  >= self.tier1_pace):
            self._tier_decision(t, c, _USAGE_LIMIT)

    def _tier_decision(self, t: float, c: int, limit: int) -> None:
        """First-tier team ``c`` reached one of the tier's limits (``limit``: _SEATS or
        _USAGE_LIMIT): it decides whether to move up after the paywall's decision delay."""
        self.c_tier_pending[c] = 1
        self._log(t, "tier1_limit:" + ("seats" if limit == _SEATS else "usage"), -1, c)
        self._at(t + self.tier_delay.one(), self._on_tier_decision,
                 (c, self.c_spell[c], limit))

    def _on_tier_decision(self, ev: simpy.Event) -> None:
        """Team ``c`` decides at the first tier's limit: it moves up to the second tier with
        probability ``pricing.tier2_upgrade_probability`` if it values a seat at the second
        tier's price, as a team of its active and waiting users (each of its seats is
        billed the second tier's price from now, and the waiting users take seats), else it
        stays on the first tier, capped by the limit it reached (waiting users blocked)."""
        c, spell, limit = ev.value
        if self.c_state[c] != PAYING or self.c_spell[c] != spell:
            return  # the plan ended meanwhile (its waiting users were blocked: _end_paid)
        t = self.env.now
        self.c_tier_pending[c] = 0
        waiting = self.waiting.pop(c, [])
        self.counters["tier_decisions"] += 1
        u = self.tier_u.one()
        n = self.c_active[c] + len(waiting)
        if u < self.tier_p and n and self._values(c, n, self.tier2_price):
            self.counters["tier_upgrades"] += 1
            self.counters["tier_upgrade_seats"] += self.c_active[c]
            self._accrue(t, c)
            self.c_tier[c] = _TIER2
            self.p_tier2[spell] = t
            self._log(t, "tier2", -1, c)
            for uid in waiting:
                self._seat(t, uid, c)
            return
        self._accrue(t, c)
        if limit == _SEATS:
            self.counters["tier_capped_seats"] += 1
            self.c_tier[c] = _TIER1_CAPPED_SEATS
        else:
            self.counters["tier_capped_usage"] += 1
            self.c_tier[c] = _TIER1_CAPPED_USAGE
        self._log(t, "declined:tier2", -1, c)
        for uid in waiting:
            self.u_state[uid] = BLOCKED
            self.u_end[uid] = t
            self._log(t, "blocked:tier1", uid, c)

    def _end_paid(self, t: float, c: int, upsold: bool = False) -> None:
        """Team ``c``'s paid spell ends at ``t``: cancelled, or (``upsold``) replaced by a
        contract."""
        spell = self.c_spell[c]
        self.p_end[spell] = t
        if upsold:
            self.p_upsold[spell] = 1
        if self.tiers and self.c_tier_pending[c]:
            # it was deciding whether to move up: those waiting for a seat beyond the first
            # tier's limit do not get one
            self.c_tier_pending[c] = 0
            for uid in self.waiting.pop(c, []):
                self.u_state[uid] = BLOCKED
                self.u_end[uid] = t

    def _on_paid_churn(self, ev: simpy.Event) -> None:
        c, spell = ev.value
        if self.c_state[c] != PAYING or self.c_spell[c] != spell:  # (an earlier spell's)
            return
        t = self.env.now
        self._end_paid(t, c)
        self._lose_access(t, c, "cancelled", _CANCELLED)

    def _on_empty_renewal(self, ev: simpy.Event) -> None:
        """An annual team whose last user left during its paid year reaches its renewal: it
        cancels if no one has taken a seat since (else it renews)."""
        c, spell = ev.value
        if self.c_state[c] != PAYING or self.c_spell[c] != spell or self.c_active[c] > 0:
            return
        t = self.env.now
        self._end_paid(t, c)
        self._lose_access(t, c, "cancelled:no_users", _CANCELLED)

    def _on_trial_end(self, ev: simpy.Event) -> None:
        c: int = ev.value
        if self.c_state[c] != TRIAL:  # a contract replaced the trial
            return
        t = self.env.now
        self.c_trial_end[c] = t
        # buying needs an active user and production value (with the sandbox, the setup
        # done; without it, an active user's team is set up), and a team that values a seat
        # at the price
        if (self.c_active[c] > 0 and self._set_up(c)
                and self._decision_draw(c) < self.trial_convert
                and self._values(c, self.c_active[c])):
            self.c_trial_converted[c] = 1
            self._start_paying(t, c, TRIAL_CONVERTED)
        elif self.reverse_trial:
            self._log(t, "trial_ended:free", -1, c)
            self._accrue(t, c)
            self.c_state[c] = FREE
            if self.seat_limit and self.c_active[c] > self.seat_limit:
                self._paywall(t, c, "seats")
            else:
                self._usage_check(t, c)
        else:
            self._lose_access(t, c, "trial_ended:lost_access", _AFTER_TRIAL)

    def _lose_access(self, t: float, c: int, why: str, lapse: int = _CLOSED) -> None:
        """Team ``c`` loses the product: its users' spells end now (settled in _outcome).
        ``lapse``: whether it may buy again when someone new comes (after its trial, after
        cancelling a paid plan) or stays closed (a contract ended, say)."""
        self._log(t, why, -1, c)
        self.c_state[c] = NO_ACCESS
        self.c_lapse[c] = lapse
        self.c_access_end[c] = t
        self.n_active -= self.c_active[c]
        self.c_active[c] = 0

    # ---------------------------------------------------------------------------------
    # outcome
    # ---------------------------------------------------------------------------------

    def _outcome(self) -> Outcome:
        H = self.H
        self.heap, self.buckets = [], []
        users, teams, paid = (_views(self, prefix, columns) for prefix, columns in _TABLES)
        leads = _views(self.sales, "l_", LEAD_COLUMNS)
        company, state, end = users["company"], users["state"], users["end"]
        abandon, value, u_signup = users["abandon"], users["value"], users["signup"]
        # each user's access ends with the company's access spell they signed up in: the
        # last one's at access_end; a company that bought again after losing the product
        # (after its trial, a win-back) had earlier spells, ended when it lost it
        cut = _access_cut(teams["access_end"], paid, company, u_signup)
        # the team lost access: active users' spells end then
        lost = (state == ACTIVE) & (cut <= H)
        state[lost] = LOST_ACCESS
        end[lost] = cut[lost]
        # onboarding users: gave up, lost access, or still onboarding at the horizon
        onb = state == ONBOARDING
        gave_up = onb & (abandon <= np.minimum(cut, H))
        state[gave_up] = ABANDONED
        lost_onb = onb & ~gave_up & (cut <= H)
        state[lost_onb] = LOST_ACCESS
        end[lost_onb] = cut[lost_onb]
        # value reached after the team lost access does not count
        late = (value >= cut) & (state == LOST_ACCESS)
        value[late] = np.nan
        value[value >= H] = np.nan
        abandon[(abandon >= H) | (state != ABANDONED)] = np.nan

        st = self.settings
        counters = dict(self.counters)
        # people waiting at a closed company's paywall at the horizon: no signups (yet)
        counters["knocking_end"] = sum(len(k) for k in self.knocking.values())
        counters["paid_spend"] = st.acquisition.paid_budget * H
        counters["sales_cost"] = st.sales.cost_per_day * H
        trace = sorted(self.trace, key=lambda r: r[0]) if self.trace is not None else None
        return Outcome(horizon=H, price_per_seat=st.pricing.price_per_seat,
                       serving_cost_per_month=st.costs.serving_cost_per_free_user,
                       users=users, teams=teams, paid=paid, counters=counters,
                       market_people=self.market_people, leads=leads,
                       sales_servers=self.servers,
                       sales_cost_per_month=st.sales.cost_per_day * DAYS_PER_MONTH, trace=trace,
                       settings=st)


# -- helpers ---------------------------------------------------------------------------------


def _views(owner: object, prefix: str, columns: tuple[tuple[str, str, str | None], ...]
           ) -> dict[str, np.ndarray]:
    """The Outcome's columns of one table held by ``owner`` (the model, or its sales
    motion), by name: numpy views of the arrays (no copy: the arrays keep their buffers
    alive; writing to a view writes to its array), or boolean copies."""
    out: dict[str, np.ndarray] = {}
    for name, typecode, carried in columns:
        if carried is None:
            continue
        col, dt = getattr(owner, prefix + name), _DTYPES[typecode]
        v = np.frombuffer(col, dtype=dt) if len(col) else np.empty(0, dt)
        out[name] = v.astype(bool) if carried == "bool" else v
    return out


def _access_cut(access_end: np.ndarray, paid: dict[str, np.ndarray], company: np.ndarray,
                signup: np.ndarray) -> np.ndarray:
    """When each user's company lost the product after their signup (inf: it has it).

    A company's access spells are cut by the paid spells that reopened it (``closed_since``
    set: bought after its trial, or won back): a user who signed up before such a
    reopening lost access when the company had lost it, ``closed_since`` of the first
    reopening after their signup; the others, at its ``access_end``."""
    cut = access_end[company] if len(company) else np.empty(0)
    again = np.flatnonzero(~np.isnan(paid["closed_since"]))
    if not len(again) or not len(company):
        return cut
    # (a company's reopenings, each with the users who signed up before it) -- sorted by
    # company and time, a reopening before a signup at the same instant (the users who
    # knocked join at the purchase: they belong to the new spell)
    last = np.full(len(access_end), -np.inf)
    np.maximum.at(last, paid["company"][again], paid["start"][again])
    old = np.flatnonzero(signup < last[company])
    if not len(old):
        return cut
    n_re = len(again)
    comp = np.concatenate([paid["company"][again], company[old]])
    time = np.concatenate([paid["start"][again], signup[old]])
    is_user = np.concatenate([np.zeros(n_re, bool), np.ones(len(old), bool)])
    order = np.lexsort((is_user, time, comp))
    # for each position, the next reopening at or after it in that order
    pos = np.where(is_user[order], len(order), np.arange(len(order)))
    nxt = np.minimum.accumulate(pos[::-1])[::-1]
    users_at = np.flatnonzero(is_user[order])
    reopening = order[nxt[users_at]]  # (index into `again`: each user's company has one later)
    cut[old[order[users_at] - n_re]] = paid["closed_since"][again[reopening]]
    return cut


def _grow(a: np.ndarray, cap: int, used: int) -> np.ndarray:
    out = np.zeros(cap, dtype=a.dtype)
    out[:used] = a[:used]
    return out


def _size_histogram(dist: Distribution, companies: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """How many companies of each size the market holds (sizes rounded, at least 1).

    The sizes' probabilities come from the distribution's CDF (:func:`size_pmf`); the
    counts are one multinomial draw, so a market of any size costs only as much as its
    distinct sizes.
    """
    s, pmf = size_pmf(dist)
    counts = rng.multinomial(companies, pmf)
    # only sizes some company has: a long-tailed distribution has many empty ones, and
    # every draw of sizes costs time in proportion to the sizes it chooses among
    held = counts > 0
    return s[held], counts[held].astype(np.int64)
