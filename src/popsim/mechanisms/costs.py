"""What the regime's own work costs: cadres, check-ups, surgeries, running costs (regime.md §9).

The mechanisms count what they do where they do it (``world.ledger.count``): check-ups
attended and target women per round, IUDs inserted, re-inserted and removed,
sterilisations, remedial abortions by stage, the couples' own abortions of unintended
pregnancies (free to married couples under the same programme); the regime counts its
cadres and the registered persons each month. At the month's close :func:`book_costs`
prices those counts with the unit costs of ``policy.costs`` and books one budget line each,
so every cost line is, month by month, the sum of its counts times their unit costs
(:data:`COST_LINES`). Pricing is bookkeeping only: it draws nothing and changes no one.

The incentive lines (and the first month's investments) are booked by
:mod:`popsim.mechanisms.incentives` and :mod:`popsim.model.regime`; the social
maintenance fee is revenue, booked apart by :mod:`popsim.mechanisms.fees`.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Each cost line and the counts it prices.
COST_LINES: dict[str, tuple[str, ...]] = {
    "cadre_pay": ("cadre_months",),
    "checkup_visits": ("checkup_attended",),
    "checkup_cadres": ("checkup_targets",),
    "surgery_iud_insertion": ("iud_inserted", "iud_refitted"),
    "surgery_iud_removal": ("iud_removed",),
    "surgery_sterilisation": ("sterilised_female", "sterilised_male"),
    "surgery_remedial": ("remedial_early", "remedial_late"),
    "surgery_unintended": ("unintended_abortions",),
    "service_rooms_running": ("person_months",),
    "service_centre_running": ("regime_months",),
}

#: Counts the lines price, in the order of :data:`COST_LINES`.
COUNTS = tuple(c for counts in COST_LINES.values() for c in counts)

#: Months of pregnancy up to which a remedial abortion is an early one (first trimester).
EARLY_MONTHS = 3


def unit_costs(policy) -> dict[str, float]:
    """Yuan per unit of each count of :data:`COUNTS`, from ``policy.costs`` (and the budget)."""
    c = policy.costs
    return {
        "cadre_months": c.cadre_monthly_pay,
        "checkup_attended": c.checkup_visit,
        "checkup_targets": c.checkup_chain,
        "iud_inserted": c.iud_insertion,
        "iud_refitted": c.iud_insertion,
        "iud_removed": c.iud_removal,
        "sterilised_female": c.tubal_ligation,
        "sterilised_male": c.vasectomy,
        "remedial_early": c.abortion_early,
        "remedial_late": c.abortion_late,
        "unintended_abortions": c.abortion_early,  # all in month 2
        "person_months": c.village_funds / 12,
        "regime_months": c.centre_upkeep * policy.budget.service_centre / 12,
    }


def price(counts: Mapping[str, float], units: Mapping[str, float]) -> dict[str, float]:
    """Yuan on each line of :data:`COST_LINES`: its counts times their unit costs."""
    return {
        line: float(sum(counts.get(name, 0) * units[name] for name in names))
        for line, names in COST_LINES.items()
    }


def book_costs(world, *, cadres: int) -> None:
    """Count this month's cadres and registered persons, then book every cost line."""
    ledger = world.ledger
    ledger.count("cadre_months", cadres)
    ledger.count("person_months", int(world.persons.alive.sum()))
    ledger.count("regime_months", 1)
    counts = {name: ledger.booked(name) for name in COUNTS}
    for line, yuan in price(counts, unit_costs(world.scenario.policy)).items():
        ledger.pay(line, yuan)
