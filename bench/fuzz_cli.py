"""Fuzz the command line with many mutated scenario and comparison files; tabulate outcomes.

    python bench/fuzz_cli.py [--count 2000] [--seed 1] [--jobs 2] [--timeout 60]
                             [--fast-charts] [--json out.json]

Uses the mutations of tests/test_fuzz.py (every shipped scenario and comparison file,
one mutation each), runs each in a worker process through click's CliRunner
(``validate`` then ``run -n 1 -j 1 --horizon 30d``, or ``compare`` for a comparison
file) and classifies the answer:

    ok              exit 0
    error_named     exit 2, one ``error:`` line naming the file and the key
    error_unnamed   exit 2, one ``error:`` line that lacks the file or the key
    error_format    exit 2, but not exactly one ``error:`` line on stderr
    traceback       an exception escaped (or exit 1)
    timeout         no answer within --timeout seconds (the worker is killed)

It prints the counts per mutation class, then one reproducer per distinct traceback
(grouped by exception type, message shape and innermost flywheel frame) and per
unnamed/badly formatted error.  Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"


def _worker(conn: Connection, fast_charts: bool) -> None:
    sys.path.insert(0, str(TESTS))
    import test_fuzz as tf

    conn.send(("ready", None))
    while True:
        task = conn.recv()
        if task is None:
            return
        index, mutation = task
        with tempfile.TemporaryDirectory() as folder:
            outcome = tf.run_mutation(mutation, Path(folder), seconds=None,
                                      render=None if fast_charts else True)
        conn.send(("done", (index, outcome)))


class Pool:
    """Worker processes that can be killed one at a time when a mutation hangs."""

    def __init__(self, jobs: int, fast_charts: bool) -> None:
        self.ctx = mp.get_context("spawn")
        self.fast_charts = fast_charts
        self.workers: list[dict[str, Any]] = [self._spawn() for _ in range(jobs)]

    def _spawn(self) -> dict[str, Any]:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, self.fast_charts), daemon=True)
        proc.start()
        child.close()
        parent.recv()  # ready
        return {"proc": proc, "conn": parent, "task": None, "start": 0.0}

    def run(self, tasks: list[tuple[int, Any]], timeout: float,
            done: Any) -> None:
        pending = list(reversed(tasks))
        while pending or any(w["task"] is not None for w in self.workers):
            for w in self.workers:
                if w["task"] is None and pending:
                    w["task"] = pending.pop()
                    w["start"] = time.monotonic()
                    w["conn"].send(w["task"])
            busy = [w for w in self.workers if w["task"] is not None]
            ready = wait([w["conn"] for w in busy], timeout=1.0)
            for w in busy:
                if w["conn"] in ready:
                    try:
                        _, (index, outcome) = w["conn"].recv()
                    except EOFError:  # the worker died (e.g. out of memory)
                        index, outcome = w["task"][0], None
                        self._replace(w)
                    done(index, outcome, None if outcome else "worker died")
                    w["task"] = None
                elif time.monotonic() - w["start"] > timeout:
                    index = w["task"][0]
                    self._replace(w)
                    done(index, None, "timeout")
                    w["task"] = None

    def _replace(self, w: dict[str, Any]) -> None:
        w["proc"].kill()
        w["proc"].join()
        w.update(self._spawn())

    def close(self) -> None:
        for w in self.workers:
            w["conn"].send(None)
            w["proc"].join(timeout=5)


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _signature(trace: str) -> str:
    """Exception type, message shape and innermost flywheel frame of a traceback."""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "?"
    frames = re.findall(r'File "([^"]*flywheel/[^"]+)", line (\d+), in (\S+)', trace)
    where = f"{Path(frames[-1][0]).name}:{frames[-1][2]}" if frames else "?"
    shape = re.sub(r"'[^']*'|\"[^\"]*\"|\d+(\.\d+)?(e[+-]?\d+)?|/\S+", "_", last)[:120]
    return f"{shape} @ {where}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="mutations to run")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the mutations")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per mutation")
    ap.add_argument("--fast-charts", action="store_true",
                    help="build charts without rendering them (much faster), except for "
                         "mutated names, which reach chart titles")
    ap.add_argument("--json", type=Path, default=None, help="write every outcome here")
    args = ap.parse_args()

    sys.path.insert(0, str(TESTS))
    import test_fuzz as tf

    rng = random.Random(args.seed)
    files = [(f, False) for f in tf.SCENARIO_FILES] + [(f, True) for f in tf.COMPARISON_FILES]
    mutations = []
    for i in range(args.count):
        source, comparison = files[i % len(files)]  # every file in turn
        make = tf.mutate_comparison if comparison else tf.mutate_scenario
        mutations.append(make(source, rng.choice))

    results: dict[int, dict[str, Any]] = {}
    started = time.monotonic()

    def done(index: int, outcome: Any, failure: str | None) -> None:
        m = mutations[index]
        if outcome is None:
            results[index] = {"verdict": "timeout" if failure == "timeout" else "traceback",
                              "command": [], "exit_code": None, "stderr": "",
                              "trace": failure or "", "seconds": args.timeout}
        else:
            results[index] = {"verdict": outcome.verdict, "command": outcome.command,
                              "exit_code": outcome.exit_code, "stderr": outcome.stderr,
                              "trace": outcome.trace, "seconds": outcome.seconds}
        results[index].update(kind=m.kind, source=m.source, what=m.what,
                              comparison=m.comparison)
        n = len(results)
        if n % 50 == 0 or n == len(mutations):
            sys.stderr.write(f"  {n}/{len(mutations)} done, "
                             f"{time.monotonic() - started:.0f} s\n")

    pool = Pool(args.jobs, args.fast_charts)
    try:
        pool.run(list(enumerate(mutations)), args.timeout, done)
    finally:
        pool.close()

    # -- the table of counts per mutation class
    verdicts = list(tf.VERDICTS)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results.values():
        cls = ("compare:" if r["comparison"] else "scenario:") + r["kind"]
        table[cls][r["verdict"]] += 1
    width = max(len(c) for c in table) if table else 10
    head = f"{'class':<{width}}  " + "  ".join(f"{v:>13}" for v in verdicts) + f"  {'total':>6}"
    say(f"\n{len(results)} mutations, seed {args.seed}, "
          f"{time.monotonic() - started:.0f} s\n")
    say(head)
    say("-" * len(head))
    total: Counter[str] = Counter()
    for cls in sorted(table):
        total.update(table[cls])
        say(f"{cls:<{width}}  " + "  ".join(f"{table[cls][v]:>13}" for v in verdicts)
              + f"  {sum(table[cls].values()):>6}")
    say("-" * len(head))
    say(f"{'all':<{width}}  " + "  ".join(f"{total[v]:>13}" for v in verdicts)
          + f"  {sum(total.values()):>6}")

    # -- one reproducer per distinct failure, the shortest mutation first
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results.values():
        if r["verdict"] in ("traceback", "timeout"):
            sig = _signature(r["trace"] or r["stderr"]) if r["verdict"] == "traceback" else (
                "timeout")
            groups[(r["verdict"], sig)].append(r)
        elif r["verdict"] in ("error_unnamed", "error_format"):
            line = r["stderr"].strip().splitlines()[-1] if r["stderr"].strip() else ""
            groups[(r["verdict"], r["kind"] + ": " + _signature(line))].append(r)
    if groups:
        say("\nDistinct failures (one reproducer each):")
    for (verdict, sig), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
        r = min(rs, key=lambda r: len(r["what"]))
        say(f"\n[{verdict}] x{len(rs)}  {sig}")
        say(f"  mutation: {r['source']} [{r['kind']}] {r['what']}")
        if r["command"]:
            say(f"  command:  flywheel {' '.join(r['command'])}")
        tail = (r["trace"] or r["stderr"]).strip().splitlines()[-4:]
        for line in tail:
            say(f"    {line[:200]}")
    if args.json:
        args.json.write_text(json.dumps([results[i] for i in sorted(results)], indent=1,
                                        default=str))


if __name__ == "__main__":
    main()
