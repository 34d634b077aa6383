"""The golden regression set: small runs of the baseline and two scenarios, kept as Parquet.

``scripts/refresh_golden.py`` writes the files; ``test_golden.py`` reruns the cases and
compares every table. Nothing else may change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import popsim
from popsim.outputs.results import TABLES, flat

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"


@dataclass(frozen=True)
class Case:
    """One run of the golden set."""

    scenario: str  #: path from the repository root
    seed: int
    n_agents: int = 2_000
    years: int = 6

    @property
    def name(self) -> str:
        """Folder name of the case."""
        return f"{Path(self.scenario).stem}_seed{self.seed}"


CASES = (
    Case("params/baseline.yaml", seed=1),
    Case("params/baseline.yaml", seed=2),
    Case("params/scenarios/two_child_year5.yaml", seed=1),
    Case("params/scenarios/incentives_doubled.yaml", seed=1),
    Case("params/core.yaml", seed=3),
)


def run_case(case: Case) -> dict[str, pd.DataFrame]:
    """Every table of the case's run, flattened as written to Parquet."""
    result = popsim.simulate(
        ROOT / case.scenario, seed=case.seed, n_agents=case.n_agents, years=case.years
    )
    return {name: flat(getattr(result, name)) for name in TABLES}
