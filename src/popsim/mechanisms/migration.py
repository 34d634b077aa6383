"""Migration: labour migrants (away, still registered), household emigration, in-migration.

The township counts its *registered* population, as its family-planning office
does: labour migrants stay in it while away (their births and check-ups remain
the township's business) and leave the accounts only when their household moves
away for good. A couple conceives only while both spouses are in the same place.
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.rules import only_child_of
from popsim.state.events import REASONS
from popsim.state.population import FEMALE, MALE, TAG_IMMIGRANT, retire
from popsim.state.rng import derive
from popsim.state.world import World

HOUSEHOLD, IMMIGRATION = REASONS.index("household"), REASONS.index("immigration")


def labour_moves(
    u: np.ndarray,
    *,
    away: np.ndarray,
    age_years: np.ndarray,
    age_range: tuple[int, int],
    p_out: float,
    p_return: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(leaving for work, returning home) this month, among the persons given."""
    of_age = (age_years >= age_range[0]) & (age_years <= age_range[1])
    leave = ~away & of_age & (u < p_out)
    back = away & (u < p_return)
    return leave, back


def leaving_households(
    u_household: np.ndarray, household: np.ndarray, alive: np.ndarray, p_leave: float
) -> np.ndarray:
    """Persons whose household emigrates this month (one draw per household)."""
    return alive & (u_household < p_leave)[household]  # a gather of bytes, not floats


def step_migration(world: World) -> None:
    """Labour moves, then household emigration, then in-migrants.

    The labour moves are drawn for every row of the table, the retired too, and then kept
    for the living: cheaper than gathering the living's keys, ages and places.
    """
    p, t, rates, mig = world.persons, world.t, world.rates, world.scenario.demography.migration
    leave_mask, back_mask = labour_moves(
        world.uniform("labour_migration"),
        away=p.away,
        age_years=world.age_years,
        age_range=(mig.labour_age_min, mig.labour_age_max),
        p_out=rates.labour_out,
        p_return=rates.labour_return,
    )
    leave = np.flatnonzero(leave_mask & p.alive)
    back = np.flatnonzero(back_mask & p.alive)
    p.away[leave] = True
    p.away[back] = False
    spouse = p.spouse[leave]
    joins = world.uniform("couple_migration", leave) < mig.couple_together
    p.away[spouse[(spouse >= 0) & joins]] = True

    u_household = world.streams.keyed("emigration", world.households.key, t)
    rows = np.flatnonzero(leaving_households(u_household, p.household, p.alive, rates.emigration))
    world.log.add(
        "out_migration",
        month=t,
        pid=p.pid[rows],
        sex=p.sex[rows],
        age_months=world.age_months[rows],
        village=p.village[rows],
        reason=HOUSEHOLD,
    )
    retire(p, rows, widow_spouses=False)

    rng = world.streams["immigration"]
    residents = int(np.count_nonzero(p.alive & ~p.away))
    n = rng.poisson(rates.immigration * residents)
    if n == 0:
        return
    birth_month = t - rng.integers(mig.immigrant_age_min * 12, (mig.immigrant_age_max + 1) * 12, n)
    sex = np.where(rng.random(n) < 0.5, MALE, FEMALE)
    village = rng.integers(0, world.scenario.township.n_villages, n).astype(np.int16)
    month_tag = np.uint64((t % (1 << 32)) << 32)  # t < 0 during the burn-in
    keys = derive(np.arange(n, dtype=np.uint64) + month_tag, TAG_IMMIGRANT)
    new = p.add(
        n,
        key=keys,
        sex=sex,
        birth_month=birth_month,
        village=village,
        household=world.households.add(village, keys),
        only_child=only_child_of(world, keys, birth_month),
    )
    world.log.add(
        "in_migration",
        month=t,
        pid=p.pid[new],
        sex=sex,
        age_months=t - birth_month,
        village=village,
        reason=IMMIGRATION,
    )
