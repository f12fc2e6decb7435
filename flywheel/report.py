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

from flywheel import __version__, plots
from flywheel.defaults import PARAMS_BY_PATH
from flywheel.metrics import FUNNEL, HEADLINE, METRICS, format_value, mean_ci

__all__ = [
    "KEY_PARAMS",
    "SWEEP_METRICS",
    "change_sentence",
    "comparison_report",
    "findings",
    "run_findings",
    "run_report",
    "sweep_findings",
    "sweep_report",
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
_COUNT_NOUNS = ("users", "teams", "seats", "invites")


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
    return f"{text} days" if unit == "days" else text


def change_sentence(metric: str, base_name: str, other_name: str, base_mean: float,
                    other_mean: float, diff: tuple[float, float, float],
                    context: str = "", where: str = "in") -> str:
    """One plain-language finding: how ``metric`` changes from the base to the other.

    ``diff`` is the paired difference (other minus base): mean, 95% CI low, high.
    Shares change in percentage points; counts, amounts and times by a relative
    change (difference / base mean; as every metric is non-negative, a fall is
    never shown beyond -100%), or by the absolute difference when the base is
    zero.  ``context`` is added after the names (e.g. ``"with trial.length =
    14d"``); ``where`` is the preposition before a name (``"in"`` a scenario,
    ``"at"`` a sweep's value).
    """
    meta = METRICS[metric]
    label, unit = meta.label, meta.unit
    d, lo, hi = (float(x) if not _nan(x) else math.nan for x in diff)
    ctx = f", {context}" if context else ""
    if _nan(d):
        return (f"{label}: no comparison possible between {other_name} and {base_name}"
                f"{ctx} (no value in at least one of them).")
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
            sentence = change_sentence(metric, names[0], names[i],
                                       cmp.results[0].mean_ci(metric)[0],
                                       cmp.results[i].mean_ci(metric)[0], diff)
            _, lo, hi = diff
            (unclear if _nan(lo) or _nan(hi) or lo <= 0 <= hi else clear).append(sentence)
    return clear + unclear


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
        out.append(f"Each activated user brought {v('viral_coefficient')} more signups"
                   f"{ci('viral_coefficient')} through invites and word of mouth: the viral "
                   f"coefficient K is {verdict}.")
    if has("teams", "teams_ever_paid"):
        s = f"{v('teams_ever_paid')} of {v('teams')} teams paid"
        if has("free_to_paid_rate"):
            s += f": free-to-paid conversion {v('free_to_paid_rate')}{ci('free_to_paid_rate')}"
        out.append(s + ".")
    if has("paying_teams", "mrr_end", "arr_end"):
        out.append(f"At day {result.horizon:g}, {v('paying_teams')} teams were paying, for an "
                   f"MRR of {v('mrr_end')} and an ARR of {v('arr_end')}{ci('arr_end')}.")
    if has("active_users_end", "user_churn_monthly"):
        out.append(f"{v('active_users_end')} users were active at the end; active users "
                   f"churned at {v('user_churn_monthly')} a month{ci('user_churn_monthly')}.")
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
    out = []
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
              footer: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_e(title)}</h1>\n"
        + (f'<p class="subtitle">{_e(subtitle)}</p>\n' if subtitle else "")
        + f'<p class="question">{_e(question)}</p>\n'
        + "\n".join(sections)
        + f"\n<footer><p>{_e(footer)}</p><p>{_e(_HOW_TO_READ)}</p></footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def _ci_text(mean: float, lo: float, hi: float, unit: str) -> str:
    if _nan(lo):
        return "-"
    return f"[{format_value(lo, unit)}, {format_value(hi, unit)}]"


def _mean_ci_cell(stats: tuple[float, float, float], unit: str) -> str:
    mean, lo, hi = stats
    text = format_value(mean, unit)
    return text if _nan(lo) else f"{text} {_ci_text(mean, lo, hi, unit)}"


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


def _headline_rows(result: Any, names: Sequence[str]) -> list[list[str]]:
    rows = []
    for name in names:
        meta = METRICS[name]
        mean, lo, hi = result.mean_ci(name)
        rows.append([meta.label, format_value(mean, meta.unit), _ci_text(mean, lo, hi, meta.unit),
                     meta.unit])
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


def run_report(result: Any, pngs: Mapping[str, bytes] | None = None) -> str:
    """The HTML report of one run (``pngs``: charts already rendered, by name)."""
    sc = result.scenario
    key = [p for p in PARAMS_BY_PATH if p in KEY_PARAMS or sc.sources.get(p, "default") != "default"]
    param_rows = []
    for path in key:
        param_rows.append([path, _with_unit(path, sc.raw[path]), _param_meaning(path),
                           sc.sources.get(path, "")])
    charts = dict(pngs) if pngs is not None else plots.run_charts(result)
    figs = [
        _img(charts["growth"], "Signups per day, active users and paying teams over time",
             "Signups per day, active users and paying teams: mean line, band "
             f"{plots.BAND[0]:g}–{plots.BAND[1]:g}% of replications."),
        _img(charts["mrr"], "MRR and ARR over time",
             "Monthly and annual recurring revenue (ARR = 12 × MRR) over time."),
        _img(charts["funnel"], "Funnel of users and teams",
             "The funnel, users and teams apart: mean with 95% CI whiskers and the share "
             "of the stage above."),
        _img(charts["cohorts"], "Weekly cohort retention heat map",
             "Share of each weekly signup cohort with a seat k weeks after signing up."),
    ]
    all_rows = _headline_rows(result, [m for m in METRICS if m not in HEADLINE])
    sections = [
        _section("Parameters",
                 "<p>The parameters that shape this run: the key ones, and every one the "
                 "scenario sets.</p>",
                 _table(["Parameter", "Value", "Meaning", "Set by"], param_rows)),
        _section("Findings", _list(run_findings(result))),
        _section("Charts", *figs),
        _section("Tables",
                 "<h3>Headline metrics</h3>",
                 _table(["Metric", "Mean", "95% CI", "Unit"], _headline_rows(result, HEADLINE),
                        [False, True, True, False]),
                 "<h3>Funnel</h3>", _funnel_table(result),
                 "<details><summary>All other metrics</summary>",
                 _table(["Metric", "Mean", "95% CI", "Unit"], all_rows,
                        [False, True, True, False]),
                 "</details>"),
    ]
    return _document(f"Flywheel run: {sc.name}", sc.description, _run_question(result),
                     sections, _footer([result]))


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
        cells = [_mean_ci_cell(s, meta.unit) for s in stats]
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
                 "<h3>What differs</h3>", diff_part),
        _section("Findings", _list(findings(cmp)), f'<p class="note">{_e(paired_note)}</p>'),
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
    header = [p for p, _ in axes] + [f"{METRICS[m].label} ({METRICS[m].unit})" for m in chosen]
    rows = []
    for point, res in zip(sweep.points, sweep.results, strict=True):
        rows.append([plots._show(point.get(p, "")) for p, _ in axes]
                    + [_mean_ci_cell(res.mean_ci(m), METRICS[m].unit) for m in chosen])
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


# -- writing ------------------------------------------------------------------------------

def write_report(html_text: str, path: str | os.PathLike[str]) -> Path:
    """Write ``html_text`` to ``path`` atomically: a temporary file in the same folder,
    then :func:`os.replace`, so a reader never sees half a report."""
    from flywheel.results import write_file

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
            rows.append([meta.label, meta.unit, *(_mean_ci_cell(s, meta.unit) for s in stats),
                         *(_diff_cell(m, stats[0][0], cmp.paired_diff(m, i))
                           for i in range(1, len(cmp.results)))])
        sections.append(_section(
            _comparison_question(cmp, names, diffs),
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
