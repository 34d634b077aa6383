"""Checks of the default demographic tables against the source CSVs they are derived from."""

from __future__ import annotations

import csv
import math
from importlib.resources import files

import numpy as np
import pytest

from conftest import PARAMS
from popsim.calibration.targets import load_targets
from popsim.scenario import tables

SEXES = ("male", "female")
#: WPP2019's periods in the packaged file: estimates to 2015-2020, then the medium variant
WPP2019_PERIODS = ("2000-2005", "2005-2010", "2010-2015", "2015-2020", "2020-2025")


def read_csv(name: str) -> list[dict[str, str]]:
    with (files("popsim.scenario") / "data" / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def span(label: str) -> tuple[int, int]:
    if label.endswith("+"):
        return int(label[:-1]), 101
    lo, _, hi = label.partition("-")
    return int(lo), int(hi or lo) + 1


# --- mortality -------------------------------------------------------------------------


@pytest.mark.parametrize("period", WPP2019_PERIODS)
@pytest.mark.parametrize("sex", SEXES)
def test_e0_matches_wpp2019(sex: str, period: str) -> None:
    # WPP's abridged table treats deaths within an interval with its own nax (about n/2 at
    # adult ages); a constant hazard within each interval puts deaths slightly earlier in
    # the interval, which matters only where mx is large (age 0 and 80+, where few
    # person-years are lived). Holding the same mx, the two assumptions differ by < 0.1
    # year in e0 (WPP also rounds mx to 2-4 significant digits), so a gap beyond 0.3 means
    # the wrong period, sex, edition or age mapping, not the hazard assumption: successive
    # periods differ by 0.7 to 1.8 years.
    row = next(
        r
        for r in read_csv("china_wpp_srb_e0.csv")
        if r["edition"] == "WPP2019" and r["time"] == period
    )
    expected = float(row[f"e0_{sex}"])
    got = tables.life_expectancy(tables.mortality_mx(sex, period))
    print(f"e0 {sex} {period}: {got:.3f} (WPP2019 {expected})")
    assert abs(got - expected) < 0.3


@pytest.mark.parametrize("period", WPP2019_PERIODS)
@pytest.mark.parametrize("sex", SEXES)
def test_mx_constant_within_abridged_intervals(sex: str, period: str) -> None:
    mx = tables.mortality_mx(sex, period)
    assert mx.shape == (101,) and mx.dtype == np.float64
    rows = [
        r
        for r in read_csv("china_wpp_abridged_mx.csv")
        if (r["edition"], r["period"], r["sex"]) == ("WPP2019", period, sex)
    ]
    starts = [int(r["age_start"].rstrip("+")) for r in rows]
    assert starts == [0, 1, *range(5, 101, 5)]
    for r, lo, hi in zip(rows, starts, [*starts[1:], 101], strict=True):
        assert np.all(mx[lo:hi] == float(r["mx"])), r


def test_mx_bad_arguments_name_allowed_values() -> None:
    with pytest.raises(ValueError, match="female"):
        tables.mortality_mx("females")
    with pytest.raises(ValueError, match="2010-2015"):
        tables.mortality_mx("male", "2005-2009")


def test_life_expectancy_of_constant_hazard_is_its_inverse() -> None:
    # With the same hazard at every age the life table is exponential: e0 = 1/m exactly.
    assert tables.life_expectancy(np.full(101, 0.02)) == pytest.approx(50.0, rel=1e-12)


def test_tables_are_read_only_and_cached() -> None:
    mx = tables.mortality_mx("male")
    assert mx is tables.mortality_mx("male")
    for arr in (
        mx,
        *tables.initial_age_sex(),
        tables.first_marriage_hazard("female"),
        tables.asfr_shape(),
        tables.asfr(1.6),
    ):
        with pytest.raises(ValueError):
            arr[20] = 1.0


# --- initial population ----------------------------------------------------------------


def test_initial_shares_reproduce_anhui_groups() -> None:
    male, female = tables.initial_age_sex()
    assert male.shape == female.shape == (101,)
    assert male.sum() + female.sum() == pytest.approx(1.0, abs=1e-12)
    assert (male >= 0).all() and (female >= 0).all()
    anhui = [
        r
        for r in read_csv("anhui_china_2010_census_population_by_agegroup_sex.csv")
        if r["area"] == "Anhui"
    ]
    total_row = next(r for r in anhui if r["age_group"] == "total")
    groups = [r for r in anhui if r["age_group"] != "total"]
    covered = sorted(a for r in groups for a in range(*span(r["age_group"])))
    assert covered == list(range(101))
    grand = float(total_row["total"])
    assert sum(float(r["male"]) + float(r["female"]) for r in groups) == grand
    for r in groups:
        lo, hi = span(r["age_group"])
        assert male[lo:hi].sum() == pytest.approx(float(r["male"]) / grand, abs=1e-12)
        assert female[lo:hi].sum() == pytest.approx(float(r["female"]) / grand, abs=1e-12)


def test_initial_shares_follow_national_single_years_within_groups() -> None:
    male, female = tables.initial_age_sex()
    china = {
        int(r["age"].rstrip("+")): r
        for r in read_csv("china_2010_census_population_by_age_sex.csv")
    }
    for sex, shares in (("male", male), ("female", female)):
        national = np.array([float(china[a][sex]) for a in range(101)])
        for lo, hi in ((1, 5), (20, 25), (60, 65)):
            ratio = shares[lo:hi] / national[lo:hi]
            assert ratio == pytest.approx(np.full(hi - lo, ratio[0]), rel=1e-12)


# --- first marriage --------------------------------------------------------------------


def census_single(sex: str) -> dict[int, float]:
    """Rural proportion never married by group start, 15-19 .. 60-64."""
    rows = [
        r
        for r in read_csv("china_2010_census_15plus_by_residence_sex_age_marital.csv")
        if r["residence"] == "rural" and r["sex"] == sex and "-" in r["age_group"]
    ]
    count = {(r["age_group"], r["marital_status"]): float(r["persons"]) for r in rows}
    starts = sorted({span(g)[0] for g, _ in count})
    assert starts == list(range(15, 65, 5))
    return {
        a: count[(f"{a}-{a + 4}", "Single (never married)")] / count[(f"{a}-{a + 4}", "Total")]
        for a in starts
    }


@pytest.mark.parametrize("sex", SEXES)
def test_marriage_schedule_fits_census_proportion_single(sex: str) -> None:
    """The fitted Coale-McNeil schedule's group means meet the census's 15-19 .. 45-49."""
    a0, k, c = tables.coale_mcneil_fit(sex)
    single = census_single(sex)
    within = np.linspace(0.0, 5.0, 51)
    misses = {}
    for a in range(15, 50, 5):
        model = 1.0 - tables.coale_mcneil_ever_married(a + within, a0, k, c).mean()
        misses[a] = model - single[a]
    shown = {a: round(m, 4) for a, m in misses.items()}
    print(f"{sex}: a0 {a0:.2f}, k {k:.3f}, c {c:.4f}; misses", shown)
    # Three parameters for seven groups: a schedule that ignored a group would miss it by
    # more than the cross-section's cohort noise (largest miss 0.011, men 45-49).
    assert max(abs(m) for m in misses.values()) < 0.015
    assert 0.9 < c <= 1.0 and 10 < a0 < 25 and 0.3 < k < 1.5


@pytest.mark.parametrize("sex", SEXES)
def test_marriage_schedule_is_the_same_on_every_cpu(sex: str, monkeypatch) -> None:
    """The fit is rounded clear of the digits the machine's BLAS kernels move.

    With Haswell's and SkylakeX's OpenBLAS kernels the solver's a0 differed by 2e-9 years, and
    so did the schedule and the scenario's hash. Rounded to ``FIT_DECIMALS``, each parameter
    must also sit clear of a rounding boundary by far more than that difference, or another
    CPU could round it the other way.
    """
    import scipy.optimize

    solve, found = scipy.optimize.least_squares, []

    def solve_and_keep(*args, **kwargs):
        fit = solve(*args, **kwargs)
        found.extend(fit.x)
        return fit

    monkeypatch.setattr(scipy.optimize, "least_squares", solve_and_keep)
    tables.coale_mcneil_fit.cache_clear()
    try:
        fitted = tables.coale_mcneil_fit(sex)
    finally:
        tables.coale_mcneil_fit.cache_clear()
    assert len(found) == 3
    scale = 10**tables.FIT_DECIMALS
    for value, raw in zip(fitted, found, strict=True):
        assert value == round(raw, tables.FIT_DECIMALS)
        boundary = abs((raw * scale) % 1 - 0.5) / scale  # to the nearest ...5e-7
        assert boundary > 1e-8, f"{raw} lies {boundary:.1e} from a rounding boundary"


@pytest.mark.parametrize("sex", SEXES)
def test_marriage_hazard_reproduces_its_schedule(sex: str) -> None:
    """Survival through the single-year hazards is the schedule's proportion single."""
    h = tables.first_marriage_hazard(sex)
    assert h.shape == (101,) and (h >= 0).all()
    assert (h[:12] == 0).all() and (h[65:] == 0).all()
    ages = np.arange(12, 66)
    surv = np.exp(-np.cumsum(h)[ages - 1])  # S at exact age x: hazards of ages 0..x-1
    expected = 1.0 - tables.coale_mcneil_ever_married(ages, *tables.coale_mcneil_fit(sex))
    np.testing.assert_allclose(surv, expected / expected[0], rtol=1e-9)


def test_coale_mcneil_mean_age_is_a0_plus_11_36_k() -> None:
    """The standard schedule's mean is 11.36 years after a0 (Coale and McNeil 1972)."""
    ages = np.linspace(0.0, 120.0, 240_001)
    ever = tables.coale_mcneil_ever_married(ages, 15.0, 1.0, 1.0)
    mean = float(np.sum(0.5 * (ages[1:] + ages[:-1]) * np.diff(ever)) / (ever[-1] - ever[0]))
    assert mean == pytest.approx(15.0 + 11.36, abs=0.02)


@pytest.mark.parametrize(("sex", "low", "high"), [("female", 20.0, 26.0), ("male", 22.0, 29.0)])
def test_mean_age_at_first_marriage(sex: str, low: float, high: float) -> None:
    mean = tables.mean_age_at_first_marriage(tables.first_marriage_hazard(sex))
    print(f"mean age at first marriage, {sex}: {mean:.2f}")
    assert math.isfinite(mean) and low < mean < high


def test_mean_age_of_mothers_counts_every_woman_of_the_census_table() -> None:
    """The single years carry the table's own totals, so no age is lost from the mean."""
    rows = read_csv("china_2010_census_women_giving_birth_by_residence_age_order_sex.csv")
    for residence in tables.RESIDENCES:
        mine = [r for r in rows if r["residence"] == residence]
        total = next(r for r in mine if r["mother_age"] == "total")
        for column in ("order1_total", "order2_total", "order3plus_total"):
            years = sum(float(r[column] or 0) for r in mine if r["mother_age"].isdigit())
            assert years == float(total[column]), (residence, column)
    means = {r: [tables.mean_age_of_mothers(r, o) for o in (1, 2, 3)] for r in tables.RESIDENCES}
    print({r: [round(m, 2) for m in ms] for r, ms in means.items()})
    for ms in means.values():
        assert ms[0] < ms[1] < ms[2], "later births come at older ages"
    assert means["rural"][0] < means["town"][0] < means["city"][0]


def test_first_birth_target_is_the_rural_census_mean() -> None:
    """The calibration's target for the mean age at first birth is centred on rural China."""
    targets = load_targets(PARAMS / "calibration" / "targets.yaml")
    target = next(t for t in targets if t.name == "mean_age_first_birth")
    assert target.centre == pytest.approx(tables.mean_age_of_mothers("rural", 1), abs=0.05)


def test_first_marriage_target_is_china_less_the_rural_gap() -> None:
    """The marriage target's centre is China's 23.9 less the rural gap in singulate means."""
    rural = tables.singulate_mean_age_at_marriage("rural")
    china = tables.singulate_mean_age_at_marriage("total")
    assert rural == pytest.approx(23.87, abs=0.01) and china == pytest.approx(24.67, abs=0.01)
    targets = {t.name: t for t in load_targets(PARAMS / "calibration" / "targets.yaml")}
    centre = targets["mean_age_first_marriage"].centre
    assert centre == pytest.approx(23.9 + rural - china, abs=0.05)


def test_single_women_targets_contain_the_rural_census_shares() -> None:
    """The never-married targets hold rural China's 2010 shares of women 20-24 .. 30-34."""
    targets = {t.name: t for t in load_targets(PARAMS / "calibration" / "targets.yaml")}
    single = census_single("female")
    for a in (20, 25, 30):
        target = targets[f"single_women_{a}_{a + 4}"]
        assert target.low < single[a] < target.high
        assert f"{100 * single[a]:.1f} %" in target.source


def test_mean_age_at_first_marriage_of_single_year() -> None:
    h = np.zeros(101)
    h[24] = 5.0  # everyone marries at 24, counted at 24.5
    assert tables.mean_age_at_first_marriage(h) == pytest.approx(24.5)


# --- fertility -------------------------------------------------------------------------


def test_asfr_sums_to_tfr_and_is_zero_outside_15_49() -> None:
    rates = tables.asfr(1.6)
    ages = np.arange(101)
    inside = (ages >= 15) & (ages <= 49)
    assert rates.sum() == pytest.approx(1.6, abs=1e-12)
    assert (rates[~inside] == 0).all() and (rates[inside] > 0).all()
    assert tables.asfr_shape().sum() == pytest.approx(1.0, abs=1e-12)


def test_asfr_shape_is_census_births_per_woman() -> None:
    rows = read_csv("china_2010_census_births_by_age_order.csv")
    rates = {int(r["age"]): float(r["births_total"]) / float(r["avg_women"]) for r in rows}
    # The census TFR (SOURCES.md: 1.188 from the rounded published rates) checks the columns.
    assert sum(rates.values()) == pytest.approx(1.188, abs=0.002)
    shape = tables.asfr_shape()
    for age in (15, 24, 49):
        assert shape[age] == pytest.approx(rates[age] / sum(rates.values()), rel=1e-12)


def test_asfr_rejects_bad_tfr() -> None:
    with pytest.raises(ValueError):
        tables.asfr(-1.0)


def test_registered_population_puts_back_the_migrants() -> None:
    resident = np.add(*tables.initial_age_sex())
    male, female = tables.registered_age_sex(0.15)
    registered = male + female
    assert registered.sum() == pytest.approx(1.0, abs=1e-12)
    added = registered - resident * 0.85  # resident share of the registered total is 85 %
    assert added.sum() == pytest.approx(0.15, abs=1e-12)
    assert np.allclose(added[:15], 0) and np.allclose(added[45:], 0), "only ages 15-44 change"
    assert (added[15:45] > 0).all()
    assert tables.registered_age_sex(0.0)[0] == pytest.approx(tables.initial_age_sex()[0])
