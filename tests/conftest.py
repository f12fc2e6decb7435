"""Shared test fixtures: a working folder of the test's own, writing scenario files, and a
deterministic world for exact event logs of the simulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.engines.model import Model, Outcome
from flywheel.engines.rng import replication_seeds
from flywheel.scenario.files import Scenario, load_scenario


@pytest.fixture()
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work inside tmp_path, so files are named relative, as a user would, and nothing
    lands in the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder/name`` (creating folders), as a user's scenario file."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_line_error(folder: Path, text: str, message: str) -> None:
    """Loading ``text`` as ``bad.toml`` (in ``folder``, the working folder) fails with one
    line that holds ``message``."""
    import re

    from flywheel.scenario.files import ScenarioError

    write(folder, "bad.toml", text)
    with pytest.raises(ScenarioError, match=re.escape(message)) as err:
        load_scenario("bad.toml")
    assert "\n" not in str(err.value)


#: A world with nothing random left in it: fixed times, certain decisions, no churn,
#: no acquisition but what a test injects.
QUIET = [
    "acquisition.organic=0/day", "acquisition.paid_budget=0/day", "acquisition.referral=0/day",
    "onboarding.no_show=0",
    'onboarding.ttv={ dist = "fixed", value = "1d" }',
    'onboarding.patience={ dist = "fixed", value = "10d" }',
    'collaboration.invites={ dist = "fixed", value = 2 }',
    "collaboration.acceptance=1.0",
    'collaboration.invite_delay={ dist = "fixed", value = "2d" }',
    "onboarding.invited_ttv_factor=0.5",
    "retention.churn_monthly=0", "paid.logo_churn_monthly=0",
    "free_tier.seat_limit=3", "free_tier.usage_limit=0",
    'pricing.decision_delay={ dist = "fixed", value = "3d" }',
    "pricing.upgrade_probability=1.0",
    # every company values a seat far above any price: the price never stops a purchase
    'pricing.willingness_to_pay={ dist = "fixed", value = 1000000 }',
]
#: Willingness to pay that never binds, for tests of a buying probability on its own.
PRICE_NEVER_BINDS = QUIET[-1]


def scenario(*overrides: str, base: str = "baseline") -> Scenario:
    """A shipped scenario (the baseline unless named) with ``--set`` style overrides."""
    return load_scenario(base, list(overrides))


def play(sc: Scenario, seed: int = 7, horizon: float | None = None, trace: bool = False,
         inject: tuple[float, list[int]] | None = None) -> tuple[Model, Outcome]:
    """One replication of ``sc`` with the given seed, optionally with companies injected
    (``(time, sizes)``) and the event log kept: the model and its outcome."""
    model = Model(sc.values, replication_seeds(seed, 1)[0], horizon=horizon, trace=trace)
    if inject is not None:
        model.inject(*inject)
    return model, model.run()
