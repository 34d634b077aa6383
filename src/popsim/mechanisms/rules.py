"""Birth rules: is a birth (or a pregnancy) in plan under the regime in force?

Under every regime except ``none``, a birth is out of plan when the mother is
unmarried or below the legal minimum age of marriage (docs/regime.md §4). Beyond
that: ``one_child`` allows the first child only; ``two_child`` the first two;
``three_child`` the first three; ``one_and_half`` a second child only when the first is
a girl, the mother has reached ``second_child_min_age`` and ``spacing_months`` have
passed since the first birth; ``selective_two_child`` is ``one_and_half`` and also allows
a second child whenever either spouse is an only child (Anhui 2014). Births beyond the
regime's number are never in plan.

The rule is the one in force in the current month (``world.scenario``, swapped by the
timeline): a change of rule holds from its month, not before; when the rule changes, the
model reclassifies the pregnancies under way. A rule announced before its month
(``world.expected_rules``) is the rule of any birth due once it holds: from the announcement
couples plan, and pregnancies are classified, under it (and those under way are classified
again then), while births before its month keep the rule in force.

Only children: ``only_child`` is set for persons created without a mother in the run
(the initial population and in-movers) from the cohort shares of
:func:`popsim.scenario.tables.only_child_share`, and for persons born in the run from
their mother: a first child is an only child until the mother's next birth clears it.
"""

from __future__ import annotations

import numpy as np

from popsim.scenario.regime import Regime
from popsim.scenario.tables import only_child_share

FOREVER = 10**6  #: months: past any spacing interval and minimum age


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
    only_child_couple: np.ndarray | None = None,
) -> np.ndarray:
    """Whether the next birth of each woman (now at ``parity``) would be out of plan.

    ``only_child_couple``: whether the wife or her husband is an only child (needed by
    ``selective_two_child``; ``None`` reads as no). The month asks the same question by row
    through :func:`popsim.mechanisms.kernels.out_of_plan_rows`, which must agree with this.
    """
    if regime == "none":
        return np.zeros(parity.shape, dtype=bool)
    illegal = ~married | (mother_age < legal_age)
    if regime == "one_child":
        return illegal | (parity >= 1)
    if regime == "two_child":
        return illegal | (parity >= 2)
    if regime == "three_child":
        return illegal | (parity >= 3)
    second_refused = (
        first_is_son | (months_since_first < spacing_months) | (mother_age < second_child_min_age)
    )
    if regime == "selective_two_child" and only_child_couple is not None:
        second_refused = second_refused & ~only_child_couple
    return illegal | (parity >= 2) | ((parity == 1) & second_refused)


def only_child_couple(world, rows: np.ndarray) -> np.ndarray:
    """Whether the woman in each row or her husband is an only child.

    A husband living outside the township (``spouse`` -1) is not on the township's
    record and counts as not an only child.
    """
    p = world.persons
    spouse = p.spouse[rows]
    husband = np.zeros(rows.size, dtype=bool)
    linked = spouse >= 0
    husband[linked] = p.only_child[spouse[linked]]
    return p.only_child[rows] | husband


def second_child_allowed(
    world, rows: np.ndarray, daughters: np.ndarray | None = None
) -> np.ndarray:
    """Whether a second child would be allowed to the one-child couples in ``rows``.

    ``daughters``: the couples' daughters if not their number now (a price seen as if a
    girl were born). The quota-waiver reward is for giving up such a child (the spacing
    and age conditions aside: they only delay it).
    """
    regime = world.scenario.policy.rules.regime
    if regime in ("two_child", "three_child"):
        return np.ones(rows.size, dtype=bool)
    p = world.persons
    daughters = p.daughters[rows] if daughters is None else daughters
    allowed = (daughters == 1) & (regime in ("one_and_half", "selective_two_child"))
    if regime == "selective_two_child":
        allowed |= only_child_couple(world, rows)
    return allowed


def next_birth_out_of_plan(
    world, rows: np.ndarray, months_ahead: int | np.ndarray = 0, *, parity=None
) -> np.ndarray:
    """:func:`out_of_plan` for ``rows`` of the person table, under the rule of the birth.

    That is the rule in force now, or one announced (``world.expected_rules``) for a birth
    that would come once it is in force. ``months_ahead``: when the birth would come (for
    the mother's age, the spacing and the rule); ``parity``: the women's parity by then, if
    not their parity now.
    """
    parity = world.persons.parity[rows] if parity is None else parity
    now = world.scenario.policy.rules
    flags = _out_of_plan_under(world, now, rows, months_ahead, parity)
    if world.expected_rules is not None:
        in_force_from, later = world.expected_rules
        after = world.t + np.asarray(months_ahead) >= in_force_from
        if np.any(after):
            flags = np.where(
                after, _out_of_plan_under(world, later, rows, months_ahead, parity), flags
            )
    return flags


def _out_of_plan_under(world, rules, rows, months_ahead, parity) -> np.ndarray:
    """:func:`out_of_plan` under ``rules`` for ``rows``, in one compiled pass over them."""
    p, demography = world.persons, world.scenario.demography
    from popsim.mechanisms.kernels import REGIMES, out_of_plan_rows  # imports numba

    return out_of_plan_rows(
        REGIMES.index(rules.regime),
        np.ascontiguousarray(rows, dtype=np.intp),
        np.ascontiguousarray(parity, dtype=np.int8),
        p.sons,
        p.first_birth_month,
        world.age_months,
        p.marital,
        p.only_child,
        p.spouse,
        world.t,
        np.asarray(months_ahead, dtype=np.int64).reshape(-1),
        demography.marriage.min_age_female,
        rules.spacing_months,
        rules.second_child_min_age,
    )


def blocked_for_good(world, rows: np.ndarray) -> np.ndarray:
    """Whether the rule forbids the next birth of ``rows`` however long they wait.

    Spacing and minimum ages count as passed: they only delay a birth, so this is the rule
    for a birth :data:`FOREVER` months on (an announced rule, if there is one).
    """
    return next_birth_out_of_plan(world, rows, months_ahead=FOREVER)


def step_plan_status(world) -> None:
    """Classify this month's conceptions under the rule in force, for a birth 9 months on."""
    p, new = world.persons, world.month.conceived
    p.out_of_plan[new] = next_birth_out_of_plan(world, new, months_ahead=9)


def reclassify_pregnancies(world) -> None:
    """Classify every pregnancy under way again, under a rule that has just changed."""
    p = world.persons
    rows = np.flatnonzero(p.alive & (p.preg_month > 0))
    months_to_birth = 9 - p.preg_month[rows].astype(np.int64)
    p.out_of_plan[rows] = next_birth_out_of_plan(world, rows, months_to_birth)


def only_child_draw(u: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
    """Only-child flags of persons born in ``birth_year``, from uniforms ``u`` and the shares."""
    starts, shares = only_child_share()
    cohort = np.clip(np.searchsorted(starts, birth_year, side="right") - 1, 0, starts.size - 1)
    return u < shares[cohort]


def only_child_of(world, keys: np.ndarray, birth_month: np.ndarray) -> np.ndarray:
    """The flags of persons who arrive without a mother in the run (by key and birth month)."""
    year = world.scenario.township.start_year + np.floor_divide(birth_month, 12)
    return only_child_draw(world.streams.keyed("only_child", keys, world.t), year)


def update_only_children(world, mothers: np.ndarray, newborns: np.ndarray) -> None:
    """A first child is an only child; a later birth ends its siblings' being only children.

    ``mothers`` are the rows giving birth (parity already counting this birth) and
    ``newborns`` their babies, in the same order. Children are found by their ``mother``
    pid, so the children of initial mothers born before the run keep their drawn flag.
    """
    p = world.persons
    p.only_child[newborns] = p.parity[mothers] == 1
    again = p.pid[mothers[p.parity[mothers] > 1]]
    if again.size:
        only = np.flatnonzero(p.only_child)  # the few flagged: the lookup spares the rest
        # a flag per pid, read at each child's mother pid: one gather where np.isin would
        # compare every flagged child with every mother; the extra last entry stays False
        # and is what a child without a mother in the run (mother -1) reads
        had_again = np.zeros(p.next_pid + 1, dtype=bool)
        had_again[again] = True
        p.only_child[only[had_again[p.mother[only]]]] = False
