"""A starter scenario from a few answers: what ``flywheel init`` writes.

A founder answers what kind of product it is, how it is sold, how many people sign up a
week and the price; :func:`starter_toml` writes a scenario that sets exactly those keys
(and the few a product kind implies), every line commented with its unit and meaning from
:data:`~flywheel.scenario.defaults.PARAMS`.  It extends nothing: every other parameter is
its default, which ``flywheel validate FILE`` lists with where each came from.  Paid
acquisition is off (the default budget is 0) unless a budget is asked for.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from flywheel.scenario.defaults import PARAMS_BY_PATH
from flywheel.scenario.files import toml_value

__all__ = ["CHARGES", "KINDS", "MOTIONS", "Answers", "starter_toml"]


#: Product kinds: what each implies beyond the defaults (a freemium B2B developer tool),
#: with where it comes from, as (parameter, value, why).
KINDS: dict[str, tuple[str, tuple[tuple[str, Any, str], ...]]] = {
    "devtool": ("a developer tool adopted bottom-up by small teams (the defaults)", ()),
    "collaboration": ("a tool teams work in together", (
        ("collaboration.invites", {"dist": "poisson", "mean": 2},
         "a tool people use with colleagues is shared more: two invites a user, twice the "
         "default (assumption)"),
    )),
    "data-integration": ("a tool that needs approval and configuration before production "
                         "value", (
        ("onboarding.setup_friction", {"dist": "gamma", "mean": "14d", "cv": 0.3},
         "IT approval, security review and configuration take about two weeks (as the "
         "shipped data-integration-trial story; assumption)"),
    )),
}

#: How the product is sold: the motion's keys.
MOTIONS: dict[str, tuple[str, tuple[tuple[str, Any], ...]]] = {
    "freemium": ("a free tier with limits, then a paid plan", (("pricing.model", "freemium"),)),
    "trial": ("a 14-day free trial without a card, then a paid plan or nothing", (
        ("pricing.model", "trial"),)),
    "card-trial": ("a free trial that needs a credit card (billed unless cancelled)", (
        ("pricing.model", "trial"), ("trial.card_required", True))),
    "reverse-trial": ("full access for a trial, then the free tier", (
        ("pricing.model", "reverse_trial"),)),
}


#: How the paid plan charges, and the parameter the price answer sets.
CHARGES: dict[str, tuple[str, str]] = {
    "per_seat": ("per seat", "pricing.price_per_seat"),
    "flat": ("a flat plan with included seats", "pricing.plan_price"),
    "usage": ("metered usage", "pricing.price_per_unit"),
}


@dataclass(frozen=True)
class Answers:
    """What ``flywheel init`` asks: the product ``kind`` (:data:`KINDS`), the ``motion``
    (:data:`MOTIONS`), organic signups a week, how the plan charges (:data:`CHARGES`), the
    price (in that charge's unit: $ per seat per month, $ per month for the flat plan, $ per
    usage unit) and an optional paid budget ($ per month; 0: no paid acquisition)."""

    name: str = "my-product"
    kind: str = "devtool"
    motion: str = "freemium"
    signups_per_week: float = 150.0
    price: float = 15.0
    paid_budget: float = 0.0
    charge: str = "per_seat"


def _comment(path: str, why: str = "") -> str:
    p = PARAMS_BY_PATH[path]
    unit = f"[{p.unit}] " if p.unit else ""
    return f"{unit}{p.meaning}" + (f" Here: {why}" if why else "")


def _line(path: str, value: Any, why: str = "") -> list[str]:
    key = path.split(".", 1)[1]
    text = textwrap.wrap(_comment(path, why), width=86)
    return [*(f"# {t}" for t in text), f"{key} = {toml_value(value)}"]


def _starter_share(motion_keys: tuple[tuple[str, Any], ...]) -> float:
    """Share of would-be founders who sign up under the motion (Settings.starter_share),
    so that the organic contacts written give the signups a founder counts."""
    from flywheel.scenario.files import load_scenario_text
    from flywheel.scenario.settings import Settings

    sets = [f"{path}={toml_value(value)}" for path, value in motion_keys]
    return Settings.of(load_scenario_text("", overrides=sets)).starter_share


def starter_toml(answers: Answers) -> str:
    """The starter scenario's text for ``answers`` (checked: an unknown kind or motion is
    a ``ValueError`` naming what is allowed)."""
    if answers.kind not in KINDS:
        raise ValueError(f"kind {answers.kind!r}: one of {', '.join(KINDS)}")
    if answers.motion not in MOTIONS:
        raise ValueError(f"motion {answers.motion!r}: one of {', '.join(MOTIONS)}")
    if answers.charge not in CHARGES:
        raise ValueError(f"charge {answers.charge!r}: one of {', '.join(CHARGES)}")
    charge_text, price_key = CHARGES[answers.charge]
    kind_text, kind_keys = KINDS[answers.kind]
    motion_text, motion_keys = MOTIONS[answers.motion]
    share = _starter_share(motion_keys)
    contacts = answers.signups_per_week / share
    keys: list[tuple[str, Any, str]] = [
        ("acquisition.organic", f"{contacts:.4g}/week",
         f"your {answers.signups_per_week:g} signups a week from people who came on their "
         "own (search, community, word of mouth before the product)"
         + ("" if share == 1 else f", of whom {share:.0%} take the offer and sign up "
            "(the motion's toll: trial.signup_factor, trial.card_signup_factor)")),
    ]
    if answers.paid_budget:
        keys.append(("acquisition.paid_budget", f"{answers.paid_budget:g}/month",
                     "your paid acquisition budget"))
    keys += [(path, value, "") for path, value in motion_keys]
    if answers.charge != "per_seat":
        keys.append(("pricing.charge", answers.charge, ""))
    keys.append((price_key, float(answers.price), "your list price"))
    keys += list(kind_keys)
    lines = [
        f"# {answers.name}: a starter scenario written by `flywheel init`.",
        f"# Product: {kind_text}. Sold by {motion_text}; the paid plan charges "
        f"{charge_text}.",
        "#",
        "# Every key below is one of your answers or follows from them; every other",
        "# parameter is Flywheel's default (see `flywheel validate` on this file for all of",
        "# them with their units, and docs/scenarios.md for their meanings and sources).",
        "# Paid acquisition is " + ("on, at your budget." if answers.paid_budget else
                                   "off (acquisition.paid_budget is 0) until you set a budget."),
        "# Next: `flywheel run` on this file, then change one number at a time.",
        "",
        f"name = {toml_value(answers.name)}",
        f"description = {toml_value(f'{kind_text.capitalize()}, sold by {motion_text}')}",
    ]
    sections: dict[str, list[str]] = {}
    for path, value, why in keys:
        sections.setdefault(path.split(".", 1)[0], []).extend(_line(path, value, why))
    for section, body in sections.items():
        lines += ["", f"[{section}]", *body]
    return "\n".join(lines) + "\n"
