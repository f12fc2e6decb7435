"""The ODE system of one scenario: its state layout, its linear part and its right-hand side."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse, special

from flywheel.engines.codes import PAYWALL_PENDING, TeamState
from flywheel.engines.meanfield.chains import (
    ABANDON,
    ACT,
    G_MIN,
    MAX_RATE,
    CommittedPatience,
    chain_from_masses,
    delay_chain,
    mean_age,
    onboarding_race,
    one_stage,
    patience_grid,
    race_chain,
    scatter,
    tenure_chain,
)
from flywheel.engines.meanfield.market import dot, representatives, size_bins, size_histogram
from flywheel.scenario.distributions import Distribution, Exponential, Lognormal
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
    _table: np.ndarray | None = field(default=None, repr=False)

    def add(self, block: int, seats: int, stage: int = 0, top: bool = False) -> int:
        i = len(self.block)
        self.block.append(block)
        self.seats.append(seats)
        self.stage.append(stage)
        self.top.append(top)
        self.index[(block, seats, stage)] = i
        self._table = None
        return i

    def add_all(self, block: int, pairs: list[tuple[int, int]], top_seats: int) -> None:
        """Classes of plan ``block`` at each (seats, stage) of ``pairs`` in turn, as
        :meth:`add` adds them one by one; those with ``top_seats`` seats are top ones."""
        start = len(self.block)
        self.block.extend([block] * len(pairs))
        self.seats.extend([seats for seats, _ in pairs])
        self.stage.extend([stage for _, stage in pairs])
        self.top.extend([seats == top_seats for seats, _ in pairs])
        self.index.update(((block, *pair), i) for i, pair in enumerate(pairs, start))
        self._table = None

    def __call__(self, block: int, seats: int, stage: int = 0) -> int:
        return self.index[(block, seats, stage)]

    def find(self, block: Any, seats: Any, stage: Any = 0) -> np.ndarray:
        """The classes of arrays of (plan, seats, stage), as :meth:`__call__` finds one."""
        if self._table is None:  # (each class's place in a dense table, -1 for none)
            self._table = np.full((max(self.block) + 1, max(self.seats) + 1,
                                   max(self.stage) + 1), -1)
            self._table[self.block, self.seats, self.stage] = np.arange(len(self.block))
        try:
            found = self._table.ravel()[np.ravel_multi_index((block, seats, stage),
                                                             self._table.shape)]
        except ValueError:
            raise KeyError("no such team class") from None
        if found.size and found.min() < 0:
            raise KeyError("no such team class")
        return found

    def __len__(self) -> int:
        return len(self.block)


#: Cumulative counters integrated with the state.
_COUNTERS = (
    "sig_organic", "sig_paid", "sig_referral", "sig_invite", "sig_founder", "sig_lost_signup",
    "act_founder", "act_joiner", "act_invitee", "abandoned", "lost", "churned", "lost_seats",
    "blocked", "seated", "paid_entries", "teams_activated", "paywall", "upgrades", "declines",
    "trial_ends", "trial_conversions", "cancels", "invites_sent", "invite_arrivals",
    "invite_delay_sum", "contacts", "user_days", "paid_seat_days", "paying_days",
    "bought_after_trial", "invites_accepted", "winbacks", "winback_declines",
    "after_trial_declines", "reactivated_seats",
)
_COUNTER_INDEX = {name: i for i, name in enumerate(_COUNTERS)}
#: Signups pending per team class (onboarding, or an accepted invite not yet signed up),
#: by kind: a company's first signup, later signups (joiners), invitees.
_PENDING = ("PF", "PJ", "PI")
#: Teams per class, and what each class carries: one block of the state.
_TEAM = ("N", "K", *_PENDING)
_TINY = 1e-12
#: Per-bin flows of the linear part that the nonlinear part reads, per day: users reaching
#: value and giving up by kind (first signups, later signups, invitees), signups pending
#: for teams that lost access by kind, seats taken and first activations on the trial
#: clock, and invites arriving to no access (with their age).
_LINEAR_OUTPUTS = ("act_f", "act_j", "act_i", "ab_f", "ab_j", "ab_i", "doom_f", "doom_j",
                   "doom_i", "seat_new", "first_t", "knock_i", "knock_i_age")
#: Regularises ratios of state variables (per-team means): x / (n + _EPS), in teams.
_EPS = 1e-3


@dataclass(slots=True)
class _Call:
    """What the steps of one evaluation of :meth:`Twin.rhs` share: the state they read, and
    the derivatives (per day) they add to.  Arrays are per size bin (rows) and, for teams,
    per team class (columns)."""

    # -- read from the state
    y: np.ndarray
    hazard: float  # churn per seat, per day
    tenure_phases: np.ndarray | None  # seats per tenure phase (none with a constant hazard)
    tenure_seats: float  # their sum
    linear_out: dict[str, np.ndarray]  # per-bin flows of the linear part (Twin.out), per day
    outputs: np.ndarray  # the same, one array (Twin.out's slices of it)
    team_block: np.ndarray  # (quantity of _TEAM, bin, class): teams, and what they carry
    teams: np.ndarray  # team_block[0]
    carried: dict[str, np.ndarray]  # team_block[1:] by name: people reached (K), pending signups
    extra_seats: np.ndarray  # extra seats of the top classes' teams, (bin, top class)
    top_teams: np.ndarray  # teams of the top classes, (bin, top class)
    extra_per_top_team: np.ndarray  # extra_seats per team
    extra_per_team: np.ndarray  # the same by class, zero below the top
    # -- derivatives
    dy: np.ndarray  # of the whole state: the linear flows, then the steps'
    d_team_block: np.ndarray  # of team_block (added to dy at the end), and its parts
    d_teams: np.ndarray
    d_carried: dict[str, np.ndarray]
    d_extra_seats: np.ndarray
    d_waiting: np.ndarray  # users waiting at the seat limit, per bin
    d_unactivated: np.ndarray  # teams none of whose users has reached value yet, per bin
    counters: np.ndarray  # of _COUNTERS
    # -- collected by the steps, used by later ones
    inviting_seats: np.ndarray  # seats taken per day that send invites, by their team's class
    new_seats: float  # seats taken per day (for the tenure phases)
    move_src: list[np.ndarray]  # teams moving between classes: from, to, and teams per day
    move_dst: list[np.ndarray]  # (bin, move); applied at once, with what they carry
    move_flux: list[np.ndarray]

    def count(self, name: str, amount: float) -> None:
        """Add ``amount`` per day to the counter ``name``."""
        self.counters[_COUNTER_INDEX[name]] += amount

    def move(self, src: np.ndarray, dst: np.ndarray, flux: np.ndarray) -> None:
        """Teams move from classes ``src`` to ``dst``: ``flux`` teams per day (bin, move)."""
        self.move_src.append(src)
        self.move_dst.append(dst)
        self.move_flux.append(flux)


class Twin:
    """The ODE system of one scenario: layout, parameters, right-hand side."""

    def __init__(self, settings: Settings) -> None:
        self.settings = st = settings
        self.H = st.horizon
        # (a sales-led scenario runs as freemium, and the hybrid every company self-serve:
        # the twin carries self-serve models only)
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
        self.starters = st.starter_share
        self.convert_p = st.trial_convert_probability
        self.trial_length = max(st.trial.length, 1e-6)
        # with the sandbox, buying needs the company's setup done (production value): a
        # trial team is set up by the trial's end with P(setup <= trial length) (the setup
        # and the trial both start at the first signup; the simulation also needs someone
        # working on it when it ends, which a team with a seat at the trial's end almost
        # always had: 99.7% in the data-integration sandbox)
        self.setup_gate = st.onboarding.has_setup_wait and self.trial
        # (with it, most teams lose access at their trial's end and few signups are pending
        # per bin; there the abandonments' split regularised by eps (in _landing) lets the
        # pending counts drift from their onboarding pools, and the integration stalls: 26 s
        # instead of 1 s for the data-integration sandbox, a failure if no team is ever set
        # up.  So with the setup gate they leave the pending counts in exact proportions.
        # The same exact split elsewhere would move other scenarios' twin results, by up to
        # 1.5% (the data-integration trial's free users at the horizon): not done here.)
        self.p_ready = (float(np.asarray(st.onboarding.setup_friction.cdf(
            np.array([st.trial.length]))).ravel()[0]) if self.setup_gate else 1.0)
        self.organic_rate = st.acquisition.organic_rate
        self.paid = st.acquisition.paid_contacts
        self.referral = st.acquisition.referral
        self.budget = st.acquisition.paid_budget
        # what a paid seat brings, $ per month: the seat's bill (per-seat or metered, the
        # annual discount taken off); a flat plan's MRR is not carried (see MECHANISMS)
        self.price = st.seat_bill(1.0) if st.bill_linear else math.nan
        # willingness to pay: a decision of a team of n users buys only with
        # P(WTP x n^value_growth >= price) = 1 - F(price / n^value_growth), beside its
        # probability (each decision on its own: see MECHANISMS, "willingness to pay")
        self.pricing = st.pricing
        wtp = st.pricing.willingness_to_pay
        self._lognormal_wtp = ((math.log(self.price), math.log(wtp.median), wtp.sigma,
                                float(st.pricing.value_growth))
                               if st.bill_linear and self.price > 0 and isinstance(wtp, Lognormal)
                               and wtp.median > 0 and wtp.sigma > 0 else None)
        # someone new coming to a company without the product: one person deciding
        self.reopen_share = float(self.buy_share(1.0))
        self.serving = st.costs.serving_cost_per_free_user
        # a paying team's own cancellation: a constant hazard, a certain one at MAX_RATE
        self.logo = min(st.paid.tenure.hazard, MAX_RATE)
        self.user_tenure = st.retention.tenure
        self.tenure, self.churn = tenure_chain(self.user_tenure)
        self._onboarding()
        self._market()
        self._layout()

    def buy_share(self, n: float | np.ndarray) -> np.ndarray:
        """Share of teams of ``n`` users (at least 1) that value a seat at what a team of
        ``n`` seats pays per seat (the list price per seat when charging per seat)."""
        if self._lognormal_wtp is not None:
            # the same share, 1 - F(price / n^growth), in one expression: the decisions at
            # the paywall ask for it at every evaluation of the right-hand side
            log_price, log_median, sigma, growth = self._lognormal_wtp
            log_n = np.log(np.maximum(n, 1.0))
            return special.ndtr((log_median - log_price + growth * log_n) / sigma)
        price = self.price if self.settings.bill_linear else self.settings.seat_bills(n)
        return self.pricing.buy_share(price, n)

    # -- construction ----------------------------------------------------------------------

    def _onboarding(self) -> None:
        onb = self.settings.onboarding
        ttv: Distribution = onb.effective_ttv
        patience: Distribution = onb.patience
        no_show = onb.no_show
        factor = onb.invited_ttv_factor
        has_friction = onb.has_friction
        # patience scaled by each person's commitment: a mixture over commitment, and for a
        # founders of a trial the mixture over the commitments above the offer's threshold
        spread = onb.commitment_spread
        everyone = CommittedPatience(patience, spread) if spread > 0 else patience
        starters = (CommittedPatience(patience, spread, self.settings.commitment_threshold)
                    if spread > 0 and 0.0 < self.starters < 1.0 else everyone)
        # (the races against the same patience share its grid; a race with the same inputs
        # as another is that race: founders race as joiners without friction or a threshold
        # of commitment, invitees as joiners when their TTV is not scaled)
        grid = patience_grid(everyone)
        self.race_joiner = onboarding_race(ttv, everyone, no_show, grid=grid)
        friction = onb.setup_friction if has_friction else None
        self.race_founder = (self.race_joiner if starters is everyone and friction is None
                             else onboarding_race(ttv, starters, no_show, friction,
                                                  grid=grid if starters is everyone else None))
        self.race_invitee = (self.race_joiner if factor == 1.0
                             else onboarding_race(ttv, everyone, no_show, factor=factor, grid=grid))
        exp = isinstance(ttv, Exponential) and isinstance(patience, Exponential) \
            and spread <= 0 and ttv.mean() > 0 and patience.mean() > 0
        b = 1.0 / patience.mean() if exp else 0.0

        def exact(f: float) -> tuple[float, float] | None:
            if not exp or f <= 0:
                return None
            a = 1.0 / (ttv.mean() * f)
            return (a, b) if a + b <= MAX_RATE else None

        self.joiner_chain = race_chain(self.race_joiner, exact(1.0))
        founder_exact = None if has_friction else exact(1.0)
        self.founder_chain = (self.joiner_chain if self.race_founder is self.race_joiner
                              and founder_exact == exact(1.0)
                              else race_chain(self.race_founder, founder_exact))
        self.invitee_chain = (self.joiner_chain if self.race_invitee is self.race_joiner
                              and exact(factor) == exact(1.0)
                              else race_chain(self.race_invitee, exact(factor)))
        self.invite_chain = delay_chain(self.settings.collaboration.invite_delay,
                                      allow_instant=False)
        self.decision_chain = delay_chain(self.settings.pricing.decision_delay,
                                        allow_instant=False)
        if self.trial:
            self._trial_founder()

    def _trial_founder(self) -> None:
        """A trial team's first signup onboards on the trial's own clock: founder exit
        hazards per trial stage, and the rest of the race after the trial (a chain)."""
        r = self.race_founder
        L = self.trial_length
        # TRIAL_STAGES, fewer for a trial so short that a stage would be quicker than MAX_RATE
        n = self.trial_stages = max(1, min(TRIAL_STAGES, int(L * MAX_RATE)))
        nu = n / L
        self.trial_rate = nu
        early = r.times < G_MIN / 2
        self.trial_founder_instant = np.array([r.instant_act + r.act[early].sum(),
                                    r.instant_abandon + r.abandon[early].sum()])
        t = r.times[~early]
        act, ab = r.act[~early], r.abandon[~early]
        window = np.minimum((t / (L / n)).astype(int), n)
        m_act = np.bincount(window, weights=act, minlength=n + 1)
        m_ab = np.bincount(window, weights=ab, minlength=n + 1)
        # exit hazards within each stage; survivors tracked as the chain will see them
        surv = 1.0 - self.trial_founder_instant.sum()
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
        self.trial_founder_hazard = eta
        # what is left after the trial: the race beyond L, as a chain of its own
        late = t >= L
        res = np.vstack([act[late], ab[late]])
        if res.sum() > 1e-12:
            self.post_trial_chain = chain_from_masses(t[late] - L, res / res.sum(), 2)
        else:
            self.post_trial_chain = one_stage(MAX_RATE, [0.5, 0.5], [0.0, 0.0])

    def _market(self) -> None:
        market = self.settings.market
        sizes, pmf = size_histogram(market.team_size)
        companies = float(market.companies)
        self.market_people = dot(sizes, pmf) * companies
        bins = size_bins(sizes, pmf, companies)
        self.bins = bins
        self.B = len(bins)
        rs, rn = representatives(sizes, pmf * companies)
        self.rep_s, self.rep_n = rs, rn
        # (the bins are sorted and disjoint: a size's bin is the last one starting at or below it)
        self.rep_bin = np.searchsorted([lo for lo, _ in bins], rs, side="right") - 1
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
        self.top_level = A
        lim = self.limit
        self.free_top_level = lim if 0 < lim <= A else A
        # USAGE_STAGES, fewer if a stage would pass quicker than MAX_RATE at full seats
        J = 1
        if self.usage_limit > 0:
            fastest = self.usage_rate * max(self.free_top_level, 1) / self.usage_limit
            J = max(1, min(USAGE_STAGES, int(MAX_RATE / max(fastest, 1e-12))))
        self.usage_stages = J
        D = self.decision_chain.stages
        cl = Classes()
        free_tier = self.model in FREE_TIER_MODELS
        if free_tier:
            cl.add_all(FREE, [(a, j) for a in range(self.free_top_level + 1) for j in range(J)],
                       self.free_top_level)
            cl.add_all(PENDING, [(a, d) for a in range(A + 1) for d in range(D)], A)
            cl.add_all(CAPPED, [(a, 0) for a in range(A + 1)], A)
        cl.add_all(PAYING, [(a, 0) for a in range(A + 1)], A)
        # a company won back (it had cancelled a paid plan) whose new plan has no seat yet:
        # its first seat brings its MRR back from 0 (reactivation), then it pays as any
        cl.add(PAYING, 0, 1)
        if self.trial:
            cl.add_all(TRIAL, [(a, k) for k in range(self.trial_stages) for a in range(A + 1)], A)
        # no access: closed for good (stage 0: it declined to buy again, or never may);
        # lapsed, a paying team that cancelled (stage 2): someone new coming to it meets its
        # paywall once, and it may be won back; under an opt-in trial, a trial that ended
        # without buying (stage 1), whose paywall works the same way
        cl.add(NO_ACCESS, 0)
        self.expires = self.trial and not self.reverse
        if self.expires:
            cl.add(NO_ACCESS, 0, 1)
        cl.add(NO_ACCESS, 0, 2)
        # with the sandbox, a trial that ended before its company was set up: it cannot buy,
        # so whoever comes to it finds it declining at the paywall (stage 3)
        if self.expires and self.setup_gate:
            cl.add(NO_ACCESS, 0, 3)
        self.cl = cl
        n = len(cl)
        self.n = n
        blk = np.array(cl.block)
        seats = np.array(cl.seats, dtype=float)
        self.blk, self.a = blk, seats
        self.top = np.array(cl.top)
        self.top_idx = np.flatnonzero(self.top)
        self.top_slot = np.full(n, -1)
        self.top_slot[self.top_idx] = np.arange(len(self.top_idx))
        self.access = blk != NO_ACCESS
        self.paying = blk == PAYING
        # where a first signup may be pending with its own onboarding pool (not on the
        # trial clock: freemium teams, and trial teams after the trial)
        self.pf_pool = (blk != TRIAL) & self.access
        self.zero = self.access & (seats == 0)
        self.no_access = cl(NO_ACCESS, 0)  # closed for good: it declined to buy again
        self.expired = cl(NO_ACCESS, 0, 1) if self.expires else -1
        self.lapsed = cl(NO_ACCESS, 0, 2)  # cancelled, or its last paid user left
        self.won_back = cl(PAYING, 0, 1)  # bought again after cancelling, no seat yet
        self.unready = cl(NO_ACCESS, 0, 3) if self.expires and self.setup_gate else -1
        self.closed = np.flatnonzero(blk == NO_ACCESS)  # all of them
        # at-limit behaviour of each class: static share at the limit (1 or 0), and for
        # top classes with the limit above them, the gap for the geometric closure
        limited = np.isin(blk, (FREE, PENDING, CAPPED)) & (lim > 0)
        self.at_limit = (limited & (seats >= lim)).astype(float)
        self.limit_gap = np.where(limited & self.top & (seats < lim), lim - seats, 0.0)
        # a seat taken sends invites unless its team, on the free tier (free, deciding or
        # capped), is then at or over its seat limit (a top class below the limit: the share
        # of its teams still below after the seat, per call in _take_seats)
        self.invites_from = self.access & ~(limited & (seats + 1 >= lim))
        self._transitions()
        # state vector
        B, ntop = self.B, len(self.top_idx)
        # (N and what the teams carry are contiguous: one (5, B, n) block, see _start_call)
        sizes = {"X": 1, "W": B, "V": B, **{name: B * n for name in _TEAM},
                 "E": B * ntop,
                 "OF": B * self.founder_chain.stages,
                 "OP": B * (self.post_trial_chain.stages if self.trial else 0),
                 "OJ": B * self.joiner_chain.stages, "OI": B * self.invitee_chain.stages,
                 "IF": B * self.invite_chain.stages, "ID": B * self.invite_chain.stages,
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
        # the per-bin flows of the linear part that the nonlinear part reads (_linear)
        self.out = {name: slice(i * B, (i + 1) * B) for i, name in enumerate(_LINEAR_OUTPUTS)}
        # free teams at the top may hold extra seats (no seat limit, or one above the top)
        self.free_top_extras = (bool((blk == FREE).any()) and self.free_top_level == self.top_level
                                and (self.limit == 0 or self.limit > self.top_level))
        # usage of free top classes with extra seats (its rate depends on them: per call)
        with_extras = (self.top[self.usage_src] & self.free_top_extras if len(self.usage_src)
                       else np.zeros(0, bool))
        self.usage_top_src = self.usage_src[with_extras]
        self.usage_top_dst = self.usage_dst[with_extras]
        self.usage_top_paywall = self.usage_paywall[with_extras]
        self.access_mask = self.access.astype(float)
        self.below_top = np.flatnonzero(~self.top)
        self.inviting_mask = self.invites_from.astype(float)
        self.waiting_mask = np.isin(blk, (FREE, PENDING)).astype(float)
        self.capped_mask = (blk == CAPPED).astype(float)
        self.no_seats_mask = self.zero.astype(float)
        self.pending_mask = (blk == PENDING).astype(float)
        self.free_limited = np.flatnonzero((blk == FREE)
                                           & ((self.at_limit > 0) | (self.limit_gap > 0)))
        self.tops_below_limit = np.flatnonzero(self.limit_gap > 0)
        # where a top team goes when it loses a seat with no extra seats left
        self.top_drop_dst = np.array([cl(blk[i], int(self.a[i]) - 1, cl.stage[i])
                                      for i in self.top_idx], int)
        # the teams and what they carry (_TEAM): one block of the state, and where each
        # (quantity, bin) row of it starts
        self._team_block = slice(sl[_TEAM[0]].start, sl[_TEAM[-1]].stop)
        self._team_offsets = (np.arange(len(_TEAM))[:, None, None] * B
                              + np.arange(B)[None, :, None]) * n
        self._channel_counters = np.array([_COUNTER_INDEX[name]
                                           for name in ("sig_organic", "sig_paid", "sig_referral")])

        def first(name: str) -> np.ndarray:
            width = (sl[name].stop - sl[name].start) // B
            return sl[name].start + np.arange(B) * width

        self._joiner_onboarding_start = first("OJ")
        # the pending counts of each kind that land from its pool (a first signup on the trial
        # clock has none), and the linear part's flows out of the pools, by kind
        self._pending_pool = np.ones((len(_PENDING), 1, n))
        self._pending_pool[0, 0] = self.pf_pool
        self._act_outputs = slice(self.out["act_f"].start, self.out["act_i"].stop)
        self._gave_up_outputs = slice(self.out["ab_f"].start, self.out["ab_i"].stop)
        # signups pending for teams that lost access, by kind (the linear part's doom_f,
        # doom_j, doom_i, one slice of its outputs): the state of each kind's onboarding
        # pools (and of the invitees' invites in flight) by bin, for _lose_pending
        kinds = ((("OF", "OP") if self.trial else ("OF",)), ("OJ",), ("OI", "IF"))
        idx, grp, flight = [], [], []
        for g, names in enumerate(kinds):
            for name in names:
                width = (sl[name].stop - sl[name].start) // B
                idx.append(np.arange(sl[name].start, sl[name].stop))
                grp.append(g * B + np.repeat(np.arange(B), width))
                flight.append(np.full(B * width, name == "IF"))
        self._doomed_idx, self._doomed_group = np.concatenate(idx), np.concatenate(grp)
        self._doomed_in_flight = np.concatenate(flight)
        self._doomed_arrive = np.arange(sl["ID"].start, sl["ID"].stop)  # IF's next of kin
        self._doomed_amount = slice(self.out["doom_f"].start, self.out["doom_i"].stop)
        self._founder_onboarding_start = first("OF")
        self._invitee_onboarding_start = first("OI")
        self._invite_start = first("IF")
        # companies that lost the product and may buy again when someone new comes (a trial
        # ended without buying, a paying team cancelled): (their class, the paying class
        # without a seat a purchase moves them to, the counters of their purchases and
        # declines); a decline moves one to the closed class
        self.reopen = ([(self.expired, cl(PAYING, 0), "bought_after_trial",
                         "after_trial_declines")] if self.expires else []) + [
            (self.lapsed, self.won_back, "winbacks", "winback_declines")]
        self._declined_dst = np.array([self.no_access], int)
        # ... and one whose trial ended before it was set up declines whenever someone comes
        # (sandbox)
        self._unready_src = np.array([self.unready] if self.unready >= 0 else [], int)
        if self.trial:
            self._new_class = cl(TRIAL, 0, 0)
            self._new_seated_class = cl(TRIAL, 1, 0)
        else:
            self._new_class = cl(FREE, 0, 0)
            self._new_seated_class = cl(FREE, 1, 0) if self.free_top_level >= 1 else self._new_class
        # whether a new team's first signup, seated at once, sends invites (not on a free
        # tier whose seat limit is 1)
        self._new_seated_invites = float(self.invites_from[self._new_class])
        self.rep_people = self.rep_s * self.rep_n
        # where each (quantity moving, bin) row of an upgrade's landing in the paying classes
        # starts: the teams, what they carry, and the waiting users seated
        self._upgrade_offsets = ((np.arange(len(_TEAM) + 1)[:, None, None] * B
                                  + np.arange(B)[None, :, None]) * (self.top_level + 1))

    def _transitions(self) -> None:
        """Index arrays of every static transition between team classes."""
        cl, A, n = self.cl, self.top_level, self.n
        blk, a = self.blk, self.a.astype(int)
        stage = np.array(cl.stage)
        J = self.usage_stages
        # the class a team is in after a seat taken in each class (a top keeps its class:
        # an extra seat; a paying team's seat takes it to stage 0: a won-back team's first)
        after_seat = np.arange(n)
        moves = np.flatnonzero((blk != NO_ACCESS) & ~self.top)
        after_seat[moves] = cl.find(blk[moves], a[moves] + 1,
                                    np.where(blk[moves] == PAYING, 0, stage[moves]))
        self.after_seat = after_seat
        # at the limit: free -> pending (waiting), pending stays (waiting), capped stays
        lim_dst = np.arange(n)
        free = np.flatnonzero(blk == FREE)
        lim_dst[free] = cl.find(PENDING, a[free], 0)
        self.limit_dst = lim_dst
        # usage: free classes with seats move a stage; the last stage meets the paywall
        src = np.flatnonzero((blk == FREE) & (a > 0)) if self.usage_limit > 0 else np.zeros(0, int)
        pay = stage[src] + 1 == J
        dst = np.zeros(len(src), int)
        dst[~pay] = cl.find(FREE, a[src[~pay]], stage[src[~pay]] + 1)
        dst[pay] = cl.find(PENDING, a[src[pay]], 0)
        self.usage_src, self.usage_dst, self.usage_paywall = src, dst, pay
        # churn: one seat fewer; a paying team whose last user leaves cancels
        src = np.flatnonzero((blk != NO_ACCESS) & (a > 0))
        cancels = (blk[src] == PAYING) & (a[src] == 1)
        dst = np.full(len(src), self.lapsed)
        dst[~cancels] = cl.find(blk[src[~cancels]], a[src[~cancels]] - 1, stage[src[~cancels]])
        self.churn_src, self.churn_dst = src, dst
        # logo churn of paying teams (one without a seat too: bought after its trial, its
        # first user still onboarding)
        self.logo_src = np.flatnonzero(blk == PAYING)
        # decisions: stage progress within pending, and the decision at a stage's end
        ch = self.decision_chain
        pending = np.flatnonzero(blk == PENDING)
        d = stage[pending]
        cont = ch.cont
        on = (d + 1 < ch.stages) & (cont[d] > 0)
        src, d_on = pending[on], d[on]
        self.decision_clock_src = src
        self.decision_clock_dst = cl.find(PENDING, a[src], d_on + 1)
        self.decision_clock_rate = ch.rates[d_on] * cont[d_on]
        decide = ch.exits[0, d] > 0
        self.decision_src, d_decide = pending[decide], d[decide]
        self.decision_rate = ch.rates[d_decide] * ch.exits[0, d_decide]
        self.decision_seats = a[self.decision_src].astype(float)
        self.decision_capped = cl.find(CAPPED, a[self.decision_src], 0)
        self.paying_class = cl.find(PAYING, np.arange(A + 1), 0)
        if not self.trial:
            return
        # trial: the clock, the first signup's onboarding, the trial's end
        src = np.flatnonzero((blk == TRIAL) & (stage + 1 < self.trial_stages))
        self.trial_clock_src = src
        self.trial_clock_dst = cl.find(TRIAL, a[src], stage[src] + 1)
        self.trial_last_stage = (blk == TRIAL) & (stage == self.trial_stages - 1)
        # the first signup, pending in a trial team, reaches value (a seat) or gives up
        self.trial_first_src = np.flatnonzero(blk == TRIAL)
        self.trial_first_dst = after_seat[self.trial_first_src]
        self.trial_first_hazard = self.trial_founder_hazard[:, stage[self.trial_first_src]]
        self.trial_first_top = self.top[self.trial_first_src]
        self.trial_first_no_seats = a[self.trial_first_src] == 0
        # the trial's end: (source, destination, probability, kind) rows
        # kind: 0 converted, 1 lost access, 2 fell back to free, 3 fell back to the paywall
        rows = []
        lim = self.limit
        for i in np.flatnonzero(self.trial_last_stage):
            s = a[i]
            # (buying needs production value: the setup done by the trial's end, p_ready; and
            # a team of s users that values a seat at the price)
            share = float(self.buy_share(s)) if s > 0 else 0.0
            conv = self.convert_p * share * self.p_ready if s > 0 else 0.0
            if conv > 0:
                rows.append((i, cl(PAYING, s), conv, 0))
            rest = 1.0 - conv
            if rest <= 0:
                continue
            if not self.reverse and self.unready >= 0:
                # set up but not bought: it may buy when someone comes; not set up (taken as
                # such without a seat): it cannot
                set_up = (1.0 - self.convert_p * share) * self.p_ready if s > 0 else 0.0
                if set_up > 0:
                    rows.append((i, self.expired, set_up, 1))
                if rest - set_up > 0:
                    rows.append((i, self.unready, rest - set_up, 1))
            elif not self.reverse:
                rows.append((i, self.expired, rest, 1))
            elif lim > 0 and s > lim:
                rows.append((i, cl(PENDING, s, 0), rest, 3))
            else:
                for j, w, paywall in self._fallback_usage(min(s, self.free_top_level)):
                    to = cl(PENDING, s, 0) if paywall else cl(FREE, min(s, self.free_top_level), j)
                    rows.append((i, to, rest * w, 3 if paywall else 2))
        r = np.array(rows, dtype=float).reshape(-1, 4)
        self.trial_end_src, self.trial_end_dst = r[:, 0].astype(int), r[:, 1].astype(int)
        self.trial_end_p, self.trial_end_kind = r[:, 2], r[:, 3].astype(int)

    def _fallback_usage(self, seats: int) -> list[tuple[int, float, bool]]:
        """Usage stage of a reverse-trial team falling back to the free tier: its trial
        usage taken as seats x usage rate x half the trial.  ``(stage, weight, paywall)``."""
        if self.usage_limit <= 0:
            return [(0, 1.0, False)]
        x = self.usage_rate * seats * self.trial_length / 2 / self.usage_limit * self.usage_stages
        if x >= self.usage_stages:
            return [(0, 1.0, True)]
        lo = int(math.floor(x))
        frac = x - lo
        out = [(lo, 1.0 - frac, False)]
        if frac > 0:
            out.append((lo + 1, frac, lo + 1 >= self.usage_stages))
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
        n_out = len(_LINEAR_OUTPUTS) * B
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("A", "Ac", "R", "Rc")}

        def add(which: str, r: Any, c: Any, v: Any) -> None:
            # (row, column, value) triplets, broadcast against each other, in order: the
            # matrix adds up the triplets of one row and column in the order they come
            block = np.empty((3, *np.broadcast(r, c, v).shape))
            block[0], block[1], block[2] = r, c, v
            rows[which].append(block.reshape(3, -1))

        def flow(which: str, src: Any, dst: Any | None, rate: Any) -> None:
            add(which, src, src, -np.asarray(rate, float))
            if dst is not None:
                add(which, dst, src, rate)

        z = sl["Z"].start
        ctr = {name: z + i for i, name in enumerate(_COUNTERS)}

        def out(name: str, b: Any) -> np.ndarray:
            return self.out[name].start + np.asarray(b)

        bb = np.arange(B)[:, None]  # broadcast over bins
        closed = np.zeros(n, bool)
        closed[self.closed] = True
        # the first row of each bin's classes, per quantity of _TEAM: (quantity, bin, 1)
        team_rows = np.array([sl[name].start for name in _TEAM])[:, None, None] + bb[None] * n

        # onboarding pools: (state, chain, counter of values reached, kind of signup)
        pools = [("OJ", self.joiner_chain, "act_joiner", "j"),
                 ("OI", self.invitee_chain, "act_invitee", "i")]
        pools.append(("OP", self.post_trial_chain, "act_founder", "f") if self.trial
                     else ("OF", self.founder_chain, "act_founder", "f"))
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
        # invites in flight: live ones sign up as invitees; those of teams that lost access
        # come to a company without the product (knocks, settled in _closed_companies)
        chv, chi = self.invite_chain, self.invitee_chain
        K = chv.stages
        k = np.arange(K)[None, :]
        arrive = chv.rates * chv.exits[0]
        for name in ("IF", "ID"):
            src = self._index(name, bb, k, K)
            nxt = self._index(name, bb, np.minimum(k + 1, K - 1), K)
            flow("A", src, None, chv.rates)
            add("A", nxt[:, :-1], src[:, :-1], chv.rates[:-1] * chv.cont[:-1])
            if name == "ID":
                add("R", out("knock_i", bb), src, arrive)
                add("R", out("knock_i_age", bb), src, arrive * chv.ages)
                continue
            for counter in ("sig_invite", "invite_arrivals"):
                add("A", ctr[counter], src, arrive)
            add("A", ctr["invite_delay_sum"], src, arrive * chv.ages)
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
            return sl["E"].start + bb * ntop + self.top_slot[np.asarray(c)][None, :]

        def team_flow(which: str, src: np.ndarray, dst: np.ndarray, rate: Any,
                      out_which: str = "R") -> None:
            """Teams move from src to dst classes at ``rate`` per team, with what they
            carry; the signups pending for a team that loses access are doomed (a trial
            team's first signup, onboarding on the trial clock, has no pool: lost now)."""
            rate = np.broadcast_to(np.asarray(rate, float), src.shape)
            na = closed[dst]
            # each quantity leaves src and arrives at dst, bin by bin: the teams, the people
            # reached (they stay reached), and, to a class with access, the pending signups
            # (each quantity on rows of its own, where what leaves comes before what arrives)
            leave = team_rows + src
            if not na.any():
                add(which, np.stack([leave, team_rows + dst], axis=1), leave[:, None],
                    np.stack([-rate, rate])[None, :, None, :])
                return
            keep = ~na
            add(which, leave, leave, -rate)
            add(which, team_rows[:2] + dst, leave[:2], rate)
            if keep.any():
                add(which, team_rows[2:] + dst[keep], leave[2:, :, keep], rate[keep])
            # signups pending for a team that loses access: doomed, by kind
            doomed, lost = src[na], rate[na]
            clock = self.blk[doomed] == TRIAL
            if clock.any():
                add(which, ctr["lost"], iX("PF", doomed[clock]), lost[clock])
            add(out_which, out("doom_f", bb), iX("PF", doomed[~clock]), lost[~clock])
            for name in _PENDING[1:]:
                add(out_which, out("doom_" + name[1].lower(), bb), iX(name, doomed), lost)

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
        if len(self.usage_src):
            lin = ~self.top[self.usage_src] | (not self.free_top_extras)
            s, d = self.usage_src[lin], self.usage_dst[lin]
            rate = self.usage_rate * self.usage_stages / self.usage_limit * a[s]
            team_flow("A", s, d, rate)
            add("A", ctr["paywall"], iN(s), rate * self.usage_paywall[lin])
        # logo churn: paying teams cancel; their seats end
        if self.logo > 0 and len(self.logo_src):
            s = self.logo_src
            na = np.full(len(s), self.lapsed)
            team_flow("A", s, na, self.logo)
            add("A", ctr["cancels"], iN(s), self.logo)
            add("A", ctr["lost_seats"], iN(s), self.logo * a[s])
            extras("A", s, na, self.logo, lost=("lost_seats",))
        # churn of teams below the top (rate x seats; a paying team's last seat cancels it)
        if len(self.churn_src):
            lin = ~self.top[self.churn_src]
            s, d = self.churn_src[lin], self.churn_dst[lin]
            which = ("Ac", "Rc") if self.tenure is not None else ("A", "R")
            rate = a[s] * (1.0 if self.tenure is not None else self.churn)
            team_flow(which[0], s, d, rate, out_which=which[1])
            add(which[0], ctr["churned"], iN(s), rate)
            add(which[0], ctr["cancels"], iN(s), rate * (d == self.lapsed))
        # decision clock (the decision itself is nonlinear: waiting users)
        if len(self.decision_clock_src):
            src, dst, rate = (self.decision_clock_src, self.decision_clock_dst,
                              self.decision_clock_rate)
            team_flow("A", src, dst, rate)
            extras("A", src, dst, rate)
        # stocks integrated over time
        add("A", ctr["user_days"], iN(np.arange(n)), a * self.access)
        add("A", ctr["user_days"], sl["E"].start + np.arange(B * ntop), 1.0)
        add("A", ctr["paid_seat_days"], iN(np.arange(n)), a * self.paying)
        ptop = self.top_idx[self.paying[self.top_idx]]
        add("A", ctr["paid_seat_days"], iE(ptop), 1.0)
        add("A", ctr["paying_days"], iN(np.arange(n)), 1.0 * self.paying)
        if self.trial:
            self._linear_trial(add, team_flow, extras, iX, iE, ctr, out, bb)
        # the flows and the outputs they feed built as one matrix (the outputs' rows below
        # the flows'), each row as it would be on its own, then cut in two
        for flows, outputs in (("A", "R"), ("Ac", "Rc")):
            if not rows[flows] and not rows[outputs]:
                self._set_linear(flows, sparse.csr_matrix((size, size)))
                self._set_linear(outputs, sparse.csr_matrix((n_out, size)))
                continue
            data = np.hstack(rows[flows] + rows[outputs])
            data[0, sum(part.shape[1] for part in rows[flows]):] += size
            mat = sparse.csr_matrix((data[2], (data[0].astype(int), data[1].astype(int))),
                                    shape=(size + n_out, size))
            mat.sum_duplicates()
            mat.data[np.abs(mat.data) < 1e-30] = 0.0  # negligible: would breed subnormals
            mat.eliminate_zeros()
            split = mat.indptr[size]
            self._set_linear(flows, sparse.csr_matrix(
                (mat.data[:split], mat.indices[:split], mat.indptr[:size + 1]), shape=(size, size)))
            self._set_linear(outputs, sparse.csr_matrix(
                (mat.data[split:], mat.indices[split:], mat.indptr[size:] - split),
                shape=(n_out, size)))
        # the rate at which seats end in the linear part (logo churn, trials ending)
        self._lost_seats_row = self.L_A.getrow(sl["Z"].start + _COUNTER_INDEX["lost_seats"])

    def _set_linear(self, key: str, mat: sparse.csr_matrix) -> None:
        """``L_<key>``: one matrix of the linear part, its indices sorted, no duplicates."""
        mat.has_canonical_format = True
        setattr(self, f"L_{key}", mat)

    def _linear_trial(self, add: Any, team_flow: Any, extras: Any, iX: Any, iE: Any,
                      ctr: dict[str, int], out: Any, bb: np.ndarray) -> None:
        a = self.a
        nu = self.trial_rate

        def iN(c: Any) -> np.ndarray:
            return iX("N", c)

        team_flow("A", self.trial_clock_src, self.trial_clock_dst, nu)
        extras("A", self.trial_clock_src, self.trial_clock_dst, nu)
        # the first signup, pending in a trial team, reaches value (its team takes a seat:
        # a rate per pending first signup) or gives up, on the trial clock; the rest of
        # what the team carries follows in the nonlinear part
        s = self.trial_first_src
        ea, eb = self.trial_first_hazard
        pf = iX("PF", s)
        add("A", pf, pf, -(ea + eb))
        nt = ~self.trial_first_top
        add("A", iN(s[nt]), pf[:, nt], -ea[nt])
        add("A", iN(self.trial_first_dst[nt]), pf[:, nt], ea[nt])
        if self.trial_first_top.any():
            add("A", iE(s[~nt]), pf[:, ~nt], ea[~nt])  # a seat beyond the top
        for counter in ("act_founder", "seated"):
            add("A", ctr[counter], pf, ea)
        add("A", ctr["abandoned"], pf, eb)
        add("R", out("seat_new", bb), pf, ea)
        add("R", out("first_t", bb), pf, ea * self.trial_first_no_seats)
        # the trial's end
        last = np.flatnonzero(self.trial_last_stage)
        add("A", ctr["trial_ends"], iN(last), nu)
        s, d = self.trial_end_src, self.trial_end_dst
        p, kind = self.trial_end_p, self.trial_end_kind
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
        post = self.post_trial_chain
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
        (rates of a fraction of a day: left out, they would limit the steps).  It keeps the
        users' total (every signup in one state) as the system does: a Rosenbrock method
        conserves exactly what its matrix conserves."""
        lam = self.churn
        if self.tenure is not None:
            ch = self.tenure
            lam = float(1.0 / np.sum(1.0 / ch.rates))  # about the seats' mean hazard
        B, n, sl = self.B, self.n, self.sl
        r, c, v = [], [], []
        bb = np.arange(B)[:, None]
        if self.decision_src.size:
            src = self.decision_src[None, :]
            rate = np.broadcast_to(self.decision_rate, (B, self.decision_src.size))
            pay = self.paying_class[self.decision_seats.astype(int)][None, :]
            up = self.upgrade_p * self.buy_share(self.decision_seats)  # (seats alone)
            # each quantity of _TEAM (rows of its own) from each deciding class: out of it,
            # into the capped class, into the paying one
            first = np.array([sl[base].start for base in _TEAM])[:, None, None, None] + bb * n
            to = np.stack([src, self.decision_capped[None, :], pay])
            shares = np.stack([np.full_like(up, -1.0), 1.0 - up, up])[:, None, :]
            size = (len(_TEAM), *to.shape[:1], B, src.size)
            r.append(np.broadcast_to(first + to, size).ravel())
            c.append(np.broadcast_to(first + src, size).ravel())
            v.append(np.broadcast_to(rate * shares, size).ravel())
            # users waiting at the limit: out as their team decides, into a user state (the
            # blocked count; seated, some of them are, which a constant matrix cannot say),
            # so the matrix keeps the users' total as the system does (a Rosenbrock method
            # conserves what its matrix conserves)
            waiting = np.arange(sl["W"].start, sl["W"].stop)
            blocked = sl["Z"].start + _COUNTER_INDEX["blocked"]
            r += [waiting, np.full(B, blocked)]
            c += [waiting, waiting]
            v += [np.full(B, -float(self.decision_rate.max())), np.full(B, float(self.decision_rate.max()))]
        # pending signups resolve after their onboarding (invitees: the delay first)
        waits = {"PF": mean_age(self.founder_chain), "PJ": mean_age(self.joiner_chain),
                 "PI": mean_age(self.invite_chain) + mean_age(self.invitee_chain)}
        for name, wait in waits.items():
            q = np.arange(sl[name].start, sl[name].stop)
            if name == "PF":  # (on the trial clock they are in the linear part)
                q = q[np.tile(self.pf_pool, B)]
            r.append(q)
            c.append(q)
            v.append(np.full(len(q), -1.0 / max(wait, G_MIN)))
        # users reaching value leave their onboarding pool in the linear part and land on a
        # seat in the nonlinear one: booked here to a count of users that nothing reads back
        # (abandoned), so that the matrix keeps the users' total as the system does
        act = self.L_R[self._act_outputs].sum(axis=0).A1
        cols = np.flatnonzero(act)
        r.append(np.full(len(cols), sl["Z"].start + _COUNTER_INDEX["abandoned"]))
        c.append(cols)
        v.append(act[cols])
        extra = sparse.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))),
                                  shape=(self.size, self.size))
        linear = self.L_A + lam * self.L_Ac if self.L_Ac.nnz else self.L_A
        return (linear + extra).tocsc()

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """dy/dt, per day: the linear flows (one sparse product), then the others step by step."""
        call = self._start_call(y)
        new_teams, joiners, invitees, people_left = self._signups(call, t)
        joiners_now = self._start_onboarding(call, new_teams, joiners, invitees)
        landed = self._landing(call, joiners_now)
        at_limit = landed * self._limit_share(call)
        self._take_seats(call, landed - at_limit)
        self._wait_at_limit(call, at_limit)
        self._first_activations(call, landed)
        self._top_churn(call)
        self._top_usage(call)
        self._paywall_decisions(call)
        if self.trial:
            self._trial_first_seats(call)
        self._new_teams(call, new_teams)
        self._apply_moves(call)
        self._lose_pending(call)
        self._invites(call, people_left)
        self._tenure_phases(call)
        return self._total(call)

    def _start_call(self, y: np.ndarray) -> _Call:
        """The linear flows of ``y`` (per day) and the churn hazard per seat (per day: constant,
        or the seats' average over their tenure phases); with the views of ``y`` the steps read."""
        n_bins, n_classes, sl = self.B, self.n, self.sl
        phases, seats_in_phases = None, 0.0
        if self.tenure is not None:
            chain = self.tenure
            phases = np.maximum(y[sl["G"]], 0.0)
            seats_in_phases = float(phases.sum())
            hazard = (float(np.dot(phases, chain.rates * chain.exits[0])) / seats_in_phases
                      if seats_in_phases > _TINY else float(chain.rates[0] * chain.exits[0, 0]))
            dy = self.L_A @ y + hazard * (self.L_Ac @ y)
            outputs = self.L_R @ y + hazard * (self.L_Rc @ y)
        else:
            hazard = self.churn
            dy = self.L_A @ y
            outputs = self.L_R @ y
        block = y[self._team_block].reshape(len(_TEAM), n_bins, n_classes)
        d_block = np.zeros_like(block)
        extra_seats = y[sl["E"]].reshape(n_bins, -1)
        top_teams = block[0][:, self.top_idx]
        extra_per_top_team = extra_seats / (np.abs(top_teams) + self.eps)
        extra_per_team = np.zeros((n_bins, n_classes))
        extra_per_team[:, self.top_idx] = extra_per_top_team
        return _Call(
            y=y, hazard=hazard, tenure_phases=phases, tenure_seats=seats_in_phases,
            linear_out={name: outputs[part] for name, part in self.out.items()}, outputs=outputs,
            team_block=block, teams=block[0], carried=dict(zip(_TEAM[1:], block[1:], strict=True)),
            extra_seats=extra_seats, top_teams=top_teams, extra_per_top_team=extra_per_top_team,
            extra_per_team=extra_per_team,
            dy=dy, d_team_block=d_block, d_teams=d_block[0],
            d_carried=dict(zip(_TEAM[1:], d_block[1:], strict=True)),
            d_extra_seats=np.zeros_like(extra_seats), d_waiting=np.zeros(n_bins),
            d_unactivated=np.zeros(n_bins), counters=np.zeros(len(_COUNTERS)),
            inviting_seats=np.zeros((n_bins, n_classes)), new_seats=0.0,
            move_src=[], move_dst=[], move_flux=[])

    def _signups(self, call: _Call, t: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Contacts per day and the signups they bring: new companies (first signups, new teams
        per day and bin) and later signups (people per day, per bin and class, by the people
        left in each class's companies; those reaching a company without the product are no
        signups: see :meth:`_closed_companies`).

        Returns the new teams, the later signups and the invitees signing up in teams with
        access (bin, class), and the people left."""
        n_bins, eps = self.B, self.eps
        teams, reached = call.teams, call.carried["K"]
        active = float((teams * (self.a + call.extra_per_team)).sum(axis=1).sum())
        rates = np.array([self.organic_rate(t), self.paid, self.referral * active])
        contacts = float(rates.sum())
        share = rates / contacts if contacts > 0 else np.zeros(3)
        # the market: companies of each size untouched as exp(-size X), X the contact hazard
        untouched = np.exp(-self.rep_s * float(call.y[self.sl["X"].start]))
        untouched_people = np.bincount(self.rep_bin, weights=self.rep_people * untouched,
                                       minlength=n_bins)
        touched = self.companies_total - np.bincount(self.rep_bin, weights=self.rep_n * untouched,
                                                     minlength=n_bins)
        contact_hazard = self.starters * contacts / self.market_people
        new_teams = contact_hazard * untouched_people
        people = self.people_total - untouched_people  # in touched companies
        left_per_bin = np.maximum(people - reached.sum(axis=1), 0.0)
        joining_per_bin = contacts * left_per_bin / self.market_people
        # a joiner reaches one of the people left: each class by its teams' share (teams of a
        # bin taken at the bin's mean size)
        mean_size = people / np.maximum(touched, _TINY)
        people_left = np.maximum(teams * mean_size[:, None] - reached, 0.0)
        joiners = people_left * (joining_per_bin / (people_left.sum(axis=1) + eps))[:, None]
        call.dy[self.sl["X"].start] += contact_hazard
        call.d_carried["K"] += joiners  # (someone turned away stays reached)
        call.d_carried["K"][:, self._new_class] += new_teams
        call.count("contacts", contacts)
        joiners, invitees = self._closed_companies(call, joiners)
        call.counters[self._channel_counters] += share * float(new_teams.sum() + joiners.sum())
        call.count("sig_founder", new_teams.sum())
        return new_teams, joiners, invitees, people_left

    def _closed_companies(self, call: _Call, joiners: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
        """People coming to a company without the product, per day: later signups reaching
        one (``joiners`` in the no-access classes) and invites in flight of teams that lost
        access arriving.  A company that lost the product and may buy again (its trial
        ended without buying; it cancelled a paid plan) meets the paywall once: it buys with
        the upgrade probability, decided at once (the simulation decides after the decision
        delay), moving to the paying class without a seat with the person who came as its
        first signup (after its trial, or a win-back), or declines and stays closed from
        then on; everyone else is turned away (``sig_lost_signup``).  Invites arrive at
        such a company in the bin's share of its class among the teams without access.
        Returns the later signups and the invitees who sign up (bin, class)."""
        knocking = call.linear_out["knock_i"]  # invites arriving to no access, per bin
        turned = float(joiners[:, self.closed].sum() + knocking.sum())
        knocking_j = {src: joiners[:, src].copy() for src, *_ in self.reopen}
        if self.unready >= 0:
            self._unready_decline(call, joiners[:, self.unready], knocking)
        joiners = joiners * self.access_mask
        invitees = np.zeros_like(joiners)
        closed_teams = np.abs(call.teams[:, self.closed]).sum(axis=1) + self.eps
        age = np.divide(call.linear_out["knock_i_age"], knocking,
                        out=np.zeros_like(knocking), where=np.abs(knocking) > 1e-30)
        p = self.upgrade_p * self.reopen_share
        for src, dst, bought_counter, declined_counter in self.reopen:
            share = np.clip(call.teams[:, src] / closed_teams, 0.0, 1.0)
            knocking_i = knocking * share
            deciding = knocking_j[src] + knocking_i  # one decision per company who came
            bought_j, bought_i = knocking_j[src] * p, knocking_i * p
            bought = bought_j + bought_i
            src_class = np.array([src])
            call.move(src_class, self._declined_dst, (deciding * (1.0 - p))[:, None])
            call.move(src_class, np.array([dst]), bought[:, None])
            joiners[:, dst] += bought_j
            invitees[:, dst] += bought_i
            if src == self.expired:  # (a first purchase: an upgrade; a win-back is none)
                call.count("upgrades", bought.sum())
            call.count(bought_counter, bought.sum())
            call.count(declined_counter, (deciding * (1.0 - p)).sum())
            for counter in ("sig_invite", "invite_arrivals"):
                call.count(counter, bought_i.sum())
            call.count("invite_delay_sum", float(np.dot(bought_i, age)))
            turned -= float(bought.sum())
        call.count("sig_lost_signup", turned)
        return joiners, invitees

    def _unready_decline(self, call: _Call, knocking_j: np.ndarray, knocking: np.ndarray
                         ) -> None:
        """With the sandbox, people coming to a company whose trial ended before it was set
        up (per day and bin: later signups reaching one, and invites arriving to no access in
        the bin's share of such companies among its teams without access): it cannot buy,
        so it declines at the paywall and stays closed, and they are turned away."""
        teams = call.teams
        unready = teams[:, self.unready]
        closed = np.abs(teams[:, self.closed]).sum(axis=1) + self.eps
        share = np.clip(unready / closed, 0.0, 1.0)
        call.move(self._unready_src, self._declined_dst,
                  (knocking_j + knocking * share)[:, None])

    def _start_onboarding(self, call: _Call, new_teams: np.ndarray, joiners: np.ndarray,
                          invitees: np.ndarray) -> np.ndarray:
        """Later signups (and without a trial first signups, and invitees who came to a company
        as it bought after its trial) start onboarding, per day: no-shows give up at once, some
        reach value at once, the rest join the onboarding pool and are pending for their team.
        Returns the signups reaching value at once (bin, class)."""
        joiner = self.joiner_chain
        call.d_carried["PJ"] += joiners * (1.0 - joiner.instant.sum())
        call.dy[self._joiner_onboarding_start] += joiners.sum(axis=1) * (1.0 - joiner.instant.sum())
        call.count("abandoned", joiners.sum() * joiner.instant[ABANDON])
        joiners_now = joiners * joiner.instant[ACT]
        call.count("act_joiner", joiners_now.sum())
        if self.reopen:  # (invitees who came to a company as it bought again)
            invitee = self.invitee_chain
            call.d_carried["PI"] += invitees * (1.0 - invitee.instant.sum())
            call.dy[self._invitee_onboarding_start] += (invitees.sum(axis=1)
                                                        * (1.0 - invitee.instant.sum()))
            call.count("abandoned", invitees.sum() * invitee.instant[ABANDON])
            invitees_now = invitees * invitee.instant[ACT]
            call.count("act_invitee", invitees_now.sum())
            joiners_now = joiners_now + invitees_now
        if not self.trial:  # (with a trial, a first signup onboards on the trial clock)
            founder = self.founder_chain
            onboarding = new_teams * (1.0 - founder.instant.sum())
            call.dy[self._founder_onboarding_start] += onboarding
            call.d_carried["PF"][:, self._new_class] += onboarding
            call.count("abandoned", new_teams.sum() * founder.instant[ABANDON])
        return joiners_now

    def _landing(self, call: _Call, joiners_now: np.ndarray) -> np.ndarray:
        """Users reaching value (per day and bin, from the onboarding pools) land in their own
        team's class, in proportion to its pending signups of their kind; those who give up
        leave the pending count too.  Returns the users landing per day (bin, class).

        The three kinds (first signups, later signups, invitees) at once: the pending counts
        PF, PJ, PI are one (kind, bin, class) block, the linear part's flows act_* and ab_*
        (kind, bin) blocks."""
        n_bins = self.B
        pending = call.team_block[2:] * self._pending_pool  # (first signups: own pool only)
        # (a numerical residue with nothing pending goes to the bin's teams evenly)
        weights = pending + 1e-9 * np.abs(call.teams) * self.access_mask
        per_bin = weights.sum(axis=2)
        per_bin = np.where(np.abs(per_bin) > 1e-30, per_bin, 1.0)
        acts = call.outputs[self._act_outputs].reshape(3, n_bins)
        gave_up = call.outputs[self._gave_up_outputs].reshape(3, n_bins)
        landing = weights * (acts / per_bin)[:, :, None]
        landed = joiners_now + landing[0] + landing[1] + landing[2]
        d_pending = call.d_team_block[2:]
        d_pending -= landing * (pending / np.where(np.abs(weights) > 1e-30, weights, 1.0))
        if self.setup_gate:
            # those giving up leave in the landing's own proportions, so the pending count
            # follows its pool exactly (see setup_gate in __init__)
            d_pending -= weights * (gave_up / per_bin)[:, :, None]
        else:
            d_pending -= pending * (gave_up / (np.abs(pending.sum(axis=2)) + self.eps))[:, :, None]
        return landed

    def _limit_share(self, call: _Call) -> np.ndarray:
        """The share of the users landing in each class who meet the seat limit: 1 or 0 for
        most classes; for a top class below the limit, its teams' share at the limit by the
        geometric closure of their extra seats."""
        gap = self.tops_below_limit
        if not gap.size:
            return self.at_limit
        share = np.broadcast_to(self.at_limit, (self.B, self.n)).copy()
        extra = call.extra_per_team[:, gap]
        share[:, gap] = (extra / (1.0 + extra)) ** self.limit_gap[gap]
        return share

    def _take_seats(self, call: _Call, seating: np.ndarray) -> None:
        """Users taking a seat, per day (bin, class): their team moves a class up (at the top,
        an extra seat), and the seat sends invites if its team's plan does."""
        below = self.below_top
        call.move(below, self.after_seat[below], seating[:, below])
        call.d_extra_seats += seating[:, self.top_idx]
        taken = seating.sum(axis=1)
        scatter(call.inviting_seats, self.after_seat, seating * self._inviting_share(call))
        # (with the seats the linear part gives trial teams' first signups)
        call.new_seats += taken.sum() + call.linear_out["seat_new"].sum()
        call.count("seated", taken.sum())
        call.count("paid_entries", seating[:, self.paying].sum())
        # a won-back team's first seat: its MRR comes back from 0
        call.count("reactivated_seats", seating[:, self.won_back].sum())

    def _inviting_share(self, call: _Call) -> np.ndarray:
        """The share of the seats taken in each class that send invites: 1 or 0 for most
        classes (0 where the team is then at or over the free tier's seat limit); for a top
        class below the limit, the share of its seated teams still below the limit after the
        seat, by the geometric closure of their extra seats."""
        gap = self.tops_below_limit
        if not gap.size:
            return self.inviting_mask
        g = self.limit_gap[gap]
        extra = np.maximum(call.extra_per_team[:, gap], 0.0)
        r = extra / (1.0 + extra)
        share = np.broadcast_to(self.inviting_mask, (self.B, self.n)).copy()
        share[:, gap] = np.where(g >= 2, (1.0 - r ** (g - 1)) / np.maximum(1.0 - r ** g, _TINY),
                                 0.0)
        return share

    def _wait_at_limit(self, call: _Call, at_limit: np.ndarray) -> None:
        """Users meeting the seat limit, per day (bin, class): they wait (a capped team blocks
        them), and a free team meets the paywall, moving to the pending classes."""
        call.d_waiting += at_limit @ self.waiting_mask
        call.count("blocked", (at_limit @ self.capped_mask).sum())
        if not self.free_limited.size:
            return
        src = self.free_limited
        dst = self.limit_dst[src]
        flux = at_limit[:, src]
        call.move(src, dst, flux)
        call.count("paywall", flux.sum())
        src_slot = self.top_slot[src]
        both_top = (src_slot >= 0) & (self.top_slot[dst] >= 0)
        if both_top.any():  # extra seats go along
            moving = flux[:, both_top] * call.extra_per_team[:, src[both_top]]
            scatter(call.d_extra_seats, src_slot[both_top], -moving)
            scatter(call.d_extra_seats, self.top_slot[dst[both_top]], moving)

    def _first_activations(self, call: _Call, landed: np.ndarray) -> None:
        """Teams whose first user reaches value, per day and bin (a landing in a class without
        seats, at the bin's share of such teams not yet activated)."""
        without_seats = call.teams @ self.no_seats_mask
        not_activated = call.y[self.sl["V"]] / (np.abs(without_seats) + self.eps)
        first = ((landed @ self.no_seats_mask) + call.linear_out["first_t"]) * not_activated
        call.d_unactivated -= first
        call.count("teams_activated", first.sum())

    def _top_churn(self, call: _Call) -> None:
        """Seats churning in the top classes, per day: a team drops a class only if it has no
        extra seat left (the geometric closure), else it loses an extra seat."""
        if not call.hazard > 0:
            return
        seats = self.a[self.top_idx]
        drop = call.hazard * seats * call.top_teams / (1.0 + call.extra_per_top_team)
        call.move(self.top_idx, self.top_drop_dst, drop)
        churned = call.hazard * (seats * call.top_teams + call.extra_seats)
        call.d_extra_seats -= churned - drop
        call.count("churned", churned.sum())

    def _top_usage(self, call: _Call) -> None:
        """Usage stages crossed by free top teams with extra seats, per day (at a rate by their
        seats, extras included); the last stage meets the paywall."""
        if not (self.free_top_extras and self.usage_top_src.size):
            return
        src, dst = self.usage_top_src, self.usage_top_dst
        flux = call.teams[:, src] * (self.a[src] + call.extra_per_team[:, src]) * (
            self.usage_rate * self.usage_stages / self.usage_limit)
        call.move(src, dst, flux)
        moving = flux * call.extra_per_team[:, src]
        scatter(call.d_extra_seats, self.top_slot[src], -moving)
        scatter(call.d_extra_seats, self.top_slot[dst], moving)
        call.count("paywall", flux[:, self.usage_top_paywall].sum())

    def _paywall_decisions(self, call: _Call) -> None:
        """Pending teams deciding at the paywall, per day: they upgrade (if anyone is active or
        waiting) with the bin's mean waiting users per pending team, or become capped and
        their waiting users are blocked."""
        src = self.decision_src
        if not src.size:
            return
        deciding = call.teams[:, src] * self.decision_rate
        waiting = call.y[self.sl["W"]] / (np.abs(call.teams @ self.pending_mask) + self.eps)
        extra = call.extra_per_team[:, src]
        anyone = np.where(self.decision_seats + extra > 0, 1.0, np.clip(waiting[:, None], 0.0, 1.0))
        seats_after = np.maximum(self.decision_seats + extra + waiting[:, None], 0.0)
        # (a team of its seats and waiting users valuing a seat at the price)
        upgrades = deciding * (self.upgrade_p * anyone * self.buy_share(seats_after))
        declines = deciding - upgrades
        call.move(src, self.decision_capped, declines)
        src_slot = self.top_slot[src]
        at_top = src_slot >= 0
        if at_top.any():  # extra seats: out of the decision, into capped for the declines
            scatter(call.d_extra_seats, src_slot[at_top], -deciding[:, at_top] * extra[:, at_top])
            scatter(call.d_extra_seats, self.top_slot[self.decision_capped[at_top]],
                    declines[:, at_top] * extra[:, at_top])
        self._upgrade(call, upgrades, waiting, seats_after)
        call.d_waiting -= deciding.sum(axis=1) * waiting
        seated = upgrades.sum(axis=1) * waiting
        call.new_seats += seated.sum()
        call.count("seated", seated.sum())
        call.count("blocked", (declines.sum(axis=1) * waiting).sum())
        call.count("paid_entries", (upgrades * seats_after).sum())
        call.count("upgrades", upgrades.sum())
        call.count("declines", declines.sum())

    def _upgrade(self, call: _Call, upgrades: np.ndarray, waiting: np.ndarray,
                 seats_after: np.ndarray) -> None:
        """Upgrading teams (per day, by decision class) move to the paying classes of their
        seats after the upgrade, split between the two nearest, with what they carry; their
        waiting users, seated, send invites."""
        src, top_level, levels = self.decision_src, float(self.top_level), self.top_level + 1
        lower = np.minimum(np.floor(seats_after), top_level)
        upper_share = np.where(lower < top_level, seats_after - lower, 0.0)
        lower_class = lower.astype(int)
        upper_class = np.minimum(lower_class + 1, self.top_level)
        # what moves: the teams, what they carry, and (last) the waiting users seated
        per_team = call.team_block[:, :, src] / (np.abs(call.teams[:, src]) + self.eps)
        moving = np.concatenate([per_team * upgrades, (upgrades * waiting[:, None])[None]])
        moving[0] = upgrades
        offsets = self._upgrade_offsets
        size = offsets.size * levels
        to_paying = (np.bincount((offsets + lower_class).ravel(),
                                 weights=(moving * (1 - upper_share)).ravel(), minlength=size)
                     + np.bincount((offsets + upper_class).ravel(),
                                   weights=(moving * upper_share).ravel(), minlength=size)
                     ).reshape(len(moving), self.B, levels)
        call.d_team_block[:, :, src] -= moving[:-1]
        call.d_team_block[:, :, self.paying_class] += to_paying[:-1]
        call.d_extra_seats[:, self.top_slot[self.paying_class[-1]]] += (
            upgrades * np.maximum(seats_after - top_level, 0.0)).sum(axis=1)
        call.inviting_seats[:, self.paying_class] += to_paying[-1]

    def _trial_first_seats(self, call: _Call) -> None:
        """A trial team's first signup reaching value, per day (the linear part moved its team a
        class up): its seat sends invites, and what the team carries goes along."""
        src, dst = self.trial_first_src, self.trial_first_dst
        seating = call.carried["PF"][:, src] * self.trial_first_hazard[ACT]
        scatter(call.inviting_seats, dst, seating)
        below = ~self.trial_first_top  # (a top keeps its class)
        for name in ("K", "PJ", "PI"):
            along = seating[:, below] * (call.carried[name][:, src[below]]
                                         / (np.abs(call.teams[:, src[below]]) + self.eps))
            scatter(call.d_carried[name], src[below], -along)
            scatter(call.d_carried[name], dst[below], along)

    def _new_teams(self, call: _Call, new_teams: np.ndarray) -> None:
        """New teams, per day and bin, in the first classes: with a seat if the first signup
        reached value at once (it sends invites), else with it pending (without a trial its
        onboarding started in _start_onboarding; with one, on the trial clock)."""
        new, seated = self._new_class, self._new_seated_class
        if self.trial:
            at_once, gave_up = self.trial_founder_instant
        else:
            at_once = self.founder_chain.instant[ACT]
        call.d_teams[:, new] += new_teams * (1.0 - at_once)
        call.d_teams[:, seated] += new_teams * at_once
        if self.trial:
            call.d_carried["PF"][:, new] += new_teams * (1.0 - at_once - gave_up)
            call.count("abandoned", new_teams.sum() * gave_up)
        if seated != new:  # the people they reached go with the teams that took a seat
            call.d_carried["K"][:, new] -= new_teams * at_once
            call.d_carried["K"][:, seated] += new_teams * at_once
        call.count("act_founder", new_teams.sum() * at_once)
        call.count("seated", new_teams.sum() * at_once)
        call.new_seats += new_teams.sum() * at_once
        call.inviting_seats[:, seated] += new_teams * at_once * self._new_seated_invites
        call.d_unactivated += new_teams * (1.0 - at_once)
        call.count("teams_activated", new_teams.sum() * at_once)

    def _apply_moves(self, call: _Call) -> None:
        """The teams moving between classes (per day, collected by the steps before), with what
        they carry at its mean per team of the class they leave."""
        src = np.concatenate(call.move_src)
        dst = np.concatenate(call.move_dst)
        flux = np.concatenate(call.move_flux, axis=1)
        flows = call.team_block[:, :, src] * (flux / (np.abs(call.teams[:, src]) + self.eps))
        flows[0] = flux
        weights = flows.ravel()
        d_team, size = call.d_team_block, call.d_team_block.size
        d_team -= np.bincount((self._team_offsets + src).ravel(), weights=weights,
                              minlength=size).reshape(d_team.shape)
        d_team += np.bincount((self._team_offsets + dst).ravel(), weights=weights,
                              minlength=size).reshape(d_team.shape)

    def _lose_pending(self, call: _Call) -> None:
        """Signups pending for teams that lost access (per day and bin, from the linear part)
        leave the onboarding pools and the invites in flight in proportion, by kind (first
        signups, later signups, invitees): onboarding ones lose access now, invites in flight
        will arrive to no access (the ID chain)."""
        group = self._doomed_group
        held = call.y[self._doomed_idx]
        total = np.bincount(group, weights=held, minlength=self._doomed_amount.stop
                            - self._doomed_amount.start)
        has = total > 1e-12
        amount = call.outputs[self._doomed_amount]
        share = np.clip(amount / np.where(has, total, 1.0), 0.0, 1e3) * has
        removed = held * share[group]
        call.dy[self._doomed_idx] -= removed
        flight = self._doomed_in_flight
        call.dy[self._doomed_arrive] += removed[flight]
        call.count("lost", float(removed[~flight].sum()))

    def _invites(self, call: _Call, people_left: np.ndarray) -> None:
        """Invites sent by the new seats, per day: accepted ones that find someone still in the
        company (at most all, by the people left per team) reserve that person and enter the
        invite-delay chain, pending for their team."""
        reach = np.clip(people_left / (np.abs(call.teams) + self.eps), 0.0, 1.0)
        accepted = call.inviting_seats * (self.invites_mean * self.acceptance) * reach
        call.count("invites_sent", call.inviting_seats.sum() * self.invites_mean)
        call.count("invites_accepted", accepted.sum())
        call.d_carried["PI"] += accepted
        call.d_carried["K"] += accepted
        call.dy[self._invite_start] += accepted.sum(axis=1)

    def _tenure_phases(self, call: _Call) -> None:
        """Seats per tenure phase, per day (if the churn hazard is not constant): new seats
        enter the first phase; seats ended in the linear part leave every phase in proportion."""
        if self.tenure is None:
            return
        sl = self.sl
        call.dy[sl["G"].start] += call.new_seats
        lost_seats = float((self._lost_seats_row @ call.y)[0])
        if call.tenure_seats > _TINY:
            call.dy[sl["G"]] -= call.tenure_phases * (lost_seats / call.tenure_seats)

    def _total(self, call: _Call) -> np.ndarray:
        """dy/dt: the linear flows plus what the steps added, counters included."""
        sl, dy = self.sl, call.dy
        dy[sl["W"]] += call.d_waiting
        dy[sl["V"]] += call.d_unactivated
        dy[sl["E"]] += call.d_extra_seats.ravel()
        dy[self._team_block] += call.d_team_block.ravel()
        dy[sl["Z"]] += call.counters
        # no value below 1e-100 is meaningful here; left in, such values become subnormal
        # numbers in the solver's norms, which makes every step many times slower
        dy[np.abs(dy) < 1e-100] = 0.0
        return dy
