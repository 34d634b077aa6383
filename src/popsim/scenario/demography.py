"""The scenario schema: every lever with its unit, range, meaning and source.

A scenario is a frozen pydantic model; unknown keys are refused. Tables indexed
by age are tuples of fixed length (ages 0..100 for mortality, marriage and the
initial population; ages 15..49 for fertility). Defaults describe the baseline
township of the 2009 bulletin (see ``docs/regime.md``); demographic tables
default to the census and UN WPP figures derived in :mod:`popsim.scenario.tables`.
Source tags: [S] sourced figure, [D] derived, [U] assumption to calibrate.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field, model_validator

from popsim.scenario import tables
from popsim.scenario.mortality import Mortality
from popsim.scenario.regime import Policy
from popsim.scenario.schema import (  # noqa: F401 - N_AGES, N_REPRO, REPRO_AGES: this module's API
    N_AGES,
    N_REPRO,
    REPRO_AGES,
    AgeRates,
    Prob,
    ReproProbs,
    ReproRates,
    Section,
    drawable_population,
    lever,
)
from popsim.scenario.timeline import Change, dated


def _repro(values) -> tuple[float, ...]:
    return tuple(float(v) for v in values[15:50])


def _default_fecundability() -> tuple[float, ...]:
    """Monthly fecundability by 5-year age group, 15-19 .. 45-49, held within each group."""
    by_group = (0.15, 0.20, 0.20, 0.17, 0.12, 0.05, 0.01)
    return tuple(p for p in by_group for _ in range(5))


class Township(Section):
    """The place and time simulated."""

    n_persons: int = lever(
        38_000,
        unit="persons",
        ge=1,
        le=50_000_000,
        meaning="registered population created at the start of the burn-in",
        source="[S] bulletin: about 38,000 residents",
    )
    n_villages: int = lever(
        14,
        unit="villages",
        ge=1,
        le=10_000,
        meaning="villages (administrative villages) in the township",
        source="[S] bulletin: 14 villages",
    )
    start_year: int = lever(
        2009,
        unit="calendar year",
        ge=1900,
        le=2200,
        meaning="year of the first simulated month (January)",
        source="[S] bulletin dated July 2009",
    )
    years: int = lever(20, unit="years", ge=1, le=300, meaning="simulated years (monthly steps)")
    burn_in_years: int = lever(
        10,
        unit="years",
        ge=0,
        le=100,
        meaning="years simulated before start_year and discarded, so the "
        "initial state settles under the rules of burn_in_policy",
    )
    burn_in_policy: Literal["baseline", "own"] = lever(
        "baseline",
        unit="choice",
        meaning="policy of the burn-in: 'baseline', the built-in baseline policy, so that "
        "scenarios share their history and differ only from start_year (or a dated change); "
        "'own', the scenario's own policy (a scenario without the regime always has its own)",
    )


class Marriage(Section):
    """First marriage, the local marriage market, and marriage migration."""

    enabled: bool = lever(
        True,
        unit="switch",
        meaning="run the marriage process (off: marital states stay as initialised)",
    )
    min_age_female: int = lever(
        20,
        unit="years",
        ge=10,
        le=40,
        meaning="legal minimum age at marriage for women",
        source="[S] Marriage Law of the PRC",
    )
    min_age_male: int = lever(
        22,
        unit="years",
        ge=10,
        le=40,
        meaning="legal minimum age at marriage for men",
        source="[S] Marriage Law of the PRC",
    )
    hazard_female: AgeRates = lever(
        lambda: tuple(tables.first_marriage_hazard("female")),
        unit="per year",
        meaning="first-marriage hazard of never-married women by age",
        source="[D] rural China 2010 census, proportions never married: Coale-McNeil schedule "
        "fitted to 15-19 .. 45-49 (tables.coale_mcneil_fit)",
    )
    hazard_male: AgeRates = lever(
        lambda: tuple(tables.first_marriage_hazard("male")),
        unit="per year",
        meaning="relative propensity of never-married men to be chosen as grooms, by age",
        source="[D] rural China 2010 census, proportions never married: Coale-McNeil schedule "
        "fitted to 15-19 .. 45-49 (tables.coale_mcneil_fit)",
    )
    schedule_shift: float = lever(
        -0.5,
        unit="years",
        ge=-5,
        le=5,
        meaning="moves both sexes' first-marriage hazards this many years later (negative: "
        "earlier); range -1 to 0",
        source="[C] profile against rural China's never-married women 20-34, the mean ages at "
        "first marriage and first birth (docs/calibration.md): -0.5. The census schedule is a "
        "synthetic cohort of rural residents; the township's brides also marry out and in",
    )
    underage_factor: float = lever(
        1.0,
        unit="ratio",
        ge=0,
        le=1,
        meaning="marriage hazard below the legal minimum age, as a share of the hazard at that age "
        "(1: as observed in the census, which includes under-age marriages; lower: stricter)",
        source="[D] 3.1 % of rural women 15-19 were married in 2010",
    )
    trend: float = lever(
        0.0,
        unit="per year",
        ge=-0.3,
        le=0.1,
        meaning="relative change per calendar year of the first-marriage hazards (women's, and "
        "men's of marrying a bride from outside) after trend_from_year: each is multiplied by "
        "exp(trend x years); range -0.08-0",
        source="[U] 0: none. China's registered marriages fell from 13.47 M in 2013 to 6.83 M "
        "in 2022 (Ministry of Civil Affairs statistical bulletins) while the cohorts at marrying "
        "ages shrank by about a quarter: roughly -0.045 per year in the hazard",
    )
    trend_from_year: int = lever(
        2013,
        unit="year",
        ge=1900,
        le=2200,
        meaning="last calendar year of the hazards as given; the trend acts from the next",
        source="[S] registered marriages in China peaked in 2013 (Ministry of Civil Affairs)",
    )
    marry_out_share: float = lever(
        0.1,
        unit="probability",
        ge=0,
        le=1,
        meaning="share of the township's brides who marry a man elsewhere and leave",
    )
    external_bride_rate: float = lever(
        0.02,
        unit="per year",
        ge=0,
        le=5,
        meaning="hazard that a never-married man of marriageable age "
        "(up to 45) marries a bride from outside, who moves in",
    )


class Fertility(Section):
    """Conception, pregnancy and birth.

    ``mode="marriage"``: married couples living together conceive with an
    age-specific fecundability while they want another child; whether they do
    is drawn at marriage and after each birth from parity progression ratios.
    ``mode="asfr"``: every woman gives birth directly at the age-specific rate,
    independent of marriage and parity, for checks against analytic demography.
    """

    mode: Literal["marriage", "asfr"] = lever(
        "marriage",
        unit="choice",
        meaning="'marriage': couples, fecundability and parity; 'asfr': plain age-specific rates",
    )
    asfr: ReproRates = lever(
        lambda: _repro(tables.asfr(1.6)),
        unit="births per woman-year",
        meaning="age-specific fertility rates 15..49 (mode 'asfr' only)",
        source="[D] 2010 census age shape scaled to TFR 1.6 (docs/regime.md §20)",
    )
    fecundability: ReproProbs = lever(
        _default_fecundability,
        unit="probability per month",
        meaning="monthly conception probability of a couple trying "
        "for a child, by the woman's age 15..49",
        source="[U] shape after Bongaarts & Potter (1983)",
    )
    parity_progression: tuple[Prob, ...] = lever(
        (0.98, 0.55, 0.12, 0.05),
        unit="probability",
        min_length=1,
        max_length=20,
        meaning="share of women at parity k (k=0,1,..) "
        "who try for another child; the last "
        "value holds for higher parities",
    )
    postpartum_months: int = lever(
        6, unit="months", ge=0, le=36, meaning="months after a birth before conception is possible"
    )
    miscarriage_prob: float = lever(
        0.12,
        unit="probability",
        ge=0,
        lt=1,
        meaning="share of pregnancies ending in spontaneous loss (months 1-3)",
        source="[U] clinical range 10-15 %",
    )
    unintended_abortion: float = lever(
        0.607,
        unit="probability",
        ge=0,
        le=1,
        meaning="share of unintended pregnancies (conceived while the couple was not "
        "trying: a method's failure) that the couple ends by induced abortion of its own "
        "accord (month 2), for a woman without a son (with one: at the odds ratio "
        "unintended_abortion_son_odds); intended pregnancies are not ended this way",
        source="[C] fitted with the targets unintended_aborted and "
        "abortions_intended_share: of married women's unintended pregnancies in China "
        "2010-2017, 67.1 % ended in induced abortion, this counting those the regime "
        "ended; fewer in rural areas (Wang, Zou, Liu and Chen, China Population and "
        "Development Studies 7(1), 2023, doi 10.1007/s42379-023-00126-3)",
    )
    unintended_abortion_son_odds: float = lever(
        3.18,
        unit="odds ratio",
        ge=0,
        le=100,
        meaning="odds of ending an unintended pregnancy for a woman who has a son, relative "
        "to one who has none (1: the same chance; above 1: a couple with its son wants the "
        "pregnancy less); range 1-20",
        source="[C] popsim calibrate params/calibration/baseline.yaml: 3.18, near-best "
        "1.1-9.7 (docs/calibration.md). Induced abortion of unintended pregnancies was more "
        "common among women who had given birth to a boy and among those with more children "
        "(the same survey: Wang, Zou, Liu and Chen 2023), which gives the direction, not "
        "the ratio",
    )


class Migration(Section):
    """Labour migration (away but registered), permanent emigration, in-migration."""

    enabled: bool = lever(True, unit="switch", meaning="run the migration processes")
    labour_out_rate: float = lever(
        0.06,
        unit="per year",
        ge=0,
        le=5,
        meaning="hazard that a resident aged labour_age_min..max leaves "
        "to work elsewhere, staying registered",
        source="[U] ~15 % of Anhui's registered population lived out of province in 2010 [S]",
    )
    labour_return_rate: float = lever(
        0.2, unit="per year", ge=0, le=12, meaning="hazard that a labour migrant returns home"
    )
    couple_together: float = lever(
        0.75,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance that a married labour migrant's spouse (or a migrant's bride) goes too",
    )
    separated_contact: float = lever(
        0.0604,
        unit="ratio",
        ge=0,
        le=1,
        meaning="conception rate of a couple living apart, relative to one living together "
        "(home visits, e.g. at the Spring Festival)",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    labour_age_min: int = lever(
        16, unit="years", ge=0, le=100, meaning="youngest age of labour migration"
    )
    labour_age_max: int = lever(
        45, unit="years", ge=0, le=100, meaning="oldest age of labour migration"
    )
    emigration_rate: float = lever(
        0.004,
        unit="per year",
        ge=0,
        le=1,
        meaning="hazard that a household leaves the township for good",
    )
    immigration_rate: float = lever(
        0.000373,
        unit="per person-year",
        ge=0,
        le=1,
        meaning="in-migrants (never-married adults, immigrant_age_min..max) per resident per year",
        source="[C] popsim calibrate params/calibration/baseline.yaml: 0.000373, near-best "
        "0.0001-0.0024 (docs/calibration.md); no source counts who moves into a rural "
        "township unmarried. The women's never-married shares at 25-34 and the mean age at "
        "first birth pin it",
    )
    immigrant_age_min: int = lever(
        18,
        unit="years",
        ge=12,
        le=64,
        meaning="youngest age of an in-migrant on arrival",
        source="[U] adults",
    )
    immigrant_age_max: int = lever(
        35,
        unit="years",
        ge=12,
        le=64,
        meaning="oldest age of an in-migrant on arrival (ages spread evenly from the youngest)",
        source="[U] young adults; with few in-migrants the span barely matters",
    )


class Demography(Section):
    """The demographic core."""

    srb: float = lever(
        1.06,
        unit="males per female",
        gt=0,
        le=5,
        meaning="sex ratio at conception-to-birth without sex selection",
        source="[S] natural SRB 1.05-1.06 (docs/regime.md §15)",
    )
    mortality: Mortality = Field(default_factory=Mortality)
    marriage: Marriage = Field(default_factory=Marriage)
    fertility: Fertility = Field(default_factory=Fertility)
    migration: Migration = Field(default_factory=Migration)


class InitialPopulation(Section):
    """Age-sex structure of the initial population (weights, normalised on use)."""

    male_by_age: AgeRates = lever(
        lambda: tuple(tables.registered_age_sex()[0]),
        unit="weight",
        meaning="relative number of men by single year of age 0..100+",
        source="[D] Anhui 2010 census by age group, China 2010 single-year shape, with the "
        "15 % of registered persons living out of province put back at ages 15-44",
    )
    female_by_age: AgeRates = lever(
        lambda: tuple(tables.registered_age_sex()[1]),
        unit="weight",
        meaning="relative number of women by single year of age 0..100+",
        source="[D] Anhui 2010 census by age group, China 2010 single-year shape, with the "
        "15 % of registered persons living out of province put back at ages 15-44",
    )
    as_of_year: int = lever(
        2011,
        unit="year",
        ge=1800,
        le=2200,
        meaning="the year at whose start the age structure holds; the model draws the "
        "burn-in's first population from it by going back the years between (a structure "
        "dated before the burn-in's start is taken as of that start)",
        source="[S] the 2010 census counted persons as of 1 November 2010, two months before 2011",
    )


class Scenario(Section):
    """A complete, validated scenario."""

    name: str = lever("baseline", unit="text", meaning="short name used in outputs")
    description: str = lever("", unit="text", meaning="the question this scenario answers")
    township: Township = Field(default_factory=Township)
    demography: Demography = Field(default_factory=Demography)
    initial: InitialPopulation = Field(default_factory=InitialPopulation)
    policy: Policy = Field(default_factory=Policy)
    timeline: tuple[Change, ...] = lever(
        (),
        unit="dated changes",
        meaning="changes of policy or demography fields from a given month on, in date "
        "order, each with its source (docs/model.md, 'Timeline')",
    )

    @model_validator(mode="after")
    def _timeline_valid(self) -> Scenario:
        if self.timeline:
            dated(self)
        return self

    @model_validator(mode="after")
    def _initial_population_drawable(self) -> Scenario:
        i, m = self.initial, self.demography.mortality
        for mx_female, mx_male in m.tables():
            drawable_population(
                {"female": i.female_by_age, "male": i.male_by_age},
                {"female": mx_female, "male": mx_male},
                self.back_projection_years(),
            )
        return self

    def back_projection_years(self) -> int:
        """Years from the burn-in's start to the date of the initial age structure (>= 0).

        Persons aged a when the burn-in starts are those aged a + these years in the
        structure (:func:`popsim.model.initial.back_project`).
        """
        first = self.township.start_year - self.township.burn_in_years
        return max(0, self.initial.as_of_year - first)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of every model input (not the name or description)."""
        inputs = self.model_dump(mode="json", exclude={"name", "description"})
        text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
