"""Compare mode: the explored settings against the scenario they started from, paired by seed.

Both scenarios run the same seeds at the explorer's size, and the paired differences and
their intervals come from :mod:`popsim.analysis.comparison`, the functions behind the
batch report, so a number seen here is the number a batch of the saved file would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from popsim.analysis.comparison import INDICATORS, difference_table, paired_rows, summarise
from popsim.analysis.measures import MEASURES, write
from popsim.explorer.settings import Settings
from popsim.outputs import replicates
from popsim.outputs.runner import resize

SHOWN = (*INDICATORS, "births_averted")  #: the rows of the difference table
EXPLORED = "explored"


@dataclass(frozen=True)
class Comparison:
    """The paired comparison: one row per indicator, and the births of every seed."""

    reference: str
    seeds: tuple[int, ...]
    table: pd.DataFrame
    births_by_seed: pd.DataFrame


def names(settings: Settings) -> tuple[str, str]:
    """(reference, explored): the batch's names of the two scenarios, never the same."""
    reference = settings.base.name
    return reference, EXPLORED if reference != EXPLORED else f"{EXPLORED}_settings"


def compare(
    settings: Settings,
    replicates_: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Run ``replicates_`` seeds of both scenarios (from the settings' seed) and pair them.

    ``progress``, if given, is called with (runs done, runs in all) after every run.
    """
    if replicates_ < 2:
        raise ValueError("a paired interval needs at least 2 replicates")
    reference, explored = names(settings)
    scenarios = {
        reference: resize(settings.base, settings.n_persons, settings.years),
        explored: settings.scenario(),
    }
    total = replicates_ * len(scenarios)
    batch = {}
    for k, (name, scenario) in enumerate(scenarios.items()):
        req = replicates.request(scenario, replicates=replicates_, first_seed=settings.seed)

        def done(i: int, _: int, k: int = k) -> None:
            if progress is not None:
                progress(k * replicates_ + i, total)

        batch[name] = replicates.run(req, progress=done)
    summary = summarise(batch)
    rows = []
    for name in SHOWN:
        row = difference_table(summary, name, reference).iloc[0]
        rows.append(
            {
                "indicator": MEASURES[name].label,
                "unit": MEASURES[name].unit,
                reference: write(name, row["reference"]),
                explored: write(name, row["scenario"]),
                "difference": write(name, row["difference"], signed=True),
                "paired 95% interval": _interval(name, row["paired_low"], row["paired_high"]),
                "Welch 95% interval": _interval(name, row["welch_low"], row["welch_high"]),
            }
        )
    pairs = paired_rows(summary, reference)
    births = pd.DataFrame(
        {reference: pairs[reference]["births"], explored: pairs[explored]["births"]}
    )
    births["difference"] = births[explored] - births[reference]
    births.index.name = "seed"
    return Comparison(reference, tuple(req.seeds), pd.DataFrame(rows), births)


def _interval(name: str, low: float, high: float) -> str:
    if pd.isna(low):
        return "no interval"
    return f"[{write(name, low)}, {write(name, high)}]"
