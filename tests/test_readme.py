"""README's two commands stay true: CI runs README's test command, and the run command
names an entry point the package declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README opens with a sh block of set-up commands"
    return [ln for ln in block.group(1).splitlines() if ln and not ln.startswith("#")]


def test_ci_runs_the_readme_test_command() -> None:
    test_cmd = [c for c in commands() if "pytest" in c]
    assert len(test_cmd) == 1
    assert test_cmd[0] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_run_command_uses_the_declared_script() -> None:
    run_cmd = [c for c in commands() if "flywheel demo" in c]
    assert len(run_cmd) == 1
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["flywheel"] == "flywheel.cli:main"
