"""The package's layers, checked from its import graph.

Flywheel is built in layers, each a folder (docs/architecture.md):

    version -> scenario -> engines -> metrics -> studies -> outputs -> cli (and the package)

A module may import from its own layer and the layers below it, never above; and no two
modules import each other, directly or round a loop, whether the import is at the top of
a file or inside a function.  The graph is read from the source with :mod:`ast`, so a
lazy import counts as much as an eager one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flywheel"

#: Layers, lowest first: a module's layer is the first whose prefix its name starts with.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("version", ("flywheel.version",)),
    ("scenario", ("flywheel.scenario",)),
    ("engines", ("flywheel.engines",)),
    ("metrics", ("flywheel.metrics",)),
    ("studies", ("flywheel.studies",)),
    ("outputs", ("flywheel.outputs",)),
    ("interface", ("flywheel.cli", "flywheel.__main__", "flywheel")),
)

#: Imports that still go up a layer, each with the reason and what removes it.  The test
#: fails on any other, and on one listed here that no longer exists (so the list shrinks).
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def import_graph() -> dict[str, set[str]]:
    """Module -> the flywheel modules it imports (anywhere in the file)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            for target in targets:
                found = resolve(target) if target.startswith("flywheel") else None
                if found and found != module:
                    graph[module].add(found)
    return graph


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in graph.items() for b in targets
            if layer_of(b) > layer_of(a)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_is_in_a_layer() -> None:
    for module in import_graph():
        layer_of(module)


def test_no_module_imports_from_a_layer_above() -> None:
    upward = upward_imports(import_graph())
    unexpected = sorted(upward - set(KNOWN_UPWARD))
    assert not unexpected, "imports from a higher layer: " + "; ".join(
        f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})" for a, b in unexpected)
    gone = sorted(set(KNOWN_UPWARD) - upward)
    assert not gone, f"no longer imported, drop them from KNOWN_UPWARD: {gone}"


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_checks_catch_what_they_should() -> None:
    """The checks themselves, on small graphs: a loop and an upward arrow are found."""
    loop = {"flywheel.outputs.a": {"flywheel.outputs.b"}, "flywheel.outputs.b": {"flywheel.outputs.a"},
            "flywheel.metrics": set()}
    assert cycles(loop) == [["flywheel.outputs.a", "flywheel.outputs.b"]]
    up = {"flywheel.engines.model": {"flywheel.studies.runner"}, "flywheel.studies.runner": set()}
    assert upward_imports(up) == {("flywheel.engines.model", "flywheel.studies.runner")}
    assert layer_of("flywheel.scenario.files") < layer_of("flywheel.engines.model") \
        < layer_of("flywheel.metrics") < layer_of("flywheel.studies.runner") \
        < layer_of("flywheel.outputs.plots") < layer_of("flywheel.cli")


def test_adding_a_metric_as_the_architecture_doc_says(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    """docs/architecture.md's worked example, step by step: declare "invite yield" in
    METRICS, define it in tally_metrics from the tally, and it reaches the summary, the
    results folder, the DataFrame, comparisons, the `-m` option with its label and unit,
    and the mean-field twin's run, with nothing written for either engine."""
    import json

    from click.testing import CliRunner

    from flywheel import metrics
    from flywheel.cli import main
    from flywheel.outputs.results import write_results
    from flywheel.scenario import load_scenario
    from flywheel.studies import runner
    from flywheel.studies.comparisons import compare

    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert '_m("invite_yield", "Invite yield", "share", "ratio",' in doc
    assert 'm["invite_yield"] = _div(x["invited_signups"], x["invites_sent"])' in doc

    # step 1: declare it once
    metric = metrics.Metric("invite_yield", "Invite yield", "share", "ratio",
                            "Invited signups / invites sent.")
    monkeypatch.setitem(metrics.METRICS, metric.name, metric)
    # step 2: define it from the tally, in the one function both engines report through
    real = metrics.tally_metrics
    seen: list[float] = []

    def with_it(tally):  # noqa: ANN001, ANN202
        # (the real function checks every declared metric is defined: it is called here
        # without the new one, which this wrapper then adds, as step 2 would inside it)
        with monkeypatch.context() as undeclared:
            undeclared.delitem(metrics.METRICS, "invite_yield")
            m = real(tally)
        x = tally.totals
        m["invite_yield"] = metrics._div(x["invited_signups"], x["invites_sent"])
        seen.append(m["invite_yield"])
        return m

    monkeypatch.setattr(metrics, "tally_metrics", with_it)

    sc = load_scenario("baseline", ["market.companies=1000", "simulation.horizon=60d"])
    run = runner.simulate(sc, replications=2, seed=3, jobs=1)
    assert run.values("invite_yield") == seen and 0 < min(seen) <= max(seen) <= 1
    entry = run.summary()["metrics"]["invite_yield"]
    assert (entry["label"], entry["unit"], entry["kind"]) == ("Invite yield", "share", "ratio")
    frame = run.summary_frame().set_index("name")
    assert frame.loc["invite_yield", "mean"] == pytest.approx(sum(seen) / 2)
    out = write_results(run, tmp_path / "run", charts=False)
    written = json.loads((out / "summary.json").read_text())["metrics"]["invite_yield"]
    assert written["values"] == seen
    twin = runner.simulate(sc, engine="meanfield").replications[0].metrics["invite_yield"]
    assert twin == seen[-1] and 0 < twin <= 1
    cmp = compare([sc, sc.with_overrides({"collaboration.acceptance": 0.5})], replications=2,
                  seed=3, jobs=1, metrics=["invite_yield"])
    assert cmp.paired_diff("invite_yield", 1).mean > 0  # more become signups at a higher rate
    result = CliRunner().invoke(main, ["compare", "baseline", "fast-ttv", "-n", "2", "-j", "1",
                                       "--horizon", "30d", "--set", "market.companies=500",
                                       "-q", "-m", "invite_yield", "--out",
                                       str(tmp_path / "cli")])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Invite yield [share]" in result.stdout
