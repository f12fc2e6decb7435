"""Tests for the ``flywheel`` command line: bad input, run, validate, list, help, version."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import write

from flywheel.cli import main
from flywheel.metrics import HEADLINE, METRICS, SALES_HEADLINE
from flywheel.scenario.defaults import PARAMS
from flywheel.scenario.files import builtin_scenarios_dir
from flywheel.version import __version__

#: A run small enough to take about a second.
TINY = ["--replications", "2", "--jobs", "1", "--horizon", "60d",
        "--set", "market.companies=2000"]
RESULT_FILES = {"scenario.toml", "summary.json", "timeseries.csv", "funnel.csv", "cohorts.csv",
                "growth.png", "mrr.png", "funnel.png", "cohorts.png", "report.html",
                ".flywheel.json"}
SHIPPED = ("baseline", "fast-ttv", "slow-ttv", "freemium", "trial")




def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_user_error(result: Result, *fragments: str) -> str:
    """Exit 2, exactly one ``error: ...`` line on stderr naming every fragment, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    # sys.exit(2) from the CLI, not an exception that escaped it
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def no_results_written(folder: Path) -> None:
    """A failed run leaves no results folder and no hidden partial folder behind."""
    leftovers = [p.name for p in folder.iterdir() if p.is_dir()]
    assert leftovers == [], leftovers


# -- every class of bad input: exit 2, one line naming file, key and value, no traceback ---

#: name -> (files to write, scenario to give, fragments the error line must contain)
BAD_FILES: dict[str, tuple[dict[str, str], str, tuple[str, ...]]] = {
    "wrong type": (
        {"bad.toml": '[collaboration]\nacceptance = "high"\n'}, "bad.toml",
        ("bad.toml", "collaboration.acceptance", '"high"', "expected a number",
         "probability")),
    "probability above 1": (
        {"bad.toml": "[collaboration]\nacceptance = 1.2\n"}, "bad.toml",
        ("bad.toml", "collaboration.acceptance = 1.2", "out of range", "0 to 1")),
    "negative rate": (
        {"bad.toml": '[acquisition]\norganic = "-5/week"\n'}, "bad.toml",
        ("bad.toml", "acquisition.organic", '"-5/week"', "negative")),
    "p90 below median": (
        {"bad.toml": '[onboarding]\nttv = { dist = "lognormal", median = "3d", p90 = "1d" }\n'},
        "bad.toml",
        ("bad.toml", "onboarding.ttv", 'median = "3d"', 'p90 = "1d"', "p90", "below median")),
    "unknown key": (
        {"bad.toml": "[onboarding]\nsandbx = true\n"}, "bad.toml",
        ("bad.toml", "onboarding.sandbx", "unknown key", 'did you mean "onboarding.sandbox"')),
    "unknown section": (
        {"bad.toml": "[onbording]\nsandbox = true\n"}, "bad.toml",
        ("bad.toml", '"onbording"', "unknown section", 'did you mean "onboarding"')),
    "missing extends": (
        {"bad.toml": 'extends = "nope.toml"\n'}, "bad.toml",
        ("bad.toml", "extends", '"nope.toml"', "not found")),
    "circular extends": (
        {"a.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "a.toml"\n'}, "a.toml",
        ("a.toml", "extends", "circular", "a.toml -> b.toml -> a.toml")),
    "malformed TOML": (
        {"bad.toml": "[onboarding\nsandbox = true\n"}, "bad.toml",
        ("bad.toml", "malformed TOML", "line 1")),
    "bare 5m duration": (
        {"bad.toml": '[simulation]\nhorizon = "5m"\n'}, "bad.toml",
        ("bad.toml", "simulation.horizon", '"5m"', "ambiguous", '"5min"', '"5mo"')),
    "bare 5m in a distribution": (
        {"bad.toml": '[onboarding]\nttv = { dist = "lognormal", median = "5m", p90 = "1d" }\n'},
        "bad.toml",
        ("bad.toml", "onboarding.ttv", 'median = "5m"', "ambiguous", '"5min"', '"5mo"')),
    "missing file": (
        {}, "missing.toml",
        ("missing.toml", "not found")),
}

#: name -> (extra arguments, scenario, fragments) for mistakes typed on the command line.
BAD_ARGS: dict[str, tuple[list[str], str, tuple[str, ...]]] = {
    "--set unknown key": (
        ["--set", "onboarding.sandbx=true"], "ok.toml",
        ("--set", "onboarding.sandbx", "unknown key", 'did you mean "onboarding.sandbox"')),
    "--set bad probability": (
        ["--set", "collaboration.acceptance=2"], "ok.toml",
        ("--set", "collaboration.acceptance = 2", "out of range", "0 to 1")),
    "--set wrong type": (
        ["--set", "market.companies=abc"], "ok.toml",
        ("--set", "market.companies", '"abc"', "whole number")),
    "--set without =": (
        ["--set", "onboarding.sandbox"], "ok.toml",
        ("--set", '"onboarding.sandbox"', "KEY.PATH=VALUE")),
    "unknown scenario name": (
        [], "basline",
        ("basline", "no such file or shipped scenario", 'did you mean "baseline"')),
}


def _setup(cwd: Path, files: dict[str, str]) -> None:
    write(cwd, "ok.toml", 'name = "ok"\n')
    for name, text in files.items():
        write(cwd, name, text)


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_scenario_file(cwd: Path, command: str, case: str) -> None:
    files, scenario, fragments = BAD_FILES[case]
    _setup(cwd, files)
    extra = ["--out", "out"] if command == "run" else []
    result = invoke(command, scenario, *extra)
    assert_user_error(result, *fragments)
    assert result.stdout == ""
    no_results_written(cwd)


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("case", list(BAD_ARGS))
def test_bad_command_line(cwd: Path, command: str, case: str) -> None:
    args, scenario, fragments = BAD_ARGS[case]
    _setup(cwd, {})
    extra = ["--out", "out"] if command == "run" else []
    result = invoke(command, scenario, *args, *extra)
    assert_user_error(result, *fragments)
    assert result.stdout == ""
    no_results_written(cwd)


def test_run_horizon_bare_m(cwd: Path) -> None:
    _setup(cwd, {})
    result = invoke("run", "ok.toml", "--horizon", "5m", "--out", "out")
    assert_user_error(result, "simulation.horizon", '"5m"', "ambiguous", '"5min"', '"5mo"')
    no_results_written(cwd)


def test_run_horizon_out_of_range(cwd: Path) -> None:
    _setup(cwd, {})
    result = invoke("run", "ok.toml", "--horizon", "12h", "--out", "out")
    assert_user_error(result, "simulation.horizon", '"12h"', "out of range")
    no_results_written(cwd)


def _python_m(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "flywheel", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("files", "args", "fragments"), [
    ({"bad.toml": '[onboarding]\nttv = { dist = "lognormal", median = "3d", p90 = "1d" }\n'},
     ["run", "bad.toml", "--out", "out"], ("bad.toml", "onboarding.ttv", "below median")),
    ({"bad.toml": "[onboarding\n"}, ["validate", "bad.toml"], ("bad.toml", "malformed TOML")),
    ({}, ["run", "ok.toml", "--horizon", "5m", "--out", "out"],
     ("simulation.horizon", '"5m"', "ambiguous")),
    ({}, ["run", "ok.toml", "--set", "acquisition.organic=-5/week", "--out", "out"],
     ("--set", "acquisition.organic", '"-5/week"', "negative")),
], ids=["p90-run", "malformed-validate", "horizon-5m", "set-negative-rate"])
def test_bad_input_in_a_real_process(cwd: Path, files: dict[str, str], args: list[str],
                                     fragments: tuple[str, ...]) -> None:
    _setup(cwd, files)
    proc = _python_m(cwd, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert proc.stdout == ""
    no_results_written(cwd)


# -- run -----------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_run_writes_results_and_refuses_to_overwrite(cwd: Path) -> None:
    write(cwd, "tiny.toml", 'name = "tiny"\ndescription = "a tiny market"\n')
    out = cwd / "runs" / "first"

    result = invoke("run", "tiny.toml", *TINY, "--seed", "5", "--out", str(out))
    assert result.exit_code == 0, (result.output, result.exception)
    # the headline table: every headline metric by its label, then where the results are
    for name in HEADLINE:
        assert METRICS[name].label in result.stdout, name
    assert "95% CI" in result.stdout
    assert f"Results in {out}" in result.stdout
    assert "Traceback" not in result.output
    assert {p.name for p in out.iterdir()} == RESULT_FILES
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "tiny"
    assert summary["seed"] == 5
    assert summary["replications"] == 2
    assert summary["horizon_days"] == 60
    before = _snapshot(out)

    # again, same --out: refused before simulating, old files untouched
    again = invoke("run", "tiny.toml", *TINY, "--seed", "6", "--out", str(out))
    line = assert_user_error(again, str(out), "already exists", "--force")
    assert again.stdout == "", line
    assert _snapshot(out) == before

    # with --force: replaced by the new run, no hidden folders left beside it
    forced = invoke("run", "tiny.toml", *TINY, "--seed", "6", "--out", str(out), "--force")
    assert forced.exit_code == 0, (forced.output, forced.exception)
    assert f"Results in {out}" in forced.stdout
    after = _snapshot(out)
    assert set(after) == RESULT_FILES
    assert after["summary.json"] != before["summary.json"]
    assert json.loads(after["summary.json"])["seed"] == 6
    assert "seed         = 6" in after["scenario.toml"].decode()
    assert [p.name for p in out.parent.iterdir()] == ["first"]


def test_run_with_a_sales_team_heads_with_its_contracts_and_queue(cwd: Path) -> None:
    """A run with a sales team adds contracts won, their mean value and the queue wait to
    the headline; a figure with no value says why, in the terminal, the report and
    summary.json."""
    result = invoke("run", "plg-sales-assist", *TINY, "--out", "sales")
    assert result.exit_code == 0, (result.output, result.exception)
    table = result.stdout[:result.stdout.index("Acquisition:")]
    for name in (*HEADLINE, *SALES_HEADLINE):
        assert METRICS[name].label in table, name
    # 60 days leave no whole-month retention window in the run's second half
    assert re.search(r"Net revenue retention +- +\(run shorter than two months: no retention "
                     r"window\)", table)
    summary = json.loads((cwd / "sales" / "summary.json").read_text())
    assert summary["reasons"]["nrr"] == "run shorter than two months: no retention window"
    assert set(summary["reasons"]) <= set(METRICS)
    html = (cwd / "sales" / "report.html").read_text()
    assert "Contract value, mean" in html
    assert "(run shorter than two months: no retention window)" in html

    plain = invoke("run", "baseline", *TINY, "--out", "plain")
    assert plain.exit_code == 0, (plain.output, plain.exception)
    assert METRICS["contracts_won"].label not in plain.stdout  # no sales team, no sales rows


def test_run_default_out_is_under_results(cwd: Path) -> None:
    write(cwd, "tiny.toml", 'name = "tiny"\n')
    result = invoke("run", "tiny.toml", *TINY, "--quiet")
    assert result.exit_code == 0, (result.output, result.exception)
    folders = list((cwd / "results").iterdir())
    assert len(folders) == 1
    assert folders[0].name.startswith("tiny-")
    assert {p.name for p in folders[0].iterdir()} == RESULT_FILES
    assert f"Results in {Path('results') / folders[0].name}" in result.stdout


def test_run_in_a_real_process(cwd: Path) -> None:
    write(cwd, "tiny.toml", 'name = "tiny"\n')
    proc = _python_m(cwd, "run", "tiny.toml", *TINY, "--out", "out")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert METRICS["signups"].label in proc.stdout
    assert "Results in out" in proc.stdout
    assert {p.name for p in (cwd / "out").iterdir()} == RESULT_FILES
    # and a second time, without --force: exit 2, one line, no traceback
    again = _python_m(cwd, "run", "tiny.toml", *TINY, "--out", "out")
    assert again.returncode == 2
    assert "Traceback" not in again.stderr
    errors = [line for line in again.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--force" in errors[0], again.stderr


# -- validate ------------------------------------------------------------------------------


def _sources(stdout: str) -> dict[str, tuple[str, str]]:
    """``{path: (whole line, source)}`` from validate's listing."""
    found: dict[str, tuple[str, str]] = {}
    for line in stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        words = line.split()
        found[words[0]] = (line, words[-1])
    return found


def test_validate_shows_every_parameter_and_its_source(cwd: Path) -> None:
    write(cwd, "base/base.toml",
          'name = "base"\n'
          "[onboarding]\nsandbox = true\n"
          "[collaboration]\nacceptance = 0.4\n")
    write(cwd, "child.toml",
          'extends = "base/base.toml"\nname = "child"\ndescription = "the child"\n'
          "[market]\ncompanies = 2000\n"
          "[collaboration]\nacceptance = 0.45\n")
    result = invoke("validate", "child.toml", "--set", "retention.churn_monthly=0.05",
                    "--set", "onboarding.ttv.median=12h")
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""
    assert result.stdout.startswith("# child: the child\n")
    rows = _sources(result.stdout)
    assert set(rows) == {p.path for p in PARAMS}
    expected = {
        "onboarding.sandbox": ("base/base.toml", "true"),
        "collaboration.acceptance": ("child.toml", "0.45"),
        "market.companies": ("child.toml", "2000"),
        "retention.churn_monthly": ("--set", "0.05"),
        "onboarding.ttv": ("--set", "12h"),
    }
    for path, (line, source) in rows.items():
        want_source, want_value = expected.get(path, ("default", None))
        assert source == want_source, line
        if want_value is not None:
            assert want_value in line, line
    assert "0.4 " not in rows["collaboration.acceptance"][0]


def test_validate_many_files_reports_each(cwd: Path) -> None:
    write(cwd, "good.toml", 'name = "good"\n')
    write(cwd, "bad.toml", "[collaboration]\nacceptance = 1.2\n")
    result = invoke("validate", "good.toml", "bad.toml")
    assert result.exit_code == 2
    assert "# good" in result.stdout
    assert "simulation.horizon" in result.stdout
    assert_user_error(result, "bad.toml", "collaboration.acceptance = 1.2")


def test_validate_shipped_scenarios() -> None:
    result = invoke("validate", *SHIPPED)
    assert result.exit_code == 0, (result.output, result.exception)
    for name in SHIPPED:
        assert f"# {name}:" in result.stdout


# -- list, help, version -------------------------------------------------------------------


def test_list_shows_shipped_scenarios_with_descriptions() -> None:
    result = invoke("list")
    assert result.exit_code == 0, (result.output, result.exception)
    lines = result.stdout.splitlines()
    for name in SHIPPED:
        data = tomllib.loads((builtin_scenarios_dir() / f"{name}.toml").read_text())
        description = data["description"]
        assert description
        matching = [line for line in lines if line.split()[:1] == [name]]
        assert len(matching) == 1, (name, lines)
        assert matching[0].rstrip().endswith(description), matching[0]
    # the shipped comparisons are listed under their own heading, by the name compare takes
    heading = lines.index("Comparisons (flywheel compare NAME):")
    assert {line.split()[0] for line in lines[heading + 1:]} >= {"ttv", "pricing"}


def test_help() -> None:
    top = invoke("--help")
    assert top.exit_code == 0
    for command in ("run", "validate", "list"):
        assert command in top.stdout
    run = invoke("run", "--help")
    assert run.exit_code == 0
    for option in ("--replications", "--seed", "--jobs", "--horizon", "--set", "--out",
                   "--force", "--quiet"):
        assert option in run.stdout, option
    assert invoke("run", "-h").stdout == run.stdout


def test_version_in_a_real_process(tmp_path: Path) -> None:
    proc = _python_m(tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"flywheel, version {__version__}"
