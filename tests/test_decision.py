"""The couple's decision against values derived from its parameters (mechanisms/decision.py).

A purpose-built world holds only married women of one age and family, whose husbands live
outside the township (never apart); a month runs the decision and the pregnancy pipeline
alone, with fecundability 1 and no losses, so a couple who starts trying in month m
conceives in month m and gives birth in month m + 9. Expected values are computed here from
the scenario's parameters; tolerances are 4 standard errors.
"""

import numpy as np
import pytest

import popsim
from conftest import PARAMS
from popsim.mechanisms import decision, fertility, rules
from popsim.mechanisms.rules import next_birth_out_of_plan
from popsim.scenario.schema import N_REPRO
from popsim.state.population import FEMALE, MARRIED, NEVER
from popsim.state.world import Month, World

Z = 4
AGE = 28  #: the cohort's age at month 0 (years), below fade_from_age for the whole run
#: no losses, certain conception, no regime process but the decision
PIPELINE = {
    "demography.fertility.fecundability": [1.0] * N_REPRO,
    "demography.fertility.miscarriage_prob": 0.0,
    "demography.fertility.unintended_abortion": 0.0,
    "demography.migration.enabled": False,
    "policy.checkups.enabled": False,
    "policy.sex_selection.enabled": False,
    "township.burn_in_years": 0,
}


def cohort(overrides, n, *, parity=1, sons=1, desired=2, son_pref=False, seed=7):
    """A world of ``n`` married women aged AGE, all with the same family, at month 0."""
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml", {**PIPELINE, **overrides})
    world = World(scenario, seed)
    keys = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(7919)
    add_wives(world, keys, parity, sons, -24, desired=desired, son_pref=son_pref)
    return world


def add_wives(world, keys, parity, sons, first_birth_month, **fields):
    """Married women aged AGE, one per key, with ``parity`` children (``sons`` of them sons),
    the first (and last) born in ``first_birth_month`` if any."""
    first = first_birth_month if parity > 0 else NEVER
    return world.persons.add(
        len(keys),
        key=keys,
        sex=FEMALE,
        birth_month=-(12 * AGE + 6),
        marital=MARRIED,
        parity=parity,
        sons=sons,
        daughters=parity - sons,
        first_birth_month=first,
        last_birth_month=first,
        **fields,
    )


def add_wife(world, parity, sons, **fields):
    """One more wife, who wants four children, her children born 30 months ago."""
    key = np.array([world.persons.n + 11], dtype=np.uint64)
    return add_wives(world, key, parity, sons, -30, desired=4, **fields)


def run_months(world, months):
    """Run the decision and the pregnancy pipeline; births per month of the first n rows."""
    n = world.persons.n
    births = np.zeros(months, dtype=np.int64)
    for t in range(months):
        world.t = t
        p = world.persons
        world.month = Month(wives=p.alive & (p.sex == FEMALE) & (p.marital == MARRIED))
        decision.step_decision(world)
        fertility.step_pregnancies(world)
        fertility.step_conception(world)
        births[t] = int((world.month.mothers < n).sum())
        fertility.step_births(world)
    return births


def expected_annual(price, dec):
    """P(price) written out from docs/model.md: P0 ((C + price) / C) ** (eps (C + R) / R)."""
    c, r, eps = dec.child_cost_years, dec.reference_price_years, dec.elasticity
    p0 = 1 - (1 - dec.try_rate) ** 12
    return min(1.0, p0 * ((c + price) / c) ** (eps * (c + r) / r))


# ---- kernels ----------------------------------------------------------------------------


def test_the_annual_probability_has_elasticity_epsilon_in_the_policy_price_at_the_reference():
    c, eps, ref, base = 0.8, -0.7, 3.0, 0.3
    kw = dict(base_annual=base, cost_years=c, elasticity=eps, reference_price_years=ref)
    h = 1e-7
    at = decision.annual_probability(np.array([ref]), **kw)
    up = decision.annual_probability(np.array([ref * (1 + h)]), **kw)
    measured = (np.log(up) - np.log(at)) / np.log1p(h)
    assert measured[0] == pytest.approx(eps, rel=1e-5), (
        "d ln P / d ln(policy price) at the reference price is García's elasticity"
    )
    assert decision.annual_probability(np.array([0.0]), **kw)[0] == pytest.approx(base)
    monthly = decision.monthly_from_annual(at)
    assert decision.annual_from_monthly(monthly) == pytest.approx(at), "P = 1 - (1 - h)^12"


def test_age_factor_and_fading_probability():
    f = decision.age_factor(np.array([30, 35, 40, 44, 45]), fade_from_age=35, max_try_age=44)
    assert f == pytest.approx([1.0, 1.0, 0.5, 0.1, 0.0])
    m = decision.fading_probability(4.0)
    assert (1 - m) ** 48 == pytest.approx(0.5), "the wish halves in its half-life"
    assert decision.fading_probability(0.0) == 0.0, "half-life 0: the wish never fades"


# ---- (a) incentives enter the price of every eligible couple, by the elasticity ----------


def test_incentives_lower_eligible_couples_trying_by_the_elasticity_and_no_one_else():
    """Forfeited rewards count for certified and uncertified eligible couples alike."""
    groups = [  # (parity, sons, certificate): eligible or not
        (1, 1, False),  # one child, no certificate yet: eligible (could take it)
        (1, 1, True),  # certificate holder
        (1, 0, False),  # a first daughter: also the quota waiver, old age kept if a girl
        (2, 0, False),  # two daughters: two-daughter and old-age rewards
        (2, 1, False),  # a son among two: nothing to forfeit
        (3, 1, False),  # three children: nothing to forfeit
    ]
    eligible = np.array([True, True, True, True, False, False])
    prices, probs = {}, {}
    for scale in (1.0, 2.0):
        world = cohort({"policy.incentives.scale": scale}, 0)
        p = world.persons
        for parity, sons, cert in groups:
            add_wife(world, parity, sons, certificate=cert)
        world.t = 0
        rows = np.arange(p.n)
        out_plan = next_birth_out_of_plan(world, rows, months_ahead=9)
        prices[scale] = decision.birth_price(world, rows, out_plan)
        probs[scale] = decision.start_probability(world, rows, out_plan)
    dec = world.scenario.policy.decision
    forfeit = prices[2.0] - prices[1.0]  # one more scale of the rewards, as couples count it
    assert (forfeit[eligible] > 0.5 * dec.reward_weight).all(), (
        f"every eligible couple, certified or not, would forfeit rewards: {forfeit}"
    )
    inc, income = world.scenario.policy.incentives, world.scenario.policy.budget.income
    cable = inc.cable_tv_subsidy * dec.reward_weight / income
    assert forfeit[0] - forfeit[1] == pytest.approx(cable), (
        "an uncertified one-child couple forfeits the holder's package and the cable-TV "
        "subsidy it has not yet had"
    )
    np.testing.assert_array_equal(probs[2.0][~eligible], probs[1.0][~eligible])
    np.testing.assert_array_equal(prices[2.0][~eligible], prices[1.0][~eligible])
    c = dec.child_cost_years
    eta = dec.elasticity * (c + dec.reference_price_years) / dec.reference_price_years
    predicted = (
        decision.annual_from_monthly(probs[1.0]) * ((c + prices[2.0]) / (c + prices[1.0])) ** eta
    )
    np.testing.assert_allclose(
        decision.annual_from_monthly(probs[2.0])[eligible],
        predicted[eligible],
        rtol=1e-9,
        err_msg="doubled rewards lower the annual probability by ((C+p2)/(C+p1))^eta",
    )


def test_couples_count_the_rewards_at_their_weight():
    """The price's reward part is reward_weight x the present value; at 0 rewards do not count."""
    prices = {}
    for weight in (0.0, 0.25, 1.0):
        world = cohort({"policy.decision.reward_weight": weight}, 0)
        rows = add_wife(world, 1, 1)
        world.t = 0
        prices[weight] = decision.birth_price(world, rows, np.zeros(1, dtype=bool))[0]
    rewards = prices[1.0] - prices[0.0]
    assert rewards > 0.5, "the one-child package is worth years of income at full value"
    assert prices[0.25] - prices[0.0] == pytest.approx(0.25 * rewards)


def test_the_period_factor_scales_every_couples_monthly_chance_first_births_included():
    """Exactly f times the chance, first births in plan too (they start at once without it)."""
    probs = {}
    for factor in (1.0, 0.3):
        world = cohort({"policy.decision.period_factor": factor}, 0)
        for parity, sons in ((0, 0), (1, 0), (1, 1), (2, 1)):
            add_wife(world, parity, sons)
        world.t = 0
        rows = np.arange(world.persons.n)
        probs[factor] = decision.start_probability(
            world, rows, next_birth_out_of_plan(world, rows, months_ahead=9)
        )
    assert probs[1.0][0] == 1.0, "a first child in plan is tried for at once"
    np.testing.assert_allclose(probs[0.3], 0.3 * probs[1.0], rtol=1e-12)


def test_the_period_factor_delays_first_births_geometrically():
    """Newly-weds start trying with chance f a month, so the first birth comes (1 - f) / f
    months later on average than at f = 1 (conception is certain here)."""
    n, factor, months = 4000, 0.25, 40
    mean_month = {}
    for f in (1.0, factor):
        world = cohort({"policy.decision.period_factor": f}, n, parity=0, sons=0)
        run_months(world, months)
        first = world.persons.first_birth_month[:n]
        assert (first != NEVER).mean() > 0.999, "nearly all have their first child in the run"
        mean_month[f] = first[first != NEVER].mean()
    expected = (1 - factor) / factor  # the mean of a geometric number of failures
    se = np.sqrt(1 - factor) / factor / np.sqrt(n)
    assert abs(mean_month[factor] - mean_month[1.0] - expected) < Z * se, (mean_month, expected)


def test_forfeited_rewards_by_hand():
    inc = popsim.load_scenario(PARAMS / "baseline.yaml").policy.incentives
    r = inc.discount_rate

    def annuity(years):
        return sum((1 + r) ** -k for k in range(1, years + 1))

    got = decision.forfeited_rewards(
        inc,
        parity=np.array([1, 2, 2]),
        daughters=np.array([0, 2, 1]),
        certificate=np.array([False, False, False]),
        rewarded=np.array([False, False, False]),
        child_months=np.array([24, 60, 60]),
        age_years=np.array([30, 30, 30]),
        quota_due=np.array([False, False, False]),
        p_male=0.5,
    )
    old_age = 2 * inc.old_age_reward * annuity(15) * (1 + r) ** -(inc.old_age_age - 30)
    health = inc.health_fee_monthly * 12 * annuity(inc.health_fee_age_limit - 2)
    one_son = (
        health
        + inc.land_requisition_rate * inc.land_compensation * annuity(decision.LAND_YEARS)
        + inc.hiring_income_gain * annuity(decision.HIRING_YEARS)
        + old_age
        + inc.cable_tv_subsidy
    )
    assert got == pytest.approx([one_son, old_age + inc.two_daughter_reward, 0.0])
    never = decision.forfeited_rewards(
        inc.model_copy(update={"certificate_takeup": 0.0}),
        parity=np.array([1, 1]),
        daughters=np.array([0, 0]),
        certificate=np.array([False, True]),
        rewarded=np.array([False, False]),
        child_months=np.array([24, 24]),
        age_years=np.array([30, 30]),
        quota_due=np.array([False, False]),
        p_male=0.5,
    )
    assert never == pytest.approx([0.0, one_son - inc.cable_tv_subsidy]), (
        "with no take-up only a couple already holding the certificate can lose it"
    )


# ---- (b) the simulated annual elasticity of births ----------------------------------------


def test_simulated_annual_birth_probability_has_elasticity_epsilon():
    """Births per eligible couple-year at prices 10 % below and above the reference.

    Every couple wants a second child that the one-child rule makes out of plan; the
    policy price is the fee alone (collection and detection 1). Couples starting in months
    0-11 give birth in months 9-20: the share of the cohort with a birth then is P.
    """
    n = 60_000
    base = popsim.load_scenario(PARAMS / "baseline.yaml").policy.decision
    ref = base.reference_price_years
    shares, prices = [], [0.9 * ref, 1.1 * ref]
    for price in prices:
        world = cohort(
            {
                "policy.rules.regime": "one_child",
                "policy.incentives.enabled": False,
                "policy.fee.multiple": price,
                "policy.fee.collection": 1.0,
                "policy.fee.detection": 1.0,
                "policy.decision.desire_half_life_years": 0.0,  # no fading, blocked or not
                "policy.decision.blocked_half_life_years": 0.0,
            },
            n,
        )
        births = run_months(world, 21)
        assert births[:9].sum() == 0, "no birth before the pipeline's 9 months"
        shares.append(births[9:21].sum() / n)
        dec = world.scenario.policy.decision
        expected = expected_annual(price, dec)
        se = np.sqrt(expected * (1 - expected) / n)
        assert abs(shares[-1] - expected) < Z * se, (
            f"annual birth probability at price {price:.2f}: {shares[-1]:.4f}, "
            f"expected {expected:.4f} (4 s.e. = {Z * se:.4f})"
        )
    measured = np.log(shares[1] / shares[0]) / np.log(prices[1] / prices[0])
    # same seed and keys: the dearer arm's births are a subset of the cheaper arm's, so the
    # estimate's error comes from the couples who differ, about n * (P1 - P2) of them
    discordant = n * (shares[0] - shares[1])
    se = np.sqrt(discordant) / (n * shares[0]) / np.log(prices[1] / prices[0])
    arc = np.log(expected_annual(prices[1], dec) / expected_annual(prices[0], dec)) / np.log(
        prices[1] / prices[0]
    )
    assert abs(arc - dec.elasticity) < 0.01, "the form's arc elasticity around the reference"
    assert abs(measured - dec.elasticity) < Z * se + abs(arc - dec.elasticity), (
        f"simulated annual elasticity {measured:.3f}, García's {dec.elasticity} "
        f"(4 s.e. = {Z * se:.3f})"
    )


# ---- (c) a relaxation's excess births fade with the half-life ------------------------------


@pytest.mark.parametrize(
    ("regime", "desire", "blocked", "half_life"),
    [
        ("two_child", 2.0, 0.5, 2.0),  # in plan: the wish's own half-life
        ("two_child", 0.0, 0.5, 0.0),  # no fading
        ("one_child", 8.0, 1.5, 1.5),  # out of plan: the blocked wish's half-life
        ("one_child", 2.0, 0.0, 2.0),  # blocked 0: the same as in plan
    ],
)
def test_relaxation_births_decay_with_the_implied_half_life(regime, desire, blocked, half_life):
    """Couples who all want a second child, made eligible at month 0 by a two-child rule.

    Each month a waiting couple gives the wish up with a (fading), then starts with h, so the
    births of month t + 9 are n (1 - a) h ((1 - a)(1 - h))^t: they halve every
    ln 2 / (-12 ln((1 - a)(1 - h))) years. Under the one-child rule the same couples are
    blocked (no fee here, so they start at the same h) and fade at the blocked half-life.
    """
    n, years = 40_000, 4
    world = cohort(
        {
            "policy.rules.regime": regime,
            "policy.incentives.enabled": False,
            "policy.fee.enabled": False,
            "policy.decision.try_rate": 0.02,
            "policy.decision.desire_half_life_years": desire,
            "policy.decision.blocked_half_life_years": blocked,
        },
        n,
    )
    births = run_months(world, 9 + 12 * years)[9:].reshape(years, 12).sum(axis=1)
    dec = world.scenario.policy.decision
    a, h = decision.fading_probability(half_life), dec.try_rate
    keep = (1 - a) * (1 - h)
    t = np.arange(12 * years).reshape(years, 12)
    expected = (n * (1 - a) * h * keep**t).sum(axis=1)
    se = np.sqrt(expected * (1 - expected / n))
    assert (np.abs(births - expected) < Z * se).all(), (
        f"births by year {births}, expected {np.round(expected)} (4 s.e. {np.round(Z * se)})"
    )
    implied = np.log(2) / (-12 * np.log(keep))
    ratio = births[-1] / births[0]
    assert ratio == pytest.approx(0.5 ** ((years - 1) / implied), rel=0.1), (
        f"births fall by {ratio:.3f} over {years - 1} years: a half-life of {implied:.2f} years"
    )


@pytest.mark.parametrize("wait", [0, 36])
def test_couples_wait_their_own_interval_after_a_birth_before_trying(wait):
    """Couples whose child was born at month -24, free to have a second (two-child rule).

    None starts before month s = max(wait - 24, 0), so no birth comes before month s + 9,
    and no wish fades while the couple spaces its births; from then a couple still waiting
    at the month's start gives its wish up with a (fading) and starts with h: it starts in
    month t >= s with probability (1 - a)^(t - s + 1) (1 - h)^(t - s) h.
    """
    n, months = 20_000, 12
    world = cohort(
        {
            "policy.rules.regime": "two_child",
            "policy.incentives.enabled": False,
            "policy.fee.enabled": False,
            "policy.decision.try_rate": 0.1,
            "policy.decision.desire_half_life_years": 1.0,  # fading during the wait would show
            "policy.decision.wait_after_birth_months": wait,
        },
        n,
    )
    s = max(wait - 24, 0)
    births = run_months(world, s + 9 + months)
    assert births[: s + 9].sum() == 0, f"no birth before month {s + 9}"
    dec = world.scenario.policy.decision
    a, h = decision.fading_probability(dec.desire_half_life_years), dec.try_rate
    t = np.arange(s, s + months)
    expected = n * (1 - a) ** (t - s + 1) * (1 - h) ** (t - s) * h
    se = np.sqrt(expected * (1 - expected / n))
    got = births[s + 9 :]
    assert (np.abs(got - expected) < Z * se).all(), (
        f"births by month from {s + 9}: {got}, expected {np.round(expected)}"
    )


# ---- (d) trends in desired size, son preference and sex selection ---------------------------


def test_desired_distribution_moves_the_mean_by_the_shift():
    d = np.array([0.05, 0.5, 0.42, 0.03])
    sizes = np.arange(d.size)
    for shift in (-1.2, -0.3, -0.05, 0.1, 1.5):
        moved = decision.desired_distribution(d, shift)
        assert moved.sum() == pytest.approx(1.0) and (moved >= 0).all()
        assert moved @ sizes == pytest.approx(d @ sizes + shift)
    np.testing.assert_allclose(decision.desired_distribution(d, -5.0), [1, 0, 0, 0])
    np.testing.assert_array_equal(decision.desired_distribution(d, 0.0), d)


def test_trends_change_new_couples_preferences_by_the_stated_amount_per_year():
    n, years_on = 100_000, 6
    trends = {
        "policy.decision.desired_size_trend": -0.04,
        "policy.decision.son_preference_trend": -0.02,
        "policy.decision.selection_trend": -0.05,
    }
    # newly married, childless: no wish fades in the month the preferences are drawn
    world = cohort(
        {**trends, "policy.decision.trend_reference_year": 2009}, n, parity=0, sons=0, desired=-1
    )
    dec = world.scenario.policy.decision
    years = world.scenario.township.start_year + years_on - dec.trend_reference_year
    world.t = 12 * years_on  # a January, years_on years after the start
    p = world.persons
    world.month = Month(wives=p.alive.copy())
    decision.step_decision(world)
    share = p.son_pref.mean()
    expected_share = dec.son_preference + years * dec.son_preference_trend
    se = np.sqrt(expected_share * (1 - expected_share) / n)
    assert abs(share - expected_share) < Z * se, (
        f"son preference {share:.4f} after {years} years, expected {expected_share:.4f}"
    )
    d = np.asarray(dec.desired_size)
    sizes = np.arange(d.size)
    expected_mean = d @ sizes + years * dec.desired_size_trend
    sd = np.sqrt(d @ sizes**2 - (d @ sizes) ** 2)
    assert abs(p.desired.mean() - expected_mean) < Z * sd / np.sqrt(n), (
        f"mean desired size {p.desired.mean():.4f} after {years} years, expected "
        f"{expected_mean:.4f}"
    )
    assert decision.selection_factor(world) == pytest.approx(1 + years * dec.selection_trend)
    world.t = 0
    at_start = 1 + (world.scenario.township.start_year - 2009) * dec.selection_trend
    assert decision.selection_factor(world) == pytest.approx(at_start)


def test_formed_couples_revise_their_wishes_with_the_trends():
    """Over a year, formed couples' mean desired size moves by the trend, and the share
    preferring sons by its trend: the couples follow the distribution new couples draw from."""
    n, years_on = 100_000, 5
    trends = {
        "policy.decision.desired_size_trend": -0.04,
        "policy.decision.son_preference_trend": -0.02,
        "policy.decision.trend_reference_year": 2009,
    }
    world = cohort(trends, n, parity=0, sons=0, desired=0)
    dec, p = world.scenario.policy.decision, world.persons
    years = world.scenario.township.start_year + years_on - dec.trend_reference_year
    start = decision.desired_distribution(dec.desired_size, dec.desired_size_trend * (years - 1))
    rng = np.random.default_rng(3)
    p.desired[:n] = rng.choice(start.size, size=n, p=start)
    share = decision.son_preference_share(dec.son_preference, dec.son_preference_trend, years - 1)
    p.son_pref[:n] = rng.random(n) < share
    mean_before, pref_before = p.desired[:n].mean(), p.son_pref[:n].mean()
    for month in range(12):
        world.t = 12 * years_on + month
        world.month = Month(wives=p.alive.copy())
        decision.step_decision(world)
    f = decision.revision_rate(start, dec.desired_size_trend)
    se = np.sqrt(f * (1 - f) / n)
    change = p.desired[:n].mean() - mean_before
    assert abs(change - dec.desired_size_trend) < Z * se + f**2, (
        f"mean desired size moved {change:.4f} in a year, the trend is {dec.desired_size_trend}"
    )
    se = np.sqrt(pref_before / n)
    change = p.son_pref[:n].mean() - pref_before
    assert abs(change - dec.son_preference_trend) < Z * se, (
        f"son preference moved {change:.4f} in a year, the trend is {dec.son_preference_trend}"
    )


def test_marriage_hazards_follow_their_trend_after_its_year():
    from popsim.mechanisms import marriage

    world = cohort({"demography.marriage.trend": -0.05}, 10)
    mar = world.scenario.demography.marriage
    start = world.scenario.township.start_year
    for year, years_after in ((mar.trend_from_year - 3, 0), (mar.trend_from_year + 4, 4)):
        world.t = 12 * (year - start)
        assert marriage.hazard_factor(world) == pytest.approx(np.exp(-0.05 * years_after))
    p = np.array([0.0, 0.01, 0.2])
    hazard = -np.log1p(-p)
    scaled = marriage.scaled(p, 0.5)
    np.testing.assert_allclose(-np.log1p(-scaled), 0.5 * hazard)
    assert marriage.scaled(p, 1.0) is p  # no trend: the same probabilities, not recomputed


def test_zero_trends_leave_the_draws_alone():
    """With no trend the preferences are drawn exactly as before: the baseline is unchanged."""
    worlds = [
        cohort({"policy.decision.trend_reference_year": year}, 5000, parity=0, sons=0, desired=-1)
        for year in (1990, 2009)
    ]
    for world in worlds:
        world.t = 30
        world.month = Month(wives=world.persons.alive.copy())
        decision.step_decision(world)
    np.testing.assert_array_equal(worlds[0].persons.desired, worlds[1].persons.desired)
    np.testing.assert_array_equal(worlds[0].persons.son_pref, worlds[1].persons.son_pref)


def test_a_wish_is_blocked_only_by_a_rule_that_waiting_cannot_satisfy():
    """Under the 1.5-child rule a first daughter's parents wait out the spacing; a son's are
    blocked. Under the two-child rule only a third child is."""
    waits = {"policy.rules.spacing_months": 48, "policy.rules.second_child_min_age": 24}
    world = cohort({"policy.rules.regime": "one_and_half", **waits}, 0)
    p = world.persons
    for parity, sons in ((1, 0), (1, 1), (2, 0), (0, 0)):
        p.add(
            1,
            key=np.uint64(p.n + 5),
            sex=FEMALE,
            birth_month=-(12 * 22 + 6),  # 22: below the second child's minimum age
            marital=MARRIED,
            parity=parity,
            sons=sons,
            daughters=parity - sons,
            first_birth_month=-6,  # within the spacing interval
            last_birth_month=-6,
        )
    rows = np.arange(p.n)
    assert next_birth_out_of_plan(world, rows, 9).tolist() == [True, True, True, False]
    assert rules.blocked_for_good(world, rows).tolist() == [False, True, True, False]
    two = cohort({"policy.rules.regime": "two_child"}, 0)
    two.persons, two.t = p, 0
    assert rules.blocked_for_good(two, rows).tolist() == [False, False, True, False]


# ---- the initial wishes ---------------------------------------------------------------


def _start(overrides, seed):
    """A township at month 0 without burn-in: its initial histories and wishes."""
    from popsim.model.township import PopsimModel

    scenario = popsim.load_scenario(
        PARAMS / "baseline.yaml",
        {"township.burn_in_years": 0, "township.n_persons": 20_000, **overrides},
    )
    return PopsimModel(scenario, seed=seed).world


def test_initial_wishes_agree_with_the_histories():
    """Couples still trying want another child; couples who stopped keep a wish only where
    the rule forbids the birth (the decision would otherwise have acted on it), with the
    chance 2 ** (-t / H) t years after their last birth: H the blocked half-life, times
    ``son_wish_persistence`` for a couple seeking a son (its longer-lived wish)."""
    world = _start({}, seed=3)
    p, dec = world.persons, world.scenario.policy.decision
    wives = np.flatnonzero(p.alive & (p.sex == FEMALE) & (p.marital == MARRIED))

    def desire(rows):
        return decision.desires_another(
            p.parity[rows],
            p.sons[rows],
            p.desired[rows],
            p.son_pref[rows],
            dec.son_seeking_max_parity,
        )

    assert (p.desired[wives] >= 0).all(), "every wife's wishes are drawn"
    trying = p.wants_more[wives] | (p.preg_month[wives] > 0)
    assert desire(wives[trying]).all()
    stopped = wives[~trying & (p.parity[wives] > 0)]
    kept = desire(stopped)
    assert rules.blocked_for_good(world, stopped[kept]).all()
    # the wishes drawn afresh (the same keyed draws), before they were made to agree
    settled = p.desired.copy(), p.son_pref.copy()
    decision._draw_preferences(world, stopped)
    fresh = desire(stopped)
    seeking = (
        p.son_pref[stopped]
        & (p.sons[stopped] == 0)
        & (p.parity[stopped] < dec.son_seeking_max_parity)
    )
    p.desired[:], p.son_pref[:] = settled
    assert not kept[~fresh].any(), "no wish is made up"
    blocked = fresh & rules.blocked_for_good(world, stopped)
    assert not kept[fresh & ~blocked].any(), "a wish the rule allows has been acted on or given up"
    years = (world.t - p.last_birth_month[stopped[blocked]]) / 12
    half_life = dec.blocked_half_life_years * np.where(
        seeking[blocked], dec.son_wish_persistence, 1.0
    )
    assert dec.son_wish_persistence > 1 and seeking[blocked].sum() > 50, "both kinds of wish"
    chance = 2.0 ** (-years / half_life)
    sd = np.sqrt((chance * (1 - chance)).sum())
    assert blocked.sum() > 300
    assert abs(kept[blocked].sum() - chance.sum()) < Z * sd, (kept[blocked].sum(), chance.sum())


def test_no_surge_of_pent_up_births_at_the_start():
    """Without a burn-in, the first years' second births are those of later years: the
    initial wishes do not release a pent-up demand (before they agreed with the histories,
    the second year had 3.5 times as many)."""
    scenario = popsim.load_scenario(
        PARAMS / "baseline.yaml",
        {"township.burn_in_years": 0, "demography.migration.enabled": False},
    )
    counts = []
    for seed in (1, 2):
        result = popsim.simulate(scenario, seed=seed, n_agents=20_000, years=6)
        births = result.events[result.events["event"] == "birth"]
        second = births[births["order"] == 2].groupby("year").size()
        counts.append(second.reindex(range(2009, 2015), fill_value=0).to_numpy())
    counts = np.sum(counts, axis=0)
    early, late = counts[:2].mean(), counts[3:].mean()
    # Poisson counts of about 150 a year: the ratio's sd is about 0.1
    assert early / late < 1.4, counts


@pytest.mark.parametrize("persistence", [1.0, 4.0])
def test_a_sonless_couples_wish_for_a_son_fades_at_its_own_half_life(persistence):
    """Son-preferring couples with two daughters under the 1.5-child rule: their wish for a
    son is blocked for good, so it fades at the blocked half-life times ``persistence``
    (no fee: they start at the month's h). Births of month t + 9 are then
    n (1 - a) h ((1 - a)(1 - h))^t with a = 1 - 2 ** (-1 / (12 x persistence x half-life))."""
    n, years, blocked = 40_000, 4, 1.5
    world = cohort(
        {
            "policy.rules.regime": "one_and_half",
            "policy.incentives.enabled": False,
            "policy.fee.enabled": False,
            "policy.decision.try_rate": 0.02,
            "policy.decision.blocked_half_life_years": blocked,
            "policy.decision.son_wish_persistence": persistence,
        },
        n,
        parity=2,
        sons=0,
        desired=2,
        son_pref=True,
    )
    rows = np.arange(n)
    h = decision.start_probability(world, rows, next_birth_out_of_plan(world, rows, 9))
    assert np.ptp(h) == 0, "one family, one age: one chance to start"
    births = run_months(world, 9 + 12 * years)[9:].reshape(years, 12).sum(axis=1)
    a = decision.fading_probability(blocked * persistence)
    assert decision.son_fading(world.scenario.policy.decision, np.array([0.0, 0.3]))[0] == 0.0
    keep = (1 - a) * (1 - h[0])
    t = np.arange(12 * years).reshape(years, 12)
    expected = (n * (1 - a) * h[0] * keep**t).sum(axis=1)
    se = np.sqrt(expected * (1 - expected / n))
    assert (np.abs(births - expected) < Z * se).all(), (
        f"births by year {births}, expected {np.round(expected)} (4 s.e. {np.round(Z * se)})"
    )
