"""The sales motion of the discrete-event model: leads, the reps' queue, contracts.

What it models (``docs/model.md``, section 8, gives the full account):

* **Leads.**  A company on a self-serve plan becomes a *product-qualified lead* (PQL) when
  its footprint meets the PQL rule (active users and/or accrued usage), at most once per
  cool-down.  *Cold* leads are outbound prospects (untouched companies, drawn like a
  contact's; in the hybrid, only companies above its enterprise size) and, for the
  companies a motion sells to sales-led (all of them, or the hybrid's large ones),
  inbound enquiries from contacts that ask for a demo.  A cold lead's company is a
  *prospect*: it has no product until a deal.
* **The queue.**  The reps are one SimPy ``Resource`` with ``reps x rep_capacity`` deal
  slots.  Each lead is a SimPy process: it waits for a slot, going cold when its patience
  runs out first, then holds the slot for a cycle time.  When a rep takes it, the
  account's footprint (active users, their share of the company, accrued usage) sets its
  close probability (:meth:`~flywheel.scenario.settings.Sales.close_probability`, one
  function for every lead: a cold lead has no footprint and closes at the base rate), and
  at the cycle's end it is won with that probability.
* **Contracts.**  A win replaces the company's self-serve plan with an annual contract
  for its buying unit (:meth:`~flywheel.scenario.settings.Sales.contract_seats`: a share of
  its people, at most ``buying_unit`` seats, and at least its active users); every seat not
  in use gets a user after a rollout delay; at the end of each term the contract renews or
  the company loses the product.

How it hooks into :class:`~flywheel.engines.model.Model`: the model creates one
:class:`Sales` per replication, passing itself (it satisfies :class:`Host`), and calls

* :meth:`Sales.pql_check` when a user takes a seat, and :meth:`Sales.pql_usage_due` when
  one churns (only when a PQL signal is on);
* :meth:`Sales.on_pql_usage` for the usage signal's entries on its per-user calendar;
* :meth:`Sales.prospect` once a day from its acquisition process (outbound leads), and
  :meth:`Sales.inbound` for the contacts that reach untouched companies sold sales-led
  (every one in a sales-led motion, those above the enterprise size in the hybrid);
* :meth:`Sales.add_companies` whenever it materialises companies.

The sales motion keeps its own state: the lead table (``l_*`` columns, declared in
:data:`LEAD_COLUMNS`, which the model reports as the Outcome's ``leads``), the reps'
queue, and per company whether a lead is open and when it last qualified.  A contract is
a team's plan, so it is written into the model's team columns (``c_state``,
``c_contract_*``), through the narrow interface of :class:`Host`.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import simpy

from flywheel.engines.codes import LeadKind, LeadOutcome, TeamState, labels
from flywheel.engines.rng import STANDARD_UNIFORM, Buffered, Streams
from flywheel.scenario.defaults import DAYS_PER_MONTH

if TYPE_CHECKING:
    from collections.abc import Generator

    from flywheel.scenario.settings import Settings

# -- codes (declared once in flywheel.engines.codes; plain ints here for the hot paths) -------------

FREE, TRIAL, PAYING, CAPPED, NO_ACCESS, PROSPECT, CONTRACT = (
    int(TeamState.FREE), int(TeamState.TRIAL), int(TeamState.PAYING), int(TeamState.CAPPED),
    int(TeamState.NO_ACCESS), int(TeamState.PROSPECT), int(TeamState.CONTRACT))
#: Plans on which a company can become a product-qualified lead.
_SELF_SERVE = (FREE, TRIAL, PAYING, CAPPED)

#: Sales leads: where they came from, and how they ended (or where they are at the horizon).
LEAD_KINDS = labels(LeadKind)
PQL, COLD = int(LeadKind.PQL), int(LeadKind.COLD)
LEAD_OUTCOMES = labels(LeadOutcome)
L_WAITING, L_WORKING, L_WON, L_LOST, L_COLD = (
    int(LeadOutcome.WAITING), int(LeadOutcome.WORKING), int(LeadOutcome.WON),
    int(LeadOutcome.LOST), int(LeadOutcome.WENT_COLD))

#: One row per sales lead: (name, array typecode, how the Outcome carries it), as the
#: model's user and team columns are declared.  :class:`Sales` holds each as a typed
#: ``array`` attribute, ``l_`` + name.
LEAD_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("company", "i", ""),
    ("kind", "b", ""),
    ("arrive", "d", ""),
    ("start", "d", ""),
    ("left", "d", ""),
    ("end", "d", ""),
    ("outcome", "b", ""),
    ("acv", "d", ""),
    ("users", "i", ""),
    ("p_close", "d", ""),
)

#: The run's counters the sales motion adds to (the model's ``counters``, after its own).
COUNTERS = ("leads_outbound", "leads_inbound", "contracts_renewed", "contracts_ended")

_NAN = math.nan
_INF = math.inf


class Host(Protocol):
    """What the sales motion reads and changes on the model it is part of.

    The team columns are the model's (one entry per company touched; ``c_remaining`` is a
    numpy array the model regrows, so it is always read through the model).
    """

    env: simpy.Environment
    H: float
    counters: dict[str, float]
    waiting: dict[int, list[int]]  # users waiting for a seat, by company
    c_state: array[int]
    c_active: array[int]
    c_size: array[int]
    c_usage: array[float]
    c_intensity: array[float]
    c_access_end: array[float]
    c_contract_start: array[float]
    c_contract_end: array[float]
    c_contract_acv: array[float]
    c_contract_seats: array[int]
    c_remaining: np.ndarray

    def _accrue(self, t: float, c: int) -> None:
        """Bring team ``c``'s usage up to time ``t``."""

    def _pace(self, c: int) -> float:
        """Team ``c``'s usage per day (held at a paid tier's limit where it is capped)."""

    def _at(self, t: float, callback: Any, value: Any) -> None:
        """Schedule a SimPy event at time ``t`` (none at or past the horizon)."""

    def _log(self, t: float, what: str, user: int, company: int) -> None:
        """Record an event in the trace (when tracing)."""

    def _seat(self, t: float, uid: int, c: int) -> None:
        """User ``uid`` becomes active in team ``c``."""

    def _values(self, c: int, n: int, price: float | None = None) -> bool:
        """Whether company ``c``, as a team of ``n`` users, values a seat at ``price`` or
        more (its willingness to pay)."""

    def _lose_access(self, t: float, c: int, why: str) -> None:
        """Team ``c`` loses the product (for good: it is no self-serve cancellation)."""

    def _end_paid(self, t: float, c: int, upsold: bool = False) -> None:
        """Team ``c``'s self-serve paid spell ends (``upsold``: a contract replaces it)."""

    def _draw_sizes(self, k: int, above: float = -1.0) -> np.ndarray:
        """Sizes of ``k`` newly reached companies of more than ``above`` people (fewer
        when the market runs out of them)."""

    def _return_sizes(self, sizes: np.ndarray) -> None:
        """Companies drawn by :meth:`_draw_sizes` that no one reached after all: back to
        the untouched market."""

    def _new_companies(self, times: np.ndarray, sizes: np.ndarray,
                       state: int | None = None) -> np.ndarray:
        """Materialise companies created at ``times``; their ids."""

    def _book_pql_usage(self, t: float, c: int) -> None:
        """Put team ``c``'s PQL usage check on the calendar at ``t`` (handled by
        :meth:`Sales.on_pql_usage`)."""

    def _roll_out(self, t: float, c: int) -> None:
        """A user for one of team ``c``'s contract seats signs up at ``t``."""


class Sales:
    """The sales motion of one replication: PQLs, outbound and inbound leads, the reps'
    queue, and the contracts it wins.  ``model`` is the model it is part of."""

    def __init__(self, model: Host, settings: Settings, streams: Streams) -> None:
        self.m = model
        self.env = model.env
        self.H = model.H
        self.streams = streams
        sa = settings.sales

        # -- settings ------------------------------------------------------------------
        self.usage_rate = settings.free_tier.usage_per_user
        self.pql_users = sa.pql_users
        self.pql_usage = sa.pql_usage
        self.pql_all = sa.pql_all
        self.pql_on = sa.pql_on
        self.pql_cooldown = sa.pql_cooldown
        self.sa = sa  # the close function and the buying unit
        self.usage_month = settings.free_tier.usage_per_user * DAYS_PER_MONTH
        self.track_usage = settings.track_usage
        self.contract_price = sa.price_per_seat
        self.sales_led_above = settings.sales_led_above  # outbound prospects above it
        self.term = sa.term
        self.renewal_p = sa.renewal_probability
        self.inbound_share = sa.inbound_share
        self.outbound_rate = sa.outbound_rate

        # -- the reps' queue: one slot per deal a rep can work at once --------------------
        self.servers = sa.servers
        self.reps = simpy.Resource(self.env, capacity=self.servers) if self.servers else None

        # -- buffered draws, one stream per mechanism -----------------------------------
        self.lead_patience = Buffered(sa.patience, streams["lead_patience"])
        self.cycles = (Buffered(sa.pql_cycle, streams["pql_cycle"]),
                       Buffered(sa.cold_cycle, streams["cold_cycle"]))
        self.close_u = Buffered(STANDARD_UNIFORM, streams["close"])
        self.rollout = Buffered(sa.rollout, streams["rollout"])
        self.renewal_u = Buffered(STANDARD_UNIFORM, streams["renewal"])

        # -- per company (index = the model's company id) -------------------------------
        self.in_pipeline = array("b")  # a lead of this company is open
        self.pql_last = array("d")  # when the company last became a PQL
        self.pql_due = array("d")  # the usage signal's check on the calendar

        # -- one row per lead (see LEAD_COLUMNS) ------------------------------------------
        for name, typecode, _ in LEAD_COLUMNS:
            setattr(self, "l_" + name, array(typecode))

    def add_companies(self, k: int) -> None:
        """The model materialised ``k`` more companies: none in the pipeline, none
        qualified yet."""
        self.in_pipeline.extend(array("b", [0]) * k)
        self.pql_last.extend(array("d", [-_INF]) * k)
        self.pql_due.extend(array("d", [_INF]) * k)

    # ---------------------------------------------------------------------------------
    # product-qualified leads
    # ---------------------------------------------------------------------------------

    def pql_check(self, t: float, c: int) -> None:
        """Make team ``c`` a product-qualified lead if its footprint meets the rule now."""
        m = self.m
        if (self.in_pipeline[c] or m.c_state[c] not in _SELF_SERVE
                or t - self.pql_last[c] < self.pql_cooldown):
            return
        m._accrue(t, c)
        users = self.pql_users > 0 and m.c_active[c] >= self.pql_users
        usage = self.pql_usage > 0 and m.c_usage[c] >= self.pql_usage - 1e-9
        if self.pql_all:
            ok = (users or not self.pql_users) and (usage or not self.pql_usage)
        else:
            ok = users or usage
        if ok:
            self.pql_last[c] = t
            m._log(t, "pql", -1, c)
            self.lead(t, c, PQL)
        else:
            self.pql_usage_due(t, c)

    def pql_usage_due(self, t: float, c: int) -> None:
        """Book a check for when team ``c``'s usage reaches the PQL signal at its pace."""
        m = self.m
        if (not self.pql_usage or self.in_pipeline[c] or m.c_state[c] not in _SELF_SERVE):
            return
        m._accrue(t, c)
        left = self.pql_usage - m.c_usage[c]
        pace = m._pace(c)
        if left <= 1e-9 or pace <= 0:
            return
        due = max(t + left / pace, self.pql_last[c] + self.pql_cooldown)
        if due < self.pql_due[c] and due < self.H:
            self.pql_due[c] = due
            m._book_pql_usage(due, c)

    def on_pql_usage(self, t: float, c: int, _: int) -> None:
        """A usage check on the model's calendar comes due."""
        if t != self.pql_due[c]:
            return  # superseded
        self.pql_due[c] = _INF
        self.pql_check(t, c)

    def _on_pql_recheck(self, ev: simpy.Event) -> None:
        """A cool-down ended: the company may qualify again."""
        c: int = ev.value
        self.pql_due[c] = _INF
        self.pql_check(self.env.now, c)

    # ---------------------------------------------------------------------------------
    # cold leads: outbound prospecting and (sales-led) inbound enquiries
    # ---------------------------------------------------------------------------------

    def prospect(self, t0: float, dt: float) -> None:
        """A day's outbound prospecting, from ``t0`` for ``dt`` days: a Poisson number of
        leads at uniform times."""
        g = self.streams["outbound"]
        n = int(g.poisson(self.outbound_rate * dt))
        if n:
            self._cold_leads(np.sort(t0 + dt * g.random(n)), "leads_outbound")

    def inbound(self, times: np.ndarray, sizes: np.ndarray | None = None) -> None:
        """Contacts (sorted ``times``) reaching untouched companies sold sales-led: there
        is no product to try, so each asks for a demo with the inbound share (its company
        becomes a cold lead) or leaves.  ``sizes``: the companies they reached, already
        drawn (the hybrid draws them to tell large from small); those who leave put
        theirs back.  Without, the askers' companies are drawn now."""
        asks = self.streams["inbound"].random(len(times)) < self.inbound_share
        if sizes is not None and not asks.all():
            self.m._return_sizes(sizes[~asks])
            sizes = sizes[asks]
        times = times[asks]
        if len(times):
            self._cold_leads(times, "leads_inbound", sizes)

    def _cold_leads(self, times: np.ndarray, counter: str,
                    sizes: np.ndarray | None = None) -> None:
        """Each lead is an untouched company (a random person's, so larger companies are
        likelier; in the hybrid, outbound draws only companies above its enterprise
        size), a prospect with no product until a deal."""
        m = self.m
        if sizes is None:
            above = self.sales_led_above if self.sales_led_above < _INF else -1.0
            sizes = m._draw_sizes(len(times), above)
        times = times[:len(sizes)]
        ids = m._new_companies(times, sizes, PROSPECT)
        m.counters[counter] += len(ids)
        for c, t in zip(ids.tolist(), times.tolist(), strict=True):
            self.lead(t, c, COLD)

    # ---------------------------------------------------------------------------------
    # the reps' queue
    # ---------------------------------------------------------------------------------

    def lead(self, t: float, c: int, kind: int) -> None:
        """Company ``c`` becomes a lead at time ``t``; it joins the reps' queue then."""
        self.in_pipeline[c] = 1
        self.m._at(t, self._on_lead, (c, kind))

    def _on_lead(self, ev: simpy.Event) -> None:
        c, kind = ev.value
        i = len(self.l_company)
        t = self.env.now
        self.l_company.append(c)
        self.l_kind.append(kind)
        self.l_arrive.append(t)
        self.l_start.append(_NAN)
        self.l_left.append(_INF)
        self.l_end.append(_INF)
        self.l_outcome.append(L_WAITING)
        self.l_acv.append(self._contract_seats(c) * self.contract_price * 12.0)
        self.l_users.append(0)
        self.l_p_close.append(_NAN)
        self.env.process(self._work_lead(i, c, kind))

    def footprint(self, t: float, c: int) -> tuple[int, int, float]:
        """Company ``c``'s product footprint at ``t``: its active users, its people, and its
        accrued usage in user-months (0 unless usage is tracked).  A prospect has none."""
        m = self.m
        if m.c_state[c] == PROSPECT:
            return 0, int(m.c_size[c]), 0.0
        months = 0.0
        if self.track_usage and self.usage_month > 0:
            m._accrue(t, c)
            months = m.c_usage[c] / self.usage_month
        return int(m.c_active[c]), int(m.c_size[c]), months

    def _work_lead(self, i: int, c: int, kind: int) -> Generator[simpy.Event, Any, None]:
        """Wait for a rep's slot (going cold after the lead's patience), then be worked
        for a cycle time and won with the close probability of the account's footprint
        when the rep took it."""
        env, m = self.env, self.m
        assert self.reps is not None
        with self.reps.request() as req:
            patience = env.timeout(self.lead_patience.one())
            got = yield req | patience
            if req not in got:
                self.l_left[i] = self.l_end[i] = env.now
                self.l_outcome[i] = L_COLD
                m._log(env.now, f"lead_cold:{LEAD_KINDS[kind]}", -1, c)
                self._lead_closed(env.now, c)
                return
            self.l_start[i] = self.l_left[i] = env.now
            self.l_outcome[i] = L_WORKING
            users, people, months = self.footprint(env.now, c)
            self.l_users[i] = users
            self.l_p_close[i] = p = self.sa.close_probability(users, people, months)
            yield env.timeout(self.cycles[kind].one())
        t = env.now
        self.l_end[i] = t
        # (a deal is signed only if the buying unit, the team the contract would equip,
        # values a seat at the contract's price)
        if (self.close_u.one() < p and m.c_state[c] != NO_ACCESS
                and m._values(c, self._buying_unit(c), self.contract_price)):
            self.l_outcome[i] = L_WON
            self._win(t, c)
            self.l_acv[i] = m.c_contract_acv[c]  # what was signed, not what was hoped
        else:
            self.l_outcome[i] = L_LOST
            m._log(t, f"lead_lost:{LEAD_KINDS[kind]}", -1, c)
            self._lead_closed(t, c)

    def _lead_closed(self, t: float, c: int) -> None:
        """A lead went cold or was lost: a prospect is gone; a self-serve team stays on its
        plan and may qualify again after the cool-down."""
        m = self.m
        self.in_pipeline[c] = 0
        if m.c_state[c] == PROSPECT:
            m.c_state[c] = NO_ACCESS
            m.c_access_end[c] = t
        elif self.pql_on and m.c_state[c] in _SELF_SERVE:
            due = max(t, self.pql_last[c] + self.pql_cooldown)
            if due < self.H:
                self.pql_due[c] = due  # an early usage check would be superseded
                m._at(due, self._on_pql_recheck, c)

    # ---------------------------------------------------------------------------------
    # contracts
    # ---------------------------------------------------------------------------------

    def _buying_unit(self, c: int) -> int:
        """The team a contract with company ``c`` would equip, whose size sets its value of a
        seat: the seats it would cover now, or the company's people up to
        ``sales.buying_unit`` if more (land and expand: the department that would use it,
        not only the seats signed first)."""
        m = self.m
        return max(self._contract_seats(c), min(int(m.c_size[c]), self.sa.buying_unit))

    def _contract_seats(self, c: int) -> int:
        """Seats a contract with company ``c`` would cover now (its buying unit)."""
        m = self.m
        return self.sa.contract_seats(int(m.c_active[c]), int(m.c_size[c]))

    def _win(self, t: float, c: int) -> None:
        """A won deal: a contract replaces the self-serve plan; every seat not in use gets
        a user after the rollout delay."""
        m = self.m
        self.in_pipeline[c] = 0
        seats = self._contract_seats(c)
        st = m.c_state[c]
        m._accrue(t, c)
        if st == PAYING:
            m._end_paid(t, c, upsold=True)
        m.c_state[c] = CONTRACT
        m.c_contract_start[c] = t
        m.c_contract_end[c] = _INF
        m.c_contract_acv[c] = seats * self.contract_price * 12.0
        m.c_contract_seats[c] = seats
        m._log(t, "won", -1, c)
        m._at(t + self.term, self._on_contract_end, c)
        for uid in m.waiting.pop(c, []):
            m._seat(t, uid, c)
        new = min(seats - int(m.c_active[c]), int(m.c_remaining[c]))
        for _ in range(max(new, 0)):
            m.c_remaining[c] -= 1
            m._roll_out(t + self.rollout.one(), c)

    def _on_contract_end(self, ev: simpy.Event) -> None:
        c: int = ev.value
        m = self.m
        if m.c_state[c] != CONTRACT:
            return
        t = self.env.now
        if self.renewal_u.one() < self.renewal_p:
            m.counters["contracts_renewed"] += 1
            m._log(t, "renewed", -1, c)
            m._at(t + self.term, self._on_contract_end, c)
        else:
            m.counters["contracts_ended"] += 1
            m.c_contract_end[c] = t
            m._lose_access(t, c, "contract_ended")
