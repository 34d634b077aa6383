"""The explorer's figures: small matplotlib figures of the live views and the village map.

The explorer's one plotting module (as :mod:`popsim.analysis.report` is the report's):
solara shows a matplotlib figure as an image that needs nothing from the network, where
Altair charts would load vega from a CDN. Figures are made with ``Figure`` directly, never
pyplot, so the server's threads share no global figure state.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from mesa.discrete_space import Network

from popsim.explorer.views import VILLAGE_KPIS

SIZE = (4.6, 2.9)  #: inches; two figures side by side fit a laptop screen
TRUE, REPORTED = "#1f5fa8", "#d9822b"


def _figure(title: str, size: tuple[float, float] = SIZE) -> tuple[Figure, object]:
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.set_title(title, fontsize=10, loc="left")
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _years(ax, years) -> None:
    """Whole calendar years on the x axis, without an offset."""
    ax.set_xticks(list(years), [str(int(y)) for y in years])


def _empty(ax, text: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def births(monthly: pd.DataFrame, first_year: int) -> Figure:
    """Births per month, true and registered."""
    fig, ax = _figure("Births per month")
    if monthly.empty:
        _empty(ax, "step the model to see births")
        return fig
    when = first_year + monthly["month"] / 12
    ax.plot(when, monthly["true"], color=TRUE, lw=1.2, label="true")
    if monthly["registered"].notna().any():
        ax.plot(when, monthly["registered"], color=REPORTED, lw=1.2, label="registered")
    ax.set_ylim(bottom=0)
    _years(ax, range(first_year, int(when.max()) + 1))
    ax.legend(fontsize=8, frameon=False)
    return fig


def rates(years: pd.DataFrame) -> Figure:
    """TFR (left axis) and SRB (right axis) of every completed year."""
    fig, ax = _figure("TFR and SRB by year")
    if years.empty:
        _empty(ax, "no year completed yet")
        return fig
    ax.plot(years["year"], years["tfr"], "o-", color=TRUE, label="TFR")
    ax.set_ylabel("TFR (children per woman)", fontsize=8, color=TRUE)
    right = ax.twinx()
    right.plot(years["year"], years["srb"], "s--", color=REPORTED, label="SRB")
    right.set_ylabel("SRB (boys per 100 girls)", fontsize=8, color=REPORTED)
    right.tick_params(labelsize=8)
    _years(ax, years["year"])
    return fig


def pyramid(table: pd.DataFrame) -> Figure:
    """Persons by 5-year age group, women to the right and men to the left."""
    fig, ax = _figure("Age pyramid now", (4.6, 3.4))
    y = np.arange(len(table))
    ax.barh(y, -table["male"], color=TRUE, label="men")
    ax.barh(y, table["female"], color=REPORTED, label="women")
    ax.set_yticks(y[::2], table.index[::2], fontsize=7)
    ax.xaxis.set_major_formatter(lambda v, _: f"{abs(v):,.0f}")
    ax.legend(fontsize=8, frameon=False)
    return fig


def compliance(years: pd.DataFrame) -> Figure:
    """Compliance (share of births in plan) by year, true and as reported."""
    fig, ax = _figure("Compliance, true vs reported")
    if years["compliance_true"].isna().all():
        _empty(ax, "no completed year under the regime")
        return fig
    ax.plot(years["year"], years["compliance_true"], "o-", color=TRUE, label="true")
    ax.plot(years["year"], years["compliance_reported"], "s--", color=REPORTED, label="reported")
    ax.set_ylim(min(0.5, float(years["compliance_true"].min())), 1.01)
    _years(ax, years["year"])
    ax.legend(fontsize=8, frameon=False)
    return fig


def spending(years: pd.DataFrame) -> Figure:
    """The regime's spending and its fee revenue by year, in million yuan."""
    fig, ax = _figure("Spending by year (million yuan)")
    if years["spend_total"].isna().all():
        _empty(ax, "no completed year under the regime")
        return fig
    x = years["year"].to_numpy()
    ax.bar(x - 0.2, years["spend_total"] / 1e6, 0.4, color=TRUE, label="spending")
    ax.bar(x + 0.2, years["yuan_fee_collected"] / 1e6, 0.4, color=REPORTED, label="fees collected")
    _years(ax, x)
    ax.legend(fontsize=8, frameon=False)
    return fig


def township(space: Network, villages: pd.DataFrame, kpi: str) -> Figure:
    """The villages around the township seat, coloured by ``kpi``; dots are the cadres."""
    fig, ax = _figure(f"Villages by {VILLAGE_KPIS[kpi]}", (5.2, 4.6))
    ax.set_axis_off()
    ax.set_aspect("equal")
    seat = space[0].position
    values = villages[kpi].to_numpy(dtype=float)
    known = values[~np.isnan(values)]
    norm = Normalize(*(known.min(), known.max()) if known.size else (0, 1))
    cmap = colormaps["viridis"]
    sizes = 250 + 900 * villages["population"] / max(int(villages["population"].max()), 1)
    for i in villages.index:
        cell = space[i + 1]
        x, y = cell.position
        ax.plot([seat[0], x], [seat[1], y], color="#cccccc", lw=0.8, zorder=1)
        color = "#dddddd" if np.isnan(values[i]) else cmap(norm(values[i]))
        ax.scatter([x], [y], s=sizes[i], color=color, edgecolor="#444444", zorder=2)
        dark = not np.isnan(values[i]) and norm(values[i]) < 0.4
        ax.text(
            x,
            y,
            str(i + 1),
            ha="center",
            va="center",
            fontsize=7,
            zorder=3,
            color="white" if dark else "black",
        )
        cadres = [a for a in cell.agents if hasattr(a, "effectiveness")]
        for k, _ in enumerate(cadres):
            a = math.atan2(y, x) + (k - (len(cadres) - 1) / 2) * 0.12
            ax.plot(1.22 * math.cos(a), 1.22 * math.sin(a), "o", ms=4, color="black", zorder=3)
    ax.scatter([seat[0]], [seat[1]], s=120, marker="s", color="#555555", zorder=2)
    ax.text(seat[0], seat[1] - 0.16, "seat", ha="center", va="top", fontsize=7)
    if known.size:
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7)
        bar.ax.tick_params(labelsize=7)
    return fig
