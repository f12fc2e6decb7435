"""The calibration tutorial (docs/calibration.md) runs as written: its four commands, in a
fresh folder holding the example data, each succeeding and leaving what the text reads."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from flywheel.cli import main
from flywheel.scenario.files import load_scenario

DOCS = Path(__file__).resolve().parents[1] / "docs"


def tutorial_commands() -> list[list[str]]:
    text = (DOCS / "calibration.md").read_text(encoding="utf-8")
    section = text[text.index("## Tutorial"):text.index("## The data file")]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block
    return [shlex.split(line[2:])[1:] for line in block.group(1).splitlines()
            if line.startswith("$ flywheel ")]


def test_the_tutorial_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(DOCS / "examples" / "acme-weekly.csv", tmp_path)
    monkeypatch.chdir(tmp_path)
    commands = tutorial_commands()
    assert [c[0] for c in commands] == ["init", "calibrate", "diagnose", "sweep"]
    for args in commands:
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, (args, res.output)
    # step 2: the fitted scenario extends acme.toml and sets the three fitted keys
    fitted = load_scenario(tmp_path / "results" / "acme-fit" / "calibrated.toml")
    assert set(fitted.differences(load_scenario(tmp_path / "acme.toml"))) == {
        "acquisition.organic", "retention.churn_monthly", "pricing.upgrade_probability"}
    fit = json.loads((tmp_path / "results" / "acme-fit" / "fit.json").read_text())
    assert all(p["identified"] for p in fit["parameters"].values())
    # the churn interval holds the example's hidden 4.5% (docs/examples/make_acme_weekly.py)
    lo, hi = fit["parameters"]["retention.churn_monthly"]["ci95"]
    assert lo <= 0.045 <= hi
    # step 3: the diagnosis names retention the constraint, as the text says
    diag = json.loads((tmp_path / "results" / "acme-diagnosis" / "summary.json").read_text())
    assert diag["findings"][0].startswith("Your retention is the constraint")
    # step 4: the sweep names $25 the best price tried (the higher of the two)
    sweep = json.loads((tmp_path / "results" / "acme-price" / "summary.json").read_text())
    (best,) = sweep["best_price"]
    assert best["price"] == 25.0 and best["edge"] == "highest"
