"""Self-contained HTML reports of a run, a comparison or a sweep.

A report is one HTML file that opens anywhere, offline: charts are embedded as
``data:image/png;base64`` URIs, the style sheet is inline, and there are no
scripts and no network references.  Each report reads top to bottom as an
answer: the title, the question, the parameters that matter, the headline
findings in plain sentences generated from the numbers, the charts, then the
tables behind them.  Labels and units come from :data:`~flywheel.metrics.METRICS`,
:data:`~flywheel.metrics.SERIES` and :data:`~flywheel.metrics.FUNNEL`; every
piece of text is escaped with :func:`html.escape`.

Findings of a comparison use the paired difference of each scenario against
the first (common random numbers: same seed, replication by replication).  A
share's change is given in percentage points; a count's or an amount's as a
relative change, whose interval is the paired difference's interval divided
by the first scenario's mean.  When the 95% interval of the difference
includes zero the finding says there is no clear difference.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flywheel.metrics import (
    FUNNEL,
    HEADLINE,
    METRICS,
    claim_unit,
    format_claim_value,
    format_value,
    mean_ci,
)
from flywheel.outputs import plots
from flywheel.scenario.defaults import PARAMS_BY_PATH
from flywheel.scenario.overview import Line, comparison_overview, overview
from flywheel.studies.runner import ci_range
from flywheel.version import __version__

__all__ = [
    "KEY_PARAMS",
    "SWEEP_METRICS",
    "change_sentence",
    "comparison_report",
    "findings",
    "run_findings",
    "run_report",
    "sweep_findings",
    "sensitivity_findings",
    "sensitivity_report",
    "sweep_report",
    "trace_report",
    "validation_report",
    "write_report",
]

#: Parameters always shown in a run report, besides every one the scenario sets.
KEY_PARAMS = ("simulation.horizon", "simulation.replications", "simulation.seed",
              "market.companies", "acquisition.organic", "acquisition.paid_budget",
              "onboarding.ttv", "onboarding.patience", "collaboration.invites",
              "retention.churn_monthly", "pricing.model", "pricing.price_per_seat")
#: Metrics charted and tabled in a sweep report when the sweep names none.
SWEEP_METRICS = ("activation_rate", "paying_teams", "active_users_end", "arr_end")
#: Metrics of a comparison report when the comparison names none.
COMPARISON_METRICS = ("activation_rate", "viral_coefficient", "free_to_paid_rate",
                      "paying_teams", "active_users_end", "arr_end")

_MINUS = "\u2212"


# -- numbers in words ---------------------------------------------------------------------

def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _signed(x: float, decimals: int) -> str:
    if round(x, decimals) == 0:
        x = 0.0
    return f"{x:+,.{decimals}f}".replace("-", _MINUS)


def _decimals(width: float) -> int:
    """Decimals that show an interval ``width`` wide (in display units) without false precision."""
    if _nan(width) or width >= 5:
        return 0
    return 1 if width >= 0.5 else 2


def _phrase(label: str) -> str:
    """A label inside a sentence: lower-case first letter unless an acronym (MRR, LTV)."""
    first = label.split(" ", 1)[0]
    if len(first) > 1 and first[1:2].isupper():
        return label
    return label[:1].lower() + label[1:]


#: Units that count things: a metric in one of them is a plural noun ("Signups rise").
_COUNT_NOUNS = ("users", "teams", "seats", "invites", "companies", "leads", "contracts")


def _plural(metric: str) -> bool:
    """Whether a metric's label is a plural noun (counts of things, not "..., mean")."""
    meta = METRICS[metric]
    return meta.unit in _COUNT_NOUNS and "," not in meta.label


def _level(value: float, unit: str, kind: str = "", share_decimals: int = 1) -> str:
    """A metric's level as a sentence shows it: 38%, $78.2k, 1,530, 1.5 days."""
    if _nan(value):
        return "-"
    if unit.startswith("share"):
        d = share_decimals if abs(value) >= 0.1 else max(share_decimals, 1)
        return f"{100 * value:.{d}f}%"
    if unit.startswith("$"):
        if value == 0:
            return "$0"
        return plots._money(value) if abs(value) >= 1e4 else format_value(value, unit)
    if unit in _COUNT_NOUNS and abs(value) >= 100:
        return f"{value:,.0f}"
    text = format_value(value, unit)
    return f"{text} {unit}" if unit in ("days", "months") else text


def change_sentence(metric: str, base_name: str, other_name: str, base_mean: float,
                    other_mean: float, diff: tuple[float, float, float],
                    context: str = "", where: str = "in", missing: str = "") -> str:
    """One plain-language finding: how ``metric`` changes from the base to the other.

    ``diff`` is the paired difference (other minus base): mean, 95% CI low, high.
    Shares change in percentage points; counts, amounts and times by a relative
    change (difference / base mean; as every metric is non-negative, a fall is
    never shown beyond -100%), or by the absolute difference when the base is
    zero.  ``context`` is added after the names (e.g. ``"with trial.length =
    14d"``); ``where`` is the preposition before a name (``"in"`` a scenario,
    ``"at"`` a sweep's value).  ``missing`` says where a value is missing and why
    (``"plg-only: no sales team"``), for a difference that cannot be taken.
    """
    meta = METRICS[metric]
    label, unit = meta.label, meta.unit
    d, lo, hi = (float(x) if not _nan(x) else math.nan for x in diff)
    ctx = f", {context}" if context else ""
    if _nan(d):
        return (f"{label}: no comparison possible between {other_name} and {base_name}"
                f"{ctx} (no value in {missing or 'at least one of them'}).")
    has_ci = not (_nan(lo) or _nan(hi))
    if unit.startswith("share"):
        dec = _decimals(100 * (hi - lo) if has_ci else abs(100 * d))
        change = f"{_signed(100 * d, dec)} points"
        ci = f"95% CI {_signed(100 * lo, dec)} to {_signed(100 * hi, dec)}" if has_ci else ""
        lv_dec = dec
    elif not _nan(base_mean) and base_mean > 0:
        rel, rlo, rhi = (100 * x / base_mean for x in (d, lo, hi))
        rlo = max(rlo, -100.0) if has_ci else rlo
        dec = _decimals(rhi - rlo if has_ci else abs(rel))
        change = f"{_signed(rel, dec)}%"
        ci = f"95% CI {_signed(rlo, dec)}% to {_signed(rhi, dec)}%" if has_ci else ""
        lv_dec = 1
    else:  # no base level to be relative to: the absolute difference
        noun = f" {unit}" if unit in _COUNT_NOUNS else ""

        def fmt(x: float) -> str:
            return ("+" if x >= 0 else _MINUS) + _level(abs(x), unit, meta.kind)

        change = fmt(d) + noun
        ci = f"95% CI {fmt(lo)} to {fmt(hi)}" if has_ci else ""
        lv_dec = 1
    a = _level(base_mean, unit, meta.kind, lv_dec)
    b_ = _level(other_mean, unit, meta.kind, lv_dec)
    if has_ci and lo <= 0 <= hi:
        return (f"{label}: no clear difference between {other_name} and {base_name}{ctx} "
                f"({b_} vs {a}; difference {change}, {ci}).")
    plural = _plural(metric)
    if not has_ci and d == 0:
        return (f"{label} {'are' if plural else 'is'} the same {where} {other_name} and "
                f"{base_name}{ctx} ({a}).")
    verb = ("rise" if d > 0 else "fall") + ("" if plural else "s")
    tail = f"{change}, {ci}" if has_ci else f"{change}; too few replications for a 95% CI"
    return (f"{label} {verb} from {a} {where} {base_name} to {b_} {where} {other_name}{ctx} "
            f"({tail}).")


def _paired(a: Any, b: Any, metric: str) -> tuple[float, float, float]:
    """Paired difference b - a of two runs replication by replication (same seed and
    count), else the difference of means with no interval."""
    va, vb = a.values(metric), b.values(metric)
    if a.seed == b.seed and len(va) == len(vb):
        return mean_ci([y - x for x, y in zip(va, vb, strict=True)])
    return b.mean_ci(metric)[0] - a.mean_ci(metric)[0], math.nan, math.nan


# -- findings -----------------------------------------------------------------------------

def _names(cmp: Any) -> list[str]:
    return plots._scenario_names(cmp)


def _cmp_metrics(cmp: Any) -> list[str]:
    metrics = [m for m in (getattr(cmp, "metrics", None) or ()) if m in METRICS]
    return metrics or list(COMPARISON_METRICS)


def findings(cmp: Any) -> list[str]:
    """One sentence per (scenario after the first, metric): the paired change against
    the first scenario, or "no clear difference" when its 95% CI spans zero.  Clear
    changes come first, each group in the comparison's metric order."""
    names = _names(cmp)
    clear, unclear = [], []
    for i in range(1, len(cmp.results)):
        for metric in _cmp_metrics(cmp):
            diff = cmp.paired_diff(metric, i)
            missing = "; ".join(f"{names[j]}: {why}" for j in (0, i)
                                if (why := _reason(cmp.results[j], metric)))
            sentence = change_sentence(metric, names[0], names[i],
                                       cmp.results[0].mean_ci(metric)[0],
                                       cmp.results[i].mean_ci(metric)[0], diff,
                                       missing=missing)
            _, lo, hi = diff
            (unclear if _nan(lo) or _nan(hi) or lo <= 0 <= hi else clear).append(sentence)
    return clear + _why_k_moves(cmp, names) + unclear


def _why_k_moves(cmp: Any, names: Sequence[str]) -> list[str]:
    """When the scenarios differ in onboarding and K differs clearly, what the run shows
    about why: invites sent per activated user, and the share of teams that met the
    paywall (a free team at its seat limit sends no more invites)."""
    if "viral_coefficient" not in _cmp_metrics(cmp) or not any(
            p.startswith("onboarding.") for p in _param_differences(cmp)):
        return []

    def per(r: Any, a: str, b: str) -> float:
        """The replications' mean of metric a / metric b."""
        ratios = [x.metrics[a] / x.metrics[b] for x in r.replications if x.metrics[b]]
        return sum(ratios) / len(ratios) if ratios else math.nan

    out = []
    for i in range(1, len(cmp.results)):
        _, lo, hi = cmp.paired_diff("viral_coefficient", i)
        if _nan(lo) or _nan(hi) or lo <= 0 <= hi:
            continue
        a, b = cmp.results[0], cmp.results[i]
        out.append(
            f"Why K differs between {names[0]} and {names[i]}: K counts accepted invites per "
            f"activated user. Activated users sent {per(a, 'invites_sent', 'activated'):.2f} "
            f"invites each in {names[0]} and {per(b, 'invites_sent', 'activated'):.2f} in "
            f"{names[i]}, and {per(a, 'paywall_teams', 'teams'):.1%} against "
            f"{per(b, 'paywall_teams', 'teams'):.1%} of teams met the paywall: a free team at "
            "its seat limit sends no more invites, and users who reach value there wait or "
            "are blocked.")
    return out


def run_findings(result: Any) -> list[str]:
    """Plain-language headlines of one run, each with its 95% CI where it helps."""
    def m(name: str) -> tuple[float, float, float]:
        return result.mean_ci(name)

    def has(*names: str) -> bool:
        return not any(_nan(m(n)[0]) for n in names)

    def v(name: str, value: float | None = None) -> str:
        meta = METRICS[name]
        return _level(m(name)[0] if value is None else value, meta.unit, meta.kind)

    def ci(name: str) -> str:
        _, lo, hi = m(name)
        return "" if _nan(lo) else f" (95% CI {v(name, lo)} to {v(name, hi)})"

    out = []
    H = f"{result.horizon:g} days"
    if has("signups"):
        s = f"Over {H}, {v('signups')} people signed up{ci('signups')}"
        if has("activation_rate"):
            s += (f"; {v('activation_rate')} of those whose onboarding ended reached value"
                  f"{ci('activation_rate')}")
            if has("ttv_median_days"):
                s += f", after a median of {v('ttv_median_days')}"
        out.append(s + ".")
    if has("viral_coefficient"):
        k = m("viral_coefficient")[0]
        verdict = ("above 1, so the flywheel feeds itself" if k > 1 else
                   "below 1, so growth still rests on new acquisition")
        s = (f"Each activated user's invites brought {v('viral_coefficient')} accepted "
             f"invites{ci('viral_coefficient')}: the viral coefficient K is {verdict}")
        if has("viral_signups"):
            s += (f"; invites and word of mouth brought {v('viral_signups')} signups before "
                  "the horizon")
        out.append(s + ".")
    if has("turned_away") and m("turned_away")[0] > 0:
        out.append(f"{v('turned_away')} people came to a company that no longer had the "
                   "product (it declined to buy again, or its contract ended) and were "
                   "turned away; they are not counted as signups.")
    if has("winbacks") and m("winbacks")[0] > 0:
        s = (f"{v('winbacks')} companies that had cancelled paid again when someone new of "
             f"theirs came (win-backs){ci('winbacks')}")
        if has("winback_rate"):
            s += f": {v('winback_rate')} of the cancellations"
        out.append(s + ".")
    if has("teams", "teams_ever_paid"):
        s = f"{v('teams_ever_paid')} of {v('teams')} teams paid"
        if has("free_to_paid_rate"):
            s += (f": free-to-paid conversion, pooled over every team, "
                  f"{v('free_to_paid_rate')}{ci('free_to_paid_rate')}")
        if has("free_to_paid_90d"):
            s += (f"; of the teams at least 90 days old, {v('free_to_paid_90d')} paid within "
                  f"90 days{ci('free_to_paid_90d')}")
        if has("time_to_paid_median_days"):
            s += f", and the median team that paid took {v('time_to_paid_median_days')}"
        out.append(s + ".")
    if has("nrr", "grr"):
        months = m("retention_window_months")[0]
        out.append(f"Of the MRR of the customers paying {months:g} months before the end, "
                   f"{v('nrr')} was still there at the end with expansion (NRR){ci('nrr')}, "
                   f"{v('grr')} without it (GRR).")
    if has("paying_teams", "mrr_end", "arr_end"):
        out.append(f"At day {result.horizon:g}, {v('paying_teams')} teams were paying, for an "
                   f"MRR of {v('mrr_end')} and an ARR of {v('arr_end')}{ci('arr_end')}.")
    if has("active_users_end", "user_churn_monthly"):
        out.append(f"{v('active_users_end')} users were active at the end; active users "
                   f"churned at {v('user_churn_monthly')} a month{ci('user_churn_monthly')}.")
    if plots.has_sales(result):
        out.extend(_sales_findings(m, has, v, ci))
    return out


def _sales_findings(m: Callable[[str], tuple[float, float, float]], has: Callable[..., bool],
                    v: Callable[..., str], ci: Callable[[str], str]) -> list[str]:
    """The sales team's headlines: lead conversion, the queue's load, ARR by motion, CAC."""
    out = []
    if has("pql_won_rate", "cold_won_rate") and m("cold_won_rate")[0] > 0:
        ratio = m("pql_won_rate")[0] / m("cold_won_rate")[0]
        out.append(f"{v('pqls')} product-qualified leads closed at {v('pql_won_rate')}"
                   f"{ci('pql_won_rate')}, {ratio:.1f} times the {v('cold_won_rate')} of "
                   f"{v('cold_leads')} cold leads{ci('cold_won_rate')}.")
    elif has("pql_won_rate"):
        out.append(f"{v('pqls')} product-qualified leads closed at {v('pql_won_rate')}"
                   f"{ci('pql_won_rate')}.")
    elif has("cold_won_rate"):
        out.append(f"{v('cold_leads')} cold leads closed at {v('cold_won_rate')}"
                   f"{ci('cold_won_rate')}.")
    if has("rep_utilisation", "gone_cold_share"):
        s = (f"The reps' deal slots were {v('rep_utilisation')} busy{ci('rep_utilisation')}; "
             f"{v('leads_gone_cold')} leads ({v('gone_cold_share')}) went cold waiting")
        if has("queue_wait_mean_days"):
            s += (f", and a lead waited {v('queue_wait_mean_days')} on average for a rep "
                  f"(p90 {v('queue_wait_p90_days')})")
        if m("gone_cold_share")[0] > 0.1:
            s += ": the team is too small for its leads, and the leads gone cold are deals lost"
        out.append(s + ".")
    if has("arr_self_serve", "arr_sales"):
        mean = (f", {v('contract_value_mean')} a contract on average"
                if has("contract_value_mean") else "")
        out.append(f"ARR by motion: {v('arr_self_serve')} self-serve and {v('arr_sales')} from "
                   f"{v('contracts_won')} contracts won (bookings {v('bookings')}{mean}).")
    if has("cac_blended", "cac_payback_months"):
        s = (f"Blended CAC was {v('cac_blended')}{ci('cac_blended')}, paid back in "
             f"{v('cac_payback_months')}")
        if has("ltv_cac"):
            s += f"; LTV / CAC {v('ltv_cac')}"
        out.append(s + ".")
    return out


def _sweep_metrics(sweep: Any, metrics: Sequence[str] | None) -> list[str]:
    chosen = metrics or getattr(sweep, "metrics", None) or SWEEP_METRICS
    return [m for m in chosen if m in METRICS]


def sweep_findings(sweep: Any, metrics: Sequence[str] | None = None) -> list[str]:
    """Per metric (and per value of a second swept parameter): the change from the first
    swept value to the last, paired when the points share seed and replications, and
    where the metric peaks when the peak lies between them."""
    xs, lines, idx = plots.sweep_grid(sweep)
    axes = list(sweep.axes)
    xpath = axes[0][0]
    # a price swept: the best price tried by ARR first (Sweep.findings)
    out = list(sweep.findings()) if hasattr(sweep, "findings") else []
    for metric in _sweep_metrics(sweep, metrics):
        meta = METRICS[metric]
        for li, row in enumerate(idx):
            found = [(x, j) for x, j in zip(xs, row, strict=True) if j is not None]
            if len(found) < 2:
                continue
            (x0, j0), (x1, j1) = found[0], found[-1]
            a, b = sweep.results[j0], sweep.results[j1]
            ctx = "" if lines is None else f"with {axes[1][0]} = {plots._show(lines[li])}"
            s = change_sentence(metric, f"{xpath} = {plots._show(x0)}",
                                f"{xpath} = {plots._show(x1)}", a.mean_ci(metric)[0],
                                b.mean_ci(metric)[0], _paired(a, b, metric), ctx, where="at")
            means = [sweep.results[j].mean_ci(metric)[0] for _, j in found]
            if not any(_nan(x) for x in means):
                k = max(range(len(means)), key=lambda q: means[q])
                if 0 < k < len(means) - 1:
                    s += (f" It peaks at {xpath} = {plots._show(found[k][0])} "
                          f"({_level(means[k], meta.unit, meta.kind)}).")
            out.append(s)
    return out


# -- HTML pieces --------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       font-size: 17px; line-height: 1.5; color: #1d1d1f; background: #fff; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.5rem 3rem; }
h1 { font-size: 2rem; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.4rem; margin: 2.2rem 0 0.6rem; border-bottom: 2px solid #e5e5ea;
     padding-bottom: 0.2rem; }
h3 { font-size: 1.1rem; margin: 1.4rem 0 0.4rem; }
p.subtitle { color: #555; margin: 0 0 1rem; }
p.question { font-size: 1.25rem; background: #eef5fb; border-left: 5px solid #0072B2;
             padding: 0.7rem 1rem; margin: 1rem 0; }
ul.findings li { margin: 0.45rem 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.95rem; }
th, td { border-bottom: 1px solid #e5e5ea; padding: 0.35rem 0.7rem; text-align: left;
         vertical-align: top; }
th { background: #f5f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.note, span.note { color: #666; font-size: 0.9em; }
p.warning { background: #fff4e5; border-left: 5px solid #E69F00; padding: 0.6rem 1rem; }
figure { margin: 1.2rem 0 1.8rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e5ea; }
figcaption { color: #555; font-size: 0.95rem; margin-top: 0.3rem; }
details { margin: 0.8rem 0; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 3rem; color: #666; font-size: 0.9rem; border-top: 1px solid #e5e5ea;
         padding-top: 0.8rem; }
"""

_HOW_TO_READ = (
    "How to read this: each figure is the mean over Monte Carlo replications. Shaded bands "
    f"over time span the {plots.BAND[0]:g}th to {plots.BAND[1]:g}th percentile of the "
    "replications (where one run may land); whiskers, bands on sweep curves and intervals "
    "in the tables are 95% confidence intervals of the mean (how sure the mean is).")


_NUM_TD = '<td class="num">'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(chart: Any, alt: str, caption: str) -> str:
    """An embedded chart: a matplotlib Figure, or the PNG bytes already rendered from one."""
    png = chart if isinstance(chart, bytes) else plots.png_bytes(chart)
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]],
           numeric: Sequence[bool] | None = None) -> str:
    """A table; ``numeric[i]`` right-aligns column ``i``."""
    numeric = list(numeric or [False] * len(header))
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join((_NUM_TD if numeric[i] else "<td>") + f"{_e(c)}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _list(items: Iterable[str], cls: str = "findings") -> str:
    return f'<ul class="{cls}">' + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{''.join(parts)}</section>"


def _document(title: str, subtitle: str, question: str, sections: Sequence[str],
              footer: str, how_to_read: str = _HOW_TO_READ, css: str = "") -> str:
    """A whole page; ``css`` is added to the style sheet (a page's own layout)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}{css}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_e(title)}</h1>\n"
        + (f'<p class="subtitle">{_e(subtitle)}</p>\n' if subtitle else "")
        + f'<p class="question">{_e(question)}</p>\n'
        + "\n".join(sections)
        + f"\n<footer><p>{_e(footer)}</p><p>{_e(how_to_read)}</p></footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def _ci_text(mean: float, lo: float, hi: float, unit: str) -> str:
    if _nan(lo):
        return "-"
    return f"[{format_value(lo, unit)}, {format_value(hi, unit)}]"


def _mean_ci_cell(stats: tuple[float, float, float], unit: str, reason: str = "") -> str:
    """``mean [lo, hi]``; a missing mean with its reason: ``- (no sales team)``."""
    mean, lo, hi = stats
    text = format_value(mean, unit)
    if _nan(mean) and reason:
        return f"{text} ({reason})"
    return text if _nan(lo) else f"{text} {_ci_text(mean, lo, hi, unit)}"


def _reason(result: Any, metric: str) -> str:
    """Why a run's metric has no value (:meth:`~flywheel.studies.runner.RunResult.reason`),
    ``""`` for a result that cannot say."""
    get = getattr(result, "reason", None)
    return get(metric) if get is not None else ""


def _headline_names(result: Any) -> tuple[str, ...]:
    return tuple(getattr(result, "headline", HEADLINE))


def _show_raw(value: object) -> str:
    """A parameter's TOML-form value as a reader would write it."""
    if isinstance(value, dict):
        items = [f"{k} {_show_raw(v)}" for k, v in value.items() if k != "dist"]
        return ", ".join(([str(value["dist"])] if "dist" in value else []) + items)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.10g}"
    if isinstance(value, int):
        return str(value)  # as written in TOML (a seed with separators reads oddly)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show_raw(v) for v in value) + "]"
    return str(value)


def _param_unit(path: str, value: object) -> str:
    """The unit to print beside a value: only for bare numbers (strings carry their own)."""
    param = PARAMS_BY_PATH.get(path)
    if param is None or not param.unit:
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) \
            and param.kind in ("number", "count"):
        return param.unit
    return ""


def _with_unit(path: str, value: object) -> str:
    """A parameter's value with its unit: ``2000 companies``, ``$15 per seat per month``."""
    shown = _show_raw(value)
    unit = _param_unit(path, value)
    if unit.startswith("$"):
        return f"${shown}{unit[1:]}"
    return f"{shown} {unit}".strip()


def _param_meaning(path: str) -> str:
    param = PARAMS_BY_PATH.get(path)
    if param is None:  # a distribution's field, e.g. onboarding.ttv.median
        parent = PARAMS_BY_PATH.get(path.rsplit(".", 1)[0])
        return parent.meaning if parent else ""
    return param.meaning


def _overview_html(lines: Sequence[Line]) -> str:
    """An overview (:mod:`flywheel.scenario.overview`) as HTML: each line a paragraph, the
    lines indented under one as a list."""
    parts: list[str] = []
    nested: list[str] = []

    def flush() -> None:
        if nested:
            parts.append(_list(nested, "overview"))
            nested.clear()

    for line in lines:
        if line.level:
            nested.append(line.text)
        else:
            flush()
            parts.append(f'<p class="overview">{_e(line.text)}</p>')
    flush()
    return "".join(parts)


def _headline_rows(result: Any, names: Sequence[str]) -> list[list[str]]:
    """Label, mean, 95% CI (or why there is no value) and unit of each metric."""
    rows = []
    for name in names:
        meta = METRICS[name]
        mean, lo, hi = result.mean_ci(name)
        why = _reason(result, name) if _nan(mean) else ""
        rows.append([meta.label, format_value(mean, meta.unit),
                     f"({why})" if why else _ci_text(mean, lo, hi, meta.unit), meta.unit])
    return rows


def _funnel_table(result: Any) -> str:
    rows = []
    for _key, label, unit, mean, lo, hi, share in result.funnel_rows():
        rows.append([label, format_value(mean, unit), _ci_text(mean, lo, hi, unit), unit,
                     "" if _nan(share) else f"{100 * share:.1f}%"])
    return _table(["Stage", "Mean", "95% CI", "Unit", "Share of the stage above"], rows,
                  [False, True, True, False, True])


def _footer(results: Sequence[Any]) -> str:
    ns = sorted({r.n for r in results})
    seeds = sorted({r.seed for r in results})
    n = ", ".join(str(x) for x in ns)
    s = ", ".join(str(x) for x in seeds)
    return (f"Made by flywheel {__version__}: {n} replication{'s' if ns != [1] else ''} "
            f"per scenario, seed {s}.")


# -- a run --------------------------------------------------------------------------------

def _run_question(result: Any) -> str:
    return (f"How does {result.scenario.name} grow over {result.horizon:g} days: how many "
            f"signups reach value, how many teams pay, and how much recurring revenue "
            f"builds up?")


def _chart(pngs: Mapping[str, bytes] | None, key: str, draw: Callable[[], Any]) -> Any:
    """The chart ``key`` as PNG bytes already rendered (by a writer that also saved it to a
    file), else drawn now."""
    if pngs is not None and key in pngs:
        return pngs[key]
    return draw()


_VERDICT = {"inside": "inside", "mean inside": "mean inside, CI crosses an end",
            "outside": "OUTSIDE", "no value": "no value"}


def claim_rows(result: Any) -> list[list[str]]:
    """One row per claim of the run's story: what it says, the metric, the measured mean
    and 95% CI, the claimed range (in the metric's unit) and its source, and the
    verdict."""
    rows = []
    for c in result.claims():
        cl = c.claim
        mean, lo, hi = c.value
        unit = claim_unit(cl)
        ci = "" if _nan(lo) else (f" [{format_claim_value(lo, cl)}, "
                                  f"{format_claim_value(hi, cl)}]")
        also = "".join(f"; {METRICS[a].label} "
                       f"{format_value(result.mean_ci(a).mean, METRICS[a].unit)}"
                       + (f" {ci}" if (ci := ci_range(result.mean_ci(a), a)) else "")
                       for a in cl.also)
        rows.append([cl.says, METRICS[cl.metric].label,
                     f"{format_claim_value(mean, cl)}{ci} {unit}".strip() + also,
                     f"{format_claim_value(cl.low, cl)} to {format_claim_value(cl.high, cl)}"
                     f" {unit}".strip(), cl.source, _VERDICT[c.verdict]])
    return rows


def claims_text(result: Any) -> str:
    """The story's claims as measured, for the terminal (``""`` when it has none)."""
    rows = claim_rows(result)
    if not rows:
        return ""
    lines = [f"The story's claims, measured ({result.n} replication"
             f"{'s' if result.n != 1 else ''}, mean [95% CI]):"]
    for says, label, measured, claimed, _, verdict in rows:
        lines.append(f"  \"{says}\"\n    {label}: {measured}; claimed {claimed}: {verdict}")
    return "\n".join(lines)


def _claims_section(result: Any) -> str:
    rows = claim_rows(result)
    if not rows:
        return ""
    return _section("The story's claims, measured",
                    "<p>What this scenario's story says, each measured from the simulation "
                    "(mean and 95% CI across replications) against the range it claims, "
                    "with that range's source.</p>",
                    _table(["The story says", "Measured by", "Measured", "Claimed",
                            "Source", "Verdict"], rows))


def run_report(result: Any, pngs: Mapping[str, bytes] | None = None) -> str:
    """The HTML report of one run (``pngs``: charts already rendered, by name)."""
    sc = result.scenario
    key = [p for p in PARAMS_BY_PATH if p in KEY_PARAMS or sc.sources.get(p, "default") != "default"]
    param_rows = []
    for path in key:
        param_rows.append([path, _with_unit(path, sc.raw[path]), _param_meaning(path),
                           sc.sources.get(path, "")])
    charts = dict(pngs) if pngs is not None else plots.run_charts(result)
    twin = plots.is_twin(result)
    figs = [
        _img(charts["growth"], "Signups per day, active users and paying teams over time",
             "Signups per day, active users and paying teams: the mean-field twin's "
             "deterministic curves." if twin else
             "Signups per day, active users and paying teams: mean line, band "
             f"{plots.BAND[0]:g}–{plots.BAND[1]:g}% of replications."),
        _img(charts["mrr"], "MRR and ARR over time, and the monthly MRR bridge",
             "Monthly and annual recurring revenue (ARR = 12 × MRR) over time."
             + ("" if "mrr_new" in getattr(result, "unavailable", ()) else
                " Below, each month's MRR added by new customers, expansion and "
                "reactivation, and lost to contraction and churn, with the net change "
                "(mean of the replications).")),
        _img(charts["funnel"], "Funnel of users and teams",
             "The funnel, users and teams apart, with the share of the stage above." if twin
             else "The funnel, users and teams apart: mean with 95% CI whiskers and the share "
             "of the stage above."),
        _img(charts["cohorts"], "Weekly cohort retention heat map",
             "Share of each weekly signup cohort with a seat k weeks after signing up."),
    ]
    if "sales" in charts:
        figs.append(_img(charts["sales"], "Sales: leads per week, the queue, ARR by motion",
                         "Product-qualified and cold leads per week, contracts won and leads "
                         "gone cold; leads waiting for a rep and deal slots in use against the "
                         "team's slots; ARR from self-serve plans and from sales contracts."))
    lead = _headline_names(result)
    all_rows = _headline_rows(result, [m for m in METRICS if m not in lead])
    sections = [
        _section("Parameters",
                 _overview_html(overview(sc)),
                 "<p>The parameters that shape this run: the key ones, and every one the "
                 "scenario sets.</p>",
                 _table(["Parameter", "Value", "Meaning", "Set by"], param_rows)),
        _section("Findings", _list(run_findings(result))),
        *filter(None, [_claims_section(result)]),
        _section("Charts", *figs),
        _section("Tables",
                 "<h3>Headline metrics</h3>",
                 _table(["Metric", "Mean", "95% CI", "Unit"], _headline_rows(result, lead),
                        [False, True, True, False]),
                 "<h3>Funnel</h3>", _funnel_table(result),
                 "<details><summary>All other metrics</summary>",
                 _table(["Metric", "Mean", "95% CI", "Unit"], all_rows,
                        [False, True, True, False]),
                 "</details>"),
    ]
    if twin:
        sections.insert(1, _twin_section(sc))
        return _document(f"Flywheel run: {sc.name} (mean-field twin)", sc.description,
                         _run_question(result), sections,
                         f"Made by flywheel {__version__} with the mean-field twin: one "
                         "deterministic run of its ODE model, no replications.",
                         how_to_read=_HOW_TO_READ_TWIN)
    return _document(f"Flywheel run: {sc.name}", sc.description, _run_question(result),
                     sections, _footer([result]))


_HOW_TO_READ_TWIN = (
    "How to read this: every figure is the mean-field twin's: the expected numbers, "
    "computed as differential equations, not simulated. There are no bands and no "
    "confidence intervals; the twin's own approximations are listed above. Run the "
    "simulation (flywheel run, without --engine meanfield) for the spread of outcomes.")


def _twin_section(sc: Any) -> str:
    """What the mean-field twin approximates, or leaves out, in this scenario."""
    from flywheel.engines import meanfield

    missing = meanfield.unsupported(sc)
    notes = meanfield.mechanism_notes(sc)
    parts = ["<p>These figures come from the mean-field twin (flywheel.engines.meanfield): the "
             "same flywheel as the simulation, followed as expected numbers. As markets and "
             "signup volumes grow, the simulation's mean approaches it; here is what it "
             "approximates in this scenario.</p>"]
    if missing:
        parts.append("<h3>Not represented</h3>" + _list(missing))
    parts.append(_table(["Mechanism", "How the twin carries it"],
                        [[f"{name} ({status})", how] for status, name, how in notes
                         if status != meanfield.NOT_REPRESENTED]))
    return _section("The mean-field twin", *parts)


# -- a comparison -------------------------------------------------------------------------

def _param_differences(cmp: Any) -> dict[str, list[object]]:
    get = getattr(cmp, "parameter_differences", None)
    if get is not None:
        return dict(get())
    base = cmp.scenarios[0]
    paths: dict[str, None] = {}
    for sc in cmp.scenarios[1:]:
        paths.update(dict.fromkeys(base.differences(sc)))
    return {p: [sc.raw[p] for sc in cmp.scenarios] for p in paths}


def _comparison_question(cmp: Any, names: Sequence[str],
                         diffs: dict[str, list[object]]) -> str:
    """The comparison's own question, else one made from what differs."""
    q = (getattr(cmp, "question", "") or "").strip()
    if q:
        return q
    if len(names) == 2 and 1 <= len(diffs) <= 2:
        changes = " and ".join(f"{path} goes from {_show_raw(a)} to {_show_raw(b)}"
                               for path, (a, b) in diffs.items())
        return f"What changes when {changes} ({names[0]} to {names[1]})?"
    who = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return f"How do {who} compare, and which of their differences are clear?"


def _diff_cell(metric: str, base_mean: float, diff: tuple[float, float, float]) -> str:
    unit = METRICS[metric].unit
    d, lo, hi = diff
    if _nan(d):
        return "-"
    if unit.startswith("share"):
        dec = _decimals(100 * (hi - lo) if not _nan(lo) else abs(100 * d))
        dec = max(dec, 1)
        s = f"{_signed(100 * d, dec)} pts"
        if not _nan(lo):
            s += f" [{_signed(100 * lo, dec)}, {_signed(100 * hi, dec)}]"
        return s

    def fmt(x: float) -> str:
        return ("+" if x >= 0 else _MINUS) + format_value(abs(x), unit)

    s = fmt(d)
    if not _nan(lo):
        s += f" [{fmt(lo)}, {fmt(hi)}]"
    if not _nan(base_mean) and base_mean != 0:
        s += f" ({_signed(100 * d / abs(base_mean), 0)}%)"
    return s


def _levers_html(cmp: Any) -> str:
    """The comparison's levers, and the warning when its scenarios differ beyond them
    (:meth:`~flywheel.studies.comparisons.Comparison.lever_check`)."""
    get = getattr(cmp, "lever_check", None)
    if get is None:
        return ""
    check = get()
    parts = []
    if check.levers:
        parts.append(f'<p class="overview">The question\'s levers: '
                     f'{_e(", ".join(check.levers))}.</p>')
    if check.text:
        head = "Warning" if check.warning else "Note"
        text = check.text[:1].upper() + check.text[1:]
        parts.append(f'<p class="warning"><strong>{head}:</strong> {_e(text)}</p>'
                     if check.warning else f'<p class="note">{head}: {_e(text)}</p>')
    return "".join(parts)


def _lever_warning_html(cmp: Any) -> str:
    """The warning alone (for the findings), ``""`` when there is none."""
    get = getattr(cmp, "lever_check", None)
    if get is None or not get().warning:
        return ""
    text = get().text
    return (f'<p class="warning"><strong>Warning:</strong> {_e(text[:1].upper() + text[1:])}'
            "</p>")


def comparison_report(cmp: Any, pngs: Mapping[str, bytes] | None = None) -> str:
    """The HTML report of a comparison of scenarios (``pngs``: charts already rendered,
    ``"overlay"`` and one per metric)."""
    names = _names(cmp)
    metrics = _cmp_metrics(cmp)
    title = getattr(cmp, "name", "") or " vs ".join(names)
    subtitle = getattr(cmp, "description", "") or ""
    diffs = _param_differences(cmp)
    diff_rows = [[path, *(_with_unit(path, v) for v in values),
                  _param_meaning(path)] for path, values in diffs.items()]
    scen_rows = [[n, sc.description] for n, sc in zip(names, cmp.scenarios, strict=True)]
    figs = [_img(_chart(pngs, "overlay", lambda: plots.comparison_overlay(cmp)),
                 "Scenarios over time", "Each scenario's mean over time, band "
                 f"{plots.BAND[0]:g}–{plots.BAND[1]:g}% of replications.")]
    for m in metrics:
        bars = _chart(pngs, m, lambda m=m: plots.comparison_bars(cmp, m))
        figs.append(_img(bars, f"{METRICS[m].label} by scenario",
                         f"{METRICS[m].label} ({METRICS[m].unit}): mean per scenario, "
                         "whiskers 95% CI."))
    header = ["Metric", "Unit", *names, *(f"{n} − {names[0]}" for n in names[1:])]
    rows = []
    for m in metrics:
        meta = METRICS[m]
        stats = [r.mean_ci(m) for r in cmp.results]
        cells = [_mean_ci_cell(s, meta.unit, _reason(r, m))
                 for s, r in zip(stats, cmp.results, strict=True)]
        deltas = [_diff_cell(m, stats[0][0], cmp.paired_diff(m, i))
                  for i in range(1, len(cmp.results))]
        rows.append([meta.label, meta.unit, *cells, *deltas])
    numeric = [False, False] + [True] * (len(header) - 2)
    funnel_rows = []
    for key, label, unit in FUNNEL:
        funnel_rows.append([label, unit, *(format_value(mean_ci(
            [rep.funnel[key] for rep in r.replications])[0], unit) for r in cmp.results)])
    seed = getattr(cmp, "seed", None)
    paired_note = (f"Differences are paired: every scenario ran with the same seed"
                   f"{f' ({seed})' if seed is not None else ''}, so replication i of each "
                   f"shares its random numbers where the scenarios share structure; "
                   f"differences are each scenario minus {names[0]}, with 95% CIs.")
    diff_part = (_table(["Parameter", *names, "Meaning"], diff_rows)
                 if diff_rows else "<p>No parameter differs.</p>")
    sections = [
        _section("Scenarios", _table(["Scenario", "Description"], scen_rows),
                 "<h3>What they set</h3>",
                 _overview_html(comparison_overview(cmp.scenarios, names)),
                 "<h3>What differs</h3>", diff_part, _levers_html(cmp)),
        _section("Findings", _lever_warning_html(cmp), _list(findings(cmp)),
                 f'<p class="note">{_e(paired_note)}</p>'),
        _section("Charts", *figs),
        _section("Tables",
                 "<h3>Metrics: mean [95% CI] and paired difference [95% CI]</h3>",
                 _table(header, rows, numeric),
                 "<h3>Funnel (means)</h3>",
                 _table(["Stage", "Unit", *names], funnel_rows,
                        [False, False] + [True] * len(names))),
    ]
    return _document(f"Flywheel comparison: {title}", subtitle, _comparison_question(cmp, names, diffs),
                     sections, _footer(cmp.results))


# -- a sweep ------------------------------------------------------------------------------

#: The name of the demand-and-revenue chart of a price sweep (its PNG: PRICE_CHART.png).
PRICE_CHART = "demand_and_revenue"


def _sweep_question(sweep: Any) -> str:
    axes = list(sweep.axes)
    path, values = axes[0]
    q = (f"How do the results of {sweep.base.name} change as {path} goes from "
         f"{plots._show(values[0])} to {plots._show(values[-1])}")
    if len(axes) > 1:
        q += f", for each {axes[1][0]} in " + ", ".join(plots._show(v) for v in axes[1][1])
    return q + "?"


def sweep_report(sweep: Any, metrics: Sequence[str] | None = None,
                 pngs: Mapping[str, bytes] | None = None) -> str:
    """The HTML report of a parameter sweep (``metrics`` default to the sweep's own, else
    :data:`SWEEP_METRICS`; ``pngs``: curves already rendered, one per metric)."""
    chosen = _sweep_metrics(sweep, metrics)
    base = sweep.base
    axes = list(sweep.axes)
    axis_rows = [[path, ", ".join(plots._show(v) for v in values), _param_meaning(path)]
                 for path, values in axes]
    set_rows = [[p, _with_unit(p, base.raw[p]),
                 base.sources.get(p, "")]
                for p in PARAMS_BY_PATH if base.sources.get(p, "default") != "default"]
    figs = [_img(_chart(pngs, m, lambda m=m: plots.sweep_curves(sweep, m)),
                 f"{METRICS[m].label} across the sweep",
                 f"{METRICS[m].label} ({METRICS[m].unit}) against "
                 f"{axes[0][0]}: mean, band 95% CI.") for m in chosen]
    if getattr(sweep, "price_axis", None):  # demand and revenue against the price
        figs.insert(0, _img(_chart(pngs, PRICE_CHART, lambda: plots.price_curves(sweep)),
                            "Demand and revenue against price",
                            f"Paying customers and ARR at the horizon against "
                            f"{sweep.price_axis}: mean, band 95% CI; the star marks the "
                            f"best price tried by ARR."))
    header = [p for p, _ in axes] + [f"{METRICS[m].label} ({METRICS[m].unit})" for m in chosen]
    rows = []
    for point, res in zip(sweep.points, sweep.results, strict=True):
        rows.append([plots._show(point.get(p, "")) for p, _ in axes]
                    + [_mean_ci_cell(res.mean_ci(m), METRICS[m].unit, _reason(res, m))
                       for m in chosen])
    sections = [
        _section("Parameters", "<h3>Swept</h3>",
                 _table(["Parameter", "Values", "Meaning"], axis_rows),
                 f"<h3>Set by the base scenario, {_e(base.name)}</h3>",
                 _table(["Parameter", "Value", "Set by"], set_rows) if set_rows
                 else "<p>Every other parameter takes its default.</p>"),
        _section("Findings", _list(sweep_findings(sweep, chosen))),
        _section("Charts", *figs),
        _section("Tables", "<h3>Each point: mean [95% CI]</h3>",
                 _table(header, rows, [False] * len(axes) + [True] * len(chosen))),
    ]
    title = f"Flywheel sweep: {base.name}, " + " × ".join(p for p, _ in axes)
    return _document(title, base.description, _sweep_question(sweep), sections,
                     _footer(sweep.results))


# -- one company's journey ---------------------------------------------------------------

#: The journey page's layout: the story and the timeline side by side (one column on a
#: narrow screen), each line's day in a column of its own.
_TRACE_CSS = """
main { max-width: 1440px; }
div.journey { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.1fr);
              gap: 1.8rem; align-items: start; }
div.journey figure { position: sticky; top: 1rem; margin-top: 0.3rem; }
ol.story { list-style: none; padding: 0; margin: 0.3rem 0; }
ol.story li { margin: 0 0 0.55rem; padding-left: 5rem; text-indent: -5rem; }
ol.story span.day { display: inline-block; width: 5rem; text-indent: 0; color: #0072B2;
                    font-weight: 600; font-variant-numeric: tabular-nums; }
ol.story li.end { font-weight: 600; }
@media (max-width: 900px) { div.journey { grid-template-columns: 1fr; }
                            div.journey figure { position: static; } }
"""

_HOW_TO_READ_TRACE = (
    "How to read this: one replication is one possible history of the market, and this "
    "page follows one company through it; days count from the launch (day 0). The same "
    "scenario, seed and replication always tell the same story; another seed or "
    "replication tells another. A story is an example, not an average: flywheel run "
    "gives the averages with their 95% confidence intervals.")


def trace_report(journey: Any, png: bytes | None = None) -> str:
    """The page of one company's journey (``flywheel trace``): the story beside its
    timeline (``png``: the chart already rendered, else drawn now), its people, and what
    the scenario offers."""
    from flywheel.outputs import journey as words

    j = journey
    sc = j.scenario
    lines = words.story_lines(j)
    items = []
    for k, ln in enumerate(lines):
        cls = ' class="end"' if k == len(lines) - 1 else ""
        items.append(f'<li{cls}><span class="day">day {ln.day}</span>{_e(ln.text)}</li>')
    chart = _img(png if png is not None else plots.journey_timeline(j),
                 f"Timeline of company {j.company}: its people, its plan and what it pays",
                 "Each person's lane: a circle when they sign up, a thin line while they "
                 "onboard, a tick when they reach value, a bar while they hold a seat (blue "
                 "free or on trial, green paid), a cross when they churn or give up; arrows "
                 "run from inviter to invitee. The team's lane shows its plan; below, what "
                 "it pays each month (or its active users, if it never paid).")
    header = words.header_lines(j)
    people = [[row[0], row[2] + (f" (by {row[3]})" if row[3] else ""),
               f"{row[4]:.1f}", "" if row[5] == "" else f"{row[5]:.1f}",
               "" if row[7] == "" else f"{row[7]:.1f}",
               "" if row[7] == "" else ("still" if row[8] == "" else f"{row[8]:.1f}"),
               row[9].replace("_", " ")]
              for row in words.people_rows(j)]
    sections = [
        _section("The story",
                 f"<p>{_e(header[1])} {_e(header[2])}</p>",
                 f'<div class="journey"><ol class="story">{"".join(items)}</ol>{chart}</div>'),
        _section("The people",
                 _table(["Name", "Came", "Signed up (day)", "Reached value (day)",
                         "Seat from (day)", "Seat until (day)", "At the horizon"], people,
                        [False, False, True, True, True, True, False]) if people else
                 "<p>No one signed up.</p>"),
        _section("The scenario", f"<p>{_e(words.plan_sentence(j.settings))}</p>",
                 _overview_html(overview(sc))),
    ]
    return _document(
        f"Flywheel trace: {sc.name}, company {j.company}", sc.description,
        "How did one company find the product, grow as a team, and come to pay, or not?",
        sections,
        f"Made by flywheel {__version__}: {header[0]}.",
        how_to_read=_HOW_TO_READ_TRACE, css=_TRACE_CSS)


# -- writing ------------------------------------------------------------------------------

def write_report(html_text: str, path: str | os.PathLike[str]) -> Path:
    """Write ``html_text`` to ``path`` atomically: a temporary file in the same folder,
    then :func:`os.replace`, so a reader never sees half a report."""
    from flywheel.outputs.files import write_file

    return write_file(path, html_text.encode("utf-8"))


# -- the demo -----------------------------------------------------------------------------

def demo_report(comparisons: Sequence[Any]) -> str:
    """One page with several comparisons (``flywheel demo``): for each, its question, the
    findings, the scenarios over time and the headline table with paired differences."""
    sections = []
    for cmp in comparisons:
        names = _names(cmp)
        metrics = _cmp_metrics(cmp)
        diffs = _param_differences(cmp)
        header = ["Metric", "Unit", *names, *(f"{n} − {names[0]}" for n in names[1:])]
        rows = []
        for m in metrics:
            meta = METRICS[m]
            stats = [r.mean_ci(m) for r in cmp.results]
            rows.append([meta.label, meta.unit,
                         *(_mean_ci_cell(s, meta.unit, _reason(r, m))
                           for s, r in zip(stats, cmp.results, strict=True)),
                         *(_diff_cell(m, stats[0][0], cmp.paired_diff(m, i))
                           for i in range(1, len(cmp.results)))])
        sections.append(_section(
            _comparison_question(cmp, names, diffs),
            _lever_warning_html(cmp),
            _list(findings(cmp)),
            _img(plots.comparison_overlay(cmp), "Scenarios over time",
                 "Each scenario's mean over time, band "
                 f"{plots.BAND[0]:g}–{plots.BAND[1]:g}% of replications."),
            _table(header, rows, [False, False] + [True] * (len(header) - 2))))
    results = [r for cmp in comparisons for r in cmp.results]
    return _document("Flywheel demo: what moves a PLG flywheel",
                     "Each question compares built-in scenarios run with the same seed "
                     "(common random numbers); differences are paired, with 95% CIs.",
                     "What do faster time to value, and a free tier instead of a trial, "
                     "do to growth?", sections, _footer(results))


# -- a sensitivity ------------------------------------------------------------------------

def _effect_text(metric: str, effect: tuple[float, float, float], base: float) -> str:
    """A change of ``metric`` as a sentence shows it: ``+$6,180 (+22%, 95% CI +$2,800 to
    +$9,600)``; shares in points; no interval for the twin."""
    unit = METRICS[metric].unit
    kind = METRICS[metric].kind
    d, lo, hi = (math.nan if _nan(x) else float(x) for x in effect)
    if _nan(d):
        return "no value"
    has_ci = not (_nan(lo) or _nan(hi))
    if unit.startswith("share"):
        dec = max(1, _decimals(100 * (hi - lo) if has_ci else abs(100 * d)))
        text = f"{_signed(100 * d, dec)} points"
        return text + (f" (95% CI {_signed(100 * lo, dec)} to {_signed(100 * hi, dec)})"
                       if has_ci else "")

    def amount(x: float) -> str:
        return ("+" if x >= 0 else _MINUS) + _level(abs(x), unit, kind)

    text = amount(d)
    rel = f"{_signed(100 * d / abs(base), 1 if abs(d / base) < 0.1 else 0)}%" \
        if not _nan(base) and base != 0 else ""
    parts = [p for p in (rel, f"95% CI {amount(lo)} to {amount(hi)}" if has_ci else "") if p]
    return text + (f" ({', '.join(parts)})" if parts else "")


def _move_words(bar: Any, side: str, delta: float) -> str:
    """``"+20% (180/week)"``, ``"−20% (every value ×0.8)"``: a side of a lever's move."""
    mv = bar.move
    pct = f"{100 * delta:g}%"
    sign = "+" if side == "high" else _MINUS
    value = mv.high if side == "high" else mv.low
    if mv.param.kind == "distribution":
        factor = mv.high_factor if side == "high" else mv.low_factor
        what = f"every value ×{factor:g}"
    else:
        what = _show_raw(value)
    for note in mv.notes:  # clipping or rounding of this side
        head, _, rest = note.partition(" ")
        if head == f"{sign}{pct}" and rest:
            what = rest if rest.startswith("clipped") else f"{what}; {rest}"
    return f"{sign}{pct} ({what})"


def _all_zero(bar: Any) -> bool:
    """A DES bar whose target did not change in any replication, either way."""
    diffs = list(bar.diffs_low) + list(bar.diffs_high)
    return bar.engine == "des" and bool(diffs) and all(x == 0 for x in diffs)


def _lever_sentence(result: Any, bar: Any, lead: str) -> str:
    parts = []
    for side in ("high", "low"):
        if bar.move.side(side) is None:
            continue
        parts.append(f"{_move_words(bar, side, result.delta)} moves it by "
                     f"{_effect_text(result.target, bar.effect(side), bar.base)}")
    engine = "" if bar.engine == "des" else " (mean-field twin, no CI)"
    return f"{lead}{bar.path}{engine}: " + "; ".join(parts) + "."


def sensitivity_findings(result: Any, top: int = 5) -> list[str]:
    """Plain-language findings of a :class:`~flywheel.studies.sensitivity.Sensitivity`: the lever
    the target is most sensitive to and the next few, each side's change with its 95% CI;
    levers with no clear change; levers the scenario does not use; the twin's bars;
    skipped parameters."""
    meta = METRICS[result.target]
    label = meta.label
    out: list[str] = []
    bars = [b for b in result.bars if not _nan(b.swing)]
    # the DES bars whose change is clear one way or the other, and the twin's bars
    moving = [b for b in bars if b.swing > 0 and not _all_zero(b)
              and (b.engine != "des" or b.clear("low") or b.clear("high"))]
    if moving:
        verb = "are" if _plural(result.target) else "is"
        out.append(_lever_sentence(result, moving[0], f"{label} {verb} most sensitive to "))
        for b in moving[1:top]:
            out.append(_lever_sentence(result, b, "Then "))
    elif bars:
        out.append(f"No lever moves {_phrase(label)} clearly: every change's 95% CI "
                   "includes 0 (more replications would narrow them).")
    unclear = [b.path for b in bars if b.engine == "des" and not _all_zero(b)
               and not (b.clear("low") or b.clear("high"))]
    if unclear:
        out.append(f"No clear change in {_phrase(label)} either way (95% CIs include 0): "
                   + ", ".join(unclear) + ".")
    idle = [b.path for b in bars if _all_zero(b)]
    if idle:
        out.append(f"{label} did not change in any replication when these moved, so this "
                   "scenario does not use them (or not before the horizon): "
                   + ", ".join(idle) + ".")
    twins = [b.path for b in result.bars if b.engine != "des"]
    if twins and any(b.engine == "des" for b in result.bars):
        out.append(f"{len(twins)} lever{'s' if len(twins) != 1 else ''} ranked below the top "
                   f"{len(result.bars) - len(twins)} kept the mean-field twin's figures (hatched "
                   "bars, no CI): " + ", ".join(twins) + ".")
    if result.skipped:
        out.append("Not moved: " + "; ".join(f"{m.path} ({m.skipped})" for m in result.skipped)
                   + ".")
    return out


def sensitivity_report(result: Any, pngs: Mapping[str, bytes] | None = None) -> str:
    """The HTML report of a sensitivity (``pngs``: ``"tornado"`` already rendered)."""
    meta = METRICS[result.target]
    sc = result.scenario
    pct = f"{100 * result.delta:g}%"
    question = (f"Which of {sc.name}'s numbers move {_phrase(meta.label)} most, when each "
                f"moves {pct} either way and everything else stays as it is?")
    chart = _chart(pngs, "tornado", lambda: plots.tornado(result))
    base = result.base_value
    runs = ", ".join(f"{v} {'DES runs' if k == 'des' else 'mean-field twin evaluations'}"
                     for k, v in result.runs.items())
    setup = [
        f"Target: {meta.label} ({meta.unit}), {_level(base, meta.unit, meta.kind)} in the "
        f"scenario as it is.",
        f"Each lever moved {_MINUS}{pct} and +{pct}, one at a time: {len(result.bars)} "
        f"levers, {len(result.skipped)} skipped. {runs}.",
    ]
    if result.replications:
        setup.append(f"DES runs: {result.replications} replications each, all with seed "
                     f"{result.seed} (common random numbers), so each change is a paired "
                     "difference with a 95% CI.")
    if result.engine_note:
        setup.append(f"Engine ({result.engine}): {result.engine_note}.")
    header = ["Rank", "Parameter", f"{_MINUS}{pct} | as is | +{pct}", "Engine",
              f"Change at {_MINUS}{pct} [95% CI]", f"Change at +{pct} [95% CI]", "Notes"]
    rows = []
    for row, bar in zip(result.rows(), result.bars, strict=False):
        rows.append([row["rank"], f"{row['parameter']} ({row['unit']})" if row["unit"]
                     else row["parameter"],
                     f"{row['low_value'] or '–'} | {row['base_value']} | {row['high_value'] or '–'}",
                     "DES" if bar.engine == "des" else "mean-field twin",
                     _diff_cell(result.target, bar.base, bar.effect_low),
                     _diff_cell(result.target, bar.base, bar.effect_high),
                     row["notes"]])
    skipped_rows = [[m.path, _show_raw(m.base), m.skipped] for m in result.skipped]
    set_rows = [[p, _with_unit(p, sc.raw[p]), sc.sources.get(p, "")]
                for p in PARAMS_BY_PATH if sc.sources.get(p, "default") != "default"]
    how = ("How to read the tornado: the vertical line is the target in the scenario as it "
           "is; each row moves one parameter, the lower bar to its low setting and the upper "
           "bar to its high one, all else unchanged. The longest bars, on top, are the "
           "numbers worth knowing best and the levers worth pulling. Solid bars come from the "
           "simulation, with whiskers for the 95% CI of the paired change; hatched bars come "
           "from the mean-field twin, a fast deterministic approximation with no CI. "
           "A bar whose whisker crosses the line is a change the replications cannot tell "
           "from zero.")
    sections = [
        _section("Setup", _list(setup, cls="setup")),
        _section("Findings", _list(sensitivity_findings(result))),
        _section("Tornado chart",
                 _img(chart, f"Tornado chart of {meta.label}",
                      f"{meta.label} ({meta.unit}) when each parameter moves {_MINUS}{pct} "
                      f"(blue, lower bar) or +{pct} (orange, upper bar)."),
                 f'<p class="note">{_e(how)}</p>'),
        _section("Tables",
                 "<h3>Every lever, ranked by its larger change</h3>",
                 _table(header, rows, [True, False, False, False, True, True, False]),
                 "<h3>Skipped</h3>",
                 _table(["Parameter", "Value", "Why"], skipped_rows) if skipped_rows
                 else "<p>No parameter was skipped.</p>",
                 f"<h3>Set by the scenario, {_e(sc.name)}</h3>",
                 _table(["Parameter", "Value", "Set by"], set_rows) if set_rows
                 else "<p>Every parameter takes its default.</p>"),
    ]
    footer = (f"Made by flywheel {__version__}: sensitivity of {result.target} to ±{pct} "
              f"moves; {runs}; seed {result.seed}.")
    return _document(f"Flywheel sensitivity: {sc.name}, {meta.label}", sc.description,
                     question, sections, footer)


# -- the validation suite -----------------------------------------------------------------

def validation_report(suite: Any, pngs: Mapping[str, bytes] | None = None) -> str:
    """The HTML report of the validation suite (:class:`flywheel.studies.validation.Suite`): the
    summary table, each closed-form check with its chart, and the published ranges
    (``pngs``: charts already rendered, by check name and ``"bands"``)."""
    from flywheel.outputs import validation_report as v

    charts = dict(pngs) if pngs is not None else v.suite_charts(suite)
    failed = [c.title for c in suite.checks if not c.passed]
    verdict = ("Every closed-form check passes." if not failed else
               "These closed-form checks FAIL: " + ", ".join(failed) + ".")
    sections = []
    if suite.checks:
        sections.append(_section(
            "Closed forms",
            f"<p>{_e(verdict)}</p>",
            _table(list(v.CHECK_HEADER), v.check_rows(suite), [False, True, True, True, False]),
            '<p class="note">Each check runs the model in a limiting case where theory gives '
            "the answer, over replications with a fixed seed, and compares the mean (95% CI) "
            "with the analytic value. In the charts the shaded band around the simulated mean "
            "is the 95% CI of the mean; the grey band below, where shown, is the curve's tolerance.</p>"))
    for c in suite.checks:
        items = [f"Mechanism: {c.mechanism}", f"Closed form: {c.closed_form}",
                 f"Source: {c.citation}", f"Set-up: {c.setup}",
                 f"Checked: {c.quantity}: analytic {v.format_number(c.analytic)} {c.unit}; simulated "
                 f"{v.format_number(c.mean)} (95% CI {v.format_number(c.lo)} to "
                 f"{v.format_number(c.hi)}) over "
                 f"{c.replications} replications, seed {c.seed}.",
                 f"Tolerance ±{v.format_number(c.tolerance)}: {c.tolerance_note}", *c.notes]
        parts = [f"<p><strong>{'PASS' if c.passed else 'FAIL'}</strong></p>",
                 _list(items, cls="setup")]
        if c.name in charts:
            parts.append(_img(charts[c.name], f"{c.title}: simulated vs analytic",
                              "Simulated mean with its 95% CI against the analytic curve; "
                              "below, their difference."))
        if c.overrides:
            parts.append("<details><summary>Scenario: the baseline with these overrides"
                         + (f"; {_e(c.inject)}" if c.inject else "") + "</summary><pre>"
                         + _e("\n".join(c.overrides)) + "</pre></details>")
        sections.append(_section(c.title, *parts))
    pending = [text for name, text in v.PLANNED.items() if name not in v.CHECKS]
    if pending:
        sections.append(_section("Not yet checked", _list(pending)))
    if suite.bands:
        rows = [[*row, f"{r.band.figure}: {r.band.published}. Source: {r.band.source}"]
                for row, r in zip(v.band_rows(suite), suite.bands, strict=True)]
        parts = [_table([*v.BAND_HEADER, "source"], rows,
                        [False, False, True, True, False, False]),
                 '<p class="note">Ranges from practitioner surveys, not laws: a figure is '
                 "inside when its whole 95% CI lies in the band, on the edge when the CI "
                 "straddles a bound, outside when it misses. They never fail the suite.</p>"]
        if v.BANDS in charts:
            parts.append(_img(charts[v.BANDS], "Measured figures beside the published ranges",
                              "Mean with 95% CI whiskers; the shaded span is the published "
                              "range."))
        parts.append(_list([f"{fig} ({rng}; {src}): {why}."
                            for fig, rng, src, why in v.UNMEASURED], cls="setup"))
        sections.append(_section("Published ranges", *parts))
    return _document("Flywheel validation",
                     "Closed forms the model must reproduce, and the shipped scenarios beside "
                     "the published ranges.",
                     "Does the model agree with theory where theory has the answer, and are its "
                     "default numbers plausible?", sections,
                     f"Made by flywheel {__version__} (flywheel validate --suite).")
