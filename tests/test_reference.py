"""docs/scenarios.md carries the parameter table generated from defaults.PARAMS."""

from pathlib import Path

from flywheel.outputs.reference import parameter_table
from flywheel.scenario.defaults import PARAMS

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"


def test_docs_parameter_table_is_current() -> None:
    table = parameter_table()
    assert table.count("\n") == len(PARAMS) + 2
    assert table in DOC.read_text(), "regenerate it: python -m flywheel.outputs.reference"
