"""The family-planning regime's levers (docs/regime.md §2-§17), one schema section per mechanism.

The couples' side (their decision, contraception, sex selection) is in
:mod:`popsim.scenario.couples`; :class:`Policy` gathers both.

Money is in yuan; ``income`` is local annual net income per person, the unit
in which the couple's decision weighs prices. Every section has ``enabled``;
with the whole ``policy.enabled`` false no policy code runs and
the demographic core is reproduced exactly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from popsim.scenario.couples import Contraception, Decision, SexSelection
from popsim.scenario.schema import Section, cross_field, lever

Regime = Literal[
    "none", "one_child", "one_and_half", "selective_two_child", "two_child", "three_child"
]


#: where the rural second child's waiting conditions come from (docs/regime.md §2)
SECOND_CHILD_CONDITIONS = (
    "[S] none in Anhui: Anhui is among the 19 provinces that had abolished the spacing "
    "interval and the minimum age for a permitted second child before 2014 (Caixin, reported "
    "by International Business Times, 19 Chinese provinces remove mandatory gap between a "
    "woman's first-born and her second; Sina survey 79928: no baby boom in the provinces "
    "that abolished it over the previous decade)"
)


class BirthRules(Section):
    """Which births are in plan (docs/regime.md §2, §4); changed over time by a timeline."""

    regime: Regime = lever(
        "one_and_half",
        unit="choice",
        meaning="birth rule: 'one_child' the first child only; 'one_and_half' a 2nd child "
        "only after a girl; 'selective_two_child' as one_and_half, and a 2nd child whenever "
        "either spouse is an only child; 'two_child' two; 'three_child' three; later births "
        "are never in plan ('none': no rule)",
        source="[S] bulletin: rural 1.5-child rule",
    )
    spacing_months: int = lever(
        0,
        unit="months",
        ge=0,
        le=240,
        meaning="minimum interval after the 1st birth for an in-plan 2nd (one_and_half)",
        source=SECOND_CHILD_CONDITIONS,
    )
    second_child_min_age: int = lever(
        20,
        unit="years",
        ge=15,
        le=49,
        meaning="minimum age of the mother for an in-plan 2nd child (one_and_half); 20: the "
        "legal age of marriage, no condition of its own",
        source=SECOND_CHILD_CONDITIONS,
    )


class Incentives(Section):
    """Rewards for compliance (docs/regime.md §10-§12, §17), each paid from its budget line."""

    enabled: bool = lever(True, unit="switch", meaning="pay the incentives")
    scale: float = lever(
        1.0,
        unit="ratio",
        ge=0,
        le=100,
        meaning="multiplier on every amount below (0: removed, 2: doubled)",
    )
    certificate_takeup: float = lever(
        0.7,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance a one-child couple takes the certificate",
    )
    health_fee_monthly: float = lever(
        10.0,
        unit="yuan per month",
        ge=0,
        le=1e5,
        meaning="one-child health fee paid to certificate holders",
    )
    health_fee_age_limit: int = lever(
        14, unit="years", ge=0, le=30, meaning="the only child's age at which the fee stops"
    )
    two_daughter_reward: float = lever(
        1000.0,
        unit="yuan",
        ge=0,
        le=1e6,
        meaning="one-off reward: two daughters and a sterilised spouse",
    )
    quota_waiver_reward: float = lever(
        1000.0,
        unit="yuan",
        ge=0,
        le=1e6,
        meaning="one-off reward for giving up an in-plan 2nd birth",
    )
    cable_tv_subsidy: float = lever(
        300.0,
        unit="yuan",
        ge=0,
        le=1e5,
        meaning="cable-TV subsidy per certified household (town 200 + village 100)",
        source="[S] bulletin",
    )
    land_requisition_rate: float = lever(
        0.01, unit="per year", ge=0, le=1, meaning="chance a household's land is requisitioned"
    )
    land_compensation: float = lever(
        20000.0,
        unit="yuan",
        ge=0,
        le=1e7,
        meaning="compensation paid a second time to certified households (the 'double' part)",
    )
    hiring_income_gain: float = lever(
        1000.0,
        unit="yuan per year",
        ge=0,
        le=1e6,
        meaning="income gain of certified households from hiring priority (not a budget outlay)",
    )
    old_age_reward: float = lever(
        600.0,
        unit="yuan per year",
        ge=0,
        le=1e5,
        meaning="per parent aged 60+ with one child or two daughters",
        source="[S] national programme from 2004",
    )
    old_age_age: int = lever(60, unit="years", ge=40, le=100, meaning="age of the old-age reward")
    discount_rate: float = lever(
        0.05, unit="per year", ge=0, le=1, meaning="rate at which couples discount future rewards"
    )


class MaintenanceFee(Section):
    """Social maintenance fee on out-of-plan births (docs/regime.md §13)."""

    detection: float = lever(
        0.9,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance the township learns of an out-of-plan birth not found at a check-up",
    )
    enabled: bool = lever(True, unit="switch", meaning="levy the fee")
    multiple: float = lever(
        4.0,
        unit="years of income",
        ge=0,
        le=20,
        meaning="fee per out-of-plan birth, in years of per-person income",
        source="[U] typically 3-6",
    )
    collection: float = lever(
        0.952,
        unit="probability",
        ge=0,
        le=1,
        meaning="collection effort: share of the levied fee pursued",
        source="[S] bulletin: collection rate 95.2 %",
    )
    wealth_share: float = lever(
        0.8,
        unit="ratio",
        ge=0,
        le=1,
        meaning="largest share of a household's wealth that can be taken",
    )


class Checkups(Section):
    """Pregnancy and IUD check-ups by village cadres, and migrant tracking (regime.md §6-§9)."""

    enabled: bool = lever(True, unit="switch", meaning="hold check-up rounds")
    interval_months: int = lever(3, unit="months", ge=1, le=24, meaning="months between rounds")
    participation: float = lever(
        0.411,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance a resident target woman attends a round",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    migrant_participation: float = lever(
        0.5, unit="probability", ge=0, le=1, meaning="chance an away woman's feedback form returns"
    )
    agreement: bool = lever(
        False, unit="switch", meaning="inter-regional agreement (two-way migrant service)"
    )
    agreement_participation: float = lever(
        0.8, unit="probability", ge=0, le=1, meaning="migrants' participation under the agreement"
    )
    detection: float = lever(
        0.931,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance a check-up finds a pregnancy or a missing IUD",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    remedial: float = lever(
        0.207,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance a detected out-of-plan pregnancy is ended",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    evasion: float = lever(
        0.133,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance a woman carrying a wanted out-of-plan pregnancy keeps away from a "
        "round (hides with relatives, stays away): the rounds reach her at (1 - evasion) "
        "x her participation, and couples weighing such a birth expect it",
        source="[C] popsim calibrate params/calibration/baseline.yaml: 0.133, near-best "
        "0.001-0.69, so not pinned (hiding lowers the share of abortions ending an intended "
        "pregnancy but raises the unregistered births); hiding from the cadres: Greenhalgh, "
        "Zhu and Li, Population and Development Review 20(2), 1994 (docs/regime.md §6)",
    )
    reinsertion: float = lever(
        0.9,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance an IUD is re-inserted after a detected removal",
    )
    reconceive: bool = lever(
        True, unit="switch", meaning="after a remedial measure the couple may try again"
    )
    cadres_per_village: int = lever(
        2,
        unit="cadres",
        ge=1,
        le=50,
        source="[S] 28 for 14 villages",
        meaning="family-planning cadres per village",
    )
    cadre_capacity: int = lever(
        250,
        unit="women per round",
        ge=1,
        le=100000,
        meaning="target women one cadre can reach in a round",
    )
    cadre_sd: float = lever(
        0.15, unit="ratio", ge=0, le=1, meaning="spread of cadre effectiveness around 1"
    )
    turnover: int = lever(
        2,
        unit="cadres per year",
        ge=0,
        le=1000,
        meaning="weakest cadres replaced each year",
        source="[S] bulletin: 2",
    )
    recruit_mean: float = lever(
        1.1, unit="ratio", ge=0, le=3, meaning="mean effectiveness of newly placed cadres"
    )
    room_quality: float = lever(
        1.0,
        unit="ratio",
        ge=0,
        le=1,
        meaning="service-room standard (0 none, 1 all 14 standardised)",
    )
    room_effect: float = lever(
        0.05, unit="ratio", ge=0, le=1, meaning="participation gain of a standardised room"
    )


class Reporting(Section):
    """Birth registration and the reported layer of every KPI (docs/regime.md §14)."""

    in_plan: float = lever(
        0.9995,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance an in-plan birth is reported",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    out_of_plan: float = lever(
        0.112,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance an out-of-plan birth enters the township's report",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    penalty: float = lever(
        0.0,
        unit="ratio",
        ge=0,
        le=1,
        meaning="misreporting penalty: closes this share of the reporting gap",
    )
    checkup_overreport: float = lever(
        0.9,
        unit="probability",
        ge=0,
        le=1,
        meaning="share of missed check-ups that cadres report as attended",
        source="[U] the bulletin reports 100 % participation",
    )


class Budget(Section):
    """Fixed costs and the income unit (docs/regime.md §9)."""

    income: float = lever(
        4504.0,
        unit="yuan per person-year",
        gt=0,
        le=1e6,
        meaning="local net income per person, the fee's and prices' unit",
        source="[S] Anhui rural net income per capita 2009",
    )
    service_rooms: float = lever(
        510_000.0,
        unit="yuan",
        ge=0,
        le=1e9,
        meaning="14 standardised village service rooms, year 1",
        source="[S] bulletin",
    )
    service_centre: float = lever(
        2_500_000.0,
        unit="yuan",
        ge=0,
        le=1e10,
        meaning="township service centre, year 1",
        source="[S] bulletin",
    )
    wealth_years: float = lever(
        53.7,
        unit="years of income",
        gt=0,
        le=100,
        meaning="mean household wealth (log-normal, sd 1 on log scale)",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )


class Costs(Section):
    """Unit costs of the regime's own work: cadres, check-ups, surgeries, running costs.

    Bookkeeping only: nothing here changes what anyone does. Each unit cost is multiplied
    by a count the mechanisms keep (docs/regime.md §9, "The regime's costs, line by line").
    Where no source was found the default is an assumption, and the meaning gives the
    range it is believed to lie in; cost results that rest on it should be read as such.
    """

    cadre_monthly_pay: float = lever(
        833.0,
        unit="yuan per cadre-month",
        ge=0,
        le=1e5,
        meaning="pay of a village family-planning cadre, pension insurance included "
        "(range 350-1,000 a month elsewhere, an assumption)",
        source="[S] Tianchang (Chuzhou, Anhui) implementing opinions on 'village-based' "
        "family-planning work, July 2010: about 10,000 yuan per cadre-year",
    )
    village_funds: float = lever(
        10.0,
        unit="yuan per registered person-year",
        ge=0,
        le=1e4,
        meaning="village work funds: the villages' family-planning tasks and the running "
        "of their service rooms",
        source="[S] Tianchang 2010: village work funds of 10 yuan per person a year",
    )
    centre_upkeep: float = lever(
        0.05,
        unit="per year",
        ge=0,
        le=1,
        meaning="running cost of the township service centre as a share of its investment "
        "(budget.service_centre) a year; its technicians are paid per procedure below",
        source="[U] assumption, range 0.02-0.10",
    )
    checkup_visit: float = lever(
        15.0,
        unit="yuan per woman checked",
        ge=0,
        le=1e4,
        meaning="one pregnancy and IUD check (test, examination or ultrasound) of a woman who "
        "attends a round, or whose feedback form comes back",
        source="[U] assumption, range 5-40",
    )
    checkup_chain: float = lever(
        3.0,
        unit="yuan per target woman per round",
        ge=0,
        le=1e4,
        meaning="allowances of the group cadres and informants who answer for each target "
        "woman in a round (the chain of responsibility, docs/regime.md §6)",
        source="[U] assumption, range 1-10",
    )
    iud_insertion: float = lever(
        60.0,
        unit="yuan per insertion",
        ge=0,
        le=1e5,
        meaning="an IUD inserted by the campaign, or re-inserted after a check-up",
        source="[U] assumption, range 30-150",
    )
    iud_removal: float = lever(
        100.0,
        unit="yuan per removal",
        ge=0,
        le=1e5,
        meaning="an IUD taken out by the service for an in-plan birth (private removals for "
        "out-of-plan births cost the regime nothing)",
        source="[U] assumption, range 40-150; removals cost women 100-150 yuan on average in a "
        "survey reported by China Daily, January 2017",
    )
    tubal_ligation: float = lever(
        400.0,
        unit="yuan per operation",
        ge=0,
        le=1e5,
        meaning="a female sterilisation by the campaign",
        source="[U] assumption, range 200-800",
    )
    vasectomy: float = lever(
        200.0,
        unit="yuan per operation",
        ge=0,
        le=1e5,
        meaning="a male sterilisation by the campaign",
        source="[U] assumption, range 100-400",
    )
    abortion_early: float = lever(
        150.0,
        unit="yuan per abortion",
        ge=0,
        le=1e5,
        meaning="a remedial abortion in the first three months of pregnancy",
        source="[U] assumption, range 80-300",
    )
    abortion_late: float = lever(
        800.0,
        unit="yuan per abortion",
        ge=0,
        le=1e5,
        meaning="a remedial abortion after the third month (induced labour)",
        source="[U] assumption, range 400-1500",
    )


class Policy(Section):
    """The family-planning regime (on by default: the bulletin's township)."""

    enabled: bool = lever(True, unit="switch", meaning="apply the family-planning regime")
    rules: BirthRules = Field(default_factory=BirthRules)
    contraception: Contraception = Field(default_factory=Contraception)
    decision: Decision = Field(default_factory=Decision)
    incentives: Incentives = Field(default_factory=Incentives)
    fee: MaintenanceFee = Field(default_factory=MaintenanceFee)
    checkups: Checkups = Field(default_factory=Checkups)
    sex_selection: SexSelection = Field(default_factory=SexSelection)
    reporting: Reporting = Field(default_factory=Reporting)
    budget: Budget = Field(default_factory=Budget)
    costs: Costs = Field(default_factory=Costs)

    @model_validator(mode="after")
    def _distributions_sum_to_one(self) -> Policy:
        total = sum(self.decision.desired_size)
        if abs(total - 1) > 1e-6:
            raise cross_field(
                "decision.desired_size",
                self.decision.desired_size,
                f"a distribution must sum to 1, this one sums to {total:.6g}",
            )
        return self
