"""The codes of the engines' states, channels and leads, declared once.

The simulation stores them as small integers in its columns (:mod:`flywheel.engines.model`),
:mod:`flywheel.metrics` reads them back, and the mean-field twin's team classes use the
team states it shares with the simulation.  Each enum's member order is its code, and
its labels (``labels(UserState)`` -> ``("onboarding", "active", ...)``) are the names the
results use.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "PAYWALL_PENDING",
    "Channel",
    "LeadKind",
    "LeadOutcome",
    "PaidStart",
    "TeamState",
    "UserState",
    "labels",
]


class UserState(IntEnum):
    """Final state of a signup at the horizon; every signup is in exactly one."""

    ONBOARDING = 0
    ACTIVE = 1
    ABANDONED = 2
    CHURNED = 3
    LOST_ACCESS = 4
    BLOCKED = 5
    WAITING = 6


class Channel(IntEnum):
    """Acquisition channel of a signup (``SALES``: a seat of a won contract, rolled out)."""

    ORGANIC = 0
    PAID = 1
    REFERRAL = 2
    INVITE = 3
    SALES = 4


class TeamState(IntEnum):
    """A team's (company's) plan.  A prospect is a company in the sales pipeline with no
    product yet (sales-led, or an outbound lead); a contract is a won deal."""

    FREE = 0
    TRIAL = 1
    PAYING = 2
    CAPPED = 3
    NO_ACCESS = 4
    PROSPECT = 5
    CONTRACT = 6


class PaidStart(IntEnum):
    """How a self-serve paid spell began: an upgrade at the free tier's paywall, a trial
    converted at its end, a purchase by a company whose trial had ended without buying
    (when someone new came), or a win-back: a company that had cancelled a paid plan
    buying again (when someone new came).  The last two reopen a company that had lost
    the product."""

    UPGRADE = 0
    TRIAL_CONVERTED = 1
    BOUGHT_AFTER_TRIAL = 2
    WON_BACK = 3


#: The mean-field twin's extra team class: a free team whose paywall decision is under
#: way (the simulation keeps that as a flag beside FREE, ``Model.c_pending``).  A code of
#: its own, after every :class:`TeamState`.
PAYWALL_PENDING = max(TeamState) + 1


class LeadKind(IntEnum):
    """Where a sales lead came from: a product-qualified lead, or a cold one (outbound,
    or an inbound enquiry from a company sold sales-led: in a sales-led motion, or the
    hybrid's large companies)."""

    PQL = 0
    COLD = 1


class LeadOutcome(IntEnum):
    """How a sales lead ended, or where it is at the horizon."""

    WAITING = 0
    WORKING = 1
    WON = 2
    LOST = 3
    WENT_COLD = 4


def labels(codes: type[IntEnum]) -> tuple[str, ...]:
    """The members' names in lower case, in code order (what results and metrics show)."""
    return tuple(m.name.lower() for m in sorted(codes))
