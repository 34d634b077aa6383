"""Marriage timing: outside brides' ages, in-migrants' ages and the schedule's shift."""

from __future__ import annotations

import math

import numpy as np
import pytest

import popsim
from popsim.mechanisms.marriage import external_bride_months
from popsim.scenario import tables
from popsim.state.world import first_marriage_age_cdf, shifted_hazard

MIN_AGE = 20
CDF = first_marriage_age_cdf(tables.first_marriage_hazard("female"), MIN_AGE)


def test_cdf_starts_at_the_legal_age_and_ends_at_one() -> None:
    assert (CDF[: MIN_AGE + 1] == 0).all() and CDF[-1] == pytest.approx(1.0)
    assert (np.diff(CDF) >= 0).all() and (np.diff(CDF[MIN_AGE:66]) > 0).all()


@pytest.mark.parametrize("groom_months", [45 * 12, 26 * 12 + 6, 33 * 12 + 11])
def test_bride_ages_invert_the_schedule_cut_at_the_groom(groom_months: int) -> None:
    """Evenly spaced uniforms give the schedule's shares below each age, within 1/n."""
    n = 20_000
    u = (np.arange(n) + 0.5) / n
    grooms = np.full(n, groom_months)
    brides = external_bride_months(u, grooms, CDF, MIN_AGE)
    assert (brides <= grooms).all() and (brides >= MIN_AGE * 12).all()
    year, month = divmod(groom_months, 12)
    cap = CDF[year] + (CDF[year + 1] - CDF[year]) * month / 12
    for age in range(MIN_AGE + 1, year + 1):
        expected = CDF[age] / cap  # share of the cut schedule married before exact age
        assert (brides < age * 12).mean() == pytest.approx(expected, abs=2 / n), age


def test_without_marriages_in_the_schedule_brides_are_at_the_legal_age() -> None:
    cdf = first_marriage_age_cdf(np.zeros(101), MIN_AGE)
    brides = external_bride_months(np.array([0.01, 0.99]), np.array([30 * 12, 40 * 12]), cdf, 20)
    assert (brides // 12 == MIN_AGE).all()


def test_bride_of_a_groom_under_the_legal_age_is_at_it() -> None:
    brides = external_bride_months(np.array([0.3, 0.9]), np.array([18 * 12, 19 * 12]), CDF, 20)
    assert (brides == 20 * 12).all()


def test_in_migrants_arrive_at_the_ages_the_levers_give() -> None:
    """Never-married in-migrants come at ages spread evenly over immigrant_age_min..max."""
    scenario = popsim.load_scenario(
        None,
        {
            "demography.migration.immigration_rate": 0.05,
            "demography.migration.immigrant_age_min": 30,
            "demography.migration.immigrant_age_max": 31,
        },
    )
    events = popsim.simulate(scenario, seed=3, n_agents=3_000, years=2).events
    arrivals = events[(events["event"] == "in_migration") & (events["reason"] == "immigration")]
    years = arrivals["age_months"] // 12
    assert len(arrivals) > 200 and years.between(30, 31).all()
    # two years of age, evenly: each holds half of them, within 4 binomial sd
    half = len(arrivals) / 2
    assert abs((years == 30).sum() - half) < 4 * math.sqrt(half / 2)


def test_shifted_hazard_moves_survival_by_the_shift() -> None:
    """Survival to x + s under the shifted hazard is survival to x under the original."""
    h = tables.first_marriage_hazard("female")
    assert np.allclose(shifted_hazard(h, 0.0), h)
    assert np.allclose(shifted_hazard(h, 3)[3:], h[:-3])  # whole years: a plain move
    earlier = shifted_hazard(h, -0.5)
    cum, cum_earlier = np.cumsum(h), np.cumsum(earlier)
    # the cumulative hazard to age 25 under the earlier schedule is the original's to 25.5
    assert cum_earlier[24] == pytest.approx((cum[24] + cum[25]) / 2)
    mean = tables.mean_age_at_first_marriage
    assert mean(earlier) == pytest.approx(mean(h) - 0.5, abs=0.05)
