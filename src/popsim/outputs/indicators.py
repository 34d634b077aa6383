"""Annual indicators from event tables, exposures and year-end snapshots.

Rates are occurrence / exposure: person-years are counted at the start of each
month (1/12 person-year per person alive then), ages in completed years at that
moment, the same ages the events are recorded with. ASFR and TFR cover mothers
aged 15-49; births outside that range count in CBR only. SRB is in males per
100 females, the demographic convention the targets use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popsim.outputs.statistics import births_by_age, crude_rate, srb, woman_years

AGE_GROUPS = [(a, a + 4) for a in range(0, 100, 5)] + [(100, 100)]


def exposure_frame(exposure: np.ndarray, start_year: int) -> pd.DataFrame:
    """Person-years by year, sex and single year of age, as a tidy table."""
    years, sexes, ages = np.indices(exposure.shape)
    return pd.DataFrame(
        {
            "year": (years + start_year).ravel(),
            "sex": sexes.ravel().astype(np.int8),
            "age": ages.ravel().astype(np.int16),
            "person_years": exposure.ravel(),
        }
    )


def _rate_table(counts: pd.Series, exposure: pd.Series) -> pd.DataFrame:
    table = (counts.reindex(exposure.index, fill_value=0) / exposure).unstack("age")
    return table.fillna(0.0)


def asfr(events: pd.DataFrame, exposure: pd.DataFrame) -> pd.DataFrame:
    """Births per woman-year by year (rows) and mother's single year of age 15..49 (columns)."""
    births = events[events["event"] == "birth"]
    return _rate_table(births_by_age(births), woman_years(exposure))


def asfr_5year(events: pd.DataFrame, exposure: pd.DataFrame) -> pd.DataFrame:
    """Births per woman-year by year and 5-year age group 15-19 .. 45-49."""
    births = events[events["event"] == "birth"]
    group = (births["age_months"] // 12 // 5) * 5
    counts = births.assign(age=group).groupby(["year", "age"]).size()
    women = woman_years(exposure).reset_index()
    women = women.assign(age=(women["age"] // 5) * 5).groupby(["year", "age"])["person_years"]
    table = _rate_table(counts, women.sum())
    table.columns = [f"{a}-{a + 4}" for a in table.columns]
    return table


def death_rates(events: pd.DataFrame, exposure: pd.DataFrame) -> pd.DataFrame:
    """Deaths per person-year by sex and single year of age, pooled over all years."""
    deaths = events[events["event"] == "death"]
    deaths = deaths.assign(age=np.minimum(deaths["age_months"] // 12, 100))
    counts = deaths.groupby(["sex", "age"]).size()
    person_years = exposure.groupby(["sex", "age"])["person_years"].sum()
    out = pd.DataFrame(
        {"deaths": counts.reindex(person_years.index, fill_value=0), "person_years": person_years}
    )
    out["rate"] = out["deaths"] / out["person_years"].where(out["person_years"] > 0)
    return out.reset_index()


def annual(
    monthly: pd.DataFrame,
    events: pd.DataFrame,
    exposure: pd.DataFrame,
    start_year: int,
    pyramid: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per simulated year: stocks, flows, CBR, CDR, TFR, SRB, mean age at first birth.

    With the year-end ``pyramid``, also the population by sex at the end of each year.
    """
    monthly = monthly.assign(year=monthly["month"] // 12 + start_year)
    by_year = monthly.groupby("year")
    out = pd.DataFrame(
        {
            "population_start": by_year["population_start"].first(),
            "population": by_year["population"].last(),
            "away": by_year["away"].last(),
            **{
                k: by_year[k].sum()
                for k in ("births", "deaths", "in_migrants", "out_migrants", "marriages")
            },
        }
    )
    births = events[events["event"] == "birth"]
    sex_counts = (
        births.groupby(["year", "sex"])
        .size()
        .unstack("sex")
        .reindex(index=out.index, columns=[0, 1], fill_value=0)
        .fillna(0)
        .astype(int)
    )
    out["births_male"], out["births_female"] = sex_counts[1], sex_counts[0]
    person_years = exposure.groupby("year")["person_years"].sum().reindex(out.index)
    out["person_years"] = person_years
    out["cbr"] = crude_rate(out["births"], person_years)
    out["cdr"] = crude_rate(out["deaths"], person_years)
    # the sum of the ASFR table's rows; statistics.tfr adds the same rates in another order
    out["tfr"] = asfr(events, exposure).sum(axis=1).reindex(out.index, fill_value=0.0)
    out["srb"] = srb(out["births_male"], out["births_female"])
    first = births[births["order"] == 1]
    out["mean_age_first_birth"] = (first["age_months"] / 12).groupby(first["year"]).mean()
    if pyramid is not None:
        by_sex = pyramid.groupby(["year", "sex"])["persons"].sum().unstack("sex")
        out["population_male"] = by_sex.get(1)
        out["population_female"] = by_sex.get(0)
    out = out.reset_index()
    columns = [
        "year",
        "population",
        "births",
        "births_male",
        "births_female",
        "deaths",
        "in_migrants",
        "out_migrants",
        "cbr",
        "cdr",
        "tfr",
        "srb",
    ]
    return out[columns + [c for c in out.columns if c not in columns]]


PYRAMID_COUNTS = ("persons", "residents", "never_married")  #: the snapshot's layers


def pyramid(snapshots: list[np.ndarray], start_year: int) -> pd.DataFrame:
    """Year-end persons by 5-year age group and sex (tidy).

    All registered (``persons``), those present (``residents``, not away) and the present
    never married.
    """
    rows = []
    for i, counts in enumerate(snapshots):
        for sex in (0, 1):
            for lo, hi in AGE_GROUPS:
                rows.append(
                    (
                        start_year + i,
                        f"{lo}-{hi}" if lo < 100 else "100+",
                        sex,
                        *(int(layer[sex, lo : hi + 1].sum()) for layer in counts),
                    )
                )
    return pd.DataFrame(rows, columns=["year", "age_group", "sex", *PYRAMID_COUNTS])


def parity_distribution(snapshots: list[np.ndarray], start_year: int) -> pd.DataFrame:
    """Year-end women aged 45-49 by parity (the last class is open); none before a year end."""
    if not snapshots:
        return pd.DataFrame({"year": pd.Series(dtype=np.int64)})
    table = pd.DataFrame(np.array(snapshots), columns=[str(k) for k in range(len(snapshots[0]))])
    table.insert(0, "year", np.arange(len(snapshots)) + start_year)
    return table
