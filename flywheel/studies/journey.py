"""One company's journey: its events from one traced replication, chosen and assembled.

``flywheel trace`` tells one team's story (DESIGN: "a class ... reads one team's journey as
a story").  This module runs the one replication needed, with the event log on
(``Model(trace=True)``), and gathers one company's part of it into a :class:`Journey`:
its people in the order they signed up, its events in time order, its team row and the
spells of its plan.  The words, the timeline chart and the page are
:mod:`flywheel.outputs.journey`'s, :func:`flywheel.outputs.plots.journey_timeline`'s and
:func:`flywheel.outputs.report.trace_report`'s.

**Which company.**  Every company is placed by how far along the value chain it got, five
steps (:data:`STEPS`): its founder reached value; a teammate came by invitation; it met a
buying moment (the paywall, its trial's end, or the sales team: a lead, a deal); it paid (upgraded,
converted its trial, bought after it, came back, or signed a contract); it still paid at
the horizon.  The company told is the first in the order

1. most steps reached (a company that went all the way reached all five);
2. a team of :data:`TEAM_SIGNUPS` signups (3: a founder and two teammates, DESIGN's story
   1) first, then those fewest signups away from it; among those, one whose teammates
   all came by the founder's invitation first;
3. created earliest (then the lowest company id),

among all companies, or among those with the outcome asked for (:data:`OUTCOMES`).  Same
scenario, seed and replication: same company, same story.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flywheel.engines.codes import Channel, TeamState, UserState, labels
from flywheel.engines.model import Model, Outcome
from flywheel.engines.rng import replication_seeds
from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.files import Scenario
from flywheel.scenario.settings import Settings

__all__ = ["OUTCOMES", "TEAM_SIGNUPS", "STEPS", "Event", "Journey", "JourneyError",
           "Person", "choose", "journey", "play", "plan_spans"]

_CHANNELS = labels(Channel)
_USER_STATES = labels(UserState)
_TEAM_STATES = labels(TeamState)

#: Signups of the team the choice prefers (fewest outside this range first): a founder and
#: two to four teammates, enough for invitations to pass on, few enough to read at a glance.
TEAM_SIGNUPS = (3, 3)

#: Events by which a company buys a self-serve plan (``won_back``: a company that had
#: cancelled buys again).
BUY_EVENTS = ("upgrade", "trial_converted", "bought_after_trial", "won_back")
#: Events by which a company pays: a self-serve plan or a sales contract.
PAY_EVENTS = (*BUY_EVENTS, "won")
#: Events at which a company ends a paid plan or a contract.
CANCEL_EVENTS = ("cancelled", "cancelled:no_users", "contract_ended")
#: Events that are a buying moment: the paywall (any), a trial's end, the sales team.
_MOMENT_PREFIXES = ("paywall:", "trial_ended:", "trial_converted", "pql", "lead_", "won")

#: The steps of the value chain a company may reach, in order, each with its words.
STEPS: tuple[tuple[str, str], ...] = (
    ("value", "the founder reached value"),
    ("teammate", "a teammate came by invitation"),
    ("moment", "the team met the paywall, its trial's end or the sales team"),
    ("paid", "it paid"),
    ("kept", "it still paid at the horizon"),
)
#: Plans on which a company pays (TeamState labels).
_PAYING = ("paying", "contract")


class JourneyError(ValueError):
    """No company fits what was asked (an id out of range, an outcome none had), in one
    line that says what there is instead."""


@dataclass(frozen=True)
class Person:
    """One signup of the company: ``index`` is its place in signup order (the founder is 0),
    ``user`` its row in the replication's user table; times in days since launch (NaN:
    never; ``end`` inf: still has a seat at the horizon)."""

    index: int
    user: int
    channel: str
    signup: float
    value: float
    abandon: float
    start: float
    end: float
    state: str
    inviter: int | None  # index of the person who invited them, if invited


@dataclass(frozen=True)
class Event:
    """One entry of the event log: ``what`` as the model writes it (``signup:paid``,
    ``activated``, ``paywall:usage``...), ``person`` the index of the person it is about
    (None for a team event)."""

    t: float
    what: str
    person: int | None


@dataclass(frozen=True)
class Journey:
    """One company's journey through one replication of one scenario."""

    scenario: Scenario
    settings: Settings
    seed: int
    replication: int  # 1-based, as `flywheel trace --replication` counts
    horizon: float
    company: int
    companies: int  # companies touched in the replication
    size: int  # the company's people (potential users)
    team: dict[str, float]  # the team's row of the outcome (created, paywall, paid_start...)
    spells: tuple[tuple[float, float], ...]  # its self-serve paid spells, (start, end)
    state: str  # the team's plan at the horizon (a TeamState label)
    people: tuple[Person, ...]
    events: tuple[Event, ...]
    steps: tuple[str, ...]  # the steps of STEPS it reached
    outcomes: tuple[str, ...]  # the outcomes of OUTCOMES it had
    chosen: str  # how it was chosen, in words
    candidates: int = 0  # companies that fit what was asked
    outcome_counts: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<Journey {self.scenario.name}: company {self.company} of {self.companies}, "
                f"replication {self.replication}, seed {self.seed}; {len(self.people)} signups, "
                f"{len(self.events)} events; {self.state} at day {self.horizon:g}>")

    @property
    def went_all_the_way(self) -> bool:
        """Whether the company reached every step of :data:`STEPS`."""
        return len(self.steps) == len(STEPS)

    def seats_at(self, t: float) -> int:
        """People with a seat at instant ``t`` (a spell [start, end) covering it)."""
        return sum(1 for p in self.people if p.start <= t < p.end)

    def paid_seats_at(self, t: float) -> int:
        """Seats paid for at instant ``t``: every seat, while a self-serve paid plan runs."""
        return self.seats_at(t) if any(ps <= t < pe for ps, pe in self.spells) else 0

    def spell_start(self, t: float) -> float:
        """When the paid spell running at (or last ended by) instant ``t`` began (NaN if it
        had not paid by then)."""
        starts = [ps for ps, _ in self.spells if ps <= t]
        return max(starts) if starts else math.nan

    def mrr_at(self, t: float) -> float:
        """What the company pays at instant ``t``, $ per month (its self-serve bill for its
        paid seats under the scenario's charge, :meth:`Settings.bill`, or a contract's
        annual value / 12).  (On an annual plan, the seats active then: the records bill
        the most of the paid year.)"""
        seats = self.paid_seats_at(t)
        mrr = float(self.settings.bill(seats, self.team.get("intensity", 1.0))) if seats else 0.0
        cs, ce = self.team["contract_start"], self.team["contract_end"]
        if cs <= t < ce:
            mrr += self.team["contract_acv"] / 12.0
        return mrr

    def revenue(self) -> float:
        """All the company paid up to the horizon, $ (its self-serve bill over its paid
        spells, plus its contract's months)."""
        total = 0.0
        for ps, end in self.spells:
            pe = min(end, self.horizon)
            cuts = sorted({ps, pe, *(x for p in self.people for x in (p.start, p.end)
                                      if ps < x < pe)})
            for a, b in itertools.pairwise(cuts):
                seats = sum(1 for p in self.people if p.start <= a and b <= p.end)
                if seats and b > a:
                    bill = float(self.settings.bill(seats, self.team.get("intensity", 1.0)))
                    total += (b - a) / DAYS_PER_MONTH * bill
        cs, ce = self.team["contract_start"], min(self.team["contract_end"], self.horizon)
        if not math.isnan(cs) and ce > cs:
            total += (ce - cs) / DAYS_PER_MONTH * self.team["contract_acv"] / 12.0
        return total


# -- outcomes a company may have ------------------------------------------------------------

_Test = Callable[[set[str], Sequence[Person]], bool]


def _has(*names: str) -> _Test:
    """Whether the company's log holds any of these events."""
    return lambda events, _people: any(n in events for n in names)


def _churned(events: set[str], people: Sequence[Person]) -> bool:
    """Everyone who took a seat churned (and someone did), or a paid plan ended."""
    seated = [p for p in people if not math.isnan(p.start)]
    return (bool(seated) and all(p.state == "churned" for p in seated)) or any(
        n in events for n in CANCEL_EVENTS)


#: ``--outcome`` filters: name -> (what it means, does a company have it).
OUTCOMES: dict[str, tuple[str, _Test]] = {
    "upgraded": ("bought a self-serve plan, at the paywall or at or after its trial's end",
                 _has(*BUY_EVENTS)),
    "capped": ("met the paywall and declined: stayed on the free tier at its limit",
               _has("declined")),
    "churned": ("lost everyone who took a seat, or ended a paid plan", _churned),
    "cancelled": ("paid, then cancelled, lost its last user or ended its contract",
                  _has(*CANCEL_EVENTS)),
    "pql": ("became a product-qualified lead for the sales team", _has("pql")),
    "won": ("signed a sales contract", _has("won")),
    "trial-converted": ("bought at its trial's end", _has("trial_converted")),
    "lost-access": ("lost the product when its trial ended without buying",
                    _has("trial_ended:lost_access")),
    "won-back": ("cancelled, then came back and bought again", _has("won_back")),
}

#: Why an outcome cannot occur in a scenario ("" when it can), by outcome.
_IMPOSSIBLE: dict[str, Callable[[Settings], str]] = {
    "pql": lambda st: ("" if st.sales.pql_on else "it has no sales team" if not st.sales.servers
                       else "its sales team has no PQL rule"),
    "won": lambda st: "" if st.sales.servers else "it has no sales team",
    "trial-converted": lambda st: "" if st.pricing.trial else f"its plan is {st.pricing.model}, without a trial",
    "lost-access": lambda st: ("" if st.pricing.model == "trial" else
                               f"its plan is {st.pricing.model}: no trial ends without the product"),
    "capped": lambda st: "" if st.pricing.free_tier else f"its plan is {st.pricing.model}, without a free tier",
}


# -- the replication -------------------------------------------------------------------------

def play(scenario: Scenario, seed: int | None = None, replication: int = 1,
         horizon: float | None = None) -> Outcome:
    """Replication ``replication`` (1-based) of ``scenario`` with root ``seed`` (default: the
    scenario's), with the event log kept: the same replication ``flywheel run`` plays as
    its ``replication``-th, and only that one."""
    if replication < 1:
        raise JourneyError(f"--replication {replication}: replications are counted from 1")
    s = int(seed if seed is not None else scenario["simulation.seed"])
    seq = replication_seeds(s, replication)[replication - 1]
    return Model(scenario.values, seq, horizon=horizon, trace=True).run()


def _by_company(o: Outcome) -> tuple[dict[int, list[tuple[float, str, int]]], dict[int, list[int]]]:
    """The log's entries and the users, by company (users in signup order)."""
    events: dict[int, list[tuple[float, str, int]]] = {}
    for t, what, user, c in o.trace or ():
        events.setdefault(c, []).append((t, what, user))
    users: dict[int, list[int]] = {}
    order = np.lexsort((np.arange(len(o.users["signup"])), o.users["signup"]))
    for uid, c in zip(order.tolist(), o.users["company"][order].tolist(), strict=True):
        users.setdefault(c, []).append(uid)
    return events, users


def _people(u: Mapping[str, list[Any]], uids: Sequence[int]) -> tuple[Person, ...]:
    """The people of one company, ``uids`` in signup order; ``u`` the user columns as lists."""
    index = {uid: i for i, uid in enumerate(uids)}
    people = []
    for i, uid in enumerate(uids):
        inviter = u["inviter"][uid]
        people.append(Person(
            index=i, user=uid, channel=_CHANNELS[u["channel"][uid]], signup=u["signup"][uid],
            value=u["value"][uid], abandon=u["abandon"][uid], start=u["start"][uid],
            end=u["end"][uid], state=_USER_STATES[u["state"][uid]],
            inviter=index.get(inviter) if inviter >= 0 else None))
    return tuple(people)


def _steps(whats: set[str], people: Sequence[Person], state: str) -> tuple[str, ...]:
    founder = people[0] if people else None
    reached = {
        "kept": state in _PAYING,
        "value": founder is not None and not math.isnan(founder.value),
        "teammate": any(p.channel == "invite" for p in people),
        "moment": any(w.startswith(_MOMENT_PREFIXES) for w in whats),
        "paid": any(w in whats for w in PAY_EVENTS),
    }
    return tuple(name for name, _ in STEPS if reached[name])


def _team_row(o: Outcome, c: int) -> dict[str, float]:
    return {k: float(v[c]) for k, v in o.teams.items() if k != "state"}


def _spells(o: Outcome, c: int) -> tuple[tuple[float, float], ...]:
    """Company ``c``'s self-serve paid spells, in order of start."""
    rows = np.flatnonzero(o.paid["company"] == c)
    return tuple((float(o.paid["start"][r]), float(o.paid["end"][r])) for r in rows)


def plan_spans(j: Journey) -> list[tuple[float, float, str]]:
    """The company's plan over time, ``(start, end, plan)`` from its creation to the
    horizon; plans are TeamState labels (``free``, ``trial``, ``paying``, ``capped``,
    ``no_access``, ``prospect``, ``contract``), changed by the team's events."""
    st = j.settings
    if j.team.get("prospect"):
        plan = "prospect"
    else:
        plan = "trial" if st.pricing.trial else "free"
    change = {**dict.fromkeys(BUY_EVENTS, "paying"), "declined": "capped",
              "trial_ended:free": "free", "won": "contract",
              **dict.fromkeys(("trial_ended:lost_access", *CANCEL_EVENTS), "no_access")}
    spans = []
    t0 = j.team["created"]
    for e in j.events:
        new = change.get(e.what)
        if new is not None and new != plan:
            if e.t > t0:
                spans.append((t0, e.t, plan))
            t0, plan = e.t, new
    spans.append((t0, j.horizon, plan))
    return spans


# -- choosing ---------------------------------------------------------------------------------

def journey(scenario: Scenario, seed: int | None = None, replication: int = 1,
            company: int | None = None, outcome: str | None = None,
            horizon: float | None = None) -> Journey:
    """One company's journey through replication ``replication`` (1-based) of ``scenario``
    with root ``seed`` (default: the scenario's), run to ``horizon`` days (default: the
    scenario's): :func:`play`, then :func:`choose`.

    ``company`` picks one by id (0 = the first company the replication touched);
    ``outcome`` (a key of :data:`OUTCOMES`) picks the most telling of those that had it;
    neither: the most telling of all (the module's docstring gives the rule).  Raises
    :class:`JourneyError` when the id is out of range or no company had the outcome.
    """
    _check_request(company, outcome)
    s = int(seed if seed is not None else scenario["simulation.seed"])
    played = play(scenario, s, replication, horizon)
    return choose(played, scenario, s, replication, company=company, outcome=outcome)


def _check_request(company: int | None, outcome: str | None) -> None:
    if company is not None and outcome is not None:
        raise JourneyError("give --company or --outcome, not both")
    if outcome is not None and outcome not in OUTCOMES:
        raise JourneyError(f"--outcome {outcome!r}: not an outcome; allowed: "
                           + ", ".join(OUTCOMES))


def choose(played: Outcome, scenario: Scenario, seed: int, replication: int = 1,
           company: int | None = None, outcome: str | None = None) -> Journey:
    """One company's journey from ``played``, a replication of ``scenario`` run with its
    event log (``Model(..., trace=True)``); ``seed`` and ``replication`` say which, for the
    header.  ``company`` and ``outcome`` as for :func:`journey`."""
    _check_request(company, outcome)
    if played.trace is None:
        raise ValueError("choose() needs a replication run with trace=True")
    o, s = played, seed
    settings = Settings.of(scenario.values, o.horizon)
    n = len(o.teams["created"])
    where = f"replication {replication} of {scenario.name} (seed {s})"
    if company is not None and not 0 <= company < n:
        raise JourneyError(f"--company {company}: {where} has companies 0 to {n - 1}"
                           if n else f"--company {company}: {where} touched no company")
    events, users = _by_company(o)
    cols = {k: v.tolist() for k, v in o.users.items()}
    people = {c: _people(cols, users.get(c, [])) for c in range(n)}
    whats = {c: {w for _, w, _ in events.get(c, [])} for c in range(n)}
    outcomes = {c: tuple(name for name, (_, test) in OUTCOMES.items()
                         if test(whats[c], people[c])) for c in range(n)}
    counts = {name: sum(name in outcomes[c] for c in range(n)) for name in OUTCOMES}
    states = [_TEAM_STATES[k] for k in o.teams["state"].tolist()]
    steps = {c: _steps(whats[c], people[c], states[c]) for c in range(n)}
    created = o.teams["created"].tolist()

    def rank(c: int) -> tuple[int, int, bool, float, int]:
        return (-len(steps[c]), _off_size(len(people[c])), not _founder_invited_all(people[c]),
                created[c], c)

    if company is not None:
        chosen, fits = company, 1
        how = f"asked for (--company {company})"
    else:
        pool = [c for c in range(n) if outcome is None or outcome in outcomes[c]]
        if not pool:
            raise JourneyError(_none_message(where, outcome, counts, settings))
        chosen = min(pool, key=rank)
        fits = len(pool)
        how = _how_chosen(outcome, steps[chosen], pool, steps, people, chosen)
    uids = users.get(chosen, [])
    index = {uid: i for i, uid in enumerate(uids)}
    evs = tuple(Event(t, w, index.get(u) if u >= 0 else None)
                for t, w, u in events.get(chosen, []))
    return Journey(
        scenario=scenario, settings=settings, seed=s, replication=replication,
        horizon=o.horizon, company=chosen, companies=n, size=int(o.teams["size"][chosen]),
        team=_team_row(o, chosen), spells=_spells(o, chosen), state=states[chosen],
        people=people[chosen], events=evs, steps=steps[chosen], outcomes=outcomes[chosen],
        chosen=how, candidates=fits, outcome_counts=counts)


def _founder_invited_all(people: Sequence[Person]) -> bool:
    """Whether every teammate came by the founder's own invitation."""
    return len(people) > 1 and all(p.inviter == 0 for p in people[1:])


def _off_size(signups: int) -> int:
    """How many signups a team is outside :data:`TEAM_SIGNUPS` (0: inside)."""
    lo, hi = TEAM_SIGNUPS
    return max(0, lo - signups, signups - hi)


def _how_chosen(outcome: str | None, got: tuple[str, ...], pool: Sequence[int],
                steps: Mapping[int, tuple[str, ...]], people: Mapping[int, Sequence[Person]],
                chosen: int) -> str:
    """The choice rule as it applied, in one sentence."""
    level = [c for c in pool if len(steps[c]) == len(got)]
    if len(got) == len(STEPS):
        furthest = "went all the way (" + "; ".join(w for _, w in STEPS) + ")"
    elif got:
        furthest = "got furthest (" + "; ".join(w for k, w in STEPS if k in got) + ")"
    else:
        furthest = "got furthest (none reached value)"
    among = (f"of the {len(pool):,} with outcome {outcome} ({OUTCOMES[outcome][0]}), "
             if outcome else "")
    lo, hi = TEAM_SIGNUPS
    off = _off_size(len(people[chosen]))
    size = f"{lo}" if lo == hi else f"{lo} to {hi}"
    mates = f"{lo - 1}" if lo == hi else f"{lo - 1} to {hi - 1}"
    invited = " they invited" if _founder_invited_all(people[chosen]) else ""
    fit = (f"of those with {size} signups (a founder and {mates} teammates{invited})"
           if not off else f"of those nearest {size} signups (none had {size})")
    return (f"{among}{len(level):,} compan{'y' if len(level) == 1 else 'ies'} {furthest}; "
            f"this is the first created {fit}")


def _none_message(where: str, outcome: str | None, counts: Mapping[str, int],
                  settings: Settings) -> str:
    if outcome is None:
        return f"{where} touched no company (no one came): try a longer --horizon"
    why = _IMPOSSIBLE.get(outcome, lambda _st: "")(settings)
    seen = [f"{k} ({v:,})" for k, v in counts.items() if v]
    return (f"--outcome {outcome}: no company in {where} {OUTCOMES[outcome][0]}"
            + (f" ({why})" if why else "")
            + (f"; outcomes that occur there: {', '.join(seen)}" if seen else "")
            + "; try another --outcome, --seed or --replication")
