"""`flywheel init`: a starter scenario from a few answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flywheel import cli
from flywheel.cli import main
from flywheel.scenario.defaults import PARAMS_BY_PATH
from flywheel.scenario.files import load_scenario
from flywheel.scenario.settings import Settings
from flywheel.scenario.starter import KINDS, MOTIONS, Answers, starter_toml
from flywheel.scenario.units import parse_rate


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("motion", list(MOTIONS))
def test_every_starter_loads_and_says_what_each_line_means(tmp_path: Path, kind: str,
                                                           motion: str) -> None:
    """The file loads as a scenario; each value line follows a comment holding its
    parameter's meaning; the organic contacts are the signups asked for over the share of
    would-be founders the motion lets sign up (Settings.starter_share: 1 for freemium,
    0.8 for a trial, 0.16 with a card), and paid acquisition is off."""
    path = tmp_path / "s.toml"
    path.write_text(starter_toml(Answers(kind=kind, motion=motion, signups_per_week=80,
                                         price=12)), encoding="utf-8")
    sc = load_scenario(path)
    st = Settings.of(sc)
    assert sc["pricing.price_per_seat"] == 12.0
    assert sc["acquisition.paid_budget"] == 0.0
    assert sc["acquisition.organic"] * 7 * st.starter_share == pytest.approx(80, rel=1e-3)
    lines = path.read_text(encoding="utf-8").splitlines()
    section = ""
    for i, line in enumerate(lines):
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#") and section:
            key = f"{section}.{line.split('=')[0].strip()}"
            comment = " ".join(x.lstrip("# ") for x in lines[:i] if x.startswith("#"))
            assert PARAMS_BY_PATH[key].meaning.split(";")[0][:30] in comment, key
            assert lines[i - 1].startswith("# "), key


def test_init_writes_the_answers_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    args = ["init", str(path), "--kind", "data-integration", "--motion", "trial",
            "--signups-per-week", "40", "--price", "25", "--paid-budget", "2000"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    sc = load_scenario(path)
    assert sc.name == "acme" and sc["pricing.model"] == "trial"
    assert sc["acquisition.paid_budget"] == pytest.approx(parse_rate("2000/month"))
    assert sc["onboarding.setup_friction"].mean() == pytest.approx(14.0)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2
    assert f"{path} exists: choose another FILE, or --force to replace it" in again.output
    forced = CliRunner().invoke(main, [*args[:-4], "--price", "30", "--force"])
    assert forced.exit_code == 0 and load_scenario(path)["pricing.price_per_seat"] == 30.0


def test_init_asks_what_was_not_given_when_someone_is_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    res = CliRunner().invoke(main, ["init", "--price", "9"], input="collaboration\n\n60\n\n")
    assert res.exit_code == 0, res.output
    assert "Product kind" in res.output and "Organic signups a week" in res.output
    sc = load_scenario(tmp_path / "my-product.toml")
    assert sc["collaboration.invites"].mean() == 2.0  # the collaboration kind
    assert sc["pricing.model"] == "freemium"  # the default, taken with Enter
    assert sc["acquisition.organic"] * 7 == pytest.approx(60)
    assert sc["pricing.price_per_seat"] == 9.0


def test_without_a_terminal_init_takes_the_defaults(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_interactive", lambda: False)
    res = CliRunner().invoke(main, ["init"])
    assert res.exit_code == 0, res.output
    sc = load_scenario(tmp_path / "my-product.toml")
    assert sc["acquisition.organic"] * 7 == pytest.approx(Answers().signups_per_week)
    assert sc["pricing.model"] == "freemium" and sc["acquisition.paid_budget"] == 0


@pytest.mark.parametrize("charge, key", [("flat", "pricing.plan_price"),
                                         ("usage", "pricing.price_per_unit")])
def test_the_price_answer_sets_the_charges_price(tmp_path: Path, charge: str, key: str) -> None:
    path = tmp_path / "s.toml"
    res = CliRunner().invoke(main, ["init", str(path), "--charge", charge, "--price", "39"])
    assert res.exit_code == 0, res.output
    sc = load_scenario(path)
    assert sc["pricing.charge"] == charge and sc[key] == 39.0
    assert sc["pricing.price_per_seat"] == PARAMS_BY_PATH["pricing.price_per_seat"].default
