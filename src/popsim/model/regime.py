"""The family-planning regime of one run: its cadres, and its work at the month's edges.

The regime is on when ``policy.enabled``. Its mechanisms are steps of the month's table
(:mod:`popsim.model.steps`); what they share lives in the world where any step can read
it, never behind a callback: person columns, ``world.effort`` (the cadres' effort, set
here), ``world.month.wives`` (the month's target women, set here) and ``world.ledger``
(money and counts; each month's record is closed here, with the stocks in December).
This object holds what is not an array: the cadres (Mesa agents).
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.contraception import relative_failure, wives_of_reproductive_age
from popsim.mechanisms.costs import book_costs
from popsim.mechanisms.fees import lognormal_wealth
from popsim.model.cadres import Cadre, hire_cadres, replace_weakest, village_effort
from popsim.scenario.couples import METHODS, is_larc
from popsim.state.population import count_by
from popsim.state.world import World


class Regime:
    """The regime's state within one run that is not a person column.

    ``cadres``, (village, effectiveness) of each cadre, makes the cadres of a saved state
    (:meth:`popsim.model.township.PopsimModel.start_state`) instead of hiring new ones.
    """

    def __init__(self, model, cadres: list[tuple[int, float]] | None = None) -> None:
        self.world = world = model.world
        self.policy = pol = model.params.policy
        self._rng = world.streams["cadres"]
        if cadres is None:
            self.cadres = hire_cadres(model, self._rng)
        else:
            self.cadres = [Cadre(model, village, eff) for village, eff in cadres]
        self.adopt(pol)

    def adopt(self, policy) -> None:
        """Work under ``policy`` from now on (a dated change); the cadres stay."""
        world = self.world
        self.policy = policy
        if policy.contraception.enabled:  # couples not trying conceive at their method's failure
            peak = float(world.rates.fecundability.max())
            world.method_failure = relative_failure(
                policy.contraception.failure, peak, policy.contraception.failure_scale
            )
        else:
            world.method_failure = None

    def open_month(self) -> None:
        """The first month's investments; the month's target women, new wealth, effort."""
        world, pol = self.world, self.policy
        if world.t == 0:  # the bulletin's investments, booked in the first simulated month
            world.ledger.pay("service_rooms", pol.budget.service_rooms * pol.checkups.room_quality)
            world.ledger.pay("service_centre", pol.budget.service_centre)
        wives = wives_of_reproductive_age(world)  # no later step marries, kills or ages
        world.month.wives = wives
        self._draw_wealth(world)
        targets = count_by(world.persons.village, wives, world.effort.size)
        world.effort = village_effort(self.cadres, targets, pol.checkups.cadre_capacity)

    def close_month(self) -> None:
        """Price the month's work and close its record; in December add the stocks."""
        world = self.world
        p = world.persons
        book_costs(world, cadres=len(self.cadres))
        record = world.ledger.close_month(world.t)
        if world.t % 12 != 11:
            return
        wives = wives_of_reproductive_age(world)
        record["wives"] = int(wives.sum())
        method_counts = np.bincount(p.method[wives], minlength=len(METHODS))
        for name, count in zip(METHODS, method_counts, strict=True):
            record[f"method_{name}"] = int(count)
        targets = wives & (p.parity >= 1)
        larc = is_larc(p.method)
        record["larc_targets"] = int(targets.sum())
        record["larc_true"] = int((targets & larc).sum())
        record["larc_reported"] = int((targets & (larc | p.larc_fake | p.iud_missing)).sum())
        record["certificates"] = int((p.alive & p.certificate).sum())

    def close_year(self) -> None:
        """Cadre turnover: the weakest are replaced."""
        ch = self.policy.checkups
        replace_weakest(self.cadres, ch.turnover, self._rng, mean=ch.recruit_mean, sd=ch.cadre_sd)

    def _draw_wealth(self, world: World) -> None:
        h = world.households
        new = np.flatnonzero(np.isnan(h.wealth))
        if new.size:
            u1, u2 = world.streams.keyed_many((("wealth_a", 0), ("wealth_b", 0)), h.key[new])
            h.wealth[new] = lognormal_wealth(
                u1,
                u2,
                mean=self.policy.budget.wealth_years * self.policy.budget.income,
            )
