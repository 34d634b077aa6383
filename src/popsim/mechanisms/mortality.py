"""Mortality: who dies this month, from the life table's monthly probabilities.

Everyone alive at the month's start faces the month's probability for their sex and age;
so do the month's newborns, once born, at age 0. A newborn is thus at risk in its birth
month and the eleven months after it at age 0, twelve monthly risks in all, and a
life table's q0 = 1 - exp(-m0) is read back as infant deaths per birth.
"""

from __future__ import annotations

import numpy as np

from popsim.state.population import retire
from popsim.state.world import World


def deaths(u: np.ndarray, *, cell: np.ndarray, q_month: np.ndarray) -> np.ndarray:
    """Who dies this month; ``q_month[sex, age]`` is the monthly probability.

    ``cell`` is ``sex * N_AGES + age`` (:attr:`~popsim.state.world.World.age_cell`): one
    lookup in the flattened table is far cheaper than indexing it by two arrays.
    """
    return u < q_month.reshape(-1)[cell]


def step_mortality(world: World) -> None:
    """Deaths this month among those alive at its start; spouses of the dead are widowed.

    Drawn for every row of the table, the retired too: cheaper than gathering the living's
    keys and ages, and a keyed draw does not depend on who else is drawn. The draw and
    :func:`deaths` run fused, in one pass over the table, with the same outcome.
    """
    dead = world.uniform_below(
        "mortality", world.death_probability(), cell=world.age_cell, where=world.persons.alive
    )
    _retire_dead(world, np.flatnonzero(dead))


def step_newborn_mortality(world: World) -> None:
    """Deaths in their birth month among this month's newborns (``world.month.newborns``)."""
    newborns = world.month.newborns
    u = world.uniform("mortality", newborns)
    dead = deaths(u, cell=world.age_cell[newborns], q_month=world.death_probability())
    _retire_dead(world, newborns[dead])


def _retire_dead(world: World, rows: np.ndarray) -> None:
    p = world.persons
    world.log.add(
        "death",
        month=world.t,
        pid=p.pid[rows],
        sex=p.sex[rows],
        age_months=world.age_months[rows],
        village=p.village[rows],
    )
    retire(p, rows, widow_spouses=True)
