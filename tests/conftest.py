"""Shared fixtures: the repository's folders and small, fast runs."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params"


@pytest.fixture(scope="session")
def params_dir() -> Path:
    """The repository's ``params/`` folder."""
    return PARAMS
