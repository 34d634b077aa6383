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


def deaths(
    u: np.ndarray, *, sex: np.ndarray, age_years: np.ndarray, q_month: np.ndarray
) -> np.ndarray:
    """Who of the living dies this month; ``q_month[sex, age]`` is the monthly probability."""
    return u < q_month[sex, age_years]


def step_mortality(world: World) -> None:
    """Deaths this month among those alive at its start; spouses of the dead are widowed."""
    _deaths_among(world, np.flatnonzero(world.persons.alive))


def step_newborn_mortality(world: World) -> None:
    """Deaths in their birth month among this month's newborns (``world.month.newborns``)."""
    _deaths_among(world, world.month.newborns)


def _deaths_among(world: World, living: np.ndarray) -> None:
    p = world.persons
    dead = deaths(
        world.uniform("mortality", living),
        sex=p.sex[living],
        age_years=world.age_years[living],
        q_month=world.death_probability(),
    )
    rows = living[dead]
    world.log.add(
        "death",
        month=world.t,
        pid=p.pid[rows],
        sex=p.sex[rows],
        age_months=world.age_months[rows],
        village=p.village[rows],
    )
    retire(p, rows, widow_spouses=True)
