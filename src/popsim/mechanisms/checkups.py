"""Check-ups and enforcement by village cadres (docs/regime.md §6-§9).

Cadres are Mesa agents, ``cadres_per_village`` in each village, each with an
effectiveness around 1. A village's *effort* is its cadres' mean effectiveness
times their coverage, min(1, cadres x capacity / target women); it scales
check-up participation and the LARC campaign. Each year the ``turnover``
weakest cadres of the township are replaced by new ones.

Every ``interval_months`` a check-up round is held for married women 15-49. A
resident attends with ``participation`` x effort x (1 + room_effect x
room_quality) (at most 1); an away woman's feedback form comes back with the
migrant participation (raised under the inter-regional agreement) x effort.
At a check-up a pregnancy not yet known is found with ``detection``; a found
out-of-plan pregnancy is ended by a remedial measure with ``remedial``. A
missing IUD is found with ``detection`` and re-inserted with ``reinsertion``.
With one round per pregnancy, the share of out-of-plan pregnancies averted is
participation x detection x remedial (docs/regime.md §21).
"""

from __future__ import annotations

import mesa
import numpy as np

from popsim.mechanisms.contraception import IUD
from popsim.state.events import REASONS

REMEDIAL = REASONS.index("remedial")
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


def attendance_probability(away, effort, *, resident, migrant, room_gain) -> np.ndarray:
    """Chance each target woman is reached by a round."""
    base = np.where(away, migrant, resident * room_gain)
    return np.minimum(1.0, base * effort)


def checkup_outcomes(
    u_attend, u_find, u_act, *, p_attend, pregnant, out_of_plan, detection, remedial
):
    """(attended, pregnancy found, remedial measure) for one round's target women."""
    attended = u_attend < p_attend
    found = attended & pregnant & (u_find < detection)
    ended = found & out_of_plan & (u_act < remedial)
    return attended, found, ended


def step_checkups(world, wives: np.ndarray) -> dict[str, int]:
    """One check-up round for ``wives`` (married women 15-49); returns its counts."""
    p, ch = world.persons, world.scenario.policy.checkups
    targets = np.flatnonzero(wives)
    migrant = ch.agreement_participation if ch.agreement else ch.migrant_participation
    p_attend = attendance_probability(
        p.away[targets],
        world.policy.village_effort[p.village[targets]],
        resident=ch.participation,
        migrant=migrant,
        room_gain=1.0 + ch.room_effect * ch.room_quality,
    )
    pregnant = (p.preg_month[targets] > 0) & ~p.preg_known[targets]
    attended, found, ended = checkup_outcomes(
        world.uniform("checkup_attend", targets),
        world.uniform("checkup_find", targets),
        world.uniform("remedial", targets),
        p_attend=p_attend,
        pregnant=pregnant,
        out_of_plan=p.out_of_plan[targets],
        detection=ch.detection,
        remedial=ch.remedial,
    )
    p.preg_known[targets[found]] = True
    world.policy.end_pregnancies(targets[ended], REMEDIAL, stop_trying=not ch.reconceive)

    missing = attended & p.iud_missing[targets]
    noticed = targets[missing & (world.uniform("iud_check", targets) < ch.detection)]
    p.iud_missing[noticed] = False
    refit = noticed[world.uniform("reinsertion", noticed) < ch.reinsertion]
    p.method[refit] = IUD
    p.wants_more[refit] = False
    return {
        "checkup_targets": targets.size,
        "checkup_attended": int(attended.sum()),
        "checkup_away_targets": int(p.away[targets].sum()),
        "checkup_away_attended": int((attended & p.away[targets]).sum()),
        "pregnancies_found": int(found.sum()),
        "remedial_measures": int(ended.sum()),
        "iud_refitted": refit.size,
    }
