"""The one reading of a scenario (flywheel.scenario.settings) and the codes (flywheel.engines.codes)."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest

from flywheel.engines import model
from flywheel.engines.codes import PAYWALL_PENDING, Channel, LeadKind, LeadOutcome, TeamState, UserState
from flywheel.engines.meanfield import twin as twin_module
from flywheel.engines.model import Model
from flywheel.engines.rng import replication_seeds
from flywheel.scenario.defaults import DAYS_PER_MONTH, PARAMS
from flywheel.scenario.distributions import Distribution
from flywheel.scenario.files import load_scenario
from flywheel.scenario.settings import Settings, Tenure
from flywheel.studies import workload

SMALL = ["market.companies=2000", "simulation.horizon=60d"]


def settings(*overrides: str, base: str = "baseline") -> Settings:
    return Settings.from_scenario(load_scenario(base, list(overrides)))


# -- reading ----------------------------------------------------------------------------------

def test_every_parameter_has_one_typed_field() -> None:
    s = settings()
    fields = {f"{sec.name}.{f.name}": getattr(getattr(s, sec.name), f.name)
              for sec in dataclasses.fields(s) if sec.name != "horizon"
              for f in dataclasses.fields(getattr(s, sec.name))}
    assert set(fields) == {p.path for p in PARAMS}
    kinds = {"duration": float, "rate": float, "probability": float, "number": float,
             "count": int, "bool": bool, "choice": str, "distribution": Distribution}
    for p in PARAMS:
        assert isinstance(fields[p.path], kinds[p.kind]), p.path


def test_values_are_the_scenarios_converted_values() -> None:
    sc = load_scenario("baseline", ["acquisition.organic=70/week", "sales.reps=2"])
    s = Settings.from_scenario(sc)
    assert s.acquisition.organic == pytest.approx(10.0)
    assert s.sales.reps == 2
    assert s.onboarding.ttv is sc["onboarding.ttv"]
    assert s == Settings.from_values(sc.values)


def test_horizon_is_the_scenarios_unless_given() -> None:
    sc = load_scenario("baseline", ["simulation.horizon=90d"])
    assert Settings.from_scenario(sc).horizon == 90.0
    assert Settings.from_scenario(sc, horizon=30).horizon == 30.0
    assert Settings.from_values(sc.values, 45.5).horizon == 45.5
    s = Settings.from_scenario(sc)
    assert s.with_horizon(10).horizon == 10.0 and s.with_horizon(10).simulation.horizon == 90.0
    assert Settings.of(s) is s
    assert Settings.of(s, 20).horizon == 20.0
    assert Settings.of(sc) == Settings.of(dict(sc.values)) == s


def test_settings_are_frozen() -> None:
    s = settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.horizon = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.trial.card_signup_factor = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.retention.tenure.churn_monthly = 0.5  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        s.something_else = 1  # type: ignore[attr-defined]  # slots: no new attributes
    assert pickle.loads(pickle.dumps(s)) == s


# -- derived quantities -----------------------------------------------------------------------

def test_card_required_trial() -> None:
    card = settings('pricing.model="trial"', "trial.card_required=true",
                    "trial.card_signup_factor=0.2", "trial.convert_probability=0.5",
                    "trial.card_convert_probability=0.8")
    assert card.card_trial
    assert card.card_signup_factor == 0.2
    # the offer's factor times the card's: 0.8 (trial.signup_factor's default) x 0.2
    assert card.offer_signup_factor == 0.8
    assert card.starter_share == pytest.approx(0.16)
    assert card.trial_convert_probability == 0.8
    no_card = settings('pricing.model="trial"', "trial.card_required=false")
    assert not no_card.card_trial
    assert no_card.card_signup_factor == 1.0
    assert no_card.starter_share == no_card.offer_signup_factor == 0.8
    assert no_card.trial_convert_probability == 0.58  # trial.convert_probability's default
    # a reverse trial never asks for a card; freemium has no trial
    for model_name in ("reverse_trial", "freemium"):
        s = settings(f'pricing.model="{model_name}"', "trial.card_required=true")
        assert not s.card_trial and s.card_signup_factor == 1.0
        assert s.trial_convert_probability == 0.58
        assert s.starter_share == 1.0  # reverse_signup_factor's default, a free plan's
        assert s.commitment_threshold == -math.inf


@pytest.mark.parametrize(("model_name", "trial", "reverse", "free_tier", "sales_led"), [
    ("freemium", False, False, True, False),
    ("trial", True, False, False, False),
    ("reverse_trial", True, True, True, False),
    ("sales_led", False, False, False, True),
])
def test_pricing_models(model_name: str, trial: bool, reverse: bool, free_tier: bool,
                        sales_led: bool) -> None:
    s = settings(f'pricing.model="{model_name}"', "sales.reps=1")
    p = s.pricing
    assert (p.trial, p.reverse_trial, p.free_tier, p.sales_led) == (trial, reverse, free_tier,
                                                                      sales_led)
    assert s.sales_motion


def test_weibull_tenure_for_six_percent_a_month() -> None:
    lam = -math.log(1 - 0.06)  # per month
    t = settings("retention.churn_monthly=0.06", "retention.tenure_shape=1").retention.tenure
    assert t.constant
    assert t.hazard == pytest.approx(lam / DAYS_PER_MONTH, rel=1e-12)
    assert t.scale == pytest.approx(DAYS_PER_MONTH / lam, rel=1e-12)
    assert t.inverse_shape == 1.0
    assert t.mean == pytest.approx(DAYS_PER_MONTH / lam, rel=1e-12)
    assert t.survival(np.array([DAYS_PER_MONTH]))[0] == pytest.approx(0.94, rel=1e-12)
    k = 0.5
    w = Tenure(0.06, k)
    assert not w.constant
    assert w.scale == pytest.approx(DAYS_PER_MONTH / lam ** (1 / k), rel=1e-12)
    assert w.inverse_shape == 2.0
    assert w.mean == pytest.approx(w.scale * math.gamma(1 + 1 / k), rel=1e-12)
    x = np.array([-1.0, 0.0, 10.0, DAYS_PER_MONTH, 100.0])
    np.testing.assert_allclose(w.survival(x), np.exp(-(np.maximum(x, 0) / w.scale) ** k),
                               rtol=1e-12)
    # edges: no churn, and churn at once
    assert (Tenure(0.0).scale, Tenure(0.0).hazard, Tenure(0.0).mean) == (math.inf, 0.0, math.inf)
    assert (Tenure(1.0).scale, Tenure(1.0).hazard, Tenure(1.0).mean) == (1e-9, math.inf, 0.0)
    assert Tenure(0.0, 0.5).inverse_shape == Tenure(1.0, 0.5).inverse_shape == 1.0
    # paying teams: constant hazard from the logo churn
    paid = settings("paid.logo_churn_monthly=0.02").paid.tenure
    assert paid.shape == 1.0 and paid.hazard == pytest.approx(-math.log(0.98) / DAYS_PER_MONTH)


def test_time_to_value_in_effect_and_setup_friction() -> None:
    friction = 'onboarding.setup_friction={ dist = "fixed", value = "2d" }'
    plain = settings(friction).onboarding
    assert plain.effective_ttv is plain.ttv
    assert plain.friction_applies and plain.has_friction
    sandbox = settings("onboarding.sandbox=true", friction).onboarding
    assert sandbox.effective_ttv is sandbox.sandbox_ttv
    assert sandbox.effective_ttv.quantile(0.5) < plain.effective_ttv.quantile(0.5)
    assert not sandbox.friction_applies and not sandbox.has_friction
    none = settings('onboarding.setup_friction={ dist = "fixed", value = "0d" }').onboarding
    assert none.friction_applies and not none.has_friction


def test_contacts_per_day_by_channel() -> None:
    s = settings("acquisition.organic=100/day", "acquisition.organic_growth=0.1",
                 "acquisition.paid_budget=600/day", "acquisition.paid_cost_per_signup=30")
    acq = s.acquisition
    assert acq.paid_contacts == pytest.approx(20.0)
    assert acq.organic_rate(0.0) == pytest.approx(100.0)
    assert acq.organic_rate(DAYS_PER_MONTH) == pytest.approx(110.0)
    assert acq.organic_rate(2 * DAYS_PER_MONTH) == pytest.approx(121.0)
    assert settings("acquisition.organic=0/day").acquisition.organic_rate(50.0) == 0.0


def test_sales_team() -> None:
    s = settings("sales.reps=3", "sales.rep_capacity=4", "sales.outbound=2/day",
                 "sales.outbound_per_rep=30/month", "sales.rep_cost=100/day",
                 "sales.pql_usage=50", 'sales.pql_rule="all"')
    assert s.sales.servers == 12
    assert s.sales.outbound_rate == pytest.approx(2 + 3 * 30 / DAYS_PER_MONTH)
    assert s.sales.cost_per_day == pytest.approx(300.0)
    assert s.sales.pql_on and s.sales.pql_all
    assert s.track_usage
    none = settings("sales.reps=0", "sales.outbound=2/day", "sales.pql_usage=50",
                    "free_tier.usage_limit=0")
    assert none.sales.servers == 0 and none.sales.outbound_rate == 0.0
    assert not none.sales.pql_on and not none.track_usage and not none.sales_motion
    assert settings("free_tier.usage_limit=10", "sales.reps=0").track_usage


# -- the engines read it ----------------------------------------------------------------------

def test_model_reads_the_settings() -> None:
    sc = load_scenario("trial", [*SMALL, "trial.card_required=true", "sales.reps=2",
                                 "retention.tenure_shape=0.7"])
    st = Settings.from_scenario(sc)
    m = Model(sc.values, replication_seeds(1, 1)[0])
    assert m.settings == st
    assert st.horizon == m.H
    assert m.starter_share == st.starter_share == (st.trial.signup_factor
                                                   * st.trial.card_signup_factor)
    assert m.starter_threshold == st.commitment_threshold
    assert m.trial_convert == st.trial_convert_probability
    assert (m.churn_scale, m.churn_shape) == (st.retention.tenure.scale,
                                             st.retention.tenure.inverse_shape)
    assert m.paid_churn_scale == st.paid.tenure.scale
    assert m.servers == st.sales.servers == 2 * st.sales.rep_capacity
    # a Settings goes in as it is; a horizon overrides its own
    assert Model(st, replication_seeds(1, 1)[0]).settings is st
    assert Model(st, replication_seeds(1, 1)[0], horizon=12).H == 12.0


def test_both_engines_take_derived_quantities_from_the_one_property(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load_scenario("trial", [*SMALL, "trial.card_required=true"])
    st = Settings.from_scenario(sc)
    twin = twin_module.Twin(st)
    m = Model(st, replication_seeds(1, 1)[0])
    assert twin.starters == m.starter_share == st.starter_share == pytest.approx(0.16)
    assert twin.convert_p == m.trial_convert == st.trial_convert_probability
    assert twin.churn == st.retention.tenure.hazard
    assert twin.logo == st.paid.tenure.hazard
    monkeypatch.setattr(Settings, "starter_share", property(lambda self: 0.123))
    monkeypatch.setattr(Settings, "trial_convert_probability", property(lambda self: 0.456))
    twin = twin_module.Twin(st)
    m = Model(st, replication_seeds(1, 1)[0])
    assert twin.starters == m.starter_share == 0.123
    assert twin.convert_p == m.trial_convert == 0.456
    est = workload.estimate(st)
    monkeypatch.setattr(Settings, "starter_share", property(lambda self: 0.5))
    assert workload.estimate(st).signups > est.signups  # more contacts start a company


def test_workload_takes_settings_scenarios_or_values() -> None:
    sc = load_scenario("baseline")
    st = Settings.from_scenario(sc)
    assert workload.estimate(sc) == workload.estimate(st) == workload.estimate(dict(sc.values))
    assert workload.estimate(sc, horizon=30) == workload.estimate(st.with_horizon(30))


# -- codes ------------------------------------------------------------------------------------

def test_codes_are_declared_once() -> None:
    assert tuple(m.name.lower() for m in UserState) == model.USER_STATES
    assert tuple(m.name.lower() for m in Channel) == model.CHANNELS
    assert tuple(m.name.lower() for m in TeamState) == model.TEAM_STATES
    assert tuple(m.name.lower() for m in LeadKind) == model.LEAD_KINDS
    assert tuple(m.name.lower() for m in LeadOutcome) == model.LEAD_OUTCOMES
    assert (model.ACTIVE, model.SALES, model.PAYING, model.COLD, model.L_COLD) == (
        UserState.ACTIVE, Channel.SALES, TeamState.PAYING, LeadKind.COLD, LeadOutcome.WENT_COLD)
    # the twin's team classes share the simulation's codes; its pending class has its own
    for name in ("FREE", "TRIAL", "PAYING", "CAPPED", "NO_ACCESS"):
        assert getattr(twin_module, name) == getattr(model, name) == TeamState[name]
    assert twin_module.PENDING == PAYWALL_PENDING
    assert PAYWALL_PENDING not in {int(m) for m in TeamState}
