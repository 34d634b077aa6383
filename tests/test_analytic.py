"""The demographic core against analytic demography (docs/regime.md §21).

Expected values are derived here from the scenario's own inputs: a monthly
Leslie model of the same discrete process (mortality first, then births to the
survivors; a newborn faces her birth month's mortality at age 0 and is one month
old at t + 1). Infant mortality is checked against the life table alone: infant
deaths per birth must read back q0 = 1 - exp(-m0). Tolerances are a few standard
errors of the sampling noise at the chosen size.
"""

import numpy as np
import pytest

import popsim
from conftest import PARAMS
from popsim.outputs.indicators import AGE_GROUPS
from popsim.scenario.demography import N_AGES
from popsim.state.world import Rates

MONTHS = N_AGES * 12
Z = 4.0  # tolerance in standard errors


def leslie_inputs(scenario):
    """Monthly survival s_k and daughters per woman phi_k at age k months (k = 0..MONTHS-1)."""
    rates = Rates.of(scenario)
    ages = np.arange(MONTHS) // 12
    s = {sex: 1.0 - rates.q_month[sex, ages] for sex in (0, 1)}
    phi = rates.asfr_month[ages] * (1.0 - rates.p_male)
    return s, phi, rates.p_male


def survivorship(s):
    """l_k: chance a newborn is alive at the start of month k of age: she faced months 0..k-1."""
    alive = np.ones(MONTHS)
    alive[1:] = np.cumprod(s[:-1])
    alive[0] = 0.0  # nobody is age 0 at the start of a month
    return alive


def intrinsic_growth(scenario):
    """Monthly growth factor lambda solving 1 = sum_k lambda^-k l_k s_k phi_k (Euler-Lotka)."""
    s, phi, _ = leslie_inputs(scenario)
    net = survivorship(s[0]) * s[0] * phi
    k = np.arange(MONTHS)
    lo, hi = 0.9, 1.1
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (net * mid ** -k.astype(float)).sum() > 1 else (lo, mid)
    return (lo + hi) / 2


def stable_by_age(scenario, lam):
    """Stable numbers by sex and single year of age (weights), from the same inputs."""
    s, _, p_male = leslie_inputs(scenario)
    k = np.arange(MONTHS)
    out = []
    for sex, share in ((1, p_male), (0, 1 - p_male)):
        monthly = share * survivorship(s[sex]) * lam ** -k.astype(float)
        out.append(monthly.reshape(N_AGES, 12).sum(axis=1))
    return out  # male, female


def scaled_to_net_reproduction(scenario, target):
    """ASFR scaled so the net reproduction rate equals ``target``."""
    s, phi, _ = leslie_inputs(scenario)
    r0 = (survivorship(s[0]) * s[0] * phi).sum()
    return [a * target / r0 for a in scenario.demography.fertility.asfr]


@pytest.fixture(scope="module")
def analytic():
    return popsim.load_scenario(PARAMS / "analytic.yaml")


def test_growth_rate_converges_to_lotkas_r(analytic):
    asfr = scaled_to_net_reproduction(analytic, 1.25)
    scenario = popsim.load_scenario(PARAMS / "analytic.yaml", {"demography.fertility.asfr": asfr})
    lam = intrinsic_growth(scenario)
    male, female = stable_by_age(scenario, lam)
    scenario = popsim.load_scenario(
        PARAMS / "analytic.yaml",
        {
            "demography.fertility.asfr": asfr,
            "initial.male_by_age": list(male),
            "initial.female_by_age": list(female),
        },
    )
    n0, years = 60_000, 30
    a = popsim.simulate(scenario, seed=11, n_agents=n0, years=years).annual
    r = 12 * np.log(lam)
    r_hat = np.log(a["population"].iloc[-1] / n0) / years
    # a birth-death process: Var(log N_T) ~ (b + d) T / N, so the rate's s.e. is sqrt((b+d)/(N T))
    b_plus_d = (a["births"].sum() + a["deaths"].sum()) / a["person_years"].sum()
    se = np.sqrt(b_plus_d / (n0 * years))
    assert abs(r - 0.0075) < 0.005, f"test set-up: r = {r:.4f} should be clearly positive"
    assert abs(r_hat - r) < Z * se, (
        f"simulated growth {r_hat:.5f}/yr differs from Lotka's r {r:.5f}/yr by more than "
        f"{Z} s.e. ({se:.5f})"
    )


def test_age_distribution_converges_to_the_stable_one(analytic):
    asfr = scaled_to_net_reproduction(analytic, 1.0)
    scenario = popsim.load_scenario(PARAMS / "analytic.yaml", {"demography.fertility.asfr": asfr})
    lam = intrinsic_growth(scenario)
    assert abs(lam - 1) < 1e-9, "a net reproduction rate of 1 gives a stationary population"
    male, female = stable_by_age(scenario, lam)
    stable = (male + female) / (male + female).sum()
    census = np.add(analytic.initial.male_by_age, analytic.initial.female_by_age)
    census = census / census.sum()
    n0 = 20_000
    result = popsim.simulate(scenario, seed=5, n_agents=n0, years=150)
    pyr = result.pyramid[result.pyramid["year"] >= result.pyramid["year"].max() - 9]
    sim = pyr.groupby("age_group", sort=False)["persons"].sum()
    sim = (sim / sim.sum()).to_numpy()
    expected = np.array([stable[lo : hi + 1].sum() for lo, hi in AGE_GROUPS])
    start = np.array([census[lo : hi + 1].sum() for lo, hi in AGE_GROUPS])
    # shares of ~10 year-end snapshots of a population of n0: multinomial s.e. of one snapshot,
    # doubled for the cohort-size noise a branching population inherits (no credit for averaging)
    se = 2 * np.sqrt(expected * (1 - expected) / n0)
    assert np.abs(start - expected).max() > 10 * se.max(), "test set-up: start far from stable"
    worst = np.argmax(np.abs(sim - expected) / se)
    assert np.all(np.abs(sim - expected) < Z * se), (
        f"age group {AGE_GROUPS[worst]}: simulated share {sim[worst]:.4f} vs stable "
        f"{expected[worst]:.4f} (s.e. {se[worst]:.4f})"
    )


@pytest.fixture(scope="module")
def closed_run(analytic):
    return popsim.simulate(analytic, seed=3, n_agents=60_000, years=20)


def test_simulated_asfr_reads_back_the_input(analytic, closed_run):
    rates = Rates.of(analytic)
    events, exposure = closed_run.events, closed_run.exposure
    births = events[events["event"] == "birth"]
    women = exposure[exposure["sex"] == 0].groupby("age")["person_years"].sum()
    for lo in range(15, 50, 5):
        ages = np.arange(lo, lo + 5)
        person_years = women.loc[ages].to_numpy()
        # births happen to survivors of the month's mortality
        expected = (rates.asfr_month[ages] * 12 * (1 - rates.q_month[0, ages]) * person_years).sum()
        observed = births["age_months"].floordiv(12).between(lo, lo + 4).sum()
        assert abs(observed - expected) < Z * np.sqrt(expected), (
            f"births to women {lo}-{lo + 4}: {observed} vs {expected:.1f} expected from the ASFR"
        )


def test_simulated_death_rates_read_back_the_life_table(analytic, closed_run):
    rates = Rates.of(analytic)
    events, exposure = closed_run.events, closed_run.exposure
    deaths = events[events["event"] == "death"]
    checked = 0
    for sex in (0, 1):
        py = exposure[exposure["sex"] == sex].groupby("age")["person_years"].sum()
        dead = deaths[deaths["sex"] == sex]["age_months"].floordiv(12).clip(upper=100)
        for lo, hi in [(0, 0), (1, 4)] + [(a, a + 9) for a in range(5, 95, 10)] + [(95, 100)]:
            ages = np.arange(lo, hi + 1)
            expected = (12 * rates.q_month[sex, ages] * py.loc[ages].to_numpy()).sum()
            if expected < 30:
                continue
            observed = dead.between(lo, hi).sum()
            checked += 1
            assert abs(observed - expected) < Z * np.sqrt(expected), (
                f"sex {sex}, ages {lo}-{hi}: {observed} deaths vs {expected:.1f} expected"
            )
    assert checked >= 12


@pytest.mark.parametrize("m0", [0.25, 0.08])
def test_infant_deaths_per_birth_read_back_the_life_tables_q0(analytic, m0):
    """q0 = 1 - exp(-m0) for a constant hazard over the first year; no model convention used.

    A high m0 makes the test sharp: with 11 months at risk instead of 12, infant deaths fall
    about 8 % short, several standard errors at this size.
    """
    mx = {
        sex: list(getattr(analytic.demography.mortality, f"mx_{sex}")) for sex in ("male", "female")
    }
    for table in mx.values():
        table[0] = m0
    overrides = {f"demography.mortality.mx_{sex}": table for sex, table in mx.items()}
    scenario = popsim.load_scenario(PARAMS / "analytic.yaml", overrides)
    years = 15
    events = popsim.simulate(scenario, seed=21, n_agents=60_000, years=years).events
    births = events[(events["event"] == "birth") & (events["month"] <= 12 * years - 12)]
    deaths = events[(events["event"] == "death") & (events["age_months"] < 12)]
    infant = deaths["pid"].isin(births["pid"]).sum()
    n, q0 = len(births), -np.expm1(-m0)
    se = np.sqrt(q0 * (1 - q0) / n)
    assert abs(infant / n - q0) < 3 * se, (
        f"{infant} infant deaths per {n} births = {infant / n:.4f}; the life table's q0 is "
        f"{q0:.4f} (s.e. {se:.4f})"
    )


def test_sex_ratio_at_birth_matches_the_input(analytic, closed_run):
    births = closed_run.events[closed_run.events["event"] == "birth"]
    n, p = len(births), Rates.of(analytic).p_male
    male = (births["sex"] == 1).sum()
    assert abs(male - n * p) < Z * np.sqrt(n * p * (1 - p)), (
        f"{male} boys of {n} births; the SRB {analytic.demography.srb} implies {n * p:.0f}"
    )


def test_a_closed_life_table_leaves_nobody_past_100(analytic):
    """mx = .inf at the open age: survival 0 there, so year-end pyramids hold nobody 100+."""

    def oldest(last_rate):
        mx = [0.001] * 100 + [last_rate]
        flat = [1.0] * 101  # many persons near 100 at the start
        table = {f"demography.mortality.mx_{sex}": mx for sex in ("male", "female")}
        table |= {f"initial.{sex}_by_age": flat for sex in ("male", "female")}
        scenario = popsim.load_scenario(PARAMS / "analytic.yaml", table)
        pyramid = popsim.simulate(scenario, seed=2, n_agents=5_000, years=2).pyramid
        return pyramid.loc[pyramid["age_group"] == pyramid["age_group"].iloc[-1], "persons"].sum()

    assert oldest(0.5) > 0, "test set-up: an open table leaves persons 100+"
    assert oldest(np.inf) == 0, "a closed table leaves nobody 100+ at a year end"


@pytest.mark.parametrize(
    ("value", "message"),
    [(np.inf, "only the open age"), (np.nan, "mx_male.0")],
)
def test_non_finite_death_rates_below_100_are_refused(analytic, value, message):
    mx = list(analytic.demography.mortality.mx_male)
    mx[0] = value
    with pytest.raises(popsim.ScenarioError, match=message):
        popsim.load_scenario(PARAMS / "analytic.yaml", {"demography.mortality.mx_male": mx})
