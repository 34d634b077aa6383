"""The state a monthly step works on: tables, clock, random streams, rates, event log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from popsim.scenario.demography import N_AGES, REPRO_AGES, Scenario
from popsim.scenario.regime import BirthRules
from popsim.state.events import EventLog
from popsim.state.ledger import Ledger
from popsim.state.population import Households, Persons
from popsim.state.rng import Streams

MAX_AGE = N_AGES - 1


def _by_age(repro_values: tuple[float, ...]) -> np.ndarray:
    """A 15..49 table spread over ages 0..100 (zero outside)."""
    out = np.zeros(N_AGES)
    out[REPRO_AGES.start : REPRO_AGES.stop] = repro_values
    return out


def monthly_probability(annual_rate: np.ndarray | float) -> np.ndarray:
    """Probability of an event within a month under a constant annual hazard."""
    return -np.expm1(-np.asarray(annual_rate, dtype=float) / 12.0)


def shifted_hazard(hazard, years: float) -> np.ndarray:
    """A single-year hazard moved ``years`` later (earlier if negative).

    The cumulative hazard at whole ages is read ``years`` back, linearly between whole
    ages, so survival to age x + years under the result is survival to x under ``hazard``.
    """
    h = np.asarray(hazard, dtype=float)
    if years == 0:
        return h.copy()
    ages = np.arange(h.size + 1, dtype=float)
    cumulative = np.concatenate(([0.0], np.cumsum(h)))
    return np.diff(np.interp(ages - years, ages, cumulative))


def first_marriage_age_cdf(hazard, min_age: int) -> np.ndarray:
    """Cumulative distribution of women's ages at first marriage, at whole ages 0..N_AGES.

    The marriages of a cohort that follows ``hazard`` (annual, by single year) from the
    legal minimum age ``min_age`` on; entry x is the share married before exact age x.
    A hazard of zero at every age puts them all in the year of ``min_age``.
    """
    h = np.asarray(hazard, dtype=float).copy()
    h[:min_age] = 0.0
    ever = -np.expm1(-np.concatenate(([0.0], np.cumsum(h))))
    if ever[-1] > 0:
        return ever / ever[-1]
    return (np.arange(ever.size) > min_age).astype(float)


@dataclass(frozen=True)
class Rates:
    """Scenario values converted once into the monthly, age-indexed arrays kernels use."""

    q_month: np.ndarray  #: [sex, age] monthly death probability in the start year
    asfr_month: np.ndarray  #: [age] monthly birth probability (asfr mode)
    fecundability: np.ndarray  #: [age] monthly conception probability
    progression: np.ndarray  #: parity progression ratios
    loss_month: float  #: monthly spontaneous-loss hazard, first trimester
    p_male: float  #: probability that a conception is male
    marriage_female: np.ndarray  #: [age] monthly first-marriage probability of women
    groom_weight: np.ndarray  #: [age] relative chance a single man is chosen as a groom
    external_bride: float  #: monthly probability of marrying a bride from outside
    bride_age_cdf: np.ndarray  #: [age] women's first marriages before each age
    labour_out: float
    labour_return: float
    separated_contact: float  #: relative conception rate of couples living apart
    emigration: float  #: monthly probability a household leaves
    immigration: float  #: monthly in-migrants per resident

    @classmethod
    def of(cls, s: Scenario) -> Rates:
        """Monthly rates of a scenario."""
        d = s.demography
        mar, mig, fert = d.marriage, d.migration, d.fertility
        ages = np.arange(N_AGES)
        hazard_female = shifted_hazard(mar.hazard_female, mar.schedule_shift)
        marriage_female = monthly_probability(hazard_female)
        marriage_female[ages < mar.min_age_female] *= mar.underage_factor
        groom_weight = shifted_hazard(mar.hazard_male, mar.schedule_shift)
        groom_weight[ages < mar.min_age_male] *= mar.underage_factor
        return cls(
            q_month=monthly_probability(d.mortality.rates_in(s.township.start_year)),
            asfr_month=_by_age(fert.asfr) / 12.0,
            fecundability=_by_age(fert.fecundability),
            progression=np.asarray(fert.parity_progression, dtype=float),
            loss_month=1.0 - (1.0 - fert.miscarriage_prob) ** (1.0 / 3.0),
            p_male=d.srb / (1.0 + d.srb),
            marriage_female=marriage_female,
            groom_weight=groom_weight,
            external_bride=float(monthly_probability(mar.external_bride_rate)),
            bride_age_cdf=first_marriage_age_cdf(hazard_female, mar.min_age_female),
            labour_out=float(monthly_probability(mig.labour_out_rate)),
            labour_return=float(monthly_probability(mig.labour_return_rate)),
            separated_contact=mig.separated_contact if mig.enabled else 1.0,
            emigration=float(monthly_probability(mig.emigration_rate)),
            immigration=mig.immigration_rate / 12.0,
        )


class Timings:
    """Seconds spent in each named process of a run (for profiles and benchmarks).

    Wall time (``time.perf_counter``): the CPU clock is a system call of about 0.6 us here,
    which at 10,000 persons made two per step a few percent of the month. On an otherwise
    idle core a run's wall time is its CPU time.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)  #: by step bucket, summed


_NO_ROWS = np.zeros(0, dtype=np.int64)


class MonthRows:
    """A value of every person row for the current month, computed once per row.

    Within a month rows are only appended (births, immigrants, brides), and what this
    holds (ages) cannot change for a row, so an append computes the new rows only. A new
    month or a compaction (rows renumbered) computes every row again into a new array:
    arrays handed out earlier never change.
    """

    def __init__(self, dtype: type, compute: Callable[[World, int, int, np.ndarray], None]):
        self._dtype = dtype
        self._compute = compute  #: writes the values of rows ``start:stop`` into ``out``
        self._stamp: tuple[int, int] | None = None  #: (month, renumbering) of the values
        self._rows = 0
        self._buffer = self._values = np.zeros(0, dtype=dtype)

    def of(self, world: World) -> np.ndarray:
        """The values of every row now."""
        persons = world.persons
        n, stamp = persons.n, (world.t, persons.renumbered)
        if stamp != self._stamp or n < self._rows:
            start, self._stamp = 0, stamp
        elif n == self._rows:
            return self._values
        else:
            start = self._rows
        if start == 0 or n > self._buffer.size:
            # room for a month's appends, a few per mille of the rows (more: grown again)
            grown = np.empty(n + n // 64 + 64, dtype=self._dtype)
            grown[:start] = self._buffer[:start]
            self._buffer = grown
        self._compute(world, start, n, self._buffer[start:n])
        self._rows, self._values = n, self._buffer[:n]
        return self._values


def _age_months(world: World, start: int, stop: int, out: np.ndarray) -> None:
    np.subtract(world.t, world.persons.birth_month[start:stop], out=out)


def _age_years(world: World, start: int, stop: int, out: np.ndarray) -> None:
    np.floor_divide(world.age_months[start:stop], 12, out=out)
    np.minimum(out, MAX_AGE, out=out)


def _age_cell(world: World, start: int, stop: int, out: np.ndarray) -> None:
    np.multiply(world.persons.sex[start:stop], N_AGES, out=out, dtype=np.intp)
    np.add(out, world.age_years[start:stop], out=out)


@dataclass
class Month:
    """What one step of the month hands to later steps of the same month; new each month."""

    wives: np.ndarray | None = None  #: mask of married women 15-49, the regime's targets
    conceived: np.ndarray = field(default_factory=lambda: _NO_ROWS)  #: rows that conceived
    mothers: np.ndarray = field(default_factory=lambda: _NO_ROWS)  #: rows giving birth
    male: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  #: their babies
    newborns: np.ndarray = field(default_factory=lambda: _NO_ROWS)  #: rows of the babies
    births_out_of_plan: np.ndarray | int = -1  #: per mother, 1 out of plan (-1: no regime)
    births_reported: np.ndarray | int = -1  #: per mother, 1 registered (-1: no regime)


class World:
    """Everything one run's monthly steps read and write."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.rates = Rates.of(scenario)
        self.streams = Streams(seed)
        self.persons = Persons(capacity=max(1024, int(1.5 * scenario.township.n_persons)))
        self.households = Households(capacity=max(1024, scenario.township.n_persons // 2))
        self.log = EventLog()
        self.t = 0
        self.month = Month()
        self.ledger = Ledger()  #: the regime's money and counts (empty without it)
        #: each village's cadre effort (mean effectiveness x coverage); 1 without cadres
        self.effort = np.ones(scenario.township.n_villages)
        #: a non-trying couple's conception rate by method relative to its fecundability;
        #: None: couples not trying use perfect contraception (no contraception mechanism)
        self.method_failure: np.ndarray | None = None
        #: (month in force, birth rules) of a rule announced and not yet in force, or None
        self.expected_rules: tuple[int, BirthRules] | None = None
        self.timings = Timings()
        self._ages = {
            f: MonthRows(dtype, f)
            for f, dtype in ((_age_months, np.int32), (_age_years, np.int32), (_age_cell, np.intp))
        }
        self._q_year: int | None = None

    def forget_death_rates(self) -> None:
        """Drop the cached death probabilities (the scenario's mortality changed)."""
        self._q_year = None

    def death_probability(self) -> np.ndarray:
        """[sex, age] monthly death probability in this month's calendar year."""
        year = self.scenario.township.start_year + self.t // 12
        if year != self._q_year:
            mortality = self.scenario.demography.mortality
            self._q_month = monthly_probability(mortality.rates_in(year))
            self._q_year = year
        return self._q_month

    def uniform(self, stream: str, rows: np.ndarray | None = None) -> np.ndarray:
        """This month's uniforms of ``stream`` for ``rows`` (default: all), keyed by person."""
        keys = self.persons.key if rows is None else self.persons.key[rows]
        return self.streams.keyed(stream, keys, self.t)

    def uniform_below(
        self, stream: str, p: np.ndarray, *, cell: np.ndarray, where: np.ndarray
    ) -> np.ndarray:
        """Every row's ``where & (uniform(stream) < p[cell])``, without the uniforms.

        ``p``: a probability table (flattened); ``cell``: every row's index into it.
        """
        return self.streams.keyed_below(
            stream, self.persons.key, self.t, p=p, cell=cell, where=where
        )

    def uniforms(self, streams: tuple[str, ...], rows: np.ndarray) -> np.ndarray:
        """:meth:`uniform` of several streams in one pass, one row each.

        ``rows``: the rows every stream draws for, or one array of rows per stream (all of
        the same length).
        """
        return self.streams.keyed_many(tuple((s, self.t) for s in streams), self.persons.key[rows])

    @property
    def age_months(self) -> np.ndarray:
        """Completed months of age of every row, now."""
        return self._ages[_age_months].of(self)

    @property
    def age_years(self) -> np.ndarray:
        """Completed years of age of every row, capped at 100 (the open interval)."""
        return self._ages[_age_years].of(self)

    @property
    def age_cell(self) -> np.ndarray:
        """Every row's cell of the [sex, age in years] tables: ``sex * N_AGES + age_years``."""
        return self._ages[_age_cell].of(self)
