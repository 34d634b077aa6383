"""The month's compiled passes: questions numpy would answer in many small calls.

At 10,000 persons over half of a month's time is a fixed cost (a month of 2,000 persons
takes 1.3 ms, of 10,000 2.0 ms; benchmarks/README.md): Python's work around numpy's calls,
which at this size cost a microsecond or less each. A pass here replaces a function that
made a few dozen of them with one call. So far that is the birth rules by row, asked five
or six times a month (the couples' decision, the LARC campaign, sex selection, the
classification of conceptions and of births), each for a few hundred rows: a loop that
reads each row's columns once instead of gathers and fifteen small passes. It does no
arithmetic on floats, so its flags are those of :func:`popsim.mechanisms.rules.out_of_plan`,
which stays the rule's statement; ``tests/test_rules.py`` checks that the two agree for
every regime. (Passes with ``exp``, ``log`` or ``**`` would not be bit for bit numpy's:
numba's differ from numpy's in the last bit for a few per cent of inputs.)

The steps import this module at their first call (numba is imported with it); the loops
compile once, or load from numba's disk cache, as :mod:`popsim.state.splitmix`'s do.
"""

from __future__ import annotations

import numpy as np

from popsim.state.population import MARRIED
from popsim.state.splitmix import kernel

#: regimes by code, in the order of the schema's ``Regime``
REGIMES = ("none", "one_child", "one_and_half", "selective_two_child", "two_child", "three_child")
NONE, ONE_CHILD, ONE_AND_HALF, SELECTIVE, TWO_CHILD, THREE_CHILD = range(len(REGIMES))


@kernel(
    "boolean[::1](int64, intp[::1], int8[::1], int8[::1], int32[::1], int32[::1], int8[::1], "
    "boolean[::1], int32[::1], int64, int64[::1], int64, int64, int64)"
)
def out_of_plan_rows(
    regime: int,
    rows: np.ndarray,
    parity: np.ndarray,
    sons: np.ndarray,
    first_birth_month: np.ndarray,
    age_months: np.ndarray,
    marital: np.ndarray,
    only_child: np.ndarray,
    spouse: np.ndarray,
    t: int,
    months_ahead: np.ndarray,
    legal_age: int,
    spacing_months: int,
    second_child_min_age: int,
) -> np.ndarray:
    """Whether the next birth of each of ``rows`` would be out of plan under ``regime``.

    ``parity``: one per row (the parity at the birth's time); ``sons``, ``first_birth_month``,
    ``age_months``, ``marital``, ``only_child`` and ``spouse``: whole columns of the person
    table; ``months_ahead``: one value for all rows, or one per row.
    """
    n = rows.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    if regime == NONE:
        return out
    shared = months_ahead.shape[0] == 1
    for i in range(n):
        row = rows[i]
        ahead = months_ahead[0] if shared else months_ahead[i]
        k = parity[i]
        mother_age = (age_months[row] + ahead) // 12
        if marital[row] != MARRIED or mother_age < legal_age:
            out[i] = True
        elif regime == ONE_CHILD:
            out[i] = k >= 1
        elif regime == TWO_CHILD:
            out[i] = k >= 2
        elif regime == THREE_CHILD:
            out[i] = k >= 3
        elif k >= 2:
            out[i] = True
        elif k == 1:
            refused = (
                sons[row] == 1
                or t + ahead - first_birth_month[row] < spacing_months
                or mother_age < second_child_min_age
            )
            if refused and regime == SELECTIVE:
                husband = spouse[row]
                refused = not (only_child[row] or (husband >= 0 and only_child[husband]))
            out[i] = refused
    return out
