"""The report's key findings: one sentence per scenario, generated from the comparison tables.

Each sentence gives the scenario's effect on births and on the TFR with its paired 95 %
interval and direction, its cost (gross change, and the cost per birth averted when births
are averted), and the side effects whose intervals exclude no change: the sex ratio at
birth, remedial and sex-selective abortions. An effect whose interval includes zero is said
to be so, in the sentence itself, so no reader takes noise for a finding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from popsim.analysis.measures import money, number

#: Side effects a finding mentions when their interval excludes zero: words, unit, decimals,
#: and the verbs for up and down.
SIDE_EFFECTS = {
    "srb": ("the sex ratio at birth", " boys per 100 girls", 1, ("rises", "falls")),
    "abortions_remedial": ("remedial abortions", "", 0, ("rise", "fall")),
    "abortions_sex_selective": ("sex-selective abortions", "", 0, ("rise", "fall")),
    "abortions_unintended": ("couples' own abortions", "", 0, ("rise", "fall")),
}


@dataclass(frozen=True)
class Finding:
    """One scenario's finding: its sentence and whether its births effect is uncertain."""

    scenario: str
    text: str
    uncertain: bool


def _crosses_zero(row: pd.Series) -> bool:
    low, high = row["paired_low"], row["paired_high"]
    if _unchanged(row):
        return False
    return not (math.isfinite(low) and math.isfinite(high)) or low <= 0 <= high


def _unchanged(row: pd.Series) -> bool:
    """No difference in any pair of seeds: the lever does not touch this measure."""
    return row["difference"] == 0 and row["paired_low"] == 0 and row["paired_high"] == 0


def _interval(row: pd.Series, write=number, decimals: int = 0) -> str:
    """The 95 % interval; as magnitudes when the sentence already says the direction."""
    low, high = row["paired_low"], row["paired_high"]
    if not _crosses_zero(row):
        low, high = sorted((abs(low), abs(high)))
    if write is number:
        return f"95 % interval {number(low, decimals)} to {number(high, decimals)}"
    return f"95 % interval {write(low)} to {write(high)}"


def _births(row: pd.Series, years: int) -> str:
    if _unchanged(row):
        return f"births over {years} years unchanged in every replicate"
    diff = row["difference"]
    head = f"about {number(abs(diff))} {'more' if diff > 0 else 'fewer'} births"
    return f"{head} over {years} years ({_interval(row)})"


def _tfr(row: pd.Series) -> str:
    if _unchanged(row):
        return "the same total fertility rate"
    diff = row["difference"]
    way = "higher" if diff > 0 else "lower"
    return f"a total fertility rate {number(abs(diff), 3)} {way} ({_interval(row, number, 3)})"


def _cost(tables: Mapping[str, pd.DataFrame], name: str) -> str:
    gross = tables["spend_total"].loc[name]
    extra = gross["difference"]
    if abs(extra) < 0.5:
        text = "The regime's gross cost is unchanged"
    elif _crosses_zero(gross):
        text = f"The regime's gross cost changes little ({_interval(gross, money)})"
    else:
        way = "rises" if extra > 0 else "falls"
        text = f"The regime's gross cost {way} by {money(abs(extra))}"
        text += f" ({_interval(gross, money)})"
    per = tables["cost_per_birth_averted"].loc[name]
    averted = tables["births_averted"].loc[name]
    if per["births_averted"] > 0 and not _crosses_zero(averted) and extra > 0:
        text += f", about {money(per['cost_per_birth_averted'])} per birth averted"
        if math.isfinite(per["paired_low"]):
            low, high = money(per["paired_low"]), money(per["paired_high"])
            text += f" (95 % interval {low} to {high})"
    elif per["births_averted"] > 0 and not _crosses_zero(averted) and extra < 0:
        text += ", so it averts births and saves money"
    fees = tables["fee_revenue"].loc[name]
    if not _crosses_zero(fees) and abs(fees["difference"]) >= 0.5:
        way = "rises" if fees["difference"] > 0 else "falls"
        text += f"; fee revenue, kept apart, {way} by {money(abs(fees['difference']))}"
    return text + "."


def _side_effects(tables: Mapping[str, pd.DataFrame], name: str) -> str:
    parts = []
    for measure, (words, unit, decimals, verbs) in SIDE_EFFECTS.items():
        if measure not in tables:
            continue
        row = tables[measure].loc[name]
        if _crosses_zero(row) or _unchanged(row):
            continue
        way = verbs[0] if row["difference"] > 0 else verbs[1]
        amount = number(abs(row["difference"]), decimals) + unit
        parts.append(f"{words} {way} by {amount} ({_interval(row, number, decimals)})")
    if not parts:
        return "No side effect (sex ratio at birth, abortions) is distinguishable from zero."
    return "Side effects: " + "; ".join(parts) + "."


def finding(tables: Mapping[str, pd.DataFrame], name: str, label: str, years: int) -> Finding:
    """The sentence for scenario ``name`` (shown as ``label``) from the comparison tables."""
    births = tables["births"].loc[name]
    uncertain = _crosses_zero(births)
    text = f"{label}: {_births(births, years)}, {_tfr(tables['tfr'].loc[name])}"
    if uncertain:
        text += "; the births interval includes zero, so the direction is not established"
    text += f". {_cost(tables, name)} {_side_effects(tables, name)}"
    return Finding(name, text, uncertain)


def findings(
    tables: Mapping[str, pd.DataFrame], labels: Mapping[str, str], years: int
) -> list[Finding]:
    """Every scenario's :func:`finding`, largest effect on births first."""
    births = tables["births"]
    ranked = births["difference"].abs().sort_values(ascending=False, kind="stable").index
    return [finding(tables, name, labels.get(name, name), years) for name in ranked]
