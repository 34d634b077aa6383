"""Default demographic input tables, derived from the 2010 census of China and UN WPP 2019.

Each table is a float64 array by single year of age 0..100 (100 meaning 100+). Tables are
cached and read-only, so every scenario shares one copy and none can alter it by accident.
The raw CSVs and their provenance are in ``popsim/scenario/data/SOURCES.md``. Only ``csv`` and numpy
are used (no pandas) so that ``import popsim`` stays fast.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from importlib.resources import files

import numpy as np

N_AGES = 101  #: single years 0..100, the last one open (100+)
SEXES = ("male", "female")
MX_EDITION = "WPP2019"  #: WPP edition of the default death rates
MARRIAGE_MIN_AGE = 12  #: no first marriage before this age: S(12) = 1
MARRIAGE_MAX_AGE = 65  #: first-marriage hazard is 0 from this age on
REPRO_AGES = range(15, 50)  #: mother's ages covered by the census fertility table

_MX_FILE = "china_wpp_abridged_mx.csv"
_ANHUI_FILE = "anhui_china_2010_census_population_by_agegroup_sex.csv"
_CHINA_AGE_FILE = "china_2010_census_population_by_age_sex.csv"
_MARITAL_FILE = "china_2010_census_15plus_by_residence_sex_age_marital.csv"
_BIRTHS_FILE = "china_2010_census_births_by_age_order.csv"
_MOTHERS_FILE = "china_2010_census_women_giving_birth_by_residence_age_order_sex.csv"
RESIDENCES = ("all", "city", "town", "rural")


def _rows(name: str) -> list[dict[str, str]]:
    """Read a packaged CSV; package resources keep this working from an installed wheel."""
    with (files("popsim.scenario") / "data" / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _frozen(values: np.ndarray) -> np.ndarray:
    """A read-only float64 copy, because cached arrays are shared between all callers."""
    arr = np.array(values, dtype=np.float64)
    arr.flags.writeable = False
    return arr


def _check_sex(sex: str) -> None:
    if sex not in SEXES:
        raise ValueError(f"sex must be one of {SEXES}, got {sex!r}")


def _age_span(label: str) -> tuple[int, int]:
    """Half-open span of single years: '0' -> (0, 1), '1-4' -> (1, 5), '100+' -> (100, 101)."""
    if label.endswith("+"):
        lo = int(label[:-1])
        return lo, N_AGES
    lo, _, hi = label.partition("-")
    return int(lo), int(hi or lo) + 1


@lru_cache(maxsize=8)
def mortality_mx(sex: str, period: str = "2005-2010") -> np.ndarray:
    """Central death rate (deaths per person-year) by single year of age, China, WPP 2019.

    WPP's abridged rates (0, 1-4, 5-9, ..., 95-99, 100+) are held constant within each
    interval, i.e. a piecewise-constant hazard: WPP's single-year rates were not available,
    and this reproduces WPP's published e0 to about 0.1 year (see tests/test_tables.py).

    Raises:
        ValueError: if ``sex`` or ``period`` is not one of the available values.
    """
    _check_sex(sex)
    rows = [r for r in _rows(_MX_FILE) if r["edition"] == MX_EDITION]
    periods = sorted({r["period"] for r in rows})
    if period not in periods:
        raise ValueError(f"period must be one of {periods} ({MX_EDITION}), got {period!r}")
    rates = {
        int(r["age_start"].rstrip("+")): float(r["mx"])
        for r in rows
        if r["period"] == period and r["sex"] == sex
    }
    starts = sorted(rates)
    mx = np.full(N_AGES, np.nan)
    for start, end in zip(starts, [*starts[1:], N_AGES], strict=True):
        mx[start:end] = rates[start]
    if np.isnan(mx).any():
        raise RuntimeError(f"{_MX_FILE}: abridged ages {starts} do not cover 0..100")
    return _frozen(mx)


def life_expectancy(mx: np.ndarray) -> float:
    """Life expectancy at birth of a single-year life table with constant hazard in each year.

    Year x contributes l_x (1 - exp(-m_x)) / m_x person-years and the open last interval
    l_last / m_last. Used to check :func:`mortality_mx` against WPP's published e0.
    """
    m = np.asarray(mx, dtype=np.float64)
    if m.ndim != 1 or m.size < 2 or (m < 0).any() or not m[-1] > 0:
        raise ValueError("mx must be a 1-d array of rates >= 0 with a positive last (open) rate")
    closed = m[:-1]
    lx = np.exp(-np.concatenate(([0.0], np.cumsum(closed))))  # l_0 .. l_last
    safe = np.where(closed > 0, closed, 1.0)
    years_lived = np.where(closed > 0, -np.expm1(-closed) / safe, 1.0)
    return float(np.sum(lx[:-1] * years_lived) + lx[-1] / m[-1])


@lru_cache(maxsize=1)
def initial_age_sex() -> tuple[np.ndarray, np.ndarray]:
    """(male, female) shares of the initial population by single year of age, summing to 1.

    Anhui's 2010 census counts by age group (0, 1-4, ..., 95-99, 100+) are spread over the
    single years of each group in proportion to China's 2010 single-year counts of the same
    sex: Anhui single years were not published, and this keeps Anhui's group totals exact
    while borrowing the national within-group shape (e.g. heaping, cohort dips).
    """
    national = {sex: np.zeros(N_AGES) for sex in SEXES}
    for r in _rows(_CHINA_AGE_FILE):
        age = _age_span(r["age"])[0]
        for sex in SEXES:
            national[sex][age] = float(r[sex])
    counts = {sex: np.zeros(N_AGES) for sex in SEXES}
    for r in _rows(_ANHUI_FILE):
        if r["area"] != "Anhui" or r["age_group"] == "total":
            continue
        lo, hi = _age_span(r["age_group"])
        for sex in SEXES:
            weights = national[sex][lo:hi]
            counts[sex][lo:hi] = float(r[sex]) * weights / weights.sum()
    total = counts["male"].sum() + counts["female"].sum()
    return _frozen(counts["male"] / total), _frozen(counts["female"] / total)


OUT_OF_PROVINCE_SHARE = 0.15  #: [S] docs/regime.md §7: Anhui's registered population away, 2010
MIGRANT_AGES = (15, 45)  #: ages over which the missing migrants are put back


@lru_cache(maxsize=8)
def registered_age_sex(away_share: float = OUT_OF_PROVINCE_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(male, female) shares of the *registered* population by single year of age.

    The census counts residents, so Anhui's young adults who work in other provinces
    are missing from :func:`initial_age_sex` (its 20-29 year olds are far fewer than
    the nation's). The model's population is the registered one, so they are put
    back: ``away_share`` of the registered total, spread over ages 15-44 in
    proportion to China's population of each single year and sex.
    """
    if not 0 <= away_share < 1:
        raise ValueError(f"away_share must be in [0, 1), got {away_share}")
    resident = initial_age_sex()
    national = {sex: np.zeros(N_AGES) for sex in SEXES}
    for r in _rows(_CHINA_AGE_FILE):
        age = _age_span(r["age"])[0]
        for sex in SEXES:
            national[sex][age] = float(r[sex])
    lo, hi = MIGRANT_AGES
    window = national["male"][lo:hi].sum() + national["female"][lo:hi].sum()
    added = away_share / (1 - away_share)  # per unit of resident population
    out = []
    for sex, shares in zip(SEXES, resident, strict=True):
        extra = np.zeros(N_AGES)
        extra[lo:hi] = added * national[sex][lo:hi] / window
        out.append((shares + extra) / (1 + added))
    return _frozen(out[0]), _frozen(out[1])


@lru_cache(maxsize=8)
def _proportion_single(residence: str, sex: str) -> dict[str, float]:
    """Proportion never married by 5-year group (15-19 .. 60-64), 2010 census."""
    _check_sex(sex)
    single: dict[str, float] = {}
    total: dict[str, float] = {}
    for r in _rows(_MARITAL_FILE):
        if r["residence"] != residence or r["sex"] != sex or "-" not in r["age_group"]:
            continue
        if r["marital_status"] == "Single (never married)":
            single[r["age_group"]] = float(r["persons"])
        elif r["marital_status"] == "Total":
            total[r["age_group"]] = float(r["persons"])
    if not total:
        raise ValueError(f"residence must be total, urban or rural, got {residence!r}")
    groups = sorted(total, key=lambda g: _age_span(g)[0])
    return {g: single[g] / total[g] for g in groups}


#: The standard Coale-McNeil schedule of first marriages in its generalised log-gamma form
#: (Kaneko, "Elaboration of the Coale-McNeil nuptiality model as the generalized log gamma
#: distribution", Demographic Research 9(10), 2003): density
#: 0.19465 exp(-0.174 (z - 6.06) - exp(-0.2881 (z - 6.06))) in standard years z.
_CM_ALPHA, _CM_LAMBDA, _CM_CENTRE = 0.174, 0.2881, 6.06
_CM_GROUPS = 7  #: groups 15-19 .. 45-49: past 50 the cross-section is older cohorts' story
FIT_DECIMALS = 6  #: of the fitted (a0, k, c): far above the fit's differences between machines


def coale_mcneil_ever_married(age: np.ndarray, a0: float, k: float, c: float) -> np.ndarray:
    """Proportion ever married by exact ``age`` in a Coale-McNeil schedule.

    ``a0`` is the age at which first marriages begin, ``k`` the pace (1 for the standard
    schedule; the mean age at first marriage is ``a0`` + 11.36 ``k``) and ``c`` the share
    who ever marry (Coale and McNeil, "The distribution by age of the frequency of first
    marriage in a female cohort", JASA 67(340), 1972).
    """
    from scipy.special import gammaincc  # only when a schedule is fitted: import stays fast

    z = (np.asarray(age, dtype=np.float64) - a0) / k - _CM_CENTRE
    return c * gammaincc(_CM_ALPHA / _CM_LAMBDA, np.exp(-_CM_LAMBDA * z))


@lru_cache(maxsize=8)
def coale_mcneil_fit(sex: str) -> tuple[float, float, float]:
    """(a0, k, c) of the Coale-McNeil schedule that best fits rural China's 2010 census.

    Least squares on the proportions never married of the groups 15-19 .. 45-49, each
    compared with the schedule's mean over the five years of its group (a synthetic cohort,
    ages spread evenly within a group), as Rodriguez and Trussell fit the model to
    current-status data ("Maximum likelihood estimation of the parameters of Coale's model
    nuptiality schedule from survey data", WFS Technical Bulletin 7, 1980).
    """
    from scipy.optimize import least_squares

    single = np.array(list(_proportion_single("rural", sex).values()))
    lows = np.arange(15, 15 + 5 * _CM_GROUPS, 5, dtype=np.float64)
    within = np.linspace(0.0, 5.0, 51)
    ages = lows[:, None] + within[None, :]

    def residuals(p: np.ndarray) -> np.ndarray:
        group_single = 1.0 - coale_mcneil_ever_married(ages, *p).mean(axis=1)
        return group_single - single[:_CM_GROUPS]

    fit = least_squares(residuals, x0=[15.0, 0.7, 0.98], bounds=([5, 0.2, 0.5], [30, 3, 1]))
    # The solver's last digits follow the machine's BLAS kernels, which OpenBLAS picks by CPU
    # (a0 = 16.9993208519 with Haswell's, 16.9993208536 with SkylakeX's), and the schedule,
    # the scenario's hash and every run would follow them: six decimals agree on every CPU.
    a0, k, c = (round(float(v), FIT_DECIMALS) for v in fit.x)
    return a0, k, c


@lru_cache(maxsize=8)
def first_marriage_hazard(sex: str) -> np.ndarray:
    """Annual hazard of first marriage of never-married persons by single year of age.

    The Coale-McNeil schedule fitted to rural China's 2010 census proportions never married
    (:func:`coale_mcneil_fit`), read as a synthetic cohort: with S(x) the proportion still
    single at exact age x, the hazard for age x is ln S(x) - ln S(x + 1), so survival
    through single years reproduces the schedule at whole ages. It is an integrated rate:
    the probability of marrying within the year is 1 - exp(-hazard). It is 0 below 12 and
    from 65 on. Unlike straight lines between the groups' midpoints, the schedule keeps the
    census's few marriages in the teens (a midpoint line from S(12) = 1 put a tenth of the
    model's first births under age 20, against 5 % in the rural census).
    """
    ages = np.arange(N_AGES + 1, dtype=np.float64)
    ln_s = np.log1p(-coale_mcneil_ever_married(ages, *coale_mcneil_fit(sex)))
    hazard = ln_s[:-1] - ln_s[1:]
    hazard[:MARRIAGE_MIN_AGE] = 0.0
    hazard[MARRIAGE_MAX_AGE:] = 0.0
    return _frozen(np.clip(hazard, 0.0, None))  # S is non-increasing: only rounding is < 0


def singulate_mean_age_at_marriage(residence: str = "rural", sex: str = "female") -> float:
    """Hajnal's singulate mean age at marriage from the 2010 census's proportions single.

    SMAM = (15 + 5 x the sum of S over 15-19 .. 45-49 - 50 S50) / (1 - S50), with S50 the
    mean of S at 45-49 and 50-54 (Hajnal, "Age at marriage and proportions marrying",
    Population Studies 7(2), 1953). ``residence``: "total", "urban" or "rural".
    """
    s = _proportion_single(residence, sex)
    s50 = (s["45-49"] + s["50-54"]) / 2
    years = 5 * sum(s[f"{a}-{a + 4}"] for a in range(15, 50, 5))
    return float((15 + years - 50 * s50) / (1 - s50))


def mean_age_at_first_marriage(hazard: np.ndarray) -> float:
    """Mean age at first marriage of those who marry by 50, marrying at age x + 0.5.

    A summary (like SMAM) to compare the hazards with published marriage ages.
    """
    h = np.asarray(hazard, dtype=np.float64)[:50]
    surv = np.exp(-np.concatenate(([0.0], np.cumsum(h))))
    married = surv[:-1] - surv[1:]
    if not married.sum() > 0:
        return math.nan
    return float(np.sum((np.arange(h.size) + 0.5) * married) / married.sum())


@lru_cache(maxsize=8)
def mean_age_of_mothers(residence: str = "rural", order: int = 1) -> float:
    """Mean age of the women who had a birth of this order (1, 2, or 3 for 3+) in the 2010 census.

    Women who gave birth from November 2009 to October 2010, by completed age at the census;
    a birth came on average half a year before it, so the mean of completed ages is the mean
    exact age at the birth. The calibration's ``mean_age_first_birth`` target is the rural
    figure for order 1 (the township is rural).
    """
    if residence not in RESIDENCES:
        raise ValueError(f"residence must be one of {RESIDENCES}, got {residence!r}")
    if order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3 (3 and later), got {order!r}")
    column = f"order{order}_total" if order < 3 else "order3plus_total"
    ages, women = [], []
    for r in _rows(_MOTHERS_FILE):
        if r["residence"] == residence and r["mother_age"].isdigit():
            ages.append(int(r["mother_age"]))
            women.append(float(r[column] or 0))  # an empty cell is no woman
    return float(np.average(ages, weights=women))


@lru_cache(maxsize=1)
def asfr_shape() -> np.ndarray:
    """Age pattern of fertility by mother's single year of age, summing to 1 over 15..49.

    From the 2010 census (births / average women, Nov 2009 - Oct 2010). Only the shape is
    kept because the census level (TFR about 1.19) is held to be under-reported.
    """
    shape = np.zeros(N_AGES)
    for r in _rows(_BIRTHS_FILE):
        age = int(r["age"])
        shape[age] = float(r["births_total"]) / float(r["avg_women"])
    if set(np.flatnonzero(shape)) != set(REPRO_AGES):
        raise RuntimeError(f"{_BIRTHS_FILE}: expected positive rates at ages 15..49 only")
    return _frozen(shape / shape.sum())


@lru_cache(maxsize=32)
def asfr(tfr: float) -> np.ndarray:
    """Age-specific fertility (births per woman per year) with the census shape and this TFR."""
    if not (math.isfinite(tfr) and tfr >= 0):
        raise ValueError(f"tfr must be a finite number >= 0, got {tfr!r}")
    return _frozen(tfr * asfr_shape())


_ONLY_CHILD_FILE = "rural_only_child_share_by_cohort.csv"


@lru_cache(maxsize=1)
def only_child_share() -> tuple[np.ndarray, np.ndarray]:
    """(first birth year of each cohort, share of only children in it), cohorts in order.

    An assumption derived from aggregate figures (see ``data/SOURCES.md``); a birth year
    before the first cohort takes the first share, after the last the last share.
    """
    rows = _rows(_ONLY_CHILD_FILE)
    starts = np.array([int(r["born_from"]) for r in rows], dtype=np.int64)
    shares = np.array([float(r["share"]) for r in rows])
    if (np.diff(starts) <= 0).any() or ((shares < 0) | (shares > 1)).any():
        raise RuntimeError(f"{_ONLY_CHILD_FILE}: cohorts out of order or a share outside 0..1")
    starts.flags.writeable = False
    return starts, _frozen(shares)
