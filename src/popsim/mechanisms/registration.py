"""Birth registration: the reported layer of every KPI (docs/regime.md §14).

A birth enters the township's report with probability ``in_plan`` or
``out_of_plan``; a misreporting ``penalty`` closes that share of the gap to full
registration. The report is what the township tells the county, which assesses
it on compliance, so out-of-plan births known locally (and charged the fee) may
still be left out of it. Since out-of-plan births go unreported more often,
reported compliance exceeds the true one.
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.rules import next_birth_out_of_plan


def report_probability(out_of_plan, *, in_plan, out_plan, penalty) -> np.ndarray:
    """Chance each birth is registered."""
    p_in = in_plan + penalty * (1 - in_plan)
    p_out = out_plan + penalty * (1 - out_plan)
    return np.where(out_of_plan, p_out, p_in)


def step_registration(world) -> None:
    """Classify this month's births under the rule in force and draw which are registered.

    Sets ``world.month.births_out_of_plan`` and ``.births_reported`` (per mother).
    """
    mothers, reg = world.month.mothers, world.scenario.policy.reporting
    out = next_birth_out_of_plan(world, mothers)
    prob = report_probability(
        out, in_plan=reg.in_plan, out_plan=reg.out_of_plan, penalty=reg.penalty
    )
    reported = world.uniform("registration", mothers) < prob
    world.month.births_out_of_plan = out.astype(np.int8)
    world.month.births_reported = reported.astype(np.int8)
