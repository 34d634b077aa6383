"""Mortality: who dies this month, from the life table's monthly probabilities."""

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
    """Deaths this month; spouses of the dead are widowed."""
    p = world.persons
    living = np.flatnonzero(p.alive)
    dead = deaths(
        world.uniform("mortality", living),
        sex=p.sex[living],
        age_years=world.age_years[living],
        q_month=world.rates.q_month,
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
