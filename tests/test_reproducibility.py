"""Same scenario + same seed gives identical results, whatever the number of workers;
each mechanism draws from its own stream (common random numbers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from flywheel.engines.model import LOST_ACCESS, Model
from flywheel.engines.rng import STREAMS, Streams, replication_seeds, stream_key
from flywheel.scenario.files import load_scenario
from flywheel.studies.runner import simulate

SMALL = ["market.companies=3000", "acquisition.organic=40/day", "simulation.horizon=90d"]


def summary_text(**kw: object) -> str:
    sc = load_scenario("baseline", SMALL)
    result = simulate(sc, replications=4, seed=123, **kw)  # type: ignore[arg-type]
    s = result.summary()
    s["metrics"] = {k: v["values"] for k, v in s["metrics"].items()}
    return json.dumps(s, sort_keys=True, default=str)


def test_same_seed_gives_identical_summary() -> None:
    assert summary_text(jobs=1) == summary_text(jobs=1)


def test_one_job_and_two_jobs_give_identical_results() -> None:
    assert summary_text(jobs=1) == summary_text(jobs=2)


def test_different_seeds_differ() -> None:
    sc = load_scenario("baseline", SMALL)
    a = simulate(sc, replications=2, seed=1, jobs=1).values("signups")
    b = simulate(sc, replications=2, seed=2, jobs=1).values("signups")
    assert a != b


def test_replication_i_uses_the_i_th_spawned_child() -> None:
    seqs = replication_seeds(99, 3)
    assert [s.spawn_key for s in seqs] == [(0,), (1,), (2,)]
    assert all(s.entropy == 99 for s in seqs)
    # replication 2 alone equals replication 2 of a larger run
    sc = load_scenario("baseline", SMALL)
    three = simulate(sc, replications=3, seed=99, jobs=1)
    alone = Model(sc.values, seqs[2]).run()
    assert len(alone.users["signup"]) == three.values("signups")[2]


def test_drawing_more_from_one_stream_leaves_the_others_unchanged() -> None:
    seq = replication_seeds(5, 1)[0]
    a, b = Streams(seq), Streams(seq)
    a["ttv"].random(10_000)  # only a draws from ttv
    for name in STREAMS:
        if name != "ttv":
            assert np.array_equal(a[name].random(5), b[name].random(5)), name


def test_stream_keys_are_stable_across_processes() -> None:
    """Stream names are digested with blake2b, never hash() (randomised per process)."""
    code = "from flywheel.engines.rng import stream_key; print(stream_key('ttv'))"
    outs = set()
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout.strip())
    assert outs == {str(stream_key("ttv"))}
    assert len({stream_key(n) for n in STREAMS}) == len(STREAMS)


def test_common_random_numbers_between_fast_and_slow_ttv() -> None:
    """Two scenarios that differ only in TTV share arrivals, patience and the normals
    behind TTV: every user's signup time is the same, and every user who reaches value
    in both does so exactly twice as late when the median (and p90) double."""
    # (no churn: no company cancels, so no one is turned away by a company that closed in
    # one run and not in the other, and both runs have the same signups)
    common = ["acquisition.referral=0/day", "acquisition.paid_budget=0/day",
              'collaboration.invites={ dist = "fixed", value = 0 }', "paid.logo_churn_monthly=0",
              "retention.churn_monthly=0", *SMALL]
    fast = load_scenario("baseline", [*common,
                                      'onboarding.ttv={ dist = "lognormal", median = "1d", p90 = "4d" }'])
    slow = load_scenario("baseline", [*common,
                                      'onboarding.ttv={ dist = "lognormal", median = "2d", p90 = "8d" }'])
    seq = replication_seeds(8, 1)[0]
    a = Model(fast.values, seq).run().users
    b = Model(slow.values, seq).run().users
    assert np.array_equal(a["signup"], b["signup"])
    assert np.array_equal(a["channel"], b["channel"])
    both = ~np.isnan(a["value"]) & ~np.isnan(b["value"])
    assert both.sum() > 500
    np.testing.assert_allclose(b["value"][both] - b["signup"][both],
                               2 * (a["value"][both] - a["signup"][both]), rtol=1e-9)
    # slower TTV loses users the faster one wins, never the reverse (leaving out signups
    # into teams that lost access, whose histories differ between the two runs)
    kept = (a["state"] != LOST_ACCESS) & (b["state"] != LOST_ACCESS)
    assert not (kept & np.isnan(a["value"]) & ~np.isnan(b["value"])).any()
    assert (kept & ~np.isnan(a["value"]) & np.isnan(b["value"])).sum() > 100
