"""Mortality by calendar period: dated life tables interpolated by year, read back by a run."""

from __future__ import annotations

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
    assert [t.year for t in periods] == [year for _, year in WPP_PERIODS]
    for table, (period, _) in zip(periods, WPP_PERIODS, strict=True):
        assert table.mx_female == tuple(mortality_mx("female", period))


def test_rates_are_interpolated_linearly_between_dates_and_held_outside(core):
    m = core.demography.mortality
    first, second, last = (np.array([t.mx_female, t.mx_male]) for t in m.periods)
    # calendar year y is dated at its middle, y + 0.5: 2005.5 is halfway from 2003 to 2008
    np.testing.assert_allclose(m.rates_in(2005), (first + second) / 2, rtol=1e-12)
    np.testing.assert_allclose(m.rates_in(2012), second + 0.9 * (last - second), rtol=1e-12)
    np.testing.assert_array_equal(m.rates_in(1990), first)
    np.testing.assert_array_equal(m.rates_in(2030), last)


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
    the whole run would expect many standard errors more deaths as mortality falls.
    """
    scenario = popsim.load_scenario(PARAMS / "core.yaml", {"demography.migration.enabled": False})
    result = popsim.simulate(scenario, seed=7, n_agents=60_000, years=16)
    m = scenario.demography.mortality
    exposure = result.exposure
    deaths = result.events[result.events["event"] == "death"]
    observed = len(deaths)
    constant = monthly_probability(np.array([mortality_mx("female"), mortality_mx("male")]))
    expected = held = 0.0
    for (year, sex), py in exposure.groupby(["year", "sex"]):
        by_age = py.set_index("age")["person_years"].reindex(range(101), fill_value=0)
        q = monthly_probability(m.rates_in(int(year)))[sex]
        expected += float((12 * q * by_age.to_numpy()).sum())
        held += float((12 * constant[sex] * by_age.to_numpy()).sum())
    se = np.sqrt(expected)
    assert abs(observed - expected) < 3 * se, (
        f"{observed} deaths vs {expected:.0f} expected from the period tables (s.e. {se:.0f})"
    )
    assert held - expected > 6 * se, "test set-up: the tables differ enough to tell apart"
