"""Calibration targets for the baseline township (DOMAIN.md section 2) and the model's figures.

Each target is a range a calibrated baseline must hit with its mean over
replicates; :func:`statistics` computes the model's figure of every target
from one run, pooled over its years (SRB, shares) or averaged (rates).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from popsim.results import Result


@dataclass(frozen=True)
class Target:
    """A calibration target: the range to hit and where it comes from."""

    name: str
    meaning: str
    low: float
    high: float
    source: str


TARGETS = (
    Target("cbr", "crude birth rate, per 1000", 11.5, 13.5, "China 2009 12.13, Anhui 2010 12.70"),
    Target(
        "tfr_true",
        "total fertility rate, all births",
        1.4,
        1.7,
        "corrected estimates 1.5-1.6; policy fertility 1.47-1.49",
    ),
    Target(
        "tfr_reported",
        "total fertility rate, registered births",
        1.1,
        1.6,
        "census 1.18 (2010), below the true TFR",
    ),
    Target(
        "srb",
        "sex ratio at birth, males per 100 females",
        120,
        135,
        "Anhui 2005 131 (126-137); Anhui 2010 census 128.6",
    ),
    Target(
        "srb_order_2",
        "SRB of second births",
        130,
        175,
        "rural 2nd births 146 (DOMAIN); rural Anhui 2010 171.4",
    ),
    Target(
        "male_share_2nd_after_girl",
        "male share of 2nd births after a girl",
        0.58,
        0.65,
        "2000 census",
    ),
    Target(
        "contraceptive_prevalence",
        "married women 15-49 using a method",
        0.85,
        0.95,
        "about 90 % (2010)",
    ),
    Target("share_iud", "IUD, share of married women 15-49", 0.43, 0.53, "48.15 % (2010)"),
    Target(
        "share_sterilisation", "female or male sterilisation, share", 0.27, 0.37, "31.7 % (2010)"
    ),
    Target("share_condom", "condom, share", 0.06, 0.13, "9.32 % (2010)"),
    Target("share_pill", "pill, share", 0.003, 0.02, "0.98 % (2010)"),
    Target(
        "mean_age_first_marriage", "women's mean age at first marriage", 23.4, 24.4, "23.9 (2010)"
    ),
    Target("mean_age_first_birth", "women's mean age at first birth", 25.4, 26.4, "25.9 (2010)"),
    Target(
        "fee_collection_rate",
        "social maintenance fee collected / levied",
        0.9,
        1.0,
        "bulletin 95.2 %",
    ),
    Target(
        "compliance_reported",
        "in-plan share of registered births",
        0.97,
        1.0,
        "bulletin: 100 % claimed",
    ),
    Target(
        "compliance_true",
        "in-plan share of all births",
        0.8,
        0.97,
        "below the reported figure (DOMAIN)",
    ),
    Target(
        "unreported_share",
        "share of births not registered",
        0.0,
        0.1,
        "< 10 % unreported 1991-2003",
    ),
)


def _srb(sex: pd.Series) -> float:
    male = float(sex.sum())
    return 100 * male / max(len(sex) - male, 1.0)


def _tfr(births: pd.DataFrame, exposure: pd.DataFrame) -> float:
    """Mean over years of the TFR of the given births (mothers 15-49)."""
    age = births["age_months"] // 12
    counts = births[age.between(15, 49)].assign(age=age).groupby(["year", "age"]).size()
    women = exposure[(exposure["sex"] == 0) & exposure["age"].between(15, 49)]
    women = women.set_index(["year", "age"])["person_years"]
    return float((counts.reindex(women.index, fill_value=0) / women).groupby("year").sum().mean())


WINDOW_YEARS = 3  #: the targets describe 2009-2011: the first years of the baseline


def _window(frame: pd.DataFrame, first_year: int) -> pd.DataFrame:
    return frame[frame["year"] < first_year + WINDOW_YEARS] if "year" in frame else frame


def statistics(result: Result) -> dict[str, float]:
    """The model's figure for every target, from the first years of one run."""
    first = int(result.annual["year"].min())
    result = replace(
        result,
        **{
            name: _window(getattr(result, name), first)
            for name in ("annual", "events", "kpis", "exposure")
        },
    )
    e, k = result.events, result.kpis
    births = e[e["event"] == "birth"]
    second = births[births["order"] == 2]
    after_girl = second[second["sons_before"] == 0]
    brides = e[(e["event"] == "marriage") & (e["sex"] == 0)]
    stats = {
        "cbr": result.annual["cbr"].mean(),
        "tfr_true": _tfr(births, result.exposure),
        "tfr_reported": _tfr(births[births["reported"] == 1], result.exposure),
        "srb": _srb(births["sex"]),
        "srb_order_2": _srb(second["sex"]),
        "male_share_2nd_after_girl": after_girl["sex"].mean(),
        "mean_age_first_marriage": (brides["age_months"] / 12).mean(),
        "mean_age_first_birth": (births[births["order"] == 1]["age_months"] / 12).mean(),
        "unreported_share": 1 - (births["reported"] == 1).mean(),
    }
    if not k.empty:
        stats |= {
            "contraceptive_prevalence": k["contraceptive_prevalence"].mean(),
            "share_iud": k["share_iud"].mean(),
            "share_sterilisation": (
                k["share_female_sterilisation"] + k["share_male_sterilisation"]
            ).mean(),
            "share_condom": k["share_condom"].mean(),
            "share_pill": k["share_pill"].mean(),
            "fee_collection_rate": k["yuan_fee_collected"].sum() / k["yuan_fee_levied"].sum(),
            "compliance_reported": 1
            - k["births_out_of_plan_reported"].sum() / k["births_reported"].sum(),
            "compliance_true": 1 - k["births_out_of_plan"].sum() / k["births"].sum(),
        }
    return {name: float(value) for name, value in stats.items()}


def table(per_run: list[dict[str, float]]) -> pd.DataFrame:
    """Target, range, model mean and 95 % interval of the mean over replicates, and a verdict."""
    runs = pd.DataFrame(per_run)
    n = len(runs)
    t975 = {
        1: np.nan,
        2: 12.71,
        3: 4.30,
        4: 3.18,
        5: 2.78,
        6: 2.57,
        7: 2.45,
        8: 2.36,
        9: 2.31,
        10: 2.26,
    }.get(n, 1.96 + 2.4 / max(n, 1))  # Student t, 97.5 %, n - 1 d.f.
    rows = []
    for target in TARGETS:
        values = runs.get(target.name, pd.Series(dtype=float)).dropna()
        mean = values.mean()
        half = t975 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
        rows.append(
            {
                "target": target.name,
                "meaning": target.meaning,
                "range": f"{target.low:g}-{target.high:g}",
                "model_mean": mean,
                "ci95_low": mean - half,
                "ci95_high": mean + half,
                "within": bool(target.low <= mean <= target.high),
                "source": target.source,
            }
        )
    return pd.DataFrame(rows)
