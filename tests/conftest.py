"""Shared test fixtures: a working folder of the test's own, and writing scenario files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work inside tmp_path, so files are named relative, as a user would, and nothing
    lands in the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder/name`` (creating folders), as a user's scenario file."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
