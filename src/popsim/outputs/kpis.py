"""Annual family-planning KPIs, on the true and on the reported layer (docs/regime.md §1).

True: every birth, every check-up as it happened, LARC as it is. Reported: the
births that were registered, check-ups as the cadres report them (missed ones
partly reported as attended), LARC on record (fake certificates and IUDs taken
out privately still count). Flows are summed over the year; stocks (methods,
LARC, certificates) are those of December.

Money: ``yuan_<line>`` for every budget line of :data:`SPENDING` (the incentives, the
first year's investments, and the regime's own work: cadre pay, check-up visits and the
check-up chain's allowances, surgeries, running costs), ``spend_total`` their sum (the
gross cost of the regime), ``yuan_fee_collected`` the fee revenue, kept apart, and
``spend_net_of_fees`` the gross cost less that revenue. ``yuan_hiring_income`` is an
income gain of households, not an outlay, and is in no total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popsim.mechanisms.costs import COST_LINES
from popsim.mechanisms.incentives import LINES
from popsim.outputs.statistics import compliance, ratio
from popsim.scenario.couples import METHODS

#: Every budget line the regime pays: the incentives and investments, then its own work.
SPENDING = (*LINES, *COST_LINES)
MONEY = (*SPENDING, "hiring_income", "fee_levied", "fee_collected")
FLOWS = (
    "checkup_targets",
    "checkup_attended",
    "checkup_away_targets",
    "checkup_away_attended",
    "pregnancies_found",
    "remedial_measures",
    "remedial_early",
    "remedial_late",
    "unintended_abortions",
    "iud_refitted",
    "iud_inserted",
    "iud_removed",
    "sterilised_female",
    "sterilised_male",
    "conceptions",
    "conceptions_unintended",
)

#: why induced abortions happen: the regime's two, and the couple's own of an unintended pregnancy
ABORTION_REASONS = ("remedial", "sex_selective", "unintended")

#: the year-end stocks of the December records
STOCKS = (
    "wives",
    *(f"method_{name}" for name in METHODS),
    "larc_targets",
    "larc_true",
    "larc_reported",
    "certificates",
)


def _srb(births: pd.DataFrame) -> pd.Series:
    """SRB by year, as 100 * (male / female).

    Not :func:`~popsim.outputs.statistics.srb`, (100 * male) / female, which rounds
    differently in the last bit: that would change these columns of every result.
    """
    male = births.groupby("year")["sex"].sum()
    total = births.groupby("year").size()
    return 100 * ratio(male, total - male)


def annual_kpis(events: pd.DataFrame, records: pd.DataFrame, scenario) -> pd.DataFrame:
    """One row per year of the policy KPIs; empty when the regime is off."""
    if records.empty:
        return pd.DataFrame({"year": pd.Series(dtype=np.int32)})
    start = scenario.township.start_year
    records = records.reindex(columns=["month", *MONEY, *FLOWS, *records.columns], fill_value=0)
    records = records.loc[:, ~records.columns.duplicated()].fillna(0.0)
    records["year"] = records["month"] // 12 + start
    by_year = records.groupby("year")
    out = pd.DataFrame(index=by_year.size().index)

    births = events[events["event"] == "birth"]
    registered = births[births["reported"] == 1]
    b = births.groupby("year")
    out["births"] = b.size()
    out["births_out_of_plan"] = b["out_of_plan"].sum()
    out["births_reported"] = registered.groupby("year").size()
    out["births_out_of_plan_reported"] = registered.groupby("year")["out_of_plan"].sum()
    out = out.fillna(0)
    out["compliance_true"] = compliance(out["births_out_of_plan"], out["births"])
    out["compliance_reported"] = compliance(
        out["births_out_of_plan_reported"], out["births_reported"]
    )
    out["srb_true"] = _srb(births)
    out["srb_reported"] = _srb(registered)
    for order, label in ((1, "1"), (2, "2")):
        out[f"srb_order_{label}"] = _srb(births[births["order"] == order])
    out["srb_order_3plus"] = _srb(births[births["order"] >= 3])
    abortions = events[events["event"] == "abortion"]
    counts = abortions.groupby(["year", "reason"], observed=True).size().unstack(fill_value=0)
    for reason in ABORTION_REASONS:
        out[f"abortions_{reason}"] = counts.get(reason, pd.Series(dtype=float))
    out = out.fillna({f"abortions_{reason}": 0 for reason in ABORTION_REASONS})

    flows = by_year[list(FLOWS)].sum()
    out = out.join(flows)
    overreport = scenario.policy.reporting.checkup_overreport
    attended, targets = out["checkup_attended"], out["checkup_targets"]
    out["checkup_participation_true"] = ratio(attended, targets)
    out["checkup_participation_reported"] = ratio(
        attended + overreport * (targets - attended), targets
    )
    out["migrant_participation_true"] = ratio(
        out["checkup_away_attended"], out["checkup_away_targets"]
    )

    december = records[records["month"] % 12 == 11].groupby("year").last()
    missing = [c for c in STOCKS if c not in december.columns]
    if missing:  # a run looked at before its first December (the explorer's) has no stocks yet
        december = december.reindex(columns=[*december.columns, *missing])
    wives = december["wives"]
    out["wives_15_49"] = wives
    out["contraceptive_prevalence"] = 1 - ratio(december["method_none"], wives)
    for name in METHODS[1:]:
        out[f"share_{name}"] = ratio(december[f"method_{name}"], wives)
    out["larc_in_place_true"] = ratio(december["larc_true"], december["larc_targets"])
    out["larc_in_place_reported"] = ratio(december["larc_reported"], december["larc_targets"])
    out["certificates"] = december["certificates"]

    money = by_year[list(MONEY)].sum()
    out = out.join(money.add_prefix("yuan_"))
    out["fee_collection_rate"] = ratio(money["fee_collected"], money["fee_levied"])
    out["spend_total"] = money[list(SPENDING)].sum(axis=1)
    out["spend_net_of_fees"] = out["spend_total"] - money["fee_collected"]
    return out.reset_index()
