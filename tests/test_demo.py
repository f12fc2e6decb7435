"""`flywheel demo`: the headline comparisons, their findings, one report, older demos kept."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from flywheel.cli import main


def test_demo_prints_findings_writes_report_and_keeps_an_older_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "-n", "2", "-j", "1", "-q", "--out", str(out)])
    assert first.exit_code == 0, (first.output, first.exception)
    # both headline questions, each with findings drawn from the numbers
    assert "10-minute time to value" in first.stdout
    assert "free trial" in first.stdout
    # freemium vs trial: the offer's two effects, fewer signups and more conversion
    assert re.search(r"Signups fall from [\d,]+ in freemium to [\d,]+ in trial", first.stdout)
    assert re.search(r"Free-to-paid conversion in 90 days rises from [\d.]+% in freemium",
                     first.stdout)
    assert re.search(r"Signup-to-activation rate rises from [\d.]+% in slow-ttv to [\d.]+% "
                     r"in fast-ttv", first.stdout)
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/png;base64,") >= 2
    assert (out / "ttv" / "summary.json").exists() and (out / "pricing" / "summary.json").exists()
    # the go-to-market motions: money (ARR, its sales part, CAC) leads their findings
    assert "which go-to-market motion earns the most" in first.stdout
    assert re.search(r"(ARR|ARR, sales contracts|Blended CAC) rises from \$[\d,.]+k? in "
                     r"plg-only to \$[\d,.]+[kM] in plg-sales-assist", first.stdout)
    assert (out / "sales" / "summary.json").exists()
    # the demo's comparisons differ only in their levers: nothing to warn of
    assert "Warning" not in first.stdout

    second = runner.invoke(main, ["demo", "-n", "2", "-j", "1", "-q", "--out", str(out)])
    assert second.exit_code == 0, (second.output, second.exception)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("demo-")]
    assert len(kept) == 1, list(tmp_path.iterdir())
    assert f"The previous demo was kept in {kept[0]}" in second.stderr
    assert (kept[0] / "report.html").read_text() == html  # the older demo, untouched
    assert (out / "report.html").exists()
