"""One company's journey in plain words: a day-stamped story, line by line.

:func:`story_lines` turns a :class:`~flywheel.studies.journey.Journey` (its people and
events) into lines such as ``day 0   Ada clicks an ad and signs up, the company's first
user; 9 minutes later they reach value and invite teammates: Bo accepts, joining on day
3.``  People are named by the order they signed up (:data:`NAMES`), times are in words,
and each event says why it happened: the free tier's limits, the price, the trial's length
and the sales rules are read from the scenario's settings, never typed here.

Every event the model logs has a sentence (:data:`SENTENCES` names them); an event it does
not know yet gets a plain generic one, so a new event never breaks a story.  A person's
reaching value, their invitations and what their arrival does to the team (a paid seat,
the paywall, a seat refused) join the line where they signed up when they happen the same
day, with nothing about the team in between.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from flywheel.scenario.defaults import DAYS_PER_MONTH
from flywheel.scenario.settings import Settings
from flywheel.studies.journey import Event, Journey, Person

__all__ = ["NAMES", "SENTENCES", "EVENT_HEADER", "Line", "PEOPLE_HEADER", "duration", "ending", "event_rows",
           "header_lines", "long", "money", "name", "people_rows", "plan_sentence",
           "story_lines", "story_text"]

#: First names, by the order people signed up in the company (the founder is Ada); past
#: the 26th they come round again with a number ("Ada 2").
NAMES = ("Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu", "Max",
         "Ned", "Oz", "Pia", "Quin", "Rae", "Sam", "Tia", "Uma", "Vic", "Wes", "Xia", "Yan",
         "Zoe")

#: Events with a sentence of their own (any other gets a generic one); ``x:`` stands for
#: every ``x:<detail>``.
SENTENCES = (
    "signup:", "activated", "abandoned", "invite", "churned", "blocked", "paywall:seats",
    "paywall:usage", "paywall:after_trial", "paywall:winback", "declined",
    "declined:after_trial", "declined:winback", "upgrade", "trial_converted",
    "bought_after_trial", "won_back", "trial_ended:free", "trial_ended:lost_access",
    "cancelled", "cancelled:no_users", "contract_ended", "turned_away:", "pql",
    "lead_cold:", "lead_lost:", "won", "renewed", "setup_done", "setup_abandoned",
)

#: How each channel brings someone, as a verb phrase (singular) and as a short "by" phrase.
_ARRIVES = {
    "organic": ("comes across the product and signs up", "unprompted"),
    "paid": ("clicks an ad and signs up", "from an ad"),
    "referral": ("hears of it from someone at another company and signs up",
                 "on word of mouth"),
    "invite": ("joins on an invitation", "on an invitation"),
    "sales": ("gets one of the contract's seats and signs up", "for a contract seat"),
}

_EPS = 1e-9


def name(index: int) -> str:
    """The name of the ``index``-th person to sign up in a company (0: the founder)."""
    base = NAMES[index % len(NAMES)]
    return base if index < len(NAMES) else f"{base} {index // len(NAMES) + 1}"


def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def duration(days: float) -> str:
    """A length of time in words: ``moments``, ``9 minutes``, ``5 hours``, ``3 days``,
    ``4 months``."""
    minutes = days * 1440.0
    if minutes < 0.5:
        return "moments"
    if minutes < 59.5:
        return _plural(round(minutes), "minute")
    if minutes < 23.5 * 60:
        return _plural(round(minutes / 60.0), "hour")
    if days < 60:
        return _plural(round(days), "day")
    return _plural(round(days / DAYS_PER_MONTH), "month")


def long(days: float) -> str:
    """A length as an adjective: ``14-day``, ``12-month``."""
    number, _, unit = duration(days).partition(" ")
    return f"{number}-{unit.removesuffix('s')}" if unit else number


def money(x: float) -> str:
    """Dollars: ``$45``, ``$1,234``, ``$12.50``."""
    return f"${x:,.0f}" if abs(x - round(x)) < 0.005 else f"${x:,.2f}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.3g}"


def _day(t: float) -> int:
    return int(math.floor(t + _EPS))


def _join_words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def price_words(st: Settings) -> str:
    """The paid plan's price in a few words, under the scenario's charge and billing:
    ``$15 a seat a month``, ``$49 a month for up to 10 seats, then $15 a seat``, ``$0.50 a
    usage unit (5 a day per active user)``, each ``billed yearly at 17% off`` on an annual
    plan."""
    p = st.pricing
    if p.charge == "flat":
        text = (f"{money(p.plan_price)} a month for up to {_plural(p.plan_seats, 'seat')}, "
                f"then {money(p.price_per_seat)} a seat")
    elif p.charge == "usage":
        text = (f"{money(p.price_per_unit)} a usage unit ({_number(st.free_tier.usage_per_user)}"
                " a day per active user)")
    else:
        text = f"{money(p.price_per_seat)} a seat a month"
    return text + _yearly(st)


def _yearly(st: Settings) -> str:
    """``, billed yearly at 17% off`` on an annual plan, else nothing."""
    p = st.pricing
    return f", billed yearly at {p.annual_discount:.0%} off" if p.billing == "annual" else ""


def plan_sentence(st: Settings) -> str:
    """What the scenario offers a company, in one sentence, from its settings."""
    price = price_words(st)
    ft = st.free_tier
    limits = []
    if ft.seat_limit:
        limits.append(_plural(ft.seat_limit, "seat"))
    if ft.usage_limit:
        limits.append(f"{_number(ft.usage_limit)} usage units ({_number(ft.usage_per_user)} "
                      "a day per active user)")
    tier = ("a free tier of " + _join_words(limits)) if limits else "a free tier without limits"
    model = st.pricing.model
    length = duration(st.trial.length)
    card = ", card required" if st.card_trial else ""
    if model == "freemium":
        text = f"Freemium: {tier}, then {price}."
    elif model == "trial":
        text = f"Free trial: {length} of full access{card}, then {price} or no product."
    elif model == "reverse_trial":
        text = f"Reverse trial: {length} of full access, then {tier}, or {price}."
    elif model == "sales_led":
        text = "Sales-led: no product before a deal with the sales team."
    else:
        text = f"Plan {model}: {price}."
    sa = st.sales
    if sa.hybrid and not st.pricing.sales_led:
        text += (f" A company of more than {_number(sa.enterprise_size)} people is sold "
                 "sales-led instead: no product before a deal.")
    if sa.servers:
        rule = "" if st.pricing.sales_led else _pql_rule(st)
        text += (f" A sales team of {_plural(sa.reps, 'rep')} sells annual contracts at "
                 f"{money(sa.price_per_seat)} a seat a month"
                 + (f"; a team becomes a product-qualified lead at {rule}" if rule else "")
                 + ".")
    return text


def _pql_rule(st: Settings) -> str:
    sa = st.sales
    parts = []
    if sa.pql_users:
        parts.append(f"{_plural(sa.pql_users, 'active user')}")
    if sa.pql_usage:
        parts.append(f"{_number(sa.pql_usage)} usage units")
    return (" and " if sa.pql_all else " or ").join(parts)


@dataclass(frozen=True)
class Line:
    """One line of a story: the time of its first event, its day, its words and the events
    it tells (by their index in the journey's events)."""

    t: float
    day: int
    text: str
    events: tuple[int, ...] = ()


class _Teller:
    """Turns a journey's events into lines (see the module's docstring for the rules)."""

    def __init__(self, j: Journey) -> None:
        self.j = j
        self.st = j.settings
        self.ev = j.events
        self.used: set[int] = set()
        self.limit = ""  # the free-tier limit of the last paywall: "seats" or "usage"
        self.paywall_t = math.nan
        self.invitees = self._invitees()

    # -- who joined on whose invitation ---------------------------------------------------

    def _invitees(self) -> dict[int, list[list[Person]]]:
        """For each inviter, the people who came on their invitations, in groups by the
        moment they were sent (each group as many as the log's accepted invites)."""
        came: dict[int, list[Person]] = {}
        for p in self.j.people:
            if p.inviter is not None:
                came.setdefault(p.inviter, []).append(p)
        groups: dict[int, list[list[Person]]] = {}
        i = 0
        while i < len(self.ev):
            e = self.ev[i]
            if e.what == "invite" and e.person is not None:
                k = self._group_end(i) - i
                pool = came.get(e.person, [])
                groups.setdefault(e.person, []).append(pool[:k])
                came[e.person] = pool[k:]
                i += k
            else:
                i += 1
        return groups

    def _group_end(self, i: int) -> int:
        """Past the run of ``invite`` entries that starts at ``i`` (one inviter, one time)."""
        e = self.ev[i]
        k = i
        while (k < len(self.ev) and self.ev[k].what == "invite"
               and self.ev[k].person == e.person and self.ev[k].t == e.t):
            k += 1
        return k

    # -- looking ahead ----------------------------------------------------------------------

    def _next_of(self, i: int, person: int, day: int) -> int | None:
        """The index of ``person``'s next unused event after ``i`` on ``day``, if no team
        event comes between."""
        for k in range(i + 1, len(self.ev)):
            e = self.ev[k]
            if _day(e.t) != day:
                return None
            if k in self.used:
                continue
            if e.person is None:
                return None
            if e.person == person:
                return k
        return None

    def _at_once(self, i: int, what: str, person: int | None) -> int | None:
        """An unused event ``what`` of ``person`` (None: the team) at the same instant as
        event ``i``."""
        t = self.ev[i].t
        for k in range(i + 1, len(self.ev)):
            e = self.ev[k]
            if e.t != t:
                return None
            if k not in self.used and e.what == what and e.person == person:
                return k
        return None

    # -- pieces -------------------------------------------------------------------------

    def who(self, person: int | None) -> str:
        return "the team" if person is None else name(person)

    def seats_words(self, t: float) -> str:
        """What the company pays just after ``t``: ``$45 a month for 3 seats``."""
        j = self.j
        seats = j.paid_seats_at(t + _EPS)
        return f"{money(j.mrr_at(t + _EPS))} a month for {_plural(seats, 'seat')}"

    def invite_clause(self, i: int, they: bool) -> str:
        """``invite(s) teammates: Bo accepts, joining on day 3`` for the run of invites at
        ``i`` (marked used)."""
        e = self.ev[i]
        end = self._group_end(i)
        self.used.update(range(i, end))
        k = end - i
        assert e.person is not None
        groups = self.invitees.get(e.person, [])
        came = groups.pop(0) if groups else []
        verb = "invite" if they else "invites"
        if came:
            names = _join_words([name(p.index) for p in came])
            days = sorted({_day(p.signup) for p in came})
            when = (f"on day {days[0]}" if len(days) == 1 else
                    f"on days {days[0]} and {days[1]}" if len(days) == 2 else
                    f"between days {days[0]} and {days[-1]}")
            text = (f"{verb} teammates: {names} accept{'s' if len(came) == 1 else ''}, "
                    f"joining {when}")
        else:
            text = f"{verb} teammates"
        rest = k - len(came)
        if rest:
            text += (f"{';' if came else ':'} {rest} {'more ' if came else ''}"
                     f"accept{'s' if rest == 1 else ''} but never join{'s' if rest == 1 else ''}")
        return text

    def after_seat(self, i: int, person: int, they: bool) -> str:
        """What follows a person reaching value at event ``i``, at that instant: invites,
        a seat refused, the paywall, a paid seat."""
        parts = []
        t = self.ev[i].t
        blocked = self._at_once(i, "blocked", person)
        wall = self._at_once(i, "paywall:seats", None)
        if blocked is not None:
            self.used.add(blocked)
            return (", but the team, capped on the free tier, has no seat for "
                    f"{'them' if they else name(person)} (blocked)")
        if wall is not None:
            self.used.add(wall)
            first = math.isnan(self.paywall_t)
            self.limit, self.paywall_t = "seats", t
            since = (f" ({duration(t - self.j.people[0].signup)} after {name(0)} signed up)"
                     if first else "")
            return (f", but all {_plural(self.st.free_tier.seat_limit, 'free seat')} are "
                    f"taken: the team meets the paywall{since}, and "
                    f"{'they wait' if they else name(person) + ' waits'} for a seat")
        inv = self._at_once(i, "invite", person)
        if inv is not None:
            parts.append(" and " + self.invite_clause(inv, they))
        if self.j.paid_seats_at(t + _EPS) and self.j.people[person].start == t:
            parts.append(f"; a paid seat: the team now pays {self.seats_words(t)}")
        return "".join(parts)

    # -- one line per unused event ------------------------------------------------------------

    def line(self, i: int) -> str:
        e = self.ev[i]
        self.used.add(i)
        kind, _, detail = e.what.partition(":")
        method = getattr(self, f"on_{kind}", None)
        text = method(i, e, detail) if method is not None else None
        return text if text is not None else self.generic(e)

    def generic(self, e: Event) -> str:
        words = e.what.replace("_", " ").replace(":", ", ")
        return f"{self.who(e.person)}: {words} (event {e.what})"

    def on_signup(self, i: int, e: Event, channel: str) -> str | None:
        if e.person is None:
            return None
        p = self.j.people[e.person]
        n = name(p.index)
        if channel == "invite":
            by = name(p.inviter) if p.inviter is not None else None
            text = f"{n} joins on {by}'s invitation" if by else f"{n} joins on an invitation"
        else:
            text = f"{n} {_ARRIVES.get(channel, (f'signs up ({channel})', ''))[0]}"
        if p.index == 0:
            text += ", the company's first user"
        k = self._next_of(i, p.index, _day(e.t))
        if k is not None and self.ev[k].what in ("activated", "abandoned"):
            self.used.add(k)
            dt = self.ev[k].t - e.t
            if self.ev[k].what == "abandoned":
                if dt < _EPS:
                    return text + ", but leaves without trying the product"
                return text + f"; {duration(dt)} later they give up before reaching value"
            return (text + f"; {duration(dt)} later they reach value"
                    + self.after_seat(k, p.index, they=True))
        return text

    def on_activated(self, i: int, e: Event, _: str) -> str | None:
        if e.person is None:
            return None
        p = self.j.people[e.person]
        return (f"{name(p.index)} reaches value {duration(e.t - p.signup)} after signing up"
                + self.after_seat(i, p.index, they=False))

    def on_abandoned(self, _i: int, e: Event, _: str) -> str | None:
        if e.person is None:
            return None
        p = self.j.people[e.person]
        return (f"{name(p.index)} gives up {duration(e.t - p.signup)} after signing up, "
                "before reaching value")

    def on_invite(self, i: int, e: Event, _: str) -> str | None:
        if e.person is None:
            return None
        self.used.discard(i)
        return f"{name(e.person)}, now with a seat, " + self.invite_clause(i, they=False)

    def on_blocked(self, _i: int, e: Event, _: str) -> str | None:
        if e.person is None:
            return None
        return f"{name(e.person)}, waiting for a seat, is left without one (blocked)"

    def on_churned(self, i: int, e: Event, _: str) -> str | None:
        if e.person is None:
            return None
        p = self.j.people[e.person]
        text = (f"{name(p.index)} stops using the product (churns) after "
                f"{duration(e.t - p.start)} with a seat")
        gone = self._at_once(i, "cancelled:no_users", None)
        if gone is not None:
            self.used.add(gone)
            return text + ("; with no one left, the team's paid plan ends after "
                           f"{duration(e.t - self.j.spell_start(e.t))} of paying")
        left = self.j.seats_at(e.t + _EPS)
        if self.j.paid_seats_at(e.t + _EPS):
            return text + f"; the team now pays {self.seats_words(e.t)}"
        return text + f"; {_plural(left, 'active user')} left"

    def on_paywall(self, _i: int, e: Event, why: str) -> str | None:
        ft = self.st.free_tier
        first = math.isnan(self.paywall_t)
        self.paywall_t = e.t
        since = (f"{duration(e.t - self.j.people[0].signup)} after {name(0)} signed up, "
                 if first and self.j.people else "")
        if why == "seats":
            self.limit = "seats"
            return (f"{since}the team has more people than the free tier's "
                    f"{_plural(ft.seat_limit, 'seat')}: it meets the paywall")
        if why == "usage":
            self.limit = "usage"
            return (f"{since}the team has used the free tier's {_number(ft.usage_limit)} usage "
                    f"units ({_number(ft.usage_per_user)} a day per active user): it meets the "
                    "paywall")
        if why == "after_trial":
            return ("someone new comes to the company after its trial ended: it meets the "
                    "paywall")
        if why == "winback":
            return ("someone comes back to the company that had cancelled: it meets the "
                    "paywall again")
        return None

    def _deciding(self, t: float) -> str:
        return "" if math.isnan(self.paywall_t) else f"after {duration(t - self.paywall_t)} of deciding, "

    def on_declined(self, i: int, e: Event, why: str) -> str | None:
        lead = self._deciding(e.t)
        if why == "after_trial":
            return f"{lead}the company does not buy: it stays without the product"
        if why == "winback":
            return f"{lead}the company decides not to come back"
        if why:
            return None
        ft = self.st.free_tier
        if self.limit == "seats":
            cap = f"no more than {_plural(ft.seat_limit, 'seat')}"
        elif self.limit == "usage":
            cap = f"its usage held at {_number(ft.usage_limit)} units"
        else:
            cap = "at its limit"
        text = f"{lead}the team does not pay: it stays on the free tier, capped ({cap})"
        valued = self._valued(self.j.seats_at(e.t))
        if valued:
            text += f"; {valued}" + (", but they do not buy this time" if "at least" in valued
                                     else "")
        left = []
        for k in range(i + 1, len(self.ev)):
            ev = self.ev[k]
            if ev.t != e.t:
                break
            if ev.what == "blocked" and ev.person is not None and k not in self.used:
                self.used.add(k)
                left.append(name(ev.person))
        if left:
            text += (f"; {_join_words(left)}, waiting for a seat, "
                     f"{'is' if len(left) == 1 else 'are'} left without one (blocked)")
        return text

    def _buys(self, t: float) -> str:
        j = self.j
        seats = j.paid_seats_at(t + _EPS)
        p = self.st.pricing
        if not seats:
            return f" at {price_words(self.st)}"
        mrr = money(j.mrr_at(t + _EPS))
        yearly = _yearly(self.st)
        if p.charge == "flat":
            return (f": the {money(p.plan_price)} plan (up to {_plural(p.plan_seats, 'seat')}) "
                    f"for {_plural(seats, 'seat')}, {mrr} a month{yearly}")
        if p.charge == "usage":
            return (f": metered at {money(p.price_per_unit)} a usage unit, "
                    f"{_plural(seats, 'seat')} using it, {mrr} a month{yearly}")
        return (f": {_plural(seats, 'seat')} at {money(p.price_per_seat)} a seat, {mrr} a "
                f"month{yearly}")

    def _valued(self, n: int) -> str:
        """What a team of ``n`` users values a seat at against the price (willingness to
        pay, grown with the team), in a few words."""
        wtp = self.j.team.get("wtp", math.nan)
        if math.isnan(wtp) or not n:
            return ""
        st, p = self.st, self.st.pricing
        intensity = self.j.team.get("intensity", 1.0)
        value = wtp * p.value_factor(n) * p.intensity_factor(intensity)
        bill = st.seat_bill(n, intensity)
        verb = "values" if n == 1 else "value"
        who = "the user" if n == 1 else f"its {n} users"
        side = "at least" if value >= bill else "below"
        price = (f"the {money(bill)} price" if p.charge == "per_seat" and p.billing == "monthly"
                 else f"the {money(bill)} a seat it would pay")
        return f"{who} {verb} a seat at about ${value:,.0f}, {side} {price}"

    def on_upgrade(self, _i: int, e: Event, _: str) -> str:
        valued = self._valued(self.j.paid_seats_at(e.t + _EPS))
        return (f"{self._deciding(e.t)}the team upgrades{self._buys(e.t)}"
                + (f" ({valued})" if valued else ""))

    def on_trial_converted(self, _i: int, e: Event, _: str) -> str:
        return f"the {long(self.st.trial.length)} trial ends and the team buys{self._buys(e.t)}"

    def on_bought_after_trial(self, _i: int, e: Event, _: str) -> str:
        return (f"{self._deciding(e.t)}the company buys{self._buys(e.t)}; whoever came "
                "meanwhile signs up now")

    def on_won_back(self, _i: int, e: Event, _: str) -> str:
        return f"the company comes back and buys again{self._buys(e.t)}"

    def on_trial_ended(self, _i: int, e: Event, how: str) -> str | None:
        trial = f"the {long(self.st.trial.length)} trial ends without a purchase"
        if how == "free":
            return f"{trial}: the team falls back to the free tier"
        if how == "lost_access":
            return f"{trial}: the team loses the product{self._losing(e.t)}"
        return None

    def _losing(self, t: float) -> str:
        k = self.j.seats_at(t - _EPS)
        return f" ({_plural(k, 'active user')} lose{'s' if k == 1 else ''} access)" if k else ""

    def on_cancelled(self, _i: int, e: Event, why: str) -> str | None:
        paid = duration(e.t - self.j.spell_start(e.t))
        if why == "no_users":
            return f"with no active user left, the team's paid plan ends after {paid}"
        if why:
            return None
        return f"the team cancels its paid plan after {paid}: it loses the product{self._losing(e.t)}"

    def on_contract_ended(self, _i: int, e: Event, _: str) -> str:
        return f"the contract is not renewed: the company loses the product{self._losing(e.t)}"

    def on_turned_away(self, _i: int, _e: Event, channel: str) -> str:
        how = _ARRIVES.get(channel, ("", f"({channel})"))[1]
        return f"someone from the company comes {how}, but it no longer has the product"

    def on_pql(self, _i: int, e: Event, _: str) -> str:
        rule = _pql_rule(self.st)
        k = self.j.seats_at(e.t + _EPS)
        return (f"with {_plural(k, 'active user')}, the team becomes a product-qualified lead"
                + (f" (the rule: {rule})" if rule else "") + ": it joins the sales team's queue")

    def on_lead_cold(self, _i: int, _e: Event, _kind: str) -> str:
        return "the lead waits too long for a sales rep and goes cold"

    def on_lead_lost(self, _i: int, _e: Event, _kind: str) -> str:
        return "a sales rep works the lead, but the deal is lost"

    def on_won(self, _i: int, _e: Event, _: str) -> str:
        team, sa = self.j.team, self.st.sales
        return (f"the sales team wins the deal: an annual contract for "
                f"{_plural(int(team['contract_seats']), 'seat')} at "
                f"{money(sa.price_per_seat)} a seat a month, {money(team['contract_acv'])} a year")

    def on_renewed(self, _i: int, _e: Event, _: str) -> str:
        return f"the contract renews for another {duration(self.st.sales.term)}"

    def on_setup_done(self, _i: int, e: Event, _: str) -> str:
        if e.person is None:
            return "the team finishes its production setup"
        return f"{name(e.person)} finishes the production setup"

    def on_setup_abandoned(self, _i: int, e: Event, _: str) -> str:
        if e.person is None:
            return "the team gives up on its production setup"
        return f"{name(e.person)} gives up on the production setup"


def story_lines(j: Journey) -> list[Line]:
    """The journey as day-stamped lines, in time order, ending with where the company
    stands at the horizon."""
    teller = _Teller(j)
    lines = []
    if j.team.get("prospect"):
        t = j.team["created"]
        lines.append(Line(t, _day(t), "The company enters the sales team's pipeline as a cold "
                          "lead: it has no product until a deal."))
    for i, e in enumerate(j.events):
        if i in teller.used:
            continue
        before = set(teller.used)
        text = teller.line(i)
        told = tuple(sorted(teller.used - before | {i}))
        lines.append(Line(e.t, _day(e.t), _cap(text) + ".", told))
    lines.append(Line(j.horizon, _day(j.horizon), _cap(ending(j)) + "."))
    return lines


def ending(j: Journey) -> str:
    """Where the company stands at the horizon, and what became of its people."""
    at = j.horizon - _EPS
    active = j.seats_at(at)
    users = _plural(active, "active user")
    state = j.state
    if state == "paying" and not active:
        text = "the story ends: the team is on a paid plan, but no one holds a seat ($0 a month)"
    elif state == "paying":
        text = f"the story ends: the team pays {money(j.mrr_at(at))} a month for {_plural(active, 'seat')}"
    elif state == "contract":
        text = (f"the story ends: the company has a contract, {money(j.team['contract_acv'])} a "
                f"year, and {users}")
    elif state == "capped":
        text = f"the story ends: the team is still on the free tier, capped, with {users}"
    elif state == "free":
        text = f"the story ends: the team is on the free tier with {users}"
    elif state == "trial":
        text = f"the story ends with the team on its trial, with {users}"
    elif state == "no_access" and j.team.get("prospect") and math.isnan(j.team["contract_start"]):
        text = "the story ends: the company never got the product"
    elif state == "no_access":
        text = "the story ends: the company no longer has the product"
    elif state == "prospect":
        text = "the story ends: the company is still a prospect of the sales team"
    else:
        text = f"the story ends: the team's plan is {state}, with {users}"
    paid = j.revenue()
    if paid > 0:
        text += f"; it paid {money(round(paid))} in all"
    counts: dict[str, int] = {}
    for p in j.people:
        counts[p.state] = counts.get(p.state, 0) + 1
    words = {"active": "active", "churned": "churned", "abandoned": "gave up before value",
             "lost_access": "lost access", "blocked": "blocked", "waiting": "waiting for a seat",
             "onboarding": "still onboarding"}
    if j.people:
        text += (f". Of its {_plural(len(j.people), 'signup')}: "
                 + ", ".join(f"{v} {words.get(k, k.replace('_', ' '))}" for k, v in counts.items()))
    return text


def header_lines(j: Journey) -> list[str]:
    """Who, where and why: the scenario, seed, replication, company, its size and how it
    was chosen; then what the scenario offers."""
    sc = j.scenario
    founder = f", its founder on day {_day(j.people[0].signup)}" if j.people else ""
    return [
        f"{sc.name}, seed {j.seed}, replication {j.replication}: company {j.company} of "
        f"{j.companies:,}, over {_number(j.horizon)} days",
        f"A company of {_plural(j.size, 'person').replace('persons', 'people')}; "
        f"{len(j.people)} signed up{founder}.",
        f"Chosen: {j.chosen}.",
        plan_sentence(j.settings),
    ]


def story_text(j: Journey, width: int = 100) -> str:
    """The header, then the story: one day-stamped line per moment, wrapped at ``width``
    under its own text (0: no wrapping)."""
    lines = story_lines(j)
    stamp = max(len(f"day {ln.day}") for ln in lines) + 2
    out = [textwrap.fill(h, width=width, break_on_hyphens=False) if width else h
           for h in header_lines(j)] + [""]
    for ln in lines:
        head = f"day {ln.day}".ljust(stamp)
        if width:
            out.append(textwrap.fill(ln.text, width=width, initial_indent=head,
                                     subsequent_indent=" " * stamp, break_on_hyphens=False))
        else:
            out.append(head + ln.text)
    return "\n".join(out) + "\n"


# -- tables ------------------------------------------------------------------------------------

#: Columns of a journey's events.csv: one row per entry of the event log.
EVENT_HEADER = ["time_days", "day", "event", "person", "user_id", "line"]
#: Columns of a journey's people.csv: one row per signup, in signup order.
PEOPLE_HEADER = ["person", "user_id", "channel", "invited_by", "signup_days", "value_days",
                 "abandon_days", "seat_start_days", "seat_end_days", "state_at_horizon"]


def event_rows(j: Journey, lines: Sequence[Line] | None = None) -> list[list[object]]:
    """The company's events as rows of :data:`EVENT_HEADER` (``line``: the story line, from
    1, that tells the event)."""
    told = {}
    for k, ln in enumerate(lines if lines is not None else story_lines(j), start=1):
        for i in ln.events:
            told[i] = k
    rows: list[list[object]] = []
    for i, e in enumerate(j.events):
        person = "" if e.person is None else name(e.person)
        user = "" if e.person is None else j.people[e.person].user
        rows.append([e.t, _day(e.t), e.what, person, user, told.get(i, "")])
    return rows


def people_rows(j: Journey) -> list[list[object]]:
    """The company's people as rows of :data:`PEOPLE_HEADER` (times in days since launch,
    empty when it never happened; a seat still held at the horizon ends empty)."""
    def t(x: float) -> object:
        return "" if math.isnan(x) or math.isinf(x) else x

    return [[name(p.index), p.user, p.channel,
             "" if p.inviter is None else name(p.inviter), p.signup, t(p.value), t(p.abandon),
             t(p.start), t(p.end) if not math.isnan(p.start) else "", p.state]
            for p in j.people]
