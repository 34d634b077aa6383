"""Pregnancy, conception, birth and induced abortion: pure kernels and their monthly steps.

Kernels take arrays and uniforms (one per row of the person table, drawn from the
process's own stream) and return masks; the ``step_*`` functions apply them to the
:class:`~popsim.state.world.World` and log events. A month runs them in the order of
the step table (:mod:`popsim.model.steps`): pregnancy outcomes, conceptions, then
births, which hand each other rows through ``world.month``.
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.rules import update_only_children
from popsim.state.events import REASONS
from popsim.state.population import FEMALE, MALE, MARRIED, TAG_CHILD
from popsim.state.rng import derive
from popsim.state.world import World

TERM_MONTHS = 9
LOSS_MONTHS = 3  #: spontaneous losses happen in the first trimester
ABORTION_MONTH = 2
UNINTENDED = REASONS.index("unintended")  #: the couple's own abortion of an unintended pregnancy


def pregnancy_outcomes(
    u_loss: np.ndarray, *, preg_month: np.ndarray, loss_month: float, abortion_prob
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lost, aborted, born) among pregnancies in their ``preg_month``.

    Spontaneous loss has a constant monthly hazard over the first trimester;
    induced abortion happens in month 2 with ``abortion_prob`` (a number, or one per
    pregnancy). One uniform serves both: the loss branch uses the bottom of [0, 1),
    abortion the next slice.
    """
    early = (preg_month >= 1) & (preg_month <= LOSS_MONTHS)
    lost = early & (u_loss < loss_month)
    at_abortion = preg_month == ABORTION_MONTH
    aborted = at_abortion & ~lost & (u_loss < loss_month + (1 - loss_month) * abortion_prob)
    born = (preg_month == TERM_MONTHS) & ~lost
    return lost, aborted, born


def conceptions(u: np.ndarray, *, eligible: np.ndarray, p_conceive: np.ndarray) -> np.ndarray:
    """Who conceives this month, each with her own probability."""
    return eligible & (u < p_conceive)


def conception_factor(trying, method, method_failure) -> np.ndarray:
    """Multiplier of fecundability: 1 when trying, else her method's relative failure."""
    return np.where(trying, 1.0, method_failure[method])


def wants_another(u: np.ndarray, parity: np.ndarray, progression: np.ndarray) -> np.ndarray:
    """Whether a woman at ``parity`` tries for another child (parity progression ratio)."""
    return u < progression[np.minimum(parity, len(progression) - 1)]


def own_abortion_probability(base: float, son_odds: float, has_son: np.ndarray) -> np.ndarray:
    """The chance a couple ends an unintended pregnancy, by whether it has a son.

    Without a son: ``base``; with one: the probability whose odds are ``son_odds`` times those
    of ``base``.
    """
    if son_odds == 1.0 or base >= 1.0:
        with_son = base
    else:
        with_son = son_odds * base / (1.0 - base + son_odds * base)
    return np.where(has_son, with_son, base)


def step_pregnancies(world: World) -> None:
    """Losses and terms of ongoing pregnancies (``asfr`` mode: births at the age rates).

    Sets ``world.month.mothers`` and ``.male``: who gives birth this month, to what sex.
    """
    p, t, rates = world.persons, world.t, world.rates
    fert = world.scenario.demography.fertility
    women = p.alive & (p.sex == FEMALE)
    if fert.mode == "asfr":
        rows = np.flatnonzero(women)
        u = world.uniform("conception", rows)
        mothers = rows[u < rates.asfr_month[world.age_years[rows]]]
        world.month.mothers = mothers
        world.month.male = world.uniform("birth_sex", mothers) < rates.p_male
        return
    pregnant = np.flatnonzero(women & (p.preg_month > 0))
    intended = p.preg_intended[pregnant]
    lost_mask, aborted_mask, born_mask = pregnancy_outcomes(
        world.uniform("pregnancy_loss", pregnant),
        preg_month=p.preg_month[pregnant],
        loss_month=rates.loss_month,
        abortion_prob=np.where(
            intended,
            0.0,
            own_abortion_probability(
                fert.unintended_abortion, fert.unintended_abortion_son_odds, p.sons[pregnant] > 0
            ),
        ),
    )
    ended_mask = lost_mask | aborted_mask
    ended, born = pregnant[ended_mask], pregnant[born_mask]
    if aborted_mask.any():
        log_abortions(world, pregnant[aborted_mask], UNINTENDED)
    if world.method_failure is not None:  # the regime's free services pay for them
        world.ledger.count("unintended_abortions", int(aborted_mask.sum()))
    p.preg_month[ended] = 0
    p.susceptible_from[ended] = t + 1
    p.out_of_plan[ended] = False
    p.preg_known[ended] = False
    p.preg_month[pregnant[~ended_mask & ~born_mask]] += 1
    world.month.mothers = born
    world.month.male = p.fetus_male[born]


def step_conception(world: World) -> None:
    """New conceptions among married women not pregnant; sets ``world.month.conceived``.

    ``world.method_failure[method]`` is a non-trying couple's conception rate relative to
    its fecundability (see :mod:`~popsim.mechanisms.contraception`); ``None``: couples not
    trying use perfect contraception.
    """
    p, t, rates = world.persons, world.t, world.rates
    method_failure = world.method_failure
    if world.scenario.demography.fertility.mode == "asfr":
        return
    eligible = (
        p.alive
        & (p.sex == FEMALE)
        & (p.marital == MARRIED)
        & (p.preg_month == 0)
        & (t >= p.susceptible_from)
    )
    if method_failure is None:
        eligible &= p.wants_more
    rows = np.flatnonzero(eligible)
    spouse = p.spouse[rows]
    apart = (spouse >= 0) & (p.away[np.maximum(spouse, 0)] != p.away[rows])
    age = world.age_years[rows]
    p_conceive = rates.fecundability[age] * np.where(apart, rates.separated_contact, 1.0)
    if method_failure is not None:
        trying, method = p.wants_more[rows], p.method[rows]
        p_conceive = p_conceive * conception_factor(trying, method, method_failure)
    new = rows[conceptions(world.uniform("conception", rows), eligible=True, p_conceive=p_conceive)]
    p.preg_month[new] = 1
    p.preg_intended[new] = p.wants_more[new]
    if method_failure is not None:  # the regime's methods: some conceptions are unintended
        world.ledger.count("conceptions", new.size)
        world.ledger.count("conceptions_unintended", int((~p.preg_intended[new]).sum()))
    p.fetus_male[new] = world.uniform("fetal_sex", new) < rates.p_male
    world.month.conceived = new


def step_births(world: World) -> None:
    """Add this month's newborns (``world.month.newborns``) and update their mothers.

    With the couple's decision (:mod:`~popsim.mechanisms.decision`) a birth ends the
    trying, and the couple decides again; else parity progression ratios draw it.
    """
    p, t, fert = world.persons, world.t, world.scenario.demography.fertility
    policy = world.scenario.policy
    decides = policy.enabled and policy.decision.enabled
    mothers, male = world.month.mothers, world.month.male
    first = p.parity[mothers] == 0
    p.first_birth_month[mothers[first]] = t
    p.parity[mothers] += 1
    p.sons[mothers] += male
    p.daughters[mothers] += ~male
    p.last_birth_month[mothers] = t
    p.preg_month[mothers] = 0
    p.out_of_plan[mothers] = False
    p.preg_known[mothers] = False
    p.susceptible_from[mothers] = t + fert.postpartum_months + 1
    if decides:
        p.wants_more[mothers] = False
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
        out_of_plan=world.month.births_out_of_plan,
        reported=world.month.births_reported,
        sons_before=p.sons[mothers] - male,
    )
    world.month.newborns = p.add(
        mothers.size,
        key=derive(p.key[mothers], TAG_CHILD + p.parity[mothers].astype(np.uint64)),
        sex=np.where(male, MALE, FEMALE),
        birth_month=t,
        village=p.village[mothers],
        household=p.household[mothers],
        mother=p.pid[mothers],
    )
    update_only_children(world, mothers, world.month.newborns)


def log_abortions(world: World, rows: np.ndarray, reason: int) -> None:
    """Log the induced abortions of ``rows``' pregnancies, before their state is cleared."""
    p = world.persons
    world.log.add(
        "abortion",
        month=world.t,
        pid=p.pid[rows],
        sex=p.fetus_male[rows].astype(np.int8),
        age_months=world.age_months[rows],
        village=p.village[rows],
        order=p.parity[rows] + 1,
        reason=reason,
        out_of_plan=p.out_of_plan[rows].astype(np.int8),
        sons_before=p.sons[rows],
        intended=p.preg_intended[rows].astype(np.int8),
    )


def induced_abortions(world: World, rows: np.ndarray, reason: int, *, stop_trying: bool) -> None:
    """End ``rows``' pregnancies (remedial or sex-selective): logged; she may conceive again.

    ``stop_trying``: the couple gives up the child (its desire falls to its parity).
    """
    p = world.persons
    log_abortions(world, rows, reason)
    p.preg_month[rows] = 0
    p.preg_known[rows] = False
    p.out_of_plan[rows] = False
    p.susceptible_from[rows] = world.t + 1
    if stop_trying:
        p.wants_more[rows] = False
        p.desired[rows] = p.parity[rows]
        p.son_pref[rows] = False
