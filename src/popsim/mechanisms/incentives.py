"""Incentives for compliance, each paid from its own budget line (docs/regime.md §10-§12, §17).

* One-child certificate: a couple with one child who does not want another
  takes it with an annual probability ``certificate_takeup``; it brings the
  cable-TV subsidy once, the monthly health fee until the child reaches the age
  limit, double compensation when the household's land is requisitioned, and
  hiring priority (an income gain to the household, not an outlay). A couple
  whose only child is a girl, and who could have an in-plan second, gets the
  quota-waiver reward when it takes the certificate. A second birth ends it.
* Two-daughter reward: once, to a couple with two daughters, no son and a
  sterilised spouse.
* Old-age reward: per parent aged 60+ of a certified one-child family or of a
  rewarded two-daughter family (the national programme pays families that kept
  the rules; the initial population holds no certificates, so the line grows as
  certified parents reach 60).
All amounts are multiplied by ``scale``.
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.decision import desires_another
from popsim.mechanisms.rules import second_child_allowed
from popsim.scenario.couples import is_sterilisation
from popsim.state.population import FEMALE
from popsim.state.world import monthly_probability

LINES = (
    "health_fee",
    "cable_tv",
    "quota_waiver",
    "two_daughter",
    "land_compensation",
    "old_age",
    "service_rooms",
    "service_centre",
)


def step_incentives(world) -> None:
    """Take-up and this month's payments, booked in the ledger (of the month's wives)."""
    p, t, pol = world.persons, world.t, world.scenario.policy
    wives, pay = world.month.wives, world.ledger.pay
    inc, scale = pol.incentives, pol.incentives.scale
    dec = pol.decision
    content = (
        ~desires_another(p.parity, p.sons, p.desired, p.son_pref, dec.son_seeking_max_parity)
        if dec.enabled
        else ~p.wants_more
    )
    candidates = np.flatnonzero(wives & (p.parity == 1) & ~p.certificate & content & ~p.wants_more)
    take = candidates[
        world.uniform("certificate", candidates)
        < monthly_probability(-np.log1p(-min(inc.certificate_takeup, 0.999999)))
    ]
    p.certificate[take] = True
    pay("cable_tv", take.size * inc.cable_tv_subsidy * scale)
    waiver = take[second_child_allowed(world, take) & ~p.rewarded[take]]
    p.rewarded[waiver] = True
    pay("quota_waiver", waiver.size * inc.quota_waiver_reward * scale)

    holders = np.flatnonzero(p.alive & p.certificate)
    child_months = t - p.first_birth_month[holders]
    young = holders[child_months < inc.health_fee_age_limit * 12]
    pay("health_fee", young.size * inc.health_fee_monthly * scale)
    requisitioned = world.uniform("land_requisition", holders) < monthly_probability(
        inc.land_requisition_rate
    )
    pay("land_compensation", requisitioned.sum() * inc.land_compensation * scale)
    pay("hiring_income", holders.size * inc.hiring_income_gain * scale / 12)

    sterilised = is_sterilisation(p.method)
    two_girls = np.flatnonzero(
        wives & (p.daughters == 2) & (p.sons == 0) & (p.parity == 2) & sterilised & ~p.rewarded
    )
    p.rewarded[two_girls] = True
    pay("two_daughter", two_girls.size * inc.two_daughter_reward * scale)

    old = p.alive & (p.sex == FEMALE) & (world.age_years >= inc.old_age_age)
    # certified one-child families, or two-daughter families rewarded for complying
    small_family = p.certificate | ((p.parity == 2) & (p.daughters == 2) & p.rewarded)
    mothers = np.flatnonzero(old & small_family)
    parents = mothers.size + int((p.spouse[mothers] >= 0).sum())
    pay("old_age", parents * inc.old_age_reward * scale / 12)


def step_forfeit_certificates(world) -> None:
    """A birth to a certificate holder ends the certificate (this month's mothers)."""
    world.persons.certificate[world.month.mothers] = False
