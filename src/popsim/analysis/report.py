"""Figures and tables from results, for the notebooks and the batch report.

Figures of one scenario's replicates, of a comparison of scenarios, of a calibration's fit
and of a sweep's sensitivity indices.

The only module that imports matplotlib, and only inside the figure functions,
so ``import popsim`` stays fast and works without it. Outside a notebook and
without a display, figures are drawn with the Agg backend. Figures are closed
in pyplot before they are returned: a notebook shows the returned figure once,
and nothing accumulates.

The tables here (:func:`indicator_table`, :func:`kpi_table`) are pooled over
replicates from the stacked tables of :mod:`popsim.outputs.replicates`; the comparison
of scenarios is in :mod:`popsim.analysis.comparison`, the notebooks' other helpers in
:mod:`popsim.analysis.notebook`.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from popsim.analysis import comparison
from popsim.analysis.measures import MEASURES, label
from popsim.outputs.statistics import compliance, ratio

Tables = Mapping[str, pd.DataFrame]

# --- tables ----------------------------------------------------------------------------------


def indicator_table(tables: Tables) -> pd.DataFrame:
    """Mean over replicates of the annual indicators, by year."""
    frame = comparison.annual_indicators(tables)
    return frame.drop(columns="seed").groupby("year").mean()


def _kpi_sums(kpis: pd.DataFrame, events: pd.DataFrame, key: str) -> pd.DataFrame:
    """Counts behind the KPI table, summed over replicates by ``key`` (``year`` or ``all``)."""
    k = kpis.assign(
        all=0,
        checkup_reported=kpis["checkup_participation_reported"] * kpis["checkup_targets"],
        replicate_years=1,
    )
    grouped = k.groupby(key)
    sums = grouped[
        [
            "births",
            "births_reported",
            "births_out_of_plan",
            "births_out_of_plan_reported",
            "checkup_targets",
            "checkup_attended",
            "checkup_reported",
            "replicate_years",
        ]
    ].sum()
    sums["larc_true"] = grouped["larc_in_place_true"].mean()
    sums["larc_reported"] = grouped["larc_in_place_reported"].mean()
    births = events[events["event"] == "birth"]
    reported = births["reported"] == 1
    sexes = pd.DataFrame(
        {
            key: births["year"] if key == "year" else 0,
            "male": births["sex"] == 1,
            "female": births["sex"] == 0,
            "male_reported": (births["sex"] == 1) & reported,
            "female_reported": (births["sex"] == 0) & reported,
        }
    )
    return sums.join(sexes.groupby(key).sum()).fillna(0)


def kpi_table(tables: Tables, by_year: bool = False) -> pd.DataFrame:
    """The regime's KPIs true vs reported, pooled over replicates (and years).

    Ratios are ratios of sums over replicates (and years): compliance, SRB,
    check-up participation; births are per replicate-year; LARC in place is the
    mean of the year-end shares.

    Args:
        tables: a scenario's stacked tables (``kpis`` and ``events`` are used).
        by_year: one row per year, columns (KPI, layer), instead of one row per
            KPI with columns ``true``, ``reported`` and ``reported - true``.
    """
    kpis = tables["kpis"]
    if kpis.empty or "births" not in kpis.columns:
        return pd.DataFrame(columns=["true", "reported", "reported - true"])
    s = _kpi_sums(kpis, tables["events"], "year" if by_year else "all")
    per = s["replicate_years"]

    rows = {
        "compliance (share of births in plan)": (
            compliance(s["births_out_of_plan"], s["births"]),
            compliance(s["births_out_of_plan_reported"], s["births_reported"]),
        ),
        "births per year": (s["births"] / per, s["births_reported"] / per),
        "out-of-plan births per year": (
            s["births_out_of_plan"] / per,
            s["births_out_of_plan_reported"] / per,
        ),
        "SRB (males per 100 females)": (  # as the KPI table's, not statistics.srb: see kpis._srb
            100 * ratio(s["male"], s["female"]),
            100 * ratio(s["male_reported"], s["female_reported"]),
        ),
        "check-up participation": (
            ratio(s["checkup_attended"], s["checkup_targets"]),
            ratio(s["checkup_reported"], s["checkup_targets"]),
        ),
        "LARC in place (year end)": (s["larc_true"], s["larc_reported"]),
    }
    if by_year:
        parts = {
            (k, layer): v[i]
            for k, v in rows.items()
            for i, layer in enumerate(("true", "reported"))
        }
        return pd.DataFrame(parts).rename_axis(columns=["KPI", "layer"])
    out = pd.DataFrame(
        {k: [float(v[0].iloc[0]), float(v[1].iloc[0])] for k, v in rows.items()},
        index=["true", "reported"],
    ).T
    out["reported - true"] = out["reported"] - out["true"]
    out.index.name = "KPI"
    return out


def comparison_tables(batch: Mapping[str, Tables], reference: str) -> dict[str, pd.DataFrame]:
    """Every comparison table of a batch, rounded for reading (see :mod:`~.comparison`)."""
    summary = comparison.summarise(batch)
    tables = comparison.comparison_tables(summary, reference)
    return {name: comparison.rounded(table, name) for name, table in tables.items()}


def cost_lines(batch: Mapping[str, Tables], reference: str) -> pd.DataFrame:
    """The regime's cost by budget line, the reference's and each scenario's change, in yuan.

    :func:`popsim.analysis.comparison.cost_lines`, rounded to whole yuan (no ``-0``).
    """
    return comparison.cost_lines(batch, reference).round(0) + 0.0


# --- figures ---------------------------------------------------------------------------------


def _pyplot():
    """matplotlib.pyplot, with the Agg backend when nothing else is chosen and no display."""
    import matplotlib

    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    chosen = "MPLBACKEND" in os.environ or "matplotlib.pyplot" in sys.modules
    if headless and not chosen and sys.platform.startswith("linux"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(n: int, ncols: int = 3, size: tuple[float, float] = (4.2, 3.0)):
    plt = _pyplot()
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size[0] * ncols, size[1] * nrows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel()[n:]:
        fig.delaxes(ax)
    plt.close(fig)
    return fig, list(axes.ravel()[:n])


def _band(ax, frame: pd.DataFrame, column: str, label: str, color=None, band="range", alpha=0.2):
    t = comparison.trajectory(frame, column, band)
    (line,) = ax.plot(t["year"], t["mean"], marker="o", ms=3, label=label, color=color)
    ax.fill_between(t["year"], t["low"], t["high"], alpha=alpha, color=line.get_color(), lw=0)
    return line


def _years_axis(ax) -> None:
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)


def indicator_figure(tables: Tables, band: str = "range", title: str | None = None):
    """Key indicators over time, mean and band across replicates (5 panels).

    CBR, TFR, SRB, population, and compliance true vs reported in one panel.
    ``band`` is ``"range"`` (replicates' min-max) or ``"ci"`` (95 % interval of the mean).
    """
    frame = comparison.annual_indicators(tables)
    fig, axes = _grid(5)
    for ax, column in zip(axes, ["cbr", "tfr", "srb", "population"], strict=False):
        _band(ax, frame, column, "mean", band=band)
        ax.set_title(label(column, unit=True))
    ax = axes[4]
    for column, layer in (("compliance_true", "true"), ("compliance_reported", "reported")):
        _band(ax, frame, column, layer, band=band)
    ax.set_title("Compliance (share of births in plan)")
    ax.legend()
    for ax in axes:
        _years_axis(ax)
    n = frame["seed"].nunique()
    what = "min-max" if band == "range" else "95 % interval of the mean"
    fig.suptitle(f"{title + ': ' if title else ''}mean of {n} replicates, band: {what}")
    return fig


def pyramid_figure(tables: Tables, years: Iterable[int] | None = None):
    """Age pyramids (mean persons over replicates), first and last year unless ``years`` given."""
    pyr = tables["pyramid"]
    all_years = sorted(pyr["year"].unique())
    years = list(years) if years is not None else sorted({all_years[0], all_years[-1]})
    fig, axes = _grid(len(years), ncols=len(years), size=(5.0, 5.0))
    mean = pyr.groupby(["year", "age_group", "sex"], sort=False)["persons"].mean()
    groups = list(dict.fromkeys(pyr["age_group"]))
    ticks = np.arange(len(groups))
    widest = mean.max()
    for ax, year in zip(axes, years, strict=True):
        males = mean.loc[year].xs(1, level="sex").reindex(groups, fill_value=0)
        females = mean.loc[year].xs(0, level="sex").reindex(groups, fill_value=0)
        ax.barh(ticks, -males.to_numpy(), color="tab:blue", label="males")
        ax.barh(ticks, females.to_numpy(), color="tab:red", label="females")
        ax.set_yticks(ticks, groups, fontsize=7)
        ax.set_xlim(-1.05 * widest, 1.05 * widest)
        ax.xaxis.set_major_formatter(lambda x, _: f"{abs(x):,.0f}")
        ax.set_title(f"{year} (year end)")
        ax.set_xlabel("persons, mean over replicates")
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="upper left")
    return fig


def trajectory_figure(batch: Mapping[str, Tables], band: str = "range"):
    """Every scenario's indicators over time, mean and band across replicates (6 panels)."""
    frames = {name: comparison.annual_indicators(t) for name, t in batch.items()}
    fig, axes = _grid(len(comparison.TRAJECTORIES))
    for ax, column in zip(axes, comparison.TRAJECTORIES, strict=True):
        for i, (name, frame) in enumerate(frames.items()):
            _band(ax, frame, column, name, f"C{i % 10}", band, 0.25 if len(frames) < 3 else 0.1)
        ax.set_title(label(column, unit=True))
        _years_axis(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4))
    what = "min-max over replicates" if band == "range" else "95 % interval of the mean"
    fig.suptitle(f"Scenarios over time: mean, band {what}")
    return fig


def interval_figure(
    tables: Mapping[str, pd.DataFrame],
    indicators: Iterable[str] = (
        "cbr",
        "tfr",
        "srb",
        "births_averted",
        "compliance_true",
        "spend_total",
    ),
):
    """Each scenario's difference from the reference, paired (thick) and Welch (thin) intervals.

    ``tables`` are :func:`popsim.analysis.comparison.comparison_tables`; one panel per indicator.
    """
    indicators = [i for i in indicators if i in tables]
    n_scenarios = max(len(tables[i]) for i in indicators)
    fig, axes = _grid(len(indicators), ncols=2, size=(6.0, 0.5 * n_scenarios + 1.4))
    for ax, name in zip(axes, indicators, strict=True):
        table = tables[name]
        y = np.arange(len(table))
        mid = table["difference"].to_numpy()
        for offset, kind, width in ((-0.12, "paired", 4), (0.12, "Welch", 1.5)):
            low = table[f"{kind.lower()}_low"].to_numpy()
            high = table[f"{kind.lower()}_high"].to_numpy()
            ax.errorbar(
                mid,
                y + offset,
                xerr=[mid - low, high - mid],
                fmt="o",
                ms=4,
                lw=width,
                capsize=0 if kind == "paired" else 3,
                label=f"{kind} 95 % interval",
                color="C0" if kind == "paired" else "C7",
            )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, list(table.index), fontsize=8)
        ax.set_ylim(len(table) - 0.4, -0.6)
        ax.xaxis.set_major_formatter(lambda x, _: f"{x:,.6g}")
        what = " (reference - scenario)" if name == "births_averted" else ""
        ax.set_title(f"{label(name)}{what}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    fig.suptitle("Difference from the reference, seed by seed (paired) and unpaired (Welch)")
    return fig


def calibration_fit_figure(fit: pd.DataFrame, target_sd: Mapping[str, float], title: str = ""):
    """Each target's z-score of a calibration's fitted values on fresh seeds, against ±2.

    ``fit`` is the fit table of a calibration (``target``, ``z``, ``sd``, maybe ``base_z``);
    ``target_sd`` each target's sd (range / 4), to show a single run's spread in its units.
    """
    t = fit.iloc[::-1]
    run_sd = t["sd"] / t["target"].map(target_sd)
    fig, (ax,) = _grid(1, ncols=1, size=(7.0, 0.32 * len(t) + 1.6))
    ax.axvspan(-2, 2, color="tab:green", alpha=0.15, label="target range (z within ±2)")
    y = np.arange(len(t))
    label = "fitted: mean, ±1.96 sd of a run"
    ax.errorbar(t["z"], y, xerr=1.96 * run_sd, fmt="o", color="tab:blue", label=label)
    if "base_z" in t:
        ax.plot(t["base_z"], y, "x", color="tab:orange", label="base values: mean")
    ax.set_yticks(y, t["target"])
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("z-score: (model − centre of range) / (range / 4)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.1), ncol=2, fontsize=8)
    ax.set_title(title)
    return fig


def calibration_search_figure(trials: pd.DataFrame, fitted: Mapping[str, float], near: int):
    """A calibration's search: loss by trial, then loss against each parameter.

    ``trials`` are the complete trials (``trial``, ``loss`` and a column per parameter),
    ``fitted`` the fitted value of each parameter, ``near`` the number of near-best trials.
    """
    best = trials.nsmallest(near, "loss")
    fig, axes = _grid(len(fitted) + 1, ncols=min(4, len(fitted) + 1), size=(3.4, 2.8))
    axes[0].plot(trials["trial"], trials["loss"], ".", color="grey", label="trial")
    axes[0].plot(trials["trial"], trials["loss"].cummin(), color="tab:red", label="best so far")
    axes[0].set(yscale="log", xlabel="trial", ylabel="loss", title="search")
    axes[0].legend(fontsize=8)
    for ax, (name, value) in zip(axes[1:], fitted.items(), strict=True):
        ax.scatter(trials[name], trials["loss"], s=8, color="grey")
        ax.scatter(best[name], best["loss"], s=14, color="tab:blue", label="near-best")
        ax.axvline(value, color="tab:red", lw=1)
        where, short = _split(name)
        ax.set(yscale="log", xlabel=short, title=where, ylabel="loss")
    return fig


def _split(name: str) -> tuple[str, str]:
    """A dotted parameter as (its section, its field), an entry of a table as ``field[N]``."""
    where, _, short = name.rpartition(".")
    if short.isdigit():
        where, _, table = where.rpartition(".")
        short = f"{table}[{short}]"
    return where, short


def calibration_tradeoff_figure(
    trials: pd.DataFrame, parameter: str, fitted: float, ranges: Mapping[str, tuple[float, float]]
):
    """Figures against one parameter over all trials, their target ranges shaded.

    ``trials`` are the complete trials (``loss``, the parameter, the figures); ``ranges``
    maps each figure to show to its target's (low, high).
    """
    fig, axes = _grid(len(ranges), ncols=len(ranges), size=(3.3, 3.0))
    for ax, (name, (low, high)) in zip(axes, ranges.items(), strict=True):
        ax.axhspan(low, high, color="tab:green", alpha=0.15)
        colour = np.log10(trials["loss"])
        points = ax.scatter(trials[parameter], trials[name], c=colour, s=10, cmap="viridis_r")
        ax.axvline(fitted, color="tab:red", lw=1)
        ax.set(xlabel=_split(parameter)[1], title=name)
    fig.colorbar(points, ax=axes, label="log10 loss")
    return fig


def sensitivity_figure(table: pd.DataFrame, title: str = ""):
    """Each parameter's total index per output (Sobol ST, else Morris mu*), 95 % intervals.

    ``table`` is :func:`popsim.sweeps.sensitivity.analyze`'s; the most influential
    parameter (its :func:`~popsim.sweeps.sensitivity.citable` order) is on top.
    """
    from popsim.sweeps.sensitivity import citable

    main = "ST" if "ST" in set(table["measure"]) else "mu_star"
    order = citable(table).index[::-1]
    part = table[table["measure"] == main]
    estimate = part.pivot(index="parameter", columns="output", values="estimate").loc[order]
    conf = part.pivot(index="parameter", columns="output", values="conf").loc[order]
    n = estimate.shape[1]
    fig, axes = _grid(n, ncols=n, size=(3.2, 0.35 * len(order) + 1.5))
    y = np.arange(len(order))
    for ax, output in zip(axes, estimate.columns, strict=True):
        ax.barh(y, estimate[output], xerr=conf[output], color="tab:blue")
        ax.set_yticks(y, order if ax is axes[0] else [])
        ax.set(xlabel=main, title=output)
    fig.suptitle(f"{title + ': ' if title else ''}{main} with bootstrap 95 % intervals")
    return fig


# --- figures of the batch report -------------------------------------------------------------


def effects_figure(
    tables: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
    indicators: Iterable[str] = ("births", "tfr", "srb", "spend_total"),
):
    """Each scenario's paired difference from the reference with its 95 % interval.

    One panel per indicator; scenarios are labelled in words and ordered as ``labels``.
    """
    indicators = [i for i in indicators if i in tables]
    names = [n for n in labels if n in tables[indicators[0]].index]
    fig, axes = _grid(len(indicators), ncols=2, size=(6.2, 0.38 * len(names) + 1.3))
    y = np.arange(len(names))
    for i, (ax, name) in enumerate(zip(axes, indicators, strict=True)):
        table = tables[name].loc[names]
        mid = table["difference"].to_numpy(dtype=float)
        low = table["paired_low"].to_numpy(dtype=float)
        high = table["paired_high"].to_numpy(dtype=float)
        scale = MEASURES[name].scale
        ax.errorbar(
            mid / scale,
            y,
            xerr=[(mid - low) / scale, (high - mid) / scale],
            fmt="o",
            ms=4,
            lw=3,
            color="C0",
        )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, [labels[n] for n in names] if i % 2 == 0 else [], fontsize=8)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.xaxis.set_major_formatter(lambda x, _: f"{x:,.6g}")
        ax.set_title(label(name), fontsize=10)
        ax.set_xlabel(MEASURES[name].unit, fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Difference from the reference over the run: paired mean, 95 % interval")
    return fig


def differences_over_time_figure(
    differences: Mapping[str, Mapping[str, pd.DataFrame]],
    labels: Mapping[str, str],
    colours: Mapping[str, str],
    titles: Mapping[str, str] | None = None,
    families: Mapping[str, str] | None = None,
):
    """Small multiples of the paired difference from the reference by year, with 95 % bands.

    A row per scenario, a column per indicator; columns share their y axis.

    ``differences`` is ``{indicator: {scenario: frame with year, mean, low, high}}``;
    ``titles`` name the columns (default: the measure's label and unit); ``families``, each
    scenario's family, give the colours' legend.
    """
    titles = titles or {}
    indicators = list(differences)
    names = [n for n in labels if n in differences[indicators[0]]]
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(names),
        len(indicators),
        figsize=(2.9 * len(indicators) + 1.6, 1.25 * len(names) + 0.9),
        squeeze=False,
        sharex=True,
        sharey="col",
        layout="constrained",
    )
    plt.close(fig)
    for row, name in enumerate(names):
        for col, indicator in enumerate(indicators):
            ax = axes[row][col]
            t = differences[indicator][name]
            colour = colours.get(name, "C0")
            ax.fill_between(t["year"], t["low"], t["high"], color=colour, alpha=0.25, lw=0)
            ax.plot(t["year"], t["mean"], color=colour, lw=1.5, marker="o", ms=2)
            ax.axhline(0, color="k", lw=0.6)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(titles.get(indicator, label(indicator, unit=True)), fontsize=9)
            if col == 0:
                text = textwrap.fill(labels[name], 24)
                ax.set_ylabel(text, fontsize=8, rotation=0, ha="right", va="center")
    for ax in axes[-1]:
        ax.set_xlabel("year", fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if families:
        from matplotlib.patches import Patch

        shown = {families[n]: colours.get(n, "C0") for n in names if n in families}
        handles = [Patch(color=c, alpha=0.6, label=f) for f, c in sorted(shown.items())]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 5),
            title="levers changed",
            fontsize=8,
        )
    fig.suptitle("Scenario minus reference, seed by seed: mean and 95 % interval by year")
    return fig


def dose_response_figure(table: pd.DataFrame, field: str, indicators: Iterable[str]):
    """Effects against the varied lever's value: one panel per indicator, 95 % intervals.

    ``table`` has a ``value`` column and, per indicator, ``NAME``, ``NAME_low``, ``NAME_high``.
    """
    indicators = list(indicators)
    fig, axes = _grid(len(indicators), ncols=len(indicators), size=(4.2, 3.0))
    for ax, name in zip(axes, indicators, strict=True):
        mid = table[name].to_numpy(dtype=float)
        ax.errorbar(
            table["value"],
            mid,
            yerr=[mid - table[f"{name}_low"], table[f"{name}_high"] - mid],
            fmt="o-",
            capsize=3,
        )
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel(field)
        what = "births averted" if name == "births_averted" else f"change in {label(name)}"
        ax.set_title(what, fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Dose-response: the effect against {field}, paired 95 % intervals")
    return fig


def png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for a self-contained HTML page)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
