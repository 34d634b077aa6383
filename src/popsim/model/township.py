"""PopsimModel: the Mesa model that wires the monthly processes in a fixed order.

Persons are rows of the :class:`~popsim.state.population.Persons` table; villages,
which have identity (and, with the policy mechanisms, cadres and service rooms),
are Mesa agents. Each month: mortality, migration, marriage, fertility. Mesa's
DataCollector records the monthly stocks and flows from arrays; exposures and
year-end snapshots feed the annual indicators.
"""

from __future__ import annotations

import mesa
import numpy as np

from popsim.mechanisms.fertility import step_fertility, step_mortality
from popsim.mechanisms.marriage import step_marriage
from popsim.mechanisms.migration import step_migration
from popsim.model.initial import populate
from popsim.scenario.demography import N_AGES, Scenario
from popsim.state.events import EventLog
from popsim.state.population import FEMALE
from popsim.state.world import World

FLOWS = {
    "births": "birth",
    "deaths": "death",
    "in_migrants": "in_migration",
    "out_migrants": "out_migration",
    "marriages": "marriage",
}
PARITY_AGES = (45, 50)
MAX_PARITY = 10  #: parities above are counted in the last class


class Village(mesa.Agent):
    """An administrative village: its population is read from the person table."""

    def __init__(self, model: PopsimModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def population(self) -> int:
        """Registered persons living in this village now."""
        return int(self.model.village_population[self.index])


class PopsimModel(mesa.Model):
    """One township run: ``PopsimModel(scenario, seed).run()``.

    Args:
        scenario: a validated scenario.
        seed: the run's seed; every random process draws from its own stream of it.
    """

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        super().__init__(rng=seed)
        self.params = scenario
        self.world = World(scenario, seed)
        self.months = 12 * scenario.township.years
        self.world.t = -12 * scenario.township.burn_in_years
        populate(self.world)
        if scenario.policy.enabled:
            from popsim.model.regime import PolicyState

            self.world.policy = PolicyState(self)
        self.villages = [Village(self, i) for i in range(scenario.township.n_villages)]
        self.flows = dict.fromkeys(FLOWS, 0)
        self.exposure = np.zeros((scenario.township.years, 2, N_AGES))  # person-years
        self.snapshots: dict[str, list[np.ndarray]] = {"pyramid": [], "parity": []}
        self._count_villages()
        agent_reporters = {Village: {"population": "population"}}
        if self.world.policy is not None:
            from popsim.mechanisms.checkups import Cadre

            agent_reporters[Cadre] = {"village": "village", "effectiveness": "effectiveness"}
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "month": lambda m: m.world.t,
                "population_start": lambda m: m.population_start,
                "population": lambda m: m.population,
                "away": lambda m: int(
                    np.count_nonzero(m.world.persons.alive & m.world.persons.away)
                ),
                **{name: (lambda m, k=name: m.flows[k]) for name in FLOWS},
            },
            agenttype_reporters=agent_reporters,
        )
        self._burn_in()

    @property
    def population(self) -> int:
        """Registered population now (residents and labour migrants away)."""
        return int(self.village_population.sum())

    def _count_villages(self) -> None:
        p = self.world.persons
        self.village_population = np.bincount(
            p.village[p.alive], minlength=self.params.township.n_villages
        )

    def step(self) -> None:
        """One recorded month."""
        self._advance(record=True)
        if self.world.t >= self.months:
            self.running = False

    def _advance(self, *, record: bool) -> None:
        """One month of every process; ``record`` false during the burn-in."""
        w, s = self.world, self.params.demography
        year, month = divmod(w.t, 12)
        totals = dict(w.log.totals)
        self.population_start = self.population
        timed = w.timings
        if record:
            with timed("indicators"):
                self._add_exposure(year)
        with timed("mortality"):
            step_mortality(w)
        if s.migration.enabled:
            with timed("migration"):
                step_migration(w)
        if s.marriage.enabled:
            with timed("marriage"):
                step_marriage(w)
        if w.policy is not None:
            w.policy.before_fertility()
        with timed("fertility"):
            step_fertility(w)
        with timed("indicators"):
            if w.policy is not None:
                w.policy.end_of_month()
            self.flows = {name: w.log.totals[kind] - totals[kind] for name, kind in FLOWS.items()}
            self._count_villages()
            if record:
                self.datacollector.collect(self)
        if month == 11:
            if record:
                self._snapshot()
            if w.policy is not None:
                w.policy.end_of_year()
            w.persons.compact()
        w.t += 1

    def _burn_in(self) -> None:
        """Run the months before start_year, then forget what they logged."""
        while self.world.t < 0:
            self._advance(record=False)
        self.world.log = EventLog()
        if self.world.policy is not None:
            self.world.policy.records.clear()

    def run(self) -> PopsimModel:
        """Run all the scenario's months."""
        while self.running:
            self.step()
        return self

    def _add_exposure(self, year: int) -> None:
        p = self.world.persons
        alive = p.alive
        cell = p.sex[alive].astype(np.int64) * N_AGES + self.world.age_years[alive]
        self.exposure[year] += np.bincount(cell, minlength=2 * N_AGES).reshape(2, N_AGES) / 12.0

    def _snapshot(self) -> None:
        """Year-end age pyramid by sex and parity distribution of women 45-49."""
        p, age = self.world.persons, self.world.age_years
        alive = p.alive
        cell = p.sex[alive].astype(np.int64) * N_AGES + age[alive]
        self.snapshots["pyramid"].append(np.bincount(cell, minlength=2 * N_AGES).reshape(2, N_AGES))
        women = alive & (p.sex == FEMALE) & (age >= PARITY_AGES[0]) & (age < PARITY_AGES[1])
        self.snapshots["parity"].append(
            np.bincount(np.minimum(p.parity[women], MAX_PARITY), minlength=MAX_PARITY + 1)
        )
