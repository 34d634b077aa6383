"""Prenatal sex detection and sex-selective abortion (docs/regime.md §15).

In the month the fetus's sex can be seen, a son-preferring couple expecting a
girl ends the pregnancy with a probability that depends on its parity and on
whether it already has a son, less the share a crackdown prevents. The couple
then tries again, so with abortion probability s the male share of the births
that follow is m / (m + (1 - m)(1 - s)), m the male share of conceptions.

The higher the price of a birth after this one (a third birth under the
1.5-child rule carries the fee), the more this pregnancy is the couple's last
affordable chance of a son: the probability is multiplied by (1 +
``price_response`` x that price in years of income). So higher fines lower
fertility but raise the SRB (docs/regime.md §18).

The two-daughter reward is paid only with a sterilised spouse, which makes the
second birth a couple's last chance of a son; so at parity 1 after a girl the
probability rises by ``daughter_reward_factor`` per 1000 yuan of reward as couples
count it (``decision.reward_weight`` of its value, as in the price of a birth): the
perverse effect docs/regime.md §11 warns of.

Every probability is multiplied by ``decision.selection_trend``'s factor for the
calendar year (:func:`popsim.mechanisms.decision.selection_factor`; 1 by default).
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.decision import birth_price, selection_factor
from popsim.mechanisms.fertility import induced_abortions
from popsim.mechanisms.rules import next_birth_out_of_plan
from popsim.state.events import REASONS

SEX_SELECTIVE = REASONS.index("sex_selective")


def selection_probability(
    parity, sons, daughters, son_pref, *, prob_no_son, prob_with_son, reward_boost, crackdown
) -> np.ndarray:
    """Chance that a couple aborts a female fetus."""
    table = np.asarray(prob_no_son, dtype=float)
    no_son = table[np.minimum(parity, table.size - 1)]
    prob = np.where(sons > 0, prob_with_son, no_son)
    prob = prob * np.where((parity == 1) & (daughters == 1), 1.0 + reward_boost, 1.0)
    return np.where(son_pref, np.minimum(prob, 1.0) * (1.0 - crackdown), 0.0)


def reward_boost(policy) -> float:
    """Relative rise in selection after one daughter from the two-daughter reward counted."""
    inc = policy.incentives
    if not inc.enabled:
        return 0.0
    counted = inc.two_daughter_reward * inc.scale * policy.decision.reward_weight
    return policy.sex_selection.daughter_reward_factor * counted / 1000.0


def _price_after(world, rows: np.ndarray) -> np.ndarray:
    """Price (years of income) of a birth after the current one: what a girl now would cost."""
    after_this = world.persons.parity[rows] + 1  # as if this pregnancy ended in a birth
    out_plan = next_birth_out_of_plan(world, rows, months_ahead=24, parity=after_this)
    return np.maximum(birth_price(world, rows, out_plan, after_a_girl=True), 0.0)


def step_sex_selection(world) -> int:
    """Selective abortions this month; returns how many."""
    p, pol = world.persons, world.scenario.policy
    ss = pol.sex_selection
    seen = np.flatnonzero(p.alive & (p.preg_month == ss.detection_month) & ~p.fetus_male)
    prob = selection_probability(
        p.parity[seen],
        p.sons[seen],
        p.daughters[seen],
        p.son_pref[seen],
        prob_no_son=ss.prob_no_son,
        prob_with_son=ss.prob_with_son,
        reward_boost=reward_boost(pol),
        crackdown=ss.crackdown,
    )
    if ss.price_response > 0:
        some = np.flatnonzero(prob > 0)  # the others stay at 0: no price to work out
        prob[some] = np.minimum(
            1.0, prob[some] * (1.0 + ss.price_response * _price_after(world, seen[some]))
        )
    trend = selection_factor(world)
    if trend != 1.0:
        prob = np.minimum(1.0, prob * trend)
    ended = seen[world.uniform("sex_selection", seen) < prob]
    induced_abortions(world, ended, SEX_SELECTIVE, stop_trying=False)
    return ended.size
