"""The parameter reference table of ``docs/scenarios.md``, generated from
:data:`flywheel.scenario.defaults.PARAMS` so the two never drift apart.

Regenerate after changing a default: ``python -m flywheel.outputs.reference`` prints the table;
``tests/test_reference.py`` fails while the docs hold an older one.
"""

from __future__ import annotations

from flywheel.scenario.defaults import PARAMS, Param
from flywheel.scenario.files import toml_value
from flywheel.scenario.units import format_duration, format_rate


def _cell(s: object) -> str:
    return str(s).replace("|", "\\|")


def _num(x: float) -> str:
    if float(x).is_integer():
        x = int(x)
        return "2^63 − 1" if x == 2**63 - 1 else f"{x:,}"
    return f"{x:g}"


def _allowed(p: Param) -> str:
    if p.kind == "distribution":
        return f"distribution ({p.domain}s)"
    if p.kind == "choice":
        return "one of " + ", ".join(f'`"{c}"`' for c in p.choices)
    if p.kind == "bool":
        return "true / false"
    if p.kind == "probability":
        return "probability, 0 to 1"
    f = {"duration": format_duration, "rate": format_rate}.get(p.kind, _num)
    lo, hi = p.minimum, p.maximum
    if lo is not None and hi is not None:
        return f"{p.kind}, {f(lo)} to {f(hi)}"
    if lo is not None and lo != 0:
        return f"{p.kind}, at least {f(lo)}"
    return p.kind


def parameter_table() -> str:
    """Markdown table: path, default, kind and allowed values, unit, meaning, source."""
    lines = ["| path | default | kind, allowed | unit | meaning | source |",
             "|---|---|---|---|---|---|"]
    for p in PARAMS:
        lines.append(f"| `{p.path}` | `{_cell(toml_value(p.default))}` | {_cell(_allowed(p))} | "
                     f"{_cell(p.unit) or '—'} | {_cell(p.meaning)} | {_cell(p.source) or '—'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(parameter_table(), end="")  # noqa: T201
