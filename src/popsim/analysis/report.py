"""Figures and tables from results, for the notebooks and the batch report.

The only module that imports matplotlib, and only inside the figure functions,
so ``import popsim`` stays fast and works without it. Outside a notebook and
without a display, figures are drawn with the Agg backend. Figures are closed
in pyplot before they are returned: a notebook shows the returned figure once,
and nothing accumulates.

The tables here (:func:`indicator_table`, :func:`kpi_table`) are pooled over
replicates from the stacked tables of :mod:`popsim.outputs.replicates`; the comparison
of scenarios is in :mod:`popsim.analysis.comparison`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from popsim.analysis import comparison

Tables = Mapping[str, pd.DataFrame]

#: Scenarios of the demonstration batch ``compare.ipynb`` builds when given no batch folder.
DEMO = (
    "params/baseline.yaml",
    "params/scenarios/incentives_doubled.yaml",
    "params/scenarios/sex_selection_crackdown.yaml",
)

#: Tables ``scenario.ipynb`` reads back from its output folder.
SCENARIO_TABLES = ("annual", "kpis", "events", "pyramid")

LABELS = {
    "cbr": "CBR (births per 1000)",
    "tfr": "TFR (births per woman)",
    "srb": "SRB (males per 100 females)",
    "population": "Population (year end)",
    "compliance_true": "Compliance, true",
    "compliance_reported": "Compliance, reported",
    "births": "Births",
    "births_out_of_plan": "Out-of-plan births",
    "spend_total": "Spending (yuan)",
    "spend_net_of_fees": "Spending net of fees (yuan)",
    "births_averted": "Births averted",
    "cost_per_birth_averted": "Cost per birth averted (yuan)",
}

# --- paths -----------------------------------------------------------------------------------


def repo_root(start: str | Path | None = None) -> Path:
    """The repository root: the first of ``start`` (default: cwd) and its parents with ``params/``.

    Falls back to the checkout popsim is installed from (editable installs).
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params").is_dir():
            return folder
    import popsim

    return Path(popsim.__file__).resolve().parents[2]


def resolve(path: str | Path, root: str | Path | None = None) -> Path:
    """``path`` if absolute, else ``path`` under the repository root."""
    path = Path(path)
    return path if path.is_absolute() else (Path(root) if root else repo_root()) / path


def shown(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` relative to the repository root when inside it (stable notebook output)."""
    path = Path(path).resolve()
    base = Path(root).resolve() if root else repo_root()
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def describe(req, overrides: Mapping[str, Any] | None = None) -> str:
    """One line on what a replicates request runs (with its ``overrides``)."""
    t, n = req.scenario.township, len(req.seeds)
    seeds = f"seed {req.seeds[0]}" if n == 1 else f"seeds {req.seeds[0]}-{req.seeds[-1]}"
    changed = "".join(f", {k} = {v!r}" for k, v in (overrides or {}).items())
    return (
        f"{req.scenario.name}{changed}: {n} replicate{'s' * (n > 1)} ({seeds}), "
        f"{t.n_persons:,} persons, {t.years} years from {t.start_year} after a "
        f"{t.burn_in_years}-year burn-in; scenario hash {req.scenario.digest()[:12]}"
    )


def output_paths(out_dir: str | Path, root: str | Path | None = None) -> str:
    """Where a scenario output folder's tables and manifest are (paths shown relative)."""
    from popsim.outputs import replicates
    from popsim.outputs.results import TABLES

    out = shown(out_dir, root)
    return (
        f"tables:   {out}/tables/NAME.parquet, every replicate stacked with a 'seed' column,\n"
        f"          NAME one of {', '.join(TABLES[:6])},\n"
        f"          {', '.join(TABLES[6:])}\n"
        f"manifest: {out}/{replicates.MANIFEST}"
    )


def parse_overrides(overrides: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """Overrides as a dict; a string (papermill ``-p overrides '{...}'``) is read as YAML."""
    if overrides is None or isinstance(overrides, Mapping):
        return dict(overrides or {})
    import yaml

    value = yaml.safe_load(overrides) if overrides.strip() else {}
    if not isinstance(value, Mapping):
        raise ValueError(f"overrides = {overrides!r}: must be a mapping of dotted field -> value")
    return dict(value)


def load_batch(batch_dir: str | Path, reference: str, root: str | Path | None = None) -> dict:
    """The batch to compare, reference first: read from ``batch_dir``, or the demo when empty.

    The demo runs :data:`DEMO` (3 replicates, 3,000 persons, 5 years) in a
    temporary folder, the same way ``popsim batch`` writes its outputs.
    """
    root = Path(root) if root else repo_root()
    if str(batch_dir).strip():
        batch = comparison.read_batch(resolve(batch_dir, root))
    else:
        batch = comparison.demo_batch([root / p for p in DEMO])
    return comparison.order(batch, reference)


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

    def ratio(num, den):
        return num / den.where(den > 0)

    rows = {
        "compliance (share of births in plan)": (
            1 - ratio(s["births_out_of_plan"], s["births"]),
            1 - ratio(s["births_out_of_plan_reported"], s["births_reported"]),
        ),
        "births per year": (s["births"] / per, s["births_reported"] / per),
        "out-of-plan births per year": (
            s["births_out_of_plan"] / per,
            s["births_out_of_plan_reported"] / per,
        ),
        "SRB (males per 100 females)": (
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
        ax.set_title(LABELS[column])
    ax = axes[4]
    for column, label in (("compliance_true", "true"), ("compliance_reported", "reported")):
        _band(ax, frame, column, label, band=band)
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
        ax.set_title(LABELS[column])
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
        "spend_net_of_fees",
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
        ax.set_title(f"{LABELS.get(name, name)}{what}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    fig.suptitle("Difference from the reference, seed by seed (paired) and unpaired (Welch)")
    return fig
