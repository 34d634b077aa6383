"""What the live views show, as tables read from a running model and its tables so far.

The indicators are the run's own (:func:`popsim.outputs.runner.collect`): TFR and SRB by
year are those of ``annual``, compliance and spending those of ``kpis``. Only the village
view and the current age pyramid read the model's state directly, since the tables keep
them at year ends only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popsim.explorer.model import ExplorerModel
from popsim.mechanisms.checkups import attendance_probability
from popsim.outputs.results import Result
from popsim.outputs.statistics import compliance
from popsim.scenario.demography import N_AGES

RECENT_MONTHS = 12  #: the village view counts births over the last year

#: the village KPIs a map can be coloured by: column -> label
VILLAGE_KPIS = {
    "births": "births, last 12 months",
    "compliance": "compliance (share of births in plan), last 12 months",
    "checkup_reach": "check-up reach: chance a resident target woman attends a round",
    "cadre_effectiveness": "mean effectiveness of the village's cadres",
}


def births_by_month(result: Result) -> pd.DataFrame:
    """Births of every month so far: ``month``, ``true`` and ``registered`` (NaN: no regime)."""
    monthly = result.monthly[["month", "births"]].rename(columns={"births": "true"})
    births = result.events[result.events["event"] == "birth"]
    registered = births[births["reported"] == 1].groupby("month").size()
    registers = bool((births["reported"] >= 0).any())  # births are registered under the regime
    monthly["registered"] = (
        registered.reindex(monthly["month"], fill_value=0).to_numpy() if registers else np.nan
    )
    return monthly


def complete_years(model: ExplorerModel, result: Result) -> pd.DataFrame:
    """One row per completed year: TFR, SRB, compliance true and reported, spending."""
    done = model.world.t // 12
    years = result.annual[["year", "tfr", "srb", "births", "population"]]
    years = years[years["year"] < model.settings.first_year + done]
    wanted = ["compliance_true", "compliance_reported", "spend_total", "yuan_fee_collected"]
    if set(wanted) <= set(result.kpis.columns):
        years = years.merge(result.kpis[["year", *wanted]], on="year", how="left")
    else:
        years = years.assign(**dict.fromkeys(wanted, np.nan))
    return years.reset_index(drop=True)


def pyramid_now(model: ExplorerModel) -> pd.DataFrame:
    """Persons alive now by 5-year age group (rows ``0-4`` .. ``100+``) and sex."""
    p, age = model.world.persons, model.world.age_years
    alive = p.alive
    counts = np.bincount(
        p.sex[alive].astype(np.int64) * N_AGES + age[alive], minlength=2 * N_AGES
    ).reshape(2, N_AGES)
    groups = np.minimum(np.arange(N_AGES) // 5, 20)
    table = pd.DataFrame(
        {"female": np.bincount(groups, counts[0]), "male": np.bincount(groups, counts[1])}
    ).astype(int)
    table.index = [f"{5 * g}-{5 * g + 4}" for g in range(20)] + ["100+"]
    return table


def villages(model: ExplorerModel, result: Result) -> pd.DataFrame:
    """One row per village: the map's KPIs (:data:`VILLAGE_KPIS`) and its population.

    Births and compliance count the last 12 months; check-up reach and cadre
    effectiveness are those of now (NaN without the regime).
    """
    n = model.params.township.n_villages
    out = pd.DataFrame({"population": model.village_population.astype(int)}, index=range(n))
    births = result.events[
        (result.events["event"] == "birth")
        & (result.events["month"] >= model.world.t - RECENT_MONTHS)
    ]
    by_village = births.groupby("village")
    out["births"] = by_village.size().reindex(out.index, fill_value=0).astype(int)
    out_of_plan = by_village["out_of_plan"].apply(lambda s: int((s == 1).sum()))
    out["compliance"] = compliance(out_of_plan.reindex(out.index, fill_value=0), out["births"])
    out["checkup_reach"] = np.nan
    out["cadre_effectiveness"] = np.nan
    if model.regime is not None:
        ch = model.params.policy.checkups
        out["checkup_reach"] = attendance_probability(
            np.zeros(n, dtype=bool),
            model.world.effort[:n],
            resident=ch.participation if ch.enabled else 0.0,
            migrant=ch.migrant_participation,
            room_gain=1.0 + ch.room_effect * ch.room_quality,
        )
        cadres = pd.DataFrame(
            {
                "village": [c.village for c in model.regime.cadres],
                "effectiveness": [c.effectiveness for c in model.regime.cadres],
            }
        )
        out["cadre_effectiveness"] = cadres.groupby("village")["effectiveness"].mean()
    out.index.name = "village"
    return out


def headline(model: ExplorerModel, result: Result) -> dict[str, str]:
    """The run's state in a few words: date, population, last year's births and compliance."""
    t = model.world.t
    year, month = divmod(t, 12)
    recent = births_by_month(result).tail(RECENT_MONTHS)
    out = {
        "date": f"{model.settings.first_year + year}-{month + 1:02d}"
        if t < model.months
        else "end of run",
        "months run": str(t),
        "population": f"{model.population:,}",
        "births, last 12 months": f"{int(recent['true'].sum()):,}",
    }
    if recent["registered"].notna().any():
        out["registered"] = f"{int(recent['registered'].sum()):,}"
    years = complete_years(model, result)
    if not years.empty:
        last = years.iloc[-1]
        out[f"TFR {int(last['year'])}"] = f"{last['tfr']:.2f}"
        if not np.isnan(last["compliance_true"]):
            out[f"compliance {int(last['year'])}"] = (
                f"{last['compliance_true']:.3f} true, {last['compliance_reported']:.3f} reported"
            )
    return out
