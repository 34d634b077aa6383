"""The couples' side of the regime's schema: the birth decision, contraception, sex selection.

Each section holds the levers of one mechanism (``decision.py``, ``contraception.py``,
``sex_selection.py``) with their units and sources; :class:`popsim.scenario.regime.Policy` gathers
them with the regime's own levers.
"""

from __future__ import annotations

import numpy as np

from popsim.scenario.schema import Prob, Section, lever

METHODS = ("none", "condom", "pill", "iud", "female_sterilisation", "male_sterilisation")
#: method codes of the person table's ``method`` column
CONDOM, PILL, IUD = (METHODS.index(m) for m in ("condom", "pill", "iud"))
FEMALE_STERILISATION = METHODS.index("female_sterilisation")
MALE_STERILISATION = METHODS.index("male_sterilisation")


def is_sterilisation(method: np.ndarray) -> np.ndarray:
    """Whether each ``method`` is a sterilisation.

    Two comparisons: over the whole table they cost a tenth of a lookup by method.
    """
    return (method == FEMALE_STERILISATION) | (method == MALE_STERILISATION)


def is_larc(method: np.ndarray) -> np.ndarray:
    """Whether each ``method`` is long-acting: an IUD or a sterilisation."""
    return (method == IUD) | is_sterilisation(method)


class Contraception(Section):
    """Methods, failures, IUD removal and the LARC campaign (docs/regime.md §5)."""

    enabled: bool = lever(True, unit="switch", meaning="couples not trying use a method")
    failure: tuple[Prob, ...] = lever(
        (1.0, 0.012, 0.006, 0.0007, 0.0001, 0.0001),
        unit="probability per month",
        meaning=f"monthly conception probability at peak fecundability, by method {METHODS} "
        "(none = 1: the couple's fecundability)",
        source="[U] from typical-use first-year failure rates (Trussell 2011)",
        min_length=len(METHODS),
        max_length=len(METHODS),
    )
    failure_scale: float = lever(
        2.07,
        unit="multiple",
        ge=0,
        le=10,
        meaning="multiplier of every method's failure probability (not of no method): "
        "how much more often methods fail here than the typical-use rates",
        source="[C] fitted with the target unintended_share: 22.9 % of married women's "
        "pregnancies in China 2010-2017 were unintended (Wang, Zou, Liu and Chen, China "
        "Population and Development Studies 7(1), 2023, doi 10.1007/s42379-023-00126-3)",
    )
    short_acting_pill_share: float = lever(
        0.1,
        unit="probability",
        ge=0,
        le=1,
        meaning="share of short-acting users on the pill (the rest use condoms)",
        source="[S] 2010: pill 0.98 %, condom 9.32 %",
    )
    uptake: float = lever(
        0.97,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance that a couple who stop trying use any method",
    )
    iud_expulsion_rate: float = lever(
        0.03, unit="per year", ge=0, le=1, meaning="IUD expulsion or removal for health reasons"
    )
    larc: bool = lever(
        True,
        unit="switch",
        meaning="LARC campaign: IUD after the 1st birth, sterilisation after "
        "the 2nd, as monthly targets of the village cadres",
        source="[S] bulletin",
    )
    larc_rate: float = lever(
        0.448,
        unit="per month",
        ge=0,
        le=1,
        meaning="monthly completion of a listed LARC target at average cadre effort",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    sterilisation_rate: float = lever(
        0.0367,
        unit="per month",
        ge=0,
        le=1,
        meaning="monthly completion of a listed sterilisation target at average cadre effort",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    refusal: float = lever(
        0.104,
        unit="probability",
        ge=0,
        le=1,
        meaning="share of women who keep a short-acting method and are never completed as "
        "LARC targets",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    refusal_son_odds: float = lever(
        8.0,
        unit="odds ratio",
        ge=1,
        le=100,
        meaning="odds that a son-preferring woman without a son refuses LARC, against the "
        "others' odds (refusal): 1, the same for all",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md); "
        "couples with two girls were 5-6 times as likely as those with two boys to have a "
        "third child in rural Anhui (Graham, Larsen and Xu 1998)",
    )
    larc_grace_months: int = lever(
        3, unit="months", ge=0, le=60, meaning="months after a birth before the target is listed"
    )
    male_sterilisation_share: float = lever(
        0.15, unit="probability", ge=0, le=1, meaning="share of sterilisations done on the husband"
    )
    fake_certificate_prob: float = lever(
        0.15,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance an away woman's out-of-area surgery certificate is fake",
    )
    verification_prob: float = lever(
        0.3,
        unit="probability",
        ge=0,
        le=1,
        meaning="chance a fake certificate is caught (per year)",
    )


class Decision(Section):
    """The couple's fertility decision (docs/regime.md §18, docs/model.md).

    Desire: a couple wants another child while its parity is below its desired
    family size, or, if it prefers sons, while it has none (up to
    ``son_seeking_max_parity``). A desiring couple starts trying within a year
    with probability ``P = P0 * ((C + price) / C) ** eta``, P0 = 1 - (1 -
    try_rate) ** 12 and ``eta = elasticity * (C + reference) / reference``, so
    that the elasticity of P with respect to the policy price is ``elasticity``
    at the reference price; the monthly probability is ``1 - (1 - P) ** (1/12)``.
    A couple with children starts only ``wait_after_birth_months`` after its last birth.
    ``period_factor`` scales every monthly probability, first births' included (a period
    effect on timing, such as the pandemic's).
    The price (years of income) is the expected fee plus the share ``reward_weight`` of
    the rewards the birth would forfeit for every couple eligible to claim them, less the
    value of a son to a son-preferring couple without one. Desire fades: P falls linearly to zero
    from ``fade_from_age`` to ``max_try_age``, and a couple with children who wants
    another but is not trying gives the wish up with a half-life of
    ``desire_half_life_years`` (``blocked_half_life_years`` while the rule forbids
    the birth however long it waits); a sonless couple's wish for a son may last
    ``son_wish_persistence`` times as long. Desired size, son preference and sex selection may
    follow linear trends in calendar time from ``trend_reference_year``.
    """

    enabled: bool = lever(
        True, unit="switch", meaning="couples decide by desire and price (off: parity progression)"
    )
    desired_size: tuple[Prob, ...] = lever(
        (0.05, 0.5, 0.42, 0.03),
        unit="probability",
        min_length=2,
        max_length=8,
        meaning="distribution of desired family size 0, 1, 2, ... children, drawn at marriage",
    )
    son_preference: float = lever(
        0.629,
        unit="probability",
        ge=0,
        le=1,
        meaning="share of couples who want at least one son",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    son_seeking_max_parity: int = lever(
        3,
        unit="children",
        ge=0,
        le=10,
        meaning="parity after which even son-preferring couples stop",
    )
    try_rate: float = lever(
        0.13,
        unit="per month",
        ge=0,
        le=1,
        meaning="monthly chance of starting to try for a wanted child at zero policy price "
        "(its annual equivalent 1 - (1 - try_rate)^12 is P0; first births in plan: 1); "
        "range 0.05-0.4",
        source="[C] popsim calibrate params/calibration/pace.yaml: the pace of the births "
        "after the two-child rule of 2016 (near-best 0.09-0.38); the baseline's targets leave "
        "it unpinned (near-best 0.06-0.40 when they fitted it) and their fit holds it here "
        "(docs/calibration.md)",
    )
    child_cost_years: float = lever(
        3.23,
        unit="years of income",
        gt=0,
        le=50,
        meaning="private cost of raising a child: the base of the price ratio, which sets how "
        "the response bends away from the reference price; range 1-8",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
    elasticity: float = lever(
        -0.7,
        unit="ratio",
        ge=-10,
        le=0,
        meaning="elasticity of the annual probability of a birth with respect to the policy "
        "price, at the reference price; s.e. 0.1",
        source="[S] García 2022, doi 10.3368/jhr.0820-11118R1: -0.7 (docs/regime.md §18)",
    )
    reference_price_years: float = lever(
        4.0,
        unit="years of income",
        gt=0,
        le=50,
        meaning="policy price at which the elasticity holds exactly: the model's fee multiple, "
        "the price of a typical out-of-plan birth (García's mean price of a 2nd or 3rd child, "
        "13,900 dollars 2020 PPP, is not converted); range 1-10",
        source="[U] docs/regime.md §18",
    )
    son_value_years: float = lever(
        1.42,
        unit="years of income",
        ge=0,
        le=50,
        meaning="value of a first son to a son-preferring couple",
        source="[S] Ebenstein 2011: 1.42 years of income (docs/regime.md §18)",
    )
    reward_weight: float = lever(
        0.434,
        unit="share",
        ge=0,
        le=1,
        meaning="share of the present value of the rewards a birth would forfeit that couples "
        "count in its price (1: all of it; less: they doubt that local promises of land, "
        "hiring and old-age rewards decades away will be kept); range 0-1",
        source="[C] popsim calibrate params/calibration/history.yaml (jointly with the "
        "dynamics; near-best 0.37-0.49 when 0.434 was fitted, 0.34-0.50 in the latest fit, "
        "which adopted 0.48; the profile in rewards.yaml is flat over 0-0.5): 0.434, fitted "
        "to the births rise of 2016-2017, when the rewards ended for new one-child couples "
        "(docs/calibration.md)",
    )
    wait_after_birth_months: int = lever(
        6,
        unit="months",
        ge=0,
        le=60,
        meaning="months after its last birth before a couple that wants another child starts "
        "trying: its own spacing, apart from any rule's (the months after the birth included; "
        "0: at once); range 0-36",
        source="[C] popsim calibrate params/calibration/pace.yaml: 6, unpinned (near-best "
        "0-34; alone, 0-6). Sources give the floor: a couple's natural interval between "
        "births is at least about 2 years on average (Liu Shuang and Zou Mingru, Population "
        "Research 35(2): 83-93, 2011), the shortest mean second-birth interval 1.2-1.7 years "
        "by age (Huang Kuangshi and Liu Hongyan, Population Research 42(2), 2018)",
    )
    period_factor: float = lever(
        1.0,
        unit="factor",
        ge=0,
        le=1,
        meaning="multiplier of every desiring couple's monthly chance of starting to try, "
        "first births included: a period effect that makes couples wait (1: none). The "
        "history sets it for the pandemic years 2020-2022",
        source="[C] popsim calibrate params/calibration/history.yaml, in the history's "
        "timeline only; 1 elsewhere",
    )
    max_try_age: int = lever(
        44,
        unit="years",
        ge=15,
        le=50,
        meaning="oldest age at which a woman still tries for a child",
    )
    fade_from_age: int = lever(
        35,
        unit="years",
        ge=15,
        le=50,
        meaning="age from which the chance of starting to try falls linearly, to zero after "
        "max_try_age; range 30-44",
        source="[U] docs/model.md",
    )
    desire_half_life_years: float = lever(
        25.0,
        unit="years",
        ge=0,
        le=100,
        meaning="half-life of the wish for a further child of a couple with children who is "
        "not trying: it is given up at the monthly rate ln 2 / (12 x half-life), so pent-up "
        "demand fades with the time since the last birth (0: it never fades); range 5-30",
        source="[U] hand-set so that a two-child rule raises births for a short while "
        "(docs/model.md, docs/regime.md §22)",
    )
    blocked_half_life_years: float = lever(
        3.0,
        unit="years",
        ge=0,
        le=100,
        meaning="half-life of the wish while the rule in force forbids the next birth however "
        "long the couple waits (couples adapt to a rule that binds; 0: "
        "desire_half_life_years); range 1-15",
        source="[U] hand-set so that a two-child rule raises births for a short while "
        "(docs/model.md, docs/regime.md §22)",
    )
    son_wish_persistence: float = lever(
        2.3,
        unit="ratio",
        ge=1,
        le=1000,
        meaning="half-life of a sonless son-preferring couple's wish for a son while it waits, "
        "as a multiple of the half-life of its wish for more children (1: the two are one "
        "wish and fade together); range 1-50",
        source="[C] direction: in rural Anhui couples with two girls were 5-6 times as likely "
        "as couples with two boys to have a third child (Graham, Larsen and Xu, "
        "International Family Planning Perspectives 24(2): 72-77, 1998): the wish for a son "
        "outlasts a rule that forbids the birth; popsim calibrate "
        "params/calibration/baseline.yaml fits it to that figure and to the third births' "
        "share and SRB: 2.3, near-best 1-41, so not pinned (docs/calibration.md)",
    )
    trend_reference_year: int = lever(
        2009,
        unit="year",
        ge=1900,
        le=2200,
        meaning="last calendar year in which desired_size, son_preference and sex selection "
        "hold as given (and every year before it); the trends below count years from it",
    )
    desired_size_trend: float = lever(
        0.0,
        unit="children per year",
        ge=-0.2,
        le=0.2,
        meaning="change per calendar year of the mean desired family size: couples forming "
        "draw from the moved distribution (mass moves to the next smaller or larger size) and "
        "formed couples revise one child at the matching rate; range -0.05-0.05",
        source="[U] 0: no trend (docs/regime.md §22: desired size fell after 2010)",
    )
    son_preference_trend: float = lever(
        0.0,
        unit="per year",
        ge=-0.2,
        le=0.2,
        meaning="change per calendar year of the share of couples who want a son (clipped to "
        "0-1): of couples forming that year, and formed couples give it up (or take it up) at "
        "the matching rate; range -0.03-0.01",
        source="[U] 0: no trend (docs/regime.md §22: the SRB fell from 117.9 in 2010 to "
        "111.3 in 2020)",
    )
    selection_trend: float = lever(
        0.0,
        unit="per year",
        ge=-1,
        le=1,
        meaning="relative change per calendar year of every sex-selective abortion "
        "probability (the factor 1 + trend x years is floored at 0); range -0.1-0.05",
        source="[U] 0: no trend",
    )


class SexSelection(Section):
    """Prenatal sex detection and selective abortion (docs/regime.md §15)."""

    enabled: bool = lever(True, unit="switch", meaning="allow sex-selective abortion")
    prob_no_son: tuple[Prob, ...] = lever(
        (0.12, 0.245, 0.569, 0.6),
        unit="probability",
        min_length=1,
        max_length=10,
        meaning="chance a son-preferring couple without a son "
        "aborts a female fetus, by parity 0, 1, 2, 3+",
        source="[C] parities 1 and 2: popsim calibrate params/calibration/baseline.yaml "
        "(near-best 0.06-0.43 and 0.27-0.69: the SRB of second births and the male share "
        "after a girl pin the first, the few third births hardly the second); [U] parities "
        "0 and 3+, hand-set (docs/calibration.md)",
    )
    prob_with_son: float = lever(
        0.0, unit="probability", ge=0, le=1, meaning="the same for couples who already have a son"
    )
    daughter_reward_factor: float = lever(
        0.5,
        unit="ratio",
        ge=0,
        le=10,
        meaning="relative rise in selection at parity 1 when "
        "the two-daughter reward is paid (per 1000 yuan)",
    )
    crackdown: float = lever(
        0.0,
        unit="ratio",
        ge=0,
        le=1,
        meaning="share of sex-selective abortions prevented by enforcement",
    )
    detection_month: int = lever(
        4,
        unit="month of pregnancy",
        ge=2,
        le=8,
        meaning="month in which the fetus's sex can be seen",
    )
    price_response: float = lever(
        0.125,
        unit="per year of income",
        ge=0,
        le=10,
        meaning="relative rise in selection per year of income a later birth would cost",
        source="[C] popsim calibrate params/calibration/baseline.yaml (docs/calibration.md)",
    )
