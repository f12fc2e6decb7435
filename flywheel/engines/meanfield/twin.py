"""The ODE system of one scenario: its state layout, its linear part and its right-hand side."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from flywheel.engines.codes import PAYWALL_PENDING, TeamState
from flywheel.engines.meanfield.chains import (
    ABANDON,
    ACT,
    G_MIN,
    MAX_RATE,
    chain_from_masses,
    delay_chain,
    mean_age,
    onboarding_race,
    one_stage,
    race_chain,
    scatter,
    tenure_chain,
)
from flywheel.engines.meanfield.market import representatives, size_bins, size_histogram
from flywheel.scenario.distributions import Distribution, Exponential
from flywheel.scenario.settings import FREE_TIER_MODELS, SELF_SERVE_MODELS, Settings

#: Erlang stages of the trial clock and of the free tier's usage.
TRIAL_STAGES = 12
USAGE_STAGES = 8
#: Seats tracked one by one per team; above, a lump with its extra seats.
TOP_SEATS = 8


# -- team classes --------------------------------------------------------------------------

#: Plans of the team classes: the simulation's team states (flywheel.engines.codes.TeamState), and
#: PENDING, a free team whose paywall decision is under way (a class of its own here; a
#: flag beside FREE in the simulation).
FREE, TRIAL, PAYING, CAPPED, NO_ACCESS = (int(TeamState.FREE), int(TeamState.TRIAL),
                                          int(TeamState.PAYING), int(TeamState.CAPPED),
                                          int(TeamState.NO_ACCESS))
PENDING = int(PAYWALL_PENDING)


@dataclass
class Classes:
    """The team classes of one size bin, with their attributes and transitions."""

    block: list[int] = field(default_factory=list)
    seats: list[int] = field(default_factory=list)
    stage: list[int] = field(default_factory=list)  # usage (free), decision (pending), trial
    top: list[bool] = field(default_factory=list)  # the top seat level, with a lump above
    index: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def add(self, block: int, seats: int, stage: int = 0, top: bool = False) -> int:
        i = len(self.block)
        self.block.append(block)
        self.seats.append(seats)
        self.stage.append(stage)
        self.top.append(top)
        self.index[(block, seats, stage)] = i
        return i

    def __call__(self, block: int, seats: int, stage: int = 0) -> int:
        return self.index[(block, seats, stage)]

    def __len__(self) -> int:
        return len(self.block)


#: Cumulative counters integrated with the state.
_COUNTERS = (
    "sig_organic", "sig_paid", "sig_referral", "sig_invite", "sig_founder", "sig_lost_signup",
    "act_founder", "act_joiner", "act_invitee", "abandoned", "lost", "churned", "lost_seats",
    "blocked", "seated", "paid_entries", "teams_activated", "paywall", "upgrades", "declines",
    "trial_ends", "trial_conversions", "cancels", "invites_sent", "invite_arrivals",
    "invite_delay_sum", "contacts", "user_days", "paid_seat_days", "paying_days",
)
_C = {name: i for i, name in enumerate(_COUNTERS)}
#: Signups pending per team class (onboarding, or an accepted invite not yet signed up),
#: by kind: a company's first signup, later signups (joiners), invitees.
_PENDING = ("PF", "PJ", "PI")
#: Teams per class, and what each class carries: one block of the state.
_TEAM = ("N", "K", *_PENDING)
_TINY = 1e-12
#: Regularises ratios of state variables (per-team means): x / (n + _EPS), in teams.
_EPS = 1e-3


class Twin:
    """The ODE system of one scenario: layout, parameters, right-hand side."""

    def __init__(self, settings: Settings) -> None:
        self.settings = st = settings
        self.H = st.horizon
        # (a sales-led scenario runs as freemium: the twin carries self-serve models only)
        self.model = st.pricing.model if st.pricing.model in SELF_SERVE_MODELS else "freemium"
        self.trial = st.pricing.trial
        self.reverse = st.pricing.reverse_trial
        self.limit = st.free_tier.seat_limit
        # a positive limit within the simulation's 1e-9 tolerance is met at once there; taken
        # as 1e-9 here, so its stage rate stays finite (1e-300 would overflow)
        limit = st.free_tier.usage_limit
        self.usage_limit = max(limit, 1e-9) if limit > 0 else 0.0
        self.usage_rate = st.free_tier.usage_per_user
        self.upgrade_p = st.pricing.upgrade_probability
        self.acceptance = st.collaboration.acceptance
        self.invites_mean = st.collaboration.invites_mean
        self.card = st.card_signup_factor
        self.convert_p = st.trial_convert_probability
        self.trial_length = max(st.trial.length, 1e-6)
        self.organic_rate = st.acquisition.organic_rate
        self.paid = st.acquisition.paid_contacts
        self.referral = st.acquisition.referral
        self.budget = st.acquisition.paid_budget
        self.price = st.pricing.price_per_seat
        self.serving = st.costs.serving_cost_per_free_user
        # a paying team's own cancellation: a constant hazard, a certain one at MAX_RATE
        self.logo = min(st.paid.tenure.hazard, MAX_RATE)
        self.user_tenure = st.retention.tenure
        self.tenure, self.churn = tenure_chain(self.user_tenure)
        self._onboarding()
        self._market()
        self._layout()

    # -- construction ----------------------------------------------------------------------

    def _onboarding(self) -> None:
        onb = self.settings.onboarding
        ttv: Distribution = onb.effective_ttv
        patience: Distribution = onb.patience
        no_show = onb.no_show
        factor = onb.invited_ttv_factor
        has_friction = onb.has_friction
        self.race_founder = onboarding_race(ttv, patience, no_show,
                                  onb.setup_friction if has_friction else None)
        self.race_joiner = onboarding_race(ttv, patience, no_show)
        self.race_invitee = onboarding_race(ttv, patience, no_show, factor=factor)
        exp = isinstance(ttv, Exponential) and isinstance(patience, Exponential) \
            and ttv.mean() > 0 and patience.mean() > 0
        b = 1.0 / patience.mean() if exp else 0.0

        def exact(f: float) -> tuple[float, float] | None:
            if not exp or f <= 0:
                return None
            a = 1.0 / (ttv.mean() * f)
            return (a, b) if a + b <= MAX_RATE else None

        self.ch_founder = race_chain(self.race_founder, None if has_friction else exact(1.0))
        self.ch_joiner = race_chain(self.race_joiner, exact(1.0))
        self.ch_invitee = race_chain(self.race_invitee, exact(factor))
        self.ch_invite = delay_chain(self.settings.collaboration.invite_delay,
                                      allow_instant=False)
        self.ch_decision = delay_chain(self.settings.pricing.decision_delay,
                                        allow_instant=False)
        if self.trial:
            self._trial_founder()

    def _trial_founder(self) -> None:
        """A trial team's first signup onboards on the trial's own clock: founder exit
        hazards per trial stage, and the rest of the race after the trial (a chain)."""
        r = self.race_founder
        L = self.trial_length
        # TRIAL_STAGES, fewer for a trial so short that a stage would be quicker than MAX_RATE
        n = self.nT = max(1, min(TRIAL_STAGES, int(L * MAX_RATE)))
        nu = n / L
        self.trial_rate = nu
        early = r.times < G_MIN / 2
        self.tf_instant = np.array([r.instant_act + r.act[early].sum(),
                                    r.instant_abandon + r.abandon[early].sum()])
        t = r.times[~early]
        act, ab = r.act[~early], r.abandon[~early]
        window = np.minimum((t / (L / n)).astype(int), n)
        m_act = np.bincount(window, weights=act, minlength=n + 1)
        m_ab = np.bincount(window, weights=ab, minlength=n + 1)
        # exit hazards within each stage; survivors tracked as the chain will see them
        surv = 1.0 - self.tf_instant.sum()
        target = surv
        eta = np.zeros((2, n))
        cap = MAX_RATE
        for k in range(n):
            target -= m_act[k] + m_ab[k]
            want = surv - max(target, 0.0)  # exit in this stage to be on track
            if surv <= 1e-15 or want <= 0:
                continue
            c = min(want / surv, 0.999)
            tot = min(nu * c / (1 - c), cap)
            share = m_act[k] / (m_act[k] + m_ab[k]) if m_act[k] + m_ab[k] > 0 else 0.5
            eta[:, k] = tot * share, tot * (1 - share)
            surv *= nu / (nu + tot)
        self.tf_eta = eta
        # what is left after the trial: the race beyond L, as a chain of its own
        late = t >= L
        res = np.vstack([act[late], ab[late]])
        if res.sum() > 1e-12:
            self.ch_post = chain_from_masses(t[late] - L, res / res.sum(), 2)
        else:
            self.ch_post = one_stage(MAX_RATE, [0.5, 0.5], [0.0, 0.0])

    def _market(self) -> None:
        market = self.settings.market
        sizes, pmf = size_histogram(market.team_size)
        companies = float(market.companies)
        self.M = float(np.dot(sizes, pmf)) * companies
        bins = size_bins(sizes, pmf, companies)
        self.bins = bins
        self.B = len(bins)
        rs, rn = representatives(sizes, pmf * companies)
        self.rep_s, self.rep_n = rs, rn
        self.rep_bin = np.array([next(i for i, (lo, hi) in enumerate(bins) if lo <= s < hi)
                                 for s in rs])
        self.people_total = np.bincount(self.rep_bin, weights=rs * rn, minlength=self.B)
        # absolute tolerances (teams, users) shrink with a market under 10,000 companies
        self.scale = min(1.0, companies / 1e4)
        self.eps = _EPS * self.scale
        self.companies_total = np.bincount(self.rep_bin, weights=rn, minlength=self.B)

    def _layout(self) -> None:
        """Team classes and the state vector."""
        # seat levels: TOP_SEATS, or two above a seat limit of up to 10; a larger limit is
        # met through the lump's closure (it holds a share of its teams at the limit)
        A = max(TOP_SEATS, self.limit + 2) if 0 < self.limit <= 10 else TOP_SEATS
        self.A = A
        lim = self.limit
        self.A_free = lim if 0 < lim <= A else A
        # USAGE_STAGES, fewer if a stage would pass quicker than MAX_RATE at full seats
        J = 1
        if self.usage_limit > 0:
            fastest = self.usage_rate * max(self.A_free, 1) / self.usage_limit
            J = max(1, min(USAGE_STAGES, int(MAX_RATE / max(fastest, 1e-12))))
        self.J = J
        D = self.ch_decision.stages
        cl = Classes()
        free_tier = self.model in FREE_TIER_MODELS
        if free_tier:
            for a in range(self.A_free + 1):
                for j in range(J):
                    cl.add(FREE, a, j, top=a == self.A_free)
            for a in range(A + 1):
                for d in range(D):
                    cl.add(PENDING, a, d, top=a == A)
            for a in range(A + 1):
                cl.add(CAPPED, a, top=a == A)
        for a in range(A + 1):
            cl.add(PAYING, a, top=a == A)
        if self.trial:
            for k in range(self.nT):
                for a in range(A + 1):
                    cl.add(TRIAL, a, k, top=a == A)
        cl.add(NO_ACCESS, 0)
        self.cl = cl
        n = len(cl)
        self.n = n
        blk = np.array(cl.block)
        seats = np.array(cl.seats, dtype=float)
        self.blk, self.a = blk, seats
        self.top = np.array(cl.top)
        self.top_idx = np.flatnonzero(self.top)
        self.top_pos = np.full(n, -1)
        self.top_pos[self.top_idx] = np.arange(len(self.top_idx))
        self.access = blk != NO_ACCESS
        self.invites_from = np.isin(blk, (FREE, PENDING, PAYING, TRIAL))
        self.paying = blk == PAYING
        # where a first signup may be pending with its own onboarding pool (not on the
        # trial clock: freemium teams, and trial teams after the trial)
        self.pf_pool = (blk != TRIAL) & self.access
        self.zero = self.access & (seats == 0)
        self.na = cl(NO_ACCESS, 0)
        # at-limit behaviour of each class: static share at the limit (1 or 0), and for
        # top classes with the limit above them, the gap for the geometric closure
        limited = np.isin(blk, (FREE, PENDING, CAPPED)) & (lim > 0)
        self.lim_static = (limited & (seats >= lim)).astype(float)
        self.lim_gap = np.where(limited & self.top & (seats < lim), lim - seats, 0.0)
        self._transitions()
        # state vector
        B, ntop = self.B, len(self.top_idx)
        # (N and what the teams carry are contiguous: one (5, B, n) block, see rhs)
        sizes = {"X": 1, "W": B, "V": B, **{name: B * n for name in _TEAM},
                 "E": B * ntop,
                 "OF": B * self.ch_founder.stages, "OP": B * (self.ch_post.stages if self.trial else 0),
                 "OJ": B * self.ch_joiner.stages, "OI": B * self.ch_invitee.stages,
                 "IF": B * self.ch_invite.stages, "ID": B * self.ch_invite.stages,
                 "G": self.tenure.stages if self.tenure is not None else 0,
                 "Z": len(_COUNTERS)}
        self.sl: dict[str, slice] = {}
        at = 0
        for k, size in sizes.items():
            self.sl[k] = slice(at, at + size)
            at += size
        self.size = at
        self._helpers()
        self._linear()

    def _helpers(self) -> None:
        """Masks and index arrays the right-hand side uses at every call."""
        cl, B, n, sl = self.cl, self.B, self.n, self.sl
        blk = self.blk
        # free teams at the top may hold extra seats (no seat limit, or one above the top)
        self.free_extra = bool((blk == FREE).any()) and self.A_free == self.A and (
            self.limit == 0 or self.limit > self.A)
        m = self.top[self.u_src] & self.free_extra if len(self.u_src) else np.zeros(0, bool)
        self.u_top, self.u_top_dst = self.u_src[m], self.u_dst[m]
        self.u_top_pay = self.u_pay[m]
        self.acc_f = self.access.astype(float)
        self.nontop = np.flatnonzero(~self.top)
        self.invites_from_f = self.invites_from.astype(float)
        self.wait_cls = np.isin(blk, (FREE, PENDING)).astype(float)
        self.capped_cls = (blk == CAPPED).astype(float)
        self.zero_f = self.zero.astype(float)
        self.pending_f = (blk == PENDING).astype(float)
        self.free_lim = np.flatnonzero((blk == FREE) & ((self.lim_static > 0) | (self.lim_gap > 0)))
        self.gap_cls = np.flatnonzero(self.lim_gap > 0)
        self.top_down = np.array([cl(blk[i], int(self.a[i]) - 1, cl.stage[i])
                                  for i in self.top_idx], int)
        self._off = (np.arange(B) * n)[:, None]
        self._off5 = (np.arange(len(_TEAM))[:, None, None] * B + np.arange(B)[None, :, None]) * n
        self._team = slice(sl[_TEAM[0]].start, sl[_TEAM[-1]].stop)
        self._ctr = _C
        self._ctr_channels = np.array([_C["sig_organic"], _C["sig_paid"], _C["sig_referral"]])

        def first(name: str) -> np.ndarray:
            width = (sl[name].stop - sl[name].start) // B
            return sl[name].start + np.arange(B) * width

        self._oj0 = first("OJ")
        self._of0 = first("OF")
        self._if0 = first("IF")
        if self.trial:
            self._new_onb = cl(TRIAL, 0, 0)
            self._new_seat = cl(TRIAL, 1, 0)
        else:
            self._new_onb = cl(FREE, 0, 0)
            self._new_seat = cl(FREE, 1, 0) if self.A_free >= 1 else self._new_onb
        # the class a team is in after a seat taken in each class (a top keeps its class)
        self.seat_dest = np.where(self.top, np.arange(n), self.seat_dst)
        self.rep_sn = self.rep_s * self.rep_n
        self._lost_row: sparse.csr_matrix | None = None

    def _transitions(self) -> None:
        """Index arrays of every static transition between team classes."""
        cl, A, n = self.cl, self.A, self.n
        blk, a = self.blk, self.a.astype(int)
        J = self.J
        lim = self.limit
        # where a seat taken in each class leads (same class for a top: an extra seat)
        seat_dst = np.arange(n)
        for i in range(n):
            b, s, st = blk[i], a[i], cl.stage[i]
            if b == NO_ACCESS or self.top[i]:
                continue
            seat_dst[i] = cl(b, s + 1, st)
        self.seat_dst = seat_dst
        # at the limit: free -> pending (waiting), pending stays (waiting), capped stays
        lim_dst = np.arange(n)
        for i in range(n):
            if blk[i] == FREE:
                lim_dst[i] = cl(PENDING, a[i], 0)
        self.lim_dst = lim_dst
        # usage: free classes with seats move a stage; the last stage meets the paywall
        src, dst, pay = [], [], []
        if self.usage_limit > 0:
            for i in range(n):
                if blk[i] == FREE and a[i] > 0:
                    j = cl.stage[i]
                    src.append(i)
                    dst.append(cl(FREE, a[i], j + 1) if j + 1 < J else cl(PENDING, a[i], 0))
                    pay.append(j + 1 == J)
        self.u_src, self.u_dst = np.array(src, int), np.array(dst, int)
        self.u_pay = np.array(pay, bool)
        # churn: one seat fewer; a paying team whose last user leaves cancels
        src, dst = [], []
        for i in range(n):
            if blk[i] != NO_ACCESS and a[i] > 0:
                src.append(i)
                if blk[i] == PAYING and a[i] == 1:
                    dst.append(self.na)
                else:
                    dst.append(cl(blk[i], a[i] - 1, cl.stage[i]))
        self.c_src, self.c_dst = np.array(src, int), np.array(dst, int)
        # logo churn of paying teams
        self.l_src = np.array([i for i in range(n) if blk[i] == PAYING and a[i] > 0], int)
        # decisions: stage progress within pending, and the decision at a stage's end
        ch = self.ch_decision
        src, dst, rate = [], [], []
        dsrc, drate = [], []
        for i in range(n):
            if blk[i] != PENDING:
                continue
            d = cl.stage[i]
            if d + 1 < ch.stages and ch.cont[d] > 0:
                src.append(i)
                dst.append(cl(PENDING, a[i], d + 1))
                rate.append(ch.rates[d] * ch.cont[d])
            if ch.exits[0, d] > 0:
                dsrc.append(i)
                drate.append(ch.rates[d] * ch.exits[0, d])
        self.d_src, self.d_dst, self.d_rate = np.array(src, int), np.array(dst, int), np.array(rate)
        self.dec_src, self.dec_rate = np.array(dsrc, int), np.array(drate)
        self.dec_a = a[self.dec_src].astype(float)
        self.dec_cap = np.array([cl(CAPPED, x) for x in a[self.dec_src]], int)
        self.pay_idx = np.array([cl(PAYING, s) for s in range(A + 1)], int)
        if not self.trial:
            return
        # trial: the clock, the first signup's onboarding, the trial's end
        src, dst = [], []
        for i in range(n):
            if blk[i] == TRIAL and cl.stage[i] + 1 < self.nT:
                src.append(i)
                dst.append(cl(TRIAL, a[i], cl.stage[i] + 1))
        self.t_src, self.t_dst = np.array(src, int), np.array(dst, int)
        self.t_last = (blk == TRIAL) & (np.array(cl.stage) == self.nT - 1)
        # the first signup, pending in a trial team, reaches value (a seat) or gives up
        self.f_src = np.flatnonzero(blk == TRIAL)
        self.f_act = np.where(self.top[self.f_src], self.f_src, seat_dst[self.f_src])
        self.f_eta = self.tf_eta[:, np.array(cl.stage)[self.f_src]]
        self.f_top = self.top[self.f_src]
        self.f_zero = a[self.f_src] == 0
        # the trial's end: (source, destination, probability, kind) rows
        # kind: 0 converted, 1 lost access, 2 fell back to free, 3 fell back to the paywall
        rows = []
        last = self.nT - 1
        for i in range(n):
            if blk[i] != TRIAL or cl.stage[i] != last:
                continue
            s = a[i]
            conv = self.convert_p if s > 0 else 0.0
            if conv > 0:
                rows.append((i, cl(PAYING, s), conv, 0))
            rest = 1.0 - conv
            if rest <= 0:
                continue
            if not self.reverse:
                rows.append((i, self.na, rest, 1))
            elif lim > 0 and s > lim:
                rows.append((i, cl(PENDING, s, 0), rest, 3))
            else:
                for j, w, paywall in self._fallback_usage(min(s, self.A_free)):
                    to = cl(PENDING, s, 0) if paywall else cl(FREE, min(s, self.A_free), j)
                    rows.append((i, to, rest * w, 3 if paywall else 2))
        r = np.array(rows, dtype=float).reshape(-1, 4)
        self.e_src, self.e_dst = r[:, 0].astype(int), r[:, 1].astype(int)
        self.e_p, self.e_kind = r[:, 2], r[:, 3].astype(int)

    def _fallback_usage(self, seats: int) -> list[tuple[int, float, bool]]:
        """Usage stage of a reverse-trial team falling back to the free tier: its trial
        usage taken as seats x usage rate x half the trial.  ``(stage, weight, paywall)``."""
        if self.usage_limit <= 0:
            return [(0, 1.0, False)]
        x = self.usage_rate * seats * self.trial_length / 2 / self.usage_limit * self.J
        if x >= self.J:
            return [(0, 1.0, True)]
        lo = int(math.floor(x))
        frac = x - lo
        out = [(lo, 1.0 - frac, False)]
        if frac > 0:
            out.append((lo + 1, frac, True) if lo + 1 >= self.J else (lo + 1, frac, False))
        return out

    # -- the linear part: one sparse matrix ----------------------------------------------

    def _index(self, name: str, b: int | np.ndarray, k: int | np.ndarray,
               width: int) -> np.ndarray:
        return self.sl[name].start + np.asarray(b) * width + np.asarray(k)

    def _linear(self) -> None:
        """Every flow whose rate is a constant times one state variable: onboarding and
        invite chains, tenure phases, usage of teams without extra seats, logo churn, the
        decision and trial clocks, a trial team's first signup, the trial's end; with the
        counters they feed and the per-bin outputs the nonlinear part reads.  A team
        moving between classes takes its carried quantities along (people reached,
        pending signups); those of a team that loses access are doomed."""
        B, n, sl = self.B, self.n, self.sl
        ntop = len(self.top_idx)
        size = self.size
        out_names = ("act_f", "act_j", "act_i", "ab_f", "ab_j", "ab_i", "doom_f", "doom_j",
                     "doom_i", "seat_new", "first_t")
        self.out = {name: slice(i * B, (i + 1) * B) for i, name in enumerate(out_names)}
        n_out = len(out_names) * B
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("A", "Ac", "R", "Rc")}

        def add(which: str, r: Any, c: Any, v: Any) -> None:
            r, c, v = np.broadcast_arrays(np.asarray(r, int), np.asarray(c, int),
                                          np.asarray(v, float))
            rows[which].append(np.vstack([r.ravel(), c.ravel(), v.ravel()]))

        def flow(which: str, src: Any, dst: Any | None, rate: Any) -> None:
            add(which, src, src, -np.asarray(rate, float))
            if dst is not None:
                add(which, dst, src, rate)

        z = sl["Z"].start
        ctr = {name: z + i for i, name in enumerate(_COUNTERS)}

        def out(name: str, b: Any) -> np.ndarray:
            return self.out[name].start + np.asarray(b)

        bb = np.arange(B)[:, None]  # broadcast over bins

        # onboarding pools: (state, chain, counter of values reached, kind of signup)
        pools = [("OJ", self.ch_joiner, "act_joiner", "j"),
                 ("OI", self.ch_invitee, "act_invitee", "i")]
        pools.append(("OP", self.ch_post, "act_founder", "f") if self.trial
                     else ("OF", self.ch_founder, "act_founder", "f"))
        for name, ch, counter, kind in pools:
            K = ch.stages
            k = np.arange(K)[None, :]
            src = self._index(name, bb, k, K)
            nxt = self._index(name, bb, np.minimum(k + 1, K - 1), K)
            flow("A", src, None, ch.rates)
            add("A", nxt[:, :-1], src[:, :-1], ch.rates[:-1] * ch.cont[:-1])
            add("A", ctr[counter], src, ch.rates * ch.exits[ACT])
            add("A", ctr["abandoned"], src, ch.rates * ch.exits[ABANDON])
            add("R", out(f"act_{kind}", bb), src, ch.rates * ch.exits[ACT])
            add("R", out(f"ab_{kind}", bb), src, ch.rates * ch.exits[ABANDON])
        # invites in flight: live ones sign up as invitees, those of lost teams lose access
        chv, chi = self.ch_invite, self.ch_invitee
        K = chv.stages
        k = np.arange(K)[None, :]
        arrive = chv.rates * chv.exits[0]
        for name in ("IF", "ID"):
            src = self._index(name, bb, k, K)
            nxt = self._index(name, bb, np.minimum(k + 1, K - 1), K)
            flow("A", src, None, chv.rates)
            add("A", nxt[:, :-1], src[:, :-1], chv.rates[:-1] * chv.cont[:-1])
            for counter in ("sig_invite", "invite_arrivals"):
                add("A", ctr[counter], src, arrive)
            add("A", ctr["invite_delay_sum"], src, arrive * chv.ages)
            if name == "ID":
                add("A", ctr["lost"], src, arrive)
                continue
            add("A", self._index("OI", bb, 0, chi.stages), src,
                arrive * (1.0 - chi.instant.sum()))
            add("A", ctr["act_invitee"], src, arrive * chi.instant[ACT])
            add("A", ctr["abandoned"], src, arrive * chi.instant[ABANDON])
            add("R", out("act_i", bb), src, arrive * chi.instant[ACT])
            add("R", out("ab_i", bb), src, arrive * chi.instant[ABANDON])
        # tenure phases (the churn itself is read from them in the nonlinear part)
        if self.tenure is not None:
            ch = self.tenure
            src = sl["G"].start + np.arange(ch.stages)
            flow("A", src, None, ch.rates)
            add("A", src[1:], src[:-1], ch.rates[:-1] * ch.cont[:-1])

        # team classes
        def iX(name: str, c: Any) -> np.ndarray:
            return sl[name].start + bb * n + np.asarray(c)[None, :]

        def iN(c: Any) -> np.ndarray:
            return iX("N", c)

        def iE(c: Any) -> np.ndarray:
            return sl["E"].start + bb * ntop + self.top_pos[np.asarray(c)][None, :]

        def team_flow(which: str, src: np.ndarray, dst: np.ndarray, rate: Any,
                      out_which: str = "R") -> None:
            """Teams move from src to dst classes at ``rate`` per team, with what they
            carry; the signups pending for a team that loses access are doomed (a trial
            team's first signup, onboarding on the trial clock, has no pool: lost now)."""
            rate = np.broadcast_to(np.asarray(rate, float), src.shape)
            flow(which, iN(src), iN(dst), rate)
            flow(which, iX("K", src), iX("K", dst), rate)  # reached people stay reached
            na = dst == self.na
            for name in _PENDING:
                flow(which, iX(name, src), None, rate)
                if (~na).any():
                    add(which, iX(name, dst[~na]), iX(name, src[~na]), rate[~na])
                if not na.any():
                    continue
                if name == "PF":
                    clock = self.blk[src[na]] == TRIAL
                    add(which, ctr["lost"], iX(name, src[na][clock]), rate[na][clock])
                    add(out_which, out("doom_f", bb), iX(name, src[na][~clock]),
                        rate[na][~clock])
                else:
                    add(out_which, out("doom_" + name[1].lower(), bb), iX(name, src[na]),
                        rate[na])

        def extras(which: str, src: np.ndarray, dst: np.ndarray, rate: Any,
                   lost: tuple[str, ...] = ()) -> None:
            """Extra seats of top sources go with a flow of rate ``rate`` (per team)."""
            rate = np.broadcast_to(np.asarray(rate, float), src.shape)
            m = self.top[src]
            if not m.any():
                return
            s, d, r = src[m], dst[m], rate[m]
            flow(which, iE(s), None, r)
            keep = self.top[d]
            if keep.any():
                add(which, iE(d[keep]), iE(s[keep]), r[keep])
            for counter in lost:
                if (~keep).any():
                    add(which, ctr[counter], iE(s[~keep]), r[~keep])

        a = self.a
        # usage (teams whose seats are whole numbers here; a top with extras: nonlinear)
        if len(self.u_src):
            lin = ~self.top[self.u_src] | (not self.free_extra)
            s, d = self.u_src[lin], self.u_dst[lin]
            rate = self.usage_rate * self.J / self.usage_limit * a[s]
            team_flow("A", s, d, rate)
            add("A", ctr["paywall"], iN(s), rate * self.u_pay[lin])
        # logo churn: paying teams cancel; their seats end
        if self.logo > 0 and len(self.l_src):
            s = self.l_src
            na = np.full(len(s), self.na)
            team_flow("A", s, na, self.logo)
            add("A", ctr["cancels"], iN(s), self.logo)
            add("A", ctr["lost_seats"], iN(s), self.logo * a[s])
            extras("A", s, na, self.logo, lost=("lost_seats",))
        # churn of teams below the top (rate x seats; a paying team's last seat cancels it)
        if len(self.c_src):
            lin = ~self.top[self.c_src]
            s, d = self.c_src[lin], self.c_dst[lin]
            which = ("Ac", "Rc") if self.tenure is not None else ("A", "R")
            rate = a[s] * (1.0 if self.tenure is not None else self.churn)
            team_flow(which[0], s, d, rate, out_which=which[1])
            add(which[0], ctr["churned"], iN(s), rate)
            add(which[0], ctr["cancels"], iN(s), rate * (d == self.na))
        # decision clock (the decision itself is nonlinear: waiting users)
        if len(self.d_src):
            team_flow("A", self.d_src, self.d_dst, self.d_rate)
            extras("A", self.d_src, self.d_dst, self.d_rate)
        # stocks integrated over time
        add("A", ctr["user_days"], iN(np.arange(n)), a * self.access)
        add("A", ctr["user_days"], sl["E"].start + np.arange(B * ntop), 1.0)
        add("A", ctr["paid_seat_days"], iN(np.arange(n)), a * self.paying)
        ptop = self.top_idx[self.paying[self.top_idx]]
        add("A", ctr["paid_seat_days"], iE(ptop), 1.0)
        add("A", ctr["paying_days"], iN(np.arange(n)), 1.0 * self.paying)
        if self.trial:
            self._linear_trial(add, team_flow, extras, iX, iE, ctr, out, bb)
        for key, (r, c) in {"A": (size, size), "Ac": (size, size), "R": (n_out, size),
                            "Rc": (n_out, size)}.items():
            data = np.hstack(rows[key]) if rows[key] else np.zeros((3, 0))
            mat = sparse.csr_matrix((data[2], (data[0].astype(int), data[1].astype(int))),
                                    shape=(r, c))
            mat.sum_duplicates()
            mat.data[np.abs(mat.data) < 1e-30] = 0.0  # negligible: would breed subnormals
            mat.eliminate_zeros()
            setattr(self, f"L_{key}", mat)

    def _linear_trial(self, add: Any, team_flow: Any, extras: Any, iX: Any, iE: Any,
                      ctr: dict[str, int], out: Any, bb: np.ndarray) -> None:
        a = self.a
        nu = self.trial_rate

        def iN(c: Any) -> np.ndarray:
            return iX("N", c)

        team_flow("A", self.t_src, self.t_dst, nu)
        extras("A", self.t_src, self.t_dst, nu)
        # the first signup, pending in a trial team, reaches value (its team takes a seat:
        # a rate per pending first signup) or gives up, on the trial clock; the rest of
        # what the team carries follows in the nonlinear part
        s = self.f_src
        ea, eb = self.f_eta
        pf = iX("PF", s)
        add("A", pf, pf, -(ea + eb))
        nt = ~self.f_top
        add("A", iN(s[nt]), pf[:, nt], -ea[nt])
        add("A", iN(self.f_act[nt]), pf[:, nt], ea[nt])
        if self.f_top.any():
            add("A", iE(s[~nt]), pf[:, ~nt], ea[~nt])  # a seat beyond the top
        for counter in ("act_founder", "seated"):
            add("A", ctr[counter], pf, ea)
        add("A", ctr["abandoned"], pf, eb)
        add("R", out("seat_new", bb), pf, ea)
        add("R", out("first_t", bb), pf, ea * self.f_zero)
        # the trial's end
        last = np.flatnonzero(self.t_last)
        add("A", ctr["trial_ends"], iN(last), nu)
        s, d, p, kind = self.e_src, self.e_dst, self.e_p, self.e_kind
        rate = nu * p
        team_flow("A", s, d, rate)
        conv, lost, pay = kind == 0, kind == 1, kind == 3
        add("A", ctr["trial_conversions"], iN(s), rate * conv)
        add("A", ctr["paid_entries"], iN(s), rate * conv * a[s])
        add("A", ctr["paywall"], iN(s), rate * pay)
        add("A", ctr["lost_seats"], iN(s), rate * lost * a[s])
        # a first signup still onboarding when the trial ends, in a team that keeps access,
        # goes on (the rest of the race, a chain of its own), pending in that team (it
        # moved there with the team)
        post = self.ch_post
        keep = ~lost
        pf = iX("PF", s)
        add("A", self._index("OP", bb, 0, post.stages), pf,
            rate * keep * (1.0 - post.instant.sum()))
        add("A", ctr["act_founder"], pf, rate * keep * post.instant[ACT])
        add("A", ctr["abandoned"], pf, rate * keep * post.instant[ABANDON])
        add("R", out("act_f", bb), pf, rate * keep * post.instant[ACT])
        add("R", out("ab_f", bb), pf, rate * keep * post.instant[ABANDON])
        extras("A", s, d, rate, lost=("lost_seats",))
        m = self.top[s]
        if m.any():
            add("A", ctr["paid_entries"], iE(s[m]), (rate * conv)[m])

    # -- the right-hand side ---------------------------------------------------------------

    def initial(self) -> np.ndarray:
        return np.zeros(self.size)

    def jacobian(self) -> sparse.csc_matrix:
        """A constant sparse approximation of the Jacobian: the linear part, plus the
        decisions at the paywall and the resolution of pending signups as if linear
        (rates of a fraction of a day: left out, they would limit the steps)."""
        lam = self.churn
        if self.tenure is not None:
            ch = self.tenure
            lam = float(1.0 / np.sum(1.0 / ch.rates))  # about the seats' mean hazard
        B, n, sl = self.B, self.n, self.sl
        r, c, v = [], [], []
        bb = np.arange(B)[:, None]
        if self.dec_src.size:
            src = self.dec_src[None, :]
            rate = np.broadcast_to(self.dec_rate, (B, self.dec_src.size))
            pay = self.pay_idx[self.dec_a.astype(int)][None, :]
            for base in ("N", "K", *_PENDING):
                i = sl[base].start + bb * n
                for dst, w in ((src, -1.0), (self.dec_cap[None, :], 1.0 - self.upgrade_p),
                               (pay, self.upgrade_p)):
                    r.append((i + dst).ravel())
                    c.append((i + src).ravel())
                    v.append((rate * w).ravel())
            r.append(np.arange(sl["W"].start, sl["W"].stop))
            c.append(np.arange(sl["W"].start, sl["W"].stop))
            v.append(np.full(B, -float(self.dec_rate.max())))
        # pending signups resolve after their onboarding (invitees: the delay first)
        waits = {"PF": mean_age(self.ch_founder), "PJ": mean_age(self.ch_joiner),
                 "PI": mean_age(self.ch_invite) + mean_age(self.ch_invitee)}
        for name, wait in waits.items():
            q = np.arange(sl[name].start, sl[name].stop)
            if name == "PF":  # (on the trial clock they are in the linear part)
                q = q[np.tile(self.pf_pool, B)]
            r.append(q)
            c.append(q)
            v.append(np.full(len(q), -1.0 / max(wait, G_MIN)))
        extra = sparse.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))),
                                  shape=(self.size, self.size))
        return (self.L_A + lam * self.L_Ac + extra).tocsc()

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:  # noqa: C901, PLR0915
        """dy/dt: the linear flows (one sparse product) plus the nonlinear ones."""
        B, n, sl = self.B, self.n, self.sl
        ctr = self._ctr
        eps = self.eps
        # churn hazard: constant, or the seats' average over their tenure phases
        if self.tenure is not None:
            ch = self.tenure
            G = np.maximum(y[sl["G"]], 0.0)
            g_tot = float(G.sum())
            lam = (float(np.dot(G, ch.rates * ch.exits[0])) / g_tot if g_tot > _TINY
                   else float(ch.rates[0] * ch.exits[0, 0]))
            dy = self.L_A @ y + lam * (self.L_Ac @ y)
            o = self.L_R @ y + lam * (self.L_Rc @ y)
        else:
            lam = self.churn
            dy = self.L_A @ y
            o = self.L_R @ y
        out = {k: o[s] for k, s in self.out.items()}
        dZ = np.zeros(len(_COUNTERS))
        X = float(y[sl["X"].start])
        W = y[sl["W"]]
        V = y[sl["V"]]
        E = y[sl["E"]].reshape(B, -1)
        # teams per class and what they carry: people reached, and signups pending
        # (onboarding, or an accepted invite not yet signed up) by kind
        team = y[self._team].reshape(len(_TEAM), B, n)
        dT = np.zeros_like(team)
        N, dN = team[0], dT[0]
        carried = dict(zip(_TEAM[1:], team[1:], strict=True))
        d_car = dict(zip(_TEAM[1:], dT[1:], strict=True))
        dE = np.zeros_like(E)
        dW = np.zeros(B)
        top = self.top_idx
        Ntop = N[:, top]
        etop = E / (np.abs(Ntop) + eps)  # extra seats per top team
        extra = np.zeros((B, n))
        extra[:, top] = etop
        per = self.a + extra
        seats = N * per
        s_b = seats.sum(axis=1)
        active = float(s_b.sum())
        n0 = N @ self.zero_f
        n_p = N @ self.pending_f

        # -- acquisition and the market ----------------------------------------------------
        organic = self.organic_rate(t)
        rates = np.array([organic, self.paid, self.referral * active])
        contacts = float(rates.sum())
        share = rates / contacts if contacts > 0 else np.zeros(3)
        ex = np.exp(-self.rep_s * X)
        untouched = np.bincount(self.rep_bin, weights=self.rep_sn * ex, minlength=B)
        touched = self.companies_total - np.bincount(self.rep_bin, weights=self.rep_n * ex,
                                                     minlength=B)
        kappa = self.card * contacts / self.M
        create = kappa * untouched  # new teams (first signups) per day, per bin
        people = self.people_total - untouched  # in touched companies
        K = carried["K"]
        remaining_b = np.maximum(people - K.sum(axis=1), 0.0)
        join_b = contacts * remaining_b / self.M
        # a joiner reaches one of the remaining people: each class by its teams' share
        # (teams of a bin taken at the bin's mean size)
        size_b = people / np.maximum(touched, _TINY)
        rem = np.maximum(N * size_b[:, None] - K, 0.0)
        rem_b = rem.sum(axis=1)
        join = rem * (join_b / (rem_b + eps))[:, None]
        join_lost = join[:, self.na]
        join_in = join * self.acc_f
        dy[sl["X"].start] += kappa
        d_car["K"] += join
        d_car["K"][:, self._new_onb] += create
        signed = float(create.sum() + join.sum())
        dZ[ctr["contacts"]] += contacts
        dZ[self._ctr_channels] += share * signed
        dZ[ctr["sig_founder"]] += create.sum()
        dZ[ctr["sig_lost_signup"]] += join_lost.sum()
        dZ[ctr["lost"]] += join_lost.sum()
        chj, chf = self.ch_joiner, self.ch_founder
        d_car["PJ"] += join_in * (1.0 - chj.instant.sum())
        dy[self._oj0] += join_in.sum(axis=1) * (1.0 - chj.instant.sum())
        dZ[ctr["abandoned"]] += join_in.sum() * chj.instant[ABANDON]
        j_now = join_in * chj.instant[ACT]  # joiners reaching value at once, per class
        dZ[ctr["act_joiner"]] += j_now.sum()
        if not self.trial:
            dy[self._of0] += create * (1.0 - chf.instant.sum())
            d_car["PF"][:, self._new_onb] += create * (1.0 - chf.instant.sum())
            dZ[ctr["abandoned"]] += create.sum() * chf.instant[ABANDON]

        # -- users who reach value land in their own team's class -------------------------
        land = j_now.copy()
        for kind, name in (("f", "PF"), ("j", "PJ"), ("i", "PI")):
            P = carried[name] * self.pf_pool if name == "PF" else carried[name]
            phi = out[f"act_{kind}"]
            # (a numerical residue with nothing pending goes to the bin's teams evenly)
            w = P + 1e-9 * np.abs(N) * self.acc_f
            w_b = w.sum(axis=1)
            lnd = w * (phi / np.where(np.abs(w_b) > 1e-30, w_b, 1.0))[:, None]
            land += lnd
            d_car[name] -= lnd * (P / np.where(np.abs(w) > 1e-30, w, 1.0))
            # those who gave up leave their teams' pending count
            d_car[name] -= P * (out[f"ab_{kind}"] / (np.abs(P.sum(axis=1)) + eps))[:, None]
        # at the limit: static for most classes; a top class below the limit: geometric
        if self.gap_cls.size:
            q = np.broadcast_to(self.lim_static, (B, n)).copy()
            e = extra[:, self.gap_cls]
            q[:, self.gap_cls] = (e / (1.0 + e)) ** self.lim_gap[self.gap_cls]
        else:
            q = self.lim_static
        lim_flux = land * q
        seat_flux = land - lim_flux
        moves_s = [self.nontop]
        moves_d = [self.seat_dst[self.nontop]]
        moves_f = [seat_flux[:, self.nontop]]
        dE += seat_flux[:, top]
        taken = seat_flux.sum(axis=1)
        # seats that send invites, by the class the team is in once seated
        inv_seats = np.zeros((B, n))
        scatter(inv_seats, self.seat_dest, seat_flux * self.invites_from_f)
        seat_new = taken.sum() + out["seat_new"].sum()
        dZ[ctr["seated"]] += taken.sum()
        dZ[ctr["paid_entries"]] += seat_flux[:, self.paying].sum()
        dW += lim_flux @ self.wait_cls
        dZ[ctr["blocked"]] += (lim_flux @ self.capped_cls).sum()
        if self.free_lim.size:
            f = lim_flux[:, self.free_lim]
            moves_s.append(self.free_lim)
            moves_d.append(self.lim_dst[self.free_lim])
            moves_f.append(f)
            dZ[ctr["paywall"]] += f.sum()
            ft = self.top_pos[self.free_lim]
            m = (ft >= 0) & (self.top_pos[self.lim_dst[self.free_lim]] >= 0)
            if m.any():
                mv = f[:, m] * extra[:, self.free_lim[m]]
                scatter(dE, ft[m], -mv)
                scatter(dE, self.top_pos[self.lim_dst[self.free_lim[m]]], mv)
        frac_v = V / (np.abs(n0) + eps)
        first = ((land @ self.zero_f) + out["first_t"]) * frac_v
        dV = -first
        dZ[ctr["teams_activated"]] += first.sum()

        # -- top classes: churn with the geometric closure; usage with extra seats ---------
        if lam > 0:
            at = self.a[top]
            drop = lam * at * Ntop / (1.0 + etop)
            moves_s.append(top)
            moves_d.append(self.top_down)
            moves_f.append(drop)
            total = lam * (at * Ntop + E)
            dE -= total - drop
            dZ[ctr["churned"]] += total.sum()
        if self.free_extra and self.u_top.size:
            s, d = self.u_top, self.u_top_dst
            fl = N[:, s] * per[:, s] * (self.usage_rate * self.J / self.usage_limit)
            moves_s.append(s)
            moves_d.append(d)
            moves_f.append(fl)
            mv = fl * extra[:, s]
            scatter(dE, self.top_pos[s], -mv)
            scatter(dE, self.top_pos[d], mv)
            dZ[ctr["paywall"]] += fl[:, self.u_top_pay].sum()

        # -- paywall decisions (waiting users per pending team at the bin's mean) ----------
        if self.dec_src.size:
            dec = N[:, self.dec_src] * self.dec_rate
            wbar = W / (np.abs(n_p) + eps)
            ex_d = extra[:, self.dec_src]
            someone = np.where(self.dec_a + ex_d > 0, 1.0, np.clip(wbar[:, None], 0.0, 1.0))
            up = dec * (self.upgrade_p * someone)
            down = dec - up
            moves_s.append(self.dec_src)
            moves_d.append(self.dec_cap)
            moves_f.append(down)
            st = self.top_pos[self.dec_src]
            m = st >= 0
            if m.any():
                scatter(dE, st[m], -dec[:, m] * ex_d[:, m])
                scatter(dE, self.top_pos[self.dec_cap[m]], down[:, m] * ex_d[:, m])
            # an upgrade: waiting users take seats; the team joins the paying classes
            tgt = np.maximum(self.dec_a + ex_d + wbar[:, None], 0.0)
            A = float(self.A)
            lo = np.minimum(np.floor(tgt), A)
            frac = np.where(lo < A, tgt - lo, 0.0)
            lo_i = lo.astype(int)
            hi_i = np.minimum(lo_i + 1, self.A)
            width = self.A + 1
            # what moves to the paying classes lo / lo + 1: the teams, what they carry,
            # and (last) the waiting users seated there, who send invites
            moving = np.concatenate([team[:, :, self.dec_src] / (
                np.abs(N[:, self.dec_src]) + eps) * up, (up * wbar[:, None])[None]])
            moving[0] = up
            k = len(moving)
            off = (np.arange(k)[:, None, None] * B + np.arange(B)[None, :, None]) * width
            w = (moving * (1 - frac)).ravel(), (moving * frac).ravel()
            paid = (np.bincount((off + lo_i).ravel(), weights=w[0], minlength=k * B * width)
                    + np.bincount((off + hi_i).ravel(), weights=w[1], minlength=k * B * width)
                    ).reshape(k, B, width)
            dT[:, :, self.dec_src] -= moving[:-1]
            dT[:, :, self.pay_idx] += paid[:-1]
            dE[:, self.top_pos[self.pay_idx[-1]]] += (up * np.maximum(tgt - A, 0.0)).sum(axis=1)
            decided = dec.sum(axis=1)
            dW -= decided * wbar
            seated_up = up.sum(axis=1) * wbar
            seat_new += seated_up.sum()
            inv_seats[:, self.pay_idx] += paid[-1]
            dZ[ctr["seated"]] += seated_up.sum()
            dZ[ctr["blocked"]] += (down.sum(axis=1) * wbar).sum()
            dZ[ctr["paid_entries"]] += (up * tgt).sum()
            dZ[ctr["upgrades"]] += up.sum()
            dZ[ctr["declines"]] += down.sum()

        # -- new teams: the first signup's instant outcomes now, the rest onboarding -------
        if self.trial:
            ia, ib = self.tf_instant
            dN[:, self._new_onb] += create * (1.0 - ia)
            dN[:, self._new_seat] += create * ia
            d_car["PF"][:, self._new_onb] += create * (1.0 - ia - ib)
            dZ[ctr["abandoned"]] += create.sum() * ib
            # a trial team's first signup took a seat: the linear part moved the team; its
            # seat sends invites, and what the team carries goes along
            fa = carried["PF"][:, self.f_src] * self.f_eta[ACT]
            scatter(inv_seats, self.f_act, fa)
            mv = ~self.f_top
            for name in ("K", "PJ", "PI"):
                c = fa[:, mv] * (carried[name][:, self.f_src[mv]]
                                 / (np.abs(N[:, self.f_src[mv]]) + eps))
                scatter(d_car[name], self.f_src[mv], -c)
                scatter(d_car[name], self.f_act[mv], c)
        else:
            ia = chf.instant[ACT]
            dN[:, self._new_onb] += create * (1.0 - ia)
            dN[:, self._new_seat] += create * ia
        if self._new_seat != self._new_onb:  # reached people of instant starters
            d_car["K"][:, self._new_onb] -= create * ia
            d_car["K"][:, self._new_seat] += create * ia
        dZ[ctr["act_founder"]] += create.sum() * ia
        dZ[ctr["seated"]] += create.sum() * ia
        seat_new += create.sum() * ia
        inv_seats[:, self._new_seat] += create * ia
        dV = dV + create * (1.0 - ia)
        dZ[ctr["teams_activated"]] += create.sum() * ia

        # -- apply the team moves, with what the teams carry ---------------------------------
        s_all = np.concatenate(moves_s)
        d_all = np.concatenate(moves_d)
        f2 = np.concatenate(moves_f, axis=1)
        flows = team[:, :, s_all] * (f2 / (np.abs(N[:, s_all]) + eps))
        flows[0] = f2
        w = flows.ravel()
        size = dT.size
        dT -= np.bincount((self._off5 + s_all).ravel(), weights=w, minlength=size).reshape(dT.shape)
        dT += np.bincount((self._off5 + d_all).ravel(), weights=w, minlength=size).reshape(dT.shape)

        # -- signups pending for teams that lost access: they lose it too ------------------
        def doom(names: tuple[str, ...], amount: np.ndarray, lost_now: bool = True) -> np.ndarray:
            """Remove ``amount`` (per bin) from the pools ``names`` in proportion, counting
            what is removed as having lost access (unless ``lost_now`` is false)."""
            pools = [y[sl[p]].reshape(B, -1) for p in names]
            tot = sum(p.sum(axis=1) for p in pools)
            frac = np.clip(amount / np.where(tot > 1e-12, tot, 1.0), 0.0, 1e3) * (tot > 1e-12)
            for p, pool in zip(names, pools, strict=True):
                removed = pool * frac[:, None]
                dy[sl[p]].reshape(B, -1)[:] -= removed
                if lost_now:
                    dZ[ctr["lost"]] += float(removed.sum())
            return frac

        doom(("OF", "OP") if self.trial else ("OF",), out["doom_f"])
        doom(("OJ",), out["doom_j"])
        IF = y[sl["IF"]].reshape(B, -1)
        OI = y[sl["OI"]].reshape(B, -1)
        tot_i = OI.sum(axis=1) + IF.sum(axis=1)
        frac = np.clip(out["doom_i"] / np.where(tot_i > 1e-12, tot_i, 1.0), 0.0, 1e3) * (
            tot_i > 1e-12)
        dy[sl["OI"]].reshape(B, -1)[:] -= OI * frac[:, None]  # onboarding: lose access now
        dZ[ctr["lost"]] += float((OI * frac[:, None]).sum())
        dy[sl["IF"]].reshape(B, -1)[:] -= IF * frac[:, None]  # in flight: arrive to no access
        dy[sl["ID"]].reshape(B, -1)[:] += IF * frac[:, None]

        # -- invites: sent by new seats, accepted, reserving someone still there ------------
        reach = np.clip(rem / (np.abs(N) + eps), 0.0, 1.0)
        accepted = inv_seats * (self.invites_mean * self.acceptance) * reach
        dZ[ctr["invites_sent"]] += inv_seats.sum() * self.invites_mean
        d_car["PI"] += accepted
        d_car["K"] += accepted
        dy[self._if0] += accepted.sum(axis=1)

        # -- seats' tenure phases ---------------------------------------------------------
        if self.tenure is not None:
            g0 = sl["G"].start
            dy[g0] += seat_new
            if self._lost_row is None:
                self._lost_row = self.L_A.getrow(sl["Z"].start + ctr["lost_seats"])
            lost_seats = float((self._lost_row @ y)[0])
            if g_tot > _TINY:
                dy[sl["G"]] -= G * (lost_seats / g_tot)

        dy[sl["W"]] += dW
        dy[sl["V"]] += dV
        dy[sl["E"]] += dE.ravel()
        dy[self._team] += dT.ravel()
        dy[sl["Z"]] += dZ
        # no value below 1e-100 is meaningful here; left in, such values become subnormal
        # numbers in the solver's norms, which makes every step many times slower
        dy[np.abs(dy) < 1e-100] = 0.0
        return dy



