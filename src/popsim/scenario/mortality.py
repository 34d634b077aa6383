"""The mortality section of the schema: one life table, or dated tables by calendar year."""

from __future__ import annotations

import bisect

import numpy as np
from pydantic import model_validator

from popsim.scenario import tables
from popsim.scenario.schema import DeathRates, Section, cross_field, lever, survivable_age0

#: the default dated life tables: WPP 2019 periods (July to June) dated at their middles;
#: 2015-2020 is an estimate, 2020-2025 the medium-variant projection of the same edition
WPP_PERIODS = (
    ("2000-2005", 2003.0),
    ("2005-2010", 2008.0),
    ("2010-2015", 2013.0),
    ("2015-2020", 2018.0),
    ("2020-2025", 2023.0),
)


class LifeTable(Section):
    """Death rates in force at one date; a run interpolates between dated tables."""

    year: float = lever(
        unit="calendar year",
        ge=1800,
        le=2200,
        meaning="the date the table describes (a period table: its middle, e.g. 2003.0 for "
        "July 2000 to June 2005)",
    )
    mx_male: DeathRates = lever(
        unit="deaths per person-year",
        meaning="central death rate of men by single year of age 0..100+ (the last may be .inf)",
    )
    mx_female: DeathRates = lever(
        unit="deaths per person-year",
        meaning="central death rate of women by single year of age 0..100+ (the last may be .inf)",
    )

    @model_validator(mode="after")
    def _newborns_can_live(self) -> LifeTable:
        survivable_age0(self.mx_male, "mx_male")
        survivable_age0(self.mx_female, "mx_female")
        return self


def _wpp_periods() -> tuple[LifeTable, ...]:
    return tuple(
        LifeTable(
            year=year,
            mx_male=tuple(tables.mortality_mx("male", period)),
            mx_female=tuple(tables.mortality_mx("female", period)),
        )
        for period, year in WPP_PERIODS
    )


class Mortality(Section):
    """Death rates by sex and single year of age: dated tables by calendar year, or one table.

    With ``periods``, the rates of calendar year y are interpolated linearly between the two
    tables dated around y + 0.5 (its middle), and held at the first or last table outside
    them. With ``periods: []``, ``mx_male`` and ``mx_female`` hold for the whole run.
    """

    periods: tuple[LifeTable, ...] = lever(
        _wpp_periods,
        unit="dated life tables",
        meaning="life tables by date, in increasing order; [] for one table for the whole run "
        "(mx_male, mx_female)",
        source="[S] UN WPP2019 China 2000-2005, 2005-2010, 2010-2015, 2015-2020 (estimates) and "
        "2020-2025 (medium-variant projection), abridged, constant within each age interval, "
        "dated at each period's middle (2003.0 ... 2023.0); the last holds from 2023 on",
    )
    mx_male: DeathRates = lever(
        lambda: tuple(tables.mortality_mx("male")),
        unit="deaths per person-year",
        meaning="with periods: [], the central death rate of men by single year of age 0..100+ "
        "(the last may be infinite, .inf: nobody survives past 100)",
        source="[S] UN WPP2019 China 2005-2010, abridged, constant within each age interval",
    )
    mx_female: DeathRates = lever(
        lambda: tuple(tables.mortality_mx("female")),
        unit="deaths per person-year",
        meaning="with periods: [], the central death rate of women by single year of age "
        "0..100+ (the last may be infinite, .inf: nobody survives past 100)",
        source="[S] UN WPP2019 China 2005-2010, abridged, constant within each age interval",
    )

    @model_validator(mode="after")
    def _one_source_of_rates(self) -> Mortality:
        survivable_age0(self.mx_male, "mx_male")
        survivable_age0(self.mx_female, "mx_female")
        years = [t.year for t in self.periods]
        if any(b <= a for a, b in zip(years, years[1:], strict=False)):
            raise cross_field("periods", tuple(years), "the tables' years must increase")
        given = {"mx_male", "mx_female"} & self.model_fields_set
        if given and self.periods and "periods" not in self.model_fields_set:
            raise cross_field(
                sorted(given)[0],
                "a table",
                "the dated tables of 'periods' (by default WPP's) are in force, so this table "
                "would be ignored; add periods: [] to use it for the whole run, or give dated "
                "tables in 'periods'",
            )
        return self

    def tables(self) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
        """Every (female, male) table of death rates the scenario can use."""
        if not self.periods:
            return [(self.mx_female, self.mx_male)]
        return [(t.mx_female, t.mx_male) for t in self.periods]

    def rates_in(self, year: int) -> np.ndarray:
        """[sex (female, male), age] death rates in force in calendar ``year``."""
        if not self.periods:
            return np.array([self.mx_female, self.mx_male], dtype=float)
        mid = year + 0.5
        dates = [t.year for t in self.periods]
        after = bisect.bisect_right(dates, mid)
        if after == 0 or after == len(dates):
            t = self.periods[0 if after == 0 else -1]
            return np.array([t.mx_female, t.mx_male], dtype=float)
        lo, hi = self.periods[after - 1], self.periods[after]
        w = (mid - lo.year) / (hi.year - lo.year)
        a = np.array([lo.mx_female, lo.mx_male], dtype=float)
        b = np.array([hi.mx_female, hi.mx_male], dtype=float)
        with np.errstate(invalid="ignore"):  # inf - inf at a closed open age
            out = a + w * (b - a)
        return np.where(np.isinf(a) | np.isinf(b), np.inf, out)
