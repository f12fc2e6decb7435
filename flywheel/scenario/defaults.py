"""Every scenario parameter, in one place: default, kind, unit, meaning and source.

A scenario file lists only what differs from these defaults.  The defaults
describe a believable freemium B2B developer tool (the shipped
``scenarios/baseline.toml``); where a default comes from a published figure
the ``source`` says which (see DESIGN's validity section for the ranges the
baseline's *measured* figures are checked against).

Kinds (how a TOML value is read, see :mod:`flywheel.scenario.files`):

``duration``      a string with a unit (``"10min"``, ``"2h"``, ``"3d"``, ``"2w"``, ``"1mo"``,
                  ``"1y"``); stored in days.
``rate``          a count per period (``"40/week"``); stored per day.
``probability``   a number in [0, 1].
``number``        a real number within ``[minimum, maximum]``.
``count``         a whole number within ``[minimum, maximum]``.
``bool``          ``true`` / ``false``.
``choice``        one of ``choices``.
``distribution``  an inline table ``{ dist = "...", ... }``; ``domain`` says whether its
                  values are durations (days) or counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Days in the calendar units used throughout (Julian year, its twelfth).
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
DAYS_PER_WEEK = 7.0

#: Limits on what a scenario may write, far beyond any believable value, so that every
#: accepted value runs: the longest duration anywhere (1000 years, in days), the largest
#: count a count distribution may give (a field, or its mean), the range of a gamma's
#: coefficient of variation, and the largest lognormal spread (p90 / median).
MAX_DURATION_YEARS = 1000
MAX_DURATION = MAX_DURATION_YEARS * DAYS_PER_YEAR
MAX_COUNT = 1_000_000_000
#: The largest price or cost a scenario may give, in $ (per seat, user or contact, per
#: month), and the largest usage threshold, in usage units.
MAX_MONEY = 1_000_000.0
MAX_USAGE = 1_000_000_000.0
GAMMA_CV_MIN = 0.01
GAMMA_CV_MAX = 100.0
LOGNORMAL_MAX_SPREAD = 10_000.0

#: Go-to-market models the engine carries: three self-serve plans, and sales-led (no
#: product access before a deal).  Sales-assist on PQLs works on top of any self-serve plan.
PRICING_MODELS = ("freemium", "trial", "reverse_trial", "sales_led")

#: How a paid plan charges: per active seat, a flat plan with included seats (seats beyond
#: at the seat price), or metered usage ($ per usage unit).
CHARGES = ("per_seat", "flat", "usage")
#: How often a paid plan is billed: monthly, or a year ahead (discounted, cancelled only at
#: a renewal).
BILLINGS = ("monthly", "annual")

#: How a company's signals combine into a product-qualified lead.
PQL_RULES = ("any", "all")


@dataclass(frozen=True)
class Param:
    """One scenario parameter."""

    path: str
    default: Any
    kind: str
    unit: str
    meaning: str
    source: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    domain: str = ""  # for distributions: "duration" or "count"
    #: For distributions: the largest value any field may give, and the largest mean
    #: (in days for durations), so a draw never asks the model for absurd work.
    dist_maximum: float | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def section(self) -> str:
        return self.path.split(".", 1)[0]


_P = Param

PARAMS: tuple[Param, ...] = (
    # -- simulation ---------------------------------------------------------------
    _P("simulation.horizon", "1y", "duration", "days",
       "How long the simulation runs, from launch day.", minimum=1.0, maximum=3653.0),
    _P("simulation.replications", 20, "count", "replications",
       "Monte Carlo replications per run (each with its own spawned seed).",
       minimum=1, maximum=100_000),
    _P("simulation.seed", 20261123, "count", "",
       "Root seed of numpy.random.SeedSequence; replication i uses its i-th child.",
       minimum=0, maximum=2**63 - 1),
    # -- market ---------------------------------------------------------------------
    _P("market.companies", 20_000, "count", "companies",
       "Companies in the addressable market. Each is materialised only when first touched.",
       minimum=1, maximum=1_000_000_000),
    _P("market.team_size", {"dist": "lognormal", "median": 6, "p90": 40}, "distribution",
       "potential users per company",
       "Potential users in a company (rounded to a whole number, at least 1).",
       source="assumption: small dev teams dominate, with a long tail of larger companies",
       domain="count", dist_maximum=1_000_000),
    # -- acquisition ----------------------------------------------------------------
    _P("acquisition.organic", "150/week", "rate", "contacts per day",
       "Organic contacts (search, content, community) while the market is untouched; a "
       "contact with someone already signed up is lost, so signups saturate (Bass's p).",
       minimum=0.0),
    _P("acquisition.organic_growth", 0.0, "number", "fraction per month",
       "Monthly growth of the organic contact rate (0.05 = +5% a month, compounding).",
       minimum=-1.0, maximum=10.0),
    _P("acquisition.paid_budget", "0/month", "rate", "$ per day",
       "Paid acquisition spend. The default is no paid acquisition: a scenario buys "
       "contacts only when it sets a budget.",
       source="the baseline's $3,000 a month is an assumption: a small seed-stage ads "
              "budget",
       minimum=0.0),
    _P("acquisition.paid_cost_per_signup", 30.0, "number", "$ per contact",
       "What paid acquisition pays per contact it brings (contacts = budget / this).",
       minimum=0.01, maximum=MAX_MONEY),
    _P("acquisition.referral", "0.01/month", "rate", "contacts per active user per day",
       "Word of mouth: contacts each active user makes with random people of the market "
       "(Bass's q); saturates as the market fills.", minimum=0.0),
    # -- onboarding -----------------------------------------------------------------
    _P("onboarding.no_show", 0.3, "probability", "",
       "Share of signups who never really try the product (they look and leave at once, "
       "however fast value would come).",
       source="assumption: sets the ceiling on activation; with it, a 10-minute TTV lifts the "
              "baseline's activation to ~70%, not to everyone"),
    _P("onboarding.ttv", {"dist": "lognormal", "median": "2.5d", "p90": "10d"},
       "distribution", "days",
       "Time to value a new user would need: signup (plus setup friction) to the moment "
       "they get value. Users who give up first are never measured, so the measured median "
       "TTV of activated users is shorter than this.",
       source="set so the measured median TTV lands near 1.5 days, the B2B SaaS median in "
              "Userpilot's time-to-value benchmark (547 companies)",
       domain="duration"),
    _P("onboarding.patience", {"dist": "exponential", "mean": "4.6d"}, "distribution", "days",
       "How long a new user keeps trying before giving up; TTV beyond it means abandonment.",
       source="set so the baseline's activation sits in the published 25-37% band (Rachitsky "
              "activation survey; Userpilot B2B benchmark): 4d with everyone alike, 4.6d "
              "with onboarding.commitment_spread = 0.5 keeps it (measured 36.2%, flywheel run "
              "baseline -n 10; 36.1% before)",
       domain="duration"),
    _P("onboarding.setup_friction", {"dist": "fixed", "value": "0d"}, "distribution", "days",
       "The company's setup (IT approval, security review, configuration), from its first "
       "signup until the product works on its own data: production value, which buying "
       "needs. Without a sandbox it is added to the TTV of the company's first signup, who "
       "sets the product up, so first value is production value; teammates join a set-up "
       "team. With the sandbox it runs beside first value: done at first signup + this "
       "draw if the team still has someone working on it (an active or onboarding user), "
       "else given up.",
       domain="duration"),
    _P("onboarding.sandbox", False, "bool", "",
       "A sandbox with sample data: users reach first value through it (sandbox_ttv), "
       "without the setup friction. The company's setup still runs from its first signup, "
       "and buying waits for it (production value): a trial team not set up by the trial's "
       "end does not convert, a free team's paywall decision waits until its setup is done "
       "(one that gave up its setup declines), and a company whose trial ended before its "
       "setup declines at the paywall after the trial."),
    _P("onboarding.sandbox_ttv", {"dist": "lognormal", "median": "15min", "p90": "2h"},
       "distribution", "days", "Time to value through the sandbox (used when sandbox = true).",
       domain="duration"),
    _P("onboarding.invited_ttv_factor", 0.5, "number", "multiplier",
       "Invited users' TTV as a multiple of a fresh signup's (a teammate shows them around).",
       source="assumption", minimum=0.0, maximum=10.0),
    _P("onboarding.commitment_spread", 0.5, "number", "log-patience per unit of commitment",
       "How much people differ in commitment: each signup has a commitment z ~ N(0, 1), drawn "
       "once, and their patience is multiplied by exp(spread x z - spread^2 / 2) (mean 1). "
       "In a trial only the committed would-be founders start (z above the threshold of "
       "the offer's share, trial.signup_factor, times the card's when one is asked). 0: "
       "everyone alike, the offer and the card filter at random.",
       source="assumption: sets how strongly the offer and the card select committed "
              "starters; with 0.5 and trial.card_convert_probability the card trial's "
              "conversion lands in the 30-60% opt-out band at 2.2x the opt-in trial's "
              "(onboarding.patience's mean set to keep the baseline's activation)",
       minimum=0.0, maximum=5.0),
    # -- collaboration --------------------------------------------------------------
    _P("collaboration.invites", {"dist": "poisson", "mean": 1.0}, "distribution",
       "invites per activated user",
       "Teammates each activated user invites from their own company.", domain="count",
       dist_maximum=1_000),
    _P("collaboration.acceptance", 0.25, "probability", "",
       "Probability an invite is accepted (the invitee signs up).",
       source="assumption, set so the baseline's viral coefficient sits in the B2B SaaS "
              "0.1-0.3 band (David Skok, forentrepreneurs.com)"),
    _P("collaboration.invite_delay", {"dist": "exponential", "mean": "3d"}, "distribution",
       "days", "From the inviter taking a seat to the invitee signing up.",
       domain="duration"),
    # -- retention ------------------------------------------------------------------
    _P("retention.churn_monthly", 0.06, "probability", "per month",
       "Probability an active user stops using the product within a month of taking a seat.",
       source="SMB self-serve churn runs 3-7% a month (SaaStr, Lemkin)"),
    _P("retention.tenure_shape", 1.0, "number", "",
       "Weibull shape of the churn hazard: 1 = constant hazard, < 1 = hazard decays with "
       "tenure.", minimum=0.05, maximum=10.0),
    # -- pricing --------------------------------------------------------------------
    _P("pricing.model", "freemium", "choice", "",
       "Go-to-market model: free tier with limits, time-limited trial, reverse trial "
       "(full access, then the free tier), or sales-led (no product before a deal; needs "
       "sales.reps >= 1).", choices=PRICING_MODELS),
    _P("pricing.price_per_seat", 15.0, "number", "$ per seat per month",
       "List price of a paid seat; every active user of a paying team is a seat.",
       minimum=0.0, maximum=MAX_MONEY),
    _P("pricing.upgrade_probability", 0.2, "probability", "",
       "Probability a free team that meets the paywall upgrades, if it values a seat at the "
       "price (pricing.willingness_to_pay); also a company that lost the product (its trial "
       "ended without buying, or it cancelled a paid plan) buying again when someone new of "
       "it comes.",
       source="set so the baseline's cohort free-to-paid (free_to_paid_90d: teams paying "
              "within 90 days of creation) sits in the 3-8% band (Rachitsky / Poyar "
              "freemium benchmarks): measured 5.3% (python -m "
              "flywheel.outputs.validation_report). It was 0.15 (5.1%) before willingness to "
              "pay: about a fifth of the teams at the paywall value a seat below the $15 list "
              "price, so the probability is raised by 1/0.78 to keep the figure; 0.27 when "
              "tuned to the pooled figure, whose value grows with the horizon"),
    _P("pricing.willingness_to_pay", {"dist": "lognormal", "median": 30, "p90": 100},
       "distribution", "$ per seat per month",
       "What a company would pay at most for a seat of a one-user team, drawn once per "
       "company when it is materialised (its own random stream, so a company has the same "
       "value whatever the price: common random numbers). Every buying decision (the "
       "paywall, a trial's end, buying again after a trial or a cancellation, a contract's "
       "signature) is made only if the team's value per seat, this times n^value_growth "
       "for a team of n users, is at least the price per seat it would pay.",
       source="the shape is the one price-sensitivity work uses: willingness to pay is "
              "positive and right-skewed across buyers (Van Westendorp price-sensitivity "
              "meters and conjoint studies show a long upper tail), and choice models "
              "commonly take its heterogeneity as lognormal (Train & Weeks 2005, 'WTP "
              "space'; Sonnier, Ainslie & Otter 2007, Quantitative Marketing and Economics "
              "5). The figures are an assumption: median $30 = 2x the baseline's $15 list "
              "seat (a self-serve price set well below the typical buyer's value, the "
              "'capture 10-20% of the value' rule of thumb), p90 $100 (sigma 0.94): 77% of "
              "one-user teams value a seat at $15 or more, 38% at $40; the revenue-maximising "
              "seat price of the baseline lies inside $20-60 (see docs/model.md)",
       domain="amount", dist_maximum=MAX_MONEY),
    _P("pricing.value_growth", 0.2, "number", "elasticity",
       "How a team's value per seat grows with its size: value per seat = willingness to "
       "pay x n^value_growth for a team of n users (active users and those waiting for a "
       "seat; for a contract, the company's people up to sales.buying_unit, or its seats "
       "if more; at least 1) at the decision. 0: a seat is worth the same in any team.",
       source="assumption: a collaboration tool is worth more per seat in a bigger team "
              "(a team of 5 values a seat 1.38x a solo user, of 50 2.2x); well below "
              "Metcalfe's proportional growth (value_growth 1)",
       minimum=0.0, maximum=2.0),
    _P("pricing.charge", "per_seat", "choice", "",
       "How a self-serve paid plan charges a team each month: \"per_seat\" = "
       "pricing.price_per_seat x its active users; \"flat\" = pricing.plan_price for up to "
       "pricing.plan_seats active users, each one beyond at pricing.price_per_seat; "
       "\"usage\" = pricing.price_per_unit x the usage units its users accrue "
       "(free_tier.usage_per_user x the company's usage intensity x active users). Every "
       "buying decision compares the team's value with the bill it would pay then, and "
       "every revenue figure (MRR, ARR, the MRR bridge, NRR, arpa, LTV) follows the bill. "
       "A team is billed while it has an active user (a paying team with none cancels).",
       choices=CHARGES),
    _P("pricing.plan_price", 49.0, "number", "$ per month",
       "A flat plan's price (pricing.charge = \"flat\"), whatever the seats up to "
       "pricing.plan_seats.",
       source="assumption: a 'Team' plan of $49 a month for up to 10 seats, typical of "
              "self-serve team plans",
       minimum=0.0, maximum=MAX_MONEY),
    _P("pricing.plan_seats", 10, "count", "seats",
       "Active users a flat plan includes; each one beyond is billed at "
       "pricing.price_per_seat (pricing.charge = \"flat\").",
       source="assumption: as pricing.plan_price", minimum=1, maximum=1_000_000),
    _P("pricing.price_per_unit", 0.5, "number", "$ per usage unit",
       "Metered price of a usage unit (pricing.charge = \"usage\"): a team's monthly bill "
       "is the units it accrues in the month (the unit of free_tier.usage_limit) x this.",
       source="assumption: at the default 1 unit a day an average seat accrues 30.4 units a "
              "month, $15.2 at $0.50: the list seat's $15",
       minimum=0.0, maximum=MAX_MONEY),
    _P("pricing.usage_spread", 0.0, "number", "coefficient of variation",
       "How much companies differ in how intensely they use the product: each company's "
       "usage intensity is lognormal with mean 1 and this coefficient of variation, drawn "
       "once when it is materialised (stream usage_intensity); its users accrue usage at "
       "free_tier.usage_per_user x its intensity, so a heavy team meets the free tier's "
       "usage limit sooner and pays a larger metered bill. 0: every company alike (no draw).",
       source="assumption: usage per account is right-skewed in metered products (a few "
              "heavy accounts carry most of the volume); the comparison's 1.0 puts 13% of "
              "companies above twice the mean",
       minimum=0.0, maximum=10.0),
    _P("pricing.usage_value", 1.0, "number", "elasticity",
       "How a team's value per seat grows with its usage intensity: willingness to pay x "
       "n^value_growth x intensity^usage_value. 1: a team that uses the product twice as "
       "much values it twice as much (the premise of usage-based pricing: the bill follows "
       "the value); 0: value does not depend on usage. No effect while "
       "pricing.usage_spread = 0.",
       source="assumption: value tracks use, the argument for a usage value metric "
              "(OpenView's usage-based pricing reports; Ramanujam & Tacke, 'Monetizing "
              "Innovation', 2016, ch. 6 on choosing the value metric)",
       minimum=0.0, maximum=5.0),
    _P("pricing.billing", "monthly", "choice", "",
       "How often a self-serve plan is billed: \"monthly\", or \"annual\": a year ahead at "
       "(1 - pricing.annual_discount) of the monthly bill, its revenue counted as the annual "
       "bill / 12 a month. An annual team's cancellation (its own, or its last active user "
       "leaving) takes effect at its next renewal (each anniversary of its purchase): it "
       "keeps the product and pays until then. Seats bought during the year are billed "
       "from when they are taken; a seat that leaves is billed until the renewal (the team "
       "pays for the most seats it had in the paid year, trued down at each renewal).",
       choices=BILLINGS),
    _P("pricing.annual_discount", 0.17, "probability", "share of the monthly bill",
       "Discount of an annual plan on twelve monthly bills (pricing.billing = \"annual\").",
       source="assumption: the common 'two months free' (2/12 = 0.167) of self-serve SaaS "
              "annual plans"),
    _P("pricing.tier2_price_per_seat", 0.0, "number", "$ per seat per month",
       "List price of a seat on a second paid tier above the first (good-better): a team "
       "on the first tier (pricing.price_per_seat) that reaches one of its limits "
       "(pricing.tier1_seat_limit, pricing.tier1_usage_limit) decides, after "
       "pricing.decision_delay, whether to move up: with probability "
       "pricing.tier2_upgrade_probability if it values a seat at this price "
       "(pricing.willingness_to_pay), and then pays it for every seat from the move (an "
       "expansion of its MRR); else it stays capped at the first tier's limits. The second "
       "tier has no limits. 0 = one paid tier. Needs pricing.charge = \"per_seat\" and a "
       "first-tier limit, and a price above pricing.price_per_seat; an annual plan takes "
       "its discount off both tiers.",
       source="assumption: off by default; the tiers comparison (compare-tiers.toml) sets "
              "a $30 Business tier over the $15 Team seat, 2x, the usual step between "
              "self-serve team and business plans",
       minimum=0.0, maximum=MAX_MONEY),
    _P("pricing.tier1_seat_limit", 0, "count", "seats",
       "Active users a team on the first paid tier may have when there is a second tier "
       "(pricing.tier2_price_per_seat > 0; 0 = no seat limit). As on the free tier: a user "
       "who reaches value when the team is at the limit waits and the team meets the "
       "upgrade decision; a team that stays on the first tier blocks users beyond it, and "
       "its seats send invites only while it is below the limit.",
       source="assumption: the comparison's 10 seats, a common 'Team' plan ceiling",
       minimum=0, maximum=1_000_000),
    _P("pricing.tier1_usage_limit", 0.0, "number", "usage units per month",
       "Monthly usage a team on the first paid tier may have when there is a second tier "
       "(0 = no usage limit): a team whose usage pace (active users x "
       "free_tier.usage_per_user x its usage intensity x a month) reaches it when a seat is "
       "taken meets the upgrade decision; one that stays on the first tier has its usage "
       "held at this pace.",
       source="assumption: the comparison's 1,000 units a month, 33 seats at mean usage "
              "(1 unit a day): binding only for heavy teams",
       minimum=0.0, maximum=MAX_USAGE),
    _P("pricing.tier2_upgrade_probability", 0.5, "probability", "",
       "Probability a first-tier team at one of its limits moves up to the second tier, if "
       "it values a seat at the second tier's price (its active and waiting users count).",
       source="assumption: a team already paying, card on file, blocked by a limit in its "
              "daily work moves up more readily than a free team at the paywall "
              "(pricing.upgrade_probability 0.2)"),
    _P("pricing.decision_delay", {"dist": "exponential", "mean": "3d"}, "distribution",
       "days", "Time a free team, or a company that lost the product when someone new of "
       "it comes, takes to decide at the paywall (trial-end decisions are immediate).",
       domain="duration"),
    # -- free tier ------------------------------------------------------------------
    _P("free_tier.seat_limit", 5, "count", "seats",
       "Active users a free team may have (0 = no seat limit).", minimum=0, maximum=1_000_000),
    _P("free_tier.usage_limit", 50.0, "number", "usage units",
       "Cumulative usage a free team may accrue (projects, builds, rows...; 0 = no limit).",
       source="assumption: at 1 unit a day a solo user outgrows the free tier in about 7 "
              "weeks, a pair in under 4, so the baseline's median time to paid is about 55 "
              "days (most freemium upgrades come within the first months; the 2026 "
              "Poyar/ChartMogul/ProductLed survey counts conversion within six months). "
              "It was 150 (median time to paid ~150 days: most teams met the paywall after "
              "the 90 days the cohort figure counts)",
       minimum=0.0, maximum=MAX_USAGE),
    _P("free_tier.usage_per_user", "1/day", "rate", "usage units per active user per day",
       "Usage each active user of a team accrues.", minimum=0.0),
    # -- trial ----------------------------------------------------------------------
    _P("trial.length", "14d", "duration", "days",
       "Length of the free trial (trial and reverse_trial models).", minimum=0.0),
    _P("trial.card_required", False, "bool", "",
       "Whether starting a trial needs a credit card (opt-out trial; pricing.model = "
       "\"trial\" only)."),
    _P("trial.convert_probability", 0.58, "probability", "",
       "Probability a team with at least one active user at the end of an opt-in (no card) "
       "trial buys, if it values a seat at the price (pricing.willingness_to_pay); a team "
       "with none loses access.",
       source="set so measured trial conversion lands in the 15-25% band for opt-in "
              "trials (Totango ~15%) and the card trial's stays at least 2x it (measured "
              "17.0% and 2.1x: flywheel run trial -n 10; python -m "
              "flywheel.outputs.validation_report), and the data-integration sandbox's, "
              "whose teams must finish their setup within the trial, inside the band too "
              "(16.5%); it was 0.5 (19.1%) before willingness to pay, which turns away about "
              "a fifth of the teams at the $15 list price"),
    _P("trial.card_convert_probability", 1.0, "probability", "",
       "Same, when a card is on file (an opt-out trial: billed unless the team cancels); a "
       "team with no active user at the end cancels. At 1, a card trial's team with an "
       "active user cancels only if it values a seat below the price.",
       source="set so measured conversion lands in the 30-60% opt-out band (Totango ~50%; "
              "Poyar/ChartMogul/ProductLed 2026 survey ~30%, over 5x no-card trials) and at "
              "least 2x the opt-in trial's: measured 36.4% against 17.0% (python -m "
              "flywheel.outputs.validation_report). It was 0.9 (42.4%) before willingness "
              "to pay; raised to 1, the price alone decides"),
    _P("trial.signup_factor", 0.8, "probability", "",
       "Share of the would-be founders a contact reaches who start an opt-in trial, "
       "relative to a free plan (a contact is someone who would sign up for a free plan; "
       "freemium's factor is 1 by that definition). A time-limited offer puts off the "
       "least committed (those with the lowest commitment z); invited and joining "
       "teammates of a team that has the product are not affected.",
       source="assumption within the published direction: free trials draw fewer signups "
              "than a free plan and convert slightly more of them, a difference wiped out "
              "once signup rates are counted (Poyar/ChartMogul/ProductLed 2026 survey, 200 "
              "B2B products); landing page to signup 8-10% for freemium vs 3-4% for a "
              "card trial in that survey's funnel (as read by RevTurbine, 'Freemium vs "
              "free trial for SaaS'); 0.8 x trial.card_signup_factor 0.2 = 0.16 of "
              "freemium for a card trial, below that reading's ~0.4 (Lean Analytics's card "
              "toll is steeper)"),
    _P("trial.reverse_signup_factor", 1.0, "probability", "",
       "Same, for a reverse trial (pricing.model = \"reverse_trial\").",
       source="assumption: a reverse trial ends in the free plan, so it is offered as one "
              "('start free') and draws as a free plan does"),
    _P("trial.card_signup_factor", 0.2, "probability", "",
       "Share of would-be trial starters who still start when a card is required (on top "
       "of trial.signup_factor): those most committed.",
       source="visitor to trial ~2% with card vs ~10% without: Lean Analytics "
              "(Croll & Yoskovitz)"),
    # -- paid -----------------------------------------------------------------------
    _P("paid.logo_churn_monthly", 0.02, "probability", "per month",
       "Probability a paying team cancels within a month for reasons of its own (a team "
       "whose last active user leaves cancels too; a company that cancelled may be won "
       "back when someone new of it comes).",
       source="set so the measured logo churn (both causes) sits in the SMB self-serve "
              "3-7% a month band (SaaStr, Lemkin)"),
    # -- sales ----------------------------------------------------------------------
    _P("sales.reps", 0, "count", "reps",
       "Account executives.  0 = no sales team: no PQLs, no outbound, no sales-led deals.",
       minimum=0, maximum=100_000),
    _P("sales.rep_capacity", 10, "count", "leads per rep",
       "Leads a rep works at once; the sales queue has reps x this many servers (a rep's "
       "deal slots).", source="assumption: an AE runs about ten active opportunities",
       minimum=1, maximum=10_000),
    _P("sales.rep_cost", "12500/month", "rate", "$ per rep per day",
       "Fully loaded cost of one rep.",
       source="assumption: ~$150k a year on-target earnings for a SaaS account executive"),
    _P("sales.pql_users", 0, "count", "users",
       "A company becomes a product-qualified lead (PQL) when it has at least this many "
       "active users on a self-serve plan (0 = this signal is off).",
       minimum=0, maximum=1_000_000),
    _P("sales.pql_usage", 0.0, "number", "usage units",
       "... or when its team has accrued this much usage (same units as "
       "free_tier.usage_limit; 0 = this signal is off).", minimum=0.0,
       maximum=MAX_USAGE),
    _P("sales.pql_rule", "any", "choice", "",
       "With both signals on: \"any\" = either one qualifies, \"all\" = both are needed.",
       choices=PQL_RULES),
    _P("sales.pql_cooldown", "90d", "duration", "days",
       "A company becomes a PQL at most once in this long; one that went cold or was lost "
       "qualifies again after it if it still meets the rule.", minimum=0.0),
    _P("sales.patience", {"dist": "exponential", "mean": "2w"}, "distribution", "days",
       "How long a lead waits for a rep before it goes cold (the queue's abandonment: "
       "Erlang-A).", source="assumption", domain="duration"),
    _P("sales.pql_cycle", {"dist": "lognormal", "median": "2w", "p90": "6w"}, "distribution",
       "days", "Time a rep works a PQL, from first call to won or lost.",
       source="assumption: PQLs already use the product, so the cycle is short",
       domain="duration"),
    _P("sales.cold_cycle", {"dist": "lognormal", "median": "5w", "p90": "12w"},
       "distribution", "days", "Time a rep works a cold (outbound or inbound) lead.",
       source="assumption: a few months for a mid-market deal", domain="duration"),
    _P("sales.close_base", 0.1, "probability", "",
       "The close function's base: probability a rep wins a lead with no product footprint "
       "(a cold lead: outbound, or a sales-led demo request).  Every lead is won with "
       "P = 1 / (1 + exp(-z)), z = logit(close_base) + close_users x ln(1 + active users) "
       "+ close_share x (active users / the company's people) + close_usage x ln(1 + "
       "user-months of usage), its footprint read when a rep takes it (0 or 1: every lead "
       "lost, or won).",
       source="assumption: about one cold opportunity in ten closes, a little below the "
              "~13% MQL-to-customer rate (UserGuiding and Data-Mania 2025-26 B2B SaaS "
              "benchmarks, as quoted by adsights.ai)"),
    _P("sales.close_users", 0.4, "number", "log-odds per e-fold of active users",
       "How much the account's active users raise the log-odds of a close, per unit of "
       "ln(1 + active users) when a rep takes the lead (0: users do not count).",
       source="set with close_share so that the enterprise story's PQLs (20+ active users) "
              "close at ~30%, measured ~3x cold outbound: inside OpenView's 2024 PLG "
              "benchmarks (PQLs convert 2-5x MQLs, as quoted by appcues.com) and the "
              "20-30% PQL-to-paid benchmark (UserGuiding, as quoted by adsights.ai)",
       minimum=-10.0, maximum=10.0),
    _P("sales.close_share", 1.0, "number", "log-odds at full adoption",
       "How much adoption's depth raises the log-odds of a close: this times the share of "
       "the company's people who are active users (1 = everyone), when a rep takes the "
       "lead.", source="assumption: wall-to-wall adoption (everyone active) multiplies the "
                       "odds of a close by e = 2.7 over a few users in a large company",
       minimum=-10.0, maximum=10.0),
    _P("sales.close_usage", 0.0, "number", "log-odds per e-fold of user-months",
       "How much accrued usage raises the log-odds of a close, per unit of ln(1 + "
       "user-months of usage) (usage / (free_tier.usage_per_user x a month)) when a rep "
       "takes the lead.  0, the default, leaves it out: usage is active users over time, "
       "so the users term carries most of it.", minimum=-10.0, maximum=10.0),
    _P("sales.outbound", "0/day", "rate", "leads per day",
       "Outbound prospecting: leads the sales team creates in untouched companies (in the "
       "hybrid, only those above sales.enterprise_size), in all.",
       minimum=0.0),
    _P("sales.outbound_per_rep", "0/month", "rate", "leads per rep per day",
       "... plus this many per rep.", minimum=0.0),
    _P("sales.inbound_share", 0.2, "probability", "",
       "Sales-led companies only (pricing.model = \"sales_led\", or the hybrid's above "
       "sales.enterprise_size): share of contacts (organic, paid, word of mouth) reaching "
       "such an untouched company who ask for a demo, making the company a cold lead; the "
       "rest leave, as there is no product to try.", source="assumption"),
    _P("sales.enterprise_size", 0, "count", "people",
       "The hybrid motion: companies with more people than this go sales-led (no product "
       "before a deal: a contact reaching one asks for a demo with sales.inbound_share, "
       "else leaves; outbound prospects only them), the rest self-serve on pricing.model, "
       "with PQLs if a PQL rule is on.  0 = off (needs sales.reps >= 1 when on).",
       source="the hybrid scenario's 250 is the European Commission's SME ceiling "
              "(Recommendation 2003/361/EC: fewer than 250 employees)",
       minimum=0, maximum=1_000_000_000),
    _P("sales.price_per_seat", 25.0, "number", "$ per seat per month",
       "Contract price of a seat (annual contracts; usually above the self-serve list price).",
       source="assumption: an enterprise plan at ~1.7x the self-serve seat", minimum=0.0,
       maximum=MAX_MONEY),
    _P("sales.seat_share", 0.5, "probability", "",
       "A contract covers this share of the company's people, at most sales.buying_unit "
       "seats, and at least its active users: seats = max(active users, min(ceil(share x "
       "people), buying_unit), 1); its annual value is seats x contract price x 12.",
       source="assumption: a first contract is for the team that would use the product"),
    _P("sales.buying_unit", 50, "count", "seats",
       "The most seats a contract buys beyond the users already active: one team or "
       "department signs first (land and expand), not the whole company.",
       source="land and expand: a first deal covers one team or workflow, ~$5k-50k a year "
              "(pulserevops.com, land-and-expand; strategicnerds.com: \"$20k on a single "
              "team\"); 50 seats at the $25 contract seat is $15k a year, the middle "
              "(geometric) of that range",
       minimum=1, maximum=1_000_000_000),
    _P("sales.term", "1y", "duration", "days", "Length of a contract.", minimum=1.0),
    _P("sales.renewal_probability", 0.85, "probability", "",
       "Probability a contract renews at the end of its term; otherwise the company loses "
       "access.", source="assumption: ~85% gross logo retention for mid-market annual "
                         "contracts"),
    _P("sales.rollout", {"dist": "exponential", "mean": "2w"}, "distribution", "days",
       "After a win, each seat not yet in use gets a user (signup channel \"sales\") after "
       "this delay; they onboard like invited users.", domain="duration"),
    # -- costs ----------------------------------------------------------------------
    _P("costs.serving_cost_per_free_user", 0.5, "number", "$ per active free user per month",
       "Cost of serving one active user who does not pay.", minimum=0.0,
       maximum=MAX_MONEY),
)

PARAMS_BY_PATH: dict[str, Param] = {p.path: p for p in PARAMS}

#: Top-level keys of a scenario file that are not parameters.
META_KEYS = ("name", "description", "extends")

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(p.section for p in PARAMS))
