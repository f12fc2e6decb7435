"""The mean-field twin's compiled right-hand side (flywheel.engines.meanfield.kernel) equals
its numpy one (Twin.rhs): on every shipped scenario the twin runs, and on overrides that
reach each branch of the right-hand side (tenure phases, the seat limit's geometric closure,
trials, the sandbox, willingness to pay of each family, organic growth, ...), at several
times and at realistic states: the twin after a month (linearly implicit Euler steps with
its own Jacobian), that state with every entry perturbed, and a random state.

The first run compiles the kernel (tens of seconds); numba's cache makes later runs fast."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import splu

from flywheel.engines import EngineError
from flywheel.engines.meanfield import check_supported, kernel
from flywheel.engines.meanfield.twin import Twin
from flywheel.scenario.distributions import Lognormal, Poisson
from flywheel.scenario.files import list_scenarios, load_scenario
from flywheel.scenario.settings import Settings

#: Agreement asked of the two right-hand sides (per entry: 1e-8 relative, 1e-9 users or
#: teams at a 10,000-company market).  The compiled side lets the compiler reorder sums and
#: fuse multiply-adds (fast-math flags, which keep NaN and infinity), so where flows nearly
#: cancel the two differ in the tenth digit (measured: at most 7e-10, plg-card-trial) and
#: may differ by machine; a rate 0.1% off differs in the third (test_a_wrong_rate_is_caught).
RTOL, ATOL = 1e-8, 1e-9
#: Days at which each state is evaluated (organic growth makes the right-hand side depend on t).
TIMES = (0.0, 37.5, 400.0)


def _twin(name: str, overrides: tuple[str, ...] = ()) -> Twin:
    return Twin(Settings.from_scenario(load_scenario(name, list(overrides)), None))


def _runs(name: str) -> bool:
    """Whether the twin runs the shipped scenario ``name`` (check_supported refuses none today)."""
    try:
        check_supported(Settings.from_scenario(load_scenario(name), None))
    except EngineError:
        return False
    return True


SHIPPED = [name for name, _, _ in list_scenarios() if _runs(name)]

#: (case, scenario, overrides, the branch it reaches: a test on the twin that must hold).
BRANCHES = [
    ("tenure phases", "baseline", ("retention.tenure_shape=0.7",),
     lambda tw: tw.tenure is not None),
    ("tenure phases, trial", "trial", ("retention.tenure_shape=1.5",),
     lambda tw: tw.tenure is not None and tw.trial),
    ("no churn", "baseline", ("retention.churn_monthly=0",), lambda tw: tw.churn == 0),
    ("seat limit 1", "baseline", ("free_tier.seat_limit=1",),
     lambda tw: tw.limit == 1 and tw._new_seated_invites == 0),
    ("seat limit 3", "baseline", ("free_tier.seat_limit=3",), lambda tw: tw.limit == 3),
    ("seat limit 12: geometric closure", "baseline", ("free_tier.seat_limit=12",),
     lambda tw: tw.tops_below_limit.size > 0 and tw.free_top_extras and tw.usage_top_src.size > 0),
    ("seat limit 12, no usage limit", "baseline", ("free_tier.seat_limit=12", "free_tier.usage_limit=0"),
     lambda tw: tw.tops_below_limit.size > 0 and tw.usage_limit == 0),
    ("no seat limit", "baseline", ("free_tier.seat_limit=0",),
     lambda tw: tw.limit == 0 and tw.free_top_extras and tw.free_limited.size == 0),
    ("usage limit 0", "baseline", ("free_tier.usage_limit=0",), lambda tw: tw.usage_limit == 0),
    ("trial", "baseline", ('pricing.model="trial"',),
     lambda tw: tw.trial and tw.expires and len(tw.reopen) == 2 and tw.decision_src.size == 0),
    ("reverse trial", "baseline", ('pricing.model="reverse_trial"',),
     lambda tw: tw.reverse and len(tw.reopen) == 1 and tw.decision_src.size > 0),
    ("reverse trial, seat limit 12", "baseline", ('pricing.model="reverse_trial"', "free_tier.seat_limit=12"),
     lambda tw: tw.reverse and tw.tops_below_limit.size > 0),
    ("sandbox trial", "data-integration-sandbox", (),
     lambda tw: tw.setup_gate and tw.unready >= 0),
    ("organic growth", "baseline", ("acquisition.organic_growth=0.15",),
     lambda tw: tw.settings.acquisition.organic_growth > 0),
    ("no organic contacts", "baseline", ("acquisition.organic=0/day", "acquisition.paid_budget=900/month"),
     lambda tw: tw.settings.acquisition.organic == 0 and tw.paid > 0),
    ("flat plan", "charge-flat", (), lambda tw: tw._lognormal_wtp is None),
    ("metered usage with spread", "charge-usage", (), lambda tw: tw._lognormal_wtp is None),
    ("willingness to pay: gamma", "baseline",
     ('pricing.willingness_to_pay={ dist = "gamma", mean = 40, cv = 1.5 }',),
     lambda tw: tw._lognormal_wtp is None),
    ("willingness to pay: exponential", "baseline",
     ('pricing.willingness_to_pay={ dist = "exponential", mean = 40 }',),
     lambda tw: tw._lognormal_wtp is None),
    ("willingness to pay: uniform", "baseline",
     ('pricing.willingness_to_pay={ dist = "uniform", low = 5, high = 60 }',),
     lambda tw: tw._lognormal_wtp is None),
    # (a value exactly at the price buys: the cdf is read just below the price)
    ("willingness to pay: fixed at the price", "baseline",
     ('pricing.willingness_to_pay={ dist = "fixed", value = 15 }', "pricing.value_growth=0"),
     lambda tw: tw._lognormal_wtp is None),
    ("willingness to pay: empirical", "baseline",
     ('pricing.willingness_to_pay={ dist = "empirical", values = [5, 15, 40, 100], weights = [1, 2, 3, 1] }',),
     lambda tw: tw._lognormal_wtp is None),
    ("willingness to pay: lognormal without spread", "baseline",
     ('pricing.willingness_to_pay={ dist = "lognormal", median = 13, p90 = 13 }',),
     lambda tw: tw._lognormal_wtp is None),
    ("flat plan, gamma willingness to pay", "charge-flat",
     ('pricing.willingness_to_pay={ dist = "gamma", mean = 40, cv = 0.5 }',),
     lambda tw: tw._lognormal_wtp is None),
]


def _month(tw: Twin, days: float = 30.0, steps: int = 10) -> np.ndarray:
    """The twin's state after ``days``: linearly implicit Euler steps with its constant Jacobian
    (rough, but with the magnitudes and the classes the integration fills), kept non-negative."""
    h = days / steps
    lu = splu((sparse.identity(tw.size, format="csc") - h * tw.jacobian()).tocsc())
    y = tw.initial()
    for k in range(steps):
        y = np.maximum(y + lu.solve(h * tw.rhs(k * h, y)), 0.0)
    return y


def _states(tw: Twin, seed: int) -> list[np.ndarray]:
    """A month's state, the same with every entry times a random factor (other ratios between
    classes, bins, what the teams carry and their extra seats), and a random state."""
    rng = np.random.default_rng(seed)
    y = _month(tw)
    assert (y > 0).sum() > tw.size // 5
    return [y, y * np.exp(rng.normal(0.0, 0.7, tw.size)), rng.random(tw.size) * tw.scale]


def assert_same_rhs(tw: Twin, seed: int = 0) -> float:
    """The kernel's dy/dt equals the numpy one's at each state and time; returns the largest
    relative difference seen."""
    p = kernel.pack(tw)
    worst = 0.0
    for y in _states(tw, seed):
        y = np.ascontiguousarray(y)
        for t in TIMES:
            expected = tw.rhs(t, y.copy())
            got = kernel.evaluate(t, y, p)
            atol = ATOL * tw.scale
            # the comparison can fail: the nonlinear steps move dy far beyond the tolerance
            assert not np.allclose(tw.L_A @ y, expected, rtol=RTOL * 1e3, atol=atol * 1e3)
            np.testing.assert_allclose(got, expected, rtol=RTOL, atol=atol)
            worst = max(worst, float(np.max(np.abs(got - expected) / (np.abs(expected) + atol))))
    return worst


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios(name: str) -> None:
    assert_same_rhs(_twin(name))


@pytest.mark.parametrize(("case", "name", "overrides", "reaches"), BRANCHES, ids=[b[0] for b in BRANCHES])
def test_branches(case: str, name: str, overrides: tuple[str, ...], reaches: object) -> None:
    tw = _twin(name, overrides)
    assert reaches(tw), f"{case}: the override does not reach its branch"  # type: ignore[operator]
    assert_same_rhs(tw, seed=len(case))


def test_a_wrong_rate_is_caught() -> None:
    """The comparison sees one rate of the pack off by 0.1% (the upgrade probability), and a
    state entry the kernel would not read."""
    tw = _twin("baseline")
    p = kernel.pack(tw)
    y = np.ascontiguousarray(_month(tw))
    expected = tw.rhs(10.0, y.copy())
    atol = ATOL * tw.scale
    np.testing.assert_allclose(kernel.evaluate(10.0, y, p), expected, rtol=RTOL, atol=atol)
    reals = p.reals.copy()
    reals[kernel.R_UPGRADE_P] *= 1.001
    wrong = kernel.evaluate(10.0, y, p._replace(reals=reals))
    assert not np.allclose(wrong, expected, rtol=RTOL, atol=atol)
    waiting = y.copy()
    waiting[tw.sl["W"]] += 1.0  # users waiting at the seat limit
    assert not np.allclose(kernel.evaluate(10.0, waiting, p), expected, rtol=RTOL, atol=atol)


def test_rhs_writes_into_dy() -> None:
    tw = _twin("trial")
    p = kernel.pack(tw)
    y = np.ascontiguousarray(_month(tw))
    dy = np.full(tw.size, np.nan)
    assert kernel.rhs(5.0, y, p, dy) is None
    np.testing.assert_array_equal(dy, kernel.evaluate(5.0, y, p))
    assert p.scalar("size") == tw.size and p.scalar("eps") == tw.eps
    np.testing.assert_array_equal(p.array("top_idx"), tw.top_idx)
    np.testing.assert_array_equal(p.array("a"), tw.a)


#: The cases whose decisions are priced differently (the lognormal fast path first).
PRICED = [("lognormal", "baseline", ())] + [
    b[:3] for b in BRANCHES if any(word in b[0] for word in ("willingness", "plan", "metered"))]


@pytest.mark.parametrize(("case", "name", "overrides"), PRICED, ids=[c[0] for c in PRICED])
def test_buy_share(case: str, name: str, overrides: tuple[str, ...]) -> None:
    """The share of teams valuing a seat at the price, for teams of any size (values at the
    price buy)."""
    tw = _twin(name, overrides)
    p = kernel.pack(tw)
    users = np.array([0.0, 0.5, 1.0, 1.7, 2.0, 3.0, 4.5, 8.0, 12.3, 40.0, 250.0])
    expected = np.asarray(tw.buy_share(users), dtype=float)
    got = np.array([kernel._buy_share(p, u) for u in users])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    assert np.ptp(expected) > 0 or case.startswith("willingness to pay: fixed")


def test_gamma_cdf() -> None:
    """The kernel's gamma cdf (the regularised incomplete gamma function) against scipy's, for
    shapes from the tightest gamma a scenario may give (cv 0.01) to the widest (cv 100)."""
    from scipy import special

    rng = np.random.default_rng(3)
    for a in (1e-4, 0.01, 0.3, 1.0, 2.5, 10.0, 100.0, 1e4):
        x = np.concatenate([a * np.exp(rng.normal(0.0, 1.0, 40)), [1e-300, 1e-8, 0.5, 1.0, 30.0, 800.0]])
        got = np.array([kernel._gammainc(a, v) for v in x])
        np.testing.assert_allclose(got, special.gammainc(a, x), rtol=0, atol=1e-10)


def test_pack_layout() -> None:
    """Every name of the pack's layout has the position of its constant, and a pack holds
    C-contiguous arrays of the dtypes numba was compiled for."""
    for prefix, names in (("I_", kernel.INTS), ("R_", kernel.REALS), ("L_", kernel.LISTS),
                          ("V_", kernel.VALUES), ("C_", kernel.COUNTERS)):
        for i, name in enumerate(names):
            assert getattr(kernel, prefix + name.upper()) == i, name
    p = kernel.pack(_twin("reverse-trial"))
    for field in p._fields:
        arr = getattr(p, field)
        assert arr.flags.c_contiguous and arr.dtype in (np.int64, np.float64), field
    assert len(p.index_at) == len(kernel.LISTS) + 1 and len(p.values_at) == len(kernel.VALUES) + 1


def test_pack_refuses_what_it_cannot_compute() -> None:
    """A willingness to pay whose cdf the kernel has no formula for: pack says so (the caller
    integrates with Twin.rhs)."""
    st = Settings.from_scenario(load_scenario("baseline"), None)
    assert isinstance(st.pricing.willingness_to_pay, Lognormal)
    pricing = dataclasses.replace(st.pricing, willingness_to_pay=Poisson(mean_value=30.0))
    tw = Twin(dataclasses.replace(st, pricing=pricing))
    with pytest.raises(NotImplementedError, match="poisson"):
        kernel.pack(tw)
