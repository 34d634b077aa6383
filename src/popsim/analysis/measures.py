"""What each reported measure is called, its unit and how it is written: one place for all.

The comparison tables, the figures, the report and the ensemble table all label and format
a measure through :data:`MEASURES`, so a reader sees the same name, unit and number of
decimals everywhere. Money is written in yuan with thousands separators, in millions when
large; a value that is not defined is written in words, never as ``NaN``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["count", "money", "rate", "share", "ratio"]


@dataclass(frozen=True)
class Measure:
    """A reported measure: a short label, its unit, what it is, and how to write it."""

    label: str
    unit: str
    meaning: str
    decimals: int
    kind: Kind = "rate"
    scale: float = 1.0  #: tables show value / scale, in ``unit`` (money over a run: millions)


MEASURES: dict[str, Measure] = {
    "cbr": Measure(
        "Crude birth rate",
        "births per 1,000 person-years",
        "births per 1,000 person-years, pooled over the years of the run",
        2,
    ),
    "tfr": Measure(
        "Total fertility rate",
        "births per woman",
        "births per woman, from age-specific rates whose births and woman-years are "
        "totalled over the years of the run",
        3,
    ),
    "srb": Measure(
        "Sex ratio at birth",
        "boys per 100 girls",
        "male births per 100 female births, all births of the run",
        1,
        "ratio",
    ),
    "births": Measure("Births", "births over the run", "all births over the run", 0, "count"),
    "births_out_of_plan": Measure(
        "Out-of-plan births",
        "births over the run",
        "births outside the birth rule over the run, registered or not",
        0,
        "count",
    ),
    "compliance_true": Measure(
        "Compliance, true", "share of births", "share of all births that are in plan", 3, "share"
    ),
    "compliance_reported": Measure(
        "Compliance, reported",
        "share of registered births",
        "share of registered births that are in plan: what the township reports",
        3,
        "share",
    ),
    "spend_total": Measure(
        "Regime cost, gross",
        "million yuan over the run",
        "the regime's gross cost over the run, every budget line; fees are not deducted",
        2,
        "money",
        1e6,
    ),
    "fee_revenue": Measure(
        "Fee revenue",
        "million yuan over the run",
        "social maintenance fees collected over the run",
        2,
        "money",
        1e6,
    ),
    "spend_net_of_fees": Measure(
        "Regime cost net of fees",
        "million yuan over the run",
        "the gross cost less the fee revenue: the budget's cash position",
        2,
        "money",
        1e6,
    ),
    "abortions_remedial": Measure(
        "Remedial abortions",
        "abortions over the run",
        "abortions of out-of-plan pregnancies found by check-ups, over the run",
        0,
        "count",
    ),
    "abortions_sex_selective": Measure(
        "Sex-selective abortions",
        "abortions over the run",
        "abortions of female foetuses chosen for their sex, over the run",
        0,
        "count",
    ),
    "abortions_unintended": Measure(
        "Couples' own abortions",
        "abortions over the run",
        "abortions couples chose of unintended pregnancies (a method's failure), over the run",
        0,
        "count",
    ),
    "population": Measure(
        "Population", "persons at year end", "registered residents at year end", 0, "count"
    ),
    "births_averted": Measure(
        "Births averted",
        "births over the run",
        "reference births minus scenario births over the run, seed by seed",
        0,
        "count",
    ),
    "cost_per_birth_averted": Measure(
        "Cost per birth averted",
        "yuan per birth",
        "extra gross cost over the births averted, both means over the paired seeds",
        0,
        "money",
    ),
}


def label(name: str, unit: bool = False) -> str:
    """The measure's label, with its unit in brackets if ``unit``; the name itself if unknown."""
    measure = MEASURES.get(name)
    if measure is None:
        return name
    return f"{measure.label} ({measure.unit})" if unit else measure.label


def number(value: float, decimals: int = 0) -> str:
    """``value`` with thousands separators and ``decimals`` places; no ``-0``; NaN in words."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not defined"
    if math.isinf(value):
        return "unbounded"
    return f"{round(value, decimals) + 0.0:,.{decimals}f}"


def money(value: float) -> str:
    """Yuan for a reader: millions with two decimals from a million on, else whole yuan."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return number(value)
    if abs(value) >= 1e6:
        return f"{number(value / 1e6, 2)} million yuan"
    return f"{number(value, 0)} yuan"


def write(name: str, value: float, signed: bool = False) -> str:
    """``value`` of measure ``name`` for a table: in the measure's unit, by its decimals."""
    measure = MEASURES.get(name)
    if measure is None:
        text = number(value, 3)
    else:
        text = number(value / measure.scale, measure.decimals)
    if signed and isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        text = "+" + text
    return text
