"""Tests for charts (flywheel.outputs.plots) and HTML reports (flywheel.outputs.report).

Charts must take their labels and units from METRICS / SERIES / FUNNEL, write real
PNGs at 150 dpi, and leave matplotlib's global state alone.  Reports must be one
self-contained, well-formed HTML file (images inline, no scripts, no network), and
their findings must say what the numbers say.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import pytest
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure

from flywheel.metrics import FUNNEL, METRICS, SERIES
from flywheel.outputs import plots, report
from flywheel.scenario.files import load_scenario
from flywheel.studies.comparisons import Comparison, Sweep, compare, sweep
from flywheel.studies.runner import RunResult, simulate

SMALL = ["market.companies=2000", "simulation.horizon=60d"]
REPS = 3
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- fixtures: one small run, one comparison, two sweeps (module scope: built once) ----------

@pytest.fixture(scope="module")
def run() -> RunResult:
    return simulate(load_scenario("baseline", SMALL), replications=REPS, jobs=1)


@pytest.fixture(scope="module")
def ttv() -> Comparison:
    return compare(["slow-ttv", "fast-ttv"], replications=REPS, jobs=1, overrides=SMALL,
                   metrics=["activation_rate", "signups", "arr_end", "paying_teams"])


@pytest.fixture(scope="module")
def sweep1() -> Sweep:
    return sweep(load_scenario("baseline", SMALL), [("pricing.price_per_seat", [10, 20, 40])],
                 replications=REPS, jobs=1, metrics=["activation_rate", "mrr_end"])


@pytest.fixture(scope="module")
def sweep2() -> Sweep:
    return sweep(load_scenario("baseline", SMALL),
                 [("onboarding.ttv.median", ["10min", "1d", "1w"]),
                  ("pricing.price_per_seat", [10, 20])],
                 replications=2, jobs=1, metrics=["activation_rate", "arr_end"])


def _labels(fig: Figure) -> list[str]:
    """Every axis label and title of a figure (colour bars included)."""
    out = []
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_title("left")]
    return [t for t in out if t]


def _has(fig: Figure, label: str, unit: str) -> bool:
    return any(label in t and unit in t for t in _labels(fig))


# -- charts --------------------------------------------------------------------------------

def test_growth_labels_from_series(run: RunResult) -> None:
    fig = plots.growth(run)
    assert isinstance(fig, Figure)
    for name in ("signups", "active_users", "paying_teams"):
        assert _has(fig, SERIES[name].label, SERIES[name].unit), (name, _labels(fig))


def test_mrr_labels_from_series_and_metrics(run: RunResult) -> None:
    fig = plots.mrr(run)
    assert isinstance(fig, Figure)
    assert _has(fig, SERIES["mrr"].label, SERIES["mrr"].unit)
    assert _has(fig, METRICS["arr_end"].label, METRICS["arr_end"].unit)
    # ARR is 12 x MRR, day by day
    mrr_line = fig.axes[0].get_lines()[0].get_ydata()
    arr_line = fig.axes[1].get_lines()[0].get_ydata()
    assert arr_line == pytest.approx(12 * mrr_line)


def test_funnel_stages_and_units(run: RunResult) -> None:
    fig = plots.funnel(run)
    assert isinstance(fig, Figure)
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert ticks == [label for _, label, _ in FUNNEL]
    units = {unit for _, _, unit in FUNNEL}
    assert len(fig.axes) == len(units)  # users' and teams' stages apart
    for unit in units:
        assert any(ax.get_xlabel().startswith(unit) for ax in fig.axes)
    # bar lengths are the replication means
    bars = [p.get_width() for ax in fig.axes for p in ax.patches]
    means = [row[3] for row in run.funnel_rows()]
    assert bars == pytest.approx(means)


def test_cohort_heatmap(run: RunResult) -> None:
    fig = plots.cohort_heatmap(run)
    assert isinstance(fig, Figure)
    assert any(SERIES["active_users"].label in t and "share" in t for t in _labels(fig))
    cohorts, weeks, share = plots.cohort_matrix(run)
    assert share.shape == (len(cohorts), len(weeks)) and share.size
    finite = share[~(share != share)]
    assert ((finite >= 0) & (finite <= 1)).all()
    # one cell checked by hand: the mean over replications of active / signups
    c, k = 0, 1
    vals = [a / n for r in run.replications for (cc, kk, n, a) in r.cohorts if (cc, kk) == (c, k)]
    assert share[c, k] == pytest.approx(sum(vals) / len(vals))


def test_comparison_charts(ttv: Comparison) -> None:
    fig = plots.comparison_overlay(ttv)
    assert isinstance(fig, Figure)
    for name in ("active_users", "mrr"):
        assert _has(fig, SERIES[name].label, SERIES[name].unit)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["slow-ttv", "fast-ttv"]
    for metric in ttv.metrics:
        fig = plots.comparison_bars(ttv, metric)
        assert _has(fig, METRICS[metric].label, METRICS[metric].unit)
        heights = [p.get_height() for p in fig.axes[0].patches]
        assert heights == pytest.approx([r.mean_ci(metric)[0] for r in ttv.results])


def test_sweep_curves(sweep1: Sweep, sweep2: Sweep) -> None:
    fig = plots.sweep_curves(sweep1, "mrr_end")
    assert isinstance(fig, Figure)
    assert _has(fig, METRICS["mrr_end"].label, METRICS["mrr_end"].unit)
    assert "pricing.price_per_seat" in fig.axes[0].get_xlabel()
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [10, 20, 40]
    assert list(line.get_ydata()) == pytest.approx([r.mean_ci("mrr_end")[0]
                                                    for r in sweep1.results])
    # two axes: one line per value of the second
    fig = plots.sweep_curves(sweep2, "arr_end")
    assert len(fig.axes[0].get_lines()) == 2
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["pricing.price_per_seat = 10", "pricing.price_per_seat = 20"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["10min", "1d", "1w"]


def test_no_global_matplotlib_state(run: RunResult) -> None:
    before = dict(matplotlib.rcParams)
    plots.run_charts(run)
    assert _pylab_helpers.Gcf.get_num_fig_managers() == 0  # no pyplot figures
    assert dict(matplotlib.rcParams) == before
    assert plots.STYLE["font.size"] >= 12


def _png_dpi(data: bytes) -> float:
    """Horizontal resolution from the PNG's pHYs chunk, in dots per inch."""
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs":
            ppm, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            assert unit == 1  # metres
            return ppm * 0.0254
        pos += 12 + length
    raise AssertionError("no pHYs chunk")


def test_save_writes_png_at_150_dpi(run: RunResult, tmp_path: Path) -> None:
    for name, fig in plots.run_charts(run).items():
        path = plots.save(fig, tmp_path / "charts" / f"{name}.png")
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name
        assert _png_dpi(data) == pytest.approx(150, abs=0.5)
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == \
        ["cohorts.png", "funnel.png", "growth.png", "mrr.png"]  # no temporary files left


# -- HTML ------------------------------------------------------------------------------------

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}


class Collector(HTMLParser):
    """Collects tags and attributes; checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.decl: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.decl.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_html(doc: str, min_images: int) -> Collector:
    p = Collector()
    p.feed(doc)
    p.close()
    assert p.decl == ["DOCTYPE html"]
    assert not p.errors, p.errors
    assert not p.stack, f"unclosed: {p.stack}"
    for tag in ("html", "head", "body", "main", "title", "style", "h1"):
        assert p.tags.count(tag) == 1, tag
    assert p.tags.index("head") < p.tags.index("body") < p.tags.index("main")
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    imgs = [v for tag, k, v in p.attrs if tag == "img" and k == "src"]
    assert len(imgs) >= min_images
    prefix = "data:image/png;base64,"
    for src in imgs:
        assert src and src.startswith(prefix)
        assert base64.b64decode(src[len(prefix):], validate=True).startswith(PNG_MAGIC)
    for tag, key, value in p.attrs:
        if key in ("src", "href", "srcset", "action", "poster"):
            assert not re.match(r"\s*(https?:)?//", value or ""), (tag, key, value)
        assert not key.startswith("on"), (tag, key)  # no inline event handlers
    assert not re.search(r"https?://", doc)
    assert "url(" not in doc and "@import" not in doc
    for tag, key, value in p.attrs:
        if tag == "img":
            assert key != "alt" or value
    return p


def test_run_report(run: RunResult, tmp_path: Path) -> None:
    doc = report.run_report(run)
    p = _check_html(doc, min_images=4)
    text = " ".join(p.text)
    assert "baseline" in text
    for name in ("signups", "activation_rate", "arr_end"):
        assert METRICS[name].label in text
    for _, label, _ in FUNNEL:
        assert label in text
    assert "onboarding.ttv" in text and "market.companies" in text  # key parameters
    for sentence in report.run_findings(run):
        assert sentence in text
    path = report.write_report(doc, tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8") == doc
    report.write_report(doc + "<!-- again -->", path)  # replaces in place
    assert path.read_text(encoding="utf-8").endswith("<!-- again -->")
    assert [q.name for q in path.parent.iterdir()] == ["report.html"]  # no temporary files


def test_report_escapes_text(run: RunResult) -> None:
    evil = "<script>alert('x')</script> & co"
    sc = dataclasses.replace(run.scenario, name=evil, description=f"desc {evil}")
    odd = dataclasses.replace(run, scenario=sc)
    doc = report.run_report(odd)
    p = _check_html(doc, min_images=4)
    assert "<script>" not in doc
    assert evil in " ".join(p.text)  # shown as text, not markup


def test_comparison_report(ttv: Comparison) -> None:
    doc = report.comparison_report(ttv)
    p = _check_html(doc, min_images=1 + len(ttv.metrics))
    text = " ".join(p.text)
    assert "onboarding.ttv" in text  # the parameter that differs, with both values
    assert "median 2w" in text and "median 10min" in text
    assert "slow-ttv" in text and "fast-ttv" in text
    for sentence in report.findings(ttv):
        assert sentence in text
    for metric in ttv.metrics:
        assert METRICS[metric].label in text


def test_comparison_question_from_file_or_generated(ttv: Comparison) -> None:
    doc = report.comparison_report(dataclasses.replace(ttv, question="Is <fast> worth it?"))
    assert "Is &lt;fast&gt; worth it?" in doc
    generated = report._comparison_question(ttv, ttv.labels, ttv.parameter_differences())
    assert generated.startswith("What changes when onboarding.ttv goes from")


def _num(s: str) -> float:
    return float(s.replace("\u2212", "-").replace(",", ""))


def test_findings_match_paired_differences(ttv: Comparison) -> None:
    sentences = report.findings(ttv)
    assert len(sentences) == len(ttv.metrics)  # one per metric for the one other scenario
    (act,) = [s for s in sentences if s.startswith(METRICS["activation_rate"].label)]
    m = re.fullmatch(r"Signup-to-activation rate rises from ([\d.]+)% in slow-ttv to ([\d.]+)% "
                     r"in fast-ttv \(([+\u2212][\d.]+) points, 95% CI ([+\u2212][\d.]+) to "
                     r"([+\u2212][\d.]+)\)\.", act)
    assert m, act
    d, lo, hi = ttv.paired_diff("activation_rate", 1)
    assert lo > 0  # fast time to value clearly lifts activation
    slow = ttv.results[0].mean_ci("activation_rate")[0]
    fast = ttv.results[1].mean_ci("activation_rate")[0]
    for shown, exact in zip(m.groups(), (slow, fast, d, lo, hi), strict=True):
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        assert _num(shown) == pytest.approx(100 * exact, abs=0.5 * 10 ** -decimals + 1e-9)
    # signups: a count, so a relative change against slow-ttv's mean
    (sig,) = [s for s in sentences if s.startswith("Signups")]
    d, lo, hi = ttv.paired_diff("signups", 1)
    base = ttv.results[0].mean_ci("signups")[0]
    if lo > 0:
        m = re.search(r"\(([+\u2212][\d.]+)%, 95% CI ([+\u2212][\d.]+)% to ([+\u2212][\d.]+)%\)", sig)
        assert sig.startswith("Signups rise from") and m, sig
        for shown, exact in zip(m.groups(), (d, lo, hi), strict=True):
            decimals = len(shown.split(".")[1]) if "." in shown else 0
            assert _num(shown) == pytest.approx(100 * exact / base,
                                                abs=0.5 * 10 ** -decimals + 1e-9)
    else:
        assert "no clear difference" in sig


def test_change_sentence_wording() -> None:
    s = report.change_sentence("activation_rate", "slow", "fast", 0.38, 0.71, (0.33, 0.30, 0.36))
    assert s == ("Signup-to-activation rate rises from 38% in slow to 71% in fast "
                 "(+33 points, 95% CI +30 to +36).")
    s = report.change_sentence("arr_end", "slow", "fast", 78_000, 142_000,
                               (64_000, 58_500, 69_420))
    assert s == "ARR rises from $78k in slow to $142k in fast (+82%, 95% CI +75% to +89%)."
    s = report.change_sentence("paying_teams", "a", "b", 40.0, 30.0, (-10.0, -12.0, -8.0))
    assert s.startswith("Paying customers fall from 40.0 in a to 30.0 in b (\u221225%")
    s = report.change_sentence("activation_rate", "a", "b", 0.38, 0.39, (0.01, -0.01, 0.03))
    assert "no clear difference" in s and s.startswith("Signup-to-activation rate:")
    s = report.change_sentence("arr_end", "a", "b", 0.0, 1200.0, (1200.0, 800.0, 1600.0))
    assert "+$1,200" in s  # nothing to be relative to: the absolute difference
    s = report.change_sentence("signups", "a", "b", 100.0, 120.0, (20.0, math.nan, math.nan))
    assert "too few replications" in s


def test_sweep_report(sweep1: Sweep, sweep2: Sweep) -> None:
    for sw in (sweep1, sweep2):
        doc = report.sweep_report(sw)
        p = _check_html(doc, min_images=len(sw.metrics))
        text = " ".join(p.text)
        for path, _ in sw.axes:
            assert path in text
        for sentence in report.sweep_findings(sw):
            assert sentence in text
    findings = report.sweep_findings(sweep2)
    assert any(f.startswith("Signup-to-activation rate falls from") and "10min" in f
               for f in findings), findings


def test_single_replication_report() -> None:
    one = simulate(load_scenario("baseline", ["market.companies=500", "simulation.horizon=30d"]),
                   replications=1, jobs=1)
    doc = report.run_report(one)
    _check_html(doc, min_images=4)


# -- the sales views ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sales_run() -> RunResult:
    sc = load_scenario("enterprise-understaffed", ["simulation.horizon=300d"])
    return simulate(sc, replications=2, jobs=1)


def test_sales_chart_shows_lead_flow_queue_and_arr_by_motion(sales_run: RunResult,
                                                            run: RunResult) -> None:
    assert plots.has_sales(sales_run) and not plots.has_sales(run)
    assert "sales" in plots.run_charts(sales_run) and "sales" not in plots.run_charts(run)
    fig = plots.sales(sales_run)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["Leads per week", "The sales queue", "ARR by motion"]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [SERIES[k].label for k in ("pqls", "cold_leads", "won", "gone_cold")]
    # the queue panel draws the team's deal slots: 1 rep x 10
    assert "deal slots (10)" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


def test_run_report_has_sales_chart_and_findings(sales_run: RunResult) -> None:
    html = report.run_report(sales_run)
    assert "Sales: leads per week, the queue, ARR by motion" in html
    findings = " ".join(report.run_findings(sales_run))
    assert "product-qualified leads closed at" in findings
    assert re.search(r"The reps' deal slots were [\d.]+% busy", findings)
    assert "ARR by motion:" in findings and "Blended CAC was" in findings


def test_comparison_with_a_sales_team_overlays_the_sales_views(ttv: Comparison) -> None:
    assert plots.comparison_series(ttv) == ("active_users", "mrr")
    cmp = compare(["plg-only", "plg-sales-assist"], replications=2, jobs=1,
                  overrides=["simulation.horizon=120d"])
    assert plots.comparison_series(cmp) == ("active_users", "arr_self_serve", "arr_sales",
                                            "sales_queue")
    fig = plots.comparison_overlay(cmp)
    assert [ax.get_title(loc="left") for ax in fig.axes] == [
        SERIES[k].label for k in plots.comparison_series(cmp)]
