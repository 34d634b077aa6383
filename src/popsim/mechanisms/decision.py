"""The couple's fertility decision: desire, son preference and the price of the next birth.

A couple *desires* another child while its parity is below its desired family
size, or, when it prefers sons, while it has none (up to a parity limit). A
desiring couple that is not yet trying starts with monthly probability

    p = try_rate * ((C + price) / C) ** elasticity,

C the private cost of a child and ``price`` what the policy adds, both in years
of income. So the elasticity of the trying probability with respect to the
full price C + price is ``elasticity`` (anchored at -0.7, docs/regime.md §18). The price
of an out-of-plan birth is the expected fee (multiple x collection x the chance
the birth becomes known), plus the incentives a certificate holder forfeits,
less the value of a son to a son-preferring couple without one (times the
chance the child is a son). First children are tried for at once when in plan.
Sterilised couples cannot try; a couple who starts trying stops its method (an
IUD taken out for an out-of-plan birth stays on record: ``iud_missing``; one taken out
for an in-plan birth is a removal by the service, counted for the cost lines).
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.checkups import birth_known_probability
from popsim.mechanisms.rules import next_birth_out_of_plan
from popsim.scenario.couples import IS_STERILISATION, IUD


def desires_another(parity, sons, desired, son_pref, son_seeking_max_parity) -> np.ndarray:
    """Whether a couple wants another child."""
    return (parity < desired) | (son_pref & (sons == 0) & (parity < son_seeking_max_parity))


def trying_probability(price_years, *, base, cost_years, elasticity) -> np.ndarray:
    """Monthly probability of starting to try, falling with the price (constant elasticity)."""
    full = np.maximum(cost_years + price_years, 0.1 * cost_years)
    return np.minimum(1.0, base * (full / cost_years) ** elasticity)


def annuity_value(age_years, *, start_age, years, rate) -> np.ndarray:
    """Present value of 1 a year for ``years`` years from ``start_age``, seen at ``age_years``."""
    wait = np.maximum(start_age - age_years, 0)
    annuity = years if rate == 0 else (1 - (1 + rate) ** -years) / rate
    return (1 + rate) ** -wait * annuity


def birth_price(world, rows: np.ndarray, out_plan: np.ndarray) -> np.ndarray:
    """Price of the next birth in years of income for ``rows`` (see the module docstring)."""
    p, pol = world.persons, world.scenario.policy
    income = pol.budget.income
    price = np.zeros(rows.size)
    if pol.fee.enabled:
        known = birth_known_probability(world, rows)
        price += out_plan * pol.fee.multiple * pol.fee.collection * known
    if pol.incentives.enabled:
        inc = pol.incentives
        holder = p.certificate[rows]
        months_left = np.maximum(
            inc.health_fee_age_limit * 12 - (world.t - p.first_birth_month[rows]), 0
        )
        old_age = annuity_value(
            world.age_years[rows], start_age=inc.old_age_age, years=15, rate=inc.discount_rate
        )
        forfeit = (
            months_left * inc.health_fee_monthly
            + 2 * inc.old_age_reward * old_age
            + inc.hiring_income_gain * 5
            + inc.land_requisition_rate * 20 * inc.land_compensation
        )
        price += holder * forfeit * inc.scale / income
    dec = pol.decision
    no_son = p.son_pref[rows] & (p.sons[rows] == 0)
    price -= no_son * dec.son_value_years * world.rates.p_male
    return price


def step_decision(world) -> None:
    """Draw new couples' preferences; start and stop trying (of the month's wives)."""
    p, dec = world.persons, world.scenario.policy.decision
    wives = world.month.wives
    new = np.flatnonzero(wives & (p.desired < 0))
    if new.size:
        cum = np.cumsum(dec.desired_size)
        u = world.uniform("desired_size", new)
        p.desired[new] = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
        p.son_pref[new] = world.uniform("son_preference", new) < dec.son_preference
    sterilised = IS_STERILISATION[p.method]
    desire = (
        wives
        & ~sterilised
        & (world.age_years <= dec.max_try_age)
        & desires_another(p.parity, p.sons, p.desired, p.son_pref, dec.son_seeking_max_parity)
    )
    p.wants_more &= desire
    candidates = np.flatnonzero(desire & ~p.wants_more & (p.preg_month == 0))
    if candidates.size == 0:
        return
    out_plan = next_birth_out_of_plan(world, candidates, months_ahead=9)
    prob = trying_probability(
        birth_price(world, candidates, out_plan),
        base=dec.try_rate,
        cost_years=dec.child_cost_years,
        elasticity=dec.elasticity,
    )
    prob[(p.parity[candidates] == 0) & ~out_plan] = 1.0
    starts = world.uniform("start_trying", candidates) < prob
    start = candidates[starts]
    p.wants_more[start] = True
    iud = p.method[start] == IUD
    p.iud_missing[start[iud & out_plan[starts]]] = True
    world.ledger.count("iud_removed", int((iud & ~out_plan[starts]).sum()))  # by the service
    p.method[start] = 0
