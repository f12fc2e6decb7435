"""Seeds and named random streams.

One :class:`numpy.random.SeedSequence` per run seed; replication *i* takes its
*i*-th spawned child.  Inside a replication every stochastic mechanism draws
from its own named stream, derived from the replication's seed sequence and a
stable digest of the stream's name (never ``hash()``, which is randomised per
process).  Two scenarios run with the same seed therefore draw the same
numbers for the mechanisms they share (common random numbers), and drawing
more from one stream never shifts another.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import numpy as np


class Sampler(Protocol):
    """Anything that draws ``size`` values from a generator (a Distribution does)."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...

#: Every named stream the model draws from, and what it drives.
STREAMS: dict[str, str] = {
    "organic": "organic contact counts and times",
    "paid": "paid contact counts and times",
    "referral": "word-of-mouth contact counts and times",
    "market": "which person of the market a contact reaches",
    "team_size": "company sizes (materialised when first touched)",
    "commitment": "commitment of each person who comes to sign up (patience; the card)",
    "ttv": "time to value",
    "sandbox_ttv": "time to value through the sandbox",
    "friction": "each company's setup time (setup friction)",
    "patience": "patience of new users",
    "no_show": "whether a signup never really tries the product",
    "invites": "invites per activated user",
    "invite_accept": "whether an invite is accepted",
    "invite_round": "rounding of a fractional number of invites",
    "invite_delay": "delay from inviter's value to invitee's signup",
    "churn": "active users' tenure before churn",
    "paywall": "each company's first paywall or trial-end decision (drawn when it is "
               "materialised)",
    "paywall_again": "a company's later paywall or trial-end decisions",
    "wtp": "each company's willingness to pay (drawn when it is materialised)",
    "usage_intensity": "each company's usage intensity (drawn when it is materialised, "
                       "only when pricing.usage_spread > 0)",
    "decision_delay": "time to decide at the paywall",
    "paid_churn": "paying teams' tenure before cancelling",
    "reopen": "whether a company that lost the product buys again when someone new comes "
              "(after its trial, or a win-back after cancelling)",
    "reopen_delay": "time such a company takes to decide",
    "tier_upgrade": "whether a first-tier team at one of its limits moves up to the second "
                    "paid tier",
    "tier_delay": "time such a team takes to decide",
    "outbound": "outbound prospecting: lead counts and times",
    "inbound": "whether a contact reaching a company sold sales-led asks for a demo",
    "lead_patience": "how long a lead waits for a rep before going cold",
    "pql_cycle": "time a rep works a product-qualified lead",
    "cold_cycle": "time a rep works a cold lead",
    "close": "whether a worked lead is won (a uniform against its close probability)",
    "rollout": "delay before a contract's new seat gets its user",
    "renewal": "whether a contract renews at the end of its term",
}


def stream_key(name: str) -> int:
    """A stable 32-bit key for a stream name (same on every machine and process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little")


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """The seed sequences of replications 0..n-1 of a run with root ``seed``."""
    return np.random.SeedSequence(seed).spawn(replications)


class Streams:
    """Named generators of one replication, created on first use."""

    def __init__(self, seq: np.random.SeedSequence) -> None:
        self._seq = seq
        self._gens: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._gens.get(name)
        if gen is None:
            if name not in STREAMS:
                raise KeyError(f"unknown random stream {name!r}; known: {', '.join(STREAMS)}")
            child = np.random.SeedSequence(
                entropy=self._seq.entropy,
                spawn_key=(*self._seq.spawn_key, stream_key(name)),
            )
            gen = self._gens[name] = np.random.Generator(np.random.PCG64(child))
        return gen


class Buffered:
    """Hands out draws of one distribution one at a time, drawn from numpy in blocks.

    Drawing scalars straight from numpy costs about a microsecond each; a block
    of 1024 costs little more than one.  ``take(k)`` and ``one()`` share the
    buffer, so the sequence of values is the same however they are mixed.
    """

    __slots__ = ("_dist", "_rng", "_block", "_buf", "_pos")

    def __init__(self, dist: Sampler, rng: np.random.Generator, block: int = 1024) -> None:
        self._dist = dist
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._pos = 0

    def _refill(self, need: int = 1) -> None:
        n = max(self._block, need)
        self._buf = self._buf[self._pos:] + self._dist.sample(self._rng, n).tolist()
        self._pos = 0

    def one(self) -> float:
        if self._pos >= len(self._buf):
            self._refill()
        v = self._buf[self._pos]
        self._pos += 1
        return v

    def take(self, k: int) -> np.ndarray:
        if len(self._buf) - self._pos < k:
            self._refill(k)
        out = np.asarray(self._buf[self._pos:self._pos + k], dtype=float)
        self._pos += k
        return out


class _StandardExponential:
    """Standard exponential draws (scaled by the caller, e.g. for Weibull tenures)."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.standard_exponential(size)


class _StandardUniform:
    """Uniform [0, 1) draws, for yes/no decisions made against a probability."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.random(size)


class _StandardNormal:
    """Standard normal draws (a person's commitment)."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.standard_normal(size)


STANDARD_NORMAL: Sampler = _StandardNormal()
STANDARD_EXPONENTIAL: Sampler = _StandardExponential()
STANDARD_UNIFORM: Sampler = _StandardUniform()
