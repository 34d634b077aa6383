"""The couple's fertility decision: desire, son preference and the price of the next birth.

**Desire.** A couple *desires* another child while its parity is below its desired
family size, or, when it prefers sons, while it has none (up to a parity limit).
Desired size and son preference are drawn when the couple forms, from the
distribution and share of its calendar year: both may follow linear trends after
``trend_reference_year`` (zero by default; as given until then), and so may the sex-selection
propensity (:func:`selection_factor`). After the reference year, couples already
formed revise their wishes with the same trends (:func:`revision_rate`): a trend
is a change in everyone's wishes, not only in those of couples yet to form.

**Price.** The price of the next birth, in years of income, is the policy price
(the expected fee, multiple x collection x the chance the birth becomes known,
plus the rewards the birth would forfeit, :func:`forfeited_rewards`, at the share
``reward_weight`` of their present value that couples count) less the value of a son
to a son-preferring couple without one (times the chance the child is a son).
Forfeited rewards count for every couple eligible to claim them, not only for those
already holding a certificate (docs/regime.md §18, §23). The weight is fitted to the
one experiment that moved them: the rewards ended for new one-child couples in 2016.

**Decision.** García (2022) measures the elasticity ε of the *annual probability of
a birth* with respect to the *policy price*. A desiring couple not yet trying
starts within the year with probability

    P(price) = P0 * ((C + price) / C) ** eta,   eta = ε (C + R) / R,

P0 = 1 - (1 - try_rate) ** 12 the annual probability at zero policy price, C the
private cost of a child and R the reference price. d ln P / d ln price = eta *
price / (C + price), which is ε at price = R. The month's probability is h = 1 -
(1 - P) ** (1/12): twelve monthly chances make P. A start becomes a birth through
conception and pregnancy, whose timing does not depend on the price, so the
annual probability of a birth responds to the price as P does (the tests measure
it on births). First children in plan are tried for at once. A period effect
(``period_factor``, below 1 in the pandemic years of the history) scales every couple's
monthly chance, first children's included: it moves when births come, not how many are
wanted.

**Spacing.** A couple with children does not start before ``wait_after_birth_months``
have passed since its last birth, whatever the rule allows: couples space their
births of their own accord (sources give its floor; the dated births leave its length
unpinned, docs/calibration.md). A wish fades only once this spacing is over: waiting by
choice is not pent-up demand.

**Fading.** P falls linearly from 1 x P at ``fade_from_age`` to zero after
``max_try_age``. A couple with children who wants another but is not trying
gives the wish up (its desired size falls to its parity, its son preference
ends) with the monthly probability 1 - 2 ** (-1 / (12 x half-life)): the wish
outlives the couple's own spacing by t years with probability 2 ** (-t / half-life), so
pent-up demand fades. The half-life is ``blocked_half_life_years`` while the
rule in force forbids the next birth however long the couple waits (couples
adapt their wishes to a rule that binds), ``desire_half_life_years`` otherwise
(a couple waiting out a spacing interval is not blocked). A sonless couple's wish for a son
may fade more slowly, its half-life ``son_wish_persistence`` times the other's (1: as one):
couples with two daughters went on to a third child far more often than couples with two
sons. Sterilised couples cannot try; a couple who starts trying stops its method (an IUD
taken out for an out-of-plan birth stays on record: ``iud_missing``; one taken out for an in-plan
birth is a removal by the service, counted for the cost lines).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from popsim.mechanisms.checkups import birth_known_probability
from popsim.mechanisms.rules import (
    blocked_for_good,
    next_birth_out_of_plan,
    second_child_allowed,
)
from popsim.scenario.couples import IUD, is_sterilisation

HIRING_YEARS = 5  #: years of hiring priority a couple counts on when it values the certificate
LAND_YEARS = 20  #: years over which it expects a land requisition
OLD_AGE_YEARS = 15  #: years the old-age reward is expected to be paid, from its age


def desires_another(parity, sons, desired, son_pref, son_seeking_max_parity) -> np.ndarray:
    """Whether a couple wants another child."""
    return (parity < desired) | (son_pref & (sons == 0) & (parity < son_seeking_max_parity))


def policy_exponent(*, elasticity: float, cost_years: float, reference_price_years: float):
    """The exponent eta of ``P0 * ((C + price) / C) ** eta``: elasticity ε at the reference."""
    return elasticity * (cost_years + reference_price_years) / reference_price_years


def annual_probability(
    price_years, *, base_annual, cost_years, elasticity, reference_price_years
) -> np.ndarray:
    """Annual probability of starting a birth at ``price_years`` (see the module docstring)."""
    eta = policy_exponent(
        elasticity=elasticity, cost_years=cost_years, reference_price_years=reference_price_years
    )
    full = np.maximum(cost_years + np.asarray(price_years, dtype=float), 0.1 * cost_years)
    return np.minimum(1.0, base_annual * (full / cost_years) ** eta)


def annual_from_monthly(monthly) -> np.ndarray:
    """Probability of an event within 12 months of a constant monthly probability."""
    return 1.0 - (1.0 - np.asarray(monthly, dtype=float)) ** 12


def monthly_from_annual(annual) -> np.ndarray:
    """The constant monthly probability whose 12 months make ``annual``."""
    return 1.0 - (1.0 - np.asarray(annual, dtype=float)) ** (1.0 / 12.0)


def age_factor(age_years, *, fade_from_age: int, max_try_age: int) -> np.ndarray:
    """1 before ``fade_from_age``, then falling linearly to zero after ``max_try_age``."""
    span = max(max_try_age + 1 - fade_from_age, 1)
    falling = np.clip((max_try_age + 1 - np.asarray(age_years)) / span, 0.0, 1.0)
    return np.where(np.asarray(age_years) < fade_from_age, 1.0, falling)


def fading_probability(half_life_years: float) -> float:
    """Monthly probability that a waiting couple gives its wish up (half-life 0: never)."""
    if not half_life_years:
        return 0.0
    return float(1.0 - 2.0 ** (-1.0 / (12.0 * half_life_years)))


def blocked_half_life(dec) -> float:
    """Half-life of a wish the rule forbids for good (0 in the field: the general one)."""
    return dec.blocked_half_life_years or dec.desire_half_life_years


def son_fading(dec, fade):
    """Monthly probability that a waiting couple gives up its wish for a son.

    ``fade`` (a number or one per couple): that of its wish for more children, whose
    half-life ``son_wish_persistence`` multiplies for the son's (1: the two are one wish).
    """
    if dec.son_wish_persistence == 1.0:
        return fade
    return 1.0 - (1.0 - fade) ** (1.0 / dec.son_wish_persistence)


def desired_distribution(desired_size, shift: float) -> np.ndarray:
    """The desired-size distribution with its mean moved by ``shift`` children.

    A share f of every size's mass moves to the next size down (``shift`` < 0) or up,
    f = |shift| / (the mass that can move); a larger shift repeats the step. The mean
    moves by exactly ``shift`` until all the mass sits at the smallest (largest) size.
    """
    out = np.array(desired_size, dtype=float)  # a copy: the caller's table stays
    left = abs(shift)
    while left > 1e-12:
        d = out.copy()
        movable = d[1:].sum() if shift < 0 else d[:-1].sum()
        if movable <= 1e-12:
            break
        f = min(1.0, left / movable)
        if shift < 0:
            out[1:] -= f * d[1:]
            out[:-1] += f * d[1:]
        else:
            out[:-1] -= f * d[:-1]
            out[1:] += f * d[:-1]
        left -= f * movable
    return out


def revision_rate(distribution, trend: float) -> float:
    """Annual probability that a couple moves its desired size one child with the trend.

    :func:`desired_distribution` moves a share ``|trend| / movable mass`` of every size one
    step a year; couples already formed revise at that rate, so that couples drawn from the
    distribution keep following it (their mean moves by ``trend`` a year).
    """
    d = np.asarray(distribution, dtype=float)
    movable = d[1:].sum() if trend < 0 else d[:-1].sum()
    return min(1.0, abs(trend) / movable) if movable > 1e-12 else 0.0


def son_revision_rate(share: float, trend: float) -> float:
    """Annual probability that a couple gives up (trend < 0) or takes up son preference."""
    room = share if trend < 0 else 1.0 - share
    return min(1.0, abs(trend) / room) if room > 1e-12 else 0.0


def years_from_reference(world) -> int:
    """Calendar years from the decision's ``trend_reference_year`` to this month's year.

    0 before it: wishes hold as given until the reference year, then follow the trends.
    """
    dec = world.scenario.policy.decision
    return max(0, world.scenario.township.start_year + world.t // 12 - dec.trend_reference_year)


def son_preference_share(son_preference: float, trend: float, years: int) -> float:
    """Share of couples forming ``years`` after the reference year who want a son."""
    return min(max(son_preference + trend * years, 0.0), 1.0)


def selection_factor(world) -> float:
    """This year's multiplier of every sex-selective abortion probability (1: no trend)."""
    trend = world.scenario.policy.decision.selection_trend
    return max(0.0, 1.0 + trend * years_from_reference(world)) if trend else 1.0


def annuity_value(age_years, *, start_age, years, rate) -> np.ndarray:
    """Present value of 1 a year for ``years`` years from ``start_age``, seen at ``age_years``."""
    wait = np.maximum(start_age - age_years, 0)
    annuity = years if rate == 0 else (1 - (1 + rate) ** -np.asarray(years, dtype=float)) / rate
    return (1 + rate) ** -wait * annuity


@lru_cache(maxsize=64)
def _annuity_from_now(years: int, rate: float) -> float:
    """:func:`annuity_value` of a term starting now: the same in every month of a run."""
    return annuity_value(0, start_age=0, years=years, rate=rate)


@lru_cache(maxsize=64)
def _cumulative_desired(desired_size: tuple[float, ...], shift: float) -> np.ndarray:
    """Cumulative :func:`desired_distribution`: the same in every month of a year."""
    cum = np.cumsum(desired_distribution(desired_size, shift))
    cum.flags.writeable = False
    return cum


def forfeited_rewards(
    inc,
    *,
    parity,
    daughters,
    certificate,
    rewarded,
    child_months,
    age_years,
    quota_due,
    p_male: float,
) -> np.ndarray:
    """Present value in yuan (before ``inc.scale``) of what the next birth would forfeit.

    A couple with one child can hold the one-child certificate (incentives.py): the next
    birth forfeits the health fee still to come, the land and hiring privileges, the
    old-age reward (kept by a couple whose first child is a girl if the second is a girl
    too: a two-daughter family), and, if it holds no certificate yet, the cable-TV
    subsidy and, where its second child would be in plan (``quota_due``), the
    quota-waiver reward. A couple with two daughters and no son forfeits the old-age
    reward and, if not yet rewarded, the two-daughter reward. Nobody else forfeits
    anything (nor a couple without a certificate when ``certificate_takeup`` is 0).
    Streams are discounted at ``inc.discount_rate`` as :func:`annuity_value`.
    """
    r = inc.discount_rate
    one_child = parity == 1
    two_girls = (parity == 2) & (daughters == 2)
    years_left = np.maximum(inc.health_fee_age_limit * 12 - child_months, 0) / 12.0
    health = inc.health_fee_monthly * 12 * annuity_value(0, start_age=0, years=years_left, rate=r)
    land = inc.land_requisition_rate * inc.land_compensation * _annuity_from_now(LAND_YEARS, r)
    hiring = inc.hiring_income_gain * _annuity_from_now(HIRING_YEARS, r)
    old_age = (
        2
        * inc.old_age_reward
        * annuity_value(age_years, start_age=inc.old_age_age, years=OLD_AGE_YEARS, rate=r)
    )
    kept_by_girls = np.where(one_child & (daughters == 1), p_male, 1.0)
    not_held = ~certificate
    certificate_package = (
        health
        + land
        + hiring
        + old_age * kept_by_girls
        + not_held * inc.cable_tv_subsidy
        + (not_held & quota_due & ~rewarded) * inc.quota_waiver_reward
    )
    daughters_package = old_age + ~rewarded * inc.two_daughter_reward
    # without take-up nobody could claim a certificate not yet held
    one_child &= certificate | (inc.certificate_takeup > 0)
    return np.where(one_child, certificate_package, np.where(two_girls, daughters_package, 0.0))


def birth_price(
    world, rows: np.ndarray, out_plan: np.ndarray, *, after_a_girl: bool = False
) -> np.ndarray:
    """Price of the next birth in years of income for ``rows`` (see the module docstring).

    ``after_a_girl``: the price of the birth after the current pregnancy, were it a girl.
    """
    p, pol = world.persons, world.scenario.policy
    dec = pol.decision
    price = np.zeros(rows.size)
    if pol.fee.enabled:
        known = birth_known_probability(world, rows)
        price += out_plan * pol.fee.multiple * pol.fee.collection * known
    if pol.incentives.enabled:
        inc = pol.incentives
        parity, daughters = p.parity[rows], p.daughters[rows]
        child_months = world.t - p.first_birth_month[rows]
        certificate, rewarded = p.certificate[rows], p.rewarded[rows]
        if after_a_girl:
            child_months = np.where(parity == 0, 0, child_months)
            parity, daughters = parity + 1, daughters + 1
            certificate = certificate & (parity == 1)
        forfeit = forfeited_rewards(
            inc,
            parity=parity,
            daughters=daughters,
            certificate=certificate,
            rewarded=rewarded,
            child_months=child_months,
            age_years=world.age_years[rows],
            quota_due=second_child_allowed(world, rows, daughters),
            p_male=world.rates.p_male,
        )
        price += forfeit * inc.scale * dec.reward_weight / pol.budget.income
    no_son = p.son_pref[rows] & (p.sons[rows] == 0)
    price -= no_son * dec.son_value_years * world.rates.p_male
    return price


def start_probability(world, rows: np.ndarray, out_plan: np.ndarray) -> np.ndarray:
    """This month's probability that the desiring couples ``rows`` start trying."""
    p, dec = world.persons, world.scenario.policy.decision
    annual = annual_probability(
        birth_price(world, rows, out_plan),
        base_annual=annual_from_monthly(dec.try_rate),
        cost_years=dec.child_cost_years,
        elasticity=dec.elasticity,
        reference_price_years=dec.reference_price_years,
    )
    annual = annual * age_factor(
        world.age_years[rows], fade_from_age=dec.fade_from_age, max_try_age=dec.max_try_age
    )
    prob = monthly_from_annual(annual)
    prob[(p.parity[rows] == 0) & ~out_plan] = 1.0
    if dec.period_factor != 1.0:
        prob *= dec.period_factor
    return prob


def _draw_preferences(world, new: np.ndarray) -> None:
    p, dec = world.persons, world.scenario.policy.decision
    years = years_from_reference(world)
    cum = _cumulative_desired(tuple(dec.desired_size), dec.desired_size_trend * years)
    u_size, u_son = world.uniforms(("desired_size", "son_preference"), new)
    p.desired[new] = np.minimum(np.searchsorted(cum, u_size, side="right"), len(cum) - 1)
    share = son_preference_share(dec.son_preference, dec.son_preference_trend, years)
    p.son_pref[new] = u_son < share


def _revise_preferences(world, couples: np.ndarray, years: int) -> None:
    """Move formed couples' desired size and son preference with the calendar trends."""
    p, dec = world.persons, world.scenario.policy.decision
    last = years - 1  # the trends' position at the start of this year
    if dec.desired_size_trend:
        trend = dec.desired_size_trend
        dist = desired_distribution(dec.desired_size, trend * last)
        move = world.uniform("desire_revision", couples) < monthly_from_annual(
            revision_rate(dist, trend)
        )
        if trend < 0:
            p.desired[couples[move & (p.desired[couples] > 0)]] -= 1
        else:
            top = len(dec.desired_size) - 1
            p.desired[couples[move & (p.desired[couples] < top)]] += 1
    if dec.son_preference_trend:
        trend = dec.son_preference_trend
        share = son_preference_share(dec.son_preference, trend, last)
        move = world.uniform("son_preference_revision", couples) < monthly_from_annual(
            son_revision_rate(share, trend)
        )
        p.son_pref[couples[move]] = trend > 0


def settle_initial_wishes(world, wives: np.ndarray) -> None:
    """Wishes of the initial ``wives`` that agree with the histories they were given.

    The initial histories stop childbearing by parity progression ratios, not by this
    decision. Wishes drawn afresh at the burn-in's start would leave most couples who
    stopped still wanting a child, and those whose next birth is in plan would all start
    trying in its first months: the second births of the burn-in's second year were 3.5
    times its last years' (two seeds, no burn-in). So wishes are drawn now, as when a
    couple forms, and made to agree with the history as this decision would have:
    * a couple still trying wants at least one more child;
    * a couple that stopped and could have its next birth in plan has given its wish
      up (it would have tried otherwise);
    * a couple that stopped because the rule forbids its next birth keeps the wish with
      the probability the fading leaves it, 2 ** (-t / blocked half-life) after t years
      since its last birth.
    """
    p, dec = world.persons, world.scenario.policy.decision
    _draw_preferences(world, wives)
    desire = desires_another(
        p.parity[wives],
        p.sons[wives],
        p.desired[wives],
        p.son_pref[wives],
        dec.son_seeking_max_parity,
    )
    trying = p.wants_more[wives] | (p.preg_month[wives] > 0)
    short = wives[trying & ~desire]
    p.desired[short] = p.parity[short] + 1
    stopped = wives[~trying & desire & (p.parity[wives] > 0)]
    # the chance that monthly fading has left the wish since the couple's own spacing ended
    months = np.maximum(world.t - p.last_birth_month[stopped] - dec.wait_after_birth_months, 0)
    fade = fading_probability(blocked_half_life(dec))
    blocked = blocked_for_good(world, stopped)
    u = world.uniform("initial_wishes", stopped)
    gave_up = stopped[~(blocked & (u < (1.0 - fade) ** months))]
    p.desired[gave_up] = p.parity[gave_up]
    p.son_pref[stopped[~(blocked & (u < (1.0 - son_fading(dec, fade)) ** months))]] = False


def step_decision(world) -> None:
    """The month's decisions of the wives: preferences drawn or revised, fading, trying."""
    p, dec = world.persons, world.scenario.policy.decision
    wives = world.month.wives
    years = years_from_reference(world)
    if years > 0 and (dec.desired_size_trend or dec.son_preference_trend):
        _revise_preferences(world, np.flatnonzero(wives & (p.desired >= 0)), years)
    new = np.flatnonzero(wives & (p.desired < 0))
    if new.size:
        _draw_preferences(world, new)
    sterilised = is_sterilisation(p.method)
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
    fade = np.where(
        blocked_for_good(world, candidates),
        fading_probability(blocked_half_life(dec)),
        fading_probability(dec.desire_half_life_years),
    )
    spacing = (p.parity[candidates] > 0) & (
        world.t - p.last_birth_month[candidates] < dec.wait_after_birth_months
    )
    fade[(p.parity[candidates] == 0) | spacing] = 0.0
    u_fade, u_start = world.uniforms(("desire_fading", "start_trying"), candidates)
    if fade.any():
        gives_up = u_fade < fade
        p.desired[candidates[gives_up]] = p.parity[candidates[gives_up]]
        p.son_pref[candidates[u_fade < son_fading(dec, fade)]] = False
        still = ~gives_up | desires_another(
            p.parity[candidates],
            p.sons[candidates],
            p.desired[candidates],
            p.son_pref[candidates],
            dec.son_seeking_max_parity,
        )
        candidates, out_plan = candidates[still], out_plan[still]
        u_start, spacing = u_start[still], spacing[still]
    prob = start_probability(world, candidates, out_plan)
    prob[spacing] = 0.0
    starts = u_start < prob
    start = candidates[starts]
    p.wants_more[start] = True
    iud = p.method[start] == IUD
    p.iud_missing[start[iud & out_plan[starts]]] = True
    world.ledger.count("iud_removed", int((iud & ~out_plan[starts]).sum()))  # by the service
    p.method[start] = 0
