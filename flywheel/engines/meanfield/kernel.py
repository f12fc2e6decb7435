"""The twin's right-hand side compiled with numba: :func:`rhs` is :meth:`Twin.rhs` for
nopython code (an integrator's loop), at tens of microseconds a call instead of a
millisecond of numpy.

:func:`pack` reads a built :class:`~flywheel.engines.meanfield.twin.Twin` once into a
:class:`Pack`: one ``typing.NamedTuple`` of nine C-contiguous arrays, which numba takes as
one argument.  Its scalars (sizes, where each part of the state starts, class numbers,
branch flags, rates) are the entries of ``ints`` and ``reals`` at the positions ``I_*``
and ``R_*``; its lists (per class, per bin, index lists of transitions, the market's
representatives, the willingness to pay) are slices of ``index`` (int64) and ``values``
(float64), list ``k`` from ``*_at[k]`` to ``*_at[k + 1]``, at the positions ``L_*`` and
``V_*``; the linear part's sparse matrices (``Twin.L_A``, ``L_Ac``, ``L_R``, ``L_Rc`` and
the lost-seats row) are CSR arrays one after another in ``csr_data``, ``csr_indices``
and ``csr_indptr``.  (A field per quantity, some 150, made numba's first compilation
three times as long: its time grows with the fields of a tuple argument times the
functions that take it.)  :meth:`Pack.scalar` and :meth:`Pack.array` read them by name
from Python.

:func:`rhs` takes ``(t, y, pack, dy)`` and writes dy/dt into ``dy``, step by step as the
numpy version (signups and the market, closed companies, onboarding, landing, seats, the
seat limit, first activations, churn and usage of the top classes, paywall decisions,
trial first seats, new teams, lost pending signups, invites, tenure phases; each step's
flows are added straight into ``dy`` after the linear ones, the teams moving between
classes as each step finds them, where the numpy version collects them first), its
floating-point operations in nearly the same order (sums reassociated): the two
agree to 1e-10 relative where flows cancel, closer elsewhere
(``tests/test_meanfield_kernel.py``).  :func:`evaluate` is the same from Python,
returning a new array.

Willingness to pay: the lognormal fast path of :meth:`Twin.buy_share`, and the general
path (a constant price per seat, a flat plan's or metered usage's bill per seat) with a
lognormal, exponential, gamma, fixed, uniform or empirical distribution; any other
family (or bill) makes :func:`pack` raise :class:`NotImplementedError`, and the caller
integrates with :meth:`Twin.rhs`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from flywheel.engines.meanfield.chains import ABANDON, ACT
from flywheel.engines.meanfield.twin import _COUNTER_INDEX, _COUNTERS, _PENDING, _TEAM, _TINY, Twin
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, Uniform

# -- the layout of a Pack ------------------------------------------------------------------------
# (each name's position is the constant of its upper-cased name: I_, R_, L_, V_, C_)

#: Integer scalars: sizes, where each part of the state starts, where each per-bin row of the
#: linear part's outputs (L_R @ y) starts, where each matrix's row pointers start in
#: csr_indptr, class numbers, and the branch flags (0 or 1).
INTS = (
    "size", "B", "n", "ntop", "n_out", "n_counters", "top_level",
    "x0", "w0", "v0", "tb", "e0", "g0", "g1", "z0",
    "o_act", "o_ab", "o_doom", "o_seat_new", "o_first_t", "o_knock", "o_knock_age",
    "la", "lac", "lr", "lrc", "lost",
    "has_tenure", "trial", "reverse", "expires", "setup_gate", "free_top_extras",
    "new_class", "new_seated_class", "unready", "no_access", "won_back", "wtp_kind", "price_mode",
)
(I_SIZE, I_B, I_N, I_NTOP, I_N_OUT, I_N_COUNTERS, I_TOP_LEVEL,
 I_X0, I_W0, I_V0, I_TB, I_E0, I_G0, I_G1, I_Z0,
 I_O_ACT, I_O_AB, I_O_DOOM, I_O_SEAT_NEW, I_O_FIRST_T, I_O_KNOCK, I_O_KNOCK_AGE,
 I_LA, I_LAC, I_LR, I_LRC, I_LOST,
 I_HAS_TENURE, I_TRIAL, I_REVERSE, I_EXPIRES, I_SETUP_GATE, I_FREE_TOP_EXTRAS,
 I_NEW_CLASS, I_NEW_SEATED_CLASS, I_UNREADY, I_NO_ACCESS, I_WON_BACK, I_WTP_KIND,
 I_PRICE_MODE) = range(len(INTS))

#: Real scalars: the regularisers, the churn hazard, acquisition, the paywall, invites, the
#: instant outcomes of each kind's onboarding (keep: 1 - both), and how a decision is priced.
REALS = (
    "eps", "tiny", "churn", "tenure_rate0", "organic", "organic_growth", "days_per_month",
    "paid", "referral", "starters", "market_people", "upgrade_p", "reopen_share",
    "invites_mean", "acceptance",
    "joiner_keep", "joiner_act", "joiner_ab", "invitee_keep", "invitee_act", "invitee_ab",
    "founder_keep", "founder_act", "founder_ab", "trial_at_once", "trial_gave_up",
    "new_seated_invites", "usage_top_rate",
    "price", "flat_price", "flat_seats", "flat_seat_price", "unit_price", "discount",
    "value_growth",
)
(R_EPS, R_TINY, R_CHURN, R_TENURE_RATE0, R_ORGANIC, R_ORGANIC_GROWTH, R_DAYS_PER_MONTH,
 R_PAID, R_REFERRAL, R_STARTERS, R_MARKET_PEOPLE, R_UPGRADE_P, R_REOPEN_SHARE,
 R_INVITES_MEAN, R_ACCEPTANCE,
 R_JOINER_KEEP, R_JOINER_ACT, R_JOINER_AB, R_INVITEE_KEEP, R_INVITEE_ACT, R_INVITEE_AB,
 R_FOUNDER_KEEP, R_FOUNDER_ACT, R_FOUNDER_AB, R_TRIAL_AT_ONCE, R_TRIAL_GAVE_UP,
 R_NEW_SEATED_INVITES, R_USAGE_TOP_RATE,
 R_PRICE, R_FLAT_PRICE, R_FLAT_SEATS, R_FLAT_SEAT_PRICE, R_UNIT_PRICE, R_DISCOUNT,
 R_VALUE_GROWTH) = range(len(REALS))

#: Integer lists: per class (n), the top classes, transitions (sources, destinations), the
#: paying class of each seat level, trial first seats, the companies that may buy again, each
#: bin's first stage of its onboarding pools and invite chain, the pools that lose pending
#: signups, the counters' positions (COUNTERS) and the representatives' bins; flags as 0 or 1.
LISTS = (
    "top_slot", "after_seat", "limit_dst", "paying",
    "top_idx", "top_drop_dst", "below_top", "tops_below_limit", "closed", "free_limited",
    "usage_top_src", "usage_top_dst", "usage_top_paywall",
    "decision_src", "decision_capped", "paying_class",
    "trial_first_src", "trial_first_dst", "trial_first_below",
    "reopen_src", "reopen_dst", "reopen_bought", "reopen_declined", "reopen_first_purchase",
    "joiner_start", "invitee_start", "founder_start", "invite_start",
    "doomed_idx", "doomed_group", "doomed_to", "counters", "rep_bin",
)
(L_TOP_SLOT, L_AFTER_SEAT, L_LIMIT_DST, L_PAYING,
 L_TOP_IDX, L_TOP_DROP_DST, L_BELOW_TOP, L_TOPS_BELOW_LIMIT, L_CLOSED, L_FREE_LIMITED,
 L_USAGE_TOP_SRC, L_USAGE_TOP_DST, L_USAGE_TOP_PAYWALL,
 L_DECISION_SRC, L_DECISION_CAPPED, L_PAYING_CLASS,
 L_TRIAL_FIRST_SRC, L_TRIAL_FIRST_DST, L_TRIAL_FIRST_BELOW,
 L_REOPEN_SRC, L_REOPEN_DST, L_REOPEN_BOUGHT, L_REOPEN_DECLINED, L_REOPEN_FIRST_PURCHASE,
 L_JOINER_START, L_INVITEE_START, L_FOUNDER_START, L_INVITE_START,
 L_DOOMED_IDX, L_DOOMED_GROUP, L_DOOMED_TO, L_COUNTERS, L_REP_BIN) = range(len(LISTS))

#: Real lists: per class (seats, masks, the seat limit), the pending pools by kind (3 x n),
#: the decisions' rates and seats, trial first seats' rates, the market's representatives and
#: bins, the tenure phases' churn rates, and the willingness to pay's parameters (an
#: empirical one: its values ascending and their cumulative probabilities).
VALUES = (
    "a", "access_mask", "inviting_mask", "waiting_mask", "capped_mask", "no_seats_mask",
    "pending_mask", "at_limit", "limit_gap", "pending_pool",
    "decision_rate", "decision_seats", "trial_first_act",
    "rep_s", "rep_n", "rep_people", "people_total", "companies_total", "tenure_exit",
    "wtp", "wtp_values", "wtp_cumulative",
)
(V_A, V_ACCESS_MASK, V_INVITING_MASK, V_WAITING_MASK, V_CAPPED_MASK, V_NO_SEATS_MASK,
 V_PENDING_MASK, V_AT_LIMIT, V_LIMIT_GAP, V_PENDING_POOL,
 V_DECISION_RATE, V_DECISION_SEATS, V_TRIAL_FIRST_ACT,
 V_REP_S, V_REP_N, V_REP_PEOPLE, V_PEOPLE_TOTAL, V_COMPANIES_TOTAL, V_TENURE_EXIT,
 V_WTP, V_WTP_VALUES, V_WTP_CUMULATIVE) = range(len(VALUES))

#: The counters the nonlinear part adds to (their places in the state: list "counters").
COUNTERS = (
    "contacts", "sig_founder", "sig_lost_signup", "upgrades", "sig_invite", "invite_arrivals",
    "invite_delay_sum", "abandoned", "act_joiner", "act_invitee", "seated", "paid_entries",
    "reactivated_seats", "blocked", "paywall", "teams_activated", "churned", "declines",
    "act_founder", "lost", "invites_sent", "invites_accepted", "sig_organic", "sig_paid",
    "sig_referral",
)
(C_CONTACTS, C_SIG_FOUNDER, C_SIG_LOST_SIGNUP, C_UPGRADES, C_SIG_INVITE, C_INVITE_ARRIVALS,
 C_INVITE_DELAY_SUM, C_ABANDONED, C_ACT_JOINER, C_ACT_INVITEE, C_SEATED, C_PAID_ENTRIES,
 C_REACTIVATED_SEATS, C_BLOCKED, C_PAYWALL, C_TEAMS_ACTIVATED, C_CHURNED, C_DECLINES,
 C_ACT_FOUNDER, C_LOST, C_INVITES_SENT, C_INVITES_ACCEPTED, C_SIG_ORGANIC, C_SIG_PAID,
 C_SIG_REFERRAL) = range(len(COUNTERS))

#: Rows of the team block: teams (N), then what they carry (K, PF, PJ, PI).
Q_N, Q_K, Q_PF, Q_PJ, Q_PI = range(5)

#: Willingness to pay: the lognormal fast path, or the general path by its family's cdf.
WTP_FAST, WTP_STEP, WTP_LOGNORMAL, WTP_EXPONENTIAL, WTP_GAMMA, WTP_UNIFORM, WTP_EMPIRICAL = range(7)
#: The price per seat of a decision (general path): constant (per seat, or metered usage at
#: intensity 1), a flat plan's bill per seat, metered usage's bill per seat.
PRICE_CONSTANT, PRICE_FLAT, PRICE_USAGE = range(3)


class Pack(NamedTuple):
    """What :func:`rhs` reads of one twin (see the module's docstring for the layout)."""

    ints: np.ndarray  # int64, INTS
    reals: np.ndarray  # float64, REALS
    index: np.ndarray  # int64, the LISTS one after another
    index_at: np.ndarray  # int64, where each starts (and the end)
    values: np.ndarray  # float64, the VALUES one after another
    values_at: np.ndarray
    csr_data: np.ndarray  # float64: L_A, L_Ac, L_R, L_Rc, the lost-seats row
    csr_indices: np.ndarray  # int64
    csr_indptr: np.ndarray  # int64, each matrix's row pointers into csr_data (at ints la...)

    def scalar(self, name: str) -> float | int:
        """A scalar by its name in INTS or REALS."""
        if name in INTS:
            return int(self.ints[INTS.index(name)])
        return float(self.reals[REALS.index(name)])

    def array(self, name: str) -> np.ndarray:
        """A list by its name in LISTS or VALUES."""
        if name in LISTS:
            k = LISTS.index(name)
            return self.index[self.index_at[k]:self.index_at[k + 1]]
        k = VALUES.index(name)
        return self.values[self.values_at[k]:self.values_at[k + 1]]


# -- pack -----------------------------------------------------------------------------------

def _concat(names: tuple[str, ...], arrays: dict[str, np.ndarray], dtype: type
            ) -> tuple[np.ndarray, np.ndarray]:
    """The arrays of ``names`` one after another, and where each starts (and the end)."""
    missing = set(names) ^ set(arrays)
    if missing:
        raise ValueError(f"pack: lists {sorted(missing)} named in one place only")
    parts = [np.asarray(arrays[name], dtype=dtype).ravel() for name in names]
    at = np.concatenate([[0], np.cumsum([len(x) for x in parts])]).astype(np.int64)
    return np.ascontiguousarray(np.concatenate(parts).astype(dtype)), at


def _wtp(tw: Twin, reals: dict[str, float], ints: dict[str, int], values: dict[str, np.ndarray]
         ) -> None:
    """How :meth:`Twin.buy_share` prices a decision and which cdf it reads."""
    st = tw.settings
    reals.update(price=0.0, flat_price=0.0, flat_seats=0.0, flat_seat_price=0.0, unit_price=0.0,
                 discount=1.0, value_growth=0.0)
    ints["price_mode"] = PRICE_CONSTANT
    values.update(wtp=np.zeros(0), wtp_values=np.zeros(0), wtp_cumulative=np.zeros(0))
    if tw._lognormal_wtp is not None:
        ints["wtp_kind"] = WTP_FAST
        values["wtp"] = np.array(tw._lognormal_wtp, dtype=float)  # log price, log median, sigma, growth
        return
    p = tw.pricing
    reals.update(value_growth=float(p.value_growth), discount=float(p.discount_factor))
    if st.bill_linear:
        reals["price"] = float(tw.price)
    elif p.charge == "flat":
        ints["price_mode"] = PRICE_FLAT
        reals.update(flat_price=float(p.plan_price), flat_seats=float(p.plan_seats),
                     flat_seat_price=float(p.price_per_seat))
    elif p.charge == "usage":
        ints["price_mode"] = PRICE_USAGE
        reals["unit_price"] = float(p.price_per_unit * st.unit_month)
    else:
        raise NotImplementedError(f"the compiled twin has no bill per seat for pricing.charge = "
                                  f"{p.charge!r} when it is not linear in seats; use Twin.rhs")
    d = p.willingness_to_pay
    kind, params = WTP_STEP, [0.0]
    if isinstance(d, Lognormal):
        if d.sigma == 0:
            params = [d.median]
        else:
            kind, params = WTP_LOGNORMAL, [math.log(d.median), d.sigma]
    elif isinstance(d, Exponential):
        if d.mean_value != 0:
            kind, params = WTP_EXPONENTIAL, [d.mean_value]
    elif isinstance(d, Gamma):
        if d.scale != 0:
            kind, params = WTP_GAMMA, [d.shape, d.scale]
    elif isinstance(d, Fixed):
        params = [d.value]
    elif isinstance(d, Uniform):
        if d.high == d.low:
            params = [d.low]
        else:
            kind, params = WTP_UNIFORM, [d.low, d.high]
    elif isinstance(d, Empirical):
        kind, params = WTP_EMPIRICAL, []
        sorted_values, cumulative = d._sorted()
        values.update(wtp_values=sorted_values, wtp_cumulative=cumulative)
    else:
        raise NotImplementedError(f"the compiled twin has no cdf for a willingness to pay of "
                                  f"family {getattr(d, 'kind', type(d).__name__)!r}; use Twin.rhs")
    ints["wtp_kind"] = kind
    values["wtp"] = np.array(params, dtype=float)


def pack(tw: Twin) -> Pack:
    """Everything :func:`rhs` reads of ``tw``, in one :class:`Pack` (read once per twin).

    Raises :class:`NotImplementedError` for what the compiled right-hand side does not
    carry (a willingness to pay or a bill it has no formula for): the caller then
    integrates with :meth:`Twin.rhs`."""
    B, n, sl = tw.B, tw.n, tw.sl
    tb = tw._team_block.start
    if (_TEAM != ("N", "K", "PF", "PJ", "PI") or _PENDING != ("PF", "PJ", "PI")
            or sl[_TEAM[0]].start != tb or tw._team_block.stop - tb != len(_TEAM) * B * n):
        raise NotImplementedError("the twin's team block is not (N, K, PF, PJ, PI) x bins x classes")
    for first, last in (("act_f", "act_i"), ("ab_f", "ab_i"), ("doom_f", "doom_i")):
        if tw.out[last].stop - tw.out[first].start != 3 * B:
            raise NotImplementedError(f"the twin's outputs {first} .. {last} are not one block")
    trial = bool(tw.trial)
    tenure = tw.tenure
    founder, joiner, invitee = tw.founder_chain, tw.joiner_chain, tw.invitee_chain
    acq = tw.settings.acquisition
    for t in (0.0, 45.0, 400.0):  # organic contacts: organic (1 + growth)^(t / month), 0 without
        rate = acq.organic * (1.0 + acq.organic_growth) ** (t / DAYS_PER_MONTH) if acq.organic else 0.0
        if not math.isclose(tw.organic_rate(t), rate, rel_tol=1e-12, abs_tol=0.0):
            raise NotImplementedError("the twin's organic contacts are not organic (1 + growth)^(t / month)")
    none = np.zeros(0)
    # the linear part: each matrix's row pointers shifted to its entries in csr_data
    mats = [m.tocsr() for m in (tw.L_A, tw.L_Ac, tw.L_R, tw.L_Rc, tw._lost_seats_row)]
    data, indices, indptr, starts, base = [], [], [], [], 0
    for m in mats:
        starts.append(sum(len(x) for x in indptr))
        data.append(m.data)
        indices.append(m.indices)
        indptr.append(np.asarray(m.indptr, dtype=np.int64) + base)
        base += len(m.data)
    ints: dict[str, int] = dict(
        size=tw.size, B=B, n=n, ntop=len(tw.top_idx), n_out=tw.L_R.shape[0],
        n_counters=len(_COUNTERS), top_level=tw.top_level,
        x0=sl["X"].start, w0=sl["W"].start, v0=sl["V"].start, tb=tb, e0=sl["E"].start,
        g0=sl["G"].start, g1=sl["G"].stop, z0=sl["Z"].start,
        o_act=tw._act_outputs.start, o_ab=tw._gave_up_outputs.start,
        o_doom=tw._doomed_amount.start, o_seat_new=tw.out["seat_new"].start,
        o_first_t=tw.out["first_t"].start, o_knock=tw.out["knock_i"].start,
        o_knock_age=tw.out["knock_i_age"].start,
        la=starts[0], lac=starts[1], lr=starts[2], lrc=starts[3], lost=starts[4],
        has_tenure=tenure is not None, trial=trial, reverse=tw.reverse, expires=tw.expires,
        setup_gate=tw.setup_gate, free_top_extras=tw.free_top_extras,
        new_class=tw._new_class, new_seated_class=tw._new_seated_class, unready=tw.unready,
        no_access=tw.no_access, won_back=tw.won_back)
    reals: dict[str, float] = dict(
        eps=tw.eps, tiny=_TINY, churn=tw.churn,
        tenure_rate0=tenure.rates[0] * tenure.exits[0, 0] if tenure is not None else 0.0,
        organic=acq.organic, organic_growth=acq.organic_growth, days_per_month=DAYS_PER_MONTH,
        paid=tw.paid, referral=tw.referral, starters=tw.starters, market_people=tw.market_people,
        upgrade_p=tw.upgrade_p, reopen_share=tw.reopen_share, invites_mean=tw.invites_mean,
        acceptance=tw.acceptance,
        joiner_keep=1.0 - joiner.instant.sum(), joiner_act=joiner.instant[ACT],
        joiner_ab=joiner.instant[ABANDON],
        invitee_keep=1.0 - invitee.instant.sum(), invitee_act=invitee.instant[ACT],
        invitee_ab=invitee.instant[ABANDON],
        founder_keep=1.0 - founder.instant.sum(), founder_act=founder.instant[ACT],
        founder_ab=founder.instant[ABANDON],
        trial_at_once=tw.trial_founder_instant[0] if trial else 0.0,
        trial_gave_up=tw.trial_founder_instant[1] if trial else 0.0,
        new_seated_invites=tw._new_seated_invites,
        usage_top_rate=(tw.usage_rate * tw.usage_stages / tw.usage_limit
                        if tw.usage_limit > 0 else 0.0))
    doomed_to = np.full(len(tw._doomed_idx), -1, dtype=np.int64)
    doomed_to[tw._doomed_in_flight] = tw._doomed_arrive  # an invite in flight: to the ID chain
    lists: dict[str, np.ndarray] = dict(
        top_slot=tw.top_slot, after_seat=tw.after_seat, limit_dst=tw.limit_dst, paying=tw.paying,
        top_idx=tw.top_idx, top_drop_dst=tw.top_drop_dst, below_top=tw.below_top,
        tops_below_limit=tw.tops_below_limit, closed=tw.closed, free_limited=tw.free_limited,
        usage_top_src=tw.usage_top_src, usage_top_dst=tw.usage_top_dst,
        usage_top_paywall=tw.usage_top_paywall,
        decision_src=tw.decision_src, decision_capped=tw.decision_capped,
        paying_class=tw.paying_class,
        trial_first_src=tw.trial_first_src if trial else none,
        trial_first_dst=tw.trial_first_dst if trial else none,
        trial_first_below=~tw.trial_first_top if trial else none,
        reopen_src=[r[0] for r in tw.reopen], reopen_dst=[r[1] for r in tw.reopen],
        reopen_bought=[_COUNTER_INDEX[r[2]] for r in tw.reopen],
        reopen_declined=[_COUNTER_INDEX[r[3]] for r in tw.reopen],
        reopen_first_purchase=[r[0] == tw.expired for r in tw.reopen],
        joiner_start=tw._joiner_onboarding_start, invitee_start=tw._invitee_onboarding_start,
        founder_start=tw._founder_onboarding_start, invite_start=tw._invite_start,
        doomed_idx=tw._doomed_idx, doomed_group=tw._doomed_group, doomed_to=doomed_to,
        counters=[_COUNTER_INDEX[name] for name in COUNTERS], rep_bin=tw.rep_bin)
    values: dict[str, np.ndarray] = dict(
        a=tw.a, access_mask=tw.access_mask, inviting_mask=tw.inviting_mask,
        waiting_mask=tw.waiting_mask, capped_mask=tw.capped_mask, no_seats_mask=tw.no_seats_mask,
        pending_mask=tw.pending_mask, at_limit=tw.at_limit, limit_gap=tw.limit_gap,
        pending_pool=np.asarray(tw._pending_pool).reshape(len(_PENDING), n),
        decision_rate=tw.decision_rate, decision_seats=tw.decision_seats,
        trial_first_act=tw.trial_first_hazard[ACT] if trial else none,
        rep_s=tw.rep_s, rep_n=tw.rep_n, rep_people=tw.rep_people, people_total=tw.people_total,
        companies_total=tw.companies_total,
        tenure_exit=tenure.rates * tenure.exits[0] if tenure is not None else none)
    _wtp(tw, reals, ints, values)
    index, index_at = _concat(LISTS, lists, np.int64)
    vals, values_at = _concat(VALUES, values, np.float64)
    if set(ints) != set(INTS) or set(reals) != set(REALS):
        raise ValueError(f"pack: scalars {sorted((set(ints) ^ set(INTS)) | (set(reals) ^ set(REALS)))} "
                         "named in one place only")
    return Pack(
        ints=np.array([int(ints[k]) for k in INTS], dtype=np.int64),
        reals=np.array([float(reals[k]) for k in REALS], dtype=np.float64),
        index=index, index_at=index_at, values=vals, values_at=values_at,
        csr_data=np.ascontiguousarray(np.concatenate(data), dtype=np.float64),
        csr_indices=np.ascontiguousarray(np.concatenate(indices), dtype=np.int64),
        csr_indptr=np.ascontiguousarray(np.concatenate(indptr), dtype=np.int64))


# -- compiled helpers ---------------------------------------------------------------------------

#: LLVM's fast-math flags of the hot functions: sums may be reassociated (and vectorised),
#: multiplications and additions fused, divisions taken as products by a reciprocal, the sign
#: of zero ignored; NaN and infinity keep their meaning (no "nnan", "ninf").
_FAST = {"reassoc", "contract", "arcp", "nsz"}

@numba.njit(cache=True, error_model="numpy", inline="always")
def _il(p: Pack, k: int) -> np.ndarray:
    """Integer list ``k`` of the pack (a view)."""
    return p.index[p.index_at[k]:p.index_at[k + 1]]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _vl(p: Pack, k: int) -> np.ndarray:
    """Real list ``k`` of the pack (a view)."""
    return p.values[p.values_at[k]:p.values_at[k + 1]]


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _ndtr(x: float) -> float:
    """The standard normal cdf."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


@numba.njit(cache=True, error_model="numpy")
def _gammainc(a: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(a, x), a gamma distribution's cdf:
    its series below x = a + 1, above it one minus the continued fraction of Q(a, x)."""
    if x <= 0.0:
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        ap, term = a, 1.0 / a
        total = term
        for _ in range(1_000_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return min(total * math.exp(log_front), 1.0)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 1_000_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return max(1.0 - math.exp(log_front) * h, 0.0)


@numba.njit(cache=True, error_model="numpy")
def _wtp_cdf(p: Pack, x: float) -> float:
    """P(willingness to pay <= x), by the scenario's distribution."""
    kind = p.ints[I_WTP_KIND]
    w = _vl(p, V_WTP)
    if kind == WTP_STEP:
        return 1.0 if x >= w[0] else 0.0
    if kind == WTP_LOGNORMAL:
        return _ndtr((math.log(x) - w[0]) / w[1]) if x > 0.0 else 0.0
    if kind == WTP_EXPONENTIAL:
        return -math.expm1(-max(x, 0.0) / w[0]) if x > 0.0 else 0.0
    if kind == WTP_GAMMA:
        return _gammainc(w[0], max(x, 0.0) / w[1])
    if kind == WTP_UNIFORM:
        return _clip((x - w[0]) / (w[1] - w[0]), 0.0, 1.0)
    i = np.searchsorted(_vl(p, V_WTP_VALUES), x, side="right")
    return _vl(p, V_WTP_CUMULATIVE)[i - 1] if i > 0 else 0.0


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _lognormal_share(w: np.ndarray, users: float) -> float:
    """:func:`_buy_share` on the lognormal fast path: ``w`` holds the log price, the log
    median, sigma and the value growth."""
    return _ndtr((w[1] - w[0] + w[3] * math.log(max(users, 1.0))) / w[2])


@numba.njit(cache=True, error_model="numpy")
def _buy_share(p: Pack, users: float) -> float:
    """The share of teams of ``users`` users (at least 1) valuing a seat at what such a team
    pays per seat (:meth:`Twin.buy_share`)."""
    if p.ints[I_WTP_KIND] == WTP_FAST:
        return _lognormal_share(_vl(p, V_WTP), users)
    r = p.reals
    m = max(users, 1.0)
    mode = p.ints[I_PRICE_MODE]
    if mode == PRICE_CONSTANT:
        price = r[R_PRICE]
    elif mode == PRICE_FLAT:
        price = ((r[R_FLAT_PRICE] + max(m - r[R_FLAT_SEATS], 0.0) * r[R_FLAT_SEAT_PRICE])
                 * r[R_DISCOUNT] / m)
    else:
        price = m * r[R_UNIT_PRICE] * 1.0 * r[R_DISCOUNT] / m
    if not price > 0.0:
        return 1.0
    x = price / m ** r[R_VALUE_GROWTH]
    # (a value at the price buys: the cdf just below it)
    return _clip(1.0 - _wtp_cdf(p, np.nextafter(x, 0.0)), 0.0, 1.0)


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _matvec(p: Pack, start: int, rows: int, y: np.ndarray, out: np.ndarray) -> None:
    """out = A @ y for the matrix whose row pointers start at ``start`` in csr_indptr (each
    row summed in its stored order, as scipy does)."""
    data, indices = p.csr_data, p.csr_indices
    ptr = p.csr_indptr[start:start + rows + 1]
    lo = ptr[0]
    for i in range(rows):
        hi = ptr[i + 1]
        # (most rows have one to three entries: written out, they take a sixth less time;
        # a column is never negative, read unsigned)
        k = hi - lo
        s = 0.0
        if k == 1:
            s += data[lo] * y[numba.uint64(indices[lo])]
        elif k == 2:
            s += data[lo] * y[numba.uint64(indices[lo])]
            s += data[lo + 1] * y[numba.uint64(indices[lo + 1])]
        elif k == 3:
            s += data[lo] * y[numba.uint64(indices[lo])]
            s += data[lo + 1] * y[numba.uint64(indices[lo + 1])]
            s += data[lo + 2] * y[numba.uint64(indices[lo + 2])]
        else:
            for jj in range(lo, hi):
                s += data[jj] * y[numba.uint64(indices[jj])]
        out[i] = s
        lo = hi


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _matvec_add(p: Pack, start: int, rows: int, y: np.ndarray, scale: float, out: np.ndarray) -> None:
    """out += scale * (A @ y), as :func:`_matvec`."""
    data, indices = p.csr_data, p.csr_indices
    ptr = p.csr_indptr[start:start + rows + 1]
    lo = ptr[0]
    for i in range(rows):
        hi = ptr[i + 1]
        s = 0.0
        for jj in range(lo, hi):
            s += data[jj] * y[numba.uint64(indices[jj])]
        out[i] = out[i] + scale * s
        lo = hi


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _move(p: Pack, blk: np.ndarray, dteam: np.ndarray, b: int, src: int, dst: int, flux: float) -> None:
    """Teams of bin ``b`` moving from class ``src`` to ``dst``, ``flux`` per day, with what
    they carry at its mean per team of ``src`` (read from the state: so each step's moves are
    added as it finds them, where Twin.rhs collects them and adds them after its steps)."""
    dteam[Q_N, b, src] -= flux
    dteam[Q_N, b, dst] += flux
    per = flux / (abs(blk[Q_N, b, src]) + p.reals[R_EPS])
    for q in range(1, 5):
        f = blk[q, b, src] * per
        dteam[q, b, src] -= f
        dteam[q, b, dst] += f


# -- the steps of one evaluation (Twin.rhs's) -----------------------------------------------------

@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _signups(t: float, y: np.ndarray, p: Pack, blk: np.ndarray, ept: np.ndarray, dy: np.ndarray,
             dteam: np.ndarray, ctr: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float, float]:
    """Contacts per day, and the signups they bring: new teams per bin (first signups of
    untouched companies) and later signups per bin and class (by the people left in each
    class's companies).  Returns them, the people left, the contacts and their channels."""
    B, n = p.ints[I_B], p.ints[I_N]
    r = p.reals
    eps = r[R_EPS]
    a = _vl(p, V_A)
    active = 0.0
    for b in range(B):
        row = 0.0
        for c in range(n):
            row += blk[Q_N, b, c] * (a[c] + ept[b, c])
        active += row
    organic = (r[R_ORGANIC] * (1.0 + r[R_ORGANIC_GROWTH]) ** (t / r[R_DAYS_PER_MONTH])
               if r[R_ORGANIC] != 0.0 else 0.0)
    paid, referral = r[R_PAID], r[R_REFERRAL] * active
    contacts = organic + paid + referral
    # the market: companies of each size untouched as exp(-size X)
    x = y[p.ints[I_X0]]
    rep_s, rep_n, rep_people, rep_bin = (_vl(p, V_REP_S), _vl(p, V_REP_N), _vl(p, V_REP_PEOPLE),
                                         _il(p, L_REP_BIN))
    untouched_people = np.zeros(B)
    untouched_companies = np.zeros(B)
    for i in range(rep_s.size):
        u = math.exp(-rep_s[i] * x)
        untouched_people[rep_bin[i]] += rep_people[i] * u
        untouched_companies[rep_bin[i]] += rep_n[i] * u
    contact_hazard = r[R_STARTERS] * contacts / r[R_MARKET_PEOPLE]
    people_total, companies_total = _vl(p, V_PEOPLE_TOTAL), _vl(p, V_COMPANIES_TOTAL)
    new_class = p.ints[I_NEW_CLASS]
    new_teams = np.empty(B)
    people_left = np.empty((B, n))
    joiners = np.empty((B, n))
    for b in range(B):
        new_teams[b] = contact_hazard * untouched_people[b]
        people = people_total[b] - untouched_people[b]  # in touched companies
        touched = companies_total[b] - untouched_companies[b]
        reached = 0.0
        for c in range(n):
            reached += blk[Q_K, b, c]
        joining = contacts * max(people - reached, 0.0) / r[R_MARKET_PEOPLE]
        mean_size = people / max(touched, r[R_TINY])
        left = 0.0
        for c in range(n):
            v = max(blk[Q_N, b, c] * mean_size - blk[Q_K, b, c], 0.0)
            people_left[b, c] = v
            left += v
        per = joining / (left + eps)
        for c in range(n):
            joiners[b, c] = people_left[b, c] * per
            dteam[Q_K, b, c] += joiners[b, c]  # (someone turned away stays reached)
        dteam[Q_K, b, new_class] += new_teams[b]
    dy[p.ints[I_X0]] += contact_hazard
    ctr[_il(p, L_COUNTERS)[C_CONTACTS]] += contacts
    return new_teams, joiners, people_left, contacts, organic, paid, referral


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _closed_companies(p: Pack, blk: np.ndarray, outputs: np.ndarray, joiners: np.ndarray,
                      dteam: np.ndarray, ctr: np.ndarray) -> np.ndarray:
    """People coming to companies without the product (later signups, invites arriving to no
    access): a company that may buy again meets its paywall once (it buys, or declines and
    closes), a sandbox company not set up declines, everyone else is turned away.  Leaves in
    ``joiners`` those of the classes with access (and those who came as it bought); returns
    the invitees who sign up (bin, class)."""
    B, n = p.ints[I_B], p.ints[I_N]
    eps = p.reals[R_EPS]
    counters = _il(p, L_COUNTERS)
    closed = _il(p, L_CLOSED)
    access = _vl(p, V_ACCESS_MASK)
    no_access = p.ints[I_NO_ACCESS]
    o_knock, o_age = p.ints[I_O_KNOCK], p.ints[I_O_KNOCK_AGE]
    knocking = outputs[o_knock:o_knock + B]  # invites arriving to no access, per bin
    turned = 0.0
    for b in range(B):
        for c in closed:
            turned += joiners[b, c]
    turned += knocking.sum()
    reopen_src, reopen_dst = _il(p, L_REOPEN_SRC), _il(p, L_REOPEN_DST)
    reopen_bought, reopen_declined = _il(p, L_REOPEN_BOUGHT), _il(p, L_REOPEN_DECLINED)
    first_purchase = _il(p, L_REOPEN_FIRST_PURCHASE)
    knocking_j = np.empty((reopen_src.size, B))
    for k in range(reopen_src.size):
        for b in range(B):
            knocking_j[k, b] = joiners[b, reopen_src[k]]
    closed_teams = np.empty(B)
    for b in range(B):
        s = 0.0
        for c in closed:
            s += abs(blk[Q_N, b, c])
        closed_teams[b] = s + eps
    unready = p.ints[I_UNREADY]
    if unready >= 0:  # (sandbox) a trial that ended before its setup declines
        for b in range(B):
            share = _clip(blk[Q_N, b, unready] / closed_teams[b], 0.0, 1.0)
            _move(p, blk, dteam, b, unready, no_access, joiners[b, unready] + knocking[b] * share)
    for b in range(B):
        for c in range(n):
            joiners[b, c] = joiners[b, c] * access[c]
    invitees = np.zeros((B, n))
    age = np.zeros(B)
    for b in range(B):
        if abs(knocking[b]) > 1e-30:
            age[b] = outputs[o_age + b] / knocking[b]
    prob = p.reals[R_UPGRADE_P] * p.reals[R_REOPEN_SHARE]
    for k in range(reopen_src.size):
        src, dst = reopen_src[k], reopen_dst[k]
        bought_sum, declined_sum, bought_i_sum, delay = 0.0, 0.0, 0.0, 0.0
        for b in range(B):
            knocking_i = knocking[b] * _clip(blk[Q_N, b, src] / closed_teams[b], 0.0, 1.0)
            deciding = knocking_j[k, b] + knocking_i  # one decision per company who came
            bought_j, bought_i = knocking_j[k, b] * prob, knocking_i * prob
            bought = bought_j + bought_i
            declined = deciding * (1.0 - prob)
            _move(p, blk, dteam, b, src, no_access, declined)
            _move(p, blk, dteam, b, src, dst, bought)
            joiners[b, dst] += bought_j
            invitees[b, dst] += bought_i
            bought_sum += bought
            declined_sum += declined
            bought_i_sum += bought_i
            delay += bought_i * age[b]
        if first_purchase[k]:  # (after a trial: an upgrade; a win-back is none)
            ctr[counters[C_UPGRADES]] += bought_sum
        ctr[reopen_bought[k]] += bought_sum
        ctr[reopen_declined[k]] += declined_sum
        ctr[counters[C_SIG_INVITE]] += bought_i_sum
        ctr[counters[C_INVITE_ARRIVALS]] += bought_i_sum
        ctr[counters[C_INVITE_DELAY_SUM]] += delay
        turned -= bought_sum
    ctr[counters[C_SIG_LOST_SIGNUP]] += turned
    return invitees


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _start_onboarding(p: Pack, new_teams: np.ndarray, joiners: np.ndarray, invitees: np.ndarray,
                      dy: np.ndarray, dteam: np.ndarray, ctr: np.ndarray) -> np.ndarray:
    """Later signups (and invitees who came as their company bought again; without a trial,
    first signups) start onboarding: no-shows give up at once, some reach value at once, the
    rest join their pool, pending for their team.  Returns those reaching value at once."""
    B, n = p.ints[I_B], p.ints[I_N]
    r = p.reals
    counters = _il(p, L_COUNTERS)
    joiner_start = _il(p, L_JOINER_START)
    joiners_now = np.empty((B, n))
    total, now_total = 0.0, 0.0
    for b in range(B):
        row = 0.0
        for c in range(n):
            j = joiners[b, c]
            dteam[Q_PJ, b, c] += j * r[R_JOINER_KEEP]
            row += j
            joiners_now[b, c] = j * r[R_JOINER_ACT]
            now_total += joiners_now[b, c]
        dy[joiner_start[b]] += row * r[R_JOINER_KEEP]
        total += row
    ctr[counters[C_ABANDONED]] += total * r[R_JOINER_AB]
    ctr[counters[C_ACT_JOINER]] += now_total
    if _il(p, L_REOPEN_SRC).size > 0:  # invitees who came to a company as it bought again
        invitee_start = _il(p, L_INVITEE_START)
        total, now_total = 0.0, 0.0
        for b in range(B):
            row = 0.0
            for c in range(n):
                v = invitees[b, c]
                dteam[Q_PI, b, c] += v * r[R_INVITEE_KEEP]
                row += v
                now = v * r[R_INVITEE_ACT]
                now_total += now
                joiners_now[b, c] = joiners_now[b, c] + now
            dy[invitee_start[b]] += row * r[R_INVITEE_KEEP]
            total += row
        ctr[counters[C_ABANDONED]] += total * r[R_INVITEE_AB]
        ctr[counters[C_ACT_INVITEE]] += now_total
    if not p.ints[I_TRIAL]:  # (with a trial, a first signup onboards on the trial clock)
        founder_start = _il(p, L_FOUNDER_START)
        new_class = p.ints[I_NEW_CLASS]
        total = 0.0
        for b in range(B):
            onboarding = new_teams[b] * r[R_FOUNDER_KEEP]
            dy[founder_start[b]] += onboarding
            dteam[Q_PF, b, new_class] += onboarding
            total += new_teams[b]
        ctr[counters[C_ABANDONED]] += total * r[R_FOUNDER_AB]
    return joiners_now


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _landing(p: Pack, blk: np.ndarray, outputs: np.ndarray, joiners_now: np.ndarray,
             dteam: np.ndarray) -> np.ndarray:
    """Users reaching value (from the onboarding pools, by kind: first signups, later
    signups, invitees) land in their own team's class, in proportion to its pending signups
    of their kind; those giving up leave the pending counts.  Returns the users landing per
    day (bin, class)."""
    B, n = p.ints[I_B], p.ints[I_N]
    eps = p.reals[R_EPS]
    pool = _vl(p, V_PENDING_POOL)
    access = _vl(p, V_ACCESS_MASK)
    gate = p.ints[I_SETUP_GATE]
    o_act, o_ab = p.ints[I_O_ACT], p.ints[I_O_AB]
    landed = joiners_now.copy()
    weight = np.empty(n)
    for k in range(3):
        for b in range(B):
            per_bin, pending_sum = 0.0, 0.0
            for c in range(n):
                pending = blk[Q_PF + k, b, c] * pool[k * n + c]
                # (a numerical residue with nothing pending goes to the bin's teams evenly)
                weight[c] = pending + 1e-9 * abs(blk[Q_N, b, c]) * access[c]
                per_bin += weight[c]
                pending_sum += pending
            if not abs(per_bin) > 1e-30:
                per_bin = 1.0
            ratio = outputs[o_act + k * B + b] / per_bin
            gave_up = outputs[o_ab + k * B + b]
            gave_up_gate = gave_up / per_bin
            gave_up_share = gave_up / (abs(pending_sum) + eps)
            for c in range(n):
                pending = blk[Q_PF + k, b, c] * pool[k * n + c]
                land = weight[c] * ratio
                landed[b, c] += land
                dteam[Q_PF + k, b, c] -= land * (pending / (weight[c] if abs(weight[c]) > 1e-30 else 1.0))
                if gate:  # (giving up in the landing's own proportions: see Twin.setup_gate)
                    dteam[Q_PF + k, b, c] -= weight[c] * gave_up_gate
                else:
                    dteam[Q_PF + k, b, c] -= pending * gave_up_share
    return landed


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _limit_shares(p: Pack, ept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bin and class: the share of the users landing who meet the seat limit, and the
    share of the seats taken that send invites; 1 or 0, but for a top class below the limit,
    by the geometric closure of its teams' extra seats."""
    B, n = p.ints[I_B], p.ints[I_N]
    at_limit_mask, inviting_mask = _vl(p, V_AT_LIMIT), _vl(p, V_INVITING_MASK)
    gap = _vl(p, V_LIMIT_GAP)
    at_limit = np.empty((B, n))
    inviting = np.empty((B, n))
    for b in range(B):
        for c in range(n):
            at_limit[b, c] = at_limit_mask[c]
            inviting[b, c] = inviting_mask[c]
        for c in _il(p, L_TOPS_BELOW_LIMIT):
            g = gap[c]
            extra = ept[b, c]
            at_limit[b, c] = (extra / (1.0 + extra)) ** g
            extra = max(extra, 0.0)
            q = extra / (1.0 + extra)
            inviting[b, c] = (1.0 - q ** (g - 1)) / max(1.0 - q ** g, p.reals[R_TINY]) if g >= 2 else 0.0
    return at_limit, inviting


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _take_seats(p: Pack, blk: np.ndarray, outputs: np.ndarray, seating: np.ndarray,
                inviting_share: np.ndarray, dteam: np.ndarray, dextra: np.ndarray,
                inviting: np.ndarray, ctr: np.ndarray) -> float:
    """Users taking a seat: their team moves a class up (at the top, an extra seat); the seat
    sends invites if its team's plan does.  Returns the seats taken per day (with those of
    trial teams' first signups, from the linear part)."""
    B, n, ntop = p.ints[I_B], p.ints[I_N], p.ints[I_NTOP]
    counters = _il(p, L_COUNTERS)
    after_seat, paying, top_idx = _il(p, L_AFTER_SEAT), _il(p, L_PAYING), _il(p, L_TOP_IDX)
    won_back = p.ints[I_WON_BACK]
    taken, paid, reactivated = 0.0, 0.0, 0.0
    for b in range(B):
        for c in _il(p, L_BELOW_TOP):
            _move(p, blk, dteam, b, c, after_seat[c], seating[b, c])
        for s in range(ntop):
            dextra[b, s] += seating[b, top_idx[s]]
        row = 0.0
        for c in range(n):
            v = seating[b, c]
            row += v
            inviting[b, after_seat[c]] += v * inviting_share[b, c]
            if paying[c]:
                paid += v
        reactivated += seating[b, won_back]  # (a won-back team's first seat)
        taken += row
    o = p.ints[I_O_SEAT_NEW]
    seat_new = outputs[o:o + B].sum()
    ctr[counters[C_SEATED]] += taken
    ctr[counters[C_PAID_ENTRIES]] += paid
    ctr[counters[C_REACTIVATED_SEATS]] += reactivated
    return taken + seat_new


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _wait_at_limit(p: Pack, blk: np.ndarray, ept: np.ndarray, at_limit: np.ndarray,
                   dteam: np.ndarray, dextra: np.ndarray, dwait: np.ndarray, ctr: np.ndarray) -> None:
    """Users meeting the seat limit wait (a capped team blocks them); a free team meets the
    paywall, moving to the pending classes with its extra seats."""
    B, n = p.ints[I_B], p.ints[I_N]
    counters = _il(p, L_COUNTERS)
    waiting_mask, capped_mask = _vl(p, V_WAITING_MASK), _vl(p, V_CAPPED_MASK)
    blocked = 0.0
    for b in range(B):
        waiting, capped = 0.0, 0.0
        for c in range(n):
            waiting += at_limit[b, c] * waiting_mask[c]
            capped += at_limit[b, c] * capped_mask[c]
        dwait[b] += waiting
        blocked += capped
    ctr[counters[C_BLOCKED]] += blocked
    free_limited = _il(p, L_FREE_LIMITED)
    if free_limited.size == 0:
        return
    limit_dst, top_slot = _il(p, L_LIMIT_DST), _il(p, L_TOP_SLOT)
    paywall = 0.0
    for b in range(B):
        for src in free_limited:
            dst = limit_dst[src]
            flux = at_limit[b, src]
            _move(p, blk, dteam, b, src, dst, flux)
            paywall += flux
            if top_slot[src] >= 0 and top_slot[dst] >= 0:  # extra seats go along
                moving = flux * ept[b, src]
                dextra[b, top_slot[src]] -= moving
                dextra[b, top_slot[dst]] += moving
    ctr[counters[C_PAYWALL]] += paywall


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _first_activations(p: Pack, y: np.ndarray, blk: np.ndarray, outputs: np.ndarray,
                       landed: np.ndarray, dunact: np.ndarray, ctr: np.ndarray) -> None:
    """Teams whose first user reaches value: a landing in a class without seats, at the bin's
    share of such teams not yet activated."""
    B, n = p.ints[I_B], p.ints[I_N]
    no_seats = _vl(p, V_NO_SEATS_MASK)
    v0, o_first = p.ints[I_V0], p.ints[I_O_FIRST_T]
    total = 0.0
    for b in range(B):
        without, landing = 0.0, 0.0
        for c in range(n):
            without += blk[Q_N, b, c] * no_seats[c]
            landing += landed[b, c] * no_seats[c]
        not_activated = y[v0 + b] / (abs(without) + p.reals[R_EPS])
        first = (landing + outputs[o_first + b]) * not_activated
        dunact[b] -= first
        total += first
    ctr[_il(p, L_COUNTERS)[C_TEAMS_ACTIVATED]] += total


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _top_churn(p: Pack, hazard: float, blk: np.ndarray, extra_seats: np.ndarray, eptt: np.ndarray,
               dteam: np.ndarray, dextra: np.ndarray, ctr: np.ndarray) -> None:
    """Seats churning in the top classes: a team drops a class only with no extra seat left
    (the geometric closure), else it loses an extra seat."""
    if not hazard > 0.0:
        return
    a, top_idx, drop_dst = _vl(p, V_A), _il(p, L_TOP_IDX), _il(p, L_TOP_DROP_DST)
    total = 0.0
    for b in range(p.ints[I_B]):
        for s in range(p.ints[I_NTOP]):
            c = top_idx[s]
            seats = a[c]
            drop = hazard * seats * blk[Q_N, b, c] / (1.0 + eptt[b, s])
            _move(p, blk, dteam, b, c, drop_dst[s], drop)
            churned = hazard * (seats * blk[Q_N, b, c] + extra_seats[b, s])
            dextra[b, s] -= churned - drop
            total += churned
    ctr[_il(p, L_COUNTERS)[C_CHURNED]] += total


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _top_usage(p: Pack, blk: np.ndarray, ept: np.ndarray, dteam: np.ndarray, dextra: np.ndarray,
               ctr: np.ndarray) -> None:
    """Usage stages crossed by free top teams with extra seats (at a rate by their seats,
    extras included); the last stage meets the paywall."""
    src_list = _il(p, L_USAGE_TOP_SRC)
    if not (p.ints[I_FREE_TOP_EXTRAS] and src_list.size > 0):
        return
    dst_list, paywall_list = _il(p, L_USAGE_TOP_DST), _il(p, L_USAGE_TOP_PAYWALL)
    a, top_slot = _vl(p, V_A), _il(p, L_TOP_SLOT)
    rate = p.reals[R_USAGE_TOP_RATE]
    paywall = 0.0
    for b in range(p.ints[I_B]):
        for m in range(src_list.size):
            src, dst = src_list[m], dst_list[m]
            flux = blk[Q_N, b, src] * (a[src] + ept[b, src]) * rate
            _move(p, blk, dteam, b, src, dst, flux)
            moving = flux * ept[b, src]
            dextra[b, top_slot[src]] -= moving
            dextra[b, top_slot[dst]] += moving
            if paywall_list[m]:
                paywall += flux
    ctr[_il(p, L_COUNTERS)[C_PAYWALL]] += paywall


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _paywall_decisions(p: Pack, y: np.ndarray, blk: np.ndarray, ept: np.ndarray,
                       dteam: np.ndarray, dextra: np.ndarray, dwait: np.ndarray,
                       inviting: np.ndarray, ctr: np.ndarray) -> float:
    """Pending teams deciding at the paywall: they upgrade (if anyone is active or waiting,
    with the bin's mean waiting users per pending team), moving to the paying classes of
    their seats after the upgrade, split between the two nearest, with what they carry and
    their waiting users seated (who send invites); or they become capped and their waiting
    users are blocked.  Returns the waiting users seated per day."""
    src_list = _il(p, L_DECISION_SRC)
    if src_list.size == 0:
        return 0.0
    B, n = p.ints[I_B], p.ints[I_N]
    eps, upgrade_p = p.reals[R_EPS], p.reals[R_UPGRADE_P]
    counters = _il(p, L_COUNTERS)
    rate, seats_list = _vl(p, V_DECISION_RATE), _vl(p, V_DECISION_SEATS)
    capped_list, paying_class = _il(p, L_DECISION_CAPPED), _il(p, L_PAYING_CLASS)
    pending_mask, top_slot = _vl(p, V_PENDING_MASK), _il(p, L_TOP_SLOT)
    fast, wtp = p.ints[I_WTP_KIND] == WTP_FAST, _vl(p, V_WTP)  # (calls with the pack cost more)
    top = p.ints[I_TOP_LEVEL]
    top_f = float(top)
    to_lower = np.zeros((6, top + 1))  # per bin: moving to the paying classes
    to_upper = np.zeros((6, top + 1))
    moving = np.empty(6)
    seated, blocked, paid_entries, up_total, down_total = 0.0, 0.0, 0.0, 0.0, 0.0
    for b in range(B):
        pending_teams = 0.0
        for c in range(n):
            pending_teams += blk[Q_N, b, c] * pending_mask[c]
        waiting = y[p.ints[I_W0] + b] / (abs(pending_teams) + eps)
        to_lower[:] = 0.0
        to_upper[:] = 0.0
        deciding_row, up_row, down_row, beyond_top = 0.0, 0.0, 0.0, 0.0
        for m in range(src_list.size):
            src = src_list[m]
            deciding = blk[Q_N, b, src] * rate[m]
            extra = ept[b, src]
            seats = seats_list[m]
            anyone = 1.0 if seats + extra > 0.0 else _clip(waiting, 0.0, 1.0)
            seats_after = max(seats + extra + waiting, 0.0)
            # (a team of its seats and waiting users valuing a seat at the price)
            share = _lognormal_share(wtp, seats_after) if fast else _buy_share(p, seats_after)
            up = deciding * (upgrade_p * anyone * share)
            down = deciding - up
            _move(p, blk, dteam, b, src, capped_list[m], down)
            if top_slot[src] >= 0:  # extra seats: out of the decision, into capped for the declines
                dextra[b, top_slot[src]] -= deciding * extra
                dextra[b, top_slot[capped_list[m]]] += down * extra
            lower = min(np.floor(seats_after), top_f)
            upper_share = seats_after - lower if lower < top_f else 0.0
            lower_class = int(lower)
            upper_class = min(lower_class + 1, top)
            per = up / (abs(blk[Q_N, b, src]) + eps)
            moving[0] = up
            for q in range(1, 5):
                moving[q] = blk[q, b, src] * per
            moving[5] = up * waiting
            for q in range(6):
                to_lower[q, lower_class] += moving[q] * (1.0 - upper_share)
                to_upper[q, upper_class] += moving[q] * upper_share
            for q in range(5):
                dteam[q, b, src] -= moving[q]
            beyond_top += up * max(seats_after - top_f, 0.0)
            deciding_row += deciding
            up_row += up
            down_row += down
            paid_entries += up * seats_after
        for level in range(top + 1):
            c = paying_class[level]
            for q in range(5):
                dteam[q, b, c] += to_lower[q, level] + to_upper[q, level]
            inviting[b, c] += to_lower[5, level] + to_upper[5, level]
        dextra[b, top_slot[paying_class[top]]] += beyond_top
        dwait[b] -= deciding_row * waiting
        seated += up_row * waiting
        blocked += down_row * waiting
        up_total += up_row
        down_total += down_row
    ctr[counters[C_SEATED]] += seated
    ctr[counters[C_BLOCKED]] += blocked
    ctr[counters[C_PAID_ENTRIES]] += paid_entries
    ctr[counters[C_UPGRADES]] += up_total
    ctr[counters[C_DECLINES]] += down_total
    return seated


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _trial_first_seats(p: Pack, blk: np.ndarray, dteam: np.ndarray, inviting: np.ndarray) -> None:
    """A trial team's first signup reaching value (the linear part moved its team a class up):
    its seat sends invites, and what the team carries goes along."""
    eps = p.reals[R_EPS]
    src_list, dst_list = _il(p, L_TRIAL_FIRST_SRC), _il(p, L_TRIAL_FIRST_DST)
    below, act = _il(p, L_TRIAL_FIRST_BELOW), _vl(p, V_TRIAL_FIRST_ACT)
    for b in range(p.ints[I_B]):
        for m in range(src_list.size):
            src, dst = src_list[m], dst_list[m]
            seating = blk[Q_PF, b, src] * act[m]
            inviting[b, dst] += seating
            if below[m]:  # (a top keeps its class)
                for q in (Q_K, Q_PJ, Q_PI):
                    along = seating * (blk[q, b, src] / (abs(blk[Q_N, b, src]) + eps))
                    dteam[q, b, src] -= along
                    dteam[q, b, dst] += along


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _new_teams(p: Pack, new_teams: np.ndarray, dteam: np.ndarray, dunact: np.ndarray,
               inviting: np.ndarray, ctr: np.ndarray) -> float:
    """New teams in the first classes: with a seat if the first signup reached value at once
    (it sends invites), else with it pending.  Returns the seats taken per day."""
    r = p.reals
    counters = _il(p, L_COUNTERS)
    new, seated = p.ints[I_NEW_CLASS], p.ints[I_NEW_SEATED_CLASS]
    trial = p.ints[I_TRIAL]
    at_once = r[R_TRIAL_AT_ONCE] if trial else r[R_FOUNDER_ACT]
    gave_up = r[R_TRIAL_GAVE_UP]
    total = 0.0
    for b in range(p.ints[I_B]):
        nt = new_teams[b]
        dteam[Q_N, b, new] += nt * (1.0 - at_once)
        dteam[Q_N, b, seated] += nt * at_once
        if trial:
            dteam[Q_PF, b, new] += nt * (1.0 - at_once - gave_up)
        if seated != new:  # the people they reached go with the teams that took a seat
            dteam[Q_K, b, new] -= nt * at_once
            dteam[Q_K, b, seated] += nt * at_once
        inviting[b, seated] += nt * at_once * r[R_NEW_SEATED_INVITES]
        dunact[b] += nt * (1.0 - at_once)
        total += nt
    if trial:
        ctr[counters[C_ABANDONED]] += total * gave_up
    ctr[counters[C_ACT_FOUNDER]] += total * at_once
    ctr[counters[C_SEATED]] += total * at_once
    ctr[counters[C_TEAMS_ACTIVATED]] += total * at_once
    return total * at_once


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _lose_pending(p: Pack, y: np.ndarray, outputs: np.ndarray, dy: np.ndarray, ctr: np.ndarray) -> None:
    """Signups pending for teams that lost access leave their onboarding pools and the invites
    in flight in proportion, by kind: onboarding ones lose access now, invites in flight will
    arrive to no access (the ID chain)."""
    groups = 3 * p.ints[I_B]
    idx, group, to = _il(p, L_DOOMED_IDX), _il(p, L_DOOMED_GROUP), _il(p, L_DOOMED_TO)
    o_doom = p.ints[I_O_DOOM]
    total = np.zeros(groups)
    for i in range(idx.size):
        total[group[i]] += y[idx[i]]
    share = np.empty(groups)
    for g in range(groups):
        has = total[g] > 1e-12
        share[g] = (_clip(outputs[o_doom + g] / (total[g] if has else 1.0), 0.0, 1e3)
                    * (1.0 if has else 0.0))
    lost = 0.0
    for i in range(idx.size):
        removed = y[idx[i]] * share[group[i]]
        dy[idx[i]] -= removed
        if to[i] >= 0:
            dy[to[i]] += removed
        else:
            lost += removed
    ctr[_il(p, L_COUNTERS)[C_LOST]] += lost


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def _invites(p: Pack, blk: np.ndarray, people_left: np.ndarray, inviting: np.ndarray,
             dy: np.ndarray, dteam: np.ndarray, ctr: np.ndarray) -> None:
    """Invites sent by the new seats: accepted ones that find someone still in the company
    (at most all, by the people left per team) reserve that person and enter the
    invite-delay chain, pending for their team."""
    r = p.reals
    counters = _il(p, L_COUNTERS)
    invite_start = _il(p, L_INVITE_START)
    per_seat = r[R_INVITES_MEAN] * r[R_ACCEPTANCE]
    sent, accepted_total = 0.0, 0.0
    for b in range(p.ints[I_B]):
        row = 0.0
        for c in range(p.ints[I_N]):
            reach = _clip(people_left[b, c] / (abs(blk[Q_N, b, c]) + r[R_EPS]), 0.0, 1.0)
            accepted = inviting[b, c] * per_seat * reach
            dteam[Q_PI, b, c] += accepted
            dteam[Q_K, b, c] += accepted
            row += accepted
            sent += inviting[b, c]
        dy[invite_start[b]] += row
        accepted_total += row
    ctr[counters[C_INVITES_SENT]] += sent * r[R_INVITES_MEAN]
    ctr[counters[C_INVITES_ACCEPTED]] += accepted_total


# -- the right-hand side ----------------------------------------------------------------------

@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def rhs(t: float, y: np.ndarray, p: Pack, dy: np.ndarray) -> None:
    """dy/dt of the twin at day ``t`` and state ``y`` (C-contiguous float64), written into
    ``dy`` (the same length): :meth:`Twin.rhs` for nopython code."""
    ints, r = p.ints, p.reals
    B, n, ntop = ints[I_B], ints[I_N], ints[I_NTOP]
    eps = r[R_EPS]
    size, n_out = ints[I_SIZE], ints[I_N_OUT]
    g0, g1 = ints[I_G0], ints[I_G1]
    # the linear flows, and the churn hazard per seat: constant, or the seats' average over
    # their tenure phases
    _matvec(p, ints[I_LA], size, y, dy)
    outputs = np.empty(n_out)
    _matvec(p, ints[I_LR], n_out, y, outputs)
    hazard = r[R_CHURN]
    in_phases = 0.0
    if ints[I_HAS_TENURE]:
        tenure_exit = _vl(p, V_TENURE_EXIT)
        weighted = 0.0
        for k in range(g1 - g0):
            phase = max(y[g0 + k], 0.0)
            in_phases += phase
            weighted += phase * tenure_exit[k]
        hazard = weighted / in_phases if in_phases > r[R_TINY] else r[R_TENURE_RATE0]
        _matvec_add(p, ints[I_LAC], size, y, hazard, dy)
        _matvec_add(p, ints[I_LRC], n_out, y, hazard, outputs)
    # the teams and what they carry (5, bin, class), and the top classes' extra seats
    tb, e0 = ints[I_TB], ints[I_E0]
    blk = y[tb:tb + 5 * B * n].reshape((5, B, n))
    extra_seats = y[e0:e0 + B * ntop].reshape((B, ntop))
    top_idx = _il(p, L_TOP_IDX)
    eptt = np.empty((B, ntop))  # extra seats per team of the top classes
    ept = np.zeros((B, n))  # the same by class, zero below the top
    for b in range(B):
        for s in range(ntop):
            v = extra_seats[b, s] / (abs(blk[Q_N, b, top_idx[s]]) + eps)
            eptt[b, s] = v
            ept[b, top_idx[s]] = v
    # the steps add their flows straight into dy (views of its parts; the linear flows are
    # there already): teams and what they carry, extra seats, waiting users, teams not yet
    # activated, counters
    w0, v0, z0 = ints[I_W0], ints[I_V0], ints[I_Z0]
    dteam = dy[tb:tb + 5 * B * n].reshape((5, B, n))
    dextra = dy[e0:e0 + B * ntop].reshape((B, ntop))
    dwait = dy[w0:w0 + B]
    dunact = dy[v0:v0 + B]
    ctr = dy[z0:z0 + ints[I_N_COUNTERS]]
    inviting = np.zeros((B, n))  # seats taken per day that send invites, by their team's class
    counters = _il(p, L_COUNTERS)

    new_teams, joiners, people_left, contacts, organic, paid, referral = _signups(
        t, y, p, blk, ept, dy, dteam, ctr)
    invitees = _closed_companies(p, blk, outputs, joiners, dteam, ctr)
    signups = new_teams.sum() + joiners.sum()
    if contacts > 0:
        ctr[counters[C_SIG_ORGANIC]] += organic / contacts * signups
        ctr[counters[C_SIG_PAID]] += paid / contacts * signups
        ctr[counters[C_SIG_REFERRAL]] += referral / contacts * signups
    ctr[counters[C_SIG_FOUNDER]] += new_teams.sum()
    joiners_now = _start_onboarding(p, new_teams, joiners, invitees, dy, dteam, ctr)
    landed = _landing(p, blk, outputs, joiners_now, dteam)
    limit_share, inviting_share = _limit_shares(p, ept)
    at_limit = landed * limit_share
    new_seats = _take_seats(p, blk, outputs, landed - at_limit, inviting_share, dteam, dextra,
                            inviting, ctr)
    _wait_at_limit(p, blk, ept, at_limit, dteam, dextra, dwait, ctr)
    _first_activations(p, y, blk, outputs, landed, dunact, ctr)
    _top_churn(p, hazard, blk, extra_seats, eptt, dteam, dextra, ctr)
    _top_usage(p, blk, ept, dteam, dextra, ctr)
    new_seats += _paywall_decisions(p, y, blk, ept, dteam, dextra, dwait, inviting, ctr)
    if ints[I_TRIAL]:
        _trial_first_seats(p, blk, dteam, inviting)
    new_seats += _new_teams(p, new_teams, dteam, dunact, inviting, ctr)
    _lose_pending(p, y, outputs, dy, ctr)
    _invites(p, blk, people_left, inviting, dy, dteam, ctr)
    # seats per tenure phase: new seats enter the first; seats ended in the linear part leave
    # every phase in proportion
    if ints[I_HAS_TENURE]:
        dy[g0] += new_seats
        lost_seats = 0.0  # the rate at which seats end in the linear part (one CSR row)
        for jj in range(p.csr_indptr[ints[I_LOST]], p.csr_indptr[ints[I_LOST] + 1]):
            lost_seats += p.csr_data[jj] * y[p.csr_indices[jj]]
        if in_phases > r[R_TINY]:
            for k in range(g1 - g0):
                dy[g0 + k] -= max(y[g0 + k], 0.0) * (lost_seats / in_phases)
    # (no value below 1e-100 is meaningful; left in, such values become subnormal numbers in
    # the solver's norms, which makes its steps many times slower)
    for i in range(size):
        v = dy[i]
        dy[i] = 0.0 if abs(v) < 1e-100 else v


def evaluate(t: float, y: np.ndarray, p: Pack) -> np.ndarray:
    """dy/dt as a new array (for Python callers and tests): :func:`rhs` into a fresh ``dy``
    (from Python, so that it adds nothing to compile)."""
    y = np.ascontiguousarray(y, dtype=float)
    dy = np.empty_like(y)
    rhs(float(t), y, p, dy)
    return dy
