"""PopsimModel: the Mesa model that runs the month's step table.

Persons are rows of the :class:`~popsim.state.population.Persons` table; villages and,
with the regime, cadres have identity and are Mesa agents. Each month runs the steps of
:mod:`popsim.model.steps` in order. Mesa's DataCollector records the monthly stocks and
flows from arrays; exposures and year-end snapshots feed the annual indicators.
"""

from __future__ import annotations

import copy
import pickle
import time

import mesa
import numpy as np

from popsim.mechanisms.rules import reclassify_pregnancies
from popsim.model.initial import populate
from popsim.model.records import FLOWS
from popsim.model.regime import Regime
from popsim.model.start import Start, key
from popsim.model.step import EVERY_MONTH, Step
from popsim.model.steps import STEPS
from popsim.scenario.demography import N_AGES, Scenario
from popsim.scenario.regime import BirthRules
from popsim.scenario.timeline import announcements, schedule
from popsim.state.events import EventLog
from popsim.state.population import count_by
from popsim.state.world import Month, Rates, Timings, World


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

    ``params`` (and ``world.scenario``) is the scenario in force this month: the burn-in's
    (:func:`popsim.scenario.timeline.schedule`), then the scenario's own from month 0, then
    each dated change of its timeline from the start of its month. ``given`` is the
    scenario as given.

    Args:
        scenario: a validated scenario.
        seed: the run's seed; every random process draws from its own stream of it.
        start: the state at month 0 of a run with the same burn-in (:meth:`start_state`,
            :func:`popsim.model.start.key`): the run starts from a copy of it instead of
            computing its own initial population and burn-in, with the same results.
    """

    def __init__(self, scenario: Scenario, seed: int = 0, start: Start | None = None) -> None:
        super().__init__(rng=seed)
        self.given = scenario
        (first, in_force), *later = schedule(scenario)
        #: the scenarios still to come, by the month from which each is in force
        self.changes: dict[int, Scenario] = dict(later)
        #: the birth rules announced before they hold: {month announced: (in force, rules)}
        self.announcements = announcements(scenario)
        self.params = in_force
        self.months = 12 * scenario.township.years
        saved = None if start is None else self._restore(start, seed)
        if saved is None:
            self.world = World(in_force, seed)
            self.world.t = first
            populate(self.world)
        #: the family-planning regime, or None when ``policy.enabled`` is off
        self.regime: Regime | None = None
        if scenario.policy.enabled:
            self.regime = Regime(self, None if saved is None else saved["cadres"])
        #: the steps of the month in force, in the table's order
        self.month_steps: tuple[Step, ...] = ()
        self._calls: list = []
        self.recording = False
        self.villages = [Village(self, i) for i in range(scenario.township.n_villages)]
        self.flows = dict.fromkeys(FLOWS, 0)
        #: the agents' values in each recorded month (records.record_agents)
        self.agent_rows: dict[str, list] = {"step": [], "villages": [], "cadres": []}
        self.mothers_of_two = (0, 0)  # (two daughters, two sons): records.mothers_of_two
        self.population_start = 0
        self.month_start_totals: dict[str, int] = {}
        self.exposure = np.zeros((scenario.township.years, 2, N_AGES))  # person-years
        self.snapshots: dict[str, list[np.ndarray]] = {"pyramid": [], "parity": []}
        if saved is None:
            self.count_villages()
        else:
            self.village_population = saved["village_population"]
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "month": lambda m: m.world.t,
                "population_start": lambda m: m.population_start,
                "population": lambda m: m.population,
                "away": lambda m: int(
                    np.count_nonzero(m.world.persons.alive & m.world.persons.away)
                ),
                **{name: (lambda m, k=name: m.flows[k]) for name in FLOWS},
                "mothers_two_daughters": lambda m: m.mothers_of_two[0],
                "mothers_two_sons": lambda m: m.mothers_of_two[1],
            },
        )
        self._bind_steps()
        if saved is None:
            self._burn_in()

    def _restore(self, start: Start, seed: int) -> dict:
        """Take the world from ``start`` (a copy); the rest of what it saved is returned.

        ``start`` holds this run's state at month 0 exactly when its key is this run's. The
        burn-in draws nothing from Mesa's own generators, and the cadres are made again in
        the order they were hired (before the villages), so their agent ids are the same.
        """
        if start.key != key(self.given, seed):
            raise ValueError("the start state is for another burn-in (its key differs)")
        saved = pickle.loads(start.payload)
        self.world = saved.pop("world")
        self.world.scenario, self.world.rates = self.params, Rates.of(self.params)
        return saved

    def start_state(self) -> Start:
        """The state at month 0, from which runs with the same burn-in can start.

        Only before the first recorded month. The world is saved without what derives from
        the scenario (each run sets its own) and with fresh timings (a run started from the
        state times its own months).
        """
        if self.world.t != 0 or self.steps:
            raise RuntimeError("the state at month 0 is only there before the first month")
        world = copy.copy(self.world)
        world.scenario = world.rates = None
        world.timings = Timings()
        cadres = None
        if self.regime is not None:
            cadres = [(c.village, c.effectiveness) for c in self.regime.cadres]
        saved = {"world": world, "cadres": cadres, "village_population": self.village_population}
        payload = pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL)
        return Start(key(self.given, self.world.streams.seed), payload)

    def _bind_steps(self) -> None:
        """The steps the scenario in force has, bound to this run."""
        self.month_steps = tuple(s for s in STEPS if s.present.test(self.params))
        #: (due rule or None for every month, CPU-time bucket, bound call) of each step
        self._calls = [
            (None if s.when is EVERY_MONTH else s.when.due, s.bucket, s.bind(self))
            for s in self.month_steps
        ]

    def enter(self, scenario: Scenario) -> None:
        """Put ``scenario`` in force from this month on, and redo what derives from it.

        What derives from the scenario: the world's monthly rates and its death-rate cache
        (demography), the regime's policy and the contraceptive failure it sets, the
        steps present and their bindings; when the birth rule changes, the pregnancies
        under way are classified again under the new rule. The cadres stay.
        """
        old, w = self.params, self.world
        if w.expected_rules is not None and w.t >= w.expected_rules[0]:
            w.expected_rules = None  # the announced rule holds now
        if scenario == old:
            return
        self.params = w.scenario = scenario
        if scenario.demography != old.demography:
            w.rates = Rates.of(scenario)
            w.forget_death_rates()
        if self.regime is not None:
            self.regime.adopt(scenario.policy)
            if scenario.policy.rules != old.policy.rules:
                reclassify_pregnancies(w)
        self._bind_steps()

    def announce(self, in_force_from: int, rules: BirthRules) -> None:
        """From this month births due from ``in_force_from`` on fall under ``rules``.

        Couples plan under the announced rule, and the pregnancies under way are classified
        again: those due once it holds fall under it.
        """
        self.world.expected_rules = (in_force_from, rules)
        if self.regime is not None:
            reclassify_pregnancies(self.world)

    @property
    def population(self) -> int:
        """Registered population now (residents and labour migrants away)."""
        return int(self.village_population.sum())

    def count_villages(self) -> None:
        """Count the registered persons of every village (for the Village agents)."""
        p = self.world.persons
        self.village_population = count_by(p.village, p.alive, self.params.township.n_villages)

    def step(self) -> None:
        """One recorded month."""
        self._advance(record=True)
        if self.world.t >= self.months:
            self.running = False

    def _advance(self, *, record: bool) -> None:
        """One month: every step of the table that is due; ``record`` false in the burn-in."""
        w = self.world
        if w.t in self.changes:
            self.enter(self.changes.pop(w.t))
        if w.t in self.announcements:
            self.announce(*self.announcements.pop(w.t))
        w.month = Month()
        self.recording = record
        clock, seconds = time.perf_counter, w.timings.seconds  # CPU time costs 10x the call
        for due, bucket, call in self._calls:
            if due is None or due(self):
                started = clock()
                call()
                seconds[bucket] += clock() - started
        w.t += 1

    def _burn_in(self) -> None:
        """Run the months before start_year, then forget what they logged."""
        while self.world.t < 0:
            self._advance(record=False)
        self.world.log = EventLog()
        self.world.ledger.clear()

    def run(self) -> PopsimModel:
        """Run all the scenario's months."""
        while self.running:
            self.step()
        return self
