"""One company's journey told as a story (``flywheel trace``): the words of a world whose
every event is known, the default pick on story 1, the filters, unknown events, and the
command line."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import QUIET, play, scenario
from test_cli import assert_user_error

from flywheel.cli import main
from flywheel.engines.model import Outcome
from flywheel.outputs.journey import (
    EVENT_HEADER,
    SENTENCES,
    duration,
    event_rows,
    name,
    story_lines,
    story_text,
)
from flywheel.outputs.report import trace_report
from flywheel.scenario.files import Scenario, load_scenario
from flywheel.studies.journey import (
    OUTCOMES,
    Event,
    Journey,
    JourneyError,
    choose,
    journey,
    plan_spans,
)
from flywheel.studies.journey import play as play_replication

SEED = 20261123


# -- a world whose every event is known ---------------------------------------------------------

@pytest.fixture(scope="module")
def known() -> Journey:
    """QUIET (tests/conftest.py): value 1 day after signing up (half that for invitees), 2
    invites each, all accepted, arriving 2 days later; a 3-seat free tier; the paywall decided
    in 3 days, always to upgrade; no churn.  One company of 4 people, founded at day 0:

    Ada signs up at 0, reaches value at 1 and invites 2 (Bo, Cy: arrive at 3, value at 3.5);
    Bo's invites find one person left (Di: arrives at 5.5); Cy is the third seat, so sends
    none; Di reaches value at 6, finds the 3 seats taken: the paywall, and the upgrade at 9
    with 4 seats at the baseline's $15 a seat."""
    sc = scenario(*QUIET)
    _, o = play(sc, horizon=40, trace=True, inject=(0.0, [4]))
    return choose(o, sc, seed=7)


def test_a_known_world_is_told_line_by_line(known: Journey) -> None:
    # paid: 4 seats x 31 days (9 to 40) x $15 per 30.4375-day month = $61.1
    assert [f"day {ln.day}  {ln.text}" for ln in story_lines(known)] == [
        "day 0  Ada comes across the product and signs up, the company's first user.",
        "day 1  Ada reaches value 1 day after signing up and invites teammates: Bo and Cy "
        "accept, joining on day 3.",
        "day 3  Bo joins on Ada's invitation; 12 hours later they reach value and invite "
        "teammates: Di accepts, joining on day 5.",
        "day 3  Cy joins on Ada's invitation; 12 hours later they reach value.",
        "day 5  Di joins on Bo's invitation.",
        "day 6  Di reaches value 12 hours after signing up, but all 3 free seats are taken: "
        "the team meets the paywall (6 days after Ada signed up), and Di waits for a seat.",
        "day 9  After 3 days of deciding, the team upgrades: 4 seats at $15 a seat, $60 a "
        "month (its 4 users value a seat at about $1,319,508, at least the $15 price).",
        "day 40  The story ends: the team pays $60 a month for 4 seats; it paid $61 in all. "
        "Of its 4 signups: 4 active.",
    ]


def test_the_header_says_where_who_and_why(known: Journey) -> None:
    head = story_text(known, width=0).splitlines()[:4]
    assert head[0] == "baseline, seed 7, replication 1: company 0 of 1, over 40 days"
    assert head[1] == "A company of 4 people; 4 signed up, its founder on day 0."
    assert head[2].startswith("Chosen: 1 company went all the way")
    assert head[3] == "Freemium: a free tier of 3 seats, then $15 a seat a month."


def test_numbers_come_from_the_settings() -> None:
    """Change the price and the seat limit: the story changes with them."""
    sc = scenario(*QUIET, "pricing.price_per_seat=20", "free_tier.seat_limit=2")
    _, o = play(sc, horizon=40, trace=True, inject=(0.0, [4]))
    text = story_text(choose(o, sc, seed=7), width=0)
    assert "all 2 free seats are taken" in text
    assert "at $20 a seat" in text
    assert "$15" not in text


def test_the_plan_over_time_and_the_events_table(known: Journey) -> None:
    assert plan_spans(known) == [(0.0, 9.0, "free"), (9.0, 40.0, "paying")]
    rows = event_rows(known)
    assert len(rows) == len(known.events) == 13
    assert rows[0] == [0.0, 0, "signup:organic", "Ada", 0, 1]
    assert rows[-1] == [9.0, 9, "upgrade", "", "", 7]
    assert len(EVENT_HEADER) == len(rows[0])


def test_names_and_durations() -> None:
    assert [name(i) for i in (0, 1, 2, 25, 26, 27)] == ["Ada", "Bo", "Cy", "Zoe", "Ada 2", "Bo 2"]
    assert [duration(d) for d in (9 / 1440, 5 / 24, 1.0, 3.2, 100.0)] == [
        "9 minutes", "5 hours", "1 day", "3 days", "3 months"]


# -- story 1: the dev tool -------------------------------------------------------------------

@pytest.fixture(scope="module")
def devtool() -> tuple[Scenario, Outcome]:
    """Replication 1 of devtool-story with its seed and event log (about a second)."""
    sc = load_scenario("devtool-story")
    return sc, play_replication(sc)


def test_the_default_pick_on_story_1_went_all_the_way(devtool: tuple[Scenario, Outcome]) -> None:
    """Story 1: a developer signs up, reaches value fast, invites teammates who come, the
    team outgrows the free tier and upgrades: in that order of days, and still pays."""
    sc, o = devtool
    j = choose(o, sc, SEED)
    assert j.went_all_the_way and j.state == "paying"
    assert 3 <= len(j.people) <= 5
    lines = story_lines(j)
    days = [ln.day for ln in lines]
    assert days == sorted(days)

    def first(pattern: str) -> int:
        found = [ln.day for ln in lines if re.search(pattern, ln.text)]
        assert found, pattern
        return found[0]

    order = [first(p) for p in (r"^Ada .* signs up", r"reach(es)? value",
                                r"joins on Ada's invitation", r"meets the paywall",
                                r"the team upgrades: \d+ seats at \$15 a seat")]
    assert order == sorted(order)
    # value the day Ada signed up (the story: "a first project in 10 minutes"; p90 1 hour)
    assert re.search(r"; \d+ (minutes|hour) later they reach value", lines[0].text)
    assert lines[-1].text.startswith("The story ends: the team pays $")


def test_the_same_seed_and_replication_tell_the_same_story() -> None:
    sc = load_scenario("devtool-story", ["simulation.horizon=120d"])
    a = story_text(journey(sc))
    assert story_text(journey(sc)) == a
    assert story_text(journey(sc, replication=2)) != a


def test_a_replication_is_the_one_flywheel_run_plays() -> None:
    """Replication 2 traced is replication 2 of a run with the same seed: same signups."""
    from flywheel.studies.runner import simulate

    sc = load_scenario("baseline", ["simulation.horizon=30d"])
    run = simulate(sc, replications=2, seed=5, jobs=1)
    traced = [len(play_replication(sc, seed=5, replication=r).users["signup"]) for r in (1, 2)]
    assert traced == run.values("signups")
    assert traced[0] != traced[1]


@pytest.mark.parametrize("outcome", ["upgraded", "capped", "churned", "cancelled"])
def test_a_filter_tells_a_company_with_that_outcome(devtool: tuple[Scenario, Outcome],
                                                   outcome: str) -> None:
    sc, o = devtool
    j = choose(o, sc, SEED, outcome=outcome)
    assert outcome in j.outcomes
    assert f"outcome {outcome}" in j.chosen
    text = story_text(j, width=0)
    word = {"upgraded": "upgrades", "capped": "does not pay", "churned": "churns",
            "cancelled": "cancels"}[outcome]
    # a team whose last user churns ends its paid plan without cancelling on its own
    assert word in text or outcome in ("churned", "cancelled") and "paid plan ends" in text


def test_an_outcome_no_company_had_is_one_clear_error(devtool: tuple[Scenario, Outcome]) -> None:
    sc, o = devtool
    with pytest.raises(JourneyError, match=r"--outcome pql: no company in replication 1 of "
                       r"devtool-story .*\(it has no sales team\); outcomes that occur there: upgraded"):
        choose(o, sc, SEED, outcome="pql")


def test_a_company_out_of_range_is_one_clear_error(devtool: tuple[Scenario, Outcome]) -> None:
    sc, o = devtool
    n = len(o.teams["created"])
    with pytest.raises(JourneyError, match=rf"--company {n}: .* has companies 0 to {n - 1}"):
        choose(o, sc, SEED, company=n)
    assert choose(o, sc, SEED, company=0).company == 0


# -- every event has words, and an unknown one does not break the story ----------------------

def _with_events(j: Journey, names: list[str]) -> Journey:
    """``j`` with its events replaced: each of ``names`` in turn, a day apart, about Ada when
    the event is a person's (``signup:``, ``activated``...), else about the team."""
    personal = ("signup", "activated", "abandoned", "invite", "churned", "blocked")
    events = tuple(Event(float(i), w, 0 if w.startswith(personal) else None)
                   for i, w in enumerate(names))
    return dataclasses.replace(j, events=events)


def test_every_event_has_a_sentence_of_its_own(known: Journey) -> None:
    detail = {"signup:": "organic", "turned_away:": "paid", "lead_cold:": "pql",
              "lead_lost:": "cold"}
    names = [w + detail.get(w, "") for w in SENTENCES]
    lines = story_lines(_with_events(known, names))
    assert len(lines) >= len(names) // 2
    assert not [ln.text for ln in lines if "(event " in ln.text]


def test_events_of_other_branches_and_unknown_ones_read_plainly(known: Journey) -> None:
    names = ["paywall:winback", "declined:winback", "won_back", "setup_done",
             "setup_abandoned", "brand_new:thing", "signup:carrier_pigeon"]
    lines = [ln.text for ln in story_lines(_with_events(known, names))]
    assert lines[:5] == [
        "Someone comes back to the company that had cancelled: it meets the paywall again.",
        "After 1 day of deciding, the company decides not to come back.",
        "The company comes back and buys again at $15 a seat a month.",
        "The team finishes its production setup.",
        "The team gives up on its production setup.",
    ]
    assert lines[5] == "The team: brand new, thing (event brand_new:thing)."
    assert lines[6].startswith("Ada signs up (carrier_pigeon)")
    # the same events about a person
    about_ada = dataclasses.replace(known, events=(Event(1.0, "setup_done", 0),
                                                   Event(2.0, "brand_new", 0)))
    assert [ln.text for ln in story_lines(about_ada)][:2] == [
        "Ada finishes the production setup.", "Ada: brand new (event brand_new)."]


def test_every_event_a_traced_run_logs_has_a_sentence(devtool: tuple[Scenario, Outcome]) -> None:
    _, o = devtool
    sc = scenario(*QUIET, "pricing.model=trial")
    _, trial = play(sc, horizon=40, trace=True, inject=(0.0, [4, 1]))
    seen = {w for log in (o.trace, trial.trace) for _, w, _, _ in log or ()}
    known_names = {s for s in SENTENCES if not s.endswith(":")}
    prefixes = tuple(s for s in SENTENCES if s.endswith(":"))
    assert {w for w in seen if w not in known_names and not w.startswith(prefixes)} == set()


# -- the page and the command line ---------------------------------------------------------------

def test_the_page_puts_the_timeline_beside_the_words(known: Journey) -> None:
    html = trace_report(known)
    assert html.count('<span class="day">') == len(story_lines(known))
    assert 'class="journey"' in html and "data:image/png;base64," in html
    assert "Di waits for a seat" in html
    assert "http" not in html.replace("http-equiv", "")  # self-contained


def test_cli_trace_tells_story_1_and_writes_its_page(cwd: Path) -> None:
    result = CliRunner().invoke(main, ["trace", "devtool-story", "--out", "story"])
    assert result.exit_code == 0, result.output
    assert "went all the way" in result.stdout
    assert "the team upgrades" in result.stdout
    assert "The same story again: flywheel trace devtool-story --seed 20261123" in result.stdout
    files = {p.name for p in (cwd / "story").iterdir()}
    assert {"story.txt", "report.html", "timeline.png", "events.csv", "people.csv",
            "scenario.toml", ".flywheel.json"} <= files
    assert (cwd / "story" / "story.txt").read_text() in result.stdout
    # written once; again without --force is refused, with --force replaced
    again = CliRunner().invoke(main, ["trace", "devtool-story", "--out", "story"])
    assert_user_error(again, "story already exists")
    forced = CliRunner().invoke(main, ["trace", "devtool-story", "--out", "story", "--force"])
    assert forced.exit_code == 0, forced.output


def test_cli_trace_refuses_a_company_out_of_range(cwd: Path) -> None:
    result = CliRunner().invoke(main, ["trace", "devtool-story", "--company", "999999",
                                       "--horizon", "30d"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --company 999999: replication 1 of devtool-story")
    assert "has companies 0 to" in last
    assert not (cwd / "results").exists() or not any((cwd / "results").iterdir())


def test_cli_trace_refuses_company_and_outcome_together(cwd: Path) -> None:
    result = CliRunner().invoke(main, ["trace", "--company", "1", "--outcome", "capped"])
    assert result.exit_code == 2
    assert "not both" in result.output


def test_outcomes_are_listed_in_the_help() -> None:
    result = CliRunner().invoke(main, ["trace", "--help"])
    assert result.exit_code == 0
    for outcome in OUTCOMES:
        assert outcome in result.output


@pytest.mark.parametrize("name, words", [
    ("charge-per-seat", "$15 a seat a month"),
    ("charge-flat", "$45 a month for up to 10 seats, then $15 a seat"),
    ("charge-usage", "a usage unit (1 a day per active user)"),
    ("charge-annual", "$15 a seat a month, billed yearly at 17% off"),
])
def test_the_story_tells_the_price_as_the_plan_charges_it(name: str, words: str) -> None:
    """The plan's sentence and each purchase speak the scenario's charge: a flat plan's
    price and included seats, a metered unit price, an annual discount."""
    from flywheel.outputs.journey import plan_sentence, price_words
    from flywheel.scenario.settings import Settings

    st = Settings.of(load_scenario(name))
    assert words in price_words(st) and words in plan_sentence(st)
