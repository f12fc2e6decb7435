"""Fuzz the command line with mutated copies of every shipped scenario and comparison file.

Each example takes one shipped file, applies one mutation (a value of another kind, a
deleted distribution field, a misspelt key, another ``dist``, a broken ``extends``, a
hostile ``name``, a renamed section, broken TOML), writes it to a temporary folder and
runs it through the CLI (:class:`click.testing.CliRunner`): ``flywheel validate FILE``
then, when that passes, ``flywheel run FILE -n 1 -j 1 --horizon 30d --out ...``; a
comparison file goes straight to ``flywheel compare FILE -n 1 -j 1 --horizon 30d``.
The CLI must either succeed or exit 2 with exactly one ``error: ...`` line that names
the file and the key at fault; never a traceback.

Hypothesis runs derandomized (the same examples on every run) and without shrinking
(each example is one mutation already).  To keep the file under a minute, charts are
built but not rendered (``plots.png_bytes`` is stubbed) except for mutated names, which
end up in chart titles.  ``bench/fuzz_cli.py`` uses the same mutations, many more of
them, and tabulates the outcomes.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import signal
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flywheel.cli import main
from flywheel.scenario.defaults import META_KEYS, PARAMS, PARAMS_BY_PATH, SECTIONS
from flywheel.scenario.distributions import FAMILIES
from flywheel.scenario.files import builtin_scenarios_dir

T = TypeVar("T")
#: Picks one item of a non-empty sequence (Hypothesis's draw, or ``random.choice``).
Choose = Callable[[Sequence[Any]], Any]

SHIPPED = builtin_scenarios_dir()
SCENARIO_FILES = sorted(p.name for p in SHIPPED.glob("*.toml") if not p.name.startswith("compare-"))
COMPARISON_FILES = sorted(p.name for p in SHIPPED.glob("compare-*.toml"))
COMPARISON_KEYS = ("name", "description", "question", "scenarios", "levers", "metrics")

#: Every CLI call in a test is cut off after this long (a hang is a failure too).
CALL_SECONDS = 15
RUN_ARGS = ["-n", "1", "-j", "1", "--horizon", "30d", "-q"]

# -- values of every kind ---------------------------------------------------------------

VALUES: dict[str, list[Any]] = {
    "string": ["high", "3d", "10min", "40/week", "lognormal", "true", "0.5", "freemium",
               "sales_led", "reverse_trial", "all", "Freemium", "baseline.toml"],
    "int": [0, 1, -1, 2, 7, 100, 2**31, 2**63 - 1],
    "float": [0.0, -0.0, 0.5, 0.999999, 1.0000001, 1.5, 3.25],
    "bool": [True, False],
    "table": [{}, {"dist": "lognormal"}, {"dist": "fixed", "value": "1d"},
              {"dist": "poisson", "mean": 2}, {"median": "1d"}, {"a": 1},
              {"dist": {"dist": "fixed"}}, {"dist": "empirical", "values": []}],
    "array": [[], [1, 2], ["3d"], [[]], [{"a": 1}], ["baseline.toml", "baseline.toml"]],
    "huge": [10**18, 10**30, 1e308, 1.7976931348623157e308, "1e308y", "1e308/week",
             "1e9/day", "999999999999y", "1e309d", "1e15min", "1e300/day"],
    "tiny": [5e-324, 1e-308, 1e-12, "1e-320d", "1e-300/day", "0.000001min", "0d", "0/day"],
    "negative": [-1, -0.5, -1e308, -(2**63), "-3d", "-5/week", "-0d", "-1e-9/day"],
    "nonfinite": [math.nan, math.inf, -math.inf, "infd", "nand", "inf/day", "nan/week",
                  "-infd", "infinity y", "NaN"],
    "unit": ["5m", "3", "3 d", "3D", "3days", "3 fortnights", "1/0week", "0/0day", "d",
             "/week", "5/", "3d/day", "1.5.2d", "1e3mo", "3d2h", "5/fortnight", "1 /week"],
    "empty": ["", " ", "\t"],
    "unicode": ["３d", "١٠min", "½d", "3ｄ", "🚀", "名前", "e\u0301", "\u202e3d", "3\u00a0d",
                "ⅷd", "\ufeff3d"],
    "control": ["\x00", "3d\x00", "\x1b[31mred", "3d\n", "line\nbreak", "\r", "\x7f",
                "a\x08b"],
}
VALUE_KINDS = sorted(VALUES)

#: Hostile names (and descriptions): paths, spreadsheet formulas, markup, mathtext.
NAMES = ["a/b", "../../escape", "..", ".", "/abs", "a\\b", "C:\\con", "CON", "x" * 5000,
         "nul\x00byte", '=HYPERLINK("http://example.com","click")', "+cmd|' /C calc'!A0",
         "@SUM(1)", "-2+3", "$x^$", "$\\frac{", "100%", "<script>alert(1)</script>",
         "a&b<c>", "line\nbreak", "tab\there", "", " ", "\u202egnp.exe", "名前", "😀",
         "{0}", "%s%n", "--force", "-n", "a" * 255 + ".toml", "\x1b]0;title\x07"]

EXTENDS = ["nope.toml", "{self}", "", ".", "..", "/nonexistent/nope.toml", "sub/../nope.toml",
           "nope", "{self_stem}", "sub/", "baseline", "a\x00b.toml", "x" * 300 + ".toml",
           "./{self}", "../{self}", "~/nope.toml", "dir.toml", "file:///etc/passwd"]

UNKNOWN_TOP = ["nmae", "Name", "extend", "extends ", "descripton", "horizon", "seed", "ttv",
               "version", "scenario", "metric", "question"]


def _misspell(word: str, choose: Choose) -> str:
    """A plausible typo of ``word`` (never ``word`` itself)."""
    how = choose(["drop", "double", "swap", "upper", "suffix", "space", "dash"])
    if how == "drop" and len(word) > 1:
        i = choose(range(len(word)))
        out = word[:i] + word[i + 1:]
    elif how == "double":
        i = choose(range(len(word)))
        out = word[:i] + word[i] + word[i:]
    elif how == "swap" and len(word) > 1:
        i = choose(range(len(word) - 1))
        out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    elif how == "upper":
        out = word.upper()
    elif how == "space":
        out = word + " "
    elif how == "dash":
        out = word.replace("_", "-") if "_" in word else word + "-"
    else:
        out = word + "s"
    return out if out != word else word + "x"


# -- mutations ------------------------------------------------------------------------


@dataclass
class Mutation:
    """One mutated file, how to run it and what its error must name."""

    kind: str                      # the mutation class
    source: str                    # the shipped file it started from
    what: str                      # what changed, for a reader
    text: str                      # the mutated file
    keys: tuple[str, ...] = ()     # an error must name one of these (none: file only)
    comparison: bool = False       # compare FILE instead of validate + run FILE
    charts: bool = False           # render the charts for real (names reach titles)
    extra: dict[str, str] = field(default_factory=dict)  # files written beside it

    @property
    def filename(self) -> str:
        return "mut-" + self.source

    def describe(self) -> str:
        return f"[{self.kind}] {self.source}: {self.what}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"...<{len(text)} chars>"


def _dumps(data: dict[str, Any]) -> str:
    return tomli_w.dumps(data)


def _read(name: str) -> dict[str, Any]:
    return tomllib.loads((SHIPPED / name).read_text(encoding="utf-8"))


def _dist_params() -> list[str]:
    return [p.path for p in PARAMS if p.kind == "distribution"]


def _table(data: dict[str, Any], section: str) -> dict[str, Any]:
    table = data.setdefault(section, {})
    if not isinstance(table, dict):  # pragma: no cover - shipped files are well formed
        table = data[section] = {}
    return table


def _param_value(data: dict[str, Any], path: str) -> Any:
    """The table a file gives for ``path``, else the default (a copy)."""
    section, name = path.split(".", 1)
    value = data.get(section, {}).get(name, PARAMS_BY_PATH[path].default)
    return copy.deepcopy(value)


def _dist_of(data: dict[str, Any], path: str) -> str:
    """The family a file (or the default) gives distribution ``path``."""
    table = _param_value(data, path)
    name = table.get("dist") if isinstance(table, dict) else None
    return name if name in FAMILIES else PARAMS_BY_PATH[path].default["dist"]


def _set_param(data: dict[str, Any], path: str, value: Any) -> None:
    section, name = path.split(".", 1)
    _table(data, section)[name] = value


def _value(choose: Choose) -> tuple[str, Any]:
    kind = choose(VALUE_KINDS)
    return kind, copy.deepcopy(choose(VALUES[kind]))


def _scenario_targets(data: dict[str, Any]) -> list[str]:
    """Key paths a value mutation may hit: the file's own keys first, then any parameter."""
    own = [k for k in data if k in META_KEYS]
    for section, table in data.items():
        if isinstance(table, dict):
            for name, value in table.items():
                own.append(f"{section}.{name}")
                if isinstance(value, dict):
                    own += [f"{section}.{name}.{f}" for f in value]
    return own


def mutate_scenario(source: str, choose: Choose) -> Mutation:
    """One mutation of the shipped scenario ``source``."""
    data = _read(source)
    fname = "mut-" + source
    kind = choose(["value", "value", "value", "dist_field_delete", "unknown_key", "dist_change",
                   "extends", "name", "rename_section", "syntax"])
    keys: tuple[str, ...]
    extra: dict[str, str] = {}
    charts = False
    if kind == "value":
        own = _scenario_targets(data)
        anywhere = [p.path for p in PARAMS] + [
            f"{p}.{f}" for p in _dist_params()
            for f in FAMILIES[_dist_of(data, p)].required]
        target = choose(own) if own and choose([True, False]) else choose(anywhere)
        vkind, value = _value(choose)
        if target in META_KEYS:
            data[target] = value
            keys = (target,)
        elif target in PARAMS_BY_PATH:
            _set_param(data, target, value)
            keys = (target,)
        else:  # a distribution's field
            path, _, fld = target.rpartition(".")
            table = _param_value(data, path)
            table = table if isinstance(table, dict) else {}
            table[fld] = value
            _set_param(data, path, table)
            keys = (path,)
        if target == "pricing.model":
            keys += ("sales.reps",)  # sales_led without reps names the reps
        what = f"{target} = {_show(value)}  ({vkind})"
    elif kind == "dist_field_delete":
        path = choose(_dist_params())
        table = _param_value(data, path)
        if "dist" not in table:  # a partial table merged into the base's: write it whole
            table = {**PARAMS_BY_PATH[path].default, **table}
        fld = choose(FAMILIES[table["dist"]].required)
        table.pop(fld, None)
        _set_param(data, path, table)
        keys = (path,)
        what = f"{path}: deleted {fld} -> {_show(table)}"
    elif kind == "dist_change":
        path = choose(_dist_params())
        table = _param_value(data, path)
        table = {**PARAMS_BY_PATH[path].default, **table} if "dist" not in table else table
        new = choose([*sorted(FAMILIES), "Lognormal", "normal", "lognorm", "weibull", "",
                      " poisson", "fixed\x00"])
        table["dist"] = new
        _set_param(data, path, table)
        keys = (path,)
        what = f"{path}.dist = {_show(new)} -> {_show(table)}"
    elif kind == "unknown_key":
        where = choose(["top", "section", "field"])
        if where == "top":
            key = choose([*UNKNOWN_TOP, _misspell(choose(META_KEYS), choose)])
            data[key] = choose([True, "x", 1, {"a": 1}])
            keys = (key,)
            what = f"top-level {key!r} = {_show(data[key])}"
        elif where == "section":
            p = choose(PARAMS)
            name = _misspell(p.path.split(".", 1)[1], choose)
            _set_param(data, f"{p.section}.{name}", copy.deepcopy(p.default))
            keys = (f"{p.section}.{name}".strip(),)
            what = f"{p.section}.{name!r} (misspelt {p.path})"
        else:
            path = choose(_dist_params())
            table = _param_value(data, path)
            fld = choose([*sorted(table), "p99"])
            new = _misspell(fld, choose)
            table[new] = table.get(fld, "1d")
            _set_param(data, path, table)
            keys = (path,)
            what = f"{path}: added field {new!r} -> {_show(table)}"
    elif kind == "extends":
        target = choose(EXTENDS).replace("{self_stem}", Path(fname).stem).replace("{self}", fname)
        data["extends"] = target
        extra = {"sub/keep.txt": "", "dir.toml/keep.txt": ""}
        keys = ("extends",)
        what = f"extends = {_show(target)}"
    elif kind == "name":
        key = choose(["name", "name", "description"])
        data[key] = choose(NAMES)
        keys = (key,)
        charts = True
        what = f"{key} = {_show(data[key])}"
    elif kind == "rename_section":
        sections = [k for k, v in data.items() if isinstance(v, dict)] or ["pricing"]
        old = choose(sections)
        new = choose([_misspell(old, choose), *(s for s in SECTIONS if s != old), "Onboarding",
                      "simulation.x", ""])
        table = data.pop(old, {"model": "freemium"})
        data[new] = table
        keys = (new,) if new else ('""',)
        what = f"[{old}] renamed [{new}]"
    else:  # syntax
        text = (SHIPPED / source).read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        how = choose(["truncate", "drop_char", "duplicate", "binary"])
        i = choose(range(len(lines)))
        if how == "truncate":
            lines[i] = lines[i][: len(lines[i]) // 2]
        elif how == "drop_char":
            j = choose(range(len(lines[i])))
            lines[i] = lines[i][:j] + lines[i][j + 1:]
        elif how == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines[i] = lines[i] + " \udcff"
        mutated = "\n".join(lines) + "\n"
        return Mutation("syntax", source, f"{how} at line {i + 1}: {_show(lines[i])}",
                        mutated, ())
    return Mutation(kind, source, what, _dumps(data), keys, charts=charts, extra=extra)


def mutate_comparison(source: str, choose: Choose) -> Mutation:
    """One mutation of the shipped comparison file ``source``."""
    data = _read(source)
    fname = "mut-" + source
    kind = choose(["value", "value", "unknown_key", "scenarios", "metrics", "name", "syntax"])
    charts = False
    if kind == "value":
        key = choose(COMPARISON_KEYS)
        vkind, value = _value(choose)
        if key in ("scenarios", "levers", "metrics") and key in data and choose([True, False]):
            data[key][choose(range(len(data[key])))] = value
            what = f"{key}[i] = {_show(value)}  ({vkind})"
        else:
            data[key] = value
            what = f"{key} = {_show(value)}  ({vkind})"
        keys: tuple[str, ...] = (key,)
    elif kind == "unknown_key":
        key = choose([*UNKNOWN_TOP, "extends", "onboarding", _misspell(choose(COMPARISON_KEYS), choose)])
        data[key] = choose([True, "x", ["a.toml"], {"sandbox": True}])
        keys = (key,)
        what = f"{key!r} = {_show(data[key])}"
    elif kind == "scenarios":
        entries = list(data["scenarios"])
        how = choose(["missing", "self", "comparison", "one", "empty", "duplicate", "dir",
                      "escape", "nul", "absolute", "shipped_name"])
        if how == "missing":
            entries[choose(range(len(entries)))] = "nope.toml"
        elif how == "self":
            entries[choose(range(len(entries)))] = fname
        elif how == "comparison":
            entries[choose(range(len(entries)))] = choose(COMPARISON_FILES)
        elif how == "one":
            entries = entries[:1]
        elif how == "empty":
            entries = []
        elif how == "duplicate":
            entries = [entries[0], entries[0]]
        elif how == "dir":
            entries[0] = "sub"
        elif how == "escape":
            entries[0] = "../" * 12 + "etc/passwd"
        elif how == "nul":
            entries[0] = "a\x00b.toml"
        elif how == "absolute":
            entries[0] = "/nonexistent/x.toml"
        else:
            entries = [Path(e).stem for e in entries]
        data["scenarios"] = entries
        keys = ("scenarios",)
        what = f"scenarios = {_show(entries)}  ({how})"
    elif kind == "metrics":
        metrics = list(data["metrics"])
        how = choose(["unknown", "misspelt", "empty", "duplicate", "non_string", "many"])
        if how == "unknown":
            metrics.append("nope")
        elif how == "misspelt":
            i = choose(range(len(metrics)))
            metrics[i] = _misspell(metrics[i], choose)
        elif how == "empty":
            metrics = []
        elif how == "duplicate":
            metrics = metrics + metrics
        elif how == "non_string":
            metrics.append(choose([1, 0.5, True, ["arr_end"], {"a": 1}]))
        else:
            metrics = metrics * 20
        data["metrics"] = metrics
        keys = ("metrics",)
        what = f"metrics = {_show(metrics)}  ({how})"
    elif kind == "name":
        key = choose(["name", "name", "description", "question"])
        data[key] = choose(NAMES)
        keys = (key,)
        charts = True
        what = f"{key} = {_show(data[key])}"
    else:
        text = (SHIPPED / source).read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        i = choose(range(len(lines)))
        lines[i] = lines[i][: len(lines[i]) // 2]
        return Mutation("syntax", source, f"truncated line {i + 1}: {_show(lines[i])}",
                        "\n".join(lines) + "\n", (), comparison=True)
    return Mutation(kind, source, what, _dumps(data), keys, comparison=True, charts=charts,
                    extra={"sub/keep.txt": ""})


# -- running and judging ------------------------------------------------------------------


class CallTimeout(Exception):
    """A CLI call ran past its time."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CallTimeout` in the main thread after ``seconds`` (Unix only)."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise CallTimeout(f"no answer after {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _charts(render: bool) -> Iterator[None]:
    """Build charts but skip rendering them (the slow part of a short run)."""
    from flywheel.outputs import plots

    if render:
        yield
        return
    real = plots.png_bytes

    def stub(fig: Any, dpi: int = 0) -> bytes:
        import matplotlib.pyplot as plt

        plt.close(fig)
        return b"\x89PNG\r\n\x1a\n"

    plots.png_bytes = stub
    try:
        yield
    finally:
        plots.png_bytes = real


@dataclass
class Outcome:
    """How the CLI answered one mutation."""

    verdict: str           # see VERDICTS
    command: list[str]
    exit_code: int
    stderr: str
    trace: str = ""        # the traceback of an escaped exception
    seconds: float = 0.0

    def report(self, mutation: Mutation) -> str:
        return (f"{mutation.describe()}\n  command: flywheel {' '.join(self.command)}\n"
                f"  verdict: {self.verdict}, exit {self.exit_code}\n  stderr: {self.stderr!r}\n"
                + (f"  traceback:\n{self.trace}" if self.trace else ""))


#: Verdicts: the first two pass, the rest are failures.
VERDICTS = ("ok", "error_named", "error_unnamed", "error_format", "traceback", "timeout")
PASS = ("ok", "error_named")


def judge(result: Any, mutation: Mutation, display: str) -> tuple[str, str]:
    """The verdict on one CliRunner result and its traceback text, if any."""
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info))
        return ("timeout" if isinstance(exc, CallTimeout) else "traceback"), trace
    out = result.output + result.stderr
    if "Traceback (most recent call last)" in out:
        return "traceback", result.stderr
    if result.exit_code == 0:
        return "ok", ""
    if result.exit_code != 2:
        return "traceback", result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    banners = [line for line in lines if line.startswith(("Running ", "Comparing "))]
    if len(errors) != 1 or len(errors) + len(banners) != len(lines):
        return "error_format", ""
    line = errors[0]
    if display not in line or (mutation.keys and not any(k in line for k in mutation.keys)):
        return "error_unnamed", ""
    return "error_named", ""


def run_mutation(mutation: Mutation, folder: Path, seconds: float | None = CALL_SECONDS,
                 render: bool | None = None) -> Outcome:
    """Write ``mutation`` into ``folder`` and run it through the CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in mutation.extra.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    path = folder / mutation.filename
    path.write_text(mutation.text, encoding="utf-8", errors="surrogateescape")
    runner = CliRunner()
    out = str(folder / "out")
    if mutation.comparison:
        calls = [["compare", str(path), *RUN_ARGS, "--out", out]]
    else:
        calls = [["validate", str(path)], ["run", str(path), *RUN_ARGS, "--out", out]]
    outcome = Outcome("ok", [], 0, "")
    start = time.perf_counter()
    with _charts(mutation.charts if render is None else render):
        for args in calls:
            with _deadline(seconds):
                result = runner.invoke(main, args)
            verdict, trace = judge(result, mutation, mutation.filename)
            outcome = Outcome(verdict, args, result.exit_code, result.stderr, trace)
            if verdict != "ok":
                break
    outcome.seconds = time.perf_counter() - start
    return outcome


# -- the tests ------------------------------------------------------------------------------

_counter = itertools.count()
_SETTINGS = settings(
    max_examples=5, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)


def _chooser(data: st.DataObject) -> Choose:
    return lambda items: data.draw(st.sampled_from(list(items)))


@pytest.mark.parametrize("source", SCENARIO_FILES)
@settings(_SETTINGS, max_examples=4)
@given(data=st.data())
def test_mutated_scenario(source: str, data: st.DataObject, tmp_path: Path) -> None:
    mutation = mutate_scenario(source, _chooser(data))
    outcome = run_mutation(mutation, tmp_path / f"ex{next(_counter)}")
    assert outcome.verdict in PASS, outcome.report(mutation)


@pytest.mark.parametrize("source", COMPARISON_FILES)
@_SETTINGS
@given(data=st.data())
def test_mutated_comparison(source: str, data: st.DataObject, tmp_path: Path) -> None:
    mutation = mutate_comparison(source, _chooser(data))
    outcome = run_mutation(mutation, tmp_path / f"ex{next(_counter)}")
    assert outcome.verdict in PASS, outcome.report(mutation)
