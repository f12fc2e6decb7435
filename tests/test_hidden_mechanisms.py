"""No hidden mechanisms: a scenario gets only what it asks for, and every command says what
it set.

A scenario written from scratch (no ``extends``) has no paid acquisition unless it sets a
budget; the shipped scenarios keep theirs by setting it.  ``flywheel run``, ``flywheel
compare`` and the run report list the acquisition channels with their rates and every
parameter set beyond the defaults, with the file (or ``--set``) that set it.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import write

import flywheel
from flywheel.cli import main
from flywheel.scenario.defaults import DAYS_PER_MONTH, PARAMS_BY_PATH
from flywheel.scenario.files import builtin_scenarios_dir, list_scenarios, load_scenario
from flywheel.scenario.overview import (
    acquisition_channels,
    overview,
    overview_text,
    set_beyond_defaults,
)
from flywheel.scenario.settings import Settings

#: A founder's own scenario, written from scratch: no extends, no [acquisition].
SCRATCH = """\
name = "my-product"
description = "Our own numbers, written from scratch"

[market]
companies = 2000

[pricing]
price_per_seat = 12.0
"""

#: A short run from the command line.
SHORT = ["--horizon", "30d", "-n", "2", "-j", "1"]

#: Each shipped scenario's paid budget, $ per month: what its results were made with.
SHIPPED_BUDGETS = {
    "baseline": 3000, "card-trial": 3000, "charge-annual": 3000, "charge-flat": 3000,
    "charge-per-seat": 3000, "charge-usage": 3000, "data-integration-sandbox": 3000,
    "data-integration-trial": 3000, "devtool-story": 27500, "enterprise-sales-assist": 0,
    "enterprise-understaffed": 0, "fast-ttv": 3000, "freemium": 3000, "hybrid": 5000,
    "plg-only": 5000,
    "plg-card-trial": 5000, "plg-reverse-trial": 5000, "plg-sales-assist": 5000,
    "plg-trial": 5000, "reverse-trial": 3000, "sales-led": 5000, "slow-ttv": 3000,
    "tiers-ladder": 3000, "tiers-single": 3000, "trial": 3000,
}


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def flat(text: str) -> str:
    """``text`` with every run of white space one space (lines wrapped for a terminal)."""
    return " ".join(text.split())


# -- no paid budget unless asked for ---------------------------------------------------------

def test_the_default_buys_no_paid_contacts() -> None:
    param = PARAMS_BY_PATH["acquisition.paid_budget"]
    assert param.default == "0/month"
    assert "no paid acquisition" in param.meaning
    assert "baseline" in param.source and "seed-stage" in param.source


def test_a_scenario_from_scratch_gets_no_paid_signups(tmp_path: Path) -> None:
    path = write(tmp_path, "my-product.toml", SCRATCH)
    sc = load_scenario(path, ["simulation.horizon=60d", "market.companies=500"])
    assert sc["acquisition.paid_budget"] == 0.0
    assert sc.sources["acquisition.paid_budget"] == "default"
    rep = flywheel.simulate(sc, replications=1, seed=1, jobs=1).replications[0]
    assert rep.metrics["signups_paid"] == 0
    assert rep.metrics["signups"] > 0  # organic contacts still bring people in


def test_the_baseline_keeps_its_paid_budget() -> None:
    sc = load_scenario("baseline", ["simulation.horizon=60d", "market.companies=500"])
    assert sc["acquisition.paid_budget"] == pytest.approx(3000 / DAYS_PER_MONTH)
    assert sc.sources["acquisition.paid_budget"] == "baseline.toml"
    rep = flywheel.simulate(sc, replications=1, seed=1, jobs=1).replications[0]
    assert rep.metrics["signups_paid"] > 0


def test_no_shipped_scenario_takes_its_paid_budget_from_the_default() -> None:
    """Every shipped scenario sets its budget (itself or up its extends chain), so a
    change of the default leaves their results alone; the budgets are the ones their
    results were made with."""
    names = [name for name, _, _ in list_scenarios()]
    assert sorted(names) == sorted(SHIPPED_BUDGETS)
    for name in names:
        sc = load_scenario(name)
        assert sc.sources["acquisition.paid_budget"] != "default", name
        assert sc["acquisition.paid_budget"] * DAYS_PER_MONTH == pytest.approx(
            SHIPPED_BUDGETS[name]), name
    assert "paid_budget" in (builtin_scenarios_dir() / "baseline.toml").read_text()


# -- what a scenario sets, in words -----------------------------------------------------------

def test_channels_read_their_rates_from_settings() -> None:
    sc = load_scenario("baseline", ["acquisition.paid_budget=600/day",
                                    "acquisition.paid_cost_per_signup=40"])
    assert Settings.of(sc).acquisition.paid_contacts == 15.0
    paid = {c.name: c for c in acquisition_channels(sc)}["paid"]
    assert paid.on
    assert paid.text == "paid $18,262/month ≈ 15 contacts/day (at $40 per contact)"


def test_channels_that_are_off_say_so() -> None:
    sc = load_scenario("baseline", ["acquisition.organic=0/day", "acquisition.paid_budget=0/day",
                                    "acquisition.referral=0/day",
                                    'collaboration.invites={ dist = "fixed", value = 0 }'])
    channels = acquisition_channels(sc)
    assert [(c.name, c.on, c.text) for c in channels] == [
        ("organic", False, "no organic contacts"), ("paid", False, "no paid budget"),
        ("word of mouth", False, "no word of mouth"), ("invites", False, "no invites")]


def test_a_sales_team_is_a_channel() -> None:
    texts = [c.text for c in acquisition_channels(load_scenario("enterprise-sales-assist"))]
    assert texts[-1] == "sales 8 reps, 0.526 outbound leads/day, PQLs at 20+ active users"
    assert "no paid budget" in texts


def test_wrapping_keeps_every_value_whole() -> None:
    text = overview_text(overview(load_scenario("enterprise-sales-assist")))
    assert 'market.team_size = { dist = "lognormal", median = 20, p90 = 150 }' in text
    assert 'collaboration.invites = { dist = "poisson", mean = 3 }' in text
    assert all(len(line) <= 92 for line in text.splitlines())


# -- the commands and the report ---------------------------------------------------------------

def test_run_lists_channels_and_what_a_scratch_scenario_sets(cwd: Path) -> None:
    write(cwd, "my-product.toml", SCRATCH)
    out = invoke("run", "my-product.toml", *SHORT, "--out", "out").stdout
    table, block = out.split("\n\nAcquisition:", 1)
    assert "95% CI" in table  # after the headline table, before where the results are
    assert flat("Acquisition:" + block[:block.index("Results in")]) == (
        "Acquisition: organic 21.4 contacts/day; no paid budget; word of mouth 0.01/month per "
        "active user; invites 1 per activated user, 25% accepted. "
        "Set beyond the defaults (4): "
        "my-product.toml: market.companies = 2000, pricing.price_per_seat = 12.0 "
        '--set: simulation.horizon = "30d", simulation.replications = 2')
    assert "\nSet beyond the defaults (4):\n  my-product.toml: market.companies = 2000" in out


def test_run_of_the_baseline_lists_its_paid_budget(cwd: Path) -> None:
    out = invoke("run", "baseline", *SHORT, "--out", "out").stdout
    assert ("paid $3,000/month ≈ 3.29 contacts/day (at $30 per contact)") in flat(out)
    assert ('  baseline.toml: acquisition.paid_budget = "3000/month", '
            'pricing.model = "freemium"\n') in out


def test_the_run_report_lists_the_same(cwd: Path) -> None:
    write(cwd, "my-product.toml", SCRATCH)
    invoke("run", "my-product.toml", *SHORT, "--out", "out")
    page = (cwd / "out" / "report.html").read_text(encoding="utf-8")
    sc = load_scenario("my-product.toml", ["simulation.horizon=30d",
                                           "simulation.replications=2"])
    for line in overview(sc):
        assert html.escape(line.text) in page, line.text
    assert "no paid budget" in page
    assert "my-product.toml: market.companies = 2000, pricing.price_per_seat = 12.0" in page
    assert [r.text for r in set_beyond_defaults(sc)] == [
        'simulation.horizon = "30d"', "simulation.replications = 2",
        "market.companies = 2000", "pricing.price_per_seat = 12.0"]


def test_run_with_the_twin_lists_them_too(cwd: Path) -> None:
    write(cwd, "my-product.toml", SCRATCH)
    out = invoke("run", "my-product.toml", "--engine", "meanfield", "--horizon", "30d",
                 "--out", "out").stdout
    assert "Acquisition: organic 21.4 contacts/day; no paid budget;" in out
    assert "  my-product.toml: market.companies = 2000, pricing.price_per_seat = 12.0" in out


def test_compare_lists_channels_by_scenario_and_what_they_share(cwd: Path) -> None:
    write(cwd, "my-product.toml", SCRATCH)
    out = invoke("compare", "baseline", "my-product.toml", *SHORT, "--out", "cmp").stdout
    text = flat(out[:out.index("They differ in:")])
    assert ("Acquisition, alike in every scenario: organic 21.4 contacts/day; word of mouth "
            "0.01/month per active user; invites 1 per activated user, 25% accepted.") in text
    assert ("Acquisition, by scenario: baseline: paid $3,000/month ≈ 3.29 contacts/day (at $30 "
            "per contact). my-product: no paid budget.") in text
    # pricing.model: the baseline's file sets the default's value, the scratch file does not
    assert ('Set beyond the defaults, alike in every scenario (3): baseline.toml / default: '
            'pricing.model = "freemium" --set: simulation.horizon = "30d", '
            'simulation.replications = 2') in text
    assert '  acquisition.paid_budget: baseline = "3000/month"; my-product = "0/month"' in out
    page = (cwd / "cmp" / "report.html").read_text(encoding="utf-8")
    assert "my-product: no paid budget." in page
