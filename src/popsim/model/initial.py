"""The initial population: ages and sexes from the census, histories from the model's own rates.

How the state at month 0 is made consistent with the rates:

* Age and sex are drawn from the scenario's age-sex weights, taken back from their date
  (``initial.as_of_year``: the 2010 census) to the burn-in's start; the month of
  birth is uniform within the year of age, except that nobody is 0 months old at
  a month's start (babies are born at its end). Villages are drawn uniformly.
* Each person's age at first marriage is drawn from the first-marriage hazard
  of their sex (inverse transform of the monthly survival curve); those whose
  drawn age is below their current age are married.
* Married women and married men are paired by age rank (a random subset of the
  larger side goes unpaired; they are married to a spouse living outside the
  township). The wife moves to the husband's village; each couple is a household.
* Each woman's reproductive history is simulated month by month from age 12 to
  her current age with the same kernels and rates the run uses (period rates
  applied to past cohorts, no mortality or migration along the way), giving her
  parity, children's sexes, last and first birth, pregnancy and whether she
  wants another child. Under the couple decision, wives' wishes are then drawn and made
  to agree with their histories (:func:`popsim.mechanisms.decision.settle_initial_wishes`),
  so that the burn-in does not start with a surge of pent-up births.
* Never-married persons under 30 join the household of a random married woman
  18-45 years older in their village; other unpaired persons form their own
  households. Initial persons have no mother pid; whether they are only children is drawn
  from the share of their birth cohort (:func:`popsim.mechanisms.rules.only_child_of`).
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.decision import settle_initial_wishes
from popsim.mechanisms.fertility import conceptions, pregnancy_outcomes, wants_another
from popsim.mechanisms.rules import only_child_of
from popsim.scenario.demography import N_AGES
from popsim.state.population import FEMALE, MALE, MARRIED, TAG_INITIAL
from popsim.state.rng import derive
from popsim.state.world import Rates, World, monthly_probability

CHILD_MAX_AGE = 30
MOTHER_AGE_GAP = (18, 45)
HISTORY_START_AGE = 12


def draw_marriage_age(u: np.ndarray, p_month: np.ndarray) -> np.ndarray:
    """Age in months at first marriage by inverse transform; never = a large value.

    ``p_month`` is the monthly marriage probability by single year of age.
    """
    monthly = np.repeat(p_month, 12)
    survival = np.cumprod(1.0 - monthly)  # single after month m of age
    # first month m with survival[m] < 1 - u, i.e. marriage during month m
    months = np.searchsorted(-survival, -(1.0 - u), side="right")
    return np.where(months >= survival.size, np.iinfo(np.int32).max, months)


def back_project(weights: np.ndarray, mx_by_year: np.ndarray) -> np.ndarray:
    """Age weights ``len(mx_by_year)`` years earlier: those aged a + years now, before deaths.

    Persons aged a at the burn-in's start are those aged a + years at the structure's date
    ``years`` later, divided by their chance of surviving the interval: in its year k they
    are a + k, under that year's death rates ``mx_by_year[k]``. Ages whose survivors would
    be beyond 100 get none.
    """
    weights, mx = np.asarray(weights, dtype=float), np.asarray(mx_by_year, dtype=float)
    years = mx.shape[0]
    if years == 0:
        return weights
    ages = np.arange(weights.size - years)
    hazard = sum(mx[k, ages + k] for k in range(years))
    out = np.zeros_like(weights)
    out[ages] = weights[ages + years] * np.exp(hazard)
    return out


def populate(world: World) -> None:
    """Fill ``world`` with the scenario's initial township.

    The scenario's age structure (that of ``initial.as_of_year``) is back-projected to the
    burn-in's start, so that the burn-in ages it into place.
    """
    s, rng = world.scenario, world.streams["initial"]
    n = s.township.n_persons
    rows, sex = _first_persons(world, rng)
    rates = world.rates
    p_month = (rates.marriage_female, monthly_probability(rates.groom_weight))
    if s.demography.fertility.mode == "marriage":
        marriage_age = np.empty(n, dtype=np.int64)
        for code in (FEMALE, MALE):
            who = sex == code
            marriage_age[who] = draw_marriage_age(rng.random(who.sum()), p_month[code])
        married = marriage_age < world.t - world.persons.birth_month[rows]
        _pair_couples(world, rows[married & (sex == FEMALE)], rows[married & (sex == MALE)], rng)
    else:
        marriage_age = np.full(n, np.iinfo(np.int32).max)
    _simulate_histories(world, rows[sex == FEMALE], marriage_age[sex == FEMALE], rates)
    if s.policy.enabled and s.policy.decision.enabled and s.demography.fertility.mode == "marriage":
        settle_initial_wishes(world, rows[(sex == FEMALE) & married])
    _assign_households(world, rng)


def _first_persons(world: World, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Add the township's persons by age, sex and village; returns (their rows, their sexes).

    A function of its own so that its arrays of every person (cells, ages, keys: about 50 MB
    at a million persons) are freed before the histories are drawn, the construction's peak.
    """
    s = world.scenario
    n = s.township.n_persons
    back = s.back_projection_years()
    first = s.township.start_year - s.township.burn_in_years
    # [year, sex, age]: the death rates from the burn-in's start to the structure's date
    mx = np.array([s.demography.mortality.rates_in(y) for y in range(first, first + back)])
    mx = mx.reshape(back, 2, N_AGES)
    weights = np.concatenate(
        [
            back_project(s.initial.female_by_age, mx[:, 0]),
            back_project(s.initial.male_by_age, mx[:, 1]),
        ]
    )
    # At a month's start the youngest are a month old (this month's babies come at its
    # end): age 0 holds 11 monthly cohorts, the other ages 12.
    weights[[0, N_AGES]] *= 11 / 12
    cell = rng.choice(weights.size, size=n, p=weights / weights.sum())
    sex = np.where(cell >= N_AGES, MALE, FEMALE).astype(np.int8)
    age_years = cell % N_AGES
    months_into_year = np.where(age_years == 0, 1 + rng.integers(0, 11, n), rng.integers(0, 12, n))
    age_months = age_years * 12 + months_into_year
    village = rng.integers(0, s.township.n_villages, n).astype(np.int16)
    keys = derive(np.arange(n, dtype=np.uint64), TAG_INITIAL)
    birth_month = world.t - age_months
    rows = world.persons.add(
        n,
        key=keys,
        sex=sex,
        birth_month=birth_month,
        village=village,
        only_child=only_child_of(world, keys, birth_month),
    )
    return rows, sex


def _pair_couples(
    world: World, wives: np.ndarray, husbands: np.ndarray, rng: np.random.Generator
) -> None:
    p = world.persons
    p.marital[wives] = MARRIED
    p.marital[husbands] = MARRIED
    m = min(wives.size, husbands.size)
    wives = np.sort(rng.permutation(wives)[:m])
    husbands = np.sort(rng.permutation(husbands)[:m])
    wives = wives[np.argsort(p.birth_month[wives], kind="stable")]
    husbands = husbands[np.argsort(p.birth_month[husbands], kind="stable")]
    p.spouse[wives] = husbands
    p.spouse[husbands] = wives
    p.village[wives] = p.village[husbands]
    household = world.households.add(p.village[husbands], p.key[husbands])
    p.household[wives] = household
    p.household[husbands] = household


def _simulate_histories(
    world: World, women: np.ndarray, marriage_age: np.ndarray, rates: Rates
) -> None:
    """Each woman's births and pregnancy up to now, with the run's own kernels.

    Month of age by month of age, every woman draws (so each draw keeps its woman whatever
    the others do), but only the few pregnant women's outcomes and the eligible women's
    conceptions are worked out: index arrays, not masks over all of them (which took twice
    as long, at 38,000 persons a sixth of a calibration run).
    """
    p, fert = world.persons, world.scenario.demography.fertility
    rng = world.streams["initial_history"]
    t0 = world.t
    age_now = t0 - p.birth_month[women]
    k = women.size
    parity = np.zeros(k, dtype=np.int8)
    sons = np.zeros(k, dtype=np.int8)
    last_birth = p.last_birth_month[women].copy()
    first_birth = p.first_birth_month[women].copy()
    preg = np.zeros(k, dtype=np.int8)
    fetus_male = np.zeros(k, dtype=bool)
    susceptible = np.zeros(k, dtype=np.int64)  # in months of age
    wants = wants_another(rng.random(k), parity, rates.progression)
    last_fertile = 50 * 12
    for m in range(HISTORY_START_AGE * 12, min(int(age_now.max(initial=0)), last_fertile)):
        active = age_now > m
        u_first = rng.random(k)
        if fert.mode == "asfr":
            born = np.flatnonzero(active & (u_first < rates.asfr_month[m // 12]))
            male = (rng.random(k) < rates.p_male)[born]
        else:
            pregnant = np.flatnonzero(active & (preg > 0))
            ended, _, term = pregnancy_outcomes(
                u_first[pregnant],
                preg_month=preg[pregnant],
                loss_month=rates.loss_month,
                abortion_prob=0.0,  # the history's conceptions are all intended
            )
            preg[pregnant[ended]] = 0
            susceptible[pregnant[ended]] = m + 1
            preg[pregnant[~ended & ~term]] += 1
            born = pregnant[term]
            eligible = active & (marriage_age <= m) & (preg == 0) & wants & (m >= susceptible)
            conceived = np.flatnonzero(
                conceptions(
                    rng.random(k), eligible=eligible, p_conceive=rates.fecundability[m // 12]
                )
            )
            preg[conceived] = 1
            fetus_male[conceived] = rng.random(conceived.size) < rates.p_male
            male = fetus_male[born]
        if born.size:
            t_rel = t0 + m - age_now[born]  # the calendar month in which she was this age
            first = parity[born] == 0
            first_birth[born[first]] = t_rel[first]
            parity[born] += 1
            sons[born] += male
            last_birth[born] = t_rel
            preg[born] = 0
            susceptible[born] = m + fert.postpartum_months + 1
            wants[born] = wants_another(rng.random(born.size), parity[born], rates.progression)
    p.parity[women] = parity
    p.sons[women] = sons
    p.daughters[women] = parity - sons
    p.last_birth_month[women] = last_birth
    p.first_birth_month[women] = first_birth
    p.preg_month[women] = preg
    p.preg_intended[women] = preg > 0  # conceived while trying (wants was true then)
    p.fetus_male[women] = fetus_male
    p.susceptible_from[women] = t0 + susceptible - age_now
    p.wants_more[women] = wants


def _assign_households(world: World, rng: np.random.Generator) -> None:
    p = world.persons
    age = world.t - p.birth_month
    has_home = p.household >= 0
    mothers = np.flatnonzero((p.sex == FEMALE) & (p.marital == MARRIED) & (p.parity > 0))
    children = np.flatnonzero(~has_home & (age < CHILD_MAX_AGE * 12))
    if mothers.size and children.size:
        # mothers sorted by (village, birth month); candidates are a contiguous run
        order = np.lexsort((p.birth_month[mothers], p.village[mothers]))
        mothers = mothers[order]
        key = p.village[mothers].astype(np.int64) * 100_000 + p.birth_month[mothers]
        base = p.village[children].astype(np.int64) * 100_000 + p.birth_month[children]
        lo = np.searchsorted(key, base - MOTHER_AGE_GAP[1] * 12, side="left")
        hi = np.searchsorted(key, base - MOTHER_AGE_GAP[0] * 12, side="right")
        found = hi > lo
        pick = lo[found] + (rng.random(found.sum()) * (hi - lo)[found]).astype(np.int64)
        p.household[children[found]] = p.household[mothers[pick]]
    alone = np.flatnonzero(p.household < 0)
    p.household[alone] = world.households.add(p.village[alone], p.key[alone])
