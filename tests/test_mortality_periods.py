"""Mortality by calendar period: dated life tables interpolated by year, read back by a run."""

from __future__ import annotations

import csv
import math
from importlib.resources import files

import numpy as np
import pytest

import popsim
from conftest import PARAMS
from popsim.scenario.mortality import WPP_PERIODS
from popsim.scenario.tables import mortality_mx
from popsim.state.world import monthly_probability


@pytest.fixture(scope="module")
def core():
    return popsim.load_scenario(PARAMS / "core.yaml")


def test_the_default_tables_are_wpps_periods_dated_at_their_middles(core):
    periods = core.demography.mortality.periods
    dated = {"2000-2005": 2003.0, "2005-2010": 2008.0, "2010-2015": 2013.0}
    dated |= {"2015-2020": 2018.0, "2020-2025": 2023.0}  # estimates, then medium variant
    assert dict(WPP_PERIODS) == dated
    assert [t.year for t in periods] == list(dated.values())
    for table, period in zip(periods, dated, strict=True):
        assert table.mx_female == tuple(mortality_mx("female", period))
        assert table.mx_male == tuple(mortality_mx("male", period))


def test_rates_are_interpolated_linearly_between_dates_and_held_outside(core):
    m = core.demography.mortality
    t03, t08, t13, t18, t23 = (np.array([t.mx_female, t.mx_male]) for t in m.periods)
    # calendar year y is dated at its middle, y + 0.5: 2005.5 is halfway from 2003 to 2008
    np.testing.assert_allclose(m.rates_in(2005), (t03 + t08) / 2, rtol=1e-12)
    np.testing.assert_allclose(m.rates_in(2012), t08 + 0.9 * (t13 - t08), rtol=1e-12)
    # after 2013 the rates move on towards 2015-2020 (2018.0) and 2020-2025 (2023.0)
    np.testing.assert_allclose(m.rates_in(2017), t13 + 0.9 * (t18 - t13), rtol=1e-12)
    np.testing.assert_allclose(m.rates_in(2018), t18 + 0.1 * (t23 - t18), rtol=1e-12)
    np.testing.assert_allclose(m.rates_in(2020), (t18 + t23) / 2, rtol=1e-12)
    np.testing.assert_allclose(m.rates_in(2022), t18 + 0.9 * (t23 - t18), rtol=1e-12)
    np.testing.assert_array_equal(m.rates_in(1990), t03)
    for year in (2023, 2028, 2040):
        np.testing.assert_array_equal(m.rates_in(year), t23)


def abridged_e0(sex: str, period: str) -> float:
    """e0 of a WPP2019 abridged table read from the packaged CSV, constant hazard per interval.

    Written apart from the model: the interval [x, x + n) with rate m lives l_x (1 - e^-nm) / m
    person-years and passes on l_x e^-nm; the open interval lives l / m.
    """
    with (files("popsim.scenario") / "data" / "china_wpp_abridged_mx.csv").open(
        encoding="utf-8", newline=""
    ) as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if (r["edition"], r["period"], r["sex"]) == ("WPP2019", period, sex)
        ]
    starts = [int(r["age_start"].rstrip("+")) for r in rows]
    lx, e0 = 1.0, 0.0
    for r, x, end in zip(rows, starts, [*starts[1:], None], strict=True):
        m = float(r["mx"])
        if end is None:
            return e0 + lx / m
        survive = math.exp(-(end - x) * m)
        e0 += lx * (1 - survive) / m
        lx *= survive
    raise AssertionError(f"no open age interval in {period} {sex}")


def single_year_e0(mx: np.ndarray) -> float:
    """e0 of single-year rates 0..100+ with a constant hazard within each year of age."""
    lx, e0 = 1.0, 0.0
    for m in mx[:-1]:
        e0 += lx * -math.expm1(-m) / m
        lx *= math.exp(-m)
    return e0 + lx / mx[-1]


def test_life_expectancy_applied_rises_after_2013_as_the_tables_say(core):
    """e0 of the rates a run applies, year by year, against e0 of WPP's own abridged tables.

    Every age's rate falls from each table to the next, so e0 rises every year from the
    2010-2015 table's date to the 2020-2025 table's, lies between the e0 of the two tables
    around the year's middle, and is the 2020-2025 table's own from 2023 on.
    """
    m = core.demography.mortality
    table = {p: {s: abridged_e0(s, p) for s in ("female", "male")} for p, _ in WPP_PERIODS}
    for i, sex in enumerate(("female", "male")):
        applied = {y: single_year_e0(m.rates_in(y)[i]) for y in range(2012, 2029)}
        rises = [applied[y + 1] - applied[y] for y in range(2012, 2023)]
        assert min(rises) > 0, f"{sex}: e0 should rise each year to 2023, got {rises}"
        for y in range(2013, 2023):
            lo, hi = ("2010-2015", "2015-2020") if y + 0.5 < 2018 else ("2015-2020", "2020-2025")
            assert table[lo][sex] < applied[y] < table[hi][sex], (y, sex, applied[y])
        for y in range(2023, 2029):
            assert applied[y] == pytest.approx(table["2020-2025"][sex], abs=1e-9), (
                f"{sex} {y}: the last table (2020-2025, dated 2023.0) holds after 2023"
            )


def test_one_table_for_the_whole_run_needs_periods_empty(tmp_path):
    mx = [0.01] * 101
    with pytest.raises(popsim.ScenarioError, match="add periods: \\[\\] to use it"):
        popsim.load_scenario(PARAMS / "core.yaml", {"demography.mortality.mx_male": mx})
    one = popsim.load_scenario(
        PARAMS / "core.yaml",
        {"demography.mortality.mx_male": mx, "demography.mortality.periods": []},
    )
    np.testing.assert_array_equal(one.demography.mortality.rates_in(2030)[1], mx)


def test_dates_must_increase(core):
    tables = [t.model_dump() for t in core.demography.mortality.periods]
    tables[1]["year"] = 2001.0
    with pytest.raises(popsim.ScenarioError, match="periods.*must increase"):
        popsim.load_scenario(PARAMS / "core.yaml", {"demography.mortality.periods": tables})


def test_simulated_deaths_follow_the_period_tables(core):
    """Deaths by year read back each year's own table, and not one table held constant.

    Expected deaths are 12 q(year, sex, age) x person-years; the 2005-2010 table held for
    the whole run would expect many standard errors more deaths as mortality falls, and so
    would the 2010-2015 table held from 2013 on (no improvement after 2013), in 2013-2024.
    """
    scenario = popsim.load_scenario(PARAMS / "core.yaml", {"demography.migration.enabled": False})
    result = popsim.simulate(scenario, seed=7, n_agents=60_000, years=16)
    m = scenario.demography.mortality
    exposure = result.exposure
    assert exposure["year"].max() >= 2024, "test set-up: the run reaches the 2020-2025 table"
    deaths = result.events[result.events["event"] == "death"]
    constant = monthly_probability(np.array([mortality_mx("female"), mortality_mx("male")]))
    t13 = monthly_probability(
        np.array([mortality_mx("female", "2010-2015"), mortality_mx("male", "2010-2015")])
    )
    expected = held = late = late_held = 0.0
    for (year, sex), py in exposure.groupby(["year", "sex"]):
        by_age = py.set_index("age")["person_years"].reindex(range(101), fill_value=0)
        q = monthly_probability(m.rates_in(int(year)))[sex]
        expected += float((12 * q * by_age.to_numpy()).sum())
        held += float((12 * constant[sex] * by_age.to_numpy()).sum())
        if year >= 2013:
            late += float((12 * q * by_age.to_numpy()).sum())
            late_held += float((12 * t13[sex] * by_age.to_numpy()).sum())
    for what, observed, want, other in (
        ("all years", len(deaths), expected, held),
        ("2013 on", int((deaths["year"] >= 2013).sum()), late, late_held),
    ):
        se = np.sqrt(want)
        assert abs(observed - want) < 3 * se, (
            f"{what}: {observed} deaths vs {want:.0f} expected from the period tables "
            f"(s.e. {se:.0f})"
        )
        assert other - want > 6 * se, f"test set-up, {what}: the tables differ enough to tell"
