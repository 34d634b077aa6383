"""First marriage: a women's hazard, a local marriage market, and marriage migration.

Each month never-married women marry at an age-specific hazard (reduced below
the legal minimum age). A share of them marry out of the township and leave;
the rest are matched with local never-married men drawn in proportion to the
men's own age pattern, paired oldest with oldest. Couples form a new household
in the groom's village (patrilocal residence). Never-married men also marry
brides from outside, who move in. A shortage of local men sends the surplus
brides out; a surplus of men (a high sex ratio at birth two decades earlier)
shows up as men who never marry.
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.fertility import wants_another
from popsim.mechanisms.rules import only_child_of
from popsim.state.events import REASONS
from popsim.state.population import FEMALE, MALE, MARRIED, SINGLE, TAG_BRIDE, retire
from popsim.state.rng import derive
from popsim.state.world import World

EXTERNAL_BRIDE_MAX_AGE = 45
MARRIAGE, EXTERNAL_BRIDE = REASONS.index("marriage"), REASONS.index("external_bride")


def hazard_factor(world: World) -> float:
    """This year's multiplier of the first-marriage hazards (1 without a trend).

    exp(trend x the years after ``trend_from_year``): the hazards as given until then.
    """
    mar = world.scenario.demography.marriage
    if not mar.trend:
        return 1.0
    year = world.scenario.township.start_year + world.t // 12
    return float(np.exp(mar.trend * max(0, year - mar.trend_from_year)))


def scaled(p_month, factor: float):
    """Monthly probabilities whose hazards are ``factor`` times those of ``p_month``."""
    return p_month if factor == 1.0 else 1.0 - (1.0 - np.asarray(p_month)) ** factor


def choose_brides(u: np.ndarray, *, age_years: np.ndarray, p_month: np.ndarray) -> np.ndarray:
    """Which never-married women (given by their uniforms and ages) marry this month."""
    return u < p_month[age_years]


def match_by_age(
    u_brides: np.ndarray,
    brides: np.ndarray,
    bride_age: np.ndarray,
    u_candidates: np.ndarray,
    candidates: np.ndarray,
    candidate_age: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair brides with grooms drawn from ``candidates`` in proportion to ``weights``.

    Grooms are a weighted sample without replacement by exponential keys
    (Efraimidis & Spirakis 2006: the ``m`` largest ``log(u) / w``), so each
    candidate's chance rests on his own draw alone. Returns (matched brides,
    their grooms), ranked by age on both sides so that older brides marry older
    grooms. When there are fewer candidates with positive weight than brides,
    the brides with the smallest draws are matched.
    """
    positive = weights > 0
    m = min(brides.size, int(positive.sum()))
    if m == 0:
        return brides[:0], candidates[:0]
    score = np.where(positive, np.log(u_candidates) / np.where(positive, weights, 1), -np.inf)
    pick = np.argpartition(-score, m - 1)[:m]
    chosen = np.argpartition(u_brides, m - 1)[:m]
    brides, bride_age = brides[chosen], bride_age[chosen]
    grooms = candidates[pick][np.argsort(candidate_age[pick], kind="stable")]
    return brides[np.argsort(bride_age, kind="stable")], grooms


def _wed(world: World, brides: np.ndarray, grooms: np.ndarray) -> None:
    """Link couples and give each a new household in the groom's village."""
    p = world.persons
    village = p.village[grooms]
    household = world.households.add(village, p.key[grooms])
    p.marital[brides] = MARRIED
    p.marital[grooms] = MARRIED
    p.spouse[brides] = grooms
    p.spouse[grooms] = brides
    p.village[brides] = village
    u_joins, u_wants = world.uniforms(
        ("bride_joins", "wants_at_marriage"), np.stack((grooms, brides))
    )
    joins = u_joins < world.scenario.demography.migration.couple_together
    p.away[brides] = p.away[grooms] & joins
    p.household[brides] = household
    p.household[grooms] = household
    p.wants_more[brides] = wants_another(u_wants, p.parity[brides], world.rates.progression)
    world.log.add(
        "marriage",
        month=world.t,
        pid=p.pid[brides],
        sex=FEMALE,
        age_months=world.age_months[brides],
        village=village,
        other=p.pid[grooms],
    )


def step_marriage(world: World) -> None:
    """This month's first marriages, marriages out of and into the township."""
    p, rates, mar = world.persons, world.rates, world.scenario.demography.marriage
    age = world.age_years
    single = p.alive & (p.marital == SINGLE)
    women = np.flatnonzero(single & (p.sex == FEMALE))
    p_month = scaled(rates.marriage_female, hazard_factor(world))
    women = women[p_month[age[women]] > 0]  # no draw for those who cannot marry (children)
    brides = women[
        choose_brides(world.uniform("marriage", women), age_years=age[women], p_month=p_month)
    ]
    u_out, u_order = world.uniforms(("marry_out", "bride_order"), brides)
    marry_out = u_out < mar.marry_out_share
    local = brides[~marry_out]
    men = np.flatnonzero(single & (p.sex == MALE))
    weights = rates.groom_weight[age[men]]
    u_men = np.ones(men.size)  # a man of weight 0 is never chosen: no draw for him
    courted = weights > 0
    u_men[courted] = world.uniform("groom_choice", men[courted])
    matched, grooms = match_by_age(
        u_order[~marry_out],
        local,
        world.age_months[local],
        u_men,
        men,
        world.age_months[men],
        weights,
    )
    _wed(world, matched, grooms)

    out = brides[p.marital[brides] == SINGLE]  # married out, or no local groom for them
    leaver = {
        "month": world.t,
        "pid": p.pid[out],
        "sex": FEMALE,
        "age_months": world.age_months[out],
        "village": p.village[out],
    }
    world.log.add("marriage", **leaver)
    world.log.add("out_migration", **leaver, reason=MARRIAGE)
    retire(p, out, widow_spouses=False)

    _external_brides(world, men)


def external_bride_months(
    u: np.ndarray, groom_months: np.ndarray, cdf: np.ndarray, min_age: int
) -> np.ndarray:
    """Ages in months of brides from outside: the women's ages at first marriage up to the groom's.

    A bride's age is drawn from the women's first-marriage schedule (``cdf``, from
    :func:`popsim.state.world.first_marriage_age_cdf`) cut at her groom's age, by inverting
    the distribution with her uniform ``u``, linearly within each year of age. She is at
    least ``min_age`` (the legal minimum) and never older than he is, unless he is under it.
    """
    year, month = np.divmod(groom_months, 12)
    year = np.minimum(year, cdf.size - 2)
    cap = cdf[year] + (cdf[year + 1] - cdf[year]) * (month / 12.0)
    share = u * cap
    age = np.clip(np.searchsorted(cdf, share, side="right") - 1, 0, cdf.size - 2)
    step = cdf[age + 1] - cdf[age]
    within = np.divide(share - cdf[age], step, out=np.zeros_like(share), where=step > 0)
    months = age * 12 + np.minimum((within * 12).astype(np.int64), 11)
    return np.maximum(np.minimum(months, groom_months), min_age * 12)


def _external_brides(world: World, men: np.ndarray) -> None:
    """Never-married men (of ``men``, the month's single men) who marry a bride from outside."""
    p, t, mar = world.persons, world.t, world.scenario.demography.marriage
    age = world.age_years[men]
    eligible = men[
        (p.marital[men] == SINGLE) & (age >= mar.min_age_male) & (age <= EXTERNAL_BRIDE_MAX_AGE)
    ]
    p_month = scaled(world.rates.external_bride, hazard_factor(world))
    grooms = eligible[world.uniform("external_bride", eligible) < p_month]
    if grooms.size == 0:
        return
    bride_months = external_bride_months(
        world.uniform("external_bride_age", grooms),
        world.age_months[grooms],
        world.rates.bride_age_cdf,
        mar.min_age_female,
    )
    birth_month = t - bride_months
    keys = derive(p.key[grooms], TAG_BRIDE)
    brides = p.add(
        grooms.size,
        key=keys,
        sex=FEMALE,
        birth_month=birth_month,
        village=p.village[grooms],
        only_child=only_child_of(world, keys, birth_month),
    )
    world.log.add(
        "in_migration",
        month=t,
        pid=p.pid[brides],
        sex=FEMALE,
        age_months=t - birth_month,
        village=p.village[grooms],
        reason=EXTERNAL_BRIDE,
    )
    _wed(world, brides, grooms)
