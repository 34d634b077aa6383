"""Scenarios against a reference, paired by seed: the numbers behind ``compare.ipynb``.

A *batch* is ``{scenario name: {table name: stacked frame}}``, the tables of
:mod:`popsim.outputs.replicates` (every replicate stacked with a ``seed`` column), one
entry per scenario, as :func:`popsim.outputs.replicates.read_batch` reads them.
:func:`summarise` reduces each replicate to one row of run-level indicators (totals over
the run, rates pooled over its years, with :mod:`popsim.outputs.statistics`), and the
tables compare each scenario with the reference seed by seed.

Why pairs: replicate ``i`` of every scenario uses seed ``i``, and every random
draw is keyed by (seed, process, person, month), so two scenarios that differ in
one lever share all other randomness (common random numbers). The per-seed
differences ``scenario_i - reference_i`` then vary far less than either
scenario does, and a t-interval over them is much narrower than Welch's
interval, which treats the two sets of replicates as independent. Every table
shows both.

Pure pandas and numpy; the figures are in :mod:`popsim.analysis.report`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from popsim.analysis.intervals import (
    paired_interval,
    ratio_interval,
    t975,
    welch_df,
    welch_interval,
)
from popsim.analysis.measures import MEASURES
from popsim.outputs import statistics
from popsim.outputs.kpis import SPENDING

Batch = Mapping[str, Mapping[str, pd.DataFrame]]

#: Run-level indicators of one replicate, in the order the tables are shown; meanings and units
#: are in :data:`popsim.analysis.measures.MEASURES`.
INDICATORS: dict[str, str] = {
    name: MEASURES[name].meaning
    for name in (
        "cbr",
        "tfr",
        "srb",
        "births",
        "births_out_of_plan",
        "compliance_true",
        "compliance_reported",
        "spend_total",
        "fee_revenue",
        "spend_net_of_fees",
        "abortions_remedial",
        "abortions_sex_selective",
        "abortions_unintended",
    )
}

#: Annual indicators drawn over time, and the table each comes from.
TRAJECTORIES: dict[str, str] = {
    "cbr": "annual",
    "tfr": "annual",
    "srb": "annual",
    "population": "annual",
    "compliance_true": "kpis",
    "compliance_reported": "kpis",
}

#: Tables a comparison reads from each scenario folder.
NEEDED = ("annual", "kpis", "asfr", "exposure")

_INTERVAL = ["paired_low", "paired_high", "welch_low", "welch_high"]


# --- batches ---------------------------------------------------------------------------------


def order(batch: Batch, reference: str) -> dict[str, Mapping[str, pd.DataFrame]]:
    """The batch with the reference first; raises if the reference is not in it."""
    if reference not in batch:
        raise ValueError(
            f"reference scenario {reference!r} is not in the batch; it has: {', '.join(batch)}"
        )
    return {reference: batch[reference]} | {k: v for k, v in batch.items() if k != reference}


# --- per-replicate indicators ----------------------------------------------------------------


def _pooled_tfr(asfr: pd.DataFrame, exposure: pd.DataFrame) -> pd.Series:
    """TFR by seed from all years together; births are the ASFR table's rates x woman-years."""
    rates = asfr.melt(id_vars=["seed", "year"], var_name="age", value_name="rate")
    rates["age"] = rates["age"].astype(int)
    women = exposure[exposure["sex"] == 0][["seed", "year", "age", "person_years"]]
    cells = rates.merge(women, on=["seed", "year", "age"], how="left").fillna({"person_years": 0})
    cells["births"] = cells["rate"] * cells["person_years"]
    by_age = cells.groupby(["seed", "age"])[["births", "person_years"]].sum()
    by_age = by_age[by_age["person_years"] > 0]
    return statistics.tfr(by_age["births"], by_age["person_years"], by="seed")


def per_seed(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per replicate (index ``seed``) with the run-level :data:`INDICATORS`.

    Counts and money are totals over the run; CBR, SRB and compliance are
    ratios of those totals; TFR sums age rates whose births and woman-years are
    totalled over the years. KPI columns are missing (NaN) without the regime.
    """
    annual = tables["annual"].groupby("seed")
    births = annual["births"].sum()
    out = pd.DataFrame(index=births.index)
    out["cbr"] = statistics.crude_rate(births, annual["person_years"].sum())
    out["tfr"] = _pooled_tfr(tables["asfr"], tables["exposure"])
    out["srb"] = statistics.srb(annual["births_male"].sum(), annual["births_female"].sum())
    out["births"] = births
    kpis = tables["kpis"]
    totals = {  # indicator: KPI column, summed over the run
        "births_out_of_plan": "births_out_of_plan",
        "spend_total": "spend_total",
        "fee_revenue": "yuan_fee_collected",
        "spend_net_of_fees": "spend_net_of_fees",
        "abortions_remedial": "abortions_remedial",
        "abortions_sex_selective": "abortions_sex_selective",
        "abortions_unintended": "abortions_unintended",
    }
    if "births" in kpis.columns and not kpis.empty:
        columns = ["births", "births_reported", "births_out_of_plan_reported"]
        columns += list(dict.fromkeys(totals.values()))
        # a column the KPI table lacks (written before it existed) gives NaN, not an error
        k = kpis.reindex(columns=["seed", *columns]).groupby("seed")[columns].sum(min_count=1)
        for name, column in totals.items():
            out[name] = k[column]
        out["compliance_true"] = statistics.compliance(k["births_out_of_plan"], k["births"])
        out["compliance_reported"] = statistics.compliance(
            k["births_out_of_plan_reported"], k["births_reported"]
        )
    else:
        out[[*totals, "compliance_true", "compliance_reported"]] = np.nan
    return out[list(INDICATORS)]


def summarise(batch: Batch) -> pd.DataFrame:
    """Every replicate of every scenario: columns ``scenario``, ``seed`` and the indicators."""
    frames = [
        per_seed(tables).reset_index().assign(scenario=name) for name, tables in batch.items()
    ]
    out = pd.concat(frames, ignore_index=True)
    return out[["scenario", "seed", *INDICATORS]]


def annual_indicators(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The :data:`TRAJECTORIES` columns by seed and year (annual merged with the KPIs)."""
    annual = tables["annual"][["seed", "year", "cbr", "tfr", "srb", "population"]]
    kpis = tables["kpis"]
    wanted = ["seed", "year", "compliance_true", "compliance_reported"]
    if set(wanted) <= set(kpis.columns):
        return annual.merge(kpis[wanted], on=["seed", "year"], how="left")
    return annual.assign(compliance_true=np.nan, compliance_reported=np.nan)


def trajectory(frame: pd.DataFrame, column: str, band: str = "range") -> pd.DataFrame:
    """Mean and band across replicates of ``column`` by year: ``year, mean, low, high, n``.

    Args:
        frame: rows by ``seed`` and ``year`` (e.g. from :func:`annual_indicators`).
        column: the indicator.
        band: ``"range"`` for the replicates' minimum and maximum, or ``"ci"`` for
            the 95 % t-interval of the mean (NaN with one replicate).
    """
    g = frame.groupby("year")[column]
    out = pd.DataFrame({"mean": g.mean(), "n": g.count()})
    if band == "range":
        out["low"], out["high"] = g.min(), g.max()
    elif band == "ci":
        half = g.std() / np.sqrt(out["n"]) * [t975(n - 1) for n in out["n"]]
        out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    else:
        raise ValueError(f"band = {band!r}: must be 'range' or 'ci'")
    return out[["mean", "low", "high", "n"]].reset_index()


# --- intervals -------------------------------------------------------------------------------


def paired_rows(summary: pd.DataFrame, reference: str) -> dict[str, pd.DataFrame]:
    """Each scenario's rows by seed, restricted to the seeds it shares with the reference."""
    by = {name: rows.set_index("seed") for name, rows in summary.groupby("scenario", sort=False)}
    if reference not in by:
        raise ValueError(f"reference scenario {reference!r} is not in: {', '.join(by)}")
    out = {}
    for name, rows in by.items():
        seeds = rows.index.intersection(by[reference].index)
        if seeds.empty:
            raise ValueError(f"scenario {name!r} shares no seed with the reference {reference!r}")
        out[name] = rows.loc[seeds]
    return out


def difference_table(summary: pd.DataFrame, indicator: str, reference: str) -> pd.DataFrame:
    """Each scenario's difference from the reference in ``indicator``, with 95 % intervals.

    Args:
        summary: from :func:`summarise` (columns ``scenario``, ``seed``, indicators).
        indicator: one of :data:`INDICATORS`, or ``"births_averted"``: reference
            births minus scenario births, seed by seed, so the reference's own
            value is 0 and the difference is the births averted.
        reference: the reference scenario's name.

    Returns:
        One row per other scenario: ``seeds`` (the seeds shared with the
        reference, which all columns use), mean ``reference`` and ``scenario``
        values, the mean paired ``difference``, its paired t-interval, Welch's
        unpaired interval, and ``width_ratio`` = Welch width / paired width (how
        many times narrower pairing makes the interval).
    """
    pairs = paired_rows(summary, reference)
    rows = {}
    for name, scen in pairs.items():
        if name == reference:
            continue
        ref = pairs[reference].loc[scen.index]
        if indicator == "births_averted":
            s_val, r_val = ref["births"] - scen["births"], 0.0 * ref["births"]
            _, wlo, whi = welch_interval(ref["births"], scen["births"])
        else:
            s_val, r_val = scen[indicator], ref[indicator]
            _, wlo, whi = welch_interval(s_val, r_val)
        diff, lo, hi = paired_interval(s_val, r_val)
        rows[name] = [len(scen), r_val.mean(), s_val.mean(), diff, lo, hi, wlo, whi]
    columns = ["seeds", "reference", "scenario", "difference", *_INTERVAL]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=columns).astype({"seeds": int})
    out.index.name = "scenario"
    out["width_ratio"] = _width_ratio(out)
    return out


def _width_ratio(table: pd.DataFrame) -> pd.Series:
    """Welch width / paired width: inf when pairing removes all the variation."""
    paired = table["paired_high"] - table["paired_low"]
    welch = table["welch_high"] - table["welch_low"]
    ratio = welch / paired.where(paired > 0)
    return ratio.mask((paired == 0) & (welch > 0), np.inf)


def cost_table(
    summary: pd.DataFrame,
    reference: str,
    spend: str = "spend_total",
    net: str | None = "spend_net_of_fees",
) -> pd.DataFrame:
    """Cost per birth averted: the scenario's extra cost over the births it averts.

    ``extra_spend`` is the mean over seeds of (scenario spend - reference spend),
    ``births_averted`` the mean of (reference births - scenario births), and
    ``cost_per_birth_averted`` their ratio (total extra yuan per birth averted).
    Its intervals are Fieller's, paired (variances and covariance of the per-seed
    differences) and unpaired (scenario and reference replicates independent,
    Welch's degrees of freedom for births).

    The cost is the regime's gross cost (``spend_total``, every budget line): fees
    collected on out-of-plan births are revenue, not a saving, so a scenario does not
    look cheaper for letting more births happen and fining them. With ``net`` in the
    summary, ``extra_spend_net`` and ``cost_per_birth_averted_net`` show the same with
    the fee revenue deducted, as point estimates beside the gross ones.

    Non-positive births averted: when the scenario averts no births on average
    (as many or more births than the reference) the cost per birth averted is
    not defined, and the row is NaN with a note. When births averted is positive
    but its interval reaches 0, the ratio's interval is unbounded: NaN bounds
    and a note. A negative cost means the scenario saves money and averts births.
    """
    pairs = paired_rows(summary, reference)
    with_net = net is not None and net in summary.columns
    rows = {}
    for name, scen in pairs.items():
        if name == reference:
            continue
        ref = pairs[reference].loc[scen.index]
        extra = scen[spend] - ref[spend]
        averted = ref["births"] - scen["births"]
        n = len(scen)
        mean_x, mean_b = float(extra.mean()), float(averted.mean())
        row = {"seeds": n, "extra_spend": mean_x, "births_averted": mean_b}
        bounds = [math.nan] * 4
        if mean_b > 0 and n >= 2:
            t = t975(n - 1)
            cov = float(np.cov(extra, averted)[0, 1]) / n
            bounds[:2] = ratio_interval(mean_x, mean_b, extra.var() / n, averted.var() / n, cov, t)
            v_sb, v_rb = scen["births"].var() / n, ref["births"].var() / n
            v_sx, v_rx = scen[spend].var() / n, ref[spend].var() / n
            df = welch_df(v_sb, v_rb, n, n)
            cov_u = -(
                np.cov(scen[spend], scen["births"])[0, 1] + np.cov(ref[spend], ref["births"])[0, 1]
            )
            bounds[2:] = ratio_interval(
                mean_x, mean_b, v_sx + v_rx, v_sb + v_rb, float(cov_u) / n, t975(df)
            )
        row["cost_per_birth_averted"] = mean_x / mean_b if mean_b > 0 else math.nan
        row |= dict(zip(_INTERVAL, bounds, strict=True))
        if with_net:
            row["extra_spend_net"] = float((scen[net] - ref[net]).mean())
            row["cost_per_birth_averted_net"] = (
                row["extra_spend_net"] / mean_b if mean_b > 0 else math.nan
            )
        row["note"] = _cost_note(row)
        rows[name] = row
    columns = ["seeds", "extra_spend", "births_averted", "cost_per_birth_averted", *_INTERVAL]
    net_columns = ["extra_spend_net", "cost_per_birth_averted_net"] if with_net else []
    out = pd.DataFrame.from_dict(rows, orient="index", columns=[*columns, *net_columns, "note"])
    out = out.astype({"seeds": int, "note": str})
    out.index.name = "scenario"
    out.insert(len(columns), "width_ratio", _width_ratio(out))
    return out


def _cost_note(row: dict) -> str:
    if not row["births_averted"] > 0:
        return "no births averted: not defined"
    notes = []
    if row["cost_per_birth_averted"] < 0:
        notes.append("saves money and averts births")
    if math.isnan(row["paired_low"]):
        notes.append("unbounded: births averted may be 0")
    elif math.isnan(row["welch_low"]):
        notes.append("Welch interval unbounded")
    return "; ".join(notes)


#: The totals below the budget lines in :func:`cost_lines`, and the KPI column of each.
COST_TOTALS = {
    "total (gross cost)": "spend_total",
    "fee revenue": "yuan_fee_collected",
    "net of fee revenue": "spend_net_of_fees",
}


def cost_lines(batch: Batch, reference: str) -> pd.DataFrame:
    """The regime's cost by budget line over the run: the reference, and each scenario's change.

    Rows: every budget line (:data:`popsim.outputs.kpis.SPENDING`), then the gross total,
    the fee revenue (kept apart, never netted into a line) and the net. Columns: the
    reference's mean over its seeds, then for each other scenario the mean over the seeds
    it shares with the reference of (scenario - reference), yuan over the run. Without the
    regime a scenario spends nothing on any line.
    """
    batch = order(batch, reference)
    columns = [f"yuan_{line}" for line in SPENDING] + list(COST_TOTALS.values())
    labels = list(SPENDING) + list(COST_TOTALS)
    totals = {}
    for name, tables in batch.items():
        kpis = tables["kpis"]
        seeds = tables["annual"]["seed"].unique()
        if "spend_total" in kpis.columns and not kpis.empty:
            by_seed = kpis.reindex(columns=["seed", *columns], fill_value=0.0).groupby("seed")
            totals[name] = by_seed[columns].sum().reindex(seeds, fill_value=0.0)
        else:
            totals[name] = pd.DataFrame(0.0, index=pd.Index(seeds, name="seed"), columns=columns)
    ref = totals[reference]
    out = {reference: ref.mean()}
    for name, scen in totals.items():
        if name == reference:
            continue
        seeds = scen.index.intersection(ref.index)
        if seeds.empty:
            raise ValueError(f"scenario {name!r} shares no seed with the reference {reference!r}")
        out[f"{name} - {reference}"] = (scen.loc[seeds] - ref.loc[seeds]).mean()
    table = pd.DataFrame(out)
    table.index = pd.Index(labels, name="yuan over the run")
    return table


#: Every comparison table, in the order they are shown.
TABLES = (*INDICATORS, "births_averted", "cost_per_birth_averted")


def comparison_tables(
    summary: pd.DataFrame, reference: str, spend: str = "spend_total"
) -> dict[str, pd.DataFrame]:
    """Every table of :data:`TABLES`, by name.

    :func:`difference_table` for each indicator and for births averted, then
    :func:`cost_table` with ``spend`` as the cost.
    """
    out = {name: difference_table(summary, name, reference) for name in TABLES[:-1]}
    out["cost_per_birth_averted"] = cost_table(summary, reference, spend)
    return out


def rounded(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """A comparison table rounded for reading (the measure's decimals), no ``-0``."""
    digits = MEASURES[name].decimals
    places = {c: digits for c in table.select_dtypes("number").columns}
    places |= {"width_ratio": 1, "births_averted": 1, "extra_spend": 0, "extra_spend_net": 0}
    places = {c: d for c, d in places.items() if c in table.columns and c != "seeds"}
    out = table.round(places)
    out[list(places)] += 0.0  # -0.0 + 0.0 is 0.0
    return out


#: The at-a-glance tables, each narrow enough for a page: births and compliance, cost (the
#: regime's gross cost, the fee revenue apart, and the cost per birth averted, gross), and
#: the side effects beside the births averted.
HEADLINE_GROUPS: dict[str, tuple[str, ...]] = {
    "births and compliance": (
        "cbr",
        "tfr",
        "srb",
        "births",
        "births_out_of_plan",
        "compliance_true",
        "compliance_reported",
    ),
    "cost": (
        "spend_total",
        "fee_revenue",
        "spend_net_of_fees",
        "births_averted",
        "cost_per_birth_averted",
    ),
    "side effects": ("births_averted", "abortions_remedial", "srb"),
}


def headline(
    tables: Mapping[str, pd.DataFrame], names: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per scenario, one column per table: "difference [paired 95 % interval]".

    ``names`` picks the tables (default: all), e.g. a group of :data:`HEADLINE_GROUPS`.
    """
    columns = {}
    for name in tables if names is None else names:
        t = tables[name]
        value = t["cost_per_birth_averted"] if name == "cost_per_birth_averted" else t["difference"]
        columns[name] = [
            _format(v, lo, hi, MEASURES[name].decimals, name == "cost_per_birth_averted")
            for v, lo, hi in zip(value, t["paired_low"], t["paired_high"], strict=True)
        ]
    return pd.DataFrame(columns, index=next(iter(tables.values())).index)


def _format(value: float, low: float, high: float, digits: int, ratio: bool) -> str:
    def fmt(x: float) -> str:
        return f"{round(x, digits) + 0.0:,.{digits}f}"  # no "-0.000"

    if math.isnan(value):
        return "n/a"
    if math.isnan(low):
        return f"{fmt(value)} [{'unbounded' if ratio else 'no interval'}]"
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def paired_years(
    base: pd.DataFrame, changed: pd.DataFrame, columns: Iterable[str] = ("births", "cbr", "tfr")
) -> pd.DataFrame:
    """Two runs' annual tables side by side by year, with ``changed - base`` for each column."""
    base, changed = base.set_index("year"), changed.set_index("year")
    parts = {}
    for c in columns:
        parts[(c, "base")] = base[c]
        parts[(c, "changed")] = changed[c]
        parts[(c, "difference")] = changed[c] - base[c]
    return pd.DataFrame(parts)
