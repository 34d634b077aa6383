"""The model the explorer steps: PopsimModel with its villages and cadres in a Mesa space.

The run is the ordinary :class:`~popsim.model.township.PopsimModel` of the settings'
scenario and seed, so it gives the same tables as ``popsim run`` of the saved file. What
is added draws no random number: a Mesa network of the township seat and its villages
(the bulletin gives no map, so the villages sit on a ring around the seat), with every
Village and Cadre agent in its village's cell, and the run's tables so far.
"""

from __future__ import annotations

import math

import networkx as nx
from mesa.discrete_space import Network

from popsim.explorer.settings import Settings
from popsim.model.township import PopsimModel
from popsim.outputs.results import Result
from popsim.outputs.runner import collect

SEAT = 0  #: the township seat's node; village ``i`` is node ``i + 1``


def township_network(model: PopsimModel) -> Network:
    """The seat and the villages as a star network laid out on a ring, agents in place."""
    n = model.params.township.n_villages
    angles = [math.pi / 2 - 2 * math.pi * i / n for i in range(n)]
    layout = {SEAT: (0.0, 0.0)} | {i + 1: (math.cos(a), math.sin(a)) for i, a in enumerate(angles)}
    space = Network(nx.star_graph(n), random=model.random, layout=layout)
    for village in model.villages:
        space[village.index + 1].add_agent(village)
    for cadre in model.regime.cadres if model.regime is not None else ():
        space[cadre.village + 1].add_agent(cadre)
    return space


class ExplorerModel(PopsimModel):
    """The township run of a :class:`Settings`; Mesa's Reset builds it again from them.

    Args:
        settings: the explorer's settings (their scenario and seed).
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.scenario(), seed=settings.seed)
        self.settings = settings
        self.space = township_network(self)
        self._result: tuple[int, Result] | None = None

    def result(self) -> Result:
        """The run's tables so far (computed once per month)."""
        if self._result is None or self._result[0] != self.world.t:
            self._result = (self.world.t, collect(self))
        return self._result[1]
