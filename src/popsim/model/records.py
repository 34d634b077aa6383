"""What a run records besides its events: monthly flows, person-years, year-end snapshots.

These are the model's own steps of the month (:mod:`popsim.model.steps`); each takes the
:class:`~popsim.model.township.PopsimModel`, whose arrays and DataCollector they fill.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popsim.scenario.demography import N_AGES
from popsim.state.population import FEMALE, SINGLE

FLOWS = {
    "births": "birth",
    "deaths": "death",
    "in_migrants": "in_migration",
    "out_migrants": "out_migration",
    "marriages": "marriage",
}
PARITY_AGES = (45, 50)
MAX_PARITY = 10  #: parities above are counted in the last class


def open_month(model) -> None:
    """Remember the population and event counts at the month's start (for its flows)."""
    model.month_start_totals = dict(model.world.log.totals)
    model.population_start = model.population


def add_exposure(model) -> None:
    """Add the month's person-years by sex and single age."""
    w = model.world
    # the living counted as weights: exact whole numbers, cheaper than gathering their cells
    persons = np.bincount(w.age_cell, weights=w.persons.alive, minlength=2 * N_AGES)
    model.exposure[w.t // 12] += persons.reshape(2, N_AGES) / 12.0


def add_newborn_exposure(model) -> None:
    """Add the month's newborns' person-years at age 0: they are at risk in their birth month."""
    p = model.world.persons
    born = p.sex[model.world.month.newborns].astype(np.int64)
    model.exposure[model.world.t // 12, :, 0] += np.bincount(born, minlength=2) / 12.0


def tally(model) -> None:
    """The month's flows and village populations; collected in recorded months."""
    totals, start = model.world.log.totals, model.month_start_totals
    model.flows = {name: totals[kind] - start[kind] for name, kind in FLOWS.items()}
    model.count_villages()
    if model.recording:
        model.mothers_of_two = mothers_of_two(model.world)
        model.datacollector.collect(model)
        record_agents(model)


def record_agents(model) -> None:
    """The villages' populations and the cadres' effectiveness this month, as arrays.

    What Mesa's agent reporters would collect, without a Python call per agent and month
    (at 10,000 persons those calls took about a twentieth of the month);
    :func:`agent_table` reads them back as the reporters' table.
    """
    rows = model.agent_rows
    rows["step"].append(model.time)
    rows["villages"].append(model.village_population.copy())
    if model.regime is not None:
        rows["cadres"].append(np.array([c.effectiveness for c in model.regime.cadres]))


def agent_tables(model) -> dict[str, pd.DataFrame]:
    """The villages' and cadres' monthly rows (step, agent id, values), as Mesa's would be."""
    steps = np.asarray(model.agent_rows["step"], dtype=float)
    villages = np.array([v.unique_id for v in model.villages])
    out = {"villages": _per_month(steps, villages, population=model.agent_rows["villages"])}
    cadres = model.regime.cadres if model.regime is not None else []
    out["cadres"] = _per_month(
        steps,
        np.array([c.unique_id for c in cadres], dtype=np.int64),
        village=[np.array([c.village for c in cadres], dtype=np.int64)] * steps.size,
        effectiveness=model.agent_rows["cadres"],
    )
    return out


def _per_month(steps: np.ndarray, ids: np.ndarray, **columns: list) -> pd.DataFrame:
    """A row per month and agent; each column is a list of one array per month."""
    table = {"step": np.repeat(steps, ids.size), "agent": np.tile(ids, steps.size)}
    for name, months in columns.items():
        table[name] = np.concatenate(months) if months else np.zeros(0)
    return pd.DataFrame(table)


def mothers_of_two(world) -> tuple[int, int]:
    """Women under 50 with two children: (both daughters, both sons).

    The exposure of the third-birth rates by the children's sexes that a survey of rural
    Anhui compares (``third_births_daughters_share`` in :mod:`popsim.outputs.statistics`).
    """
    p = world.persons
    rows = np.flatnonzero(p.parity == 2)
    rows = rows[p.alive[rows] & (p.sex[rows] == FEMALE) & (world.age_years[rows] < PARITY_AGES[1])]
    sons = np.bincount(p.sons[rows], minlength=3)
    return int(sons[0]), int(sons[2])


def snapshot(model) -> None:
    """Year-end age pyramid by sex and parity distribution of women 45-49.

    The pyramid counts everyone registered, those present (not away, as a census counts
    residents) and the present who never married, by sex and single year of age.
    """
    p, age = model.world.persons, model.world.age_years
    alive = p.alive
    present = alive & ~p.away
    cells = model.world.age_cell
    counts = [
        np.bincount(cells[rows], minlength=2 * N_AGES).reshape(2, N_AGES)
        for rows in (alive, present, present & (p.marital == SINGLE))
    ]
    model.snapshots["pyramid"].append(np.stack(counts))
    women = alive & (p.sex == FEMALE) & (age >= PARITY_AGES[0]) & (age < PARITY_AGES[1])
    model.snapshots["parity"].append(
        np.bincount(np.minimum(p.parity[women], MAX_PARITY), minlength=MAX_PARITY + 1)
    )
