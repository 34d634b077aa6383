"""The village family-planning cadres: Mesa agents whose effort drives the regime's reach.

``cadres_per_village`` cadres serve each village, each with an effectiveness around 1.
A village's *effort* is its cadres' mean effectiveness times their coverage, min(1,
cadres x capacity / target women); it scales check-up participation and the LARC
campaign. Each year the ``turnover`` weakest cadres of the township are replaced.
"""

from __future__ import annotations

import mesa
import numpy as np

MIN_EFFECTIVENESS = 0.1


class Cadre(mesa.Agent):
    """A village family-planning cadre."""

    def __init__(self, model: mesa.Model, village: int, effectiveness: float) -> None:
        super().__init__(model)
        self.village = village
        self.effectiveness = effectiveness


def hire_cadres(model: mesa.Model, rng: np.random.Generator) -> list[Cadre]:
    """The township's cadres at the start."""
    ch = model.params.policy.checkups
    n_villages = model.params.township.n_villages
    villages = np.repeat(np.arange(n_villages), ch.cadres_per_village)
    eff = np.maximum(rng.normal(1.0, ch.cadre_sd, villages.size), MIN_EFFECTIVENESS)
    return [Cadre(model, int(v), float(e)) for v, e in zip(villages, eff, strict=True)]


def replace_weakest(cadres: list[Cadre], n: int, rng: np.random.Generator, *, mean, sd) -> None:
    """Dismiss the ``n`` least effective cadres; capable people take their places."""
    for cadre in sorted(cadres, key=lambda c: c.effectiveness)[:n]:
        cadre.effectiveness = max(float(rng.normal(mean, sd)), MIN_EFFECTIVENESS)


def village_effort(cadres: list[Cadre], targets: np.ndarray, capacity: int) -> np.ndarray:
    """Mean effectiveness x coverage of each village (``targets``: target women by village)."""
    village = np.array([c.village for c in cadres])
    eff = np.array([c.effectiveness for c in cadres])
    n = np.bincount(village, minlength=targets.size)
    mean_eff = np.bincount(village, weights=eff, minlength=targets.size) / np.maximum(n, 1)
    coverage = np.minimum(1.0, n * capacity / np.maximum(targets, 1))
    return mean_eff * coverage
