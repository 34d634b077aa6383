"""Birth rules: is a birth (or a pregnancy) in plan under the regime in force?

Under every regime except ``none``, a birth is out of plan when the mother is
unmarried or below the legal minimum age of marriage (docs/regime.md §4). Beyond
that: ``one_child`` allows the first child only; ``two_child`` the first two;
``one_and_half`` a second child only when the first is a girl, the mother has
reached ``second_child_min_age`` and ``spacing_months`` have passed since the
first birth; third and later births are never in plan.
"""

from __future__ import annotations

import numpy as np

from popsim.scenario.regime import BirthRules, Regime
from popsim.state.population import MARRIED


def regime_in_force(rules: BirthRules, year: int) -> Regime:
    """The regime that applies in calendar ``year``."""
    if rules.change_year is not None and year >= rules.change_year:
        return rules.regime_after
    return rules.regime


def second_allowed(regime: Regime, daughters: np.ndarray) -> np.ndarray:
    """Whether a couple with one child may have an in-plan second (a quota it can waive)."""
    return (regime == "two_child") | ((regime == "one_and_half") & (daughters == 1))


def out_of_plan(
    regime: Regime,
    *,
    parity: np.ndarray,
    first_is_son: np.ndarray,
    months_since_first: np.ndarray,
    mother_age: np.ndarray,
    married: np.ndarray,
    legal_age: int,
    spacing_months: int,
    second_child_min_age: int,
) -> np.ndarray:
    """Whether the next birth of each woman (now at ``parity``) would be out of plan."""
    if regime == "none":
        return np.zeros(parity.shape, dtype=bool)
    illegal = ~married | (mother_age < legal_age)
    if regime == "one_child":
        return illegal | (parity >= 1)
    if regime == "two_child":
        return illegal | (parity >= 2)
    second_refused = (
        first_is_son | (months_since_first < spacing_months) | (mother_age < second_child_min_age)
    )
    return illegal | (parity >= 2) | ((parity == 1) & second_refused)


def next_birth_out_of_plan(
    world, rows: np.ndarray, months_ahead: int = 0, *, parity: np.ndarray | None = None
) -> np.ndarray:
    """:func:`out_of_plan` for ``rows`` of the person table, ``months_ahead`` from now.

    ``parity``: the women's parity by then, if not their parity now.
    """
    p, t = world.persons, world.t
    rules = world.scenario.policy.rules
    year = world.scenario.township.start_year + (t + months_ahead) // 12
    parity = p.parity[rows] if parity is None else parity
    return out_of_plan(
        regime_in_force(rules, year),
        parity=parity,
        first_is_son=(parity == 1) & (p.sons[rows] == 1),
        months_since_first=t + months_ahead - p.first_birth_month[rows],
        mother_age=(world.age_months[rows] + months_ahead) // 12,
        married=p.marital[rows] == MARRIED,
        legal_age=world.scenario.demography.marriage.min_age_female,
        spacing_months=rules.spacing_months,
        second_child_min_age=rules.second_child_min_age,
    )


def blocked_for_good(world, rows: np.ndarray) -> np.ndarray:
    """Whether the rule in force 9 months on forbids the next birth of ``rows`` for good.

    Out of plan however long the couple waits: spacing and minimum ages count as passed.
    """
    p, rules = world.persons, world.scenario.policy.rules
    year = world.scenario.township.start_year + (world.t + 9) // 12
    parity = p.parity[rows]
    return out_of_plan(
        regime_in_force(rules, year),
        parity=parity,
        first_is_son=(parity == 1) & (p.sons[rows] == 1),
        months_since_first=np.full(rows.size, 10**6),
        mother_age=np.full(rows.size, 10**3),
        married=p.marital[rows] == MARRIED,
        legal_age=world.scenario.demography.marriage.min_age_female,
        spacing_months=rules.spacing_months,
        second_child_min_age=rules.second_child_min_age,
    )


def step_plan_status(world) -> None:
    """Classify this month's conceptions under the rule expected at birth, 9 months on."""
    p, new = world.persons, world.month.conceived
    p.out_of_plan[new] = next_birth_out_of_plan(world, new, months_ahead=9)
