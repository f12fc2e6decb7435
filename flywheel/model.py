"""The discrete-event model of the self-serve flywheel.

How the model is built, and why (see ``docs/model.md`` for the full account):

* **SimPy carries the clock and every change of shared state.**  A daily
  acquisition process draws the day's contacts; team-level events (trial end,
  the paywall decision, a paying team cancelling) are SimPy events at their
  exact times.
* **Per-user events ride a light calendar that SimPy's loop drains.**  A user's
  activation, churn and an accepted invite's arrival are pushed, as plain
  tuples, onto a heap that :meth:`Model.run` drains between SimPy events, in
  time order.  A SimPy event costs ~15 µs here, a heap entry ~2 µs; a million
  signups would otherwise spend most of their time in scheduling.
* **Draws are made in blocks from numpy**, each mechanism from its own named
  stream (:mod:`flywheel.rng`), and nothing is scheduled past the horizon.
* **Users are rows in typed columns**, not objects: the outcome of a run is a
  set of arrays (signup, value, active-from, active-until times; company;
  channel; final state) from which :mod:`flywheel.metrics` computes every
  metric, stock and flow.

A signup brought by the daily acquisition process takes effect on its company
at the start of its day (its own times, and everything that follows from them,
are exact); invitees, activations, churn and team events happen at their exact
times.
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

from flywheel.defaults import DAYS_PER_MONTH
from flywheel.distributions import Distribution
from flywheel.rng import STANDARD_EXPONENTIAL, STANDARD_UNIFORM, Buffered, Streams

# -- codes --------------------------------------------------------------------------------

#: Final state of a signup at the horizon; every signup is in exactly one.
USER_STATES = ("onboarding", "active", "abandoned", "churned", "lost_access", "blocked",
               "waiting")
ONBOARDING, ACTIVE, ABANDONED, CHURNED, LOST_ACCESS, BLOCKED, WAITING = range(7)

#: Acquisition channels of a signup.
CHANNELS = ("organic", "paid", "referral", "invite")
ORGANIC, PAID, REFERRAL, INVITE = range(4)

#: Team (company) plan states.
TEAM_STATES = ("free", "trial", "paying", "capped", "no_access")
FREE, TRIAL, PAYING, CAPPED, NO_ACCESS = range(5)

# kinds of per-user calendar entries
_ACTIVATE, _CHURN, _INVITEE, _USAGE = range(4)

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
    ended, NaN if none ended), ``trial_converted``, ``paid_start``/``paid_end``,
    ``state``.
    """

    horizon: float
    price_per_seat: float
    serving_cost_per_month: float
    users: dict[str, np.ndarray]
    teams: dict[str, np.ndarray]
    counters: dict[str, float]
    market_people: float
    trace: list[tuple[float, str, int, int]] | None = None


def _col(typecode: str) -> array:
    return array(typecode)


class Model:
    """One replication of one scenario.

    ``params`` maps parameter paths to converted values (a resolved
    scenario's ``values``); ``seq`` is the replication's seed sequence.
    """

    def __init__(self, params: Mapping[str, Any], seq: np.random.SeedSequence,
                 horizon: float | None = None, trace: bool = False) -> None:
        self.p = p = dict(params)
        self.H = float(horizon if horizon is not None else p["simulation.horizon"])
        self.env = simpy.Environment()
        self.streams = s = Streams(seq)
        self.trace: list[tuple[float, str, int, int]] | None = [] if trace else None

        # -- parameters used in hot paths ---------------------------------------------
        self.model = p["pricing.model"]
        self.seat_limit = int(p["free_tier.seat_limit"])
        self.usage_limit = float(p["free_tier.usage_limit"])
        self.usage_rate = float(p["free_tier.usage_per_user"])
        self.upgrade_p = float(p["pricing.upgrade_probability"])
        self.acceptance = float(p["collaboration.acceptance"])
        self.invite_factor = float(p["onboarding.invited_ttv_factor"])
        self.sandbox = bool(p["onboarding.sandbox"])
        card = self.model == "trial" and bool(p["trial.card_required"])
        self.card_factor = float(p["trial.card_signup_factor"]) if card else 1.0
        self.trial_convert = float(p["trial.card_convert_probability"] if card
                                   else p["trial.convert_probability"])
        self.trial_length = float(p["trial.length"])

        # -- buffered draws, one stream per mechanism -----------------------------------
        ttv_dist: Distribution = p["onboarding.sandbox_ttv"] if self.sandbox else p["onboarding.ttv"]
        self.ttv = Buffered(ttv_dist, s["sandbox_ttv" if self.sandbox else "ttv"])
        self.friction = Buffered(p["onboarding.setup_friction"], s["friction"])
        self.patience = Buffered(p["onboarding.patience"], s["patience"])
        self.no_show = float(p["onboarding.no_show"])
        self.show_u = Buffered(STANDARD_UNIFORM, s["no_show"])
        self.invites = Buffered(p["collaboration.invites"], s["invites"])
        self.invite_delay = Buffered(p["collaboration.invite_delay"], s["invite_delay"])
        self.accept_u = Buffered(STANDARD_UNIFORM, s["invite_accept"])
        self.invite_round_u = Buffered(STANDARD_UNIFORM, s["invite_round"])
        self.decision_u = Buffered(STANDARD_UNIFORM, s["paywall"])
        self.decision_delay = Buffered(p["pricing.decision_delay"], s["decision_delay"])
        self.churn_u = Buffered(STANDARD_EXPONENTIAL, s["churn"])
        self.paid_churn_u = Buffered(STANDARD_EXPONENTIAL, s["paid_churn"])
        self.churn_scale, self.churn_shape = _weibull(p["retention.churn_monthly"],
                                                      p["retention.tenure_shape"])
        self.paid_churn_scale, _ = _weibull(p["paid.logo_churn_monthly"], 1.0)

        # -- market: company sizes by value, materialised lazily --------------------------
        self.size_values, self.size_counts = _size_histogram(
            p["market.team_size"], int(p["market.companies"]), s["team_size"])
        self.market_people = float(np.dot(self.size_values, self.size_counts))
        self.untouched_people = self.market_people

        # -- users ----------------------------------------------------------------------
        self.u_company = _col("i")
        self.u_channel = _col("b")
        self.u_signup = _col("d")
        self.u_value = _col("d")
        self.u_abandon = _col("d")
        self.u_start = _col("d")
        self.u_end = _col("d")
        self.u_state = _col("b")
        self.u_inviter = _col("i")

        # -- teams ----------------------------------------------------------------------
        self.c_created = _col("d")
        self.c_size = _col("i")
        self.c_remaining = np.zeros(1024, dtype=np.int64)  # potential users not yet reached
        self.c_cumsize = np.zeros(1024, dtype=np.float64)  # people in companies 0..i
        self.touched_people = 0.0
        self.c_active = _col("i")
        self.c_state = _col("b")
        self.c_pending = _col("b")  # a paywall decision is under way
        self.c_usage = _col("d")  # usage accrued up to c_usage_t
        self.c_usage_t = _col("d")
        self.c_usage_due = _col("d")  # earliest usage check on the calendar
        self.c_paywall = _col("d")
        self.c_trial_end = _col("d")
        self.c_trial_converted = _col("b")
        self.c_paid_start = _col("d")
        self.c_paid_end = _col("d")
        self.c_access_end = _col("d")
        self.waiting: dict[int, list[int]] = {}

        # -- running state ----------------------------------------------------------------
        self.n_active = 0
        self.heap: list[tuple] = []  # entries of the current day, in time order
        self.day_end = 0.0
        self.buckets: list[list[tuple]] = [[] for _ in range(int(math.ceil(self.H)) + 1)]
        self.next_simpy = 0.0
        self._seq = itertools.count()
        self.counters: dict[str, float] = {
            "contacts": 0, "contacts_lost": 0, "card_refused": 0, "invites_sent": 0,
            "invites_accepted": 0, "invites_no_one_left": 0, "paywall_hits": 0,
            "paywall_upgrades": 0, "paywall_declines": 0,
        }

    # ---------------------------------------------------------------------------------
    # running
    # ---------------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Run to the horizon and return the outcome."""
        env, heap, H = self.env, self.heap, self.H
        env.process(self._acquisition())
        pop = heapq.heappop
        handlers = (self._on_activate, self._on_churn, self._on_invitee, self._on_usage)
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
            self._signups(times, np.full(len(sizes), channel, dtype=np.int8), ids)

        ev = self.env.timeout(t)
        ev.callbacks.append(arrive)

    def _push(self, t: float, kind: int, a: int, b: int = 0) -> None:
        """Put a per-user event on the calendar: today's heap, or the bucket of its day.

        Keeping later days in unsorted buckets keeps the heap small (a heap pop
        costs ~1 µs with a day's entries, ~4 µs with a year's).
        """
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
        """Schedule a SimPy event at absolute time ``t`` (``t`` >= now)."""
        ev = self.env.timeout(t - self.env.now, value)
        ev.callbacks.append(callback)
        if t < self.next_simpy:
            self.next_simpy = t

    def _log(self, t: float, what: str, user: int, company: int) -> None:
        if self.trace is not None:
            self.trace.append((t, what, user, company))

    # ---------------------------------------------------------------------------------
    # acquisition: one SimPy process, one step a day
    # ---------------------------------------------------------------------------------

    def _acquisition(self):  # noqa: ANN202 (a SimPy process generator)
        p, env, H = self.p, self.env, self.H
        organic = float(p["acquisition.organic"])
        growth = float(p["acquisition.organic_growth"])
        paid = float(p["acquisition.paid_budget"]) / float(p["acquisition.paid_cost_per_signup"])
        referral = float(p["acquisition.referral"])
        streams = self.streams
        day = 0
        while day < H:
            t0, t1 = float(day), min(float(day + 1), H)
            dt = t1 - t0
            self._open_day(day, t1)
            rates = (organic * (1.0 + growth) ** ((t0 + dt / 2) / DAYS_PER_MONTH),
                     paid, referral * self.n_active)
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
            pos, idx, remaining = pos[fresh], idx[fresh], remaining[fresh]
            # several contacts in one day may reach the same company: at most its remaining
            order = np.lexsort((times[pos], idx))
            sidx = idx[order]
            rank = np.arange(len(sidx)) - np.searchsorted(sidx, sidx, side="left")
            ok = rank < remaining[order]
            companies[pos[order][ok]] = sidx[ok]
            np.subtract.at(self.c_remaining, sidx[ok], 1)

        # contacts that reach an untouched company: the company is materialised now
        if new.any():
            pos = np.flatnonzero(new)
            if self.card_factor < 1.0:
                agree = self.streams["card"].random(len(pos)) < self.card_factor
                self.counters["card_refused"] += int((~agree).sum())
                pos = pos[agree]
            if len(pos):
                sizes = self._draw_sizes(len(pos))
                pos = pos[:len(sizes)]
                ids = self._new_companies(times[pos], sizes)
                companies[pos] = ids

        sel = companies >= 0
        self.counters["contacts_lost"] += int(n - sel.sum())
        if sel.any():
            self._signups(times[sel], chans[sel], companies[sel])

    def _draw_sizes(self, k: int) -> np.ndarray:
        """Sizes of k newly reached companies: size-biased (a contact is a person), without
        replacement from the untouched companies."""
        g = self.streams["team_size"]
        vals, counts = self.size_values, self.size_counts
        out = np.empty(0, dtype=np.int64)
        need = k
        while need > 0:
            w = vals * counts
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

    def _new_companies(self, times: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        k = len(times)
        first = len(self.c_state)
        ids = np.arange(first, first + k)
        need = first + k
        if need > len(self.c_remaining):
            cap = max(need, 2 * len(self.c_remaining))
            self.c_remaining = _grow(self.c_remaining, cap, first)
            self.c_cumsize = _grow(self.c_cumsize, cap, first)
        self.c_remaining[first:need] = np.maximum(sizes - 1, 0)
        self.c_cumsize[first:need] = self.touched_people + np.cumsum(sizes)
        self.touched_people += float(sizes.sum())
        self.c_created.frombytes(times.astype(np.float64).tobytes())
        self.c_size.frombytes(sizes.astype(np.int32).tobytes())
        state = TRIAL if self.model in ("trial", "reverse_trial") else FREE
        self.c_active.extend(array("i", [0]) * k)
        self.c_state.extend(array("b", [state]) * k)
        self.c_pending.extend(array("b", [0]) * k)
        self.c_usage.extend(array("d", [0.0]) * k)
        self.c_usage_t.frombytes(times.astype(np.float64).tobytes())
        self.c_usage_due.extend(array("d", [_INF]) * k)
        for col, v in ((self.c_paywall, _NAN), (self.c_trial_end, _NAN),
                       (self.c_paid_start, _NAN), (self.c_paid_end, _INF),
                       (self.c_access_end, _INF)):
            col.extend(array("d", [v]) * k)
        self.c_trial_converted.extend(array("b", [0]) * k)
        if state == TRIAL:
            for c, t in zip(ids.tolist(), times.tolist(), strict=True):
                if t + self.trial_length < self.H:
                    self._at(t + self.trial_length, self._on_trial_end, c)
        return ids

    def _signups(self, times: np.ndarray, chans: np.ndarray, companies: np.ndarray) -> None:
        """Append a batch of signups (sorted by time) and schedule their onboarding."""
        k = len(times)
        first_user = len(self.u_state)
        # the first signup of a company sets it up: setup friction applies to it only
        created = np.frombuffer(self.c_created, dtype=np.float64)[companies]
        creator = times == created
        ttv = self.ttv.take(k)
        if not self.sandbox:
            fr = self.friction.take(k)
            ttv = ttv + np.where(creator, fr, 0.0)
        patience = self.patience.take(k)
        shows = self.show_u.take(k) >= self.no_show  # no-shows leave at signup
        patience = np.where(shows, patience, 0.0)
        act = shows & (ttv <= patience)
        value = np.where(act, times + ttv, np.nan)
        abandon = np.where(act, np.nan, times + patience)
        state = np.full(k, ONBOARDING, dtype=np.int8)
        # a team that has already lost access lets no one in
        dead = np.frombuffer(self.c_access_end, dtype=np.float64)[companies] < np.inf
        state[dead] = LOST_ACCESS
        end = np.full(k, np.inf)
        end[dead] = times[dead]
        value[dead] = np.nan
        abandon[dead] = np.nan

        self.u_company.frombytes(companies.astype(np.int32).tobytes())
        self.u_channel.frombytes(chans.astype(np.int8).tobytes())
        self.u_signup.frombytes(times.tobytes())
        self.u_value.frombytes(value.tobytes())
        self.u_abandon.frombytes(abandon.tobytes())
        self.u_start.extend(array("d", [_NAN]) * k)
        self.u_end.frombytes(end.tobytes())
        self.u_state.frombytes(state.tobytes())
        self.u_inviter.extend(array("i", [-1]) * k)

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
        """An accepted invite arrives: the invitee signs up into the inviter's company."""
        uid = len(self.u_state)
        self.u_company.append(c)
        self.u_channel.append(INVITE)
        self.u_signup.append(t)
        self.u_start.append(_NAN)
        self.u_inviter.append(inviter)
        self._log(t, "signup:invite", uid, c)
        if self.c_state[c] == NO_ACCESS:
            self.u_value.append(_NAN)
            self.u_abandon.append(_NAN)
            self.u_end.append(t)
            self.u_state.append(LOST_ACCESS)
            return
        self.u_end.append(_INF)
        self.u_state.append(ONBOARDING)
        ttv = self.ttv.one() * self.invite_factor
        patience = self.patience.one()
        shows = self.show_u.one() >= self.no_show
        if not shows:
            patience = 0.0
        if shows and ttv <= patience:
            self.u_value.append(t + ttv)
            self.u_abandon.append(_NAN)
            if t + ttv < self.H:
                self._push(t + ttv, _ACTIVATE, uid)
        else:
            self.u_value.append(_NAN)
            self.u_abandon.append(t + patience)
            if t + patience < self.H:
                self._log(t + patience, "abandoned", uid, c)

    def _on_activate(self, t: float, uid: int, _: int) -> None:
        """A user reaches value; they take a seat if the team's plan allows it."""
        c = self.u_company[uid]
        st = self.c_state[c]
        if st == NO_ACCESS:  # the team lost access while the user was onboarding
            return
        self._log(t, "activated", uid, c)
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
            if tc < self.H:
                self._push(tc, _CHURN, uid)
        self._usage_check(t, c)
        if self.c_state[c] != CAPPED:
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
            if ta < self.H:
                self._push(ta, _INVITEE, c, uid)

    def _on_churn(self, t: float, uid: int, _: int) -> None:
        c = self.u_company[uid]
        if self.u_state[uid] != ACTIVE or self.c_state[c] == NO_ACCESS:
            return
        self.u_state[uid] = CHURNED
        self.u_end[uid] = t
        self._accrue(t, c)
        self.c_active[c] -= 1
        self.n_active -= 1
        self._log(t, "churned", uid, c)
        if self.c_state[c] == PAYING and self.c_active[c] == 0:
            self._lose_access(t, c, "cancelled:no_users")
            self.c_paid_end[c] = t
            return
        self._usage_check(t, c)

    # -- usage limit -------------------------------------------------------------------

    def _accrue(self, t: float, c: int) -> None:
        """Bring team ``c``'s usage up to time ``t`` at its current number of active users."""
        if self.usage_limit:
            self.c_usage[c] += self.usage_rate * self.c_active[c] * (t - self.c_usage_t[c])
            self.c_usage_t[c] = t

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
        pace = self.usage_rate * self.c_active[c]
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

    def _paywall(self, t: float, c: int, reason: str) -> None:
        """Team ``c`` meets the paywall: it decides after a delay."""
        self.c_pending[c] = True
        self.counters["paywall_hits"] += 1
        if math.isnan(self.c_paywall[c]):
            self.c_paywall[c] = t
        self._log(t, f"paywall:{reason}", -1, c)
        td = t + self.decision_delay.one()
        if td < self.H:
            self._at(td, self._on_decision, c)

    def _on_decision(self, ev: simpy.Event) -> None:
        c: int = ev.value
        t = self.env.now
        self.c_pending[c] = False
        waiting = self.waiting.pop(c, [])
        # a team with no one left (everyone churned while it decided) does not buy
        if self.decision_u.one() < self.upgrade_p and (self.c_active[c] or waiting):
            self.counters["paywall_upgrades"] += 1
            self._start_paying(t, c, "upgrade")
            for uid in waiting:
                self._seat(t, uid, c)
        else:
            self.counters["paywall_declines"] += 1
            self._accrue(t, c)
            self.c_state[c] = CAPPED
            self._log(t, "declined", -1, c)
            for uid in waiting:
                self.u_state[uid] = BLOCKED
                self.u_end[uid] = t
                self._log(t, "blocked", uid, c)

    def _start_paying(self, t: float, c: int, how: str) -> None:
        self._accrue(t, c)
        self.c_state[c] = PAYING
        self.c_paid_start[c] = t
        self._log(t, how, -1, c)
        if self.paid_churn_scale < _INF:
            tc = t + self.paid_churn_scale * self.paid_churn_u.one()
            if tc < self.H:
                self._at(tc, self._on_paid_churn, c)

    def _on_paid_churn(self, ev: simpy.Event) -> None:
        c: int = ev.value
        if self.c_state[c] != PAYING:
            return
        t = self.env.now
        self.c_paid_end[c] = t
        self._lose_access(t, c, "cancelled")

    def _on_trial_end(self, ev: simpy.Event) -> None:
        c: int = ev.value
        t = self.env.now
        self.c_trial_end[c] = t
        if self.c_active[c] > 0 and self.decision_u.one() < self.trial_convert:
            self.c_trial_converted[c] = 1
            self._start_paying(t, c, "trial_converted")
        elif self.model == "reverse_trial":
            self._log(t, "trial_ended:free", -1, c)
            self._accrue(t, c)
            self.c_state[c] = FREE
            if self.seat_limit and self.c_active[c] > self.seat_limit:
                self._paywall(t, c, "seats")
            else:
                self._usage_check(t, c)
        else:
            self._lose_access(t, c, "trial_ended:lost_access")

    def _lose_access(self, t: float, c: int, why: str) -> None:
        """Team ``c`` loses the product: its users' spells end now (settled in _outcome)."""
        self._log(t, why, -1, c)
        self.c_state[c] = NO_ACCESS
        self.c_access_end[c] = t
        self.n_active -= self.c_active[c]
        self.c_active[c] = 0

    # ---------------------------------------------------------------------------------
    # outcome
    # ---------------------------------------------------------------------------------

    def _outcome(self) -> Outcome:
        H = self.H
        # numpy views of the columns (no copy: the arrays keep their buffers alive)
        f = lambda col, dt: np.frombuffer(col, dtype=dt) if len(col) else np.empty(0, dt)  # noqa: E731
        self.heap, self.buckets = [], []
        company = f(self.u_company, np.int32)
        state = f(self.u_state, np.int8)
        start = f(self.u_start, np.float64)
        end = f(self.u_end, np.float64)
        abandon = f(self.u_abandon, np.float64)
        value = f(self.u_value, np.float64)
        u_signup = f(self.u_signup, np.float64)
        access_end = f(self.c_access_end, np.float64)
        cut = access_end[company] if len(company) else np.empty(0)
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
        # (a signup brought at the start of its day may land after its team lost access)
        end[lost_onb] = np.maximum(cut[lost_onb], u_signup[lost_onb])
        # value reached after the team lost access does not count
        late = (value >= cut) & (state == LOST_ACCESS)
        value[late] = np.nan
        value[value >= H] = np.nan
        abandon[(abandon >= H) | (state != ABANDONED)] = np.nan

        users = {
            "company": company,
            "channel": f(self.u_channel, np.int8),
            "signup": u_signup,
            "value": value,
            "abandon": abandon,
            "start": start,
            "end": end,
            "state": state,
            "inviter": f(self.u_inviter, np.int32),
        }
        paid_end = f(self.c_paid_end, np.float64)
        teams = {
            "created": f(self.c_created, np.float64),
            "size": f(self.c_size, np.int32),
            "paywall": f(self.c_paywall, np.float64),
            "trial_end": f(self.c_trial_end, np.float64),
            "trial_converted": f(self.c_trial_converted, np.int8).astype(bool),
            "paid_start": f(self.c_paid_start, np.float64),
            "paid_end": paid_end,
            "access_end": access_end,
            "state": f(self.c_state, np.int8),
        }
        counters = dict(self.counters)
        counters["paid_spend"] = float(self.p["acquisition.paid_budget"]) * H
        trace = sorted(self.trace, key=lambda r: r[0]) if self.trace is not None else None
        return Outcome(horizon=H, price_per_seat=float(self.p["pricing.price_per_seat"]),
                       serving_cost_per_month=float(self.p["costs.serving_cost_per_free_user"]),
                       users=users, teams=teams, counters=counters,
                       market_people=self.market_people, trace=trace)


# -- helpers ---------------------------------------------------------------------------------


def _grow(a: np.ndarray, cap: int, used: int) -> np.ndarray:
    out = np.zeros(cap, dtype=a.dtype)
    out[:used] = a[:used]
    return out


def _weibull(churn_monthly: float, shape: float) -> tuple[float, float]:
    """Scale (days) and inverse shape of a Weibull tenure with P(T <= 1 month) = churn_monthly.

    S(t) = exp(-(t/scale)^k); S(1 month) = 1 - c gives scale = month / (-ln(1-c))^(1/k).
    A draw is scale * E^(1/k) for a standard exponential E.  With k = 1 this is the
    constant hazard lambda = -ln(1 - c) per month.
    """
    c = float(churn_monthly)
    if c <= 0:
        return _INF, 1.0
    if c >= 1:
        return 1e-9, 1.0
    k = float(shape)
    return DAYS_PER_MONTH / (-math.log1p(-c)) ** (1.0 / k), 1.0 / k


def _size_histogram(dist: Distribution, companies: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """How many companies of each size the market holds (sizes rounded, at least 1).

    The sizes' probabilities come from the distribution's CDF; the counts are one
    multinomial draw, so a market of any size costs only as much as its distinct sizes.
    """
    top = float(dist.quantile(1 - 1e-7))
    smax = int(min(max(math.ceil(top) + 1, 1), 200_000))
    s = np.arange(1, smax + 1, dtype=np.int64)
    cdf = np.asarray(dist.cdf(s + 0.5), dtype=float)
    cdf[-1] = 1.0
    pmf = np.diff(np.concatenate([[0.0], cdf]))
    pmf = np.clip(pmf, 0.0, None)
    keep = pmf > 0
    s, pmf = s[keep], pmf[keep]
    counts = rng.multinomial(companies, pmf / pmf.sum())
    return s, counts.astype(np.int64)

