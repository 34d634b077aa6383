"""Social maintenance fee on out-of-plan births (docs/regime.md §13).

The fee, ``multiple`` years of per-person income, is levied on every
out-of-plan birth the township knows of (registered or found at a check-up).
What is collected is the collection effort times what the household can pay,
at most ``wealth_share`` of its wealth; the wealth is reduced by it. Household
wealth is log-normal (sd 1 on the log scale) with mean ``wealth_years`` years
of income, drawn once per household from its own key.
"""

from __future__ import annotations

import numpy as np


def collectable(levied, wealth, *, wealth_share, collection) -> np.ndarray:
    """Yuan collected of each levied fee."""
    return collection * np.minimum(levied, wealth_share * np.maximum(wealth, 0.0))


def lognormal_wealth(u1, u2, *, mean) -> np.ndarray:
    """Log-normal wealth with the given mean from two uniforms (Box-Muller)."""
    z = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
    return mean * np.exp(z - 0.5)


def step_fees(world) -> None:
    """Levy the fee on this month's out-of-plan births the township knows of.

    A birth is known when its pregnancy was found at a check-up, or else with ``detection``.
    """
    p, month = world.persons, world.month
    mothers = month.mothers
    out = np.asarray(month.births_out_of_plan, dtype=bool)
    known = p.preg_known[mothers] | (
        world.uniform("fee_detection", mothers) < world.scenario.policy.fee.detection
    )
    levy(world, mothers[out], known[out])


def levy(world, mothers: np.ndarray, known: np.ndarray) -> None:
    """Levy and collect the fee on known out-of-plan births of ``mothers`` (all out of plan)."""
    pol, pay = world.scenario.policy, world.ledger.pay
    fee = pol.fee.multiple * pol.budget.income
    charged = mothers[known]
    households = world.persons.household[charged]
    wealth = world.households.wealth[households]
    got = collectable(
        np.full(charged.size, fee),
        wealth,
        wealth_share=pol.fee.wealth_share,
        collection=pol.fee.collection,
    )
    np.subtract.at(world.households.wealth, households, got)
    pay("fee_levied", charged.size * fee)
    pay("fee_collected", float(got.sum()))
