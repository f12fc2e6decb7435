"""What a scenario sets, in a few lines a founder can check before reading any result.

Two things a run could otherwise hide: which acquisition channels bring people in, and at
what rate; and which parameters the scenario sets beyond the defaults, with the file (or
``--set``) that set each one.  ``flywheel run``, ``flywheel compare`` and the run report
all print them from here, so they say the same thing in the same words:

    Acquisition: organic 21.4 contacts/day; paid $3,000/month ≈ 3.29 contacts/day (at $30
      per contact); word of mouth 0.01/month per active user; invites 1 per activated
      user, 25% accepted.
    Set beyond the defaults (2):
      baseline.toml: acquisition.paid_budget = "3000/month", pricing.model = "freemium"

The pieces are structured (:class:`Channel`, :class:`SetValue`, :class:`Line`); a caller
prints :attr:`Line.text` (a report) or :meth:`Line.wrapped` (a terminal).  Rates come from
:class:`~flywheel.scenario.settings.Settings` (paid contacts per day, outbound leads per
day, the mean invites), never re-derived here.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flywheel.scenario.defaults import DAYS_PER_MONTH, PARAMS
from flywheel.scenario.files import (
    DEFAULT_SOURCE,
    SET_SOURCE,
    Scenario,
    builtin_scenarios_dir,
    toml_value,
)
from flywheel.scenario.settings import Settings

__all__ = [
    "SET_HEADING",
    "Channel",
    "Line",
    "SetValue",
    "acquisition_channels",
    "acquisition_line",
    "comparison_overview",
    "overview",
    "overview_text",
    "set_beyond_defaults",
    "set_groups",
    "set_lines",
    "shared_settings",
    "where",
]

#: Heading of the list of parameters a scenario sets.
SET_HEADING = "Set beyond the defaults"


@dataclass(frozen=True)
class Channel:
    """One way people reach the product: ``name`` (``"organic"``, ``"paid"``, ``"word of
    mouth"``, ``"invites"``, ``"sales"``), whether it is on, and ``text``, its rate in
    words (or what is off)."""

    name: str
    on: bool
    text: str


@dataclass(frozen=True)
class SetValue:
    """A parameter a scenario sets: its path, its value as written (TOML) and where it was
    set (a file as the user named it, or ``--set``)."""

    path: str
    value: str
    source: str

    @property
    def text(self) -> str:
        """``path = value``."""
        return f"{self.path} = {self.value}"


# -- numbers in words -------------------------------------------------------------------------

def _amount(x: float) -> str:
    """A rate or count as a reader would say it: 21.4, 3.29, 0.000329, 1,186."""
    if x == 0:
        return "0"
    if abs(x) >= 999.5:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _money(x: float) -> str:
    return "$" + (f"{x:,.0f}" if abs(x) >= 100 else _amount(x))


def _percent(p: float) -> str:
    return f"{_amount(100 * p)}%"


def _per_period(per_day: float) -> str:
    """A small per-day rate in the period that reads best: per day, else per month."""
    if per_day >= 0.1:
        return f"{_amount(per_day)}/day"
    return f"{_amount(per_day * DAYS_PER_MONTH)}/month"


# -- acquisition -----------------------------------------------------------------------------

def acquisition_channels(scenario: Scenario | Settings) -> list[Channel]:
    """Every acquisition channel of ``scenario``, on or off, with its rate: organic
    contacts, paid contacts (the budget and what it buys), word of mouth, invites, and the
    sales team (only when there is one)."""
    st = Settings.of(scenario)
    acq, collab, sales = st.acquisition, st.collaboration, st.sales
    channels = []
    if acq.organic > 0:
        growth = (f", growing {_percent(acq.organic_growth)}/month" if acq.organic_growth > 0
                  else f", shrinking {_percent(-acq.organic_growth)}/month"
                  if acq.organic_growth < 0 else "")
        channels.append(Channel("organic", True,
                                f"organic {_amount(acq.organic)} contacts/day{growth}"))
    else:
        channels.append(Channel("organic", False, "no organic contacts"))
    if acq.paid_budget > 0:
        channels.append(Channel(
            "paid", True,
            f"paid {_money(acq.paid_budget * DAYS_PER_MONTH)}/month ≈ "
            f"{_amount(acq.paid_contacts)} contacts/day "
            f"(at {_money(acq.paid_cost_per_signup)} per contact)"))
    else:
        channels.append(Channel("paid", False, "no paid budget"))
    if acq.referral > 0:
        channels.append(Channel("word of mouth", True,
                                f"word of mouth {_per_period(acq.referral)} per active user"))
    else:
        channels.append(Channel("word of mouth", False, "no word of mouth"))
    invites = collab.invites_mean
    if invites > 0 and collab.acceptance > 0:
        channels.append(Channel("invites", True,
                                f"invites {_amount(invites)} per activated user, "
                                f"{_percent(collab.acceptance)} accepted"))
    else:
        channels.append(Channel("invites", False,
                                f"invites {_amount(invites)} per activated user, none accepted"
                                if invites > 0 else "no invites"))
    if sales.reps > 0:
        parts = [f"sales {sales.reps} rep{'s' if sales.reps != 1 else ''}"]
        if sales.outbound_rate > 0:
            parts.append(f"{_amount(sales.outbound_rate)} outbound leads/day")
        if sales.pql_on and not st.pricing.sales_led:  # PQLs need a self-serve plan
            signals = []
            if sales.pql_users > 0:
                signals.append(f"{sales.pql_users}+ active users")
            if sales.pql_usage > 0:
                signals.append(f"{_amount(sales.pql_usage)} usage units")
            joint = " and " if sales.pql_all else " or "
            parts.append("PQLs at " + joint.join(signals))
        if st.pricing.sales_led:
            parts.append(f"{_percent(sales.inbound_share)} of contacts reaching a new company "
                         "ask for a demo")
        elif sales.hybrid:
            parts.append(f"companies of more than {sales.enterprise_size:,} people sales-led "
                         f"({_percent(sales.inbound_share)} of contacts reaching a new one "
                         "ask for a demo)")
        channels.append(Channel("sales", True, ", ".join(parts)))
    return channels


# -- what the scenario sets ------------------------------------------------------------------

def where(source: str) -> str:
    """Where a value was set, as short as it stays clear: a shipped scenario's file by its
    name (``baseline.toml``), a file under the working folder by its relative path, anything
    else (``--set``, ``default``, a path as the user gave it) as it is."""
    if not os.path.isabs(source):
        return source
    path = Path(source)
    try:
        if path.parent.resolve() == builtin_scenarios_dir().resolve():
            return path.name
        rel = os.path.relpath(path)
    except (OSError, ValueError):  # another drive (Windows), an unreadable folder
        return source
    return source if rel.startswith("..") else rel



def set_beyond_defaults(scenario: Scenario) -> list[SetValue]:
    """Every parameter ``scenario`` sets (by a file of its chain or ``--set``) rather than
    taking from the defaults, in the order of the parameter reference."""
    return [SetValue(p.path, toml_value(scenario.raw[p.path]), where(scenario.sources[p.path]))
            for p in PARAMS if scenario.sources[p.path] != DEFAULT_SOURCE]


def shared_settings(scenarios: Sequence[Scenario]) -> list[SetValue]:
    """What a comparison's scenarios all set alike: every parameter some of them set beyond
    the defaults whose value is the same in all; its source names each different place it
    was set, in the scenarios' order (``"a.toml / --set"``)."""
    out = []
    for p in PARAMS:
        raws = [sc.raw[p.path] for sc in scenarios]
        sources = [sc.sources[p.path] for sc in scenarios]
        if all(s == DEFAULT_SOURCE for s in sources) or any(r != raws[0] for r in raws[1:]):
            continue
        shown = dict.fromkeys(where(s) for s in sources)
        out.append(SetValue(p.path, toml_value(raws[0]), " / ".join(shown)))
    return out


def set_groups(rows: Sequence[SetValue]) -> list[tuple[str, list[SetValue]]]:
    """``rows`` by where they were set: the files in the order they first appear among
    the parameters, then ``--set`` (the parameters' order within each)."""
    groups: dict[str, list[SetValue]] = {}
    for row in rows:
        groups.setdefault(row.source, []).append(row)
    return sorted(groups.items(), key=lambda kv: kv[0].endswith(SET_SOURCE))


# -- lines -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One line of an overview: a ``head`` (``"Acquisition:"``, ``"baseline.toml:"``) and
    its ``items`` joined by ``sep``, then ``end``; ``level`` 1 is indented under the line
    above.  :meth:`wrapped` breaks it for a terminal between items, never inside one (a
    TOML inline table stays whole)."""

    head: str
    items: tuple[str, ...] = ()
    sep: str = ", "
    end: str = ""
    level: int = 0

    @property
    def text(self) -> str:
        """The whole line, unwrapped and unindented."""
        body = self.sep.join(self.items)
        return f"{self.head} {body}{self.end}" if body else self.head

    def wrapped(self, width: int = 92, indent: str = "  ") -> str:
        """The line indented by its level, broken before ``width`` between items; the lines
        it continues on are indented one step more."""
        lead = indent * self.level
        if not self.items:
            return lead + self.head
        lines = [f"{lead}{self.head}"]
        glue = self.sep.rstrip()
        for i, item in enumerate(self.items):
            piece = item + (glue if i < len(self.items) - 1 else self.end)
            if len(lines[-1]) + 1 + len(piece) <= width:
                lines[-1] += " " + piece
            elif len(lead + indent + piece) <= width:
                lines.append(lead + indent + piece)
            else:  # longer than a line on its own: broken between words
                words = textwrap.wrap(lines[-1] + " " + piece, width,
                                      subsequent_indent=lead + indent,
                                      break_long_words=False, break_on_hyphens=False)
                lines[-1:] = words
        return "\n".join(lines)


def acquisition_line(scenario: Scenario | Settings, head: str = "Acquisition:") -> Line:
    """The acquisition channels as one :class:`Line`."""
    return Line(head, tuple(c.text for c in acquisition_channels(scenario)), "; ", ".")


def set_lines(rows: Sequence[SetValue], heading: str = SET_HEADING) -> list[Line]:
    """``heading (N):`` then one line per place: ``baseline.toml: a = 1, b = "2d"``."""
    if not rows:
        return [Line(f"{heading}: nothing, every parameter is its default.")]
    return [Line(f"{heading} ({len(rows)}):"),
            *(Line(f"{source}:", tuple(r.text for r in group), level=1)
              for source, group in set_groups(rows))]


def overview(scenario: Scenario) -> list[Line]:
    """What ``scenario`` sets: its acquisition channels, then every parameter it sets
    beyond the defaults, grouped by where each was set."""
    return [acquisition_line(scenario), *set_lines(set_beyond_defaults(scenario))]


def comparison_overview(scenarios: Sequence[Scenario], labels: Sequence[str]) -> list[Line]:
    """What a comparison's scenarios set: the acquisition channels alike in all of them on
    one line, then each scenario's channels that differ; then the parameters they all set
    alike.  What they set differently is the comparison's own list of differences."""
    each = [{c.name: c for c in acquisition_channels(sc)} for sc in scenarios]
    names = list(dict.fromkeys(name for channels in each for name in channels))

    def text(channels: dict[str, Channel], name: str) -> str:
        found = channels.get(name)
        return found.text if found is not None else f"no {name} team"

    alike = [n for n in names if len({text(ch, n) for ch in each}) == 1]
    differ = [n for n in names if n not in alike]
    lines = []
    if alike:
        head = "Acquisition, in every scenario:" if not differ else (
            "Acquisition, alike in every scenario:")
        lines.append(Line(head, tuple(text(each[0], n) for n in alike), "; ", "."))
    if differ:
        lines.append(Line("Acquisition, by scenario:"))
        lines += [Line(f"{label}:", tuple(text(ch, n) for n in differ), "; ", ".", level=1)
                  for label, ch in zip(labels, each, strict=True)]
    return lines + set_lines(shared_settings(scenarios),
                             f"{SET_HEADING}, alike in every scenario")


def overview_text(lines: Sequence[Line], width: int = 92) -> str:
    """``lines`` for a terminal, each wrapped to ``width``."""
    return "\n".join(line.wrapped(width) for line in lines)
