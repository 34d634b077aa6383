"""Mortality, conception, pregnancy and birth: pure kernels and their monthly steps.

Kernels take arrays and uniforms (one per row of the person table, drawn from
the process's own stream) and return masks; the ``step_*`` functions apply
them to the :class:`~popsim.state.world.World` and log events.
"""

from __future__ import annotations

import numpy as np

from popsim.state.population import FEMALE, MALE, MARRIED, TAG_CHILD, retire
from popsim.state.rng import derive
from popsim.state.world import World

TERM_MONTHS = 9
LOSS_MONTHS = 3  #: spontaneous losses happen in the first trimester
ABORTION_MONTH = 2


def deaths(
    u: np.ndarray, *, sex: np.ndarray, age_years: np.ndarray, q_month: np.ndarray
) -> np.ndarray:
    """Who of the living dies this month; ``q_month[sex, age]`` is the monthly probability."""
    return u < q_month[sex, age_years]


def pregnancy_outcomes(
    u_loss: np.ndarray, *, preg_month: np.ndarray, loss_month: float, abortion_prob: float
) -> tuple[np.ndarray, np.ndarray]:
    """(ended without a birth, born) among pregnancies in their ``preg_month``.

    Spontaneous loss has a constant monthly hazard over the first trimester;
    induced abortion happens in month 2 with ``abortion_prob``. One uniform
    serves both: the loss branch uses the bottom of [0, 1), abortion the next slice.
    """
    early = (preg_month >= 1) & (preg_month <= LOSS_MONTHS)
    lost = early & (u_loss < loss_month)
    at_abortion = preg_month == ABORTION_MONTH
    aborted = at_abortion & ~lost & (u_loss < loss_month + (1 - loss_month) * abortion_prob)
    born = (preg_month == TERM_MONTHS) & ~lost
    return lost | aborted, born


def conceptions(u: np.ndarray, *, eligible: np.ndarray, p_conceive: np.ndarray) -> np.ndarray:
    """Who conceives this month, each with her own probability."""
    return eligible & (u < p_conceive)


def wants_another(u: np.ndarray, parity: np.ndarray, progression: np.ndarray) -> np.ndarray:
    """Whether a woman at ``parity`` tries for another child (parity progression ratio)."""
    return u < progression[np.minimum(parity, len(progression) - 1)]


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


def _give_birth(world: World, mothers: np.ndarray, male: np.ndarray) -> None:
    """Add the newborns and update their mothers' parity and children."""
    p, t, fert = world.persons, world.t, world.scenario.demography.fertility
    policy = world.policy
    out_of_plan, reported = policy.on_births(mothers) if policy is not None else (-1, -1)
    first = p.parity[mothers] == 0
    p.first_birth_month[mothers[first]] = t
    p.parity[mothers] += 1
    p.sons[mothers] += male
    p.daughters[mothers] += ~male
    p.last_birth_month[mothers] = t
    p.preg_month[mothers] = 0
    p.susceptible_from[mothers] = t + fert.postpartum_months + 1
    if policy is not None and policy.decides:
        p.wants_more[mothers] = False  # the couple's decision module takes it from here
    else:
        u_want = world.uniform("parity_progression", mothers)
        p.wants_more[mothers] = wants_another(u_want, p.parity[mothers], world.rates.progression)
    world.log.add(
        "birth",
        month=t,
        pid=np.arange(p.next_pid, p.next_pid + mothers.size),
        sex=male.astype(np.int8),
        age_months=world.age_months[mothers],
        village=p.village[mothers],
        order=p.parity[mothers],
        other=p.pid[mothers],
        out_of_plan=out_of_plan,
        reported=reported,
        sons_before=p.sons[mothers] - male,
    )
    p.add(
        mothers.size,
        key=derive(p.key[mothers], TAG_CHILD + p.parity[mothers].astype(np.uint64)),
        sex=np.where(male, MALE, FEMALE),
        birth_month=t,
        village=p.village[mothers],
        household=p.household[mothers],
        mother=p.pid[mothers],
    )


def step_fertility(world: World) -> None:
    """Pregnancy outcomes and new conceptions (or direct births in ``asfr`` mode)."""
    p, t, rates = world.persons, world.t, world.rates
    fert = world.scenario.demography.fertility
    women = p.alive & (p.sex == FEMALE)
    age = world.age_years
    if fert.mode == "asfr":
        rows = np.flatnonzero(women)
        u = world.uniform("conception", rows)
        mothers = rows[u < rates.asfr_month[age[rows]]]
        male = world.uniform("birth_sex", mothers) < rates.p_male
        _give_birth(world, mothers, male)
        return

    pregnant = np.flatnonzero(women & (p.preg_month > 0))
    ended_mask, born_mask = pregnancy_outcomes(
        world.uniform("pregnancy_loss", pregnant),
        preg_month=p.preg_month[pregnant],
        loss_month=rates.loss_month,
        abortion_prob=fert.abortion_prob,
    )
    ended, born = pregnant[ended_mask], pregnant[born_mask]
    p.preg_month[ended] = 0
    p.susceptible_from[ended] = t + 1
    p.out_of_plan[ended] = False
    p.preg_known[ended] = False
    p.preg_month[pregnant[~ended_mask & ~born_mask]] += 1

    eligible = women & (p.marital == MARRIED) & (p.preg_month == 0) & (t >= p.susceptible_from)
    if world.policy is None:
        eligible &= p.wants_more  # couples not trying use perfect contraception
    rows = np.flatnonzero(eligible)
    spouse = p.spouse[rows]
    apart = (spouse >= 0) & (p.away[np.maximum(spouse, 0)] != p.away[rows])
    p_conceive = rates.fecundability[age[rows]] * np.where(apart, rates.separated_contact, 1.0)
    if world.policy is not None:
        p_conceive = p_conceive * world.policy.conception_factor(rows)
    new = rows[conceptions(world.uniform("conception", rows), eligible=True, p_conceive=p_conceive)]
    p.preg_month[new] = 1
    p.fetus_male[new] = world.uniform("fetal_sex", new) < rates.p_male
    if world.policy is not None:
        world.policy.on_conceptions(new)

    mothers = born  # last: adding newborns lengthens the table
    _give_birth(world, mothers, p.fetus_male[mothers])
