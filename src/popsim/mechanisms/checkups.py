"""Check-ups and enforcement by village cadres (docs/regime.md §6-§9).

The village cadres (Mesa agents, :mod:`popsim.model.cadres`) set each village's
*effort* (``world.effort``): their mean effectiveness times their coverage; it
scales check-up participation and the LARC campaign.

Every ``interval_months`` a check-up round is held for married women 15-49. A
resident attends with ``participation`` x effort x (1 + room_effect x
room_quality) (at most 1); an away woman's feedback form comes back with the
migrant participation (raised under the inter-regional agreement) x effort.
At a check-up a pregnancy not yet known is found with ``detection``; a found
out-of-plan pregnancy is ended by a remedial measure with ``remedial``. A
missing IUD is found with ``detection`` and re-inserted with ``reinsertion``.
A woman carrying a wanted out-of-plan pregnancy keeps away from a round with
``evasion``. With one round per pregnancy, the share of out-of-plan pregnancies
averted is participation x detection x remedial, times (1 - evasion) for wanted
ones (docs/regime.md §21).
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.costs import EARLY_MONTHS
from popsim.mechanisms.fertility import induced_abortions
from popsim.scenario.couples import IUD
from popsim.state.events import REASONS

REMEDIAL = REASONS.index("remedial")


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


def step_checkups(world) -> None:
    """One check-up round for the month's wives (married women 15-49); counts to the ledger."""
    p, ch = world.persons, world.scenario.policy.checkups
    targets = np.flatnonzero(world.month.wives)
    migrant = ch.agreement_participation if ch.agreement else ch.migrant_participation
    p_attend = attendance_probability(
        p.away[targets],
        world.effort[p.village[targets]],
        resident=ch.participation,
        migrant=migrant,
        room_gain=1.0 + ch.room_effect * ch.room_quality,
    )
    pregnant = (p.preg_month[targets] > 0) & ~p.preg_known[targets]
    hiding = pregnant & p.out_of_plan[targets] & p.preg_intended[targets]
    p_attend[hiding] *= 1.0 - ch.evasion
    u_attend, u_find, u_act, u_iud = world.uniforms(
        ("checkup_attend", "checkup_find", "remedial", "iud_check"), targets
    )
    attended, found, ended = checkup_outcomes(
        u_attend,
        u_find,
        u_act,
        p_attend=p_attend,
        pregnant=pregnant,
        out_of_plan=p.out_of_plan[targets],
        detection=ch.detection,
        remedial=ch.remedial,
    )
    p.preg_known[targets[found]] = True
    early = p.preg_month[targets[ended]] <= EARLY_MONTHS  # before they end: for the cost lines
    induced_abortions(world, targets[ended], REMEDIAL, stop_trying=not ch.reconceive)

    missing = attended & p.iud_missing[targets]
    noticed = targets[missing & (u_iud < ch.detection)]
    p.iud_missing[noticed] = False
    refit = noticed[world.uniform("reinsertion", noticed) < ch.reinsertion]
    p.method[refit] = IUD
    p.wants_more[refit] = False
    counts = {
        "checkup_targets": targets.size,
        "checkup_attended": int(attended.sum()),
        "checkup_away_targets": int(p.away[targets].sum()),
        "checkup_away_attended": int((attended & p.away[targets]).sum()),
        "pregnancies_found": int(found.sum()),
        "remedial_measures": int(ended.sum()),
        "remedial_early": int(early.sum()),
        "remedial_late": int((~early).sum()),
        "iud_refitted": refit.size,
    }
    for name, n in counts.items():
        world.ledger.count(name, n)


def birth_known_probability(world, rows: np.ndarray) -> np.ndarray:
    """Chance the township learns of an out-of-plan birth of ``rows`` (found or detected).

    What couples expect of the rounds during a pregnancy they want: base participation,
    less their evasion; the rounds themselves also apply the cadres' effort and the service
    rooms.
    """
    pol, p = world.scenario.policy, world.persons
    p_report = pol.fee.detection
    if not pol.checkups.enabled:
        return np.full(rows.size, p_report)
    ch = pol.checkups
    migrant = ch.agreement_participation if ch.agreement else ch.migrant_participation
    reach = np.where(p.away[rows], migrant, min(1.0, ch.participation)) * (1.0 - ch.evasion)
    rounds = int(np.ceil(9 / ch.interval_months))
    found = 1 - (1 - reach * ch.detection) ** rounds
    return 1 - (1 - p_report) * (1 - found)
