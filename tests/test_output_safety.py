"""Nothing lost, nothing escapes: how results folders are named, claimed, replaced and
cleaned, what a failed write leaves, and what Ctrl-C does."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import write

from flywheel.cli import main
from flywheel.metrics import METRICS
from flywheel.outputs import results as results_mod
from flywheel.outputs.files import (
    MARKER,
    SLUG_LENGTH,
    OutputError,
    ResultsExistError,
    check_out,
    clean_leftovers,
    csv_cell,
    default_out_dir,
    slug,
    write_folder,
)
from flywheel.outputs.results import write_results
from flywheel.scenario.files import ScenarioError, load_scenario
from flywheel.studies.runner import RunResult, simulate

TINY = ["--replications", "1", "--jobs", "1", "--horizon", "20d",
        "--set", "market.companies=500"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_error_line(result: Result, *fragments: str) -> str:
    """Exit 2 and exactly one ``error:`` line on stderr holding every fragment."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def small_run() -> RunResult:
    sc = load_scenario("baseline", ["market.companies=500", "simulation.horizon=20d"])
    return simulate(sc, replications=1, jobs=1)


def fill_one(tmp: Path) -> None:
    (tmp / "a.txt").write_text("a")


# -- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("baseline", "baseline"),
    ("fast ttv", "fast-ttv"),
    ("../../../escape", "escape"),
    ("/etc/passwd", "etc-passwd"),
    ("a/../b", "a-b"),
    ("..", "scenario"),
    ("", "scenario"),
    ("nul\x00byte", "nul-byte"),
    ("line\nbreak\ttab", "line-break-tab"),
    ("=HYPERLINK(\"x\")", "HYPERLINK-x"),
    ("Café déjà vu", "Cafe-deja-vu"),
    ("C:\\windows\\system32", "C-windows-system32"),
])
def test_slug_keeps_a_name_inside_its_folder(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_slug_is_bounded() -> None:
    long = slug("x" * 300)
    assert len(long) == SLUG_LENGTH
    # no trailing separator left where the cut falls
    assert not slug("a" * (SLUG_LENGTH - 1) + "-bcd").endswith("-")


def test_default_out_dir_is_always_under_results() -> None:
    for name in ("../../../escape", "/abs/path", "x" * 300, "a\x00b", ".hidden"):
        path = default_out_dir(name)
        assert path.parent == Path("results"), path
        assert len(path.name) <= SLUG_LENGTH + len("-20260101-000000"), path
        assert not path.name.startswith(".")


def test_run_with_a_traversing_name_stays_in_results(cwd: Path) -> None:
    write(cwd, "evil.toml", 'name = "../../../escape"\n')
    result = invoke("run", "evil.toml", *TINY, "--quiet")
    assert result.exit_code == 0, (result.output, result.exception)
    made = [p for p in cwd.rglob("*") if p.is_dir()]
    assert [p.relative_to(cwd).parts[0] for p in made] == ["results"] * len(made)
    folders = list((cwd / "results").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("escape-")
    assert not (cwd.parent / "escape").exists()


# -- two writers, one name ----------------------------------------------------------------

_SAME_SECOND = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    import flywheel.outputs.files as r

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 11, 29, 12, 0, 0)

    r.datetime = Frozen
    # both processes start writing at the same moment
    start = float(sys.argv[1])
    time.sleep(max(0.0, start - time.time()))
    from flywheel.cli import main
    main(["run", "baseline", "-n", "1", "-j", "1", "--horizon", "20d",
          "--set", "market.companies=500", "--quiet"])
""")


def test_two_runs_started_together_get_two_folders(cwd: Path) -> None:
    """Two `flywheel run baseline` in the same second (the clock frozen in both, so the
    default names are equal): two folders, each whole, each printed."""
    start = f"{time.time() + 4.0}"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    procs = [subprocess.Popen([sys.executable, "-c", _SAME_SECOND, start], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    folders = sorted(p.name for p in (cwd / "results").iterdir())
    assert folders == ["baseline-20261129-120000", "baseline-20261129-120000-2"], folders
    printed = {line for out, _ in outs for line in out.splitlines()
               if line.startswith("Results in")}
    assert printed == {f"Results in results/{f}/" for f in folders}
    for f in folders:
        summary = json.loads((cwd / "results" / f / "summary.json").read_text())
        assert summary["scenario"] == "baseline"


def test_unique_write_never_replaces(small_run: RunResult, tmp_path: Path) -> None:
    target = tmp_path / "baseline-x"
    first = write_results(small_run, target, charts=False, unique=True)
    second = write_results(small_run, target, charts=False, unique=True)
    third = write_results(small_run, target, charts=False, unique=True)
    assert (first, second, third) == (target, tmp_path / "baseline-x-2", tmp_path / "baseline-x-3")


# -- --force replaces only what Flywheel wrote ------------------------------------------


def test_marker_lists_every_file_written(small_run: RunResult, tmp_path: Path) -> None:
    out = write_results(small_run, tmp_path / "run", charts=False)
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "run" and marker["state"] == "complete"
    assert marker["files"] == sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert marker["written_by"].startswith("flywheel ")


def test_force_replaces_a_flywheel_folder(small_run: RunResult, tmp_path: Path) -> None:
    out = write_results(small_run, tmp_path / "run", charts=False)
    (out / "cohorts.csv").write_text("old")
    assert write_results(small_run, out, force=True, charts=False) == out
    assert (out / "cohorts.csv").read_text() != "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_force_takes_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert write_folder(tmp_path / "empty", True, fill_one) == tmp_path / "empty"
    assert (tmp_path / "empty" / "a.txt").read_text() == "a"


@pytest.mark.parametrize("extra", ["important.txt", "sub/deep.txt"])
def test_force_refuses_a_folder_with_files_of_others(small_run: RunResult, tmp_path: Path,
                                                     extra: str) -> None:
    out = write_results(small_run, tmp_path / "run", charts=False)
    write(out, extra, "mine")
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with pytest.raises(ResultsExistError, match="files Flywheel did not write"):
        write_results(small_run, out, force=True, charts=False)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert (out / extra).read_text() == "mine"


def test_force_refuses_a_project_folder(cwd: Path) -> None:
    proj = cwd / "proj"
    write(proj, "important.txt", "keep me")
    write(proj, "sub/notes.md", "and me")
    result = invoke("run", "baseline", *TINY, "--out", "proj", "--force")
    one_error_line(result, "proj", "important.txt", "Flywheel did not write")
    assert (proj / "important.txt").read_text() == "keep me"
    assert (proj / "sub" / "notes.md").read_text() == "and me"
    assert sorted(p.name for p in cwd.iterdir()) == ["proj"]


def test_force_refuses_a_file(cwd: Path) -> None:
    (cwd / "somefile").write_text("data")
    result = invoke("run", "baseline", *TINY, "--out", "somefile", "--force")
    one_error_line(result, "somefile", "is a file")
    assert (cwd / "somefile").read_text() == "data"
    assert sorted(p.name for p in cwd.iterdir()) == ["somefile"]


@pytest.mark.parametrize("where", [".", "..", "/", "~"])
def test_protected_folders_are_refused(cwd: Path, where: str) -> None:
    target = str(Path(where).expanduser())
    result = invoke("run", "baseline", *TINY, "--out", target, "--force")
    one_error_line(result, "give --out a folder of its own")


def test_out_under_a_file_is_refused_before_running(cwd: Path) -> None:
    (cwd / "afile").write_text("x")
    result = invoke("run", "baseline", *TINY, "--out", "afile/run")
    one_error_line(result, "afile", "is a file, not a folder")
    assert "Running" not in result.stderr  # refused before any simulation


def test_nul_in_out_is_one_line(cwd: Path) -> None:
    with pytest.raises(OutputError, match="not a usable results folder"):
        check_out("bad\x00name", force=False)


# -- failures and leftovers ---------------------------------------------------------------


def test_disk_full_is_one_line_and_leaves_nothing(cwd: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    real = results_mod.write_csv

    def full(path: Path, header: list[str], rows: Any) -> None:
        if path.name == "funnel.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, header, rows)

    monkeypatch.setattr(results_mod, "write_csv", full)
    result = invoke("run", "baseline", *TINY, "--out", "out")
    one_error_line(result, "out", "no space left on device", "nothing was kept")
    assert list(cwd.iterdir()) == []


def test_leftovers_of_dead_writers_are_cleaned(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".run.{dead_pid}.abc_12.partial"
    live = tmp_path / f".run.{os.getpid()}.def34.partial"
    foreign = tmp_path / f".notes.{dead_pid}.abc.partial"  # no marker: not ours
    for folder in (stale, live, foreign):
        folder.mkdir()
    (stale / MARKER).write_text("{}")
    (live / MARKER).write_text("{}")
    write_folder(tmp_path / "run", False, fill_one)
    assert not stale.exists()
    assert live.exists() and foreign.exists()
    assert clean_leftovers(tmp_path) == []


def test_a_failed_fill_leaves_nothing(tmp_path: Path) -> None:
    def boom(tmp: Path) -> None:
        (tmp / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_folder(tmp_path / "run", False, boom)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_exits_130_with_one_line_and_no_output(cwd: Path) -> None:
    """A real process, two workers, interrupted mid-run."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    # (Ctrl-C as a terminal delivers it: a suite started in the background inherits SIGINT
    # ignored, and a process that ignores it never sees it)
    proc = subprocess.Popen([sys.executable, "-m", "flywheel", "run", "baseline", "-n", "2000",
                             "-j", "2", "--quiet", "--out", "out"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(8)  # started, its workers simulating (2000 replications take minutes)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines()
             if line.strip() and not line.startswith(("Running", "Estimate:"))]
    assert lines == ["interrupted: stopped, no results were written"], err
    assert sorted(p.name for p in cwd.iterdir()) == []


# -- CSV, metrics, messages ----------------------------------------------------------------


@pytest.mark.parametrize(("value", "written"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1", "'+1"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("baseline", "baseline"), (-3.5, "-3.5"), (-2, -2), (float("nan"), ""),
])
def test_csv_cells_are_never_formulas(value: object, written: object) -> None:
    assert csv_cell(value) == written


def test_comparison_csv_neutralises_a_formula_name(cwd: Path) -> None:
    write(cwd, "a.toml", 'name = "=HYPERLINK(\\"http://evil\\")"\n')
    write(cwd, "b.toml", 'name = "@b"\n[onboarding]\nsandbox = true\n')
    result = invoke("compare", "a.toml", "b.toml", *TINY, "--out", "cmp", "-m", "signups")
    assert result.exit_code == 0, (result.output, result.exception)
    with (cwd / "cmp" / "comparison.csv").open(newline="") as fh:
        names = {row["scenario"] for row in csv.DictReader(fh)}
    assert names == {"'=HYPERLINK(\"http://evil\")", "'@b"}


def test_metric_bounds_clamp_intervals() -> None:
    share = METRICS["activation_rate"]
    assert share.clamp(-0.1, 1.3) == (0.0, 1.0)
    assert METRICS["signups"].clamp(-5.0, 10.0) == (0.0, 10.0)
    assert METRICS["gross_margin"].clamp(-2.0, 1.5) == (-2.0, 1.0)  # costs may exceed revenue
    assert METRICS["ltv"].clamp(-100.0, 50.0) == (-100.0, 50.0)


def test_compare_prints_shares_inside_0_and_1(cwd: Path) -> None:
    """Two replications of a tiny market give wide t-intervals: printed, a share's stays
    inside [0%, 100%]."""
    result = invoke("compare", "baseline", "fast-ttv", "-n", "2", "-j", "1", "--horizon", "20d",
                    "--set", "market.companies=300", "--out", "cmp", "-m", "activation_rate")
    assert result.exit_code == 0, (result.output, result.exception)
    import re

    for lo, hi in re.findall(r"\[(-?[\d.]+)%, (-?[\d.]+)%\]", result.stdout):
        assert 0.0 <= float(lo) <= float(hi) <= 100.0, result.stdout


def test_unknown_metric_in_python_suggests_the_nearest(small_run: RunResult) -> None:
    with pytest.raises(ScenarioError, match='unknown metric \\(did you mean "activation_rate"'):
        small_run.mean_ci("activation")
    with pytest.raises(ValueError, match="activaton_rate"):
        small_run.values("activaton_rate")


def test_validate_checks_a_comparison_file() -> None:
    result = invoke("validate", "compare-ttv")
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.startswith("# comparison ttv: 2 scenarios")
    assert "question: unknown key" not in result.output


def test_demo_moves_aside_only_a_demo_it_wrote(cwd: Path) -> None:
    write(cwd, "proj/important.txt", "keep me")
    result = invoke("demo", "-n", "2", "-j", "1", "-q", "--out", "proj")
    one_error_line(result, "proj", "not a folder Flywheel wrote")
    assert "Flywheel demo" not in result.stderr  # refused before running
    assert sorted(p.name for p in cwd.iterdir()) == ["proj"]
    assert (cwd / "proj" / "important.txt").read_text() == "keep me"


def test_twin_refuses_what_it_cannot_solve_in_one_line(cwd: Path) -> None:
    """The mean-field twin takes at most MAX_INVITES invites per activated user; past it,
    one line points to the simulation instead of minutes of integration."""
    from flywheel.engines.meanfield import MAX_INVITES

    result = invoke("run", "baseline", "--engine", "meanfield", "--out", "o",
                    "--set", f"collaboration.invites.mean={MAX_INVITES + 5}")
    one_error_line(result, "collaboration.invites", "--engine des")
    assert not (cwd / "o").exists()


def test_a_name_with_dollars_is_text_in_every_chart(cwd: Path) -> None:
    """Charts read no text as math: a scenario named `$x^$` is drawn as written."""
    write(cwd, "m.toml", 'name = "$x^$"\n')
    result = invoke("run", "m.toml", *TINY, "--out", "o")
    assert result.exit_code == 0, (result.output, result.exception)
    assert (cwd / "o" / "growth.png").read_bytes().startswith(b"\x89PNG")


def test_a_comparison_listing_a_comparison_is_one_line(cwd: Path) -> None:
    write(cwd, "c.toml", 'name = "c"\nscenarios = ["c.toml", "baseline"]\n')
    result = invoke("compare", "c.toml", *TINY, "--out", "o")
    one_error_line(result, "c.toml", "scenarios", "is a comparison file, not a scenario")


def test_one_formatting_of_differences() -> None:
    """The CLI's tables and the reprs write a difference the same way: signed, shares in
    percentage points."""
    from flywheel.metrics import format_difference
    from flywheel.studies.runner import ci_text

    assert format_difference(0.626, "share") == "+62.6 pp"
    assert format_difference(-1200.0, "$ per year") == "-$1,200"
    assert format_difference(float("nan"), "users") == "-"
    assert ci_text((0.626, 0.622, 0.630), "activation_rate", signed=True) == \
        "+62.6 pp [+62.2 pp, +63.0 pp]"
