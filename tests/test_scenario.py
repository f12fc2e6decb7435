"""Tests for flywheel.scenario.files: loading, merging, validation, overrides and writing back."""

from __future__ import annotations

import pickle
import re
import tomllib
from pathlib import Path

import pytest
from conftest import write

from flywheel.scenario import files as scenario_mod
from flywheel.scenario.defaults import PARAMS, PARAMS_BY_PATH, SECTIONS
from flywheel.scenario.distributions import DistributionError, parse_distribution
from flywheel.scenario.files import (
    Scenario,
    ScenarioError,
    format_resolved,
    list_scenarios,
    load_scenario,
    load_scenario_text,
    parse_set,
)


def load_bad(cwd: Path, text: str) -> Scenario:
    write(cwd, "bad.toml", text)
    return load_scenario("bad.toml")


def same_value(a: object, b: object) -> bool:
    """Compare converted values; distributions by their table."""
    if hasattr(a, "to_table"):
        return a.to_table() == b.to_table()  # type: ignore[attr-defined]
    return type(a) is type(b) and a == b


# -- defaults and basics --------------------------------------------------------------


def test_empty_scenario_is_all_defaults() -> None:
    sc = load_scenario_text("")
    assert sc.name == "<string>"
    assert sc.description == ""
    assert sc.path is None and sc.chain == []
    assert set(sc.raw) == set(PARAMS_BY_PATH) == set(sc.values) == set(sc.sources)
    assert all(src == "default" for src in sc.sources.values())
    assert sc.raw == {p.path: p.default for p in PARAMS}
    assert sc["simulation.horizon"] == pytest.approx(365.25)
    assert sc["acquisition.organic"] == pytest.approx(150 / 7)
    assert sc["simulation.replications"] == 20
    assert isinstance(sc["simulation.replications"], int)
    assert sc["collaboration.acceptance"] == PARAMS_BY_PATH["collaboration.acceptance"].default
    assert sc["onboarding.sandbox"] is False
    assert sc["pricing.model"] == "freemium"
    assert hasattr(sc["onboarding.ttv"], "describe")


def test_defaults_are_not_mutated_by_merging() -> None:
    before = {p.path: repr(p.default) for p in PARAMS}
    load_scenario_text('[onboarding]\nttv = { median = "2d" }\n',
                       overrides=["onboarding.patience.mean=5d"])
    assert {p.path: repr(p.default) for p in PARAMS} == before


def test_name_and_description(cwd: Path) -> None:
    write(cwd, "plain.toml", "[onboarding]\nsandbox = true\n")
    write(cwd, "named.toml", 'name = "Named"\ndescription = "With a sandbox"\n')
    plain = load_scenario("plain.toml")
    assert (plain.name, plain.description) == ("plain", "")
    assert plain.path == Path("plain.toml") and plain.chain == [Path("plain.toml")]
    named = load_scenario(Path("named.toml"))
    assert (named.name, named.description) == ("Named", "With a sandbox")
    assert load_scenario_text('name = "x"', name="nb").name == "x"


def test_kinds_are_converted() -> None:
    sc = load_scenario_text(
        """
        [simulation]
        horizon = "6mo"
        replications = 5.0
        [acquisition]
        organic = "10/day"
        organic_growth = 1
        [onboarding]
        sandbox = true
        [pricing]
        model = "trial"
        """
    )
    assert sc["simulation.horizon"] == pytest.approx(365.25 / 2)
    assert sc["simulation.replications"] == 5 and isinstance(sc["simulation.replications"], int)
    assert sc["acquisition.organic"] == 10.0
    assert sc["acquisition.organic_growth"] == 1.0
    assert isinstance(sc["acquisition.organic_growth"], float)
    assert sc["onboarding.sandbox"] is True
    assert sc["pricing.model"] == "trial"


# -- errors ---------------------------------------------------------------------------


def test_wrong_type(cwd: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_bad(cwd, '[collaboration]\nacceptance = "abc"\n')
    assert str(info.value) == ('bad.toml: collaboration.acceptance = "abc": expected a number, '
                               'got "abc"; a probability is a number from 0 to 1')
    assert (info.value.file, info.value.key, info.value.value) == (
        "bad.toml", "collaboration.acceptance", "abc")


def test_probability_out_of_range(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            "bad.toml: collaboration.acceptance = 1.2: out of range; "
            "a probability is a number from 0 to 1")):
        load_bad(cwd, "[collaboration]\nacceptance = 1.2\n")


def test_negative_rate(cwd: Path) -> None:
    with pytest.raises(ScenarioError,
                       match=r'^bad\.toml: acquisition\.organic = "-5/week": .*negative'):
        load_bad(cwd, '[acquisition]\norganic = "-5/week"\n')


def test_rate_without_period(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=r'^bad\.toml: acquisition\.organic = 5: expected a rate'):
        load_bad(cwd, "[acquisition]\norganic = 5\n")


def test_p90_below_median(cwd: Path) -> None:
    table = {"dist": "lognormal", "median": "10d", "p90": "1d"}
    with pytest.raises((DistributionError, ValueError)) as direct:
        parse_distribution(table, "duration")
    with pytest.raises(ScenarioError) as info:
        load_bad(cwd, '[onboarding]\nttv = { dist = "lognormal", median = "10d", p90 = "1d" }\n')
    assert str(info.value) == ('bad.toml: onboarding.ttv = { dist = "lognormal", median = "10d", '
                               f'p90 = "1d" }}: {direct.value}')
    assert info.value.key == "onboarding.ttv"


def test_unknown_key_suggests(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: onboarding.tvt: unknown key (did you mean "onboarding.ttv"?)')):
        load_bad(cwd, '[onboarding]\ntvt = { dist = "fixed", value = "1d" }\n')


def test_unknown_key_in_wrong_section_suggests_right_one(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape('did you mean "collaboration.acceptance"')):
        load_bad(cwd, "[onboarding]\nacceptance = 0.5\n")


def test_unknown_key_without_suggestion_lists_section(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^bad\.toml: trial\.zzzzzz: unknown key; trial has length"):
        load_bad(cwd, "[trial]\nzzzzzz = 1\n")


def test_unknown_section(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: unknown section "onbording" (did you mean "onboarding"?)')):
        load_bad(cwd, "[onbording]\nsandbox = true\n")


def test_unknown_top_level_key(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: horizon: unknown key (did you mean "simulation.horizon"?)')):
        load_bad(cwd, 'horizon = "1y"\n')
    with pytest.raises(ScenarioError, match=re.escape('did you mean "description"')):
        load_bad(cwd, 'descripton = "x"\n')


def test_section_not_a_table(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            "bad.toml: onboarding = 5: expected a table of parameters; write them under [onboarding]")):
        load_bad(cwd, "onboarding = 5\n")


def test_meta_key_not_a_string(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^bad\.toml: name: expected a string, got 5$"):
        load_bad(cwd, "name = 5\n")


def test_missing_extends(cwd: Path) -> None:
    write(cwd, "child.toml", 'extends = "missing.toml"\n')
    looked = (cwd / "missing.toml").resolve()
    with pytest.raises(ScenarioError, match=re.escape(
            f'child.toml: extends = "missing.toml": file not found (looked for {looked})')):
        load_scenario("child.toml")


def test_missing_file(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^nope\.toml: file not found \(looked for /"):
        load_scenario("nope.toml")


def test_circular_extends(cwd: Path) -> None:
    write(cwd, "a.toml", 'extends = "b.toml"\n')
    write(cwd, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match=re.escape(
            "a.toml: extends: circular chain a.toml -> b.toml -> a.toml")):
        load_scenario("a.toml")
    write(cwd, "self.toml", 'extends = "./self.toml"\n')
    with pytest.raises(ScenarioError, match="circular chain self.toml -> self.toml"):
        load_scenario("self.toml")


def test_symlink_loop_in_extends(cwd: Path) -> None:
    write(cwd, "a.toml", 'extends = "b.toml"\n')
    (cwd / "b.toml").symlink_to("a.toml")  # b.toml is a.toml
    with pytest.raises(ScenarioError, match=re.escape(
            "a.toml: extends: circular chain a.toml -> b.toml")):
        load_scenario("a.toml")
    (cwd / "loop.toml").symlink_to("loop.toml")  # a link to itself
    write(cwd, "c.toml", 'extends = "loop.toml"\n')
    with pytest.raises(ScenarioError, match="^" + re.escape(
            'c.toml: extends = "loop.toml": a symbolic link loop (too many levels of '
            "symbolic links); extends must lead to a real file") + "$"):
        load_scenario("c.toml")
    with pytest.raises(ScenarioError, match=re.escape(
            "loop.toml: cannot read: Too many levels of symbolic links")):
        load_scenario("loop.toml")


def test_byte_order_mark_is_accepted(cwd: Path) -> None:
    (cwd / "bom.toml").write_bytes('\ufeffname = "bom"\n[trial]\nlength = "3d"\n'.encode())
    sc = load_scenario("bom.toml")
    assert sc.name == "bom" and sc["trial.length"] == 3.0
    assert load_scenario_text('\ufeff[trial]\nlength = "2d"\n')["trial.length"] == 2.0


def test_duplicate_key_is_named(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match="^" + re.escape(
            "bad.toml: onboarding.sandbox: set more than once (malformed TOML: Cannot "
            "overwrite a value (at line 6, column 16)); write each key and each [section] "
            "once") + "$"):
        load_bad(cwd, '[trial]\nlength = "3d"\n\n[onboarding]\nsandbox = true\n'
                      "sandbox = false\n")
    with pytest.raises(ScenarioError, match=re.escape(
            "bad.toml: trial: set more than once (malformed TOML: Cannot declare")):
        load_bad(cwd, "[trial]\n[trial]\n")
    with pytest.raises(ScenarioError, match=re.escape(
            "<string>: trial.length: set more than once (malformed TOML: Cannot overwrite")):
        load_scenario_text('trial.length = "3d"\ntrial.length = "4d"\n')


def test_malformed_toml(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^bad\.toml: malformed TOML: .*line 2"):
        load_bad(cwd, "[onboarding]\nsandbox = \n")
    with pytest.raises(ScenarioError, match=r"^<string>: malformed TOML: "):
        load_scenario_text("[x")


def test_bare_m_duration_is_refused(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=r'^bad\.toml: trial\.length = "5m": .*ambiguous'):
        load_bad(cwd, '[trial]\nlength = "5m"\n')


def test_duration_needs_a_string(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            "bad.toml: trial.length = 14: expected a duration, got 14; a string with a unit")):
        load_bad(cwd, "[trial]\nlength = 14\n")


def test_duration_out_of_range(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: simulation.horizon = "20y": out of range; a duration from 1d to ')):
        load_bad(cwd, '[simulation]\nhorizon = "20y"\n')


def test_number_out_of_range(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            "bad.toml: acquisition.organic_growth = -2: out of range; a number from -1 to 10")):
        load_bad(cwd, "[acquisition]\norganic_growth = -2\n")
    with pytest.raises(ScenarioError, match=re.escape(
            "pricing.price_per_seat = -1.5: out of range; a number from 0 to 1000000")):
        load_bad(cwd, "[pricing]\nprice_per_seat = -1.5\n")
    with pytest.raises(ScenarioError, match="expected a number, got true"):
        load_bad(cwd, "[pricing]\nprice_per_seat = true\n")


def test_count_must_be_whole(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            "simulation.replications = 2.5: expected a whole number, got 2.5; "
            "a whole number from 1 to 100000")):
        load_bad(cwd, "[simulation]\nreplications = 2.5\n")
    with pytest.raises(ScenarioError, match="expected a whole number, got true"):
        load_bad(cwd, "[simulation]\nreplications = true\n")
    with pytest.raises(ScenarioError, match="replications = 0: out of range"):
        load_bad(cwd, "[simulation]\nreplications = 0\n")


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("pricing.price_per_seat", "2e6", "a number from 0 to 1000000"),
        ("sales.price_per_seat", "1e308", "a number from 0 to 1000000"),
        ("costs.serving_cost_per_free_user", "1e7", "a number from 0 to 1000000"),
        ("acquisition.paid_cost_per_signup", "1e300", "a number from 0.01 to 1000000"),
        ("free_tier.usage_limit", "1e10", "a number from 0 to 1000000000"),
        ("sales.pql_usage", "1e308", "a number from 0 to 1000000000"),
    ],
)
def test_prices_costs_and_usage_have_a_maximum(key: str, value: str, rule: str) -> None:
    message = f"--set: {key} = {float(value)!r}: out of range; {rule}"
    with pytest.raises(ScenarioError, match=f"^{re.escape(message)}$"):
        load_scenario_text("", overrides=[f"{key}={value}"])


def test_durations_are_at_most_1000_years(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: trial.length = "1e308y": "1e308y" is too long; '
            "durations are at most 1000y")):
        load_bad(cwd, '[trial]\nlength = "1e308y"\n')
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: sales.pql_cooldown = "1001y": "1001y" is too long; '
            "durations are at most 1000y")):
        load_bad(cwd, '[sales]\npql_cooldown = "1001y"\n')
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: onboarding.ttv = { dist = "exponential", mean = "2000y" }: '
            'mean: "2000y" is too long; durations are at most 1000y')):
        load_bad(cwd, '[onboarding]\nttv = { dist = "exponential", mean = "2000y" }\n')
    sc = load_scenario_text('[trial]\nlength = "1000y"\n[sales]\nterm = "1000y"\n')
    assert sc["trial.length"] == sc["sales.term"] == 365250.0


def test_rates_must_be_finite(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: acquisition.organic = "1e400/day": "1e400/day" is not a finite rate')):
        load_bad(cwd, '[acquisition]\norganic = "1e400/day"\n')
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: sales.rep_cost = "1e308/min": "1e308/min" is not a finite rate per '
            "day; write a smaller rate")):
        load_bad(cwd, '[sales]\nrep_cost = "1e308/min"\n')


def test_gamma_cv_is_bounded(cwd: Path) -> None:
    for cv in ("1e300", "1e-300"):
        with pytest.raises(ScenarioError, match=re.escape(
                f"cv ({float(cv)!r}) must be from 0.01 to 100")):
            load_bad(cwd, f'[onboarding]\npatience = {{ dist = "gamma", mean = "4d", cv = {cv} }}\n')
    sc = load_scenario_text('[onboarding]\npatience = { dist = "gamma", mean = "4d", cv = 100 }\n')
    assert sc["onboarding.patience"].cv == 100  # type: ignore[attr-defined]


def test_lognormal_spread_is_bounded(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: onboarding.ttv = { dist = "lognormal", median = "1h", p90 = "2y" }: '
            'p90 ("2y") is more than 10000 times the median ("1h"); '
            "p90 / median must be at most 10000")):
        load_bad(cwd, '[onboarding]\nttv = { dist = "lognormal", median = "1h", p90 = "2y" }\n')


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("collaboration.invites", '{ dist = "poisson", mean = 1e308 }',
         "mean (1e+308) must be at most 1000000000"),
        ("collaboration.invites", '{ dist = "poisson", mean = 1e9 }',
         "mean (1000000000.0) is too large; at most 1000 invites per activated user"),
        ("collaboration.invites", '{ dist = "fixed", value = 1001 }',
         "value (1001) is too large; at most 1000 invites per activated user"),
        ("collaboration.invites", '{ dist = "uniform", low = 0, high = 5000 }',
         "high (5000) is too large; at most 1000 invites per activated user"),
        ("collaboration.invites", '{ dist = "empirical", values = [1, 2, 3000] }',
         "values[2] (3000) is too large; at most 1000 invites per activated user"),
        ("collaboration.invites", '{ dist = "lognormal", median = 1, p90 = 1000 }',
         "its mean (2040000) is too large; at most 1000 invites per activated user, "
         "on average too"),
        ("market.team_size", '{ dist = "lognormal", median = 2000, p90 = 2000000 }',
         "p90 (2000000) is too large; at most 1000000 potential users per company"),
        ("market.team_size", '{ dist = "exponential", mean = 1e7 }',
         "mean (10000000.0) is too large; at most 1000000 potential users per company"),
    ],
)
def test_count_distributions_have_a_maximum(key: str, value: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(f": {message}") + "$"):
        load_scenario_text("", overrides=[f"{key}={value}"])


def test_count_distributions_at_their_maximum_are_accepted() -> None:
    sc = load_scenario_text("", overrides=[
        'collaboration.invites={ dist = "poisson", mean = 1000 }',
        'market.team_size={ dist = "fixed", value = 1000000 }'])
    assert sc["collaboration.invites"].mean() == 1000  # type: ignore[attr-defined]
    assert sc["market.team_size"].mean() == 1_000_000  # type: ignore[attr-defined]
    assert PARAMS_BY_PATH["collaboration.invites"].dist_maximum == 1000
    assert PARAMS_BY_PATH["market.team_size"].dist_maximum == 1_000_000


def test_bool_and_choice(cwd: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: onboarding.sandbox = "yes": expected true or false, got "yes"')):
        load_bad(cwd, '[onboarding]\nsandbox = "yes"\n')
    with pytest.raises(ScenarioError, match=re.escape(
            'bad.toml: pricing.model = "trail": unknown choice (did you mean "trial"?); '
            'one of "freemium", "trial", "reverse_trial"')):
        load_bad(cwd, '[pricing]\nmodel = "trail"\n')


def test_relative_extends_needs_a_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(
            'nb: extends = "base.toml": a relative extends needs a file')):
        load_scenario_text('extends = "base.toml"\n', name="nb")
    base = write(tmp_path, "base.toml", "[onboarding]\nsandbox = true\n")
    sc = load_scenario_text(f'extends = "{base}"\n', name="nb")
    assert sc["onboarding.sandbox"] is True
    assert sc.sources["onboarding.sandbox"] == str(base)
    assert sc.chain == [base]


def test_error_pickles() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text("[collaboration]\nacceptance = 1.2\n", name="x.toml")
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)
    assert (again.file, again.key, again.value) == ("x.toml", "collaboration.acceptance", 1.2)


# -- extends --------------------------------------------------------------------------


def test_extends_deep_override_and_sources(cwd: Path) -> None:
    write(cwd, "base.toml", """
        name = "base"
        description = "the base"
        [onboarding]
        sandbox = true
        ttv = { dist = "lognormal", median = "2d", p90 = "8d" }
        patience = { dist = "exponential", mean = "2d" }
        [collaboration]
        acceptance = 0.5
        invites = { dist = "poisson", mean = 2.0 }
        """)
    write(cwd, "scen/child.toml", """
        extends = "../base.toml"
        [onboarding]
        ttv = { median = "1d" }
        patience = { dist = "fixed", value = "3d" }
        [collaboration]
        acceptance = 0.6
        [retention]
        churn_monthly = 0.04
        """)
    sc = load_scenario("scen/child.toml", ["retention.churn_monthly=0.05"])
    assert sc.name == "child" and sc.description == ""  # meta keys are not inherited
    assert sc.chain == [Path("scen/../base.toml"), Path("scen/child.toml")]
    # partial distribution table: merged field by field into the base's table
    assert sc.raw["onboarding.ttv"] == {"dist": "lognormal", "median": "1d", "p90": "8d"}
    # a table with `dist` replaces the base's whole (no leftover `mean`)
    assert sc.raw["onboarding.patience"] == {"dist": "fixed", "value": "3d"}
    # sections merge key by key
    assert sc["onboarding.sandbox"] is True
    assert sc["collaboration.acceptance"] == 0.6
    assert sc.raw["collaboration.invites"] == {"dist": "poisson", "mean": 2.0}
    assert sc.sources["onboarding.sandbox"] == "base.toml"
    assert sc.sources["collaboration.invites"] == "base.toml"
    assert sc.sources["onboarding.ttv"] == "scen/child.toml"
    assert sc.sources["collaboration.acceptance"] == "scen/child.toml"
    assert sc.sources["retention.churn_monthly"] == "--set"
    assert sc["retention.churn_monthly"] == 0.05
    assert sc.sources["trial.length"] == "default"


def test_partial_distribution_merges_into_default() -> None:
    sc = load_scenario_text('[onboarding]\nttv = { median = "3d" }\n')
    assert sc.raw["onboarding.ttv"] == {"dist": "lognormal", "median": "3d", "p90": "10d"}
    assert sc.sources["onboarding.ttv"] == "<string>"


def test_partial_distribution_error_is_blamed_on_child(cwd: Path) -> None:
    write(cwd, "base.toml", '[onboarding]\nttv = { dist = "lognormal", median = "1d", p90 = "5d" }\n')
    write(cwd, "child.toml", 'extends = "base.toml"\n[onboarding]\nttv = { median = "9d" }\n')
    with pytest.raises(ScenarioError, match=re.escape(
            'child.toml: onboarding.ttv = { dist = "lognormal", median = "9d", p90 = "5d" }: ')):
        load_scenario("child.toml")


def test_extends_chain_of_three(cwd: Path) -> None:
    write(cwd, "a.toml", "[market]\ncompanies = 100\n[simulation]\nreplications = 3\n")
    write(cwd, "b.toml", 'extends = "a.toml"\n[market]\ncompanies = 200\n')
    write(cwd, "c.toml", 'extends = "b.toml"\n[pricing]\nmodel = "trial"\n')
    sc = load_scenario("c.toml")
    assert sc.chain == [Path("a.toml"), Path("b.toml"), Path("c.toml")]
    assert (sc["market.companies"], sc.sources["market.companies"]) == (200, "b.toml")
    assert (sc["simulation.replications"], sc.sources["simulation.replications"]) == (3, "a.toml")
    assert sc.sources["pricing.model"] == "c.toml"


def test_error_in_base_names_base(cwd: Path) -> None:
    write(cwd, "base.toml", "[onboarding]\nsandbx = true\n")
    write(cwd, "child.toml", 'extends = "base.toml"\n')
    with pytest.raises(ScenarioError, match=r"^base\.toml: onboarding\.sandbx: unknown key"):
        load_scenario("child.toml")


# -- --set ----------------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "expected"), [
    ("collaboration.acceptance=0.5", ("collaboration.acceptance", 0.5)),
    ("onboarding.sandbox=true", ("onboarding.sandbox", True)),
    ("simulation.replications = 7", ("simulation.replications", 7)),
    ('trial.length="3d"', ("trial.length", "3d")),
    ("trial.length=3d", ("trial.length", "3d")),
    ("onboarding.ttv.median=10min", ("onboarding.ttv.median", "10min")),
    ("acquisition.organic=40/week", ("acquisition.organic", "40/week")),
    ('onboarding.ttv={ dist = "fixed", value = "1d" }',
     ("onboarding.ttv", {"dist": "fixed", "value": "1d"})),
])
def test_parse_set(expr: str, expected: tuple[str, object]) -> None:
    assert parse_set(expr) == expected


@pytest.mark.parametrize(("expr", "pattern"), [
    ("onboarding.sandbox", r'^--set: "onboarding\.sandbox": expected KEY\.PATH=VALUE'),
    ("=1", r"^--set: .*expected KEY\.PATH=VALUE"),
    ("onboarding.tvt=1d", r'^--set: onboarding\.tvt: unknown key \(did you mean "onboarding\.ttv"\?\)'),
    ("onboarding.sandbox.x=1", r"^--set: onboarding\.sandbox\.x: unknown key"),
])
def test_parse_set_errors(expr: str, pattern: str) -> None:
    with pytest.raises(ScenarioError, match=pattern) as info:
        parse_set(expr)
    assert info.value.file == "--set"


def test_set_overrides_when_loading(cwd: Path) -> None:
    write(cwd, "s.toml", '[onboarding]\nttv = { dist = "lognormal", median = "1d", p90 = "4d" }\n')
    sc = load_scenario("s.toml", ["onboarding.ttv.median=10min", "onboarding.sandbox=true",
                                  'onboarding.patience={ dist = "fixed", value = "1d" }'])
    assert sc.raw["onboarding.ttv"] == {"dist": "lognormal", "median": "10min", "p90": "4d"}
    assert sc.raw["onboarding.patience"] == {"dist": "fixed", "value": "1d"}
    assert sc.sources["onboarding.ttv"] == "--set"
    assert sc.sources["onboarding.sandbox"] == "--set"
    later = load_scenario("s.toml", ["collaboration.acceptance=0.1", "collaboration.acceptance=0.2"])
    assert later["collaboration.acceptance"] == 0.2


def test_bad_set_value_is_blamed_on_set(cwd: Path) -> None:
    write(cwd, "s.toml", "")
    with pytest.raises(ScenarioError, match=re.escape(
            "--set: collaboration.acceptance = 2: out of range; a probability")):
        load_scenario("s.toml", ["collaboration.acceptance=2"])
    with pytest.raises(ScenarioError, match=r'^--set: trial\.length = "5m": .*ambiguous'):
        load_scenario("s.toml", ["trial.length=5m"])


# -- writing back ---------------------------------------------------------------------

EVERY_SECTION = """
name = "every"
description = "touches \\"every\\" section"
[simulation]
horizon = "2y"
replications = 3
seed = 12345
[market]
companies = 5000
team_size = { dist = "lognormal", median = 4, p90 = 25 }
[acquisition]
organic = "35.5/week"
organic_growth = 0.0125
paid_budget = "2000/month"
referral = "0.02/month"
[onboarding]
ttv = { median = "20h" }
patience = { dist = "fixed", value = "2d" }
sandbox = true
sandbox_ttv = { dist = "lognormal", median = "10min", p90 = "1h" }
invited_ttv_factor = 0.3
[collaboration]
acceptance = 0.42
invites = { dist = "poisson", mean = 1.7 }
[retention]
churn_monthly = 0.045
tenure_shape = 0.8
[pricing]
model = "reverse_trial"
price_per_seat = 12.5
[free_tier]
seat_limit = 3
usage_per_user = "2/day"
[trial]
length = "3w"
card_required = true
[paid]
logo_churn_monthly = 0.025
[sales]
reps = 2
pql_users = 12
patience = { mean = "5d" }
rep_cost = "10000/month"
[costs]
serving_cost_per_free_user = 0.75
"""


def test_fixture_touches_every_section() -> None:
    assert set(tomllib.loads(EVERY_SECTION)) == {"name", "description", *SECTIONS}


def test_to_toml_round_trip(cwd: Path) -> None:
    write(cwd, "base.toml", "[market]\ncompanies = 9000\n")
    write(cwd, "every.toml", 'extends = "base.toml"\n' + EVERY_SECTION)
    original = load_scenario("every.toml", ["retention.tenure_shape=0.9"])
    text = original.to_toml()
    data = tomllib.loads(text)
    assert "extends" not in data
    assert list(data)[:2] == ["name", "description"]
    assert data["description"] == 'touches "every" section'
    assert {k for k in data if k in SECTIONS} == set(SECTIONS)
    assert sum(len(data[s]) for s in SECTIONS) == len(PARAMS)
    write(cwd, "resolved.toml", text)
    again = load_scenario("resolved.toml")
    assert again.name == original.name and again.description == original.description
    assert again.raw == original.raw
    for path in PARAMS_BY_PATH:
        assert same_value(again[path], original[path]), path
    assert again.to_toml() == text
    assert original.differences(again) == {}


def test_to_toml_of_defaults_round_trips() -> None:
    sc = load_scenario_text("")
    again = load_scenario_text(sc.to_toml())
    assert again.raw == sc.raw
    assert all(same_value(again[p], sc[p]) for p in PARAMS_BY_PATH)


# -- with_overrides and differences ---------------------------------------------------


def test_with_overrides() -> None:
    base = load_scenario_text("[collaboration]\nacceptance = 0.4\n", name="s.toml")
    swept = base.with_overrides({"collaboration.acceptance": 0.7,
                                 "onboarding.ttv.median": "4h",
                                 "trial.length": "30d"})
    assert swept["collaboration.acceptance"] == 0.7
    assert swept["trial.length"] == 30.0
    assert swept.raw["onboarding.ttv"] == {"dist": "lognormal", "median": "4h", "p90": "10d"}
    assert swept.sources["collaboration.acceptance"] == "--set"
    assert swept.sources["onboarding.ttv"] == "--set"
    assert swept.sources["trial.card_required"] == "default"
    # the original is untouched
    assert base["collaboration.acceptance"] == 0.4
    assert base.raw["onboarding.ttv"] == PARAMS_BY_PATH["onboarding.ttv"].default
    assert base.sources["collaboration.acceptance"] == "s.toml"
    with pytest.raises(ScenarioError, match=re.escape(
            "--set: collaboration.acceptance = 1.5: out of range")):
        base.with_overrides({"collaboration.acceptance": 1.5})
    with pytest.raises(ScenarioError, match=r'^--set: collab\.acceptance: unknown key \(did you mean'):
        base.with_overrides({"collab.acceptance": 0.5})


def test_with_overrides_accepts_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    sc = load_scenario_text("").with_overrides({"collaboration.acceptance": np.float64(0.25),
                                                "simulation.replications": np.int64(4)})
    assert sc["collaboration.acceptance"] == 0.25 and type(sc.raw["collaboration.acceptance"]) is float
    assert sc["simulation.replications"] == 4 and type(sc.raw["simulation.replications"]) is int
    written = tomllib.loads(sc.to_toml())["simulation"]["replications"]
    assert written == 4 and type(written) is int


def test_differences() -> None:
    a = load_scenario_text('[onboarding]\nsandbox = true\nttv = { median = "1d" }\n')
    # acceptance set to its default value: not a difference
    b = a.with_overrides({"onboarding.sandbox": False,
                          "collaboration.acceptance":
                              PARAMS_BY_PATH["collaboration.acceptance"].default,
                          "pricing.model": "trial"})
    assert a.differences(b) == {"onboarding.sandbox": (True, False),
                                "pricing.model": ("freemium", "trial")}
    assert b.differences(a)["pricing.model"] == ("trial", "freemium")
    assert a.differences(a) == {}


# -- display --------------------------------------------------------------------------


def test_format_resolved(cwd: Path) -> None:
    write(cwd, "s.toml", "[collaboration]\nacceptance = 0.5\n")
    sc = load_scenario("s.toml", ["onboarding.sandbox=true"])
    text = format_resolved(sc)
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == len(PARAMS)
    assert text.count("\n\n") == len(SECTIONS) - 1
    assert [line.split()[0] for line in lines] == [p.path for p in PARAMS]
    ttv = next(line for line in lines if line.startswith("onboarding.ttv "))
    assert sc["onboarding.ttv"].describe() in ttv  # type: ignore[attr-defined]
    assert re.search(r"\[days\]\s+default$", ttv)
    assert re.search(r"^collaboration\.acceptance\s+0\.5\s+s\.toml$", text, re.M)
    assert re.search(r"^onboarding\.sandbox\s+true\s+--set$", text, re.M)
    # aligned: every value starts in the same column, and so does every unit
    value_cols = {len(re.match(r"\S+\s+", line).group(0)) for line in lines}  # type: ignore[union-attr]
    assert len(value_cols) == 1
    unit_cols = {line.index("[") for line in lines if "[" in line and "{" not in line}
    assert len(unit_cols) == 1


# -- shipped scenarios ----------------------------------------------------------------


def test_shipped_scenarios(tmp_path: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "shipped"
    write(shipped, "baseline.toml", 'name = "baseline"\ndescription = "The baseline"\n')
    write(shipped, "sandbox.toml",
          'description = "Plus a sandbox"\nextends = "baseline.toml"\n[onboarding]\nsandbox = true\n')
    write(shipped, "compare-pricing.toml", "scenarios = []\n")
    monkeypatch.setattr(scenario_mod, "builtin_scenarios_dir", lambda: shipped)
    assert list_scenarios() == [("baseline", "The baseline", shipped / "baseline.toml"),
                                ("sandbox", "Plus a sandbox", shipped / "sandbox.toml")]
    sc = load_scenario("sandbox")
    assert sc.path == shipped / "sandbox.toml"
    assert sc["onboarding.sandbox"] is True
    assert sc.sources["onboarding.sandbox"] == "sandbox.toml"
    assert sc.chain == [shipped / "baseline.toml", shipped / "sandbox.toml"]
    with pytest.raises(ScenarioError, match=re.escape(
            'sandbx: no such file or shipped scenario (did you mean "sandbox"?)')):
        load_scenario("sandbx")
    with pytest.raises(ScenarioError, match=r"^zzz: no such file or shipped scenario; shipped scenarios: "):
        load_scenario("zzz")


def test_builtin_scenarios_dir_is_a_path() -> None:
    assert isinstance(scenario_mod.builtin_scenarios_dir(), Path)


def test_extends_may_name_a_shipped_scenario(tmp_path: Path) -> None:
    """A founder's file outside scenarios/ can build on the shipped baseline by name."""
    f = tmp_path / "mine.toml"
    f.write_text('extends = "baseline"\n[retention]\nchurn_monthly = 0.04\n')
    sc = load_scenario(f)
    assert sc["retention.churn_monthly"] == 0.04
    assert sc["pricing.model"] == "freemium"
    assert sc.sources["pricing.model"] == "baseline.toml"
    missing = tmp_path / "other.toml"
    missing.write_text('extends = "no-such-scenario"\n')
    with pytest.raises(ScenarioError, match=r'extends = "no-such-scenario": file not found .*'
                                            r"or a shipped scenario's name"):
        load_scenario(missing)
