"""Indicator formulas, each written once, and the figures calibrations and sweeps use.

The annual and KPI tables, the comparisons of scenarios and the calibration all compute
TFR, SRB, crude rates and shares with the functions here, so an indicator means the same
wherever it is shown. They take Series (by year, seed, ...) or plain numbers.

:func:`statistics` reduces one run to every figure of :data:`STATISTICS`, on its first
:data:`WINDOW_YEARS` years, pooled over them (SRB, shares of births) or averaged (rates).
:func:`dated` computes the figures of :data:`DATED` for one calendar year, named
``FIGURE@YEAR`` (``srb@2020``): the dated targets of a run through a policy history.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from popsim.outputs.results import Result
from popsim.scenario.demography import REPRO_AGES

#: every figure :func:`statistics` computes: its name and meaning
STATISTICS = {
    "cbr": "crude birth rate, per 1000",
    "tfr_true": "total fertility rate, all births",
    "tfr_reported": "total fertility rate, registered births",
    "srb": "sex ratio at birth, males per 100 females",
    "srb_order_2": "SRB of second births",
    "srb_order_3plus": "SRB of third and later births",
    "share_order_2": "second births, share of all births",
    "share_order_3plus": "third and later births, share of all births",
    "third_births_daughters_share": "third-birth rate of mothers of two daughters over the sum "
    "of it and that of mothers of two sons (r / (1 + r), r the rate ratio; women under 50)",
    "male_share_2nd_after_girl": "male share of 2nd births after a girl",
    "contraceptive_prevalence": "married women 15-49 using a method",
    "share_iud": "IUD, share of married women 15-49",
    "share_sterilisation": "female or male sterilisation, share",
    "share_condom": "condom, share",
    "share_pill": "pill, share",
    "mean_age_first_marriage": "women's mean age at first marriage",
    "single_women_20_24": "never-married share of the women 20-24 present at the year ends",
    "single_women_25_29": "never-married share of the women 25-29 present at the year ends",
    "single_women_30_34": "never-married share of the women 30-34 present at the year ends",
    "mean_age_first_birth": "women's mean age at first birth",
    "fee_collection_rate": "social maintenance fee collected / levied",
    "compliance_reported": "in-plan share of registered births",
    "compliance_true": "in-plan share of all births",
    "unreported_share": "share of births not registered",
    "abortion_ratio": "induced abortions (every reason) per live birth",
    "unintended_share": "unintended pregnancies (conceived while not trying), share of all",
    "unintended_aborted": "share of unintended pregnancies ended by induced abortion",
    "abortions_intended_share": "share of induced abortions that ended an intended pregnancy",
}

WINDOW_YEARS = 3  #: the targets describe 2009-2011: the first years of the baseline

#: births_index is 100 at the mean of these years' births: the five years before the first
#: relaxation took effect. A base of several years keeps one year's chance out of every index:
#: 450 births a year (38,000 persons) vary by about 5 % from run to run, their five-year mean
#: by about 2 %.
BASE_YEARS = (2010, 2011, 2012, 2013, 2014)

#: figures of one calendar year, named FIGURE@YEAR, and their meaning
DATED = {
    "births_index": f"births per 100 of the mean year of {BASE_YEARS[0]}-{BASE_YEARS[-1]}",
    "cbr": "crude birth rate, per 1000",
    "tfr_true": "total fertility rate, all births",
    "srb": "sex ratio at birth, males per 100 females",
    "share_order_2": "second births, share of all births",
    "share_order_3plus": "third and later births, share of all births",
}


def dated_name(name: str) -> tuple[str, int] | None:
    """``'srb@2020'`` -> ``('srb', 2020)``; None if ``name`` is not a dated figure."""
    figure, sep, year = name.partition("@")
    if not sep or figure not in DATED or not year.isdigit():
        return None
    return figure, int(year)


def is_figure(name: str) -> bool:
    """Whether ``name`` is a figure of :data:`STATISTICS` or a dated one (``FIGURE@YEAR``)."""
    return name in STATISTICS or dated_name(name) is not None


# --- formulas --------------------------------------------------------------------------------


Value = pd.Series | float  #: by year, seed, ... or pooled into one number


def _positive(whole: Value) -> Value:
    """``whole`` with 0 as NaN: a share of nothing is undefined, not 0 or infinite."""
    if isinstance(whole, pd.Series):
        return whole.where(whole > 0)
    return whole if whole > 0 else math.nan


def ratio(part: Value, whole: Value) -> Value:
    """``part / whole``, NaN where ``whole`` is 0."""
    return part / _positive(whole)


def compliance(out_of_plan: Value, births: Value) -> Value:
    """The in-plan share of births."""
    return 1 - ratio(out_of_plan, births)


def srb(male: Value, female: Value) -> Value:
    """Sex ratio at birth: males per 100 females (the targets' convention), NaN without girls."""
    return 100 * male / _positive(female)


def crude_rate(count: Value, person_years: Value) -> Value:
    """Events per 1000 person-years (CBR, CDR)."""
    return 1000 * count / person_years


def births_by_age(births: pd.DataFrame) -> pd.Series:
    """Births by year and mother's age in completed years, as the events record it."""
    return births.assign(age=births["age_months"] // 12).groupby(["year", "age"]).size()


def woman_years(exposure: pd.DataFrame) -> pd.Series:
    """Person-years of women aged 15-49 by year and single year of age."""
    ages = exposure["age"].between(REPRO_AGES.start, REPRO_AGES.stop - 1)
    return exposure[(exposure["sex"] == 0) & ages].set_index(["year", "age"])["person_years"]


def tfr(births: pd.Series, women: pd.Series, by: str = "year") -> pd.Series:
    """Total fertility rate by ``by``: the sum over ages of births / woman-years.

    Both are indexed by ``by`` and age; the cells are those of ``women``, so births at other
    ages (mothers under 15 or over 49) are left out. Pooling over years is summing both over
    them first.
    """
    return (births.reindex(women.index, fill_value=0) / women).groupby(level=by).sum()


# --- the figures of one run ------------------------------------------------------------------


def dated(result: Result, names: list[str]) -> dict[str, float]:
    """The dated figures ``names`` (``FIGURE@YEAR``) of one run; NaN for a year it lacks."""
    births = result.events[result.events["event"] == "birth"]
    by_year = births.groupby("year")
    counts = by_year.size()
    years = set(result.annual["year"])
    base = (
        sum(counts.get(y, 0) for y in BASE_YEARS) / len(BASE_YEARS)
        if years.issuperset(BASE_YEARS)
        else 0
    )
    out = {}
    for name in names:
        figure, year = dated_name(name) or (None, None)
        if figure is None:
            raise ValueError(f"{name!r} is not a dated figure FIGURE@YEAR of {list(DATED)}")
        if year not in counts.index:
            out[name] = math.nan
            continue
        of_year = by_year.get_group(year)
        if figure == "births_index":
            out[name] = float(100 * ratio(counts[year], base))
        elif figure == "cbr":
            out[name] = float(result.annual.set_index("year")["cbr"].get(year, math.nan))
        elif figure == "tfr_true":
            exposure = result.exposure[result.exposure["year"] == year]
            out[name] = _tfr(of_year, exposure)
        elif figure == "srb":
            male = float(of_year["sex"].sum())
            out[name] = float(srb(male, len(of_year) - male))
        elif figure == "share_order_2":
            out[name] = float(ratio(int((of_year["order"] == 2).sum()), len(of_year)))
        else:
            out[name] = float(ratio(int((of_year["order"] >= 3).sum()), len(of_year)))
    return out


def _window(frame: pd.DataFrame, first_year: int) -> pd.DataFrame:
    return frame[frame["year"] < first_year + WINDOW_YEARS] if "year" in frame else frame


SINGLE_GROUPS = ("20-24", "25-29", "30-34")  #: age groups of the never-married shares


def single_women(pyramid: pd.DataFrame) -> dict[str, float]:
    """Never-married share of the women present in each of :data:`SINGLE_GROUPS`.

    Pooled over the window's year ends, as a census counts its residents (those away for
    work are counted where they are). Empty without the columns (tables saved before them).
    """
    if "never_married" not in pyramid:
        return {}
    women = pyramid[pyramid["sex"] == 0]  # 0: female
    totals = women.groupby("age_group")[["residents", "never_married"]].sum()
    return {
        f"single_women_{group.replace('-', '_')}": ratio(
            int(totals.at[group, "never_married"]), int(totals.at[group, "residents"])
        )
        for group in SINGLE_GROUPS
        if group in totals.index
    }


def _tfr(births: pd.DataFrame, exposure: pd.DataFrame) -> float:
    """Mean over the years of the TFR of ``births``."""
    return float(tfr(births_by_age(births), woman_years(exposure)).mean())


def _third_births_daughters_share(births: pd.DataFrame, monthly: pd.DataFrame) -> float:
    """The share of third births mothers of two daughters would have against two sons'.

    That is r / (1 + r), r the ratio of the third-birth rates of mothers of two daughters and
    of two sons, as if both groups were equally large. Each rate is third births per
    woman-month over the window (the mothers counted at each month's end), as a survey of
    birth histories measures it. The share stays finite in a run with no third birth to
    mothers of two sons, where the ratio would not.
    """
    third = births[births["order"] == 3]
    window = monthly[monthly["month"] < 12 * WINDOW_YEARS]
    daughters = ratio(int((third["sons_before"] == 0).sum()), window["mothers_two_daughters"].sum())
    sons = ratio(int((third["sons_before"] == 2).sum()), window["mothers_two_sons"].sum())
    return ratio(daughters, daughters + sons)


def statistics(result: Result) -> dict[str, float]:
    """Every figure of :data:`STATISTICS` from the first years of one run (NaN: none).

    Registration, compliance, fees and contraception need the regime (``policy.enabled``):
    without it they are left out.
    """
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
    abortions = e[e["event"] == "abortion"]
    second = births[births["order"] == 2]
    after_girl = second[second["sons_before"] == 0]
    brides = e[(e["event"] == "marriage") & (e["sex"] == 0)]

    def pooled_srb(sex: pd.Series) -> float:
        male = float(sex.sum())
        return srb(male, max(len(sex) - male, 1.0))  # no girls: 100 x boys, not NaN

    stats = {
        "cbr": result.annual["cbr"].mean(),
        "tfr_true": _tfr(births, result.exposure),
        "srb": pooled_srb(births["sex"]),
        "srb_order_2": pooled_srb(second["sex"]),
        "srb_order_3plus": pooled_srb(births[births["order"] >= 3]["sex"]),
        "share_order_2": ratio(len(second), len(births)),
        "share_order_3plus": ratio(int((births["order"] >= 3).sum()), len(births)),
        "male_share_2nd_after_girl": after_girl["sex"].mean(),
        "mean_age_first_marriage": (brides["age_months"] / 12).mean(),
        "mean_age_first_birth": (births[births["order"] == 1]["age_months"] / 12).mean(),
        "third_births_daughters_share": _third_births_daughters_share(births, result.monthly),
        **single_women(_window(result.pyramid, first)),
    }
    if not k.empty:  # the regime's figures: the core has no registration, fees or methods
        total = {c: k[c].sum() for c in k.columns}  # pooled over the years
        stats |= {
            "tfr_reported": _tfr(births[births["reported"] == 1], result.exposure),
            "unreported_share": 1 - (births["reported"] == 1).mean(),
            "contraceptive_prevalence": k["contraceptive_prevalence"].mean(),
            "share_iud": k["share_iud"].mean(),
            "share_sterilisation": (
                k["share_female_sterilisation"] + k["share_male_sterilisation"]
            ).mean(),
            "share_condom": k["share_condom"].mean(),
            "share_pill": k["share_pill"].mean(),
            "fee_collection_rate": ratio(total["yuan_fee_collected"], total["yuan_fee_levied"]),
            "compliance_reported": compliance(
                total["births_out_of_plan_reported"], total["births_reported"]
            ),
            "compliance_true": compliance(total["births_out_of_plan"], total["births"]),
            "abortion_ratio": ratio(len(abortions), len(births)),
            "unintended_share": ratio(total["conceptions_unintended"], total["conceptions"]),
            "unintended_aborted": ratio(
                int((abortions["intended"] == 0).sum()), total["conceptions_unintended"]
            ),
            "abortions_intended_share": ratio(
                int((abortions["intended"] == 1).sum()), len(abortions)
            ),
        }
    return {name: float(stats[name]) for name in STATISTICS if name in stats}
